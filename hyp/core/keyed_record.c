// SPDX-License-Identifier: GPL-2.0 OR MIT
/* One "key value" line of a pvtimed file, written and read (keyed_record.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/keyed_record.h"

int record_format_line(char *buf, size_t size, const struct record_field *f,
		       const void *record)
{
	const void *p = (const char *)record + f->offset;

	switch (f->type) {
	case RECORD_U64:
		return snprintf(buf, size, "%s %" PRIu64 "\n", f->key,
				*(const uint64_t *)p);
	case RECORD_U64_FIXED:
		return snprintf(buf, size, "%s %020" PRIu64 "\n", f->key,
				*(const uint64_t *)p);
	case RECORD_HEX64:
		return snprintf(buf, size, "%s %016" PRIx64 "\n", f->key,
				*(const uint64_t *)p);
	case RECORD_S64:
		return snprintf(buf, size, "%s %" PRId64 "\n", f->key,
				*(const int64_t *)p);
	case RECORD_U32:
		return snprintf(buf, size, "%s %" PRIu32 "\n", f->key,
				*(const uint32_t *)p);
	case RECORD_S32:
		return snprintf(buf, size, "%s %" PRId32 "\n", f->key,
				*(const int32_t *)p);
	case RECORD_S8:
		return snprintf(buf, size, "%s %d\n", f->key, *(const int8_t *)p);
	case RECORD_BOOL:
		return snprintf(buf, size, "%s %d\n", f->key,
				*(const bool *)p ? 1 : 0);
	case RECORD_WORD:
	case RECORD_PATH:
		return snprintf(buf, size, "%s %s\n", f->key, (const char *)p);
	}
	return -EINVAL;
}

/*
 * strtoull() and strtoll() would skip blanks and take a '+' (and
 * strtoull() a '-'): the first character is checked here instead.
 */
static bool starts_number(const char *s, bool is_signed, int base)
{
	if (is_signed && *s == '-')
		s++;
	return base == 16 ? (*s >= '0' && *s <= '9') ||
			    (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F') :
			    *s >= '0' && *s <= '9';
}

static int parse_unsigned(const char *s, int base, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!starts_number(s, false, base))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_signed(const char *s, int64_t min, int64_t max, int64_t *out)
{
	long long v;
	char *end;

	if (!starts_number(s, true, 10))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A text that fits the member with its NUL, every byte allowed. */
static int parse_text(const char *s, size_t size, bool path, char *out)
{
	size_t n = strlen(s), i;

	if (!n || n >= size || (path && s[0] != '/'))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (path ? c < ' ' || c == 0x7f : c <= ' ' || c > '~')
			return -EINVAL;
	}
	memcpy(out, s, n + 1);
	return 0;
}

int record_parse_value(const struct record_field *f, const char *value,
		       void *record)
{
	void *p = (char *)record + f->offset;
	uint64_t u;
	int64_t s;

	switch (f->type) {
	case RECORD_U64:
	case RECORD_U64_FIXED:
	case RECORD_HEX64:
		if (parse_unsigned(value, f->type == RECORD_HEX64 ? 16 : 10,
				   UINT64_MAX, &u))
			return -EINVAL;
		*(uint64_t *)p = u;
		return 0;
	case RECORD_U32:
		if (parse_unsigned(value, 10, UINT32_MAX, &u))
			return -EINVAL;
		*(uint32_t *)p = (uint32_t)u;
		return 0;
	case RECORD_S64:
		if (parse_signed(value, INT64_MIN, INT64_MAX, &s))
			return -EINVAL;
		*(int64_t *)p = s;
		return 0;
	case RECORD_S32:
		if (parse_signed(value, INT32_MIN, INT32_MAX, &s))
			return -EINVAL;
		*(int32_t *)p = (int32_t)s;
		return 0;
	case RECORD_S8:
		if (parse_signed(value, INT8_MIN, INT8_MAX, &s))
			return -EINVAL;
		*(int8_t *)p = (int8_t)s;
		return 0;
	case RECORD_BOOL:
		if (strcmp(value, "0") && strcmp(value, "1"))
			return -EINVAL;
		*(bool *)p = value[0] == '1';
		return 0;
	case RECORD_WORD:
	case RECORD_PATH:
		return parse_text(value, f->size, f->type == RECORD_PATH, p);
	}
	return -EINVAL;
}
