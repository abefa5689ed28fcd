/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Evidence that a domain's vCPUs share one TSC offset.  The guest submits
 * one SET_OFFSET probe per vCPU: the first adopts the offset, later ones
 * are checked against it.  Each probe's estimate is the midpoint of a
 * guest rdtsc bracket around a host rdtsc, so it is off by at most half its
 * round trip; two probes of one offset therefore differ by at most the sum
 * of their half round trips (plus a little for TSC read jitter).  Pure
 * bookkeeping, tested on the host.
 */
#ifndef PVTIMED_TSC_EVIDENCE_H
#define PVTIMED_TSC_EVIDENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "domain_config.h"

/* TSC read jitter allowed on top of the two half round trips. */
#define TSC_EVIDENCE_SLACK_CYCLES	16

enum vcpu_evidence_state {
	VCPU_EVIDENCE_NONE,		/* no probe from this vCPU yet */
	VCPU_EVIDENCE_AGREED,
	VCPU_EVIDENCE_DISAGREED,
};

struct vcpu_evidence {
	enum vcpu_evidence_state state;
	int64_t offset;			/* this vCPU's estimate */
	uint64_t rtt_cycles;
	uint64_t tolerance_cycles;	/* what it was held to */
};

struct tsc_evidence {
	uint32_t nr_vcpus;
	bool adopted;
	uint32_t adopted_vcpu;
	int64_t offset;			/* the adopted offset */
	uint64_t rtt_cycles;		/* its probe's round trip */
	struct vcpu_evidence vcpu[DOMAIN_VCPUS_MAX];
};

enum tsc_evidence_result {
	TSC_EVIDENCE_ADOPTED,		/* first probe: offset adopted */
	TSC_EVIDENCE_AGREED,
	TSC_EVIDENCE_DISAGREED,
	TSC_EVIDENCE_BAD_VCPU,		/* vcpu >= nr_vcpus: ignored */
};

void tsc_evidence_init(struct tsc_evidence *ev, uint32_t nr_vcpus);

/* Record one vCPU's probe.  A later probe of a vCPU replaces its earlier one. */
enum tsc_evidence_result tsc_evidence_submit(struct tsc_evidence *ev,
					     uint32_t vcpu, int64_t offset,
					     uint64_t rtt_cycles);

/* Every vCPU 0..nr_vcpus-1 has agreed with the adopted offset. */
bool tsc_evidence_complete(const struct tsc_evidence *ev);

const char *vcpu_evidence_state_name(enum vcpu_evidence_state state);

#endif /* PVTIMED_TSC_EVIDENCE_H */
