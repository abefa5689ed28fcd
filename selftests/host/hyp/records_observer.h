/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Forced into the test build of hyp/clock/records.c (hyp/Makefile:
 * records_observed.o): every record write goes through
 * records_observe_write(), so test_records.c sees each state of the
 * records a guest could read between two writes of a pass.
 */
#ifndef RECORDS_OBSERVER_H
#define RECORDS_OBSERVER_H

#include "pvclock_math.h"

void records_observe_write(pvtime_time_info_t *ti,
			   const pvtime_time_info_t *val);

#define pvtime_time_write	records_observe_write

#endif /* RECORDS_OBSERVER_H */
