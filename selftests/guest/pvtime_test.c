// SPDX-License-Identifier: GPL-2.0
/*
 * In-guest tests of pvtime.ko, run with the module loaded (mode main of
 * run-guest-tests.sh).  They run in this order:
 *
 *   clocksource_is_pvtime       insmod made pvtime the current clocksource
 *   monotonic_across_cpus       no CPU ever reads an earlier MONOTONIC time
 *   realtime_matches_hyp        guest REALTIME within 50 us of the hyp's
 *   wallclock_is_wc_plus_system wc + system time agrees with REALTIME
 *   set_wallclock_followed      pvxl set-wallclock +3600s / now reach us
 *
 * Lines starting with PVTIME- go to the host runner (CONTRACT.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "guest_files.h"
#include "monotonic_check.h"

#define NSEC_PER_USEC		1000ll
#define NSEC_PER_MSEC		1000000ll
#define NSEC_PER_SEC		1000000000ll

#define MONOTONIC_RUN_SEC	3
#define REALTIME_TOLERANCE_NS	(50 * NSEC_PER_USEC)
#define WALLCLOCK_JUMP_NS	(3600 * NSEC_PER_SEC)
#define WALLCLOCK_SLACK_NS	NSEC_PER_SEC
#define WALLCLOCK_WAIT_NS	(10 * NSEC_PER_SEC)
#define POLL_INTERVAL_NS	(10 * NSEC_PER_MSEC)

/* The host runner reads our stdout through a pipe: keep it line-buffered. */
static void __attribute__((constructor)) line_buffer_stdout(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {
		.tv_sec = ns / NSEC_PER_SEC,
		.tv_nsec = ns % NSEC_PER_SEC,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC: moves only when the wall clock steps. */
static int64_t wall_offset_ns(void)
{
	int64_t mono1 = clock_ns(CLOCK_MONOTONIC);
	int64_t real = clock_ns(CLOCK_REALTIME);
	int64_t mono2 = clock_ns(CLOCK_MONOTONIC);

	return real - (mono1 + (mono2 - mono1) / 2);
}

/* Ask the host runner to run "pvxl <args after the domain>". */
static void host_request(const char *args)
{
	printf("PVTIME-HOST-REQUEST %s\n", args);
	fflush(stdout);
}

/*
 * Poll until wall_offset_ns() - base is within slack of want.  Returns the
 * time it took in ns, or -1 after WALLCLOCK_WAIT_NS.
 */
static int64_t wait_wall_offset(int64_t base, int64_t want, int64_t *seen)
{
	int64_t start = clock_ns(CLOCK_MONOTONIC);
	int64_t elapsed;

	for (;;) {
		*seen = wall_offset_ns() - base;
		elapsed = clock_ns(CLOCK_MONOTONIC) - start;
		if (llabs(*seen - want) <= WALLCLOCK_SLACK_NS)
			return elapsed;
		if (elapsed > WALLCLOCK_WAIT_NS)
			return -1;
		sleep_ns(POLL_INTERVAL_NS);
	}
}

TEST(clocksource_is_pvtime)
{
	char name[64];

	ASSERT_EQ(0, read_small_file(CURRENT_CLOCKSOURCE, name, sizeof(name)));
	TH_LOG("current_clocksource: %s", name);
	ASSERT_STREQ("pvtime", name);
}

TEST(monotonic_across_cpus)
{
	struct monotonic_check mc;
	struct monotonic_result res;

	ASSERT_EQ(0, monotonic_check_start(&mc));
	sleep_ns(MONOTONIC_RUN_SEC * NSEC_PER_SEC);
	monotonic_check_stop(&mc, &res);

	printf("# %" PRIu64 " readings on %u CPUs, %" PRIu64
	       " steps back (worst %" PRIu64 " ns)\n",
	       res.samples, res.threads, res.backsteps, res.worst_backstep_ns);
	ASSERT_GE(res.threads, 1);
	ASSERT_GT(res.samples, 1000);
	ASSERT_EQ(0, res.backsteps);
}

TEST(realtime_matches_hyp)
{
	long long offset, rtt, records_offset;
	unsigned int rounds;
	char line[256];

	ASSERT_EQ(0, read_small_file(PVTIME_DEBUGFS "/realtime_probe",
				     line, sizeof(line))) {
		TH_LOG("cannot read %s/realtime_probe (debugfs mounted?)",
		       PVTIME_DEBUGFS);
	}
	ASSERT_EQ(4, sscanf(line, "offset_ns %lld rtt_ns %lld rounds %u records_offset_ns %lld",
			    &offset, &rtt, &rounds, &records_offset)) {
		TH_LOG("unexpected realtime_probe output: %s", line);
	}
	printf("PVTIME-REPORT realtime_offset_ns %lld\n", offset);
	printf("PVTIME-REPORT realtime_rtt_ns %lld\n", rtt);
	/* Where wc + system time itself stands: the hyp's share of the error. */
	printf("PVTIME-REPORT records_wall_offset_ns %lld\n", records_offset);
	ASSERT_GT(rounds, 0);
	EXPECT_LE(llabs(offset), REALTIME_TOLERANCE_NS) {
		TH_LOG("guest CLOCK_REALTIME is %lld ns off the hyp's wall time (rtt %lld ns)",
		       offset, rtt);
	}
}

TEST(wallclock_is_wc_plus_system)
{
	long long wc, system, wall;
	int64_t before, after, tolerance;
	char line[256];

	/* The module promises to keep the guest within wallclock_step_ns. */
	ASSERT_EQ(0, read_s64_file(PVTIME_PARAMS "/wallclock_step_ns",
				   &tolerance));
	before = clock_ns(CLOCK_REALTIME);
	ASSERT_EQ(0, read_small_file(PVTIME_DEBUGFS "/wallclock", line,
				     sizeof(line)));
	after = clock_ns(CLOCK_REALTIME);
	ASSERT_EQ(3, sscanf(line, "wc_ns %lld system_ns %lld wall_ns %lld",
			    &wc, &system, &wall)) {
		TH_LOG("unexpected wallclock output: %s", line);
	}
	ASSERT_EQ(wc + system, wall);
	printf("# wc + system time = %lld, CLOCK_REALTIME read in [%" PRId64
	       ", %" PRId64 "]\n", wall, before, after);
	EXPECT_GE(wall, before - tolerance);
	EXPECT_LE(wall, after + tolerance);
}

TEST(set_wallclock_followed)
{
	int64_t base, seen, took, irqs_before, irqs_after;

	ASSERT_EQ(0, read_keyed_s64(PVTIME_DEBUGFS "/state", "wallclock_irqs",
				    &irqs_before));
	base = wall_offset_ns();

	host_request("set-wallclock +3600s");
	took = wait_wall_offset(base, WALLCLOCK_JUMP_NS, &seen);
	printf("# wall clock moved by %" PRId64 " ns\n", seen);
	ASSERT_NE(-1, took) {
		TH_LOG("no +3600 s wall clock step within %lld s",
		       WALLCLOCK_WAIT_NS / NSEC_PER_SEC);
	}
	printf("# +3600 s step seen after %" PRId64 " ms\n",
	       (int64_t)(took / NSEC_PER_MSEC));
	printf("PVTIME-REPORT wallclock_step_latency_ms %" PRId64 "\n",
	       (int64_t)(took / NSEC_PER_MSEC));
	ASSERT_EQ(0, read_keyed_s64(PVTIME_DEBUGFS "/state", "wallclock_irqs",
				    &irqs_after));
	/* The doorbell, not the periodic check, should have carried it. */
	EXPECT_GT(irqs_after, irqs_before);

	host_request("set-wallclock now");
	took = wait_wall_offset(base, 0, &seen);
	ASSERT_NE(-1, took) {
		TH_LOG("wall clock did not come back within %lld s (still %" PRId64 " ns off)",
		       WALLCLOCK_WAIT_NS / NSEC_PER_SEC, seen);
	}
	printf("# back to host time after %" PRId64 " ms\n",
	       (int64_t)(took / NSEC_PER_MSEC));
}

TEST_HARNESS_MAIN
