// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * QMP client (qmp.h).  The JSON handling is only what QMP replies need: a
 * validating recursive-descent reader over one framed message that decodes
 * the few strings we look at and skips everything else.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pvclock_math.h"
#include "pvtime_ctl.h"
#include "core/monotonic.h"
#include "domain/qmp.h"

/* ---- framing ---- */

static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum qmp_frame_status qmp_frame_next(const char *buf, size_t len,
				     size_t *start, size_t *end)
{
	bool in_string = false, escaped = false;
	unsigned int depth = 0;
	size_t i = 0;

	while (i < len && is_json_space(buf[i]))
		i++;
	if (i == len)
		return QMP_FRAME_INCOMPLETE;
	if (buf[i] != '{')
		return QMP_FRAME_BAD;
	*start = i;
	for (; i < len; i++) {
		char c = buf[i];

		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			/* Mismatched kinds are left to the parser to reject. */
			if (--depth == 0) {
				*end = i + 1;
				return QMP_FRAME_COMPLETE;
			}
		}
	}
	return QMP_FRAME_INCOMPLETE;
}

/* ---- parsing ---- */

struct json_reader {
	const char *start;
	const char *pos;
	const char *end;
	int depth;
	char *err;
	size_t errlen;
	bool failed;
};

__attribute__((format(printf, 2, 3)))
static int json_fail(struct json_reader *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->failed) {
		r->failed = true;
		va_start(ap, fmt);
		vsnprintf(r->err, r->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void json_skip_space(struct json_reader *r)
{
	while (r->pos < r->end && is_json_space(*r->pos))
		r->pos++;
}

/* The next non-space byte, or '\0' at the end (never valid JSON there). */
static char json_peek(struct json_reader *r)
{
	json_skip_space(r);
	return r->pos < r->end ? *r->pos : '\0';
}

static int json_expect(struct json_reader *r, char c)
{
	if (json_peek(r) != c) {
		if (r->pos >= r->end)
			return json_fail(r, "truncated message (expected '%c')", c);
		return json_fail(r, "expected '%c' at offset %td", c,
				 r->pos - r->start);
	}
	r->pos++;
	return 0;
}

static int json_read_hex4(struct json_reader *r, unsigned int *out)
{
	unsigned int v = 0;
	int i;

	if (r->end - r->pos < 4)
		return json_fail(r, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		int d = pvtime_ctl_hexval(r->pos[i]);

		if (d < 0)
			return json_fail(r, "bad \\u escape");
		v = v << 4 | (unsigned int)d;
	}
	r->pos += 4;
	*out = v;
	return 0;
}

/* Appends to a bounded buffer; what does not fit is dropped. */
struct text_sink {
	char *buf;
	size_t cap;
	size_t len;
};

static void sink_put(struct text_sink *s, char c)
{
	if (s && s->buf && s->len + 1 < s->cap) {
		s->buf[s->len++] = c;
		s->buf[s->len] = '\0';
	}
}

static void sink_put_utf8(struct text_sink *s, unsigned int cp)
{
	if (cp < 0x80) {
		sink_put(s, (char)cp);
	} else if (cp < 0x800) {
		sink_put(s, (char)(0xc0 | cp >> 6));
		sink_put(s, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		sink_put(s, (char)(0xe0 | cp >> 12));
		sink_put(s, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sink_put(s, (char)(0x80 | (cp & 0x3f)));
	} else {
		sink_put(s, (char)(0xf0 | cp >> 18));
		sink_put(s, (char)(0x80 | ((cp >> 12) & 0x3f)));
		sink_put(s, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sink_put(s, (char)(0x80 | (cp & 0x3f)));
	}
}

/* A string, decoded into out (may be NULL: validate only). */
static int json_string(struct json_reader *r, struct text_sink *out)
{
	if (json_expect(r, '"'))
		return -1;
	for (;;) {
		unsigned char c;

		if (r->pos >= r->end)
			return json_fail(r, "unterminated string");
		c = (unsigned char)*r->pos++;
		if (c == '"')
			return 0;
		if (c < 0x20)
			return json_fail(r, "control character 0x%02x in a string", c);
		if (c != '\\') {
			sink_put(out, (char)c);
			continue;
		}
		if (r->pos >= r->end)
			return json_fail(r, "unterminated string");
		c = (unsigned char)*r->pos++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			sink_put(out, (char)c);
			break;
		case 'b':
			sink_put(out, '\b');
			break;
		case 'f':
			sink_put(out, '\f');
			break;
		case 'n':
			sink_put(out, '\n');
			break;
		case 'r':
			sink_put(out, '\r');
			break;
		case 't':
			sink_put(out, '\t');
			break;
		case 'u': {
			unsigned int cp, low;

			if (json_read_hex4(r, &cp))
				return -1;
			if (cp >= 0xd800 && cp < 0xdc00 && r->end - r->pos >= 6 &&
			    r->pos[0] == '\\' && r->pos[1] == 'u') {
				r->pos += 2;
				if (json_read_hex4(r, &low))
					return -1;
				if (low >= 0xdc00 && low < 0xe000)
					cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
				else
					cp = 0xfffd;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;	/* lone surrogate */
			}
			sink_put_utf8(out, cp);
			break;
		}
		default:
			return json_fail(r, "bad escape '\\%c' in a string", c);
		}
	}
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 8259 number; *is_uint and *value when it is a plain non-negative integer. */
static int json_number(struct json_reader *r, bool *is_uint, uint64_t *value)
{
	bool overflow = false, integer = true, negative = false;
	uint64_t v = 0;

	json_skip_space(r);
	if (r->pos < r->end && *r->pos == '-') {
		negative = true;
		r->pos++;
	}
	if (r->pos >= r->end || !is_digit(*r->pos))
		return json_fail(r, "bad number");
	if (*r->pos == '0') {
		r->pos++;
	} else {
		while (r->pos < r->end && is_digit(*r->pos)) {
			unsigned int d = (unsigned int)(*r->pos++ - '0');

			if (v > (UINT64_MAX - d) / 10)
				overflow = true;
			else
				v = v * 10 + d;
		}
	}
	if (r->pos < r->end && *r->pos == '.') {
		integer = false;
		r->pos++;
		if (r->pos >= r->end || !is_digit(*r->pos))
			return json_fail(r, "bad number");
		while (r->pos < r->end && is_digit(*r->pos))
			r->pos++;
	}
	if (r->pos < r->end && (*r->pos == 'e' || *r->pos == 'E')) {
		integer = false;
		r->pos++;
		if (r->pos < r->end && (*r->pos == '+' || *r->pos == '-'))
			r->pos++;
		if (r->pos >= r->end || !is_digit(*r->pos))
			return json_fail(r, "bad number");
		while (r->pos < r->end && is_digit(*r->pos))
			r->pos++;
	}
	if (is_uint)
		*is_uint = integer && !negative && !overflow;
	if (value)
		*value = v;
	return 0;
}

static int json_literal(struct json_reader *r, const char *word)
{
	size_t n = strlen(word);

	json_skip_space(r);
	if ((size_t)(r->end - r->pos) < n || memcmp(r->pos, word, n))
		return json_fail(r, "bad value");
	r->pos += n;
	return 0;
}

static int json_value(struct json_reader *r);

/*
 * Walk an object's members; for each, 'member' reads the value after the
 * key (or returns 1 to have it skipped).  Keys are decoded into a bounded
 * buffer: a key longer than that cannot match any name we look for.
 */
static int json_object(struct json_reader *r,
		       int (*member)(struct json_reader *r, const char *key,
				     void *ctx),
		       void *ctx)
{
	char key[64];

	if (json_expect(r, '{'))
		return -1;
	if (++r->depth > QMP_DEPTH_MAX)
		return json_fail(r, "nested deeper than %d levels", QMP_DEPTH_MAX);
	if (json_peek(r) == '}') {
		r->pos++;
		r->depth--;
		return 0;
	}
	for (;;) {
		struct text_sink sink = { key, sizeof(key), 0 };
		int ret;

		key[0] = '\0';
		if (json_peek(r) == '\0')
			return json_fail(r, "truncated message (expected a member name)");
		if (json_peek(r) != '"')
			return json_fail(r, "expected a member name");
		if (json_string(r, &sink) || json_expect(r, ':'))
			return -1;
		ret = member ? member(r, key, ctx) : 1;
		if (ret < 0)
			return -1;
		if (ret > 0 && json_value(r))
			return -1;
		if (json_peek(r) == ',') {
			r->pos++;
			continue;
		}
		if (json_expect(r, '}'))
			return -1;
		r->depth--;
		return 0;
	}
}

static int json_array(struct json_reader *r)
{
	if (json_expect(r, '['))
		return -1;
	if (++r->depth > QMP_DEPTH_MAX)
		return json_fail(r, "nested deeper than %d levels", QMP_DEPTH_MAX);
	if (json_peek(r) == ']') {
		r->pos++;
		r->depth--;
		return 0;
	}
	for (;;) {
		if (json_value(r))
			return -1;
		if (json_peek(r) == ',') {
			r->pos++;
			continue;
		}
		if (json_expect(r, ']'))
			return -1;
		r->depth--;
		return 0;
	}
}

static int json_value(struct json_reader *r)
{
	switch (json_peek(r)) {
	case '{':
		return json_object(r, NULL, NULL);
	case '[':
		return json_array(r);
	case '"':
		return json_string(r, NULL);
	case 't':
		return json_literal(r, "true");
	case 'f':
		return json_literal(r, "false");
	case 'n':
		return json_literal(r, "null");
	case '\0':
		return json_fail(r, "truncated message (expected a value)");
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return json_number(r, NULL, NULL);
	default:
		if (*r->pos > 0x20 && *r->pos < 0x7f)
			return json_fail(r, "unexpected '%c' where a value belongs",
					 *r->pos);
		return json_fail(r, "unexpected byte 0x%02x where a value belongs",
				 (unsigned char)*r->pos);
	}
}

/* Members of a message we care about, and which kinds were seen. */
struct message_scan {
	struct qmp_message *msg;
	unsigned int kinds;		/* bit per enum qmp_message_kind */
	bool has_class, has_desc;
};

static int error_member(struct json_reader *r, const char *key, void *ctx)
{
	struct message_scan *s = ctx;
	struct text_sink sink = { NULL, 0, 0 };

	if (!strcmp(key, "class")) {
		sink = (struct text_sink){ s->msg->error_class, QMP_TEXT_MAX, 0 };
		s->has_class = true;
	} else if (!strcmp(key, "desc")) {
		sink = (struct text_sink){ s->msg->error_desc, QMP_TEXT_MAX, 0 };
		s->has_desc = true;
	} else {
		return 1;
	}
	if (json_peek(r) != '"')
		return json_fail(r, "error %s is not a string", key);
	return json_string(r, &sink);
}

static int note_kind(struct json_reader *r, struct message_scan *s,
		     enum qmp_message_kind kind, const char *key)
{
	if (s->kinds & (1u << kind))
		return json_fail(r, "duplicate member '%s'", key);
	s->kinds |= 1u << kind;
	s->msg->kind = kind;
	return 0;
}

static int message_member(struct json_reader *r, const char *key, void *ctx)
{
	struct message_scan *s = ctx;
	struct qmp_message *msg = s->msg;

	if (!strcmp(key, "QMP")) {
		if (note_kind(r, s, QMP_MSG_GREETING, key))
			return -1;
		if (json_peek(r) != '{')
			return json_fail(r, "greeting 'QMP' is not an object");
		return 1;
	}
	if (!strcmp(key, "event")) {
		struct text_sink sink = { msg->event, sizeof(msg->event), 0 };

		if (note_kind(r, s, QMP_MSG_EVENT, key))
			return -1;
		if (json_peek(r) != '"')
			return json_fail(r, "event name is not a string");
		return json_string(r, &sink);
	}
	if (!strcmp(key, "return")) {
		const char *from;
		size_t n;

		if (note_kind(r, s, QMP_MSG_RETURN, key))
			return -1;
		json_skip_space(r);
		from = r->pos;
		if (json_value(r))
			return -1;
		n = (size_t)(r->pos - from);
		msg->ret_truncated = n >= sizeof(msg->ret);
		if (msg->ret_truncated)
			n = sizeof(msg->ret) - 1;
		memcpy(msg->ret, from, n);
		msg->ret[n] = '\0';
		return 0;
	}
	if (!strcmp(key, "error")) {
		if (note_kind(r, s, QMP_MSG_ERROR, key))
			return -1;
		if (json_peek(r) != '{')
			return json_fail(r, "'error' is not an object");
		if (json_object(r, error_member, s))
			return -1;
		if (!s->has_class || !s->has_desc)
			return json_fail(r, "error without %s",
					 s->has_class ? "'desc'" : "'class'");
		return 0;
	}
	if (!strcmp(key, "id")) {
		if (json_peek(r) == '-' || (json_peek(r) >= '0' && json_peek(r) <= '9'))
			return json_number(r, &msg->has_id, &msg->id);
		return 1;	/* a client may use any JSON value; ours are numbers */
	}
	return 1;
}

int qmp_message_parse(const char *text, size_t len, struct qmp_message *msg,
		      char *err, size_t errlen)
{
	struct json_reader r = {
		.start = text, .pos = text, .end = text + len,
		.err = err, .errlen = errlen,
	};
	struct message_scan scan = { .msg = msg };
	unsigned int kinds;

	memset(msg, 0, sizeof(*msg));
	if (json_peek(&r) != '{')
		return json_fail(&r, "message is not a JSON object");
	if (json_object(&r, message_member, &scan))
		return -1;
	if (json_peek(&r) != '\0')
		return json_fail(&r, "text after the message's closing '}'");
	kinds = scan.kinds;
	if (!kinds)
		return json_fail(&r, "message has none of QMP, event, return, error");
	if (kinds & (kinds - 1))
		return json_fail(&r, "message is more than one of QMP, event, return, error");
	return 0;
}

/* ---- the connection ---- */

struct qmp_conn {
	const char *path;
	const char *command;		/* for messages */
	int fd;
	uint64_t deadline_ns;
	unsigned int timeout_ms;
	bool awaiting_greeting;
	char *buf;
	size_t len;
	char *err;
	size_t errlen;
};

/* Milliseconds left until the deadline, rounded up; 0 when past it. */
static int remaining_ms(const struct qmp_conn *q)
{
	uint64_t now = monotonic_ns();

	if (now >= q->deadline_ns)
		return 0;
	return (int)((q->deadline_ns - now + 999999) / 1000000);
}

__attribute__((format(printf, 2, 3)))
static int conn_fail(struct qmp_conn *q, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	snprintf(q->err, q->errlen, "QMP %s: ", q->command);
	used = strlen(q->err);
	va_start(ap, fmt);
	vsnprintf(q->err + used, q->errlen - used, fmt, ap);
	va_end(ap);
	return -1;
}

/* Wait for 'events' on the socket until the deadline. */
static int conn_wait(struct qmp_conn *q, short events, const char *waiting_for)
{
	struct pollfd pfd = { .fd = q->fd, .events = events };

	for (;;) {
		int left = remaining_ms(q);
		int n;

		if (!left)
			return conn_fail(q, "timed out after %u ms waiting for %s on %s%s",
					 q->timeout_ms, waiting_for, q->path,
					 q->awaiting_greeting ?
					 " (QEMU busy, or another QMP client connected)" : "");
		n = poll(&pfd, 1, left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return conn_fail(q, "poll: %s", strerror(errno));
	}
}

static int conn_connect(struct qmp_conn *q)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timespec backoff = { .tv_nsec = 5 * 1000 * 1000 };

	if (strlen(q->path) >= sizeof(addr.sun_path))
		return conn_fail(q, "socket path too long: %s", q->path);
	strcpy(addr.sun_path, q->path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd < 0)
		return conn_fail(q, "socket: %s", strerror(errno));
	for (;;) {
		if (!connect(q->fd, (struct sockaddr *)&addr, sizeof(addr)))
			return 0;
		if (errno == EINTR)
			continue;
		/*
		 * EAGAIN: the backlog is full, QEMU is slow to accept.
		 * ENOENT, ECONNREFUSED: a QEMU just started has not set up
		 * its QMP socket yet.  Either way, wait within the deadline.
		 */
		if ((errno == EAGAIN || errno == ENOENT ||
		     errno == ECONNREFUSED) && remaining_ms(q)) {
			nanosleep(&backoff, NULL);
			continue;
		}
		if (errno == EAGAIN)
			return conn_fail(q, "cannot connect to %s within %u ms",
					 q->path, q->timeout_ms);
		return conn_fail(q, "cannot connect to %s: %s", q->path,
				 strerror(errno));
	}
}

static int conn_send(struct qmp_conn *q, const char *text)
{
	size_t len = strlen(text), done = 0;

	while (done < len) {
		ssize_t n = send(q->fd, text + done, len - done, MSG_NOSIGNAL);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (conn_wait(q, POLLOUT, "room to send"))
				return -1;
			continue;
		}
		return conn_fail(q, "send: %s", n < 0 ? strerror(errno) : "nothing sent");
	}
	return 0;
}

/* Read until one whole message is buffered; parse it and drop it. */
static int conn_read_message(struct qmp_conn *q, struct qmp_message *msg,
			     const char *waiting_for)
{
	char why[160];

	for (;;) {
		size_t start = 0, end = 0;
		enum qmp_frame_status st = qmp_frame_next(q->buf, q->len, &start, &end);
		ssize_t n;

		if (st == QMP_FRAME_BAD)
			return conn_fail(q, "malformed message from QEMU (not a JSON object)");
		if (st == QMP_FRAME_COMPLETE) {
			int ret = qmp_message_parse(q->buf + start, end - start, msg,
						    why, sizeof(why));

			memmove(q->buf, q->buf + end, q->len - end);
			q->len -= end;
			if (ret)
				return conn_fail(q, "malformed message from QEMU: %s", why);
			return 0;
		}
		if (q->len == QMP_MESSAGE_MAX)
			return conn_fail(q, "message from QEMU longer than %d bytes",
					 QMP_MESSAGE_MAX);
		n = recv(q->fd, q->buf + q->len, QMP_MESSAGE_MAX - q->len, 0);
		if (n > 0) {
			q->len += (size_t)n;
		} else if (n == 0) {
			return conn_fail(q, "QEMU closed the connection while we waited for %s",
					 waiting_for);
		} else if (errno == EAGAIN) {
			if (conn_wait(q, POLLIN, waiting_for))
				return -1;
		} else if (errno != EINTR) {
			return conn_fail(q, "recv: %s", strerror(errno));
		}
	}
}

/*
 * Send one command and read up to its reply, skipping events.  A reply
 * carrying another id is a protocol error: this connection is ours alone.
 */
static int conn_execute(struct qmp_conn *q, const char *command,
			const char *args, uint64_t id,
			struct qmp_message *reply, struct qmp_reply *timing)
{
	char request[QMP_ARGS_MAX + 128];
	char waiting_for[96];

	if (args)
		snprintf(request, sizeof(request),
			 "{\"execute\":\"%s\",\"arguments\":%s,\"id\":%llu}\n",
			 command, args, (unsigned long long)id);
	else
		snprintf(request, sizeof(request),
			 "{\"execute\":\"%s\",\"id\":%llu}\n", command,
			 (unsigned long long)id);
	snprintf(waiting_for, sizeof(waiting_for), "the reply to %s", command);
	if (timing)
		timing->sent_tsc = pvtime_rdtsc();
	if (conn_send(q, request))
		return -1;
	for (;;) {
		if (conn_read_message(q, reply, waiting_for))
			return -1;
		if (reply->kind == QMP_MSG_EVENT) {
			if (timing)
				timing->events_skipped++;
			continue;
		}
		break;
	}
	if (timing)
		timing->replied_tsc = pvtime_rdtsc();
	if (reply->kind == QMP_MSG_GREETING)
		return conn_fail(q, "unexpected second greeting from QEMU");
	if (reply->has_id && reply->id != id)
		return conn_fail(q, "reply for request id %llu, expected %llu",
				 (unsigned long long)reply->id,
				 (unsigned long long)id);
	return 0;
}

static bool command_name_valid(const char *command)
{
	size_t i;

	if (!*command || strlen(command) > 64)
		return false;
	for (i = 0; command[i]; i++) {
		char c = command[i];

		if (!(c >= 'a' && c <= 'z') && !is_digit(c) && c != '_' && c != '-')
			return false;
	}
	return true;
}

int qmp_run(const char *path, const char *command, unsigned int timeout_ms,
	    struct qmp_reply *reply, char *err, size_t errlen)
{
	return qmp_run_args(path, command, NULL, timeout_ms, reply, err, errlen);
}

int qmp_run_args(const char *path, const char *command, const char *args,
		 unsigned int timeout_ms, struct qmp_reply *reply, char *err,
		 size_t errlen)
{
	struct qmp_conn q = {
		.path = path, .command = command, .fd = -1,
		.timeout_ms = timeout_ms, .err = err, .errlen = errlen,
	};
	struct qmp_message msg;
	int ret = -1;

	memset(reply, 0, sizeof(*reply));
	if (!command_name_valid(command))
		return conn_fail(&q, "bad command name");
	if (args && (args[0] != '{' || strlen(args) > QMP_ARGS_MAX ||
		     strchr(args, '\n')))
		return conn_fail(&q, "bad arguments");
	q.deadline_ns = monotonic_ns() + (uint64_t)timeout_ms * 1000000ull;
	q.buf = malloc(QMP_MESSAGE_MAX);
	if (!q.buf)
		return conn_fail(&q, "out of memory");
	if (conn_connect(&q))
		goto out;

	q.awaiting_greeting = true;
	/*
	 * An event may come first: QEMU emits it to the monitor while the
	 * previous client's session is still open on its side (a STOP or
	 * RESUME during a migration, polled once per few ms).  Skip those.
	 */
	do {
		if (conn_read_message(&q, &msg, "the greeting"))
			goto out;
		if (msg.kind == QMP_MSG_EVENT)
			reply->events_skipped++;
	} while (msg.kind == QMP_MSG_EVENT &&
		 reply->events_skipped <= QMP_EVENTS_BEFORE_GREETING_MAX);
	q.awaiting_greeting = false;
	if (msg.kind != QMP_MSG_GREETING) {
		conn_fail(&q, "QEMU did not start with a greeting");
		goto out;
	}
	/* Capabilities negotiation: commands are refused until it is done. */
	if (conn_execute(&q, "qmp_capabilities", NULL, 1, &msg, NULL))
		goto out;
	if (msg.kind == QMP_MSG_ERROR) {
		conn_fail(&q, "qmp_capabilities refused: %s: %s", msg.error_class,
			  msg.error_desc);
		goto out;
	}
	if (conn_execute(&q, command, args, 2, &msg, reply))
		goto out;
	if (msg.kind == QMP_MSG_ERROR) {
		snprintf(reply->error_class, sizeof(reply->error_class), "%s",
			 msg.error_class);
		snprintf(reply->error_desc, sizeof(reply->error_desc), "%s",
			 msg.error_desc);
		conn_fail(&q, "%s: %s", msg.error_class, msg.error_desc);
		goto out;
	}
	reply->returned = true;
	memcpy(reply->ret, msg.ret, sizeof(reply->ret));
	ret = 0;
out:
	if (q.fd >= 0)
		close(q.fd);
	free(q.buf);
	return ret;
}

int qmp_return_string(const char *ret, const char *key, char *out,
		      size_t outlen)
{
	size_t klen = strlen(key), n = 0;
	const char *p = ret, *str, *end;

	while ((p = strchr(p, '"'))) {
		str = p + 1;
		/* The string's end, past escapes. */
		for (end = str; *end && *end != '"'; end++)
			if (*end == '\\' && end[1])
				end++;
		if (!*end)
			return -1;
		p = end + 1;
		while (*p == ' ')
			p++;
		/* A key is a string followed by ':'; a value is not. */
		if (*p != ':' || (size_t)(end - str) != klen ||
		    strncmp(str, key, klen))
			continue;
		for (p++; *p == ' '; p++)
			;
		if (*p++ != '"')
			return -1;
		while (*p && *p != '"' && n + 1 < outlen) {
			if (*p == '\\' && p[1])
				p++;
			out[n++] = *p++;
		}
		out[n] = '\0';
		return *p == '"' ? 0 : -1;
	}
	return -1;
}
