// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The version protocol of shared/pvclock_math.h under real concurrency:
 * one writer thread rewrites a record as fast as it can, reader threads on
 * the other CPUs read it through the library and must never see a torn
 * record.  Every value the writer stores derives from one counter n, and
 * the record's version after write n is 2n, so a reader can tell exactly
 * which write each field it saw came from.
 *
 * Plus the corner cases: a record left odd (a writer died mid-update)
 * makes readers give up with -EAGAIN instead of spinning, and the next
 * write makes it even again; a record anchored ahead of the current TSC
 * reads as its system_time, not as a wrapped delta.  Each concurrent phase
 * runs for RUN_MS.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pvclock_math.h"
#include "tap.h"

#define RUN_MS		700
#define NR_READERS	3
#define WATCHDOG_SEC	30

/* The writer's n-th record; any mix of two different n is detectable. */
static void record_for(uint32_t n, pvtime_time_info_t *r)
{
	memset(r, 0, sizeof(*r));
	r->tsc_timestamp = (uint64_t)n * 0x9e3779b97f4a7c15ull;
	r->system_time = ~r->tsc_timestamp ^ ((uint64_t)n << 17);
	r->tsc_to_system_mul = (n * 2654435761u) | 0x80000000u;
	r->tsc_shift = (int8_t)(n % 7) - 3;
	r->flags = (uint8_t)(n * 37 + 1);
}

/* Wall clocks past 2106 (wc_sec_hi 1 and 2); every field differs. */
static const int64_t wallclocks[] = {
	4294967295LL * 1000000000 + 111111111,	/* 2106-02-07T06:28:15.111111111Z */
	4294967296LL * 1000000000 + 222222222,	/* 2106-02-07T06:28:16.222222222Z */
	8895933592LL * 1000000000 + 999999999,	/* 2251-11-27, wc_sec_hi 2 */
};
#define NR_WALLCLOCKS	(sizeof(wallclocks) / sizeof(wallclocks[0]))

/* What pvtime_time_read() must give at tsc: a TSC behind the anchor is the anchor. */
static uint64_t time_at(const pvtime_time_info_t *r, uint64_t tsc)
{
	int64_t delta = (int64_t)(tsc - r->tsc_timestamp);

	return r->system_time +
	       pvtime_scale_delta(delta < 0 ? 0 : (uint64_t)delta,
				  r->tsc_to_system_mul, r->tsc_shift);
}

static struct shared_info shared;
static int stop;		/* atomic */

struct reader_result {
	unsigned long reads, eagain, torn;
	char first_torn[200];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool stopped(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

static void *time_writer(void *arg)
{
	pvtime_time_info_t *ti = pvtime_vcpu_time(&shared, 0);
	uint32_t n = 0;
	pvtime_time_info_t val;

	(void)arg;
	while (!stopped()) {
		record_for(++n, &val);
		pvtime_time_write(ti, &val);
	}
	return NULL;
}

static void torn(struct reader_result *res, const char *what, uint32_t version)
{
	if (!res->torn++)
		snprintf(res->first_torn, sizeof(res->first_torn),
			 "%s mismatch at version %u", what, version);
}

static void *snapshot_reader(void *arg)
{
	const pvtime_time_info_t *ti = pvtime_vcpu_time(&shared, 0);
	struct reader_result *res = arg;
	pvtime_time_info_t got, want;

	while (!stopped()) {
		if (pvtime_time_snapshot(ti, PVTIME_READ_MAX_TRIES, &got)) {
			res->eagain++;
			continue;
		}
		res->reads++;
		if (got.version & 1) {
			torn(res, "odd version", got.version);
			continue;
		}
		record_for(got.version / 2, &want);
		if (got.tsc_timestamp != want.tsc_timestamp)
			torn(res, "tsc_timestamp", got.version);
		else if (got.system_time != want.system_time)
			torn(res, "system_time", got.version);
		else if (got.tsc_to_system_mul != want.tsc_to_system_mul)
			torn(res, "tsc_to_system_mul", got.version);
		else if (got.tsc_shift != want.tsc_shift)
			torn(res, "tsc_shift", got.version);
		else if (got.flags != want.flags)
			torn(res, "flags", got.version);
	}
	return NULL;
}

static void *time_reader(void *arg)
{
	const pvtime_time_info_t *ti = pvtime_vcpu_time(&shared, 0);
	struct reader_result *res = arg;
	struct pvtime_time_sample s;
	pvtime_time_info_t want;

	while (!stopped()) {
		uint64_t expect;

		if (pvtime_time_read(ti, PVTIME_READ_MAX_TRIES, &s)) {
			res->eagain++;
			continue;
		}
		res->reads++;
		record_for(s.version / 2, &want);
		expect = time_at(&want, s.tsc);
		if ((s.version & 1) || s.flags != want.flags || s.system_ns != expect)
			torn(res, "time sample", s.version);
	}
	return NULL;
}

/* Deliberately without the version check: shows the race is really there. */
static void *naive_reader(void *arg)
{
	const pvtime_time_info_t *ti = pvtime_vcpu_time(&shared, 0);
	struct reader_result *res = arg;
	pvtime_time_info_t want;

	while (!stopped()) {
		uint64_t ts = READ_ONCE(ti->tsc_timestamp);
		uint32_t mul = READ_ONCE(ti->tsc_to_system_mul);
		uint32_t n = 0;

		/* Recover n from tsc_timestamp by the inverse of the odd multiplier. */
		n = (uint32_t)(ts * 0xf1de83e19937733dull);
		record_for(n, &want);
		res->reads++;
		if (mul != want.tsc_to_system_mul)
			res->torn++;
	}
	return NULL;
}

static void *wallclock_writer(void *arg)
{
	unsigned int i = 0;

	(void)arg;
	while (!stopped())
		pvtime_wallclock_write(&shared, wallclocks[i++ % NR_WALLCLOCKS]);
	return NULL;
}

static void *wallclock_reader(void *arg)
{
	struct reader_result *res = arg;
	__s64 wc;
	size_t i;

	while (!stopped()) {
		if (pvtime_wallclock_read(&shared, PVTIME_READ_MAX_TRIES, &wc)) {
			res->eagain++;
			continue;
		}
		res->reads++;
		for (i = 0; i < NR_WALLCLOCKS && wallclocks[i] != wc; i++)
			;
		if (i == NR_WALLCLOCKS && !res->torn++)
			snprintf(res->first_torn, sizeof(res->first_torn),
				 "read %lld ns, never written", (long long)wc);
	}
	return NULL;
}

/* Runs writer + readers for RUN_MS; sums the readers' results. */
static void run_race(void *(*writer)(void *), void *(*reader)(void *),
		     struct reader_result *total)
{
	struct reader_result res[NR_READERS];
	pthread_t w, r[NR_READERS];
	uint64_t end = now_ms() + RUN_MS;
	int i;

	memset(res, 0, sizeof(res));
	memset(total, 0, sizeof(*total));
	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	for (i = 0; i < NR_READERS; i++)
		pthread_create(&r[i], NULL, reader, &res[i]);
	pthread_create(&w, NULL, writer, NULL);
	while (now_ms() < end)
		usleep(10000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(w, NULL);
	for (i = 0; i < NR_READERS; i++) {
		pthread_join(r[i], NULL);
		total->reads += res[i].reads;
		total->eagain += res[i].eagain;
		total->torn += res[i].torn;
		if (!total->first_torn[0])
			memcpy(total->first_torn, res[i].first_torn, sizeof(total->first_torn));
	}
}

/* Version 0 holds record 0, so version 2n always means record n. */
static void reset_record(pvtime_time_info_t *ti)
{
	record_for(0, ti);
	ti->version = 0;
}

static void test_races(void)
{
	pvtime_time_info_t *ti = pvtime_vcpu_time(&shared, 0);
	struct reader_result t;

	reset_record(ti);
	run_race(time_writer, snapshot_reader, &t);
	tap_ok(t.reads > 0 && t.torn == 0,
	       "pvtime_time_snapshot: %lu reads, %lu -EAGAIN, %lu torn %s",
	       t.reads, t.eagain, t.torn, t.first_torn);

	reset_record(ti);
	run_race(time_writer, time_reader, &t);
	tap_ok(t.reads > 0 && t.torn == 0,
	       "pvtime_time_read: %lu reads, %lu -EAGAIN, %lu torn %s",
	       t.reads, t.eagain, t.torn, t.first_torn);

	reset_record(ti);
	run_race(time_writer, naive_reader, &t);
	tap_diag("control: a reader without the version check saw %lu torn records in %lu reads",
		 t.torn, t.reads);

	memset(&shared, 0, sizeof(shared));
	pvtime_wallclock_write(&shared, wallclocks[0]);
	run_race(wallclock_writer, wallclock_reader, &t);
	tap_ok(t.reads > 0 && t.torn == 0,
	       "pvtime_wallclock_read past 2106: %lu reads, %lu -EAGAIN, %lu torn %s",
	       t.reads, t.eagain, t.torn, t.first_torn);
}

static void test_odd_records(void)
{
	pvtime_time_info_t *ti = pvtime_vcpu_time(&shared, 1);
	pvtime_time_info_t val, snap;
	struct pvtime_time_sample s;
	__s64 wc = 0;
	uint64_t start;
	int rc;

	/* A writer that died mid-update: version stays odd forever. */
	record_for(5, &val);
	memcpy(ti, &val, sizeof(val));
	ti->version = 7;
	start = now_ms();
	rc = pvtime_time_read(ti, 100, &s);
	tap_ok(rc == -EAGAIN, "pvtime_time_read on an odd record gives -EAGAIN (rc %d, %" PRIu64 " ms)",
	       rc, now_ms() - start);
	rc = pvtime_time_snapshot(ti, 100, &snap);
	tap_ok(rc == -EAGAIN, "pvtime_time_snapshot on an odd record gives -EAGAIN (rc %d)", rc);
	rc = pvtime_time_read(ti, 0, &s);
	tap_ok(rc == -EAGAIN, "max_tries 0 gives -EAGAIN without reading (rc %d)", rc);

	/* The next write must leave it even (7 -> 8 -> 9 while writing -> 10). */
	record_for(6, &val);
	pvtime_time_write(ti, &val);
	rc = pvtime_time_snapshot(ti, 1, &snap);
	tap_ok(ti->version == 10 && rc == 0 && snap.system_time == val.system_time &&
	       snap.tsc_to_system_mul == val.tsc_to_system_mul,
	       "write over an odd version 7 leaves version 10 and the new values (version %u, rc %d)",
	       ti->version, rc);
	pvtime_time_write(ti, &val);
	tap_ok(ti->version == 12, "each write advances an even version by 2 (version %u)",
	       ti->version);

	memset(&shared, 0, sizeof(shared));
	*pvtime_wc_version(&shared) = 3;
	rc = pvtime_wallclock_read(&shared, 100, &wc);
	tap_ok(rc == -EAGAIN, "pvtime_wallclock_read on an odd wc_version gives -EAGAIN (rc %d)", rc);
	pvtime_wallclock_write(&shared, wallclocks[1]);
	rc = pvtime_wallclock_read(&shared, 1, &wc);
	tap_ok(*pvtime_wc_version(&shared) == 6 && rc == 0 && wc == wallclocks[1],
	       "wallclock write over odd version 3 leaves 6 and the value (version %u)",
	       *pvtime_wc_version(&shared));
}

/*
 * The guest's TSC offset is an estimate (off by up to half the handshake's
 * round trip) and a vCPU may lag a re-anchor, so a reader's TSC can be
 * behind the record's tsc_timestamp.  That must read as system_time, not
 * as an unsigned delta wrapped to ~2^64 cycles (centuries ahead).
 */
static void test_tsc_behind_anchor(void)
{
	static const struct {
		int64_t ahead;		/* tsc_timestamp - TSC now, cycles */
		const char *what;
	} cases[] = {
		{ 3000000, "1 ms" },
		{ 1ll << 40, "~6 minutes" },
		{ INT64_MAX / 2, "~2^62 cycles" },
	};
	pvtime_time_info_t *ti = pvtime_vcpu_time(&shared, 2);
	const uint64_t system_time = 5000000000000ull;	/* 5000 s */
	struct pvtime_time_sample s;
	pvtime_time_info_t val;
	uint32_t mul;
	int8_t shift;
	uint64_t tsc;
	size_t i;
	int rc;

	pvtime_scale_from_hz(3000000000ull, &mul, &shift);
	memset(&val, 0, sizeof(val));
	val.system_time = system_time;
	val.tsc_to_system_mul = mul;
	val.tsc_shift = shift;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		val.tsc_timestamp = pvtime_rdtsc() + (uint64_t)cases[i].ahead;
		pvtime_time_write(ti, &val);
		memset(&s, 0, sizeof(s));
		rc = pvtime_time_read(ti, PVTIME_READ_MAX_TRIES, &s);
		tap_ok(rc == 0 && s.system_ns == system_time,
		       "record anchored %s ahead of the TSC reads as its system_time %" PRIu64 " (rc %d, got %" PRIu64 ")",
		       cases[i].what, system_time, rc, (uint64_t)s.system_ns);
	}

	/* Control: an anchor 1 s (at 3 GHz) behind the TSC still counts up. */
	tsc = pvtime_rdtsc();
	val.tsc_timestamp = tsc - 3000000000ull;
	pvtime_time_write(ti, &val);
	rc = pvtime_time_read(ti, PVTIME_READ_MAX_TRIES, &s);
	tap_ok(rc == 0 && s.system_ns >= system_time + 999999999 &&
	       s.system_ns < system_time + 60 * PVTIME_NSEC_PER_SEC,
	       "record anchored 1 s behind the TSC reads >= system_time + 1 s (got +%" PRId64 " ns)",
	       (int64_t)(s.system_ns - system_time));
}

static void test_wallclock_fields(void)
{
	static const struct {
		int64_t ns;
		uint32_t sec, sec_hi, nsec;
	} cases[] = {
		{ 0, 0, 0, 0 },
		{ 2147483647LL * 1000000000 + 999999999, 0x7fffffff, 0, 999999999 },
		{ 2147483648LL * 1000000000, 0x80000000, 0, 0 },		/* 2038 */
		{ 4294967295LL * 1000000000 + 1, 0xffffffff, 0, 1 },
		{ 4294967296LL * 1000000000, 0, 1, 0 },				/* 2106 */
		{ INT64_MAX, 0x25c17d04, 2, 854775807 },			/* 2262 */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__s64 back = -1;
		int rc;

		pvtime_wallclock_write(&shared, cases[i].ns);
		rc = pvtime_wallclock_read(&shared, 1, &back);
		tap_ok(*pvtime_wc_sec(&shared) == cases[i].sec &&
		       shared.wc_sec_hi == cases[i].sec_hi &&
		       *pvtime_wc_nsec(&shared) == cases[i].nsec &&
		       rc == 0 && back == cases[i].ns,
		       "wall clock %" PRId64 " ns -> wc_sec %#x wc_sec_hi %u wc_nsec %u, reads back (got %#x %u %u, %" PRId64 ")",
		       cases[i].ns, cases[i].sec, cases[i].sec_hi, cases[i].nsec,
		       *pvtime_wc_sec(&shared), shared.wc_sec_hi,
		       *pvtime_wc_nsec(&shared), (int64_t)back);
	}
}

int main(void)
{
	alarm(WATCHDOG_SEC);	/* a reader that spins forever fails the run */
	tap_plan(3 + 7 + 4 + 6);
	test_races();
	test_odd_records();
	test_tsc_behind_anchor();
	test_wallclock_fields();
	return tap_done();
}
