/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What domain.c shares with domain_adopt.c, and nobody else: the table,
 * per-domain paths, and the callbacks a served domain is wired to.
 */
#ifndef PVTIMED_DOMAIN_PRIV_H
#define PVTIMED_DOMAIN_PRIV_H

#include "domain/domain.h"

/* STATE_DIR/NAME + suffix, malloc'd; NULL on ENOMEM. */
char *domain_state_path(const char *name, const char *suffix);
const char *domain_state_dir(void);

/* Every path of a domain named by d->cfg.name.  0 or -ENOMEM. */
int domain_set_paths(struct domain *d);

/* Keep the config's text beside the state (the original may change). */
int domain_keep_config(struct domain *d, const char *text, char *err,
		       size_t errlen);

/* Append to the table; takes domid's place in the numbering. */
void domain_table_add(struct domain *d);

/*
 * Free d (not in the table).  detach: QEMU goes on running, so its
 * sockets and the state files stay; otherwise they are removed.
 */
void domain_free(struct domain *d, bool detach);

/* The callbacks domain_start wires a domain's servers to. */
void domain_on_doorbell(struct ivshmem_server *srv, unsigned int vector);
void domain_on_records_changed(void *owner);

/* QEMU ended (reaped, or seen through the pidfd): the domain shuts down. */
void domain_mark_shutdown(struct domain *d, const char *how);

/* pvxl restore: what domain_start does differently (domain_save.c). */
struct domain_restore_ctx {
	const struct records_image *img;	/* the clock at the save */
	uint64_t now_tsc;			/* host TSC and ... */
	int64_t now_realtime_ns;		/* ... CLOCK_REALTIME, together */
	bool same_tsc;				/* saved on this host and boot */
	const char *incoming;			/* QEMU's -incoming URI */
};

/*
 * A domain from a config's text (origin: its absolute path, for messages
 * and relative paths), checked against the table, with its domid, paths
 * and the kept config, not started nor in the table.  NULL with err.
 */
struct domain *domain_prepare(const char *config_path, const char *config_text,
			      char *err, size_t errlen);

/* Clock, shared memory, servers and QEMU; rc NULL for a fresh domain. */
int domain_start(struct domain *d, const struct domain_restore_ctx *rc,
		 char *err, size_t errlen);

/*
 * Before QEMU streams d's memory (save, a stopped migration): pause d as
 * pvxl pause does unless it is paused (*paused_here says which), each
 * time first letting its mailbox session end.  0, or -1 with err.
 */
int domain_stop_for_stream(struct domain *d, bool *paused_here, char *err,
			   size_t errlen);

/* domain_save.c, shared with domain_migrate.c. */
struct save_header;
struct qmp_reply;

/* One QMP command to d's QEMU; a failure is put in err with d's name. */
int domain_qmp_run(struct domain *d, const char *cmd, const char *args,
		   struct qmp_reply *reply, char *err, size_t errlen);

/*
 * The save header of a paused d (its clock at d->pause_stop_tsc), with
 * config (malloc'd, the header owns it; save_header_free frees it).
 */
void domain_header_fill(struct domain *d, struct save_header *h, char *config);

/* This boot's id ("-" if unknown). */
void domain_boot_id(char *out, size_t len);

/* QEMU -incoming has loaded the stream (paused); what names it: what. */
int domain_wait_incoming(struct domain *d, const char *what,
			 unsigned int timeout_ms, char *err, size_t errlen);

/*
 * A restored or migrated d (not in the table) whose QEMU has loaded the
 * stream: records and wall clock rewritten (GUEST_STOPPED), d added to
 * the table, then continued under the policy.  -1 with err: d is in the
 * table, paused (the QMP cont failed).
 */
int domain_restored_continue(struct domain *d, const struct save_header *h,
			     enum stopped_time_policy stopped,
			     uint32_t slew_ppm, char *err, size_t errlen);

/* domain_migrate.c: an incoming domain holds this name. */
bool domain_incoming_name_taken(const char *name);
/* domain_migrate.c: a reaped child that is an incoming domain's QEMU. */
bool domain_incoming_reaped(pid_t pid, int status);

#endif /* PVTIMED_DOMAIN_PRIV_H */
