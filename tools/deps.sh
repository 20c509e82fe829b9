#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/deps.sh - owns the host dependencies: installs, on Debian bookworm,
# everything needed to build the test kernels and the module, run the VM
# and the selftests, and lint. Idempotent: does nothing (and never touches
# the network) when all is present. The kernel source package is pinned to
# kernel/SOURCE_VERSION when apt can provide that version.
#
# Usage: tools/deps.sh [--check]
#   --check  only report what is missing; exit 1 if anything is

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
SRC_PKG=linux-source-6.12
SRC_VER=$(tr -d '[:space:]' <"$REPO/kernel/SOURCE_VERSION")

PACKAGES=(
	# kernel and module build
	gcc make libc6-dev bc bison flex libelf-dev libssl-dev cpio kmod
	dwarves xz-utils patch perl python3 rsync
	# lint: sparse C=2, checkpatch.pl, scripts
	sparse shellcheck git
	# VM and guest userspace
	qemu-system-x86 busybox-static util-linux coreutils procps
	# selftests
	libnuma-dev numactl pkg-config
)

log() { printf 'deps.sh: %s\n' "$*" >&2; }

# Prints nothing (and succeeds) when the package is not installed: dpkg-query
# fails for a package it has never heard of, which set -e must not see.
installed_version() {
	{ dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null || true; } |
		sed -n 's/^install ok installed //p'
}

# Is version $2 of package $1 known to apt?
apt_has_version() {
	apt-cache madison "$1" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' |
		grep -qxF "$2"
}

SUDO=()
apt() {
	"${SUDO[@]+"${SUDO[@]}"}" env DEBIAN_FRONTEND=noninteractive \
		apt-get -y -q "$@"
}

# Refresh the package lists only when something has to be installed, and
# then only once.
updated=0
update_once() {
	if [ "$updated" = 0 ]; then
		log "apt-get update"
		apt update >&2
		updated=1
	fi
}

main() {
	check_only=0
	case "${1:-}" in
	--check) check_only=1 ;;
	"") ;;
	*) echo "usage: $0 [--check]" >&2; exit 2 ;;
	esac

	# One dpkg-query for all: "name:arch<TAB>status" of what is installed.
	missing=()
	local have
	have=$(dpkg-query -W -f='${Package}\t${Status}\n' "${PACKAGES[@]}" \
		2>/dev/null | sed -n 's/\tinstall ok installed$//p' || true)
	for p in "${PACKAGES[@]}"; do
		grep -qxF "$p" <<<"$have" || missing+=("$p")
	done
	src_have=$(installed_version "$SRC_PKG")
	src_ok=1
	[ "$src_have" = "$SRC_VER" ] || src_ok=0

	if [ "${#missing[@]}" -eq 0 ] && [ "$src_ok" = 1 ]; then
		log "all dependencies present ($SRC_PKG $SRC_VER)"
		exit 0
	fi
	if [ "$check_only" = 1 ]; then
		[ "${#missing[@]}" -eq 0 ] || log "missing: ${missing[*]}"
		[ "$src_ok" = 1 ] ||
			log "$SRC_PKG: want $SRC_VER, have ${src_have:-nothing}"
		exit 1
	fi

	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { log "error: run as root"; exit 1; }
		SUDO=(sudo)
	fi

	if [ "$src_ok" = 0 ]; then
		if [ -z "$src_have" ] || ! apt_has_version "$SRC_PKG" "$SRC_VER"; then
			update_once
		fi
		if apt_has_version "$SRC_PKG" "$SRC_VER"; then
			missing+=("$SRC_PKG=$SRC_VER")
		elif [ -n "$src_have" ]; then
			log "warning: $SRC_PKG $SRC_VER is not available from apt;" \
				"keeping the installed $src_have"
		else
			log "warning: $SRC_PKG $SRC_VER is not available from apt;" \
				"installing the candidate version instead"
			missing+=("$SRC_PKG")
		fi
	fi

	if [ "${#missing[@]}" -gt 0 ]; then
		update_once
		log "installing: ${missing[*]}"
		apt install --no-install-recommends --allow-downgrades "${missing[@]}" >&2
	fi

	src_have=$(installed_version "$SRC_PKG")
	if [ "$src_have" != "$SRC_VER" ]; then
		log "warning: using $SRC_PKG $src_have, kernel/SOURCE_VERSION says $SRC_VER"
	fi
	log "done"
}

# One line, so a running instance never reads past it if this file is
# replaced while it runs.
main "$@"; exit
