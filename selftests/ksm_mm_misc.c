// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_mm_misc.c - merged pages under userfaultfd, mprotect, /proc/<pid>/mem,
 * fork, MADV_DONTNEED and MADV_FREE.
 *
 * Owns the smaller meetings of KSM pages with the rest of mm, as upstream
 * 6.12 behaves:
 * - userfaultfd write-protect on merged pages: a write traps to the
 *   handler with the page still merged and unchanged; after unprotecting,
 *   the write lands in a private copy and the other mappings keep the KSM
 *   frame;
 * - PROT_NONE and back to PROT_READ|PROT_WRITE keeps the pages merged
 *   (the KSM frame is never made writable), a write then copies;
 * - a write through /proc/<pid>/mem into another process copies the page
 *   in that process only;
 * - fork of a process with KSM pages: the child maps the same frame, ksmd
 *   counts its mappings, and writes on both sides end up all private;
 * - MADV_DONTNEED drops mappings (they read back as zeros) and ksmd drops
 *   them from the counters; MADV_FREE leaves every page either with its
 *   content or reading zeros, and the counters match the mappings left.
 * Verdicts come from pagemap (PFNs, the uffd-wp bit), /proc/kpagecount,
 * ksm_merging_pages and the KSM counters (and vmstat cow_ksm where the
 * kernel counts events); content is checked after every step.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#define MERGE_TIMEOUT_MS	120000
#define SCAN_TIMEOUT_MS		60000
#define CALL_TIMEOUT_MS		60000

#define PM_UFFD_WP	(1ULL << 57)
#define NR		16

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* A process that holds NR pages of @seed at @area (mapped by the parent). */
struct sharer {
	char *area;
	uint64_t seed;
	uint64_t seed2;		/* page i after 'w': seed2 + i */
	size_t written;		/* the page written from outside, or NR */
	struct ksm_child child;
};

static bool pages_have(const char *area, uint64_t seed, uint64_t seed2,
		       size_t other)
{
	size_t i;

	for (i = 0; i < NR; i++)
		if (!page_has_seed(area + i * psize(),
				   i == other ? seed2 + i : seed))
			return false;
	return true;
}

/*
 * 'f': fill and advise; 'r': all pages hold seed, except page ->written
 * which holds seed2 + written; 'w': write every page (seed2 + i); 'W':
 * check that.
 */
static char sharer_cmd(char cmd, void *arg)
{
	struct sharer *s = arg;
	size_t i;

	switch (cmd) {
	case 'f':
		for (i = 0; i < NR; i++)
			fill_page_seeded(s->area + i * psize(), s->seed);
		return madvise(s->area, NR * psize(), MADV_MERGEABLE) ?
		       'e' : 'k';
	case 'r':
		return pages_have(s->area, s->seed, s->seed2, s->written) ?
		       'k' : 'x';
	case 'w':
		for (i = 0; i < NR; i++)
			fill_page_seeded(s->area + i * psize(), s->seed2 + i);
		return 'k';
	case 'W':
		for (i = 0; i < NR; i++)
			if (!page_has_seed(s->area + i * psize(), s->seed2 + i))
				return 'x';
		return 'k';
	case 'm':
		s->written = 4;
		return 'k';
	}
	return '?';
}

FIXTURE(misc)
{
	struct ksm_knobs saved;
	struct sharer sh;
	char *area;
	uint64_t seed;
};

FIXTURE_SETUP(misc)
{
	int err;

	self->sh.child.pid = -1;
	self->area = NULL;
	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
}

FIXTURE_TEARDOWN(misc)
{
	ksm_child_stop(&self->sh.child, 10000);
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

/* NR pages of @seed here, advised. */
static int fill_here(FIXTURE_DATA(misc) *self, uint64_t seed)
{
	size_t i;

	self->seed = seed;
	self->area = map_private_anon(NR);
	if (!self->area)
		return -ENOMEM;
	for (i = 0; i < NR; i++)
		fill_page_seeded(self->area + i * psize(), seed);
	return madvise(self->area, NR * psize(), MADV_MERGEABLE) ? -errno : 0;
}

/* NR pages of one content here, merged; returns the KSM frame. */
static int64_t merge_here(struct __test_metadata *_metadata,
			  FIXTURE_DATA(misc) *self, const char *tag,
			  const struct ksm_counters *base)
{
	int64_t pfn;

	if (fill_here(self, ksm_test_seed(tag)))
		return 0;
	pfn = wait_common_pfn(0, self->area, NR, MERGE_TIMEOUT_MS);
	EXPECT_NE(0, pfn);
	EXPECT_TRUE(ksm_wait_counters(base, 1, NR - 1, MERGE_TIMEOUT_MS));
	return pfn;
}

/* The same, and NR pages of that content in a child, one frame for all. */
static int64_t merge_with_child(struct __test_metadata *_metadata,
				FIXTURE_DATA(misc) *self, const char *tag,
				const struct ksm_counters *base)
{
	uint64_t seed = ksm_test_seed(tag);
	int64_t pfn;

	/* Mapped before the fork, touched only by the child. */
	self->sh.area = map_private_anon(NR);
	if (!self->sh.area)
		return 0;
	self->sh.seed = seed;
	self->sh.seed2 = seed + 1000;
	self->sh.written = NR;
	if (ksm_child_start(&self->sh.child, sharer_cmd, &self->sh) ||
	    ksm_child_call(&self->sh.child, 'f', CALL_TIMEOUT_MS) != 'k' ||
	    fill_here(self, seed))
		return 0;
	pfn = wait_common_pfn(0, self->area, NR, MERGE_TIMEOUT_MS);
	EXPECT_NE(0, pfn);
	EXPECT_EQ(pfn, wait_common_pfn(self->sh.child.pid, self->sh.area, NR,
				       MERGE_TIMEOUT_MS));
	EXPECT_TRUE(ksm_wait_counters(base, 1, 2 * NR - 1, MERGE_TIMEOUT_MS));
	EXPECT_EQ(2 * NR, kpagecount_read(pfn));
	return pfn;
}

struct uffd_writer {
	char *p;
	int done;
};

static void *uffd_write(void *arg)
{
	struct uffd_writer *w = arg;

	w->p[100] ^= 0x5a;
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int uffd_wp(int uffd, char *addr, size_t len, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

TEST_F_TIMEOUT(misc, uffd_wp_merged_pages, 600)
{
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffd_writer w = { .done = 0 };
	struct ksm_counters base;
	uint64_t ents[NR];
	struct uffd_msg msg;
	struct pollfd pfd;
	int64_t pfn, pfns[NR];
	char *want;
	pthread_t t;
	size_t i;
	int uffd;

	ASSERT_EQ(0, ksm_read_counters(&base));
	pfn = merge_here(_metadata, self, "mm_misc/uffd", &base);
	ASSERT_NE(0, pfn);

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	reg.range.start = (uintptr_t)self->area;
	reg.range.len = NR * psize();
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		SKIP(return, "no userfaultfd write-protect: %s",
		     strerror(errno));
	ASSERT_EQ(0, uffd_wp(uffd, self->area, NR * psize(), true));
	ASSERT_EQ(0, pagemap_entries(0, self->area, NR, ents));
	for (i = 0; i < NR; i++) {
		EXPECT_EQ((uint64_t)pfn, ents[i] & PM_PFN_MASK);
		EXPECT_TRUE(!!(ents[i] & PM_UFFD_WP)) TH_LOG("page %zu", i);
	}

	/* The write traps; nothing has changed while it waits. */
	w.p = self->area + 2 * psize();
	ASSERT_EQ(0, pthread_create(&t, NULL, uffd_write, &w));
	pfd.fd = uffd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 30000)) TH_LOG("no fault message");
	ASSERT_EQ((ssize_t)sizeof(msg), read(uffd, &msg, sizeof(msg)));
	EXPECT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	EXPECT_TRUE(!!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP));
	EXPECT_TRUE(!!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE));
	EXPECT_EQ((uintptr_t)w.p, msg.arg.pagefault.address & ~(psize() - 1));
	usleep(200000);
	EXPECT_EQ(0, __atomic_load_n(&w.done, __ATOMIC_SEQ_CST));
	EXPECT_EQ(pfn, pagemap_pfn(w.p));
	EXPECT_TRUE(page_has_seed(w.p, self->seed));

	/* Unprotected, the write goes to a copy of its own. */
	ASSERT_EQ(0, uffd_wp(uffd, w.p, psize(), false));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(1, w.done);
	want = malloc(psize());
	ASSERT_NE(NULL, want);
	fill_page_seeded(want, self->seed);
	want[100] ^= 0x5a;
	EXPECT_EQ(0, memcmp(want, w.p, psize()));
	ASSERT_EQ(0, pagemap_entries(0, self->area, NR, ents));
	for (i = 0; i < NR; i++) {
		if (i == 2) {
			EXPECT_NE((uint64_t)pfn, ents[i] & PM_PFN_MASK);
			EXPECT_FALSE(!!(ents[i] & PM_UFFD_WP));
			continue;
		}
		EXPECT_EQ((uint64_t)pfn, ents[i] & PM_PFN_MASK);
		EXPECT_TRUE(!!(ents[i] & PM_UFFD_WP)) TH_LOG("page %zu", i);
		EXPECT_TRUE(page_has_seed(self->area + i * psize(),
					  self->seed));
	}
	EXPECT_EQ(NR - 1, kpagecount_read(pfn));

	/* Unprotected everywhere: plain COW again. */
	ASSERT_EQ(0, uffd_wp(uffd, self->area, NR * psize(), false));
	self->area[3 * psize()] ^= 1;
	ASSERT_EQ(0, pagemap_pfns(0, self->area, NR, pfns));
	EXPECT_NE(pfn, pfns[3]);
	EXPECT_EQ(pfn, pfns[4]);
	close(uffd);
	EXPECT_TRUE(ksm_wait_counters(&base, 1, NR - 3, MERGE_TIMEOUT_MS));
	free(want);
}

TEST_F_TIMEOUT(misc, prot_none_and_back, 600)
{
	struct ksm_counters base;
	int64_t pfn, pfns[NR];
	size_t i;

	ASSERT_EQ(0, ksm_read_counters(&base));
	pfn = merge_with_child(_metadata, self, "mm_misc/protnone", &base);
	ASSERT_NE(0, pfn);

	ASSERT_EQ(0, mprotect(self->area, NR * psize(), PROT_NONE));
	EXPECT_EQ(pfn, common_pfn(0, self->area, NR));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	EXPECT_TRUE(ksm_wait_counters(&base, 1, 2 * NR - 1, MERGE_TIMEOUT_MS));
	EXPECT_EQ(pfn, common_pfn(0, self->area, NR));

	ASSERT_EQ(0, mprotect(self->area, NR * psize(),
			      PROT_READ | PROT_WRITE));
	EXPECT_EQ(pfn, common_pfn(0, self->area, NR));
	for (i = 0; i < NR; i++)
		EXPECT_TRUE(page_has_seed(self->area + i * psize(),
					  self->seed));
	/* Writable again, but the KSM frame itself never is: a write copies. */
	self->area[psize() + 8] ^= 1;
	ASSERT_EQ(0, pagemap_pfns(0, self->area, NR, pfns));
	for (i = 0; i < NR; i++) {
		if (i == 1) {
			EXPECT_NE(pfn, pfns[i]);
		} else {
			EXPECT_EQ(pfn, pfns[i]);
		}
	}
	EXPECT_EQ(2 * NR - 1, kpagecount_read(pfn));
	/* Written back, the copy may merge again later: no count from here. */
	self->area[psize() + 8] ^= 1;
	EXPECT_TRUE(page_has_seed(self->area + psize(), self->seed));
	EXPECT_EQ(pfn, common_pfn(self->sh.child.pid, self->sh.area, NR));
	EXPECT_EQ('k', ksm_child_call(&self->sh.child, 'r', CALL_TIMEOUT_MS));
}

TEST_F_TIMEOUT(misc, proc_mem_write_other_process, 600)
{
	unsigned long cow0 = 0, cow1 = 0;
	struct ksm_counters base;
	int64_t pfn, pfns[NR];
	char path[64], *buf;
	bool have_cow;
	size_t i;
	int fd;

	ASSERT_EQ(0, ksm_read_counters(&base));
	pfn = merge_with_child(_metadata, self, "mm_misc/procmem", &base);
	ASSERT_NE(0, pfn);
	/*
	 * ksmd stopped while cow_ksm is counted: the copy the write fault
	 * makes holds the KSM page's content until the write lands, and a
	 * ksmd that merged it back in between would make a second COW.
	 */
	ASSERT_EQ(0, ksm_write_str("run", "0"));
	have_cow = !vmstat_read("cow_ksm", &cow0);

	buf = malloc(psize());
	ASSERT_NE(NULL, buf);
	fill_page_seeded(buf, self->sh.seed2 + 4);
	snprintf(path, sizeof(path), "/proc/%d/mem", self->sh.child.pid);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(psize(), pwrite(fd, buf, psize(),
				  (off_t)(uintptr_t)(self->sh.area +
						     4 * psize())));
	close(fd);
	ASSERT_EQ('k', ksm_child_call(&self->sh.child, 'm', CALL_TIMEOUT_MS));
	EXPECT_EQ('k', ksm_child_call(&self->sh.child, 'r', CALL_TIMEOUT_MS))
		TH_LOG("the child does not see exactly the one page written");

	ASSERT_EQ(0, pagemap_pfns(self->sh.child.pid, self->sh.area, NR,
				  pfns));
	for (i = 0; i < NR; i++) {
		if (i == 4) {
			EXPECT_NE(pfn, pfns[i]);
		} else {
			EXPECT_EQ(pfn, pfns[i]);
		}
	}
	/* This process saw nothing of it. */
	EXPECT_EQ(pfn, common_pfn(0, self->area, NR));
	for (i = 0; i < NR; i++)
		EXPECT_TRUE(page_has_seed(self->area + i * psize(),
					  self->seed));
	EXPECT_EQ(2 * NR - 1, kpagecount_read(pfn));
	if (have_cow) {
		ASSERT_EQ(0, vmstat_read("cow_ksm", &cow1));
		EXPECT_EQ(cow0 + 1, cow1);
	}
	ASSERT_EQ(0, ksm_write_str("run", "1"));
	EXPECT_TRUE(ksm_wait_counters(&base, 1, 2 * NR - 2, MERGE_TIMEOUT_MS));
	EXPECT_EQ(NR - 1, ksm_read_merging_pages(self->sh.child.pid));
	free(buf);
}

TEST_F_TIMEOUT(misc, fork_after_merge, 600)
{
	unsigned long cow0 = 0, cow1 = 0;
	struct ksm_counters base;
	int64_t pfn;
	bool have_cow;
	size_t i;

	ASSERT_EQ(0, ksm_read_counters(&base));
	pfn = merge_here(_metadata, self, "mm_misc/fork", &base);
	ASSERT_NE(0, pfn);
	have_cow = !vmstat_read("cow_ksm", &cow0);

	/* The child inherits the mappings of the KSM frame. */
	self->sh.area = self->area;
	self->sh.seed = self->seed;
	self->sh.seed2 = self->seed + 5000;
	self->sh.written = NR;
	ASSERT_EQ(0, ksm_child_start(&self->sh.child, sharer_cmd, &self->sh));
	EXPECT_EQ(pfn, common_pfn(self->sh.child.pid, self->area, NR));
	EXPECT_EQ(2 * NR, kpagecount_read(pfn));
	EXPECT_EQ('k', ksm_child_call(&self->sh.child, 'r', CALL_TIMEOUT_MS));
	/* ksmd counts the child's mappings once it has met them. */
	EXPECT_TRUE(ksm_wait_counters(&base, 1, 2 * NR - 1, MERGE_TIMEOUT_MS));
	EXPECT_EQ(NR, ksm_read_merging_pages(self->sh.child.pid));

	/*
	 * Both write everything: all private, nothing shared any more.
	 * ksmd is stopped meanwhile: a copy that ksmd meets after the fault
	 * made it but before the write lands still has the KSM page's
	 * content, and may be merged back, so that the write faults (and
	 * counts in cow_ksm) a second time.
	 */
	ASSERT_EQ(0, ksm_write_ulong("run", 0));
	ASSERT_EQ('k', ksm_child_call(&self->sh.child, 'w', CALL_TIMEOUT_MS));
	for (i = 0; i < NR; i++)
		fill_page_seeded(self->area + i * psize(), self->seed + 9000 + i);
	EXPECT_EQ('k', ksm_child_call(&self->sh.child, 'W', CALL_TIMEOUT_MS));
	for (i = 0; i < NR; i++)
		EXPECT_TRUE(page_has_seed(self->area + i * psize(),
					  self->seed + 9000 + i));
	EXPECT_EQ(1, pfns_distinct(0, self->area, NR, pfn));
	EXPECT_EQ(1, pfns_distinct(self->sh.child.pid, self->area, NR, pfn));
	if (have_cow) {
		ASSERT_EQ(0, vmstat_read("cow_ksm", &cow1));
		EXPECT_EQ(cow0 + 2 * NR, cow1);
	}
	ASSERT_EQ(0, ksm_write_ulong("run", 1));
	EXPECT_TRUE(ksm_wait_counters(&base, 0, 0, MERGE_TIMEOUT_MS));
	EXPECT_EQ(0, ksm_read_merging_pages(0));
	EXPECT_EQ(0, ksm_read_merging_pages(self->sh.child.pid));
}

static bool page_is_zero(const char *p)
{
	long i;

	for (i = 0; i < psize(); i++)
		if (p[i])
			return false;
	return true;
}

TEST_F_TIMEOUT(misc, madv_dontneed, 600)
{
	struct ksm_counters base;
	int64_t pfn, zero, pfns[NR];
	size_t i, half = NR / 2;

	zero = zero_page_pfn();
	ASSERT_LT(0, zero);
	ASSERT_EQ(0, ksm_read_counters(&base));
	pfn = merge_here(_metadata, self, "mm_misc/dontneed", &base);
	ASSERT_NE(0, pfn);

	ASSERT_EQ(0, madvise(self->area, half * psize(), MADV_DONTNEED));
	ASSERT_EQ(0, pagemap_pfns(0, self->area, NR, pfns));
	for (i = 0; i < NR; i++)
		EXPECT_EQ(i < half ? 0 : pfn, pfns[i]) TH_LOG("page %zu", i);
	EXPECT_EQ((int64_t)(NR - half), kpagecount_read(pfn));
	for (i = 0; i < NR; i++) {
		const char *p = self->area + i * psize();

		EXPECT_TRUE(i < half ? page_is_zero(p) :
				       page_has_seed(p, self->seed))
			TH_LOG("page %zu", i);
	}
	/* Read back, the dropped pages map the zero page. */
	ASSERT_EQ(0, pagemap_pfns(0, self->area, half, pfns));
	for (i = 0; i < half; i++)
		EXPECT_EQ(zero, pfns[i]);
	EXPECT_TRUE(ksm_wait_counters(&base, 1, NR - half - 1,
				      MERGE_TIMEOUT_MS));
	EXPECT_EQ((long)(NR - half), ksm_read_merging_pages(0));

	ASSERT_EQ(0, madvise(self->area + half * psize(),
			     (NR - half) * psize(), MADV_DONTNEED));
	for (i = 0; i < NR; i++)
		EXPECT_TRUE(page_is_zero(self->area + i * psize()));
	EXPECT_TRUE(ksm_wait_counters(&base, 0, 0, MERGE_TIMEOUT_MS));
	EXPECT_EQ(0, ksm_read_merging_pages(0));
}

TEST_F_TIMEOUT(misc, madv_free, 600)
{
	size_t i, kept = 0, zeroed = 0, mapped;
	struct ksm_counters base;
	int64_t pfn, pfns[NR];
	char *want;

	ASSERT_EQ(0, ksm_read_counters(&base));
	pfn = merge_with_child(_metadata, self, "mm_misc/free", &base);
	ASSERT_NE(0, pfn);

	ASSERT_EQ(0, madvise(self->area, NR * psize(), MADV_FREE));
	for (i = 0; i < NR; i++) {
		const char *p = self->area + i * psize();

		if (page_has_seed(p, self->seed))
			kept++;
		else if (page_is_zero(p))
			zeroed++;
		else
			TH_LOG("page %zu holds neither its content nor zeros",
			       i);
	}
	TH_LOG("after MADV_FREE: %zu pages kept, %zu read zeros", kept,
	       zeroed);
	EXPECT_EQ((size_t)NR, kept + zeroed);
	EXPECT_EQ('k', ksm_child_call(&self->sh.child, 'r', CALL_TIMEOUT_MS));

	/* The counters follow the mappings that are left. */
	ASSERT_EQ(0, pagemap_pfns(0, self->area, NR, pfns));
	for (i = 0, mapped = NR; i < NR; i++)
		mapped += pfns[i] == pfn;
	EXPECT_EQ((int64_t)mapped, kpagecount_read(pfn));
	EXPECT_TRUE(ksm_wait_counters(&base, 1, mapped - 1, MERGE_TIMEOUT_MS));

	/* A write still gets a copy of its own. */
	want = malloc(psize());
	ASSERT_NE(NULL, want);
	memcpy(want, self->area, psize());
	want[0] ^= 1;
	self->area[0] ^= 1;
	EXPECT_EQ(0, memcmp(want, self->area, psize()));
	EXPECT_NE(pfn, pagemap_pfn(self->area));
	EXPECT_EQ('k', ksm_child_call(&self->sh.child, 'r', CALL_TIMEOUT_MS));
	EXPECT_EQ(pfn, common_pfn(self->sh.child.pid, self->sh.area, NR));
	free(want);
}

TEST_HARNESS_MAIN
