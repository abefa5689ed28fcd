/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The "key value" lines of the files pvtimed writes and reads back (the
 * domain state file, a save file's header): each file's table of fields,
 * every one a key, how its value is written and the member of the
 * caller's struct it comes from, and the writing and strict reading of
 * one field's line.  The order of the lines, what each file says first
 * and last, and its error messages stay with the file's owner.
 */
#ifndef PVTIMED_KEYED_RECORD_H
#define PVTIMED_KEYED_RECORD_H

#include <stddef.h>

enum record_type {
	RECORD_U64,		/* decimal */
	RECORD_U64_FIXED,	/* 20 digits, zero-padded: rewritable in place */
	RECORD_HEX64,		/* 16 hex digits, zero-padded */
	RECORD_S64,
	RECORD_U32,
	RECORD_S32,
	RECORD_S8,
	RECORD_BOOL,		/* 0 or 1 */
	RECORD_WORD,		/* printable, no blank, not empty */
	RECORD_PATH,		/* absolute, no control character */
};

struct record_field {
	const char *key;
	enum record_type type;
	size_t offset;		/* of the member in the caller's struct */
	size_t size;		/* of the member: a text's room, NUL included */
};

#define RECORD_FIELD(record, key, type, member)				\
	{ key, type, offsetof(record, member), sizeof(((record *)0)->member) }

/*
 * "key value\n" for field f of the struct at record, into buf: the
 * length it needs, as snprintf() returns it.
 */
int record_format_line(char *buf, size_t size, const struct record_field *f,
		       const void *record);

/*
 * value (the text after "key ") into field f of the struct at record: 0,
 * or -EINVAL, the member untouched.  Numbers are whole, in range, decimal
 * but for RECORD_HEX64, and start with a digit (a '-' first for signed
 * ones): no blank, no '+'.
 */
int record_parse_value(const struct record_field *f, const char *value,
		       void *record);

#endif /* PVTIMED_KEYED_RECORD_H */
