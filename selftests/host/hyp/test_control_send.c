// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A control reply is bounded by one deadline for the whole reply: a client
 * that reads a little now and then (each send() makes progress, so a
 * per-send timeout never fires) must not hold the sender past it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "control/control_send.h"
#include "core/monotonic.h"

#define REPLY_BYTES	(16u << 20)

static atomic_bool stop;
static atomic_ulong received;

/* Reads 4 KiB every 20 ms until told to stop. */
static void *slow_reader(void *arg)
{
	int fd = *(int *)arg;
	char buf[4096];

	while (!atomic_load(&stop)) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0)
			atomic_fetch_add(&received, (unsigned long)n);
		else if (n == 0)
			break;
		usleep(20000);
	}
	return NULL;
}

/* Reads everything as fast as it comes. */
static void *fast_reader(void *arg)
{
	int fd = *(int *)arg;
	char buf[65536];
	ssize_t n;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0)
			atomic_fetch_add(&received, (unsigned long)n);
		else if (n < 0 && errno == EAGAIN)
			poll(&pfd, 1, 1000);
		else
			break;
	}
	return NULL;
}

static int pair(int sv[2])
{
	int small = 4096;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return -1;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	return 0;
}

int main(void)
{
	char *reply = calloc(1, REPLY_BYTES);
	pthread_t thread;
	uint64_t start, took;
	int sv[2], ret;

	tap_plan(4);
	if (!reply || pair(sv)) {
		tap_ok(0, "socketpair");
		return tap_done();
	}
	atomic_store(&stop, false);
	pthread_create(&thread, NULL, slow_reader, &sv[1]);
	start = monotonic_ns();
	ret = control_send_all(sv[0], reply, REPLY_BYTES, start + 300000000ull);
	took = monotonic_ns() - start;
	atomic_store(&stop, true);
	pthread_join(thread, NULL);
	tap_ok(ret == -ETIMEDOUT, "slow reader: reply given up (%d, %lu bytes read)",
	       ret, atomic_load(&received));
	tap_ok(took >= 290000000ull && took < 800000000ull,
	       "after the one 300 ms deadline for the whole reply (%llu ms)",
	       (unsigned long long)(took / 1000000));
	close(sv[0]);
	close(sv[1]);

	if (pair(sv)) {
		tap_ok(0, "socketpair");
		return tap_done();
	}
	atomic_store(&received, 0);
	pthread_create(&thread, NULL, fast_reader, &sv[1]);
	ret = control_send_all(sv[0], reply, REPLY_BYTES,
			       monotonic_ns() + 10000000000ull);
	shutdown(sv[0], SHUT_WR);
	pthread_join(thread, NULL);
	tap_ok(ret == 0 && atomic_load(&received) == REPLY_BYTES,
	       "a reading client gets the whole %u-byte reply (%lu)", REPLY_BYTES,
	       atomic_load(&received));
	close(sv[0]);
	close(sv[1]);

	if (pair(sv)) {
		tap_ok(0, "socketpair");
		return tap_done();
	}
	start = monotonic_ns();
	ret = control_send_all(sv[0], reply, REPLY_BYTES, start);
	tap_ok(ret == -ETIMEDOUT && monotonic_ns() - start < 100000000ull,
	       "a deadline of now: one attempt, no wait (%d)", ret);
	close(sv[0]);
	close(sv[1]);
	free(reply);
	return tap_done();
}
