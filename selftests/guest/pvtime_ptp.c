// SPDX-License-Identifier: GPL-2.0
/*
 * pvtime-ptp: checks of pvtime.ko's PTP clock from userspace, one check
 * per invocation (run-guest-tests.sh turns each exit status into one TAP
 * result; diagnostics go to stdout as plain lines, PVTIME-REPORT lines
 * carry figures to the host runner).
 *
 *   pvtime-ptp caps DEV          PTP_CLOCK_GETCAPS: read-only, cross
 *                                timestamping, no pins, PPS or alarms
 *   pvtime-ptp precise DEV [N] [MAX_US]
 *                                N PTP_SYS_OFFSET_PRECISE (getcrosststamp)
 *                                all succeed, agree with
 *                                PTP_SYS_OFFSET_EXTENDED brackets, and
 *                                |PHC - CLOCK_REALTIME| <= MAX_US if given
 *   pvtime-ptp no-precise DEV    PTP_SYS_OFFSET_PRECISE fails with
 *                                EOPNOTSUPP (clocksource not pvtime's)
 *   pvtime-ptp extended DEV      PTP_SYS_OFFSET_EXTENDED: brackets in order
 *   pvtime-ptp readonly DEV      settime, adjtime, frequency, phase, PPS,
 *                                external timestamps all refused, and the
 *                                clock did not move
 *   pvtime-ptp unreadable DEV    while the hyp leaves this vCPU's record odd
 *                                (the runner's pvxl inject odd), PRECISE
 *                                fails with EAGAIN, then reads again
 *   pvtime-ptp offset DEV        print one PRECISE PHC - CLOCK_REALTIME in ns
 *
 * Exit status: 0 pass, 1 fail, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/ptp_clock.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_SEC	1000000000LL
#define EXTENDED_SAMPLES	10
#define EXTENDED_ROUNDS		5
/*
 * What the cross timestamp may differ from a bracketed reading by beyond
 * the bracket's half width: the PRECISE reading maps the hyp's TSC
 * through the records' TSC offset, which is as good as the probe that set
 * it (refined by any tighter probe that proves it 200 ns wrong, but a
 * move seen on a loaded host is only known to that probe's half round
 * trip); the bracket's midpoint is only known to within the half width.
 */
#define PRECISE_VS_EXTENDED_SLACK_NS	6000
#define STEADY_NS			2000
/* A bracket this wide cannot judge the cross timestamp to microseconds. */
#define LOOSE_HALF_NS			10000
/* check_unreadable(): wait for the injection, then read past its end. */
#define UNREADABLE_WAIT_NS		(20 * NSEC_PER_SEC)
#define UNREADABLE_AFTER_NS		(4 * NSEC_PER_SEC)
#define MIN_STEADY_ROUNDS		3
#define MAX_COMPARE_ROUNDS		10

#define READONLY_MOVED_MAX_NS	100000000LL
/*
 * A read is one mailbox session: a hyp too busy to answer within the
 * module's 200 ms gives ETIMEDOUT.  A reader such as chrony skips that
 * sample; a check tolerates this many of them and reports them.
 */
#define TRANSIENT_ERRORS_MAX	2

static int transient_errors;

/* ETIMEDOUT: retry (up to TRANSIENT_ERRORS_MAX in all); else fail. */
static bool retry_transient(const char *what, int err)
{
	if (err != -ETIMEDOUT || transient_errors >= TRANSIENT_ERRORS_MAX)
		return false;
	transient_errors++;
	printf("%s: %s (transient %d of %d allowed)\n", what, strerror(-err),
	       transient_errors, TRANSIENT_ERRORS_MAX);
	return true;
}

/* The posix clock id of an open PTP character device (as in testptp.c). */
static clockid_t fd_to_clockid(int fd)
{
	return (~(clockid_t)fd << 3) | 3;
}

static int64_t ptp_ns(const struct ptp_clock_time *t)
{
	return t->sec * NSEC_PER_SEC + t->nsec;
}

static int64_t ts_ns(const struct timespec *t)
{
	return t->tv_sec * NSEC_PER_SEC + t->tv_nsec;
}

static int64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts))
		return 0;
	return ts_ns(&ts);
}

static int open_dev(const char *dev, int flags)
{
	int fd = open(dev, flags);

	if (fd < 0)
		printf("cannot open %s: %s\n", dev, strerror(errno));
	return fd;
}

static int check_caps(int fd)
{
	struct ptp_clock_caps caps;
	bool ok;

	memset(&caps, 0, sizeof(caps));
	if (ioctl(fd, PTP_CLOCK_GETCAPS, &caps)) {
		printf("PTP_CLOCK_GETCAPS: %s\n", strerror(errno));
		return 1;
	}
	printf("max_adj %d n_alarm %d n_ext_ts %d n_per_out %d pps %d n_pins %d cross_timestamping %d adjust_phase %d\n",
	       caps.max_adj, caps.n_alarm, caps.n_ext_ts, caps.n_per_out,
	       caps.pps, caps.n_pins, caps.cross_timestamping,
	       caps.adjust_phase);
	ok = caps.max_adj == 0 && caps.n_alarm == 0 && caps.n_ext_ts == 0 &&
	     caps.n_per_out == 0 && caps.pps == 0 && caps.n_pins == 0 &&
	     caps.cross_timestamping == 1;
	return ok ? 0 : 1;
}

/* One PRECISE reading: PHC - CLOCK_REALTIME at the same instant. */
static int precise_once(int fd, int64_t *offset_ns, int64_t *monoraw_ns)
{
	struct ptp_sys_offset_precise p;

	memset(&p, 0, sizeof(p));
	if (ioctl(fd, PTP_SYS_OFFSET_PRECISE, &p))
		return -errno;
	*offset_ns = ptp_ns(&p.device) - ptp_ns(&p.sys_realtime);
	*monoraw_ns = ptp_ns(&p.sys_monoraw);
	return 0;
}

/*
 * The tightest bracket of EXTENDED_ROUNDS x EXTENDED_SAMPLES readings:
 * PHC - midpoint of CLOCK_REALTIME before and after, and the half width.
 */
static int extended_best(int fd, int rounds, int64_t *offset_ns,
			 int64_t *half_ns, bool *ordered)
{
	struct ptp_sys_offset_extended e;
	int round, i;

	*half_ns = INT64_MAX;
	*ordered = true;
	for (round = 0; round < rounds; round++) {
		memset(&e, 0, sizeof(e));
		e.n_samples = EXTENDED_SAMPLES;
		if (ioctl(fd, PTP_SYS_OFFSET_EXTENDED, &e)) {
			int err = -errno;

			if (retry_transient("PTP_SYS_OFFSET_EXTENDED", err)) {
				round--;
				continue;
			}
			return err;
		}
		for (i = 0; i < EXTENDED_SAMPLES; i++) {
			int64_t pre = ptp_ns(&e.ts[i][0]);
			int64_t phc = ptp_ns(&e.ts[i][1]);
			int64_t post = ptp_ns(&e.ts[i][2]);

			if (post < pre)
				*ordered = false;
			if ((post - pre) / 2 < *half_ns) {
				*half_ns = (post - pre) / 2;
				*offset_ns = phc - (pre + (post - pre) / 2);
			}
		}
	}
	return 0;
}

/*
 * PRECISE against EXTENDED: rounds of a PRECISE reading, one EXTENDED
 * ioctl (its tightest bracket), another PRECISE.  A round whose two
 * PRECISE readings differ by more than STEADY_NS saw a clock move (the
 * host's, which the hyp's wall time follows, being stepped or slewed;
 * chrony), and one whose tightest bracket is wider than LOOSE_HALF_NS
 * could not tell; neither is compared.  In every other round the cross
 * timestamp must fall inside the bracket, widened by half the drift and
 * the offset's uncertainty.  At least MIN_STEADY_ROUNDS such rounds.
 */
static bool precise_agrees_with_extended(int fd)
{
	int64_t p1, p2, raw, ext, half, mid, diff, allowed, worst = 0;
	int rounds, steady = 0, ret;
	bool ordered, ok = true;

	for (rounds = 0; rounds < MAX_COMPARE_ROUNDS &&
	     steady < MIN_STEADY_ROUNDS; rounds++) {
		ret = precise_once(fd, &p1, &raw);
		if (!ret)
			ret = extended_best(fd, 1, &ext, &half, &ordered);
		if (!ret)
			ret = precise_once(fd, &p2, &raw);
		if (ret && retry_transient("PRECISE/EXTENDED round", ret))
			continue;
		if (ret) {
			printf("PRECISE/EXTENDED round %d: %s\n", rounds,
			       strerror(-ret));
			return false;
		}
		if (llabs(p2 - p1) > STEADY_NS) {
			printf("round %d: PHC - REALTIME moved %" PRId64 " ns between the PRECISE readings; not compared\n",
			       rounds, p2 - p1);
			continue;
		}
		if (half > LOOSE_HALF_NS) {
			printf("round %d: tightest EXTENDED bracket +- %" PRId64 " ns (a busy host); not compared\n",
			       rounds, half);
			continue;
		}
		steady++;
		mid = p1 + (p2 - p1) / 2;
		diff = ext - mid;
		allowed = half + llabs(p2 - p1) / 2 + PRECISE_VS_EXTENDED_SLACK_NS;
		printf("round %d: EXTENDED %" PRId64 " +- %" PRId64 " ns, PRECISE %" PRId64 " ns: differ by %" PRId64 " ns (allowed %" PRId64 ")\n",
		       rounds, ext, half, mid, diff, allowed);
		if (llabs(diff) > allowed || !ordered)
			ok = false;
		if (llabs(diff) > llabs(worst))
			worst = diff;
	}
	printf("PVTIME-REPORT ptp_precise_vs_extended_ns %" PRId64 "\n", worst);
	if (steady < MIN_STEADY_ROUNDS) {
		printf("only %d of %d rounds had a steady clock\n", steady,
		       rounds);
		ok = false;
	}
	return ok;
}

static int check_precise(int fd, int n, int64_t max_abs_ns)
{
	int64_t offset, raw, prev_raw = 0, min = INT64_MAX, max = INT64_MIN;
	int64_t start, cost_ns;
	bool ok = true;
	int i, ret;

	start = now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < n; i++) {
		ret = precise_once(fd, &offset, &raw);
		if (ret && retry_transient("PTP_SYS_OFFSET_PRECISE", ret)) {
			i--;
			continue;
		}
		if (ret) {
			printf("PTP_SYS_OFFSET_PRECISE #%d: %s\n", i,
			       strerror(-ret));
			return 1;
		}
		if (raw <= prev_raw) {
			printf("sys_monoraw did not advance: %" PRId64 " after %" PRId64 "\n",
			       raw, prev_raw);
			ok = false;
		}
		prev_raw = raw;
		if (offset < min)
			min = offset;
		if (offset > max)
			max = offset;
	}
	cost_ns = (now_ns(CLOCK_MONOTONIC) - start) / n;
	printf("%d PRECISE readings: PHC - REALTIME min %" PRId64 " max %" PRId64 " ns, %" PRId64 " us per ioctl\n",
	       n, min, max, cost_ns / 1000);
	printf("PVTIME-REPORT ptp_precise_ioctl_us %" PRId64 "\n", cost_ns / 1000);

	if (!precise_agrees_with_extended(fd))
		ok = false;
	if (max_abs_ns >= 0 && (llabs(min) > max_abs_ns || llabs(max) > max_abs_ns)) {
		printf("|PHC - REALTIME| above %" PRId64 " ns\n", max_abs_ns);
		ok = false;
	}
	return ok ? 0 : 1;
}

static int check_no_precise(int fd)
{
	int64_t offset, raw;
	int ret = precise_once(fd, &offset, &raw);

	printf("PTP_SYS_OFFSET_PRECISE: %s\n", ret ? strerror(-ret) : "succeeded");
	return ret == -EOPNOTSUPP ? 0 : 1;
}

static int check_extended(int fd)
{
	int64_t offset, half;
	bool ordered;
	int ret = extended_best(fd, EXTENDED_ROUNDS, &offset, &half, &ordered);

	if (ret) {
		printf("PTP_SYS_OFFSET_EXTENDED: %s\n", strerror(-ret));
		return 1;
	}
	printf("EXTENDED best of %d: PHC - REALTIME %" PRId64 " ns +- %" PRId64 " ns, brackets %s\n",
	       EXTENDED_ROUNDS * EXTENDED_SAMPLES, offset, half,
	       ordered ? "in order" : "OUT OF ORDER");
	printf("PVTIME-REPORT ptp_extended_half_bracket_ns %" PRId64 "\n", half);
	return ordered ? 0 : 1;
}

/* Expect the call to fail with errno want; say what happened. */
static bool refused(const char *what, int ret, int want)
{
	int err = ret ? errno : 0;

	printf("%s: %s (want %s)\n", what, ret ? strerror(err) : "accepted",
	       strerror(want));
	return ret && err == want;
}

static int check_readonly(int fd)
{
	clockid_t clock = fd_to_clockid(fd);
	struct ptp_extts_request extts;
	struct timespec ts;
	struct timex tx;
	int64_t before, after, real_before, real_after;
	bool ok = true;

	real_before = now_ns(CLOCK_REALTIME);
	before = now_ns(clock);
	if (!before) {
		printf("clock_gettime on the PHC: %s\n", strerror(errno));
		return 1;
	}
	before -= real_before;

	ts.tv_sec = 1000000000;
	ts.tv_nsec = 0;
	ok &= refused("clock_settime", clock_settime(clock, &ts), EOPNOTSUPP);

	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_SETOFFSET | ADJ_NANO;
	tx.time.tv_sec = 1;
	ok &= refused("clock_adjtime ADJ_SETOFFSET +1 s",
		      clock_adjtime(clock, &tx) < 0, EOPNOTSUPP);

	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_FREQUENCY;
	tx.freq = 0;
	ok &= refused("clock_adjtime ADJ_FREQUENCY 0",
		      clock_adjtime(clock, &tx) < 0, EOPNOTSUPP);

	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_FREQUENCY;
	tx.freq = 10 << 16;	/* 10 ppm: beyond max_adj 0 */
	ok &= refused("clock_adjtime ADJ_FREQUENCY 10 ppm",
		      clock_adjtime(clock, &tx) < 0, ERANGE);

	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_OFFSET | ADJ_NANO;
	tx.offset = 1000;
	ok &= refused("clock_adjtime ADJ_OFFSET 1 us",
		      clock_adjtime(clock, &tx) < 0, EOPNOTSUPP);

	ok &= refused("PTP_ENABLE_PPS", ioctl(fd, PTP_ENABLE_PPS, 1) < 0,
		      EOPNOTSUPP);

	memset(&extts, 0, sizeof(extts));
	extts.index = 0;
	extts.flags = PTP_ENABLE_FEATURE;
	ok &= refused("PTP_EXTTS_REQUEST 0", ioctl(fd, PTP_EXTTS_REQUEST,
						   &extts) < 0, EINVAL);

	real_after = now_ns(CLOCK_REALTIME);
	after = now_ns(clock) - real_after;
	printf("PHC - REALTIME before %" PRId64 " ns, after %" PRId64 " ns\n",
	       before, after);
	/*
	 * Nothing above may have moved it: an accepted settime or adjtime
	 * would move it by a second or more.  The bound leaves room for the
	 * host's own clock, which the hyp's wall time follows, being slewed
	 * or stepped by a few ms meanwhile (REALTIME here does not follow).
	 */
	if (llabs(after - before) > READONLY_MOVED_MAX_NS) {
		printf("the PHC moved by %" PRId64 " ns\n", after - before);
		ok = false;
	}
	return ok ? 0 : 1;
}

/*
 * This vCPU's record left odd by the hyp (pvxl inject odd, which the
 * runner applies when it reads the request off the console): a cross
 * timestamp needs the record, so PRECISE must fail with EAGAIN while it
 * lasts, never return a time off the hyp's, and work again after.
 */
static int check_unreadable(int fd)
{
	int64_t offset, raw, first = 0, deadline, until = 0;
	int ret, errors = 0, good = 0, garbage = 0;
	bool have_first = false, recovered = false;

	deadline = now_ns(CLOCK_MONOTONIC) + UNREADABLE_WAIT_NS;
	while (now_ns(CLOCK_MONOTONIC) < deadline) {
		ret = precise_once(fd, &offset, &raw);
		if (ret == -EAGAIN) {
			if (!errors++)
				until = now_ns(CLOCK_MONOTONIC) +
					UNREADABLE_AFTER_NS;
		} else if (ret) {
			printf("PTP_SYS_OFFSET_PRECISE: %s (want EAGAIN or a time)\n",
			       strerror(-ret));
			return 1;
		} else if (!have_first) {
			first = offset;
			have_first = true;
		} else if (llabs(offset - first) > READONLY_MOVED_MAX_NS) {
			garbage++;
		} else {
			good++;
			if (errors && now_ns(CLOCK_MONOTONIC) > until) {
				recovered = true;
				break;
			}
		}
		usleep(50000);
	}
	printf("%d reads failed with EAGAIN, %d gave a time, %d a time off by more than %lld ms; %s afterwards\n",
	       errors, good + garbage, garbage,
	       READONLY_MOVED_MAX_NS / 1000000,
	       recovered ? "reads again" : "NOT reading again");
	return errors && !garbage && recovered ? 0 : 1;
}

static int print_offset(int fd)
{
	int64_t offset, raw;
	int ret = precise_once(fd, &offset, &raw);

	if (ret) {
		printf("PTP_SYS_OFFSET_PRECISE: %s\n", strerror(-ret));
		return 1;
	}
	printf("%" PRId64 "\n", offset);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: pvtime-ptp caps|precise|no-precise|extended|readonly|unreadable|offset DEV [N [MAX_US]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd, *dev;
	int fd, ret, n = 20;
	int64_t max_abs_ns = -1;

	if (argc < 3)
		return usage();
	cmd = argv[1];
	dev = argv[2];
	if (argc > 3) {
		n = atoi(argv[3]);
		if (n < 1 || n > 10000)
			return usage();
	}
	if (argc > 4)
		max_abs_ns = strtoll(argv[4], NULL, 10) * 1000;
	fd = open_dev(dev, strcmp(cmd, "readonly") ? O_RDONLY : O_RDWR);
	if (fd < 0)
		return 1;
	if (!strcmp(cmd, "caps"))
		ret = check_caps(fd);
	else if (!strcmp(cmd, "precise"))
		ret = check_precise(fd, n, max_abs_ns);
	else if (!strcmp(cmd, "no-precise"))
		ret = check_no_precise(fd);
	else if (!strcmp(cmd, "extended"))
		ret = check_extended(fd);
	else if (!strcmp(cmd, "readonly"))
		ret = check_readonly(fd);
	else if (!strcmp(cmd, "offset"))
		ret = print_offset(fd);
	else if (!strcmp(cmd, "unreadable"))
		ret = check_unreadable(fd);
	else
		ret = usage();
	if (transient_errors)
		printf("PVTIME-REPORT ptp_transient_errors %d\n",
		       transient_errors);
	close(fd);
	return ret;
}
