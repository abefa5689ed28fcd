// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Encoding the host's adjtimex(2) sample into the clock-status block
 * (pure; the unit tests feed it timex values).  Leap seconds follow what
 * Linux's second_overflow() will do: with STA_INS or STA_DEL set the
 * kernel applies the leap at the next UTC midnight, whatever the sync
 * state; TIME_OOP is the inserted second running; TIME_WAIT is after a
 * leap, until NTP clears the bit, and no leap will happen then.
 */
#include "clock/clock_status.h"

static uint64_t next_utc_midnight(time_t now_s)
{
	int64_t day = (int64_t)now_s / CLOCK_STATUS_SECS_PER_DAY;

	if (now_s < 0 && (int64_t)now_s % CLOCK_STATUS_SECS_PER_DAY)
		day--;
	return (uint64_t)((day + 1) * CLOCK_STATUS_SECS_PER_DAY);
}

static uint8_t encode_leap(const struct timex *tx, int state)
{
	if (state == TIME_OOP)
		return PVTIME_LEAP_INSERTING;
	if (state == TIME_WAIT)
		return PVTIME_LEAP_NONE;
	/* TIME_ERROR hides the leap state: the status bits still hold. */
	if (tx->status & STA_INS)
		return PVTIME_LEAP_INSERT;
	if (tx->status & STA_DEL)
		return PVTIME_LEAP_DELETE;
	return PVTIME_LEAP_NONE;
}

static uint64_t error_us(long value)
{
	if (value < 0 || (unsigned long)value > PVTIME_MAXERROR_MAX_US)
		return PVTIME_MAXERROR_MAX_US;
	return (uint64_t)value;
}

void clock_status_encode(const struct timex *tx, int state,
			 struct pvtime_clock_status *out)
{
	*out = (struct pvtime_clock_status) { 0 };
	out->sync = (state == TIME_ERROR || (tx->status & STA_UNSYNC)) ?
		    PVTIME_SYNC_UNSYNCHRONISED : PVTIME_SYNC_SYNCHRONISED;
	out->leap = encode_leap(tx, state);
	if (out->leap != PVTIME_LEAP_NONE)
		out->leap_time_s = next_utc_midnight(tx->time.tv_sec);
	out->tai_offset_s = tx->tai;
	out->maxerror_us = error_us(tx->maxerror);
	out->esterror_us = error_us(tx->esterror);
	out->host_status = (uint32_t)tx->status;
	out->host_state = state;
}

bool clock_status_news(const struct pvtime_clock_status *old,
		       const struct pvtime_clock_status *now)
{
	return old->sync != now->sync || old->leap != now->leap ||
	       old->leap_time_s != now->leap_time_s ||
	       old->tai_offset_s != now->tai_offset_s;
}
