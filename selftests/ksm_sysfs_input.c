// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_sysfs_input.c - what every writable /sys/kernel/mm/ksm knob accepts.
 *
 * Owns the input side of the 6.12 ABI: for each writable knob, which strings
 * are accepted (and what the knob shows afterwards) and which are refused
 * with which errno, leaving the value unchanged.  Also the -EBUSY rule of
 * merge_across_nodes and max_page_sharing while KSM pages exist (merging
 * proven through /proc/self/pagemap, not through the engine's counters),
 * run's 0/1/2 states and the advisor's side effects on pages_to_scan.
 *
 * The expected results come from reading 6.12 mm/ksm.c and lib/kstrtox.c:
 *  - kstrtouint/kstrtoul/kstrtoint take an optional '+', decimal digits and
 *    one optional trailing newline; overflow is -ERANGE, anything else is
 *    -EINVAL.  Most stores map every parse error to -EINVAL, but
 *    merge_across_nodes and max_page_sharing pass the parser's error through
 *    (so an overflow there is -ERANGE).
 *  - kstrtobool (use_zero_pages, smart_scan) looks only at the first one or
 *    two characters: "1", "y", "t", "on" are true, "0", "n", "f", "off" are
 *    false, so "10" and "18446744073709551616" are true.
 *  - advisor_mode compares with sysfs_streq(): exact words, one optional
 *    trailing newline.
 *  - A zero-length write never reaches the store method and returns 0.
 * Every knob is restored by the fixture teardown, even when a test fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "ksm_util.h"

struct input_case {
	const char *in;		/* written as one write() of strlen(in) bytes */
	int err;		/* expected errno, 0 if accepted */
	const char *shows;	/* value afterwards if accepted; NULL: unchanged */
};

#define ACCEPT(_in, _shows)	{ _in, 0, _shows }
#define REJECT(_in, _err)	{ _in, _err, NULL }

/*
 * Refused by every numeric knob (kstrto*() syntax errors); the overflow
 * "18446744073709551616" is checked separately, its errno depends on the
 * knob.
 */
static const struct input_case bad_syntax_cases[] = {
	REJECT("abc", EINVAL),
	REJECT("\n", EINVAL),
	REJECT("0x10", EINVAL),
	REJECT(" 1", EINVAL),
	REJECT("1 ", EINVAL),
	REJECT("1.5", EINVAL),
	REJECT("1a", EINVAL),
	REJECT("++1", EINVAL),
	REJECT("1\n\n", EINVAL),
	ACCEPT("", NULL),	/* zero-length write: no-op */
};

static const struct input_case uint_cases[] = {
	REJECT("-1", EINVAL),
	REJECT("4294967296", EINVAL),
	ACCEPT("0", "0"),
	ACCEPT("7", "7"),
	ACCEPT("+8", "8"),
	ACCEPT("0009", "9"),
	ACCEPT("10\n", "10"),
	ACCEPT("4294967295", "4294967295"),
};

static const struct input_case run_cases[] = {
	REJECT("-1", EINVAL),
	REJECT("3", EINVAL),
	REJECT("4294967296", EINVAL),
	REJECT("4294967298", EINVAL),
	ACCEPT("0", "0"),
	ACCEPT("0\n", "0"),
	ACCEPT("+0", "0"),
};

static const struct input_case merge_across_nodes_cases[] = {
	REJECT("-1", EINVAL),
	REJECT("2", EINVAL),
	REJECT("4294967297", EINVAL),
	ACCEPT("0", "0"),
	ACCEPT("1", "1"),
	ACCEPT("0\n", "0"),
	ACCEPT("+1", "1"),
};

static const struct input_case max_page_sharing_cases[] = {
	REJECT("-1", EINVAL),
	REJECT("0", EINVAL),
	REJECT("1", EINVAL),
	REJECT("-2147483648", EINVAL),
	REJECT("2147483648", ERANGE),
	REJECT("-2147483649", ERANGE),
	ACCEPT("2", "2"),
	ACCEPT("3\n", "3"),
	ACCEPT("+300", "300"),
	ACCEPT("2147483647", "2147483647"),
	ACCEPT("256", "256"),
};

static const struct input_case bool_cases[] = {
	REJECT("abc", EINVAL),
	REJECT("-1", EINVAL),
	REJECT("2", EINVAL),
	REJECT("\n", EINVAL),
	REJECT("o", EINVAL),
	REJECT("ox", EINVAL),
	REJECT(" 1", EINVAL),
	REJECT("+1", EINVAL),
	ACCEPT("", NULL),
	ACCEPT("1", "1"),
	ACCEPT("0", "0"),
	ACCEPT("y", "1"),
	ACCEPT("n", "0"),
	ACCEPT("Y", "1"),
	ACCEPT("N", "0"),
	ACCEPT("on", "1"),
	ACCEPT("off", "0"),
	ACCEPT("ON", "1"),
	ACCEPT("OFF", "0"),
	ACCEPT("true", "1"),
	ACCEPT("false", "0"),
	ACCEPT("yes", "1"),
	ACCEPT("no", "0"),
	ACCEPT("1\n", "1"),
	ACCEPT("0\n", "0"),
	/* Only the first character counts. */
	ACCEPT("10", "1"),
	ACCEPT("18446744073709551616", "1"),
	ACCEPT("nonsense", "0"),
};

static const struct input_case ulong_cases[] = {
	REJECT("-1", EINVAL),
	ACCEPT("0", "0"),
	ACCEPT("1", "1"),
	ACCEPT("+42", "42"),
	ACCEPT("4294967296", "4294967296"),
	ACCEPT("18446744073709551615", "18446744073709551615"),
	ACCEPT("500\n", "500"),
};

/* Stored in an unsigned int in 6.12: values above UINT_MAX are not tried. */
static const struct input_case advisor_max_cpu_cases[] = {
	REJECT("-1", EINVAL),
	ACCEPT("0", "0"),
	ACCEPT("1", "1"),
	ACCEPT("100", "100"),
	ACCEPT("101", "101"),	/* 6.12 has no upper bound */
	ACCEPT("+50\n", "50"),
	ACCEPT("70", "70"),
};

static const struct input_case advisor_target_scan_time_cases[] = {
	REJECT("-1", EINVAL),
	REJECT("0", EINVAL),
	REJECT("0\n", EINVAL),
	ACCEPT("1", "1"),
	ACCEPT("+17", "17"),
	ACCEPT("18446744073709551615", "18446744073709551615"),
	ACCEPT("200\n", "200"),
};

static const struct input_case advisor_mode_cases[] = {
	REJECT("abc", EINVAL),
	REJECT("\n", EINVAL),
	REJECT("NONE", EINVAL),
	REJECT("Scan-time", EINVAL),
	REJECT("scan_time", EINVAL),
	REJECT("scan", EINVAL),
	REJECT("none ", EINVAL),
	REJECT(" none", EINVAL),
	REJECT("[none]", EINVAL),
	REJECT("[none] scan-time", EINVAL),
	REJECT("none\n\n", EINVAL),
	REJECT("0", EINVAL),
	ACCEPT("", NULL),
	ACCEPT("scan-time", "none [scan-time]"),
	ACCEPT("none", "[none] scan-time"),
	ACCEPT("scan-time\n", "none [scan-time]"),
	ACCEPT("none\n", "[none] scan-time"),
};

/* Printable form of an input for the log. */
static const char *show_input(const char *in, char *buf, size_t size)
{
	size_t o = 0;

	for (; *in && o + 3 < size; in++) {
		if (*in == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *in;
		}
	}
	buf[o] = '\0';
	return buf;
}

/*
 * Set @knob to @start, then try every case; a refused write must leave the
 * value where it was, an accepted one must show the documented value.
 */
static void try_cases(struct __test_metadata *_metadata, const char *knob,
		      const struct input_case *c, size_t n)
{
	char before[KSM_KNOB_LEN], after[KSM_KNOB_LEN], in[64];
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, ksm_read_str(knob, before, sizeof(before)));
		err = ksm_write_str(knob, c[i].in);
		ASSERT_EQ(0, ksm_read_str(knob, after, sizeof(after)));
		show_input(c[i].in, in, sizeof(in));
		EXPECT_EQ(c[i].err, -err)
			TH_LOG("%s <- '%s': got %s, want %s", knob, in,
			       err ? strerror(-err) : "success",
			       c[i].err ? strerror(c[i].err) : "success");
		if (c[i].shows && !c[i].err) {
			EXPECT_STREQ(c[i].shows, after)
				TH_LOG("%s <- '%s' shows '%s', want '%s'", knob,
				       in, after, c[i].shows);
		} else {
			EXPECT_STREQ(before, after)
				TH_LOG("%s <- '%s' changed '%s' to '%s'", knob,
				       in, before, after);
		}
	}
}

/*
 * The knob's own cases; for a numeric knob (@overflow_err non-zero) also the
 * syntax errors every kstrto*() refuses and a 65-bit number.
 */
static void check_cases(struct __test_metadata *_metadata, const char *knob,
			const char *start, const struct input_case *c, size_t n,
			int overflow_err)
{
	const struct input_case overflow[] = {
		REJECT("18446744073709551616", overflow_err),
	};

	ASSERT_EQ(0, ksm_write_str(knob, start))
		TH_LOG("cannot set %s to %s", knob, start);
	if (overflow_err) {
		try_cases(_metadata, knob, bad_syntax_cases,
			  ARRAY_SIZE(bad_syntax_cases));
		try_cases(_metadata, knob, overflow, ARRAY_SIZE(overflow));
	}
	try_cases(_metadata, knob, c, n);
}

FIXTURE(knobs)
{
	struct ksm_knobs saved;
	bool saved_ok;
};

FIXTURE_SETUP(knobs)
{
	if (!ksm_sysfs_present())
		SKIP(return, "no " KSM_SYSFS_DIR " (no KSM engine present)");
	self->saved_ok = !ksm_save_knobs(&self->saved);
	ASSERT_TRUE(self->saved_ok);
}

FIXTURE_TEARDOWN(knobs)
{
	if (self->saved_ok)
		EXPECT_EQ(0, ksm_restore_knobs(&self->saved));
}

/* Stores that refuse to change while stable nodes exist need none. */
static void unmerge_all(struct __test_metadata *_metadata)
{
	unsigned long shared;

	ASSERT_EQ(0, ksm_read_ulong("pages_shared", &shared));
	if (shared)
		ASSERT_EQ(0, ksm_write_str("run", "2"));
}

TEST_F(knobs, sleep_millisecs)
{
	check_cases(_metadata, "sleep_millisecs", "37", uint_cases,
		    ARRAY_SIZE(uint_cases), EINVAL);
}

TEST_F(knobs, pages_to_scan)
{
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "none"));
	check_cases(_metadata, "pages_to_scan", "37", uint_cases,
		    ARRAY_SIZE(uint_cases), EINVAL);
}

TEST_F(knobs, stable_node_chains_prune_millisecs)
{
	check_cases(_metadata, "stable_node_chains_prune_millisecs", "37",
		    uint_cases, ARRAY_SIZE(uint_cases), EINVAL);
}

TEST_F(knobs, run)
{
	char buf[KSM_KNOB_LEN];

	check_cases(_metadata, "run", "0", run_cases, ARRAY_SIZE(run_cases),
		    EINVAL);

	/* The three states show as written. */
	ASSERT_EQ(0, ksm_write_str("run", "1"));
	ASSERT_EQ(0, ksm_read_str("run", buf, sizeof(buf)));
	EXPECT_STREQ("1", buf);
	EXPECT_EQ(EINVAL, -ksm_write_str("run", "3"));
	ASSERT_EQ(0, ksm_read_str("run", buf, sizeof(buf)));
	EXPECT_STREQ("1", buf);
	ASSERT_EQ(0, ksm_write_str("run", "2"));
	ASSERT_EQ(0, ksm_read_str("run", buf, sizeof(buf)));
	EXPECT_STREQ("2", buf);
	ASSERT_EQ(0, ksm_write_str("run", "2\n"));
	ASSERT_EQ(0, ksm_read_str("run", buf, sizeof(buf)));
	EXPECT_STREQ("2", buf);
	ASSERT_EQ(0, ksm_write_str("run", "0"));
	ASSERT_EQ(0, ksm_read_str("run", buf, sizeof(buf)));
	EXPECT_STREQ("0", buf);
}

TEST_F(knobs, merge_across_nodes)
{
	if (!kernel_has_numa())
		SKIP(return, "no CONFIG_NUMA: merge_across_nodes does not exist");
	unmerge_all(_metadata);
	check_cases(_metadata, "merge_across_nodes", "1",
		    merge_across_nodes_cases,
		    ARRAY_SIZE(merge_across_nodes_cases), ERANGE);
}

TEST_F(knobs, max_page_sharing)
{
	unmerge_all(_metadata);
	check_cases(_metadata, "max_page_sharing", "37",
		    max_page_sharing_cases,
		    ARRAY_SIZE(max_page_sharing_cases), ERANGE);
}

TEST_F(knobs, use_zero_pages)
{
	check_cases(_metadata, "use_zero_pages", "1", bool_cases,
		    ARRAY_SIZE(bool_cases), 0);
}

TEST_F(knobs, smart_scan)
{
	check_cases(_metadata, "smart_scan", "1", bool_cases,
		    ARRAY_SIZE(bool_cases), 0);
}

TEST_F(knobs, advisor_mode)
{
	check_cases(_metadata, "advisor_mode", "none", advisor_mode_cases,
		    ARRAY_SIZE(advisor_mode_cases), 0);
}

TEST_F(knobs, advisor_max_cpu)
{
	check_cases(_metadata, "advisor_max_cpu", "37", advisor_max_cpu_cases,
		    ARRAY_SIZE(advisor_max_cpu_cases), EINVAL);
}

TEST_F(knobs, advisor_min_pages_to_scan)
{
	check_cases(_metadata, "advisor_min_pages_to_scan", "37", ulong_cases,
		    ARRAY_SIZE(ulong_cases), EINVAL);
}

TEST_F(knobs, advisor_max_pages_to_scan)
{
	check_cases(_metadata, "advisor_max_pages_to_scan", "37", ulong_cases,
		    ARRAY_SIZE(ulong_cases), EINVAL);
}

TEST_F(knobs, advisor_target_scan_time)
{
	check_cases(_metadata, "advisor_target_scan_time", "37",
		    advisor_target_scan_time_cases,
		    ARRAY_SIZE(advisor_target_scan_time_cases), EINVAL);
}

/*
 * Switching the advisor on makes pages_to_scan follow
 * advisor_min_pages_to_scan and refuse writes; switching it off puts back
 * the default of 100.  Rewriting the current mode changes nothing.
 */
TEST_F(knobs, advisor_side_effects)
{
	char buf[KSM_KNOB_LEN];

	ASSERT_EQ(0, ksm_write_str("run", "0"));
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "none"));
	ASSERT_EQ(0, ksm_write_str("pages_to_scan", "1234"));
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "none"));
	ASSERT_EQ(0, ksm_read_str("pages_to_scan", buf, sizeof(buf)));
	EXPECT_STREQ("1234", buf);

	ASSERT_EQ(0, ksm_write_str("advisor_min_pages_to_scan", "777"));
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "scan-time"));
	ASSERT_EQ(0, ksm_read_str("advisor_mode", buf, sizeof(buf)));
	EXPECT_STREQ("none [scan-time]", buf);
	ASSERT_EQ(0, ksm_read_str("pages_to_scan", buf, sizeof(buf)));
	EXPECT_STREQ("777", buf);

	/* Owned by the advisor now: even valid numbers are refused. */
	EXPECT_EQ(EINVAL, -ksm_write_str("pages_to_scan", "100"));
	EXPECT_EQ(EINVAL, -ksm_write_str("pages_to_scan", "abc"));
	ASSERT_EQ(0, ksm_read_str("pages_to_scan", buf, sizeof(buf)));
	EXPECT_STREQ("777", buf);

	/* Same mode again: no reset. */
	ASSERT_EQ(0, ksm_write_str("advisor_min_pages_to_scan", "888"));
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "scan-time"));
	ASSERT_EQ(0, ksm_read_str("pages_to_scan", buf, sizeof(buf)));
	EXPECT_STREQ("777", buf);

	ASSERT_EQ(0, ksm_write_str("advisor_mode", "none"));
	ASSERT_EQ(0, ksm_read_str("advisor_mode", buf, sizeof(buf)));
	EXPECT_STREQ("[none] scan-time", buf);
	ASSERT_EQ(0, ksm_read_str("pages_to_scan", buf, sizeof(buf)));
	EXPECT_STREQ("100", buf);
	EXPECT_EQ(0, ksm_write_str("pages_to_scan", "321"));
	ASSERT_EQ(0, ksm_read_str("pages_to_scan", buf, sizeof(buf)));
	EXPECT_STREQ("321", buf);
}

/* Rewriting the value a knob shows is always accepted and changes nothing. */
TEST_F(knobs, rewrite_current_values)
{
	char before[KSM_KNOB_LEN], after[KSM_KNOB_LEN];
	size_t i;

	ASSERT_EQ(0, ksm_write_str("advisor_mode", "none"));
	for (i = 0; i < ksm_nr_files; i++) {
		const char *name = ksm_files[i].name;
		const char *val = before;

		if (!ksm_files[i].writable ||
		    (ksm_files[i].numa_only && !kernel_has_numa()))
			continue;
		ASSERT_EQ(0, ksm_read_str(name, before, sizeof(before)));
		if (!strcmp(name, "advisor_mode"))
			val = "none";
		EXPECT_EQ(0, ksm_write_str(name, val)) TH_LOG("%s", name);
		ASSERT_EQ(0, ksm_read_str(name, after, sizeof(after)));
		EXPECT_STREQ(before, after) TH_LOG("%s", name);
	}
}

#define MERGE_PAIRS	64
#define MERGE_TIMEOUT_MS 90000

/*
 * While KSM pages exist, merge_across_nodes and max_page_sharing refuse to
 * change (-EBUSY) but accept their current value; "run = 2" unmerges and
 * lets them change.
 */
TEST_F_TIMEOUT(knobs, ebusy_while_merged, 180)
{
	unsigned long mps, shared = 0;
	char buf[KSM_KNOB_LEN], other[KSM_KNOB_LEN];
	long psize = sysconf(_SC_PAGESIZE);
	uint64_t deadline;
	long merged = 0;
	char *area;
	int mas = -1;

	ASSERT_EQ(0, ksm_write_str("run", "0"));
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "none"));
	ASSERT_EQ(0, ksm_write_str("use_zero_pages", "0"));
	ASSERT_EQ(0, ksm_write_str("sleep_millisecs", "0"));
	ASSERT_EQ(0, ksm_write_str("pages_to_scan", "1000"));
	ASSERT_EQ(0, ksm_read_ulong("max_page_sharing", &mps));
	if (kernel_has_numa()) {
		ASSERT_EQ(0, ksm_read_str("merge_across_nodes", buf,
					  sizeof(buf)));
		mas = atoi(buf);
	}

	area = map_identical_pairs(MERGE_PAIRS);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, madvise(area, 2 * MERGE_PAIRS * psize, MADV_MERGEABLE));
	ASSERT_EQ(0, ksm_write_str("run", "1"));

	/* Merged means: both pages of a pair map the same frame. */
	deadline = now_ms() + MERGE_TIMEOUT_MS;
	while (now_ms() < deadline) {
		merged = count_shared_pairs(area, MERGE_PAIRS);
		ASSERT_LE(0, merged);
		if (merged == MERGE_PAIRS)
			break;
		usleep(20000);
	}
	ASSERT_LT(0, merged) TH_LOG("no pair merged within %d ms",
				    MERGE_TIMEOUT_MS);
	TH_LOG("%ld of %d pairs merged", merged, MERGE_PAIRS);
	ASSERT_EQ(0, ksm_read_ulong("pages_shared", &shared));
	EXPECT_LT(0UL, shared);

	/* Stop the scanner: the rule must hold with ksmd idle too. */
	ASSERT_EQ(0, ksm_write_str("run", "0"));
	ASSERT_LT(0, count_shared_pairs(area, MERGE_PAIRS));

	snprintf(other, sizeof(other), "%lu", mps == 256 ? 300UL : 256UL);
	EXPECT_EQ(EBUSY, -ksm_write_str("max_page_sharing", other));
	ASSERT_EQ(0, ksm_read_ulong("max_page_sharing", &shared));
	EXPECT_EQ(mps, shared);
	snprintf(buf, sizeof(buf), "%lu", mps);
	EXPECT_EQ(0, ksm_write_str("max_page_sharing", buf));
	if (mas >= 0) {
		const char *flip = mas ? "0" : "1";

		EXPECT_EQ(EBUSY, -ksm_write_str("merge_across_nodes", flip));
		ASSERT_EQ(0, ksm_read_str("merge_across_nodes", buf,
					  sizeof(buf)));
		EXPECT_EQ(mas, atoi(buf));
		EXPECT_EQ(0, ksm_write_str("merge_across_nodes",
					   mas ? "1" : "0"));
	}

	/* Unmerge: every pair gets its own frames again. */
	ASSERT_EQ(0, ksm_write_str("run", "2"));
	EXPECT_EQ(0, count_shared_pairs(area, MERGE_PAIRS));
	ASSERT_EQ(0, ksm_read_ulong("pages_shared", &shared));
	EXPECT_EQ(0UL, shared);

	EXPECT_EQ(0, ksm_write_str("max_page_sharing", other));
	ASSERT_EQ(0, ksm_read_str("max_page_sharing", buf, sizeof(buf)));
	EXPECT_STREQ(other, buf);
	if (mas >= 0) {
		EXPECT_EQ(0, ksm_write_str("merge_across_nodes",
					   mas ? "0" : "1"));
		ASSERT_EQ(0, ksm_read_str("merge_across_nodes", buf,
					  sizeof(buf)));
		EXPECT_EQ(!mas, atoi(buf));
	}
	munmap(area, 2 * MERGE_PAIRS * psize);
}

TEST_HARNESS_MAIN
