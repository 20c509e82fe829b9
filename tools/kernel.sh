#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/kernel.sh - owns the test kernels: the pristine source tree unpacked
# from Debian's linux-source tarball, the patched tree (kernel/patches/*.patch
# applied in order), and the out-of-tree builds of the three flavours
# (debug, release, stock) configured from kernel/configs/ on top of
# tinyconfig. Everything lives in a cache outside the checkout; a build is
# redone only when one of its inputs changes.
#
# Usage:
#   tools/kernel.sh build <debug|release|stock>
#       Build the flavour if needed. The last line of stdout is the build
#       directory: it holds arch/x86/boot/bzImage and is the KDIR for
#       out-of-tree modules (make -C KDIR M=... modules). Progress goes to
#       stderr (and to KDIR/.ksm_mod-build.log).
#   tools/kernel.sh config <debug|release|stock>
#       Only configure the flavour (in CACHE/config/FLAVOUR), check that
#       every option the fragments ask for is set, print the .config path.
#       Seconds instead of minutes: for editing kernel/configs/.
#   tools/kernel.sh srcdir <debug|release|stock>
#       Print the source tree of the flavour (patched or pristine),
#       preparing it if needed.
#   tools/kernel.sh pristine
#       Print the pristine (unpatched) source tree, unpacking it if needed.
#
# Environment:
#   XDG_CACHE_HOME      cache root is ${XDG_CACHE_HOME:-$HOME/.cache}/ksm_mod
#   KSM_KERNEL_JOBS     make -j value (default: nproc)
#   KSM_KERNEL_QUIET=1  keep the make output in the build log only
#
# Cache layout (CACHE = ${XDG_CACHE_HOME:-$HOME/.cache}/ksm_mod):
#   CACHE/src/linux-source-6.12         pristine tree (+ .stamp next to it)
#   CACHE/src/patched-HASH              pristine hardlink copy + patches
#   CACHE/src/patched-HASH.patches/     the exact patch files applied
#   CACHE/build/FLAVOUR-HASH            O= build dir, complete when it holds
#                                       .ksm_mod-built
#   CACHE/config/FLAVOUR                scratch dir of "config"
#   CACHE/locks/                        flock files
# HASH covers the source package version, the patches (patched flavours),
# the config fragments, the toolchain and RECIPE below. Building a flavour
# removes that flavour's build dirs with other hashes, and the patched trees
# that neither a build dir nor the current kernel/patches/ use any more.

set -euo pipefail

# Bump when anything below changes what a build produces.
RECIPE="recipe-1 ARCH=x86_64 tinyconfig merge_config.sh-m olddefconfig bzImage,modules,modules_prepare"
SRC_PKG=linux-source-6.12
TARBALL=/usr/src/$SRC_PKG.tar.xz
FLAVOURS="debug release stock"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CONFIGS=$REPO/kernel/configs
PATCHES=$REPO/kernel/patches
CACHE=${XDG_CACHE_HOME:-${HOME:?}/.cache}/ksm_mod
PRISTINE=$CACHE/src/$SRC_PKG

export LC_ALL=C

log() { printf 'kernel.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
	sed -n '/^# Usage:/,/^# Environment:/p' "${BASH_SOURCE[0]}" |
		sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

check_flavour() {
	case " $FLAVOURS " in
	*" $1 "*) ;;
	*) die "unknown flavour '$1' (one of: $FLAVOURS)" ;;
	esac
}

is_patched() { [ "$1" != stock ]; }

sha() { sha256sum | cut -c1-16; }

# Take an exclusive lock on CACHE/locks/NAME.lock; store the fd number in
# the caller's variable named $2 (release it with: exec {var}>&-).
lock() {
	local _lk_fd
	mkdir -p "$CACHE/locks"
	exec {_lk_fd}>"$CACHE/locks/$1.lock"
	if ! flock -n "$_lk_fd"; then
		log "waiting for lock $1"
		flock "$_lk_fd"
	fi
	printf -v "$2" '%s' "$_lk_fd"
}

# The source package version we actually build from.
source_version() {
	local want have
	want=$(tr -d '[:space:]' <"$REPO/kernel/SOURCE_VERSION")
	[ -r "$TARBALL" ] || die "$TARBALL missing; run tools/deps.sh"
	have=$(dpkg-query -W -f='${Version}' "$SRC_PKG" 2>/dev/null || true)
	if [ -z "$have" ]; then
		have="$want+unverified"
		log "warning: $SRC_PKG is not a dpkg package here; assuming $want"
	elif [ "$have" != "$want" ]; then
		log "warning: $SRC_PKG $have installed, kernel/SOURCE_VERSION says $want"
	fi
	printf '%s\n' "$have"
}

# Unpack the tarball into PRISTINE once per source version. A tree left by
# an earlier unpack without our stamp is adopted if tar --compare finds it
# identical to the tarball.
ensure_pristine() {
	local ver=$1 stamp=$PRISTINE.stamp fd tmp
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$ver" ]; then
		return 0
	fi
	lock src fd
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$ver" ]; then
		exec {fd}>&-
		return 0
	fi
	mkdir -p "$CACHE/src"
	if [ -d "$PRISTINE" ] && [ ! -f "$stamp" ] &&
	   [ ! -e "$PRISTINE/.config" ] && [ ! -e "$PRISTINE/include/config" ]; then
		log "checking existing $PRISTINE against $TARBALL"
		if (cd "$CACHE/src" && tar -dJf "$TARBALL" >/dev/null 2>&1); then
			printf '%s\n' "$ver" >"$stamp.tmp"
			mv "$stamp.tmp" "$stamp"
			exec {fd}>&-
			return 0
		fi
		log "existing tree differs from the tarball; unpacking afresh"
	fi
	rm -f "$stamp"
	if [ -d "$PRISTINE" ]; then
		# Patched trees hardlink into it; moving it aside is safe.
		tmp=$(mktemp -d "$CACHE/src/.old-XXXXXX")
		mv "$PRISTINE" "$tmp/"
		rm -rf "$tmp"
	fi
	tmp=$(mktemp -d "$CACHE/src/.unpack-XXXXXX")
	log "unpacking $TARBALL"
	tar -xJf "$TARBALL" -C "$tmp"
	[ -f "$tmp/$SRC_PKG/Makefile" ] || die "$TARBALL has no $SRC_PKG/"
	mv "$tmp/$SRC_PKG" "$PRISTINE"
	rmdir "$tmp"
	printf '%s\n' "$ver" >"$stamp.tmp"
	mv "$stamp.tmp" "$stamp"
	exec {fd}>&-
}

# Snapshot kernel/patches/*.patch into directory $1 (so the hash and what
# gets applied are the same bytes even if someone edits them meanwhile).
snapshot_patches() {
	local p
	mkdir -p "$1"
	for p in "$PATCHES"/*.patch; do
		[ -e "$p" ] || continue
		cp "$p" "$1/"
	done
}

# Hash of a patch snapshot directory (names and contents, in order).
patches_hash() {
	local p
	for p in "$1"/*.patch; do
		[ -e "$p" ] || continue
		printf '%s %s\n' "$(basename "$p")" "$(sha256sum <"$p" | cut -d' ' -f1)"
	done
}

# Print the source tree for the source version $1 and patch snapshot $2
# (pristine when there are no patches), creating it if needed.
ensure_tree() {
	local ver=$1 snap=$2 h tree fd p
	ensure_pristine "$ver"
	if [ -z "$(patches_hash "$snap")" ]; then
		printf '%s\n' "$PRISTINE"
		return 0
	fi
	h=$( { printf '%s\n' "$ver"; patches_hash "$snap"; } | sha)
	tree=$CACHE/src/patched-$h
	if [ -f "$tree.stamp" ]; then
		printf '%s\n' "$tree"
		return 0
	fi
	lock src fd
	if [ ! -f "$tree.stamp" ]; then
		rm -rf "$tree" "$tree.patches"
		log "creating $tree"
		cp -al "$PRISTINE" "$tree"
		for p in "$snap"/*.patch; do
			log "applying $(basename "$p")"
			# GNU patch writes a new file and renames it over the old
			# one, so the hardlinks into the pristine tree are broken
			# for exactly the files it touches.
			if ! patch -p1 -s -N -t --no-backup-if-mismatch -r - \
			     -d "$tree" <"$p" >&2; then
				rm -rf "$tree"
				die "$(basename "$p") does not apply to $SRC_PKG $ver"
			fi
		done
		cp -r "$snap" "$tree.patches"
		printf '%s\n' "$ver" >"$tree.stamp"
	fi
	exec {fd}>&-
	printf '%s\n' "$tree"
}

# What the flavour's build depends on besides the source tree.
build_inputs() {
	local flavour=$1 tree_id=$2 f
	printf 'recipe %s\nflavour %s\ntree %s\n' "$RECIPE" "$flavour" "$tree_id"
	for f in common "$flavour"; do
		printf 'config %s %s\n' "$f" "$(sha256sum <"$CONFIGS/$f.config" | cut -d' ' -f1)"
	done
	printf 'cc %s\n' "$(gcc --version | head -n1)"
	printf 'ld %s\n' "$(ld --version | head -n1)"
}

# Fail, listing them, if any option a fragment asks for did not make it
# into the final .config (kconfig silently drops unmet dependencies).
verify_config() {
	local cfg=$1 bad
	shift
	bad=$(cat "$@" | awk -v cfg="$cfg" '
	BEGIN {
		while ((getline l < cfg) > 0) {
			if (l ~ /^CONFIG_[A-Za-z0-9_]+=/) {
				k = l; sub(/=.*/, "", k)
				v = l; sub(/^[^=]*=/, "", v)
				have[k] = v
			}
		}
	}
	/^CONFIG_[A-Za-z0-9_]+=/ {
		k = $0; sub(/=.*/, "", k)
		v = $0; sub(/^[^=]*=/, "", v)
		want[k] = v; next
	}
	/^# CONFIG_[A-Za-z0-9_]+ is not set/ { want[$2] = "n" }
	END {
		for (k in want) {
			h = (k in have) ? have[k] : "n"
			if (want[k] != h)
				printf "  %s: requested %s, got %s\n", k, want[k], h
		}
	}' | sort)
	if [ -n "$bad" ]; then
		log "options requested by kernel/configs/ but not set in $cfg:"
		printf '%s\n' "$bad" >&2
		return 1
	fi
}

# Remove build dirs of $1 other than $2, then patched trees that no build
# dir refers to, except $3 (the tree just used) and the tree for the
# current kernel/patches (what srcdir hands out).
prune() {
	local flavour=$1 keep=$2 keep_tree=$3 d t used fd snap cur=
	snap=$(mktemp -d)
	snapshot_patches "$snap"
	if [ -n "$(patches_hash "$snap")" ]; then
		cur=$CACHE/src/patched-$( { source_version; patches_hash "$snap"; } | sha)
	fi
	rm -rf "$snap"
	for d in "$CACHE/build/$flavour"-*; do
		if [ ! -d "$d" ] || [ "$d" = "$keep" ]; then
			continue
		fi
		log "removing old build $d"
		rm -rf "$d"
	done
	lock src fd
	for t in "$CACHE/src"/patched-*; do
		if [ ! -d "$t" ] || [ "${t%.patches}" != "$t" ] ||
		   [ "$t" = "$keep_tree" ] || [ "$t" = "$cur" ]; then
			continue
		fi
		used=0
		for d in "$CACHE/build"/*/.ksm_mod-srctree; do
			[ -f "$d" ] && [ "$(cat "$d")" = "$t" ] && used=1
		done
		[ "$used" = 0 ] || continue
		log "removing unused tree $t"
		rm -rf "$t" "$t.patches" "$t.stamp"
	done
	exec {fd}>&-
}

# configure TREE OUT FLAVOUR: tinyconfig, merge the fragments, olddefconfig,
# then check that every requested option survived.
configure() {
	local tree=$1 out=$2 flavour=$3 rc=0
	local -a mk=(make -C "$tree" O="$out" ARCH=x86_64)
	mkdir -p "$out"
	{
		"${mk[@]}" tinyconfig &&
		"$tree/scripts/kconfig/merge_config.sh" -m -O "$out" \
			"$out/.config" "$CONFIGS/common.config" \
			"$CONFIGS/$flavour.config" &&
		"${mk[@]}" olddefconfig
	} >>"$out/.ksm_mod-build.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		tail -n 40 "$out/.ksm_mod-build.log" >&2
		die "configuring $flavour failed (log: $out/.ksm_mod-build.log)"
	fi
	verify_config "$out/.config" "$CONFIGS/common.config" \
		"$CONFIGS/$flavour.config" ||
		die "$flavour config is incomplete; fix kernel/configs/"
}

cmd_build() {
	local flavour=$1 ver snap tree tree_id h out fd jobs rc
	local -a mk
	check_flavour "$flavour"
	ver=$(source_version)
	snap=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: snap is local
	trap "rm -rf '$snap'" EXIT
	if is_patched "$flavour"; then
		snapshot_patches "$snap"
	fi
	if [ -n "$(patches_hash "$snap")" ]; then
		tree_id="patched $ver $(patches_hash "$snap" | sha)"
	else
		tree_id="pristine $ver"
	fi
	h=$(build_inputs "$flavour" "$tree_id" | sha)
	out=$CACHE/build/$flavour-$h
	if [ -f "$out/.ksm_mod-built" ] && [ -f "$out/arch/x86/boot/bzImage" ]; then
		printf '%s\n' "$out"
		return 0
	fi

	lock "build-$flavour" fd
	if [ ! -f "$out/.ksm_mod-built" ]; then
		local start=$SECONDS tfd
		# Create the build dir and record its tree under the src lock,
		# so prune() in a concurrent call never removes a tree in use.
		tree=$(ensure_tree "$ver" "$snap")
		lock src tfd
		mkdir -p "$out"
		printf '%s\n' "$tree" >"$out/.ksm_mod-srctree"
		exec {tfd}>&-
		build_inputs "$flavour" "$tree_id" >"$out/.ksm_mod-inputs"
		jobs=${KSM_KERNEL_JOBS:-$(nproc)}
		mk=(make -C "$tree" O="$out" ARCH=x86_64)
		log "building $flavour in $out (source $tree, -j$jobs)"
		: >"$out/.ksm_mod-build.log"
		configure "$tree" "$out" "$flavour"
		rc=0
		if [ "${KSM_KERNEL_QUIET:-0}" = 1 ]; then
			"${mk[@]}" -j"$jobs" bzImage modules modules_prepare \
				>>"$out/.ksm_mod-build.log" 2>&1 || rc=$?
		else
			"${mk[@]}" -j"$jobs" bzImage modules modules_prepare 2>&1 |
				tee -a "$out/.ksm_mod-build.log" >&2 || rc=$?
		fi
		if [ "$rc" != 0 ]; then
			[ "${KSM_KERNEL_QUIET:-0}" != 1 ] ||
				tail -n 40 "$out/.ksm_mod-build.log" >&2
			die "building $flavour failed (log: $out/.ksm_mod-build.log)"
		fi
		if [ ! -f "$out/arch/x86/boot/bzImage" ] ||
		   [ ! -f "$out/Module.symvers" ]; then
			die "build of $flavour did not produce bzImage and Module.symvers"
		fi
		printf 'built %s in %ds\n' "$(date -u +%FT%TZ)" "$((SECONDS - start))" \
			>"$out/.ksm_mod-built.tmp"
		mv "$out/.ksm_mod-built.tmp" "$out/.ksm_mod-built"
		log "built $flavour in $((SECONDS - start))s"
		prune "$flavour" "$out" "$tree"
	fi
	exec {fd}>&-
	printf '%s\n' "$out"
}

cmd_config() {
	local flavour=$1 ver snap tree out fd
	check_flavour "$flavour"
	ver=$(source_version)
	snap=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: snap is local
	trap "rm -rf '$snap'" EXIT
	if is_patched "$flavour"; then
		snapshot_patches "$snap"
	fi
	lock "config-$flavour" fd
	tree=$(ensure_tree "$ver" "$snap")
	out=$CACHE/config/$flavour
	rm -rf "$out"
	mkdir -p "$out"
	: >"$out/.ksm_mod-build.log"
	configure "$tree" "$out" "$flavour"
	exec {fd}>&-
	printf '%s\n' "$out/.config"
}

cmd_srcdir() {
	local flavour=$1 ver snap
	check_flavour "$flavour"
	ver=$(source_version)
	snap=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: snap is local
	trap "rm -rf '$snap'" EXIT
	if is_patched "$flavour"; then
		snapshot_patches "$snap"
	fi
	ensure_tree "$ver" "$snap"
}

cmd_pristine() {
	ensure_pristine "$(source_version)"
	printf '%s\n' "$PRISTINE"
}

main() {
	[ $# -ge 1 ] || usage
	case "$1" in
	build)    [ $# -eq 2 ] || usage; cmd_build "$2" ;;
	config)   [ $# -eq 2 ] || usage; cmd_config "$2" ;;
	srcdir)   [ $# -eq 2 ] || usage; cmd_srcdir "$2" ;;
	pristine) [ $# -eq 1 ] || usage; cmd_pristine ;;
	*) usage ;;
	esac
}

# One line, so a running instance never reads past it if this file is
# replaced while it runs.
main "$@"; exit
