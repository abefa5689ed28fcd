// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Control socket accounting: refused (non-root) peers cannot take the
 * slots root needs; and the log rate limit the refusals go through.
 */
#include <stdint.h>

#include "tap.h"
#include "control/control_slots.h"
#include "core/ratelimit.h"

static void test_slots(void)
{
	struct control_slots s = { 0 };
	enum control_admission a[CONTROL_MAX_CONNECTIONS];
	unsigned int i, refused = 0, busy = 0;

	/* 100 non-root connections held open at once. */
	for (i = 0; i < 100; i++) {
		enum control_admission r = control_slots_admit(&s, 1000);

		refused += r == CONTROL_ADMIT_REFUSED;
		busy += r == CONTROL_REJECT_BUSY;
	}
	tap_ok(refused == CONTROL_MAX_REFUSED && busy == 100 - CONTROL_MAX_REFUSED,
	       "100 non-root connections: %u held (cap %d), %u turned away at once",
	       refused, CONTROL_MAX_REFUSED, busy);
	tap_ok(control_slots_admit(&s, 0) == CONTROL_ADMIT_ROOT,
	       "root is still served after 100 non-root connections");
	control_slots_release(&s, CONTROL_ADMIT_ROOT);

	for (i = 0; i < CONTROL_MAX_CONNECTIONS; i++)
		a[i] = control_slots_admit(&s, 0);
	tap_ok(a[CONTROL_MAX_CONNECTIONS - 1] == CONTROL_ADMIT_ROOT &&
	       control_slots_admit(&s, 0) == CONTROL_REJECT_BUSY,
	       "root gets all %d slots while refused peers hold theirs, then busy",
	       CONTROL_MAX_CONNECTIONS);
	control_slots_release(&s, a[0]);
	tap_ok(control_slots_admit(&s, 0) == CONTROL_ADMIT_ROOT,
	       "a released root slot is reusable");
	for (i = 0; i < CONTROL_MAX_REFUSED; i++)
		control_slots_release(&s, CONTROL_ADMIT_REFUSED);
	tap_ok(s.refused == 0 && s.root == CONTROL_MAX_CONNECTIONS &&
	       control_slots_admit(&s, 1000) == CONTROL_ADMIT_REFUSED,
	       "refused slots come back independently of root's");
	control_slots_release(&s, CONTROL_REJECT_BUSY);
	tap_ok(s.refused == 1 && s.root == CONTROL_MAX_CONNECTIONS,
	       "releasing a rejection gives nothing back");
}

static void test_ratelimit(void)
{
	struct ratelimit rl = RATELIMIT_INIT(1000, 3);
	unsigned long missed = 99;
	int i, allowed = 0;

	for (i = 0; i < 100; i++)
		allowed += ratelimit_allow(&rl, 5000 + (uint64_t)i, NULL);
	tap_ok(allowed == 3, "burst of 3 per interval (%d of 100 allowed)", allowed);
	tap_ok(ratelimit_allow(&rl, 6000, &missed) && missed == 97,
	       "next interval reports the 97 suppressed (%lu)", missed);
	tap_ok(ratelimit_allow(&rl, 6001, &missed) && missed == 0,
	       "and only once");
}

int main(void)
{
	tap_plan(9);
	test_slots();
	test_ratelimit();
	return tap_done();
}
