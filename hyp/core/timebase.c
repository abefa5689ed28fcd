// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * TSC calibration.  Each end of the interval is a clock read bracketed by
 * two TSC reads; of several tries the narrowest bracket wins, and its width
 * bounds the error of that end.  The two widths over the interval give the
 * precision reported in Hz and ppm.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pvclock_math.h"
#include "core/log.h"
#include "core/timebase.h"

#define TIMEBASE_SAMPLE_TRIES	16

static struct timebase current_timebase;

uint64_t timebase_rdtsc(void)
{
	return pvtime_rdtsc();
}

static int64_t timespec_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * (int64_t)PVTIME_NSEC_PER_SEC + ts->tv_nsec;
}

struct timebase_pair timebase_sample(clockid_t clock)
{
	return timebase_sample_n(clock, TIMEBASE_SAMPLE_TRIES);
}

struct timebase_pair timebase_sample_n(clockid_t clock, unsigned int tries)
{
	struct timebase_pair best = { .width = UINT64_MAX };
	unsigned int i;

	for (i = 0; i < tries; i++) {
		struct timespec ts;
		uint64_t before, after;

		before = pvtime_rdtsc();
		clock_gettime(clock, &ts);
		after = pvtime_rdtsc();
		if (after < before || after - before >= best.width)
			continue;
		best.width = after - before;
		best.tsc = before + best.width / 2;
		best.clock_ns = timespec_ns(&ts);
	}
	return best;
}

/* Warn when the kernel does not promise a constant, non-stop TSC. */
static void timebase_check_cpu_flags(void)
{
	char line[4096];
	FILE *f = fopen("/proc/cpuinfo", "re");
	int found = 0;

	if (!f) {
		log_warn("cannot read /proc/cpuinfo: %s", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		found = 1;
		if (!strstr(line, " constant_tsc"))
			log_warn("host TSC lacks constant_tsc: records may drift");
		if (!strstr(line, " nonstop_tsc"))
			log_warn("host TSC lacks nonstop_tsc: records may drift across C-states");
		break;
	}
	if (!found)
		log_warn("no CPU flags in /proc/cpuinfo");
	fclose(f);
}

int timebase_calibrate(struct timebase *tb, unsigned int calibrate_ms)
{
	struct timebase_pair start, end;
	struct timespec pause = {
		.tv_sec = calibrate_ms / 1000,
		.tv_nsec = (long)(calibrate_ms % 1000) * 1000000L,
	};
	uint64_t cycles, error_cycles;
	int64_t elapsed_ns;
	unsigned __int128 hz;

	timebase_check_cpu_flags();
	start = timebase_sample(CLOCK_MONOTONIC_RAW);
	while (nanosleep(&pause, &pause) < 0 && errno == EINTR)
		;
	end = timebase_sample(CLOCK_MONOTONIC_RAW);

	elapsed_ns = end.clock_ns - start.clock_ns;
	if (end.tsc <= start.tsc || elapsed_ns <= 0 ||
	    start.width == UINT64_MAX || end.width == UINT64_MAX) {
		log_error("TSC calibration failed: TSC or CLOCK_MONOTONIC_RAW did not advance");
		return -EIO;
	}
	cycles = end.tsc - start.tsc;
	hz = ((unsigned __int128)cycles * PVTIME_NSEC_PER_SEC +
	      (uint64_t)elapsed_ns / 2) / (uint64_t)elapsed_ns;
	if (hz == 0 || hz > UINT64_MAX) {
		log_error("TSC calibration gave an impossible rate");
		return -EIO;
	}
	memset(tb, 0, sizeof(*tb));
	tb->tsc_hz = (uint64_t)hz;
	tb->calibrate_ms = calibrate_ms;
	tb->calibration_ns = (uint64_t)elapsed_ns;
	tb->baseline_ns = (uint64_t)elapsed_ns;
	/* Each end is known to within half its bracket. */
	error_cycles = (start.width + 1) / 2 + (end.width + 1) / 2;
	tb->precision_hz = (uint64_t)(((unsigned __int128)tb->tsc_hz * error_cycles +
				       cycles - 1) / cycles);
	tb->precision_ppm = (double)tb->precision_hz * 1e6 / (double)tb->tsc_hz;
	log_info("host TSC %llu Hz +- %llu Hz (%.3f ppm) over %.3f ms",
		 (unsigned long long)tb->tsc_hz,
		 (unsigned long long)tb->precision_hz, tb->precision_ppm,
		 (double)elapsed_ns / 1e6);
	return 0;
}

const struct timebase *timebase_get(void)
{
	return &current_timebase;
}

void timebase_set(const struct timebase *tb)
{
	current_timebase = *tb;
}

uint64_t timebase_cycles_to_ns(uint64_t cycles)
{
	if (!current_timebase.tsc_hz)
		return 0;
	return (uint64_t)((unsigned __int128)cycles * PVTIME_NSEC_PER_SEC /
			  current_timebase.tsc_hz);
}
