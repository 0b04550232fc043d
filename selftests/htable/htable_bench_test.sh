#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Smoke run of the benchmark (module/bench.c, Documentation/benchmarks.rst):
# every case runs with small N and few repeats, and what it prints parses.
# Timings are never judged here; `make bench` is the benchmark. The module
# users load has no benchmark: this test swaps in the variant built with it
# (htable-bench.ko, Kbuild's HTABLE_BENCH) and puts htable.ko back.
cd "$(dirname "$0")" || exit 1
. ./ktap.sh
B=/sys/kernel/debug/htable/bench

# "CASE N REPS [ITERS]" and the line kinds the case must print.
SPECS="map:1:2:2:row
map:16:2:1:row
map:64:2:1:row
floor:512:2:1:row
ptalloc:4:2:0:row
probe:16:2:16:row
shootdown:4:2:4:row
threads:4:2:2:row
steal:128:2:8:row
memory:64:1:0:mem
large:1024:2:1:row
pin:2048:2:1:row
hatsize:4096:2:8:row"

ktap_plan 18
ktap_check "htable.ko has no benchmark" test ! -e $B
ktap_check "the variant with the benchmark loads" \
	sh -c "rmmod htable && insmod ./htable-bench.ko && test -e $B"
# The shootdown and 2-thread cases need a second CPU; with one they print
# a "skip" line instead of rows.
ncpus=$(grep -c ^processor /proc/cpuinfo)

# A row: every field present, times and counts numeric, ratio "I.FFF".
check_lines() { # check_lines KIND FILE
	awk -v kind="$1" '
		$1 == "error" { bad = 1 }
		$1 != kind { next }
		{ seen++ }
		kind == "row" {
			n = split("op n reps iters ht_med ht_min ht_max peer pe_med pe_min pe_max ratio ht_ipis ht_flushes pe_ipis pe_flushes", want, " ")
			delete f
			for (i = 2; i <= NF; i++) {
				eq = index($i, "=")
				f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
			}
			for (i = 1; i <= n; i++)
				if (!(want[i] in f)) bad = 1
			split("n reps iters ht_med ht_min ht_max pe_med pe_min pe_max", nums, " ")
			for (i in nums)
				if (f[nums[i]] !~ /^[0-9]+$/) bad = 1
			if (f["ratio"] !~ /^[0-9]+\.[0-9][0-9][0-9]$/) bad = 1
			if (f["ht_min"] + 0 > f["ht_med"] + 0 || f["ht_med"] + 0 > f["ht_max"] + 0) bad = 1
			if (f["pe_min"] + 0 > f["pe_med"] + 0 || f["pe_med"] + 0 > f["pe_max"] + 0) bad = 1
			split("ht_ipis ht_flushes pe_ipis pe_flushes", rates, " ")
			for (i in rates)
				if (f[rates[i]] !~ /^([0-9]+\.[0-9][0-9]|na)$/) bad = 1
		}
		kind == "mem" && ($0 !~ / per_table=[0-9]+\.[0-9][0-9] / ||
				  $0 !~ / stolen_records=[0-9]+ pin_records=[0-9]+$/) { bad = 1 }
		END { exit !(seen && !bad) }' "$2"
}

for s in $SPECS; do
	# shellcheck disable=SC2046
	set -- $(echo "$s" | tr ':' ' ')
	c=$1 n=$2 reps=$3 iters=$4 kind=$5
	case $c in shootdown | threads) [ "$ncpus" -ge 2 ] || kind=skip ;; esac
	out=/tmp/bench.$c.$n
	t0=$(cut -d' ' -f1 /proc/uptime)
	if echo "$c $n $reps $iters" > $B 2>/dev/null && cat $B > "$out" &&
		check_lines "$kind" "$out"; then
		ktap_ok "bench $c $n: runs and prints parseable $kind lines"
	else
		ktap_fail "bench $c $n: runs and prints parseable $kind lines"
		sed 's/^/# /' "$out"
	fi
	echo "# $c $n: $(awk -v t0="$t0" '{ print $1 - t0 }' /proc/uptime) s"
done

# The shootdown row is meaningful only if htable's side did reach the live
# CPU: each op is one IPI round to it (so at least one IPI per op) carrying
# 4 invalidations (so its counters moved).
if [ "$ncpus" -ge 2 ]; then
	ktap_check "shootdown: htable's side sent IPIs and invalidations" \
		grep -q 'op=shootdown .* ht_ipis=[1-9][0-9.]* ht_flushes=[1-9]' \
		/tmp/bench.shootdown.4
else
	ktap_ok "shootdown: htable's side sent invalidations # SKIP needs:smp2 one CPU"
fi

ktap_check "a malformed spec is refused" \
	sh -c "! echo 'map x' > $B 2>/dev/null && ! echo 'nosuchcase 1 1' > $B 2>/dev/null"
ktap_check "htable.ko is back" \
	sh -c "rmmod htable && insmod ./htable.ko && test ! -e $B"
ktap_finish
