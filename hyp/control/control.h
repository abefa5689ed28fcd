/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The control socket (shared/pvtime_ctl.h, Documentation/control-protocol.rst):
 * one request per connection, served from the event loop without blocking
 * on the client.
 */
#ifndef PVTIMED_CONTROL_H
#define PVTIMED_CONTROL_H

/* Bind and listen on path, mode 0666 (access is checked per peer uid). */
int control_start(const char *path);
void control_stop(void);

/* The path listened on, NULL before control_start. */
const char *control_socket_path(void);

#endif /* PVTIMED_CONTROL_H */
