// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The refined TSC rate kept across restarts: parsed strictly, taken only
 * when a fresh calibration agrees with it and it is the more precise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "core/log.h"
#include "core/tsc_ratefile.h"

static struct timebase fresh(uint64_t hz, uint64_t precision_hz)
{
	struct timebase tb = { .tsc_hz = hz, .precision_hz = precision_hz };

	return tb;
}

int main(void)
{
	char dir[] = "/tmp/pvtime-rate-XXXXXX", path[64];
	uint64_t hz, prec, base;
	struct timebase tb, saved;

	log_setup(false, LOG_LEVEL_ERROR);
	tap_plan(9);
	tap_ok(!tsc_ratefile_parse("2299999918 6 16000000000\n", &hz, &prec, &base) &&
	       hz == 2299999918ull && prec == 6 && base == 16000000000ull,
	       "a good line parses");
	tap_ok(tsc_ratefile_parse("2299999918 6 16000000000", &hz, &prec, &base) &&
	       tsc_ratefile_parse("2299999918  6 1\n", &hz, &prec, &base) &&
	       tsc_ratefile_parse("-1 6 1\n", &hz, &prec, &base) &&
	       tsc_ratefile_parse("2299999918 6 1 x\n", &hz, &prec, &base) &&
	       tsc_ratefile_parse("99999999999999999999 6 1\n", &hz, &prec, &base),
	       "no newline, double space, sign, trailing word, overflow: refused");
	tap_ok(tsc_ratefile_parse("999999 0 1\n", &hz, &prec, &base) &&
	       tsc_ratefile_parse("2300000000 23000001 1\n", &hz, &prec, &base),
	       "a rate under 1 MHz or a precision over 1 %% refused");

	tap_ok(mkdtemp(dir) != NULL, "temporary dir");
	snprintf(path, sizeof(path), "%s/tsc-rate", dir);
	tsc_ratefile_set_path(path);
	tb = fresh(2299999918ull, 89);
	tap_ok(tsc_ratefile_load(&tb) == 0 && tb.tsc_hz == 2299999918ull,
	       "no file: the measurement stands");
	saved = fresh(2299999920ull, 6);
	saved.baseline_ns = 16000000000ull;
	tap_ok(!tsc_ratefile_save(&saved), "saved");
	tb = fresh(2299999918ull, 89);
	tap_ok(tsc_ratefile_load(&tb) == 1 && tb.tsc_hz == 2299999920ull &&
	       tb.precision_hz == 6 && tb.baseline_ns == 16000000000ull,
	       "an agreeing, more precise saved rate is taken");
	tb = fresh(2300000918ull, 89);
	tap_ok(tsc_ratefile_load(&tb) == 0 && tb.tsc_hz == 2300000918ull,
	       "a saved rate 0.4 ppm off (> 4 sigma) is not taken");
	tb = fresh(2299999920ull, 2);
	tap_ok(tsc_ratefile_load(&tb) == 0 && tb.precision_hz == 2,
	       "a less precise saved rate is not taken");
	unlink(path);
	rmdir(dir);
	return tap_done();
}
