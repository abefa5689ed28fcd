// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "cpu_load.h"

void *load_clock_spin(void *arg)
{
	struct load_thread *t = arg;
	struct timespec ts = { 0 };
	uint64_t tsc_sum = 0;

	while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		tsc_sum += __rdtsc();
		t->iterations++;
	}
	t->sink = tsc_sum + (uint64_t)ts.tv_nsec;
	return NULL;
}

/*
 * One thread pinned to each CPU this process may run on (at most
 * LOAD_MAX_THREADS).  Returns how many started, or -errno after stopping any
 * that did.
 */
int load_threads_start(struct load_thread *threads, atomic_bool *stop,
		       void *(*body)(void *))
{
	cpu_set_t allowed;
	int cpu, n = 0, ret = 0;

	atomic_store(stop, false);
	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		return -errno;
	for (cpu = 0; cpu < CPU_SETSIZE && n < LOAD_MAX_THREADS; cpu++) {
		struct load_thread *t = &threads[n];
		pthread_attr_t attr;
		cpu_set_t one;

		if (!CPU_ISSET(cpu, &allowed))
			continue;
		memset(t, 0, sizeof(*t));
		t->cpu = cpu;
		t->stop = stop;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		ret = pthread_attr_init(&attr);
		if (!ret)
			ret = pthread_attr_setaffinity_np(&attr, sizeof(one), &one);
		if (!ret)
			ret = pthread_create(&t->thread, &attr, body, t);
		pthread_attr_destroy(&attr);
		if (ret) {
			fprintf(stderr, "load thread for CPU %d: %s\n",
				cpu, strerror(ret));
			break;
		}
		n++;
	}
	if (ret) {
		atomic_store(stop, true);
		while (n--)
			pthread_join(threads[n].thread, NULL);
		return -ret;
	}
	return n;
}

/* Stop and join n threads; their iterations summed. */
uint64_t load_threads_stop(struct load_thread *threads, int n,
			   atomic_bool *stop)
{
	uint64_t total = 0;
	int i;

	atomic_store(stop, true);
	for (i = 0; i < n; i++) {
		pthread_join(threads[i].thread, NULL);
		total += threads[i].iterations;
	}
	return total;
}

