// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock/records.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "core/monotonic.h"
#include "core/timebase.h"
#include "domain/clock_status_domains.h"
#include "domain/domain.h"
#include "fault/fault_inject.h"

/* A domain's injections in progress; the rate step and skew are its records'. */
struct fault_state {
	struct fault_state *next;
	struct domain *owner;
	struct event_source storm_timer;	/* fd -1 when no storm */
	uint32_t storm_hz;
	uint64_t storm_end_ns;			/* CLOCK_MONOTONIC */
	uint64_t storm_rewrites;
	struct event_source odd_timer;		/* fd -1 when none held */
	uint32_t odd_vcpu;
	uint64_t odd_end_ns;
	uint64_t injections;			/* requests applied */
};

/* Only the domains ever injected into: a handful, in tests. */
static struct fault_state *states;
static bool injection_enabled;

void fault_injection_enable(bool on)
{
	injection_enabled = on;
}

bool fault_injection_enabled(void)
{
	return injection_enabled;
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

static struct fault_state **find_link(const struct domain *d)
{
	struct fault_state **link;

	for (link = &states; *link; link = &(*link)->next)
		if ((*link)->owner == d)
			break;
	return link;
}

static struct fault_state *find_state(const struct domain *d)
{
	return *find_link(d);
}

/* d's state, made on its first injection; NULL on ENOMEM. */
static struct fault_state *get_state(struct domain *d)
{
	struct fault_state *fs = find_state(d);

	if (fs)
		return fs;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	fs->owner = d;
	fs->storm_timer.fd = -1;
	fs->storm_timer.handler = on_storm_timer;
	fs->odd_timer.fd = -1;
	fs->odd_timer.handler = on_odd_timer;
	fs->next = states;
	states = fs;
	return fs;
}

void fault_domain_stopped(struct domain *d, bool freed)
{
	struct fault_state **link = find_link(d);
	struct fault_state *fs = *link;

	if (!fs)
		return;
	end_storm(fs, "domain stopped");
	end_odd(fs, "domain stopped");
	if (freed) {
		*link = fs->next;
		free(fs);
	}
}

static int set_rate_step(struct domain *d, int32_t ppm, char *err,
			 size_t errlen)
{
	/* The timebase's rate, as an injected step always had. */
	int ret = domain_apply_rate(d, timebase_get()->tsc_hz, ppm, false);

	if (ret) {
		snprintf(err, errlen, "cannot encode the rate: %s", strerror(-ret));
		return -1;
	}
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

int fault_apply(struct domain *d, const struct fault_request *req,
		char *err, size_t errlen)
{
	struct fault_state *fs = get_state(d);
	int ret = 0;

	if (!fs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}

	switch (req->mode) {
	case FAULT_STORM:
		ret = apply_storm(fs, req, err, errlen);
		break;
	case FAULT_SKEW:
		ring_records(d, records_set_skew(&d->clock, &d->shm, req->skew_ns));
		break;
	case FAULT_FREQ_STEP:
		ret = set_rate_step(d, req->ppm, err, errlen);
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
		ret = set_rate_step(d, 0, err, errlen);
		ring_records(d, records_refresh_stability(&d->clock, &d->shm));
		clock_status_hide(d, false);
		break;
	case FAULT_CLOCK_STATUS_OFF:
		clock_status_hide(d, true);
		break;
	case FAULT_CLOCK_STATUS_ODD:
		clock_status_hold_odd(d, req->duration_ms);
		break;
	case FAULT_JUMP:
		ret = records_jump_unannounced(&d->clock, &d->shm,
					       req->duration_ms * NS_PER_MS,
					       FAULT_JUMP_HOLD_NS);
		ring_records(d, ret != -ENODATA);
		if (ret == -ENODATA)
			snprintf(err, errlen, "domain '%s' has no records yet (its guest TSC offset is not known)",
				 d->cfg.name);
		else if (ret)
			snprintf(err, errlen, "cannot re-anchor the records for the jump: %s",
				 strerror(-ret));
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

void fault_emit(struct emit *e, struct domain *d)
{
	static const struct fault_state none = {
		.storm_timer.fd = -1, .odd_timer.fd = -1,
	};
	const struct fault_state *fs = find_state(d);
	int64_t skew_ns;
	int32_t ppm;

	if (!fs)
		fs = &none;
	pthread_mutex_lock(&d->clock.lock);
	skew_ns = d->clock.skew_ns;
	ppm = d->clock.freq_ppm;
	pthread_mutex_unlock(&d->clock.lock);
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
	emit_s64(e, "skew_ns", skew_ns);
	emit_s64(e, "freq_ppm", ppm);
	if (fs->odd_timer.fd >= 0) {
		emit_object_begin(e, "odd");
		emit_u64(e, "vcpu", fs->odd_vcpu);
		emit_u64(e, "remaining_ms", remaining_ms(fs->odd_end_ns));
		emit_object_end(e);
	}
	emit_bool(e, "clock_status_hidden", d->clock_status.hidden);
	emit_object_end(e);
}
