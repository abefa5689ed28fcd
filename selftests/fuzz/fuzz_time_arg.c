// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer harness: the TIME argument of 'pvxl set-wallclock'
 * (tools/pvxl/time_arg.c).  The input is one command-line word.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "time_arg.h"

#define TIME_ARG_MAX_BYTES	256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pvxl_time t;
	char why[160];
	char *text;
	int ret;

	/* argv words end at the first NUL and are never very long. */
	if (size > TIME_ARG_MAX_BYTES)
		return -1;
	text = strndup((const char *)data, size);
	if (!text)
		abort();
	why[0] = '\0';
	ret = pvxl_time_parse(text, &t, why, sizeof(why));
	if (ret == 0) {
		fuzz_check(t.kind == PVXL_TIME_FOLLOW_HOST ||
			   t.kind == PVXL_TIME_ABSOLUTE ||
			   t.kind == PVXL_TIME_RELATIVE, "kind %d", t.kind);
		fuzz_check(t.kind != PVXL_TIME_ABSOLUTE || t.ns >= 0,
			   "absolute time before 1970: %lld", (long long)t.ns);
	} else {
		fuzz_check(ret == -1, "returned %d", ret);
		fuzz_check(why[0] != '\0', "failure without a reason");
		fuzz_check(!strchr(why, '\n'), "reason spans lines: %s", why);
	}
	free(text);
	return 0;
}
