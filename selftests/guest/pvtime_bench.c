// SPDX-License-Identifier: GPL-2.0
/*
 * pvtime-bench: the figures of one clocksource for `make bench`, measured
 * on whatever clocksource is current:
 *
 *   pvtime-bench [-r RUNS] [-n CALLS] [-b SECONDS] [-d SECONDS] [-i MS]
 *                [-c NAME]
 *
 * prints one line
 *
 *   PVTIME-BENCH <clocksource> mono_ns=<x> real_ns=<x> backward=<n>
 *       samples=<n> rate_ppm=<x> rate_err=<x> realtime_ppm=<x>
 *
 * mono_ns/real_ns: median over RUNS (default 11) of the mean cost of CALLS
 * (default 200000) clock_gettime(CLOCK_MONOTONIC / CLOCK_REALTIME) calls;
 * backward: readings below an earlier one seen by one pinned thread per
 * CPU over -b SECONDS (default 3); rate_ppm: CLOCK_MONOTONIC_RAW against
 * the host's over -d SECONDS (default 20, 0 = skip), from realtime_probe
 * every -i MS (default 500).  With -c NAME only the cost is measured, and
 * the line is
 *
 *   PVTIME-BENCH NAME clocksource=<clocksource> mono_ns=<x> real_ns=<x>
 *
 * (NAME: letters, digits and '-', up to 40): the bench alternates two
 * clocksources that way to compare them in the same stretch of host time.
 * Exit 0, 1 on failure, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guest_files.h"
#include "prog_common.h"
#include "monotonic_check.h"
#include "rate_probe.h"

#define MAX_RUNS	101
#define MAX_NAME	40

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Mean ns per clock_gettime(clock) over calls calls. */
static double cost_one_run(clockid_t clock, unsigned long calls)
{
	int64_t start = clock_ns(CLOCK_MONOTONIC);
	struct timespec ts;
	unsigned long i;

	for (i = 0; i < calls; i++)
		clock_gettime(clock, &ts);
	return (double)(clock_ns(CLOCK_MONOTONIC) - start) / calls;
}

/*
 * Median over runs of the mean cost, for both clocks.  The runs of the two
 * clocks alternate, after one discarded warm-up run each (under TCG the
 * first pass also pays for translating the code), so a burst of host load
 * lands on both clocks alike instead of on whichever ran first.
 */
static void cost_ns(unsigned long runs, unsigned long calls,
		    double *mono_ns, double *real_ns)
{
	double mono[MAX_RUNS], real[MAX_RUNS];
	unsigned long run;

	cost_one_run(CLOCK_MONOTONIC, calls);
	cost_one_run(CLOCK_REALTIME, calls);
	for (run = 0; run < runs; run++) {
		mono[run] = cost_one_run(CLOCK_MONOTONIC, calls);
		real[run] = cost_one_run(CLOCK_REALTIME, calls);
	}
	qsort(mono, runs, sizeof(mono[0]), cmp_double);
	qsort(real, runs, sizeof(real[0]), cmp_double);
	*mono_ns = mono[runs / 2];
	*real_ns = real[runs / 2];
}

/* A -c NAME the bench's parser takes as one word. */
static int parse_name(const char *s, const char **out)
{
	size_t i, len = strlen(s);

	if (!len || len > MAX_NAME)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!(s[i] == '-' || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return -EINVAL;
	*out = s;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long runs = 11, calls = 200000, back_s = 3, rate_s = 20;
	unsigned long interval = 500;
	struct monotonic_result mono;
	struct monotonic_check mc;
	struct rate_result rate = { 0 };
	const char *cost_name = NULL;
	char cs[64], line[512];
	double mono_ns, real_ns;
	int opt, ret, rate_ret, len;

	while ((opt = getopt(argc, argv, "r:n:b:d:i:c:")) != -1) {
		switch (opt) {
		case 'r':
			ret = parse_ulong_option("-r", optarg, 1, MAX_RUNS, &runs);
			break;
		case 'n':
			ret = parse_ulong_option("-n", optarg, 1, 100000000, &calls);
			break;
		case 'b':
			ret = parse_ulong_option("-b", optarg, 1, 3600, &back_s);
			break;
		case 'd':
			ret = parse_ulong_option("-d", optarg, 0, 86400, &rate_s);
			break;
		case 'i':
			ret = parse_ulong_option("-i", optarg, 10, 60000, &interval);
			break;
		case 'c':
			ret = parse_name(optarg, &cost_name);
			if (ret)
				fprintf(stderr, "pvtime-bench: -c '%s': want 1..%d letters, digits or '-'\n",
					optarg, MAX_NAME);
			break;
		default:
			ret = -EINVAL;
		}
		if (ret) {
			fprintf(stderr, "usage: pvtime-bench [-r RUNS] [-n CALLS] [-b SECONDS] [-d SECONDS] [-i MS] [-c NAME]\n");
			return 2;
		}
	}
	if (reject_operands(argc, argv))
		return 2;
	ret = read_small_file(CURRENT_CLOCKSOURCE, cs, sizeof(cs));
	if (ret) {
		fprintf(stderr, "pvtime-bench: cannot read %s: %s\n",
			CURRENT_CLOCKSOURCE, strerror(-ret));
		return 1;
	}

	cost_ns(runs, calls, &mono_ns, &real_ns);
	if (cost_name) {
		printf("PVTIME-BENCH %s clocksource=%s mono_ns=%.1f real_ns=%.1f\n",
		       cost_name, cs, mono_ns, real_ns);
		return 0;
	}
	if (monotonic_check_start(&mc))
		return 1;
	sleep((unsigned int)back_s);
	monotonic_check_stop(&mc, &mono);
	rate_ret = rate_s ? rate_measure((double)rate_s, (unsigned int)interval,
					 &rate) : 0;

	/* One write per line: kernel messages share the console. */
	len = snprintf(line, sizeof(line),
		       "PVTIME-BENCH %s mono_ns=%.1f real_ns=%.1f backward=%llu samples=%llu",
		       cs, mono_ns, real_ns, (unsigned long long)mono.backsteps,
		       (unsigned long long)mono.samples);
	if (rate_s && rate_ret)
		len += snprintf(line + len, sizeof(line) - len,
				" rate_failed=1 rate_failed_samples=%zu",
				rate.failed_samples);
	else if (rate_s)
		len += snprintf(line + len, sizeof(line) - len,
				" rate_ppm=%.4f rate_err=%.4f realtime_ppm=%.4f rate_s=%.1f rate_failed_samples=%zu rate_slow_samples=%zu",
				rate.raw_ppm, rate.raw_ppm_err,
				rate.realtime_ppm, rate.duration_s,
				rate.failed_samples, rate.slow_samples);
	printf("%s\n", line);
	return rate_ret ? 1 : 0;
}
