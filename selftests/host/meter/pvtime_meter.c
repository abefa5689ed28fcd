// SPDX-License-Identifier: GPL-2.0
/*
 * pvtime-meter: the host side of the test time meter (meter_abi.h).
 *
 *   pvtime-meter --file PATH [--size BYTES] [--idle-us N] [--burst-ms N]
 *                [--spin-us N]
 *
 * Creates PATH (mode 0600) as the page QEMU maps with
 * "-object memory-backend-file,share=on,mem-path=PATH" +
 * "-device ivshmem-plain", and answers every guest request with the
 * host's CLOCK_REALTIME and CLOCK_MONOTONIC_RAW until SIGTERM or SIGINT.
 * It never talks to pvtimed, so it still measures while pvtimed is dead.
 *
 * The host has two cores shared with QEMU, so the meter looks at the page
 * only every --idle-us while nobody asks; the first request starts a
 * burst in which it answers at once, until --burst-ms pass without a
 * request: it spins for --spin-us after each answer, then polls every
 * 50 us.  The first exchange of a burst is therefore slow; the guest
 * library throws it away.
 *
 * PATH appears only once the page is ready (written under PATH.tmp and
 * renamed), so a runner may start QEMU as soon as PATH exists.  On exit
 * the magic is cleared, then one JSON line goes to stdout:
 *   {"requests": N, "bursts": N, "cpu_s": X, "wall_s": X, ...}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "meter_abi.h"
#include "prog_common.h"

struct meter_options {
	const char *path;
	unsigned long size;
	unsigned long idle_us;
	unsigned long burst_ms;
	unsigned long spin_us;
};

struct meter_stats {
	unsigned long long requests;
	unsigned long long bursts;
};

static volatile sig_atomic_t meter_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	meter_stop = 1;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pvtime-meter --file PATH [--size BYTES] [--idle-us N] [--burst-ms N]\n"
		"                    [--spin-us N]\n"
		"  --file PATH     page file to create (mode 0600), for QEMU's\n"
		"                  memory-backend-file + ivshmem-plain\n"
		"  --size BYTES    power of two, %u..1048576 (default %u)\n"
		"  --idle-us N     poll period while idle, 50..100000 (default 2000)\n"
		"  --burst-ms N    keep answering at once this long after the last\n"
		"                  request, 1..1000 (default 5)\n"
		"  --spin-us N     of which spin this long, then poll every 50 us,\n"
		"                  0..1000000 (default 1000)\n",
		METER_DEFAULT_SIZE, METER_DEFAULT_SIZE);
}

/* 0, or 2 after a message on stderr (a usage error). */
static int parse_options(int argc, char **argv, struct meter_options *opt)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "idle-us", required_argument, NULL, 'i' },
		{ "burst-ms", required_argument, NULL, 'b' },
		{ "spin-us", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*opt = (struct meter_options){ NULL, METER_DEFAULT_SIZE, 2000, 5, 1000 };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			opt->path = optarg;
			break;
		case 's':
			if (!parse_ulong(optarg, METER_DEFAULT_SIZE, 1 << 20,
					 &opt->size) ||
			    (opt->size & (opt->size - 1))) {
				fprintf(stderr, "pvtime-meter: bad --size '%s' (a power of two, %u..1048576)\n",
					optarg, METER_DEFAULT_SIZE);
				return 2;
			}
			break;
		case 'i':
			if (!parse_ulong(optarg, 50, 100000, &opt->idle_us))
				return bad_option("--idle-us", optarg, "50..100000");
			break;
		case 'b':
			if (!parse_ulong(optarg, 1, 1000, &opt->burst_ms))
				return bad_option("--burst-ms", optarg, "1..1000");
			break;
		case 'p':
			if (!parse_ulong(optarg, 0, 1000000, &opt->spin_us))
				return bad_option("--spin-us", optarg, "0..1000000");
			break;
		default:
			return help_or_usage_error(c, usage);
		}
	}
	if (reject_operands(argc, argv)) {
		usage(stderr);
		return 2;
	}
	if (!opt->path || !opt->path[0]) {
		fprintf(stderr, "pvtime-meter: --file PATH is required\n");
		usage(stderr);
		return 2;
	}
	return 0;
}

/* Create the page under PATH.tmp, then rename it to PATH.  NULL on error. */
static struct meter_page *create_page(const struct meter_options *opt)
{
	struct meter_page *page;
	char tmp[PATH_MAX];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", opt->path) >= (int)sizeof(tmp)) {
		fprintf(stderr, "pvtime-meter: path too long: %s\n", opt->path);
		return NULL;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "pvtime-meter: cannot create %s: %s\n", tmp,
			strerror(errno));
		return NULL;
	}
	/* An old file keeps its mode through O_CREAT: make it private. */
	if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)opt->size) < 0) {
		fprintf(stderr, "pvtime-meter: cannot set up %s: %s\n", tmp,
			strerror(errno));
		goto fail;
	}
	page = mmap(NULL, opt->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (page == MAP_FAILED) {
		fprintf(stderr, "pvtime-meter: cannot map %s: %s\n", tmp,
			strerror(errno));
		goto fail;
	}
	close(fd);
	page->layout_version = METER_LAYOUT_VERSION;
	page->size = (uint32_t)opt->size;
	/* The magic last: a reader that sees it sees the rest. */
	__atomic_store_n(&page->magic, METER_MAGIC, __ATOMIC_RELEASE);
	if (rename(tmp, opt->path) < 0) {
		fprintf(stderr, "pvtime-meter: cannot rename %s to %s: %s\n",
			tmp, opt->path, strerror(errno));
		munmap(page, opt->size);
		unlink(tmp);
		return NULL;
	}
	return page;
fail:
	close(fd);
	unlink(tmp);
	return NULL;
}

/* Publish the host's clocks as the answer to request seq. */
static void answer(struct meter_page *page, uint64_t seq)
{
	uint32_t version = page->answer_version;
	int64_t raw = clock_ns(CLOCK_MONOTONIC_RAW);
	int64_t realtime = clock_ns(CLOCK_REALTIME);

	__atomic_store_n(&page->answer_version, version + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&page->host_realtime_ns, realtime, __ATOMIC_RELAXED);
	__atomic_store_n(&page->host_raw_ns, raw, __ATOMIC_RELAXED);
	__atomic_store_n(&page->answer_seq, seq, __ATOMIC_RELAXED);
	__atomic_store_n(&page->answer_version, version + 2, __ATOMIC_RELEASE);
}

/*
 * Answer at once until burst_ns pass without a request: spin for spin_ns
 * after each answer (a sample's exchanges come back to back), then poll
 * every BURST_POLL_NS, so that a guest vCPU descheduled mid-sample gets
 * the CPU back instead of a meter spinning against it.
 */
#define BURST_POLL_NS	50000

static void serve_burst(struct meter_page *page, uint64_t *last_seq,
			const struct meter_options *opt,
			struct meter_stats *stats)
{
	const struct timespec poll = { 0, BURST_POLL_NS };
	int64_t burst_ns = (int64_t)opt->burst_ms * 1000000;
	int64_t spin_ns = (int64_t)opt->spin_us * 1000;
	int64_t last_answer = 0, quiet;

	stats->bursts++;
	while (!meter_stop) {
		uint64_t seq = __atomic_load_n(&page->request_seq,
					       __ATOMIC_ACQUIRE);

		if (seq != *last_seq) {
			answer(page, seq);
			*last_seq = seq;
			stats->requests++;
			last_answer = clock_ns(CLOCK_MONOTONIC);
			continue;
		}
		quiet = clock_ns(CLOCK_MONOTONIC) - last_answer;
		if (quiet >= burst_ns)
			return;
		if (quiet >= spin_ns)
			nanosleep(&poll, NULL);
		else
			cpu_relax();
	}
}

static void serve(struct meter_page *page, const struct meter_options *opt,
		  struct meter_stats *stats)
{
	struct timespec idle = { 0, (long)opt->idle_us * 1000 };
	/*
	 * The page was zeroed at creation and a client may have written its
	 * first request already (it may start once the magic is set).
	 */
	uint64_t last_seq = 0;

	while (!meter_stop) {
		if (__atomic_load_n(&page->request_seq, __ATOMIC_ACQUIRE) != last_seq)
			serve_burst(page, &last_seq, opt, stats);
		else
			nanosleep(&idle, NULL);
	}
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	struct meter_stats stats = { 0, 0 };
	struct meter_options opt;
	struct meter_page *page;
	int64_t started;
	int ret;

	ret = parse_options(argc, argv, &opt);
	if (ret)
		return ret;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0) {
		perror("pvtime-meter: sigaction");
		return 1;
	}
	/*
	 * Polls sleep 50 us: with the default 50 us of timer slack they
	 * would answer a request up to twice that late.
	 */
	if (prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) < 0)
		perror("pvtime-meter: prctl(PR_SET_TIMERSLACK)");
	page = create_page(&opt);
	if (!page)
		return 1;
	fprintf(stderr, "pvtime-meter: serving %s (%lu bytes, idle poll %lu us, burst %lu ms, spin %lu us)\n",
		opt.path, opt.size, opt.idle_us, opt.burst_ms, opt.spin_us);
	started = clock_ns(CLOCK_MONOTONIC);
	serve(page, &opt, &stats);
	/* A guest that looks again sees the meter is gone, not a stale page. */
	__atomic_store_n(&page->magic, 0, __ATOMIC_RELEASE);
	printf("{\"requests\": %llu, \"bursts\": %llu, \"cpu_s\": %.3f, \"wall_s\": %.3f, \"idle_us\": %lu, \"burst_ms\": %lu, \"spin_us\": %lu}\n",
	       stats.requests, stats.bursts, cpu_seconds(),
	       (clock_ns(CLOCK_MONOTONIC) - started) / 1e9, opt.idle_us,
	       opt.burst_ms, opt.spin_us);
	munmap(page, opt.size);
	return 0;
}
