// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Drift accounting (hyp/clock/drift.c): when a skip is due and how much,
 * when a give-back slew starts and stops, the history ring and the skip
 * log, and the policy's spelling back.
 */
#include <string.h>

#include "tap.h"
#include "clock/drift.h"

#define MS	1000000ull
#define S	1000000000ull

static void test_skip(void)
{
	struct drift_policy half = { .kind = DRIFT_SKIP,
				     .skip_fraction_ppm = 500000 };
	struct drift_policy keep = { .kind = DRIFT_KEEP };
	struct drift_account acc;

	drift_account_init(&acc, &half);
	tap_ok(drift_skip_due_ns(&acc, 10 * S) == 0, "no skip before a measurement");
	drift_measure(&acc, 10 * S, 800 * MS, 800 * MS, 0);
	tap_ok(drift_skip_due_ns(&acc, 10 * S) == 400 * MS,
	       "skip:0.5 of 800 ms is 400 ms (got %llu)",
	       (unsigned long long)drift_skip_due_ns(&acc, 10 * S));
	drift_note_skip(&acc, 10 * S, 400 * MS);
	tap_ok(acc.current_ns == (int64_t)(400 * MS) && acc.skipped_ns == 400 * MS &&
	       acc.skips == 1, "after the skip: 400 ms left, 400 ms skipped, 1 skip");
	tap_ok(drift_skip_due_ns(&acc, 12 * S) == 0,
	       "no second skip on the measurement the first was a fraction of");
	drift_measure(&acc, 10 * S + 500 * MS, 450 * MS, 850 * MS, 0);
	tap_ok(drift_skip_due_ns(&acc, 10 * S + 600 * MS) == 0,
	       "no skip within the period (1 s) of the last");
	tap_ok(drift_skip_due_ns(&acc, 11 * S) == 225 * MS,
	       "a period later: half of the new 450 ms");
	drift_measure(&acc, 12 * S, (int64_t)DRIFT_GIVE_BACK_MIN_NS - 1, 851 * MS, 0);
	tap_ok(drift_skip_due_ns(&acc, 13 * S) == 0, "under 1 ms: nothing to skip");
	drift_measure(&acc, 13 * S, -5 * (int64_t)MS, 851 * MS, 0);
	tap_ok(drift_skip_due_ns(&acc, 14 * S) == 0, "ahead of the reference: no skip");

	half.skip_fraction_ppm = DRIFT_FRACTION_ONE;
	drift_account_init(&acc, &half);
	drift_measure(&acc, S, 3 * S, 3 * S, 0);
	tap_ok(drift_skip_due_ns(&acc, S) == 3 * S, "skip:1 gives all of it back");
	half.skip_fraction_ppm = 1;
	drift_account_init(&acc, &half);
	drift_measure(&acc, S, 3 * S, 3 * S, 0);
	tap_ok(drift_skip_due_ns(&acc, S) == 3000, "skip:0.000001 of 3 s is 3 us");
	drift_account_init(&acc, &keep);
	drift_measure(&acc, S, 3 * S, 3 * S, 0);
	tap_ok(drift_skip_due_ns(&acc, 5 * S) == 0, "keep never skips");
	drift_measure(&acc, S, INT64_MAX, UINT64_MAX, 0);
	half.skip_fraction_ppm = DRIFT_FRACTION_ONE;
	acc.policy = half;
	tap_ok(drift_skip_due_ns(&acc, 5 * S) == (uint64_t)INT64_MAX,
	       "the largest drift: no overflow");
}

static void test_slew(void)
{
	struct drift_policy slew = { .kind = DRIFT_SLEW, .slew_ppm = 1000 };
	struct drift_account acc;

	drift_account_init(&acc, &slew);
	tap_ok(drift_slew_decide(&acc, false, S) == DRIFT_SLEW_NONE,
	       "no slew before a measurement");
	drift_measure(&acc, S, 50 * MS, 50 * MS, 0);
	tap_ok(drift_slew_decide(&acc, false, S) == DRIFT_SLEW_START,
	       "50 ms behind: start");
	tap_ok(drift_slew_decide(&acc, true, S) == DRIFT_SLEW_NONE,
	       "50 ms behind, slewing: go on");
	drift_measure(&acc, 2 * S, 900000, 50 * MS, 49 * MS);
	tap_ok(drift_slew_decide(&acc, true, S) == DRIFT_SLEW_STOP,
	       "0.9 ms left, a period's slew gives 1 ms: stop (never past the reference)");
	slew.slew_ppm = 500000;
	acc.policy = slew;
	drift_measure(&acc, 3 * S, 400 * MS, 50 * MS, 49 * MS);
	tap_ok(drift_slew_decide(&acc, true, S) == DRIFT_SLEW_STOP,
	       "500000 ppm: 400 ms left is less than a period's 500 ms: stop");
	tap_ok(drift_slew_decide(&acc, true, 0) == DRIFT_SLEW_NONE,
	       "a slew the host ends itself (horizon 0) goes on");
	acc.policy.kind = DRIFT_KEEP;
	tap_ok(drift_slew_decide(&acc, true, S) == DRIFT_SLEW_STOP,
	       "a slew under keep stops");
}

static void test_history(void)
{
	struct drift_policy keep = { .kind = DRIFT_KEEP };
	static struct drift_account acc;
	uint32_t i;
	int ordered = 1;

	drift_account_init(&acc, &keep);
	drift_measure(&acc, S, 7, 7, 0);
	drift_history_record(&acc, S);
	tap_ok(acc.history.count == 1 && drift_history_at(&acc.history, 0)->at_ns == S &&
	       drift_history_at(&acc.history, 0)->current_ns == 7,
	       "one sample recorded");
	for (i = 2; i <= DRIFT_HISTORY_LEN + 10; i++) {
		drift_measure(&acc, i * S, (int64_t)i, i, 0);
		drift_history_record(&acc, i * S);
	}
	for (i = 0; i < acc.history.count; i++)
		if (drift_history_at(&acc.history, i)->at_ns != (i + 11) * S)
			ordered = 0;
	tap_ok(acc.history.count == DRIFT_HISTORY_LEN && ordered,
	       "the ring keeps the newest %u samples, oldest first",
	       DRIFT_HISTORY_LEN);
	for (i = 0; i < DRIFT_SKIP_LOG_LEN + 3; i++)
		drift_note_skip(&acc, i, i + 1);
	tap_ok(acc.skip_log_count == DRIFT_SKIP_LOG_LEN &&
	       drift_skip_at(&acc, 0)->skipped_ns == 4 &&
	       drift_skip_at(&acc, DRIFT_SKIP_LOG_LEN - 1)->skipped_ns ==
	       DRIFT_SKIP_LOG_LEN + 3 && acc.skips == DRIFT_SKIP_LOG_LEN + 3,
	       "the skip log keeps the newest %u skips", DRIFT_SKIP_LOG_LEN);
}

int main(void)
{
	tap_plan(12 + 7 + 3);
	test_skip();
	test_slew();
	test_history();
	return tap_done();
}
