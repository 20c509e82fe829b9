#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - runs the KSM selftests in the test machine, as root.
#
# Owns the order and the verdict of a selftest run: our tests first (the
# defaults check while KSM is still fresh, the advice test with no engine,
# the module cycles), then the rest with the engine loaded, then upstream's
# ksm_tests in every mode run_vmtests.sh uses and ksm_functional_tests.
# Each program is one top-level TAP result; everything a program prints is
# shown, prefixed with "# ".  The last line is the summary
# "N passed, N failed[, N skipped]"; the exit status is 0 only without
# failures.
#
# Env:
#   KSM_MODULE        path to ksm_mod.ko; empty for a kernel with built-in KSM
#   KSM_TESTS_BIN     build output of selftests/Makefile (default: its O=)
#   KSM_TESTS_FILTER  run only the tests whose name matches this extended regex
#   KSM_OUT           if set, results.tap is written there too
#   KSM_TEST_TIMEOUT  seconds per program (default 900)
#   KSM_STRESS_SECONDS  how long ksm_stress runs (default 60); its seed is
#                     KSM_STRESS_SEED if set, else drawn and printed
#   KSM_UPSTREAM_TESTS  0: report upstream's programs as skipped (default 1)
#   KSM_UPSTREAM_TRIES  attempts per upstream program (default 5): upstream
#                     "ksm_tests -U" waits for one full scan counted from
#                     wherever ksmd happens to be, and under QEMU/TCG it
#                     fails about one run in four on the stock 6.12 engine
#                     too; every failed attempt is shown.  Our own tests
#                     get one attempt.
#
# The knobs are snapshot before our engine-loaded tests and put back after
# every program and at the end.  Run on a machine other than the test VM,
# "run = 1" merges whatever else on it asked for KSM (QEMU guests' memory,
# for one) until the final "run = 2" unmerges it again.

SELF_DIR=$(dirname "$(readlink -f "$0")")
BIN=${KSM_TESTS_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/ksm_mod/selftests}
MODULE=${KSM_MODULE:-}
FILTER=${KSM_TESTS_FILTER:-}
TIMEOUT=${KSM_TEST_TIMEOUT:-900}
STRESS_SECONDS=${KSM_STRESS_SECONDS:-60}
UPSTREAM_TRIES=${KSM_UPSTREAM_TRIES:-5}
UPSTREAM_TESTS=${KSM_UPSTREAM_TESTS:-1}
SYSFS=/sys/kernel/mm/ksm
MODNAME=ksm_mod
KSFT_SKIP=4

n=0
passed=0
failed=0
skipped=0
results=()

tap() {
	results+=("$1")
	echo "$1"
}

# Only the tests whose name matches KSM_TESTS_FILTER (an extended regular
# expression; a plain name matches the tests containing it) run.
selected() {
	[ -z "$FILTER" ] || [[ "$1" =~ $FILTER ]]
}

record() {	# record NAME pass|fail|skip [REASON]
	n=$((n + 1))
	case $2 in
	pass)
		passed=$((passed + 1))
		tap "ok $n $1"
		;;
	skip)
		skipped=$((skipped + 1))
		tap "ok $n $1 # SKIP ${3:-skipped}"
		;;
	*)
		failed=$((failed + 1))
		tap "not ok $n $1${3:+ # $3}"
		;;
	esac
}

# Free memory per node and the engine's counters, one line: a test that
# leaves processes or merged pages behind shows up in the next one's line.
mem_line() {
	local n line="# mem:"

	for n in /sys/devices/system/node/node[0-9]*; do
		line+=" ${n##*/} $(awk '/MemFree/ { print $4 }' "$n/meminfo")kB"
	done
	[ -r "$SYSFS/pages_shared" ] &&
		line+=" shared $(cat "$SYSFS/pages_shared") sharing $(cat "$SYSFS/pages_sharing")"
	echo "$line"
}

# exec_test COMMAND...: run one program, showing its output; sets verdict
# (pass, fail or skip) and reason.
exec_test() {
	local out rc totals why

	out=$(mktemp)
	# The guest's uptime lines the output up with the console's kernel
	# messages.
	echo "# ---- $* (uptime $(cut -d' ' -f1 /proc/uptime) s)"
	mem_line
	timeout -k 10 "$TIMEOUT" "$@" 2>&1 | tee "$out" | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	totals=$(grep -E '^# Totals: ' "$out" | tail -n 1)
	why=$(grep -E '^(1\.\.0 |ok [0-9]+ .*)# SKIP' "$out" | tail -n 1 |
	      sed 's/.*# SKIP *//')
	rm -f "$out"
	reason=
	if [ "$rc" -eq 0 ]; then
		verdict=pass
		# A harness program whose tests all skipped exits 0 too.
		if [[ "$totals" =~ pass:0\ .*skip:([1-9][0-9]*) ]]; then
			verdict=skip
			reason="all ${BASH_REMATCH[1]} tests skipped"
		fi
	elif [ "$rc" -eq "$KSFT_SKIP" ]; then
		verdict=skip
		reason=${why:-exit $KSFT_SKIP}
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		verdict=fail
		reason="timed out after ${TIMEOUT}s"
	else
		verdict=fail
		reason="exit $rc"
	fi
}

# run_test NAME COMMAND...: one top-level result from one program.
run_test() {
	local name=$1

	shift
	selected "$name" || return 0
	exec_test "$@"
	knobs_restore
	record "$name" "$verdict" "$reason"
}

loaded() {
	grep -qs "^$MODNAME " /proc/modules
}

load_module() {	# load_module RESULT-NAME
	selected "$1" || { loaded || insmod "$MODULE"; return; }
	if loaded; then
		record "$1" pass
		return 0
	fi
	echo "# insmod $MODULE"
	if insmod "$MODULE" 2>&1 | sed 's/^/# /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
		record "$1" pass
	else
		record "$1" fail "insmod failed"
		return 1
	fi
}

unload_module() {	# unload_module RESULT-NAME
	local ok=0

	loaded || return 0
	[ -w "$SYSFS/run" ] && echo 2 > "$SYSFS/run"
	rmmod "$MODNAME" 2>&1 | sed 's/^/# /'
	[ "${PIPESTATUS[0]}" -eq 0 ] || ok=1
	selected "$1" || return $ok
	if [ $ok -eq 0 ]; then
		record "$1" pass
	else
		record "$1" fail "rmmod failed"
	fi
	return $ok
}

# Leftover merges from our tests would skew upstream's counters.
ksm_clean() {
	[ -w "$SYSFS/run" ] || return 0
	echo 2 > "$SYSFS/run"
	echo 0 > "$SYSFS/run"
}

# Upstream programs do not all put the knobs back (ksm_functional_tests
# leaves use_zero_pages=1): snapshot them and restore after each program.
declare -A saved_knobs
knobs_save() {
	local f

	saved_knobs=()
	[ -d "$SYSFS" ] || return 0
	for f in "$SYSFS"/*; do
		[ -f "$f" ] && [ -w "$f" ] || continue
		[ "$(stat -c %a "$f")" = 644 ] || continue
		saved_knobs[${f##*/}]=$(< "$f")
	done
}

knob_set() {	# knob_set NAME VALUE: write if different, unmerge on EBUSY
	local f=$SYSFS/$1

	[ "$(< "$f")" = "$2" ] 2>/dev/null && return 0
	echo "$2" > "$f" 2>/dev/null && return 0
	echo 2 > "$SYSFS/run"
	echo "$2" > "$f" || echo "# could not restore $1 to $2"
}

knobs_restore() {
	local k adv

	[ -d "$SYSFS" ] && [ ${#saved_knobs[@]} -gt 0 ] || return 0
	# pages_to_scan only takes writes with the advisor off.
	[ "$(< "$SYSFS/advisor_mode")" = "[none] scan-time" ] ||
		echo none > "$SYSFS/advisor_mode"
	adv=${saved_knobs[advisor_mode]}
	for k in "${!saved_knobs[@]}"; do
		case $k in
		run|advisor_mode) continue ;;
		pages_to_scan) [ "$adv" = "[none] scan-time" ] || continue ;;
		esac
		knob_set "$k" "${saved_knobs[$k]}"
	done
	[ "$adv" = "[none] scan-time" ] || echo scan-time > "$SYSFS/advisor_mode"
	knob_set run "${saved_knobs[run]}"
}

echo "TAP version 13"
echo "# kernel $(uname -r), module ${MODULE:-none (built-in engine expected)}"
echo "# binaries in $BIN"

if [ "$(id -u)" -ne 0 ]; then
	echo "# run.sh must run as root"
	record "run.sh as root" fail
fi
if [ ! -x "$BIN/ksm_sysfs_abi" ]; then
	echo "# $BIN has no ksm_sysfs_abi: build with make -C selftests O=$BIN"
	record "test binaries present" fail
fi
if [ -n "$MODULE" ] && [ ! -f "$MODULE" ]; then
	echo "# KSM_MODULE=$MODULE: no such file"
	record "module file present" fail
	MODULE=
fi

# 1. Defaults, while nothing has touched KSM: right after boot for the
#    built-in engine, right after insmod for the module.
fresh=1
if [ -n "$MODULE" ]; then
	if loaded; then
		unload_module "unload module found loaded" || fresh=0
	fi
	load_module "load module" || fresh=0
fi
if [ $fresh -eq 1 ]; then
	KSM_SYSFS_FRESH=1 run_test ksm_sysfs_defaults \
		"$BIN/ksm_sysfs_abi" -t defaults
else
	selected ksm_sysfs_defaults &&
		record ksm_sysfs_defaults skip "could not get a freshly loaded engine"
fi

# 2. Advice with no engine at all (patched kernel, module unloaded).
if [ -n "$MODULE" ]; then
	unload_module "unload module"
	run_test ksm_advice_kept_no_engine "$BIN/ksm_advice_kept"
fi

# 3. Module load/unload cycles (skips itself without a module).
KSM_TESTS_BIN=$BIN run_test ksm_module_cycle \
	bash "$SELF_DIR/ksm_module_cycle.sh"
# Loads racing with advice, and loads failing at each allocation.
run_test ksm_module_load "$BIN/ksm_module_load"

# 4. The rest of ours, with the engine loaded.
if [ -n "$MODULE" ]; then
	load_module "load module again"
fi
# Every program from here on gets the knobs back as they are now, even
# if it fails half-way (on the host too, where they are not defaults).
knobs_save
run_test ksm_sysfs_abi "$BIN/ksm_sysfs_abi" -T defaults
run_test ksm_sysfs_input "$BIN/ksm_sysfs_input"
run_test ksm_advice_kept "$BIN/ksm_advice_kept"
run_test ksm_merge_basic "$BIN/ksm_merge_basic"
run_test ksm_merge_cow "$BIN/ksm_merge_cow"
run_test ksm_merge_race "$BIN/ksm_merge_race"
run_test ksm_merge_unmerge "$BIN/ksm_merge_unmerge"
run_test ksm_merge_zero "$BIN/ksm_merge_zero"
run_test ksm_merge_prctl "$BIN/ksm_merge_prctl"
run_test ksm_merge_limits "$BIN/ksm_merge_limits"
run_test ksm_merge_ineligible "$BIN/ksm_merge_ineligible"
run_test ksm_merge_fork_exit "$BIN/ksm_merge_fork_exit"
run_test ksm_merge_mremap_mprotect "$BIN/ksm_merge_mremap_mprotect"
run_test ksm_scan_knobs "$BIN/ksm_scan_knobs"
run_test ksm_scan_idle "$BIN/ksm_scan_idle"
run_test ksm_scan_advisor "$BIN/ksm_scan_advisor"
run_test ksm_scan_hostile "$BIN/ksm_scan_hostile"
run_test ksm_tracepoints "$BIN/ksm_tracepoints"
# Merged pages meeting the rest of mm; the memory failure test leaves a
# poisoned page behind, so it goes last.
run_test ksm_mm_swap "$BIN/ksm_mm_swap"
run_test ksm_mm_migrate "$BIN/ksm_mm_migrate"
run_test ksm_mm_hotremove "$BIN/ksm_mm_hotremove"
run_test ksm_mm_thp "$BIN/ksm_mm_thp"
run_test ksm_mm_misc "$BIN/ksm_mm_misc"
# Random operations on advised memory while the knobs (and the module)
# change under them; every page checked against what was written.
run_test ksm_stress env KSM_STRESS_MODULE="$MODULE" \
	KSM_STRESS_SECONDS="$STRESS_SECONDS" "$BIN/ksm_stress"
# (With allocation failures in the module it runs in make stress: see
# Documentation/reliability.md for the hang it found.)
run_test ksm_mm_hwpoison "$BIN/ksm_mm_hwpoison"

# 5. Upstream, in the modes of tools/testing/selftests/mm/run_vmtests.sh.
#    ksm_functional_tests re-executes ./ksm_functional_tests: run in $BIN.
run_upstream() {
	local name=$1 attempt

	shift
	selected "$name" || return 0
	if [ "$UPSTREAM_TESTS" = 0 ]; then
		record "$name" skip "KSM_UPSTREAM_TESTS=0"
		return 0
	fi
	pushd "$BIN" > /dev/null || return
	for ((attempt = 1; ; attempt++)); do
		ksm_clean
		exec_test "$@"
		knobs_restore
		[ "$verdict" = fail ] && [ "$attempt" -lt "$UPSTREAM_TRIES" ] ||
			break
		echo "# $name: attempt $attempt of $UPSTREAM_TRIES failed ($reason), retrying"
	done
	[ "$attempt" -gt 1 ] && [ "$verdict" = pass ] &&
		echo "# $name: passed on attempt $attempt of $UPSTREAM_TRIES"
	record "$name" "$verdict" "$reason"
	popd > /dev/null || return
}


run_upstream "ksm_tests -H -s 100" ./ksm_tests -H -s 100
run_upstream "ksm_tests -P -s 100" ./ksm_tests -P -s 100
run_upstream "ksm_tests -M -p 10" ./ksm_tests -M -p 10
run_upstream "ksm_tests -M -p 10 -t 1" ./ksm_tests -M -p 10 -t 1
run_upstream "ksm_tests -U" ./ksm_tests -U
run_upstream "ksm_tests -Z -p 10 -z 0" ./ksm_tests -Z -p 10 -z 0
run_upstream "ksm_tests -Z -p 10 -z 1" ./ksm_tests -Z -p 10 -z 1
run_upstream "ksm_tests -N -m 1" ./ksm_tests -N -m 1
run_upstream "ksm_tests -N -m 0" ./ksm_tests -N -m 0
# Modes run_vmtests.sh leaves out: unmerge time and COW time.  -D merges
# within ksm_tests' 120 s limit at pages_to_scan=10: 100 MiB did not make
# it on the debug kernel under TCG (5 of 5 attempts), 10 MiB does.
run_upstream "ksm_tests -D -s 10" ./ksm_tests -D -s 10
run_upstream "ksm_tests -C" ./ksm_tests -C
run_upstream ksm_functional_tests ./ksm_functional_tests
ksm_clean
knobs_restore

echo "1..$n"
if [ -n "$KSM_OUT" ]; then
	mkdir -p "$KSM_OUT"
	{
		echo "TAP version 13"
		printf '%s\n' "${results[@]}"
		echo "1..$n"
	} > "$KSM_OUT/results.tap"
fi
summary="$passed passed, $failed failed"
[ $skipped -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ $failed -eq 0 ]
