// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stddef.h>

#include "guest/mailbox_session.h"

void mailbox_session_init(struct mailbox_session *s)
{
	s->handed_out = false;
	s->min_host_tsc = UINT64_MAX;
	s->max_host_tsc = 0;
}

void mailbox_session_hand_out(struct mailbox_session *s, uint64_t host_tsc)
{
	s->handed_out = true;
	if (host_tsc < s->min_host_tsc)
		s->min_host_tsc = host_tsc;
	if (host_tsc > s->max_host_tsc)
		s->max_host_tsc = host_tsc;
}

int mailbox_validate_offset(const struct mailbox_session *s,
			    const struct offset_proposal *p,
			    uint64_t max_rtt_cycles, int64_t *offset,
			    uint64_t *rtt_cycles, const char **why)
{
	uint64_t rtt, midpoint;

	if (!s->handed_out) {
		*why = "no probe was answered in this session";
		return -EINVAL;
	}
	if (p->host_tsc < s->min_host_tsc || p->host_tsc > s->max_host_tsc) {
		*why = "host_tsc was not handed out in this session";
		return -EINVAL;
	}
	if (p->guest_tsc_after < p->guest_tsc_before) {
		*why = "guest_tsc_after is before guest_tsc_before";
		return -EINVAL;
	}
	rtt = p->guest_tsc_after - p->guest_tsc_before;
	if (rtt >= max_rtt_cycles) {
		*why = "round trip too long";
		return -EINVAL;
	}
	/* No overflow: before + rtt / 2 <= after. */
	midpoint = p->guest_tsc_before + rtt / 2;
	*offset = (int64_t)(midpoint - p->host_tsc);
	*rtt_cycles = rtt;
	*why = NULL;
	return 0;
}
