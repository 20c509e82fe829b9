#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=dash
#
# tools/guest-init.sh - owns PID 1 of the test VM that tools/vm.sh boots.
# The root filesystem is the host's /, read-only over virtio-9p. This
# script mounts the pseudo filesystems and writable tmpfs, mounts the
# run's output directory (9p tag ksm_out) at /run/ksm_out, loads the
# environment and command vm.sh left in OUT/.vm/, runs the command in the
# host's working directory with its output on the console, writes its exit
# status to OUT/.vm/status, syncs and powers the VM off.
#
# It runs under the host's static busybox shell: Debian's build prefers
# its own applets (mount, mkdir, ...), which is much cheaper under TCG
# (and KASAN) than bash forking dynamically linked tools loaded over 9p.
# Those applets re-exec /proc/self/exe, so until our /proc is mounted (and
# in the exit path) busybox is named explicitly: /proc/self/exe on the 9p
# view of the host's /proc would be the QEMU binary. The command itself is
# started through /usr/bin/env, so it is always the host's program, never
# a busybox applet.
#
# Not meant to be run by hand; vm.sh passes it as init= on the kernel
# command line.

# shellcheck disable=SC3040 # busybox ash has pipefail
set -euo pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
OUT=/run/ksm_out
MSIZE=512000
BB=/bin/busybox

say() { printf 'ksm-vm: %s\n' "$*"; }

# Leave the VM whatever happens: PID 1 exiting would panic the kernel.
# shellcheck disable=SC2317 # run from the EXIT trap
power_off() {
	$BB sync
	$BB poweroff -f 2>/dev/null ||
		echo o >/proc/sysrq-trigger 2>/dev/null || true
	# Only reached if both failed: panic=-1 plus -no-reboot end QEMU.
	$BB sleep 5
	exit 1
}
trap power_off EXIT

# Everything but /proc and /dev in one "mount -a" (each applet run costs a
# fork and an exec); a mount that fails is reported and skipped.
FSTAB='sysfs /sys sysfs defaults 0 0
devpts /dev/pts devpts gid=5,mode=620,ptmxmode=666 0 0
tmpfs /dev/shm tmpfs mode=1777 0 0
tmpfs /run tmpfs mode=755 0 0
tmpfs /tmp tmpfs mode=1777 0 0
tmpfs /var/tmp tmpfs mode=1777 0 0
debugfs /sys/kernel/debug debugfs defaults 0 0
tracefs /sys/kernel/tracing tracefs defaults 0 0
cgroup2 /sys/fs/cgroup cgroup2 defaults 0 0
hugetlbfs /dev/hugepages hugetlbfs defaults 0 0
'

main() {
	local cmdline rc

	$BB mount -t proc proc /proc
	# CONFIG_DEVTMPFS_MOUNT has mounted /dev already.
	[ -c /dev/console ] || mount -t devtmpfs devtmpfs /dev
	exec </dev/null >/dev/console 2>&1
	mkdir -p /dev/pts /dev/shm /dev/hugepages
	printf '%s' "$FSTAB" >/dev/.ksm_fstab
	mount -a -T /dev/.ksm_fstab || say "some mounts failed (see above)"
	echo ksm-vm >/proc/sys/kernel/hostname
	ip link set lo up 2>/dev/null || true
	[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd

	mkdir -p "$OUT"
	mount -t 9p -o "trans=virtio,version=9p2000.L,msize=$MSIZE,cache=none" \
		ksm_out "$OUT"

	# vm.sh wrote these on the host: shell-quoted "export NAME=value" lines
	# and the command as one line of shell-quoted words.
	# shellcheck source=/dev/null
	. "$OUT/.vm/env"
	read -r cmdline <"$OUT/.vm/cmd"
	eval "set -- $cmdline"
	export KSM_OUT="$OUT"

	# Also show the output directory at its host path, so paths recorded on
	# either side agree.
	if [ -n "${KSM_HOST_OUT:-}" ] && [ "$KSM_HOST_OUT" != "$OUT" ] &&
	   mkdir -p "$KSM_HOST_OUT" 2>/dev/null; then
		mount -o bind "$OUT" "$KSM_HOST_OUT" 2>/dev/null || true
	fi

	if [ -n "${KSM_VM_ZRAM:-}" ]; then
		if echo "$KSM_VM_ZRAM" >/sys/block/zram0/disksize &&
		   mkswap /dev/zram0 >/dev/null && swapon /dev/zram0; then
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
		# A subshell, so PID 1 survives whatever happens; env, so the
		# host's program runs and not a busybox applet of that name.
		(exec /usr/bin/env -- "$@")
		rc=$?
		set -e
	fi
	say "command exited with status $rc"
	# cache=none: written through to the host before poweroff.
	echo "$rc" >"$OUT/.vm/status"
}

# One line, so a running instance never reads past it if this file is
# replaced while it runs.
main "$@"; exit
