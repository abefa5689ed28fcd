// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "core/log.h"
#include "core/proc_fds.h"
#include "guest/ivshmem_server.h"

#define IVSHMEM_PROTOCOL_VERSION	0

/* One message: a little-endian int64, optionally carrying one fd. */
static int send_message(int sock, int64_t value, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = &value, .iov_len = sizeof(value) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(value) ? 0 : -EIO;
}

/* The whole handshake; a fresh socket's buffer holds it without blocking. */
static int send_setup(struct ivshmem_server *srv, int sock)
{
	unsigned int v;
	int ret;

	ret = send_message(sock, IVSHMEM_PROTOCOL_VERSION, -1);
	if (!ret)
		ret = send_message(sock, IVSHMEM_GUEST_PEER, -1);
	if (!ret)
		ret = send_message(sock, -1, srv->shm_fd);
	for (v = 0; v < PVTIME_NR_VECTORS && !ret; v++)
		ret = send_message(sock, IVSHMEM_HOST_PEER,
				   srv->host_vectors[v].src.fd);
	for (v = 0; v < PVTIME_NR_VECTORS && !ret; v++)
		ret = send_message(sock, IVSHMEM_GUEST_PEER,
				   srv->guest_vectors[v]);
	return ret;
}

static void drop_client(struct ivshmem_server *srv)
{
	if (srv->client.fd < 0)
		return;
	event_loop_remove(&srv->client);
	close(srv->client.fd);
	srv->client.fd = -1;
}

/* The client never speaks; readable means it went away (or misbehaves). */
static void on_client_event(struct event_source *src, uint32_t events)
{
	struct ivshmem_server *srv =
		(struct ivshmem_server *)((char *)src -
					  offsetof(struct ivshmem_server, client));
	char junk[64];
	ssize_t n;

	(void)events;
	n = recv(src->fd, junk, sizeof(junk), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		log_warn("domain %s: ivshmem client sent unexpected data; disconnecting it",
			 srv->domain_name);
	else
		log_info("domain %s: ivshmem client disconnected", srv->domain_name);
	drop_client(srv);
}

static void on_listener_event(struct event_source *src, uint32_t events)
{
	struct ivshmem_server *srv =
		(struct ivshmem_server *)((char *)src -
					  offsetof(struct ivshmem_server, listener));
	int sock, ret;

	(void)events;
	sock = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (sock < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("domain %s: ivshmem accept: %s", srv->domain_name,
				 strerror(errno));
		return;
	}
	if (srv->client.fd >= 0) {
		log_warn("domain %s: refusing a second ivshmem client", srv->domain_name);
		close(sock);
		return;
	}
	ret = send_setup(srv, sock);
	if (ret) {
		log_error("domain %s: ivshmem handshake failed: %s", srv->domain_name,
			  strerror(-ret));
		close(sock);
		return;
	}
	srv->client.fd = sock;
	ret = event_loop_add(&srv->client);
	if (ret) {
		log_error("domain %s: cannot watch the ivshmem client: %s",
			  srv->domain_name, strerror(-ret));
		close(sock);
		srv->client.fd = -1;
		return;
	}
	srv->client_connected_once = true;
	log_info("domain %s: ivshmem client connected as peer %d (shm and %d vectors sent)",
		 srv->domain_name, IVSHMEM_GUEST_PEER, PVTIME_NR_VECTORS);
}

int ivshmem_server_accept_wait(struct ivshmem_server *srv, int timeout_ms)
{
	struct pollfd pfd = { .fd = srv->listener.fd, .events = POLLIN };
	int n;

	if (srv->client.fd >= 0)
		return 0;
	n = poll(&pfd, 1, timeout_ms);
	if (n < 0)
		return -errno;
	if (!n)
		return -ETIMEDOUT;
	on_listener_event(&srv->listener, POLLIN);
	return srv->client.fd >= 0 ? 0 : -EPROTO;
}

static void on_doorbell_event(struct event_source *src, uint32_t events)
{
	struct ivshmem_doorbell *bell = (struct ivshmem_doorbell *)src;
	uint64_t count;

	(void)events;
	if (read(src->fd, &count, sizeof(count)) != sizeof(count))
		return;
	doorbell_limit_wake(&bell->limit);
	bell->server->on_doorbell(bell->server, bell->vector);
}

int ivshmem_server_serve_doorbells(struct ivshmem_server *srv, int timeout_ms)
{
	struct pollfd pfd[PVTIME_NR_VECTORS];
	unsigned int v, nr = 0;
	int n, served = 0;

	for (v = 0; v < PVTIME_NR_VECTORS; v++) {
		if (srv->host_vectors[v].src.fd < 0)
			continue;
		pfd[nr].fd = srv->host_vectors[v].src.fd;
		pfd[nr].events = POLLIN;
		pfd[nr].revents = 0;
		nr++;
	}
	n = poll(pfd, nr, timeout_ms);
	if (n <= 0)
		return 0;
	for (v = 0; v < PVTIME_NR_VECTORS; v++) {
		struct ivshmem_doorbell *bell = &srv->host_vectors[v];
		unsigned int i;

		for (i = 0; i < nr; i++) {
			if (pfd[i].fd != bell->src.fd || !(pfd[i].revents & POLLIN))
				continue;
			on_doorbell_event(&bell->src, POLLIN);
			served++;
		}
	}
	return served;
}

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int sock, err;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sock < 0)
		return -errno;
	/* The state dir is ours: whatever sits at our name is stale. */
	if (unlink(path) < 0 && errno != ENOENT)
		goto fail;
	if (bind(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto fail;
	if (chmod(path, 0600) < 0 || listen(sock, 4) < 0)
		goto fail;
	return sock;
fail:
	err = -errno;
	close(sock);
	return err;
}

/* Everything but the eventfds and the listener. */
static int server_init(struct ivshmem_server *srv, const char *domain_name,
		       const char *path, int shm_fd,
		       ivshmem_doorbell_fn on_doorbell, void *owner)
{
	unsigned int v;

	memset(srv, 0, sizeof(*srv));
	srv->domain_name = domain_name;
	srv->shm_fd = shm_fd;
	srv->on_doorbell = on_doorbell;
	srv->owner = owner;
	srv->listener.fd = -1;
	srv->listener.handler = on_listener_event;
	srv->client.fd = -1;
	srv->client.handler = on_client_event;
	for (v = 0; v < PVTIME_NR_VECTORS; v++) {
		struct ivshmem_doorbell *bell = &srv->host_vectors[v];

		bell->server = srv;
		bell->vector = v;
		bell->src.handler = on_doorbell_event;
		bell->src.fd = -1;
		bell->limit.resume.fd = -1;
		srv->guest_vectors[v] = -1;
	}
	srv->path = strdup(path);
	return srv->path ? 0 : -ENOMEM;
}

/* Serve one of the guest's doorbells, within its rate limit. */
static int watch_doorbell(struct ivshmem_server *srv, unsigned int vector)
{
	struct ivshmem_doorbell *bell = &srv->host_vectors[vector];
	int ret;

	ret = doorbell_limit_init(&bell->limit, &bell->src, srv->domain_name,
				  vector);
	return ret ? ret : event_loop_add(&bell->src);
}

int ivshmem_server_start(struct ivshmem_server *srv, const char *domain_name,
			 const char *path, int shm_fd,
			 ivshmem_doorbell_fn on_doorbell, void *owner)
{
	unsigned int v;
	int ret;

	ret = server_init(srv, domain_name, path, shm_fd, on_doorbell, owner);
	if (ret)
		return ret;
	for (v = 0; v < PVTIME_NR_VECTORS; v++) {
		struct ivshmem_doorbell *bell = &srv->host_vectors[v];

		bell->src.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		srv->guest_vectors[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (bell->src.fd < 0 || srv->guest_vectors[v] < 0) {
			ret = -errno;
			goto fail;
		}
		ret = watch_doorbell(srv, v);
		if (ret)
			goto fail;
	}
	srv->listener.fd = listen_on(path);
	if (srv->listener.fd < 0) {
		ret = srv->listener.fd;
		srv->listener.fd = -1;
		goto fail;
	}
	ret = event_loop_add(&srv->listener);
	if (ret)
		goto fail;
	return 0;
fail:
	ivshmem_server_stop(srv);
	return ret;
}

int ivshmem_server_adopt(struct ivshmem_server *srv, const char *domain_name,
			 const char *path, int shm_fd, int *host_fds,
			 int *guest_fds, ivshmem_doorbell_fn on_doorbell,
			 void *owner)
{
	unsigned int v;
	int ret;

	ret = server_init(srv, domain_name, path, shm_fd, on_doorbell, owner);
	for (v = 0; v < PVTIME_NR_VECTORS; v++) {
		srv->host_vectors[v].src.fd = host_fds[v];
		srv->guest_vectors[v] = guest_fds[v];
		host_fds[v] = -1;
		guest_fds[v] = -1;
	}
	if (ret)
		goto fail;
	/* The dead pvtimed's socket: QEMU never connects again. */
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("domain %s: cannot remove the stale socket %s: %s",
			 domain_name, path, strerror(errno));
	/* Doorbells rung while nobody listened stay counted: read soon. */
	for (v = 0; v < PVTIME_NR_VECTORS && !ret; v++)
		ret = watch_doorbell(srv, v);
	if (ret)
		goto fail;
	srv->adopted = true;
	return 0;
fail:
	ivshmem_server_stop(srv);
	return ret;
}

int ivshmem_server_eventfd_ids(const struct ivshmem_server *srv,
			       uint64_t *host_ids, uint64_t *guest_ids)
{
	unsigned int v;
	int ret = 0;

	for (v = 0; v < PVTIME_NR_VECTORS && !ret; v++) {
		ret = proc_eventfd_id(0, srv->host_vectors[v].src.fd, &host_ids[v]);
		if (!ret)
			ret = proc_eventfd_id(0, srv->guest_vectors[v], &guest_ids[v]);
	}
	return ret;
}

void ivshmem_server_stop(struct ivshmem_server *srv)
{
	unsigned int v;

	drop_client(srv);
	if (srv->listener.fd >= 0) {
		event_loop_remove(&srv->listener);
		close(srv->listener.fd);
		srv->listener.fd = -1;
		if (srv->path)
			unlink(srv->path);
	}
	for (v = 0; v < PVTIME_NR_VECTORS; v++) {
		doorbell_limit_fini(&srv->host_vectors[v].limit);
		if (srv->host_vectors[v].src.fd >= 0) {
			event_loop_remove(&srv->host_vectors[v].src);
			close(srv->host_vectors[v].src.fd);
			srv->host_vectors[v].src.fd = -1;
		}
		if (srv->guest_vectors[v] >= 0) {
			close(srv->guest_vectors[v]);
			srv->guest_vectors[v] = -1;
		}
	}
	free(srv->path);
	srv->path = NULL;
}

int ivshmem_server_ring(struct ivshmem_server *srv, unsigned int vector)
{
	uint64_t one = 1;

	if (vector >= PVTIME_NR_VECTORS)
		return -EINVAL;
	if (write(srv->guest_vectors[vector], &one, sizeof(one)) != sizeof(one))
		return errno == EAGAIN ? 0 : -errno;	/* already pending */
	return 0;
}

void ivshmem_server_doorbell_counts(const struct ivshmem_server *srv,
				    unsigned long *wakes,
				    unsigned long *held_off)
{
	unsigned int v;

	*wakes = 0;
	*held_off = 0;
	for (v = 0; v < PVTIME_NR_VECTORS; v++) {
		*wakes += srv->host_vectors[v].limit.wakes;
		*held_off += srv->host_vectors[v].limit.held_off;
	}
}

/*
 * QEMU holds what was sent once it has read every message: a unix
 * socket's SIOCOUTQ counts the bytes the peer has not read yet.  Until
 * then "connected" would be a lie that matters: a pvtimed that ends
 * meanwhile takes the unread messages with it (QEMU drops them when it
 * sees the hangup), and no later pvtimed can adopt that QEMU.
 */
bool ivshmem_server_connected(const struct ivshmem_server *srv)
{
	int unread;

	if (srv->adopted)
		return true;
	if (srv->client.fd < 0)
		return false;
	if (ioctl(srv->client.fd, SIOCOUTQ, &unread) < 0) {
		log_debug("domain %s: SIOCOUTQ on the ivshmem socket: %s",
			  srv->domain_name, strerror(errno));
		return false;
	}
	return unread == 0;
}
