#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# One chunk of the soak (make soak, scripts/soak.sh): the fuzzer outside
# its harness, for SOAK_OPS operations from a fresh seed, which it prints
# with its operations per second. The runner's 600 s limit per test is why
# the soak is cut into chunks. Not in run-list: make check does not run it.
cd "$(dirname "$0")" || exit 1
. ./ktap.sh
SOAK_OPS=${SOAK_OPS:-1250000}
ktap_plan 1
ktap_check "fuzzer: $SOAK_OPS operations" ./htable_fuzz_test run "$SOAK_OPS"
ktap_finish
