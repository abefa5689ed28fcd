/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Evidence about a domain's guest TSC offset, one sample per vCPU at a
 * time.  The guest submits SET_OFFSET probes: the first adopts the offset,
 * later ones are checked against the domain's current offset.  Each
 * probe's estimate is the midpoint of a guest rdtsc bracket around a host
 * rdtsc, so it is off by at most half its round trip; two probes of one
 * offset therefore differ by at most the sum of their half round trips
 * (plus a little for TSC read jitter).
 *
 * The offset is not trusted once: QEMU moves it while the VM is stopped
 * and, under multi-threaded TCG on some hosts, while vCPUs read the TSC.
 * A sample further than its tolerance from the current offset moves it
 * (the caller takes the new one over), and when the move is large every
 * other vCPU must confirm the new offset before the evidence is complete
 * again.  Samples
 * carry the host TSC they arrived at, so staleness and each vCPU's offset
 * drift rate can be judged.  Pure bookkeeping, tested on the host.
 */
#ifndef PVTIMED_TSC_EVIDENCE_H
#define PVTIMED_TSC_EVIDENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "clock/clock_policy.h"

/* TSC read jitter allowed on top of the two half round trips. */
#define TSC_EVIDENCE_SLACK_CYCLES	16

enum vcpu_evidence_state {
	VCPU_EVIDENCE_NONE,		/* no sample since the offset last moved */
	VCPU_EVIDENCE_AGREED,
};

struct vcpu_evidence {
	enum vcpu_evidence_state state;
	int64_t offset;			/* this vCPU's latest estimate */
	uint64_t rtt_cycles;
	uint64_t tolerance_cycles;	/* what it was held to */
	uint64_t sample_tsc;		/* host TSC when it arrived (0: never) */
	/* Offset drift since the previous sample, in 1e-9 of host cycles. */
	int64_t rate_ppb;
	bool rate_known;
	uint64_t samples;
};

struct tsc_evidence {
	uint32_t nr_vcpus;
	bool adopted;
	uint32_t adopted_vcpu;
	int64_t offset;			/* the domain's current offset */
	uint64_t rtt_cycles;		/* round trip of the sample that set it */
	bool periodic;			/* the guest said it samples periodically */
	uint64_t moves;			/* times a sample moved the offset */
	uint64_t refinements;		/* of those, a tighter sample's correction */
	struct vcpu_evidence vcpu[CLOCK_VCPUS_MAX];
};

enum tsc_evidence_result {
	TSC_EVIDENCE_ADOPTED,		/* first probe: offset adopted */
	TSC_EVIDENCE_AGREED,
	TSC_EVIDENCE_MOVED,		/* off by more: the offset is now this */
	TSC_EVIDENCE_BAD_VCPU,		/* vcpu >= nr_vcpus: ignored */
};

void tsc_evidence_init(struct tsc_evidence *ev, uint32_t nr_vcpus);

/*
 * Record one vCPU's probe, arriving at host TSC now_tsc.  A probe further
 * than its tolerance from the current offset moves it; when further than
 * unconfirm_beyond_cycles, every other vCPU must confirm again.  A probe
 * tighter than the one that set the offset, whose own uncertainty leaves
 * the offset out by more than refine_beyond_cycles, corrects it (a
 * refinement): an offset adopted from a loose probe is wrong by up to
 * half its round trip, and that error would stay in the records.  One at
 * most half as loose corrects it when it differs by more than
 * refine_beyond_cycles at all: its midpoint is the better estimate.
 */
enum tsc_evidence_result tsc_evidence_submit(struct tsc_evidence *ev,
					     uint32_t vcpu, int64_t offset,
					     uint64_t rtt_cycles,
					     uint64_t now_tsc,
					     uint64_t refine_beyond_cycles,
					     uint64_t unconfirm_beyond_cycles);

/*
 * Every vCPU 0..nr_vcpus-1 agrees with the current offset, and, once the
 * guest samples periodically and max_age_cycles is not 0, each vCPU's
 * latest sample is at most max_age_cycles old at now_tsc.
 */
bool tsc_evidence_complete(const struct tsc_evidence *ev, uint64_t now_tsc,
			   uint64_t max_age_cycles);

/* Forget every vCPU's confirmation (the offset is known to have moved). */
void tsc_evidence_unconfirm(struct tsc_evidence *ev);

/*
 * A restarted pvtimed: the offset a previous one adopted (with the round
 * trip that set it) stands, and every vCPU confirms it again; samples
 * then agree with it or move it, never adopt afresh.
 */
void tsc_evidence_carry_over(struct tsc_evidence *ev, int64_t offset,
			     uint64_t rtt_cycles, bool periodic);

const char *vcpu_evidence_state_name(enum vcpu_evidence_state state);

#endif /* PVTIMED_TSC_EVIDENCE_H */
