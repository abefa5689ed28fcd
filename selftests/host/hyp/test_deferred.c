// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Deferred work: it runs once, about its delay after the last arming, a
 * later arming puts a pending run off, and a run put off for 20 delays
 * is not put off again.
 */
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "tap.h"
#include "core/deferred.h"
#include "core/event_loop.h"
#include "core/monotonic.h"

static unsigned int runs;
static uint64_t ran_at;

static void run(void)
{
	runs++;
	ran_at = monotonic_ns();
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / NS_PER_SEC), (long)(ns % NS_PER_SEC) };

	nanosleep(&ts, NULL);
}

int main(void)
{
	struct deferred w = { .src.fd = -1 };
	struct pollfd fired_fd;
	uint64_t start, last_arm;
	bool fired;
	int i;

	tap_plan(6);
	tap_ok(deferred_arm(&w, NS_PER_MS) < 0, "arming before init is refused");
	if (event_loop_init() || deferred_init(&w, run)) {
		tap_ok(0, "cannot set up the event loop");
		return tap_done();
	}

	start = monotonic_ns();
	tap_ok(!deferred_arm(&w, 20 * NS_PER_MS) && !event_loop_run_once() &&
	       runs == 1 && ran_at - start >= 20 * NS_PER_MS,
	       "runs once, no sooner than its delay");

	deferred_arm(&w, 20 * NS_PER_MS);
	sleep_ns(15 * NS_PER_MS);
	last_arm = monotonic_ns();
	deferred_arm(&w, 20 * NS_PER_MS);
	event_loop_run_once();
	tap_ok(runs == 2 && ran_at - last_arm >= 20 * NS_PER_MS,
	       "a second arming puts the pending run off to its own delay");

	/*
	 * Armed every 4 ms with a 5 ms delay for 120 ms: put off until 100 ms
	 * (20 delays), it has fired by the end; put off each time, it would
	 * still be 5 ms away.
	 */
	deferred_arm(&w, 5 * NS_PER_MS);
	for (i = 0; i < 30; i++) {
		sleep_ns(4 * NS_PER_MS);
		deferred_arm(&w, 5 * NS_PER_MS);
	}
	fired_fd = (struct pollfd){ .fd = w.src.fd, .events = POLLIN };
	fired = poll(&fired_fd, 1, 0) == 1;
	event_loop_run_once();
	tap_ok(fired && runs == 3,
	       "armed again and again, it still fires once put off 20 delays");
	tap_ok(!w.armed, "not armed once it ran");

	deferred_fini(&w);
	deferred_fini(&w);
	tap_ok(w.src.fd == -1, "fini twice is harmless");
	event_loop_fini();
	return tap_done();
}
