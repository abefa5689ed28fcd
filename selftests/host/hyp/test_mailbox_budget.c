// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The mailbox budget: a guest ringing all the time gets about 200 ms of
 * serving a second, not a host core; a doorbell beyond the budget waits
 * for it instead of being dropped; a quiet guest gets a full session.
 */
#include <stdint.h>

#include "tap.h"
#include "guest/mailbox_budget.h"

#define MS	1000000ull
#define S	1000000000ull

int main(void)
{
	struct mailbox_budget b;
	uint64_t now = 5 * S, served = 0, begin, wait, grant, min_grant = UINT64_MAX;
	int sessions = 0, deferred = 0, i;

	tap_plan(9);
	mailbox_budget_init(&b, now);
	tap_ok(mailbox_budget_wait_ns(&b, now) == 0 &&
	       mailbox_budget_grant_ns(&b, now) == 2 * S,
	       "a quiet domain gets a full 2 s session at once");

	/*
	 * A guest ringing every 40 ms and never ending its sessions: each
	 * runs as long as it is granted (capped at 2 s like the daemon).
	 */
	begin = now;
	while (now - begin < 60 * S) {
		wait = mailbox_budget_wait_ns(&b, now);
		if (wait) {
			deferred++;
			/* The doorbell is deferred: served once the budget is back. */
			now += wait;
			continue;
		}
		grant = mailbox_budget_grant_ns(&b, now);
		if (!grant)
			break;
		if (grant > 2 * S)
			grant = 2 * S;
		if (grant < min_grant)
			min_grant = grant;
		now += grant;
		served += grant;
		mailbox_budget_charge(&b, now, grant);
		sessions++;
		now += 40 * MS;	/* next doorbell */
	}
	tap_diag("60 s of a hostile guest: %d sessions, %d deferred, %llu ms served",
		 sessions, deferred, (unsigned long long)(served / MS));
	tap_ok(served <= 2 * S + 60 * 200 * MS && served >= 60 * 150 * MS,
	       "serving time bounded by burst + 200 ms/s (%llu ms in 60 s)",
	       (unsigned long long)(served / MS));
	tap_ok(deferred > 0 && min_grant >= 10 * MS,
	       "doorbells beyond the budget were deferred, each session got >= 10 ms (%llu ms)",
	       (unsigned long long)(min_grant / MS));

	/* Short sessions (handshake with END) are charged at least 0.5 ms. */
	mailbox_budget_init(&b, now);
	for (i = 0; i < 100000; i++) {
		if (mailbox_budget_wait_ns(&b, now))
			break;
		mailbox_budget_charge(&b, now, 1000);
	}
	tap_ok(i > 3000 && i < 4100,
	       "back-to-back 1 us sessions: %d before the budget is spent", i);
	wait = mailbox_budget_wait_ns(&b, now);
	tap_ok(wait > 0 && wait <= 51 * MS,
	       "then a doorbell waits %llu ms (at most 50 ms for 10 ms of budget)",
	       (unsigned long long)(wait / MS));
	tap_ok(mailbox_budget_wait_ns(&b, now + wait) == 0 &&
	       mailbox_budget_grant_ns(&b, now + wait) >= 10 * MS,
	       "after the wait a session may start with >= 10 ms");

	/* Debt is bounded: a long overrun does not lock the domain out forever. */
	mailbox_budget_init(&b, now);
	mailbox_budget_charge(&b, now, 3600 * S);
	wait = mailbox_budget_wait_ns(&b, now);
	tap_ok(wait > 0 && wait <= 21 * S, "an hour-long charge costs at most ~20 s (%llu ms)",
	       (unsigned long long)(wait / MS));
	tap_ok(mailbox_budget_grant_ns(&b, now + 30 * S) == 2 * S,
	       "a long quiet spell refills the bucket, no more");
	tap_ok(mailbox_budget_grant_ns(&b, now + UINT64_MAX / 2) == 2 * S &&
	       mailbox_budget_wait_ns(&b, now) == 0,
	       "huge gaps and a clock going back are harmless");
	return tap_done();
}
