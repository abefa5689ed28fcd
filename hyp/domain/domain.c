// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pvclock_math.h"
#include "pvtime_ctl.h"
#include "clock/wallclock.h"
#include "core/log.h"
#include "core/monotonic.h"
#include "core/proc_fds.h"
#include "core/sched_fifo.h"
#include "core/timebase.h"
#include "domain/domain.h"
#include "domain/domain_priv.h"
#include "domain/domain_state.h"
#include "domain/qemu.h"
#include "domain/qmp.h"
#include "host/host_clock_watch.h"
#include "host/time_source_watch.h"

#define QEMU_KILL_TIMEOUT_MS	2000

static struct domain *domains;
static uint32_t next_domid = 1;
static const char *state_dir = PVTIME_CTL_DEFAULT_STATE_DIR;
static void (*stop_hook)(struct domain *d, bool freed);

void domain_set_stop_hook(void (*hook)(struct domain *d, bool freed))
{
	stop_hook = hook;
}

static void domain_stopped(struct domain *d, bool freed)
{
	if (stop_hook)
		stop_hook(d, freed);
}

void domain_set_state_dir(const char *dir)
{
	state_dir = dir;
}

const char *domain_state_dir(void)
{
	return state_dir;
}

const char *domain_state_name(enum domain_state state)
{
	return state == DOMAIN_RUNNING ? "running" : "shutdown";
}

const char *domain_state_label(const struct domain *d)
{
	if (d->state == DOMAIN_RUNNING && d->paused)
		return "paused";
	return domain_state_name(d->state);
}

struct domain *domain_first(void)
{
	return domains;
}

struct domain *domain_time_source(void)
{
	struct domain *d;

	for (d = domains; d; d = d->next)
		if (d->state == DOMAIN_RUNNING && d->cfg.time_source)
			return d;
	return NULL;
}

struct domain *domain_lookup(const char *name_or_id)
{
	struct domain *d;
	char *end;
	unsigned long id;

	for (d = domains; d; d = d->next)
		if (!strcmp(d->cfg.name, name_or_id))
			return d;
	if (name_or_id[0] < '0' || name_or_id[0] > '9')
		return NULL;
	errno = 0;
	id = strtoul(name_or_id, &end, 10);
	if (*end || errno)
		return NULL;
	for (d = domains; d; d = d->next)
		if (d->domid == id)
			return d;
	return NULL;
}

void domain_on_doorbell(struct ivshmem_server *srv, unsigned int vector)
{
	struct domain *d = srv->owner;

	if (vector != PVTIME_VEC_MAILBOX) {
		log_debug("domain %s: guest rang unused vector %u", d->cfg.name, vector);
		return;
	}
	mailbox_server_kick(&d->mailbox);
}

void domain_ring_wallclock(struct domain *d)
{
	int64_t rung_ns = monotonic_raw_ns();
	int ret = ivshmem_server_ring(&d->ivshmem, PVTIME_VEC_WALLCLOCK);

	if (ret) {
		log_warn("domain %s: cannot ring the wall-clock doorbell: %s",
			 d->cfg.name, strerror(-ret));
		return;
	}
	d->wallclock_rings++;
	d->wallclock_ring_raw_ns = rung_ns;
}

void domain_ring_records(struct domain *d)
{
	int ret = ivshmem_server_ring(&d->ivshmem, PVTIME_VEC_RECORDS);

	if (ret)
		log_warn("domain %s: cannot ring the records doorbell: %s",
			 d->cfg.name, strerror(-ret));
}

/* Mailbox thread: a SET_OFFSET changed the record flags. */
void domain_on_records_changed(void *owner)
{
	domain_ring_records(owner);
}

char *domain_state_path(const char *name, const char *suffix)
{
	char *path;

	if (asprintf(&path, "%s/%s%s", state_dir, name, suffix) < 0)
		return NULL;
	return path;
}

int domain_set_paths(struct domain *d)
{
	const char *name = d->cfg.name;

	d->ivshmem_path = domain_state_path(name, ".ivshmem");
	d->console_path = domain_state_path(name, ".console");
	d->log_path = domain_state_path(name, ".log");
	d->qmp_path = domain_state_path(name, ".qmp");
	d->qemu_log_path = domain_state_path(name, ".qemu.log");
	d->state_path = domain_state_path(name, DOMAIN_STATE_SUFFIX);
	d->saved_config_path = domain_state_path(name, DOMAIN_CONFIG_SUFFIX);
	if (!d->ivshmem_path || !d->console_path || !d->log_path ||
	    !d->qmp_path || !d->qemu_log_path || !d->state_path ||
	    !d->saved_config_path)
		return -ENOMEM;
	return 0;
}

void domain_table_add(struct domain *d)
{
	struct domain **tail;

	for (tail = &domains; *tail; tail = &(*tail)->next)
		;
	*tail = d;
	if (d->domid >= next_domid)
		next_domid = d->domid + 1;
}

void domain_free(struct domain *d, bool detach)
{
	domain_stopped(d, true);
	mailbox_server_stop(&d->mailbox);
	if (d->ivshmem_ready)
		ivshmem_server_stop(&d->ivshmem);
	pvtime_shm_destroy(&d->shm);
	if (d->clock_ready)
		domain_clock_fini(&d->clock);
	if (d->qemu_exit.fd >= 0) {
		event_loop_remove(&d->qemu_exit);
		close(d->qemu_exit.fd);
	}
	if (!detach) {
		if (d->console_path)
			unlink(d->console_path);
		if (d->qmp_path)
			unlink(d->qmp_path);
		if (d->state_path)
			unlink(d->state_path);
		if (d->saved_config_path)
			unlink(d->saved_config_path);
	}
	free(d->state_path);
	free(d->saved_config_path);
	free(d->state_written);
	domain_config_free(&d->cfg);
	free(d->config_path);
	free(d->ivshmem_path);
	free(d->console_path);
	free(d->log_path);
	free(d->qmp_path);
	free(d->qemu_log_path);
	free(d);
}

/* execvp would find a bare name on PATH; a path must be executable. */
static int check_qemu_binary(const char *qemu, char *err, size_t errlen)
{
	if (strchr(qemu, '/') && access(qemu, X_OK) < 0) {
		snprintf(err, errlen, "qemu '%s': %s", qemu, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * rtc_timeoffset and localtime: the domain's own wall offset from now on,
 * and the date its emulated RTC starts from.
 */
static void domain_set_create_offset(struct domain *d, struct qemu_rtc *rtc)
{
	struct timespec now;

	/* The RTC counts whole seconds: the nearest one, not the last. */
	clock_gettime(CLOCK_REALTIME, &now);
	rtc->now = now.tv_sec + (now.tv_nsec >= 500000000);
	rtc->offset_s = domain_config_create_offset_s(&d->cfg, rtc->now,
						      &d->create_utc_offset_s);
	d->create_offset_s = rtc->offset_s;
	d->create_offset_known = true;
	d->clock.wall_offset_ns = rtc->offset_s * (int64_t)PVTIME_NSEC_PER_SEC;
}

int domain_start(struct domain *d, const struct domain_restore_ctx *rc,
		 char *err, size_t errlen)
{
	struct pvtime_shm_identity id = {
		.abi_version = d->cfg.abi_version,
		.domid = d->domid,
		.nr_vcpus = d->cfg.vcpus,
		.calibration_ms = RECORDS_CALIBRATION_MS,
		.time_source = d->cfg.time_source,
	};
	struct qemu_paths paths;
	struct qemu_rtc rtc = { 0 };
	char **argv;
	pid_t pid;
	int ret;

	/* New domains start at the rate all run at. */
	id.tsc_hz = domain_rate_for_new(timebase_get()->tsc_hz, &id.host_ntp);
	if (rc)
		ret = domain_clock_restore(&d->clock, d->cfg.name, d->cfg.vcpus,
					   d->cfg.tsc_stable, id.tsc_hz, rc->img,
					   rc->now_tsc, rc->same_tsc,
					   rc->now_realtime_ns);
	else
		ret = domain_clock_init(&d->clock, d->cfg.name, id.tsc_hz,
					d->cfg.vcpus, d->cfg.tsc_stable);
	if (ret) {
		snprintf(err, errlen, "cannot set up the clock: %s", strerror(-ret));
		return -1;
	}
	d->clock_ready = true;
	if (domain_apply_clock_policies(d, err, errlen))
		return -1;
	d->clock.recheck_in = host_clock_watch_recheck_in;
	/* The records' rate: virtual ns for a virtual-time domain. */
	if (d->cfg.clock == CLOCK_MODE_VIRTUAL)
		id.tsc_hz = d->clock.records_hz;
	/* A restored guest's RTC and wall offset come with it. */
	if (!rc)
		domain_set_create_offset(d, &rtc);
	ret = pvtime_shm_create(&d->shm, d->cfg.name, &id);
	if (ret) {
		snprintf(err, errlen, "cannot create shared memory: %s", strerror(-ret));
		return -1;
	}
	wallclock_publish(&d->clock, &d->shm, true);
	mailbox_server_init(&d->mailbox, d->cfg.name, &d->shm, &d->clock,
			    domain_on_records_changed, d);
	mailbox_server_set_time_source(&d->mailbox, d->cfg.time_source,
				       time_source_wallclock_changed);
	/* Listen before QEMU starts: its realize blocks until it has the shm. */
	ret = ivshmem_server_start(&d->ivshmem, d->cfg.name, d->ivshmem_path,
				   d->shm.fd, domain_on_doorbell, d);
	if (ret) {
		snprintf(err, errlen, "ivshmem socket %s: %s", d->ivshmem_path,
			 strerror(-ret));
		return -1;
	}
	d->ivshmem_ready = true;

	paths = (struct qemu_paths) {
		.ivshmem = d->ivshmem_path, .console = d->console_path,
		.log = d->log_path, .qmp = d->qmp_path,
		.qemu_log = d->qemu_log_path,
		.incoming = rc ? rc->incoming : NULL,
	};
	argv = qemu_build_argv(&d->cfg, &paths, rc ? NULL : &rtc);
	if (!argv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (log_enabled(LOG_LEVEL_DEBUG)) {
		size_t i;

		for (i = 0; argv[i]; i++)
			log_debug("domain %s: qemu argv[%zu] = %s", d->cfg.name, i,
				  argv[i]);
	}
	pid = qemu_spawn(argv, d->qemu_log_path, err, errlen);
	qemu_argv_free(argv);
	if (pid < 0)
		return -1;
	d->qemu_pid = pid;
	/* Its main loop delivers the doorbells: as promptly as pvtimed rings. */
	ret = sched_fifo_qemu(pid);
	if (ret) {
		snprintf(err, errlen, "cannot make QEMU's main loop SCHED_FIFO %d (--sched-fifo): %s",
			 sched_fifo_prio() - 1, strerror(-ret));
		return -1;
	}
	/* Set at fork: the child cannot have exec'd into a different one. */
	ret = proc_start_time(pid, &d->qemu_start_ticks);
	if (ret)
		log_warn("domain %s: cannot read QEMU's start time: %s; a restarted pvtimed cannot adopt it",
			 d->cfg.name, strerror(-ret));
	return 0;
}

struct domain *domain_prepare(const char *config_path, const char *config_text,
			      char *err, size_t errlen)
{
	struct domain *d;

	if (config_path[0] != '/') {
		snprintf(err, errlen, "config path '%s' is not absolute", config_path);
		return NULL;
	}
	if (strchr(config_path, '\n')) {
		snprintf(err, errlen, "config path has a newline in it");
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->shm.fd = -1;
	d->qemu_exit.fd = -1;
	d->state = DOMAIN_RUNNING;
	if (domain_config_parse(config_path, config_text, &d->cfg, err, errlen)) {
		free(d);
		return NULL;
	}
	if (domain_lookup(d->cfg.name) || domain_incoming_name_taken(d->cfg.name)) {
		snprintf(err, errlen, "domain '%s' already exists%s", d->cfg.name,
			 domain_lookup(d->cfg.name) ? "" : " (arriving by pvxl migrate)");
		domain_config_free(&d->cfg);
		free(d);
		return NULL;
	}
	if (d->cfg.time_source && domain_time_source()) {
		snprintf(err, errlen,
			 "%s: time_source = 1, but domain '%s' (domid %u) is already the time source; at most one running domain may be",
			 config_path, domain_time_source()->cfg.name,
			 domain_time_source()->domid);
		domain_config_free(&d->cfg);
		free(d);
		return NULL;
	}
	if (check_qemu_binary(d->cfg.qemu, err, errlen)) {
		domain_config_free(&d->cfg);
		free(d);
		return NULL;
	}
	d->domid = next_domid++;
	d->config_path = strdup(config_path);
	if (!d->config_path || domain_set_paths(d)) {
		snprintf(err, errlen, "out of memory");
		domain_free(d, false);
		return NULL;
	}
	if (domain_keep_config(d, config_text, err, errlen)) {
		domain_free(d, false);
		return NULL;
	}
	return d;
}

struct domain *domain_create(const char *config_path, char *err, size_t errlen)
{
	char *config_text;
	struct domain *d;

	if (config_path[0] != '/') {
		snprintf(err, errlen, "config path '%s' is not absolute", config_path);
		return NULL;
	}
	config_text = domain_config_read(config_path, err, errlen);
	if (!config_text)
		return NULL;
	d = domain_prepare(config_path, config_text, err, errlen);
	free(config_text);
	if (!d)
		return NULL;
	if (domain_start(d, NULL, err, errlen)) {
		domain_free(d, false);
		return NULL;
	}
	domain_table_add(d);
	domain_save_state(d);
	log_info("domain %s: created as domid %u from %s (qemu pid %d, %u vcpus, %u MiB, %s%s, wall offset %lld s)",
		 d->cfg.name, d->domid, config_path, (int)d->qemu_pid,
		 d->cfg.vcpus, d->cfg.memory_mib, domain_accel_name(d->cfg.accel),
		 d->cfg.time_source ? ", time source" : "",
		 (long long)d->create_offset_s);
	return d;
}

void domain_destroy(struct domain *d)
{
	struct domain **link;

	for (link = &domains; *link; link = &(*link)->next) {
		if (*link == d) {
			*link = d->next;
			break;
		}
	}
	if (d->state == DOMAIN_RUNNING && d->qemu_pid > 0) {
		if (d->adopted) {
			int ret = qemu_kill_adopted(d->qemu_exit.fd,
						    QEMU_KILL_TIMEOUT_MS);

			if (ret)
				log_warn("domain %s: QEMU pid %d: %s", d->cfg.name,
					 (int)d->qemu_pid, strerror(-ret));
		} else {
			qemu_kill(d->qemu_pid, QEMU_KILL_TIMEOUT_MS);
		}
	}
	log_info("domain %s: destroyed (domid %u)", d->cfg.name, d->domid);
	domain_free(d, false);
}

void domain_detach_all(void)
{
	while (domains) {
		struct domain *d = domains;

		domains = d->next;
		if (d->state == DOMAIN_RUNNING) {
			domain_save_state(d);
			log_info("domain %s: left running (qemu pid %d) for the next pvtimed",
				 d->cfg.name, (int)d->qemu_pid);
			domain_free(d, true);
		} else {
			domain_free(d, false);
		}
	}
}

/* How QEMU ended, from its wait status, for logs and `info`. */
void domain_describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "ended (wait status 0x%x)", status);
}

void domain_reap_children(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct domain *d;
		char how[64];

		domain_describe_exit(status, how, sizeof(how));
		for (d = domains; d; d = d->next)
			if (d->state == DOMAIN_RUNNING && d->qemu_pid == pid)
				break;
		if (!d && domain_incoming_reaped(pid, status))
			continue;
		if (!d) {
			log_debug("reaped unknown child %d (%s)", (int)pid, how);
			continue;
		}
		d->qemu_status = status;
		d->qemu_status_known = true;
		domain_mark_shutdown(d, how);
	}
}

void domain_mark_shutdown(struct domain *d, const char *how)
{
	d->state = DOMAIN_SHUTDOWN;
	mailbox_server_stop(&d->mailbox);
	domain_stopped(d, false);
	/* Nothing left to adopt. */
	if (d->state_path)
		unlink(d->state_path);
	log_info("domain %s: QEMU (pid %d) %s; domain is shut down (see %s)",
		 d->cfg.name, (int)d->qemu_pid, how, d->qemu_log_path);
}

void domain_republish_wallclocks(bool host_stepped)
{
	struct domain *d;

	for (d = domains; d; d = d->next) {
		if (d->state != DOMAIN_RUNNING)
			continue;
		if (wallclock_publish(&d->clock, &d->shm, host_stepped)) {
			log_debug("domain %s: wall clock republished%s", d->cfg.name,
				  host_stepped ? " after a host clock step" : "");
			if (host_stepped)
				domain_ring_wallclock(d);
		}
	}
}

int domain_apply_clock_policies(struct domain *d, char *err, size_t errlen)
{
	int ret;

	records_set_stopped_policy(&d->clock, d->cfg.stopped_time,
				   d->cfg.stopped_slew_ppm);
	ret = records_set_clock_mode(&d->clock, d->cfg.clock, &d->cfg.drift);
	if (ret) {
		snprintf(err, errlen, "cannot put domain '%s' on %s time: %s",
			 d->cfg.name, clock_mode_name(d->cfg.clock), strerror(-ret));
		return -1;
	}
	return 0;
}

void domain_drift_tick_all(void)
{
	struct domain *d;

	for (d = domains; d; d = d->next)
		if (d->state == DOMAIN_RUNNING && d->clock_ready)
			records_drift_tick(&d->clock);
}

void domain_refresh_stability_all(void)
{
	struct domain *d;

	for (d = domains; d; d = d->next) {
		if (d->state != DOMAIN_RUNNING)
			continue;
		if (records_refresh_stability(&d->clock, &d->shm))
			domain_ring_records(d);
	}
}

/*
 * One QMP command; when it returned, *effect_tsc is the midpoint of its
 * round trip (QEMU acted somewhere in it) and *rtt_ns the round trip.
 */
static int domain_qmp(struct domain *d, const char *command,
		      uint64_t *effect_tsc, uint64_t *rtt_ns, char *err,
		      size_t errlen)
{
	struct qmp_reply reply;
	char why[320];

	if (qmp_run(d->qmp_path, command, QMP_TIMEOUT_MS, &reply, why,
		    sizeof(why))) {
		/*
		 * Sent but unanswered: QEMU may still have acted on it, and
		 * pvtimed keeps the state it had; say so rather than guess.
		 */
		bool maybe_done = reply.sent_tsc && !reply.error_class[0];

		snprintf(err, errlen, "domain '%s': %s%s", d->cfg.name, why,
			 maybe_done ? " (sent without an answer: check QEMU's state with QMP query-status)" : "");
		log_warn("%s", err);
		return -1;
	}
	*effect_tsc = reply.sent_tsc + (reply.replied_tsc - reply.sent_tsc) / 2;
	*rtt_ns = timebase_cycles_to_ns(reply.replied_tsc - reply.sent_tsc);
	if (reply.events_skipped)
		log_debug("domain %s: QMP %s: %u event(s) before the reply",
			  d->cfg.name, command, reply.events_skipped);
	return 0;
}

/*
 * Until the guest's mailbox session has ended, at most ms: a guest stopped
 * between two requests of a probe goes on with it after the restore (or
 * migration), in a fresh QEMU whose translation cache is cold, and its
 * first calibration sample (which the step waits for) queues behind it.
 * And once stopped, the shared memory's mailbox pages should be final
 * before QEMU copies them: pvtimed's writes to them are not dirty-tracked.
 */
static void wait_mailbox_idle(struct domain *d, unsigned int ms)
{
	uint64_t deadline = monotonic_ns() + ms * 1000000ull;

	while (atomic_load(&d->mailbox.active) && monotonic_ns() < deadline)
		sleep_ms(2);
}

int domain_stop_for_stream(struct domain *d, bool *paused_here, char *err,
			   size_t errlen)
{
	uint64_t rtt_ns;

	*paused_here = false;
	if (!d->paused) {
		wait_mailbox_idle(d, 300);
		if (domain_pause(d, &rtt_ns, err, errlen))
			return -1;
		*paused_here = true;
	}
	wait_mailbox_idle(d, 200);
	return 0;
}

int domain_pause(struct domain *d, uint64_t *qmp_rtt_ns, char *err,
		 size_t errlen)
{
	uint64_t stop_tsc;

	if (d->state != DOMAIN_RUNNING) {
		snprintf(err, errlen, "domain '%s' is shut down", d->cfg.name);
		return -1;
	}
	if (d->paused) {
		snprintf(err, errlen, "domain '%s' is already paused", d->cfg.name);
		return -1;
	}
	mailbox_server_guest_stopping(&d->mailbox);
	if (domain_qmp(d, "stop", &stop_tsc, qmp_rtt_ns, err, errlen)) {
		/* Taken as running, as d->paused says: serve it as running. */
		mailbox_server_guest_running(&d->mailbox);
		return -1;
	}
	records_guest_paused(&d->clock);
	d->paused = true;
	d->pause_stop_tsc = stop_tsc;
	d->pauses++;
	log_info("domain %s: paused (QMP stop round trip %llu ns)", d->cfg.name,
		 (unsigned long long)*qmp_rtt_ns);
	domain_save_state(d);
	return 0;
}

int domain_unpause(struct domain *d, enum stopped_time_policy stopped,
		   uint32_t slew_ppm, uint64_t *qmp_rtt_ns, uint64_t *paused_ns,
		   char *err, size_t errlen)
{
	char policy[STOPPED_TIME_NAME_MAX];
	uint64_t cont_tsc;

	if (d->state != DOMAIN_RUNNING) {
		snprintf(err, errlen, "domain '%s' is shut down", d->cfg.name);
		return -1;
	}
	if (!d->paused) {
		snprintf(err, errlen, "domain '%s' is not paused", d->cfg.name);
		return -1;
	}
	if (domain_qmp(d, "cont", &cont_tsc, qmp_rtt_ns, err, errlen))
		return -1;
	/* The records learn of the resume before the guest can act on it. */
	if (records_guest_resumed(&d->clock, &d->shm, cont_tsc, stopped,
				  slew_ppm))
		domain_ring_records(d);
	/*
	 * A guest stopped in the middle of a request finds its session
	 * ended (idle, or its probe held while it stood still): serve at
	 * once, so that request is answered without a doorbell.
	 */
	mailbox_server_guest_running(&d->mailbox);
	d->paused = false;
	*paused_ns = cont_tsc > d->pause_stop_tsc ?
		     timebase_cycles_to_ns(cont_tsc - d->pause_stop_tsc) : 0;
	d->paused_total_ns += *paused_ns;
	log_info("domain %s: unpaused after %llu ns paused (QMP cont round trip %llu ns, stopped_time %s)",
		 d->cfg.name, (unsigned long long)*paused_ns,
		 (unsigned long long)*qmp_rtt_ns,
		 stopped_time_policy_name(stopped, slew_ppm, policy,
					  sizeof(policy)));
	domain_save_state_soon(d);
	return 0;
}

uint64_t domain_paused_total_ns(const struct domain *d)
{
	uint64_t now;

	if (!d->paused || d->state != DOMAIN_RUNNING)
		return d->paused_total_ns;
	now = pvtime_rdtsc();
	return d->paused_total_ns + (now > d->pause_stop_tsc ?
				     timebase_cycles_to_ns(now - d->pause_stop_tsc) : 0);
}
