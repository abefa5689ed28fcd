/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Minimal TAP producer for pvtime's host-side unit tests.  The test runner
 * counts the "ok"/"not ok" lines and holds each program to its plan;
 * diagnostics go out as "# " lines.
 *
 *   tap_plan(3);
 *   tap_ok(x == 1, "x is one (got %d)", x);
 *   return tap_done();
 */
#ifndef PVTIME_TAP_H
#define PVTIME_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count;
static int tap_failed;
static int tap_planned = -1;

static inline void tap_plan(int n)
{
	tap_planned = n;
	printf("TAP version 13\n1..%d\n", n);
	fflush(stdout);
}

__attribute__((format(printf, 2, 3)))
static inline int tap_ok(int pass, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - ", pass ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return pass;
}

__attribute__((format(printf, 1, 2)))
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Exit status for main(): 0 when every planned test ran and passed. */
static inline int tap_done(void)
{
	if (tap_count != tap_planned) {
		tap_diag("planned %d results, printed %d", tap_planned, tap_count);
		return 1;
	}
	return tap_failed ? 1 : 0;
}

#endif /* PVTIME_TAP_H */
