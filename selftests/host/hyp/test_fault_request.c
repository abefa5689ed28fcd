// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Parsing of inject requests: every mode, its bounds and bad input. */
#include <string.h>

#include "tap.h"
#include "fault/fault_inject.h"

static int parse(const char *line, struct fault_request *req, char *err,
		 size_t errlen)
{
	static char buf[256];
	char *argv[8];
	int argc = 0;
	char *tok;

	snprintf(buf, sizeof(buf), "%s", line);
	for (tok = strtok(buf, " "); tok && argc < 8; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	err[0] = '\0';
	return fault_request_parse(argc, argv, 2, req, err, errlen);
}

struct bad_case {
	const char *line;
	const char *message;
};

static const struct bad_case bad[] = {
	{ "", "missing mode" },
	{ "flood 1", "unknown mode 'flood'" },
	{ "storm 1000", "usage: inject <dom> storm <rate_hz 1..10000> <duration_ms 1..600000>" },
	{ "storm 0 100", "bad arguments for storm" },
	{ "storm 10001 100", "bad arguments for storm" },
	{ "storm 100 600001", "bad arguments for storm" },
	{ "storm 1e3 100", "bad arguments for storm" },
	{ "skew -1", "bad arguments for skew" },
	{ "skew 1000000001", "bad arguments for skew" },
	{ "skew 12abc", "bad arguments for skew" },
	{ "freq-step 1001", "bad arguments for freq-step" },
	{ "freq-step -1001", "bad arguments for freq-step" },
	{ "freq-step", "usage: inject <dom> freq-step" },
	{ "odd 2 100", "bad vcpu '2' (the domain has vCPUs 0..1)" },
	{ "odd 0 0", "bad arguments for odd" },
	{ "odd 0 5001", "bad arguments for odd" },
	{ "reanchor now", "usage: inject <dom> reanchor" },
	{ "clear all", "usage: inject <dom> clear" },
	{ "guest-stopped 1", "usage: inject <dom> guest-stopped" },
	{ "skew 99999999999999999999", "bad arguments for skew" },
	{ "clock-status-off 1", "usage: inject <dom> clock-status-off" },
	{ "clock-status-odd", "usage: inject <dom> clock-status-odd <ms 1..5000>" },
	{ "clock-status-odd 0", "bad arguments for clock-status-odd" },
	{ "clock-status-odd 5001", "bad arguments for clock-status-odd" },
	{ "clock-status-odd 1 2", "usage: inject <dom> clock-status-odd" },
	{ "jump", "usage: inject <dom> jump <ms 1..10000>" },
	{ "jump 0", "bad arguments for jump" },
	{ "jump 10001", "bad arguments for jump" },
	{ "jump -5", "bad arguments for jump" },
	{ "jump 5 5", "usage: inject <dom> jump" },
};

int main(void)
{
	struct fault_request req;
	char err[256];
	size_t i;

	tap_plan(10 + (int)(sizeof(bad) / sizeof(bad[0])));
	tap_ok(!parse("storm 10000 600000", &req, err, sizeof(err)) &&
	       req.mode == FAULT_STORM && req.rate_hz == 10000 &&
	       req.duration_ms == 600000, "storm at its upper bounds");
	tap_ok(!parse("skew 0", &req, err, sizeof(err)) && req.mode == FAULT_SKEW &&
	       req.skew_ns == 0, "skew 0 removes the skew");
	tap_ok(!parse("skew 1000000000", &req, err, sizeof(err)) &&
	       req.skew_ns == 1000000000, "skew of 1 s is the limit");
	tap_ok(!parse("freq-step -1000", &req, err, sizeof(err)) &&
	       req.mode == FAULT_FREQ_STEP && req.ppm == -1000, "freq-step -1000");
	tap_ok(!parse("freq-step +100", &req, err, sizeof(err)) && req.ppm == 100,
	       "freq-step +100 with a sign");
	tap_ok(!parse("odd 1 5000", &req, err, sizeof(err)) && req.mode == FAULT_ODD &&
	       req.vcpu == 1 && req.duration_ms == 5000, "odd on the last vCPU");
	tap_ok(!parse("reanchor", &req, err, sizeof(err)) && req.mode == FAULT_REANCHOR &&
	       !parse("guest-stopped", &req, err, sizeof(err)) &&
	       req.mode == FAULT_GUEST_STOPPED, "reanchor and guest-stopped take no args");
	tap_ok(!parse("clear", &req, err, sizeof(err)) && req.mode == FAULT_CLEAR &&
	       !strcmp(fault_mode_name(FAULT_FREQ_STEP), "freq-step"),
	       "clear; mode names");
	tap_ok(!parse("clock-status-off", &req, err, sizeof(err)) &&
	       req.mode == FAULT_CLOCK_STATUS_OFF &&
	       !parse("clock-status-odd 5000", &req, err, sizeof(err)) &&
	       req.mode == FAULT_CLOCK_STATUS_ODD && req.duration_ms == 5000 &&
	       !strcmp(fault_mode_name(FAULT_CLOCK_STATUS_ODD), "clock-status-odd"),
	       "clock-status-off; clock-status-odd at its limit");
	tap_ok(!parse("jump 10000", &req, err, sizeof(err)) &&
	       req.mode == FAULT_JUMP && req.duration_ms == 10000 &&
	       !parse("jump 1", &req, err, sizeof(err)) && req.duration_ms == 1 &&
	       !strcmp(fault_mode_name(FAULT_JUMP), "jump"),
	       "jump at both limits");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse(bad[i].line, &req, err, sizeof(err));

		tap_ok(ret == -1 && strstr(err, bad[i].message),
		       "'%s' refused: %s", bad[i].line, err);
	}
	return tap_done();
}
