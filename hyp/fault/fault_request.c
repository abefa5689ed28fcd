// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Parsing and validating an inject request (pure: tested on the host). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse_int.h"
#include "fault/fault_inject.h"

static const char *const mode_names[] = {
	[FAULT_STORM] = "storm",
	[FAULT_SKEW] = "skew",
	[FAULT_FREQ_STEP] = "freq-step",
	[FAULT_REANCHOR] = "reanchor",
	[FAULT_ODD] = "odd",
	[FAULT_GUEST_STOPPED] = "guest-stopped",
	[FAULT_CLEAR] = "clear",
	[FAULT_CLOCK_STATUS_OFF] = "clock-status-off",
	[FAULT_CLOCK_STATUS_ODD] = "clock-status-odd",
	[FAULT_JUMP] = "jump",
};

/* Arguments after the mode name. */
static const int mode_args[] = {
	[FAULT_STORM] = 2, [FAULT_SKEW] = 1, [FAULT_FREQ_STEP] = 1,
	[FAULT_REANCHOR] = 0, [FAULT_ODD] = 2, [FAULT_GUEST_STOPPED] = 0,
	[FAULT_CLEAR] = 0, [FAULT_CLOCK_STATUS_OFF] = 0,
	[FAULT_CLOCK_STATUS_ODD] = 1, [FAULT_JUMP] = 1,
};

static const char *const mode_usage[] = {
	[FAULT_STORM] = "storm <rate_hz 1..10000> <duration_ms 1..600000>",
	[FAULT_SKEW] = "skew <ns 0..1000000000>",
	[FAULT_FREQ_STEP] = "freq-step <ppm -1000..1000>",
	[FAULT_REANCHOR] = "reanchor",
	[FAULT_ODD] = "odd <vcpu> <ms 1..5000>",
	[FAULT_GUEST_STOPPED] = "guest-stopped",
	[FAULT_CLEAR] = "clear",
	[FAULT_CLOCK_STATUS_OFF] = "clock-status-off",
	[FAULT_CLOCK_STATUS_ODD] = "clock-status-odd <ms 1..5000>",
	[FAULT_JUMP] = "jump <ms 1..10000>",
};

const char *fault_mode_name(enum fault_mode mode)
{
	return mode_names[mode];
}

int fault_request_parse(int argc, char **argv, uint32_t nr_vcpus,
			struct fault_request *req, char *err, size_t errlen)
{
	size_t i;
	long long a = 0, b = 0;

	memset(req, 0, sizeof(*req));
	if (argc < 1) {
		snprintf(err, errlen, "missing mode (storm, skew, freq-step, reanchor, odd, guest-stopped, clear, clock-status-off, clock-status-odd or jump)");
		return -1;
	}
	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(argv[0], mode_names[i]))
			break;
	if (i == sizeof(mode_names) / sizeof(mode_names[0])) {
		snprintf(err, errlen, "unknown mode '%s' (expected storm, skew, freq-step, reanchor, odd, guest-stopped, clear, clock-status-off, clock-status-odd or jump)",
			 argv[0]);
		return -1;
	}
	req->mode = (enum fault_mode)i;
	if (argc - 1 != mode_args[i]) {
		snprintf(err, errlen, "usage: inject <dom> %s", mode_usage[i]);
		return -1;
	}
	switch (req->mode) {
	case FAULT_STORM:
		if (parse_int_strict(argv[1], 1, FAULT_STORM_HZ_MAX, &a) ||
		    parse_int_strict(argv[2], 1, FAULT_STORM_MS_MAX, &b))
			goto bad;
		req->rate_hz = (uint32_t)a;
		req->duration_ms = (uint32_t)b;
		break;
	case FAULT_SKEW:
		if (parse_int_strict(argv[1], 0, FAULT_SKEW_NS_MAX, &a))
			goto bad;
		req->skew_ns = a;
		break;
	case FAULT_FREQ_STEP:
		if (parse_int_strict(argv[1], -FAULT_PPM_MAX, FAULT_PPM_MAX, &a))
			goto bad;
		req->ppm = (int32_t)a;
		break;
	case FAULT_ODD:
		if (parse_int_strict(argv[1], 0, (long long)nr_vcpus - 1, &a)) {
			snprintf(err, errlen, "bad vcpu '%s' (the domain has vCPUs 0..%u)",
				 argv[1], nr_vcpus - 1);
			return -1;
		}
		if (parse_int_strict(argv[2], 1, FAULT_ODD_MS_MAX, &b))
			goto bad;
		req->vcpu = (uint32_t)a;
		req->duration_ms = (uint32_t)b;
		break;
	case FAULT_CLOCK_STATUS_ODD:
		if (parse_int_strict(argv[1], 1, FAULT_ODD_MS_MAX, &a))
			goto bad;
		req->duration_ms = (uint32_t)a;
		break;
	case FAULT_JUMP:
		if (parse_int_strict(argv[1], 1, FAULT_JUMP_MS_MAX, &a))
			goto bad;
		req->duration_ms = (uint32_t)a;
		break;
	default:
		break;
	}
	return 0;
bad:
	snprintf(err, errlen, "bad arguments for %s (usage: inject <dom> %s)",
		 argv[0], mode_usage[i]);
	return -1;
}
