/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * CLOCK_MONOTONIC in nanoseconds: what every deadline, rate limit and
 * timeout in pvtimed is measured on (the guests' time is on the TSC).
 */
#ifndef PVTIMED_MONOTONIC_H
#define PVTIMED_MONOTONIC_H

#include <stdint.h>
#include <time.h>

#define NS_PER_MS	1000000ull
#define NS_PER_SEC	1000000000ull

static inline uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

#endif /* PVTIMED_MONOTONIC_H */
