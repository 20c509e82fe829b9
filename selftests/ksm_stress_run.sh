#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ksm_stress_run.sh - one run of `make stress`, inside the test VM.
#
# Usage: ksm_stress_run.sh MODE
#   stress   ksm_stress for KSM_STRESS_SECONDS, reloading KSM_MODULE if set
#   faults   the same with KSM_STRESS_FAIL_PERCENT (default 2) of the
#            module's allocations failing
#   leaks    (boot with kmemleak=on) the stress, then 20 cycles of insmod,
#            merge, unmerge, rmmod; then two kmemleak scans, every report
#            printed and counted
#
# Prints "stress-result: KEY=VALUE ..." lines that tools/stress.sh puts in
# its table; exit status 0 when every check held.
#
# Env: KSM_MODULE, KSM_TESTS_BIN, KSM_STRESS_SECONDS, KSM_STRESS_SEED,
# KSM_STRESS_FAIL_PERCENT.

set -u
BIN=${KSM_TESTS_BIN:-$(dirname "$(readlink -f "$0")")}
MODULE=${KSM_MODULE:-}
SECONDS_WANTED=${KSM_STRESS_SECONDS:-300}
KMEMLEAK=/sys/kernel/debug/kmemleak
CYCLES=20
rc=0

modname() { basename "${MODULE%.ko}"; }
loaded() { [ -n "$MODULE" ] && [ -d "/sys/module/$(modname)" ]; }

# A run that overruns by two minutes is stuck: show where, once.
dump_stuck() {	# dump_stuck PID OUTPUT
	local p

	sleep $((SECONDS_WANTED + 120))
	kill -0 "$1" 2>/dev/null || return 0
	cat "$2"
	echo "# ksm_stress overran by 120 s: stacks of its processes and ksmd"
	for p in $(pgrep -f ksm_stress) $(pgrep -x ksmd); do
		echo "# pid $p ($(cat /proc/$p/comm 2>/dev/null)):" \
			"$(awk '/^State/ { print $2 }' /proc/$p/status 2>/dev/null)"
		sed 's/^/#   /' /proc/$p/stack 2>/dev/null
	done
	# Running tasks show no /proc stack: backtraces of every CPU.
	echo 1 > /proc/sys/kernel/sysrq
	echo l > /proc/sysrq-trigger
}

stress() {	# stress EXTRA-ENV...: one ksm_stress run, its figures
	local out pid watch status

	out=$(mktemp)
	env KSM_STRESS_MODULE="$MODULE" KSM_STRESS_SECONDS="$SECONDS_WANTED" \
		"$@" "$BIN/ksm_stress" > "$out" 2>&1 &
	pid=$!
	dump_stuck "$pid" "$out" &
	watch=$!
	wait "$pid"
	status=$?
	pkill -P "$watch" 2>/dev/null
	kill "$watch" 2>/dev/null
	cat "$out"
	[ "$status" -eq 0 ] || rc=1
	sed -n -e 's/^# operations \([0-9]*\), pages checked \([0-9]*\), corruptions \([0-9]*\)$/stress-result: ops=\1 checked=\2 corruptions=\3/p' \
	    -e 's/^# module reloads \([0-9]*\), allocations failed on purpose \([0-9]*\)$/stress-result: reloads=\1 injected=\2/p' "$out"
	sed -n 's/^# merging seen: pages_sharing up to \([0-9]*\).*/stress-result: max_sharing=\1/p' "$out"
	grep -q '^ok 1 ksm_stress' "$out" &&
		echo "stress-result: verdict=pass" ||
		echo "stress-result: verdict=fail"
	rm -f "$out"
}

# insmod, a short merge (ksm_stress unmerges with run = 2 at its end), rmmod.
cycles() {
	local i

	for ((i = 1; i <= CYCLES; i++)); do
		loaded || insmod "$MODULE" || { echo "# cycle $i: insmod failed"; rc=1; return; }
		KSM_STRESS_SECONDS=3 KSM_STRESS_MODULE= "$BIN/ksm_stress" -w 2 -p 512 \
			> /tmp/cycle.log 2>&1 ||
			{ cat /tmp/cycle.log; rc=1; }
		echo 2 > /sys/kernel/mm/ksm/run
		rmmod "$(modname)" || { echo "# cycle $i: rmmod failed"; rc=1; return; }
		grep -q "^ksm_" /proc/slabinfo 2>/dev/null &&
			{ echo "# cycle $i: ksm_ caches left after rmmod"; rc=1; }
	done
	echo "stress-result: cycles=$CYCLES"
}

leaks() {
	local n ours

	if [ ! -w "$KMEMLEAK" ]; then
		echo "# no $KMEMLEAK (boot with kmemleak=on)"
		echo "stress-result: kmemleak=unavailable"
		rc=1
		return
	fi
	echo clear > "$KMEMLEAK"
	[ -n "$MODULE" ] && { loaded || insmod "$MODULE"; }
	stress
	[ -n "$MODULE" ] && cycles
	# An object is reported after two scans that find no reference to it.
	echo scan > "$KMEMLEAK"
	sleep 5
	echo scan > "$KMEMLEAK"
	cat "$KMEMLEAK"
	n=$(grep -c '^unreferenced object' "$KMEMLEAK")
	# Ours: a backtrace through the module or the KSM hooks.
	ours=$(awk '/^unreferenced object/ { if (hit) c++; hit = 0 }
		    /ksm/ { hit = 1 } END { if (hit) c++; print c + 0 }' "$KMEMLEAK")
	echo "stress-result: kmemleak=$n kmemleak_ksm=$ours"
	[ "$ours" -eq 0 ] || rc=1
}

case ${1:-} in
stress)
	[ -n "$MODULE" ] && { loaded || insmod "$MODULE"; }
	stress
	;;
faults)
	[ -n "$MODULE" ] && { loaded || insmod "$MODULE"; }
	stress KSM_STRESS_FAIL_PERCENT="${KSM_STRESS_FAIL_PERCENT:-2}"
	;;
leaks)
	leaks
	;;
*)
	echo "usage: $0 stress|faults|leaks" >&2
	exit 2
	;;
esac
loaded && { echo 2 > /sys/kernel/mm/ksm/run; rmmod "$(modname)" || rc=1; }
echo "stress-result: exit=$rc"
exit $rc
