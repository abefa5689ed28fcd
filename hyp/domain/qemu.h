/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Building QEMU's command line for a domain and running it. */
#ifndef PVTIMED_QEMU_H
#define PVTIMED_QEMU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "domain/domain_config.h"

struct qemu_paths {
	const char *ivshmem;	/* <state>/<name>.ivshmem */
	const char *console;	/* <state>/<name>.console */
	const char *log;	/* <state>/<name>.log */
	const char *qmp;	/* <state>/<name>.qmp */
	const char *qemu_log;	/* <state>/<name>.qemu.log: QEMU's stdout/stderr */
	/* pvxl restore: -S -incoming this URI; NULL for a fresh start. */
	const char *incoming;
};

/*
 * The emulated CMOS RTC: it reads the domain's wall time at create, host
 * UTC + offset_s at now (domain_config_create_offset_s()).
 */
struct qemu_rtc {
	int64_t offset_s;
	time_t now;
};

/*
 * NULL-terminated argv (free with qemu_argv_free), or NULL on OOM.  Paths
 * containing ',' are doubled as QEMU's option syntax requires.  rtc NULL
 * or offset 0: QEMU's default RTC (base=utc); otherwise -rtc base=DATE,
 * the UTC date and time the RTC starts from.
 */
char **qemu_build_argv(const struct domain_config *cfg,
		       const struct qemu_paths *paths,
		       const struct qemu_rtc *rtc);
void qemu_argv_free(char **argv);

/*
 * fork/exec QEMU with stdout/stderr appended to paths->qemu_log.  The child
 * gets SIGKILL if pvtimed dies.  Returns the pid, or -errno with the reason
 * in err.  An exec failure shows up as the child exiting with status 127.
 */
pid_t qemu_spawn(char **argv, const char *qemu_log, char *err, size_t errlen);

/* SIGTERM, then SIGKILL after timeout_ms; reaps the child. */
void qemu_kill(pid_t pid, unsigned int timeout_ms);

/*
 * The same for a QEMU that is not our child (adopted from a previous
 * pvtimed): signals through its pidfd, waits for the pidfd to say it
 * ended.  Returns 0 once it has, or -errno (-ETIMEDOUT: not even SIGKILL).
 */
int qemu_kill_adopted(int pidfd, unsigned int timeout_ms);

#endif /* PVTIMED_QEMU_H */
