#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (once per machine) the debug kernel of the VM matrix: tinyconfig plus
# scripts/config/debug-kernel.config (BUG, lockdep, KASAN, kmemleak,
# DEBUG_VM, hung-task and soft-lockup detectors, gcov, ftrace, perf). The build is cached outside the tree, keyed by the
# fragment and the source tarball, so a warm `make check` never rebuilds it.
#
# Prints DEBUG_KDIR=<build dir> and DEBUG_KERNEL=<bzImage> on stdout.
set -euo pipefail
LOG_TAG=debug-kernel
. "$(dirname "$0")/lib.sh"
eval "$("$HTABLE_TOP/scripts/deps.sh")"

frag="$HTABLE_TOP/scripts/config/debug-kernel.config"
key=$( (cat "$frag"; basename "$KSRC_TAR"; stat -c %s "$KSRC_TAR") | sha256sum | cut -c1-12)
root="$HTABLE_CACHE/debug-kernel-$key"
src="$root/src"
out="$root/build"

if [ ! -e "$root/.done" ]; then
	exec 9>"$HTABLE_CACHE/.debug-kernel.lock"
	flock 9
fi
if [ ! -e "$root/.done" ]; then
	rm -rf "$root"
	mkdir -p "$src" "$out"
	log "extracting kernel source into $src"
	tar -xf "$KSRC_TAR" -C "$src" --strip-components=1
	log "configuring (tinyconfig + debug fragment)"
	make -s -C "$src" O="$out" tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$frag" >/dev/null
	make -s -C "$src" O="$out" olddefconfig >/dev/null
	# Every line of the fragment, whatever its value: olddefconfig
	# drops an option whose dependencies are missing without a word.
	missing=$(grep -E '^(CONFIG_[A-Z0-9_]+=|# CONFIG_[A-Z0-9_]+ is not set)' "$frag" |
		grep -vxF -f "$out/.config" || true)
	[ -z "$missing" ] || die "not in the debug .config: $(echo $missing)"
	log "building bzImage and modules (about 6 minutes on 2 cores)"
	start=$(date +%s)
	make -s -C "$src" O="$out" -j"$(nproc)" bzImage modules 2>&1 |
		grep -v -e '^$' | tail -n 20 >&2
	[ -e "$out/arch/x86/boot/bzImage" ] || die "debug kernel build failed"
	[ -e "$out/Module.symvers" ] || die "debug kernel build wrote no Module.symvers"
	log "built in $(($(date +%s) - start)) s"
	# Only the build tree is needed from here on (plus the source it points
	# to for headers); keep both, they are the module's KDIR.
	touch "$root/.done"
fi
echo "DEBUG_KDIR=$out"
echo "DEBUG_KERNEL=$out/arch/x86/boot/bzImage"
