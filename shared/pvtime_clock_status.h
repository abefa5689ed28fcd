/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The clock-status block (control->clock_status, PVTIME_F_CLOCK_STATUS):
 * its seqcount writer (pvtimed) and reader (pvtime.ko), and how a reader
 * ages maxerror.  Shared so that the host unit tests run the very code
 * both sides use.
 *
 * The writer makes seq odd, writes the fields, makes seq even again (next
 * even value), with write barriers in between; a block found odd (a writer
 * that died half-way) is first bumped even, then written as usual.  The
 * reader copies the fields between two loads of seq and keeps the copy
 * only if seq was even and did not change; after tries attempts it gives
 * up with -EAGAIN, so a block the hyp abandoned odd costs a bounded wait.
 */
#ifndef PVTIME_CLOCK_STATUS_H
#define PVTIME_CLOCK_STATUS_H

#include "pvtime_abi.h"
#include "pvclock_math.h"

/* Tries before a reader gives up on an odd or moving block. */
#define PVTIME_CLOCK_STATUS_TRIES	256u

/* Copy every field but seq (a byte at a time would tear u64s). */
static inline void pvtime_clock_status_copy(struct pvtime_clock_status *dst,
					    const struct pvtime_clock_status *src)
{
	dst->sync = READ_ONCE(src->sync);
	dst->leap = READ_ONCE(src->leap);
	dst->reserved0 = 0;
	dst->tai_offset_s = READ_ONCE(src->tai_offset_s);
	dst->host_status = READ_ONCE(src->host_status);
	dst->leap_time_s = READ_ONCE(src->leap_time_s);
	dst->maxerror_us = READ_ONCE(src->maxerror_us);
	dst->esterror_us = READ_ONCE(src->esterror_us);
	dst->sampled_system_ns = READ_ONCE(src->sampled_system_ns);
	dst->host_state = READ_ONCE(src->host_state);
	dst->changes = READ_ONCE(src->changes);
	dst->reserved1 = 0;
}

/*
 * Read a consistent copy of the block.  Returns 0; -EAGAIN when seq stayed
 * odd or kept moving for 'tries' attempts; -ENODATA when the block holds
 * no sample (sync 0: not written yet, or a hyp that does not write it).
 */
static inline int pvtime_clock_status_read(const struct pvtime_clock_status *blk,
					   struct pvtime_clock_status *out,
					   unsigned int tries)
{
	__u32 seq;

	while (tries--) {
		seq = READ_ONCE(blk->seq);
		if (seq & 1) {
			pvtime_cpu_relax();
			continue;
		}
		pvtime_rmb();
		pvtime_clock_status_copy(out, blk);
		pvtime_rmb();
		if (READ_ONCE(blk->seq) != seq)
			continue;
		out->seq = seq;
		if (out->sync != PVTIME_SYNC_SYNCHRONISED &&
		    out->sync != PVTIME_SYNC_UNSYNCHRONISED)
			return -ENODATA;
		return 0;
	}
	return -EAGAIN;
}

/*
 * The host's maxerror now, for a block sampled age_ns ago: it grows as the
 * host kernel's does until NTP sets it again, and saturates at 16 s.
 */
static inline __u64 pvtime_maxerror_now_us(const struct pvtime_clock_status *st,
					   __u64 age_ns)
{
	__u64 growth = age_ns / 1000000ull * PVTIME_MAXERROR_GROWTH_US_PER_S /
		       1000ull;

	if (st->maxerror_us >= PVTIME_MAXERROR_MAX_US ||
	    growth >= PVTIME_MAXERROR_MAX_US - st->maxerror_us)
		return PVTIME_MAXERROR_MAX_US;
	return st->maxerror_us + growth;
}

#ifndef __KERNEL__
/*
 * The hyp's side: publish *val (its seq ignored) in blk.  An odd seq left
 * by a writer that died is bumped even first, so readers see the usual
 * odd-then-even pair.
 */
static inline void pvtime_clock_status_write(struct pvtime_clock_status *blk,
					     const struct pvtime_clock_status *val)
{
	__u32 seq = READ_ONCE(blk->seq);

	if (seq & 1)
		seq++;
	WRITE_ONCE(blk->seq, seq + 1);
	pvtime_wmb();
	WRITE_ONCE(blk->sync, val->sync);
	WRITE_ONCE(blk->leap, val->leap);
	WRITE_ONCE(blk->reserved0, 0);
	WRITE_ONCE(blk->tai_offset_s, val->tai_offset_s);
	WRITE_ONCE(blk->host_status, val->host_status);
	WRITE_ONCE(blk->leap_time_s, val->leap_time_s);
	WRITE_ONCE(blk->maxerror_us, val->maxerror_us);
	WRITE_ONCE(blk->esterror_us, val->esterror_us);
	WRITE_ONCE(blk->sampled_system_ns, val->sampled_system_ns);
	WRITE_ONCE(blk->host_state, val->host_state);
	WRITE_ONCE(blk->changes, val->changes);
	WRITE_ONCE(blk->reserved1, 0);
	pvtime_wmb();
	WRITE_ONCE(blk->seq, seq + 2);
}
#endif

#endif /* PVTIME_CLOCK_STATUS_H */
