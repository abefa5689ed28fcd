#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In-guest test runner for pvtime.ko (busybox sh).  Installed in the guest
# image as /pvtime/run-guest-tests.sh and started by /init for pvtest=MODE:
#
#   main      insmod; pvtime_test; the kernel's timers selftests with pvtime
#             as the clocksource; rmmod without CLOCK_MONOTONIC stepping back
#   wrongabi  the hyp advertises ABI 99: insmod must refuse, one dmesg line
#   nodevice  no pvtime device: insmod must fail with "no pvtime device found"
#
# Output (Documentation/CONTRACT.md): PVTIME-GUEST-BEGIN/END around TAP;
# result lines at column 0, everything else prefixed "# ", except the
# PVTIME-HOST-REQUEST and PVTIME-REPORT lines meant for the host runner.
# PVTIME_SOAK=1 in the environment lengthens the timing tests.
# Exit status: number of failed results (0 = all passed or skipped).

PVTIME_DIR=${PVTIME_DIR:-/pvtime}
MODULE=$PVTIME_DIR/pvtime.ko
SELFTESTS=$PVTIME_DIR/selftests
TIMERS=$PVTIME_DIR/timers
CLOCKSOURCE=/sys/devices/system/clocksource/clocksource0
KSFT_SKIP=4
TMP=${TMPDIR:-/tmp}/pvtime-guest.$$

nr=0
failed=0

comment() {
	echo "# $*"
}

# Prefix every line of stdin with "# ".
comment_stream() {
	sed 's/^/# /'
}

# result STATUS NAME [SKIP-REASON]: STATUS 0 pass, 4 skip, else fail.
result() {
	nr=$((nr + 1))
	case "$1" in
	0) echo "ok $nr $2" ;;
	"$KSFT_SKIP") echo "ok $nr $2 # SKIP ${3:-skipped}" ;;
	*)
		echo "not ok $nr $2"
		failed=$((failed + 1))
		;;
	esac
}

check() { # NAME COMMAND...: one result from a shell condition
	name=$1
	shift
	if "$@"; then result 0 "$name"; else result 1 "$name"; fi
}

current_clocksource() {
	cat "$CLOCKSOURCE/current_clocksource"
}

# shellcheck disable=SC2317 # called through check()
module_unloaded() {
	! grep -q '^pvtime ' /proc/modules
}

# Run COMMAND..., its output as comments; sets $rc and $skip_reason.
run_commented() {
	{
		"$@" 2>&1
		echo "$?" >"$TMP.rc"
	} | tee "$TMP.out" | comment_stream
	rc=$(cat "$TMP.rc")
	skip_reason=$(grep -i 'skip' "$TMP.out" | tail -n 1 | sed 's/^[# ]*//')
	[ -n "$skip_reason" ] || skip_reason="exit code $KSFT_SKIP"
}

# One kernel timers selftest as one TAP result: run_timers NAME [ARGS...].
run_timers() {
	name=$1
	if [ ! -x "$TIMERS/$name" ]; then
		result "$KSFT_SKIP" "timers.$name" "$TIMERS/$name not in the image"
		return
	fi
	comment "timers/$* (clocksource $(current_clocksource))"
	# clocksource-switch runs ./inconsistency-check and ./nanosleep.
	shift
	started=$(date +%s)
	(cd "$TIMERS" && run_commented "./$name" "$@")
	comment "timers/$name took $(($(date +%s) - started)) s"
	rc=$(cat "$TMP.rc")
	skip_reason=$(grep -i 'skip' "$TMP.out" | tail -n 1 | sed 's/^[# ]*//')
	result "$rc" "timers.$name" "${skip_reason:-exit code $KSFT_SKIP}"
}

# pvtime_test speaks TAP itself: renumber its results into ours, keep the
# host-runner lines, comment the rest.
run_pvtime_test() {
	if [ ! -x "$SELFTESTS/pvtime_test" ]; then
		result 1 "pvtime_test (missing from $SELFTESTS)"
		return
	fi
	{
		"$SELFTESTS/pvtime_test" 2>&1
		echo "$?" >"$TMP.rc"
	} | awk -v nr="$nr" -v counts="$TMP.counts" '
		/^(not )?ok [0-9]+/ {
			nr++
			if ($1 == "not")
				failed++
			sub(/ok [0-9]+/, "ok " nr)
			print
			fflush()
			next
		}
		/^PVTIME-/ || /^#/ { print; fflush(); next }
		{ print "# " $0; fflush() }
		END { print nr, failed + 0 > counts }'
	read -r nr sub_failed <"$TMP.counts"
	failed=$((failed + sub_failed))
	rc=$(cat "$TMP.rc")
	if [ "$rc" != 0 ] && [ "$sub_failed" = 0 ]; then
		result "$rc" "pvtime_test exit status"
	fi
}

dmesg_has() {
	dmesg | grep -F -- "$1"
}

# shellcheck disable=SC2317 # called through check()
dmesg_says() {
	dmesg | grep -q -F -- "$1"
}

mode_main() {
	if [ "${PVTIME_SOAK:-0}" = 1 ]; then
		incons_t=30 thread_t=60 switch_t=60
	else
		# clocksource-switch runs inconsistency-check -t switch_t on
		# each of 11 clocks, then nanosleep: about a minute in all.
		incons_t=2 thread_t=10 switch_t=2
	fi

	before=$(current_clocksource)
	comment "clocksource before insmod: $before"
	run_commented insmod "$MODULE" wallclock_step_ns=5
	check "insmod wallclock_step_ns=5 is refused" [ "$rc" != 0 ]
	check "bad parameter named in dmesg" \
		dmesg_says "wallclock_step_ns=5 is out of range"
	if run_commented insmod "$MODULE" && [ "$rc" = 0 ]; then
		result 0 "insmod pvtime.ko"
	else
		result 1 "insmod pvtime.ko"
		dmesg | tail -n 20 | comment_stream
		return
	fi
	dmesg | grep pvtime | comment_stream

	run_pvtime_test

	run_timers inconsistency-check -t "$incons_t"
	run_timers threadtest -t "$thread_t"
	run_timers nanosleep
	run_timers posix_timers
	run_timers set-timer-lat
	run_timers clocksource-switch -s -t "$switch_t"
	cs=$(current_clocksource)
	if [ "$cs" != pvtime ]; then
		comment "clocksource-switch left '$cs'; selecting pvtime again"
		echo pvtime >"$CLOCKSOURCE/current_clocksource"
	fi
	check "current_clocksource is pvtime after clocksource-switch" \
		[ "$cs" = pvtime ]

	if [ -x "$SELFTESTS/pvtime-monotonic" ]; then
		run_commented "$SELFTESTS/pvtime-monotonic" -t 1 -- rmmod pvtime
		result "$rc" "rmmod: CLOCK_MONOTONIC never steps back across it"
	else
		run_commented rmmod pvtime
		result 1 "rmmod (pvtime-monotonic missing from $SELFTESTS)"
	fi
	after=$(current_clocksource)
	comment "clocksource after rmmod: $after"
	check "rmmod switches current_clocksource away from pvtime" \
		[ "$after" != pvtime ]
	check "module unloaded" module_unloaded

	# A second load must find the device and the hyp as the first did.
	run_commented insmod "$MODULE"
	check "insmod again after rmmod" [ "$rc" = 0 ]
	check "current_clocksource is pvtime again" \
		[ "$(current_clocksource)" = pvtime ]
	run_commented rmmod pvtime
	check "rmmod again" [ "$rc" = 0 ]
}

# Both refusal modes: insmod fails, says why, leaves the clock alone.
mode_refused() { # MESSAGE
	message=$1
	before=$(current_clocksource)
	dmesg -c >/dev/null
	run_commented insmod "$MODULE"
	comment "insmod exit status $rc"
	dmesg | comment_stream
	check "insmod fails" [ "$rc" != 0 ]
	check "module not loaded" module_unloaded
	# busybox insmod retries a failed finit_module with init_module, so
	# the module may have said it more than once: once per attempt, and
	# nothing else.
	said=$(dmesg_has "$message" | wc -l)
	other=$(dmesg | grep pvtime | grep -c -v -F -e "$message" \
		-e 'taints kernel' -e 'module verification failed')
	comment "\"$message\" logged $said time(s), $other other pvtime line(s)"
	[ "$said" -ge 1 ] && [ "$other" -eq 0 ]
	result $? "dmesg says \"$message\" and nothing else"
	check "current_clocksource unchanged ($before)" \
		[ "$(current_clocksource)" = "$before" ]
}

mode=$1
case "$mode" in
main | wrongabi | nodevice) ;;
*)
	echo "usage: $0 main|wrongabi|nodevice" >&2
	exit 2
	;;
esac

echo "PVTIME-GUEST-BEGIN $mode"
echo "TAP version 13"
if [ ! -f "$MODULE" ]; then
	result 1 "$MODULE present"
else
	case "$mode" in
	main) mode_main ;;
	wrongabi)
		mode_refused "hypervisor speaks ABI version 99, this module speaks 1; refusing"
		;;
	nodevice) mode_refused "no pvtime device found" ;;
	esac
fi
echo "1..$nr"
comment "$mode: $((nr - failed)) of $nr passed"
rm -f "$TMP".*
echo "PVTIME-GUEST-END $mode"
exit "$failed"
