// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest_files.h"
#include "rate_probe.h"

int rate_sample_take(struct rate_sample *s)
{
	long long offset, rtt, records, raw, host_raw;
	unsigned int rounds;
	char line[512];
	int ret;

	ret = read_small_file(REALTIME_PROBE_PATH, line, sizeof(line));
	if (ret) {
		fprintf(stderr, "cannot read %s: %s\n", REALTIME_PROBE_PATH,
			strerror(-ret));
		return ret;
	}
	if (sscanf(line, "offset_ns %lld rtt_ns %lld rounds %u records_offset_ns %lld raw_offset_ns %lld host_raw_ns %lld",
		   &offset, &rtt, &rounds, &records, &raw, &host_raw) != 6) {
		fprintf(stderr, "unexpected realtime_probe output: %s\n", line);
		return -EPROTO;
	}
	s->host_raw_ns = host_raw;
	s->raw_offset_ns = raw;
	s->realtime_offset_ns = offset;
	s->rtt_ns = rtt;
	return 0;
}

int line_fit(const double *x, const double *y, size_t n, struct line_fit *fit)
{
	double mx = 0, my = 0, sxx = 0, sxy = 0, ssr = 0;
	size_t i;

	if (n < 3)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		mx += x[i];
		my += y[i];
	}
	mx /= n;
	my /= n;
	for (i = 0; i < n; i++) {
		sxx += (x[i] - mx) * (x[i] - mx);
		sxy += (x[i] - mx) * (y[i] - my);
	}
	if (sxx <= 0)
		return -EINVAL;
	fit->slope = sxy / sxx;
	fit->mean_y = my;
	for (i = 0; i < n; i++) {
		double r = y[i] - (my + fit->slope * (x[i] - mx));

		ssr += r * r;
	}
	fit->slope_err = sqrt(ssr / (n - 2) / sxx);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * A probe whose round trip was long (the host or the guest was busy in
 * between) brackets the host's answer loosely: its offset can be off by up
 * to half that round trip.  Keep the probes within RATE_SLOW_RTT_FACTOR of
 * the median round trip, compacting the arrays in place; returns how many
 * were kept.
 */
static size_t drop_slow_probes(double *x, double *yr, double *yw, double *rtt,
			       size_t n)
{
	double *sorted = malloc(n * sizeof(*sorted));
	double limit;
	size_t i, kept = 0;

	if (!sorted || !n) {
		free(sorted);
		return n;
	}
	memcpy(sorted, rtt, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	limit = sorted[n / 2] * RATE_SLOW_RTT_FACTOR;
	free(sorted);
	for (i = 0; i < n; i++) {
		if (rtt[i] > limit)
			continue;
		x[kept] = x[i];
		yr[kept] = yr[i];
		yw[kept] = yw[i];
		rtt[kept] = rtt[i];
		kept++;
	}
	return kept;
}

int rate_measure(double duration_s, unsigned int interval_ms,
		 struct rate_result *res)
{
	size_t cap = (size_t)(duration_s * 1000 / (interval_ms ? interval_ms : 1)) + 2;
	double *x = calloc(cap, sizeof(*x)), *yr = calloc(cap, sizeof(*yr));
	double *yw = calloc(cap, sizeof(*yw)), *rtt = calloc(cap, sizeof(*rtt));
	struct line_fit raw_fit, real_fit;
	struct rate_sample s;
	int64_t first = 0;
	size_t n, kept;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	if (!x || !yr || !yw || !rtt) {
		ret = -ENOMEM;
		goto out;
	}
	n = 0;
	while (n < cap) {
		if (rate_sample_take(&s)) {
			/* A busy host missed this probe: skip it, within reason. */
			res->failed_samples++;
			if (res->failed_samples > 2 &&
			    res->failed_samples * 100 > cap * RATE_MAX_FAILED_PERCENT) {
				ret = -ETIMEDOUT;
				goto out;
			}
			sleep_ms(interval_ms);
			continue;
		}
		if (!n)
			first = s.host_raw_ns;
		/* Seconds of host time; offsets in ns, so slope is ns/s = ppb. */
		x[n] = (double)(s.host_raw_ns - first) / 1e9;
		yr[n] = (double)s.raw_offset_ns;
		yw[n] = (double)s.realtime_offset_ns;
		rtt[n] = (double)s.rtt_ns;
		n++;
		if (x[n - 1] >= duration_s)
			break;
		sleep_ms(interval_ms);
	}
	kept = drop_slow_probes(x, yr, yw, rtt, n);
	res->slow_samples = n - kept;
	ret = line_fit(x, yr, kept, &raw_fit);
	if (!ret)
		ret = line_fit(x, yw, kept, &real_fit);
	if (ret) {
		fprintf(stderr, "rate: %zu samples are too few to fit\n", kept);
		goto out;
	}
	n = kept;
	res->samples = n;
	res->duration_s = x[n - 1];
	res->raw_ppm = raw_fit.slope / 1e3;
	res->raw_ppm_err = raw_fit.slope_err / 1e3;
	res->realtime_ppm = real_fit.slope / 1e3;
	res->realtime_ppm_err = real_fit.slope_err / 1e3;
	res->raw_offset_mean_ns = raw_fit.mean_y;
	res->realtime_offset_mean_ns = real_fit.mean_y;
	qsort(rtt, n, sizeof(*rtt), cmp_double);
	res->rtt_median_ns = rtt[n / 2];
out:
	free(x);
	free(yr);
	free(yw);
	free(rtt);
	return ret;
}
