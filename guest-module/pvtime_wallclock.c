// SPDX-License-Identifier: GPL-2.0
/*
 * Guest wall clock = the hyp's wc (wall time at system time 0) + pvtime
 * system time, as in Xen.  CLOCK_REALTIME is stepped to it when the
 * clocksource comes up, whenever the hyp rings PVTIME_VEC_WALLCLOCK (it
 * moved wc), and by a periodic check when the guest drifted further than
 * wallclock_step_ns.  wallclock_sync_ms=0 (writable at run time) leaves
 * the guest's wall clock alone after the initial step, and so does being
 * the time source (pvtime_timesource.c): the hyp follows this guest then.
 */
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/printk.h>
#include <linux/time64.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#include "pvtime.h"

/* Whether CLOCK_REALTIME is kept on the hyp's wall clock after load. */
static bool pvtime_wallclock_following(struct pvtime_dev *pd)
{
	return READ_ONCE(pvtime_wallclock_sync_ms) &&
	       !pvtime_timesource_active(pd);
}

/* wc and the system time it pairs with, read back to back. */
int pvtime_wallclock_sample(struct pvtime_dev *pd, s64 *wc_ns, u64 *system_ns)
{
	int ret = pvtime_wallclock_read(pd->si, PVTIME_READ_MAX_TRIES, wc_ns);

	if (ret)
		return ret;
	*system_ns = pvtime_clock_now(pd);
	return 0;
}

/* Accept this error after a step; more means the step itself lagged. */
#define PVTIME_STEP_RESIDUAL_NS	2000
#define PVTIME_STEP_ATTEMPTS	3

/* CLOCK_REALTIME - (wc + system time). */
static int pvtime_wallclock_offset(struct pvtime_dev *pd, s64 *offset_ns)
{
	u64 system_ns;
	s64 wc_ns;
	int ret;

	ret = pvtime_wallclock_sample(pd, &wc_ns, &system_ns);
	if (ret)
		return ret;
	*offset_ns = ktime_get_real_ns() - (wc_ns + system_ns);
	return 0;
}

/* One do_settimeofday64(), its target computed right before the call. */
static int pvtime_wallclock_set(struct pvtime_dev *pd)
{
	struct timespec64 target;
	u64 system_ns;
	s64 wc_ns;
	int ret;

	ret = pvtime_wallclock_sample(pd, &wc_ns, &system_ns);
	if (ret)
		return ret;
	target = ns_to_timespec64(wc_ns + system_ns);
	return do_settimeofday64(&target);
}

/*
 * Step CLOCK_REALTIME to the hyp's wall time.  do_settimeofday64() reads
 * the clock a little after the target was computed, and on a cold path
 * (under TCG: code not translated yet) that is tens of microseconds, so
 * step again while the result is off by more than PVTIME_STEP_RESIDUAL_NS.
 */
static int pvtime_wallclock_step(struct pvtime_dev *pd, const char *why)
{
	s64 before_ns, after_ns = 0;
	unsigned int attempts = 0;
	int ret;

	ret = pvtime_wallclock_offset(pd, &before_ns);
	while (!ret && attempts < PVTIME_STEP_ATTEMPTS) {
		attempts++;
		ret = pvtime_wallclock_set(pd);
		if (!ret)
			ret = pvtime_wallclock_offset(pd, &after_ns);
		if (!ret && abs(after_ns) <= PVTIME_STEP_RESIDUAL_NS)
			break;
	}
	if (ret) {
		dev_err_ratelimited(&pd->pdev->dev, "cannot step the wall clock (%s): %d\n",
				    why, ret);
		return ret;
	}

	atomic64_inc(&pd->wallclock_steps);
	atomic64_set(&pd->wallclock_last_step_ns, -before_ns);
	atomic64_set(&pd->wallclock_residual_ns, after_ns);
	dev_info_ratelimited(&pd->pdev->dev, "wall clock stepped by %lld ns (%s), %lld ns off after %u attempt(s)\n",
			     -before_ns, why, after_ns, attempts);
	return 0;
}

/*
 * Step back onto the hyp's wall clock now, from process context (e.g.
 * after a clocksource switch), unless wallclock_sync_ms=0 says the guest
 * keeps its own wall clock.
 */
void pvtime_wallclock_resync(struct pvtime_dev *pd, const char *why)
{
	if (!pvtime_wallclock_following(pd)) {
		atomic64_inc(&pd->wallclock_ignored);
		return;
	}
	pvtime_wallclock_step(pd, why);
}

/*
 * CLOCK_REALTIME is offset_ns off a reference the caller measured (the
 * hyp's wall time through the mailbox): step it back onto it when that is
 * more than wallclock_step_ns, unless the guest keeps its own wall clock.
 */
void pvtime_wallclock_correct(struct pvtime_dev *pd, s64 offset_ns,
			      const char *why)
{
	struct timespec64 target;

	if (!pvtime_wallclock_following(pd)) {
		atomic64_inc(&pd->wallclock_ignored);
		return;
	}
	if (abs(offset_ns) <= pvtime_wallclock_step_ns)
		return;
	target = ns_to_timespec64(ktime_get_real_ns() - offset_ns);
	if (do_settimeofday64(&target))
		return;
	atomic64_inc(&pd->wallclock_steps);
	atomic64_set(&pd->wallclock_last_step_ns, -offset_ns);
	dev_info_ratelimited(&pd->pdev->dev, "wall clock stepped by %lld ns (%s)\n",
			     -offset_ns, why);
}

static void pvtime_wallclock_work(struct work_struct *work)
{
	struct pvtime_dev *pd = container_of(work, struct pvtime_dev,
					     wallclock_work);

	/* wallclock_sync_ms=0: the guest keeps its own wall clock. */
	if (!pvtime_wallclock_following(pd)) {
		atomic64_inc(&pd->wallclock_ignored);
		return;
	}
	pvtime_wallclock_step(pd, "hypervisor doorbell");
}

static void pvtime_wallclock_sync_work(struct work_struct *work)
{
	struct pvtime_dev *pd = container_of(to_delayed_work(work),
					     struct pvtime_dev, wallclock_sync);
	unsigned int period_ms = READ_ONCE(pvtime_wallclock_sync_ms);
	u64 system_ns;
	s64 wc_ns, off_ns;

	/* Set to 0 while this was queued: stop following. */
	if (!period_ms)
		return;
	if (pvtime_wallclock_following(pd) &&
	    !pvtime_wallclock_sample(pd, &wc_ns, &system_ns)) {
		off_ns = ktime_get_real_ns() - (wc_ns + system_ns);
		if (abs(off_ns) > pvtime_wallclock_step_ns)
			pvtime_wallclock_step(pd, "periodic check");
	}
	schedule_delayed_work(&pd->wallclock_sync, msecs_to_jiffies(period_ms));
}

/*
 * wallclock_sync_ms was written: 0 stops following the hyp's wall clock
 * (doorbells included); a period re-arms the check, which runs at once
 * so a guest that set its own time is brought back right away.
 */
void pvtime_wallclock_sync_period_changed(struct pvtime_dev *pd)
{
	if (READ_ONCE(pvtime_wallclock_sync_ms))
		mod_delayed_work(system_wq, &pd->wallclock_sync, 0);
	else
		cancel_delayed_work(&pd->wallclock_sync);
}

irqreturn_t pvtime_wallclock_irq(int irq, void *data)
{
	struct pvtime_dev *pd = data;

	atomic64_inc(&pd->wallclock_irqs);
	schedule_work(&pd->wallclock_work);
	return IRQ_HANDLED;
}

/* Call with the clocksource registered: the wall clock is built on it. */
void pvtime_wallclock_start(struct pvtime_dev *pd)
{
	INIT_WORK(&pd->wallclock_work, pvtime_wallclock_work);
	INIT_DELAYED_WORK(&pd->wallclock_sync, pvtime_wallclock_sync_work);

	pvtime_wallclock_step(pd, "initial");
	if (pvtime_wallclock_sync_ms)
		schedule_delayed_work(&pd->wallclock_sync,
				      msecs_to_jiffies(pvtime_wallclock_sync_ms));
}

/* Call with the wall clock irq freed, so nothing requeues the work. */
void pvtime_wallclock_stop(struct pvtime_dev *pd)
{
	cancel_delayed_work_sync(&pd->wallclock_sync);
	cancel_work_sync(&pd->wallclock_work);
}
