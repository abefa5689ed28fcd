/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest-vs-host clock rate from pvtime's realtime_probe (debugfs): each
 * read is one mailbox exchange bracketing the host's CLOCK_MONOTONIC_RAW
 * and the domain's wall time with the guest's own clocks.  A straight
 * line fitted to (guest - host) offset over host time has the guest
 * clock's rate error as its slope.
 */
#ifndef PVTIME_RATE_PROBE_H
#define PVTIME_RATE_PROBE_H

#include <stddef.h>
#include <stdint.h>

#define REALTIME_PROBE_PATH	"/sys/kernel/debug/pvtime/realtime_probe"

struct rate_sample {
	int64_t host_raw_ns;		/* host CLOCK_MONOTONIC_RAW */
	int64_t raw_offset_ns;		/* guest - host CLOCK_MONOTONIC_RAW */
	int64_t realtime_offset_ns;	/* guest CLOCK_REALTIME - hyp wall */
	int64_t rtt_ns;
};

/* One realtime_probe read.  0 or -errno (message on stderr). */
int rate_sample_take(struct rate_sample *s);

struct line_fit {
	double slope;		/* y per x */
	double slope_err;	/* standard error of the slope */
	double mean_y;
};

/* Least squares y = a + b x over n points (n >= 3).  0 or -EINVAL. */
int line_fit(const double *x, const double *y, size_t n, struct line_fit *fit);

struct rate_result {
	size_t samples;
	size_t failed_samples;		/* probes that got no answer (skipped) */
	size_t slow_samples;		/* answered, but round trip too long: not fitted */
	double duration_s;		/* host time covered */
	double raw_ppm, raw_ppm_err;	/* CLOCK_MONOTONIC_RAW vs host raw */
	double realtime_ppm, realtime_ppm_err;	/* REALTIME vs hyp wall */
	double raw_offset_mean_ns;
	double realtime_offset_mean_ns;
	double rtt_median_ns;
};

/*
 * Sample every interval_ms for duration_s seconds and fit both clocks.
 * A probe that fails (a busy host missed it) is skipped and counted; more
 * than RATE_MAX_FAILED_PERCENT of them, or fewer than 3 samples, is an
 * error.  0, or -errno.
 */
#define RATE_MAX_FAILED_PERCENT	10
/* Probes slower than this times the median round trip are not fitted. */
#define RATE_SLOW_RTT_FACTOR	2.0
int rate_measure(double duration_s, unsigned int interval_ms,
		 struct rate_result *res);

#endif /* PVTIME_RATE_PROBE_H */
