/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The time-source domain (Xen's dom0 with XENPF_settime64): the one
 * domain whose config says time_source = 1 may set the hyp's wall clock,
 * and with it every domain's, through PVTIME_REQ_SET_WALLCLOCK.  This
 * file turns such a request into the hyp's new wall offset, or a refusal;
 * mailbox.c answers it, time_source_watch.h republishes every domain.
 */
#ifndef PVTIMED_TIME_SOURCE_H
#define PVTIMED_TIME_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/timebase.h"

/*
 * The guest's TSC reading must be from the last this many ns: a request
 * is posted right after the reading, and a session lasts at most 2 s.
 */
#define TIME_SOURCE_TSC_MAX_AGE_NS	1000000000ull
/* ...and not from the future, beyond the offset's own uncertainty. */
#define TIME_SOURCE_TSC_MAX_AHEAD_NS	1000000ull

/* What the guest asked (read once from the mailbox). */
struct time_source_request {
	int64_t wall_ns;	/* its CLOCK_REALTIME, ns since the epoch */
	uint64_t guest_tsc;	/* its TSC when it read that */
};

/* What the hyp knows of the domain and of the host, read under its lock. */
struct time_source_clock {
	bool offset_known;
	int64_t guest_tsc_offset;	/* guest TSC - host TSC */
	uint64_t tsc_hz;
	int64_t domain_offset_ns;	/* the domain's own wall offset */
	struct timebase_pair realtime;	/* host CLOCK_REALTIME and its TSC */
};

/*
 * The hyp wall offset that makes the domain's wall clock read
 * req->wall_ns at req->guest_tsc.  Returns 0, or -errno with why set and
 * nothing to apply: -EINVAL a wall time before 1970, -ERANGE one after
 * WALLCLOCK_MAX_NS or a TSC too old or ahead of the host's (torn or
 * made up), -EAGAIN the domain's TSC offset is not known yet.
 */
int time_source_hyp_offset(const struct time_source_request *req,
			   const struct time_source_clock *clk,
			   int64_t *hyp_offset_ns, const char **why);

#endif /* PVTIMED_TIME_SOURCE_H */
