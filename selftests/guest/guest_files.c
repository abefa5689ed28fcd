// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest_files.h"

int read_small_file(const char *path, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;
	int fd, ret = 0;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* debugfs files can come in several reads; gather them all. */
	while (used < len - 1) {
		n = read(fd, buf + used, len - 1 - used);
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	if (ret)
		return ret;
	buf[used] = '\0';
	if (used && buf[used - 1] == '\n')
		buf[used - 1] = '\0';
	return 0;
}

static int parse_s64(const char *text, int64_t *value)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 0);
	if (errno || end == text || (*end && *end != '\n' && *end != ' '))
		return -EINVAL;
	*value = v;
	return 0;
}

/* Points into buf at the value of "key <value>", or NULL. */
static char *find_key(char *buf, const char *key)
{
	size_t klen = strlen(key);
	char *line;

	for (line = buf; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			return line + klen + 1;
	}
	return NULL;
}

int read_keyed_s64(const char *path, const char *key, int64_t *value)
{
	char buf[4096], *found;
	int ret;

	ret = read_small_file(path, buf, sizeof(buf));
	if (ret)
		return ret;
	found = find_key(buf, key);
	return found ? parse_s64(found, value) : -ENOENT;
}

int read_keyed_str(const char *path, const char *key, char *value, size_t len)
{
	char buf[4096], *found;
	size_t n;
	int ret;

	if (!len)
		return -EINVAL;
	ret = read_small_file(path, buf, sizeof(buf));
	if (ret)
		return ret;
	found = find_key(buf, key);
	if (!found)
		return -ENOENT;
	n = strcspn(found, " \n");
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(value, found, n);
	value[n] = '\0';
	return 0;
}

int write_small_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

int read_s64_file(const char *path, int64_t *value)
{
	char buf[64];
	int ret;

	ret = read_small_file(path, buf, sizeof(buf));
	if (ret)
		return ret;
	return parse_s64(buf, value);
}
