/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pvxl drift --plot: an SVG of a domain's drift against time, drawn from
 * the JSON body of pvtimed's "drift" reply (Documentation/pvxl.rst).
 */
#ifndef PVXL_DRIFT_PLOT_H
#define PVXL_DRIFT_PLOT_H

#include <stddef.h>
#include <stdio.h>

/*
 * Write the SVG for the JSON body json to out.  Returns the number of
 * history samples drawn, or -1 with a one-line reason in why (a body
 * without the drift history).
 */
int drift_plot_svg(const char *json, FILE *out, char *why, size_t whylen);

#endif /* PVXL_DRIFT_PLOT_H */
