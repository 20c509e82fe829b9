// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_merge_fork_exit.c - processes with merged pages come and go.
 *
 * Owns the process lifetime side of upstream 6.12 KSM while ksmd runs:
 * rounds of short-lived children merge their pages with each other and
 * then exit or are killed (one per round is killed while ksmd may still be
 * merging it), and the counters return to the baseline; a process that
 * forks after its pages merged and then exits leaves its child mapping the
 * KSM page, with the counters showing only the child's mappings, and the
 * baseline once the child has gone too.  Verdicts from pagemap, procfs and
 * the counters; the console check of the runner catches kernel splats.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#define MERGE_TIMEOUT_MS	60000
#define CHILD_TIMEOUT_MS	30000

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

FIXTURE(merge)
{
	struct ksm_knobs saved;
};

FIXTURE_SETUP(merge)
{
	int err;

	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
}

FIXTURE_TEARDOWN(merge)
{
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

#define NR_PAGES	16
#define NR_ROUNDS	6
#define NR_KIDS		4

static char *map_advised(uint64_t seed)
{
	char *area = map_private_anon(NR_PAGES);
	size_t i;

	if (!area)
		return NULL;
	for (i = 0; i < NR_PAGES; i++)
		fill_page_seeded(area + i * psize(), seed);
	if (madvise(area, NR_PAGES * psize(), MADV_MERGEABLE))
		return NULL;
	return area;
}

static bool all_have_seed(const char *area, uint64_t seed)
{
	size_t i;

	for (i = 0; i < NR_PAGES; i++)
		if (!page_has_seed(area + i * psize(), seed))
			return false;
	return true;
}

/*
 * A round's child: advise, wait until its own pages share a frame, say so
 * ('m', or 'n' on timeout), then wait for the end of the round.
 */
static int round_child(uint64_t seed, int rep_fd, int go_fd)
{
	char *area = map_advised(seed), c;
	bool merged;

	if (!area)
		return 10;
	merged = wait_common_pfn(0, area, NR_PAGES, CHILD_TIMEOUT_MS) > 0;
	if (write(rep_fd, merged ? "m" : "n", 1) != 1)
		return 11;
	if (read(go_fd, &c, 1) < 0)
		return 12;
	return all_have_seed(area, seed) ? 0 : 13;
}

/* Killed at once: ksmd may be anywhere in its pages when it dies. */
static int early_child(uint64_t seed, int rep_fd)
{
	char *area = map_advised(seed);

	if (!area || write(rep_fd, "e", 1) != 1)
		return 10;
	for (;;)
		pause();
}

TEST_F_TIMEOUT(merge, many_children_exit, 600)
{
	uint64_t seed = ksm_test_seed("fork_exit/children");
	struct ksm_counters base, end;
	int round, k, rep[2], go[2], status;
	pid_t kids[NR_KIDS], early;
	char c;

	ASSERT_EQ(0, ksm_read_counters(&base));
	for (round = 0; round < NR_ROUNDS; round++) {
		uint64_t rseed = seed + 2 * round;

		ASSERT_EQ(0, pipe(rep));
		ASSERT_EQ(0, pipe(go));
		fflush(NULL);
		early = fork();
		ASSERT_LE(0, early);
		if (!early) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			_exit(early_child(rseed + 1, rep[1]));
		}
		for (k = 0; k < NR_KIDS; k++) {
			kids[k] = fork();
			ASSERT_LE(0, kids[k]);
			if (!kids[k]) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				close(go[1]);
				_exit(round_child(rseed, rep[1], go[0]));
			}
		}
		close(rep[1]);
		close(go[0]);
		for (k = 0; k < NR_KIDS + 1; k++) {
			ASSERT_EQ(1, read(rep[0], &c, 1));
			EXPECT_NE('n', c) TH_LOG("round %d: a child's pages did not merge",
						 round);
		}
		kill(early, SIGKILL);
		ASSERT_EQ(early, waitpid(early, &status, 0));

		/* One KSM page mapped by all children of the round. */
		EXPECT_TRUE(ksm_wait_counters(&base, 1, NR_KIDS * NR_PAGES - 1,
					      MERGE_TIMEOUT_MS))
			TH_LOG("round %d", round);
		for (k = 0; k < NR_KIDS; k++)
			EXPECT_EQ(NR_PAGES, ksm_read_merging_pages(kids[k]));

		/* Half of them are killed, the others exit on their own. */
		for (k = 1; k < NR_KIDS; k += 2)
			kill(kids[k], SIGKILL);
		close(go[1]);
		for (k = 0; k < NR_KIDS; k++) {
			ASSERT_EQ(kids[k], waitpid(kids[k], &status, 0));
			/* Odd ones killed, even ones exit 0. */
			EXPECT_TRUE(k % 2 ? WIFSIGNALED(status) : status == 0)
				TH_LOG("round %d child %d: status %#x", round,
				       k, status);
		}
		close(rep[0]);
	}

	/* Everything they had is gone from the counters. */
	EXPECT_TRUE(ksm_wait_counters(&base, 0, 0, MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_read_counters(&end));
	EXPECT_EQ(base.pages_shared, end.pages_shared);
	EXPECT_EQ(base.pages_sharing, end.pages_sharing);
	EXPECT_EQ(base.ksm_zero_pages, end.ksm_zero_pages);
}

/* What the exiting parent tells the test about the child it leaves. */
struct orphan {
	pid_t pid;
	char *area;
	int err;
};

/*
 * Merges its pages, forks a child that keeps them (until @go_fd closes)
 * and exits right away.
 */
static int exiting_parent(uint64_t seed, int rep_fd, int go_fd)
{
	struct orphan o = { 0 };
	char c;

	o.area = map_advised(seed);
	if (!o.area)
		return 10;
	if (!wait_common_pfn(0, o.area, NR_PAGES, CHILD_TIMEOUT_MS))
		o.err = 1;
	fflush(NULL);
	o.pid = fork();
	if (o.pid < 0)
		return 11;
	if (!o.pid) {
		if (read(go_fd, &c, 1) < 0)
			_exit(12);
		_exit(all_have_seed(o.area, seed) ? 0 : 13);
	}
	if (write(rep_fd, &o, sizeof(o)) != sizeof(o))
		return 14;
	return 0;
}

TEST_F_TIMEOUT(merge, parent_exits_first, 300)
{
	uint64_t seed = ksm_test_seed("fork_exit/parent");
	int rep[2], go[2], status;
	struct ksm_counters base;
	struct orphan o;
	int64_t pfn;
	pid_t pid;

	/* The orphan is reparented to us, so we can wait for it. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	ASSERT_EQ(0, pipe(rep));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, ksm_read_counters(&base));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(go[1]);
		_exit(exiting_parent(seed, rep[1], go[0]));
	}
	close(rep[1]);
	close(go[0]);
	ASSERT_EQ((ssize_t)sizeof(o), read(rep[0], &o, sizeof(o)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	ASSERT_EQ(0, o.err) TH_LOG("the parent's pages did not merge");

	/* The child maps the KSM page in all its pages. */
	pfn = common_pfn(o.pid, o.area, NR_PAGES);
	EXPECT_LT(0, pfn);
	/* Only the child's mappings are left in the counters. */
	EXPECT_TRUE(ksm_wait_counters(&base, 1, NR_PAGES - 1,
				      MERGE_TIMEOUT_MS));
	EXPECT_TRUE(KSM_WAIT_FOR(ksm_read_merging_pages(o.pid) == NR_PAGES,
				 MERGE_TIMEOUT_MS));
	EXPECT_EQ(pfn, common_pfn(o.pid, o.area, NR_PAGES));
	EXPECT_EQ(NR_PAGES * psize() / 1024,
		  smaps_field_kb(o.pid, o.area, "KSM"));

	close(go[1]);
	ASSERT_EQ(o.pid, waitpid(o.pid, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("the child saw wrong content");
	EXPECT_TRUE(ksm_wait_counters(&base, 0, 0, MERGE_TIMEOUT_MS));
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

TEST_HARNESS_MAIN
