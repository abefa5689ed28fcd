// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Validation of a guest's SET_OFFSET proposal. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "guest/mailbox_session.h"

#define MAX_RTT	2600000ull	/* 1 ms at 2.6 GHz */

static int check(const struct mailbox_session *s, uint64_t before,
		 uint64_t after, uint64_t host, int64_t *offset, uint64_t *rtt,
		 const char **why)
{
	struct offset_proposal p = {
		.guest_tsc_before = before, .guest_tsc_after = after,
		.host_tsc = host,
	};

	*offset = 12345;
	*rtt = 12345;
	return mailbox_validate_offset(s, &p, MAX_RTT, offset, rtt, why);
}

int main(void)
{
	struct mailbox_session s;
	const char *why;
	uint64_t rtt;
	int64_t offset;
	int ret;

	tap_plan(11);
	mailbox_session_init(&s);
	ret = check(&s, 1000, 1600, 500, &offset, &rtt, &why);
	tap_ok(ret == -EINVAL && why && strstr(why, "no probe"),
	       "refused before any probe was answered (%s)", why);

	mailbox_session_hand_out(&s, 500);
	mailbox_session_hand_out(&s, 900);
	mailbox_session_hand_out(&s, 700);
	tap_ok(s.min_host_tsc == 500 && s.max_host_tsc == 900,
	       "session tracks min/max handed out (%llu..%llu)",
	       (unsigned long long)s.min_host_tsc, (unsigned long long)s.max_host_tsc);

	ret = check(&s, 10000, 10600, 700, &offset, &rtt, &why);
	tap_ok(ret == 0 && offset == 10300 - 700 && rtt == 600,
	       "offset = midpoint - host_tsc (%lld), rtt = after - before (%llu)",
	       (long long)offset, (unsigned long long)rtt);

	ret = check(&s, 100, 701, 500, &offset, &rtt, &why);
	tap_ok(ret == 0 && offset == 400 - 500,
	       "negative offsets come out signed (%lld)", (long long)offset);

	ret = check(&s, 10000, 10600, 499, &offset, &rtt, &why);
	tap_ok(ret == -EINVAL && strstr(why, "not handed out") && offset == 12345,
	       "host_tsc below the session range refused, outputs untouched");
	ret = check(&s, 10000, 10600, 901, &offset, &rtt, &why);
	tap_ok(ret == -EINVAL && strstr(why, "not handed out"),
	       "host_tsc above the session range refused");

	ret = check(&s, 10600, 10000, 700, &offset, &rtt, &why);
	tap_ok(ret == -EINVAL && strstr(why, "before"), "after < before refused");

	ret = check(&s, 0, MAX_RTT, 700, &offset, &rtt, &why);
	tap_ok(ret == -EINVAL && strstr(why, "too long"),
	       "round trip of exactly the limit refused");
	ret = check(&s, 0, MAX_RTT - 1, 700, &offset, &rtt, &why);
	tap_ok(ret == 0 && rtt == MAX_RTT - 1, "round trip just under the limit accepted");

	/* Large TSC values: the midpoint must not overflow. */
	mailbox_session_hand_out(&s, UINT64_MAX - 10);
	ret = check(&s, UINT64_MAX - 100, UINT64_MAX, UINT64_MAX - 10, &offset,
		    &rtt, &why);
	tap_ok(ret == 0 && offset == (int64_t)((UINT64_MAX - 50) - (UINT64_MAX - 10)),
	       "no overflow near 2^64 (offset %lld)", (long long)offset);

	/* A guest TSC far below the host's: offset wraps to a negative s64. */
	ret = check(&s, 1000, 1002, 900, &offset, &rtt, &why);
	tap_ok(ret == 0 && offset == 1001 - 900, "small guest TSC values (%lld)",
	       (long long)offset);
	return tap_done();
}
