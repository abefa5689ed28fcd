// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Wall clocks.  The hyp's wall clock is host CLOCK_REALTIME plus one
 * offset that only the time-source domain moves (time_source.h); a
 * domain's wall clock is the hyp's plus the domain's own wall offset
 * (pvxl set-wallclock, rtc_timeoffset, localtime).
 */
#include <stdatomic.h>
#include <stdio.h>

#include "pvclock_math.h"
#include "clock/wallclock.h"
#include "core/log.h"
#include "core/timebase.h"

static _Atomic int64_t hyp_wall_offset_ns;

int64_t wallclock_hyp_offset_ns(void)
{
	return atomic_load_explicit(&hyp_wall_offset_ns, memory_order_acquire);
}

void wallclock_set_hyp_offset_ns(int64_t offset_ns)
{
	atomic_store_explicit(&hyp_wall_offset_ns, offset_ns, memory_order_release);
}

int64_t wallclock_domain_offset_ns(int64_t wall_offset_ns)
{
	return wallclock_add_sat(wallclock_hyp_offset_ns(), wall_offset_ns);
}

/*
 * wc for the domain's own wall offset on top of the hyp's; false if it
 * would be before 1970.
 */
static bool wallclock_compute(struct domain_clock *clk, int64_t wall_offset_ns,
			      int64_t *wc_ns, int64_t *wall_now_ns)
{
	struct timebase_pair now = timebase_sample(CLOCK_REALTIME);
	uint64_t system_ns = domain_clock_system_ns(clk, now.tsc);
	int64_t wall;

	if (__builtin_add_overflow(now.clock_ns,
				   wallclock_domain_offset_ns(wall_offset_ns),
				   &wall) ||
	    wall < 0 || system_ns > INT64_MAX || wall < (int64_t)system_ns)
		return false;
	*wc_ns = wall - (int64_t)system_ns;
	if (wall_now_ns)
		*wall_now_ns = wall;
	return true;
}

/* Called with clk->lock held. */
static bool publish_locked(struct domain_clock *clk, struct pvtime_shm *shm,
			   bool force)
{
	int64_t wc, moved;

	if (!wallclock_compute(clk, clk->wall_offset_ns, &wc, NULL)) {
		log_warn("domain %s: wall clock outside 1970..2262; not published",
			 clk->name);
		return false;
	}
	moved = wc - clk->published_wc_ns;
	if (!force && clk->wc_published &&
	    moved <= WALLCLOCK_REPUBLISH_NS && moved >= -WALLCLOCK_REPUBLISH_NS)
		return false;
	pvtime_wallclock_write(shm->si, wc);
	clk->published_wc_ns = wc;
	clk->wc_published = true;
	return true;
}

bool wallclock_publish(struct domain_clock *clk, struct pvtime_shm *shm,
		       bool force)
{
	bool written;

	pthread_mutex_lock(&clk->lock);
	written = publish_locked(clk, shm, force);
	pthread_mutex_unlock(&clk->lock);
	return written;
}

int wallclock_set(struct domain_clock *clk, struct pvtime_shm *shm,
		  enum wallclock_mode mode, int64_t ns, char *err, size_t errlen)
{
	int64_t offset, wc, wall;
	int ret = -1;

	pthread_mutex_lock(&clk->lock);
	switch (mode) {
	case WALLCLOCK_HOST:
		offset = 0;
		break;
	case WALLCLOCK_ABSOLUTE:
		if (ns < 0) {
			snprintf(err, errlen, "wall time %lld ns is before 1970",
				 (long long)ns);
			goto out;
		}
		if (ns > WALLCLOCK_MAX_NS) {
			snprintf(err, errlen,
				 "wall time %lld ns is after 2261-01-01 (%lld ns): too close to the 64-bit limit",
				 (long long)ns, (long long)WALLCLOCK_MAX_NS);
			goto out;
		}
		/* The domain's own offset, on top of the hyp's wall clock. */
		offset = ns - wallclock_add_sat(timebase_sample(CLOCK_REALTIME).clock_ns,
						wallclock_hyp_offset_ns());
		break;
	case WALLCLOCK_RELATIVE:
		if (__builtin_add_overflow(clk->wall_offset_ns, ns, &offset)) {
			snprintf(err, errlen, "wall offset overflows");
			goto out;
		}
		break;
	default:
		snprintf(err, errlen, "bad wall clock mode");
		goto out;
	}
	/* Now + offset cannot wrap below (now >= 0): only the top is checked. */
	if (wallclock_add_sat(timebase_sample(CLOCK_REALTIME).clock_ns,
			      wallclock_domain_offset_ns(offset)) >
	    WALLCLOCK_MAX_NS) {
		snprintf(err, errlen,
			 "the domain's wall time would be after 2261-01-01, too close to the 64-bit limit");
		goto out;
	}
	if (!wallclock_compute(clk, offset, &wc, &wall)) {
		snprintf(err, errlen,
			 "the domain's wall clock would be before 1970 (at its system time 0)");
		goto out;
	}
	clk->wall_offset_ns = offset;
	publish_locked(clk, shm, true);
	ret = 0;
out:
	pthread_mutex_unlock(&clk->lock);
	return ret;
}

int64_t wallclock_now(struct domain_clock *clk)
{
	struct timespec ts;
	int64_t offset;

	pthread_mutex_lock(&clk->lock);
	offset = clk->wall_offset_ns;
	pthread_mutex_unlock(&clk->lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	return wallclock_add_sat((int64_t)ts.tv_sec * (int64_t)PVTIME_NSEC_PER_SEC +
				 ts.tv_nsec, wallclock_domain_offset_ns(offset));
}
