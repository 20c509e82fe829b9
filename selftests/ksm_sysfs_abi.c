// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_sysfs_abi.c - the upstream 6.12 /sys/kernel/mm/ksm/ ABI, file by file.
 *
 * Owns the shape of the interface: which files exist (merge_across_nodes
 * only with CONFIG_NUMA), their modes and owner, the format of what they
 * show, that read-only files refuse to be opened for writing even by root,
 * and the values right after boot or module load ("defaults", which only
 * runs when KSM_SYSFS_FRESH=1 says nothing has touched KSM yet).
 *
 * Reference: mm/ksm.c (ksm_attrs[], the *_show() handlers and the initial
 * values of the tunables) and Documentation/admin-guide/mm/ksm.rst.
 *
 * On a kernel that is not 6.12, files beyond the 6.12 set are logged but do
 * not fail: the tests encode 6.12, and newer kernels may add files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

static const struct ksm_file *find_file(const char *name)
{
	size_t i;

	for (i = 0; i < ksm_nr_files; i++)
		if (!strcmp(ksm_files[i].name, name))
			return &ksm_files[i];
	return NULL;
}

static bool file_expected(const struct ksm_file *f)
{
	return !f->numa_only || kernel_has_numa();
}

/* "123\n" (or "-123\n" when @is_signed): one decimal number and a newline. */
static bool is_decimal_line(const char *s, bool is_signed)
{
	const char *p = s;

	if (is_signed && *p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return p[0] == '\n' && p[1] == '\0';
}

#define NO_KSM "no " KSM_SYSFS_DIR " (no KSM engine present)"

TEST(directory)
{
	struct stat st;

	if (!ksm_sysfs_present())
		SKIP(return, NO_KSM);
	ASSERT_EQ(0, stat(KSM_SYSFS_DIR, &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(0755U, st.st_mode & 07777);
	EXPECT_EQ(0U, st.st_uid);
}

TEST(file_set)
{
	bool seen[64] = { false };
	struct dirent *de;
	size_t i, nr = 0, expected = 0;
	DIR *d;

	if (!ksm_sysfs_present())
		SKIP(return, NO_KSM);
	ASSERT_LE(ksm_nr_files, ARRAY_SIZE(seen));
	d = opendir(KSM_SYSFS_DIR);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		const struct ksm_file *f;

		if (de->d_name[0] == '.')
			continue;
		nr++;
		f = find_file(de->d_name);
		if (f && file_expected(f)) {
			seen[f - ksm_files] = true;
			continue;
		}
		if (kernel_is_6_12()) {
			TH_LOG("unexpected file %s", de->d_name);
			EXPECT_TRUE(false);
		} else {
			TH_LOG("note: %s is not in the 6.12 ABI (kernel is not 6.12)",
			       de->d_name);
		}
	}
	closedir(d);

	for (i = 0; i < ksm_nr_files; i++) {
		if (!file_expected(&ksm_files[i]))
			continue;
		expected++;
		if (!seen[i]) {
			TH_LOG("missing file %s", ksm_files[i].name);
			EXPECT_TRUE(false);
		}
	}
	TH_LOG("%zu files, %zu expected (%s kernel)", nr, expected,
	       kernel_has_numa() ? "NUMA" : "non-NUMA");
	EXPECT_EQ(kernel_has_numa() ? 24UL : 23UL, expected);
	if (kernel_is_6_12())
		EXPECT_EQ(expected, nr);
}

TEST(file_modes)
{
	char path[256];
	struct stat st;
	size_t i;

	if (!ksm_sysfs_present())
		SKIP(return, NO_KSM);
	for (i = 0; i < ksm_nr_files; i++) {
		const struct ksm_file *f = &ksm_files[i];
		unsigned int want = f->writable ? 0644 : 0444;

		if (!file_expected(f))
			continue;
		snprintf(path, sizeof(path), KSM_SYSFS_DIR "/%s", f->name);
		if (stat(path, &st)) {
			TH_LOG("stat %s: %s", path, strerror(errno));
			EXPECT_TRUE(false);
			continue;
		}
		EXPECT_TRUE(S_ISREG(st.st_mode)) TH_LOG("%s not a file", f->name);
		EXPECT_EQ(want, st.st_mode & 07777)
			TH_LOG("%s: mode %o, want %o", f->name,
			       st.st_mode & 07777, want);
		EXPECT_EQ(0U, st.st_uid) TH_LOG("%s: uid %u", f->name, st.st_uid);
	}
}

TEST(read_format)
{
	char buf[128];
	size_t i;

	if (!ksm_sysfs_present())
		SKIP(return, NO_KSM);
	for (i = 0; i < ksm_nr_files; i++) {
		const struct ksm_file *f = &ksm_files[i];
		unsigned long v;

		if (!file_expected(f))
			continue;
		if (ksm_read_raw(f->name, buf, sizeof(buf))) {
			TH_LOG("cannot read %s", f->name);
			EXPECT_TRUE(false);
			continue;
		}
		if (!strcmp(f->name, "advisor_mode")) {
			EXPECT_TRUE(!strcmp(buf, "[none] scan-time\n") ||
				    !strcmp(buf, "none [scan-time]\n"))
				TH_LOG("advisor_mode shows '%s'", buf);
			continue;
		}
		/* general_profit may go negative (rmap_item overhead). */
		if (!is_decimal_line(buf, !strcmp(f->name, "general_profit"))) {
			TH_LOG("%s shows '%s', not a decimal line", f->name, buf);
			EXPECT_TRUE(false);
			continue;
		}
		v = strtoul(buf, NULL, 10);
		if (!strcmp(f->name, "run")) {
			EXPECT_LE(v, 2UL);
		} else if (!strcmp(f->name, "merge_across_nodes") ||
			   !strcmp(f->name, "use_zero_pages") ||
			   !strcmp(f->name, "smart_scan")) {
			EXPECT_LE(v, 1UL) TH_LOG("%s = %lu", f->name, v);
		} else if (!strcmp(f->name, "max_page_sharing")) {
			EXPECT_GE(v, 2UL);
		} else if (!strcmp(f->name, "advisor_target_scan_time")) {
			EXPECT_GE(v, 1UL);
		}
	}
}

TEST(read_only_files_refuse_writes)
{
	char path[256];
	size_t i;
	int fd;

	if (!ksm_sysfs_present())
		SKIP(return, NO_KSM);
	/*
	 * kernfs refuses FMODE_WRITE on an attribute without a store method
	 * with -EACCES at open(), whatever the caller's capabilities.
	 */
	for (i = 0; i < ksm_nr_files; i++) {
		const struct ksm_file *f = &ksm_files[i];

		if (!file_expected(f) || f->writable)
			continue;
		snprintf(path, sizeof(path), KSM_SYSFS_DIR "/%s", f->name);
		errno = 0;
		fd = open(path, O_WRONLY);
		EXPECT_EQ(-1, fd) TH_LOG("%s opened for writing", f->name);
		EXPECT_EQ(EACCES, errno) TH_LOG("%s: %s", f->name, strerror(errno));
		if (fd >= 0)
			close(fd);
		errno = 0;
		fd = open(path, O_RDWR);
		EXPECT_EQ(-1, fd) TH_LOG("%s opened read-write", f->name);
		EXPECT_EQ(EACCES, errno) TH_LOG("%s: %s", f->name, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

TEST(writable_files_open_rw)
{
	char path[256];
	size_t i;
	int fd;

	if (!ksm_sysfs_present())
		SKIP(return, NO_KSM);
	for (i = 0; i < ksm_nr_files; i++) {
		const struct ksm_file *f = &ksm_files[i];

		if (!file_expected(f) || !f->writable)
			continue;
		snprintf(path, sizeof(path), KSM_SYSFS_DIR "/%s", f->name);
		fd = open(path, O_RDWR);
		EXPECT_LE(0, fd) TH_LOG("%s: %s", f->name, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

TEST(no_new_files)
{
	int fd;

	if (!ksm_sysfs_present())
		SKIP(return, NO_KSM);
	/* sysfs directories cannot be written to by userspace, even root. */
	fd = open(KSM_SYSFS_DIR "/ksm_selftest_bogus", O_WRONLY | O_CREAT, 0644);
	EXPECT_EQ(-1, fd);
	if (fd >= 0) {
		close(fd);
		unlink(KSM_SYSFS_DIR "/ksm_selftest_bogus");
	}
}

/* Values after boot (built-in engine) or right after insmod (module). */
static const struct {
	const char *name;
	const char *value;
} ksm_defaults[] = {
	{ "run",				"0" },
	{ "pages_to_scan",			"100" },
	{ "sleep_millisecs",			"20" },
	{ "merge_across_nodes",			"1" },
	{ "use_zero_pages",			"0" },
	{ "max_page_sharing",			"256" },
	{ "stable_node_chains_prune_millisecs",	"2000" },
	{ "smart_scan",				"1" },
	{ "advisor_mode",			"[none] scan-time" },
	{ "advisor_max_cpu",			"70" },
	{ "advisor_target_scan_time",		"200" },
	{ "advisor_min_pages_to_scan",		"500" },
	{ "advisor_max_pages_to_scan",		"30000" },
	/* Nothing has been scanned or merged yet. */
	{ "pages_scanned",			"0" },
	{ "pages_shared",			"0" },
	{ "pages_sharing",			"0" },
	{ "pages_unshared",			"0" },
	{ "pages_volatile",			"0" },
	{ "pages_skipped",			"0" },
	{ "full_scans",				"0" },
	{ "stable_node_chains",			"0" },
	{ "stable_node_dups",			"0" },
	{ "ksm_zero_pages",			"0" },
	{ "general_profit",			"0" },
};

TEST(defaults)
{
	const char *fresh = getenv("KSM_SYSFS_FRESH");
	char buf[128];
	size_t i;

	if (!fresh || strcmp(fresh, "1"))
		SKIP(return, "KSM state may not be fresh (set KSM_SYSFS_FRESH=1)");
	if (!ksm_sysfs_present())
		SKIP(return, NO_KSM);
	for (i = 0; i < ARRAY_SIZE(ksm_defaults); i++) {
		const char *name = ksm_defaults[i].name;

		if (!strcmp(name, "merge_across_nodes") && !kernel_has_numa())
			continue;
		if (ksm_read_str(name, buf, sizeof(buf))) {
			TH_LOG("cannot read %s", name);
			EXPECT_TRUE(false);
			continue;
		}
		EXPECT_STREQ(ksm_defaults[i].value, buf)
			TH_LOG("%s: '%s', default is '%s'", name, buf,
			       ksm_defaults[i].value);
	}
}

TEST_HARNESS_MAIN
