// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "pvclock_math.h"
#include "pvtime_ctl.h"
#include "clock/wallclock.h"
#include "control/control_commands.h"
#include "control/control_migrate.h"
#include "core/log.h"
#include "core/parse_int.h"
#include "core/sched_fifo.h"
#include "core/timebase.h"
#include "domain/clock_status_domains.h"
#include "domain/domain.h"
#include "fault/fault_inject.h"
#include "host/host_clock_follow.h"
#include "host/time_source_watch.h"

static struct domain *find_domain(const char *dom, char *err, size_t errlen)
{
	struct domain *d = domain_lookup(dom);

	if (!d)
		snprintf(err, errlen, "no such domain '%s'", dom);
	return d;
}

static int cmd_create(int argc, char **argv, struct emit *e, char *err,
		      size_t errlen)
{
	struct domain *d;

	(void)argc;
	d = domain_create(argv[0], err, errlen);
	if (!d) {
		log_warn("create %s failed: %s", argv[0], err);
		return PVTIME_EXIT_FAILURE;
	}
	emit_str(e, "name", d->cfg.name);
	emit_u64(e, "domid", d->domid);
	return PVTIME_EXIT_OK;
}

static int cmd_list(int argc, char **argv, struct emit *e, char *err,
		    size_t errlen)
{
	struct domain *d;

	(void)argc;
	(void)argv;
	(void)err;
	(void)errlen;
	emit_array_begin(e, "domains");
	for (d = domain_first(); d; d = d->next) {
		bool known;

		pthread_mutex_lock(&d->clock.lock);
		known = d->clock.offset_known;
		pthread_mutex_unlock(&d->clock.lock);
		emit_object_begin(e, NULL);
		emit_str(e, "name", d->cfg.name);
		emit_u64(e, "domid", d->domid);
		emit_str(e, "state", domain_state_label(d));
		emit_u64(e, "vcpus", d->cfg.vcpus);
		emit_bool(e, "offset_known", known);
		emit_bool(e, "time_source", d->cfg.time_source);
		emit_object_end(e);
	}
	emit_array_end(e);
	return PVTIME_EXIT_OK;
}

static void emit_wallclock(struct emit *e, struct domain *d)
{
	const struct shared_info *si = d->shm.si;
	__s64 wc_ns = 0;
	int ret;

	ret = pvtime_wallclock_read(si, PVTIME_READ_MAX_TRIES, &wc_ns);
	emit_object_begin(e, "wallclock");
	emit_u64(e, "wc_version", READ_ONCE(*pvtime_wc_version(si)));
	emit_u64(e, "wc_sec", READ_ONCE(*pvtime_wc_sec(si)));
	emit_u64(e, "wc_nsec", READ_ONCE(*pvtime_wc_nsec(si)));
	emit_u64(e, "wc_sec_hi", READ_ONCE(*pvtime_wc_sec_hi(si)));
	if (ret)
		emit_str(e, "wc_ns", "unreadable (update in progress)");
	else
		emit_s64(e, "wc_ns", wc_ns);
	emit_s64(e, "wall_now_ns", wallclock_now(&d->clock));
	emit_u64(e, "doorbells", d->wallclock_rings);
	emit_s64(e, "last_doorbell_raw_ns", d->wallclock_ring_raw_ns);
	emit_object_end(e);
}

static void emit_records(struct emit *e, struct domain *d)
{
	unsigned int cpu;

	emit_array_begin(e, "records");
	for (cpu = 0; cpu < d->cfg.vcpus; cpu++) {
		pvtime_time_info_t rec;
		int ret = pvtime_time_snapshot(pvtime_vcpu_time(d->shm.si, cpu),
					       PVTIME_READ_MAX_TRIES, &rec);

		emit_object_begin(e, NULL);
		emit_u64(e, "vcpu", cpu);
		if (ret == -ERANGE) {
			emit_str(e, "error", "record's tsc_shift out of range");
		} else if (ret) {
			emit_str(e, "error", "record unreadable (update in progress)");
		} else {
			emit_u64(e, "version", rec.version);
			emit_u64(e, "tsc_timestamp", rec.tsc_timestamp);
			emit_u64(e, "system_time", rec.system_time);
			emit_u64(e, "tsc_to_system_mul", rec.tsc_to_system_mul);
			emit_s64(e, "tsc_shift", rec.tsc_shift);
			emit_u64(e, "flags", rec.flags);
		}
		emit_object_end(e);
	}
	emit_array_end(e);
}

static void emit_stability(struct emit *e, const struct domain_clock *snap,
			   uint64_t now_tsc)
{
	uint32_t cpu;

	emit_str(e, "tsc_stable_policy", tsc_stable_policy_name(snap->stable_policy));
	emit_bool(e, "tsc_stable", snap->flags & PVTIME_FLAG_TSC_STABLE);
	emit_bool(e, "tsc_evidence_complete",
		  tsc_evidence_complete(&snap->evidence, now_tsc, 0));
	emit_bool(e, "guest_calibrates", snap->evidence.periodic);
	emit_array_begin(e, "tsc_evidence");
	for (cpu = 0; cpu < snap->evidence.nr_vcpus; cpu++) {
		const struct vcpu_evidence *v = &snap->evidence.vcpu[cpu];

		emit_object_begin(e, NULL);
		emit_u64(e, "vcpu", cpu);
		emit_str(e, "state", vcpu_evidence_state_name(v->state));
		if (v->samples) {
			emit_s64(e, "offset", v->offset);
			emit_u64(e, "rtt_cycles", v->rtt_cycles);
			emit_u64(e, "tolerance_cycles", v->tolerance_cycles);
			emit_u64(e, "samples", v->samples);
			emit_u64(e, "age_ms",
				 timebase_cycles_to_ns(now_tsc - v->sample_tsc) / 1000000);
			if (v->rate_known)
				emit_double(e, "rate_ppm", (double)v->rate_ppb / 1000.0, 3);
		}
		emit_object_end(e);
	}
	emit_array_end(e);
}

/* How the records were steered back onto the host's time. */
static void emit_calibration(struct emit *e, const struct domain_clock *snap,
			     uint64_t now_tsc)
{
	emit_object_begin(e, "calibration");
	emit_u64(e, "offset_moves", snap->offset_moves);
	emit_u64(e, "offset_refinements", snap->evidence.refinements);
	emit_s64(e, "last_lead_ns", snap->last_lead_ns);
	emit_u64(e, "last_lead_age_ms", snap->last_lead_tsc ?
		 timebase_cycles_to_ns(now_tsc - snap->last_lead_tsc) / 1000000 : 0);
	emit_u64(e, "forward_steps", snap->forward_steps);
	emit_u64(e, "forward_step_ns_total", snap->forward_step_ns_total);
	emit_s64(e, "last_forward_step_ns", snap->last_forward_step_ns);
	emit_u64(e, "records_jumped_ns", snap->records_jumped_ns);
	emit_u64(e, "slews", snap->slews);
	emit_s64(e, "slew_ppm", snap->slew_ppm);
	emit_bool(e, "correction_pending", snap->correction_pending);
	emit_bool(e, "resume_correction_pending", snap->resume_tsc != 0);
	emit_double(e, "resume_correction_ms",
		    (double)snap->resume_correction_ns / 1e6, 3);
	emit_s64(e, "drift_ns", snap->lag_ns);
	emit_u64(e, "kept_ns_total", snap->kept_ns_total);
	emit_object_end(e);
}

static void emit_time_function(struct emit *e, const struct domain_clock *snap)
{
	emit_object_begin(e, "time_function");
	emit_u64(e, "anchor_host_tsc", snap->fn.anchor_tsc);
	emit_u64(e, "system_ns", snap->fn.system_ns);
	emit_u64(e, "mul", snap->fn.mul);
	emit_s64(e, "shift", snap->fn.shift);
	emit_u64(e, "records_hz", snap->records_hz);
	emit_u64(e, "reanchors", snap->reanchors);
	emit_double(e, "rounding_bias_mean_ns", snap->reanchors ?
		    (double)snap->rounding_bias_sum / 4294967296.0 /
		    (double)snap->reanchors : 0.0, 6);
	emit_u64(e, "rate_term_total_ns", snap->rate_term_sum_ns);
	emit_u64(e, "last_rewrite_ns", timebase_cycles_to_ns(snap->last_write_cycles));
	emit_object_end(e);
}

/* The host clock follower, shared by every domain (host_clock_follow.h). */
static void emit_host_clock(struct emit *e, const uint64_t *domain_hz)
{
	struct clock_follow cf;
	struct adjtime_model adjtime;
	bool following = host_clock_follow_snapshot(&cf, &adjtime);

	emit_object_begin(e, "host_clock");
	emit_str(e, "follows", following ? "CLOCK_MONOTONIC (host NTP)" :
		 "CLOCK_MONOTONIC_RAW (--host-clock raw)");
	emit_bool(e, "following", following);
	if (following) {
		if (domain_hz)
			emit_bool(e, "domain_at_followed_rate",
				  *domain_hz == cf.applied_hz);
		emit_u64(e, "applied_hz", cf.applied_hz);
		emit_double(e, "measured_hz", cf.est_hz, 3);
		emit_double(e, "adjtimex_freq_ppm", (double)cf.kernel.freq / 65536.0, 3);
		emit_s64(e, "adjtimex_tick", cf.kernel.tick);
		emit_s64(e, "pll_slew_ppb", cf.kernel.pll_ppb);
		emit_s64(e, "adjtime_slew_ppm", cf.kernel.adjtime_ppm);
		emit_s64(e, "last_error_ns", cf.last_error_ns);
		emit_s64(e, "max_abs_error_ns", cf.max_abs_error_ns);
		emit_bool(e, "trimming", cf.trimming);
		emit_u64(e, "samples", cf.samples);
		emit_u64(e, "wide_samples", cf.wide_samples);
		emit_u64(e, "rate_changes", cf.rate_changes);
		emit_u64(e, "kernel_changes", cf.kernel_changes);
		emit_u64(e, "trims", cf.trims);
		emit_u64(e, "breaks", cf.breaks);
		emit_u64(e, "adjtime_ends_measured", adjtime.ends_measured);
		emit_u64(e, "adjtime_ends_by_deadline", adjtime.ends_by_deadline);
		emit_u64(e, "adjtime_fastpath_holds", adjtime.fastpath_holds);
	}
	emit_object_end(e);
}

/* Who sets the hyp's wall clock, and what this domain asked of it. */
static void emit_time_source(struct emit *e, struct domain *d)
{
	const struct mailbox_set_wallclock_stats *st = &d->mailbox.set_wallclock;
	struct domain *source = domain_time_source();

	emit_object_begin(e, "time_source");
	emit_bool(e, "is_time_source", d->cfg.time_source);
	emit_str(e, "source_domain", source ? source->cfg.name : "(none)");
	emit_s64(e, "hyp_wall_offset_ns", wallclock_hyp_offset_ns());
	emit_u64(e, "set_wallclock_forwarded", atomic_load(&st->forwarded));
	emit_u64(e, "set_wallclock_refused", atomic_load(&st->refused));
	emit_u64(e, "set_wallclock_invalid", atomic_load(&st->invalid));
	emit_s64(e, "last_forward_moved_ns", atomic_load(&st->last_moved_ns));
	emit_object_end(e);
}

/* rtc_timeoffset and localtime, and what they made of the wall offset. */
static void emit_create_offset(struct emit *e, const struct domain *d)
{
	emit_object_begin(e, "wall_offset_at_create");
	emit_s64(e, "rtc_timeoffset", d->cfg.rtc_timeoffset_s);
	emit_bool(e, "localtime", d->cfg.localtime);
	if (d->create_offset_known) {
		emit_s64(e, "host_utc_offset_s", d->create_utc_offset_s);
		emit_s64(e, "offset_s", d->create_offset_s);
	} else {
		emit_str(e, "offset_s", "unknown (adopted: the wall offset came from its saved state)");
	}
	emit_object_end(e);
}

static int cmd_info(int argc, char **argv, struct emit *e, char *err,
		    size_t errlen)
{
	struct domain *d = find_domain(argv[0], err, errlen);
	char policy[STOPPED_TIME_NAME_MAX];
	char drift_policy[DRIFT_POLICY_NAME_MAX];
	struct domain_clock snap;
	const struct pvtime_control *ctl;
	unsigned long doorbell_wakes, doorbell_held_off;
	uint64_t now_tsc;

	(void)argc;
	if (!d)
		return PVTIME_EXIT_FAILURE;
	pthread_mutex_lock(&d->clock.lock);
	snap = d->clock;
	now_tsc = pvtime_rdtsc();
	pthread_mutex_unlock(&d->clock.lock);
	ctl = d->shm.ctl;

	emit_str(e, "name", d->cfg.name);
	emit_u64(e, "domid", d->domid);
	emit_str(e, "state", domain_state_label(d));
	emit_s64(e, "qemu_pid", d->qemu_pid);
	if (d->state == DOMAIN_RUNNING && d->qemu_pid > 0) {
		char sched[32];

		emit_str(e, "qemu_main_loop_sched",
			 sched_fifo_describe(d->qemu_pid, sched, sizeof(sched)));
	}
	if (d->state == DOMAIN_SHUTDOWN) {
		char how[64];

		if (d->qemu_status_known)
			domain_describe_exit(d->qemu_status, how, sizeof(how));
		else
			snprintf(how, sizeof(how), "ended (exit status unknown: adopted, not our child)");
		emit_str(e, "qemu_exit", how);
	}
	emit_bool(e, "adopted", d->adopted);
	emit_u64(e, "pauses", d->pauses);
	emit_u64(e, "paused_total_ns", domain_paused_total_ns(d));
	emit_str(e, "stopped_time",
		 stopped_time_policy_name(d->cfg.stopped_time,
					  d->cfg.stopped_slew_ppm, policy,
					  sizeof(policy)));
	emit_str(e, "clock", clock_mode_name(d->cfg.clock));
	emit_str(e, "drift", drift_policy_name(&d->cfg.drift, drift_policy,
					       sizeof(drift_policy)));
	emit_bool(e, "ivshmem_connected", ivshmem_server_connected(&d->ivshmem));
	ivshmem_server_doorbell_counts(&d->ivshmem, &doorbell_wakes,
				       &doorbell_held_off);
	emit_u64(e, "doorbell_wakes", doorbell_wakes);
	emit_u64(e, "doorbell_hold_offs", doorbell_held_off);
	emit_u64(e, "vcpus", d->cfg.vcpus);
	emit_u64(e, "memory_mib", d->cfg.memory_mib);
	emit_str(e, "accel", domain_accel_name(d->cfg.accel));
	if (d->cfg.accel == DOMAIN_ACCEL_TCG)
		emit_str(e, "tcg_thread", tcg_thread_mode_name(d->cfg.tcg_thread));
	emit_u64(e, "abi_version", READ_ONCE(ctl->abi_version));
	emit_u64(e, "tsc_hz", snap.tsc_hz);
	emit_host_clock(e, &snap.tsc_hz);
	emit_u64(e, "features", READ_ONCE(ctl->features));
	emit_u64(e, "status", READ_ONCE(ctl->status));
	emit_u64(e, "records_generation", snap.generation);
	emit_bool(e, "guest_tsc_offset_known", snap.offset_known);
	emit_s64(e, "guest_tsc_offset", snap.guest_tsc_offset);
	emit_u64(e, "handshake_rtt_cycles", snap.handshake_rtt_cycles);
	emit_u64(e, "handshake_rtt_ns",
		 timebase_cycles_to_ns(snap.handshake_rtt_cycles));
	emit_u64(e, "mailbox_sessions", atomic_load(&d->mailbox.sessions));
	emit_u64(e, "mailbox_probes_held",
		 atomic_load(&d->mailbox.answers_held));
	emit_stability(e, &snap, now_tsc);
	emit_calibration(e, &snap, now_tsc);
	emit_time_function(e, &snap);
	fault_emit(e, d);
	clock_status_emit(e, d);
	emit_s64(e, "wall_offset_ns", snap.wall_offset_ns);
	emit_create_offset(e, d);
	emit_time_source(e, d);
	emit_wallclock(e, d);
	emit_records(e, d);
	emit_str(e, "console", d->console_path);
	emit_str(e, "console_log", d->log_path);
	emit_str(e, "qemu_log", d->qemu_log_path);
	emit_str(e, "qmp", d->qmp_path);
	emit_str(e, "config", d->config_path);
	return PVTIME_EXIT_OK;
}

/*
 * pvxl drift: the domain's drift now, what was given back, its skips and
 * its history (one sample a second).  Times are the domain's reference
 * time (host time since its creation) in ms.
 */
static int cmd_drift(int argc, char **argv, struct emit *e, char *err,
		     size_t errlen)
{
	struct domain *d = find_domain(argv[0], err, errlen);
	char policy[DRIFT_POLICY_NAME_MAX];
	static struct drift_account acc;	/* ~50 KiB: not on the stack */
	uint64_t now_ns;
	uint32_t i;

	(void)argc;
	if (!d)
		return PVTIME_EXIT_FAILURE;
	pthread_mutex_lock(&d->clock.lock);
	acc = d->clock.drift;
	now_ns = domain_clock_system_ns(&d->clock, pvtime_rdtsc());
	pthread_mutex_unlock(&d->clock.lock);

	emit_str(e, "name", d->cfg.name);
	emit_u64(e, "domid", d->domid);
	emit_str(e, "clock", clock_mode_name(d->cfg.clock));
	emit_str(e, "drift", drift_policy_name(&acc.policy, policy, sizeof(policy)));
	emit_u64(e, "give_back_period_ms", DRIFT_GIVE_BACK_PERIOD_NS / 1000000);
	emit_u64(e, "now_ms", now_ns / 1000000);
	emit_bool(e, "measured", acc.measured);
	emit_u64(e, "measured_age_ms", acc.measured && now_ns > acc.measured_at_ns ?
		 (now_ns - acc.measured_at_ns) / 1000000 : 0);
	emit_s64(e, "current_ns", acc.current_ns);
	emit_u64(e, "accumulated_ns", acc.accumulated_ns);
	emit_u64(e, "skipped_ns", acc.skipped_ns);
	emit_u64(e, "skips", acc.skips);
	emit_u64(e, "slewed_ns", acc.slewed_ns);
	emit_array_begin(e, "skip_log");
	for (i = 0; i < acc.skip_log_count; i++) {
		const struct drift_skip *k = drift_skip_at(&acc, i);

		emit_object_begin(e, NULL);
		emit_u64(e, "at_ms", k->at_ns / 1000000);
		emit_s64(e, "drift_before_ns", k->drift_before_ns);
		emit_u64(e, "skipped_ns", k->skipped_ns);
		emit_object_end(e);
	}
	emit_array_end(e);
	emit_array_begin(e, "history");
	for (i = 0; i < acc.history.count; i++) {
		const struct drift_sample *h = drift_history_at(&acc.history, i);

		emit_object_begin(e, NULL);
		emit_u64(e, "at_ms", h->at_ns / 1000000);
		emit_s64(e, "current_ns", h->current_ns);
		emit_u64(e, "accumulated_ns", h->accumulated_ns);
		emit_u64(e, "skipped_ns", h->skipped_ns);
		emit_u64(e, "slewed_ns", h->slewed_ns);
		emit_object_end(e);
	}
	emit_array_end(e);
	return PVTIME_EXIT_OK;
}

static int cmd_destroy(int argc, char **argv, struct emit *e, char *err,
		       size_t errlen)
{
	struct domain *d = find_domain(argv[0], err, errlen);

	(void)argc;
	if (!d)
		return PVTIME_EXIT_FAILURE;
	emit_str(e, "name", d->cfg.name);
	emit_u64(e, "domid", d->domid);
	domain_destroy(d);
	return PVTIME_EXIT_OK;
}

static int cmd_pause(int argc, char **argv, struct emit *e, char *err,
		     size_t errlen)
{
	struct domain *d = find_domain(argv[0], err, errlen);
	uint64_t rtt_ns;

	(void)argc;
	if (!d || domain_pause(d, &rtt_ns, err, errlen))
		return PVTIME_EXIT_FAILURE;
	emit_str(e, "name", d->cfg.name);
	emit_u64(e, "domid", d->domid);
	emit_str(e, "state", domain_state_label(d));
	emit_u64(e, "qmp_round_trip_ns", rtt_ns);
	return PVTIME_EXIT_OK;
}

static int cmd_unpause(int argc, char **argv, struct emit *e, char *err,
		       size_t errlen)
{
	struct domain *d = find_domain(argv[0], err, errlen);
	char policy[STOPPED_TIME_NAME_MAX];
	enum stopped_time_policy stopped;
	uint64_t rtt_ns, paused_ns;
	uint32_t slew_ppm;

	if (!d)
		return PVTIME_EXIT_FAILURE;
	stopped = d->cfg.stopped_time;
	slew_ppm = d->cfg.stopped_slew_ppm;
	/* An optional policy for this unpause only. */
	if (argc > 1 && stopped_time_policy_parse(argv[1], &stopped, &slew_ppm,
						  err, errlen))
		return PVTIME_EXIT_FAILURE;
	if (domain_unpause(d, stopped, slew_ppm, &rtt_ns, &paused_ns, err, errlen))
		return PVTIME_EXIT_FAILURE;
	emit_str(e, "name", d->cfg.name);
	emit_u64(e, "domid", d->domid);
	emit_str(e, "state", domain_state_label(d));
	emit_u64(e, "paused_ns", paused_ns);
	emit_str(e, "stopped_time",
		 stopped_time_policy_name(stopped, slew_ppm, policy,
					  sizeof(policy)));
	emit_u64(e, "qmp_round_trip_ns", rtt_ns);
	return PVTIME_EXIT_OK;
}

static int cmd_save(int argc, char **argv, struct emit *e, char *err,
		    size_t errlen)
{
	struct domain *d = find_domain(argv[0], err, errlen);
	struct domain_save_result res;
	char name[DOMAIN_NAME_MAX + 1];
	uint32_t domid;

	(void)argc;
	if (!d)
		return PVTIME_EXIT_FAILURE;
	snprintf(name, sizeof(name), "%s", d->cfg.name);
	domid = d->domid;
	if (argv[1][0] != '/') {
		snprintf(err, errlen, "save file '%s' is not absolute", argv[1]);
		return PVTIME_EXIT_USAGE;
	}
	/* d is gone once saved. */
	if (domain_save(d, argv[1], &res, err, errlen))
		return PVTIME_EXIT_FAILURE;
	emit_str(e, "name", name);
	emit_u64(e, "domid", domid);
	emit_str(e, "file", argv[1]);
	emit_u64(e, "header_bytes", res.header_bytes);
	emit_u64(e, "stream_bytes", res.stream_bytes);
	emit_u64(e, "elapsed_ns", res.elapsed_ns);
	return PVTIME_EXIT_OK;
}

/* restore FILE [CONFIG|-] [POLICY|-] */
static int cmd_restore(int argc, char **argv, struct emit *e, char *err,
		       size_t errlen)
{
	const char *config = argc > 1 && strcmp(argv[1], "-") ? argv[1] : NULL;
	const char *policy = argc > 2 && strcmp(argv[2], "-") ? argv[2] : NULL;
	struct domain_restore_result res;
	enum stopped_time_policy stopped;
	uint32_t slew_ppm;

	if (policy && stopped_time_policy_parse(policy, &stopped, &slew_ppm, err,
						errlen))
		return PVTIME_EXIT_USAGE;
	if (argv[0][0] != '/' || (config && config[0] != '/')) {
		snprintf(err, errlen, "restore: paths must be absolute");
		return PVTIME_EXIT_USAGE;
	}
	if (domain_restore(argv[0], config, policy, &res, err, errlen))
		return PVTIME_EXIT_FAILURE;
	emit_restored_domain(e, &res, argv[0]);
	return PVTIME_EXIT_OK;
}

static int cmd_console(int argc, char **argv, struct emit *e, char *err,
		       size_t errlen)
{
	struct domain *d = find_domain(argv[0], err, errlen);

	(void)argc;
	if (!d)
		return PVTIME_EXIT_FAILURE;
	if (d->state != DOMAIN_RUNNING) {
		snprintf(err, errlen, "domain '%s' is shut down; its output is in %s",
			 d->cfg.name, d->log_path);
		return PVTIME_EXIT_FAILURE;
	}
	emit_sole_str(e, "console", d->console_path);
	return PVTIME_EXIT_OK;
}

static int set_one_wallclock(struct domain *d, enum wallclock_mode mode,
			     int64_t ns, struct emit *e, char *err, size_t errlen)
{
	char why[160];

	if (d->state != DOMAIN_RUNNING) {
		snprintf(err, errlen, "domain '%s' is shut down", d->cfg.name);
		return PVTIME_EXIT_FAILURE;
	}
	if (wallclock_set(&d->clock, &d->shm, mode, ns, why, sizeof(why))) {
		snprintf(err, errlen, "domain '%s': %s", d->cfg.name, why);
		return PVTIME_EXIT_FAILURE;
	}
	domain_ring_wallclock(d);
	domain_save_state_soon(d);
	emit_object_begin(e, NULL);
	emit_str(e, "name", d->cfg.name);
	emit_u64(e, "domid", d->domid);
	emit_s64(e, "wall_offset_ns", d->clock.wall_offset_ns);
	emit_s64(e, "wall_now_ns", wallclock_now(&d->clock));
	emit_object_end(e);
	log_info("domain %s: wall clock set, offset %lld ns", d->cfg.name,
		 (long long)d->clock.wall_offset_ns);
	return PVTIME_EXIT_OK;
}

static int cmd_set_wallclock(int argc, char **argv, struct emit *e, char *err,
			     size_t errlen)
{
	const char *how = argv[1];
	enum wallclock_mode mode;
	long long ns = 0;
	int ret = PVTIME_EXIT_OK;

	if (!strcmp(how, "host")) {
		if (argc != 2) {
			snprintf(err, errlen, "usage: set-wallclock <dom|--all> host");
			return PVTIME_EXIT_USAGE;
		}
		mode = WALLCLOCK_HOST;
	} else if (!strcmp(how, "abs") || !strcmp(how, "rel")) {
		mode = how[0] == 'a' ? WALLCLOCK_ABSOLUTE : WALLCLOCK_RELATIVE;
		if (argc != 3) {
			snprintf(err, errlen, "usage: set-wallclock <dom|--all> %s <ns>", how);
			return PVTIME_EXIT_USAGE;
		}
		if (parse_int_strict(argv[2], INT64_MIN, INT64_MAX, &ns)) {
			snprintf(err, errlen, "bad nanoseconds '%s' (expected a signed 64-bit integer)",
				 argv[2]);
			return PVTIME_EXIT_USAGE;
		}
		if (mode == WALLCLOCK_ABSOLUTE && ns < 0) {
			snprintf(err, errlen, "wall time %s ns is before 1970", argv[2]);
			return PVTIME_EXIT_FAILURE;
		}
	} else {
		snprintf(err, errlen, "bad mode '%s' (expected host, abs or rel)", how);
		return PVTIME_EXIT_USAGE;
	}

	emit_array_begin(e, "domains");
	if (!strcmp(argv[0], "--all")) {
		struct domain *d;

		/*
		 * Back to the host's own clock: the time source's offset
		 * goes too (each domain below republishes and rings), unless
		 * a time source runs: it would only set it again.
		 */
		if (mode == WALLCLOCK_HOST && wallclock_hyp_offset_ns() &&
		    !domain_time_source()) {
			log_info("hyp wall clock back on host CLOCK_REALTIME (time-source offset %lld ns dropped)",
				 (long long)wallclock_hyp_offset_ns());
			wallclock_set_hyp_offset_ns(0);
			time_source_save();
		}
		/*
		 * Apply to all; report the first failure (others still move).
		 * The time source's clock is its guest's (see below).
		 */
		for (d = domain_first(); d; d = d->next) {
			char one[256];

			if (d->state != DOMAIN_RUNNING || d == domain_time_source())
				continue;
			if (set_one_wallclock(d, mode, ns, e, one, sizeof(one)) &&
			    ret == PVTIME_EXIT_OK) {
				ret = PVTIME_EXIT_FAILURE;
				snprintf(err, errlen, "%s", one);
			}
		}
	} else {
		struct domain *d = find_domain(argv[0], err, errlen);

		/*
		 * Its guest does not follow the hyp's wall clock, it sets it:
		 * a new offset would come back as a forward moving every
		 * other domain the other way.
		 */
		if (d && d == domain_time_source()) {
			snprintf(err, errlen,
				 "domain '%s' is the time source: its guest's clock sets every domain's wall clock; set the time inside it",
				 d->cfg.name);
			ret = PVTIME_EXIT_FAILURE;
		} else {
			ret = d ? set_one_wallclock(d, mode, ns, e, err, errlen)
				: PVTIME_EXIT_FAILURE;
		}
	}
	emit_array_end(e);
	return ret;
}

static int cmd_host_info(int argc, char **argv, struct emit *e, char *err,
			 size_t errlen)
{
	const struct timebase *tb = timebase_get();
	char sched[32];

	(void)argc;
	(void)argv;
	(void)err;
	(void)errlen;
	emit_u64(e, "tsc_hz", tb->tsc_hz);
	emit_u64(e, "precision_hz", tb->precision_hz);
	emit_double(e, "precision_ppm", tb->precision_ppm, 4);
	emit_u64(e, "calibrate_ms", tb->calibrate_ms);
	emit_u64(e, "calibration_ns", tb->calibration_ns);
	emit_u64(e, "baseline_ns", tb->baseline_ns);
	emit_u64(e, "refinements", tb->refinements);
	emit_bool(e, "fault_injection", fault_injection_enabled());
	emit_str(e, "sched", sched_fifo_describe(0, sched, sizeof(sched)));
	emit_u64(e, "abi_version", PVTIME_ABI_VERSION);
	emit_host_clock(e, NULL);
	emit_str(e, "time_source", domain_time_source() ?
		 domain_time_source()->cfg.name : "(none)");
	emit_s64(e, "hyp_wall_offset_ns", wallclock_hyp_offset_ns());
	return PVTIME_EXIT_OK;
}

static int cmd_inject(int argc, char **argv, struct emit *e, char *err,
		      size_t errlen)
{
	struct fault_request req;
	struct domain *d;
	char why[200];
	int i, len = 0;
	char args[160] = "";

	if (!fault_injection_enabled()) {
		snprintf(err, errlen, "fault injection is disabled (start pvtimed with --enable-fault-injection)");
		return PVTIME_EXIT_FAILURE;
	}
	d = find_domain(argv[0], err, errlen);
	if (!d)
		return PVTIME_EXIT_FAILURE;
	if (fault_request_parse(argc - 1, argv + 1, d->cfg.vcpus, &req, err,
				errlen))
		return PVTIME_EXIT_USAGE;
	if (d->state != DOMAIN_RUNNING) {
		snprintf(err, errlen, "domain '%s' is shut down", d->cfg.name);
		return PVTIME_EXIT_FAILURE;
	}
	if (fault_apply(d, &req, why, sizeof(why))) {
		snprintf(err, errlen, "domain '%s': inject %s: %s", d->cfg.name,
			 argv[1], why);
		log_warn("%s", err);
		return PVTIME_EXIT_FAILURE;
	}
	for (i = 2; i < argc && len >= 0 && (size_t)len < sizeof(args); i++)
		len += snprintf(args + len, sizeof(args) - (size_t)len, " %s", argv[i]);
	log_info("domain %s: inject %s%s", d->cfg.name, argv[1], args);
	emit_str(e, "name", d->cfg.name);
	emit_u64(e, "domid", d->domid);
	emit_str(e, "mode", fault_mode_name(req.mode));
	fault_emit(e, d);
	return PVTIME_EXIT_OK;
}

static const struct control_command commands[] = {
	{ "create", 1, 1, "<config-path>", cmd_create },
	{ "list", 0, 0, "", cmd_list },
	{ "info", 1, 1, "<dom>", cmd_info },
	{ "drift", 1, 1, "<dom>", cmd_drift },
	{ "destroy", 1, 1, "<dom>", cmd_destroy },
	{ "pause", 1, 1, "<dom>", cmd_pause },
	{ "unpause", 1, 2, "<dom> [step|slew:PPM|keep]", cmd_unpause },
	{ "save", 2, 2, "<dom> <file>", cmd_save },
	{ "restore", 1, 3, "<file> [<config>|-] [step|slew:PPM|keep|-]",
	  cmd_restore },
	{ "migrate", 2, 3, "<dom> <dest-control-socket> [auto|live|stopped]",
	  cmd_migrate },
	{ "migrate-prepare", 2, 2, "<version> <header>", cmd_migrate_prepare },
	{ "migrate-finish", 3, 3, "<version> <name> <header>",
	  cmd_migrate_finish },
	{ "migrate-abort", 2, 2, "<version> <name>", cmd_migrate_abort },
	{ "console", 1, 1, "<dom>", cmd_console },
	{ "set-wallclock", 2, 3, "<dom|--all> host | abs <ns> | rel <ns>",
	  cmd_set_wallclock },
	{ "host-info", 0, 0, "", cmd_host_info },
	{ "inject", 2, 4, "<dom> <mode> [args]", cmd_inject },
};

const struct control_command *control_command_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}
