/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A running domain's state on disk (STATE_DIR/NAME.state), so that a new
 * pvtimed, after a crash or a restart, can adopt the domain: which QEMU
 * runs it, how to recognise its eventfds and shared memory in that QEMU,
 * and the clock state the shared memory cannot say (records_state).
 * One "key value" line per field after a header naming the format
 * version; written to a temporary file and renamed over, mode 0600.
 */
#ifndef PVTIMED_DOMAIN_STATE_H
#define PVTIMED_DOMAIN_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "pvtime_abi.h"
#include "clock/records.h"

#define DOMAIN_STATE_VERSION	1
#define DOMAIN_STATE_SUFFIX	".state"
/* The config as created, kept beside the state: the original may change. */
#define DOMAIN_CONFIG_SUFFIX	".cfg"

struct domain_saved {
	uint32_t domid;
	int32_t qemu_pid;
	uint64_t qemu_start_ticks;
	uint64_t memfd_ino;
	uint64_t host_eventfd_id[PVTIME_NR_VECTORS];
	uint64_t guest_eventfd_id[PVTIME_NR_VECTORS];
	uint64_t pause_stop_tsc;
	uint64_t pauses;
	uint64_t paused_total_ns;
	struct records_state clock;
	char config_path[4096];		/* the file it was created from */
};

/* Write path atomically.  0 or -errno. */
int domain_state_write(const char *path, const struct domain_saved *st);

/*
 * Read path.  0, or -1 with one line in err (file:line: what is wrong);
 * *st is complete only on success.
 */
int domain_state_read(const char *path, struct domain_saved *st, char *err,
		      size_t errlen);

/* The same, from text (the unit tests and the fuzzer use this). */
int domain_state_parse(const char *text, const char *origin,
		       struct domain_saved *st, char *err, size_t errlen);

/* The text domain_state_write puts in the file; free() it.  NULL: ENOMEM. */
char *domain_state_format(const struct domain_saved *st);

#endif /* PVTIMED_DOMAIN_STATE_H */
