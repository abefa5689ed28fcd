/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Work the event loop runs a little later, once: a one-shot timerfd in
 * the loop.  For what must not sit between a doorbell and the guest it
 * rings: pvtimed runs SCHED_FIFO, and whatever it does right after
 * ringing holds the host CPU the guest's vCPU thread may be waiting for.
 */
#ifndef PVTIMED_DEFERRED_H
#define PVTIMED_DEFERRED_H

#include <stdbool.h>
#include <stdint.h>

#include "core/event_loop.h"

struct deferred {
	struct event_source src;	/* first: the loop hands it back */
	void (*run)(void);
	bool armed;
	uint64_t armed_at_ns;	/* monotonic, when first armed since it ran */
};

/* Create the timer and add it to the loop.  Returns 0 or -errno. */
int deferred_init(struct deferred *w, void (*run)(void));
/*
 * Run w->run about delay_ns from now.  Already armed: put off to then, so
 * the work never lands just after a later change's doorbell, unless it
 * has waited 20 times delay_ns already.  Returns 0, or -errno if the
 * timer could not be set (the caller then does the work at once).
 */
int deferred_arm(struct deferred *w, uint64_t delay_ns);
/* Remove from the loop and close; harmless if never initialised. */
void deferred_fini(struct deferred *w);

#endif /* PVTIMED_DEFERRED_H */
