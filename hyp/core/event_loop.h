/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pvtimed's single epoll loop.  Every file descriptor the daemon waits on is
 * an event_source embedded in the object that owns it; the loop dispatches
 * one event at a time, so a handler may remove (and free) any other source.
 */
#ifndef PVTIMED_EVENT_LOOP_H
#define PVTIMED_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct event_source {
	int fd;
	void (*handler)(struct event_source *src, uint32_t events);
	bool registered;
};

int event_loop_init(void);
void event_loop_fini(void);

/* Watch src->fd for EPOLLIN.  Returns 0 or -errno. */
int event_loop_add(struct event_source *src);
/* Stop watching; harmless if src was never added. */
void event_loop_remove(struct event_source *src);

/* Wait for and dispatch one event.  Returns 0, or -errno on failure. */
int event_loop_run_once(void);

#endif /* PVTIMED_EVENT_LOOP_H */
