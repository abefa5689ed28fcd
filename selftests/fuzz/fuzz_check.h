/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A broken invariant in a harness is a finding like a crash: abort, so
 * libFuzzer saves the input as a reproducer.
 */
#ifndef PVTIME_FUZZ_CHECK_H
#define PVTIME_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define fuzz_check(cond, fmt, ...)					\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: invariant broken: " fmt "\n", \
				__FILE__, __LINE__, ##__VA_ARGS__);	\
			abort();					\
		}							\
	} while (0)

#endif /* PVTIME_FUZZ_CHECK_H */
