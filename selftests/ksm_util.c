// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_util.c - helpers shared by the KSM selftests.
 *
 * Owns sysfs knob access, knob save/restore, smaps VmFlags lookups and
 * pagemap PFN lookups (see ksm_util.h); for the merge tests also counter
 * snapshots, scan waits, procfs/smaps/vmstat readers and seeded content;
 * for the scan tests signed counters, settle waits and scan snapshots;
 * for the mm tests raw pagemap entries, kpageflags and kpagecount, NUMA
 * placement, small files and command-driven child processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "ksm_util.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* The upstream 6.12 attribute list (mm/ksm.c ksm_attrs[]). */
const struct ksm_file ksm_files[] = {
	{ "sleep_millisecs",			true,	false },
	{ "pages_to_scan",			true,	false },
	{ "run",				true,	false },
	{ "pages_scanned",			false,	false },
	{ "pages_shared",			false,	false },
	{ "pages_sharing",			false,	false },
	{ "pages_unshared",			false,	false },
	{ "pages_volatile",			false,	false },
	{ "pages_skipped",			false,	false },
	{ "ksm_zero_pages",			false,	false },
	{ "full_scans",				false,	false },
	{ "merge_across_nodes",			true,	true },
	{ "max_page_sharing",			true,	false },
	{ "stable_node_chains",			false,	false },
	{ "stable_node_dups",			false,	false },
	{ "stable_node_chains_prune_millisecs",	true,	false },
	{ "use_zero_pages",			true,	false },
	{ "general_profit",			false,	false },
	{ "smart_scan",				true,	false },
	{ "advisor_mode",			true,	false },
	{ "advisor_max_cpu",			true,	false },
	{ "advisor_min_pages_to_scan",		true,	false },
	{ "advisor_max_pages_to_scan",		true,	false },
	{ "advisor_target_scan_time",		true,	false },
};

const size_t ksm_nr_files = ARRAY_SIZE(ksm_files);

bool kernel_is_6_12(void)
{
	struct utsname u;

	if (uname(&u))
		return false;
	return !strncmp(u.release, "6.12.", 5) || !strcmp(u.release, "6.12");
}

bool kernel_has_numa(void)
{
	struct stat st;

	return !stat("/sys/devices/system/node", &st) && S_ISDIR(st.st_mode);
}

bool ksm_sysfs_present(void)
{
	struct stat st;

	return !stat(KSM_SYSFS_DIR, &st) && S_ISDIR(st.st_mode);
}

static int knob_open(const char *knob, int flags)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", KSM_SYSFS_DIR, knob);
	return open(path, flags);
}

int ksm_read_raw(const char *knob, char *buf, size_t size)
{
	ssize_t n;
	int fd, err = 0;

	if (!size)
		return -EINVAL;
	fd = knob_open(knob, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0) {
		err = -errno;
		n = 0;
	}
	buf[n] = '\0';
	close(fd);
	return err;
}

int ksm_write_raw(const char *knob, const char *buf, size_t len)
{
	ssize_t n;
	int fd, err = 0;

	fd = knob_open(knob, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

int ksm_read_str(const char *knob, char *buf, size_t size)
{
	int err = ksm_read_raw(knob, buf, size);
	size_t len;

	if (err)
		return err;
	len = strlen(buf);
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	return 0;
}

int ksm_write_str(const char *knob, const char *val)
{
	return ksm_write_raw(knob, val, strlen(val));
}

int ksm_read_ulong(const char *knob, unsigned long *val)
{
	char buf[64], *end;
	int err;

	err = ksm_read_str(knob, buf, sizeof(buf));
	if (err)
		return err;
	errno = 0;
	*val = strtoul(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	return 0;
}

int ksm_write_ulong(const char *knob, unsigned long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", val);
	return ksm_write_str(knob, buf);
}

/* "[none] scan-time" -> "none" */
static void advisor_selected(const char *shown, char *out, size_t size)
{
	const char *l = strchr(shown, '['), *r = l ? strchr(l, ']') : NULL;
	size_t len;

	if (!l || !r) {
		snprintf(out, size, "%s", shown);
		return;
	}
	len = r - l - 1;
	if (len >= size)
		len = size - 1;
	memcpy(out, l + 1, len);
	out[len] = '\0';
}

int ksm_save_knobs(struct ksm_knobs *k)
{
	size_t i;
	int err;

	memset(k, 0, sizeof(*k));
	for (i = 0; i < ksm_nr_files; i++) {
		if (!ksm_files[i].writable)
			continue;
		if (ksm_files[i].numa_only && !kernel_has_numa())
			continue;
		err = ksm_read_str(ksm_files[i].name, k->knob[k->nr].val,
				   KSM_KNOB_LEN);
		if (err)
			return err;
		k->knob[k->nr].name = ksm_files[i].name;
		k->nr++;
	}
	return 0;
}

static const char *saved_value(const struct ksm_knobs *k, const char *name)
{
	size_t i;

	for (i = 0; i < k->nr; i++)
		if (!strcmp(k->knob[i].name, name))
			return k->knob[i].val;
	return NULL;
}

static int restore_one(const char *name, const char *val)
{
	char cur[KSM_KNOB_LEN];
	int err;

	if (!ksm_read_str(name, cur, sizeof(cur)) && !strcmp(cur, val))
		return 0;
	err = ksm_write_str(name, val);
	if (err == -EBUSY) {
		/* Stable nodes pin merge_across_nodes and max_page_sharing. */
		ksm_write_str("run", "2");
		err = ksm_write_str(name, val);
	}
	if (err)
		fprintf(stderr, "# restoring %s=%s failed: %s\n", name, val,
			strerror(-err));
	return err ? 1 : 0;
}

int ksm_restore_knobs(const struct ksm_knobs *k)
{
	char cur[KSM_KNOB_LEN], want[KSM_KNOB_LEN];
	const char *adv = saved_value(k, "advisor_mode");
	const char *run = saved_value(k, "run");
	bool scan_time;
	int failed = 0;
	size_t i;

	if (!k->nr || !adv || !run)
		return 0;
	advisor_selected(adv, want, sizeof(want));
	scan_time = !strcmp(want, "scan-time");

	/* pages_to_scan only accepts writes with the advisor off. */
	if (!ksm_read_str("advisor_mode", cur, sizeof(cur)) &&
	    strcmp(cur, "[none] scan-time"))
		failed += restore_one("advisor_mode", "none");

	for (i = 0; i < k->nr; i++) {
		const char *name = k->knob[i].name;

		if (!strcmp(name, "run") || !strcmp(name, "advisor_mode"))
			continue;
		/* The advisor sets pages_to_scan itself when switched on. */
		if (scan_time && !strcmp(name, "pages_to_scan"))
			continue;
		failed += restore_one(name, k->knob[i].val);
	}
	if (scan_time)
		failed += restore_one("advisor_mode", "scan-time");
	failed += restore_one("run", run);
	return failed;
}

static int parse_vma_line(const char *line, unsigned long *start,
			  unsigned long *end)
{
	char c;

	/* "start-end perms offset dev inode path" */
	return sscanf(line, "%lx-%lx %c", start, end, &c) == 3;
}

int vma_has_flag(pid_t pid, const void *addr, const char *flag)
{
	unsigned long a = (unsigned long)addr, start, end;
	char path[64], line[1024];
	bool in_vma = false;
	int ret = -ENOENT;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/smaps");
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmFlags:", 8)) {
			char *tok, *save = NULL;

			if (!in_vma)
				continue;
			ret = 0;
			for (tok = strtok_r(line + 8, "\n\t ", &save); tok;
			     tok = strtok_r(NULL, "\n\t ", &save))
				if (!strcmp(tok, flag))
					ret = 1;
			break;
		}
		/* Only VMA header lines start with "start-end ". */
		if (parse_vma_line(line, &start, &end))
			in_vma = a >= start && a < end;
	}
	fclose(f);
	return ret;
}

int64_t pagemap_pfn(const void *addr)
{
	long psize = sysconf(_SC_PAGESIZE);
	uint64_t ent;
	ssize_t n;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return -errno;
	n = pread(fd, &ent, sizeof(ent),
		  (off_t)((uintptr_t)addr / psize) * sizeof(ent));
	close(fd);
	if (n != sizeof(ent))
		return n < 0 ? -errno : -EIO;
	if (!(ent & (1ULL << 63)))	/* not present */
		return 0;
	return ent & ((1ULL << 55) - 1);
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *map_identical_pairs(size_t nr_pairs)
{
	long psize = sysconf(_SC_PAGESIZE);
	size_t len = 2 * nr_pairs * psize, i;
	char *area;

	area = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return NULL;
	/* Whole-page KSM only: keep THP out of the way (may be absent). */
	madvise(area, len, MADV_NOHUGEPAGE);
	for (i = 0; i < nr_pairs; i++) {
		char *a = area + i * psize, *b = area + (i + nr_pairs) * psize;
		size_t j;

		for (j = 0; j < (size_t)psize; j += sizeof(uint64_t)) {
			uint64_t v = 0x6b736d0000000000ULL ^ (i << 16) ^ j;

			memcpy(a + j, &v, sizeof(v));
			memcpy(b + j, &v, sizeof(v));
		}
	}
	return area;
}

long count_shared_pairs(char *area, size_t nr_pairs)
{
	long psize = sysconf(_SC_PAGESIZE), shared = 0;
	size_t i;

	for (i = 0; i < nr_pairs; i++) {
		int64_t a = pagemap_pfn(area + i * psize);
		int64_t b = pagemap_pfn(area + (i + nr_pairs) * psize);

		if (a < 0)
			return a;
		if (b < 0)
			return b;
		if (a && a == b)
			shared++;
	}
	return shared;
}

int ksm_read_counters(struct ksm_counters *c)
{
	unsigned long zero;
	int err;

	err = ksm_read_ulong("pages_shared", &c->pages_shared);
	if (!err)
		err = ksm_read_ulong("pages_sharing", &c->pages_sharing);
	if (!err)
		err = ksm_read_ulong("pages_unshared", &c->pages_unshared);
	if (!err)
		err = ksm_read_ulong("ksm_zero_pages", &zero);
	if (!err)
		err = ksm_read_ulong("full_scans", &c->full_scans);
	if (!err)
		err = ksm_read_ulong("stable_node_chains",
				     &c->stable_node_chains);
	if (!err)
		err = ksm_read_ulong("stable_node_dups", &c->stable_node_dups);
	c->ksm_zero_pages = err ? 0 : (long)zero;
	return err;
}

#define MERGE_KNOBS 6

int ksm_merge_setup(struct ksm_knobs *saved)
{
	static const char * const knobs[MERGE_KNOBS][2] = {
		{ "advisor_mode", "none" },
		{ "max_page_sharing", "256" },
		{ "use_zero_pages", "0" },
		{ "pages_to_scan", "5000" },
		{ "sleep_millisecs", "10" },
		{ "run", "1" },
	};
	size_t i;
	int err;

	err = ksm_save_knobs(saved);
	if (err)
		return err;
	/* Leftovers of earlier tests go; stable nodes too, for the knobs. */
	err = ksm_write_str("run", "2");
	if (err)
		return err;
	if (kernel_has_numa()) {
		err = ksm_write_str("merge_across_nodes", "1");
		if (err)
			return err;
	}
	for (i = 0; i < MERGE_KNOBS; i++) {
		err = ksm_write_str(knobs[i][0], knobs[i][1]);
		if (err)
			return err;
	}
	return 0;
}

int ksm_merge_teardown(const struct ksm_knobs *saved)
{
	int failed = 0;

	if (ksm_write_str("run", "2"))
		failed++;
	return failed + ksm_restore_knobs(saved);
}

int ksm_wait_full_scans(unsigned long scans, unsigned int timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	unsigned long start, cur;
	int err;

	err = ksm_read_ulong("full_scans", &start);
	if (err)
		return err;
	for (;;) {
		err = ksm_read_ulong("full_scans", &cur);
		if (err)
			return err;
		/* run=2 restarts the count: never wait forever on that. */
		if (cur >= start + scans || cur < start)
			return 0;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(10000);
	}
}

bool ksm_wait_counters(const struct ksm_counters *base, long dshared,
		       long dsharing, unsigned int timeout_ms)
{
	unsigned long want_shared = base->pages_shared + dshared;
	unsigned long want_sharing = base->pages_sharing + dsharing;
	struct ksm_counters c;

	return KSM_WAIT_FOR(!ksm_read_counters(&c) &&
			    c.pages_shared == want_shared &&
			    c.pages_sharing == want_sharing, timeout_ms);
}

static FILE *proc_open(pid_t pid, const char *file)
{
	char path[64];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	else
		snprintf(path, sizeof(path), "/proc/self/%s", file);
	return fopen(path, "r");
}

int ksm_read_proc_stat(pid_t pid, struct ksm_proc_stat *st)
{
	static const char * const keys[] = {
		"ksm_rmap_items", "ksm_zero_pages", "ksm_merging_pages",
		"ksm_process_profit",
	};
	long *vals[] = {
		&st->rmap_items, &st->zero_pages, &st->merging_pages,
		&st->process_profit,
	};
	unsigned int found = 0, i;
	char line[256], key[64];
	long v;
	FILE *f;

	f = proc_open(pid, "ksm_stat");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld", key, &v) != 2)
			continue;
		for (i = 0; i < 4; i++) {
			if (!strcmp(key, keys[i])) {
				*vals[i] = v;
				found |= 1U << i;
			}
		}
	}
	fclose(f);
	return found == 0xf ? 0 : -ENODATA;
}

long ksm_read_merging_pages(pid_t pid)
{
	long v;
	FILE *f;
	int n;

	f = proc_open(pid, "ksm_merging_pages");
	if (!f)
		return -errno;
	n = fscanf(f, "%ld", &v);
	fclose(f);
	return n == 1 ? v : -ENODATA;
}

long smaps_field_kb(pid_t pid, const void *addr, const char *field)
{
	unsigned long a = (unsigned long)addr, start, end;
	size_t flen = strlen(field);
	char line[1024];
	bool in_vma = false;
	long ret = -ENOENT;
	FILE *f;

	f = proc_open(pid, "smaps");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (parse_vma_line(line, &start, &end)) {
			if (in_vma)
				break;
			in_vma = a >= start && a < end;
			continue;
		}
		if (in_vma && !strncmp(line, field, flen) &&
		    line[flen] == ':') {
			long kb;

			if (sscanf(line + flen + 1, "%ld kB", &kb) == 1)
				ret = kb;
			break;
		}
	}
	fclose(f);
	return ret;
}

int vmstat_read(const char *name, unsigned long *val)
{
	char line[256], key[128];
	unsigned long v;
	int ret = -ENOENT;
	FILE *f;

	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %lu", key, &v) == 2 &&
		    !strcmp(key, name)) {
			*val = v;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

int64_t pagemap_pfn_pid(pid_t pid, const void *addr)
{
	long psize = sysconf(_SC_PAGESIZE);
	char path[64];
	uint64_t ent;
	ssize_t n;
	int fd;

	if (!pid)
		return pagemap_pfn(addr);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = pread(fd, &ent, sizeof(ent),
		  (off_t)((uintptr_t)addr / psize) * sizeof(ent));
	close(fd);
	if (n != sizeof(ent))
		return n < 0 ? -errno : -EIO;
	if (!(ent & (1ULL << 63)))
		return 0;
	return ent & ((1ULL << 55) - 1);
}

int64_t zero_page_pfn(void)
{
	char *p = map_private_anon(1);
	int64_t pfn;

	if (!p)
		return -ENOMEM;
	/* A read fault on never-written private memory maps the zero page. */
	if (madvise(p, sysconf(_SC_PAGESIZE), MADV_POPULATE_READ))
		pfn = -errno;
	else
		pfn = pagemap_pfn(p);
	munmap(p, sysconf(_SC_PAGESIZE));
	return pfn;
}

/* splitmix64: cheap, well spread, never all-zero over a page. */
static uint64_t mix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t ksm_test_seed(const char *tag)
{
	struct timespec ts;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *tag; tag++)
		h = (h ^ (unsigned char)*tag) * 0x100000001b3ULL;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	h ^= (uint64_t)getpid() << 32;
	h ^= (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	return mix64(&h);
}

void fill_page_seeded(void *page, uint64_t seed)
{
	size_t words = sysconf(_SC_PAGESIZE) / sizeof(uint64_t), i;
	uint64_t *w = page, state = seed;

	for (i = 0; i < words; i++)
		w[i] = mix64(&state);
}

bool page_has_seed(const void *page, uint64_t seed)
{
	size_t words = sysconf(_SC_PAGESIZE) / sizeof(uint64_t), i;
	const uint64_t *w = page;
	uint64_t state = seed;

	for (i = 0; i < words; i++)
		if (w[i] != mix64(&state))
			return false;
	return true;
}

char *map_private_anon(size_t pages)
{
	size_t len = pages * sysconf(_SC_PAGESIZE);
	char *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Whole-page KSM only: keep THP out of the way (may be absent). */
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

int pagemap_pfns(pid_t pid, const void *addr, size_t pages, int64_t *pfns)
{
	long psize = sysconf(_SC_PAGESIZE);
	size_t len = pages * sizeof(uint64_t), i;
	char path[64];
	uint64_t *ent;
	ssize_t n;
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	ent = malloc(len);
	if (!ent)
		return -ENOMEM;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		free(ent);
		return -errno;
	}
	n = pread(fd, ent, len,
		  (off_t)((uintptr_t)addr / psize) * sizeof(uint64_t));
	close(fd);
	if (n < 0 || (size_t)n != len) {
		free(ent);
		return n < 0 ? -errno : -EIO;
	}
	for (i = 0; i < pages; i++)
		pfns[i] = (ent[i] & (1ULL << 63)) ?
			  (int64_t)(ent[i] & ((1ULL << 55) - 1)) : 0;
	free(ent);
	return 0;
}

int64_t common_pfn(pid_t pid, const void *addr, size_t pages)
{
	int64_t *pfns = calloc(pages, sizeof(*pfns)), ret;
	size_t i;
	int err;

	if (!pfns)
		return -ENOMEM;
	err = pagemap_pfns(pid, addr, pages, pfns);
	if (err) {
		free(pfns);
		return err;
	}
	ret = pfns[0];
	for (i = 1; i < pages && ret; i++)
		if (pfns[i] != ret)
			ret = 0;
	free(pfns);
	return ret;
}

int64_t wait_common_pfn(pid_t pid, const void *addr, size_t pages,
			unsigned int timeout_ms)
{
	int64_t pfn = 0;

	KSM_WAIT_FOR((pfn = common_pfn(pid, addr, pages)) != 0, timeout_ms);
	return pfn > 0 ? pfn : 0;
}

int pfns_distinct(pid_t pid, const void *addr, size_t pages, int64_t not_pfn)
{
	int64_t *pfns = calloc(pages, sizeof(*pfns));
	size_t i, j;
	int ret = 1;

	if (!pfns)
		return -ENOMEM;
	ret = pagemap_pfns(pid, addr, pages, pfns);
	if (ret) {
		free(pfns);
		return ret;
	}
	ret = 1;
	for (i = 0; i < pages && ret; i++) {
		if (!pfns[i] || (not_pfn && pfns[i] == not_pfn))
			ret = 0;
		for (j = i + 1; j < pages && ret; j++)
			if (pfns[i] == pfns[j])
				ret = 0;
	}
	free(pfns);
	return ret;
}

bool remote_page_has_seed(pid_t pid, const void *addr, uint64_t seed)
{
	long psize = sysconf(_SC_PAGESIZE);
	bool ret = false;
	char path[64];
	void *buf;
	int fd;

	/* A read through /proc/<pid>/mem never breaks COW. */
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	buf = malloc(psize);
	if (buf && pread(fd, buf, psize, (off_t)(uintptr_t)addr) == psize)
		ret = page_has_seed(buf, seed);
	free(buf);
	close(fd);
	return ret;
}

int ksm_read_long(const char *knob, long *val)
{
	char buf[64], *end;
	int err;

	err = ksm_read_str(knob, buf, sizeof(buf));
	if (err)
		return err;
	errno = 0;
	*val = strtol(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	return 0;
}

int ksm_wait_steady(const char *knob, unsigned int steady_ms,
		    unsigned int timeout_ms, unsigned long *val)
{
	uint64_t deadline = now_ms() + timeout_ms, since = now_ms();
	unsigned long last, cur;
	int err;

	err = ksm_read_ulong(knob, &last);
	if (err)
		return err;
	for (;;) {
		usleep(20000);
		err = ksm_read_ulong(knob, &cur);
		if (err)
			return err;
		if (cur != last) {
			last = cur;
			since = now_ms();
		} else if (now_ms() - since >= steady_ms) {
			*val = cur;
			return 0;
		}
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
	}
}

int ksm_read_scan_snap(struct ksm_scan_snap *s)
{
	unsigned long again;
	int err, tries;

	for (tries = 0; tries < 1000; tries++) {
		err = ksm_read_ulong("full_scans", &s->full_scans);
		if (!err)
			err = ksm_read_ulong("pages_scanned", &s->pages_scanned);
		if (!err)
			err = ksm_read_ulong("pages_skipped", &s->pages_skipped);
		if (!err)
			err = ksm_read_ulong("full_scans", &again);
		if (err)
			return err;
		if (again == s->full_scans)
			return 0;
	}
	return -EAGAIN;
}

int pagemap_entries(pid_t pid, const void *addr, size_t pages, uint64_t *ents)
{
	long psize = sysconf(_SC_PAGESIZE);
	size_t len = pages * sizeof(uint64_t);
	char path[64];
	ssize_t n;
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = pread(fd, ents, len,
		  (off_t)((uintptr_t)addr / psize) * sizeof(uint64_t));
	close(fd);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int kpageflags_read(uint64_t pfn, size_t nr, uint64_t *flags)
{
	size_t len = nr * sizeof(uint64_t);
	ssize_t n;
	int fd;

	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0)
		return -errno;
	n = pread(fd, flags, len, (off_t)(pfn * sizeof(uint64_t)));
	close(fd);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int pfn_has_kpf(int64_t pfn, unsigned int bit)
{
	uint64_t flags;
	int err;

	if (pfn <= 0)
		return -EINVAL;
	err = kpageflags_read(pfn, 1, &flags);
	if (err)
		return err;
	return !!(flags & (1ULL << bit));
}

int64_t kpagecount_read(int64_t pfn)
{
	uint64_t count;
	ssize_t n;
	int fd;

	if (pfn <= 0)
		return -EINVAL;
	fd = open("/proc/kpagecount", O_RDONLY);
	if (fd < 0)
		return -errno;
	n = pread(fd, &count, sizeof(count), (off_t)(pfn * sizeof(count)));
	close(fd);
	if (n < 0)
		return -errno;
	return n == sizeof(count) ? (int64_t)count : -EIO;
}

bool numa_node_present(int nid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", nid);
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

int page_node(pid_t pid, const void *addr)
{
	void *page = (void *)((uintptr_t)addr &
			      ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1));
	int status = -ENOENT;

	if (syscall(SYS_move_pages, pid, 1UL, &page, NULL, &status, 0))
		return -errno;
	return status;
}

int mbind_node(void *addr, size_t len, int nid)
{
	unsigned long mask = 1UL << nid;

	if (nid < 0 || nid >= (int)(8 * sizeof(mask)))
		return -EINVAL;
	if (syscall(SYS_mbind, addr, len, 2 /* MPOL_BIND */, &mask,
		    8 * sizeof(mask), 0))
		return -errno;
	return 0;
}

int move_page_to(pid_t pid, void *addr, int nid, int flags)
{
	void *page = (void *)((uintptr_t)addr &
			      ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1));
	int status = -ENOENT;
	long left;

	/* > 0: the page could not be moved (it was busy), status unset. */
	left = syscall(SYS_move_pages, pid, 1UL, &page, &nid, &status, flags);
	if (left < 0)
		return -errno;
	return left ? -EBUSY : status;
}

int file_read_str(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd, err = 0;

	if (!size)
		return -EINVAL;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0) {
		err = -errno;
		n = 0;
	}
	buf[n] = '\0';
	close(fd);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return err;
}

int file_write_str(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

static void ksm_child_loop(int cmd_fd, int rep_fd, ksm_child_fn fn,
			   void *arg)
{
	char cmd, rep;

	while (read(cmd_fd, &cmd, 1) == 1 && cmd != 'q') {
		rep = fn(cmd, arg);
		if (write(rep_fd, &rep, 1) != 1)
			_exit(2);
	}
	_exit(0);
}

int ksm_child_start(struct ksm_child *c, ksm_child_fn fn, void *arg)
{
	int cmd[2], rep[2];
	pid_t ppid = getpid();

	c->pid = -1;
	c->cmd_fd = -1;
	c->rep_fd = -1;
	if (pipe(cmd))
		return -errno;
	if (pipe(rep)) {
		close(cmd[0]);
		close(cmd[1]);
		return -errno;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0) {
		int err = -errno;

		close(cmd[0]);
		close(cmd[1]);
		close(rep[0]);
		close(rep[1]);
		return err;
	}
	if (!c->pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != ppid)
			_exit(1);
		close(cmd[1]);
		close(rep[0]);
		ksm_child_loop(cmd[0], rep[1], fn, arg);
	}
	close(cmd[0]);
	close(rep[1]);
	c->cmd_fd = cmd[1];
	c->rep_fd = rep[0];
	return 0;
}

int ksm_child_call(struct ksm_child *c, char cmd, unsigned int timeout_ms)
{
	struct pollfd pfd = { .fd = c->rep_fd, .events = POLLIN };
	char rep;
	int n;

	if (c->pid <= 0)
		return -ESRCH;
	if (write(c->cmd_fd, &cmd, 1) != 1)
		return -EPIPE;
	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (!n)
		return -ETIMEDOUT;
	if (read(c->rep_fd, &rep, 1) != 1)
		return -EPIPE;
	return (unsigned char)rep;
}

int ksm_child_stop(struct ksm_child *c, unsigned int timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	int status = 0;
	ssize_t n;
	pid_t r;

	if (c->pid <= 0)
		return -ESRCH;
	/* A child that is gone already is reaped below all the same. */
	n = write(c->cmd_fd, "q", 1);
	(void)n;
	close(c->cmd_fd);
	close(c->rep_fd);
	c->cmd_fd = -1;
	c->rep_fd = -1;
	while ((r = waitpid(c->pid, &status, WNOHANG)) == 0 &&
	       now_ms() < deadline)
		usleep(10000);
	if (r == 0) {
		kill(c->pid, SIGKILL);
		r = waitpid(c->pid, &status, 0);
	}
	c->pid = -1;
	return r < 0 ? -errno : status;
}
