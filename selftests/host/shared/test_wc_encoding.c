// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The wall clock's encoding in Xen's shared_info at the dates where
 * narrower counters wrap: 2038-01-19T03:14:08Z (2^31 s, signed 32-bit
 * time_t), 2106-02-07T06:28:16Z (2^32 s, Xen's 32-bit wc_sec alone),
 * 2107, and the hyp's own limit, 2261-01-01 (WALLCLOCK_MAX_NS).
 *
 * For each: pvtime_wallclock_write() puts the low 32 bits of the seconds
 * in wc_sec (0xc04), the high 32 in wc_sec_hi (0xc0c) and the nanoseconds
 * in wc_nsec (0xc08), little-endian, as Xen does; the version ends even,
 * two past where it was; pvtime_wallclock_read() gives back the same
 * nanoseconds.
 */
#include <stdint.h>
#include <string.h>

#include "pvclock_math.h"
#include "tap.h"

#define S	1000000000ll

struct wc_case {
	const char *when;
	int64_t wc_ns;
	uint32_t sec, sec_hi, nsec;
};

static const struct wc_case cases[] = {
	{ "1970-01-01T00:00:00Z", 0, 0, 0, 0 },
	{ "2038-01-19T03:14:07.999999999Z", 2147483647 * S + 999999999,
	  0x7fffffff, 0, 999999999 },
	{ "2038-01-19T03:14:08Z", 2147483648 * S, 0x80000000u, 0, 0 },
	{ "2106-02-07T06:28:15.999999999Z", 4294967295 * S + 999999999,
	  0xffffffffu, 0, 999999999 },
	{ "2106-02-07T06:28:16Z", 4294967296 * S, 0, 1, 0 },
	{ "2106-02-07T06:28:17.5Z", 4294967297 * S + 500000000, 1, 1, 500000000 },
	{ "2107-01-01T00:00:00Z", 4323283200 * S, 4323283200 - 4294967296, 1, 0 },
	/* hyp/clock/wallclock.h WALLCLOCK_MAX_NS */
	{ "2261-01-01T00:00:00Z", 9183110400 * S,
	  (uint32_t)(9183110400 - 2 * 4294967296), 2, 0 },
	{ "2262-04-11T23:47:16.854775807Z", INT64_MAX, 0x25c17d04, 2, 854775807 },
};

static uint32_t le32_at(const void *base, size_t offset)
{
	const uint8_t *p = (const uint8_t *)base + offset;

	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

int main(void)
{
	static struct shared_info si;
	size_t i;

	tap_plan((int)(2 * (sizeof(cases) / sizeof(cases[0]))));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct wc_case *c = &cases[i];
		uint32_t version = le32_at(&si, 0xc00);
		__s64 back = -1;
		int rc;

		pvtime_wallclock_write(&si, c->wc_ns);
		tap_ok(le32_at(&si, 0xc04) == c->sec &&
		       le32_at(&si, 0xc08) == c->nsec &&
		       le32_at(&si, 0xc0c) == c->sec_hi &&
		       le32_at(&si, 0xc00) == version + 2,
		       "%s: wc_sec %#x wc_nsec %u wc_sec_hi %u (got %#x %u %u, version %u -> %u)",
		       c->when, c->sec, c->nsec, c->sec_hi, le32_at(&si, 0xc04),
		       le32_at(&si, 0xc08), le32_at(&si, 0xc0c), version,
		       le32_at(&si, 0xc00));
		rc = pvtime_wallclock_read(&si, 1, &back);
		tap_ok(rc == 0 && back == c->wc_ns,
		       "%s: read back %lld ns (got rc %d, %lld)", c->when,
		       (long long)c->wc_ns, rc, (long long)back);
	}
	return tap_done();
}
