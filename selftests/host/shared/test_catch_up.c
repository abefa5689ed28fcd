// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvtime_catch_up(): how far a guest kernel that read the raw TSC moves
 * its clock forward once it reads the records again.
 *
 * - The two CI failures it was written for: a kernel measured 7857199 ns
 *   and 428402537 ns behind its records, where the records had not jumped
 *   before it switched back to them, must not move (it ended that far
 *   ahead of the host).
 * - A real jump the kernel missed (a 1 s step after a pause, the 20 ms
 *   injected jump) is caught up in full, and a measurement that is off
 *   on top of it is cut back to the jump.
 * - A measurement over the jump by up to the slack (1 ms, what a rate
 *   change may leave) is cut back without being reported; past it, the
 *   excess is reported.
 * - A kernel that saw part of a jump (it read the records for a while)
 *   catches up only the part it missed.
 * - Without the hyp's figure (an older hyp, or a total that went back
 *   after a restore) the measurement is taken as before.
 */
#include <stdbool.h>
#include <stdint.h>

#include "pvtime_catch_up.h"
#include "tap.h"

/* The guest module's PVTIME_TAKEUP_MAX_NS: 1 ms. */
#define SLACK_NS	1000000

struct catch_up_case {
	const char *what;
	uint64_t lost_ns;
	bool hyp_known;
	uint64_t hyp_jumped_ns;
	uint64_t jump_ns;
	uint64_t unexplained_ns;
};

static const struct catch_up_case cases[] = {
	{ "no jump before the switch, 7.9 ms lost (CI)",
	  7857199, true, 0, 0, 7857199 },
	{ "no jump before the switch, 428 ms lost (CI)",
	  428402537, true, 0, 0, 428402537 },
	{ "a 1 s step missed in full", 1008783047, true, 1008783047,
	  1008783047, 0 },
	{ "the 20 ms injected jump, measured 4 us short", 19995970, true,
	  20000000, 19995970, 0 },
	{ "a 1 s step, measured 7.9 ms too far", 1016640246, true,
	  1008783047, 1008783047, 7857199 },
	{ "two jumps, the kernel saw the first", 20000000, true, 1028783047,
	  20000000, 0 },
	{ "older hyp: the measurement as it is", 7857199, false, 0, 7857199, 0 },
	{ "total went back (restore): the measurement as it is", 20000000,
	  false, 0, 20000000, 0 },
	{ "a jump of 1 ns, 2 ms lost", 2000000, true, 1, 1, 1999999 },
	{ "the 20 ms injected jump, measured 3 us over: cut back, not reported",
	  20002930, true, 20000000, 20000000, 0 },
	{ "a 20 ms jump, measured 1 ms over: cut back, not reported",
	  21000000, true, 20000000, 20000000, 0 },
	{ "a 20 ms jump, measured 1 ms + 1 ns over: reported",
	  21000001, true, 20000000, 20000000, 1000001 },
	{ "extremes", UINT64_MAX, true, UINT64_MAX - 2000000,
	  UINT64_MAX - 2000000, 2000000 },
};

int main(void)
{
	size_t i, n = sizeof(cases) / sizeof(cases[0]);

	tap_plan((int)n);
	for (i = 0; i < n; i++) {
		const struct catch_up_case *c = &cases[i];
		struct pvtime_catch_up got = pvtime_catch_up(c->lost_ns,
							     c->hyp_known,
							     c->hyp_jumped_ns,
							     SLACK_NS);

		tap_ok(got.jump_ns == c->jump_ns &&
		       got.unexplained_ns == c->unexplained_ns,
		       "%s: jump %llu ns, %llu ns not taken (got %llu, %llu)",
		       c->what, (unsigned long long)c->jump_ns,
		       (unsigned long long)c->unexplained_ns,
		       (unsigned long long)got.jump_ns,
		       (unsigned long long)got.unexplained_ns);
	}
	return tap_done();
}
