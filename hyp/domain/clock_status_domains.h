/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Publishing the host clock's status (clock/clock_status.h) into every
 * domain's control page, and its test-only faults.
 */
#ifndef PVTIMED_CLOCK_STATUS_DOMAINS_H
#define PVTIMED_CLOCK_STATUS_DOMAINS_H

#include <stdbool.h>
#include <stdint.h>

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
void clock_status_hold_odd(struct domain *d, uint32_t ms);

struct emit;
/* The "clock_status" object of info: what the guest's block holds. */
void clock_status_emit(struct emit *e, const struct domain *d);

#endif /* PVTIMED_CLOCK_STATUS_DOMAINS_H */
