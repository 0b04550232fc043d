#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh TAG KDIR [make args...]: build htable.ko for KDIR in
# .build/TAG (a copy of the sources), so builds for several kernels never
# share objects. Prints the path of the .ko on stdout; the build log goes to
# .build/TAG.log and, on failure, to stderr.
#
# TAG.log keeps the last build that compiled something: a later run with
# nothing to do leaves it alone, so the compiler's warnings stay readable
# (check.sh's W=1 check) however many rows ask for the module after that.
# A sparse run (a C= argument) compiles nothing and logs to TAG.sparse.log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
tag=$1 kdir=$2
shift 2
dir="$HTABLE_TOP/.build/$tag"
mkdir -p "$dir"
# Two runs building for the same kernel share this directory: take turns.
exec 9>"$dir.lock"
flock 9
# Mirror the sources. -c and no -t: an unchanged file keeps its time, so
# rebuilds are incremental, and a changed one gets the time of this copy,
# newer than any object, so make rebuilds what depends on it even when an
# object was compiled after the source was edited (an edit during a
# build: with the source's own time such an object was kept, and a
# header's change reached only some objects). -i lists what changed:
# nothing, with the same kernel and the same make arguments as the last
# build that succeeded, means make has nothing to do, and kbuild takes
# seconds to find that out (each row asks for its modules again).
stamp="$kdir $(stat -c %Y "$kdir/Module.symvers" 2>/dev/null) $*"
if changes=$(rsync -rlpgoD -i --delete -c --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
	--exclude='*.mod*' --exclude='modules.order' --exclude='Module.symvers' \
	--exclude='*.gcno' \
	"$HTABLE_TOP/Kbuild" "$HTABLE_TOP/module" "$HTABLE_TOP/include" "$dir/" 2>/dev/null); then
	if [ -z "$changes" ] && [ -e "$dir/htable.ko" ] &&
		[ "$(cat "$dir.stamp" 2>/dev/null)" = "$stamp" ]; then
		echo "$dir/htable.ko"
		exit 0
	fi
else
	cp -r "$HTABLE_TOP/Kbuild" "$HTABLE_TOP/module" "$HTABLE_TOP/include" "$dir/"
fi
rm -f "$dir.stamp"
log=$dir.log
case " $* " in *" C="*) log=$dir.sparse.log ;; esac
# Both cores: the static checks and each row wait for these builds.
if ! make -j"$(nproc)" -C "$kdir" M="$dir" "$@" modules > "$log.new" 2>&1; then
	mv "$log.new" "$log"
	cat "$log" >&2
	exit 1
fi
if [ "$log" != "$dir.log" ] || grep -q '^  CC ' "$log.new" || [ ! -e "$log" ]; then
	mv "$log.new" "$log"
else
	rm -f "$log.new"
fi
[ "$log" != "$dir.log" ] || echo "$stamp" > "$dir.stamp"
echo "$dir/htable.ko"
