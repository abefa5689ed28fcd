// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/log.h"
#include "core/tsc_ratefile.h"

static const char *ratefile_path;

void tsc_ratefile_set_path(const char *path)
{
	ratefile_path = path;
}

static int parse_u64(const char **p, uint64_t *out)
{
	char *end;

	if (**p < '0' || **p > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(*p, &end, 10);
	if (errno)
		return -EINVAL;
	*p = end;
	return 0;
}

int tsc_ratefile_parse(const char *text, uint64_t *hz, uint64_t *precision_hz,
		       uint64_t *baseline_ns)
{
	const char *p = text;

	if (parse_u64(&p, hz) || *p++ != ' ' ||
	    parse_u64(&p, precision_hz) || *p++ != ' ' ||
	    parse_u64(&p, baseline_ns) || strcmp(p, "\n"))
		return -EINVAL;
	/* Sanity, not physics: 1 MHz .. 100 GHz, precision under 1 %. */
	if (*hz < 1000000 || *hz > 100000000000ull || *precision_hz > *hz / 100)
		return -EINVAL;
	return 0;
}

static uint64_t distance(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

int tsc_ratefile_load(struct timebase *tb)
{
	uint64_t hz, precision_hz, baseline_ns;
	char text[128];
	ssize_t n;
	int fd;

	if (!ratefile_path)
		return 0;
	fd = open(ratefile_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	text[n] = '\0';
	if (tsc_ratefile_parse(text, &hz, &precision_hz, &baseline_ns)) {
		log_warn("%s: not 'HZ PRECISION_HZ BASELINE_NS'; ignored (it is rewritten at the next refinement)",
			 ratefile_path);
		return 0;
	}
	if (distance(hz, tb->tsc_hz) >
	    TSC_RATEFILE_AGREE * (precision_hz + tb->precision_hz)) {
		log_warn("%s: saved %" PRIu64 " Hz +- %" PRIu64 " disagrees with %" PRIu64 " Hz +- %" PRIu64 " measured now; starting from the measurement",
			 ratefile_path, hz, precision_hz, tb->tsc_hz,
			 tb->precision_hz);
		return 0;
	}
	if (precision_hz >= tb->precision_hz)
		return 0;
	log_info("TSC rate from %s: %" PRIu64 " Hz +- %" PRIu64 " Hz (over %.0f s; measured now %" PRIu64 " +- %" PRIu64 ")",
		 ratefile_path, hz, precision_hz, (double)baseline_ns / 1e9,
		 tb->tsc_hz, tb->precision_hz);
	tb->tsc_hz = hz;
	tb->precision_hz = precision_hz;
	tb->precision_ppm = (double)precision_hz * 1e6 / (double)hz;
	tb->baseline_ns = baseline_ns;
	return 1;
}

int tsc_ratefile_save(const struct timebase *tb)
{
	char text[128];
	int len;

	if (!ratefile_path)
		return 0;
	len = snprintf(text, sizeof(text), "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
		       tb->tsc_hz, tb->precision_hz, tb->baseline_ns);
	return atomic_file_write(ratefile_path, text, (size_t)len);
}
