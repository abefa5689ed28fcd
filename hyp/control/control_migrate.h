/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pvxl migrate's control commands (control_migrate.c): "migrate" on the
 * source, the three the source sends the destination pvtimed.
 */
#ifndef PVTIMED_CONTROL_MIGRATE_H
#define PVTIMED_CONTROL_MIGRATE_H

#include <stddef.h>

#include "core/emit.h"

/* The version of the pvtimed-to-pvtimed requests; both must speak it. */
#define PVTIME_MIGRATE_PROTOCOL_STR	"1"

int cmd_migrate(int argc, char **argv, struct emit *e, char *err,
		size_t errlen);
int cmd_migrate_prepare(int argc, char **argv, struct emit *e, char *err,
			size_t errlen);
int cmd_migrate_finish(int argc, char **argv, struct emit *e, char *err,
		       size_t errlen);
int cmd_migrate_abort(int argc, char **argv, struct emit *e, char *err,
		      size_t errlen);

struct domain_restore_result;
/*
 * What restore and migrate-finish answer about the domain they brought
 * back (a migration is a restore from a socket); file NULL: not from one.
 */
void emit_restored_domain(struct emit *e,
			  const struct domain_restore_result *res,
			  const char *file);

#endif /* PVTIMED_CONTROL_MIGRATE_H */
