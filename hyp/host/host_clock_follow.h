/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The host clock follower: samples host CLOCK_MONOTONIC against the TSC
 * every HOST_CLOCK_FOLLOW_PERIOD_MS, reads adjtimex(2), and through
 * clock_follow.c tells its listener (main.c: every domain) the rate the
 * records must run at to keep the host's NTP-disciplined time.
 */
#ifndef PVTIMED_HOST_CLOCK_FOLLOW_H
#define PVTIMED_HOST_CLOCK_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "clock/clock_follow.h"

#define HOST_CLOCK_FOLLOW_PERIOD_MS	2
/* Samples per period; the tightest bracket is used. */
#define HOST_CLOCK_FOLLOW_TRIES		4

/*
 * How far ahead of an adjtime() rate change the guests leave their raw-TSC
 * fast path.  A guest on it keeps the old rate until it has switched
 * clocksources, which takes it 5-30 ms here (stop_machine() under TCG),
 * more on a busy host; on the pvtime clocksource it follows the records at
 * once.  Chosen well above that; the fast path is off about this long
 * plus RECORDS_RATE_HOLD_NS per change.
 */
#define HOST_CLOCK_FASTPATH_LEAD_NS	200000000ll
/* The hold lasts past the boundary until the change must have shown. */
#define HOST_CLOCK_FASTPATH_HOLD_AFTER_NS \
	(KERNEL_ADJTIME_END_DEADLINE_NS + 10000000ll)

struct host_clock_follow_listener {
	/* Every new rate (cycles per host CLOCK_MONOTONIC second). */
	void (*apply_rate)(uint64_t hz);
	/* A rate change is coming: no TSC_STABLE in any domain for ns. */
	void (*hold_fastpath)(uint64_t ns);
};

/* Start following, telling listener (kept, not copied).  0 or -errno. */
int host_clock_follow_start(uint64_t nominal_hz,
			    const struct host_clock_follow_listener *listener);
void host_clock_follow_stop(void);

/*
 * The host's CLOCK_REALTIME was stepped: the kernel stopped any adjtime()
 * slew with it, so the records stop following one now.
 */
void host_clock_follow_host_stepped(void);

/* Following now (started and not stopped). */
bool host_clock_follow_active(void);

/* The rate new domains start at: the applied one (0 when not following). */
uint64_t host_clock_follow_hz(void);

/* A copy of the follower's state (and, if asked, its adjtime model), for pvxl info. */
bool host_clock_follow_snapshot(struct clock_follow *out,
				struct adjtime_model *adjtime);

#endif /* PVTIMED_HOST_CLOCK_FOLLOW_H */
