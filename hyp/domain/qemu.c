// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pvtime_abi.h"
#include "domain/qemu.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal	424
#endif

struct argv_builder {
	char **argv;
	size_t len;
	size_t cap;
	int oom;
};

static void add_owned(struct argv_builder *b, char *arg)
{
	if (!arg)
		b->oom = 1;
	if (b->oom) {
		free(arg);
		return;
	}
	if (b->len + 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char **grown = realloc(b->argv, cap * sizeof(*grown));

		if (!grown) {
			b->oom = 1;
			free(arg);
			return;
		}
		b->argv = grown;
		b->cap = cap;
	}
	b->argv[b->len++] = arg;
	b->argv[b->len] = NULL;
}

static void add(struct argv_builder *b, const char *arg)
{
	add_owned(b, strdup(arg));
}

__attribute__((format(printf, 2, 3)))
static void addf(struct argv_builder *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	add_owned(b, n < 0 ? NULL : s);
}

/* QEMU option values escape ',' as ",,". */
static char *opt_escape(const char *s)
{
	size_t n = strlen(s), commas = 0, i, o = 0;
	char *out;

	for (i = 0; i < n; i++)
		commas += s[i] == ',';
	out = malloc(n + commas + 1);
	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		out[o++] = s[i];
		if (s[i] == ',')
			out[o++] = ',';
	}
	out[o] = '\0';
	return out;
}

/*
 * -rtc base=YYYY-MM-DDTHH:MM:SS: QEMU takes it as UTC and keeps the RTC
 * that far from the host's clock (seconds: the RTC has no finer unit).
 * base=localtime would ask QEMU for its own idea of the host's UTC
 * offset; the date carries the one pvtimed gave the domain's wall clock.
 */
static void add_rtc(struct argv_builder *b, const struct qemu_rtc *rtc)
{
	time_t start = (time_t)(rtc->now + rtc->offset_s);
	struct tm tm;

	if (!gmtime_r(&start, &tm)) {
		b->oom = 1;
		return;
	}
	add(b, "-rtc");
	addf(b, "base=%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
	     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

char **qemu_build_argv(const struct domain_config *cfg,
		       const struct qemu_paths *paths,
		       const struct qemu_rtc *rtc)
{
	struct argv_builder b = { 0 };
	char *ivshmem = opt_escape(paths->ivshmem);
	char *console = opt_escape(paths->console);
	char *log = opt_escape(paths->log);
	char *qmp = opt_escape(paths->qmp);
	size_t i;

	if (!ivshmem || !console || !log || !qmp)
		b.oom = 1;
	add(&b, cfg->qemu);
	add(&b, "-M");
	add(&b, "q35");
	add(&b, "-accel");
	/* The thread mode always explicit: QEMU's default for -smp > 1 is multi. */
	if (cfg->accel == DOMAIN_ACCEL_TCG)
		addf(&b, "tcg,thread=%s", tcg_thread_mode_name(cfg->tcg_thread));
	else
		add(&b, domain_accel_name(cfg->accel));
	if (cfg->clock == CLOCK_MODE_VIRTUAL) {
		add(&b, "-icount");
		add(&b, DOMAIN_VIRTUAL_ICOUNT);
	}
	add(&b, "-smp");
	addf(&b, "%u", cfg->vcpus);
	add(&b, "-m");
	addf(&b, "%u", cfg->memory_mib);
	add(&b, "-nodefaults");
	add(&b, "-no-reboot");
	add(&b, "-display");
	add(&b, "none");
	add(&b, "-kernel");
	add(&b, cfg->kernel);
	if (cfg->ramdisk) {
		add(&b, "-initrd");
		add(&b, cfg->ramdisk);
	}
	add(&b, "-append");
	add(&b, cfg->extra);
	if (rtc && rtc->offset_s)
		add_rtc(&b, rtc);
	add(&b, "-chardev");
	addf(&b, "socket,id=pvtime,path=%s", ivshmem ? ivshmem : "");
	add(&b, "-device");
	/* master=on: the shared memory travels with a save (pvxl save). */
	addf(&b, "ivshmem-doorbell,chardev=pvtime,vectors=%d,master=on",
	     PVTIME_NR_VECTORS);
	add(&b, "-chardev");
	/* A restored domain's console log goes on after the saved one's. */
	addf(&b, "socket,id=console0,path=%s,server=on,wait=off,logfile=%s%s",
	     console ? console : "", log ? log : "",
	     paths->incoming ? ",logappend=on" : "");
	add(&b, "-serial");
	add(&b, "chardev:console0");
	add(&b, "-qmp");
	addf(&b, "unix:%s,server=on,wait=off", qmp ? qmp : "");
	for (i = 0; i < cfg->nr_dm_args; i++)
		add(&b, cfg->dm_args[i]);
	if (paths->incoming) {
		/* Stopped after loading: pvtimed rewrites the records first. */
		add(&b, "-S");
		add(&b, "-incoming");
		add(&b, paths->incoming);
	}

	free(ivshmem);
	free(console);
	free(log);
	free(qmp);
	if (b.oom) {
		qemu_argv_free(b.argv);
		return NULL;
	}
	return b.argv;
}

void qemu_argv_free(char **argv)
{
	size_t i;

	if (!argv)
		return;
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

pid_t qemu_spawn(char **argv, const char *qemu_log, char *err, size_t errlen)
{
	sigset_t all;
	pid_t pid;
	int logfd, nullfd;

	logfd = open(qemu_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0) {
		snprintf(err, errlen, "%s: %s", qemu_log, strerror(errno));
		return -errno;
	}
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0) {
		snprintf(err, errlen, "/dev/null: %s", strerror(errno));
		close(logfd);
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;

		snprintf(err, errlen, "fork: %s", strerror(e));
		close(logfd);
		close(nullfd);
		return -e;
	}
	if (pid == 0) {
		/* The daemon blocks signals for its signalfd; QEMU must not. */
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		/*
		 * Its own session and no parent-death signal: the guest
		 * outlives pvtimed, and the next pvtimed adopts it.
		 */
		setsid();
		if (dup2(nullfd, STDIN_FILENO) < 0 ||
		    dup2(logfd, STDOUT_FILENO) < 0 ||
		    dup2(logfd, STDERR_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "pvtimed: cannot execute %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(logfd);
	close(nullfd);
	return pid;
}

void qemu_kill(pid_t pid, unsigned int timeout_ms)
{
	struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	unsigned int waited;
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (waited = 0; waited < timeout_ms; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD))
			return;
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* Wait up to timeout_ms for the pidfd to say the process ended. */
static bool pidfd_wait(int pidfd, unsigned int timeout_ms)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int n;

	do {
		n = poll(&pfd, 1, (int)timeout_ms);
	} while (n < 0 && errno == EINTR);
	return n > 0;
}

int qemu_kill_adopted(int pidfd, unsigned int timeout_ms)
{
	if (pidfd < 0)
		return -EBADF;
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0)
		return errno == ESRCH ? 0 : -errno;	/* ESRCH: ended already */
	if (pidfd_wait(pidfd, timeout_ms))
		return 0;
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	return pidfd_wait(pidfd, timeout_ms) ? 0 : -ETIMEDOUT;
}
