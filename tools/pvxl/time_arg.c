// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * TIME grammar (integer arithmetic only, every step overflow-checked):
 *
 *   now                                  follow the host's wall clock
 *   @SECONDS[.FRACTION]                  absolute, seconds since the epoch
 *   YYYY-MM-DD{T| }HH:MM:SS[.FRACTION][Z|+HH:MM|-HH:MM|+HHMM|-HHMM|+HH|-HH]
 *                                        absolute, UTC unless a zone is given
 *   {+|-}NUMBER[.FRACTION]UNIT           relative, UNIT in ns us ms s m h d
 *
 * FRACTION has 1 to 9 digits.  Absolute times must lie in
 * [1970-01-01T00:00:00Z, 2262-04-11T23:47:16.854775807Z], the range of a
 * signed 64-bit nanosecond count.  Leap seconds (second 60) are rejected:
 * the wall clock here is POSIX time, which has no name for them.
 */
#include "time_arg.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_SEC	1000000000ull
#define MAX_FRACTION_DIGITS 9

/*
 * The reason may quote a piece of the input; a control character in it
 * becomes '?' so the reason stays one printable line.
 */
__attribute__((format(printf, 3, 4)))
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	char *p;

	if (whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
		for (p = why; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return -1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Unbounded decimal integer; false on no digits or overflow of u64. */
static bool parse_u64(const char **p, uint64_t *val, bool *overflow)
{
	const char *s = *p;
	uint64_t v = 0;

	*overflow = false;
	if (!is_digit(*s))
		return false;
	for (; is_digit(*s); s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (v > (UINT64_MAX - d) / 10) {
			*overflow = true;
			return false;
		}
		v = v * 10 + d;
	}
	*val = v;
	*p = s;
	return true;
}

/* Exactly 'width' digits. */
static bool parse_fixed(const char **p, int width, unsigned int *val)
{
	unsigned int v = 0;
	int i;

	for (i = 0; i < width; i++) {
		if (!is_digit((*p)[i]))
			return false;
		v = v * 10 + (unsigned int)((*p)[i] - '0');
	}
	*p += width;
	*val = v;
	return true;
}

/*
 * Optional ".DIGITS" (',' too, as ISO 8601 allows): the fraction as a
 * numerator over 10^digits.  Returns false with *why set on a bad fraction.
 */
static bool parse_fraction(const char **p, uint64_t *num, uint64_t *den,
			   char *why, size_t whylen)
{
	const char *s = *p;
	int digits = 0;

	*num = 0;
	*den = 1;
	if (*s != '.' && *s != ',')
		return true;
	s++;
	for (; is_digit(*s); s++, digits++) {
		if (digits == MAX_FRACTION_DIGITS) {
			fail(why, whylen, "more than %d fraction digits (finer than 1 ns)",
			     MAX_FRACTION_DIGITS);
			return false;
		}
		*num = *num * 10 + (uint64_t)(*s - '0');
		*den *= 10;
	}
	if (!digits) {
		fail(why, whylen, "no digits after the decimal point");
		return false;
	}
	*p = s;
	return true;
}

static bool is_leap_year(unsigned int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned int days_in_month(unsigned int y, unsigned int m)
{
	static const unsigned char days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return days[m - 1] + (m == 2 && is_leap_year(y));
}

/* Leap years in [1, y]. */
static int64_t leap_years_through(int64_t y)
{
	return y / 4 - y / 100 + y / 400;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian, y >= 1970). */
static int64_t days_since_epoch(unsigned int y, unsigned int m, unsigned int d)
{
	static const unsigned short days_before_month[12] = {
		0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334
	};
	int64_t days = (int64_t)(y - 1970) * 365 +
		       leap_years_through(y - 1) - leap_years_through(1969);

	days += days_before_month[m - 1];
	if (m > 2 && is_leap_year(y))
		days++;
	return days + d - 1;
}

/* Seconds + fraction -> ns, with the int64 range check. */
static int seconds_to_ns(__int128 sec, uint64_t frac_num, uint64_t frac_den,
			 int64_t *ns, char *why, size_t whylen)
{
	__int128 total;

	if (sec < 0)
		return fail(why, whylen, "before 1970-01-01T00:00:00Z (the epoch)");
	if (sec > INT64_MAX / (__int128)NS_PER_SEC + 1)
		return fail(why, whylen, "out of range (after 2262-04-11T23:47:16.854775807Z)");
	total = sec * NS_PER_SEC + (__int128)(frac_num * (NS_PER_SEC / frac_den));
	if (total > INT64_MAX)
		return fail(why, whylen, "out of range (after 2262-04-11T23:47:16.854775807Z)");
	*ns = (int64_t)total;
	return 0;
}

static int parse_epoch(const char *s, struct pvxl_time *out,
		       char *why, size_t whylen)
{
	uint64_t sec, frac_num, frac_den;
	bool overflow;

	if (*s == '-')
		return fail(why, whylen, "negative epoch seconds are not supported");
	if (!parse_u64(&s, &sec, &overflow))
		return fail(why, whylen, overflow ? "number too large" :
			    "expected digits after '@'");
	if (!parse_fraction(&s, &frac_num, &frac_den, why, whylen))
		return -1;
	if (*s)
		return fail(why, whylen, "unexpected '%c' after the number", *s);
	out->kind = PVXL_TIME_ABSOLUTE;
	return seconds_to_ns(sec, frac_num, frac_den, &out->ns, why, whylen);
}

/* Zone designator: Z, +HH:MM, +HHMM, +HH (or '-'); offset east of UTC. */
static int parse_zone(const char **p, int64_t *offset_sec,
		      char *why, size_t whylen)
{
	const char *s = *p;
	unsigned int hh, mm = 0;
	int sign;

	*offset_sec = 0;
	if (!*s)
		return 0;	/* no zone: UTC */
	if (*s == 'Z' || *s == 'z') {
		*p = s + 1;
		return 0;
	}
	if (*s != '+' && *s != '-')
		return fail(why, whylen, "unexpected '%c' where a zone (Z, +HH:MM) may follow", *s);
	sign = *s == '-' ? -1 : 1;
	s++;
	if (!parse_fixed(&s, 2, &hh))
		return fail(why, whylen, "zone offset must be +HH:MM, +HHMM or +HH");
	if (*s == ':')
		s++;
	if (*s && !parse_fixed(&s, 2, &mm))
		return fail(why, whylen, "zone offset must be +HH:MM, +HHMM or +HH");
	if (hh > 23 || mm > 59)
		return fail(why, whylen, "zone offset %02u:%02u out of range (max 23:59)", hh, mm);
	*offset_sec = sign * (int64_t)(hh * 3600 + mm * 60);
	*p = s;
	return 0;
}

static int parse_iso8601(const char *s, struct pvxl_time *out,
			 char *why, size_t whylen)
{
	unsigned int year, month, day, hour, minute, second;
	uint64_t frac_num, frac_den;
	int64_t zone_sec;
	__int128 sec;

	if (!parse_fixed(&s, 4, &year) || *s++ != '-' ||
	    !parse_fixed(&s, 2, &month) || *s++ != '-' ||
	    !parse_fixed(&s, 2, &day))
		return fail(why, whylen, "date must be YYYY-MM-DD");
	if (*s != 'T' && *s != 't' && *s != ' ')
		return fail(why, whylen, "expected 'T' or ' ' between date and time");
	s++;
	if (!parse_fixed(&s, 2, &hour) || *s++ != ':' ||
	    !parse_fixed(&s, 2, &minute) || *s++ != ':' ||
	    !parse_fixed(&s, 2, &second))
		return fail(why, whylen, "time of day must be HH:MM:SS");
	if (!parse_fraction(&s, &frac_num, &frac_den, why, whylen))
		return -1;
	if (parse_zone(&s, &zone_sec, why, whylen))
		return -1;
	if (*s)
		return fail(why, whylen, "unexpected '%c' after the time", *s);

	if (year < 1970)
		return fail(why, whylen, "year %04u is before 1970 (the epoch)", year);
	if (month < 1 || month > 12)
		return fail(why, whylen, "month %02u out of range 01..12", month);
	if (day < 1 || day > days_in_month(year, month))
		return fail(why, whylen, "day %02u out of range for %04u-%02u (01..%02u)",
			    day, year, month, days_in_month(year, month));
	if (hour > 23)
		return fail(why, whylen, "hour %02u out of range 00..23", hour);
	if (minute > 59)
		return fail(why, whylen, "minute %02u out of range 00..59", minute);
	if (second == 60)
		return fail(why, whylen, "leap second :60 is not representable in POSIX time");
	if (second > 59)
		return fail(why, whylen, "second %02u out of range 00..59", second);

	sec = (__int128)days_since_epoch(year, month, day) * 86400 +
	      hour * 3600 + minute * 60 + second - zone_sec;
	out->kind = PVXL_TIME_ABSOLUTE;
	return seconds_to_ns(sec, frac_num, frac_den, &out->ns, why, whylen);
}

struct time_unit {
	const char *name;
	uint64_t ns;
};

/* Longest names first so "ms" is not read as "m" followed by junk. */
static const struct time_unit units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "ms", 1000000 },
	{ "s", NS_PER_SEC },
	{ "m", 60 * NS_PER_SEC },
	{ "h", 3600 * NS_PER_SEC },
	{ "d", 86400 * NS_PER_SEC },
};

static int parse_offset(const char *s, struct pvxl_time *out,
			char *why, size_t whylen)
{
	bool negative = *s == '-';
	uint64_t whole, frac_num, frac_den;
	unsigned __int128 total;
	const struct time_unit *unit = NULL;
	bool overflow;
	size_t i;

	s++;
	if (!parse_u64(&s, &whole, &overflow))
		return fail(why, whylen, overflow ? "number too large" :
			    "expected digits after the sign");
	if (!parse_fraction(&s, &frac_num, &frac_den, why, whylen))
		return -1;
	if (!*s)
		return fail(why, whylen, "missing unit (one of ns us ms s m h d)");
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(s, units[i].name)) {
			unit = &units[i];
			break;
		}
	}
	if (!unit)
		return fail(why, whylen, "unknown unit '%s' (one of ns us ms s m h d)", s);

	if ((unsigned __int128)frac_num * unit->ns % frac_den)
		return fail(why, whylen, "fraction finer than 1 ns");
	/* whole < 2^64 and unit < 2^47: the product fits 128 bits. */
	total = (unsigned __int128)whole * unit->ns +
		(unsigned __int128)frac_num * unit->ns / frac_den;
	if (total > INT64_MAX)
		return fail(why, whylen, "offset too large (limit about 292 years)");
	out->kind = PVXL_TIME_RELATIVE;
	out->ns = negative ? -(int64_t)total : (int64_t)total;
	return 0;
}

int pvxl_time_parse(const char *text, struct pvxl_time *out,
		    char *why, size_t whylen)
{
	const char *s = text;

	if (!*text)
		return fail(why, whylen, "empty");
	if (!strcmp(text, "now")) {
		out->kind = PVXL_TIME_FOLLOW_HOST;
		out->ns = 0;
		return 0;
	}
	if (*s == '@')
		return parse_epoch(s + 1, out, why, whylen);
	if (*s == '+' || *s == '-')
		return parse_offset(s, out, why, whylen);
	if (is_digit(*s)) {
		while (is_digit(*s))
			s++;
		/* "90s" or "1h": an offset that forgot its sign. */
		if (s - text < 4 || (*s && *s != '-'))
			return fail(why, whylen,
				    "not a date; offsets need a sign (+%s or -%s)",
				    text, text);
		return parse_iso8601(text, out, why, whylen);
	}
	return fail(why, whylen,
		    "expected now, @SECONDS, YYYY-MM-DDTHH:MM:SS[Z] or a signed offset like +2.5s");
}
