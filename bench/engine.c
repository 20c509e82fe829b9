// SPDX-License-Identifier: GPL-2.0
/*
 * engine.c - the KSM engine as ksm_bench sees it, from the outside only:
 * the knobs and counters in /sys/kernel/mm/ksm, which both engines keep
 * with upstream's meaning, and ksmd's CPU time from procfs.  Also the
 * reset that every workload starts from.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksm_bench.h"

/* ---- knobs ---- */

int knob_set(const char *name, const char *val)
{
	char path[256];
	int err;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	err = write_file(path, val);
	if (err && err != -ENOENT)
		note("warning: %s = %s: %s", name, val, strerror(-err));
	return err;
}

void knob_set_int(const char *name, long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", val);
	knob_set(name, buf);
}

long knob_get(const char *name)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	if (read_file(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

/* Unmerge everything and put the upstream defaults back, ksmd stopped. */
void engine_reset(void)
{
	if (knob_set("run", "2"))
		die("echo 2 > run");
	knob_set("advisor_mode", "none");
	knob_set_int("pages_to_scan", 100);
	knob_set_int("sleep_millisecs", 20);
	knob_set_int("use_zero_pages", 0);
	knob_set_int("merge_across_nodes", 1);
	knob_set_int("max_page_sharing", 256);
	knob_set_int("smart_scan", 1);
	knob_set_int("stable_node_chains_prune_millisecs", 2000);
	knob_set("run", "0");
}

/* The knobs a workload ran with, into its result. */
void json_knobs(struct json *j)
{
	static const char * const knobs[] = {
		"pages_to_scan", "sleep_millisecs", "use_zero_pages",
		"merge_across_nodes", "max_page_sharing", "smart_scan",
	};
	size_t i;

	json_open(j, "knobs", '{');
	for (i = 0; i < ARRAY_SIZE(knobs); i++)
		json_int(j, knobs[i], knob_get(knobs[i]));
	json_close(j, '}');
}

/* ---- counters ---- */

static const char * const counter_names[C_NR] = {
	"full_scans", "pages_sharing", "pages_shared", "pages_unshared",
	"pages_volatile", "ksm_zero_pages", "pages_scanned",
};

/* Kept open: a sysfs read at offset 0 shows the value again. */
static int counter_fd[C_NR];

void counters_open(void)
{
	char path[256];
	int i;

	for (i = 0; i < C_NR; i++) {
		snprintf(path, sizeof(path), KSM_DIR "%s", counter_names[i]);
		counter_fd[i] = open(path, O_RDONLY);
		if (counter_fd[i] < 0 && i != C_SCANNED)
			die("open %s", path);
	}
}

long counter(enum counter c)
{
	char buf[64];
	ssize_t n;

	if (counter_fd[c] < 0)
		return -1;
	n = pread(counter_fd[c], buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		die("read %s", counter_names[c]);
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

/* ---- ksmd ---- */

pid_t ksmd_pid;

pid_t find_ksmd(void)
{
	char path[300], buf[512], *p;
	struct dirent *d;
	pid_t found = 0;
	DIR *dir;
	int ppid;

	dir = opendir("/proc");
	if (!dir)
		die("opendir /proc");
	while ((d = readdir(dir))) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		if (read_file(path, buf, sizeof(buf)))
			continue;
		/* "pid (comm) state ppid ...": a kernel thread has ppid 2 */
		p = strrchr(buf, ')');
		if (!p || !strstr(buf, "(ksmd)"))
			continue;
		if (sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == 2) {
			found = atoi(d->d_name);
			break;
		}
	}
	closedir(dir);
	return found;
}

/* utime + stime of ksmd, in seconds (clock tick resolution). */
static double ksmd_cpu_ticks(void)
{
	unsigned long utime, stime;
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", ksmd_pid);
	if (read_file(path, buf, sizeof(buf)))
		return NAN;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &utime, &stime) != 2)
		return NAN;
	return (double)(utime + stime) / sysconf(_SC_CLK_TCK);
}

/*
 * ksmd's CPU time in seconds: se.sum_exec_runtime from /proc/<pid>/sched
 * (nanosecond resolution, the runtime utime and stime are scaled from)
 * where the kernel has it, else utime + stime.
 */
double ksmd_cpu(void)
{
	char path[64], *buf, *p;
	double ms;

	snprintf(path, sizeof(path), "/proc/%d/sched", ksmd_pid);
	buf = slurp(path);
	if (buf) {
		p = strstr(buf, "se.sum_exec_runtime");
		if (p && sscanf(p, "se.sum_exec_runtime : %lf", &ms) == 1) {
			free(buf);
			return ms / 1e3;
		}
		free(buf);
	}
	return ksmd_cpu_ticks();
}

/* The clock, every counter and ksmd's CPU time, now. */
void sample(struct sample *s)
{
	int i;

	s->t = now();
	for (i = 0; i < C_NR; i++)
		s->c[i] = counter(i);
	s->cpu = ksmd_cpu();
}
