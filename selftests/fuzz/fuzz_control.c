// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer harness: the control protocol, i.e. whatever a client sends
 * down the control socket.  The input is the byte stream of one
 * connection from a root peer; it goes through the daemon's own
 * connection handler (hyp/control/control.c, included for its static functions)
 * and the real command table, on a socketpair, against the fake domains
 * of fuzz_control_domains.c.  Every reply must be "ok\n<body>" or one
 * "error <code> <message>\n" line.
 */
#include <sys/epoll.h>

#include "../../hyp/control/control.c"
#include "fuzz_check.h"
#include "fuzz_control_domains.h"

/* A few lines' worth: enough to overflow the line limit. */
#define CONTROL_INPUT_MAX	(3 * PVTIME_CTL_MAX_LINE)

static struct control_conn *open_conn;

/* The connection is driven by hand; the event loop only hears of it. */
int event_loop_add(struct event_source *src)
{
	(void)src;
	return 0;
}

void event_loop_remove(struct event_source *src)
{
	if (open_conn && src == &open_conn->sock)
		open_conn = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(false, LOG_LEVEL_ERROR);
	fuzz_domains_init();
	return 0;
}

static size_t read_reply(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len - 1 && (n = recv(fd, buf + got, len - 1 - got, 0)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

static void check_reply(const char *reply, size_t len)
{
	const char *end;
	int code;

	if (!len)
		return;	/* e.g. closed before a complete line */
	if (!strncmp(reply, "ok\n", 3))
		return;
	fuzz_check(sscanf(reply, "error %d ", &code) == 1 &&
		   (code == PVTIME_EXIT_FAILURE || code == PVTIME_EXIT_USAGE),
		   "bad reply: %.80s", reply);
	end = memchr(reply, '\n', len);
	fuzz_check(end && end == reply + len - 1,
		   "error reply is not one line: %.200s", reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char reply[1 << 20];
	struct control_conn *c;
	int sv[2];

	if (size > CONTROL_INPUT_MAX)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	if (size && send(sv[1], data, size, 0) != (ssize_t)size)
		abort();
	shutdown(sv[1], SHUT_WR);

	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->admission = control_slots_admit(&slots, 0);
	c->peer.pid = 1;
	c->sock.fd = sv[0];
	c->sock.handler = on_conn_readable;
	c->deadline.fd = -1;
	open_conn = c;
	while (open_conn)
		on_conn_readable(&c->sock, EPOLLIN);

	check_reply(reply, read_reply(sv[1], reply, sizeof(reply)));
	close(sv[1]);
	return 0;
}
