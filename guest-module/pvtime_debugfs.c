// SPDX-License-Identifier: GPL-2.0
/*
 * View of pvtime under /sys/kernel/debug/pvtime/:
 *
 *   state           control page, handshake result, counters ("key value")
 *   records         one line per vCPU record
 *   wallclock       wc, system time and their sum, sampled together
 *   realtime_probe  each read runs a realtime probe against the hyp
 *   time_source     the time-source forwarding (pvtime_timesource.c)
 *   set_wallclock   write-only: one SET_WALLCLOCK (pvtime_timesource.c)
 *
 * Documentation/guest-module.rst describes the formats.
 *
 * Owns no state: it reads what the other files own, through their
 * accessors where one exists.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/timekeeping.h>

#include "pvtime.h"

#define PVTIME_REALTIME_PROBE_ROUNDS	32

/* " <50:N <100:N ... >=5000:N": doorbells by how long until REALTIME was set. */
static void pvtime_debugfs_step_hist(struct seq_file *m, struct pvtime_dev *pd)
{
	static const unsigned int bounds_us[] = PVTIME_STEP_WAIT_BOUNDS_US;
	unsigned int i;

	for (i = 0; i < PVTIME_STEP_WAIT_BUCKETS; i++) {
		if (i < ARRAY_SIZE(bounds_us))
			seq_printf(m, " <%u:", bounds_us[i]);
		else
			seq_printf(m, " >=%u:", bounds_us[i - 1]);
		seq_printf(m, "%lld",
			   atomic64_read(&pd->wallclock_doorbell_to_step_hist[i]));
	}
	seq_putc(m, '\n');
}

static int pvtime_state_show(struct seq_file *m, void *unused)
{
	struct pvtime_dev *pd = m->private;
	const struct pvtime_control *ctl = pd->ctl;

	seq_printf(m, "magic %#x\n", READ_ONCE(ctl->magic));
	seq_printf(m, "abi_version %u\n", READ_ONCE(ctl->abi_version));
	seq_printf(m, "domid %u\n", READ_ONCE(ctl->domid));
	seq_printf(m, "nr_vcpus %u\n", READ_ONCE(ctl->nr_vcpus));
	seq_printf(m, "features %#llx\n", READ_ONCE(ctl->features));
	seq_printf(m, "tsc_hz %llu\n", READ_ONCE(ctl->tsc_hz));
	seq_printf(m, "host_peer_id %u\n", READ_ONCE(ctl->host_peer_id));
	seq_printf(m, "own_peer_id %u\n",
		   ioread32(pd->regs + PVTIME_IVSHMEM_REG_IVPOSITION));
	seq_printf(m, "status %#x\n", READ_ONCE(ctl->status));
	seq_printf(m, "guest_tsc_offset %lld\n",
		   (s64)READ_ONCE(ctl->guest_tsc_offset));
	seq_printf(m, "records_generation %u\n",
		   READ_ONCE(ctl->records_generation));
	seq_printf(m, "handshake_rtt_cycles %llu\n", pd->handshake_rtt_cycles);
	seq_printf(m, "handshake_rounds %u\n", pd->handshake_rounds);
	seq_printf(m, "mailbox_irqs_off_max_ns %llu\n",
		   READ_ONCE(pd->mailbox_irqs_off_max_ns));
	seq_printf(m, "mailbox_irqs_off_limit_ns %llu\n",
		   (u64)PVTIME_IRQS_OFF_MAX_US * NSEC_PER_USEC);
	seq_printf(m, "mailbox_slow_answers %llu\n",
		   READ_ONCE(pd->mailbox_slow_answers));
	seq_printf(m, "odd_record_fallbacks %lld\n",
		   atomic64_read(&pd->odd_record_fallbacks));
	seq_printf(m, "odd_record_warnings %lld\n",
		   atomic64_read(&pd->odd_record_warnings));
	seq_printf(m, "guest_stopped_seen %lld\n",
		   atomic64_read(&pd->guest_stopped_seen));
	seq_printf(m, "clock_status_torn %lld\n",
		   atomic64_read(&pd->clock_status_torn));
	seq_printf(m, "wallclock_irqs %lld\n",
		   atomic64_read(&pd->wallclock_irqs));
	seq_printf(m, "wallclock_steps %lld\n",
		   atomic64_read(&pd->wallclock_steps));
	seq_printf(m, "wallclock_last_step_ns %lld\n",
		   atomic64_read(&pd->wallclock_last_step_ns));
	seq_printf(m, "wallclock_residual_ns %lld\n",
		   atomic64_read(&pd->wallclock_residual_ns));
	seq_printf(m, "wallclock_attempts %lld\n",
		   atomic64_read(&pd->wallclock_attempts));
	seq_printf(m, "wallclock_lag_ns %lld\n",
		   atomic64_read(&pd->wallclock_lag_now_ns));
	seq_printf(m, "wallclock_doorbell_to_step_ns %lld\n",
		   atomic64_read(&pd->wallclock_doorbell_to_step_ns));
	seq_printf(m, "wallclock_doorbell_to_step_max_ns %lld\n",
		   atomic64_read(&pd->wallclock_doorbell_to_step_max_ns));
	seq_puts(m, "wallclock_doorbell_to_step_hist_us");
	pvtime_debugfs_step_hist(m, pd);
	seq_printf(m, "wallclock_ignored %lld\n",
		   atomic64_read(&pd->wallclock_ignored));
	seq_printf(m, "wallclock_offset_unsure %lld\n",
		   atomic64_read(&pd->wallclock_offset_unsure));
	seq_printf(m, "wallclock_sync_ms %u\n",
		   READ_ONCE(pvtime_wallclock_sync_ms));
	seq_printf(m, "wallclock_step_ns %lu\n", pvtime_wallclock_step_ns);
	seq_printf(m, "tsc_evidence_agreed %u\n", pd->tsc_evidence_agreed);
	seq_printf(m, "tsc_evidence_refused %u\n", pd->tsc_evidence_refused);
	seq_printf(m, "tsc_evidence_failed %u\n", pd->tsc_evidence_failed);
	seq_printf(m, "tsc_stable_trusted %d\n", pvtime_stable_trusted(pd));
	/* What the guard starts from: the latest time any CPU returned. */
	seq_printf(m, "guard_last_ns %lld\n", pvtime_clock_guard_floor(pd));
	seq_printf(m, "records_irqs %lld\n", atomic64_read(&pd->records_irqs));
	seq_printf(m, "guest_stopped_touches %lld\n",
		   atomic64_read(&pd->guest_stopped_touches));
	seq_printf(m, "fastpath %s\n",
		   pvtime_fastpath_state_name(READ_ONCE(pd->fastpath_state)));
	seq_printf(m, "fastpath_engaged %lld\n",
		   atomic64_read(&pd->fastpath_engaged));
	seq_printf(m, "fastpath_dropped %lld\n",
		   atomic64_read(&pd->fastpath_dropped));
	seq_printf(m, "clocksource_handoffs %lld\n",
		   atomic64_read(&pd->clocksource_handoffs));
	mutex_lock(&pd->fastpath_lock);
	seq_printf(m, "fastpath_tsc_hz %llu\n", pd->tsc_cs_registered ?
		   pvtime_hz_from_scale(pd->tsc_cs_mul, pd->tsc_cs_shift) : 0);
	seq_printf(m, "fastpath_worst_skew_ns %lld\n",
		   pd->fastpath_worst_skew_ns);
	mutex_unlock(&pd->fastpath_lock);
	seq_printf(m, "calibration_ms %u\n", READ_ONCE(pd->calibration_ms));
	seq_printf(m, "calibrations %lld\n", atomic64_read(&pd->calibrations));
	seq_printf(m, "calibration_failures %lld\n",
		   atomic64_read(&pd->calibration_failures));
	seq_printf(m, "calibration_busy %lld\n",
		   atomic64_read(&pd->calibration_busy));
	seq_printf(m, "health_checks %lld\n", atomic64_read(&pd->health_checks));
	seq_printf(m, "health_inconclusive %lld\n",
		   atomic64_read(&pd->health_inconclusive));
	seq_printf(m, "health_records_offset_ns %lld\n",
		   atomic64_read(&pd->health_records_offset_ns));
	seq_printf(m, "health_realtime_offset_ns %lld\n",
		   atomic64_read(&pd->health_realtime_offset_ns));
	seq_printf(m, "vouched %d\n", pvtime_records_vouched(pd));
	seq_printf(m, "vouch_fallbacks %lld\n",
		   atomic64_read(&pd->vouch_fallbacks));
	seq_printf(m, "vouch_reason %s\n",
		   pd->vouch_reason[0] ? pd->vouch_reason : "-");
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvtime_state);

static int pvtime_records_show(struct seq_file *m, void *unused)
{
	struct pvtime_dev *pd = m->private;
	unsigned int vcpu, nr = READ_ONCE(pd->ctl->nr_vcpus);

	for (vcpu = 0; vcpu < min_t(unsigned int, nr, PVTIME_XEN_MAX_VCPUS); vcpu++) {
		pvtime_time_info_t rec;

		if (pvtime_time_snapshot(pvtime_vcpu_time(pd->si, vcpu),
					 PVTIME_READ_MAX_TRIES, &rec)) {
			seq_printf(m, "vcpu %u unreadable\n", vcpu);
			continue;
		}
		seq_printf(m, "vcpu %u version %u tsc_timestamp %llu system_time %llu mul %u shift %d flags %#x\n",
			   vcpu, rec.version, rec.tsc_timestamp, rec.system_time,
			   rec.tsc_to_system_mul, rec.tsc_shift, rec.flags);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvtime_records);

static int pvtime_wallclock_show(struct seq_file *m, void *unused)
{
	struct pvtime_dev *pd = m->private;
	u64 system_ns;
	s64 wc_ns;
	int ret;

	ret = pvtime_wallclock_sample(pd, &wc_ns, &system_ns);
	if (ret)
		return ret;
	seq_printf(m, "wc_ns %lld system_ns %llu wall_ns %lld\n",
		   wc_ns, system_ns, wc_ns + system_ns);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvtime_wallclock);

static int pvtime_realtime_probe_show(struct seq_file *m, void *unused)
{
	struct pvtime_dev *pd = m->private;
	struct pvtime_realtime_probe res;
	int ret;

	ret = pvtime_realtime_probe(pd, PVTIME_REALTIME_PROBE_ROUNDS, &res);
	if (ret)
		return ret;
	seq_printf(m, "offset_ns %lld rtt_ns %llu rounds %u records_offset_ns %lld raw_offset_ns %lld host_raw_ns %lld records_lead_ns %lld\n",
		   res.offset_ns, res.rtt_ns, res.rounds, res.records_offset_ns,
		   res.raw_offset_ns, res.host_raw_ns, res.records_lead_ns);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvtime_realtime_probe);

/* debugfs is a debugging aid: the driver works without it. */
void pvtime_debugfs_init(struct pvtime_dev *pd)
{
	struct dentry *dir = debugfs_create_dir(KBUILD_MODNAME, NULL);

	pd->debugfs_dir = dir;
	debugfs_create_file("state", 0444, dir, pd, &pvtime_state_fops);
	debugfs_create_file("records", 0444, dir, pd, &pvtime_records_fops);
	debugfs_create_file("wallclock", 0444, dir, pd, &pvtime_wallclock_fops);
	debugfs_create_file("realtime_probe", 0444, dir, pd,
			    &pvtime_realtime_probe_fops);
	pvtime_timesource_debugfs(pd, dir);
}

void pvtime_debugfs_exit(struct pvtime_dev *pd)
{
	debugfs_remove_recursive(pd->debugfs_dir);
}
