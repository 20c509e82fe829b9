// SPDX-License-Identifier: GPL-2.0
/*
 * metadata.c - the memory the engine holds for its bookkeeping, measured
 * from the outside: its slab caches (/proc/slabinfo), its vmalloc areas
 * (/proc/vmallocinfo), and its large kmalloc allocations, which show in
 * neither and are traced through tracefs.  Documentation/bench.md,
 * "Metadata per tracked page", says what counts.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksm_bench.h"

/*
 * Large kmalloc allocations (a hash table that got physically contiguous
 * pages) show in neither slabinfo nor vmallocinfo.  They are traced:
 * kmem:kmalloc events of at least a page, each with a stack trace, and
 * kmem:kfree events of page-aligned pointers.  An allocation is the
 * engine's when a function of its stack has "ksm" in its name; it is live
 * until a kfree of the same pointer.  Tracing starts before the module is
 * loaded and ends at the snapshot of the first workload that asks for it.
 */
static bool trace_on;
static char trace_saved_size[32];

static int trace_write(const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), TRACE_DIR "%s", file);
	return write_file(path, val);
}

void trace_start(void)
{
	if (read_file(TRACE_DIR "buffer_size_kb", trace_saved_size,
		      sizeof(trace_saved_size))) {
		note("no tracefs: large kmalloc metadata not measured");
		return;
	}
	trace_write("tracing_on", "0");
	trace_write("trace", "");
	if (trace_write("buffer_size_kb", "8192") ||
	    trace_write("events/kmem/kmalloc/filter", "bytes_alloc >= 4096") ||
	    trace_write("events/kmem/kmalloc/trigger",
			"stacktrace if bytes_alloc >= 4096") ||
	    (trace_write("events/kmem/kfree/filter",
			 "ptr != 0 && !(ptr & 4095)") &&
	     trace_write("events/kmem/kfree/filter",
			 "call_site.function == kvfree")) ||
	    trace_write("events/kmem/kmalloc/enable", "1") ||
	    trace_write("events/kmem/kfree/enable", "1") ||
	    trace_write("tracing_on", "1")) {
		note("cannot set up kmem tracing: large kmalloc metadata not measured");
		return;
	}
	if (verbose) {
		char f[128];

		if (!read_file(TRACE_DIR "events/kmem/kfree/filter", f, sizeof(f)))
			note("  kfree filter: %s", f);
	}
	trace_on = true;
}

void trace_stop(void)
{
	if (!trace_on)
		return;
	trace_write("tracing_on", "0");
	trace_write("events/kmem/kmalloc/enable", "0");
	trace_write("events/kmem/kfree/enable", "0");
	trace_write("events/kmem/kmalloc/trigger",
		    "!stacktrace if bytes_alloc >= 4096");
	trace_write("events/kmem/kmalloc/filter", "0");
	trace_write("events/kmem/kfree/filter", "0");
	trace_write("trace", "");
	trace_write("buffer_size_kb", trace_saved_size);
	trace_on = false;
}

struct kevent {
	double ts;
	bool alloc, ksm;
	char ptr[24];
	char frame[80];	/* the first engine frame, for --verbose */
	unsigned long bytes;
};

static struct kevent *kevents;
static size_t nkevents, capkevents;

static struct kevent *kevent_add(void)
{
	if (nkevents == capkevents) {
		capkevents = capkevents ? 2 * capkevents : 1024;
		kevents = realloc(kevents, capkevents * sizeof(*kevents));
		if (!kevents)
			die("realloc");
	}
	memset(&kevents[nkevents], 0, sizeof(*kevents));
	return &kevents[nkevents++];
}

/* The timestamp in front of ": <event>:" on a trace line. */
static double trace_ts(const char *line, const char *at)
{
	const char *p = at;

	while (p > line && p[-1] != ' ')
		p--;
	return strtod(p, NULL);
}

static void trace_parse_cpu(const char *path)
{
	struct kevent *last = NULL;
	char *buf = slurp(path), *line, *next, *at, *p;

	if (!buf)
		return;
	for (line = buf; *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		if (!strncmp(line, " => ", 4)) {
			/* A frame of the last kmalloc's stack trace. */
			if (last && !last->ksm && strstr(line, "ksm")) {
				last->ksm = true;
				snprintf(last->frame, sizeof(last->frame), "%s",
					 line + 4);
			}
			continue;
		}
		if (strstr(line, ": <stack trace>"))
			continue;
		last = NULL;
		at = strstr(line, ": kmalloc: ");
		if (!at)
			at = strstr(line, ": kfree: ");
		if (!at)
			continue;
		p = strstr(at, " ptr=");
		if (!p)
			continue;
		last = kevent_add();
		last->ts = trace_ts(line, at);
		last->alloc = !strncmp(at, ": kmalloc: ", 11);
		if (sscanf(p + 5, "%23s", last->ptr) != 1)
			last->ptr[0] = 0;
		p = strstr(at, " bytes_alloc=");
		if (p)
			last->bytes = strtoul(p + 13, NULL, 10);
		if (!last->alloc)
			last = NULL;
	}
	free(buf);
}

static int kevent_cmp(const void *a, const void *b)
{
	const struct kevent *x = a, *y = b;

	return (x->ts > y->ts) - (x->ts < y->ts);
}

static long trace_overruns(void)
{
	char path[128], *buf, *p;
	long total = 0;
	int cpu;

	for (cpu = 0; ; cpu++) {
		snprintf(path, sizeof(path), TRACE_DIR "per_cpu/cpu%d/stats", cpu);
		buf = slurp(path);
		if (!buf)
			break;
		p = strstr(buf, "overrun:");
		if (p)
			total += strtol(p + 8, NULL, 10);
		free(buf);
	}
	return total;
}

/* Bytes of live large kmallocs made under an engine function, or -1. */
static long trace_kmalloc_bytes(void)
{
	static struct kevent *livev[4096];
	size_t i, k, nlive = 0;
	char path[128];
	long live = 0;
	int cpu;

	if (!trace_on)
		return -1;
	trace_write("tracing_on", "0");
	if (trace_overruns()) {
		note("warning: trace buffer overran: kmalloc metadata unknown");
		return -1;
	}
	nkevents = 0;
	for (cpu = 0; ; cpu++) {
		snprintf(path, sizeof(path), TRACE_DIR "per_cpu/cpu%d/trace", cpu);
		if (access(path, R_OK))
			break;
		trace_parse_cpu(path);
	}
	qsort(kevents, nkevents, sizeof(*kevents), kevent_cmp);
	if (verbose)
		note("  %zu kmalloc/kfree events traced", nkevents);
	/*
	 * Replay.  A large kmalloc is traced twice (by the large-allocation
	 * path and by its caller), so an allocation of a pointer already
	 * live is the same allocation; a kfree ends it.
	 */
	for (i = 0; i < nkevents; i++) {
		struct kevent *e = &kevents[i];

		for (k = 0; k < nlive; k++)
			if (!strcmp(livev[k]->ptr, e->ptr))
				break;
		if (!e->alloc) {
			if (k < nlive)
				livev[k] = livev[--nlive];
			continue;
		}
		if (k < nlive || !e->ksm || !strcmp(e->ptr, "0000000000000000"))
			continue;
		if (nlive == ARRAY_SIZE(livev)) {
			note("warning: too many engine allocations traced");
			return -1;
		}
		livev[nlive++] = e;
	}
	for (k = 0; k < nlive; k++) {
		live += livev[k]->bytes;
		if (verbose)
			note("  live: %lu bytes from %s", livev[k]->bytes,
			     livev[k]->frame);
	}
	return live;
}

/*
 * The engine's metadata now, into @j and *@m: slab caches with "ksm" in
 * their name, vmalloc areas of a caller with "ksm" in its name, and the
 * traced large kmallocs still live; tracing stops here.
 */
void meta_snapshot(struct json *j, struct meta *m)
{
	long active, objs, objsize, perslab, pages, slabs;
	char name[64], *buf, *line, *next, *p;
	unsigned long lo, hi;

	memset(m, 0, sizeof(*m));
	json_open(j, "caches", '{');
	buf = slurp("/proc/slabinfo");
	for (line = buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		if (sscanf(line,
			   "%63s %ld %ld %ld %ld %ld : tunables %*d %*d %*d : slabdata %*d %ld",
			   name, &active, &objs, &objsize, &perslab, &pages,
			   &slabs) != 7 || !strstr(name, "ksm"))
			continue;
		m->slab_bytes += slabs * pages * page_size;
		m->obj_bytes += active * objsize;
		json_open(j, name, '{');
		json_int(j, "active_objs", active);
		json_int(j, "objsize", objsize);
		json_int(j, "slab_bytes", slabs * pages * page_size);
		json_close(j, '}');
	}
	free(buf);
	json_close(j, '}');

	/* "start-end size caller ... pages=N ...": the caller names the engine. */
	buf = slurp("/proc/vmallocinfo");
	for (line = buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		if (!strstr(line, "ksm"))
			continue;
		p = strstr(line, " pages=");
		if (p)
			m->vmalloc_bytes += strtol(p + 7, NULL, 10) * page_size;
		else if (sscanf(line, "0x%lx-0x%lx", &lo, &hi) == 2)
			m->vmalloc_bytes += hi - lo - page_size;
	}
	free(buf);
	if (verbose)
		note("  slab and vmalloc read");
	m->kmalloc_bytes = trace_kmalloc_bytes();
	trace_stop();
	json_int(j, "slab_bytes", m->slab_bytes);
	json_int(j, "slab_obj_bytes", m->obj_bytes);
	json_int(j, "vmalloc_bytes", m->vmalloc_bytes);
	json_int(j, "kmalloc_bytes", m->kmalloc_bytes);

	/*
	 * ksm_mod's own account of its hash tables, a cross-check of the
	 * traced kmalloc and vmalloc bytes; not part of the metric.
	 */
	buf = slurp("/sys/kernel/debug/ksm_mod/table_bytes");
	if (buf) {
		long unstable, stable;

		if (sscanf(buf, "unstable %ld stable %ld", &unstable,
			   &stable) == 2)
			json_int(j, "engine_table_bytes", unstable + stable);
		free(buf);
	}
}
