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
 * one JSON object on a line of its own (to stdout and to --out); progress
 * goes to stderr.  tools/bench.sh runs it, tools/bench-report.py reads it.
 *
 * Usage: ksm_bench [--out FILE] [--filter REGEX] [--insmod KO]
 *                  [--ksm-tests PATH] [--repeat N] [--seed N] [--list]
 * Documentation/bench.md describes the workloads and metrics.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KSM_DIR "/sys/kernel/mm/ksm/"
#define TRACE_DIR "/sys/kernel/tracing/"
#define MIB (1024UL * 1024UL)
#define SAMPLE_NS 10000000L	/* counters are sampled every 10 ms */

/* Workload sizes; Documentation/bench.md explains the choice. */
#define MIXED_PROCS	8
#define MIXED_MIB	32
#define ZERO_MIB	32
#define SPARSE_MIB	1024
#define SPARSE_STRIDE	(2 * MIB)
#define UNIQUE_MIB	64
#define COW_MIB		64
#define PATTERNS	64
#define ROUNDS		5	/* of the COW and unmerge measurements */
#define MEMBW_MIB	64
#define MEMBW_PASSES	4
#define MEMBW_ROUNDS	3

static long page_size;
static FILE *out_file;
static unsigned long seed = 1;
static int repeat;
static bool verbose;
static const char *engine = "stock";
static const char *ksm_tests_path;
static int ksm_tests_mib = 100;

/* ---- messages ---- */

static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static noreturn void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (%s)\n", strerror(errno));
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- JSON, one object per line ---- */

struct json {
	char *buf;
	size_t len, cap;
	bool first[16];
	int depth;
};

static void json_put(struct json *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(j->buf + j->len, j->cap - j->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("vsnprintf");
		if (j->len + n < j->cap)
			break;
		j->cap = 2 * (j->cap + n);
		j->buf = realloc(j->buf, j->cap);
		if (!j->buf)
			die("realloc");
	}
	j->len += n;
}

static void json_sep(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		json_put(j, ",");
	j->first[j->depth] = false;
	if (key)
		json_put(j, "\"%s\":", key);
}

static void json_open(struct json *j, const char *key, char bracket)
{
	if (j->depth >= (int)ARRAY_SIZE(j->first) - 1)
		die("json nesting");
	if (j->depth >= 0)
		json_sep(j, key);
	json_put(j, "%c", bracket);
	j->first[++j->depth] = true;
}

static void json_close(struct json *j, char bracket)
{
	json_put(j, "%c", bracket);
	j->depth--;
}

static void json_begin(struct json *j)
{
	j->len = 0;
	j->depth = -1;
	json_open(j, NULL, '{');
}

static void json_num(struct json *j, const char *key, double v)
{
	json_sep(j, key);
	if (isfinite(v))
		json_put(j, "%.9g", v);
	else
		json_put(j, "null");
}

static void json_int(struct json *j, const char *key, long long v)
{
	json_sep(j, key);
	json_put(j, "%lld", v);
}

static void json_bool(struct json *j, const char *key, bool v)
{
	json_sep(j, key);
	json_put(j, v ? "true" : "false");
}

static void json_str(struct json *j, const char *key, const char *s)
{
	json_sep(j, key);
	json_put(j, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			json_put(j, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			json_put(j, "\\u%04x", *s);
		else
			json_put(j, "%c", *s);
	}
	json_put(j, "\"");
}

static void json_emit(struct json *j)
{
	json_close(j, '}');
	json_put(j, "\n");
	fwrite(j->buf, 1, j->len, out_file ? out_file : stdout);
	fflush(out_file ? out_file : stdout);
}

/* ---- files ---- */

static int read_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

/* The whole of a (proc, trace) file, NUL-terminated; free() it. */
static char *slurp(const char *path)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t n;
	int fd;

	if (!buf)
		die("malloc");
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("realloc");
		}
	}
	close(fd);
	buf[len] = 0;
	return buf;
}

static int write_file(const char *path, const char *val)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	if (n < 0)
		return -errno;
	return 0;
}

/* ---- knobs and counters ---- */

static int knob_set(const char *name, const char *val)
{
	char path[256];
	int err;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	err = write_file(path, val);
	if (err && err != -ENOENT)
		note("warning: %s = %s: %s", name, val, strerror(-err));
	return err;
}

static void knob_set_int(const char *name, long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", val);
	knob_set(name, buf);
}

static long knob_get(const char *name)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	if (read_file(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

enum counter {
	C_FULL_SCANS, C_SHARING, C_SHARED, C_UNSHARED, C_VOLATILE,
	C_ZERO, C_SCANNED, C_NR
};

static const char * const counter_names[C_NR] = {
	"full_scans", "pages_sharing", "pages_shared", "pages_unshared",
	"pages_volatile", "ksm_zero_pages", "pages_scanned",
};

/* Kept open: a sysfs read at offset 0 shows the value again. */
static int counter_fd[C_NR];

static void counters_open(void)
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

static long counter(enum counter c)
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

static pid_t ksmd_pid;

static pid_t find_ksmd(void)
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
static double ksmd_cpu(void)
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

/* ---- engine state ---- */

struct sample {
	double t, cpu;
	long c[C_NR];
};

static void sample(struct sample *s)
{
	int i;

	s->t = now();
	for (i = 0; i < C_NR; i++)
		s->c[i] = counter(i);
	s->cpu = ksmd_cpu();
}

/* Unmerge everything and put the upstream defaults back, ksmd stopped. */
static void engine_reset(void)
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

static void json_knobs(struct json *j)
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

/* ---- page content ---- */

static unsigned long long mix64(unsigned long long x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A page of pseudo-random words, a function of the seed and @key only. */
static void fill_page(char *page, unsigned long long key)
{
	unsigned long long *w = (unsigned long long *)page;
	unsigned long long x = mix64(key ^ mix64(seed));
	long i;

	for (i = 0; i < page_size / 8; i++) {
		x = mix64(x);
		w[i] = x;
	}
}

static unsigned long long page_key(int class, int proc, unsigned long idx)
{
	return ((unsigned long long)class << 56) ^
	       ((unsigned long long)proc << 40) ^ idx;
}

/*
 * The mixed workload's pages: one in 32 is rewritten all the time, one in
 * 8 is unique to its process, the rest are the same in every process.
 */
static bool mixed_churn(unsigned long i)
{
	return i % 32 == 31;
}

static void fill_mixed(char *area, unsigned long pages, int proc)
{
	unsigned long i;

	for (i = 0; i < pages; i++) {
		char *page = area + i * page_size;

		if (mixed_churn(i))
			fill_page(page, page_key(3, proc, i));
		else if (i % 8 == 3)
			fill_page(page, page_key(2, proc, i));
		else
			fill_page(page, page_key(1, 0, i));
	}
}

/* ---- worker processes holding mergeable memory ---- */

enum content { K_MIXED, K_ZERO, K_UNIQUE, K_SPARSE, K_PATTERN };

struct worker {
	pid_t pid;
	int cmd;	/* parent -> worker: one command byte */
	int res;	/* worker -> parent: 'r' when ready, then doubles */
	unsigned long pages;	/* pages populated */
};

static void worker_fill(enum content kind, char *area, size_t bytes, int proc,
			unsigned long *pages)
{
	unsigned long n = bytes / page_size, i;

	*pages = n;
	switch (kind) {
	case K_MIXED:
		fill_mixed(area, n, proc);
		break;
	case K_ZERO:
		for (i = 0; i < n; i++)
			area[i * page_size] = 0;
		break;
	case K_UNIQUE:
		for (i = 0; i < n; i++)
			fill_page(area + i * page_size, page_key(2, proc, i));
		break;
	case K_SPARSE:
		*pages = 0;
		for (i = 0; i < bytes; i += SPARSE_STRIDE, (*pages)++)
			fill_page(area + i, page_key(2, proc, i / page_size));
		break;
	case K_PATTERN:
		for (i = 0; i < n; i++)
			fill_page(area + i * page_size,
				  page_key(4, 0, i % PATTERNS));
		break;
	}
}

/* Write one byte into each page; returns the seconds it took. */
static double write_each_page(char *area, size_t bytes)
{
	double t = now();
	size_t i;

	for (i = 0; i < bytes; i += page_size)
		area[i] ^= 1;
	return now() - t;
}

/*
 * Fork, and let the child write one byte into each page: COW faults on
 * pages that a fork shares, not KSM pages.  Returns the child's time.
 */
static double fork_and_write(char *area, size_t bytes)
{
	double t = NAN;
	int p[2], status;
	pid_t pid;

	if (pipe(p))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		close(p[0]);
		t = write_each_page(area, bytes);
		_exit(write(p[1], &t, sizeof(t)) != sizeof(t));
	}
	close(p[1]);
	if (read(p[0], &t, sizeof(t)) != sizeof(t))
		t = NAN;
	close(p[0]);
	waitpid(pid, &status, 0);
	return t;
}

static double worker_cmd_run(char cmd, char *area, size_t bytes)
{
	double t = now();

	switch (cmd) {
	case 'c':	/* write one byte into each page */
		return write_each_page(area, bytes);
	case 'f':
		return fork_and_write(area, bytes);
	case 'u':
		if (madvise(area, bytes, MADV_UNMERGEABLE))
			return -errno;
		break;
	case 'm':
		if (madvise(area, bytes, MADV_MERGEABLE))
			return -errno;
		break;
	}
	return now() - t;
}

static noreturn void
worker_main(enum content kind, size_t bytes, int proc, int cmd, int res)
{
	unsigned long pages, i, gen = 0;
	struct pollfd pfd = { .fd = cmd, .events = POLLIN };
	char c = 'r', *area;
	double t;

	area = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		die("mmap %zu", bytes);
	/* 4 KiB pages: THP merging is what ksm_tests -H measures. */
	if (madvise(area, bytes, MADV_NOHUGEPAGE))
		die("MADV_NOHUGEPAGE");
	worker_fill(kind, area, bytes, proc, &pages);
	if (madvise(area, bytes, MADV_MERGEABLE))
		die("MADV_MERGEABLE");
	if (write(res, &pages, sizeof(pages)) != sizeof(pages))
		_exit(1);
	for (;;) {
		if (poll(&pfd, 1, kind == K_MIXED ? 50 : -1) > 0) {
			if (read(cmd, &c, 1) != 1 || c == 'q')
				_exit(0);
			t = worker_cmd_run(c, area, bytes);
			if (write(res, &t, sizeof(t)) != sizeof(t))
				_exit(1);
			continue;
		}
		/* The mixed workload rewrites its churn pages. */
		gen++;
		for (i = 31; i < pages; i += 32)
			((unsigned long *)(area + i * page_size))[0] = gen;
	}
}

static void worker_start(struct worker *w, enum content kind, size_t bytes,
			 int proc)
{
	int to_w[2], from_w[2];

	if (pipe(to_w) || pipe(from_w))
		die("pipe");
	fflush(NULL);
	w->pid = fork();
	if (w->pid < 0)
		die("fork");
	if (!w->pid) {
		int fd;

		/*
		 * Other workers' pipe ends too: a worker sees its command pipe
		 * close only when the parent's end is the last one.
		 */
		for (fd = 3; fd < 1024; fd++)
			if (fd != to_w[0] && fd != from_w[1])
				close(fd);
		worker_main(kind, bytes, proc, to_w[0], from_w[1]);
	}
	close(to_w[0]);
	close(from_w[1]);
	w->cmd = to_w[1];
	w->res = from_w[0];
}

/* Wait until the worker has filled and advised its memory. */
static void worker_ready(struct worker *w)
{
	if (read(w->res, &w->pages, sizeof(w->pages)) != sizeof(w->pages))
		die("worker %d did not get ready", w->pid);
}

static double worker_cmd(struct worker *w, char c)
{
	double t;

	if (write(w->cmd, &c, 1) != 1 ||
	    read(w->res, &t, sizeof(t)) != sizeof(t))
		die("worker %d command %c", w->pid, c);
	return t;
}

static void worker_stop(struct worker *w)
{
	int status;

	close(w->cmd);
	close(w->res);
	waitpid(w->pid, &status, 0);
}

/* Start @n workers, wait for all of them; returns the pages they hold. */
static unsigned long workers_start(struct worker *w, int n, enum content kind,
				   size_t bytes)
{
	unsigned long pages = 0;
	int i;

	for (i = 0; i < n; i++)
		worker_start(&w[i], kind, bytes, i);
	for (i = 0; i < n; i++) {
		worker_ready(&w[i]);
		pages += w[i].pages;
	}
	return pages;
}

static void workers_stop(struct worker *w, int n)
{
	int i;

	for (i = 0; i < n; i++)
		worker_stop(&w[i]);
}

/* ---- convergence ---- */

struct series {
	double *t;
	long *sharing, *scans;
	size_t n, cap;
};

struct converge {
	/* in */
	double timeout;
	bool expect_merge;
	struct series *series;
	/* out, times and CPU relative to "run = 1" */
	bool converged;
	double t_converged, t_detected;
	double cpu_converged, cpu_detected;
	long scans;
	struct sample start, end;
};

static void series_add(struct series *s, double t, const struct sample *x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->t = realloc(s->t, s->cap * sizeof(*s->t));
		s->sharing = realloc(s->sharing, s->cap * sizeof(*s->sharing));
		s->scans = realloc(s->scans, s->cap * sizeof(*s->scans));
		if (!s->t || !s->sharing || !s->scans)
			die("realloc");
	}
	s->t[s->n] = t;
	s->sharing[s->n] = x->c[C_SHARING];
	s->scans[s->n] = x->c[C_FULL_SCANS];
	s->n++;
}

static bool merged_state_differs(const struct sample *a,
				 const struct sample *b)
{
	return a->c[C_SHARING] != b->c[C_SHARING] ||
	       a->c[C_SHARED] != b->c[C_SHARED] ||
	       a->c[C_ZERO] != b->c[C_ZERO];
}

static void tick(struct timespec *next)
{
	next->tv_nsec += SAMPLE_NS;
	if (next->tv_nsec >= 1000000000L) {
		next->tv_nsec -= 1000000000L;
		next->tv_sec++;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) ==
	       EINTR)
		;
}

/*
 * Start ksmd (run = 1) and sample the counters until the merged state
 * (pages_sharing, pages_shared, ksm_zero_pages) has not changed while
 * full_scans advanced by 2.  "Converged" is the first sample showing the
 * final state.  With expect_merge, a state with nothing merged does not
 * count (smart scan may skip pages for a few scans before they merge).
 */
static void converge(struct converge *c)
{
	struct sample s, prev, change;
	struct timespec next;
	bool changed = false;
	double shown = 0, plotted = 0;

	sample(&c->start);
	prev = c->start;
	change = c->start;
	clock_gettime(CLOCK_MONOTONIC, &next);
	if (knob_set("run", "1"))
		die("echo 1 > run");
	c->start.t = now();
	c->converged = false;
	for (;;) {
		tick(&next);
		sample(&s);
		/* The plot needs the changes, and a point now and then. */
		if (c->series && (s.c[C_SHARING] != prev.c[C_SHARING] ||
				  s.c[C_FULL_SCANS] != prev.c[C_FULL_SCANS] ||
				  s.t >= plotted + 0.25)) {
			series_add(c->series, s.t - c->start.t, &s);
			plotted = s.t;
		}
		if (merged_state_differs(&s, &prev)) {
			change = s;
			changed = true;
		}
		prev = s;
		if (verbose && s.t >= shown + 2) {
			shown = s.t;
			note("  %5.1f s: full_scans %ld, pages_sharing %ld, ksmd %.2f s",
			     s.t - c->start.t, s.c[C_FULL_SCANS] -
			     c->start.c[C_FULL_SCANS], s.c[C_SHARING],
			     s.cpu - c->start.cpu);
		}
		if (s.c[C_FULL_SCANS] >= change.c[C_FULL_SCANS] + 2 &&
		    (!c->expect_merge || s.c[C_SHARING] + s.c[C_ZERO] > 0)) {
			c->converged = true;
			break;
		}
		if (s.t - c->start.t > c->timeout)
			break;
	}
	c->end = s;
	c->t_converged = changed ? change.t - c->start.t : 0;
	c->cpu_converged = changed ? change.cpu - c->start.cpu : 0;
	c->t_detected = s.t - c->start.t;
	c->cpu_detected = s.cpu - c->start.cpu;
	c->scans = s.c[C_FULL_SCANS] - c->start.c[C_FULL_SCANS];
	if (verbose)
		note("  %s after %.2f s, %ld full scans: sharing %ld -> %ld, shared %ld -> %ld",
		     c->converged ? "converged" : "NOT converged", c->t_detected,
		     c->scans, c->start.c[C_SHARING], s.c[C_SHARING],
		     c->start.c[C_SHARED], s.c[C_SHARED]);
}

static void json_converge(struct json *j, const struct converge *c,
			  unsigned long pages)
{
	long scanned = c->end.c[C_SCANNED] - c->start.c[C_SCANNED];

	json_bool(j, "converged", c->converged);
	json_num(j, "converge_s", c->converged ? c->t_converged : NAN);
	json_num(j, "detect_s", c->t_detected);
	json_num(j, "ksmd_cpu_converge_s", c->cpu_converged);
	json_num(j, "ksmd_cpu_s", c->cpu_detected);
	json_int(j, "full_scans", c->scans);
	json_int(j, "pages_tracked", pages);
	json_num(j, "pages_per_cpu_s",
		 c->cpu_detected > 0 ? (double)c->scans * pages /
				       c->cpu_detected : NAN);
	json_num(j, "sysfs_pages_scanned_per_cpu_s",
		 c->start.c[C_SCANNED] >= 0 && c->cpu_detected > 0 ?
		 scanned / c->cpu_detected : NAN);
	json_int(j, "pages_sharing", c->end.c[C_SHARING]);
	json_int(j, "pages_shared", c->end.c[C_SHARED]);
	json_int(j, "ksm_zero_pages", c->end.c[C_ZERO]);
	json_int(j, "pages_unshared", c->end.c[C_UNSHARED]);
	json_int(j, "pages_volatile", c->end.c[C_VOLATILE]);
}

/* ---- metadata: the engine's slab caches, vmalloc and large kmalloc ---- */

/*
 * Large kmalloc allocations (a hash table that got physically contiguous
 * pages) show in neither slabinfo nor vmallocinfo.  They are traced:
 * kmem:kmalloc events of at least a page, each with a stack trace, and
 * kmem:kfree events of page-aligned pointers.  An allocation is the
 * engine's when a function of its stack has "ksm" in its name; it is live
 * until a kfree of the same pointer.  Tracing starts before the module is
 * loaded and ends at the snapshot of the first workload that asks for it.
 */
static bool trace_on;
static char trace_saved_size[32];

static int trace_write(const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), TRACE_DIR "%s", file);
	return write_file(path, val);
}

static void trace_start(void)
{
	if (read_file(TRACE_DIR "buffer_size_kb", trace_saved_size,
		      sizeof(trace_saved_size))) {
		note("no tracefs: large kmalloc metadata not measured");
		return;
	}
	trace_write("tracing_on", "0");
	trace_write("trace", "");
	if (trace_write("buffer_size_kb", "8192") ||
	    trace_write("events/kmem/kmalloc/filter", "bytes_alloc >= 4096") ||
	    trace_write("events/kmem/kmalloc/trigger",
			"stacktrace if bytes_alloc >= 4096") ||
	    (trace_write("events/kmem/kfree/filter",
			 "ptr != 0 && !(ptr & 4095)") &&
	     trace_write("events/kmem/kfree/filter",
			 "call_site.function == kvfree")) ||
	    trace_write("events/kmem/kmalloc/enable", "1") ||
	    trace_write("events/kmem/kfree/enable", "1") ||
	    trace_write("tracing_on", "1")) {
		note("cannot set up kmem tracing: large kmalloc metadata not measured");
		return;
	}
	if (verbose) {
		char f[128];

		if (!read_file(TRACE_DIR "events/kmem/kfree/filter", f, sizeof(f)))
			note("  kfree filter: %s", f);
	}
	trace_on = true;
}

static void trace_stop(void)
{
	if (!trace_on)
		return;
	trace_write("tracing_on", "0");
	trace_write("events/kmem/kmalloc/enable", "0");
	trace_write("events/kmem/kfree/enable", "0");
	trace_write("events/kmem/kmalloc/trigger",
		    "!stacktrace if bytes_alloc >= 4096");
	trace_write("events/kmem/kmalloc/filter", "0");
	trace_write("events/kmem/kfree/filter", "0");
	trace_write("trace", "");
	trace_write("buffer_size_kb", trace_saved_size);
	trace_on = false;
}

struct kevent {
	double ts;
	bool alloc, ksm;
	char ptr[24];
	char frame[80];	/* the first engine frame, for --verbose */
	unsigned long bytes;
};

static struct kevent *kevents;
static size_t nkevents, capkevents;

static struct kevent *kevent_add(void)
{
	if (nkevents == capkevents) {
		capkevents = capkevents ? 2 * capkevents : 1024;
		kevents = realloc(kevents, capkevents * sizeof(*kevents));
		if (!kevents)
			die("realloc");
	}
	memset(&kevents[nkevents], 0, sizeof(*kevents));
	return &kevents[nkevents++];
}

/* The timestamp in front of ": <event>:" on a trace line. */
static double trace_ts(const char *line, const char *at)
{
	const char *p = at;

	while (p > line && p[-1] != ' ')
		p--;
	return strtod(p, NULL);
}

static void trace_parse_cpu(const char *path)
{
	struct kevent *last = NULL;
	char *buf = slurp(path), *line, *next, *at, *p;

	if (!buf)
		return;
	for (line = buf; *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		if (!strncmp(line, " => ", 4)) {
			/* A frame of the last kmalloc's stack trace. */
			if (last && !last->ksm && strstr(line, "ksm")) {
				last->ksm = true;
				snprintf(last->frame, sizeof(last->frame), "%s",
					 line + 4);
			}
			continue;
		}
		if (strstr(line, ": <stack trace>"))
			continue;
		last = NULL;
		at = strstr(line, ": kmalloc: ");
		if (!at)
			at = strstr(line, ": kfree: ");
		if (!at)
			continue;
		p = strstr(at, " ptr=");
		if (!p)
			continue;
		last = kevent_add();
		last->ts = trace_ts(line, at);
		last->alloc = !strncmp(at, ": kmalloc: ", 11);
		if (sscanf(p + 5, "%23s", last->ptr) != 1)
			last->ptr[0] = 0;
		p = strstr(at, " bytes_alloc=");
		if (p)
			last->bytes = strtoul(p + 13, NULL, 10);
		if (!last->alloc)
			last = NULL;
	}
	free(buf);
}

static int kevent_cmp(const void *a, const void *b)
{
	const struct kevent *x = a, *y = b;

	return (x->ts > y->ts) - (x->ts < y->ts);
}

static long trace_overruns(void)
{
	char path[128], *buf, *p;
	long total = 0;
	int cpu;

	for (cpu = 0; ; cpu++) {
		snprintf(path, sizeof(path), TRACE_DIR "per_cpu/cpu%d/stats", cpu);
		buf = slurp(path);
		if (!buf)
			break;
		p = strstr(buf, "overrun:");
		if (p)
			total += strtol(p + 8, NULL, 10);
		free(buf);
	}
	return total;
}

/* Bytes of live large kmallocs made under an engine function, or -1. */
static long trace_kmalloc_bytes(void)
{
	static struct kevent *livev[4096];
	size_t i, k, nlive = 0;
	char path[128];
	long live = 0;
	int cpu;

	if (!trace_on)
		return -1;
	trace_write("tracing_on", "0");
	if (trace_overruns()) {
		note("warning: trace buffer overran: kmalloc metadata unknown");
		return -1;
	}
	nkevents = 0;
	for (cpu = 0; ; cpu++) {
		snprintf(path, sizeof(path), TRACE_DIR "per_cpu/cpu%d/trace", cpu);
		if (access(path, R_OK))
			break;
		trace_parse_cpu(path);
	}
	qsort(kevents, nkevents, sizeof(*kevents), kevent_cmp);
	if (verbose)
		note("  %zu kmalloc/kfree events traced", nkevents);
	/*
	 * Replay.  A large kmalloc is traced twice (by the large-allocation
	 * path and by its caller), so an allocation of a pointer already
	 * live is the same allocation; a kfree ends it.
	 */
	for (i = 0; i < nkevents; i++) {
		struct kevent *e = &kevents[i];

		for (k = 0; k < nlive; k++)
			if (!strcmp(livev[k]->ptr, e->ptr))
				break;
		if (!e->alloc) {
			if (k < nlive)
				livev[k] = livev[--nlive];
			continue;
		}
		if (k < nlive || !e->ksm || !strcmp(e->ptr, "0000000000000000"))
			continue;
		if (nlive == ARRAY_SIZE(livev)) {
			note("warning: too many engine allocations traced");
			return -1;
		}
		livev[nlive++] = e;
	}
	for (k = 0; k < nlive; k++) {
		live += livev[k]->bytes;
		if (verbose)
			note("  live: %lu bytes from %s", livev[k]->bytes,
			     livev[k]->frame);
	}
	return live;
}

struct meta {
	long slab_bytes;	/* pages held by the engine's caches */
	long obj_bytes;		/* of which objects in use */
	long vmalloc_bytes;
	long kmalloc_bytes;	/* -1: not measured */
};

static void meta_snapshot(struct json *j, struct meta *m)
{
	long active, objs, objsize, perslab, pages, slabs;
	char name[64], *buf, *line, *next, *p;
	unsigned long lo, hi;

	memset(m, 0, sizeof(*m));
	json_open(j, "caches", '{');
	buf = slurp("/proc/slabinfo");
	for (line = buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		if (sscanf(line,
			   "%63s %ld %ld %ld %ld %ld : tunables %*d %*d %*d : slabdata %*d %ld",
			   name, &active, &objs, &objsize, &perslab, &pages,
			   &slabs) != 7 || !strstr(name, "ksm"))
			continue;
		m->slab_bytes += slabs * pages * page_size;
		m->obj_bytes += active * objsize;
		json_open(j, name, '{');
		json_int(j, "active_objs", active);
		json_int(j, "objsize", objsize);
		json_int(j, "slab_bytes", slabs * pages * page_size);
		json_close(j, '}');
	}
	free(buf);
	json_close(j, '}');

	/* "start-end size caller ... pages=N ...": the caller names the engine. */
	buf = slurp("/proc/vmallocinfo");
	for (line = buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		if (!strstr(line, "ksm"))
			continue;
		p = strstr(line, " pages=");
		if (p)
			m->vmalloc_bytes += strtol(p + 7, NULL, 10) * page_size;
		else if (sscanf(line, "0x%lx-0x%lx", &lo, &hi) == 2)
			m->vmalloc_bytes += hi - lo - page_size;
	}
	free(buf);
	if (verbose)
		note("  slab and vmalloc read");
	m->kmalloc_bytes = trace_kmalloc_bytes();
	trace_stop();
	json_int(j, "slab_bytes", m->slab_bytes);
	json_int(j, "slab_obj_bytes", m->obj_bytes);
	json_int(j, "vmalloc_bytes", m->vmalloc_bytes);
	json_int(j, "kmalloc_bytes", m->kmalloc_bytes);

	/*
	 * ksm_mod's own account of its hash tables, a cross-check of the
	 * traced kmalloc and vmalloc bytes; not part of the metric.
	 */
	buf = slurp("/sys/kernel/debug/ksm_mod/table_bytes");
	if (buf) {
		long unstable, stable;

		if (sscanf(buf, "unstable %ld stable %ld", &unstable,
			   &stable) == 2)
			json_int(j, "engine_table_bytes", unstable + stable);
		free(buf);
	}
}

/* ---- workloads ---- */

struct workload {
	const char *name;
	bool (*run)(struct json *j, const struct workload *w);
	long arg;
	char mode;	/* ksm_tests mode */
};

static void json_series(struct json *j, const struct series *s)
{
	size_t i;

	json_open(j, "series", '{');
	json_open(j, "t", '[');
	for (i = 0; i < s->n; i++) {
		json_sep(j, NULL);
		json_put(j, "%.3f", s->t[i]);
	}
	json_close(j, ']');
	json_open(j, "pages_sharing", '[');
	for (i = 0; i < s->n; i++)
		json_int(j, NULL, s->sharing[i]);
	json_close(j, ']');
	json_open(j, "full_scans", '[');
	for (i = 0; i < s->n; i++)
		json_int(j, NULL, s->scans[i]);
	json_close(j, ']');
	json_close(j, '}');
}

/* Several processes, mostly duplicated pages; arg is sleep_millisecs. */
static bool run_mixed(struct json *j, const struct workload *w)
{
	struct converge c = { .timeout = 600, .expect_merge = true };
	struct worker workers[MIXED_PROCS];
	struct series s = { 0 };
	unsigned long pages;
	struct meta m;
	long total;

	pages = workers_start(workers, MIXED_PROCS, K_MIXED, MIXED_MIB * MIB);
	if (verbose)
		note("  %lu pages ready", pages);
	knob_set_int("sleep_millisecs", w->arg);
	json_knobs(j);
	json_int(j, "procs", MIXED_PROCS);
	json_int(j, "mib_each", MIXED_MIB);
	c.series = &s;
	converge(&c);
	json_open(j, "metrics", '{');
	json_converge(j, &c, pages);
	if (w->arg == 0) {
		meta_snapshot(j, &m);
		total = m.slab_bytes + m.vmalloc_bytes +
			(m.kmalloc_bytes > 0 ? m.kmalloc_bytes : 0);
		json_bool(j, "metadata_complete", m.kmalloc_bytes >= 0);
		json_int(j, "metadata_bytes", total);
		json_num(j, "metadata_bytes_per_page", (double)total / pages);
		json_num(j, "saved_bytes",
			 (double)(c.end.c[C_SHARING] + c.end.c[C_ZERO]) *
			 page_size - total);
	}
	json_close(j, '}');
	json_series(j, &s);
	workers_stop(workers, MIXED_PROCS);
	free(s.t);
	free(s.sharing);
	free(s.scans);
	return c.converged;
}

/* Zero-filled memory; arg is use_zero_pages. */
static bool run_zero(struct json *j, const struct workload *w)
{
	struct converge c = { .timeout = 300, .expect_merge = true };
	struct worker wk;
	unsigned long pages;

	pages = workers_start(&wk, 1, K_ZERO, ZERO_MIB * MIB);
	knob_set_int("use_zero_pages", w->arg);
	knob_set_int("sleep_millisecs", 0);
	json_knobs(j);
	converge(&c);
	json_open(j, "metrics", '{');
	json_converge(j, &c, pages);
	json_int(j, "saved_pages", c.end.c[C_SHARING] + c.end.c[C_ZERO]);
	json_close(j, '}');
	workers_stop(&wk, 1);
	return c.converged;
}

/*
 * ksm_mod's count of mm visits that walked the page tables and that looked
 * up known pages only; false without the module.
 */
static bool read_visits(long *walked, long *known)
{
	char *buf = slurp("/sys/kernel/debug/ksm_mod/mm_visits");
	bool ok;

	if (!buf)
		return false;
	ok = sscanf(buf, "walked %ld known %ld", walked, known) == 2;
	free(buf);
	return ok;
}

/* Wait until full_scans reaches @target and @min_t has passed. */
static bool wait_scans(long target, double min_t, double deadline,
		       struct sample *s)
{
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		sample(s);
		if (s->c[C_FULL_SCANS] >= target && s->t >= min_t)
			return true;
		if (s->t > deadline)
			return false;
		tick(&next);
	}
}

/*
 * Time and ksmd CPU of full scans at sleep_millisecs 0: the first one
 * (which meets every page for the first time), then at least @n more and
 * at least 2 s of them, so that fast scans are not lost in the sampling.
 */
static bool timed_scans(struct json *j, unsigned long pages, int n,
			double timeout)
{
	long walked1, known1, walked2, known2;
	struct sample s0, s1, s2;
	bool ok, visits = false;
	double deadline;

	knob_set_int("sleep_millisecs", 0);
	json_knobs(j);
	sample(&s0);
	knob_set("run", "1");
	s0.t = now();
	deadline = s0.t + timeout;
	ok = wait_scans(s0.c[C_FULL_SCANS] + 1, 0, deadline, &s1);
	if (ok) {
		visits = read_visits(&walked1, &known1);
		ok = wait_scans(s1.c[C_FULL_SCANS] + n, s1.t + 2, deadline,
				&s2);
		visits = visits && read_visits(&walked2, &known2) &&
			 walked2 + known2 > walked1 + known1;
	}
	json_open(j, "metrics", '{');
	json_bool(j, "completed", ok);
	json_int(j, "pages_tracked", pages);
	json_num(j, "first_scan_s", s1.t - s0.t);
	json_num(j, "first_scan_cpu_s", s1.cpu - s0.cpu);
	if (ok) {
		long scans = s2.c[C_FULL_SCANS] - s1.c[C_FULL_SCANS];

		json_int(j, "full_scans", scans);
		json_num(j, "scan_s", (s2.t - s1.t) / scans);
		json_num(j, "scan_cpu_s", (s2.cpu - s1.cpu) / scans);
		json_num(j, "ksmd_cpu_s", s2.cpu - s0.cpu);
		json_num(j, "pages_per_cpu_s",
			 (double)(scans + 1) * pages / (s2.cpu - s0.cpu));
		json_int(j, "pages_sharing", s2.c[C_SHARING]);
	}
	/* With the module: how many of those visits skipped the walk. */
	if (visits)
		json_num(j, "known_visit_share",
			 (double)(known2 - known1) /
			 (walked2 + known2 - walked1 - known1));
	json_close(j, '}');
	knob_set("run", "0");
	return ok;
}

/* One worker of @kind over @mib MiB, timed over @scans full scans. */
static bool run_one_worker(struct json *j, enum content kind, unsigned long mib,
			   int scans)
{
	struct worker wk;
	unsigned long pages;
	bool ok;

	pages = workers_start(&wk, 1, kind, mib * MIB);
	ok = timed_scans(j, pages, scans, 600);
	workers_stop(&wk, 1);
	return ok;
}

/* 1 GiB advised, one page populated per 2 MiB. */
static bool run_sparse(struct json *j, const struct workload *w)
{
	json_int(j, "mapping_mib", SPARSE_MIB);
	return run_one_worker(j, K_SPARSE, SPARSE_MIB, 3);
}

/* One process, every page unique: nothing to merge. */
static bool run_unique(struct json *j, const struct workload *w)
{
	return run_one_worker(j, K_UNIQUE, UNIQUE_MIB, 2);
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Merge PATTERNS contents repeated over COW_MIB, at sleep_millisecs 0. */
static bool merge_patterns(struct converge *c)
{
	c->timeout = 300;
	c->expect_merge = true;
	converge(c);
	knob_set("run", "0");
	return c->converged;
}

static void json_rounds(struct json *j, const char *key, const double *v)
{
	int r;

	json_open(j, key, '[');
	for (r = 0; r < ROUNDS; r++)
		json_num(j, NULL, v[r]);
	json_close(j, ']');
}

/*
 * Write one byte into each of the merged pages, ksmd stopped; ROUNDS
 * times, each with a new process (no history for smart scan to skip on).
 */
static bool run_cow(struct json *j, const struct workload *w)
{
	struct converge c[ROUNDS] = { 0 };
	unsigned long pages = 0;
	double t[ROUNDS], med;
	struct worker wk;
	bool ok = true;
	int r;

	knob_set_int("sleep_millisecs", 0);
	json_knobs(j);
	for (r = 0; r < ROUNDS; r++) {
		pages = workers_start(&wk, 1, K_PATTERN, COW_MIB * MIB);
		ok = merge_patterns(&c[r]) && ok;
		t[r] = worker_cmd(&wk, 'c');
		workers_stop(&wk, 1);
		engine_reset();
		knob_set_int("sleep_millisecs", 0);
	}
	json_int(j, "rounds", ROUNDS);
	json_open(j, "metrics", '{');
	json_converge(j, &c[0], pages);
	json_rounds(j, "cow_s_rounds", t);
	med = median(t, ROUNDS);
	json_num(j, "cow_s", med);
	json_num(j, "cow_us_per_page", med * 1e6 / pages);
	json_close(j, '}');
	return ok;
}

/*
 * For reference, the kernel's own COW fault path on the same memory with
 * no KSM page in it: a child writes one byte into each page its fork
 * shares, ksmd stopped and nothing merged.  ROUNDS times, each with a new
 * process.
 */
static bool run_cow_fork(struct json *j, const struct workload *w)
{
	unsigned long pages = 0;
	double t[ROUNDS], med;
	struct worker wk;
	bool ok = true;
	int r;

	json_knobs(j);
	for (r = 0; r < ROUNDS; r++) {
		pages = workers_start(&wk, 1, K_PATTERN, COW_MIB * MIB);
		t[r] = worker_cmd(&wk, 'f');
		ok = ok && t[r] > 0;
		workers_stop(&wk, 1);
	}
	json_int(j, "rounds", ROUNDS);
	json_open(j, "metrics", '{');
	json_rounds(j, "cow_s_rounds", t);
	med = median(t, ROUNDS);
	json_num(j, "cow_s", med);
	json_num(j, "cow_us_per_page", med * 1e6 / pages);
	json_close(j, '}');
	return ok;
}

static double timed_run2(void)
{
	double t = now();

	if (knob_set("run", "2"))
		return NAN;
	return now() - t;
}

/*
 * MADV_UNMERGEABLE over merged pages; advise and merge again; "echo 2 >
 * run" over them.  ROUNDS times, each with a new process.
 */
static bool run_unmerge(struct json *j, const struct workload *w)
{
	double t[ROUNDS], t2[ROUNDS], merged = 0, merged2 = 0, m;
	struct converge c[ROUNDS] = { 0 }, c2[ROUNDS] = { 0 };
	unsigned long pages = 0;
	struct worker wk;
	bool ok = true;
	int r;

	knob_set_int("sleep_millisecs", 0);
	json_knobs(j);
	for (r = 0; r < ROUNDS; r++) {
		pages = workers_start(&wk, 1, K_PATTERN, COW_MIB * MIB);
		ok = merge_patterns(&c[r]) && ok;
		merged += c[r].end.c[C_SHARING] + c[r].end.c[C_SHARED];
		t[r] = worker_cmd(&wk, 'u');
		worker_cmd(&wk, 'm');
		ok = merge_patterns(&c2[r]) && ok;
		merged2 += c2[r].end.c[C_SHARING] + c2[r].end.c[C_SHARED];
		t2[r] = timed_run2();
		workers_stop(&wk, 1);
		engine_reset();
		knob_set_int("sleep_millisecs", 0);
	}
	json_int(j, "rounds", ROUNDS);
	json_open(j, "metrics", '{');
	json_converge(j, &c[0], pages);
	json_num(j, "merged_pages", merged / ROUNDS);
	json_rounds(j, "unmerge_madvise_s_rounds", t);
	m = median(t, ROUNDS);
	json_num(j, "unmerge_madvise_s", m);
	json_num(j, "unmerge_madvise_pages_per_s", m > 0 ? merged / ROUNDS / m : NAN);
	json_num(j, "merged_pages_run2", merged2 / ROUNDS);
	json_rounds(j, "unmerge_run2_s_rounds", t2);
	m = median(t2, ROUNDS);
	json_num(j, "unmerge_run2_s", m);
	json_num(j, "unmerge_run2_pages_per_s", m > 0 ? merged2 / ROUNDS / m : NAN);
	json_close(j, '}');
	return ok;
}

static double membw_passes(unsigned long *buf, size_t words)
{
	double t = now();
	size_t i;
	int p;

	for (p = 0; p < MEMBW_PASSES; p++)
		for (i = 0; i < words; i++)
			buf[i] += i ^ p;
	__asm__ __volatile__("" : : "r"(buf) : "memory");
	return now() - t;
}

/*
 * A memory-bound loop (MEMBW_PASSES read-modify-write passes over a 64 MiB
 * buffer that is not advised), timed while ksmd is stopped and while it
 * scans mixed memory of two processes at sleep_millisecs 0, alternately.
 */
static bool run_membw(struct json *j, const struct workload *w)
{
	double stopped[MEMBW_ROUNDS], scanning[MEMBW_ROUNDS], cpu = 0, t;
	size_t words = MEMBW_MIB * MIB / sizeof(unsigned long);
	struct worker wk[2];
	unsigned long *buf;
	struct sample s, e;
	bool ok;
	int r;

	buf = mmap(NULL, MEMBW_MIB * MIB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	workers_start(wk, 2, K_MIXED, MIXED_MIB * MIB);
	knob_set_int("sleep_millisecs", 0);
	json_knobs(j);
	sample(&s);
	knob_set("run", "1");
	ok = wait_scans(s.c[C_FULL_SCANS] + 3, 0, now() + 300, &s);
	membw_passes(buf, words);
	for (r = 0; r < MEMBW_ROUNDS; r++) {
		knob_set("run", "0");
		sleep_s(0.1);
		stopped[r] = membw_passes(buf, words);
		knob_set("run", "1");
		sample(&s);
		scanning[r] = membw_passes(buf, words);
		sample(&e);
		cpu += e.cpu - s.cpu;
	}
	knob_set("run", "0");
	json_open(j, "metrics", '{');
	json_bool(j, "completed", ok);
	t = median(stopped, MEMBW_ROUNDS);
	json_num(j, "loop_stopped_s", t);
	json_num(j, "loop_scanning_s", median(scanning, MEMBW_ROUNDS));
	json_num(j, "slowdown", median(scanning, MEMBW_ROUNDS) / t);
	json_num(j, "ksmd_cpu_while_scanning_s", cpu);
	json_close(j, '}');
	workers_stop(wk, 2);
	munmap(buf, MEMBW_MIB * MIB);
	return ok;
}

/* ---- upstream ksm_tests ---- */

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
static bool run_ksm_tests(struct json *j, const struct workload *w)
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
			out_file = fopen(optarg, "a");
			if (!out_file)
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
