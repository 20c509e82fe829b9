// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_advice_kept.c - the advice a process gives KSM is kept by the kernel.
 *
 * Owns the process side of the ABI, which must behave the same with the
 * built-in engine, with the module loaded and with no engine at all:
 *  - madvise(MADV_MERGEABLE/MADV_UNMERGEABLE) succeed and set/clear the
 *    VMA's "mg" flag in /proc/<pid>/smaps (shared mappings are silently
 *    ignored, partial ranges split the VMA), the flag survives fork;
 *  - prctl(PR_SET_MEMORY_MERGE) marks existing and new VMAs, is reported by
 *    PR_GET_MEMORY_MERGE and inherited across fork and execve (plain madvise
 *    advice is not carried across execve), and "0" clears every VMA;
 *  - /proc/<pid>/ksm_stat and ksm_merging_pages exist with the 6.12 format;
 *  - advised processes can fork, exit and be killed without leftovers.
 * Verdicts come from smaps, procfs and exit statuses only.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#define PR_GET_MEMORY_MERGE 68
#endif

#define EXEC_CHILD_ARG "--exec-child"

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

static char *map_anon(size_t pages, int flags)
{
	char *p = mmap(NULL, pages * psize(), PROT_READ | PROT_WRITE,
		       flags | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int get_merge_any(void)
{
	return prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
}

/* Exit codes of forked and exec'd children: 0 is success. */
enum child_status {
	CHILD_OK = 0,
	CHILD_GET_WRONG = 10,
	CHILD_OLD_VMA_WRONG,
	CHILD_NEW_VMA_WRONG,
	CHILD_MMAP_FAILED,
	CHILD_BAD_ARGS,
};

static const char *child_status_str(int status)
{
	if (!WIFEXITED(status))
		return "child died on a signal";
	switch (WEXITSTATUS(status)) {
	case CHILD_OK: return "ok";
	case CHILD_GET_WRONG: return "PR_GET_MEMORY_MERGE wrong in child";
	case CHILD_OLD_VMA_WRONG: return "inherited VMA flag wrong in child";
	case CHILD_NEW_VMA_WRONG: return "new VMA flag wrong in child";
	case CHILD_MMAP_FAILED: return "mmap failed in child";
	case CHILD_BAD_ARGS: return "bad exec child arguments";
	default: return "unexpected exit status";
	}
}

/* Checks done in a child: merge-any state and "mg" on an old and a new VMA. */
static int child_checks(int want_get, const char *old, int want_old_mg,
			int want_new_mg)
{
	char *fresh;

	if (get_merge_any() != want_get)
		return CHILD_GET_WRONG;
	if (old && vma_has_flag(0, old, "mg") != want_old_mg)
		return CHILD_OLD_VMA_WRONG;
	fresh = map_anon(2, MAP_PRIVATE);
	if (!fresh)
		return CHILD_MMAP_FAILED;
	fresh[0] = 1;
	if (vma_has_flag(0, fresh, "mg") != want_new_mg)
		return CHILD_NEW_VMA_WRONG;
	return CHILD_OK;
}

/* Entry of the re-exec'd image: "--exec-child <expected merge-any 0|1>". */
static int exec_child(int argc, char **argv)
{
	int want;

	if (argc < 3)
		return CHILD_BAD_ARGS;
	want = atoi(argv[2]);
	return child_checks(want, NULL, 0, want);
}

static int fork_exec_self(int want_merge_any)
{
	char arg[4];
	int status;
	pid_t pid;

	snprintf(arg, sizeof(arg), "%d", want_merge_any);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		char *const argv[] = { "ksm_advice_kept", EXEC_CHILD_ARG, arg,
				       NULL };

		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

TEST(madvise_mergeable_sets_mg)
{
	char *p = map_anon(4, MAP_PRIVATE);

	ASSERT_NE(NULL, p);
	memset(p, 0x5a, 4 * psize());
	ASSERT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0));
	EXPECT_EQ(0, vma_has_flag(0, p, "mg"));
	ASSERT_EQ(0, madvise(p, 4 * psize(), MADV_MERGEABLE));
	EXPECT_EQ(1, vma_has_flag(0, p, "mg"));
	EXPECT_EQ(1, vma_has_flag(0, p + 3 * psize(), "mg"));
	/* Advising twice is harmless. */
	EXPECT_EQ(0, madvise(p, 4 * psize(), MADV_MERGEABLE));
	EXPECT_EQ(1, vma_has_flag(0, p, "mg"));
	ASSERT_EQ(0, madvise(p, 4 * psize(), MADV_UNMERGEABLE));
	EXPECT_EQ(0, vma_has_flag(0, p, "mg"));
	/* The memory is untouched by all this. */
	EXPECT_EQ(0x5a, p[0]);
	EXPECT_EQ(0x5a, p[4 * psize() - 1]);
	munmap(p, 4 * psize());
}

TEST(madvise_unpopulated_range)
{
	char *p = map_anon(8, MAP_PRIVATE);

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, madvise(p, 8 * psize(), MADV_MERGEABLE));
	EXPECT_EQ(1, vma_has_flag(0, p, "mg"));
	ASSERT_EQ(0, madvise(p, 8 * psize(), MADV_UNMERGEABLE));
	EXPECT_EQ(0, vma_has_flag(0, p, "mg"));
	munmap(p, 8 * psize());
}

TEST(madvise_partial_range_splits_vma)
{
	char *p = map_anon(3, MAP_PRIVATE);

	ASSERT_NE(NULL, p);
	memset(p, 1, 3 * psize());
	ASSERT_EQ(0, madvise(p + psize(), psize(), MADV_MERGEABLE));
	EXPECT_EQ(0, vma_has_flag(0, p, "mg"));
	EXPECT_EQ(1, vma_has_flag(0, p + psize(), "mg"));
	EXPECT_EQ(0, vma_has_flag(0, p + 2 * psize(), "mg"));
	ASSERT_EQ(0, madvise(p + psize(), psize(), MADV_UNMERGEABLE));
	EXPECT_EQ(0, vma_has_flag(0, p + psize(), "mg"));
	munmap(p, 3 * psize());
}

TEST(madvise_shared_mapping_ignored)
{
	char *p = map_anon(2, MAP_SHARED);

	ASSERT_NE(NULL, p);
	p[0] = 1;
	/* KSM ignores the advice on shared mappings, without an error. */
	EXPECT_EQ(0, madvise(p, 2 * psize(), MADV_MERGEABLE));
	EXPECT_EQ(0, vma_has_flag(0, p, "mg"));
	EXPECT_EQ(0, madvise(p, 2 * psize(), MADV_UNMERGEABLE));
	munmap(p, 2 * psize());
}

TEST(madvise_unmergeable_without_advice)
{
	char *p = map_anon(2, MAP_PRIVATE);

	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, madvise(p, 2 * psize(), MADV_UNMERGEABLE));
	EXPECT_EQ(0, vma_has_flag(0, p, "mg"));
	munmap(p, 2 * psize());
}

TEST(madvise_hole_enomem)
{
	char *p = map_anon(3, MAP_PRIVATE);

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, munmap(p + psize(), psize()));
	errno = 0;
	EXPECT_EQ(-1, madvise(p, 3 * psize(), MADV_MERGEABLE));
	EXPECT_EQ(ENOMEM, errno);
	/* The mapped parts around the hole were still advised. */
	EXPECT_EQ(1, vma_has_flag(0, p, "mg"));
	EXPECT_EQ(1, vma_has_flag(0, p + 2 * psize(), "mg"));
	munmap(p, 3 * psize());
}

TEST(madvise_kept_across_fork)
{
	char *p = map_anon(4, MAP_PRIVATE);
	int status;
	pid_t pid;

	ASSERT_NE(NULL, p);
	memset(p, 7, 4 * psize());
	ASSERT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0));
	ASSERT_EQ(0, madvise(p, 4 * psize(), MADV_MERGEABLE));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_checks(0, p, 1, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("%s", child_status_str(status));
	EXPECT_EQ(1, vma_has_flag(0, p, "mg"));
	munmap(p, 4 * psize());
}

TEST(madvise_not_carried_across_exec)
{
	char *p = map_anon(4, MAP_PRIVATE);
	int status;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0));
	ASSERT_EQ(0, madvise(p, 4 * psize(), MADV_MERGEABLE));
	status = fork_exec_self(0);
	EXPECT_EQ(0, status) TH_LOG("%s", child_status_str(status));
	munmap(p, 4 * psize());
}

TEST(prctl_bad_arguments)
{
	errno = 0;
	EXPECT_EQ(-1, prctl(PR_SET_MEMORY_MERGE, 1, 1, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, prctl(PR_SET_MEMORY_MERGE, 1, 0, 1, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 1));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, prctl(PR_GET_MEMORY_MERGE, 1, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 1));
	EXPECT_EQ(EINVAL, errno);
	/* None of them changed anything. */
	EXPECT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0));
	EXPECT_EQ(0, get_merge_any());
}

TEST(prctl_set_get_clear)
{
	char *old, *shared, *fresh, *advised;

	ASSERT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0));
	EXPECT_EQ(0, get_merge_any());
	old = map_anon(4, MAP_PRIVATE);
	advised = map_anon(4, MAP_PRIVATE);
	shared = map_anon(2, MAP_SHARED);
	ASSERT_NE(NULL, old);
	ASSERT_NE(NULL, advised);
	ASSERT_NE(NULL, shared);
	memset(old, 3, 4 * psize());
	ASSERT_EQ(0, madvise(advised, 4 * psize(), MADV_MERGEABLE));
	EXPECT_EQ(0, vma_has_flag(0, old, "mg"));

	ASSERT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0));
	EXPECT_EQ(1, get_merge_any());
	/* Setting it again is fine. */
	EXPECT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0));
	EXPECT_EQ(1, get_merge_any());
	/* Any non-zero value switches it on. */
	EXPECT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 42, 0, 0, 0));
	EXPECT_EQ(1, get_merge_any());
	/* Existing private anonymous VMAs are marked, shared ones not. */
	EXPECT_EQ(1, vma_has_flag(0, old, "mg"));
	EXPECT_EQ(1, vma_has_flag(0, advised, "mg"));
	EXPECT_EQ(0, vma_has_flag(0, shared, "mg"));
	/* New ones are marked when mapped. */
	fresh = map_anon(4, MAP_PRIVATE);
	ASSERT_NE(NULL, fresh);
	EXPECT_EQ(1, vma_has_flag(0, fresh, "mg"));
	munmap(shared, 2 * psize());
	shared = map_anon(2, MAP_SHARED);
	ASSERT_NE(NULL, shared);
	EXPECT_EQ(0, vma_has_flag(0, shared, "mg"));
	/* MADV_UNMERGEABLE still works per VMA. */
	ASSERT_EQ(0, madvise(fresh, 4 * psize(), MADV_UNMERGEABLE));
	EXPECT_EQ(0, vma_has_flag(0, fresh, "mg"));
	EXPECT_EQ(1, get_merge_any());

	/* Switching off clears every VMA, the madvise()d one included. */
	ASSERT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0));
	EXPECT_EQ(0, get_merge_any());
	EXPECT_EQ(0, vma_has_flag(0, old, "mg"));
	EXPECT_EQ(0, vma_has_flag(0, advised, "mg"));
	munmap(fresh, 4 * psize());
	fresh = map_anon(4, MAP_PRIVATE);
	ASSERT_NE(NULL, fresh);
	EXPECT_EQ(0, vma_has_flag(0, fresh, "mg"));
	/* The data survived. */
	EXPECT_EQ(3, old[0]);
	EXPECT_EQ(3, old[4 * psize() - 1]);
	munmap(old, 4 * psize());
	munmap(advised, 4 * psize());
	munmap(fresh, 4 * psize());
	munmap(shared, 2 * psize());
}

TEST(prctl_inherited_by_fork)
{
	char *p = map_anon(4, MAP_PRIVATE);
	int status;
	pid_t pid;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0));
	memset(p, 9, 4 * psize());
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_checks(1, p, 1, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("%s", child_status_str(status));

	/* And switched off in the parent, the child starts off too. */
	ASSERT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_checks(0, p, 0, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("%s", child_status_str(status));
	munmap(p, 4 * psize());
}

TEST(prctl_inherited_across_exec)
{
	int status;

	ASSERT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0));
	status = fork_exec_self(1);
	EXPECT_EQ(0, status) TH_LOG("%s", child_status_str(status));
	ASSERT_EQ(0, prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0));
	status = fork_exec_self(0);
	EXPECT_EQ(0, status) TH_LOG("%s", child_status_str(status));
}

static const char * const ksm_stat_keys[] = {
	"ksm_rmap_items", "ksm_zero_pages", "ksm_merging_pages",
	"ksm_process_profit",
};

static void check_ksm_stat(struct __test_metadata *_metadata, pid_t pid)
{
	char path[64], line[256], key[64], *endp;
	unsigned int i = 0;
	struct stat st;
	long long v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", pid);
	ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s: %s", path, strerror(errno));
	EXPECT_EQ(0400U, st.st_mode & 07777);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f) TH_LOG("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char end;

		if (i >= ARRAY_SIZE(ksm_stat_keys)) {
			if (kernel_is_6_12()) {
				TH_LOG("extra ksm_stat line: %s", line);
				EXPECT_TRUE(false);
			} else {
				TH_LOG("note: ksm_stat line not in 6.12: %s", line);
			}
			i++;
			continue;
		}
		EXPECT_EQ(3, sscanf(line, "%63s %lld%c", key, &v, &end))
			TH_LOG("bad ksm_stat line: %s", line);
		EXPECT_STREQ(ksm_stat_keys[i], key);
		EXPECT_EQ('\n', end);
		if (strcmp(key, "ksm_process_profit"))
			EXPECT_LE(0, v) TH_LOG("%s = %lld", key, v);
		i++;
	}
	fclose(f);
	EXPECT_LE(4U, i);

	snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", pid);
	ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s: %s", path, strerror(errno));
	EXPECT_EQ(0400U, st.st_mode & 07777);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	fclose(f);
	errno = 0;
	v = strtoll(line, &endp, 10);
	EXPECT_TRUE(!errno && endp != line && !strcmp(endp, "\n"))
		TH_LOG("ksm_merging_pages shows '%s'", line);
	EXPECT_LE(0, v);
}

TEST(ksm_stat_self)
{
	char *p = map_anon(4, MAP_PRIVATE);

	ASSERT_NE(NULL, p);
	memset(p, 0, 4 * psize());
	ASSERT_EQ(0, madvise(p, 4 * psize(), MADV_MERGEABLE));
	check_ksm_stat(_metadata, getpid());
	munmap(p, 4 * psize());
}

TEST(ksm_stat_other_process)
{
	int pipefd[2], status;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(pipefd));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(pipefd[1]);
		prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0);
		/* Wait until the parent has looked, then leave. */
		if (read(pipefd[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(pipefd[0]);
	check_ksm_stat(_metadata, pid);
	close(pipefd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
}

#define NR_CHILDREN	16
#define CHILD_PAGES	64

/*
 * Children that advise, fill identical pages and then exit or are killed
 * leave nothing behind that userspace can see.  With an engine present the
 * scanner runs meanwhile, so the exit paths meet real KSM state.
 */
FIXTURE(children)
{
	struct ksm_knobs saved;
	bool saved_ok;
};

FIXTURE_SETUP(children)
{
	self->saved_ok = false;
	if (ksm_sysfs_present()) {
		ASSERT_EQ(0, ksm_save_knobs(&self->saved));
		self->saved_ok = true;
		ksm_write_str("advisor_mode", "none");
		ksm_write_str("sleep_millisecs", "0");
		ksm_write_str("pages_to_scan", "1000");
		ASSERT_EQ(0, ksm_write_str("run", "1"));
	}
}

FIXTURE_TEARDOWN(children)
{
	if (self->saved_ok)
		EXPECT_EQ(0, ksm_restore_knobs(&self->saved));
}

static void advised_child(int i, int ready_fd)
{
	char *p;

	if (i % 2)
		prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0);
	p = map_anon(CHILD_PAGES, MAP_PRIVATE);
	if (!p)
		_exit(1);
	memset(p, 0x11, CHILD_PAGES * psize());
	if (!(i % 2) && madvise(p, CHILD_PAGES * psize(), MADV_MERGEABLE))
		_exit(2);
	if (i % 4 == 2 && fork() == 0) {
		/* A grandchild sharing the advised memory exits first. */
		p[0] = 0x22;
		_exit(0);
	}
	if (write(ready_fd, "r", 1) != 1)
		_exit(3);
	if (i % 4 == 3)
		pause();	/* killed by the parent */
	usleep(100000);
	wait(NULL);
	_exit(0);
}

TEST_F_TIMEOUT(children, advised_children_exit, 120)
{
	pid_t pids[NR_CHILDREN];
	int pipefd[2], i, status;
	char path[64], c;
	struct stat st;

	ASSERT_EQ(0, pipe(pipefd));
	for (i = 0; i < NR_CHILDREN; i++) {
		fflush(NULL);
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i]) {
			close(pipefd[0]);
			advised_child(i, pipefd[1]);
		}
	}
	close(pipefd[1]);
	for (i = 0; i < NR_CHILDREN; i++)
		ASSERT_EQ(1, read(pipefd[0], &c, 1));
	close(pipefd[0]);
	for (i = 0; i < NR_CHILDREN; i++)
		if (i % 4 == 3)
			kill(pids[i], SIGKILL);
	for (i = 0; i < NR_CHILDREN; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		if (i % 4 == 3) {
			EXPECT_TRUE(WIFSIGNALED(status) &&
				    WTERMSIG(status) == SIGKILL);
		} else {
			EXPECT_EQ(0, status) TH_LOG("child %d: %#x", i, status);
		}
		snprintf(path, sizeof(path), "/proc/%d", pids[i]);
		errno = 0;
		EXPECT_EQ(-1, stat(path, &st));
		EXPECT_EQ(ENOENT, errno);
	}

	if (self->saved_ok) {
		unsigned long shared = 1, sharing = 1;

		/* Unmerging everything leaves no KSM page behind. */
		ASSERT_EQ(0, ksm_write_str("run", "2"));
		ASSERT_EQ(0, ksm_read_ulong("pages_shared", &shared));
		ASSERT_EQ(0, ksm_read_ulong("pages_sharing", &sharing));
		EXPECT_EQ(0UL, shared);
		EXPECT_EQ(0UL, sharing);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], EXEC_CHILD_ARG))
		return exec_child(argc, argv);
	return test_harness_run(argc, argv);
}
