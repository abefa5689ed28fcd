// SPDX-License-Identifier: GPL-2.0
/*
 * The mailbox in the control page: the TSC handshake that lets the hyp
 * learn this guest's TSC offset, the realtime probe the tests use, and
 * the hyp wall-time reading behind the PTP clock (pvtime_ptp.c).
 *
 * A session starts with a doorbell (the hyp only polls the mailbox after
 * one) and ends with PVTIME_REQ_END.  Each request is one round trip:
 * fill the request fields, bump request_seq, spin until response_seq
 * matches.  Probes run with interrupts off so that nothing lands between
 * the two timestamps that bracket the hyp's answer, but only for
 * PVTIME_IRQS_OFF_MAX_US: a slower answer is waited out with interrupts
 * on and that round is tried again.  The loop around them stays
 * preemptible.
 *
 * Owns the "Mailbox" part of struct pvtime_dev (the session lock, the
 * handshake's result and the mailbox counters) and the TSC evidence
 * counters.  The realtime probe stays here: the health check
 * (pvtime_calibrate.c) uses it as well as the tests, and it is made of
 * the session and probe-window steps above.
 */
#include <linux/cpu.h>
#include <linux/delay.h>
#include <linux/irqflags.h>
#include <linux/ktime.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/smp.h>
#include <linux/timekeeping.h>
#include <linux/seq_file.h>
#include <linux/workqueue.h>

#include "pvtime.h"

#define PVTIME_HANDSHAKE_ROUNDS		64
/* The hyp wakes up on the doorbell, so the first answer can be slow. */
#define PVTIME_MAILBOX_TIMEOUT_MS	200
/* Ring again if a request sat unanswered this long (session ended idle). */
#define PVTIME_MAILBOX_RERING_MS	20
/*
 * A jump this large between two looks at the clock is time this vCPU did
 * not run, or the hyp's forward step after a pause (stopped_time step), not
 * time the hyp took to answer: it moves the deadline on, at most
 * PVTIME_MAILBOX_JUMPS_FORGIVEN times a wait, so a vCPU that is starved
 * over and over still gives up.
 */
#define PVTIME_MAILBOX_JUMP_MS		50
#define PVTIME_MAILBOX_JUMPS_FORGIVEN	2
#define PVTIME_RECORDS_TIMEOUT_MS	1000
/* ktime_get() may trap (hpet): look at the clock only every so often. */
#define PVTIME_SPINS_PER_CLOCK_CHECK	1024
/*
 * Spin this often without PAUSE first.  Under single-threaded TCG a PAUSE
 * hands the host thread to the next vCPU, which may keep it for
 * milliseconds: the probe's bracket would hold the other vCPU's time
 * slice, not the hyp's answer (a microsecond away).
 */
#define PVTIME_TIGHT_SPINS		8192
/*
 * A series of n probe rounds takes up to 2 n + PVTIME_SLOW_ROUNDS_EXTRA
 * tries: a busy host answers many late, and only one good round is needed.
 */
#define PVTIME_SLOW_ROUNDS_EXTRA	8

static unsigned int pvtime_probe_tries(unsigned int rounds)
{
	return 2 * rounds + PVTIME_SLOW_ROUNDS_EXTRA;
}

struct pvtime_tsc_probe {
	u64 guest_tsc_before;
	u64 guest_tsc_after;
	u64 host_tsc;
	u32 vcpu;
};

static const char *pvtime_request_name(u32 request)
{
	switch (request) {
	case PVTIME_REQ_TSC_PROBE:
		return "TSC_PROBE";
	case PVTIME_REQ_REALTIME_PROBE:
		return "REALTIME_PROBE";
	case PVTIME_REQ_SET_OFFSET:
		return "SET_OFFSET";
	case PVTIME_REQ_SET_WALLCLOCK:
		return "SET_WALLCLOCK";
	case PVTIME_REQ_END:
		return "END";
	default:
		return "?";
	}
}

static void pvtime_mailbox_ring(struct pvtime_dev *pd)
{
	u32 peer = READ_ONCE(pd->ctl->host_peer_id);

	writel(peer << 16 | PVTIME_VEC_MAILBOX,
	       pd->regs + PVTIME_IVSHMEM_REG_DOORBELL);
}

/* Post the request whose fields the caller filled in: its sequence number. */
static u32 pvtime_mailbox_send(struct pvtime_dev *pd, u32 request)
{
	struct pvtime_mailbox *mb = &pd->ctl->mailbox;
	u32 seq = READ_ONCE(mb->request_seq) + 1;

	lockdep_assert_held(&pd->mailbox_lock);
	WRITE_ONCE(mb->request, request);
	/*
	 * A virtual-time domain's hyp answers a realtime probe for the
	 * guest TSC it was asked at (its drift grows with every instruction
	 * the host does not keep up with); others ignore it.
	 */
	if (request == PVTIME_REQ_REALTIME_PROBE)
		WRITE_ONCE(mb->guest_tsc_before, rdtsc_ordered());
	/* Publishes the request fields before the hyp sees the new seq. */
	virt_store_release(&mb->request_seq, seq);
	return seq;
}

/*
 * A probe's interrupts-off wait, timed by the TSC: how long it waited for
 * the hyp, and the longest stretch between two of its looks at the TSC,
 * which is time the host did not run this vCPU (or, in ktime_get(), its
 * other vCPU in the middle of a timekeeping update), not the hyp's.
 */
struct pvtime_irqs_off_wait {
	u64 waited_cycles;
	u64 stalled_cycles;
};

/*
 * Wait for the answer to seq until give_up, or for max_cycles of the TSC
 * if not 0 (a clock stuck on an odd record must not stretch that; the
 * probes' interrupts-off wait, accounted in *off): the hyp's status (0 or
 * -errno), or -ETIMEDOUT.  It never sleeps: a waiting session must not
 * sit idle (the hyp ends it after 50 ms).  Past the tight spins of an
 * interrupts-on wait it does let a task that must run now have the CPU:
 * under voluntary preemption (Debian's default) nothing else would, and
 * the wall-clock doorbell's irq thread would wait for the whole session.
 */
static int pvtime_mailbox_wait(struct pvtime_dev *pd, u32 seq, ktime_t give_up,
			       u64 max_cycles, struct pvtime_irqs_off_wait *off)
{
	struct pvtime_mailbox *mb = &pd->ctl->mailbox;
	u64 start = rdtsc_ordered(), looked = start;
	ktime_t now = ktime_get();
	ktime_t rering = ktime_add_ms(now, PVTIME_MAILBOX_RERING_MS);
	unsigned int spins = 0, jumps = 0;
	ktime_t last;

	/* Pairs with the hyp's release: its answer is visible once seq is. */
	while (virt_load_acquire(&mb->response_seq) != seq) {
		/*
		 * A PAUSE may hand the host thread to another vCPU for
		 * milliseconds (single-threaded TCG): none within a TSC
		 * bound, and past the tight spins, the clocks are looked at
		 * after every one, not every 1024.
		 */
		if (spins < PVTIME_TIGHT_SPINS || max_cycles) {
			barrier();
			if (++spins % PVTIME_SPINS_PER_CLOCK_CHECK)
				continue;
		} else {
			cpu_relax();
			cond_resched();
		}
		if (max_cycles) {
			u64 tsc = rdtsc_ordered();

			if (off && tsc - looked > off->stalled_cycles)
				off->stalled_cycles = tsc - looked;
			looked = tsc;
			if (off)
				off->waited_cycles = tsc - start;
			if (tsc - start > max_cycles)
				return -ETIMEDOUT;
		}
		last = now;
		now = ktime_get();
		if (ktime_ms_delta(now, last) > PVTIME_MAILBOX_JUMP_MS &&
		    jumps < PVTIME_MAILBOX_JUMPS_FORGIVEN) {
			jumps++;
			pd->mailbox_jumps_forgiven++;
			give_up = ktime_add(give_up, ktime_sub(now, last));
			/* The session may be gone with the old hyp: ring now. */
			rering = now;
		}
		if (ktime_after(now, give_up))
			return -ETIMEDOUT;
		/* The hyp ends an idle session: wake it up again. */
		if (!ktime_before(now, rering)) {
			pvtime_mailbox_ring(pd);
			rering = ktime_add_ms(now, PVTIME_MAILBOX_RERING_MS);
		}
	}
	return READ_ONCE(mb->status);
}

/* Post a request and wait for the answer, interrupts on. */
static int pvtime_mailbox_post(struct pvtime_dev *pd, u32 request)
{
	u32 seq = pvtime_mailbox_send(pd, request);

	return pvtime_mailbox_wait(pd, seq,
				   ktime_add_ms(ktime_get(),
						PVTIME_MAILBOX_TIMEOUT_MS), 0, NULL);
}

/* TSC cycles (at the hyp's rate, which the guest TSC runs at) to ns. */
u64 pvtime_cycles_to_ns(struct pvtime_dev *pd, u64 cycles)
{
	u64 hz = READ_ONCE(pd->ctl->tsc_hz);

	return hz ? mul_u64_u64_div_u64(cycles, NSEC_PER_SEC, hz) : 0;
}

/*
 * Probes: interrupts off from before the request until after the answer,
 * but for PVTIME_IRQS_OFF_MAX_US at most (pvtime_probe_irqs_off() takes
 * them off, pvtime_probe_irqs_on() gives them back and accounts).  The
 * TSC times it: the clocks may stand still on a stuck record.
 */
struct pvtime_probe_window {
	unsigned long flags;
	u64 start_tsc;
	struct pvtime_irqs_off_wait wait;
	ktime_t deadline;	/* of the whole request */
	u32 seq;
};

static void pvtime_probe_irqs_off(struct pvtime_probe_window *w)
{
	/* Before: ktime_get() may wait for the other vCPU's update. */
	w->deadline = ktime_add_ms(ktime_get(), PVTIME_MAILBOX_TIMEOUT_MS);
	w->wait = (struct pvtime_irqs_off_wait){ 0 };
	local_irq_save(w->flags);
	w->start_tsc = rdtsc_ordered();
}

static int pvtime_probe_post(struct pvtime_dev *pd,
			     struct pvtime_probe_window *w, u32 request)
{
	u64 budget = mul_u64_u32_div(READ_ONCE(pd->ctl->tsc_hz),
				     PVTIME_IRQS_OFF_MAX_US, USEC_PER_SEC);
	u64 spent = rdtsc_ordered() - w->start_tsc;

	w->seq = pvtime_mailbox_send(pd, request);
	/* A hyp without a TSC rate gets the least wait, not an endless one. */
	return pvtime_mailbox_wait(pd, w->seq, w->deadline,
				   budget > spent ? budget - spent : 1,
				   &w->wait);
}

/*
 * ret is pvtime_probe_post()'s.  An answer too slow to bracket is waited
 * out here with interrupts on: then -EAGAIN, the round is worth nothing.
 */
static int pvtime_probe_irqs_on(struct pvtime_dev *pd,
				struct pvtime_probe_window *w, int ret)
{
	u64 off_ns = pvtime_cycles_to_ns(pd, rdtsc_ordered() - w->start_tsc);
	/* What waiting for the hyp cost, less a stretch the host took. */
	u64 wait_ns = pvtime_cycles_to_ns(pd, w->wait.waited_cycles -
					  w->wait.stalled_cycles);

	local_irq_restore(w->flags);
	if (off_ns > pd->mailbox_irqs_off_max_ns)
		WRITE_ONCE(pd->mailbox_irqs_off_max_ns, off_ns);
	if (wait_ns > pd->mailbox_irqs_off_wait_max_ns)
		WRITE_ONCE(pd->mailbox_irqs_off_wait_max_ns, wait_ns);
	if (ret != -ETIMEDOUT || ktime_after(ktime_get(), w->deadline))
		return ret;
	pd->mailbox_slow_answers++;
	ret = pvtime_mailbox_wait(pd, w->seq, w->deadline, 0, NULL);
	return ret ? ret : -EAGAIN;
}

static void pvtime_mailbox_complain(struct pvtime_dev *pd, u32 request, int ret)
{
	if (ret == -ETIMEDOUT)
		dev_err(&pd->pdev->dev, "mailbox request %s: no answer from the hypervisor within %u ms\n",
			pvtime_request_name(request),
			PVTIME_MAILBOX_TIMEOUT_MS);
	else if (ret == -EAGAIN)
		dev_warn(&pd->pdev->dev, "mailbox request %s: every answer of the series came later than %u us; giving up for now\n",
			 pvtime_request_name(request), PVTIME_IRQS_OFF_MAX_US);
	else if (ret)
		dev_err(&pd->pdev->dev, "mailbox request %s rejected by the hypervisor: %d\n",
			pvtime_request_name(request), ret);
}

/* As pvtime_mailbox_post(), logging failures. */
static int pvtime_mailbox_call(struct pvtime_dev *pd, u32 request)
{
	int ret = pvtime_mailbox_post(pd, request);

	pvtime_mailbox_complain(pd, request, ret);
	return ret;
}

static void pvtime_mailbox_begin(struct pvtime_dev *pd)
{
	mutex_lock(&pd->mailbox_lock);
	pvtime_mailbox_ring(pd);
}

/* For sessions a user process waits for (the PTP clock): it may be killed. */
static int pvtime_mailbox_begin_killable(struct pvtime_dev *pd)
{
	int ret = mutex_lock_killable(&pd->mailbox_lock);

	if (ret)
		return ret;
	pvtime_mailbox_ring(pd);
	return 0;
}

/* The session's result is what counts; END only lets the hyp stop polling. */
static void pvtime_mailbox_end(struct pvtime_dev *pd)
{
	pvtime_mailbox_call(pd, PVTIME_REQ_END);
	mutex_unlock(&pd->mailbox_lock);
}

/* One TSC probe round: 0, -EAGAIN if too slow to count, or an error. */
static int pvtime_tsc_probe(struct pvtime_dev *pd, struct pvtime_tsc_probe *probe)
{
	struct pvtime_mailbox *mb = &pd->ctl->mailbox;
	struct pvtime_probe_window w;
	int ret;

	pvtime_probe_irqs_off(&w);
	probe->vcpu = smp_processor_id();
	WRITE_ONCE(mb->vcpu, probe->vcpu);
	probe->guest_tsc_before = rdtsc_ordered();
	WRITE_ONCE(mb->guest_tsc_before, probe->guest_tsc_before);
	ret = pvtime_probe_post(pd, &w, PVTIME_REQ_TSC_PROBE);
	probe->guest_tsc_after = rdtsc_ordered();
	ret = pvtime_probe_irqs_on(pd, &w, ret);
	if (ret) {
		if (ret != -EAGAIN)
			pvtime_mailbox_complain(pd, PVTIME_REQ_TSC_PROBE, ret);
		return ret;
	}
	probe->host_tsc = READ_ONCE(mb->host_tsc);
	return 0;
}

/* SET_OFFSET with the given probe; the caller reports failures. */
static int pvtime_submit_offset_quiet(struct pvtime_dev *pd,
				      const struct pvtime_tsc_probe *best)
{
	struct pvtime_mailbox *mb = &pd->ctl->mailbox;
	u32 sample_flags = 0;

	if (pvtime_calibrating(pd))
		sample_flags |= PVTIME_SAMPLE_F_PERIODIC;
	if (!pvtime_fastpath_engaged(pd))
		sample_flags |= PVTIME_SAMPLE_F_KERNEL_PATH;
	WRITE_ONCE(mb->sample_flags, sample_flags);

	WRITE_ONCE(mb->vcpu, best->vcpu);
	WRITE_ONCE(mb->guest_tsc_before, best->guest_tsc_before);
	WRITE_ONCE(mb->guest_tsc_after, best->guest_tsc_after);
	WRITE_ONCE(mb->host_tsc, best->host_tsc);
	return pvtime_mailbox_post(pd, PVTIME_REQ_SET_OFFSET);
}

static int pvtime_submit_offset(struct pvtime_dev *pd,
				const struct pvtime_tsc_probe *best)
{
	int ret = pvtime_submit_offset_quiet(pd, best);

	pvtime_mailbox_complain(pd, PVTIME_REQ_SET_OFFSET, ret);
	return ret;
}

static bool pvtime_records_valid(struct pvtime_dev *pd)
{
	unsigned int cpu;

	if (!(READ_ONCE(pd->ctl->status) & PVTIME_STATUS_RECORDS_VALID))
		return false;
	for_each_possible_cpu(cpu) {
		pvtime_time_info_t rec;

		if (pvtime_time_snapshot(pvtime_vcpu_time(pd->si, cpu),
					 PVTIME_READ_MAX_TRIES, &rec) ||
		    !rec.version || !rec.tsc_to_system_mul)
			return false;
	}
	return true;
}

static int pvtime_wait_records_valid(struct pvtime_dev *pd)
{
	unsigned long deadline = jiffies +
				 msecs_to_jiffies(PVTIME_RECORDS_TIMEOUT_MS);

	while (!pvtime_records_valid(pd)) {
		if (time_after(jiffies, deadline)) {
			dev_err(&pd->pdev->dev, "hypervisor accepted the TSC offset but its records did not become valid within %u ms (status %#x)\n",
				PVTIME_RECORDS_TIMEOUT_MS,
				READ_ONCE(pd->ctl->status));
			return -ETIMEDOUT;
		}
		usleep_range(100, 200);
	}
	return 0;
}

/*
 * The probe with the shortest round trip of up to 'rounds' answered in
 * time, inside a session; -EAGAIN if none was.
 */
static int pvtime_best_tsc_probe(struct pvtime_dev *pd, unsigned int rounds,
				 struct pvtime_tsc_probe *best, u64 *best_rtt)
{
	struct pvtime_tsc_probe probe;
	unsigned int good = 0, tries;
	int ret;

	*best_rtt = U64_MAX;
	for (tries = 0; good < rounds && tries < pvtime_probe_tries(rounds);
	     tries++) {
		ret = pvtime_tsc_probe(pd, &probe);
		if (ret == -EAGAIN)
			continue;
		if (ret)
			return ret;
		good++;
		if (probe.guest_tsc_after - probe.guest_tsc_before < *best_rtt) {
			*best_rtt = probe.guest_tsc_after - probe.guest_tsc_before;
			*best = probe;
		}
		cond_resched();
	}
	return good ? 0 : -EAGAIN;
}

/*
 * Find the TSC probe with the shortest round trip, hand it to the hyp so
 * it can adopt this guest's TSC offset, and wait until it publishes
 * records built on that offset.
 */
static int pvtime_handshake_once(struct pvtime_dev *pd)
{
	struct pvtime_tsc_probe best = { 0 };
	u64 best_rtt;
	int ret;

	pvtime_mailbox_begin(pd);
	ret = pvtime_best_tsc_probe(pd, PVTIME_HANDSHAKE_ROUNDS, &best, &best_rtt);
	if (ret)
		goto end;
	ret = pvtime_submit_offset(pd, &best);
	if (ret)
		goto end;
	ret = pvtime_wait_records_valid(pd);
	if (ret)
		goto end;
	pd->handshake_rtt_cycles = best_rtt;
	pd->handshake_rounds = PVTIME_HANDSHAKE_ROUNDS;
	pd->handshake_vcpu = best.vcpu;
end:
	pvtime_mailbox_end(pd);
	return ret;
}

/* A busy host (many guests booting at once) may miss or refuse a round. */
#define PVTIME_HANDSHAKE_ATTEMPTS	5
#define PVTIME_HANDSHAKE_BACKOFF_MS	50

/*
 * The handshake, retried with a growing pause: a timeout, answers too
 * slow to bracket (-EAGAIN) or a probe the hyp finds too slow (-EINVAL)
 * say the host was busy, not that it is
 * broken.  Anything else, or the last attempt's failure, is final.
 */
int pvtime_handshake(struct pvtime_dev *pd)
{
	unsigned int attempt;
	int ret = -ETIMEDOUT;

	for (attempt = 1; attempt <= PVTIME_HANDSHAKE_ATTEMPTS; attempt++) {
		ret = pvtime_handshake_once(pd);
		if (ret != -ETIMEDOUT && ret != -EINVAL && ret != -EAGAIN)
			break;
		if (attempt == PVTIME_HANDSHAKE_ATTEMPTS)
			break;
		dev_warn(&pd->pdev->dev, "TSC handshake attempt %u failed (%d); retrying\n",
			 attempt, ret);
		msleep(PVTIME_HANDSHAKE_BACKOFF_MS << (attempt - 1));
	}
	return ret;
}

#define PVTIME_EVIDENCE_ROUNDS		32
#define PVTIME_CALIBRATION_RETRY_MS	20
/* The hyp refuses probes slower than its MAILBOX_MAX_RTT_US (1 ms). */
#define PVTIME_MAX_PROBE_RTT_MS		1

struct pvtime_evidence_call {
	struct pvtime_dev *pd;
	unsigned int rounds;
};

/* The best of 'rounds' probes on this CPU, submitted. */
static int pvtime_tsc_evidence_on_cpu(void *data)
{
	struct pvtime_evidence_call *call = data;
	struct pvtime_dev *pd = call->pd;
	struct pvtime_tsc_probe best = { 0 };
	u64 best_rtt;
	s64 mine, diff;
	int ret;

	pvtime_mailbox_begin(pd);
	ret = pvtime_best_tsc_probe(pd, call->rounds, &best, &best_rtt);
	if (ret)
		goto end;
	/* A busy host: the hyp would refuse it (-EINVAL); try next time. */
	if (best_rtt > READ_ONCE(pd->ctl->tsc_hz) / 1000 * PVTIME_MAX_PROBE_RTT_MS) {
		ret = -EAGAIN;
		goto end;
	}
	ret = pvtime_submit_offset_quiet(pd, &best);
	if (ret == -ERANGE) {
		/* Our own reading of the offset, for the log. */
		mine = best.guest_tsc_before + best_rtt / 2 - best.host_tsc;
		diff = mine - (s64)READ_ONCE(pd->ctl->guest_tsc_offset);
		dev_warn(&pd->pdev->dev, "vCPU %u: the hypervisor finds its TSC offset differs from the adopted one (by %lld cycles here, probe rtt %llu); TSC not certified stable\n",
			 best.vcpu, diff, best_rtt);
	} else if (ret) {
		pvtime_mailbox_complain(pd, PVTIME_REQ_SET_OFFSET, ret);
	}
end:
	pvtime_mailbox_end(pd);
	return ret;
}

/*
 * With PVTIME_F_TSC_STABLE_EVIDENCE the hyp wants one offset probe from
 * every vCPU: it sets PVTIME_FLAG_TSC_STABLE only when they all agree
 * with the one the handshake adopted.  Each probe runs on its vCPU (in a
 * worker bound to it).  A disagreement is logged; pvtime works without
 * the flag, through its cross-vCPU guard.
 */
struct pvtime_on_cpu {
	struct work_struct work;
	int (*fn)(void *arg);
	void *arg;
	int ret;
};

static void pvtime_on_cpu_work(struct work_struct *work)
{
	struct pvtime_on_cpu *call = container_of(work, struct pvtime_on_cpu,
						  work);

	call->ret = call->fn(call->arg);
}

/*
 * smp_call_on_cpu(), but in the CPU's high-priority worker (nice -20):
 * a guest whose vCPUs are all busy would keep a normal worker waiting,
 * and with it the hyp's correction after a pause (0.8 s measured).
 * Call with the CPU hotplug lock held.
 */
static int pvtime_call_on_cpu(unsigned int cpu, int (*fn)(void *arg),
			      void *arg)
{
	struct pvtime_on_cpu call = { .fn = fn, .arg = arg };

	if (cpu >= nr_cpu_ids || !cpu_online(cpu))
		return -ENXIO;
	INIT_WORK_ONSTACK(&call.work, pvtime_on_cpu_work);
	queue_work_on(cpu, system_highpri_wq, &call.work);
	flush_work(&call.work);
	destroy_work_on_stack(&call.work);
	return call.ret;
}

/*
 * One offset sample from 'cpu', in a worker bound to it.  A best probe too
 * slow to submit (a busy host) is tried once more after a pause.
 */
static int pvtime_sample_on_cpu(struct pvtime_dev *pd, unsigned int cpu,
				unsigned int rounds)
{
	struct pvtime_evidence_call call = { .pd = pd, .rounds = rounds };
	int ret;

	ret = pvtime_call_on_cpu(cpu, pvtime_tsc_evidence_on_cpu, &call);
	if (ret == -EAGAIN) {
		msleep(PVTIME_CALIBRATION_RETRY_MS);
		ret = pvtime_call_on_cpu(cpu, pvtime_tsc_evidence_on_cpu, &call);
	}
	return ret;
}

void pvtime_tsc_evidence(struct pvtime_dev *pd)
{
	unsigned int cpu;
	int ret;

	if (!(READ_ONCE(pd->ctl->features) & PVTIME_F_TSC_STABLE_EVIDENCE))
		return;
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		if (cpu == pd->handshake_vcpu)
			continue;
		ret = pvtime_sample_on_cpu(pd, cpu, PVTIME_EVIDENCE_ROUNDS);
		if (!ret)
			pd->tsc_evidence_agreed++;
		else if (ret == -ERANGE)
			pd->tsc_evidence_refused++;
		else
			pd->tsc_evidence_failed++;
	}
	cpus_read_unlock();
	dev_dbg(&pd->pdev->dev, "TSC evidence: %u vCPU(s) agree, %u differ, %u failed\n",
		pd->tsc_evidence_agreed, pd->tsc_evidence_refused,
		pd->tsc_evidence_failed);
}

/*
 * One calibration round: a probe from every online vCPU, each on its own
 * vCPU.  Returns how many failed; *busy counts the vCPUs whose best probe
 * was too slow to submit (a busy host, not a broken hyp).
 */
int pvtime_tsc_calibrate(struct pvtime_dev *pd, unsigned int rounds,
			 unsigned int *busy)
{
	unsigned int cpu;
	int failures = 0, ret;

	*busy = 0;
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		ret = pvtime_sample_on_cpu(pd, cpu, rounds);
		if (ret == -EAGAIN)
			(*busy)++;
		else if (ret)
			failures++;
	}
	cpus_read_unlock();
	return failures;
}

/*
 * Compare this guest's CLOCK_REALTIME with the hyp's wall time for the
 * domain, and the records' own wall time (wc + system time) too, which
 * tells the guest's error from the hyp's; and this guest's
 * CLOCK_MONOTONIC_RAW with the host's, whose drift over time is the
 * guest clock's rate error.  The round with the shortest
 * round trip wins; its midpoint is taken as the instant the hyp sampled
 * its clock.
 */
int pvtime_realtime_probe(struct pvtime_dev *pd, unsigned int rounds,
			  struct pvtime_realtime_probe *res)
{
	struct pvtime_mailbox *mb = &pd->ctl->mailbox;
	unsigned int tries;
	int ret = 0;

	res->rtt_ns = U64_MAX;
	res->rounds = 0;
	pvtime_mailbox_begin(pd);
	for (tries = 0; res->rounds < rounds && tries < pvtime_probe_tries(rounds);
	     tries++) {
		struct pvtime_probe_window w;
		s64 before, after, wall, records_wall, raw_before, raw_after;
		s64 records_before, records_after;
		u64 rtt;

		/* Between rounds, late ones too: the irq threads may be waiting. */
		cond_resched();
		pvtime_probe_irqs_off(&w);
		WRITE_ONCE(mb->vcpu, smp_processor_id());
		/*
		 * Nested brackets: every midpoint falls on the hyp's answer,
		 * even when the host descheduled this vCPU in between.
		 */
		records_before = pvtime_wallclock_records_ns(pd);
		raw_before = ktime_get_raw_ns();
		before = ktime_get_real_ns();
		ret = pvtime_probe_post(pd, &w, PVTIME_REQ_REALTIME_PROBE);
		after = ktime_get_real_ns();
		raw_after = ktime_get_raw_ns();
		records_after = pvtime_wallclock_records_ns(pd);
		records_wall = records_before + (records_after - records_before) / 2;
		ret = pvtime_probe_irqs_on(pd, &w, ret);
		if (ret == -EAGAIN)
			continue;
		if (ret) {
			pvtime_mailbox_complain(pd, PVTIME_REQ_REALTIME_PROBE,
						ret);
			break;
		}

		wall = READ_ONCE(mb->wall_ns);
		/* The outer bracket: what every midpoint here may be off by. */
		rtt = max(after - before, records_after - records_before);
		if (rtt < res->rtt_ns) {
			res->rtt_ns = rtt;
			res->offset_ns = before + (after - before) / 2 - wall;
			res->records_offset_ns = records_wall - wall;
			res->records_lead_ns = READ_ONCE(mb->records_lead_ns);
			res->host_raw_ns = READ_ONCE(mb->host_monotonic_raw_ns);
			res->raw_offset_ns = raw_before +
					     (raw_after - raw_before) / 2 -
					     res->host_raw_ns;
		}
		res->rounds++;
	}
	/* Late answers only matter if no round came in time. */
	if (ret == -EAGAIN && res->rounds)
		ret = 0;
	else if (!ret && !res->rounds)
		ret = -EAGAIN;
	if (ret == -EAGAIN)
		pvtime_mailbox_complain(pd, PVTIME_REQ_REALTIME_PROBE, ret);
	pvtime_mailbox_end(pd);
	return ret;
}

/*
 * SET_WALLCLOCK: this guest's CLOCK_REALTIME was wall_ns at its TSC
 * guest_tsc.  Returns the hyp's status (0; -EPERM if this domain is not
 * the time source; -EINVAL or -ERANGE for a bad time or TSC) or
 * -ETIMEDOUT.  Refusals are the caller's to report: the tests ask for
 * them on purpose.
 */
int pvtime_set_wallclock_request(struct pvtime_dev *pd, s64 wall_ns,
				 u64 guest_tsc)
{
	struct pvtime_mailbox *mb = &pd->ctl->mailbox;
	int ret;

	pvtime_mailbox_begin(pd);
	WRITE_ONCE(mb->reserved[PVTIME_MB_SET_WALL_NS], (u64)wall_ns);
	WRITE_ONCE(mb->reserved[PVTIME_MB_SET_GUEST_TSC], guest_tsc);
	ret = pvtime_mailbox_post(pd, PVTIME_REQ_SET_WALLCLOCK);
	if (ret == -ETIMEDOUT)
		pvtime_mailbox_complain(pd, PVTIME_REQ_SET_WALLCLOCK, ret);
	pvtime_mailbox_end(pd);
	return ret;
}

/* The hyp's answer to the REALTIME_PROBE just answered. */
static void pvtime_hyp_wall_answer(struct pvtime_dev *pd,
				   struct pvtime_hyp_wall *reading)
{
	struct pvtime_mailbox *mb = &pd->ctl->mailbox;

	reading->host_tsc = READ_ONCE(mb->host_tsc);
	reading->wall_ns = READ_ONCE(mb->wall_ns);
}

/*
 * The bracketed reading: the guest's CLOCK_REALTIME right before the
 * request and right after the answer, interrupts off in between.  A TSC
 * probe wakes the hyp first (interrupts on), so the realtime probe meets
 * a hyp already polling.  An answer later than PVTIME_IRQS_OFF_MAX_US is
 * waited out with interrupts on and is still a reading, only a wider one
 * (under single-threaded TCG a vCPU spinning on a mutex held here can
 * keep the host thread for milliseconds); the narrowest of the tries is
 * returned, trying again only while the answers come late.
 */
static int pvtime_hyp_wall_bracketed(struct pvtime_dev *pd,
				     struct pvtime_hyp_wall *reading)
{
	struct pvtime_mailbox *mb = &pd->ctl->mailbox;
	s64 width, best_width = S64_MAX;
	unsigned int tries;
	int ret;

	ret = pvtime_mailbox_post(pd, PVTIME_REQ_TSC_PROBE);
	for (tries = 0; !ret && tries < pvtime_probe_tries(1); tries++) {
		struct pvtime_hyp_wall try;
		struct pvtime_probe_window w;

		pvtime_probe_irqs_off(&w);
		WRITE_ONCE(mb->vcpu, smp_processor_id());
		ktime_get_real_ts64(&try.pre_ts);
		ret = pvtime_probe_post(pd, &w, PVTIME_REQ_REALTIME_PROBE);
		ktime_get_real_ts64(&try.post_ts);
		ret = pvtime_probe_irqs_on(pd, &w, ret);
		if (ret && ret != -EAGAIN)
			break;
		/* A late answer: its bracket ends when it was seen. */
		if (ret)
			ktime_get_real_ts64(&try.post_ts);
		pvtime_hyp_wall_answer(pd, &try);
		width = timespec64_to_ns(&try.post_ts) -
			timespec64_to_ns(&try.pre_ts);
		if (width < best_width) {
			best_width = width;
			*reading = try;
		}
		if (!ret)
			break;
		ret = 0;
		cond_resched();
	}
	return ret;
}

/*
 * One reading of the hyp's wall time for this domain, for the PTP clock:
 * wall_ns at host_tsc, in a session of its own, so it queues behind the
 * handshake and calibration sessions on mailbox_lock.  With 'bracket',
 * also the guest's CLOCK_REALTIME around it (gettimex64); a cross
 * timestamp needs only the answer, however late it comes.  Failures are
 * the caller's to count, not logged here (chrony reads this several
 * times a second).
 */
int pvtime_hyp_wall_read(struct pvtime_dev *pd, bool bracket,
			 struct pvtime_hyp_wall *reading)
{
	int ret;

	ret = pvtime_mailbox_begin_killable(pd);
	if (ret)
		return ret;
	if (bracket) {
		ret = pvtime_hyp_wall_bracketed(pd, reading);
	} else {
		ret = pvtime_mailbox_post(pd, PVTIME_REQ_REALTIME_PROBE);
		if (!ret)
			pvtime_hyp_wall_answer(pd, reading);
	}
	pvtime_mailbox_post(pd, PVTIME_REQ_END);
	mutex_unlock(&pd->mailbox_lock);
	return ret;
}

/* The handshake and the mailbox counters, for debugfs "state". */
void pvtime_mailbox_show_state(struct pvtime_dev *pd, struct seq_file *m)
{
	seq_printf(m, "handshake_rtt_cycles %llu\n", pd->handshake_rtt_cycles);
	seq_printf(m, "handshake_rounds %u\n", pd->handshake_rounds);
	seq_printf(m, "mailbox_irqs_off_max_ns %llu\n",
		   READ_ONCE(pd->mailbox_irqs_off_max_ns));
	seq_printf(m, "mailbox_irqs_off_wait_max_ns %llu\n",
		   READ_ONCE(pd->mailbox_irqs_off_wait_max_ns));
	seq_printf(m, "mailbox_irqs_off_limit_ns %llu\n",
		   (u64)PVTIME_IRQS_OFF_MAX_US * NSEC_PER_USEC);
	seq_printf(m, "mailbox_slow_answers %llu\n",
		   READ_ONCE(pd->mailbox_slow_answers));
	seq_printf(m, "mailbox_jumps_forgiven %llu\n",
		   READ_ONCE(pd->mailbox_jumps_forgiven));
	seq_printf(m, "tsc_evidence_agreed %u\n", pd->tsc_evidence_agreed);
	seq_printf(m, "tsc_evidence_refused %u\n", pd->tsc_evidence_refused);
	seq_printf(m, "tsc_evidence_failed %u\n", pd->tsc_evidence_failed);
}
