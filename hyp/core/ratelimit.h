/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Log rate limiting: at most 'burst' messages per 'interval_ns'; the first
 * message of a new interval learns how many were suppressed before it.
 * Not locked: each instance belongs to one thread or is used under a lock.
 */
#ifndef PVTIMED_RATELIMIT_H
#define PVTIMED_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/log.h"
#include "core/monotonic.h"

struct ratelimit {
	uint64_t interval_ns;
	unsigned int burst;
	bool started;
	uint64_t begin_ns;		/* start of the current interval */
	unsigned int printed;		/* in the current interval */
	unsigned long missed;		/* suppressed, not yet reported */
};

#define RATELIMIT_INIT(interval, n) { .interval_ns = (interval), .burst = (n) }

/*
 * Whether a message may go out at now_ns.  When it may, *missed (if not
 * NULL) is the number suppressed since the last message that went out.
 */
bool ratelimit_allow(struct ratelimit *rl, uint64_t now_ns,
		     unsigned long *missed);

/* log_msg through a rate limit; the next message counts the suppressed. */
#define log_ratelimited(rl, level, fmt, ...)					\
	do {									\
		unsigned long missed_;						\
										\
		if (ratelimit_allow((rl), monotonic_ns(), &missed_))	\
			log_msg((level), fmt "%s%.0lu%s", ##__VA_ARGS__,		\
				missed_ ? " (" : "", missed_,			\
				missed_ ? " similar suppressed)" : "");		\
	} while (0)

#endif /* PVTIMED_RATELIMIT_H */
