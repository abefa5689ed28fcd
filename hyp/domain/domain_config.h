/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Domain configuration files (xl.cfg-like).  Documentation/domain-config.rst
 * is the reference; CONTRACT.md lists the keys.
 */
#ifndef PVTIMED_DOMAIN_CONFIG_H
#define PVTIMED_DOMAIN_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "clock/clock_policy.h"

#define DOMAIN_NAME_MAX		32
/* The clock keeps evidence for this many vCPUs at most. */
#define DOMAIN_VCPUS_MAX	CLOCK_VCPUS_MAX
#define DOMAIN_MEMORY_MIN_MIB	64
#define DOMAIN_MEMORY_MAX_MIB	65536
#define DOMAIN_DM_ARGS_MAX	64
#define DOMAIN_CONFIG_MAX_BYTES	(64 * 1024)
#define DOMAIN_DEFAULT_QEMU	"/usr/bin/qemu-system-x86_64"

enum domain_accel {
	DOMAIN_ACCEL_TCG,
	DOMAIN_ACCEL_KVM,
};


/*
 * How QEMU runs a TCG domain's vCPUs.  Multi-threaded TCG lets the guest
 * TSC ratchet ahead of the host's on some hosts (QEMU's cpu_get_ticks()
 * keeps one cpu_ticks_prev for all vCPU threads); one thread does not.
 */
enum tcg_thread_mode {
	TCG_THREAD_SINGLE,	/* default: -accel tcg,thread=single */
	TCG_THREAD_MULTI,	/* -accel tcg,thread=multi (MTTCG) */
};


/* |rtc_timeoffset| in seconds: 50 years of 365 days. */
#define DOMAIN_RTC_TIMEOFFSET_MAX	1576800000ll


struct domain_config {
	char name[DOMAIN_NAME_MAX + 1];
	unsigned int vcpus;		/* default 1 */
	unsigned int memory_mib;	/* default 512 */
	char *kernel;			/* absolute after parsing */
	char *ramdisk;			/* NULL if absent; absolute */
	char *extra;			/* "" if absent */
	enum domain_accel accel;
	char *qemu;
	char **dm_args;			/* device_model_args */
	size_t nr_dm_args;
	uint32_t abi_version;
	enum tsc_stable_policy tsc_stable;
	enum tcg_thread_mode tcg_thread;	/* tcg_thread = "single"|"multi" */
	/* stopped_time = "step" | "slew:PPM" | "keep" */
	enum stopped_time_policy stopped_time;
	uint32_t stopped_slew_ppm;		/* for STOPPED_TIME_SLEW */
	/* time_source = 1: may set every domain's wall clock (time_source.h). */
	bool time_source;
	/*
	 * Wall offset at create, as in xl.cfg: rtc_timeoffset = SECONDS
	 * (signed), plus the host's UTC offset then if localtime = 1.
	 */
	int64_t rtc_timeoffset_s;
	bool localtime;
	/* clock = "host" | "virtual" (QEMU -icount; TCG, single thread). */
	enum clock_mode clock;
	/* drift = "keep" | "skip:FRACTION" | "slew:PPM" */
	struct drift_policy drift;
};

/*
 * QEMU's -icount for clock = "virtual": one instruction per 2^0 ns of
 * virtual time, and virtual time runs on at real speed while every vCPU
 * is idle (sleep=on).  Documentation/domain-config.rst says why.
 */
#define DOMAIN_VIRTUAL_ICOUNT	"shift=0,sleep=on"

/*
 * Parse text as if read from file 'path' (used in messages; relative
 * kernel/ramdisk paths resolve against its directory).  The kernel and
 * ramdisk must exist as regular files.  On failure returns -1 with
 * "path:line: problem" in err; cfg then holds nothing to free.
 */
int domain_config_parse(const char *path, const char *text,
			struct domain_config *cfg, char *err, size_t errlen);

/*
 * A config file's text (at most DOMAIN_CONFIG_MAX_BYTES, no NUL), malloc'd;
 * NULL with "path: problem" in err.
 */
char *domain_config_read(const char *path, char *err, size_t errlen);

/* Read and parse a file. */
int domain_config_load(const char *path, struct domain_config *cfg,
		       char *err, size_t errlen);

void domain_config_free(struct domain_config *cfg);

/*
 * The domain's wall offset from the hyp's wall clock at create, in
 * seconds: rtc_timeoffset, plus the host's UTC offset (tm_gmtoff of
 * localtime_r(now), so TZ and DST as they are at that instant) if
 * localtime = 1.  *utc_offset_s gets that UTC offset (0 without
 * localtime).
 */
int64_t domain_config_create_offset_s(const struct domain_config *cfg,
				      time_t now, int64_t *utc_offset_s);

const char *domain_accel_name(enum domain_accel accel);
const char *tcg_thread_mode_name(enum tcg_thread_mode mode);

/* [A-Za-z0-9_.-]{1,32} */
int domain_name_valid(const char *name);


#endif /* PVTIMED_DOMAIN_CONFIG_H */
