/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Another process's file descriptors, through /proc and pidfds: what a
 * restarted pvtimed needs to take a running QEMU's doorbell eventfds and
 * shared memory back.  pidfd_getfd(2) needs ptrace rights over the
 * process (root, or CAP_SYS_PTRACE: QEMU is no longer our child).
 */
#ifndef PVTIMED_PROC_FDS_H
#define PVTIMED_PROC_FDS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * What identifies one of our files in another process: an eventfd by the
 * kernel's eventfd-id (/proc/PID/fdinfo), a memfd by its inode.
 */
enum proc_fd_kind {
	PROC_FD_EVENTFD,
	PROC_FD_MEMFD,
};

struct proc_fd_wanted {
	enum proc_fd_kind kind;
	uint64_t id;		/* eventfd-id, or the memfd's inode number */
	int fd;			/* out: our copy, or -1 */
};

/* fd's eventfd-id in process pid (0: ourselves).  0 or -errno. */
int proc_eventfd_id(pid_t pid, int fd, uint64_t *id);

/* The inode number of one of our fds.  0 or -errno. */
int proc_fd_inode(int fd, uint64_t *ino);

/*
 * The process's start time (/proc/PID/stat field 22, clock ticks after
 * boot): with the pid it names one process, not whoever reuses the pid.
 */
int proc_start_time(pid_t pid, uint64_t *ticks);

/*
 * Open a pidfd for pid if it is still the process that started at
 * start_ticks.  Returns the pidfd, -ESRCH if it is gone (or the pid is
 * someone else's now), or another -errno.
 */
int proc_pidfd_open(pid_t pid, uint64_t start_ticks);

/*
 * Copy the wanted files out of the process behind pidfd (pid for /proc).
 * Returns 0 when every one was found (each ->fd set, close-on-exec), or
 * -ENOENT naming the first missing in *missing, or another -errno; on
 * failure no fd is left open.
 */
int proc_take_fds(pid_t pid, int pidfd, struct proc_fd_wanted *want,
		  size_t nr_want, size_t *missing);

#endif /* PVTIMED_PROC_FDS_H */
