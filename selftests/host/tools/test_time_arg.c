// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Table test of pvxl's TIME parser: every accepted form with the exact
 * nanosecond value expected (computed independently with Python's
 * calendar.timegm), and every rejected form with the reason it must give.
 */
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "time_arg.h"

#define S(x)	((int64_t)(x) * 1000000000LL)

struct good_case {
	const char *text;
	enum pvxl_time_kind kind;
	int64_t ns;
};

static const struct good_case good[] = {
	{ "now", PVXL_TIME_FOLLOW_HOST, 0 },

	{ "@0", PVXL_TIME_ABSOLUTE, 0 },
	{ "@1", PVXL_TIME_ABSOLUTE, S(1) },
	{ "@1.5", PVXL_TIME_ABSOLUTE, 1500000000 },
	{ "@0.000000001", PVXL_TIME_ABSOLUTE, 1 },
	{ "@1700000000.123456789", PVXL_TIME_ABSOLUTE, 1700000000123456789LL },
	{ "@2147483648", PVXL_TIME_ABSOLUTE, S(2147483648LL) },
	{ "@4294967296.5", PVXL_TIME_ABSOLUTE, S(4294967296LL) + 500000000 },
	{ "@9223372036.854775807", PVXL_TIME_ABSOLUTE, INT64_MAX },

	{ "1970-01-01T00:00:00Z", PVXL_TIME_ABSOLUTE, 0 },
	{ "2027-01-01T12:00:00Z", PVXL_TIME_ABSOLUTE, S(1798804800) },
	{ "2027-01-01 12:00:00", PVXL_TIME_ABSOLUTE, S(1798804800) },
	{ "2027-01-01t12:00:00z", PVXL_TIME_ABSOLUTE, S(1798804800) },
	{ "2027-01-01T12:00:00.5+02:00", PVXL_TIME_ABSOLUTE, S(1798797600) + 500000000 },
	{ "2027-01-01T12:00:00-0530", PVXL_TIME_ABSOLUTE, S(1798824600) },
	{ "2027-01-01T12:00:00+05", PVXL_TIME_ABSOLUTE, S(1798786800) },
	{ "2027-06-15T08:30:00,25Z", PVXL_TIME_ABSOLUTE, S(1813048200) + 250000000 },
	{ "1970-01-01T01:00:00+01:00", PVXL_TIME_ABSOLUTE, 0 },
	/* Leap years: 2000 (divisible by 400) and 2024; 2100 is not one. */
	{ "2000-02-29T00:00:00Z", PVXL_TIME_ABSOLUTE, S(951782400) },
	{ "2024-02-29T23:59:59Z", PVXL_TIME_ABSOLUTE, S(1709251199) },
	{ "2100-03-01T00:00:00Z", PVXL_TIME_ABSOLUTE, S(4107542400LL) },
	/* 32-bit signed and unsigned second counters wrap here. */
	{ "2038-01-19T03:14:07Z", PVXL_TIME_ABSOLUTE, S(2147483647LL) },
	{ "2038-01-19T03:14:08Z", PVXL_TIME_ABSOLUTE, S(2147483648LL) },
	{ "2106-02-07T06:28:15Z", PVXL_TIME_ABSOLUTE, S(4294967295LL) },
	{ "2106-02-07T06:28:16Z", PVXL_TIME_ABSOLUTE, S(4294967296LL) },
	{ "2106-02-07T06:28:17Z", PVXL_TIME_ABSOLUTE, S(4294967297LL) },
	{ "2107-01-01T00:00:00Z", PVXL_TIME_ABSOLUTE, S(4323283200LL) },
	/* The hyp's limit (hyp/clock/wallclock.h WALLCLOCK_MAX_NS): pvxl lets it by. */
	{ "2261-01-01T00:00:00Z", PVXL_TIME_ABSOLUTE, S(9183110400LL) },
	{ "2262-04-11T23:47:16.854775807Z", PVXL_TIME_ABSOLUTE, INT64_MAX },

	{ "+2.5s", PVXL_TIME_RELATIVE, 2500000000LL },
	{ "-1h", PVXL_TIME_RELATIVE, -S(3600) },
	{ "+90m", PVXL_TIME_RELATIVE, S(5400) },
	{ "+1d", PVXL_TIME_RELATIVE, S(86400) },
	{ "+0.5d", PVXL_TIME_RELATIVE, S(43200) },
	{ "-250ms", PVXL_TIME_RELATIVE, -250000000 },
	{ "+10us", PVXL_TIME_RELATIVE, 10000 },
	{ "+1.5us", PVXL_TIME_RELATIVE, 1500 },
	{ "+100ns", PVXL_TIME_RELATIVE, 100 },
	{ "+0s", PVXL_TIME_RELATIVE, 0 },
	{ "-0.000000001s", PVXL_TIME_RELATIVE, -1 },
	{ "+106751d", PVXL_TIME_RELATIVE, S(106751LL * 86400) },
	{ "+9223372036854775807ns", PVXL_TIME_RELATIVE, INT64_MAX },
	{ "-9223372036854775807ns", PVXL_TIME_RELATIVE, -INT64_MAX },
};

struct bad_case {
	const char *text;
	const char *reason;	/* must appear in the parser's explanation */
};

static const struct bad_case bad[] = {
	{ "", "empty" },
	{ "1h", "need a sign" },
	{ "90", "need a sign" },
	{ "yesterday", "expected now" },
	{ "NOW", "expected now" },
	{ " now", "expected now" },

	{ "+1", "missing unit" },
	{ "-5", "missing unit" },
	{ "+1x", "unknown unit" },
	{ "+1S", "unknown unit" },
	{ "+1sec", "unknown unit" },
	/* A quoted control character must not break the one-line reason. */
	{ "+9Z\t", "unknown unit 'Z?'" },
	{ "@1\t", "unexpected '?' after the number" },
	{ "+1.s", "no digits after the decimal point" },
	{ "+.5s", "expected digits" },
	{ "+", "expected digits" },
	{ "+-1s", "expected digits" },
	{ "+1.5ns", "finer than 1 ns" },
	{ "+1.0000000001s", "more than 9 fraction digits" },
	{ "+9223372036854775808ns", "too large" },
	{ "+106752d", "too large" },
	{ "-106752d", "too large" },
	{ "+18446744073709551616ns", "too large" },
	{ "+99999999999999999999s", "too large" },

	{ "@", "expected digits" },
	{ "@-5", "negative" },
	{ "@x", "expected digits" },
	{ "@1.2.3", "unexpected '.'" },
	{ "@1s", "unexpected 's'" },
	{ "@1.", "no digits after the decimal point" },
	{ "@9223372036.854775808", "out of range" },
	{ "@9223372037", "out of range" },
	{ "@18446744073709551616", "too large" },

	{ "2027-13-01T00:00:00Z", "month 13" },
	{ "2027-00-01T00:00:00Z", "month 00" },
	{ "2027-01-32T00:00:00Z", "day 32" },
	{ "2027-01-00T00:00:00Z", "day 00" },
	{ "2027-02-29T00:00:00Z", "day 29" },
	{ "2100-02-29T00:00:00Z", "day 29" },
	{ "2027-04-31T00:00:00Z", "day 31" },
	{ "2027-01-01T24:00:00Z", "hour 24" },
	{ "2027-01-01T12:60:00Z", "minute 60" },
	{ "2027-01-01T12:00:60Z", "leap second" },
	{ "2027-01-01T12:00:61Z", "second 61" },
	{ "2027-01-01T12:00:00+24:00", "zone offset" },
	{ "2027-01-01T12:00:00+02:60", "zone offset" },
	{ "2027-01-01T12:00:00+2", "zone offset" },
	{ "2027-01-01T12:00:00X", "unexpected 'X'" },
	{ "2027-01-01T12:00:00Z ", "unexpected ' '" },
	{ "2027-01-01T12:00Z", "HH:MM:SS" },
	{ "2027-1-01T12:00:00Z", "YYYY-MM-DD" },
	{ "2027-01-01", "between date and time" },
	{ "2027-01-01X12:00:00", "between date and time" },
	{ "2027-01-01T12:00:00.Z", "no digits after the decimal point" },
	{ "2027-01-01T12:00:00.1234567890Z", "more than 9 fraction digits" },
	{ "1969-12-31T23:59:59Z", "before 1970" },
	{ "1970-01-01T00:30:00+01:00", "before 1970" },
	{ "2262-04-11T23:47:16.854775808Z", "out of range" },
	{ "2262-04-11T23:47:17Z", "out of range" },
	{ "9999-12-31T23:59:59Z", "out of range" },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

int main(void)
{
	size_t i;

	tap_plan((int)(ARRAY_SIZE(good) + ARRAY_SIZE(bad)));

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		struct pvxl_time t = { .kind = -1, .ns = 12345 };
		char why[160] = "";
		int rc = pvxl_time_parse(good[i].text, &t, why, sizeof(why));

		tap_ok(rc == 0 && t.kind == good[i].kind &&
		       (t.kind == PVXL_TIME_FOLLOW_HOST || t.ns == good[i].ns),
		       "'%s' -> kind %d ns %lld (got rc %d kind %d ns %lld%s%s)",
		       good[i].text, good[i].kind, (long long)good[i].ns,
		       rc, t.kind, (long long)t.ns, *why ? ": " : "", why);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct pvxl_time t;
		char why[160] = "";
		int rc = pvxl_time_parse(bad[i].text, &t, why, sizeof(why));

		tap_ok(rc == -1 && strstr(why, bad[i].reason),
		       "'%s' rejected with '%s' (got rc %d: %s)",
		       bad[i].text, bad[i].reason, rc, why);
	}
	return tap_done();
}
