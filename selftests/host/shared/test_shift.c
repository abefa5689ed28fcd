// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A record's tsc_shift is written by the hyp, and a guest must survive any
 * value a broken or hostile writer puts there.  Shifting by -(-128) = 128
 * is undefined in C, so this test runs under UBSan (SANITIZE=1) and aborts
 * on code that shifts by it.
 *
 * - Every shift from -128 to 127 goes through pvtime_scale_delta() and
 *   pvtime_hz_from_scale() without undefined behaviour; the invalid ones
 *   give 0, the valid ones the exact value.
 * - pvtime_time_read() and pvtime_time_snapshot() refuse a record with a
 *   shift outside [-PVTIME_SHIFT_MAX, PVTIME_SHIFT_MAX] with -ERANGE (no
 *   time computed from it) and accept the bounds themselves.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "pvclock_math.h"
#include "tap.h"

/*
 * The ABI's bound (PVTIME_SHIFT_MAX), spelled out so that the test also
 * builds against code from before the bound and fails there under UBSan.
 */
#define SHIFT_LIMIT 63

static struct shared_info shared;

static int shift_in_range(int shift)
{
	return shift >= -SHIFT_LIMIT && shift <= SHIFT_LIMIT;
}

static void set_record(pvtime_time_info_t *ti, int8_t shift)
{
	memset(ti, 0, sizeof(*ti));
	ti->version = 2;
	ti->tsc_timestamp = 0;
	ti->system_time = 1000;
	ti->tsc_to_system_mul = 0x80000000u;
	ti->tsc_shift = shift;
}

/* ((delta << shift) * mul) >> 32, for a small delta and a valid shift. */
static uint64_t expected_scale(uint64_t delta, uint32_t mul, int shift)
{
	unsigned __int128 v = delta;

	v = shift < 0 ? v >> -shift : v << shift;
	return (uint64_t)((v * mul) >> 32);
}

int main(void)
{
	static const int8_t refused[] = { -128, -127, -64, 64, 127 };
	static const int8_t accepted[] = { -SHIFT_LIMIT, -1, 0, 1,
					   SHIFT_LIMIT };
	pvtime_time_info_t *ti = pvtime_vcpu_time(&shared, 0);
	unsigned int wrong_scale = 0, wrong_hz = 0;
	struct pvtime_time_sample s;
	pvtime_time_info_t snap;
	unsigned int i;
	int shift, rc;

	tap_plan(3 + 2 * (int)(sizeof(refused) / sizeof(refused[0])) +
		 2 * (int)(sizeof(accepted) / sizeof(accepted[0])));

	for (shift = -128; shift <= 127; shift++) {
		uint64_t want = shift_in_range(shift) ?
				expected_scale(12345, 0x80000000u, shift) : 0;

		if (pvtime_scale_delta(12345, 0x80000000u, (int8_t)shift) != want)
			wrong_scale++;
		if (!shift_in_range(shift) &&
		    pvtime_hz_from_scale(0x80000000u, (int8_t)shift) != 0)
			wrong_hz++;
	}
	tap_ok(!wrong_scale, "pvtime_scale_delta: every shift -128..127 defined, invalid ones give 0 (%u wrong)",
	       wrong_scale);
	tap_ok(!wrong_hz, "pvtime_hz_from_scale: invalid shifts give 0 Hz (%u wrong)",
	       wrong_hz);
	tap_ok(pvtime_hz_from_scale(0x80000000u, -1) == 4 * PVTIME_NSEC_PER_SEC,
	       "pvtime_hz_from_scale(2^31, -1) is 4 GHz (got %" PRIu64 ")",
	       (uint64_t)pvtime_hz_from_scale(0x80000000u, -1));

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		set_record(ti, refused[i]);
		memset(&s, 0, sizeof(s));
		rc = pvtime_time_read(ti, PVTIME_READ_MAX_TRIES, &s);
		tap_ok(rc == -ERANGE && !s.system_ns && s.version == 2,
		       "pvtime_time_read refuses shift %d with -ERANGE (rc %d, system_ns %" PRIu64 ")",
		       refused[i], rc, (uint64_t)s.system_ns);
		rc = pvtime_time_snapshot(ti, PVTIME_READ_MAX_TRIES, &snap);
		tap_ok(rc == -ERANGE, "pvtime_time_snapshot refuses shift %d with -ERANGE (rc %d)",
		       refused[i], rc);
	}
	for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		set_record(ti, accepted[i]);
		rc = pvtime_time_read(ti, PVTIME_READ_MAX_TRIES, &s);
		tap_ok(rc == 0, "pvtime_time_read accepts shift %d (rc %d)",
		       accepted[i], rc);
		rc = pvtime_time_snapshot(ti, PVTIME_READ_MAX_TRIES, &snap);
		tap_ok(rc == 0 && snap.tsc_shift == accepted[i],
		       "pvtime_time_snapshot accepts shift %d (rc %d)",
		       accepted[i], rc);
	}
	return tap_done();
}
