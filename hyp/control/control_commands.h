/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The control commands: a table of name, usage and handler. */
#ifndef PVTIMED_CONTROL_COMMANDS_H
#define PVTIMED_CONTROL_COMMANDS_H

#include <stddef.h>

#include "core/emit.h"

struct control_command {
	const char *name;
	int min_args;
	int max_args;
	const char *usage;	/* arguments after the command name */
	/* Returns a PVTIME_EXIT_* code; on failure err holds one line. */
	int (*handler)(int argc, char **argv, struct emit *e, char *err,
		       size_t errlen);
};

const struct control_command *control_command_find(const char *name);

#endif /* PVTIMED_CONTROL_COMMANDS_H */
