/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * How often a guest may wake pvtimed's event loop through one doorbell
 * vector.  Each wake costs an epoll round and a read, and a guest can ring
 * hundreds of thousands of times a second; legitimate guests ring a few
 * times a second.  Past DOORBELL_WAKES_PER_WINDOW wakes in a
 * DOORBELL_WINDOW_NS window the eventfd is taken off the event loop until
 * the window ends.  Nothing is lost: the eventfd keeps counting, and its
 * rings are served at once when it is watched again.
 */
#ifndef PVTIMED_DOORBELL_LIMIT_H
#define PVTIMED_DOORBELL_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/event_loop.h"
#include "core/ratelimit.h"

#define DOORBELL_WINDOW_NS		100000000ull	/* 100 ms */
#define DOORBELL_WAKES_PER_WINDOW	50		/* 500 a second */

/* The counting alone (pure; the caller passes CLOCK_MONOTONIC ns). */
struct doorbell_window {
	uint64_t start_ns;
	unsigned int wakes;
	bool started;
};

/* Count a wake at now_ns: 0 if within the limit, else ns to the window's end. */
uint64_t doorbell_window_count(struct doorbell_window *w, uint64_t now_ns);

struct doorbell_limit {
	struct event_source *doorbell;	/* not owned */
	struct event_source resume;	/* timerfd: watch the doorbell again */
	struct doorbell_window window;
	struct ratelimit log_rl;
	const char *domain_name;
	unsigned int vector;
	unsigned long wakes;		/* of the event loop, by this doorbell */
	unsigned long held_off;		/* windows cut short */
};

int doorbell_limit_init(struct doorbell_limit *l, struct event_source *doorbell,
			const char *domain_name, unsigned int vector);
void doorbell_limit_fini(struct doorbell_limit *l);

/* After each wake of the doorbell: may take it off the event loop. */
void doorbell_limit_wake(struct doorbell_limit *l);

#endif /* PVTIMED_DOORBELL_LIMIT_H */
