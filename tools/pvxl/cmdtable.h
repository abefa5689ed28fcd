/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pvxl's command table: every command's name, handler, the options and
 * number of arguments it takes, one-line summary and usage live in one
 * place (as xl's xl_cmdtable.c), so dispatch, argument checks, help and
 * the bash completion (which reads 'pvxl help') cannot disagree.
 */
#ifndef PVXL_CMDTABLE_H
#define PVXL_CMDTABLE_H

#include <stdbool.h>
#include <stddef.h>

struct pvxl_context {
	const char *socket_path;	/* resolved control socket of pvtimed */
};

/* Options a command may take besides --help. */
#define PVXL_OPT_JSON	(1u << 0)	/* --json: machine-readable output */
#define PVXL_OPT_ALL	(1u << 1)	/* --all: every domain */
#define PVXL_OPT_STOPPED (1u << 2)	/* --stopped-time POLICY */
#define PVXL_OPT_PLOT	(1u << 3)	/* --plot FILE.svg */
#define PVXL_OPT_MIGRATE_MODE (1u << 4)	/* --live, --stopped */

#define PVXL_ARGS_MAX	4

/* A command's arguments, checked against its row (args.c). */
struct pvxl_args {
	bool json;
	bool all;
	const char *stopped_time;	/* --stopped-time's value, or NULL */
	const char *plot;		/* --plot's FILE, or NULL */
	const char *migrate_mode;	/* "live", "stopped" or NULL (auto) */
	int count;
	char *pos[PVXL_ARGS_MAX];
};

struct pvxl_command {
	const char *name;
	/* Returns the process exit code. */
	int (*run)(const struct pvxl_context *ctx, const struct pvxl_command *cmd,
		   const struct pvxl_args *a);
	unsigned int options;		/* PVXL_OPT_* */
	int min_args, max_args;		/* positional arguments */
	const char *summary;		/* one line, for 'pvxl help' */
	const char *usage;		/* arguments after 'pvxl NAME' */
	const char *details;		/* options and notes, for 'pvxl help NAME' */
};

extern const struct pvxl_command pvxl_commands[];
extern const size_t pvxl_command_count;

const struct pvxl_command *pvxl_command_find(const char *name);

/*
 * Options and positionals of one command (argv[0] is its name), per its
 * row.  "-1h" is a positional (a negative offset), not an option.
 * Returns -1 to go on, otherwise the exit code the command must return
 * (help shown, or a usage error).
 */
int pvxl_parse_args(const struct pvxl_command *cmd, int argc, char **argv,
		    struct pvxl_args *a);

#endif /* PVXL_CMDTABLE_H */
