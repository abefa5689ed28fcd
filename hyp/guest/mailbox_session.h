/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The bookkeeping of one mailbox serve session and the validation of a
 * guest's SET_OFFSET, as pure functions (no shared memory, no clock).
 */
#ifndef PVTIMED_MAILBOX_SESSION_H
#define PVTIMED_MAILBOX_SESSION_H

#include <stdbool.h>
#include <stdint.h>

struct mailbox_session {
	bool handed_out;		/* any host_tsc given in this session */
	uint64_t min_host_tsc;
	uint64_t max_host_tsc;
};

void mailbox_session_init(struct mailbox_session *s);
/* Record a host_tsc answered to the guest. */
void mailbox_session_hand_out(struct mailbox_session *s, uint64_t host_tsc);

struct offset_proposal {
	uint64_t guest_tsc_before;
	uint64_t guest_tsc_after;
	uint64_t host_tsc;		/* echoed by the guest */
};

/*
 * Check a guest's proposal: host_tsc must lie within what this session
 * handed out, after >= before, and after - before < max_rtt_cycles.
 * Returns 0 with the offset (midpoint of the guest reads - host_tsc) and
 * the round trip, or -EINVAL with *why set to a static reason.
 */
int mailbox_validate_offset(const struct mailbox_session *s,
			    const struct offset_proposal *p,
			    uint64_t max_rtt_cycles, int64_t *offset,
			    uint64_t *rtt_cycles, const char **why);

#endif /* PVTIMED_MAILBOX_SESSION_H */
