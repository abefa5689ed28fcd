// SPDX-License-Identifier: GPL-2.0
/*
 * pvtime-rate: how fast and how far this guest's clocks run against the
 * host's, measured through pvtime's mailbox (debugfs realtime_probe):
 *
 *   pvtime-rate [-d SECONDS] [-i MS] [--json]
 *
 * Samples every MS (default 500) for SECONDS (default 10) and fits a line
 * to each offset over host time: the slope is the rate error in ppm of
 * the guest's CLOCK_MONOTONIC_RAW against the host's, and of its
 * CLOCK_REALTIME against the domain's wall time, with its standard error.
 * Works with any current clocksource.  Exit 0, 1 when the probe failed,
 * 2 on usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_files.h"
#include "prog_common.h"
#include "rate_probe.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: pvtime-rate [-d SECONDS] [-i MS] [--json]\n"
		"  -d SECONDS  how long to sample, 1..86400 (default 10)\n"
		"  -i MS       sampling interval, 10..60000 (default 500)\n"
		"  --json      one JSON object instead of key value lines\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long duration = 10, interval = 500;
	struct rate_result r;
	char clocksource[64] = "?";
	bool json = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "d:i:h", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (!parse_ulong(optarg, 1, 86400, &duration)) {
				fprintf(stderr, "pvtime-rate: -d '%s': want 1..86400 seconds\n",
					optarg);
				return 2;
			}
			break;
		case 'i':
			if (!parse_ulong(optarg, 10, 60000, &interval)) {
				fprintf(stderr, "pvtime-rate: -i '%s': want 10..60000 ms\n",
					optarg);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		default:
			return help_or_usage_error(opt, usage);
		}
	}
	if (reject_operands(argc, argv)) {
		usage(stderr);
		return 2;
	}
	read_small_file(CURRENT_CLOCKSOURCE, clocksource, sizeof(clocksource));
	if (rate_measure((double)duration, (unsigned int)interval, &r))
		return 1;

	if (json) {
		printf("{\"clocksource\": \"%s\", \"samples\": %zu, \"duration_s\": %.3f, "
		       "\"raw_ppm\": %.4f, \"raw_ppm_err\": %.4f, "
		       "\"realtime_ppm\": %.4f, \"realtime_ppm_err\": %.4f, "
		       "\"raw_offset_mean_ns\": %.0f, \"realtime_offset_mean_ns\": %.0f, "
		       "\"rtt_median_ns\": %.0f}\n",
		       clocksource, r.samples, r.duration_s, r.raw_ppm,
		       r.raw_ppm_err, r.realtime_ppm, r.realtime_ppm_err,
		       r.raw_offset_mean_ns, r.realtime_offset_mean_ns,
		       r.rtt_median_ns);
		return 0;
	}
	printf("clocksource %s\n", clocksource);
	printf("samples %zu\n", r.samples);
	printf("duration_s %.3f\n", r.duration_s);
	printf("raw_ppm %.4f\n", r.raw_ppm);
	printf("raw_ppm_err %.4f\n", r.raw_ppm_err);
	printf("realtime_ppm %.4f\n", r.realtime_ppm);
	printf("realtime_ppm_err %.4f\n", r.realtime_ppm_err);
	printf("raw_offset_mean_ns %.0f\n", r.raw_offset_mean_ns);
	printf("realtime_offset_mean_ns %.0f\n", r.realtime_offset_mean_ns);
	printf("rtt_median_ns %.0f\n", r.rtt_median_ns);
	return 0;
}
