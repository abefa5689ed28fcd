/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * From the time-source domain's mailbox thread to the event loop: the
 * hyp's wall clock moved, so every running domain republishes wc_* and
 * gets its wall-clock doorbell.  The domain table belongs to the event
 * loop's thread, hence the hand-over through an eventfd.
 *
 * The hyp's wall offset outlives pvtimed: it is kept in
 * STATE_DIR/hyp-wallclock ("hyp_wall_offset_ns N"), written whenever it
 * changed and read back at start, so a restarted pvtimed does not step
 * every guest back to the host's clock.
 */
#ifndef PVTIMED_TIME_SOURCE_WATCH_H
#define PVTIMED_TIME_SOURCE_WATCH_H

#define HYP_WALLCLOCK_FILE	"hyp-wallclock"

/*
 * Load STATE_DIR/hyp-wallclock if there is one (a bad one is logged and
 * ignored: the offset stays 0), then watch: on the event loop's thread,
 * republish() (main.c: every domain, forced and rung) follows each
 * change, before the offset is saved.  Returns 0 or -errno.
 */
int time_source_watch_start(const char *state_dir, void (*republish)(void));
void time_source_watch_stop(void);

/* The hyp's wall offset changed on the event loop's thread: keep it. */
void time_source_save(void);

/* Any thread: have the event loop republish every domain's wall clock. */
void time_source_wallclock_changed(void);

#endif /* PVTIMED_TIME_SOURCE_WATCH_H */
