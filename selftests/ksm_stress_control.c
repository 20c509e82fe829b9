// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_stress_control.c - the knob controller of the integrity stress.
 *
 * While the workers change memory, this process changes the engine under
 * them: run 0/1/2, sleep_millisecs, pages_to_scan, use_zero_pages,
 * smart_scan, advisor_mode, max_page_sharing and merge_across_nodes (after
 * run = 2, which they need), offline and online of a movable memory block,
 * and, when given a module, rmmod and insmod of the engine itself.
 *
 * Each write must succeed or fail with the error upstream 6.12 returns in
 * that state (the EBUSY of max_page_sharing_store() while KSM pages exist,
 * the EINVAL of pages_to_scan_store() while the advisor runs, and so on);
 * anything else fails the run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ksm_stress.h"
#include "ksm_util.h"

#define MEMORY_DIR "/sys/devices/system/memory"

const char *const stress_knob_op_names[NR_STRESS_KNOB_OPS] = {
	[KOP_RUN] = "run=1",			[KOP_STOP] = "run=0",
	[KOP_UNMERGE_ALL] = "run=2",		[KOP_SLEEP] = "sleep_millisecs",
	[KOP_PAGES] = "pages_to_scan",		[KOP_ZERO_PAGES] = "use_zero_pages",
	[KOP_SMART_SCAN] = "smart_scan",	[KOP_ADVISOR] = "advisor_mode",
	[KOP_SHARING_LIMIT] = "max_page_sharing",
	[KOP_ACROSS_NODES] = "merge_across_nodes",
	[KOP_RELOAD] = "rmmod+insmod",		[KOP_OFFLINE] = "offline+online",
};

static const unsigned int knob_weight[NR_STRESS_KNOB_OPS] = {
	[KOP_RUN] = 10,		[KOP_STOP] = 2,		[KOP_UNMERGE_ALL] = 2,
	[KOP_SLEEP] = 4,	[KOP_PAGES] = 4,	[KOP_ZERO_PAGES] = 3,
	[KOP_SMART_SCAN] = 3,	[KOP_ADVISOR] = 2,	[KOP_SHARING_LIMIT] = 2,
	[KOP_ACROSS_NODES] = 1,	[KOP_RELOAD] = 1,	[KOP_OFFLINE] = 2,
};

struct controller {
	const struct stress_config *cfg;
	struct stress_shared *sh;
	uint64_t rng;
	bool scan_time;		/* advisor_mode is scan-time */
};

static __noreturn void
control_fail(struct controller *c, const char *knob, const char *val,
	     int err)
{
	__atomic_store_n(&c->sh->failed, 1, __ATOMIC_RELAXED);
	stress_fault_disarm(c->sh);
	printf("# FAIL controller: %s <- %s: %s, seed %#llx\n", knob, val,
	       strerror(-err), (unsigned long long)c->cfg->seed);
	fflush(stdout);
	_exit(1);
}

/*
 * Write @val to @knob for @op; an error in @ok (0-terminated) is counted
 * as refused, any other fails the run.  Returns the error.
 */
static int knob_write(struct controller *c, enum stress_knob_op op,
		      const char *knob, const char *val, const int *ok)
{
	int err = ksm_write_str(knob, val);

	if (c->cfg->verbose)
		printf("# control: %s <- %s: %d\n", knob, val, err);
	if (!err)
		return 0;
	for (; ok && *ok; ok++)
		if (err == -*ok) {
			stress_count(&c->sh->knob_refused[op], 1);
			return err;
		}
	control_fail(c, knob, val, err);
}

/* run = 2 may be cut short by a signal or run out of memory. */
static const int run2_ok[] = { EINTR, ENOMEM, EAGAIN, 0 };
static const int busy_ok[] = { EBUSY, 0 };

static void set_pages_to_scan(struct controller *c, const char *val)
{
	static const int advisor_on[] = { EINVAL, 0 };

	/* pages_to_scan_store(): -EINVAL unless the advisor is "none". */
	if (!knob_write(c, KOP_PAGES, "pages_to_scan", val,
			c->scan_time ? advisor_on : NULL) && c->scan_time)
		control_fail(c, "pages_to_scan", "(advisor on)", -EEXIST);
}

/* After run = 2, the knobs that need no KSM pages, then run = 1. */
static void change_unmerged_only(struct controller *c, enum stress_knob_op op)
{
	static const char *const limits[] = { "2", "3", "16", "256" };
	char val[8];

	if (knob_write(c, KOP_UNMERGE_ALL, "run", "2", run2_ok))
		return;
	if (op == KOP_SHARING_LIMIT) {
		knob_write(c, op, "max_page_sharing",
			   limits[stress_below(&c->rng, 4)], busy_ok);
	} else {
		snprintf(val, sizeof(val), "%d", (int)stress_below(&c->rng, 2));
		knob_write(c, op, "merge_across_nodes", val, busy_ok);
	}
	knob_write(c, KOP_RUN, "run", "1", NULL);
}

static bool module_loaded(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return access(path, F_OK) == 0;
}

static void module_insert(struct controller *c)
{
	int fd = open(c->cfg->module, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0 || syscall(SYS_finit_module, fd, "", 0))
		control_fail(c, "insmod", c->cfg->module, -errno);
	close(fd);
	if (c->cfg->fail_percent) {
		err = stress_fault_aim(c->cfg->module_name,
				       c->cfg->fail_percent);
		if (err)
			control_fail(c, "fault injection", "aim", err);
	}
	c->scan_time = false;
	knob_write(c, KOP_PAGES, "pages_to_scan", "1000", NULL);
	knob_write(c, KOP_SLEEP, "sleep_millisecs", "10", NULL);
	knob_write(c, KOP_RUN, "run", "1", NULL);
}

/*
 * rmmod after run = 2 (the module refuses while KSM pages exist), a pause
 * while the workers go on advising with no engine, insmod.
 */
static bool reload(struct controller *c)
{
	int tries, err = 0;

	if (!c->cfg->module)
		return false;
	for (tries = 0; tries < 20; tries++) {
		if (knob_write(c, KOP_UNMERGE_ALL, "run", "2", run2_ok))
			continue;
		stress_fault_disarm(c->sh);
		if (!syscall(SYS_delete_module, c->cfg->module_name,
			     O_NONBLOCK)) {
			err = 0;
			break;
		}
		err = -errno;
		if (err != -EBUSY && err != -EAGAIN)
			control_fail(c, "rmmod", c->cfg->module_name, err);
		usleep(100000);
	}
	if (err) {
		/* Still in use after 2 s: a merge in flight, say; not fatal. */
		stress_count(&c->sh->knob_refused[KOP_RELOAD], 1);
		if (c->cfg->fail_percent &&
		    stress_fault_aim(c->cfg->module_name, c->cfg->fail_percent))
			control_fail(c, "fault injection", "aim", -EIO);
		knob_write(c, KOP_RUN, "run", "1", NULL);
		return true;
	}
	usleep(stress_below(&c->rng, 300000));
	module_insert(c);
	stress_count(&c->sh->reloads, 1);
	return true;
}

/* A movable memory block that is online now, or -1. */
static int pick_movable_block(struct controller *c)
{
	int blocks[256], nr = 0, id;
	char path[128], buf[64];
	struct dirent *d;
	DIR *dir;

	dir = opendir(MEMORY_DIR);
	if (!dir)
		return -1;
	while ((d = readdir(dir)) && nr < 256) {
		if (sscanf(d->d_name, "memory%d", &id) != 1)
			continue;
		snprintf(path, sizeof(path), MEMORY_DIR "/memory%d/valid_zones",
			 id);
		if (file_read_str(path, buf, sizeof(buf)) ||
		    strcmp(buf, "Movable"))
			continue;
		snprintf(path, sizeof(path), MEMORY_DIR "/memory%d/state", id);
		if (!file_read_str(path, buf, sizeof(buf)) &&
		    !strcmp(buf, "online"))
			blocks[nr++] = id;
	}
	closedir(dir);
	return nr ? blocks[stress_below(&c->rng, nr)] : -1;
}

/*
 * Offline a movable block from a child that gets SIGKILL after 5 s (the
 * kernel keeps migrating until a signal arrives), then online it again.
 */
static bool offline_online(struct controller *c)
{
	int id = pick_movable_block(c), status, waited;
	char path[128], state[32];
	pid_t pid;

	if (id < 0)
		return false;
	snprintf(path, sizeof(path), MEMORY_DIR "/memory%d/state", id);
	pid = fork();
	if (pid == 0)
		_exit(file_write_str(path, "offline") ? 1 : 0);
	if (pid < 0)
		return false;
	for (waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited += 10) {
		if (waited == 5000)
			kill(pid, SIGKILL);
		usleep(10000);
	}
	if (file_read_str(path, state, sizeof(state)) == 0 &&
	    !strcmp(state, "offline")) {
		if (file_write_str(path, "online_movable"))
			control_fail(c, path, "online_movable", -errno);
	} else {
		stress_count(&c->sh->knob_refused[KOP_OFFLINE], 1);
	}
	return true;
}

static void do_knob_op(struct controller *c, enum stress_knob_op op)
{
	static const char *const sleeps[] = { "0", "1", "5", "20" };
	static const char *const pages[] = { "16", "100", "1000", "5000" };
	const char *bit = stress_below(&c->rng, 2) ? "1" : "0";

	switch (op) {
	case KOP_RUN:
		knob_write(c, op, "run", "1", NULL);
		break;
	case KOP_STOP:
		knob_write(c, op, "run", "0", NULL);
		break;
	case KOP_UNMERGE_ALL:
		knob_write(c, op, "run", "2", run2_ok);
		break;
	case KOP_SLEEP:
		knob_write(c, op, "sleep_millisecs",
			   sleeps[stress_below(&c->rng, 4)], NULL);
		break;
	case KOP_PAGES:
		set_pages_to_scan(c, pages[stress_below(&c->rng, 4)]);
		break;
	case KOP_ZERO_PAGES:
		knob_write(c, op, "use_zero_pages", bit, NULL);
		break;
	case KOP_SMART_SCAN:
		knob_write(c, op, "smart_scan", bit, NULL);
		break;
	case KOP_ADVISOR:
		c->scan_time = !c->scan_time;
		knob_write(c, op, "advisor_mode",
			   c->scan_time ? "scan-time" : "none", NULL);
		break;
	case KOP_ACROSS_NODES:
		if (!c->cfg->numa)
			return;
		change_unmerged_only(c, op);
		break;
	case KOP_SHARING_LIMIT:
		change_unmerged_only(c, op);
		break;
	case KOP_RELOAD:
		if (!reload(c))
			return;
		break;
	case KOP_OFFLINE:
		if (!offline_online(c))
			return;
		break;
	default:
		return;
	}
	stress_count(&c->sh->knob_ops[op], 1);
}

static void sample_sharing(struct controller *c)
{
	unsigned long sharing;

	if (ksm_read_ulong("pages_sharing", &sharing))
		return;
	if (sharing > __atomic_load_n(&c->sh->max_sharing, __ATOMIC_RELAXED))
		__atomic_store_n(&c->sh->max_sharing, sharing,
				 __ATOMIC_RELAXED);
}

int stress_controller(const struct stress_config *cfg,
		      struct stress_shared *sh)
{
	struct controller c = { .cfg = cfg, .sh = sh };
	enum stress_knob_op op;
	int err;

	c.rng = cfg->seed ^ 0xc0ffee;
	stress_next(&c.rng);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (cfg->fail_percent) {
		err = stress_fault_aim(cfg->module_name, cfg->fail_percent);
		if (err)
			control_fail(&c, "fault injection", "aim", err);
	}
	while (!stress_stopping(sh)) {
		usleep(20000 + stress_below(&c.rng, 280000));
		sample_sharing(&c);
		op = stress_pick(&c.rng, knob_weight, NR_STRESS_KNOB_OPS);
		do_knob_op(&c, op);
	}
	stress_fault_disarm(sh);
	/* Leave an engine behind for the final checks. */
	if (cfg->module && !module_loaded(cfg->module_name))
		module_insert(&c);
	stress_fault_disarm(sh);
	return 0;
}
