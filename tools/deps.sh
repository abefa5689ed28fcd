#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian 12 packages pvtime needs, if any is missing.  Prints
# nothing when everything is already there, so `make` stays quiet.  Runs
# `apt-get update` only when it has something to install, and only as root.
set -eu

prog=deps.sh

# What each package is for:
#   qemu-system-x86            the guest engine (TCG) and ivshmem-doorbell
#   linux-image-amd64          the guest kernel (booted by QEMU)
#   linux-headers-amd64        to build pvtime.ko for that kernel
#   linux-source-6.1           kernel timers selftests + checkpatch.pl
#   libxen-dev                 Xen's public headers (shared_info layout)
#   busybox-static             the guest's userland
#   sparse                     `make lint`
#   gcc make libc6-dev binutils  userspace and static guest binaries
#   python3                    the test runner
#   cpio gzip xz-utils         guest image, source extraction
#   util-linux                 setpriv (non-root control-socket test)
#   perl                       checkpatch.pl
#   clang-14 libclang-rt-14-dev  fuzzing: clang -fsanitize=fuzzer (libFuzzer
#                              and the sanitizer runtimes are in the latter)
#   systemd                    systemd-analyze (checks the pvtimed unit)
#   libcap2 libedit2 libgnutls30 libnettle8 libseccomp2
#                              the libraries Debian's chronyd and chronyc
#                              load, copied into the chrony guests
#                              (tools/mkguest/chrony-image.sh); chrony
#                              itself is only downloaded, never installed
packages="qemu-system-x86 linux-image-amd64 linux-headers-amd64
linux-source-6.1 libxen-dev busybox-static sparse gcc make libc6-dev
binutils python3 cpio gzip xz-utils util-linux perl clang-14
libclang-rt-14-dev systemd libcap2 libedit2 libgnutls30 libnettle8
libseccomp2"

is_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}

missing=
for pkg in $packages; do
	is_installed "$pkg" || missing="$missing $pkg"
done
# The package can be installed while its tarball was deleted.
if [ ! -f /usr/src/linux-source-6.1.tar.xz ] && is_installed linux-source-6.1; then
	echo "$prog: /usr/src/linux-source-6.1.tar.xz is missing although" \
	     "linux-source-6.1 is installed; run:" \
	     "apt-get install --reinstall linux-source-6.1" >&2
	exit 1
fi

meta_version() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true
}

# The kernel image and the headers must be the same version, or the module
# is built for a kernel the guest does not boot.
kernel_matches() {
	[ "$(meta_version linux-image-amd64)" = "$(meta_version linux-headers-amd64)" ] &&
		"$(dirname "$0")/deps-kver.sh" >/dev/null 2>&1
}

if [ -z "$missing" ] && kernel_matches; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	if [ -n "$missing" ]; then
		echo "$prog: missing Debian packages:$missing" >&2
	else
		echo "$prog: linux-image-amd64 and linux-headers-amd64 differ" >&2
	fi
	echo "$prog: run as root to install them (or: apt-get install" \
	     "--no-install-recommends$missing)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "$prog: installing:${missing:- (kernel image/headers update)}"
apt-get update -q
# linux-image-amd64 and linux-headers-amd64 always go together, so a fresh
# install or an upgrade of one brings the other to the same version.
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -q --no-install-recommends $missing \
	linux-image-amd64 linux-headers-amd64

if ! kernel_matches; then
	echo "$prog: kernel image $(meta_version linux-image-amd64) and headers" \
	     "$(meta_version linux-headers-amd64) still differ, or no" \
	     "/boot/vmlinuz-VER has /usr/src/linux-headers-VER;" \
	     "check 'apt-cache policy linux-image-amd64 linux-headers-amd64'" >&2
	exit 1
fi
echo "$prog: done; guest kernel $("$(dirname "$0")/deps-kver.sh")"
