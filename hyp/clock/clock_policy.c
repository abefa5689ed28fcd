// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <stdio.h>
#include <string.h>

#include "clock/clock_policy.h"

const char *tsc_stable_policy_name(enum tsc_stable_policy policy)
{
	return policy == TSC_STABLE_OFF ? "off" : "auto";
}

/* "slew:PPM": PPM is plain decimal digits, no sign, no spaces, in range. */
static int take_slew_ppm(const char *text, const char *ppm, uint32_t *out,
			 char *why, size_t whylen)
{
	uint64_t n = 0;
	const char *c;

	if (!*ppm) {
		snprintf(why, whylen,
			 "bad stopped_time '%s' (slew needs a rate: \"slew:PPM\", PPM %u..%u)",
			 text, STOPPED_SLEW_PPM_MIN, STOPPED_SLEW_PPM_MAX);
		return -1;
	}
	for (c = ppm; *c; c++) {
		if (*c < '0' || *c > '9') {
			snprintf(why, whylen,
				 "bad stopped_time '%s' (PPM must be a decimal integer %u..%u)",
				 text, STOPPED_SLEW_PPM_MIN, STOPPED_SLEW_PPM_MAX);
			return -1;
		}
		/* Saturate instead of wrapping: any overflow is out of range. */
		if (n <= STOPPED_SLEW_PPM_MAX)
			n = n * 10 + (uint64_t)(*c - '0');
	}
	if (n < STOPPED_SLEW_PPM_MIN || n > STOPPED_SLEW_PPM_MAX) {
		snprintf(why, whylen,
			 "stopped_time slew rate out of range: %s ppm (allowed %u..%u)",
			 ppm, STOPPED_SLEW_PPM_MIN, STOPPED_SLEW_PPM_MAX);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

int stopped_time_policy_parse(const char *text, enum stopped_time_policy *policy,
			      uint32_t *slew_ppm, char *why, size_t whylen)
{
	if (!strcmp(text, "step")) {
		*policy = STOPPED_TIME_STEP;
		*slew_ppm = 0;
		return 0;
	}
	if (!strcmp(text, "keep")) {
		*policy = STOPPED_TIME_KEEP;
		*slew_ppm = 0;
		return 0;
	}
	/* "slew" alone is a slew without its rate: say so, not "unknown". */
	if (!strcmp(text, "slew") || !strncmp(text, "slew:", 5)) {
		if (take_slew_ppm(text, text[4] ? text + 5 : "", slew_ppm, why,
				  whylen))
			return -1;
		*policy = STOPPED_TIME_SLEW;
		return 0;
	}
	snprintf(why, whylen,
		 "bad stopped_time '%s' (expected \"step\", \"slew:PPM\" or \"keep\")",
		 text);
	return -1;
}

const char *stopped_time_policy_name(enum stopped_time_policy policy,
				     uint32_t slew_ppm, char *buf, size_t len)
{
	switch (policy) {
	case STOPPED_TIME_SLEW:
		snprintf(buf, len, "slew:%u", slew_ppm);
		break;
	case STOPPED_TIME_KEEP:
		snprintf(buf, len, "keep");
		break;
	default:
		snprintf(buf, len, "step");
		break;
	}
	return buf;
}
