// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stdlib.h>

#include "core/parse_int.h"

int parse_int_strict(const char *s, long long min, long long max,
		     long long *out)
{
	char *end;
	long long v;

	/* strtoll would skip leading spaces. */
	if (!*s || (*s != '-' && *s != '+' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end || errno || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
