// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <string.h>
#include <sys/timex.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "core/log.h"
#include "core/monotonic.h"
#include "core/ratelimit.h"
#include "core/timebase.h"
#include "host/host_clock_follow.h"

static struct event_source timer = { .fd = -1 };
static bool timer_watching;	/* at the adjtime() watch period */
static struct clock_follow follower;
static struct adjtime_model adjtime_slew;
static const struct host_clock_follow_listener *listener;
/* The adjtime() boundary the fast path was last held off for. */
static int64_t held_for_boundary_ns = -1;
static struct ratelimit follow_rl = RATELIMIT_INIT(60000000000ull, 10);

static struct follow_sample take_sample(void)
{
	struct timebase_pair pair = timebase_sample_n(CLOCK_MONOTONIC,
						      HOST_CLOCK_FOLLOW_TRIES);

	return (struct follow_sample) {
		.tsc = pair.tsc, .mono_ns = pair.clock_ns, .width = pair.width,
	};
}

/*
 * adjtimex(2), read-only: the kernel's frequency, tick and PLL state, and
 * what is left of an adjtime(3) (ADJ_OFFSET_SS_READ needs no privilege).
 * The sample s, taken just before (CLOCK_REALTIME now_ns), is the adjtime
 * model's evidence of a slew's end; before the follower starts there is
 * none.
 */
static int read_kernel_rate(struct kernel_rate *k,
			    const struct follow_sample *s, int64_t now_ns,
			    bool following)
{
	struct timex tx = { .modes = 0 };
	struct timex adj = { .modes = ADJ_OFFSET_SS_READ };
	struct adjtime_observation look = { .uncertainty_ns = -1 };
	long adjtime_ppm;

	if (adjtimex(&tx) < 0 || adjtimex(&adj) < 0)
		return -errno;
	look.left_us = adj.offset;
	look.realtime_ns = now_ns;
	if (following) {
		look.error_ns = clock_follow_error(&follower, s);
		look.uncertainty_ns =
			(int64_t)timebase_cycles_to_ns(s->width) / 2;
	}
	adjtime_ppm = adjtime_model_update(&adjtime_slew, &look);
	kernel_rate_from_timex(k, tx.freq, tx.tick, tx.status, tx.offset,
			       tx.constant, adjtime_ppm);
	return 0;
}

/* The sampling period: every period, or densely (adjtime() watch). */
static int arm_timer(bool watching)
{
	long period_ns = watching ? KERNEL_ADJTIME_WATCH_PERIOD_NS :
			 HOST_CLOCK_FOLLOW_PERIOD_MS * 1000000l;
	struct itimerspec period = {
		.it_value.tv_nsec = period_ns,
		.it_interval.tv_nsec = period_ns,
	};

	if (timerfd_settime(timer.fd, 0, &period, NULL) < 0)
		return -errno;
	timer_watching = watching;
	return 0;
}

/* Dense around an adjtime() slew's boundaries, else every period. */
static void set_timer_period(bool watching)
{
	int ret;

	if (watching == timer_watching)
		return;
	ret = arm_timer(watching);
	if (ret)
		log_ratelimited(&follow_rl, LOG_LEVEL_WARN,
				"host clock: cannot change the sampling period: %s",
				strerror(-ret));
}

/*
 * adjtime() changes the rate at a boundary soon: the guests leave the fast
 * path now, so that they are on the records when it changes (once per
 * boundary; a cancelled slew's hold runs out by itself).
 */
static void hold_fastpath_ahead(int64_t now_ns)
{
	int64_t boundary = adjtime_model_next_change(&adjtime_slew, now_ns);
	int64_t hold_ns;

	if (boundary < 0 || boundary == held_for_boundary_ns ||
	    boundary - now_ns > HOST_CLOCK_FASTPATH_LEAD_NS)
		return;
	held_for_boundary_ns = boundary;
	hold_ns = boundary - now_ns + HOST_CLOCK_FASTPATH_HOLD_AFTER_NS;
	if (hold_ns <= 0)
		return;
	adjtime_slew.fastpath_holds++;
	listener->hold_fastpath((uint64_t)hold_ns);
}

/* One sample: the model steps, and every domain gets a new rate. */
static void follow_once(void)
{
	struct kernel_rate k;
	struct follow_sample s;
	uint64_t kernel_changes = follower.kernel_changes;
	int64_t now_ns;
	bool changed;

	s = take_sample();
	now_ns = realtime_ns();
	if (read_kernel_rate(&k, &s, now_ns, true))
		k = follower.kernel;
	changed = clock_follow_step(&follower, &s, &k);
	set_timer_period(adjtime_model_watching(&adjtime_slew, now_ns));
	hold_fastpath_ahead(now_ns);
	if (!changed)
		return;
	if (follower.kernel_changes != kernel_changes)
		log_ratelimited(&follow_rl, LOG_LEVEL_INFO,
				"host clock: adjtimex frequency now %+.3f ppm (tick %ld, PLL slew %ld ppb, adjtime slew %ld ppm); records follow at %llu Hz",
				(double)k.freq / 65536.0, k.tick, k.pll_ppb,
				k.adjtime_ppm,
				(unsigned long long)follower.applied_hz);
	else
		log_debug("host clock: records follow at %llu Hz (error %lld ns%s)",
			  (unsigned long long)follower.applied_hz,
			  (long long)follower.last_error_ns,
			  follower.trimming ? ", trimming" : "");
	listener->apply_rate(follower.applied_hz);
}

static void on_timer(struct event_source *src, uint32_t events)
{
	uint64_t expirations;

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0)
		return;
	follow_once();
}

void host_clock_follow_host_stepped(void)
{
	if (!host_clock_follow_active())
		return;
	adjtime_model_host_stepped(&adjtime_slew, realtime_ns());
	follow_once();
}

int host_clock_follow_start(uint64_t nominal_hz,
			    const struct host_clock_follow_listener *l)
{
	struct follow_sample s;
	struct kernel_rate k;
	int ret;

	s = take_sample();
	ret = read_kernel_rate(&k, &s, realtime_ns(), false);
	if (ret)
		return ret;
	ret = clock_follow_init(&follower, nominal_hz, &k, &s);
	if (ret)
		return ret;
	listener = l;
	timer.handler = on_timer;
	timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (timer.fd < 0)
		return -errno;
	ret = arm_timer(false);
	if (ret || (ret = event_loop_add(&timer))) {
		host_clock_follow_stop();
		return ret;
	}
	log_info("following host CLOCK_MONOTONIC (NTP-disciplined): adjtimex frequency %+.3f ppm, tick %ld; records at %llu Hz",
		 (double)k.freq / 65536.0, k.tick,
		 (unsigned long long)follower.applied_hz);
	return 0;
}

void host_clock_follow_stop(void)
{
	if (timer.fd < 0)
		return;
	event_loop_remove(&timer);
	close(timer.fd);
	timer.fd = -1;
}

bool host_clock_follow_active(void)
{
	return timer.fd >= 0;
}

uint64_t host_clock_follow_hz(void)
{
	return host_clock_follow_active() ? follower.applied_hz : 0;
}

bool host_clock_follow_snapshot(struct clock_follow *out,
				struct adjtime_model *adjtime)
{
	if (!host_clock_follow_active())
		return false;
	*out = follower;
	if (adjtime)
		*adjtime = adjtime_slew;
	return true;
}
