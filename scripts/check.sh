#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: every static check and every VM matrix row, ending with the
# line "N passed, N failed". Each static check counts as one test; each VM
# row contributes its selftest cases plus its own integrity checks.
#
#   check.sh [--rows "name ..."] [--no-static] [--no-vm] [--jobs N]
#
# --jobs N (default $HTABLE_CHECK_JOBS, else 2) boots up to N rows at once.
# Rows start in matrix order, which lists the slowest (debug) row first, so
# it runs beside the others instead of after them.
set -uo pipefail
LOG_TAG=check
. "$(dirname "$0")/lib.sh"
. "$HTABLE_TOP/scripts/matrix.sh"

rows= static=1 vm=1 jobs=${HTABLE_CHECK_JOBS:-2}
while [ $# -gt 0 ]; do
	case $1 in
	--rows) rows=$2; shift ;;
	--jobs) jobs=$2; shift ;;
	--no-static) static=0 ;;
	--no-vm) vm=0 ;;
	*) die "unknown option $1" ;;
	esac
	shift
done

t0=$(date +%s) t0_load=$(cut -d' ' -f1-3 /proc/loadavg)
# Each of check.sh's own lines carries the seconds since the start, so a
# run's log shows where its time went.
log() { printf '[check +%ds] %s\n' $(($(date +%s) - t0)) "$*" >&2; }
log "dependencies"
deps=$("$HTABLE_TOP/scripts/deps.sh" --lts) || die "dependency set-up failed"
eval "$deps"
# For every row's vm.sh, which would otherwise run deps.sh again.
export KVER DEB_KDIR GUEST_KERNEL KSRC_TAR KTOOLS LTS_KDIR LTS_KERNEL PERF
export HTABLE_DEPS_READY=1

results="$HTABLE_TOP/.build/results"
mkdir -p "$HTABLE_TOP/.build"
: > "$results"
rm -f "$HTABLE_TOP/.build/coverage/percent" "$HTABLE_TOP"/.build/*.failures

# static NAME CMD...: one static check; its output is shown only on failure.
static_check() {
	local name=$1 out
	shift
	log "static: $name"
	if out=$("$@" 2>&1); then
		echo "static-$name 1 0 0" >> "$results"
		log "ok: $name"
	else
		echo "static-$name 0 1 0" >> "$results"
		printf '%s\n' "$out" | tail -n 60 | sed 's/^/    /' >&2
		printf '%s\n' "$out" | tail -n 8 | cut -c1-160 > "$HTABLE_TOP/.build/static-$name.failures"
		log "FAIL: $name"
	fi
}

# The host shim's headers are left out: they re-create kernel internals
# (typedefs, volatile accessors, statement macros) that checkpatch rejects
# everywhere but in the kernel's own headers.
sources() {
	(cd "$HTABLE_TOP" && git ls-files -co --exclude-standard -- \
		'module/*.c' 'module/*.h' 'include/*.h' 'selftests/*.c' 'selftests/*.h' \
		'tools/*.c' ':(exclude)selftests/host/shim/*.h')
}

# The Debian kernel's two row modules (scripts/row-modules.sh), built with
# W=1: no warning at all in either build's log. The benchmark variant
# (HTABLE_BENCH=y) compiles every file, the benchmark's too.
deb_tag=$(basename "$(dirname "$DEB_KDIR")")-$(basename "$DEB_KDIR")
w1_build() {
	"$HTABLE_TOP/scripts/row-modules.sh" "$DEB_KDIR" >/dev/null || return 1
	! grep -E 'warning:|error:' "$HTABLE_TOP/.build/$deb_tag.log" \
		"$HTABLE_TOP/.build/$deb_tag-bench.log" || return 1
}

# sparse over every file (C=2), silent. It runs in the benchmark variant's
# tree, whose objects are up to date: C=2 checks every file again without
# compiling any (a tree of its own would compile them all once more).
sparse_build() {
	local log
	"$HTABLE_TOP/scripts/build-module.sh" "$deb_tag-bench" "$DEB_KDIR" W=1 C=2 \
		HTABLE_BENCH=y >/dev/null || return 1
	log="$HTABLE_TOP/.build/$deb_tag-bench.sparse.log"
	grep -q '^  CHECK ' "$log" || { echo "sparse checked no file" >&2; return 1; }
	! grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error)' "$log"
}

# Relative paths, so checkpatch applies its include/uapi/ rules. One run
# over every file (perl starts once); it fails if any file has a finding.
checkpatch() {
	cd "$HTABLE_TOP" || return 1
	# shellcheck disable=SC2046
	perl "$KTOOLS/scripts/checkpatch.pl" --strict --no-tree --quiet \
		--no-summary --show-types -f $(sources)
}

# Every kernel-doc comment in the module and its headers parses, and each
# documents what it claims to (the kernel's scripts/kernel-doc, which
# Documentation/uapi.rst's field reference is rendered with).
kernel_doc() {
	local out
	cd "$HTABLE_TOP" || return 1
	out=$(perl "$KTOOLS/scripts/kernel-doc" -none -Werror \
		$(git ls-files -co --exclude-standard -- 'module/*.[ch]' 'include/*.h') 2>&1) ||
		{ printf '%s\n' "$out"; return 1; }
	[ -z "$out" ] || { printf '%s\n' "$out"; return 1; }
}

# The layer check itself: two objects built here, a core file (htable)
# and a hat-layer file (hat). A call from the core up to the hat must fail
# with the file and the symbol named; the same call downward must pass.
layers_selftest() {
	local d out rc=1
	d=$(mktemp -d) || return 1
	mkdir "$d/module"
	layers_pair() {
		printf '%s\n' "$2" > "$d/hat.c"
		printf '%s\n' "$1" > "$d/htable.c"
		cc -c -o "$d/module/hat.o" "$d/hat.c" &&
			cc -c -o "$d/module/htable.o" "$d/htable.c"
	}
	if layers_pair 'void hat_get(void); void htable_up(void) { hat_get(); }' \
		'void hat_get(void) { }'; then
		if out=$("$HTABLE_TOP/scripts/layers.sh" "$d" 2>&1); then
			echo "layers.sh let module/htable.c call hat_get of module/hat.c"
		elif ! grep -q 'module/htable.c calls hat_get of module/hat.c, a layer above' <<< "$out"; then
			printf 'layers.sh failed without naming the call:\n%s\n' "$out"
		elif layers_pair 'void htable_down(void) { }' \
			'void htable_down(void); void hat_get(void) { htable_down(); }' &&
			"$HTABLE_TOP/scripts/layers.sh" "$d"; then
			rc=0
		else
			echo "layers.sh refused module/hat.c calling down to module/htable.c"
		fi
	fi
	rm -rf "$d"
	return $rc
}

# The 6.12 row's module builds (scripts/row-modules.sh). The benchmark
# variant is built for the Debian 6.1 kernel only, where make bench runs.
lts_build() {
	"$HTABLE_TOP/scripts/row-modules.sh" --no-bench "$LTS_KDIR" >/dev/null
}

# dkms.conf builds the module through DKMS (private trees; no load).
dkms_build() {
	"$HTABLE_TOP/scripts/dkms-build.sh" "$DEB_KDIR"
}

selftests_build() {
	make -s -C "$HTABLE_TOP/selftests/htable" KTOOLS="$KTOOLS" clean &&
		make -s -j"$(nproc)" -C "$HTABLE_TOP/selftests/htable" KTOOLS="$KTOOLS" all
}

# Host unit tests: pure logic built for the host under ASan and UBSan; each
# test case counts in the totals. A test NAME_test.c with a NAME_test.link
# beside it also links the sources listed there (paths from the top, one a
# line) and builds over the kernel shim: selftests/host/shim comes first on
# the include path (Documentation/testing.rst, "The host build of the core").
# Each listed source is compiled once per run, whichever tests list it.
host_tests() {
	local t bin out p f o link ok
	local -a flags shim objs
	local -A built=()
	flags=(-O1 -g -Wall -Wextra -Werror -Wno-sign-compare -Wno-unused-parameter
	       -fsanitize=address,undefined -fno-sanitize-recover=all)
	mkdir -p "$HTABLE_TOP/.build/host/obj"
	for t in "$HTABLE_TOP"/selftests/host/*_test.c; do
		bin="$HTABLE_TOP/.build/host/$(basename "$t" .c)"
		link="${t%.c}.link"
		shim=() objs=() ok=1
		: > "$bin.log"
		log "host: $(basename "$bin")"
		if [ -f "$link" ]; then
			shim=(-I"$HTABLE_TOP/selftests/host/shim" -pthread)
			while read -r f; do
				[ -n "$f" ] || continue
				o="$HTABLE_TOP/.build/host/obj/${f//\//_}.o"
				if [ -z "${built[$f]:-}" ]; then
					rm -f "$o"
					gcc "${flags[@]}" "${shim[@]}" -I"$HTABLE_TOP/include" \
						-c -o "$o" "$HTABLE_TOP/$f" 2>> "$bin.log" || ok=0
					built[$f]=1
				fi
				objs+=("$o")
			done < "$link"
		fi
		if [ $ok = 0 ] || ! gcc "${flags[@]}" "${shim[@]}" \
			-I"$HTABLE_TOP/include" -I"$KTOOLS/tools/testing/selftests" \
			-o "$bin" "$t" "${objs[@]}" 2>> "$bin.log"; then
			cat "$bin.log" >&2
			echo "host-$(basename "$bin") 0 1 0" >> "$results"
			grep -E 'error|undefined reference' "$bin.log" | head -n 8 | cut -c1-160 \
				> "$HTABLE_TOP/.build/host-$(basename "$bin").failures"
			continue
		fi
		out=$("$bin" 2>&1)
		p=$(grep -c '^ok ' <<< "$out")
		f=$(grep -c '^not ok ' <<< "$out")
		grep -E '^(not )?ok ' <<< "$out" | sed 's/^/  [host] /' >&2
		# A crash or sanitizer report with no failed case still fails.
		if [ "$f" = 0 ] && ! grep -q '^# PASSED' <<< "$out"; then
			f=1
			printf '%s\n' "$out" | tail -n 20 >&2
		fi
		echo "host-$(basename "$bin") $p $f 0" >> "$results"
		[ "$f" = 0 ] || grep -E '^(not ok |#.*(FAIL|ERROR|runtime error))' <<< "$out" |
			head -n 8 | cut -c1-160 > "$HTABLE_TOP/.build/host-$(basename "$bin").failures"
	done
	htablectl_host
}

# htablectl's error paths without a module (the host has no /dev/htable).
htablectl_host() {
	local out p f
	log "host: htablectl"
	if ! make -s -C "$HTABLE_TOP/tools/htablectl" > "$HTABLE_TOP/.build/htablectl.log" 2>&1; then
		cat "$HTABLE_TOP/.build/htablectl.log" >&2
		echo "host-htablectl 0 1 0" >> "$results"
		return
	fi
	out=$("$HTABLE_TOP/tools/htablectl/test-host.sh" "$HTABLE_TOP/tools/htablectl/htablectl")
	p=$(grep -c '^ok ' <<< "$out")
	f=$(grep -c '^not ok ' <<< "$out")
	grep -E '^(not )?ok ' <<< "$out" | sed 's/^/  [host] /' >&2
	grep -q '^# PASSED' <<< "$out" || [ "$f" != 0 ] || f=1
	echo "host-htablectl $p $f 0" >> "$results"
}

# The debug kernel (built once per machine, cached), when a row boots it.
debug_kernel() {
	local vars
	grep -qE '^[^[:space:]]+[[:space:]]+debug[[:space:]]' <<< "$HTABLE_MATRIX" || return 0
	[ -z "${DEBUG_KDIR:-}" ] || return 0
	log "debug kernel (built once per machine, cached)"
	if vars=$("$HTABLE_TOP/scripts/debug-kernel.sh"); then
		eval "$vars"
	else
		log "FAIL: debug kernel build"
		DEBUG_KERNEL=/nonexistent DEBUG_KDIR=/nonexistent
	fi
}

static_pid=
if [ $static = 1 ]; then
	# First: it rebuilds the guest programs that the rows copy. The
	# module of the 6.12 row (which runs no benchmark), the head of the
	# longer slot, builds beside it, so that row boots at once. The
	# debug row, which has time to spare in the other slot, builds its
	# own two modules when it starts (vm.sh, under build-module.sh's
	# lock), while the 6.12 guest boots.
	if [ $vm = 1 ]; then
		debug_kernel
		"$HTABLE_TOP/scripts/row-modules.sh" --no-bench "$LTS_KDIR" >/dev/null 2>&1 &
	fi
	static_check "selftests-build" selftests_build
	# The rest need no guest: they run beside the first rows, at a
	# lower priority (nice 10), so that they take what the guests leave
	# idle instead of slowing the rows down. The Debian rows' modules
	# come first, so that those rows, which start when the 6.12 row
	# ends, find them built.
	{
		renice -n 10 -p "$BASHPID" >/dev/null
		"$HTABLE_TOP/scripts/row-modules.sh" "$DEB_KDIR" >/dev/null 2>&1
		host_tests
		static_check "build-W=1" w1_build
		# The objects of the W=1 build: calls only go down.
		static_check "layers" "$HTABLE_TOP/scripts/layers.sh" "$HTABLE_TOP/.build/$deb_tag-bench"
		static_check "layers-selftest" layers_selftest
		static_check "sparse-C=2" sparse_build
		static_check "checkpatch" checkpatch
		static_check "kernel-doc" kernel_doc
		static_check "build-6.12-$(basename "$LTS_KDIR" | sed 's/linux-headers-//')" lts_build
		static_check "dkms-build" dkms_build
	} &
	static_pid=$!
fi

for r in $rows; do
	grep -q "^$r[[:space:]]" <<< "$HTABLE_MATRIX" || die "no matrix row named $r"
done

# run_list_minus -A,-B...: run-list without the tests named.
run_list_minus() {
	local drop=",${1//-/},"
	awk -v drop="$drop" 'index(drop, "," $1 ",") == 0 { printf "%s ", $1 }' \
		"$HTABLE_TOP/selftests/htable/run-list"
}

# run_row NAME KERNEL CPU SMP MEM APPEND TESTS PROVIDES: boot one matrix row.
run_row() {
	local name=$1 kernel=$2 cpu=$3 smp=$4 mem=$5 append=$6 tests=$7 provides=$8
	local kargs=() timeout=900

	if [ "$kernel" = debug ]; then
		# KASAN already redzones, poisons and records every slab
		# object; slub_debug on top only slows the row down.
		kargs=(--kernel "$DEBUG_KERNEL" --kdir "$DEBUG_KDIR" --slub-debug -)
		timeout=1500
	elif [ "$kernel" = lts ]; then
		kargs=(--kernel "$LTS_KERNEL" --kdir "$LTS_KDIR")
	fi
	case $tests in
	all) ;;
	all,-*) kargs+=(--tests "$(run_list_minus "${tests#all,}")") ;;
	*) kargs+=(--tests "${tests//,/ }") ;;
	esac
	log "row $name: -cpu $cpu, $smp vCPUs, $mem, $kernel kernel, $append"
	if ! "$HTABLE_TOP/scripts/vm.sh" --row "$name" --cpu "$cpu" --smp "$smp" \
		--mem "$mem" --append "${append//,/ }" --timeout $timeout \
		--results "$results" --provides "$provides" "${kargs[@]}" < /dev/null; then
		grep -q "^$name " "$results" || echo "$name 0 1 0" >> "$results"
	fi
}

if [ $vm = 1 ]; then
	# What every row shares is built once, before rows run side by side:
	# the debug kernel, the guest-side programs and the module for each
	# kernel (build-module.sh locks its own directory).
	debug_kernel
	make -s -C "$HTABLE_TOP/selftests/htable" KTOOLS="$KTOOLS" >/dev/null &&
		make -s -C "$HTABLE_TOP/tools/htablectl" >/dev/null ||
		log "FAIL: guest programs do not build (each row will fail)"

	row_pids=()
	while read -r name kernel cpu smp mem append tests provides; do
		[ -n "$name" ] || continue
		if [ -n "$rows" ] && ! [[ " $rows " == *" $name "* ]]; then
			continue
		fi
		if [ "${#row_pids[@]}" -ge "$jobs" ]; then
			wait -n -p done_pid "${row_pids[@]}"
			left=()
			for p in "${row_pids[@]}"; do
				[ "$p" = "$done_pid" ] || left+=("$p")
			done
			row_pids=("${left[@]}")
		fi
		run_row "$name" "$kernel" "$cpu" "$smp" "$mem" "$append" "$tests" \
			"$provides" &
		row_pids+=($!)
	done <<< "$HTABLE_MATRIX"
	wait "${row_pids[@]}"
fi
[ -z "$static_pid" ] || wait "$static_pid"

# The module's coverage, from the rows that boot the debug kernel (its
# gcov records it): one check, failing below the target.
cov_dirs=()
while read -r name kernel _; do
	[ "$kernel" = debug ] || continue
	[ -n "$rows" ] && ! [[ " $rows " == *" $name "* ]] && continue
	cov_dirs+=("$HTABLE_TOP/.build/vm-$name")
done <<< "$HTABLE_MATRIX"
if [ $vm = 1 ] && [ ${#cov_dirs[@]} -gt 0 ]; then
	log "coverage of the module (the debug row)"
	if "$HTABLE_TOP/scripts/coverage.sh" "${cov_dirs[@]}" >&2; then
		echo "coverage 1 0 0" >> "$results"
	else
		echo "coverage 0 1 0" >> "$results"
	fi
fi

# Every row that should have run must have reported.
while read -r name _; do
	[ -n "$name" ] || continue
	[ -n "$rows" ] && ! [[ " $rows " == *" $name "* ]] && continue
	[ $vm = 1 ] || continue
	grep -q "^$name " "$results" || {
		log "FAIL: row $name never reported"
		echo "$name 0 1 0" >> "$results"
	}
done <<< "$HTABLE_MATRIX"

# The run's record, for the docs to point at instead of narrating runs:
# when, what, where, and how long each part took.
report="$HTABLE_TOP/.build/check-report.txt"
read -r p f s < <(awk '{ p += $2; f += $3; s += $4 } END { print p + 0, f + 0, s + 0 }' "$results")
{
	echo "make check report"
	echo "date:     $(date -u -d "@$t0" +%Y-%m-%dT%H:%M:%SZ)"
	echo "commit:   $(git -C "$HTABLE_TOP" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "machine:  $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)," \
		"$(awk '$1 == "MemTotal:" { printf "%d GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "load:     $t0_load at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (1, 5, 15 min)"
	echo "jobs:     $jobs rows at once"
	echo "time:     $(($(date +%s) - t0)) s"
	echo "totals:   $p passed, $f failed, $s skipped"
	echo "coverage: $(cat "$HTABLE_TOP/.build/coverage/percent" 2>/dev/null || echo -)% of the module's lines"
	echo
	awk '{ printf "%-34s %4d passed %4d failed %4d skipped%s\n", $1, $2, $3, $4,
		(NF >= 5 ? sprintf("  %4d s", $5) : "") }' "$results"
} > "$report"

echo
echo "== summary ($(($(date +%s) - t0)) s; $report)"
awk '{ printf "  %-28s %4d passed %4d failed %4d skipped\n", $1, $2, $3, $4 }' "$results"
# What failed, last, where the tail of a CI log shows it: each failed
# row's own reasons (scripts/vm.sh), a few lines a row.
if [ "$f" != 0 ]; then
	echo "== failures"
	awk '$3 > 0 { print $1 }' "$results" | while read -r name; do
		fl="$HTABLE_TOP/.build/vm-$name/failures"
		[ -s "$fl" ] || fl="$HTABLE_TOP/.build/$name.failures"
		if [ -s "$fl" ]; then
			head -n 8 "$fl" | sed "s/^/  $name: /"
		else
			echo "  $name: (see its lines above)"
		fi
	done
fi
if [ "$s" != 0 ]; then
	echo "$p passed, $f failed, $s skipped"
else
	echo "$p passed, $f failed"
fi
[ "$f" = 0 ]
