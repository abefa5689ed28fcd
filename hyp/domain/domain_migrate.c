// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvxl migrate, the domains' half (control/control_migrate.c speaks to
 * the other pvtimed; Documentation/control-protocol.rst, "Migration").
 *
 * Source: the hand-over header (a save file's header without a stream,
 * domain/save_file.h) in STATE/NAME.migrate; QMP "migrate" to the
 * destination's unix: socket while the guest runs, polling query-status
 * (the last poll that saw it running bounds the stop from below: its
 * guest TSC cannot have stopped before that poll was sent) and
 * query-migrate; after a failure the guest is running here again.
 *
 * Destination: an incoming domain, started from the header's config as
 * a restore is (QEMU -S -incoming unix:STATE/NAME.incoming, its own
 * shared memory and ivshmem server), kept out of the table until the
 * source hands the clock over (the header again, now with the clock at
 * the stop); then it is continued exactly as a restored one.  Abandoned
 * after MIGRATE_INCOMING_TIMEOUT_S without a hand-over.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pvclock_math.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/monotonic.h"
#include "core/timebase.h"
#include "domain/domain_priv.h"
#include "domain/qemu.h"
#include "domain/qmp.h"
#include "domain/save_file.h"
#include "host/host_clock_watch.h"

/* A stream is all there is to send: no throttle. */
#define MIGRATE_MAX_BANDWIDTH	"10737418240"
/* QEMU switches over once what is left takes less than this to send. */
#define MIGRATE_DOWNTIME_LIMIT_MS	"50"
#define MIGRATE_POLL_MS		5
/* query-migrate every this many polls while the guest runs. */
#define MIGRATE_PROGRESS_POLLS	10
#define MIGRATE_CANCEL_WAIT_MS	5000
/* QMP polls failing in a row before the migration is given up. */
#define MIGRATE_QMP_FAILURES_MAX	3
#define INCOMING_START_MS	30000
#define INCOMING_LOAD_MS	30000

struct incoming {
	struct incoming *next;
	struct domain *d;
	struct event_source timer;	/* abandoned when it fires */
	char *sock_path;
	bool qemu_gone;
	int qemu_status;
};

static struct incoming *incomings;

/* ---- source ---- */

char *domain_migrate_header(struct domain *d, bool stopped, char *err,
			    size_t errlen)
{
	struct save_header h;
	char *config, *block, *path;
	uint64_t saved_stop = d->pause_stop_tsc;
	int ret;

	config = domain_config_read(d->saved_config_path, err, errlen);
	if (!config)
		return NULL;
	path = domain_state_path(d->cfg.name, ".migrate");
	if (!path) {
		free(config);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* Before the stop, the image is of the clock as it is now. */
	if (!stopped)
		d->pause_stop_tsc = pvtime_rdtsc();
	domain_header_fill(d, &h, config);
	d->pause_stop_tsc = saved_stop;
	block = save_header_format(&h);
	if (!block) {
		snprintf(err, errlen, "domain '%s': cannot format the hand-over header",
			 d->cfg.name);
		save_header_free(&h);
		free(path);
		return NULL;
	}
	ret = atomic_file_write(path, block, h.header_bytes);
	free(block);
	save_header_free(&h);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		free(path);
		return NULL;
	}
	return path;
}

/* The stop took effect after host TSC stop_tsc: tell the records. */
static void migrate_mark_stopped(struct domain *d, uint64_t stop_tsc)
{
	/* QEMU stopped it on its own: hold probes from now at least. */
	mailbox_server_guest_stopping(&d->mailbox);
	records_guest_paused(&d->clock);
	d->paused = true;
	d->pause_stop_tsc = stop_tsc;
	d->pauses++;
}

/*
 * The migration failed: QEMU runs the guest again on its own when it had
 * stopped it, else we continue it from wherever it stands.
 */
static void migrate_undo(struct domain *d, bool stopped, uint64_t stop_tsc)
{
	struct qmp_reply reply;
	char status[64], why[320];
	uint64_t rtt_ns, paused_ns;

	if (qmp_run(d->qmp_path, "query-status", QMP_TIMEOUT_MS, &reply, why,
		    sizeof(why)) ||
	    qmp_return_string(reply.ret, "status", status, sizeof(status)))
		snprintf(status, sizeof(status), "unknown");
	if (!strcmp(status, "running")) {
		/* Stopped and resumed by QEMU: the samples find the moved TSC. */
		if (stopped && records_mark_guest_stopped(&d->clock, &d->shm))
			domain_ring_records(d);
		mailbox_server_guest_running(&d->mailbox);
		return;
	}
	/* A stopped migration paused it first, as pvxl pause does. */
	if (!d->paused) {
		if (!stopped)
			stop_tsc = pvtime_rdtsc();
		migrate_mark_stopped(d, stop_tsc);
	}
	if (domain_unpause(d, d->cfg.stopped_time, d->cfg.stopped_slew_ppm,
			   &rtt_ns, &paused_ns, why, sizeof(why)))
		log_warn("domain %s: QEMU is '%s' after the failed migration and cannot be continued: %s",
			 d->cfg.name, status, why);
}

int domain_migrate_send(struct domain *d, const char *uri, bool live,
			struct domain_migrate_result *res, char *err,
			size_t errlen)
{
	uint64_t t0 = monotonic_ns(), deadline, stop_tsc = 0, last_running;
	uint64_t start_tsc;
	struct qmp_reply reply;
	char args[QMP_ARGS_MAX], status[64], mstatus[64], desc[256];
	bool stopped = false, cancelled = false;
	unsigned int i, qmp_failures = 0;

	memset(res, 0, sizeof(*res));
	if (domain_qmp_run(d, "migrate-set-parameters",
		       "{\"max-bandwidth\":" MIGRATE_MAX_BANDWIDTH
		       ",\"downtime-limit\":" MIGRATE_DOWNTIME_LIMIT_MS "}",
		       &reply, err, errlen))
		return -1;
	if ((size_t)snprintf(args, sizeof(args), "{\"uri\":\"%s\"}", uri) >=
	    sizeof(args)) {
		snprintf(err, errlen, "migration URI too long");
		return -1;
	}
	/*
	 * Stopped: paused first, as pvxl pause does (its probes held, the
	 * stop timed by the QMP round trip), so the stream carries memory
	 * that no longer changes.  cmd_migrate refuses a paused domain.
	 */
	if (!live) {
		if (domain_stop_for_stream(d, &stopped, err, errlen))
			return -1;
		stop_tsc = d->pause_stop_tsc;
		res->stop_seen_ns = monotonic_ns() - t0;
	}
	/* Running until the migration starts, at the earliest. */
	last_running = start_tsc = pvtime_rdtsc();
	if (domain_qmp_run(d, "migrate", args, &reply, err, errlen)) {
		if (!live)
			migrate_undo(d, stopped, stop_tsc);
		return -1;
	}
	log_info("domain %s: migrating to %s, %s", d->cfg.name, uri,
		 live ? "the guest running" : "the guest stopped");
	deadline = monotonic_ns() + MIGRATE_TIMEOUT_MS * 1000000ull;
	for (i = 0;; i++) {
		char why[320];

		/* The guest runs on and asks for samples: serve them. */
		ivshmem_server_serve_doorbells(&d->ivshmem, MIGRATE_POLL_MS);
		res->polls++;
		if (qmp_run(d->qmp_path, "query-status", QMP_TIMEOUT_MS, &reply,
			    why, sizeof(why))) {
			/* QEMU may hold its lock a while to switch over. */
			if (++qmp_failures < MIGRATE_QMP_FAILURES_MAX &&
			    monotonic_ns() < deadline) {
				log_debug("domain %s: during the migration: %s",
					  d->cfg.name, why);
				continue;
			}
			snprintf(err, errlen, "domain '%s': %s", d->cfg.name, why);
			goto failed;
		}
		qmp_failures = 0;
		if (qmp_return_string(reply.ret, "status", status, sizeof(status)))
			status[0] = '\0';
		if (!strcmp(status, "running")) {
			if (!stopped)
				last_running = reply.sent_tsc;
		} else if (!stopped) {
			/* Stopped after the last poll that saw it running. */
			stopped = true;
			stop_tsc = last_running;
			res->stop_seen_ns = monotonic_ns() - t0;
		}
		if (!stopped && !cancelled && i % MIGRATE_PROGRESS_POLLS &&
		    monotonic_ns() < deadline)
			continue;
		if (domain_qmp_run(d, "query-migrate", NULL, &reply, err, errlen))
			goto failed;
		if (qmp_return_string(reply.ret, "status", mstatus,
				      sizeof(mstatus)))
			mstatus[0] = '\0';
		if (!strcmp(mstatus, "completed"))
			break;
		if (!strcmp(mstatus, "failed") || !strcmp(mstatus, "cancelled")) {
			if (qmp_return_string(reply.ret, "error-desc", desc,
					      sizeof(desc)))
				snprintf(desc, sizeof(desc), "%s",
					 cancelled ? "not done in time" :
						     "no reason given");
			snprintf(err, errlen, "domain '%s': QEMU's migration %s: %s",
				 d->cfg.name, mstatus, desc);
			goto failed;
		}
		if (!cancelled && monotonic_ns() > deadline) {
			log_warn("domain %s: migration not done after %d s (status '%s'); cancelling",
				 d->cfg.name, MIGRATE_TIMEOUT_MS / 1000, mstatus);
			if (domain_qmp_run(d, "migrate_cancel", NULL, &reply, err,
				       errlen))
				goto failed;
			cancelled = true;
			deadline = monotonic_ns() +
				   MIGRATE_CANCEL_WAIT_MS * 1000000ull;
		} else if (cancelled && monotonic_ns() > deadline) {
			snprintf(err, errlen, "domain '%s': migration cancelled but QEMU still says '%s'",
				 d->cfg.name, mstatus);
			goto failed;
		}
	}
	if (!stopped) {
		stopped = true;
		stop_tsc = last_running;
		res->stop_seen_ns = monotonic_ns() - t0;
	}
	if (live)
		migrate_mark_stopped(d, stop_tsc);
	res->stop_tsc = stop_tsc;
	/* 0 for a stopped one: its stop came before start_tsc. */
	res->live_ns = stop_tsc > start_tsc ?
		       timebase_cycles_to_ns(stop_tsc - start_tsc) : 0;
	res->elapsed_ns = monotonic_ns() - t0;
	log_info("domain %s: migration stream complete in %" PRIu64 " ms (%u polls; the guest stopped within %" PRIu64 " ms of the start)",
		 d->cfg.name, res->elapsed_ns / 1000000, res->polls,
		 res->stop_seen_ns / 1000000);
	return 0;

failed:
	log_warn("%s", err);
	migrate_undo(d, stopped, stop_tsc);
	return -1;
}

int domain_migrate_resume(struct domain *d, char *err, size_t errlen)
{
	uint64_t rtt_ns, paused_ns;

	if (!d->paused)
		return 0;
	if (domain_unpause(d, d->cfg.stopped_time, d->cfg.stopped_slew_ppm,
			   &rtt_ns, &paused_ns, err, errlen))
		return -1;
	log_info("domain %s: runs on here after the failed hand-over (stopped %" PRIu64 " ms)",
		 d->cfg.name, paused_ns / 1000000);
	return 0;
}

/* ---- destination ---- */

static struct incoming *incoming_find(const char *name)
{
	struct incoming *in;

	for (in = incomings; in; in = in->next)
		if (!strcmp(in->d->cfg.name, name))
			return in;
	return NULL;
}

bool domain_incoming_name_taken(const char *name)
{
	return incoming_find(name) != NULL;
}

bool domain_incoming_reaped(pid_t pid, int status)
{
	struct incoming *in;

	for (in = incomings; in; in = in->next) {
		if (in->d->qemu_pid == pid && !in->qemu_gone) {
			char how[64];

			in->qemu_gone = true;
			in->qemu_status = status;
			domain_describe_exit(status, how, sizeof(how));
			log_warn("domain %s: incoming QEMU (pid %d) %s before the hand-over (see %s)",
				 in->d->cfg.name, (int)pid, how,
				 in->d->qemu_log_path);
			return true;
		}
	}
	return false;
}

/* Unlink, end QEMU if it runs, free. */
static void incoming_drop(struct incoming *in)
{
	struct incoming **link;

	for (link = &incomings; *link; link = &(*link)->next) {
		if (*link == in) {
			*link = in->next;
			break;
		}
	}
	if (in->timer.fd >= 0) {
		event_loop_remove(&in->timer);
		close(in->timer.fd);
	}
	if (!in->qemu_gone && in->d->qemu_pid > 0)
		qemu_kill(in->d->qemu_pid, 2000);
	in->d->qemu_pid = 0;
	if (in->sock_path)
		unlink(in->sock_path);
	free(in->sock_path);
	domain_free(in->d, false);
	free(in);
}

static void on_incoming_timeout(struct event_source *src, uint32_t events)
{
	struct incoming *in = (struct incoming *)((char *)src -
						  offsetof(struct incoming, timer));

	(void)events;
	log_warn("domain %s: no hand-over within %d s of the incoming migration; dropped",
		 in->d->cfg.name, MIGRATE_INCOMING_TIMEOUT_S);
	incoming_drop(in);
}

/* Read and parse a hand-over header; 0 or -1 with "PATH: reason". */
static int read_header(const char *path, struct save_header *h, char *err,
		       size_t errlen)
{
	char why[256], *buf;
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd, ret = -1;

	memset(h, 0, sizeof(*h));
	if (path[0] != '/') {
		snprintf(err, errlen, "hand-over header '%s' is not absolute", path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(SAVE_FILE_HEADER_MAX);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !buf) {
		snprintf(err, errlen, "%s: %s", path,
			 buf ? "not a regular file" : "out of memory");
		goto out;
	}
	while (got < SAVE_FILE_HEADER_MAX &&
	       (n = read(fd, buf + got, SAVE_FILE_HEADER_MAX - got)) > 0)
		got += (size_t)n;
	if (save_header_parse(buf, got, h, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto out;
	}
	if (h->abi_version != PVTIME_ABI_VERSION) {
		snprintf(err, errlen, "%s: a guest speaking pvtime ABI %u; this pvtimed serves ABI %u only",
			 path, h->abi_version, PVTIME_ABI_VERSION);
		save_header_free(h);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

/* QMP answers (QEMU's main loop runs: -incoming listens); 0 or -1. */
static int wait_qmp_up(struct domain *d, pid_t pid, char *err, size_t errlen)
{
	uint64_t deadline = monotonic_ns() + INCOMING_START_MS * 1000000ull;
	struct qmp_reply reply;
	char why[320], status[64];
	int wstatus;

	for (;;) {
		if (waitpid(pid, &wstatus, WNOHANG) == pid) {
			char how[64];

			domain_describe_exit(wstatus, how, sizeof(how));
			d->qemu_pid = 0;
			snprintf(err, errlen, "domain '%s': the incoming QEMU %s (see %s)",
				 d->cfg.name, how, d->qemu_log_path);
			return -1;
		}
		if (!qmp_run(d->qmp_path, "query-status", QMP_TIMEOUT_MS, &reply,
			     why, sizeof(why)) &&
		    !qmp_return_string(reply.ret, "status", status,
				       sizeof(status)) &&
		    !strcmp(status, "inmigrate"))
			return 0;
		if (monotonic_ns() > deadline) {
			snprintf(err, errlen, "domain '%s': the incoming QEMU did not come up within %d s (%s)",
				 d->cfg.name, INCOMING_START_MS / 1000, why);
			return -1;
		}
		sleep_ms(20);
	}
}

int domain_incoming_prepare(const char *header_path,
			    struct domain_incoming_info *info, char *err,
			    size_t errlen)
{
	struct itimerspec expire = {
		.it_value.tv_sec = MIGRATE_INCOMING_TIMEOUT_S,
	};
	struct domain_restore_ctx rc = { 0 };
	struct records_image img;
	struct incoming *in = NULL;
	struct save_header h;
	struct domain *d = NULL;
	char *config = NULL, *uri = NULL;
	int ret;

	memset(info, 0, sizeof(*info));
	if (read_header(header_path, &h, err, errlen))
		return -1;
	config = strdup(h.config);
	in = calloc(1, sizeof(*in));
	if (!config || !in) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	in->timer.fd = -1;
	d = domain_prepare(h.config_path, config, err, errlen);
	if (!d)
		goto fail;
	in->d = d;
	if (d->cfg.vcpus != h.vcpus || d->cfg.abi_version != h.abi_version) {
		snprintf(err, errlen, "domain '%s': the header's guest (%u vCPUs, ABI %u) does not match its config (%u, %u)",
			 d->cfg.name, h.vcpus, h.abi_version, d->cfg.vcpus,
			 d->cfg.abi_version);
		goto fail;
	}
	in->sock_path = domain_state_path(d->cfg.name, ".incoming");
	if (!in->sock_path || asprintf(&uri, "unix:%s", in->sock_path) < 0) {
		uri = NULL;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (!save_path_usable(in->sock_path)) {
		snprintf(err, errlen, "incoming socket '%s': the state dir's path must be without quotes, backslashes or control characters",
			 in->sock_path);
		goto fail;
	}
	unlink(in->sock_path);
	/* The clock comes with the hand-over; until then, none. */
	img = h.clock;
	img.offset_known = false;
	rc.img = &img;
	rc.now_tsc = pvtime_rdtsc();
	rc.now_realtime_ns = h.clock.realtime_at_stop_ns;
	rc.incoming = uri;
	if (domain_start(d, &rc, err, errlen))
		goto fail;
	ret = ivshmem_server_accept_wait(&d->ivshmem, INCOMING_START_MS);
	if (ret) {
		snprintf(err, errlen, "domain '%s': the incoming QEMU did not connect to the ivshmem server: %s",
			 d->cfg.name, strerror(-ret));
		goto fail;
	}
	if (wait_qmp_up(d, d->qemu_pid, err, errlen))
		goto fail;
	in->timer.handler = on_incoming_timeout;
	in->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (in->timer.fd < 0 || timerfd_settime(in->timer.fd, 0, &expire, NULL) ||
	    event_loop_add(&in->timer)) {
		snprintf(err, errlen, "incoming timer: %s", strerror(errno));
		goto fail;
	}
	in->next = incomings;
	incomings = in;
	snprintf(info->name, sizeof(info->name), "%s", d->cfg.name);
	info->domid = d->domid;
	snprintf(info->uri, sizeof(info->uri), "%s", uri);
	log_info("domain %s: incoming migration as domid %u: QEMU pid %d waits on %s",
		 d->cfg.name, d->domid, (int)d->qemu_pid, uri);
	free(uri);
	free(config);
	save_header_free(&h);
	return 0;

fail:
	log_warn("incoming migration from %s refused: %s", header_path, err);
	if (in && d) {
		incoming_drop(in);
	} else {
		free(in);
	}
	free(uri);
	free(config);
	save_header_free(&h);
	return -1;
}

int domain_incoming_finish(const char *name, const char *header_path,
			   struct domain_restore_result *res, char *err,
			   size_t errlen)
{
	struct incoming *in = incoming_find(name);
	struct save_header h;
	struct domain *d;
	char boot_id[sizeof(h.boot_id)];
	uint64_t t0 = monotonic_ns();
	bool same_tsc;
	int ret;

	memset(res, 0, sizeof(*res));
	if (!in) {
		snprintf(err, errlen, "no incoming migration of domain '%s'", name);
		return -1;
	}
	d = in->d;
	if (read_header(header_path, &h, err, errlen))
		goto fail_nohdr;
	if (strcmp(h.name, name) || h.vcpus != d->cfg.vcpus) {
		snprintf(err, errlen, "%s: the hand-over is of domain '%s' (%u vCPUs), the incoming one is '%s' (%u)",
			 header_path, h.name, h.vcpus, name, d->cfg.vcpus);
		goto fail;
	}
	if (!h.clock.offset_known) {
		/* Its guest never read records: nothing to carry over. */
		log_info("domain %s: the guest had no records yet", name);
	}
	if (in->qemu_gone) {
		char how[64];

		domain_describe_exit(in->qemu_status, how, sizeof(how));
		snprintf(err, errlen, "domain '%s': the incoming QEMU %s (see %s)",
			 name, how, d->qemu_log_path);
		goto fail;
	}
	if (domain_wait_incoming(d, header_path, INCOMING_LOAD_MS, err, errlen))
		goto fail;
	res->load_ns = monotonic_ns() - t0;
	/* The clock at the stop, carried over as a restore's. */
	domain_boot_id(boot_id, sizeof(boot_id));
	same_tsc = strcmp(boot_id, "-") && !strcmp(boot_id, h.boot_id);
	domain_clock_fini(&d->clock);
	d->clock_ready = false;
	{
		bool host_ntp;
		uint64_t hz = domain_rate_for_new(timebase_get()->tsc_hz,
						  &host_ntp);

		ret = domain_clock_restore(&d->clock, d->cfg.name, d->cfg.vcpus,
					   d->cfg.tsc_stable, hz, &h.clock,
					   pvtime_rdtsc(), same_tsc,
					   realtime_ns());
	}
	if (ret) {
		snprintf(err, errlen, "%s: cannot take the clock over: %s",
			 header_path, strerror(-ret));
		goto fail;
	}
	d->clock_ready = true;
	if (domain_apply_clock_policies(d, err, errlen))
		goto fail;
	d->clock.recheck_in = host_clock_watch_recheck_in;
	/* Ours now: out of the incoming list, into the table. */
	if (in->timer.fd >= 0) {
		event_loop_remove(&in->timer);
		close(in->timer.fd);
		in->timer.fd = -1;
	}
	{
		struct incoming **link;

		for (link = &incomings; *link; link = &(*link)->next) {
			if (*link == in) {
				*link = in->next;
				break;
			}
		}
	}
	unlink(in->sock_path);
	free(in->sock_path);
	free(in);
	res->d = d;
	res->stopped = d->cfg.stopped_time;
	res->slew_ppm = d->cfg.stopped_slew_ppm;
	res->same_host = same_tsc;
	res->saved_realtime_ns = h.clock.realtime_at_stop_ns;
	if (domain_restored_continue(d, &h, d->cfg.stopped_time,
				     d->cfg.stopped_slew_ppm, err, errlen)) {
		log_warn("domain %s: migrated in but left paused: %s", name, err);
		res->paused = true;
	}
	res->elapsed_ns = monotonic_ns() - t0;
	log_info("domain %s: migrated in as domid %u (qemu pid %d, %s, stream loaded %" PRIu64 " ms after the hand-over began)",
		 name, d->domid, (int)d->qemu_pid,
		 same_tsc ? "same host and boot: time away by the TSC" :
			    "time away by CLOCK_REALTIME",
		 res->load_ns / 1000000);
	save_header_free(&h);
	return 0;

fail:
	save_header_free(&h);
fail_nohdr:
	log_warn("domain %s: hand-over refused: %s; the incoming QEMU is ended",
		 name, err);
	incoming_drop(in);
	return -1;
}

int domain_incoming_abort(const char *name, char *err, size_t errlen)
{
	struct incoming *in = incoming_find(name);

	if (!in) {
		snprintf(err, errlen, "no incoming migration of domain '%s'", name);
		return -1;
	}
	log_info("domain %s: incoming migration aborted by its source", name);
	incoming_drop(in);
	return 0;
}

void domain_incoming_drop_all(void)
{
	while (incomings)
		incoming_drop(incomings);
}
