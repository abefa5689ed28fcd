// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Why the re-anchor is safe (old function f: S, A, mul, shift s; k = -s
 * truncated bits when s < 0).  The new anchor is A' = A + D * 2^k, so for
 * t >= A' the old function's pre-shift value splits exactly:
 * scaled(t - A) = scaled(A' - A) + scaled(t - A').  With
 * S' = S + ceil(scaled(A' - A) * mul / 2^32) and the same rate,
 * floor(a + b) <= ceil(a) + floor(b) gives new(t) >= f(t) for every t.
 * A slower rate loses at most ceil(X * (mul - mul') / 2^32) over a window
 * of X scaled units, so the new function starts that much higher.  When the
 * shift changes the two truncations no longer line up; the bound then uses
 * the exact rates and 2 ns for the two floors of the new function.
 */
#include <errno.h>

#include "pvclock_math.h"
#include "clock/time_function.h"

#define FRACTION_ONE	((unsigned __int128)1 << 32)

uint64_t time_function_at(const struct time_function *f, uint64_t host_tsc)
{
	uint64_t back;

	if ((int64_t)(host_tsc - f->anchor_tsc) >= 0)
		return f->system_ns + pvtime_scale_delta(host_tsc - f->anchor_tsc,
							 f->mul, f->shift);
	back = pvtime_scale_delta(f->anchor_tsc - host_tsc, f->mul, f->shift);
	return back < f->system_ns ? f->system_ns - back : 0;
}

static int shift_supported(int8_t shift)
{
	return shift >= TIME_FUNCTION_SHIFT_MIN && shift <= TIME_FUNCTION_SHIFT_MAX;
}

/* ns per cycle as a fixed-point number with 64 fractional bits. */
static unsigned __int128 rate_q64(uint32_t mul, int8_t shift)
{
	return (unsigned __int128)mul << (shift + 32);
}

static uint64_t rate_change_term(const struct time_function *old,
				 const struct reanchor_request *req)
{
	unsigned __int128 deficit, old_rate, new_rate;

	if (req->shift == old->shift) {
		unsigned int k = old->shift < 0 ? -old->shift : 0;
		unsigned int left = old->shift > 0 ? old->shift : 0;
		unsigned __int128 units;

		if (req->mul >= old->mul)
			return 0;
		units = (unsigned __int128)(req->window_cycles >> k) << left;
		deficit = units * (old->mul - req->mul);
		return (uint64_t)((deficit + FRACTION_ONE - 1) >> 32);
	}
	old_rate = rate_q64(old->mul, old->shift);
	new_rate = rate_q64(req->mul, req->shift);
	if (old_rate <= new_rate)
		return 2;
	deficit = (old_rate - new_rate) * req->window_cycles;
	return 2 + (uint64_t)((deficit + ((unsigned __int128)1 << 64) - 1) >> 64);
}

int time_function_reanchor(const struct time_function *old,
			   const struct reanchor_request *req,
			   struct time_function *new,
			   struct reanchor_report *report)
{
	unsigned int k = old->shift < 0 ? -old->shift : 0;
	unsigned int left = old->shift > 0 ? old->shift : 0;
	unsigned int candidates = req->candidates ? req->candidates : 1;
	uint64_t elapsed, units, best_units, best_bias = UINT64_MAX;
	unsigned __int128 best_product = 0, product, step;
	uint64_t rate_term;
	unsigned int i;

	if (!shift_supported(old->shift) || !shift_supported(req->shift) ||
	    req->window_cycles > TIME_FUNCTION_MAX_WINDOW || !req->mul)
		return -ERANGE;
	/* A TSC before the old anchor (cannot happen on one host) stays put. */
	elapsed = (int64_t)(req->now_tsc - old->anchor_tsc) > 0 ?
		  req->now_tsc - old->anchor_tsc : 0;
	units = elapsed >> k;
	best_units = units;
	product = ((unsigned __int128)units << left) * old->mul;
	step = (unsigned __int128)old->mul << left;
	/* One anchor position back lowers the product by one step. */
	for (i = 0; i < candidates && i <= units; i++, product -= step) {
		uint32_t fraction = (uint32_t)product;
		uint64_t bias = fraction ? (uint64_t)(FRACTION_ONE - fraction) : 0;

		if (bias < best_bias) {
			best_bias = bias;
			best_units = units - i;
			best_product = product;
			if (!bias)
				break;
		}
	}
	rate_term = rate_change_term(old, req);
	new->anchor_tsc = old->anchor_tsc + (best_units << k);
	new->system_ns = old->system_ns + (uint64_t)(best_product >> 32) +
			 (best_bias ? 1 : 0) + rate_term;
	new->mul = req->mul;
	new->shift = req->shift;
	if (report) {
		report->rounding_bias = best_bias;
		report->rate_term_ns = rate_term;
		report->anchor_age_cycles = req->now_tsc - new->anchor_tsc;
	}
	return 0;
}

int time_function_scale(uint64_t hz, int32_t ppm, uint32_t *mul, int8_t *shift)
{
	const uint64_t million = 1000000;
	unsigned __int128 scaled;
	uint64_t divisor;

	if (ppm <= -(int32_t)million || ppm >= (int32_t)million || !hz)
		return -EINVAL;
	divisor = (uint64_t)((int64_t)million + ppm);
	scaled = ((unsigned __int128)hz * million + divisor / 2) / divisor;
	if (scaled == 0 || scaled > UINT64_MAX)
		return -EINVAL;
	return pvtime_scale_from_hz((uint64_t)scaled, mul, shift);
}
