// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Per-vCPU TSC offset evidence: adoption, tolerance, completeness. */
#include <stdint.h>

#include "tap.h"
#include "tsc_evidence.h"

int main(void)
{
	struct tsc_evidence ev;
	enum tsc_evidence_result r;
	uint64_t tol;

	tap_plan(11);
	tsc_evidence_init(&ev, 3);
	tap_ok(!tsc_evidence_complete(&ev), "no evidence: not complete");

	r = tsc_evidence_submit(&ev, 1, -5000, 600);
	tap_ok(r == TSC_EVIDENCE_ADOPTED && ev.adopted && ev.offset == -5000 &&
	       ev.adopted_vcpu == 1, "first probe (from vCPU 1) adopts its offset");
	tap_ok(!tsc_evidence_complete(&ev), "one of three vCPUs: not complete");

	/* Tolerance: 600/2 + 1001/2 rounded up + slack. */
	tol = 300 + 501 + TSC_EVIDENCE_SLACK_CYCLES;
	r = tsc_evidence_submit(&ev, 0, -5000 + (int64_t)tol, 1001);
	tap_ok(r == TSC_EVIDENCE_AGREED && ev.vcpu[0].tolerance_cycles == tol,
	       "offset off by exactly the tolerance (%llu) agrees",
	       (unsigned long long)tol);
	r = tsc_evidence_submit(&ev, 2, -5000 - (int64_t)tol - 1, 1001);
	tap_ok(r == TSC_EVIDENCE_DISAGREED &&
	       ev.vcpu[2].state == VCPU_EVIDENCE_DISAGREED,
	       "one cycle beyond the tolerance (below) disagrees");
	tap_ok(!tsc_evidence_complete(&ev), "a disagreeing vCPU keeps it incomplete");
	r = tsc_evidence_submit(&ev, 2, -4990, 400);
	tap_ok(r == TSC_EVIDENCE_AGREED && tsc_evidence_complete(&ev),
	       "a later probe of that vCPU replaces its evidence: complete");
	r = tsc_evidence_submit(&ev, 3, -5000, 400);
	tap_ok(r == TSC_EVIDENCE_BAD_VCPU, "vCPU beyond nr_vcpus refused");
	r = tsc_evidence_submit(&ev, 0, INT64_MAX, 0);
	tap_ok(r == TSC_EVIDENCE_DISAGREED && !tsc_evidence_complete(&ev),
	       "extreme offsets compare without overflow");

	tsc_evidence_init(&ev, 1);
	tsc_evidence_submit(&ev, 0, 7, 100);
	tap_ok(tsc_evidence_complete(&ev), "one vCPU: adoption alone is complete");
	tsc_evidence_init(&ev, 0);
	tap_ok(!tsc_evidence_complete(&ev) &&
	       tsc_evidence_submit(&ev, 0, 1, 1) == TSC_EVIDENCE_BAD_VCPU,
	       "a domain without vCPUs is never complete");
	return tap_done();
}
