// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The rate every domain's records run at: the TSC refinement's or the
 * host clock follower's, which new domains start at too, and the one
 * sequence that moves a domain to a new rate (records, doorbell, the
 * TSC_STABLE recheck after the hold, the wall clock).
 */
#include <string.h>

#include "clock/wallclock.h"
#include "core/log.h"
#include "domain/domain.h"
#include "host/host_clock_watch.h"

/* The rate every domain follows now (0: the timebase's, not yet set). */
static uint64_t domains_rate_hz;
/* ...and that rate is the host clock follower's (PVTIME_F_HOST_NTP). */
static bool domains_follow_host_ntp;

uint64_t domain_rate_for_new(uint64_t tsc_hz, bool *host_ntp)
{
	*host_ntp = domains_follow_host_ntp;
	return domains_rate_hz ? domains_rate_hz : tsc_hz;
}

int domain_apply_rate(struct domain *d, uint64_t hz, int32_t freq_ppm,
		      bool follow)
{
	bool ring;
	int ret;

	if (follow)
		ret = records_follow_rate(&d->clock, &d->shm, hz, &ring);
	else
		ret = records_set_rate(&d->clock, &d->shm, hz, freq_ppm, &ring);
	if (ret)
		return ret;
	if (ring) {
		domain_ring_records(d);
		/* TSC_STABLE back as soon as the hold allows. */
		host_clock_watch_recheck_in(RECORDS_RATE_HOLD_NS + 5000000);
	}
	/* wall = wc + system time: wc follows the new rate from now on. */
	wallclock_publish(&d->clock, &d->shm, false);
	return 0;
}

static void apply_all(uint64_t hz, bool follow)
{
	struct domain *d;
	int ret;

	for (d = domain_first(); d; d = d->next) {
		if (d->state != DOMAIN_RUNNING)
			continue;
		ret = domain_apply_rate(d, hz, d->clock.freq_ppm, follow);
		if (ret)
			log_error("domain %s: cannot apply TSC rate %llu Hz: %s",
				  d->cfg.name, (unsigned long long)hz,
				  strerror(-ret));
	}
}

void domain_set_tsc_hz_all(uint64_t tsc_hz)
{
	domains_rate_hz = tsc_hz;
	apply_all(tsc_hz, false);
}

void domain_follow_rate_all(uint64_t hz)
{
	domains_rate_hz = hz;
	domains_follow_host_ntp = true;
	apply_all(hz, true);
}

void domain_hold_fastpath_all(uint64_t ns)
{
	struct domain *d;

	for (d = domain_first(); d; d = d->next)
		if (d->state == DOMAIN_RUNNING &&
		    records_hold_stable(&d->clock, &d->shm, ns))
			domain_ring_records(d);
	/* The change's own hold takes over if it comes; if not, this ends it. */
	host_clock_watch_recheck_in(ns + 5000000);
}
