#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# coverage.sh [--min PCT] VMDIR...: the module's coverage over the VM rows
# whose work directories are given (scripts/vm.sh leaves gcov.tar.gz, the
# guest's .gcda files, and gcov.build, the module's build directory, in
# each). Merges them with Debian's lcov, prints line and function coverage
# per file of module/ and the functions never run, writes the HTML report
# to .build/coverage/html/, and exits non-zero when fewer than PCT percent
# of the lines ran (default 90). Documentation/testing.rst, "Coverage".
set -euo pipefail
LOG_TAG=coverage
. "$(dirname "$0")/lib.sh"

min=90
if [ "${1:-}" = --min ]; then
	min=$2
	shift 2
fi
[ $# -gt 0 ] || die "usage: coverage.sh [--min PCT] VMDIR..."
out="$HTABLE_TOP/.build/coverage"
rm -rf "$out"
mkdir -p "$out"

infos=()
for d in "$@"; do
	row=$(basename "$d")
	[ -s "$d/gcov.tar.gz" ] && [ -s "$d/gcov.build" ] ||
		die "$row left no coverage data"
	build=$(cat "$d/gcov.build")
	mkdir -p "$out/$row"
	tar -xzf "$d/gcov.tar.gz" -C "$out/$row"
	# The archive mirrors the guest's debugfs path of the build directory;
	# gcov wants each .gcda beside its .gcno.
	gdir=$(find "$out/$row" -name '*.gcda' -printf '%h\n' | sort -u | head -n1)
	[ -n "$gdir" ] || die "$row: no .gcda in its data"
	cp "$build"/module/*.gcno "$gdir/"
	lcov -q -c -d "$gdir" -o "$out/$row.info" 2> "$out/$row.log" ||
		die "$row: lcov failed (see $out/$row.log)"
	infos+=(-a "$out/$row.info")
done
lcov -q "${infos[@]}" -o "$out/all.info" 2>> "$out/lcov.log"
# Only the module's own files (not kernel headers' inlines).
lcov -q -e "$out/all.info" '*/module/*.c' -o "$out/module.info" 2>> "$out/lcov.log"
genhtml -q -o "$out/html" "$out/module.info" > "$out/genhtml.log" 2>&1 ||
	log "genhtml failed (see $out/genhtml.log)"

# Per file: lines and functions hit, from the tracefile's LF/LH/FNF/FNH.
awk -F'[:,]' '
	$1 == "SF" { n = split($2, p, "/"); f = p[n] }
	$1 == "LF" { lf[f] = $2; tlf += $2 }
	$1 == "LH" { lh[f] = $2; tlh += $2 }
	$1 == "FNF" { ff[f] = $2; tff += $2 }
	$1 == "FNH" { fh[f] = $2; tfh += $2 }
	$1 == "FN" { fn[f, $3] = 1 }
	$1 == "FNDA" && $2 == 0 { miss[f] = miss[f] " " $3 }
	END {
		printf "  %-14s %15s %15s\n", "file", "lines", "functions"
		for (f in lf)
			printf "  %-14s %5d/%-5d %3d%% %5d/%-5d %3d%%\n", f, lh[f], lf[f],
				100 * lh[f] / (lf[f] ? lf[f] : 1), fh[f], ff[f],
				100 * fh[f] / (ff[f] ? ff[f] : 1) | "sort"
		close("sort")
		printf "  %-14s %5d/%-5d %3d%% %5d/%-5d %3d%%\n", "total", tlh, tlf,
			100 * tlh / (tlf ? tlf : 1), tfh, tff, 100 * tfh / (tff ? tff : 1)
		for (f in miss)
			printf "  never run in %s:%s\n", f, miss[f]
	}' "$out/module.info" | tee "$out/summary.txt"
log "HTML report: $out/html/index.html"
pct=$(awk -F: '$1 == "LF" { lf += $2 } $1 == "LH" { lh += $2 }
	END { print int(100 * lh / (lf ? lf : 1)) }' "$out/module.info")
echo "$pct" > "$out/percent"
if [ "$pct" -lt "$min" ]; then
	log "FAIL: $pct% of the module's lines ran; the target is $min%"
	exit 1
fi
log "ok: $pct% of the module's lines ran (target $min%)"
