// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <string.h>

#include "pvclock_math.h"
#include "log.h"
#include "ratelimit.h"
#include "records.h"

/* Past a removed skew, TSC_STABLE waits this long on top of the lead. */
#define STABLE_HOLD_MARGIN_NS	100000000ull
/*
 * After a vCPU's offset disagreed, TSC_STABLE stays off at least this long
 * even if it agrees again: a guest alternating cannot make the records
 * flip (each a rewrite, a doorbell and a log line) more than about once
 * a second.
 */
#define STABLE_REFUSED_HOLD_NS	1000000000ull
/* TSC_STABLE transition messages per minute and domain. */
#define STABLE_LOG_BURST	10
#define STABLE_LOG_INTERVAL_NS	(60 * 1000000000ull)

int domain_clock_init(struct domain_clock *clk, const char *name,
		      uint64_t tsc_hz, uint32_t nr_vcpus,
		      enum tsc_stable_policy policy)
{
	int ret;

	memset(clk, 0, sizeof(*clk));
	clk->name = name;
	ret = pvtime_scale_from_hz(tsc_hz, &clk->fn.mul, &clk->fn.shift);
	if (ret)
		return ret;
	ret = pthread_mutex_init(&clk->lock, NULL);
	if (ret)
		return -ret;
	clk->tsc_hz = tsc_hz;
	clk->records_hz = tsc_hz;
	clk->nr_vcpus = nr_vcpus;
	clk->stable_policy = policy;
	clk->stable_rl = (struct ratelimit)RATELIMIT_INIT(STABLE_LOG_INTERVAL_NS,
							   STABLE_LOG_BURST);
	tsc_evidence_init(&clk->evidence, nr_vcpus);
	clk->fn.anchor_tsc = pvtime_rdtsc();
	clk->fn.system_ns = 0;
	return 0;
}

void domain_clock_fini(struct domain_clock *clk)
{
	pthread_mutex_destroy(&clk->lock);
}

uint64_t domain_clock_system_ns(const struct domain_clock *clk,
				uint64_t host_tsc)
{
	return time_function_at(&clk->fn, host_tsc);
}

static uint64_t ns_to_cycles(const struct domain_clock *clk, uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * clk->tsc_hz / PVTIME_NSEC_PER_SEC);
}

bool records_stable_allowed(const struct domain_clock *clk, uint64_t now_tsc)
{
	return clk->stable_policy == TSC_STABLE_AUTO && clk->offset_known &&
	       tsc_evidence_complete(&clk->evidence) && clk->skew_ns == 0 &&
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

static uint64_t window_cycles(const struct domain_clock *clk)
{
	uint64_t window = ns_to_cycles(clk, RECORDS_WINDOW_MS * 1000000ull);

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

/* Move the function to a new anchor (and maybe rate); lock held. */
static int reanchor_locked(struct domain_clock *clk, uint32_t mul, int8_t shift)
{
	struct reanchor_request req = {
		.now_tsc = pvtime_rdtsc(),
		.mul = mul,
		.shift = shift,
		.window_cycles = window_cycles(clk),
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

	if (records_stable_allowed(clk, pvtime_rdtsc()))
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
			 tsc_evidence_complete(&clk->evidence) ? "complete" : "incomplete",
			 (long long)clk->skew_ns);
	return true;
}

enum offset_outcome records_submit_offset(struct domain_clock *clk,
					  struct pvtime_shm *shm, uint32_t vcpu,
					  int64_t offset, uint64_t rtt_cycles,
					  bool *ring)
{
	enum offset_outcome outcome;
	bool flags_changed;

	*ring = false;
	pthread_mutex_lock(&clk->lock);
	switch (tsc_evidence_submit(&clk->evidence, vcpu, offset, rtt_cycles)) {
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
		WRITE_ONCE(shm->ctl->guest_tsc_offset, offset);
		break;
	case TSC_EVIDENCE_AGREED:
		outcome = OFFSET_AGREED;
		break;
	default:
		outcome = OFFSET_DISAGREED;
		hold_stable_locked(clk, STABLE_REFUSED_HOLD_NS);
		break;
	}
	flags_changed = refresh_flags_locked(clk);
	if (outcome == OFFSET_ADOPTED || flags_changed)
		write_records_locked(clk, shm, 0);
	if (outcome == OFFSET_ADOPTED) {
		pvtime_wmb();
		WRITE_ONCE(shm->ctl->status,
			   READ_ONCE(shm->ctl->status) | PVTIME_STATUS_RECORDS_VALID);
	}
	*ring = flags_changed;
	pthread_mutex_unlock(&clk->lock);
	return outcome;
}

void records_reanchor(struct domain_clock *clk, struct pvtime_shm *shm)
{
	pthread_mutex_lock(&clk->lock);
	if (!reanchor_locked(clk, clk->fn.mul, clk->fn.shift))
		write_records_locked(clk, shm, 0);
	pthread_mutex_unlock(&clk->lock);
}

/*
 * Records are rewritten one vCPU at a time, and a slower rate's function
 * starts up to the window's rate term ahead of the old one: a reader
 * hopping between a rewritten and a not yet rewritten vCPU could see time
 * go back.  So with TSC_STABLE set the flag goes first (every record
 * rewritten with the same function, without it: from then on readers keep
 * their guard), then the new function, still without it; TSC_STABLE comes
 * back by records_refresh_stability once the reader window and a margin
 * are past.
 */
int records_set_rate(struct domain_clock *clk, struct pvtime_shm *shm,
		     uint64_t tsc_hz, int32_t freq_ppm, bool *ring)
{
	uint64_t records_hz;
	uint32_t mul;
	int8_t shift;
	int ret;

	*ring = false;
	ret = time_function_scale(tsc_hz, freq_ppm, &mul, &shift);
	if (ret)
		return ret;
	records_hz = (uint64_t)(((unsigned __int128)tsc_hz * 1000000 +
				 (uint64_t)(1000000 + freq_ppm) / 2) /
				(uint64_t)(1000000 + freq_ppm));
	pthread_mutex_lock(&clk->lock);
	clk->tsc_hz = tsc_hz;
	clk->freq_ppm = freq_ppm;
	if (mul != clk->fn.mul || shift != clk->fn.shift) {
		if (clk->offset_known) {
			hold_stable_locked(clk, RECORDS_RATE_HOLD_NS);
			if (clk->flags & PVTIME_FLAG_TSC_STABLE) {
				clk->flags &= ~PVTIME_FLAG_TSC_STABLE;
				clk->stable_rate_hold = true;
				write_records_locked(clk, shm, 0);
				*ring = true;
			}
		}
		ret = reanchor_locked(clk, mul, shift);
		if (!ret) {
			clk->records_hz = records_hz;
			/* The rate the records encode, before they encode it. */
			WRITE_ONCE(shm->ctl->tsc_hz, records_hz);
			pvtime_wmb();
			write_records_locked(clk, shm, 0);
			*ring = clk->offset_known;
			/* Past the window a reader of a not yet rewritten record
			 * may have run ahead of an updated one. */
			if (clk->offset_known &&
			    pvtime_rdtsc() - clk->fn.anchor_tsc > window_cycles(clk)) {
				clk->window_overruns++;
				log_warn("rate change: rewriting the records took longer than %d ms (pvtimed preempted?)",
					 RECORDS_WINDOW_MS);
			}
		}
	}
	pthread_mutex_unlock(&clk->lock);
	return ret;
}

bool records_set_skew(struct domain_clock *clk, struct pvtime_shm *shm,
		      int64_t skew_ns)
{
	bool flags_changed;

	pthread_mutex_lock(&clk->lock);
	if (skew_ns == clk->skew_ns) {
		pthread_mutex_unlock(&clk->lock);
		return false;
	}
	if (clk->skew_ns > 0 && clk->nr_vcpus > 1)
		/* vCPU n was n*skew ahead: keep the guest's guard until it is past. */
		hold_stable_locked(clk, (uint64_t)clk->skew_ns * (clk->nr_vcpus - 1) +
					STABLE_HOLD_MARGIN_NS);
	clk->skew_ns = skew_ns;
	flags_changed = refresh_flags_locked(clk) && clk->offset_known;
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
	bool changed;

	pthread_mutex_lock(&clk->lock);
	changed = refresh_flags_locked(clk);
	/* Shown for a second: every reader had its chance to see it. */
	if (changed || (clk->guest_stopped_shown &&
			pvtime_rdtsc() - clk->guest_stopped_tsc >= clk->tsc_hz))
		write_records_locked(clk, shm, 0);
	changed = changed && clk->offset_known;
	pthread_mutex_unlock(&clk->lock);
	return changed;
}

void records_guest_paused(struct domain_clock *clk, uint64_t stop_tsc)
{
	pthread_mutex_lock(&clk->lock);
	clk->paused = true;
	clk->pause_stop_tsc = stop_tsc;
	pthread_mutex_unlock(&clk->lock);
}

bool records_guest_resumed(struct domain_clock *clk, struct pvtime_shm *shm,
			   uint64_t cont_tsc, enum stopped_time_policy policy,
			   uint32_t slew_ppm)
{
	(void)cont_tsc;
	(void)policy;
	(void)slew_ppm;
	pthread_mutex_lock(&clk->lock);
	clk->paused = false;
	pthread_mutex_unlock(&clk->lock);
	return records_mark_guest_stopped(clk, shm);
}
