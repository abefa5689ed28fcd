/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * systemd's readiness protocol without libsystemd (sd_notify(3)): one
 * datagram of "KEY=value" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or '@' for the abstract namespace).
 */
#ifndef PVTIMED_SD_NOTIFY_H
#define PVTIMED_SD_NOTIFY_H

/*
 * Send state ("READY=1", "STOPPING=1", "STATUS=...").  Returns 1 sent, 0
 * when not started by systemd (no $NOTIFY_SOCKET), or -errno.
 */
int sd_notify_send(const char *state);

#endif /* PVTIMED_SD_NOTIFY_H */
