// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/deferred.h"
#include "core/monotonic.h"

/*
 * A run put off this many times its delay already is not put off again:
 * a steady stream of changes still gets its work done.
 */
#define DEFERRED_MAX_PUT_OFF	20

static void on_deferred(struct event_source *src, uint32_t events)
{
	struct deferred *w = (struct deferred *)src;
	uint64_t expirations;

	(void)events;
	w->armed = false;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0)
		return;
	w->run();
}

int deferred_init(struct deferred *w, void (*run)(void))
{
	int ret;

	w->run = run;
	w->armed = false;
	w->armed_at_ns = 0;
	w->src.handler = on_deferred;
	w->src.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (w->src.fd < 0)
		return -errno;
	ret = event_loop_add(&w->src);
	if (ret) {
		close(w->src.fd);
		w->src.fd = -1;
	}
	return ret;
}

int deferred_arm(struct deferred *w, uint64_t delay_ns)
{
	struct itimerspec when = {
		.it_value = {
			.tv_sec = (time_t)(delay_ns / 1000000000u),
			/* 0 would disarm the timer. */
			.tv_nsec = (long)(delay_ns % 1000000000u) ?: 1,
		},
	};

	uint64_t now = monotonic_ns();

	if (w->src.fd < 0)
		return -EBADF;
	if (w->armed && now - w->armed_at_ns >= DEFERRED_MAX_PUT_OFF * delay_ns)
		return 0;
	if (timerfd_settime(w->src.fd, 0, &when, NULL) < 0)
		return -errno;
	if (!w->armed)
		w->armed_at_ns = now;
	w->armed = true;
	return 0;
}

void deferred_fini(struct deferred *w)
{
	if (w->src.fd < 0)
		return;
	event_loop_remove(&w->src);
	close(w->src.fd);
	w->src.fd = -1;
	w->armed = false;
}
