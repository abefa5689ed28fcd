// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The doorbell limit: a guest ringing without pause wakes the event loop
 * at most DOORBELL_WAKES_PER_WINDOW times a window, and a ring that came
 * while the doorbell was not watched is served when the window ends.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "guest/doorbell_limit.h"

#define MS	1000000ull

static struct doorbell_limit limit;
static unsigned long dispatched;

static void on_ring(struct event_source *src, uint32_t events)
{
	uint64_t count;

	(void)events;
	if (read(src->fd, &count, sizeof(count)) == sizeof(count)) {
		dispatched++;
		doorbell_limit_wake(&limit);
	}
}

static void bail(const char *what)
{
	tap_ok(0, "%s", what);
	exit(tap_done() ? 1 : 1);
}

static void ring(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		bail("eventfd write");
}

static uint64_t now_ns(void)
{
	return monotonic_ns();
}

int main(void)
{
	struct event_source bell = { .handler = on_ring };
	struct doorbell_window w = { 0 };
	uint64_t t = 7 * 1000 * MS, start;
	unsigned int i, admitted = 0;
	unsigned long before;

	tap_plan(6);

	for (i = 0; i < 1000; i++)
		admitted += doorbell_window_count(&w, t + i * 1000) == 0;
	tap_ok(admitted == DOORBELL_WAKES_PER_WINDOW,
	       "1000 wakes within 1 ms: %u admitted (limit %u)", admitted,
	       DOORBELL_WAKES_PER_WINDOW);
	tap_ok(doorbell_window_count(&w, t + DOORBELL_WINDOW_NS) == 0,
	       "a new window admits again");

	if (event_loop_init())
		bail("event_loop_init");
	bell.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (bell.fd < 0 || doorbell_limit_init(&limit, &bell, "test", 0) ||
	    event_loop_add(&bell))
		bail("eventfd, timerfd or epoll");

	/* Ring before every wake, as fast as the loop goes, for 50 ms. */
	start = now_ns();
	while (now_ns() - start < 50 * MS) {
		ring(bell.fd);
		if (bell.registered && event_loop_run_once())
			bail("event_loop_run_once");
		if (!bell.registered)
			break;
	}
	tap_ok(dispatched == DOORBELL_WAKES_PER_WINDOW + 1 && !bell.registered,
	       "a ringing guest: %lu wakes, then the doorbell is not watched",
	       dispatched);
	tap_ok(limit.held_off == 1, "held off once (%lu)", limit.held_off);
	tap_ok(limit.wakes == dispatched, "every wake counted (%lu of %lu)",
	       limit.wakes, dispatched);

	/* The ring left pending is served once the window is over. */
	ring(bell.fd);
	before = dispatched;
	start = now_ns();
	while (dispatched == before && now_ns() - start < 2 * DOORBELL_WINDOW_NS)
		if (event_loop_run_once())
			bail("event_loop_run_once");
	tap_ok(dispatched == before + 1 && bell.registered,
	       "the pending ring is served when the window ends, after %llu ms",
	       (unsigned long long)((now_ns() - start) / MS));

	doorbell_limit_fini(&limit);
	close(bell.fd);
	event_loop_fini();
	return tap_done();
}
