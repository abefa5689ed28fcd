/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvtime.ko internals: one pvtime device per guest, shared between the
 * PCI driver, the mailbox, the clocksource, the wall clock and debugfs.
 */
#ifndef PVTIME_H
#define PVTIME_H

#include <linux/atomic.h>
#include <linux/clocksource.h>
#include <linux/interrupt.h>
#include <linux/irq_work.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/workqueue.h>

#include "pvtime_abi.h"
#include "pvclock_math.h"

struct dentry;

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

	/* Clocksource. */
	struct clocksource cs;
	atomic64_t last_ns;		/* monotonic guard across vCPUs */
	atomic64_t odd_record_fallbacks;
	struct irq_work odd_record_warning;
	atomic64_t guest_stopped_seen;

	/* Wall clock. */
	struct work_struct wallclock_work;	/* hyp rang PVTIME_VEC_WALLCLOCK */
	struct delayed_work wallclock_sync;	/* periodic drift check */
	atomic64_t wallclock_irqs;
	atomic64_t wallclock_steps;
	atomic64_t wallclock_last_step_ns;	/* signed correction applied */
	atomic64_t wallclock_residual_ns;	/* REALTIME - wall just after it */

	int wallclock_irq;		/* Linux irq of PVTIME_VEC_WALLCLOCK */
	struct dentry *debugfs_dir;
};

/* pvtime_main.c: module parameters, validated at load. */
extern unsigned int pvtime_wallclock_sync_ms;
extern unsigned long pvtime_wallclock_step_ns;

/* pvtime_pci.c */
extern struct pci_driver pvtime_pci_driver;
bool pvtime_pci_device_bound(void);
bool pvtime_pci_device_refused(void);

/* pvtime_mailbox.c */
struct pvtime_realtime_probe {
	s64 offset_ns;		/* guest CLOCK_REALTIME - hyp wall time */
	s64 records_offset_ns;	/* wc + system time - hyp wall time */
	u64 rtt_ns;		/* round trip of the best round */
	unsigned int rounds;
};

int pvtime_handshake(struct pvtime_dev *pd);
int pvtime_realtime_probe(struct pvtime_dev *pd, unsigned int rounds,
			  struct pvtime_realtime_probe *res);

/* pvtime_clock.c */
int pvtime_clock_register(struct pvtime_dev *pd);
int pvtime_clock_unregister(struct pvtime_dev *pd);
u64 pvtime_clock_now(struct pvtime_dev *pd);

/* pvtime_wallclock.c */
void pvtime_wallclock_start(struct pvtime_dev *pd);
void pvtime_wallclock_stop(struct pvtime_dev *pd);
irqreturn_t pvtime_wallclock_irq(int irq, void *data);
int pvtime_wallclock_sample(struct pvtime_dev *pd, s64 *wc_ns, u64 *system_ns);

/* pvtime_debugfs.c */
void pvtime_debugfs_init(struct pvtime_dev *pd);
void pvtime_debugfs_exit(struct pvtime_dev *pd);

#endif /* PVTIME_H */
