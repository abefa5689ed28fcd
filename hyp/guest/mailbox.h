/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Serving a guest's mailbox (pvtime_abi.h has the protocol).  A doorbell on
 * PVTIME_VEC_MAILBOX starts a serve session on the domain's mailbox thread
 * (made at the first doorbell, kept until the domain goes), which spins
 * on request_seq so a probe's round trip stays around a microsecond
 * (yielding the CPU between looks after MAILBOX_TIGHT_SPIN_US, and after
 * MAILBOX_BUSY_POLL_US without a request polling every
 * MAILBOX_GENTLE_POLL_US instead), and ends on REQ_END, 50 ms without a
 * request, MAILBOX_SESSION_MAX_REQUESTS requests, or 2 s in total.  The
 * sessions of a domain share a budget (mailbox_budget.h): a doorbell while
 * it is spent is served once it has refilled, and a session ends when it
 * runs out.  While the guest is being stopped or stands still (QMP stop
 * to cont), probe answers are held back until it runs again.
 */
#ifndef PVTIMED_MAILBOX_H
#define PVTIMED_MAILBOX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "clock/records.h"
#include "clock/shm.h"
#include "core/ratelimit.h"
#include "guest/mailbox_budget.h"

#define MAILBOX_IDLE_MS		50
#define MAILBOX_SESSION_MS	2000
#define MAILBOX_MAX_RTT_US	1000
/*
 * Spin this long after a request before polling gently.  Guests under TCG
 * leave a few hundred us between back-to-back probes; with 100 us every
 * probe paid the host's wake-up latency (round trips 0.7 -> 130 us on a
 * busy 2-CPU host).  The budget bounds what a guest can make it spin.
 */
#define MAILBOX_BUSY_POLL_US	2000
/*
 * Of which spin this long with PAUSE alone, then sched_yield() between
 * looks: on a host with few CPUs the session thread may share one with
 * the guest's vCPU thread, which then waits for the whole busy poll.
 */
#define MAILBOX_TIGHT_SPIN_US	10
#define MAILBOX_GENTLE_POLL_US	20
#define MAILBOX_SESSION_MAX_REQUESTS	4096

/* Called on the session thread when record flags changed (ring RECORDS). */
typedef void (*mailbox_records_changed_fn)(void *owner);
/*
 * Called on the session thread when the time source moved the hyp's wall
 * clock: every domain must republish and ring PVTIME_VEC_WALLCLOCK.
 */
typedef void (*mailbox_hyp_wallclock_changed_fn)(void);

/* SET_WALLCLOCK outcomes, counted per domain (pvxl info shows them). */
struct mailbox_set_wallclock_stats {
	atomic_ulong forwarded;		/* accepted: the hyp's wall clock moved */
	atomic_ulong refused;		/* -EPERM: not the time source */
	atomic_ulong invalid;		/* bad time or TSC: nothing moved */
	atomic_llong last_moved_ns;	/* what the last accepted one moved it */
};

struct mailbox_server {
	const char *domain_name;
	mailbox_records_changed_fn records_changed;
	void *owner;
	struct pvtime_shm *shm;
	struct domain_clock *clk;
	pthread_t thread;
	bool thread_started;		/* owned by the main thread */
	/*
	 * The thread waits for a doorbell on wake; kicked is under
	 * wake_lock, and stop is set under it too.  A session is a loop on that thread, not a
	 * thread of its own: making one cost the event loop a clone per
	 * doorbell, a tenth of a core under a guest ringing on purpose.
	 */
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
	bool kicked;			/* a doorbell not yet taken up */
	atomic_bool active;		/* a session runs or is about to */
	atomic_bool stop;		/* end the session now, and the thread */
	atomic_ulong sessions;
	/*
	 * The guest is being stopped or stands still: probe answers are
	 * made but not published (see mailbox_server_guest_stopping()).
	 */
	atomic_bool guest_stopped;
	atomic_ulong answers_held;	/* probe answers not published so */
	/* Owned by the session thread (one at a time, joined before the next). */
	struct mailbox_budget budget;
	unsigned long deferred;		/* sessions that waited for budget */
	struct ratelimit offset_rl;	/* SET_OFFSET messages */
	struct ratelimit session_rl;	/* session ends and deferrals */

	/* PVTIME_REQ_SET_WALLCLOCK (time_source.h). */
	bool time_source;		/* set before the first session */
	mailbox_hyp_wallclock_changed_fn hyp_wallclock_changed;
	struct mailbox_set_wallclock_stats set_wallclock;
	struct ratelimit set_wallclock_rl;	/* its refusals and forwards */
};

void mailbox_server_init(struct mailbox_server *srv, const char *domain_name,
			 struct pvtime_shm *shm, struct domain_clock *clk,
			 mailbox_records_changed_fn records_changed, void *owner);

/*
 * Make the domain the time source (or not): its SET_WALLCLOCK requests
 * move the hyp's wall clock and then call changed.  Before any session.
 */
void mailbox_server_set_time_source(struct mailbox_server *srv, bool source,
				    mailbox_hyp_wallclock_changed_fn changed);

/*
 * The guest rang: start a session unless one is running.  Returns 0 or
 * -errno if no thread could be started.
 */
int mailbox_server_kick(struct mailbox_server *srv);

/*
 * Before QMP stop is sent: from now on no probe is answered (an answer
 * the guest reads only after its resume would carry host time from the
 * stop, which its frozen TSC and clocks never saw); a probe waits until
 * mailbox_server_guest_running().  Other requests are still answered.
 */
void mailbox_server_guest_stopping(struct mailbox_server *srv);

/*
 * After QMP cont returned (or the stop did not happen): probes are
 * answered again, a waiting one at once.  Returns mailbox_server_kick()'s.
 */
int mailbox_server_guest_running(struct mailbox_server *srv);

/* End any session and wait for its thread. */
void mailbox_server_stop(struct mailbox_server *srv);

#endif /* PVTIMED_MAILBOX_H */
