/* SPDX-License-Identifier: GPL-2.0 */
/*
 * When a wall-clock doorbell landed in this guest's CLOCK_REALTIME, on the
 * host's clock: the module traces each doorbell in guest TSC cycles
 * (debugfs wallclock_doorbells, struct pvtime_doorbell_trace), and the
 * test's meter samples pair the guest TSC with the host's
 * CLOCK_MONOTONIC_RAW (meter_probe.h), which maps one onto the other.
 * Neither goes through pvtimed or the records.
 */
#ifndef PVTIME_DOORBELL_TRACE_H
#define PVTIME_DOORBELL_TRACE_H

#include <stddef.h>
#include <stdint.h>

struct doorbell {
	uint64_t irq_tsc;	/* the hard irq */
	uint64_t thread_tsc;	/* its thread began the step */
	uint64_t set_begin_tsc;	/* do_settimeofday64() called, */
	uint64_t moved_tsc;	/* REALTIME's readers got the new time (0: unknown), */
	uint64_t set_end_tsc;	/* it returned (timers re-armed on every CPU) */
	unsigned int attempts;	/* do_settimeofday64()s the step took */
	int measured;		/* residual_ns was measured ... */
	int64_t residual_ns;	/* ... REALTIME - wall after the last one */
};

struct doorbells {
	struct doorbell *v;
	size_t n;
};

/*
 * Read the module's debugfs file.  0, or -errno with a message on stderr
 * (a line that is not five TSC values, the attempts and the residual in
 * ns or "-" is an error: the file is the ABI).
 */
int doorbells_read(const char *path, struct doorbells *out);
void doorbells_free(struct doorbells *d);

/* Guest TSC -> host CLOCK_MONOTONIC_RAW, fitted over meter samples. */
struct tsc_map {
	uint64_t tsc0;		/* the fit's origin */
	double raw0_ns;		/* host raw time there */
	double ns_per_cycle;
	int64_t residual_p99_ns;	/* how well the samples fit */
	size_t samples;
};

/*
 * Least squares over the pairs (tsc[i], raw_ns[i]) of n samples.  0, or
 * -EINVAL with fewer than two samples or no spread of TSC values.
 */
int tsc_map_fit(struct tsc_map *map, const uint64_t *tsc,
		const int64_t *raw_ns, size_t n);
int64_t tsc_map_raw_ns(const struct tsc_map *map, uint64_t tsc);

#endif /* PVTIME_DOORBELL_TRACE_H */
