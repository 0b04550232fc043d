# SPDX-License-Identifier: GPL-2.0
# gnuplot -e "dat='bench.dat'; png='bench.png'" plot.gp
# One bar per row: htable / peer (log scale), with the row's target.
set terminal pngcairo size 900,420 font ",9"
set output png
set title "htable / Linux peer, ns per op (QEMU TCG guest; lower is better)"
set style data histogram
set style fill solid 0.8 noborder
set boxwidth 0.7
set logscale y
set yrange [0.001:*]
set ylabel "ratio"
set xtics rotate by -40 left
set key top left
set grid ytics
plot dat using 2:xtic(1) title "htable / peer" lc rgb "#4477aa", \
     '' using 0:3 with points pt 7 ps 0.9 lc rgb "#cc3311" title "target"
