#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Print the guest kernel version pvtime builds against: the newest
# linux-headers-*-amd64 that has a matching /boot/vmlinuz-*.  The module must
# be built for exactly the kernel the guest boots, so a headers package with
# no kernel image (or the reverse) does not count.
set -eu

best=
for dir in /usr/src/linux-headers-*-amd64; do
	[ -d "$dir" ] || continue
	ver=${dir#/usr/src/linux-headers-}
	if [ ! -f "/boot/vmlinuz-$ver" ] || [ ! -e "/lib/modules/$ver/build" ]; then
		continue
	fi
	best=$(printf '%s\n%s\n' "$best" "$ver" | sort -V | tail -n 1)
done
if [ -z "$best" ]; then
	echo "deps-kver.sh: no kernel with both /boot/vmlinuz-VER and" \
	     "/usr/src/linux-headers-VER-amd64; run tools/deps.sh as root" \
	     "(installs linux-image-amd64 and linux-headers-amd64)" >&2
	exit 1
fi
echo "$best"
