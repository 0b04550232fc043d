#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make profile` (scripts/profile.sh): load the bench
# module, run the bench cases of /kselftest/bench-specs (one case, as the
# host chose it) under perf record -a -g -e cpu-clock, and print the
# samples as folded stacks ("comm;outer;...;inner COUNT") between
# HTABLE-FOLDED-BEGIN and HTABLE-FOLDED-END for the host to draw. The
# symbols are read while the module is still loaded: after rmmod, its
# addresses would have no names.
T=/kselftest/htable
P=/tmp/profile
mkdir -p $P
insmod $T/htable-bench.ko || exit 1
echo "BENCH cpus=$(grep -c ^processor /proc/cpuinfo) kernel=$(uname -r)"
# The workload perf records: each spec, written and its result read.
cat > $P/run.sh <<'RUN'
#!/bin/sh
rc=0
while read -r spec; do
	case $spec in '' | '#'*) continue ;; esac
	echo "BENCH spec=$spec"
	echo "$spec" > /sys/kernel/debug/htable/bench || rc=1
	cat /sys/kernel/debug/htable/bench
done < /kselftest/bench-specs
exit $rc
RUN
chmod +x $P/run.sh
perf record -a -g -N -B -e cpu-clock -F 997 -o $P/perf.data -- $P/run.sh
rc=$?
echo "HTABLE-FOLDED-BEGIN"
# perf script: a header line per sample (comm first), then one line per
# frame, innermost first ("  ADDR SYMBOL"), then a blank line. perf names
# the module's symbols from kallsyms, as the kernel's: its frames are told
# by address (at or above its base in /proc/modules, where only it is
# loaded) and get " [htable]", which scripts/flamegraph.py colours. The
# idle loop (swapper) is left out.
base=$(awk '$1 == "htable" { sub(/^0x/, "", $6); print $6 }' /proc/modules)
perf script -i $P/perf.data -F comm,ip,sym 2> /dev/null | awk -v base="$base" '
	function flush(  s, i) {
		if (comm == "" || comm == "swapper")
			return
		s = comm
		for (i = n; i >= 1; i--)
			s = s ";" f[i]
		count[s]++
		comm = ""
	}
	/^[^ \t]/ { flush(); comm = $1; n = 0; next }
	/^[ \t]*$/ { flush(); comm = ""; next }
	{
		sym = (NF >= 2) ? $2 : $1
		if (base != "" && length($1) == 16 && $1 >= base && $1 < "ffffffffff000000")
			sym = sym " [htable]"
		f[++n] = sym
	}
	END { flush(); for (s in count) print s, count[s] }'
echo "HTABLE-FOLDED-END"
rmmod htable || rc=1
exit $rc
