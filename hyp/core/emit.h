/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Renders one command's result as JSON or as readable text from the same
 * sequence of calls:
 *
 *   emit_begin(&e, EMIT_TEXT);
 *   emit_str(&e, "name", "guest1");
 *   emit_array_begin(&e, "vcpus");
 *   emit_object_begin(&e, NULL); emit_u64(&e, "vcpu", 0); emit_object_end(&e);
 *   emit_array_end(&e);
 *   body = emit_finish(&e);
 *
 * Text: top-level members are "key: value" lines, nested objects indent;
 * an object inside an array is one row of "key=value" pairs (so list gives
 * one row per domain).  JSON: one object, strings escaped per RFC 8259.
 */
#ifndef PVTIMED_EMIT_H
#define PVTIMED_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMIT_MAX_DEPTH	8

enum emit_format {
	EMIT_TEXT,
	EMIT_JSON,
};

enum emit_container {
	EMIT_IN_OBJECT,
	EMIT_IN_ARRAY,
	EMIT_IN_ROW,		/* text: object inside an array */
};

struct emit {
	enum emit_format format;
	char *buf;
	size_t len, cap;
	bool oom;
	int depth;
	enum emit_container stack[EMIT_MAX_DEPTH];
	unsigned int count[EMIT_MAX_DEPTH];	/* members written per level */
};

/* Parse "text" or "json"; -1 otherwise. */
int emit_format_parse(const char *name);

void emit_begin(struct emit *e, enum emit_format format);
/* Closes the top-level object; returns the body (owned by e) or NULL on OOM. */
const char *emit_finish(struct emit *e);
void emit_release(struct emit *e);

/* key is NULL for array elements. */
void emit_object_begin(struct emit *e, const char *key);
void emit_object_end(struct emit *e);
void emit_array_begin(struct emit *e, const char *key);
void emit_array_end(struct emit *e);

void emit_str(struct emit *e, const char *key, const char *value);
void emit_u64(struct emit *e, const char *key, uint64_t value);
void emit_s64(struct emit *e, const char *key, int64_t value);
void emit_bool(struct emit *e, const char *key, bool value);
void emit_double(struct emit *e, const char *key, double value, int decimals);

/*
 * A body that is one value: text renders just the value and a newline (for
 * scripts, e.g. the console path); JSON renders {"key": "value"}.
 */
void emit_sole_str(struct emit *e, const char *key, const char *value);

#endif /* PVTIMED_EMIT_H */
