#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh TAG KDIR [make args...]: build htable.ko for KDIR in
# .build/TAG (a copy of the sources), so builds for several kernels never
# share objects. Prints the path of the .ko on stdout; the build log goes to
# .build/TAG.log and, on failure, to stderr.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
tag=$1 kdir=$2
shift 2
dir="$HTABLE_TOP/.build/$tag"
mkdir -p "$dir"
# Two runs building for the same kernel share this directory: take turns.
exec 9>"$dir.lock"
flock 9
# Mirror the sources; -c keeps unchanged files' timestamps so rebuilds are
# incremental.
rsync -a --delete -c --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
	--exclude='*.mod*' --exclude='modules.order' --exclude='Module.symvers' \
	--exclude='*.gcno' \
	"$HTABLE_TOP/Kbuild" "$HTABLE_TOP/module" "$HTABLE_TOP/include" "$dir/" 2>/dev/null ||
	cp -r "$HTABLE_TOP/Kbuild" "$HTABLE_TOP/module" "$HTABLE_TOP/include" "$dir/"
# Both cores: the static checks and each row wait for these builds.
if ! make -j"$(nproc)" -C "$kdir" M="$dir" "$@" modules > "$dir.log" 2>&1; then
	cat "$dir.log" >&2
	exit 1
fi
echo "$dir/htable.ko"
