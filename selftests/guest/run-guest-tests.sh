#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In-guest test runner for pvtime.ko (busybox sh).  Installed in the guest
# image as /pvtime/run-guest-tests.sh and started by /init for pvtest=MODE:
#
#   main      insmod; the guest's clock by the time meter (pvtime-meter-probe);
#             pvtime_test (fast path, fault injection); the kernel's
#             timers selftests with pvtime or pvtime-tsc as the clocksource;
#             rmmod refused while ours is current; hpet, then rmmod without
#             CLOCK_MONOTONIC stepping back
#   wrongabi  the hyp advertises ABI 99: insmod must refuse, one dmesg line
#   nodevice  no pvtime device: insmod must fail with "no pvtime device found"
#   timekeep  insmod; only the meter and moving-TSC tests (load, pauses,
#             reloads) of main
#   pausestep insmod; the loaded pause and the 3 s step pause of timekeep,
#             PAUSE_STEP_RUNS times
#   restart   insmod; with pvtime-meter-probe against the host's own meter
#             (no pvtimed involved) while the host runner SIGKILLs and
#             restarts pvtimed: REALTIME within 50 us, no backward step
#   ntp       insmod; pvtime-meter-probe against the host's own meter while
#             the host runner slews the host's NTP frequency
#             (selftests/ntp_follow_check.py): within NTP_MAX_ABS_US of the
#             host, no wall-clock step, never backwards
#   module    insmod; only pvtime_test and the unload checks of main
#   saverestore  insmod; pvxl save, a few seconds on disk and pvxl restore
#             (selftests/save_restore_check.py drives it) under step, then
#             slew:500000, keep, then step again: the guest's REALTIME and
#             CLOCK_MONOTONIC_RAW against the hyp's across each, never a
#             CLOCK_MONOTONIC step back, the records vouched for again
#   migrate   insmod; with every vCPU busy, pvxl migrate to a second pvtimed
#             (selftests/migrate_check.py drives it): REALTIME and
#             CLOCK_MONOTONIC_RAW against the hyp's across the move, never a
#             CLOCK_MONOTONIC step back; then migrations that fail midway
#             (mid-stream, at the hand-over) leave the time intact
#   status    the ABI base module (before the clock status) on this hyp;
#             this module on a hyp hiding PVTIME_F_CLOCK_STATUS; then the
#             host's leap second, TAI, error bounds and sync state, set by
#             the host runner on request, in clock_status/ (sysfs)
#   steps     insmod; pvtime-steps times the host runner's wall-clock steps
#             (pvxl set-wallclock, host ADJ_SETOFFSET) by the time meter;
#             then dates past 2038 and 2106 set by the host reach `date`
#   ptp       insmod wallclock_sync_ms=0; the PTP clock /dev/ptp0 (caps,
#             read-only, PTP_SYS_OFFSET_PRECISE on pvtime and pvtime-tsc,
#             refused on hpet); the host moves the hyp's wall clock
#             +0.5 s; Debian's chronyd on "refclock PHC /dev/ptp0" must
#             bring REALTIME within 10 us of the hyp's within 60 s and
#             hold it, by the mailbox realtime probe and by chrony
#             (selftests/run_check.py --only ptp drives it)
#   bench     insmod; pvtime-bench on pvtime, pvtime-tsc, tsc, hpet, acpi_pm
#             (one PVTIME-BENCH line each) and the kernel's TSC calibration;
#             pvtime-tcg-bench (throughput, TSC rate under all-vCPU load)
#
# Output (Documentation/CONTRACT.md): PVTIME-GUEST-BEGIN/END around TAP;
# result lines at column 0, everything else prefixed "# ", except the
# PVTIME-HOST-REQUEST and PVTIME-REPORT lines meant for the host runner.
# PVTIME_SOAK=1 in the environment runs the timers selftests at full length
# (/pvtime/timers) instead of the shortened copies (/pvtime/timers-short).
# Exit status: number of failed results (0 = all passed or skipped).

PVTIME_DIR=${PVTIME_DIR:-/pvtime}
MODULE=$PVTIME_DIR/pvtime.ko
SELFTESTS=$PVTIME_DIR/selftests
if [ "${PVTIME_SOAK:-0}" = 1 ] || [ ! -d "$PVTIME_DIR/timers-short" ]; then
	TIMERS=$PVTIME_DIR/timers
else
	TIMERS=$PVTIME_DIR/timers-short
fi
CLOCKSOURCE=/sys/devices/system/clocksource/clocksource0
SYNC_MS=/sys/module/pvtime/parameters/wallclock_sync_ms
DEBUGFS=/sys/kernel/debug/pvtime
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
is_pvtime_clocksource() {
	case "$(current_clocksource)" in
	pvtime | pvtime-tsc) return 0 ;;
	*) return 1 ;;
	esac
}

# The guest's CLOCK_REALTIME minus the hyp's wall time, in ns.
# shellcheck disable=SC2317 # called through check()
realtime_offset_ns() {
	sed -n 's/^offset_ns \(-\{0,1\}[0-9]*\) .*/\1/p' "$DEBUGFS/realtime_probe"
}

# shellcheck disable=SC2317 # called through check()
realtime_resynced() { # wait up to 10 s for |offset| <= 1 ms
	tries=0
	while [ "$tries" -lt 100 ]; do
		off=$(realtime_offset_ns)
		off=${off#-}
		if [ -n "$off" ] && [ "$off" -le 1000000 ]; then
			comment "wall clock back within $off ns of the host's"
			return 0
		fi
		tries=$((tries + 1))
		sleep 0.1
	done
	comment "wall clock still $(realtime_offset_ns) ns off the host's"
	return 1
}

# shellcheck disable=SC2317 # called through check()
module_unloaded() {
	! grep -q '^pvtime ' /proc/modules
}

# shellcheck disable=SC2317 # called through check()
module_loaded() {
	grep -q '^pvtime ' /proc/modules
}

# Anything that says the kernel went wrong (oops, BUG, WARN, KASAN, ...).
# shellcheck disable=SC2317 # called through check()
dmesg_clean() {
	! dmesg | grep -qE 'BUG:|Oops|WARNING:|general protection|KASAN|refcount_t|Unable to handle'
}

# The kernel holds pvtime.ko while pvtime or pvtime-tsc is the current
# clocksource: rmmod hands the kernel hpet first and afterwards gives it
# the choice back.  Sets $rc as run_commented does.
unload_module() {
	echo hpet >"$CLOCKSOURCE/current_clocksource"
	run_commented rmmod pvtime
	echo >"$CLOCKSOURCE/current_clocksource"
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

# After a failed result (the host runner shows the comments that follow
# one): the module's view of the clock then, and its dmesg lines.
comment_module_state() {
	grep -E '^(fastpath|takeup|wallclock_(steps|last|residual)|guest_stopped|calibration|vouch|mailbox|odd_record|guard_last|clocksource_)' \
		"$DEBUGFS/state" 2>/dev/null | comment_stream
	dmesg | grep -E 'pvtime|clocksource' | tail -n 24 | comment_stream
}

# Run COMMAND... as one result NAME: PVTIME- lines go to the host runner
# as they are, everything else as comments.
run_reporting() { # NAME COMMAND...
	name=$1
	shift
	if [ ! -x "$1" ]; then
		result 1 "$name ($1 missing)"
		return
	fi
	{
		"$@" 2>&1
		echo "$?" >"$TMP.rc"
	} | awk '/^PVTIME-/ || /^#/ { print; fflush(); next }
		{ print "# " $0; fflush() }'
	rc=$(cat "$TMP.rc")
	result "$rc" "$name" "exit code $KSFT_SKIP"
	if [ "$rc" != 0 ] && [ "$rc" != "$KSFT_SKIP" ]; then
		comment_module_state
	fi
}

# The guest's CLOCK_REALTIME against the host's through the test time
# meter (a second ivshmem device served by pvtime-meter on the host, not
# by pvtimed), with pvtimed's mailbox probe read alongside for comparison.
run_meter() {
	run_reporting "meter: REALTIME within 50 us of the host's by the independent meter (10 s, rtt <= 20 us)" \
		"$SELFTESTS/pvtime-meter-probe" --duration 10 --interval-ms 100 \
		--window-s 5 --max-rtt-us 20 --compare-mailbox \
		--tap meter --max-abs-us 50
}

# The guest TSC moves (all-vCPU load, pauses under each stopped-time
# policy): time must stay on the host's, measured through the mailbox.
run_timekeeping() {
	if [ "${PVTIME_SOAK:-0}" = 1 ]; then load_s=600; else load_s=20; fi
	tk=$SELFTESTS/pvtime-timekeep
	# A 1 s pause a third of the way in: the TSC moves under load.
	run_reporting "timekeep: REALTIME within 50 us of the hyp's under ${load_s} s of all-vCPU clock_gettime+rdtsc load, across a 1 s pause (step)" \
		"$tk" load-pause "$load_s" 1
	run_reporting "timekeep: pause 3 s, step: within 1 ms of the host from 200 ms after unpause on, never ahead" \
		"$tk" pause 3 step
	run_reporting "timekeep: pause 3 s, slew:300000: catches up at the declared rate" \
		"$tk" pause 3 slew:300000
	run_reporting "timekeep: pause 3 s, keep: stays behind by the pause" \
		"$tk" pause 3 keep
	# keep left the guest behind: a step pause brings it back.
	run_reporting "timekeep: pause 1 s, step after keep" "$tk" pause 1 step
	grep -E '^(calibration|health|vouch|fastpath |takeup)' "$DEBUGFS/state" |
		comment_stream
	# A pause past the soft-lockup (20 s) and RCU-stall (21 s) limits:
	# GUEST_STOPPED must have touched the watchdogs.  Soak only (slow).
	if [ "${PVTIME_SOAK:-0}" = 1 ]; then
		run_reporting "timekeep: pause 25 s, step" "$tk" pause 25 step
		dmesg | grep -iE 'soft lockup|rcu.*stall|hung task' |
			comment_stream
		check "no soft-lockup, RCU-stall or hung-task report after a 25 s pause" \
			sh -c "! dmesg | grep -qiE 'soft lockup|rcu.*stall|hung task'"
	fi
	check_fallback
}

# shellcheck disable=SC2317 # called through check()
vouched_is() { # 0|1: wait up to 20 s for debugfs "vouched" to read that
	tries=0
	while [ "$tries" -lt 200 ]; do
		[ "$(sed -n 's/^vouched //p' "$DEBUGFS/state")" = "$1" ] && return 0
		tries=$((tries + 1))
		sleep 0.1
	done
	grep -E '^(vouch|health|calibration)' "$DEBUGFS/state" | comment_stream
	return 1
}

# Never worse than hpet: with calibration off, a pause leaves the records
# behind; the health check (against the hyp's wall time) must give the
# kernel hpet back and keep CLOCK_REALTIME on the hyp's, then take the
# clock again once calibration corrects the records.
check_fallback() {
	unload_module
	run_commented insmod "$MODULE" calibration=0
	check "insmod calibration=0" [ "$rc" = 0 ] || return
	sleep 3
	echo "PVTIME-HOST-REQUEST pause-for 1 keep"
	sleep 4
	check "records behind after a pause without calibration: not vouched for" \
		vouched_is 0
	comment "current clocksource: $(current_clocksource)"
	check "the kernel has hpet back" [ "$(current_clocksource)" = hpet ]
	check "dmesg says the records are not vouched for" \
		dmesg_says "records not vouched for"
	check "REALTIME follows the hyp's wall time meanwhile" realtime_resynced
	echo 1 >/sys/module/pvtime/parameters/calibration
	check "calibration on again: the records are vouched for again" \
		vouched_is 1
	sleep 1
	comment "current clocksource: $(current_clocksource)"
	check "pvtime is the clocksource again" is_pvtime_clocksource
	check "REALTIME within 1 ms of the hyp's after the fallback" \
		realtime_resynced
}

# rmmod + insmod several times after the TSC moved (load, pauses).
reload_cycles() {
	i=1
	while [ "$i" -le 3 ]; do
		unload_module
		check "rmmod #$i after the TSC moved" [ "$rc" = 0 ]
		run_commented insmod "$MODULE"
		check "insmod #$i after the TSC moved" [ "$rc" = 0 ]
		check "REALTIME within 1 ms of the hyp's after insmod #$i" \
			realtime_resynced
		i=$((i + 1))
	done
}

# One kernel timers selftest as one TAP result: run_timers NAME [ARGS...].
# pvtime-tsc registrations plus unregistrations so far (debugfs).
fastpath_switches() {
	awk '/^fastpath_(engaged|dropped) / { n += $2 } END { print n + 0 }' \
		"$DEBUGFS/state" 2>/dev/null
}

run_timers() {
	name=$1
	if [ ! -x "$TIMERS/$name" ]; then
		result "$KSFT_SKIP" "timers.$name" "$TIMERS/$name not in the image"
		return
	fi
	comment "timers/$* (clocksource $(current_clocksource))"
	# clocksource-switch runs ./inconsistency-check and ./nanosleep.
	shift
	# Uptime, not date: several of these tests set the wall clock.
	started=$(cut -d. -f1 /proc/uptime)
	switches_before=$(fastpath_switches)
	(cd "$TIMERS" && run_commented "./$name" "$@")
	comment "timers/$name took $(($(cut -d. -f1 /proc/uptime) - started)) s, fast-path switches during it: $(($(fastpath_switches) - switches_before))"
	rc=$(cat "$TMP.rc")
	skip_reason=$(grep -i 'skip' "$TMP.out" | tail -n 1 | sed 's/^[# ]*//')
	result "$rc" "timers.$name" "${skip_reason:-exit code $KSFT_SKIP}"
	# A failure explains itself after its result: the test's last words,
	# and did the kernel change clocksource meanwhile?
	if [ "$rc" != 0 ] && [ "$rc" != "$KSFT_SKIP" ]; then
		tail -n 25 "$TMP.out" | comment_stream
		comment "fast-path switches during it: $switches_before -> $(fastpath_switches) (engaged+dropped); clocksource now $(current_clocksource)"
		comment_module_state
	fi
}

# adjtick compares CLOCK_MONOTONIC with CLOCK_MONOTONIC_RAW while the
# kernel's NTP tick is up to 10 % from nominal.  A
# clocksource switch loses that adjustment until the timekeeper's next
# update, a tick or two later: measured 0.5-1 ms lost per switch at
# adjtick's 10 %, which alone breaks its 100 ppm over a 3 s window.  The
# fast path switches whenever the hyp withdraws TSC_STABLE or changes the
# records' rate (it follows the host's NTP), which some hosts do every few
# seconds.  adjtick measures the kernel's NTP arithmetic over our clock,
# not the switches, so it runs on pvtime pinned (pvtime-tsc then comes and
# goes without a switch).  freq-step cannot be pinned so: it skips itself
# unless a clock read pair takes under 500 ns, which needs the vDSO.  Its
# base frequency is within 128 ppm, so a switch there costs well under a
# microsecond (the module wakes the timekeeper a tick after each switch).
# Documentation/guest-module.rst, "Clocksource switches and the kernel's
# NTP".  leap-a-day is pinned for the same reason: a switch clears the
# kernel's NTP state, the leap second armed with STA_INS included
# (ntp_clear() sets ntp_next_leap_sec to never), so a fast-path switch
# between its adjtimex() and midnight cancels the leap it waits for
# (it failed once with two switches in its 14 s; output not kept).
run_timers_pinned() {
	echo pvtime >"$CLOCKSOURCE/current_clocksource"
	run_timers "$@"
	echo >"$CLOCKSOURCE/current_clocksource"
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
			ran++
			if ($1 == "not")
				failed++
			sub(/ok [0-9]+/, "ok " nr)
			print
			fflush()
			next
		}
		/^1\.\.[0-9]+/ {
			planned = substr($1, 4)
			print "# " $0
			fflush()
			next
		}
		/^PVTIME-/ || /^#/ { print; fflush(); next }
		{ print "# " $0; fflush() }
		END {
			print nr, failed + 0, ran + 0,
			      (planned == "" ? "none" : planned) > counts
		}'
	read -r nr sub_failed sub_ran sub_planned <"$TMP.counts"
	failed=$((failed + sub_failed))
	rc=$(cat "$TMP.rc")
	if [ "$rc" != 0 ] && [ "$sub_failed" = 0 ]; then
		result "$rc" "pvtime_test exit status"
	fi
	# Its own plan is commented out above; hold it to that plan here.
	[ "$sub_ran" = "$sub_planned" ]
	result $? "pvtime_test printed its plan's $sub_planned results (printed $sub_ran)"
}

dmesg_has() {
	dmesg | grep -F -- "$1"
}

# shellcheck disable=SC2317 # called through check()
dmesg_says() {
	dmesg | grep -q -F -- "$1"
}

# The kernel's timers selftests.  Those in the second group set the time,
# the tick or the frequency: the module stops following the hyp's wall
# clock around them (wallclock_sync_ms=0) and must bring it back after.
run_all_timers() {
	if [ "${PVTIME_SOAK:-0}" = 1 ]; then
		incons_t=30 thread_t=60 switch_t=60 leap_i=10
	else
		# clocksource-switch runs inconsistency-check -t switch_t on
		# each of 11 clocks, then nanosleep.  One leap second, and a
		# second per clock: make check stays under 15 minutes.
		incons_t=1 thread_t=5 switch_t=1 leap_i=1
	fi
	comment "timers selftests from $TIMERS"
	run_timers inconsistency-check -t "$incons_t"
	run_timers threadtest -t "$thread_t"
	run_timers nanosleep
	run_timers nsleep-lat
	run_timers posix_timers
	run_timers set-timer-lat
	run_timers mqueue-lat
	run_timers clocksource-switch -s -t "$switch_t"
	cs=$(current_clocksource)
	# clocksource-switch restores what it found, as an override: give
	# the choice back to the kernel (pvtime-tsc or pvtime).
	echo >"$CLOCKSOURCE/current_clocksource"
	sleep 1
	comment "clocksource-switch left '$cs'; kernel's choice: $(current_clocksource)"
	check "current_clocksource is pvtime or pvtime-tsc after clocksource-switch" \
		is_pvtime_clocksource

	echo 0 >"$SYNC_MS"
	check "wallclock_sync_ms=0 accepted" [ "$(cat "$SYNC_MS")" = 0 ]
	run_timers raw_skew
	run_timers valid-adjtimex
	run_timers_pinned adjtick
	run_timers freq-step
	run_timers set-tai
	run_timers set-2038
	run_timers_pinned leap-a-day -i "$leap_i"
	run_timers skew_consistency
	# They may leave the kernel's NTP frequency set, and a guest that
	# follows the hyp runs no NTP of its own: show it, then clear it.
	adjtimex 2>&1 | comment_stream
	adjtimex -q -f 0
	echo 1000 >"$SYNC_MS"
	check "wall clock re-synced to the host after the time-setting tests" \
		realtime_resynced
	check "current_clocksource is pvtime or pvtime-tsc after the timers tests" \
		is_pvtime_clocksource
}

# wallclock_sync_ms is validated when written at run time too.
check_sync_param() {
	if echo 3600001 >"$SYNC_MS" 2>/dev/null; then
		result 1 "wallclock_sync_ms=3600001 is refused at run time"
	else
		result 0 "wallclock_sync_ms=3600001 is refused at run time"
	fi
	check "wallclock_sync_ms unchanged by the refused write" \
		[ "$(cat "$SYNC_MS")" = 1000 ]
}

# rmmod while CS (pvtime or pvtime-tsc) is current: refused (the kernel
# holds the module), and the clock goes on as before.
check_unload_refused() { # CS
	echo "$1" >"$CLOCKSOURCE/current_clocksource"
	if [ "$(current_clocksource)" != "$1" ]; then
		result "$KSFT_SKIP" "rmmod refused while $1 is current" \
			"$1 not selectable (fast path: $(sed -n 's/^fastpath //p' "$DEBUGFS/state"))"
		return
	fi
	run_commented "$SELFTESTS/pvtime-monotonic" -t 1 -- sh -c '! rmmod pvtime'
	result "$rc" "rmmod refused while $1 is current, CLOCK_MONOTONIC steady across it"
	check "module still loaded after the refused rmmod ($1)" module_loaded
	check "$1 still current after the refused rmmod" \
		[ "$(current_clocksource)" = "$1" ]
	check "REALTIME within 1 ms of the hyp's after the refused rmmod ($1)" \
		realtime_resynced
}

# The unload path: refused while ours is current (pvtime-tsc, pvtime);
# with hpet current, rmmod goes through, CLOCK_MONOTONIC never steps back
# across the switch and the unload, and the kernel reports nothing wrong.
check_unload() {
	check_unload_refused pvtime-tsc
	check_unload_refused pvtime
	echo >"$CLOCKSOURCE/current_clocksource"
	run_commented "$SELFTESTS/pvtime-monotonic" -t 1 -- sh -c \
		"echo hpet >$CLOCKSOURCE/current_clocksource && rmmod pvtime"
	result "$rc" "hpet, then rmmod: CLOCK_MONOTONIC never steps back across them"
	after=$(current_clocksource)
	echo >"$CLOCKSOURCE/current_clocksource"
	comment "clocksource after rmmod: $after; kernel's choice: $(current_clocksource)"
	check "module unloaded" module_unloaded
	check "no oops, BUG, WARNING or KASAN report after rmmod" dmesg_clean
	check "the clock runs after rmmod" "$SELFTESTS/pvtime-monotonic" -t 1
}

mode_main() {

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

	check_sync_param
	run_meter
	run_pvtime_test
	run_all_timers
	run_timekeeping
	reload_cycles
	grep -E '^(fastpath|records_irqs|tsc_evidence|odd_record|guest_stopped)' \
		"$DEBUGFS/state" | comment_stream

	check_unload
	# A second load must find the device and the hyp as the first did.
	run_commented insmod "$MODULE"
	check "insmod again after rmmod" [ "$rc" = 0 ]
	check "current_clocksource is pvtime or pvtime-tsc again" \
		is_pvtime_clocksource
	unload_module
	check "rmmod again" [ "$rc" = 0 ]
	check "no oops, BUG, WARNING or KASAN report in dmesg" dmesg_clean
}

# insmod, on pvtime, and REALTIME on the hyp's: where the modes driven
# by a host runner start.  Fails (1) only if insmod does: the other two
# are results, and the mode goes on.
load_resynced() {
	run_commented insmod "$MODULE"
	check "insmod pvtime.ko" [ "$rc" = 0 ] || return 1
	check "current_clocksource is pvtime or pvtime-tsc" is_pvtime_clocksource
	check "REALTIME within 1 ms of the hyp's before" realtime_resynced
	return 0
}

# How many GUEST_STOPPED flags the module has seen (debugfs).
guest_stopped_seen() {
	sed -n 's/^guest_stopped_seen //p' "$DEBUGFS/state"
}

# pvtimed dies and comes back under this guest (selftests/restart_check.py
# drives it).  The meter is the host's CLOCK_REALTIME through a page of its
# own, so it keeps measuring while no pvtimed runs.  Best of 16 exchanges,
# not 64: two guests probe at once on two host cores, and the less each
# sample keeps a vCPU spinning the less the probes crowd the meters out.
RESTART_PROBE_S=${RESTART_PROBE_S:-36}
# Two guests and two meters on two host cores can starve each other of
# tight round trips for seconds (every one 50-140 us seen while a third
# QEMU ran): such a sample still proves |offset| - rtt/2, which catches a
# restart that moves the clock by more than the limit plus half of it,
# rather than leaving the window unjudged.
RESTART_PROOF_RTT_US=200
mode_restart() {
	load_resynced || return
	echo "PVTIME-RESTART-READY $RESTART_PROBE_S"
	"$SELFTESTS/pvtime-meter-probe" --duration "$RESTART_PROBE_S" \
		--interval-ms 20 --window-s 1 --max-rtt-us 10 --exchanges 16 \
		--proof-rtt-us "$RESTART_PROOF_RTT_US" \
		--json \
		--tap "REALTIME within 50 us of the host's (independent meter) and never backwards, through pvtimed's SIGKILL and restarts" \
		--max-abs-us 50 >"$TMP.probe" 2>&1
	probe_rc=$?
	# Windows (JSON) for the runner, the verdict as a result.
	sed -n 's/^{/PVTIME-METER-WINDOW {/p' "$TMP.probe"
	grep -v -e '^{' -e '^ok ' -e '^not ok ' "$TMP.probe" | comment_stream
	result "$probe_rc" "REALTIME within 50 us of the host's (independent meter) and never backwards, through pvtimed's SIGKILL and restarts"
	check "still pvtime or pvtime-tsc after the restarts" is_pvtime_clocksource
	check "the records are still vouched for" vouched_is 1
	check "dmesg has no unvouched fallback" \
		sh -c "! dmesg | grep -q 'records not vouched for'"
	check "REALTIME within 1 ms of the new pvtimed's (mailbox answers again)" \
		realtime_resynced
	grep -E '^(calibration|vouch|health|fastpath)' "$DEBUGFS/state" | \
		comment_stream
	before=$(date +%s)
	echo "PVTIME-HOST-REQUEST set-wallclock +1h"
	sleep 3
	after=$(date +%s)
	comment "date +%s: $before before the request, $after 3 s after"
	check "set-wallclock +1h through the adopted pvtimed reaches the guest's date" \
		[ $((after - before)) -ge 3600 -a $((after - before)) -le 3610 ]
}

# The host's NTP slews under this guest (selftests/ntp_follow_check.py
# drives it): its CLOCK_REALTIME must follow without a single step.
NTP_PROBE_S=${NTP_PROBE_S:-40}
NTP_MAX_ABS_US=${NTP_MAX_ABS_US:-5}
# Samples with a wider bracket are left out: their error bound is rtt/2.
NTP_MAX_RTT_US=${NTP_MAX_RTT_US:-4}
# All-vCPU load from NTP_LOAD_AT_S into the probe, for NTP_LOAD_S seconds
# (0: none); the runner slews the host meanwhile.  pvtime-timekeep load
# judges REALTIME against the hyp through the mailbox once a second: the
# meter's host process cannot answer in time while the guest's vCPUs
# keep both host cores busy.
NTP_LOAD_AT_S=${NTP_LOAD_AT_S:-0}
NTP_LOAD_S=${NTP_LOAD_S:-0}
# Then, if not 0, a second probe this long while the runner pauses and
# resumes this guest (stopped-time policy step); the runner judges it.
NTP_PAUSE_PROBE_S=${NTP_PAUSE_PROBE_S:-0}
wallclock_steps() {
	sed -n 's/^wallclock_steps //p' "$DEBUGFS/state"
}

mode_ntp() {
	load_resynced || return
	# The initial step and its retries are over once the offset is known.
	sleep 2
	steps_before=$(wallclock_steps)
	load_pid=
	if [ "$NTP_LOAD_S" -gt 0 ]; then
		{
			sleep "$NTP_LOAD_AT_S"
			"$SELFTESTS/pvtime-timekeep" load "$NTP_LOAD_S" \
				$((NTP_MAX_ABS_US * 1000))
		} >"$TMP.load" 2>&1 &
		load_pid=$!
	fi
	echo "PVTIME-NTP-READY $NTP_PROBE_S"
	"$SELFTESTS/pvtime-meter-probe" --duration "$NTP_PROBE_S" \
		--interval-ms 20 --window-s 1 --max-rtt-us "$NTP_MAX_RTT_US" --json \
		--tap "REALTIME within $NTP_MAX_ABS_US us of the host's (independent meter) while the host's NTP slews +-50 ppm" \
		--max-abs-us "$NTP_MAX_ABS_US" >"$TMP.probe" 2>&1
	probe_rc=$?
	sed -n 's/^{/PVTIME-METER-WINDOW {/p' "$TMP.probe"
	grep -v -e '^{' -e '^ok ' -e '^not ok ' "$TMP.probe" | comment_stream
	result "$probe_rc" "REALTIME within $NTP_MAX_ABS_US us of the host's (independent meter) while the host's NTP slews +-50 ppm"
	steps_after=$(wallclock_steps)
	comment "wallclock_steps: $steps_before before the slews, $steps_after after"
	echo "PVTIME-REPORT ntp_guest_wallclock_steps $((steps_after - steps_before))"
	# What the records' rate changes left, and how much was slewed away.
	sed -n 's/^\(takeups\|takeup_last_ns\|takeup_max_ns\|fastpath_drop_delay_max_ns\) /PVTIME-REPORT ntp_\1 /p' \
		"$DEBUGFS/state"
	grep -E '^(fastpath_(engaged|dropped)|takeup_bias_ns) ' "$DEBUGFS/state" |
		comment_stream
	check "no guest wall-clock step while the host slewed" \
		[ -n "$steps_before" -a "$steps_before" = "$steps_after" ]
	if [ -n "$load_pid" ]; then
		wait "$load_pid"
		load_rc=$?
		grep -v '^PVTIME-REPORT' "$TMP.load" | comment_stream
		sed -n 's/^PVTIME-REPORT load_/PVTIME-REPORT ntp_load_/p' "$TMP.load"
		result "$load_rc" "under $NTP_LOAD_S s of all-vCPU load at +50 ppm: REALTIME within $NTP_MAX_ABS_US us of the hyp's (mailbox, proven error), CLOCK_MONOTONIC never back"
	fi
	check "still pvtime or pvtime-tsc" is_pvtime_clocksource
	grep -E '^(fastpath|clocksource_handoffs|wallclock|vouch)' "$DEBUGFS/state" | comment_stream
	[ "$NTP_PAUSE_PROBE_S" -gt 0 ] || return 0
	# The pause: the guest's TSC stops while the host's clock runs on.
	# Windows of 0.2 s; the runner takes the unpause from pvxl and judges
	# the windows after it.
	echo "PVTIME-NTP-PAUSE-READY $NTP_PAUSE_PROBE_S"
	"$SELFTESTS/pvtime-meter-probe" --duration "$NTP_PAUSE_PROBE_S" \
		--interval-ms 20 --window-s 0.2 --max-rtt-us "$NTP_MAX_RTT_US" \
		--json >"$TMP.pause" 2>&1
	result $? "the meter probe ran across the pause"
	sed -n 's/^{/PVTIME-METER-PAUSE-WINDOW {/p' "$TMP.pause"
	comment "wallclock_steps after the pause: $(wallclock_steps)"
	grep -E '^(takeup|fastpath |fastpath_drop_delay_last|guest_stopped)' \
		"$DEBUGFS/state" | comment_stream
}

# The clock_status/ directory of the bound pvtime device, if any.
status_dir() {
	for dir in /sys/bus/pci/drivers/pvtime/*/clock_status; do
		[ -d "$dir" ] && echo "$dir" && return
	done
}

# shellcheck disable=SC2317 # called through check()
status_reads() { # NAME VALUE [SECONDS]: wait until clock_status/NAME is VALUE
	tries=$((${3:-5} * 10))
	waited_ms=0
	while [ "$tries" -gt 0 ]; do
		[ "$(cat "$CS/$1" 2>/dev/null)" = "$2" ] && return 0
		tries=$((tries - 1))
		waited_ms=$((waited_ms + 100))
		sleep 0.1
	done
	comment "clock_status/$1 reads '$(cat "$CS/$1" 2>&1)', want '$2'"
	return 1
}

# shellcheck disable=SC2317 # called through check()
status_fails() { # NAME: the read fails (no data), it does not show a zero
	if [ ! -f "$CS/$1" ]; then
		comment "clock_status/$1 missing"
		return 1
	fi
	if out=$(cat "$CS/$1" 2>&1); then
		comment "clock_status/$1 read '$out'"
		return 1
	fi
	comment "clock_status/$1: $out"
}

# shellcheck disable=SC2317 # called through check()
status_between() { # NAME LOW HIGH
	v=$(cat "$CS/$1" 2>/dev/null)
	comment "clock_status/$1 = $v (want $2..$3)"
	[ -n "$v" ] && [ "$v" -ge "$2" ] && [ "$v" -le "$3" ]
}

# shellcheck disable=SC2317 # called through check()
hyp_offers_status() {
	features=$(sed -n 's/^features //p' "$DEBUGFS/state")
	comment "hyp features $features"
	[ $((features & 0x20)) -ne 0 ]
}

# shellcheck disable=SC2317 # called through check()
hyp_hides_status() {
	! hyp_offers_status
}

# shellcheck disable=SC2317 # called through check()
status_available() { # SECONDS: wait until sync is (un)synchronised
	tries=$(($1 * 10))
	while [ "$tries" -gt 0 ]; do
		case "$(cat "$CS/sync")" in
		synchronised | unsynchronised) return 0 ;;
		esac
		tries=$((tries - 1))
		sleep 0.1
	done
	comment "clock_status/sync still reads '$(cat "$CS/sync")'"
	return 1
}

# shellcheck disable=SC2317 # called through check()
torn_reads_counted() {
	torn=$(sed -n 's/^clock_status_torn //p' "$DEBUGFS/state")
	comment "clock_status_torn $torn"
	[ "${torn:-0}" -gt 0 ]
}

# The host runner acts on the console line, then the hyp's next 1 s tick
# publishes: the checks after it wait (status_reads) rather than sleep.
host_request() {
	echo "PVTIME-HOST-REQUEST $*"
}

# ABI versioning both ways, then the host clock's status (Documentation/
# guest-module.rst, "Clock status").  DANGER handled by the host runner: it
# restores the host's adjtimex state, and refuses near a UTC midnight.
mode_status() {
	base=$PVTIME_DIR/pvtime-abi-base.ko
	check "the ABI base module is in the image (make builds it from git)" \
		[ -f "$base" ]
	run_commented insmod "$base"
	check "the ABI base module (no clock status) loads against this hyp" \
		[ "$rc" = 0 ]
	check "... and its clocksource pvtime is in use" is_pvtime_clocksource
	check "... and it has no clock_status in sysfs" [ -z "$(status_dir)" ]
	unload_module
	check "rmmod the ABI base module" [ "$rc" = 0 ]

	# A hyp without PVTIME_F_CLOCK_STATUS; the request takes effect
	# within the runner's 0.2 s console poll and one pvxl call.
	host_request inject clock-status-off
	sleep 3
	run_commented insmod "$MODULE"
	check "this module loads against a hyp without the clock status" \
		[ "$rc" = 0 ]
	[ "$rc" = 0 ] || return
	check "... the hyp indeed hides PVTIME_F_CLOCK_STATUS" hyp_hides_status
	CS=$(status_dir)
	check "clock_status/ exists under the PCI device ($CS)" [ -n "$CS" ]
	[ -n "$CS" ] || return
	check "without the feature: sync reads unavailable" \
		status_reads sync unavailable 1
	check "without the feature: leap reads unavailable" \
		status_reads leap unavailable 1
	check "without the feature: tai_offset_s fails, no zero" \
		status_fails tai_offset_s
	check "without the feature: maxerror_us fails, no zero" \
		status_fails maxerror_us

	host_request inject clear
	check "the feature back: sync reads unsynchronised or synchronised" \
		status_available 5
	check "... and the hyp offers it" hyp_offers_status

	host_request inject clock-status-odd 3000
	check "a block held odd (torn) reads unavailable" \
		status_reads sync unavailable 3
	check "... after the module retried it" torn_reads_counted
	check "... and comes back once the hyp writes it again" \
		status_available 6

	now=$(date +%s)
	midnight=$(((now / 86400 + 1) * 86400))
	host_request host-clock insert 37
	check "host STA_INS: leap reads insert" status_reads leap insert 5
	# From the request line to the guest's sysfs: the runner's console
	# poll (0.2 s), adjtimex, pvtimed's 1 s tick, the guest's 0.1 s poll.
	echo "PVTIME-REPORT clock_status_leap_seen_ms $waited_ms"
	check "... leap_time is the next UTC midnight ($midnight)" \
		status_reads leap_time "$midnight" 1
	check "host TAI offset 37: tai_offset_s reads 37" \
		status_reads tai_offset_s 37 5
	host_request host-clock delete
	check "host STA_DEL: leap reads delete" status_reads leap delete 5
	check "... leap_time is the next UTC midnight ($midnight)" \
		status_reads leap_time "$midnight" 1
	host_request host-clock none
	check "host leap bits cleared: leap reads none" status_reads leap none 5
	check "... and leap_time 0" status_reads leap_time 0 1

	host_request host-clock sync 123456 7890
	check "host STA_UNSYNC cleared: sync reads synchronised" \
		status_reads sync synchronised 5
	check "host esterror 7890 us: esterror_us reads 7890" \
		status_reads esterror_us 7890 1
	# The host's maxerror grows 500 us/s from 123456: 60 s of margin.
	check "host maxerror 123456 us: maxerror_us within its growth" \
		status_between maxerror_us 123456 153456
	check "the block is fresh: age_ms under 3000" \
		status_between age_ms 0 2999
	sleep 2
	check "... and kept fresh 2 s later (refreshed every second)" \
		status_between age_ms 0 2999
	host_request host-clock unsync
	check "host STA_UNSYNC set: sync reads unsynchronised" \
		status_reads sync unsynchronised 5
	host_request host-clock restore
	sleep 2
	comment "after restore: sync $(cat "$CS/sync") leap $(cat "$CS/leap") tai $(cat "$CS/tai_offset_s" 2>&1)"

	unload_module
	check "rmmod pvtime" [ "$rc" = 0 ]
	check "no kernel warnings" dmesg_clean
}

# One result per kind of step from pvtime-steps' verdict lines.
steps_verdict() { # KIND DESCRIPTION
	line=$(grep "^PVTIME-STEPS-VERDICT $1 " "$TMP.steps")
	case "$line" in
	*" $1 ok "*) result 0 "$2 (${line#* "$1" ok })" ;;
	"") result 1 "$2 (no verdict from pvtime-steps)" ;;
	*) result 1 "$2 (${line#* "$1" fail })" ;;
	esac
}

# The host sets the wall clock to DATE (pvxl set-wallclock syntax); the
# guest's `date` must show WANT (date -u +%Y-%m-%dT%H:%M) within 3 s.
date_reaches() { # DATE WANT
	echo "PVTIME-HOST-REQUEST set-wallclock $1"
	tries=0
	while [ "$tries" -lt 30 ]; do
		now=$(date -u +%Y-%m-%dT%H:%M)
		[ "$now" = "$2" ] && break
		tries=$((tries + 1))
		sleep 0.1
	done
	comment "after set-wallclock $1: date -u says $(date -u) ($(date -u +%s) s)"
	check "set-wallclock $1: the guest's date shows $2" [ "$now" = "$2" ]
	# The module's own reading of wc (wc_sec_hi included) + system time
	# must say the same: the date may also have come through the mailbox.
	wall_s=$(sed -n 's/.* wall_ns \([0-9]*\)[0-9]\{9\}$/\1/p' "$DEBUGFS/wallclock")
	date_s=$(date -u +%s)
	comment "module's wall clock (wc + system time): ${wall_s:-?} s, date: $date_s s"
	check "set-wallclock $1: the module reads the same wall clock from wc_sec/wc_sec_hi" \
		within_2s "$wall_s" "$date_s"
}

# shellcheck disable=SC2317 # called through check()
within_2s() { # A B: both numbers, at most 2 apart
	[ -n "$1" ] && [ -n "$2" ] && [ $(($1 - $2)) -ge -2 ] && [ $(($1 - $2)) -le 2 ]
}

# Host steps (selftests/steps_check.py drives them) and dates past 2038
# and 2106.
STEPS_TIMEOUT_S=${STEPS_TIMEOUT_S:-120}
# The p99 that passes, from the request until the guest's timekeeper took
# the step (the module's doorbell trace, mapped to host time by the
# meter).  The goal is 1 ms, which make bench judges: measured here
# 0.42-0.96 ms in 10 runs of 12, 1.7-2.4 ms in two, where host hiccups
# before the guest's irq made the p99 (the second worst of 100; once one
# step waited 11 ms).  And on a slow host the whole phase runs ten to
# thirty times slower: applied p99 18.5, 21, 24.7 and 34.5 ms, seen p99
# 37, 66 and 150.5 ms (the last on a host whose own pvxl-to-irq p50 was
# 4 ms).  The regression that matters, steps left to the periodic check
# (61-174 ms), fails structurally: every step must have its own doorbell
# in the module's trace ("no doorbell in the module's trace"), and no
# judged sample over a millisecond after a one-attempt step's moment in
# the trace may miss the step (the independent check that the step is in
# CLOCK_REALTIME).  So the bounds here only catch a gross slowdown:
# 100 ms to the guest's timekeeper, 1 s until a sample on the other vCPU
# sees it (that is the sampler's scheduling: under single-threaded TCG
# that vCPU gets the host thread back only when the stepping one lets go
# of it).
STEPS_MAX_LATENCY_US=${STEPS_MAX_LATENCY_US:-100000}
STEPS_MAX_OBSERVED_US=${STEPS_MAX_OBSERVED_US:-1000000}
mode_steps() {
	run_commented insmod "$MODULE"
	check "insmod pvtime.ko" [ "$rc" = 0 ] || return
	check "current_clocksource is pvtime or pvtime-tsc" is_pvtime_clocksource
	check "REALTIME within 1 ms of the hyp's before the steps" realtime_resynced
	# On CPU 1, a sample every 50 us (spinning) around each step the
	# host announces: sleeping between samples would wake QEMU's timers
	# 20000 times a second, on the very thread that delivers the doorbell.
	"$SELFTESTS/pvtime-steps" --timeout "$STEPS_TIMEOUT_S" \
		--interval-us 50 --cpu 1 --max-rtt-us 150 --tolerance-us 200 \
		--max-latency-us "$STEPS_MAX_LATENCY_US" \
		--max-observed-us "$STEPS_MAX_OBSERVED_US" \
		--doorbells "$DEBUGFS/wallclock_doorbells" >"$TMP.steps" 2>&1 &
	steps_pid=$!
	# The runner starts stepping once it sees READY: pass it on at once.
	while ! grep -q '^PVTIME-STEPS-READY' "$TMP.steps" &&
		kill -0 "$steps_pid" 2>/dev/null; do
		sleep 0.05
	done
	grep '^PVTIME-STEPS-READY' "$TMP.steps"
	wait "$steps_pid"
	steps_rc=$?
	grep -e '^PVTIME-REPORT' "$TMP.steps"
	grep -v -e '^PVTIME-' "$TMP.steps" | comment_stream
	steps_verdict pvxl "pvxl set-wallclock steps land in guest REALTIME, none missed, p99 within $STEPS_MAX_LATENCY_US us (seen within $STEPS_MAX_OBSERVED_US us)"
	steps_verdict host "host clock_adjtime(ADJ_SETOFFSET) steps land in guest REALTIME, none missed, p99 within $STEPS_MAX_LATENCY_US us (seen within $STEPS_MAX_OBSERVED_US us)"
	comment "pvtime-steps exit status $steps_rc"
	grep -E '^(wallclock|mailbox|calib)' "$DEBUGFS/state" | comment_stream
	# On failure, the doorbells as the module traced them (pvtime_wallclock.c).
	[ "$steps_rc" = 0 ] || tail -210 "$DEBUGFS/wallclock_doorbells" | comment_stream

	# 2038-01-19T03:14:08Z is 2^31 s: a signed 32-bit time_t overflows.
	date_reaches 2038-01-19T03:14:09Z 2038-01-19T03:14
	# 2106-02-07T06:28:16Z is 2^32 s: a 32-bit unsigned seconds count
	# overflows; wc (wall time at boot) is still just below it here, 2107
	# puts wc_sec_hi to 1 (the runner checks both in pvxl info).
	date_reaches 2106-02-07T06:28:17Z 2106-02-07T06:28
	date_reaches 2107-01-01T00:00:00Z 2107-01-01T00:00
	grep -E '^(wc|system|wall)' "$DEBUGFS/wallclock" | comment_stream
	echo "PVTIME-HOST-REQUEST set-wallclock now"
	# The hyp agrees with a guest still in 2107 until the host has run
	# the request: wait for the date first, then judge the offset.
	tries=0
	while [ "$(date -u +%Y)" -ge 2100 ] && [ "$tries" -lt 30 ]; do
		tries=$((tries + 1))
		sleep 0.1
	done
	check "set-wallclock now: the guest's date is this century again" \
		[ "$(date -u +%Y)" -lt 2100 ]
	check "set-wallclock now: back within 1 ms of the host's time" realtime_resynced
	check "no oops, BUG, WARNING or KASAN report in dmesg" dmesg_clean
}

# pvtime_test and the unload path of main alone, for working on them.
mode_module() {
	run_commented insmod "$MODULE"
	check "insmod pvtime.ko" [ "$rc" = 0 ] || return
	run_pvtime_test
	check_unload
	run_commented insmod "$MODULE"
	check "insmod again after rmmod" [ "$rc" = 0 ]
	unload_module
	check "rmmod again" [ "$rc" = 0 ]
	check "no oops, BUG, WARNING or KASAN report in dmesg" dmesg_clean
}

# The moving-TSC part of main alone, for working on it.
mode_timekeep() {
	# Kernel messages on the console, timestamped, for working on these.
	dmesg -n 8
	run_commented insmod "$MODULE"
	check "insmod pvtime.ko" [ "$rc" = 0 ] || return
	sleep 3
	run_meter
	run_timekeeping
	reload_cycles
	unload_module
	check "rmmod" [ "$rc" = 0 ]
}

# pvtest=pausestep (run_check.py --guest-mode pausestep): the loaded
# pause and the 3 s step pause of run_timekeeping, PAUSE_STEP_RUNS times
# in a row, to catch a rare failure with the kernel's messages on the
# console.
PAUSE_STEP_RUNS=${PAUSE_STEP_RUNS:-12}
mode_pausestep() {
	dmesg -n 8
	run_commented insmod "$MODULE"
	check "insmod pvtime.ko" [ "$rc" = 0 ] || return
	sleep 3
	run=1
	while [ "$run" -le "$PAUSE_STEP_RUNS" ]; do
		# As in run_timekeeping: a pause under all-vCPU load first.
		run_reporting "pausestep $run of $PAUSE_STEP_RUNS: REALTIME within 50 us of the hyp's under 6 s of all-vCPU load, across a 1 s pause (step)" \
			"$SELFTESTS/pvtime-timekeep" load-pause 6 1
		run_reporting "pausestep $run of $PAUSE_STEP_RUNS: pause 3 s, step: within 1 ms of the host from 200 ms after unpause on, never ahead" \
			"$SELFTESTS/pvtime-timekeep" pause 3 step
		run=$((run + 1))
	done
	unload_module
	check "rmmod" [ "$rc" = 0 ]
}

# pvxl save + restore under this guest (selftests/save_restore_check.py
# answers PVTIME-HOST-REQUEST save-restore SECONDS POLICY).
SAVE_RESTORE_S=${SAVE_RESTORE_S:-2}
mode_saverestore() {
	load_resynced || return
	tk=$SELFTESTS/pvtime-timekeep
	stopped_before=$(guest_stopped_seen)
	run_reporting "save-restore ${SAVE_RESTORE_S} s, step: REALTIME and raw within 1 ms of the host's, then REALTIME within 50 us, CLOCK_MONOTONIC never back" \
		"$tk" save-restore "$SAVE_RESTORE_S" step
	stopped_after=$(guest_stopped_seen)
	comment "guest_stopped: $stopped_before before, $stopped_after after"
	check "the module saw GUEST_STOPPED across the restore" \
		[ "${stopped_after:-0}" != "${stopped_before:-0}" ]
	run_reporting "save-restore 1 s, slew:500000: catches up at the declared rate" \
		"$tk" save-restore 1 slew:500000
	run_reporting "save-restore ${SAVE_RESTORE_S} s, keep: stays behind by the time away" \
		"$tk" save-restore "$SAVE_RESTORE_S" keep
	# keep left the guest behind: a step brings it back.
	run_reporting "save-restore 1 s, step after keep" "$tk" save-restore 1 step
	check "still pvtime or pvtime-tsc after four restores" is_pvtime_clocksource
	check "REALTIME within 1 ms of the hyp's after" realtime_resynced
	grep -E '^(calibration|vouch|health|fastpath|guest_stopped|mailbox_jumps)' \
		"$DEBUGFS/state" | comment_stream
	# Known and not yet explained: after a restore under the step policy
	# the first SET_OFFSET usually waits 200 ms of guest time without an
	# answer (the clock did not jump: mailbox_jumps_forgiven stays 0), and
	# the next calibration round succeeds.  Reported, not judged, until
	# the cause is found.
	timeouts=$(dmesg | grep -c 'no answer from the hypervisor')
	echo "PVTIME-REPORT save_restore_mailbox_timeouts $timeouts"
	dmesg | grep 'no answer from the hypervisor' | comment_stream
	check "no oops, BUG, WARNING or KASAN report in dmesg" dmesg_clean
}

# A virtual-time domain (clock = "virtual", selftests/virtual_check.py).
# The clock sequence: pvtime clock deltas over fixed work, interrupts off
# (debugfs clock_sequence); under -icount they depend on the instructions
# alone, so two reads in this boot, and the runner's two boots, agree.
virtual_sequence() {
	first=$(cat "$DEBUGFS/clock_sequence")
	second=$(cat "$DEBUGFS/clock_sequence")
	deltas=$(echo "$first" | sed -n 's/^clock_deltas_ns //p' | tr ' ' ',')
	echo "PVTIME-REPORT clock_sequence_ns $deltas"
	echo "$first" | comment_stream
	check "the clock sequence read twice in this boot is the same" \
		[ -n "$deltas" ] && [ "$first" = "$second" ]
	distinct=$(echo "$deltas" | tr ',' '\n' | sort -u | wc -l)
	comment "$distinct distinct deltas"
	check "the sequence's deltas follow the work between the reads (>= 8 distinct)" \
		[ "$distinct" -ge 8 ]
}

mode_virtual_common() {
	run_commented insmod "$MODULE"
	check "insmod pvtime.ko" [ "$rc" = 0 ] || return 1
	check "current_clocksource is pvtime (no TSC_STABLE on virtual time)" \
		[ "$(current_clocksource)" = pvtime ]
	check "REALTIME within 1 ms of the hyp's wall time for this virtual guest" \
		realtime_resynced
	virtual_sequence
}

mode_virtualseq() {
	mode_virtual_common
}

mode_virtual() {
	mode_virtual_common || return
	host_request drift-mark busy-start
	run_reporting "busy for 1.5 s of virtual time: CLOCK_MONOTONIC never back, pvtimed's skips seen as steps" \
		"$SELFTESTS/pvtime-virtual" -c 1500000000 -j 20000000
	host_request drift-mark busy-end
	check "still pvtime after the skips" [ "$(current_clocksource)" = pvtime ]
	check "no oops, BUG, WARNING or KASAN report in dmesg" dmesg_clean
}

# A host-time domain under stopped_time = "keep" and drift = "skip:F"
# (selftests/virtual_check.py): paused 2 s, it keeps the time as drift,
# which pvtimed then skips back a fraction a second.
mode_hostdrift() {
	load_resynced || return
	host_request pause-for 2 keep
	sleep 8
	check "still pvtime or pvtime-tsc after the skips" is_pvtime_clocksource
	check "no oops, BUG, WARNING or KASAN report in dmesg" dmesg_clean
}

# pvxl migrate under this guest (selftests/migrate_check.py answers
# PVTIME-HOST-REQUEST migrate and migrate-fail).
mode_migrate() {
	load_resynced || return
	tk=$SELFTESTS/pvtime-timekeep
	stopped_before=$(guest_stopped_seen)
	run_reporting "migrate under all-vCPU load: REALTIME and raw within 1 ms of the host's within 3 s, then REALTIME within 50 us, CLOCK_MONOTONIC never back" \
		"$tk" migrate 60
	stopped_after=$(guest_stopped_seen)
	comment "guest_stopped: $stopped_before before, $stopped_after after"
	check "the module saw GUEST_STOPPED across the move" \
		[ "${stopped_after:-0}" != "${stopped_before:-0}" ]
	run_reporting "migrate-fail (the destination's QEMU killed mid-stream) under all-vCPU load: the time intact (REALTIME within 50 us, raw within 1 ms), CLOCK_MONOTONIC never back" \
		"$tk" migrate-fail 6 kill
	run_reporting "migrate-fail (no hand-over after the stream: the source continues its stopped guest) under all-vCPU load: the time intact, CLOCK_MONOTONIC never back" \
		"$tk" migrate-fail 6 handover
	check "still pvtime or pvtime-tsc after the moves" is_pvtime_clocksource
	check "REALTIME within 1 ms of the hyp's after" realtime_resynced
	grep -E '^(calibration|vouch|health|fastpath|guest_stopped)' \
		"$DEBUGFS/state" | comment_stream
	check "no oops, BUG, WARNING or KASAN report in dmesg" dmesg_clean
}

# One PVTIME-BENCH line per clocksource, all in this boot.
bench_clocksources() {
	rate_s=${PVTIME_BENCH_RATE_S:-20}
	# Give the fast path its chance to come up before listing.
	tries=0
	while [ "$(current_clocksource)" != pvtime-tsc ] && [ "$tries" -lt 100 ]; do
		tries=$((tries + 1))
		sleep 0.1
	done
	available=$(cat "$CLOCKSOURCE/available_clocksource")
	comment "available clocksources: $available"
	dmesg | grep -E 'tsc:|clocksource|pvtime' | comment_stream
	mhz=$(dmesg | sed -n 's/.*Refined TSC clocksource calibration: \([0-9.]*\) MHz.*/\1/p' | tail -n 1)
	[ -n "$mhz" ] || mhz=$(dmesg | sed -n 's/.*tsc: Detected \([0-9.]*\) MHz processor.*/\1/p' | tail -n 1)
	if [ -n "$mhz" ]; then
		echo "PVTIME-BENCH tsc-calibration mhz=$mhz"
	else
		echo "PVTIME-BENCH tsc-calibration reason=\"no tsc MHz line in dmesg\""
	fi
	for cs in pvtime pvtime-tsc tsc hpet acpi_pm; do
		case " $available " in
		*" $cs "*) ;;
		*)
			why="not in available_clocksource"
			[ "$cs" = pvtime-tsc ] && why="$why (fast path: $(sed -n 's/^fastpath //p' "$DEBUGFS/state"))"
			echo "PVTIME-BENCH $cs reason=\"$why\""
			result "$KSFT_SKIP" "bench $cs" "$why"
			continue
			;;
		esac
		echo "$cs" >"$CLOCKSOURCE/current_clocksource"
		if [ "$(current_clocksource)" != "$cs" ]; then
			why="the kernel did not switch to it (current: $(current_clocksource))"
			echo "PVTIME-BENCH $cs reason=\"$why\""
			result "$KSFT_SKIP" "bench $cs" "$why"
			continue
		fi
		"$SELFTESTS/pvtime-bench" -d "$rate_s" 2>"$TMP.err"
		rc=$?
		comment_stream <"$TMP.err"
		result "$rc" "bench $cs"
	done
	bench_alternate "$available"
	echo >"$CLOCKSOURCE/current_clocksource"
}

# The fast path against the forced tsc vDSO, in the same stretch of host
# time: each clocksource's row above is one window of about 0.2 s, and
# on this host a window can run 60 % slow (another tenant on the CPU),
# which once made either of the two look 1.6x the other.  Here the two
# take turns, ROUNDS times; the host runner takes each round's ratio.
bench_alternate() {
	rounds=${PVTIME_BENCH_ALT_ROUNDS:-5}
	case " $1 " in *" pvtime-tsc "*) ;; *) return ;; esac
	case " $1 " in *" tsc "*) ;; *) return ;; esac
	round=1 measured=0
	while [ "$round" -le "$rounds" ]; do
		for cs in tsc pvtime-tsc; do
			echo "$cs" >"$CLOCKSOURCE/current_clocksource"
			if [ "$(current_clocksource)" != "$cs" ]; then
				comment "alternating round $round: could not select $cs (current: $(current_clocksource))"
				continue
			fi
			"$SELFTESTS/pvtime-bench" -c "alternate-$round-$cs" -r 5 2>"$TMP.err" &&
				measured=$((measured + 1))
			comment_stream <"$TMP.err"
		done
		round=$((round + 1))
	done
	check "bench: pvtime-tsc and tsc alternated $rounds times, both measured in each" \
		[ "$measured" = $((rounds * 2)) ]
}

# Throughput and the guest TSC's rate under all-vCPU load, for comparing
# the TCG thread modes (the host boots this once per mode).  On pvtime,
# whose CLOCK_MONOTONIC_RAW is the guest TSC at the host's TSC rate.
bench_tcg() {
	tcg_s=${PVTIME_BENCH_TCG_S:-15}
	echo pvtime >"$CLOCKSOURCE/current_clocksource"
	[ "$(current_clocksource)" = pvtime ] ||
		comment "could not select pvtime; measuring on $(current_clocksource)"
	"$SELFTESTS/pvtime-tcg-bench" -w "$tcg_s" -d "$tcg_s" 2>"$TMP.err"
	rc=$?
	comment_stream <"$TMP.err"
	result "$rc" "bench tcg throughput and rate under load"
	echo >"$CLOCKSOURCE/current_clocksource"
}

# The guest's time when its TSC moves: all-vCPU load, then a pause.
bench_timekeep() {
	tk_s=${PVTIME_BENCH_TIMEKEEP_S:-30}
	run_reporting "bench timekeep under ${tk_s} s of all-vCPU load, 1 s pause" \
		"$SELFTESTS/pvtime-timekeep" load-pause "$tk_s" 1
	run_reporting "bench timekeep: pause 3 s, step" \
		"$SELFTESTS/pvtime-timekeep" pause 3 step
	run_reporting "bench timekeep: save-restore 2 s, step" \
		"$SELFTESTS/pvtime-timekeep" save-restore 2 step
	# Last: the guest runs on at the second pvtimed from here on.
	run_reporting "bench timekeep: migrate under all-vCPU load, step" \
		"$SELFTESTS/pvtime-timekeep" migrate 60
}

# A virtual-time domain's clock read (the bench's clock = "virtual"
# boot): its cost by the guest's own clock (virtual ns: instructions) and
# by the host's raw clock, read through the mailbox around the reads.
host_raw_ns() {
	sed -n 's/.* host_raw_ns \([0-9]*\) .*/\1/p' "$DEBUGFS/realtime_probe"
}

bench_virtual() {
	calls=${PVTIME_BENCH_VIRTUAL_CALLS:-200000}
	check "bench virtual: on the pvtime clocksource" \
		[ "$(current_clocksource)" = pvtime ]
	"$SELFTESTS/pvtime-virtual" -n 20000 >/dev/null
	before=$(host_raw_ns)
	"$SELFTESTS/pvtime-virtual" -n "$calls"
	rc=$?
	after=$(host_raw_ns)
	if [ -n "$before" ] && [ -n "$after" ]; then
		echo "PVTIME-REPORT virtual_read_host_ns $(((after - before) / calls))"
	fi
	result "$rc" "bench virtual: $calls CLOCK_MONOTONIC reads timed"
}

# PVTIME_BENCH_PARTS (kernel command line): comma-separated, from
# clocksources, tcg, timekeep, ptp (chrony over the PHC) and virtual (a
# clock = "virtual" boot's read cost); all but virtual by default.
mode_bench() {
	parts=${PVTIME_BENCH_PARTS:-clocksources,tcg,timekeep,ptp}
	if ! run_commented insmod "$MODULE" || [ "$rc" != 0 ]; then
		result 1 "insmod pvtime.ko"
		return
	fi
	result 0 "insmod pvtime.ko"
	case ",$parts," in *,clocksources,*) bench_clocksources ;; esac
	case ",$parts," in *,tcg,*) bench_tcg ;; esac
	case ",$parts," in *,timekeep,*) bench_timekeep ;; esac
	case ",$parts," in *,ptp,*) bench_ptp ;; esac
	case ",$parts," in *,virtual,*) bench_virtual ;; esac
	grep -E '^(fastpath|tsc_evidence)' "$DEBUGFS/state" | comment_stream
	unload_module
	check "rmmod after the bench" [ "$rc" = 0 ]
}

# The PTP clock (pvtime_ptp.c) and Debian's chrony disciplining the
# guest's wall clock to it, with pvtime's own wall-clock following off.
PTP_DEV=/dev/ptp0
PTP_CHRONY_WITHIN_NS=${PTP_CHRONY_WITHIN_NS:-10000}
PTP_CHRONY_REACH_S=${PTP_CHRONY_REACH_S:-60}
PTP_CHRONY_HOLD_S=${PTP_CHRONY_HOLD_S:-10}
PTP_WALLCLOCK_STEP=${PTP_WALLCLOCK_STEP:-+0.5s}
PTP_WALLCLOCK_STEP_NS=${PTP_WALLCLOCK_STEP_NS:-500000000}
# A realtime probe brackets the hyp's answer by its round trip: one wider
# than this proves nothing at the 10 us level and is not counted.
PTP_PROBE_MAX_RTT_NS=${PTP_PROBE_MAX_RTT_NS:-20000}
PTP_HOLD_MIN_PROBES=${PTP_HOLD_MIN_PROBES:-5}

ptp_check() { # NAME ARGS...: one pvtime-ptp check as one result
	name=$1 what=$2
	shift 2
	run_reporting "$name" "$SELFTESTS/pvtime-ptp" "$what" "$PTP_DEV" "$@"
}

ptp_counter() { # NAME: a counter of debugfs pvtime/ptp
	sed -n "s/^$1 //p" "$DEBUGFS/ptp"
}

# Seconds since boot, with centiseconds (busybox has no date +%N).
uptime_s() {
	cut -d' ' -f1 /proc/uptime
}

abs() {
	echo "${1#-}"
}

# PTP_SYS_OFFSET_PRECISE on CS, one result.  The kernel may leave CS
# meanwhile (the fast path drops pvtime-tsc while the hyp corrects the
# records; a failed health check hands the clock to hpet): then the
# check meant nothing and runs once more.
ptp_precise_on() { # CS
	cs=$1
	name="PTP_SYS_OFFSET_PRECISE on $cs: 20 cross timestamps, agreeing with PTP_SYS_OFFSET_EXTENDED, |PHC - REALTIME| <= 100 ms"
	for _ in 1 2 3; do
		echo "$cs" >"$CLOCKSOURCE/current_clocksource"
		sleep 0.2
		# The PHC reads the hyp's wall time, which REALTIME was
		# stepped to at insmod; with following off REALTIME stays
		# while the host's clock (which the hyp's follows) may be
		# slewed or stepped: only the epoch is checked, to 100 ms.
		left=$(ptp_counter not_current)
		run_commented "$SELFTESTS/pvtime-ptp" precise "$PTP_DEV" 20 100000
		grep '^PVTIME-' "$TMP.out"
		now=$(current_clocksource)
		[ "$rc" != 0 ] || break
		[ "$now" != "$cs" ] || [ "$(ptp_counter not_current)" != "$left" ] ||
			break
		comment "the kernel left $cs during the check (now $now); again"
	done
	result "$rc" "$name"
}

# The PHC's reads on each clocksource: cross timestamps on pvtime's own
# two, refused (so chrony falls back to gettimex64) on any other.
ptp_clocksources() {
	# A cross timestamp maps the hyp's TSC through the adopted offset:
	# wait (20 s at most) until every vCPU's evidence has confirmed it,
	# which is when the fast path engages.  A loose handshake on a busy
	# host can leave it microseconds off until the first calibration
	# corrects it (and holds the fast path off for a second).
	tries=0
	while [ "$tries" -lt 200 ] &&
	      [ "$(sed -n 's/^fastpath //p' "$DEBUGFS/state")" != engaged ]; do
		tries=$((tries + 1))
		sleep 0.1
	done
	comment "fast path: $(sed -n 's/^fastpath //p' "$DEBUGFS/state") after $tries tenths of a second"
	grep -E '^(guest_tsc_offset|handshake_rtt_cycles|calibrations) ' "$DEBUGFS/state" | comment_stream
	for cs in pvtime pvtime-tsc; do
		if ! grep -qw "$cs" "$CLOCKSOURCE/available_clocksource"; then
			result "$KSFT_SKIP" "PTP_SYS_OFFSET_PRECISE on $cs" \
				"$cs not registered (fast path: $(sed -n 's/^fastpath //p' "$DEBUGFS/state"))"
			continue
		fi
		ptp_precise_on "$cs"
	done
	echo hpet >"$CLOCKSOURCE/current_clocksource"
	sleep 0.2
	ptp_check "on hpet: PTP_SYS_OFFSET_PRECISE refused with EOPNOTSUPP" \
		no-precise
	ptp_check "on hpet: PTP_SYS_OFFSET_EXTENDED still reads the PHC" \
		extended
	# The kernel's own choice again.
	echo >"$CLOCKSOURCE/current_clocksource"
	sleep 0.2
	comment "clocksource back to $(current_clocksource)"
}

# The hyp leaves vCPU 1's record odd for 3 s: a cross timestamp read
# there needs it, so it must fail (EAGAIN), not return a time.  On
# pvtime, whose reads fall back to the other record meanwhile.
ptp_unreadable_record() {
	echo pvtime >"$CLOCKSOURCE/current_clocksource"
	echo "PVTIME-HOST-REQUEST inject odd 1 3000"
	run_reporting "PTP_SYS_OFFSET_PRECISE on a vCPU whose record the hyp leaves odd: EAGAIN, never a time; reads again after" \
		/usr/bin/taskset 2 "$SELFTESTS/pvtime-ptp" unreadable "$PTP_DEV"
	echo >"$CLOCKSOURCE/current_clocksource"
}

# Wait up to 10 s for the hyp's wall clock to lead REALTIME by the step.
# shellcheck disable=SC2317 # called through check()
ptp_wallclock_moved() {
	tries=0
	while [ "$tries" -lt 100 ]; do
		off=$(realtime_offset_ns)
		if [ -n "$off" ] && [ "$(abs $((off + PTP_WALLCLOCK_STEP_NS)))" -le 1000000 ]; then
			comment "REALTIME - hyp wall time: $off ns"
			return 0
		fi
		tries=$((tries + 1))
		sleep 0.1
	done
	comment "REALTIME - hyp wall time still $(realtime_offset_ns) ns"
	return 1
}

# One realtime probe: "OFFSET_NS RTT_NS" (REALTIME - hyp wall time).
probe_offset_rtt() {
	sed -n 's/^offset_ns \(-\{0,1\}[0-9]*\) rtt_ns \([0-9]*\) .*/\1 \2/p' \
		"$DEBUGFS/realtime_probe"
}

# chronyc tracking's "Last offset" (s, signed) and "System time" (s,
# negative when slow) as ns.
chrony_tracking_ns() {
	chronyc -n tracking 2>/dev/null | awk '
		/^Last offset/ { last = $4 * 1e9 }
		/^System time/ { sys = $4 * 1e9; if ($6 == "slow") sys = -sys }
		END { if (last == "") exit 1; printf "%.0f %.0f\n", last, sys }'
}

PTP_CHRONY_CONF=/tmp/chrony-ptp.conf
write_chrony_conf() {
	cat >"$PTP_CHRONY_CONF" <<CONF
# The PHC is the only source: no NTP servers, no NTP port.
refclock PHC $PTP_DEV poll -2 dpoll -2
makestep 1 3
port 0
logdir /var/log/chrony
log tracking refclocks
CONF
}

# Start chronyd, then once a second: the independent check (the mailbox's
# realtime probe: REALTIME against the hyp's wall time, bracketed) and
# chrony's own view.  Reached: both within PTP_CHRONY_WITHIN_NS.  Then
# hold PTP_CHRONY_HOLD_S more and take the worst.
run_chrony() {
	# chronyd wants its socket directory closed to others (else no chronyc).
	mkdir -p /run/chrony /var/lib/chrony /var/log/chrony
	chmod 0750 /run/chrony
	write_chrony_conf
	comment "chrony.conf:"
	comment_stream <"$PTP_CHRONY_CONF"
	crossts_before=$(ptp_counter crosststamps)
	reads_before=$(ptp_counter reads)
	/usr/sbin/chronyd -d -u root -f "$PTP_CHRONY_CONF" >"$TMP.chronyd" 2>&1 &
	chronyd_pid=$!
	start=$(uptime_s)
	reached='' within=0 within_since=''
	while :; do
		sleep 1
		t=$(awk -v a="$(uptime_s)" -v b="$start" 'BEGIN { printf "%.1f", a - b }')
		pr=$(probe_offset_rtt)
		off=${pr%% *} rtt=${pr##* }
		[ -n "$rtt" ] || rtt=999999999
		ct=$(chrony_tracking_ns)
		last=${ct%% *} sys=${ct##* }
		[ -n "$ct" ] || last='?' sys='?'
		comment "t=${t}s REALTIME - hyp ${off:-?} ns (realtime probe, rtt $rtt ns); chrony last offset $last ns, system time $sys ns"
		if [ -n "$off" ] && [ "$last" != "?" ] &&
		   [ "$rtt" -le "$PTP_PROBE_MAX_RTT_NS" ] &&
		   [ "$(abs "$off")" -le "$PTP_CHRONY_WITHIN_NS" ] &&
		   [ "$(abs "$last")" -le "$PTP_CHRONY_WITHIN_NS" ]; then
			# Three in a row: settled there, not passing through.
			[ -n "$within_since" ] || within_since=$t
			within=$((within + 1))
			if [ "$within" -ge 3 ]; then
				reached=$within_since
				break
			fi
		elif [ "$rtt" -le "$PTP_PROBE_MAX_RTT_NS" ]; then
			within=0 within_since=
		fi
		kill -0 "$chronyd_pid" 2>/dev/null || break
		[ "${t%.*}" -lt "$PTP_CHRONY_REACH_S" ] || break
	done
	if [ -n "$reached" ]; then
		echo "PVTIME-REPORT ptp_chrony_reach_s $reached"
	fi
	result "$([ -n "$reached" ]; echo $?)" \
		"chrony over the PHC brings REALTIME within $PTP_CHRONY_WITHIN_NS ns of the hyp's (realtime probe and chrony's last offset, 3 readings in a row) within $PTP_CHRONY_REACH_S s${reached:+ (from ${reached} s)}"

	worst=0 worst_last=0 samples=0 loose=0 rtt_worst=0 rms=''
	if [ -n "$reached" ]; then
		i=0
		while [ "$i" -lt "$PTP_CHRONY_HOLD_S" ]; do
			sleep 1
			i=$((i + 1))
			pr=$(probe_offset_rtt)
			off=${pr%% *} rtt=${pr##* }
			[ -n "$pr" ] || off=999999999 rtt=999999999
			ct=$(chrony_tracking_ns)
			last=${ct%% *}
			[ -n "$ct" ] || last=999999999
			[ "$(abs "$last")" -le "$worst_last" ] || worst_last=$(abs "$last")
			if [ "$rtt" -gt "$PTP_PROBE_MAX_RTT_NS" ]; then
				comment "hold: probe rtt $rtt ns, too loose to count (REALTIME - hyp $off ns); chrony last offset $last ns"
				loose=$((loose + 1))
				continue
			fi
			comment "hold: REALTIME - hyp $off ns (probe rtt $rtt ns); chrony last offset $last ns"
			[ "$(abs "$off")" -le "$worst" ] || worst=$(abs "$off")
			[ "$rtt" -le "$rtt_worst" ] || rtt_worst=$rtt
			samples=$((samples + 1))
		done
		echo "PVTIME-REPORT ptp_chrony_hold_max_abs_offset_ns $worst"
		echo "PVTIME-REPORT ptp_chrony_hold_max_abs_last_offset_ns $worst_last"
		echo "PVTIME-REPORT ptp_chrony_hold_probe_rtt_max_ns $rtt_worst"
		chronyc -n tracking 2>&1 | comment_stream
		chronyc -n sourcestats 2>&1 | comment_stream
		chronyc -n sources 2>&1 | comment_stream
		rms=$(chronyc -n tracking | awk '/^RMS offset/ { printf "%.0f", $4 * 1e9 }')
		echo "PVTIME-REPORT ptp_chrony_rms_offset_ns ${rms:-?}"
	fi
	check "held: REALTIME within $PTP_CHRONY_WITHIN_NS ns of the hyp's for $PTP_CHRONY_HOLD_S s by the realtime probe (worst $worst ns of $samples probes with rtt <= $PTP_PROBE_MAX_RTT_NS ns, $loose looser ones not counted) and by chrony (worst last offset $worst_last ns)" \
		[ -n "$reached" -a "$samples" -ge "$PTP_HOLD_MIN_PROBES" -a "$worst" -le "$PTP_CHRONY_WITHIN_NS" -a "$worst_last" -le "$PTP_CHRONY_WITHIN_NS" ]
	crossts=$(($(ptp_counter crosststamps) - crossts_before))
	reads=$(($(ptp_counter reads) - reads_before))
	comment "while chrony ran: $crossts cross timestamps, $reads gettimex64 reads"
	grep . "$DEBUGFS/ptp" | comment_stream
	check "chrony read the PHC with PTP_SYS_OFFSET_PRECISE ($crossts cross timestamps, $reads gettimex64 reads)" \
		[ "$crossts" -gt 0 -a "$reads" -eq 0 ]
	kill "$chronyd_pid" 2>/dev/null
	wait "$chronyd_pid" 2>/dev/null
	comment "chronyd's output:"
	comment_stream <"$TMP.chronyd"
	# make bench's row (run_bench.py); make check reads the results.
	echo "PVTIME-BENCH chrony-phc within_ns=$PTP_CHRONY_WITHIN_NS reach_s=${reached:-none} hold_s=$PTP_CHRONY_HOLD_S hold_max_abs_ns=$worst hold_probes=$samples hold_loose_probes=$loose chrony_last_max_abs_ns=$worst_last chrony_rms_ns=${rms:-none} probe_rtt_max_ns=$rtt_worst crosststamps=$crossts gettimex64_reads=$reads"
}

# make bench: the chrony part of mode ptp, last in the bench's boot (it
# leaves chrony's corrections in the guest's clock and steps it back).
bench_ptp() {
	echo 0 >"$SYNC_MS"
	echo "PVTIME-HOST-REQUEST set-wallclock $PTP_WALLCLOCK_STEP"
	check "bench chrony: with following off, the hyp's wall clock leads REALTIME by $PTP_WALLCLOCK_STEP" \
		ptp_wallclock_moved && run_chrony
	echo 1000 >"$SYNC_MS"
	echo "PVTIME-HOST-REQUEST set-wallclock now"
	# Wait for it: a guest that ended at once could be shut down before
	# the runner got to the request.
	check "bench chrony: set-wallclock now brought REALTIME back within 1 ms of the host's" \
		realtime_resynced
}

mode_ptp() {
	run_commented insmod "$MODULE" wallclock_sync_ms=0
	check "insmod pvtime.ko wallclock_sync_ms=0" [ "$rc" = 0 ] || return
	dmesg | grep -i 'ptp' | comment_stream
	check "$PTP_DEV exists" [ -c "$PTP_DEV" ] || return
	check "ptp0's clock_name is pvtime" \
		[ "$(cat /sys/class/ptp/ptp0/clock_name)" = pvtime ]
	ptp_check "PTP_CLOCK_GETCAPS: read-only (max_adj 0), cross timestamping, no pins, PPS or alarms" caps
	ptp_check "settime, adjtime, adjfine, adjphase, PPS and EXTTS refused; the PHC did not move" readonly
	ptp_clocksources
	ptp_unreadable_record
	[ -x /usr/sbin/chronyd ] && [ -x /usr/bin/chronyc ]
	result $? "Debian's chronyd and chronyc in the image" || return
	comment "$(/usr/sbin/chronyd -v)"
	echo "PVTIME-HOST-REQUEST set-wallclock $PTP_WALLCLOCK_STEP"
	check "with following off, the hyp's wall clock leads REALTIME by $PTP_WALLCLOCK_STEP" \
		ptp_wallclock_moved || return
	run_chrony
	check "no oops, BUG, WARNING or KASAN report in dmesg" dmesg_clean
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
main | wrongabi | nodevice | bench | timekeep | pausestep | restart | module | ntp | status | steps | ptp | saverestore | migrate | virtual | virtualseq | hostdrift) ;;
*)
	echo "usage: $0 main|wrongabi|nodevice|bench|timekeep|pausestep|restart|module|ntp|status|steps|ptp|saverestore|migrate|virtual|virtualseq|hostdrift" >&2
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
	timekeep) mode_timekeep ;;
	pausestep) mode_pausestep ;;
	restart) mode_restart ;;
	ntp) mode_ntp ;;
	module) mode_module ;;
	status) mode_status ;;
	steps) mode_steps ;;
	bench) mode_bench ;;
	ptp) mode_ptp ;;
	saverestore) mode_saverestore ;;
	migrate) mode_migrate ;;
	virtual) mode_virtual ;;
	virtualseq) mode_virtualseq ;;
	hostdrift) mode_hostdrift ;;
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
