/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pvxl save / restore: the save file.  One file: a text header of
 * header_bytes (a multiple of 4096, NUL-padded), then QEMU's migration
 * stream of stream_bytes.  The header names the format and the pvtime
 * ABI, carries the domain's config and what its clock showed at the stop
 * in terms that do not depend on the host (guest TSC, system time, host
 * CLOCK_REALTIME), and two FNV-1a 64 checksums: one over the header text
 * before its own line, one over the stream.
 *
 *   PVTIME-SAVE <format> <header_bytes>
 *   abi 1
 *   name guest1
 *   ...
 *   stream_bytes 00000000000012345678
 *   stream_fnv64 0123456789abcdef
 *   config 123
 *   <123 bytes of config text>
 *   header_fnv64 0123456789abcdef
 *   end
 *   <NUL padding to header_bytes>
 *   <migration stream>
 */
#ifndef PVTIMED_SAVE_FILE_H
#define PVTIMED_SAVE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock/records.h"
#include "domain/domain_config.h"

#define SAVE_FILE_MAGIC		"PVTIME-SAVE"
#define SAVE_FILE_FORMAT	1
#define SAVE_FILE_ALIGN		4096
/* The header holds a config of at most DOMAIN_CONFIG_MAX_BYTES. */
#define SAVE_FILE_HEADER_MAX	(DOMAIN_CONFIG_MAX_BYTES + 2 * SAVE_FILE_ALIGN)

struct save_header {
	uint32_t format;
	uint64_t header_bytes;
	uint32_t abi_version;		/* the ABI the guest's shm spoke */
	char name[DOMAIN_NAME_MAX + 1];
	uint32_t vcpus;
	char stopped_time[32];		/* the domain's policy, as text */
	/* The saving host's boot (/proc/sys/kernel/random/boot_id). */
	char boot_id[40];
	struct records_image clock;	/* what its clock showed */
	uint64_t pauses;
	uint64_t paused_total_ns;
	uint64_t stream_bytes;
	uint64_t stream_fnv64;
	char config_path[4096];		/* where it was created from */
	char *config;			/* malloc'd, NUL-terminated */
	size_t config_len;
};

#define FNV64_INIT	0xcbf29ce484222325ull
uint64_t save_fnv64(uint64_t hash, const void *data, size_t len);

/*
 * The header block (header_bytes long, h->header_bytes set); free() it.
 * NULL: ENOMEM, or a config too long.  Fields are fixed-width where they
 * change after the stream is written, so the block keeps its length.
 */
char *save_header_format(struct save_header *h);

/*
 * Parse a header from buf (len bytes read from the file's start, at least
 * header_bytes of them for success).  0, or -1 with one line in err
 * (bad magic, newer format, truncated, checksum mismatch, bad field);
 * free h->config with save_header_free.
 */
int save_header_parse(const char *buf, size_t len, struct save_header *h,
		      char *err, size_t errlen);
void save_header_free(struct save_header *h);

/*
 * Open path, parse its header, check that the file holds the whole stream
 * and that its checksum matches, and that its ABI is one this pvtimed
 * serves.  0, or -1 with "PATH: reason" in err.
 */
int save_file_check(const char *path, struct save_header *h, char *err,
		    size_t errlen);

/* A path the QEMU command line may carry in single quotes (no ' \ " NL). */
bool save_path_usable(const char *path);

#endif /* PVTIMED_SAVE_FILE_H */
