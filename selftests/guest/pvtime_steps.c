// SPDX-License-Identifier: GPL-2.0
/*
 * pvtime-steps: how fast and how exactly a host step of the wall clock
 * reaches this guest's CLOCK_REALTIME, judged by the test time meter
 * (meter_probe.h), never by pvtimed.
 *
 *   pvtime-steps [--timeout S] [--interval-us N] [--tolerance-us N]
 *       [--max-rtt-us N] [--residual-rtt-us N] [--max-latency-us N]
 *       [--min-steps N] [--device PATH] [--cpu N]
 *
 * Samples guest - host CLOCK_REALTIME through the meter (the best of 3
 * exchanges) every --interval-us from 2 ms before to 12 ms after each
 * step the runner
 * announces in its step log (step_log.h, in the meter's page), every
 * millisecond otherwise, until the log says it is done; every sample is
 * kept.  Then, for each
 * logged step: its latency is the host CLOCK_MONOTONIC_RAW of the first
 * sample whose offset is within --tolerance-us of the step's expected
 * offset (and whose round trip is under --max-rtt-us), taken after the
 * step was asked for (a pvxl step, which moves the expected offset) or
 * after it was done (a host step, which does not), minus the instant the
 * step was asked for; a step
 * that never lands before the next one, or that found the guest not where
 * the step before should have put it, is "missed".  One with no judged
 * sample at all before the next (the sampler got no vCPU time) is
 * "unobserved": with --doorbells the module's trace judges it, and up to
 * one in 20 passes.  Its residual is the
 * median offset of the samples from there to the next step with a round
 * trip under --residual-rtt-us, minus the expected offset: the guest's
 * error against the host right after the step, which stays until the
 * next one.  The median offset before the first step is printed beside
 * it (steps_baseline_offset_ns: the error the guest had before).
 *
 * With --doorbells, a step is also timed by the module's own trace of
 * the doorbell, in guest TSC cycles mapped onto host raw time through a
 * line fitted to the samples: "applied" when the guest's timekeeper took
 * the new time (REALTIME's readers have it from there), "returned" when
 * do_settimeofday64() returned (it re-arms REALTIME timers on every CPU
 * first, which under single-threaded TCG waits for the other vCPU).
 *
 * Prints "PVTIME-STEPS-READY" once it samples, one "# step" line per
 * step, PVTIME-REPORT lines per kind (pvxl, host) and one line per kind
 *   PVTIME-STEPS-VERDICT <kind> ok|fail <reason>
 * ok when at least --min-steps steps of that kind were logged, none was
 * missed and the p99 latency is under --max-latency-us.  Exit 0 when
 * every kind logged is ok, 1 otherwise, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "doorbell_trace.h"
#include "meter_probe.h"
#include "prog_common.h"
#include "../host/meter/step_log.h"

#define NSEC_PER_USEC	1000LL
/* Samples taken after the last step, for its residual. */
#define TAIL_NS		(100 * 1000000LL)
#define EXCHANGE_TIMEOUT_NS	(500 * 1000000LL)
/* Sample back to back from this long before an announced step ... */
#define DENSE_BEFORE_NS		(2 * 1000000LL)
/* ... to this long after it; nap NAP_NS between samples otherwise. */
#define DENSE_AFTER_NS		(12 * 1000000LL)
#define NAP_NS			(1000 * 1000LL)
/*
 * Exchanges per sample, the narrowest bracket kept: the first may find
 * the meter polling (tens of microseconds, its answer late in the
 * bracket), the next ones find it spinning (a symmetric bracket).
 */
#define SAMPLE_EXCHANGES	3

struct steps_options {
	double timeout_s;
	unsigned long interval_us;
	unsigned long tolerance_us;
	unsigned long max_rtt_us;
	unsigned long residual_rtt_us;
	unsigned long max_latency_us;
	unsigned long max_observed_us;	/* 0: not judged */
	unsigned long min_steps;
	const char *device;
	const char *doorbells;
	unsigned long cpu;
	bool pin;
};

struct sample {
	int64_t host_raw_ns;
	int64_t offset_ns;
	int64_t rtt_ns;
	uint64_t guest_tsc;
};

struct samples {
	struct sample *v;
	size_t n, cap;
};

struct step_result {
	const struct step_log_entry *step;
	bool not_ready;		/* not where the last step put it */
	bool ready_unknown;	/* no sample since the last step's request */
	bool unobserved;	/* no sample to judge it by before the next */
	size_t judged;		/* samples judged between it and the next */
	int64_t before_offset_ns;
	bool landed;
	int64_t latency_ns;
	bool have_residual;
	int64_t residual_ns;
	/* From the module's doorbell trace, mapped through the meter: */
	bool applied_known;
	int64_t applied_ns;	/* request -> REALTIME's readers had it */
	int64_t returned_ns;	/* request -> do_settimeofday64() returned */
	int64_t to_irq_ns;	/* request -> the guest's hard irq */
	int64_t in_guest_ns;	/* hard irq -> do_settimeofday64() returned */
	const struct doorbell *doorbell;	/* that doorbell's trace */
	/* Judged samples after a one-attempt step's moment without it. */
	size_t contradicted;
};

/* What the doorbell trace is read against, if there is one. */
struct applied_view {
	const struct doorbells *doorbells;
	const struct tsc_map *map;
};

static const char *const kind_names[] = {
	[STEP_KIND_PVXL] = "pvxl",
	[STEP_KIND_HOST] = "host",
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pvtime-steps [--timeout S] [--interval-us N] [--tolerance-us N]\n"
		"           [--max-rtt-us N] [--residual-rtt-us N] [--max-latency-us N]\n"
		"           [--max-observed-us N] [--doorbells PATH] [--min-steps N]\n"
		"           [--device PATH] [--cpu N]\n"
		"  --timeout S          give up waiting for the log, 1..3600 (default 120)\n"
		"  --interval-us N      between samples around a step (spinning),\n"
		"                       0..100000 (default 50)\n"
		"  --cpu N              sample from this CPU only\n"
		"  --tolerance-us N     landed: this close to the expected offset,\n"
		"                       1..100000 (default 100)\n"
		"  --max-rtt-us N       samples with a slower round trip are not judged,\n"
		"                       1..100000 (default 100)\n"
		"  --residual-rtt-us N  round trip of the samples a residual is taken\n"
		"                       from, 1..100000 (default 20)\n"
		"  --max-latency-us N   p99 latency that passes, 1..10000000 (default 1000):\n"
		"                       until the step was applied with --doorbells,\n"
		"                       until a sample saw it otherwise\n"
		"  --max-observed-us N  with --doorbells, also the p99 until a sample saw\n"
		"                       it, 1..10000000 (default: not judged)\n"
		"  --doorbells PATH     the module's debugfs wallclock_doorbells: time\n"
		"                       each step by when the guest's timekeeper took it\n"
		"                       (inside do_settimeofday64())\n"
		"  --min-steps N        steps of a kind needed to judge it, 1..256\n"
		"                       (default 100)\n"
		"  --device PATH        meter page to map (default: find the PCI device)\n");
}

static int parse_options(int argc, char **argv, struct steps_options *o)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 'T' },
		{ "interval-us", required_argument, NULL, 'i' },
		{ "tolerance-us", required_argument, NULL, 't' },
		{ "max-rtt-us", required_argument, NULL, 'r' },
		{ "residual-rtt-us", required_argument, NULL, 'R' },
		{ "max-latency-us", required_argument, NULL, 'l' },
		{ "max-observed-us", required_argument, NULL, 'O' },
		{ "doorbells", required_argument, NULL, 'B' },
		{ "min-steps", required_argument, NULL, 'n' },
		{ "device", required_argument, NULL, 'D' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long timeout_s;
	int c;

	*o = (struct steps_options){
		.timeout_s = 120, .interval_us = 50, .tolerance_us = 100,
		.max_rtt_us = 100, .residual_rtt_us = 20,
		.max_latency_us = 1000, .min_steps = 100,
	};
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'T':
			if (!parse_ulong(optarg, 1, 3600, &timeout_s))
				return bad_option("--timeout", optarg, "1..3600");
			o->timeout_s = timeout_s;
			break;
		case 'i':
			if (!parse_ulong(optarg, 0, 100000, &o->interval_us))
				return bad_option("--interval-us", optarg, "0..100000");
			break;
		case 't':
			if (!parse_ulong(optarg, 1, 100000, &o->tolerance_us))
				return bad_option("--tolerance-us", optarg, "1..100000");
			break;
		case 'r':
			if (!parse_ulong(optarg, 1, 100000, &o->max_rtt_us))
				return bad_option("--max-rtt-us", optarg, "1..100000");
			break;
		case 'R':
			if (!parse_ulong(optarg, 1, 100000, &o->residual_rtt_us))
				return bad_option("--residual-rtt-us", optarg, "1..100000");
			break;
		case 'l':
			if (!parse_ulong(optarg, 1, 10000000, &o->max_latency_us))
				return bad_option("--max-latency-us", optarg, "1..10000000");
			break;
		case 'O':
			if (!parse_ulong(optarg, 1, 10000000, &o->max_observed_us))
				return bad_option("--max-observed-us", optarg, "1..10000000");
			break;
		case 'B':
			o->doorbells = optarg;
			break;
		case 'n':
			if (!parse_ulong(optarg, 1, STEP_LOG_MAX, &o->min_steps))
				return bad_option("--min-steps", optarg, "1..256");
			break;
		case 'D':
			o->device = optarg;
			break;
		case 'c':
			if (!parse_ulong(optarg, 0, CPU_SETSIZE - 1, &o->cpu))
				return bad_option("--cpu", optarg, "0..1023");
			o->pin = true;
			break;
		default:
			return help_or_usage_error(c, usage);
		}
	}
	return reject_operands(argc, argv);
}

static int samples_add(struct samples *s, const struct meter_sample *ms)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 65536;
		struct sample *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct sample){ ms->host_raw_ns, ms->offset_ns,
					ms->rtt_ns, ms->guest_tsc };
	return 0;
}

/* A sample whose round trip is known and at most max_rtt_ns. */
static bool rtt_within(const struct sample *x, int64_t max_rtt_ns)
{
	return x->rtt_ns >= 0 && x->rtt_ns <= max_rtt_ns;
}

/* Median offset of the samples in [from, to) with rtt <= max_rtt_ns. */
static bool median_offset(const struct samples *s, int64_t from, int64_t to,
			  int64_t max_rtt_ns, int64_t *median)
{
	int64_t *v = malloc((s->n ? s->n : 1) * sizeof(*v));
	size_t i, n = 0;

	if (!v)
		return false;
	for (i = 0; i < s->n; i++) {
		const struct sample *x = &s->v[i];

		if (x->host_raw_ns >= from && x->host_raw_ns < to &&
		    rtt_within(x, max_rtt_ns))
			v[n++] = x->offset_ns;
	}
	if (n) {
		qsort(v, n, sizeof(*v), cmp_int64);
		*median = v[n / 2];
	}
	free(v);
	return n > 0;
}

/* The narrowest of SAMPLE_EXCHANGES exchanges; 0 or -ETIMEDOUT. */
static int take_sample(struct meter *m, struct meter_sample *best)
{
	struct meter_sample one;
	unsigned int i;
	int ret;

	for (i = 0; i < SAMPLE_EXCHANGES; i++) {
		ret = meter_exchange(m, EXCHANGE_TIMEOUT_NS, &one);
		if (ret)
			return ret;
		if (!i || (one.rtt_ns >= 0 &&
			   (best->rtt_ns < 0 || one.rtt_ns < best->rtt_ns)))
			*best = one;
	}
	return 0;
}

/*
 * Around a step, wait without sleeping: waking from a sleep goes through
 * QEMU's timers, on the thread that also delivers the doorbell.
 */
/*
 * PAUSE in the spin, as a polite spinning workload does: under
 * single-threaded TCG it hands the host thread to the other vCPU, which
 * may be the one stepping the clock (a spin without it keeps the thread
 * until the next interrupt kicks it on).
 */
static void spin_for(int64_t ns)
{
	int64_t until = clock_ns(CLOCK_MONOTONIC) + ns;

	while (clock_ns(CLOCK_MONOTONIC) < until) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
}

/* Samples with a slower round trip are not judged. */
static bool judged_sample(const struct sample *x, const struct steps_options *o)
{
	return rtt_within(x, (int64_t)o->max_rtt_us * NSEC_PER_USEC);
}

/*
 * From when a sample can show step k landed.  A step of the guest's wall
 * clock alone (pvxl) moves the expected offset: a sample there after the
 * request went out shows it landed, even before the request's answer came
 * back.  A host step leaves the expected offset where it was; until the
 * host's clock has certainly moved, a sample there shows nothing.
 */
static int64_t step_shows_from(const struct step_log *log, unsigned int k)
{
	const struct step_log_entry *e = &log->entry[k];
	int64_t last_expect = k ? log->entry[k - 1].expect_offset_ns : 0;

	return e->expect_offset_ns != last_expect ? e->before_raw_ns :
						    e->after_raw_ns;
}

/*
 * Tell the runner the latest step has landed: a sample within the round
 * trip judged and the tolerance of where the step puts the guest, taken
 * after it was asked for (after it was done, for a host step, which
 * leaves the expected offset where it was).  judge_step() decides later;
 * this only paces the runner.
 */
static void note_seen(struct step_log *log, const struct sample *x,
		      const struct steps_options *o)
{
	uint32_t count = __atomic_load_n(&log->count, __ATOMIC_ACQUIRE);
	const struct step_log_entry *e;

	if (!count || count > STEP_LOG_MAX ||
	    __atomic_load_n(&log->seen, __ATOMIC_RELAXED) >= count)
		return;
	e = &log->entry[count - 1];
	if (x->host_raw_ns <= step_shows_from(log, count - 1) ||
	    !judged_sample(x, o) ||
	    llabs(x->offset_ns - e->expect_offset_ns) >
	    (int64_t)o->tolerance_us * NSEC_PER_USEC)
		return;
	__atomic_store_n(&log->seen, count, __ATOMIC_RELEASE);
}

/* A copy of the log, once the runner is done with it. */
static int wait_for_log(struct meter *m, struct step_log *log,
			const struct steps_options *o, struct samples *all,
			struct step_log *copy)
{
	int64_t deadline = clock_ns(CLOCK_MONOTONIC) +
			   (int64_t)(o->timeout_s * NSEC_PER_SEC);
	const struct timespec nap = { 0, NAP_NS };
	int64_t tail_from = 0, announce;
	bool ready = false;

	for (;;) {
		struct meter_sample ms;
		int ret = take_sample(m, &ms);

		if (ret) {
			fprintf(stderr, "pvtime-steps: the meter did not answer within %lld ms\n",
				EXCHANGE_TIMEOUT_NS / 1000000);
			return ret;
		}
		if (samples_add(all, &ms)) {
			fprintf(stderr, "pvtime-steps: out of memory after %zu samples\n",
				all->n);
			return -ENOMEM;
		}
		note_seen(log, &all->v[all->n - 1], o);
		if (!ready) {
			printf("PVTIME-STEPS-READY\n");
			fflush(stdout);
			ready = true;
		}
		if (!tail_from && __atomic_load_n(&log->done, __ATOMIC_ACQUIRE))
			tail_from = ms.host_raw_ns;
		if (tail_from && ms.host_raw_ns - tail_from >= TAIL_NS)
			break;
		if (clock_ns(CLOCK_MONOTONIC) > deadline) {
			fprintf(stderr, "pvtime-steps: no end of the step log within %.0f s (%u steps logged)\n",
				o->timeout_s, log->count);
			return -ETIMEDOUT;
		}
		announce = __atomic_load_n(&log->announce_raw_ns, __ATOMIC_ACQUIRE);
		if (!announce || ms.host_raw_ns < announce - DENSE_BEFORE_NS ||
		    ms.host_raw_ns > announce + DENSE_AFTER_NS)
			nanosleep(&nap, NULL);
		else
			spin_for(o->interval_us * NSEC_PER_USEC);
	}
	memcpy(copy, log, sizeof(*copy));
	if (copy->count > STEP_LOG_MAX) {
		fprintf(stderr, "pvtime-steps: the log claims %u steps, at most %u fit\n",
			copy->count, STEP_LOG_MAX);
		return -EINVAL;
	}
	return 0;
}

enum guest_at { GUEST_AT, GUEST_ELSEWHERE, GUEST_UNSEEN };

/*
 * Was the guest at expect_ns (within the tolerance) by its last judged
 * sample in [since, before)?  That sample's offset goes to *offset_ns.
 * None there (the sampler got no vCPU time, or only slow round trips):
 * GUEST_UNSEEN, which says nothing either way.
 */
static enum guest_at was_at(const struct samples *all, int64_t since,
			    int64_t before, int64_t expect_ns,
			    const struct steps_options *o, int64_t *offset_ns)
{
	size_t i = all->n;

	*offset_ns = 0;
	while (i--) {
		const struct sample *x = &all->v[i];

		if (x->host_raw_ns < since)
			break;
		if (x->host_raw_ns >= before || !judged_sample(x, o))
			continue;
		*offset_ns = x->offset_ns;
		return llabs(x->offset_ns - expect_ns) <=
		       (int64_t)o->tolerance_us * NSEC_PER_USEC ?
		       GUEST_AT : GUEST_ELSEWHERE;
	}
	return GUEST_UNSEEN;
}

/*
 * A doorbell's hard irq is mapped to host time with an error of a few
 * microseconds (the fit's residual): one that seems to come a little
 * before the request is still the request's.
 */
#define DOORBELL_MAP_SLACK_NS	(50 * NSEC_PER_USEC)

/* The first doorbell whose hard irq fell in [before, end): this step's. */
static void find_applied(const struct applied_view *av, int64_t before,
			 int64_t end, struct step_result *r)
{
	size_t i;

	for (i = 0; i < av->doorbells->n; i++) {
		const struct doorbell *d = &av->doorbells->v[i];
		int64_t irq = tsc_map_raw_ns(av->map, d->irq_tsc);

		if (irq < before - DOORBELL_MAP_SLACK_NS || irq >= end)
			continue;
		r->applied_known = true;
		r->doorbell = d;
		r->to_irq_ns = irq - before;
		r->returned_ns = tsc_map_raw_ns(av->map, d->set_end_tsc) - before;
		/* Without the timekeeper's moment, the call's end bounds it. */
		r->applied_ns = d->moved_tsc ?
				tsc_map_raw_ns(av->map, d->moved_tsc) - before :
				r->returned_ns;
		r->in_guest_ns = r->applied_ns - r->to_irq_ns;
		return;
	}
}

/*
 * A judged sample this long after the trace's moment that does not show
 * the step contradicts the trace (its round trip and the TSC map's
 * residual are well under it): the independent check that a step the
 * module says it applied is in CLOCK_REALTIME.
 */
#define CONTRADICTS_AFTER_NS	(1000 * 1000)

/*
 * Whether the trace's moment is where the step ended: it is the first
 * do_settimeofday64()'s, so only when that one was the last, measured
 * within 150 ns (the module's residual bound).  A first attempt the host
 * delayed lands milliseconds short, and the next one trims it.
 */
static bool one_attempt_step(const struct step_result *r)
{
	return r->applied_known && r->doorbell &&
	       r->doorbell->attempts == 1 && r->doorbell->measured;
}

/*
 * From when a judged step shows in the guest's CLOCK_REALTIME: its
 * doorbell's moment by the trace if there is one, else its request.  A
 * sample taken before then says nothing about whether the step landed.
 */
static int64_t step_moment(const struct step_result *r)
{
	return r->step->before_raw_ns + (r->applied_known ? r->applied_ns : 0);
}

/* Step k, after step k - 1 was judged into prev (NULL for the first). */
static void judge_step(const struct samples *all, const struct step_log *log,
		       unsigned int k, const struct steps_options *o,
		       const struct applied_view *av,
		       const struct step_result *prev, struct step_result *r)
{
	const struct step_log_entry *e = &log->entry[k];
	int64_t end = k + 1 < log->count ? log->entry[k + 1].before_raw_ns :
					   INT64_MAX;
	int64_t tolerance = o->tolerance_us * NSEC_PER_USEC;
	int64_t last_expect = k ? log->entry[k - 1].expect_offset_ns : 0;
	int64_t since = prev ? step_moment(prev) : INT64_MIN;
	int64_t from, median, settled;
	size_t i;

	*r = (struct step_result){ .step = e };
	if (av)
		find_applied(av, e->before_raw_ns, end, r);
	settled = step_moment(r);
	/*
	 * A guest that ignored the step before sits where this one leads
	 * (+X then -X): only a guest seen where the last step left it can
	 * show that it followed this one.  Not seen at all since the last
	 * step's request (no judged sample): that step is unobserved, and
	 * this one is judged on its own samples.
	 */
	switch (was_at(all, since, e->before_raw_ns, last_expect, o,
		       &r->before_offset_ns)) {
	case GUEST_ELSEWHERE:
		r->not_ready = true;
		return;
	case GUEST_UNSEEN:
		r->ready_unknown = true;
		break;
	case GUEST_AT:
		break;
	}
	from = step_shows_from(log, k);
	for (i = 0; i < all->n; i++) {
		const struct sample *x = &all->v[i];

		if (x->host_raw_ns <= from || x->host_raw_ns >= end ||
		    !judged_sample(x, o))
			continue;
		/* Before the trace's moment a sample elsewhere proves nothing. */
		if (x->host_raw_ns >= settled)
			r->judged++;
		if (llabs(x->offset_ns - e->expect_offset_ns) <= tolerance) {
			r->landed = true;
			r->latency_ns = x->host_raw_ns - e->before_raw_ns;
			break;
		}
		/* The trace says REALTIME's readers had the step by now. */
		if (one_attempt_step(r) &&
		    x->host_raw_ns >= settled + CONTRADICTS_AFTER_NS)
			r->contradicted++;
	}
	r->unobserved = !r->judged;
	if (r->landed &&
	    median_offset(all, e->before_raw_ns + r->latency_ns, end,
			  o->residual_rtt_us * NSEC_PER_USEC, &median)) {
		r->have_residual = true;
		r->residual_ns = median - e->expect_offset_ns;
	}
}

/* Nearest-rank percentile of n sorted values. */
static int64_t percentile(const int64_t *sorted, size_t n, unsigned int pct)
{
	return sorted[(n - 1) * pct / 100];
}

/* p50, p99 and max of n sorted values as PVTIME-REPORT lines. */
static void report_spread(const char *kind, const char *what,
			  const int64_t *sorted, size_t n)
{
	if (!n)
		return;
	printf("PVTIME-REPORT steps_%s_%s_p50_us %.1f\n", kind, what,
	       percentile(sorted, n, 50) / 1e3);
	printf("PVTIME-REPORT steps_%s_%s_p99_us %.1f\n", kind, what,
	       percentile(sorted, n, 99) / 1e3);
	printf("PVTIME-REPORT steps_%s_%s_max_us %.1f\n", kind, what,
	       sorted[n - 1] / 1e3);
}

/*
 * With the module's trace, a step no sample could judge (the sampler got
 * no vCPU time between it and the next, or only slow round trips) is
 * left to the trace, up to one in this many.
 */
#define UNOBSERVED_MAX_DIV	20

/* Why a kind fails, or its figures if it passes, into reason. */
struct kind_counts {
	size_t n, missed, unobserved, unapplied;
	size_t contradicted;	/* steps with a sample against the trace */
};

static bool verdict(const struct steps_options *o, bool applied,
		    const struct kind_counts *c, int64_t seen_p99,
		    int64_t applied_p99, char *reason, size_t len)
{
	int64_t judged = applied ? applied_p99 : seen_p99;
	size_t n = c->n, missed = c->missed, unobserved = c->unobserved;
	size_t unapplied = c->unapplied;

	if (n < o->min_steps)
		snprintf(reason, len, "only %zu steps logged, %lu needed", n,
			 o->min_steps);
	else if (missed)
		snprintf(reason, len, "%zu of %zu steps never landed before the next one",
			 missed, n);
	else if (unobserved * UNOBSERVED_MAX_DIV > n)
		snprintf(reason, len, "%zu of %zu steps had no sample to judge them by",
			 unobserved, n);
	else if (applied && unapplied)
		snprintf(reason, len, "%zu of %zu steps have no doorbell in the module's trace",
			 unapplied, n);
	else if (applied && c->contradicted)
		snprintf(reason, len, "%zu of %zu steps: a sample over %d us after the trace's moment of a one-attempt step did not show it",
			 c->contradicted, n, CONTRADICTS_AFTER_NS / 1000);
	else if (judged > (int64_t)o->max_latency_us * NSEC_PER_USEC)
		snprintf(reason, len, "p99 latency %s %.1f us over %lu us",
			 applied ? "until applied" : "until seen",
			 judged / 1e3, o->max_latency_us);
	else if (applied && o->max_observed_us &&
		 seen_p99 > (int64_t)o->max_observed_us * NSEC_PER_USEC)
		snprintf(reason, len, "p99 latency until seen %.1f us over %lu us",
			 seen_p99 / 1e3, o->max_observed_us);
	else if (applied) {
		snprintf(reason, len, "p99 latency until applied %.1f us, until seen %.1f us, over %zu steps",
			 applied_p99 / 1e3, seen_p99 / 1e3, n);
		return true;
	} else {
		snprintf(reason, len, "p99 latency until seen %.1f us over %zu steps",
			 seen_p99 / 1e3, n);
		return true;
	}
	return false;
}

static bool judge_kind(const struct step_result *res, unsigned int count,
		       uint32_t kind, const struct steps_options *o,
		       bool applied)
{
	const char *name = kind_names[kind];
	size_t slots = count ? count : 1;
	int64_t *lat = calloc(slots, sizeof(*lat));
	int64_t *resid = calloc(slots, sizeof(*resid));
	int64_t *done = calloc(slots, sizeof(*done));
	int64_t *to_irq = calloc(slots, sizeof(*to_irq));
	int64_t *in_guest = calloc(slots, sizeof(*in_guest));
	int64_t *returned = calloc(slots, sizeof(*returned));
	size_t n = 0, nl = 0, nr = 0, na = 0, nu = 0, nc = 0;
	struct kind_counts counts;
	char reason[200] = "";
	bool ok = false;
	unsigned int i;

	if (!lat || !resid || !done || !to_irq || !in_guest || !returned) {
		printf("PVTIME-STEPS-VERDICT %s fail out of memory\n", name);
		goto out;
	}
	for (i = 0; i < count; i++) {
		if (res[i].step->kind != kind)
			continue;
		n++;
		if (res[i].landed)
			lat[nl++] = res[i].latency_ns;
		else if (res[i].unobserved && applied)
			nu++;
		if (res[i].contradicted)
			nc++;
		if (res[i].have_residual)
			resid[nr++] = llabs(res[i].residual_ns);
		if (res[i].applied_known) {
			done[na] = res[i].applied_ns;
			to_irq[na] = res[i].to_irq_ns;
			returned[na] = res[i].returned_ns;
			in_guest[na++] = res[i].in_guest_ns;
		}
	}
	if (!n) {
		ok = true;	/* the runner logged none of this kind */
		goto out;
	}
	qsort(lat, nl, sizeof(*lat), cmp_int64);
	qsort(resid, nr, sizeof(*resid), cmp_int64);
	qsort(done, na, sizeof(*done), cmp_int64);
	qsort(to_irq, na, sizeof(*to_irq), cmp_int64);
	qsort(in_guest, na, sizeof(*in_guest), cmp_int64);
	qsort(returned, na, sizeof(*returned), cmp_int64);
	printf("PVTIME-REPORT steps_%s_count %zu\n", name, n);
	printf("PVTIME-REPORT steps_%s_missed %zu\n", name, n - nl - nu);
	printf("PVTIME-REPORT steps_%s_unobserved %zu\n", name, nu);
	if (applied)
		printf("PVTIME-REPORT steps_%s_contradicted %zu\n", name, nc);
	/* "latency": until a sample saw it, the figure before there was a trace. */
	report_spread(name, "latency", lat, nl);
	if (applied) {
		printf("PVTIME-REPORT steps_%s_applied_count %zu\n", name, na);
		report_spread(name, "applied", done, na);
		report_spread(name, "to_irq", to_irq, na);
		report_spread(name, "in_guest", in_guest, na);
		report_spread(name, "returned", returned, na);
	}
	if (nr) {
		printf("PVTIME-REPORT steps_%s_residual_abs_p50_ns %lld\n", name,
		       (long long)percentile(resid, nr, 50));
		printf("PVTIME-REPORT steps_%s_residual_abs_p99_ns %lld\n", name,
		       (long long)percentile(resid, nr, 99));
		printf("PVTIME-REPORT steps_%s_residual_abs_max_ns %lld\n", name,
		       (long long)resid[nr - 1]);
	}
	counts = (struct kind_counts){ .n = n, .missed = n - nl - nu,
				       .unobserved = nu, .unapplied = n - na,
				       .contradicted = nc };
	ok = verdict(o, applied, &counts, nl ? percentile(lat, nl, 99) : 0,
		     na ? percentile(done, na, 99) : 0, reason, sizeof(reason));
	printf("PVTIME-STEPS-VERDICT %s %s %s\n", name, ok ? "ok" : "fail",
	       reason);
out:
	free(lat);
	free(resid);
	free(done);
	free(to_irq);
	free(in_guest);
	free(returned);
	return ok;
}

/*
 * The gaps between samples bound how late a latency may be read: the
 * host runner's figures are only as fine as these.
 */
static void report_gaps(const struct samples *all)
{
	int64_t *gap = malloc((all->n ? all->n : 1) * sizeof(*gap));
	size_t i, n = 0;

	if (!gap)
		return;
	for (i = 1; i < all->n; i++)
		gap[n++] = all->v[i].host_raw_ns - all->v[i - 1].host_raw_ns;
	if (n) {
		qsort(gap, n, sizeof(*gap), cmp_int64);
		printf("PVTIME-REPORT steps_sample_gap_p50_us %.1f\n",
		       percentile(gap, n, 50) / 1e3);
		printf("PVTIME-REPORT steps_sample_gap_p99_us %.1f\n",
		       percentile(gap, n, 99) / 1e3);
	}
	free(gap);
}

/* ", N attempts, left X ns" from a step's doorbell trace, or "". */
static const char *describe_doorbell(const struct doorbell *d, char *buf,
				     size_t len)
{
	if (!d)
		snprintf(buf, len, "%s", "");
	else if (d->measured)
		snprintf(buf, len, ", %u attempt(s) left it %+lld ns off",
			 d->attempts, (long long)d->residual_ns);
	else
		snprintf(buf, len, ", %u attempt(s), left unmeasured",
			 d->attempts);
	return buf;
}

/*
 * How the module's steps ended: the most attempts one took, how many it
 * left more than a microsecond off or unmeasured (its follow-up steps
 * are not traced), and how many have no timekeeper moment.
 */
static void report_doorbells(const struct applied_view *av)
{
	unsigned int most = 0;
	size_t i, unsettled = 0, moment_unknown = 0;

	if (!av || !av->doorbells->n)
		return;
	for (i = 0; i < av->doorbells->n; i++) {
		const struct doorbell *d = &av->doorbells->v[i];

		if (d->attempts > most)
			most = d->attempts;
		if (!d->measured || llabs(d->residual_ns) > 1000)
			unsettled++;
		if (!d->moved_tsc)
			moment_unknown++;
	}
	printf("PVTIME-REPORT steps_doorbell_attempts_max %u\n", most);
	printf("PVTIME-REPORT steps_doorbell_unsettled %zu\n", unsettled);
	/* Timed by do_settimeofday64()'s return instead. */
	printf("PVTIME-REPORT steps_doorbell_moment_unknown %zu\n",
	       moment_unknown);
}

static bool analyse(const struct samples *all, const struct step_log *log,
		    const struct steps_options *o, const struct applied_view *av)
{
	struct step_result *res = calloc(log->count ? log->count : 1,
					 sizeof(*res));
	int64_t baseline = 0;
	char what[96];
	bool ok = true;
	unsigned int k;

	if (!res) {
		fprintf(stderr, "pvtime-steps: out of memory\n");
		return false;
	}
	if (log->count &&
	    !median_offset(all, INT64_MIN, log->entry[0].before_raw_ns,
			   o->residual_rtt_us * NSEC_PER_USEC, &baseline))
		printf("# no sample under %lu us before the first step: baseline 0\n",
		       o->residual_rtt_us);
	printf("# %zu samples, offset before the first step %lld ns\n", all->n,
	       (long long)baseline);
	printf("PVTIME-REPORT steps_baseline_offset_ns %lld\n",
	       (long long)baseline);
	report_gaps(all);
	for (k = 0; k < log->count; k++) {
		const struct step_log_entry *e = &log->entry[k];

		res[k].step = e;	/* judged by no kind: never read as one */
		if (e->kind != STEP_KIND_PVXL && e->kind != STEP_KIND_HOST) {
			printf("# step %u has unknown kind %u\n", k, e->kind);
			ok = false;
			continue;
		}
		judge_step(all, log, k, o, av, k ? &res[k - 1] : NULL, &res[k]);
		if (res[k].not_ready)
			printf("# step %u %s expect %+lld ns: guest at %+lld ns before it, not where the last step put it\n",
			       k, kind_names[e->kind],
			       (long long)e->expect_offset_ns,
			       (long long)res[k].before_offset_ns);
		else if (res[k].landed && res[k].applied_known)
			printf("# step %u %s at raw %lld expect %+lld ns: irq %.1f us, applied %.1f us, seen %.1f us (%zu samples after the trace's moment without it), residual %s%lld ns%s\n",
			       k, kind_names[e->kind], (long long)e->before_raw_ns,
			       (long long)e->expect_offset_ns,
			       res[k].to_irq_ns / 1e3, res[k].applied_ns / 1e3,
			       res[k].latency_ns / 1e3, res[k].contradicted,
			       res[k].have_residual ? "" : "(none) ",
			       (long long)res[k].residual_ns,
			       describe_doorbell(res[k].doorbell, what,
						 sizeof(what)));
		else if (res[k].landed)
			printf("# step %u %s expect %+lld ns: seen %.1f us, residual %s%lld ns\n",
			       k, kind_names[e->kind],
			       (long long)e->expect_offset_ns,
			       res[k].latency_ns / 1e3,
			       res[k].have_residual ? "" : "(none) ",
			       (long long)res[k].residual_ns);
		else if (res[k].unobserved)
			printf("# step %u %s expect %+lld ns: unobserved (no sample with a round trip under %lu us before the next step)%s\n",
			       k, kind_names[e->kind],
			       (long long)e->expect_offset_ns, o->max_rtt_us,
			       describe_doorbell(res[k].doorbell, what,
						 sizeof(what)));
		else
			printf("# step %u %s expect %+lld ns: missed (%zu samples, none there)%s\n",
			       k, kind_names[e->kind],
			       (long long)e->expect_offset_ns, res[k].judged,
			       describe_doorbell(res[k].doorbell, what,
						 sizeof(what)));
	}
	report_doorbells(av);
	ok &= judge_kind(res, log->count, STEP_KIND_PVXL, o, av != NULL);
	ok &= judge_kind(res, log->count, STEP_KIND_HOST, o, av != NULL);
	free(res);
	return ok;
}

/* A map worse than this says nothing about sub-millisecond latencies. */
#define TSC_MAP_RESIDUAL_MAX_NS	(20 * 1000LL)

/*
 * The guest TSC onto host raw time: a line through the samples tight
 * enough for a residual.  0, or -errno (no memory, too few samples).
 */
static int fit_guest_tsc(const struct samples *all,
			 const struct steps_options *o, struct tsc_map *map)
{
	size_t slots = all->n ? all->n : 1, i, n = 0;
	int64_t *raw = malloc(slots * sizeof(*raw));
	uint64_t *tsc = malloc(slots * sizeof(*tsc));
	int ret = -ENOMEM;

	if (raw && tsc) {
		for (i = 0; i < all->n; i++) {
			if (!rtt_within(&all->v[i],
					(int64_t)o->residual_rtt_us * NSEC_PER_USEC))
				continue;
			raw[n] = all->v[i].host_raw_ns;
			tsc[n++] = all->v[i].guest_tsc;
		}
		ret = tsc_map_fit(map, tsc, raw, n);
	}
	free(raw);
	free(tsc);
	return ret;
}

/*
 * With --doorbells: the module's trace, and the guest TSC mapped onto host
 * time by the meter samples tight enough for a residual.  A trace that
 * cannot be read or mapped fails every kind (no step has a doorbell).
 */
static bool analyse_with_doorbells(const struct samples *all,
				   const struct step_log *log,
				   const struct steps_options *o)
{
	struct doorbells doorbells = { 0 };
	struct tsc_map map = { 0 };
	struct applied_view av = { &doorbells, &map };
	bool ok;

	if (!o->doorbells)
		return analyse(all, log, o, NULL);
	if (doorbells_read(o->doorbells, &doorbells))
		printf("# no doorbell trace: every step counts as not applied\n");
	else if (fit_guest_tsc(all, o, &map)) {
		printf("# the samples do not map the guest TSC onto host time: every step counts as not applied\n");
		doorbells_free(&doorbells);
	} else if (map.residual_p99_ns > TSC_MAP_RESIDUAL_MAX_NS) {
		/* A TSC that jumped or ran at another rate: no timeline. */
		printf("# the guest TSC maps onto host time with a residual p99 of %lld ns, over %lld: every step counts as not applied\n",
		       (long long)map.residual_p99_ns,
		       TSC_MAP_RESIDUAL_MAX_NS);
		doorbells_free(&doorbells);
	} else {
		printf("# guest TSC -> host raw: %.6f GHz over %zu samples, residual p99 %lld ns; %zu doorbells traced\n",
		       1 / map.ns_per_cycle, map.samples,
		       (long long)map.residual_p99_ns, doorbells.n);
		printf("PVTIME-REPORT steps_tsc_map_residual_p99_ns %lld\n",
		       (long long)map.residual_p99_ns);
	}
	ok = analyse(all, log, o, &av);
	doorbells_free(&doorbells);
	return ok;
}

int main(int argc, char **argv)
{
	struct steps_options o;
	struct samples all = { 0 };
	struct meter m = { 0 };
	struct step_log *copy;
	struct step_log *log;
	bool ok;
	int ret;

	ret = parse_options(argc, argv, &o);
	if (ret)
		return ret;
	if (o.pin) {
		cpu_set_t cpus;

		CPU_ZERO(&cpus);
		CPU_SET(o.cpu, &cpus);
		if (sched_setaffinity(0, sizeof(cpus), &cpus)) {
			fprintf(stderr, "pvtime-steps: cannot run on CPU %lu: %s\n",
				o.cpu, strerror(errno));
			return 1;
		}
	}
	ret = o.device ? meter_open_path(&m, o.device) : meter_open(&m);
	if (ret)
		return 1;
	if (m.size < STEP_LOG_OFFSET + sizeof(struct step_log)) {
		fprintf(stderr, "pvtime-steps: the meter page %s is %zu bytes; the step log needs pvtime-meter --size %u\n",
			m.where, m.size, STEP_LOG_METER_SIZE);
		meter_close(&m);
		return 1;
	}
	log = (struct step_log *)((char *)m.page + STEP_LOG_OFFSET);
	copy = malloc(sizeof(*copy));
	if (!copy) {
		meter_close(&m);
		return 1;
	}
	ret = wait_for_log(&m, log, &o, &all, copy);
	meter_close(&m);
	if (!ret && copy->magic != STEP_LOG_MAGIC) {
		fprintf(stderr, "pvtime-steps: the step log has magic %#x, expected %#x\n",
			copy->magic, STEP_LOG_MAGIC);
		ret = -EINVAL;
	}
	ok = !ret && analyse_with_doorbells(&all, copy, &o);
	free(all.v);
	free(copy);
	return ok ? 0 : 1;
}
