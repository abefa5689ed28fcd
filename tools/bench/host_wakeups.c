// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bench-host-wakeups: what this host adds to a host step before pvtime
 * does anything, measured with no guest and no pvtime.
 *
 * A step of the host's clock reaches a guest through three wake-ups on
 * the host: the stepping process wakes pvtimed's event loop
 * (SCHED_FIFO PRIO), which rings the doorbell and so wakes QEMU's main
 * loop (SCHED_FIFO PRIO-1), which kicks the guest's vCPU thread
 * (SCHED_OTHER).  The chain here is the same: three threads at those
 * classes, each woken through an eventfd by the one before, started by a
 * thread that sleeps --gap-us between rounds as a host is idle between
 * steps.  A round is timed from the first write until the last thread
 * runs.  On a virtualised host a wake-up that lands on an idle CPU waits
 * for the outer hypervisor to run that CPU again.
 *
 * Then one thread per CPU spins for --spin-s, pinned, reading the clock:
 * a stretch of over INTERRUPTION_NS between two reads is time that CPU
 * was taken away (interrupts, or the outer hypervisor running something
 * else).  Under a busy guest every thread of the step path runs on such
 * a CPU.
 *
 * Output: "key value" lines, or one JSON object with --json.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define HOPS			3
#define ROUNDS_DEFAULT		300
#define GAP_US_DEFAULT		20000
#define SPIN_S_DEFAULT		5.0
#define FIFO_PRIO_DEFAULT	10	/* pvtimed's --sched-fifo in the tests */
#define INTERRUPTION_NS		20000ull
#define LONG_STRETCH_NS		100000ull
#define VERY_LONG_STRETCH_NS	1000000ull
#define EXIT_USAGE		2

struct options {
	unsigned long rounds;
	unsigned long gap_us;
	double spin_s;
	int fifo_prio;		/* 0: every thread SCHED_OTHER */
	bool json;
};

/* One link of the chain: wait on its eventfd, note the time, wake the next. */
struct hop {
	pthread_t thread;
	const bool *stop;
	int in_fd;
	int out_fd;
	uint64_t ran_ns;	/* written by the hop, read after the round */
};

struct spin_result {
	pthread_t thread;
	int cpu;
	double seconds;
	uint64_t lost_ns;
	uint64_t long_stretches;
	uint64_t very_long_stretches;
	uint64_t max_stretch_ns;
	int error;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: bench-host-wakeups [OPTIONS]\n"
		"What this host adds to a host step before pvtime does anything:\n"
		"a chain of %d eventfd wake-ups like a step's (SCHED_FIFO PRIO,\n"
		"SCHED_FIFO PRIO-1, SCHED_OTHER) from a thread idle between rounds,\n"
		"and how much time a CPU that never sleeps loses.\n"
		"\n"
		"  --rounds N     rounds of the chain, 1..100000 (default %d)\n"
		"  --gap-us US    sleep between rounds, 0..10000000 (default %d)\n"
		"  --spin-s S     seconds each CPU's spinning thread runs, 0..600;\n"
		"                 0 skips that part (default %g)\n"
		"  --fifo PRIO    pvtimed's SCHED_FIFO priority, 2..98; 0 runs every\n"
		"                 thread SCHED_OTHER (default %d; needs root)\n"
		"  --json         one JSON object instead of \"key value\" lines\n"
		"  --help         this text\n"
		"\n"
		"Exit status: 0 measured, 1 the measurement failed, 2 bad usage.\n",
		HOPS, ROUNDS_DEFAULT, GAP_US_DEFAULT, SPIN_S_DEFAULT,
		FIFO_PRIO_DEFAULT);
}

static int bad_option(const char *name, const char *value, const char *range)
{
	fprintf(stderr, "bench-host-wakeups: %s '%s': want %s\n", name, value,
		range);
	return -1;
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max,
			unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_seconds(const char *s, double max, double *out)
{
	char *end;
	double v;

	if (!*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v >= 0 && v <= max))
		return false;
	*out = v;
	return true;
}

/* 0 to run, 1 after --help, -1 on bad usage (already reported). */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_ROUNDS = 256, OPT_GAP, OPT_SPIN, OPT_FIFO, OPT_JSON, OPT_HELP };
	static const struct option longopts[] = {
		{ "rounds", required_argument, NULL, OPT_ROUNDS },
		{ "gap-us", required_argument, NULL, OPT_GAP },
		{ "spin-s", required_argument, NULL, OPT_SPIN },
		{ "fifo", required_argument, NULL, OPT_FIFO },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long prio;
	int c;

	*o = (struct options){
		.rounds = ROUNDS_DEFAULT, .gap_us = GAP_US_DEFAULT,
		.spin_s = SPIN_S_DEFAULT, .fifo_prio = FIFO_PRIO_DEFAULT,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ROUNDS:
			if (!parse_ulong(optarg, 1, 100000, &o->rounds))
				return bad_option("--rounds", optarg, "1..100000");
			break;
		case OPT_GAP:
			if (!parse_ulong(optarg, 0, 10000000, &o->gap_us))
				return bad_option("--gap-us", optarg, "0..10000000");
			break;
		case OPT_SPIN:
			if (!parse_seconds(optarg, 600, &o->spin_s))
				return bad_option("--spin-s", optarg, "0..600 seconds");
			break;
		case OPT_FIFO:
			if (!parse_ulong(optarg, 0, 98, &prio) || prio == 1)
				return bad_option("--fifo", optarg, "0 or 2..98");
			o->fifo_prio = (int)prio;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_HELP:
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, "bench-host-wakeups: unknown option '%s' (try --help)\n",
				argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bench-host-wakeups: unexpected argument '%s' (try --help)\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

static int wait_fd(int fd)
{
	uint64_t v;

	return read(fd, &v, sizeof(v)) == sizeof(v) ? 0 : -1;
}

static int kick_fd(int fd)
{
	uint64_t v = 1;

	return write(fd, &v, sizeof(v)) == sizeof(v) ? 0 : -1;
}

static void *hop_thread(void *arg)
{
	struct hop *h = arg;

	/* A kick with *stop set ends every hop in turn. */
	while (!wait_fd(h->in_fd)) {
		bool stop = __atomic_load_n(h->stop, __ATOMIC_ACQUIRE);

		if (!stop)
			__atomic_store_n(&h->ran_ns, now_ns(), __ATOMIC_RELEASE);
		if (kick_fd(h->out_fd) || stop)
			break;
	}
	return NULL;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank of a sorted array. */
static uint64_t percentile(const uint64_t *sorted, size_t n, unsigned int pct)
{
	size_t rank = (n * pct + 99) / 100;

	return sorted[rank ? rank - 1 : 0];
}

struct chain_result {
	unsigned long rounds;
	uint64_t p50_ns, p90_ns, p99_ns, max_ns;
	unsigned long over_1ms;
};

static int start_hops(struct hop *hops, int *fds, int fifo_prio,
		      const bool *stop)
{
	int i, ret;

	for (i = 0; i < HOPS; i++) {
		int policy = fifo_prio && i < 2 ? SCHED_FIFO : SCHED_OTHER;
		struct sched_param param = {
			.sched_priority = policy == SCHED_FIFO ? fifo_prio - i : 0,
		};
		pthread_attr_t attr;

		hops[i].stop = stop;
		hops[i].in_fd = fds[i];
		hops[i].out_fd = fds[i + 1];
		pthread_attr_init(&attr);
		pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&attr, policy);
		pthread_attr_setschedparam(&attr, &param);
		ret = pthread_create(&hops[i].thread, &attr, hop_thread, &hops[i]);
		pthread_attr_destroy(&attr);
		if (ret) {
			fprintf(stderr, "bench-host-wakeups: cannot start hop %d at %s %d: %s%s\n",
				i, policy == SCHED_FIFO ? "SCHED_FIFO" : "SCHED_OTHER",
				param.sched_priority, strerror(ret),
				ret == EPERM ? " (SCHED_FIFO needs root; --fifo 0 runs without)" : "");
			return i;
		}
	}
	return HOPS;
}

static int run_chain(const struct options *o, struct chain_result *res)
{
	int fds[HOPS + 1], started = 0, i, ret = -1;
	struct hop hops[HOPS] = { 0 };
	bool stop = false;
	uint64_t *lat = calloc(o->rounds, sizeof(*lat));
	unsigned long r;

	for (i = 0; i <= HOPS; i++)
		fds[i] = -1;
	if (!lat) {
		fprintf(stderr, "bench-host-wakeups: out of memory\n");
		return -1;
	}
	for (i = 0; i <= HOPS; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		if (fds[i] < 0) {
			fprintf(stderr, "bench-host-wakeups: eventfd: %s\n", strerror(errno));
			goto out;
		}
	}
	started = start_hops(hops, fds, o->fifo_prio, &stop);
	if (started < HOPS)
		goto stop;
	for (r = 0; r < o->rounds; r++) {
		struct timespec gap = {
			.tv_sec = (time_t)(o->gap_us / 1000000),
			.tv_nsec = (long)(o->gap_us % 1000000) * 1000,
		};
		uint64_t start;

		if (o->gap_us)
			nanosleep(&gap, NULL);
		start = now_ns();
		if (kick_fd(fds[0]) || wait_fd(fds[HOPS])) {
			fprintf(stderr, "bench-host-wakeups: eventfd: %s\n", strerror(errno));
			goto stop;
		}
		lat[r] = __atomic_load_n(&hops[HOPS - 1].ran_ns, __ATOMIC_ACQUIRE) - start;
	}
	qsort(lat, o->rounds, sizeof(*lat), compare_u64);
	*res = (struct chain_result){
		.rounds = o->rounds,
		.p50_ns = percentile(lat, o->rounds, 50),
		.p90_ns = percentile(lat, o->rounds, 90),
		.p99_ns = percentile(lat, o->rounds, 99),
		.max_ns = lat[o->rounds - 1],
	};
	for (r = 0; r < o->rounds; r++)
		res->over_1ms += lat[r] > VERY_LONG_STRETCH_NS;
	ret = 0;
stop:
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	if (started && kick_fd(fds[0]))
		fprintf(stderr, "bench-host-wakeups: cannot stop the chain: %s\n",
			strerror(errno));
	for (i = 0; i < started; i++)
		pthread_join(hops[i].thread, NULL);
out:
	for (i = 0; i <= HOPS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(lat);
	return ret;
}

static void *spin_thread(void *arg)
{
	struct spin_result *s = arg;
	uint64_t start, end, last, t;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	s->error = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (s->error)
		return NULL;
	start = now_ns();
	end = start + (uint64_t)(s->seconds * 1e9);
	last = start;
	do {
		uint64_t gap;

		t = now_ns();
		gap = t - last;
		last = t;
		if (gap <= INTERRUPTION_NS)
			continue;
		s->lost_ns += gap;
		s->long_stretches += gap > LONG_STRETCH_NS;
		s->very_long_stretches += gap > VERY_LONG_STRETCH_NS;
		if (gap > s->max_stretch_ns)
			s->max_stretch_ns = gap;
	} while (t < end);
	s->seconds = (double)(t - start) / 1e9;
	return NULL;
}

/* Every CPU this process may run on, one spinning thread each, at once. */
static int run_spin(const struct options *o, struct spin_result **out, int *count)
{
	cpu_set_t allowed;
	struct spin_result *res;
	int cpu, n = 0, i, ret;

	if (sched_getaffinity(0, sizeof(allowed), &allowed)) {
		fprintf(stderr, "bench-host-wakeups: sched_getaffinity: %s\n", strerror(errno));
		return -1;
	}
	res = calloc((size_t)CPU_COUNT(&allowed), sizeof(*res));
	if (!res) {
		fprintf(stderr, "bench-host-wakeups: out of memory\n");
		return -1;
	}
	for (cpu = 0; cpu < CPU_SETSIZE && n < CPU_COUNT(&allowed); cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		res[n] = (struct spin_result){ .cpu = cpu, .seconds = o->spin_s };
		ret = pthread_create(&res[n].thread, NULL, spin_thread, &res[n]);
		if (ret) {
			fprintf(stderr, "bench-host-wakeups: cannot start a thread for CPU %d: %s\n",
				cpu, strerror(ret));
			break;
		}
		n++;
	}
	for (i = 0; i < n; i++)
		pthread_join(res[i].thread, NULL);
	for (i = 0; i < n; i++) {
		if (res[i].error) {
			fprintf(stderr, "bench-host-wakeups: cannot pin to CPU %d: %s\n",
				res[i].cpu, strerror(res[i].error));
			free(res);
			return -1;
		}
	}
	if (n < CPU_COUNT(&allowed)) {
		free(res);
		return -1;
	}
	*out = res;
	*count = n;
	return 0;
}

/* One figure, as a "key value" line or a JSON member. */
static void emit(const struct options *o, bool *first, const char *key,
		 double value, int decimals)
{
	if (o->json)
		printf("%s\"%s\": %.*f", *first ? "{" : ", ", key, decimals, value);
	else
		printf("%s %.*f\n", key, decimals, value);
	*first = false;
}

static void report(const struct options *o, const struct chain_result *c,
		   const struct spin_result *s, int cpus)
{
	double lost = 0, longs = 0, very_longs = 0, seconds = 0;
	uint64_t max_stretch = 0;
	bool first = true;
	int i;

	emit(o, &first, "chain_hops", HOPS, 0);
	emit(o, &first, "chain_fifo_prio", o->fifo_prio, 0);
	emit(o, &first, "chain_gap_us", (double)o->gap_us, 0);
	emit(o, &first, "chain_rounds", (double)c->rounds, 0);
	emit(o, &first, "chain_p50_us", (double)c->p50_ns / 1e3, 1);
	emit(o, &first, "chain_p90_us", (double)c->p90_ns / 1e3, 1);
	emit(o, &first, "chain_p99_us", (double)c->p99_ns / 1e3, 1);
	emit(o, &first, "chain_max_us", (double)c->max_ns / 1e3, 1);
	emit(o, &first, "chain_over_1ms", (double)c->over_1ms, 0);
	for (i = 0; i < cpus; i++) {
		lost += (double)s[i].lost_ns / 1e9;
		longs += (double)s[i].long_stretches;
		very_longs += (double)s[i].very_long_stretches;
		seconds += s[i].seconds;
		if (s[i].max_stretch_ns > max_stretch)
			max_stretch = s[i].max_stretch_ns;
	}
	emit(o, &first, "spin_cpus", cpus, 0);
	emit(o, &first, "spin_s", cpus ? seconds / cpus : 0.0, 1);
	if (cpus && seconds > 0) {
		emit(o, &first, "spin_lost_percent", 100.0 * lost / seconds, 2);
		emit(o, &first, "spin_stretches_over_100us_per_cpu_s", longs / seconds, 2);
		emit(o, &first, "spin_stretches_over_1ms_per_cpu_s", very_longs / seconds, 2);
		emit(o, &first, "spin_max_stretch_us", (double)max_stretch / 1e3, 1);
	}
	if (o->json)
		printf("}\n");
}

int main(int argc, char **argv)
{
	struct spin_result *spin = NULL;
	struct chain_result chain;
	struct options o;
	int cpus = 0, ret;

	ret = parse_options(argc, argv, &o);
	if (ret)
		return ret > 0 ? 0 : EXIT_USAGE;
	if (run_chain(&o, &chain))
		return 1;
	if (o.spin_s > 0 && run_spin(&o, &spin, &cpus))
		return 1;
	report(&o, &chain, spin, cpus);
	free(spin);
	return 0;
}
