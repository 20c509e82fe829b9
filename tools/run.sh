#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/run.sh - what `make run` does: install what is missing, build the
# test kernel and the module, boot a VM, load ksm_mod and run the demo
# workload (tools/demo-workload.py) on it, then unload the module.
#
# Usage: tools/run.sh [FLAVOUR]   (debug or release; default debug)

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
flavour=${1:-debug}
out=$REPO/out/run-$flavour

"$REPO/tools/deps.sh"
"$REPO/tools/kernel.sh" build "$flavour" >/dev/null
module=$("$REPO/tools/module.sh" build "$flavour" | tail -n 1)
mkdir -p "$out"
exec "$REPO/tools/vm.sh" --flavour "$flavour" --out "$out" -- \
	sh -c "insmod '$module' && '$REPO/tools/demo-workload.py' &&
	       rmmod ksm_mod && echo 'ksm_mod unloaded'"
