// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvtimed restarts under live guests.  QEMU outlives pvtimed (it runs in
 * its own session, with no parent-death signal), and the guest keeps
 * reading its records, which stay a valid function of the host TSC.
 * While a domain runs, its state file says how to find it again; a new
 * pvtimed reads it, takes the eventfds and the shared memory back from
 * QEMU with pidfd_getfd(2), and serves the domain as if nothing happened.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock/wallclock.h"
#include "core/atomic_file.h"
#include "core/deferred.h"
#include "core/log.h"
#include "core/monotonic.h"
#include "core/proc_fds.h"
#include "core/sched_fifo.h"
#include "core/timebase.h"
#include "domain/domain_priv.h"
#include "domain/domain_state.h"
#include "host/host_clock_watch.h"
#include "host/time_source_watch.h"

int domain_keep_config(struct domain *d, const char *text, char *err,
		       size_t errlen)
{
	int ret = atomic_file_write(d->saved_config_path, text, strlen(text));

	if (ret)
		snprintf(err, errlen, "%s: %s", d->saved_config_path,
			 strerror(-ret));
	return ret ? -1 : 0;
}

/* The ids never change: read them from /proc once, not every second. */
static int learn_fd_ids(struct domain *d)
{
	int ret;

	if (d->fd_ids_known)
		return 0;
	ret = proc_fd_inode(d->shm.fd, &d->memfd_ino);
	if (!ret)
		ret = ivshmem_server_eventfd_ids(&d->ivshmem, d->host_eventfd_id,
						 d->guest_eventfd_id);
	d->fd_ids_known = !ret;
	return ret;
}

static int collect_state(struct domain *d, struct domain_saved *st)
{
	int ret;

	ret = learn_fd_ids(d);
	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	st->domid = d->domid;
	st->qemu_pid = d->qemu_pid;
	st->qemu_start_ticks = d->qemu_start_ticks;
	st->memfd_ino = d->memfd_ino;
	memcpy(st->host_eventfd_id, d->host_eventfd_id, sizeof(st->host_eventfd_id));
	memcpy(st->guest_eventfd_id, d->guest_eventfd_id,
	       sizeof(st->guest_eventfd_id));
	st->pause_stop_tsc = d->pause_stop_tsc;
	st->pauses = d->pauses;
	st->paused_total_ns = d->paused_total_ns;
	records_save_state(&d->clock, &st->clock);
	snprintf(st->config_path, sizeof(st->config_path), "%s", d->config_path);
	return 0;
}

void domain_save_state(struct domain *d)
{
	struct domain_saved st;
	char *text;
	int ret;

	d->state_dirty = false;
	if (d->state != DOMAIN_RUNNING || !d->qemu_start_ticks)
		return;
	ret = collect_state(d, &st);
	if (ret) {
		log_ratelimited(&d->state_rl, LOG_LEVEL_WARN,
				"domain %s: cannot collect its state (%s); a restarted pvtimed cannot adopt it",
				d->cfg.name, strerror(-ret));
		return;
	}
	text = domain_state_format(&st);
	if (!text)
		return;
	if (d->state_written && !strcmp(text, d->state_written)) {
		free(text);
		return;
	}
	ret = domain_state_write(d->state_path, &st);
	if (ret) {
		log_ratelimited(&d->state_rl, LOG_LEVEL_WARN,
				"domain %s: cannot write %s: %s", d->cfg.name,
				d->state_path, strerror(-ret));
		free(text);
		return;
	}
	free(d->state_written);
	d->state_written = text;
}

static struct deferred save_soon = { .src.fd = -1 };

static void save_dirty(void)
{
	struct domain *d;

	for (d = domain_first(); d; d = d->next)
		if (d->state_dirty)
			domain_save_state(d);
}

void domain_save_state_soon(struct domain *d)
{
	int ret = 0;

	d->state_dirty = true;
	if (save_soon.src.fd < 0)
		ret = deferred_init(&save_soon, save_dirty);
	if (!ret)
		ret = deferred_arm(&save_soon, DOMAIN_SAVE_DELAY_MS * 1000000ull);
	if (ret) {
		log_ratelimited(&d->state_rl, LOG_LEVEL_WARN,
				"domain %s: cannot defer saving its state (%s); saving now",
				d->cfg.name, strerror(-ret));
		domain_save_state(d);
	}
}

void domain_save_state_fini(void)
{
	deferred_fini(&save_soon);
}

void domain_save_state_all(void)
{
	struct domain *d;

	for (d = domain_first(); d; d = d->next)
		domain_save_state(d);
}

/* The adopted QEMU ended: its pidfd became readable. */
static void on_qemu_exit(struct event_source *src, uint32_t events)
{
	struct domain *d = (struct domain *)((char *)src -
					     offsetof(struct domain, qemu_exit));

	(void)events;
	event_loop_remove(&d->qemu_exit);
	close(d->qemu_exit.fd);
	d->qemu_exit.fd = -1;
	if (d->state == DOMAIN_RUNNING)
		domain_mark_shutdown(d, "ended (not our child: exit status unknown)");
}

#define ADOPT_FDS_RETRY_MS	20
#define ADOPT_FDS_TRIES		100	/* 2 s */

/* The memfd and eventfds, out of QEMU.  0, or -1 with err. */
static int take_qemu_fds(struct domain *d, const struct domain_saved *st,
			 int *shm_fd, int *host_fds, int *guest_fds,
			 char *err, size_t errlen)
{
	struct proc_fd_wanted want[1 + 2 * PVTIME_NR_VECTORS];
	size_t missing = 0, v;
	unsigned int tries;
	int ret;

	want[0] = (struct proc_fd_wanted){ .kind = PROC_FD_MEMFD, .id = st->memfd_ino };
	for (v = 0; v < PVTIME_NR_VECTORS; v++) {
		want[1 + v] = (struct proc_fd_wanted){
			.kind = PROC_FD_EVENTFD, .id = st->host_eventfd_id[v] };
		want[1 + PVTIME_NR_VECTORS + v] = (struct proc_fd_wanted){
			.kind = PROC_FD_EVENTFD, .id = st->guest_eventfd_id[v] };
	}
	/*
	 * QEMU may still be taking in the message it was reading when the
	 * last pvtimed ended: give it a moment.  The messages after that one
	 * are lost (QEMU closes the socket at the hangup), so a QEMU that
	 * had not read everything (info's ivshmem_connected false) cannot
	 * be adopted.
	 */
	for (tries = 0;; tries++) {
		ret = proc_take_fds(d->qemu_pid, d->qemu_exit.fd, want,
				    sizeof(want) / sizeof(want[0]), &missing);
		if (ret != -ENOENT || tries == ADOPT_FDS_TRIES)
			break;
		sleep_ms(ADOPT_FDS_RETRY_MS);
	}
	if (tries && !ret)
		log_info("domain %s: QEMU held all its fds after %u ms",
			 d->cfg.name, tries * ADOPT_FDS_RETRY_MS);
	if (ret == -ENOENT) {
		snprintf(err, errlen,
			 "QEMU (pid %d) holds no %s with id %llu: the last pvtimed ended before QEMU read it from the ivshmem socket (info showed ivshmem_connected false), or the host kernel does not show eventfd-id in /proc/PID/fdinfo",
			 (int)d->qemu_pid,
			 want[missing].kind == PROC_FD_MEMFD ? "shared memory" : "eventfd",
			 (unsigned long long)want[missing].id);
		return -1;
	}
	if (ret) {
		snprintf(err, errlen, "cannot take QEMU's (pid %d) fds: %s%s",
			 (int)d->qemu_pid, strerror(-ret),
			 ret == -EPERM ? " (pidfd_getfd needs CAP_SYS_PTRACE)" : "");
		return -1;
	}
	*shm_fd = want[0].fd;
	for (v = 0; v < PVTIME_NR_VECTORS; v++) {
		host_fds[v] = want[1 + v].fd;
		guest_fds[v] = want[1 + PVTIME_NR_VECTORS + v].fd;
	}
	return 0;
}

static void close_fds(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Serve the running QEMU again.  0, or -1 with err. */
static int adopt_running(struct domain *d, const struct domain_saved *st,
			 char *err, size_t errlen)
{
	struct pvtime_shm_identity id = {
		.domid = d->domid, .nr_vcpus = d->cfg.vcpus,
	};
	int host_fds[PVTIME_NR_VECTORS], guest_fds[PVTIME_NR_VECTORS];
	struct records_adoption how;
	int shm_fd, ret;

	if (take_qemu_fds(d, st, &shm_fd, host_fds, guest_fds, err, errlen))
		return -1;
	ret = pvtime_shm_adopt(&d->shm, shm_fd, &id);
	if (ret) {
		snprintf(err, errlen, "its shared memory: %s%s", strerror(-ret),
			 ret == -EPROTO ? " (not this domain's: magic, domid or vCPUs differ)" : "");
		close_fds(host_fds, PVTIME_NR_VECTORS);
		close_fds(guest_fds, PVTIME_NR_VECTORS);
		return -1;
	}
	ret = domain_clock_adopt(&d->clock, d->cfg.name, d->cfg.vcpus,
				 d->cfg.tsc_stable, &d->shm, &st->clock, &how);
	if (ret) {
		snprintf(err, errlen, "its records: %s", strerror(-ret));
		close_fds(host_fds, PVTIME_NR_VECTORS);
		close_fds(guest_fds, PVTIME_NR_VECTORS);
		return -1;
	}
	d->clock_ready = true;
	if (domain_apply_clock_policies(d, err, errlen))
		return -1;
	d->clock.recheck_in = host_clock_watch_recheck_in;
	mailbox_server_init(&d->mailbox, d->cfg.name, &d->shm, &d->clock,
			    domain_on_records_changed, d);
	mailbox_server_set_time_source(&d->mailbox, d->cfg.time_source,
				       time_source_wallclock_changed);
	ret = ivshmem_server_adopt(&d->ivshmem, d->cfg.name, d->ivshmem_path,
				   d->shm.fd, host_fds, guest_fds,
				   domain_on_doorbell, d);
	if (ret) {
		snprintf(err, errlen, "its doorbells: %s", strerror(-ret));
		return -1;
	}
	d->ivshmem_ready = true;
	d->memfd_ino = st->memfd_ino;
	memcpy(d->host_eventfd_id, st->host_eventfd_id, sizeof(d->host_eventfd_id));
	memcpy(d->guest_eventfd_id, st->guest_eventfd_id,
	       sizeof(d->guest_eventfd_id));
	d->fd_ids_known = true;
	d->paused = st->clock.paused;
	if (d->paused)
		mailbox_server_guest_stopping(&d->mailbox);
	d->pause_stop_tsc = st->pause_stop_tsc;
	d->pauses = st->pauses;
	d->paused_total_ns = st->paused_total_ns;
	if (how.torn)
		wallclock_publish(&d->clock, &d->shm, true);
	log_info("domain %s: records %s, from vCPU %u's record; %s%s",
		 d->cfg.name, how.live ? "live" : "not yet live",
		 how.source_vcpu,
		 how.state_current ? "reference as saved" :
		 "state older than the records: the records' function is the reference now",
		 how.torn ? "; a record or the wall clock was left mid-write and was rewritten" : "");
	return 0;
}

/* One state file.  Returns 1 adopted, 0 not (logged). */
static int adopt_one(const char *state_file)
{
	struct domain_saved st;
	struct domain *d;
	char err[512], *text = NULL, *cfg_copy = NULL;
	char domid_text[16];
	struct timespec now;
	int pidfd, ret;

	if (domain_state_read(state_file, &st, err, sizeof(err))) {
		log_error("cannot adopt: %s; file left for inspection", err);
		return 0;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		log_error("cannot adopt %s: out of memory", state_file);
		return 0;
	}
	d->shm.fd = -1;
	d->qemu_exit.fd = -1;
	d->state = DOMAIN_RUNNING;
	d->domid = st.domid;
	d->qemu_pid = st.qemu_pid;
	d->qemu_start_ticks = st.qemu_start_ticks;

	/* The config copy sits beside the state file, same stem. */
	if (asprintf(&cfg_copy, "%.*s%s",
		     (int)(strlen(state_file) - strlen(DOMAIN_STATE_SUFFIX)),
		     state_file, DOMAIN_CONFIG_SUFFIX) < 0) {
		cfg_copy = NULL;
		snprintf(err, sizeof(err), "out of memory");
		goto fail_early;
	}
	text = domain_config_read(cfg_copy, err, sizeof(err));
	/* Parsed as the original: relative paths resolve against its dir. */
	if (!text ||
	    domain_config_parse(st.config_path, text, &d->cfg, err, sizeof(err)))
		goto fail_early;
	d->config_path = strdup(st.config_path);
	if (!d->config_path || domain_set_paths(d)) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	snprintf(domid_text, sizeof(domid_text), "%u", d->domid);
	if (domain_lookup(d->cfg.name) || domain_lookup(domid_text)) {
		snprintf(err, sizeof(err), "a domain with its name or domid %u exists",
			 d->domid);
		goto fail_keep;
	}
	pidfd = proc_pidfd_open(d->qemu_pid, d->qemu_start_ticks);
	if (pidfd == -ESRCH) {
		log_info("domain %s: QEMU (pid %d) ended while no pvtimed ran; forgetting the domain",
			 d->cfg.name, (int)d->qemu_pid);
		domain_free(d, false);
		goto out;
	}
	if (pidfd < 0) {
		snprintf(err, sizeof(err), "pidfd_open(%d): %s", (int)d->qemu_pid,
			 strerror(-pidfd));
		goto fail_keep;
	}
	d->qemu_exit.fd = pidfd;
	d->qemu_exit.handler = on_qemu_exit;
	if (adopt_running(d, &st, err, sizeof(err)))
		goto fail_keep;
	if (event_loop_add(&d->qemu_exit)) {
		snprintf(err, sizeof(err), "cannot watch QEMU's pidfd");
		goto fail_keep;
	}
	d->adopted = true;
	/* The guest runs already: a QEMU left at another priority is said. */
	ret = sched_fifo_qemu(d->qemu_pid);
	if (ret)
		log_warn("domain %s: cannot make QEMU's main loop SCHED_FIFO %d (--sched-fifo): %s; it keeps its scheduling",
			 d->cfg.name, sched_fifo_prio() - 1, strerror(-ret));
	clock_gettime(CLOCK_REALTIME, &now);
	d->adopted_at_ns = (uint64_t)now.tv_sec * 1000000000ull +
			   (uint64_t)now.tv_nsec;
	d->state_written = domain_state_format(&st);
	domain_table_add(d);
	/* Doorbells rung while nobody served are in the eventfd counts. */
	mailbox_server_kick(&d->mailbox);
	log_info("domain %s: adopted as domid %u (qemu pid %d%s)", d->cfg.name,
		 d->domid, (int)d->qemu_pid, d->paused ? ", paused" : "");
	free(text);
	free(cfg_copy);
	return 1;

fail_early:
	log_error("cannot adopt the domain of %s: %s; QEMU pid %d left as it is, state file left",
		  state_file, err, (int)st.qemu_pid);
	free(d);
	goto out;
fail_keep:
	log_error("domain %s: cannot adopt: %s; QEMU pid %d left running, state file left",
		  d->cfg.name, err, (int)d->qemu_pid);
	domain_free(d, true);
	goto out;
fail:
	log_error("domain %s: cannot adopt: %s", d->cfg.name, err);
	domain_free(d, true);
out:
	free(text);
	free(cfg_copy);
	return 0;
}

static int state_file_name(const struct dirent *ent)
{
	size_t len = strlen(ent->d_name), slen = strlen(DOMAIN_STATE_SUFFIX);

	return len > slen && !strcmp(ent->d_name + len - slen, DOMAIN_STATE_SUFFIX);
}

unsigned int domain_adopt_all(void)
{
	struct dirent **names;
	unsigned int adopted = 0;
	int n, i;

	n = scandir(domain_state_dir(), &names, state_file_name, alphasort);
	if (n < 0) {
		log_error("cannot list the state dir %s: %s", domain_state_dir(),
			  strerror(errno));
		return 0;
	}
	for (i = 0; i < n; i++) {
		char *path;

		if (asprintf(&path, "%s/%s", domain_state_dir(),
			     names[i]->d_name) >= 0) {
			adopted += adopt_one(path);
			free(path);
		}
		free(names[i]);
	}
	free(names);
	if (n)
		log_info("adopted %u of %d domain(s) left by a previous pvtimed",
			 adopted, n);
	return adopted;
}
