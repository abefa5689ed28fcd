// SPDX-License-Identifier: GPL-2.0
/*
 * pvtime-tcg-bench: what QEMU's TCG thread mode (domain config key
 * tcg_thread) costs and what it buys, seen from inside the guest:
 *
 *   pvtime-tcg-bench [-w SECONDS] [-d SECONDS]
 *
 * prints (each line in one write)
 *
 *   PVTIME-BENCH tcg-throughput threads=<n> seconds=<x> iter_per_s=<x>
 *   PVTIME-BENCH tcg-load-rate clocksource=<cs> threads=<n> reads_per_s=<x>
 *       rate_ppm=<x> rate_err=<x> rate_s=<x> offset_gain_ns=<n>
 *       rtt_before_ns=<n> rtt_after_ns=<n>
 *
 * tcg-throughput: one thread pinned to each vCPU runs a tight integer loop
 * (a 64-bit LCG) for -w SECONDS (default 10, 0 = skip); iter_per_s is
 * the sum over the threads.  Single-threaded TCG runs every vCPU on one
 * host thread, so it is expected to get about 1/vCPUs of multi's figure
 * on an otherwise idle host.
 *
 * tcg-load-rate: one thread pinned to each vCPU spins on
 * clock_gettime(CLOCK_MONOTONIC) and rdtsc for -d SECONDS (default 20,
 * 0 = skip).  The guest's CLOCK_MONOTONIC_RAW offset from the host's is
 * taken through realtime_probe just before and just after (the best
 * round trip of PROBES_PER_END probes each), with the vCPUs otherwise
 * idle; rate_ppm is the offset gained over the span, per host time, and
 * rate_err the bound the two round trips put on it.  Probing during the
 * load instead is hopeless under single-threaded TCG: the probing vCPU
 * waits for its turn behind the spinning ones, so every round trip is
 * long and uneven.  QEMU's ratchet (its shared cpu_ticks_prev) only ever
 * adds to the guest TSC offset, so a gain during the load is still there
 * afterwards.  Run it with the pvtime clocksource current: its
 * MONOTONIC_RAW is the guest TSC scaled by the host's TSC rate, so
 * rate_ppm is the guest TSC's rate against the host's.  If the line names
 * another clocksource, rate_ppm is that clocksource's rate instead.
 *
 * Exit 0, 1 on failure, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "guest_files.h"
#include "prog_common.h"
#include "cpu_load.h"
#include "rate_probe.h"

/* Iterations between looks at the stop flag: keeps the loop tight. */
#define WORK_CHUNK		4096
/* realtime_probe reads at each end of the load; the fastest one counts. */
#define PROBES_PER_END		20
#define PROBE_GAP_MS		20

static void *integer_work(void *arg)
{
	struct load_thread *t = arg;
	uint64_t x = (uint64_t)t->cpu + 1;
	unsigned int i;

	while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
		for (i = 0; i < WORK_CHUNK; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		t->iterations += WORK_CHUNK;
	}
	t->sink = x;
	return NULL;
}

/* The clock-reading load, below every other thread: the main thread's
 * timer must not wait. */
static void *clock_spin(void *arg)
{
	struct sched_param idle = { 0 };

	if (sched_setscheduler(0, SCHED_IDLE, &idle))
		perror("pvtime-tcg-bench: SCHED_IDLE (spinning at normal priority)");
	return load_clock_spin(arg);
}

static void print_line(const char *line)
{
	/* One write per line: kernel messages share the console. */
	printf("%s\n", line);
	fflush(stdout);
}

static int run_throughput(unsigned long seconds)
{
	struct load_thread threads[LOAD_MAX_THREADS];
	atomic_bool stop;
	int64_t start, elapsed;
	uint64_t total;
	char line[256];
	int n;

	n = load_threads_start(threads, &stop, integer_work);
	if (n <= 0) {
		snprintf(line, sizeof(line),
			 "PVTIME-BENCH tcg-throughput reason=\"cannot start threads: %s\"",
			 strerror(n ? -n : ESRCH));
		print_line(line);
		return -1;
	}
	start = clock_ns(CLOCK_MONOTONIC);
	sleep((unsigned int)seconds);
	total = load_threads_stop(threads, n, &stop);
	elapsed = clock_ns(CLOCK_MONOTONIC) - start;
	snprintf(line, sizeof(line),
		 "PVTIME-BENCH tcg-throughput threads=%d seconds=%.2f iter_per_s=%.4g",
		 n, elapsed / 1e9, (double)total * 1e9 / (double)elapsed);
	print_line(line);
	return 0;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * The realtime_probe sample with the shortest round trip of
 * PROBES_PER_END: its offset is the best bracketed.  0, or -errno when
 * every probe failed.
 */
static int best_probe(struct rate_sample *best)
{
	struct rate_sample s;
	bool found = false;
	int i;

	for (i = 0; i < PROBES_PER_END; i++) {
		if (i)
			sleep_ms(PROBE_GAP_MS);
		if (rate_sample_take(&s)) {
			/* Without pvtime.ko there is no point in retrying. */
			if (access(REALTIME_PROBE_PATH, R_OK))
				return -ENOENT;
			continue;
		}
		if (!found || s.rtt_ns < best->rtt_ns)
			*best = s;
		found = true;
	}
	return found ? 0 : -ENODATA;
}

static int run_load_rate(unsigned long seconds)
{
	struct load_thread threads[LOAD_MAX_THREADS];
	struct rate_sample before, after;
	atomic_bool stop;
	int64_t start, elapsed, span_ns, gain_ns;
	uint64_t reads;
	char cs[64], line[512];
	int n, ret;

	ret = read_small_file(CURRENT_CLOCKSOURCE, cs, sizeof(cs));
	if (ret) {
		snprintf(line, sizeof(line),
			 "PVTIME-BENCH tcg-load-rate reason=\"cannot read current_clocksource: %s\"",
			 strerror(-ret));
		print_line(line);
		return -1;
	}
	if (best_probe(&before)) {
		snprintf(line, sizeof(line),
			 "PVTIME-BENCH tcg-load-rate clocksource=%s rate_failed=1 reason=\"no realtime_probe answered before the load\"",
			 cs);
		print_line(line);
		return -1;
	}
	n = load_threads_start(threads, &stop, clock_spin);
	if (n <= 0) {
		snprintf(line, sizeof(line),
			 "PVTIME-BENCH tcg-load-rate reason=\"cannot start threads: %s\"",
			 strerror(n ? -n : ESRCH));
		print_line(line);
		return -1;
	}
	start = clock_ns(CLOCK_MONOTONIC);
	sleep((unsigned int)seconds);
	reads = load_threads_stop(threads, n, &stop);
	elapsed = clock_ns(CLOCK_MONOTONIC) - start;
	if (best_probe(&after)) {
		snprintf(line, sizeof(line),
			 "PVTIME-BENCH tcg-load-rate clocksource=%s rate_failed=1 reason=\"no realtime_probe answered after the load\"",
			 cs);
		print_line(line);
		return -1;
	}
	span_ns = after.host_raw_ns - before.host_raw_ns;
	gain_ns = after.raw_offset_ns - before.raw_offset_ns;
	/* Each offset is bracketed to within half its round trip. */
	snprintf(line, sizeof(line),
		 "PVTIME-BENCH tcg-load-rate clocksource=%s threads=%d reads_per_s=%.4g rate_ppm=%.4f rate_err=%.4f rate_s=%.1f offset_gain_ns=%lld rtt_before_ns=%lld rtt_after_ns=%lld",
		 cs, n, (double)reads * 1e9 / (double)elapsed,
		 (double)gain_ns * 1e6 / (double)span_ns,
		 (double)(before.rtt_ns + after.rtt_ns) / 2 * 1e6 / (double)span_ns,
		 span_ns / 1e9, (long long)gain_ns, (long long)before.rtt_ns,
		 (long long)after.rtt_ns);
	print_line(line);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long work_s = 10, rate_s = 20;
	int opt, ret, failed = 0;

	while ((opt = getopt(argc, argv, "w:d:")) != -1) {
		switch (opt) {
		case 'w':
			ret = parse_ulong_option("-w", optarg, 0, 3600, &work_s);
			break;
		case 'd':
			ret = parse_ulong_option("-d", optarg, 0, 3600, &rate_s);
			break;
		default:
			ret = -EINVAL;
		}
		if (ret) {
			fprintf(stderr, "usage: pvtime-tcg-bench [-w SECONDS] [-d SECONDS]\n");
			return 2;
		}
	}
	if (reject_operands(argc, argv))
		return 2;
	if (work_s && run_throughput(work_s))
		failed = 1;
	if (rate_s && run_load_rate(rate_s))
		failed = 1;
	return failed;
}
