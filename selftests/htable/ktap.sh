# SPDX-License-Identifier: GPL-2.0
# Minimal KTAP output for htable's shell selftests (6.1 has no
# ktap_helpers.sh). Source it, call ktap_plan N, then ktap_ok/ktap_fail per
# case, and end with ktap_finish, which exits 1 if any case failed.
KTAP_N=0
KTAP_FAILED=0

ktap_plan() { echo "TAP version 13"; echo "1..$1"; }
ktap_ok() { KTAP_N=$((KTAP_N + 1)); echo "ok $KTAP_N $*"; }
ktap_fail() {
	KTAP_N=$((KTAP_N + 1))
	KTAP_FAILED=$((KTAP_FAILED + 1))
	echo "not ok $KTAP_N $*"
}
# ktap_check DESC CMD...: one case, passing when CMD succeeds.
ktap_check() {
	desc=$1
	shift
	if "$@"; then ktap_ok "$desc"; else ktap_fail "$desc"; fi
}
ktap_finish() { [ $KTAP_FAILED = 0 ] && exit 0; exit 1; }
