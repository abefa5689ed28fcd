/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * From the time-source domain's mailbox thread to the event loop: the
 * hyp's wall clock moved, so every running domain republishes wc_* and
 * gets its wall-clock doorbell.  The domain table belongs to the event
 * loop's thread, hence the hand-over through an eventfd.
 */
#ifndef PVTIMED_TIME_SOURCE_WATCH_H
#define PVTIMED_TIME_SOURCE_WATCH_H

/* Returns 0 or -errno. */
int time_source_watch_start(void);
void time_source_watch_stop(void);

/* Any thread: have the event loop republish every domain's wall clock. */
void time_source_wallclock_changed(void);

#endif /* PVTIMED_TIME_SOURCE_WATCH_H */
