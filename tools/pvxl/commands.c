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

#include "console.h"
#include "control_client.h"
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

#define OPT_JSON	(1u << 0)
#define OPT_ALL		(1u << 1)

struct command_args {
	bool json;
	bool all;
	int count;
	char *pos[4];
};

/*
 * Options and positionals of one command.  "-1h" is a positional (a
 * negative offset), not an option.  Returns -1 to go on, otherwise the
 * exit code the command must return (help shown, or a usage error).
 */
static int parse_command_args(const struct pvxl_command *cmd, int argc,
			      char **argv, unsigned int allowed, int min_pos,
			      int max_pos, struct command_args *a)
{
	bool options_done = false;
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		bool is_option = !options_done && arg[0] == '-' && arg[1] &&
				 !(arg[1] >= '0' && arg[1] <= '9');

		if (is_option && !strcmp(arg, "--")) {
			options_done = true;
		} else if (is_option && (!strcmp(arg, "--help") || !strcmp(arg, "-h"))) {
			pvxl_print_help(stdout, cmd);
			return PVTIME_EXIT_OK;
		} else if (is_option && (allowed & OPT_JSON) && !strcmp(arg, "--json")) {
			a->json = true;
		} else if (is_option && (allowed & OPT_ALL) && !strcmp(arg, "--all")) {
			a->all = true;
		} else if (is_option) {
			return pvxl_usage_error(cmd, "unknown option '%s'", arg);
		} else if (!*arg) {
			return pvxl_usage_error(cmd, "empty argument");
		} else if (a->count == max_pos) {
			return pvxl_usage_error(cmd, "unexpected argument '%s'", arg);
		} else {
			a->pos[a->count++] = argv[i];
		}
	}
	if (a->count < min_pos)
		return pvxl_usage_error(cmd, "missing argument (usage: pvxl %s %s)",
					cmd->name, cmd->usage);
	return -1;
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

PVXL_COMMAND_HANDLER(pvxl_cmd_create)
{
	struct command_args a;
	char path[PATH_MAX];
	const char *arg[1] = { path };
	struct stat st;
	int rc = parse_command_args(cmd, argc, argv, 0, 1, 1, &a);

	if (rc >= 0)
		return rc;
	/* pvtimed runs elsewhere (another cwd): it needs the absolute path. */
	if (!realpath(a.pos[0], path)) {
		fprintf(stderr, "pvxl: create: cannot use config '%s': %s\n",
			a.pos[0], strerror(errno));
		return PVTIME_EXIT_FAILURE;
	}
	if (stat(path, &st) || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "pvxl: create: config '%s' is not a regular file\n",
			a.pos[0]);
		return PVTIME_EXIT_FAILURE;
	}
	return call(ctx, "create", false, 1, arg);
}

PVXL_COMMAND_HANDLER(pvxl_cmd_list)
{
	struct command_args a;
	int rc = parse_command_args(cmd, argc, argv, OPT_JSON, 0, 0, &a);

	if (rc >= 0)
		return rc;
	return call(ctx, "list", a.json, 0, NULL);
}

PVXL_COMMAND_HANDLER(pvxl_cmd_destroy)
{
	struct command_args a;
	int rc = parse_command_args(cmd, argc, argv, 0, 1, 1, &a);

	if (rc >= 0)
		return rc;
	return call(ctx, "destroy", false, 1, (const char *const *)a.pos);
}

PVXL_COMMAND_HANDLER(pvxl_cmd_pause)
{
	struct command_args a;
	int rc = parse_command_args(cmd, argc, argv, OPT_JSON, 1, 1, &a);

	if (rc >= 0)
		return rc;
	return call(ctx, "pause", a.json, 1, (const char *const *)a.pos);
}

PVXL_COMMAND_HANDLER(pvxl_cmd_unpause)
{
	struct command_args a;
	int rc = parse_command_args(cmd, argc, argv, OPT_JSON, 1, 2, &a);

	if (rc >= 0)
		return rc;
	return call(ctx, "unpause", a.json, a.count, (const char *const *)a.pos);
}

PVXL_COMMAND_HANDLER(pvxl_cmd_info)
{
	struct command_args a;
	int rc = parse_command_args(cmd, argc, argv, OPT_JSON, 1, 1, &a);

	if (rc >= 0)
		return rc;
	return call(ctx, "info", a.json, 1, (const char *const *)a.pos);
}

PVXL_COMMAND_HANDLER(pvxl_cmd_host_info)
{
	struct command_args a;
	int rc = parse_command_args(cmd, argc, argv, OPT_JSON, 0, 0, &a);

	if (rc >= 0)
		return rc;
	return call(ctx, "host-info", a.json, 0, NULL);
}

/* The console's socket path is the reply body, one line. */
PVXL_COMMAND_HANDLER(pvxl_cmd_console)
{
	struct command_args a;
	struct pvxl_request req = {
		.socket_path = ctx->socket_path,
		.command = "console",
		.argc = 1,
	};
	char *body = NULL;
	size_t body_len = 0;
	FILE *capture;
	int rc = parse_command_args(cmd, argc, argv, 0, 1, 1, &a);

	if (rc >= 0)
		return rc;
	req.argv = (const char *const *)a.pos;
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
			rc = pvxl_console_relay(a.pos[0], body);
		}
	}
	free(body);
	return rc;
}

PVXL_COMMAND_HANDLER(pvxl_cmd_set_wallclock)
{
	struct command_args a;
	struct pvxl_time t;
	char why[160], ns[32];
	const char *wire[3];
	const char *target, *time_text;
	int n = 0;
	int rc = parse_command_args(cmd, argc, argv, OPT_ALL, 1, 2, &a);

	if (rc >= 0)
		return rc;
	if (a.all && a.count == 2)
		return pvxl_usage_error(cmd, "give either DOM or --all, not both");
	if (!a.all && a.count == 1)
		return pvxl_usage_error(cmd, "missing DOM or --all before TIME '%s'",
					a.pos[0]);
	target = a.all ? "--all" : a.pos[0];
	time_text = a.pos[a.count - 1];
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
	"clock-status-off", "clock-status-odd",
};

PVXL_COMMAND_HANDLER(pvxl_cmd_inject)
{
	struct command_args a;
	size_t i;
	int rc = parse_command_args(cmd, argc, argv, OPT_JSON, 2, 4, &a);

	if (rc >= 0)
		return rc;
	for (i = 0; i < sizeof(inject_modes) / sizeof(inject_modes[0]); i++)
		if (!strcmp(a.pos[1], inject_modes[i]))
			break;
	if (i == sizeof(inject_modes) / sizeof(inject_modes[0]))
		return pvxl_usage_error(cmd, "unknown mode '%s'", a.pos[1]);
	return call(ctx, "inject", a.json, a.count, (const char *const *)a.pos);
}

PVXL_COMMAND_HANDLER(pvxl_cmd_help)
{
	const struct pvxl_command *target;
	struct command_args a;
	int rc = parse_command_args(cmd, argc, argv, 0, 0, 1, &a);

	(void)ctx;
	if (rc >= 0)
		return rc;
	if (!a.count) {
		pvxl_print_help(stdout, NULL);
		return PVTIME_EXIT_OK;
	}
	target = pvxl_command_find(a.pos[0]);
	if (!target)
		return pvxl_usage_error(cmd, "unknown command '%s'", a.pos[0]);
	pvxl_print_help(stdout, target);
	return PVTIME_EXIT_OK;
}
