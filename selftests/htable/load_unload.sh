#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Load and unload htable 30 times (12 on a KASAN kernel, where each cycle
# costs five times as much and the memory bounds below say nothing), with
# two hats opened and closed in every cycle; in every tenth (fourth on
# KASAN), rmmod must fail while they are open, and three more hats are
# mapped, verified and closed (htable_lifetime_test hats 3; a process per
# cycle would double the debug row's cost). Slab and free memory must come
# back to where they were (within noise), every cycle must create and
# remove the device, and the kernel log must stay clean (the VM runner
# checks that; the debug row adds lockdep, KASAN and kmemleak).
cd "$(dirname "$0")" || exit 1
. ./ktap.sh
# No warm-up on KASAN: it only steadies the memory baseline.
if dmesg | grep -q KernelAddressSanitizer; then
	KASAN=1 CYCLES=12 EVERY=4 WARMUP=0
else
	KASAN=0 CYCLES=30 EVERY=10 WARMUP=5
fi
HATS=3
# One before/after snapshot around the cycles. MemFree alone moved by up
# to 7.5 MB on 4 vCPUs in the TCG guest: freed pages wait in per-CPU
# lists, which MemFree does not count. Free memory here is MemFree plus
# those lists (from /proc/zoneinfo), which leaves deferred frees as the
# only noise. kmemleak on the debug row, kmem_cache_destroy()'s check for
# live objects, and active_ptables catch leaks smaller than the bound.
SLAB_NOISE_KB=1024
FREE_NOISE_KB=1024
# Frees deferred past rmmod (RCU callbacks, workqueues) land when they
# land: after the cycles the memory is measured again, once a second,
# until it is back within the bounds, and only past SETTLE_S (a hang
# guard) does a bound count as missed.
SETTLE_S=30
# On a KASAN kernel the memory bounds say nothing (below): two cases.
if [ $KASAN = 1 ]; then ktap_plan 2; else ktap_plan 4; fi

meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
# Free memory in kB, per-CPU page lists included.
free_kb() {
	pcp=$(awk '$1 == "count:" { n += $2 } END { print n + 0 }' /proc/zoneinfo)
	echo $(($(meminfo MemFree) + pcp * 4))
}
settle() { sync; echo 3 > /proc/sys/vm/drop_caches; }
# Does the stats file say "hats $1"? Shell builtins only: a cycle forks
# nothing but insmod and rmmod, which under KASAN is most of its cost.
hats_are() {
	while read -r k v; do
		[ "$k" = hats ] && { [ "$v" = "$1" ]; return; }
	done < /sys/kernel/debug/htable/stats
	return 1
}

grep -q '^htable ' /proc/modules && rmmod htable
# Warm-up cycles: the first loads fill caches and per-CPU lists not ours.
i=0
while [ $i -lt $WARMUP ]; do
	i=$((i + 1))
	insmod ./htable.ko && rmmod htable
done
# The baseline: a free still pending here only loosens the bounds below.
settle
sleep 1
slab0=$(meminfo Slab)
free0=$(free_kb)

bad=0
i=0
while [ $i -lt $CYCLES ]; do
	i=$((i + 1))
	if ! insmod ./htable.ko; then
		bad=$((bad + 1))
		continue
	fi
	[ -c /dev/htable ] || bad=$((bad + 1))
	# Two hats, held by this shell; the module is pinned while they live.
	exec 3<> /dev/htable 4<> /dev/htable
	hats_are 2 || bad=$((bad + 1))
	if [ $((i % EVERY)) = 0 ]; then
		rmmod htable 2> /dev/null && bad=$((bad + 1))
		./htable_lifetime_test hats $HATS || bad=$((bad + 1))
	fi
	exec 3>&- 4>&-
	hats_are 0 || bad=$((bad + 1))
	rmmod htable || bad=$((bad + 1))
	[ -e /dev/htable ] && bad=$((bad + 1))
done
# Wait for the memory to come back (see SETTLE_S); on a KASAN kernel,
# where the bounds say nothing (below), measure once.
waited=0
while :; do
	settle
	slab1=$(meminfo Slab)
	free1=$(free_kb)
	[ $KASAN = 1 ] && break
	[ $((slab1 - slab0)) -le $SLAB_NOISE_KB ] &&
		[ $((free0 - free1)) -le $FREE_NOISE_KB ] && break
	[ $waited -ge $SETTLE_S ] && break
	sleep 1
	waited=$((waited + 1))
done
echo "# memory measured ${waited} s after the last cycle"

ktap_check "$CYCLES load/unload cycles with hats, $bad failures" test $bad = 0
ktap_check "module gone after the last cycle" sh -c '! grep -q "^htable " /proc/modules'
# KASAN's quarantine holds freed objects back (megabytes over these
# cycles), so on a KASAN kernel the bounds say nothing: kmemleak, which
# the VM runner reads on that row and counts as the row's own check, is
# the leak check there, with the unload's WARN on active_ptables.
if [ $KASAN = 1 ]; then
	echo "# KASAN: slab grew $((slab1 - slab0)) kB, free memory fell $((free0 - free1)) kB; kmemleak judges"
else
	ktap_check "slab grew $((slab1 - slab0)) kB (limit $SLAB_NOISE_KB)" \
		test $((slab1 - slab0)) -le $SLAB_NOISE_KB
	ktap_check "free memory fell $((free0 - free1)) kB (limit $FREE_NOISE_KB)" \
		test $((free0 - free1)) -le $FREE_NOISE_KB
fi
ktap_finish
