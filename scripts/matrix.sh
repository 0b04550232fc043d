# SPDX-License-Identifier: GPL-2.0
# The VM matrix: one row per line, "name kernel cpu smp mem append tests
# provides".
#   kernel:   deb (Debian 6.1), lts (Debian 6.12 LTS) or debug (the
#             lockdep/KASAN/kmemleak build of 6.1)
#   append:   extra kernel command line, one word; commas become spaces.
#             preempt=full unless it names another mode
#   tests:    "all" (selftests/htable/run-list), "all,-A,-B" (run-list
#             without tests A and B), or a comma-separated list
#   provides: what the row was built to have, comma-separated. A test
#             that skips for one of these fails the row (scripts/vm.sh):
#             1g      a free 1 GiB hugetlb page and pdpe1gb
#             smp2    at least two CPUs
#             hotplug CPUs that can be taken offline
#             lazy    the window_lazy knob (kernels without DEBUG_VM,
#                     where a forced lazy-TLB clobber does not warn)
#             isolated a CPU isolated with isolcpus= (windows refuse it)
# check.sh starts rows in this order, up to --jobs at once. The debug
# kernel's row is the slowest by far, so it comes first and runs beside
# all the others, which follow one another in the second slot (longest
# first); one debug row boots once and scans for leaks once, where two
# halves paid for both twice.
# Every row boots with slub_debug=FZPU page_poison=1 (scripts/vm.sh); a
# row that reserves a 1 GiB page gets 2 GiB, most of it above 4 GiB, where
# memblock finds a free, aligned GiB (scripts/vm.sh). Documentation/
# testing.rst explains each row.
HTABLE_MATRIX='
debug-l5-pti-smp2	debug	max		2	3G	pti=on,hugepagesz=1G,hugepages=1	all,-htablectl_test	1g,smp2,hotplug
lts612-l5-pti-smp2	lts	max		2	2G	pti=on,hugepagesz=1G,hugepages=1	all,-htable_resched_test,-htable_bench_test.sh	1g,smp2,hotplug,lazy
l5-pti-smp2		deb	max		2	2G	pti=on,hugepagesz=1G,hugepages=1	all,-htable_resched_test	1g,smp2,hotplug,lazy
l5-nopti-smp4-vol	deb	max		4	2G	pti=off,hugepagesz=1G,hugepages=1,preempt=voluntary	all,-htable_perf_test.sh,-htable_failsweep_test,-htable_security_test,-htablectl_test,-htable_bench_test.sh,-htable_trace_test,-htable_cgroup_test	1g,smp2,hotplug,lazy
l4-pti-smp2		deb	max,-la57	2	2G	pti=on,hugepagesz=1G,hugepages=1	all,-htable_resched_test,-htable_perf_test.sh,-htable_smp_test,-htable_stress_test,-htable_failsweep_test,-htablectl_test,-htable_bench_test.sh,-htable_cgroup_test	1g,smp2,hotplug,lazy
lowmem-l5-pti-smp2	deb	max		2	256M	pti=on,isolcpus=1	htable_row.sh,htable_setup.sh,htable_pressure_test,htable_reclaim_test,htable_isolated_test,htable_teardown.sh	smp2,isolated
'
