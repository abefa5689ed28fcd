// SPDX-License-Identifier: GPL-2.0 OR MIT
/* QEMU command line built for a domain, per CONTRACT.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "domain/qemu.h"

static size_t count(char **argv)
{
	size_t n = 0;

	while (argv[n])
		n++;
	return n;
}

static int has_pair(char **argv, const char *opt, const char *val)
{
	size_t i;

	for (i = 0; argv[i] && argv[i + 1]; i++)
		if (!strcmp(argv[i], opt) && !strcmp(argv[i + 1], val))
			return 1;
	return 0;
}

int main(void)
{
	char *dm[] = { "-device", "virtio-rng-pci" };
	struct domain_config cfg = {
		.name = "g1", .vcpus = 2, .memory_mib = 512,
		.kernel = "/k", .ramdisk = "/r", .extra = "console=ttyS0 a,b",
		.accel = DOMAIN_ACCEL_TCG, .qemu = "/usr/bin/qemu-system-x86_64",
		.dm_args = dm, .nr_dm_args = 2,
	};
	struct qemu_paths paths = {
		.ivshmem = "/s/g1.ivshmem", .console = "/s/g1.console",
		.log = "/s/a,b.log", .qmp = "/s/g1.qmp", .qemu_log = "/s/g1.qemu.log",
	};
	char **argv;
	size_t n;

	tap_plan(15);
	argv = qemu_build_argv(&cfg, &paths, NULL);
	if (!tap_ok(argv != NULL, "argv built"))
		return tap_done();
	n = count(argv);
	tap_ok(!strcmp(argv[0], cfg.qemu) && has_pair(argv, "-M", "q35") &&
	       has_pair(argv, "-accel", "tcg,thread=single") &&
	       has_pair(argv, "-smp", "2") && has_pair(argv, "-m", "512"),
	       "machine, accel (single-threaded TCG by default), smp, memory");
	tap_ok(has_pair(argv, "-kernel", "/k") && has_pair(argv, "-initrd", "/r") &&
	       has_pair(argv, "-append", "console=ttyS0 a,b"),
	       "kernel, initrd, and append passed verbatim (no comma doubling)");
	tap_ok(has_pair(argv, "-chardev", "socket,id=pvtime,path=/s/g1.ivshmem") &&
	       has_pair(argv, "-device", "ivshmem-doorbell,chardev=pvtime,vectors=3,master=on"),
	       "ivshmem-doorbell with 3 vectors (mailbox, wall clock, records), migratable");
	tap_ok(has_pair(argv, "-chardev",
			"socket,id=console0,path=/s/g1.console,server=on,wait=off,logfile=/s/a,,b.log") &&
	       has_pair(argv, "-serial", "chardev:console0"),
	       "console chardev with logfile; commas in paths doubled");
	tap_ok(has_pair(argv, "-qmp", "unix:/s/g1.qmp,server=on,wait=off"), "qmp socket");
	tap_ok(n >= 2 && !strcmp(argv[n - 2], "-device") &&
	       !strcmp(argv[n - 1], "virtio-rng-pci"),
	       "device_model_args appended last, verbatim");
	qemu_argv_free(argv);

	cfg.tcg_thread = TCG_THREAD_MULTI;
	argv = qemu_build_argv(&cfg, &paths, NULL);
	tap_ok(argv && has_pair(argv, "-accel", "tcg,thread=multi"),
	       "tcg_thread = \"multi\": -accel tcg,thread=multi");
	tap_ok(argv && !has_pair(argv, "-icount", DOMAIN_VIRTUAL_ICOUNT),
	       "clock = \"host\": no -icount");
	qemu_argv_free(argv);

	cfg.tcg_thread = TCG_THREAD_SINGLE;
	cfg.clock = CLOCK_MODE_VIRTUAL;
	argv = qemu_build_argv(&cfg, &paths, NULL);
	tap_ok(argv && has_pair(argv, "-icount", "shift=0,sleep=on") &&
	       has_pair(argv, "-accel", "tcg,thread=single"),
	       "clock = \"virtual\": -icount shift=0,sleep=on on single-threaded TCG");
	qemu_argv_free(argv);
	cfg.clock = CLOCK_MODE_HOST;

	cfg.ramdisk = NULL;
	cfg.accel = DOMAIN_ACCEL_KVM;
	cfg.nr_dm_args = 0;
	argv = qemu_build_argv(&cfg, &paths, NULL);
	n = argv ? count(argv) : 0;
	tap_ok(argv && !has_pair(argv, "-initrd", "/r") &&
	       has_pair(argv, "-accel", "kvm"), "no ramdisk: no -initrd; kvm accel");
	tap_ok(argv && !strcmp(argv[n - 1], "unix:/s/g1.qmp,server=on,wait=off") &&
	       has_pair(argv, "-nodefaults", "-no-reboot") &&
	       has_pair(argv, "-display", "none"),
	       "-nodefaults -no-reboot -display none");
	qemu_argv_free(argv);

	{
		/* 2026-11-30T22:00:00Z */
		struct qemu_rtc rtc = { .offset_s = 7200, .now = 1796076000 };

		argv = qemu_build_argv(&cfg, &paths, &rtc);
		tap_ok(argv && has_pair(argv, "-rtc", "base=2026-12-01T00:00:00"),
		       "rtc_timeoffset 7200: -rtc base=<UTC date + 2 h>");
		qemu_argv_free(argv);
		rtc.offset_s = -86400 - 1;
		argv = qemu_build_argv(&cfg, &paths, &rtc);
		tap_ok(argv && has_pair(argv, "-rtc", "base=2026-11-29T21:59:59"),
		       "a negative offset: -rtc base=<a day and a second earlier>");
		qemu_argv_free(argv);
		rtc.offset_s = 0;
		argv = qemu_build_argv(&cfg, &paths, &rtc);
		n = argv ? count(argv) : 0;
		while (n && strcmp(argv[n - 1], "-rtc"))
			n--;
		tap_ok(argv && n == 0, "offset 0: no -rtc (QEMU's base=utc)");
		qemu_argv_free(argv);
	}
	return tap_done();
}
