// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The readers of shared/pvclock_math.h step by step, on a TSC the test
 * controls: pvtime_rdtsc() and pvtime_cpu_relax() are replaced by counting
 * stand-ins, so a test can tell what a read did, not only what it returned.
 *
 * - An odd version is waited out with a pause per try, without reading the
 *   fields or the TSC; the bound on tries holds; a writer that finishes
 *   during the wait is read at once.
 * - pvtime_time_read_stuck() gives up at once on the odd version an earlier
 *   read gave up on, and only on that one.
 * - The TSC delta is signed and clamped at 0: a TSC behind tsc_timestamp
 *   reads as system_time, at every distance.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

static uint64_t fake_tsc;
static unsigned long rdtsc_calls, relax_calls;
/* After this many pauses, bump *finish_version (a writer finishing); 0: never. */
static unsigned long finish_after;
static volatile uint32_t *finish_version;

static inline uint64_t fake_rdtsc(void)
{
	rdtsc_calls++;
	return fake_tsc;
}

static inline void fake_relax(void)
{
	if (++relax_calls == finish_after && finish_version)
		(*finish_version)++;
}

#define pvtime_rdtsc()		fake_rdtsc()
#define pvtime_cpu_relax()	fake_relax()
#include "pvclock_math.h"
#include "tap.h"

static struct shared_info shared;

static void reset_counts(void)
{
	rdtsc_calls = 0;
	relax_calls = 0;
	finish_after = 0;
	finish_version = NULL;
}

/* A record at 1 GHz (1 ns per cycle), anchored at tsc_timestamp. */
static void set_record(pvtime_time_info_t *ti, uint32_t version,
		       uint64_t tsc_timestamp, uint64_t system_time)
{
	memset(ti, 0, sizeof(*ti));
	pvtime_scale_from_hz(PVTIME_NSEC_PER_SEC, &ti->tsc_to_system_mul,
			     &ti->tsc_shift);
	ti->tsc_timestamp = tsc_timestamp;
	ti->system_time = system_time;
	ti->version = version;
}

static void test_odd_version(void)
{
	pvtime_time_info_t *ti = pvtime_vcpu_time(&shared, 0);
	struct pvtime_time_sample s;
	__s64 wc = 12345;
	int rc;

	memset(&s, 0, sizeof(s));
	set_record(ti, 7, 1000, 5000);
	fake_tsc = 2000;

	reset_counts();
	memset(&s, 0, sizeof(s));
	rc = pvtime_time_read(ti, 100, &s);
	tap_ok(rc == -EAGAIN && rdtsc_calls == 0 && relax_calls == 100 &&
	       s.version == 7,
	       "odd record: 100 tries are 100 pauses, no TSC read (rc %d, rdtsc %lu, pauses %lu, last version %u)",
	       rc, rdtsc_calls, relax_calls, s.version);

	reset_counts();
	memset(&shared, 0, sizeof(shared));
	*pvtime_wc_version(&shared) = 3;
	rc = pvtime_wallclock_read(&shared, 100, &wc);
	tap_ok(rc == -EAGAIN && relax_calls == 100 && wc == 12345,
	       "odd wc_version: pvtime_wallclock_read pauses 100 times (rc %d, pauses %lu)",
	       rc, relax_calls);

	/* The writer finishes (7 -> 8) after 10 pauses: read at once. */
	set_record(ti, 7, 1000, 5000);
	reset_counts();
	finish_after = 10;
	finish_version = &ti->version;
	rc = pvtime_time_read(ti, PVTIME_READ_MAX_TRIES, &s);
	tap_ok(rc == 0 && relax_calls == 10 && rdtsc_calls == 1 &&
	       s.version == 8 && s.system_ns == 6000,
	       "writer finishing after 10 pauses: one TSC read, version 8, 6000 ns (rc %d, pauses %lu, rdtsc %lu, version %u, %" PRIu64 " ns)",
	       rc, relax_calls, rdtsc_calls, s.version, (uint64_t)s.system_ns);
}

static void test_stuck_hint(void)
{
	pvtime_time_info_t *ti = pvtime_vcpu_time(&shared, 1);
	struct pvtime_time_sample s;
	int rc;

	memset(&s, 0, sizeof(s));
	set_record(ti, 7, 1000, 5000);
	fake_tsc = 1500;

	reset_counts();
	rc = pvtime_time_read_stuck(ti, PVTIME_READ_MAX_TRIES, 7, &s);
	tap_ok(rc == -EAGAIN && relax_calls == 0 && rdtsc_calls == 0 &&
	       s.version == 7,
	       "stuck at version 7, record still 7: gives up at once (rc %d, pauses %lu, version %u)",
	       rc, relax_calls, s.version);

	ti->version = 9;
	reset_counts();
	rc = pvtime_time_read_stuck(ti, 50, 7, &s);
	tap_ok(rc == -EAGAIN && relax_calls == 50 && s.version == 9,
	       "stuck at 7, record now odd 9: waits its 50 tries again (rc %d, pauses %lu)",
	       rc, relax_calls);

	ti->version = 10;
	reset_counts();
	rc = pvtime_time_read_stuck(ti, 50, 7, &s);
	tap_ok(rc == 0 && relax_calls == 0 && s.version == 10 && s.system_ns == 5500,
	       "stuck at 7, record now even 10: read normally (rc %d, %" PRIu64 " ns)",
	       rc, (uint64_t)s.system_ns);

	/* An even 'stuck' (none) never short-cuts an odd record. */
	ti->version = 11;
	reset_counts();
	rc = pvtime_time_read_stuck(ti, 20, 0, &s);
	tap_ok(rc == -EAGAIN && relax_calls == 20,
	       "stuck 0 (none): an odd record is waited for (pauses %lu)", relax_calls);
}

static void test_tsc_behind_anchor(void)
{
	static const struct {
		int64_t delta;		/* TSC - tsc_timestamp */
		uint64_t want;		/* ns after system_time */
	} cases[] = {
		{ INT64_MIN, 0 },
		{ -(1ll << 40), 0 },
		{ -1, 0 },
		{ 0, 0 },
		{ 1, 1 },
		{ 1000000000, 1000000000 },
		{ INT64_MAX, (uint64_t)INT64_MAX },
	};
	pvtime_time_info_t *ti = pvtime_vcpu_time(&shared, 2);
	const uint64_t anchor = 0x8000000000001234ull;
	const uint64_t system_time = 7000000000ull;
	struct pvtime_time_sample s;
	size_t i;

	set_record(ti, 2, anchor, system_time);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		fake_tsc = anchor + (uint64_t)cases[i].delta;
		memset(&s, 0, sizeof(s));
		rc = pvtime_time_read(ti, 1, &s);
		tap_ok(rc == 0 && s.system_ns == system_time + cases[i].want &&
		       s.tsc == fake_tsc,
		       "TSC %" PRId64 " cycles from the anchor reads system_time + %" PRIu64 " ns (got + %" PRIu64 ")",
		       cases[i].delta, cases[i].want,
		       (uint64_t)(s.system_ns - system_time));
	}
}

int main(void)
{
	tap_plan(3 + 4 + 7);
	test_odd_version();
	test_stuck_hint();
	test_tsc_behind_anchor();
	return tap_done();
}
