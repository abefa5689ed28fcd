/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The host-step log: where a test runner tells a guest when it stepped
 * the wall clock, so the guest can time how long the step took to reach
 * its CLOCK_REALTIME (selftests/steps_check.py writes it, the guest's
 * pvtime-steps reads it; Documentation/testing.rst, "Host steps").
 *
 * It lives in the time meter's page, past the meter's own lines
 * (meter_abi.h), in a meter started with --size STEP_LOG_METER_SIZE: like
 * the meter, it shares nothing with pvtimed.  The runner fills entry i,
 * then sets count to i + 1; done = 1 once the last step is logged.  Before
 * each step it sets announce_raw_ns to when it will step, a few
 * milliseconds ahead, so the guest samples back to back only around the
 * steps and naps otherwise (a guest spinning all along would take a whole
 * host core from the processes being timed).  The guest sets seen to i + 1
 * once one of its samples has shown step i landed; the runner waits for
 * that (up to a timeout) before the next step, so that on a slow host no
 * step goes by with no sample to judge it.  Times are host
 * CLOCK_MONOTONIC_RAW, the clock the meter answers with.
 */
#ifndef PVTIME_STEP_LOG_H
#define PVTIME_STEP_LOG_H

#include <stdint.h>

#define STEP_LOG_MAGIC		0x50455453u	/* "STEP" little-endian */
#define STEP_LOG_OFFSET		4096u		/* in the meter page */
#define STEP_LOG_METER_SIZE	16384u		/* pvtime-meter --size */
#define STEP_LOG_MAX		256u

enum step_kind {
	STEP_KIND_PVXL = 1,	/* pvxl set-wallclock DOM rel +-X */
	STEP_KIND_HOST = 2,	/* host clock_adjtime(ADJ_SETOFFSET) +-X */
};

struct step_log_entry {
	int64_t before_raw_ns;	/* just before the step was asked for */
	int64_t after_raw_ns;	/* once it had certainly been done */
	/* Guest - host CLOCK_REALTIME once the guest followed the step. */
	int64_t expect_offset_ns;
	uint32_t kind;		/* enum step_kind */
	uint32_t reserved;
};

struct step_log {
	uint32_t magic;
	uint32_t count;		/* entries written */
	uint32_t done;		/* 1: no more entries will come */
	uint32_t seen;		/* guest: steps it has seen land */
	int64_t announce_raw_ns;	/* the next step, about then */
	uint8_t pad[40];
	struct step_log_entry entry[STEP_LOG_MAX];
};

_Static_assert(sizeof(struct step_log_entry) == 32, "step log entry layout");
_Static_assert(__builtin_offsetof(struct step_log, seen) == 12,
	       "step log seen");
_Static_assert(__builtin_offsetof(struct step_log, announce_raw_ns) == 16,
	       "step log announce");
_Static_assert(__builtin_offsetof(struct step_log, entry) == 64,
	       "step log header layout");
_Static_assert(STEP_LOG_OFFSET + sizeof(struct step_log) <= STEP_LOG_METER_SIZE,
	       "step log fits the meter page");

#endif /* PVTIME_STEP_LOG_H */
