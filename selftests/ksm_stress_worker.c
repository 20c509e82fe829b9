// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress_worker.c - one worker of the randomized integrity stress.
 *
 * A worker owns a region of private anonymous memory and a shadow: for
 * every page, the tag of what it last wrote there (see fill_tag()).
 * Contents come from a small common set (shared by all workers, so that
 * much merges), near-duplicates of it (one word changed), unique tags and
 * zeros.  The worker does random operations on random ranges and checks,
 * after each one, every page the operation touched against the shadow;
 * OP_CHECK sweeps the whole region and also checks what the page tables
 * say: two pages on one PFN must have the same tag.
 *
 * The region lives in one of two 2 MiB-aligned slots of a reservation so
 * that OP_MREMAP can move it from one to the other.
 *
 * A mismatch prints the seed, the page, the first wrong word and the last
 * operations of this worker, sets the shared failure flag and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksm_stress.h"
#include "ksm_util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#define PR_GET_MEMORY_MERGE 68
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

#define PMD_PAGES	512
#define NR_COMMON	8
#define LOG_LEN		32
#define MAX_RANGE	48

const char *const stress_op_names[NR_STRESS_OPS] = {
	[OP_WRITE] = "write",		[OP_CHECK] = "check",
	[OP_ADVISE] = "advise",		[OP_UNADVISE] = "unadvise",
	[OP_MERGE_ANY] = "merge_any",	[OP_FORK] = "fork",
	[OP_EXEC] = "exec",		[OP_MREMAP] = "mremap",
	[OP_MPROTECT] = "mprotect",	[OP_REMAP] = "remap",
	[OP_DONTNEED] = "dontneed",	[OP_PAGEOUT] = "pageout",
	[OP_COLD] = "cold",		[OP_MOVE_PAGES] = "move_pages",
	[OP_COLLAPSE] = "collapse",	[OP_PROC_READ] = "proc_read",
	[OP_PIN] = "uring_pin",		[OP_PAUSE] = "pause",
};

/* Relative frequency of each operation. */
static const unsigned int op_weight[NR_STRESS_OPS] = {
	[OP_WRITE] = 20,	[OP_CHECK] = 6,		[OP_ADVISE] = 8,
	[OP_UNADVISE] = 4,	[OP_MERGE_ANY] = 2,	[OP_FORK] = 3,
	[OP_EXEC] = 1,		[OP_MREMAP] = 2,	[OP_MPROTECT] = 4,
	[OP_REMAP] = 3,		[OP_DONTNEED] = 4,	[OP_PAGEOUT] = 4,
	[OP_COLD] = 2,		[OP_MOVE_PAGES] = 4,	[OP_COLLAPSE] = 2,
	[OP_PROC_READ] = 5,	[OP_PIN] = 3,		[OP_PAUSE] = 14,
};

struct op_record {
	enum stress_op op;
	size_t first, nr;
	long result;		/* 0, or the -errno the kernel returned */
};

struct worker {
	const struct stress_config *cfg;
	struct stress_shared *sh;
	unsigned int id;
	uint64_t rng;
	size_t page_size, pages;
	char *slot[2];		/* two aligned homes of the region */
	int cur;		/* slot the region is in now */
	uint64_t *tag;		/* shadow: per page, what it must hold */
	uint64_t common[NR_COMMON];
	bool merge_any;
	bool child;		/* a forked child checking its copy */
	struct op_record log[LOG_LEN];
	unsigned long nr_logged;
	char *scratch;		/* one page for expected content */
	struct stress_uring *uring;	/* OP_PIN's, opened on first use */
	int pin_file;			/* memfd OP_PIN writes to */
};

static char *page_at(const struct worker *w, size_t i)
{
	return w->slot[w->cur] + i * w->page_size;
}

static void log_op(struct worker *w, enum stress_op op, size_t first,
		   size_t nr, long result)
{
	struct op_record *r = &w->log[w->nr_logged++ % LOG_LEN];

	r->op = op;
	r->first = first;
	r->nr = nr;
	r->result = result;
}

static void print_log(const struct worker *w)
{
	unsigned long i = w->nr_logged > LOG_LEN ? w->nr_logged - LOG_LEN : 0;

	printf("# worker %u%s: last %lu operations (of %lu), oldest first:\n",
	       w->id, w->child ? " (forked child)" : "",
	       w->nr_logged - i, w->nr_logged);
	for (; i < w->nr_logged; i++) {
		const struct op_record *r = &w->log[i % LOG_LEN];

		printf("#   %lu %s pages %zu+%zu -> %ld\n", i,
		       stress_op_names[r->op], r->first, r->nr, r->result);
	}
}

/* Report a failure of @what on page @i (or of the operation) and exit. */
static __noreturn void
worker_fail(struct worker *w, const char *what, size_t i)
{
	__atomic_store_n(&w->sh->failed, 1, __ATOMIC_RELAXED);
	printf("# FAIL worker %u: %s at page %zu (%p), seed %#llx\n",
	       w->id, what, i, (void *)page_at(w, i),
	       (unsigned long long)w->cfg->seed);
	print_log(w);
	fflush(stdout);
	_exit(1);
}

/*
 * A page's content from its tag: 0 is zeros; a tag with TAG_NEAR set is
 * common page TAG_BASE with one word changed (TAG_WORD, by TAG_FLIP), the
 * input that defeats any comparison or hash that looks at part of a page;
 * any other tag seeds fill_page_seeded().
 */
#define TAG_NEAR		(1ULL << 63)
#define TAG_BASE(t)		(((t) >> 56) & (NR_COMMON - 1))
#define TAG_WORD(t)		(((t) >> 40) & 0xffff)
#define TAG_FLIP(t)		((t) & 0xffffffffffULL)

static void fill_tag(const struct worker *w, void *page, uint64_t tag)
{
	size_t words = w->page_size / sizeof(uint64_t);

	if (!tag) {
		memset(page, 0, w->page_size);
	} else if (tag & TAG_NEAR) {
		fill_page_seeded(page, w->common[TAG_BASE(tag)]);
		((uint64_t *)page)[TAG_WORD(tag) % words] ^= TAG_FLIP(tag);
	} else {
		fill_page_seeded(page, tag);
	}
}

/* Compare page @i with its shadow; on a mismatch report and exit. */
static void check_page_bytes(struct worker *w, const char *p, size_t i)
{
	uint64_t tag = w->tag[i];
	const uint64_t *got = (const void *)p, *want;
	size_t words = w->page_size / sizeof(uint64_t), k;

	fill_tag(w, w->scratch, tag);
	if (!memcmp(p, w->scratch, w->page_size))
		return;
	want = (const void *)w->scratch;
	for (k = 0; k < words && got[k] == want[k]; k++)
		;
	__atomic_fetch_add(&w->sh->corruptions, 1, __ATOMIC_RELAXED);
	printf("# worker %u: page %zu, tag %#llx: word %zu is %#llx, not %#llx\n",
	       w->id, i, (unsigned long long)tag, k,
	       (unsigned long long)got[k], (unsigned long long)want[k]);
	worker_fail(w, "content differs from the shadow", i);
}

static void check_range(struct worker *w, size_t first, size_t nr)
{
	size_t i;

	for (i = first; i < first + nr; i++)
		check_page_bytes(w, page_at(w, i), i);
	stress_count(&w->sh->pages_checked, nr);
}

/* A near-duplicate of common page @base. */
static uint64_t near_tag(struct worker *w, uint64_t base)
{
	/*
	 * Few distinct ones, so that near-duplicates merge too: a word at
	 * the start, one past the middle, the last one; two flips.
	 */
	static const uint64_t near_words[] = { 3, 261, 511 };
	uint64_t word, flip;

	word = near_words[stress_below(&w->rng, 3)] %
	       (w->page_size / sizeof(uint64_t));
	flip = 1 + stress_below(&w->rng, 2);
	return TAG_NEAR | base << 56 | word << 40 | flip;
}

static uint64_t pick_tag(struct worker *w)
{
	uint64_t r = stress_below(&w->rng, 100);

	if (r < 40)
		return w->common[stress_below(&w->rng, NR_COMMON)];
	if (r < 55)
		return near_tag(w, stress_below(&w->rng, NR_COMMON));
	if (r < 85)
		return (stress_next(&w->rng) | 1) & ~TAG_NEAR;
	return 0;
}

/* The common page @tag is, or is a near-duplicate of; -1 if neither. */
static int common_base(const struct worker *w, uint64_t tag)
{
	int k;

	if (tag & TAG_NEAR)
		return (int)TAG_BASE(tag);
	for (k = 0; k < NR_COMMON; k++)
		if (tag == w->common[k])
			return k;
	return -1;
}

/*
 * Change page @i in place by a word or two: from a common page (or a
 * near-duplicate) to a near-duplicate of it, or back.  A page the engine
 * hashed or filed a moment ago now differs from its old self only there:
 * what a stale index entry, or a comparison that skips words, gets wrong.
 * False if the page is of another kind.
 */
static bool mutate_page(struct worker *w, size_t i)
{
	uint64_t *word = (uint64_t *)page_at(w, i), old = w->tag[i], tag;
	size_t words = w->page_size / sizeof(uint64_t);
	int base = common_base(w, old);

	if (base < 0)
		return false;
	tag = stress_below(&w->rng, 3) ? near_tag(w, base) : w->common[base];
	if (old & TAG_NEAR)
		word[TAG_WORD(old) % words] ^= TAG_FLIP(old);
	if (tag & TAG_NEAR)
		word[TAG_WORD(tag) % words] ^= TAG_FLIP(tag);
	w->tag[i] = tag;
	return true;
}

static void write_page(struct worker *w, size_t i, uint64_t tag)
{
	fill_tag(w, page_at(w, i), tag);
	w->tag[i] = tag;
}

/* A random range of 1..MAX_RANGE pages. */
static void pick_range(struct worker *w, size_t *first, size_t *nr)
{
	size_t left;

	*first = stress_below(&w->rng, w->pages);
	left = w->pages - *first;
	*nr = 1 + stress_below(&w->rng, left < MAX_RANGE ? left : MAX_RANGE);
}

static long errno_of(int ret)
{
	return ret < 0 ? -errno : 0;
}

/* Is @err one of the failures the kernel may legitimately return here? */
static bool tolerated(long err, const int *ok, size_t nr_ok)
{
	size_t i;

	for (i = 0; i < nr_ok; i++)
		if (err == -ok[i])
			return true;
	return false;
}

static void expect(struct worker *w, enum stress_op op, size_t first,
		   size_t nr, long err, const int *ok, size_t nr_ok)
{
	char what[96];

	log_op(w, op, first, nr, err);
	stress_count(&w->sh->ops[op], 1);
	if (!err)
		return;
	if (tolerated(err, ok, nr_ok)) {
		stress_count(&w->sh->op_errors[op], 1);
		return;
	}
	snprintf(what, sizeof(what), "%s failed: %s", stress_op_names[op],
		 strerror((int)-err));
	worker_fail(w, what, first);
}

/*
 * After an unmerge that succeeded, no page of the range may be a KSM page:
 * every present page with non-zero content is mapped exactly once (no
 * fork child is alive while a worker unmerges).
 */
static void check_unmerged(struct worker *w, size_t first, size_t nr)
{
	int64_t pfns[MAX_RANGE];
	size_t i, done, n;

	for (done = 0; done < nr; done += n) {
		n = nr - done < MAX_RANGE ? nr - done : MAX_RANGE;
		if (pagemap_pfns(0, page_at(w, first + done), n, pfns))
			return;
		for (i = 0; i < n; i++) {
			if (!w->tag[first + done + i] || pfns[i] <= 0)
				continue;
			if (kpagecount_read(pfns[i]) > 1)
				worker_fail(w, "still shared after unmerging",
					    first + done + i);
		}
	}
}

struct pfn_page {
	int64_t pfn;
	size_t page;
};

static int by_pfn(const void *a, const void *b)
{
	const struct pfn_page *x = a, *y = b;

	return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

/*
 * The page tables' view: pages of this region that share a frame must
 * hold the same content.  Counts the pages found sharing a frame.
 */
static void check_frames(struct worker *w)
{
	struct pfn_page *pp;
	int64_t *pfns;
	size_t i, nr = 0;

	pfns = calloc(w->pages, sizeof(*pfns));
	pp = calloc(w->pages, sizeof(*pp));
	if (!pfns || !pp || pagemap_pfns(0, page_at(w, 0), w->pages, pfns))
		goto out;
	for (i = 0; i < w->pages; i++)
		if (pfns[i] > 0 && w->tag[i]) {
			pp[nr].pfn = pfns[i];
			pp[nr++].page = i;
		}
	qsort(pp, nr, sizeof(*pp), by_pfn);
	for (i = 1; i < nr; i++) {
		if (pp[i].pfn != pp[i - 1].pfn)
			continue;
		if (w->tag[pp[i].page] != w->tag[pp[i - 1].page])
			worker_fail(w, "two contents on one frame", pp[i].page);
		stress_count(&w->sh->merged_seen, 1);
	}
out:
	free(pfns);
	free(pp);
}

static void op_write(struct worker *w)
{
	size_t first, nr, i;

	pick_range(w, &first, &nr);
	for (i = first; i < first + nr; i++)
		if (stress_below(&w->rng, 100) >= 40 || !mutate_page(w, i))
			write_page(w, i, pick_tag(w));
	expect(w, OP_WRITE, first, nr, 0, NULL, 0);
	check_range(w, first, nr);
}

static void op_check(struct worker *w)
{
	check_range(w, 0, w->pages);
	check_frames(w);
	expect(w, OP_CHECK, 0, w->pages, 0, NULL, 0);
}

static void op_advise(struct worker *w, bool on)
{
	static const int ok[] = { ENOMEM, EAGAIN, EINTR };
	size_t first, nr;
	long err;

	pick_range(w, &first, &nr);
	err = errno_of(madvise(page_at(w, first), nr * w->page_size,
			       on ? MADV_MERGEABLE : MADV_UNMERGEABLE));
	expect(w, on ? OP_ADVISE : OP_UNADVISE, first, nr, err, ok, 2 + !on);
	check_range(w, first, nr);
	if (!on && !err)
		check_unmerged(w, first, nr);
}

static void op_merge_any(struct worker *w)
{
	static const int ok[] = { ENOMEM, EAGAIN, EINTR };
	bool on = !w->merge_any;
	long err;

	err = errno_of(prctl(PR_SET_MEMORY_MERGE, on, 0, 0, 0));
	expect(w, OP_MERGE_ANY, 0, on, err, ok, 3);
	if (!err)
		w->merge_any = on;
	if (prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) != (int)w->merge_any)
		worker_fail(w, "PR_GET_MEMORY_MERGE disagrees", 0);
	check_range(w, 0, w->pages);
	if (!on && !err)
		check_unmerged(w, 0, w->pages);
}

/* The child of OP_FORK: check its copy, change it, check again. */
static __noreturn void fork_child(struct worker *w)
{
	size_t first, nr, i;

	w->child = true;
	check_range(w, 0, w->pages);
	for (i = 0; i < 4; i++) {
		pick_range(w, &first, &nr);
		write_page(w, first, pick_tag(w));
	}
	pick_range(w, &first, &nr);
	madvise(page_at(w, first), nr * w->page_size, MADV_DONTNEED);
	for (i = first; i < first + nr; i++)
		w->tag[i] = 0;
	check_range(w, 0, w->pages);
	fflush(stdout);
	_exit(0);
}

/* An exec that failed with ENOMEM or EAGAIN, as it may under injection. */
#define EXEC_REFUSED	3

/* Reap a child of @op: its exit status, 0 or EXEC_REFUSED; else fail. */
static int wait_child(struct worker *w, enum stress_op op, pid_t pid)
{
	char what[64];
	int status;

	if (waitpid(pid, &status, 0) != pid)
		worker_fail(w, "waitpid failed", 0);
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 ||
				  (op == OP_EXEC &&
				   WEXITSTATUS(status) == EXEC_REFUSED)))
		return WEXITSTATUS(status);
	snprintf(what, sizeof(what), "%s child ended with status %#x",
		 stress_op_names[op], status);
	worker_fail(w, what, 0);
}

static void op_fork(struct worker *w)
{
	static const int ok[] = { ENOMEM, EAGAIN };
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		fork_child(w);
	expect(w, OP_FORK, 0, w->pages, errno_of(pid), ok, 2);
	if (pid > 0)
		wait_child(w, OP_FORK, pid);
	check_range(w, 0, w->pages);
}

static void op_exec(struct worker *w)
{
	static const int ok[] = { ENOMEM, EAGAIN };
	char seed[32], any[4];
	pid_t pid;

	snprintf(seed, sizeof(seed), "%llu",
		 (unsigned long long)w->common[0]);
	snprintf(any, sizeof(any), "%d", w->merge_any);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl(w->cfg->self, w->cfg->self, "--exec-child", seed, any,
		      (char *)NULL);
		_exit(errno == ENOMEM || errno == EAGAIN ? EXEC_REFUSED : 4);
	}
	expect(w, OP_EXEC, 0, 0, errno_of(pid), ok, 2);
	if (pid > 0 && wait_child(w, OP_EXEC, pid) == EXEC_REFUSED)
		stress_count(&w->sh->op_errors[OP_EXEC], 1);
	check_range(w, 0, w->pages);
}

/* Keep the slot the region left reserved, so nothing else lands there. */
static void reserve_slot(struct worker *w, int slot)
{
	void *p = mmap(w->slot[slot], w->pages * w->page_size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		       -1, 0);

	if (p == MAP_FAILED)
		worker_fail(w, "cannot reserve the old slot again", 0);
}

/*
 * Move the region to the other slot, one VMA at a time: 6.12's mremap()
 * moves within one VMA (a range over several is -EFAULT), and advice,
 * mprotect and remapping split the region into many.  0 or -errno.
 */
static long move_region(struct worker *w, int to)
{
	uintptr_t from = (uintptr_t)w->slot[w->cur], start, end, s, e;
	uintptr_t len = w->pages * w->page_size, pieces[2 * 256];
	size_t nr = 0, i, tries;
	char line[256];
	long err = 0;
	FILE *maps;

	maps = fopen("/proc/self/maps", "r");
	if (!maps)
		return -errno;
	/* Collect first, move after: moving changes what maps shows. */
	while (fgets(line, sizeof(line), maps) && nr < 256) {
		if (sscanf(line, "%lx-%lx", &start, &end) != 2 ||
		    end <= from || start >= from + len)
			continue;
		pieces[2 * nr] = start < from ? from : start;
		pieces[2 * nr + 1] = end > from + len ? from + len : end;
		nr++;
	}
	fclose(maps);
	/*
	 * move_vma() unmerges the range first and can fail for want of
	 * memory (under injection): try a piece again rather than be left
	 * with half a region.
	 */
	for (i = 0; i < nr; i++) {
		s = pieces[2 * i];
		e = pieces[2 * i + 1];
		for (tries = 0; tries < 20; tries++) {
			err = 0;
			if (mremap((void *)s, e - s, e - s,
				   MREMAP_MAYMOVE | MREMAP_FIXED,
				   w->slot[to] + (s - from)) != MAP_FAILED)
				break;
			err = -errno;
			if (err != -ENOMEM && err != -EAGAIN)
				break;
		}
		if (err)
			return err;
	}
	return 0;
}

static void op_mremap(struct worker *w)
{
	int to = !w->cur;
	long err;

	err = move_region(w, to);
	expect(w, OP_MREMAP, 0, w->pages, err, NULL, 0);
	w->cur = to;
	reserve_slot(w, !to);
	check_range(w, 0, w->pages);
}

static void op_mprotect(struct worker *w)
{
	static const int ok[] = { ENOMEM, EAGAIN };
	int prot = stress_below(&w->rng, 2) ? PROT_READ : PROT_NONE;
	size_t first, nr, len;
	long err;

	pick_range(w, &first, &nr);
	len = nr * w->page_size;
	err = errno_of(mprotect(page_at(w, first), len, prot));
	expect(w, OP_MPROTECT, first, nr, err, ok, 2);
	if (prot == PROT_READ && !err)
		check_range(w, first, nr);
	else
		usleep(stress_below(&w->rng, 2000));
	err = errno_of(mprotect(page_at(w, first), len,
				PROT_READ | PROT_WRITE));
	if (err)
		worker_fail(w, "cannot make the range writable again", first);
	check_range(w, first, nr);
}

static void op_remap(struct worker *w)
{
	size_t first, nr, i, len;
	void *p;

	pick_range(w, &first, &nr);
	len = nr * w->page_size;
	if (munmap(page_at(w, first), len))
		worker_fail(w, "munmap failed", first);
	p = mmap(page_at(w, first), len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED)
		worker_fail(w, "cannot map the hole again", first);
	for (i = first; i < first + nr; i++)
		w->tag[i] = 0;
	expect(w, OP_REMAP, first, nr, 0, NULL, 0);
	check_range(w, first, nr);
}

static void op_madvise(struct worker *w, enum stress_op op, int advice)
{
	static const int ok[] = { ENOMEM, EAGAIN, EINVAL };
	size_t first, nr, i;
	long err;

	pick_range(w, &first, &nr);
	err = errno_of(madvise(page_at(w, first), nr * w->page_size, advice));
	/* Without swap MADV_PAGEOUT may refuse; DONTNEED must not. */
	expect(w, op, first, nr, err, ok, advice == MADV_DONTNEED ? 0 : 3);
	if (advice == MADV_DONTNEED)
		for (i = first; i < first + nr; i++)
			w->tag[i] = 0;
	check_range(w, first, nr);
}

static void op_move_pages(struct worker *w)
{
	static const int ok[] = { ENOMEM, EBUSY, ENOENT, EACCES, EFAULT };
	void *pages[MAX_RANGE];
	int nodes[MAX_RANGE], status[MAX_RANGE];
	size_t first, nr, i;
	long ret;

	if (!w->cfg->numa)
		return;
	pick_range(w, &first, &nr);
	for (i = 0; i < nr; i++) {
		pages[i] = page_at(w, first + i);
		nodes[i] = (int)stress_below(&w->rng, 2);
	}
	ret = syscall(SYS_move_pages, 0, nr, pages, nodes, status,
		      MPOL_MF_MOVE);
	expect(w, OP_MOVE_PAGES, first, nr, ret < 0 ? -errno : 0, ok, 5);
	check_range(w, first, nr);
}

static void op_collapse(struct worker *w)
{
	static const int ok[] = { ENOMEM, EAGAIN, EINVAL, EBUSY };
	size_t first = stress_below(&w->rng, w->pages / PMD_PAGES) * PMD_PAGES;
	size_t len = PMD_PAGES * w->page_size;
	long err;

	madvise(page_at(w, first), len, MADV_HUGEPAGE);
	err = errno_of(madvise(page_at(w, first), len, MADV_COLLAPSE));
	expect(w, OP_COLLAPSE, first, PMD_PAGES, err, ok, 4);
	check_range(w, first, PMD_PAGES);
}

/* Read the range the way debuggers and GUP users do, not through our PTEs. */
static void op_proc_read(struct worker *w)
{
	size_t first, nr, i, len;
	struct iovec local, remote;
	char *buf;
	ssize_t got;
	int fd;

	pick_range(w, &first, &nr);
	len = nr * w->page_size;
	buf = malloc(len);
	if (!buf)
		return;
	local.iov_base = buf;
	local.iov_len = len;
	remote.iov_base = page_at(w, first);
	remote.iov_len = len;
	/* Without CONFIG_CROSS_MEMORY_ATTACH only /proc/self/mem is left. */
	got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (got < 0 && errno == ENOSYS) {
		stress_count(&w->sh->op_errors[OP_PROC_READ], 1);
	} else if (got != (ssize_t)len) {
		printf("# process_vm_readv: %zd of %zu bytes (%s)\n", got, len,
		       got < 0 ? strerror(errno) : "short");
		worker_fail(w, "process_vm_readv came up short", first);
	} else {
		for (i = 0; i < nr; i++)
			check_page_bytes(w, buf + i * w->page_size, first + i);
		stress_count(&w->sh->pages_checked, nr);
	}
	fd = open("/proc/self/mem", O_RDONLY);
	if (fd < 0 || pread(fd, buf, len, (off_t)(uintptr_t)page_at(w, first))
			!= (ssize_t)len)
		worker_fail(w, "reading /proc/self/mem failed", first);
	close(fd);
	for (i = 0; i < nr; i++)
		check_page_bytes(w, buf + i * w->page_size, first + i);
	free(buf);
	stress_count(&w->sh->pages_checked, nr);
	expect(w, OP_PROC_READ, first, nr, 0, NULL, 0);
}

/*
 * Pin a range (io_uring fixed buffer), write it through the page tables
 * while ksmd runs, and have the kernel write the pinned pages to a file:
 * the file must hold what the page tables say.  A pinned page that was
 * merged would leave the pin on the old frame and show the old bytes.
 */
static void op_pin(struct worker *w)
{
	static const int ok[] = { ENOMEM, EAGAIN, EBUSY };
	size_t first, nr, i, len;
	char *buf;
	long err;

	if (!w->uring) {
		w->uring = stress_uring_open();
		w->pin_file = memfd_create("ksm_stress_pin", MFD_CLOEXEC);
		if (!w->uring || w->pin_file < 0)
			worker_fail(w, "io_uring or memfd setup failed", 0);
	}
	pick_range(w, &first, &nr);
	len = nr * w->page_size;
	err = stress_uring_pin(w->uring, page_at(w, first), len);
	expect(w, OP_PIN, first, nr, err, ok, 3);
	if (err)
		return;
	for (i = first; i < first + nr; i++)
		write_page(w, i, pick_tag(w));
	usleep(stress_below(&w->rng, 20000));
	for (i = first; i < first + nr; i += 2)
		write_page(w, i, pick_tag(w));
	err = stress_uring_write_fixed(w->uring, w->pin_file,
				       page_at(w, first), len);
	if (err != (long)len) {
		log_op(w, OP_PIN, first, nr, err);
		worker_fail(w, "write from the pinned buffer failed", first);
	}
	if (stress_uring_unpin(w->uring))
		worker_fail(w, "unregistering the buffer failed", first);
	buf = malloc(len);
	if (!buf || pread(w->pin_file, buf, len, 0) != (ssize_t)len)
		worker_fail(w, "reading back the pinned bytes failed", first);
	for (i = 0; i < nr; i++)
		check_page_bytes(w, buf + i * w->page_size, first + i);
	free(buf);
	check_range(w, first, nr);
}

static void op_advise_on(struct worker *w)
{
	op_advise(w, true);
}

static void op_advise_off(struct worker *w)
{
	op_advise(w, false);
}

static void op_dontneed(struct worker *w)
{
	op_madvise(w, OP_DONTNEED, MADV_DONTNEED);
}

static void op_pageout(struct worker *w)
{
	op_madvise(w, OP_PAGEOUT, MADV_PAGEOUT);
}

static void op_cold(struct worker *w)
{
	op_madvise(w, OP_COLD, MADV_COLD);
}

/* Let ksmd get at what is there now. */
static void op_pause(struct worker *w)
{
	usleep(stress_below(&w->rng, 20000));
	expect(w, OP_PAUSE, 0, 0, 0, NULL, 0);
}

static void (*const op_fn[NR_STRESS_OPS])(struct worker *w) = {
	[OP_WRITE] = op_write,		[OP_CHECK] = op_check,
	[OP_ADVISE] = op_advise_on,	[OP_UNADVISE] = op_advise_off,
	[OP_MERGE_ANY] = op_merge_any,	[OP_FORK] = op_fork,
	[OP_EXEC] = op_exec,		[OP_MREMAP] = op_mremap,
	[OP_MPROTECT] = op_mprotect,	[OP_REMAP] = op_remap,
	[OP_DONTNEED] = op_dontneed,	[OP_PAGEOUT] = op_pageout,
	[OP_COLD] = op_cold,		[OP_MOVE_PAGES] = op_move_pages,
	[OP_COLLAPSE] = op_collapse,	[OP_PROC_READ] = op_proc_read,
	[OP_PIN] = op_pin,		[OP_PAUSE] = op_pause,
};

static int worker_setup(struct worker *w)
{
	size_t len = w->pages * w->page_size, pmd = PMD_PAGES * w->page_size;
	char *res, *a;
	size_t i;

	/* Two slots, 2 MiB aligned, so that MADV_COLLAPSE has whole PMDs. */
	res = mmap(NULL, 2 * len + pmd, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return -errno;
	a = (char *)(((uintptr_t)res + pmd - 1) & ~(uintptr_t)(pmd - 1));
	w->slot[0] = a;
	w->slot[1] = a + len;
	w->cur = 0;
	if (mmap(a, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	w->tag = calloc(w->pages, sizeof(*w->tag));
	w->scratch = malloc(w->page_size);
	if (!w->tag || !w->scratch)
		return -ENOMEM;
	for (i = 0; i < w->pages; i++)
		write_page(w, i, pick_tag(w));
	if (madvise(a, len, MADV_MERGEABLE))
		return -errno;
	return 0;
}

/* After main unmerged everything (run = 2): nothing may still be shared. */
static void final_checks(struct worker *w)
{
	uint64_t deadline = now_ms() + 120000;

	check_range(w, 0, w->pages);
	while (__atomic_load_n(&w->sh->failed, __ATOMIC_RELAXED) == 0 &&
	       !__atomic_load_n(&w->sh->unmerged, __ATOMIC_ACQUIRE) &&
	       now_ms() < deadline)
		usleep(10000);
	if (!__atomic_load_n(&w->sh->unmerged, __ATOMIC_ACQUIRE))
		return;
	check_range(w, 0, w->pages);
	check_unmerged(w, 0, w->pages);
}

int stress_worker(const struct stress_config *cfg, struct stress_shared *sh,
		  unsigned int id)
{
	struct worker w = {
		.cfg = cfg, .sh = sh, .id = id,
		.page_size = (size_t)sysconf(_SC_PAGESIZE),
		.pages = cfg->pages,
		.pin_file = -1,
	};
	uint64_t common_rng = cfg->seed;
	unsigned int i;
	int err;

	w.rng = cfg->seed ^ (0x1000193ULL * (id + 1));
	stress_next(&w.rng);
	for (i = 0; i < NR_COMMON; i++)
		w.common[i] = (stress_next(&common_rng) | 1) & ~TAG_NEAR;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	err = worker_setup(&w);
	if (err) {
		printf("# worker %u: setup failed: %s\n", id, strerror(-err));
		__atomic_store_n(&sh->failed, 1, __ATOMIC_RELAXED);
		return 1;
	}
	while (!stress_stopping(sh))
		op_fn[stress_pick(&w.rng, op_weight, NR_STRESS_OPS)](&w);
	if (__atomic_load_n(&sh->failed, __ATOMIC_RELAXED))
		return 0;
	final_checks(&w);
	return 0;
}

/*
 * The program re-executed by OP_EXEC: merge-any must have survived exec
 * (MMF_VM_MERGE_ANY is in MMF_INIT_MASK); map pages of common content,
 * advise them, check them and leave.
 */
int stress_exec_child(uint64_t seed, int merge_any)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), i, nr = 64;
	char *p;

	if (prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) != merge_any) {
		printf("# exec child: merge-any is %d after exec, want %d\n",
		       prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0), merge_any);
		return 1;
	}
	p = mmap(NULL, nr * ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 2;
	for (i = 0; i < nr; i++)
		fill_page_seeded(p + i * ps, seed + (i & 1));
	madvise(p, nr * ps, MADV_MERGEABLE);
	usleep(20000);
	for (i = 0; i < nr; i++)
		if (!page_has_seed(p + i * ps, seed + (i & 1))) {
			printf("# exec child: page %zu lost its content\n", i);
			return 1;
		}
	return 0;
}
