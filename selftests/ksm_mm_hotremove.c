// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_mm_hotremove.c - merged pages survive their memory going offline.
 *
 * Owns KSM meeting memory hot-remove, as upstream 6.12 behaves: a memory
 * block of ZONE_MOVABLE (the test VM boots with movablecore=) that holds a
 * KSM page, other pages of the same processes and nothing unmovable goes
 * offline while ksmd keeps scanning; the KSM page is migrated out of it
 * and stays one KSM page for every mapping (two processes), with its
 * content, and the counters do not move.  The block then comes back with
 * online_movable and takes a new KSM page.
 *
 * The pages are put in the block by allocating, bound to the block's node,
 * until enough frames of the block turn up in /proc/self/pagemap, and only
 * those get the content that merges; a block with frames /proc/kpageflags
 * marks reserved (the memory map lives there) cannot go offline, one with
 * poisoned frames cannot come back: neither is chosen.  Skips without such a block.  Verdicts come
 * from pagemap, /proc/kpagecount, the block's state and the KSM counters;
 * content is checked in both processes after every step.
 *
 * A second test cancels an offline: a page of the block held by a pipe
 * (vmsplice) cannot migrate, so offline_pages() retries until the writer
 * is killed.  ksmd, paused while the block was going offline, must merge
 * again, and the block must go offline once the pipe lets the page go.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#define MERGE_TIMEOUT_MS	120000
#define SCAN_TIMEOUT_MS		60000
#define CALL_TIMEOUT_MS		60000
#define OFFLINE_TIMEOUT_MS	300000

#define MEM_DIR		"/sys/devices/system/memory"
#define KPF_RESERVED_BIT 32	/* include/linux/kernel-page-flags.h */
#define KPF_HWPOISON_BIT 19

#define NR_SAME		16
#define NR_UNIQ		4
#define NR_CHOSEN	(NR_SAME + NR_UNIQ)
#define CHUNK_PAGES	1024
#define POOL_PAGES	(96 * CHUNK_PAGES)	/* at most 384 MiB */

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

struct block {
	int id;
	int nid;
	uint64_t start_pfn;
	uint64_t end_pfn;
};

static int block_file(int id, const char *file, char *buf, size_t size)
{
	char path[128];

	snprintf(path, sizeof(path), MEM_DIR "/memory%d/%s", id, file);
	return file_read_str(path, buf, size);
}

static int block_node(int id)
{
	char path[128];
	int nid;

	for (nid = 0; nid < 64; nid++) {
		snprintf(path, sizeof(path), MEM_DIR "/memory%d/node%d", id,
			 nid);
		if (!access(path, F_OK))
			return nid;
	}
	return -ENOENT;
}

/*
 * A frame marked reserved (the memory map lives there) keeps the block
 * from going offline; one poisoned (by ksm_mm_hwpoison, say) keeps it from
 * coming back online (-EHWPOISON).  Either rules the block out.
 */
static bool block_unsuitable(uint64_t start, uint64_t nr)
{
	const uint64_t bad = (1ULL << KPF_RESERVED_BIT) |
			     (1ULL << KPF_HWPOISON_BIT);
	uint64_t *flags = malloc(nr * sizeof(*flags));
	bool ret = true;
	uint64_t i;

	if (!flags)
		return true;
	if (!kpageflags_read(start, nr, flags)) {
		ret = false;
		for (i = 0; i < nr && !ret; i++)
			ret = flags[i] & bad;
	}
	free(flags);
	return ret;
}

/*
 * The online ZONE_MOVABLE block with no reserved or poisoned frame, on @nid if that
 * is not negative, highest number first; 0 if found.
 */
static int find_block(struct block *b, int nid)
{
	uint64_t block_pages;
	char buf[256];
	struct dirent *d;
	int id, best = -1;
	DIR *dir;

	if (file_read_str(MEM_DIR "/block_size_bytes", buf, sizeof(buf)))
		return -ENOENT;
	block_pages = strtoull(buf, NULL, 16) / psize();
	dir = opendir(MEM_DIR);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		if (sscanf(d->d_name, "memory%d", &id) != 1 || id <= best)
			continue;
		if (block_file(id, "state", buf, sizeof(buf)) ||
		    strcmp(buf, "online"))
			continue;
		if (block_file(id, "valid_zones", buf, sizeof(buf)) ||
		    strcmp(buf, "Movable"))
			continue;
		if (nid >= 0 && block_node(id) != nid)
			continue;
		if (block_unsuitable(id * block_pages, block_pages))
			continue;
		best = id;
	}
	closedir(dir);
	if (best < 0)
		return -ENOENT;
	b->id = best;
	b->nid = block_node(best);
	b->start_pfn = best * block_pages;
	b->end_pfn = b->start_pfn + block_pages;
	return b->nid < 0 ? -ENOENT : 0;
}

static bool in_block(const struct block *b, int64_t pfn)
{
	return pfn > 0 && (uint64_t)pfn >= b->start_pfn &&
	       (uint64_t)pfn < b->end_pfn;
}

/*
 * Write @state to the block's state file from a child (offlining can take
 * long and only a fatal signal stops it); 0, -errno of the write, or
 * -ETIMEDOUT.
 */
static int block_set_state(int id, const char *state)
{
	uint64_t deadline = now_ms() + OFFLINE_TIMEOUT_MS;
	char path[128];
	int status;
	pid_t pid, r;

	snprintf(path, sizeof(path), MEM_DIR "/memory%d/state", id);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(-file_write_str(path, state));
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 &&
	       now_ms() < deadline)
		usleep(20000);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -ETIMEDOUT;
	}
	if (r < 0)
		return -errno;
	return WIFEXITED(status) ? -WEXITSTATUS(status) : -EINTR;
}

/* Offline, retrying while the kernel says the block is busy. */
static int block_offline(int id)
{
	int tries, err = 0;

	for (tries = 0; tries < 5; tries++) {
		err = block_set_state(id, "offline");
		if (err != -EBUSY && err != -EAGAIN)
			break;
		sleep(1);
	}
	return err;
}

/*
 * Pages allocated on the block's node until NR_CHOSEN of them are frames
 * of the block; the others are given back.  @idx gets the chosen page
 * numbers, the return value is the pool or NULL.
 */
static char *pool_in_block(const struct block *b, size_t *idx,
			   size_t *allocated)
{
	size_t len = (size_t)POOL_PAGES * psize(), found = 0, i, c;
	int64_t *pfns;
	char *pool;

	*allocated = 0;
	pfns = calloc(CHUNK_PAGES, sizeof(*pfns));
	pool = map_private_anon(POOL_PAGES);
	if (!pfns || !pool || mbind_node(pool, len, b->nid))
		goto fail;
	for (c = 0; c < POOL_PAGES / CHUNK_PAGES && found < NR_CHOSEN; c++) {
		char *chunk = pool + c * CHUNK_PAGES * psize();

		if (madvise(chunk, CHUNK_PAGES * psize(), MADV_POPULATE_WRITE) ||
		    pagemap_pfns(0, chunk, CHUNK_PAGES, pfns))
			goto fail;
		*allocated += CHUNK_PAGES;
		for (i = 0; i < CHUNK_PAGES && found < NR_CHOSEN; i++)
			if (in_block(b, pfns[i]))
				idx[found++] = c * CHUNK_PAGES + i;
	}
	if (found < NR_CHOSEN)
		goto fail;
	/* Give back everything but the chosen pages. */
	for (i = 0, c = 0; i <= NR_CHOSEN; i++) {
		size_t end = i < NR_CHOSEN ? idx[i] : *allocated;

		if (end > c)
			madvise(pool + c * psize(), (end - c) * psize(),
				MADV_DONTNEED);
		c = end + 1;
	}
	free(pfns);
	return pool;
fail:
	free(pfns);
	if (pool)
		munmap(pool, len);
	return NULL;
}

static char *chosen(char *pool, const size_t *idx, size_t i)
{
	return pool + idx[i] * psize();
}

/*
 * Chosen pages: NR_SAME of @seed, then NR_UNIQ of @seed + 1 + i + @uoff
 * (the forked sharer gives its copies other bytes than ours, so that the
 * pages a fork left shared do not become KSM pages of their own).
 */
#define CHILD_UOFF	1000

static uint64_t chosen_seed(uint64_t seed, size_t i, uint64_t uoff)
{
	return i < NR_SAME ? seed : seed + 1 + i + uoff;
}

static bool chosen_ok(char *pool, const size_t *idx, uint64_t seed,
		      uint64_t uoff)
{
	size_t i;

	for (i = 0; i < NR_CHOSEN; i++)
		if (!page_has_seed(chosen(pool, idx, i),
				   chosen_seed(seed, i, uoff)))
			return false;
	return true;
}

/* The frame all NR_SAME pages of @pid map, 0 if not one, or -errno. */
static int64_t chosen_common_pfn(pid_t pid, char *pool, const size_t *idx)
{
	int64_t pfn = 0, p;
	size_t i;

	for (i = 0; i < NR_SAME; i++) {
		p = pagemap_pfn_pid(pid, chosen(pool, idx, i));
		if (p <= 0)
			return p;
		if (i && p != pfn)
			return 0;
		pfn = p;
	}
	return pfn;
}

struct holder {
	char *pool;
	size_t *idx;
	uint64_t seed;
};

/*
 * The forked sharer: 'u' rewrites its copies of the unique pages, 'r'
 * checks its view of the chosen pages.
 */
static char holder_cmd(char cmd, void *arg)
{
	struct holder *h = arg;
	size_t i;

	switch (cmd) {
	case 'u':
		for (i = NR_SAME; i < NR_CHOSEN; i++)
			fill_page_seeded(chosen(h->pool, h->idx, i),
					 chosen_seed(h->seed, i, CHILD_UOFF));
		return 'k';
	case 'r':
		return chosen_ok(h->pool, h->idx, h->seed, CHILD_UOFF) ?
		       'k' : 'x';
	}
	return '?';
}

FIXTURE(hotremove)
{
	struct ksm_knobs saved;
	struct block blk;
	bool offlined;
	struct ksm_child child;
};

FIXTURE_SETUP(hotremove)
{
	int err;

	self->child.pid = -1;
	self->offlined = false;
	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	if (find_block(&self->blk, -1))
		SKIP(return, "no online ZONE_MOVABLE memory block to offline");
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
}

FIXTURE_TEARDOWN(hotremove)
{
	char state[64] = "";

	ksm_child_stop(&self->child, 10000);
	if (self->offlined &&
	    (block_file(self->blk.id, "state", state, sizeof(state)) ||
	     strcmp(state, "online")))
		EXPECT_EQ(0, block_set_state(self->blk.id, "online_movable"));
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

/* Which processes have merged pages, when the counters disagree. */
static void show_merging_processes(const struct ksm_counters *base)
{
	struct ksm_proc_stat st;
	struct ksm_counters c;
	struct dirent *d;
	DIR *dir;
	int pid;

	if (!ksm_read_counters(&c))
		fprintf(stderr, "# shared %lu sharing %lu (base %lu %lu)\n",
			c.pages_shared, c.pages_sharing, base->pages_shared,
			base->pages_sharing);
	dir = opendir("/proc");
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		char *end;

		pid = strtol(d->d_name, &end, 10);
		if (pid > 0 && !*end && !ksm_read_proc_stat(pid, &st) &&
		    st.rmap_items)
			fprintf(stderr, "# pid %d: %ld rmap items, %ld merging\n",
				pid, st.rmap_items, st.merging_pages);
	}
	closedir(dir);
}

/* Fill the chosen pages, advise the pool, wait for the merge in-block. */
static int64_t merge_chosen(struct __test_metadata *_metadata,
			    const struct block *b, char *pool,
			    const size_t *idx, uint64_t seed,
			    const struct ksm_counters *base, long dshared,
			    long dsharing)
{
	int64_t pfn = 0;
	size_t i;

	for (i = 0; i < NR_CHOSEN; i++)
		fill_page_seeded(chosen(pool, idx, i), chosen_seed(seed, i, 0));
	EXPECT_EQ(0, madvise(pool, (size_t)POOL_PAGES * psize(),
			     MADV_MERGEABLE));
	KSM_WAIT_FOR((pfn = chosen_common_pfn(0, pool, idx)) > 0,
		     MERGE_TIMEOUT_MS);
	EXPECT_LT(0, pfn) TH_LOG("the chosen pages did not merge");
	EXPECT_TRUE(in_block(b, pfn));
	if (!ksm_wait_counters(base, dshared, dsharing, MERGE_TIMEOUT_MS)) {
		show_merging_processes(base);
		EXPECT_TRUE(0) TH_LOG("counters not %ld/%ld above the base",
				      dshared, dsharing);
	}
	return pfn;
}

TEST_F_TIMEOUT(hotremove, offline_block_with_merged_page, 900)
{
	uint64_t seed = ksm_test_seed("mm_hotremove/offline");
	size_t idx[NR_CHOSEN], idx2[NR_CHOSEN], allocated, i;
	struct ksm_counters base, c;
	struct holder h;
	char *pool, *pool2, state[64];
	int64_t pfn, moved, p;
	uint64_t start;
	int err;

	TH_LOG("memory%d: node %d, PFNs %#llx-%#llx", self->blk.id,
	       self->blk.nid, (unsigned long long)self->blk.start_pfn,
	       (unsigned long long)self->blk.end_pfn - 1);
	ASSERT_EQ(0, ksm_read_counters(&base));
	start = now_ms();
	pool = pool_in_block(&self->blk, idx, &allocated);
	ASSERT_NE(NULL, pool) TH_LOG("no %d pages of memory%d in %d allocated",
				     NR_CHOSEN, self->blk.id, POOL_PAGES);
	TH_LOG("%zu pages allocated to get %d in the block, %llu ms",
	       allocated, NR_CHOSEN, (unsigned long long)(now_ms() - start));
	pfn = merge_chosen(_metadata, &self->blk, pool, idx, seed, &base, 1,
			   NR_SAME - 1);
	ASSERT_LT(0, pfn);

	/* A second process maps the KSM page too. */
	h.pool = pool;
	h.idx = idx;
	h.seed = seed;
	/* ksmd holds still until the child's unique pages are its own. */
	ASSERT_EQ(0, ksm_write_str("run", "0"));
	ASSERT_EQ(0, ksm_child_start(&self->child, holder_cmd, &h));
	ASSERT_EQ('k', ksm_child_call(&self->child, 'u', CALL_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_write_str("run", "1"));
	ASSERT_TRUE(ksm_wait_counters(&base, 1, 2 * NR_SAME - 1,
				      MERGE_TIMEOUT_MS));
	EXPECT_EQ(pfn, chosen_common_pfn(self->child.pid, pool, idx));
	for (i = NR_SAME; i < NR_CHOSEN; i++)
		EXPECT_TRUE(in_block(&self->blk,
				     pagemap_pfn(chosen(pool, idx, i))));

	/* Offline while ksmd keeps scanning. */
	start = now_ms();
	err = block_offline(self->blk.id);
	ASSERT_EQ(0, err) TH_LOG("offlining memory%d: %s", self->blk.id,
				 strerror(-err));
	self->offlined = true;
	TH_LOG("offline in %llu ms", (unsigned long long)(now_ms() - start));
	ASSERT_EQ(0, block_file(self->blk.id, "state", state, sizeof(state)));
	EXPECT_STREQ("offline", state);

	moved = chosen_common_pfn(0, pool, idx);
	EXPECT_LT(0, moved);
	EXPECT_FALSE(in_block(&self->blk, moved));
	EXPECT_EQ(moved, chosen_common_pfn(self->child.pid, pool, idx));
	EXPECT_EQ(2 * NR_SAME, kpagecount_read(moved));
	for (i = NR_SAME; i < NR_CHOSEN; i++) {
		p = pagemap_pfn(chosen(pool, idx, i));
		EXPECT_LT(0, p);
		EXPECT_FALSE(in_block(&self->blk, p));
	}
	EXPECT_TRUE(chosen_ok(pool, idx, seed, 0));
	EXPECT_EQ('k', ksm_child_call(&self->child, 'r', CALL_TIMEOUT_MS));
	EXPECT_TRUE(ksm_wait_counters(&base, 1, 2 * NR_SAME - 1,
				      MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	EXPECT_EQ(moved, chosen_common_pfn(0, pool, idx));
	EXPECT_EQ(moved, chosen_common_pfn(self->child.pid, pool, idx));
	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(base.pages_shared + 1, c.pages_shared);
	EXPECT_EQ(base.pages_sharing + 2 * NR_SAME - 1, c.pages_sharing);
	EXPECT_EQ(NR_SAME, ksm_read_merging_pages(0));
	EXPECT_EQ(NR_SAME, ksm_read_merging_pages(self->child.pid));

	/* Back online, movable, and it takes a new KSM page. */
	ASSERT_EQ(0, block_set_state(self->blk.id, "online_movable"));
	self->offlined = false;
	ASSERT_EQ(0, block_file(self->blk.id, "state", state, sizeof(state)));
	EXPECT_STREQ("online", state);
	ASSERT_EQ(0, block_file(self->blk.id, "valid_zones", state,
				sizeof(state)));
	EXPECT_STREQ("Movable", state);

	/*
	 * The counters are not read again as a base here: on 6.12, right
	 * after the block comes back, pages_sharing can count one process's
	 * mappings twice for a moment (less than one full scan).
	 */
	start = now_ms();
	pool2 = pool_in_block(&self->blk, idx2, &allocated);
	ASSERT_NE(NULL, pool2) TH_LOG("no pages of memory%d after onlining",
				      self->blk.id);
	TH_LOG("%zu pages allocated to get %d in the block again, %llu ms",
	       allocated, NR_CHOSEN, (unsigned long long)(now_ms() - start));
	p = merge_chosen(_metadata, &self->blk, pool2, idx2, seed + 100,
			 &base, 2, 2 * NR_SAME - 1 + NR_SAME - 1);
	EXPECT_NE(moved, p);
	EXPECT_TRUE(chosen_ok(pool2, idx2, seed + 100, 0));
	EXPECT_TRUE(chosen_ok(pool, idx, seed, 0));
	EXPECT_EQ('k', ksm_child_call(&self->child, 'r', CALL_TIMEOUT_MS));
	EXPECT_EQ(moved, chosen_common_pfn(0, pool, idx));
}

/*
 * Offline the block from a child while a page of it cannot move (a pipe
 * holds it, through vmsplice), so that offline_pages() keeps retrying;
 * SIGKILL the child: the offline is cancelled.  ksmd, which stops
 * merging while a block goes offline, must merge again afterwards, and
 * the block must still go offline once the page is let go.
 */
TEST_F_TIMEOUT(hotremove, offline_cancelled_then_done, 900)
{
	uint64_t seed = ksm_test_seed("mm_hotremove/cancel");
	struct ksm_counters base, c;
	size_t idx[NR_CHOSEN], allocated, i;
	char *pool, state[64] = "";
	struct iovec iov;
	int pfd[2], status, err;
	int64_t pfn, p;
	uint64_t until;
	pid_t pid;

	ASSERT_EQ(0, ksm_read_counters(&base));
	pool = pool_in_block(&self->blk, idx, &allocated);
	ASSERT_NE(NULL, pool) TH_LOG("no %d pages of memory%d in %d allocated",
				     NR_CHOSEN, self->blk.id, POOL_PAGES);
	pfn = merge_chosen(_metadata, &self->blk, pool, idx, seed, &base, 1,
			   NR_SAME - 1);
	ASSERT_LT(0, pfn);

	/* The first unique page is held by a pipe: it cannot migrate. */
	ASSERT_EQ(0, pipe(pfd));
	iov.iov_base = chosen(pool, idx, NR_SAME);
	iov.iov_len = psize();
	ASSERT_EQ(psize(), vmsplice(pfd[1], &iov, 1, 0));

	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char path[128];

		snprintf(path, sizeof(path), MEM_DIR "/memory%d/state",
			 self->blk.id);
		_exit(-file_write_str(path, "offline"));
	}
	/* Wait until the offline is under way, and give it time to retry. */
	until = now_ms() + 60000;
	while (now_ms() < until &&
	       (block_file(self->blk.id, "state", state, sizeof(state)) ||
		strcmp(state, "going-offline")))
		usleep(20000);
	EXPECT_STREQ("going-offline", state);
	sleep(3);
	EXPECT_EQ(0, waitpid(pid, &status, WNOHANG))
		TH_LOG("the offline ended although a page could not move");
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, block_file(self->blk.id, "state", state, sizeof(state)));
	EXPECT_STREQ("online", state);

	/*
	 * Nothing lost, nothing counted twice.  The counters are waited
	 * for: on 6.12, right after migrations that the cancel undid,
	 * pages_sharing can count mappings twice for less than a full scan.
	 */
	EXPECT_TRUE(chosen_ok(pool, idx, seed, 0));
	p = chosen_common_pfn(0, pool, idx);
	EXPECT_LT(0, p) TH_LOG("the pages are no longer one KSM page");
	if (!ksm_wait_counters(&base, 1, NR_SAME - 1, MERGE_TIMEOUT_MS)) {
		show_merging_processes(&base);
		EXPECT_TRUE(0) TH_LOG("counters not 1/%d above the base",
				      NR_SAME - 1);
	}

	/* ksmd runs again: the unique pages now all alike merge. */
	for (i = NR_SAME + 1; i < NR_CHOSEN; i++)
		fill_page_seeded(chosen(pool, idx, i), seed + 7);
	EXPECT_TRUE(ksm_wait_counters(&base, 2, NR_SAME - 1 + NR_UNIQ - 2,
				      MERGE_TIMEOUT_MS))
		TH_LOG("no merging after the cancelled offline");

	/* Let the page go: now the block goes offline. */
	close(pfd[0]);
	close(pfd[1]);
	err = block_offline(self->blk.id);
	ASSERT_EQ(0, err) TH_LOG("offlining memory%d: %s", self->blk.id,
				 strerror(-err));
	self->offlined = true;
	p = chosen_common_pfn(0, pool, idx);
	EXPECT_LT(0, p);
	EXPECT_FALSE(in_block(&self->blk, p));
	for (i = 0; i < NR_CHOSEN; i++)
		EXPECT_TRUE(page_has_seed(chosen(pool, idx, i),
					  i <= NR_SAME ?
					  chosen_seed(seed, i, 0) : seed + 7));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(base.pages_shared + 2, c.pages_shared);
	EXPECT_EQ(base.pages_sharing + NR_SAME - 1 + NR_UNIQ - 2,
		  c.pages_sharing);
}

TEST_HARNESS_MAIN
