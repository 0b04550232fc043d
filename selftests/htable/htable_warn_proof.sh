#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Not in run-list: the proof that a row fails when the module warns.
# Writing debugfs fail_warn makes htable WARN once; this script itself
# passes, and the row must then fail on its kernel log ("the guest's
# kernel log has a splat"). Documentation/testing.rst shows how to run it:
#
#   scripts/vm.sh --tests "htable_setup.sh htable_warn_proof.sh htable_teardown.sh"
cd "$(dirname "$0")" || exit 1
. ./ktap.sh
ktap_plan 1
ktap_check "fail_warn made the module warn" \
	sh -c 'echo 1 > /sys/kernel/debug/htable/fail_warn'
ktap_finish
