/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* A domain's shared memory: the memfd QEMU maps as the ivshmem BAR2. */
#ifndef PVTIMED_SHM_H
#define PVTIMED_SHM_H

#include <stdbool.h>
#include <stdint.h>

#include "pvtime_abi.h"

/*
 * ivshmem peer ids: QEMU is peer 0, as QEMU requires of a master=on
 * device (the one whose shared memory travels with a migration, so a
 * domain can be saved); pvtimed is peer 1 (control->host_peer_id).
 */
#define PVTIME_SHM_GUEST_PEER	0
#define PVTIME_SHM_HOST_PEER	1

struct pvtime_shm {
	int fd;
	void *base;
	struct shared_info *si;
	struct pvtime_control *ctl;
};

struct pvtime_shm_identity {
	uint32_t abi_version;
	uint32_t domid;
	uint32_t nr_vcpus;
	uint64_t tsc_hz;
	uint32_t calibration_ms;	/* 0: no PVTIME_F_CALIBRATION */
	bool host_ntp;			/* PVTIME_F_HOST_NTP */
	bool time_source;		/* PVTIME_F_TIME_SOURCE */
};

/*
 * Create a sealed memfd of PVTIME_SHM_SIZE, map it and fill the control
 * page.  Records stay version 0 and status 0 until the hyp learns the
 * guest's TSC offset.  Returns 0 or -errno.
 */
int pvtime_shm_create(struct pvtime_shm *shm, const char *name,
		      const struct pvtime_shm_identity *id);
/*
 * Map the shared memory of a running domain (fd taken from its QEMU; owned
 * from now on, closed on failure).  Checks that it is pvtime's and the
 * domain's: magic, domid, vCPU count.  Returns 0 or -errno (-EPROTO: not
 * this domain's).
 */
int pvtime_shm_adopt(struct pvtime_shm *shm, int fd,
		     const struct pvtime_shm_identity *id);

void pvtime_shm_destroy(struct pvtime_shm *shm);

#endif /* PVTIMED_SHM_H */
