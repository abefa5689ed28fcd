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

#include "clock/clock_policy.h"
#include "clock/drift.h"
#include "clock/shm.h"
#include "clock/time_function.h"
#include "clock/tsc_evidence.h"
#include "core/ratelimit.h"

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

/*
 * Continuous calibration (Xen's local_time_calibration, per guest): every
 * guest sample is compared with the domain's offset, and the records are
 * steered so that what the guest shows follows the reference.
 */
/* Samples per vCPU the guest is asked for: one every this many ms. */
#define RECORDS_CALIBRATION_MS		1000
/*
 * An adopted domain's TSC_STABLE survives this many periods while its
 * vCPUs confirm again: the evidence it rested on was at most this old,
 * give or take the time without pvtimed.  A moved offset ends it.
 */
#define RECORDS_ADOPT_GRACE_PERIODS	RECORDS_EVIDENCE_MAX_PERIODS
/*
 * TSC_STABLE needs every vCPU's evidence younger than this many periods.
 * A loaded host leaves some rounds without a probe good enough to submit,
 * and every TSC_STABLE flip costs the guest a clocksource switch (which
 * also resets its NTP state), so this is generous.
 */
#define RECORDS_EVIDENCE_MAX_PERIODS	10
/*
 * Leads smaller than this are left alone.  A lead comes from a moved or
 * refined offset, and each correction costs the guest a rate change, so
 * it is a little above what a tight probe can prove (TCG reads a TSC
 * offset with ~100 ns of jitter), and far below the 1 us the wall clock
 * is held to.
 */
#define RECORDS_LEAD_DEADBAND_NS	200
/* A tighter probe must prove the offset wrong by more than this. */
#define RECORDS_REFINE_MIN_NS		200
/*
 * A move larger than this is a real move, not a refinement: every vCPU
 * confirms it again, and TSC_STABLE waits (STABLE_REFUSED_HOLD_NS).
 */
#define RECORDS_MOVE_CONFIRM_NS		5000
/* A guest this far behind is stopped time, handled by the policy. */
#define RECORDS_STEP_MIN_NS		1000000
/*
 * clock = "virtual": under QEMU -icount the guest TSC counts virtual
 * nanoseconds, so the records' rate is exactly this (mul 2^31, shift 1).
 */
#define RECORDS_VIRTUAL_HZ		1000000000ull
/* Small corrections are slewed to nothing over about this long... */
#define RECORDS_SLEW_PERIOD_NS		500000000ull
/* ...at a rate within these bounds (ppm). */
#define RECORDS_SLEW_MIN_PPM		100
#define RECORDS_SLEW_MAX_PPM		100000

struct domain_clock {
	/* Serialises writers of records, the wall clock and fields below. */
	pthread_mutex_t lock;
	const char *name;		/* the domain's, for messages */
	uint32_t nr_vcpus;
	uint64_t tsc_hz;		/* true host rate the domain follows */
	int32_t freq_ppm;		/* injected: records run this much fast */
	uint64_t records_hz;		/* rate the records encode */
	/*
	 * ref: host TSC -> the system time the domain should show (plus
	 * lag_ns).  fn: host TSC -> what its records show, vCPU 0's
	 * (unskewed); it leaves ref only while a correction is under way.
	 */
	struct time_function ref;
	struct time_function fn;

	enum tsc_stable_policy stable_policy;
	struct tsc_evidence evidence;
	bool offset_known;
	int64_t guest_tsc_offset;	/* the offset the records encode */
	uint64_t handshake_rtt_cycles;
	uint32_t generation;
	uint8_t flags;			/* flags in the records now */
	uint64_t stable_hold_until_tsc;	/* no TSC_STABLE before this */
	/* Adopted: TSC_STABLE kept until here while vCPUs confirm again. */
	uint64_t stable_grace_until_tsc;
	bool stable_rate_hold;		/* TSC_STABLE cleared for a rate change */
	struct ratelimit stable_rl;	/* TSC_STABLE transition messages */

	/* Steering (records_submit_offset). */
	enum stopped_time_policy stopped_policy;
	uint32_t stopped_slew_ppm;
	int32_t slew_ppm;		/* records run this much fast (<0 slow) */
	uint64_t slew_end_tsc;		/* when the lead is expected gone */
	int64_t lag_ns;			/* kept behind ref (keep policy): drift */
	int64_t last_lead_ns;		/* fn - (ref - lag) at the last sample */
	uint64_t last_lead_tsc;
	bool correction_pending;	/* a step waits for a kernel-path sample */
	uint64_t offset_moves;
	uint64_t forward_steps;
	uint64_t forward_step_ns_total;
	int64_t last_forward_step_ns;
	/*
	 * Every forward jump of fn (steps, skips, injections), published as
	 * control->records_jumped_ns; carried over from the shared memory by
	 * an adopting pvtimed and by a restore.
	 */
	uint64_t records_jumped_ns;
	uint64_t slews;
	uint64_t kept_ns_total;		/* lag added by the keep policy */
	struct ratelimit steer_rl;	/* step/slew messages */
	/* Arms a stability re-check in ns (slew ends); may be NULL. */
	void (*recheck_in)(uint64_t ns);

	int64_t skew_ns;		/* injected per-vCPU skew */
	uint32_t odd_vcpus;		/* bit n: vCPU n's record held odd */
	bool guest_stopped_shown;	/* records carry GUEST_STOPPED now */
	uint64_t guest_stopped_tsc;	/* since when */

	uint64_t reanchors;
	uint64_t follow_changes;	/* rate changes from the host clock follower */
	uint64_t rounding_bias_sum;	/* 2^-32 ns, over all re-anchors */
	uint64_t rate_term_sum_ns;
	uint64_t last_write_cycles;	/* time the last full rewrite took */
	uint64_t window_overruns;	/* rate changes rewritten too slowly */

	uint64_t resume_tsc;		/* last resume, until its correction */
	uint64_t resume_correction_ns;	/* resume to correction, last time */
	bool paused;			/* QEMU stopped the guest (domain.c counts) */

	int64_t wall_offset_ns;
	bool wc_published;
	int64_t published_wc_ns;

	/*
	 * Virtual time (records_set_clock_mode).  With CLOCK_MODE_VIRTUAL,
	 * fn maps the guest TSC itself (virtual ns) to what the records
	 * show, guest_tsc_offset stays 0 and samples never move or steer
	 * it: they only measure the drift, ref (host time) minus fn at the
	 * sample's guest TSC.  virtual_guest_tsc is the latest guest TSC a
	 * sample showed (re-anchors go there: the guest TSC is past it).
	 */
	enum clock_mode mode;
	uint64_t virtual_guest_tsc;
	uint64_t virtual_host_tsc;
	/* Drift and its give-back (drift.h), both clock modes. */
	struct drift_account drift;
	bool drift_slewing;		/* the slew under way gives drift back */
	bool skip_pending;		/* a skip waits for a kernel-path sample */
};

/*
 * What a new pvtimed needs, besides the shared memory itself, to take a
 * running domain's clock over (domain_state.c keeps it on disk).  The
 * records in shared memory are the truth for what the guest reads; this
 * adds what they cannot say: the reference, a correction under way, the
 * wall offset and the counters.
 */
struct records_state {
	uint64_t tsc_hz;
	int32_t freq_ppm;
	struct time_function ref;
	struct time_function fn;
	int64_t lag_ns;
	int32_t slew_ppm;
	uint64_t slew_end_tsc;
	int64_t wall_offset_ns;
	bool paused;
	uint64_t offset_rtt_cycles;	/* of the sample that set the offset */
	bool periodic;			/* the guest calibrates periodically */
	uint64_t offset_moves;
	uint64_t forward_steps;
	uint64_t forward_step_ns_total;
	uint64_t slews;
	uint64_t kept_ns_total;
};

/*
 * pvxl save / restore (domain/save_file.h): what a stopped domain's clock
 * showed, in terms that do not depend on the host it ran on.  The records
 * mapped guest TSC g to shown_anchor_ns + (g - guest_tsc_anchor) scaled by
 * (mul, shift); the guest TSC stood at guest_tsc_at_stop; the reference
 * read ref_at_stop_ns at host CLOCK_REALTIME realtime_at_stop_ns.
 */
struct records_image {
	bool offset_known;		/* false: the guest never read records */
	uint64_t guest_tsc_anchor;
	uint64_t shown_anchor_ns;
	uint32_t mul;
	int8_t shift;
	uint64_t guest_tsc_at_stop;
	uint64_t shown_at_stop_ns;	/* for information: fn at the stop */
	uint64_t ref_at_stop_ns;
	int64_t realtime_at_stop_ns;
	uint64_t host_tsc_at_stop;	/* the saving host's TSC then */
	int64_t lag_ns;
	int64_t wall_offset_ns;
	bool periodic;			/* the guest calibrated periodically */
	uint64_t host_tsc_hz;		/* the saving host's, for information */
};

/*
 * The image of a paused clock whose guest TSC stopped at host TSC
 * stop_tsc, which was host CLOCK_REALTIME realtime_at_stop_ns.
 */
void records_image_at_stop(struct domain_clock *clk, uint64_t stop_tsc,
			   int64_t realtime_at_stop_ns,
			   struct records_image *img);

/*
 * A clock for a restored domain whose QEMU has not run yet: at host TSC
 * now_tsc the guest TSC still stands at img->guest_tsc_at_stop, so that
 * is the offset assumed until the guest's samples say better (they move
 * it without changing what the records show).  The records show exactly
 * what they showed at the stop (the same function of the guest TSC, at
 * this host's rate from now on, anchored at or before now_tsc); the
 * reference has gone on since: with same_tsc (the host and boot that
 * saved it) by this TSC since img->host_tsc_at_stop at the reference's
 * rate, as across a pause; otherwise by host CLOCK_REALTIME since
 * img->realtime_at_stop_ns (now_realtime_ns), never backwards.  The clock
 * starts paused: records_restored_publish once QEMU has loaded the
 * stream, then records_guest_resumed applies the stopped-time policy.
 */
int domain_clock_restore(struct domain_clock *clk, const char *name,
			 uint32_t nr_vcpus, enum tsc_stable_policy policy,
			 uint64_t tsc_hz, const struct records_image *img,
			 uint64_t now_tsc, bool same_tsc,
			 int64_t now_realtime_ns);

/*
 * QEMU has loaded the stream (which overwrote the shared memory with what
 * it held at the save): write the guest TSC offset, the rate and every
 * record, with GUEST_STOPPED and without TSC_STABLE.  Returns whether the
 * records are live.
 */
bool records_restored_publish(struct domain_clock *clk, struct pvtime_shm *shm);

/* A consistent copy of what records_state holds (takes the lock). */
void records_save_state(struct domain_clock *clk, struct records_state *st);

/* How domain_clock_adopt found the records. */
struct records_adoption {
	bool live;		/* the guest had its offset: records in use */
	bool state_current;	/* saved fn == the records': reference kept */
	bool torn;		/* a record or the wall clock was left odd */
	uint32_t source_vcpu;	/* whose record the function came from */
};

/*
 * Take over a domain's clock from the records a previous pvtimed left in
 * shm and the state it saved: nothing the guest reads changes, except
 * that a record left odd (pvtimed killed mid-write) is rewritten from an
 * intact one.  Returns 0 or -errno (-EPROTO: the records cannot be used).
 */
int domain_clock_adopt(struct domain_clock *clk, const char *name,
		       uint32_t nr_vcpus, enum tsc_stable_policy policy,
		       struct pvtime_shm *shm, const struct records_state *saved,
		       struct records_adoption *how);

int domain_clock_init(struct domain_clock *clk, const char *name,
		      uint64_t tsc_hz, uint32_t nr_vcpus,
		      enum tsc_stable_policy policy);
void domain_clock_fini(struct domain_clock *clk);

/*
 * The reference system time (ns since creation) at a host TSC value, what
 * wc pairs with; caller holds lock.
 */
uint64_t domain_clock_system_ns(const struct domain_clock *clk,
				uint64_t host_tsc);

enum offset_outcome {
	OFFSET_ADOPTED,		/* first probe: records are live now */
	OFFSET_AGREED,
	OFFSET_MOVED,		/* the domain's offset moved to this one */
	OFFSET_BAD_VCPU,	/* answered -EINVAL */
};

/*
 * A guest's SET_OFFSET from 'vcpu' (sample_flags: PVTIME_SAMPLE_F_*).  The
 * first adopts the offset and brings the records up; later ones are
 * evidence for TSC_STABLE and calibration: a moved offset is taken over
 * without any change in what the records show, then the records are
 * steered back onto the reference (records.c: steer_locked).  *ring is
 * set when the caller must ring PVTIME_VEC_RECORDS.
 */
enum offset_outcome records_submit_offset(struct domain_clock *clk,
					  struct pvtime_shm *shm, uint32_t vcpu,
					  int64_t offset, uint64_t rtt_cycles,
					  uint32_t sample_flags, bool *ring);

/*
 * The clock mode and drift policy (domain config), before the guest runs.
 * CLOCK_MODE_VIRTUAL puts the records on the guest TSC at
 * RECORDS_VIRTUAL_HZ: system time = the guest TSC in ns, plus whatever
 * drift was given back; on an adopted clock (records live) it only
 * marks fn as the guest TSC's, which it already is.  Returns 0 or
 * -errno.
 */
int records_set_clock_mode(struct domain_clock *clk, enum clock_mode mode,
			   const struct drift_policy *drift);

/*
 * A virtual-time domain's SET_OFFSET (records_submit_offset's twin): the
 * guest's TSC was guest_tsc at host TSC host_tsc.  The first one brings
 * the records up; every one measures the drift and may give some back
 * under the drift policy.  Never moves the records back.
 */
enum offset_outcome records_submit_virtual_sample(struct domain_clock *clk,
						  struct pvtime_shm *shm,
						  uint32_t vcpu,
						  uint64_t guest_tsc,
						  uint64_t host_tsc,
						  uint32_t sample_flags,
						  bool *ring);

/*
 * A virtual-time domain's drift at a guest TSC read at host TSC host_tsc:
 * how far its records are behind its reference there.  A guest TSC behind
 * the latest sample's (stale or made up) gives the latest measurement.
 * Caller holds lock.
 */
int64_t records_virtual_drift_at_locked(const struct domain_clock *clk,
					uint64_t guest_tsc, uint64_t host_tsc);

/* Once a second: measure a host-time domain's drift; keep the history. */
void records_drift_tick(struct domain_clock *clk);

/* Set the stopped-time policy (domain config) before the guest runs. */
void records_set_stopped_policy(struct domain_clock *clk,
				enum stopped_time_policy policy,
				uint32_t slew_ppm);

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
 * The host's clock moved to hz cycles per CLOCK_MONOTONIC second
 * (host_clock_follow.c).  Like records_set_rate, but with no reader
 * window: a follower's change is a few ppm at most, and a window would
 * start a slower rate ahead of the host by its length times the change,
 * an error nobody then removes.  TSC_STABLE still goes first, so readers
 * keep their guard over the rewrite.  Returns 0 or -EINVAL.
 */
int records_follow_rate(struct domain_clock *clk, struct pvtime_shm *shm,
			uint64_t hz, bool *ring);
/*
 * No TSC_STABLE for ns from now (a longer hold stays): a rate change is
 * coming.  True when the records changed (ring the records doorbell).
 */
bool records_hold_stable(struct domain_clock *clk, struct pvtime_shm *shm,
			 uint64_t ns);

/*
 * Inject a per-vCPU skew (0 removes it).  TSC_STABLE is cleared while a
 * skew is in place and stays clear for long enough after its removal that
 * every vCPU has passed the time it showed before.
 */
bool records_set_skew(struct domain_clock *clk, struct pvtime_shm *shm,
		      int64_t skew_ns);

/*
 * Fault injection: TSC_STABLE withdrawn for hold_ns and the records
 * stepped jump_ns forward at once, as a step is when the hyp acts on a
 * sample that said the guest reads the records while it was already
 * switching to its raw-TSC fast path.  The guest's clock must follow
 * the jump all the same; the records then lead the host by jump_ns and
 * are slewed back.  Returns 0 (ring RECORDS), -ENODATA before the
 * guest's TSC offset is known (nothing done), or the re-anchor's -errno
 * (TSC_STABLE withdrawn, no jump).
 */
int records_jump_unannounced(struct domain_clock *clk, struct pvtime_shm *shm,
			     uint64_t jump_ns, uint64_t hold_ns);

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
 * QMP "stop" took effect: from now on the guest TSC stands still (QEMU's
 * cpu_disable_ticks) until records_guest_resumed.  How long it stood
 * still is the domain's to count (domain.c); the records learn the lead
 * from the guest's next samples.
 */
void records_guest_paused(struct domain_clock *clk);

/*
 * QMP "cont" took effect around host TSC cont_tsc.  Marks the records GUEST_STOPPED,
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

/*
 * What the records show minus what the domain should read, at host TSC
 * host_tsc (non-zero while a correction is under way); caller holds lock.
 */
int64_t records_lead_ns_locked(const struct domain_clock *clk,
			       uint64_t host_tsc);

/* Whether TSC_STABLE is what the records should carry now. */
bool records_stable_allowed(const struct domain_clock *clk, uint64_t now_tsc);

#endif /* PVTIMED_RECORDS_H */
