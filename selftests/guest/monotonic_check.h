/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Cross-CPU CLOCK_MONOTONIC check: one thread pinned to each CPU the
 * process may run on; all of them compare their reading against the
 * latest reading any thread published, through one shared atomic.  A
 * reading taken after another thread's published one must not be smaller.
 */
#ifndef PVTIME_MONOTONIC_CHECK_H
#define PVTIME_MONOTONIC_CHECK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MONOTONIC_CHECK_MAX_CPUS	64

struct monotonic_result {
	uint64_t samples;
	uint64_t backsteps;		/* readings below an earlier one */
	uint64_t worst_backstep_ns;
	unsigned int threads;
};

struct monotonic_worker;

struct monotonic_check {
	_Atomic uint64_t latest_ns;
	atomic_bool stop;
	unsigned int nr_workers;
	struct monotonic_worker *workers;
};

/* Start the threads.  Returns 0 or -errno (message on stderr). */
int monotonic_check_start(struct monotonic_check *mc);
/* Stop them and sum their findings into res. */
void monotonic_check_stop(struct monotonic_check *mc,
			  struct monotonic_result *res);

uint64_t monotonic_check_now_ns(void);

#endif /* PVTIME_MONOTONIC_CHECK_H */
