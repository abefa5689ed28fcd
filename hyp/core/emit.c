// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/emit.h"

int emit_format_parse(const char *name)
{
	if (!strcmp(name, "text"))
		return EMIT_TEXT;
	if (!strcmp(name, "json"))
		return EMIT_JSON;
	return -1;
}

static void put_bytes(struct emit *e, const char *s, size_t n)
{
	if (e->oom)
		return;
	if (e->len + n + 1 > e->cap) {
		size_t cap = e->cap ? e->cap : 1024;
		char *grown;

		while (e->len + n + 1 > cap)
			cap *= 2;
		grown = realloc(e->buf, cap);
		if (!grown) {
			e->oom = true;
			return;
		}
		e->buf = grown;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	e->buf[e->len] = '\0';
}

static void put(struct emit *e, const char *s)
{
	put_bytes(e, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void putf(struct emit *e, const char *fmt, ...)
{
	char small[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		e->oom = true;
		return;
	}
	put_bytes(e, small, (size_t)n < sizeof(small) ? (size_t)n : sizeof(small) - 1);
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_sequence_len(const unsigned char *s)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond Unicode. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp > 0x10ffff)
		return 0;
	return len;
}

/* JSON string; bytes that are not valid UTF-8 become U+FFFD. */
static void put_json_string(struct emit *e, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;

	put(e, "\"");
	while (*s) {
		size_t n;

		switch (*s) {
		case '"':
			put(e, "\\\"");
			s++;
			continue;
		case '\\':
			put(e, "\\\\");
			s++;
			continue;
		case '\n':
			put(e, "\\n");
			s++;
			continue;
		case '\t':
			put(e, "\\t");
			s++;
			continue;
		case '\r':
			put(e, "\\r");
			s++;
			continue;
		}
		if (*s < 0x20 || *s == 0x7f) {
			putf(e, "\\u%04x", *s);
			s++;
			continue;
		}
		n = utf8_sequence_len(s);
		if (!n) {
			put(e, "\\ufffd");
			s++;
			continue;
		}
		put_bytes(e, (const char *)s, n);
		s += n;
	}
	put(e, "\"");
}

/* Text values: control characters would forge lines, so they are escaped. */
static void put_text_string(struct emit *e, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;

	for (; *s; s++) {
		if (*s < 0x20 || *s == 0x7f || *s == '\\')
			putf(e, "\\x%02x", *s);
		else
			put_bytes(e, (const char *)s, 1);
	}
}

static void indent(struct emit *e, int levels)
{
	int i;

	for (i = 0; i < levels; i++)
		put(e, "  ");
}

/* Everything that precedes a member: separator, indentation, key. */
static void member_prefix(struct emit *e, const char *key, bool opens_block)
{
	enum emit_container where = e->stack[e->depth];
	unsigned int n = e->count[e->depth]++;

	if (e->format == EMIT_JSON) {
		if (n)
			put(e, ",");
		if (key) {
			put_json_string(e, key);
			put(e, ":");
		}
		return;
	}
	if (where == EMIT_IN_ROW) {
		if (n)
			put(e, " ");
		if (key) {
			put(e, key);
			put(e, "=");
		}
		return;
	}
	/* text, member of an object (or a scalar array element) */
	indent(e, e->depth);
	if (key) {
		put(e, key);
		put(e, opens_block ? ":\n" : ": ");
	} else if (!opens_block) {
		put(e, "- ");
	}
}

static void member_suffix(struct emit *e)
{
	if (e->format == EMIT_TEXT && e->stack[e->depth] != EMIT_IN_ROW)
		put(e, "\n");
}

static void push(struct emit *e, enum emit_container what)
{
	if (e->depth + 1 >= EMIT_MAX_DEPTH) {
		e->oom = true;	/* a programming error; fail the reply */
		return;
	}
	e->depth++;
	e->stack[e->depth] = what;
	e->count[e->depth] = 0;
}

static void pop(struct emit *e)
{
	if (e->depth > 0)
		e->depth--;
	else
		e->oom = true;
}

void emit_begin(struct emit *e, enum emit_format format)
{
	memset(e, 0, sizeof(*e));
	e->format = format;
	e->stack[0] = EMIT_IN_OBJECT;
	if (format == EMIT_JSON)
		put(e, "{");
}

const char *emit_finish(struct emit *e)
{
	if (e->depth != 0)
		e->oom = true;
	if (e->format == EMIT_JSON)
		put(e, "}\n");
	else
		put(e, "");	/* make sure buf exists for an empty body */
	return e->oom ? NULL : e->buf;
}

void emit_release(struct emit *e)
{
	free(e->buf);
	memset(e, 0, sizeof(*e));
}

void emit_object_begin(struct emit *e, const char *key)
{
	bool row = e->format == EMIT_TEXT && e->stack[e->depth] == EMIT_IN_ARRAY;

	if (row) {
		e->count[e->depth]++;
		indent(e, e->depth);
	} else {
		member_prefix(e, key, true);
	}
	if (e->format == EMIT_JSON)
		put(e, "{");
	push(e, row ? EMIT_IN_ROW : EMIT_IN_OBJECT);
}

void emit_object_end(struct emit *e)
{
	bool row = e->stack[e->depth] == EMIT_IN_ROW;

	if (e->format == EMIT_JSON)
		put(e, "}");
	pop(e);
	if (row)
		put(e, "\n");
}

void emit_array_begin(struct emit *e, const char *key)
{
	member_prefix(e, key, true);
	if (e->format == EMIT_JSON)
		put(e, "[");
	push(e, EMIT_IN_ARRAY);
}

void emit_array_end(struct emit *e)
{
	if (e->format == EMIT_JSON)
		put(e, "]");
	pop(e);
}

void emit_str(struct emit *e, const char *key, const char *value)
{
	member_prefix(e, key, false);
	if (e->format == EMIT_JSON)
		put_json_string(e, value);
	else
		put_text_string(e, value);
	member_suffix(e);
}

void emit_u64(struct emit *e, const char *key, uint64_t value)
{
	member_prefix(e, key, false);
	putf(e, "%llu", (unsigned long long)value);
	member_suffix(e);
}

void emit_s64(struct emit *e, const char *key, int64_t value)
{
	member_prefix(e, key, false);
	putf(e, "%lld", (long long)value);
	member_suffix(e);
}

void emit_bool(struct emit *e, const char *key, bool value)
{
	member_prefix(e, key, false);
	if (e->format == EMIT_JSON)
		put(e, value ? "true" : "false");
	else
		put(e, value ? "yes" : "no");
	member_suffix(e);
}

void emit_double(struct emit *e, const char *key, double value, int decimals)
{
	member_prefix(e, key, false);
	putf(e, "%.*f", decimals, value);
	member_suffix(e);
}

void emit_sole_str(struct emit *e, const char *key, const char *value)
{
	if (e->format == EMIT_JSON) {
		emit_str(e, key, value);
		return;
	}
	put_text_string(e, value);
	put(e, "\n");
}
