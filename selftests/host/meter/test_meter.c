// SPDX-License-Identifier: GPL-2.0
/*
 * Host tests of pvtime-meter and of the guest's meter library, which maps
 * the meter's file here instead of the PCI device.  The host answers with
 * its own CLOCK_REALTIME, so every bracket must hold it: |offset| can be
 * at most half the round trip.  $METER is the pvtime-meter binary,
 * $PROBE the guest's pvtime-meter-probe built for the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "meter_probe.h"
#include "tap.h"

#define SAMPLES	50

static const char *meter_bin;
static const char *probe_bin;

struct running_meter {
	pid_t pid;
	int out;		/* its stdout */
};

/* Run bin with args (NULL-terminated); stdout to a pipe. */
static int start_program(struct running_meter *rm, const char *bin,
			 char *const args[])
{
	char *argv[32] = { (char *)bin };
	int fds[2], i;

	for (i = 0; args[i]; i++) {
		/* A test's own mistake: say so rather than run fewer args. */
		if (i + 2 >= (int)(sizeof(argv) / sizeof(argv[0]))) {
			fprintf(stderr, "test_meter: too many arguments for %s\n",
				bin);
			exit(1);
		}
		argv[i + 1] = args[i];
	}
	argv[i + 1] = NULL;
	if (pipe(fds) < 0)
		return -errno;
	rm->pid = fork();
	if (rm->pid < 0)
		return -errno;
	if (!rm->pid) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv(bin, argv);
		_exit(127);
	}
	close(fds[1]);
	rm->out = fds[0];
	return 0;
}

static int start_meter(struct running_meter *rm, char *const args[])
{
	return start_program(rm, meter_bin, args);
}

/* Exit status of the program, its stdout in out. */
static int wait_meter(struct running_meter *rm, char *out, size_t len)
{
	ssize_t n, got = 0;
	int status;

	while ((n = read(rm->out, out + got, len - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(rm->out);
	if (waitpid(rm->pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_status(char *const args[])
{
	struct running_meter rm;
	char out[256];

	if (start_meter(&rm, args))
		return -1;
	return wait_meter(&rm, out, sizeof(out));
}

/* Wait up to 5 s for path to hold the meter's magic. */
static int wait_for_page(const char *path)
{
	struct timespec tick = { 0, 10 * 1000000 };
	uint32_t magic;
	int i, fd;

	for (i = 0; i < 500; i++) {
		fd = open(path, O_RDONLY);
		if (fd >= 0) {
			if (read(fd, &magic, sizeof(magic)) == sizeof(magic) &&
			    magic == METER_MAGIC) {
				close(fd);
				return 0;
			}
			close(fd);
		}
		nanosleep(&tick, NULL);
	}
	return -1;
}

/*
 * A meter that lies: it answers with CLOCK_REALTIME minus FAKE_SKEW_NS,
 * as a host would see a guest running that far ahead.  The probe's
 * verdict must catch it.
 */
#define FAKE_SKEW_NS	1000000000LL

struct fake_meter {
	struct meter_page *page;
	int stop;		/* atomic */
	long answer_delay_ns;	/* atomic: a busy host's late answers */
};

static void *fake_meter_serve(void *arg)
{
	struct fake_meter *fm = arg;
	uint64_t last = 0, seq;
	struct timespec ts;
	uint32_t v;

	while (!__atomic_load_n(&fm->stop, __ATOMIC_ACQUIRE)) {
		seq = __atomic_load_n(&fm->page->request_seq, __ATOMIC_ACQUIRE);
		if (seq == last) {
			sched_yield();
			continue;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = __atomic_load_n(&fm->answer_delay_ns,
					     __ATOMIC_RELAXED);
		if (ts.tv_nsec)
			nanosleep(&ts, NULL);
		clock_gettime(CLOCK_REALTIME, &ts);
		v = fm->page->answer_version;
		__atomic_store_n(&fm->page->answer_version, v + 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		fm->page->host_realtime_ns = ts.tv_sec * 1000000000LL +
					     ts.tv_nsec - FAKE_SKEW_NS;
		fm->page->answer_seq = seq;
		__atomic_store_n(&fm->page->answer_version, v + 2, __ATOMIC_RELEASE);
		last = seq;
	}
	return NULL;
}

/* The probe's own TAP line must not count as ours: echo it as comments. */
static void print_commented(const char *text)
{
	const char *line = text, *end;

	while (*line) {
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		printf("#   %.*s\n", (int)(end - line), line);
		line = *end ? end + 1 : end;
	}
}

/*
 * Run the probe CLI; 1 if its exit status and last line are as expected
 * and its output holds `reason` (if given).
 */
static int probe_says(char *const args[], int status, const char *last_line,
		      const char *reason)
{
	struct running_meter rp;
	char out[8192], *last;
	int got;

	if (start_program(&rp, probe_bin, args))
		return 0;
	got = wait_meter(&rp, out, sizeof(out));
	if (got != status) {
		tap_diag("probe exit %d, expected %d; it said:", got, status);
		print_commented(out);
		return 0;
	}
	if (reason && !strstr(out, reason)) {
		tap_diag("probe did not say '%s'; it said:", reason);
		print_commented(out);
		return 0;
	}
	if (!last_line)
		return 1;
	out[strcspn(out, "\0")] = '\0';
	while (strlen(out) && out[strlen(out) - 1] == '\n')
		out[strlen(out) - 1] = '\0';
	last = strrchr(out, '\n');
	last = last ? last + 1 : out;
	if (strcmp(last, last_line)) {
		tap_diag("probe's last line '%s', expected '%s'", last, last_line);
		return 0;
	}
	return 1;
}

static void probe_cli(const char *dir)
{
	char path[128];
	char *unpaired[] = { "--tap", "x", NULL };
	char *bad_rtt[] = { "--max-rtt-us", "0", NULL };
	/*
	 * A busy host (two cores, guests running) stretches round trips to
	 * milliseconds: one exchange per sample and every sample judged; a
	 * 1 s skew stands out anyway.
	 */
	char *ok_args[] = { "--device", path, "--duration", "1", "--interval-ms",
			    "20", "--exchanges", "1", "--max-rtt-us", "1000000",
			    "--tap", "fake", "--max-abs-us", "1500000", NULL };
	char *fail_args[] = { "--device", path, "--duration", "1", "--interval-ms",
			      "20", "--exchanges", "1", "--max-rtt-us", "1000000",
			      "--tap", "fake", "--max-abs-us", "500000", NULL };
	char *proof_not_over[] = { "--max-rtt-us", "10", "--proof-rtt-us", "10",
				   NULL };
	/*
	 * Every answer 200 us late: no sample is under --max-rtt-us 10, each
	 * is "wide" under --proof-rtt-us 1000000 and proves the 1 s skew
	 * less half its round trip.
	 */
	char *wide_ok[] = { "--device", path, "--duration", "0.5",
			    "--interval-ms", "20", "--exchanges", "1",
			    "--max-rtt-us", "10", "--proof-rtt-us", "1000000",
			    "--tap", "fake", "--max-abs-us", "1500000", NULL };
	char *wide_fail[] = { "--device", path, "--duration", "0.5",
			      "--interval-ms", "20", "--exchanges", "1",
			      "--max-rtt-us", "10", "--proof-rtt-us", "1000000",
			      "--tap", "fake", "--max-abs-us", "500000", NULL };
	char *unjudged[] = { "--device", path, "--duration", "0.5",
			     "--interval-ms", "20", "--exchanges", "1",
			     "--max-rtt-us", "10",
			     "--tap", "fake", "--max-abs-us", "1500000", NULL };
	struct fake_meter fm = { NULL, 0, 0 };
	pthread_t thread;
	int fd;

	tap_ok(probe_says(unpaired, 2, NULL, NULL), "probe: --tap without --max-abs-us: exit 2");
	tap_ok(probe_says(bad_rtt, 2, NULL, NULL), "probe: --max-rtt-us 0: exit 2");
	tap_ok(probe_says(proof_not_over, 2, NULL, NULL),
	       "probe: --proof-rtt-us not over --max-rtt-us: exit 2");

	snprintf(path, sizeof(path), "%s/fake", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, METER_DEFAULT_SIZE) < 0) {
		perror("fake meter page");
		exit(1);
	}
	fm.page = mmap(NULL, METER_DEFAULT_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	if (fm.page == MAP_FAILED) {
		perror("fake meter page");
		exit(1);
	}
	close(fd);
	fm.page->layout_version = METER_LAYOUT_VERSION;
	fm.page->size = METER_DEFAULT_SIZE;
	fm.page->magic = METER_MAGIC;
	pthread_create(&thread, NULL, fake_meter_serve, &fm);
	tap_ok(probe_says(ok_args, 0, "ok 1 - fake", NULL),
	       "probe: a guest 1 s ahead passes --max-abs-us 1500000");
	tap_ok(probe_says(fail_args, 1, "not ok 1 - fake",
			  "# |offset| up to "),
	       "probe: a guest 1 s ahead fails --max-abs-us 500000");
	__atomic_store_n(&fm.answer_delay_ns, 200000L, __ATOMIC_RELAXED);
	tap_ok(probe_says(unjudged, 1, "not ok 1 - fake",
			  "# only 0 of "),
	       "probe: answers 200 us late, none under --max-rtt-us 10: not ok, nothing judged");
	tap_ok(probe_says(wide_ok, 0, "ok 1 - fake", NULL),
	       "probe: the same, wide samples (--proof-rtt-us) prove less than --max-abs-us 1500000: ok");
	tap_ok(probe_says(wide_fail, 1, "not ok 1 - fake",
			  "# a wide sample proves an error of "),
	       "probe: the same, a wide sample proves the 1 s skew past --max-abs-us 500000: not ok");
	__atomic_store_n(&fm.answer_delay_ns, 0L, __ATOMIC_RELAXED);
	__atomic_store_n(&fm.stop, 1, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	fm.page->magic = 0;
	tap_ok(probe_says(ok_args, 1, "not ok 1 - fake (no meter: No such device)",
			  NULL),
	       "probe: a page without the magic is no meter: not ok");
	munmap(fm.page, METER_DEFAULT_SIZE);
	unlink(path);
}

static unsigned long long json_number(const char *json, const char *key)
{
	char pattern[64];
	const char *at;

	snprintf(pattern, sizeof(pattern), "\"%s\": ", key);
	at = strstr(json, pattern);
	return at ? strtoull(at + strlen(pattern), NULL, 10) : 0;
}

static void usage_errors(const char *path)
{
	char *no_file[] = { NULL };
	char *bad_size[] = { "--file", (char *)path, "--size", "5000", NULL };
	char *bad_idle[] = { "--file", (char *)path, "--idle-us", "1", NULL };
	char *stray[] = { "--file", (char *)path, "extra", NULL };

	tap_ok(run_status(no_file) == 2, "no --file: exit 2");
	tap_ok(run_status(bad_size) == 2, "--size 5000 (not a power of two): exit 2");
	tap_ok(run_status(bad_idle) == 2, "--idle-us 1 (below 50): exit 2");
	tap_ok(run_status(stray) == 2, "stray argument: exit 2");
	tap_ok(access(path, F_OK) && errno == ENOENT,
	       "no file left behind by the refused runs");
}

/* Every exchange must bracket the host's clock: |offset| <= rtt / 2. */
static int samples_failed;

static void samples_bracket_host_clock(struct meter *m)
{
	int64_t worst_excess = INT64_MIN, max_rtt = 0;
	struct meter_sample s;
	int i, failures = 0;

	for (i = 0; i < SAMPLES; i++) {
		int64_t bound;

		if (meter_sample(m, METER_SAMPLE_EXCHANGES, &s)) {
			failures++;
			continue;
		}
		/* +1: the midpoint is rounded down to whole ns. */
		bound = s.rtt_ns / 2 + 1;
		if (llabs(s.offset_ns) - bound > worst_excess)
			worst_excess = llabs(s.offset_ns) - bound;
		if (s.rtt_ns > max_rtt)
			max_rtt = s.rtt_ns;
	}
	/* Two cores shared with QEMU guests: the meter may miss a wake-up. */
	tap_ok(failures <= SAMPLES / 10, "%d of %d samples answered",
	       SAMPLES - failures, SAMPLES);
	tap_ok(failures < SAMPLES && worst_excess <= 0,
	       "every sample's host clock lies inside its bracket (worst |offset| - rtt/2: %lld ns, max rtt %lld ns)",
	       (long long)worst_excess, (long long)max_rtt);
	tap_ok(m->realtime_backsteps == 0, "no CLOCK_REALTIME backward step seen");
	samples_failed = failures;
}

/* An answer to an older request must not be taken for the current one. */
static void stale_answer_ignored(struct meter *m)
{
	struct meter_sample s;
	uint64_t answered;

	tap_ok(!meter_sample(m, 1, &s), "one sample");
	answered = __atomic_load_n(&m->page->answer_seq, __ATOMIC_ACQUIRE);
	tap_ok(answered == m->seq,
	       "the page's answer carries the last request (%llu, sent %llu)",
	       (unsigned long long)answered, (unsigned long long)m->seq);
}

int main(void)
{
	char dir[] = "/tmp/pvtime-meter-test.XXXXXX";
	char path[128], out[512];
	struct running_meter rm;
	struct meter m = { 0 };
	struct meter_sample s;
	struct stat st;
	char *args[] = { "--file", path, NULL };
	unsigned long long requests;
	int fd, status;

	meter_bin = getenv("METER");
	probe_bin = getenv("PROBE");
	if (!meter_bin || !probe_bin) {
		fprintf(stderr, "test_meter: set METER and PROBE to the pvtime-meter and pvtime-meter-probe binaries\n");
		return 2;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/meter", dir);
	tap_plan(27);

	usage_errors(path);

	/* An old, world-readable file must come out private. */
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
	chmod(path, 0644);
	if (start_meter(&rm, args)) {
		perror("start pvtime-meter");
		return 1;
	}
	memset(&st, 0, sizeof(st));
	if (wait_for_page(path) || stat(path, &st))
		tap_diag("no meter page at %s", path);
	tap_ok((st.st_mode & 0777) == 0600 && st.st_size == METER_DEFAULT_SIZE,
	       "page file is mode 0600 and %u bytes (mode %o, %lld bytes)",
	       METER_DEFAULT_SIZE, st.st_mode & 0777, (long long)st.st_size);
	tap_ok(!meter_open_path(&m, path), "library maps the page (magic, layout)");
	if (m.page) {
		samples_bracket_host_clock(&m);
		stale_answer_ignored(&m);
	} else {
		tap_ok(0, "samples (no page)");
		tap_ok(0, "bracket (no page)");
		tap_ok(0, "backward steps (no page)");
		tap_ok(0, "one sample (no page)");
		tap_ok(0, "answer sequence (no page)");
	}

	kill(rm.pid, SIGTERM);
	status = wait_meter(&rm, out, sizeof(out));
	tap_diag("summary: %s", strtok(out, "\n") ? out : "(none)");
	tap_ok(status == 0, "pvtime-meter exits 0 on SIGTERM (status %d)", status);
	requests = json_number(out, "requests");
	/*
	 * Each sample: one wake-up exchange plus its exchanges, and the two
	 * of stale_answer_ignored(); a failed sample may have lost them all.
	 */
	tap_ok(requests <= SAMPLES * (METER_SAMPLE_EXCHANGES + 1) + 2 &&
	       requests >= (unsigned long long)(SAMPLES - samples_failed) *
			   (METER_SAMPLE_EXCHANGES + 1) + 2,
	       "summary counts every request (%llu, expected %d with %d samples failed)",
	       requests, SAMPLES * (METER_SAMPLE_EXCHANGES + 1) + 2, samples_failed);
	tap_ok(json_number(out, "bursts") >= 1 && strstr(out, "\"cpu_s\": "),
	       "summary has bursts and cpu_s");
	tap_ok(m.page && m.page->magic == 0,
	       "magic cleared on exit, so no one mistakes a dead meter's page");
	tap_ok(m.page && meter_sample(&m, 1, &s) == -ETIMEDOUT,
	       "a sample from a stopped meter times out");
	tap_ok(m.page && m.realtime_backsteps == 0,
	       "still no backward step");
	meter_close(&m);
	unlink(path);

	probe_cli(dir);
	rmdir(dir);
	return tap_done();
}
