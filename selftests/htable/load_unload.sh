#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Load and unload htable 50 times. Slab and free memory must come back to
# where they were (within noise), every cycle must create and remove the
# device, and the kernel log must stay clean (the VM runner checks that).
cd "$(dirname "$0")" || exit 1
. ./ktap.sh
CYCLES=50
# One before/after snapshot around the cycles. Noise measured in the TCG
# guest: per-CPU page lists and deferred module frees moved MemFree by up
# to 7.5 MB on 4 vCPUs with a single warm-up cycle, and by 0.7-4 MB on
# 2 vCPUs with five. So this bound catches gross leaks only (over 160 kB
# a cycle); kmemleak on the debug row, kmem_cache_destroy()'s check for
# live objects, and active_ptables catch the small ones.
SLAB_NOISE_KB=1024
FREE_NOISE_KB=8192
WARMUP=5
ktap_plan 4

meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
settle() { sync; echo 3 > /proc/sys/vm/drop_caches; sleep 1; }

grep -q '^htable ' /proc/modules && rmmod htable
# Warm-up cycles: the first loads fill caches and per-CPU lists not ours.
i=0
while [ $i -lt $WARMUP ]; do
	i=$((i + 1))
	insmod ./htable.ko && rmmod htable
done
settle
slab0=$(meminfo Slab)
free0=$(meminfo MemFree)

bad=0
i=0
while [ $i -lt $CYCLES ]; do
	i=$((i + 1))
	if ! insmod ./htable.ko; then
		bad=$((bad + 1))
		continue
	fi
	[ -c /dev/htable ] || bad=$((bad + 1))
	cat /sys/kernel/debug/htable/stats > /dev/null || bad=$((bad + 1))
	rmmod htable || bad=$((bad + 1))
	[ -e /dev/htable ] && bad=$((bad + 1))
done
settle
slab1=$(meminfo Slab)
free1=$(meminfo MemFree)

ktap_check "$CYCLES load/unload cycles, $bad failures" test $bad = 0
ktap_check "module gone after the last cycle" sh -c '! grep -q "^htable " /proc/modules'
ktap_check "slab grew $((slab1 - slab0)) kB (limit $SLAB_NOISE_KB)" \
	test $((slab1 - slab0)) -le $SLAB_NOISE_KB
ktap_check "free memory fell $((free0 - free1)) kB (limit $FREE_NOISE_KB)" \
	test $((free0 - free1)) -le $FREE_NOISE_KB
ktap_finish
