// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvxl as a user runs it: a subprocess with real argv, stdin, stdout,
 * stderr and exit code.  Usage errors must be caught before any connection
 * (checked by watching a listening socket nobody should touch); the wire
 * framing is checked against a fake control server living in this test,
 * which records the request line and answers with a canned reply.
 *
 * The pvxl binary is $PVXL (the Makefile sets it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

#define CHILD_TIMEOUT_SEC	10

static const char *pvxl;
static char tmpdir[] = "/tmp/pvxl-test.XXXXXX";
static char ctl_path[100];
static char console_path[100];
static int ctl_listen_fd = -1;

struct run {
	int status;		/* exit code, or 128 + signal */
	char out[8192];
	char err[8192];
};

/* Captured text on one TAP line: control characters shown as escapes. */
static const char *flat(const char *s)
{
	static char bufs[4][1024];
	static int next;
	char *out = bufs[next++ % 4];
	size_t n = 0;

	for (; *s && n < sizeof(bufs[0]) - 5; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f)
			out[n++] = (char)c;
		else
			n += (size_t)snprintf(out + n, 5, "\\x%02x", c);
	}
	out[n] = '\0';
	return out;
}

static void read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

/*
 * Run pvxl with 'args' (NULL-terminated), stdin fed from 'input' (NULL:
 * /dev/null), environment variable PVTIME_SOCKET set to 'env_socket' (NULL:
 * unset), in directory 'cwd' (NULL: unchanged).
 */
static void run_pvxl(struct run *r, const char *input, const char *env_socket,
		     const char *cwd, const char *const *args)
{
	char out_path[160], err_path[160];
	const char *argv[32];
	int in_pipe[2], status, i;
	pid_t pid;

	snprintf(out_path, sizeof(out_path), "%s/stdout", tmpdir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", tmpdir);
	argv[0] = pvxl;
	for (i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if (pipe(in_pipe)) {
		perror("pipe");
		exit(1);
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		close(in_pipe[1]);
		dup2(in_pipe[0], STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		if (env_socket)
			setenv("PVTIME_SOCKET", env_socket, 1);
		else
			unsetenv("PVTIME_SOCKET");
		if (cwd && chdir(cwd))
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		alarm(CHILD_TIMEOUT_SEC);	/* a hung pvxl fails, not hangs */
		execv(pvxl, (char *const *)argv);
		_exit(127);
	}
	close(in_pipe[0]);
	if (input && write(in_pipe[1], input, strlen(input)) < 0)
		perror("write to pvxl stdin");
	close(in_pipe[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	read_file(out_path, r->out, sizeof(r->out));
	read_file(err_path, r->err, sizeof(r->err));
}

#define RUN(r, ...) run_pvxl(r, NULL, NULL, NULL, (const char *const[]){ __VA_ARGS__, NULL })

static int listen_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(fd, 8)) {
		perror(path);
		exit(1);
	}
	return fd;
}

/* True if someone connected to the control socket since the last check. */
static bool control_socket_touched(void)
{
	struct pollfd p = { .fd = ctl_listen_fd, .events = POLLIN };
	bool touched = false;

	while (poll(&p, 1, 0) == 1) {
		int fd = accept(ctl_listen_fd, NULL, NULL);

		touched = true;
		if (fd >= 0)
			close(fd);
	}
	return touched;
}

/* One-shot fake pvtimed: records the request line, sends 'reply', closes. */
struct fake_server {
	pthread_t thread;
	int listen_fd;
	const char *path;
	const char *reply;
	size_t reply_len;
	char request[4200];
	/* console mode: after reading one line, send this and close */
	const char *console_reply;
	int accepted;		/* atomic: a client connected */
};

static void *fake_server_main(void *arg)
{
	struct fake_server *s = arg;
	size_t have = 0;
	int fd = accept(s->listen_fd, NULL, NULL);

	s->request[0] = '\0';
	if (fd < 0)
		return NULL;
	__atomic_store_n(&s->accepted, 1, __ATOMIC_RELEASE);
	while (have < sizeof(s->request) - 1) {
		ssize_t n = read(fd, s->request + have, sizeof(s->request) - 1 - have);

		if (n <= 0)
			break;
		have += (size_t)n;
		s->request[have] = '\0';
		if (strchr(s->request, '\n'))
			break;
	}
	if (!strchr(s->request, '\n')) {
		/* Not a pvxl request (the unblocking connect): no reply. */
	} else if (s->console_reply) {
		if (write(fd, s->console_reply, strlen(s->console_reply)) < 0)
			perror("fake console write");
	} else if (s->reply_len &&
		   write(fd, s->reply, s->reply_len) != (ssize_t)s->reply_len) {
		perror("fake server write");
	}
	close(fd);
	return NULL;
}

static void fake_start(struct fake_server *s, int listen_fd, const char *path,
		       const char *reply)
{
	memset(s, 0, sizeof(*s));
	s->listen_fd = listen_fd;
	s->path = path;
	s->reply = reply;
	s->reply_len = reply ? strlen(reply) : 0;
	pthread_create(&s->thread, NULL, fake_server_main, s);
}

/*
 * Wait for the fake server.  If pvxl failed before connecting, unblock its
 * accept() first (a pvxl that did connect waited for the reply, so it was
 * accepted by now).
 */
static void fake_join(struct fake_server *s)
{
	if (!__atomic_load_n(&s->accepted, __ATOMIC_ACQUIRE)) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", s->path);
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
			perror("unblock fake server");
		close(fd);
	}
	pthread_join(s->thread, NULL);
}

/* Run pvxl against the fake control server answering 'reply'. */
static void run_served(struct run *r, struct fake_server *s, const char *reply,
		       const char *cwd, const char *const *args)
{
	char socket_arg[160];
	const char *argv[32];
	int i;

	snprintf(socket_arg, sizeof(socket_arg), "--socket=%s", ctl_path);
	argv[0] = socket_arg;
	for (i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	fake_start(s, ctl_listen_fd, ctl_path, reply);
	run_pvxl(r, NULL, NULL, cwd, argv);
	fake_join(s);
}

#define SERVED(r, s, reply, ...) \
	run_served(r, s, reply, NULL, (const char *const[]){ __VA_ARGS__, NULL })

static void test_usage_errors(void)
{
	static const struct {
		const char *args[7];
		const char *message;
	} cases[] = {
		{ { NULL }, "pvxl: missing COMMAND" },
		{ { "frobnicate" }, "pvxl: unknown command 'frobnicate'" },
		{ { "--bogus", "list" }, "pvxl: unknown option '--bogus'" },
		{ { "--socket" }, "--socket needs a PATH" },
		{ { "--socket=", "list" }, "empty socket path" },
		{ { "create" }, "pvxl: create: missing argument" },
		{ { "create", "a", "b" }, "pvxl: create: unexpected argument 'b'" },
		{ { "list", "--verbose" }, "pvxl: list: unknown option '--verbose'" },
		{ { "destroy" }, "pvxl: destroy: missing argument" },
		{ { "destroy", "" }, "pvxl: destroy: empty argument" },
		{ { "console" }, "pvxl: console: missing argument" },
		{ { "pause" }, "pvxl: pause: missing argument" },
		{ { "pause", "g", "h" }, "pvxl: pause: unexpected argument 'h'" },
		{ { "pause", "--all" }, "pvxl: pause: unknown option '--all'" },
		{ { "unpause" }, "pvxl: unpause: missing argument" },
		{ { "unpause", "" }, "pvxl: unpause: empty argument" },
		{ { "info" }, "pvxl: info: missing argument" },
		{ { "info", "--all", "g" }, "pvxl: info: unknown option '--all'" },
		{ { "host-info", "x" }, "pvxl: host-info: unexpected argument 'x'" },
		{ { "set-wallclock" }, "pvxl: set-wallclock: missing argument" },
		{ { "set-wallclock", "+1s" }, "missing DOM or --all before TIME '+1s'" },
		{ { "set-wallclock", "--all", "g", "+1s" }, "give either DOM or --all" },
		{ { "set-wallclock", "g", "1h" }, "pvxl: set-wallclock: bad TIME '1h': " },
		{ { "set-wallclock", "g", "+1" }, "bad TIME '+1': missing unit" },
		{ { "set-wallclock", "g", "" }, "pvxl: set-wallclock: empty argument" },
		{ { "set-wallclock", "--all", "2027-13-01T00:00:00Z" }, "month 13" },
		{ { "set-wallclock", "g", "+99999999999999999999s" }, "too large" },
		{ { "help", "frobnicate" }, "pvxl: help: unknown command 'frobnicate'" },
		{ { "inject" }, "pvxl: inject: missing argument" },
		{ { "inject", "g" }, "pvxl: inject: missing argument" },
		{ { "inject", "g", "flood" }, "pvxl: inject: unknown mode 'flood'" },
		{ { "inject", "g", "storm", "1", "2", "3" },
		  "pvxl: inject: unexpected argument '3'" },
		{ { "save" }, "pvxl: save: missing argument" },
		{ { "save", "g" }, "pvxl: save: missing argument" },
		{ { "save", "--stopped-time", "step", "g", "f" },
		  "pvxl: save: unknown option '--stopped-time'" },
		{ { "restore" }, "pvxl: restore: missing argument" },
		{ { "restore", "--stopped-time" },
		  "pvxl: restore: --stopped-time needs a POLICY" },
		{ { "restore", "--stopped-time", "bogus", "f" },
		  "unknown stopped-time policy 'bogus' (step, slew:PPM or keep)" },
		{ { "restore", "--stopped-time=slew:", "f" },
		  "unknown stopped-time policy 'slew:'" },
		{ { "migrate" }, "pvxl: migrate: missing argument" },
		{ { "migrate", "g" }, "pvxl: migrate: missing argument" },
		{ { "migrate", "g", "d", "x" },
		  "pvxl: migrate: unexpected argument 'x'" },
		{ { "migrate", "--stopped-time", "step", "g", "d" },
		  "pvxl: migrate: unknown option '--stopped-time'" },
		{ { "migrate", "--live", "--stopped", "g", "d" },
		  "pvxl: migrate: --live and --stopped exclude each other" },
		{ { "migrate", "--stopped", "--live", "g", "d" },
		  "pvxl: migrate: --live and --stopped exclude each other" },
		{ { "save", "--live", "g", "f" },
		  "pvxl: save: unknown option '--live'" },
	};
	char socket_arg[160];
	size_t i;

	snprintf(socket_arg, sizeof(socket_arg), "--socket=%s", ctl_path);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[8] = { socket_arg };
		struct run r;
		int n;
		bool touched;

		for (n = 0; cases[i].args[n]; n++)
			argv[n + 1] = cases[i].args[n];
		/* A case without its own --socket gets ours, so a stray connect shows. */
		if (n && !strncmp(cases[i].args[0], "--socket", 8))
			run_pvxl(&r, NULL, NULL, NULL, argv + 1);
		else
			run_pvxl(&r, NULL, NULL, NULL, argv);
		touched = control_socket_touched();
		tap_ok(r.status == 2 && strstr(r.err, cases[i].message) &&
		       strstr(r.err, "try 'pvxl help") && !*r.out && !touched,
		       "usage error #%zu (%s ...): exit 2, '%s', no connection (got %d, %s'%s')",
		       i, n ? cases[i].args[0] : "no args", cases[i].message,
		       r.status, touched ? "CONNECTED, " : "", flat(r.err));
	}
}

static void test_help(void)
{
	static const char *const commands[] = {
		"create", "list", "destroy", "pause", "unpause", "save", "restore",
		"migrate", "console", "info", "set-wallclock", "host-info", "inject", "help",
	};
	char expect[64];
	struct run r;
	size_t i;

	RUN(&r, "help");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		snprintf(expect, sizeof(expect), "\n  %s ", commands[i]);
		if (!strstr(r.out, expect))
			break;
	}
	tap_ok(r.status == 0 && i == sizeof(commands) / sizeof(commands[0]),
	       "'pvxl help' exits 0 and lists every command (got %d, missing %s)",
	       r.status, i < sizeof(commands) / sizeof(commands[0]) ? commands[i] : "none");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		snprintf(expect, sizeof(expect), "usage: pvxl %s ", commands[i]);
		RUN(&r, "help", commands[i]);
		tap_ok(r.status == 0 && strstr(r.out, expect) && !*r.err,
		       "'pvxl help %s' exits 0 with its usage (got %d)", commands[i], r.status);
	}
	RUN(&r, "info", "--help");
	tap_ok(r.status == 0 && strstr(r.out, "usage: pvxl info [--json] DOM"),
	       "'pvxl info --help' exits 0 with usage (got %d)", r.status);
	RUN(&r, "--help");
	tap_ok(r.status == 0 && strstr(r.out, "usage: pvxl [--socket PATH] COMMAND"),
	       "'pvxl --help' exits 0 (got %d)", r.status);
	RUN(&r, "--version");
	tap_ok(r.status == 0 && !strncmp(r.out, "pvxl ", 5),
	       "'pvxl --version' exits 0 (got %d: %s)", r.status, flat(r.out));
}

static void test_inject_wire(void)
{
	struct fake_server s;
	struct run r;

	SERVED(&r, &s, "ok\nmode: freq-step\n", "inject", "guest1", "freq-step", "-100");
	tap_ok(r.status == 0 && !strcmp(s.request, "text inject guest1 freq-step -100\n") &&
	       !strcmp(r.out, "mode: freq-step\n"),
	       "inject: a negative ppm is an argument, not an option (got %d, req '%s')",
	       r.status, flat(s.request));
	SERVED(&r, &s, "ok\n{}\n", "inject", "--json", "guest1", "storm", "1000", "5000");
	tap_ok(r.status == 0 && !strcmp(s.request, "json inject guest1 storm 1000 5000\n"),
	       "inject --json: storm with two arguments (got %d, req '%s')",
	       r.status, flat(s.request));
	SERVED(&r, &s, "error 2 bad arguments for storm (usage: inject <dom> storm <rate_hz 1..10000> <duration_ms 1..600000>)\n",
	       "inject", "guest1", "storm", "0", "5");
	tap_ok(r.status == 2 && strstr(r.err, "pvxl: bad arguments for storm"),
	       "pvtimed's validation error -> exit 2 with its message (got %d: '%s')",
	       r.status, flat(r.err));
}

static void test_pause_wire(void)
{
	struct fake_server s;
	struct run r;

	SERVED(&r, &s, "ok\nname: g1\nstate: paused\n", "pause", "g1");
	tap_ok(r.status == 0 && !strcmp(s.request, "text pause g1\n") &&
	       !strcmp(r.out, "name: g1\nstate: paused\n"),
	       "pause: request 'text pause g1', body printed (got %d, req '%s')",
	       r.status, flat(s.request));
	SERVED(&r, &s, "ok\n{}\n", "unpause", "--json", "7");
	tap_ok(r.status == 0 && !strcmp(s.request, "json unpause 7\n"),
	       "unpause --json 7: request 'json unpause 7' (got %d, req '%s')",
	       r.status, flat(s.request));
	SERVED(&r, &s, "error 1 domain 'g1' is not paused\n", "unpause", "g1");
	tap_ok(r.status == 1 && !strcmp(r.err, "pvxl: domain 'g1' is not paused\n") &&
	       !*r.out,
	       "unpause refused by pvtimed: exit 1 with its message (got %d: '%s')",
	       r.status, flat(r.err));
}

static void test_cannot_connect(void)
{
	struct run r;

	RUN(&r, "--socket", "/nonexistent", "list");
	tap_ok(r.status == 1 && strstr(r.err, "cannot connect to pvtimed at /nonexistent"),
	       "--socket /nonexistent list: exit 1, 'cannot connect' (got %d: %s)",
	       r.status, flat(r.err));
	run_pvxl(&r, NULL, "/nonexistent-env", NULL, (const char *const[]){ "list", NULL });
	tap_ok(r.status == 1 && strstr(r.err, "at /nonexistent-env"),
	       "$PVTIME_SOCKET is used when --socket is absent (got %d: %s)",
	       r.status, flat(r.err));
}

static void test_framing(void)
{
	static const char body[] = "ID  NAME\n 1  guest one\n\ttab \x01 and no final newline";
	struct fake_server s;
	struct run r;
	char expect[512];

	snprintf(expect, sizeof(expect), "ok\n%s", body);
	SERVED(&r, &s, expect, "list");
	tap_ok(r.status == 0 && !strcmp(s.request, "text list\n") &&
	       !strcmp(r.out, body) && !*r.err,
	       "list: request 'text list', body printed verbatim (got %d, req '%s')",
	       r.status, flat(s.request));

	SERVED(&r, &s, "ok\n{\"domains\":[]}\n", "list", "--json");
	tap_ok(r.status == 0 && !strcmp(s.request, "json list\n") &&
	       !strcmp(r.out, "{\"domains\":[]}\n"),
	       "list --json: request 'json list' (got %d, req '%s')", r.status, flat(s.request));

	SERVED(&r, &s, "ok\n{}\n", "info", "--json", "guest1");
	tap_ok(r.status == 0 && !strcmp(s.request, "json info guest1\n"),
	       "info --json guest1 (got %d, req '%s')", r.status, flat(s.request));

	SERVED(&r, &s, "ok\n", "host-info");
	tap_ok(r.status == 0 && !strcmp(s.request, "text host-info\n") && !*r.out,
	       "host-info: empty body prints nothing (got %d, req '%s')", r.status, flat(s.request));

	SERVED(&r, &s, "ok\n", "destroy", "my dom%\n");
	tap_ok(r.status == 0 && !strcmp(s.request, "text destroy my%20dom%25%0A\n"),
	       "destroy escapes space, %% and newline (got req '%s')", flat(s.request));

	SERVED(&r, &s, "error 2 bad\n", "list");
	tap_ok(r.status == 2 && !strcmp(r.err, "pvxl: bad\n") && !*r.out,
	       "'error 2 bad' -> exit 2, stderr 'pvxl: bad' (got %d: '%s')", r.status, flat(r.err));

	SERVED(&r, &s, "error 1 no such domain 'x'\n", "info", "x");
	tap_ok(r.status == 1 && !strcmp(r.err, "pvxl: no such domain 'x'\n"),
	       "'error 1 ...' -> exit 1 with the message (got %d: '%s')", r.status, flat(r.err));

	SERVED(&r, &s, "error 7 odd code\n", "list");
	tap_ok(r.status == 1 && strstr(r.err, "pvxl: odd code"),
	       "undefined error code -> exit 1 (got %d: '%s')", r.status, flat(r.err));

	SERVED(&r, &s, "hello\n", "list");
	tap_ok(r.status == 1 && strstr(r.err, "malformed reply from pvtimed: 'hello'"),
	       "garbage status line -> exit 1, malformed (got %d: '%s')", r.status, flat(r.err));

	SERVED(&r, &s, "ok", "list");
	tap_ok(r.status == 1 && strstr(r.err, "malformed reply"),
	       "status line without newline -> exit 1 (got %d: '%s')", r.status, flat(r.err));

	SERVED(&r, &s, NULL, "list");
	tap_ok(r.status == 1 && strstr(r.err, "closed the connection without a reply"),
	       "connection closed without reply -> exit 1 (got %d: '%s')", r.status, flat(r.err));

	fake_start(&s, ctl_listen_fd, ctl_path, "ok\n");
	run_pvxl(&r, NULL, ctl_path, NULL, (const char *const[]){ "host-info", NULL });
	fake_join(&s);
	tap_ok(r.status == 0 && !strcmp(s.request, "text host-info\n"),
	       "$PVTIME_SOCKET selects the control socket (got %d: %s)", r.status, flat(r.err));
}

static void test_set_wallclock_wire(void)
{
	static const struct {
		const char *target, *time, *wire;
	} cases[] = {
		{ "guest1", "+2.5s", "text set-wallclock guest1 rel 2500000000\n" },
		{ "guest1", "-1h", "text set-wallclock guest1 rel -3600000000000\n" },
		{ "--all", "now", "text set-wallclock --all host\n" },
		{ "7", "2027-01-01T12:00:00Z", "text set-wallclock 7 abs 1798804800000000000\n" },
		{ "g", "@4294967296", "text set-wallclock g abs 4294967296000000000\n" },
	};
	struct fake_server s;
	struct run r;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		SERVED(&r, &s, "ok\n", "set-wallclock", cases[i].target, cases[i].time);
		tap_ok(r.status == 0 && !strcmp(s.request, cases[i].wire),
		       "set-wallclock %s %s -> '%.*s' (got %d, req '%s')",
		       cases[i].target, cases[i].time,
		       (int)strlen(cases[i].wire) - 1, cases[i].wire, r.status, flat(s.request));
	}
	SERVED(&r, &s, "ok\n", "set-wallclock", "guest1", "--", "-250ms");
	tap_ok(r.status == 0 && !strcmp(s.request, "text set-wallclock guest1 rel -250000000\n"),
	       "'--' ends options (got %d, req '%s')", r.status, flat(s.request));
}

static void test_create(void)
{
	char dir[160], cfg[200], expect[400];
	struct fake_server s;
	struct run r;
	int fd;

	snprintf(dir, sizeof(dir), "%s/my dir", tmpdir);
	snprintf(cfg, sizeof(cfg), "%s/100%% guest.cfg", dir);
	mkdir(dir, 0700);
	fd = open(cfg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0)
		close(fd);

	/* Relative path in, absolute escaped path on the wire. */
	run_served(&r, &s, "ok\ncreated guest1\n", dir,
		   (const char *const[]){ "create", "./100% guest.cfg", NULL });
	snprintf(expect, sizeof(expect),
		 "text create %s/my%%20dir/100%%25%%20guest.cfg\n", tmpdir);
	tap_ok(r.status == 0 && !strcmp(s.request, expect) &&
	       !strcmp(r.out, "created guest1\n"),
	       "create sends the absolute, escaped path (got %d, req '%s')",
	       r.status, flat(s.request));

	RUN(&r, "--socket", ctl_path, "create", "/nonexistent/guest.cfg");
	tap_ok(r.status == 1 && strstr(r.err, "cannot use config '/nonexistent/guest.cfg'") &&
	       !control_socket_touched(),
	       "create with a missing file: exit 1 before connecting (got %d: %s)",
	       r.status, flat(r.err));

	RUN(&r, "--socket", ctl_path, "create", dir);
	tap_ok(r.status == 1 && strstr(r.err, "not a regular file") &&
	       !control_socket_touched(),
	       "create with a directory: exit 1 (got %d: %s)", r.status, flat(r.err));
}

/* save and restore send absolute paths; restore fills its optional ones. */
static void test_save_restore_wire(void)
{
	char file[200], expect[400];
	struct fake_server s;
	struct run r;
	int fd;

	snprintf(file, sizeof(file), "%s/g1.save", tmpdir);
	run_served(&r, &s, "ok\n", tmpdir,
		   (const char *const[]){ "save", "--json", "g1", "g1.save", NULL });
	snprintf(expect, sizeof(expect), "json save g1 %s\n", file);
	tap_ok(r.status == 0 && !strcmp(s.request, expect),
	       "save sends the file's absolute path, which need not exist (got %d, req '%s')",
	       r.status, flat(s.request));
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0)
		close(fd);
	run_served(&r, &s, "ok\n", tmpdir,
		   (const char *const[]){ "restore", "--stopped-time", "slew:500",
					  "./g1.save", NULL });
	snprintf(expect, sizeof(expect), "text restore %s - slew:500\n", file);
	tap_ok(r.status == 0 && !strcmp(s.request, expect),
	       "restore sends FILE, '-' for no CONFIG, and the policy (got %d, req '%s')",
	       r.status, flat(s.request));
	RUN(&r, "--socket", ctl_path, "restore", "/nonexistent/g1.save");
	tap_ok(r.status == 1 && strstr(r.err, "cannot use '/nonexistent/g1.save'") &&
	       !control_socket_touched(),
	       "restore of a missing file: exit 1 before connecting (got %d: %s)",
	       r.status, flat(r.err));
	unlink(file);
}

/* pvxl migrate's mode options; without --json pvtimed answers in text. */
static const struct migrate_mode_case {
	const char *options[2];		/* the second may be NULL */
	const char *reply, *mode, *progress, *result;
} migrate_modes[] = {
	{ { "--live", NULL },
	  "ok\nmode: live\ndowntime_ns: 30000000\nelapsed_ns: 1300000000\n",
	  "live", "the guest running",
	  "(live migration; stopped at most 30 ms, 1300 ms in all)" },
	{ { "--stopped", "--stopped" },
	  "ok\nmode: stopped\ndowntime_ns: 1100000000\nelapsed_ns: 1300000000\n",
	  "stopped", "the guest stopped",
	  "(stopped migration; stopped at most 1100 ms, 1300 ms in all)" },
};

/* migrate sends DEST's absolute path; DEST must be a socket. */
static void test_migrate_wire(void)
{
	char expect[400], file[200];
	struct fake_server s;
	struct run r;
	size_t i;
	int fd;

	run_served(&r, &s, "ok\n{\"downtime_ns\":12000000,\"elapsed_ns\":480000000}\n",
		   tmpdir, (const char *const[]){ "migrate", "--json", "g1",
						  "./control.sock", NULL });
	snprintf(expect, sizeof(expect), "json migrate g1 %s\n", ctl_path);
	tap_ok(r.status == 0 && !strcmp(s.request, expect) &&
	       !strcmp(r.out, "{\"downtime_ns\":12000000,\"elapsed_ns\":480000000}\n") &&
	       strstr(r.err, "pvxl: migrate: moving g1 to the pvtimed at ") &&
	       strstr(r.err, "(stopped at most 12 ms, 480 ms in all)"),
	       "migrate sends DEST's absolute path, prints the body, progress on stderr (got %d, req '%s', out '%s', err '%s')",
	       r.status, flat(s.request), flat(r.out), flat(r.err));
	run_served(&r, &s, "error 1 domain 'g1': QEMU's migration failed: x; domain 'g1' runs on here\n",
		   tmpdir, (const char *const[]){ "migrate", "g1", ctl_path, NULL });
	tap_ok(r.status == 1 && !*r.out &&
	       strstr(r.err, "pvxl: domain 'g1': QEMU's migration failed: x; domain 'g1' runs on here"),
	       "migrate refused by pvtimed: exit 1, its message (got %d: %s)",
	       r.status, flat(r.err));
	for (i = 0; i < sizeof(migrate_modes) / sizeof(migrate_modes[0]); i++) {
		const struct migrate_mode_case *c = &migrate_modes[i];
		const char *args[6] = { "migrate", c->options[0] };
		int n = 2;

		if (c->options[1])
			args[n++] = c->options[1];
		args[n++] = "g1";
		args[n] = ctl_path;
		run_served(&r, &s, c->reply, tmpdir, args);
		snprintf(expect, sizeof(expect), "text migrate g1 %s %s\n",
			 ctl_path, c->mode);
		tap_ok(r.status == 0 && !strcmp(s.request, expect) &&
		       strstr(r.err, c->progress) && strstr(r.err, c->result),
		       "migrate %s%s%s sends mode %s once and says what was done (got %d, req '%s', err '%s')",
		       c->options[0], c->options[1] ? " " : "",
		       c->options[1] ? c->options[1] : "", c->mode, r.status,
		       flat(s.request), flat(r.err));
	}
	RUN(&r, "--socket", ctl_path, "migrate", "g1", "/nonexistent/dest.sock");
	tap_ok(r.status == 1 && strstr(r.err, "cannot use destination '/nonexistent/dest.sock'") &&
	       !control_socket_touched(),
	       "migrate to a missing DEST: exit 1 before connecting (got %d: %s)",
	       r.status, flat(r.err));
	snprintf(file, sizeof(file), "%s/not-a-socket", tmpdir);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0)
		close(fd);
	RUN(&r, "--socket", ctl_path, "migrate", "g1", file);
	tap_ok(r.status == 1 && strstr(r.err, "is not a socket") &&
	       !control_socket_touched(),
	       "migrate to a DEST that is not a socket: exit 1 before connecting (got %d: %s)",
	       r.status, flat(r.err));
	unlink(file);
}

/* The domain's console: echo one line back in upper case, then hang up. */
static void test_console(void)
{
	char reply[200], socket_arg[160];
	struct fake_server ctl, con;
	int con_fd = listen_unix(console_path);
	struct run r;

	snprintf(reply, sizeof(reply), "ok\n%s\n", console_path);
	snprintf(socket_arg, sizeof(socket_arg), "--socket=%s", ctl_path);
	fake_start(&ctl, ctl_listen_fd, ctl_path, reply);
	fake_start(&con, con_fd, console_path, NULL);
	con.console_reply = "GUEST SAYS HI\r\n";
	run_pvxl(&r, "hello guest\n", NULL, NULL,
		 (const char *const[]){ socket_arg, "console", "guest1", NULL });
	fake_join(&ctl);
	fake_join(&con);
	close(con_fd);
	tap_ok(r.status == 0 && !strcmp(ctl.request, "text console guest1\n") &&
	       !strcmp(con.request, "hello guest\n") &&
	       !strcmp(r.out, "GUEST SAYS HI\r\n"),
	       "console relays stdin to the guest and the guest to stdout (got %d, in '%s', out '%s', err '%s')",
	       r.status, flat(con.request), flat(r.out), flat(r.err));

	fake_start(&ctl, ctl_listen_fd, ctl_path, "ok\n");
	run_pvxl(&r, NULL, NULL, NULL,
		 (const char *const[]){ socket_arg, "console", "guest1", NULL });
	fake_join(&ctl);
	tap_ok(r.status == 1 && strstr(r.err, "did not answer one console path"),
	       "console with an empty path reply: exit 1 (got %d: %s)", r.status, flat(r.err));

	fake_start(&ctl, ctl_listen_fd, ctl_path, "ok\n/nonexistent/console\n");
	run_pvxl(&r, NULL, NULL, NULL,
		 (const char *const[]){ socket_arg, "console", "guest1", NULL });
	fake_join(&ctl);
	tap_ok(r.status == 1 && strstr(r.err, "cannot connect to console of domain at /nonexistent/console"),
	       "console socket missing: exit 1 (got %d: %s)", r.status, flat(r.err));
}

static void cleanup(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
	pvxl = getenv("PVXL");
	if (!pvxl || access(pvxl, X_OK)) {
		printf("Bail out! set PVXL to the pvxl binary\n");
		return 1;
	}
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	/* A pvxl that hangs up early must fail a test, not kill the runner. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(ctl_path, sizeof(ctl_path), "%s/control.sock", tmpdir);
	snprintf(console_path, sizeof(console_path), "%s/guest1.console", tmpdir);
	ctl_listen_fd = listen_unix(ctl_path);

	tap_plan(46 + 18 + 2 + 12 + 6 + 3 + 3 + 3 + 3 + 3 + 6);
	test_usage_errors();
	test_help();
	test_cannot_connect();
	test_framing();
	test_set_wallclock_wire();
	test_inject_wire();
	test_pause_wire();
	test_create();
	test_save_restore_wire();
	test_migrate_wire();
	test_console();
	return tap_done();
}
