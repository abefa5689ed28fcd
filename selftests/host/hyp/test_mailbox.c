// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The mailbox server's thread, driven as a guest drives it: post a
 * request, ring, spin for the answer.  The subject is what a stopped
 * guest is told: no probe answer made while it stands still (between
 * mailbox_server_guest_stopping() and mailbox_server_guest_running()) may
 * reach it, and its probe is answered once it runs again.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "records_fixture.h"
#include "guest/mailbox.h"

/* A request unanswered this long is rung again, as the guest does. */
#define RERING_NS	20000000ull

static struct pvtime_shm shm;
static struct domain_clock clk;
static struct mailbox_server srv;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	nanosleep(&ts, NULL);
}

/* Post request; returns its sequence number. */
static uint32_t post(uint32_t request)
{
	struct pvtime_mailbox *mb = &shm.ctl->mailbox;
	uint32_t seq = READ_ONCE(mb->request_seq) + 1;

	WRITE_ONCE(mb->request, request);
	pvtime_wmb();
	WRITE_ONCE(mb->request_seq, seq);
	return seq;
}

/* Spin up to wait_ns for seq's answer, ringing as the guest does. */
static bool answered(uint32_t seq, uint64_t wait_ns)
{
	struct pvtime_mailbox *mb = &shm.ctl->mailbox;
	uint64_t start = now_ns(), rang = start;

	while (READ_ONCE(mb->response_seq) != seq) {
		uint64_t now = now_ns();

		if (now - start > wait_ns)
			return false;
		if (now - rang > RERING_NS) {
			mailbox_server_kick(&srv);
			rang = now;
		}
		sched_yield();
	}
	pvtime_rmb();
	return true;
}

/* One TSC probe from start to answer: its host_tsc, or 0 if none came. */
static uint64_t tsc_probe(uint64_t wait_ns)
{
	uint32_t seq = post(PVTIME_REQ_TSC_PROBE);

	mailbox_server_kick(&srv);
	return answered(seq, wait_ns) ? READ_ONCE(shm.ctl->mailbox.host_tsc) : 0;
}

/*
 * Stops and resumes, each window's host TSC bounds noted, while a guest
 * thread probes back to back: no answer it got may fall inside a window.
 */
#define STOP_CYCLES	100
#define ANSWERS_MAX	(1u << 20)
static uint64_t window_from[STOP_CYCLES], window_to[STOP_CYCLES];
static uint64_t answer_tsc[ANSWERS_MAX];
static unsigned int answers;
static atomic_bool prober_stop;

static void *prober(void *arg)
{
	(void)arg;
	while (!atomic_load(&prober_stop) && answers < ANSWERS_MAX) {
		uint64_t host_tsc = tsc_probe(2000000000ull);

		if (host_tsc)
			answer_tsc[answers++] = host_tsc;
	}
	return NULL;
}

static unsigned int answers_inside_windows(void)
{
	unsigned int a, w, inside = 0;

	for (a = 0; a < answers; a++)
		for (w = 0; w < STOP_CYCLES; w++)
			if (answer_tsc[a] >= window_from[w] &&
			    answer_tsc[a] <= window_to[w])
				inside++;
	return inside;
}

int main(void)
{
	struct pvtime_mailbox *mb;
	uint64_t before, after, host_tsc, resumed_at;
	unsigned long held;
	unsigned int inside;
	uint32_t seq;
	pthread_t thread;
	int i;

	tap_plan(9);
	if (live_domain(&shm, &clk, "test-mailbox")) {
		tap_ok(0, "live domain clock");
		return tap_done();
	}
	mb = &shm.ctl->mailbox;
	mailbox_server_init(&srv, "test-mailbox", &shm, &clk, NULL, NULL);

	before = pvtime_rdtsc();
	host_tsc = tsc_probe(2000000000ull);
	after = pvtime_rdtsc();
	tap_ok(host_tsc >= before && host_tsc <= after,
	       "a running guest's TSC probe is answered with the host TSC of the answer");

	mailbox_server_guest_stopping(&srv);
	held = atomic_load(&srv.answers_held);
	seq = post(PVTIME_REQ_TSC_PROBE);
	mailbox_server_kick(&srv);
	tap_ok(!answered(seq, 300000000ull),
	       "a stopped guest's TSC probe is not answered within 300 ms");
	tap_ok(atomic_load(&srv.answers_held) > held,
	       "the answer made meanwhile was held back (%lu held)",
	       atomic_load(&srv.answers_held) - held);
	resumed_at = pvtime_rdtsc();
	mailbox_server_guest_running(&srv);
	tap_ok(answered(seq, 2000000000ull),
	       "once the guest runs, its waiting probe is answered without a doorbell");
	tap_ok(READ_ONCE(mb->host_tsc) >= resumed_at,
	       "with a host TSC from after the resume, not from the stop");

	mailbox_server_guest_stopping(&srv);
	seq = post(PVTIME_REQ_END);
	mailbox_server_kick(&srv);
	tap_ok(answered(seq, 2000000000ull) && READ_ONCE(mb->status) == 0,
	       "a request without the host's time (END) is answered while stopped");
	mailbox_server_guest_running(&srv);

	/* The race: stops and resumes while a guest probes back to back. */
	atomic_store(&prober_stop, false);
	if (pthread_create(&thread, NULL, prober, NULL)) {
		tap_ok(0, "prober thread");
		return tap_done();
	}
	for (i = 0; i < STOP_CYCLES; i++) {
		sleep_ns(2000000ull);
		mailbox_server_guest_stopping(&srv);
		window_from[i] = pvtime_rdtsc();
		sleep_ns(3000000ull);
		window_to[i] = pvtime_rdtsc();
		mailbox_server_guest_running(&srv);
	}
	sleep_ns(20000000ull);
	atomic_store(&prober_stop, true);
	pthread_join(thread, NULL);
	inside = answers_inside_windows();
	tap_ok(inside == 0,
	       "none of %u probe answers came from inside one of %d stops (%u did)",
	       answers, STOP_CYCLES, inside);
	tap_ok(answers > STOP_CYCLES,
	       "the guest was answered between the stops (%u probes)", answers);
	tap_ok(atomic_load(&srv.answers_held) > held + 1,
	       "stops caught probes in flight (%lu held)",
	       atomic_load(&srv.answers_held) - held);
	mailbox_server_stop(&srv);
	return tap_done();
}
