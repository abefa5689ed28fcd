/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * TSC rate refinement.  The startup calibration is short; afterwards the
 * TSC is measured again against CLOCK_MONOTONIC_RAW over growing baselines
 * (4 s, 16 s, 64 s, 256 s, 1024 s, 4096 s, then every 4096 s over the whole
 * run), each end a tight rdtsc-bracketed sample, so the error shrinks as
 * 1/baseline.  A refined rate that moved by more than
 * TSC_REFINE_APPLY_PPB is applied to every domain's records.
 */
#ifndef PVTIMED_TSC_REFINE_H
#define PVTIMED_TSC_REFINE_H

#include <stdbool.h>
#include <stdint.h>

#define TSC_REFINE_FIRST_S	4
#define TSC_REFINE_GROWTH	4
#define TSC_REFINE_LAST_S	4096
#define TSC_REFINE_APPLY_PPB	10	/* 0.01 ppm */
#define TSC_REFINE_TRIES	256	/* samples per end; the tightest wins */

/*
 * Take the reference sample and arm the first refinement.  apply, if not
 * NULL, is given each refined rate that moved by more than
 * TSC_REFINE_APPLY_PPB (main.c: every domain, when the host clock
 * follower does not set their rate).  0 or -errno.
 */
int tsc_refine_start(void (*apply)(uint64_t tsc_hz));
void tsc_refine_stop(void);

/*
 * Rate and its error from two samples: pure, for the tests.  Returns 0, or
 * -EINVAL if the clock or the TSC did not advance.
 */
struct timebase_pair;
int tsc_refine_estimate(const struct timebase_pair *start,
			const struct timebase_pair *end, uint64_t *hz,
			uint64_t *precision_hz);

#endif /* PVTIMED_TSC_REFINE_H */
