// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <math.h>
#include <string.h>

#include "pvclock_math.h"
#include "clock/clock_follow.h"

/* The kernel's NTP tick: 1e4 us at USER_HZ 100 is a nominal second. */
#define KERNEL_NOMINAL_TICK_US	10000.0
/* timex.freq carries ppm with a 16-bit binary fraction. */
#define KERNEL_FREQ_ONE_PPM	65536.0
/* A fit spanning longer than this starts again (the host may drift). */
#define FIT_MAX_SPAN_NS		(256 * 1000000000ll)

/* The kernel's STA_* bits this needs (<sys/timex.h>). */
#define KERNEL_STA_PLL		0x0001
#define KERNEL_STA_FLL		0x0008
#define KERNEL_STA_NANO		0x2000

double kernel_rate_factor(const struct kernel_rate *k)
{
	return ((double)k->tick / KERNEL_NOMINAL_TICK_US) *
	       (1.0 + (double)k->freq / KERNEL_FREQ_ONE_PPM * 1e-6) +
	       (double)k->pll_ppb * 1e-9 + (double)k->adjtime_ppm * 1e-6;
}

void kernel_rate_from_timex(struct kernel_rate *k, long freq, long tick,
			    int status, long offset, long constant,
			    long adjtime_ppm)
{
	long offset_ns = status & KERNEL_STA_NANO ? offset : offset * 1000;

	k->freq = freq;
	k->tick = tick;
	k->pll_ppb = 0;
	/* FLL mode slews differently: left to the measurement. */
	if ((status & KERNEL_STA_PLL) && !(status & KERNEL_STA_FLL) &&
	    constant >= 0 && constant <= 30)
		k->pll_ppb = offset_ns / (1l << (KERNEL_PLL_SHIFT + constant));
	k->adjtime_ppm = adjtime_ppm;
}

/* A tight sample came with the look: its error is evidence. */
static bool adjtime_look_usable(const struct adjtime_observation *o)
{
	return o->uncertainty_ns >= 0 &&
	       o->uncertainty_ns <= KERNEL_ADJTIME_MAX_UNCERTAINTY_NS;
}

/* The end's evidence: the error moved the slew's way past both brackets. */
static bool adjtime_end_seen(const struct adjtime_model *m,
			     const struct adjtime_observation *o)
{
	int64_t moved = o->error_ns - m->end_ref_error_ns;

	if (!m->end_ref_valid || !adjtime_look_usable(o))
		return false;
	/* The kernel slowing (rate > 0) leaves the records ahead: error > 0. */
	if (m->rate_ppm < 0)
		moved = -moved;
	return moved - o->uncertainty_ns - m->end_ref_uncertainty_ns >
	       KERNEL_ADJTIME_END_NS;
}

static void adjtime_note_end_ref(struct adjtime_model *m,
				 const struct adjtime_observation *o)
{
	if (!adjtime_look_usable(o))
		return;
	m->end_ref_error_ns = o->error_ns;
	m->end_ref_uncertainty_ns = o->uncertainty_ns;
	m->end_ref_valid = true;
}

long adjtime_model_update(struct adjtime_model *m,
			  const struct adjtime_observation *o)
{
	int64_t sec = o->realtime_ns / 1000000000ll;
	int64_t into_sec = o->realtime_ns % 1000000000ll;
	long left_us = o->left_us, last = m->last_left_us;

	if (left_us != last) {
		/* Less left, same way: the kernel took this second's share. */
		if (last && (left_us == 0 || (left_us > 0) == (last > 0)) &&
		    labs(left_us) < labs(last) &&
		    labs(last - left_us) <= KERNEL_ADJTIME_PPM)
			m->rate_ppm = last - left_us;
		m->last_left_us = left_us;
		m->change_sec = sec;
		m->end_ref_valid = false;
	}
	if (!m->rate_ppm || left_us)
		return m->rate_ppm;
	/* The last share is running: the next boundary ends it. */
	if (sec == m->change_sec) {
		adjtime_note_end_ref(m, o);
	} else if (adjtime_end_seen(m, o)) {
		m->ends_measured++;
		m->rate_ppm = 0;
		m->change_sec = sec;
	} else if (sec > m->change_sec + 1 ||
		   into_sec >= KERNEL_ADJTIME_END_DEADLINE_NS) {
		m->ends_by_deadline++;
		m->rate_ppm = 0;
		m->change_sec = sec;
	}
	return m->rate_ppm;
}

void adjtime_model_host_stepped(struct adjtime_model *m, int64_t realtime_ns)
{
	m->last_left_us = 0;
	m->rate_ppm = 0;
	m->change_sec = realtime_ns / 1000000000ll;
	m->end_ref_valid = false;
}

/*
 * Past a boundary the last change did not come from, and not yet past the
 * deadline by which a change there must have shown.
 */
static bool adjtime_boundary_unseen(const struct adjtime_model *m,
				    int64_t realtime_ns)
{
	return realtime_ns / 1000000000ll > m->change_sec &&
	       realtime_ns % 1000000000ll < KERNEL_ADJTIME_END_DEADLINE_NS;
}

bool adjtime_model_watching(const struct adjtime_model *m, int64_t realtime_ns)
{
	if (!m->rate_ppm && !m->last_left_us)
		return false;
	if (realtime_ns % 1000000000ll >=
	    1000000000ll - KERNEL_ADJTIME_WATCH_LEAD_NS)
		return true;
	return adjtime_boundary_unseen(m, realtime_ns);
}

int64_t adjtime_model_next_change(const struct adjtime_model *m,
				  int64_t realtime_ns)
{
	int64_t sec = realtime_ns / 1000000000ll;
	long next_ppm = m->last_left_us;

	if (next_ppm > KERNEL_ADJTIME_PPM)
		next_ppm = KERNEL_ADJTIME_PPM;
	else if (next_ppm < -KERNEL_ADJTIME_PPM)
		next_ppm = -KERNEL_ADJTIME_PPM;
	if (next_ppm == m->rate_ppm)
		return -1;
	if (adjtime_boundary_unseen(m, realtime_ns))
		return sec * 1000000000ll;
	return (sec + 1) * 1000000000ll;
}

static bool kernel_rate_equal(const struct kernel_rate *a,
			      const struct kernel_rate *b)
{
	return a->freq == b->freq && a->tick == b->tick &&
	       a->pll_ppb == b->pll_ppb && a->adjtime_ppm == b->adjtime_ppm;
}

static uint64_t ns_to_cycles(const struct clock_follow *cf, int64_t ns)
{
	return (uint64_t)((unsigned __int128)(uint64_t)ns * cf->nominal_hz /
			  PVTIME_NSEC_PER_SEC);
}

static void fit_reset(struct follow_fit *fit, const struct follow_sample *s,
		      int64_t min_baseline_ns)
{
	memset(fit, 0, sizeof(*fit));
	fit->tsc0 = s->tsc;
	fit->mono0 = s->mono_ns;
	fit->last_mono = s->mono_ns;
	fit->min_baseline_ns = min_baseline_ns;
}

static void fit_add(struct follow_fit *fit, const struct follow_sample *s)
{
	double x = (double)(int64_t)(s->tsc - fit->tsc0);
	double y = (double)(s->mono_ns - fit->mono0);

	fit->n += 1;
	fit->sx += x;
	fit->sy += y;
	fit->sxx += x * x;
	fit->sxy += x * y;
	fit->last_mono = s->mono_ns;
}

/* The fit's slope (ns per cycle); false until it spans min_span_ns. */
static bool fit_slope(const struct follow_fit *fit, int64_t min_span_ns,
		      double *slope)
{
	double denominator = fit->n * fit->sxx - fit->sx * fit->sx;

	if (fit->n < 3 || fit->last_mono - fit->mono0 < min_span_ns ||
	    denominator <= 0)
		return false;
	*slope = (fit->n * fit->sxy - fit->sx * fit->sy) / denominator;
	return *slope > 0;
}

/*
 * How far a sample is off the fitted line, ns (0 until the fit spans
 * CLOCK_FOLLOW_MIN_BASELINE_NS: a shorter one is too noisy to judge by).
 */
static double fit_residual(const struct follow_fit *fit,
			   const struct follow_sample *s)
{
	double x = (double)(int64_t)(s->tsc - fit->tsc0);
	double y = (double)(s->mono_ns - fit->mono0);
	double slope;

	if (!fit_slope(fit, CLOCK_FOLLOW_MIN_BASELINE_NS, &slope))
		return 0;
	return y - (fit->sy / fit->n + slope * (x - fit->sx / fit->n));
}

/* Cycles per CLOCK_MONOTONIC second from the fit; false until it spans enough. */
static bool fit_rate(const struct follow_fit *fit, double *hz)
{
	double slope;

	if (!fit_slope(fit, fit->min_baseline_ns, &slope))
		return false;
	*hz = 1e9 / slope;
	return true;
}

int64_t clock_follow_error(const struct clock_follow *cf,
			   const struct follow_sample *s)
{
	return (int64_t)time_function_at(&cf->fn, s->tsc) -
	       (s->mono_ns - cf->base_ns);
}

int clock_follow_init(struct clock_follow *cf, uint64_t nominal_hz,
		      const struct kernel_rate *k, const struct follow_sample *s)
{
	double factor = kernel_rate_factor(k);
	int ret;

	if (!nominal_hz || !(factor > 0.5 && factor < 2.0))
		return -EINVAL;
	memset(cf, 0, sizeof(*cf));
	cf->nominal_hz = nominal_hz;
	cf->kernel = *k;
	cf->est_hz = (double)nominal_hz / factor;
	cf->applied_hz = (uint64_t)llround(cf->est_hz);
	ret = time_function_scale(cf->applied_hz, 0, &cf->fn.mul, &cf->fn.shift);
	if (ret)
		return ret;
	cf->fn.anchor_tsc = s->tsc;
	cf->fn.system_ns = 0;
	cf->base_ns = s->mono_ns;
	cf->last_change_tsc = s->tsc;
	fit_reset(&cf->fit, s, CLOCK_FOLLOW_MIN_BASELINE_NS);
	fit_add(&cf->fit, s);
	return 0;
}

/* Move fn to hz at s->tsc, continuously.  0 or -errno. */
static int apply_rate(struct clock_follow *cf, const struct follow_sample *s,
		      uint64_t hz)
{
	struct reanchor_request req = {
		.now_tsc = s->tsc, .window_cycles = 0, .candidates = 1,
	};
	struct reanchor_report rep;
	struct time_function next;
	int ret;

	ret = time_function_scale(hz, 0, &req.mul, &req.shift);
	if (!ret)
		ret = time_function_reanchor(&cf->fn, &req, &next, &rep);
	if (ret)
		return ret;
	cf->fn = next;
	cf->applied_hz = hz;
	cf->last_change_tsc = s->tsc;
	cf->rate_changes++;
	return 0;
}

/* The rate that removes error_ns over the horizon, around est_hz. */
static uint64_t trimmed_rate(const struct clock_follow *cf, int64_t error_ns)
{
	double trim = (double)error_ns / (double)CLOCK_FOLLOW_HORIZON_NS;
	double limit = CLOCK_FOLLOW_MAX_TRIM_PPM * 1e-6;

	if (trim > limit)
		trim = limit;
	if (trim < -limit)
		trim = -limit;
	/* Ahead (error > 0): more cycles per second, i.e. slower records. */
	return (uint64_t)llround(cf->est_hz * (1.0 + trim));
}

static double relative(uint64_t a, uint64_t b)
{
	return fabs((double)a - (double)b) / (double)b;
}

/* What follow_target decided; committed only once the rate is in place. */
struct follow_decision {
	uint64_t hz;
	bool trimming;
	int64_t trim_error_ns;
};

/*
 * The rate to run at for this error.  A trim, once started, is kept while
 * the error shrinks; it ends when the error is half the deadband or
 * changed sign, and is recomputed only when the error grew.
 */
static struct follow_decision follow_target(const struct clock_follow *cf,
					    int64_t error_ns)
{
	struct follow_decision d = {
		.hz = (uint64_t)llround(cf->est_hz),
		.trimming = false,
	};
	bool same_side = (error_ns > 0) == (cf->trim_error_ns > 0);

	if (cf->trimming) {
		if (!same_side || llabs(error_ns) <= CLOCK_FOLLOW_DEADBAND_NS / 2)
			return d;
		if (llabs(error_ns) <= llabs(cf->trim_error_ns)) {
			d.hz = cf->applied_hz;
			d.trimming = true;
			d.trim_error_ns = cf->trim_error_ns;
			return d;
		}
	} else if (llabs(error_ns) <= CLOCK_FOLLOW_DEADBAND_NS) {
		return d;
	}
	d.hz = trimmed_rate(cf, error_ns);
	d.trimming = true;
	d.trim_error_ns = error_ns;
	return d;
}

bool clock_follow_step(struct clock_follow *cf, const struct follow_sample *s,
		       const struct kernel_rate *k)
{
	bool kernel_changed = !kernel_rate_equal(k, &cf->kernel);
	struct follow_decision decision;
	int64_t error_ns;
	double fitted;

	cf->samples++;
	if (kernel_changed) {
		/* The kernel scales its tick length by the factor: so do we. */
		cf->est_hz *= kernel_rate_factor(&cf->kernel) / kernel_rate_factor(k);
		cf->kernel = *k;
		cf->kernel_changes++;
		fit_reset(&cf->fit, s, CLOCK_FOLLOW_KERNEL_BASELINE_NS);
		/* The trim was for the old rate: decide afresh. */
		cf->trimming = false;
	}
	error_ns = clock_follow_error(cf, s);
	cf->last_error_ns = error_ns;
	if (llabs(error_ns) > cf->max_abs_error_ns)
		cf->max_abs_error_ns = llabs(error_ns);
	if (s->width > ns_to_cycles(cf, CLOCK_FOLLOW_MAX_WIDTH_NS)) {
		cf->wide_samples++;
		if (!kernel_changed)
			return false;
	} else {
		if (s->mono_ns - cf->fit.mono0 > FIT_MAX_SPAN_NS)
			fit_reset(&cf->fit, s, CLOCK_FOLLOW_MIN_BASELINE_NS);
		if (!kernel_changed &&
		    fabs(fit_residual(&cf->fit, s)) > CLOCK_FOLLOW_BREAK_NS) {
			cf->breaks++;
			fit_reset(&cf->fit, s, CLOCK_FOLLOW_BREAK_BASELINE_NS);
			cf->trimming = false;
		}
		fit_add(&cf->fit, s);
		if (!kernel_changed && fit_rate(&cf->fit, &fitted))
			cf->est_hz = fitted;
	}

	decision = follow_target(cf, error_ns);
	if (decision.hz == cf->applied_hz)
		goto commit;
	if (!kernel_changed) {
		/* Small differences wait: each change costs the fast path. */
		if (relative(decision.hz, cf->applied_hz) < CLOCK_FOLLOW_RATE_PPB * 1e-9)
			goto commit;
		/* A large unannounced change cannot wait. */
		if (relative(decision.hz, cf->applied_hz) < CLOCK_FOLLOW_URGENT_PPM * 1e-6 &&
		    s->tsc - cf->last_change_tsc <
		    ns_to_cycles(cf, CLOCK_FOLLOW_MIN_INTERVAL_NS))
			return false;
	}
	if (apply_rate(cf, s, decision.hz))
		return false;
	if (decision.trimming && !cf->trimming)
		cf->trims++;
	cf->trimming = decision.trimming;
	cf->trim_error_ns = decision.trim_error_ns;
	return true;
commit:
	/* Nothing to apply: a trim that needs no change still counts as over. */
	cf->trimming = decision.trimming && decision.hz == cf->applied_hz;
	cf->trim_error_ns = decision.trim_error_ns;
	return false;
}
