#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make soak`: the fuzzer for 10^7 operations or more in one VM
# (5-level, PTI on, 2 vCPUs), cut into chunks of SOAK_OPS operations
# (htable_soak.sh; the kselftest runner allows 600 s per test), each from a
# fresh seed. Prints the total and operations per second, and writes them
# with the date, commit and machine to .build/soak/run.txt; exits non-zero
# when a chunk fails (its seed and shrunk sequence are in the log).
#
#     SOAK_CHUNKS=N   chunks of 1.25 * 10^6 operations (default 8: 10^7)
#     any vm.sh option (--kernel, --kdir, --cpu, --smp, ...) passes through
set -euo pipefail
LOG_TAG=soak
. "$(dirname "$0")/lib.sh"
chunks=${SOAK_CHUNKS:-8}
row=soak
"$HTABLE_TOP/scripts/deps.sh" >/dev/null
tests="htable_setup.sh"
for ((i = 0; i < chunks; i++)); do
	tests+=" htable_soak.sh"
done
tests+=" htable_teardown.sh"
out="$HTABLE_TOP/.build/soak"
mkdir -p "$out"
{
	echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "commit:  $(git -C "$HTABLE_TOP" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) at the start (1, 5, 15 min)"
} > "$out/run.txt"
rc=0
"$HTABLE_TOP/scripts/vm.sh" --row "$row" --append pti=on --timeout $((chunks * 600 + 300)) \
	--tests "$tests" "$@" || rc=$?
# One "# fuzz: seed S: N operations (...) in T s: ..." line per chunk.
awk '/# fuzz: seed .*: [0-9]+ operations in [0-9.]+ s:/ {
	for (i = 1; i <= NF; i++) {
		if ($i == "operations") ops += $(i - 1)
		if ($i == "s:") t += $(i - 1)
	}
	n++
	print
}
END {
	if (n && t > 0)
		printf "soak: %d chunks, %d operations in %.0f s: %.0f/s\n", n, ops, t, ops / t
	else
		print "soak: no chunk reported"
}' "$HTABLE_TOP/.build/vm-$row/ktap.log.clean" | tee -a "$out/run.txt" >&2
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) at the end" >> "$out/run.txt"
exit $rc
