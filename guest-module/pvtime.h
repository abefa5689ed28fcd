/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvtime.ko internals: one pvtime device per guest, shared between the
 * PCI driver, the mailbox, the clocksource, the wall clock and debugfs.
 */
#ifndef PVTIME_H
#define PVTIME_H

#include <linux/atomic.h>
#include <linux/clocksource.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/irq_work.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/pci.h>
#include <linux/percpu.h>
#include <linux/ptp_clock_kernel.h>
#include <linux/seqlock.h>
#include <linux/workqueue.h>

#include "pvtime_abi.h"
#include "pvclock_math.h"

struct dentry;
struct seq_file;

/* The time-source domain's forwarding (pvtime_timesource.c). */
struct pvtime_timesource {
	bool active;			/* forwarding; not following the hyp */
	bool stopping;
	struct notifier_block clock_set_nb;	/* pvclock_gtod: was_set */
	struct irq_work clock_set_work;		/* from the notifier to ... */
	struct delayed_work check;		/* ... the drift check */
	atomic64_t clock_sets;		/* CLOCK_REALTIME set (any cause) */
	bool set_pending;		/* the irq_work asked for this check */
	u64 set_tsc;			/* TSC at the last set (notifier) */
	atomic64_t forwards;		/* SET_WALLCLOCK accepted */
	atomic64_t step_forwards;	/* ... of them, asked for by a set */
	atomic64_t step_forward_ns;	/* set to the hyp's answer, last one */
	atomic64_t failures;		/* SET_WALLCLOCK refused or failed */
	atomic64_t last_drift_ns;	/* REALTIME - hyp wall, last check */
	int last_status;		/* of the last SET_WALLCLOCK */
};

/* Wall-clock doorbells by how long until REALTIME was set (debugfs). */
#define PVTIME_STEP_WAIT_BOUNDS_US	{ 50, 100, 200, 500, 1000, 2000, 5000 }
#define PVTIME_STEP_WAIT_BUCKETS	8	/* the bounds, then the rest */
/*
 * Wall-clock doorbells traced (debugfs wallclock_doorbells), the newest:
 * more than a test's step log holds (256), with room for its other steps.
 */
#define PVTIME_DOORBELL_TRACE		512

/* do_settimeofday64() calls a wall-clock step makes at most. */
#define PVTIME_STEP_ATTEMPTS		6

/*
 * One wall-clock doorbell on its way to CLOCK_REALTIME, in guest TSC
 * cycles: a test maps them to host time through its own meter, and so
 * times a host step by when it landed rather than by when a sampler
 * next got the CPU to look.
 */
struct pvtime_doorbell_trace {
	u64 irq_tsc;		/* the hard irq */
	u64 thread_tsc;		/* its thread began the step */
	u64 set_begin_tsc;	/* do_settimeofday64() called, */
	u64 moved_tsc;		/* the timekeeper took the new time (0: not seen), */
	u64 set_end_tsc;	/* and it returned (timers re-armed on every CPU) */
	u32 attempts;		/* do_settimeofday64()s the step took */
	bool measured;		/* residual_ns was measured ... */
	s64 residual_ns;	/* ... REALTIME - wall after the last one */
};

/* The pvtime read's bias: from_ns at start_ns, to_ns from end_ns on. */
struct pvtime_takeup_ramp {
	s64 from_ns;
	s64 to_ns;
	u64 start_ns;
	u64 end_ns;
};

struct pvtime_dev {
	struct pci_dev *pdev;
	void __iomem *regs;		/* BAR0: ivshmem registers */
	void *shm;			/* BAR2: shared memory (write-back) */
	struct shared_info *si;		/* page 0 of shm, written by the hyp */
	struct pvtime_control *ctl;	/* page 1 of shm */

	/* Mailbox: one session (doorbell ... REQ_END) at a time. */
	struct mutex mailbox_lock;
	u64 handshake_rtt_cycles;	/* best TSC probe round trip */
	unsigned int handshake_rounds;
	unsigned int handshake_vcpu;	/* vCPU whose probe set the offset */
	u64 mailbox_irqs_off_max_ns;	/* longest probe with irqs off */
	/* Longest wait for the hyp in one, less the host's longest stall. */
	u64 mailbox_irqs_off_wait_max_ns;
	u64 mailbox_slow_answers;	/* probes waited out with irqs on */
	u64 mailbox_jumps_forgiven;	/* clock jumps not held against a wait */

	/* Clocksource. */
	struct clocksource cs;
	/* Wakes the CPU that switched to cs or tsc_cs (pvtime_clock.c). */
	struct hrtimer switch_nudge;
	ktime_t switch_nudge_until;
	atomic64_t switch_nudges;
	atomic64_t last_ns;		/* monotonic guard across vCPUs */
	/* Reads returned times last_ns has not seen (pvtime_clock.c). */
	bool guard_behind;
	/*
	 * The records' TSC_STABLE flag may skip the guard only while this
	 * is set: the fast-path check saw every record agree and time pass
	 * the guard.  Written by pvtime_fastpath.c only; read it through
	 * pvtime_stable_trusted().
	 */
	bool stable_trusted;
	atomic64_t odd_record_fallbacks;
	atomic64_t odd_record_warnings;	/* stuck episodes warned about */
	struct irq_work odd_record_warning;
	atomic64_t guest_stopped_seen;

	/* Take-up of what the fast path owes the records (pvtime_takeup.c). */
	seqcount_latch_t takeup_seq;
	struct pvtime_takeup_ramp takeup_ramp[2];	/* the pvtime read's bias */
	s64 takeup_lead_ns;		/* MONOTONIC_RAW - records at engaging */
	u64 takeup_lead_bracket_ns;	/* how tightly that was read */
	s64 takeup_stops;		/* guest_stopped_touches then */
	bool takeup_lead_known;
	u64 takeup_hyp_jumped_ns;	/* control->records_jumped_ns then */
	bool takeup_hyp_jumped_known;	/* the hyp keeps that total */
	u64 takeup_switch_jumped_ns;	/* that total when pvtime took over */
	bool takeup_switch_seen;	/* ...noted by the hand-over */
	atomic64_t takeups;
	atomic64_t takeup_last_ns;	/* what the last rate change left */
	atomic64_t takeup_max_ns;	/* the most any left, in magnitude */
	atomic64_t takeup_jumps;	/* missed records jumps caught up */
	atomic64_t takeup_jump_last_ns;
	atomic64_t takeup_jumps_unsure;	/* seen, but too loosely to jump */
	atomic64_t takeup_unexplained;	/* lost more than the records jumped */
	atomic64_t takeup_unexplained_last_ns;	/* by how much, not taken */

	/* Wall clock. */
	struct delayed_work wallclock_sync;	/* periodic drift check */
	/* A switch from another clocksource: step once switching is over. */
	struct irq_work wallclock_switch_irq_work;
	struct delayed_work wallclock_switch_work;
	/* A step left off by a busy host: look again soon. */
	struct delayed_work wallclock_follow_up;
	unsigned int wallclock_follow_ups_in_row;	/* under wallclock_lock */
	atomic64_t wallclock_follow_ups;
	bool wallclock_running;		/* the works above may be queued */
	atomic64_t wallclock_foreign_switches;
	struct mutex wallclock_lock;		/* one step at a time */
	/*
	 * How long after the wall time was read do_settimeofday64() reads
	 * its clock, learnt for each attempt of a step: the first runs cold
	 * (~5 us under TCG), the second warmer (~1.2 us), the rest ~0.3 us.
	 */
	s64 wallclock_lag_ns[PVTIME_STEP_ATTEMPTS];
	atomic64_t wallclock_irqs;
	atomic64_t wallclock_doorbell_to_step_ns;	/* last doorbell's wait */
	atomic64_t wallclock_doorbell_to_step_max_ns;
	/* Doorbell to REALTIME set, by PVTIME_STEP_WAIT_BOUNDS_US bucket. */
	atomic64_t wallclock_doorbell_to_step_hist[PVTIME_STEP_WAIT_BUCKETS];
	atomic64_t wallclock_steps;
	atomic64_t wallclock_last_step_ns;	/* signed correction applied */
	atomic64_t wallclock_residual_ns;	/* REALTIME - wall just after it */
	atomic64_t wallclock_attempts;		/* do_settimeofday64s, last step */
	u64 wallclock_irq_tsc;			/* the last doorbell's hard irq */
	/* The timekeeper's last clock set, from its pvclock_gtod chain. */
	struct notifier_block wallclock_gtod_nb;
	bool wallclock_gtod_registered;
	u64 wallclock_moved_tsc;
	/* Under wallclock_lock: the last doorbells, a ring. */
	struct pvtime_doorbell_trace wallclock_trace[PVTIME_DOORBELL_TRACE];
	u64 wallclock_traced;			/* doorbells ever traced */

	atomic64_t wallclock_ignored;	/* doorbells while not following */
	atomic64_t wallclock_offset_unsure;	/* offsets too loose to use */

	/* Fast path: clocksource "pvtime-tsc" (pvtime_fastpath.c). */
	struct clocksource tsc_cs;
	struct mutex fastpath_lock;	/* everything below up to the irq */
	bool fastpath_stopping;
	bool tsc_cs_registered;
	u32 tsc_cs_mul;			/* the records' rate it runs at */
	s8 tsc_cs_shift;
	u64 tsc_cs_registered_tsc;	/* when it was last registered */
	int fastpath_state;		/* enum pvtime_fastpath_state */
	pvtime_time_info_t *fastpath_snap;	/* one per possible CPU */
	u32 *stopped_version_seen;	/* one per possible CPU */
	s64 fastpath_worst_skew_ns;	/* largest record disagreement seen */
	struct delayed_work fastpath_check;	/* periodic re-evaluation */
	atomic64_t records_irqs;
	u64 records_irq_tsc;		/* the last records doorbell's hard irq */
	/*
	 * From a records doorbell's hard irq to pvtime-tsc unregistered: the
	 * time the kernel kept the old rate after a rate change (what the
	 * take-up then slews away is the rate change times this).
	 */
	atomic64_t fastpath_drop_delay_last_ns;
	atomic64_t fastpath_drop_delay_max_ns;
	/*
	 * Where the longest delay went, TSC stamps: the irq thread began,
	 * had fastpath_lock, called clocksource_unregister(), it returned.
	 */
	u64 drop_thread_tsc, drop_locked_tsc, drop_unregister_tsc;
	u64 drop_max_stamps[4];
	atomic64_t fastpath_engaged;	/* times pvtime-tsc was registered */
	atomic64_t fastpath_dropped;	/* times it was unregistered */
	atomic64_t clocksource_handoffs;	/* switches that lost no time */
	atomic64_t guest_stopped_touches;	/* all-CPU watchdog touches */

	/* Per-vCPU TSC evidence submitted after the handshake. */
	unsigned int tsc_evidence_agreed;
	unsigned int tsc_evidence_refused;
	unsigned int tsc_evidence_failed;

	/*
	 * A clocksource could not be unregistered: the device stays bound
	 * with only the clocksources running and the module pinned
	 * (pvtime_pci.c).
	 */
	bool degraded;

	/* Calibration and vouching (pvtime_calibrate.c). */
	struct delayed_work calibrate_work;
	u32 calibration_ms;		/* 0: the hyp does not calibrate */
	bool calibrate_stopping;
	bool vouched;			/* the records agree with the hyp */
	unsigned int vouch_bad;		/* bad checks in a row */
	unsigned int vouch_good;	/* good checks in a row */
	char vouch_reason[64];		/* why they were last not vouched for */
	atomic64_t vouch_fallbacks;
	atomic64_t calibrations;
	atomic64_t calibration_failures;
	atomic64_t calibration_busy;	/* probes too slow to submit */
	unsigned int calibration_failed_rounds;	/* in a row */
	atomic64_t health_checks;
	atomic64_t health_inconclusive;	/* probe too slow to judge */
	atomic64_t health_records_offset_ns;	/* records' wall - hyp's */
	atomic64_t health_realtime_offset_ns;	/* CLOCK_REALTIME - hyp's */

	/* Clock status (pvtime_clock_status.c). */
	bool clock_status_sysfs;	/* the attribute group exists */
	atomic64_t clock_status_torn;	/* reads that found the block odd */
	struct pvtime_timesource ts;
	/* PTP clock /dev/ptpN: the hyp's wall time (pvtime_ptp.c). */
	struct ptp_clock_info ptp_info;
	struct ptp_clock *ptp_clock;	/* NULL: not registered */
	/* The clocksource the last cross timestamp matched (a hint). */
	struct clocksource *ptp_last_cs;
	/* Reads' share of the hyp's mailbox budget: a token bucket. */
	spinlock_t ptp_budget_lock;
	unsigned int ptp_tokens;
	ktime_t ptp_tokens_at;		/* when they were last topped up */
	atomic64_t ptp_throttled;	/* reads that waited for a token */
	atomic64_t ptp_reads;		/* gettimex64 answered */
	atomic64_t ptp_crosststamps;	/* getcrosststamp answered */
	atomic64_t ptp_crosststamp_retries;	/* readings behind the tick */
	atomic64_t ptp_not_current;	/* neither pvtime clocksource in use */
	atomic64_t ptp_errors;		/* the hyp did not answer, or not valid */
	s32 ptp_last_error;

	int wallclock_irq;		/* Linux irq of PVTIME_VEC_WALLCLOCK */
	int records_irq;		/* PVTIME_VEC_RECORDS, or -1 if not offered */
	struct dentry *debugfs_dir;
};

/* Whether pvtime's reads may skip the guard for TSC_STABLE records. */
static inline bool pvtime_stable_trusted(const struct pvtime_dev *pd)
{
	return READ_ONCE(pd->stable_trusted);
}

/* Clocksource ratings: above hpet and acpi_pm, like kvm-clock; not vouched for: below them. */
#define PVTIME_CLOCK_RATING	400
#define PVTIME_FALLBACK_RATING	50

/* pvtime_main.c: module parameters, validated at load. */
extern unsigned int pvtime_wallclock_sync_ms;
extern unsigned long pvtime_wallclock_step_ns;
extern bool pvtime_calibration;

/* pvtime_pci.c */
extern struct pci_driver pvtime_pci_driver;
bool pvtime_pci_device_bound(void);
bool pvtime_pci_device_refused(void);
bool pvtime_pci_device_setup_failed(void);
void pvtime_pci_sync_period_changed(void);

/* pvtime_mailbox.c */
u64 pvtime_cycles_to_ns(struct pvtime_dev *pd, u64 cycles);
/*
 * The longest a probe waits for the hyp with interrupts off.  The hyp
 * refuses TSC probes slower than its MAILBOX_MAX_RTT_US (1 ms), and a
 * realtime probe that slow brackets nothing worth having (the tests want
 * 50 us), so a longer wait with interrupts off would buy nothing.
 */
#define PVTIME_IRQS_OFF_MAX_US		1000
struct pvtime_realtime_probe {
	s64 offset_ns;		/* guest CLOCK_REALTIME - hyp wall time */
	s64 records_offset_ns;	/* wc + system time - hyp wall time */
	s64 records_lead_ns;	/* what the hyp means it to be (a slew) */
	s64 raw_offset_ns;	/* guest - host CLOCK_MONOTONIC_RAW */
	s64 host_raw_ns;	/* host CLOCK_MONOTONIC_RAW of that round */
	u64 rtt_ns;		/* round trip of the best round */
	unsigned int rounds;
};

int pvtime_handshake(struct pvtime_dev *pd);
void pvtime_tsc_evidence(struct pvtime_dev *pd);
int pvtime_tsc_calibrate(struct pvtime_dev *pd, unsigned int rounds,
			 unsigned int *busy);
int pvtime_realtime_probe(struct pvtime_dev *pd, unsigned int rounds,
			  struct pvtime_realtime_probe *res);
int pvtime_set_wallclock_request(struct pvtime_dev *pd, s64 wall_ns,
				 u64 guest_tsc);
/* What pvtime_hyp_wall_read() returns: one answer of the hyp. */
struct pvtime_hyp_wall {
	u64 host_tsc;			/* host TSC when the hyp read its clock */
	s64 wall_ns;			/* the domain's wall time at host_tsc */
	/* Only when asked for a bracket: */
	struct timespec64 pre_ts;	/* guest CLOCK_REALTIME before asking */
	struct timespec64 post_ts;	/* and after the answer */
};

int pvtime_hyp_wall_read(struct pvtime_dev *pd, bool bracket,
			 struct pvtime_hyp_wall *reading);

/* pvtime_clock.c */
int pvtime_clock_register(struct pvtime_dev *pd);
int pvtime_clock_unregister(struct pvtime_dev *pd);
u64 pvtime_clock_now(struct pvtime_dev *pd);

/* Lossless switches between pvtime and pvtime-tsc (pvtime_clock.c). */
DECLARE_PER_CPU(struct clocksource *, pvtime_handoff_to);
/* The enable() of pvtime and pvtime-tsc: the kernel is switching to cs. */
int pvtime_clocksource_enable(struct pvtime_dev *pd, struct clocksource *cs);
/* A switch to a clocksource is under way on this CPU. */
static __always_inline bool pvtime_handoff_pending(void)
{
	return raw_cpu_read(pvtime_handoff_to);
}

/*
 * A read of cs at tsc while a switch is pending: the TSC to answer for,
 * which is the old clocksource's last one for the new clocksource's first
 * read.
 */
u64 pvtime_handoff_slow(struct pvtime_dev *pd, struct clocksource *cs, u64 tsc);
s64 pvtime_clock_guard_floor(struct pvtime_dev *pd);

/* pvtime_takeup.c */
s64 pvtime_takeup_bias(struct pvtime_dev *pd, u64 now);
void pvtime_takeup_init(struct pvtime_dev *pd);
void pvtime_takeup_note_engage(struct pvtime_dev *pd);
void pvtime_takeup_note_switch(struct pvtime_dev *pd);
void pvtime_takeup_before_drop(struct pvtime_dev *pd);
void pvtime_takeup_forget(struct pvtime_dev *pd);
void pvtime_takeup_start(struct pvtime_dev *pd);
unsigned long pvtime_takeup_remaining(struct pvtime_dev *pd);
void pvtime_takeup_show_state(struct pvtime_dev *pd, struct seq_file *m);
void pvtime_takeup_debugfs(struct pvtime_dev *pd, struct dentry *dir);

/* pvtime_fastpath.c */
enum pvtime_fastpath_state {
	PVTIME_FP_ENGAGED,		/* pvtime-tsc registered */
	PVTIME_FP_STARTING,		/* not evaluated yet */
	PVTIME_FP_NOT_STABLE,		/* a record lacks TSC_STABLE */
	PVTIME_FP_RECORD_BUSY,		/* a record stayed odd */
	PVTIME_FP_RATES_DIFFER,		/* vCPUs' records encode different rates */
	PVTIME_FP_INCONSISTENT,		/* records disagree on the time */
	PVTIME_FP_GUARD_AHEAD,		/* waiting for time to pass the guard */
	PVTIME_FP_BAD_RATE,		/* rate has no usable mult/shift */
	PVTIME_FP_REGISTER_FAILED,
	PVTIME_FP_NOT_VOUCHED,		/* the health check failed */
	PVTIME_FP_TAKING_UP,		/* slewing off a rate change's error */
};

int pvtime_fastpath_init(struct pvtime_dev *pd);
void pvtime_fastpath_start(struct pvtime_dev *pd);
int pvtime_fastpath_stop(struct pvtime_dev *pd);
void pvtime_fastpath_free(struct pvtime_dev *pd);
irqreturn_t pvtime_records_irq(int irq, void *data);
irqreturn_t pvtime_records_irq_thread(int irq, void *data);
void pvtime_fastpath_recheck(struct pvtime_dev *pd);
bool pvtime_fastpath_engaged(struct pvtime_dev *pd);
s64 pvtime_record_time_at(const pvtime_time_info_t *rec, u64 tsc);

/* pvtime_calibrate.c */
void pvtime_calibrate_start(struct pvtime_dev *pd);
void pvtime_calibrate_stop(struct pvtime_dev *pd);
void pvtime_calibrate_now(struct pvtime_dev *pd);
bool pvtime_calibrating(struct pvtime_dev *pd);
bool pvtime_records_vouched(struct pvtime_dev *pd);
const char *pvtime_fastpath_state_name(int state);

/* pvtime_wallclock.c */
void pvtime_wallclock_start(struct pvtime_dev *pd);
void pvtime_wallclock_stop(struct pvtime_dev *pd);
void pvtime_wallclock_sync_period_changed(struct pvtime_dev *pd);
void pvtime_wallclock_resync(struct pvtime_dev *pd, const char *why);
void pvtime_wallclock_correct(struct pvtime_dev *pd, s64 offset_ns,
			      u64 uncertainty_ns, const char *why);
irqreturn_t pvtime_wallclock_irq(int irq, void *data);
irqreturn_t pvtime_wallclock_irq_thread(int irq, void *data);
int pvtime_wallclock_sample(struct pvtime_dev *pd, s64 *wc_ns, u64 *system_ns);
s64 pvtime_wallclock_records_ns(struct pvtime_dev *pd);

/* Each part's lines of debugfs "state" (pvtime_debugfs.c). */
void pvtime_mailbox_show_state(struct pvtime_dev *pd, struct seq_file *m);
void pvtime_clock_show_state(struct pvtime_dev *pd, struct seq_file *m);
void pvtime_clock_status_show_state(struct pvtime_dev *pd, struct seq_file *m);
void pvtime_wallclock_show_state(struct pvtime_dev *pd, struct seq_file *m);
void pvtime_wallclock_foreign_switch(struct pvtime_dev *pd);
void pvtime_wallclock_show_doorbells(struct pvtime_dev *pd, struct seq_file *m);
void pvtime_fastpath_show_state(struct pvtime_dev *pd, struct seq_file *m);
void pvtime_calibrate_show_state(struct pvtime_dev *pd, struct seq_file *m);
int pvtime_wallclock_offset(struct pvtime_dev *pd, s64 *offset_ns,
			    u64 *uncertainty_ns);

/* pvtime_clock_status.c */
struct pvtime_clock_status_view {
	bool synchronised;	/* the host's NTP says so */
	u8 leap;		/* PVTIME_LEAP_* */
	s32 tai_offset_s;
	u64 leap_time_s;	/* UTC midnight of the leap; 0 without one */
	u64 maxerror_us;	/* grown over the age, as the host's grows */
	u64 esterror_us;
	u64 age_ns;		/* since the hyp sampled the host */
	u32 changes;		/* the hyp's count of sync/leap/TAI changes */
};

/*
 * Read the host clock's status (may sleep: retries a torn block for about
 * 10 ms).  Returns 0; -ENODEV: the hyp does not offer it; -ENODATA: not
 * published yet or not understood; -EAGAIN: the block stayed torn.
 * For any user of the device, e.g. the PTP clock.
 */
int pvtime_clock_status_get(struct pvtime_dev *pd,
			    struct pvtime_clock_status_view *view);
const char *pvtime_clock_status_leap_name(unsigned int leap);
void pvtime_clock_status_init(struct pvtime_dev *pd);
void pvtime_clock_status_exit(struct pvtime_dev *pd);
/* pvtime_timesource.c */
void pvtime_timesource_start(struct pvtime_dev *pd);
void pvtime_timesource_stop(struct pvtime_dev *pd);
bool pvtime_timesource_active(struct pvtime_dev *pd);
void pvtime_timesource_debugfs(struct pvtime_dev *pd, struct dentry *dir);
/* pvtime_ptp.c */
extern bool pvtime_ptp_enabled;
void pvtime_ptp_register(struct pvtime_dev *pd);
void pvtime_ptp_unregister(struct pvtime_dev *pd);

/* pvtime_debugfs.c */
void pvtime_debugfs_init(struct pvtime_dev *pd);
void pvtime_debugfs_exit(struct pvtime_dev *pd);

#endif /* PVTIME_H */
