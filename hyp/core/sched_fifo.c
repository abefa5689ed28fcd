// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <sched.h>
#include <stdio.h>

#include "core/sched_fifo.h"

static int fifo_prio;

static int set_fifo(pid_t tid, int prio)
{
	struct sched_param param = { .sched_priority = prio };

	if (sched_setscheduler(tid, SCHED_FIFO | SCHED_RESET_ON_FORK, &param) < 0)
		return -errno;
	return 0;
}

int sched_fifo_enable(int prio)
{
	int ret;

	if (!prio)
		return 0;
	if (prio < SCHED_FIFO_PRIO_MIN || prio > SCHED_FIFO_PRIO_MAX)
		return -EINVAL;
	ret = set_fifo(0, prio);
	if (!ret)
		fifo_prio = prio;
	return ret;
}

int sched_fifo_prio(void)
{
	return fifo_prio;
}

int sched_fifo_qemu(pid_t qemu_pid)
{
	return fifo_prio ? set_fifo(qemu_pid, fifo_prio - 1) : 0;
}

const char *sched_fifo_describe(pid_t tid, char *buf, size_t len)
{
	struct sched_param param;
	int policy = sched_getscheduler(tid);

	if (policy < 0 || sched_getparam(tid, &param) < 0)
		snprintf(buf, len, "unknown");
	else if ((policy & ~SCHED_RESET_ON_FORK) == SCHED_FIFO)
		snprintf(buf, len, "fifo:%d", param.sched_priority);
	else
		snprintf(buf, len, "other");
	return buf;
}
