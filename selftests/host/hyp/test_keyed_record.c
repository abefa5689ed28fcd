// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The "key value" lines of pvtimed's files (hyp/core/keyed_record.c):
 * every type writes its line and reads it back to the same value, the
 * bounds of each type hold, and what the writer never writes (blanks, a
 * '+', a sign on an unsigned number, out of range, a text too long or
 * with a blank) is refused with the member left as it was.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "core/keyed_record.h"

struct sample {
	uint64_t u64, fixed, hex;
	int64_t s64;
	uint32_t u32;
	int32_t s32;
	int8_t s8;
	bool flag;
	char word[8];
	char path[16];
};

#define FIELD(k, t, member)	RECORD_FIELD(struct sample, k, t, member)

static const struct record_field fields[] = {
	FIELD("u64", RECORD_U64, u64),
	FIELD("fixed", RECORD_U64_FIXED, fixed),
	FIELD("hex", RECORD_HEX64, hex),
	FIELD("s64", RECORD_S64, s64),
	FIELD("u32", RECORD_U32, u32),
	FIELD("s32", RECORD_S32, s32),
	FIELD("s8", RECORD_S8, s8),
	FIELD("flag", RECORD_BOOL, flag),
	FIELD("word", RECORD_WORD, word),
	FIELD("path", RECORD_PATH, path),
};
#define NR_FIELDS	(sizeof(fields) / sizeof(fields[0]))

enum { U64, FIXED, HEX, S64, U32, S32, S8, FLAG, WORD, PATH };

static struct sample extremes(void)
{
	struct sample s = {
		.u64 = UINT64_MAX, .fixed = 42, .hex = 0xfedcba9876543210ull,
		.s64 = INT64_MIN, .u32 = UINT32_MAX, .s32 = INT32_MIN,
		.s8 = INT8_MIN, .flag = true,
	};

	snprintf(s.word, sizeof(s.word), "slew:10");
	snprintf(s.path, sizeof(s.path), "/a b/c.cfg");
	return s;
}

/* The lines the writer gives for extremes(), in table order. */
static const char *const expected_lines[] = {
	"u64 18446744073709551615\n",
	"fixed 00000000000000000042\n",
	"hex fedcba9876543210\n",
	"s64 -9223372036854775808\n",
	"u32 4294967295\n",
	"s32 -2147483648\n",
	"s8 -128\n",
	"flag 1\n",
	"word slew:10\n",
	"path /a b/c.cfg\n",
};

static void check_round_trip(void)
{
	struct sample in = extremes(), back;
	char line[64];
	bool lines_ok = true, values_ok = true;
	size_t i;

	memset(&back, 0, sizeof(back));
	for (i = 0; i < NR_FIELDS; i++) {
		int n = record_format_line(line, sizeof(line), &fields[i], &in);
		size_t key_len = strlen(fields[i].key);

		if (n != (int)strlen(expected_lines[i]) ||
		    strcmp(line, expected_lines[i])) {
			tap_diag("%s: wrote '%s'", fields[i].key, line);
			lines_ok = false;
			continue;
		}
		line[n - 1] = '\0';	/* the reader gets the value alone */
		if (record_parse_value(&fields[i], line + key_len + 1, &back)) {
			tap_diag("%s: its own value '%s' refused", fields[i].key,
				 line + key_len + 1);
			values_ok = false;
		}
	}
	tap_ok(lines_ok, "every type writes 'key value\\n' as the files hold it");
	tap_ok(values_ok && !memcmp(&in, &back, sizeof(in)),
	       "every line reads back to the value written");
}

static void check_short_buffer(void)
{
	struct sample in = extremes();
	char line[8];
	int n = record_format_line(line, sizeof(line), &fields[U64], &in);

	tap_ok(n == (int)strlen(expected_lines[U64]) && strlen(line) == 7,
	       "a short buffer: truncated, the length it needs returned (%d)", n);
}

/* value is refused for field k, and the member keeps its old bytes. */
static bool refused(unsigned int k, const char *value)
{
	struct sample s = extremes(), before = s;

	if (!record_parse_value(&fields[k], value, &s)) {
		tap_diag("%s '%s' accepted", fields[k].key, value);
		return false;
	}
	if (memcmp(&s, &before, sizeof(s))) {
		tap_diag("%s '%s' refused but written", fields[k].key, value);
		return false;
	}
	return true;
}

static bool accepted(unsigned int k, const char *value)
{
	struct sample s = extremes();

	if (record_parse_value(&fields[k], value, &s)) {
		tap_diag("%s '%s' refused", fields[k].key, value);
		return false;
	}
	return true;
}

static void check_numbers(void)
{
	static const char *const not_a_number[] = {
		"", " 1", "\t1", "+1", "1 ", "1x", "0x10", "-", "--1", "1e3",
	};
	bool ok = true;
	size_t i;

	for (i = 0; i < sizeof(not_a_number) / sizeof(not_a_number[0]); i++)
		ok &= refused(U64, not_a_number[i]) & refused(S64, not_a_number[i]);
	tap_ok(ok, "blanks, '+', a suffix and no digits are refused");

	tap_ok(refused(U64, "-1") && refused(U32, "-1") && refused(FIXED, "-0"),
	       "an unsigned number takes no '-'");
	tap_ok(refused(U64, "18446744073709551616") &&
	       refused(U32, "4294967296") && accepted(U32, "4294967295") &&
	       refused(S64, "9223372036854775808") &&
	       refused(S64, "-9223372036854775809") &&
	       accepted(S64, "-9223372036854775808"),
	       "64- and 32-bit bounds: the last value in, the next one out");
	tap_ok(refused(S32, "2147483648") && accepted(S32, "-2147483648") &&
	       refused(S8, "128") && refused(S8, "-129") && accepted(S8, "127"),
	       "s32 and s8 bounds");
	tap_ok(accepted(HEX, "ffffffffffffffff") && accepted(HEX, "0") &&
	       refused(HEX, "10000000000000000") && refused(HEX, "g") &&
	       refused(HEX, "-1"),
	       "hex: 64 bits of hex digits, no sign");
	tap_ok(accepted(FLAG, "0") && accepted(FLAG, "1") && refused(FLAG, "2") &&
	       refused(FLAG, "01") && refused(FLAG, "-0") && refused(FLAG, ""),
	       "a flag is 0 or 1, nothing else");
}

static void check_texts(void)
{
	tap_ok(accepted(WORD, "1234567") && refused(WORD, "12345678") &&
	       refused(WORD, "") && refused(WORD, "a b") &&
	       refused(WORD, "a\tb") && refused(WORD, "\x7f") &&
	       refused(WORD, "\xc3\xa9"),
	       "a word fits with its NUL, printable, no blank, not empty");
	tap_ok(accepted(PATH, "/with space") && refused(PATH, "relative") &&
	       refused(PATH, "") && refused(PATH, "/tab\there") &&
	       refused(PATH, "/del\x7f") && refused(PATH, "/123456789012345"),
	       "a path is absolute, fits, and has no control character");
}

int main(void)
{
	tap_plan(11);
	check_round_trip();
	check_short_buffer();
	check_numbers();
	check_texts();
	return tap_done();
}
