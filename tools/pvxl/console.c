// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "console.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "control_client.h"
#include "pvtime_ctl.h"

static bool write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = fd == STDOUT_FILENO ? write(fd, buf, len) :
				send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* SIGTERM/SIGHUP end the session so the terminal leaves raw mode. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

struct relay {
	int sock;
	bool stdin_is_tty;
	bool stdin_open;
};

/* Returns 1 to go on, 0 when the session is over, -1 on error. */
static int relay_stdin(struct relay *r)
{
	char buf[4096];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	size_t len;
	char *escape;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -1;
	if (n == 0) {
		/* Keep showing the guest's output; QEMU would drop us on half-close. */
		r->stdin_open = false;
		return 1;
	}
	len = (size_t)n;
	escape = r->stdin_is_tty ? memchr(buf, PVXL_CONSOLE_ESCAPE, len) : NULL;
	if (escape)
		len = (size_t)(escape - buf);
	if (!write_all(r->sock, buf, len))
		return -1;
	return escape ? 0 : 1;
}

static int relay_socket(struct relay *r)
{
	char buf[4096];
	ssize_t n = read(r->sock, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -1;
	if (n == 0)
		return 0;
	return write_all(STDOUT_FILENO, buf, (size_t)n) ? 1 : -1;
}

static int relay_loop(struct relay *r)
{
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = r->sock, .events = POLLIN },
			{ .fd = r->stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
		};
		int rc;

		if (poll(fds, 2, -1) < 0) {
			if (errno != EINTR)
				return -1;
			if (stop_signal)
				return 0;
			continue;
		}
		if (fds[0].revents) {
			rc = relay_socket(r);
			if (rc <= 0)
				return rc;
		}
		if (fds[1].revents) {
			rc = relay_stdin(r);
			if (rc <= 0)
				return rc;
		}
	}
}

int pvxl_console_relay(const char *domain, const char *path)
{
	struct relay r = { .stdin_open = true };
	struct sigaction sa = { .sa_handler = on_stop_signal };
	struct termios saved, raw;
	int rc;

	r.sock = pvxl_unix_connect(path, "console of domain");
	if (r.sock < 0)
		return PVTIME_EXIT_FAILURE;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	r.stdin_is_tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (r.stdin_is_tty) {
		raw = saved;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw)) {
			fprintf(stderr, "pvxl: console: cannot set raw mode: %s\n",
				strerror(errno));
			close(r.sock);
			return PVTIME_EXIT_FAILURE;
		}
		fprintf(stderr, "Connected to %s console; escape character is '^]'\r\n",
			domain);
	}
	rc = relay_loop(&r);
	if (rc < 0)
		rc = errno ? errno : EIO;
	if (r.stdin_is_tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(r.sock);
	if (rc) {
		fprintf(stderr, "pvxl: console: %s\n", strerror(rc));
		return PVTIME_EXIT_FAILURE;
	}
	return PVTIME_EXIT_OK;
}
