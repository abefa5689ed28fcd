// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace fast path: clocksource "pvtime-tsc".
 *
 * Its read() is the raw TSC and its vdso_clock_mode VDSO_CLOCKMODE_TSC,
 * so the vDSO serves clock_gettime() without a syscall, as for the
 * kernel's own tsc clocksource.  Its rate is the records' own (mul, shift),
 * not a calibration, so it keeps the time "pvtime" keeps.  That is only
 * right while one TSC reading means the same time on every vCPU, so
 * pvtime-tsc exists only while:
 *
 *   - every online vCPU's record carries PVTIME_FLAG_TSC_STABLE (the hyp
 *     has evidence that all vCPUs share one TSC offset),
 *   - all of them encode the same rate and agree on the time, and
 *   - the rate it was registered with is still the records' rate.
 *
 * Otherwise it is unregistered, which makes the kernel switch back to
 * "pvtime" (timekeeping keeps the time continuous across the switch);
 * a rate change re-registers it at the new rate.  The check runs when the
 * hyp rings PVTIME_VEC_RECORDS and every PVTIME_FASTPATH_CHECK_MS.
 *
 * The same check decides when pvtime's own reads may skip the cross-vCPU
 * guard, and honours PVTIME_FLAG_GUEST_STOPPED for every CPU even while
 * the kernel is not reading the records at all.
 *
 * Owns the "Fast path" part of struct pvtime_dev and stable_trusted (read
 * elsewhere through pvtime_stable_trusted()).  Its guest-stopped check is
 * the all-CPU one, with its own versions seen: it must still fire (and ask
 * for calibration) after the read path in pvtime_clock.c has noted the
 * same flag on its own CPU.
 */
#include <linux/clocksource.h>
#include <linux/cpumask.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/nmi.h>
#include <linux/sched/debug.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/workqueue.h>
#include <linux/seq_file.h>
#include <asm/tsc.h>

#include "pvtime.h"

#define PVTIME_TSC_RATING		410	/* above pvtime's 400 */
#define PVTIME_FASTPATH_CHECK_MS	1000
#define PVTIME_GUARD_RECHECK_MS		10
/*
 * A drop this long after the last records doorbell was not that
 * doorbell's (the periodic check, a stop): not a delay.
 */
#define PVTIME_FASTPATH_DROP_DELAY_MAX_NS	(2 * NSEC_PER_SEC)
/*
 * Records of one time function differ only by the hyp's rounding of each
 * anchor (a few ns); more means the hyp's TSC_STABLE is not to be trusted.
 */
#define PVTIME_STABLE_TOLERANCE_NS	8
/*
 * The kernel's mult: below 2^29 it leaves the timekeeper room for the
 * shifted nanoseconds it adds to delta * mult (shift <= 30 at GHz rates),
 * and above 2^20 it is still finer than 1 ppm (2^28 gives ~4 ppb).
 */
#define PVTIME_TSC_MULT_LIMIT		BIT(29)
#define PVTIME_TSC_MULT_MIN		BIT(20)

static const char * const pvtime_fastpath_state_names[] = {
	[PVTIME_FP_ENGAGED] = "engaged",
	[PVTIME_FP_STARTING] = "starting",
	[PVTIME_FP_NOT_STABLE] = "tsc-not-stable",
	[PVTIME_FP_RECORD_BUSY] = "record-busy",
	[PVTIME_FP_RATES_DIFFER] = "rates-differ",
	[PVTIME_FP_INCONSISTENT] = "records-inconsistent",
	[PVTIME_FP_GUARD_AHEAD] = "waiting-for-guard",
	[PVTIME_FP_BAD_RATE] = "unusable-rate",
	[PVTIME_FP_REGISTER_FAILED] = "register-failed",
	[PVTIME_FP_NOT_VOUCHED] = "not-vouched",
	[PVTIME_FP_TAKING_UP] = "taking-up-rate-change",
};

const char *pvtime_fastpath_state_name(int state)
{
	if ((unsigned int)state >= ARRAY_SIZE(pvtime_fastpath_state_names))
		return "?";
	return pvtime_fastpath_state_names[state];
}

static u64 notrace pvtime_tsc_cs_read(struct clocksource *cs)
{
	u64 tsc = rdtsc_ordered();

	if (likely(!pvtime_handoff_pending()))
		return tsc;
	return pvtime_handoff_slow(container_of(cs, struct pvtime_dev, tsc_cs),
				   cs, tsc);
}

/* The record's system time at any TSC value, before or after its anchor. */
s64 pvtime_record_time_at(const pvtime_time_info_t *rec, u64 tsc)
{
	if (tsc >= rec->tsc_timestamp)
		return rec->system_time +
		       pvtime_scale_delta(tsc - rec->tsc_timestamp,
					  rec->tsc_to_system_mul, rec->tsc_shift);
	return rec->system_time -
	       pvtime_scale_delta(rec->tsc_timestamp - tsc,
				  rec->tsc_to_system_mul, rec->tsc_shift);
}

/*
 * Honour PVTIME_FLAG_GUEST_STOPPED for every CPU: the time the guest did
 * not run must not look like a lockup to any CPU's watchdog.  The records
 * are the hyp's (the guest cannot clear the flag), so each flagged record
 * version counts once.
 */
static void pvtime_touch_watchdogs(void *unused)
{
	touch_nmi_watchdog();
}

/* Returns true when a new guest-stopped flag was seen. */
static bool pvtime_check_guest_stopped(struct pvtime_dev *pd)
{
	bool stopped = false;
	unsigned int cpu;

	for_each_online_cpu(cpu) {
		const pvtime_time_info_t *rec = &pd->fastpath_snap[cpu];

		if (!(rec->flags & PVTIME_FLAG_GUEST_STOPPED) ||
		    pd->stopped_version_seen[cpu] == rec->version)
			continue;
		pd->stopped_version_seen[cpu] = rec->version;
		stopped = true;
	}
	if (!stopped)
		return false;
	on_each_cpu(pvtime_touch_watchdogs, NULL, 1);
	reset_hung_task_detector();
	atomic64_inc(&pd->guest_stopped_touches);
	return true;
}

/*
 * Do the online vCPUs' records all certify one TSC-based time function?
 * On success *mul and *shift are its rate.
 */
static enum pvtime_fastpath_state
pvtime_records_check(struct pvtime_dev *pd, u32 *mul, s8 *shift,
		     bool *stopped)
{
	enum pvtime_fastpath_state state = PVTIME_FP_ENGAGED;
	const pvtime_time_info_t *first = NULL;
	s64 first_ns = 0, skew, worst = 0;
	unsigned int cpu;
	u64 tsc;

	for_each_online_cpu(cpu) {
		if (pvtime_time_snapshot(pvtime_vcpu_time(pd->si, cpu),
					 PVTIME_READ_MAX_TRIES,
					 &pd->fastpath_snap[cpu]))
			return PVTIME_FP_RECORD_BUSY;
	}
	*stopped = pvtime_check_guest_stopped(pd);
	if (!pvtime_records_vouched(pd))
		return PVTIME_FP_NOT_VOUCHED;

	/* Compare at one TSC value taken after every snapshot. */
	tsc = rdtsc_ordered();
	for_each_online_cpu(cpu) {
		const pvtime_time_info_t *rec = &pd->fastpath_snap[cpu];

		if (!(rec->flags & PVTIME_FLAG_TSC_STABLE))
			return PVTIME_FP_NOT_STABLE;
		if (!first) {
			first = rec;
			first_ns = pvtime_record_time_at(rec, tsc);
			continue;
		}
		if (rec->tsc_to_system_mul != first->tsc_to_system_mul ||
		    rec->tsc_shift != first->tsc_shift)
			return PVTIME_FP_RATES_DIFFER;
		skew = abs(pvtime_record_time_at(rec, tsc) - first_ns);
		worst = max(worst, skew);
		if (skew > PVTIME_STABLE_TOLERANCE_NS)
			state = PVTIME_FP_INCONSISTENT;
	}
	if (worst > pd->fastpath_worst_skew_ns)
		pd->fastpath_worst_skew_ns = worst;
	if (!first)
		return PVTIME_FP_RECORD_BUSY;
	*mul = first->tsc_to_system_mul;
	*shift = first->tsc_shift;
	return state;
}

/*
 * Let stable records skip the guard only once their time has passed the
 * guard's value: every guarded read returned at most that, so from then
 * on unguarded reads of one time function cannot go below any of them.
 */
static void pvtime_set_stable_trusted(struct pvtime_dev *pd, bool trusted)
{
	WRITE_ONCE(pd->stable_trusted, trusted);
}

static bool pvtime_trust_stable(struct pvtime_dev *pd)
{
	struct pvtime_time_sample sample;
	bool ok;

	if (pvtime_stable_trusted(pd))
		return true;
	preempt_disable();
	ok = !pvtime_time_read(pvtime_vcpu_time(pd->si, smp_processor_id()),
			       PVTIME_READ_MAX_TRIES, &sample) &&
	     (s64)sample.system_ns > pvtime_clock_guard_floor(pd);
	preempt_enable();
	if (ok)
		pvtime_set_stable_trusted(pd, true);
	return ok;
}

/* The kernel's mult/shift for the records' rate ns = delta * mul * 2^shift / 2^32. */
static int pvtime_tsc_cs_scale(u32 mul, s8 tsc_shift, u32 *mult, u32 *shift)
{
	unsigned int drop = 0;
	u64 m;
	int s;

	while ((mul >> drop) >= PVTIME_TSC_MULT_LIMIT)
		drop++;
	m = drop ? ((u64)mul + BIT(drop - 1)) >> drop : mul;
	s = 32 - tsc_shift - drop;
	if (m >= PVTIME_TSC_MULT_LIMIT) {
		m >>= 1;
		s--;
	}
	if (m < PVTIME_TSC_MULT_MIN || s < 1 || s > 32)
		return -ERANGE;
	*mult = m;
	*shift = s;
	return 0;
}

static int pvtime_tsc_cs_enable(struct clocksource *cs)
{
	return pvtime_clocksource_enable(container_of(cs, struct pvtime_dev,
						      tsc_cs), cs);
}

static int pvtime_tsc_cs_register(struct pvtime_dev *pd, u32 mul, s8 shift)
{
	u32 cs_mult, cs_shift;
	int ret;

	ret = pvtime_tsc_cs_scale(mul, shift, &cs_mult, &cs_shift);
	if (ret)
		return ret;
	pd->tsc_cs = (struct clocksource) {
		.name = "pvtime-tsc",
		.rating = PVTIME_TSC_RATING,
		.read = pvtime_tsc_cs_read,
		.enable = pvtime_tsc_cs_enable,
		.mask = CLOCKSOURCE_MASK(64),	/* the vDSO needs 64 bits */
		.flags = CLOCK_SOURCE_IS_CONTINUOUS,
		.vdso_clock_mode = VDSO_CLOCKMODE_TSC,
		/* Set here, not from Hz: the core would round to ~0.1 ppm. */
		.mult = cs_mult,
		.shift = cs_shift,
		/* As pvtime: no rmmod while it is current. */
		.owner = THIS_MODULE,
	};
	ret = __clocksource_register(&pd->tsc_cs);
	if (ret)
		return ret;
	pd->tsc_cs_registered = true;
	pd->tsc_cs_registered_tsc = rdtsc_ordered();
	pd->tsc_cs_mul = mul;
	pd->tsc_cs_shift = shift;
	atomic64_inc(&pd->fastpath_engaged);
	dev_info(&pd->pdev->dev, "clocksource pvtime-tsc registered (vDSO fast path): %llu Hz, mult %u shift %u\n",
		 pvtime_hz_from_scale(mul, shift), cs_mult, cs_shift);
	return 0;
}

/*
 * Register pvtime-tsc, noting where the kernel's clock stands against the
 * records first; that note only counts if pvtime-tsc took over from
 * pvtime without loss (pvtime_takeup.c).
 */
static int pvtime_fastpath_engage(struct pvtime_dev *pd, u32 mul, s8 shift)
{
	u64 handoffs = atomic64_read(&pd->clocksource_handoffs);
	int ret;

	pvtime_takeup_note_engage(pd);
	ret = pvtime_tsc_cs_register(pd, mul, shift);
	if (ret || atomic64_read(&pd->clocksource_handoffs) == handoffs)
		pvtime_takeup_forget(pd);
	return ret;
}

/* Cycles from the doorbell to a stamp; 0 for another drop's (older) stamp. */
static u64 pvtime_since_doorbell(u64 stamp, u64 irq_tsc)
{
	return stamp >= irq_tsc ? stamp - irq_tsc : 0;
}

/* How long after the last records doorbell pvtime-tsc went (debugfs). */
static void pvtime_fastpath_note_drop_delay(struct pvtime_dev *pd)
{
	u64 irq_tsc = READ_ONCE(pd->records_irq_tsc), now = rdtsc_ordered();
	s64 delay_ns;

	/* No doorbell since this registration: not what ended it. */
	if (irq_tsc < pd->tsc_cs_registered_tsc || now < irq_tsc)
		return;
	delay_ns = pvtime_cycles_to_ns(pd, now - irq_tsc);
	if (delay_ns > PVTIME_FASTPATH_DROP_DELAY_MAX_NS)
		return;
	atomic64_set(&pd->fastpath_drop_delay_last_ns, delay_ns);
	if (delay_ns > atomic64_read(&pd->fastpath_drop_delay_max_ns)) {
		atomic64_set(&pd->fastpath_drop_delay_max_ns, delay_ns);
		pd->drop_max_stamps[0] =
			pvtime_since_doorbell(pd->drop_thread_tsc, irq_tsc);
		pd->drop_max_stamps[1] =
			pvtime_since_doorbell(pd->drop_locked_tsc, irq_tsc);
		pd->drop_max_stamps[2] =
			pvtime_since_doorbell(pd->drop_unregister_tsc, irq_tsc);
		pd->drop_max_stamps[3] = now - irq_tsc;
	}
}

static int pvtime_tsc_cs_unregister(struct pvtime_dev *pd, const char *why)
{
	int ret;

	if (!pd->tsc_cs_registered)
		return 0;
	/* If it is current, the kernel switches to the best other (pvtime). */
	pd->drop_unregister_tsc = rdtsc_ordered();
	ret = clocksource_unregister(&pd->tsc_cs);
	if (ret) {
		dev_err(&pd->pdev->dev, "cannot unregister clocksource pvtime-tsc: %d\n",
			ret);
		return ret;
	}
	pvtime_fastpath_note_drop_delay(pd);
	pd->tsc_cs_registered = false;
	atomic64_inc(&pd->fastpath_dropped);
	dev_info(&pd->pdev->dev, "clocksource pvtime-tsc unregistered: %s\n",
		 why);
	return 0;
}

/*
 * Unregister pvtime-tsc.  If pvtime took over from it without loss, slew
 * away what the kernel's clock gained on the records meanwhile: the hyp
 * withdraws TSC_STABLE before it changes the records' rate, so this is
 * where a rate change ends the fast path (pvtime_takeup.c).
 */
static int pvtime_fastpath_disengage(struct pvtime_dev *pd, const char *why)
{
	u64 handoffs = atomic64_read(&pd->clocksource_handoffs);
	bool was_registered = pd->tsc_cs_registered;
	int ret;

	pvtime_takeup_before_drop(pd);
	ret = pvtime_tsc_cs_unregister(pd, why);

	if (ret || !was_registered)
		return ret;
	if (atomic64_read(&pd->clocksource_handoffs) != handoffs)
		pvtime_takeup_start(pd);
	else
		pvtime_takeup_forget(pd);
	return 0;
}

static void pvtime_fastpath_set_state(struct pvtime_dev *pd,
				      enum pvtime_fastpath_state state)
{
	if (pd->fastpath_state != state && state != PVTIME_FP_ENGAGED)
		dev_info(&pd->pdev->dev, "fast path off: %s\n",
			 pvtime_fastpath_state_name(state));
	WRITE_ONCE(pd->fastpath_state, state);
}

static void pvtime_fastpath_evaluate(struct pvtime_dev *pd)
{
	enum pvtime_fastpath_state state;
	unsigned long next = msecs_to_jiffies(PVTIME_FASTPATH_CHECK_MS);
	bool was_engaged, stopped = false;
	u64 switches, handoffs;
	u32 mul = 0;
	s8 shift = 0;

	mutex_lock(&pd->fastpath_lock);
	pd->drop_locked_tsc = rdtsc_ordered();
	if (pd->fastpath_stopping)
		goto out;
	switches = atomic64_read(&pd->fastpath_engaged) +
		   atomic64_read(&pd->fastpath_dropped);
	handoffs = atomic64_read(&pd->clocksource_handoffs);

	was_engaged = pd->tsc_cs_registered;
	state = pvtime_records_check(pd, &mul, &shift, &stopped);
	if (state != PVTIME_FP_ENGAGED)
		pvtime_set_stable_trusted(pd, false);
	else if (!pvtime_trust_stable(pd))
		state = PVTIME_FP_GUARD_AHEAD;

	if (state != PVTIME_FP_ENGAGED) {
		pvtime_fastpath_disengage(pd, pvtime_fastpath_state_name(state));
	} else if (pd->tsc_cs_registered &&
		   (pd->tsc_cs_mul != mul || pd->tsc_cs_shift != shift)) {
		/*
		 * A clocksource's rate is fixed: re-register at the new one,
		 * once what the old one gained since the hyp's change is
		 * slewed away.
		 */
		if (!pvtime_fastpath_disengage(pd, "the records' rate changed")) {
			if (pvtime_takeup_remaining(pd))
				state = PVTIME_FP_TAKING_UP;
			else if (pvtime_fastpath_engage(pd, mul, shift))
				state = PVTIME_FP_REGISTER_FAILED;
		}
	} else if (!pd->tsc_cs_registered && pvtime_takeup_remaining(pd)) {
		state = PVTIME_FP_TAKING_UP;
	} else if (!pd->tsc_cs_registered) {
		int ret = pvtime_fastpath_engage(pd, mul, shift);

		if (ret == -ERANGE)
			state = PVTIME_FP_BAD_RATE;
		else if (ret)
			state = PVTIME_FP_REGISTER_FAILED;
	}
	pvtime_fastpath_set_state(pd, state);
	/*
	 * A clocksource switch loses the moments between the kernel's last
	 * read of the old clock and its first of the new one (microseconds
	 * under TCG), unless it was handed over between pvtime and pvtime-tsc
	 * (pvtime_clock.c): only then bring CLOCK_REALTIME back onto the
	 * hyp's wall clock.
	 */
	switches = atomic64_read(&pd->fastpath_engaged) +
		   atomic64_read(&pd->fastpath_dropped) - switches;
	if (switches > atomic64_read(&pd->clocksource_handoffs) - handoffs)
		pvtime_wallclock_resync(pd, "clocksource switch");
	/*
	 * The guest was stopped, or the hyp withdrew TSC_STABLE (its offset
	 * moved): now that the kernel reads the records, tell the hyp where
	 * the TSC is, so that its correction reaches the kernel's clock.
	 */
	if (stopped || (was_engaged && state == PVTIME_FP_NOT_STABLE))
		pvtime_calibrate_now(pd);
	if (state == PVTIME_FP_GUARD_AHEAD)
		next = msecs_to_jiffies(PVTIME_GUARD_RECHECK_MS);
	else if (state == PVTIME_FP_TAKING_UP)
		next = pvtime_takeup_remaining(pd);
	mod_delayed_work(system_wq, &pd->fastpath_check, next);
out:
	mutex_unlock(&pd->fastpath_lock);
}

/* Re-evaluate now, from process context (vouching changed). */
void pvtime_fastpath_recheck(struct pvtime_dev *pd)
{
	pvtime_fastpath_evaluate(pd);
}

/* pvtime-tsc is registered, so the kernel reads the raw TSC. */
bool pvtime_fastpath_engaged(struct pvtime_dev *pd)
{
	return READ_ONCE(pd->tsc_cs_registered);
}

static void pvtime_fastpath_check_work(struct work_struct *work)
{
	pvtime_fastpath_evaluate(container_of(to_delayed_work(work),
					      struct pvtime_dev,
					      fastpath_check));
}

irqreturn_t pvtime_records_irq(int irq, void *data)
{
	struct pvtime_dev *pd = data;

	atomic64_inc(&pd->records_irqs);
	WRITE_ONCE(pd->records_irq_tsc, rdtsc_ordered());
	return IRQ_WAKE_THREAD;
}

/*
 * In the irq's SCHED_FIFO thread, not a work item: until pvtime-tsc is
 * dropped the kernel keeps reading the TSC at the records' old rate, and
 * a kworker at normal priority waits behind whatever the guest runs (a
 * second under all-vCPU load: 50 us of error after a 50 ppm change).
 */
irqreturn_t pvtime_records_irq_thread(int irq, void *data)
{
	struct pvtime_dev *pd = data;

	WRITE_ONCE(pd->drop_thread_tsc, rdtsc_ordered());
	pvtime_fastpath_evaluate(pd);
	return IRQ_HANDLED;
}

int pvtime_fastpath_init(struct pvtime_dev *pd)
{
	mutex_init(&pd->fastpath_lock);
	INIT_DELAYED_WORK(&pd->fastpath_check, pvtime_fastpath_check_work);
	pd->fastpath_state = PVTIME_FP_STARTING;
	pvtime_set_stable_trusted(pd, false);
	pd->fastpath_snap = kcalloc(nr_cpu_ids, sizeof(*pd->fastpath_snap),
				    GFP_KERNEL);
	pd->stopped_version_seen = kcalloc(nr_cpu_ids,
					   sizeof(*pd->stopped_version_seen),
					   GFP_KERNEL);
	if (!pd->fastpath_snap || !pd->stopped_version_seen) {
		pvtime_fastpath_free(pd);
		return -ENOMEM;
	}
	return 0;
}

/* Call with clocksource pvtime registered: pvtime-tsc falls back to it. */
void pvtime_fastpath_start(struct pvtime_dev *pd)
{
	pvtime_fastpath_evaluate(pd);
}

/*
 * Call with the records irq freed.  Returns nonzero if pvtime-tsc could
 * not be unregistered (then the device must stay as it is).
 */
int pvtime_fastpath_stop(struct pvtime_dev *pd)
{
	int ret;

	mutex_lock(&pd->fastpath_lock);
	pd->fastpath_stopping = true;
	mutex_unlock(&pd->fastpath_lock);
	cancel_delayed_work_sync(&pd->fastpath_check);

	mutex_lock(&pd->fastpath_lock);
	ret = pvtime_tsc_cs_unregister(pd, "driver unbound");
	pvtime_set_stable_trusted(pd, false);
	mutex_unlock(&pd->fastpath_lock);
	return ret;
}

void pvtime_fastpath_free(struct pvtime_dev *pd)
{
	kfree(pd->fastpath_snap);
	kfree(pd->stopped_version_seen);
	pd->fastpath_snap = NULL;
	pd->stopped_version_seen = NULL;
}

/* The fast path's state and counters, for debugfs "state". */
void pvtime_fastpath_show_state(struct pvtime_dev *pd, struct seq_file *m)
{
	seq_printf(m, "tsc_stable_trusted %d\n", pvtime_stable_trusted(pd));
	seq_printf(m, "records_irqs %lld\n", atomic64_read(&pd->records_irqs));
	seq_printf(m, "guest_stopped_touches %lld\n",
		   atomic64_read(&pd->guest_stopped_touches));
	seq_printf(m, "fastpath %s\n",
		   pvtime_fastpath_state_name(READ_ONCE(pd->fastpath_state)));
	seq_printf(m, "fastpath_engaged %lld\n",
		   atomic64_read(&pd->fastpath_engaged));
	seq_printf(m, "fastpath_dropped %lld\n",
		   atomic64_read(&pd->fastpath_dropped));
	seq_printf(m, "fastpath_drop_delay_last_ns %lld\n",
		   atomic64_read(&pd->fastpath_drop_delay_last_ns));
	seq_printf(m, "fastpath_drop_delay_max_ns %lld\n",
		   atomic64_read(&pd->fastpath_drop_delay_max_ns));
	mutex_lock(&pd->fastpath_lock);
	seq_printf(m, "fastpath_drop_max_us thread %llu locked %llu unregister %llu done %llu\n",
		   div_u64(pvtime_cycles_to_ns(pd, pd->drop_max_stamps[0]), 1000),
		   div_u64(pvtime_cycles_to_ns(pd, pd->drop_max_stamps[1]), 1000),
		   div_u64(pvtime_cycles_to_ns(pd, pd->drop_max_stamps[2]), 1000),
		   div_u64(pvtime_cycles_to_ns(pd, pd->drop_max_stamps[3]), 1000));
	seq_printf(m, "fastpath_tsc_hz %llu\n", pd->tsc_cs_registered ?
		   pvtime_hz_from_scale(pd->tsc_cs_mul, pd->tsc_cs_shift) : 0);
	seq_printf(m, "fastpath_worst_skew_ns %lld\n",
		   pd->fastpath_worst_skew_ns);
	mutex_unlock(&pd->fastpath_lock);
}
