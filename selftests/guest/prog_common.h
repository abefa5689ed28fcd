/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the test programs' command lines and figures share: strict
 * parsing of an option's number, the messages and exit status 2 of a
 * usage error, a clock read in nanoseconds and the int64_t order for
 * qsort().  Linked into the guest programs (selftests/guest/Makefile)
 * and into pvtime-meter, the meter's host side
 * (selftests/host/meter/Makefile).  Messages start with the name the
 * program was run by.
 */
#ifndef PVTIME_PROG_COMMON_H
#define PVTIME_PROG_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define NSEC_PER_SEC	1000000000LL

/* clock_gettime(id) in nanoseconds. */
int64_t clock_ns(clockid_t id);

/*
 * text is a whole decimal number in [min, max] (no sign, no suffix);
 * false leaves *out alone.
 */
bool parse_ulong(const char *text, unsigned long min, unsigned long max,
		 unsigned long *out);

/*
 * parse_ulong() for the programs with short options: on failure
 * "PROG: OPT 'TEXT': want MIN..MAX" on stderr and -EINVAL, else 0.
 */
int parse_ulong_option(const char *opt, const char *text, unsigned long min,
		       unsigned long max, unsigned long *out);

/* text is a whole floating-point number in [min, max]. */
bool parse_double(const char *text, double min, double max, double *out);

/* "PROG: bad NAME 'VALUE' (RANGE)" on stderr; returns 2, the exit status. */
int bad_option(const char *name, const char *value, const char *range);

/*
 * getopt's answer 'h' (--help) or one it did not know: the usage on
 * stdout and exit 0, or the usage on stderr and 2 returned.
 */
int help_or_usage_error(int opt, void (*usage)(FILE *out));

/*
 * After getopt: these programs take no operands.  Says so on stderr
 * and returns 2 if one is left, else 0.
 */
int reject_operands(int argc, char **argv);

/* qsort() order of int64_t values, ascending. */
int cmp_int64(const void *a, const void *b);

#endif /* PVTIME_PROG_COMMON_H */
