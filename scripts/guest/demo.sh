#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make demo`: load htable, run a small workload through
# /dev/htable with htablectl (each command is echoed after "htable> ", so
# what the demo shows is what a user can type), and print the counters.
# Exits non-zero when any step fails; init reports that to the host.
set -e
T=/kselftest/htable
cd $T
echo "== insmod htable.ko"
insmod ./htable.ko || exit 1
dmesg | grep 'htable: loaded' | tail -n 1
ls -l /dev/htable
echo "== workload (htablectl shell -x)"
# Two hats. Hat 1 maps 4096 pages across the 4 GiB boundary, is probed,
# drawn, checked, half unmapped and verified through a CR3 window. Hat 2
# maps one page plus 511 aliases of it. Then a table cap makes hat 2's MAP
# steal hat 1's idle tables; RELOAD rebuilds them, a second window checks
# them, and the kernel's shrinker reaps what is left over. Hat 3 maps 1 GiB
# with 2 MiB pages in one level-1 table, and an UNMAP of one 4 KiB page
# splits one of them.
htablectl shell -x <<'EOF'
info
map 0xff800000 4096 write
tree
probe 0xff800000
probe 0xfffff000
probe 0x1007fe000
check
unmap 0xff800000 2048
info
check
verify 4g 2048 write
sync 4g 2048
# hat 2: one real page, aliased at 511 more vas
open
map 1g 1 write
map 0x40001000 511 alias 1g count 1
info
check
# pressure on demand: free the cached tables, cap the tables at those in
# use, and map 1536 more pages in hat 2: each table it needs is stolen
reap cached_tables
knob ptable_cap active_ptables
mark
map 8g 1536 write
knob ptable_cap 0
delta
use 1
probe 4g
info
reload 4g 2048
verify 4g 2048 write
sync 4g 2048
use 2
unmap 8g 1536
mark
! echo 2 > /proc/sys/vm/drop_caches
delta
use 1
check
tree
use 2
check
# hat 3: 1 GiB at 2 GiB in 2 MiB pages. The guest has only 1 GiB of memory,
# so one real 2 MiB page backs all 512 slots: the other 511 alias it.
open
map 2g 512 write 2m
map 0x80200000 261632 write 2m alias 2g count 512
info
echo 1 GiB in 2 MiB pages: one level-1 table holds all 512 entries.
echo With 4 KiB pages it would take 512 more leaf tables (2 MiB of them).
probe 0xbfffffff
check
verify 0xbffc0000 64 write
# one 4 KiB page out of the first 2 MiB page: it splits into a leaf table
unmap 0x80005000 1
info
tree
check
EOF
echo "== htablectl stats"
htablectl stats
echo "== rmmod htable"
rmmod htable && echo "unloaded cleanly"
