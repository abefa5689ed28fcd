/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest memory intact across a stop, save or migration: one thread walks
 * a buffer page by page, pass after pass, and writes each page's pass
 * number into it, first checking that the page still holds the number it
 * wrote there one pass before.  A write the hypervisor lost (a page its
 * migration did not send again after the guest changed it) shows as an
 * older number when the walk next comes by.  The thread is not pinned:
 * it shares the vCPUs with whatever else the test runs.
 */
#ifndef PVTIME_MEMORY_CHECK_H
#define PVTIME_MEMORY_CHECK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct memory_result {
	uint64_t passes;	/* complete walks of the buffer */
	uint64_t lost_pages;	/* found holding an older pass's number */
	uint64_t first_lost_page;	/* index of the first one */
	uint64_t first_lost_found;	/* the number it held */
	uint64_t first_lost_want;	/* the number written there */
	size_t pages;
};

struct memory_check {
	pthread_t thread;
	atomic_bool stop;
	_Atomic uint64_t passes;
	struct memory_result found;	/* the walker's; read once it stopped */
	volatile uint64_t *buf;
	size_t pages, page_words;
};

/* Map pages pages and start the walker: 0 or -errno (said on stdout). */
int memory_check_start(struct memory_check *mc, size_t pages);
/* Complete walks so far. */
uint64_t memory_check_passes(struct memory_check *mc);
/* Stop the walker, unmap, and say what it found in res. */
void memory_check_stop(struct memory_check *mc, struct memory_result *res);

#endif /* PVTIME_MEMORY_CHECK_H */
