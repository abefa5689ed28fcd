# SPDX-License-Identifier: GPL-2.0
#
# pvtime top-level build.  Everything goes into $(BUILD).
#
#   make          install missing Debian packages, build everything
#   make check    build, then run every test suite (selftests/run_check.py)
#   make run      demo: one guest, pvtime clocksource, a +1h wall-clock step
#   make lint     checkpatch --strict + sparse on the module and shared/, -Werror builds
#   make install  pvtimed, pvxl (and its bash completion), the systemd unit
#                 and the docs (PREFIX, DESTDIR)
#   make soak     full-length timers selftests and long guest runs (PVTIME_SOAK=1)
#   make bench    one guest: pvtime vs tsc vs hpet vs acpi_pm, one table
#   make fuzz     libFuzzer harnesses, FUZZ_SECONDS (600) each (selftests/fuzz)
#   make qemu-migration-check  does this QEMU's live migration keep guest RAM?
#   make clean    remove build/ and the module's build products
#
# The top level only runs the dependency step and then re-invokes make for
# the real build, so that KVER is computed after packages are installed.

BUILD ?= $(CURDIR)/build
SANITIZE ?=
PYTHON ?= python3
# Extra files for the guest image, as SRC:DEST pairs (DEST absolute).
GUEST_EXTRA_FILES ?=
# Extra words for the guest kernel command line of the generated configs.
GUEST_CMDLINE ?=
# Arguments for selftests/run_check.py (e.g. --only guest, --keep).
CHECK_ARGS ?=
# Arguments for selftests/run_bench.py (e.g. --rate-seconds 20, --keep).
BENCH_ARGS ?=
# Arguments for selftests/qemu_migration_check.py (e.g. --runs 5).
QEMU_MIGRATION_ARGS ?=
# make install: where things go (DESTDIR is prepended to each).
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
DOCDIR ?= $(PREFIX)/share/doc/pvtime
UNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

export BUILD

.PHONY: all deps build check run lint soak bench fuzz clean help install \
	qemu-migration-check FORCE

# The build runs JOBS recipes at once (one per core) unless make was
# given -j itself.
JOBS ?= $(shell nproc)

all: deps
	@$(MAKE) --no-print-directory \
		$(if $(findstring jobserver,$(MAKEFLAGS)),,-j$(JOBS)) build

deps:
	@tools/deps.sh

help:
	@sed -n '3,14s/^# \{0,1\}//p' Makefile

# run_check.py builds and runs the host unit tests itself, with SANITIZE=1.
check: all
	$(PYTHON) selftests/run_check.py --build $(BUILD) $(CHECK_ARGS)

# Only the guest phase: the host phases are the same as in make check.
soak: all
	$(PYTHON) selftests/run_check.py --build $(BUILD) --soak --only guests \
		$(CHECK_ARGS)

bench: all
	$(PYTHON) selftests/run_bench.py --build $(BUILD) $(BENCH_ARGS)

# Plain QEMU, no pvtime: live, then stopped (Documentation/testing.rst).
# The live runs are expected to fail on QEMU 7.2; the target says so.
qemu-migration-check: all
	-$(PYTHON) selftests/qemu_migration_check.py --build $(BUILD) --mode live \
		$(QEMU_MIGRATION_ARGS)
	$(PYTHON) selftests/qemu_migration_check.py --build $(BUILD) --mode stopped \
		$(QEMU_MIGRATION_ARGS)

# Needs only clang (tools/deps.sh), not the guest build.  FUZZ_SECONDS,
# FUZZ_MERGE=1 and FUZZ_HARNESSES pass through to selftests/fuzz/Makefile.
fuzz: deps
	@$(MAKE) --no-print-directory -C selftests/fuzz fuzz BUILD=$(BUILD)

run: all
	$(PYTHON) selftests/run_demo.py --build $(BUILD)

lint: all
	@$(MAKE) --no-print-directory lint-module lint-userspace

# Only the userspace: no guest kernel needed.  The unit gets the paths in.
DOCS := README.md $(wildcard Documentation/*.rst)
install:
	@$(MAKE) --no-print-directory -C hyp all BUILD=$(BUILD) SANITIZE=
	@$(MAKE) --no-print-directory -C tools all BUILD=$(BUILD) SANITIZE=
	install -D -m 0755 $(BUILD)/pvtimed $(DESTDIR)$(SBINDIR)/pvtimed
	install -D -m 0755 $(BUILD)/pvxl $(DESTDIR)$(BINDIR)/pvxl
	install -D -m 0644 tools/pvxl/bash-completion \
		$(DESTDIR)$(BASHCOMPDIR)/pvxl
	install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
		hyp/pvtimed.service.in > $(DESTDIR)$(UNITDIR)/pvtimed.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/pvtimed.service
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/

clean:
	@ver=$$(tools/deps-kver.sh 2>/dev/null) && \
		$(MAKE) -C /lib/modules/$$ver/build M=$(CURDIR) clean >/dev/null || \
		find guest-module \( -name '*.o' -o -name '*.ko' -o -name '*.mod' \
			-o -name '*.mod.c' -o -name '.*.cmd' \) -delete
	rm -rf $(BUILD)

# ---------------------------------------------------------------------------
# Everything below runs in the sub-make started by `all`.

TOP_GOALS := all deps check soak bench fuzz run lint clean help install \
	qemu-migration-check
ifneq ($(filter-out $(TOP_GOALS),$(MAKECMDGOALS)),)
KVER := $(shell tools/deps-kver.sh)
ifeq ($(KVER),)
$(error no usable guest kernel: see the message above (tools/deps-kver.sh))
endif
endif

KDIR := /lib/modules/$(KVER)/build
GUEST_KERNEL := /boot/vmlinuz-$(KVER)
LINUX_SRC := $(BUILD)/linux-src
KSFT_DIR := $(LINUX_SRC)/tools/testing/selftests
LINUX_TARBALL := /usr/src/linux-source-6.1.tar.xz
GUEST := $(BUILD)/guest
# The same kernel for make check's guests, booted through its PVH entry,
# and the guest image uncompressed: under TCG the bzImage's decompressor
# and the initramfs's gunzip run as guest code, about 7 of a boot's 11 s
# (Documentation/testing.rst, "Guest boots").
CHECK_KERNEL := $(GUEST)/vmlinux-$(KVER)
MODULE_KO := guest-module/pvtime.ko
# run-guest-tests.sh belongs to the guest-module part; accept it where that
# part keeps it.
RUN_GUEST_TESTS = $(firstword $(wildcard guest-module/run-guest-tests.sh \
	selftests/guest/run-guest-tests.sh \
	$(BUILD)/guest-tests/run-guest-tests.sh))

# The kernel's timers selftests that the guest runs.  clocksource-switch and
# skew_consistency exec ./inconsistency-check and ./nanosleep, so all of them
# live in one directory and must run with it as the working directory.
TIMERS_TESTS := posix_timers nanosleep nsleep-lat set-timer-lat mqueue-lat \
	inconsistency-check threadtest raw_skew clocksource-switch \
	valid-adjtimex adjtick freq-step set-tai set-2038 leap-a-day \
	skew_consistency
TIMERS_BINS := $(addprefix $(GUEST)/timers/,$(TIMERS_TESTS))
# Shortened copies for make check of the tests that have no option to run
# shorter (the edits and why: tools/mkguest/timers-short.py --table).
TIMERS_SHORTEN := tools/mkguest/timers-short.py
TIMERS_SHORT_TESTS := $(shell $(PYTHON) $(TIMERS_SHORTEN) --list)
TIMERS_SHORT_BINS := $(addprefix $(GUEST)/timers-short/,$(TIMERS_SHORT_TESTS))
# Flags from the selftest's own Makefile, static for the initramfs.
# valid-adjtimex defines its own clock_adjtime(), which clashes with glibc's
# in a static link: rename the test's copy.
# -I timers/: the shortened sources include "../kselftest.h" from elsewhere.
TIMERS_CFLAGS := -static -O2 -Wall -Wl,-no-as-needed -I$(KSFT_DIR) \
	-I$(KSFT_DIR)/timers
TIMERS_LDLIBS := -lrt -lpthread -lm
$(GUEST)/timers/valid-adjtimex: TIMERS_CFLAGS += -Dclock_adjtime=ksft_clock_adjtime

LINUX_MEMBERS := tools/testing/selftests/kselftest.h \
	tools/testing/selftests/kselftest_harness.h \
	tools/testing/selftests/kselftest \
	tools/testing/selftests/timers \
	scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch
LINUX_STAMP := $(LINUX_SRC)/.extracted

CONFIGS := $(GUEST)/default.cfg $(GUEST)/test.cfg $(GUEST)/wrongabi.cfg \
	$(GUEST)/soak.cfg $(GUEST)/bench.cfg $(GUEST)/idle.cfg \
	$(GUEST)/status.cfg $(GUEST)/ptp.cfg

# The last pvtime.ko before the clock status (ABI 1 without
# PVTIME_F_CLOCK_STATUS), built from git for the same kernel: the status
# guest loads it against this pvtimed, an old module meeting a new hyp
# (Documentation/abi.rst, "Versioning").
ABI_BASE_COMMIT := 51cfa376abd209a28f659a1ec52aadfe806a0d9e
ABI_BASE_DIR := $(BUILD)/abi-base-module
ABI_BASE_KO := $(ABI_BASE_DIR)/guest-module/pvtime.ko
GUEST_BASE_CMDLINE := $(strip console=ttyS0 loglevel=4 panic=-1 $(GUEST_CMDLINE))

# Debian's chrony (binaries and the libraries they load) for the guests
# that run it: an archive appended to the initramfs, so the others boot
# without it (tools/mkguest/chrony-image.sh).
CHRONY_DIR := $(BUILD)/chrony
CHRONY_CPIO := $(CHRONY_DIR)/chrony.cpio.gz

.PHONY: hyp tools meter module guest-tests timers guest-image configs \
	lint-module lint-userspace abi-base-module

build: hyp tools meter module abi-base-module guest-tests timers guest-image \
	configs
	@echo "pvtime: built for guest kernel $(KVER) in $(BUILD)"

hyp:
	$(MAKE) -C hyp all BUILD=$(BUILD) SANITIZE=$(SANITIZE)

tools:
	$(MAKE) -C tools all BUILD=$(BUILD) SANITIZE=$(SANITIZE)

# The test time meter's host program (Documentation/testing.rst).
meter:
	$(MAKE) -C selftests/host/meter all BUILD=$(BUILD) SANITIZE=$(SANITIZE)

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

abi-base-module: $(ABI_BASE_KO)

# Without the commit (a tarball, a shallow clone) the image goes without
# it and the status guest fails its first result, saying so.
$(ABI_BASE_KO):
	@if ! git rev-parse -q --verify $(ABI_BASE_COMMIT)^{commit} >/dev/null; then \
		echo "warning: commit $(ABI_BASE_COMMIT) is not in this" \
		     "repository's history: no ABI base module, the status" \
		     "guest test will fail (git fetch --unshallow)" >&2; \
	else \
		echo "  MODULE  $@ (ABI base $(ABI_BASE_COMMIT))" && \
		rm -rf $(ABI_BASE_DIR) && mkdir -p $(ABI_BASE_DIR) && \
		git archive $(ABI_BASE_COMMIT) Kbuild guest-module shared | \
			tar -x -C $(ABI_BASE_DIR) && \
		$(MAKE) -s -C $(KDIR) M=$(ABI_BASE_DIR) modules >/dev/null; \
	fi

guest-tests: $(LINUX_STAMP)
	$(MAKE) -C selftests/guest all KSFT_DIR=$(KSFT_DIR) BUILD=$(BUILD)

timers: $(TIMERS_BINS) $(TIMERS_SHORT_BINS)

$(LINUX_STAMP): $(LINUX_TARBALL)
	@echo "  EXTRACT $(LINUX_SRC) (selftests, checkpatch)"
	@rm -rf $(LINUX_SRC) && mkdir -p $(LINUX_SRC)
	@tar -xJf $< -C $(LINUX_SRC) --strip-components=1 \
		$(addprefix linux-source-6.1/,$(LINUX_MEMBERS))
	@touch $@

$(LINUX_TARBALL):
	$(error $@ is missing: install linux-source-6.1 (tools/deps.sh))

$(GUEST)/timers/%: $(LINUX_STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(TIMERS_CFLAGS) -o $@ $(KSFT_DIR)/timers/$*.c $(TIMERS_LDLIBS)

# Kept for reading: they are what the guest's shortened tests run.
.PRECIOUS: $(GUEST)/timers-short-src/%.c
$(GUEST)/timers-short-src/%.c: $(LINUX_STAMP) $(TIMERS_SHORTEN)
	@mkdir -p $(@D)
	@$(PYTHON) $(TIMERS_SHORTEN) $(KSFT_DIR)/timers $* $@

$(GUEST)/timers-short/%: $(GUEST)/timers-short-src/%.c
	@mkdir -p $(@D)
	@echo "  CC      $@ (shortened)"
	@$(CC) $(TIMERS_CFLAGS) -o $@ $< $(TIMERS_LDLIBS)

# Cheap to rebuild, and its inputs come from sub-makes: always rebuild.
guest-image: module abi-base-module guest-tests timers $(CHRONY_CPIO)
	@if [ -z "$(RUN_GUEST_TESTS)" ]; then \
		echo "error: run-guest-tests.sh not found (guest-module/ or" \
		     "selftests/guest/)" >&2; exit 1; fi
	@echo "  MKGUEST $(GUEST)/initramfs.cpio.gz"
	@tools/mkguest/mkguest.sh --output $(GUEST)/initramfs.cpio.gz \
		--module $(MODULE_KO) --run-tests $(RUN_GUEST_TESTS) \
		--guest-tests $(BUILD)/guest-tests --timers $(GUEST)/timers \
		--timers-short $(GUEST)/timers-short \
		$(if $(wildcard $(ABI_BASE_KO)),--add $(ABI_BASE_KO):/pvtime/pvtime-abi-base.ko) \
		$(addprefix --add ,$(GUEST_EXTRA_FILES))
	@echo "  MKGUEST $(GUEST)/initramfs-chrony.cpio.gz"
	@cat $(GUEST)/initramfs.cpio.gz $(CHRONY_CPIO) \
		>$(GUEST)/initramfs-chrony.cpio.gz.tmp
	@mv -f $(GUEST)/initramfs-chrony.cpio.gz.tmp \
		$(GUEST)/initramfs-chrony.cpio.gz
	@for image in initramfs initramfs-chrony; do \
		echo "  GUNZIP  $(GUEST)/$$image.cpio"; \
		gzip -dc $(GUEST)/$$image.cpio.gz >$(GUEST)/$$image.cpio.tmp && \
		mv -f $(GUEST)/$$image.cpio.tmp $(GUEST)/$$image.cpio || exit 1; \
	done

$(CHECK_KERNEL): $(GUEST_KERNEL) tools/mkguest/pvh-kernel.py
	@mkdir -p $(@D)
	@echo "  PVH     $@"
	@$(PYTHON) tools/mkguest/pvh-kernel.py $< $@

$(CHRONY_CPIO): tools/mkguest/chrony-image.sh
	@echo "  CHRONY  $(CHRONY_DIR) (apt-get download chrony, dpkg-deb -x)"
	@tools/mkguest/chrony-image.sh $(CHRONY_DIR)

configs: $(CONFIGS)

$(GUEST)/default.cfg: FORCE
	@mkdir -p $(@D)
	@tools/mkguest/mkcfg.sh $@ pvtime-demo $(GUEST_KERNEL) \
		"$(GUEST_BASE_CMDLINE) pvtest=run"
$(GUEST)/test.cfg: $(CHECK_KERNEL) FORCE
	@mkdir -p $(@D)
	@RAMDISK=initramfs.cpio tools/mkguest/mkcfg.sh $@ pvtime-test \
		$(CHECK_KERNEL) \
		"$(GUEST_BASE_CMDLINE) pvtest=main"
$(GUEST)/wrongabi.cfg: FORCE
	@mkdir -p $(@D)
	@tools/mkguest/mkcfg.sh $@ pvtime-wrongabi $(GUEST_KERNEL) \
		"$(GUEST_BASE_CMDLINE) pvtest=wrongabi" "pvtime_abi_version = 99"
$(GUEST)/status.cfg: $(CHECK_KERNEL) FORCE
	@mkdir -p $(@D)
	@RAMDISK=initramfs.cpio tools/mkguest/mkcfg.sh $@ pvtime-status \
		$(CHECK_KERNEL) \
		"$(GUEST_BASE_CMDLINE) pvtest=status"
$(GUEST)/soak.cfg: FORCE
	@mkdir -p $(@D)
	@tools/mkguest/mkcfg.sh $@ pvtime-soak $(GUEST_KERNEL) \
		"$(GUEST_BASE_CMDLINE) pvtest=main PVTIME_SOAK=1"
# tsc=reliable: the guest keeps tsc as a usable clocksource next to hpet
# and acpi_pm, so the bench compares all of them in one boot.  With
# chrony: the bench ends with chrony over the PHC.
$(GUEST)/bench.cfg: FORCE
	@mkdir -p $(@D)
	@RAMDISK=initramfs-chrony.cpio.gz tools/mkguest/mkcfg.sh $@ \
		pvtime-bench $(GUEST_KERNEL) \
		"$(GUEST_BASE_CMDLINE) tsc=reliable pvtest=bench"
# The PTP clock and Debian's chrony over it (run_check.py --only ptp).
$(GUEST)/ptp.cfg: $(CHECK_KERNEL) FORCE
	@mkdir -p $(@D)
	@RAMDISK=initramfs-chrony.cpio tools/mkguest/mkcfg.sh $@ pvtime-ptp \
		$(CHECK_KERNEL) "$(GUEST_BASE_CMDLINE) pvtest=ptp"
# The bench's idle domains: insmod, then sleep (run_bench.py renames them).
$(GUEST)/idle.cfg: $(CHECK_KERNEL) FORCE
	@mkdir -p $(@D)
	@RAMDISK=initramfs.cpio tools/mkguest/mkcfg.sh $@ pvtime-idle \
		$(CHECK_KERNEL) \
		"$(GUEST_BASE_CMDLINE) pvtest=idle"

CHECKPATCH := $(LINUX_SRC)/scripts/checkpatch.pl
MODULE_SOURCES = $(filter-out %.mod.c,$(wildcard guest-module/*.c guest-module/*.h))
# The ABI headers, compiled into the module as well as into userspace.
SHARED_HEADERS = $(wildcard shared/*.h)

lint-module: $(LINUX_STAMP)
	@# From build/: in a git work tree checkpatch drops a cache file in cwd.
	cd $(BUILD) && perl $(CHECKPATCH) --strict --no-tree --terse \
		--show-types -f $(abspath $(MODULE_SOURCES))
	@# pvtime_time_info_t names the kernel's or Xen's record struct, one
	@# per side: the one typedef the shared headers need.
	cd $(BUILD) && perl $(CHECKPATCH) --strict --no-tree --terse \
		--show-types --ignore NEW_TYPEDEFS -f $(abspath $(SHARED_HEADERS))
	@# C=2 runs sparse on every file, rebuilt or not; any report fails.
	@$(MAKE) -C $(KDIR) M=$(CURDIR) C=2 modules 2>&1 | tee $(BUILD)/sparse.log
	@if grep -E ': (warning|error):' $(BUILD)/sparse.log; then \
		echo "lint: sparse or compiler reports above" >&2; exit 1; fi
	@echo "lint: module clean under checkpatch --strict and sparse"

lint-userspace:
	$(MAKE) -C hyp all BUILD=$(BUILD)/lint SANITIZE=
	$(MAKE) -C tools all BUILD=$(BUILD)/lint SANITIZE=
	$(MAKE) -C selftests/host/meter all BUILD=$(BUILD)/lint SANITIZE=
	@echo "lint: userspace builds clean with -Werror"

FORCE:
