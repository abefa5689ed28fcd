// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "commands.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "control_client.h"
#include "drift_plot.h"
#include "pvtime_ctl.h"
#include "time_arg.h"

int pvxl_usage_error(const struct pvxl_command *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pvxl: %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\ntry 'pvxl help %s'\n", cmd->name);
	return PVTIME_EXIT_USAGE;
}

void pvxl_print_help(FILE *out, const struct pvxl_command *cmd)
{
	size_t i;

	if (cmd) {
		fprintf(out, "usage: pvxl %s %s\n\n%s\n", cmd->name, cmd->usage,
			cmd->summary);
		if (cmd->details)
			fprintf(out, "\n%s\n", cmd->details);
		return;
	}
	fprintf(out,
		"usage: pvxl [--socket PATH] COMMAND [ARGS...]\n"
		"\n"
		"Control the pvtime paravirtual time service (pvtimed).\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < pvxl_command_count; i++)
		fprintf(out, "  %-15s %s\n", pvxl_commands[i].name,
			pvxl_commands[i].summary);
	fprintf(out,
		"\n"
		"Global options:\n"
		"  --socket PATH   pvtimed's control socket (default: $%s,\n"
		"                  else %s)\n"
		"  --help          show this help\n"
		"  --version       show the version\n"
		"\n"
		"Run 'pvxl help COMMAND' for a command's usage.\n",
		PVTIME_CTL_SOCKET_ENV, PVTIME_CTL_DEFAULT_SOCKET);
}

static int call(const struct pvxl_context *ctx, const char *command, bool json,
		int argc, const char *const *argv)
{
	struct pvxl_request req = {
		.socket_path = ctx->socket_path,
		.json = json,
		.command = command,
		.argc = argc,
		.argv = argv,
	};

	return pvxl_ctl_call(&req, stdout);
}

/* Commands pvtimed runs as they are: the arguments go through unchanged. */
PVXL_COMMAND_HANDLER(pvxl_cmd_forward)
{
	return call(ctx, cmd->name, a->json, a->count,
		    (const char *const *)a->pos);
}

PVXL_COMMAND_HANDLER(pvxl_cmd_create)
{
	char path[PATH_MAX];
	const char *arg[1] = { path };
	struct stat st;

	(void)cmd;
	/* pvtimed runs elsewhere (another cwd): it needs the absolute path. */
	if (!realpath(a->pos[0], path)) {
		fprintf(stderr, "pvxl: create: cannot use config '%s': %s\n",
			a->pos[0], strerror(errno));
		return PVTIME_EXIT_FAILURE;
	}
	if (stat(path, &st) || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "pvxl: create: config '%s' is not a regular file\n",
			a->pos[0]);
		return PVTIME_EXIT_FAILURE;
	}
	return call(ctx, "create", false, 1, arg);
}

/* FILE made absolute for pvtimed; the file need not exist yet. */
static int absolute_file(const struct pvxl_command *cmd, const char *arg,
			 char *out, size_t outlen)
{
	char dir[PATH_MAX], resolved[PATH_MAX];
	const char *slash = strrchr(arg, '/');
	const char *base = slash ? slash + 1 : arg;

	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		fprintf(stderr, "pvxl: %s: '%s' names a directory, not a file\n",
			cmd->name, arg);
		return PVTIME_EXIT_USAGE;
	}
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == arg)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - arg), arg);
	if (!realpath(dir, resolved)) {
		fprintf(stderr, "pvxl: %s: cannot use '%s': %s\n", cmd->name, arg,
			strerror(errno));
		return PVTIME_EXIT_FAILURE;
	}
	if ((size_t)snprintf(out, outlen, "%s/%s",
			     strcmp(resolved, "/") ? resolved : "", base) >= outlen) {
		fprintf(stderr, "pvxl: %s: path too long: '%s'\n", cmd->name, arg);
		return PVTIME_EXIT_USAGE;
	}
	return PVTIME_EXIT_OK;
}

PVXL_COMMAND_HANDLER(pvxl_cmd_save)
{
	char path[PATH_MAX];
	const char *wire[2] = { a->pos[0], path };
	int rc = absolute_file(cmd, a->pos[1], path, sizeof(path));

	if (rc != PVTIME_EXIT_OK)
		return rc;
	return call(ctx, "save", a->json, 2, wire);
}

/* step, keep or slew:PPM (PPM 1..1000000 digits; pvtimed checks the range). */
static bool policy_syntax_ok(const char *p)
{
	if (!strcmp(p, "step") || !strcmp(p, "keep"))
		return true;
	if (strncmp(p, "slew:", 5) || !p[5] || strlen(p + 5) > 7)
		return false;
	for (p += 5; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

PVXL_COMMAND_HANDLER(pvxl_cmd_restore)
{
	char file[PATH_MAX], config[PATH_MAX];
	const char *wire[3] = { file, "-", "-" };
	struct stat st;

	if (a->stopped_time && !policy_syntax_ok(a->stopped_time))
		return pvxl_usage_error(cmd, "unknown stopped-time policy '%s' (step, slew:PPM or keep)",
					a->stopped_time);
	if (!realpath(a->pos[0], file)) {
		fprintf(stderr, "pvxl: restore: cannot use '%s': %s\n", a->pos[0],
			strerror(errno));
		return PVTIME_EXIT_FAILURE;
	}
	if (stat(file, &st) || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "pvxl: restore: '%s' is not a regular file\n",
			a->pos[0]);
		return PVTIME_EXIT_FAILURE;
	}
	if (a->count > 1) {
		if (!realpath(a->pos[1], config)) {
			fprintf(stderr, "pvxl: restore: cannot use config '%s': %s\n",
				a->pos[1], strerror(errno));
			return PVTIME_EXIT_FAILURE;
		}
		wire[1] = config;
	}
	if (a->stopped_time)
		wire[2] = a->stopped_time;
	return call(ctx, "restore", a->json, 3, wire);
}

/*
 * Where key's value starts in the reply body, text ("key: v" on a line of
 * its own, maybe indented) or JSON ("key":v); NULL if none.  Not a key
 * that only ends in key ("state" in "xstate").
 */
static const char *body_value_at(const char *body, const char *key)
{
	size_t n = strlen(key);
	const char *p;

	for (p = body ? strstr(body, key) : NULL; p; p = strstr(p + 1, key))
		if ((p == body || strchr("\n\" ", p[-1])) &&
		    (p[n] == ':' || p[n] == '"'))
			break;
	if (!p)
		return NULL;
	p += n;
	while (*p == '"' || *p == ':' || *p == ' ')
		p++;
	return p;
}

/* A figure of the reply body, text ("key: N") or JSON ("key":N); -1 if none. */
static long long body_number(const char *body, const char *key)
{
	const char *p = body_value_at(body, key);

	return p && *p >= '0' && *p <= '9' ? strtoll(p, NULL, 10) : -1;
}

/* Whether key's value is word: text ("key: word") or JSON ("key":"word"). */
static bool body_is(const char *body, const char *key, const char *word)
{
	const char *p = body_value_at(body, key);
	size_t n = strlen(word);

	return p && !strncmp(p, word, n) &&
	       (p[n] == '"' || p[n] == '\n' || !p[n]);
}

PVXL_COMMAND_HANDLER(pvxl_cmd_migrate)
{
	struct pvxl_request req = {
		.socket_path = ctx->socket_path,
		.json = a->json,
		.command = "migrate",
		.argc = a->migrate_mode ? 3 : 2,
	};
	char dest[PATH_MAX], *body = NULL;
	const char *wire[3] = { a->pos[0], dest, a->migrate_mode };
	size_t body_len = 0;
	long long downtime, elapsed;
	struct stat st;
	FILE *mem;
	int rc;

	(void)cmd;
	/* pvtimed runs elsewhere (another cwd): it needs the absolute path. */
	if (!realpath(a->pos[1], dest)) {
		fprintf(stderr, "pvxl: migrate: cannot use destination '%s': %s\n",
			a->pos[1], strerror(errno));
		return PVTIME_EXIT_FAILURE;
	}
	if (stat(dest, &st) || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "pvxl: migrate: destination '%s' is not a socket (a pvtimed's control socket)\n",
			a->pos[1]);
		return PVTIME_EXIT_FAILURE;
	}
	req.argv = wire;
	mem = open_memstream(&body, &body_len);
	if (!mem) {
		fprintf(stderr, "pvxl: migrate: %s\n", strerror(errno));
		return PVTIME_EXIT_FAILURE;
	}
	fprintf(stderr, "pvxl: migrate: moving %s to the pvtimed at %s, %s (a few seconds)\n",
		a->pos[0], dest,
		!a->migrate_mode ? "live on kvm, stopped on tcg" :
		!strcmp(a->migrate_mode, "live") ? "the guest running" :
						   "the guest stopped");
	rc = pvxl_ctl_call(&req, mem);
	fclose(mem);
	if (body && body_len)
		fwrite(body, 1, body_len, stdout);
	if (rc == PVTIME_EXIT_OK) {
		const char *how = body_is(body, "mode", "live") ?
				  "live migration; " :
				  body_is(body, "mode", "stopped") ?
				  "stopped migration; " : "";

		downtime = body_number(body, "downtime_ns");
		elapsed = body_number(body, "elapsed_ns");
		fprintf(stderr, "pvxl: migrate: %s runs at %s (%sstopped at most %lld ms, %lld ms in all)\n",
			a->pos[0], dest, how, downtime / 1000000,
			elapsed / 1000000);
	}
	free(body);
	return rc;
}

/* The console's socket path is the reply body, one line. */
PVXL_COMMAND_HANDLER(pvxl_cmd_console)
{
	struct pvxl_request req = {
		.socket_path = ctx->socket_path,
		.command = "console",
		.argc = 1,
	};
	char *body = NULL;
	size_t body_len = 0;
	FILE *capture;
	int rc;

	(void)cmd;
	req.argv = (const char *const *)a->pos;
	capture = open_memstream(&body, &body_len);
	if (!capture) {
		fprintf(stderr, "pvxl: console: %s\n", strerror(errno));
		return PVTIME_EXIT_FAILURE;
	}
	rc = pvxl_ctl_call(&req, capture);
	fclose(capture);
	if (rc == PVTIME_EXIT_OK) {
		if (body_len && body[body_len - 1] == '\n')
			body[--body_len] = '\0';
		if (!body_len || strchr(body, '\n')) {
			fprintf(stderr, "pvxl: console: pvtimed did not answer one console path\n");
			rc = PVTIME_EXIT_FAILURE;
		} else {
			rc = pvxl_console_relay(a->pos[0], body);
		}
	}
	free(body);
	return rc;
}

PVXL_COMMAND_HANDLER(pvxl_cmd_set_wallclock)
{
	struct pvxl_time t;
	char why[160], ns[32];
	const char *wire[3];
	const char *target, *time_text;
	int n = 0;

	if (a->all && a->count == 2)
		return pvxl_usage_error(cmd, "give either DOM or --all, not both");
	if (!a->all && a->count == 1)
		return pvxl_usage_error(cmd, "missing DOM or --all before TIME '%s'",
					a->pos[0]);
	target = a->all ? "--all" : a->pos[0];
	time_text = a->pos[a->count - 1];
	if (pvxl_time_parse(time_text, &t, why, sizeof(why)))
		return pvxl_usage_error(cmd, "bad TIME '%s': %s", time_text, why);

	wire[n++] = target;
	switch (t.kind) {
	case PVXL_TIME_FOLLOW_HOST:
		wire[n++] = "host";
		break;
	case PVXL_TIME_ABSOLUTE:
	case PVXL_TIME_RELATIVE:
		wire[n++] = t.kind == PVXL_TIME_ABSOLUTE ? "abs" : "rel";
		snprintf(ns, sizeof(ns), "%" PRId64, t.ns);
		wire[n++] = ns;
		break;
	}
	return call(ctx, "set-wallclock", false, n, wire);
}

/* Modes pvtimed's inject knows; it validates their arguments. */
static const char *const inject_modes[] = {
	"storm", "skew", "freq-step", "reanchor", "odd", "guest-stopped", "clear",
	"clock-status-off", "clock-status-odd", "jump",
};

PVXL_COMMAND_HANDLER(pvxl_cmd_inject)
{
	size_t i;

	for (i = 0; i < sizeof(inject_modes) / sizeof(inject_modes[0]); i++)
		if (!strcmp(a->pos[1], inject_modes[i]))
			break;
	if (i == sizeof(inject_modes) / sizeof(inject_modes[0]))
		return pvxl_usage_error(cmd, "unknown mode '%s'", a->pos[1]);
	return call(ctx, "inject", a->json, a->count, (const char *const *)a->pos);
}

PVXL_COMMAND_HANDLER(pvxl_cmd_help)
{
	const struct pvxl_command *target;

	(void)ctx;
	if (!a->count) {
		pvxl_print_help(stdout, NULL);
		return PVTIME_EXIT_OK;
	}
	target = pvxl_command_find(a->pos[0]);
	if (!target)
		return pvxl_usage_error(cmd, "unknown command '%s'", a->pos[0]);
	pvxl_print_help(stdout, target);
	return PVTIME_EXIT_OK;
}

/*
 * The SVG of --plot, from the JSON body of one "drift" request; the file
 * is written whole or not at all (a temporary beside it, renamed).
 */
static int write_drift_plot(const struct pvxl_context *ctx,
			    const struct pvxl_command *cmd, const char *dom,
			    const char *path)
{
	struct pvxl_request req = {
		.socket_path = ctx->socket_path, .json = true,
		.command = cmd->name, .argc = 1, .argv = &dom,
	};
	char tmp[PATH_MAX], why[128];
	char *body = NULL;
	size_t len = 0;
	FILE *mem, *out;
	int ret, n;

	mem = open_memstream(&body, &len);
	if (!mem) {
		fprintf(stderr, "pvxl: %s: %s\n", cmd->name, strerror(errno));
		return PVTIME_EXIT_FAILURE;
	}
	ret = pvxl_ctl_call(&req, mem);
	fclose(mem);
	if (ret) {
		free(body);
		return ret;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		free(body);
		return pvxl_usage_error(cmd, "path too long: '%s'", path);
	}
	out = fopen(tmp, "w");
	if (!out) {
		fprintf(stderr, "pvxl: %s: cannot write '%s': %s\n", cmd->name,
			path, strerror(errno));
		free(body);
		return PVTIME_EXIT_FAILURE;
	}
	n = drift_plot_svg(body, out, why, sizeof(why));
	free(body);
	if (fclose(out) || n < 0 || rename(tmp, path)) {
		fprintf(stderr, "pvxl: %s: cannot write '%s': %s\n", cmd->name,
			path, n < 0 ? why : strerror(errno));
		unlink(tmp);
		return PVTIME_EXIT_FAILURE;
	}
	fprintf(stderr, "pvxl: %s: wrote %s (%d samples)\n", cmd->name, path, n);
	return PVTIME_EXIT_OK;
}

PVXL_COMMAND_HANDLER(pvxl_cmd_drift)
{
	int ret;

	if (a->plot) {
		ret = write_drift_plot(ctx, cmd, a->pos[0], a->plot);
		if (ret)
			return ret;
	}
	return call(ctx, cmd->name, a->json, 1, (const char *const *)a->pos);
}
