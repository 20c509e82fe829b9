#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/lint.sh - the static checks of `make check`: checkpatch --strict
# (from the kernel source tree) on the module, the selftests, the benchmark
# and the kernel patches, and a from-scratch module build with W=1 and
# sparse (C=2) that must print no warning.
#
# Usage: tools/lint.sh [FLAVOUR]   (kernel to build against; default debug)
# Prints one line per check, "lint: N passed, N failed" last; exits non-zero
# if any check failed.

set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/ksm_mod
flavour=${1:-debug}
passed=0
failed=0

result() {
	if [ "$1" -eq 0 ]; then
		passed=$((passed + 1)); echo "ok - $2"
	else
		failed=$((failed + 1)); echo "not ok - $2"
	fi
}

src=$("$REPO/tools/kernel.sh" pristine | tail -n 1) || exit 1
checkpatch=(perl "$src/scripts/checkpatch.pl" --strict --no-tree --quiet
	    --show-types --summary-file)

cd "$REPO" || exit 1
mapfile -t module_files < <(git ls-files '*.c' '*.h' | grep -v '^selftests/')
mapfile -t test_files < <(git ls-files 'selftests/*.c' 'selftests/*.h' \
				 'bench/*.c' 'bench/*.h')

"${checkpatch[@]}" --file "${module_files[@]}"
result $? "checkpatch --strict: module sources"

# The harness's TEST()/FIXTURE() macros look like function definitions
# without a type to checkpatch, and its EXPECT_*() expand to more than one
# statement, so an if/else around them needs its braces; user space has
# <stdint.h> types and no BIT(), and touches test memory through volatile
# pointers so that the accesses happen; a test may meet ENOSYS from a
# system call the kernel was built without: only these are tolerated here.
ignore=SPACING,OPEN_BRACE,BRACES,PREFER_KERNEL_TYPES,BIT_MACRO,VOLATILE,ENOSYS
"${checkpatch[@]}" --ignore "$ignore" \
	--file "${test_files[@]}"
result $? "checkpatch --strict: selftests and bench"

# A new file under mm/ is covered by MAINTAINERS' "F: mm/" entry.  Absolute
# paths: checkpatch takes a relative path under kernel/ for a source file.
"${checkpatch[@]}" --ignore FILE_PATH_CHANGES "$REPO"/kernel/patches/*.patch
result $? "checkpatch --strict: kernel/patches"

out=$CACHE/module/lint-$flavour
rm -rf "$out"
log=$(mktemp)
KSM_MODULE_OUT=$out "$REPO/tools/module.sh" build "$flavour" W=1 C=2 \
	>/dev/null 2>"$log"
rc=$?
# Sparse cannot see the page-table lock (and RCU) that folio_walk_start(),
# page_vma_mapped_walk() and pte_offset_map_lock() take for their caller,
# so it reports a context imbalance wherever the lock is then dropped:
# upstream mm/ksm.c gets five of the same kind.  These six, nothing else.
allowed='context imbalance in .(ksm_unstable_page|ksm_lock_mapping|'
allowed+='ksm_unlock_mapping|ksm_break_page|ksm_collect_pmd|'
allowed+='ksm_break_find_pmd). - unexpected unlock'
if [ $rc -eq 0 ] &&
   grep -E 'warning:|error:' "$log" | grep -vE "$allowed"; then
	rc=1
fi
[ $rc -eq 0 ] || tail -n 40 "$log"
rm -f "$log"
result $rc "module build with W=1 and sparse C=2: no warnings"

echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
