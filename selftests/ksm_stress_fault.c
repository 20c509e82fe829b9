// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress_fault.c - allocation failures aimed at the module, for the
 * stress: failslab and fail_page_alloc fail @percent of the allocations
 * made with one of the module's functions on the stack (the stack-trace
 * filter, require-start/-end, set to the module's text as /proc/kallsyms
 * shows it), whoever makes them: ksmd, madvise, fork, exit.
 *
 * Each attribute's "times" starts at FAULT_TIMES and counts down with each
 * failure injected, so the difference is the number injected.  The range
 * moves when the module is loaded again: the controller disarms before
 * rmmod and aims again after insmod (init has its own test,
 * ksm_module_load).  Aim and disarm in the same process.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksm_stress.h"
#include "ksm_util.h"

#define DEBUGFS		"/sys/kernel/debug"
#define FAULT_TIMES	100000000UL

static const char *const fault_attrs[] = { "failslab", "fail_page_alloc" };

static bool armed;

static int attr_write(const char *attr, const char *file, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), DEBUGFS "/%s/%s", attr, file);
	return file_write_str(path, val);
}

static int attr_write_ulong(const char *attr, const char *file,
			    unsigned long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", val);
	return attr_write(attr, file, buf);
}

static long attr_times(const char *attr)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), DEBUGFS "/%s/times", attr);
	if (file_read_str(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 0);
}

/* Lowest and highest address of @module's text symbols in kallsyms. */
static int module_text(const char *module, unsigned long *start,
		       unsigned long *end)
{
	char line[512], sym[256], owner[128], want[140], type;
	unsigned long addr;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return -errno;
	snprintf(want, sizeof(want), "[%s]", module);
	*start = ULONG_MAX;
	*end = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %255s %127s", &addr, &type, sym,
			   owner) != 4 || strcmp(owner, want) ||
		    (type != 't' && type != 'T'))
			continue;
		if (addr < *start)
			*start = addr;
		if (addr > *end)
			*end = addr;
	}
	fclose(f);
	if (!*end || !*start)
		return -ENOENT;
	/* The last function's end is not listed: a page is more than it. */
	*end += 4096;
	return 0;
}

int stress_fault_aim(const char *module, unsigned int percent)
{
	unsigned long start, end;
	size_t i;
	int err;

	err = module_text(module, &start, &end);
	if (err)
		return err;
	for (i = 0; i < ARRAY_SIZE(fault_attrs); i++) {
		const char *a = fault_attrs[i];

		err = attr_write_ulong(a, "probability", 0);
		err = err ?: attr_write_ulong(a, "require-start", start);
		err = err ?: attr_write_ulong(a, "require-end", end);
		err = err ?: attr_write_ulong(a, "stacktrace-depth", 32);
		err = err ?: attr_write_ulong(a, "task-filter", 0);
		err = err ?: attr_write_ulong(a, "interval", 1);
		err = err ?: attr_write_ulong(a, "verbose", 0);
		err = err ?: attr_write_ulong(a, "times", FAULT_TIMES);
		err = err ?: attr_write(a, "ignore-gfp-wait", "N");
		if (!strcmp(a, "fail_page_alloc"))
			err = err ?: attr_write_ulong(a, "min-order", 0);
		err = err ?: attr_write_ulong(a, "probability", percent);
		if (err)
			return err;
	}
	armed = true;
	return 0;
}

/* Failures injected since the last aim. */
static unsigned long injected_now(void)
{
	unsigned long n = 0;
	size_t i;
	long t;

	for (i = 0; i < ARRAY_SIZE(fault_attrs); i++) {
		t = attr_times(fault_attrs[i]);
		if (t >= 0)
			n += FAULT_TIMES - (unsigned long)t;
	}
	return n;
}

/* Back to the defaults: nothing injected. */
void stress_fault_reset(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fault_attrs); i++) {
		const char *a = fault_attrs[i];

		attr_write_ulong(a, "probability", 0);
		attr_write_ulong(a, "require-start", 0);
		attr_write_ulong(a, "require-end", ULONG_MAX);
		attr_write_ulong(a, "times", 1);
		attr_write(a, "ignore-gfp-wait", "Y");
		attr_write_ulong(a, "verbose", 2);
		if (!strcmp(a, "fail_page_alloc"))
			attr_write_ulong(a, "min-order", 1);
	}
}

/* Stop injecting; what this aim injected goes to @sh->faults_injected. */
void stress_fault_disarm(struct stress_shared *sh)
{
	if (!armed)
		return;
	stress_count(&sh->faults_injected, injected_now());
	armed = false;
	stress_fault_reset();
}
