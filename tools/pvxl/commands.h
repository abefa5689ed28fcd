/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Handlers of pvxl's commands (see cmdtable.c for what each one is). */
#ifndef PVXL_COMMANDS_H
#define PVXL_COMMANDS_H

#include <stdio.h>

#include "cmdtable.h"

/* a holds what pvxl_parse_args() accepted for cmd's row. */
#define PVXL_COMMAND_HANDLER(fn) \
	int fn(const struct pvxl_context *ctx, const struct pvxl_command *cmd, \
	       const struct pvxl_args *a)

/* list, destroy, pause, unpause, info, host-info: sent as they are. */
PVXL_COMMAND_HANDLER(pvxl_cmd_forward);
PVXL_COMMAND_HANDLER(pvxl_cmd_create);
PVXL_COMMAND_HANDLER(pvxl_cmd_save);
PVXL_COMMAND_HANDLER(pvxl_cmd_restore);
PVXL_COMMAND_HANDLER(pvxl_cmd_migrate);
PVXL_COMMAND_HANDLER(pvxl_cmd_console);
PVXL_COMMAND_HANDLER(pvxl_cmd_set_wallclock);
PVXL_COMMAND_HANDLER(pvxl_cmd_inject);
PVXL_COMMAND_HANDLER(pvxl_cmd_drift);
PVXL_COMMAND_HANDLER(pvxl_cmd_help);

/* Usage error for a command: message, hint, returns PVTIME_EXIT_USAGE. */
__attribute__((format(printf, 2, 3)))
int pvxl_usage_error(const struct pvxl_command *cmd, const char *fmt, ...);

/* Full help of one command (or all, cmd == NULL) on 'out'. */
void pvxl_print_help(FILE *out, const struct pvxl_command *cmd);

#endif /* PVXL_COMMANDS_H */
