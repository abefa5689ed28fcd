// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "domain.h"
#include "event_loop.h"
#include "log.h"
#include "time_source_watch.h"

static struct event_source changed = { .fd = -1 };

static void on_changed(struct event_source *src, uint32_t events)
{
	uint64_t count;

	(void)events;
	if (read(src->fd, &count, sizeof(count)) < 0)
		return;
	/* Forced and rung, as after a host step: every guest steps now. */
	domain_republish_wallclocks(true);
}

void time_source_wallclock_changed(void)
{
	uint64_t one = 1;

	/* Only EAGAIN (counter full) can fail: a wake-up is pending then. */
	if (changed.fd >= 0 && write(changed.fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		log_error("cannot wake the event loop for a wall-clock change: %s",
			  strerror(errno));
}

int time_source_watch_start(void)
{
	int ret;

	changed.handler = on_changed;
	changed.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (changed.fd < 0)
		return -errno;
	ret = event_loop_add(&changed);
	if (ret)
		time_source_watch_stop();
	return ret;
}

void time_source_watch_stop(void)
{
	event_loop_remove(&changed);
	if (changed.fd >= 0)
		close(changed.fd);
	changed.fd = -1;
}
