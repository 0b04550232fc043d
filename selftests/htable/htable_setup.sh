#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Load htable for the tests that follow and check that it shows up where
# users look: /dev/htable (a root-only character device) and
# /sys/kernel/debug/htable/stats. Fails, rather than skips, when the module
# loads but either is missing.
cd "$(dirname "$0")" || exit 1
. ./ktap.sh
ktap_plan 4

grep -q '^htable ' /proc/modules || insmod ./htable.ko "$@"
ktap_check "module is loaded" grep -q '^htable ' /proc/modules
ktap_check "/dev/htable is a character device" test -c /dev/htable
mode=$(stat -c %a /dev/htable 2>/dev/null)
ktap_check "/dev/htable has mode 0600 (is $mode)" test "$mode" = 600
ktap_check "debugfs stats is readable" grep -q '^hs_ptable_allocs ' \
	/sys/kernel/debug/htable/stats
ktap_finish
