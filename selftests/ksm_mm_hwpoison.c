// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_mm_hwpoison.c - memory failure on a merged page.
 *
 * Owns KSM meeting memory failure, as upstream 6.12 behaves, in two forked
 * processes that share one KSM page (and a second one, and pages of their
 * own, that must come through untouched):
 * - MADV_HWPOISON on the KSM page in one of them: that process gets
 *   SIGBUS (BUS_MCEERR_AR, si_addr one of its mappings of the page, lsb
 *   12) at once; every mapping in both processes becomes a poison entry
 *   (not present); with vm.memory_failure_early_kill 0 (the default) the
 *   other process hears nothing until it touches the page, then SIGBUS
 *   BUS_MCEERR_AR at the address it touched; with early kill 1 it gets
 *   BUS_MCEERR_AO at once; the frame is marked KPF_HWPOISON; once ksmd
 *   has seen the poisoned mappings they are no longer counted, and
 *   neither an allocation nor a merge of new pages of the same content
 *   gets the frame again;
 * - MADV_SOFT_OFFLINE on the KSM page: it is migrated away, both processes
 *   map the new frame with the old content, no signal, same counters, and
 *   the old frame is marked KPF_HWPOISON.
 * The page is poisoned by software and stays so for the rest of the boot.
 * Skips without CONFIG_MEMORY_FAILURE or CAP_SYS_ADMIN.  Verdicts come
 * from the signals the processes record, pagemap, kpageflags, kpagecount
 * and the KSM counters.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/kernel-page-flags.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif
#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif

#define MERGE_TIMEOUT_MS	120000
#define SCAN_TIMEOUT_MS		60000
#define CALL_TIMEOUT_MS		60000
#define EARLY_KILL		"/proc/sys/vm/memory_failure_early_kill"

#define NR_SAME		8	/* the page that fails */
#define NR_SAME2	4	/* another KSM page */
#define NR_UNIQ		2
#define NR_PAGES	(NR_SAME + NR_SAME2 + NR_UNIQ)
#define VICTIM_PAGE	3
#define NR_SIGS		32

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* What a process saw, in memory shared with the test. */
struct sig_log {
	int nr;
	int code[NR_SIGS];
	uintptr_t addr[NR_SIGS];
	int lsb[NR_SIGS];
	int madvise_err;
};

struct proc {
	char *area;
	uint64_t seed;
	uint64_t seed2;
	uint64_t useed;
	struct sig_log *log;
	struct ksm_child child;
};

static uint64_t page_seed(const struct proc *p, size_t i)
{
	if (i < NR_SAME)
		return p->seed;
	if (i < NR_SAME + NR_SAME2)
		return p->seed2;
	return p->useed + i;
}

/* Child side: the SIGBUS handler records, and jumps back if armed. */
static struct sig_log *my_log;
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int n = my_log->nr;

	if (n < NR_SIGS) {
		my_log->code[n] = si->si_code;
		my_log->addr[n] = (uintptr_t)si->si_addr;
		my_log->lsb[n] = si->si_addr_lsb;
	}
	__atomic_store_n(&my_log->nr, n + 1, __ATOMIC_SEQ_CST);
	if (bus_armed) {
		bus_armed = 0;
		siglongjmp(bus_jmp, 1);
	}
	/* BUS_MCEERR_AO: nothing faulted, just carry on. */
}

/* Read one byte of @p; true if that raised SIGBUS. */
static bool touch_faults(const char *p)
{
	if (sigsetjmp(bus_jmp, 1))
		return true;
	bus_armed = 1;
	(void)*(volatile const char *)p;
	bus_armed = 0;
	return false;
}

/*
 * 'f': fill, advise, install the handler; 'p': MADV_HWPOISON the victim
 * page ('k' if SIGBUS came, 'n' if not, 'e' on error); 's': the same with
 * MADV_SOFT_OFFLINE ('k' if it worked without a signal); 'a': touch every
 * page of the failed content, answer how many raised SIGBUS; 'c': check
 * the other pages; 'r': check all pages (nothing poisoned).
 */
static char proc_cmd(char cmd, void *arg)
{
	struct proc *p = arg;
	struct sigaction sa;
	char *victim = p->area + VICTIM_PAGE * psize();
	size_t i, n;
	int before;

	switch (cmd) {
	case 'f':
		my_log = p->log;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		if (sigaction(SIGBUS, &sa, NULL))
			return 'e';
		for (i = 0; i < NR_PAGES; i++)
			fill_page_seeded(p->area + i * psize(), page_seed(p, i));
		return madvise(p->area, NR_PAGES * psize(), MADV_MERGEABLE) ?
		       'e' : 'k';
	case 'p':
	case 's':
		before = p->log->nr;
		if (sigsetjmp(bus_jmp, 1))
			return 'k';
		bus_armed = 1;
		if (madvise(victim, psize(), cmd == 'p' ? MADV_HWPOISON :
							  MADV_SOFT_OFFLINE)) {
			bus_armed = 0;
			p->log->madvise_err = errno;
			return 'e';
		}
		bus_armed = 0;
		if (cmd == 's')
			return p->log->nr == before ? 'k' : 'x';
		return 'n';
	case 'a':
		for (i = 0, n = 0; i < NR_SAME; i++)
			n += touch_faults(p->area + i * psize());
		return (char)n;
	case 'c':
	case 'r':
		for (i = cmd == 'c' ? NR_SAME : 0; i < NR_PAGES; i++)
			if (!page_has_seed(p->area + i * psize(),
					   page_seed(p, i)))
				return 'x';
		return 'k';
	}
	return '?';
}

FIXTURE(hwpoison)
{
	struct ksm_knobs saved;
	struct proc proc[2];	/* [0] poisons, [1] shares */
	struct sig_log *logs;
	char early_kill[16];
};

FIXTURE_SETUP(hwpoison)
{
	int err, i;

	for (i = 0; i < 2; i++)
		self->proc[i].child.pid = -1;
	self->logs = NULL;
	self->early_kill[0] = '\0';
	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	if (geteuid())
		SKIP(return, "MADV_HWPOISON needs CAP_SYS_ADMIN");
	if (file_read_str(EARLY_KILL, self->early_kill,
			  sizeof(self->early_kill)))
		SKIP(return, "no %s (CONFIG_MEMORY_FAILURE=n)", EARLY_KILL);
	self->logs = mmap(NULL, 2 * sizeof(*self->logs),
			  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			  -1, 0);
	ASSERT_NE(MAP_FAILED, self->logs);
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
}

FIXTURE_TEARDOWN(hwpoison)
{
	int i;

	for (i = 0; i < 2; i++)
		ksm_child_stop(&self->proc[i].child, 10000);
	if (self->early_kill[0])
		EXPECT_EQ(0, file_write_str(EARLY_KILL, self->early_kill));
	EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

/*
 * Both processes fill and advise; wait until the failing content is one
 * KSM page (returned) and the second content another.
 */
static int64_t start_procs(struct __test_metadata *_metadata,
			   FIXTURE_DATA(hwpoison) *self, const char *tag,
			   const struct ksm_counters *base, int64_t *pfn2)
{
	uint64_t seed = ksm_test_seed(tag);
	int64_t pfn[2], p2[2];
	int i;

	for (i = 0; i < 2; i++) {
		struct proc *p = &self->proc[i];

		/* Mapped here, touched only in the child. */
		p->area = map_private_anon(NR_PAGES);
		if (!p->area)
			return 0;
		p->seed = seed;
		p->seed2 = seed + 1;
		p->useed = seed + 100 * (i + 1);
		p->log = &self->logs[i];
		memset(p->log, 0, sizeof(*p->log));
		if (ksm_child_start(&p->child, proc_cmd, p) ||
		    ksm_child_call(&p->child, 'f', CALL_TIMEOUT_MS) != 'k')
			return 0;
	}
	for (i = 0; i < 2; i++) {
		struct proc *p = &self->proc[i];

		pfn[i] = wait_common_pfn(p->child.pid, p->area, NR_SAME,
					 MERGE_TIMEOUT_MS);
		p2[i] = wait_common_pfn(p->child.pid,
					p->area + NR_SAME * psize(), NR_SAME2,
					MERGE_TIMEOUT_MS);
	}
	EXPECT_NE(0, pfn[0]);
	EXPECT_EQ(pfn[0], pfn[1]);
	EXPECT_NE(0, p2[0]);
	EXPECT_EQ(p2[0], p2[1]);
	EXPECT_TRUE(ksm_wait_counters(base, 2,
				      2 * NR_SAME - 1 + 2 * NR_SAME2 - 1,
				      MERGE_TIMEOUT_MS));
	EXPECT_EQ(2 * NR_SAME, kpagecount_read(pfn[0]));
	*pfn2 = p2[0];
	return pfn[0] == pfn[1] && p2[0] == p2[1] ? pfn[0] : 0;
}

static bool is_mapping_of(const struct proc *p, uintptr_t addr)
{
	uintptr_t start = (uintptr_t)p->area;

	return addr >= start && addr < start + NR_SAME * psize() &&
	       !(addr % psize());
}

/* Every mapping of the failed content in @p is a poison entry. */
static bool all_poisoned(const struct proc *p)
{
	uint64_t ents[NR_SAME];
	size_t i;

	if (pagemap_entries(p->child.pid, p->area, NR_SAME, ents))
		return false;
	for (i = 0; i < NR_SAME; i++)
		if ((ents[i] & PM_PRESENT) || !(ents[i] & PM_SWAP))
			return false;
	return true;
}

/* Touching each poisoned mapping raises SIGBUS AR at that address. */
static void check_touch_faults(struct __test_metadata *_metadata,
			       struct proc *p)
{
	int before = p->log->nr, i;

	EXPECT_EQ(NR_SAME, ksm_child_call(&p->child, 'a', CALL_TIMEOUT_MS));
	ASSERT_EQ(before + NR_SAME, p->log->nr);
	for (i = 0; i < NR_SAME; i++) {
		EXPECT_EQ(BUS_MCEERR_AR, p->log->code[before + i]);
		EXPECT_EQ((uintptr_t)p->area + i * psize(),
			  p->log->addr[before + i]);
		EXPECT_EQ(12, p->log->lsb[before + i]);
	}
	EXPECT_EQ('k', ksm_child_call(&p->child, 'c', CALL_TIMEOUT_MS))
		TH_LOG("the other pages changed");
}

/* After the poison: nothing else lost, and the frame never comes back. */
static void check_after_poison(struct __test_metadata *_metadata,
			       FIXTURE_DATA(hwpoison) *self,
			       const struct ksm_counters *base, int64_t pfn,
			       int64_t pfn2)
{
	size_t nr = 4096, i;
	int64_t *pfns, again;
	char *fresh;
	int k;

	EXPECT_EQ(1, pfn_has_kpf(pfn, KPF_HWPOISON));
	for (k = 0; k < 2; k++)
		EXPECT_EQ(pfn2, common_pfn(self->proc[k].child.pid,
					   self->proc[k].area +
					   NR_SAME * psize(), NR_SAME2));
	/* Once ksmd has been past the poisoned mappings, they are gone. */
	EXPECT_TRUE(ksm_wait_counters(base, 1, 2 * NR_SAME2 - 1,
				      MERGE_TIMEOUT_MS));
	EXPECT_EQ(NR_SAME2, ksm_read_merging_pages(self->proc[0].child.pid));
	EXPECT_EQ(NR_SAME2, ksm_read_merging_pages(self->proc[1].child.pid));

	/* Fresh memory never gets the frame. */
	fresh = map_private_anon(nr);
	pfns = calloc(nr, sizeof(*pfns));
	ASSERT_NE(NULL, fresh);
	ASSERT_NE(NULL, pfns);
	ASSERT_EQ(0, madvise(fresh, nr * psize(), MADV_POPULATE_WRITE));
	ASSERT_EQ(0, pagemap_pfns(0, fresh, nr, pfns));
	for (i = 0; i < nr; i++)
		ASSERT_NE(pfn, pfns[i]);
	/*
	 * New pages of the content the poisoned page held merge among
	 * themselves, not into the poisoned frame: its stable node has no
	 * mappings left (ksmd dropped them above), and upstream never adds
	 * mappings to such a node.
	 */
	for (i = 0; i < NR_SAME; i++)
		fill_page_seeded(fresh + i * psize(), self->proc[0].seed);
	ASSERT_EQ(0, madvise(fresh, NR_SAME * psize(), MADV_MERGEABLE));
	again = wait_common_pfn(0, fresh, NR_SAME, MERGE_TIMEOUT_MS);
	EXPECT_NE(0, again);
	EXPECT_NE(pfn, again) TH_LOG("new pages merged into the poisoned frame");
	for (i = 0; i < NR_SAME; i++)
		EXPECT_TRUE(page_has_seed(fresh + i * psize(),
					  self->proc[0].seed));
	munmap(fresh, nr * psize());
	free(pfns);
}

static void poison_test(struct __test_metadata *_metadata,
			FIXTURE_DATA(hwpoison) *self, bool early)
{
	struct proc *victim = &self->proc[0], *other = &self->proc[1];
	struct ksm_counters base;
	int64_t pfn, pfn2;
	int status, i;
	char rep;

	ASSERT_EQ(0, file_write_str(EARLY_KILL, early ? "1" : "0"));
	ASSERT_EQ(0, ksm_read_counters(&base));
	pfn = start_procs(_metadata, self, early ? "mm_hwpoison/early" :
						   "mm_hwpoison/late",
			  &base, &pfn2);
	ASSERT_NE(0, pfn);

	rep = ksm_child_call(&victim->child, 'p', CALL_TIMEOUT_MS);
	if (rep == 'e' && victim->log->madvise_err == EINVAL)
		SKIP(return, "MADV_HWPOISON not supported");
	ASSERT_EQ('k', rep) TH_LOG("no SIGBUS for the poisoning process (%c, %s)",
				   rep, strerror(victim->log->madvise_err));
	ASSERT_EQ(1, victim->log->nr);
	EXPECT_EQ(BUS_MCEERR_AR, victim->log->code[0]);
	EXPECT_TRUE(is_mapping_of(victim, victim->log->addr[0]))
		TH_LOG("si_addr %#lx", (unsigned long)victim->log->addr[0]);
	EXPECT_EQ(12, victim->log->lsb[0]);

	/* Every mapping, in both processes, is a poison entry now. */
	EXPECT_TRUE(all_poisoned(victim));
	EXPECT_TRUE(all_poisoned(other));

	if (early) {
		/* Action optional, at once, at one of its mappings. */
		EXPECT_TRUE(KSM_WAIT_FOR(__atomic_load_n(&other->log->nr,
							 __ATOMIC_SEQ_CST) > 0,
					 10000));
		ASSERT_EQ(1, other->log->nr);
		EXPECT_EQ(BUS_MCEERR_AO, other->log->code[0]);
		EXPECT_TRUE(is_mapping_of(other, other->log->addr[0]))
			TH_LOG("si_addr %#lx",
			       (unsigned long)other->log->addr[0]);
	} else {
		usleep(500000);
		EXPECT_EQ(0, other->log->nr) TH_LOG("late kill, but signalled");
	}
	check_touch_faults(_metadata, victim);
	check_touch_faults(_metadata, other);
	check_after_poison(_metadata, self, &base, pfn, pfn2);

	/* Nobody was killed. */
	for (i = 0; i < 2; i++) {
		status = ksm_child_stop(&self->proc[i].child, 10000);
		EXPECT_EQ(0, status) TH_LOG("process %d: status %#x", i, status);
	}
}

TEST_F_TIMEOUT(hwpoison, late_kill, 600)
{
	poison_test(_metadata, self, false);
}

TEST_F_TIMEOUT(hwpoison, early_kill, 600)
{
	poison_test(_metadata, self, true);
}

TEST_F_TIMEOUT(hwpoison, soft_offline, 600)
{
	struct proc *victim = &self->proc[0], *other = &self->proc[1];
	struct ksm_counters base, c;
	int64_t pfn, pfn2, moved;
	int i;
	char rep;

	ASSERT_EQ(0, ksm_read_counters(&base));
	pfn = start_procs(_metadata, self, "mm_hwpoison/soft", &base, &pfn2);
	ASSERT_NE(0, pfn);

	/*
	 * The migration behind a soft offline fails while anyone else holds
	 * a reference to the page, as ksmd does for a moment when it looks
	 * at it: try again then, as for move_pages().
	 */
	for (i = 0; i < 10; i++) {
		if (i)
			usleep(200000);
		rep = ksm_child_call(&victim->child, 's', CALL_TIMEOUT_MS);
		if (rep != 'e' || victim->log->madvise_err != EBUSY)
			break;
	}
	if (rep == 'e' && victim->log->madvise_err == EINVAL)
		SKIP(return, "MADV_SOFT_OFFLINE not supported");
	ASSERT_EQ('k', rep) TH_LOG("soft offline: %c, %s", rep,
				   strerror(victim->log->madvise_err));
	EXPECT_EQ(1, pfn_has_kpf(pfn, KPF_HWPOISON));
	moved = common_pfn(victim->child.pid, victim->area, NR_SAME);
	EXPECT_LT(0, moved);
	EXPECT_NE(pfn, moved);
	EXPECT_EQ(moved, common_pfn(other->child.pid, other->area, NR_SAME));
	EXPECT_EQ(2 * NR_SAME, kpagecount_read(moved));
	EXPECT_EQ(0, pfn_has_kpf(moved, KPF_HWPOISON));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ('k', ksm_child_call(&self->proc[i].child, 'r',
					      CALL_TIMEOUT_MS));
		EXPECT_EQ(0, self->proc[i].log->nr) TH_LOG("process %d signalled", i);
	}
	EXPECT_TRUE(ksm_wait_counters(&base, 2,
				      2 * NR_SAME - 1 + 2 * NR_SAME2 - 1,
				      MERGE_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	EXPECT_EQ(moved, common_pfn(victim->child.pid, victim->area, NR_SAME));
	EXPECT_EQ(moved, common_pfn(other->child.pid, other->area, NR_SAME));
	ASSERT_EQ(0, ksm_read_counters(&c));
	EXPECT_EQ(base.pages_shared + 2, c.pages_shared);
	EXPECT_EQ(base.pages_sharing + 2 * NR_SAME - 1 + 2 * NR_SAME2 - 1,
		  c.pages_sharing);
	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, ksm_child_stop(&self->proc[i].child, 10000));
}

TEST_HARNESS_MAIN
