#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test-host.sh HTABLECTL: htablectl's error paths that need no module, run
# on the host of `make check` (which never has /dev/htable). Each case
# must exit with the status htablectl documents (1: an operation failed,
# 2: bad usage) and say why on stderr. KTAP on stdout.
set -u
ctl=${1:?usage: test-host.sh HTABLECTL}
n=0 failed=0

# case STATUS PATTERN ARGS...: htablectl ARGS exits STATUS and its stderr
# (or, for status 0, its stdout) matches the extended regex PATTERN.
case_() {
	local want=$1 pat=$2 out st
	shift 2
	n=$((n + 1))
	if [ "$want" = 0 ]; then
		out=$("$ctl" "$@" 2>/dev/null < /dev/null)
	else
		out=$("$ctl" "$@" 2>&1 >/dev/null < /dev/null)
	fi
	st=$?
	if [ "$st" = "$want" ] && grep -qE -- "$pat" <<< "$out"; then
		echo "ok $n htablectl $*"
	else
		failed=$((failed + 1))
		echo "not ok $n htablectl $* (exit $st, want $want; output: ${out:0:200})"
	fi
}

[ -e /dev/htable ] && { echo "1..0 # SKIP /dev/htable exists here"; exit 0; }
echo "TAP version 13"
echo "1..20"
case_ 0 '^usage: htablectl' --help
case_ 0 'map +VA NPAGES' help
case_ 2 '^usage: htablectl'
case_ 2 'unrecognized option' --bogus info
case_ 1 'open /dev/htable: No such file or directory \(ENOENT\); is the htable module loaded\?' info
case_ 1 'is the htable module loaded\?' shell
case_ 1 'is the htable module loaded\?' map 4g 1
case_ 1 'stats: read .*/stats: No such file or directory \(ENOENT\); is the htable module loaded\?' stats
case_ 1 'is the htable module loaded\?' stats --watch 1 --count 2
case_ 2 "unknown command 'frob'" frob
case_ 2 "map: bad va '4q'" map 4q 1
case_ 2 'map: wrong number of arguments' map
case_ 2 'stats: --watch needs at least 1 second' stats --watch 0
case_ 2 "stats: unknown option '--yaml'" stats --yaml
case_ 1 '--fd 97: Bad file descriptor \(EBADF\)' --fd 97 info
case_ 2 "bad --fd 'x'" --fd x info
case_ 0 'share +@N\|fd:N VA NPAGES' help share
case_ 2 "map: one page size: '2m' or '1g'" map 4g 512 2m 1g
case_ 2 "map: 'pin' and 'alias' exclude each other" map 4g 512 pin alias 8g
case_ 2 "share: bad owner '4g'" share 4g 4g 512
[ $failed = 0 ] && echo "# PASSED" && exit 0
exit 1
