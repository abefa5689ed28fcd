// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvxl save / restore, the records' part: the image of a stopped clock
 * and a clock restored from it.  The restored records map every guest TSC
 * value to what the saved ones did (the guest reads on as if nothing
 * happened), carry GUEST_STOPPED without TSC_STABLE, and the reference has
 * gone on by the host's CLOCK_REALTIME since the save (never back), so
 * the stopped-time policy finds the guest behind by exactly the time away.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "pvclock_math.h"
#include "core/log.h"
#include "clock/records.h"
#include "records_fixture.h"

#define AWAY_NS		5000000000ll
#define REALTIME_AT_STOP	1700000000000000000ll

/* What a guest reading record r at guest TSC g gets. */
static uint64_t guest_reads(const pvtime_time_info_t *r, uint64_t g)
{
	return r->system_time + pvtime_scale_delta(g - r->tsc_timestamp,
						   r->tsc_to_system_mul,
						   r->tsc_shift);
}

static int64_t abs64(int64_t v)
{
	return v < 0 ? -v : v;
}

int main(void)
{
	struct pvtime_shm_identity id2 = { .abi_version = 1, .domid = 4,
					   .nr_vcpus = VCPUS, .tsc_hz = HZ };
	struct pvtime_shm m, m2;
	struct domain_clock old, restored, fresh;
	struct records_image img, bad;
	pvtime_time_info_t saved_rec;
	uint64_t stop_tsc, now_tsc, g;
	int64_t lead, worst = 0;
	int i, ret;

	log_setup(false, LOG_LEVEL_ERROR);
	tap_plan(11);
	if (live_domain(&m, &old, "saved")) {
		tap_ok(0, "a live, stable domain to save");
		return tap_done();
	}
	tap_ok(1, "a live, stable domain to save");
	old.lag_ns = 1234;
	records_guest_paused(&old);
	stop_tsc = pvtime_rdtsc();
	records_image_at_stop(&old, stop_tsc, REALTIME_AT_STOP, &img);
	saved_rec = *rec(&m, 0);
	tap_ok(img.offset_known && img.periodic && img.lag_ns == 1234 &&
	       img.guest_tsc_at_stop == stop_tsc + (uint64_t)OFFSET &&
	       img.guest_tsc_anchor == saved_rec.tsc_timestamp &&
	       img.shown_anchor_ns == saved_rec.system_time &&
	       img.ref_at_stop_ns == img.shown_at_stop_ns,
	       "image: the records' function of the guest TSC, the guest TSC at the stop, the lag");

	/* Another QEMU (and, as far as the image knows, another host). */
	now_tsc = pvtime_rdtsc();
	ret = domain_clock_restore(&restored, "restored", VCPUS,
				   TSC_STABLE_AUTO, HZ, &img, now_tsc, false,
				   REALTIME_AT_STOP + AWAY_NS);
	tap_ok(!ret && restored.offset_known && restored.paused &&
	       restored.guest_tsc_offset ==
	       (int64_t)(img.guest_tsc_at_stop - now_tsc),
	       "restored: paused, offset = guest TSC at the stop - host TSC now");
	if (ret || pvtime_shm_create(&m2, "restored", &id2))
		return tap_done();
	/* The stream brought the old page back; pvtimed rewrites it. */
	memcpy(m2.base, m.base, PVTIME_SHM_SIZE);
	records_restored_publish(&restored, &m2);
	tap_ok(rec(&m2, 0)->tsc_timestamp <= img.guest_tsc_at_stop,
	       "the restored records are anchored at or before the guest TSC at the stop");
	for (i = 0; i < 1000; i++) {
		int64_t d;

		g = img.guest_tsc_at_stop + (uint64_t)i * 2600000ull;
		d = (int64_t)(guest_reads(rec(&m2, i % VCPUS), g) -
			      guest_reads(&saved_rec, g));
		if (abs64(d) > abs64(worst))
			worst = d;
	}
	tap_ok(abs64(worst) <= 1,
	       "the guest reads what it read before, over the second after the stop (worst %lld ns)",
	       (long long)worst);
	tap_ok((rec(&m2, 0)->flags & PVTIME_FLAG_GUEST_STOPPED) &&
	       !(rec(&m2, 1)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       (m2.ctl->status & PVTIME_STATUS_RECORDS_VALID) &&
	       m2.ctl->guest_tsc_offset == restored.guest_tsc_offset &&
	       m2.ctl->records_generation != m.ctl->records_generation,
	       "records carry GUEST_STOPPED, not TSC_STABLE; offset and a new generation published");
	pthread_mutex_lock(&restored.lock);
	lead = records_lead_ns_locked(&restored, pvtime_rdtsc());
	pthread_mutex_unlock(&restored.lock);
	tap_ok(abs64(lead + AWAY_NS) < 2000000,
	       "the policy finds the guest behind by the time away (lead %lld ns, away %lld ns)",
	       (long long)lead, (long long)AWAY_NS);

	/* The host's clock set back since the save: no time, not negative. */
	domain_clock_fini(&restored);
	ret = domain_clock_restore(&restored, "restored", VCPUS,
				   TSC_STABLE_AUTO, HZ, &img, pvtime_rdtsc(),
				   false, REALTIME_AT_STOP - AWAY_NS);
	pthread_mutex_lock(&restored.lock);
	lead = records_lead_ns_locked(&restored, pvtime_rdtsc());
	pthread_mutex_unlock(&restored.lock);
	/* lead = shown - (reference - lag): the lag alone. */
	tap_ok(!ret && lead - 1234 <= 1000 && lead - 1234 > -2000000,
	       "a host clock set back since the save: the reference does not go back (lead %lld ns, lag 1234)",
	       (long long)lead);
	domain_clock_fini(&restored);

	/* Same boot: the TSC, not a host clock stepped by 5 s, says how long. */
	ret = domain_clock_restore(&restored, "restored", VCPUS,
				   TSC_STABLE_AUTO, HZ, &img, pvtime_rdtsc(),
				   true, REALTIME_AT_STOP + AWAY_NS);
	pthread_mutex_lock(&restored.lock);
	lead = records_lead_ns_locked(&restored, pvtime_rdtsc());
	pthread_mutex_unlock(&restored.lock);
	tap_ok(!ret && lead - 1234 <= 1000 && lead - 1234 > -100000000,
	       "same boot: the time away is the TSC's, a host step while away does not count (lead %lld ns, lag 1234)",
	       (long long)lead);
	domain_clock_fini(&restored);

	bad = img;
	bad.mul = 0;
	tap_ok(domain_clock_restore(&fresh, "bad", VCPUS, TSC_STABLE_AUTO, HZ,
				    &bad, pvtime_rdtsc(), false,
				    REALTIME_AT_STOP) == -EPROTO,
	       "an image with mul 0 is refused (-EPROTO)");
	bad = img;
	bad.offset_known = false;
	ret = domain_clock_restore(&fresh, "never-read", VCPUS, TSC_STABLE_AUTO,
				   HZ, &bad, pvtime_rdtsc(), false,
				   REALTIME_AT_STOP);
	records_restored_publish(&fresh, &m2);
	tap_ok(!ret && !fresh.offset_known &&
	       !(m2.ctl->status & PVTIME_STATUS_RECORDS_VALID),
	       "a guest that never read records: none published, the first sample adopts");
	domain_clock_fini(&fresh);
	domain_clock_fini(&old);
	pvtime_shm_destroy(&m);
	pvtime_shm_destroy(&m2);
	return tap_done();
}
