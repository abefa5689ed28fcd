// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvxl migrate: this pvtimed as the source speaks to the destination
 * pvtimed's control socket, as a client of the same protocol
 * (Documentation/control-protocol.rst, "Migration"):
 *
 *   migrate-prepare 1 <header>         -> ok: name, domid, incoming (URI)
 *   (QMP migrate to that URI, the guest running, until QEMU switched over)
 *   migrate-finish 1 <name> <header>   -> ok: name, domid, state, ...
 *   migrate-abort 1 <name>             (after any failure, best effort)
 *
 * <header> is the save file's header (domain/save_file.h) with no stream,
 * written by the source in its state dir and read by the destination:
 * both run on this host as root.  The first carries the config, the
 * second the clock at the stop.  Everything runs synchronously in the
 * source's event loop (the migrating guest's doorbells are served); the
 * destination answers each request from its own loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "pvclock_math.h"
#include "pvtime_ctl.h"
#include "control/control.h"
#include "control/control_migrate.h"
#include "core/log.h"
#include "core/monotonic.h"
#include "core/timebase.h"
#include "domain/domain.h"

#define PREPARE_TIMEOUT_MS	60000
#define FINISH_TIMEOUT_MS	60000
#define ABORT_TIMEOUT_MS	5000
#define PEER_BODY_MAX		(64 * 1024)

enum peer_outcome {
	PEER_OK,		/* body holds the reply body */
	PEER_ERROR,		/* the peer said "error <code> <message>" */
	PEER_FAILED,		/* no answer a pvtimed would give */
};

struct peer_reply {
	enum peer_outcome outcome;
	int code;
	char message[1024];	/* PEER_ERROR: its message; FAILED: why */
	char body[PEER_BODY_MAX + 1];
};

static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now = monotonic_ns();
	int n;

	if (now >= deadline_ns)
		return -ETIMEDOUT;
	n = poll(&pfd, 1, (int)((deadline_ns - now) / 1000000 + 1));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n ? 0 : -ETIMEDOUT;
}

/* One request to the pvtimed at path; r->outcome says how it went. */
static void peer_call(const char *path, unsigned int timeout_ms, int argc,
		      const char *const *argv, struct peer_reply *r)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	uint64_t deadline = monotonic_ns() + timeout_ms * 1000000ull;
	char line[PVTIME_CTL_MAX_LINE], escaped[PVTIME_CTL_MAX_LINE];
	size_t len = 0, sent = 0, got = 0;
	char *nl;
	int fd, i, n;

	memset(r, 0, sizeof(*r));
	r->outcome = PEER_FAILED;
	n = snprintf(line, sizeof(line), "text");
	for (i = 0; i < argc; i++) {
		if (pvtime_ctl_escape(argv[i], escaped, sizeof(escaped)) < 0 ||
		    (size_t)(n += snprintf(line + n, sizeof(line) - (size_t)n,
					   " %s", escaped)) >= sizeof(line) - 1) {
			snprintf(r->message, sizeof(r->message),
				 "request longer than the protocol's %d bytes",
				 PVTIME_CTL_MAX_LINE);
			return;
		}
	}
	line[n++] = '\n';
	len = (size_t)n;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(r->message, sizeof(r->message), "socket path too long");
		return;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(r->message, sizeof(r->message), "socket: %s",
			 strerror(errno));
		return;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		snprintf(r->message, sizeof(r->message), "cannot connect: %s",
			 strerror(errno));
		goto out;
	}
	while (sent < len) {
		ssize_t w = send(fd, line + sent, len - sent, MSG_NOSIGNAL);

		if (w < 0 && errno == EAGAIN) {
			int ret = wait_fd(fd, POLLOUT, deadline);

			if (ret) {
				snprintf(r->message, sizeof(r->message), "send: %s",
					 strerror(-ret));
				goto out;
			}
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			snprintf(r->message, sizeof(r->message), "send: %s",
				 strerror(errno));
			goto out;
		}
		sent += (size_t)w;
	}
	for (;;) {
		ssize_t got_now;
		int ret;

		if (got == PEER_BODY_MAX) {
			snprintf(r->message, sizeof(r->message), "reply longer than %d bytes",
				 PEER_BODY_MAX);
			goto out;
		}
		got_now = recv(fd, r->body + got, PEER_BODY_MAX - got, 0);
		if (got_now > 0) {
			got += (size_t)got_now;
			continue;
		}
		if (!got_now)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			snprintf(r->message, sizeof(r->message), "receive: %s",
				 strerror(errno));
			goto out;
		}
		ret = wait_fd(fd, POLLIN, deadline);
		if (ret) {
			snprintf(r->message, sizeof(r->message),
				 "no complete reply within %u s", timeout_ms / 1000);
			goto out;
		}
	}
	r->body[got] = '\0';
	nl = memchr(r->body, '\n', got);
	if (!nl || memchr(r->body, '\0', got)) {
		snprintf(r->message, sizeof(r->message),
			 got ? "its reply is not a pvtimed's" :
			       "it closed the connection without a reply");
		goto out;
	}
	*nl = '\0';
	if (!strcmp(r->body, "ok")) {
		memmove(r->body, nl + 1, got - (size_t)(nl + 1 - r->body) + 1);
		r->outcome = PEER_OK;
	} else if (!strncmp(r->body, "error ", 6) && r->body[6] >= '0' &&
		   r->body[6] <= '9') {
		char *msg;

		r->code = (int)strtol(r->body + 6, &msg, 10);
		snprintf(r->message, sizeof(r->message), "%s",
			 *msg == ' ' ? msg + 1 : msg);
		r->outcome = PEER_ERROR;
	} else {
		snprintf(r->message, sizeof(r->message), "its reply is not a pvtimed's");
	}
out:
	close(fd);
}

/* "key: value" in a text body, into out; 0 or -1. */
static int body_value(const char *body, const char *key, char *out,
		      size_t outlen)
{
	size_t klen = strlen(key);
	const char *p = body;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ':' && p[klen + 1] == ' ') {
			const char *v = p + klen + 2;
			size_t n = strcspn(v, "\n");

			if (n >= outlen)
				return -1;
			memcpy(out, v, n);
			out[n] = '\0';
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* DEST is this pvtimed's own control socket (the same inode). */
static bool same_socket(const char *dest)
{
	const char *own = control_socket_path();
	struct stat a, b;

	return own && !stat(own, &a) && !stat(dest, &b) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void send_abort(const char *dest, const char *name)
{
	const char *argv[] = { "migrate-abort", PVTIME_MIGRATE_PROTOCOL_STR,
			       name };
	struct peer_reply *r = malloc(sizeof(*r));

	if (!r)
		return;
	peer_call(dest, ABORT_TIMEOUT_MS, 3, argv, r);
	if (r->outcome != PEER_OK)
		log_debug("migrate-abort to %s: %s", dest, r->message);
	free(r);
}

/*
 * Whether to migrate d with the guest running.  QEMU 7.2's TCG loses guest
 * stores made while a live migration runs: a guest under load found 41 to
 * 209 pages of its RAM different on the destination, and its kernel
 * oopsed there (Documentation/pvtimed.rst, "Migration").  So "auto" is
 * live on KVM only; "live" asks for it anyway.  0, or -1 with err.
 */
static int migrate_mode(const struct domain *d, const char *word, bool *live,
			const char **why, char *err, size_t errlen)
{
	if (!word || !strcmp(word, "auto")) {
		*live = d->cfg.accel != DOMAIN_ACCEL_TCG;
		*why = *live ? "auto: live on kvm" :
			       "auto: stopped, as QEMU's TCG loses guest writes made during a live migration";
	} else if (!strcmp(word, "live")) {
		*live = true;
		*why = "live, as asked";
	} else if (!strcmp(word, "stopped")) {
		*live = false;
		*why = "stopped, as asked";
	} else {
		snprintf(err, errlen, "migration mode '%.32s' is not auto, live or stopped",
			 word);
		return -1;
	}
	return 0;
}

/* migrate <dom> <dest-socket> [auto|live|stopped] */
int cmd_migrate(int argc, char **argv, struct emit *e, char *err,
		size_t errlen)
{
	const char *dest = argv[1];
	struct domain *d = domain_lookup(argv[0]);
	struct domain_migrate_result mres;
	struct peer_reply *r = NULL;
	char name[DOMAIN_NAME_MAX + 1], uri[4200], value[64], why[768];
	char *header = NULL;
	uint64_t t0 = monotonic_ns(), handover_t0, downtime_ns;
	uint32_t domid, dest_domid = 0;
	const char *mode_why;
	struct stat st;
	bool live;
	int code = PVTIME_EXIT_FAILURE;

	if (!d) {
		snprintf(err, errlen, "no such domain '%s'", argv[0]);
		return PVTIME_EXIT_FAILURE;
	}
	if (migrate_mode(d, argc > 2 ? argv[2] : NULL, &live, &mode_why, err,
			 errlen))
		return PVTIME_EXIT_USAGE;
	if (dest[0] != '/') {
		snprintf(err, errlen, "destination '%s' is not an absolute path", dest);
		return PVTIME_EXIT_USAGE;
	}
	if (d->state != DOMAIN_RUNNING) {
		snprintf(err, errlen, "domain '%s' is shut down", d->cfg.name);
		return PVTIME_EXIT_FAILURE;
	}
	if (d->cfg.clock == CLOCK_MODE_VIRTUAL) {
		snprintf(err, errlen,
			 "domain '%s' runs on virtual time (clock = \"virtual\"): migration is not supported for it",
			 d->cfg.name);
		return PVTIME_EXIT_FAILURE;
	}
	if (d->paused) {
		snprintf(err, errlen, "domain '%s' is paused: unpause it to migrate it",
			 d->cfg.name);
		return PVTIME_EXIT_FAILURE;
	}
	if (stat(dest, &st)) {
		snprintf(err, errlen, "destination %s: %s", dest, strerror(errno));
		return PVTIME_EXIT_FAILURE;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "destination %s is not a socket (a pvtimed's control socket?)",
			 dest);
		return PVTIME_EXIT_FAILURE;
	}
	if (same_socket(dest)) {
		snprintf(err, errlen, "destination %s is this pvtimed's own control socket",
			 dest);
		return PVTIME_EXIT_FAILURE;
	}
	snprintf(name, sizeof(name), "%s", d->cfg.name);
	domid = d->domid;
	r = malloc(sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return PVTIME_EXIT_FAILURE;
	}
	header = domain_migrate_header(d, false, err, errlen);
	if (!header)
		goto out;
	{
		const char *req[] = { "migrate-prepare",
				      PVTIME_MIGRATE_PROTOCOL_STR, header };

		peer_call(dest, PREPARE_TIMEOUT_MS, 3, req, r);
	}
	if (r->outcome == PEER_FAILED) {
		snprintf(err, errlen, "destination %s does not answer as a pvtimed: %s",
			 dest, r->message);
		goto out;
	}
	if (r->outcome == PEER_ERROR) {
		if (strstr(r->message, "unknown command"))
			snprintf(err, errlen, "destination %s: that pvtimed cannot receive migrations (%s)",
				 dest, r->message);
		else
			snprintf(err, errlen, "destination %s refused domain '%s': %s",
				 dest, name, r->message);
		goto out;
	}
	if (body_value(r->body, "incoming", uri, sizeof(uri)) ||
	    strncmp(uri, "unix:", 5) || strpbrk(uri, "\"\\")) {
		snprintf(err, errlen, "destination %s gave no usable incoming URI",
			 dest);
		send_abort(dest, name);
		goto out;
	}
	log_info("domain %s: the pvtimed at %s waits for it on %s (%s)", name,
		 dest, uri, mode_why);
	if (domain_migrate_send(d, uri, live, &mres, why, sizeof(why))) {
		send_abort(dest, name);
		snprintf(err, errlen, "%s; domain '%s' runs on here", why, name);
		goto out;
	}
	/* Stopped: the clock as it stood, to the destination. */
	free(header);
	header = domain_migrate_header(d, true, why, sizeof(why));
	handover_t0 = monotonic_ns();
	if (header) {
		const char *req[] = { "migrate-finish",
				      PVTIME_MIGRATE_PROTOCOL_STR, name, header };

		peer_call(dest, FINISH_TIMEOUT_MS, 4, req, r);
	} else {
		r->outcome = PEER_FAILED;
		snprintf(r->message, sizeof(r->message), "%s", why);
	}
	if (r->outcome != PEER_OK) {
		char resumed[1024] = "";

		if (r->outcome == PEER_FAILED)
			send_abort(dest, name);
		if (domain_migrate_resume(d, why, sizeof(why)))
			snprintf(resumed, sizeof(resumed), " and cannot be continued here: %s",
				 why);
		snprintf(err, errlen, "destination %s did not take domain '%s' over: %s; it runs on here%s",
			 dest, name, r->message, resumed);
		goto out;
	}
	downtime_ns = timebase_cycles_to_ns(pvtime_rdtsc() - mres.stop_tsc);
	if (!body_value(r->body, "domid", value, sizeof(value)))
		dest_domid = (uint32_t)strtoul(value, NULL, 10);
	if (body_value(r->body, "state", value, sizeof(value)))
		snprintf(value, sizeof(value), "unknown");
	log_info("domain %s: migrated %s to %s as domid %u (%s; live %" PRIu64 " ms, downtime at most %" PRIu64 " ms, %" PRIu64 " ms in all)",
		 name, live ? "live" : "stopped", dest, dest_domid, value,
		 mres.live_ns / 1000000, downtime_ns / 1000000,
		 (monotonic_ns() - t0) / 1000000);
	/* Theirs now: end ours, as xl migrate does. */
	domain_destroy(d);
	emit_str(e, "name", name);
	emit_u64(e, "domid", domid);
	emit_str(e, "destination", dest);
	emit_u64(e, "destination_domid", dest_domid);
	emit_str(e, "state", value);
	emit_str(e, "mode", live ? "live" : "stopped");
	emit_u64(e, "live_ns", mres.live_ns);
	emit_u64(e, "downtime_ns", downtime_ns);
	emit_u64(e, "handover_ns", monotonic_ns() - handover_t0);
	emit_u64(e, "elapsed_ns", monotonic_ns() - t0);
	code = PVTIME_EXIT_OK;
out:
	if (header)
		unlink(header);
	free(header);
	free(r);
	return code;
}

static int check_version(const char *v, char *err, size_t errlen)
{
	if (strcmp(v, PVTIME_MIGRATE_PROTOCOL_STR)) {
		snprintf(err, errlen, "migration protocol version '%.16s' is not spoken here (this pvtimed speaks %s)",
			 v, PVTIME_MIGRATE_PROTOCOL_STR);
		return -1;
	}
	return 0;
}

/* migrate-prepare <version> <header> */
int cmd_migrate_prepare(int argc, char **argv, struct emit *e, char *err,
			size_t errlen)
{
	struct domain_incoming_info info;

	(void)argc;
	if (check_version(argv[0], err, errlen))
		return PVTIME_EXIT_FAILURE;
	if (domain_incoming_prepare(argv[1], &info, err, errlen))
		return PVTIME_EXIT_FAILURE;
	emit_str(e, "name", info.name);
	emit_u64(e, "domid", info.domid);
	emit_str(e, "incoming", info.uri);
	return PVTIME_EXIT_OK;
}

void emit_restored_domain(struct emit *e,
			  const struct domain_restore_result *res,
			  const char *file)
{
	char policy[STOPPED_TIME_NAME_MAX];

	emit_str(e, "name", res->d->cfg.name);
	emit_u64(e, "domid", res->d->domid);
	emit_str(e, "state", domain_state_label(res->d));
	if (file)
		emit_str(e, "file", file);
	emit_str(e, "stopped_time",
		 stopped_time_policy_name(res->stopped, res->slew_ppm, policy,
					  sizeof(policy)));
	emit_bool(e, "same_host", res->same_host);
	emit_s64(e, "saved_realtime_ns", res->saved_realtime_ns);
	emit_u64(e, "load_ns", res->load_ns);
	emit_u64(e, "elapsed_ns", res->elapsed_ns);
}

/* migrate-finish <version> <name> <header> */
int cmd_migrate_finish(int argc, char **argv, struct emit *e, char *err,
		       size_t errlen)
{
	struct domain_restore_result res;

	(void)argc;
	if (check_version(argv[0], err, errlen))
		return PVTIME_EXIT_FAILURE;
	if (domain_incoming_finish(argv[1], argv[2], &res, err, errlen))
		return PVTIME_EXIT_FAILURE;
	emit_restored_domain(e, &res, NULL);
	return PVTIME_EXIT_OK;
}

/* migrate-abort <version> <name> */
int cmd_migrate_abort(int argc, char **argv, struct emit *e, char *err,
		      size_t errlen)
{
	(void)argc;
	if (check_version(argv[0], err, errlen))
		return PVTIME_EXIT_FAILURE;
	if (domain_incoming_abort(argv[1], err, errlen))
		return PVTIME_EXIT_FAILURE;
	emit_str(e, "name", argv[1]);
	emit_str(e, "state", "aborted");
	return PVTIME_EXIT_OK;
}
