/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pvxl's side of the pvtimed control protocol (shared/pvtime_ctl.h): one
 * request per connection, reply "ok\n<body>" or "error <code> <message>\n".
 */
#ifndef PVXL_CONTROL_CLIENT_H
#define PVXL_CONTROL_CLIENT_H

#include <stdbool.h>
#include <stdio.h>

struct pvxl_request {
	const char *socket_path;
	bool json;			/* wire format "json", else "text" */
	const char *command;		/* protocol command, e.g. "list" */
	int argc;
	const char *const *argv;	/* raw arguments; escaped on the wire */
};

/*
 * Send the request and copy the reply body to 'body' unchanged.  Returns the
 * process exit code: 0 on "ok"; the daemon's code (1 or 2) on "error", whose
 * message is printed as "pvxl: <message>" on stderr; 1 on any local or
 * transport failure, also reported on stderr.
 */
int pvxl_ctl_call(const struct pvxl_request *req, FILE *body);

/* Unix socket connect with a clear error on stderr; fd or -1. */
int pvxl_unix_connect(const char *path, const char *what);

#endif /* PVXL_CONTROL_CLIENT_H */
