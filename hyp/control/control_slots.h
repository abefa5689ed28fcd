/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Connection accounting of the control socket, as a pure function.  Root
 * and refused (non-root) peers draw from separate pools, so no number of
 * refused connections can take a slot root needs.
 */
#ifndef PVTIMED_CONTROL_SLOTS_H
#define PVTIMED_CONTROL_SLOTS_H

#include <stdbool.h>
#include <sys/types.h>

/* Connections served at once (uid 0). */
#define CONTROL_MAX_CONNECTIONS		64
/* Refused peers waited on at once for their request line. */
#define CONTROL_MAX_REFUSED		8

struct control_slots {
	unsigned int root;
	unsigned int refused;
};

enum control_admission {
	CONTROL_ADMIT_ROOT,	/* served; holds a root slot */
	CONTROL_ADMIT_REFUSED,	/* read, answered "permission denied" */
	CONTROL_REJECT_BUSY,	/* no slot: answered at once and closed */
};

/* Take a slot for a peer of this uid (nothing is taken on REJECT_BUSY). */
enum control_admission control_slots_admit(struct control_slots *s, uid_t uid);
/* Give back the slot an admission took. */
void control_slots_release(struct control_slots *s, enum control_admission a);

#endif /* PVTIMED_CONTROL_SLOTS_H */
