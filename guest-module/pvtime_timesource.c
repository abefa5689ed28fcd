// SPDX-License-Identifier: GPL-2.0
/*
 * The time-source domain (the hyp offers PVTIME_F_TIME_SOURCE): this
 * guest's own changes of CLOCK_REALTIME go to the hyp, which sets every
 * domain's wall clock from them, as Xen's dom0 does with XENPF_settime64.
 *
 * A step (settimeofday, clock_settime, adjtimex ADJ_SETOFFSET, date -s)
 * reaches the pvclock_gtod notifier with was_set; the notifier cannot
 * sleep or even queue work under the timekeeper's lock, so it raises an
 * irq_work that runs the check at once.  A slew (adjtimex offset or
 * frequency, chrony) leaves no trace but the drift between CLOCK_REALTIME
 * and the hyp's wall clock (wc + system time), so the same check also
 * runs every PVTIME_TS_CHECK_MS.  The check forwards CLOCK_REALTIME with
 * PVTIME_REQ_SET_WALLCLOCK when that drift exceeds PVTIME_TS_FORWARD_NS.
 *
 * There is no loop: this guest does not follow the hyp's wall clock
 * (pvtime_wallclock.c asks pvtime_timesource_active()), except for the
 * initial step at load; and the hyp's echo (wc republished from what was
 * forwarded, a doorbell) leaves the drift near zero, so nothing is
 * forwarded back.  The same holds for the module's own initial step.
 *
 * debugfs: time_source (state and counters) and set_wallclock (write
 * "now", "WALL_NS" or "WALL_NS GUEST_TSC": a SET_WALLCLOCK as given, for
 * the tests; the hyp's refusal comes back as the write's error).
 */
#include <linux/debugfs.h>
#include <linux/kstrtox.h>
#include <linux/math64.h>
#include <linux/pvclock_gtod.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "pvtime.h"

/* How often a slew is looked for. */
#define PVTIME_TS_CHECK_MS	1000
/*
 * Forward when CLOCK_REALTIME is further than this from the hyp's wall
 * clock: well above the few microseconds a forward's conversion leaves
 * behind, so the echo of a forward is never forwarded.
 */
#define PVTIME_TS_FORWARD_NS	100000

static struct pvtime_dev *pvtime_ts_dev;	/* the one the notifier serves */

bool pvtime_timesource_active(struct pvtime_dev *pd)
{
	return READ_ONCE(pd->ts.active);
}

/* CLOCK_REALTIME and the TSC at the same instant (midpoint of two reads). */
static void pvtime_ts_read_pair(s64 *wall_ns, u64 *tsc)
{
	unsigned long flags;
	u64 before, after;

	local_irq_save(flags);
	before = rdtsc_ordered();
	*wall_ns = ktime_get_real_ns();
	after = rdtsc_ordered();
	local_irq_restore(flags);
	*tsc = before + (after - before) / 2;
}

static u64 pvtime_ts_cycles_to_ns(struct pvtime_dev *pd, u64 cycles)
{
	u64 hz = READ_ONCE(pd->ctl->tsc_hz);

	return hz ? mul_u64_u64_div_u64(cycles, NSEC_PER_SEC, hz) : 0;
}

/* One SET_WALLCLOCK, counted; the hyp's status. */
static int pvtime_ts_send(struct pvtime_dev *pd, s64 wall_ns, u64 tsc)
{
	int ret = pvtime_set_wallclock_request(pd, wall_ns, tsc);

	WRITE_ONCE(pd->ts.last_status, ret);
	if (ret)
		atomic64_inc(&pd->ts.failures);
	else
		atomic64_inc(&pd->ts.forwards);
	return ret;
}

static void pvtime_ts_check(struct pvtime_dev *pd)
{
	bool after_set = xchg(&pd->ts.set_pending, false);
	s64 drift_ns, wall_ns;
	u64 tsc;
	int ret;

	/* How far this guest leads the hyp (none if too busy to tell). */
	if (pvtime_wallclock_offset(pd, &drift_ns, NULL))
		return;
	atomic64_set(&pd->ts.last_drift_ns, drift_ns);
	if (abs(drift_ns) <= PVTIME_TS_FORWARD_NS)
		return;
	pvtime_ts_read_pair(&wall_ns, &tsc);
	ret = pvtime_ts_send(pd, wall_ns, tsc);
	if (!ret && after_set) {
		atomic64_inc(&pd->ts.step_forwards);
		atomic64_set(&pd->ts.step_forward_ns,
			     pvtime_ts_cycles_to_ns(pd, rdtsc_ordered() -
						    READ_ONCE(pd->ts.set_tsc)));
	}
	if (ret)
		dev_warn_ratelimited(&pd->pdev->dev, "time source: the hypervisor refused this guest's time (%lld ns from its wall clock): %d\n",
				     drift_ns, ret);
	else
		dev_info_ratelimited(&pd->pdev->dev, "time source: hypervisor wall clock moved by %lld ns to this guest's\n",
				     drift_ns);
}

static void pvtime_ts_work(struct work_struct *work)
{
	struct pvtime_dev *pd = container_of(to_delayed_work(work),
					     struct pvtime_dev, ts.check);

	if (READ_ONCE(pd->ts.stopping))
		return;
	pvtime_ts_check(pd);
	/* Pending already if a step came meanwhile: it runs then. */
	schedule_delayed_work(&pd->ts.check, msecs_to_jiffies(PVTIME_TS_CHECK_MS));
}

/* Hard irq context, outside the timekeeper's lock: the check, now. */
static void pvtime_ts_clock_set_irq_work(struct irq_work *work)
{
	struct pvtime_dev *pd = container_of(work, struct pvtime_dev,
					     ts.clock_set_work);

	if (READ_ONCE(pd->ts.stopping))
		return;
	WRITE_ONCE(pd->ts.set_pending, true);
	mod_delayed_work(system_wq, &pd->ts.check, 0);
}

/*
 * Every timekeeping update, under the timekeeper's raw lock: was_set says
 * CLOCK_REALTIME was set.  Nothing else may be done here.
 */
static int pvtime_ts_notify(struct notifier_block *nb, unsigned long was_set,
			    void *priv)
{
	struct pvtime_dev *pd = container_of(nb, struct pvtime_dev, ts.clock_set_nb);

	if (was_set) {
		atomic64_inc(&pd->ts.clock_sets);
		/* The TSC is all that may be read under this lock. */
		WRITE_ONCE(pd->ts.set_tsc, rdtsc());
		irq_work_queue(&pd->ts.clock_set_work);
	}
	return NOTIFY_OK;
}

/* Only if the hyp offers it; a failure leaves this guest following. */
void pvtime_timesource_start(struct pvtime_dev *pd)
{
	int ret;

	if (!(READ_ONCE(pd->ctl->features) & PVTIME_F_TIME_SOURCE))
		return;
	if (pvtime_ts_dev) {
		dev_warn(&pd->pdev->dev, "time source: another pvtime device already is; this one follows\n");
		return;
	}
	INIT_DELAYED_WORK(&pd->ts.check, pvtime_ts_work);
	init_irq_work(&pd->ts.clock_set_work, pvtime_ts_clock_set_irq_work);
	pd->ts.clock_set_nb.notifier_call = pvtime_ts_notify;
	WRITE_ONCE(pd->ts.stopping, false);
	/* Before the notifier, which runs once right away. */
	WRITE_ONCE(pd->ts.active, true);
	ret = pvclock_gtod_register_notifier(&pd->ts.clock_set_nb);
	if (ret) {
		WRITE_ONCE(pd->ts.active, false);
		dev_err(&pd->pdev->dev, "time source: cannot watch clock changes (%d); following the hypervisor's wall clock instead\n",
			ret);
		return;
	}
	pvtime_ts_dev = pd;
	schedule_delayed_work(&pd->ts.check, msecs_to_jiffies(PVTIME_TS_CHECK_MS));
	dev_info(&pd->pdev->dev, "time source: this guest's clock changes set every domain's wall clock (forwarded beyond %u ns)\n",
		 PVTIME_TS_FORWARD_NS);
}

void pvtime_timesource_stop(struct pvtime_dev *pd)
{
	if (pvtime_ts_dev != pd)
		return;
	WRITE_ONCE(pd->ts.stopping, true);
	pvclock_gtod_unregister_notifier(&pd->ts.clock_set_nb);
	irq_work_sync(&pd->ts.clock_set_work);
	cancel_delayed_work_sync(&pd->ts.check);
	WRITE_ONCE(pd->ts.active, false);
	pvtime_ts_dev = NULL;
}

static int pvtime_ts_state_show(struct seq_file *m, void *unused)
{
	struct pvtime_dev *pd = m->private;

	seq_printf(m, "offered %d\n",
		   !!(READ_ONCE(pd->ctl->features) & PVTIME_F_TIME_SOURCE));
	seq_printf(m, "active %d\n", pvtime_timesource_active(pd));
	seq_printf(m, "forward_threshold_ns %u\n", PVTIME_TS_FORWARD_NS);
	seq_printf(m, "check_ms %u\n", PVTIME_TS_CHECK_MS);
	seq_printf(m, "clock_sets %lld\n", atomic64_read(&pd->ts.clock_sets));
	seq_printf(m, "forwards %lld\n", atomic64_read(&pd->ts.forwards));
	seq_printf(m, "step_forwards %lld\n",
		   atomic64_read(&pd->ts.step_forwards));
	seq_printf(m, "step_forward_ns %lld\n",
		   atomic64_read(&pd->ts.step_forward_ns));
	seq_printf(m, "failures %lld\n", atomic64_read(&pd->ts.failures));
	seq_printf(m, "last_status %d\n", READ_ONCE(pd->ts.last_status));
	seq_printf(m, "last_drift_ns %lld\n", atomic64_read(&pd->ts.last_drift_ns));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvtime_ts_state);

/* "now", "WALL_NS" (at the current TSC) or "WALL_NS GUEST_TSC". */
static int pvtime_ts_parse(char *text, s64 *wall_ns, u64 *tsc)
{
	char *wall = strsep(&text, " ");
	s64 now_wall;
	u64 now_tsc;
	int ret;

	pvtime_ts_read_pair(&now_wall, &now_tsc);
	*wall_ns = now_wall;
	*tsc = now_tsc;
	if (!wall || !*wall)
		return -EINVAL;
	if (strcmp(wall, "now")) {
		ret = kstrtos64(wall, 0, wall_ns);
		if (ret)
			return ret;
	}
	if (text && *text)
		return kstrtou64(text, 0, tsc);
	return 0;
}

static ssize_t pvtime_ts_set_write(struct file *file, const char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	struct pvtime_dev *pd = file_inode(file)->i_private;
	char buf[64];
	s64 wall_ns;
	u64 tsc;
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	ret = pvtime_ts_parse(strim(buf), &wall_ns, &tsc);
	if (ret)
		return ret;
	ret = pvtime_ts_send(pd, wall_ns, tsc);
	return ret ? ret : len;
}

static const struct file_operations pvtime_ts_set_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = pvtime_ts_set_write,
	.llseek = noop_llseek,
};

void pvtime_timesource_debugfs(struct pvtime_dev *pd, struct dentry *dir)
{
	debugfs_create_file("time_source", 0444, dir, pd, &pvtime_ts_state_fops);
	debugfs_create_file("set_wallclock", 0200, dir, pd, &pvtime_ts_set_fops);
}
