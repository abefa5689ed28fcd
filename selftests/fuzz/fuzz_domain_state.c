// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer harness: the domain state file a restarted pvtimed adopts a
 * running guest from (hyp/domain/domain_state.c).  The file lives in pvtimed's
 * own 0700 state dir, but a damaged or half-written one must be refused
 * with file:line, never misread: whatever parses must format back to a
 * text that parses to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/domain_state.h"
#include "fuzz_check.h"

#define ORIGIN	"fuzz.state"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct domain_saved st, again;
	char err[512], *text, *formatted;
	int ret;

	/* domain_state_read() refuses NUL bytes and files over 64 KiB. */
	if (size > 65536 || memchr(data, '\0', size))
		return -1;
	text = strndup((const char *)data, size);
	if (!text)
		abort();
	err[0] = '\0';
	ret = domain_state_parse(text, ORIGIN, &st, err, sizeof(err));
	if (ret) {
		fuzz_check(ret == -1, "returned %d", ret);
		fuzz_check(!strncmp(err, ORIGIN ":", strlen(ORIGIN) + 1),
			   "error without 'file:line:': %s", err);
	} else {
		fuzz_check(st.qemu_pid > 0 && st.clock.tsc_hz &&
			   st.clock.fn.mul && st.config_path[0] == '/',
			   "accepted pid %d, tsc_hz %llu, config '%s'",
			   (int)st.qemu_pid, (unsigned long long)st.clock.tsc_hz,
			   st.config_path);
		formatted = domain_state_format(&st);
		fuzz_check(formatted != NULL, "cannot format what parsed");
		ret = domain_state_parse(formatted, ORIGIN, &again, err,
					 sizeof(err));
		fuzz_check(ret == 0, "its own format refused: %s", err);
		fuzz_check(!memcmp(&st.clock.ref, &again.clock.ref,
				   sizeof(st.clock.ref)) &&
			   !memcmp(&st.clock.fn, &again.clock.fn,
				   sizeof(st.clock.fn)) &&
			   st.clock.lag_ns == again.clock.lag_ns &&
			   st.clock.wall_offset_ns == again.clock.wall_offset_ns &&
			   st.qemu_pid == again.qemu_pid &&
			   !strcmp(st.config_path, again.config_path),
			   "round trip changed a field");
		free(formatted);
	}
	free(text);
	return 0;
}
