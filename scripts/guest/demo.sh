#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make demo`: load htable, run a small workload through
# /dev/htable, and print the counters.
# Exits non-zero when any step fails; init reports that to the host.
set -e
T=/kselftest/htable
cd $T
echo "== insmod htable.ko"
insmod ./htable.ko || exit 1
dmesg | grep 'htable: loaded' | tail -n 1
ls -l /dev/htable
echo "== workload"
./htable_demo
echo "== /sys/kernel/debug/htable/stats"
cat /sys/kernel/debug/htable/stats
echo "== rmmod htable"
rmmod htable && echo "unloaded cleanly"
