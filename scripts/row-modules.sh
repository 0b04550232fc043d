#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# row-modules.sh [--no-bench] KDIR: build the two modules a VM row loads
# for the kernel in KDIR and print their paths, "KO KOB", on stdout (KOB
# is "-" with --no-bench, for a row that runs no benchmark):
#   KO   htable.ko under test; on a kernel with CONFIG_GCOV_KERNEL it
#        records its coverage (Kbuild, HTABLE_GCOV);
#   KOB  the variant with the benchmark (HTABLE_BENCH), for the bench
#        guest and the bench smoke test; never profiled for coverage.
# Each lives in its own .build directory per kernel (build-module.sh), so
# check.sh can build them ahead of the rows that need them. Both build with
# W=1, which changes no code: check.sh's W=1 check reads the Debian
# kernel's two build logs instead of compiling the module a third time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench=1
if [ "${1:-}" = --no-bench ]; then
	bench=0
	shift
fi
kdir=$1
ktag=$(basename "$(dirname "$kdir")")-$(basename "$kdir")
gcov=()
if grep -q '^CONFIG_GCOV_KERNEL=y' "$kdir/.config" 2>/dev/null; then
	gcov=(HTABLE_GCOV=y)
fi
ko=$("$HTABLE_TOP/scripts/build-module.sh" "$ktag" "$kdir" W=1 "${gcov[@]}")
kob=-
[ $bench = 0 ] ||
	kob=$("$HTABLE_TOP/scripts/build-module.sh" "$ktag-bench" "$kdir" W=1 HTABLE_BENCH=y)
echo "$ko $kob"
