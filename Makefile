# SPDX-License-Identifier: GPL-2.0
#
# ksm_mod: the project's commands.  The module itself is described by
# Kbuild; building it directly against a kernel tree also works:
#   make -C /path/to/kernel/build M=$PWD CONFIG_KSM_MOD=m modules
#
#   make run      build the test kernel and the module, boot a VM, load the
#                 module and show it working on a real workload
#   make check    lint, build, run the selftests on the debug and stock
#                 kernels; ends with "N passed, N failed"
#   make bench    ksm_mod on the release kernel against the built-in engine
#                 on the stock kernel; table in out/bench/table.txt
#   make stress   the randomized integrity stress on the debug kernel (plain,
#                 with allocation failures, with kmemleak) and on stock,
#                 STRESS_SECONDS each (default 300); table in out/stress
#   make module   build ksm_mod.ko against $(FLAVOUR) (debug by default)
#   make kernel   build the $(FLAVOUR) test kernel
#   make lint     checkpatch --strict, W=1 and sparse
#   make clean    remove outputs of this checkout (not the kernel cache)

FLAVOUR ?= debug

.PHONY: all run check bench stress module kernel lint deps clean

all: module

deps:
	tools/deps.sh

kernel: deps
	tools/kernel.sh build $(FLAVOUR)

module: kernel
	tools/module.sh build $(FLAVOUR)

lint: kernel
	tools/lint.sh $(FLAVOUR)

check:
	tools/check.sh

bench:
	tools/bench.sh

stress:
	tools/stress.sh

run:
	tools/run.sh $(FLAVOUR)

clean:
	rm -rf out
