/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A domain's clock and the records that publish it: system time is the host
 * TSC since the domain's creation scaled at the calibrated rate; the guest
 * TSC is the host TSC plus one offset; the wall clock is the host's
 * CLOCK_REALTIME plus the domain's wall offset.
 */
#ifndef PVTIMED_RECORDS_H
#define PVTIMED_RECORDS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "shm.h"

struct domain_clock {
	/* Serialises writers of records, the wall clock and fields below. */
	pthread_mutex_t lock;
	uint64_t tsc_hz;
	uint64_t epoch_host_tsc;
	uint32_t mul;
	int8_t shift;
	uint32_t nr_vcpus;

	bool offset_known;
	int64_t guest_tsc_offset;
	uint64_t handshake_rtt_cycles;
	uint64_t anchor_host_tsc;
	uint32_t generation;

	int64_t wall_offset_ns;
	bool wc_published;
	int64_t published_wc_ns;
};

int domain_clock_init(struct domain_clock *clk, uint64_t tsc_hz,
		      uint32_t nr_vcpus);
void domain_clock_fini(struct domain_clock *clk);

/* System time (ns since creation) at a host TSC value. */
uint64_t domain_clock_system_ns(const struct domain_clock *clk,
				uint64_t host_tsc);

/*
 * Adopt a guest TSC offset: anchor every vCPU record at the host TSC now,
 * mark records valid and bump records_generation.
 */
void records_adopt_offset(struct domain_clock *clk, struct pvtime_shm *shm,
			  int64_t guest_tsc_offset, uint64_t rtt_cycles);

#endif /* PVTIMED_RECORDS_H */
