/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The refined host TSC rate kept across restarts, as chrony keeps its
 * driftfile: STATE_DIR/tsc-rate holds "HZ PRECISION_HZ BASELINE_NS".  A
 * new pvtimed starts from it when its own short calibration agrees, so
 * it does not re-rate every adopted guest with a coarser estimate and
 * waits for a longer baseline than the saved one before it moves.
 */
#ifndef PVTIMED_TSC_RATEFILE_H
#define PVTIMED_TSC_RATEFILE_H

#include <stdint.h>

#include "core/timebase.h"

#define TSC_RATEFILE_NAME	"tsc-rate"
/* The saved rate must agree with a fresh one within this many sigmas. */
#define TSC_RATEFILE_AGREE	4

/* Where the file is; set once at startup (NULL: not kept). */
void tsc_ratefile_set_path(const char *path);

/*
 * Start from the saved rate if there is one and tb agrees with it.
 * Returns 1 taken, 0 none or not agreeing (logged), -errno unreadable.
 */
int tsc_ratefile_load(struct timebase *tb);

/* Save the timebase's rate (after a refinement).  0 or -errno. */
int tsc_ratefile_save(const struct timebase *tb);

/* Parse "HZ PRECISION_HZ BASELINE_NS\n".  0 or -EINVAL. */
int tsc_ratefile_parse(const char *text, uint64_t *hz, uint64_t *precision_hz,
		       uint64_t *baseline_ns);

#endif /* PVTIMED_TSC_RATEFILE_H */
