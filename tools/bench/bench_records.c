// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bench-records: what a record update costs pvtimed.  Prints, as
 * "name value" lines (medians of repeated runs):
 *
 *   record_write_ns           one pvtime_time_write (version protocol)
 *   records_update_ns         rewrite every record of a 2-vCPU domain
 *   records_update_32vcpu_ns  the same for 32 vCPUs
 *   reanchor_ns               full re-anchor of a 2-vCPU domain (lock,
 *                             anchor search, 128-bit math, rewrite)
 *   rate_change_ns            a rate change through the re-anchor routine
 *   reanchor_bias_ns          mean rounding bias one re-anchor adds
 *
 *   bench-records [--runs N] [--iterations N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pvclock_math.h"
#include "core/log.h"
#include "clock/records.h"
#include "core/timebase.h"

#define RUNS_DEFAULT		15
#define ITERATIONS_DEFAULT	20000

static unsigned int runs = RUNS_DEFAULT;
static unsigned int iterations = ITERATIONS_DEFAULT;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

typedef void (*bench_fn)(void *arg);

/* Median over runs of the mean ns per call within a run. */
static double measure(bench_fn fn, void *arg)
{
	double *per_call = calloc(runs, sizeof(*per_call));
	double median;
	unsigned int r, i;

	if (!per_call) {
		fprintf(stderr, "bench-records: out of memory\n");
		exit(1);
	}
	for (i = 0; i < iterations / 10; i++)	/* warm up */
		fn(arg);
	for (r = 0; r < runs; r++) {
		double start = now_ns();

		for (i = 0; i < iterations; i++)
			fn(arg);
		per_call[r] = (now_ns() - start) / iterations;
	}
	qsort(per_call, runs, sizeof(*per_call), compare_double);
	median = per_call[runs / 2];
	free(per_call);
	return median;
}

struct domain_fixture {
	struct pvtime_shm shm;
	struct domain_clock clk;
	pvtime_time_info_t rec;
	uint32_t nr_vcpus;
	int32_t ppm;
};

static int fixture_init(struct domain_fixture *f, uint32_t nr_vcpus,
			uint64_t hz)
{
	struct pvtime_shm_identity id = {
		.abi_version = PVTIME_ABI_VERSION, .domid = 1,
		.nr_vcpus = nr_vcpus, .tsc_hz = hz,
	};
	bool ring;
	uint32_t cpu;
	int ret;

	memset(f, 0, sizeof(*f));
	f->nr_vcpus = nr_vcpus;
	ret = pvtime_shm_create(&f->shm, "bench", &id);
	if (ret)
		return ret;
	ret = domain_clock_init(&f->clk, "bench", hz, nr_vcpus, TSC_STABLE_AUTO);
	if (ret)
		return ret;
	for (cpu = 0; cpu < nr_vcpus; cpu++)
		records_submit_offset(&f->clk, &f->shm, cpu, 0, 100, 0, &ring);
	return pvtime_time_snapshot(pvtime_vcpu_time(f->shm.si, 0), 16, &f->rec);
}

static void write_one(void *arg)
{
	struct domain_fixture *f = arg;

	f->rec.system_time++;
	pvtime_time_write(pvtime_vcpu_time(f->shm.si, 0), &f->rec);
}

static void write_all(void *arg)
{
	struct domain_fixture *f = arg;
	uint32_t cpu;

	f->rec.system_time++;
	for (cpu = 0; cpu < f->nr_vcpus; cpu++)
		pvtime_time_write(pvtime_vcpu_time(f->shm.si, cpu), &f->rec);
}

static void reanchor(void *arg)
{
	struct domain_fixture *f = arg;

	records_reanchor(&f->clk, &f->shm);
}

static void rate_change(void *arg)
{
	struct domain_fixture *f = arg;
	bool ring;

	/* Alternate so that every call really changes the rate. */
	f->ppm = f->ppm == 1 ? -1 : 1;
	records_set_rate(&f->clk, &f->shm, f->clk.tsc_hz, f->ppm, &ring);
}

static unsigned int parse_count(const char *opt, const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v == 0 || v > 100000000) {
		fprintf(stderr, "bench-records: bad %s '%s' (expected 1..100000000)\n",
			opt, s);
		exit(2);
	}
	return (unsigned int)v;
}

int main(int argc, char **argv)
{
	struct domain_fixture two, many;
	struct timebase tb;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			runs = parse_count("--runs", argv[++i]);
		} else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) {
			iterations = parse_count("--iterations", argv[++i]);
		} else {
			fprintf(stderr, "usage: bench-records [--runs N] [--iterations N]\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	log_setup(false, LOG_LEVEL_WARN);
	if (timebase_calibrate(&tb, 200))
		return 1;
	timebase_set(&tb);
	if (fixture_init(&two, 2, tb.tsc_hz) || fixture_init(&many, 32, tb.tsc_hz)) {
		fprintf(stderr, "bench-records: cannot set up a domain's shared memory\n");
		return 1;
	}
	printf("# bench-records: TSC %llu Hz, median of %u runs x %u calls\n",
	       (unsigned long long)tb.tsc_hz, runs, iterations);
	printf("record_write_ns %.1f\n", measure(write_one, &two));
	printf("records_update_ns %.1f\n", measure(write_all, &two));
	printf("records_update_32vcpu_ns %.1f\n", measure(write_all, &many));
	printf("reanchor_ns %.1f\n", measure(reanchor, &two));
	printf("rate_change_ns %.1f\n", measure(rate_change, &two));
	printf("reanchor_bias_ns %.4f\n", (double)two.clk.rounding_bias_sum /
	       4294967296.0 / (double)two.clk.reanchors);
	domain_clock_fini(&two.clk);
	domain_clock_fini(&many.clk);
	pvtime_shm_destroy(&two.shm);
	pvtime_shm_destroy(&many.shm);
	return 0;
}
