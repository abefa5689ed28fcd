/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The policies a domain's clock runs under: whether it runs on host or
 * virtual time, when its records may carry TSC_STABLE, what its guest's
 * clock does with time it spent stopped, and how drift (the guest's clock
 * behind the host's) is given back.  The domain config names them
 * (domain_config.h); the clock applies them.
 */
#ifndef PVTIMED_CLOCK_POLICY_H
#define PVTIMED_CLOCK_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* The clock keeps per-vCPU evidence for at most this many vCPUs. */
#define CLOCK_VCPUS_MAX		32

/* When pvtimed may set PVTIME_FLAG_TSC_STABLE in the domain's records. */
enum tsc_stable_policy {
	TSC_STABLE_AUTO,	/* once every vCPU's TSC offset agreed */
	TSC_STABLE_OFF,		/* never */
};

/* What the guest clock does with an interval the domain was stopped. */
enum stopped_time_policy {
	STOPPED_TIME_STEP,	/* default: catch up at once (Xen) */
	STOPPED_TIME_SLEW,	/* catch up at stopped_slew_ppm */
	STOPPED_TIME_KEEP,	/* stay behind; the drift is accounted */
};

#define STOPPED_SLEW_PPM_MIN	1
#define STOPPED_SLEW_PPM_MAX	500000
/* Room for any stopped_time_policy_name(), "slew:500000" included. */
#define STOPPED_TIME_NAME_MAX	16

/* What the guest TSC counts, hence what the records map it to. */
enum clock_mode {
	CLOCK_MODE_HOST,	/* default: host time (the TSC is the host's) */
	/*
	 * QEMU -icount: the guest TSC counts virtual nanoseconds (the
	 * instructions the guest executed), and so do the records.
	 */
	CLOCK_MODE_VIRTUAL,
};

/* How drift (the guest's clock behind the reference) is given back. */
enum drift_policy_kind {
	DRIFT_KEEP,		/* default: never; shown by pvxl drift */
	DRIFT_SKIP,		/* QNX: skip forward by a fraction, periodically */
	DRIFT_SLEW,		/* run fast at slew_ppm until given back */
};

struct drift_policy {
	enum drift_policy_kind kind;
	/* DRIFT_SKIP: the fraction of the drift each skip gives back, in
	 * millionths, 1..DRIFT_FRACTION_ONE. */
	uint32_t skip_fraction_ppm;
	uint32_t slew_ppm;		/* DRIFT_SLEW: 1..500000 */
};

#define DRIFT_FRACTION_ONE	1000000u
/* A skip fraction has at most this many decimals (millionths). */
#define DRIFT_FRACTION_DECIMALS	6
#define DRIFT_SLEW_PPM_MIN	STOPPED_SLEW_PPM_MIN
#define DRIFT_SLEW_PPM_MAX	STOPPED_SLEW_PPM_MAX
/* Room for any drift_policy_name(), "skip:0.000001" included. */
#define DRIFT_POLICY_NAME_MAX	24

/* "auto" or "off", as the config spells it. */
const char *tsc_stable_policy_name(enum tsc_stable_policy policy);

/*
 * "step", "keep" or "slew:PPM" (PPM strict decimal, in range).  Returns 0,
 * or -1 with the reason in why.
 */
int stopped_time_policy_parse(const char *text, enum stopped_time_policy *policy,
			      uint32_t *slew_ppm, char *why, size_t whylen);
/* "step", "keep" or "slew:PPM", as the config spells it; returns buf. */
const char *stopped_time_policy_name(enum stopped_time_policy policy,
				     uint32_t slew_ppm, char *buf, size_t len);

/* "host" or "virtual", as the config spells it. */
const char *clock_mode_name(enum clock_mode mode);

/*
 * "keep", "skip:FRACTION" (a decimal in (0,1], at most six decimals:
 * "0.5", "1", "0.125") or "slew:PPM" (1..500000).  Returns 0, or -1 with
 * the reason in why.
 */
int drift_policy_parse(const char *text, struct drift_policy *policy,
		       char *why, size_t whylen);
/* "keep", "skip:0.5" or "slew:1000", as the config spells it. */
const char *drift_policy_name(const struct drift_policy *policy, char *buf,
			      size_t len);

#endif /* PVTIMED_CLOCK_POLICY_H */
