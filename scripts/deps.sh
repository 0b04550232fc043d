#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what htable needs, idempotently and quickly when nothing is missing.
#
#   deps.sh          packages, guest kernel image, kselftest harness, checkpatch
#   deps.sh --lts    also the Debian 6.12 LTS headers and guest kernel image
#
# Prints the cache layout it guarantees on stdout as shell assignments, so
# callers can `eval "$(scripts/deps.sh)"`.
set -euo pipefail
LOG_TAG=deps
. "$(dirname "$0")/lib.sh"

want_lts=0
for a in "$@"; do
	case $a in
	--lts) want_lts=1 ;;
	*) die "unknown option $a" ;;
	esac
done

mkdir -p "$HTABLE_CACHE"
exec 9>"$HTABLE_CACHE/.deps.lock"
flock 9

apt_updated=0
apt_update_once() {
	[ $apt_updated = 1 ] && return
	log "apt-get update"
	apt-get update -qq >/dev/null
	apt_updated=1
}

# install PKG... : apt-install whichever of PKG are not installed yet.
install_missing() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] && return
	apt_update_once
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

install_missing make gcc libc6-dev linux-headers-amd64 qemu-system-x86 \
	busybox-static cpio gzip sparse perl xz-utils rsync \
	flex bison bc libelf-dev libssl-dev dwarves python3 dkms kmod lcov

kver=$(debian_kver)
if [ -z "$kver" ]; then
	apt_update_once
	kver=$(debian_kver)
fi
[ -n "$kver" ] || die "cannot resolve the Debian 6.1 kernel version"
install_missing "linux-headers-$kver"

# fetch_deb PKG DIR: download PKG's .deb into the cache and unpack it into DIR.
fetch_deb() {
	local pkg=$1 dir=$2 deb
	[ -e "$dir/.done" ] && return
	mkdir -p "$HTABLE_CACHE/debs"
	deb=$(ls "$HTABLE_CACHE/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$deb" ]; then
		apt_update_once
		log "downloading $pkg"
		(cd "$HTABLE_CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null)
		deb=$(ls "$HTABLE_CACHE/debs/${pkg}_"*.deb | head -n1)
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	dpkg -x "$deb" "$dir"
	touch "$dir/.done"
}

# The guest kernel: the very version the module is built against.
guest="$HTABLE_CACHE/image-$kver"
fetch_deb "linux-image-$kver" "$guest"

# linux-source-6.1 holds the kselftest harness, runner and checkpatch.pl.
srcpkg="$HTABLE_CACHE/linux-source-6.1"
fetch_deb linux-source-6.1 "$srcpkg"
ksrc_tar=$(ls "$srcpkg"/usr/src/linux-source-6.1.tar.* | head -n1)
tools="$HTABLE_CACHE/ktools-$(basename "$ksrc_tar" | sed 's/\.tar.*//')"
if [ ! -e "$tools/.done" ]; then
	log "extracting harness and checkpatch from $(basename "$ksrc_tar")"
	rm -rf "$tools"
	mkdir -p "$tools"
	tar -xf "$ksrc_tar" -C "$tools" --strip-components=1 --wildcards \
		'*/tools/testing/selftests/kselftest*.h' \
		'*/tools/testing/selftests/kselftest/runner.sh' \
		'*/tools/testing/selftests/kselftest/prefix.pl' \
		'*/tools/testing/selftests/kselftest/module.sh' \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
	touch "$tools/.done"
fi
# kernel-doc, for the uapi header's check and Documentation/uapi.rst: a
# later addition, extracted beside the rest without touching it.
if [ ! -e "$tools/scripts/kernel-doc" ]; then
	tar -xf "$ksrc_tar" -C "$tools" --strip-components=1 --wildcards '*/scripts/kernel-doc'
fi

# -- perf for the guest (Documentation/tracing.rst) --------------------------
# Debian's linux-perf, the 6.1 kernel's own perf, unpacked into the cache
# (the host's perf is left alone); scripts/vm.sh copies it into the guest
# with the shared libraries it links, which are installed here from its
# Depends.
perfdir="$HTABLE_CACHE/perf"
fetch_deb linux-perf "$perfdir"
if [ ! -e "$perfdir/.deps" ]; then
	perfdeb=$(ls "$HTABLE_CACHE/debs/linux-perf_"*.deb | head -n1)
	# shellcheck disable=SC2046
	install_missing $(dpkg-deb -f "$perfdeb" Depends | tr ',' '\n' |
		sed -n 's/^ *\([a-z0-9.+-]*\).*/\1/p' | grep -v '^\(perl\|python3\)$')
	touch "$perfdir/.deps"
fi

lts_kdir= lts_kernel=
if [ $want_lts = 1 ]; then
	lver=$(lts_kver)
	if [ -z "$lver" ]; then
		apt_update_once
		lver=$(lts_kver)
	fi
	[ -n "$lver" ] || die "cannot find Debian's 6.12 LTS headers"
	install_missing "linux-headers-$lver"
	lts_kdir=/usr/src/linux-headers-$lver
	# The 6.12 guest kernel, for the matrix's lts rows: same version as
	# the headers, unpacked like the 6.1 image.
	fetch_deb "linux-image-$lver" "$HTABLE_CACHE/image-$lver"
	lts_kernel=$HTABLE_CACHE/image-$lver/boot/vmlinuz-$lver
fi

cat <<VARS
KVER=$kver
DEB_KDIR=/usr/src/linux-headers-$kver
GUEST_KERNEL=$guest/boot/vmlinuz-$kver
KSRC_TAR=$ksrc_tar
KTOOLS=$tools
LTS_KDIR=$lts_kdir
LTS_KERNEL=$lts_kernel
PERF=$perfdir/usr/bin/perf
VARS
