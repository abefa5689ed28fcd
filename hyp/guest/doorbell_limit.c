// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/log.h"
#include "guest/doorbell_limit.h"

#define LOG_INTERVAL_NS		(60 * 1000000000ull)
#define LOG_BURST		3

uint64_t doorbell_window_count(struct doorbell_window *w, uint64_t now_ns)
{
	if (!w->started || now_ns - w->start_ns >= DOORBELL_WINDOW_NS) {
		w->started = true;
		w->start_ns = now_ns;
		w->wakes = 0;
	}
	if (++w->wakes <= DOORBELL_WAKES_PER_WINDOW)
		return 0;
	/* Never 0 here: 0 means "within the limit". */
	if (w->start_ns + DOORBELL_WINDOW_NS - now_ns == 0)
		return 1;
	return w->start_ns + DOORBELL_WINDOW_NS - now_ns;
}

static void on_resume(struct event_source *src, uint32_t events)
{
	struct doorbell_limit *l = (struct doorbell_limit *)
		((char *)src - offsetof(struct doorbell_limit, resume));
	uint64_t expirations;
	int ret;

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0 &&
	    errno == EAGAIN)
		return;
	event_loop_remove(&l->resume);
	ret = event_loop_add(l->doorbell);
	if (ret)
		log_error("domain %s: cannot watch doorbell vector %u again: %s",
			  l->domain_name, l->vector, strerror(-ret));
}

int doorbell_limit_init(struct doorbell_limit *l, struct event_source *doorbell,
			const char *domain_name, unsigned int vector)
{
	memset(l, 0, sizeof(*l));
	l->doorbell = doorbell;
	l->domain_name = domain_name;
	l->vector = vector;
	l->log_rl = (struct ratelimit)RATELIMIT_INIT(LOG_INTERVAL_NS, LOG_BURST);
	l->resume.handler = on_resume;
	l->resume.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	return l->resume.fd < 0 ? -errno : 0;
}

void doorbell_limit_fini(struct doorbell_limit *l)
{
	if (l->resume.fd < 0)
		return;
	event_loop_remove(&l->resume);
	close(l->resume.fd);
	l->resume.fd = -1;
}

void doorbell_limit_wake(struct doorbell_limit *l)
{
	uint64_t wait_ns = doorbell_window_count(&l->window, monotonic_ns());
	struct itimerspec its = {
		.it_value = {
			.tv_sec = (time_t)(wait_ns / 1000000000ull),
			.tv_nsec = (long)(wait_ns % 1000000000ull),
		},
	};
	int ret;

	l->wakes++;
	if (!wait_ns)
		return;
	if (timerfd_settime(l->resume.fd, 0, &its, NULL) < 0) {
		log_ratelimited(&l->log_rl, LOG_LEVEL_ERROR,
				"domain %s: cannot hold off doorbell vector %u: %s",
				l->domain_name, l->vector, strerror(errno));
		return;
	}
	ret = event_loop_add(&l->resume);
	if (ret) {
		log_ratelimited(&l->log_rl, LOG_LEVEL_ERROR,
				"domain %s: cannot hold off doorbell vector %u: %s",
				l->domain_name, l->vector, strerror(-ret));
		return;
	}
	event_loop_remove(l->doorbell);
	l->held_off++;
	log_ratelimited(&l->log_rl, LOG_LEVEL_WARN,
			"domain %s: doorbell vector %u rung more than %u times in %llu ms; not watched for %llu ms (%lu times so far)",
			l->domain_name, l->vector, DOORBELL_WAKES_PER_WINDOW,
			DOORBELL_WINDOW_NS / 1000000,
			(unsigned long long)(wait_ns / 1000000), l->held_off);
}
