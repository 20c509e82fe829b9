// SPDX-License-Identifier: GPL-2.0
/*
 * worker.c - the processes that hold the workloads' mergeable memory, and
 * what their pages contain.
 *
 * A worker maps its memory (anonymous, private, MADV_NOHUGEPAGE), fills
 * it, advises it MADV_MERGEABLE and reports ready; then it runs the
 * commands of its parent (write into each page, fork and write, advise
 * again or unmerge), each answered with the seconds it took.  A mixed
 * workload's worker rewrites its churn pages every 50 ms meanwhile.
 *
 * Page contents are pseudo-random words from splitmix64, keyed by the
 * seed, a class, the process and the page index: both engines see
 * byte-identical memory.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "ksm_bench.h"

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
 * Against the module's old content hash (four lanes, each folding 16
 * bytes at a time into its state with a 64x64->128 bit multiply of
 * "word ^ constant" by "next word ^ state", high half XOR low half): a
 * word equal to its lane's constant zeroes the multiply, and with it the
 * lane, whatever the seed and the words before.  These four words zero
 * all four lanes at the page's last 64 bytes, so every page that has them
 * hashed alike, and each met all the others in one index bucket.
 */
static const struct {
	unsigned int word;
	unsigned long long val;
} collide_words[] = {
	{ 504, 0xe7037ed1a0b428dbULL },
	{ 506, 0x8ebc6af09c88c6e3ULL },
	{ 508, 0x589965cc75374cc3ULL },
	{ 510, 0x1d8e4e27c47d124fULL },
};

/* A unique page, but for the words of collide_words. */
static void fill_collide(char *page, unsigned long long key)
{
	unsigned long long *w = (unsigned long long *)page;
	size_t i;

	fill_page(page, key);
	for (i = 0; i < ARRAY_SIZE(collide_words); i++)
		w[collide_words[i].word] = collide_words[i].val;
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
	case K_COLLIDE:
		for (i = 0; i < n; i++)
			fill_collide(area + i * page_size, page_key(6, proc, i));
		break;
	case K_SAME:
		for (i = 0; i < n; i++)
			fill_page(area + i * page_size, page_key(5, 0, 0));
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

double worker_cmd(struct worker *w, char c)
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
unsigned long workers_start(struct worker *w, int n, enum content kind,
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

void workers_stop(struct worker *w, int n)
{
	int i;

	for (i = 0; i < n; i++)
		worker_stop(&w[i]);
}

