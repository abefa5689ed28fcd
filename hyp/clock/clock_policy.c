// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "clock/clock_policy.h"

const char *tsc_stable_policy_name(enum tsc_stable_policy policy)
{
	return policy == TSC_STABLE_OFF ? "off" : "auto";
}

/*
 * "slew:PPM" of the policy key 'key': PPM is plain decimal digits, no
 * sign, no spaces, in range.
 */
static int take_slew_ppm(const char *key, const char *text, const char *ppm,
			 uint32_t *out, char *why, size_t whylen)
{
	uint64_t n = 0;
	const char *c;

	if (!*ppm) {
		snprintf(why, whylen,
			 "bad %s '%s' (slew needs a rate: \"slew:PPM\", PPM %u..%u)",
			 key, text, STOPPED_SLEW_PPM_MIN, STOPPED_SLEW_PPM_MAX);
		return -1;
	}
	for (c = ppm; *c; c++) {
		if (*c < '0' || *c > '9') {
			snprintf(why, whylen,
				 "bad %s '%s' (PPM must be a decimal integer %u..%u)",
				 key, text, STOPPED_SLEW_PPM_MIN, STOPPED_SLEW_PPM_MAX);
			return -1;
		}
		/* Saturate instead of wrapping: any overflow is out of range. */
		if (n <= STOPPED_SLEW_PPM_MAX)
			n = n * 10 + (uint64_t)(*c - '0');
	}
	if (n < STOPPED_SLEW_PPM_MIN || n > STOPPED_SLEW_PPM_MAX) {
		snprintf(why, whylen,
			 "%s slew rate out of range: %s ppm (allowed %u..%u)",
			 key, ppm, STOPPED_SLEW_PPM_MIN, STOPPED_SLEW_PPM_MAX);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

/* "slew" alone is a slew without its rate: say so, not "unknown". */
static bool is_slew(const char *text)
{
	return !strcmp(text, "slew") || !strncmp(text, "slew:", 5);
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
	if (is_slew(text)) {
		if (take_slew_ppm("stopped_time", text, text[4] ? text + 5 : "",
				  slew_ppm, why, whylen))
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

const char *clock_mode_name(enum clock_mode mode)
{
	return mode == CLOCK_MODE_VIRTUAL ? "virtual" : "host";
}

/*
 * "skip:FRACTION": digits, optionally '.' and 1..6 more digits, in (0,1];
 * kept in millionths, exactly.
 */
static int take_skip_fraction(const char *text, const char *frac,
			      uint32_t *out, char *why, size_t whylen)
{
	uint64_t whole = 0, millionths = 0, scale = DRIFT_FRACTION_ONE;
	const char *c = frac;
	bool digits = false;

	if (!*frac) {
		snprintf(why, whylen,
			 "bad drift '%s' (skip needs a fraction: \"skip:FRACTION\", FRACTION in (0,1], e.g. skip:0.5)",
			 text);
		return -1;
	}
	for (; *c >= '0' && *c <= '9'; c++, digits = true)
		if (whole <= DRIFT_FRACTION_ONE)	/* saturate: out of range anyway */
			whole = whole * 10 + (uint64_t)(*c - '0');
	if (*c == '.' && digits) {
		unsigned int decimals = 0;

		for (c++; *c >= '0' && *c <= '9'; c++, decimals++) {
			if (decimals == DRIFT_FRACTION_DECIMALS)
				break;
			scale /= 10;
			millionths += (uint64_t)(*c - '0') * scale;
		}
		if (!decimals)
			digits = false;
	}
	if (!digits || *c) {
		snprintf(why, whylen,
			 "bad drift '%s' (FRACTION must be a decimal number in (0,1] with at most %d decimals, e.g. 0.5)",
			 text, DRIFT_FRACTION_DECIMALS);
		return -1;
	}
	millionths += whole > DRIFT_FRACTION_ONE ? DRIFT_FRACTION_ONE + 1 :
		      whole * DRIFT_FRACTION_ONE;
	if (millionths == 0 || millionths > DRIFT_FRACTION_ONE) {
		snprintf(why, whylen,
			 "drift skip fraction out of range: %s (allowed more than 0, at most 1)",
			 frac);
		return -1;
	}
	*out = (uint32_t)millionths;
	return 0;
}

int drift_policy_parse(const char *text, struct drift_policy *policy,
		       char *why, size_t whylen)
{
	struct drift_policy p = { .kind = DRIFT_KEEP };

	if (!strcmp(text, "keep")) {
		*policy = p;
		return 0;
	}
	if (!strcmp(text, "skip") || !strncmp(text, "skip:", 5)) {
		if (take_skip_fraction(text, text[4] ? text + 5 : "",
				       &p.skip_fraction_ppm, why, whylen))
			return -1;
		p.kind = DRIFT_SKIP;
		*policy = p;
		return 0;
	}
	if (is_slew(text)) {
		if (take_slew_ppm("drift", text, text[4] ? text + 5 : "",
				  &p.slew_ppm, why, whylen))
			return -1;
		p.kind = DRIFT_SLEW;
		*policy = p;
		return 0;
	}
	snprintf(why, whylen,
		 "bad drift '%s' (expected \"keep\", \"skip:FRACTION\" or \"slew:PPM\")",
		 text);
	return -1;
}

const char *drift_policy_name(const struct drift_policy *policy, char *buf,
			      size_t len)
{
	uint32_t frac = policy->skip_fraction_ppm;
	int decimals = DRIFT_FRACTION_DECIMALS;

	switch (policy->kind) {
	case DRIFT_SKIP:
		if (frac == DRIFT_FRACTION_ONE) {
			snprintf(buf, len, "skip:1");
			break;
		}
		/* The shortest decimals that say it exactly: 0.5, not 0.500000. */
		while (decimals > 1 && frac % 10 == 0) {
			frac /= 10;
			decimals--;
		}
		snprintf(buf, len, "skip:0.%0*u", decimals, frac);
		break;
	case DRIFT_SLEW:
		snprintf(buf, len, "slew:%u", policy->slew_ppm);
		break;
	default:
		snprintf(buf, len, "keep");
		break;
	}
	return buf;
}
