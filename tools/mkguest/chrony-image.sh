#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Stage Debian's chrony for the guest image: chronyd and chronyc from the
# archive's chrony package, plus every shared library they load (glibc
# included: the rest of the guest is busybox-static), at the paths the
# dynamic linker looks in.
#
#   chrony-image.sh DIR
#
# DIR gets chrony.deb (the package, kept so that a rebuild needs no
# network), chrony.version, root/ (usr/sbin/chronyd, usr/bin/chronyc,
# lib/x86_64-linux-gnu/*.so.*, lib64/ld-linux-x86-64.so.2) and
# chrony.cpio.gz, root/ as a cpio archive to append to the guest's
# initramfs (the kernel unpacks concatenated archives in turn), so that
# only the guests that run chrony carry it.  The package is fetched with `apt-get
# download` and unpacked with `dpkg-deb -x`; it is never installed on the
# host (its chronyd.service would discipline the host's clock).  The
# libraries come from the host, which has them (tools/deps.sh installs
# chrony's library dependencies): `ldd` names them, a missing one is an
# error naming it.
set -eu

prog=$(basename "$0")
die() {
	echo "$prog: $*" >&2
	exit 1
}

[ $# -eq 1 ] || { echo "usage: $prog DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
out=$dir/root

deb=$dir/chrony.deb
if [ ! -s "$deb" ]; then
	fetch=$(mktemp -d "${TMPDIR:-/tmp}/chrony-deb.XXXXXX")
	# apt's sandbox user cannot write to a private mktemp directory.
	chmod 0755 "$fetch"
	if ! (cd "$fetch" && apt-get download -q chrony >/dev/null 2>&1); then
		# A fresh machine may not have the package lists yet.
		[ "$(id -u)" -eq 0 ] ||
			die "apt-get download chrony failed; run 'apt-get update' as root"
		apt-get update -q >/dev/null
		(cd "$fetch" && apt-get download -q chrony >/dev/null) ||
			die "apt-get download chrony failed"
	fi
	mv "$fetch"/chrony_*.deb "$deb"
	rm -rf "$fetch"
fi

unpacked=$(mktemp -d "${TMPDIR:-/tmp}/chrony-root.XXXXXX")
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
rm -rf "$out"
mkdir -p "$out"
for bin in usr/sbin/chronyd usr/bin/chronyc; do
	[ -f "$unpacked/$bin" ] || die "$deb has no $bin"
	install -D -m 0755 "$unpacked/$bin" "$out/$bin"
done

# ldd prints "libX.so.N => /path (addr)" and the loader as "/path (addr)".
for bin in usr/sbin/chronyd usr/bin/chronyc; do
	if LC_ALL=C ldd "$out/$bin" | grep -q 'not found'; then
		LC_ALL=C ldd "$out/$bin" | grep 'not found' >&2
		die "$bin needs libraries this host lacks (tools/deps.sh installs them)"
	fi
	LC_ALL=C ldd "$out/$bin" | awk '
		$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }'
done | sort -u | while read -r lib; do
	# The soname path, with the file it links to (cp -L).
	install -D -m 0644 "$(readlink -f "$lib")" "$out$lib"
done
[ -f "$out/lib64/ld-linux-x86-64.so.2" ] || die "no dynamic loader staged"
chmod 0755 "$out/lib64/ld-linux-x86-64.so.2"
dpkg-deb -f "$deb" Version >"$dir/chrony.version"

(cd "$out" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc --owner=0:0 --reproducible) |
	gzip -6 >"$dir/chrony.cpio.gz.tmp"
mv -f "$dir/chrony.cpio.gz.tmp" "$dir/chrony.cpio.gz"
