// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "control_client.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pvtime_ctl.h"

/* Status lines longer than this are not from a pvtimed we understand. */
#define STATUS_LINE_MAX		PVTIME_CTL_MAX_LINE

int pvxl_unix_connect(const char *path, const char *what)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "pvxl: %s socket path too long (max %zu bytes): %s\n",
			what, sizeof(addr.sun_path) - 1, path);
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "pvxl: socket: %s\n", strerror(errno));
		return -1;
	}
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno == EINTR)
			continue;
		fprintf(stderr, "pvxl: cannot connect to %s at %s: %s\n",
			what, path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int append(char *line, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n >= PVTIME_CTL_MAX_LINE)
		return -1;
	memcpy(line + *len, s, n + 1);
	*len += n;
	return 0;
}

/* "<format> <command> <escaped arg>...\n"; -1 if it would exceed the limit. */
static int build_request(const struct pvxl_request *req, char *line, size_t *len)
{
	char escaped[PVTIME_CTL_MAX_LINE];
	int i;

	*len = 0;
	line[0] = '\0';
	if (append(line, len, req->json ? "json " : "text ") ||
	    append(line, len, req->command))
		return -1;
	for (i = 0; i < req->argc; i++) {
		if (pvtime_ctl_escape(req->argv[i], escaped, sizeof(escaped)) < 0 ||
		    append(line, len, " ") || append(line, len, escaped))
			return -1;
	}
	return append(line, len, "\n");
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t read_some(int fd, char *buf, size_t len)
{
	ssize_t n;

	do {
		n = read(fd, buf, len);
	} while (n < 0 && errno == EINTR);
	return n;
}

/* Control characters from a misbehaving peer must not reach the terminal. */
static void print_sanitized(FILE *out, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		fputc((s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?', out);
}

/* "error <code> <message>": prints the message, returns the exit code. */
static int report_error_line(const char *line, size_t len)
{
	const char *p = line + strlen("error");
	const char *end = line + len;
	int code = 0;

	if (p < end && *p == ' ')
		p++;
	while (p < end && *p >= '0' && *p <= '9' && code < 1000)
		code = code * 10 + (*p++ - '0');
	if (p < end && *p == ' ')
		p++;
	fputs("pvxl: ", stderr);
	print_sanitized(stderr, p, (size_t)(end - p));
	fputc('\n', stderr);
	/* Only the codes the protocol defines; anything else is a failure. */
	return code == PVTIME_EXIT_USAGE ? PVTIME_EXIT_USAGE : PVTIME_EXIT_FAILURE;
}

static int malformed(const char *line, size_t len)
{
	fputs("pvxl: malformed reply from pvtimed: '", stderr);
	print_sanitized(stderr, line, len > 200 ? 200 : len);
	fputs("'\n", stderr);
	return PVTIME_EXIT_FAILURE;
}

static int copy_body(int fd, const char *already, size_t already_len, FILE *body)
{
	char buf[8192];
	ssize_t n;

	if (already_len && fwrite(already, 1, already_len, body) != already_len)
		goto write_failed;
	while ((n = read_some(fd, buf, sizeof(buf))) > 0) {
		if (fwrite(buf, 1, (size_t)n, body) != (size_t)n)
			goto write_failed;
	}
	if (n < 0) {
		fprintf(stderr, "pvxl: reading reply from pvtimed: %s\n", strerror(errno));
		return PVTIME_EXIT_FAILURE;
	}
	if (fflush(body) == 0)
		return PVTIME_EXIT_OK;
write_failed:
	fprintf(stderr, "pvxl: writing output: %s\n", strerror(errno));
	return PVTIME_EXIT_FAILURE;
}

static int read_reply(int fd, FILE *body)
{
	char buf[STATUS_LINE_MAX + 1];
	size_t have = 0;
	char *newline = NULL;

	while (!newline) {
		ssize_t n;

		if (have == sizeof(buf))
			return malformed(buf, have);
		n = read_some(fd, buf + have, sizeof(buf) - have);
		if (n < 0) {
			fprintf(stderr, "pvxl: reading reply from pvtimed: %s\n",
				strerror(errno));
			return PVTIME_EXIT_FAILURE;
		}
		if (n == 0) {
			if (!have) {
				fprintf(stderr, "pvxl: pvtimed closed the connection without a reply\n");
				return PVTIME_EXIT_FAILURE;
			}
			return malformed(buf, have);
		}
		newline = memchr(buf + have, '\n', (size_t)n);
		have += (size_t)n;
	}

	size_t line_len = (size_t)(newline - buf);
	size_t rest = have - line_len - 1;

	if (line_len == 2 && !memcmp(buf, "ok", 2))
		return copy_body(fd, newline + 1, rest, body);
	if (line_len >= 5 && !memcmp(buf, "error", 5) &&
	    (line_len == 5 || buf[5] == ' '))
		return report_error_line(buf, line_len);
	return malformed(buf, line_len);
}

int pvxl_ctl_call(const struct pvxl_request *req, FILE *body)
{
	char line[PVTIME_CTL_MAX_LINE];
	size_t len;
	int fd, rc;

	if (build_request(req, line, &len)) {
		fprintf(stderr, "pvxl: %s: request longer than the protocol's %d-byte limit\n",
			req->command, PVTIME_CTL_MAX_LINE);
		return PVTIME_EXIT_FAILURE;
	}
	fd = pvxl_unix_connect(req->socket_path, "pvtimed");
	if (fd < 0)
		return PVTIME_EXIT_FAILURE;
	if (write_all(fd, line, len)) {
		fprintf(stderr, "pvxl: sending request to pvtimed: %s\n", strerror(errno));
		close(fd);
		return PVTIME_EXIT_FAILURE;
	}
	rc = read_reply(fd, body);
	close(fd);
	return rc;
}
