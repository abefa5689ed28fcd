#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of `make run`: load pvtime.ko, show that the kernel switched to
# the "pvtime" clocksource, then print the wall clock once a second so the
# host's `pvxl set-wallclock <dom> +1h` is visible as a jump.  The number of
# seconds comes from pvdemo_secs= on the kernel command line (default 30).

cs_dir=/sys/devices/system/clocksource/clocksource0
secs=30
# shellcheck disable=SC2013 # the command line is one line of words
for word in $(cat /proc/cmdline); do
	case "$word" in
	pvdemo_secs=*) secs="${word#pvdemo_secs=}" ;;
	esac
done

echo "PVTIME-DEMO-BEGIN"
echo "demo: available clocksources: $(cat $cs_dir/available_clocksource)"
echo "demo: clocksource before insmod: $(cat $cs_dir/current_clocksource)"
if ! insmod /pvtime/pvtime.ko; then
	echo "demo: insmod /pvtime/pvtime.ko failed; dmesg says:"
	dmesg | tail -n 15
	echo "PVTIME-DEMO-END failed"
	exit 1
fi
dmesg | grep -i pvtime | tail -n 5
echo "demo: clocksource after insmod:  $(cat $cs_dir/current_clocksource)"

i=0
while [ "$i" -lt "$secs" ]; do
	i=$((i + 1))
	printf 'demo: [%2d/%d] clocksource=%s date=%s\n' "$i" "$secs" \
		"$(cat $cs_dir/current_clocksource)" \
		"$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	sleep 1
done
echo "PVTIME-DEMO-END ok"
