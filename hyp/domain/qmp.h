/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A small client of QEMU's QMP (QEMU Machine Protocol) for a domain's QMP
 * Unix socket.  One connection per command: connect, read the greeting,
 * negotiate (qmp_capabilities), execute, wait for that command's "return"
 * or "error" while skipping asynchronous "event" messages, close.  The
 * whole exchange runs under one deadline, because it runs in pvtimed's
 * event loop: a QEMU that hangs costs the loop at most that long.
 *
 * QEMU's QMP server takes one client at a time; a connection made while
 * another client holds it waits unanswered, so "no greeting" within the
 * deadline is reported as such.
 *
 * The message layer (framing and parsing) is separate and pure, so it is
 * unit-tested on canned texts.
 */
#ifndef PVTIMED_QMP_H
#define PVTIMED_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QMP_TIMEOUT_MS		2000
/* Longest message accepted; QEMU's greeting and replies are far shorter. */
#define QMP_MESSAGE_MAX		(64 * 1024)
/* Room for an event name, an error class or description (truncated). */
#define QMP_TEXT_MAX		256
/* Room for a return value's JSON text (truncated, then marked). */
#define QMP_RETURN_MAX		1024
/* Events skipped while waiting for the greeting, at most. */
#define QMP_EVENTS_BEFORE_GREETING_MAX	16
/* Objects and arrays nest at most this deep in a message. */
#define QMP_DEPTH_MAX		32

/* ---- messages ---- */

enum qmp_message_kind {
	QMP_MSG_GREETING,	/* {"QMP": {...}} */
	QMP_MSG_EVENT,		/* {"event": "STOP", ...} */
	QMP_MSG_RETURN,		/* {"return": ..., "id": ...} */
	QMP_MSG_ERROR,		/* {"error": {"class": ..., "desc": ...}, ...} */
};

struct qmp_message {
	enum qmp_message_kind kind;
	bool has_id;		/* an "id" that is a non-negative integer */
	uint64_t id;
	char event[QMP_TEXT_MAX];	/* EVENT: its name */
	char error_class[QMP_TEXT_MAX];	/* ERROR */
	char error_desc[QMP_TEXT_MAX];	/* ERROR */
	char ret[QMP_RETURN_MAX];	/* RETURN: the value as received */
	bool ret_truncated;
};

enum qmp_frame_status {
	QMP_FRAME_COMPLETE,	/* *start..*end is one JSON object */
	QMP_FRAME_INCOMPLETE,	/* read more (buf may be only whitespace) */
	QMP_FRAME_BAD,		/* not an object at the top level */
};

/*
 * Find the first whole top-level JSON object in buf, by balancing braces
 * and brackets outside strings.  QEMU ends each message with a newline, but
 * framing by structure also copes with pretty-printed or glued messages.
 */
enum qmp_frame_status qmp_frame_next(const char *buf, size_t len,
				     size_t *start, size_t *end);

/*
 * Parse one message (one JSON object, validated in full).  Returns 0, or
 * -1 with the reason in err.  A message must have exactly one of "QMP",
 * "event", "return" or "error"; an error must carry "class" and "desc"
 * strings.
 */
int qmp_message_parse(const char *text, size_t len, struct qmp_message *msg,
		      char *err, size_t errlen);

/* ---- one command over a fresh connection ---- */

struct qmp_reply {
	bool returned;			/* "return" (false: "error" or no reply) */
	char error_class[QMP_TEXT_MAX];
	char error_desc[QMP_TEXT_MAX];
	char ret[QMP_RETURN_MAX];
	/*
	 * Host TSC just before the command was sent and just after its reply
	 * was read: the command took effect somewhere in between.
	 */
	uint64_t sent_tsc;
	uint64_t replied_tsc;
	unsigned int events_skipped;
};

/*
 * Run 'command' (a QMP command name without arguments, [a-z0-9_-]+) on
 * the QMP socket at path, all within timeout_ms.  Returns 0 when QEMU
 * returned; -1 otherwise with one line in err: a QMP error ("QMP stop:
 * GenericError: ...", reply->error_* filled and reply->sent_tsc set), or a
 * failure to talk to QEMU (connect, timeout, closed, malformed message).
 */
int qmp_run(const char *path, const char *command, unsigned int timeout_ms,
	    struct qmp_reply *reply, char *err, size_t errlen);

/* Longest arguments object qmp_run_args sends. */
#define QMP_ARGS_MAX		1024

/*
 * The same with arguments: args is a JSON object text ("{...}", no
 * newline, at most QMP_ARGS_MAX bytes) sent as the command's "arguments".
 */
int qmp_run_args(const char *path, const char *command, const char *args,
		 unsigned int timeout_ms, struct qmp_reply *reply, char *err,
		 size_t errlen);

/*
 * The string value of the first member named key in a return value's
 * JSON text (e.g. "status" of query-status), unescaped into out.  0, or
 * -1 when there is none or it is not a string.
 */
int qmp_return_string(const char *ret, const char *key, char *out,
		      size_t outlen);

#endif /* PVTIMED_QMP_H */
