# SPDX-License-Identifier: GPL-2.0
# Shared settings for htable's scripts. Source it; it defines no commands
# with side effects.

HTABLE_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything downloaded or built for the VM lives outside the tree, so that a
# fresh clone reuses a warm cache and git never sees it.
HTABLE_CACHE=${HTABLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/htable}

log() { printf '[%s] %s\n' "${LOG_TAG:-htable}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The Debian 6.1 kernel ABI name (e.g. 6.1.0-56-amd64), read from the
# metapackage so that a security update moves headers and image together.
debian_kver() {
	apt-cache depends linux-headers-amd64 2>/dev/null |
		sed -n 's/.*Depends: linux-headers-\(6\.1\.[^ ]*-amd64\)$/\1/p' | head -n1
}

# The newest Debian 6.12 LTS ABI name for bookworm (e.g. 6.12.111+deb12-amd64).
lts_kver() {
	apt-cache search --names-only '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' 2>/dev/null |
		sed -n 's/^linux-headers-\([^ ]*\) .*/\1/p' | sort -V | tail -n1
}
