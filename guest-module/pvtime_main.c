// SPDX-License-Identifier: GPL-2.0
/*
 * pvtime.ko: Xen-style paravirtual clock for guests of pvtimed.
 *
 * Module load validates the parameters and registers the PCI driver; a
 * load that binds no device fails, so insmod in a guest without the
 * pvtime device reports it instead of idling.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/time64.h>

#include "pvtime.h"

#define PVTIME_SYNC_MS_MAX	3600000u	/* one hour */
#define PVTIME_STEP_NS_MIN	1000ul
#define PVTIME_STEP_NS_MAX	1000000000ul	/* one second */

unsigned int pvtime_wallclock_sync_ms = 1000;

/* Validated on every write, at load time and at run time alike. */
static int pvtime_sync_ms_set(const char *val, const struct kernel_param *kp)
{
	unsigned int ms;
	int ret;

	ret = kstrtouint(val, 0, &ms);
	if (ret) {
		pr_err("wallclock_sync_ms: '%s' is not a number of ms\n", val);
		return ret;
	}
	if (ms > PVTIME_SYNC_MS_MAX) {
		pr_err("wallclock_sync_ms=%u is out of range 0..%u\n", ms,
		       PVTIME_SYNC_MS_MAX);
		return -EINVAL;
	}
	WRITE_ONCE(pvtime_wallclock_sync_ms, ms);
	pvtime_pci_sync_period_changed();
	return 0;
}

static const struct kernel_param_ops pvtime_sync_ms_ops = {
	.set = pvtime_sync_ms_set,
	.get = param_get_uint,
};

module_param_cb(wallclock_sync_ms, &pvtime_sync_ms_ops,
		&pvtime_wallclock_sync_ms, 0644);
MODULE_PARM_DESC(wallclock_sync_ms,
		 "Period of the wall clock drift check in ms; 0 = leave the guest's wall clock alone (default 1000, max 3600000, writable)");

unsigned long pvtime_wallclock_step_ns = 20000;
module_param_named(wallclock_step_ns, pvtime_wallclock_step_ns, ulong, 0444);
MODULE_PARM_DESC(wallclock_step_ns,
		 "Step CLOCK_REALTIME when a reading proves it off by more than this many ns beyond the reading's own uncertainty (default 20000, 1000..1000000000)");

bool pvtime_calibration = true;
module_param_named(calibration, pvtime_calibration, bool, 0644);
MODULE_PARM_DESC(calibration,
		 "Send the hypervisor a TSC sample from every vCPU each calibration period when it asks for them (default 1, writable); 0 leaves only the health check, which hands the clock to hpet once the records go wrong");

bool pvtime_ptp_enabled = true;
module_param_named(ptp, pvtime_ptp_enabled, bool, 0444);
MODULE_PARM_DESC(ptp,
		 "Register a PTP clock (/dev/ptpN) that reads the hypervisor's wall time, for chrony's 'refclock PHC' (default 1; without CONFIG_PTP_1588_CLOCK there is none either way)");

static int __init pvtime_check_params(void)
{
	if (pvtime_wallclock_step_ns < PVTIME_STEP_NS_MIN ||
	    pvtime_wallclock_step_ns > PVTIME_STEP_NS_MAX) {
		pr_err("wallclock_step_ns=%lu is out of range %lu..%lu\n",
		       pvtime_wallclock_step_ns, PVTIME_STEP_NS_MIN,
		       PVTIME_STEP_NS_MAX);
		return -EINVAL;
	}
	return 0;
}

static int __init pvtime_init(void)
{
	int ret;

	ret = pvtime_check_params();
	if (ret)
		return ret;

	ret = pci_register_driver(&pvtime_pci_driver);
	if (ret) {
		pr_err("cannot register the PCI driver: %d\n", ret);
		return ret;
	}

	if (!pvtime_pci_device_bound()) {
		pci_unregister_driver(&pvtime_pci_driver);
		/*
		 * A refused device (ABI, vCPU count) already said why, in
		 * one line; a device that failed to set up said what failed.
		 */
		if (pvtime_pci_device_setup_failed())
			pr_err("a pvtime device was found but could not be set up\n");
		else if (!pvtime_pci_device_refused())
			pr_err("no pvtime device found\n");
		return -ENODEV;
	}
	return 0;
}

static void __exit pvtime_exit(void)
{
	pci_unregister_driver(&pvtime_pci_driver);
}

module_init(pvtime_init);
module_exit(pvtime_exit);

MODULE_DESCRIPTION("Xen-style paravirtual clocksource and wall clock over ivshmem");
MODULE_LICENSE("GPL");
