// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The emitter: exact text and JSON renderings of one call sequence, JSON
 * escaping of every byte value, and a structural JSON check.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "core/emit.h"

/* ---- a minimal strict JSON validator (RFC 8259 subset we emit) ---- */
static const char *json_value(const char *p);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;

		if (c == '\0' || c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				int i;

				for (i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 5;
				continue;
			}
			if (!*p || !strchr("\"\\/bfnrt", *p))
				return NULL;
		}
		p++;
	}
	return p + 1;
}

static const char *json_number(const char *p)
{
	const char *start;

	if (*p == '-')
		p++;
	start = p;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p == start || (*start == '0' && p - start > 1))
		return NULL;
	if (*p == '.') {
		p++;
		start = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == start)
			return NULL;
	}
	return p;
}

static const char *json_container(const char *p, char open, char close,
				  bool keyed)
{
	if (*p++ != open)
		return NULL;
	p = json_ws(p);
	if (*p == close)
		return p + 1;
	for (;;) {
		p = json_ws(p);
		if (keyed) {
			p = json_string(p);
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(json_ws(p));
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p)
{
	if (!p)
		return NULL;
	switch (*p) {
	case '{':
		return json_container(p, '{', '}', true);
	case '[':
		return json_container(p, '[', ']', false);
	case '"':
		return json_string(p);
	case 't':
		return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f':
		return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n':
		return strncmp(p, "null", 4) ? NULL : p + 4;
	default:
		return json_number(p);
	}
}

static bool json_valid(const char *doc)
{
	const char *end = json_value(json_ws(doc));

	return end && *json_ws(end) == '\0';
}

/* ---- the tests ---- */

static void render_sample(struct emit *e)
{
	emit_str(e, "name", "g1");
	emit_u64(e, "domid", 3);
	emit_s64(e, "offset", -42);
	emit_bool(e, "known", true);
	emit_double(e, "ppm", 0.125, 3);
	emit_object_begin(e, "wallclock");
	emit_u64(e, "wc_sec", 5);
	emit_object_end(e);
	emit_array_begin(e, "records");
	emit_object_begin(e, NULL);
	emit_u64(e, "vcpu", 0);
	emit_u64(e, "version", 2);
	emit_object_end(e);
	emit_object_begin(e, NULL);
	emit_u64(e, "vcpu", 1);
	emit_u64(e, "version", 4);
	emit_object_end(e);
	emit_array_end(e);
	emit_array_begin(e, "empty");
	emit_array_end(e);
}

static void test_exact(void)
{
	struct emit e;
	const char *body;

	emit_begin(&e, EMIT_JSON);
	render_sample(&e);
	body = emit_finish(&e);
	tap_ok(body && !strcmp(body,
			       "{\"name\":\"g1\",\"domid\":3,\"offset\":-42,\"known\":true,"
			       "\"ppm\":0.125,\"wallclock\":{\"wc_sec\":5},"
			       "\"records\":[{\"vcpu\":0,\"version\":2},{\"vcpu\":1,\"version\":4}],"
			       "\"empty\":[]}\n"),
	       "JSON rendering is exact");
	if (!body || !json_valid(body))
		tap_diag("got: %s", body ? body : "(null)");
	tap_ok(body && json_valid(body), "JSON rendering is valid JSON");
	emit_release(&e);

	emit_begin(&e, EMIT_TEXT);
	render_sample(&e);
	body = emit_finish(&e);
	tap_ok(body && !strcmp(body,
			       "name: g1\ndomid: 3\noffset: -42\nknown: yes\nppm: 0.125\n"
			       "wallclock:\n  wc_sec: 5\n"
			       "records:\n  vcpu=0 version=2\n  vcpu=1 version=4\n"
			       "empty:\n"),
	       "text rendering is exact");
	if (body)
		tap_diag("text was %zu bytes", strlen(body));
	emit_release(&e);
}

static void test_escaping(void)
{
	char every[256];
	struct emit e;
	const char *body;
	int i;

	emit_begin(&e, EMIT_JSON);
	emit_str(&e, "q\"k", "a\"b\\c\nd\te\rf\x01g\x7fh\xc3\xa9i\xffj\xed\xa0\x80k");
	body = emit_finish(&e);
	tap_ok(body && !strcmp(body,
			       "{\"q\\\"k\":\"a\\\"b\\\\c\\nd\\te\\rf\\u0001g\\u007fh\xc3\xa9i"
			       "\\ufffdj\\ufffd\\ufffd\\ufffdk\"}\n"),
	       "quotes, backslashes, controls escaped; UTF-8 kept; invalid bytes and surrogates replaced");
	emit_release(&e);

	for (i = 1; i < 256; i++)
		every[i - 1] = (char)i;
	every[255] = '\0';
	emit_begin(&e, EMIT_JSON);
	emit_str(&e, every, every);
	body = emit_finish(&e);
	tap_ok(body && json_valid(body), "every byte value 1..255 yields valid JSON");
	emit_release(&e);

	emit_begin(&e, EMIT_TEXT);
	emit_str(&e, "path", "a\nb\\c");
	body = emit_finish(&e);
	tap_ok(body && !strcmp(body, "path: a\\x0ab\\x5cc\n"),
	       "text escapes newlines so a value cannot forge a line");
	emit_release(&e);
}

static void test_sole_and_limits(void)
{
	struct emit e;
	const char *body;
	int i;

	emit_begin(&e, EMIT_TEXT);
	emit_sole_str(&e, "console", "/run/pvtimed/g.console");
	body = emit_finish(&e);
	tap_ok(body && !strcmp(body, "/run/pvtimed/g.console\n"),
	       "sole value in text is the bare value");
	emit_release(&e);

	emit_begin(&e, EMIT_JSON);
	emit_sole_str(&e, "console", "/run/pvtimed/g.console");
	body = emit_finish(&e);
	tap_ok(body && !strcmp(body, "{\"console\":\"/run/pvtimed/g.console\"}\n"),
	       "sole value in JSON is an object");
	emit_release(&e);

	emit_begin(&e, EMIT_JSON);
	emit_array_begin(&e, "x");
	body = emit_finish(&e);
	tap_ok(body == NULL, "an unclosed container fails the rendering");
	emit_release(&e);

	emit_begin(&e, EMIT_JSON);
	for (i = 0; i < EMIT_MAX_DEPTH + 2; i++)
		emit_object_begin(&e, "d");
	for (i = 0; i < EMIT_MAX_DEPTH + 2; i++)
		emit_object_end(&e);
	body = emit_finish(&e);
	tap_ok(body == NULL, "nesting beyond EMIT_MAX_DEPTH fails instead of overflowing");
	emit_release(&e);

	emit_begin(&e, EMIT_JSON);
	for (i = 0; i < 10000; i++)
		emit_u64(&e, "k", UINT64_MAX);
	body = emit_finish(&e);
	tap_ok(body && json_valid(body) && strlen(body) > 10000 * 20,
	       "large bodies grow the buffer and stay valid");
	emit_release(&e);

	tap_ok(emit_format_parse("text") == EMIT_TEXT &&
	       emit_format_parse("json") == EMIT_JSON &&
	       emit_format_parse("JSON") == -1 && emit_format_parse("") == -1,
	       "format names parse strictly");
}

int main(void)
{
	tap_plan(12);
	test_exact();
	test_escaping();
	test_sole_and_limits();
	return tap_done();
}
