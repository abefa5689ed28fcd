// SPDX-License-Identifier: GPL-2.0
/*
 * pvtime-meter-probe: the guest's CLOCK_REALTIME against the host's, read
 * through the test time meter (meter_probe.h), never through pvtimed.
 *
 *   pvtime-meter-probe [--duration S] [--interval-ms N] [--window-s S]
 *       [--exchanges N] [--max-rtt-us N] [--json] [--compare-mailbox]
 *       [--device PATH] [--tap NAME --max-abs-us X]
 *
 * Samples every --interval-ms for --duration seconds.  A sample whose best
 * round trip is over --max-rtt-us is "slow" and left out of the offset
 * statistics (its error bound, rtt/2, is too wide to judge by).  Backward
 * steps of CLOCK_REALTIME and CLOCK_MONOTONIC are counted over every
 * reading the probe takes.  Prints one line per --window-s window and a
 * summary (text, or JSON lines with --json).
 *
 * --compare-mailbox also reads pvtime's realtime_probe (the hyp's time
 * through the mailbox) after every sample and prints both distributions
 * and their difference: the meter checked against the usual reference.
 * Mailbox probes over --max-rtt-us are left out the same way.
 *
 * --proof-rtt-us N: a slow sample whose round trip is at most N is
 * "wide": it is still judged, by the error it proves, |offset| - rtt/2 (the
 * host's reading fell somewhere inside the round trip).  On a host too
 * busy for tight round trips the probe still catches an error that large,
 * rather than judging nothing.
 *
 * --tap NAME: ends with "ok 1 - NAME" or "not ok 1 - NAME" and exits 0 or
 * 1: ok when at least half of the samples (and 3) are usable or wide,
 * every usable |offset| and every wide sample's proven error is within
 * --max-abs-us, and no clock stepped back.
 * Also prints the figures as PVTIME-REPORT lines for the host runner.
 * Exit 2 on usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meter_probe.h"
#include "prog_common.h"
#include "rate_probe.h"

struct probe_options {
	double duration_s;
	unsigned long interval_ms;
	double window_s;
	unsigned long exchanges;
	unsigned long max_rtt_us;
	unsigned long proof_rtt_us;	/* 0: slow samples are not judged */
	bool json;
	bool compare_mailbox;
	const char *device;
	const char *tap_name;
	double max_abs_us;
};

/* A growing list of values, for percentiles. */
struct series {
	int64_t *v;
	size_t n, cap;
};

struct probe_stats {
	unsigned long samples;		/* attempted */
	unsigned long slow;		/* answered, rtt over the limit */
	unsigned long wide;		/* slow, judged by proven error */
	int64_t proven_max_ns;		/* of wide samples: |offset| - rtt/2 */
	unsigned long failed;		/* no answer */
	struct series offset;		/* usable samples: guest - host */
	struct series rtt;		/* usable samples */
	struct series rtt_all;		/* every answered sample, slow too */
	struct series mailbox;		/* guest - hyp, through the mailbox */
	struct series mailbox_rtt;
	struct series meter_minus_mailbox;	/* both usable */
	unsigned long mailbox_failed;
	unsigned long mailbox_slow;	/* same rtt limit as the meter's */
	unsigned long long realtime_backsteps;
	unsigned long long monotonic_backsteps;
};

static int series_add(struct series *s, int64_t value)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		int64_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = value;
	return 0;
}

static void series_free(struct series *s)
{
	free(s->v);
	*s = (struct series){ NULL, 0, 0 };
}

struct distribution {
	size_t n;
	int64_t max_abs, p50_abs, p99_abs;
	double mean;
	int64_t min, max;
};

/* Percentiles of |v| (nearest rank) and the signed mean, min, max. */
static struct distribution distribution_of(const struct series *s)
{
	struct distribution d = { .n = s->n };
	int64_t *abs_v;
	size_t i;

	if (!s->n)
		return d;
	abs_v = malloc(s->n * sizeof(*abs_v));
	if (!abs_v) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	d.min = d.max = s->v[0];
	for (i = 0; i < s->n; i++) {
		abs_v[i] = s->v[i] < 0 ? -s->v[i] : s->v[i];
		d.mean += (double)s->v[i];
		if (s->v[i] < d.min)
			d.min = s->v[i];
		if (s->v[i] > d.max)
			d.max = s->v[i];
	}
	d.mean /= s->n;
	qsort(abs_v, s->n, sizeof(*abs_v), cmp_int64);
	d.p50_abs = abs_v[(s->n - 1) / 2];
	d.p99_abs = abs_v[(s->n - 1) * 99 / 100];
	d.max_abs = abs_v[s->n - 1];
	free(abs_v);
	return d;
}

static void stats_free(struct probe_stats *st)
{
	series_free(&st->offset);
	series_free(&st->rtt);
	series_free(&st->rtt_all);
	series_free(&st->mailbox);
	series_free(&st->mailbox_rtt);
	series_free(&st->meter_minus_mailbox);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pvtime-meter-probe [--duration S] [--interval-ms N] [--window-s S]\n"
		"           [--exchanges N] [--max-rtt-us N] [--proof-rtt-us N]\n"
		"           [--json] [--compare-mailbox]\n"
		"           [--device PATH] [--tap NAME --max-abs-us X]\n"
		"  --duration S       seconds to sample, 0.1..86400 (default 10)\n"
		"  --interval-ms N    between samples, 1..60000 (default 100)\n"
		"  --window-s S       statistics per window, 0.1..86400 (default 5)\n"
		"  --exchanges N      per sample, best kept, 1..1000 (default %d)\n"
		"  --max-rtt-us N     slower samples are not judged, 1..1000000\n"
		"                     (default 50)\n"
		"  --proof-rtt-us N   judge slow samples up to N by |offset| - rtt/2\n"
		"                     (default 0: not judged)\n"
		"  --json             JSON lines instead of text\n"
		"  --compare-mailbox  also read pvtime's realtime_probe each sample\n"
		"  --device PATH      meter page to map (default: find the PCI device)\n"
		"  --tap NAME         end with one TAP line; needs --max-abs-us\n"
		"  --max-abs-us X     largest |offset| that passes --tap\n",
		METER_SAMPLE_EXCHANGES);
}

static int parse_options(int argc, char **argv, struct probe_options *o)
{
	static const struct option longopts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "window-s", required_argument, NULL, 'w' },
		{ "exchanges", required_argument, NULL, 'x' },
		{ "max-rtt-us", required_argument, NULL, 'r' },
		{ "proof-rtt-us", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "compare-mailbox", no_argument, NULL, 'm' },
		{ "device", required_argument, NULL, 'D' },
		{ "tap", required_argument, NULL, 't' },
		{ "max-abs-us", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct probe_options){
		.duration_s = 10, .interval_ms = 100, .window_s = 5,
		.exchanges = METER_SAMPLE_EXCHANGES, .max_rtt_us = 50,
		.max_abs_us = -1,
	};
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (!parse_double(optarg, 0.1, 86400, &o->duration_s))
				return bad_option("--duration", optarg, "0.1..86400");
			break;
		case 'i':
			if (!parse_ulong(optarg, 1, 60000, &o->interval_ms))
				return bad_option("--interval-ms", optarg, "1..60000");
			break;
		case 'w':
			if (!parse_double(optarg, 0.1, 86400, &o->window_s))
				return bad_option("--window-s", optarg, "0.1..86400");
			break;
		case 'x':
			if (!parse_ulong(optarg, 1, 1000, &o->exchanges))
				return bad_option("--exchanges", optarg, "1..1000");
			break;
		case 'r':
			if (!parse_ulong(optarg, 1, 1000000, &o->max_rtt_us))
				return bad_option("--max-rtt-us", optarg, "1..1000000");
			break;
		case 'p':
			if (!parse_ulong(optarg, 1, 1000000, &o->proof_rtt_us))
				return bad_option("--proof-rtt-us", optarg, "1..1000000");
			break;
		case 'j':
			o->json = true;
			break;
		case 'm':
			o->compare_mailbox = true;
			break;
		case 'D':
			o->device = optarg;
			break;
		case 't':
			o->tap_name = optarg;
			break;
		case 'a':
			if (!parse_double(optarg, 0, 1e9, &o->max_abs_us))
				return bad_option("--max-abs-us", optarg, "0..1e9");
			break;
		default:
			return help_or_usage_error(c, usage);
		}
	}
	if (reject_operands(argc, argv))
		return 2;
	if (o->proof_rtt_us && o->proof_rtt_us <= o->max_rtt_us) {
		fprintf(stderr, "pvtime-meter-probe: --proof-rtt-us must be over --max-rtt-us\n");
		return 2;
	}
	if (!o->tap_name != (o->max_abs_us < 0)) {
		fprintf(stderr, "pvtime-meter-probe: --tap and --max-abs-us go together\n");
		return 2;
	}
	return 0;
}

static void sleep_until(int64_t monotonic_ns)
{
	struct timespec ts = { monotonic_ns / NSEC_PER_SEC,
			       monotonic_ns % NSEC_PER_SEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void print_distribution(const char *label, const struct distribution *d,
			       bool json, bool last)
{
	if (json)
		printf("\"%s\": {\"n\": %zu, \"max_abs_ns\": %lld, \"p50_abs_ns\": %lld, \"p99_abs_ns\": %lld, \"mean_ns\": %.0f, \"min_ns\": %lld, \"max_ns\": %lld}%s",
		       label, d->n, (long long)d->max_abs, (long long)d->p50_abs,
		       (long long)d->p99_abs, d->mean, (long long)d->min,
		       (long long)d->max, last ? "" : ", ");
	else
		printf("  %-20s n %zu |max| %.1f p50 %.1f p99 %.1f us, mean %+.1f us\n",
		       label, d->n, d->max_abs / 1e3, d->p50_abs / 1e3,
		       d->p99_abs / 1e3, d->mean / 1e3);
}

/* One window's or the whole run's statistics. */
static void print_stats(const char *what, unsigned int index, double t_s,
			const struct probe_stats *st, bool json)
{
	struct distribution off = distribution_of(&st->offset);
	struct distribution rtt = distribution_of(&st->rtt);
	struct distribution rtt_all = distribution_of(&st->rtt_all);

	if (json) {
		printf("{\"%s\": %u, \"t_s\": %.3f, \"samples\": %lu, \"slow\": %lu, \"wide\": %lu, \"wide_proven_max_ns\": %lld, \"failed\": %lu, \"realtime_backsteps\": %llu, \"monotonic_backsteps\": %llu, ",
		       what, index, t_s, st->samples, st->slow, st->wide,
		       (long long)st->proven_max_ns, st->failed,
		       st->realtime_backsteps, st->monotonic_backsteps);
	} else {
		printf("%s %u at %.1f s: %lu samples, %lu slow (%lu wide, proving %.1f us), %lu failed, backward steps realtime %llu monotonic %llu\n",
		       what, index, t_s, st->samples, st->slow, st->wide,
		       st->proven_max_ns / 1e3, st->failed,
		       st->realtime_backsteps, st->monotonic_backsteps);
	}
	print_distribution("offset", &off, json, false);
	print_distribution("rtt", &rtt, json, false);
	print_distribution("rtt_all", &rtt_all, json, !st->mailbox.n &&
			   !st->mailbox_failed && !st->mailbox_slow);
	if (st->mailbox.n || st->mailbox_failed || st->mailbox_slow) {
		struct distribution mb = distribution_of(&st->mailbox);
		struct distribution mbr = distribution_of(&st->mailbox_rtt);
		struct distribution diff = distribution_of(&st->meter_minus_mailbox);

		if (json)
			printf("\"mailbox_failed\": %lu, \"mailbox_slow\": %lu, ",
			       st->mailbox_failed, st->mailbox_slow);
		else
			printf("  mailbox              %lu failed, %lu slow\n",
			       st->mailbox_failed, st->mailbox_slow);
		print_distribution("mailbox_offset", &mb, json, false);
		print_distribution("mailbox_rtt", &mbr, json, false);
		print_distribution("meter_minus_mailbox", &diff, json, true);
	}
	if (json)
		printf("}\n");
	fflush(stdout);
}

static void stats_reset(struct probe_stats *st)
{
	stats_free(st);
	memset(st, 0, sizeof(*st));
}

/* What a slow sample proves about the error: at least this much. */
static int64_t proven_error_ns(const struct meter_sample *s)
{
	int64_t off = s->offset_ns < 0 ? -s->offset_ns : s->offset_ns;

	return off > s->rtt_ns / 2 ? off - s->rtt_ns / 2 : 0;
}

static int record(struct probe_stats *st, const struct meter_sample *s,
		  const struct rate_sample *mb, bool have_mb,
		  const struct probe_options *o)
{
	int ret = series_add(&st->rtt_all, s->rtt_ns);

	if (s->rtt_ns > (int64_t)o->max_rtt_us * 1000) {
		st->slow++;
		if (s->rtt_ns <= (int64_t)o->proof_rtt_us * 1000) {
			st->wide++;
			if (proven_error_ns(s) > st->proven_max_ns)
				st->proven_max_ns = proven_error_ns(s);
		}
		return ret;
	}
	ret |= series_add(&st->offset, s->offset_ns);
	ret |= series_add(&st->rtt, s->rtt_ns);
	if (have_mb)
		ret |= series_add(&st->meter_minus_mailbox,
				  s->offset_ns - mb->realtime_offset_ns);
	return ret;
}

static int record_mailbox(struct probe_stats *st, const struct rate_sample *mb)
{
	return series_add(&st->mailbox, mb->realtime_offset_ns) |
	       series_add(&st->mailbox_rtt, mb->rtt_ns);
}

static void report_figures(const struct probe_stats *st)
{
	struct distribution off = distribution_of(&st->offset);
	struct distribution rtt = distribution_of(&st->rtt);

	printf("PVTIME-REPORT meter_offset_abs_max_ns %lld\n", (long long)off.max_abs);
	printf("PVTIME-REPORT meter_offset_abs_p99_ns %lld\n", (long long)off.p99_abs);
	printf("PVTIME-REPORT meter_offset_mean_ns %.0f\n", off.mean);
	printf("PVTIME-REPORT meter_rtt_p50_ns %lld\n", (long long)rtt.p50_abs);
	printf("PVTIME-REPORT meter_rtt_max_ns %lld\n", (long long)rtt.max_abs);
	printf("PVTIME-REPORT meter_slow_samples %lu\n", st->slow);
	printf("PVTIME-REPORT meter_wide_samples %lu\n", st->wide);
	printf("PVTIME-REPORT meter_wide_proven_max_ns %lld\n",
	       (long long)st->proven_max_ns);
	if (st->mailbox.n) {
		struct distribution mb = distribution_of(&st->mailbox);
		struct distribution diff = distribution_of(&st->meter_minus_mailbox);

		printf("PVTIME-REPORT mailbox_offset_abs_p99_ns %lld\n",
		       (long long)mb.p99_abs);
		printf("PVTIME-REPORT mailbox_offset_mean_ns %.0f\n", mb.mean);
		printf("PVTIME-REPORT meter_minus_mailbox_mean_ns %.0f\n", diff.mean);
		printf("PVTIME-REPORT meter_minus_mailbox_abs_p99_ns %lld\n",
		       (long long)diff.p99_abs);
		printf("PVTIME-REPORT mailbox_slow_samples %lu\n", st->mailbox_slow);
	}
}

/* The --tap verdict; the reasons it fails go to stdout as comments. */
static bool verdict(const struct probe_stats *st, const struct probe_options *o)
{
	struct distribution off = distribution_of(&st->offset);
	bool ok = true;

	if (off.n + st->wide < 3 || (off.n + st->wide) * 2 < st->samples) {
		printf("# only %zu of %lu samples usable and %lu wide (%lu slow over %lu us, %lu failed)\n",
		       off.n, st->samples, st->wide, st->slow, o->max_rtt_us,
		       st->failed);
		ok = false;
	}
	if (st->proven_max_ns > o->max_abs_us * 1e3) {
		printf("# a wide sample proves an error of %.1f us, limit %.1f us\n",
		       st->proven_max_ns / 1e3, o->max_abs_us);
		ok = false;
	}
	if (off.n && off.max_abs > o->max_abs_us * 1e3) {
		printf("# |offset| up to %.1f us, limit %.1f us\n",
		       off.max_abs / 1e3, o->max_abs_us);
		ok = false;
	}
	if (st->realtime_backsteps || st->monotonic_backsteps) {
		printf("# backward steps: realtime %llu, monotonic %llu\n",
		       st->realtime_backsteps, st->monotonic_backsteps);
		ok = false;
	}
	return ok;
}

int main(int argc, char **argv)
{
	struct probe_stats window = { 0 }, total = { 0 };
	int64_t start, next, window_end, last_mono = 0;
	struct probe_options o;
	struct meter m = { 0 };
	unsigned int window_index = 1;
	unsigned long long backsteps_seen = 0;
	bool ok;
	int ret;

	ret = parse_options(argc, argv, &o);
	if (ret)
		return ret;
	ret = o.device ? meter_open_path(&m, o.device) : meter_open(&m);
	if (ret) {
		if (o.tap_name)
			printf("not ok 1 - %s (no meter: %s)\n", o.tap_name,
			       strerror(-ret));
		return 1;
	}
	if (!o.json)
		printf("meter at %s: sampling every %lu ms for %.1f s, best of %lu exchanges, max rtt %lu us\n",
		       m.where, o.interval_ms, o.duration_s, o.exchanges,
		       o.max_rtt_us);
	start = next = clock_ns(CLOCK_MONOTONIC);
	window_end = start + (int64_t)(o.window_s * NSEC_PER_SEC);
	for (;;) {
		struct meter_sample s;
		struct rate_sample mb;
		bool have_mb = false;
		int64_t mono = clock_ns(CLOCK_MONOTONIC);

		if (last_mono && mono < last_mono) {
			window.monotonic_backsteps++;
			total.monotonic_backsteps++;
		}
		last_mono = mono;
		if (mono >= window_end || mono - start >= o.duration_s * NSEC_PER_SEC) {
			print_stats("window", window_index++,
				    (mono - start) / 1e9, &window, o.json);
			stats_reset(&window);
			window_end += (int64_t)(o.window_s * NSEC_PER_SEC);
		}
		if (mono - start >= o.duration_s * NSEC_PER_SEC)
			break;

		window.samples++;
		total.samples++;
		ret = meter_sample(&m, o.exchanges, &s);
		if (m.realtime_backsteps != backsteps_seen) {
			window.realtime_backsteps += m.realtime_backsteps - backsteps_seen;
			total.realtime_backsteps += m.realtime_backsteps - backsteps_seen;
			backsteps_seen = m.realtime_backsteps;
		}
		if (ret) {
			window.failed++;
			total.failed++;
		} else {
			if (o.compare_mailbox) {
				ret = rate_sample_take(&mb);
				if (ret) {
					window.mailbox_failed++;
					total.mailbox_failed++;
				} else if (mb.rtt_ns > (int64_t)o.max_rtt_us * 1000) {
					window.mailbox_slow++;
					total.mailbox_slow++;
				} else {
					have_mb = true;
				}
				ret = have_mb ? record_mailbox(&window, &mb) |
						record_mailbox(&total, &mb) : 0;
			}
			ret |= record(&window, &s, &mb, have_mb, &o) |
			       record(&total, &s, &mb, have_mb, &o);
			if (ret) {
				fprintf(stderr, "out of memory\n");
				return 1;
			}
		}
		next += (int64_t)o.interval_ms * 1000000;
		sleep_until(next);
	}
	print_stats("summary", 0, (clock_ns(CLOCK_MONOTONIC) - start) / 1e9,
		    &total, o.json);
	meter_close(&m);
	if (!o.tap_name) {
		ok = true;
	} else {
		report_figures(&total);
		ok = verdict(&total, &o);
		printf("%s 1 - %s\n", ok ? "ok" : "not ok", o.tap_name);
	}
	stats_free(&window);
	stats_free(&total);
	return ok ? 0 : 1;
}
