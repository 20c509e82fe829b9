// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_tracepoints.c - the ksm:* trace events.
 *
 * Owns the tracepoint side of the upstream 6.12 ABI: the nine events of
 * include/trace/events/ksm.h exist in tracefs under their upstream names,
 * their format files list upstream's fields with upstream's types, sizes,
 * signedness and order and upstream's print format; and a small workload
 * (a child advises, its pages merge, it writes to one, it exits) traces
 * ksm_enter and ksm_exit for the child's mm, ksm_start_scan/ksm_stop_scan
 * pairs with consecutive sequence numbers, and ksm_merge_with_ksm_page for
 * the child's mm with the PFN that pagemap shows; removing the KSM page
 * traces ksm_remove_ksm_page with that PFN; a zero-filled page merged with
 * use_zero_pages=1 traces ksm_merge_one_page with the zero page's PFN; the
 * advisor traces ksm_advisor with the pages_to_scan it sets.
 * Tracing state (tracing_on, each ksm event's enable) is saved and put back,
 * and the trace buffer is cleared after each test.
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

#define TRACEFS			"/sys/kernel/tracing"
#define MERGE_TIMEOUT_MS	60000
#define SCAN_TIMEOUT_MS		30000
#define CHILD_COMM		"ksmtp_child"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

static long psize(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* One field of an event, as its format file describes it. */
struct tp_field {
	const char *decl;	/* "type name" as in "field:type name;" */
	int size;
	int is_signed;
};

struct tp_event {
	const char *name;
	const char *print_fmt;	/* the quoted part of "print fmt:" */
	struct tp_field fields[5];
};

/* From include/trace/events/ksm.h, x86_64 (LP64). */
static const struct tp_event ksm_events[] = {
	{ "ksm_start_scan", "seq %d rmap size %d",
	  { { "int seq", 4, 1 }, { "u32 rmap_entries", 4, 0 } } },
	{ "ksm_stop_scan", "seq %d rmap size %d",
	  { { "int seq", 4, 1 }, { "u32 rmap_entries", 4, 0 } } },
	{ "ksm_enter", "mm %p", { { "void * mm", 8, 0 } } },
	{ "ksm_exit", "mm %p", { { "void * mm", 8, 0 } } },
	{ "ksm_merge_one_page", "ksm pfn %lu rmap_item %p mm %p error %d",
	  { { "unsigned long pfn", 8, 0 }, { "void * rmap_item", 8, 0 },
	    { "void * mm", 8, 0 }, { "int err", 4, 1 } } },
	{ "ksm_merge_with_ksm_page", "%spfn %lu rmap_item %p mm %p error %d",
	  { { "void * ksm_page", 8, 0 }, { "unsigned long pfn", 8, 0 },
	    { "void * rmap_item", 8, 0 }, { "void * mm", 8, 0 },
	    { "int err", 4, 1 } } },
	{ "ksm_remove_ksm_page", "pfn %lu",
	  { { "unsigned long pfn", 8, 0 } } },
	{ "ksm_remove_rmap_item", "pfn %lu rmap_item %p mm %p",
	  { { "unsigned long pfn", 8, 0 }, { "void * rmap_item", 8, 0 },
	    { "void * mm", 8, 0 } } },
	{ "ksm_advisor", "ksm scan time %lld pages_to_scan %lu cpu percent %u",
	  { { "s64 scan_time", 8, 1 }, { "unsigned long pages_to_scan", 8, 0 },
	    { "unsigned int cpu_percent", 4, 0 } } },
};

static bool tracefs_present(void)
{
	struct stat st;

	return !stat(TRACEFS "/events", &st) && S_ISDIR(st.st_mode);
}

static int tfs_write(const char *file, const char *val)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	/* O_TRUNC: writing the trace file clears the buffer. */
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	if (n < 0)
		return -errno;
	return (size_t)n == strlen(val) ? 0 : -EIO;
}

/* Whole file, NUL-terminated, malloc'ed; NULL on failure. */
static char *tfs_read(const char *file)
{
	size_t len = 0, cap = 65536;
	char path[256], *buf;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		if (cap - len < 4096) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0) {
			if (n < 0) {
				free(buf);
				buf = NULL;
			}
			break;
		}
		len += n;
	}
	close(fd);
	if (buf)
		buf[len] = '\0';
	return buf;
}

static int tfs_read_char(const char *file)
{
	char *s = tfs_read(file);
	int c;

	if (!s)
		return -1;
	c = s[0];
	free(s);
	return c;
}

FIXTURE(tp)
{
	struct ksm_knobs saved;
	bool ksm_set_up;
	int tracing_on;
	int enabled[ARRAY_SIZE(ksm_events)];
};

static void event_file(char *buf, size_t size, const char *event,
		       const char *file)
{
	snprintf(buf, size, "events/ksm/%s/%s", event, file);
}

FIXTURE_SETUP(tp)
{
	char f[128];
	size_t i;
	int err;

	self->ksm_set_up = false;
	self->tracing_on = -1;
	for (i = 0; i < ARRAY_SIZE(ksm_events); i++)
		self->enabled[i] = -1;
	if (!tracefs_present())
		SKIP(return, "no tracefs at %s", TRACEFS);
	if (!ksm_sysfs_present())
		SKIP(return, "no %s", KSM_SYSFS_DIR);
	self->tracing_on = tfs_read_char("tracing_on");
	for (i = 0; i < ARRAY_SIZE(ksm_events); i++) {
		event_file(f, sizeof(f), ksm_events[i].name, "enable");
		self->enabled[i] = tfs_read_char(f);
	}
	err = ksm_merge_setup(&self->saved);
	if (err && self->saved.nr)
		ksm_restore_knobs(&self->saved);
	ASSERT_EQ(0, err) TH_LOG("setting KSM up: %s", strerror(-err));
	self->ksm_set_up = true;
}

FIXTURE_TEARDOWN(tp)
{
	char f[128], v[2] = { 0 };
	size_t i;

	if (self->tracing_on >= 0) {
		tfs_write("tracing_on", "0");
		for (i = 0; i < ARRAY_SIZE(ksm_events); i++) {
			if (self->enabled[i] < 0)
				continue;
			event_file(f, sizeof(f), ksm_events[i].name, "enable");
			v[0] = self->enabled[i];
			tfs_write(f, v);
		}
		tfs_write("trace", "");
		v[0] = self->tracing_on;
		tfs_write("tracing_on", v);
	}
	if (self->ksm_set_up)
		EXPECT_EQ(0, ksm_merge_teardown(&self->saved));
}

/* Start tracing the ksm events only, from an empty buffer. */
static int trace_start(void)
{
	char f[128];
	size_t i;
	int err;

	err = tfs_write("tracing_on", "0");
	for (i = 0; !err && i < ARRAY_SIZE(ksm_events); i++) {
		event_file(f, sizeof(f), ksm_events[i].name, "enable");
		err = tfs_write(f, "1");
	}
	if (!err)
		err = tfs_write("trace", "");
	if (!err)
		err = tfs_write("tracing_on", "1");
	return err;
}

/* Stop tracing and return what was traced (malloc'ed) or NULL. */
static char *trace_stop(void)
{
	tfs_write("tracing_on", "0");
	return tfs_read("trace");
}

/*
 * Find the next line of @event in @trace starting at *@pos; returns the
 * text after "event: " (up to the end of line, copied into @out) and
 * advances *@pos, or false at the end.  @task, if not NULL, gets the
 * "comm-pid" the event was recorded in.
 */
static bool next_event(const char *trace, size_t *pos, const char *event,
		       char *out, size_t size, char *task, size_t tsize)
{
	char pat[64];
	const char *p = trace + *pos;

	snprintf(pat, sizeof(pat), " %s: ", event);
	for (; *p; ) {
		const char *eol = strchr(p, '\n');
		const char *hit, *t;
		size_t len;

		if (!eol)
			eol = p + strlen(p);
		hit = strstr(p, pat);
		if (hit && hit < eol && *p != '#') {
			hit += strlen(pat);
			len = eol - hit;
			if (len >= size)
				len = size - 1;
			memcpy(out, hit, len);
			out[len] = '\0';
			if (task) {
				for (t = p; *t == ' '; t++)
					;
				len = strcspn(t, " ");
				if (len >= tsize)
					len = tsize - 1;
				memcpy(task, t, len);
				task[len] = '\0';
			}
			*pos = (*eol ? eol + 1 : eol) - trace;
			return true;
		}
		p = *eol ? eol + 1 : eol;
	}
	*pos = p - trace;
	return false;
}

static int count_events(const char *trace, const char *event)
{
	char line[256];
	size_t pos = 0;
	int n = 0;

	while (next_event(trace, &pos, event, line, sizeof(line), NULL, 0))
		n++;
	return n;
}

/* Value of "key value" inside an event's text, as a string. */
static bool event_value(const char *text, const char *key, char *out,
			size_t size)
{
	char pat[64];
	const char *p;
	size_t len;

	snprintf(pat, sizeof(pat), "%s ", key);
	for (p = text; (p = strstr(p, pat)); p++) {
		if (p != text && p[-1] != ' ')
			continue;
		p += strlen(pat);
		len = strcspn(p, " ");
		if (len >= size)
			len = size - 1;
		memcpy(out, p, len);
		out[len] = '\0';
		return true;
	}
	return false;
}

static bool event_ulong(const char *text, const char *key, unsigned long *v)
{
	char buf[64], *end;

	if (!event_value(text, key, buf, sizeof(buf)))
		return false;
	errno = 0;
	*v = strtoul(buf, &end, 10);
	return !errno && end != buf && !*end;
}

static bool event_long(const char *text, const char *key, long *v)
{
	char buf[64], *end;

	if (!event_value(text, key, buf, sizeof(buf)))
		return false;
	errno = 0;
	*v = strtol(buf, &end, 10);
	return !errno && end != buf && !*end;
}

TEST_F(tp, events_exist)
{
	static const char * const files[] = { "enable", "format", "id",
					      "filter" };
	char f[128];
	size_t i, j;
	struct stat st;

	for (i = 0; i < ARRAY_SIZE(ksm_events); i++) {
		for (j = 0; j < ARRAY_SIZE(files); j++) {
			snprintf(f, sizeof(f), TRACEFS "/events/ksm/%s/%s",
				 ksm_events[i].name, files[j]);
			EXPECT_EQ(0, stat(f, &st)) TH_LOG("%s missing", f);
		}
	}
	/* The system enable switch covers exactly these. */
	EXPECT_EQ(0, stat(TRACEFS "/events/ksm/enable", &st));
}

/*
 * Parse "\tfield:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;" lines after the
 * common_* ones and the print fmt's quoted string.
 */
static void check_format(struct __test_metadata *_metadata,
			 const struct tp_event *ev)
{
	char f[128], decl[128];
	const char *p, *q;
	int off, size, sign, n, last_off = -1, nr = 0;
	char *fmt;

	event_file(f, sizeof(f), ev->name, "format");
	fmt = tfs_read(f);
	ASSERT_NE(NULL, fmt) TH_LOG("%s unreadable", f);
	snprintf(decl, sizeof(decl), "name: %s\n", ev->name);
	EXPECT_EQ(0, strncmp(fmt, decl, strlen(decl)));

	for (p = fmt; (p = strstr(p, "field:")); p = q) {
		const struct tp_field *want;
		size_t len;

		p += strlen("field:");
		q = strchr(p, ';');
		ASSERT_NE(NULL, q);
		len = q - p;
		ASSERT_GT(sizeof(decl), len);
		memcpy(decl, p, len);
		decl[len] = '\0';
		n = sscanf(q, "; offset:%d; size:%d; signed:%d;", &off, &size,
			   &sign);
		ASSERT_EQ(3, n) TH_LOG("%s: bad field line after '%s'",
				       ev->name, decl);
		if (strstr(decl, " common_"))
			continue;
		ASSERT_GT(ARRAY_SIZE(ev->fields), (size_t)nr)
			TH_LOG("%s: extra field '%s'", ev->name, decl);
		want = &ev->fields[nr++];
		ASSERT_NE(NULL, want->decl)
			TH_LOG("%s: extra field '%s'", ev->name, decl);
		EXPECT_STREQ(want->decl, decl)
			TH_LOG("%s field %d", ev->name, nr);
		EXPECT_EQ(want->size, size) TH_LOG("%s.%s", ev->name, decl);
		EXPECT_EQ(want->is_signed, sign)
			TH_LOG("%s.%s", ev->name, decl);
		/* Declared order is layout order. */
		EXPECT_LT(last_off, off) TH_LOG("%s.%s", ev->name, decl);
		last_off = off;
	}
	EXPECT_TRUE(nr == (int)ARRAY_SIZE(ev->fields) || !ev->fields[nr].decl)
		TH_LOG("%s: only %d fields", ev->name, nr);

	p = strstr(fmt, "print fmt: \"");
	ASSERT_NE(NULL, p) TH_LOG("%s: no print fmt", ev->name);
	p += strlen("print fmt: \"");
	q = strchr(p, '"');
	ASSERT_NE(NULL, q);
	EXPECT_EQ(strlen(ev->print_fmt), (size_t)(q - p));
	EXPECT_EQ(0, strncmp(ev->print_fmt, p, q - p))
		TH_LOG("%s: print fmt \"%.*s\"", ev->name, (int)(q - p), p);
	free(fmt);
}

TEST_F(tp, formats)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ksm_events); i++)
		check_format(_metadata, &ksm_events[i]);
}

#define NR_SAME		8

/*
 * The child: fill and advise NR_SAME identical pages of its own, report,
 * wait until told the pages merged, write to the first one (COW), wait,
 * exit.
 */
static void child_workload(char *area, uint64_t seed, int report, int go)
{
	size_t i;
	char c;

	prctl(PR_SET_NAME, CHILD_COMM);
	for (i = 0; i < NR_SAME; i++)
		fill_page_seeded(area + i * psize(), seed);
	if (madvise(area, NR_SAME * psize(), MADV_MERGEABLE))
		_exit(2);
	if (write(report, "a", 1) != 1 || read(go, &c, 1) != 1)
		_exit(3);
	/* COW: the first page gets a copy of its own. */
	area[0] ^= 1;
	if (write(report, "w", 1) != 1 || read(go, &c, 1) != 1)
		_exit(4);
	area[0] ^= 1;
	if (!page_has_seed(area, seed) ||
	    !page_has_seed(area + (NR_SAME - 1) * psize(), seed))
		_exit(5);
	_exit(0);
}

#define NR_KEEP		4

/*
 * Unique advised pages: ksmd stops counting full scans when no process
 * has advised memory left.
 */
static char *map_keep_advised(uint64_t seed)
{
	char *keep = map_private_anon(NR_KEEP);
	size_t i;

	if (!keep)
		return NULL;
	for (i = 0; i < NR_KEEP; i++)
		fill_page_seeded(keep + i * psize(), ~seed + i);
	if (madvise(keep, NR_KEEP * psize(), MADV_MERGEABLE)) {
		munmap(keep, NR_KEEP * psize());
		return NULL;
	}
	return keep;
}

/*
 * "comm-pid" of a trace line; comm may show as "<...>" once the task is
 * gone, the pid does not change.
 */
static bool task_is_pid(const char *task, const char *pid_sfx)
{
	size_t tl = strlen(task), sl = strlen(pid_sfx);

	return tl > sl && !strcmp(task + tl - sl, pid_sfx);
}

/* "mm VALUE" of an event text, the hashed pointer as printed. */
static bool event_mm(const char *text, char *mm, size_t size)
{
	return event_value(text, "mm", mm, size);
}

TEST_F_TIMEOUT(tp, merge_workload, 240)
{
	uint64_t seed = ksm_test_seed("tracepoints/merge");
	int report[2], go[2], status, merges = 0, ksm_merges = 0;
	char text[256], task[64], mm[64], emm[64], pid_sfx[32];
	unsigned long pfn, seq, prev_seq = 0, rmap_size;
	char *area, *keep, *trace, c;
	int64_t kpfn, cow_pfn;
	bool have_prev = false, found;
	size_t pos;
	pid_t pid;

	/* Filled by the child only: the parent's copy stays unpopulated. */
	area = map_private_anon(NR_SAME);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, pipe(report));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, trace_start());

	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(report[0]);
		close(go[1]);
		child_workload(area, seed, report[1], go[0]);
		_exit(1);
	}
	close(report[1]);
	close(go[0]);
	snprintf(pid_sfx, sizeof(pid_sfx), "-%d", pid);
	/* Keeps ksmd scanning once the child is gone. */
	keep = map_keep_advised(seed);
	ASSERT_NE(NULL, keep);

	ASSERT_EQ(1, read(report[0], &c, 1));
	kpfn = wait_common_pfn(pid, area, NR_SAME, MERGE_TIMEOUT_MS);
	ASSERT_LT(0, kpfn) TH_LOG("the child's pages did not merge");
	ASSERT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(1, read(report[0], &c, 1));
	cow_pfn = pagemap_pfn_pid(pid, area);
	EXPECT_LT(0, cow_pfn);
	EXPECT_NE(kpfn, cow_pfn);
	EXPECT_EQ(kpfn, common_pfn(pid, area + psize(), NR_SAME - 1));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("child failed: %#x", status);
	/* A few more scans, to see ksmd clean up after the exit. */
	EXPECT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	trace = trace_stop();
	ASSERT_NE(NULL, trace);

	/* ksm_enter from the child's madvise() gives us its mm. */
	pos = 0;
	found = false;
	while (next_event(trace, &pos, "ksm_enter", text, sizeof(text), task,
			  sizeof(task)))
		if (task_is_pid(task, pid_sfx) &&
		    event_mm(text, mm, sizeof(mm)))
			found = true;
	ASSERT_TRUE(found) TH_LOG("no ksm_enter from pid %d", pid);

	/* Scans: each start has its stop, sequence numbers count up by one. */
	pos = 0;
	while (next_event(trace, &pos, "ksm_stop_scan", text, sizeof(text),
			  NULL, 0)) {
		EXPECT_TRUE(event_ulong(text, "seq", &seq)) TH_LOG("%s", text);
		EXPECT_TRUE(event_ulong(text, "size", &rmap_size));
		if (have_prev)
			EXPECT_EQ(prev_seq + 1, seq);
		prev_seq = seq;
		have_prev = true;
	}
	EXPECT_LE(4, count_events(trace, "ksm_stop_scan"));
	EXPECT_LE(count_events(trace, "ksm_stop_scan"),
		  count_events(trace, "ksm_start_scan"));
	EXPECT_GE(count_events(trace, "ksm_stop_scan") + 1,
		  count_events(trace, "ksm_start_scan"));

	/* Every page of the child merged into the KSM page pagemap showed. */
	pos = 0;
	while (next_event(trace, &pos, "ksm_merge_with_ksm_page", text,
			  sizeof(text), NULL, 0)) {
		long err;

		if (!event_mm(text, emm, sizeof(emm)) || strcmp(emm, mm))
			continue;
		if (!event_long(text, "error", &err) || err)
			continue;
		ASSERT_TRUE(event_ulong(text, "pfn", &pfn)) TH_LOG("%s", text);
		EXPECT_EQ((unsigned long)kpfn, pfn) TH_LOG("%s", text);
		merges++;
		if (!strncmp(text, "ksm pfn ", 8))
			ksm_merges++;
	}
	EXPECT_LE(NR_SAME, merges);
	EXPECT_LE(NR_SAME - 1, ksm_merges);

	/* ksm_exit for the same mm. */
	pos = 0;
	found = false;
	while (next_event(trace, &pos, "ksm_exit", text, sizeof(text), NULL, 0))
		if (event_mm(text, emm, sizeof(emm)) && !strcmp(emm, mm))
			found = true;
	EXPECT_TRUE(found) TH_LOG("no ksm_exit for mm %s", mm);
	free(trace);
	munmap(area, NR_SAME * psize());
	munmap(keep, NR_KEEP * psize());
}

/*
 * A KSM page whose last user is gone is removed from the stable tree, at
 * the latest by run=2: ksm_remove_ksm_page with its PFN.
 */
TEST_F_TIMEOUT(tp, remove_ksm_page, 240)
{
	uint64_t seed = ksm_test_seed("tracepoints/remove");
	char text[256], *trace, *area, *keep;
	unsigned long pfn;
	bool found = false;
	int64_t kpfn;
	size_t pos, i;

	keep = map_keep_advised(seed);
	ASSERT_NE(NULL, keep);
	area = map_private_anon(NR_SAME);
	ASSERT_NE(NULL, area);
	for (i = 0; i < NR_SAME; i++)
		fill_page_seeded(area + i * psize(), seed);
	ASSERT_EQ(0, madvise(area, NR_SAME * psize(), MADV_MERGEABLE));
	kpfn = wait_common_pfn(0, area, NR_SAME, MERGE_TIMEOUT_MS);
	ASSERT_LT(0, kpfn);
	ASSERT_EQ(0, trace_start());
	ASSERT_EQ(0, munmap(area, NR_SAME * psize()));
	EXPECT_EQ(0, ksm_wait_full_scans(2, SCAN_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_write_str("run", "2"));
	trace = trace_stop();
	ASSERT_NE(NULL, trace);
	pos = 0;
	while (next_event(trace, &pos, "ksm_remove_ksm_page", text,
			  sizeof(text), NULL, 0))
		if (event_ulong(text, "pfn", &pfn) &&
		    pfn == (unsigned long)kpfn)
			found = true;
	EXPECT_TRUE(found) TH_LOG("no ksm_remove_ksm_page for pfn %lld",
				  (long long)kpfn);
	free(trace);
	munmap(keep, NR_KEEP * psize());
}

#define NR_ZERO		4

TEST_F_TIMEOUT(tp, merge_one_page_zero, 240)
{
	char text[256], *trace;
	int64_t zpfn;
	unsigned long pfn;
	int hits = 0;
	char *area;
	size_t pos, i;
	long err;

	zpfn = zero_page_pfn();
	ASSERT_LT(0, zpfn);
	ASSERT_EQ(0, ksm_write_str("use_zero_pages", "1"));
	area = map_private_anon(NR_ZERO);
	ASSERT_NE(NULL, area);
	/* Real pages that hold zeroes: written once, then cleared. */
	for (i = 0; i < NR_ZERO; i++) {
		memset(area + i * psize(), 0xff, psize());
		memset(area + i * psize(), 0, psize());
	}
	ASSERT_EQ(0, trace_start());
	ASSERT_EQ(0, madvise(area, NR_ZERO * psize(), MADV_MERGEABLE));
	ASSERT_EQ(zpfn, wait_common_pfn(0, area, NR_ZERO, MERGE_TIMEOUT_MS));
	trace = trace_stop();
	ASSERT_NE(NULL, trace);
	pos = 0;
	while (next_event(trace, &pos, "ksm_merge_one_page", text,
			  sizeof(text), NULL, 0)) {
		if (!event_ulong(text, "pfn", &pfn) ||
		    !event_long(text, "error", &err))
			continue;
		if (pfn == (unsigned long)zpfn && !err)
			hits++;
	}
	EXPECT_LE(NR_ZERO, hits) TH_LOG("%d ksm_merge_one_page to the zero page",
					hits);
	free(trace);
	munmap(area, NR_ZERO * psize());
}

/*
 * The advisor traces what it decided after each full scan: stopped with
 * run=0 (the advisor runs inside the scan), the last event's pages_to_scan
 * is what sysfs shows.
 */
TEST_F_TIMEOUT(tp, advisor, 240)
{
	uint64_t seed = ksm_test_seed("tracepoints/advisor");
	char text[256], last[256] = "", *trace;
	unsigned long pts, traced;
	long scan_time, cpu;
	int events = 0;
	char *area;
	size_t pos, i;

	area = map_private_anon(32);
	ASSERT_NE(NULL, area);
	for (i = 0; i < 32; i++)
		fill_page_seeded(area + i * psize(), seed + i);
	ASSERT_EQ(0, madvise(area, 32 * psize(), MADV_MERGEABLE));
	ASSERT_EQ(0, trace_start());
	ASSERT_EQ(0, ksm_write_str("advisor_mode", "scan-time"));
	EXPECT_EQ(0, ksm_wait_full_scans(3, SCAN_TIMEOUT_MS));
	ASSERT_EQ(0, ksm_write_str("run", "0"));
	trace = trace_stop();
	ASSERT_NE(NULL, trace);
	ASSERT_EQ(0, ksm_read_ulong("pages_to_scan", &pts));
	ksm_write_str("advisor_mode", "none");

	pos = 0;
	while (next_event(trace, &pos, "ksm_advisor", text, sizeof(text),
			  NULL, 0)) {
		events++;
		snprintf(last, sizeof(last), "%s", text);
		EXPECT_TRUE(event_long(text, "time", &scan_time))
			TH_LOG("%s", text);
		EXPECT_LE(1, scan_time);
		EXPECT_TRUE(event_long(text, "percent", &cpu));
		EXPECT_LE(1, cpu);
	}
	ASSERT_LE(2, events);
	ASSERT_TRUE(event_ulong(last, "pages_to_scan", &traced))
		TH_LOG("%s", last);
	EXPECT_EQ(pts, traced);
	free(trace);
	munmap(area, 32 * psize());
}

TEST_HARNESS_MAIN
