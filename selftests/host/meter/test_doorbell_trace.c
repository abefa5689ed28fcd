// SPDX-License-Identifier: GPL-2.0
/*
 * Host tests of the guest's doorbell-trace reader and TSC map
 * (selftests/guest/doorbell_trace.c): the module's debugfs format is an
 * ABI between it and pvtime-steps, so a line it cannot read must fail
 * loudly, and the map must put a TSC back where the samples say.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doorbell_trace.h"
#include "tap.h"

/* text into a fresh temporary file; its path (static buffer). */
static const char *write_trace(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_doorbell_trace.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return NULL;
	}
	fputs(text, f);
	fclose(f);
	return path;
}

/* doorbells_read() of text: its return value, the entries in *out. */
static int read_text(const char *text, struct doorbells *out)
{
	const char *path = write_trace(text);
	int ret;

	if (!path)
		return -EIO;
	ret = doorbells_read(path, out);
	unlink(path);
	return ret;
}

static void test_good_lines(void)
{
	struct doorbells d;
	int ret = read_text("# doorbells 2, tsc_khz 2300000: irq_tsc thread_tsc set_begin_tsc moved_tsc set_end_tsc attempts residual_ns\n"
			    "100 200 300 310 400 2 -57\n"
			    "1000 2000 3000 0 4000 6 -\n", &d);

	tap_ok(ret == 0 && d.n == 2, "two doorbells read (ret %d, n %zu)", ret,
	       d.n);
	if (ret || d.n != 2)
		return;
	tap_ok(d.v[0].irq_tsc == 100 && d.v[0].thread_tsc == 200 &&
	       d.v[0].set_begin_tsc == 300 && d.v[0].moved_tsc == 310 &&
	       d.v[0].set_end_tsc == 400,
	       "the five TSC values in their places");
	tap_ok(d.v[0].attempts == 2 && d.v[0].measured &&
	       d.v[0].residual_ns == -57,
	       "attempts and a signed residual");
	tap_ok(d.v[1].moved_tsc == 0 && !d.v[1].measured &&
	       d.v[1].attempts == 6,
	       "\"-\": not measured; moved 0: not seen");
	doorbells_free(&d);
	tap_ok(d.v == NULL && d.n == 0, "freed and emptied");
}

static void test_bad_lines(void)
{
	static const char *const bad[] = {
		"100 200 300 400\n",			/* the old four-column form */
		"100 200 300 310 400 2\n",		/* no residual */
		"100 200 300 310 400 2 -57 9\n",	/* one too many */
		"100 200 300 310 400 2 12x\n",		/* residual not a number */
		"100 200 300 310 400 2 --\n",
		"100 200 x 310 400 2 -57\n",
	};
	struct doorbells d;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = read_text(bad[i], &d);

		tap_ok(ret == -EINVAL && d.v == NULL && d.n == 0,
		       "refused: %.*s (ret %d)", (int)strcspn(bad[i], "\n"),
		       bad[i], ret);
	}
	tap_ok(doorbells_read("/nonexistent/doorbells", &d) == -ENOENT,
	       "a missing file is -ENOENT");
}

static void test_map(void)
{
	/* 2.5 GHz TSC, raw time starting at 1 s, a little noise. */
	uint64_t tsc[200];
	int64_t raw[200];
	struct tsc_map map;
	size_t i;
	int ret;

	for (i = 0; i < 200; i++) {
		tsc[i] = 5000000000000ull + i * 2500000ull;
		raw[i] = 1000000000ll + (int64_t)i * 1000000 +
			 (i % 2 ? 30 : -30);
	}
	ret = tsc_map_fit(&map, tsc, raw, 200);
	tap_ok(ret == 0, "fits 200 pairs (ret %d)", ret);
	tap_ok(llabs(tsc_map_raw_ns(&map, tsc[0] + 125000000ull) -
		     1050000000ll) <= 40,
	       "a TSC between the samples maps onto the line (%lld)",
	       (long long)tsc_map_raw_ns(&map, tsc[0] + 125000000ull));
	tap_ok(map.residual_p99_ns >= 25 && map.residual_p99_ns <= 35,
	       "the residual is the noise (%lld ns)",
	       (long long)map.residual_p99_ns);
	tap_ok(tsc_map_fit(&map, tsc, raw, 1) == -EINVAL,
	       "one pair is not a line");
	for (i = 0; i < 3; i++)
		tsc[i] = tsc[0];
	tap_ok(tsc_map_fit(&map, tsc, raw, 3) == -EINVAL,
	       "no spread of TSC values is not a line");
}

int main(void)
{
	tap_plan(17);
	test_good_lines();
	test_bad_lines();
	test_map();
	return tap_done();
}
