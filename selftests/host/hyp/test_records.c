// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A domain's records in real shared memory: bring-up on the first
 * SET_OFFSET, TSC_STABLE from per-vCPU evidence and policy, skew, odd
 * holds, the guest-stopped flag, and no step back for a reader hopping
 * between vCPU records while they are re-anchored and re-rated.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "tap.h"
#include "pvclock_math.h"
#include "log.h"
#include "records.h"

#define HZ		2600000000ull
#define STORM_STEPS	20000

static struct pvtime_shm shm;
static struct domain_clock clk;
static atomic_bool reader_stop;
static unsigned long reads, steps_back, raw_steps_back, stable_reads, unreadable;
static uint64_t worst_back;

static pvtime_time_info_t *rec(uint32_t cpu)
{
	return pvtime_vcpu_time(shm.si, cpu);
}

/*
 * Reads like the guest: a record without TSC_STABLE goes through the
 * cross-vCPU guard (never below the last value), one with it does not.
 * A step back is what such a reader would return below an earlier return.
 */
static void *reader(void *arg)
{
	uint64_t last = 0, raw_last = 0, value;
	uint32_t cpu = 0;

	(void)arg;
	while (!atomic_load_explicit(&reader_stop, memory_order_relaxed)) {
		struct pvtime_time_sample s;

		cpu ^= 1;
		if (pvtime_time_read(rec(cpu), PVTIME_READ_MAX_TRIES, &s)) {
			unreadable++;
			continue;
		}
		reads++;
		if (s.system_ns < raw_last)
			raw_steps_back++;
		else
			raw_last = s.system_ns;
		if (s.flags & PVTIME_FLAG_TSC_STABLE) {
			stable_reads++;
			value = s.system_ns;
		} else {
			value = s.system_ns > last ? s.system_ns : last;
		}
		if (value < last) {
			steps_back++;
			if (last - value > worst_back)
				worst_back = last - value;
		} else {
			last = value;
		}
	}
	return NULL;
}

static uint64_t rng = 88172645463325252ull;

static int32_t random_ppm(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (int32_t)(rng % 2001) - 1000;
}

static void test_concurrent_reader(void)
{
	pthread_t thread;
	bool ring;
	int i, rate_errors = 0;

	atomic_store(&reader_stop, false);
	pthread_create(&thread, NULL, reader, NULL);
	for (i = 0; i < STORM_STEPS; i++) {
		if (i % 50 == 0) {
			/* TSC_STABLE back on before each rate change (hold over). */
			clk.stable_hold_until_tsc = pvtime_rdtsc();
			records_refresh_stability(&clk, &shm);
			if (records_set_rate(&clk, &shm, HZ, random_ppm(), &ring))
				rate_errors++;
		} else {
			records_reanchor(&clk, &shm);
		}
	}
	atomic_store(&reader_stop, true);
	pthread_join(thread, NULL);
	tap_diag("%lu reads (%lu of TSC_STABLE records) across %d rewrites (rate changes of up to 1000 ppm every 50), %lu unreadable, %lu raw steps back (what the guard covers), %llu window overruns, mean rounding bias %.4f ns, last rewrite %llu cycles",
		 reads, stable_reads, STORM_STEPS, unreadable, raw_steps_back,
		 (unsigned long long)clk.window_overruns,
		 (double)clk.rounding_bias_sum / 4294967296.0 / (double)clk.reanchors,
		 (unsigned long long)clk.last_write_cycles);
	/* Stable reads depend on scheduling: counted, not required. */
	tap_ok(rate_errors == 0 && reads > 1000,
	       "reader ran (%lu reads, %lu stable), every rate applied", reads,
	       stable_reads);
	/* Only a rewrite slower than the window may let a reader run ahead. */
	tap_ok(steps_back == 0 || clk.window_overruns > 0,
	       "no step back across vCPU records for a guest-like reader (%lu, worst %llu ns)",
	       steps_back, (unsigned long long)worst_back);
}

int main(void)
{
	struct pvtime_shm_identity id = { .abi_version = 1, .domid = 1,
					  .nr_vcpus = 2, .tsc_hz = HZ };
	struct domain_clock off;
	enum offset_outcome out;
	pvtime_time_info_t r0 = { 0 }, r1 = { 0 };
	uint32_t v;
	int i, rings;
	bool ring;

	log_setup(false, LOG_LEVEL_WARN);
	tap_plan(26);
	if (pvtime_shm_create(&shm, "test", &id) ||
	    domain_clock_init(&clk, "test", HZ, 2, TSC_STABLE_AUTO)) {
		tap_ok(0, "shared memory and clock");
		return tap_done();
	}
	tap_ok(shm.ctl->status == 0 && rec(0)->version == 0 &&
	       (shm.ctl->features & PVTIME_F_RECORDS_DOORBELL) &&
	       (shm.ctl->features & PVTIME_F_TSC_STABLE_EVIDENCE),
	       "records down before the offset; features advertised");
	records_reanchor(&clk, &shm);
	tap_ok(rec(0)->version == 0, "no record written before the offset is known");

	out = records_submit_offset(&clk, &shm, 0, 0, 500, &ring);
	tap_ok(out == OFFSET_ADOPTED && (shm.ctl->status & PVTIME_STATUS_RECORDS_VALID) &&
	       rec(0)->version == 2 && rec(1)->version == 2 && !ring &&
	       !(rec(0)->flags & PVTIME_FLAG_TSC_STABLE),
	       "first SET_OFFSET adopts, records live, not yet stable");
	out = records_submit_offset(&clk, &shm, 1, 100, 500, &ring);
	tap_ok(out == OFFSET_AGREED && ring &&
	       (rec(0)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       (rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "vCPU 1 agreeing sets TSC_STABLE on all records and asks for a ring");
	out = records_submit_offset(&clk, &shm, 1, 517, 500, &ring);
	tap_ok(out == OFFSET_DISAGREED && ring &&
	       !(rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "vCPU 1 517 cycles off disagrees (tolerance 250 + 250 + 16): TSC_STABLE cleared");
	v = rec(0)->version;
	rings = 0;
	for (i = 0; i < 100; i++) {
		records_submit_offset(&clk, &shm, 1, i & 1 ? 517 : 100, 500, &ring);
		rings += ring;
	}
	out = records_submit_offset(&clk, &shm, 1, 100, 500, &ring);
	tap_ok(out == OFFSET_AGREED && !ring && !rings && rec(0)->version == v &&
	       !(rec(1)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       !records_refresh_stability(&clk, &shm),
	       "a guest flip-flopping vCPU 1's offset: no flip, no rewrite, no ring within the hold");
	clk.stable_hold_until_tsc = pvtime_rdtsc();
	tap_ok(records_refresh_stability(&clk, &shm) &&
	       (rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "agreeing again, TSC_STABLE returns once the hold is over");
	out = records_submit_offset(&clk, &shm, 2, 0, 500, &ring);
	tap_ok(out == OFFSET_BAD_VCPU && !ring, "SET_OFFSET from vCPU 2 of 2 refused");

	tap_ok(records_set_skew(&clk, &shm, 1000) &&
	       !(rec(1)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       rec(1)->system_time == rec(0)->system_time + 1000,
	       "skew: vCPU 1 reads 1000 ns ahead, TSC_STABLE cleared, ring");
	records_set_skew(&clk, &shm, 0);
	tap_ok(!(rec(0)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       !records_refresh_stability(&clk, &shm) &&
	       rec(1)->system_time == rec(0)->system_time,
	       "skew removed: TSC_STABLE held off while vCPU 1's lead drains");
	clk.stable_hold_until_tsc = pvtime_rdtsc();
	tap_ok(records_refresh_stability(&clk, &shm) &&
	       (rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "after the hold-off TSC_STABLE returns");

	records_hold_odd(&clk, &shm, 1);
	v = rec(1)->version;
	records_reanchor(&clk, &shm);
	tap_ok((v & 1) && rec(1)->version == v && !(rec(0)->version & 1),
	       "odd hold: vCPU 1 stays odd through a re-anchor, vCPU 0 is rewritten");
	tap_ok(pvtime_time_snapshot(rec(1), 16, &r1) == -EAGAIN,
	       "a reader gives up on the held record (-EAGAIN)");
	records_release_odd(&clk, &shm, 1);
	pvtime_time_snapshot(rec(0), 16, &r0);
	pvtime_time_snapshot(rec(1), 16, &r1);
	tap_ok(!(rec(1)->version & 1) && r1.tsc_timestamp == r0.tsc_timestamp &&
	       r1.system_time == r0.system_time,
	       "released: vCPU 1 even again with the current function");

	tap_ok(records_mark_guest_stopped(&clk, &shm) &&
	       (rec(0)->flags & PVTIME_FLAG_GUEST_STOPPED) &&
	       (rec(1)->flags & PVTIME_FLAG_GUEST_STOPPED) &&
	       (rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "guest-stopped set on every record, TSC_STABLE kept, ring");
	records_reanchor(&clk, &shm);
	tap_ok(!(rec(0)->flags & PVTIME_FLAG_GUEST_STOPPED),
	       "the next rewrite drops guest-stopped (one-shot)");
	records_mark_guest_stopped(&clk, &shm);
	v = rec(0)->version;
	records_refresh_stability(&clk, &shm);
	tap_ok((rec(0)->flags & PVTIME_FLAG_GUEST_STOPPED) && rec(0)->version == v,
	       "a refresh within a second keeps guest-stopped shown");
	clk.guest_stopped_tsc -= clk.tsc_hz;
	tap_ok(!records_refresh_stability(&clk, &shm) &&
	       !(rec(0)->flags & PVTIME_FLAG_GUEST_STOPPED) && rec(0)->version == v + 2 &&
	       (rec(0)->flags & PVTIME_FLAG_TSC_STABLE),
	       "a second later the refresh drops it, without a ring");

	v = rec(1)->version;
	tap_ok(!records_set_rate(&clk, &shm, HZ, 100, &ring) && ring &&
	       shm.ctl->tsc_hz == 2599740026ull && clk.records_hz == 2599740026ull,
	       "freq-step +100 ppm: ctl->tsc_hz = records' rate (%llu), ring",
	       (unsigned long long)shm.ctl->tsc_hz);
	/*
	 * Records go one vCPU at a time: TSC_STABLE must be off on every
	 * record (one full rewrite with the old function) before any gets
	 * the new one, i.e. two rewrites, and stay off for the window.
	 */
	tap_ok(rec(1)->version == v + 4 &&
	       !(rec(0)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       !(rec(1)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       !records_refresh_stability(&clk, &shm) &&
	       !(rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "rate change: TSC_STABLE cleared everywhere first (version +%u), held off",
	       rec(1)->version - v);
	clk.stable_hold_until_tsc = pvtime_rdtsc();
	tap_ok(records_refresh_stability(&clk, &shm) &&
	       (rec(0)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       (rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "after the reader window TSC_STABLE returns, with a ring");
	tap_ok(!records_set_rate(&clk, &shm, HZ, 100, &ring) && !ring,
	       "the same rate again: no rewrite, no ring");
	tap_ok(records_set_rate(&clk, &shm, HZ, -1000000, &ring) == -EINVAL,
	       "an impossible rate is refused");

	test_concurrent_reader();

	if (domain_clock_init(&off, "off", HZ, 1, TSC_STABLE_OFF) == 0) {
		records_submit_offset(&off, &shm, 0, 0, 100, &ring);
		tap_ok(!ring && !(off.flags & PVTIME_FLAG_TSC_STABLE),
		       "tsc_stable = off: complete evidence never sets TSC_STABLE");
		domain_clock_fini(&off);
	} else {
		tap_ok(0, "second clock");
	}
	domain_clock_fini(&clk);
	pvtime_shm_destroy(&shm);
	return tap_done();
}
