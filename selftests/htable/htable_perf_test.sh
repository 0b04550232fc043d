#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# perf on htable (Documentation/tracing.rst): Debian's perf, which
# scripts/vm.sh puts in the guest, finds the 15 htable events; perf stat
# counts them as the debugfs counters count the same workload; perf trace
# prints them with their fields; and perf record -a -g -e cpu-clock,
# sampling with call chains while resident and verify windows hold the
# hat in CR3, trips no warning (the row's judge also fails any splat) and
# leaves the windows verifying. The workloads are htablectl scripts, so
# what each window returned is htablectl's output, checked here.
cd "$(dirname "$0")" || exit 1
. ./ktap.sh

D=/sys/kernel/debug/htable
T=/tmp/htable_perf_test
VA=0x40000000
NP=256
mkdir -p $T

ktap_plan 10

# stat NAME: one debugfs counter.
stat() { sed -n "s/^$1 //p" $D/stats; }
warnings() { dmesg | grep -c -E 'WARNING:|BUG:|Call Trace' ; }

if ! command -v perf > /dev/null; then
	ktap_fail "perf is in the guest (scripts/vm.sh packs it)"
	ktap_finish
fi
[ -d /sys/kernel/tracing/events ] ||
	mount -t tracefs tracefs /sys/kernel/tracing 2> /dev/null

# 1-3: perf stat -a over a workload; counts equal the counters' changes.
cat > $T/wl1 <<EOF
map $VA 64 write
verify $VA 64
unmap $VA 64
map $VA 32
reap
EOF
w0=$(stat hs_windows) r0=$(stat hs_reap_attempts) a0=$(stat hs_ptable_allocs)
perf stat -a -x, -e 'htable:*' -o $T/stat -- htablectl shell $T/wl1 > $T/wl1.out 2>&1
st=$?
w1=$(stat hs_windows) r1=$(stat hs_reap_attempts) a1=$(stat hs_ptable_allocs)
# CSV: value,unit,event,...
cnt() { awk -F, -v e="htable:$1" '$3 == e { print $1 + 0 }' $T/stat; }
# 1: perf found every event of include/htable/trace.h ('htable:*' is
# expanded by perf itself, and each event gets a count, 0 or not).
n=0 missing=
for e in table_alloc table_free steal_enter steal_exit steal_table steal_cached \
	reap shootdown window_start window_end map unmap reload share unshare; do
	if [ -n "$(cnt htable_$e)" ]; then
		n=$((n + 1))
	else
		missing="$missing $e"
	fi
done
m=$(grep -c ',htable:' $T/stat)
if [ $n = 15 ] && [ "$m" = 15 ]; then
	ktap_ok "perf stat -e 'htable:*' finds the 15 htable events"
else
	sed 's/^/# /' $T/stat
	ktap_fail "perf stat -e 'htable:*' finds the 15 htable events (missing:$missing; $m found)"
fi
if [ $st = 0 ] && [ "$(cnt htable_map)" = 2 ] && [ "$(cnt htable_unmap)" = 1 ] &&
	[ "$(cnt htable_reap)" = $((r1 - r0)) ] &&
	[ "$(cnt htable_window_end)" = $((w1 - w0)) ] && [ $((w1 - w0)) = 1 ]; then
	ktap_ok "perf stat -e 'htable:*' counts 2 maps, 1 unmap, the reap and the window"
else
	sed 's/^/# /' $T/stat $T/wl1.out
	ktap_fail "perf stat -e 'htable:*' counts 2 maps, 1 unmap, the reap and the window"
fi
if [ "$(cnt htable_table_alloc)" -ge $((a1 - a0)) ] && [ $((a1 - a0)) -gt 0 ]; then
	ktap_ok "perf stat: table allocations cover hs_ptable_allocs ($((a1 - a0)))"
else
	ktap_fail "perf stat: $(cnt htable_table_alloc) table allocations for hs_ptable_allocs +$((a1 - a0))"
fi

# 4-5: perf trace prints the calls and the window with their fields, in
# its own way: decimal, and fields that are zero left out (err, mode
# verify, reason done).
cat > $T/wl2 <<EOF
map $VA 16 write
hats
verify $VA 16
unmap $VA 16
EOF
perf trace -a -e 'htable:*' -o $T/trace -- htablectl shell $T/wl2 > $T/wl2.out 2>&1
st=$?
id=$(awk '$1 ~ /^[0-9]+$/ && NF == 6 { print $1 }' $T/wl2.out | sort -n | tail -n1)
dva=$((VA))
if [ $st = 0 ] && [ -n "$id" ] &&
	grep -q "htable:htable_map(hat: $id, va: $dva, npages: 16, done: 16)" $T/trace &&
	grep -q "htable:htable_unmap(hat: $id, va: $dva, npages: 16, done: 16)" $T/trace; then
	ktap_ok "perf trace -e 'htable:*' shows MAP and UNMAP of hat $id"
else
	sed 's/^/# /' $T/trace $T/wl2.out | head -n 40
	ktap_fail "perf trace -e 'htable:*' shows MAP and UNMAP of hat $id"
fi
if grep -q " htable:htable_window_end(hat: $id, cpu: 1, reads: 16, verified: 16, elapsed_ns: [0-9]*)$" \
	$T/trace; then
	ktap_ok "perf trace shows the verify window's end: 16 pages verified on CPU 1"
else
	grep window $T/trace | sed 's/^/# /'
	ktap_fail "perf trace shows the verify window's end: 16 pages verified on CPU 1"
fi

# 6-11: sampling with call chains while windows hold the hat in CR3.
cat > $T/wl3 <<EOF
map $VA $NP write
resident $VA 250 cpu 1
verify $VA $NP cpu 1
resident $VA 250 cpu 0
verify $VA $NP cpu 0
unmap $VA $NP
EOF
warn0=$(warnings)
w0=$(stat hs_windows)
# -N -B: no build-id work after the run, which takes seconds under TCG.
perf record -a -g -N -B -e cpu-clock -F 997 -o $T/perf.data -- \
	htablectl shell $T/wl3 > $T/wl3.out 2> $T/wl3.err
st=$?
w1=$(stat hs_windows)
ktap_check "htablectl ran 4 windows under perf record (exit $st)" \
	test $st = 0 -a $((w1 - w0)) = 4
ok=$(grep -c "^verify $VA $NP on CPU [01]: $NP verified, 0 mismatches, 0 faults" $T/wl3.out)
ktap_check "both verify windows verified all $NP pages ($ok of 2)" test "$ok" = 2
# "N reads, M valid, F faults, C clobbers": valid reads, none faulted.
bad=$(awk '/^resident / { if ($8 + 0 < 1 || $10 != "0" || $12 != "0") n++ } END { print n + 0 }' \
	$T/wl3.out)
res=$(grep -c '^resident ' $T/wl3.out)
ktap_check "both resident windows read valid, without faults or clobbers" \
	test "$res" = 2 -a "$bad" = 0
perf script -i $T/perf.data -F comm,ip,sym > $T/script 2> /dev/null
# Samples whose kernel call chain runs through a window's thread
# (window_resident and window_verify are inlined there): by the chain,
# not by comm, as the perf of 6.1 names 6.12's kernel threads after
# kthreadd. Most are taken while CR3 holds the hat.
win=$(awk '/^[^ \t]/ { hit = 0; next }
	$2 == "window_thread" && !hit { n++; hit = 1 } END { print n + 0 }' $T/script)
ktap_check "perf -g sampled inside the windows, with call chains through window_thread ($win)" \
	test "$win" -gt 0
warn1=$(warnings)
if [ "$warn1" = "$warn0" ]; then
	ktap_ok "no kernel warning while perf sampled the windows"
else
	dmesg | grep -A 20 -E 'WARNING:|BUG:' | sed 's/^/# /' | head -n 60
	ktap_fail "no kernel warning while perf sampled the windows"
fi
sed 's/^/# /' $T/wl3.out $T/wl3.err
rm -rf $T
ktap_finish
