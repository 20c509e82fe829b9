#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/console-check.sh - owns the verdict on a guest console log: any
# kernel splat (BUG, WARNING, KASAN, Oops, lockdep, soft lockup, RCU stall,
# hung task, list/refcount corruption, call traces) fails the run. Prints each offending
# line with a few lines of context.
#
# Usage: tools/console-check.sh LOGFILE
# Exit:  0 clean, 1 splat found, 2 usage error or unreadable log.

set -euo pipefail

# Fixed strings, matched case-sensitively anywhere in a line.
patterns=(
	'BUG:'
	'WARNING:'
	'KASAN:'
	'Oops'
	'general protection fault'
	'Kernel panic'
	'soft lockup'
	'hung_task'
	'blocked for more than'
	'possible circular locking dependency'
	'possible recursive locking'
	'inconsistent lock state'
	'suspicious RCU usage'
	'rcu: INFO:'
	'INFO: possible irq lock inversion'
	'lock held when returning'
	'DEBUG_LOCKS_WARN_ON'
	'UBSAN:'
	'list_add corruption'
	'list_del corruption'
	'refcount_t:'
	'kernel BUG at'
	'Call Trace:'
)

main() {
	if [ $# -ne 1 ]; then
		echo "usage: $0 LOGFILE" >&2
		exit 2
	fi
	local logfile=$1 p hits count
	local -a args
	if [ ! -r "$logfile" ]; then
		echo "console-check: cannot read $logfile" >&2
		exit 2
	fi

	for p in "${patterns[@]}"; do
		args+=(-e "$p")
	done

	# The console log has CRs from the serial line; -a in case of stray bytes.
	if hits=$(tr -d '\r' <"$logfile" | grep -a -n -F -C 3 "${args[@]}"); then
		count=$(tr -d '\r' <"$logfile" | grep -a -c -F "${args[@]}" || true)
		printf 'console-check: %s: %s suspicious line(s):\n' "$logfile" "$count" >&2
		printf '%s\n' "$hits"
		return 1
	fi
	return 0
}

# One line, so a running instance never reads past it if this file is
# replaced while it runs.
main "$@"; exit
