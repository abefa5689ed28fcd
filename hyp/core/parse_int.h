/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Integers from the control protocol, parsed strictly. */
#ifndef PVTIMED_PARSE_INT_H
#define PVTIMED_PARSE_INT_H

/*
 * s is a decimal integer in [min, max], with an optional sign and nothing
 * else (no spaces, no suffix).  Returns 0 with *out set, or -1.
 */
int parse_int_strict(const char *s, long long min, long long max,
		     long long *out);

#endif /* PVTIMED_PARSE_INT_H */
