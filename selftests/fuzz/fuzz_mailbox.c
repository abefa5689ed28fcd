// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer harness: the mailbox request decoder, i.e. what a hostile
 * guest writes into the mailbox.  The input is a sequence of requests;
 * each is written into the mailbox of a real shared-memory area and
 * answered by the daemon's own decoder (answer_request() in hyp/guest/mailbox.c,
 * included for its static functions) against a real domain clock.  The
 * serve loop's timing and budget are not fuzzed: they bound how often
 * requests are answered, not what an answer does.
 */
#include "../../hyp/guest/mailbox.c"
#include "fuzz_check.h"

#define FUZZ_VCPUS	2
#define CALIBRATE_MS	20
/* Requests per input: a session answers at most this many anyway. */
#define MAX_REQUESTS	MAILBOX_SESSION_MAX_REQUESTS

static struct pvtime_shm shm;
static struct domain_clock clk;
static uint64_t tsc_hz;

/* The input, consumed front to back; past its end everything reads 0. */
struct input {
	const uint8_t *data;
	size_t left;
};

static uint64_t take(struct input *in, size_t bytes)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < bytes && in->left; i++, in->left--)
		v |= (uint64_t)*in->data++ << (8 * i);
	return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct pvtime_shm_identity id = {
		.abi_version = PVTIME_ABI_VERSION, .domid = 1,
		.nr_vcpus = FUZZ_VCPUS,
	};
	struct timebase tb;

	(void)argc;
	(void)argv;
	log_setup(false, LOG_LEVEL_ERROR);
	if (timebase_calibrate(&tb, CALIBRATE_MS)) {
		fprintf(stderr, "fuzz: cannot calibrate the TSC\n");
		exit(1);
	}
	timebase_set(&tb);
	tsc_hz = tb.tsc_hz;
	id.tsc_hz = tsc_hz;
	if (pvtime_shm_create(&shm, "fuzz-mailbox", &id)) {
		fprintf(stderr, "fuzz: cannot create the shared memory\n");
		exit(1);
	}
	return 0;
}

static const uint32_t requests[] = {
	PVTIME_REQ_TSC_PROBE, PVTIME_REQ_REALTIME_PROBE, PVTIME_REQ_SET_OFFSET,
	PVTIME_REQ_END, PVTIME_REQ_NONE, PVTIME_REQ_SET_WALLCLOCK,
};

#define NR_REQUESTS	(sizeof(requests) / sizeof(requests[0]))

/* One request as a guest would post it: fields it wrote, then the kind. */
static void post_request(struct input *in, struct pvtime_mailbox *mb)
{
	uint8_t kind = (uint8_t)take(in, 1);
	uint8_t vcpu = (uint8_t)take(in, 1);
	uint8_t how = (uint8_t)take(in, 1);
	uint64_t before;

	/* Mostly valid or nearly valid vCPUs, sometimes anything. */
	WRITE_ONCE(mb->vcpu, vcpu < 0xf0 ? vcpu % (FUZZ_VCPUS + 2) :
		   (uint32_t)take(in, 4));
	WRITE_ONCE(mb->sample_flags, (uint32_t)take(in, 1));
	/* host_tsc: the last one answered plus a little, or anything. */
	if (how & 1)
		WRITE_ONCE(mb->host_tsc, READ_ONCE(mb->host_tsc) +
			   (uint64_t)(int64_t)(int8_t)take(in, 1));
	else if (how & 2)
		WRITE_ONCE(mb->host_tsc, take(in, 8));
	/* Guest TSC reads: near the host's, a round trip apart, or anything. */
	if (how & 4)
		before = READ_ONCE(mb->host_tsc) + (uint64_t)(int64_t)(int32_t)take(in, 4);
	else
		before = take(in, 8);
	WRITE_ONCE(mb->guest_tsc_before, before);
	WRITE_ONCE(mb->guest_tsc_after, how & 8 ? take(in, 8) :
		   before + take(in, 2) * 16);
	/* SET_WALLCLOCK: a wall time and a TSC near now, or anything. */
	WRITE_ONCE(mb->reserved[PVTIME_MB_SET_WALL_NS], how & 16 ? take(in, 8) :
		   (uint64_t)timebase_sample(CLOCK_REALTIME).clock_ns +
		   (uint64_t)(int64_t)(int32_t)take(in, 4));
	WRITE_ONCE(mb->reserved[PVTIME_MB_SET_GUEST_TSC], how & 32 ? take(in, 8) :
		   before);
	WRITE_ONCE(mb->request, kind < 0xf0 ? requests[kind % NR_REQUESTS] :
		   (uint32_t)take(in, 4));
}

static void check_records(void)
{
	uint32_t cpu;

	for (cpu = 0; cpu < FUZZ_VCPUS; cpu++) {
		pvtime_time_info_t rec;

		/* Nothing else writes them: a snapshot never needs a retry. */
		fuzz_check(!pvtime_time_snapshot(pvtime_vcpu_time(shm.si, cpu), 1,
						 &rec),
			   "vCPU %u record left mid-update", cpu);
		fuzz_check(rec.tsc_shift >= -32 && rec.tsc_shift <= 32,
			   "vCPU %u tsc_shift %d", cpu, rec.tsc_shift);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { .data = data, .left = size };
	struct pvtime_mailbox *mb = &shm.ctl->mailbox;
	struct mailbox_server srv;
	struct mailbox_session session;
	struct serve_limits limits = {
		.max_rtt_cycles = tsc_hz / 1000000 * MAILBOX_MAX_RTT_US,
	};
	unsigned int n;

	if (domain_clock_init(&clk, "fuzz", tsc_hz, FUZZ_VCPUS, TSC_STABLE_AUTO))
		abort();
	memset(mb, 0, sizeof(*mb));
	mailbox_server_init(&srv, "fuzz", &shm, &clk, NULL, NULL);
	/* The first byte: is this domain the time source? */
	mailbox_server_set_time_source(&srv, take(&in, 1) & 1, NULL);
	wallclock_set_hyp_offset_ns(0);
	mailbox_session_init(&session);
	for (n = 0; in.left && n < MAX_REQUESTS; n++) {
		int64_t hyp_offset = wallclock_hyp_offset_ns();
		int32_t status;
		uint32_t request;
		bool told_time;

		post_request(&in, mb);
		WRITE_ONCE(mb->status, 1);	/* no answer yet */
		request = READ_ONCE(mb->request);
		if (answer_request(&srv, mb, &session, &limits, &told_time))
			mailbox_session_init(&session);	/* the next doorbell */
		status = READ_ONCE(mb->status);
		/* The serve loop holds exactly these back from a stopped guest. */
		fuzz_check(told_time == (request == PVTIME_REQ_TSC_PROBE ||
					 request == PVTIME_REQ_REALTIME_PROBE),
			   "request %u: told_time %d", request, told_time);
		if (READ_ONCE(mb->request) == PVTIME_REQ_SET_WALLCLOCK) {
			fuzz_check(status == 0 || status == -EINVAL ||
				   status == -ERANGE || status == -EAGAIN ||
				   status == -EPERM,
				   "SET_WALLCLOCK answered with status %d", status);
			fuzz_check(status == 0 || wallclock_hyp_offset_ns() == hyp_offset,
				   "a refused SET_WALLCLOCK (%d) moved the hyp's wall clock",
				   status);
			fuzz_check(srv.time_source || status == -EPERM,
				   "SET_WALLCLOCK from a domain that is not the time source: %d",
				   status);
		} else {
			fuzz_check(status == 0 || status == -EINVAL,
				   "request %u answered with status %d",
				   READ_ONCE(mb->request), status);
		}
		check_records();
	}
	wallclock_set_hyp_offset_ns(0);
	domain_clock_fini(&clk);
	return 0;
}
