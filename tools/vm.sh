#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/vm.sh - owns the test VM: boots a test kernel under QEMU with the
# host's root filesystem read-only over virtio-9p, runs one command in it
# (through tools/guest-init.sh), streams the console, checks it with
# tools/console-check.sh and returns the command's exit status.
#
# Usage:
#   tools/vm.sh [--flavour debug|release|stock | --kernel PATH] [--out DIR]
#               [--mem SIZE] [--timeout SECS] [--log FILE] [--zram SIZE]
#               [--env NAME=VALUE]... [--append KERNEL-ARGS] -- CMD [ARGS...]
#
#   --flavour F   build (if needed) and boot that flavour (default: debug)
#   --kernel P    boot this bzImage, or the bzImage of build dir P
#   --out DIR     output directory, writable in the guest as $KSM_OUT
#                 (default: a new ${TMPDIR:-/tmp}/ksm_mod-vm.XXXXXX, kept)
#   --mem SIZE    guest memory, e.g. 2G or 3072M, split over two NUMA nodes
#                 (default 2G)
#   --timeout S   kill QEMU after S seconds (default 900)
#   --log FILE    console log (default OUT/console.log)
#   --zram SIZE   set up a zram swap device of SIZE before running CMD
#   --env N=V     pass one more variable into the guest (repeatable)
#   --append A    extra kernel command line arguments
#
# The VM: 2 vCPUs, two NUMA nodes with half the memory each, movablecore=25%
# (a quarter of the memory in ZONE_MOVABLE, so memory blocks there can be
# offlined), serial console, no network. The guest root is the host's / over
# 9p (read-only, cache=loose: the host must not change files the guest is
# using), tmpfs on /tmp /run /var/tmp /dev/shm; debugfs, tracefs, cgroup2,
# hugetlbfs mounted. CMD (a program looked up in PATH: use sh -c for shell
# code) runs as root in the current directory, stdin /dev/null,
# stdout/stderr on the console. The guest init needs /bin/busybox
# (busybox-static).
# Passed into the guest: PATH, HOME, LANG, LC_ALL, TZ, every KSM_* variable,
# KSM_OUT=/run/ksm_out (the output directory; also bind-mounted at its host
# path, given in KSM_HOST_OUT), KSM_VM=1, and --env variables.
#
# Exit status: CMD's exit status; 124 if the VM timed out, 125 if the guest
# died without recording a status, 126 if the console showed a kernel splat
# (BUG, WARNING, KASAN, lockdep, ...; see tools/console-check.sh).
#
# Environment: KSM_VM_ACCEL=kvm|tcg forces the accelerator. By default KVM
# is used (-cpu host) when /dev/kvm opens and a tiny boot sector runs under
# it, with the same CPU model, within 2 seconds (result cached per host boot
# in CACHE/kvm-probe); otherwise TCG (-accel tcg,thread=multi -cpu max).
# KSM_VM_CPU overrides the -cpu model, KSM_VM_QEMU the QEMU binary.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CACHE=${XDG_CACHE_HOME:-${HOME:?}/.cache}/ksm_mod
QEMU=${KSM_VM_QEMU:-qemu-system-x86_64}
GUEST_OUT=/run/ksm_out
MSIZE=512000

log() { printf 'vm.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

usage() {
	sed -n '/^# Usage:/,/^# Exit status:/p' "${BASH_SOURCE[0]}" |
		sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

# Can we use KVM? /dev/kvm must open and a boot sector must run under it,
# with the CPU model we would use, fast enough to beat TCG. The answer is
# cached per host boot.
kvm_usable() {
	local probe=$CACHE/kvm-probe boot_id img start rc elapsed
	{ exec 3<>/dev/kvm; } 2>/dev/null || return 1
	exec 3>&-
	boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
	if [ -f "$probe" ] && [ "$(sed -n 1p "$probe")" = "$boot_id" ]; then
		[ "$(sed -n 2p "$probe")" = yes ]
		return
	fi
	# The boot sector writes to QEMU's isa-debug-exit port: QEMU exits
	# with status (0x31 << 1) | 1 = 99 once it has run guest code.
	img=$(mktemp)
	printf '\xb0\x31\xe6\xf4\xf4\xeb\xfd' >"$img"
	truncate -s 510 "$img"
	printf '\x55\xaa' >>"$img"
	truncate -s 1474560 "$img"
	start=$(date +%s%N)
	rc=0
	# (The braces keep bash's "Aborted" notice off stderr: QEMU asserts
	# out when KVM rejects the CPU model.)
	{
		timeout 3 "$QEMU" -accel kvm -cpu "${KSM_VM_CPU:-host}" -M q35 \
			-nodefaults -display none -no-reboot \
			-device isa-debug-exit,iobase=0xf4,iosize=4 \
			-drive file="$img",format=raw,if=floppy \
			</dev/null >/dev/null 2>&1 || rc=$?
	} 2>/dev/null
	elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
	rm -f "$img"
	mkdir -p "$CACHE"
	if [ "$rc" = 99 ] && [ "$elapsed" -lt 2000 ]; then
		printf '%s\nyes\n%sms\n' "$boot_id" "$elapsed" >"$probe"
		return 0
	fi
	printf '%s\nno\nrc=%s %sms\n' "$boot_id" "$rc" "$elapsed" >"$probe"
	return 1
}

# True for host paths the guest does not see: it mounts its own tmpfs on
# /tmp, /var/tmp, /run and /dev/shm.
guest_hidden() {
	case "$1/" in
	/tmp/* | /var/tmp/* | /run/* | /dev/shm/*) return 0 ;;
	esac
	return 1
}

# Write OUT/.vm/env (shell-quoted exports) and OUT/.vm/cmd (the command
# as shell-quoted words) for guest-init.sh.
write_guest_files() {
	local out=$1 zram=$2 v kv
	shift 2
	{
		for v in PATH HOME LANG LC_ALL TZ; do
			if [ -n "${!v+set}" ]; then
				printf 'export %s=%q\n' "$v" "${!v}"
			fi
		done
		while IFS= read -r v; do
			printf 'export %s=%q\n' "$v" "${!v}"
		done < <(compgen -e | grep '^KSM_' || true)
		printf 'export KSM_VM=1\n'
		# A hidden working directory: run from / (callers use absolute
		# paths) rather than fail.
		if guest_hidden "$PWD"; then
			printf 'export KSM_CWD=/\n'
		else
			printf 'export KSM_CWD=%q\n' "$PWD"
		fi
		printf 'export KSM_HOST_OUT=%q\n' "$out"
		printf 'export KSM_OUT=%q\n' "$GUEST_OUT"
		printf 'export KSM_VM_ZRAM=%q\n' "$zram"
		for kv in "${extra_env[@]+"${extra_env[@]}"}"; do
			printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
		done
	} >"$out/.vm/env"
	{
		printf '%q ' "$@"
		printf '\n'
	} >"$out/.vm/cmd"
}

main() {
	local flavour=debug kernel='' out='' mem=2G timeout_s=900 logfile='' zram=''
	local append='' mem_mb node_mb kdir accel cmdline rootflags start
	local elapsed qrc rc init
	local -a accel_args qemu_args
	extra_env=()

	while [ $# -gt 0 ]; do
		case "$1" in
		--flavour) flavour=${2:?}; kernel=; shift 2 ;;
		--kernel) kernel=${2:?}; shift 2 ;;
		--out) out=${2:?}; shift 2 ;;
		--mem) mem=${2:?}; shift 2 ;;
		--timeout) timeout_s=${2:?}; shift 2 ;;
		--log) logfile=${2:?}; shift 2 ;;
		--zram) zram=${2:?}; shift 2 ;;
		--env)
			case "${2:?}" in
			[A-Za-z_]*=*) extra_env+=("$2") ;;
			*) die "--env wants NAME=VALUE, got '$2'" ;;
			esac
			shift 2 ;;
		--append) append="$append ${2:?}"; shift 2 ;;
		--) shift; break ;;
		-h|--help) usage ;;
		*) log "unknown argument '$1'"; usage ;;
		esac
	done
	[ $# -ge 1 ] || usage
	[[ "$timeout_s" =~ ^[0-9]+$ ]] || die "--timeout wants seconds"

	# Memory: total and per-node size in MiB.
	if [[ "$mem" =~ ^([0-9]+)[Gg]$ ]]; then
		mem_mb=$((BASH_REMATCH[1] * 1024))
	elif [[ "$mem" =~ ^([0-9]+)[Mm]$ ]]; then
		mem_mb=${BASH_REMATCH[1]}
	else
		die "--mem wants e.g. 2G or 2048M"
	fi
	if [ $((mem_mb % 2)) -ne 0 ] || [ "$mem_mb" -lt 512 ]; then
		die "--mem must be an even number of MiB, at least 512M"
	fi
	node_mb=$((mem_mb / 2))

	# Kernel.
	if [ -z "$kernel" ]; then
		kdir=$("$REPO/tools/kernel.sh" build "$flavour" | tail -n1)
		kernel=$kdir/arch/x86/boot/bzImage
	elif [ -d "$kernel" ]; then
		kernel=$kernel/arch/x86/boot/bzImage
	fi
	[ -f "$kernel" ] || die "no kernel image at $kernel"

	# Output directory and log.
	if [ -z "$out" ]; then
		out=$(mktemp -d "${TMPDIR:-/tmp}/ksm_mod-vm.XXXXXX")
	fi
	mkdir -p "$out"
	out=$(cd "$out" && pwd -P)
	mkdir -p "$out/.vm"
	rm -f "$out/.vm/status" "$out/.vm/status.tmp"
	logfile=${logfile:-$out/console.log}
	mkdir -p "$(dirname "$logfile")"
	: >"$logfile"
	write_guest_files "$out" "$zram" "$@"

	# Accelerator.
	accel=${KSM_VM_ACCEL:-}
	if [ -z "$accel" ]; then
		if kvm_usable; then accel=kvm; else accel=tcg; fi
	fi
	case "$accel" in
	kvm) accel_args=(-accel kvm -cpu "${KSM_VM_CPU:-host}") ;;
	tcg) accel_args=(-accel "tcg,thread=multi" -cpu "${KSM_VM_CPU:-max}") ;;
	*) die "KSM_VM_ACCEL must be kvm or tcg" ;;
	esac

	rootflags="trans=virtio,version=9p2000.L,msize=$MSIZE,cache=loose"
	cmdline="console=ttyS0,115200 root=ksm_root rootfstype=9p"
	cmdline="$cmdline rootflags=$rootflags ro"
	# A checkout under a hidden path (a CI clone in /tmp, say) boots an
	# init copied to the cache, which the guest sees.
	init=$REPO/tools/guest-init.sh
	if guest_hidden "$REPO"; then
		mkdir -p "$CACHE/vm"
		cp "$init" "$CACHE/vm/guest-init.sh.tmp"
		mv "$CACHE/vm/guest-init.sh.tmp" "$CACHE/vm/guest-init.sh"
		init=$CACHE/vm/guest-init.sh
	fi
	cmdline="$cmdline init=$init panic=-1"
	cmdline="$cmdline movablecore=25% printk.devkmsg=on"
	# Under TCG the guest clock follows the host's while the vCPUs run
	# only when the host schedules QEMU: on a busy host a vCPU can look
	# stuck for tens of seconds (a starved run printed a 23 s "soft
	# lockup" in the page allocator, 100 times its usual speed).  The
	# detectors stay on with thresholds for an emulated machine: soft
	# lockups after 120 s (twice watchdog_thresh), RCU stalls after 60 s.
	cmdline="$cmdline watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=60"
	cmdline="$cmdline$append"

	qemu_args=(
		-machine q35 "${accel_args[@]}"
		-smp "2,sockets=2,cores=1,threads=1" -m "${mem_mb}M"
		-object "memory-backend-ram,id=mem0,size=${node_mb}M"
		-object "memory-backend-ram,id=mem1,size=${node_mb}M"
		-numa "node,nodeid=0,cpus=0,memdev=mem0"
		-numa "node,nodeid=1,cpus=1,memdev=mem1"
		-nodefaults -no-user-config -display none -vga none -no-reboot
		-chardev "stdio,id=con0,signal=off" -serial chardev:con0
		-virtfs "local,path=/,mount_tag=ksm_root,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$out,mount_tag=ksm_out,security_model=none,multidevs=remap"
		-kernel "$kernel" -append "$cmdline"
	)

	log "kernel $kernel, accel $accel, ${mem_mb}M, output $out"
	start=$(date +%s%N)
	set +o pipefail
	timeout --foreground -k 10 "$timeout_s" "$QEMU" "${qemu_args[@]}" \
		</dev/null 2>&1 | sed -u 's/\r$//' | tee -a "$logfile"
	qrc=${PIPESTATUS[0]}
	set -o pipefail
	elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
	log "VM ran for $((elapsed / 1000)).$(printf '%03d' $((elapsed % 1000)))s" \
		"(QEMU status $qrc), log $logfile"

	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		log "VM timed out after ${timeout_s}s"
		rc=124
	elif [ ! -f "$out/.vm/status" ]; then
		log "guest died without recording the command's status"
		rc=125
	else
		rc=$(cat "$out/.vm/status")
		[[ "$rc" =~ ^[0-9]+$ ]] || rc=125
	fi
	if ! "$REPO/tools/console-check.sh" "$logfile"; then
		log "console check failed (command status $rc)"
		rc=126
	fi
	return "$rc"
}

# One line, so a running instance never reads past it if this file is
# replaced while it runs.
main "$@"; exit
