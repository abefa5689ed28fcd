/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Watching the host's CLOCK_REALTIME: a 1 s tick republishes each domain's
 * wall clock when it drifted (NTP slew), and a cancel-on-set timer reports
 * steps (settimeofday, NTP step) at once.  A one-shot timer runs the
 * stability check of the tick early, when a TSC_STABLE hold ends.
 */
#include <stdint.h>

#ifndef PVTIMED_HOST_CLOCK_WATCH_H
#define PVTIMED_HOST_CLOCK_WATCH_H

int host_clock_watch_start(void);
void host_clock_watch_stop(void);

/* Check every domain's TSC_STABLE again in ns (replaces an earlier request). */
void host_clock_watch_recheck_in(uint64_t ns);

#endif /* PVTIMED_HOST_CLOCK_WATCH_H */
