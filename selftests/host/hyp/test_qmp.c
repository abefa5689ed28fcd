// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * QMP client: framing and parsing of canned QEMU messages (greeting, events,
 * returns, errors, malformed ones), then whole exchanges against a scripted
 * fake QMP server on a Unix socket (events before the reply, an error
 * reply, silence, a hang-up, garbage), each bounded by the timeout.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "domain/qmp.h"

/* What QEMU 7.2 sends, byte for byte (one message per line, CRLF). */
#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, " \
	"\"major\": 7}, \"package\": \"Debian 1:7.2+dfsg-7\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define RETURN_EMPTY(id) "{\"return\": {}, \"id\": " #id "}\r\n"
#define STOP_EVENT "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 12345}, " \
	"\"event\": \"STOP\"}\r\n"
#define RESUME_EVENT "{\"timestamp\": {\"seconds\": 1700000001, \"microseconds\": 1}, " \
	"\"event\": \"RESUME\"}\r\n"

static void test_frame(void)
{
	static const struct {
		const char *what;
		const char *text;
		enum qmp_frame_status want;
		size_t start, end;
	} cases[] = {
		{ "empty buffer", "", QMP_FRAME_INCOMPLETE, 0, 0 },
		{ "whitespace only", " \r\n\t", QMP_FRAME_INCOMPLETE, 0, 0 },
		{ "one object", "{\"a\": 1}\r\n", QMP_FRAME_COMPLETE, 0, 8 },
		{ "leading newline", "\r\n{}", QMP_FRAME_COMPLETE, 2, 4 },
		{ "half an object", "{\"a\": {\"b\": 1}", QMP_FRAME_INCOMPLETE, 0, 0 },
		{ "braces in a string", "{\"a\": \"}{\\\"}\"}x", QMP_FRAME_COMPLETE, 0, 14 },
		{ "two glued objects", "{\"a\":[1,{}]}{\"b\":2}", QMP_FRAME_COMPLETE, 0, 12 },
		{ "pretty-printed", "{\n  \"return\": {\n  }\n}\n", QMP_FRAME_COMPLETE, 0, 21 },
		{ "array at top level", "[1]", QMP_FRAME_BAD, 0, 0 },
		{ "garbage", "hello\n", QMP_FRAME_BAD, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t start = 0, end = 0;
		enum qmp_frame_status st = qmp_frame_next(cases[i].text,
							  strlen(cases[i].text),
							  &start, &end);
		bool pass = st == cases[i].want;

		if (pass && st == QMP_FRAME_COMPLETE)
			pass = start == cases[i].start && end == cases[i].end;
		tap_ok(pass, "frame: %s (status %d, %zu..%zu)", cases[i].what, st,
		       start, end);
	}
}

static int parse(const char *text, struct qmp_message *msg, char *err,
		 size_t errlen)
{
	err[0] = '\0';
	return qmp_message_parse(text, strlen(text), msg, err, errlen);
}

static void test_parse_good(void)
{
	struct qmp_message msg;
	char err[200];
	int ret;

	ret = parse(GREETING, &msg, err, sizeof(err));
	tap_ok(ret == 0 && msg.kind == QMP_MSG_GREETING && !msg.has_id,
	       "QEMU 7.2's greeting is a greeting (%s)", err);

	ret = parse(STOP_EVENT, &msg, err, sizeof(err));
	tap_ok(ret == 0 && msg.kind == QMP_MSG_EVENT && !strcmp(msg.event, "STOP"),
	       "STOP event with timestamp (%s, event '%s')", err, msg.event);

	ret = parse(RETURN_EMPTY(7), &msg, err, sizeof(err));
	tap_ok(ret == 0 && msg.kind == QMP_MSG_RETURN && msg.has_id &&
	       msg.id == 7 && !strcmp(msg.ret, "{}"),
	       "empty return with id 7 (%s, ret '%s')", err, msg.ret);

	ret = parse("{\"return\": {\"status\": \"paused\", \"singlestep\": false, "
		    "\"running\": false}}", &msg, err, sizeof(err));
	tap_ok(ret == 0 && msg.kind == QMP_MSG_RETURN && !msg.has_id &&
	       strstr(msg.ret, "\"paused\""),
	       "query-status return without id keeps its value (%s, ret '%s')",
	       err, msg.ret);

	ret = parse("{\"id\": 2, \"error\": {\"class\": \"GenericError\", "
		    "\"desc\": \"The command stop has not been found\"}}",
		    &msg, err, sizeof(err));
	tap_ok(ret == 0 && msg.kind == QMP_MSG_ERROR && msg.id == 2 &&
	       !strcmp(msg.error_class, "GenericError") &&
	       !strcmp(msg.error_desc, "The command stop has not been found"),
	       "error with class and desc, id first (%s)", err);

	ret = parse("{\"error\": {\"class\": \"X\", \"desc\": \"tab\\there \\\"q\\\" "
		    "\\u00e9\\ud83d\\ude00\\/\"}}", &msg, err, sizeof(err));
	tap_ok(ret == 0 && !strcmp(msg.error_desc,
				   "tab\there \"q\" \xc3\xa9\xf0\x9f\x98\x80/"),
	       "escapes decode to UTF-8, surrogate pairs joined (%s, '%s')", err,
	       msg.error_desc);

	ret = parse("{\"return\": [1, -2.5e+3, true, false, null, \"s\", {\"a\": []}],"
		    " \"id\": \"text-id\"}", &msg, err, sizeof(err));
	tap_ok(ret == 0 && msg.kind == QMP_MSG_RETURN && !msg.has_id,
	       "every JSON value kind; a non-numeric id is not ours (%s)", err);
}

static void test_parse_long(void)
{
	char text[4096], err[200];
	struct qmp_message msg;
	size_t n;
	int ret;

	n = (size_t)snprintf(text, sizeof(text), "{\"error\": {\"desc\": \"");
	memset(text + n, 'x', 1000);
	n += 1000;
	snprintf(text + n, sizeof(text) - n, "\", \"class\": \"C\"}}");
	ret = parse(text, &msg, err, sizeof(err));
	tap_ok(ret == 0 && strlen(msg.error_desc) == QMP_TEXT_MAX - 1 &&
	       !strcmp(msg.error_class, "C"),
	       "a long desc is truncated, not an error (%s, %zu bytes)", err,
	       strlen(msg.error_desc));

	n = (size_t)snprintf(text, sizeof(text), "{\"return\": \"");
	memset(text + n, 'y', 2000);
	n += 2000;
	snprintf(text + n, sizeof(text) - n, "\"}");
	ret = parse(text, &msg, err, sizeof(err));
	tap_ok(ret == 0 && msg.ret_truncated &&
	       strlen(msg.ret) == QMP_RETURN_MAX - 1,
	       "a long return value is kept truncated and marked (%s)", err);

	/* Nesting beyond the limit is refused, not recursed into. */
	n = (size_t)snprintf(text, sizeof(text), "{\"return\": ");
	memset(text + n, '[', 100);
	n += 100;
	memset(text + n, ']', 100);
	n += 100;
	snprintf(text + n, sizeof(text) - n, "}");
	ret = parse(text, &msg, err, sizeof(err));
	tap_ok(ret == -1 && strstr(err, "nested deeper"),
	       "100 levels of nesting are refused (%s)", err);
}

static void test_parse_bad(void)
{
	static const struct {
		const char *what;
		const char *text;
		const char *expect;
	} cases[] = {
		{ "empty", "", "not a JSON object" },
		{ "an array", "[]", "not a JSON object" },
		{ "empty object", "{}", "none of QMP, event, return, error" },
		{ "only an id", "{\"id\": 1}", "none of QMP" },
		{ "return and error", "{\"return\": {}, \"error\": {\"class\": \"a\", \"desc\": \"b\"}}",
		  "more than one of" },
		{ "event and return", "{\"event\": \"STOP\", \"return\": {}}", "more than one of" },
		{ "two returns", "{\"return\": {}, \"return\": 1}", "duplicate member 'return'" },
		{ "error without desc", "{\"error\": {\"class\": \"GenericError\"}}",
		  "error without 'desc'" },
		{ "error without class", "{\"error\": {\"desc\": \"x\"}}", "error without 'class'" },
		{ "error not an object", "{\"error\": \"bad\"}", "'error' is not an object" },
		{ "error class a number", "{\"error\": {\"class\": 1, \"desc\": \"x\"}}",
		  "error class is not a string" },
		{ "event name a number", "{\"event\": 5}", "event name is not a string" },
		{ "greeting not an object", "{\"QMP\": 1}", "greeting 'QMP' is not an object" },
		{ "truncated", "{\"return\": {", "truncated" },
		{ "unterminated string", "{\"return\": \"abc", "unterminated string" },
		{ "missing colon", "{\"return\" {}}", "expected ':'" },
		{ "missing comma", "{\"return\": {} \"id\": 1}", "expected '}'" },
		{ "trailing comma", "{\"return\": {},}", "expected a member name" },
		{ "single quotes", "{'return': {}}", "expected a member name" },
		{ "bad literal", "{\"return\": tru}", "bad value" },
		{ "bad number", "{\"return\": 01}", "expected '}'" },
		{ "bare minus", "{\"return\": -}", "bad number" },
		{ "bad escape", "{\"return\": \"\\x\"}", "bad escape" },
		{ "bad unicode escape", "{\"return\": \"\\u12g4\"}", "bad \\u escape" },
		{ "raw newline in a string", "{\"return\": \"a\nb\"}", "control character 0x0a" },
		{ "text after the object", "{\"return\": {}} x", "text after" },
		{ "mismatched brackets", "{\"return\": [}", "unexpected '}' where a value belongs" },
		{ "a NUL byte", "{\"return\": \0}", "truncated" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct qmp_message msg;
		char err[200];
		int ret = parse(cases[i].text, &msg, err, sizeof(err));

		tap_ok(ret == -1 && strstr(err, cases[i].expect),
		       "rejects %s: got '%s', want '...%s...'", cases[i].what, err,
		       cases[i].expect);
	}
}

/* ---- fake QMP server ---- */

struct fake_qmp {
	char path[108];
	int listen_fd;
	pthread_t thread;
	/* Script: chunks to send; "<" waits for one request line first. */
	const char *const *script;
	char requests[1024];	/* request lines received, concatenated */
	size_t requests_len;
	bool hang;		/* after the script, keep the connection open */
	unsigned int hang_ms;
};

static void fake_read_line(struct fake_qmp *f, int fd)
{
	char c;

	while (read(fd, &c, 1) == 1) {
		if (f->requests_len + 1 < sizeof(f->requests)) {
			f->requests[f->requests_len++] = c;
			f->requests[f->requests_len] = '\0';
		}
		if (c == '\n')
			return;
	}
}

static void *fake_serve(void *arg)
{
	struct fake_qmp *f = arg;
	const char *const *step;
	int fd = accept(f->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	for (step = f->script; *step; step++) {
		if (!strcmp(*step, "<"))
			fake_read_line(f, fd);
		/*
		 * Not write(): a client that gave up (too many events) has
		 * closed its end, and SIGPIPE would end the whole test.
		 */
		else if (send(fd, *step, strlen(*step), MSG_NOSIGNAL) < 0)
			break;
	}
	if (f->hang) {
		struct timespec ts = { .tv_sec = f->hang_ms / 1000,
				       .tv_nsec = (long)(f->hang_ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
	close(fd);
	return NULL;
}

static void fake_start(struct fake_qmp *f, const char *const *script, bool hang,
		       unsigned int hang_ms)
{
	static unsigned int serial;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	f->script = script;
	f->hang = hang;
	f->hang_ms = hang_ms;
	snprintf(f->path, sizeof(f->path), "/tmp/pvtimed-qmptest-%d-%u.qmp",
		 (int)getpid(), serial++);
	unlink(f->path);
	strcpy(addr.sun_path, f->path);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->listen_fd < 0 ||
	    bind(f->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(f->listen_fd, 1)) {
		perror("fake qmp server");
		exit(1);
	}
	pthread_create(&f->thread, NULL, fake_serve, f);
}

static void fake_stop(struct fake_qmp *f)
{
	/* Unblock an accept() that never got a client. */
	shutdown(f->listen_fd, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
	unlink(f->path);
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_exchange_ok(void)
{
	static const char *const script[] = {
		GREETING, "<", RETURN_EMPTY(1), "<",
		/* QEMU emits the STOP event before the command's return. */
		STOP_EVENT, RESUME_EVENT, "{\"return\": {}, ", "\"id\": 2}\r\n", NULL,
	};
	struct qmp_reply reply;
	struct fake_qmp f;
	char err[256] = "";
	int ret;

	fake_start(&f, script, false, 0);
	ret = qmp_run(f.path, "stop", 2000, &reply, err, sizeof(err));
	fake_stop(&f);
	tap_ok(ret == 0 && reply.returned && !strcmp(reply.ret, "{}") &&
	       reply.events_skipped == 2 && reply.replied_tsc > reply.sent_tsc,
	       "stop: greeting, negotiation, 2 events skipped, a split return (%s, %u events)",
	       err, reply.events_skipped);
	tap_ok(!strcmp(f.requests,
		       "{\"execute\":\"qmp_capabilities\",\"id\":1}\n"
		       "{\"execute\":\"stop\",\"id\":2}\n"),
	       "requests: qmp_capabilities then stop, with ids, one per line");
	if (strcmp(f.requests, "{\"execute\":\"qmp_capabilities\",\"id\":1}\n"
		   "{\"execute\":\"stop\",\"id\":2}\n"))
		tap_diag("got requests: %s", f.requests);
}

/* An event from the previous client's session may come before the greeting. */
static void test_event_before_greeting(void)
{
	static const char *const script[] = {
		STOP_EVENT, GREETING, "<", RETURN_EMPTY(1), "<",
		"{\"return\": {\"status\": \"finish-migrate\", \"running\": false}, \"id\": 2}\r\n",
		NULL,
	};
	static const char *const flood[] = {
		STOP_EVENT, STOP_EVENT, STOP_EVENT, STOP_EVENT, STOP_EVENT,
		STOP_EVENT, STOP_EVENT, STOP_EVENT, STOP_EVENT, STOP_EVENT,
		STOP_EVENT, STOP_EVENT, STOP_EVENT, STOP_EVENT, STOP_EVENT,
		STOP_EVENT, STOP_EVENT, STOP_EVENT, GREETING, NULL,
	};
	struct qmp_reply reply;
	struct fake_qmp f;
	char err[256] = "", status[32] = "";
	int ret;

	fake_start(&f, script, false, 0);
	ret = qmp_run(f.path, "query-status", 2000, &reply, err, sizeof(err));
	fake_stop(&f);
	tap_ok(ret == 0 && reply.events_skipped == 1 &&
	       !qmp_return_string(reply.ret, "status", status, sizeof(status)) &&
	       !strcmp(status, "finish-migrate"),
	       "an event before the greeting is skipped (%s, %u events, status '%s')",
	       err, reply.events_skipped, status);
	fake_start(&f, flood, false, 0);
	ret = qmp_run(f.path, "query-status", 2000, &reply, err, sizeof(err));
	fake_stop(&f);
	tap_ok(ret == -1 && strstr(err, "did not start with a greeting"),
	       "more than %d events before the greeting: refused (got '%s')",
	       QMP_EVENTS_BEFORE_GREETING_MAX, err);
}

static void test_exchange_error(void)
{
	static const char *const script[] = {
		GREETING, "<", RETURN_EMPTY(1), "<",
		"{\"id\": 2, \"error\": {\"class\": \"GenericError\", \"desc\": "
		"\"Migration is not allowed\"}}\r\n", NULL,
	};
	struct qmp_reply reply;
	struct fake_qmp f;
	char err[256] = "";
	int ret;

	fake_start(&f, script, false, 0);
	ret = qmp_run(f.path, "cont", 2000, &reply, err, sizeof(err));
	fake_stop(&f);
	tap_ok(ret == -1 && !reply.returned &&
	       !strcmp(reply.error_class, "GenericError") &&
	       !strcmp(err, "QMP cont: GenericError: Migration is not allowed"),
	       "an error reply fails with class and desc (got '%s')", err);
}

static void test_exchange_failures(void)
{
	static const char *const silent[] = { NULL };
	static const char *const no_reply[] = { GREETING, "<", RETURN_EMPTY(1), "<",
						STOP_EVENT, NULL };
	static const char *const garbage[] = { "Welcome to QEMU\n", NULL };
	static const char *const no_greeting[] = { RETURN_EMPTY(0), NULL };
	static const char *const wrong_id[] = { GREETING, "<", RETURN_EMPTY(1), "<",
						RETURN_EMPTY(9), NULL };
	static const char *const bad_json[] = { GREETING, "<", "{\"return\": {]}\r\n",
						NULL };
	static const struct {
		const char *what;
		const char *const *script;
		bool hang;
		const char *expect;
	} cases[] = {
		{ "no greeting (another client holds QEMU's monitor)", silent, true,
		  "timed out after 300 ms waiting for the greeting" },
		{ "no reply, only an event", no_reply, true,
		  "timed out after 300 ms waiting for the reply to stop" },
		{ "hang-up before the reply", no_reply, false,
		  "QEMU closed the connection while we waited for the reply to stop" },
		{ "not JSON", garbage, false, "malformed message from QEMU (not a JSON object)" },
		{ "a return instead of the greeting", no_greeting, false,
		  "did not start with a greeting" },
		{ "a reply with another id", wrong_id, false,
		  "reply for request id 9, expected 2" },
		{ "malformed JSON", bad_json, false, "malformed message from QEMU: " },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct qmp_reply reply;
		struct timespec t0;
		struct fake_qmp f;
		char err[256] = "";
		double ms;
		int ret;

		fake_start(&f, cases[i].script, cases[i].hang, 1000);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = qmp_run(f.path, "stop", 300, &reply, err, sizeof(err));
		ms = elapsed_ms(&t0);
		fake_stop(&f);
		/* Bounded by the timeout (plus scheduling slack on a busy host). */
		tap_ok(ret == -1 && !strncmp(err, "QMP stop: ", 10) &&
		       strstr(err, cases[i].expect) && ms < 1000,
		       "%s: fails in %.0f ms with '%s' (want '...%s...')",
		       cases[i].what, ms, err, cases[i].expect);
	}
}

static void test_no_socket(void)
{
	struct qmp_reply reply;
	char err[256] = "";
	int ret;

	ret = qmp_run("/nonexistent/dom.qmp", "stop", 300, &reply, err, sizeof(err));
	tap_ok(ret == -1 &&
	       !strcmp(err, "QMP stop: cannot connect to /nonexistent/dom.qmp: No such file or directory"),
	       "missing socket: clear error (got '%s')", err);
	ret = qmp_run("/nonexistent/dom.qmp", "stop\"}", 300, &reply, err, sizeof(err));
	tap_ok(ret == -1 && strstr(err, "bad command name"),
	       "a command name that would need quoting is refused (got '%s')", err);
}

/* query-status / query-migrate: one string member of a return value. */
static void test_return_string(void)
{
	char out[32], small[4];
	int ok;

	ok = !qmp_return_string("{\"status\": \"paused\", \"running\": false}",
				"status", out, sizeof(out)) && !strcmp(out, "paused");
	ok = ok && !qmp_return_string("{\"x\": \"status\", \"status\":\"completed\"}",
				      "status", out, sizeof(out)) &&
	     !strcmp(out, "completed");
	ok = ok && !qmp_return_string("{\"error-desc\": \"a \\\"b\\\"\"}",
				      "error-desc", out, sizeof(out)) &&
	     !strcmp(out, "a \"b\"");
	ok = ok && qmp_return_string("{\"status\": 3}", "status", out, sizeof(out));
	ok = ok && qmp_return_string("{\"statusx\": \"a\"}", "status", out,
				     sizeof(out));
	ok = ok && qmp_return_string("{\"status\": \"unterminated", "status", out,
				     sizeof(out));
	ok = ok && qmp_return_string("{\"status\": \"toolong\"}", "status", small,
				     sizeof(small)) && strlen(small) == 3;
	tap_ok(ok, "qmp_return_string: a member's string value, not a value that looks like the key; numbers, unterminated and cut strings refused");
}

int main(void)
{
	tap_plan(10 + 7 + 3 + 28 + 2 + 1 + 7 + 2 + 1 + 2);
	test_return_string();
	test_frame();
	test_parse_good();
	test_parse_long();
	test_parse_bad();
	test_exchange_ok();
	test_event_before_greeting();
	test_exchange_error();
	test_exchange_failures();
	test_no_socket();
	return tap_done();
}
