/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Domains: the table of guests pvtimed runs and their lifecycle.  A domain
 * is created from a config file and runs until destroyed; if its QEMU exits
 * it stays in the table in state "shutdown" until destroyed, like xl.
 */
#ifndef PVTIMED_DOMAIN_H
#define PVTIMED_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "clock/clock_status.h"
#include "clock/records.h"
#include "clock/shm.h"
#include "core/event_loop.h"
#include "core/ratelimit.h"
#include "domain/domain_config.h"
#include "guest/ivshmem_server.h"
#include "guest/mailbox.h"

enum domain_state {
	DOMAIN_RUNNING,
	DOMAIN_SHUTDOWN,
};

struct domain {
	struct domain *next;
	uint32_t domid;
	enum domain_state state;
	struct domain_config cfg;
	char *config_path;
	char *ivshmem_path;
	char *console_path;
	char *log_path;
	char *qmp_path;
	char *qemu_log_path;
	pid_t qemu_pid;
	int qemu_status;		/* waitpid status once shut down */
	bool qemu_status_known;		/* false: QEMU ended unseen (adopted) */
	uint64_t qemu_start_ticks;	/* /proc start time: pid + this = QEMU */

	/*
	 * Restart support (domain_adopt.c): the state file a new pvtimed
	 * adopts the domain from, the config copy it reloads, and, for a
	 * domain adopted from a previous pvtimed, a pidfd watching its QEMU
	 * (not our child: no SIGCHLD).
	 */
	char *state_path;
	char *saved_config_path;
	char *state_written;		/* the text last written */
	bool state_dirty;		/* domain_save_state_soon() pending */
	struct ratelimit state_rl;	/* messages about saving it */
	/* How to find its fds in QEMU again: fixed for the domain's life. */
	bool fd_ids_known;
	uint64_t memfd_ino;
	uint64_t host_eventfd_id[PVTIME_NR_VECTORS];
	uint64_t guest_eventfd_id[PVTIME_NR_VECTORS];
	bool adopted;
	uint64_t adopted_at_ns;		/* CLOCK_REALTIME of the adoption */
	struct event_source qemu_exit;	/* pidfd; fd -1 when none */

	struct pvtime_shm shm;
	struct domain_clock clock;
	bool clock_ready;
	struct ivshmem_server ivshmem;
	bool ivshmem_ready;
	struct mailbox_server mailbox;
	struct clock_status_state clock_status;
	/*
	 * Wall-clock doorbells rung, and when the last one was (host
	 * CLOCK_MONOTONIC_RAW): a host step's way to the guest is timed
	 * in two parts, pvtimed's and QEMU's plus the guest's.  Event loop.
	 */
	uint64_t wallclock_rings;
	int64_t wallclock_ring_raw_ns;

	/*
	 * pvxl pause/unpause: QEMU's vCPUs stopped through QMP.  The domain
	 * stays DOMAIN_RUNNING (QEMU runs, its doorbells and records are
	 * served); only what it shows and pause/unpause look at this.
	 */
	bool paused;
	uint64_t pause_stop_tsc;	/* host TSC the stop took effect at */
	uint64_t pauses;		/* completed and current */
	uint64_t paused_total_ns;	/* completed pauses */

	/*
	 * The wall offset the domain was created with (rtc_timeoffset plus,
	 * with localtime = 1, the host's UTC offset then).  Unknown for an
	 * adopted domain: its wall offset itself comes from its state.
	 */
	bool create_offset_known;
	int64_t create_offset_s;
	int64_t create_utc_offset_s;
};

/* Where per-domain files go; set once at startup. */
void domain_set_state_dir(const char *dir);

/*
 * Create and start a domain from a config file.  Returns it, or NULL with
 * a message in err (config errors carry file:line).
 */
struct domain *domain_create(const char *config_path, char *err, size_t errlen);

/* Stop QEMU, free everything, unlink its sockets.  Logs files stay. */
void domain_destroy(struct domain *d);

/*
 * pvtimed is exiting: leave every running guest running (its state saved
 * for the next pvtimed to adopt) and forget shut-down ones.
 */
void domain_detach_all(void);

/*
 * Adopt the domains a previous pvtimed left running in the state dir
 * (domain_adopt.c).  Logs each adoption or why one failed; returns the
 * number adopted.
 */
unsigned int domain_adopt_all(void);

/* Save every domain's state whose text changed (once a second). */
void domain_save_state_all(void);

/* Save one domain's state now (after a command changed it). */
void domain_save_state(struct domain *d);

/*
 * Save it DOMAIN_SAVE_DELAY_MS from now: for a change just rung to the
 * guest, whose vCPU thread must get the host CPU before pvtimed spends
 * it on a file (on ext4 a replacing rename waits for the write-out).
 */
#define DOMAIN_SAVE_DELAY_MS	5
void domain_save_state_soon(struct domain *d);

/* Drop the pending-save timer (pvtimed exits; domain_detach_all() saved). */
void domain_save_state_fini(void);

/* The running domain with time_source = 1, or NULL. */
struct domain *domain_time_source(void);

/* By name, or by decimal domid.  NULL if none. */
struct domain *domain_lookup(const char *name_or_id);
struct domain *domain_first(void);

/* SIGCHLD: reap children, mark their domains shut down. */
void domain_reap_children(void);
void domain_describe_exit(int status, char *buf, size_t len);

/* Republish every running domain's wall clock; ring if stepped. */
void domain_republish_wallclocks(bool host_stepped);

/* Ring the guest's wall-clock doorbell (after wc_* changed by a step). */
void domain_ring_wallclock(struct domain *d);

/* Ring the guest's records doorbell (record flags or rate changed). */
void domain_ring_records(struct domain *d);

/*
 * The config's clock policies for d's clock (stopped_time, clock, drift),
 * before its guest runs.  Returns 0, or -1 with the reason in err.
 */
int domain_apply_clock_policies(struct domain *d, char *err, size_t errlen);

/* Once a second: every domain's drift measured and kept in its history. */
void domain_drift_tick_all(void);

/* Once a second: set or clear TSC_STABLE per evidence and hold-offs. */
void domain_refresh_stability_all(void);

/*
 * Something outside the domain layer keeps per-domain state (fault/):
 * hook(d, false) when d's QEMU ended, hook(d, true) before d is freed.
 */
void domain_set_stop_hook(void (*hook)(struct domain *d, bool freed));

/*
 * domain_rate.c.  Move d's records to hz (host TSC cycles per second the
 * domain's time follows), running freq_ppm fast: follow, the host clock
 * follower's change (records_follow_rate), else a set rate
 * (records_set_rate).  Rings the records doorbell and asks for the
 * TSC_STABLE recheck after the hold when the records changed, and
 * republishes the wall clock.  Returns 0 or -errno (nothing changed).
 */
int domain_apply_rate(struct domain *d, uint64_t hz, int32_t freq_ppm,
		      bool follow);
/* The host TSC rate was refined: every domain's records follow it. */
void domain_set_tsc_hz_all(uint64_t tsc_hz);
/*
 * The host clock follower's new rate (cycles per host CLOCK_MONOTONIC
 * second) for every running domain, and the rate new ones start at.
 */
void domain_follow_rate_all(uint64_t hz);
/*
 * The follower's rate is about to change: every running domain's records
 * lose TSC_STABLE for ns (doorbell rung where they had it), so guests are
 * off the raw-TSC fast path when it does.
 */
void domain_hold_fastpath_all(uint64_t ns);
/* What a new domain starts at (tsc_hz before any of the above). */
uint64_t domain_rate_for_new(uint64_t tsc_hz, bool *host_ntp);

const char *domain_state_name(enum domain_state state);
/* What list and info show: "running", "paused" or "shutdown". */
const char *domain_state_label(const struct domain *d);

/*
 * Stop or continue the guest's vCPUs through QEMU's QMP socket ("stop",
 * "cont"), telling the records when it took effect (the midpoint of the
 * QMP round trip, which is logged and returned as *qmp_rtt_ns: it bounds
 * the error of that estimate).  Return 0, or -1 with one line in err and
 * the domain as it was: shut down, already paused / not paused, or QMP
 * failed.  unpause also returns how long this pause lasted.
 */
int domain_pause(struct domain *d, uint64_t *qmp_rtt_ns, char *err,
		 size_t errlen);
/* unpause applies the stopped-time policy given (the domain's, or an override). */
int domain_unpause(struct domain *d, enum stopped_time_policy stopped,
		   uint32_t slew_ppm, uint64_t *qmp_rtt_ns, uint64_t *paused_ns,
		   char *err, size_t errlen);

/*
 * pvxl save (domain_save.c): stop the guest if it runs, write FILE (an
 * absolute path without quotes, backslashes or control characters: QEMU's
 * exec: URI carries it), then end the domain.  Return 0, or -1 with one
 * line in err and the domain as it was (unpaused again if it ran).
 */
struct domain_save_result {
	uint64_t header_bytes;
	uint64_t stream_bytes;
	uint64_t elapsed_ns;
};
int domain_save(struct domain *d, const char *path,
		struct domain_save_result *res, char *err, size_t errlen);

/*
 * pvxl restore: a domain from a save file, with the config it holds or
 * the one at config_path (absolute), continued under policy_text (NULL:
 * the config's stopped_time).  Return 0 (res->d running, or paused if the
 * final QMP cont failed), or -1 with "FILE: reason" in err.
 */
struct domain_restore_result {
	struct domain *d;
	bool paused;
	enum stopped_time_policy stopped;
	uint32_t slew_ppm;
	bool same_host;			/* saved in this boot: away by the TSC */
	int64_t saved_realtime_ns;	/* when the saved guest stopped */
	uint64_t load_ns;		/* command to stream loaded */
	uint64_t elapsed_ns;		/* command to guest running */
};
int domain_restore(const char *file, const char *config_path,
		   const char *policy_text, struct domain_restore_result *res,
		   char *err, size_t errlen);

/*
 * pvxl migrate (domain_migrate.c; control/control_migrate.c speaks to the
 * other pvtimed).  Source side first.
 *
 * The hand-over header: a save file's header (domain/save_file.h) without
 * a stream, written to STATE/NAME.migrate (mode 0600); stopped: the clock
 * at d->pause_stop_tsc, else as it is now.  Returns its path (free it),
 * or NULL with err.
 */
char *domain_migrate_header(struct domain *d, bool stopped, char *err,
			    size_t errlen);

#define MIGRATE_TIMEOUT_MS		60000
#define MIGRATE_INCOMING_TIMEOUT_S	120

struct domain_migrate_result {
	uint64_t stop_tsc;	/* the guest stopped after this host TSC */
	uint64_t live_ns;	/* migrate sent to that stop */
	uint64_t stop_seen_ns;	/* migrate sent to the stop seen */
	uint64_t elapsed_ns;	/* migrate sent to the stream complete */
	unsigned int polls;
};

/*
 * QMP migrate of the running d to uri (unix:PATH, no quotes or
 * backslashes).  live: the guest runs (its doorbells served) until QEMU
 * switches over; else it is paused first and the whole stream is sent
 * with it stopped.  0: the stream is complete and d stopped (paused in
 * the records at res->stop_tsc).  -1 with err: d runs here again (QEMU
 * continued it, or cont).
 */
int domain_migrate_send(struct domain *d, const char *uri, bool live,
			struct domain_migrate_result *res, char *err,
			size_t errlen);

/* The destination did not take d over: continue it here. */
int domain_migrate_resume(struct domain *d, char *err, size_t errlen);

/* Destination: an incoming domain, out of the table until the hand-over. */
struct domain_incoming_info {
	char name[DOMAIN_NAME_MAX + 1];
	uint32_t domid;
	char uri[4200];		/* unix:STATE/NAME.incoming */
};

/*
 * From the source's hand-over header at header_path (absolute): QEMU
 * started with -S -incoming unix:..., connected and listening.  0, or
 * -1 with err and nothing left behind.
 */
int domain_incoming_prepare(const char *header_path,
			    struct domain_incoming_info *info, char *err,
			    size_t errlen);

/*
 * The hand-over: the stream is loaded (waited for), the clock taken over
 * from the header (now of the stop) and the domain continued under its
 * stopped_time policy, as a restore.  -1 with err: refused, the incoming
 * QEMU ended and the incoming domain forgotten.
 */
int domain_incoming_finish(const char *name, const char *header_path,
			   struct domain_restore_result *res, char *err,
			   size_t errlen);

/* The source gave up: end the incoming QEMU, forget the domain. */
int domain_incoming_abort(const char *name, char *err, size_t errlen);

/* pvtimed exits: no incoming domain survives it. */
void domain_incoming_drop_all(void);

/* Paused time over all pauses, the current one up to now included. */
uint64_t domain_paused_total_ns(const struct domain *d);

#endif /* PVTIMED_DOMAIN_H */
