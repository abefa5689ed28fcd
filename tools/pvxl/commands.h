/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Handlers of pvxl's commands (see cmdtable.c for what each one is). */
#ifndef PVXL_COMMANDS_H
#define PVXL_COMMANDS_H

#include <stdio.h>

#include "cmdtable.h"

#define PVXL_COMMAND_HANDLER(fn) \
	int fn(const struct pvxl_context *ctx, const struct pvxl_command *cmd, \
	       int argc, char **argv)

PVXL_COMMAND_HANDLER(pvxl_cmd_create);
PVXL_COMMAND_HANDLER(pvxl_cmd_list);
PVXL_COMMAND_HANDLER(pvxl_cmd_destroy);
PVXL_COMMAND_HANDLER(pvxl_cmd_pause);
PVXL_COMMAND_HANDLER(pvxl_cmd_unpause);
PVXL_COMMAND_HANDLER(pvxl_cmd_console);
PVXL_COMMAND_HANDLER(pvxl_cmd_info);
PVXL_COMMAND_HANDLER(pvxl_cmd_set_wallclock);
PVXL_COMMAND_HANDLER(pvxl_cmd_host_info);
PVXL_COMMAND_HANDLER(pvxl_cmd_inject);
PVXL_COMMAND_HANDLER(pvxl_cmd_help);

/* Usage error for a command: message, hint, returns PVTIME_EXIT_USAGE. */
__attribute__((format(printf, 2, 3)))
int pvxl_usage_error(const struct pvxl_command *cmd, const char *fmt, ...);

/* Full help of one command (or all, cmd == NULL) on 'out'. */
void pvxl_print_help(FILE *out, const struct pvxl_command *cmd);

#endif /* PVXL_COMMANDS_H */
