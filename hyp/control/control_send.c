// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "control/control_send.h"
#include "core/monotonic.h"

int control_send_all(int fd, const void *buf, size_t len, uint64_t deadline_ns)
{
	const char *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		uint64_t now;
		ssize_t n;
		int ms;

		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		now = monotonic_ns();
		if (now >= deadline_ns)
			return -ETIMEDOUT;
		/* Round up: a 0 ms poll would spin until the deadline. */
		ms = (int)((deadline_ns - now + 999999) / 1000000);
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}
