// SPDX-License-Identifier: GPL-2.0
/*
 * Clocksource "pvtime": the hyp's system time for this vCPU, in ns,
 * computed from the TSC and the vCPU's Xen-layout record without a trap.
 *
 * Unless the hyp certifies the TSC stable across vCPUs, one vCPU's record
 * may run slightly behind another's, so reads go through a global guard
 * that never lets the value move backwards (as the kernel's pvclock does).
 * The certificate counts only once pvtime_fastpath.c has checked it
 * (pvtime_stable_trusted()).
 *
 * Owns the "Clocksource" part of struct pvtime_dev: the guard, the odd
 * record fallbacks, the read path's guest-stopped notes (per CPU, on the
 * reading CPU only; pvtime_fastpath.c covers the others) and the
 * pvtime <-> pvtime-tsc hand-over.
 */
#include <linux/clocksource.h>
#include <linux/hrtimer.h>
#include <linux/irq_work.h>
#include <linux/jiffies.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/printk.h>
#include <linux/nmi.h>
#include <linux/sched/debug.h>
#include <linux/time64.h>
#include <linux/seq_file.h>

#include "pvtime.h"

/* Record version for which this CPU last honoured PVTIME_FLAG_GUEST_STOPPED. */
static DEFINE_PER_CPU(u32, pvtime_stopped_version);

/*
 * The hyp flags a record after the guest was stopped (paused, saved) so
 * that the time the guest did not run does not trip its lockup detectors.
 * The hyp owns the flag, so note each flagged record version once.
 */
static void notrace pvtime_note_guest_stopped(struct pvtime_dev *pd, u32 version)
{
	if (__this_cpu_read(pvtime_stopped_version) == version)
		return;
	__this_cpu_write(pvtime_stopped_version, version);
	touch_softlockup_watchdog();
	reset_hung_task_detector();
	atomic64_inc(&pd->guest_stopped_seen);
}

/* The last time this CPU returned: the fallback when its record is stuck. */
static DEFINE_PER_CPU(u64, pvtime_cpu_last_ns);

/*
 * The odd version at which this CPU's last read of its record gave up (an
 * even value: none).  While the record still shows it, reads go straight
 * to the fallback instead of waiting PVTIME_READ_MAX_TRIES each time; it
 * costs nothing on the normal path (only an odd version is compared).
 */
static DEFINE_PER_CPU(u32, pvtime_stuck_version);

/*
 * Unguarded reads (a trusted stable TSC) leave pd->last_ns behind: fold in
 * what every CPU returned since, so that the guard starts from the latest
 * time any CPU returned, not from a stale one.  Only after unguarded reads
 * (pd->guard_behind) does this look at the other CPUs.
 */
s64 notrace pvtime_clock_guard_floor(struct pvtime_dev *pd)
{
	s64 last;
	unsigned int cpu;

	if (READ_ONCE(pd->guard_behind) && xchg(&pd->guard_behind, false)) {
		for_each_possible_cpu(cpu) {
			s64 cpu_last = READ_ONCE(per_cpu(pvtime_cpu_last_ns, cpu));

			last = atomic64_read(&pd->last_ns);
			while (cpu_last > last &&
			       !atomic64_try_cmpxchg(&pd->last_ns, &last, cpu_last))
				;
		}
	}
	return atomic64_read(&pd->last_ns);
}

/* Never below what any CPU returned before (records may skew across CPUs). */
static u64 notrace pvtime_clock_guard(struct pvtime_dev *pd, u64 now)
{
	s64 last = pvtime_clock_guard_floor(pd);

	do {
		if (now <= (u64)last)
			return last;
	} while (!atomic64_try_cmpxchg(&pd->last_ns, &last, now));
	return now;
}

/* This CPU returned now without the guard: the guard must learn of it. */
static void notrace pvtime_clock_unguarded(struct pvtime_dev *pd, u64 now)
{
	__this_cpu_write(pvtime_cpu_last_ns, now);
	if (READ_ONCE(pd->guard_behind))
		return;
	/* After the write above: pairs with xchg() in the floor's fold. */
	smp_store_release(&pd->guard_behind, true);
}

/*
 * This CPU's record is stuck (odd for PVTIME_READ_MAX_TRIES reads) or
 * refused (tsc_shift out of range): take the time from another vCPU's
 * record, guarded unless the records are trusted to share one time
 * function.  If none is readable, repeat the latest time known; the guard
 * holds every value returned while it is in use, so time does not step back.
 */
static u64 notrace pvtime_clock_fallback(struct pvtime_dev *pd,
					 unsigned int this_cpu, u64 cpu_last)
{
	struct pvtime_time_sample sample;
	unsigned int cpu;

	atomic64_inc(&pd->odd_record_fallbacks);
	for_each_online_cpu(cpu) {
		/* That CPU's own stuck mark spares the wait here too. */
		if (cpu == this_cpu ||
		    pvtime_time_read_stuck(pvtime_vcpu_time(pd->si, cpu),
					   PVTIME_READ_MAX_TRIES,
					   READ_ONCE(per_cpu(pvtime_stuck_version, cpu)),
					   &sample))
			continue;
		if (!(sample.flags & PVTIME_FLAG_TSC_STABLE) ||
		    !pvtime_stable_trusted(pd))
			return pvtime_clock_guard(pd, max(sample.system_ns,
							  cpu_last));
		return max(sample.system_ns, cpu_last);
	}
	return pvtime_clock_guard(pd, cpu_last);
}

/* The time now, and the TSC it is for (0 when it came from a fallback). */
static u64 notrace pvtime_clock_now_tsc(struct pvtime_dev *pd, u64 *tsc)
{
	struct pvtime_time_sample sample;
	u32 stuck;
	u64 now;

	*tsc = 0;

	preempt_disable_notrace();
	stuck = __this_cpu_read(pvtime_stuck_version);
	if (unlikely(pvtime_time_read_stuck(pvtime_vcpu_time(pd->si, smp_processor_id()),
					    PVTIME_READ_MAX_TRIES, stuck,
					    &sample))) {
		/*
		 * Remember the version it gave up on (even: kept changing).
		 * Warn once per such episode, not on every read of it: the
		 * irq_work is a self-interrupt (printk could recurse into
		 * timekeeping, so it cannot warn here).
		 */
		if (sample.version != stuck) {
			__this_cpu_write(pvtime_stuck_version, sample.version);
			if (irq_work_queue(&pd->odd_record_warning))
				atomic64_inc(&pd->odd_record_warnings);
		}
		now = pvtime_clock_fallback(pd, smp_processor_id(),
					    __this_cpu_read(pvtime_cpu_last_ns));
		/* Another vCPU's trusted record is read unguarded. */
		pvtime_clock_unguarded(pd, now);
		preempt_enable_notrace();
		return now;
	}
	if (unlikely(sample.flags & PVTIME_FLAG_GUEST_STOPPED))
		pvtime_note_guest_stopped(pd, sample.version);

	*tsc = sample.tsc;
	now = sample.system_ns;
	/* As in Linux's pvclock: a certified-stable TSC needs no guard. */
	if (!(sample.flags & PVTIME_FLAG_TSC_STABLE) ||
	    !pvtime_stable_trusted(pd)) {
		now = pvtime_clock_guard(pd, now);
		__this_cpu_write(pvtime_cpu_last_ns, now);
	} else {
		pvtime_clock_unguarded(pd, now);
	}
	preempt_enable_notrace();
	return now;
}

u64 notrace pvtime_clock_now(struct pvtime_dev *pd)
{
	u64 tsc;

	return pvtime_clock_now_tsc(pd, &tsc);
}

/*
 * Handing the time over between pvtime and pvtime-tsc.  A clocksource
 * switch reads the old clocksource, then the new one, with interrupts off;
 * the time between the two reads (microseconds under TCG) is lost to
 * CLOCK_MONOTONIC and CLOCK_REALTIME.  Between our two nothing need be
 * lost, since both are the TSC underneath: the core calls the new one's
 * enable() on the switching CPU first, the old one's read there notes the
 * TSC it used, and the new one's first read answers for that TSC.  No
 * wall-clock step is then needed after a fast-path switch.
 */
DEFINE_PER_CPU(struct clocksource *, pvtime_handoff_to);
static DEFINE_PER_CPU(u64, pvtime_handoff_tsc);

static void pvtime_handoff_begin(struct clocksource *cs)
{
	raw_cpu_write(pvtime_handoff_tsc, 0);
	raw_cpu_write(pvtime_handoff_to, cs);
}

/*
 * After a clocksource switch the timekeeper counts time at the new
 * clocksource's own mult, without the kernel's NTP tick and frequency
 * adjustment, until its first update at least a tick later; what that
 * interval lost stays lost.  On an idle (NOHZ) guest that update waits
 * for the next wakeup, which after a switch made by our own work can be
 * seconds away: adjtick at a -5% tick measured 14 ms lost over 3 s with
 * the fast path switching every 2 s.  So wake the switching CPU a tick
 * and a bit after the switch, then every half tick until two and a half
 * ticks have passed: leaving idle updates stale jiffies and with them the
 * timekeeper, which then applies the adjustment.
 */
#define PVTIME_NUDGE_FIRST_NS	(TICK_NSEC + TICK_NSEC / 8)
#define PVTIME_NUDGE_EVERY_NS	(TICK_NSEC / 2)
#define PVTIME_NUDGE_SPAN_NS	(2 * TICK_NSEC + TICK_NSEC / 2)

static enum hrtimer_restart pvtime_switch_nudge_fire(struct hrtimer *timer)
{
	struct pvtime_dev *pd = container_of(timer, struct pvtime_dev,
					     switch_nudge);

	if (ktime_after(hrtimer_cb_get_time(timer), pd->switch_nudge_until))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(timer, ns_to_ktime(PVTIME_NUDGE_EVERY_NS));
	return HRTIMER_RESTART;
}

/* Called by the switch with every CPU stopped: the timer is not running. */
static void pvtime_switch_nudge(struct pvtime_dev *pd)
{
	pd->switch_nudge_until = ktime_add_ns(ktime_get(),
					      PVTIME_NUDGE_SPAN_NS);
	hrtimer_start(&pd->switch_nudge, ns_to_ktime(PVTIME_NUDGE_FIRST_NS),
		      HRTIMER_MODE_REL_PINNED_HARD);
	atomic64_inc(&pd->switch_nudges);
}

int pvtime_clocksource_enable(struct pvtime_dev *pd, struct clocksource *cs)
{
	pvtime_handoff_begin(cs);
	pvtime_switch_nudge(pd);
	return 0;
}

static int pvtime_cs_enable(struct clocksource *cs)
{
	return pvtime_clocksource_enable(container_of(cs, struct pvtime_dev,
						      cs), cs);
}

u64 notrace pvtime_handoff_slow(struct pvtime_dev *pd, struct clocksource *cs,
				u64 tsc)
{
	u64 from;

	if (raw_cpu_read(pvtime_handoff_to) != cs) {
		/* The old clocksource, read for the last time. */
		raw_cpu_write(pvtime_handoff_tsc, tsc);
		return tsc;
	}
	raw_cpu_write(pvtime_handoff_to, NULL);
	from = raw_cpu_read(pvtime_handoff_tsc);
	/*
	 * Not from one of ours (tsc, hpet...): nothing to carry over, and
	 * the moments the switch lost are for a wall-clock step later.
	 */
	if (!from) {
		pvtime_wallclock_foreign_switch(pd);
		return tsc;
	}
	if (!tsc || from > tsc)
		return tsc;
	atomic64_inc(&pd->clocksource_handoffs);
	return from;
}

static void pvtime_warn_odd_record(struct irq_work *work)
{
	struct pvtime_dev *pd = container_of(work, struct pvtime_dev,
					     odd_record_warning);

	dev_warn_ratelimited(&pd->pdev->dev, "a vCPU record stayed odd for %u reads or has a tsc_shift out of range (%lld reads fell back so far); used another vCPU's record or the last good time\n",
			     PVTIME_READ_MAX_TRIES,
			     atomic64_read(&pd->odd_record_fallbacks));
}

static u64 notrace pvtime_cs_read(struct clocksource *cs)
{
	struct pvtime_dev *pd = container_of(cs, struct pvtime_dev, cs);
	u64 tsc, from, now = pvtime_clock_now_tsc(pd, &tsc);

	if (likely(!pvtime_handoff_pending()))
		return now + pvtime_takeup_bias(pd, now);
	from = pvtime_handoff_slow(pd, cs, tsc);
	/* Taking over from pvtime-tsc: answer for the TSC it last read. */
	if (from != tsc && pd->tsc_cs_mul) {
		now -= pvtime_scale_delta(tsc - from, pd->tsc_cs_mul,
					  pd->tsc_cs_shift);
		pvtime_takeup_note_switch(pd);
	}
	return now + pvtime_takeup_bias(pd, now);
}

int pvtime_clock_register(struct pvtime_dev *pd)
{
	int ret;

	atomic64_set(&pd->last_ns, 0);
	pd->guard_behind = false;
	pvtime_takeup_init(pd);
	init_irq_work(&pd->odd_record_warning, pvtime_warn_odd_record);
	hrtimer_init(&pd->switch_nudge, CLOCK_MONOTONIC,
		     HRTIMER_MODE_REL_PINNED_HARD);
	pd->switch_nudge.function = pvtime_switch_nudge_fire;
	pd->cs = (struct clocksource) {
		.name = "pvtime",
		.rating = PVTIME_CLOCK_RATING,
		.read = pvtime_cs_read,
		.enable = pvtime_cs_enable,
		.mask = CLOCKSOURCE_MASK(64),
		.flags = CLOCK_SOURCE_IS_CONTINUOUS,
		/*
		 * The core holds the module while pvtime is current: rmmod
		 * is refused until the kernel uses another clocksource.
		 */
		.owner = THIS_MODULE,
	};

	/* The read already returns ns, so the "frequency" is 1 GHz. */
	ret = clocksource_register_hz(&pd->cs, NSEC_PER_SEC);
	if (ret)
		dev_err(&pd->pdev->dev, "cannot register the clocksource: %d\n",
			ret);
	return ret;
}

int pvtime_clock_unregister(struct pvtime_dev *pd)
{
	int ret = clocksource_unregister(&pd->cs);

	if (ret) {
		dev_err(&pd->pdev->dev, "cannot unregister the clocksource: %d\n",
			ret);
		return ret;
	}
	irq_work_sync(&pd->odd_record_warning);
	/* pvtime-tsc is gone too (pvtime_fastpath_stop): no enable() left. */
	hrtimer_cancel(&pd->switch_nudge);
	return 0;
}

/* The read path's counters and guard, for debugfs "state". */
void pvtime_clock_show_state(struct pvtime_dev *pd, struct seq_file *m)
{
	seq_printf(m, "odd_record_fallbacks %lld\n",
		   atomic64_read(&pd->odd_record_fallbacks));
	seq_printf(m, "odd_record_warnings %lld\n",
		   atomic64_read(&pd->odd_record_warnings));
	seq_printf(m, "guest_stopped_seen %lld\n",
		   atomic64_read(&pd->guest_stopped_seen));
	/* What the guard starts from: the latest time any CPU returned. */
	seq_printf(m, "guard_last_ns %lld\n", pvtime_clock_guard_floor(pd));
	seq_printf(m, "clocksource_handoffs %lld\n",
		   atomic64_read(&pd->clocksource_handoffs));
	seq_printf(m, "clocksource_switch_nudges %lld\n",
		   atomic64_read(&pd->switch_nudges));
}
