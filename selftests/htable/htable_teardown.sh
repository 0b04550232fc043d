#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unload htable after the tests, checking that nothing is left behind: the
# module unloads, and its device and debugfs directory disappear.
cd "$(dirname "$0")" || exit 1
. ./ktap.sh
ktap_plan 3
ktap_check "rmmod htable" rmmod htable
ktap_check "/dev/htable removed" test ! -e /dev/htable
ktap_check "debugfs directory removed" test ! -e /sys/kernel/debug/htable
ktap_finish
