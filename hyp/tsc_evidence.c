// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <string.h>

#include "tsc_evidence.h"

void tsc_evidence_init(struct tsc_evidence *ev, uint32_t nr_vcpus)
{
	memset(ev, 0, sizeof(*ev));
	ev->nr_vcpus = nr_vcpus < DOMAIN_VCPUS_MAX ? nr_vcpus : DOMAIN_VCPUS_MAX;
}

static uint64_t half_up(uint64_t cycles)
{
	return cycles / 2 + (cycles & 1);
}

enum tsc_evidence_result tsc_evidence_submit(struct tsc_evidence *ev,
					     uint32_t vcpu, int64_t offset,
					     uint64_t rtt_cycles)
{
	struct vcpu_evidence *v;
	uint64_t difference;

	if (vcpu >= ev->nr_vcpus)
		return TSC_EVIDENCE_BAD_VCPU;
	v = &ev->vcpu[vcpu];
	v->offset = offset;
	v->rtt_cycles = rtt_cycles;
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
	/* Unsigned distance: no overflow whatever the guest sent. */
	difference = offset >= ev->offset ? (uint64_t)offset - (uint64_t)ev->offset
					  : (uint64_t)ev->offset - (uint64_t)offset;
	v->state = difference <= v->tolerance_cycles ? VCPU_EVIDENCE_AGREED
						     : VCPU_EVIDENCE_DISAGREED;
	return v->state == VCPU_EVIDENCE_AGREED ? TSC_EVIDENCE_AGREED
						: TSC_EVIDENCE_DISAGREED;
}

bool tsc_evidence_complete(const struct tsc_evidence *ev)
{
	uint32_t cpu;

	if (!ev->adopted || !ev->nr_vcpus)
		return false;
	for (cpu = 0; cpu < ev->nr_vcpus; cpu++)
		if (ev->vcpu[cpu].state != VCPU_EVIDENCE_AGREED)
			return false;
	return true;
}

const char *vcpu_evidence_state_name(enum vcpu_evidence_state state)
{
	switch (state) {
	case VCPU_EVIDENCE_AGREED:
		return "agreed";
	case VCPU_EVIDENCE_DISAGREED:
		return "disagreed";
	default:
		return "none";
	}
}
