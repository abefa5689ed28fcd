// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The state file a restarted pvtimed adopts a domain from: a round trip
 * keeps every field, and each kind of damage is refused with file:line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "domain/domain_state.h"

static struct domain_saved sample(void)
{
	struct domain_saved st;

	memset(&st, 0, sizeof(st));
	st.domid = 7;
	st.qemu_pid = 4242;
	st.qemu_start_ticks = 123456789;
	st.memfd_ino = 99;
	st.host_eventfd_id[0] = 1;
	st.host_eventfd_id[2] = 3;
	st.guest_eventfd_id[1] = 5;
	st.pause_stop_tsc = UINT64_MAX;
	st.pauses = 2;
	st.paused_total_ns = 3000000000ull;
	st.clock.tsc_hz = 2299999918ull;
	st.clock.freq_ppm = -12;
	st.clock.ref = (struct time_function){ 1ull << 60, 42, 0xdeadbeef, -32 };
	st.clock.fn = (struct time_function){ 17, UINT64_MAX, 1, 31 };
	st.clock.lag_ns = INT64_MIN;
	st.clock.slew_ppm = -100000;
	st.clock.slew_end_tsc = 8;
	st.clock.wall_offset_ns = INT64_MAX;
	st.clock.paused = true;
	st.clock.offset_rtt_cycles = 1350;
	st.clock.periodic = true;
	st.clock.offset_moves = 4;
	st.clock.kept_ns_total = 11;
	snprintf(st.config_path, sizeof(st.config_path), "/etc/pvtime/a b.cfg");
	return st;
}

static int same(const struct domain_saved *a, const struct domain_saved *b)
{
	char *ta = domain_state_format(a), *tb = domain_state_format(b);
	int eq = ta && tb && !strcmp(ta, tb);

	free(ta);
	free(tb);
	return eq;
}

/* The sample's text with one line replaced (or removed: with == NULL). */
static char *edited(const char *key, const char *with)
{
	struct domain_saved st = sample();
	char *text = domain_state_format(&st), *out, *line, *end;
	size_t keylen = strlen(key);

	out = calloc(1, strlen(text) + 256);
	for (line = text; *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!strncmp(line, key, keylen) && line[keylen] == ' ') {
			if (with)
				sprintf(out + strlen(out), "%s\n", with);
			continue;
		}
		strncat(out, line, (size_t)(end - line) + 1);
	}
	free(text);
	return out;
}

static int refused(const char *text, const char *expect)
{
	struct domain_saved st;
	char err[256] = "";
	int ret = domain_state_parse(text, "x.state", &st, err, sizeof(err));

	if (!ret || !strstr(err, expect) || strncmp(err, "x.state:", 8)) {
		tap_diag("got %d '%s', wanted '%s'", ret, err, expect);
		return 0;
	}
	return 1;
}

static int refused_edit(const char *key, const char *with, const char *expect)
{
	char *text = edited(key, with);
	int ok = refused(text, expect);

	free(text);
	return ok;
}

int main(void)
{
	struct domain_saved st = sample(), back;
	char err[256], dir[] = "/tmp/pvtime-state-XXXXXX", path[64];
	char *text, *dup;
	struct stat sb;

	tap_plan(17);
	text = domain_state_format(&st);
	tap_ok(text && !domain_state_parse(text, "x.state", &back, err, sizeof(err)) &&
	       same(&st, &back) && !memcmp(&back.clock.ref, &st.clock.ref, sizeof(st.clock.ref)) &&
	       back.clock.lag_ns == INT64_MIN && back.pause_stop_tsc == UINT64_MAX &&
	       back.clock.ref.shift == -32 && back.clock.paused &&
	       !strcmp(back.config_path, st.config_path),
	       "format then parse gives every field back, extremes included");
	free(text);

	tap_ok(mkdtemp(dir) != NULL, "temporary dir");
	snprintf(path, sizeof(path), "%s/d.state", dir);
	tap_ok(!domain_state_write(path, &st) && !stat(path, &sb) &&
	       (sb.st_mode & 0777) == 0600 &&
	       !domain_state_read(path, &back, err, sizeof(err)) && same(&st, &back),
	       "written 0600 and read back the same");
	snprintf(st.config_path, sizeof(st.config_path), "/a\nb");
	tap_ok(domain_state_write(path, &st) < 0 &&
	       !domain_state_read(path, &back, err, sizeof(err)) &&
	       !strcmp(back.config_path, "/etc/pvtime/a b.cfg"),
	       "a config path with a newline is refused; the old file stays");
	st = sample();
	unlink(path);
	rmdir(dir);

	tap_ok(refused("", "empty"), "empty text refused");
	tap_ok(refused("something else 1\n", "not a pvtimed domain state file"),
	       "foreign file refused");
	tap_ok(refused_edit("pvtimed-domain-state", "pvtimed-domain-state 2",
			    "this pvtimed reads 1"),
	       "another format version refused, naming both");
	tap_ok(refused_edit("memfd_ino", NULL, "memfd_ino missing"),
	       "a missing field is named");
	tap_ok(refused_edit("fn.shift", "fn.shift 128", "bad value for fn.shift"),
	       "a shift out of int8 range refused");
	tap_ok(refused_edit("pauses", "pauses -1", "bad value for pauses"),
	       "a negative count refused");
	tap_ok(refused_edit("domid", "domid 4294967296", "bad value for domid"),
	       "a 33-bit domid refused");
	tap_ok(refused_edit("lag_ns", "lag_ns 12abc", "bad value for lag_ns"),
	       "trailing junk refused");
	tap_ok(refused_edit("paused", "paused 2", "bad value for paused"),
	       "a boolean other than 0/1 refused");
	tap_ok(refused_edit("slews", "slews 1\nslews 1", "slews given twice"),
	       "a field given twice refused");
	tap_ok(refused_edit("slews", "colour blue", "unknown key 'colour'"),
	       "an unknown key refused");
	tap_ok(refused_edit("config_path", "config_path relative.cfg",
			    "config_path is not absolute"),
	       "a relative config path refused");
	text = domain_state_format(&st);
	dup = strndup(text, strlen(text) - 1);
	tap_ok(refused(dup, "truncated"), "a file cut mid-line refused");
	free(dup);
	free(text);
	return tap_done();
}
