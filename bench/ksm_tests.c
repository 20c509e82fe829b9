// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_tests.c - upstream's ksm_tests (tools/testing/selftests/mm, built
 * unmodified by selftests/Makefile) as workloads: run with the mode and
 * size of the workload, its "Total time:" lines parsed, and ksmd's CPU
 * time read around it.
 */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "ksm_bench.h"

const char *ksm_tests_path;
int ksm_tests_mib = 100;

static bool parse_after(const char *out, const char *from, const char *key,
			double *v)
{
	const char *p = from ? strstr(out, from) : out;

	if (!p)
		return false;
	p = strstr(p, key);
	return p && sscanf(p + strlen(key), " %lf", v) == 1;
}

/* Run ksm_tests -<mode> -p <arg> (-s 100 for the timed modes). */
bool run_ksm_tests(struct json *j, const struct workload *w)
{
	char mode[4] = { '-', w->mode, 0 }, pages_arg[24], mib_arg[24];
	char *out, dir[4096], *slash;
	const char *argv[8];
	struct sample s0, s1;
	int pfd[2], status, argc = 0;
	size_t len = 0, cap = 1 << 16;
	double v, deadline;
	bool ok, sized = w->mode != 'C';
	ssize_t n;
	pid_t pid;

	if (!ksm_tests_path) {
		json_str(j, "error", "no --ksm-tests");
		return false;
	}
	snprintf(pages_arg, sizeof(pages_arg), "%ld", w->arg);
	snprintf(mib_arg, sizeof(mib_arg), "%d", ksm_tests_mib);
	argv[argc++] = ksm_tests_path;
	argv[argc++] = mode;
	if (sized) {
		argv[argc++] = "-s";
		argv[argc++] = mib_arg;
	}
	argv[argc++] = "-p";
	argv[argc++] = pages_arg;
	argv[argc] = NULL;

	snprintf(dir, sizeof(dir), "%s", ksm_tests_path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	if (pipe(pfd))
		die("pipe");
	sample(&s0);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		if (slash && chdir(dir))
			_exit(127);
		execv(argv[0], (char * const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	out = malloc(cap);
	if (!out)
		die("malloc");
	/* ksm_tests gives up after its own 120 s limit; this is a backstop. */
	deadline = now() + 300;
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };

		if (poll(&p, 1, 1000) == 0) {
			if (now() > deadline)
				kill(pid, SIGKILL);
			continue;
		}
		if (cap - len < 4096) {
			cap *= 2;
			out = realloc(out, cap);
			if (!out)
				die("realloc");
		}
		n = read(pfd[0], out + len, cap - len - 1);
		if (n <= 0)
			break;
		len += n;
	}
	out[len] = 0;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	sample(&s1);
	ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	json_open(j, "command", '[');
	for (argc = 0; argv[argc]; argc++)
		json_str(j, NULL, argc ? argv[argc] : "ksm_tests");
	json_close(j, ']');
	json_open(j, "metrics", '{');
	json_int(j, "exit_status", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	json_num(j, "wall_s", s1.t - s0.t);
	json_num(j, "ksmd_cpu_s", s1.cpu - s0.cpu);
	if (w->mode == 'C') {
		if (parse_after(out, "Not merged pages:", "Total time:", &v))
			json_num(j, "cow_unmerged_s", v);
		if (parse_after(out, "Merged pages:", "Total time:", &v))
			json_num(j, "cow_s", v);
	} else if (w->mode == 'D') {
		if (parse_after(out, NULL, "Total time:", &v))
			json_num(j, "unmerge_s", v);
	} else if (parse_after(out, NULL, "Total time:", &v)) {
		/* -P, -H: the time to merge is two full scans of the area. */
		json_num(j, "merge_s", v);
		if (s1.cpu > s0.cpu)
			json_num(j, "pages_per_cpu_s",
				 2.0 * ksm_tests_mib * MIB / page_size /
				 (s1.cpu - s0.cpu));
		if (parse_after(out, NULL, "Average speed:", &v))
			json_num(j, "mib_per_s", v);
	}
	json_close(j, '}');
	if (!ok)
		json_str(j, "output", len > 2000 ? out + len - 2000 : out);
	free(out);
	return ok;
}
