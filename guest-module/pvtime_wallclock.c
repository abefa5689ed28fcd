// SPDX-License-Identifier: GPL-2.0
/*
 * Guest wall clock = the hyp's wc (wall time at system time 0) + pvtime
 * system time, as in Xen.  CLOCK_REALTIME is stepped to it when the
 * clocksource comes up, whenever the hyp rings PVTIME_VEC_WALLCLOCK (it
 * moved wc: a host step or pvxl set-wallclock), and by a periodic check
 * when the guest is proven further than wallclock_step_ns off.
 * wallclock_sync_ms=0 (writable at run time) leaves the guest's wall
 * clock alone after the initial step, and so does being the time source
 * (pvtime_timesource.c): the hyp follows this guest then.
 *
 * A doorbell is stepped in the irq's thread (SCHED_FIFO), not in a work
 * item: a kworker at normal priority waits behind whatever the guest
 * runs, and a host step should land in well under a millisecond.  A step
 * aims ahead by the lag do_settimeofday64() is measured to take before
 * it reads its clock, and is repeated until what is left is under
 * PVTIME_STEP_RESIDUAL_NS: whatever a step leaves stays until the next.
 * One the host keeps from landing is looked at again a few milliseconds
 * later (a follow-up), not left to the periodic check.
 *
 * Owns the "Wall clock" part of struct pvtime_dev; the one place that
 * computes CLOCK_REALTIME against the records' wall time
 * (pvtime_wallclock_offset(), pvtime_wallclock_records_ns()).
 */
#include <linux/interrupt.h>
#include <linux/irq_work.h>
#include <linux/irqflags.h>
#include <linux/jiffies.h>
#include <linux/limits.h>
#include <linux/minmax.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/printk.h>
#include <linux/pvclock_gtod.h>
#include <linux/time64.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>
#include <linux/seq_file.h>
#include <asm/tsc.h>

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

/* The wall time the records give now (wc + system time); 0 if unreadable. */
s64 pvtime_wallclock_records_ns(struct pvtime_dev *pd)
{
	u64 system_ns;
	s64 wc_ns;

	if (pvtime_wallclock_sample(pd, &wc_ns, &system_ns))
		return 0;
	return wc_ns + system_ns;
}

/*
 * Stop stepping again once CLOCK_REALTIME is this close to the wall
 * clock.  Under TCG the offset itself reads with ~100 ns of jitter.
 */
#define PVTIME_STEP_RESIDUAL_NS	150
/*
 * No do_settimeofday64() lags this much: an attempt off by more lost its
 * vCPU or took an interrupt on the way, and teaches nothing.
 */
#define PVTIME_STEP_LAG_MAX_NS	(50 * NSEC_PER_USEC)
/*
 * A step the host kept from landing (every attempt disturbed, or no
 * offset tight enough to check it) is looked at again this soon, up to
 * PVTIME_FOLLOW_UPS_MAX times in a row; the periodic check only steps
 * beyond wallclock_step_ns, a second later.
 */
#define PVTIME_FOLLOW_UP_NS	(1 * NSEC_PER_USEC)
#define PVTIME_FOLLOW_UP_MS	2
#define PVTIME_FOLLOW_UPS_MAX	8
/*
 * An offset is read inside a bracket of two system-time reads, and is
 * off by at most half its width.  A vCPU that loses its host CPU in there
 * widens it to tens of microseconds: such a reading would step the wall
 * clock by an error.  The tightest of a few is kept; none this tight
 * means the host is too busy to say.
 */
#define PVTIME_OFFSET_TRIES		5
#define PVTIME_OFFSET_BRACKET_GOOD_NS	2000
#define PVTIME_OFFSET_BRACKET_MAX_NS	(10 * NSEC_PER_USEC)

/*
 * CLOCK_REALTIME - (wc + system time), or -EAGAIN when no bracket was
 * tight enough.  System time is read on both sides of CLOCK_REALTIME and
 * averaged, so neither read's cost biases it; interrupts are off inside
 * a bracket, so only the host can stretch it.  *uncertainty_ns (if not
 * NULL) gets half the bracket used: the reading is right to within it.
 */
int pvtime_wallclock_offset(struct pvtime_dev *pd, s64 *offset_ns,
			    u64 *uncertainty_ns)
{
	u64 system_before, system_after, bracket, best = U64_MAX;
	s64 wc_ns, realtime_ns;
	unsigned long flags;
	unsigned int try;
	int ret;

	for (try = 0; try < PVTIME_OFFSET_TRIES; try++) {
		ret = pvtime_wallclock_read(pd->si, PVTIME_READ_MAX_TRIES,
					    &wc_ns);
		if (ret)
			return ret;
		local_irq_save(flags);
		system_before = pvtime_clock_now(pd);
		realtime_ns = ktime_get_real_ns();
		system_after = pvtime_clock_now(pd);
		local_irq_restore(flags);
		bracket = system_after - system_before;
		if (bracket < best) {
			best = bracket;
			*offset_ns = realtime_ns -
				     (wc_ns + system_before + bracket / 2);
		}
		if (best <= PVTIME_OFFSET_BRACKET_GOOD_NS)
			break;
	}
	if (uncertainty_ns)
		*uncertainty_ns = best / 2;
	if (best <= PVTIME_OFFSET_BRACKET_MAX_NS)
		return 0;
	atomic64_inc(&pd->wallclock_offset_unsure);
	return -EAGAIN;
}

/*
 * One do_settimeofday64() to the wall time lag_ns from now: it reads its
 * clock that much after the target was computed, and sets the time as of
 * that read.  *stepped_ns (if not NULL) gets how far that moves
 * CLOCK_REALTIME, to within a microsecond (REALTIME is read just before
 * the wall time, outside the lag); trace, if not NULL, the TSC around
 * the call and when, inside it, the timekeeper took the new time.
 */
static int pvtime_wallclock_set(struct pvtime_dev *pd, s64 lag_ns,
				s64 *stepped_ns,
				struct pvtime_doorbell_trace *trace)
{
	struct timespec64 target;
	s64 wc_ns, realtime_ns = 0;
	u64 system_ns;
	int ret;

	if (stepped_ns)
		realtime_ns = ktime_get_real_ns();
	ret = pvtime_wallclock_sample(pd, &wc_ns, &system_ns);
	if (ret)
		return ret;
	if (stepped_ns)
		*stepped_ns = wc_ns + (s64)system_ns - realtime_ns;
	target = ns_to_timespec64(wc_ns + system_ns + lag_ns);
	if (trace)
		trace->set_begin_tsc = rdtsc_ordered();
	ret = do_settimeofday64(&target);
	if (trace) {
		trace->set_end_tsc = rdtsc_ordered();
		trace->moved_tsc = READ_ONCE(pd->wallclock_moved_tsc);
		/* Another set's, or none seen: not this one's. */
		if (trace->moved_tsc < trace->set_begin_tsc ||
		    trace->moved_tsc > trace->set_end_tsc)
			trace->moved_tsc = 0;
	}
	return ret;
}

/* Keep a doorbell's trace, the oldest making room.  Under wallclock_lock. */
static void pvtime_wallclock_trace_add(struct pvtime_dev *pd,
				       const struct pvtime_doorbell_trace *trace)
{
	pd->wallclock_trace[pd->wallclock_traced % PVTIME_DOORBELL_TRACE] = *trace;
	pd->wallclock_traced++;
}

/*
 * A step left CLOCK_REALTIME unmeasured or more than PVTIME_FOLLOW_UP_NS
 * off: look again soon.  Under wallclock_lock.
 */
static void pvtime_wallclock_follow_up_soon(struct pvtime_dev *pd,
					    bool measured, s64 after_ns)
{
	if (measured && abs(after_ns) <= PVTIME_FOLLOW_UP_NS) {
		pd->wallclock_follow_ups_in_row = 0;
		return;
	}
	if (!READ_ONCE(pd->wallclock_running) ||
	    pd->wallclock_follow_ups_in_row >= PVTIME_FOLLOW_UPS_MAX)
		return;
	pd->wallclock_follow_ups_in_row++;
	atomic64_inc(&pd->wallclock_follow_ups);
	mod_delayed_work(system_highpri_wq, &pd->wallclock_follow_up,
			 msecs_to_jiffies(PVTIME_FOLLOW_UP_MS));
}

/*
 * Step CLOCK_REALTIME to the hyp's wall time.  An attempt aimed lag_ns
 * ahead that leaves REALTIME off by after_ns took lag_ns - after_ns:
 * the same attempt of the next step aims half way there, unless it was
 * disturbed (off by more than any lag).  Each attempt has its own lag:
 * under TCG the first, on a cold path after the irq thread woke, lags
 * ~5 us, the second ~1.2 us and the rest ~0.3 us, and one lag for all
 * sent each trim about as far the other way.  Half way: one attempt's
 * lag jitters by up to a microsecond.  Nothing is measured before the
 * first attempt: a doorbell's step should land at once, and what it
 * moved comes out of the attempt itself.
 */
static int pvtime_wallclock_step(struct pvtime_dev *pd, const char *why,
				 struct pvtime_doorbell_trace *trace)
{
	s64 stepped_ns = 0, after_ns = 0;
	unsigned int attempts = 0;
	bool measured = false;
	int ret = 0;

	mutex_lock(&pd->wallclock_lock);
	while (attempts < PVTIME_STEP_ATTEMPTS) {
		s64 *lag_ns = &pd->wallclock_lag_ns[attempts];
		bool first = !attempts++;

		/* The first attempt is the step; later ones trim what it left. */
		ret = pvtime_wallclock_set(pd, *lag_ns, first ? &stepped_ns : NULL,
					   first ? trace : NULL);
		if (ret)
			break;
		ret = pvtime_wallclock_offset(pd, &after_ns, NULL);
		measured = !ret;
		if (ret == -EAGAIN) {
			/* Set, but not measured: set again, as aimed. */
			ret = 0;
			continue;
		}
		if (ret)
			break;
		if (abs(after_ns) <= PVTIME_STEP_LAG_MAX_NS)
			*lag_ns = clamp_t(s64, *lag_ns - after_ns / 2, 0,
					  PVTIME_STEP_LAG_MAX_NS);
		if (abs(after_ns) <= PVTIME_STEP_RESIDUAL_NS)
			break;
	}
	if (trace && !ret) {
		trace->attempts = attempts;
		trace->measured = measured;
		trace->residual_ns = measured ? after_ns : 0;
		pvtime_wallclock_trace_add(pd, trace);
	}
	if (!ret)
		pvtime_wallclock_follow_up_soon(pd, measured, after_ns);
	mutex_unlock(&pd->wallclock_lock);
	if (ret) {
		dev_err_ratelimited(&pd->pdev->dev, "cannot step the wall clock (%s): %d\n",
				    why, ret);
		return ret;
	}

	atomic64_inc(&pd->wallclock_steps);
	atomic64_set(&pd->wallclock_last_step_ns, stepped_ns);
	atomic64_set(&pd->wallclock_residual_ns, after_ns);
	atomic64_set(&pd->wallclock_attempts, attempts);
	if (measured)
		dev_info_ratelimited(&pd->pdev->dev, "wall clock stepped by %lld ns (%s), %lld ns off after %u attempt(s)\n",
				     stepped_ns, why, after_ns, attempts);
	else
		dev_info_ratelimited(&pd->pdev->dev, "wall clock stepped by %lld ns (%s), not measured after %u attempt(s)\n",
				     stepped_ns, why, attempts);
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
	pvtime_wallclock_step(pd, why, NULL);
}

/*
 * Off by more than wallclock_step_ns beyond doubt: a reading is trusted
 * only to its uncertainty, so that much of it is not counted.  A step
 * costs the guest's NTP state (do_settimeofday64() clears it), so noise
 * must never cause one.
 */
static bool pvtime_wallclock_proven_off(s64 offset_ns, u64 uncertainty_ns)
{
	u64 off = abs(offset_ns);

	return off > uncertainty_ns &&
	       off - uncertainty_ns > pvtime_wallclock_step_ns;
}

/*
 * CLOCK_REALTIME is offset_ns +- uncertainty_ns off a reference the
 * caller measured (the hyp's wall time through the mailbox): step it back
 * onto it when that proves it more than wallclock_step_ns off, unless the
 * guest keeps its own wall clock.
 */
void pvtime_wallclock_correct(struct pvtime_dev *pd, s64 offset_ns,
			      u64 uncertainty_ns, const char *why)
{
	struct timespec64 target;

	if (!pvtime_wallclock_following(pd)) {
		atomic64_inc(&pd->wallclock_ignored);
		return;
	}
	if (!pvtime_wallclock_proven_off(offset_ns, uncertainty_ns))
		return;
	target = ns_to_timespec64(ktime_get_real_ns() - offset_ns);
	if (do_settimeofday64(&target))
		return;
	atomic64_inc(&pd->wallclock_steps);
	atomic64_set(&pd->wallclock_last_step_ns, -offset_ns);
	dev_info_ratelimited(&pd->pdev->dev, "wall clock stepped by %lld ns (%s)\n",
			     -offset_ns, why);
}

static void pvtime_wallclock_sync_work(struct work_struct *work)
{
	struct pvtime_dev *pd = container_of(to_delayed_work(work),
					     struct pvtime_dev, wallclock_sync);
	unsigned int period_ms = READ_ONCE(pvtime_wallclock_sync_ms);
	u64 uncertainty_ns;
	s64 off_ns;

	/* Set to 0 while this was queued: stop following. */
	if (!period_ms)
		return;
	/* A host too busy to measure on waits for the next period. */
	if (pvtime_wallclock_following(pd) &&
	    !pvtime_wallclock_offset(pd, &off_ns, &uncertainty_ns) &&
	    pvtime_wallclock_proven_off(off_ns, uncertainty_ns))
		pvtime_wallclock_step(pd, "periodic check", NULL);
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

/* Hard irq: note when the doorbell came, step in the thread. */
irqreturn_t pvtime_wallclock_irq(int irq, void *data)
{
	struct pvtime_dev *pd = data;

	atomic64_inc(&pd->wallclock_irqs);
	WRITE_ONCE(pd->wallclock_irq_tsc, rdtsc_ordered());
	return IRQ_WAKE_THREAD;
}

/* How long doorbells waited until REALTIME was set: last, max, histogram. */
static void pvtime_wallclock_note_wait(struct pvtime_dev *pd, s64 waited_ns)
{
	static const unsigned int bounds_us[] = PVTIME_STEP_WAIT_BOUNDS_US;
	unsigned int i;

	BUILD_BUG_ON(ARRAY_SIZE(bounds_us) + 1 != PVTIME_STEP_WAIT_BUCKETS);
	atomic64_set(&pd->wallclock_doorbell_to_step_ns, waited_ns);
	if (waited_ns > atomic64_read(&pd->wallclock_doorbell_to_step_max_ns))
		atomic64_set(&pd->wallclock_doorbell_to_step_max_ns, waited_ns);
	for (i = 0; i < ARRAY_SIZE(bounds_us); i++)
		if (waited_ns < (s64)bounds_us[i] * NSEC_PER_USEC)
			break;
	atomic64_inc(&pd->wallclock_doorbell_to_step_hist[i]);
}

/* The irq's thread: step now, and keep how long the doorbell waited. */
irqreturn_t pvtime_wallclock_irq_thread(int irq, void *data)
{
	struct pvtime_dev *pd = data;
	struct pvtime_doorbell_trace trace = {
		.irq_tsc = READ_ONCE(pd->wallclock_irq_tsc),
		.thread_tsc = rdtsc_ordered(),
	};
	u64 landed_tsc;

	/* wallclock_sync_ms=0, or the time source: it keeps its own. */
	if (!pvtime_wallclock_following(pd)) {
		atomic64_inc(&pd->wallclock_ignored);
		return IRQ_HANDLED;
	}
	if (pvtime_wallclock_step(pd, "hypervisor doorbell", &trace))
		return IRQ_HANDLED;
	landed_tsc = trace.moved_tsc ?: trace.set_end_tsc;
	pvtime_wallclock_note_wait(pd, pvtime_cycles_to_ns(pd, landed_tsc -
							   trace.irq_tsc));
	return IRQ_HANDLED;
}

/*
 * The kernel switched to pvtime or pvtime-tsc from a clocksource of
 * another kind (tsc, hpet, acpi_pm: a user's choice, or the kernel's once
 * ours is back).  A switch reads the old clocksource and then the new one,
 * and CLOCK_REALTIME loses the moments in between: microseconds under TCG,
 * under the periodic check's threshold, so they would stay.  Called in the
 * switch, with the timekeeper locked: the step runs from a work item, a
 * second after the last such switch.  Not sooner: a step may set the
 * clock back a little, which a reader that switches clocksources to test
 * them (the kernel's clocksource-switch, while inconsistency-check reads)
 * must not see.
 */
#define PVTIME_SWITCH_SETTLE_MS	1000
void pvtime_wallclock_foreign_switch(struct pvtime_dev *pd)
{
	if (!READ_ONCE(pd->wallclock_running))
		return;
	atomic64_inc(&pd->wallclock_foreign_switches);
	irq_work_queue(&pd->wallclock_switch_irq_work);
}

static void pvtime_wallclock_switch_irq_work(struct irq_work *work)
{
	struct pvtime_dev *pd = container_of(work, struct pvtime_dev,
					     wallclock_switch_irq_work);

	mod_delayed_work(system_wq, &pd->wallclock_switch_work,
			 msecs_to_jiffies(PVTIME_SWITCH_SETTLE_MS));
}

static void pvtime_wallclock_switch_work(struct work_struct *work)
{
	struct pvtime_dev *pd = container_of(to_delayed_work(work),
					     struct pvtime_dev,
					     wallclock_switch_work);

	pvtime_wallclock_resync(pd, "switch from another clocksource");
}

/*
 * A step the host kept from landing: step again if CLOCK_REALTIME is
 * still off (or cannot be measured), which may ask for another look.
 */
static void pvtime_wallclock_follow_up_work(struct work_struct *work)
{
	struct pvtime_dev *pd = container_of(to_delayed_work(work),
					     struct pvtime_dev,
					     wallclock_follow_up);
	s64 off_ns;

	if (!pvtime_wallclock_following(pd))
		return;
	if (!pvtime_wallclock_offset(pd, &off_ns, NULL) &&
	    abs(off_ns) <= PVTIME_FOLLOW_UP_NS) {
		/* Landed after all: the count of follow-ups in a row ends. */
		mutex_lock(&pd->wallclock_lock);
		pvtime_wallclock_follow_up_soon(pd, true, off_ns);
		mutex_unlock(&pd->wallclock_lock);
		return;
	}
	pvtime_wallclock_step(pd, "follow-up", NULL);
}

/*
 * The timekeeper calls this on every update, with was_set when the clock
 * was set, inside do_settimeofday64() before it re-arms CLOCK_REALTIME
 * timers on every CPU: when a step reached REALTIME's readers.  Under
 * single-threaded TCG that re-arming can wait milliseconds for the other
 * vCPU; the trace tells the two apart.
 */
static int pvtime_wallclock_gtod_notify(struct notifier_block *nb,
					unsigned long was_set, void *unused)
{
	struct pvtime_dev *pd = container_of(nb, struct pvtime_dev,
					     wallclock_gtod_nb);

	if (was_set)
		WRITE_ONCE(pd->wallclock_moved_tsc, rdtsc_ordered());
	return NOTIFY_OK;
}

/* Call with the clocksource registered: the wall clock is built on it. */
void pvtime_wallclock_start(struct pvtime_dev *pd)
{
	mutex_init(&pd->wallclock_lock);
	INIT_DELAYED_WORK(&pd->wallclock_sync, pvtime_wallclock_sync_work);
	init_irq_work(&pd->wallclock_switch_irq_work,
		      pvtime_wallclock_switch_irq_work);
	INIT_DELAYED_WORK(&pd->wallclock_switch_work,
			  pvtime_wallclock_switch_work);
	INIT_DELAYED_WORK(&pd->wallclock_follow_up,
			  pvtime_wallclock_follow_up_work);
	pd->wallclock_gtod_nb.notifier_call = pvtime_wallclock_gtod_notify;
	/* Without it the trace has no moved_tsc: tracing only, go on. */
	pd->wallclock_gtod_registered =
		!pvclock_gtod_register_notifier(&pd->wallclock_gtod_nb);
	WRITE_ONCE(pd->wallclock_running, true);

	pvtime_wallclock_step(pd, "initial", NULL);
	if (pvtime_wallclock_sync_ms)
		schedule_delayed_work(&pd->wallclock_sync,
				      msecs_to_jiffies(pvtime_wallclock_sync_ms));
}

/* Call with the wall clock irq freed, so nothing steps from it. */
void pvtime_wallclock_stop(struct pvtime_dev *pd)
{
	/* Under the lock: whoever checked it before has queued by now. */
	mutex_lock(&pd->wallclock_lock);
	WRITE_ONCE(pd->wallclock_running, false);
	mutex_unlock(&pd->wallclock_lock);
	irq_work_sync(&pd->wallclock_switch_irq_work);
	cancel_delayed_work_sync(&pd->wallclock_switch_work);
	cancel_delayed_work_sync(&pd->wallclock_sync);
	/* Last: the works above may have asked for it. */
	cancel_delayed_work_sync(&pd->wallclock_follow_up);
	if (pd->wallclock_gtod_registered)
		pvclock_gtod_unregister_notifier(&pd->wallclock_gtod_nb);
}

/* " <50:N <100:N ... >=5000:N": doorbells by how long until REALTIME was set. */
static void pvtime_wallclock_step_hist(struct seq_file *m, struct pvtime_dev *pd)
{
	static const unsigned int bounds_us[] = PVTIME_STEP_WAIT_BOUNDS_US;
	unsigned int i;

	for (i = 0; i < PVTIME_STEP_WAIT_BUCKETS; i++) {
		if (i < ARRAY_SIZE(bounds_us))
			seq_printf(m, " <%u:", bounds_us[i]);
		else
			seq_printf(m, " >=%u:", bounds_us[i - 1]);
		seq_printf(m, "%lld",
			   atomic64_read(&pd->wallclock_doorbell_to_step_hist[i]));
	}
	seq_putc(m, '\n');
}

/*
 * The traced doorbells, oldest first: "irq thread set_begin moved set_end"
 * in guest TSC cycles, then the step's attempts and the nanoseconds it left
 * REALTIME off ("-": not measured); struct pvtime_doorbell_trace.
 */
void pvtime_wallclock_show_doorbells(struct pvtime_dev *pd, struct seq_file *m)
{
	u64 first, i;

	mutex_lock(&pd->wallclock_lock);
	first = pd->wallclock_traced > PVTIME_DOORBELL_TRACE ?
		pd->wallclock_traced - PVTIME_DOORBELL_TRACE : 0;
	seq_printf(m, "# doorbells %llu, tsc_khz %u: irq_tsc thread_tsc set_begin_tsc moved_tsc set_end_tsc attempts residual_ns\n",
		   pd->wallclock_traced, tsc_khz);
	for (i = first; i < pd->wallclock_traced; i++) {
		const struct pvtime_doorbell_trace *t =
			&pd->wallclock_trace[i % PVTIME_DOORBELL_TRACE];

		seq_printf(m, "%llu %llu %llu %llu %llu %u ", t->irq_tsc,
			   t->thread_tsc, t->set_begin_tsc, t->moved_tsc,
			   t->set_end_tsc, t->attempts);
		if (t->measured)
			seq_printf(m, "%lld\n", t->residual_ns);
		else
			seq_puts(m, "-\n");
	}
	mutex_unlock(&pd->wallclock_lock);
}

/* "wallclock_lag_ns L1 L2 ...": each attempt's learnt lag. */
static void pvtime_wallclock_show_lags(struct pvtime_dev *pd, struct seq_file *m)
{
	unsigned int i;

	seq_puts(m, "wallclock_lag_ns");
	mutex_lock(&pd->wallclock_lock);
	for (i = 0; i < PVTIME_STEP_ATTEMPTS; i++)
		seq_printf(m, " %lld", pd->wallclock_lag_ns[i]);
	mutex_unlock(&pd->wallclock_lock);
	seq_putc(m, '\n');
}

/* The wall clock's steps and settings, for debugfs "state". */
void pvtime_wallclock_show_state(struct pvtime_dev *pd, struct seq_file *m)
{
	seq_printf(m, "wallclock_irqs %lld\n",
		   atomic64_read(&pd->wallclock_irqs));
	seq_printf(m, "wallclock_steps %lld\n",
		   atomic64_read(&pd->wallclock_steps));
	seq_printf(m, "wallclock_last_step_ns %lld\n",
		   atomic64_read(&pd->wallclock_last_step_ns));
	seq_printf(m, "wallclock_residual_ns %lld\n",
		   atomic64_read(&pd->wallclock_residual_ns));
	seq_printf(m, "wallclock_attempts %lld\n",
		   atomic64_read(&pd->wallclock_attempts));
	pvtime_wallclock_show_lags(pd, m);
	seq_printf(m, "wallclock_follow_ups %lld\n",
		   atomic64_read(&pd->wallclock_follow_ups));
	seq_printf(m, "wallclock_doorbell_to_step_ns %lld\n",
		   atomic64_read(&pd->wallclock_doorbell_to_step_ns));
	seq_printf(m, "wallclock_doorbell_to_step_max_ns %lld\n",
		   atomic64_read(&pd->wallclock_doorbell_to_step_max_ns));
	seq_puts(m, "wallclock_doorbell_to_step_hist_us");
	pvtime_wallclock_step_hist(m, pd);
	seq_printf(m, "wallclock_ignored %lld\n",
		   atomic64_read(&pd->wallclock_ignored));
	seq_printf(m, "wallclock_foreign_switches %lld\n",
		   atomic64_read(&pd->wallclock_foreign_switches));
	seq_printf(m, "wallclock_offset_unsure %lld\n",
		   atomic64_read(&pd->wallclock_offset_unsure));
	seq_printf(m, "wallclock_sync_ms %u\n",
		   READ_ONCE(pvtime_wallclock_sync_ms));
	seq_printf(m, "wallclock_step_ns %lu\n", pvtime_wallclock_step_ns);
}
