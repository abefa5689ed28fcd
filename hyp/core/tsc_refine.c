// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "pvclock_math.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "core/timebase.h"
#include "core/tsc_ratefile.h"
#include "core/tsc_refine.h"

static struct event_source timer = { .fd = -1 };
static struct timebase_pair reference;
static uint64_t next_baseline_s;
static uint64_t applied_hz;
static void (*apply_rate)(uint64_t tsc_hz);

int tsc_refine_estimate(const struct timebase_pair *start,
			const struct timebase_pair *end, uint64_t *hz,
			uint64_t *precision_hz)
{
	uint64_t cycles, error_cycles;
	int64_t elapsed_ns;
	unsigned __int128 rate;

	if (start->width == UINT64_MAX || end->width == UINT64_MAX ||
	    end->tsc <= start->tsc || end->clock_ns <= start->clock_ns)
		return -EINVAL;
	cycles = end->tsc - start->tsc;
	elapsed_ns = end->clock_ns - start->clock_ns;
	rate = ((unsigned __int128)cycles * PVTIME_NSEC_PER_SEC +
		(uint64_t)elapsed_ns / 2) / (uint64_t)elapsed_ns;
	if (rate == 0 || rate > UINT64_MAX)
		return -EINVAL;
	/* Each end is known to within half its bracket. */
	error_cycles = (start->width + 1) / 2 + (end->width + 1) / 2;
	*hz = (uint64_t)rate;
	*precision_hz = (uint64_t)(((unsigned __int128)*hz * error_cycles +
				    cycles - 1) / cycles);
	return 0;
}

static int arm(uint64_t baseline_s)
{
	struct timebase_pair now = timebase_sample_n(CLOCK_MONOTONIC_RAW, 1);
	int64_t due_ns = reference.clock_ns +
			 (int64_t)(baseline_s * PVTIME_NSEC_PER_SEC) - now.clock_ns;
	struct itimerspec its = { 0 };

	if (due_ns < 1000000)
		due_ns = 1000000;
	its.it_value.tv_sec = due_ns / (int64_t)PVTIME_NSEC_PER_SEC;
	its.it_value.tv_nsec = due_ns % (int64_t)PVTIME_NSEC_PER_SEC;
	next_baseline_s = baseline_s;
	return timerfd_settime(timer.fd, 0, &its, NULL) < 0 ? -errno : 0;
}

static void refine(void)
{
	struct timebase_pair end = timebase_sample_n(CLOCK_MONOTONIC_RAW,
						     TSC_REFINE_TRIES);
	struct timebase tb = *timebase_get();
	uint64_t hz, precision_hz, moved;
	double moved_ppm;
	int ret;

	if (tsc_refine_estimate(&reference, &end, &hz, &precision_hz)) {
		log_warn("TSC refinement: TSC or CLOCK_MONOTONIC_RAW did not advance");
		return;
	}
	if (precision_hz > tb.precision_hz) {
		log_info("TSC refinement over %.0f s: %llu Hz +- %llu Hz is no better than %llu +- %llu; kept",
			 (double)(end.clock_ns - reference.clock_ns) / 1e9,
			 (unsigned long long)hz, (unsigned long long)precision_hz,
			 (unsigned long long)tb.tsc_hz,
			 (unsigned long long)tb.precision_hz);
		return;
	}
	moved_ppm = ((double)hz - (double)tb.tsc_hz) * 1e6 / (double)tb.tsc_hz;
	tb.tsc_hz = hz;
	tb.precision_hz = precision_hz;
	tb.precision_ppm = (double)precision_hz * 1e6 / (double)hz;
	tb.baseline_ns = (uint64_t)(end.clock_ns - reference.clock_ns);
	tb.refinements++;
	timebase_set(&tb);
	ret = tsc_ratefile_save(&tb);
	if (ret)
		log_warn("cannot keep the refined TSC rate: %s", strerror(-ret));
	moved = hz > applied_hz ? hz - applied_hz : applied_hz - hz;
	log_info("TSC refined over %.0f s: %llu Hz +- %llu Hz (%.4f ppm), moved %+.4f ppm%s",
		 (double)tb.baseline_ns / 1e9, (unsigned long long)hz,
		 (unsigned long long)precision_hz, tb.precision_ppm, moved_ppm,
		 apply_rate && (unsigned __int128)moved * 1000000000 >
		 (unsigned __int128)applied_hz * TSC_REFINE_APPLY_PPB ?
		 "; applying to every domain" : "");
	if (apply_rate && (unsigned __int128)moved * 1000000000 >
	    (unsigned __int128)applied_hz * TSC_REFINE_APPLY_PPB) {
		applied_hz = hz;
		apply_rate(hz);
	}
}

static void on_timer(struct event_source *src, uint32_t events)
{
	uint64_t expirations;
	uint64_t next;
	int ret;

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0)
		return;
	refine();
	next = next_baseline_s < TSC_REFINE_LAST_S ?
	       next_baseline_s * TSC_REFINE_GROWTH : next_baseline_s + TSC_REFINE_LAST_S;
	ret = arm(next);
	if (ret)
		log_error("TSC refinement stops: cannot arm its timer: %s",
			  strerror(-ret));
}

int tsc_refine_start(void (*apply)(uint64_t tsc_hz))
{
	int ret;

	apply_rate = apply;
	timer.handler = on_timer;
	timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (timer.fd < 0)
		return -errno;
	reference = timebase_sample_n(CLOCK_MONOTONIC_RAW, TSC_REFINE_TRIES);
	applied_hz = timebase_get()->tsc_hz;
	ret = arm(TSC_REFINE_FIRST_S);
	if (!ret)
		ret = event_loop_add(&timer);
	if (ret)
		tsc_refine_stop();
	return ret;
}

void tsc_refine_stop(void)
{
	if (timer.fd < 0)
		return;
	event_loop_remove(&timer);
	close(timer.fd);
	timer.fd = -1;
}
