/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A domain's time function: the map from host TSC to system time that its
 * records encode,
 *
 *   system_ns(tsc) = system_ns + pvtime_scale_delta(tsc - anchor_tsc, mul, shift)
 *
 * and the one way to change it (re-anchor), which never lets time step
 * back for a reader still using the old function.  Pure arithmetic: no
 * clock reads, no shared memory, so it is tested exhaustively on the host.
 */
#ifndef PVTIMED_TIME_FUNCTION_H
#define PVTIMED_TIME_FUNCTION_H

#include <stdint.h>

struct time_function {
	uint64_t anchor_tsc;	/* host TSC */
	uint64_t system_ns;	/* system time at anchor_tsc */
	uint32_t mul;
	int8_t shift;
};

/* Re-anchoring supports shifts in this range (any real TSC is inside). */
#define TIME_FUNCTION_SHIFT_MIN		(-32)
#define TIME_FUNCTION_SHIFT_MAX		31
/* Longest reader window a rate change may be asked to cover (~1.6 s). */
#define TIME_FUNCTION_MAX_WINDOW	(1ull << 32)

/* System time at a host TSC (before the anchor: extrapolated backwards). */
uint64_t time_function_at(const struct time_function *f, uint64_t host_tsc);

struct reanchor_request {
	uint64_t now_tsc;		/* latest TSC the new anchor may take */
	uint32_t mul;			/* the new rate (may equal the old) */
	int8_t shift;
	/*
	 * Host TSC cycles after the anchor during which a reader may still
	 * compute from the old function (the time to rewrite every record).
	 * A slower new rate starts far enough ahead to stay above the old
	 * function for this long.
	 */
	uint64_t window_cycles;
	/*
	 * How many anchor positions at or before now_tsc to consider; the one
	 * whose exact old-function value needs the least rounding up wins.
	 * 1 takes the latest possible anchor.
	 */
	unsigned int candidates;
};

struct reanchor_report {
	/* New system_ns - the old function's exact value there, in 2^-32 ns. */
	uint64_t rounding_bias;
	uint64_t rate_term_ns;		/* extra start for a slower new rate */
	uint64_t anchor_age_cycles;	/* now_tsc - the chosen anchor */
};

/*
 * Start a new function at the old one's value at a new anchor <= now_tsc,
 * rounded up, so that for every TSC t in [new anchor, new anchor + window]
 * time_function_at(new, t) >= time_function_at(old, t), and at the anchor
 * the new value exceeds the old function's exact value by less than 1 ns
 * plus rate_term_ns (plus 2 ns when the shift changes).  The anchor moves
 * from the old one by a whole number of pre-shift units, so the old
 * function's truncation before the multiply carries over exactly.
 * Returns 0, or -ERANGE for shifts or windows outside the supported range.
 */
int time_function_reanchor(const struct time_function *old,
			   const struct reanchor_request *req,
			   struct time_function *new,
			   struct reanchor_report *report);

/*
 * mul/shift for the true TSC rate hz with the records running ppm fast
 * (ppm < 0: slow), i.e. for hz / (1 + ppm / 1e6).  Returns 0 or -EINVAL.
 */
int time_function_scale(uint64_t hz, int32_t ppm, uint32_t *mul, int8_t *shift);

#endif /* PVTIMED_TIME_FUNCTION_H */
