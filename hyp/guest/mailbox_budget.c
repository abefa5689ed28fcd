// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "guest/mailbox_budget.h"

#define NSEC_PER_SEC	1000000000ll

void mailbox_budget_init(struct mailbox_budget *b, uint64_t now_ns)
{
	b->tokens_ns = MAILBOX_BUDGET_BURST_NS;
	b->last_ns = now_ns;
}

static void refill(struct mailbox_budget *b, uint64_t now_ns)
{
	/*
	 * Past this long the bucket is full whatever debt it held (at most
	 * one bucket), and below it elapsed * rate cannot overflow.
	 */
	const uint64_t fill_ns = 2 * (uint64_t)MAILBOX_BUDGET_BURST_NS *
				 (NSEC_PER_SEC / MAILBOX_BUDGET_RATE_NS_PER_S);
	uint64_t elapsed;

	if ((int64_t)(now_ns - b->last_ns) <= 0)
		return;
	elapsed = now_ns - b->last_ns;
	b->last_ns = now_ns;
	if (elapsed >= fill_ns) {
		b->tokens_ns = MAILBOX_BUDGET_BURST_NS;
		return;
	}
	b->tokens_ns += (int64_t)(elapsed * MAILBOX_BUDGET_RATE_NS_PER_S /
				  NSEC_PER_SEC);
	if (b->tokens_ns > MAILBOX_BUDGET_BURST_NS)
		b->tokens_ns = MAILBOX_BUDGET_BURST_NS;
}

uint64_t mailbox_budget_wait_ns(struct mailbox_budget *b, uint64_t now_ns)
{
	int64_t deficit;

	refill(b, now_ns);
	deficit = MAILBOX_BUDGET_MIN_GRANT_NS - b->tokens_ns;
	if (deficit <= 0)
		return 0;
	/* Round up: waiting that long always leaves enough. */
	return ((uint64_t)deficit * NSEC_PER_SEC + MAILBOX_BUDGET_RATE_NS_PER_S - 1) /
	       MAILBOX_BUDGET_RATE_NS_PER_S;
}

uint64_t mailbox_budget_grant_ns(struct mailbox_budget *b, uint64_t now_ns)
{
	refill(b, now_ns);
	if (b->tokens_ns < MAILBOX_BUDGET_MIN_GRANT_NS)
		return 0;
	return (uint64_t)b->tokens_ns;
}

void mailbox_budget_charge(struct mailbox_budget *b, uint64_t now_ns,
			   uint64_t used_ns)
{
	refill(b, now_ns);
	if (used_ns < MAILBOX_BUDGET_MIN_CHARGE_NS)
		used_ns = MAILBOX_BUDGET_MIN_CHARGE_NS;
	if (used_ns > (uint64_t)MAILBOX_BUDGET_BURST_NS * 2)
		used_ns = (uint64_t)MAILBOX_BUDGET_BURST_NS * 2;
	b->tokens_ns -= (int64_t)used_ns;
	/* A session overrunning its grant leaves at most one bucket of debt. */
	if (b->tokens_ns < -MAILBOX_BUDGET_BURST_NS)
		b->tokens_ns = -MAILBOX_BUDGET_BURST_NS;
}
