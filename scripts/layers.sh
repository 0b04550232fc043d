#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# layers.sh OBJDIR: check that calls between htable's files only go down
# the layers of Documentation/design.rst ("Layers"). For each object file
# in OBJDIR/module, every undefined symbol that another of the module's
# files defines must come from the same layer or a lower one. Each call
# upward is named (file, symbol, the file that defines it); the exit
# status is 1 if there is any.
set -euo pipefail
dir=$1/module

# The layers, top first. A file may call its own layer and those below.
# stats and fail are leaves that every layer counts into and that call
# nothing of the module. The core's own recursion is one layer: a table
# allocation steals (htable -> steal, same layer), and the TLB batch frees
# the tables it held once its shootdown is done (tlb -> htable_free, the
# one call allowed upward). trace (the tracepoints) is a leaf too.
layers=(
	"main dev debugfs"
	"cr3 check corrupt bench bench_map bench_smp"
	"hat map unmap claim share pages"
	"htable hash walk reserve steal"
	"x86pte tlb"
	"stats fail trace"
)

allowed=" tlb:htable_free "

declare -A layer_of def_in
for i in "${!layers[@]}"; do
	for f in ${layers[$i]}; do
		layer_of[$f]=$i
	done
done

for o in "$dir"/*.o; do
	f=$(basename "$o" .o)
	case $f in *.mod) continue ;; esac
	if [ -z "${layer_of[$f]+x}" ]; then
		echo "layers: module/$f.c is in no layer (scripts/layers.sh)"
		exit 1
	fi
	while read -r sym; do
		def_in[$sym]=$f
	done < <(nm --defined-only -g "$o" | awk '{ print $3 }')
done

bad=0
for o in "$dir"/*.o; do
	f=$(basename "$o" .o)
	case $f in *.mod) continue ;; esac
	while read -r sym; do
		d=${def_in[$sym]:-}
		[ -n "$d" ] || continue
		if [ "${layer_of[$d]}" -lt "${layer_of[$f]}" ] &&
			[[ "$allowed" != *" $f:$sym "* ]]; then
			echo "layers: module/$f.c calls $sym of module/$d.c, a layer above"
			bad=1
		fi
	done < <(nm -u "$o" | awk '{ print $2 }')
done
exit $bad
