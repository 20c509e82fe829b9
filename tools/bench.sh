#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/bench.sh - what `make bench` runs: ksm_mod on the release kernel
# against the built-in engine on the stock kernel, side by side.
#
# Builds what is missing (both kernels and the module are cached; the
# guest programs: bench/ksm_bench and upstream's ksm_tests), then boots one
# VM per engine and repeat, identical but for the kernel (tools/vm.sh, same
# QEMU options, memory, kernel command line, knobs and content seed), and
# runs every workload of bench/ksm_bench in it.  The module is insmod'ed
# by ksm_bench in its VMs; the stock kernel loads nothing.  The engine that
# goes first alternates from one repeat to the next.  tools/bench-report.py
# then writes the medians, the ratios module/stock and the targets.
#
# Usage: tools/bench.sh
#
# Env:
#   BENCH_REPEATS  VM runs per engine (default 3)
#   BENCH_FILTER   extended regex: only the workloads whose name matches
#                  (the names: ~/.cache/ksm_mod/bench/ksm_bench --list)
#   BENCH_OUT      output directory (default REPO/out/bench): results.json,
#                  table.txt, table.md, pages_sharing.svg, runs/ (raw JSON
#                  lines and the console log of every VM run)
#   BENCH_SEED     seed of the page contents (default 1)
#   BENCH_KSM_TESTS_MIB  ksm_tests -s for -P, -H and -D (default 100)
#   BENCH_MODULE_KERNEL, BENCH_MODULE, BENCH_STOCK_KERNEL
#                  use this kernel (bzImage or build dir) and ksm_mod.ko, and
#                  this stock kernel, instead of building release and stock
#                  (all three together; e.g. the debug kernel and its module)
#
# Progress: one line per workload as the guest finishes it, one per VM run.
# The table is printed last.  Exit status: 0 if every VM run finished and
# every workload succeeded (the targets do not count), 1 otherwise.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CACHE=${XDG_CACHE_HOME:-${HOME:?}/.cache}/ksm_mod
OUT=${BENCH_OUT:-$REPO/out/bench}
REPEATS=${BENCH_REPEATS:-3}
FILTER=${BENCH_FILTER:-}
SEED=${BENCH_SEED:-1}
KSM_TESTS_MIB=${BENCH_KSM_TESTS_MIB:-100}
# Both engines' VMs get exactly these.  slab_nomerge keeps every KSM cache
# under its own name in /proc/slabinfo instead of folded into a kmalloc
# cache of the same size.
VM_MEM=2G
VM_APPEND=slab_nomerge
VM_TIMEOUT=3600

say() { printf 'bench: %s\n' "$*"; }
die() { say "error: $*" >&2; exit 2; }
mmss() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

[[ "$REPEATS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEATS must be a positive number"
start=$SECONDS

# ---- build (cached) ----
"$REPO/tools/deps.sh"
if [ -n "${BENCH_MODULE_KERNEL:-}${BENCH_MODULE:-}${BENCH_STOCK_KERNEL:-}" ]; then
	module_kernel=${BENCH_MODULE_KERNEL:?set all of BENCH_MODULE_KERNEL, BENCH_MODULE, BENCH_STOCK_KERNEL}
	module=${BENCH_MODULE:?set all of BENCH_MODULE_KERNEL, BENCH_MODULE, BENCH_STOCK_KERNEL}
	stock_kernel=${BENCH_STOCK_KERNEL:?set all of BENCH_MODULE_KERNEL, BENCH_MODULE, BENCH_STOCK_KERNEL}
	module_label="$(basename "$module_kernel") (BENCH_MODULE_KERNEL)"
	stock_label="$(basename "$stock_kernel") (BENCH_STOCK_KERNEL)"
else
	say "building the release and stock kernels and the module (cached)"
	module_kernel=$("$REPO/tools/kernel.sh" build release | tail -n 1)
	stock_kernel=$("$REPO/tools/kernel.sh" build stock | tail -n 1)
	module=$("$REPO/tools/module.sh" build release | tail -n 1)
	module_label="release ($(basename "$module_kernel"))"
	stock_label="stock ($(basename "$stock_kernel"))"
fi
[ -f "$module" ] || die "no module at $module"
tests_bin=$CACHE/selftests
make -s -C "$REPO/selftests" O="$tests_bin" "$tests_bin/ksm_tests"
bench_bin=$CACHE/bench
make -s -C "$REPO/bench" O="$bench_bin"
workloads=$("$bench_bin/ksm_bench" --list --filter "$FILTER" | tr '\n' ' ')
[ -n "$workloads" ] || die "BENCH_FILTER='$FILTER' matches no workload"

rm -rf "$OUT"
mkdir -p "$OUT/runs"
say "workloads: $workloads"
say "$REPEATS repeat(s) per engine, output in $OUT"

# ---- the VM runs ----
failed=0
accel=unknown
nruns=$((2 * REPEATS))
n=0
for ((r = 1; r <= REPEATS; r++)); do
	if [ $((r % 2)) -eq 1 ]; then order="module stock"; else order="stock module"; fi
	for engine in $order; do
		n=$((n + 1))
		dir=$OUT/runs/$r-$engine
		mkdir -p "$dir"
		args=(--out "$dir/results.jsonl" --repeat "$r" --seed "$SEED"
		      --filter "$FILTER" --ksm-tests "$tests_bin/ksm_tests"
		      --ksm-tests-mib "$KSM_TESTS_MIB")
		if [ "$engine" = module ]; then
			kernel=$module_kernel
			args+=(--insmod "$module")
		else
			kernel=$stock_kernel
		fi
		say "[$n/$nruns] $engine, repeat $r"
		t0=$SECONDS
		{
			rc=0
			"$REPO/tools/vm.sh" --kernel "$kernel" --out "$dir" \
				--mem "$VM_MEM" --append "$VM_APPEND" \
				--timeout "$VM_TIMEOUT" -- \
				"$bench_bin/ksm_bench" "${args[@]}" 2>&1 || rc=$?
			echo "$rc" >"$dir/vm-status"
		} | while IFS= read -r line; do
			case $line in
			"bench: "*)
				printf '  %6s  %s\n' "$(mmss $((SECONDS - t0)))" \
					"${line#bench: }" ;;
			"vm.sh: kernel "*)
				sed -n 's/.*accel \([a-z]*\),.*/\1/p' <<<"$line" \
					>"$dir/accel" ;;
			esac
		done
		rc=$(cat "$dir/vm-status")
		[ -s "$dir/accel" ] && accel=$(cat "$dir/accel")
		if [ "$rc" -ne 0 ]; then
			failed=1
			say "[$n/$nruns] $engine, repeat $r: VM run FAILED (status $rc), log $dir/console.log"
		fi
		say "[$n/$nruns] $engine, repeat $r: $(mmss $((SECONDS - t0)))"
	done
done

# ---- report ----
elapsed=$((SECONDS - start))
host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
qemu_version=$(qemu-system-x86_64 --version | head -n 1)
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$REPO" diff --quiet HEAD -- ':(glob)*.[ch]' Kbuild 2>/dev/null ||
	commit="$commit with local changes"
BENCH_META_DATE=$(date -u '+%Y-%m-%d %H:%M UTC') \
BENCH_META_SOURCE="linux-source-6.12 $(tr -d '[:space:]' <"$REPO/kernel/SOURCE_VERSION")" \
BENCH_META_COMMIT=$commit \
BENCH_META_MODULE="$module_label, ksm_mod.ko" \
BENCH_META_STOCK="$stock_label, built-in KSM" \
BENCH_META_VM="tools/vm.sh, QEMU $accel, 2 vCPUs, 2 NUMA nodes, $VM_MEM, append '$VM_APPEND'" \
BENCH_META_HOST="$(nproc) CPUs, $host_cpu; $qemu_version" \
BENCH_META_ELAPSED=$elapsed REPEATS=$REPEATS FILTER=$FILTER SEED=$SEED \
KSM_TESTS_MIB=$KSM_TESTS_MIB \
python3 - "$OUT/meta.json" <<'EOF'
import json
import os
import sys

e = os.environ
json.dump({"date": e["BENCH_META_DATE"],
           "module_kernel": e["BENCH_META_MODULE"],
           "stock_kernel": e["BENCH_META_STOCK"],
           "source": e["BENCH_META_SOURCE"],
           "module_commit": e["BENCH_META_COMMIT"],
           "vm": e["BENCH_META_VM"], "host": e["BENCH_META_HOST"],
           "repeats": int(e["REPEATS"]), "filter": e["FILTER"],
           "seed": e["SEED"], "ksm_tests_mib": int(e["KSM_TESTS_MIB"]),
           "elapsed_s": int(e["BENCH_META_ELAPSED"])},
          open(sys.argv[1], "w"), indent=1)
EOF
echo
python3 "$REPO/tools/bench-report.py" "$OUT" || failed=1
grep -qs '"ok": *false' "$OUT"/runs/*/results.jsonl && failed=1
echo
say "results in $OUT (results.json, table.txt, table.md, pages_sharing.svg)"
say "total $(mmss "$elapsed")"
exit $failed
