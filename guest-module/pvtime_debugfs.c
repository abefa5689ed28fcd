// SPDX-License-Identifier: GPL-2.0
/*
 * View of pvtime under /sys/kernel/debug/pvtime/:
 *
 *   state           control page, handshake result, counters ("key value")
 *   records         one line per vCPU record
 *   wallclock       wc, system time and their sum, sampled together
 *   wallclock_doorbells  the last wall-clock doorbells' way to REALTIME
 *   realtime_probe  each read runs a realtime probe against the hyp
 *   clock_sequence  each read: clock and TSC deltas over fixed work,
 *                   interrupts off (virtual-time determinism)
 *   time_source     the time-source forwarding (pvtime_timesource.c)
 *   set_wallclock   write-only: one SET_WALLCLOCK (pvtime_timesource.c)
 *
 * Documentation/guest-module.rst describes the formats.
 *
 * Owns no state: "state" is the control page, then each part's own lines
 * (pvtime_*_show_state(), in the file that owns that part).
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/timekeeping.h>

#include "pvtime.h"

#define PVTIME_REALTIME_PROBE_ROUNDS	32

/* The control page as the hyp wrote it, then each part's own state. */
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
	pvtime_mailbox_show_state(pd, m);
	pvtime_clock_show_state(pd, m);
	pvtime_clock_status_show_state(pd, m);
	pvtime_wallclock_show_state(pd, m);
	pvtime_fastpath_show_state(pd, m);
	pvtime_takeup_show_state(pd, m);
	pvtime_calibrate_show_state(pd, m);
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

static int pvtime_wallclock_doorbells_show(struct seq_file *m, void *unused)
{
	pvtime_wallclock_show_doorbells(m->private, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvtime_wallclock_doorbells);

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

/*
 * The determinism check of virtual-time domains (clock = "virtual"):
 * with interrupts off, read the pvtime clock and the TSC
 * PVTIME_SEQUENCE_READS times with a fixed, varying amount of work in
 * between, and print the deltas.  Under QEMU -icount the guest TSC counts
 * executed instructions, so every delta is a function of the code alone:
 * two boots print the same lines.  On host time they differ run to run.
 */
#define PVTIME_SEQUENCE_READS	32

static noinline void pvtime_sequence_work(unsigned int loops)
{
	unsigned int i;

	for (i = 0; i < loops; i++)
		barrier();
}

static int pvtime_clock_sequence_show(struct seq_file *m, void *unused)
{
	struct pvtime_dev *pd = m->private;
	u64 clock[PVTIME_SEQUENCE_READS], tsc[PVTIME_SEQUENCE_READS];
	unsigned long flags;
	unsigned int i;

	local_irq_save(flags);
	for (i = 0; i < PVTIME_SEQUENCE_READS; i++) {
		tsc[i] = rdtsc_ordered();
		clock[i] = pvtime_clock_now(pd);
		pvtime_sequence_work((i * 37 % 61) * 16);
	}
	local_irq_restore(flags);
	seq_puts(m, "clock_deltas_ns");
	for (i = 1; i < PVTIME_SEQUENCE_READS; i++)
		seq_printf(m, " %llu", clock[i] - clock[i - 1]);
	seq_puts(m, "\ntsc_deltas");
	for (i = 1; i < PVTIME_SEQUENCE_READS; i++)
		seq_printf(m, " %llu", tsc[i] - tsc[i - 1]);
	seq_putc(m, '\n');
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvtime_clock_sequence);

/* debugfs is a debugging aid: the driver works without it. */
void pvtime_debugfs_init(struct pvtime_dev *pd)
{
	struct dentry *dir = debugfs_create_dir(KBUILD_MODNAME, NULL);

	pd->debugfs_dir = dir;
	debugfs_create_file("state", 0444, dir, pd, &pvtime_state_fops);
	debugfs_create_file("records", 0444, dir, pd, &pvtime_records_fops);
	debugfs_create_file("wallclock", 0444, dir, pd, &pvtime_wallclock_fops);
	debugfs_create_file("wallclock_doorbells", 0444, dir, pd,
			    &pvtime_wallclock_doorbells_fops);
	debugfs_create_file("realtime_probe", 0444, dir, pd,
			    &pvtime_realtime_probe_fops);
	debugfs_create_file("clock_sequence", 0444, dir, pd,
			    &pvtime_clock_sequence_fops);
	pvtime_timesource_debugfs(pd, dir);
	pvtime_takeup_debugfs(pd, dir);
}

void pvtime_debugfs_exit(struct pvtime_dev *pd)
{
	debugfs_remove_recursive(pd->debugfs_dir);
}
