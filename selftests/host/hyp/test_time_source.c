// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The time source's SET_WALLCLOCK arithmetic (hyp/clock/time_source.c): the
 * guest's (wall time, TSC) pair becomes the hyp's wall offset, so that
 * the domain reads that wall time at that TSC; bad times and TSCs are
 * refused with nothing to apply.  Then the hyp offset through
 * wallclock.c: every domain's published wc moves with it, on top of the
 * domain's own offset, and an absolute set of one domain stays absolute.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "core/log.h"
#include "clock/time_source.h"
#include "core/timebase.h"
#include "clock/wallclock.h"

#define HZ	2600000000ull
#define S	1000000000ll
/* 2026-11-30T22:00:00Z */
#define HOST_NS	(1796076000ll * S)

static const struct time_source_clock base_clock = {
	.offset_known = true,
	.guest_tsc_offset = -1000000,	/* guest TSC runs behind the host's */
	.tsc_hz = HZ,
	.domain_offset_ns = 0,
	.realtime = { .tsc = 50 * HZ, .clock_ns = HOST_NS },
};

/* A request made at host TSC host_tsc, wall time wall_ns in the guest. */
static struct time_source_request at(uint64_t host_tsc, int64_t wall_ns)
{
	return (struct time_source_request) {
		.wall_ns = wall_ns,
		.guest_tsc = host_tsc + (uint64_t)base_clock.guest_tsc_offset,
	};
}

static void test_offsets(void)
{
	struct time_source_clock clk = base_clock;
	struct time_source_request req;
	const char *why = "";
	int64_t off = 12345;
	int ret;

	req = at(clk.realtime.tsc, HOST_NS + 1000 * S);
	ret = time_source_hyp_offset(&req, &clk, &off, &why);
	tap_ok(!ret && off == 1000 * S,
	       "a guest 1000 s ahead at the sample's TSC: hyp offset +1000 s (%lld)",
	       (long long)off);

	/* Half a second before the sample: the host was 0.5 s earlier. */
	req = at(clk.realtime.tsc - HZ / 2, HOST_NS - S / 2 - 3 * S);
	ret = time_source_hyp_offset(&req, &clk, &off, &why);
	tap_ok(!ret && off == -3 * S,
	       "the TSC carries the host time back: -3 s (%lld)", (long long)off);

	clk.domain_offset_ns = 7200 * S;
	req = at(clk.realtime.tsc, HOST_NS + 7200 * S + 5 * S);
	ret = time_source_hyp_offset(&req, &clk, &off, &why);
	tap_ok(!ret && off == 5 * S,
	       "the source's own offset (rtc_timeoffset) is kept out of the hyp's: +5 s (%lld)",
	       (long long)off);
}

static void test_refusals(void)
{
	static const struct {
		const char *what;
		int64_t tsc_delta;	/* cycles from the sample */
		int64_t wall_ns;
		bool offset_known;
		int want;
	} cases[] = {
		{ "a wall time before 1970", 0, -1, true, -EINVAL },
		{ "INT64_MIN", 0, INT64_MIN, true, -EINVAL },
		{ "a wall time past 2261-01-01", 0, WALLCLOCK_MAX_NS + 1, true, -ERANGE },
		{ "INT64_MAX", 0, INT64_MAX, true, -ERANGE },
		{ "a TSC 1.1 s old", -(int64_t)(HZ + HZ / 10), HOST_NS, true, -ERANGE },
		{ "a TSC 2 ms ahead of the host's", (int64_t)(HZ / 500), HOST_NS, true,
		  -ERANGE },
		{ "a TSC of 1 (torn)", INT64_MIN, HOST_NS, true, -ERANGE },
		{ "an unknown TSC offset", 0, HOST_NS, false, -EAGAIN },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct time_source_clock clk = base_clock;
		struct time_source_request req;
		const char *why = "";
		int64_t off = 777;
		int ret;

		clk.offset_known = cases[i].offset_known;
		req = at(clk.realtime.tsc + (uint64_t)cases[i].tsc_delta,
			 cases[i].wall_ns);
		if (cases[i].tsc_delta == INT64_MIN)
			req.guest_tsc = 1;
		ret = time_source_hyp_offset(&req, &clk, &off, &why);
		tap_ok(ret == cases[i].want && off == 777,
		       "refuses %s: %d (%s), offset untouched", cases[i].what,
		       ret, why);
	}
	{
		struct time_source_clock clk = base_clock;
		struct time_source_request req = at(clk.realtime.tsc - HZ + HZ / 100,
						    HOST_NS);
		const char *why = "";
		int64_t off;

		tap_ok(!time_source_hyp_offset(&req, &clk, &off, &why),
		       "a TSC 0.99 s old is accepted (%s)", why);
		req = at(clk.realtime.tsc + HZ / 2000, HOST_NS);
		tap_ok(!time_source_hyp_offset(&req, &clk, &off, &why),
		       "a TSC 0.5 ms ahead (offset uncertainty) is accepted (%s)", why);
	}
}

/* The hyp offset moves every domain's wall clock, the domain's own on top. */
static void test_hyp_offset(void)
{
	struct pvtime_shm_identity id = { .abi_version = 1, .domid = 1,
					  .nr_vcpus = 1, .tsc_hz = HZ };
	struct pvtime_shm shm;
	struct domain_clock clk;
	char err[160] = "";
	int64_t now, wall;

	if (pvtime_shm_create(&shm, "ts-test", &id) ||
	    domain_clock_init(&clk, "ts-test", HZ, 1, TSC_STABLE_AUTO)) {
		tap_ok(0, "shared memory and clock");
		return;
	}
	clk.wall_offset_ns = 60 * S;
	wallclock_set_hyp_offset_ns(1000 * S);
	now = timebase_sample(CLOCK_REALTIME).clock_ns;
	wall = wallclock_now(&clk) - now;
	tap_ok(wall > 1059 * S && wall < 1061 * S,
	       "a domain's wall clock = host + hyp offset + its own (%lld ns ahead)",
	       (long long)wall);
	tap_ok(wallclock_publish(&clk, &shm, false),
	       "a moved hyp offset republishes wc without force");
	tap_ok(wallclock_set(&clk, &shm, WALLCLOCK_ABSOLUTE, 2000000000 * S, err,
			     sizeof(err)) == 0 &&
	       wallclock_now(&clk) - 2000000000 * S < S &&
	       wallclock_now(&clk) - 2000000000 * S > -S,
	       "an absolute set of the domain lands on its target despite the hyp offset (%s)",
	       err);
	wallclock_set_hyp_offset_ns(INT64_MAX);
	tap_ok(wallclock_now(&clk) == INT64_MAX,
	       "an absurd hyp offset saturates, never wraps");
	wallclock_set_hyp_offset_ns(0);
	domain_clock_fini(&clk);
	pvtime_shm_destroy(&shm);
}

int main(void)
{
	struct timebase tb;

	log_setup(false, LOG_LEVEL_ERROR);
	tap_plan(3 + 8 + 2 + 4);
	test_offsets();
	test_refusals();
	if (timebase_calibrate(&tb, 20)) {
		tap_ok(0, "TSC calibration");
		return tap_done();
	}
	timebase_set(&tb);
	test_hyp_offset();
	return tap_done();
}
