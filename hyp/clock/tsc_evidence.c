// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <string.h>

#include "clock/tsc_evidence.h"

void tsc_evidence_init(struct tsc_evidence *ev, uint32_t nr_vcpus)
{
	memset(ev, 0, sizeof(*ev));
	ev->nr_vcpus = nr_vcpus < CLOCK_VCPUS_MAX ? nr_vcpus : CLOCK_VCPUS_MAX;
}

static uint64_t half_up(uint64_t cycles)
{
	return cycles / 2 + (cycles & 1);
}

/* Unsigned distance: no overflow whatever the guest sent. */
static uint64_t distance(int64_t a, int64_t b)
{
	return a >= b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
}

static void note_rate(struct vcpu_evidence *v, int64_t offset, uint64_t now_tsc)
{
	uint64_t elapsed = now_tsc - v->sample_tsc;
	__int128 drift = (__int128)offset - v->offset;

	v->rate_known = v->samples && elapsed && (int64_t)elapsed > 0;
	if (v->rate_known) {
		__int128 ppb = drift * 1000000000 / (__int128)elapsed;

		if (ppb > INT64_MAX)
			ppb = INT64_MAX;
		else if (ppb < INT64_MIN)
			ppb = INT64_MIN;
		v->rate_ppb = (int64_t)ppb;
	}
}

static void take_sample(struct vcpu_evidence *v, int64_t offset,
			uint64_t rtt_cycles, uint64_t now_tsc)
{
	note_rate(v, offset, now_tsc);
	v->offset = offset;
	v->rtt_cycles = rtt_cycles;
	v->sample_tsc = now_tsc;
	v->samples++;
}

/*
 * How far a probe tighter than the offset's may differ from it and still
 * agree.  At least twice as tight, its midpoint is the better estimate
 * even inside its own uncertainty (the least round trip wins, as in
 * NTP's clock filter): only jitter is left alone.  Under load every
 * probe may be loose, and the first after a pause can set the offset
 * tens of microseconds out; each halving of the round trip then brings
 * it closer, a few times at most.  Less tight, only a difference outside
 * its own uncertainty tells.
 */
static uint64_t refine_allowance(const struct tsc_evidence *ev,
				 uint64_t rtt_cycles,
				 uint64_t refine_beyond_cycles)
{
	uint64_t jitter = TSC_EVIDENCE_SLACK_CYCLES + refine_beyond_cycles;

	if (rtt_cycles <= ev->rtt_cycles / 2)
		return jitter;
	return half_up(rtt_cycles) + jitter;
}

void tsc_evidence_unconfirm(struct tsc_evidence *ev)
{
	uint32_t cpu;

	for (cpu = 0; cpu < ev->nr_vcpus; cpu++)
		ev->vcpu[cpu].state = VCPU_EVIDENCE_NONE;
}

void tsc_evidence_carry_over(struct tsc_evidence *ev, int64_t offset,
			     uint64_t rtt_cycles, bool periodic)
{
	ev->adopted = true;
	ev->offset = offset;
	ev->rtt_cycles = rtt_cycles;
	ev->periodic = periodic;
	tsc_evidence_unconfirm(ev);
}

enum tsc_evidence_result tsc_evidence_submit(struct tsc_evidence *ev,
					     uint32_t vcpu, int64_t offset,
					     uint64_t rtt_cycles,
					     uint64_t now_tsc,
					     uint64_t refine_beyond_cycles,
					     uint64_t unconfirm_beyond_cycles)
{
	struct vcpu_evidence *v;
	uint64_t difference;

	if (vcpu >= ev->nr_vcpus)
		return TSC_EVIDENCE_BAD_VCPU;
	v = &ev->vcpu[vcpu];
	take_sample(v, offset, rtt_cycles, now_tsc);
	if (!ev->adopted) {
		ev->adopted = true;
		ev->adopted_vcpu = vcpu;
		ev->offset = offset;
		ev->rtt_cycles = rtt_cycles;
		v->tolerance_cycles = 0;
		v->state = VCPU_EVIDENCE_AGREED;
		return TSC_EVIDENCE_ADOPTED;
	}
	v->tolerance_cycles = half_up(ev->rtt_cycles) + half_up(rtt_cycles) +
			      TSC_EVIDENCE_SLACK_CYCLES;
	difference = distance(offset, ev->offset);
	v->state = VCPU_EVIDENCE_AGREED;
	/*
	 * Agreeing with the offset is not enough when the sample that set it
	 * was loose (a round trip up to 1 ms under host load, 20 us on a
	 * cold guest) and this one is tighter: if the offset lies outside
	 * this sample's own uncertainty, it is wrong by at least the excess,
	 * and this sample is the better estimate; at most half as loose, it
	 * is the better estimate anyway (refine_allowance()).  Taking it as a
	 * move lets the records steer the error away, as for any move.  An
	 * excess under refine_beyond_cycles is TSC read jitter, not evidence.
	 */
	if (difference <= v->tolerance_cycles &&
	    (rtt_cycles >= ev->rtt_cycles ||
	     difference <= refine_allowance(ev, rtt_cycles,
					    refine_beyond_cycles)))
		return TSC_EVIDENCE_AGREED;
	if (difference <= v->tolerance_cycles)
		ev->refinements++;
	/*
	 * The offset moved (QEMU's offset is one for all vCPUs): this sample
	 * is the new one.  Others must confirm a move that matters.
	 */
	if (difference > unconfirm_beyond_cycles)
		tsc_evidence_unconfirm(ev);
	v->state = VCPU_EVIDENCE_AGREED;	/* unconfirm cleared it */
	ev->offset = offset;
	ev->rtt_cycles = rtt_cycles;
	ev->moves++;
	v->tolerance_cycles = 0;
	return TSC_EVIDENCE_MOVED;
}

bool tsc_evidence_complete(const struct tsc_evidence *ev, uint64_t now_tsc,
			   uint64_t max_age_cycles)
{
	uint32_t cpu;

	if (!ev->adopted || !ev->nr_vcpus)
		return false;
	for (cpu = 0; cpu < ev->nr_vcpus; cpu++) {
		const struct vcpu_evidence *v = &ev->vcpu[cpu];

		if (v->state != VCPU_EVIDENCE_AGREED)
			return false;
		if (ev->periodic && max_age_cycles &&
		    now_tsc - v->sample_tsc > max_age_cycles)
			return false;
	}
	return true;
}

const char *vcpu_evidence_state_name(enum vcpu_evidence_state state)
{
	switch (state) {
	case VCPU_EVIDENCE_AGREED:
		return "agreed";
	default:
		return "none";
	}
}
