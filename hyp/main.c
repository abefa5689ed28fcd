// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvtimed: the pvtime hypervisor-side daemon.  Documentation/pvtimed.rst is
 * its manual; README.md in this folder maps its layers.  This file parses
 * the options, starts the layers bottom up, and wires the events of the
 * lower ones (host clock timers, TSC refinement, the time source, domains
 * stopping) to what the upper ones do about them.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvtime_ctl.h"
#include "control/control.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "core/sched_fifo.h"
#include "core/sd_notify.h"
#include "core/timebase.h"
#include "core/tsc_ratefile.h"
#include "core/tsc_refine.h"
#include "domain/clock_status_domains.h"
#include "domain/domain.h"
#include "fault/fault_inject.h"
#include "host/host_clock_follow.h"
#include "host/host_clock_watch.h"
#include "host/time_source_watch.h"

#define CALIBRATE_MS_DEFAULT	1000
#define CALIBRATE_MS_MIN	10
#define CALIBRATE_MS_MAX	60000

struct options {
	const char *socket_path;
	const char *state_dir;
	bool use_syslog;
	enum log_level level;
	unsigned int calibrate_ms;
	bool fault_injection;
	bool lock_memory;
	const char *rate_file;		/* NULL: STATE_DIR/tsc-rate */
	bool follow_host_ntp;		/* --host-clock ntp (default) */
	int sched_fifo_prio;		/* --sched-fifo; 0: SCHED_OTHER */
};

static bool stop_requested;
static struct event_source signals = { .fd = -1 };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pvtimed [OPTION]...\n"
		"pvtime hypervisor daemon: runs guests under QEMU, publishes their\n"
		"paravirtual time records and serves pvxl on a control socket.\n"
		"\n"
		"  --socket PATH       control socket (default %s)\n"
		"  --state-dir DIR     per-domain sockets and logs (default %s)\n"
		"  --log stderr|syslog where messages go (default stderr)\n"
		"  --log-level LEVEL   error, warn, info or debug (default info)\n"
		"  --calibrate-ms N    TSC calibration interval, %d..%d (default %d)\n"
		"  --enable-fault-injection\n"
		"                      accept the 'inject' command (tests only)\n"
		"  --lock-memory       mlockall(): no page fault on the time paths\n"
		"  --rate-file PATH    keep the refined TSC rate there (default\n"
		"                      STATE_DIR/tsc-rate)\n"
		"  --host-clock ntp|raw\n"
		"                      what guests' clocks run at: ntp (default) follows\n"
		"                      host CLOCK_MONOTONIC, with the host's NTP frequency\n"
		"                      and slews; raw keeps the TSC's raw rate\n"
		"                      (CLOCK_MONOTONIC_RAW, as kvmclock)\n"
		"  --sched-fifo PRIO   run the event loop at SCHED_FIFO PRIO (%d..%d)\n"
		"                      and each guest's QEMU main loop at PRIO-1, so\n"
		"                      host clock steps reach guests without waiting\n"
		"                      for a busy CPU; 0 (default) leaves both\n"
		"                      SCHED_OTHER\n"
		"  --help              show this help and exit\n"
		"\n"
		"SIGTERM or SIGINT leaves every guest running, with its state saved\n"
		"for the next pvtimed to adopt, and exits 0.\n",
		PVTIME_CTL_DEFAULT_SOCKET, PVTIME_CTL_DEFAULT_STATE_DIR,
		CALIBRATE_MS_MIN, CALIBRATE_MS_MAX, CALIBRATE_MS_DEFAULT,
		SCHED_FIFO_PRIO_MIN, SCHED_FIFO_PRIO_MAX);
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "pvtimed: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'pvtimed --help'.\n");
	return PVTIME_EXIT_USAGE;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_SOCKET = 256, OPT_STATE_DIR, OPT_LOG, OPT_LOG_LEVEL,
	       OPT_CALIBRATE_MS, OPT_FAULT_INJECTION, OPT_LOCK_MEMORY, OPT_RATE_FILE, OPT_HOST_CLOCK,
	       OPT_SCHED_FIFO, OPT_HELP };
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "calibrate-ms", required_argument, NULL, OPT_CALIBRATE_MS },
		{ "enable-fault-injection", no_argument, NULL, OPT_FAULT_INJECTION },
		{ "lock-memory", no_argument, NULL, OPT_LOCK_MEMORY },
		{ "rate-file", required_argument, NULL, OPT_RATE_FILE },
		{ "host-clock", required_argument, NULL, OPT_HOST_CLOCK },
		{ "sched-fifo", required_argument, NULL, OPT_SCHED_FIFO },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int opt, level;
	char *end;
	unsigned long ms;

	*o = (struct options) {
		.socket_path = PVTIME_CTL_DEFAULT_SOCKET,
		.state_dir = PVTIME_CTL_DEFAULT_STATE_DIR,
		.level = LOG_LEVEL_INFO,
		.calibrate_ms = CALIBRATE_MS_DEFAULT,
		.follow_host_ntp = true,
	};
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			o->socket_path = optarg;
			break;
		case OPT_STATE_DIR:
			o->state_dir = optarg;
			break;
		case OPT_LOG:
			if (!strcmp(optarg, "syslog"))
				o->use_syslog = true;
			else if (strcmp(optarg, "stderr"))
				return usage_error("bad --log '%s' (expected stderr or syslog)",
						   optarg);
			break;
		case OPT_LOG_LEVEL:
			level = log_level_parse(optarg);
			if (level < 0)
				return usage_error("bad --log-level '%s' (expected error, warn, info or debug)",
						   optarg);
			o->level = (enum log_level)level;
			break;
		case OPT_HOST_CLOCK:
			if (!strcmp(optarg, "ntp"))
				o->follow_host_ntp = true;
			else if (!strcmp(optarg, "raw"))
				o->follow_host_ntp = false;
			else
				return usage_error("bad --host-clock '%s' (expected ntp or raw)",
						   optarg);
			break;
		case OPT_CALIBRATE_MS:
			errno = 0;
			ms = strtoul(optarg, &end, 10);
			if (!*optarg || *end || errno || ms < CALIBRATE_MS_MIN ||
			    ms > CALIBRATE_MS_MAX)
				return usage_error("bad --calibrate-ms '%s' (expected 10..60000)",
						   optarg);
			o->calibrate_ms = (unsigned int)ms;
			break;
		case OPT_SCHED_FIFO:
			errno = 0;
			ms = strtoul(optarg, &end, 10);
			if (!*optarg || *end || errno ||
			    (ms && (ms < SCHED_FIFO_PRIO_MIN || ms > SCHED_FIFO_PRIO_MAX)))
				return usage_error("bad --sched-fifo '%s' (expected 0, or 2..99)",
						   optarg);
			o->sched_fifo_prio = (int)ms;
			break;
		case OPT_FAULT_INJECTION:
			o->fault_injection = true;
			break;
		case OPT_LOCK_MEMORY:
			o->lock_memory = true;
			break;
		case OPT_RATE_FILE:
			if (optarg[0] != '/')
				return usage_error("--rate-file '%s' is not an absolute path",
						   optarg);
			o->rate_file = optarg;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(PVTIME_EXIT_OK);
		default:
			return usage_error("unknown or incomplete option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return 0;
}

/* The 1 s tick: drifted wall clocks, TSC_STABLE, state files, clock status. */
static void on_host_tick(void)
{
	domain_republish_wallclocks(false);
	domain_refresh_stability_all();
	domain_drift_tick_all();
	domain_save_state_all();
	clock_status_refresh_all();
}

/* The time source moved the hyp's wall clock. */
static void on_wallclock_stepped(void)
{
	domain_republish_wallclocks(true);
}

/* The host's clock was stepped: guests first, then the rate follower. */
static void on_host_stepped(void)
{
	domain_republish_wallclocks(true);
	host_clock_follow_host_stepped();
}

static const struct host_clock_follow_listener host_clock_follower = {
	.apply_rate = domain_follow_rate_all,
	.hold_fastpath = domain_hold_fastpath_all,
};

static const struct host_clock_watch_ops host_clock_events = {
	.tick = on_host_tick,
	.stepped = on_host_stepped,
	.recheck = domain_refresh_stability_all,
};

static void on_signal(struct event_source *src, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			domain_reap_children();
			break;
		case SIGTERM:
		case SIGINT:
			log_info("signal %u from pid %u: shutting down", si.ssi_signo,
				 si.ssi_pid);
			stop_requested = true;
			break;
		default:
			break;
		}
	}
}

static int setup_signals(void)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signals.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (signals.fd < 0)
		return -errno;
	signals.handler = on_signal;
	return event_loop_add(&signals);
}

/*
 * The state dir holds guest consoles, QMP and ivshmem sockets: root's
 * only.  An existing one of ours is narrowed to 0700; one owned by
 * someone else is refused (they could reach into it whatever its mode).
 */
static int make_state_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_error("cannot create state dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error("state dir %s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		log_error("state dir %s belongs to uid %u, not to pvtimed (uid %u); refusing it",
			  dir, (unsigned int)st.st_uid, (unsigned int)geteuid());
		return -1;
	}
	if ((st.st_mode & 07777) != 0700) {
		if (chmod(dir, 0700) < 0) {
			log_error("cannot make state dir %s mode 0700: %s", dir,
				  strerror(errno));
			return -1;
		}
		log_info("state dir %s: mode %04o narrowed to 0700", dir,
			 (unsigned int)(st.st_mode & 07777));
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options opts;
	struct timebase tb;
	char state_dir[PATH_MAX];
	char *ratefile = NULL;
	int ret, notified;

	/*
	 * Before anything is created: sockets, logs and QEMU (which inherits
	 * it) make nothing group- or world-accessible.
	 */
	umask(077);
	ret = parse_options(argc, argv, &opts);
	if (ret)
		return ret;
	log_setup(opts.use_syslog, opts.level);

	/* As chronyd -m: the mailbox threads answer within microseconds. */
	if (opts.lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) < 0) {
		log_error("--lock-memory: mlockall: %s", strerror(errno));
		return PVTIME_EXIT_FAILURE;
	}
	ret = sched_fifo_enable(opts.sched_fifo_prio);
	if (ret) {
		log_error("--sched-fifo %d: %s (needs root or CAP_SYS_NICE; 0 runs without)",
			  opts.sched_fifo_prio, strerror(-ret));
		return PVTIME_EXIT_FAILURE;
	}
	if (opts.sched_fifo_prio)
		log_info("event loop at SCHED_FIFO %d, guests' QEMU main loops at %d",
			 opts.sched_fifo_prio, opts.sched_fifo_prio - 1);
	if (make_state_dir(opts.state_dir))
		return PVTIME_EXIT_FAILURE;
	if (!realpath(opts.state_dir, state_dir)) {
		log_error("state dir %s: %s", opts.state_dir, strerror(errno));
		return PVTIME_EXIT_FAILURE;
	}
	domain_set_state_dir(state_dir);
	fault_injection_enable(opts.fault_injection);
	domain_set_stop_hook(fault_domain_stopped);
	if (opts.fault_injection)
		log_warn("fault injection enabled: 'inject' can disturb guests' clocks");

	ret = event_loop_init();
	if (!ret)
		ret = setup_signals();
	if (ret) {
		log_error("cannot set up the event loop: %s", strerror(-ret));
		return PVTIME_EXIT_FAILURE;
	}
	if (timebase_calibrate(&tb, opts.calibrate_ms))
		return PVTIME_EXIT_FAILURE;
	if (opts.rate_file)
		ratefile = strdup(opts.rate_file);
	else if (asprintf(&ratefile, "%s/%s", state_dir, TSC_RATEFILE_NAME) < 0)
		ratefile = NULL;
	if (!ratefile)
		return PVTIME_EXIT_FAILURE;
	tsc_ratefile_set_path(ratefile);
	ret = tsc_ratefile_load(&tb);
	if (ret < 0)
		log_warn("%s: %s; starting from the measurement", ratefile,
			 strerror(-ret));
	timebase_set(&tb);

	/* Without the follower, refined rates are what guests run at. */
	ret = tsc_refine_start(opts.follow_host_ntp ? NULL : domain_set_tsc_hz_all);
	if (ret) {
		log_error("cannot start TSC refinement: %s", strerror(-ret));
		return PVTIME_EXIT_FAILURE;
	}
	if (opts.follow_host_ntp) {
		ret = host_clock_follow_start(tb.tsc_hz, &host_clock_follower);
		if (ret) {
			log_error("cannot follow the host clock: %s (--host-clock raw runs without)",
				  strerror(-ret));
			return PVTIME_EXIT_FAILURE;
		}
		domain_follow_rate_all(host_clock_follow_hz());
	} else {
		log_info("guests run at the TSC's raw rate (--host-clock raw): they do not follow the host's NTP frequency");
	}
	ret = host_clock_watch_start(&host_clock_events);
	if (ret) {
		log_error("cannot watch the host clock: %s", strerror(-ret));
		return PVTIME_EXIT_FAILURE;
	}
	ret = time_source_watch_start(state_dir, on_wallclock_stepped);
	if (ret) {
		log_error("cannot watch for time-source changes: %s", strerror(-ret));
		return PVTIME_EXIT_FAILURE;
	}
	domain_adopt_all();
	if (control_start(opts.socket_path))
		return PVTIME_EXIT_FAILURE;
	log_info("serving %s (state dir %s)", opts.socket_path, state_dir);
	notified = sd_notify_send("READY=1\nSTATUS=serving the control socket");
	if (notified < 0)
		log_warn("cannot tell systemd we are ready ($NOTIFY_SOCKET): %s",
			 strerror(-notified));

	while (!stop_requested) {
		ret = event_loop_run_once();
		if (ret) {
			log_error("event loop: %s", strerror(-ret));
			break;
		}
	}

	sd_notify_send("STOPPING=1");
	control_stop();
	domain_incoming_drop_all();
	domain_detach_all();
	domain_save_state_fini();
	time_source_watch_stop();
	host_clock_watch_stop();
	host_clock_follow_stop();
	tsc_refine_stop();
	event_loop_remove(&signals);
	close(signals.fd);
	event_loop_fini();
	tsc_ratefile_set_path(NULL);
	free(ratefile);
	log_info("exiting");
	log_close();
	return ret ? PVTIME_EXIT_FAILURE : PVTIME_EXIT_OK;
}
