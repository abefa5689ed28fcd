// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A domain's records in real shared memory: bring-up on the first
 * SET_OFFSET, TSC_STABLE from per-vCPU evidence and policy, skew, odd
 * holds, the guest-stopped flag, and no step back for a reader hopping
 * between vCPU records while they are re-anchored and re-rated.
 *
 * records.c is linked in a build that reports every record write
 * (records_observer.h), so a test can check each state a reader could see
 * between two writes of a pass, not only the state after it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "pvclock_math.h"
#include "core/log.h"
#include "clock/records.h"

#define HZ		2600000000ull
#define STORM_STEPS	20000

static struct pvtime_shm shm;
static struct domain_clock clk;
static atomic_bool reader_stop;
static unsigned long reads, steps_back, raw_steps_back, stable_reads, unreadable;
static uint64_t worst_back;

static pvtime_time_info_t *rec(uint32_t cpu)
{
	return pvtime_vcpu_time(shm.si, cpu);
}

#define OBSERVE_MAX_STATES	64
#define OBSERVE_MAX_VCPUS	4

/* While set, every record write appends the state of all records here. */
static struct pvtime_shm *observed_shm;
static uint32_t observed_vcpus;
static unsigned int nr_states;
static pvtime_time_info_t states[OBSERVE_MAX_STATES][OBSERVE_MAX_VCPUS];

static void observe_state(void)
{
	uint32_t cpu;

	if (!observed_shm || nr_states >= OBSERVE_MAX_STATES)
		return;
	for (cpu = 0; cpu < observed_vcpus; cpu++)
		states[nr_states][cpu] = *pvtime_vcpu_time(observed_shm->si, cpu);
	nr_states++;
}

void records_observe_write(pvtime_time_info_t *ti,
			   const pvtime_time_info_t *val);
void records_observe_write(pvtime_time_info_t *ti,
			   const pvtime_time_info_t *val)
{
	pvtime_time_write(ti, val);
	observe_state();
}

static void observe_start(struct pvtime_shm *m, uint32_t vcpus)
{
	observed_shm = m;
	observed_vcpus = vcpus;
	nr_states = 0;
	observe_state();	/* the records before the change */
}

/* What a record shows at guest TSC g (at or after its anchor). */
static uint64_t record_at(const pvtime_time_info_t *r, uint64_t g)
{
	return r->system_time + pvtime_scale_delta(g - r->tsc_timestamp,
						   r->tsc_to_system_mul,
						   r->tsc_shift);
}

/*
 * Worst step back a guest-like reader (guarded unless TSC_STABLE) could
 * take while the records went through the observed states, all read at
 * one guest TSC: in state k a TSC_STABLE record is read unguarded, so it
 * must show at least what any record showed in states 0..k.
 */
static uint64_t observed_worst_step_back(void)
{
	uint64_t g = 0, seen = 0, worst = 0;
	unsigned int k;
	uint32_t cpu;

	for (k = 0; k < nr_states; k++)
		for (cpu = 0; cpu < observed_vcpus; cpu++)
			if (states[k][cpu].tsc_timestamp > g)
				g = states[k][cpu].tsc_timestamp;
	g += 10 * (HZ / 1000);
	for (k = 0; k < nr_states; k++) {
		for (cpu = 0; cpu < observed_vcpus; cpu++) {
			uint64_t v = record_at(&states[k][cpu], g);

			if (v > seen)
				seen = v;
		}
		for (cpu = 0; cpu < observed_vcpus; cpu++) {
			uint64_t v = record_at(&states[k][cpu], g);

			if ((states[k][cpu].flags & PVTIME_FLAG_TSC_STABLE) &&
			    seen - v > worst)
				worst = seen - v;
		}
	}
	return worst;
}

/*
 * Reads like the guest: a record without TSC_STABLE goes through the
 * cross-vCPU guard (never below the last value), one with it does not.
 * A step back is what such a reader would return below an earlier return.
 */
static void *reader(void *arg)
{
	uint64_t last = 0, raw_last = 0, value;
	uint32_t cpu = 0;

	(void)arg;
	while (!atomic_load_explicit(&reader_stop, memory_order_relaxed)) {
		struct pvtime_time_sample s;

		cpu ^= 1;
		if (pvtime_time_read(rec(cpu), PVTIME_READ_MAX_TRIES, &s)) {
			unreadable++;
			continue;
		}
		reads++;
		if (s.system_ns < raw_last)
			raw_steps_back++;
		else
			raw_last = s.system_ns;
		if (s.flags & PVTIME_FLAG_TSC_STABLE) {
			stable_reads++;
			value = s.system_ns;
		} else {
			value = s.system_ns > last ? s.system_ns : last;
		}
		if (value < last) {
			steps_back++;
			if (last - value > worst_back)
				worst_back = last - value;
		} else {
			last = value;
		}
	}
	return NULL;
}

static uint64_t rng = 88172645463325252ull;

static int32_t random_ppm(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (int32_t)(rng % 2001) - 1000;
}

/*
 * One storm: a rate change every 50 rewrites, TSC_STABLE back on right
 * after it (the rewrite finished well inside the reader window, which is
 * what the hold-off is for), re-anchors under TSC_STABLE in between.
 */
static int storm(void)
{
	pthread_t thread;
	int i, rate_errors = 0;
	bool ring;

	reads = steps_back = raw_steps_back = stable_reads = unreadable = 0;
	worst_back = 0;
	clk.window_overruns = 0;
	atomic_store(&reader_stop, false);
	pthread_create(&thread, NULL, reader, NULL);
	for (i = 0; i < STORM_STEPS; i++) {
		if (i % 50 == 0) {
			if (records_set_rate(&clk, &shm, HZ, random_ppm(), &ring))
				rate_errors++;
			clk.stable_hold_until_tsc = pvtime_rdtsc();
			records_refresh_stability(&clk, &shm);
		} else {
			records_reanchor(&clk, &shm);
		}
	}
	atomic_store(&reader_stop, true);
	pthread_join(thread, NULL);
	return rate_errors;
}

/* Storms until one ran without a rewrite slower than the reader window. */
#define STORM_ATTEMPTS	5

static void test_concurrent_reader(void)
{
	int attempt, rate_errors = 0;

	for (attempt = 1; attempt <= STORM_ATTEMPTS; attempt++) {
		rate_errors += storm();
		tap_diag("storm %d: %lu reads (%lu of TSC_STABLE records) across %d rewrites (rate changes of up to 1000 ppm every 50), %lu unreadable, %lu raw steps back (what the guard covers), %llu window overruns, mean rounding bias %.4f ns, last rewrite %llu cycles",
			 attempt, reads, stable_reads, STORM_STEPS, unreadable,
			 raw_steps_back, (unsigned long long)clk.window_overruns,
			 (double)clk.rounding_bias_sum / 4294967296.0 /
			 (double)clk.reanchors,
			 (unsigned long long)clk.last_write_cycles);
		/* Past an overrun a step back is allowed: that run proves nothing. */
		if (!clk.window_overruns)
			break;
	}
	tap_ok(rate_errors == 0 && reads > 1000 && stable_reads > 0 &&
	       !clk.window_overruns,
	       "reader ran a storm without window overruns (%d of %d), %lu reads, %lu of TSC_STABLE records, every rate applied",
	       attempt <= STORM_ATTEMPTS ? attempt : STORM_ATTEMPTS,
	       STORM_ATTEMPTS, reads, stable_reads);
	tap_ok(steps_back == 0,
	       "no step back across vCPU records for a guest-like reader (%lu, worst %llu ns)",
	       steps_back, (unsigned long long)worst_back);
}

/*
 * A skew injected while the records are TSC_STABLE, on four vCPUs: every
 * state between two record writes is checked, not only the end.  In one
 * pass, vCPU 1's new record (1 ms ahead, guarded) is followed by vCPU 2's
 * old one (TSC_STABLE, unguarded), a 1 ms step back.
 */
static void test_skew_mid_pass(void)
{
	struct pvtime_shm_identity id = { .abi_version = 1, .domid = 3,
					  .nr_vcpus = OBSERVE_MAX_VCPUS,
					  .tsc_hz = HZ };
	struct domain_clock c;
	struct pvtime_shm m;
	uint64_t worst;
	uint32_t cpu;
	bool ring, stable = true, skewed = true;

	if (pvtime_shm_create(&m, "skew", &id) ||
	    domain_clock_init(&c, "skew", HZ, OBSERVE_MAX_VCPUS,
			      TSC_STABLE_AUTO)) {
		tap_ok(0, "skew fixture");
		tap_ok(0, "skew fixture");
		return;
	}
	for (cpu = 0; cpu < OBSERVE_MAX_VCPUS; cpu++)
		records_submit_offset(&c, &m, cpu, 0, 500, 0, &ring);
	for (cpu = 0; cpu < OBSERVE_MAX_VCPUS; cpu++)
		stable = stable && (pvtime_vcpu_time(m.si, cpu)->flags &
				    PVTIME_FLAG_TSC_STABLE);

	observe_start(&m, OBSERVE_MAX_VCPUS);
	ring = records_set_skew(&c, &m, 1000000);
	observed_shm = NULL;
	worst = observed_worst_step_back();
	for (cpu = 0; cpu < OBSERVE_MAX_VCPUS; cpu++) {
		const pvtime_time_info_t *r = pvtime_vcpu_time(m.si, cpu);

		skewed = skewed && !(r->flags & PVTIME_FLAG_TSC_STABLE) &&
			 r->system_time == pvtime_vcpu_time(m.si, 0)->system_time +
					   cpu * 1000000ull;
	}
	tap_ok(stable && ring && skewed && worst == 0,
	       "skew of 1 ms on TSC_STABLE records: no state between two writes lets a reader step back (%u states, worst %llu ns), then vCPU n n ms ahead, TSC_STABLE off, ring",
	       nr_states, (unsigned long long)worst);

	/* The rate-change path, which the skew now follows, keeps it too. */
	records_set_skew(&c, &m, 0);
	c.stable_hold_until_tsc = pvtime_rdtsc();
	records_refresh_stability(&c, &m);
	observe_start(&m, OBSERVE_MAX_VCPUS);
	records_set_rate(&c, &m, HZ, 500, &ring);
	observed_shm = NULL;
	worst = observed_worst_step_back();
	tap_ok(ring && nr_states > 2 * OBSERVE_MAX_VCPUS && worst == 0,
	       "a rate change on TSC_STABLE records: no state between two writes lets a reader step back (%u states, worst %llu ns)",
	       nr_states, (unsigned long long)worst);
	domain_clock_fini(&c);
	pvtime_shm_destroy(&m);
}

#define MS_CYCLES	(HZ / 1000)

/* What vCPU 0's record shows at a guest TSC value. */
static uint64_t shown_at(struct pvtime_shm *m, uint64_t guest_tsc)
{
	const pvtime_time_info_t *r = pvtime_vcpu_time(m->si, 0);

	return r->system_time + pvtime_scale_delta(guest_tsc - r->tsc_timestamp,
						   r->tsc_to_system_mul,
						   r->tsc_shift);
}

static int64_t lead_now(struct domain_clock *c, struct pvtime_shm *m)
{
	uint64_t now = pvtime_rdtsc();

	return (int64_t)(shown_at(m, now + (uint64_t)c->guest_tsc_offset) -
			 domain_clock_system_ns(c, now)) + c->lag_ns;
}

static int steer_fixture(struct domain_clock *c, struct pvtime_shm *m,
			 enum stopped_time_policy policy, uint32_t ppm)
{
	struct pvtime_shm_identity id = { .abi_version = 1, .domid = 2,
					  .nr_vcpus = 2, .tsc_hz = HZ,
					  .calibration_ms = 1000 };
	bool ring;

	if (pvtime_shm_create(m, "steer", &id) ||
	    domain_clock_init(c, "steer", HZ, 2, TSC_STABLE_AUTO))
		return -1;
	records_set_stopped_policy(c, policy, ppm);
	records_submit_offset(c, m, 0, 0, 500, PVTIME_SAMPLE_F_PERIODIC, &ring);
	records_submit_offset(c, m, 1, 0, 500, PVTIME_SAMPLE_F_PERIODIC, &ring);
	/* A stopped guest TSC is never behind its records' anchor: age them. */
	usleep(30000);
	return (c->flags & PVTIME_FLAG_TSC_STABLE) ? 0 : -1;
}

static void steer_teardown(struct domain_clock *c, struct pvtime_shm *m)
{
	domain_clock_fini(c);
	pvtime_shm_destroy(m);
}

/*
 * Continuous calibration: a moved offset is taken over without a visible
 * change, ahead is slewed, behind follows the stopped-time policy, and a
 * step waits until the guest runs on the records.
 */
static void test_steering(void)
{
	struct domain_clock c;
	struct pvtime_shm m;
	enum offset_outcome out;
	uint64_t before, after, g;
	pvtime_time_info_t old;
	int64_t lead;
	bool ring;
	int ret;

	if (steer_fixture(&c, &m, STOPPED_TIME_STEP, 0)) {
		tap_ok(0, "steering fixture");
		return;
	}
	tap_ok(m.ctl->calibration_ms == 1000 &&
	       (m.ctl->features & PVTIME_F_CALIBRATION),
	       "calibration advertised with its period");

	/* The guest TSC jumped 2 ms ahead (QEMU's MTTCG ratchet). */
	old = *pvtime_vcpu_time(m.si, 0);
	out = records_submit_offset(&c, &m, 0, 2 * MS_CYCLES, 500,
				    PVTIME_SAMPLE_F_PERIODIC, &ring);
	g = pvtime_vcpu_time(m.si, 0)->tsc_timestamp;
	after = shown_at(&m, g);
	before = old.system_time + pvtime_scale_delta(g - old.tsc_timestamp,
						      old.tsc_to_system_mul,
						      old.tsc_shift);
	tap_ok(out == OFFSET_MOVED && ring && c.slew_ppm < 0 &&
	       !(c.flags & PVTIME_FLAG_TSC_STABLE) &&
	       after + 2 >= before && after <= before + 2,
	       "2 ms ahead: offset taken over with no visible change (%lld ns), slewed at %d ppm, TSC_STABLE off",
	       (long long)(after - before), c.slew_ppm);
	lead = lead_now(&c, &m);
	tap_ok(lead > 1900000 && lead < 2100000 && c.evidence.vcpu[1].state == VCPU_EVIDENCE_NONE,
	       "lead %lld ns measured against the reference; vCPU 1 must confirm again",
	       (long long)lead);
	c.slew_end_tsc = pvtime_rdtsc();
	tap_ok(records_refresh_stability(&c, &m) && c.slew_ppm == 0,
	       "the slew ends at its end time");
	steer_teardown(&c, &m);

	/* Stopped 100 ms: the guest TSC is that much behind. */
	if (steer_fixture(&c, &m, STOPPED_TIME_STEP, 0)) {
		tap_ok(0, "steering fixture");
		return;
	}
	records_guest_paused(&c);
	ring = records_guest_resumed(&c, &m, pvtime_rdtsc() + 10 * MS_CYCLES,
				     STOPPED_TIME_STEP, 0);
	tap_ok(ring && (pvtime_vcpu_time(m.si, 0)->flags & PVTIME_FLAG_GUEST_STOPPED) &&
	       !(c.flags & PVTIME_FLAG_TSC_STABLE) && c.correction_pending,
	       "resume: GUEST_STOPPED, TSC_STABLE off, a correction pending");
	out = records_submit_offset(&c, &m, 1, -10 * (int64_t)MS_CYCLES, 500,
				    PVTIME_SAMPLE_F_PERIODIC, &ring);
	tap_ok(out == OFFSET_MOVED && c.forward_steps == 0 && c.correction_pending &&
	       (m.ctl->features & PVTIME_F_RECORDS_JUMPED) &&
	       m.ctl->records_jumped_ns == 0,
	       "a sample from the fast path does not step (the jump would be lost); records_jumped_ns still 0");
	out = records_submit_offset(&c, &m, 1, -10 * (int64_t)MS_CYCLES, 500,
				    PVTIME_SAMPLE_F_PERIODIC | PVTIME_SAMPLE_F_KERNEL_PATH,
				    &ring);
	lead = lead_now(&c, &m);
	tap_ok(ring && c.forward_steps == 1 && !c.correction_pending &&
	       c.last_forward_step_ns > 9900000 && lead < 5000 && lead > -5000,
	       "a kernel-path sample steps forward by %lld ns; lead now %lld ns",
	       (long long)c.last_forward_step_ns, (long long)lead);
	tap_ok(m.ctl->records_jumped_ns == (uint64_t)c.last_forward_step_ns,
	       "records_jumped_ns published with the step: %llu ns (step %lld ns)",
	       (unsigned long long)m.ctl->records_jumped_ns,
	       (long long)c.last_forward_step_ns);
	ret = records_jump_unannounced(&c, &m, 20000000, 0);
	tap_ok(ret == 0 && m.ctl->records_jumped_ns ==
	       (uint64_t)c.last_forward_step_ns + 20000000,
	       "an injected 20 ms jump adds to it: %llu ns",
	       (unsigned long long)m.ctl->records_jumped_ns);
	steer_teardown(&c, &m);

	/* keep: the lag becomes drift, nothing jumps. */
	if (steer_fixture(&c, &m, STOPPED_TIME_KEEP, 0)) {
		tap_ok(0, "steering fixture");
		return;
	}
	g = pvtime_rdtsc() - 10 * MS_CYCLES;
	before = shown_at(&m, g);
	/* QMP's estimate is off by 40 ms: the sample decides. */
	records_guest_paused(&c);
	records_guest_resumed(&c, &m, pvtime_rdtsc() + 50 * MS_CYCLES,
			      STOPPED_TIME_KEEP, 0);
	records_submit_offset(&c, &m, 0, -10 * (int64_t)MS_CYCLES, 500,
			      PVTIME_SAMPLE_F_PERIODIC | PVTIME_SAMPLE_F_KERNEL_PATH,
			      &ring);
	tap_ok(c.forward_steps == 0 && c.slew_ppm == 0 &&
	       c.lag_ns >= 9900000 && c.lag_ns <= 10100000 &&
	       shown_at(&m, g) == before,
	       "keep: drift %lld ns kept, no step, no slew, records unchanged",
	       (long long)c.lag_ns);
	steer_teardown(&c, &m);

	/* slew:50000: catch up at 5 %. */
	if (steer_fixture(&c, &m, STOPPED_TIME_SLEW, 50000)) {
		tap_ok(0, "steering fixture");
		return;
	}
	records_submit_offset(&c, &m, 0, -10 * (int64_t)MS_CYCLES, 500,
			      PVTIME_SAMPLE_F_PERIODIC | PVTIME_SAMPLE_F_KERNEL_PATH,
			      &ring);
	tap_ok(c.forward_steps == 0 && c.slew_ppm == 50000 && ring &&
	       m.ctl->tsc_hz < HZ,
	       "slew:50000: 10 ms behind slews at +50000 ppm (records rate %llu Hz)",
	       (unsigned long long)m.ctl->tsc_hz);
	steer_teardown(&c, &m);

	/* Stale evidence: no TSC_STABLE for a guest that stopped sampling. */
	if (steer_fixture(&c, &m, STOPPED_TIME_STEP, 0)) {
		tap_ok(0, "steering fixture");
		return;
	}
	c.evidence.vcpu[1].sample_tsc = pvtime_rdtsc() - 9000 * MS_CYCLES;
	tap_ok(!records_refresh_stability(&c, &m) &&
	       (c.flags & PVTIME_FLAG_TSC_STABLE),
	       "vCPU 1 silent for 9 s: TSC_STABLE stays");
	c.evidence.vcpu[1].sample_tsc = pvtime_rdtsc() - 11000 * MS_CYCLES;
	tap_ok(records_refresh_stability(&c, &m) &&
	       !(c.flags & PVTIME_FLAG_TSC_STABLE),
	       "vCPU 1 silent for 11 s: TSC_STABLE cleared");
	steer_teardown(&c, &m);
}

/*
 * An offset adopted from a loose probe (20 us round trip, as a cold guest
 * sends) is off by up to 10 us.  A tight probe that proves it wrong by
 * more than RECORDS_REFINE_MIN_NS refines it, and the records slew the
 * error away; one within its own uncertainty plus the threshold agrees.
 */
static void test_refinement(void)
{
	const uint64_t us = HZ / 1000000, loose_rtt = 20 * us, tight_rtt = 500;
	struct pvtime_shm_identity id = { .abi_version = 1, .domid = 3,
					  .nr_vcpus = 2, .tsc_hz = HZ,
					  .calibration_ms = 1000 };
	enum offset_outcome out;
	struct domain_clock c;
	struct pvtime_shm m;
	int64_t jitter, lead;
	bool ring;

	if (pvtime_shm_create(&m, "refine", &id) ||
	    domain_clock_init(&c, "refine", HZ, 2, TSC_STABLE_AUTO)) {
		tap_ok(0, "refinement fixture");
		return;
	}
	records_submit_offset(&c, &m, 0, 0, loose_rtt, PVTIME_SAMPLE_F_PERIODIC, &ring);
	/* Within the tight probe's half round trip plus the threshold. */
	jitter = (int64_t)(tight_rtt / 2 + RECORDS_REFINE_MIN_NS * us / 1000 / 2);
	out = records_submit_offset(&c, &m, 1, jitter, tight_rtt,
				    PVTIME_SAMPLE_F_PERIODIC, &ring);
	tap_ok(out == OFFSET_AGREED && c.guest_tsc_offset == 0 && c.slew_ppm == 0,
	       "a tight probe %lld cycles from a loose offset agrees (jitter)",
	       (long long)jitter);
	out = records_submit_offset(&c, &m, 1, 3 * (int64_t)us, tight_rtt,
				    PVTIME_SAMPLE_F_PERIODIC, &ring);
	lead = lead_now(&c, &m);
	tap_ok(out == OFFSET_MOVED && c.evidence.refinements == 1 &&
	       c.guest_tsc_offset == 3 * (int64_t)us && c.slew_ppm < 0 && ring &&
	       c.evidence.vcpu[0].state == VCPU_EVIDENCE_AGREED &&
	       lead > 2900 && lead < 3100,
	       "a tight probe 3 us off refines the offset: lead %lld ns slewed at %d ppm, vCPU 0 keeps its confirmation",
	       (long long)lead, c.slew_ppm);
	domain_clock_fini(&c);
	pvtime_shm_destroy(&m);
}

/*
 * A rate change seen coming (host_clock_follow.c: an adjtime() boundary):
 * TSC_STABLE goes at once and stays off for the hold, then comes back.
 */
static void test_hold_stable(void)
{
	struct domain_clock c;
	struct pvtime_shm m;
	bool first, again, held, back;

	if (steer_fixture(&c, &m, STOPPED_TIME_STEP, 0)) {
		tap_ok(0, "hold fixture: stable records");
		return;
	}
	first = records_hold_stable(&c, &m, 20000000);
	again = records_hold_stable(&c, &m, 20000000);
	held = !records_refresh_stability(&c, &m) &&
	       !(pvtime_vcpu_time(m.si, 0)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       !(pvtime_vcpu_time(m.si, 1)->flags & PVTIME_FLAG_TSC_STABLE);
	usleep(30000);
	back = records_refresh_stability(&c, &m) &&
	       (pvtime_vcpu_time(m.si, 0)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       (pvtime_vcpu_time(m.si, 1)->flags & PVTIME_FLAG_TSC_STABLE);
	tap_ok(first && !again && held && back,
	       "a hold ahead of a rate change clears TSC_STABLE on every record once (ring %d, then %d), keeps it off for the hold (%d), and it comes back after (%d)",
	       first, again, held, back);
	steer_teardown(&c, &m);
}

int main(void)
{
	struct pvtime_shm_identity id = { .abi_version = 1, .domid = 1,
					  .nr_vcpus = 2, .tsc_hz = HZ };
	struct domain_clock off;
	enum offset_outcome out;
	pvtime_time_info_t r0 = { 0 }, r1 = { 0 };
	uint32_t v;
	int i, rings;
	bool ring;

	log_setup(false, LOG_LEVEL_WARN);
	tap_plan(43);
	if (pvtime_shm_create(&shm, "test", &id) ||
	    domain_clock_init(&clk, "test", HZ, 2, TSC_STABLE_AUTO)) {
		tap_ok(0, "shared memory and clock");
		return tap_done();
	}
	tap_ok(shm.ctl->status == 0 && rec(0)->version == 0 &&
	       (shm.ctl->features & PVTIME_F_RECORDS_DOORBELL) &&
	       (shm.ctl->features & PVTIME_F_TSC_STABLE_EVIDENCE),
	       "records down before the offset; features advertised");
	records_reanchor(&clk, &shm);
	tap_ok(rec(0)->version == 0, "no record written before the offset is known");

	out = records_submit_offset(&clk, &shm, 0, 0, 500, 0, &ring);
	tap_ok(out == OFFSET_ADOPTED && (shm.ctl->status & PVTIME_STATUS_RECORDS_VALID) &&
	       rec(0)->version == 2 && rec(1)->version == 2 && !ring &&
	       !(rec(0)->flags & PVTIME_FLAG_TSC_STABLE),
	       "first SET_OFFSET adopts, records live, not yet stable");
	out = records_submit_offset(&clk, &shm, 1, 100, 500, 0, &ring);
	tap_ok(out == OFFSET_AGREED && ring &&
	       (rec(0)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       (rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "vCPU 1 agreeing sets TSC_STABLE on all records and asks for a ring");
	v = rec(0)->version;
	r0 = *rec(0);
	out = records_submit_offset(&clk, &shm, 1, 517, 500, 0, &ring);
	tap_ok(out == OFFSET_MOVED && !ring && clk.guest_tsc_offset == 517 &&
	       rec(0)->version == v && rec(0)->tsc_timestamp == r0.tsc_timestamp &&
	       (rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "vCPU 1 517 cycles off (tolerance 250 + 250 + 16) moves the offset; records unchanged, still stable");
	rings = 0;
	for (i = 0; i < 100; i++) {
		records_submit_offset(&clk, &shm, 1, i & 1 ? 517 : 100, 500, 0, &ring);
		rings += ring;
	}
	tap_ok(!rings && rec(0)->version == v &&
	       (rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "a guest flip-flopping within the dead band: no rewrite, no ring");
	out = records_submit_offset(&clk, &shm, 2, 0, 500, 0, &ring);
	tap_ok(out == OFFSET_BAD_VCPU && !ring, "SET_OFFSET from vCPU 2 of 2 refused");

	tap_ok(records_set_skew(&clk, &shm, 1000) &&
	       !(rec(1)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       rec(1)->system_time == rec(0)->system_time + 1000,
	       "skew: vCPU 1 reads 1000 ns ahead, TSC_STABLE cleared, ring");
	records_set_skew(&clk, &shm, 0);
	tap_ok(!(rec(0)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       !records_refresh_stability(&clk, &shm) &&
	       rec(1)->system_time == rec(0)->system_time,
	       "skew removed: TSC_STABLE held off while vCPU 1's lead drains");
	clk.stable_hold_until_tsc = pvtime_rdtsc();
	tap_ok(records_refresh_stability(&clk, &shm) &&
	       (rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "after the hold-off TSC_STABLE returns");

	records_hold_odd(&clk, &shm, 1);
	v = rec(1)->version;
	records_reanchor(&clk, &shm);
	tap_ok((v & 1) && rec(1)->version == v && !(rec(0)->version & 1),
	       "odd hold: vCPU 1 stays odd through a re-anchor, vCPU 0 is rewritten");
	tap_ok(pvtime_time_snapshot(rec(1), 16, &r1) == -EAGAIN,
	       "a reader gives up on the held record (-EAGAIN)");
	records_release_odd(&clk, &shm, 1);
	pvtime_time_snapshot(rec(0), 16, &r0);
	pvtime_time_snapshot(rec(1), 16, &r1);
	tap_ok(!(rec(1)->version & 1) && r1.tsc_timestamp == r0.tsc_timestamp &&
	       r1.system_time == r0.system_time,
	       "released: vCPU 1 even again with the current function");

	tap_ok(records_mark_guest_stopped(&clk, &shm) &&
	       (rec(0)->flags & PVTIME_FLAG_GUEST_STOPPED) &&
	       (rec(1)->flags & PVTIME_FLAG_GUEST_STOPPED) &&
	       (rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "guest-stopped set on every record, TSC_STABLE kept, ring");
	records_reanchor(&clk, &shm);
	tap_ok(!(rec(0)->flags & PVTIME_FLAG_GUEST_STOPPED),
	       "the next rewrite drops guest-stopped (one-shot)");
	records_mark_guest_stopped(&clk, &shm);
	v = rec(0)->version;
	records_refresh_stability(&clk, &shm);
	tap_ok((rec(0)->flags & PVTIME_FLAG_GUEST_STOPPED) && rec(0)->version == v,
	       "a refresh within a second keeps guest-stopped shown");
	clk.guest_stopped_tsc -= clk.tsc_hz;
	tap_ok(!records_refresh_stability(&clk, &shm) &&
	       !(rec(0)->flags & PVTIME_FLAG_GUEST_STOPPED) && rec(0)->version == v + 2 &&
	       (rec(0)->flags & PVTIME_FLAG_TSC_STABLE),
	       "a second later the refresh drops it, without a ring");

	v = rec(1)->version;
	tap_ok(!records_set_rate(&clk, &shm, HZ, 100, &ring) && ring &&
	       shm.ctl->tsc_hz == 2599740026ull && clk.records_hz == 2599740026ull,
	       "freq-step +100 ppm: ctl->tsc_hz = records' rate (%llu), ring",
	       (unsigned long long)shm.ctl->tsc_hz);
	/*
	 * Records go one vCPU at a time: TSC_STABLE must be off on every
	 * record (one full rewrite with the old function) before any gets
	 * the new one, i.e. two rewrites, and stay off for the window.
	 */
	tap_ok(rec(1)->version == v + 4 &&
	       !(rec(0)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       !(rec(1)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       !records_refresh_stability(&clk, &shm) &&
	       !(rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "rate change: TSC_STABLE cleared everywhere first (version +%u), held off",
	       rec(1)->version - v);
	clk.stable_hold_until_tsc = pvtime_rdtsc();
	tap_ok(records_refresh_stability(&clk, &shm) &&
	       (rec(0)->flags & PVTIME_FLAG_TSC_STABLE) &&
	       (rec(1)->flags & PVTIME_FLAG_TSC_STABLE),
	       "after the reader window TSC_STABLE returns, with a ring");
	tap_ok(!records_set_rate(&clk, &shm, HZ, 100, &ring) && !ring,
	       "the same rate again: no rewrite, no ring");
	tap_ok(records_set_rate(&clk, &shm, HZ, -1000000, &ring) == -EINVAL,
	       "an impossible rate is refused");

	test_concurrent_reader();
	test_skew_mid_pass();
	test_steering();
	test_refinement();
	test_hold_stable();

	if (domain_clock_init(&off, "off", HZ, 1, TSC_STABLE_OFF) == 0) {
		records_submit_offset(&off, &shm, 0, 0, 100, 0, &ring);
		tap_ok(!ring && !(off.flags & PVTIME_FLAG_TSC_STABLE),
		       "tsc_stable = off: complete evidence never sets TSC_STABLE");
		domain_clock_fini(&off);
	} else {
		tap_ok(0, "second clock");
	}
	domain_clock_fini(&clk);
	pvtime_shm_destroy(&shm);
	return tap_done();
}
