// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <string.h>

#include "pvclock_math.h"
#include "clock/records.h"
#include "core/log.h"
#include "core/ratelimit.h"

/* Past a removed skew, TSC_STABLE waits this long on top of the lead. */
#define STABLE_HOLD_MARGIN_NS	100000000ull
/*
 * After a sample moved the offset beyond the dead band, TSC_STABLE stays
 * off at least this long even if every vCPU confirms at once: a guest
 * alternating cannot make the records flip (each a rewrite, a doorbell
 * and a log line) more than about once a second.
 */
#define STABLE_REFUSED_HOLD_NS	1000000000ull
/* TSC_STABLE transition messages per minute and domain. */
#define STABLE_LOG_BURST	10
#define STABLE_LOG_INTERVAL_NS	(60 * 1000000000ull)

/* What a fresh and an adopted clock share. */
static int clock_init_common(struct domain_clock *clk, const char *name,
			     uint64_t tsc_hz, uint32_t nr_vcpus,
			     enum tsc_stable_policy policy)
{
	int ret;

	memset(clk, 0, sizeof(*clk));
	clk->name = name;
	ret = pthread_mutex_init(&clk->lock, NULL);
	if (ret)
		return -ret;
	clk->tsc_hz = tsc_hz;
	clk->records_hz = tsc_hz;
	clk->nr_vcpus = nr_vcpus;
	clk->stable_policy = policy;
	clk->stable_rl = (struct ratelimit)RATELIMIT_INIT(STABLE_LOG_INTERVAL_NS,
							   STABLE_LOG_BURST);
	clk->steer_rl = (struct ratelimit)RATELIMIT_INIT(STABLE_LOG_INTERVAL_NS,
							  STABLE_LOG_BURST);
	tsc_evidence_init(&clk->evidence, nr_vcpus);
	return 0;
}

int domain_clock_init(struct domain_clock *clk, const char *name,
		      uint64_t tsc_hz, uint32_t nr_vcpus,
		      enum tsc_stable_policy policy)
{
	uint32_t mul;
	int8_t shift;
	int ret;

	ret = pvtime_scale_from_hz(tsc_hz, &mul, &shift);
	if (ret)
		return ret;
	ret = clock_init_common(clk, name, tsc_hz, nr_vcpus, policy);
	if (ret)
		return ret;
	clk->fn.mul = mul;
	clk->fn.shift = shift;
	clk->fn.anchor_tsc = pvtime_rdtsc();
	clk->fn.system_ns = 0;
	clk->ref = clk->fn;
	return 0;
}

void domain_clock_fini(struct domain_clock *clk)
{
	pthread_mutex_destroy(&clk->lock);
}

uint64_t domain_clock_system_ns(const struct domain_clock *clk,
				uint64_t host_tsc)
{
	return time_function_at(&clk->ref, host_tsc);
}

void records_set_stopped_policy(struct domain_clock *clk,
				enum stopped_time_policy policy,
				uint32_t slew_ppm)
{
	pthread_mutex_lock(&clk->lock);
	clk->stopped_policy = policy;
	clk->stopped_slew_ppm = slew_ppm;
	pthread_mutex_unlock(&clk->lock);
}

static uint64_t ns_to_cycles(const struct domain_clock *clk, uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * clk->tsc_hz / PVTIME_NSEC_PER_SEC);
}

static uint64_t cycles_to_ns(const struct domain_clock *clk, uint64_t cycles)
{
	return (uint64_t)((unsigned __int128)cycles * PVTIME_NSEC_PER_SEC /
			  clk->tsc_hz);
}

static uint64_t evidence_max_age_cycles(const struct domain_clock *clk)
{
	return ns_to_cycles(clk, RECORDS_EVIDENCE_MAX_PERIODS *
				 RECORDS_CALIBRATION_MS * 1000000ull);
}

/* Every vCPU agrees, and (with a calibrating guest) recently. */
static bool evidence_fresh_locked(const struct domain_clock *clk,
				  uint64_t now_tsc)
{
	return tsc_evidence_complete(&clk->evidence, now_tsc,
				     evidence_max_age_cycles(clk));
}

bool records_stable_allowed(const struct domain_clock *clk, uint64_t now_tsc)
{
	return clk->mode == CLOCK_MODE_HOST && !clk->skip_pending &&
	       clk->stable_policy == TSC_STABLE_AUTO && clk->offset_known &&
	       (evidence_fresh_locked(clk, now_tsc) ||
		(int64_t)(clk->stable_grace_until_tsc - now_tsc) > 0) &&
	       clk->skew_ns == 0 && !clk->slew_ppm && !clk->correction_pending &&
	       !clk->paused &&
	       (int64_t)(now_tsc - clk->stable_hold_until_tsc) >= 0;
}

static void record_for(const struct domain_clock *clk, uint32_t cpu,
		       uint8_t extra_flags, pvtime_time_info_t *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->tsc_timestamp = clk->fn.anchor_tsc + (uint64_t)clk->guest_tsc_offset;
	rec->system_time = clk->fn.system_ns + (uint64_t)clk->skew_ns * cpu;
	rec->tsc_to_system_mul = clk->fn.mul;
	rec->tsc_shift = clk->fn.shift;
	rec->flags = clk->flags | extra_flags;
}

/* The reader window in the TSC fn runs on (a virtual domain's: its guest's). */
static uint64_t window_cycles(const struct domain_clock *clk)
{
	uint64_t window = clk->mode == CLOCK_MODE_VIRTUAL ?
			  RECORDS_WINDOW_MS * 1000000ull :
			  ns_to_cycles(clk, RECORDS_WINDOW_MS * 1000000ull);

	return window < TIME_FUNCTION_MAX_WINDOW ? window : TIME_FUNCTION_MAX_WINDOW;
}

/* Rewrite every record not held odd; called with the lock held. */
static void write_records_locked(struct domain_clock *clk,
				 struct pvtime_shm *shm, uint8_t extra_flags)
{
	uint64_t start = pvtime_rdtsc();
	pvtime_time_info_t rec;
	uint32_t cpu;

	if (!clk->offset_known)
		return;
	/* Before the records: a guest sees no jump it was not told of. */
	WRITE_ONCE(shm->ctl->records_jumped_ns, clk->records_jumped_ns);
	pvtime_wmb();
	for (cpu = 0; cpu < clk->nr_vcpus; cpu++) {
		if (clk->odd_vcpus & (1u << cpu))
			continue;
		record_for(clk, cpu, extra_flags, &rec);
		pvtime_time_write(pvtime_vcpu_time(shm->si, cpu), &rec);
	}
	clk->guest_stopped_shown = extra_flags & PVTIME_FLAG_GUEST_STOPPED;
	clk->generation++;
	WRITE_ONCE(shm->ctl->records_generation, clk->generation);
	clk->last_write_cycles = pvtime_rdtsc() - start;
}

/*
 * Move the records' function to a new anchor (and maybe rate), covering a
 * reader window of 'window' cycles; lock held.
 */
/*
 * The latest TSC fn may be anchored at: the host's now, or for a
 * virtual-time domain the latest guest TSC a sample showed.
 */
static uint64_t fn_now_tsc(const struct domain_clock *clk)
{
	return clk->mode == CLOCK_MODE_VIRTUAL ? clk->virtual_guest_tsc :
						 pvtime_rdtsc();
}

static int reanchor_window_locked(struct domain_clock *clk, uint32_t mul,
				  int8_t shift, uint64_t window)
{
	struct reanchor_request req = {
		.now_tsc = fn_now_tsc(clk),
		.mul = mul,
		.shift = shift,
		.window_cycles = window,
		.candidates = RECORDS_ANCHOR_CANDIDATES,
	};
	struct reanchor_report rep;
	struct time_function next;
	int ret;

	ret = time_function_reanchor(&clk->fn, &req, &next, &rep);
	if (ret)
		return ret;
	clk->fn = next;
	clk->reanchors++;
	clk->rounding_bias_sum += rep.rounding_bias;
	clk->rate_term_sum_ns += rep.rate_term_ns;
	return 0;
}

static int reanchor_locked(struct domain_clock *clk, uint32_t mul, int8_t shift)
{
	return reanchor_window_locked(clk, mul, shift, window_cycles(clk));
}

/* The reference follows the true rate (and injections), never a slew. */
static int reanchor_ref_locked(struct domain_clock *clk, uint32_t mul,
			       int8_t shift)
{
	struct reanchor_request req = {
		.now_tsc = pvtime_rdtsc(), .mul = mul, .shift = shift,
		.window_cycles = 0, .candidates = 1,
	};
	struct reanchor_report rep;
	struct time_function next;
	int ret;

	if (mul == clk->ref.mul && shift == clk->ref.shift)
		return 0;
	ret = time_function_reanchor(&clk->ref, &req, &next, &rep);
	if (!ret)
		clk->ref = next;
	return ret;
}

/* No TSC_STABLE before now + ns (a later hold already in place stays). */
static void hold_stable_locked(struct domain_clock *clk, uint64_t ns)
{
	uint64_t until = pvtime_rdtsc() + ns_to_cycles(clk, ns);

	if ((int64_t)(until - clk->stable_hold_until_tsc) > 0)
		clk->stable_hold_until_tsc = until;
}

static bool refresh_flags_locked(struct domain_clock *clk)
{
	uint8_t flags = clk->flags & ~PVTIME_FLAG_TSC_STABLE;
	uint64_t now = pvtime_rdtsc();

	if (records_stable_allowed(clk, now))
		flags |= PVTIME_FLAG_TSC_STABLE;
	if (flags == clk->flags)
		return false;
	clk->flags = flags;
	if (clk->stable_rate_hold && (flags & PVTIME_FLAG_TSC_STABLE)) {
		/* Back after a rate change: routine (every TSC refinement). */
		clk->stable_rate_hold = false;
		log_debug("domain %s: TSC_STABLE set again after a rate change",
			  clk->name);
	} else if (clk->offset_known)
		log_ratelimited(&clk->stable_rl, LOG_LEVEL_INFO,
				"domain %s: TSC_STABLE %s (policy %s, evidence %s, skew %lld ns)",
			 clk->name, (flags & PVTIME_FLAG_TSC_STABLE) ? "set" : "cleared",
			 tsc_stable_policy_name(clk->stable_policy),
			 evidence_fresh_locked(clk, now) ? "complete" : "incomplete",
			 (long long)clk->skew_ns);
	return true;
}

/*
 * The guest's TSC offset moved by 'moved' cycles.  Take it over so that
 * the records show exactly what they showed: fn over host TSC shifts by
 * the same amount, and tsc_timestamp = anchor + offset is unchanged.
 */
/*
 * How far a guest's TSC offset moved, modulo 2^64 like the TSC arithmetic
 * it feeds: a guest chooses its offsets, and a plain signed difference of
 * two of them can overflow.
 */
static int64_t offset_moved_by(int64_t offset, int64_t from)
{
	return (int64_t)((uint64_t)offset - (uint64_t)from);
}

static void take_moved_offset_locked(struct domain_clock *clk,
				     struct pvtime_shm *shm, int64_t offset)
{
	int64_t moved = offset_moved_by(offset, clk->guest_tsc_offset);

	clk->fn.anchor_tsc -= (uint64_t)moved;
	clk->guest_tsc_offset = offset;
	clk->offset_moves++;
	WRITE_ONCE(shm->ctl->guest_tsc_offset, offset);
}

static uint64_t abs64(int64_t v)
{
	return v < 0 ? -(uint64_t)v : (uint64_t)v;
}

int64_t records_lead_ns_locked(const struct domain_clock *clk,
			       uint64_t now)
{
	uint64_t shown, target;

	/* fn runs on the guest TSC: the latest measurement says it. */
	if (clk->mode == CLOCK_MODE_VIRTUAL)
		return -clk->drift.current_ns;
	shown = time_function_at(&clk->fn, now);
	target = time_function_at(&clk->ref, now);
	return (int64_t)(shown - target) + clk->lag_ns;
}

/*
 * A rate change now or soon: no TSC_STABLE for ns (a longer hold stays),
 * and records that had it are rewritten without it before anything else
 * changes, so that readers keep their guard.  True when rewritten (ring
 * the records doorbell).  Lock held.
 */
static bool withdraw_stable_locked(struct domain_clock *clk,
				   struct pvtime_shm *shm, uint64_t ns)
{
	hold_stable_locked(clk, ns);
	if (!clk->offset_known || !(clk->flags & PVTIME_FLAG_TSC_STABLE))
		return false;
	clk->flags &= ~PVTIME_FLAG_TSC_STABLE;
	clk->stable_rate_hold = true;
	write_records_locked(clk, shm, 0);
	return true;
}

/*
 * fn's rate: the true one, plus an injected step, plus the slew.  When it
 * changes, TSC_STABLE goes first (every record rewritten without it: from
 * then on readers keep their guard), then the new function; it comes back
 * by records_refresh_stability once the reader window and a margin are
 * past.  A slew uses no reader window: the guard covers it, and a window
 * would start a slower rate that far ahead.  Lock held.
 */
static int apply_rate_locked(struct domain_clock *clk, struct pvtime_shm *shm,
			     uint64_t window, bool *ring)
{
	int32_t ppm = clk->freq_ppm + clk->slew_ppm;
	/* A virtual-time domain's fn runs on virtual ns, whatever the host's. */
	uint64_t fn_hz = clk->mode == CLOCK_MODE_VIRTUAL ? RECORDS_VIRTUAL_HZ :
							    clk->tsc_hz;
	uint32_t mul, ref_mul;
	int8_t shift, ref_shift;
	int ret;

	ret = time_function_scale(fn_hz, ppm, &mul, &shift);
	if (!ret)
		ret = time_function_scale(clk->tsc_hz, clk->freq_ppm, &ref_mul,
					  &ref_shift);
	if (ret)
		return ret;
	ret = reanchor_ref_locked(clk, ref_mul, ref_shift);
	if (ret || (mul == clk->fn.mul && shift == clk->fn.shift))
		return ret;
	if (clk->offset_known && withdraw_stable_locked(clk, shm,
							 RECORDS_RATE_HOLD_NS))
		*ring = true;
	ret = reanchor_window_locked(clk, mul, shift, window);
	if (ret)
		return ret;
	clk->records_hz = (uint64_t)(((unsigned __int128)fn_hz * 1000000 +
				      (uint64_t)(1000000 + ppm) / 2) /
				     (uint64_t)(1000000 + ppm));
	/* The rate the records encode, before they encode it. */
	WRITE_ONCE(shm->ctl->tsc_hz, clk->records_hz);
	pvtime_wmb();
	write_records_locked(clk, shm, 0);
	*ring = *ring || clk->offset_known;
	/* Past the window a reader of a not yet rewritten record may have
	 * run ahead of an updated one. */
	if (window && clk->offset_known && clk->mode == CLOCK_MODE_HOST &&
	    pvtime_rdtsc() - clk->fn.anchor_tsc > window) {
		clk->window_overruns++;
		log_warn("rate change: rewriting the records took longer than %d ms (pvtimed preempted?)",
			 RECORDS_WINDOW_MS);
	}
	return 0;
}

/* How long a slew at ppm takes to remove lead. */
static uint64_t slew_duration_ns(int64_t lead, uint64_t ppm)
{
	return (uint64_t)((unsigned __int128)abs64(lead) * 1000000 / ppm);
}

static void start_slew_locked(struct domain_clock *clk, struct pvtime_shm *shm,
			      int64_t lead, uint64_t ppm, uint64_t now,
			      bool *ring)
{
	uint64_t need_ns = slew_duration_ns(lead, ppm);

	clk->slew_ppm = lead > 0 ? -(int32_t)ppm : (int32_t)ppm;
	clk->slew_end_tsc = now + ns_to_cycles(clk, need_ns);
	clk->slews++;
	if (apply_rate_locked(clk, shm, 0, ring)) {
		clk->slew_ppm = 0;
		return;
	}
	log_ratelimited(&clk->steer_rl, LOG_LEVEL_INFO,
			"domain %s: guest clock %lld ns %s; slewing at %+d ppm for %llu ms",
			clk->name, (long long)abs64(lead),
			lead > 0 ? "ahead" : "behind", clk->slew_ppm,
			(unsigned long long)(need_ns / 1000000));
	if (clk->recheck_in)
		clk->recheck_in(need_ns);
}

static void end_slew_locked(struct domain_clock *clk, struct pvtime_shm *shm,
			    bool *ring)
{
	clk->slew_ppm = 0;
	apply_rate_locked(clk, shm, 0, ring);
}

/* A small lead is slewed away over RECORDS_SLEW_PERIOD_NS, within bounds. */
static uint64_t small_slew_ppm(int64_t lead)
{
	uint64_t ppm = abs64(lead) * 1000000 / RECORDS_SLEW_PERIOD_NS;

	if (ppm < RECORDS_SLEW_MIN_PPM)
		return RECORDS_SLEW_MIN_PPM;
	return ppm > RECORDS_SLEW_MAX_PPM ? RECORDS_SLEW_MAX_PPM : ppm;
}

/*
 * fn jumps ns forward from a fresh anchor (no reader window: the jump is
 * forward, so no reader can see time go back).  0, or the re-anchor's
 * -errno with fn unchanged.  Lock held.
 */
static int jump_fn_locked(struct domain_clock *clk, uint64_t ns)
{
	int ret = reanchor_window_locked(clk, clk->fn.mul, clk->fn.shift, 0);

	if (!ret) {
		clk->fn.system_ns += ns;
		clk->records_jumped_ns += ns;
	}
	return ret;
}

/* Forward to the reference: the guest's clock jumps ahead. */
static void step_forward_locked(struct domain_clock *clk,
				struct pvtime_shm *shm, int64_t lead)
{
	uint64_t jump = abs64(lead);

	if (jump_fn_locked(clk, jump))
		return;
	clk->forward_steps++;
	clk->forward_step_ns_total += jump;
	clk->last_forward_step_ns = (int64_t)jump;
	write_records_locked(clk, shm, 0);
	log_ratelimited(&clk->steer_rl, LOG_LEVEL_INFO,
			"domain %s: guest clock stepped forward by %llu ns onto the host's",
			clk->name, (unsigned long long)jump);
}

static bool steer_decide_locked(struct domain_clock *clk,
				struct pvtime_shm *shm, uint32_t sample_flags,
				int64_t lead, uint64_t now, bool *ring);

/*
 * Whether the guest reads the raw TSC (the fast path) now, so that a jump
 * of the records would never reach its clock.  Lock held.
 */
static bool on_fast_path_locked(const struct domain_clock *clk,
				uint32_t sample_flags)
{
	return (clk->flags & PVTIME_FLAG_TSC_STABLE) ||
	       (clk->evidence.periodic &&
		!(sample_flags & PVTIME_SAMPLE_F_KERNEL_PATH));
}

/*
 * Before a jump (a step or a skip): take the guest off the fast path.
 * *pending holds TSC_STABLE off until a kernel-path sample makes the
 * jump.  Lock held; returns whether the records were rewritten.
 */
static bool leave_fast_path_locked(struct domain_clock *clk,
				   struct pvtime_shm *shm, bool *pending,
				   bool *ring)
{
	*pending = true;
	if (!refresh_flags_locked(clk))
		return false;
	write_records_locked(clk, shm, 0);
	*ring = true;
	return true;
}

/* Steer after a sample (steer_decide_locked), noting the lead it saw. */
static bool steer_locked(struct domain_clock *clk, struct pvtime_shm *shm,
			 uint32_t sample_flags, bool *ring)
{
	uint64_t now = pvtime_rdtsc();
	int64_t lead = records_lead_ns_locked(clk, now);
	bool changed;

	clk->last_lead_ns = lead;
	clk->last_lead_tsc = now;
	changed = steer_decide_locked(clk, shm, sample_flags, lead, now, ring);
	/* The first decision after a resume that is not "wait": how long it took. */
	if (clk->resume_tsc && !clk->correction_pending) {
		clk->resume_correction_ns = cycles_to_ns(clk, now - clk->resume_tsc);
		clk->resume_tsc = 0;
	}
	return changed;
}

/*
 * Steer the records back onto the reference after a sample.  Ahead is
 * slewed (never a step back); a little behind is slewed too; far behind
 * is stopped time, and the domain's policy says what happens: a step
 * (which must wait until the guest runs on the records, not the raw-TSC
 * fast path, or its clock would never see it), a slew at the policy's
 * rate, or keeping the lag as drift.  Lock held; returns whether the
 * records were rewritten.
 */
static bool steer_decide_locked(struct domain_clock *clk,
				struct pvtime_shm *shm, uint32_t sample_flags,
				int64_t lead, uint64_t now, bool *ring)
{
	if (clk->slew_ppm) {
		bool done = abs64(lead) <= RECORDS_LEAD_DEADBAND_NS ||
			    (lead > 0) == (clk->slew_ppm > 0);

		if (done) {
			end_slew_locked(clk, shm, ring);
			return true;
		}
		clk->slew_end_tsc = now + ns_to_cycles(clk,
			slew_duration_ns(lead, abs64(clk->slew_ppm)));
		return false;
	}
	if (abs64(lead) <= RECORDS_LEAD_DEADBAND_NS) {
		clk->correction_pending = false;
		return false;
	}
	if (lead < -(int64_t)RECORDS_STEP_MIN_NS) {
		switch (clk->stopped_policy) {
		case STOPPED_TIME_KEEP:
			clk->lag_ns -= lead;
			clk->kept_ns_total += abs64(lead);
			clk->correction_pending = false;
			log_ratelimited(&clk->steer_rl, LOG_LEVEL_INFO,
					"domain %s: guest clock %llu ns behind; kept (drift now %lld ns)",
					clk->name, (unsigned long long)abs64(lead),
					(long long)clk->lag_ns);
			return false;
		case STOPPED_TIME_SLEW:
			clk->correction_pending = false;
			start_slew_locked(clk, shm, lead, clk->stopped_slew_ppm,
					  now, ring);
			return true;
		default:
			break;
		}
		/* Off the fast path first; the next sample steps. */
		if (on_fast_path_locked(clk, sample_flags))
			return leave_fast_path_locked(clk, shm,
						      &clk->correction_pending,
						      ring);
		clk->correction_pending = false;
		step_forward_locked(clk, shm, lead);
		*ring = true;
		return true;
	}
	start_slew_locked(clk, shm, lead, small_slew_ppm(lead), now, ring);
	return true;
}

/*
 * A host-time domain's drift: what the keep policy holds back, plus what
 * a give-back slew has yet to make good.  Lock held.
 */
static void measure_host_drift_locked(struct domain_clock *clk, uint64_t now)
{
	int64_t current = clk->lag_ns;
	int64_t given_back;

	if (clk->drift_slewing) {
		int64_t lead = records_lead_ns_locked(clk, now);

		if (lead < 0)
			current -= lead;
	}
	given_back = (int64_t)clk->kept_ns_total - current -
		     (int64_t)clk->drift.skipped_ns;
	drift_measure(&clk->drift, time_function_at(&clk->ref, now), current,
		      clk->kept_ns_total, given_back > 0 ? (uint64_t)given_back : 0);
}

/*
 * Publish a skip: fn jumps forward by skip_ns from its latest anchor, as
 * the step policy's jump does; the records never go back.  Lock held.
 */
static bool publish_skip_locked(struct domain_clock *clk,
				struct pvtime_shm *shm, uint64_t skip_ns,
				uint64_t at_ns)
{
	if (jump_fn_locked(clk, skip_ns))
		return false;
	if (clk->mode == CLOCK_MODE_HOST)
		clk->lag_ns -= (int64_t)skip_ns;
	drift_note_skip(&clk->drift, at_ns, skip_ns);
	write_records_locked(clk, shm, 0);
	log_ratelimited(&clk->steer_rl, LOG_LEVEL_INFO,
			"domain %s: skipped %llu ns of drift forward (%lld ns left)",
			clk->name, (unsigned long long)skip_ns,
			(long long)clk->drift.current_ns);
	return true;
}

/*
 * Give a host-time domain's kept drift back under its drift policy, after
 * a sample.  A skip is a jump of the records, which the raw-TSC fast path
 * would never show: as for the step policy, TSC_STABLE goes first and the
 * skip waits for a kernel-path sample.  Lock held; returns whether the
 * records were rewritten.
 */
static bool give_back_host_drift_locked(struct domain_clock *clk,
					struct pvtime_shm *shm,
					uint32_t sample_flags, bool *ring)
{
	uint64_t now = pvtime_rdtsc();
	uint64_t at_ns = time_function_at(&clk->ref, now);
	uint64_t skip;

	if (!clk->slew_ppm)
		clk->drift_slewing = false;
	measure_host_drift_locked(clk, now);
	skip = drift_skip_due_ns(&clk->drift, at_ns);
	if (skip && clk->lag_ns > 0) {
		if (skip > (uint64_t)clk->lag_ns)
			skip = (uint64_t)clk->lag_ns;
		if (on_fast_path_locked(clk, sample_flags))
			return leave_fast_path_locked(clk, shm, &clk->skip_pending,
						      ring);
		clk->skip_pending = false;
		*ring = true;
		return publish_skip_locked(clk, shm, skip, at_ns);
	}
	clk->skip_pending = false;
	if (!clk->slew_ppm && clk->lag_ns > 0 &&
	    drift_slew_decide(&clk->drift, false, 0) == DRIFT_SLEW_START) {
		int64_t lag = clk->lag_ns;

		/* The lag becomes a lead the slew removes; the drift is unchanged. */
		clk->lag_ns = 0;
		start_slew_locked(clk, shm, -lag, clk->drift.policy.slew_ppm, now,
				  ring);
		if (!clk->slew_ppm) {
			clk->lag_ns = lag;
			return false;
		}
		clk->drift_slewing = true;
		return true;
	}
	return false;
}

enum offset_outcome records_submit_offset(struct domain_clock *clk,
					  struct pvtime_shm *shm, uint32_t vcpu,
					  int64_t offset, uint64_t rtt_cycles,
					  uint32_t sample_flags, bool *ring)
{
	enum offset_outcome outcome;
	bool flags_changed, rewritten = false;

	*ring = false;
	pthread_mutex_lock(&clk->lock);
	if (sample_flags & PVTIME_SAMPLE_F_PERIODIC)
		clk->evidence.periodic = true;
	switch (tsc_evidence_submit(&clk->evidence, vcpu, offset, rtt_cycles,
				    pvtime_rdtsc(),
				    ns_to_cycles(clk, RECORDS_REFINE_MIN_NS),
				    ns_to_cycles(clk, RECORDS_MOVE_CONFIRM_NS))) {
	case TSC_EVIDENCE_BAD_VCPU:
		pthread_mutex_unlock(&clk->lock);
		return OFFSET_BAD_VCPU;
	case TSC_EVIDENCE_ADOPTED:
		outcome = OFFSET_ADOPTED;
		clk->offset_known = true;
		clk->guest_tsc_offset = offset;
		clk->handshake_rtt_cycles = rtt_cycles;
		/* Anchor near now: the records' deltas stay small. */
		reanchor_locked(clk, clk->fn.mul, clk->fn.shift);
		clk->ref = clk->fn;
		WRITE_ONCE(shm->ctl->guest_tsc_offset, offset);
		break;
	case TSC_EVIDENCE_MOVED:
		outcome = OFFSET_MOVED;
		clk->stable_grace_until_tsc = 0;	/* adopted: confirm afresh */
		if (abs64(offset_moved_by(offset, clk->guest_tsc_offset)) >
		    ns_to_cycles(clk, RECORDS_MOVE_CONFIRM_NS))
			hold_stable_locked(clk, STABLE_REFUSED_HOLD_NS);
		take_moved_offset_locked(clk, shm, offset);
		break;
	default:
		outcome = OFFSET_AGREED;
		break;
	}
	if (outcome != OFFSET_ADOPTED && !clk->paused) {
		rewritten = steer_locked(clk, shm, sample_flags, ring);
		rewritten = give_back_host_drift_locked(clk, shm, sample_flags,
							ring) || rewritten;
	}
	flags_changed = refresh_flags_locked(clk);
	if (outcome == OFFSET_ADOPTED || (flags_changed && !rewritten))
		write_records_locked(clk, shm, 0);
	if (outcome == OFFSET_ADOPTED) {
		pvtime_wmb();
		WRITE_ONCE(shm->ctl->status,
			   READ_ONCE(shm->ctl->status) | PVTIME_STATUS_RECORDS_VALID);
	}
	*ring = *ring || flags_changed;
	pthread_mutex_unlock(&clk->lock);
	return outcome;
}

int records_set_clock_mode(struct domain_clock *clk, enum clock_mode mode,
			   const struct drift_policy *drift)
{
	uint32_t mul;
	int8_t shift;
	int ret = 0;

	pthread_mutex_lock(&clk->lock);
	drift_account_init(&clk->drift, drift);
	if (mode == CLOCK_MODE_VIRTUAL && clk->offset_known) {
		/*
		 * Adopted from a previous pvtimed: fn, from the records, is
		 * already on the guest TSC, and its anchor a guest TSC passed.
		 */
		clk->mode = CLOCK_MODE_VIRTUAL;
		clk->virtual_guest_tsc = clk->fn.anchor_tsc;
		clk->records_hz = RECORDS_VIRTUAL_HZ;
	} else if (mode == CLOCK_MODE_VIRTUAL) {
		ret = pvtime_scale_from_hz(RECORDS_VIRTUAL_HZ, &mul, &shift);
		if (!ret) {
			/* System time is the guest TSC in ns (QEMU_CLOCK_VIRTUAL). */
			clk->mode = CLOCK_MODE_VIRTUAL;
			clk->fn = (struct time_function) {
				.anchor_tsc = 0, .system_ns = 0,
				.mul = mul, .shift = shift,
			};
			clk->records_hz = RECORDS_VIRTUAL_HZ;
		}
	}
	pthread_mutex_unlock(&clk->lock);
	return ret;
}

int64_t records_virtual_drift_at_locked(const struct domain_clock *clk,
					uint64_t guest_tsc, uint64_t host_tsc)
{
	if (!clk->offset_known ||
	    (int64_t)(guest_tsc - clk->virtual_guest_tsc) < 0)
		return clk->drift.current_ns;
	return (int64_t)(time_function_at(&clk->ref, host_tsc) -
			 time_function_at(&clk->fn, guest_tsc));
}

/*
 * The virtual-time domain's drift at a sample, and what its policy gives
 * back.  Accrued: the reference minus the virtual time the guest TSC
 * counted (the identity at RECORDS_VIRTUAL_HZ); given back: what the
 * records show beyond it.  Lock held; returns whether the records were
 * rewritten.
 */
static bool virtual_sample_locked(struct domain_clock *clk,
				  struct pvtime_shm *shm, uint64_t guest_tsc,
				  uint64_t host_tsc, bool *ring)
{
	uint64_t ref_ns = time_function_at(&clk->ref, host_tsc);
	uint64_t shown = time_function_at(&clk->fn, guest_tsc);
	int64_t given_back = (int64_t)(shown - guest_tsc);
	int64_t slewed = given_back - (int64_t)clk->drift.skipped_ns;
	uint64_t skip, horizon;

	drift_measure(&clk->drift, ref_ns, (int64_t)(ref_ns - shown),
		      ref_ns > guest_tsc ? ref_ns - guest_tsc : 0,
		      slewed > 0 ? (uint64_t)slewed : 0);
	if (clk->paused)
		return false;
	skip = drift_skip_due_ns(&clk->drift, ref_ns);
	if (skip) {
		*ring = true;
		return publish_skip_locked(clk, shm, skip, ref_ns);
	}
	/* Until the next sample: one calibration period of virtual time. */
	horizon = (uint64_t)RECORDS_CALIBRATION_MS * 1000000ull;
	switch (drift_slew_decide(&clk->drift, clk->slew_ppm != 0, horizon)) {
	case DRIFT_SLEW_START:
		clk->slew_ppm = (int32_t)clk->drift.policy.slew_ppm;
		clk->slews++;
		clk->drift_slewing = true;
		break;
	case DRIFT_SLEW_STOP:
		clk->slew_ppm = 0;
		clk->drift_slewing = false;
		break;
	default:
		return false;
	}
	if (apply_rate_locked(clk, shm, 0, ring)) {
		clk->slew_ppm = 0;
		clk->drift_slewing = false;
		return false;
	}
	log_ratelimited(&clk->steer_rl, LOG_LEVEL_INFO,
			"domain %s: virtual time %lld ns behind; %s",
			clk->name, (long long)clk->drift.current_ns,
			clk->slew_ppm ? "slewing it back" : "slew ended");
	return true;
}

enum offset_outcome records_submit_virtual_sample(struct domain_clock *clk,
						  struct pvtime_shm *shm,
						  uint32_t vcpu,
						  uint64_t guest_tsc,
						  uint64_t host_tsc,
						  uint32_t sample_flags,
						  bool *ring)
{
	enum offset_outcome outcome = OFFSET_AGREED;
	bool rewritten = false;

	*ring = false;
	if (vcpu >= clk->nr_vcpus)
		return OFFSET_BAD_VCPU;
	pthread_mutex_lock(&clk->lock);
	if (sample_flags & PVTIME_SAMPLE_F_PERIODIC)
		clk->evidence.periodic = true;
	/* The guest TSC is one counter for every vCPU: keep the latest. */
	if (!clk->offset_known ||
	    (int64_t)(guest_tsc - clk->virtual_guest_tsc) > 0) {
		clk->virtual_guest_tsc = guest_tsc;
		clk->virtual_host_tsc = host_tsc;
	}
	if (!clk->offset_known) {
		outcome = OFFSET_ADOPTED;
		clk->offset_known = true;
		clk->guest_tsc_offset = 0;
		WRITE_ONCE(shm->ctl->guest_tsc_offset, 0);
	}
	rewritten = virtual_sample_locked(clk, shm, guest_tsc, host_tsc, ring);
	if (outcome == OFFSET_ADOPTED) {
		if (!rewritten)
			write_records_locked(clk, shm, 0);
		pvtime_wmb();
		WRITE_ONCE(shm->ctl->status,
			   READ_ONCE(shm->ctl->status) | PVTIME_STATUS_RECORDS_VALID);
	}
	pthread_mutex_unlock(&clk->lock);
	return outcome;
}

void records_drift_tick(struct domain_clock *clk)
{
	uint64_t now;

	pthread_mutex_lock(&clk->lock);
	now = pvtime_rdtsc();
	if (clk->mode == CLOCK_MODE_HOST) {
		if (!clk->slew_ppm)
			clk->drift_slewing = false;
		measure_host_drift_locked(clk, now);
	}
	drift_history_record(&clk->drift, time_function_at(&clk->ref, now));
	pthread_mutex_unlock(&clk->lock);
}

void records_reanchor(struct domain_clock *clk, struct pvtime_shm *shm)
{
	pthread_mutex_lock(&clk->lock);
	if (!reanchor_locked(clk, clk->fn.mul, clk->fn.shift))
		write_records_locked(clk, shm, 0);
	pthread_mutex_unlock(&clk->lock);
}

int records_set_rate(struct domain_clock *clk, struct pvtime_shm *shm,
		     uint64_t tsc_hz, int32_t freq_ppm, bool *ring)
{
	uint32_t mul;
	int8_t shift;
	int ret;

	*ring = false;
	ret = time_function_scale(tsc_hz, freq_ppm, &mul, &shift);
	if (ret)
		return ret;
	pthread_mutex_lock(&clk->lock);
	clk->tsc_hz = tsc_hz;
	clk->freq_ppm = freq_ppm;
	ret = apply_rate_locked(clk, shm, window_cycles(clk), ring);
	pthread_mutex_unlock(&clk->lock);
	return ret;
}

int records_follow_rate(struct domain_clock *clk, struct pvtime_shm *shm,
			uint64_t hz, bool *ring)
{
	uint32_t mul;
	int8_t shift;
	int ret;

	*ring = false;
	ret = time_function_scale(hz, clk->freq_ppm, &mul, &shift);
	if (ret)
		return ret;
	pthread_mutex_lock(&clk->lock);
	clk->tsc_hz = hz;
	ret = apply_rate_locked(clk, shm, 0, ring);
	clk->follow_changes++;
	pthread_mutex_unlock(&clk->lock);
	return ret;
}

bool records_hold_stable(struct domain_clock *clk, struct pvtime_shm *shm,
			 uint64_t ns)
{
	bool changed;

	pthread_mutex_lock(&clk->lock);
	changed = withdraw_stable_locked(clk, shm, ns);
	pthread_mutex_unlock(&clk->lock);
	return changed;
}

/*
 * Records are rewritten one vCPU at a time.  Were TSC_STABLE cleared in the
 * same pass that moves the skew, a reader could take vCPU 1's new record
 * (skew ahead, guarded) and then vCPU 2's old one (still TSC_STABLE, so
 * unguarded) and step back by the skew.  As for a rate change, TSC_STABLE
 * goes first, in a pass that leaves every record's time as it was.
 */
bool records_set_skew(struct domain_clock *clk, struct pvtime_shm *shm,
		      int64_t skew_ns)
{
	bool was_stable, flags_changed;

	pthread_mutex_lock(&clk->lock);
	if (skew_ns == clk->skew_ns) {
		pthread_mutex_unlock(&clk->lock);
		return false;
	}
	if (clk->skew_ns > 0 && clk->nr_vcpus > 1)
		/* vCPU n was n*skew ahead: keep the guest's guard until it is past. */
		hold_stable_locked(clk, (uint64_t)clk->skew_ns * (clk->nr_vcpus - 1) +
					STABLE_HOLD_MARGIN_NS);
	was_stable = clk->flags & PVTIME_FLAG_TSC_STABLE;
	if (was_stable) {
		clk->flags &= ~PVTIME_FLAG_TSC_STABLE;
		write_records_locked(clk, shm, 0);
		log_ratelimited(&clk->stable_rl, LOG_LEVEL_INFO,
				"domain %s: TSC_STABLE cleared for a skew of %lld ns",
				clk->name, (long long)skew_ns);
	}
	clk->skew_ns = skew_ns;
	flags_changed = (refresh_flags_locked(clk) || was_stable) &&
			clk->offset_known;
	write_records_locked(clk, shm, 0);
	pthread_mutex_unlock(&clk->lock);
	return flags_changed;
}

void records_hold_odd(struct domain_clock *clk, struct pvtime_shm *shm,
		      uint32_t vcpu)
{
	pvtime_time_info_t *ti;
	uint32_t version;

	if (vcpu >= clk->nr_vcpus)
		return;
	pthread_mutex_lock(&clk->lock);
	ti = pvtime_vcpu_time(shm->si, vcpu);
	clk->odd_vcpus |= 1u << vcpu;
	version = READ_ONCE(ti->version);
	if (!(version & 1))
		WRITE_ONCE(ti->version, version + 1);
	pvtime_wmb();
	pthread_mutex_unlock(&clk->lock);
}

void records_release_odd(struct domain_clock *clk, struct pvtime_shm *shm,
			 uint32_t vcpu)
{
	pvtime_time_info_t *ti;
	pvtime_time_info_t rec;

	if (vcpu >= clk->nr_vcpus)
		return;
	pthread_mutex_lock(&clk->lock);
	ti = pvtime_vcpu_time(shm->si, vcpu);
	clk->odd_vcpus &= ~(1u << vcpu);
	if (clk->offset_known) {
		record_for(clk, vcpu, 0, &rec);
		pvtime_time_write(ti, &rec);
	} else if (READ_ONCE(ti->version) & 1) {
		pvtime_wmb();
		WRITE_ONCE(ti->version, READ_ONCE(ti->version) + 1);
	}
	pthread_mutex_unlock(&clk->lock);
}

int records_jump_unannounced(struct domain_clock *clk, struct pvtime_shm *shm,
			     uint64_t jump_ns, uint64_t hold_ns)
{
	int ret = -ENODATA;

	pthread_mutex_lock(&clk->lock);
	if (clk->offset_known) {
		withdraw_stable_locked(clk, shm, hold_ns);
		ret = jump_fn_locked(clk, jump_ns);
		write_records_locked(clk, shm, 0);
	}
	pthread_mutex_unlock(&clk->lock);
	if (!ret)
		log_info("domain %s: injected: records %llu ns forward, TSC_STABLE held off %llu ms",
			 clk->name, (unsigned long long)jump_ns,
			 (unsigned long long)(hold_ns / 1000000));
	return ret;
}

bool records_mark_guest_stopped(struct domain_clock *clk,
				struct pvtime_shm *shm)
{
	bool live;

	pthread_mutex_lock(&clk->lock);
	write_records_locked(clk, shm, PVTIME_FLAG_GUEST_STOPPED);
	clk->guest_stopped_tsc = pvtime_rdtsc();
	live = clk->offset_known;
	pthread_mutex_unlock(&clk->lock);
	return live;
}

bool records_refresh_stability(struct domain_clock *clk,
			       struct pvtime_shm *shm)
{
	bool changed, ring = false;
	uint64_t now;

	pthread_mutex_lock(&clk->lock);
	now = pvtime_rdtsc();
	/* A virtual-time domain's slews end at its samples (drift.h). */
	if (clk->mode == CLOCK_MODE_VIRTUAL) {
		/* nothing timed on the host's TSC */
	} else if (clk->slew_ppm && (int64_t)(now - clk->slew_end_tsc) >= 0) {
		end_slew_locked(clk, shm, &ring);
		clk->drift_slewing = false;
		clk->last_lead_ns = records_lead_ns_locked(clk, now);
	} else if (clk->slew_ppm && clk->recheck_in) {
		clk->recheck_in(cycles_to_ns(clk, clk->slew_end_tsc - now));
	}
	changed = refresh_flags_locked(clk) || ring;
	/* Shown for a second: every reader had its chance to see it. */
	if (changed || (clk->guest_stopped_shown &&
			pvtime_rdtsc() - clk->guest_stopped_tsc >= clk->tsc_hz))
		write_records_locked(clk, shm, 0);
	changed = changed && clk->offset_known;
	pthread_mutex_unlock(&clk->lock);
	return changed;
}

void records_guest_paused(struct domain_clock *clk)
{
	pthread_mutex_lock(&clk->lock);
	clk->paused = true;
	pthread_mutex_unlock(&clk->lock);
}

bool records_guest_resumed(struct domain_clock *clk, struct pvtime_shm *shm,
			   uint64_t cont_tsc, enum stopped_time_policy policy,
			   uint32_t slew_ppm)
{
	bool live;

	pthread_mutex_lock(&clk->lock);
	clk->stopped_policy = policy;
	clk->stopped_slew_ppm = slew_ppm;
	if (!clk->paused) {
		pthread_mutex_unlock(&clk->lock);
		return false;
	}
	clk->paused = false;
	/* The stopped interval is the policy's: a small slew under way ends. */
	if (clk->slew_ppm) {
		bool rate_ring = false;

		end_slew_locked(clk, shm, &rate_ring);
	}
	clk->resume_tsc = cont_tsc;
	/*
	 * QEMU held the guest TSC still.  The QMP round trips bound when
	 * stop and cont took effect only loosely (tens of ms under TCG), so
	 * the lead is taken from the guest's next samples, and the policy
	 * applies to that; TSC_STABLE waits for them.
	 */
	/* Virtual time stood still with the guest: only drift, no correction. */
	if (clk->evidence.periodic && clk->mode == CLOCK_MODE_HOST)
		clk->correction_pending = true;
	tsc_evidence_unconfirm(&clk->evidence);
	refresh_flags_locked(clk);
	write_records_locked(clk, shm, PVTIME_FLAG_GUEST_STOPPED);
	clk->guest_stopped_tsc = pvtime_rdtsc();
	live = clk->offset_known;
	pthread_mutex_unlock(&clk->lock);
	return live;
}

void records_save_state(struct domain_clock *clk, struct records_state *st)
{
	pthread_mutex_lock(&clk->lock);
	*st = (struct records_state) {
		.tsc_hz = clk->tsc_hz,
		.freq_ppm = clk->freq_ppm,
		.ref = clk->ref,
		.fn = clk->fn,
		.lag_ns = clk->lag_ns,
		.slew_ppm = clk->slew_ppm,
		.slew_end_tsc = clk->slew_end_tsc,
		.wall_offset_ns = clk->wall_offset_ns,
		.paused = clk->paused,
		.offset_rtt_cycles = clk->evidence.rtt_cycles,
		.periodic = clk->evidence.periodic,
		.offset_moves = clk->offset_moves,
		.forward_steps = clk->forward_steps,
		.forward_step_ns_total = clk->forward_step_ns_total,
		.slews = clk->slews,
		.kept_ns_total = clk->kept_ns_total,
	};
	pthread_mutex_unlock(&clk->lock);
}

static bool same_function(const struct time_function *a,
			  const struct time_function *b)
{
	return a->anchor_tsc == b->anchor_tsc && a->system_ns == b->system_ns &&
	       a->mul == b->mul && a->shift == b->shift;
}

/*
 * The records' function from the first vCPU record that is intact (even).
 * A writer killed mid-pass leaves at most one record odd; the ones before
 * it carry the new function, the ones after the old, and any of them is a
 * function the guest has been reading.  -EPROTO if none is intact.
 */
static int function_from_records(const struct domain_clock *clk,
				 struct pvtime_shm *shm,
				 struct time_function *fn, uint8_t *flags,
				 struct records_adoption *how)
{
	uint32_t cpu;

	for (cpu = 0; cpu < clk->nr_vcpus; cpu++) {
		pvtime_time_info_t *ti = pvtime_vcpu_time(shm->si, cpu);
		uint32_t version = READ_ONCE(ti->version);

		if (version & 1) {
			how->torn = true;
			continue;
		}
		pvtime_rmb();
		/* An injected per-vCPU skew is not carried over. */
		fn->anchor_tsc = READ_ONCE(ti->tsc_timestamp) -
				 (uint64_t)clk->guest_tsc_offset;
		fn->system_ns = READ_ONCE(ti->system_time);
		fn->mul = READ_ONCE(ti->tsc_to_system_mul);
		fn->shift = READ_ONCE(ti->tsc_shift);
		*flags = READ_ONCE(ti->flags);
		pvtime_rmb();
		if (READ_ONCE(ti->version) != version)
			return -EAGAIN;	/* nobody else writes: someone does */
		if (!fn->mul || fn->shift < TIME_FUNCTION_SHIFT_MIN ||
		    fn->shift > TIME_FUNCTION_SHIFT_MAX)
			return -EPROTO;
		how->source_vcpu = cpu;
		return 0;
	}
	return -EPROTO;
}

static bool any_record_odd(const struct domain_clock *clk,
			   struct pvtime_shm *shm)
{
	uint32_t cpu;

	for (cpu = 0; cpu < clk->nr_vcpus; cpu++)
		if (READ_ONCE(pvtime_vcpu_time(shm->si, cpu)->version) & 1)
			return true;
	return false;
}

int domain_clock_adopt(struct domain_clock *clk, const char *name,
		       uint32_t nr_vcpus, enum tsc_stable_policy policy,
		       struct pvtime_shm *shm, const struct records_state *saved,
		       struct records_adoption *how)
{
	struct pvtime_control *ctl = shm->ctl;
	uint8_t flags = 0;
	__s64 wc_ns;
	bool ring = false;
	int ret;

	memset(how, 0, sizeof(*how));
	ret = clock_init_common(clk, name, saved->tsc_hz, nr_vcpus, policy);
	if (ret)
		return ret;
	clk->freq_ppm = saved->freq_ppm;
	clk->records_hz = READ_ONCE(ctl->tsc_hz);
	clk->wall_offset_ns = saved->wall_offset_ns;
	clk->lag_ns = saved->lag_ns;
	clk->paused = saved->paused;
	clk->offset_moves = saved->offset_moves;
	clk->forward_steps = saved->forward_steps;
	clk->forward_step_ns_total = saved->forward_step_ns_total;
	clk->slews = saved->slews;
	clk->kept_ns_total = saved->kept_ns_total;
	clk->generation = READ_ONCE(ctl->records_generation);
	clk->records_jumped_ns = READ_ONCE(ctl->records_jumped_ns);
	clk->fn = saved->fn;
	clk->ref = saved->ref;
	clk->offset_known = READ_ONCE(ctl->status) & PVTIME_STATUS_RECORDS_VALID;
	how->live = clk->offset_known;

	pthread_mutex_lock(&clk->lock);
	if (clk->offset_known) {
		clk->guest_tsc_offset = READ_ONCE(ctl->guest_tsc_offset);
		ret = function_from_records(clk, shm, &clk->fn, &flags, how);
		if (ret)
			goto out;
		clk->flags = flags & ~PVTIME_FLAG_GUEST_STOPPED;
		tsc_evidence_carry_over(&clk->evidence, clk->guest_tsc_offset,
					saved->offset_rtt_cycles, saved->periodic);
		clk->handshake_rtt_cycles = saved->offset_rtt_cycles;
		/* The old pvtimed had the evidence; the vCPUs give it again. */
		if (flags & PVTIME_FLAG_TSC_STABLE)
			clk->stable_grace_until_tsc = pvtime_rdtsc() +
				ns_to_cycles(clk, RECORDS_ADOPT_GRACE_PERIODS *
						  RECORDS_CALIBRATION_MS * 1000000ull);
		if (flags & PVTIME_FLAG_GUEST_STOPPED) {
			/* Shown for another second from now, then dropped. */
			clk->guest_stopped_shown = true;
			clk->guest_stopped_tsc = pvtime_rdtsc();
		}
	}
	how->state_current = same_function(&clk->fn, &saved->fn);
	if (how->state_current) {
		clk->slew_ppm = saved->slew_ppm;
		clk->slew_end_tsc = saved->slew_end_tsc;
	} else {
		/*
		 * The records moved after the state was saved: what they show
		 * becomes the reference (a correction under way is dropped),
		 * and a slewed rate goes back to the true one, without a step.
		 */
		clk->ref = clk->fn;
		ret = apply_rate_locked(clk, shm, window_cycles(clk), &ring);
		if (ret)
			goto out;
	}
	if (clk->offset_known && any_record_odd(clk, shm))
		write_records_locked(clk, shm,
				     clk->guest_stopped_shown ? PVTIME_FLAG_GUEST_STOPPED : 0);
	if (pvtime_wallclock_read(shm->si, PVTIME_READ_MAX_TRIES, &wc_ns) == 0) {
		clk->published_wc_ns = wc_ns;
		clk->wc_published = true;
	} else {
		how->torn = true;	/* wallclock_publish(force) rewrites it */
	}
out:
	pthread_mutex_unlock(&clk->lock);
	if (ret)
		pthread_mutex_destroy(&clk->lock);
	return ret;
}

void records_image_at_stop(struct domain_clock *clk, uint64_t stop_tsc,
			   int64_t realtime_at_stop_ns,
			   struct records_image *img)
{
	uint64_t offset;

	pthread_mutex_lock(&clk->lock);
	offset = (uint64_t)clk->guest_tsc_offset;
	*img = (struct records_image) {
		.offset_known = clk->offset_known,
		.guest_tsc_anchor = clk->fn.anchor_tsc + offset,
		.shown_anchor_ns = clk->fn.system_ns,
		.mul = clk->fn.mul,
		.shift = clk->fn.shift,
		.guest_tsc_at_stop = stop_tsc + offset,
		.shown_at_stop_ns = time_function_at(&clk->fn, stop_tsc),
		.ref_at_stop_ns = time_function_at(&clk->ref, stop_tsc),
		.realtime_at_stop_ns = realtime_at_stop_ns,
		.host_tsc_at_stop = stop_tsc,
		.lag_ns = clk->lag_ns,
		.wall_offset_ns = clk->wall_offset_ns,
		.periodic = clk->evidence.periodic,
		.host_tsc_hz = clk->tsc_hz,
	};
	pthread_mutex_unlock(&clk->lock);
}

int domain_clock_restore(struct domain_clock *clk, const char *name,
			 uint32_t nr_vcpus, enum tsc_stable_policy policy,
			 uint64_t tsc_hz, const struct records_image *img,
			 uint64_t now_tsc, bool same_tsc,
			 int64_t now_realtime_ns)
{
	int64_t elapsed = now_realtime_ns - img->realtime_at_stop_ns;
	uint64_t ref_now = img->ref_at_stop_ns;
	int ret;

	ret = domain_clock_init(clk, name, tsc_hz, nr_vcpus, policy);
	if (ret)
		return ret;
	if (same_tsc && (int64_t)(now_tsc - img->host_tsc_at_stop) >= 0)
		/* As across a pause: host steps while away do not count. */
		ref_now += pvtime_scale_delta(now_tsc - img->host_tsc_at_stop,
					      clk->ref.mul, clk->ref.shift);
	else if (elapsed > 0)
		/* The host's clock went on; set back, it is no time at all. */
		ref_now += (uint64_t)elapsed;
	clk->ref.anchor_tsc = now_tsc;
	clk->ref.system_ns = ref_now;
	clk->fn = clk->ref;
	clk->lag_ns = img->lag_ns;
	clk->wall_offset_ns = img->wall_offset_ns;
	clk->paused = true;
	if (!img->offset_known)
		return 0;	/* no records yet: the first sample adopts */
	if (!img->mul || img->shift < TIME_FUNCTION_SHIFT_MIN ||
	    img->shift > TIME_FUNCTION_SHIFT_MAX) {
		domain_clock_fini(clk);
		return -EPROTO;
	}
	pthread_mutex_lock(&clk->lock);
	clk->guest_tsc_offset = (int64_t)(img->guest_tsc_at_stop - now_tsc);
	clk->fn.anchor_tsc = img->guest_tsc_anchor -
			     (uint64_t)clk->guest_tsc_offset;
	clk->fn.system_ns = img->shown_anchor_ns;
	clk->fn.mul = img->mul;
	clk->fn.shift = img->shift;
	clk->offset_known = true;
	tsc_evidence_carry_over(&clk->evidence, clk->guest_tsc_offset, 0,
				img->periodic);
	/*
	 * This host's rate from here on, without a step, anchored at or
	 * before now_tsc: the guest resumes at guest_tsc_at_stop, and a TSC
	 * behind a record's anchor reads as the anchor, so a later anchor
	 * would show it a jump and then a clock standing still.
	 */
	{
		struct reanchor_request req = {
			.now_tsc = now_tsc, .mul = clk->ref.mul,
			.shift = clk->ref.shift, .window_cycles = 0,
			.candidates = RECORDS_ANCHOR_CANDIDATES,
		};
		struct reanchor_report rep;
		struct time_function next;

		ret = time_function_reanchor(&clk->fn, &req, &next, &rep);
		if (!ret) {
			clk->fn = next;
			clk->reanchors++;
		}
	}
	pthread_mutex_unlock(&clk->lock);
	if (ret)
		domain_clock_fini(clk);
	return ret;
}

bool records_restored_publish(struct domain_clock *clk, struct pvtime_shm *shm)
{
	struct pvtime_control *ctl = shm->ctl;
	bool live;

	pthread_mutex_lock(&clk->lock);
	clk->generation = READ_ONCE(ctl->records_generation);
	/* The guest compares it with what it read before the save. */
	clk->records_jumped_ns = READ_ONCE(ctl->records_jumped_ns);
	clk->flags = 0;
	WRITE_ONCE(ctl->tsc_hz, clk->records_hz);
	live = clk->offset_known;
	if (live) {
		WRITE_ONCE(ctl->guest_tsc_offset, clk->guest_tsc_offset);
		write_records_locked(clk, shm, PVTIME_FLAG_GUEST_STOPPED);
		clk->guest_stopped_tsc = pvtime_rdtsc();
		pvtime_wmb();
		WRITE_ONCE(ctl->status,
			   READ_ONCE(ctl->status) | PVTIME_STATUS_RECORDS_VALID);
	} else {
		WRITE_ONCE(ctl->status,
			   READ_ONCE(ctl->status) & ~PVTIME_STATUS_RECORDS_VALID);
	}
	pthread_mutex_unlock(&clk->lock);
	return live;
}
