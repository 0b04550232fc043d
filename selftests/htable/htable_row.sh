#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Does this guest have what its matrix row promises? scripts/vm.sh passes
# the promise on the kernel command line as
#
#   htexpect=levels:5,pti:on,cpus:2,preempt:full,slub:FZPU,kernel:6.1,1g:1
#
# and each item is checked here against what the hardware and the kernel
# say, never against htable: a row that silently booted 4-level, without
# PTI, with one vCPU, in another preemption mode or without its 1 GiB page
# would otherwise pass tests that mean less than the row claims.
cd "$(dirname "$0")" || exit 1
. ./ktap.sh

expect=
for a in $(cat /proc/cmdline); do
	case $a in
	htexpect=*) expect=${a#htexpect=} ;;
	esac
done
items=$(echo "$expect" | tr ',' ' ')
n=0
for it in $items; do n=$((n + 1)); done
if [ $n = 0 ]; then
	ktap_plan 1
	ktap_fail "no htexpect= on the kernel command line (scripts/vm.sh sets it)"
	ktap_finish
fi
ktap_plan $n

cpuflags=$(grep -m1 '^flags' /proc/cpuinfo)
has_flag() { case " $cpuflags " in *" $1 "*) return 0 ;; esac; return 1; }

# What the kernel reports for each promised item.
got_levels() { if has_flag la57; then echo 5; else echo 4; fi; }
# X86_FEATURE_PTI shows as "pti" in the flags while PTI is in use.
got_pti() { if has_flag pti; then echo on; else echo off; fi; }
got_cpus() { grep -c '^processor' /proc/cpuinfo; }
# PREEMPT_DYNAMIC kernels show the mode in debugfs as "none (voluntary)
# full"; a kernel built with one fixed model names it in its version.
got_preempt() {
	f=/sys/kernel/debug/sched/preempt
	if [ -r $f ]; then
		sed -n 's/.*(\([a-z]*\)).*/\1/p' $f
	else
		case " $(uname -v) " in
		*" PREEMPT_RT "*) echo rt ;;
		*" PREEMPT "*) echo full ;;
		*) echo none ;;
		esac
	fi
}
# slub_debug: the flags of one cache that every kernel has.
got_slub() {
	d=/sys/kernel/slab/kmalloc-64
	s=
	[ "$(cat $d/sanity_checks 2>/dev/null)" = 1 ] && s=${s}F
	[ "$(cat $d/red_zone 2>/dev/null)" = 1 ] && s=${s}Z
	[ "$(cat $d/poison 2>/dev/null)" = 1 ] && s=${s}P
	[ "$(cat $d/store_user 2>/dev/null)" = 1 ] && s=${s}U
	echo "${s:--}"
}
got_kernel() { uname -r | cut -d. -f1,2; }
got_1g() {
	cat /sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages 2>/dev/null ||
		echo 0
}

for it in $items; do
	key=${it%%:*}
	want=${it#*:}
	case $key in
	levels) got=$(got_levels) ;;
	pti) got=$(got_pti) ;;
	cpus) got=$(got_cpus) ;;
	preempt) got=$(got_preempt) ;;
	slub) got=$(got_slub) ;;
	kernel) got=$(got_kernel) ;;
	1g) got=$(got_1g) ;;
	*) got="(unknown item)" ;;
	esac
	if [ "$got" = "$want" ]; then
		ktap_ok "row promises $key $want"
	else
		ktap_fail "row promises $key $want, the guest has $got"
	fi
done
ktap_finish
