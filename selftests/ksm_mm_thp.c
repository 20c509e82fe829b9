// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_mm_thp.c - merging inside transparent huge pages, and huge pages
 * made around KSM zero pages.
 *
 * Owns KSM meeting THP, as upstream 6.12 behaves:
 * - a THP whose 4 KiB subpages are partly identical is split when ksmd
 *   merges them: the identical subpages end up on one KSM frame (one of
 *   the THP's own frames), the others keep their frames and content, and
 *   smaps AnonHugePages drops to 0;
 * - with use_zero_pages=1, zero-filled pages become KSM zero pages (the
 *   shared zero page in pagemap, counted in ksm_zero_pages and the
 *   process's ksm_stat); khugepaged, or MADV_COLLAPSE, collapsing a range
 *   around them gives one THP with zeros in their place, and ksm_zero_pages
 *   drops by as many as pagemap lost; ksmd then splits the THP again, and
 *   the zero-filled subpages map the zero page again (6.12's split maps
 *   them itself, uncounted by KSM), content and counts consistent.
 * The THP and khugepaged knobs are saved and restored around each test.
 * Verdicts come from /proc/self/pagemap, /proc/kpageflags (KPF_THP),
 * /proc/kpagecount, smaps AnonHugePages, ksm_stat and the KSM counters; content
 * is checked after every step.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/kernel-page-flags.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define MERGE_TIMEOUT_MS	180000
#define COLLAPSE_TIMEOUT_MS	180000
#define SCAN_TIMEOUT_MS		60000

#define THP_DIR		"/sys/kernel/mm/transparent_hugepage"
#define HPAGE_SIZE	(2L << 20)
#define HPAGE_NR	512

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

static const char * const thp_knobs[] = {
	"enabled", "defrag", "khugepaged/scan_sleep_millisecs",
	"khugepaged/alloc_sleep_millisecs", "khugepaged/pages_to_scan",
	"khugepaged/max_ptes_none",
};

#define NR_THP_KNOBS ARRAY_SIZE(thp_knobs)

static int thp_read(const char *knob, char *buf, size_t size)
{
	char path[128];

	snprintf(path, sizeof(path), THP_DIR "/%s", knob);
	return file_read_str(path, buf, size);
}

static int thp_write(const char *knob, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), THP_DIR "/%s", knob);
	return file_write_str(path, val);
}

/* "always [madvise] never" -> "madvise" */
static void selected_word(char *buf)
{
	char *l = strchr(buf, '['), *r = l ? strchr(l, ']') : NULL;

	if (l && r) {
		memmove(buf, l + 1, r - l - 1);
		buf[r - l - 1] = '\0';
	}
}

FIXTURE(thp)
{
	struct ksm_knobs saved;
	char thp_saved[NR_THP_KNOBS][64];
	bool thp_valid;
};

FIXTURE_SETUP(thp)
{
	size_t i;
	int err;

	self->thp_valid = false;
	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	if (access(THP_DIR "/enabled", W_OK))
		SKIP(return, "no transparent huge pages");
	for (i = 0; i < NR_THP_KNOBS; i++) {
		ASSERT_EQ(0, thp_read(thp_knobs[i], self->thp_saved[i],
				      sizeof(self->thp_saved[i])));
		selected_word(self->thp_saved[i]);
	}
	self->thp_valid = true;
	/* Huge pages where we ask for them, khugepaged quick. */
	ASSERT_EQ(0, thp_write("enabled", "madvise"));
	ASSERT_EQ(0, thp_write("defrag", "madvise"));
	ASSERT_EQ(0, thp_write("khugepaged/scan_sleep_millisecs", "100"));
	ASSERT_EQ(0, thp_write("khugepaged/alloc_sleep_millisecs", "100"));
	ASSERT_EQ(0, thp_write("khugepaged/pages_to_scan", "4096"));
	ASSERT_EQ(0, thp_write("khugepaged/max_ptes_none", "511"));
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
}

FIXTURE_TEARDOWN(thp)
{
	size_t i;

	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
	for (i = 0; self->thp_valid && i < NR_THP_KNOBS; i++)
		EXPECT_EQ(0, thp_write(thp_knobs[i], self->thp_saved[i]))
			TH_LOG("restoring %s", thp_knobs[i]);
}

/* @nr huge-page-aligned huge page sizes of anonymous memory, unpopulated. */
static char *map_aligned(size_t nr)
{
	size_t len = (nr + 1) * HPAGE_SIZE;
	char *p, *a;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + HPAGE_SIZE - 1) & ~(HPAGE_SIZE - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + nr * HPAGE_SIZE, p + len - (a + nr * HPAGE_SIZE));
	return a;
}

static long huge_kb(const char *area)
{
	return smaps_field_kb(0, area, "AnonHugePages");
}

/* All @nr frames from @pfns[0] on are consecutive and part of a THP. */
static bool one_thp(const int64_t *pfns, size_t nr)
{
	uint64_t *flags;
	bool ret = true;
	size_t i;

	for (i = 1; i < nr; i++)
		if (pfns[i] != pfns[0] + (int64_t)i)
			return false;
	flags = calloc(nr, sizeof(*flags));
	if (!flags || kpageflags_read(pfns[0], nr, flags)) {
		free(flags);
		return false;
	}
	for (i = 0; i < nr; i++)
		if (!(flags[i] & (1ULL << KPF_THP)))
			ret = false;
	free(flags);
	return ret;
}

#define NR_HUGE		2
#define NR_SUB		(NR_HUGE * HPAGE_NR)

/*
 * Every eighth subpage holds @seed, the others @seed + 1 + i: 128
 * mappings of one content, well within max_page_sharing (256).
 */
#define SAME_EVERY	8
#define NR_SUB_SAME	(NR_SUB / SAME_EVERY)

static bool is_same_sub(size_t i)
{
	return i % SAME_EVERY == 0;
}

static uint64_t sub_seed(uint64_t seed, size_t i)
{
	return is_same_sub(i) ? seed : seed + 1 + i;
}

TEST_F_TIMEOUT(thp, split_and_merge_subpages, 900)
{
	uint64_t seed = ksm_test_seed("mm_thp/split");
	int64_t before[NR_SUB], after[NR_SUB], pfn = 0;
	struct ksm_counters base;
	size_t i;
	char *area;
	bool ok;

	area = map_aligned(NR_HUGE);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, madvise(area, NR_HUGE * HPAGE_SIZE, MADV_HUGEPAGE));
	for (i = 0; i < NR_SUB; i++)
		fill_page_seeded(area + i * psize(), sub_seed(seed, i));
	if (huge_kb(area) != NR_HUGE * HPAGE_SIZE / 1024)
		SKIP(return, "no THP for the area (AnonHugePages %ld kB)",
		     huge_kb(area));
	ASSERT_EQ(0, pagemap_pfns(0, area, NR_SUB, before));
	for (i = 0; i < NR_HUGE; i++)
		ASSERT_TRUE(one_thp(before + i * HPAGE_NR, HPAGE_NR));
	ASSERT_EQ(0, ksm_read_counters(&base));

	ASSERT_EQ(0, madvise(area, NR_HUGE * HPAGE_SIZE, MADV_MERGEABLE));
	ok = KSM_WAIT_FOR(!pagemap_pfns(0, area, NR_SUB, after) &&
			  (pfn = after[0]) && pfn == after[SAME_EVERY] &&
			  pfn == after[NR_SUB - SAME_EVERY] &&
			  pfn == after[HPAGE_NR], MERGE_TIMEOUT_MS);
	ASSERT_TRUE(ok) TH_LOG("identical subpages did not merge");
	EXPECT_TRUE(ksm_wait_counters(&base, 1, NR_SUB_SAME - 1,
				      MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));

	ASSERT_EQ(0, pagemap_pfns(0, area, NR_SUB, after));
	EXPECT_EQ(0, huge_kb(area)) TH_LOG("the THPs were not split");
	EXPECT_EQ(NR_SUB_SAME, kpagecount_read(pfn));
	EXPECT_EQ(0, pfn_has_kpf(pfn, KPF_THP));
	/* The KSM page is one of the THPs' own frames. */
	for (i = 0, ok = false; i < NR_SUB; i += SAME_EVERY)
		ok |= before[i] == pfn;
	EXPECT_TRUE(ok) TH_LOG("KSM frame %#llx was not a subpage",
			       (unsigned long long)pfn);
	for (i = 0; i < NR_SUB; i++) {
		const char *page = area + i * psize();

		if (!is_same_sub(i)) {
			/* Split in place: same frame, same bytes. */
			EXPECT_EQ(before[i], after[i]) TH_LOG("subpage %zu", i);
			EXPECT_EQ(0, pfn_has_kpf(after[i], KPF_THP));
		} else {
			EXPECT_EQ(pfn, after[i]) TH_LOG("subpage %zu", i);
		}
		EXPECT_TRUE(page_has_seed(page, sub_seed(seed, i)))
			TH_LOG("subpage %zu content", i);
	}
	EXPECT_EQ(NR_SUB_SAME, ksm_read_merging_pages(0));
	munmap(area, NR_HUGE * HPAGE_SIZE);
	EXPECT_TRUE(ksm_wait_counters(&base, 0, 0, MERGE_TIMEOUT_MS));
}

/* One huge page size: every fourth page unique, the rest zero-filled. */
static bool is_zero_sub(size_t i)
{
	return i % 4 != 0;
}

#define NR_ZERO_SUB	(HPAGE_NR - HPAGE_NR / 4)

static bool zero_layout_ok(const char *area, uint64_t seed)
{
	static char zero[65536];
	size_t i;

	for (i = 0; i < HPAGE_NR; i++) {
		const char *page = area + i * psize();

		if (is_zero_sub(i) ? memcmp(page, zero, psize()) :
				     !page_has_seed(page, seed + i))
			return false;
	}
	return true;
}

/* How many pages of the range map the shared zero page. */
static long zero_mapped(const char *area, int64_t zero_pfn)
{
	int64_t pfns[HPAGE_NR];
	long n = 0;
	size_t i;

	if (pagemap_pfns(0, area, HPAGE_NR, pfns))
		return -1;
	for (i = 0; i < HPAGE_NR; i++)
		n += pfns[i] == zero_pfn;
	return n;
}

static void show_zero_counts(const char *area, int64_t zero_pfn,
			     const struct ksm_counters *base)
{
	struct ksm_proc_stat st = { .zero_pages = -1 };
	struct ksm_counters c = { .ksm_zero_pages = -1 };

	ksm_read_counters(&c);
	ksm_read_proc_stat(0, &st);
	fprintf(stderr,
		"# ksm_zero_pages %+ld, ksm_stat zero pages %ld, %ld mapped, AnonHugePages %ld kB\n",
		c.ksm_zero_pages - base->ksm_zero_pages, st.zero_pages,
		zero_mapped(area, zero_pfn), huge_kb(area));
}

/* The global and per-process KSM zero page counts and pagemap agree on @n. */
static bool zero_counts_are(const char *area, int64_t zero_pfn,
			    const struct ksm_counters *base, long n)
{
	struct ksm_proc_stat st;
	struct ksm_counters c;

	return !ksm_read_counters(&c) && !ksm_read_proc_stat(0, &st) &&
	       c.ksm_zero_pages == base->ksm_zero_pages + n &&
	       st.zero_pages == n && zero_mapped(area, zero_pfn) == n;
}

/*
 * Is the range one huge page yet?  Reading it first keeps its pages young:
 * khugepaged leaves ranges alone that nobody referenced.
 */
static bool read_and_huge(const char *area, uint64_t seed)
{
	zero_layout_ok(area, seed);
	return huge_kb(area) == HPAGE_SIZE / 1024;
}

/*
 * Zero pages merged into the zero page, ksmd stopped, then a collapse by
 * khugepaged (@use_madvise false) or by MADV_COLLAPSE; ksmd takes the
 * zeros back afterwards.
 */
static void collapse_around_zero_pages(struct __test_metadata *_metadata,
				       bool use_madvise)
{
	uint64_t seed = ksm_test_seed("mm_thp/zero");
	int64_t zero_pfn, pfns[HPAGE_NR];
	struct ksm_counters base, c;
	struct ksm_proc_stat st;
	char *area;
	size_t i;
	bool ok;

	zero_pfn = zero_page_pfn();
	ASSERT_LT(0, zero_pfn);
	ASSERT_EQ(0, ksm_write_str("use_zero_pages", "1"));
	ASSERT_EQ(0, ksm_read_counters(&base));

	area = map_aligned(1);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, madvise(area, HPAGE_SIZE, MADV_NOHUGEPAGE));
	for (i = 0; i < HPAGE_NR; i++) {
		if (is_zero_sub(i))
			area[i * psize()] = 0;	/* a page of its own */
		else
			fill_page_seeded(area + i * psize(), seed + i);
	}
	ASSERT_EQ(0, huge_kb(area));
	ASSERT_EQ(0, zero_mapped(area, zero_pfn));
	ASSERT_EQ(0, madvise(area, HPAGE_SIZE, MADV_MERGEABLE));
	ok = KSM_WAIT_FOR(zero_counts_are(area, zero_pfn, &base, NR_ZERO_SUB),
			  MERGE_TIMEOUT_MS);
	if (!ok)
		show_zero_counts(area, zero_pfn, &base);
	ASSERT_TRUE(ok) TH_LOG("zero pages: want %d", NR_ZERO_SUB);
	EXPECT_TRUE(zero_layout_ok(area, seed));

	/* ksmd holds still: the huge page must stay as khugepaged made it. */
	ASSERT_EQ(0, ksm_write_str("run", "0"));
	ASSERT_EQ(0, madvise(area, HPAGE_SIZE, MADV_HUGEPAGE));
	if (use_madvise) {
		ASSERT_EQ(0, madvise(area, HPAGE_SIZE, MADV_COLLAPSE))
			TH_LOG("MADV_COLLAPSE: %s", strerror(errno));
	} else {
		ok = KSM_WAIT_FOR(read_and_huge(area, seed),
				  COLLAPSE_TIMEOUT_MS);
		ASSERT_TRUE(ok) TH_LOG("khugepaged did not collapse the range");
	}
	EXPECT_EQ(HPAGE_SIZE / 1024, huge_kb(area));
	ASSERT_EQ(0, pagemap_pfns(0, area, HPAGE_NR, pfns));
	EXPECT_TRUE(one_thp(pfns, HPAGE_NR));
	EXPECT_TRUE(zero_layout_ok(area, seed));
	/* The zero pages went with the collapse, and the counts with them. */
	ok = zero_counts_are(area, zero_pfn, &base, 0);
	if (!ok)
		show_zero_counts(area, zero_pfn, &base);
	EXPECT_TRUE(ok) TH_LOG("zero pages left after the collapse");

	/*
	 * ksmd looks at the huge page again and splits it to merge a zero
	 * subpage; 6.12's split itself maps every zero-filled subpage to
	 * the shared zero page, as a plain zero page that KSM does not
	 * count.  Whoever maps them, the content and the counts must agree.
	 */
	ASSERT_EQ(0, madvise(area, HPAGE_SIZE, MADV_NOHUGEPAGE));
	ASSERT_EQ(0, ksm_write_str("run", "1"));
	ok = KSM_WAIT_FOR(!huge_kb(area) &&
			  zero_mapped(area, zero_pfn) == NR_ZERO_SUB,
			  MERGE_TIMEOUT_MS);
	if (!ok)
		show_zero_counts(area, zero_pfn, &base);
	EXPECT_TRUE(ok) TH_LOG("the huge page was not split down to zero pages");
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	EXPECT_TRUE(zero_layout_ok(area, seed));
	EXPECT_EQ(NR_ZERO_SUB, zero_mapped(area, zero_pfn));
	ASSERT_EQ(0, ksm_read_counters(&c));
	ASSERT_EQ(0, ksm_read_proc_stat(0, &st));
	EXPECT_EQ(c.ksm_zero_pages - base.ksm_zero_pages, st.zero_pages);
	EXPECT_LE(st.zero_pages, NR_ZERO_SUB);
	munmap(area, HPAGE_SIZE);
	EXPECT_TRUE(KSM_WAIT_FOR(zero_counts_are(area, zero_pfn, &base, 0),
				 MERGE_TIMEOUT_MS));
}

TEST_F_TIMEOUT(thp, khugepaged_collapse_zero_pages, 900)
{
	collapse_around_zero_pages(_metadata, false);
}

TEST_F_TIMEOUT(thp, madv_collapse_zero_pages, 900)
{
	collapse_around_zero_pages(_metadata, true);
}

TEST_HARNESS_MAIN
