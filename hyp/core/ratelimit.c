// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <stddef.h>

#include "core/ratelimit.h"

bool ratelimit_allow(struct ratelimit *rl, uint64_t now_ns,
		     unsigned long *missed)
{
	if (!rl->started || now_ns - rl->begin_ns >= rl->interval_ns) {
		rl->started = true;
		rl->begin_ns = now_ns;
		rl->printed = 0;
	}
	if (rl->printed >= rl->burst) {
		rl->missed++;
		return false;
	}
	rl->printed++;
	if (missed)
		*missed = rl->missed;
	rl->missed = 0;
	return true;
}
