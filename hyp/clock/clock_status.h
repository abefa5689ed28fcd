/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The host clock's status for the guests (PVTIME_F_CLOCK_STATUS): what the
 * host's adjtimex(2) reports (read-only, modes 0) turned into the
 * control page's clock-status block, refreshed for every domain on the
 * 1 s tick of host_clock_watch.c.  clock_status.c is the pure encoding
 * (unit-tested); clock_status_domains.c publishes it per domain and holds
 * the test-only faults (the block hidden as from an older hyp, or left odd).
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

struct domain;

/*
 * Sample adjtimex once and publish it to every running domain that offers
 * PVTIME_F_CLOCK_STATUS; bumps a domain's 'changes' when clock_status_news().
 */
void clock_status_refresh_all(void);

/*
 * Test-only faults (pvxl inject): hide the block as an older hyp would
 * (clear the feature bit, zero the block) or show it again; hold its seq
 * odd for ms milliseconds (the next refresh after that repairs it).
 */
void clock_status_hide(struct domain *d, bool hide);

struct emit;
/* The "clock_status" object of info: what the guest's block holds. */
void clock_status_emit(struct emit *e, const struct domain *d);
void clock_status_hold_odd(struct domain *d, uint32_t ms);

#endif /* PVTIMED_CLOCK_STATUS_H */
