// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * hyp/clock/clock_status.c: how an adjtimex(2) sample becomes the clock-status
 * block - sync from STA_UNSYNC / TIME_ERROR, the leap from STA_INS/STA_DEL
 * and the kernel's leap states, the leap's UTC midnight, the TAI offset
 * and error bounds, and which changes count as news for the guest.
 */
#include <string.h>

#include "clock/clock_status.h"
#include "tap.h"

/* 2026-11-30 12:00:00 UTC, and the midnight after it. */
#define NOON		1796040000L
#define MIDNIGHT	1796083200ull

static struct pvtime_clock_status encode(int status, int state, long now_s)
{
	struct timex tx = {
		.status = status, .maxerror = 2000, .esterror = 300, .tai = 37,
		.time = { .tv_sec = now_s },
	};
	struct pvtime_clock_status out;

	memset(&out, 0xa5, sizeof(out));
	clock_status_encode(&tx, state, &out);
	return out;
}

static void test_sync(void)
{
	struct pvtime_clock_status st;

	st = encode(0, TIME_OK, NOON);
	tap_ok(st.sync == PVTIME_SYNC_SYNCHRONISED, "TIME_OK, no STA_UNSYNC: synchronised (%u)",
	       st.sync);
	st = encode(STA_UNSYNC, TIME_ERROR, NOON);
	tap_ok(st.sync == PVTIME_SYNC_UNSYNCHRONISED, "STA_UNSYNC, TIME_ERROR: unsynchronised (%u)",
	       st.sync);
	st = encode(STA_CLOCKERR, TIME_ERROR, NOON);
	tap_ok(st.sync == PVTIME_SYNC_UNSYNCHRONISED,
	       "TIME_ERROR without STA_UNSYNC (STA_CLOCKERR): unsynchronised (%u)", st.sync);
	tap_ok(st.seq == 0 && st.sampled_system_ns == 0 && st.changes == 0 &&
	       st.reserved0 == 0 && st.reserved1 == 0,
	       "seq, sampled_system_ns, changes and reserved are left zero");
}

static void test_leap(void)
{
	struct pvtime_clock_status st;

	st = encode(0, TIME_OK, NOON);
	tap_ok(st.leap == PVTIME_LEAP_NONE && st.leap_time_s == 0,
	       "no leap bits: none, leap_time 0 (%u, %llu)", st.leap,
	       (unsigned long long)st.leap_time_s);
	st = encode(STA_INS, TIME_INS, NOON);
	tap_ok(st.leap == PVTIME_LEAP_INSERT && st.leap_time_s == MIDNIGHT,
	       "STA_INS: insert at the next UTC midnight (%u, %llu)", st.leap,
	       (unsigned long long)st.leap_time_s);
	st = encode(STA_INS | STA_UNSYNC, TIME_ERROR, NOON);
	tap_ok(st.leap == PVTIME_LEAP_INSERT,
	       "STA_INS under TIME_ERROR (state hidden): still insert, the kernel applies it (%u)",
	       st.leap);
	st = encode(STA_DEL, TIME_DEL, NOON);
	tap_ok(st.leap == PVTIME_LEAP_DELETE && st.leap_time_s == MIDNIGHT,
	       "STA_DEL: delete at the next UTC midnight (%u, %llu)", st.leap,
	       (unsigned long long)st.leap_time_s);
	st = encode(STA_INS, TIME_OOP, (long)MIDNIGHT - 1);
	tap_ok(st.leap == PVTIME_LEAP_INSERTING && st.leap_time_s == MIDNIGHT,
	       "TIME_OOP (23:59:60 running, tv_sec 23:59:59): inserting, at that midnight (%u, %llu)",
	       st.leap, (unsigned long long)st.leap_time_s);
	st = encode(STA_INS, TIME_WAIT, (long)MIDNIGHT + 1);
	tap_ok(st.leap == PVTIME_LEAP_NONE && st.leap_time_s == 0,
	       "TIME_WAIT with STA_INS still set: no leap pending (%u)", st.leap);
	st = encode(STA_INS, TIME_OK, (long)MIDNIGHT);
	tap_ok(st.leap_time_s == MIDNIGHT + 86400,
	       "STA_INS set at 00:00:00 exactly: the next midnight, a day on (%llu)",
	       (unsigned long long)st.leap_time_s);
	st = encode(STA_INS, TIME_OK, -1);
	tap_ok(st.leap_time_s == 0,
	       "before the epoch (23:59:59 on 1969-12-31): midnight is 0 (%llu)",
	       (unsigned long long)st.leap_time_s);
}

static void test_values(void)
{
	struct timex tx = { .maxerror = -5, .esterror = 99999999, .tai = -3,
			    .status = STA_NANO | STA_UNSYNC };
	struct pvtime_clock_status st;

	st = encode(0, TIME_OK, NOON);
	tap_ok(st.tai_offset_s == 37 && st.maxerror_us == 2000 && st.esterror_us == 300,
	       "TAI, maxerror, esterror carried over (%d, %llu, %llu)", st.tai_offset_s,
	       (unsigned long long)st.maxerror_us, (unsigned long long)st.esterror_us);
	clock_status_encode(&tx, TIME_ERROR, &st);
	tap_ok(st.maxerror_us == PVTIME_MAXERROR_MAX_US &&
	       st.esterror_us == PVTIME_MAXERROR_MAX_US,
	       "negative or past-16 s error bounds read as the 16 s cap (%llu, %llu)",
	       (unsigned long long)st.maxerror_us, (unsigned long long)st.esterror_us);
	tap_ok(st.tai_offset_s == -3 && st.host_status == (STA_NANO | STA_UNSYNC) &&
	       st.host_state == TIME_ERROR,
	       "raw status and state kept for inspection (%#x, %d)", st.host_status,
	       st.host_state);
}

static void test_news(void)
{
	struct pvtime_clock_status a = encode(0, TIME_OK, NOON), b;

	b = a;
	b.maxerror_us += 500;
	b.esterror_us += 1;
	b.sampled_system_ns += 1000000000;
	tap_ok(!clock_status_news(&a, &b), "maxerror growth and a new sample are not news");
	b = a;
	b.tai_offset_s++;
	tap_ok(clock_status_news(&a, &b), "a TAI change is news");
	b = encode(STA_INS, TIME_INS, NOON);
	tap_ok(clock_status_news(&a, &b), "a leap announced is news");
	b = encode(STA_UNSYNC, TIME_ERROR, NOON);
	tap_ok(clock_status_news(&a, &b), "losing sync is news");
}

int main(void)
{
	tap_plan(4 + 8 + 3 + 4);
	test_sync();
	test_leap();
	test_values();
	test_news();
	return tap_done();
}
