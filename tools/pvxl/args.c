// SPDX-License-Identifier: GPL-2.0 OR MIT
/* A command's arguments, checked against its row of the command table. */
#include <string.h>

#include "cmdtable.h"
#include "commands.h"
#include "pvtime_ctl.h"

int pvxl_parse_args(const struct pvxl_command *cmd, int argc, char **argv,
		    struct pvxl_args *a)
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
		} else if (is_option && (cmd->options & PVXL_OPT_JSON) &&
			   !strcmp(arg, "--json")) {
			a->json = true;
		} else if (is_option && (cmd->options & PVXL_OPT_ALL) &&
			   !strcmp(arg, "--all")) {
			a->all = true;
		} else if (is_option && (cmd->options & PVXL_OPT_STOPPED) &&
			   !strncmp(arg, "--stopped-time", 14) &&
			   (arg[14] == '=' || !arg[14])) {
			if (arg[14] == '=') {
				a->stopped_time = arg + 15;
			} else if (i + 1 < argc) {
				a->stopped_time = argv[++i];
			} else {
				return pvxl_usage_error(cmd, "--stopped-time needs a POLICY");
			}
			if (!*a->stopped_time)
				return pvxl_usage_error(cmd, "--stopped-time needs a POLICY");
		} else if (is_option && (cmd->options & PVXL_OPT_MIGRATE_MODE) &&
			   (!strcmp(arg, "--live") || !strcmp(arg, "--stopped"))) {
			if (a->migrate_mode && strcmp(a->migrate_mode, arg + 2))
				return pvxl_usage_error(cmd, "--live and --stopped exclude each other");
			a->migrate_mode = arg + 2;
		} else if (is_option && (cmd->options & PVXL_OPT_PLOT) &&
			   !strncmp(arg, "--plot", 6) && (arg[6] == '=' || !arg[6])) {
			if (arg[6] == '=')
				a->plot = arg + 7;
			else if (i + 1 < argc)
				a->plot = argv[++i];
			if (!a->plot || !*a->plot)
				return pvxl_usage_error(cmd, "--plot needs a FILE (FILE.svg)");
			if (strlen(a->plot) < 5 ||
			    strcmp(a->plot + strlen(a->plot) - 4, ".svg"))
				return pvxl_usage_error(cmd, "--plot writes SVG: FILE must end in .svg, not '%s'",
							a->plot);
		} else if (is_option) {
			return pvxl_usage_error(cmd, "unknown option '%s'", arg);
		} else if (!*arg) {
			return pvxl_usage_error(cmd, "empty argument");
		} else if (a->count == cmd->max_args) {
			return pvxl_usage_error(cmd, "unexpected argument '%s'", arg);
		} else {
			a->pos[a->count++] = argv[i];
		}
	}
	if (a->count < cmd->min_args)
		return pvxl_usage_error(cmd, "missing argument (usage: pvxl %s %s)",
					cmd->name, cmd->usage);
	return -1;
}
