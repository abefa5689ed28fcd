// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvclock scaling (shared/pvclock_math.h) against independent references:
 *
 * - pvtime_scale_delta() must equal ((delta << shift) * mul) >> 32 computed
 *   here with 32-bit limbs (no __int128), bit for bit;
 * - the result must stay within the quantisation bound of the exact
 *   delta * 1e9 / hz: 0.5 ppb of the value (mul is rounded to nearest and
 *   >= 2^31, so its relative error is <= 2^-32 ~ 0.23 ppb) + 1 ns (final
 *   floor) + the ticks a right shift drops (2^-shift - 1 ticks, < 1 ns for
 *   every shift pvtime_scale_from_hz picks);
 * - pvtime_scale_from_hz rounds mul to nearest, keeps it in [2^31, 2^32),
 *   rejects 0 Hz; pvtime_hz_from_scale inverts it within quantisation.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "pvclock_math.h"
#include "tap.h"

#define NS_PER_SEC	1000000000ull
#define YEAR_SEC	(365ull * 86400 + 86400 / 4)

/* ((delta << shift) * mul) >> 32, low 64 bits, on 32-bit limbs. */
static uint64_t reference_scale(uint64_t delta, uint32_t mul, int shift)
{
	uint32_t in[4] = { 0 }, out[5] = { 0 };
	uint64_t lo, hi = 0, carry = 0;
	int i;

	if (shift < 0) {
		lo = delta >> -shift;
	} else {
		lo = delta << shift;
		hi = shift ? delta >> (64 - shift) : 0;
	}
	in[0] = (uint32_t)lo;
	in[1] = (uint32_t)(lo >> 32);
	in[2] = (uint32_t)hi;
	in[3] = (uint32_t)(hi >> 32);
	for (i = 0; i < 4; i++) {
		uint64_t p = (uint64_t)in[i] * mul + carry;

		out[i] = (uint32_t)p;
		carry = p >> 32;
	}
	out[4] = (uint32_t)carry;
	return (uint64_t)out[1] | (uint64_t)out[2] << 32;
}

/*
 * |result - delta*1e9/hz| within bound, all scaled by hz so it stays exact:
 * |result*hz - delta*1e9| <= delta*1e9*hz * 0.5e-9 / ... simplified below.
 */
static bool within_quantisation(uint64_t result, uint64_t delta, uint64_t hz, int shift)
{
	__int128 error = (__int128)result * hz - (__int128)delta * NS_PER_SEC;
	/* 0.5 ppb of the value, times hz: delta * 1e9 * 0.5e-9 = delta / 2. */
	__int128 bound = delta / 2 + hz /* 1 ns */;

	if (shift < 0)	/* dropped ticks: each is 1e9/hz ns, i.e. 1e9 here */
		bound += (__int128)((1ull << -shift) - 1) * NS_PER_SEC;
	if (error < 0)
		error = -error;
	return error <= bound;
}

static const uint64_t awkward_hz[] = {
	1000000, 1193182, 3579545, 14318180, 25000000, 100000000,
	999999999, 1000000000, 1000000001, 1999999999, 2000000000,
	2000000001, 2000000003, 2147483648ull, 2599998123ull, 2600006000ull,
	2904000000ull, 3000000000ull, 3999999999ull, 4000000000ull,
	4000000001ull, 4294967295ull, 4294967296ull, 4294967297ull,
	8000000001ull, 9999999999ull, 10000000000ull,
};

static const uint64_t deltas_sec[] = { 1, 60, 3600, 86400, YEAR_SEC, 10 * YEAR_SEC };

/* Checks one frequency; returns the number of failed properties. */
static int check_hz(uint64_t hz, bool verbose)
{
	int failures = 0;
	uint32_t mul;
	__s8 shift;
	size_t i;

	if (pvtime_scale_from_hz(hz, &mul, &shift)) {
		tap_diag("%" PRIu64 " Hz: pvtime_scale_from_hz failed", hz);
		return 1;
	}
	if (mul < (1u << 31)) {
		if (verbose)
			tap_diag("%" PRIu64 " Hz: mul %u below 2^31 (shift %d)", hz, mul, shift);
		failures++;
	}
	/* Rounded to nearest: |mul*hz - 1e9*2^(32-shift)| <= hz/2. */
	{
		__int128 exact = (__int128)NS_PER_SEC << (32 - shift);
		__int128 err = (__int128)mul * hz - exact;

		if ((err < 0 ? -err : err) * 2 > (__int128)hz) {
			if (verbose)
				tap_diag("%" PRIu64 " Hz: mul %u not rounded to nearest", hz, mul);
			failures++;
		}
	}
	/* Round trip: the frequency the record encodes. */
	{
		uint64_t back = pvtime_hz_from_scale(mul, shift);
		uint64_t diff = back > hz ? back - hz : hz - back;
		uint64_t slack = (shift < 0 ? 1ull << -shift : 1) + 1;

		/* relative mul error <= 2^-32, plus the floor and shift of the inverse */
		if ((__int128)diff << 32 > (__int128)hz + ((__int128)slack << 32)) {
			if (verbose)
				tap_diag("%" PRIu64 " Hz: round trip gave %" PRIu64, hz, back);
			failures++;
		}
	}
	for (i = 0; i < sizeof(deltas_sec) / sizeof(deltas_sec[0]) + 3; i++) {
		uint64_t delta, got;

		if (i < sizeof(deltas_sec) / sizeof(deltas_sec[0]))
			delta = deltas_sec[i] * hz;
		else	/* sub-second and odd tick counts */
			delta = (uint64_t[]){ 0, 1, 123456789 }[i - sizeof(deltas_sec) / sizeof(deltas_sec[0])];
		got = pvtime_scale_delta(delta, mul, shift);
		if (got != reference_scale(delta, mul, shift)) {
			if (verbose)
				tap_diag("%" PRIu64 " Hz delta %" PRIu64 ": %" PRIu64 " != reference %" PRIu64,
					 hz, delta, got, reference_scale(delta, mul, shift));
			failures++;
		}
		if (!within_quantisation(got, delta, hz, shift)) {
			if (verbose)
				tap_diag("%" PRIu64 " Hz delta %" PRIu64 ": %" PRIu64 " ns, exact %" PRIu64,
					 hz, delta, got,
					 (uint64_t)((unsigned __int128)delta * NS_PER_SEC / hz));
			failures++;
		}
	}
	return failures;
}

int main(void)
{
	unsigned int swept = 0;
	int failures = 0;
	uint32_t mul = 0;
	__s8 shift = 0;
	size_t i;
	uint64_t hz;

	tap_plan((int)(sizeof(awkward_hz) / sizeof(awkward_hz[0])) + 8);

	for (i = 0; i < sizeof(awkward_hz) / sizeof(awkward_hz[0]); i++) {
		int f = check_hz(awkward_hz[i], true);

		pvtime_scale_from_hz(awkward_hz[i], &mul, &shift);
		tap_ok(!f, "%" PRIu64 " Hz: mul %u shift %d exact, rounded, in range (%d failures)",
		       awkward_hz[i], mul, shift, f);
	}

	/* Geometric sweep 1 MHz .. 10 GHz, ~0.1% steps, plus odd low digits. */
	failures = 0;
	for (hz = 1000000; hz <= 10000000000ull; hz += hz / 997 + 7919) {
		failures += check_hz(hz, failures < 5) ? 1 : 0;
		swept++;
	}
	tap_ok(!failures, "sweep of %u frequencies 1 MHz..10 GHz: %d failed", swept, failures);

	/* Every 2e9 * 2^k + small: the normalisation boundary. */
	failures = 0;
	for (hz = 2000000000ull / 1024; hz <= 8000000000ull; hz *= 2) {
		uint64_t d;

		for (d = 0; d < 64; d++)
			failures += check_hz(hz + d, failures < 5) ? 1 : 0;
	}
	tap_ok(!failures, "2e9*2^k + 0..63 Hz boundary frequencies: %d failed", failures);

	/* Long deltas: 2^63 ticks and the largest delta at 2.6 GHz. */
	pvtime_scale_from_hz(2599998123ull, &mul, &shift);
	tap_ok(pvtime_scale_delta(UINT64_MAX, mul, shift) ==
	       reference_scale(UINT64_MAX, mul, shift),
	       "full 64-bit delta matches the reference (%" PRIu64 " ns)",
	       (uint64_t)pvtime_scale_delta(UINT64_MAX, mul, shift));
	tap_ok(within_quantisation(pvtime_scale_delta(1ull << 63, mul, shift), 1ull << 63,
				   2599998123ull, shift),
	       "2^63 ticks at 2599998123 Hz (~112 years) within quantisation");

	/* Known value: one hour at 2599998123 Hz is 3600 s within 1 ns + 0.5 ppb. */
	{
		uint64_t ns = (uint64_t)pvtime_scale_delta(3600ull * 2599998123ull, mul, shift);
		uint64_t diff = ns > 3600 * NS_PER_SEC ? ns - 3600 * NS_PER_SEC :
			3600 * NS_PER_SEC - ns;

		tap_ok(diff <= 1 + 3600 * NS_PER_SEC / 2000000000,
		       "1 h of ticks at 2599998123 Hz -> %" PRIu64 " ns (|error| %" PRIu64 " ns)",
		       ns, diff);
	}

	mul = 12345;
	shift = 7;
	tap_ok(pvtime_scale_from_hz(0, &mul, &shift) == -EINVAL && mul == 12345 && shift == 7,
	       "0 Hz rejected with -EINVAL, outputs untouched");
	tap_ok(pvtime_hz_from_scale(0, 0) == 0, "mul 0 encodes 0 Hz (no division by zero)");
	{
		int rc = pvtime_scale_from_hz(UINT64_MAX, &mul, &shift);

		tap_ok(rc == 0 && mul >= (1u << 31),
		       "UINT64_MAX Hz still encodes (rc %d mul %u shift %d)", rc, mul, shift);
	}
	return tap_done();
}
