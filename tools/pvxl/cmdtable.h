/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pvxl's command table: every command's name, handler, one-line summary
 * and usage live in one place, so dispatch and help cannot disagree.
 */
#ifndef PVXL_CMDTABLE_H
#define PVXL_CMDTABLE_H

#include <stddef.h>

struct pvxl_context {
	const char *socket_path;	/* resolved control socket of pvtimed */
};

struct pvxl_command {
	const char *name;
	/* argv[0] is the command name; returns the process exit code. */
	int (*run)(const struct pvxl_context *ctx, const struct pvxl_command *cmd,
		   int argc, char **argv);
	const char *summary;		/* one line, for 'pvxl help' */
	const char *usage;		/* arguments after 'pvxl NAME' */
	const char *details;		/* options and notes, for 'pvxl help NAME' */
};

extern const struct pvxl_command pvxl_commands[];
extern const size_t pvxl_command_count;

const struct pvxl_command *pvxl_command_find(const char *name);

#endif /* PVXL_CMDTABLE_H */
