/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* A domain's wall clock: publishing wc_* and moving the domain's wall time. */
#ifndef PVTIMED_WALLCLOCK_H
#define PVTIMED_WALLCLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock/records.h"

/* Republish when wc moved by more than this (NTP slew, rate error). */
#define WALLCLOCK_REPUBLISH_NS	1000
/*
 * Latest wall time a set may target: 2261-01-01T00:00:00Z, over a year
 * before a signed 64-bit ns count overflows (2262-04-11), so a domain runs
 * for that long before its wall time saturates.
 */
#define WALLCLOCK_MAX_NS	9183110400000000000ll

enum wallclock_mode {
	WALLCLOCK_HOST,		/* follow host CLOCK_REALTIME: offset 0 */
	WALLCLOCK_ABSOLUTE,	/* wall time := ns since the epoch */
	WALLCLOCK_RELATIVE,	/* wall time += ns */
};

/*
 * Recompute wc = wall time - system time from one TSC read and write it if
 * forced or if it moved by more than WALLCLOCK_REPUBLISH_NS.  Returns true
 * when it was written.
 */
bool wallclock_publish(struct domain_clock *clk, struct pvtime_shm *shm,
		       bool force);

/*
 * Change the domain's wall offset and republish.  Returns 0, or -1 with the
 * reason in err (results before 1970 or after WALLCLOCK_MAX_NS are refused;
 * nothing changes then).
 */
int wallclock_set(struct domain_clock *clk, struct pvtime_shm *shm,
		  enum wallclock_mode mode, int64_t ns, char *err, size_t errlen);

/*
 * The hyp's wall clock: host CLOCK_REALTIME + this offset, 0 until the
 * time-source domain sets it (time_source.h).  Every domain's wall clock
 * is the hyp's plus its own wall_offset_ns.  Setting it does not
 * republish: the caller does that for every domain.
 */
int64_t wallclock_hyp_offset_ns(void);
void wallclock_set_hyp_offset_ns(int64_t offset_ns);
/* A domain's offset from host CLOCK_REALTIME: the hyp's + its own. */
int64_t wallclock_domain_offset_ns(int64_t wall_offset_ns);

/* The domain's wall time now, ns since the epoch (saturated, never wraps). */
int64_t wallclock_now(struct domain_clock *clk);

/* a + b, saturated at INT64_MIN / INT64_MAX instead of overflowing. */
static inline int64_t wallclock_add_sat(int64_t a, int64_t b)
{
	int64_t sum;

	if (__builtin_add_overflow(a, b, &sum))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return sum;
}

#endif /* PVTIMED_WALLCLOCK_H */
