// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_module_load.c - loading the engine module while processes advise,
 * and loads that fail half-way.
 *
 * Owns what insmod must guarantee beyond ksm_module_cycle.sh:
 *  - advice_during_load: advice is never lost to a load in progress.
 *    Three storms of processes run while finit_module() does: children of
 *    a MADV_MERGEABLE parent (6.12 gives the child its advice at the end
 *    of dup_mmap(), before the child is on the task list), children of a
 *    prctl(PR_SET_MEMORY_MERGE) parent, and children that call madvise or
 *    prctl themselves.  Afterwards every advised page of every child must
 *    be merged (its ksm_merging_pages; a merge-any child has a few more
 *    mergeable pages of its own), content intact.  Each window is short:
 *    this is a net, not a proof.
 *  - exec_across_load: a merge-any process that re-execs itself with
 *    megabytes of arguments, so that the load lands between the new mm
 *    getting its advice and the task switching to it.
 *  - init_failure_unwinds: the module's init fails at each of its
 *    allocations in turn (failslab through /proc/self/task/TID/fail-nth,
 *    aimed with the stack-trace filter at allocations made under the
 *    module's code; kmem_cache creation excluded, since the kernel prints a
 *    stack for that failure itself).  Each failed load leaves no module, no
 *    sysfs directory and no ksmd; the load that finally succeeds adopts a
 *    process advised before all of them and merges it, content intact.
 *    The console check of the run catches any splat an unwind causes.
 * Needs KSM_MODULE (path to ksm_mod.ko): skips without it (stock kernel);
 * init_failure_unwinds also needs a kernel with failslab (debug flavour).
 * Leaves the module unloaded, or loaded if it found it so.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif

#define MODNAME			"ksm_mod"
#define ADV_PAGES		8
#define STORM_KINDS		3
#define PER_KIND		32
#define STORM_MAX		(STORM_KINDS * PER_KIND)
#define LOAD_CYCLES		3
#define READY_TIMEOUT_MS	60000
#define MERGE_TIMEOUT_MS	180000
#define MAX_FAIL_NTH		400
#define DEBUGFS			"/sys/kernel/debug"

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

static const char *module_file(void)
{
	const char *path = getenv("KSM_MODULE");

	return path && *path && !access(path, R_OK) ? path : NULL;
}

static bool module_loaded(void)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/modules", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, MODNAME " ", strlen(MODNAME) + 1);
	fclose(f);
	return found;
}

/* finit_module(); 0 or -errno. */
static int module_load(void)
{
	int fd = open(module_file(), O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "", 0))
		err = -errno;
	close(fd);
	return err;
}

/* Unmerge everything and unload; 0 or -errno. */
static int module_unload(void)
{
	int tries;

	if (!module_loaded())
		return 0;
	if (ksm_sysfs_present() && ksm_write_str("run", "2"))
		return -EIO;
	for (tries = 0; tries < 100; tries++) {
		if (!syscall(SYS_delete_module, MODNAME, O_NONBLOCK))
			return 0;
		if (errno != EAGAIN && errno != EBUSY)
			return -errno;
		usleep(100 * 1000);
	}
	return -EBUSY;
}

static int ksmd_threads(void)
{
	char path[300], comm[32];
	DIR *proc = opendir("/proc");
	struct dirent *d;
	int count = 0;

	if (!proc)
		return -errno;
	while ((d = readdir(proc))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		if (file_read_str(path, comm, sizeof(comm)) < 0)
			continue;
		if (!strcmp(comm, "ksmd"))	/* newline stripped */
			count++;
	}
	closedir(proc);
	return count;
}

static void fill_adv(char *area, uint64_t seed)
{
	size_t i;

	for (i = 0; i < ADV_PAGES; i++)
		fill_page_seeded(area + i * psize(), seed);
}

static bool adv_intact(const char *area, uint64_t seed)
{
	size_t i;

	for (i = 0; i < ADV_PAGES; i++)
		if (!page_has_seed(area + i * psize(), seed))
			return false;
	return true;
}

/* The storm's shared state, in a MAP_SHARED page. */
enum storm_kind { FORK_MADVISED, FORK_MERGE_ANY, ADVISE_SELF };

static const char * const kind_name[STORM_KINDS] = {
	"fork of an advised parent", "fork of a merge-any parent",
	"madvise/prctl after fork",
};

struct storm {
	volatile int stop;
	volatile int started;		/* children forked, all kinds */
	volatile int ready;		/* children with their pages written */
	volatile int forkers_done;
	uint64_t seed;
	pid_t forker[STORM_KINDS];
	struct {
		pid_t pid;
		int kind;
		uint64_t forked_ms;
		char *adv;		/* the child's advised pages */
		volatile int ready;
	} child[STORM_MAX];
};

static void storm_child(struct storm *s, int slot, char *adv, int kind)
{
	if (kind == ADVISE_SELF) {
		adv = map_private_anon(ADV_PAGES);
		if (!adv)
			_exit(1);
		fill_adv(adv, s->seed);
		if (slot % 2) {
			if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
				_exit(1);
		} else if (madvise(adv, ADV_PAGES * psize(), MADV_MERGEABLE)) {
			_exit(1);
		}
	} else {
		fill_adv(adv, s->seed);	/* private copies: COW broken */
	}
	s->child[slot].adv = adv;
	s->child[slot].ready = 1;
	__sync_fetch_and_add(&s->ready, 1);
	for (;;)
		pause();
}

/* A process that forks one kind of child, at a steady pace, until told. */
static void storm_forker(struct storm *s, int kind)
{
	char *adv = NULL;
	int n;

	setpgid(0, 0);
	if (kind == FORK_MERGE_ANY && prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		_exit(1);
	/* A merge-any mmap that 6.12 merges into a neighbour stays unmarked. */
	if (kind != ADVISE_SELF) {
		adv = map_private_anon(ADV_PAGES);
		if (!adv)
			_exit(1);
		if (kind == FORK_MADVISED &&
		    madvise(adv, ADV_PAGES * psize(), MADV_MERGEABLE))
			_exit(1);
		if (vma_has_flag(getpid(), adv, "mg") != 1)
			_exit(1);
		fill_adv(adv, s->seed);
	}
	for (n = 0; n < PER_KIND && !s->stop; n++) {
		int slot = kind * PER_KIND + n;
		pid_t pid;

		s->child[slot].kind = kind;
		s->child[slot].forked_ms = now_ms();
		pid = fork();
		if (pid < 0)
			_exit(1);
		if (!pid)
			storm_child(s, slot, adv, kind);
		s->child[slot].pid = pid;
		__sync_fetch_and_add(&s->started, 1);
		usleep(30 * 1000);
	}
	__sync_fetch_and_add(&s->forkers_done, 1);
	/* Stay: the forker's own advised pages are part of the merge. */
	for (;;)
		pause();
}

static bool wait_until(volatile int *v, int target, unsigned int timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while (*v < target) {
		if (now_ms() > end)
			return false;
		usleep(10 * 1000);
	}
	return true;
}

static void storm_kill(struct storm *s)
{
	int k, i;

	for (k = 0; k < STORM_KINDS; k++)
		if (s->forker[k] > 0)
			kill(-s->forker[k], SIGKILL);
	for (i = 0; i < STORM_MAX; i++)
		if (s->child[i].pid > 0)
			kill(s->child[i].pid, SIGKILL);
	while (waitpid(-1, NULL, __WALL) > 0)
		;
}

FIXTURE(load) {
	bool was_loaded;
	struct storm *storm;
};

FIXTURE_SETUP(load)
{
	self->storm = NULL;
	self->was_loaded = false;
	if (!module_file())
		SKIP(return, "KSM_MODULE not set or not readable");
	self->was_loaded = module_loaded();
	ASSERT_EQ(0, module_unload());
	/* Orphaned storm children are reparented here, and reaped. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
}

FIXTURE_TEARDOWN(load)
{
	if (self->storm) {
		storm_kill(self->storm);
		munmap(self->storm, sizeof(*self->storm));
	}
	if (!module_file())
		return;
	if (self->was_loaded && !module_loaded()) {
		EXPECT_EQ(0, module_load());
	} else if (!self->was_loaded) {
		EXPECT_EQ(0, module_unload());
	}
}

/* Every storm child's advised pages still hold what it wrote. */
static int storm_corrupted(struct storm *s)
{
	int i, bad = 0;
	size_t p;

	for (i = 0; i < STORM_MAX; i++)
		for (p = 0; s->child[i].pid > 0 && p < ADV_PAGES; p++)
			if (!remote_page_has_seed(s->child[i].pid,
						  s->child[i].adv + p * psize(),
						  s->seed))
				bad++;
	return bad;
}

/* Every storm child must end with all its advised pages merged. */
static int storm_unmerged(struct __test_metadata *_metadata,
			  struct storm *s, uint64_t load_ms)
{
	uint64_t end = now_ms() + MERGE_TIMEOUT_MS;
	int i, left;

	do {
		left = 0;
		for (i = 0; i < STORM_MAX; i++)
			if (s->child[i].pid > 0 &&
			    ksm_read_merging_pages(s->child[i].pid) < ADV_PAGES)
				left++;
		if (!left)
			return 0;
		usleep(200 * 1000);
	} while (now_ms() < end);

	for (i = 0; i < STORM_MAX; i++) {
		long merged = ksm_read_merging_pages(s->child[i].pid);

		if (s->child[i].pid > 0 && merged < ADV_PAGES)
			TH_LOG("child %d (%s, forked at load %+lld ms): %ld/%d merged, mg %d",
			       s->child[i].pid, kind_name[s->child[i].kind],
			       (long long)(s->child[i].forked_ms - load_ms),
			       merged, ADV_PAGES,
			       vma_has_flag(s->child[i].pid, s->child[i].adv, "mg"));
	}
	return left;
}

TEST_F_TIMEOUT(load, advice_during_load, 900)
{
	struct ksm_knobs saved;
	int cycle, k;

	for (cycle = 0; cycle < LOAD_CYCLES; cycle++) {
		struct storm *s;
		uint64_t load_ms;
		int err;

		s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, s);
		self->storm = s;
		s->seed = ksm_test_seed("load-storm") + cycle;

		fflush(NULL);
		for (k = 0; k < STORM_KINDS; k++) {
			pid_t pid = fork();

			ASSERT_LE(0, pid);
			if (!pid)
				storm_forker(s, k);
			s->forker[k] = pid;	/* shared: not before the fork */
		}
		/* Load while each kind is a couple of children in. */
		ASSERT_TRUE(wait_until(&s->started, STORM_KINDS * 2,
				       READY_TIMEOUT_MS));
		load_ms = now_ms();
		err = module_load();
		ASSERT_EQ(0, err);
		usleep(300 * 1000);
		s->stop = 1;
		ASSERT_TRUE(wait_until(&s->forkers_done, STORM_KINDS,
				       READY_TIMEOUT_MS));
		ASSERT_TRUE(wait_until(&s->ready, s->started,
				       READY_TIMEOUT_MS));
		TH_LOG("cycle %d: %d children, load took %llu ms", cycle,
		       s->started, (unsigned long long)(now_ms() - load_ms));

		ASSERT_EQ(0, ksm_merge_setup(&saved));
		ASSERT_EQ(0, ksm_write_str("sleep_millisecs", "0"));
		EXPECT_EQ(0, storm_unmerged(_metadata, s, load_ms));
		EXPECT_EQ(0, storm_corrupted(s));
		ksm_restore_knobs(&saved);
		storm_kill(s);
		munmap(s, sizeof(*s));
		self->storm = NULL;
		ASSERT_EQ(0, module_unload());
		if (_metadata->exit_code)
			break;
	}
}

/*
 * An exec that spans the load: exec gives the new mm its merge-any advice
 * (ksm_execve()) long before the task switches to it, while it copies the
 * arguments, here megabytes of them.  A process re-execs itself in a loop
 * until told to stay; the exec running while the engine registers is the
 * one a walk of the task list cannot see.
 */
#define EXEC_LOOP_ARG		"--exec-loop"
#define BALLAST_ARGS		24
#define BALLAST_LEN		(128 * 1024 - 1)	/* MAX_ARG_STRLEN - 1 */

struct exec_report {
	pid_t pid;
	uint64_t adv;
};

/* One instance of the loop: argv = self, EXEC_LOOP_ARG, ctl, rep, seed... */
static int exec_loop_main(int argc, char **argv)
{
	int ctl = atoi(argv[2]), rep = atoi(argv[3]);
	uint64_t seed = strtoull(argv[4], NULL, 10);
	struct exec_report r;
	char cmd;
	char *adv;

	if (read(ctl, &cmd, 1) != 1) {
		execv("/proc/self/exe", argv);
		return 127;
	}
	adv = map_private_anon(ADV_PAGES);
	/* Merge-any marks new VMAs; madvise covers one 6.12 merged away. */
	if (!adv || madvise(adv, ADV_PAGES * psize(), MADV_MERGEABLE))
		return 1;
	fill_adv(adv, seed);
	r.pid = getpid();
	r.adv = (uintptr_t)adv;
	if (write(rep, &r, sizeof(r)) != sizeof(r))
		return 1;
	for (;;)
		pause();
}

static pid_t exec_loop_start(int ctl, int rep, uint64_t seed)
{
	static char *argv[6 + BALLAST_ARGS];
	static char fds[2][16], seedbuf[32];
	struct rlimit stack = { 64 << 20, RLIM_INFINITY };
	pid_t pid;
	int i;

	snprintf(fds[0], sizeof(fds[0]), "%d", ctl);
	snprintf(fds[1], sizeof(fds[1]), "%d", rep);
	snprintf(seedbuf, sizeof(seedbuf), "%llu", (unsigned long long)seed);
	argv[0] = "ksm_module_load";
	argv[1] = EXEC_LOOP_ARG;
	argv[2] = fds[0];
	argv[3] = fds[1];
	argv[4] = seedbuf;
	for (i = 0; i < BALLAST_ARGS; i++) {
		argv[5 + i] = malloc(BALLAST_LEN + 1);
		if (!argv[5 + i])
			return -1;
		memset(argv[5 + i], 'a' + i, BALLAST_LEN);
		argv[5 + i][BALLAST_LEN] = '\0';
	}
	argv[5 + BALLAST_ARGS] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid)
		return pid;
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) ||
	    setrlimit(RLIMIT_STACK, &stack))
		_exit(1);
	execv("/proc/self/exe", argv);
	_exit(127);
}

TEST_F_TIMEOUT(load, exec_across_load, 900)
{
	int cycle;

	for (cycle = 0; cycle < LOAD_CYCLES; cycle++) {
		int ctl[2], rep[2], status;
		struct pollfd pfd;
		struct ksm_knobs saved;
		struct exec_report r;
		uint64_t seed, end;
		long merged = -1;
		pid_t pid;

		ASSERT_EQ(0, pipe(ctl));
		ASSERT_EQ(0, pipe(rep));
		ASSERT_EQ(0, fcntl(ctl[0], F_SETFL, O_NONBLOCK));
		seed = ksm_test_seed("exec-loop") + cycle;
		pid = exec_loop_start(ctl[0], rep[1], seed);
		ASSERT_LT(0, pid);
		usleep(1000 * 1000);	/* a few execs in */
		ASSERT_EQ(0, module_load());
		ASSERT_EQ(1, write(ctl[1], "s", 1));
		pfd.fd = rep[0];
		pfd.events = POLLIN;
		ASSERT_EQ(1, poll(&pfd, 1, READY_TIMEOUT_MS));
		ASSERT_EQ((ssize_t)sizeof(r), read(rep[0], &r, sizeof(r)));
		EXPECT_EQ(pid, r.pid);

		ASSERT_EQ(0, ksm_merge_setup(&saved));
		ASSERT_EQ(0, ksm_write_str("sleep_millisecs", "0"));
		end = now_ms() + MERGE_TIMEOUT_MS;
		do {
			merged = ksm_read_merging_pages(pid);
			if (merged >= ADV_PAGES)
				break;
			usleep(200 * 1000);
		} while (now_ms() < end);
		EXPECT_LE(ADV_PAGES, merged)
			TH_LOG("cycle %d: the exec'd process has %ld of %d pages merged",
			       cycle, merged, ADV_PAGES);
		EXPECT_TRUE(remote_page_has_seed(pid, (void *)(uintptr_t)r.adv,
						 seed));
		ksm_restore_knobs(&saved);
		kill(pid, SIGKILL);
		EXPECT_EQ(pid, waitpid(pid, &status, 0));
		close(ctl[0]);
		close(ctl[1]);
		close(rep[0]);
		close(rep[1]);
		ASSERT_EQ(0, module_unload());
		if (_metadata->exit_code)
			break;
	}
}

/* fail-nth of this thread; negative errno on failure. */
static long fail_nth_rw(long write_value)
{
	char path[64], buf[32];
	int err;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	if (write_value >= 0) {
		snprintf(buf, sizeof(buf), "%ld", write_value);
		return file_write_str(path, buf);
	}
	err = file_read_str(path, buf, sizeof(buf));
	return err < 0 ? err : strtol(buf, NULL, 10);
}

/* The [start, end) of kernel text symbol @name, from /proc/kallsyms. */
static int symbol_range(const char *name, unsigned long *start,
			unsigned long *end)
{
	unsigned long addr, next = ULONG_MAX;
	char line[512], sym[256], type;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return -errno;
	*start = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %255s", &addr, &type, sym) == 3 &&
		    !strcmp(sym, name))
			*start = addr;
	rewind(f);
	while (*start && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %255s", &addr, &type, sym) == 3 &&
		    addr > *start && addr < next)
			next = addr;
	fclose(f);
	*end = next;
	return *start && next != ULONG_MAX ? 0 : -ENOENT;
}

static int fault_set(const char *attr, const char *file, unsigned long value)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), DEBUGFS "/%s/%s", attr, file);
	snprintf(buf, sizeof(buf), "%lu", value);
	return file_write_str(path, buf);
}

/*
 * Aim a fault attribute at allocations made below the module's code (a
 * return address above the kernel's text), kmem_cache creation excepted.
 */
static int fault_aim(const char *attr)
{
	unsigned long text_end, unused, reject_start, reject_end;

	if (symbol_range("_etext", &text_end, &unused) ||
	    symbol_range("__kmem_cache_create_args", &reject_start,
			 &reject_end))
		return -ENOENT;
	if (fault_set(attr, "ignore-gfp-wait", 0) ||
	    fault_set(attr, "verbose", 0) ||
	    fault_set(attr, "stacktrace-depth", 32) ||
	    fault_set(attr, "require-start", text_end) ||
	    fault_set(attr, "require-end", ULONG_MAX) ||
	    fault_set(attr, "reject-start", reject_start) ||
	    fault_set(attr, "reject-end", reject_end))
		return -EIO;
	return 0;
}

/* Back to the defaults (nothing fails while fail-nth is 0). */
static void fault_disarm(const char *attr)
{
	fault_set(attr, "require-start", 0);
	fault_set(attr, "require-end", ULONG_MAX);
	fault_set(attr, "reject-start", 0);
	fault_set(attr, "reject-end", 0);
	fault_set(attr, "ignore-gfp-wait", 1);
	fault_set(attr, "verbose", 2);
}

struct advised {
	char *area;
	uint64_t seed;
};

static char advised_child(char cmd, void *arg)
{
	struct advised *a = arg;

	switch (cmd) {
	case 'f':
		fill_adv(a->area, a->seed);
		return madvise(a->area, ADV_PAGES * psize(), MADV_MERGEABLE) ?
		       'e' : 'k';
	case 'c':
		return adv_intact(a->area, a->seed) ? 'k' : 'x';
	}
	return 'e';
}

TEST_F_TIMEOUT(load, init_failure_unwinds, 900)
{
	int nth, failed_loads = 0, tolerated = 0, completed = 0;
	struct ksm_knobs saved;
	struct ksm_child child;
	struct advised adv;
	uint64_t end;

	if (access(DEBUGFS "/failslab", F_OK) ||
	    access(DEBUGFS "/fail_page_alloc", F_OK) || fail_nth_rw(-1) < 0)
		SKIP(return, "no failslab or fail-nth in this kernel");
	ASSERT_EQ(0, fault_aim("failslab"));
	ASSERT_EQ(0, fault_aim("fail_page_alloc"));

	adv.area = map_private_anon(ADV_PAGES);
	ASSERT_NE(NULL, adv.area);
	adv.seed = ksm_test_seed("load-fail");
	ASSERT_EQ(0, ksm_child_start(&child, advised_child, &adv));
	ASSERT_EQ('k', ksm_child_call(&child, 'f', 10000));

	for (nth = 1; nth <= MAX_FAIL_NTH; nth++) {
		long left;
		int err;

		ASSERT_EQ(0, fail_nth_rw(nth));
		err = module_load();
		left = fail_nth_rw(-1);
		ASSERT_EQ(0, fail_nth_rw(0));
		if (!err && left) {
			completed = nth;	/* no allocation left to fail */
			break;
		}
		ASSERT_EQ(0, left);
		if (!err) {
			tolerated++;
			ASSERT_EQ(0, module_unload());
			continue;
		}
		failed_loads++;
		if (err != -ENOMEM)
			TH_LOG("allocation %d failed: load returned %d", nth,
			       err);
		EXPECT_EQ(-ENOMEM, err);
		EXPECT_FALSE(module_loaded());
		EXPECT_FALSE(ksm_sysfs_present());
		EXPECT_EQ(0, ksmd_threads());
		if (_metadata->exit_code)
			break;
	}
	fault_disarm("failslab");
	fault_disarm("fail_page_alloc");
	TH_LOG("%d allocations failed in init: %d loads failed, %d tolerated",
	       completed ? completed - 1 : nth - 1, failed_loads, tolerated);
	ASSERT_NE(0, completed);
	ASSERT_LE(3, failed_loads);
	ASSERT_TRUE(module_loaded());
	ASSERT_EQ(1, ksmd_threads());

	/* The process advised before all that is adopted and merged. */
	ASSERT_EQ(0, ksm_merge_setup(&saved));
	end = now_ms() + MERGE_TIMEOUT_MS;
	while (ksm_read_merging_pages(child.pid) != ADV_PAGES &&
	       now_ms() < end)
		usleep(200 * 1000);
	EXPECT_EQ(ADV_PAGES, ksm_read_merging_pages(child.pid));
	EXPECT_EQ('k', ksm_child_call(&child, 'c', 10000));
	ksm_restore_knobs(&saved);
	ksm_child_stop(&child, 10000);
}

int main(int argc, char **argv)
{
	if (argc > 4 && !strcmp(argv[1], EXEC_LOOP_ARG))
		return exec_loop_main(argc, argv);
	return test_harness_run(argc, argv);
}
