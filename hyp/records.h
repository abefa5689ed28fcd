/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A domain's clock and the records that publish it.  The domain holds one
 * time function (time_function.h): host TSC -> system time.  Records
 * encode it for the guest's TSC (host TSC + the adopted offset); vCPU n's
 * record reads n * skew_ns ahead while a skew is injected.  Every change of
 * the function goes through one re-anchor, so no reader ever sees time
 * step back; flags (TSC_STABLE) follow the per-vCPU offset evidence (a
 * disagreeing vCPU holds TSC_STABLE off for at least a second).
 *
 * Functions returning bool say whether record flags or the rate changed,
 * i.e. whether the caller must ring PVTIME_VEC_RECORDS.
 */
#ifndef PVTIMED_RECORDS_H
#define PVTIMED_RECORDS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "domain_config.h"
#include "ratelimit.h"
#include "shm.h"
#include "time_function.h"
#include "tsc_evidence.h"

/* Anchor candidates searched for the least rounding (time_function.h). */
#define RECORDS_ANCHOR_CANDIDATES	256
/*
 * Reader window a rate change covers.  Rewriting every record takes a
 * microsecond; the margin is for pvtimed being preempted mid-rewrite.  A
 * slower rate starts this window's rate difference ahead (20 us for 1000
 * ppm, under 1 ns for a refinement).
 */
#define RECORDS_WINDOW_MS		20
/* TSC_STABLE is held off this long after a rate change. */
#define RECORDS_RATE_HOLD_NS	(RECORDS_WINDOW_MS * 1000000ull + 100000000ull)

struct domain_clock {
	/* Serialises writers of records, the wall clock and fields below. */
	pthread_mutex_t lock;
	const char *name;		/* the domain's, for messages */
	uint32_t nr_vcpus;
	uint64_t tsc_hz;		/* true host rate the domain follows */
	int32_t freq_ppm;		/* injected: records run this much fast */
	uint64_t records_hz;		/* rate the records encode */
	struct time_function fn;	/* vCPU 0's (unskewed) function */

	enum tsc_stable_policy stable_policy;
	struct tsc_evidence evidence;
	bool offset_known;
	int64_t guest_tsc_offset;
	uint64_t handshake_rtt_cycles;
	uint32_t generation;
	uint8_t flags;			/* flags in the records now */
	uint64_t stable_hold_until_tsc;	/* no TSC_STABLE before this */
	bool stable_rate_hold;		/* TSC_STABLE cleared for a rate change */
	struct ratelimit stable_rl;	/* TSC_STABLE transition messages */

	int64_t skew_ns;		/* injected per-vCPU skew */
	uint32_t odd_vcpus;		/* bit n: vCPU n's record held odd */
	bool guest_stopped_shown;	/* records carry GUEST_STOPPED now */
	uint64_t guest_stopped_tsc;	/* since when */

	uint64_t reanchors;
	uint64_t rounding_bias_sum;	/* 2^-32 ns, over all re-anchors */
	uint64_t rate_term_sum_ns;
	uint64_t last_write_cycles;	/* time the last full rewrite took */
	uint64_t window_overruns;	/* rate changes rewritten too slowly */

	bool paused;			/* QEMU stopped the guest */
	uint64_t pause_stop_tsc;	/* host TSC when it did */

	int64_t wall_offset_ns;
	bool wc_published;
	int64_t published_wc_ns;
};

int domain_clock_init(struct domain_clock *clk, const char *name,
		      uint64_t tsc_hz, uint32_t nr_vcpus,
		      enum tsc_stable_policy policy);
void domain_clock_fini(struct domain_clock *clk);

/* System time (ns since creation) at a host TSC value; caller holds lock. */
uint64_t domain_clock_system_ns(const struct domain_clock *clk,
				uint64_t host_tsc);

enum offset_outcome {
	OFFSET_ADOPTED,		/* first probe: records are live now */
	OFFSET_AGREED,
	OFFSET_DISAGREED,	/* answered -ERANGE */
	OFFSET_BAD_VCPU,	/* answered -EINVAL */
};

/*
 * A guest's SET_OFFSET from 'vcpu'.  The first adopts the offset and brings
 * the records up; later ones are evidence for TSC_STABLE.  *ring is set
 * when the caller must ring PVTIME_VEC_RECORDS.
 */
enum offset_outcome records_submit_offset(struct domain_clock *clk,
					  struct pvtime_shm *shm, uint32_t vcpu,
					  int64_t offset, uint64_t rtt_cycles,
					  bool *ring);

/* Re-anchor every record now at the current rate. */
void records_reanchor(struct domain_clock *clk, struct pvtime_shm *shm);

/*
 * New true rate and/or injected step.  Returns -EINVAL for bad rates.  When
 * the function changes TSC_STABLE is cleared on every record before any
 * record gets the new function, and held off for RECORDS_WINDOW_MS plus a
 * margin (records_refresh_stability brings it back).
 */
int records_set_rate(struct domain_clock *clk, struct pvtime_shm *shm,
		     uint64_t tsc_hz, int32_t freq_ppm, bool *ring);

/*
 * Inject a per-vCPU skew (0 removes it).  TSC_STABLE is cleared while a
 * skew is in place and stays clear for long enough after its removal that
 * every vCPU has passed the time it showed before.
 */
bool records_set_skew(struct domain_clock *clk, struct pvtime_shm *shm,
		      int64_t skew_ns);

/* Leave a vCPU's record version odd, or write it again. */
void records_hold_odd(struct domain_clock *clk, struct pvtime_shm *shm,
		      uint32_t vcpu);
void records_release_odd(struct domain_clock *clk, struct pvtime_shm *shm,
			 uint32_t vcpu);

/*
 * Rewrite every record once with PVTIME_FLAG_GUEST_STOPPED; the next
 * rewrite drops it, at the latest the first records_refresh_stability a
 * second or more later.  Returns true (ring RECORDS: a flag changed) when
 * the records are live.
 */
bool records_mark_guest_stopped(struct domain_clock *clk,
				struct pvtime_shm *shm);

/*
 * QMP "stop" took effect around host TSC stop_tsc: from then on the guest
 * TSC stands still (QEMU's cpu_disable_ticks) until records_guest_resumed.
 */
void records_guest_paused(struct domain_clock *clk, uint64_t stop_tsc);

/*
 * QMP "cont" took effect around host TSC cont_tsc: the guest TSC offset
 * dropped by about cont_tsc - stop_tsc.  Marks the records GUEST_STOPPED,
 * holds TSC_STABLE off until the guest has calibrated again, and applies
 * the stopped-time policy to the interval.  Returns true when the caller
 * must ring PVTIME_VEC_RECORDS.
 */
bool records_guest_resumed(struct domain_clock *clk, struct pvtime_shm *shm,
			   uint64_t cont_tsc, enum stopped_time_policy policy,
			   uint32_t slew_ppm);

/*
 * Set or clear TSC_STABLE per policy, evidence and injections (and drop a
 * guest-stopped flag shown since the last call).
 */
bool records_refresh_stability(struct domain_clock *clk,
			       struct pvtime_shm *shm);

/* Whether TSC_STABLE is what the records should carry now. */
bool records_stable_allowed(const struct domain_clock *clk, uint64_t now_tsc);

#endif /* PVTIMED_RECORDS_H */
