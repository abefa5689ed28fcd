// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A domain's wall clock near the signed 64-bit ns limit (2262): sets that
 * leave less than a year are refused, and what is computed from the
 * offset saturates instead of wrapping into the past.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "core/log.h"
#include "clock/wallclock.h"

#define HZ	2600000000ull
#define S	1000000000ll

int main(void)
{
	struct pvtime_shm_identity id = { .abi_version = 1, .domid = 1,
					  .nr_vcpus = 1, .tsc_hz = HZ };
	struct pvtime_shm shm;
	struct domain_clock clk;
	char err[160] = "";
	int64_t before;

	log_setup(false, LOG_LEVEL_ERROR);
	tap_plan(11);
	tap_ok(wallclock_add_sat(INT64_MAX - 5, 10) == INT64_MAX &&
	       wallclock_add_sat(INT64_MIN + 5, -10) == INT64_MIN &&
	       wallclock_add_sat(-5, 10) == 5,
	       "wallclock_add_sat saturates both ways, adds otherwise");
	if (pvtime_shm_create(&shm, "wc-test", &id) ||
	    domain_clock_init(&clk, "wc-test", HZ, 1, TSC_STABLE_AUTO)) {
		tap_ok(0, "shared memory and clock");
		return tap_done();
	}

	tap_ok(wallclock_set(&clk, &shm, WALLCLOCK_ABSOLUTE, 2000000000 * S, err,
			     sizeof(err)) == 0,
	       "2033 is accepted (%s)", err);
	before = clk.wall_offset_ns;
	err[0] = '\0';
	tap_ok(wallclock_set(&clk, &shm, WALLCLOCK_ABSOLUTE, INT64_MAX, err,
			     sizeof(err)) == -1 && strstr(err, "2261") &&
	       clk.wall_offset_ns == before,
	       "INT64_MAX ns (2262) refused, nothing changed (%s)", err);
	err[0] = '\0';
	tap_ok(wallclock_set(&clk, &shm, WALLCLOCK_ABSOLUTE, WALLCLOCK_MAX_NS - 10 * S,
			     err, sizeof(err)) == 0,
	       "10 s before 2261-01-01 accepted (%s)", err);
	err[0] = '\0';
	tap_ok(wallclock_set(&clk, &shm, WALLCLOCK_RELATIVE, 100 * 86400 * S,
			     err, sizeof(err)) == -1 && strstr(err, "2261"),
	       "+100 days from there refused (%s)", err);
	err[0] = '\0';
	tap_ok(wallclock_set(&clk, &shm, WALLCLOCK_RELATIVE, INT64_MAX / 2, err,
			     sizeof(err)) == -1 && strstr(err, "overflows"),
	       "a relative move overflowing the offset refused (%s)", err);
	tap_ok(wallclock_now(&clk) > WALLCLOCK_MAX_NS - 20 * S &&
	       wallclock_now(&clk) < WALLCLOCK_MAX_NS,
	       "wallclock_now at the limit: %lld", (long long)wallclock_now(&clk));

	before = clk.wall_offset_ns;
	err[0] = '\0';
	tap_ok(wallclock_set(&clk, &shm, WALLCLOCK_HOST, 0, err, sizeof(err)) == 0 &&
	       wallclock_set(&clk, &shm, WALLCLOCK_RELATIVE, INT64_MAX - 1, err,
			     sizeof(err)) == -1 && strstr(err, "2261") &&
	       clk.wall_offset_ns == 0,
	       "from host time, +INT64_MAX - 1 ns refused as too late, not as before 1970 (%s)",
	       err);
	clk.wall_offset_ns = before;

	/* A domain that ran past the limit: saturate, never wrap negative. */
	clk.wall_offset_ns = INT64_MAX - 1000;
	tap_ok(wallclock_now(&clk) == INT64_MAX,
	       "an offset near INT64_MAX saturates wallclock_now (%lld)",
	       (long long)wallclock_now(&clk));
	tap_ok(!wallclock_publish(&clk, &shm, true),
	       "and such a wall clock is not published");
	tap_ok(wallclock_set(&clk, &shm, WALLCLOCK_HOST, 0, err, sizeof(err)) == 0 &&
	       clk.wall_offset_ns == 0,
	       "back to the host's clock");
	domain_clock_fini(&clk);
	pvtime_shm_destroy(&shm);
	return tap_done();
}
