// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock/clock_status.h"
#include "domain/domain.h"
#include "fault/fault_inject.h"
#include "host/host_clock_watch.h"
#include "core/log.h"
#include "core/timebase.h"
#include "clock/wallclock.h"

#define NS_PER_MS	1000000ull
#define NS_PER_SEC	1000000000ull

static bool injection_enabled;

void fault_injection_enable(bool on)
{
	injection_enabled = on;
}

bool fault_injection_enabled(void)
{
	return injection_enabled;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void ring_records(struct domain *d, bool ring)
{
	if (ring)
		domain_ring_records(d);
}

static void close_timer(struct event_source *src)
{
	if (src->fd < 0)
		return;
	event_loop_remove(src);
	close(src->fd);
	src->fd = -1;
}

static int start_timer(struct event_source *src, uint64_t first_ns,
		       uint64_t interval_ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(first_ns / NS_PER_SEC),
			      .tv_nsec = (long)(first_ns % NS_PER_SEC) },
		.it_interval = { .tv_sec = (time_t)(interval_ns / NS_PER_SEC),
				 .tv_nsec = (long)(interval_ns % NS_PER_SEC) },
	};
	int ret;

	src->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (src->fd < 0)
		return -errno;
	if (timerfd_settime(src->fd, 0, &its, NULL) < 0) {
		ret = -errno;
		close(src->fd);
		src->fd = -1;
		return ret;
	}
	ret = event_loop_add(src);
	if (ret) {
		close(src->fd);
		src->fd = -1;
	}
	return ret;
}

static void end_storm(struct fault_state *fs, const char *why)
{
	if (fs->storm_timer.fd < 0)
		return;
	close_timer(&fs->storm_timer);
	log_info("domain %s: inject storm ended (%s) after %llu rewrites",
		 fs->owner->cfg.name, why, (unsigned long long)fs->storm_rewrites);
}

static void end_odd(struct fault_state *fs, const char *why)
{
	if (fs->odd_timer.fd < 0)
		return;
	close_timer(&fs->odd_timer);
	records_release_odd(&fs->owner->clock, &fs->owner->shm, fs->odd_vcpu);
	log_info("domain %s: inject odd: vCPU %u record written again (%s)",
		 fs->owner->cfg.name, fs->odd_vcpu, why);
}

static void on_storm_timer(struct event_source *src, uint32_t events)
{
	struct fault_state *fs = (struct fault_state *)
		((char *)src - offsetof(struct fault_state, storm_timer));
	uint64_t expirations;

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0)
		return;
	records_reanchor(&fs->owner->clock, &fs->owner->shm);
	fs->storm_rewrites++;
	if (monotonic_ns() >= fs->storm_end_ns)
		end_storm(fs, "duration reached");
}

static void on_odd_timer(struct event_source *src, uint32_t events)
{
	struct fault_state *fs = (struct fault_state *)
		((char *)src - offsetof(struct fault_state, odd_timer));
	uint64_t expirations;

	(void)events;
	if (read(src->fd, &expirations, sizeof(expirations)) < 0)
		return;
	end_odd(fs, "time is up");
}

void fault_state_init(struct fault_state *fs, struct domain *owner)
{
	memset(fs, 0, sizeof(*fs));
	fs->owner = owner;
	fs->storm_timer.fd = -1;
	fs->storm_timer.handler = on_storm_timer;
	fs->odd_timer.fd = -1;
	fs->odd_timer.handler = on_odd_timer;
}

void fault_state_stop(struct fault_state *fs)
{
	if (!fs->owner)
		return;
	end_storm(fs, "domain stopped");
	end_odd(fs, "domain stopped");
}

static int set_rate_step(struct fault_state *fs, int32_t ppm, char *err,
			 size_t errlen)
{
	struct domain *d = fs->owner;
	bool ring;
	int ret;

	ret = records_set_rate(&d->clock, &d->shm, timebase_get()->tsc_hz, ppm,
			       &ring);
	if (ret) {
		snprintf(err, errlen, "cannot encode the rate: %s", strerror(-ret));
		return -1;
	}
	fs->ppm = ppm;
	ring_records(d, ring);
	if (ring)	/* TSC_STABLE back as soon as the hold allows */
		host_clock_watch_recheck_in(RECORDS_RATE_HOLD_NS + 5000000);
	/* wall = wc + system time: wc follows the new rate from now on. */
	wallclock_publish(&d->clock, &d->shm, false);
	return 0;
}

static int apply_storm(struct fault_state *fs, const struct fault_request *req,
		       char *err, size_t errlen)
{
	uint64_t interval = NS_PER_SEC / req->rate_hz;
	int ret;

	end_storm(fs, "replaced");
	fs->storm_hz = req->rate_hz;
	fs->storm_rewrites = 0;
	fs->storm_end_ns = monotonic_ns() + req->duration_ms * NS_PER_MS;
	ret = start_timer(&fs->storm_timer, interval, interval);
	if (ret) {
		snprintf(err, errlen, "cannot start the storm timer: %s",
			 strerror(-ret));
		return -1;
	}
	return 0;
}

static int apply_odd(struct fault_state *fs, const struct fault_request *req,
		     char *err, size_t errlen)
{
	int ret;

	end_odd(fs, "replaced");
	records_hold_odd(&fs->owner->clock, &fs->owner->shm, req->vcpu);
	fs->odd_vcpu = req->vcpu;
	fs->odd_end_ns = monotonic_ns() + req->duration_ms * NS_PER_MS;
	ret = start_timer(&fs->odd_timer, req->duration_ms * NS_PER_MS, 0);
	if (ret) {
		records_release_odd(&fs->owner->clock, &fs->owner->shm, req->vcpu);
		snprintf(err, errlen, "cannot start the odd timer: %s",
			 strerror(-ret));
		return -1;
	}
	return 0;
}

int fault_apply(struct fault_state *fs, const struct fault_request *req,
		char *err, size_t errlen)
{
	struct domain *d = fs->owner;
	int ret = 0;

	switch (req->mode) {
	case FAULT_STORM:
		ret = apply_storm(fs, req, err, errlen);
		break;
	case FAULT_SKEW:
		ring_records(d, records_set_skew(&d->clock, &d->shm, req->skew_ns));
		fs->skew_ns = req->skew_ns;
		break;
	case FAULT_FREQ_STEP:
		ret = set_rate_step(fs, req->ppm, err, errlen);
		break;
	case FAULT_REANCHOR:
		records_reanchor(&d->clock, &d->shm);
		break;
	case FAULT_ODD:
		ret = apply_odd(fs, req, err, errlen);
		break;
	case FAULT_GUEST_STOPPED:
		ring_records(d, records_mark_guest_stopped(&d->clock, &d->shm));
		break;
	case FAULT_CLEAR:
		end_storm(fs, "cleared");
		end_odd(fs, "cleared");
		ring_records(d, records_set_skew(&d->clock, &d->shm, 0));
		fs->skew_ns = 0;
		ret = set_rate_step(fs, 0, err, errlen);
		ring_records(d, records_refresh_stability(&d->clock, &d->shm));
		clock_status_hide(d, false);
		break;
	case FAULT_CLOCK_STATUS_OFF:
		clock_status_hide(d, true);
		break;
	case FAULT_CLOCK_STATUS_ODD:
		clock_status_hold_odd(d, req->duration_ms);
		break;
	}
	if (ret)
		return -1;
	fs->injections++;
	return 0;
}

static uint64_t remaining_ms(uint64_t end_ns)
{
	uint64_t now = monotonic_ns();

	return end_ns > now ? (end_ns - now) / NS_PER_MS : 0;
}

void fault_emit(struct emit *e, const struct fault_state *fs)
{
	emit_object_begin(e, "injections");
	emit_bool(e, "enabled", injection_enabled);
	emit_u64(e, "applied", fs->injections);
	if (fs->storm_timer.fd >= 0) {
		emit_object_begin(e, "storm");
		emit_u64(e, "rate_hz", fs->storm_hz);
		emit_u64(e, "remaining_ms", remaining_ms(fs->storm_end_ns));
		emit_u64(e, "rewrites", fs->storm_rewrites);
		emit_object_end(e);
	}
	emit_s64(e, "skew_ns", fs->skew_ns);
	emit_s64(e, "freq_ppm", fs->ppm);
	if (fs->odd_timer.fd >= 0) {
		emit_object_begin(e, "odd");
		emit_u64(e, "vcpu", fs->odd_vcpu);
		emit_u64(e, "remaining_ms", remaining_ms(fs->odd_end_ns));
		emit_object_end(e);
	}
	emit_bool(e, "clock_status_hidden", fs->owner->clock_status.hidden);
	emit_object_end(e);
}
