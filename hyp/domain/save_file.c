// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvtime_abi.h"
#include "core/keyed_record.h"
#include "domain/save_file.h"

uint64_t save_fnv64(uint64_t hash, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		hash ^= p[i];
		hash *= 0x100000001b3ull;
	}
	return hash;
}

#define FIELD(k, t, member)	RECORD_FIELD(struct save_header, k, t, member)

/* Every field, in file order; each is required exactly once. */
static const struct record_field fields[] = {
	FIELD("abi", RECORD_U32, abi_version),
	FIELD("name", RECORD_WORD, name),
	FIELD("vcpus", RECORD_U32, vcpus),
	FIELD("stopped_time", RECORD_WORD, stopped_time),
	FIELD("offset_known", RECORD_BOOL, clock.offset_known),
	FIELD("guest_tsc_anchor", RECORD_U64, clock.guest_tsc_anchor),
	FIELD("shown_anchor_ns", RECORD_U64, clock.shown_anchor_ns),
	FIELD("mul", RECORD_U32, clock.mul),
	FIELD("shift", RECORD_S8, clock.shift),
	FIELD("guest_tsc_at_stop", RECORD_U64, clock.guest_tsc_at_stop),
	FIELD("shown_at_stop_ns", RECORD_U64, clock.shown_at_stop_ns),
	FIELD("ref_at_stop_ns", RECORD_U64, clock.ref_at_stop_ns),
	FIELD("realtime_at_stop_ns", RECORD_S64, clock.realtime_at_stop_ns),
	FIELD("boot_id", RECORD_WORD, boot_id),
	FIELD("host_tsc_at_stop", RECORD_U64, clock.host_tsc_at_stop),
	FIELD("lag_ns", RECORD_S64, clock.lag_ns),
	FIELD("wall_offset_ns", RECORD_S64, clock.wall_offset_ns),
	FIELD("periodic", RECORD_BOOL, clock.periodic),
	FIELD("host_tsc_hz", RECORD_U64, clock.host_tsc_hz),
	FIELD("config_path", RECORD_PATH, config_path),
	FIELD("pauses", RECORD_U64, pauses),
	FIELD("paused_total_ns", RECORD_U64, paused_total_ns),
	/* Fixed width: rewritten once the stream is in the file. */
	FIELD("stream_bytes", RECORD_U64_FIXED, stream_bytes),
	FIELD("stream_fnv64", RECORD_HEX64, stream_fnv64),
};
#define NR_FIELDS	(sizeof(fields) / sizeof(fields[0]))

struct sbuf {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void sb_printf(struct sbuf *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= s->cap - s->len) {
		s->failed = true;
		return;
	}
	s->len += (size_t)n;
}

static void sb_put(struct sbuf *s, const void *data, size_t len)
{
	if (s->failed || len >= s->cap - s->len) {
		s->failed = true;
		return;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
}

static void format_field(struct sbuf *s, const struct save_header *h,
			 const struct record_field *f)
{
	int n;

	if (s->failed)
		return;
	n = record_format_line(s->buf + s->len, s->cap - s->len, f, h);
	if (n < 0 || (size_t)n >= s->cap - s->len) {
		s->failed = true;
		return;
	}
	s->len += (size_t)n;
}

char *save_header_format(struct save_header *h)
{
	struct sbuf s = { .cap = SAVE_FILE_HEADER_MAX };
	char first[64];
	size_t i, first_len, total;
	uint64_t sum;

	if (h->config_len > DOMAIN_CONFIG_MAX_BYTES)
		return NULL;
	s.buf = calloc(1, s.cap);
	if (!s.buf)
		return NULL;
	/* The first line is written last, once the length is known. */
	first_len = (size_t)snprintf(first, sizeof(first), "%s %u %06u\n",
				     SAVE_FILE_MAGIC, SAVE_FILE_FORMAT, 0);
	s.len = first_len;
	for (i = 0; i < NR_FIELDS; i++)
		format_field(&s, h, &fields[i]);
	sb_printf(&s, "config %zu\n", h->config_len);
	sb_put(&s, h->config ? h->config : "", h->config_len);
	sb_printf(&s, "\n");
	/* Room for the checksum and end lines, rounded up. */
	total = (s.len + 64 + SAVE_FILE_ALIGN - 1) / SAVE_FILE_ALIGN * SAVE_FILE_ALIGN;
	if (s.failed || total > s.cap) {
		free(s.buf);
		return NULL;
	}
	h->format = SAVE_FILE_FORMAT;
	h->header_bytes = total;
	snprintf(first, sizeof(first), "%s %u %06u\n", SAVE_FILE_MAGIC,
		 SAVE_FILE_FORMAT, (unsigned int)total);
	memcpy(s.buf, first, first_len);
	sum = save_fnv64(FNV64_INIT, s.buf, s.len);
	sb_printf(&s, "header_fnv64 %016" PRIx64 "\nend\n", sum);
	if (s.failed || s.len > total) {
		free(s.buf);
		return NULL;
	}
	memset(s.buf + s.len, 0, s.cap - s.len);
	return s.buf;
}

void save_header_free(struct save_header *h)
{
	free(h->config);
	h->config = NULL;
}

/* One line starting at *pos (within end); NULL if no newline. */
static const char *next_line(const char *buf, size_t end, size_t *pos,
			     size_t *line_len)
{
	const char *line = buf + *pos;
	const char *nl;

	if (*pos >= end)
		return NULL;
	nl = memchr(line, '\n', end - *pos);
	if (!nl)
		return NULL;
	*line_len = (size_t)(nl - line);
	*pos += *line_len + 1;
	return line;
}

/* The numbers after the fields, read by the fields' rules into a uint64_t. */
static const struct record_field config_bytes_field = {
	"config", RECORD_U64, 0, sizeof(uint64_t)
};
static const struct record_field header_sum_field = {
	"header_fnv64", RECORD_HEX64, 0, sizeof(uint64_t)
};

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); goto fail; } while (0)

int save_header_parse(const char *buf, size_t len, struct save_header *h,
		      char *err, size_t errlen)
{
	bool seen[NR_FIELDS] = { false };
	char line[4200], key[40];
	const char *l;
	size_t pos = 0, ll, i, lineno = 1, sum_at;
	unsigned int format, header_bytes;
	uint64_t sum, want;
	char tail;

	memset(h, 0, sizeof(*h));
	l = next_line(buf, len < 64 ? len : 64, &pos, &ll);
	if (!l || ll >= sizeof(line))
		FAIL("not a pvtime save file (bad magic)");
	memcpy(line, l, ll);
	line[ll] = '\0';
	if (strncmp(line, SAVE_FILE_MAGIC " ", strlen(SAVE_FILE_MAGIC) + 1) ||
	    sscanf(line + strlen(SAVE_FILE_MAGIC), " %u %u%c", &format,
		   &header_bytes, &tail) != 2)
		FAIL("not a pvtime save file (bad magic)");
	if (format > SAVE_FILE_FORMAT)
		FAIL("save file format %u is newer than this pvtimed's (%u)",
		     format, SAVE_FILE_FORMAT);
	if (format < 1)
		FAIL("save file format %u is unknown", format);
	if (header_bytes < SAVE_FILE_ALIGN || header_bytes % SAVE_FILE_ALIGN ||
	    header_bytes > SAVE_FILE_HEADER_MAX)
		FAIL("bad header length %u", header_bytes);
	h->format = format;
	h->header_bytes = header_bytes;
	if (len < header_bytes)
		FAIL("truncated: %zu bytes, the header alone is %u", len,
		     header_bytes);

	for (i = 0; i < NR_FIELDS; i++) {
		const char *v;

		lineno++;
		l = next_line(buf, header_bytes, &pos, &ll);
		if (!l || ll >= sizeof(line))
			FAIL("header line %zu: missing or too long", lineno);
		memcpy(line, l, ll);
		line[ll] = '\0';
		v = strchr(line, ' ');
		if (!v || (size_t)(v - line) >= sizeof(key))
			FAIL("header line %zu: not 'key value'", lineno);
		memcpy(key, line, (size_t)(v - line));
		key[v - line] = '\0';
		v++;
		if (strcmp(key, fields[i].key))
			FAIL("header line %zu: '%s' where '%s' belongs", lineno,
			     key, fields[i].key);
		if (record_parse_value(&fields[i], v, h))
			FAIL("header line %zu: bad %s '%s'", lineno, key, v);
		seen[i] = true;
	}
	lineno++;
	l = next_line(buf, header_bytes, &pos, &ll);
	if (!l || ll >= sizeof(line))
		FAIL("header line %zu: missing config", lineno);
	memcpy(line, l, ll);
	line[ll] = '\0';
	if (strncmp(line, "config ", 7) || record_parse_value(&config_bytes_field, line + 7, &want) ||
	    want > DOMAIN_CONFIG_MAX_BYTES || want + 1 > header_bytes - pos)
		FAIL("header line %zu: bad config length", lineno);
	h->config_len = (size_t)want;
	h->config = malloc(h->config_len + 1);
	if (!h->config)
		FAIL("out of memory");
	memcpy(h->config, buf + pos, h->config_len);
	h->config[h->config_len] = '\0';
	if (memchr(h->config, '\0', h->config_len))
		FAIL("config holds a NUL byte");
	pos += h->config_len;
	if (buf[pos] != '\n')
		FAIL("config not followed by a newline");
	pos++;
	sum_at = pos;
	l = next_line(buf, header_bytes, &pos, &ll);
	if (!l || ll >= sizeof(line))
		FAIL("header checksum missing");
	memcpy(line, l, ll);
	line[ll] = '\0';
	if (strncmp(line, "header_fnv64 ", 13) || record_parse_value(&header_sum_field, line + 13, &want))
		FAIL("header checksum missing");
	sum = save_fnv64(FNV64_INIT, buf, sum_at);
	if (sum != want)
		FAIL("header checksum mismatch (file %016" PRIx64 ", computed %016" PRIx64 ")",
		     want, sum);
	l = next_line(buf, header_bytes, &pos, &ll);
	if (!l || ll != 3 || memcmp(l, "end", 3))
		FAIL("header does not end with 'end'");
	for (i = 0; i < NR_FIELDS; i++)
		if (!seen[i])
			FAIL("header lacks %s", fields[i].key);
	if (!h->vcpus)
		FAIL("header: vcpus 0");
	if (h->clock.offset_known && !h->clock.mul)
		FAIL("header: mul 0");
	return 0;
fail:
	save_header_free(h);
	return -1;
}

bool save_path_usable(const char *path)
{
	const char *p;

	if (path[0] != '/')
		return false;
	for (p = path; *p; p++)
		if (*p == '\'' || *p == '\\' || *p == '"' || (unsigned char)*p < ' ' ||
		    *p == 0x7f)
			return false;
	return true;
}

int save_file_check(const char *path, struct save_header *h, char *err,
		    size_t errlen)
{
	char why[256];
	char *buf = NULL, *chunk = NULL;
	uint64_t left, sum;
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd;

	memset(h, 0, sizeof(*h));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	buf = malloc(SAVE_FILE_HEADER_MAX);
	chunk = malloc(1 << 20);
	if (!buf || !chunk) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	while (got < SAVE_FILE_HEADER_MAX) {
		n = read(fd, buf + got, SAVE_FILE_HEADER_MAX - got);
		if (n < 0) {
			snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
			goto fail;
		}
		if (!n)
			break;
		got += (size_t)n;
	}
	if (save_header_parse(buf, got, h, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto fail;
	}
	if ((uint64_t)st.st_size < h->header_bytes + h->stream_bytes) {
		snprintf(err, errlen, "%s: truncated: %lld bytes, the header says %llu",
			 path, (long long)st.st_size,
			 (unsigned long long)(h->header_bytes + h->stream_bytes));
		goto fail_h;
	}
	if (!h->stream_bytes) {
		snprintf(err, errlen, "%s: holds no migration stream (the save did not finish)",
			 path);
		goto fail_h;
	}
	if (h->abi_version != PVTIME_ABI_VERSION) {
		snprintf(err, errlen, "%s: saved from a guest speaking pvtime ABI %u; this pvtimed serves ABI %u only",
			 path, h->abi_version, PVTIME_ABI_VERSION);
		goto fail_h;
	}
	if (lseek(fd, (off_t)h->header_bytes, SEEK_SET) < 0) {
		snprintf(err, errlen, "%s: seek: %s", path, strerror(errno));
		goto fail_h;
	}
	sum = FNV64_INIT;
	for (left = h->stream_bytes; left; ) {
		n = read(fd, chunk, left < (1 << 20) ? (size_t)left : (1 << 20));
		if (n <= 0) {
			snprintf(err, errlen, "%s: truncated migration stream", path);
			goto fail_h;
		}
		sum = save_fnv64(sum, chunk, (size_t)n);
		left -= (uint64_t)n;
	}
	if (sum != h->stream_fnv64) {
		snprintf(err, errlen, "%s: checksum mismatch in the migration stream (file %016" PRIx64 ", computed %016" PRIx64 ")",
			 path, h->stream_fnv64, sum);
		goto fail_h;
	}
	free(buf);
	free(chunk);
	close(fd);
	return 0;
fail_h:
	save_header_free(h);
fail:
	free(buf);
	free(chunk);
	close(fd);
	return -1;
}
