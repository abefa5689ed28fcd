/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Real-time scheduling for the threads a host clock step must pass
 * through on its way to a guest (Documentation/pvtimed.rst, --sched-fifo):
 * pvtimed's event loop, which sees the step and rings the doorbell, and
 * each QEMU's main-loop thread, which turns the doorbell's eventfd into
 * the guest's MSI-X interrupt.  Under SCHED_OTHER a woken thread may wait
 * for a busy CPU's next tick (4 ms at HZ=250) behind the vCPU threads.
 *
 * SCHED_RESET_ON_FORK on both: what they create (QEMU's vCPU and worker
 * threads, QEMU itself forked from pvtimed, pvtimed's mailbox threads)
 * starts as SCHED_OTHER, so no guest code ever runs real-time.
 */
#ifndef PVTIMED_SCHED_FIFO_H
#define PVTIMED_SCHED_FIFO_H

#include <sys/types.h>

#define SCHED_FIFO_PRIO_MIN	2	/* QEMU's main loops run one lower */
#define SCHED_FIFO_PRIO_MAX	99

/*
 * 0 (the default): everything stays SCHED_OTHER.  Otherwise pvtimed's
 * own thread at prio, QEMU main loops at prio - 1.  Returns 0 or -errno.
 */
int sched_fifo_enable(int prio);

/* The priority set by sched_fifo_enable(), or 0. */
int sched_fifo_prio(void);

/* A QEMU's main-loop thread (its pid): prio - 1, or nothing when off. */
int sched_fifo_qemu(pid_t qemu_pid);

/* The policy and priority of a thread, for pvxl info: "fifo:9", "other". */
const char *sched_fifo_describe(pid_t tid, char *buf, size_t len);

#endif /* PVTIMED_SCHED_FIFO_H */
