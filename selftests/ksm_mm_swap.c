// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_mm_swap.c - merged pages go to swap and come back intact.
 *
 * Owns KSM meeting swap, as upstream 6.12 behaves: a KSM page that
 * reclaim picks is written to swap once and every mapping of it (in every
 * process) then holds the same swap entry; reading the pages back gives
 * the old content everywhere, and ksmd merges them again afterwards.
 * The pages are pushed out of a memory cgroup (v2) of their own, by
 * memory.reclaim and by real pressure against memory.max, and brought
 * back by faults and by swapoff.
 *
 * vmstat ksm_swpin_copy counts the copies made by ksm_might_need_to_copy()
 * when a swapped page is mapped again: if the swap cache still holds the
 * KSM page itself (its stable node alive), every mapping gets that page
 * back and nothing is copied; if reclaim freed it, the first fault reads
 * an ordinary anonymous page, and every further mapping of the same swap
 * entry with another anon_vma or page index (another process, another
 * address) gets a copy of it, one count each.  With ksmd stopped while the
 * pages come back, the number of mappings that do not share the most common
 * frame is exactly the number of copies; both tests that check it hold
 * ksmd stopped for that.
 *
 * Needs a swap device (tools/vm.sh --zram SIZE) and the memory controller
 * of cgroup v2 (mounted under /run if nothing mounted cgroup2); skips
 * without them.  Verdicts come from /proc/<pid>/pagemap (present and swap
 * bits, PFNs, swap entries), /proc/kpagecount, /proc/vmstat and the KSM
 * counters; content is checked by the processes themselves after every
 * step.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#define MERGE_TIMEOUT_MS	120000
#define SCAN_TIMEOUT_MS		60000
#define CALL_TIMEOUT_MS		120000

#define NR_SAME		32	/* pages of one content, per process */
#define NR_UNIQ		8	/* pages of their own, per process */
#define NR_PAGES	(NR_SAME + NR_UNIQ)
#define NR_WORKERS	2
#define NR_MAPPINGS	(NR_WORKERS * NR_SAME)

/* Against a memory.max of 8 MiB: 5 MiB hot, 27 MiB streamed through. */
#define BALLOON_PAGES	8192
#define BALLOON_HOT	1280
#define BALLOON_SLICE	512
#define CG_MOUNT	"/run/ksm_mm_cgroup"

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* What one worker process holds; the parent maps @area before the fork. */
struct worker {
	char *area;
	uint64_t seed;		/* the content of pages 0..NR_SAME-1 */
	uint64_t useed;		/* page NR_SAME + i holds useed + i */
	char *balloon;
	struct ksm_child child;
};

static bool worker_pages_ok(const struct worker *w)
{
	size_t i;

	for (i = 0; i < NR_PAGES; i++) {
		uint64_t seed = i < NR_SAME ? w->seed : w->useed + i;

		if (!page_has_seed(w->area + i * psize(), seed))
			return false;
	}
	return true;
}

static void balloon_touch(char *balloon, size_t i)
{
	*(volatile uint64_t *)(balloon + i * psize()) += i + 1;
}

/*
 * 'f': fill and advise, 'r': read every page back and check it,
 * 'b': (allocate and) write the balloon once more, 'B': drop the balloon.
 */
static char worker_cmd(char cmd, void *arg)
{
	struct worker *w = arg;
	size_t i, len = (size_t)BALLOON_PAGES * psize();

	switch (cmd) {
	case 'f':
		for (i = 0; i < NR_PAGES; i++)
			fill_page_seeded(w->area + i * psize(),
					 i < NR_SAME ? w->seed : w->useed + i);
		if (madvise(w->area, NR_PAGES * psize(), MADV_MERGEABLE))
			return 'e';
		return 'k';
	case 'r':
		return worker_pages_ok(w) ? 'k' : 'x';
	case 'b':
		if (!w->balloon) {
			w->balloon = mmap(NULL, len, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (w->balloon == MAP_FAILED) {
				w->balloon = NULL;
				return 'e';
			}
			madvise(w->balloon, len, MADV_NOHUGEPAGE);
		}
		/*
		 * A hot part touched again and again between slices of a
		 * cold stream: reclaim sees the hot pages referenced twice
		 * and activates them, the active list outgrows the inactive
		 * one and gets aged, down to the merged page at its tail.
		 * Not all-zero pages: those would not reach the device.
		 */
		for (i = BALLOON_HOT; i < BALLOON_PAGES; i++) {
			size_t j;

			if ((i - BALLOON_HOT) % BALLOON_SLICE == 0)
				for (j = 0; j < BALLOON_HOT; j++)
					balloon_touch(w->balloon, j);
			balloon_touch(w->balloon, i);
		}
		return 'k';
	case 'B':
		if (w->balloon)
			munmap(w->balloon, len);
		w->balloon = NULL;
		return 'k';
	}
	return '?';
}

/* A child memory cgroup, and what we changed to get it. */
struct memcg {
	char root[256];
	char path[320];
	bool mounted;
	bool enabled_memory;
};

static int find_cgroup2(char *root, size_t size)
{
	char dev[128], dir[256], type[64];
	int ret = -ENOENT;
	FILE *f;

	if (size < sizeof(dir))
		return -EINVAL;
	f = fopen("/proc/mounts", "r");
	if (!f)
		return -errno;
	while (fscanf(f, "%127s %255s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(root, size, "%s", dir);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static int cg_file_write(const struct memcg *cg, const char *file,
			 const char *val)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", cg->path, file);
	return file_write_str(path, val);
}

static int cg_file_read(const struct memcg *cg, const char *file, char *buf,
			size_t size)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", cg->path, file);
	return file_read_str(path, buf, size);
}

static void memcg_destroy(struct memcg *cg)
{
	char path[512], pids[4096], *tok, *save = NULL;

	if (!cg->path[0])
		return;
	/* Anything still inside goes back to the root. */
	if (!cg_file_read(cg, "cgroup.procs", pids, sizeof(pids))) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg->root);
		for (tok = strtok_r(pids, "\n", &save); tok;
		     tok = strtok_r(NULL, "\n", &save))
			file_write_str(path, tok);
	}
	if (rmdir(cg->path))
		fprintf(stderr, "# rmdir %s: %s\n", cg->path, strerror(errno));
	cg->path[0] = '\0';
	if (cg->enabled_memory) {
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control",
			 cg->root);
		file_write_str(path, "-memory");
		cg->enabled_memory = false;
	}
	if (cg->mounted) {
		umount(cg->root);
		rmdir(cg->root);
		cg->mounted = false;
	}
}

/* 0, -errno, or 1 when cgroup v2 or its memory controller is missing. */
static int memcg_create(struct memcg *cg, const char *name)
{
	char path[512], buf[256];
	int err;

	memset(cg, 0, sizeof(*cg));
	if (find_cgroup2(cg->root, sizeof(cg->root))) {
		/* The guest's / is read-only: mount it on a tmpfs. */
		snprintf(cg->root, sizeof(cg->root), "%s", CG_MOUNT);
		if (mkdir(cg->root, 0755) && errno != EEXIST)
			return -errno;
		if (mount("cgroup2", cg->root, "cgroup2", 0, NULL)) {
			rmdir(cg->root);
			return 1;
		}
		cg->mounted = true;
	}
	snprintf(path, sizeof(path), "%s/cgroup.controllers", cg->root);
	err = file_read_str(path, buf, sizeof(buf));
	if (err || !strstr(buf, "memory")) {
		memcg_destroy(cg);
		return err ? err : 1;
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", cg->root);
	err = file_read_str(path, buf, sizeof(buf));
	if (!err && !strstr(buf, "memory")) {
		err = file_write_str(path, "+memory");
		cg->enabled_memory = !err;
	}
	if (err) {
		memcg_destroy(cg);
		return err;
	}
	snprintf(cg->path, sizeof(cg->path), "%s/%s", cg->root, name);
	if (mkdir(cg->path, 0755)) {
		err = -errno;
		cg->path[0] = '\0';
		memcg_destroy(cg);
		return err;
	}
	return 0;
}

static int memcg_add(const struct memcg *cg, pid_t pid)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", pid);
	return cg_file_write(cg, "cgroup.procs", buf);
}

/* The first active swap device of /proc/swaps and its priority. */
static int first_swap(char *dev, size_t size, int *prio)
{
	char line[512], name[256];
	int ret = -ENOENT;
	FILE *f;

	f = fopen("/proc/swaps", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %*s %*s %*s %d", name, prio) == 2 &&
		    name[0] == '/') {
			snprintf(dev, size, "%s", name);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

FIXTURE(swap)
{
	struct ksm_knobs saved;
	struct memcg cg;
	struct worker w[NR_WORKERS];
	char swapdev[256];
	int swapprio;
	bool swapped_off;
};

FIXTURE_SETUP(swap)
{
	char name[64];
	int err, i;

	memset(self->w, 0, sizeof(self->w));
	for (i = 0; i < NR_WORKERS; i++)
		self->w[i].child.pid = -1;
	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	if (first_swap(self->swapdev, sizeof(self->swapdev),
		       &self->swapprio))
		SKIP(return, "no swap device (tools/vm.sh --zram SIZE)");
	snprintf(name, sizeof(name), "ksm_mm_swap.%d", getpid());
	err = memcg_create(&self->cg, name);
	if (err == 1)
		SKIP(return, "no cgroup v2 memory controller");
	ASSERT_EQ(0, err) TH_LOG("memory cgroup: %s", strerror(-err));
	err = ksm_merge_setup(&self->saved);
	if (err) {
		if (self->saved.nr)
			ksm_restore_knobs(&self->saved);
		memcg_destroy(&self->cg);
	}
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
}

FIXTURE_TEARDOWN(swap)
{
	int i;

	for (i = 0; i < NR_WORKERS; i++)
		ksm_child_stop(&self->w[i].child, 10000);
	if (self->swapped_off) {
		int flags = 0;

		if (self->swapprio >= 0)
			flags = SWAP_FLAG_PREFER |
				(self->swapprio & SWAP_FLAG_PRIO_MASK);
		EXPECT_EQ(0, swapon(self->swapdev, flags))
			TH_LOG("swapon %s: %s", self->swapdev, strerror(errno));
	}
	memcg_destroy(&self->cg);
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

/* Map, start and fill the workers inside the cgroup; wait for the merge. */
static void start_workers(struct __test_metadata *_metadata,
			  FIXTURE_DATA(swap) *self, const char *tag,
			  const struct ksm_counters *base)
{
	uint64_t seed = ksm_test_seed(tag);
	int64_t pfn[NR_WORKERS];
	int i;

	for (i = 0; i < NR_WORKERS; i++) {
		struct worker *w = &self->w[i];

		/* Mapped here, touched only in the child: own anon_vma each. */
		w->area = map_private_anon(NR_PAGES);
		ASSERT_NE(NULL, w->area);
		w->seed = seed;
		w->useed = seed + 1000 * (i + 1);
		ASSERT_EQ(0, ksm_child_start(&w->child, worker_cmd, w));
		ASSERT_EQ(0, memcg_add(&self->cg, w->child.pid));
		ASSERT_EQ('k', ksm_child_call(&w->child, 'f',
					      CALL_TIMEOUT_MS));
	}
	for (i = 0; i < NR_WORKERS; i++) {
		pfn[i] = wait_common_pfn(self->w[i].child.pid, self->w[i].area,
					 NR_SAME, MERGE_TIMEOUT_MS);
		ASSERT_NE(0, pfn[i]) TH_LOG("worker %d did not merge", i);
	}
	ASSERT_EQ(pfn[0], pfn[1]) TH_LOG("the workers map different frames");
	ASSERT_TRUE(ksm_wait_counters(base, 1, NR_MAPPINGS - 1,
				      MERGE_TIMEOUT_MS));
	for (i = 0; i < NR_WORKERS; i++)
		ASSERT_EQ('k', ksm_child_call(&self->w[i].child, 'r',
					      CALL_TIMEOUT_MS));
}

/* All NR_SAME pages of every worker are swapped out (not present). */
static bool all_swapped(FIXTURE_DATA(swap) *self)
{
	uint64_t ents[NR_PAGES];
	int i, j;

	for (i = 0; i < NR_WORKERS; i++) {
		if (pagemap_entries(self->w[i].child.pid, self->w[i].area,
				    NR_PAGES, ents))
			return false;
		for (j = 0; j < NR_SAME; j++)
			if ((ents[j] & PM_PRESENT) || !(ents[j] & PM_SWAP))
				return false;
	}
	return true;
}

/*
 * The merged page went out as one page: every mapping in every worker
 * holds the same swap entry, and the workers' own pages that went out
 * hold entries of their own.  Returns the number of distinct swap entries.
 */
static long check_one_swap_entry(struct __test_metadata *_metadata,
				 FIXTURE_DATA(swap) *self)
{
	uint64_t ents[NR_WORKERS][NR_PAGES], own[NR_WORKERS * NR_UNIQ];
	uint64_t shared;
	long nr_own = 0, i, j;

	for (i = 0; i < NR_WORKERS; i++)
		EXPECT_EQ(0, pagemap_entries(self->w[i].child.pid,
					     self->w[i].area, NR_PAGES,
					     ents[i]));
	shared = ents[0][0] & PM_PFN_MASK;
	for (i = 0; i < NR_WORKERS; i++) {
		for (j = 0; j < NR_SAME; j++)
			EXPECT_EQ(shared, ents[i][j] & PM_PFN_MASK)
				TH_LOG("worker %ld page %ld: swap entry %#llx, not %#llx",
				       i, j, (unsigned long long)
				       (ents[i][j] & PM_PFN_MASK),
				       (unsigned long long)shared);
		for (j = NR_SAME; j < NR_PAGES; j++)
			if (ents[i][j] & PM_SWAP)
				own[nr_own++] = ents[i][j] & PM_PFN_MASK;
	}
	for (i = 0; i < nr_own; i++) {
		EXPECT_NE(shared, own[i]);
		for (j = 0; j < i; j++)
			EXPECT_NE(own[j], own[i]);
	}
	return 1 + nr_own;
}

/*
 * With ksmd stopped and every page read back: all present, and the
 * number of mappings off the most common frame (the copies) is returned.
 */
static long count_swapin_copies(struct __test_metadata *_metadata,
				FIXTURE_DATA(swap) *self)
{
	int64_t pfns[NR_MAPPINGS];
	long best = 0, n;
	int i, j;

	for (i = 0; i < NR_WORKERS; i++)
		EXPECT_EQ(0, pagemap_pfns(self->w[i].child.pid,
					  self->w[i].area, NR_SAME,
					  pfns + i * NR_SAME));
	for (i = 0; i < NR_MAPPINGS; i++) {
		EXPECT_NE(0, pfns[i]) TH_LOG("mapping %d not present", i);
		for (n = 0, j = 0; j < NR_MAPPINGS; j++)
			n += pfns[j] == pfns[i];
		if (n > best)
			best = n;
	}
	return NR_MAPPINGS - best;
}

/* After the pages came back: ksmd merges them again, counters as before. */
static void check_merged_again(struct __test_metadata *_metadata,
			       FIXTURE_DATA(swap) *self,
			       const struct ksm_counters *base)
{
	int64_t pfn[NR_WORKERS];
	int i;

	for (i = 0; i < NR_WORKERS; i++) {
		pfn[i] = wait_common_pfn(self->w[i].child.pid, self->w[i].area,
					 NR_SAME, MERGE_TIMEOUT_MS);
		EXPECT_NE(0, pfn[i]) TH_LOG("worker %d not merged again", i);
	}
	EXPECT_EQ(pfn[0], pfn[1]);
	EXPECT_EQ(NR_MAPPINGS, kpagecount_read(pfn[0]));
	EXPECT_TRUE(ksm_wait_counters(base, 1, NR_MAPPINGS - 1,
				      MERGE_TIMEOUT_MS));
	for (i = 0; i < NR_WORKERS; i++) {
		EXPECT_EQ(NR_SAME, ksm_read_merging_pages(self->w[i].child.pid));
		EXPECT_EQ('k', ksm_child_call(&self->w[i].child, 'r',
					      CALL_TIMEOUT_MS))
			TH_LOG("worker %d content after the merge", i);
	}
}

/* What the cgroup and the page tables say, when pages did not go out. */
static void dump_state(FIXTURE_DATA(swap) *self)
{
	static const char * const keys[] = {
		"anon ", "active_anon", "inactive_anon", "swapcached",
		"pgscan ", "pgsteal ", "pgrefill", "pgactivate",
	};
	char buf[4096], *line, *save = NULL;
	uint64_t ents[NR_PAGES];
	size_t k;
	int i;

	if (!cg_file_read(&self->cg, "memory.stat", buf, sizeof(buf)))
		for (line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			for (k = 0; k < ARRAY_SIZE(keys); k++)
				if (!strncmp(line, keys[k], strlen(keys[k])))
					fprintf(stderr, "# memory.stat %s\n",
						line);
	for (i = 0; i < NR_WORKERS; i++)
		if (!pagemap_entries(self->w[i].child.pid, self->w[i].area,
				     NR_PAGES, ents))
			fprintf(stderr,
				"# worker %d pagemap: merged %#llx, own %#llx\n",
				i, (unsigned long long)ents[0],
				(unsigned long long)ents[NR_SAME]);
}

/*
 * memory.reclaim until every merged mapping is swapped out.  Reclaim
 * judges the active/inactive balance from the cgroup's statistics, which
 * a small cgroup only gets flushed every two seconds or when memory.stat
 * is read: read it before every round, so that the active merged page is
 * aged and not skipped on stale numbers.  Returns the rounds it took or
 * -errno.
 */
static int reclaim_all(struct __test_metadata *_metadata,
		       FIXTURE_DATA(swap) *self)
{
	char stat[4096];
	int round, err;

	for (round = 0; round < 40; round++) {
		if (all_swapped(self))
			return 0;
		cg_file_read(&self->cg, "memory.stat", stat, sizeof(stat));
		err = cg_file_write(&self->cg, "memory.reclaim", "64M");
		/* EAGAIN: less than asked for could be reclaimed. */
		if (err && err != -EAGAIN)
			return err;
		usleep(100000);
	}
	dump_state(self);
	return all_swapped(self) ? 0 : -ETIMEDOUT;
}

static bool vmstat_get(const char *name, unsigned long *val)
{
	return !vmstat_read(name, val);
}

/* memory.reclaim pushes the merged page out; faults bring it back. */
TEST_F_TIMEOUT(swap, reclaim_and_fault_back, 600)
{
	unsigned long out0, out1, in0, in1, cp0 = 0, cp1 = 0;
	bool have_events, have_copy;
	struct ksm_counters base;
	long distinct, copies;
	int i;

	ASSERT_EQ(0, ksm_read_counters(&base));
	start_workers(_metadata, self, "mm_swap/reclaim", &base);

	have_events = vmstat_get("pswpout", &out0) &&
		      vmstat_get("pswpin", &in0);
	have_copy = vmstat_get("ksm_swpin_copy", &cp0);
	if (!have_events)
		TH_LOG("no pswpin/pswpout in /proc/vmstat: not checked");

	ASSERT_EQ(0, reclaim_all(_metadata, self));
	ASSERT_TRUE(all_swapped(self)) TH_LOG("merged pages not swapped out");
	distinct = check_one_swap_entry(_metadata, self);
	if (have_events) {
		ASSERT_TRUE(vmstat_get("pswpout", &out1));
		EXPECT_LE(out0 + distinct, out1)
			TH_LOG("pswpout %lu -> %lu, %ld pages out", out0, out1,
			       distinct);
	}

	/* Hold ksmd still while the pages come back, to count copies. */
	ASSERT_EQ(0, ksm_write_str("run", "0"));
	for (i = 0; i < NR_WORKERS; i++)
		EXPECT_EQ('k', ksm_child_call(&self->w[i].child, 'r',
					      CALL_TIMEOUT_MS))
			TH_LOG("worker %d content after swap-in", i);
	copies = count_swapin_copies(_metadata, self);
	TH_LOG("%ld of %d mappings came back as copies", copies, NR_MAPPINGS);
	if (have_events) {
		ASSERT_TRUE(vmstat_get("pswpin", &in1));
		EXPECT_LT(in0, in1);
	}
	if (have_copy) {
		ASSERT_TRUE(vmstat_get("ksm_swpin_copy", &cp1));
		EXPECT_EQ(cp0 + copies, cp1)
			TH_LOG("ksm_swpin_copy %lu -> %lu, %ld copies", cp0,
			       cp1, copies);
	} else {
		TH_LOG("no ksm_swpin_copy in /proc/vmstat: not checked");
	}

	ASSERT_EQ(0, ksm_write_str("run", "1"));
	check_merged_again(_metadata, self, &base);
}

/* A balloon against memory.max pushes the merged page out. */
TEST_F_TIMEOUT(swap, pressure_and_fault_back, 900)
{
	unsigned long out0, out1, in0, in1;
	struct ksm_counters base;
	bool have_events;
	int i, round;

	ASSERT_EQ(0, ksm_read_counters(&base));
	start_workers(_metadata, self, "mm_swap/pressure", &base);
	have_events = vmstat_get("pswpout", &out0) &&
		      vmstat_get("pswpin", &in0);

	ASSERT_EQ(0, cg_file_write(&self->cg, "memory.swap.max", "max"));
	ASSERT_EQ(0, cg_file_write(&self->cg, "memory.max", "8M"));
	for (round = 0; round < 8 && !all_swapped(self); round++)
		ASSERT_EQ('k', ksm_child_call(&self->w[round % NR_WORKERS].child,
					      'b', CALL_TIMEOUT_MS));
	if (!all_swapped(self))
		dump_state(self);
	ASSERT_TRUE(all_swapped(self))
		TH_LOG("merged pages not swapped out after %d rounds", round);
	TH_LOG("swapped out after %d balloon rounds", round);
	check_one_swap_entry(_metadata, self);
	if (have_events) {
		ASSERT_TRUE(vmstat_get("pswpout", &out1));
		EXPECT_LT(out0, out1);
	}

	for (i = 0; i < NR_WORKERS; i++)
		ASSERT_EQ('k', ksm_child_call(&self->w[i].child, 'B',
					      CALL_TIMEOUT_MS));
	ASSERT_EQ(0, cg_file_write(&self->cg, "memory.max", "max"));
	/* ksmd keeps running while the pages come back this time. */
	for (i = 0; i < NR_WORKERS; i++)
		EXPECT_EQ('k', ksm_child_call(&self->w[i].child, 'r',
					      CALL_TIMEOUT_MS))
			TH_LOG("worker %d content after swap-in", i);
	if (have_events) {
		ASSERT_TRUE(vmstat_get("pswpin", &in1));
		EXPECT_LT(in0, in1);
	}
	check_merged_again(_metadata, self, &base);
}

/* swapoff brings the merged page back into every mapping. */
TEST_F_TIMEOUT(swap, swapoff_brings_back, 600)
{
	unsigned long cp0 = 0, cp1 = 0;
	struct ksm_counters base;
	bool have_copy;
	long copies;
	int i;

	ASSERT_EQ(0, ksm_read_counters(&base));
	start_workers(_metadata, self, "mm_swap/swapoff", &base);
	have_copy = vmstat_get("ksm_swpin_copy", &cp0);

	ASSERT_EQ(0, reclaim_all(_metadata, self));
	ASSERT_TRUE(all_swapped(self)) TH_LOG("merged pages not swapped out");
	check_one_swap_entry(_metadata, self);

	ASSERT_EQ(0, ksm_write_str("run", "0"));
	ASSERT_EQ(0, swapoff(self->swapdev))
		TH_LOG("swapoff %s: %s", self->swapdev, strerror(errno));
	self->swapped_off = true;
	/* Every page is back without a fault. */
	copies = count_swapin_copies(_metadata, self);
	TH_LOG("%ld of %d mappings came back as copies", copies, NR_MAPPINGS);
	if (have_copy) {
		ASSERT_TRUE(vmstat_get("ksm_swpin_copy", &cp1));
		EXPECT_EQ(cp0 + copies, cp1)
			TH_LOG("ksm_swpin_copy %lu -> %lu, %ld copies", cp0,
			       cp1, copies);
	}
	for (i = 0; i < NR_WORKERS; i++)
		EXPECT_EQ('k', ksm_child_call(&self->w[i].child, 'r',
					      CALL_TIMEOUT_MS))
			TH_LOG("worker %d content after swapoff", i);

	ASSERT_EQ(0, ksm_write_str("run", "1"));
	check_merged_again(_metadata, self, &base);
}

TEST_HARNESS_MAIN
