// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer harness: the header of a pvxl save file (hyp/domain/save_file.c),
 * which pvxl restore reads from a file anyone may have handed the operator.
 * Whatever it is, the parser must refuse it with a reason or accept it
 * whole: an accepted header formats back to a block that parses to the
 * same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/save_file.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct save_header h, again;
	char err[512], *buf, *block;
	int ret;

	if (size > SAVE_FILE_HEADER_MAX)
		return -1;
	/* Exactly size bytes: the parser must not read past them. */
	buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	err[0] = '\0';
	ret = save_header_parse(buf, size, &h, err, sizeof(err));
	if (ret) {
		fuzz_check(ret == -1 && err[0], "returned %d, '%s'", ret, err);
		fuzz_check(h.config == NULL, "config left allocated on failure");
		free(buf);
		return 0;
	}
	fuzz_check(h.header_bytes >= SAVE_FILE_ALIGN && h.header_bytes <= size &&
		   h.vcpus && h.config && strlen(h.config) == h.config_len,
		   "accepted header_bytes %llu of %zu, vcpus %u",
		   (unsigned long long)h.header_bytes, size, h.vcpus);
	block = save_header_format(&h);
	fuzz_check(block != NULL, "cannot format what parsed");
	ret = save_header_parse(block, h.header_bytes, &again, err, sizeof(err));
	fuzz_check(ret == 0, "its own format refused: %s", err);
	fuzz_check(!memcmp(&h.clock, &again.clock, sizeof(h.clock)) &&
		   h.abi_version == again.abi_version && h.vcpus == again.vcpus &&
		   !strcmp(h.name, again.name) &&
		   !strcmp(h.stopped_time, again.stopped_time) &&
		   !strcmp(h.boot_id, again.boot_id) &&
		   !strcmp(h.config_path, again.config_path) &&
		   h.stream_bytes == again.stream_bytes &&
		   h.stream_fnv64 == again.stream_fnv64 &&
		   h.config_len == again.config_len &&
		   !memcmp(h.config, again.config, h.config_len),
		   "round trip changed a field");
	save_header_free(&again);
	save_header_free(&h);
	free(block);
	free(buf);
	return 0;
}
