// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monotonic_check.h"

struct monotonic_worker {
	struct monotonic_check *mc;
	pthread_t thread;
	int cpu;
	uint64_t samples;
	uint64_t backsteps;
	uint64_t worst_backstep_ns;
};

uint64_t monotonic_check_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *monotonic_worker_run(void *arg)
{
	struct monotonic_worker *w = arg;
	struct monotonic_check *mc = w->mc;

	while (!atomic_load_explicit(&mc->stop, memory_order_relaxed)) {
		/* Load first: whatever it holds was read before our read. */
		uint64_t prev = atomic_load(&mc->latest_ns);
		uint64_t now = monotonic_check_now_ns();

		w->samples++;
		if (now < prev) {
			w->backsteps++;
			if (prev - now > w->worst_backstep_ns)
				w->worst_backstep_ns = prev - now;
			continue;
		}
		while (now > prev &&
		       !atomic_compare_exchange_weak(&mc->latest_ns, &prev, now))
			;
	}
	return NULL;
}

static int monotonic_start_worker(struct monotonic_worker *w)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int ret;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	ret = pthread_attr_init(&attr);
	if (!ret)
		ret = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (!ret)
		ret = pthread_create(&w->thread, &attr, monotonic_worker_run, w);
	pthread_attr_destroy(&attr);
	if (ret)
		fprintf(stderr, "monotonic_check: thread for CPU %d: %s\n",
			w->cpu, strerror(ret));
	return -ret;
}

int monotonic_check_start(struct monotonic_check *mc)
{
	cpu_set_t allowed;
	unsigned int i;
	int cpu, ret;

	memset(mc, 0, sizeof(*mc));
	atomic_init(&mc->latest_ns, 0);
	atomic_init(&mc->stop, false);
	if (sched_getaffinity(0, sizeof(allowed), &allowed)) {
		ret = -errno;
		perror("monotonic_check: sched_getaffinity");
		return ret;
	}
	mc->workers = calloc(MONOTONIC_CHECK_MAX_CPUS, sizeof(*mc->workers));
	if (!mc->workers)
		return -ENOMEM;
	for (cpu = 0; cpu < MONOTONIC_CHECK_MAX_CPUS; cpu++) {
		struct monotonic_worker *w;

		if (!CPU_ISSET(cpu, &allowed))
			continue;
		w = &mc->workers[mc->nr_workers];
		w->mc = mc;
		w->cpu = cpu;
		ret = monotonic_start_worker(w);
		if (ret) {
			atomic_store(&mc->stop, true);
			for (i = 0; i < mc->nr_workers; i++)
				pthread_join(mc->workers[i].thread, NULL);
			free(mc->workers);
			mc->workers = NULL;
			return ret;
		}
		mc->nr_workers++;
	}
	return 0;
}

void monotonic_check_stop(struct monotonic_check *mc,
			  struct monotonic_result *res)
{
	unsigned int i;

	memset(res, 0, sizeof(*res));
	atomic_store(&mc->stop, true);
	for (i = 0; i < mc->nr_workers; i++) {
		struct monotonic_worker *w = &mc->workers[i];

		pthread_join(w->thread, NULL);
		res->samples += w->samples;
		res->backsteps += w->backsteps;
		if (w->worst_backstep_ns > res->worst_backstep_ns)
			res->worst_backstep_ns = w->worst_backstep_ns;
	}
	res->threads = mc->nr_workers;
	free(mc->workers);
	mc->workers = NULL;
}
