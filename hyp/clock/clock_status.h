/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The host clock's status for the guests (PVTIME_F_CLOCK_STATUS): what the
 * host's adjtimex(2) reports (read-only, modes 0) turned into the
 * control page's clock-status block, refreshed for every domain on the
 * 1 s tick of host_clock_watch.c.  This is the pure encoding
 * (unit-tested); domain/clock_status_domains.h publishes it per domain and
 * holds the test-only faults (the block hidden as from an older hyp, or
 * left odd).
 */
#ifndef PVTIMED_CLOCK_STATUS_H
#define PVTIMED_CLOCK_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/timex.h>

#include "pvtime_abi.h"

#define CLOCK_STATUS_SECS_PER_DAY	86400

/*
 * Encode one adjtimex(2) sample: tx as filled in, state its return value
 * (TIME_OK .. TIME_ERROR).  Sets sync, leap, leap_time_s, tai_offset_s,
 * maxerror_us, esterror_us, host_status and host_state; leaves seq,
 * sampled_system_ns and changes zero.  A negative maxerror or esterror (a
 * kernel never reports one) reads as the 16 s cap.
 */
void clock_status_encode(const struct timex *tx, int state,
			 struct pvtime_clock_status *out);

/* Whether a guest would see news: sync, leap, its time or TAI differ. */
bool clock_status_news(const struct pvtime_clock_status *old,
		       const struct pvtime_clock_status *now);

/* A domain's clock-status publishing (in struct domain, zeroed at create). */
struct clock_status_state {
	struct pvtime_clock_status last;	/* last published */
	bool published;
	bool hidden;				/* fault: as an older hyp */
	uint64_t odd_until_ns;			/* fault: CLOCK_MONOTONIC; 0 none */
};

#endif /* PVTIMED_CLOCK_STATUS_H */
