# SPDX-License-Identifier: GPL-2.0
# The VM matrix: one row per line, "name kernel cpu smp mem append tests".
#   kernel: deb (Debian 6.1), lts (Debian 6.12 LTS) or debug (the
#           lockdep/KASAN/kmemleak build of 6.1)
#   append: extra kernel command line, one word; commas become spaces
#   tests:  "all" (selftests/htable/run-list), "part:K/N" (every Nth test
#           of run-list from the Kth, between setup and teardown), or a
#           comma-separated list
# check.sh starts rows in this order, up to --jobs at once. The debug
# kernel's run is the slowest, so it is split in two rows that come first
# and run beside the others: together they run every test once.
# Every row also boots with slub_debug=FZPU page_poison=1 preempt=full
# (scripts/vm.sh). Documentation/testing.rst explains each row.
HTABLE_MATRIX='
debug1-l5-pti-smp2	debug	max		2	1G	pti=on	part:1/2
debug2-l5-pti-smp2	debug	max		2	1G	pti=on	part:2/2
l5-pti-smp2		deb	max		2	1G	pti=on	all
l4-pti-smp2		deb	max,-la57	2	1G	pti=on	all
l5-nopti-smp4		deb	max		4	4G	pti=off,hugepagesz=1G,hugepages=1	all
lts612-l5-pti-smp2	lts	max		2	1G	pti=on	all
lowmem-l5-pti-smp2	deb	max		2	256M	pti=on	htable_setup.sh,htable_pressure_test,htable_teardown.sh
'
