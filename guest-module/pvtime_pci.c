// SPDX-License-Identifier: GPL-2.0
/*
 * PCI side of pvtime.ko: the ivshmem-doorbell device pvtimed serves.
 *
 * BAR0 holds the ivshmem registers (the doorbell), BAR2 the shared memory
 * (Xen shared_info page + pvtime control page), MSI-X carries the hyp's
 * doorbells.  Any ivshmem device matches the PCI ids, so a device whose
 * control page lacks the pvtime magic is declined without a word.
 *
 * Owns the device part of struct pvtime_dev (BARs, the mapped pages, the
 * irq numbers, "degraded") and the order every other part starts and
 * stops in.
 */
#include <linux/io.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "pvtime.h"

#define PVTIME_BAR_REGS		0
#define PVTIME_BAR_SHM		2

/*
 * The clocksource is global, so only one device drives it.  A degraded
 * device (see pvtime_pci_degrade()) stays pvtime_bound for good.
 */
static DEFINE_MUTEX(pvtime_bind_lock);
static struct pvtime_dev *pvtime_bound;
/* Set only when an ABI or vCPU-count check refused a pvtime device. */
static bool pvtime_refused;
/* A pvtime device passed those checks but could not be set up. */
static bool pvtime_setup_failed;

bool pvtime_pci_device_bound(void)
{
	bool bound;

	mutex_lock(&pvtime_bind_lock);
	bound = pvtime_bound;
	mutex_unlock(&pvtime_bind_lock);
	return bound;
}

bool pvtime_pci_device_refused(void)
{
	bool refused;

	mutex_lock(&pvtime_bind_lock);
	refused = pvtime_refused;
	mutex_unlock(&pvtime_bind_lock);
	return refused;
}

bool pvtime_pci_device_setup_failed(void)
{
	bool failed;

	mutex_lock(&pvtime_bind_lock);
	failed = pvtime_setup_failed;
	mutex_unlock(&pvtime_bind_lock);
	return failed;
}

/* Other ivshmem devices (a test's time meter, say) have smaller BAR2s. */
static bool pvtime_shm_bar_fits(struct pci_dev *pdev)
{
	resource_size_t len = pci_resource_len(pdev, PVTIME_BAR_SHM);

	if ((pci_resource_flags(pdev, PVTIME_BAR_SHM) & IORESOURCE_MEM) &&
	    len >= PVTIME_SHM_SIZE)
		return true;
	dev_dbg(&pdev->dev, "BAR2 is %pa bytes, not a pvtime device\n", &len);
	return false;
}

static int pvtime_map_shm(struct pvtime_dev *pd)
{
	struct pci_dev *pdev = pd->pdev;

	pd->shm = memremap(pci_resource_start(pdev, PVTIME_BAR_SHM),
			   PVTIME_SHM_SIZE, MEMREMAP_WB);
	if (!pd->shm) {
		dev_err(&pdev->dev, "cannot map the shared memory (BAR2)\n");
		return -ENOMEM;
	}
	pd->si = pd->shm + PVTIME_SHARED_INFO_OFFSET;
	pd->ctl = pd->shm + PVTIME_CONTROL_OFFSET;
	return 0;
}

/* Is this our hyp, speaking our ABI, with a record for every CPU? */
static int pvtime_check_control(struct pvtime_dev *pd)
{
	struct device *dev = &pd->pdev->dev;
	const struct pvtime_control *ctl = pd->ctl;
	u32 magic = READ_ONCE(ctl->magic);
	u32 abi = READ_ONCE(ctl->abi_version);
	u32 nr_vcpus = READ_ONCE(ctl->nr_vcpus);

	if (magic != PVTIME_MAGIC) {
		dev_dbg(dev, "no pvtime magic (found %#x), not a pvtime device\n",
			magic);
		return -ENODEV;
	}
	if (abi != PVTIME_ABI_VERSION) {
		dev_err(dev, "hypervisor speaks ABI version %u, this module speaks %u; refusing\n",
			abi, PVTIME_ABI_VERSION);
		return -ENODEV;
	}
	if (nr_cpu_ids > PVTIME_XEN_MAX_VCPUS) {
		dev_err(dev, "guest has %u possible CPUs, the shared_info page holds %u; refusing\n",
			nr_cpu_ids, PVTIME_XEN_MAX_VCPUS);
		return -ENODEV;
	}
	if (nr_vcpus < nr_cpu_ids || nr_vcpus > PVTIME_XEN_MAX_VCPUS) {
		dev_err(dev, "hypervisor publishes records for %u vCPUs, guest has %u possible CPUs; refusing\n",
			nr_vcpus, nr_cpu_ids);
		return -ENODEV;
	}
	return 0;
}

void pvtime_pci_sync_period_changed(void)
{
	mutex_lock(&pvtime_bind_lock);
	if (pvtime_bound && !pvtime_bound->degraded)
		pvtime_wallclock_sync_period_changed(pvtime_bound);
	mutex_unlock(&pvtime_bind_lock);
}

/*
 * A clocksource of ours (pvtime or pvtime-tsc) could not be unregistered:
 * the kernel may still call its .read, which is module text and reads the
 * records mapping.  Keep the device bound with its BARs, mapping and MSI-X
 * vectors: degraded, with only the clocksources running (no irqs, no wall
 * clock work, no fast-path checks), and the module pinned.
 *
 * The pin only helps when the module is not on its way out (a failed
 * probe, or the device unbound through sysfs): module exit runs after
 * the last reference is gone and the module is freed after it, pinned or
 * not.  Hence the clocksources' .owner: while one is current, the core
 * holds a module reference and rmmod is refused, so on rmmod they are
 * not current and unregistering them cannot fail for that reason.
 * Call with pvtime_bind_lock held.
 */
static void pvtime_pci_degrade(struct pvtime_dev *pd)
{
	if (pd->degraded)
		return;
	pd->degraded = true;
	/* Module exit would free the .read still registered: say so loudly. */
	WARN_ON(!module_is_live(THIS_MODULE));
	__module_get(THIS_MODULE);
	dev_err(&pd->pdev->dev, "clocksource still registered: device kept bound without wall clock or fast path, module pinned\n");
}

/* A hyp without the records doorbell needs one vector less. */
static int pvtime_setup_irqs(struct pvtime_dev *pd)
{
	struct pci_dev *pdev = pd->pdev;
	bool records = READ_ONCE(pd->ctl->features) & PVTIME_F_RECORDS_DOORBELL;
	unsigned int need = records ? PVTIME_NR_VECTORS : PVTIME_VEC_RECORDS;
	int ret;

	ret = pci_alloc_irq_vectors(pdev, need, need, PCI_IRQ_MSIX);
	if (ret < 0) {
		dev_err(&pdev->dev, "need %u MSI-X vectors (ivshmem-doorbell vectors=%u): %d\n",
			need, need, ret);
		return ret;
	}
	pd->wallclock_irq = pci_irq_vector(pdev, PVTIME_VEC_WALLCLOCK);
	pd->records_irq = records ? pci_irq_vector(pdev, PVTIME_VEC_RECORDS) : -1;
	return 0;
}

/* thread_fn: the rest of the handler's work, in a SCHED_FIFO thread. */
static int pvtime_request_irq(struct pvtime_dev *pd, int irq,
			      irq_handler_t handler, irq_handler_t thread_fn,
			      const char *name)
{
	int ret = request_threaded_irq(irq, handler, thread_fn,
				       thread_fn ? IRQF_ONESHOT : 0, name, pd);

	if (ret)
		dev_err(&pd->pdev->dev, "cannot request irq %d (%s): %d\n",
			irq, name, ret);
	return ret;
}

/*
 * Unwound by hand, not with pcim_ and devm_ helpers: a bind that has to
 * stay degraded (pvtime_pci_degrade()) keeps its BARs, records mapping,
 * vectors and pd after the driver lets go of the device, since a
 * clocksource may still read them; devres would release all of that on
 * unbind regardless.
 */
static int pvtime_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct pvtime_dev *pd;
	int ret;

	if (!pvtime_shm_bar_fits(pdev))
		return -ENODEV;
	mutex_lock(&pvtime_bind_lock);
	if (pvtime_bound) {
		bool degraded = pvtime_bound->degraded;

		mutex_unlock(&pvtime_bind_lock);
		dev_info(&pdev->dev, "%s; ignoring this one\n",
			 degraded ? "an earlier pvtime device's clocksource is still registered" :
			 "a pvtime device is already bound");
		return -EBUSY;
	}

	pd = kzalloc(sizeof(*pd), GFP_KERNEL);
	if (!pd) {
		ret = -ENOMEM;
		goto err_unlock;
	}
	pd->pdev = pdev;
	mutex_init(&pd->mailbox_lock);

	ret = pci_enable_device(pdev);
	if (ret) {
		dev_err(&pdev->dev, "cannot enable the device: %d\n", ret);
		goto err_free;
	}
	ret = pci_request_regions(pdev, KBUILD_MODNAME);
	if (ret) {
		dev_err(&pdev->dev, "cannot claim the BARs: %d\n", ret);
		goto err_disable;
	}
	pd->regs = pci_iomap(pdev, PVTIME_BAR_REGS, 0);
	if (!pd->regs) {
		dev_err(&pdev->dev, "cannot map the registers (BAR0)\n");
		ret = -ENOMEM;
		goto err_release;
	}
	ret = pvtime_map_shm(pd);
	if (ret)
		goto err_iounmap;
	ret = pvtime_check_control(pd);
	if (ret) {
		/* Wrong magic is someone else's ivshmem; the rest is ours. */
		if (READ_ONCE(pd->ctl->magic) == PVTIME_MAGIC)
			pvtime_refused = true;
		goto err_memunmap;
	}

	pci_set_master(pdev);
	ret = pvtime_setup_irqs(pd);
	if (ret)
		goto err_clear_master;
	ret = pvtime_fastpath_init(pd);
	if (ret)
		goto err_free_vectors;
	ret = pvtime_handshake(pd);
	if (ret)
		goto err_fastpath_free;
	pvtime_tsc_evidence(pd);
	ret = pvtime_clock_register(pd);
	if (ret)
		goto err_fastpath_free;
	pvtime_wallclock_start(pd);
	ret = pvtime_request_irq(pd, pd->wallclock_irq, pvtime_wallclock_irq,
				 pvtime_wallclock_irq_thread, "pvtime-wallclock");
	if (ret)
		goto err_wallclock;
	/* Before the fast path: it asks for calibration and for vouching. */
	pvtime_calibrate_start(pd);
	pvtime_fastpath_start(pd);
	if (pd->records_irq >= 0) {
		ret = pvtime_request_irq(pd, pd->records_irq,
					 pvtime_records_irq,
					 pvtime_records_irq_thread,
					 "pvtime-records");
		if (ret)
			goto err_fastpath;
	}
	pvtime_timesource_start(pd);
	pvtime_debugfs_init(pd);
	/* Last: its reads use everything above. */
	pvtime_ptp_register(pd);

	pci_set_drvdata(pdev, pd);
	pvtime_clock_status_init(pd);
	pvtime_bound = pd;
	mutex_unlock(&pvtime_bind_lock);
	dev_info(&pdev->dev, "clocksource pvtime registered: domid %u, %u vCPUs, TSC offset %lld, handshake rtt %llu cycles, %u vCPU(s) confirmed the offset, %u differ\n",
		 READ_ONCE(pd->ctl->domid), READ_ONCE(pd->ctl->nr_vcpus),
		 (s64)READ_ONCE(pd->ctl->guest_tsc_offset),
		 pd->handshake_rtt_cycles, pd->tsc_evidence_agreed,
		 pd->tsc_evidence_refused);
	return 0;

err_fastpath:
	free_irq(pd->wallclock_irq, pd);
	ret = pvtime_fastpath_stop(pd);
	pvtime_calibrate_stop(pd);
	if (ret) {
		pvtime_wallclock_stop(pd);
		goto err_leak;
	}
err_wallclock:
	pvtime_wallclock_stop(pd);
	/* Never unmap records a clocksource may still read. */
	if (pvtime_clock_unregister(pd))
		goto err_leak;
err_fastpath_free:
	pvtime_fastpath_free(pd);
err_free_vectors:
	pci_free_irq_vectors(pdev);
err_clear_master:
	pci_clear_master(pdev);
	/* Ours and accepted, but not set up: not a refusal (pvtime_init()). */
	pvtime_setup_failed = true;
err_memunmap:
	memunmap(pd->shm);
err_iounmap:
	pci_iounmap(pdev, pd->regs);
err_release:
	pci_release_regions(pdev);
err_disable:
	pci_disable_device(pdev);
err_free:
	kfree(pd);
err_unlock:
	mutex_unlock(&pvtime_bind_lock);
	return ret;

err_leak:
	/* Unloading now would free the clocksource's .read: stay, degraded. */
	dev_err(&pdev->dev, "setting up failed (%d) after the clocksource was registered\n",
		ret);
	pvtime_pci_degrade(pd);
	pci_set_drvdata(pdev, pd);
	pvtime_bound = pd;
	mutex_unlock(&pvtime_bind_lock);
	return 0;
}

static void pvtime_pci_remove(struct pci_dev *pdev)
{
	struct pvtime_dev *pd = pci_get_drvdata(pdev);
	int ret;

	mutex_lock(&pvtime_bind_lock);
	if (pd->degraded) {
		/* Nothing left to stop, and nothing may be freed. */
		mutex_unlock(&pvtime_bind_lock);
		return;
	}
	/* First: it waits for the PTP reads in flight. */
	pvtime_ptp_unregister(pd);
	pvtime_clock_status_exit(pd);
	pvtime_debugfs_exit(pd);
	pvtime_timesource_stop(pd);
	if (pd->records_irq >= 0)
		free_irq(pd->records_irq, pd);
	free_irq(pd->wallclock_irq, pd);
	pvtime_wallclock_stop(pd);
	/* pvtime-tsc first: unregistering it may switch the kernel to pvtime. */
	ret = pvtime_fastpath_stop(pd);
	pvtime_calibrate_stop(pd);
	if (ret || pvtime_clock_unregister(pd)) {
		/*
		 * The kernel still reads the records: keep them mapped and
		 * the module loaded; pvtime_bound stays, so no other device
		 * registers a second pvtime clocksource.
		 */
		pvtime_pci_degrade(pd);
		mutex_unlock(&pvtime_bind_lock);
		return;
	}
	pvtime_fastpath_free(pd);
	pci_free_irq_vectors(pdev);
	pci_clear_master(pdev);
	memunmap(pd->shm);
	pci_iounmap(pdev, pd->regs);
	pci_release_regions(pdev);
	pci_disable_device(pdev);
	kfree(pd);
	pvtime_bound = NULL;
	mutex_unlock(&pvtime_bind_lock);
}

static const struct pci_device_id pvtime_pci_ids[] = {
	{ PCI_DEVICE(PVTIME_PCI_VENDOR_ID, PVTIME_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, pvtime_pci_ids);

struct pci_driver pvtime_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = pvtime_pci_ids,
	.probe = pvtime_pci_probe,
	.remove = pvtime_pci_remove,
};
