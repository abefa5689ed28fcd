// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Domain config parser: good files parse to the right values; every bad
 * input is rejected with "file:line: problem".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "domain/domain_config.h"
#include "pvtime_abi.h"

static char dir[] = "/tmp/pvtimed-cfgtest-XXXXXX";
static char cfg_path[512];
static char kernel_path[512];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* Parse text as cfg_path; returns the parser's result, err filled. */
static int parse(const char *text, struct domain_config *cfg, char *err,
		 size_t errlen)
{
	err[0] = '\0';
	return domain_config_parse(cfg_path, text, cfg, err, errlen);
}

struct bad_case {
	const char *what;
	const char *text;
	const char *expect;	/* substring of the error, after "path:" */
};

#define KERNEL_LINE "kernel = \"vmlinuz\"\n"

static const struct bad_case bad_cases[] = {
	{ "unknown key", "name = \"a\"\n" KERNEL_LINE "colour = \"red\"\n",
	  ":3: unknown key 'colour'" },
	{ "bad number", "name = \"a\"\n" KERNEL_LINE "vcpus = 2x\n",
	  ":3: bad number '2x'" },
	{ "negative number", "name = \"a\"\n" KERNEL_LINE "vcpus = -1\n",
	  ":3: bad number '-1'" },
	{ "vcpus out of range", "name = \"a\"\n" KERNEL_LINE "vcpus = 33\n",
	  ":3: vcpus out of range: 33 (allowed 1..32)" },
	{ "vcpus zero", "name = \"a\"\n" KERNEL_LINE "vcpus = 0\n",
	  ":3: vcpus out of range" },
	{ "memory too small", "name = \"a\"\n" KERNEL_LINE "memory = 63\n",
	  ":3: memory out of range" },
	{ "number overflow", "name = \"a\"\n" KERNEL_LINE
	  "memory = 99999999999999999999999\n", ":3: number '99999999999999999999999' out of range" },
	{ "abi version too big", "name = \"a\"\n" KERNEL_LINE
	  "pvtime_abi_version = 4294967296\n", ":3: pvtime_abi_version out of range" },
	{ "unterminated string", "name = \"a\n" KERNEL_LINE,
	  ":1: unterminated string" },
	{ "unterminated string at EOF", KERNEL_LINE "name = \"abc",
	  ":2: unterminated string" },
	{ "bad escape", "name = \"a\\n\"\n" KERNEL_LINE, ":1: bad escape" },
	{ "missing name", KERNEL_LINE "vcpus = 1\n",
	  "missing required key 'name'" },
	{ "missing kernel", "name = \"a\"\n", "missing required key 'kernel'" },
	{ "duplicate key", "name = \"a\"\n" KERNEL_LINE "vcpus = 1\nvcpus = 2\n",
	  ":4: duplicate key 'vcpus'" },
	{ "bad list element", "name = \"a\"\n" KERNEL_LINE
	  "device_model_args = [ \"-a\", 3 ]\n", ":3: bad list: elements must be quoted strings" },
	{ "list missing comma", "name = \"a\"\n" KERNEL_LINE
	  "device_model_args = [ \"-a\" \"-b\" ]\n", ":3: bad list: expected ',' or ']'" },
	{ "unterminated list", "name = \"a\"\n" KERNEL_LINE
	  "device_model_args = [ \"-a\",\n", "unterminated list" },
	{ "list where string expected", "name = [ \"a\" ]\n" KERNEL_LINE,
	  ":1: name must be a string, not a list" },
	{ "string where number expected", "name = \"a\"\n" KERNEL_LINE "vcpus = \"2\"\n",
	  ":3: vcpus must be a number, not a string" },
	{ "bad name characters", "name = \"a b\"\n" KERNEL_LINE, ":1: bad name 'a b'" },
	{ "name too long", "name = \"abcdefghijabcdefghijabcdefghijabc\"\n" KERNEL_LINE,
	  ":1: bad name" },
	{ "empty name", "name = \"\"\n" KERNEL_LINE, ":1: bad name" },
	{ "dotdot name", "name = \"..\"\n" KERNEL_LINE, ":1: bad name" },
	{ "bad accel", "name = \"a\"\n" KERNEL_LINE "accel = \"xen\"\n",
	  ":3: bad accel 'xen'" },
	{ "bad tsc_stable", "name = \"a\"\n" KERNEL_LINE "tsc_stable = \"yes\"\n",
	  ":3: bad tsc_stable 'yes' (expected \"auto\" or \"off\")" },
	{ "bad tcg_thread", "name = \"a\"\n" KERNEL_LINE "tcg_thread = \"mttcg\"\n",
	  ":3: bad tcg_thread 'mttcg' (expected \"single\" or \"multi\")" },
	{ "tcg_thread as a number", "name = \"a\"\n" KERNEL_LINE "tcg_thread = 1\n",
	  ":3: tcg_thread must be a string, not a number" },
	{ "duplicate tcg_thread", "name = \"a\"\n" KERNEL_LINE
	  "tcg_thread = \"single\"\ntcg_thread = \"multi\"\n",
	  ":4: duplicate key 'tcg_thread'" },
	{ "tcg_thread with kvm", "name = \"a\"\n" KERNEL_LINE
	  "tcg_thread = \"single\"\naccel = \"kvm\"\n",
	  ":3: tcg_thread applies only to accel = \"tcg\"" },
	{ "kvm with tcg_thread", "name = \"a\"\naccel = \"kvm\"\n" KERNEL_LINE
	  "tcg_thread = \"multi\"\n",
	  ":4: tcg_thread applies only to accel = \"tcg\"" },
	{ "missing kernel file", "name = \"a\"\nkernel = \"nope\"\n",
	  ":2: kernel '" },
	{ "kernel is a directory", "name = \"a\"\nkernel = \"/tmp\"\n",
	  ":2: kernel '/tmp' is not a regular file" },
	{ "missing ramdisk", "name = \"a\"\n" KERNEL_LINE "ramdisk = \"nope.cpio\"\n",
	  ":3: ramdisk '" },
	{ "missing equals", "name \"a\"\n" KERNEL_LINE, ":1: expected '=' after 'name'" },
	{ "missing value", "name =\n" KERNEL_LINE, ":1: missing value after '='" },
	{ "unquoted string", "name = guest\n" KERNEL_LINE, ":1: bad value 'guest'" },
	{ "trailing junk", "name = \"a\" \"b\"\n" KERNEL_LINE,
	  ":1: unexpected text after the value of 'name'" },
	{ "stray character", "name = \"a\"\n" KERNEL_LINE "@\n",
	  ":3: unexpected character '@'" },
	{ "control byte", "name = \"a\"\n\x01\n" KERNEL_LINE, ":2: unexpected byte 0x01" },
	{ "time_source 2", "name = \"a\"\n" KERNEL_LINE "time_source = 2\n",
	  ":3: time_source out of range: 2 (allowed 0..1)" },
	{ "time_source as a string", "name = \"a\"\n" KERNEL_LINE
	  "time_source = \"yes\"\n", ":3: time_source must be a number, not a string" },
	{ "time_source negative", "name = \"a\"\n" KERNEL_LINE "time_source = -1\n",
	  ":3: bad number '-1' (expected a non-negative integer)" },
	{ "localtime 2", "name = \"a\"\n" KERNEL_LINE "localtime = 2\n",
	  ":3: localtime out of range: 2 (allowed 0..1)" },
	{ "localtime signed", "name = \"a\"\n" KERNEL_LINE "localtime = +1\n",
	  ":3: bad number '+1' (expected a non-negative integer)" },
	{ "rtc_timeoffset not a number", "name = \"a\"\n" KERNEL_LINE
	  "rtc_timeoffset = 1h\n", ":3: bad number '1h'" },
	{ "rtc_timeoffset a bare sign", "name = \"a\"\n" KERNEL_LINE
	  "rtc_timeoffset = -\n", ":3: bad number '-' (expected an integer)" },
	{ "rtc_timeoffset double sign", "name = \"a\"\n" KERNEL_LINE
	  "rtc_timeoffset = --5\n", ":3: bad number '--5' (expected an integer)" },
	{ "rtc_timeoffset as a string", "name = \"a\"\n" KERNEL_LINE
	  "rtc_timeoffset = \"3600\"\n", ":3: rtc_timeoffset must be a number, not a string" },
	{ "rtc_timeoffset too far ahead", "name = \"a\"\n" KERNEL_LINE
	  "rtc_timeoffset = 1576800001\n",
	  ":3: rtc_timeoffset out of range: 1576800001 (allowed -1576800000..1576800000)" },
	{ "rtc_timeoffset too far behind", "name = \"a\"\n" KERNEL_LINE
	  "rtc_timeoffset = -1576800001\n", ":3: rtc_timeoffset out of range: -1576800001" },
	{ "rtc_timeoffset 2^64 - 1", "name = \"a\"\n" KERNEL_LINE
	  "rtc_timeoffset = -18446744073709551615\n", ":3: rtc_timeoffset out of range" },
	{ "rtc_timeoffset overflow", "name = \"a\"\n" KERNEL_LINE
	  "rtc_timeoffset = -99999999999999999999\n", ":3: number '-99999999999999999999' out of range" },
	{ "duplicate rtc_timeoffset", "name = \"a\"\n" KERNEL_LINE
	  "rtc_timeoffset = 1\nrtc_timeoffset = 2\n", ":4: duplicate key 'rtc_timeoffset'" },
};

/* Each case refused with "path:line: ..." naming what the case expects. */
static void expect_refusals(const char *what, const struct bad_case *cases,
			    size_t n)
{
	struct domain_config cfg;
	char err[512];
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = parse(cases[i].text, &cfg, err, sizeof(err));
		tap_ok(ret == -1 && !strncmp(err, cfg_path, strlen(cfg_path)) &&
		       strstr(err, cases[i].expect),
		       "%s: rejects %s: got \"%s\", want \"...%s...\"", what,
		       cases[i].what, err, cases[i].expect);
	}
}

#define STOPPED_PREFIX "name = \"a\"\n" KERNEL_LINE "stopped_time = "

/* stopped_time: a policy name, and for slew a strict decimal rate. */
static const struct bad_case bad_stopped_time_cases[] = {
	{ "slew without a rate", STOPPED_PREFIX "\"slew\"\n",
	  ":3: bad stopped_time 'slew' (slew needs a rate: \"slew:PPM\", PPM 1..500000)" },
	{ "slew with an empty rate", STOPPED_PREFIX "\"slew:\"\n",
	  ":3: bad stopped_time 'slew:' (slew needs a rate" },
	{ "slew rate zero", STOPPED_PREFIX "\"slew:0\"\n",
	  ":3: stopped_time slew rate out of range: 0 ppm (allowed 1..500000)" },
	{ "slew rate above the maximum", STOPPED_PREFIX "\"slew:500001\"\n",
	  ":3: stopped_time slew rate out of range: 500001 ppm" },
	{ "slew rate that overflows 64 bits", STOPPED_PREFIX
	  "\"slew:99999999999999999999999\"\n", ":3: stopped_time slew rate out of range" },
	{ "slew rate not a number", STOPPED_PREFIX "\"slew:abc\"\n",
	  ":3: bad stopped_time 'slew:abc' (PPM must be a decimal integer 1..500000)" },
	{ "slew rate with a sign", STOPPED_PREFIX "\"slew:+100\"\n",
	  ":3: bad stopped_time 'slew:+100' (PPM must be a decimal integer" },
	{ "slew rate negative", STOPPED_PREFIX "\"slew:-100\"\n",
	  ":3: bad stopped_time 'slew:-100' (PPM must be" },
	{ "slew rate in hex", STOPPED_PREFIX "\"slew:0x10\"\n",
	  ":3: bad stopped_time 'slew:0x10' (PPM must be" },
	{ "slew rate with a unit", STOPPED_PREFIX "\"slew:100ppm\"\n",
	  ":3: bad stopped_time 'slew:100ppm' (PPM must be" },
	{ "slew rate with a space", STOPPED_PREFIX "\"slew: 100\"\n",
	  ":3: bad stopped_time 'slew: 100' (PPM must be" },
	{ "unknown policy", STOPPED_PREFIX "\"skip\"\n",
	  ":3: bad stopped_time 'skip' (expected \"step\", \"slew:PPM\" or \"keep\")" },
	{ "policy in capitals", STOPPED_PREFIX "\"STEP\"\n",
	  ":3: bad stopped_time 'STEP'" },
	{ "rate on step", STOPPED_PREFIX "\"step:100\"\n",
	  ":3: bad stopped_time 'step:100'" },
	{ "slew prefix of a longer word", STOPPED_PREFIX "\"slewing:100\"\n",
	  ":3: bad stopped_time 'slewing:100'" },
	{ "empty policy", STOPPED_PREFIX "\"\"\n", ":3: bad stopped_time ''" },
	{ "policy as a number", STOPPED_PREFIX "1000\n",
	  ":3: stopped_time must be a string, not a number" },
	{ "duplicate stopped_time", STOPPED_PREFIX "\"step\"\nstopped_time = \"keep\"\n",
	  ":4: duplicate key 'stopped_time'" },
};

#define NR_BAD_STOPPED_TIME \
	(sizeof(bad_stopped_time_cases) / sizeof(bad_stopped_time_cases[0]))

static const struct {
	const char *value;
	enum stopped_time_policy policy;
	uint32_t slew_ppm;
	const char *name;	/* stopped_time_policy_name() */
} good_stopped_time_cases[] = {
	{ "step", STOPPED_TIME_STEP, 0, "step" },
	{ "keep", STOPPED_TIME_KEEP, 0, "keep" },
	{ "slew:1", STOPPED_TIME_SLEW, 1, "slew:1" },
	{ "slew:1000", STOPPED_TIME_SLEW, 1000, "slew:1000" },
	{ "slew:0500", STOPPED_TIME_SLEW, 500, "slew:500" },
	{ "slew:500000", STOPPED_TIME_SLEW, 500000, "slew:500000" },
};

#define NR_GOOD_STOPPED_TIME \
	(sizeof(good_stopped_time_cases) / sizeof(good_stopped_time_cases[0]))

static void test_stopped_time(void)
{
	char text[256], err[512], name[STOPPED_TIME_NAME_MAX];
	struct domain_config cfg;
	size_t i;
	int ret;

	ret = parse("name = \"a\"\n" KERNEL_LINE, &cfg, err, sizeof(err));
	tap_ok(ret == 0 && cfg.stopped_time == STOPPED_TIME_STEP &&
	       !strcmp(stopped_time_policy_name(cfg.stopped_time,
						cfg.stopped_slew_ppm, name,
						sizeof(name)), "step"),
	       "stopped_time defaults to step (%s)", ret ? err : name);
	if (!ret)
		domain_config_free(&cfg);

	for (i = 0; i < NR_GOOD_STOPPED_TIME; i++) {
		snprintf(text, sizeof(text), STOPPED_PREFIX "\"%s\"\n",
			 good_stopped_time_cases[i].value);
		ret = parse(text, &cfg, err, sizeof(err));
		if (ret) {
			tap_ok(0, "stopped_time = \"%s\" parses (%s)",
			       good_stopped_time_cases[i].value, err);
			continue;
		}
		stopped_time_policy_name(cfg.stopped_time, cfg.stopped_slew_ppm,
					 name, sizeof(name));
		tap_ok(cfg.stopped_time == good_stopped_time_cases[i].policy &&
		       cfg.stopped_slew_ppm == good_stopped_time_cases[i].slew_ppm &&
		       !strcmp(name, good_stopped_time_cases[i].name),
		       "stopped_time = \"%s\": policy %d, %u ppm, named '%s'",
		       good_stopped_time_cases[i].value, (int)cfg.stopped_time,
		       cfg.stopped_slew_ppm, name);
		domain_config_free(&cfg);
	}

	expect_refusals("stopped_time", bad_stopped_time_cases,
			NR_BAD_STOPPED_TIME);
}

#define DRIFT_PREFIX "name = \"a\"\n" KERNEL_LINE "drift = "

/* clock and drift: names, fractions, rates, and the combinations refused. */
static const struct bad_case bad_clock_drift_cases[] = {
	{ "unknown clock", "name = \"a\"\n" KERNEL_LINE "clock = \"guest\"\n",
	  ":3: bad clock 'guest' (expected \"host\" or \"virtual\")" },
	{ "clock as a number", "name = \"a\"\n" KERNEL_LINE "clock = 1\n",
	  ":3: clock must be a string, not a number" },
	{ "virtual clock with kvm", "name = \"a\"\n" KERNEL_LINE
	  "clock = \"virtual\"\naccel = \"kvm\"\n",
	  ":3: clock = \"virtual\" needs accel = \"tcg\"" },
	{ "virtual clock with multi-threaded TCG", "name = \"a\"\n" KERNEL_LINE
	  "tcg_thread = \"multi\"\nclock = \"virtual\"\n",
	  ":4: clock = \"virtual\" needs tcg_thread = \"single\"" },
	{ "duplicate clock", "name = \"a\"\n" KERNEL_LINE
	  "clock = \"host\"\nclock = \"virtual\"\n", ":4: duplicate key 'clock'" },
	{ "unknown drift policy", DRIFT_PREFIX "\"step\"\n",
	  ":3: bad drift 'step' (expected \"keep\", \"skip:FRACTION\" or \"slew:PPM\")" },
	{ "drift in capitals", DRIFT_PREFIX "\"KEEP\"\n", ":3: bad drift 'KEEP'" },
	{ "skip without a fraction", DRIFT_PREFIX "\"skip\"\n",
	  ":3: bad drift 'skip' (skip needs a fraction: \"skip:FRACTION\", FRACTION in (0,1]" },
	{ "skip with an empty fraction", DRIFT_PREFIX "\"skip:\"\n",
	  ":3: bad drift 'skip:' (skip needs a fraction" },
	{ "skip fraction zero", DRIFT_PREFIX "\"skip:0\"\n",
	  ":3: drift skip fraction out of range: 0 (allowed more than 0, at most 1)" },
	{ "skip fraction 0.0", DRIFT_PREFIX "\"skip:0.0\"\n",
	  ":3: drift skip fraction out of range: 0.0" },
	{ "skip fraction above one", DRIFT_PREFIX "\"skip:1.5\"\n",
	  ":3: drift skip fraction out of range: 1.5" },
	{ "skip fraction 1.000001", DRIFT_PREFIX "\"skip:1.000001\"\n",
	  ":3: drift skip fraction out of range: 1.000001" },
	{ "skip fraction 2", DRIFT_PREFIX "\"skip:2\"\n",
	  ":3: drift skip fraction out of range: 2" },
	{ "skip fraction that overflows", DRIFT_PREFIX "\"skip:99999999999999999999999\"\n",
	  ":3: drift skip fraction out of range" },
	{ "skip fraction negative", DRIFT_PREFIX "\"skip:-0.5\"\n",
	  ":3: bad drift 'skip:-0.5' (FRACTION must be a decimal number in (0,1]" },
	{ "skip fraction without a leading digit", DRIFT_PREFIX "\"skip:.5\"\n",
	  ":3: bad drift 'skip:.5' (FRACTION must be" },
	{ "skip fraction with a trailing dot", DRIFT_PREFIX "\"skip:1.\"\n",
	  ":3: bad drift 'skip:1.' (FRACTION must be" },
	{ "skip fraction with seven decimals", DRIFT_PREFIX "\"skip:0.1234567\"\n",
	  ":3: bad drift 'skip:0.1234567' (FRACTION must be a decimal number in (0,1] with at most 6 decimals" },
	{ "skip fraction as a percentage", DRIFT_PREFIX "\"skip:50%\"\n",
	  ":3: bad drift 'skip:50%' (FRACTION must be" },
	{ "skip fraction in exponent form", DRIFT_PREFIX "\"skip:5e-1\"\n",
	  ":3: bad drift 'skip:5e-1' (FRACTION must be" },
	{ "slew without a rate", DRIFT_PREFIX "\"slew\"\n",
	  ":3: bad drift 'slew' (slew needs a rate: \"slew:PPM\", PPM 1..500000)" },
	{ "slew rate zero", DRIFT_PREFIX "\"slew:0\"\n",
	  ":3: drift slew rate out of range: 0 ppm (allowed 1..500000)" },
	{ "slew rate above the maximum", DRIFT_PREFIX "\"slew:500001\"\n",
	  ":3: drift slew rate out of range: 500001 ppm" },
	{ "slew rate not a number", DRIFT_PREFIX "\"slew:fast\"\n",
	  ":3: bad drift 'slew:fast' (PPM must be a decimal integer 1..500000)" },
	{ "drift as a number", DRIFT_PREFIX "0.5\n", ":3: bad number '0.5'" },
	{ "duplicate drift", DRIFT_PREFIX "\"keep\"\ndrift = \"skip:1\"\n",
	  ":4: duplicate key 'drift'" },
};

#define NR_BAD_CLOCK_DRIFT \
	(sizeof(bad_clock_drift_cases) / sizeof(bad_clock_drift_cases[0]))

static const struct {
	const char *value;
	enum drift_policy_kind kind;
	uint32_t fraction_ppm;
	uint32_t slew_ppm;
	const char *name;	/* drift_policy_name() */
} good_drift_cases[] = {
	{ "keep", DRIFT_KEEP, 0, 0, "keep" },
	{ "skip:0.5", DRIFT_SKIP, 500000, 0, "skip:0.5" },
	{ "skip:1", DRIFT_SKIP, 1000000, 0, "skip:1" },
	{ "skip:1.0", DRIFT_SKIP, 1000000, 0, "skip:1" },
	{ "skip:1.000000", DRIFT_SKIP, 1000000, 0, "skip:1" },
	{ "skip:0.25", DRIFT_SKIP, 250000, 0, "skip:0.25" },
	{ "skip:0.000001", DRIFT_SKIP, 1, 0, "skip:0.000001" },
	{ "skip:00.125", DRIFT_SKIP, 125000, 0, "skip:0.125" },
	{ "slew:1000", DRIFT_SLEW, 0, 1000, "slew:1000" },
	{ "slew:500000", DRIFT_SLEW, 0, 500000, "slew:500000" },
};

#define NR_GOOD_DRIFT (sizeof(good_drift_cases) / sizeof(good_drift_cases[0]))

#define NR_CLOCK_DRIFT_TESTS (3 + NR_GOOD_DRIFT + NR_BAD_CLOCK_DRIFT)

static void test_clock_drift(void)
{
	char text[256], err[512], name[DRIFT_POLICY_NAME_MAX];
	struct domain_config cfg;
	size_t i;
	int ret;

	ret = parse("name = \"a\"\n" KERNEL_LINE, &cfg, err, sizeof(err));
	tap_ok(ret == 0 && cfg.clock == CLOCK_MODE_HOST &&
	       cfg.drift.kind == DRIFT_KEEP,
	       "clock defaults to host, drift to keep (%s)", ret ? err : "ok");
	if (!ret)
		domain_config_free(&cfg);
	ret = parse("name = \"a\"\n" KERNEL_LINE "clock = \"virtual\"\n"
		    "tcg_thread = \"single\"\ndrift = \"skip:0.5\"\n", &cfg,
		    err, sizeof(err));
	tap_ok(ret == 0 && cfg.clock == CLOCK_MODE_VIRTUAL &&
	       !strcmp(clock_mode_name(cfg.clock), "virtual") &&
	       cfg.drift.kind == DRIFT_SKIP,
	       "clock = \"virtual\" with tcg_thread = \"single\" and skip (%s)",
	       ret ? err : "ok");
	if (!ret)
		domain_config_free(&cfg);
	ret = parse("name = \"a\"\n" KERNEL_LINE "clock = \"host\"\n"
		    "accel = \"kvm\"\n", &cfg, err, sizeof(err));
	tap_ok(ret == 0 && cfg.clock == CLOCK_MODE_HOST,
	       "clock = \"host\" with kvm (%s)", ret ? err : "ok");
	if (!ret)
		domain_config_free(&cfg);

	for (i = 0; i < NR_GOOD_DRIFT; i++) {
		snprintf(text, sizeof(text), DRIFT_PREFIX "\"%s\"\n",
			 good_drift_cases[i].value);
		ret = parse(text, &cfg, err, sizeof(err));
		if (ret) {
			tap_ok(0, "drift = \"%s\" parses (%s)",
			       good_drift_cases[i].value, err);
			continue;
		}
		drift_policy_name(&cfg.drift, name, sizeof(name));
		tap_ok(cfg.drift.kind == good_drift_cases[i].kind &&
		       cfg.drift.skip_fraction_ppm == good_drift_cases[i].fraction_ppm &&
		       cfg.drift.slew_ppm == good_drift_cases[i].slew_ppm &&
		       !strcmp(name, good_drift_cases[i].name),
		       "drift = \"%s\": kind %d, fraction %u/1e6, %u ppm, named '%s'",
		       good_drift_cases[i].value, (int)cfg.drift.kind,
		       cfg.drift.skip_fraction_ppm, cfg.drift.slew_ppm, name);
		domain_config_free(&cfg);
	}

	expect_refusals("clock/drift", bad_clock_drift_cases, NR_BAD_CLOCK_DRIFT);
}

static void test_good(void)
{
	struct domain_config cfg;
	char err[512];
	char expect_ramdisk[600];
	int ret;

	ret = parse("# a comment\n"
		    "name = \"guest-1.a_b\"   # trailing comment\n"
		    "vcpus = 2\n"
		    "memory = 0x200\n"
		    "kernel = \"vmlinuz\"\n"
		    "ramdisk = \"initrd\"\n"
		    "extra = \"console=ttyS0 say=\\\"hi\\\" back\\\\slash\"\n"
		    "accel = \"kvm\"; qemu = \"/bin/true\"\n"
		    "device_model_args = [ \"-device\",\n"
		    "    \"virtio-rng-pci\",   # with a trailing comma\n"
		    "]\n"
		    "pvtime_abi_version = 7\n"
		    "tsc_stable = \"off\"\n",
		    &cfg, err, sizeof(err));
	tap_ok(ret == 0, "full config parses (%s)", ret ? err : "ok");
	if (ret) {
		tap_ok(0, "values (skipped)");
		return;
	}
	snprintf(expect_ramdisk, sizeof(expect_ramdisk), "%s/initrd", dir);
	tap_ok(!strcmp(cfg.name, "guest-1.a_b") && cfg.vcpus == 2 &&
	       cfg.memory_mib == 512 && !strcmp(cfg.kernel, kernel_path) &&
	       !strcmp(cfg.ramdisk, expect_ramdisk) &&
	       !strcmp(cfg.extra, "console=ttyS0 say=\"hi\" back\\slash") &&
	       cfg.accel == DOMAIN_ACCEL_KVM && !strcmp(cfg.qemu, "/bin/true") &&
	       cfg.nr_dm_args == 2 && !strcmp(cfg.dm_args[0], "-device") &&
	       !strcmp(cfg.dm_args[1], "virtio-rng-pci") && cfg.abi_version == 7 &&
	       cfg.tsc_stable == TSC_STABLE_OFF,
	       "values, escapes, relative paths and lists are right (kernel %s, extra %s)",
	       cfg.kernel, cfg.extra);
	domain_config_free(&cfg);
}

static void test_defaults(void)
{
	struct domain_config cfg;
	char err[512];
	int ret;

	ret = parse("name=\"d\"\nkernel=\"vmlinuz\"", &cfg, err, sizeof(err));
	tap_ok(ret == 0, "minimal config without final newline parses (%s)",
	       ret ? err : "ok");
	if (ret) {
		tap_ok(0, "defaults (skipped)");
		return;
	}
	tap_ok(cfg.vcpus == 1 && cfg.memory_mib == 512 && !cfg.ramdisk &&
	       !strcmp(cfg.extra, "") && cfg.accel == DOMAIN_ACCEL_TCG &&
	       !strcmp(cfg.qemu, DOMAIN_DEFAULT_QEMU) && cfg.nr_dm_args == 0 &&
	       cfg.abi_version == PVTIME_ABI_VERSION &&
	       cfg.tsc_stable == TSC_STABLE_AUTO &&
	       cfg.tcg_thread == TCG_THREAD_SINGLE,
	       "defaults: 1 vcpu, 512 MiB, tcg, no ramdisk, ABI %u, tsc_stable auto, "
	       "tcg_thread single",
	       PVTIME_ABI_VERSION);
	domain_config_free(&cfg);
}

/* Both tcg_thread values parse; the names round-trip. */
static void test_tcg_thread(void)
{
	static const struct {
		const char *text;
		enum tcg_thread_mode want;
	} cases[] = {
		{ "name = \"t\"\n" KERNEL_LINE "tcg_thread = \"multi\"\n",
		  TCG_THREAD_MULTI },
		{ "name = \"t\"\n" KERNEL_LINE "accel = \"tcg\"\n"
		  "tcg_thread = \"single\"\n", TCG_THREAD_SINGLE },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct domain_config cfg;
		char err[512];
		int ret = parse(cases[i].text, &cfg, err, sizeof(err));

		tap_ok(ret == 0 && cfg.tcg_thread == cases[i].want &&
		       cfg.accel == DOMAIN_ACCEL_TCG,
		       "tcg_thread = \"%s\" parses (%s)",
		       tcg_thread_mode_name(cases[i].want), ret ? err : "ok");
		if (!ret)
			domain_config_free(&cfg);
	}
	tap_ok(!strcmp(tcg_thread_mode_name(TCG_THREAD_SINGLE), "single") &&
	       !strcmp(tcg_thread_mode_name(TCG_THREAD_MULTI), "multi"),
	       "tcg_thread_mode_name: single, multi");
}

/*
 * time_source, rtc_timeoffset and localtime: defaults, signs, limits, and
 * the offset at create (localtime adds the host's UTC offset of the time).
 */
#define NR_WALL_OFFSET_TESTS 8
static void test_wall_offset_keys(void)
{
	/* 2026-07-01T12:00:00Z: summer time in Europe/Berlin (+2 h). */
	const time_t summer = 1782907200;
	/* 2026-01-15T12:00:00Z: winter time there (+1 h). */
	const time_t winter = 1768478400;
	struct domain_config cfg;
	int64_t utc_offset;
	char err[512];
	int ret;

	ret = parse("name = \"w\"\n" KERNEL_LINE, &cfg, err, sizeof(err));
	tap_ok(ret == 0 && !cfg.time_source && !cfg.localtime &&
	       cfg.rtc_timeoffset_s == 0 &&
	       domain_config_create_offset_s(&cfg, summer, &utc_offset) == 0 &&
	       utc_offset == 0,
	       "defaults: not the time source, offset 0, UTC (%s)", ret ? err : "ok");
	if (!ret)
		domain_config_free(&cfg);

	ret = parse("name = \"w\"\n" KERNEL_LINE "time_source = 1\n"
		    "rtc_timeoffset = -3600\nlocaltime = 0\n", &cfg, err, sizeof(err));
	tap_ok(ret == 0 && cfg.time_source && cfg.rtc_timeoffset_s == -3600 &&
	       domain_config_create_offset_s(&cfg, summer, &utc_offset) == -3600,
	       "time_source = 1, rtc_timeoffset = -3600 (%s)", ret ? err : "ok");
	if (!ret)
		domain_config_free(&cfg);

	ret = parse("name = \"w\"\n" KERNEL_LINE "rtc_timeoffset = +1576800000\n",
		    &cfg, err, sizeof(err));
	tap_ok(ret == 0 && cfg.rtc_timeoffset_s == DOMAIN_RTC_TIMEOFFSET_MAX,
	       "rtc_timeoffset = +1576800000, the limit, with a plus sign (%s)",
	       ret ? err : "ok");
	if (!ret)
		domain_config_free(&cfg);

	ret = parse("name = \"w\"\n" KERNEL_LINE "rtc_timeoffset = -0x10\n",
		    &cfg, err, sizeof(err));
	tap_ok(ret == 0 && cfg.rtc_timeoffset_s == -16,
	       "rtc_timeoffset = -0x10 (hex, as every number key) (%s)",
	       ret ? err : "ok");
	if (!ret)
		domain_config_free(&cfg);

	/* POSIX rules, so no tzdata is needed: Europe/Berlin's. */
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	ret = parse("name = \"w\"\n" KERNEL_LINE "localtime = 1\n", &cfg, err,
		    sizeof(err));
	tap_ok(ret == 0 && cfg.localtime &&
	       domain_config_create_offset_s(&cfg, summer, &utc_offset) == 7200 &&
	       utc_offset == 7200,
	       "localtime = 1 in CET/CEST in July: +7200 s (%s)",
	       ret ? err : "ok");
	tap_ok(ret == 0 &&
	       domain_config_create_offset_s(&cfg, winter, &utc_offset) == 3600 &&
	       utc_offset == 3600,
	       "... in January: +3600 s (DST as at create)");
	if (!ret)
		domain_config_free(&cfg);

	ret = parse("name = \"w\"\n" KERNEL_LINE "localtime = 1\n"
		    "rtc_timeoffset = 60\n", &cfg, err, sizeof(err));
	tap_ok(ret == 0 &&
	       domain_config_create_offset_s(&cfg, winter, &utc_offset) == 3660 &&
	       utc_offset == 3600,
	       "localtime and rtc_timeoffset add up, as in xl: +3660 s (%s)",
	       ret ? err : "ok");
	if (!ret)
		domain_config_free(&cfg);

	setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
	tzset();
	ret = parse("name = \"w\"\n" KERNEL_LINE "localtime = 1\n", &cfg, err,
		    sizeof(err));
	tap_ok(ret == 0 &&
	       domain_config_create_offset_s(&cfg, winter, &utc_offset) == -5 * 3600,
	       "localtime = 1 in EST/EDT in January: -18000 s (%s)",
	       ret ? err : "ok");
	if (!ret)
		domain_config_free(&cfg);
	unsetenv("TZ");
	tzset();
}

static void test_bad(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct domain_config cfg;
		char err[512];
		int ret = parse(c->text, &cfg, err, sizeof(err));

		tap_ok(ret == -1 && !strncmp(err, cfg_path, strlen(cfg_path)) &&
		       strstr(err, c->expect),
		       "rejects %s: got \"%s\", want \"...%s...\"", c->what, err,
		       c->expect);
	}
}

static void test_load(void)
{
	struct domain_config cfg;
	char err[512];
	char path[600];
	int ret;

	ret = domain_config_load("/nonexistent/x.cfg", &cfg, err, sizeof(err));
	tap_ok(ret == -1 && strstr(err, "/nonexistent/x.cfg: No such file"),
	       "missing config file: %s", err);

	snprintf(path, sizeof(path), "%s/load.cfg", dir);
	write_file(path, "name = \"fromfile\"\nkernel = \"vmlinuz\"\n");
	ret = domain_config_load(path, &cfg, err, sizeof(err));
	tap_ok(ret == 0 && !strcmp(cfg.name, "fromfile") &&
	       !strcmp(cfg.kernel, kernel_path),
	       "load from file resolves kernel next to it (%s)", ret ? err : cfg.kernel);
	if (!ret)
		domain_config_free(&cfg);

	write_file(path, "name = \"x\"\nkernel = \"vmlinuz\"\n\0junk");
	{
		FILE *f = fopen(path, "w");

		fwrite("name = \"x\"\n\0\n", 1, 13, f);
		fclose(f);
	}
	ret = domain_config_load(path, &cfg, err, sizeof(err));
	tap_ok(ret == -1 && strstr(err, "NUL byte"), "binary config refused: %s", err);
}

int main(void)
{
	char path[600];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(cfg_path, sizeof(cfg_path), "%s/test.cfg", dir);
	snprintf(kernel_path, sizeof(kernel_path), "%s/vmlinuz", dir);
	write_file(kernel_path, "kernel");
	snprintf(path, sizeof(path), "%s/initrd", dir);
	write_file(path, "initrd");

	tap_plan(4 + 3 + (int)(sizeof(bad_cases) / sizeof(bad_cases[0])) + 3 +
		 1 + (int)(NR_GOOD_STOPPED_TIME + NR_BAD_STOPPED_TIME) +
		 NR_WALL_OFFSET_TESTS + (int)NR_CLOCK_DRIFT_TESTS);
	test_good();
	test_defaults();
	test_tcg_thread();
	test_bad();
	test_load();
	test_stopped_time();
	test_wall_offset_keys();
	test_clock_drift();

	unlink(kernel_path);
	unlink(path);
	snprintf(path, sizeof(path), "%s/load.cfg", dir);
	unlink(path);
	rmdir(dir);
	return tap_done();
}
