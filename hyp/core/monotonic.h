/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The host's clocks in nanoseconds.  CLOCK_MONOTONIC is what every
 * deadline, rate limit and timeout in pvtimed is measured on (the guests'
 * time is on the TSC); CLOCK_REALTIME only stamps what a save file or a
 * migration hands over.
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

/* For timing a path against the host's raw clock (the tests' time base). */
static inline int64_t monotonic_raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (int64_t)ts.tv_sec * (int64_t)NS_PER_SEC + ts.tv_nsec;
}

static inline int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * (int64_t)NS_PER_SEC + ts.tv_nsec;
}

/* A short wait between polls (an interrupted one just ends early). */
static inline void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * (long)NS_PER_MS };

	nanosleep(&ts, NULL);
}

#endif /* PVTIMED_MONOTONIC_H */
