/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A small file pvtimed keeps (domain state, config copy, TSC rate),
 * replaced whole: written to PATH.tmp (mode 0600), then renamed over
 * PATH, so a reader, or the next pvtimed after a crash, sees the old
 * content or the new, never half of it.  No fsync: these files matter
 * across the daemon's death, not the host's.
 */
#ifndef PVTIMED_ATOMIC_FILE_H
#define PVTIMED_ATOMIC_FILE_H

#include <stddef.h>

/* Write len bytes of data as path.  0 or -errno (path left as it was). */
int atomic_file_write(const char *path, const char *data, size_t len);

#endif /* PVTIMED_ATOMIC_FILE_H */
