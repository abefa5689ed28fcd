// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvxl save / restore.  A save stops the guest (QMP "stop", as pause),
 * writes the header (domain/save_file.h), has QEMU append its migration
 * stream to the file (QMP "migrate" to exec:cat), checksums the stream
 * into the header and ends the domain, as xl save does.  A restore checks
 * the file, starts QEMU with -S -incoming, serves its ivshmem connection,
 * waits for the stream to be loaded, rewrites the shared memory the
 * stream brought back (records with GUEST_STOPPED, this host's offset and
 * rate), and continues the guest under the stopped-time policy.  Both run
 * synchronously in the event loop (a second or two under TCG).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pvclock_math.h"
#include "clock/wallclock.h"
#include "core/log.h"
#include "core/monotonic.h"
#include "core/timebase.h"
#include "domain/domain_priv.h"
#include "domain/qemu.h"
#include "domain/qmp.h"
#include "domain/save_file.h"

#define SAVE_TIMEOUT_MS		120000
#define RESTORE_TIMEOUT_MS	60000
#define POLL_INTERVAL_MS	20
/* A stopped guest's stream is all there is to send: no need to throttle. */
#define SAVE_MAX_BANDWIDTH	"10737418240"

/* This boot's id ("-" if unknown: then no restore trusts the TSC). */
void domain_boot_id(char *out, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	size_t n = 0;

	if (f) {
		if (fgets(out, (int)len, f))
			n = strcspn(out, "\n");
		fclose(f);
	}
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (out[i] <= ' ' || out[i] > '~')
			n = 0;
	if (!n)
		snprintf(out, len, "-");
}

int domain_qmp_run(struct domain *d, const char *cmd, const char *args,
		   struct qmp_reply *reply, char *err, size_t errlen)
{
	char why[320];

	if (qmp_run_args(d->qmp_path, cmd, args, QMP_TIMEOUT_MS, reply, why,
			 sizeof(why))) {
		snprintf(err, errlen, "domain '%s': %s", d->cfg.name, why);
		return -1;
	}
	return 0;
}

static int write_all_at(int fd, const char *buf, size_t len, off_t at)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, at);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
		at += n;
	}
	return 0;
}

/* QEMU appended the stream: its length and checksum into the header. */
static int finish_header(int fd, struct save_header *h, const char *path,
			 char *err, size_t errlen)
{
	static char chunk[1 << 20];
	uint64_t sum = FNV64_INIT, total = 0;
	char *block;
	ssize_t n;
	int ret;

	if (lseek(fd, (off_t)h->header_bytes, SEEK_SET) < 0) {
		snprintf(err, errlen, "%s: seek: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		sum = save_fnv64(sum, chunk, (size_t)n);
		total += (uint64_t)n;
	}
	if (n < 0) {
		snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
		return -1;
	}
	if (!total) {
		snprintf(err, errlen, "%s: QEMU wrote no migration stream", path);
		return -1;
	}
	h->stream_bytes = total;
	h->stream_fnv64 = sum;
	block = save_header_format(h);
	if (!block) {
		snprintf(err, errlen, "%s: cannot format the header", path);
		return -1;
	}
	ret = write_all_at(fd, block, h->header_bytes, 0);
	free(block);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (ret) {
		snprintf(err, errlen, "%s: write: %s", path, strerror(-ret));
		return -1;
	}
	return 0;
}

/* Poll query-migrate until the stream is written; 0 or -1 with err. */
static int wait_migration(struct domain *d, char *err, size_t errlen)
{
	uint64_t deadline = monotonic_ns() + SAVE_TIMEOUT_MS * 1000000ull;
	struct qmp_reply reply;
	char status[64], desc[256];

	for (;;) {
		if (domain_qmp_run(d, "query-migrate", NULL, &reply, err, errlen))
			return -1;
		if (qmp_return_string(reply.ret, "status", status, sizeof(status)))
			status[0] = '\0';
		if (!strcmp(status, "completed"))
			return 0;
		if (!strcmp(status, "failed") || !strcmp(status, "cancelled")) {
			if (qmp_return_string(reply.ret, "error-desc", desc,
					      sizeof(desc)))
				snprintf(desc, sizeof(desc), "no reason given");
			snprintf(err, errlen, "domain '%s': QEMU's migration %s: %s",
				 d->cfg.name, status, desc);
			return -1;
		}
		if (monotonic_ns() > deadline) {
			snprintf(err, errlen, "domain '%s': migration not done after %d s (status '%s')",
				 d->cfg.name, SAVE_TIMEOUT_MS / 1000, status);
			return -1;
		}
		sleep_ms(POLL_INTERVAL_MS);
	}
}

void domain_header_fill(struct domain *d, struct save_header *h, char *config)
{
	char policy[STOPPED_TIME_NAME_MAX];
	uint64_t now_tsc;
	int64_t now_rt;

	/* When the guest TSC stopped, on the host's CLOCK_REALTIME. */
	now_rt = realtime_ns();
	now_tsc = pvtime_rdtsc();
	memset(h, 0, sizeof(*h));
	records_image_at_stop(&d->clock, d->pause_stop_tsc,
			      now_rt - (int64_t)timebase_cycles_to_ns(now_tsc -
								       d->pause_stop_tsc),
			      &h->clock);
	domain_boot_id(h->boot_id, sizeof(h->boot_id));
	h->abi_version = d->cfg.abi_version;
	snprintf(h->name, sizeof(h->name), "%s", d->cfg.name);
	h->vcpus = d->cfg.vcpus;
	stopped_time_policy_name(d->cfg.stopped_time, d->cfg.stopped_slew_ppm,
				 policy, sizeof(policy));
	snprintf(h->stopped_time, sizeof(h->stopped_time), "%s", policy);
	snprintf(h->config_path, sizeof(h->config_path), "%s", d->config_path);
	h->pauses = d->pauses;
	h->paused_total_ns = d->paused_total_ns;
	h->config = config;
	h->config_len = strlen(config);
}

int domain_save(struct domain *d, const char *path,
		struct domain_save_result *res, char *err, size_t errlen)
{
	struct save_header h;
	struct qmp_reply reply;
	char args[QMP_ARGS_MAX];
	char *block = NULL, *config;
	bool paused_here = false;
	uint64_t rtt_ns, t0 = monotonic_ns();
	int fd = -1, ret;

	memset(res, 0, sizeof(*res));
	if (d->state != DOMAIN_RUNNING) {
		snprintf(err, errlen, "domain '%s' is shut down", d->cfg.name);
		return -1;
	}
	if (d->cfg.clock == CLOCK_MODE_VIRTUAL) {
		snprintf(err, errlen,
			 "domain '%s' runs on virtual time (clock = \"virtual\"): save and restore are not supported for it",
			 d->cfg.name);
		return -1;
	}
	if (!save_path_usable(path)) {
		snprintf(err, errlen, "save file '%s': the path must be absolute, without quotes, backslashes or control characters",
			 path);
		return -1;
	}
	config = domain_config_read(d->saved_config_path, err, errlen);
	if (!config)
		return -1;
	if (domain_stop_for_stream(d, &paused_here, err, errlen)) {
		free(config);
		return -1;
	}
	domain_header_fill(d, &h, config);
	block = save_header_format(&h);
	if (!block) {
		snprintf(err, errlen, "domain '%s': cannot format the save header",
			 d->cfg.name);
		goto fail;
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	ret = write_all_at(fd, block, h.header_bytes, 0);
	if (ret) {
		snprintf(err, errlen, "%s: write: %s", path, strerror(-ret));
		goto fail_unlink;
	}
	if (domain_qmp_run(d, "migrate-set-parameters",
		       "{\"max-bandwidth\":" SAVE_MAX_BANDWIDTH "}", &reply, err,
		       errlen))
		goto fail_unlink;
	snprintf(args, sizeof(args), "{\"uri\":\"exec:cat >> '%s'\"}", path);
	if (domain_qmp_run(d, "migrate", args, &reply, err, errlen) ||
	    wait_migration(d, err, errlen) ||
	    finish_header(fd, &h, path, err, errlen))
		goto fail_unlink;
	close(fd);
	free(block);
	res->stream_bytes = h.stream_bytes;
	res->header_bytes = h.header_bytes;
	res->elapsed_ns = monotonic_ns() - t0;
	log_info("domain %s: saved to %s (%" PRIu64 " bytes of stream, %" PRIu64 " ms)",
		 d->cfg.name, path, h.stream_bytes, res->elapsed_ns / 1000000);
	save_header_free(&h);
	/* Saved: the domain ends, as with xl save. */
	domain_destroy(d);
	return 0;

fail_unlink:
	close(fd);
	unlink(path);
fail:
	free(block);
	save_header_free(&h);
	log_warn("%s", err);
	if (paused_here) {
		char why[256];
		uint64_t paused_ns;

		if (domain_unpause(d, d->cfg.stopped_time, d->cfg.stopped_slew_ppm,
				   &rtt_ns, &paused_ns, why, sizeof(why)))
			log_warn("domain %s: after the failed save: %s",
				 d->cfg.name, why);
	}
	return -1;
}

/* Wait until QEMU has loaded the stream (status leaves "inmigrate"). */
int domain_wait_incoming(struct domain *d, const char *file,
			 unsigned int timeout_ms, char *err, size_t errlen)
{
	uint64_t deadline = monotonic_ns() + timeout_ms * 1000000ull;
	struct qmp_reply reply;
	char status[64], why[320];
	int wstatus;

	for (;;) {
		if (waitpid(d->qemu_pid, &wstatus, WNOHANG) == d->qemu_pid) {
			char how[64];

			domain_describe_exit(wstatus, how, sizeof(how));
			d->qemu_pid = 0;
			snprintf(err, errlen, "%s: QEMU could not load the saved guest (%s; see %s)",
				 file, how, d->qemu_log_path);
			return -1;
		}
		if (!qmp_run(d->qmp_path, "query-status", QMP_TIMEOUT_MS, &reply,
			     why, sizeof(why)) &&
		    !qmp_return_string(reply.ret, "status", status, sizeof(status))) {
			if (!strcmp(status, "paused") || !strcmp(status, "prelaunch"))
				return 0;
			if (strcmp(status, "inmigrate")) {
				snprintf(err, errlen, "%s: QEMU is '%s' after loading the saved guest",
					 file, status);
				return -1;
			}
		}
		if (monotonic_ns() > deadline) {
			snprintf(err, errlen, "%s: QEMU did not load the saved guest within %u s",
				 file, timeout_ms / 1000);
			return -1;
		}
		sleep_ms(POLL_INTERVAL_MS);
	}
}

int domain_restored_continue(struct domain *d, const struct save_header *h,
			     enum stopped_time_policy stopped,
			     uint32_t slew_ppm, char *err, size_t errlen)
{
	uint64_t rtt_ns, paused_ns;

	/* The stream brought the old shared memory back: make it this one's. */
	WRITE_ONCE(d->shm.ctl->domid, d->domid);
	records_restored_publish(&d->clock, &d->shm);
	wallclock_publish(&d->clock, &d->shm, true);
	d->paused = true;
	/* Paused since the save, as far as this host's TSC can say. */
	{
		int64_t away = realtime_ns() - h->clock.realtime_at_stop_ns;
		uint64_t now = pvtime_rdtsc();
		uint64_t back = away > 0 ? (uint64_t)((unsigned __int128)away *
					timebase_get()->tsc_hz / 1000000000u) : 0;

		d->pause_stop_tsc = back < now ? now - back : 0;
	}
	d->pauses = h->pauses;
	d->paused_total_ns = h->paused_total_ns;
	domain_table_add(d);
	domain_save_state(d);
	if (domain_unpause(d, stopped, slew_ppm, &rtt_ns, &paused_ns, err,
			   errlen))
		return -1;
	/* Host steps while it was away: the guest takes them up now. */
	domain_ring_wallclock(d);
	return 0;
}

int domain_restore(const char *file, const char *config_path,
		   const char *policy_text, struct domain_restore_result *res,
		   char *err, size_t errlen)
{
	struct domain_restore_ctx rc = { 0 };
	struct save_header h;
	enum stopped_time_policy stopped;
	uint32_t slew_ppm;
	char *config_text = NULL, *incoming = NULL;
	const char *origin;
	struct domain *d = NULL;
	uint64_t t0 = monotonic_ns();
	int ret;

	memset(res, 0, sizeof(*res));
	if (!save_path_usable(file)) {
		snprintf(err, errlen, "save file '%s': the path must be absolute, without quotes, backslashes or control characters",
			 file);
		return -1;
	}
	if (save_file_check(file, &h, err, errlen))
		return -1;
	if (config_path) {
		config_text = domain_config_read(config_path, err, errlen);
		if (!config_text)
			goto fail;
		origin = config_path;
	} else {
		config_text = strdup(h.config);
		if (!config_text) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		origin = h.config_path;
	}
	d = domain_prepare(origin, config_text, err, errlen);
	if (!d)
		goto fail;
	if (d->cfg.vcpus != h.vcpus) {
		snprintf(err, errlen, "%s: the saved guest has %u vCPUs, config %s has %u",
			 file, h.vcpus, origin, d->cfg.vcpus);
		goto fail;
	}
	if (d->cfg.abi_version != h.abi_version) {
		snprintf(err, errlen, "%s: the saved guest speaks pvtime ABI %u, config %s says %u",
			 file, h.abi_version, origin, d->cfg.abi_version);
		goto fail;
	}
	stopped = d->cfg.stopped_time;
	slew_ppm = d->cfg.stopped_slew_ppm;
	if (policy_text && stopped_time_policy_parse(policy_text, &stopped,
						     &slew_ppm, err, errlen))
		goto fail;
	if (asprintf(&incoming, "exec:tail -c +%" PRIu64 " '%s'",
		     h.header_bytes + 1, file) < 0) {
		incoming = NULL;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	rc.img = &h.clock;
	{
		char boot_id[sizeof(h.boot_id)];

		domain_boot_id(boot_id, sizeof(boot_id));
		rc.same_tsc = strcmp(boot_id, "-") && !strcmp(boot_id, h.boot_id);
	}
	rc.now_realtime_ns = realtime_ns();
	rc.now_tsc = pvtime_rdtsc();
	rc.incoming = incoming;
	if (domain_start(d, &rc, err, errlen))
		goto fail;
	ret = ivshmem_server_accept_wait(&d->ivshmem, RESTORE_TIMEOUT_MS);
	if (ret) {
		snprintf(err, errlen, "%s: QEMU did not connect to the ivshmem server: %s",
			 file, strerror(-ret));
		goto fail;
	}
	if (domain_wait_incoming(d, file, RESTORE_TIMEOUT_MS, err, errlen))
		goto fail;
	res->load_ns = monotonic_ns() - t0;
	if (domain_restored_continue(d, &h, stopped, slew_ppm, err, errlen)) {
		/* In the table, paused: the operator may unpause or destroy. */
		log_warn("domain %s: restored from %s but left paused: %s",
			 d->cfg.name, file, err);
		res->d = d;
		res->paused = true;
		res->stopped = stopped;
		res->slew_ppm = slew_ppm;
		free(config_text);
		free(incoming);
		save_header_free(&h);
		return 0;
	}
	res->d = d;
	res->stopped = stopped;
	res->slew_ppm = slew_ppm;
	res->same_host = rc.same_tsc;
	res->saved_realtime_ns = h.clock.realtime_at_stop_ns;
	res->elapsed_ns = monotonic_ns() - t0;
	log_info("domain %s: restored as domid %u from %s (qemu pid %d, %s, stopped %lld ms since the save, loaded in %" PRIu64 " ms)",
		 d->cfg.name, d->domid, file, (int)d->qemu_pid,
		 rc.same_tsc ? "saved in this boot: time away by the TSC" :
			       "saved elsewhere: time away by CLOCK_REALTIME",
		 (long long)((realtime_ns() - h.clock.realtime_at_stop_ns) / 1000000),
		 res->load_ns / 1000000);
	free(config_text);
	free(incoming);
	save_header_free(&h);
	return 0;

fail:
	log_warn("restore %s failed: %s", file, err);
	if (d) {
		if (d->qemu_pid > 0)
			qemu_kill(d->qemu_pid, 2000);
		domain_free(d, false);
	}
	free(config_text);
	free(incoming);
	save_header_free(&h);
	return -1;
}
