// SPDX-License-Identifier: GPL-2.0
/*
 * Continuous calibration and the records' health check (owns everything
 * under "calibration" and "vouching" in struct pvtime_dev).
 *
 * The guest TSC offset is not learnt once: QEMU moves it on every pause,
 * save or migration, and under multi-threaded TCG on some hosts whenever
 * vCPUs read the TSC together.  With PVTIME_F_CALIBRATION the hyp asks for
 * a TSC probe from every online vCPU every calibration_ms and steers the
 * records back onto the host's time.  After each round one realtime probe
 * compares the records' wall time with the hyp's own wall time through the
 * mailbox, a reference independent of the records: while they disagree,
 * or calibration fails, the records are not vouched for and the kernel
 * gets its next best clocksource (hpet) back until they agree again, with
 * CLOCK_REALTIME kept on the hyp's wall time meanwhile.
 */
#include <linux/clocksource.h>
#include <linux/jiffies.h>
#include <linux/workqueue.h>
#include <linux/seq_file.h>

#include "pvtime.h"

#define PVTIME_CALIBRATION_ROUNDS	16
/* Rounds in a row with a vCPU's calibration failing before we give up. */
#define PVTIME_CALIBRATION_FAILED_ROUNDS	5
#define PVTIME_HEALTH_PROBE_ROUNDS	4
/* Records further than this from the hyp's wall time are not vouched for. */
#define PVTIME_VOUCH_LIMIT_NS		(1 * NSEC_PER_MSEC)
/* Bad checks in a row before hpet takes over, good ones before we do. */
#define PVTIME_VOUCH_BAD_CHECKS		2
#define PVTIME_VOUCH_GOOD_CHECKS	3
/* A probe whose round trip took longer says nothing (a busy host). */
#define PVTIME_HEALTH_MAX_RTT_NS	(200 * NSEC_PER_USEC)

bool pvtime_calibrating(struct pvtime_dev *pd)
{
	return READ_ONCE(pd->calibration_ms) != 0 && READ_ONCE(pvtime_calibration);
}

bool pvtime_records_vouched(struct pvtime_dev *pd)
{
	return READ_ONCE(pd->vouched);
}

/* Hand the clock to the kernel's next best clocksource, or take it back. */
static void pvtime_set_vouched(struct pvtime_dev *pd, bool vouched,
			       const char *why)
{
	if (pd->vouched == vouched)
		return;
	WRITE_ONCE(pd->vouched, vouched);
	if (!vouched) {
		atomic64_inc(&pd->vouch_fallbacks);
		strscpy(pd->vouch_reason, why, sizeof(pd->vouch_reason));
		/* pvtime-tsc first, or the kernel would just move to it. */
		pvtime_fastpath_recheck(pd);
		clocksource_change_rating(&pd->cs, PVTIME_FALLBACK_RATING);
		dev_warn(&pd->pdev->dev, "records not vouched for (%s): clock handed to the next best clocksource\n",
			 why);
	} else {
		clocksource_change_rating(&pd->cs, PVTIME_CLOCK_RATING);
		pvtime_fastpath_recheck(pd);
		dev_info(&pd->pdev->dev, "records agree with the hypervisor again: clocksource pvtime back\n");
	}
}

static void pvtime_health_check(struct pvtime_dev *pd, int calibration_failures)
{
	struct pvtime_realtime_probe res;
	const char *why = NULL;
	int ret;

	ret = pvtime_realtime_probe(pd, PVTIME_HEALTH_PROBE_ROUNDS, &res);
	/* A busy mailbox or host says nothing either way. */
	if (!ret && res.rtt_ns > PVTIME_HEALTH_MAX_RTT_NS) {
		atomic64_inc(&pd->health_inconclusive);
		return;
	}
	if (ret && !calibration_failures)
		return;
	if (ret || calibration_failures)
		why = "the mailbox stopped answering";
	else if (abs(res.records_offset_ns - res.records_lead_ns) >
		 PVTIME_VOUCH_LIMIT_NS)
		why = "the records' time disagrees with the hypervisor's";
	if (!ret) {
		atomic64_set(&pd->health_records_offset_ns, res.records_offset_ns);
		atomic64_set(&pd->health_realtime_offset_ns, res.offset_ns);
	}
	atomic64_inc(&pd->health_checks);
	if (why) {
		pd->vouch_good = 0;
		if (++pd->vouch_bad >= PVTIME_VOUCH_BAD_CHECKS)
			pvtime_set_vouched(pd, false, why);
	} else {
		pd->vouch_bad = 0;
		if (++pd->vouch_good >= PVTIME_VOUCH_GOOD_CHECKS)
			pvtime_set_vouched(pd, true, NULL);
	}
	/* The records are the suspect: follow the hyp's wall time itself. */
	if (!ret && !pd->vouched)
		pvtime_wallclock_correct(pd, res.offset_ns, res.rtt_ns / 2,
					 "records not vouched for");
}

static void pvtime_calibrate_work(struct work_struct *work)
{
	struct pvtime_dev *pd = container_of(to_delayed_work(work),
					     struct pvtime_dev, calibrate_work);
	unsigned int period_ms = READ_ONCE(pd->calibration_ms);
	unsigned int busy = 0;
	int failures = 0;

	/* calibration=0: only the health check (tests of the fallback). */
	if (pvtime_calibrating(pd))
		failures = pvtime_tsc_calibrate(pd, PVTIME_CALIBRATION_ROUNDS,
						&busy);
	atomic64_inc(&pd->calibrations);
	atomic64_add(busy, &pd->calibration_busy);
	if (failures) {
		atomic64_add(failures, &pd->calibration_failures);
		pd->calibration_failed_rounds++;
	} else {
		pd->calibration_failed_rounds = 0;
	}
	/* The mailbox failing once is a busy host; for seconds, trouble. */
	pvtime_health_check(pd, pd->calibration_failed_rounds >=
				PVTIME_CALIBRATION_FAILED_ROUNDS);
	if (period_ms)
		queue_delayed_work(system_highpri_wq, &pd->calibrate_work,
				   msecs_to_jiffies(period_ms));
}

/*
 * Calibrate now (guest was stopped, the fast path was dropped).  In the
 * high-priority workers, as every calibration: what the hyp corrects a
 * pause by is this round's samples.
 */
void pvtime_calibrate_now(struct pvtime_dev *pd)
{
	if (READ_ONCE(pd->calibration_ms) && !READ_ONCE(pd->calibrate_stopping))
		mod_delayed_work(system_highpri_wq, &pd->calibrate_work, 0);
}

void pvtime_calibrate_start(struct pvtime_dev *pd)
{
	u32 period_ms = 0;

	if (READ_ONCE(pd->ctl->features) & PVTIME_F_CALIBRATION)
		period_ms = READ_ONCE(pd->ctl->calibration_ms);
	/* A hostile or broken period: at most ten a second, at least one a minute. */
	if (period_ms)
		period_ms = clamp_t(u32, period_ms, 100, 60000);
	WRITE_ONCE(pd->calibration_ms, period_ms);
	pd->vouched = true;
	INIT_DELAYED_WORK(&pd->calibrate_work, pvtime_calibrate_work);
	if (period_ms)
		queue_delayed_work(system_highpri_wq, &pd->calibrate_work,
				   msecs_to_jiffies(period_ms));
}

void pvtime_calibrate_stop(struct pvtime_dev *pd)
{
	WRITE_ONCE(pd->calibrate_stopping, true);
	cancel_delayed_work_sync(&pd->calibrate_work);
}

/* Calibration and vouching, for debugfs "state". */
void pvtime_calibrate_show_state(struct pvtime_dev *pd, struct seq_file *m)
{
	seq_printf(m, "calibration_ms %u\n", READ_ONCE(pd->calibration_ms));
	seq_printf(m, "calibrations %lld\n", atomic64_read(&pd->calibrations));
	seq_printf(m, "calibration_failures %lld\n",
		   atomic64_read(&pd->calibration_failures));
	seq_printf(m, "calibration_busy %lld\n",
		   atomic64_read(&pd->calibration_busy));
	seq_printf(m, "health_checks %lld\n", atomic64_read(&pd->health_checks));
	seq_printf(m, "health_inconclusive %lld\n",
		   atomic64_read(&pd->health_inconclusive));
	seq_printf(m, "health_records_offset_ns %lld\n",
		   atomic64_read(&pd->health_records_offset_ns));
	seq_printf(m, "health_realtime_offset_ns %lld\n",
		   atomic64_read(&pd->health_realtime_offset_ns));
	seq_printf(m, "vouched %d\n", pvtime_records_vouched(pd));
	seq_printf(m, "vouch_fallbacks %lld\n",
		   atomic64_read(&pd->vouch_fallbacks));
	seq_printf(m, "vouch_reason %s\n",
		   pd->vouch_reason[0] ? pd->vouch_reason : "-");
}
