/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Watching the host's CLOCK_REALTIME: a 1 s tick (on which main.c has every
 * domain republish a drifted wall clock, recheck TSC_STABLE and save its
 * state), and a cancel-on-set timer that reports steps (settimeofday, NTP
 * step) at once.  A one-shot timer runs the stability check of the tick
 * early, when a TSC_STABLE hold ends.  What each event does is the
 * listener's: this file knows no domain.
 */
#ifndef PVTIMED_HOST_CLOCK_WATCH_H
#define PVTIMED_HOST_CLOCK_WATCH_H

#include <stdint.h>

struct host_clock_watch_ops {
	void (*tick)(void);		/* every second */
	void (*stepped)(void);		/* host CLOCK_REALTIME was stepped */
	void (*recheck)(void);		/* host_clock_watch_recheck_in() is due */
};

/* Start the timers; ops (all set) must outlive the watch.  0 or -errno. */
int host_clock_watch_start(const struct host_clock_watch_ops *ops);
void host_clock_watch_stop(void);

/* Call ops->recheck in ns (an earlier pending request is kept). */
void host_clock_watch_recheck_in(uint64_t ns);

#endif /* PVTIMED_HOST_CLOCK_WATCH_H */
