// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A restarted pvtimed takes a domain's clock over from the shared memory
 * and the saved state: the records stay bit for bit what the guest was
 * reading, the next sample agrees instead of adopting afresh, TSC_STABLE
 * survives while the vCPUs confirm again, and a record left odd by a
 * writer killed mid-pass is rewritten from an intact one.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "pvclock_math.h"
#include "core/log.h"
#include "clock/records.h"
#include "records_fixture.h"


static int records_equal(struct pvtime_shm *m, const pvtime_time_info_t *before)
{
	uint32_t v;

	for (v = 0; v < VCPUS; v++)
		if (memcmp(rec(m, v), &before[v], sizeof(before[v])))
			return 0;
	return 1;
}

int main(void)
{
	struct pvtime_shm m;
	struct domain_clock old, adopted, stale;
	struct records_state st, older;
	struct records_adoption how;
	pvtime_time_info_t before[VCPUS];
	enum offset_outcome out;
	uint64_t now;
	bool ring;
	int ret;
	uint32_t true_mul;
	int8_t true_shift;
	int64_t gap;
	uint32_t v;

	log_setup(false, LOG_LEVEL_ERROR);
	tap_plan(10);
	if (live_domain(&m, &old, "adopt")) {
		tap_ok(0, "a live, stable domain to adopt");
		return tap_done();
	}
	tap_ok(1, "a live, stable domain to adopt");
	old.lag_ns = RECORDS_LEAD_DEADBAND_NS - 23;	/* under the dead band: no slew */
	/* What the old daemon published of its jumps (it keeps no copy). */
	m.ctl->records_jumped_ns = 1234567;
	records_save_state(&old, &st);
	for (v = 0; v < VCPUS; v++)
		before[v] = *rec(&m, v);

	/* The old daemon is gone (its clock is simply never used again). */
	tap_ok(!domain_clock_adopt(&adopted, "adopt", VCPUS, TSC_STABLE_AUTO, &m,
				   &st, &how) &&
	       how.live && how.state_current && !how.torn,
	       "adopted: live, state current, nothing torn");
	tap_ok(records_equal(&m, before),
	       "adoption writes nothing: every record bit for bit as before");
	now = pvtime_rdtsc();
	tap_ok(adopted.guest_tsc_offset == OFFSET &&
	       time_function_at(&adopted.fn, now) == time_function_at(&old.fn, now) &&
	       time_function_at(&adopted.ref, now) == time_function_at(&old.ref, now) &&
	       adopted.lag_ns == RECORDS_LEAD_DEADBAND_NS - 23 &&
	       adopted.records_jumped_ns == 1234567,
	       "offset, records' function, reference, drift and jump total taken over");
	records_refresh_stability(&adopted, &m);
	tap_ok(rec(&m, 0)->flags & PVTIME_FLAG_TSC_STABLE,
	       "TSC_STABLE kept through the grace while vCPUs confirm");
	out = records_submit_offset(&adopted, &m, 1, OFFSET + 40, 500,
				    PVTIME_SAMPLE_F_PERIODIC, &ring);
	tap_ok(out == OFFSET_AGREED && records_equal(&m, before),
	       "the first sample after adoption agrees: no fresh adoption, no rewrite");
	out = records_submit_offset(&adopted, &m, 0, OFFSET + 5000000, 500,
				    PVTIME_SAMPLE_F_PERIODIC, &ring);
	records_refresh_stability(&adopted, &m);
	tap_ok(out == OFFSET_MOVED && adopted.guest_tsc_offset == OFFSET + 5000000 &&
	       adopted.stable_grace_until_tsc == 0 &&
	       !(rec(&m, 0)->flags & PVTIME_FLAG_TSC_STABLE),
	       "a moved offset after adoption is taken over as usual, and ends the grace");
	domain_clock_fini(&adopted);

	/* State saved before the last change of the records. */
	older = st;
	older.fn.system_ns -= 1000;
	older.slew_ppm = 500;
	ret = domain_clock_adopt(&stale, "adopt", VCPUS, TSC_STABLE_AUTO, &m,
				 &older, &how);
	now = pvtime_rdtsc();
	tap_diag("adopt %d, state_current %d, slew %d, ref-fn %lld ns", ret,
		 how.state_current, stale.slew_ppm,
		 (long long)(time_function_at(&stale.ref, now) -
			     time_function_at(&stale.fn, now)));
	time_function_scale(HZ, 0, &true_mul, &true_shift);
	gap = (int64_t)(time_function_at(&stale.ref, now) -
			time_function_at(&stale.fn, now));
	/* Apart by rounding, or a reader window's rate term (2 us at most). */
	tap_ok(!ret && !how.state_current && stale.slew_ppm == 0 &&
	       gap <= 2000 && gap >= -2000 &&
	       stale.fn.mul == true_mul && stale.fn.shift == true_shift &&
	       stale.ref.mul == true_mul,
	       "an out-of-date state: the records' function becomes the reference, at the true rate, no slew");
	domain_clock_fini(&stale);

	/* Killed in the middle of rewriting vCPU 0's record. */
	for (v = 0; v < VCPUS; v++)
		before[v] = *rec(&m, v);
	rec(&m, 0)->version |= 1;
	rec(&m, 0)->system_time = 12345;	/* half-written garbage */
	tap_ok(!domain_clock_adopt(&stale, "adopt", VCPUS, TSC_STABLE_AUTO, &m,
				   &st, &how) &&
	       how.torn && how.source_vcpu == 1 &&
	       !(rec(&m, 0)->version & 1) &&
	       rec(&m, 0)->system_time == rec(&m, 1)->system_time &&
	       rec(&m, 0)->tsc_timestamp == before[1].tsc_timestamp,
	       "a record left odd is rewritten, even, from vCPU 1's intact one");
	domain_clock_fini(&stale);

	for (v = 0; v < VCPUS; v++)
		rec(&m, v)->version |= 1;
	tap_ok(domain_clock_adopt(&stale, "adopt", VCPUS, TSC_STABLE_AUTO, &m,
				  &st, &how) == -EPROTO,
	       "no intact record at all: refused (-EPROTO)");
	return tap_done();
}
