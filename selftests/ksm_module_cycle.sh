#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ksm_module_cycle.sh - load/unload cycles of the KSM engine module.
#
# Owns the module's lifetime as userspace sees it: after insmod the
# /sys/kernel/mm/ksm files and exactly one ksmd exist, a second insmod fails,
# after rmmod both are gone; while KSM pages exist rmmod is refused until
# "echo 2 > run" unmerged them; advice given by a running process survives
# the unload and a reloaded engine merges that process again.  Verdicts come
# from sysfs, /proc and pagemap (through ksm_hold_merged), never from the
# module's own messages.
#
# Env: KSM_MODULE (path to ksm_mod.ko; unset: SKIP), KSM_MODULE_CYCLES (5),
#      KSM_TESTS_BIN (where ksm_hold_merged is; default: next to this script).
# Leaves the module loaded or unloaded, as it found it.  TAP output; exit 0
# on success, 1 on failure, 4 (kselftest SKIP) when it does not apply.

MODNAME=ksm_mod
SYSFS=/sys/kernel/mm/ksm
CYCLES=${KSM_MODULE_CYCLES:-5}
BIN=${KSM_TESTS_BIN:-$(dirname "$(readlink -f "$0")")}
HOLD=$BIN/ksm_hold_merged

FILES="sleep_millisecs pages_to_scan run pages_scanned pages_shared
pages_sharing pages_unshared pages_volatile pages_skipped ksm_zero_pages
full_scans max_page_sharing stable_node_chains stable_node_dups
stable_node_chains_prune_millisecs use_zero_pages general_profit smart_scan
advisor_mode advisor_max_cpu advisor_min_pages_to_scan
advisor_max_pages_to_scan advisor_target_scan_time"
[ -d /sys/devices/system/node ] && FILES="$FILES merge_across_nodes"

n=0
failed=0

echo "TAP version 13"

skip_all() {
	echo "1..0 # SKIP $*"
	exit 4
}

ok() {	# ok CONDITION-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
	fi
}

loaded() {
	grep -q "^$MODNAME " /proc/modules
}

# Builtins only: every exec is slow under QEMU/TCG.
ksmd_count() {
	local c comm count=0

	for c in /proc/[0-9]*/comm; do
		{ read -r comm < "$c"; } 2>/dev/null || continue
		[ "$comm" = ksmd ] && count=$((count + 1))
	done
	echo "$count"
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))

	shift
	until "$@"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

ksmd_is() { [ "$(ksmd_count)" -eq "$1" ]; }
no_sysfs() { [ ! -e "$SYSFS" ]; }

all_files() {
	local f

	for f in $FILES; do
		[ -f "$SYSFS/$f" ] || { echo "# missing $SYSFS/$f"; return 1; }
	done
}

unload() {
	[ -w "$SYSFS/run" ] && echo 2 > "$SYSFS/run"
	rmmod "$MODNAME"
}

[ -n "$KSM_MODULE" ] || skip_all "KSM_MODULE not set"
[ -r /proc/modules ] || skip_all "kernel without loadable modules"
if ! loaded && [ -d "$SYSFS" ]; then
	skip_all "KSM engine built into this kernel"
fi
if [ ! -f "$KSM_MODULE" ]; then
	echo "# $KSM_MODULE: no such file"
	ok 1 "module file exists"
	echo "1..$n"
	exit 1
fi

was_loaded=0
if loaded; then
	was_loaded=1
	unload
	ok $? "unload the module found loaded"
fi

# No engine: the patched kernel has neither the sysfs directory nor ksmd.
wait_for 5 no_sysfs
ok $? "no engine: no $SYSFS"
wait_for 5 ksmd_is 0
ok $? "no engine: no ksmd"

for i in $(seq 1 "$CYCLES"); do
	insmod "$KSM_MODULE"
	rc=$?
	ok $rc "cycle $i: insmod"
	[ $rc -eq 0 ] || break
	loaded
	ok $? "cycle $i: listed in /proc/modules"
	all_files
	ok $? "cycle $i: $SYSFS has all files"
	wait_for 5 ksmd_is 1
	ok $? "cycle $i: exactly one ksmd ($(ksmd_count))"
	insmod "$KSM_MODULE" 2>/dev/null
	[ $? -ne 0 ]
	ok $? "cycle $i: second insmod fails"
	[ "$(ksmd_count)" -eq 1 ] && all_files
	ok $? "cycle $i: still one engine after the failed insmod"
	echo 1 > "$SYSFS/run" && echo 0 > "$SYSFS/run"
	ok $? "cycle $i: run 1 then 0"
	rmmod "$MODNAME"
	rc=$?
	ok $rc "cycle $i: rmmod"
	[ $rc -eq 0 ] || break
	wait_for 5 no_sysfs
	ok $? "cycle $i: $SYSFS gone"
	wait_for 5 ksmd_is 0
	ok $? "cycle $i: ksmd gone"
done

# KSM pages pin the module; advice outlives it; a new engine adopts it.
if [ ! -x "$HOLD" ]; then
	echo "# $HOLD not built: pinning checks skipped"
elif ! loaded && insmod "$KSM_MODULE"; then
	coproc HOLDER { exec "$HOLD" 32; }
	read -r -t 10 ready <&"${HOLDER[0]}"
	echo "# ksm_hold_merged: $ready"
	echo 0 > "$SYSFS/sleep_millisecs"
	echo 1000 > "$SYSFS/pages_to_scan"
	echo 1 > "$SYSFS/run"
	echo "wait-merged 60" >&"${HOLDER[1]}"
	read -r -t 90 reply <&"${HOLDER[0]}"
	echo "# $reply"
	[ "${reply#merged }" -gt 0 ] 2>/dev/null
	ok $? "pin: pages merged with the module loaded"
	rmmod "$MODNAME" 2>/dev/null
	[ $? -ne 0 ] && loaded && [ -d "$SYSFS" ]
	ok $? "pin: rmmod refused while KSM pages exist"
	echo 2 > "$SYSFS/run"
	ok $? "pin: run = 2"
	echo count >&"${HOLDER[1]}"
	read -r -t 10 reply <&"${HOLDER[0]}"
	[ "$reply" = "shared 0" ]
	ok $? "pin: run = 2 unmerged every pair ($reply)"
	rmmod "$MODNAME"
	ok $? "pin: rmmod after unmerging, advised process still running"
	echo mg >&"${HOLDER[1]}"
	read -r -t 10 reply <&"${HOLDER[0]}"
	[ "$reply" = "mg 1" ]
	ok $? "pin: advice kept with no engine ($reply)"
	if insmod "$KSM_MODULE"; then
		echo 0 > "$SYSFS/sleep_millisecs"
		echo 1000 > "$SYSFS/pages_to_scan"
		echo 1 > "$SYSFS/run"
		echo "wait-merged 60" >&"${HOLDER[1]}"
		read -r -t 90 reply <&"${HOLDER[0]}"
		echo "# $reply"
		[ "${reply#merged }" -gt 0 ] 2>/dev/null
		ok $? "pin: reloaded engine merges the running process"
		echo 2 > "$SYSFS/run"
	else
		ok 1 "pin: insmod again"
	fi
	echo quit >&"${HOLDER[1]}"
	wait "$HOLDER_PID" 2>/dev/null
	unload
	ok $? "pin: final rmmod"
else
	ok 1 "pin: insmod"
fi

# Back to the state we found.
if [ $was_loaded -eq 1 ]; then
	loaded || insmod "$KSM_MODULE"
	ok $? "module loaded again, as found"
else
	if loaded; then
		unload
		ok $? "module unloaded, as found"
	fi
fi

echo "1..$n"
echo "# $((n - failed)) of $n checks passed"
[ $failed -eq 0 ]
