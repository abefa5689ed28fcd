// SPDX-License-Identifier: GPL-2.0
/*
 * Taking up what the fast path owes the records (owns the "take-up" part
 * of struct pvtime_dev).
 *
 * While the kernel runs on pvtime-tsc its clock advances at the rate
 * pvtime-tsc was registered at.  When the hyp changes the records' rate
 * (it follows the host's NTP), the kernel keeps the old rate until the
 * records doorbell has been served and pvtime-tsc unregistered: a few
 * milliseconds, tens under host load.  What the old rate gained or lost
 * meanwhile (500 ppm for 13 ms: 6.5 us) would stay between the kernel's
 * clock and the records for good, since a clocksource switch carries the
 * kernel's time over unchanged.
 *
 * So the fast path notes where the kernel's CLOCK_MONOTONIC_RAW stands
 * against the records when it registers pvtime-tsc, and again once
 * pvtime has taken over (raw: the guest's own NTP, adjtimex() or chrony,
 * moves CLOCK_MONOTONIC away from its clocksource on purpose, by 428 ms
 * over the timers selftests' tick changes in one check, and that is not
 * the records' doing); the difference is slewed away on the pvtime
 * clocksource: its reads carry a bias that moves at PVTIME_TAKEUP_PPM
 * (never fast enough to turn time back) until the kernel stands where it
 * stood before.  pvtime-tsc waits until then.  The bias stays afterwards:
 * it is what the kernel's clock needs to read the records' time.
 *
 * The records may also have jumped forward while the kernel read the raw
 * TSC: the hyp steps them only for a guest that said it reads the records
 * (PVTIME_SAMPLE_F_KERNEL_PATH), but a sample built just before pvtime-tsc
 * took over says so too, and a guest stopped in between lets the hyp act
 * on it seconds later.  A clocksource switch carries the kernel's time
 * over unchanged, so that step would be lost for good: the kernel's
 * clocks would stay behind its own records by it.  More than
 * PVTIME_TAKEUP_MAX_NS behind is no rate change's doing, so the bias
 * jumps forward by it at once, as the step would have moved the kernel:
 * by no more than the hyp says its records jumped meanwhile
 * (PVTIME_F_RECORDS_JUMPED, shared/pvtime_catch_up.h).  A kernel found
 * further behind than that is counted and logged, and left where it is:
 * a jump forward can never be taken back.
 */
#include <linux/debugfs.h>
#include <linux/math64.h>
#include <linux/seq_file.h>
#include <linux/timekeeping.h>

#include "pvtime.h"
#include "pvtime_catch_up.h"

/* Slew rate: the kernel's own adjtime() limit. */
#define PVTIME_TAKEUP_PPM		500
/* Less is measurement noise; more is not what a rate change leaves. */
#define PVTIME_TAKEUP_MIN_NS		200
#define PVTIME_TAKEUP_MAX_NS		(1 * NSEC_PER_MSEC)
#define PVTIME_LEAD_TRIES		4
/*
 * A jump is taken only from two leads read this tightly (half a bracket
 * is each one's error): a vCPU that lost its host CPU inside every
 * bracket must not move the clock.
 */
#define PVTIME_JUMP_BRACKET_MAX_NS	(20 * NSEC_PER_USEC)

static s64 notrace pvtime_takeup_bias_of(const struct pvtime_takeup_ramp *r,
					 u64 now)
{
	u64 span;

	if (now >= r->end_ns)
		return r->to_ns;
	if (now <= r->start_ns)
		return r->from_ns;
	span = r->end_ns - r->start_ns;
	return r->from_ns + div64_s64((r->to_ns - r->from_ns) *
				      (s64)(now - r->start_ns), span);
}

/* The bias for a pvtime read of now (ns); any context, NMI included. */
s64 notrace pvtime_takeup_bias(struct pvtime_dev *pd, u64 now)
{
	unsigned int seq;
	s64 bias;

	do {
		seq = raw_read_seqcount_latch(&pd->takeup_seq);
		bias = pvtime_takeup_bias_of(&pd->takeup_ramp[seq & 1], now);
	} while (raw_read_seqcount_latch_retry(&pd->takeup_seq, seq));
	return bias;
}

static void pvtime_takeup_publish(struct pvtime_dev *pd,
				  const struct pvtime_takeup_ramp *r)
{
	raw_write_seqcount_latch(&pd->takeup_seq);
	pd->takeup_ramp[0] = *r;
	raw_write_seqcount_latch(&pd->takeup_seq);
	pd->takeup_ramp[1] = *r;
}

/*
 * CLOCK_MONOTONIC_RAW minus the records' time (the pvtime clocksource
 * without its bias), from the tightest of a few brackets; *bracket_ns
 * gets its width (U64_MAX: none was usable).
 */
static s64 pvtime_kernel_lead(struct pvtime_dev *pd, u64 *bracket_ns)
{
	u64 best = U64_MAX;
	s64 lead = 0;
	int i;

	for (i = 0; i < PVTIME_LEAD_TRIES; i++) {
		u64 before = pvtime_clock_now(pd);
		u64 raw = ktime_get_raw_ns();
		u64 after = pvtime_clock_now(pd);

		if (after < before || after - before >= best)
			continue;
		best = after - before;
		lead = (s64)raw - (s64)(before + best / 2);
	}
	*bracket_ns = best;
	return lead;
}

/* The hyp's total of records jumps, if it keeps one (0 or -ENODATA). */
static int pvtime_records_jumped(struct pvtime_dev *pd, u64 *total_ns)
{
	if (!(READ_ONCE(pd->ctl->features) & PVTIME_F_RECORDS_JUMPED))
		return -ENODATA;
	*total_ns = READ_ONCE(pd->ctl->records_jumped_ns);
	return 0;
}

/* pvtime-tsc is about to be registered: where the kernel stands now. */
void pvtime_takeup_note_engage(struct pvtime_dev *pd)
{
	/* Before the lead: a jump in between is then counted, not missed. */
	pd->takeup_hyp_jumped_known =
		!pvtime_records_jumped(pd, &pd->takeup_hyp_jumped_ns);
	pd->takeup_switch_seen = false;
	/* Pairs with the hyp's barrier between the total and the records. */
	smp_rmb();
	pd->takeup_lead_ns = pvtime_kernel_lead(pd, &pd->takeup_lead_bracket_ns);
	pd->takeup_stops = atomic64_read(&pd->guest_stopped_touches);
	pd->takeup_lead_known = true;
}

/*
 * pvtime's first read after pvtime-tsc, in the clocksource switch: the
 * records read there, and every one after, carry the jumps in the hyp's
 * total so far, so the kernel can have missed no later one.  (The hyp
 * publishes the total before the records: a jump written in between is
 * counted as missed though the kernel will see it; the lead it measures
 * then bounds the catch-up.)
 */
void notrace pvtime_takeup_note_switch(struct pvtime_dev *pd)
{
	u64 total;

	if (pvtime_records_jumped(pd, &total))
		return;
	pd->takeup_switch_jumped_ns = total;
	pd->takeup_switch_seen = true;
}

/* pvtime-tsc goes now: only the switch this makes is to be noted. */
void pvtime_takeup_before_drop(struct pvtime_dev *pd)
{
	pd->takeup_switch_seen = false;
}

/* pvtime-tsc did not take over from pvtime: nothing to compare with. */
void pvtime_takeup_forget(struct pvtime_dev *pd)
{
	pd->takeup_lead_known = false;
}

/*
 * The records jumped lost_ns forward while the kernel read the raw TSC:
 * move the pvtime clocksource, and with it the kernel's clocks, forward
 * by as much now, then bring CLOCK_REALTIME back onto the hyp's wall clock
 * (it moved with CLOCK_MONOTONIC, and the periodic check may already
 * have stepped it by the same amount).
 */
static void pvtime_takeup_jump(struct pvtime_dev *pd, s64 lost_ns)
{
	/* Only the fast path's work publishes: a slew under way goes on. */
	struct pvtime_takeup_ramp r = pd->takeup_ramp[1];

	r.from_ns += lost_ns;
	r.to_ns += lost_ns;
	pvtime_takeup_publish(pd, &r);
	atomic64_inc(&pd->takeup_jumps);
	atomic64_set(&pd->takeup_jump_last_ns, lost_ns);
	dev_info_ratelimited(&pd->pdev->dev, "the records jumped %lld ns forward while the kernel read the raw TSC: CLOCK_MONOTONIC follows\n",
			     lost_ns);
	pvtime_wallclock_resync(pd, "records jump caught up");
}

/*
 * The kernel is lost_ns behind the records it read before the fast path:
 * jump by what the hyp's records jumped before pvtime took over, at most.
 */
static void pvtime_takeup_catch_up(struct pvtime_dev *pd, u64 lost_ns)
{
	struct pvtime_catch_up c;
	u64 total = 0;
	bool known;

	/* Without the switch's note, the total now: a bound all the same. */
	if (pd->takeup_switch_seen)
		total = pd->takeup_switch_jumped_ns;
	known = pd->takeup_hyp_jumped_known &&
		(pd->takeup_switch_seen || !pvtime_records_jumped(pd, &total)) &&
		total >= pd->takeup_hyp_jumped_ns;

	/* Over by less than a rate change leaves: only cut back. */
	c = pvtime_catch_up(lost_ns, known,
			    known ? total - pd->takeup_hyp_jumped_ns : 0,
			    PVTIME_TAKEUP_MAX_NS);
	if (c.unexplained_ns) {
		atomic64_inc(&pd->takeup_unexplained);
		atomic64_set(&pd->takeup_unexplained_last_ns, c.unexplained_ns);
		dev_warn_ratelimited(&pd->pdev->dev, "the kernel's clock looks %llu ns behind the records, but they jumped only %llu ns while it read the raw TSC: not moving it for the other %llu ns\n",
				     lost_ns, c.jump_ns, c.unexplained_ns);
	}
	if (c.jump_ns)
		pvtime_takeup_jump(pd, c.jump_ns);
}

/*
 * pvtime-tsc was unregistered and pvtime has taken over: slew away what
 * the kernel gained on the records meanwhile.  A move of the guest TSC
 * moved both alike and leaves nothing; a rate change leaves the old
 * rate's gain.  Not after a guest stop (the hyp corrects those itself)
 * or a lead that no rate change explains.  A kernel left behind by more
 * than a rate change could leave missed a jump of the records: it jumps
 * after them, stop or not.
 */
void pvtime_takeup_start(struct pvtime_dev *pd)
{
	struct pvtime_takeup_ramp r;
	u64 bracket, now;
	s64 gained;

	if (!pd->takeup_lead_known)
		return;
	pd->takeup_lead_known = false;
	gained = pvtime_kernel_lead(pd, &bracket) - pd->takeup_lead_ns;
	if (gained < -PVTIME_TAKEUP_MAX_NS) {
		if (bracket <= PVTIME_JUMP_BRACKET_MAX_NS &&
		    pd->takeup_lead_bracket_ns <= PVTIME_JUMP_BRACKET_MAX_NS)
			pvtime_takeup_catch_up(pd, -gained);
		else
			atomic64_inc(&pd->takeup_jumps_unsure);
		return;
	}
	/* The fast path's check counts every guest stop it saw flagged. */
	if (atomic64_read(&pd->guest_stopped_touches) != pd->takeup_stops)
		return;
	atomic64_set(&pd->takeup_last_ns, gained);
	if (abs(gained) > atomic64_read(&pd->takeup_max_ns))
		atomic64_set(&pd->takeup_max_ns, abs(gained));
	if (abs(gained) < PVTIME_TAKEUP_MIN_NS ||
	    abs(gained) > PVTIME_TAKEUP_MAX_NS)
		return;
	now = pvtime_clock_now(pd);
	r.from_ns = pvtime_takeup_bias(pd, now);
	r.to_ns = r.from_ns - gained;
	r.start_ns = now;
	r.end_ns = now + div_u64((u64)abs(gained) * 1000000, PVTIME_TAKEUP_PPM);
	pvtime_takeup_publish(pd, &r);
	atomic64_inc(&pd->takeups);
}

/* Jiffies until the slew under way ends (0: none). */
unsigned long pvtime_takeup_remaining(struct pvtime_dev *pd)
{
	u64 now = pvtime_clock_now(pd), end = READ_ONCE(pd->takeup_ramp[1].end_ns);

	return now < end ? nsecs_to_jiffies(end - now) + 1 : 0;
}

void pvtime_takeup_init(struct pvtime_dev *pd)
{
	struct pvtime_takeup_ramp none = { 0 };

	seqcount_latch_init(&pd->takeup_seq);
	pvtime_takeup_publish(pd, &none);
	pd->takeup_lead_known = false;
}

void pvtime_takeup_show_state(struct pvtime_dev *pd, struct seq_file *m)
{
	seq_printf(m, "takeups %lld\n", atomic64_read(&pd->takeups));
	seq_printf(m, "takeup_last_ns %lld\n", atomic64_read(&pd->takeup_last_ns));
	seq_printf(m, "takeup_max_ns %lld\n", atomic64_read(&pd->takeup_max_ns));
	seq_printf(m, "takeup_bias_ns %lld\n",
		   pvtime_takeup_bias(pd, pvtime_clock_now(pd)));
	seq_printf(m, "takeup_jumps %lld\n", atomic64_read(&pd->takeup_jumps));
	seq_printf(m, "takeup_jump_last_ns %lld\n",
		   atomic64_read(&pd->takeup_jump_last_ns));
	seq_printf(m, "takeup_jumps_unsure %lld\n",
		   atomic64_read(&pd->takeup_jumps_unsure));
	seq_printf(m, "takeup_unexplained %lld\n",
		   atomic64_read(&pd->takeup_unexplained));
	seq_printf(m, "takeup_unexplained_last_ns %lld\n",
		   atomic64_read(&pd->takeup_unexplained_last_ns));
}

/* The most a test may make the noted lead misread by: 10 s. */
#define PVTIME_MISREAD_MAX_NS	(10 * NSEC_PER_SEC)

/*
 * Fault injection (debugfs "takeup_misread_ns", root only): make the lead
 * noted when pvtime-tsc took over read ns too high, as a measurement that
 * went wrong would, so that the next switch back finds the kernel ns
 * further behind the records than it is.  Only the hyp's jump total may
 * then move the clock (pvtime_test's misread_lead_not_caught_up).
 */
static int pvtime_takeup_misread_set(void *data, u64 ns)
{
	struct pvtime_dev *pd = data;
	int ret = 0;

	if (!ns || ns > PVTIME_MISREAD_MAX_NS)
		return -EINVAL;
	mutex_lock(&pd->fastpath_lock);
	if (pd->takeup_lead_known)
		pd->takeup_lead_ns += ns;
	else
		ret = -ENODATA;	/* no take-over from pvtime noted */
	mutex_unlock(&pd->fastpath_lock);
	return ret;
}
DEFINE_DEBUGFS_ATTRIBUTE(pvtime_takeup_misread_fops, NULL,
			 pvtime_takeup_misread_set, "%llu\n");

void pvtime_takeup_debugfs(struct pvtime_dev *pd, struct dentry *dir)
{
	debugfs_create_file_unsafe("takeup_misread_ns", 0200, dir, pd,
				   &pvtime_takeup_misread_fops);
}
