/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Drift accounting: how far a domain's guest clock is behind its
 * reference (host time since the domain was created), what was given back
 * and how, the decision to give more back under the domain's drift policy
 * (clock_policy.h: keep, skip:FRACTION, slew:PPM), and a bounded history of
 * one sample a second for pvxl drift.  Pure arithmetic and bookkeeping:
 * records.c measures and applies, this decides and remembers.
 *
 * Drift comes from two places.  A host-time domain keeps it under
 * stopped_time = "keep" (the time it stood still, paused or saved); a
 * virtual-time domain (clock = "virtual") accrues it whenever the guest
 * executes fewer instructions than one per virtual nanosecond of host time
 * (QEMU -icount), i.e. whenever it is busy on a host that cannot keep up.
 */
#ifndef PVTIMED_DRIFT_H
#define PVTIMED_DRIFT_H

#include <stdbool.h>
#include <stdint.h>

#include "clock/clock_policy.h"

/* Drift is given back at most once per this period (the QNX period). */
#define DRIFT_GIVE_BACK_PERIOD_NS	1000000000ull
/* Drift under this is left alone (what a pause's QMP round trips blur). */
#define DRIFT_GIVE_BACK_MIN_NS		1000000
/* One sample a second: about 17 minutes of history. */
#define DRIFT_HISTORY_LEN		1024

/* One point of pvxl drift's history (and of its SVG). */
struct drift_sample {
	uint64_t at_ns;			/* reference time (since creation) */
	int64_t current_ns;		/* behind the reference now */
	uint64_t accumulated_ns;	/* accrued so far, given back or not */
	uint64_t skipped_ns;		/* given back by skips so far */
	uint64_t slewed_ns;		/* given back by slewing so far */
};

struct drift_history {
	struct drift_sample sample[DRIFT_HISTORY_LEN];
	uint32_t next;			/* where the next sample goes */
	uint32_t count;			/* <= DRIFT_HISTORY_LEN */
};

/* One skip, for pvxl drift and the tests that check the fraction. */
struct drift_skip {
	uint64_t at_ns;			/* reference time of the skip */
	int64_t drift_before_ns;	/* the measurement it was a fraction of */
	uint64_t skipped_ns;
};

#define DRIFT_SKIP_LOG_LEN	64

struct drift_account {
	struct drift_policy policy;
	bool measured;			/* a measurement exists */
	uint64_t measured_at_ns;	/* its reference time */
	int64_t current_ns;		/* the latest measurement */
	uint64_t accumulated_ns;
	uint64_t skipped_ns;
	uint64_t skips;
	uint64_t slewed_ns;
	/* Reference time of the last skip; a skip waits for a later sample. */
	uint64_t last_skip_at_ns;
	bool skipped_once;
	struct drift_skip skip_log[DRIFT_SKIP_LOG_LEN];	/* ring, newest last */
	uint32_t skip_log_next;
	uint32_t skip_log_count;
	struct drift_history history;
};

void drift_account_init(struct drift_account *acc,
			const struct drift_policy *policy);

/*
 * A measurement at reference time at_ns: the guest is current_ns behind,
 * after accumulated_ns accrued in all and slewed_ns given back by slewing
 * (skips are counted here, by drift_note_skip).
 */
void drift_measure(struct drift_account *acc, uint64_t at_ns,
		   int64_t current_ns, uint64_t accumulated_ns,
		   uint64_t slewed_ns);

/*
 * How much to skip now (0: nothing) under a skip policy: the policy's
 * fraction of the latest measurement, once that measurement is newer than
 * the last skip, at least DRIFT_GIVE_BACK_PERIOD_NS after it, and at least
 * DRIFT_GIVE_BACK_MIN_NS.  A skip never exceeds the measured drift, so
 * the guest's clock never passes its reference.
 */
uint64_t drift_skip_due_ns(const struct drift_account *acc, uint64_t now_ns);

/* A skip of skipped_ns was published at reference time at_ns. */
void drift_note_skip(struct drift_account *acc, uint64_t at_ns,
		     uint64_t skipped_ns);

/* What a slew policy wants of a slew given the latest measurement. */
enum drift_slew_action {
	DRIFT_SLEW_NONE,		/* leave the rate as it is */
	DRIFT_SLEW_START,		/* run fast at policy.slew_ppm */
	DRIFT_SLEW_STOP,		/* back to the true rate */
};

/*
 * slewing: whether a give-back slew runs now.  horizon_ns: the reference
 * time until the next measurement can end a slew (a virtual-time domain's
 * slew ends only at a sample, so it stops once the next period's slew
 * would give back more than the drift left: the guest's clock must not
 * pass its reference).
 */
enum drift_slew_action drift_slew_decide(const struct drift_account *acc,
					 bool slewing, uint64_t horizon_ns);

/* Append the latest measurement to the history (once a second). */
void drift_history_record(struct drift_account *acc, uint64_t at_ns);

/* The i-th oldest history sample, i < history.count. */
const struct drift_sample *drift_history_at(const struct drift_history *h,
					    uint32_t i);
/* The i-th oldest skip, i < skip_log_count. */
const struct drift_skip *drift_skip_at(const struct drift_account *acc,
				       uint32_t i);

#endif /* PVTIMED_DRIFT_H */
