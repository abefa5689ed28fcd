// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doorbell_trace.h"

/* A residual in ns, or "-": not measured. */
static bool parse_residual(const char *text, struct doorbell *d)
{
	char *end;

	if (!strcmp(text, "-")) {
		d->measured = 0;
		return true;
	}
	errno = 0;
	d->residual_ns = strtoll(text, &end, 10);
	d->measured = 1;
	return !errno && end != text && !*end;
}

int doorbells_read(const char *path, struct doorbells *out)
{
	FILE *f = fopen(path, "r");
	size_t cap = 0, line_no = 0;
	char line[256];
	int ret = 0;

	out->v = NULL;
	out->n = 0;
	if (!f) {
		ret = -errno;
		fprintf(stderr, "doorbells: cannot open %s: %s\n", path,
			strerror(errno));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		struct doorbell d = { 0 };
		char residual[32], extra;

		line_no++;
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %u %31s %c",
			   &d.irq_tsc, &d.thread_tsc, &d.set_begin_tsc,
			   &d.moved_tsc, &d.set_end_tsc, &d.attempts, residual,
			   &extra) != 7 ||
		    !parse_residual(residual, &d)) {
			fprintf(stderr, "doorbells: %s:%zu: expected five TSC values, the attempts and a residual in ns or \"-\"\n",
				path, line_no);
			ret = -EINVAL;
			break;
		}
		if (out->n == cap) {
			size_t more = cap ? 2 * cap : 256;
			struct doorbell *v = realloc(out->v, more * sizeof(*v));

			if (!v) {
				ret = -ENOMEM;
				break;
			}
			out->v = v;
			cap = more;
		}
		out->v[out->n++] = d;
	}
	fclose(f);
	if (ret)
		doorbells_free(out);
	return ret;
}

void doorbells_free(struct doorbells *d)
{
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int tsc_map_fit(struct tsc_map *map, const uint64_t *tsc,
		const int64_t *raw_ns, size_t n)
{
	double mean_x = 0, mean_y = 0, sxx = 0, sxy = 0;
	int64_t *residual;
	size_t i;

	if (n < 2)
		return -EINVAL;
	/* Relative to the first pair: doubles keep ns over hours of TSC. */
	map->tsc0 = tsc[0];
	for (i = 0; i < n; i++) {
		mean_x += (double)(int64_t)(tsc[i] - tsc[0]);
		mean_y += (double)(raw_ns[i] - raw_ns[0]);
	}
	mean_x /= n;
	mean_y /= n;
	for (i = 0; i < n; i++) {
		double dx = (double)(int64_t)(tsc[i] - tsc[0]) - mean_x;
		double dy = (double)(raw_ns[i] - raw_ns[0]) - mean_y;

		sxx += dx * dx;
		sxy += dx * dy;
	}
	if (sxx <= 0)
		return -EINVAL;
	map->ns_per_cycle = sxy / sxx;
	map->raw0_ns = (double)raw_ns[0] + mean_y - map->ns_per_cycle * mean_x;
	map->samples = n;
	residual = malloc(n * sizeof(*residual));
	if (!residual)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		residual[i] = llabs(raw_ns[i] - tsc_map_raw_ns(map, tsc[i]));
	qsort(residual, n, sizeof(*residual), cmp_int64);
	map->residual_p99_ns = residual[(n - 1) * 99 / 100];
	free(residual);
	return 0;
}

int64_t tsc_map_raw_ns(const struct tsc_map *map, uint64_t tsc)
{
	return (int64_t)(map->raw0_ns +
			 map->ns_per_cycle * (double)(int64_t)(tsc - map->tsc0));
}
