// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/sd_notify.h"

int sd_notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len, state_len = strlen(state);
	socklen_t addr_len;
	ssize_t sent;
	int fd, err;

	if (!path || !*path)
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path))
		return -EINVAL;
	memcpy(addr.sun_path, path, len);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';	/* abstract namespace */
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
			       (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, state, state_len, MSG_NOSIGNAL,
		      (struct sockaddr *)&addr, addr_len);
	err = sent < 0 ? -errno : (size_t)sent == state_len ? 1 : -EIO;
	close(fd);
	return err;
}
