/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Sending a control reply within one absolute deadline. */
#ifndef PVTIMED_CONTROL_SEND_H
#define PVTIMED_CONTROL_SEND_H

#include <stddef.h>
#include <stdint.h>

/*
 * Send all of buf on the non-blocking socket fd, waiting for room with
 * poll() until deadline_ns (CLOCK_MONOTONIC).  The deadline bounds the
 * whole reply, however little the client reads at a time.  Returns 0, or
 * -ETIMEDOUT or another -errno with part of the reply possibly sent.
 */
int control_send_all(int fd, const void *buf, size_t len, uint64_t deadline_ns);

#endif /* PVTIMED_CONTROL_SEND_H */
