/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * How far a guest kernel catches up on a jump of the records it missed.
 *
 * While the kernel reads the raw TSC (the pvtime-tsc fast path) a forward
 * jump of the records (the hyp's step after a stop) never reaches its
 * clock, and a clocksource switch back to the records carries the
 * kernel's time over unchanged: the jump would be lost for good.  The
 * guest measures how far its kernel fell behind the records over the
 * fast path's time (lost_ns), but that measurement alone has moved
 * CLOCK_MONOTONIC 7.9 ms and 428 ms ahead of the host in two CI runs,
 * right after a resume whose step the kernel had seen itself.  A hyp
 * with PVTIME_F_RECORDS_JUMPED says how far its records jumped, and the
 * guest notes that total when the fast path starts and again at the
 * switch back: the kernel cannot have missed more than what it grew by
 * in between.
 *
 * Shared by the guest module and its userspace tests.
 */
#ifndef PVTIME_CATCH_UP_H
#define PVTIME_CATCH_UP_H

#include "pvclock_math.h"

struct pvtime_catch_up {
	__u64 jump_ns;		/* move the kernel's clock forward by this */
	__u64 unexplained_ns;	/* lost beyond what the hyp jumped: not taken */
};

/*
 * lost_ns: how far the kernel fell behind the records while it read the
 * raw TSC.  hyp_known: the hyp published its jump total (control->
 * records_jumped_ns) both when the fast path started and when the kernel
 * switched back, and the total did not go back (a hyp that lost it).
 * hyp_jumped_ns: how far the total grew in between.  Without the hyp's
 * figure the measurement is all there is.  slack_ns: what the measurement
 * may be over by without anything wrong (an old rate's gain, read noise):
 * cut back, but not reported as unexplained.
 */
static __always_inline struct pvtime_catch_up
pvtime_catch_up(__u64 lost_ns, bool hyp_known, __u64 hyp_jumped_ns,
		__u64 slack_ns)
{
	struct pvtime_catch_up c = { lost_ns, 0 };

	if (!hyp_known || lost_ns <= hyp_jumped_ns)
		return c;
	c.jump_ns = hyp_jumped_ns;
	if (lost_ns - hyp_jumped_ns > slack_ns)
		c.unexplained_ns = lost_ns - hyp_jumped_ns;
	return c;
}

#endif /* PVTIME_CATCH_UP_H */
