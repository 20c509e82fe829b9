// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_merge_prctl.c - PR_SET_MEMORY_MERGE merges without madvise().
 *
 * Owns the merging side of upstream 6.12's process-wide advice: after
 * prctl(PR_SET_MEMORY_MERGE, 1) the anonymous memory a process had and
 * the memory it maps later merge without any madvise(); a child forked
 * afterwards inherits the setting and its new memory merges too (with its
 * parent's); prctl(PR_SET_MEMORY_MERGE, 0) unmerges everything of the
 * process at once and the counters return to where they were.
 * The process under test is a child, so that the harness's own memory is
 * not made mergeable; everything it has may merge, so global counters are
 * only compared where the whole process is accounted for.
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

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#define PR_GET_MEMORY_MERGE 68
#endif

#define MERGE_TIMEOUT_MS	60000
#define SCAN_TIMEOUT_MS		30000

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
	if (prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) < 0)
		SKIP(return, "no PR_GET_MEMORY_MERGE: %s", strerror(errno));
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

/* What a process under test tells the test. */
struct report {
	pid_t pid;
	int merge_any;		/* PR_GET_MEMORY_MERGE */
	int err;		/* errno of a failed step, 0 if fine */
	char *old;		/* mapped and filled before the prctl */
	char *fresh;		/* mapped and filled after it */
};

static char *map_filled(uint64_t seed)
{
	char *p = map_private_anon(NR_PAGES);
	size_t i;

	if (p)
		for (i = 0; i < NR_PAGES; i++)
			fill_page_seeded(p + i * psize(), seed);
	return p;
}

static bool range_has_seed(char *area, uint64_t seed)
{
	size_t i;

	for (i = 0; i < NR_PAGES; i++)
		if (!page_has_seed(area + i * psize(), seed))
			return false;
	return true;
}

static bool remote_range_has_seed(pid_t pid, char *area, uint64_t seed)
{
	size_t i;

	for (i = 0; i < NR_PAGES; i++)
		if (!remote_page_has_seed(pid, area + i * psize(), seed))
			return false;
	return true;
}

/*
 * The process under test: memory before and after switching merging on,
 * then commands: 'u' switches it off (and reports), EOF ends it.
 */
static int subject(uint64_t seed, int cmd_fd, int rep_fd)
{
	struct report r = { .pid = getpid() };
	char c;

	r.old = map_filled(seed);
	if (!r.old)
		return 10;
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		r.err = errno;
	r.merge_any = prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	r.fresh = map_filled(seed);
	if (!r.fresh)
		return 11;
	if (write(rep_fd, &r, sizeof(r)) != sizeof(r))
		return 12;
	while (read(cmd_fd, &c, 1) == 1) {
		if (c != 'u')
			return 13;
		r.err = prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0) ? errno : 0;
		r.merge_any = prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
		if (write(rep_fd, &r, sizeof(r)) != sizeof(r))
			return 14;
	}
	if (!range_has_seed(r.old, seed) || !range_has_seed(r.fresh, seed))
		return 15;
	return 0;
}

TEST_F_TIMEOUT(merge, merges_without_madvise, 300)
{
	uint64_t seed = ksm_test_seed("prctl/merge");
	int cmd[2], rep[2], status;
	struct ksm_counters base;
	int64_t pfn;
	struct report r;
	pid_t pid;

	ASSERT_EQ(0, pipe(cmd));
	ASSERT_EQ(0, pipe(rep));
	ASSERT_EQ(0, ksm_read_counters(&base));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(cmd[1]);
		close(rep[0]);
		_exit(subject(seed, cmd[0], rep[1]));
	}
	close(cmd[0]);
	close(rep[1]);
	ASSERT_EQ((ssize_t)sizeof(r), read(rep[0], &r, sizeof(r)));
	ASSERT_EQ(0, r.err) TH_LOG("PR_SET_MEMORY_MERGE: %s", strerror(r.err));
	EXPECT_EQ(1, r.merge_any);
	EXPECT_EQ(1, vma_has_flag(pid, r.old, "mg"));
	EXPECT_EQ(1, vma_has_flag(pid, r.fresh, "mg"));

	/* Both ranges, never madvise()d, end up on one frame. */
	pfn = wait_common_pfn(pid, r.old, NR_PAGES, MERGE_TIMEOUT_MS);
	ASSERT_NE(0, pfn) TH_LOG("memory mapped before the prctl did not merge");
	EXPECT_EQ(pfn, wait_common_pfn(pid, r.fresh, NR_PAGES,
				       MERGE_TIMEOUT_MS))
		TH_LOG("memory mapped after the prctl did not merge");
	EXPECT_TRUE(KSM_WAIT_FOR(ksm_read_merging_pages(pid) >= 2 * NR_PAGES,
				 MERGE_TIMEOUT_MS));
	EXPECT_TRUE(remote_range_has_seed(pid, r.old, seed));
	EXPECT_TRUE(remote_range_has_seed(pid, r.fresh, seed));

	/* Switched off: unmerged when the prctl returns. */
	ASSERT_EQ(1, write(cmd[1], "u", 1));
	ASSERT_EQ((ssize_t)sizeof(r), read(rep[0], &r, sizeof(r)));
	EXPECT_EQ(0, r.err);
	EXPECT_EQ(0, r.merge_any);
	EXPECT_EQ(1, pfns_distinct(pid, r.old, NR_PAGES, pfn));
	EXPECT_EQ(1, pfns_distinct(pid, r.fresh, NR_PAGES, pfn));
	EXPECT_EQ(0, vma_has_flag(pid, r.old, "mg"));
	EXPECT_EQ(0, vma_has_flag(pid, r.fresh, "mg"));
	EXPECT_TRUE(remote_range_has_seed(pid, r.old, seed));
	EXPECT_TRUE(remote_range_has_seed(pid, r.fresh, seed));
	/* Nothing of the process is merged any more: counters are back. */
	EXPECT_TRUE(ksm_wait_counters(&base, 0, 0, MERGE_TIMEOUT_MS));
	EXPECT_EQ(0, ksm_read_merging_pages(pid));
	EXPECT_EQ(1, pfns_distinct(pid, r.old, NR_PAGES, pfn));

	close(cmd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("subject: status %#x", status);
}

/*
 * A child forked after the prctl inherits it: memory it maps merges, also
 * with the same content in its parent.  Child and parent report through
 * one pipe and leave when the test closes the other.
 */
static int forking_subject(uint64_t seed, int cmd_fd, int rep_fd)
{
	struct report r = { 0 };
	int status;
	pid_t child;
	char c;

	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		return 10;
	fflush(NULL);
	child = fork();
	if (child < 0)
		return 11;
	r.pid = getpid();
	r.merge_any = prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	r.fresh = map_filled(seed);
	if (!r.fresh)
		return 12;
	if (write(rep_fd, &r, sizeof(r)) != sizeof(r))
		return 13;
	if (read(cmd_fd, &c, 1) != 0)
		return 14;
	if (!range_has_seed(r.fresh, seed))
		return 15;
	if (!child)
		return 0;
	if (waitpid(child, &status, 0) != child || status)
		return 16;
	return 0;
}

TEST_F_TIMEOUT(merge, inherited_by_fork, 300)
{
	uint64_t seed = ksm_test_seed("prctl/fork");
	int cmd[2], rep[2], status, i;
	struct report r[2];
	int64_t pfn;
	pid_t pid;

	ASSERT_EQ(0, pipe(cmd));
	ASSERT_EQ(0, pipe(rep));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(cmd[1]);
		close(rep[0]);
		_exit(forking_subject(seed, cmd[0], rep[1]));
	}
	close(cmd[0]);
	close(rep[1]);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ((ssize_t)sizeof(r[i]), read(rep[0], &r[i], sizeof(r[i])));
		EXPECT_EQ(1, r[i].merge_any) TH_LOG("pid %d", r[i].pid);
		EXPECT_EQ(1, vma_has_flag(r[i].pid, r[i].fresh, "mg"));
	}
	ASSERT_NE(r[0].pid, r[1].pid);

	pfn = wait_common_pfn(r[0].pid, r[0].fresh, NR_PAGES,
			      MERGE_TIMEOUT_MS);
	ASSERT_NE(0, pfn);
	EXPECT_EQ(pfn, wait_common_pfn(r[1].pid, r[1].fresh, NR_PAGES,
				       MERGE_TIMEOUT_MS))
		TH_LOG("parent and child did not merge with each other");
	for (i = 0; i < 2; i++) {
		EXPECT_TRUE(KSM_WAIT_FOR(ksm_read_merging_pages(r[i].pid) >=
					 NR_PAGES, MERGE_TIMEOUT_MS));
		EXPECT_TRUE(remote_range_has_seed(r[i].pid, r[i].fresh, seed));
	}

	close(cmd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("subject: status %#x", status);
}

TEST_HARNESS_MAIN
