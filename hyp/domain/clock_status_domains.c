// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Publishing the host clock's status to every domain: one adjtimex(2)
 * sample per tick, written into each domain's control page under the
 * block's seq, stamped with the domain's system time so the guest knows
 * its age.  Also the test-only faults on the block (see clock_status.h).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "pvtime_clock_status.h"
#include "clock/clock_status.h"
#include "core/emit.h"
#include "core/log.h"
#include "core/monotonic.h"
#include "core/timebase.h"
#include "domain/clock_status_domains.h"
#include "domain/domain.h"

static bool sample_host(struct pvtime_clock_status *out)
{
	static bool warned;
	struct timex tx = { .modes = 0 };
	int state = adjtimex(&tx);

	if (state < 0) {
		if (!warned)
			log_warn("adjtimex (read-only) failed: %s; guests get no clock status",
				 strerror(errno));
		warned = true;
		return false;
	}
	warned = false;
	clock_status_encode(&tx, state, out);
	return true;
}

static bool domain_offers_status(const struct domain *d)
{
	return d->state == DOMAIN_RUNNING && d->clock_ready &&
	       !d->clock_status.hidden &&
	       (READ_ONCE(d->shm.ctl->features) & PVTIME_F_CLOCK_STATUS);
}

/*
 * A domain adopted from an earlier pvtimed already has a block: continue
 * its 'changes' count rather than restart it under the guest's eyes.
 */
static void seed_from_block(struct domain *d)
{
	struct clock_status_state *cs = &d->clock_status;

	if (!pvtime_clock_status_read(&d->shm.ctl->clock_status, &cs->last,
				      PVTIME_CLOCK_STATUS_TRIES))
		cs->published = true;
}

static void publish(struct domain *d, const struct pvtime_clock_status *sample,
		    uint64_t now_ns)
{
	struct clock_status_state *cs = &d->clock_status;
	struct pvtime_clock_status val = *sample;

	if (cs->odd_until_ns) {
		if (now_ns < cs->odd_until_ns)
			return;
		cs->odd_until_ns = 0;
		log_info("domain %s: clock status odd hold over", d->cfg.name);
	}
	if (!cs->published)
		seed_from_block(d);
	pthread_mutex_lock(&d->clock.lock);
	val.sampled_system_ns = domain_clock_system_ns(&d->clock,
						       timebase_rdtsc());
	pthread_mutex_unlock(&d->clock.lock);
	val.changes = cs->last.changes;
	if (cs->published && clock_status_news(&cs->last, &val)) {
		val.changes++;
		log_info("domain %s: host clock status now sync %u leap %u at %llu, TAI %d",
			 d->cfg.name, val.sync, val.leap,
			 (unsigned long long)val.leap_time_s, val.tai_offset_s);
	}
	pvtime_clock_status_write(&d->shm.ctl->clock_status, &val);
	cs->last = val;
	cs->published = true;
}

void clock_status_refresh_all(void)
{
	struct pvtime_clock_status sample;
	uint64_t now_ns = monotonic_ns();
	struct domain *d;

	if (!sample_host(&sample))
		return;
	for (d = domain_first(); d; d = d->next)
		if (domain_offers_status(d))
			publish(d, &sample, now_ns);
}

void clock_status_hide(struct domain *d, bool hide)
{
	static const struct pvtime_clock_status zero;
	struct pvtime_clock_status sample;
	struct pvtime_control *ctl = d->shm.ctl;

	d->clock_status.hidden = hide;
	if (hide) {
		/*
		 * As an older hyp: no bit, a block of zeros ending at seq 0.
		 * Odd while zeroing, so no reader keeps a half-zeroed copy.
		 */
		WRITE_ONCE(ctl->features, ctl->features & ~PVTIME_F_CLOCK_STATUS);
		pvtime_clock_status_write(&ctl->clock_status, &zero);
		WRITE_ONCE(ctl->clock_status.seq, ctl->clock_status.seq + 1);
		pvtime_wmb();
		WRITE_ONCE(ctl->clock_status.seq, 0);
		d->clock_status.published = false;
		d->clock_status.odd_until_ns = 0;
		return;
	}
	WRITE_ONCE(ctl->features, ctl->features | PVTIME_F_CLOCK_STATUS);
	if (domain_offers_status(d) && sample_host(&sample))
		publish(d, &sample, monotonic_ns());
}

void clock_status_hold_odd(struct domain *d, uint32_t ms)
{
	struct pvtime_clock_status *blk = &d->shm.ctl->clock_status;

	if (!(READ_ONCE(blk->seq) & 1))
		WRITE_ONCE(blk->seq, blk->seq + 1);
	pvtime_wmb();
	d->clock_status.odd_until_ns = monotonic_ns() + (uint64_t)ms * NS_PER_MS;
}

void clock_status_emit(struct emit *e, const struct domain *d)
{
	const struct pvtime_clock_status *st = &d->clock_status.last;

	emit_object_begin(e, "clock_status");
	emit_bool(e, "offered", !!(READ_ONCE(d->shm.ctl->features) &
				   PVTIME_F_CLOCK_STATUS));
	if (d->clock_status.published) {
		emit_u64(e, "seq", READ_ONCE(d->shm.ctl->clock_status.seq));
		emit_u64(e, "sync", st->sync);
		emit_u64(e, "leap", st->leap);
		emit_u64(e, "leap_time_s", st->leap_time_s);
		emit_s64(e, "tai_offset_s", st->tai_offset_s);
		emit_u64(e, "maxerror_us", st->maxerror_us);
		emit_u64(e, "esterror_us", st->esterror_us);
		emit_u64(e, "host_status", st->host_status);
		emit_s64(e, "host_state", st->host_state);
		emit_u64(e, "changes", st->changes);
		emit_u64(e, "sampled_system_ns", st->sampled_system_ns);
	}
	emit_object_end(e);
}
