/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pvclock arithmetic shared by pvtime.ko and the userspace programs.
 *
 *   delta       = max((s64)(tsc - tsc_timestamp), 0)
 *   system time = system_time +
 *                 ((delta << tsc_shift) * tsc_to_system_mul) >> 32
 *
 * (a negative tsc_shift shifts right).  The product is formed in 128 bits,
 * so it is exact for any 64-bit delta; Xen's 96-bit form agrees with it
 * wherever Xen's does not overflow.
 *
 * A TSC slightly behind the record's tsc_timestamp (the guest's TSC offset
 * is an estimate, and a vCPU may lag a re-anchor) reads as system_time, as
 * in Linux's pvclock: an unsigned delta would wrap to centuries.
 *
 * tsc_shift must lie in [-PVTIME_SHIFT_MAX, PVTIME_SHIFT_MAX]: a record
 * outside it (only a broken or hostile writer makes one) is refused with
 * -ERANGE by the readers, never turned into a time.
 *
 * Records are guarded by 'version': odd while the hyp rewrites them.  A
 * reader retries a bounded number of times and then reports -EAGAIN rather
 * than spin forever on a record the hyp abandoned half-written.  While the
 * version is odd, pvtime_time_read() and pvtime_wallclock_read() only
 * reload it (with a pause): the fields and the TSC are read once it is even.
 */
#ifndef PVCLOCK_MATH_H
#define PVCLOCK_MATH_H

#include "pvtime_xen.h"

#ifdef __KERNEL__
#include <linux/compiler.h>
#include <linux/errno.h>
#include <asm/barrier.h>
#include <asm/msr.h>
#include <asm/processor.h>
/* Fields after the version load, the version re-check after the fields. */
#define pvtime_rmb()		virt_rmb()
/* The odd version before the fields, the fields before the even version. */
#define pvtime_wmb()		virt_wmb()
#define pvtime_rdtsc()		rdtsc_ordered()
#define pvtime_cpu_relax()	cpu_relax()
#else
#include <errno.h>
#include <stdbool.h>
#include <x86intrin.h>
/* As in the kernel branch; __always_inline comes from glibc's sys/cdefs.h. */
#define pvtime_rmb()		__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define pvtime_wmb()		__atomic_thread_fence(__ATOMIC_RELEASE)
#ifndef READ_ONCE
/* Relaxed atomics: one untorn access each, never merged or repeated. */
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#endif
/*
 * A test may define pvtime_rdtsc() and pvtime_cpu_relax() before including
 * this file, to run the readers on a TSC it controls and count their steps.
 */
#ifndef pvtime_rdtsc
/* lfence keeps rdtsc from running ahead of the version load before it. */
static __always_inline __u64 pvtime_rdtsc(void)
{
	_mm_lfence();
	return __rdtsc();
}
#endif
#ifndef pvtime_cpu_relax
#define pvtime_cpu_relax()	_mm_pause()
#endif
#endif

#define PVTIME_NSEC_PER_SEC	1000000000ull

/* Default bound on version retries before a reader gives up (-EAGAIN). */
#define PVTIME_READ_MAX_TRIES	1024u

/*
 * Largest |tsc_shift| a record may carry: 1 Hz to beyond any TSC fits well
 * inside it, and shifting a 128-bit product by it is defined.
 */
#define PVTIME_SHIFT_MAX	63

static __always_inline bool pvtime_shift_valid(__s8 shift)
{
	return shift >= -PVTIME_SHIFT_MAX && shift <= PVTIME_SHIFT_MAX;
}

/*
 * Nanoseconds for a TSC delta, with the record's mul and shift.  The caller
 * checks the shift (pvtime_shift_valid()); an invalid one gives 0 rather
 * than undefined behaviour.
 */
static __always_inline __u64 pvtime_scale_delta(__u64 delta, __u32 mul, __s8 shift)
{
	unsigned __int128 scaled = delta;

	if (!pvtime_shift_valid(shift))
		return 0;
	if (shift < 0)
		scaled >>= -shift;
	else
		scaled <<= shift;
	return (__u64)((scaled * mul) >> 32);
}

/* Frequency encoded by (mul, shift), in Hz, rounded down; 0 if invalid. */
static __always_inline __u64 pvtime_hz_from_scale(__u32 mul, __s8 shift)
{
	__u64 hz;

	if (!mul || !pvtime_shift_valid(shift))
		return 0;
	hz = (PVTIME_NSEC_PER_SEC << 32) / mul;
	return shift < 0 ? hz << -shift : hz >> shift;
}

struct pvtime_time_sample {
	__u64 tsc;		/* the TSC value the time was computed from */
	__u64 system_ns;	/* system time at that TSC */
	__u32 version;		/* record version the sample came from */
	__u8 flags;		/* record flags (PVTIME_FLAG_*) */
};

/*
 * Version-checked read of one vCPU's record.  Returns 0, or -EAGAIN when the
 * record stayed odd or kept changing for max_tries attempts; then
 * out->version is the last version seen and nothing else in *out is set.
 * A consistent record with an invalid tsc_shift gives -ERANGE at once (out
 * as for -EAGAIN, version even): retrying would read the same record.
 *
 * stuck: an odd version at which an earlier read gave up (out->version of
 * that -EAGAIN), or any even value for none.  While the record still shows
 * that version the read gives up at once instead of waiting max_tries
 * again, so a record the hyp abandoned costs one wait, not one per read.
 */
static __always_inline int pvtime_time_read_stuck(const pvtime_time_info_t *ti,
						  unsigned int max_tries, __u32 stuck,
						  struct pvtime_time_sample *out)
{
	unsigned int tries;
	__u32 version = 0;

	for (tries = 0; tries < max_tries; tries++) {
		__u64 tsc_timestamp, system_time, tsc;
		__s64 delta;
		__u32 mul;
		__s8 shift;
		__u8 flags;

		version = READ_ONCE(ti->version);
		if (version & 1) {
			/* Being rewritten: wait, the fields are not worth reading. */
			if (version == stuck)
				break;
			pvtime_cpu_relax();
			continue;
		}
		pvtime_rmb();
		tsc_timestamp = READ_ONCE(ti->tsc_timestamp);
		system_time = READ_ONCE(ti->system_time);
		mul = READ_ONCE(ti->tsc_to_system_mul);
		shift = READ_ONCE(ti->tsc_shift);
		flags = READ_ONCE(ti->flags);
		tsc = pvtime_rdtsc();
		pvtime_rmb();
		if (version != READ_ONCE(ti->version))
			continue;
		if (!pvtime_shift_valid(shift)) {
			out->version = version;
			return -ERANGE;
		}
		/* A TSC behind the anchor counts as the anchor: no wrap. */
		delta = (__s64)(tsc - tsc_timestamp);
		if (delta < 0)
			delta = 0;
		out->tsc = tsc;
		out->system_ns = system_time +
			pvtime_scale_delta((__u64)delta, mul, shift);
		out->version = version;
		out->flags = flags;
		return 0;
	}
	out->version = version;
	return -EAGAIN;
}

static __always_inline int pvtime_time_read(const pvtime_time_info_t *ti,
					    unsigned int max_tries,
					    struct pvtime_time_sample *out)
{
	return pvtime_time_read_stuck(ti, max_tries, 0, out);
}

/*
 * Consistent copy of a record (for inspection; no TSC involved).  Every try
 * copies the fields, so *out is always written (torn on -EAGAIN); callers
 * that ignore the result rely on that.  A consistent copy with an invalid
 * tsc_shift gives -ERANGE, so no caller scales with it unawares.
 */
static __always_inline int pvtime_time_snapshot(const pvtime_time_info_t *ti,
						unsigned int max_tries,
						pvtime_time_info_t *out)
{
	unsigned int tries;

	for (tries = 0; tries < max_tries; tries++) {
		__u32 version = READ_ONCE(ti->version);

		pvtime_rmb();
		out->tsc_timestamp = READ_ONCE(ti->tsc_timestamp);
		out->system_time = READ_ONCE(ti->system_time);
		out->tsc_to_system_mul = READ_ONCE(ti->tsc_to_system_mul);
		out->tsc_shift = READ_ONCE(ti->tsc_shift);
		out->flags = READ_ONCE(ti->flags);
		pvtime_rmb();
		if ((version & 1) || version != READ_ONCE(ti->version))
			continue;
		out->version = version;
		return pvtime_shift_valid(out->tsc_shift) ? 0 : -ERANGE;
	}
	return -EAGAIN;
}

/* Wall clock at system time 0, in ns since the epoch (wc_sec_hi included). */
static __always_inline int pvtime_wallclock_read(const struct shared_info *si,
						 unsigned int max_tries, __s64 *wc_ns)
{
	unsigned int tries;

	for (tries = 0; tries < max_tries; tries++) {
		__u32 version = READ_ONCE(*pvtime_wc_version(si));
		__u64 sec;
		__u32 nsec;

		if (version & 1) {
			pvtime_cpu_relax();
			continue;
		}
		pvtime_rmb();
		sec = READ_ONCE(*pvtime_wc_sec(si)) |
		      ((__u64)READ_ONCE(*pvtime_wc_sec_hi(si)) << 32);
		nsec = READ_ONCE(*pvtime_wc_nsec(si));
		pvtime_rmb();
		if (version != READ_ONCE(*pvtime_wc_version(si)))
			continue;
		*wc_ns = (__s64)(sec * PVTIME_NSEC_PER_SEC + nsec);
		return 0;
	}
	return -EAGAIN;
}

#ifndef __KERNEL__
/*
 * Userspace only (the hyp and the tests): mul/shift for a frequency in Hz,
 * chosen so that mul is in [2^31, 2^32) for the best resolution, rounded
 * to nearest.  Returns -EINVAL for 0 Hz or rates the encoding cannot hold.
 */
static inline int pvtime_scale_from_hz(__u64 hz, __u32 *mul, __s8 *shift)
{
	unsigned __int128 numerator;
	__u64 scaled = hz;
	int s = 0;

	if (hz == 0)
		return -EINVAL;
	while (scaled > 2 * PVTIME_NSEC_PER_SEC) {
		scaled >>= 1;
		s--;
	}
	while (scaled <= PVTIME_NSEC_PER_SEC) {
		scaled <<= 1;
		s++;
	}
	for (;;) {
		unsigned __int128 m;

		/* mul = 1e9 * 2^(32 - s) / hz, with the full hz, rounded. */
		numerator = (unsigned __int128)PVTIME_NSEC_PER_SEC << (32 - s);
		m = (numerator + hz / 2) / hz;
		/* A larger shift halves mul, a smaller one doubles it. */
		if (m >= ((unsigned __int128)1 << 32)) {
			s++;	/* rounding reached 2^32: halve the resolution */
			continue;
		}
		if (m < ((unsigned __int128)1 << 31)) {
			/*
			 * hz just above 2e9 * 2^k: the shifts above truncated
			 * it onto the bound and kept one shift too many.
			 */
			s--;
			continue;
		}
		*mul = (__u32)m;
		break;
	}
	if (s < -PVTIME_SHIFT_MAX || s > PVTIME_SHIFT_MAX)
		return -EINVAL;
	*shift = (__s8)s;
	return 0;
}

/*
 * Writer side of the version protocol (the hyp).  A record found odd (a
 * previous writer died mid-update, or fresh garbage) is first made even so
 * readers see a clean odd->even transition.
 */
static inline void pvtime_time_write(pvtime_time_info_t *ti,
				     const pvtime_time_info_t *val)
{
	__u32 version = READ_ONCE(ti->version);

	if (version & 1)
		version++;
	WRITE_ONCE(ti->version, version + 1);
	pvtime_wmb();
	WRITE_ONCE(ti->tsc_timestamp, val->tsc_timestamp);
	WRITE_ONCE(ti->system_time, val->system_time);
	WRITE_ONCE(ti->tsc_to_system_mul, val->tsc_to_system_mul);
	WRITE_ONCE(ti->tsc_shift, val->tsc_shift);
	WRITE_ONCE(ti->flags, val->flags);
	pvtime_wmb();
	WRITE_ONCE(ti->version, version + 2);
}

static inline void pvtime_wallclock_write(struct shared_info *si, __s64 wc_ns)
{
	__u32 version = READ_ONCE(*pvtime_wc_version(si));
	__u64 sec = (__u64)wc_ns / PVTIME_NSEC_PER_SEC;

	if (version & 1)
		version++;
	WRITE_ONCE(*pvtime_wc_version(si), version + 1);
	pvtime_wmb();
	WRITE_ONCE(*pvtime_wc_sec(si), (__u32)sec);
	WRITE_ONCE(*pvtime_wc_sec_hi(si), (__u32)(sec >> 32));
	WRITE_ONCE(*pvtime_wc_nsec(si), (__u32)((__u64)wc_ns % PVTIME_NSEC_PER_SEC));
	pvtime_wmb();
	WRITE_ONCE(*pvtime_wc_version(si), version + 2);
}
#endif /* !__KERNEL__ */

#endif /* PVCLOCK_MATH_H */
