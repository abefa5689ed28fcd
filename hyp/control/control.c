// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Control socket server.  Each connection is non-blocking in the event loop
 * with its own deadline (a timerfd), so a slow or hostile client costs a
 * file descriptor for a few seconds and never stalls the daemon.  Peers
 * other than uid 0 are refused (after their request line, before anything
 * in it is looked at); they draw from their own small pool of slots with a
 * short deadline (control_slots.h), so they cannot lock root out, and the
 * warnings about them are rate-limited.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "pvtime_ctl.h"
#include "control/control.h"
#include "control/control_commands.h"
#include "control/control_send.h"
#include "control/control_slots.h"
#include "core/emit.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "core/monotonic.h"
#include "core/ratelimit.h"

#define CONTROL_REQUEST_TIMEOUT_S	5
#define CONTROL_SEND_TIMEOUT_S		2
/* A refused peer's request line is waited for this long. */
#define CONTROL_REFUSED_TIMEOUT_MS	500
/* Warnings about peers: at most this many per minute per kind. */
#define CONTROL_WARN_BURST		5
#define CONTROL_WARN_INTERVAL_NS	(60 * 1000000000ull)

struct control_conn {
	struct event_source sock;
	struct event_source deadline;
	struct ucred peer;
	enum control_admission admission;
	bool refused;		/* not root: answered "permission denied" */
	bool too_long;		/* line overflowed: discarding up to its end */
	size_t len;
	char line[PVTIME_CTL_MAX_LINE + 1];
};

static struct event_source listener = { .fd = -1 };
static char *listener_path;
static struct control_slots slots;
static struct ratelimit refused_rl =
	RATELIMIT_INIT(CONTROL_WARN_INTERVAL_NS, CONTROL_WARN_BURST);
static struct ratelimit busy_rl =
	RATELIMIT_INIT(CONTROL_WARN_INTERVAL_NS, CONTROL_WARN_BURST);
static struct ratelimit client_rl =
	RATELIMIT_INIT(CONTROL_WARN_INTERVAL_NS, CONTROL_WARN_BURST);

/* Warnings a local user can trigger at will go through a rate limit. */
#define control_warn_limited(rl, ...) \
	log_ratelimited((rl), LOG_LEVEL_WARN, __VA_ARGS__)

static void conn_close(struct control_conn *c)
{
	event_loop_remove(&c->sock);
	event_loop_remove(&c->deadline);
	close(c->sock.fd);
	if (c->deadline.fd >= 0)
		close(c->deadline.fd);
	control_slots_release(&slots, c->admission);
	free(c);
}

/*
 * Deadline of the reply being sent (the event loop serves one at a time):
 * the whole reply, not each send(), is bounded, so a client reading a
 * little at a time cannot hold the daemon longer than CONTROL_SEND_TIMEOUT_S.
 */
static uint64_t reply_deadline_ns;

static void reply_begin(uint64_t timeout_ns)
{
	reply_deadline_ns = monotonic_ns() + timeout_ns;
}

/* Best effort before the reply's deadline; a client that does not read loses. */
static void send_all(int fd, const char *buf, size_t len)
{
	int ret = control_send_all(fd, buf, len, reply_deadline_ns);

	if (ret)
		log_debug("control: reply not delivered: %s", strerror(-ret));
}

/* Error replies are one line: newlines in messages become spaces. */
static void send_error(int fd, int code, const char *msg)
{
	char line[PVTIME_CTL_MAX_LINE];
	char *p;
	int n;

	n = snprintf(line, sizeof(line) - 1, "error %d %s", code, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n] = '\0';
	for (p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	line[n] = '\n';
	send_all(fd, line, (size_t)n + 1);
}

/* Split on single spaces; arguments are percent-unescaped. */
static int split_request(char *line, char **words, int max_words, int *nr,
			 char *err, size_t errlen)
{
	int n = 0;
	char *p = line;

	while (*p) {
		char *word = p;

		if (n == max_words) {
			snprintf(err, errlen, "too many arguments (at most %d)",
				 max_words - 2);
			return -1;
		}
		p = strchr(p, ' ');
		if (p)
			*p++ = '\0';
		else
			p = word + strlen(word);
		if (!*word) {
			snprintf(err, errlen, "malformed request: empty word");
			return -1;
		}
		if (pvtime_ctl_unescape(word)) {
			snprintf(err, errlen, "malformed request: bad percent escape");
			return -1;
		}
		words[n++] = word;
	}
	*nr = n;
	return 0;
}

static void serve_request(struct control_conn *c)
{
	char *words[PVTIME_CTL_MAX_ARGS + 2];
	const struct control_command *cmd;
	char err[1024] = "";
	struct emit e;
	const char *body;
	int nr, format, code;
	size_t i;

	for (i = 0; i < c->len; i++) {
		unsigned char ch = (unsigned char)c->line[i];

		if (ch < 0x20 || ch == 0x7f) {
			send_error(c->sock.fd, PVTIME_EXIT_USAGE,
				   "malformed request: control character");
			return;
		}
	}
	if (split_request(c->line, words, PVTIME_CTL_MAX_ARGS + 2, &nr, err,
			  sizeof(err))) {
		send_error(c->sock.fd, PVTIME_EXIT_USAGE, err);
		return;
	}
	if (nr < 2) {
		send_error(c->sock.fd, PVTIME_EXIT_USAGE,
			   "malformed request: expected '<text|json> <command> [arg...]'");
		return;
	}
	format = emit_format_parse(words[0]);
	if (format < 0) {
		snprintf(err, sizeof(err), "bad format '%.64s' (expected text or json)",
			 words[0]);
		send_error(c->sock.fd, PVTIME_EXIT_USAGE, err);
		return;
	}
	cmd = control_command_find(words[1]);
	if (!cmd) {
		snprintf(err, sizeof(err), "unknown command '%.64s'", words[1]);
		send_error(c->sock.fd, PVTIME_EXIT_USAGE, err);
		return;
	}
	if (nr - 2 < cmd->min_args || nr - 2 > cmd->max_args) {
		snprintf(err, sizeof(err), "usage: %s%s%s", cmd->name,
			 cmd->usage[0] ? " " : "", cmd->usage);
		send_error(c->sock.fd, PVTIME_EXIT_USAGE, err);
		return;
	}
	log_debug("control: pid %d: %s", (int)c->peer.pid, cmd->name);
	emit_begin(&e, (enum emit_format)format);
	code = cmd->handler(nr - 2, words + 2, &e, err, sizeof(err));
	body = emit_finish(&e);
	if (code == PVTIME_EXIT_OK && !body) {
		code = PVTIME_EXIT_FAILURE;
		snprintf(err, sizeof(err), "out of memory rendering the reply");
	}
	if (code == PVTIME_EXIT_OK) {
		send_all(c->sock.fd, "ok\n", 3);
		send_all(c->sock.fd, body, strlen(body));
	} else {
		send_error(c->sock.fd, code, err[0] ? err : "failed");
	}
	emit_release(&e);
}

static void on_conn_readable(struct event_source *src, uint32_t events)
{
	struct control_conn *c = (struct control_conn *)src;
	char *newline;
	ssize_t n;

	(void)events;
	n = recv(src->fd, c->line + c->len, PVTIME_CTL_MAX_LINE - c->len,
		 MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_close(c);
		return;
	}
	if (n == 0) {
		if (c->len && !c->refused)
			control_warn_limited(&client_rl,
					     "control: pid %d closed before finishing its request",
					     (int)c->peer.pid);
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	c->line[c->len] = '\0';
	newline = memchr(c->line, '\n', c->len);
	if (!newline) {
		/*
		 * Keep reading (and dropping) an oversized line up to its end,
		 * bounded by the request deadline: closing with unread data
		 * would reset the connection and the client would never see
		 * the error.
		 */
		if (c->len >= PVTIME_CTL_MAX_LINE) {
			c->too_long = true;
			c->len = 0;
		}
		return;
	}
	*newline = '\0';
	c->len = (size_t)(newline - c->line);
	/* The reply may exceed the socket buffer: wait for room, bounded. */
	reply_begin(CONTROL_SEND_TIMEOUT_S * 1000000000ull);
	if (c->too_long)
		send_error(src->fd, PVTIME_EXIT_USAGE, "request too long");
	else if (c->refused)
		send_error(src->fd, PVTIME_EXIT_FAILURE, "permission denied");
	else
		serve_request(c);
	conn_close(c);
}

static void on_conn_deadline(struct event_source *src, uint32_t events)
{
	struct control_conn *c =
		(struct control_conn *)((char *)src -
					offsetof(struct control_conn, deadline));

	(void)events;
	reply_begin(CONTROL_SEND_TIMEOUT_S * 1000000000ull);
	if (c->refused) {
		send_error(c->sock.fd, PVTIME_EXIT_FAILURE, "permission denied");
	} else {
		control_warn_limited(&client_rl,
				     "control: pid %d sent no complete request within %d s; dropped",
				     (int)c->peer.pid, CONTROL_REQUEST_TIMEOUT_S);
		send_error(c->sock.fd, PVTIME_EXIT_USAGE, "request timed out");
	}
	conn_close(c);
}

static void on_listener(struct event_source *src, uint32_t events)
{
	struct itimerspec deadline = { .it_value.tv_sec = CONTROL_REQUEST_TIMEOUT_S };
	struct itimerspec refused_deadline = {
		.it_value.tv_nsec = CONTROL_REFUSED_TIMEOUT_MS * 1000000l,
	};
	enum control_admission admission;
	socklen_t len = sizeof(struct ucred);
	struct control_conn *c;
	struct ucred peer;
	int fd;

	(void)events;
	fd = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control: accept: %s", strerror(errno));
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0) {
		log_warn("control: SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return;
	}
	/*
	 * A refused peer still gets its request read before the answer:
	 * closing on unread data would reset the connection and lose the
	 * reply.  Nothing in the request is looked at.
	 */
	if (peer.uid != 0)
		control_warn_limited(&refused_rl,
				     "control: refused pid %d uid %u: permission denied",
				     (int)peer.pid, (unsigned int)peer.uid);
	admission = control_slots_admit(&slots, peer.uid);
	if (admission == CONTROL_REJECT_BUSY) {
		if (peer.uid == 0)
			control_warn_limited(&busy_rl,
					     "control: too many connections; refusing pid %d",
					     (int)peer.pid);
		reply_begin(0);	/* one attempt: a short line fits the buffer */
		send_error(fd, PVTIME_EXIT_FAILURE,
			   peer.uid == 0 ? "too many connections" : "permission denied");
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		control_slots_release(&slots, admission);
		close(fd);
		return;
	}
	c->admission = admission;
	c->peer = peer;
	c->refused = admission == CONTROL_ADMIT_REFUSED;
	c->sock.fd = fd;
	c->sock.handler = on_conn_readable;
	c->deadline.handler = on_conn_deadline;
	c->deadline.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->deadline.fd < 0 ||
	    timerfd_settime(c->deadline.fd, 0,
			    c->refused ? &refused_deadline : &deadline, NULL) < 0 ||
	    event_loop_add(&c->deadline) || event_loop_add(&c->sock)) {
		log_error("control: cannot watch a connection: %s", strerror(errno));
		conn_close(c);
	}
}

int control_start(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A live daemon answers a connect; only a dead one's socket is replaced. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		log_error("another pvtimed is serving %s", path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT)
		goto fail;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto fail;
	/* Only root is served (SO_PEERCRED below): only root may connect. */
	if (chmod(path, 0600) < 0 || listen(fd, 16) < 0)
		goto fail;
	listener_path = strdup(path);
	listener.fd = fd;
	listener.handler = on_listener;
	err = event_loop_add(&listener);
	if (err) {
		close(fd);
		listener.fd = -1;
		return err;
	}
	return 0;
fail:
	err = -errno;
	log_error("control socket %s: %s", path, strerror(errno));
	close(fd);
	return err;
}

const char *control_socket_path(void)
{
	return listener_path;
}

void control_stop(void)
{
	if (listener.fd < 0)
		return;
	event_loop_remove(&listener);
	close(listener.fd);
	listener.fd = -1;
	if (listener_path)
		unlink(listener_path);
	free(listener_path);
	listener_path = NULL;
}
