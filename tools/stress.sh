#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/stress.sh - what `make stress` runs: the randomized integrity
# stress (selftests/ksm_stress) in VMs, one at a time, and a table.
#
#   debug+module       the stress with knob flips and module reloads
#   debug+faults       the same with 2% of the module's allocations failing
#   debug+kmemleak     booted with kmemleak=on: the stress, 20 cycles of
#                      insmod/merge/unmerge/rmmod, two scans
#   stock              the stress against the built-in engine (no module)
#
# Every run must end with 0 corruptions, a pass and a clean console.
# Env: STRESS_SECONDS (default 300) per run; KSM_STRESS_SEED replays one
# seed; KSM_STRESS_RUNS restricts to the named runs (e.g. "stock debug+faults");
# KSM_STRESS_OUT (default REPO/out/stress) keeps the logs.

set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
OUT=${KSM_STRESS_OUT:-$REPO/out/stress}
SECS=${STRESS_SECONDS:-300}
RUNS=${KSM_STRESS_RUNS:-debug+module debug+faults debug+kmemleak stock}
failed=0

die() { printf 'stress.sh: error: %s\n' "$*" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT"
"$REPO/tools/deps.sh" >/dev/null || die "dependencies"
for flavour in debug stock; do
	"$REPO/tools/kernel.sh" build "$flavour" >/dev/null ||
		die "build the $flavour kernel"
done
module=$("$REPO/tools/module.sh" build debug | tail -n 1)
[ -f "$module" ] || die "build ksm_mod.ko"
bin=${XDG_CACHE_HOME:-$HOME/.cache}/ksm_mod/selftests
make -s -C "$REPO/selftests" O="$bin" || die "build the selftests"

# field LOG KEY: the last value of KEY in the run's stress-result lines.
field() {
	grep -aoE "^stress-result: .*\\b$2=[^ ]*" "$1" | tail -n 1 |
		sed -E "s/.*\\b$2=([^ ]*).*/\\1/"
}

# one NAME FLAVOUR MODE KO [VM ARGS...]
one() {
	local name=$1 flavour=$2 mode=$3 ko=$4 dir=$OUT/$1 console verdict

	shift 4
	case " $RUNS " in *" $name "*) ;; *) return 0 ;; esac
	mkdir -p "$dir"
	console=$dir/console.log
	printf '\n=== %s (%s s)\n' "$name" "$SECS"
	"$REPO/tools/vm.sh" --flavour "$flavour" --out "$dir" \
		--timeout $((SECS * 3 + 1800)) --zram 512M --log "$console" "$@" \
		-- env KSM_MODULE="$ko" KSM_TESTS_BIN="$bin" \
		KSM_STRESS_SECONDS="$SECS" \
		KSM_STRESS_SEED="${KSM_STRESS_SEED:-}" \
		"$bin/ksm_stress_run.sh" "$mode"
	verdict=pass
	[ "$(field "$console" exit)" = 0 ] || verdict=fail
	[ "$(field "$console" corruptions)" = 0 ] || verdict=fail
	if ! "$REPO/tools/console-check.sh" "$console" >/dev/null; then
		verdict="fail (console)"
	fi
	[ "$verdict" = pass ] || failed=$((failed + 1))
	printf '%-16s %10s %12s %5s %7s %9s %9s %9s  %s\n' "$name" \
		"$(field "$console" ops)" "$(field "$console" checked)" \
		"$(field "$console" corruptions)" \
		"$(field "$console" reloads)" "$(field "$console" injected)" \
		"$(field "$console" max_sharing)" \
		"$(field "$console" kmemleak_ksm)" "$verdict" >> "$OUT/table.txt"
}

printf '%-16s %10s %12s %5s %7s %9s %9s %9s  %s\n' run operations \
	"pages checked" corr reloads injected "max share" kmemleak verdict \
	> "$OUT/table.txt"
one debug+module debug stress "$module"
one debug+faults debug faults "$module"
one debug+kmemleak debug leaks "$module" --append kmemleak=on
one stock stock stress ""

echo
echo "seconds per run: $SECS; logs in $OUT"
cat "$OUT/table.txt"
[ "$failed" -eq 0 ]
