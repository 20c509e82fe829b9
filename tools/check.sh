#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/check.sh - what `make check` runs: install what is missing, lint,
# build the debug and stock kernels (cached), the module and the selftests,
# then run the selftests in a VM on each kernel and scan the consoles.
#
# Every VM run contributes its selftest counts plus one result of its own
# (the guest came back and its console is clean).  The last line printed is
# "N passed, N failed[, N skipped]"; the exit status is 0 only if nothing
# failed.
#
# Env: KSM_CHECK_OUT (default REPO/out/check) keeps the logs and TAP files;
# KSM_TESTS_FILTER is passed to the guest runs.

set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
OUT=${KSM_CHECK_OUT:-$REPO/out/check}
passed=0
failed=0
skipped=0

say() { printf '\n=== %s\n' "$*"; }
count() {	# count PASSED FAILED SKIPPED
	passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + $3))
}
finish() {
	local line="$passed passed, $failed failed"

	[ "$skipped" -eq 0 ] || line="$line, $skipped skipped"
	echo
	echo "$line"
	[ "$failed" -eq 0 ]
	exit
}
# A step that must work for anything else to run.
need() {
	local what=$1

	shift
	if ! "$@"; then
		echo "not ok - $what"
		count 0 1 0
		finish
	fi
}

rm -rf "$OUT"
mkdir -p "$OUT"

say "dependencies"
need "install dependencies" "$REPO/tools/deps.sh"

say "kernels"
for flavour in debug stock; do
	need "build the $flavour kernel" \
		"$REPO/tools/kernel.sh" build "$flavour" >/dev/null
done

say "lint"
"$REPO/tools/lint.sh" debug | tee "$OUT/lint.log"
read -r lp lf < <(sed -n 's/^lint: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' \
		  "$OUT/lint.log")
count "${lp:-0}" "${lf:-1}" 0

say "module and selftests"
module=$("$REPO/tools/module.sh" build debug | tail -n 1)
[ -f "$module" ] || need "build ksm_mod.ko" false
bin=${XDG_CACHE_HOME:-$HOME/.cache}/ksm_mod/selftests
need "build the selftests" make -s -C "$REPO/selftests" O="$bin"

# vm_run FLAVOUR MODULE: the selftests on one kernel, counted.
vm_run() {
	local flavour=$1 ko=$2 dir=$OUT/$1 rc summary p f s

	say "selftests on the $flavour kernel"
	mkdir -p "$dir"
	# Under TCG the debug kernel (KASAN, lockdep) runs the suite in about
	# 25 minutes on an idle machine: leave room.
	# zram swap: ksm_mm_swap needs a swap device.
	"$REPO/tools/vm.sh" --flavour "$flavour" --out "$dir" --timeout 3600 \
		--zram 512M --log "$dir/console.log" -- \
		env KSM_MODULE="$ko" KSM_TESTS_BIN="$bin" \
		KSM_TESTS_FILTER="${KSM_TESTS_FILTER:-}" \
		KSM_UPSTREAM_TESTS="$3" \
		KSM_STRESS_SEED="${KSM_STRESS_SEED:-}" \
		KSM_STRESS_SECONDS="${KSM_STRESS_SECONDS:-60}" \
		"$bin/run.sh"
	summary=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$dir/console.log" |
		  tail -n 1)
	p=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' <<<"$summary")
	f=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$summary")
	s=$(sed -n 's/.* \([0-9]*\) skipped.*/\1/p' <<<"$summary")
	count "${p:-0}" "${f:-0}" "${s:-0}"
	# The VM's own verdict: run.sh got to its summary and no splat.
	if [ -n "$summary" ] &&
	   "$REPO/tools/console-check.sh" "$dir/console.log" >/dev/null; then
		rc=0
	else
		rc=1
	fi
	if [ $rc -eq 0 ]; then
		echo "ok - $flavour VM: finished, console clean"
		count 1 0 0
	else
		echo "not ok - $flavour VM: no summary (guest died or hung) or console splat"
		count 0 1 0
	fi
}

vm_run debug "$module" 1
vm_run stock "" 1

finish
