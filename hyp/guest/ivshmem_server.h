/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A domain's ivshmem server: the Unix socket its QEMU ivshmem-doorbell
 * connects to (QEMU docs/specs/ivshmem-spec.rst).  pvtimed is peer 0 and
 * holds the eventfds the guest rings; QEMU is peer 1 and is given its own
 * eventfds, which pvtimed writes to interrupt the guest.
 */
#ifndef PVTIMED_IVSHMEM_SERVER_H
#define PVTIMED_IVSHMEM_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "pvtime_abi.h"
#include "clock/shm.h"
#include "core/event_loop.h"
#include "guest/doorbell_limit.h"

#define IVSHMEM_HOST_PEER	PVTIME_SHM_HOST_PEER
#define IVSHMEM_GUEST_PEER	PVTIME_SHM_GUEST_PEER

struct ivshmem_server;

/* Called from the event loop when the guest rang one of pvtimed's vectors. */
typedef void (*ivshmem_doorbell_fn)(struct ivshmem_server *srv,
				    unsigned int vector);

struct ivshmem_doorbell {
	struct event_source src;	/* peer 0's eventfd for this vector */
	struct ivshmem_server *server;
	unsigned int vector;
	struct doorbell_limit limit;	/* a guest ringing without pause */
};

struct ivshmem_server {
	const char *domain_name;
	char *path;
	int shm_fd;				/* not owned */
	struct event_source listener;
	struct event_source client;		/* fd -1 when none */
	struct ivshmem_doorbell host_vectors[PVTIME_NR_VECTORS];
	int guest_vectors[PVTIME_NR_VECTORS];	/* peer 1's eventfds */
	ivshmem_doorbell_fn on_doorbell;
	void *owner;
	bool client_connected_once;
	bool adopted;		/* fds taken from a running QEMU; no socket */
};

/*
 * Create eventfds, bind and listen on path (replacing a stale socket) and
 * register with the event loop.  Returns 0 or -errno.
 */
int ivshmem_server_start(struct ivshmem_server *srv, const char *domain_name,
			 const char *path, int shm_fd,
			 ivshmem_doorbell_fn on_doorbell, void *owner);
void ivshmem_server_stop(struct ivshmem_server *srv);

/*
 * Serve a QEMU that is already connected (a previous pvtimed's): its
 * eventfds, taken from QEMU, are owned from now on (the arrays are set to
 * -1), and no socket is listened on.  Returns 0 or -errno.
 */
int ivshmem_server_adopt(struct ivshmem_server *srv, const char *domain_name,
			 const char *path, int shm_fd, int *host_fds,
			 int *guest_fds, ivshmem_doorbell_fn on_doorbell,
			 void *owner);

/* The kernel's ids of the eventfds, for finding them again in QEMU. */
int ivshmem_server_eventfd_ids(const struct ivshmem_server *srv,
			       uint64_t *host_ids, uint64_t *guest_ids);

/* Interrupt the guest on a vector.  Returns 0 or -errno. */
int ivshmem_server_ring(struct ivshmem_server *srv, unsigned int vector);

/*
 * Serve QEMU's connection now, without the event loop (pvxl restore waits
 * for QEMU synchronously, and QEMU's device realize waits for this).
 * 0 once a client is connected; -ETIMEDOUT, or -errno.
 */
int ivshmem_server_accept_wait(struct ivshmem_server *srv, int timeout_ms);

bool ivshmem_server_connected(const struct ivshmem_server *srv);

/* Event-loop wakes by the guest's doorbells, and windows cut short. */
void ivshmem_server_doorbell_counts(const struct ivshmem_server *srv,
				    unsigned long *wakes,
				    unsigned long *held_off);

/*
 * Serve the guest's doorbells for up to timeout_ms without the event loop
 * (pvxl migrate polls QEMU synchronously while the guest runs on and
 * asks its mailbox for samples).  Returns how many doorbells were served.
 */
int ivshmem_server_serve_doorbells(struct ivshmem_server *srv, int timeout_ms);

#endif /* PVTIMED_IVSHMEM_SERVER_H */
