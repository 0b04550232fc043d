#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot the VM once, run module/bench.c's cases against their
# Linux peers, print the table, and write CSV, JSON and a PNG plot.
# Documentation/benchmarks.rst explains every row.
#
#   bench.sh [options]
#     --smp N           vCPUs (default: 2; the shootdown and 2-thread cases
#                       need 2)
#     --specs FILE      case specs (default: scripts/bench/specs)
#     --out DIR         where the results go (default: .build/bench)
#     --boots N         boot N times, one after the other, each into
#                       DIR/bootK, and judge each target over all N
#                       (default: 1, into DIR itself)
#     --cpu MODEL       QEMU -cpu (default: max)
#     --kernel FILE --kdir DIR   another guest kernel, as for vm.sh
#
# The guest boots without slub_debug and page poisoning (the test rows'
# defaults), which would charge every slab and page allocation on both
# sides with debugging work.
set -euo pipefail
LOG_TAG=bench
. "$(dirname "$0")/lib.sh"

smp=2 specs="$HTABLE_TOP/scripts/bench/specs" out="$HTABLE_TOP/.build/bench" boots=1
vmargs=()
while [ $# -gt 0 ]; do
	case $1 in
	--smp) smp=$2; shift ;;
	--specs) specs=$2; shift ;;
	--out) out=$2; shift ;;
	--boots) boots=$2; shift ;;
	--cpu | --kernel | --kdir) vmargs+=("$1" "$2"); shift ;;
	*) die "unknown option $1" ;;
	esac
	shift
done

eval "$("$HTABLE_TOP/scripts/deps.sh")"
if ! command -v gnuplot >/dev/null; then
	log "installing gnuplot-nox for the plot"
	apt-get install -y -qq gnuplot-nox >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get install -y -qq gnuplot-nox >/dev/null; } ||
		die "could not install gnuplot-nox"
fi

case $boots in '' | *[!0-9]* | 0) die "--boots takes a whole number from 1" ;; esac

# One boot: the guest runs every spec; the host writes the files into $1.
bench_boot() {
	local dir=$1
	mkdir -p "$dir"
	# What a result needs beside it to mean anything: when, which commit,
	# on what (benchmarks.rst: the numbers come from this file, not from
	# the docs).
	{
		echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "commit:  $(git -C "$HTABLE_TOP" describe --always --dirty 2>/dev/null || echo unknown)"
		echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
		echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) at the start (1, 5, 15 min)"
		echo "guest:   QEMU TCG, $smp vCPUs, specs $specs"
	} > "$dir/run.txt"
	log "one VM run: $smp vCPUs, specs $specs"
	"$HTABLE_TOP/scripts/vm.sh" --row bench --mode bench --smp "$smp" --timeout 1800 \
		--append "slub_debug=- page_poison=0" --specs "$specs" "${vmargs[@]}" >/dev/null
	cp "$HTABLE_TOP/.build/vm-bench/ktap.log.clean" "$dir/bench.log"
	echo "htable benchmark: QEMU TCG guest, $smp vCPUs, $(grep -m1 '^BENCH cpus=' "$dir/bench.log")"
	python3 "$HTABLE_TOP/scripts/bench/report.py" "$dir/bench.log" "$dir"
	gnuplot -e "dat='$dir/bench.dat'; png='$dir/bench.png'" "$HTABLE_TOP/scripts/bench/plot.gp"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) at the end" >> "$dir/run.txt"
	cat "$dir/run.txt"
	log "wrote $dir/run.txt, $dir/bench.csv, $dir/bench.json, $dir/bench.png"
}

dirs=()
if [ "$boots" = 1 ]; then
	dirs=("$out")
else
	for i in $(seq 1 "$boots"); do
		dirs+=("$out/boot$i")
	done
fi
for d in "${dirs[@]}"; do
	bench_boot "$d"
done
# The targets table of benchmarks.rst, judged over every boot.
python3 "$HTABLE_TOP/scripts/bench/report.py" --targets "$out/bench-targets.inc" "${dirs[@]}"
log "wrote $out/bench-targets.inc (Documentation/bench-targets.inc's form)"
