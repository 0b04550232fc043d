# SPDX-License-Identifier: GPL-2.0
# The VM matrix: one row per line, "name kernel cpu smp append".
#   kernel: deb (Debian 6.1) or debug (the lockdep/KASAN/kmemleak build)
# Every row also boots with slub_debug=FZPU page_poison=1 preempt=full
# (scripts/vm.sh). Documentation/testing.rst explains each row.
HTABLE_MATRIX='
l5-pti-smp2	deb	max		2	pti=on
l4-pti-smp2	deb	max,-la57	2	pti=on
l5-nopti-smp4	deb	max		4	pti=off
debug-l5-pti-smp2	debug	max		2	pti=on
'
