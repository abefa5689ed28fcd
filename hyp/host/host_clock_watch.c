// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "core/log.h"
#include "host/host_clock_watch.h"

static struct event_source tick = { .fd = -1 };
static struct event_source step = { .fd = -1 };
static struct event_source recheck = { .fd = -1 };
static const struct host_clock_watch_ops *listener;

/* Far in the future: the timer exists only to be cancelled by a step. */
static int arm_step_timer(void)
{
	struct itimerspec far = { .it_value.tv_sec = INT32_MAX };

	if (timerfd_settime(step.fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
			    &far, NULL) < 0)
		return -errno;
	return 0;
}

static void on_tick(struct event_source *src, uint32_t events)
{
	uint64_t expirations;

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0)
		return;
	listener->tick();
}

static void on_recheck(struct event_source *src, uint32_t events)
{
	uint64_t expirations;

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0)
		return;
	listener->recheck();
}

void host_clock_watch_recheck_in(uint64_t ns)
{
	struct itimerspec once = {
		.it_value.tv_sec = (time_t)(ns / 1000000000ull),
		.it_value.tv_nsec = (long)(ns % 1000000000ull),
	};

	struct itimerspec pending;

	if (recheck.fd < 0)
		return;	/* the 1 s tick does it */
	if (!once.it_value.tv_sec && !once.it_value.tv_nsec)
		once.it_value.tv_nsec = 1;
	/* An earlier re-check stays: whoever wanted a later one re-arms then. */
	if (!timerfd_gettime(recheck.fd, &pending) &&
	    (pending.it_value.tv_sec || pending.it_value.tv_nsec) &&
	    (pending.it_value.tv_sec < once.it_value.tv_sec ||
	     (pending.it_value.tv_sec == once.it_value.tv_sec &&
	      pending.it_value.tv_nsec <= once.it_value.tv_nsec)))
		return;
	if (timerfd_settime(recheck.fd, 0, &once, NULL) < 0)
		log_debug("cannot arm the stability recheck: %s", strerror(errno));
}

static void on_step(struct event_source *src, uint32_t events)
{
	uint64_t expirations;
	int ret;

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) >= 0 ||
	    errno != ECANCELED)
		return;
	ret = arm_step_timer();
	/* Guests first: each is waiting for its doorbell; the log can wait. */
	listener->stepped();
	if (ret)
		log_error("cannot re-arm the clock-step timer: %s", strerror(-ret));
	log_info("host CLOCK_REALTIME was stepped; wall clocks republished");
}

int host_clock_watch_start(const struct host_clock_watch_ops *ops)
{
	struct itimerspec every_second = {
		.it_value.tv_sec = 1, .it_interval.tv_sec = 1,
	};
	int ret;

	listener = ops;
	tick.handler = on_tick;
	step.handler = on_step;
	recheck.handler = on_recheck;
	tick.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	step.fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	recheck.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (tick.fd < 0 || step.fd < 0 || recheck.fd < 0) {
		ret = -errno;
		goto fail;
	}
	if (timerfd_settime(tick.fd, 0, &every_second, NULL) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = arm_step_timer();
	if (!ret)
		ret = event_loop_add(&tick);
	if (!ret)
		ret = event_loop_add(&step);
	if (!ret)
		ret = event_loop_add(&recheck);
	if (ret)
		goto fail;
	return 0;
fail:
	host_clock_watch_stop();
	return ret;
}

void host_clock_watch_stop(void)
{
	struct event_source *srcs[] = { &tick, &step, &recheck };
	size_t i;

	for (i = 0; i < 3; i++) {
		event_loop_remove(srcs[i]);
		if (srcs[i]->fd >= 0)
			close(srcs[i]->fd);
		srcs[i]->fd = -1;
	}
}
