// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <string.h>

#include "pvclock_math.h"
#include "records.h"

int domain_clock_init(struct domain_clock *clk, uint64_t tsc_hz,
		      uint32_t nr_vcpus)
{
	int ret;

	memset(clk, 0, sizeof(*clk));
	ret = pvtime_scale_from_hz(tsc_hz, &clk->mul, &clk->shift);
	if (ret)
		return ret;
	ret = pthread_mutex_init(&clk->lock, NULL);
	if (ret)
		return -ret;
	clk->tsc_hz = tsc_hz;
	clk->nr_vcpus = nr_vcpus;
	clk->epoch_host_tsc = pvtime_rdtsc();
	return 0;
}

void domain_clock_fini(struct domain_clock *clk)
{
	pthread_mutex_destroy(&clk->lock);
}

uint64_t domain_clock_system_ns(const struct domain_clock *clk,
				uint64_t host_tsc)
{
	return pvtime_scale_delta(host_tsc - clk->epoch_host_tsc, clk->mul,
				  clk->shift);
}

void records_adopt_offset(struct domain_clock *clk, struct pvtime_shm *shm,
			  int64_t guest_tsc_offset, uint64_t rtt_cycles)
{
	pvtime_time_info_t rec;
	uint64_t anchor;
	uint32_t cpu;

	pthread_mutex_lock(&clk->lock);
	anchor = pvtime_rdtsc();
	memset(&rec, 0, sizeof(rec));
	rec.tsc_timestamp = anchor + (uint64_t)guest_tsc_offset;
	rec.system_time = domain_clock_system_ns(clk, anchor);
	rec.tsc_to_system_mul = clk->mul;
	rec.tsc_shift = clk->shift;
	rec.flags = 0;	/* TSC_STABLE stays clear until it is proven */
	for (cpu = 0; cpu < clk->nr_vcpus; cpu++)
		pvtime_time_write(pvtime_vcpu_time(shm->si, cpu), &rec);

	clk->offset_known = true;
	clk->guest_tsc_offset = guest_tsc_offset;
	clk->handshake_rtt_cycles = rtt_cycles;
	clk->anchor_host_tsc = anchor;
	clk->generation++;
	WRITE_ONCE(shm->ctl->guest_tsc_offset, guest_tsc_offset);
	pvtime_wmb();
	WRITE_ONCE(shm->ctl->status,
		   READ_ONCE(shm->ctl->status) | PVTIME_STATUS_RECORDS_VALID);
	WRITE_ONCE(shm->ctl->records_generation, clk->generation);
	pthread_mutex_unlock(&clk->lock);
}
