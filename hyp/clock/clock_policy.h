/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The policies a domain's clock runs under: when its records may carry
 * TSC_STABLE, and what its guest's clock does with time it spent stopped.
 * The domain config names them (domain_config.h); the clock applies them.
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

#endif /* PVTIMED_CLOCK_POLICY_H */
