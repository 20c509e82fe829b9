// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress.c - randomized integrity stress of the KSM engine.
 *
 * Several worker processes do random operations on advised memory
 * (ksm_stress_worker.c) while a controller changes the engine's knobs and,
 * given a module, reloads it (ksm_stress_control.c).  Every page is checked
 * against what its worker last wrote after each operation that touches it,
 * in full sweeps, through /proc/self/mem and process_vm_readv, in forked
 * children, and once more after the final run = 2, when no page may be
 * shared any more.  One seed drives every decision; a failure prints it.
 *
 *   ksm_stress [-s SEED] [-t SECONDS] [-w WORKERS] [-p PAGES]
 *              [-m MODULE.ko] [-f PERCENT] [-v]
 *
 * Defaults come from KSM_STRESS_SEED (else the clock), KSM_STRESS_SECONDS
 * (60), KSM_STRESS_MODULE (none: the knobs only), KSM_STRESS_FAIL_PERCENT
 * (0; -f fails that share of the module's allocations, ksm_stress_fault.c).
 * Exit status 0 when every check held, 1 on a failure, 4 (kselftest's
 * skip) without KSM.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksm_stress.h"
#include "ksm_util.h"

static pid_t spawn(const struct stress_config *cfg, struct stress_shared *sh,
		   int id)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(id < 0 ? stress_controller(cfg, sh) :
			       stress_worker(cfg, sh, id));
	return pid;
}

/* Reap @pid within @timeout_ms (SIGKILL after that); true if it exited 0. */
static bool reap(pid_t pid, const char *who, unsigned int timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	int status;
	pid_t got;

	while ((got = waitpid(pid, &status, WNOHANG)) == 0) {
		if (now_ms() > deadline) {
			printf("# %s (pid %d) did not stop: killed\n", who, pid);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return false;
		}
		usleep(10000);
	}
	if (got == pid && WIFEXITED(status) && !WEXITSTATUS(status))
		return true;
	printf("# %s (pid %d) ended with status %#x\n", who, pid, status);
	return false;
}

/* Sleep until the deadline, or until some process reports a failure. */
static void wait_deadline(const struct stress_config *cfg,
			  struct stress_shared *sh)
{
	uint64_t deadline = now_ms() + cfg->seconds * 1000ULL;

	while (now_ms() < deadline &&
	       !__atomic_load_n(&sh->failed, __ATOMIC_RELAXED))
		usleep(50000);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
}

static void report(const struct stress_config *cfg,
		   const struct stress_shared *sh, bool ok, uint64_t ms)
{
	uint64_t total = 0;
	int i;

	printf("# seed %#llx, %u workers of %u pages, %.1f s\n",
	       (unsigned long long)cfg->seed, cfg->workers, cfg->pages, ms / 1000.0);
	printf("# %-18s %10s %10s\n", "operation", "done", "refused");
	for (i = 0; i < NR_STRESS_OPS; i++) {
		printf("# %-18s %10llu %10llu\n", stress_op_names[i],
		       (unsigned long long)sh->ops[i],
		       (unsigned long long)sh->op_errors[i]);
		total += sh->ops[i];
	}
	for (i = 0; i < NR_STRESS_KNOB_OPS; i++)
		printf("# %-18s %10llu %10llu\n", stress_knob_op_names[i],
		       (unsigned long long)sh->knob_ops[i],
		       (unsigned long long)sh->knob_refused[i]);
	printf("# operations %llu, pages checked %llu, corruptions %llu\n",
	       (unsigned long long)total,
	       (unsigned long long)sh->pages_checked,
	       (unsigned long long)sh->corruptions);
	printf("# module reloads %llu, allocations failed on purpose %llu\n",
	       (unsigned long long)sh->reloads,
	       (unsigned long long)sh->faults_injected);
	printf("# merging seen: pages_sharing up to %llu, %llu frames shared\n",
	       (unsigned long long)sh->max_sharing,
	       (unsigned long long)sh->merged_seen);
	printf("%s 1 ksm_stress seed=%#llx\n", ok ? "ok" : "not ok",
	       (unsigned long long)cfg->seed);
}

static const char usage[] =
	"[-s SEED] [-t SECONDS] [-w WORKERS] [-p PAGES] [-m MODULE.ko] [-f PERCENT] [-v]";

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static int parse_args(int argc, char **argv, struct stress_config *cfg)
{
	static char module_name[64];
	const char *base;
	int opt;

	cfg->seed = env_u64("KSM_STRESS_SEED", ksm_test_seed("ksm_stress"));
	cfg->seconds = (unsigned int)env_u64("KSM_STRESS_SECONDS", 60);
	cfg->workers = 3;
	cfg->pages = 1024;
	cfg->module = getenv("KSM_STRESS_MODULE");
	if (cfg->module && !*cfg->module)
		cfg->module = NULL;
	cfg->fail_percent = (unsigned int)env_u64("KSM_STRESS_FAIL_PERCENT", 0);
	while ((opt = getopt(argc, argv, "s:t:w:p:m:f:v")) != -1) {
		switch (opt) {
		case 'f':
			cfg->fail_percent = atoi(optarg);
			break;
		case 's':
			cfg->seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			cfg->seconds = atoi(optarg);
			break;
		case 'w':
			cfg->workers = atoi(optarg);
			break;
		case 'p':
			cfg->pages = atoi(optarg);
			break;
		case 'm':
			cfg->module = optarg;
			break;
		case 'v':
			cfg->verbose = true;
			break;
		default:
			return -EINVAL;
		}
	}
	if (!cfg->workers || cfg->workers > STRESS_MAX_WORKERS ||
	    !cfg->pages || cfg->pages % 512 || cfg->fail_percent > 100)
		return -EINVAL;
	if (cfg->module) {
		/* "dir/ksm_mod.ko" is module ksm_mod. */
		base = strrchr(cfg->module, '/');
		base = base ? base + 1 : cfg->module;
		snprintf(module_name, sizeof(module_name), "%.*s",
			 (int)strcspn(base, "."), base);
		cfg->module_name = module_name;
	}
	cfg->numa = numa_node_present(0) && numa_node_present(1);
	cfg->self = "/proc/self/exe";
	return 0;
}

/*
 * Fault injection needs the module (the failures are aimed at its code)
 * and the debug kernel's fault attributes; without either it is off, and
 * the report says so.
 */
static void fault_check(struct stress_config *cfg)
{
	if (!cfg->fail_percent)
		return;
	if (!cfg->module) {
		printf("# no module: no allocation failures to aim\n");
		cfg->fail_percent = 0;
	} else if (access("/sys/kernel/debug/failslab/probability", W_OK) ||
		   access("/sys/kernel/debug/fail_page_alloc/probability",
			  W_OK)) {
		printf("# no failslab/fail_page_alloc: no fault injection\n");
		cfg->fail_percent = 0;
	} else {
		printf("# %u%% of the module's allocations fail\n",
		       cfg->fail_percent);
	}
}

/* Start from a known engine state: nothing merged, plain scanning. */
static int engine_setup(void)
{
	int err = ksm_write_str("run", "2");

	err = err ?: ksm_write_str("advisor_mode", "none");
	err = err ?: ksm_write_str("pages_to_scan", "1000");
	err = err ?: ksm_write_str("sleep_millisecs", "10");
	return err ?: ksm_write_str("run", "1");
}

int main(int argc, char **argv)
{
	struct stress_config cfg = { 0 };
	pid_t workers[STRESS_MAX_WORKERS], controller;
	struct stress_shared *sh;
	struct ksm_knobs saved;
	uint64_t start;
	char name[32];
	bool ok = true;
	unsigned int i;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "--exec-child"))
		return stress_exec_child(strtoull(argv[2], NULL, 0),
					 atoi(argv[3]));
	if (parse_args(argc, argv, &cfg)) {
		fprintf(stderr, "usage: %s %s\n", argv[0], usage);
		return 2;
	}
	printf("TAP version 13\n1..1\n");
	if (!ksm_sysfs_present()) {
		printf("ok 1 ksm_stress # SKIP no %s\n", KSM_SYSFS_DIR);
		return KSFT_SKIP;
	}
	printf("# seed %#llx (KSM_STRESS_SEED=%#llx replays it), %u s%s%s\n",
	       (unsigned long long)cfg.seed, (unsigned long long)cfg.seed,
	       cfg.seconds, cfg.module ? ", reloading " : "",
	       cfg.module ?: "");
	fault_check(&cfg);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || ksm_save_knobs(&saved)) {
		printf("not ok 1 ksm_stress # setup: %s\n", strerror(errno));
		return 1;
	}
	err = engine_setup();
	if (err) {
		printf("not ok 1 ksm_stress # knobs: %s\n", strerror(-err));
		ksm_restore_knobs(&saved);
		return 1;
	}

	start = now_ms();
	for (i = 0; i < cfg.workers; i++)
		workers[i] = spawn(&cfg, sh, (int)i);
	controller = spawn(&cfg, sh, -1);
	wait_deadline(&cfg, sh);
	ok &= reap(controller, "controller", 60000);
	if (cfg.fail_percent)
		stress_fault_reset();

	/* The end: unmerge everything; workers then find nothing shared. */
	err = ksm_write_str("run", "2");
	if (err) {
		printf("# final run = 2 failed: %s\n", strerror(-err));
		ok = false;
	} else {
		__atomic_store_n(&sh->unmerged, 1, __ATOMIC_RELEASE);
	}
	for (i = 0; i < cfg.workers; i++) {
		snprintf(name, sizeof(name), "worker %u", i);
		ok &= reap(workers[i], name, 180000);
	}
	ok &= !sh->failed && !sh->corruptions;
	if (ksm_restore_knobs(&saved))
		printf("# some knobs could not be restored\n");
	report(&cfg, sh, ok, now_ms() - start);
	return ok ? 0 : 1;
}
