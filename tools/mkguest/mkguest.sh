#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the pvtime test guest: a busybox-static initramfs (cpio newc, gzip)
# with the layout fixed in Documentation/CONTRACT.md:
#
#   /init                       tools/mkguest/init
#   /pvtime/pvtime.ko           --module
#   /pvtime/run-guest-tests.sh  --run-tests
#   /pvtime/selftests/<bin>     --guest-tests DIR (every regular file in it)
#   /pvtime/bin/pvtime-rate     symlink to ../selftests/pvtime-rate, if built
#   /pvtime/timers/<bin>        --timers DIR (every regular file in it)
#   /pvtime/timers-short/<bin>  --timers-short DIR (every regular file in
#                               it), plus a symlink to ../timers/<bin> for
#                               every other timers test: some tests run
#                               ./inconsistency-check, ./nanosleep from cwd
#   /pvtime/demo.sh             tools/mkguest/demo.sh
#   DEST                        --add SRC:DEST (repeatable)
#
# Every path given must exist: a missing piece is an error, never silently
# left out.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prog=$(basename "$0")

usage() {
	cat <<USAGE
usage: $prog --output FILE [--busybox PATH] [--module PATH]
       [--run-tests PATH] [--guest-tests DIR] [--timers DIR]
       [--timers-short DIR] [--add SRC:DEST]...
USAGE
	exit 2
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

output='' busybox=/bin/busybox module='' run_tests='' guest_tests='' timers=''
timers_short=''
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--output | --busybox | --module | --run-tests | --guest-tests | \
	--timers | --timers-short | --add)
		[ $# -ge 2 ] || { echo "$prog: $1 needs an argument" >&2; usage; }
		case "$1" in
		--output) output=$2 ;;
		--busybox) busybox=$2 ;;
		--module) module=$2 ;;
		--run-tests) run_tests=$2 ;;
		--guest-tests) guest_tests=$2 ;;
		--timers) timers=$2 ;;
		--timers-short) timers_short=$2 ;;
		--add) extra+=("$2") ;;
		esac
		shift 2
		;;
	-h | --help) usage ;;
	*) echo "$prog: unknown argument '$1'" >&2; usage ;;
	esac
done
[ -n "$output" ] || { echo "$prog: --output is required" >&2; usage; }

[ -f "$busybox" ] || die "busybox '$busybox' not found (install busybox-static)"
# A dynamically linked busybox would find no libc in the initramfs.
if LC_ALL=C readelf -l "$busybox" 2>/dev/null | grep -q 'INTERP'; then
	die "'$busybox' is dynamically linked; install busybox-static"
fi
for f in "$module" "$run_tests"; do
	[ -z "$f" ] || [ -f "$f" ] || die "'$f' not found"
done
for d in "$guest_tests" "$timers" "$timers_short"; do
	[ -z "$d" ] || [ -d "$d" ] || die "directory '$d' not found"
done

stage=$(mktemp -d "${TMPDIR:-/tmp}/mkguest.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,pvtime}
install -m 0755 "$busybox" "$stage/bin/busybox"
# Install every applet as a symlink where busybox itself would put it.
"$busybox" --list-full | while read -r applet; do
	[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done
install -m 0755 "$here/init" "$stage/init"
install -m 0755 "$here/demo.sh" "$stage/pvtime/demo.sh"
echo 'root:x:0:0:root:/root:/bin/sh' >"$stage/etc/passwd"
echo 'root:x:0:' >"$stage/etc/group"

[ -z "$module" ] || install -m 0644 "$module" "$stage/pvtime/pvtime.ko"
[ -z "$run_tests" ] ||
	install -m 0755 "$run_tests" "$stage/pvtime/run-guest-tests.sh"

copy_dir() { # SRC_DIR DEST_DIR: every regular file, keeping its mode
	mkdir -p "$2"
	find "$1" -maxdepth 1 -type f -exec cp -p -t "$2" {} +
}
[ -z "$guest_tests" ] || copy_dir "$guest_tests" "$stage/pvtime/selftests"
# Tools a person may run by hand live in /pvtime/bin (CONTRACT.md).
if [ -f "$stage/pvtime/selftests/pvtime-rate" ]; then
	mkdir -p "$stage/pvtime/bin"
	ln -s ../selftests/pvtime-rate "$stage/pvtime/bin/pvtime-rate"
fi
[ -z "$timers" ] || copy_dir "$timers" "$stage/pvtime/timers"
if [ -n "$timers_short" ]; then
	[ -n "$timers" ] || die "--timers-short needs --timers (for the others)"
	copy_dir "$timers_short" "$stage/pvtime/timers-short"
	for test in "$stage"/pvtime/timers/*; do
		name=$(basename "$test")
		[ -e "$stage/pvtime/timers-short/$name" ] ||
			ln -s "../timers/$name" "$stage/pvtime/timers-short/$name"
	done
fi

for spec in "${extra[@]}"; do
	src=${spec%%:*}
	dest=${spec#*:}
	if [ "$src" = "$spec" ] || [ -z "$src" ] || [ -z "$dest" ]; then
		die "--add '$spec': want SRC:DEST"
	fi
	case "$dest" in
	/*) ;;
	*) die "--add '$spec': DEST must be an absolute path in the guest" ;;
	esac
	[ -e "$src" ] || die "--add '$spec': '$src' not found"
	mkdir -p "$stage$(dirname "$dest")"
	cp -a "$src" "$stage$dest"
done

mkdir -p "$(dirname "$output")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc --owner=0:0 --reproducible) |
	gzip -6 >"$output.tmp"
mv -f "$output.tmp" "$output"
