#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/module.sh - builds ksm_mod.ko out of the checkout, against one of the
# test kernels, so the work tree stays free of build products.
#
# Usage:
#   tools/module.sh build [FLAVOUR] [MAKE ARGS...]
#       Copy the module sources to CACHE/module/FLAVOUR and build them with
#       KDIR (default: the build dir of tools/kernel.sh build FLAVOUR;
#       FLAVOUR defaults to debug). Extra arguments go to make (W=1, C=2...).
#       The last line of stdout is the path of ksm_mod.ko.
#
# Environment: KDIR overrides the kernel build dir; KSM_MODULE_OUT the build
# dir of the module; XDG_CACHE_HOME as for tools/kernel.sh.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/ksm_mod

die() { printf 'module.sh: error: %s\n' "$*" >&2; exit 1; }

cmd_build() {
	local flavour=${1:-debug}
	shift || true
	local kdir=${KDIR:-}
	if [ -z "$kdir" ]; then
		[ "$flavour" != stock ] ||
			die "the stock kernel has no KSM hooks: build against debug or release"
		kdir=$("$REPO/tools/kernel.sh" build "$flavour" | tail -n 1)
	fi
	[ -f "$kdir/Module.symvers" ] || die "$kdir is not a built kernel tree"

	local out=${KSM_MODULE_OUT:-$CACHE/module/$flavour}
	mkdir -p "$out"
	# Mirror the top-level sources (deleted ones go too); build products
	# are excluded from the transfer and so survive for incremental builds.
	rsync -a --delete --include='*.c' --include='*.h' --include=Kbuild \
		--exclude='*' "$REPO/" "$out/" >&2
	make -C "$kdir" M="$out" CONFIG_KSM_MOD=m "$@" modules >&2
	echo "$out/ksm_mod.ko"
}

case "${1:-}" in
build) shift; cmd_build "$@" ;;
*) sed -n '4,15p' "$0" >&2; exit 2 ;;
esac
