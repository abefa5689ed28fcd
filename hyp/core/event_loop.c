// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/event_loop.h"

static int epoll_fd = -1;

int event_loop_init(void)
{
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	return epoll_fd < 0 ? -errno : 0;
}

void event_loop_fini(void)
{
	if (epoll_fd >= 0)
		close(epoll_fd);
	epoll_fd = -1;
}

int event_loop_add(struct event_source *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, src->fd, &ev) < 0)
		return -errno;
	src->registered = true;
	return 0;
}

void event_loop_remove(struct event_source *src)
{
	if (!src->registered)
		return;
	epoll_ctl(epoll_fd, EPOLL_CTL_DEL, src->fd, NULL);
	src->registered = false;
}

int event_loop_run_once(void)
{
	struct epoll_event ev;
	struct event_source *src;
	int n;

	/* One event per wakeup: no stale pointers after a handler frees. */
	n = epoll_wait(epoll_fd, &ev, 1, -1);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return 0;
	src = ev.data.ptr;
	src->handler(src, ev.events);
	return 0;
}
