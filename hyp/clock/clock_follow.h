/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Following the host's NTP-disciplined clock (issue 7, item 1).
 *
 * The records map host TSC to system time.  Run at the TSC's raw rate
 * (CLOCK_MONOTONIC_RAW, what kvmclock does), a guest's CLOCK_REALTIME
 * drifts from the host's by whatever frequency and offset the host's NTP
 * applies, and can only catch up by stepping.  Followed, the records run
 * at host CLOCK_MONOTONIC's rate, which carries every NTP frequency and
 * offset slew (CLOCK_REALTIME is CLOCK_MONOTONIC plus an offset that moves
 * only when the host steps).  The guest then needs no step while the host
 * slews, and wc changes only when the host steps.
 *
 * This is the arithmetic, free of clock reads: given tight (TSC,
 * CLOCK_MONOTONIC) samples and what adjtimex(2) says of the kernel's
 * frequency, it keeps a model of CLOCK_MONOTONIC over host TSC and says
 * when the rate the domains run at must change:
 *
 *   - a frequency change the kernel announces (freq, tick) is applied at
 *     once, scaled exactly as the kernel scales its tick length;
 *   - the rate itself is measured (least squares since the last change),
 *     so the nominal rate's rounding and the kernel's own tick rounding
 *     do not accumulate;
 *   - the phase is kept: the model's time is compared with
 *     CLOCK_MONOTONIC at every sample, and an error over
 *     CLOCK_FOLLOW_DEADBAND_NS is trimmed away over CLOCK_FOLLOW_HORIZON_NS
 *     by running slightly fast or slow (never a step).
 *
 * Every rate change costs the guests their raw-TSC fast path for a moment
 * (records.h: RECORDS_RATE_HOLD_NS), so small differences are left alone.
 */
#ifndef PVTIMED_CLOCK_FOLLOW_H
#define PVTIMED_CLOCK_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "clock/time_function.h"

/*
 * Phase errors up to this are left alone: several sampling widths, so that
 * a quiet host's noise starts no trim.  Each trim is two rate changes, and
 * each costs every guest two clocksource switches (with 60 ns a quiet host
 * made one every 40 s, enough to upset the kernel's timers/freq-step).
 */
#define CLOCK_FOLLOW_DEADBAND_NS	150
/* A larger error is trimmed away over about this long. */
#define CLOCK_FOLLOW_HORIZON_NS		1000000000ll
/* The trim never runs the records further off the host's rate than this. */
#define CLOCK_FOLLOW_MAX_TRIM_PPM	100
/* A measured rate this far (ppb) from the applied one is applied. */
#define CLOCK_FOLLOW_RATE_PPB		10
/*
 * Least-squares rate only once its samples span this long: at the start;
 * after a change the kernel announced (its scaled rate is better than a
 * short fit); after an unannounced one (the old rate is no good at all).
 */
#define CLOCK_FOLLOW_MIN_BASELINE_NS	250000000ll
#define CLOCK_FOLLOW_KERNEL_BASELINE_NS	2000000000ll
#define CLOCK_FOLLOW_BREAK_BASELINE_NS	10000000ll
/*
 * A sample this far off the fitted line means the host's rate changed
 * unannounced (an NTP offset slew in the kernel's PLL, adjtime(3)): the
 * fit starts again.
 */
#define CLOCK_FOLLOW_BREAK_NS		200
/* Rate changes (other than the kernel's own) at most this often... */
#define CLOCK_FOLLOW_MIN_INTERVAL_NS	100000000ll
/* ...unless the rate is this far off (ppm). */
#define CLOCK_FOLLOW_URGENT_PPM		5
/* Samples wider than this (pvtimed preempted) are not used. */
#define CLOCK_FOLLOW_MAX_WIDTH_NS	2000

/*
 * What adjtimex(2) says of CLOCK_MONOTONIC's rate against the raw one.
 * Besides the frequency and tick, the kernel adds two slews, both
 * readable: the PLL's share of its remaining offset each second
 * (offset / 2^(SHIFT_PLL + constant), SHIFT_PLL = 2, with STA_PLL), and
 * adjtime(3)'s remaining offset at up to 500 ppm (MAX_TICKADJ).
 */
struct kernel_rate {
	long freq;		/* timex.freq: ppm with a 16-bit fraction */
	long tick;		/* timex.tick: us per USER_HZ tick (10000 nominal) */
	long pll_ppb;		/* the PLL's offset slew now, ns per second */
	long adjtime_ppm;	/* adjtime(3)'s slew now: 0 or +-500 */
};

#define KERNEL_PLL_SHIFT	2	/* the kernel's SHIFT_PLL */
#define KERNEL_ADJTIME_PPM	500	/* the kernel's MAX_TICKADJ, us/s */

/*
 * The kernel_rate from adjtimex's fields: status (STA_*), offset (ns with
 * STA_NANO, else us), constant, and adjtime()'s slew now (adjtime_model).
 */
void kernel_rate_from_timex(struct kernel_rate *k, long freq, long tick,
			    int status, long offset, long constant,
			    long adjtime_ppm);

/*
 * adjtime(3)'s slew.  At each second boundary of CLOCK_REALTIME the kernel
 * takes up to 500 us off what is left and slews that much over the next
 * second; adjtimex(ADJ_OFFSET_SS_READ) shows what is left after it.  The
 * kernel's tick that handles a boundary comes one or two ticks after it
 * (which one depends on where its accumulation stands: 0-8 ms at HZ 250,
 * up to 20 ms at HZ 100), so:
 *
 *   - a start or a new share shows at that tick, as less left: the slew
 *     now is the last decrease seen (a new adjtime() starts at the next
 *     boundary, not at once);
 *   - the end shows in no field (the boundary after the last share takes
 *     nothing), so it is measured: the caller passes the follower's phase
 *     error at each sample, which holds still while the records run at the
 *     slewed rate and moves at the slew's rate, in its direction, once the
 *     kernel stops.  The error must have moved KERNEL_ADJTIME_END_NS past
 *     both samples' uncertainty; with no such evidence by
 *     KERNEL_ADJTIME_END_DEADLINE_NS after the boundary (every sample
 *     preempted, or a share too small to show) the slew is taken as over.
 *
 * Both changes are at ticks the follower cannot predict, so around the
 * boundaries of a slew it samples every KERNEL_ADJTIME_WATCH_PERIOD_NS
 * (adjtime_model_watching): a late look at a 500 ppm change costs 0.5 ns
 * of guest time per microsecond.
 */
struct adjtime_model {
	long last_left_us;
	long rate_ppm;
	int64_t change_sec;	/* CLOCK_REALTIME second of the last change */
	/* The phase error before the boundary that ends the slew. */
	int64_t end_ref_error_ns;
	int64_t end_ref_uncertainty_ns;
	bool end_ref_valid;
	/* For pvxl info and the tests: how each slew's end was found. */
	uint64_t ends_measured, ends_by_deadline;
	/* ...and how often the guests' fast path was held off ahead of a
	 * change (host_clock_follow.c). */
	uint64_t fastpath_holds;
};

/* One look at the kernel: what is left, when, and the follower's error then. */
struct adjtime_observation {
	long left_us;			/* adjtimex(ADJ_OFFSET_SS_READ).offset */
	int64_t realtime_ns;		/* CLOCK_REALTIME at the look */
	int64_t error_ns;		/* clock_follow_error() at a sample taken with it */
	int64_t uncertainty_ns;		/* half the sample's bracket; < 0: no usable sample */
};

#define KERNEL_ADJTIME_END_NS			50
#define KERNEL_ADJTIME_END_DEADLINE_NS		25000000
#define KERNEL_ADJTIME_WATCH_LEAD_NS		1000000
#define KERNEL_ADJTIME_WATCH_PERIOD_NS		250000
/* Samples with a wider bracket (ns) are no evidence of the end. */
#define KERNEL_ADJTIME_MAX_UNCERTAINTY_NS	250

/* The slew (ppm) now, from one look at the kernel. */
long adjtime_model_update(struct adjtime_model *m,
			  const struct adjtime_observation *o);

/*
 * The host's clock was stepped: the kernel's step (settimeofday,
 * ADJ_SETOFFSET) clears what is left of adjtime() and its slew at once
 * (ntp_clear()), so the slew is over now, not at the next boundary.
 */
void adjtime_model_host_stepped(struct adjtime_model *m, int64_t realtime_ns);

/*
 * True while a change of the slew is due and not seen yet: from
 * KERNEL_ADJTIME_WATCH_LEAD_NS before each boundary of a slew until its
 * change shows (or the deadline passes).  The caller samples densely then.
 */
bool adjtime_model_watching(const struct adjtime_model *m, int64_t realtime_ns);

/*
 * The boundary (CLOCK_REALTIME ns) at which adjtime() next changes the
 * rate, or -1 if it will not: a start, a share unlike the running one (the
 * last, partial share) or the end.  A change due at the boundary just
 * passed and not seen yet is still ahead.  What is left now decides it, so
 * an adjtime() call between now and the boundary can still move it.
 */
int64_t adjtime_model_next_change(const struct adjtime_model *m,
				  int64_t realtime_ns);

/* CLOCK_MONOTONIC's rate over CLOCK_MONOTONIC_RAW's, as the kernel sets it. */
double kernel_rate_factor(const struct kernel_rate *k);

struct follow_sample {
	uint64_t tsc;		/* host TSC, the midpoint of the bracket */
	int64_t mono_ns;	/* host CLOCK_MONOTONIC */
	uint64_t width;		/* bracket, TSC cycles */
};

/* A running least-squares fit of CLOCK_MONOTONIC against the TSC. */
struct follow_fit {
	uint64_t tsc0;		/* origin, so the sums stay small */
	int64_t mono0;
	double n, sx, sy, sxx, sxy;
	int64_t last_mono;
	int64_t min_baseline_ns;	/* before its rate is used */
};

struct clock_follow {
	uint64_t nominal_hz;	/* the raw TSC rate, for ns <-> cycles */
	uint64_t applied_hz;	/* cycles per CLOCK_MONOTONIC second, as applied */
	/*
	 * The function the domains' references run at: same mul/shift, same
	 * re-anchors.  mono = fn + base_ns is the target.
	 */
	struct time_function fn;
	int64_t base_ns;
	double est_hz;		/* best estimate of the host's rate */
	struct follow_fit fit;
	struct kernel_rate kernel;
	bool trimming;
	int64_t trim_error_ns;	/* the error the trim was set for */
	uint64_t last_change_tsc;

	/* For pvxl info and the tests. */
	int64_t last_error_ns;
	int64_t max_abs_error_ns;	/* since the last kernel change settled */
	uint64_t samples, wide_samples;
	uint64_t rate_changes, kernel_changes, trims, breaks;
};

/*
 * Start following from one sample: the model starts at the sample with
 * the raw rate nominal_hz scaled by the kernel's factor.  0 or -EINVAL.
 */
int clock_follow_init(struct clock_follow *cf, uint64_t nominal_hz,
		      const struct kernel_rate *k, const struct follow_sample *s);

/*
 * One sample and the kernel's rate at that moment.  Returns true when
 * applied_hz changed at s->tsc: the caller gives every domain the new
 * rate (re-anchored at about the same TSC).
 */
bool clock_follow_step(struct clock_follow *cf, const struct follow_sample *s,
		       const struct kernel_rate *k);

/* The model's phase error at a sample: fn - (mono - base), ns. */
int64_t clock_follow_error(const struct clock_follow *cf,
			   const struct follow_sample *s);

#endif /* PVTIMED_CLOCK_FOLLOW_H */
