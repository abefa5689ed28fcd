/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Load on every vCPU: one thread pinned to each CPU this process may run
 * on, running a given body until told to stop.  Shared by the guest
 * programs that measure time under all-vCPU load.
 */
#ifndef PVTIME_CPU_LOAD_H
#define PVTIME_CPU_LOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define LOAD_MAX_THREADS	64

struct load_thread {
	pthread_t thread;
	int cpu;
	atomic_bool *stop;
	uint64_t iterations;
	uint64_t sink;		/* keeps the loop's result alive */
};

/*
 * Start one thread per allowed CPU (at most LOAD_MAX_THREADS) running
 * body.  Returns how many started, or -errno after stopping any that did.
 */
int load_threads_start(struct load_thread *threads, atomic_bool *stop,
		       void *(*body)(void *));

/* Stop and join n threads; their iterations summed. */
uint64_t load_threads_stop(struct load_thread *threads, int n,
			   atomic_bool *stop);

/* A body: clock_gettime(CLOCK_MONOTONIC) and rdtsc in a loop. */
void *load_clock_spin(void *arg);

#endif /* PVTIME_CPU_LOAD_H */
