// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The domain layer as the control commands see it, without QEMU: two
 * domains with real shared memory, clocks and fault state ("fuzz", domid 1,
 * running; "down", domid 2, shut down).  What would start or stop QEMU
 * (create, destroy, pause, unpause) refuses or does nothing, so any request
 * line can be served over and over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/domain.h"
#include "fault/fault_inject.h"
#include "fuzz_control_domains.h"
#include "host/host_clock_follow.h"
#include "pvtime_abi.h"
#include "host/time_source_watch.h"
#include "core/timebase.h"

#define FAKE_VCPUS	2
#define CALIBRATE_MS	20

static struct domain fakes[2];

static void fake_init(struct domain *d, const char *name, uint32_t domid,
		      enum domain_state state, uint64_t tsc_hz)
{
	struct pvtime_shm_identity id = {
		.abi_version = PVTIME_ABI_VERSION, .domid = domid,
		.nr_vcpus = FAKE_VCPUS, .tsc_hz = tsc_hz,
	};

	d->domid = domid;
	d->state = state;
	snprintf(d->cfg.name, sizeof(d->cfg.name), "%s", name);
	d->cfg.vcpus = FAKE_VCPUS;
	d->cfg.memory_mib = 512;
	d->config_path = "/fuzz/domain.cfg";
	d->console_path = "/fuzz/console";
	d->log_path = "/fuzz/console.log";
	d->qmp_path = "/fuzz/qmp.sock";
	d->qemu_log_path = "/fuzz/qemu.log";
	d->qemu_pid = 1;
	if (pvtime_shm_create(&d->shm, name, &id) ||
	    domain_clock_init(&d->clock, name, tsc_hz, FAKE_VCPUS,
			      TSC_STABLE_AUTO)) {
		fprintf(stderr, "fuzz: cannot set up domain %s\n", name);
		exit(1);
	}
	d->clock_ready = true;
}

void fuzz_domains_init(void)
{
	struct timebase tb;

	if (timebase_calibrate(&tb, CALIBRATE_MS)) {
		fprintf(stderr, "fuzz: cannot calibrate the TSC\n");
		exit(1);
	}
	timebase_set(&tb);
	fault_injection_enable(true);
	fake_init(&fakes[0], "fuzz", 1, DOMAIN_RUNNING, tb.tsc_hz);
	fake_init(&fakes[1], "down", 2, DOMAIN_SHUTDOWN, tb.tsc_hz);
	fakes[0].next = &fakes[1];
}

struct domain *domain_first(void)
{
	return &fakes[0];
}

struct domain *domain_lookup(const char *name_or_id)
{
	struct domain *d;

	for (d = domain_first(); d; d = d->next) {
		char id[16];

		snprintf(id, sizeof(id), "%u", d->domid);
		if (!strcmp(name_or_id, d->cfg.name) || !strcmp(name_or_id, id))
			return d;
	}
	return NULL;
}

/* Nothing is kept on disk under the fuzzer. */
void time_source_save(void)
{
}

struct domain *domain_time_source(void)
{
	struct domain *d;

	for (d = domain_first(); d; d = d->next)
		if (d->state == DOMAIN_RUNNING && d->cfg.time_source)
			return d;
	return NULL;
}

struct domain *domain_create(const char *config_path, char *err, size_t errlen)
{
	snprintf(err, errlen, "fuzz: not creating a domain from %s", config_path);
	return NULL;
}

void domain_destroy(struct domain *d)
{
	(void)d;
}

int domain_pause(struct domain *d, uint64_t *qmp_rtt_ns, char *err,
		 size_t errlen)
{
	(void)qmp_rtt_ns;
	snprintf(err, errlen, "fuzz: domain %s has no QEMU", d->cfg.name);
	return -1;
}

int domain_unpause(struct domain *d, enum stopped_time_policy stopped,
		   uint32_t slew_ppm, uint64_t *qmp_rtt_ns, uint64_t *paused_ns,
		   char *err, size_t errlen)
{
	(void)stopped;
	(void)slew_ppm;
	(void)qmp_rtt_ns;
	(void)paused_ns;
	snprintf(err, errlen, "fuzz: domain %s has no QEMU", d->cfg.name);
	return -1;
}

int domain_save(struct domain *d, const char *path,
		struct domain_save_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof(*res));
	snprintf(err, errlen, "fuzz: domain %s has no QEMU to save to %s",
		 d->cfg.name, path);
	return -1;
}

int domain_restore(const char *file, const char *config_path,
		   const char *policy_text, struct domain_restore_result *res,
		   char *err, size_t errlen)
{
	(void)config_path;
	(void)policy_text;
	memset(res, 0, sizeof(*res));
	snprintf(err, errlen, "%s: fuzz: no QEMU to restore into", file);
	return -1;
}

/* Migration: the fake domains refuse it. */
char *domain_migrate_header(struct domain *d, bool stopped, char *err,
			    size_t errlen)
{
	(void)stopped;
	snprintf(err, errlen, "fuzz: domain %s has no QEMU to migrate",
		 d->cfg.name);
	return NULL;
}

int domain_migrate_send(struct domain *d, const char *uri, bool live,
			struct domain_migrate_result *res, char *err,
			size_t errlen)
{
	(void)live;
	memset(res, 0, sizeof(*res));
	snprintf(err, errlen, "fuzz: domain %s has no QEMU to send to %s",
		 d->cfg.name, uri);
	return -1;
}

int domain_migrate_resume(struct domain *d, char *err, size_t errlen)
{
	snprintf(err, errlen, "fuzz: domain %s has no QEMU", d->cfg.name);
	return -1;
}

int domain_incoming_prepare(const char *header_path,
			    struct domain_incoming_info *info, char *err,
			    size_t errlen)
{
	memset(info, 0, sizeof(*info));
	snprintf(err, errlen, "%s: fuzz: no QEMU to receive into", header_path);
	return -1;
}

int domain_incoming_finish(const char *name, const char *header_path,
			   struct domain_restore_result *res, char *err,
			   size_t errlen)
{
	memset(res, 0, sizeof(*res));
	snprintf(err, errlen, "%s: fuzz: no incoming migration of '%s'",
		 header_path, name);
	return -1;
}

int domain_incoming_abort(const char *name, char *err, size_t errlen)
{
	snprintf(err, errlen, "no incoming migration of domain '%s'", name);
	return -1;
}

const char *domain_state_label(const struct domain *d)
{
	return d->state == DOMAIN_RUNNING ? "running" : "shutdown";
}

void domain_describe_exit(int status, char *buf, size_t len)
{
	snprintf(buf, len, "status %d", status);
}

uint64_t domain_paused_total_ns(const struct domain *d)
{
	return d->paused_total_ns;
}

void domain_ring_wallclock(struct domain *d)
{
	(void)d;
}

/* Nothing is kept on disk for a fake domain. */
void domain_save_state(struct domain *d)
{
	(void)d;
}

void domain_save_state_soon(struct domain *d)
{
	(void)d;
}

void domain_ring_records(struct domain *d)
{
	(void)d;
}

bool ivshmem_server_connected(const struct ivshmem_server *srv)
{
	(void)srv;
	return false;
}

void ivshmem_server_doorbell_counts(const struct ivshmem_server *srv,
				    unsigned long *wakes,
				    unsigned long *held_off)
{
	(void)srv;
	*wakes = 0;
	*held_off = 0;
}

/* The host clock watch (a timer in the daemon) is not running here. */
void host_clock_watch_recheck_in(uint64_t ns)
{
	(void)ns;
}

/* No host clock follower in the harness: info shows "raw". */
bool host_clock_follow_snapshot(struct clock_follow *out,
				struct adjtime_model *adjtime)
{
	(void)out;
	(void)adjtime;
	return false;
}
