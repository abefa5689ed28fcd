/* SPDX-License-Identifier: GPL-2.0 */
/* Reading the small sysfs/debugfs files pvtime.ko and the kernel expose. */
#ifndef PVTIME_GUEST_FILES_H
#define PVTIME_GUEST_FILES_H

#include <stddef.h>
#include <stdint.h>

#define CURRENT_CLOCKSOURCE \
	"/sys/devices/system/clocksource/clocksource0/current_clocksource"
#define PVTIME_DEBUGFS		"/sys/kernel/debug/pvtime"
#define PVTIME_PARAMS		"/sys/module/pvtime/parameters"

/*
 * Read a whole small file into buf (NUL-terminated, trailing newline
 * dropped).  Returns 0 or -errno.
 */
int read_small_file(const char *path, char *buf, size_t len);

/* Value of "key <integer>" in a file of such lines.  0 or -errno. */
int read_keyed_s64(const char *path, const char *key, int64_t *value);

/* Value of "key <word>" in a file of such lines, as a string.  0 or -errno. */
int read_keyed_str(const char *path, const char *key, char *value, size_t len);

/* Write a string to a sysfs file.  0 or -errno. */
int write_small_file(const char *path, const char *text);

/* A file holding one integer.  0 or -errno. */
int read_s64_file(const char *path, int64_t *value);

#endif /* PVTIME_GUEST_FILES_H */
