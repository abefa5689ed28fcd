// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "control/control_slots.h"

enum control_admission control_slots_admit(struct control_slots *s, uid_t uid)
{
	if (uid == 0) {
		if (s->root >= CONTROL_MAX_CONNECTIONS)
			return CONTROL_REJECT_BUSY;
		s->root++;
		return CONTROL_ADMIT_ROOT;
	}
	if (s->refused >= CONTROL_MAX_REFUSED)
		return CONTROL_REJECT_BUSY;
	s->refused++;
	return CONTROL_ADMIT_REFUSED;
}

void control_slots_release(struct control_slots *s, enum control_admission a)
{
	if (a == CONTROL_ADMIT_ROOT && s->root)
		s->root--;
	else if (a == CONTROL_ADMIT_REFUSED && s->refused)
		s->refused--;
}
