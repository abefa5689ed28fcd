// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The host clock follower against a simulated host: a TSC at a fixed
 * rate, a CLOCK_MONOTONIC whose rate the "kernel" changes (announced
 * through adjtimex's frequency, applied a few ms later as at the next
 * tick, or unannounced like a PLL offset slew), samples with bracket
 * noise.  The follower's function must stay on the true CLOCK_MONOTONIC.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tap.h"
#include "clock/clock_follow.h"

#define TSC_HZ		2300000000.0
#define STEP_NS		2000000ll	/* the follower's period */
/* The kernel's CLOCK_MONOTONIC at freq 0 is off the raw rate by its tick rounding. */
#define TICK_ROUNDING	30e-9
/* Settled: the error the follower leaves alone, plus sampling noise. */
#define SETTLED_NS	(CLOCK_FOLLOW_DEADBAND_NS + 50ll)

struct sim_host {
	double t_ns;		/* true time */
	double mono_ns;		/* exact host CLOCK_MONOTONIC */
	double rate;		/* mono ns per true ns now */
	double pending_rate;	/* applied at pending_at_ns (next tick) */
	double pending_at_ns;
	struct kernel_rate kernel;	/* what adjtimex says */
	unsigned int seed;
};

static double noise(struct sim_host *h, double amplitude)
{
	return ((double)rand_r(&h->seed) / RAND_MAX * 2.0 - 1.0) * amplitude;
}

static void sim_advance(struct sim_host *h, double ns)
{
	if (h->pending_at_ns > 0 && h->t_ns + ns >= h->pending_at_ns) {
		double before = h->pending_at_ns - h->t_ns;

		h->mono_ns += before * h->rate;
		h->t_ns += before;
		ns -= before;
		h->rate = h->pending_rate;
		h->pending_at_ns = 0;
	}
	h->mono_ns += ns * h->rate;
	h->t_ns += ns;
}

/* adjtimex(ADJ_FREQUENCY): announced now, in effect delay_ns later. */
static void sim_set_kernel(struct sim_host *h, struct kernel_rate k, double delay_ns)
{
	h->pending_rate = h->rate * kernel_rate_factor(&k) / kernel_rate_factor(&h->kernel);
	h->kernel = k;
	h->pending_at_ns = h->t_ns + delay_ns;
}

static void sim_set_freq(struct sim_host *h, double ppm, double delay_ns)
{
	struct kernel_rate k = h->kernel;

	k.freq = (long)llround(ppm * 65536.0);

	sim_set_kernel(h, k, delay_ns);
}

static uint64_t sim_tsc(const struct sim_host *h)
{
	return (uint64_t)llround(h->t_ns * TSC_HZ / 1e9) + 1000000000000ull;
}

static struct follow_sample sim_sample(struct sim_host *h, uint64_t width)
{
	struct follow_sample s = {
		.tsc = sim_tsc(h),
		.mono_ns = (int64_t)llround(h->mono_ns + noise(h, 15.0)),
		.width = width,
	};
	return s;
}

/* The follower's error against the exact host clock. */
static double true_error(const struct clock_follow *cf, const struct sim_host *h)
{
	return (double)time_function_at(&cf->fn, sim_tsc(h)) -
	       (h->mono_ns - (double)cf->base_ns);
}

struct run_stats {
	double max_abs;
	unsigned long changes;
};

/* Run for ns; stats cover the part after settle_ns. */
static struct run_stats sim_run(struct clock_follow *cf, struct sim_host *h,
				double ns, double settle_ns)
{
	struct run_stats st = { 0 };
	double start = h->t_ns;

	while (h->t_ns - start < ns) {
		struct follow_sample s;

		sim_advance(h, (double)STEP_NS + noise(h, 40000.0));
		s = sim_sample(h, 60 + (uint64_t)(rand_r(&h->seed) % 200));
		if (clock_follow_step(cf, &s, &h->kernel))
			st.changes++;
		if (h->t_ns - start >= settle_ns && fabs(true_error(cf, h)) > st.max_abs)
			st.max_abs = fabs(true_error(cf, h));
	}
	return st;
}

int main(void)
{
	struct sim_host h = { .rate = 1.0 + TICK_ROUNDING,
			      .kernel = { .tick = 10000 }, .seed = 7 };
	struct kernel_rate k50 = { .freq = 50 * 65536, .tick = 10000 };
	struct kernel_rate tick = { .tick = 10001 }, k;
	struct clock_follow cf;
	struct follow_sample s;
	struct run_stats st;
	uint64_t changes;

	tap_plan(27);
	tap_ok(fabs(kernel_rate_factor(&k50) - 1.00005) < 1e-12 &&
	       fabs(kernel_rate_factor(&tick) - 1.0001) < 1e-12,
	       "adjtimex freq and tick scale the rate as the kernel does");

	/* STA_PLL | STA_NANO, 1 ms left, constant 2: 1e6 / 16 ns a second. */
	kernel_rate_from_timex(&k, 0, 10000, 0x2001, 1000000, 2, 0);
	tap_ok(k.pll_ppb == 62500, "PLL: 1 ms left at constant 2 slews 62500 ppb (%ld)",
	       k.pll_ppb);
	kernel_rate_from_timex(&k, 0, 10000, 0x0001, 1000, 2, 0);
	tap_ok(k.pll_ppb == 62500, "PLL without STA_NANO: the offset is in us (%ld)",
	       k.pll_ppb);
	kernel_rate_from_timex(&k, 0, 10000, 0x0009, 1000000, 2, 0);
	tap_ok(k.pll_ppb == 0, "FLL mode is left to the measurement");
	kernel_rate_from_timex(&k, 0, 10000, 0, 0, 0, -500);
	tap_ok(k.adjtime_ppm == -500 &&
	       fabs(kernel_rate_factor(&k) - (1.0 - 500e-6)) < 1e-12,
	       "an adjtime() slew of -500 ppm scales the rate");
	{
		/*
		 * adjtime(+1200 us) at 10.3 s: 500, 500, 200 us a second from
		 * 11 s; the kernel stops at 14.004 s, and the error (fn - mono)
		 * moves +200 ns a ms from there.  Then adjtime(-600 us) at
		 * 16.2 s: 500, 100; the kernel stops at 19.006 s, the error
		 * moves -100 ns a ms.  Uncertainty 30 ns, or -1: no sample.
		 * next: where the next rate change is due (the start, the
		 * partial last share, the end), ahead until it shows.
		 */
		static const struct {
			double t; long left; int64_t err, unc; long rate;
			int next;	/* s of the next change; 0: none */
		} seq[] = {
			{ 10.3, 1200, 5, 30, 0, 11 }, { 10.9, 1200, 5, 30, 0, 11 },
			{ 11.002, 700, 5, 30, 500, 0 }, { 11.5, 700, 5, 30, 500, 0 },
			{ 12.003, 200, 5, 30, 500, 13 }, { 12.9, 200, 5, 30, 500, 13 },
			{ 13.001, 0, 5, 30, 200, 14 }, { 13.5, 0, 8, 30, 200, 14 },
			{ 13.9995, 0, 10, 30, 200, 14 },
			/* Past the boundary, not moved yet: still slewing. */
			{ 14.002, 0, 12, 30, 200, 14 }, { 14.004, 0, 10, 30, 200, 14 },
			/* Moved 90 ns: not past both brackets and 50 ns. */
			{ 14.00445, 0, 100, 30, 200, 14 },
			/* A wide sample far off proves nothing. */
			{ 14.0045, 0, 900, 400, 200, 14 },
			/* Moved 150 ns the slew's way: over. */
			{ 14.00475, 0, 160, 30, 0, 0 }, { 15.5, 0, 160, 30, 0, 0 },
			{ 16.2, -600, 0, 30, 0, 17 }, { 17.004, -100, 0, 30, -500, 18 },
			{ 18.003, 0, 0, 30, -100, 19 }, { 18.9, 0, 0, 30, -100, 19 },
			/* Moved the wrong way: not the end. */
			{ 19.005, 0, 200, 30, -100, 19 }, { 19.0055, 0, 0, 30, -100, 19 },
			{ 19.007, 0, -150, 30, 0, 0 },
		};
		struct adjtime_model m = { 0 };
		unsigned int i, bad = 0, bad_next = 0;

		for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
			struct adjtime_observation o = {
				.left_us = seq[i].left,
				.realtime_ns = (int64_t)llround(seq[i].t * 1e9),
				.error_ns = seq[i].err,
				.uncertainty_ns = seq[i].unc,
			};
			long r = adjtime_model_update(&m, &o);
			int64_t next = adjtime_model_next_change(&m, o.realtime_ns);
			int64_t want_next = seq[i].next ? seq[i].next * 1000000000ll : -1;

			if (next != want_next) {
				tap_diag("at %.4f s: next change at %lld ns, want %lld",
					 seq[i].t, (long long)next, (long long)want_next);
				bad_next++;
			}
			if (r != seq[i].rate) {
				tap_diag("at %.4f s, %ld us left, error %lld: %ld ppm, want %ld",
					 seq[i].t, seq[i].left, (long long)seq[i].err,
					 r, seq[i].rate);
				bad++;
			}
		}
		tap_ok(!bad && m.ends_measured == 2 && !m.ends_by_deadline,
		       "adjtime(): the slew starts at the next second, runs what "
		       "the kernel takes each second, ends when the error moves "
		       "its way (%llu measured, %llu by deadline)",
		       (unsigned long long)m.ends_measured,
		       (unsigned long long)m.ends_by_deadline);
		tap_ok(!bad_next,
		       "adjtime(): the next rate change is the start, a share "
		       "unlike the running one, or the end, and stays ahead "
		       "until seen; none mid-slew or after the end");
	}
	{
		/* No usable sample after the last share: over at the deadline. */
		struct adjtime_model m = { 0 };
		struct adjtime_observation o = { .left_us = 300,
						 .realtime_ns = 5100000000ll,
						 .uncertainty_ns = -1 };
		long before, after;

		adjtime_model_update(&m, &o);
		o.left_us = 0;
		o.realtime_ns = 6003000000ll;
		adjtime_model_update(&m, &o);
		o.realtime_ns = 7000000000ll + KERNEL_ADJTIME_END_DEADLINE_NS - 1000;
		before = adjtime_model_update(&m, &o);
		o.realtime_ns += 2000;
		after = adjtime_model_update(&m, &o);
		tap_ok(before == 300 && after == 0 && m.ends_by_deadline == 1,
		       "adjtime(): with no evidence the slew is over %d ms after "
		       "the boundary (%ld, then %ld ppm)",
		       KERNEL_ADJTIME_END_DEADLINE_NS / 1000000, before, after);
	}
	{
		/* adjtime(0) cancelling 1500 us left is no 1500 ppm share. */
		struct adjtime_model m = { 0 };
		struct adjtime_observation o = { .left_us = 1500,
						 .realtime_ns = 1500000000ll,
						 .uncertainty_ns = -1 };
		long r;

		adjtime_model_update(&m, &o);
		o.left_us = 1000;
		o.realtime_ns = 2004000000ll;
		adjtime_model_update(&m, &o);
		o.left_us = 0;
		o.realtime_ns = 2500000000ll;
		r = adjtime_model_update(&m, &o);
		tap_ok(r == 500, "adjtime(): a cancel keeps this second's share (%ld ppm)", r);
	}
	{
		/* A host step mid-slew: the kernel cleared it, so is it here. */
		struct adjtime_model m = { 0 };
		struct adjtime_observation o = { .left_us = 1500,
						 .realtime_ns = 30500000000ll,
						 .uncertainty_ns = -1 };
		long during, after, later;

		adjtime_model_update(&m, &o);
		o.left_us = 1000;
		o.realtime_ns = 31004000000ll;
		during = adjtime_model_update(&m, &o);
		adjtime_model_host_stepped(&m, 31400000000ll);
		o.left_us = 0;
		o.realtime_ns = 31402000000ll;
		after = adjtime_model_update(&m, &o);
		o.realtime_ns = 32010000000ll;
		later = adjtime_model_update(&m, &o);
		tap_ok(during == 500 && after == 0 && later == 0 &&
		       !adjtime_model_watching(&m, 32999500000ll),
		       "adjtime(): a host step ends the slew at once (%ld, %ld, %ld ppm)",
		       during, after, later);
	}
	{
		/* Dense sampling only around a slew's boundaries. */
		struct adjtime_model m = { 0 };
		struct adjtime_observation o = { .left_us = 800,
						 .realtime_ns = 20300000000ll,
						 .uncertainty_ns = -1 };
		bool idle, lead, mid, after_boundary, seen;

		idle = adjtime_model_watching(&m, 20999500000ll);
		adjtime_model_update(&m, &o);
		mid = adjtime_model_watching(&m, 20500000000ll);
		lead = adjtime_model_watching(&m, 20999500000ll);
		after_boundary = adjtime_model_watching(&m, 21003000000ll);
		o.left_us = 300;
		o.realtime_ns = 21004000000ll;
		adjtime_model_update(&m, &o);
		seen = adjtime_model_watching(&m, 21004100000ll);
		tap_ok(!idle && !mid && lead && after_boundary && !seen,
		       "adjtime(): watched from 1 ms before a boundary until its share shows");
	}

	s = sim_sample(&h, 100);
	tap_ok(clock_follow_init(&cf, 0, &h.kernel, &s) == -EINVAL &&
	       clock_follow_init(&cf, 2300000000ull,
				 &(struct kernel_rate){ .tick = 0 }, &s) == -EINVAL,
	       "a zero rate or an absurd tick is refused");
	/* The startup calibration is 0.2 ppm off, as a 1 s one may be. */
	tap_ok(clock_follow_init(&cf, 2300000460ull, &h.kernel, &s) == 0,
	       "init from one sample");

	st = sim_run(&cf, &h, 5e9, 0);
	tap_diag("start: max |error| %.0f ns, %lu rate changes, %llu trims",
		 st.max_abs, st.changes, (unsigned long long)cf.trims);
	tap_ok(st.max_abs < 1000, "start with a 0.2 ppm error: within 1 us (%.0f ns)",
	       st.max_abs);
	changes = cf.rate_changes;
	st = sim_run(&cf, &h, 60e9, 0);
	tap_diag("steady 60 s: max |error| %.0f ns, %lu rate changes, est %.3f Hz",
		 st.max_abs, st.changes, cf.est_hz);
	tap_ok(st.max_abs <= SETTLED_NS, "steady: within %lld ns of the host's CLOCK_MONOTONIC (%.0f ns)", SETTLED_NS,
	       st.max_abs);
	tap_ok(cf.rate_changes - changes <= 10,
	       "steady: at most 10 rate changes a minute (%llu)",
	       (unsigned long long)(cf.rate_changes - changes));
	tap_ok(fabs(cf.est_hz / (TSC_HZ / (1.0 + TICK_ROUNDING)) - 1.0) < 2e-9,
	       "the measured rate is the host's to 2 ppb (%.3f Hz)", cf.est_hz);

	changes = cf.kernel_changes;
	sim_set_freq(&h, 50.0, 3e6);
	st = sim_run(&cf, &h, 20e9, 0);
	tap_diag("+50 ppm: max |error| %.0f ns, %lu rate changes", st.max_abs, st.changes);
	tap_ok(cf.kernel_changes == changes + 1, "the kernel's frequency change is seen");
	tap_ok(st.max_abs <= 300, "+50 ppm, in effect 3 ms after adjtimex: within 300 ns (%.0f ns)",
	       st.max_abs);
	sim_set_freq(&h, -50.0, 1e6);
	st = sim_run(&cf, &h, 20e9, 0);
	tap_diag("-50 ppm: max |error| %.0f ns, %lu rate changes", st.max_abs, st.changes);
	tap_ok(st.max_abs <= 300, "-50 ppm: within 300 ns (%.0f ns)", st.max_abs);
	st = sim_run(&cf, &h, 10e9, 0);
	tap_ok(st.max_abs <= SETTLED_NS, "settled at -50 ppm: within %lld ns (%.0f ns)", SETTLED_NS, st.max_abs);

	/* A PLL offset slew: the rate moves with no adjtimex frequency change. */
	h.rate *= 1.0 + 5e-6;
	st = sim_run(&cf, &h, 3e9, 0);
	tap_diag("unannounced +5 ppm: max |error| %.0f ns, %llu breaks", st.max_abs,
		 (unsigned long long)cf.breaks);
	tap_ok(st.max_abs <= 3000 && cf.breaks >= 1,
	       "an unannounced +5 ppm is caught: within 3 us (%.0f ns)", st.max_abs);
	st = sim_run(&cf, &h, 10e9, 0);
	tap_ok(st.max_abs <= SETTLED_NS, "and then within %lld ns (%.0f ns)", SETTLED_NS, st.max_abs);

	/* A wide (preempted) sample far off is not believed. */
	changes = cf.rate_changes;
	sim_advance(&h, STEP_NS);
	s = sim_sample(&h, 100000);
	s.mono_ns += 50000;
	tap_ok(!clock_follow_step(&cf, &s, &h.kernel) && cf.rate_changes == changes,
	       "a wide sample 50 us off changes nothing");

	/* The tick too (ADJ_TICK), announced. */
	sim_set_kernel(&h, tick, 2e6);
	st = sim_run(&cf, &h, 10e9, 0);
	tap_ok(st.max_abs <= 500, "a tick change (+150 ppm): within 500 ns (%.0f ns)",
	       st.max_abs);

	/* FLL mode: a 500 ppm slew nobody announces. */
	h.rate *= 1.0 + 500e-6;
	st = sim_run(&cf, &h, 4e9, 0);
	tap_diag("unannounced +500 ppm: max |error| %.0f ns", st.max_abs);
	tap_ok(st.max_abs <= 10000, "an unannounced +500 ppm: within 10 us (%.0f ns)",
	       st.max_abs);
	tap_ok(cf.samples > 50000 && cf.wide_samples == 1,
	       "samples counted (%llu, %llu wide)", (unsigned long long)cf.samples,
	       (unsigned long long)cf.wide_samples);
	return tap_done();
}
