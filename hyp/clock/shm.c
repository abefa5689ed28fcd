// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvclock_math.h"
#include "clock/shm.h"

static void shm_set_views(struct pvtime_shm *shm)
{
	shm->si = (struct shared_info *)((char *)shm->base +
					 PVTIME_SHARED_INFO_OFFSET);
	shm->ctl = (struct pvtime_control *)((char *)shm->base +
					     PVTIME_CONTROL_OFFSET);
}

int pvtime_shm_create(struct pvtime_shm *shm, const char *name,
		      const struct pvtime_shm_identity *id)
{
	char label[64];
	int err;

	memset(shm, 0, sizeof(*shm));
	snprintf(label, sizeof(label), "pvtime-%s", name);
	shm->fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (shm->fd < 0)
		return -errno;
	if (ftruncate(shm->fd, PVTIME_SHM_SIZE) < 0)
		goto fail;
	/* QEMU must not be able to shrink it under our mapping (SIGBUS). */
	if (fcntl(shm->fd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	shm->base = mmap(NULL, PVTIME_SHM_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED, shm->fd, 0);
	if (shm->base == MAP_FAILED) {
		shm->base = NULL;
		goto fail;
	}
	shm_set_views(shm);
	shm->ctl->abi_version = id->abi_version;
	shm->ctl->domid = id->domid;
	shm->ctl->nr_vcpus = id->nr_vcpus;
	shm->ctl->features = PVTIME_F_WALLCLOCK_DOORBELL | PVTIME_F_REALTIME_PROBE |
			     PVTIME_F_RECORDS_DOORBELL | PVTIME_F_TSC_STABLE_EVIDENCE |
			     PVTIME_F_CLOCK_STATUS | PVTIME_F_RECORDS_JUMPED |
			     (id->calibration_ms ? PVTIME_F_CALIBRATION : 0) |
			     (id->host_ntp ? PVTIME_F_HOST_NTP : 0) |
			     (id->time_source ? PVTIME_F_TIME_SOURCE : 0);
	shm->ctl->calibration_ms = id->calibration_ms;
	shm->ctl->tsc_hz = id->tsc_hz;
	shm->ctl->host_peer_id = PVTIME_SHM_HOST_PEER;
	pvtime_wmb();
	/* The magic last: a guest that sees it sees the rest. */
	WRITE_ONCE(shm->ctl->magic, PVTIME_MAGIC);
	return 0;
fail:
	err = -errno;
	pvtime_shm_destroy(shm);
	return err;
}

int pvtime_shm_adopt(struct pvtime_shm *shm, int fd,
		     const struct pvtime_shm_identity *id)
{
	struct stat st;
	int err;

	memset(shm, 0, sizeof(*shm));
	shm->fd = fd;
	if (fstat(fd, &st) < 0)
		goto fail;
	/* Sealed at creation: the size cannot have changed, but check. */
	if (st.st_size != PVTIME_SHM_SIZE) {
		errno = EPROTO;
		goto fail;
	}
	shm->base = mmap(NULL, PVTIME_SHM_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
	if (shm->base == MAP_FAILED) {
		shm->base = NULL;
		goto fail;
	}
	shm_set_views(shm);
	if (READ_ONCE(shm->ctl->magic) != PVTIME_MAGIC ||
	    READ_ONCE(shm->ctl->domid) != id->domid ||
	    READ_ONCE(shm->ctl->nr_vcpus) != id->nr_vcpus) {
		errno = EPROTO;
		goto fail;
	}
	return 0;
fail:
	err = -errno;
	pvtime_shm_destroy(shm);
	return err;
}

void pvtime_shm_destroy(struct pvtime_shm *shm)
{
	if (shm->base)
		munmap(shm->base, PVTIME_SHM_SIZE);
	if (shm->fd >= 0)
		close(shm->fd);
	shm->base = NULL;
	shm->si = NULL;
	shm->ctl = NULL;
	shm->fd = -1;
}
