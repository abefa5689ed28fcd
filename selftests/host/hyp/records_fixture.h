/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A live domain clock for the records tests that take one over (adopt,
 * restore): shared memory, the offset adopted and confirmed by every
 * vCPU, TSC_STABLE set.
 */
#ifndef PVTIME_TEST_RECORDS_FIXTURE_H
#define PVTIME_TEST_RECORDS_FIXTURE_H

#include "pvclock_math.h"
#include "clock/records.h"

#define HZ		2600000000ull
#define VCPUS		2
#define OFFSET		(-123456789ll)

static inline pvtime_time_info_t *rec(struct pvtime_shm *m, uint32_t cpu)
{
	return pvtime_vcpu_time(m->si, cpu);
}

/* 0, or -1 if it could not be set up or did not become stable. */
static inline int live_domain(struct pvtime_shm *m, struct domain_clock *c,
			      const char *name)
{
	struct pvtime_shm_identity id = { .abi_version = 1, .domid = 3,
					  .nr_vcpus = VCPUS, .tsc_hz = HZ };
	bool ring;
	uint32_t v;

	if (pvtime_shm_create(m, name, &id) ||
	    domain_clock_init(c, name, HZ, VCPUS, TSC_STABLE_AUTO))
		return -1;
	for (v = 0; v < VCPUS; v++)
		records_submit_offset(c, m, v, OFFSET, 500,
				      PVTIME_SAMPLE_F_PERIODIC, &ring);
	records_refresh_stability(c, m);
	return (rec(m, 0)->flags & PVTIME_FLAG_TSC_STABLE) ? 0 : -1;
}

#endif /* PVTIME_TEST_RECORDS_FIXTURE_H */
