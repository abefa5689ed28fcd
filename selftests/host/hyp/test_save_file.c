// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The pvxl save file's header (hyp/domain/save_file.c): a round trip keeps
 * every field, and every kind of damage is refused with a reason: bad
 * magic, newer format, truncation (header or stream), either checksum,
 * another ABI, a save that never finished.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "domain/save_file.h"

static const char config[] = "name = \"g1\"\nvcpus = 2\nkernel = \"/k\"\n";

static struct save_header sample(void)
{
	struct save_header h;

	memset(&h, 0, sizeof(h));
	h.abi_version = PVTIME_ABI_VERSION;
	snprintf(h.name, sizeof(h.name), "g1");
	h.vcpus = 2;
	snprintf(h.stopped_time, sizeof(h.stopped_time), "slew:1000");
	snprintf(h.boot_id, sizeof(h.boot_id), "4b0e1f2a-6c1d-4e8f-9a7b-0c1d2e3f4a5b");
	h.clock.host_tsc_at_stop = 99;
	h.clock.offset_known = true;
	h.clock.guest_tsc_anchor = UINT64_MAX - 5;
	h.clock.shown_anchor_ns = 123456789012ull;
	h.clock.mul = 0xdeadbeef;
	h.clock.shift = -1;
	h.clock.guest_tsc_at_stop = 1ull << 63;
	h.clock.shown_at_stop_ns = 42;
	h.clock.ref_at_stop_ns = 43;
	h.clock.realtime_at_stop_ns = INT64_MIN + 1;
	h.clock.lag_ns = -7;
	h.clock.wall_offset_ns = INT64_MAX;
	h.clock.periodic = true;
	h.clock.host_tsc_hz = 2299999918ull;
	snprintf(h.config_path, sizeof(h.config_path), "/etc/pvtime/g 1.cfg");
	h.pauses = 3;
	h.paused_total_ns = 5;
	h.stream_bytes = 1000;
	h.stream_fnv64 = 0x0123456789abcdefull;
	h.config = (char *)config;
	h.config_len = strlen(config);
	return h;
}

static int parse_text(const char *buf, size_t len, char *err, size_t errlen)
{
	struct save_header h;
	int ret = save_header_parse(buf, len, &h, err, errlen);

	save_header_free(&h);
	return ret;
}

static void test_round_trip(void)
{
	struct save_header h = sample(), back;
	char err[256];
	char *block = save_header_format(&h);
	int ok;

	tap_ok(block && h.header_bytes == SAVE_FILE_ALIGN &&
	       !strncmp(block, "PVTIME-SAVE 1 004096\n", 21),
	       "header is one 4096-byte block starting with the magic line");
	ok = block && !save_header_parse(block, h.header_bytes, &back, err,
					  sizeof(err));
	if (!ok)
		tap_diag("%s", err);
	tap_ok(ok && back.format == 1 && back.abi_version == PVTIME_ABI_VERSION &&
	       !strcmp(back.name, "g1") && back.vcpus == 2 &&
	       !strcmp(back.stopped_time, "slew:1000") &&
	       !memcmp(&back.clock.guest_tsc_anchor, &h.clock.guest_tsc_anchor,
		       sizeof(uint64_t)) &&
	       back.clock.offset_known && back.clock.mul == 0xdeadbeef &&
	       back.clock.shift == -1 &&
	       back.clock.guest_tsc_at_stop == h.clock.guest_tsc_at_stop &&
	       back.clock.shown_anchor_ns == h.clock.shown_anchor_ns &&
	       back.clock.shown_at_stop_ns == 42 && back.clock.ref_at_stop_ns == 43 &&
	       back.clock.realtime_at_stop_ns == INT64_MIN + 1 &&
	       back.clock.lag_ns == -7 && back.clock.wall_offset_ns == INT64_MAX &&
	       back.clock.periodic && back.clock.host_tsc_hz == 2299999918ull &&
	       !strcmp(back.boot_id, h.boot_id) && back.clock.host_tsc_at_stop == 99 &&
	       !strcmp(back.config_path, "/etc/pvtime/g 1.cfg") &&
	       back.pauses == 3 && back.paused_total_ns == 5 &&
	       back.stream_bytes == 1000 &&
	       back.stream_fnv64 == 0x0123456789abcdefull &&
	       back.config_len == strlen(config) && !strcmp(back.config, config),
	       "round trip keeps every field and the config");
	if (ok)
		save_header_free(&back);
	/* The stream's length and checksum change, the block's size not. */
	h.stream_bytes = UINT64_MAX;
	h.stream_fnv64 = UINT64_MAX;
	{
		char *again = save_header_format(&h);

		tap_ok(again && h.header_bytes == SAVE_FILE_ALIGN &&
		       !parse_text(again, h.header_bytes, err, sizeof(err)),
		       "rewritten with the stream's figures, same length");
		free(again);
	}
	free(block);
}

static void expect_refused(const char *buf, size_t len, const char *why,
			   const char *what)
{
	char err[256] = "";
	int ret = parse_text(buf, len, err, sizeof(err));

	tap_ok(ret && strstr(err, why), "%s refused (%s)", what, err);
}

static void test_damage(void)
{
	struct save_header h = sample();
	char *block = save_header_format(&h);
	char *copy = malloc(h.header_bytes);
	char *at;

	memcpy(copy, block, h.header_bytes);
	copy[0] = 'X';
	expect_refused(copy, h.header_bytes, "bad magic", "bad magic");
	expect_refused("\x7f" "ELF\x02\x01\x01", 7, "bad magic", "an ELF file");
	expect_refused("", 0, "bad magic", "an empty file");

	memcpy(copy, block, h.header_bytes);
	copy[12] = '2';
	expect_refused(copy, h.header_bytes, "newer than this pvtimed", "format 2");

	expect_refused(block, 100, "truncated", "header cut at 100 bytes");

	memcpy(copy, block, h.header_bytes);
	at = strstr(copy, "lag_ns -7");
	at[8] = '8';
	expect_refused(copy, h.header_bytes, "header checksum mismatch",
		       "one changed digit");

	memcpy(copy, block, h.header_bytes);
	at = strstr(copy, "vcpus 2");
	at[0] = 'V';
	expect_refused(copy, h.header_bytes, "'Vcpus' where 'vcpus' belongs",
		       "renamed key");

	memcpy(copy, block, h.header_bytes);
	at = strstr(copy, "header_fnv64");
	memcpy(at, "HEADER", 6);
	expect_refused(copy, h.header_bytes, "header checksum missing",
		       "no checksum line");

	/* A bad value with a matching checksum: the field check catches it. */
	h.abi_version = PVTIME_ABI_VERSION;
	snprintf(h.stopped_time, sizeof(h.stopped_time), "a b");
	free(block);
	block = save_header_format(&h);
	expect_refused(block, h.header_bytes, "bad stopped_time", "a policy with a space");
	free(block);
	free(copy);
}

static int write_file(const char *path, const char *a, size_t alen,
		      const char *b, size_t blen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, a, alen) == (ssize_t)alen &&
	     (!blen || write(fd, b, blen) == (ssize_t)blen);
	close(fd);
	return ok ? 0 : -1;
}

static void check_file(const char *path, int want_ok, const char *why,
		       const char *what)
{
	struct save_header h;
	char err[512] = "";
	int ret = save_file_check(path, &h, err, sizeof(err));

	if (!ret)
		save_header_free(&h);
	if (want_ok)
		tap_ok(!ret, "%s accepted%s%s", what, ret ? ": " : "", err);
	else
		tap_ok(ret && strstr(err, why) && !strncmp(err, path, strlen(path)),
		       "%s refused, naming the file (%s)", what, err);
}

static void test_files(void)
{
	char dir[] = "/tmp/test_save_file.XXXXXX";
	char path[128];
	char stream[3000];
	struct save_header h = sample();
	char *block;
	size_t i;

	if (!mkdtemp(dir)) {
		tap_ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/g.save", dir);
	for (i = 0; i < sizeof(stream); i++)
		stream[i] = (char)(i * 7);
	h.stream_bytes = sizeof(stream);
	h.stream_fnv64 = save_fnv64(FNV64_INIT, stream, sizeof(stream));
	block = save_header_format(&h);

	write_file(path, block, h.header_bytes, stream, sizeof(stream));
	check_file(path, 1, "", "a whole file");

	write_file(path, block, h.header_bytes, stream, sizeof(stream) - 1);
	check_file(path, 0, "truncated", "a file one byte short");

	write_file(path, block, 2000, NULL, 0);
	check_file(path, 0, "truncated", "a file cut in its header");

	stream[1234] ^= 1;
	write_file(path, block, h.header_bytes, stream, sizeof(stream));
	check_file(path, 0, "checksum mismatch in the migration stream",
		   "one flipped bit in the stream");
	stream[1234] ^= 1;
	free(block);

	h.abi_version = PVTIME_ABI_VERSION + 1;
	block = save_header_format(&h);
	write_file(path, block, h.header_bytes, stream, sizeof(stream));
	check_file(path, 0, "pvtime ABI", "another ABI");
	free(block);

	h.abi_version = PVTIME_ABI_VERSION;
	h.stream_bytes = 0;
	block = save_header_format(&h);
	write_file(path, block, h.header_bytes, NULL, 0);
	check_file(path, 0, "no migration stream", "an unfinished save");
	free(block);

	write_file(path, "hello\n", 6, NULL, 0);
	check_file(path, 0, "bad magic", "a text file");
	unlink(path);
	check_file(path, 0, "No such file", "a missing file");
	rmdir(dir);
}

static void test_paths(void)
{
	tap_ok(save_path_usable("/var/lib/pvtime/g 1.save") &&
	       !save_path_usable("rel.save") && !save_path_usable("/a'b") &&
	       !save_path_usable("/a\\b") && !save_path_usable("/a\nb") &&
	       !save_path_usable("/a\"b"),
	       "paths for QEMU's exec: URI: absolute, no quotes, backslashes or control characters");
}

int main(void)
{
	tap_plan(21);
	test_round_trip();
	test_damage();
	test_files();
	test_paths();
	return tap_done();
}
