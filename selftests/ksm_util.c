// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_util.c - helpers shared by the KSM selftests.
 *
 * Owns sysfs knob access, knob save/restore, smaps VmFlags lookups and
 * pagemap PFN lookups (see ksm_util.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "ksm_util.h"

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

const size_t ksm_nr_files = sizeof(ksm_files) / sizeof(ksm_files[0]);

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
			for (tok = strtok_r(line + 8, " \n", &save); tok;
			     tok = strtok_r(NULL, " \n", &save))
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
