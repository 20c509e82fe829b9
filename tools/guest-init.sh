#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/guest-init.sh - owns PID 1 of the test VM that tools/vm.sh boots.
# The root filesystem is the host's /, read-only over virtio-9p. This
# script mounts the pseudo filesystems and writable tmpfs, mounts the
# run's output directory (9p tag ksm_out) at /run/ksm_out, loads the
# environment and command vm.sh left in OUT/.vm/, runs the command in the
# host's working directory with its output on the console, writes its exit
# status to OUT/.vm/status, syncs and powers the VM off.
#
# Not meant to be run by hand; vm.sh passes it as init= on the kernel
# command line.

set -euo pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
OUT=/run/ksm_out
MSIZE=512000

say() { printf 'ksm-vm: %s\n' "$*"; }

# Leave the VM whatever happens: PID 1 exiting would panic the kernel.
# shellcheck disable=SC2317 # run from the EXIT trap
power_off() {
	$BB sync
	$BB poweroff -f 2>/dev/null ||
		echo o >/proc/sysrq-trigger 2>/dev/null || true
	# Only reached if both failed: panic=-1 plus -no-reboot end QEMU.
	sleep 5
	exit 1
}
trap power_off EXIT

# Static busybox applets for the plumbing: every exec of a dynamically
# linked host binary costs ld.so plus library loads over 9p, which is slow
# under TCG.
BB=/bin/busybox

mounted() {	# mounted DIR
	local _ dir rest
	while read -r _ dir rest; do
		[ "$dir" != "$1" ] || return 0
	done </proc/mounts
	return 1
}

mnt() {	# mnt TYPE DIR [OPTIONS]
	local type=$1 dir=$2 opts=${3:-}
	[ -d "$dir" ] || $BB mkdir -p "$dir" 2>/dev/null || true
	if mounted "$dir"; then
		return 0
	fi
	$BB mount -t "$type" ${opts:+-o "$opts"} "$type" "$dir" ||
		say "cannot mount $type on $dir"
}

main() {
	local cmdline rc

	$BB mount -t proc proc /proc
	mnt sysfs /sys
	mnt devtmpfs /dev
	exec </dev/null >/dev/console 2>&1
	mnt devpts /dev/pts "gid=5,mode=620,ptmxmode=666"
	mnt tmpfs /dev/shm "mode=1777"
	mnt tmpfs /run "mode=755"
	mnt tmpfs /tmp "mode=1777"
	mnt tmpfs /var/tmp "mode=1777"
	mnt debugfs /sys/kernel/debug
	mnt tracefs /sys/kernel/tracing
	mnt cgroup2 /sys/fs/cgroup
	mnt hugetlbfs /dev/hugepages
	echo ksm-vm >/proc/sys/kernel/hostname
	$BB ip link set lo up 2>/dev/null || true
	[ -e /dev/fd ] || $BB ln -s /proc/self/fd /dev/fd

	$BB mkdir -p "$OUT"
	$BB mount -t 9p -o "trans=virtio,version=9p2000.L,msize=$MSIZE,cache=none" \
		ksm_out "$OUT"

	# vm.sh wrote these on the host: shell-quoted "export NAME=value" lines
	# and the command as one line of shell-quoted words.
	# shellcheck source=/dev/null
	. "$OUT/.vm/env"
	cmdline=$(<"$OUT/.vm/cmd")
	eval "set -- $cmdline"
	export KSM_OUT=$OUT

	# Also show the output directory at its host path, so paths recorded on
	# either side agree.
	if [ -n "${KSM_HOST_OUT:-}" ] && [ "$KSM_HOST_OUT" != "$OUT" ] &&
	   $BB mkdir -p "$KSM_HOST_OUT" 2>/dev/null; then
		$BB mount -o bind "$OUT" "$KSM_HOST_OUT" 2>/dev/null || true
	fi

	if [ -n "${KSM_VM_ZRAM:-}" ]; then
		if echo "$KSM_VM_ZRAM" >/sys/block/zram0/disksize &&
		   $BB mkswap /dev/zram0 >/dev/null && $BB swapon /dev/zram0; then
			say "zram swap of $KSM_VM_ZRAM on /dev/zram0"
		else
			say "cannot set up zram swap"
		fi
	fi

	rc=0
	if ! cd "${KSM_CWD:-/}"; then
		say "working directory ${KSM_CWD:-} is not visible in the guest"
		rc=125
	else
		set +e
		# A subshell, so that even "exit" or "exec" leave PID 1 alone.
		("$@")
		rc=$?
		set -e
	fi
	say "command exited with status $rc"
	echo "$rc" >"$OUT/.vm/status.tmp"
	$BB mv "$OUT/.vm/status.tmp" "$OUT/.vm/status"
	$BB sync
	$BB umount "$OUT" 2>/dev/null || true
}

# One line, so a running instance never reads past it if this file is
# replaced while it runs.
main "$@"; exit
