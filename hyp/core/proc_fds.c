// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/proc_fds.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd		438
#endif

/* The value of "key:\t<n>" in an fdinfo file; -ENOENT if it has none. */
static int fdinfo_field(pid_t pid, int fd, const char *key, uint64_t *value)
{
	char path[64], line[256];
	size_t keylen = strlen(key);
	FILE *f;
	int ret = -ENOENT;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	else
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *end;

		if (strncmp(line, key, keylen) || line[keylen] != ':')
			continue;
		errno = 0;
		*value = strtoull(line + keylen + 1, &end, 0);
		ret = (errno || end == line + keylen + 1) ? -EINVAL : 0;
		break;
	}
	fclose(f);
	return ret;
}

int proc_eventfd_id(pid_t pid, int fd, uint64_t *id)
{
	return fdinfo_field(pid, fd, "eventfd-id", id);
}

int proc_fd_inode(int fd, uint64_t *ino)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*ino = st.st_ino;
	return 0;
}

int proc_start_time(pid_t pid, uint64_t *ticks)
{
	char path[64], buf[1024], *p;
	unsigned long long start;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields count from the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &start) != 1)
		return -EINVAL;
	*ticks = start;
	return 0;
}

int proc_pidfd_open(pid_t pid, uint64_t start_ticks)
{
	uint64_t now_ticks;
	int pidfd, ret;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	/* Checked after the open: the pidfd pins the process we compared. */
	ret = proc_start_time(pid, &now_ticks);
	if (!ret && now_ticks != start_ticks)
		ret = -ESRCH;
	if (ret) {
		close(pidfd);
		return ret;
	}
	return pidfd;
}

static int fd_matches(pid_t pid, int fd, const struct proc_fd_wanted *w)
{
	uint64_t value;

	if (w->kind == PROC_FD_EVENTFD)
		return !proc_eventfd_id(pid, fd, &value) && value == w->id;
	return !fdinfo_field(pid, fd, "ino", &value) && value == w->id;
}

static void close_taken(struct proc_fd_wanted *want, size_t nr_want)
{
	size_t i;

	for (i = 0; i < nr_want; i++) {
		if (want[i].fd >= 0)
			close(want[i].fd);
		want[i].fd = -1;
	}
}

int proc_take_fds(pid_t pid, int pidfd, struct proc_fd_wanted *want,
		  size_t nr_want, size_t *missing)
{
	struct dirent *ent;
	char path[64];
	size_t i;
	DIR *dir;
	int ret = 0;

	for (i = 0; i < nr_want; i++)
		want[i].fd = -1;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? -ESRCH : -errno;
	while (!ret && (ent = readdir(dir))) {
		char *end;
		long fd = strtol(ent->d_name, &end, 10);

		if (*end || end == ent->d_name || fd < 0)
			continue;
		for (i = 0; i < nr_want; i++) {
			if (want[i].fd >= 0 || !fd_matches(pid, (int)fd, &want[i]))
				continue;
			want[i].fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
			if (want[i].fd < 0)
				ret = -errno;
			break;
		}
	}
	closedir(dir);
	for (i = 0; !ret && i < nr_want; i++) {
		if (want[i].fd < 0) {
			*missing = i;
			ret = -ENOENT;
		}
	}
	if (ret)
		close_taken(want, nr_want);
	return ret;
}
