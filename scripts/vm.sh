#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot htable's test VM once: build the module for the guest kernel, pack a
# busybox initramfs with it and the static selftests, boot QEMU (TCG), and
# judge the run. See Documentation/testing.rst.
#
#   vm.sh [options]
#     --row NAME        label for progress and results (default: adhoc)
#     --kernel FILE     guest kernel image (default: Debian 6.1)
#     --kdir DIR        kernel build dir the module is built against
#     --lts             Debian's 6.12 LTS kernel and headers (--kernel/--kdir)
#     --cpu MODEL       QEMU -cpu (default: max, a 5-level guest)
#     --smp N           vCPUs (default: 2)
#     --mem SIZE        guest memory (default: 1G)
#     --append ARGS     extra kernel command line
#     --slub-debug SPEC slub_debug= of the guest (default FZPU; - for none)
#     --mode MODE       test (default), demo, bench, profile (a bench run under
#                       perf record, scripts/profile.sh) or shell (interactive)
#     --specs FILE      bench and profile modes: the case specs (default:
#                       scripts/bench/specs)
#     --tests "A B"     run only these selftests (default: all of run-list)
#     --timeout SECS    whole-VM limit (default: 900)
#     --results FILE    append "ROW pass fail skip" to FILE
#     --provides LIST   what the row promises (matrix.sh): a test that skips
#                       for a need in LIST fails the row, and so does a skip
#                       that names no need (see Documentation/testing.rst)
#     --perf            put perf in the guest (it is there anyway for shell
#                       mode and for the tests that run it)
#
# Exit status: 0 when every test passed and the guest's log is clean.
set -euo pipefail
LOG_TAG=vm
. "$(dirname "$0")/lib.sh"

row=adhoc kernel= kdir= lts= cpu=max smp=2 mem=1G append= mode=test tests=
vm_timeout=900 results= specs= slub=FZPU provides=
want_perf=0
while [ $# -gt 0 ]; do
	case $1 in
	--row) row=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	--kdir) kdir=$2; shift ;;
	--lts) lts=--lts ;;
	--cpu) cpu=$2; shift ;;
	--smp) smp=$2; shift ;;
	--mem) mem=$2; shift ;;
	--append) append=$2; shift ;;
	--slub-debug) slub=$2; shift ;;
	--mode) mode=$2; shift ;;
	--tests) tests=$2; shift ;;
	--timeout) vm_timeout=$2; shift ;;
	--results) results=$2; shift ;;
	--specs) specs=$2; shift ;;
	--provides) provides=$2; shift ;;
	--perf) want_perf=1 ;;
	--shell) mode=shell ;;
	*) die "unknown option $1" ;;
	esac
	shift
done
LOG_TAG=$row

# check.sh has run deps.sh once for all its rows and exported the result.
[ -n "${HTABLE_DEPS_READY:-}" ] || eval "$("$HTABLE_TOP/scripts/deps.sh" $lts)"
if [ -n "$lts" ]; then
	: "${kernel:=$LTS_KERNEL}"
	: "${kdir:=$LTS_KDIR}"
fi
: "${kernel:=$GUEST_KERNEL}"
: "${kdir:=$DEB_KDIR}"

work="$HTABLE_TOP/.build/vm-$row"
rm -rf "$work"
mkdir -p "$work"

# -- build ------------------------------------------------------------------
# The benchmark variant only for a guest that runs a benchmark: a test
# row whose list has no bench smoke test does not wait for its build.
nobench=
if [ "$mode" = test ] && [ -n "$tests" ] &&
	[[ " $tests " != *" htable_bench_test.sh "* ]]; then
	nobench=--no-bench
fi
read -r ko kob < <("$HTABLE_TOP/scripts/row-modules.sh" $nobench "$kdir") && [ -n "$kob" ] ||
	die "module build failed"
make -s -C "$HTABLE_TOP/selftests/htable" KTOOLS="$KTOOLS" >/dev/null ||
	die "selftests build failed"
make -s -C "$HTABLE_TOP/tools/htablectl" >/dev/null || die "htablectl build failed"

# -- initramfs --------------------------------------------------------------
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,kselftest/htable,kselftest/kselftest}
cp /bin/busybox "$root/bin/busybox"
cp "$HTABLE_TOP/scripts/guest/init" "$root/init"
cp "$HTABLE_TOP/scripts/guest/timeout-shim" "$root/kselftest/timeout-shim"
cp "$HTABLE_TOP/scripts/guest/demo.sh" "$root/kselftest/demo.sh"
cp "$HTABLE_TOP/scripts/guest/bench.sh" "$root/kselftest/bench.sh"
cp "$HTABLE_TOP/scripts/guest/profile.sh" "$root/kselftest/profile.sh"
cp "${specs:-$HTABLE_TOP/scripts/bench/specs}" "$root/kselftest/bench-specs"
cp "$KTOOLS/tools/testing/selftests/kselftest/runner.sh" "$root/kselftest/kselftest/"
make -s -C "$HTABLE_TOP/selftests/htable" KTOOLS="$KTOOLS" \
	INSTALL_DIR="$root/kselftest/htable" install >/dev/null
# Under each build's lock (build-module.sh): a sparse run in the benchmark
# variant's tree may be going on.
flock "$(dirname "$ko").lock" cp "$ko" "$root/kselftest/htable/htable.ko"
[ "$kob" = - ] ||
	flock "$(dirname "$kob").lock" cp "$kob" "$root/kselftest/htable/htable-bench.ko"
# htablectl on the guest's PATH, for the demo, the tests and vm-shell.
cp "$HTABLE_TOP/tools/htablectl/htablectl" "$root/usr/bin/htablectl"
if [ -n "$tests" ]; then
	echo "$tests" | tr ' ' '\n' > "$root/kselftest/htable/run-list"
fi
chmod +x "$root/init" "$root/kselftest/timeout-shim" "$root/kselftest/demo.sh" \
	"$root/kselftest/bench.sh" "$root/kselftest/profile.sh"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"

# -- perf in the guest (Documentation/tracing.rst) ----------------------------
# Debian's perf for 6.1 (scripts/deps.sh) and every library it links, as a
# second archive before the first: the kernel unpacks concatenated archives,
# and this one is left uncompressed (about 35 MB), which costs the guest a
# copy, not a decompression. It is built once per perf binary, and only rows
# whose tests run perf (or shell and profile modes, or --perf) carry it: the
# low-memory row's tests must not pay for it.
perf_tests=" htable_perf_test.sh "
case $mode in
test)
	for t in $(if [ -n "$tests" ]; then echo "$tests"; else
		cat "$HTABLE_TOP/selftests/htable/run-list"; fi); do
		case $perf_tests in *" $t "*) want_perf=1 ;; esac
	done
	;;
shell | profile) want_perf=1 ;;
esac
if [ $want_perf = 1 ]; then
	[ -x "$PERF" ] || die "no perf at '$PERF' (scripts/deps.sh fetches it)"
	perf_cpio="$HTABLE_CACHE/perf-initramfs-$(sha256sum "$PERF" | cut -c1-12).cpio"
	if [ ! -e "$perf_cpio" ]; then
		log "packing perf and its libraries for the guest"
		proot="$work/perfroot"
		mkdir -p "$proot/usr/bin"
		cp "$PERF" "$proot/usr/bin/perf"
		ldd "$PERF" | awk '/=> \//{ print $3 } /^[[:space:]]*\//{ print $1 }' |
			while read -r lib; do
				mkdir -p "$proot$(dirname "$lib")"
				cp -L "$lib" "$proot$lib"
			done
		[ -e "$proot/lib64/ld-linux-x86-64.so.2" ] || die "perf's loader is missing"
		(cd "$proot" && find . | cpio -o -H newc --quiet) > "$perf_cpio.tmp"
		mv "$perf_cpio.tmp" "$perf_cpio"
		rm -rf "$proot"
	fi
	cat "$perf_cpio" "$work/initramfs.cpio.gz" > "$work/initramfs.tmp"
	mv "$work/initramfs.tmp" "$work/initramfs.cpio.gz"
fi

# -- boot -------------------------------------------------------------------
# loglevel=5: warnings (WARN, lockdep, KASAN, hung tasks, soft lockups)
# reach the console, which is the complete log the judge reads; oops=panic
# ends the VM at the first oops. log_buf_len=4M: the dmesg dump at the end
# holds the whole run too (the judge fails a dump that lost its start).
# no_timer_check: a loaded host can make TCG so slow that the boot-time
# IO-APIC timer check fails and the kernel panics before init runs.
# preempt=full unless the row asks for another mode.
case " $append " in
*" preempt="*) preempt= ;;
*) preempt=preempt=full ;;
esac
# What the row promises, for selftests/htable/htable_row.sh to check.
case $cpu in
*-la57*|qemu64*) levels=4 ;;
*) levels=5 ;;
esac
pti=on
case " $append " in *" pti=off "*) pti=off ;; esac
pmode=$(printf '%s\n' $append $preempt | sed -n 's/^preempt=//p' | tail -n1)
kmajor=$(sed -n 's/.*UTS_RELEASE "\([0-9]*\.[0-9]*\).*/\1/p' \
	"$kdir/include/generated/utsrelease.h")
expect="levels:$levels,pti:$pti,cpus:$smp,preempt:$pmode,slub:$slub,kernel:$kmajor"
case ",$provides," in *,1g,*) expect+=",1g:1" ;; esac
# kmemleak scans every memblock allocation on each pass, a gigantic page
# reserved at boot included: 1 GiB more per scan, 30 s under TCG. On a
# kmemleak kernel /init reserves the page instead (htgiant=N), and gives it
# back before its scans. A GiB above 4 GiB that the kernel has not touched
# by then takes 3 GiB of guest memory (scripts/matrix.sh).
if grep -q '^CONFIG_DEBUG_KMEMLEAK=y' "$kdir/.config" 2>/dev/null &&
	[[ " $append " == *" hugepagesz=1G "* ]]; then
	append=$(printf '%s\n' $append | sed 's/^hugepages=/htgiant=/' | tr '\n' ' ')
	append=${append% }
fi
cmdline="console=ttyS0 loglevel=5 log_buf_len=4M panic=-1 oops=panic no_timer_check"
cmdline+=" slub_debug=$slub page_poison=1 $preempt htmode=$mode htexpect=$expect $append"
# A 1 GiB page reserved at boot needs a free, aligned GiB when memblock
# runs, and early allocations go top-down: with only 512 MiB of RAM below
# 4 GiB, the rest starts at 4 GiB and its first GiB stays free (2 GiB of
# guest memory is enough, where the default layout needed 4 GiB).
machine=q35
case " $append " in
*" hugepagesz=1G "*) machine+=,max-ram-below-4g=512M ;;
esac
qemu=(qemu-system-x86_64 -machine "$machine" -accel tcg -cpu "$cpu" -smp "$smp"
	-m "$mem" -no-reboot -kernel "$kernel" -initrd "$work/initramfs.cpio.gz"
	-append "$cmdline" -display none -monitor none)

if [ "$mode" = shell ]; then
	log "interactive shell: $cpu, $smp vCPUs; 'poweroff -f' leaves"
	exec "${qemu[@]}" -serial mon:stdio -serial null
fi

con="$work/console.log" out="$work/ktap.log"
splat_re='WARNING:|BUG:|BUG |Oops|Call Trace|general protection fault|KASAN|UBSAN|kernel BUG|Kernel panic|rcu: INFO|detected stall|INFO: task .* blocked|suspected memory leak'

# Until /init writes its marker, look at the console once a second; on a
# splat, stop the guest at once (the reboot below), instead of judging a
# run of many minutes that a boot splat has already spoiled.
boot_watch() {
	local n
	while kill -0 "$qpid" 2>/dev/null; do
		grep -q 'htable-vm: tests begin' "$con" && return
		# grep -c reads all: no early exit for pipefail to see.
		n=$(boot_log | grep -cE "$splat_re" || true)
		if [ "$n" != 0 ]; then
			: > "$work/boot-splat"
			kill "$qpid" 2>/dev/null
			return
		fi
		sleep 1
	done
}

boot_vm() {
	: > "$out"
	: > "$con"
	rm -f "$work/boot-splat"
	log "boot: -cpu $cpu, $smp vCPUs, $mem, append '$append'"
	start=$(date +%s)
	timeout "$vm_timeout" "${qemu[@]}" -serial "file:$con" -serial "file:$out" \
		2> "$work/qemu.err" &
	qpid=$!
	boot_watch &
	wpid=$!
	# Stream progress: the runner's per-test lines and each case's result.
	# stdbuf: tr would hold lines back in a block buffer.
	tail -n +1 -F --pid=$qpid "$out" 2>/dev/null | stdbuf -oL tr -d '\r' |
		if [ "$mode" = test ]; then
			grep --line-buffered -E '^(# )?(not )?ok [0-9]+ ' |
				while IFS= read -r line; do
					# Seconds since boot, so a slow test shows.
					printf '[%s +%ds] %s\n' "$row" $(($(date +%s) - start)) "$line"
				done >&2
		else
			sed -n -u '/^HTABLE-DMESG-BEGIN/q;p'
		fi &
	tpid=$!
	rc=0
	wait $qpid || rc=$?
	wait $wpid 2>/dev/null || true
	sleep 0.5
	kill $tpid 2>/dev/null || true
	wait $tpid 2>/dev/null || true
	elapsed=$(($(date +%s) - start))
	tr -d '\r' < "$out" > "$out.clean"
}

# The kernel log of the run: the serial console, which has every message
# of warning level or worse from the first line of boot on and never wraps
# (splats are such messages), then the dmesg dump, which has every level.
kernel_log() {
	tr -d '\r' < "$con"
	sed -n '/^HTABLE-DMESG-BEGIN/,/^HTABLE-DMESG-END/p' "$out.clean"
}

# The console up to the marker /init writes before the first test: what
# the kernel printed while it booted, before htable was ever loaded.
boot_log() {
	tr -d '\r' < "$con" | sed '/htable-vm: tests begin/q'
}

boot_vm
# A splat during boot, before /init wrote its marker and long before
# htable was loaded, is the guest kernel's own (the debug kernel has shown
# an intermittent early-boot KASAN report). It still spoils the run (lockdep
# turns itself off after a report), so boot once more (boot_watch has
# stopped the guest already); if the second boot splats too, the judge
# below fails the row.
if { [ -e "$work/boot-splat" ] ||
	{ grep -q '^HTABLE-DONE' "$out.clean" &&
		tr -d '\r' < "$con" | grep -q 'htable-vm: tests begin'; }; } &&
	boot_log | grep -qE "$splat_re"; then
	log "the guest kernel splatted while booting, before htable was loaded:"
	boot_log | grep -E "$splat_re" | head -n 5 | sed 's/^/    /' >&2
	log "booting once more"
	boot_vm
fi

# -- judge ------------------------------------------------------------------
# Each integrity check of the run counts as one test: pass or fail.
# Why the row failed, a line each, goes to $work/failures too: check.sh
# prints those lines last, where a CI log's tail shows them.
row_pass=0 row_fail=0
: > "$work/failures"
row_check() { # row_check OK|FAIL description
	if [ "$1" = OK ]; then
		row_pass=$((row_pass + 1))
	else
		row_fail=$((row_fail + 1))
		log "FAIL: $2"
		echo "$2" >> "$work/failures"
	fi
}

if grep -q '^HTABLE-DONE' "$out.clean"; then
	row_check OK completed
else
	if [ -e "$work/boot-splat" ]; then
		row_check FAIL "stopped: the guest kernel splatted while booting, twice"
	elif [ $rc = 124 ]; then
		row_check FAIL "hang: no completion after ${vm_timeout}s"
	else
		row_check FAIL "guest died before completing (qemu exit $rc)"
	fi
	last=$(sed -n 's/^# selftests: htable: //p' "$out.clean" | tail -n 1)
	[ -z "$last" ] || echo "the last test started: $last" >> "$work/failures"
	log "console tail:"
	tail -n 40 "$con" | tr -d '\r' | sed 's/^/    /' >&2
fi

# Any splat anywhere in the guest's kernel log fails the row.
kernel_log | grep -E "$splat_re" > "$work/splats" || true
if [ -s "$work/splats" ]; then
	row_check FAIL "the guest's kernel log has a splat"
	# The first splat in three lines: what, where (RIP) and the call
	# trace's sure frames, innermost first. A CI log's tail, which may
	# be all anyone sees of a run, has room for little more.
	first=$(kernel_log | grep -n -m 1 -E "$splat_re" | cut -d: -f1)
	kernel_log | sed -n "${first},$((first + 59))p" | sed 's/^\[ *[0-9.]*\] //' |
		awk 'NR == 1 { print; inside = /^Call Trace:/; next }
		     /^RIP: / && !rip { rip = $0; print; next }
		     /^Call Trace:/ { inside = 1; next }
		     inside && /^ *[a-z_][a-zA-Z0-9_.]*\+0x/ {
			sub(/^ */, ""); sub(/\/0x.*/, "");
			t = t (t == "" ? "trace: " : " < ") $1 }
		     inside && /^ *(<\/TASK>|---\[ end)/ { inside = 0 }
		     END { if (t != "") print t }' |
		cut -c1-240 >> "$work/failures"
	head -n 40 "$work/splats" | sed 's/^/    /' >&2
else
	row_check OK "kernel log clean"
fi

# The dump must hold the whole run: the first line of boot and the
# marker before the first test. One that wrapped lost what the console's
# level filter kept out, and would hide it.
if grep -q '^HTABLE-DONE' "$out.clean"; then
	dump=$(sed -n '/^HTABLE-DMESG-BEGIN/,/^HTABLE-DMESG-END/p' "$out.clean")
	if grep -q 'Linux version' <<< "$dump" &&
		grep -q 'htable-vm: tests begin' <<< "$dump"; then
		row_check OK "kernel log dump whole"
	else
		row_check FAIL "the kernel log dump lost its start (the buffer wrapped)"
	fi
fi

# The module's coverage data, for check.sh's report: gcov.tar.gz holds the
# .gcda files under the guest's /sys/kernel/debug/gcov.
if grep -q '^HTABLE-GCOV-END' "$out.clean"; then
	sed -n '/^HTABLE-GCOV-BEGIN/,/^HTABLE-GCOV-END/p' "$out.clean" |
		sed '1d;$d' | base64 -d > "$work/gcov.tar.gz" 2>/dev/null ||
		log "the coverage data did not decode"
	echo "$(dirname "$ko")" > "$work/gcov.build"
fi

if grep -q '^HTABLE-KMEMLEAK-BEGIN' "$out.clean"; then
	sed -n '/^HTABLE-KMEMLEAK-BEGIN/,/^HTABLE-KMEMLEAK-END/p' "$out.clean" > "$work/kmemleak"
	if grep -q 'unreferenced object' "$work/kmemleak"; then
		row_check FAIL "kmemleak reports leaks"
		head -n 60 "$work/kmemleak" | sed 's/^/    /' >&2
	else
		row_check OK "kmemleak clean"
	fi
fi

if [ "$mode" = bench ]; then
	grep -q '^HTABLE-BENCH-OK' "$out.clean" || row_check FAIL "a benchmark case failed"
	[ $row_fail = 0 ] || die "bench failed"
	exit 0
fi

if [ "$mode" = profile ]; then
	grep -q '^HTABLE-PROFILE-OK' "$out.clean" || row_check FAIL "the profiled case failed"
	[ $row_fail = 0 ] || die "profile failed"
	exit 0
fi

if [ "$mode" = demo ]; then
	grep -q '^HTABLE-DEMO-OK' "$out.clean" || row_check FAIL "the demo workload failed"
	[ $row_fail = 0 ] || die "demo failed"
	exit 0
fi

# Count results: a test binary's own cases ("# ok N ...") when it has any,
# else the runner's line for it; a failing binary whose cases all passed
# still counts one failure, and so does a test the plan promised but the
# run never reported. Skip reasons go to $work/skips, one a line.
read -r pass fail skip < <(awk -v skips="$work/skips" '
	/^# (not )?ok [0-9]+ / {
		if ($0 ~ / # SKIP/) {
			ns++
			r = $0; sub(/.* # SKIP */, "", r); print r > skips
		} else if ($2 == "not") nf++; else np++
		next
	}
	/^(not )?ok [0-9]+ selftests: / {
		top_fail = ($1 == "not")
		if (np + nf + ns > 0) {
			p += np; f += nf; s += ns
			if (top_fail && nf == 0) f++
		} else if ($0 ~ / # SKIP/) {
			s++
			r = $0; sub(/.* # SKIP */, "", r); print r > skips
		} else if (top_fail) f++
		else p++
		np = nf = ns = 0; seen++
		next
	}
	/^1\.\.[0-9]+$/ && !plan { plan = substr($0, 4) + 0 }
	END {
		if (plan > seen) f += plan - seen
		print p + 0, f + 0, s + 0
	}' "$out.clean")
# A skip is allowed only when it names a need ("needs:TAG ...") that the
# row does not promise: anything else hid a failure.
if [ -s "$work/skips" ]; then
	while IFS= read -r why; do
		tag=$(sed -n 's/^needs:\([a-z0-9]*\).*/\1/p' <<< "$why")
		if [ -z "$tag" ]; then
			row_check FAIL "a skip that names no need: $why"
		elif [[ ",$provides," == *",$tag,"* ]]; then
			row_check FAIL "the row provides $tag, yet a test skipped: $why"
		fi
	done < "$work/skips"
fi
# The failed cases and tests, for the digest.
grep -E '^(# )?not ok [0-9]+ ' "$out.clean" | cut -c1-160 >> "$work/failures" || true
pass=$((pass + row_pass))
fail=$((fail + row_fail))
log "row done in ${elapsed}s: $pass passed, $fail failed, $skip skipped"
# The fifth field, the seconds from boot to power-off, is for the report.
[ -z "$results" ] || echo "$row $pass $fail $skip $elapsed" >> "$results"
[ "$fail" = 0 ]
