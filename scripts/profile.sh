#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make profile CASE=...: boot the bench guest once, run one bench case
# (module/bench.c, scripts/bench/specs) under perf record -a -g -e
# cpu-clock, and draw the samples' call stacks as a flame graph SVG.
# Documentation/tracing.rst shows how to read it.
#
#   profile.sh CASE [N REPS [ITERS]]
#     CASE alone runs every spec of scripts/bench/specs for that case
#     ("map" runs map 1, map 16, ...); with N and REPS, that one spec.
#     --smp N, --cpu MODEL, --kernel FILE --kdir DIR: as for bench.sh.
#
# Writes .build/profile/CASE.folded (the folded stacks) and
# .build/profile/CASE.svg. The TCG guest has no PMU: cpu-clock is a
# software event, sampled from the timer, so the graph shows where the
# guest's CPUs spent their time, emulation's distortions included.
set -euo pipefail
LOG_TAG=profile
. "$(dirname "$0")/lib.sh"

smp=2 out="$HTABLE_TOP/.build/profile"
vmargs=() spec=()
while [ $# -gt 0 ]; do
	case $1 in
	--smp) smp=$2; shift ;;
	--cpu | --kernel | --kdir) vmargs+=("$1" "$2"); shift ;;
	-*) die "unknown option $1" ;;
	*) spec+=("$1") ;;
	esac
	shift
done
[ ${#spec[@]} -ge 1 ] || die "which case? make profile CASE=map (scripts/bench/specs)"
case=${spec[0]}
specs="$HTABLE_TOP/.build/profile-specs"
mkdir -p "$out"
if [ ${#spec[@]} -gt 1 ]; then
	echo "${spec[*]}" > "$specs"
else
	grep "^$case " "$HTABLE_TOP/scripts/bench/specs" > "$specs" ||
		die "no case '$case' in scripts/bench/specs"
fi

log "one VM run: $smp vCPUs, $(tr '\n' ',' < "$specs" | sed 's/,$//') under perf record -g"
"$HTABLE_TOP/scripts/vm.sh" --row profile --mode profile --smp "$smp" --timeout 1800 \
	--append "slub_debug=- page_poison=0" --specs "$specs" "${vmargs[@]}" >/dev/null
log=$HTABLE_TOP/.build/vm-profile/ktap.log.clean
grep '^BENCH' "$log" > "$out/$case.bench" || true
sed -n '/^HTABLE-FOLDED-BEGIN/,/^HTABLE-FOLDED-END/p' "$log" | sed '1d;$d' |
	sort > "$out/$case.folded"
[ -s "$out/$case.folded" ] || die "the guest sent no samples (see $log)"
python3 "$HTABLE_TOP/scripts/flamegraph.py" \
	--title "htable bench $(tr '\n' ',' < "$specs" | sed 's/,$//'): cpu-clock, $smp vCPUs (TCG)" \
	< "$out/$case.folded" > "$out/$case.svg"
log "$(awk '{ n += $NF } END { print n }' "$out/$case.folded") samples; wrote $out/$case.svg"
