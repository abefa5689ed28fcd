// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The mailbox lives in guest-writable memory: every field is read once with
 * a volatile load into a local, and only the locals are trusted after
 * validation.  The session is bounded in time whatever the guest does, and
 * the sessions of a domain by a budget (mailbox_budget.h); what a guest can
 * make pvtimed log goes through rate limits.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "pvclock_math.h"
#include "clock/time_source.h"
#include "clock/wallclock.h"
#include "core/log.h"
#include "core/timebase.h"
#include "guest/mailbox.h"
#include "guest/mailbox_session.h"

/* SET_OFFSET messages: a boot's worth (one per vCPU) per minute. */
#define OFFSET_LOG_BURST	(2 * CLOCK_VCPUS_MAX)
#define SESSION_LOG_BURST	5
/*
 * SET_WALLCLOCK messages a minute: a time source under chrony forwards
 * a slew every few seconds, a refused domain may try in a loop.
 */
#define SET_WALLCLOCK_LOG_BURST	10
#define LOG_INTERVAL_NS		(60 * 1000000000ull)

struct serve_limits {
	uint64_t idle_cycles;
	uint64_t tight_spin_cycles;
	uint64_t busy_poll_cycles;
	uint64_t session_cycles;
	uint64_t max_rtt_cycles;
};

static uint64_t cycles_for_ns(uint64_t hz, uint64_t ns)
{
	return (uint64_t)((unsigned __int128)hz * ns / PVTIME_NSEC_PER_SEC);
}

/* A clock's value at a given host TSC, from a sample taken next to it. */
static int64_t clock_at_tsc(const struct timebase_pair *sample, uint64_t tsc,
			    uint64_t hz)
{
	int64_t cycles = (int64_t)(tsc - sample->tsc);
	__int128 ns = (__int128)cycles * (int64_t)PVTIME_NSEC_PER_SEC / (int64_t)hz;

	return sample->clock_ns + (int64_t)ns;
}

/*
 * host_tsc, wall_ns and host_monotonic_raw_ns all describe one instant:
 * the raw clock is sampled right after and carried back to host_tsc, so
 * a guest fitting rates over short windows sees no read-order jitter.
 */
static void answer_realtime_probe(struct mailbox_server *srv,
				  struct pvtime_mailbox *mb,
				  struct mailbox_session *session)
{
	struct timebase_pair pair, raw;
	int64_t offset, lead;
	uint64_t hz;

	pair = timebase_sample_n(CLOCK_REALTIME, 2);
	raw = timebase_sample_n(CLOCK_MONOTONIC_RAW, 2);
	pthread_mutex_lock(&srv->clk->lock);
	hz = srv->clk->tsc_hz;
	if (srv->clk->mode == CLOCK_MODE_VIRTUAL) {
		/*
		 * Where a virtual-time guest should be: behind by its drift
		 * at the guest TSC it read just before asking, so its
		 * records agree (lead 0) and its wall clock is not pulled
		 * onto host time.
		 */
		offset = wallclock_domain_offset_ns(srv->clk->wall_offset_ns) -
			 records_virtual_drift_at_locked(srv->clk,
							 READ_ONCE(mb->guest_tsc_before),
							 pair.tsc);
		lead = 0;
	} else {
		/* Where the guest should be: behind by any drift it keeps. */
		offset = wallclock_domain_offset_ns(srv->clk->wall_offset_ns) -
			 srv->clk->lag_ns;
		lead = srv->clk->offset_known ?
		       records_lead_ns_locked(srv->clk, pair.tsc) : 0;
	}
	pthread_mutex_unlock(&srv->clk->lock);
	mailbox_session_hand_out(session, pair.tsc);
	WRITE_ONCE(mb->host_tsc, pair.tsc);
	WRITE_ONCE(mb->wall_ns, wallclock_add_sat(pair.clock_ns, offset));
	WRITE_ONCE(mb->host_monotonic_raw_ns, clock_at_tsc(&raw, pair.tsc, hz));
	WRITE_ONCE(mb->records_lead_ns, lead);
	WRITE_ONCE(mb->status, 0);
}

static void answer_set_offset(struct mailbox_server *srv,
			      struct pvtime_mailbox *mb,
			      const struct mailbox_session *session,
			      const struct serve_limits *limits)
{
	struct offset_proposal proposal = {
		.guest_tsc_before = READ_ONCE(mb->guest_tsc_before),
		.guest_tsc_after = READ_ONCE(mb->guest_tsc_after),
		.host_tsc = READ_ONCE(mb->host_tsc),
	};
	uint32_t vcpu = READ_ONCE(mb->vcpu);
	uint32_t sample_flags = READ_ONCE(mb->sample_flags);
	enum offset_outcome outcome;
	uint64_t rtt;
	int64_t offset;
	const char *why;
	bool ring;

	if (mailbox_validate_offset(session, &proposal, limits->max_rtt_cycles,
				    &offset, &rtt, &why)) {
		log_ratelimited(&srv->offset_rl, LOG_LEVEL_WARN,
				"domain %s: rejected TSC offset proposal from vCPU %u: %s (before %llu after %llu host_tsc %llu)",
			 srv->domain_name, vcpu, why,
			 (unsigned long long)proposal.guest_tsc_before,
			 (unsigned long long)proposal.guest_tsc_after,
			 (unsigned long long)proposal.host_tsc);
		WRITE_ONCE(mb->status, -EINVAL);
		return;
	}
	/* clk->mode is set before the guest runs and never changes. */
	if (srv->clk->mode == CLOCK_MODE_VIRTUAL)
		outcome = records_submit_virtual_sample(srv->clk, srv->shm, vcpu,
							proposal.host_tsc + (uint64_t)offset,
							proposal.host_tsc,
							sample_flags, &ring);
	else
		outcome = records_submit_offset(srv->clk, srv->shm, vcpu, offset,
						rtt, sample_flags, &ring);
	switch (outcome) {
	case OFFSET_ADOPTED:
		log_info("domain %s: adopted guest TSC offset %lld cycles from vCPU %u (round trip %llu cycles, %llu ns)",
			 srv->domain_name, (long long)offset, vcpu,
			 (unsigned long long)rtt,
			 (unsigned long long)timebase_cycles_to_ns(rtt));
		WRITE_ONCE(mb->status, 0);
		break;
	case OFFSET_AGREED:
		/* Every vCPU, every calibration period: debug only. */
		log_debug("domain %s: vCPU %u TSC offset %lld agrees (round trip %llu cycles)",
			  srv->domain_name, vcpu, (long long)offset,
			  (unsigned long long)rtt);
		WRITE_ONCE(mb->status, 0);
		break;
	case OFFSET_MOVED:
		log_ratelimited(&srv->offset_rl, LOG_LEVEL_INFO,
				"domain %s: vCPU %u: guest TSC offset moved to %lld (round trip %llu cycles)",
			 srv->domain_name, vcpu, (long long)offset,
			 (unsigned long long)rtt);
		WRITE_ONCE(mb->status, 0);
		break;
	default:
		log_ratelimited(&srv->offset_rl, LOG_LEVEL_WARN,
				"domain %s: SET_OFFSET from vCPU %u, but the domain has %u",
			 srv->domain_name, vcpu, srv->clk->nr_vcpus);
		WRITE_ONCE(mb->status, -EINVAL);
		break;
	}
	if (ring && srv->records_changed)
		srv->records_changed(srv->owner);
}

/*
 * SET_WALLCLOCK: only the time-source domain may move the hyp's wall
 * clock; anyone else is refused, counted and logged (rate-limited), and
 * nothing changes.  Neither does anything on a bad time or TSC.
 */
static void answer_set_wallclock(struct mailbox_server *srv,
				 struct pvtime_mailbox *mb)
{
	struct time_source_request req = {
		.wall_ns = (int64_t)READ_ONCE(mb->reserved[PVTIME_MB_SET_WALL_NS]),
		.guest_tsc = READ_ONCE(mb->reserved[PVTIME_MB_SET_GUEST_TSC]),
	};
	struct mailbox_set_wallclock_stats *stats = &srv->set_wallclock;
	struct time_source_clock clk;
	int64_t old_offset, new_offset;
	const char *why;
	int ret;

	if (!srv->time_source) {
		atomic_fetch_add(&stats->refused, 1);
		log_ratelimited(&srv->set_wallclock_rl, LOG_LEVEL_WARN,
				"domain %s: SET_WALLCLOCK refused: the domain is not the time source (time_source = 1); nothing changed",
				srv->domain_name);
		WRITE_ONCE(mb->status, -EPERM);
		return;
	}
	clk.realtime = timebase_sample_n(CLOCK_REALTIME, 2);
	pthread_mutex_lock(&srv->clk->lock);
	clk.offset_known = srv->clk->offset_known;
	clk.guest_tsc_offset = srv->clk->guest_tsc_offset;
	clk.tsc_hz = srv->clk->tsc_hz;
	clk.domain_offset_ns = srv->clk->wall_offset_ns;
	pthread_mutex_unlock(&srv->clk->lock);
	ret = time_source_hyp_offset(&req, &clk, &new_offset, &why);
	if (ret) {
		atomic_fetch_add(&stats->invalid, 1);
		log_ratelimited(&srv->set_wallclock_rl, LOG_LEVEL_WARN,
				"domain %s: SET_WALLCLOCK rejected: %s (wall %lld ns, guest TSC %llu); nothing changed",
				srv->domain_name, why, (long long)req.wall_ns,
				(unsigned long long)req.guest_tsc);
		WRITE_ONCE(mb->status, ret);
		return;
	}
	old_offset = wallclock_hyp_offset_ns();
	wallclock_set_hyp_offset_ns(new_offset);
	atomic_fetch_add(&stats->forwarded, 1);
	atomic_store(&stats->last_moved_ns, new_offset - old_offset);
	log_ratelimited(&srv->set_wallclock_rl, LOG_LEVEL_INFO,
			"domain %s (time source): hyp wall clock moved by %lld ns (offset from host CLOCK_REALTIME now %lld ns)",
			srv->domain_name, (long long)(new_offset - old_offset),
			(long long)new_offset);
	WRITE_ONCE(mb->status, 0);
	if (srv->hyp_wallclock_changed)
		srv->hyp_wallclock_changed();
}

/*
 * Decode and answer the request the guest posted (selftests/fuzz drives
 * this directly).  *told_time says whether the answer carries the host's
 * time (a probe).  Returns true if the guest ended the session.
 */
static bool answer_request(struct mailbox_server *srv,
			   struct pvtime_mailbox *mb,
			   struct mailbox_session *session,
			   const struct serve_limits *limits, bool *told_time)
{
	uint64_t now;

	*told_time = false;
	switch (READ_ONCE(mb->request)) {
	case PVTIME_REQ_TSC_PROBE:
		now = pvtime_rdtsc();
		mailbox_session_hand_out(session, now);
		WRITE_ONCE(mb->host_tsc, now);
		WRITE_ONCE(mb->status, 0);
		*told_time = true;
		return false;
	case PVTIME_REQ_REALTIME_PROBE:
		answer_realtime_probe(srv, mb, session);
		*told_time = true;
		return false;
	case PVTIME_REQ_SET_OFFSET:
		answer_set_offset(srv, mb, session, limits);
		return false;
	case PVTIME_REQ_SET_WALLCLOCK:
		answer_set_wallclock(srv, mb);
		return false;
	case PVTIME_REQ_END:
		WRITE_ONCE(mb->status, 0);
		return true;
	default:
		WRITE_ONCE(mb->status, -EINVAL);
		return false;
	}
}

/* Sleep ns, in slices, unless asked to stop.  Returns false if asked. */
static bool sleep_unless_stopped(struct mailbox_server *srv, uint64_t ns)
{
	while (ns) {
		uint64_t slice = ns < 10000000 ? ns : 10000000;
		struct timespec ts = { .tv_nsec = (long)slice };

		if (atomic_load_explicit(&srv->stop, memory_order_relaxed))
			return false;
		nanosleep(&ts, NULL);
		ns -= slice;
	}
	return !atomic_load_explicit(&srv->stop, memory_order_relaxed);
}

/*
 * Wait until the budget allows a session; returns its grant in ns, or 0
 * if the daemon asked the thread to stop meanwhile.
 */
static uint64_t wait_for_budget(struct mailbox_server *srv)
{
	uint64_t wait = mailbox_budget_wait_ns(&srv->budget, monotonic_ns());

	if (wait) {
		srv->deferred++;
		log_ratelimited(&srv->session_rl, LOG_LEVEL_INFO,
				"domain %s: mailbox budget spent; doorbell served in %llu ms",
				srv->domain_name,
				(unsigned long long)(wait / 1000000));
		if (!sleep_unless_stopped(srv, wait))
			return 0;
	}
	return mailbox_budget_grant_ns(&srv->budget, monotonic_ns());
}

/* Session ends a well-behaved guest brings about itself. */
static const char END_GUEST_SENT_END[] = "guest sent END";
static const char END_GUEST_STOPPED[] =
	"the guest is stopped: its probe waits for the resume";

/*
 * Whether a probe answer just made may be published.  The host's time in
 * it is the guest's only while the guest runs: a guest that QEMU froze
 * after it posted would read, on its resume, a host time from inside the
 * stop against a TSC and clocks that stood still, and its bracket would
 * look tight.  guest_stopped is set before QMP stop is sent, so an answer
 * made before this look, while it was clear, was made before the stop
 * (QEMU takes far longer to stop the vCPUs than the look takes).
 */
static bool time_answer_true(struct mailbox_server *srv)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load(&srv->guest_stopped))
		return true;
	atomic_fetch_add(&srv->answers_held, 1);
	return false;
}

static void serve_session(struct mailbox_server *srv)
{
	struct pvtime_mailbox *mb = &srv->shm->ctl->mailbox;
	const struct timespec gentle = { .tv_nsec = MAILBOX_GENTLE_POLL_US * 1000 };
	uint64_t hz, grant_ns, start_ns;
	struct serve_limits limits;
	struct mailbox_session session;
	uint64_t start, last;
	uint32_t answered;
	unsigned long requests = 0;
	const char *end_reason;
	bool told_time;

	grant_ns = wait_for_budget(srv);
	if (!grant_ns)
		return;
	if (grant_ns > MAILBOX_SESSION_MS * 1000000ull)
		grant_ns = MAILBOX_SESSION_MS * 1000000ull;
	pthread_mutex_lock(&srv->clk->lock);
	hz = srv->clk->tsc_hz;
	pthread_mutex_unlock(&srv->clk->lock);
	limits = (struct serve_limits) {
		.idle_cycles = cycles_for_ns(hz, MAILBOX_IDLE_MS * 1000000ull),
		.tight_spin_cycles = cycles_for_ns(hz, MAILBOX_TIGHT_SPIN_US * 1000ull),
		.busy_poll_cycles = cycles_for_ns(hz, MAILBOX_BUSY_POLL_US * 1000ull),
		.session_cycles = cycles_for_ns(hz, grant_ns),
		.max_rtt_cycles = hz / 1000000 * MAILBOX_MAX_RTT_US,
	};
	mailbox_session_init(&session);
	answered = READ_ONCE(mb->response_seq);
	start_ns = monotonic_ns();
	start = pvtime_rdtsc();
	last = start;
	for (;;) {
		uint32_t seq = READ_ONCE(mb->request_seq);
		uint64_t now;
		bool end;

		if (atomic_load_explicit(&srv->stop, memory_order_relaxed)) {
			end_reason = "daemon asked it to stop";
			break;
		}
		if (seq == answered) {
			now = pvtime_rdtsc();
			if (now - last > limits.idle_cycles) {
				end_reason = "idle for 50 ms";
				break;
			}
			if (now - start > limits.session_cycles) {
				end_reason = "session time limit";
				break;
			}
			/*
			 * Spin only while requests come back to back, and
			 * past the first microseconds let whatever else is
			 * queued on this CPU run: that may be the very QEMU
			 * thread that runs the guest (it held its vCPU off
			 * for 2 ms at a time, a doorbell's irq with it).
			 */
			if (now - last > limits.busy_poll_cycles)
				nanosleep(&gentle, NULL);
			else if (now - last > limits.tight_spin_cycles)
				sched_yield();
			else
				__builtin_ia32_pause();
			continue;
		}
		pvtime_rmb();
		end = answer_request(srv, mb, &session, &limits, &told_time);
		pvtime_wmb();
		if (told_time && !time_answer_true(srv)) {
			end_reason = END_GUEST_STOPPED;
			break;
		}
		WRITE_ONCE(mb->response_seq, seq);
		answered = seq;
		requests++;
		last = pvtime_rdtsc();
		if (end) {
			end_reason = END_GUEST_SENT_END;
			break;
		}
		if (last - start > limits.session_cycles) {
			end_reason = "session time limit";
			break;
		}
		if (requests >= MAILBOX_SESSION_MAX_REQUESTS) {
			end_reason = "request limit";
			break;
		}
	}
	mailbox_budget_charge(&srv->budget, monotonic_ns(),
			      monotonic_ns() - start_ns);
	if (end_reason == END_GUEST_SENT_END ||
	    end_reason == END_GUEST_STOPPED)
		log_debug("domain %s: mailbox session ended: %s after %lu requests",
			  srv->domain_name, end_reason, requests);
	else
		log_ratelimited(&srv->session_rl, LOG_LEVEL_INFO,
				"domain %s: mailbox session ended: %s after %lu requests (%llu ms granted)",
				srv->domain_name, end_reason, requests,
				(unsigned long long)(grant_ns / 1000000));
}

/* A request the guest posted that no session has answered. */
static bool request_waiting(struct mailbox_server *srv)
{
	struct pvtime_mailbox *mb = &srv->shm->ctl->mailbox;

	pvtime_rmb();
	return READ_ONCE(mb->request_seq) != READ_ONCE(mb->response_seq);
}

/*
 * Wait for a doorbell, unless a request is already waiting: one posted
 * while the last session was ending rang while it still ran, and that
 * doorbell was taken up by it.  The guest writes request_seq before it
 * rings, so a doorbell after kicked is cleared here is never missed, and
 * one before it left its request for request_waiting() to see.  Returns
 * false when the thread is to end.
 */
static bool wait_for_doorbell(struct mailbox_server *srv)
{
	bool run;

	pthread_mutex_lock(&srv->wake_lock);
	srv->kicked = false;
	pthread_mutex_unlock(&srv->wake_lock);
	/* A stopped guest's probe waits for mailbox_server_guest_running(). */
	if (request_waiting(srv) && !atomic_load(&srv->guest_stopped))
		return !atomic_load(&srv->stop);
	pthread_mutex_lock(&srv->wake_lock);
	if (!srv->kicked)
		atomic_store(&srv->active, false);
	while (!srv->kicked && !atomic_load(&srv->stop))
		pthread_cond_wait(&srv->wake, &srv->wake_lock);
	run = !atomic_load(&srv->stop);
	srv->kicked = false;
	pthread_mutex_unlock(&srv->wake_lock);
	return run;
}

static void *serve_thread(void *arg)
{
	struct mailbox_server *srv = arg;

	/* The gentle poll's sleeps should be as short as asked. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	do {
		atomic_fetch_add(&srv->sessions, 1);
		log_debug("domain %s: mailbox session %lu started",
			  srv->domain_name, atomic_load(&srv->sessions));
		serve_session(srv);
	} while (wait_for_doorbell(srv));
	return NULL;
}

void mailbox_server_init(struct mailbox_server *srv, const char *domain_name,
			 struct pvtime_shm *shm, struct domain_clock *clk,
			 mailbox_records_changed_fn records_changed, void *owner)
{
	memset(srv, 0, sizeof(*srv));
	srv->records_changed = records_changed;
	srv->owner = owner;
	srv->domain_name = domain_name;
	srv->shm = shm;
	srv->clk = clk;
	pthread_mutex_init(&srv->wake_lock, NULL);
	pthread_cond_init(&srv->wake, NULL);
	atomic_init(&srv->active, false);
	atomic_init(&srv->stop, false);
	atomic_init(&srv->sessions, 0);
	atomic_init(&srv->guest_stopped, false);
	atomic_init(&srv->answers_held, 0);
	mailbox_budget_init(&srv->budget, monotonic_ns());
	srv->offset_rl = (struct ratelimit)RATELIMIT_INIT(LOG_INTERVAL_NS,
							   OFFSET_LOG_BURST);
	srv->session_rl = (struct ratelimit)RATELIMIT_INIT(LOG_INTERVAL_NS,
							    SESSION_LOG_BURST);
	srv->set_wallclock_rl = (struct ratelimit)RATELIMIT_INIT(LOG_INTERVAL_NS,
								  SET_WALLCLOCK_LOG_BURST);
}

void mailbox_server_set_time_source(struct mailbox_server *srv, bool source,
				    mailbox_hyp_wallclock_changed_fn changed)
{
	srv->time_source = source;
	srv->hyp_wallclock_changed = changed;
}

/* The first doorbell: the thread, which serves it at once. */
static int start_thread(struct mailbox_server *srv)
{
	int ret;

	atomic_store(&srv->stop, false);
	srv->kicked = false;
	atomic_store(&srv->active, true);
	ret = pthread_create(&srv->thread, NULL, serve_thread, srv);
	if (ret) {
		atomic_store(&srv->active, false);
		log_error("domain %s: cannot start mailbox thread: %s",
			  srv->domain_name, strerror(ret));
		return -ret;
	}
	srv->thread_started = true;
	return 0;
}

int mailbox_server_kick(struct mailbox_server *srv)
{
	if (!srv->thread_started)
		return start_thread(srv);
	pthread_mutex_lock(&srv->wake_lock);
	srv->kicked = true;
	atomic_store(&srv->active, true);
	pthread_cond_signal(&srv->wake);
	pthread_mutex_unlock(&srv->wake_lock);
	return 0;
}

void mailbox_server_guest_stopping(struct mailbox_server *srv)
{
	atomic_store(&srv->guest_stopped, true);
	atomic_thread_fence(memory_order_seq_cst);
}

int mailbox_server_guest_running(struct mailbox_server *srv)
{
	atomic_store(&srv->guest_stopped, false);
	/* Its probe may have waited out the stop: serve it now. */
	if (!srv->thread_started)
		return 0;
	return mailbox_server_kick(srv);
}

void mailbox_server_stop(struct mailbox_server *srv)
{
	if (!srv->thread_started)
		return;
	/* Under the lock: the thread checks it before it sleeps. */
	pthread_mutex_lock(&srv->wake_lock);
	atomic_store(&srv->stop, true);
	pthread_cond_signal(&srv->wake);
	pthread_mutex_unlock(&srv->wake_lock);
	pthread_join(srv->thread, NULL);
	srv->thread_started = false;
	atomic_store(&srv->active, false);
}
