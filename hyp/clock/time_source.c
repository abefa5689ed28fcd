// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * SET_WALLCLOCK from the time-source domain: from the guest's
 * (CLOCK_REALTIME, TSC) pair to the hyp's wall offset.  Pure arithmetic
 * on what the caller sampled, so the unit tests drive it with any clock.
 */
#include <errno.h>

#include "pvclock_math.h"
#include "clock/time_source.h"
#include "clock/wallclock.h"

/* ns in cycles at hz, for bounds (no overflow below 2^64 / hz s). */
static uint64_t ns_to_cycles(uint64_t ns, uint64_t hz)
{
	return (uint64_t)((unsigned __int128)ns * hz / PVTIME_NSEC_PER_SEC);
}

/*
 * Host CLOCK_REALTIME at host_tsc, carried from the sample next to it
 * (at most TIME_SOURCE_TSC_MAX_AGE_NS away, checked by the caller).
 */
static int64_t host_realtime_at(const struct timebase_pair *sample,
				uint64_t host_tsc, uint64_t hz)
{
	int64_t cycles = (int64_t)(host_tsc - sample->tsc);
	__int128 ns = (__int128)cycles * (int64_t)PVTIME_NSEC_PER_SEC / (int64_t)hz;

	return sample->clock_ns + (int64_t)ns;
}

int time_source_hyp_offset(const struct time_source_request *req,
			   const struct time_source_clock *clk,
			   int64_t *hyp_offset_ns, const char **why)
{
	uint64_t host_tsc, max_age, max_ahead;
	int64_t host_ns, offset;

	if (req->wall_ns < 0) {
		*why = "wall time before 1970";
		return -EINVAL;
	}
	if (req->wall_ns > WALLCLOCK_MAX_NS) {
		*why = "wall time after 2261-01-01, the hyp's limit";
		return -ERANGE;
	}
	if (!clk->offset_known || !clk->tsc_hz) {
		*why = "the domain's TSC offset is not known yet";
		return -EAGAIN;
	}
	host_tsc = req->guest_tsc - (uint64_t)clk->guest_tsc_offset;
	max_age = ns_to_cycles(TIME_SOURCE_TSC_MAX_AGE_NS, clk->tsc_hz);
	max_ahead = ns_to_cycles(TIME_SOURCE_TSC_MAX_AHEAD_NS, clk->tsc_hz);
	/* Unsigned differences: a wrapped or made-up TSC is far either way. */
	if (host_tsc - clk->realtime.tsc > max_ahead &&
	    clk->realtime.tsc - host_tsc > max_age) {
		*why = "TSC not from the last second (torn or made up)";
		return -ERANGE;
	}
	host_ns = host_realtime_at(&clk->realtime, host_tsc, clk->tsc_hz);
	/* wall = host + hyp offset + domain offset, solved for the hyp's. */
	if (__builtin_sub_overflow(req->wall_ns, host_ns, &offset) ||
	    __builtin_sub_overflow(offset, clk->domain_offset_ns, &offset)) {
		*why = "offset out of range";
		return -ERANGE;
	}
	*hyp_offset_ns = offset;
	return 0;
}
