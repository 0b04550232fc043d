# SPDX-License-Identifier: GPL-2.0
# gnuplot -e "dat='bench.dat'; png='bench.png'" plot.gp
# One bar per row that has a target: htable / peer (log scale), and the
# target. The analysis rows are in the table and CSV only.
set terminal pngcairo size 900,420 font ",9"
set output png
set termoption noenhanced
set bmargin 9
set title "htable / Linux peer, ns per op (QEMU TCG guest; lower is better)"
set style fill solid 0.8 noborder
set boxwidth 0.6
set rmargin 8
set xrange [-0.7:*]
set logscale y
# Down to 0.002: the large-page row and its target (0.01) sit far below 1.
set yrange [0.002:*]
set ylabel "ratio"
set xtics rotate by -40 left
set key outside top center horizontal
set grid ytics
plot dat using 0:2:xtic(1) with boxes title "htable / peer" lc rgb "#4477aa", \
     '' using 0:3 with points pt 7 ps 0.9 lc rgb "#cc3311" title "target"
