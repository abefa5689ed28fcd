/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Fault injection for tests (pvtimed --enable-fault-injection): storms of
 * record rewrites, per-vCPU skew, rate steps, re-anchors, records left odd
 * the guest-stopped flag, a jump of the records with TSC_STABLE withdrawn
 * in the same moment, and the clock-status block hidden (as from a hyp
 * without PVTIME_F_CLOCK_STATUS) or held odd, each driven from the event loop and bounded
 * in size or time.  Documentation/control-protocol.rst lists the modes.
 *
 * The fault layer sits above the domains: it keeps its own state for the
 * domains it disturbed (freed through domain_set_stop_hook), and what the
 * records themselves hold (the injected rate step and skew) it reads back
 * from them rather than keeping a second copy.
 */
#ifndef PVTIMED_FAULT_INJECT_H
#define PVTIMED_FAULT_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/emit.h"

#define FAULT_STORM_HZ_MAX		10000
#define FAULT_STORM_MS_MAX		600000
#define FAULT_SKEW_NS_MAX		1000000000ll
#define FAULT_PPM_MAX			1000
#define FAULT_ODD_MS_MAX		5000
#define FAULT_JUMP_MS_MAX		10000
/* TSC_STABLE stays off this long after a jump (as after a rate change). */
#define FAULT_JUMP_HOLD_NS		200000000ull

enum fault_mode {
	FAULT_STORM,
	FAULT_SKEW,
	FAULT_FREQ_STEP,
	FAULT_REANCHOR,
	FAULT_ODD,
	FAULT_GUEST_STOPPED,
	FAULT_CLEAR,
	FAULT_CLOCK_STATUS_OFF,		/* clock-status block as an older hyp's */
	FAULT_CLOCK_STATUS_ODD,		/* clock-status seq held odd */
	FAULT_JUMP,			/* records forward, TSC_STABLE off at once */
};

/* fault_request.c */
struct fault_request {
	enum fault_mode mode;
	uint32_t rate_hz;		/* storm */
	uint32_t duration_ms;		/* storm, odd, clock-status-odd, jump */
	int64_t skew_ns;		/* skew */
	int32_t ppm;			/* freq-step */
	uint32_t vcpu;			/* odd */
};

/*
 * Parse "<mode> [args]" for a domain of nr_vcpus.  Returns 0, or -1 with a
 * one-line reason in err (a usage error: exit code 2).
 */
int fault_request_parse(int argc, char **argv, uint32_t nr_vcpus,
			struct fault_request *req, char *err, size_t errlen);

const char *fault_mode_name(enum fault_mode mode);

struct domain;

void fault_injection_enable(bool on);
bool fault_injection_enabled(void);

/*
 * The domain stopped (QEMU ended) or is about to be freed: stop its
 * timers and release a held record; forget it when freed.  main.c hands
 * this to domain_set_stop_hook.
 */
void fault_domain_stopped(struct domain *d, bool freed);

/* Apply a parsed request to d.  Returns 0, or -1 with the reason in err. */
int fault_apply(struct domain *d, const struct fault_request *req,
		char *err, size_t errlen);

/* The "injections" object of info. */
void fault_emit(struct emit *e, struct domain *d);

#endif /* PVTIMED_FAULT_INJECT_H */
