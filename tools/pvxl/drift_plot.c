// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvxl drift --plot: reads the few fields it needs out of pvtimed's JSON
 * reply (flat objects of numbers inside two arrays, as core/emit.c writes
 * them; not a general JSON parser) and draws drift against time as a
 * hand-written SVG: the drift now, what accrued and what was given back
 * (in ms), and each skip as a mark.
 */
#include "drift_plot.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PLOT_W		860
#define PLOT_H		420
#define MARGIN_L	80
#define MARGIN_R	170
#define MARGIN_T	40
#define MARGIN_B	50
#define TICKS		5

struct drift_point {
	double at_s;
	double current_ms, accumulated_ms, given_back_ms;
};

/* The number after "key": inside [obj, end); false if absent. */
static bool field(const char *obj, const char *end, const char *key,
		  double *out)
{
	char pat[64];
	const char *p;
	char *stop;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	if (!p || p >= end)
		return false;
	*out = strtod(p + strlen(pat), &stop);
	return stop != p + strlen(pat);
}

/* A string field ("key":"value") into buf, for the title. */
static void string_field(const char *json, const char *key, char *buf,
			 size_t len)
{
	char pat[64];
	const char *p, *q;

	snprintf(buf, len, "?");
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(json, pat);
	if (!p)
		return;
	p += strlen(pat);
	q = strchr(p, '"');
	if (q)
		snprintf(buf, len, "%.*s", (int)(q - p), p);
}

/* Each {...} of the array "name"; calls fn(obj, end) for each. */
static int for_each_object(const char *json, const char *name,
			   void (*fn)(const char *obj, const char *end, void *arg),
			   void *arg)
{
	char pat[64];
	const char *p;
	int n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":[", name);
	p = strstr(json, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	while (*p == '{') {
		const char *end = strchr(p, '}');

		if (!end)
			return -1;
		fn(p, end, arg);
		n++;
		p = end + 1;
		if (*p == ',')
			p++;
	}
	return *p == ']' ? n : -1;
}

struct points {
	struct drift_point *v;
	int n, cap;
	bool bad;
};

static void take_sample(const char *obj, const char *end, void *arg)
{
	struct points *pts = arg;
	double at, cur, acc, skipped, slewed;

	if (pts->n == pts->cap) {
		struct drift_point *v;

		pts->cap = pts->cap ? 2 * pts->cap : 256;
		v = realloc(pts->v, (size_t)pts->cap * sizeof(*v));
		if (!v) {
			pts->bad = true;
			return;
		}
		pts->v = v;
	}
	if (!field(obj, end, "at_ms", &at) || !field(obj, end, "current_ns", &cur) ||
	    !field(obj, end, "accumulated_ns", &acc) ||
	    !field(obj, end, "skipped_ns", &skipped) ||
	    !field(obj, end, "slewed_ns", &slewed)) {
		pts->bad = true;
		return;
	}
	pts->v[pts->n++] = (struct drift_point) {
		.at_s = at / 1e3, .current_ms = cur / 1e6,
		.accumulated_ms = acc / 1e6,
		.given_back_ms = (skipped + slewed) / 1e6,
	};
}

struct skip_marks {
	FILE *out;
	double t0, t1, y0, y1;
};

static double x_of(double t, double t0, double t1)
{
	return MARGIN_L + (t - t0) / (t1 - t0) * (PLOT_W - MARGIN_L - MARGIN_R);
}

static double y_of(double v, double y0, double y1)
{
	return PLOT_H - MARGIN_B - (v - y0) / (y1 - y0) * (PLOT_H - MARGIN_T - MARGIN_B);
}

static void draw_skip(const char *obj, const char *end, void *arg)
{
	struct skip_marks *m = arg;
	double at, before, skipped;

	if (!field(obj, end, "at_ms", &at) ||
	    !field(obj, end, "drift_before_ns", &before) ||
	    !field(obj, end, "skipped_ns", &skipped) || at / 1e3 < m->t0)
		return;
	fprintf(m->out,
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#2ca02c\" stroke-width=\"2\"><title>skip %.3f ms of %.3f ms</title></line>\n",
		x_of(at / 1e3, m->t0, m->t1), y_of(before / 1e6, m->y0, m->y1),
		x_of(at / 1e3, m->t0, m->t1),
		y_of((before - skipped) / 1e6, m->y0, m->y1), skipped / 1e6,
		before / 1e6);
}

static void polyline(FILE *out, const struct points *pts, int which,
		     const char *colour, double t0, double t1, double y0,
		     double y1)
{
	int i;

	fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
		colour);
	for (i = 0; i < pts->n; i++) {
		const struct drift_point *p = &pts->v[i];
		double v = which == 0 ? p->current_ms :
			   which == 1 ? p->accumulated_ms : p->given_back_ms;

		fprintf(out, "%.1f,%.1f ", x_of(p->at_s, t0, t1), y_of(v, y0, y1));
	}
	fprintf(out, "\"/>\n");
}

int drift_plot_svg(const char *json, FILE *out, char *why, size_t whylen)
{
	static const char *const names[] = { "drift now", "accrued", "given back" };
	static const char *const colours[] = { "#d62728", "#1f77b4", "#2ca02c" };
	struct points pts = { 0 };
	struct skip_marks marks;
	char name[64], policy[32], clock[16];
	double t0, t1, y0 = 0, y1 = 0;
	int i;

	if (for_each_object(json, "history", take_sample, &pts) < 0 || pts.bad) {
		snprintf(why, whylen, "pvtimed's reply holds no drift history");
		free(pts.v);
		return -1;
	}
	string_field(json, "name", name, sizeof(name));
	string_field(json, "drift", policy, sizeof(policy));
	string_field(json, "clock", clock, sizeof(clock));
	t0 = pts.n ? pts.v[0].at_s : 0;
	t1 = pts.n > 1 ? pts.v[pts.n - 1].at_s : t0 + 1;
	for (i = 0; i < pts.n; i++) {
		y0 = fmin(y0, pts.v[i].current_ms);
		y1 = fmax(y1, fmax(pts.v[i].accumulated_ms,
				   fmax(pts.v[i].current_ms, pts.v[i].given_back_ms)));
	}
	if (y1 - y0 < 1e-3)
		y1 = y0 + 1;
	y1 += (y1 - y0) * 0.05;

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
		"<text x=\"%d\" y=\"22\" font-size=\"15\">drift of domain %s (clock %s, drift %s)</text>\n",
		PLOT_W, PLOT_H, MARGIN_L, name, clock, policy);
	/* Axes, grid and tick labels. */
	for (i = 0; i <= TICKS; i++) {
		double t = t0 + (t1 - t0) * i / TICKS;
		double v = y0 + (y1 - y0) * i / TICKS;

		fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n"
			"<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.1f</text>\n",
			x_of(t, t0, t1), MARGIN_T, x_of(t, t0, t1), PLOT_H - MARGIN_B,
			x_of(t, t0, t1), PLOT_H - MARGIN_B + 16, t - t0);
		fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
			"<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n",
			MARGIN_L, y_of(v, y0, y1), PLOT_W - MARGIN_R, y_of(v, y0, y1),
			MARGIN_L - 6, y_of(v, y0, y1) + 4, v);
	}
	fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n"
		"<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time (s since %.0f s after the domain was created)</text>\n"
		"<text x=\"18\" y=\"%d\" transform=\"rotate(-90 18 %d)\" text-anchor=\"middle\">ms behind host time</text>\n",
		MARGIN_L, MARGIN_T, PLOT_W - MARGIN_L - MARGIN_R,
		PLOT_H - MARGIN_T - MARGIN_B, (PLOT_W - MARGIN_R + MARGIN_L) / 2,
		PLOT_H - 12, t0, (PLOT_H) / 2, (PLOT_H) / 2);
	for (i = 2; i >= 0; i--)
		polyline(out, &pts, i, colours[i], t0, t1, y0, y1);
	marks = (struct skip_marks) { .out = out, .t0 = t0, .t1 = t1, .y0 = y0, .y1 = y1 };
	for_each_object(json, "skip_log", draw_skip, &marks);
	for (i = 0; i < 3; i++)
		fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>\n"
			"<text x=\"%d\" y=\"%d\">%s</text>\n",
			PLOT_W - MARGIN_R + 12, MARGIN_T + 10 + 20 * i,
			PLOT_W - MARGIN_R + 36, MARGIN_T + 10 + 20 * i, colours[i],
			PLOT_W - MARGIN_R + 42, MARGIN_T + 14 + 20 * i, names[i]);
	fprintf(out, "<text x=\"%d\" y=\"%d\">| a skip</text>\n</svg>\n",
		PLOT_W - MARGIN_R + 12, MARGIN_T + 74);
	free(pts.v);
	return pts.n;
}
