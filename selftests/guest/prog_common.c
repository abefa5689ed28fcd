// SPDX-License-Identifier: GPL-2.0
/* The test programs' shared option parsing and clock reading (prog_common.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "prog_common.h"

int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

bool parse_ulong(const char *text, unsigned long min, unsigned long max,
		 unsigned long *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(text, &end, 10);
	/* strtoul() takes "-1" as ULONG_MAX: a sign is refused outright. */
	if (errno || end == text || *end || text[0] == '-' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int parse_ulong_option(const char *opt, const char *text, unsigned long min,
		       unsigned long max, unsigned long *out)
{
	if (parse_ulong(text, min, max, out))
		return 0;
	fprintf(stderr, "%s: %s '%s': want %lu..%lu\n",
		program_invocation_short_name, opt, text, min, max);
	return -EINVAL;
}

bool parse_double(const char *text, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	/* Written so that NaN fails the range check too. */
	if (errno || end == text || *end || !(v >= min && v <= max))
		return false;
	*out = v;
	return true;
}

int bad_option(const char *name, const char *value, const char *range)
{
	fprintf(stderr, "%s: bad %s '%s' (%s)\n", program_invocation_short_name,
		name, value, range);
	return 2;
}

int help_or_usage_error(int opt, void (*usage)(FILE *out))
{
	if (opt == 'h') {
		usage(stdout);
		exit(0);
	}
	usage(stderr);
	return 2;
}

int reject_operands(int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	fprintf(stderr, "%s: unexpected argument '%s'\n",
		program_invocation_short_name, argv[optind]);
	return 2;
}

int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}
