// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvxl: xl-like command line client of pvtimed.
 *
 *   pvxl [--socket PATH] COMMAND [ARGS...]
 *
 * Global options come before the command; each command parses its own.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdtable.h"
#include "commands.h"
#include "pvtime_abi.h"
#include "pvtime_ctl.h"

#define PVXL_VERSION	"0.1"

static int global_usage_error(const char *fmt, const char *arg)
{
	fputs("pvxl: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\ntry 'pvxl help'\n", stderr);
	return PVTIME_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct pvxl_context ctx = { .socket_path = NULL };
	const struct pvxl_command *cmd;
	struct pvxl_args args;
	const char *env;
	int i, rc;

	/* A closed stdout must give EPIPE and an error message, not death. */
	signal(SIGPIPE, SIG_IGN);

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *arg = argv[i];

		if (!strcmp(arg, "--")) {
			i++;
			break;
		} else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			pvxl_print_help(stdout, NULL);
			return PVTIME_EXIT_OK;
		} else if (!strcmp(arg, "--version") || !strcmp(arg, "-V")) {
			printf("pvxl %s (pvtime ABI %u)\n", PVXL_VERSION, PVTIME_ABI_VERSION);
			return PVTIME_EXIT_OK;
		} else if (!strcmp(arg, "--socket") || !strcmp(arg, "-s")) {
			if (i + 1 >= argc)
				return global_usage_error("%s needs a PATH", arg);
			ctx.socket_path = argv[++i];
		} else if (!strncmp(arg, "--socket=", 9)) {
			ctx.socket_path = arg + 9;
		} else {
			return global_usage_error("unknown option '%s'", arg);
		}
		if (!*ctx.socket_path)
			return global_usage_error("%sempty socket path", "");
	}
	if (i >= argc)
		return global_usage_error("%smissing COMMAND", "");

	if (!ctx.socket_path) {
		env = getenv(PVTIME_CTL_SOCKET_ENV);
		ctx.socket_path = env && *env ? env : PVTIME_CTL_DEFAULT_SOCKET;
	}

	cmd = pvxl_command_find(argv[i]);
	if (!cmd)
		return global_usage_error("unknown command '%s'", argv[i]);
	rc = pvxl_parse_args(cmd, argc - i, argv + i, &args);
	if (rc >= 0)
		return rc;
	return cmd->run(&ctx, cmd, &args);
}
