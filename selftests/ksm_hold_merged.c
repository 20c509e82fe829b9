// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_hold_merged.c - a process that keeps mergeable memory for scripts.
 *
 * Owns nothing but a helper for ksm_module_cycle.sh: it maps pairs of
 * identical pages, advises them with MADV_MERGEABLE and then answers
 * commands, one per line on stdin, with one line on stdout:
 *
 *   wait-merged SECS  ->  "merged N"   (N pairs sharing a frame, waiting up
 *                                       to SECS for all of them to merge)
 *   count             ->  "shared N"   (pairs sharing a frame now)
 *   mg                ->  "mg 0|1"     (VMA flag in /proc/self/smaps)
 *   quit / EOF        ->  exit 0
 *
 * "Merged" is read from /proc/self/pagemap (both pages of a pair map the
 * same PFN), never from the engine's counters.  The knobs are the caller's.
 * Usage: ksm_hold_merged [PAIRS]   (default 32)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "ksm_util.h"

int main(int argc, char **argv)
{
	size_t pairs = argc > 1 ? strtoul(argv[1], NULL, 10) : 32;
	long psize = sysconf(_SC_PAGESIZE);
	char line[128];
	char *area;

	if (!pairs)
		pairs = 32;
	area = map_identical_pairs(pairs);
	if (!area) {
		perror("mmap");
		return 1;
	}
	if (madvise(area, 2 * pairs * psize, MADV_MERGEABLE)) {
		perror("madvise");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %zu\n", pairs);

	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "wait-merged", 11)) {
			uint64_t deadline = now_ms() +
					    1000 * strtoul(line + 11, NULL, 10);
			long n;

			for (;;) {
				n = count_shared_pairs(area, pairs);
				if (n < 0 || (size_t)n == pairs ||
				    now_ms() >= deadline)
					break;
				usleep(20000);
			}
			printf("merged %ld\n", n);
		} else if (!strncmp(line, "count", 5)) {
			printf("shared %ld\n", count_shared_pairs(area, pairs));
		} else if (!strncmp(line, "mg", 2)) {
			printf("mg %d\n", vma_has_flag(0, area, "mg"));
		} else if (strncmp(line, "quit", 4)) {
			printf("error unknown command\n");
		} else {
			break;
		}
	}
	return 0;
}
