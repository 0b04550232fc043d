#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make bench`: load htable, run each case spec of
# /kselftest/bench-specs ("CASE N REPS [ITERS]", one a line) through
# /sys/kernel/debug/htable/bench, and print its result lines for the host.
# Exits non-zero when a case fails to run (not on any timing).
T=/kselftest/htable
B=/sys/kernel/debug/htable/bench
insmod $T/htable-bench.ko || exit 1
echo "BENCH cpus=$(grep -c ^processor /proc/cpuinfo) kernel=$(uname -r)"
rc=0
while read -r spec; do
	case $spec in '' | '#'*) continue ;; esac
	echo "BENCH spec=$spec"
	if ! echo "$spec" > $B; then
		echo "BENCH failed spec=$spec"
		rc=1
	fi
	cat $B
done < /kselftest/bench-specs
rmmod htable || rc=1
exit $rc
