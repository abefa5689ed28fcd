// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bench-host-wakeups as the bench runs it: a subprocess whose exit code,
 * stdout and stderr are checked.  Bad usage must exit 2 with a message
 * naming the option and print nothing to stdout; a short real run must
 * print every figure, ordered as percentiles are (p50 <= p90 <= p99 <=
 * max), in both output forms.
 *
 * The binary is $HOST_WAKEUPS (the Makefile sets it).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

static const char *binary;

struct run {
	int status;		/* exit code, or 128 + signal */
	char out[4096];
	char err[4096];
};

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

/* stderr's first line, for a TAP line. */
static const char *first_line(const char *s)
{
	static char line[128];

	snprintf(line, sizeof(line), "%.*s", (int)strcspn(s, "\n"), s);
	return line;
}

/* args: one shell word list, all of them fixed strings of this file. */
static void run(struct run *r, const char *args)
{
	char cmd[512], out_path[] = "/tmp/hw-out.XXXXXX", err_path[] = "/tmp/hw-err.XXXXXX";
	int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
	int status;

	if (out_fd < 0 || err_fd < 0) {
		printf("Bail out! mkstemp\n");
		exit(1);
	}
	close(out_fd);
	close(err_fd);
	snprintf(cmd, sizeof(cmd), "timeout 60 '%s' %s >%s 2>%s", binary, args,
		 out_path, err_path);
	status = system(cmd);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	slurp(out_path, r->out, sizeof(r->out));
	slurp(err_path, r->err, sizeof(r->err));
	unlink(out_path);
	unlink(err_path);
}

/* The value of "key value" in text output, or of "key": value in JSON. */
static bool figure(const char *out, const char *key, double *value)
{
	char pattern[96];
	const char *at;

	snprintf(pattern, sizeof(pattern), "\"%s\": ", key);
	at = strstr(out, pattern);
	if (!at) {
		snprintf(pattern, sizeof(pattern), "%s ", key);
		for (at = out; (at = strstr(at, pattern)); at++)
			if (at == out || at[-1] == '\n')
				break;
	}
	if (!at)
		return false;
	return sscanf(at + strlen(pattern), "%lf", value) == 1;
}

static const char *const bad_usage[][2] = {
	{ "--rounds 0", "--rounds" },
	{ "--rounds 100001", "--rounds" },
	{ "--rounds -1", "--rounds" },
	{ "--rounds 12x", "--rounds" },
	{ "--gap-us 10000001", "--gap-us" },
	{ "--spin-s 601", "--spin-s" },
	{ "--spin-s -1", "--spin-s" },
	{ "--spin-s nan", "--spin-s" },
	{ "--fifo 1", "--fifo" },
	{ "--fifo 99", "--fifo" },
	{ "--bogus", "--bogus" },
	{ "extra", "extra" },
};

static void test_usage(void)
{
	struct run r;
	size_t i;

	run(&r, "--help");
	tap_ok(r.status == 0 && strstr(r.out, "Usage: bench-host-wakeups") &&
	       !r.err[0], "--help: usage on stdout, exit 0 (exit %d)", r.status);
	for (i = 0; i < sizeof(bad_usage) / sizeof(bad_usage[0]); i++) {
		run(&r, bad_usage[i][0]);
		tap_ok(r.status == 2 && !r.out[0] && strstr(r.err, bad_usage[i][1]),
		       "%s: exit 2, stderr names it, nothing on stdout (exit %d, stderr '%s')",
		       bad_usage[i][0], r.status, first_line(r.err));
	}
}

static const char *const keys[] = {
	"chain_hops", "chain_fifo_prio", "chain_gap_us", "chain_rounds",
	"chain_p50_us", "chain_p90_us", "chain_p99_us", "chain_max_us",
	"chain_over_1ms", "spin_cpus", "spin_s", "spin_lost_percent",
	"spin_stretches_over_100us_per_cpu_s",
	"spin_stretches_over_1ms_per_cpu_s", "spin_max_stretch_us",
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static void check_figures(const struct run *r, const char *form)
{
	double v[NKEYS];
	size_t i, missing = 0;
	cpu_set_t allowed;

	for (i = 0; i < NKEYS; i++)
		if (!figure(r->out, keys[i], &v[i]))
			missing++;
	tap_ok(r->status == 0 && !missing, "%s: exit 0 and all %zu figures (exit %d, %zu missing)",
	       form, NKEYS, r->status, missing);
	if (missing) {
		tap_ok(0, "%s: figures in order (not all there)", form);
		tap_ok(0, "%s: spinning part (not all there)", form);
		return;
	}
	/* chain_*: hops 3, rounds as asked, percentiles in order. */
	tap_ok(v[0] == 3 && v[1] == 0 && v[2] == 200 && v[3] == 30 &&
	       v[4] > 0 && v[4] <= v[5] && v[5] <= v[6] && v[6] <= v[7] &&
	       v[8] <= v[3],
	       "%s: 3 hops, 30 rounds, 0 < p50 %.1f <= p90 %.1f <= p99 %.1f <= max %.1f us, over 1 ms %.0f",
	       form, v[4], v[5], v[6], v[7], v[8]);
	sched_getaffinity(0, sizeof(allowed), &allowed);
	tap_ok(v[9] == CPU_COUNT(&allowed) && v[10] >= 0.2 && v[10] < 2 &&
	       v[11] >= 0 && v[11] <= 100 && v[13] <= v[12] &&
	       v[14] >= 0,
	       "%s: one spinner per CPU (%.0f of %d), %.2f s each, lost %.2f %%, max stretch %.1f us",
	       form, v[9], CPU_COUNT(&allowed), v[10], v[11], v[14]);
}

static void test_short_runs(void)
{
	struct run r;

	run(&r, "--rounds 30 --gap-us 200 --spin-s 0.2 --fifo 0");
	check_figures(&r, "text");
	run(&r, "--rounds 30 --gap-us 200 --spin-s 0.2 --fifo 0 --json");
	tap_ok(r.out[0] == '{' && strstr(r.out, "}\n") &&
	       strstr(r.out, "\"chain_rounds\": 30,"),
	       "--json: one object ('%.40s')", r.out);
	check_figures(&r, "json");
}

/* SCHED_FIFO as pvtimed's: measured as root, refused clearly otherwise. */
static void test_fifo(void)
{
	struct run r;
	double p50;

	run(&r, "--rounds 5 --gap-us 100 --spin-s 0 --fifo 10");
	if (geteuid() == 0)
		tap_ok(r.status == 0 && figure(r.out, "chain_p50_us", &p50) && p50 > 0,
		       "--fifo 10 as root: measured (exit %d, stderr '%s')", r.status,
		       first_line(r.err));
	else
		tap_ok(r.status == 1 && strstr(r.err, "needs root") && !r.out[0],
		       "--fifo 10 without root: exit 1, says it needs root (exit %d)",
		       r.status);
}

int main(void)
{
	binary = getenv("HOST_WAKEUPS");
	if (!binary || access(binary, X_OK)) {
		printf("Bail out! set HOST_WAKEUPS to the bench-host-wakeups binary\n");
		return 1;
	}
	tap_plan(1 + 12 + 3 + 1 + 3 + 1);
	test_usage();
	test_short_runs();
	test_fifo();
	return tap_done();
}
