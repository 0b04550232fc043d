#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms-build.sh KDIR: the DKMS check of `make check`. Registers the tree's
# dkms.conf with a private DKMS (its own --dkmstree, --sourcetree and
# --installtree, and a throwaway signing key, all under .build/dkms), runs
# `dkms build` for the kernel whose headers are in KDIR, and checks that
# the module it built is for that kernel. Nothing is loaded or installed,
# and /var/lib/dkms and /usr/src are left alone.
set -euo pipefail
LOG_TAG=dkms
. "$(dirname "$0")/lib.sh"
kdir=${1:?usage: dkms-build.sh KDIR}
command -v dkms >/dev/null || die "dkms is not installed (scripts/deps.sh installs it)"

top=$HTABLE_TOP
name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$top/dkms.conf")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")
krel=$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' "$kdir/include/generated/utsrelease.h")
[ -n "$name" ] && [ -n "$ver" ] && [ -n "$krel" ] || die "cannot read dkms.conf or $kdir"

d=$top/.build/dkms
rm -rf "$d"
mkdir -p "$d/src/$name-$ver" "$d/tree" "$d/install" "$d/keys"
# What a user copies to /usr/src/htable-1.0: the module's sources only.
cp -r "$top/dkms.conf" "$top/Kbuild" "$top/Makefile" "$top/module" "$top/include" \
	"$d/src/$name-$ver/"
trees=(--dkmstree "$d/tree" --sourcetree "$d/src" --installtree "$d/install")
# DKMS signs what it builds; keep its key out of /var/lib/dkms.
export mok_signing_key=$d/keys/mok.key mok_certificate=$d/keys/mok.pub

dkms add -m "$name" -v "$ver" "${trees[@]}"
dkms build -m "$name" -v "$ver" -k "$krel" --kernelsourcedir "$kdir" "${trees[@]}" ||
	{ cat "$d/tree/$name/$ver/build/make.log" 2>/dev/null; die "dkms build failed"; }
dkms status -m "$name" -v "$ver" -k "$krel" "${trees[@]}" 2>/dev/null | grep -q ': built$' ||
	die "dkms status does not say built"
ko=$(ls "$d/tree/$name/$ver/$krel"/*/module/htable.ko* | head -n1)
[ -n "$ko" ] || die "dkms built no htable.ko"
case $ko in
*.xz) xz -dkc "$ko" > "$d/htable.ko" ;;
*) cp "$ko" "$d/htable.ko" ;;
esac
vermagic=$(modinfo -F vermagic "$d/htable.ko")
[ "${vermagic%% *}" = "$krel" ] || die "built for '$vermagic', not $krel"
log "built $ko for $krel"
