/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest side of the test time meter (selftests/host/meter/meter_abi.h):
 * the host's CLOCK_REALTIME read through a second ivshmem device that
 * pvtimed knows nothing about, so the guest's clock can be checked while
 * pvtimed is dead or misbehaving.
 *
 * One exchange brackets the host's answer between two guest
 * CLOCK_REALTIME reads; meter_sample() keeps the narrowest bracket of a
 * burst and reports guest - host at its midpoint.  The error of that
 * offset is at most half the bracket (rtt_ns / 2).
 */
#ifndef PVTIME_METER_PROBE_H
#define PVTIME_METER_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "../host/meter/meter_abi.h"

struct meter {
	struct meter_page *page;
	size_t size;
	uint64_t seq;			/* last request sent */
	int64_t last_realtime_ns;	/* for the backward-step count */
	unsigned long long realtime_backsteps;
	char where[256];		/* the device or file mapped */
};

struct meter_sample {
	int64_t offset_ns;		/* guest - host CLOCK_REALTIME */
	int64_t rtt_ns;			/* bracket width of the best exchange */
	int64_t guest_realtime_ns;	/* bracket midpoint */
	int64_t host_realtime_ns;
	int64_t host_raw_ns;		/* host CLOCK_MONOTONIC_RAW */
	/*
	 * The guest TSC at the bracket's midpoint (0 off x86): pairs with
	 * host_raw_ns to map the guest's TSC onto host time, for events the
	 * guest kernel timestamps with it.
	 */
	uint64_t guest_tsc;
	unsigned int exchanges;		/* answered exchanges the best came from */
};

/*
 * Exchanges per sample by default, the best kept.  On a busy 2-core host
 * with guests running, 40 % of 16-exchange samples had no exchange under
 * 20 us (the meter waited ~1 ms for a CPU), 8 % of 64-exchange ones.
 */
#define METER_SAMPLE_EXCHANGES	64

/*
 * Find the meter's PCI device (1af4:1110 whose BAR2 starts with
 * METER_MAGIC) and map its resource2.  0, -ENODEV if there is none, or
 * -errno; a message on stderr either way.
 */
int meter_open(struct meter *m);

/* Map a meter page from a file: a device's resource2, or the host file. */
int meter_open_path(struct meter *m, const char *path);

void meter_close(struct meter *m);

/*
 * Wake the meter, then run `exchanges` exchanges and keep the narrowest.
 * 0; -ETIMEDOUT if the meter did not answer (message on stderr); -EIO if
 * no exchange gave a usable bracket (the guest clock went back inside
 * every one of them).
 */
int meter_sample(struct meter *m, unsigned int exchanges,
		 struct meter_sample *s);

/*
 * One exchange, no wake-up exchange before it: for callers that keep the
 * meter busy (a request at least every burst, 5 ms by default).  0 or
 * -ETIMEDOUT after timeout_ns; s->exchanges is 1, s->rtt_ns is
 * negative if the guest's REALTIME stepped inside the bracket (judged
 * against CLOCK_MONOTONIC_RAW around it): no measurement.
 */
int meter_exchange(struct meter *m, int64_t timeout_ns, struct meter_sample *s);

#endif /* PVTIME_METER_PROBE_H */
