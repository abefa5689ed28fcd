/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pvtimed control protocol, spoken by pvxl (and tests) over a Unix stream
 * socket.  One request per connection:
 *
 *   request:  "<format> <command> [arg...]\n"   (at most PVTIME_CTL_MAX_LINE)
 *             format is "text" or "json"; each argument is percent-escaped
 *             (pvtime_ctl_escape) so it never holds a space or newline.
 *   reply:    "ok\n" <body>                  or
 *             "error <exit-code> <message>\n"  (exit-code 1 failure, 2 usage)
 *             then the daemon closes the connection.  The body is the text
 *             or JSON the client prints as is.
 *
 * Commands (Documentation/control-protocol.rst has the full reference):
 *   create <config-path>                   absolute path, read by pvtimed
 *   list
 *   info <dom>                              dom: name or numeric domid
 *   destroy <dom>
 *   console <dom>                           body: console socket path
 *   set-wallclock <dom|--all> host          follow host CLOCK_REALTIME
 *   set-wallclock <dom|--all> abs <ns>      wall time := ns since epoch
 *   set-wallclock <dom|--all> rel <ns>      wall time += signed ns
 *   host-info                               timebase: TSC Hz and precision
 *
 * Only peers with uid 0 (SO_PEERCRED) are served; others get
 * "error 1 permission denied".
 */
#ifndef PVTIME_CTL_H
#define PVTIME_CTL_H

#include <stddef.h>

#define PVTIME_CTL_DEFAULT_SOCKET	"/run/pvtimed/control.sock"
#define PVTIME_CTL_DEFAULT_STATE_DIR	"/run/pvtimed"
#define PVTIME_CTL_SOCKET_ENV		"PVTIME_SOCKET"
#define PVTIME_CTL_MAX_LINE		4096
#define PVTIME_CTL_MAX_ARGS		8

/* Exit codes shared by pvxl and the reply's error line. */
#define PVTIME_EXIT_OK			0
#define PVTIME_EXIT_FAILURE		1
#define PVTIME_EXIT_USAGE		2

static inline int pvtime_ctl_must_escape(unsigned char c)
{
	return c <= 0x20 || c == '%' || c >= 0x7f;
}

/*
 * Percent-escape src into dst (size dstlen).  Returns the escaped length, or
 * -1 if it does not fit.
 */
static inline int pvtime_ctl_escape(const char *src, char *dst, size_t dstlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t out = 0;

	for (; *src; src++) {
		unsigned char c = (unsigned char)*src;
		size_t need = pvtime_ctl_must_escape(c) ? 3 : 1;

		if (out + need >= dstlen)
			return -1;
		if (need == 3) {
			dst[out++] = '%';
			dst[out++] = hex[c >> 4];
			dst[out++] = hex[c & 15];
		} else {
			dst[out++] = (char)c;
		}
	}
	if (out >= dstlen)
		return -1;
	dst[out] = '\0';
	return (int)out;
}

static inline int pvtime_ctl_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Undo pvtime_ctl_escape in place.  Returns 0, or -1 on a malformed escape
 * or an escaped NUL (which would silently truncate the argument).
 */
static inline int pvtime_ctl_unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (*s == '%') {
			int hi = pvtime_ctl_hexval(s[1]);
			int lo = hi < 0 ? -1 : pvtime_ctl_hexval(s[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*out++ = (char)(hi << 4 | lo);
			s += 3;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
	return 0;
}

#endif /* PVTIME_CTL_H */
