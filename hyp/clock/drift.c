// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Drift accounting and the give-back decisions (drift.h). */
#include <string.h>

#include "clock/drift.h"

void drift_account_init(struct drift_account *acc,
			const struct drift_policy *policy)
{
	memset(acc, 0, sizeof(*acc));
	acc->policy = *policy;
}

void drift_measure(struct drift_account *acc, uint64_t at_ns,
		   int64_t current_ns, uint64_t accumulated_ns,
		   uint64_t slewed_ns)
{
	acc->measured = true;
	acc->measured_at_ns = at_ns;
	acc->current_ns = current_ns;
	acc->accumulated_ns = accumulated_ns;
	acc->slewed_ns = slewed_ns;
}

uint64_t drift_skip_due_ns(const struct drift_account *acc, uint64_t now_ns)
{
	uint64_t skip;

	if (acc->policy.kind != DRIFT_SKIP || !acc->measured ||
	    acc->current_ns < DRIFT_GIVE_BACK_MIN_NS)
		return 0;
	if (acc->skipped_once &&
	    (acc->measured_at_ns <= acc->last_skip_at_ns ||
	     now_ns - acc->last_skip_at_ns < DRIFT_GIVE_BACK_PERIOD_NS))
		return 0;
	skip = (uint64_t)((unsigned __int128)(uint64_t)acc->current_ns *
			  acc->policy.skip_fraction_ppm / DRIFT_FRACTION_ONE);
	return skip;
}

void drift_note_skip(struct drift_account *acc, uint64_t at_ns,
		     uint64_t skipped_ns)
{
	struct drift_skip *s = &acc->skip_log[acc->skip_log_next];

	*s = (struct drift_skip) {
		.at_ns = at_ns,
		.drift_before_ns = acc->current_ns,
		.skipped_ns = skipped_ns,
	};
	acc->skip_log_next = (acc->skip_log_next + 1) % DRIFT_SKIP_LOG_LEN;
	if (acc->skip_log_count < DRIFT_SKIP_LOG_LEN)
		acc->skip_log_count++;
	acc->skipped_ns += skipped_ns;
	acc->skips++;
	acc->current_ns -= (int64_t)skipped_ns;
	acc->last_skip_at_ns = at_ns;
	acc->skipped_once = true;
}

enum drift_slew_action drift_slew_decide(const struct drift_account *acc,
					 bool slewing, uint64_t horizon_ns)
{
	uint64_t next_give_back;

	if (acc->policy.kind != DRIFT_SLEW || !acc->measured)
		return slewing ? DRIFT_SLEW_STOP : DRIFT_SLEW_NONE;
	next_give_back = (uint64_t)((unsigned __int128)horizon_ns *
				    acc->policy.slew_ppm / 1000000);
	if (next_give_back < DRIFT_GIVE_BACK_MIN_NS)
		next_give_back = DRIFT_GIVE_BACK_MIN_NS;
	if (acc->current_ns < 0 || (uint64_t)acc->current_ns < next_give_back)
		return slewing ? DRIFT_SLEW_STOP : DRIFT_SLEW_NONE;
	return slewing ? DRIFT_SLEW_NONE : DRIFT_SLEW_START;
}

void drift_history_record(struct drift_account *acc, uint64_t at_ns)
{
	struct drift_history *h = &acc->history;

	h->sample[h->next] = (struct drift_sample) {
		.at_ns = at_ns,
		.current_ns = acc->current_ns,
		.accumulated_ns = acc->accumulated_ns,
		.skipped_ns = acc->skipped_ns,
		.slewed_ns = acc->slewed_ns,
	};
	h->next = (h->next + 1) % DRIFT_HISTORY_LEN;
	if (h->count < DRIFT_HISTORY_LEN)
		h->count++;
}

const struct drift_sample *drift_history_at(const struct drift_history *h,
					    uint32_t i)
{
	uint32_t oldest = (h->next + DRIFT_HISTORY_LEN - h->count) %
			  DRIFT_HISTORY_LEN;

	return &h->sample[(oldest + i) % DRIFT_HISTORY_LEN];
}

const struct drift_skip *drift_skip_at(const struct drift_account *acc,
				       uint32_t i)
{
	uint32_t oldest = (acc->skip_log_next + DRIFT_SKIP_LOG_LEN -
			   acc->skip_log_count) % DRIFT_SKIP_LOG_LEN;

	return &acc->skip_log[(oldest + i) % DRIFT_SKIP_LOG_LEN];
}
