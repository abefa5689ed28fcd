// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/keyed_record.h"
#include "domain/domain_state.h"

#define STATE_HEADER	"pvtimed-domain-state"
#define STATE_MAX_BYTES	(64 * 1024)

#define FIELD(k, t, member)	RECORD_FIELD(struct domain_saved, k, t, member)

/* Every field, in file order; each is required exactly once. */
static const struct record_field fields[] = {
	FIELD("domid", RECORD_U32, domid),
	FIELD("qemu_pid", RECORD_S32, qemu_pid),
	FIELD("qemu_start_ticks", RECORD_U64, qemu_start_ticks),
	FIELD("memfd_ino", RECORD_U64, memfd_ino),
	FIELD("host_eventfd_id.0", RECORD_U64, host_eventfd_id[0]),
	FIELD("host_eventfd_id.1", RECORD_U64, host_eventfd_id[1]),
	FIELD("host_eventfd_id.2", RECORD_U64, host_eventfd_id[2]),
	FIELD("guest_eventfd_id.0", RECORD_U64, guest_eventfd_id[0]),
	FIELD("guest_eventfd_id.1", RECORD_U64, guest_eventfd_id[1]),
	FIELD("guest_eventfd_id.2", RECORD_U64, guest_eventfd_id[2]),
	FIELD("pause_stop_tsc", RECORD_U64, pause_stop_tsc),
	FIELD("pauses", RECORD_U64, pauses),
	FIELD("paused_total_ns", RECORD_U64, paused_total_ns),
	FIELD("tsc_hz", RECORD_U64, clock.tsc_hz),
	FIELD("freq_ppm", RECORD_S32, clock.freq_ppm),
	FIELD("ref.anchor_tsc", RECORD_U64, clock.ref.anchor_tsc),
	FIELD("ref.system_ns", RECORD_U64, clock.ref.system_ns),
	FIELD("ref.mul", RECORD_U32, clock.ref.mul),
	FIELD("ref.shift", RECORD_S8, clock.ref.shift),
	FIELD("fn.anchor_tsc", RECORD_U64, clock.fn.anchor_tsc),
	FIELD("fn.system_ns", RECORD_U64, clock.fn.system_ns),
	FIELD("fn.mul", RECORD_U32, clock.fn.mul),
	FIELD("fn.shift", RECORD_S8, clock.fn.shift),
	FIELD("lag_ns", RECORD_S64, clock.lag_ns),
	FIELD("slew_ppm", RECORD_S32, clock.slew_ppm),
	FIELD("slew_end_tsc", RECORD_U64, clock.slew_end_tsc),
	FIELD("wall_offset_ns", RECORD_S64, clock.wall_offset_ns),
	FIELD("paused", RECORD_BOOL, clock.paused),
	FIELD("offset_rtt_cycles", RECORD_U64, clock.offset_rtt_cycles),
	FIELD("periodic", RECORD_BOOL, clock.periodic),
	FIELD("offset_moves", RECORD_U64, clock.offset_moves),
	FIELD("forward_steps", RECORD_U64, clock.forward_steps),
	FIELD("forward_step_ns_total", RECORD_U64, clock.forward_step_ns_total),
	FIELD("slews", RECORD_U64, clock.slews),
	FIELD("kept_ns_total", RECORD_U64, clock.kept_ns_total),
};

#define NR_FIELDS	(sizeof(fields) / sizeof(fields[0]))
/* The header line's number, read as the one field of an int32_t. */
static const struct record_field version_field = {
	STATE_HEADER, RECORD_S32, 0, sizeof(int32_t)
};
_Static_assert(PVTIME_NR_VECTORS == 3, "state file lists 3 vectors");

static int append(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char *line, *grown;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	grown = realloc(*buf, *len + (size_t)n + 1);
	if (!grown) {
		free(line);
		return -ENOMEM;
	}
	memcpy(grown + *len, line, (size_t)n + 1);
	*buf = grown;
	*len += (size_t)n;
	free(line);
	return 0;
}

static int format_field(char **buf, size_t *len, const struct record_field *f,
			const struct domain_saved *st)
{
	char line[128];
	int n = record_format_line(line, sizeof(line), f, st);

	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	return append(buf, len, "%s", line);
}

char *domain_state_format(const struct domain_saved *st)
{
	char *buf = NULL;
	size_t len = 0, i;
	int ret;

	ret = append(&buf, &len, "%s %d\n", STATE_HEADER, DOMAIN_STATE_VERSION);
	for (i = 0; !ret && i < NR_FIELDS; i++)
		ret = format_field(&buf, &len, &fields[i], st);
	if (!ret)
		ret = append(&buf, &len, "config_path %s\n", st->config_path);
	if (ret) {
		free(buf);
		return NULL;
	}
	return buf;
}

int domain_state_write(const char *path, const struct domain_saved *st)
{
	char *text;
	int ret;

	if (strchr(st->config_path, '\n'))
		return -EINVAL;
	text = domain_state_format(st);
	if (!text)
		return -ENOMEM;
	ret = atomic_file_write(path, text, strlen(text));
	free(text);
	return ret;
}

static void fail(char *err, size_t errlen, const char *origin, int line,
		 const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%d: %s", origin, line, what);
}

static const struct record_field *find_field(const char *key, size_t keylen)
{
	size_t i;

	for (i = 0; i < NR_FIELDS; i++)
		if (strlen(fields[i].key) == keylen &&
		    !memcmp(fields[i].key, key, keylen))
			return &fields[i];
	return NULL;
}

int domain_state_parse(const char *text, const char *origin,
		       struct domain_saved *st, char *err, size_t errlen)
{
	bool seen[NR_FIELDS] = { false };
	bool have_config = false, have_header = false;
	const char *line = text;
	int lineno = 0;
	size_t i;

	memset(st, 0, sizeof(*st));
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[sizeof(st->config_path) + 64];
		const char *space, *value;
		const struct record_field *f;

		lineno++;
		if (!nl) {
			fail(err, errlen, origin, lineno, "truncated (no newline)");
			return -1;
		}
		if (len >= sizeof(buf)) {
			fail(err, errlen, origin, lineno, "line too long");
			return -1;
		}
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = nl + 1;
		if (memchr(buf, '\0', len)) {
			fail(err, errlen, origin, lineno, "NUL byte");
			return -1;
		}
		space = strchr(buf, ' ');
		if (!space) {
			fail(err, errlen, origin, lineno, "expected 'key value'");
			return -1;
		}
		value = space + 1;
		if (!have_header) {
			int32_t version;

			if ((size_t)(space - buf) != strlen(STATE_HEADER) ||
			    memcmp(buf, STATE_HEADER, strlen(STATE_HEADER))) {
				fail(err, errlen, origin, lineno,
				     "not a pvtimed domain state file");
				return -1;
			}
			if (record_parse_value(&version_field, value, &version) ||
			    version != DOMAIN_STATE_VERSION) {
				fail(err, errlen, origin, lineno,
				     "state format '%s', this pvtimed reads %d",
				     value, DOMAIN_STATE_VERSION);
				return -1;
			}
			have_header = true;
			continue;
		}
		if ((size_t)(space - buf) == strlen("config_path") &&
		    !memcmp(buf, "config_path", strlen("config_path"))) {
			if (have_config || value[0] != '/') {
				fail(err, errlen, origin, lineno, have_config ?
				     "config_path given twice" :
				     "config_path is not absolute");
				return -1;
			}
			snprintf(st->config_path, sizeof(st->config_path), "%s", value);
			have_config = true;
			continue;
		}
		f = find_field(buf, (size_t)(space - buf));
		if (!f) {
			fail(err, errlen, origin, lineno, "unknown key '%.*s'",
			     (int)(space - buf), buf);
			return -1;
		}
		if (seen[f - fields]) {
			fail(err, errlen, origin, lineno, "%s given twice", f->key);
			return -1;
		}
		if (record_parse_value(f, value, st)) {
			fail(err, errlen, origin, lineno, "bad value for %s: '%s'",
			     f->key, value);
			return -1;
		}
		seen[f - fields] = true;
	}
	if (!have_header) {
		fail(err, errlen, origin, lineno, "empty");
		return -1;
	}
	for (i = 0; i < NR_FIELDS; i++) {
		if (!seen[i]) {
			fail(err, errlen, origin, lineno, "%s missing", fields[i].key);
			return -1;
		}
	}
	if (!have_config) {
		fail(err, errlen, origin, lineno, "config_path missing");
		return -1;
	}
	if (st->qemu_pid <= 0 || !st->clock.tsc_hz || !st->clock.fn.mul ||
	    !st->clock.ref.mul) {
		fail(err, errlen, origin, lineno,
		     "qemu_pid, tsc_hz, fn.mul and ref.mul must be positive");
		return -1;
	}
	return 0;
}

int domain_state_read(const char *path, struct domain_saved *st, char *err,
		      size_t errlen)
{
	char *text;
	ssize_t n;
	size_t len = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	text = malloc(STATE_MAX_BYTES + 1);
	if (!text) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	while ((n = read(fd, text + len, STATE_MAX_BYTES - len)) > 0)
		len += (size_t)n;
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret || len == STATE_MAX_BYTES) {
		snprintf(err, errlen, "%s: %s", path,
			 ret ? strerror(-ret) : "too large");
		free(text);
		return -1;
	}
	text[len] = '\0';
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: NUL byte in the file", path);
		free(text);
		return -1;
	}
	ret = domain_state_parse(text, path, st, err, errlen);
	free(text);
	return ret;
}
