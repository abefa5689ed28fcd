/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The TIME argument of 'pvxl set-wallclock': what the user typed, turned
 * into what the control protocol carries (host | abs <ns> | rel <ns>).
 */
#ifndef PVXL_TIME_ARG_H
#define PVXL_TIME_ARG_H

#include <stddef.h>
#include <stdint.h>

enum pvxl_time_kind {
	PVXL_TIME_FOLLOW_HOST,	/* "now": track host CLOCK_REALTIME */
	PVXL_TIME_ABSOLUTE,	/* ns since 1970-01-01T00:00:00Z, >= 0 */
	PVXL_TIME_RELATIVE,	/* signed ns added to the guest's wall time */
};

struct pvxl_time {
	enum pvxl_time_kind kind;
	int64_t ns;		/* unused for PVXL_TIME_FOLLOW_HOST */
};

/*
 * Parse TIME.  Returns 0, or -1 with a one-line reason (no trailing
 * newline; it may quote a piece of the input, control characters as '?')
 * in why[whylen].
 */
int pvxl_time_parse(const char *text, struct pvxl_time *out,
		    char *why, size_t whylen);

#endif /* PVXL_TIME_ARG_H */
