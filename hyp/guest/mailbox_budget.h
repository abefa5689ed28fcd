/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * How much host time a domain's mailbox sessions may take: a token bucket
 * of serving time (pure functions; the caller passes CLOCK_MONOTONIC ns).
 * It holds MAILBOX_BUDGET_BURST_NS (one full session) and refills at
 * MAILBOX_BUDGET_RATE_NS_PER_S.  A session may start once
 * MAILBOX_BUDGET_MIN_GRANT_NS are there and runs for at most what is
 * there; it is charged its length, at least MAILBOX_BUDGET_MIN_CHARGE_NS.
 * A doorbell that comes while the bucket is low is deferred, not lost.
 */
#ifndef PVTIMED_MAILBOX_BUDGET_H
#define PVTIMED_MAILBOX_BUDGET_H

#include <stdint.h>

#define MAILBOX_BUDGET_BURST_NS		2000000000ll	/* = MAILBOX_SESSION_MS */
#define MAILBOX_BUDGET_RATE_NS_PER_S	200000000ll	/* 200 ms a second */
#define MAILBOX_BUDGET_MIN_GRANT_NS	10000000ll	/* 10 ms */
#define MAILBOX_BUDGET_MIN_CHARGE_NS	500000ll	/* 0.5 ms */

struct mailbox_budget {
	int64_t tokens_ns;
	uint64_t last_ns;
};

/* A full bucket at now_ns. */
void mailbox_budget_init(struct mailbox_budget *b, uint64_t now_ns);

/* How long from now_ns until a session may start (0: at once). */
uint64_t mailbox_budget_wait_ns(struct mailbox_budget *b, uint64_t now_ns);

/* The longest session that may start at now_ns (0 if none may). */
uint64_t mailbox_budget_grant_ns(struct mailbox_budget *b, uint64_t now_ns);

/* Charge a session of used_ns that ended at now_ns. */
void mailbox_budget_charge(struct mailbox_budget *b, uint64_t now_ns,
			   uint64_t used_ns);

#endif /* PVTIMED_MAILBOX_BUDGET_H */
