// SPDX-License-Identifier: GPL-2.0
/*
 * PTP hardware clock /dev/ptpN whose time is the hyp's wall time for this
 * domain, so that chrony in the guest can discipline CLOCK_REALTIME to it
 * (chrony.conf: "refclock PHC /dev/ptp0"), as with ptp_kvm under KVM.
 *
 * Every read is one mailbox session (pvtime_hyp_wall_read()): the hyp
 * answers the domain's wall time wall_ns and the host TSC it read it at.
 *
 *  - getcrosststamp (PTP_SYS_OFFSET_PRECISE): host_tsc + guest_tsc_offset
 *    is the guest TSC at that instant.  That is the counter value of the
 *    clocksource pvtime-tsc, and through this vCPU's record the system
 *    time the clocksource pvtime returns then; the timekeeping core turns
 *    it into CLOCK_REALTIME and CLOCK_MONOTONIC_RAW at the same instant.
 *    The mailbox round trip does not enter the result.  With any other
 *    clocksource in use (hpet after a fallback, tsc) there is no counter
 *    to hand the core: -EOPNOTSUPP, and chrony reads gettimex64 instead.
 *  - gettimex64 (PTP_SYS_OFFSET_EXTENDED, clock_gettime()): the guest's
 *    CLOCK_REALTIME right before and after the request brackets wall_ns;
 *    a late answer gives a wide bracket, not an error.
 *
 * The clock is read-only: the wall clock belongs to pvtimed (pvxl
 * set-wallclock), so settime, adjtime, adjfine, adjphase and the PPS and
 * pin requests return -EOPNOTSUPP.  Without valid records (the hyp has
 * not adopted a TSC offset) there is no mapping to the guest's clock, so
 * reads return -EAGAIN rather than a time.
 *
 * Registered last at probe and unregistered first at remove
 * (pvtime_pci.c): ptp_clock_unregister() waits for the reads in flight,
 * so none outlives the mapping.  A kernel without CONFIG_PTP_1588_CLOCK,
 * a hyp without the realtime probe, or the module parameter ptp=0 leave
 * the rest of the driver working without the clock.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/math64.h>
#include <linux/sched/signal.h>
#include <linux/ktime.h>
#include <linux/ptp_clock.h>
#include <linux/ptp_clock_kernel.h>
#include <linux/seq_file.h>
#include <linux/smp.h>
#include <linux/timekeeping.h>

#include "pvtime.h"

/*
 * A reading taken before the last timekeeping tick is behind the core's
 * current interval: the core interpolates back to it from a snapshot
 * taken before the request (history), unless the clock was set or the
 * clocksource changed in between (-EINVAL).  Then a fresh reading nearly
 * always does.
 */
#define PVTIME_PTP_CROSSTSTAMP_ATTEMPTS	3

/*
 * Every read is a mailbox session, and the hyp grants a domain's sessions
 * a budget (200 ms of serving a second) and watches its doorbell rate
 * (50 in 100 ms): a reader in a loop would spend them, and the module's
 * own sessions (calibration, the health check) would wait or fail.  So
 * reads take a token: PVTIME_PTP_READS_PER_SEC a second, up to
 * PVTIME_PTP_READS_BURST at once (one PTP_SYS_OFFSET_EXTENDED of the
 * most samples; with the rate's 10 in 100 ms it stays below the hyp's
 * doorbell limit); past that a read waits for the next token.  chrony's
 * "dpoll -2" reads 4 times a second (10 samples each without cross
 * timestamps).
 */
#define PVTIME_PTP_READS_PER_SEC	100
#define PVTIME_PTP_READS_BURST		PTP_MAX_SAMPLES

/* One answer of the hyp, mapped to both pvtime clocksources' counters. */
struct pvtime_ptp_sample {
	struct pvtime_dev *pd;
	ktime_t wall;			/* the domain's wall time */
	u64 guest_tsc;			/* pvtime-tsc's counter then */
	u64 system_ns;			/* pvtime's counter then */
	struct clocksource *cs;		/* the one offered to the core */
	struct system_time_snapshot history;	/* taken before asking */
};

/* Take a token, or say how long until the next one comes. */
static u64 pvtime_ptp_take_token(struct pvtime_dev *pd)
{
	const u64 period_ns = NSEC_PER_SEC / PVTIME_PTP_READS_PER_SEC;
	ktime_t now = ktime_get();
	u64 wait_ns = 0, earned;

	spin_lock(&pd->ptp_budget_lock);
	earned = div64_u64(ktime_to_ns(ktime_sub(now, pd->ptp_tokens_at)),
			   period_ns);
	if (earned) {
		pd->ptp_tokens = min_t(u64, pd->ptp_tokens + earned,
				       PVTIME_PTP_READS_BURST);
		pd->ptp_tokens_at = pd->ptp_tokens == PVTIME_PTP_READS_BURST ?
				    now : ktime_add_ns(pd->ptp_tokens_at,
						       earned * period_ns);
	}
	if (pd->ptp_tokens)
		pd->ptp_tokens--;
	else
		wait_ns = period_ns -
			  ktime_to_ns(ktime_sub(now, pd->ptp_tokens_at));
	spin_unlock(&pd->ptp_budget_lock);
	return wait_ns;
}

static int pvtime_ptp_wait_token(struct pvtime_dev *pd)
{
	u64 wait_ns = pvtime_ptp_take_token(pd);

	if (wait_ns)
		atomic64_inc(&pd->ptp_throttled);
	while (wait_ns) {
		if (fatal_signal_pending(current))
			return -EINTR;
		usleep_range(div_u64(wait_ns, NSEC_PER_USEC) + 1,
			     div_u64(wait_ns, NSEC_PER_USEC) + 100);
		wait_ns = pvtime_ptp_take_token(pd);
	}
	return 0;
}

/*
 * A reading of the hyp, only while its records are valid: the guest TSC
 * offset that maps host_tsc into this guest is then adopted and live.
 */
static int pvtime_ptp_read(struct pvtime_dev *pd, bool bracket,
			   struct pvtime_hyp_wall *reading)
{
	int ret;

	ret = pvtime_ptp_wait_token(pd);
	if (ret)
		return ret;
	ret = -EAGAIN;
	if (READ_ONCE(pd->ctl->status) & PVTIME_STATUS_RECORDS_VALID)
		ret = pvtime_hyp_wall_read(pd, bracket, reading);
	if (!ret && !(READ_ONCE(pd->ctl->status) & PVTIME_STATUS_RECORDS_VALID))
		ret = -EAGAIN;
	if (ret) {
		atomic64_inc(&pd->ptp_errors);
		WRITE_ONCE(pd->ptp_last_error, ret);
	}
	return ret;
}

/* The reading on both clocksources' scales: the guest TSC and pvtime's ns. */
static int pvtime_ptp_map(struct pvtime_dev *pd,
			  const struct pvtime_hyp_wall *reading,
			  struct pvtime_ptp_sample *sample)
{
	pvtime_time_info_t rec;
	unsigned int cpu;
	int ret;

	sample->pd = pd;
	sample->wall = ns_to_ktime(reading->wall_ns);
	sample->guest_tsc = reading->host_tsc +
			    (u64)READ_ONCE(pd->ctl->guest_tsc_offset);
	/* The record pvtime would read on this vCPU. */
	cpu = get_cpu();
	ret = pvtime_time_snapshot(pvtime_vcpu_time(pd->si, cpu),
				   PVTIME_READ_MAX_TRIES, &rec);
	put_cpu();
	if (ret)
		return -EAGAIN;
	sample->system_ns = pvtime_record_time_at(&rec, sample->guest_tsc);
	return 0;
}

static int pvtime_ptp_get_time(ktime_t *device,
			       struct system_counterval_t *counter, void *ctx)
{
	const struct pvtime_ptp_sample *sample = ctx;

	*device = sample->wall;
	counter->cs = sample->cs;
	counter->cycles = sample->cs == &sample->pd->tsc_cs ?
			  sample->guest_tsc : sample->system_ns;
	return 0;
}

/*
 * Offer the sample on the clocksource that matched last time, then on
 * the other one: the core takes only the one in use (else -ENODEV).
 */
static int pvtime_ptp_crosststamp_once(struct pvtime_ptp_sample *sample,
				       struct system_device_crosststamp *xt)
{
	struct pvtime_dev *pd = sample->pd;
	struct clocksource *first = READ_ONCE(pd->ptp_last_cs) ?: &pd->tsc_cs;
	int ret;

	sample->cs = first;
	ret = get_device_system_crosststamp(pvtime_ptp_get_time, sample,
					    &sample->history, xt);
	if (ret == -ENODEV) {
		sample->cs = first == &pd->cs ? &pd->tsc_cs : &pd->cs;
		ret = get_device_system_crosststamp(pvtime_ptp_get_time, sample,
						    &sample->history, xt);
	}
	if (!ret)
		WRITE_ONCE(pd->ptp_last_cs, sample->cs);
	return ret;
}

static int pvtime_ptp_getcrosststamp(struct ptp_clock_info *info,
				     struct system_device_crosststamp *xt)
{
	struct pvtime_dev *pd = container_of(info, struct pvtime_dev, ptp_info);
	struct pvtime_hyp_wall reading;
	struct pvtime_ptp_sample sample;
	unsigned int attempt;
	int ret = -EINVAL;

	for (attempt = 0; attempt < PVTIME_PTP_CROSSTSTAMP_ATTEMPTS; attempt++) {
		if (attempt)
			atomic64_inc(&pd->ptp_crosststamp_retries);
		ktime_get_snapshot(&sample.history);
		ret = pvtime_ptp_read(pd, false, &reading);
		if (ret)
			return ret;
		ret = pvtime_ptp_map(pd, &reading, &sample);
		if (!ret)
			ret = pvtime_ptp_crosststamp_once(&sample, xt);
		if (ret != -EINVAL && ret != -EAGAIN)
			break;
	}
	if (ret == -ENODEV) {
		/* Not ours to cross-timestamp: chrony falls back to gettimex64. */
		atomic64_inc(&pd->ptp_not_current);
		return -EOPNOTSUPP;
	}
	if (ret) {
		atomic64_inc(&pd->ptp_errors);
		WRITE_ONCE(pd->ptp_last_error, ret);
		return ret;
	}
	atomic64_inc(&pd->ptp_crosststamps);
	return 0;
}

static int pvtime_ptp_gettimex(struct ptp_clock_info *info,
			       struct timespec64 *ts,
			       struct ptp_system_timestamp *sts)
{
	struct pvtime_dev *pd = container_of(info, struct pvtime_dev, ptp_info);
	struct pvtime_hyp_wall reading;
	int ret;

	ret = pvtime_ptp_read(pd, true, &reading);
	if (ret)
		return ret;
	*ts = ns_to_timespec64(reading.wall_ns);
	if (sts) {
		sts->pre_ts = reading.pre_ts;
		sts->post_ts = reading.post_ts;
	}
	atomic64_inc(&pd->ptp_reads);
	return 0;
}

/* Read-only: the hyp's wall clock is set on the host (pvxl set-wallclock). */
static int pvtime_ptp_settime(struct ptp_clock_info *info,
			      const struct timespec64 *ts)
{
	return -EOPNOTSUPP;
}

static int pvtime_ptp_adjtime(struct ptp_clock_info *info, s64 delta)
{
	return -EOPNOTSUPP;
}

static int pvtime_ptp_adjfine(struct ptp_clock_info *info, long scaled_ppm)
{
	return -EOPNOTSUPP;
}

static int pvtime_ptp_adjphase(struct ptp_clock_info *info, s32 phase)
{
	return -EOPNOTSUPP;
}

/* No PPS output, no pins, no external timestamps. */
static int pvtime_ptp_enable(struct ptp_clock_info *info,
			     struct ptp_clock_request *request, int on)
{
	return -EOPNOTSUPP;
}

static const struct ptp_clock_info pvtime_ptp_info = {
	.owner = THIS_MODULE,
	.name = "pvtime",
	.max_adj = 0,
	.adjfine = pvtime_ptp_adjfine,
	.adjphase = pvtime_ptp_adjphase,
	.adjtime = pvtime_ptp_adjtime,
	.gettimex64 = pvtime_ptp_gettimex,
	.getcrosststamp = pvtime_ptp_getcrosststamp,
	.settime64 = pvtime_ptp_settime,
	.enable = pvtime_ptp_enable,
};

static int pvtime_ptp_show(struct seq_file *m, void *unused)
{
	struct pvtime_dev *pd = m->private;
	struct clocksource *cs = READ_ONCE(pd->ptp_last_cs);

	seq_printf(m, "index %d\n", ptp_clock_index(pd->ptp_clock));
	seq_printf(m, "reads %lld\n", atomic64_read(&pd->ptp_reads));
	seq_printf(m, "crosststamps %lld\n",
		   atomic64_read(&pd->ptp_crosststamps));
	seq_printf(m, "crosststamp_retries %lld\n",
		   atomic64_read(&pd->ptp_crosststamp_retries));
	seq_printf(m, "crosststamp_clocksource %s\n", cs ? cs->name : "-");
	seq_printf(m, "not_current %lld\n", atomic64_read(&pd->ptp_not_current));
	seq_printf(m, "throttled %lld\n", atomic64_read(&pd->ptp_throttled));
	seq_printf(m, "errors %lld\n", atomic64_read(&pd->ptp_errors));
	seq_printf(m, "last_error %d\n", READ_ONCE(pd->ptp_last_error));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvtime_ptp);

/* Optional, as debugfs: the driver works without the clock. */
void pvtime_ptp_register(struct pvtime_dev *pd)
{
	struct ptp_clock *clock;

	if (!pvtime_ptp_enabled) {
		dev_info(&pd->pdev->dev, "no PTP clock (module parameter ptp=0)\n");
		return;
	}
	if (!(READ_ONCE(pd->ctl->features) & PVTIME_F_REALTIME_PROBE)) {
		dev_info(&pd->pdev->dev, "no PTP clock: the hypervisor offers no realtime probe\n");
		return;
	}
	spin_lock_init(&pd->ptp_budget_lock);
	pd->ptp_tokens = PVTIME_PTP_READS_BURST;
	pd->ptp_tokens_at = ktime_get();
	pd->ptp_info = pvtime_ptp_info;
	clock = ptp_clock_register(&pd->ptp_info, &pd->pdev->dev);
	if (IS_ERR(clock)) {
		dev_err(&pd->pdev->dev, "cannot register the PTP clock: %ld; going on without it\n",
			PTR_ERR(clock));
		return;
	}
	if (!clock) {
		dev_info(&pd->pdev->dev, "no PTP clock: kernel built without CONFIG_PTP_1588_CLOCK\n");
		return;
	}
	pd->ptp_clock = clock;
	debugfs_create_file("ptp", 0444, pd->debugfs_dir, pd, &pvtime_ptp_fops);
	dev_info(&pd->pdev->dev, "PTP clock ptp%d: the hypervisor's wall time for domid %u\n",
		 ptp_clock_index(clock), READ_ONCE(pd->ctl->domid));
}

void pvtime_ptp_unregister(struct pvtime_dev *pd)
{
	if (!pd->ptp_clock)
		return;
	debugfs_lookup_and_remove("ptp", pd->debugfs_dir);
	ptp_clock_unregister(pd->ptp_clock);
	pd->ptp_clock = NULL;
}
