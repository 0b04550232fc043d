#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: every static check and every VM matrix row, ending with the
# line "N passed, N failed". Each static check counts as one test; each VM
# row contributes its selftest cases plus its own integrity checks.
#
#   check.sh [--rows "name ..."] [--no-static] [--no-vm]
set -uo pipefail
LOG_TAG=check
. "$(dirname "$0")/lib.sh"
. "$HTABLE_TOP/scripts/matrix.sh"

rows= static=1 vm=1
while [ $# -gt 0 ]; do
	case $1 in
	--rows) rows=$2; shift ;;
	--no-static) static=0 ;;
	--no-vm) vm=0 ;;
	*) die "unknown option $1" ;;
	esac
	shift
done

t0=$(date +%s)
log "dependencies"
deps=$("$HTABLE_TOP/scripts/deps.sh" --lts) || die "dependency set-up failed"
eval "$deps"

results="$HTABLE_TOP/.build/results"
mkdir -p "$HTABLE_TOP/.build"
: > "$results"

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
		log "FAIL: $name"
	fi
}

sources() {
	(cd "$HTABLE_TOP" && git ls-files -co --exclude-standard -- \
		'module/*.c' 'module/*.h' 'include/*.h' 'selftests/*.c' 'selftests/*.h')
}

# A W=1 build whose log has no warning at all.
w1_build() {
	local log
	"$HTABLE_TOP/scripts/build-module.sh" w1 "$DEB_KDIR" W=1 >/dev/null || return 1
	log="$HTABLE_TOP/.build/w1.log"
	! grep -E 'warning:|error:' "$log" || return 1
}

# sparse over every file (C=2), silent.
sparse_build() {
	local log
	"$HTABLE_TOP/scripts/build-module.sh" sparse "$DEB_KDIR" C=2 >/dev/null || return 1
	log="$HTABLE_TOP/.build/sparse.log"
	! grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error)' "$log"
}

# Relative paths, so checkpatch applies its include/uapi/ rules.
checkpatch() {
	local f rc=0
	cd "$HTABLE_TOP" || return 1
	for f in $(sources); do
		perl "$KTOOLS/scripts/checkpatch.pl" --strict --no-tree --quiet \
			--no-summary --show-types -f "$f" || rc=1
	done
	return $rc
}

lts_build() {
	"$HTABLE_TOP/scripts/build-module.sh" lts "$LTS_KDIR" >/dev/null
}

selftests_build() {
	make -s -C "$HTABLE_TOP/selftests/htable" KTOOLS="$KTOOLS" clean all
}

# Host unit tests: pure logic built for the host under ASan and UBSan; each
# test case counts in the totals.
host_tests() {
	local t bin out p f
	for t in "$HTABLE_TOP"/selftests/host/*_test.c; do
		bin="$HTABLE_TOP/.build/host/$(basename "$t" .c)"
		mkdir -p "$(dirname "$bin")"
		log "host: $(basename "$bin")"
		if ! gcc -O1 -g -Wall -Wextra -Werror -Wno-sign-compare -Wno-unused-parameter \
			-fsanitize=address,undefined -fno-sanitize-recover=all \
			-I"$HTABLE_TOP/include" -I"$KTOOLS/tools/testing/selftests" \
			-o "$bin" "$t" 2> "$bin.log"; then
			cat "$bin.log" >&2
			echo "host-$(basename "$bin") 0 1 0" >> "$results"
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
	done
}

if [ $static = 1 ]; then
	host_tests
	static_check "build-W=1" w1_build
	static_check "sparse-C=2" sparse_build
	static_check "checkpatch" checkpatch
	static_check "build-6.12-$(basename "$LTS_KDIR" | sed 's/linux-headers-//')" lts_build
	static_check "selftests-build" selftests_build
fi

for r in $rows; do
	grep -q "^$r[[:space:]]" <<< "$HTABLE_MATRIX" || die "no matrix row named $r"
done

if [ $vm = 1 ]; then
	debug_vars=
	while read -r name kernel cpu smp mem append tests; do
		[ -n "$name" ] || continue
		if [ -n "$rows" ] && ! [[ " $rows " == *" $name "* ]]; then
			continue
		fi
		kargs=()
		timeout=900
		if [ "$kernel" = debug ]; then
			if [ -z "$debug_vars" ]; then
				log "debug kernel (built once per machine, cached)"
				debug_vars=$("$HTABLE_TOP/scripts/debug-kernel.sh") ||
					{ echo "$name 0 1 0" >> "$results"; log "FAIL: debug kernel build"; continue; }
			fi
			eval "$debug_vars"
			kargs=(--kernel "$DEBUG_KERNEL" --kdir "$DEBUG_KDIR")
			timeout=1500
		fi
		[ "$tests" = all ] || kargs+=(--tests "${tests//,/ }")
		log "row $name: -cpu $cpu, $smp vCPUs, $mem, $kernel kernel, $append"
		if ! "$HTABLE_TOP/scripts/vm.sh" --row "$name" --cpu "$cpu" --smp "$smp" \
			--mem "$mem" --append "${append//,/ }" --timeout $timeout \
			--results "$results" "${kargs[@]}" < /dev/null; then
			grep -q "^$name " "$results" || echo "$name 0 1 0" >> "$results"
		fi
	done <<< "$HTABLE_MATRIX"
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

echo
echo "== summary ($(($(date +%s) - t0)) s)"
awk '{ printf "  %-28s %4d passed %4d failed %4d skipped\n", $1, $2, $3, $4 }' "$results"
read -r p f s < <(awk '{ p += $2; f += $3; s += $4 } END { print p + 0, f + 0, s + 0 }' "$results")
if [ "$s" != 0 ]; then
	echo "$p passed, $f failed, $s skipped"
else
	echo "$p passed, $f failed"
fi
[ "$f" = 0 ]
