// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_bench.c - the guest side of `make bench`.
 *
 * Owns the benchmark workloads and how they are measured.  It runs in the
 * test VM as root, against whichever engine the kernel has (ksm_mod.ko,
 * loaded by --insmod, or the built-in one), and judges both from the
 * outside only: the counters in /sys/kernel/mm/ksm, ksmd's CPU time from
 * /proc/<pid>/sched (or stat), the engine's slab caches, its vmalloc and
 * (traced) large kmalloc allocations, and the wall clock.  Every workload
 * starts from "echo 2 > run" and the upstream default knobs, and prints
 * one JSON object on a line of its own (to --out, or to stdout); progress
 * goes to stderr.  tools/bench.sh runs it, tools/bench-report.py reads it.
 *
 * This file has the options, the list of workloads and the loop that runs
 * them; ksm_bench.h says which file owns what else.
 *
 * Usage: ksm_bench [--out FILE] [--filter REGEX] [--insmod KO]
 *                  [--ksm-tests PATH] [--repeat N] [--seed N] [--list]
 * Documentation/bench.md describes the workloads and metrics.
 */
#include <fcntl.h>
#include <getopt.h>
#include <regex.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "ksm_bench.h"

long page_size;
unsigned long seed = 1;
bool verbose;
static int repeat;
static const char *engine = "stock";

static const struct workload workloads[] = {
	{ .name = "mixed-sleep0", .run = run_mixed, .arg = 0 },
	{ .name = "mixed-sleep20", .run = run_mixed, .arg = 20 },
	{ .name = "zero-z0", .run = run_zero, .arg = 0 },
	{ .name = "zero-z1", .run = run_zero, .arg = 1 },
	{ .name = "sparse", .run = run_sparse },
	{ .name = "unique", .run = run_unique },
	{ .name = "cow", .run = run_cow },
	{ .name = "cow-fork", .run = run_cow_fork },
	{ .name = "unmerge", .run = run_unmerge },
	{ .name = "membw", .run = run_membw },
	{ .name = "collide", .run = run_collide, .arg = K_COLLIDE },
	{ .name = "collide-ref", .run = run_collide, .arg = K_UNIQUE },
	{ .name = "mps10000", .run = run_mps, .arg = 10000 },
	{ .name = "ksm_tests-P-p10", .run = run_ksm_tests, .arg = 10, .mode = 'P' },
	{ .name = "ksm_tests-P-p100", .run = run_ksm_tests, .arg = 100, .mode = 'P' },
	{ .name = "ksm_tests-P-p1000", .run = run_ksm_tests, .arg = 1000, .mode = 'P' },
	{ .name = "ksm_tests-H-p10", .run = run_ksm_tests, .arg = 10, .mode = 'H' },
	{ .name = "ksm_tests-H-p100", .run = run_ksm_tests, .arg = 100, .mode = 'H' },
	{ .name = "ksm_tests-H-p1000", .run = run_ksm_tests, .arg = 1000, .mode = 'H' },
	{ .name = "ksm_tests-D-p10", .run = run_ksm_tests, .arg = 10, .mode = 'D' },
	{ .name = "ksm_tests-D-p100", .run = run_ksm_tests, .arg = 100, .mode = 'D' },
	{ .name = "ksm_tests-D-p1000", .run = run_ksm_tests, .arg = 1000, .mode = 'D' },
	{ .name = "ksm_tests-C-p10", .run = run_ksm_tests, .arg = 10, .mode = 'C' },
	{ .name = "ksm_tests-C-p100", .run = run_ksm_tests, .arg = 100, .mode = 'C' },
	{ .name = "ksm_tests-C-p1000", .run = run_ksm_tests, .arg = 1000, .mode = 'C' },
};

static void load_module(const char *ko)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("open %s", ko);
	if (syscall(SYS_finit_module, fd, "", 0))
		die("insmod %s", ko);
	close(fd);
}

static void print_usage(void)
{
	fprintf(stderr,
		"usage: ksm_bench [--out FILE] [--filter REGEX] [--insmod KO]\n"
		"                 [--ksm-tests PATH] [--repeat N] [--seed N] [--list]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "filter", required_argument, NULL, 'f' },
		{ "insmod", required_argument, NULL, 'i' },
		{ "ksm-tests", required_argument, NULL, 't' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "list", no_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "ksm-tests-mib", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	const char *filter = NULL, *insmod = NULL;
	bool list = false, ok;
	struct json j = { 0 };
	struct utsname uts;
	regex_t re;
	size_t i;
	double t;
	int opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			json_out = fopen(optarg, "a");
			if (!json_out)
				die("open %s", optarg);
			break;
		case 'f':
			filter = optarg;
			break;
		case 'i':
			insmod = optarg;
			break;
		case 't':
			ksm_tests_path = optarg;
			break;
		case 'r':
			repeat = atoi(optarg);
			break;
		case 's':
			seed = strtoul(optarg, NULL, 0);
			break;
		case 'l':
			list = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'm':
			ksm_tests_mib = atoi(optarg);
			break;
		default:
			print_usage();
		}
	}
	if (filter && *filter && regcomp(&re, filter, REG_EXTENDED | REG_NOSUB))
		die("bad --filter '%s'", filter);
	if (list) {
		for (i = 0; i < ARRAY_SIZE(workloads); i++)
			if (!filter || !*filter ||
			    !regexec(&re, workloads[i].name, 0, NULL, 0))
				puts(workloads[i].name);
		return 0;
	}
	page_size = sysconf(_SC_PAGESIZE);
	uname(&uts);

	/* Metadata tracing must see the module's first allocations. */
	if (!filter || !*filter || !regexec(&re, "mixed-sleep0", 0, NULL, 0))
		trace_start();
	if (insmod) {
		load_module(insmod);
		engine = "module";
	} else if (!access("/sys/module/ksm_mod", F_OK)) {
		engine = "module";
	}
	if (access(KSM_DIR "run", W_OK))
		die("no " KSM_DIR "run");
	ksmd_pid = find_ksmd();
	if (!ksmd_pid)
		die("no ksmd thread");
	counters_open();
	note("engine %s, kernel %s, ksmd pid %d", engine, uts.release,
	     ksmd_pid);

	for (i = 0; i < ARRAY_SIZE(workloads); i++) {
		const struct workload *w = &workloads[i];

		if (filter && *filter && regexec(&re, w->name, 0, NULL, 0))
			continue;
		engine_reset();
		json_begin(&j);
		json_str(&j, "workload", w->name);
		json_str(&j, "engine", engine);
		json_str(&j, "kernel", uts.release);
		json_int(&j, "repeat", repeat);
		json_int(&j, "seed", seed);
		t = now();
		ok = w->run(&j, w);
		t = now() - t;
		json_bool(&j, "ok", ok);
		json_num(&j, "elapsed_s", t);
		json_emit(&j);
		note("%-20s %s %6.1f s", w->name, ok ? "ok    " : "FAILED", t);
	}
	trace_stop();
	engine_reset();
	return 0;
}
