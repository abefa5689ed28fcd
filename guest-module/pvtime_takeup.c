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
 * So the fast path notes where the kernel's CLOCK_MONOTONIC stands
 * against the records when it registers pvtime-tsc, and again once
 * pvtime has taken over; the difference is slewed away on the pvtime
 * clocksource: its reads carry a bias that moves at PVTIME_TAKEUP_PPM
 * (never fast enough to turn time back) until the kernel stands where it
 * stood before.  pvtime-tsc waits until then.  The bias stays afterwards:
 * it is what the kernel's clock needs to read the records' time.
 */
#include <linux/math64.h>
#include <linux/seq_file.h>
#include <linux/timekeeping.h>

#include "pvtime.h"

/* Slew rate: the kernel's own adjtime() limit. */
#define PVTIME_TAKEUP_PPM		500
/* Less is measurement noise; more is not what a rate change leaves. */
#define PVTIME_TAKEUP_MIN_NS		200
#define PVTIME_TAKEUP_MAX_NS		(1 * NSEC_PER_MSEC)
#define PVTIME_LEAD_TRIES		4

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
 * CLOCK_MONOTONIC minus the records' time (the pvtime clocksource without
 * its bias), from the tightest of a few brackets.
 */
static s64 pvtime_kernel_lead(struct pvtime_dev *pd)
{
	u64 best = U64_MAX;
	s64 lead = 0;
	int i;

	for (i = 0; i < PVTIME_LEAD_TRIES; i++) {
		u64 before = pvtime_clock_now(pd);
		u64 mono = ktime_get_ns();
		u64 after = pvtime_clock_now(pd);

		if (after < before || after - before >= best)
			continue;
		best = after - before;
		lead = (s64)mono - (s64)(before + best / 2);
	}
	return lead;
}

/* pvtime-tsc is about to be registered: where the kernel stands now. */
void pvtime_takeup_note_engage(struct pvtime_dev *pd)
{
	pd->takeup_lead_ns = pvtime_kernel_lead(pd);
	pd->takeup_stops = atomic64_read(&pd->guest_stopped_touches);
	pd->takeup_lead_known = true;
}

/* pvtime-tsc did not take over from pvtime: nothing to compare with. */
void pvtime_takeup_forget(struct pvtime_dev *pd)
{
	pd->takeup_lead_known = false;
}

/*
 * pvtime-tsc was unregistered and pvtime has taken over: slew away what
 * the kernel gained on the records meanwhile.  A move of the guest TSC
 * moved both alike and leaves nothing; a rate change leaves the old
 * rate's gain.  Not after a guest stop (the hyp corrects those itself)
 * or a lead that no rate change explains.
 */
void pvtime_takeup_start(struct pvtime_dev *pd)
{
	struct pvtime_takeup_ramp r;
	s64 gained;
	u64 now;

	if (!pd->takeup_lead_known)
		return;
	pd->takeup_lead_known = false;
	/* The fast path's check counts every guest stop it saw flagged. */
	if (atomic64_read(&pd->guest_stopped_touches) != pd->takeup_stops)
		return;
	gained = pvtime_kernel_lead(pd) - pd->takeup_lead_ns;
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
}
