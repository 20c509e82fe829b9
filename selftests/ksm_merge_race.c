// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_merge_race.c - writes that race with merging are never lost.
 *
 * Owns data integrity while ksmd merges pages that their owner keeps
 * writing.  One thread per CPU turns its pages, round after round, back
 * into one common content (which ksmd merges into a KSM page) and then
 * into contents of its own (a write to a merged page breaks COW), with
 * ksmd scanning without pause, and reads every page back after every
 * step.  A merge that compared a page before a write to it landed, or a
 * COW that copied the wrong frame, shows as a page without the content
 * last written.  vmstat cow_ksm, counted by the kernel's fault path when
 * a write meets a KSM page, shows that writes did race with merges; and
 * once the writers stop, the pages left with the common content merge
 * into one frame (PFNs from /proc/self/pagemap).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#define PAGES_PER_THREAD	64
#define MAX_THREADS		4	/* 256 pages: one KSM page can hold them */
#define RACE_MS			6000
#define MERGE_TIMEOUT_MS	60000

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

static size_t page_words(void)
{
	return psize() / sizeof(uint64_t);
}

/* What one writer thread owns and what it found. */
struct writer {
	char *pages;			/* PAGES_PER_THREAD of them */
	const uint64_t *common;		/* the common content, a page */
	uint64_t tag;			/* makes the own contents unique */
	uint64_t deadline_ms;
	unsigned long rounds;
	unsigned long bad_reads;	/* words not as last written */
	size_t first_bad_page;
};

static void check_word(struct writer *w, size_t page, size_t word,
		       uint64_t want)
{
	volatile uint64_t *p = (volatile uint64_t *)(w->pages + page * psize());

	if (p[word] == want)
		return;
	if (!w->bad_reads)
		w->first_bad_page = page;
	w->bad_reads++;
}

/* The whole page must be the common content. */
static void check_common(struct writer *w, size_t page)
{
	size_t i;

	for (i = 0; i < page_words(); i++)
		check_word(w, page, i, w->common[i]);
}

static void pause_us(long us)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = us * 1000 };

	nanosleep(&ts, NULL);
}

/*
 * Each round: give every page a word of its own (breaking COW where ksmd
 * merged it), check it, put the common word back (so that ksmd can merge
 * the page again), check the whole page, and leave ksmd a moment.
 */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	size_t words = page_words(), page, word;
	volatile uint64_t *p;
	uint64_t mine;

	while (now_ms() < w->deadline_ms) {
		word = (w->rounds * 7) % words;
		for (page = 0; page < PAGES_PER_THREAD; page++) {
			p = (volatile uint64_t *)(w->pages + page * psize());
			mine = w->tag ^ (w->rounds << 16) ^ page;
			p[word] = mine;
			check_word(w, page, word, mine);
		}
		pause_us(1000);
		for (page = 0; page < PAGES_PER_THREAD; page++) {
			mine = w->tag ^ (w->rounds << 16) ^ page;
			check_word(w, page, word, mine);
			p = (volatile uint64_t *)(w->pages + page * psize());
			p[word] = w->common[word];
			check_common(w, page);
		}
		pause_us(3000);
		w->rounds++;
	}
	return NULL;
}

FIXTURE(race)
{
	struct ksm_knobs saved;
};

FIXTURE_SETUP(race)
{
	int err;

	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
	/* ksmd without pause: as many merges as can race with the writes. */
	ASSERT_EQ(0, ksm_write_ulong("sleep_millisecs", 0));
}

FIXTURE_TEARDOWN(race)
{
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

TEST_F_TIMEOUT(race, writes_racing_merges_are_kept, 300)
{
	struct writer w[MAX_THREADS] = { 0 };
	pthread_t t[MAX_THREADS];
	uint64_t seed = ksm_test_seed("race/common");
	unsigned long cow0, cow1;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nthreads, total, i;
	uint64_t *common;
	char *area;
	int64_t pfn;

	if (vmstat_read("cow_ksm", &cow0) == -ENOENT)
		SKIP(return,
		     "no cow_ksm in /proc/vmstat (CONFIG_VM_EVENT_COUNTERS=n)");
	nthreads = ncpu < 2 ? 2 : ncpu > MAX_THREADS ? MAX_THREADS : ncpu;
	total = nthreads * PAGES_PER_THREAD;
	common = malloc(psize());
	ASSERT_NE(NULL, common);
	fill_page_seeded(common, seed);
	area = map_private_anon(total);
	ASSERT_NE(NULL, area);
	for (i = 0; i < total; i++)
		memcpy(area + i * psize(), common, psize());
	ASSERT_EQ(0, madvise(area, total * psize(), MADV_MERGEABLE));

	ASSERT_EQ(0, vmstat_read("cow_ksm", &cow0));
	for (i = 0; i < nthreads; i++) {
		w[i].pages = area + i * PAGES_PER_THREAD * psize();
		w[i].common = common;
		w[i].tag = ksm_test_seed("race/tag") + ((uint64_t)i << 40);
		w[i].deadline_ms = now_ms() + RACE_MS;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, writer_main, &w[i]));
	}
	for (i = 0; i < nthreads; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	ASSERT_EQ(0, vmstat_read("cow_ksm", &cow1));

	for (i = 0; i < nthreads; i++) {
		TH_LOG("thread %zu: %lu rounds", i, w[i].rounds);
		EXPECT_LT(0UL, w[i].rounds);
		EXPECT_EQ(0UL, w[i].bad_reads)
			TH_LOG("thread %zu: first wrong page %zu", i,
			       w[i].first_bad_page);
	}
	/* Writes met KSM pages: the race was run, not just the writes. */
	TH_LOG("cow_ksm: %lu writes broke a KSM page", cow1 - cow0);
	EXPECT_LT(0UL, cow1 - cow0);

	/* Left with the common content, all merge into one frame. */
	pfn = wait_common_pfn(0, area, total, MERGE_TIMEOUT_MS);
	EXPECT_LT(0, pfn);
	for (i = 0; i < total; i++)
		EXPECT_TRUE(page_has_seed(area + i * psize(), seed))
			TH_LOG("page %zu", i);
	munmap(area, total * psize());
	free(common);
}

TEST_HARNESS_MAIN
