/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The host timebase: the TSC frequency measured against CLOCK_MONOTONIC_RAW,
 * and (TSC, clock) pairs sampled as tightly as the host allows.
 */
#ifndef PVTIMED_TIMEBASE_H
#define PVTIMED_TIMEBASE_H

#include <stdint.h>
#include <time.h>

struct timebase {
	uint64_t tsc_hz;
	uint64_t precision_hz;		/* +- on tsc_hz from sampling error */
	double precision_ppm;
	unsigned int calibrate_ms;	/* requested */
	uint64_t calibration_ns;	/* measured duration */
	uint64_t baseline_ns;		/* of the current estimate */
	unsigned int refinements;	/* tsc_refine.c estimates taken */
};

struct timebase_pair {
	uint64_t tsc;		/* midpoint of the two reads bracketing the clock */
	int64_t clock_ns;
	uint64_t width;		/* TSC cycles between the bracketing reads */
};

/*
 * Measure the TSC frequency over calibrate_ms.  Returns 0, or -errno with
 * the reason logged.
 */
int timebase_calibrate(struct timebase *tb, unsigned int calibrate_ms);

/* The process-wide timebase measured at startup. */
const struct timebase *timebase_get(void);
void timebase_set(const struct timebase *tb);

/* Tightest of a few (rdtsc, clock_gettime(clock), rdtsc) samples. */
struct timebase_pair timebase_sample(clockid_t clock);
/* Same with a chosen number of tries (>= 1), for latency-bound callers. */
struct timebase_pair timebase_sample_n(clockid_t clock, unsigned int tries);

uint64_t timebase_rdtsc(void);

/* Cycles in ns at the calibrated rate (for reporting round trips). */
uint64_t timebase_cycles_to_ns(uint64_t cycles);

#endif /* PVTIMED_TIMEBASE_H */
