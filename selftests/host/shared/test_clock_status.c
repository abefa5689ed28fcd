// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The clock-status block's seqcount (shared/pvtime_clock_status.h), as
 * pvtimed writes it and pvtime.ko reads it: round trips, a block left odd
 * (torn) makes the reader retry a bounded number of times and give up, a
 * writer repairs an odd block, an unwritten block is "no data", no torn
 * copy is ever accepted under a concurrent writer, and maxerror ageing.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* Count the reader's pauses: one per try that found seq odd. */
static unsigned long relax_calls;
#define pvtime_cpu_relax()	(relax_calls++)

#include "pvtime_clock_status.h"
#include "tap.h"

static struct pvtime_clock_status block;

static struct pvtime_clock_status sample(__u64 n)
{
	struct pvtime_clock_status v = { 0 };

	v.sync = n & 1 ? PVTIME_SYNC_UNSYNCHRONISED : PVTIME_SYNC_SYNCHRONISED;
	v.leap = n % 4;
	v.tai_offset_s = (__s32)(n % 1000);
	v.host_status = (__u32)n;
	v.leap_time_s = n * 86400;
	v.maxerror_us = n * 3;
	v.esterror_us = n * 5;
	v.sampled_system_ns = n * 7;
	v.host_state = (__s32)(n % 6);
	v.changes = (__u32)n;
	return v;
}

/* Every field derived from one n: a mix of two writes shows. */
static int consistent(const struct pvtime_clock_status *v)
{
	__u64 n = v->sampled_system_ns / 7;
	struct pvtime_clock_status want = sample(n);

	want.seq = v->seq;
	return !memcmp(&want, v, sizeof(want));
}

static void test_round_trip(void)
{
	struct pvtime_clock_status in = sample(41), out;
	int ret;

	memset(&block, 0, sizeof(block));
	pvtime_clock_status_write(&block, &in);
	ret = pvtime_clock_status_read(&block, &out, PVTIME_CLOCK_STATUS_TRIES);
	tap_ok(ret == 0 && block.seq == 2 && out.seq == 2,
	       "one write: seq 0 -> 2, read returns 0 (ret %d, seq %u)", ret,
	       block.seq);
	in.seq = out.seq;
	tap_ok(!memcmp(&in, &out, sizeof(in)), "the read copy equals what was written");
	pvtime_clock_status_write(&block, &in);
	tap_ok(block.seq == 4, "a second write: seq 4 (got %u)", block.seq);
}

static void test_torn(void)
{
	struct pvtime_clock_status out;
	int ret;

	memset(&block, 0, sizeof(block));
	pvtime_clock_status_write(&block, &(struct pvtime_clock_status){ .sync = 1 });
	block.seq = 5;		/* a writer died half-way */
	relax_calls = 0;
	ret = pvtime_clock_status_read(&block, &out, 37);
	tap_ok(ret == -EAGAIN, "seq left odd: the read gives up with -EAGAIN (got %d)",
	       ret);
	tap_ok(relax_calls == 37, "... after exactly its 37 tries, pausing on each (%lu)",
	       relax_calls);

	pvtime_clock_status_write(&block, &(struct pvtime_clock_status){ .sync = 2 });
	ret = pvtime_clock_status_read(&block, &out, 1);
	tap_ok(block.seq == 8 && ret == 0 && out.sync == 2,
	       "the next write repairs it: odd 5 -> 6 -> 7 -> 8, readable at once (seq %u, ret %d)",
	       block.seq, ret);
}

static void test_no_data(void)
{
	struct pvtime_clock_status out;
	int ret;

	memset(&block, 0, sizeof(block));
	ret = pvtime_clock_status_read(&block, &out, 4);
	tap_ok(ret == -ENODATA, "a block of zeros (a hyp without it) is -ENODATA, not zeros (%d)",
	       ret);
	pvtime_clock_status_write(&block, &(struct pvtime_clock_status){ .sync = 3 });
	ret = pvtime_clock_status_read(&block, &out, 4);
	tap_ok(ret == -ENODATA, "an unknown sync value is -ENODATA (%d)", ret);
}

static atomic_int writer_stop;

static void *writer(void *arg)
{
	__u64 n = 1;

	(void)arg;
	while (!atomic_load(&writer_stop)) {
		struct pvtime_clock_status v = sample(n++);

		pvtime_clock_status_write(&block, &v);
	}
	return NULL;
}

static void test_concurrent(void)
{
	unsigned long reads = 0, ok = 0, gave_up = 0, torn = 0;
	struct pvtime_clock_status out;
	pthread_t thread;
	int ret;

	memset(&block, 0, sizeof(block));
	pvtime_clock_status_write(&block, &(struct pvtime_clock_status){ .sync = 1 });
	atomic_store(&writer_stop, 0);
	if (pthread_create(&thread, NULL, writer, NULL)) {
		tap_ok(0, "writer thread starts");
		return;
	}
	for (reads = 0; reads < 200000; reads++) {
		ret = pvtime_clock_status_read(&block, &out,
					       PVTIME_CLOCK_STATUS_TRIES);
		if (ret == -EAGAIN) {
			gave_up++;
			continue;
		}
		ok++;
		if (out.sampled_system_ns && !consistent(&out))
			torn++;
	}
	atomic_store(&writer_stop, 1);
	pthread_join(thread, NULL);
	tap_diag("%lu reads under a writer: %lu copies, %lu gave up", reads, ok,
		 gave_up);
	tap_ok(torn == 0 && ok > 0,
	       "under a concurrent writer no torn copy is accepted (%lu torn of %lu)",
	       torn, ok);
}

static void test_maxerror(void)
{
	struct pvtime_clock_status st = { .maxerror_us = 1000 };
	__u64 v;

	tap_ok(pvtime_maxerror_now_us(&st, 0) == 1000, "maxerror at age 0 as sampled");
	v = pvtime_maxerror_now_us(&st, 10ull * 1000000000ull);
	tap_ok(v == 6000, "maxerror grows 500 us/s: 10 s -> 6000 (got %llu)",
	       (unsigned long long)v);
	v = pvtime_maxerror_now_us(&st, 999999);
	tap_ok(v == 1000, "under 1 ms of age: no growth (got %llu)", (unsigned long long)v);
	v = pvtime_maxerror_now_us(&st, 40000ull * 1000000000ull);
	tap_ok(v == PVTIME_MAXERROR_MAX_US, "saturates at 16 s (got %llu)",
	       (unsigned long long)v);
	v = pvtime_maxerror_now_us(&st, ~0ull);
	tap_ok(v == PVTIME_MAXERROR_MAX_US, "an absurd age does not wrap (got %llu)",
	       (unsigned long long)v);
	st.maxerror_us = ~0ull;
	v = pvtime_maxerror_now_us(&st, 5);
	tap_ok(v == PVTIME_MAXERROR_MAX_US, "an absurd maxerror reads as the cap (got %llu)",
	       (unsigned long long)v);
}

int main(void)
{
	tap_plan(3 + 3 + 2 + 1 + 6);
	test_round_trip();
	test_torn();
	test_no_data();
	test_concurrent();
	test_maxerror();
	return tap_done();
}
