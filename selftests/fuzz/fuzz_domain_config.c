// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer harness: the domain config parser (hyp/domain/domain_config.c), fed
 * what 'pvxl create' would have it read.  The files a config may name
 * ("vmlinuz", "initrd.img") exist in a private directory, so parses can
 * succeed and their results be checked.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain/domain_config.h"
#include "fuzz_check.h"

static char dir[] = "/tmp/pvtime-fuzz-cfg-XXXXXX";
static char cfg_path[PATH_MAX];
static char kernel_path[PATH_MAX];
static char ramdisk_path[PATH_MAX];

static void remove_files(void)
{
	unlink(kernel_path);
	unlink(ramdisk_path);
	rmdir(dir);
}

static void create_file(char *path, const char *name)
{
	FILE *f;

	snprintf(path, PATH_MAX, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	create_file(kernel_path, "vmlinuz");
	create_file(ramdisk_path, "initrd.img");
	snprintf(cfg_path, sizeof(cfg_path), "%s/fuzz.cfg", dir);
	atexit(remove_files);
	return 0;
}

static void check_config(const struct domain_config *cfg)
{
	size_t i;

	fuzz_check(domain_name_valid(cfg->name), "name '%s'", cfg->name);
	fuzz_check(cfg->vcpus >= 1 && cfg->vcpus <= DOMAIN_VCPUS_MAX,
		   "vcpus %u", cfg->vcpus);
	fuzz_check(cfg->memory_mib >= DOMAIN_MEMORY_MIN_MIB &&
		   cfg->memory_mib <= DOMAIN_MEMORY_MAX_MIB,
		   "memory %u", cfg->memory_mib);
	fuzz_check(cfg->kernel && cfg->kernel[0] == '/', "kernel not absolute");
	fuzz_check(!cfg->ramdisk || cfg->ramdisk[0] == '/',
		   "ramdisk not absolute");
	fuzz_check(cfg->extra && cfg->qemu, "extra or qemu missing");
	fuzz_check(cfg->nr_dm_args <= DOMAIN_DM_ARGS_MAX, "%zu dm args",
		   cfg->nr_dm_args);
	for (i = 0; i < cfg->nr_dm_args; i++)
		fuzz_check(cfg->dm_args[i], "dm arg %zu missing", i);
	fuzz_check(cfg->stopped_time != STOPPED_TIME_SLEW ||
		   (cfg->stopped_slew_ppm >= STOPPED_SLEW_PPM_MIN &&
		    cfg->stopped_slew_ppm <= STOPPED_SLEW_PPM_MAX),
		   "slew %u ppm", cfg->stopped_slew_ppm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct domain_config cfg;
	char err[512];
	char *text;
	int ret;

	/* domain_config_load() refuses larger files and NUL bytes. */
	if (size > DOMAIN_CONFIG_MAX_BYTES || memchr(data, '\0', size))
		return -1;
	text = strndup((const char *)data, size);
	if (!text)
		abort();
	err[0] = '\0';
	ret = domain_config_parse(cfg_path, text, &cfg, err, sizeof(err));
	if (ret == 0) {
		check_config(&cfg);
		domain_config_free(&cfg);
	} else {
		fuzz_check(ret == -1, "returned %d", ret);
		fuzz_check(!strncmp(err, cfg_path, strlen(cfg_path)) &&
			   err[strlen(cfg_path)] == ':',
			   "error without 'path:line:': %s", err);
	}
	free(text);
	return 0;
}
