// SPDX-License-Identifier: GPL-2.0
/*
 * pvtime-virtual: the guest side of make check's virtual-time phase
 * (selftests/virtual_check.py).  Busy for a fixed stretch of the guest's
 * own TSC, which under QEMU -icount counts virtual nanoseconds (the
 * instructions executed), reading CLOCK_MONOTONIC in a tight loop: it
 * must never go back, and every skip pvtimed publishes (drift = "skip:F")
 * shows as a forward jump, which is printed for the runner to match
 * against pvtimed's own skip log:
 *
 *   pvtime-virtual [-c TSC_CYCLES] [-j JUMP_MIN_NS]
 *
 * prints "PVTIME-REPORT virtual_jumps_ns J1,J2,..." (or "none"), the
 * loop's figures as comments, and exits 1 if CLOCK_MONOTONIC went back.
 * For make bench, "pvtime-virtual -n CALLS" only times CALLS reads of
 * CLOCK_MONOTONIC by the guest's own clock and prints
 * "PVTIME-REPORT virtual_read_guest_ns X" (the host brackets it).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "prog_common.h"

#define JUMPS_MAX	256

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pvtime-virtual [-c TSC_CYCLES] [-j JUMP_MIN_NS]\n"
		"  -c  busy for this many guest TSC cycles (default 1500000000:\n"
		"      1.5 s of virtual time under -icount)\n"
		"  -j  report CLOCK_MONOTONIC steps at least this long\n"
		"      (default 20000000, 20 ms)\n"
		"  -n  instead, time CALLS reads of CLOCK_MONOTONIC\n");
}

/* make bench: the guest's own ns per CLOCK_MONOTONIC read. */
static int time_reads(unsigned long calls)
{
	int64_t start = clock_ns(CLOCK_MONOTONIC);
	unsigned long i;

	for (i = 0; i < calls; i++)
		clock_ns(CLOCK_MONOTONIC);
	printf("PVTIME-REPORT virtual_read_guest_ns %.1f\n",
	       (double)(clock_ns(CLOCK_MONOTONIC) - start) / (double)calls);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long cycles = 1500000000ul, jump_min = 20000000ul, calls = 0;
	int64_t jumps[JUMPS_MAX], prev, now, back_max = 0;
	unsigned long long tsc0, reads = 0, backward = 0;
	unsigned int nr_jumps = 0, i;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:j:n:h", longopts, NULL)) != -1) {
		if (opt == 'c') {
			if (parse_ulong_option("-c", optarg, 1000, 100000000000ul,
					       &cycles))
				return 2;
		} else if (opt == 'n') {
			if (parse_ulong_option("-n", optarg, 1, 1000000000ul,
					       &calls))
				return 2;
		} else if (opt == 'j') {
			if (parse_ulong_option("-j", optarg, 1, 10000000000ul,
					       &jump_min))
				return 2;
		} else {
			return help_or_usage_error(opt, usage);
		}
	}
	if (reject_operands(argc, argv))
		return 2;
	if (calls)
		return time_reads(calls);

	prev = clock_ns(CLOCK_MONOTONIC);
	tsc0 = __rdtsc();
	while (__rdtsc() - tsc0 < cycles) {
		now = clock_ns(CLOCK_MONOTONIC);
		reads++;
		if (now < prev) {
			backward++;
			if (prev - now > back_max)
				back_max = prev - now;
		} else if (now - prev >= (int64_t)jump_min && nr_jumps < JUMPS_MAX) {
			jumps[nr_jumps++] = now - prev;
		}
		prev = now;
	}
	printf("# %llu CLOCK_MONOTONIC reads over %lu TSC cycles; %llu backward (worst %lld ns); %u steps of %lu ns or more\n",
	       reads, cycles, backward, (long long)back_max, nr_jumps, jump_min);
	printf("PVTIME-REPORT virtual_jumps_ns ");
	for (i = 0; i < nr_jumps; i++)
		printf("%s%lld", i ? "," : "", (long long)jumps[i]);
	printf("%s\n", nr_jumps ? "" : "none");
	return backward ? 1 : 0;
}
