#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: install what is missing, build htable, boot the test VM
# (5-level, PTI on, 2 vCPUs), insert the module, run a small workload and
# print the debugfs counters.
set -euo pipefail
LOG_TAG=demo
. "$(dirname "$0")/lib.sh"
"$HTABLE_TOP/scripts/deps.sh" >/dev/null
exec "$HTABLE_TOP/scripts/vm.sh" --row demo --mode demo --append pti=on "$@"
