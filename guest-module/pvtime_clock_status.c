// SPDX-License-Identifier: GPL-2.0
/*
 * The host clock's status as the hyp publishes it (PVTIME_F_CLOCK_STATUS):
 * leap second, TAI offset, error bounds and sync state, read from the
 * control page on demand and shown read-only under the PCI device:
 *
 *   /sys/bus/pci/devices/<dev>/clock_status/{sync,leap,leap_time,
 *       tai_offset_s,maxerror_us,esterror_us,age_ms}
 *
 * A hyp without the feature, a block not written yet, or one that stays
 * odd (torn) through the retries reads as "unavailable": sync and leap
 * say so, the numeric attributes fail with -ENODATA.  Never zeros.
 * pvtime_clock_status_get() is the same read for other users (the PTP
 * clock).  Documentation/guest-module.rst, "Clock status".
 */
#include <linux/delay.h>
#include <linux/sysfs.h>
#include <linux/seq_file.h>

#include "pvtime.h"
#include "pvtime_clock_status.h"

/*
 * A block odd for longer than a few spins means the hyp was preempted
 * mid-write, or died there: sleep between rounds rather than spin, and
 * give up after about 10 ms.
 */
#define PVTIME_CLOCK_STATUS_ROUNDS	10

static const char * const pvtime_leap_names[] = {
	[PVTIME_LEAP_NONE] = "none",
	[PVTIME_LEAP_INSERT] = "insert",
	[PVTIME_LEAP_DELETE] = "delete",
	[PVTIME_LEAP_INSERTING] = "inserting",
};

int pvtime_clock_status_get(struct pvtime_dev *pd,
			    struct pvtime_clock_status_view *view)
{
	const struct pvtime_clock_status *blk = &pd->ctl->clock_status;
	struct pvtime_clock_status st;
	unsigned int round;
	u64 now;
	int ret = -EAGAIN;

	if (!(READ_ONCE(pd->ctl->features) & PVTIME_F_CLOCK_STATUS))
		return -ENODEV;
	for (round = 0; round < PVTIME_CLOCK_STATUS_ROUNDS; round++) {
		ret = pvtime_clock_status_read(blk, &st,
					       PVTIME_CLOCK_STATUS_TRIES);
		if (ret != -EAGAIN)
			break;
		atomic64_inc(&pd->clock_status_torn);
		usleep_range(1000, 2000);
	}
	if (ret)
		return ret;
	if (st.leap >= ARRAY_SIZE(pvtime_leap_names))
		return -ENODATA;	/* a value this module does not know */

	now = pvtime_clock_now(pd);
	view->age_ns = now > st.sampled_system_ns ?
		       now - st.sampled_system_ns : 0;
	view->synchronised = st.sync == PVTIME_SYNC_SYNCHRONISED;
	view->leap = st.leap;
	view->leap_time_s = st.leap_time_s;
	view->tai_offset_s = st.tai_offset_s;
	view->maxerror_us = pvtime_maxerror_now_us(&st, view->age_ns);
	view->esterror_us = st.esterror_us;
	view->changes = st.changes;
	return 0;
}

const char *pvtime_clock_status_leap_name(unsigned int leap)
{
	return leap < ARRAY_SIZE(pvtime_leap_names) ?
	       pvtime_leap_names[leap] : "unknown";
}

static struct pvtime_dev *pvtime_attr_dev(struct device *dev)
{
	return pci_get_drvdata(to_pci_dev(dev));
}

/* The status for a show(), or an error the attribute reports. */
static int pvtime_attr_status(struct device *dev,
			      struct pvtime_clock_status_view *view)
{
	struct pvtime_dev *pd = pvtime_attr_dev(dev);

	if (!pd || pd->degraded)
		return -ENODEV;
	return pvtime_clock_status_get(pd, view);
}

static ssize_t sync_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct pvtime_clock_status_view view;

	if (pvtime_attr_status(dev, &view))
		return sysfs_emit(buf, "unavailable\n");
	return sysfs_emit(buf, "%s\n", view.synchronised ? "synchronised" :
			  "unsynchronised");
}
static DEVICE_ATTR_RO(sync);

static ssize_t leap_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct pvtime_clock_status_view view;

	if (pvtime_attr_status(dev, &view))
		return sysfs_emit(buf, "unavailable\n");
	return sysfs_emit(buf, "%s\n", pvtime_clock_status_leap_name(view.leap));
}
static DEVICE_ATTR_RO(leap);

/* The numeric attributes: -ENODATA when there is no status to show. */
#define PVTIME_STATUS_ATTR(name, fmt, expr)				\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct pvtime_clock_status_view view;				\
									\
	if (pvtime_attr_status(dev, &view))				\
		return -ENODATA;					\
	return sysfs_emit(buf, fmt "\n", expr);				\
}									\
static DEVICE_ATTR_RO(name)

PVTIME_STATUS_ATTR(leap_time, "%llu", view.leap_time_s);
PVTIME_STATUS_ATTR(tai_offset_s, "%d", view.tai_offset_s);
PVTIME_STATUS_ATTR(maxerror_us, "%llu", view.maxerror_us);
PVTIME_STATUS_ATTR(esterror_us, "%llu", view.esterror_us);
PVTIME_STATUS_ATTR(age_ms, "%llu", view.age_ns / NSEC_PER_MSEC);

static struct attribute *pvtime_clock_status_attrs[] = {
	&dev_attr_sync.attr,
	&dev_attr_leap.attr,
	&dev_attr_leap_time.attr,
	&dev_attr_tai_offset_s.attr,
	&dev_attr_maxerror_us.attr,
	&dev_attr_esterror_us.attr,
	&dev_attr_age_ms.attr,
	NULL,
};

static const struct attribute_group pvtime_clock_status_group = {
	.name = "clock_status",
	.attrs = pvtime_clock_status_attrs,
};

/* Not fatal: the clock works without the attributes. */
void pvtime_clock_status_init(struct pvtime_dev *pd)
{
	int ret = sysfs_create_group(&pd->pdev->dev.kobj,
				     &pvtime_clock_status_group);

	pd->clock_status_sysfs = !ret;
	if (ret)
		dev_warn(&pd->pdev->dev, "no clock_status in sysfs: %d\n", ret);
}

void pvtime_clock_status_exit(struct pvtime_dev *pd)
{
	if (pd->clock_status_sysfs)
		sysfs_remove_group(&pd->pdev->dev.kobj,
				   &pvtime_clock_status_group);
	pd->clock_status_sysfs = false;
}

/* Torn clock-status reads, for debugfs "state". */
void pvtime_clock_status_show_state(struct pvtime_dev *pd, struct seq_file *m)
{
	seq_printf(m, "clock_status_torn %lld\n",
		   atomic64_read(&pd->clock_status_torn));
}
