# SPDX-License-Identifier: GPL-2.0
"""The host's NTP slews under a guest (issue 7, item 1): the NTP phase of
`make check`, and the long run of `make bench`.

One guest boots in pvtest=ntp mode and measures its CLOCK_REALTIME
against the host's through its own pvtime-meter (a host process that
shares nothing with pvtimed) for the whole run.  Meanwhile the runner
moves the host kernel's NTP frequency with adjtimex(ADJ_FREQUENCY), as
chronyd does: a stretch as found, +50 ppm, -50 ppm; then two adjtime(3)
offset slews (+2 ms, then -2 ms, at the kernel's 500 ppm); then as found
again (always restored, in a finally).  pvtimed must carry the host's rate into
the records so that the guest follows without a single wall-clock step.

The guest prints its verdict as TAP (|offset| within NTP_MAX_ABS_US, no
backward step, no wall-clock step) and a PVTIME-METER-WINDOW line per
second; the runner sorts the windows into the stretches of its schedule
and reports max |offset| for each.
"""

import json
import os
import re
import time

from host_clock import HostFrequency
from pvtime_host import (GuestConsole, Meter, log, meter_guest_config,
                         tail_file)

GUEST = "pvtime-ntp"
# (stretch, seconds, what the host does): a frequency (ppm off the one
# found), or an adjtime(3) offset slew ("adjtime", us) at 500 ppm, which
# must be over within the stretch; the schedule ends where it began.
# ("load", ppm): that frequency with every guest vCPU hammering
# clock_gettime() and rdtsc (pvtime-timekeep spin), which on some hosts
# moves the guest's TSC under pvtimed.
CHECK_SCHEDULE = (("as-found", 6, 0.0), ("plus50", 10, 50.0),
                  ("minus50", 10, -50.0), ("adjtime-plus2ms", 5, ("adjtime", 2000)),
                  ("adjtime-minus2ms", 5, ("adjtime", -2000)),
                  ("plus50-load", 10, ("load", 50.0)), ("restored", 4, 0.0))
# After the slews: the guest paused PAUSE_S at +50 ppm and resumed under
# the stopped-time policy step; windows from PAUSE_SETTLE_S after the
# unpause to the end of the probe are judged like the rest.
PAUSE_BEFORE_S = 2.0
PAUSE_S = 1.0
PAUSE_AFTER_S = 8.0
PAUSE_SETTLE_S = 1.0
PAUSE_PPM = 50.0
CHECK_MAX_ABS_US = 5
# Meter samples with a wider bracket are not judged (error bound rtt/2).
CHECK_MAX_RTT_US = 4
PVTIME_F_HOST_NTP = 0x80
# pvxl info host_clock counters the run reports (as differences).
FOLLOWER_COUNTS = ("kernel_changes", "rate_changes", "trims", "breaks",
                   "adjtime_ends_measured", "adjtime_ends_by_deadline",
                   "adjtime_fastpath_holds")
READY_TIMEOUT_S = 90
END_TIMEOUT_S = 60
WINDOW_RE = re.compile(r"^PVTIME-METER-WINDOW (.*)$")
PAUSE_WINDOW_RE = re.compile(r"^PVTIME-METER-PAUSE-WINDOW (.*)$")


class NtpGuest(GuestConsole):
    """The guest's console: its results, windows and reports."""

    def __init__(self, results, daemon, suite):
        super().__init__(results, suite, daemon.domain_log(GUEST))
        self.daemon = daemon
        self.ready_at = None
        self.windows = []       # (host time at the window's end, JSON)
        self.pause_ready_at = None
        self.pause_windows = []  # the same, for the probe across the pause

    def own_line(self, line):
        match = WINDOW_RE.match(line)
        pause_match = PAUSE_WINDOW_RE.match(line)
        if pause_match:
            row = window_row(pause_match.group(1))
            if "window" in row and self.pause_ready_at:
                self.pause_windows.append(
                    (self.pause_ready_at + float(row.get("t_s", 0)), row))
        elif line.startswith("PVTIME-NTP-PAUSE-READY"):
            self.pause_ready_at = time.time()
            log(f"  {self.suite}: {line}")
        elif line.startswith("pvtime-init: run-guest-tests.sh"):
            # The script exited without its END marker: nothing more comes.
            self.end(line)
        elif line.startswith("PVTIME-NTP-READY"):
            self.ready_at = time.time()
            log(f"  {self.suite}: {line}")
        elif match:
            row = window_row(match.group(1))
            if "window" in row and self.ready_at:
                self.windows.append((self.ready_at + float(row.get("t_s", 0)), row))
        else:
            return False
        return True


def window_row(text):
    try:
        return json.loads(text)
    except ValueError:
        return {}


def wait_for(guest, predicate, timeout, alive):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        guest.follow_console()
        if predicate() or not alive():
            break
        time.sleep(0.05)
    return predicate()


def stretch_figures(guest, boundaries):
    """{stretch: {max_abs_ns, max_abs_mean_ns, p99_abs_ns, windows,
    backsteps}}: per stretch, the worst usable sample, the worst
    one-second mean, the worst window p99.  A window belongs to the
    stretch it ended in (the second after a change included: that is where
    a follower shows its lag)."""
    figures = {}
    for end, row in guest.windows:
        name = None
        for stretch, start, stop in boundaries:
            if start < end <= stop + 0.5:
                name = stretch
                break
        offset = row.get("offset", {})
        if name is None or not offset.get("n"):
            continue
        fig = figures.setdefault(name, {"max_abs_ns": 0, "max_abs_mean_ns": 0,
                                        "p99_abs_ns": 0, "windows": 0,
                                        "backsteps": 0})
        fig["max_abs_ns"] = max(fig["max_abs_ns"], abs(int(offset["max_abs_ns"])))
        fig["max_abs_mean_ns"] = max(fig["max_abs_mean_ns"],
                                     abs(round(float(offset.get("mean_ns", 0)))))
        fig["p99_abs_ns"] = max(fig["p99_abs_ns"], abs(int(offset.get("p99_abs_ns", 0))))
        fig["windows"] += 1
        fig["backsteps"] += int(row.get("realtime_backsteps", 0)) + \
            int(row.get("monotonic_backsteps", 0))
    return figures


def pause_and_resume(results, daemon, guest, host, suite, max_abs_us):
    """The guest's second probe: PAUSE_S stopped at +PAUSE_PPM, resumed
    under the policy step.  Every usable sample from PAUSE_SETTLE_S after
    the unpause on must be within max_abs_us of the host, as before the
    pause.  Returns {recovery_s, max_abs_ns, windows} or {}."""
    if not results.own(wait_for(guest, lambda: guest.pause_ready_at is not None
                                or guest.ended, END_TIMEOUT_S, daemon.alive)
                       and guest.pause_ready_at, suite,
                       "the guest measures across a pause",
                       tail_file(daemon.domain_log(GUEST), 15)):
        return {}
    host.offset_ppm(PAUSE_PPM)
    wait_for(guest, lambda: False, PAUSE_BEFORE_S, daemon.alive)
    paused = daemon.pvxl("pause", GUEST)
    time.sleep(PAUSE_S)
    resumed = daemon.pvxl("unpause", GUEST, "step")
    unpaused_at = time.time()
    log(f"  {suite}: host paused {GUEST} {PAUSE_S:.0f} s at {PAUSE_PPM:+.0f} ppm, "
        f"resumed under the policy step")
    if not results.own(paused.returncode == 0 and resumed.returncode == 0, suite,
                       f"pvxl pause / unpause {GUEST} step",
                       [paused.describe(), resumed.describe()]):
        return {}
    wait_for(guest, lambda: guest.ended, PAUSE_AFTER_S + END_TIMEOUT_S,
             daemon.alive)
    settled = [(end, row) for end, row in guest.pause_windows
               if end >= unpaused_at + PAUSE_SETTLE_S and
               row.get("offset", {}).get("n")]
    worst = max((abs(int(row["offset"]["max_abs_ns"])) for _, row in settled),
                default=None)
    # Recovery: the end of the first window after the unpause from which
    # on every window is within the limit (0.2 s windows).
    recovery = None
    for end, row in reversed(guest.pause_windows):
        if end < unpaused_at:
            break
        offset = row.get("offset", {})
        if offset.get("n") and abs(int(offset["max_abs_ns"])) > max_abs_us * 1000:
            break
        if offset.get("n"):
            recovery = end - unpaused_at
    figures = {"recovery_s": recovery, "max_abs_ns": worst,
               "windows": len(settled)}
    results.reports.append((suite, "after_pause_max_abs_offset_ns",
                            f"{worst} ({len(settled)} windows)"))
    results.reports.append((suite, "after_pause_within_limit_s",
                            "-" if recovery is None else f"{recovery:.1f}"))
    results.own(worst is not None and len(settled) >= 10 and
                worst <= max_abs_us * 1000, suite,
                f"REALTIME within {max_abs_us} us of the host's (independent "
                f"meter) from {PAUSE_SETTLE_S:.0f} s after a {PAUSE_S:.0f} s "
                f"pause on: max {worst} ns over {len(settled)} windows of 0.2 s",
                [json.dumps(row) for _, row in guest.pause_windows[:12]] +
                # What pvtimed did across the pause (step, slews, stability)
                # and what the guest said after it.
                [line for line in daemon.log_tail(40) if GUEST in line][-12:] +
                tail_file(daemon.domain_log(GUEST), 12))
    return figures


def follower_state(daemon):
    info = daemon.pvxl("info", "--json", GUEST)
    try:
        return info.json().get("host_clock", {})
    except (ValueError, AttributeError):
        return {}


def run_ntp_follow(results, build, daemon, workdir, suite="ntp",
                   schedule=CHECK_SCHEDULE, max_abs_us=CHECK_MAX_ABS_US,
                   max_rtt_us=CHECK_MAX_RTT_US, pause=True):
    """The scenario; returns {stretch: figures, "guest_wallclock_steps": N,
    "follower": {...}, "pause": {...}} (empty on failure)."""
    probe_s = sum(seconds for _, seconds, _ in schedule) + 2
    load_at = load_s = 0
    elapsed = 0
    for _, seconds, action in schedule:
        if isinstance(action, tuple) and action[0] == "load":
            load_at, load_s = elapsed, seconds
        elapsed += seconds
    pause_probe_s = PAUSE_BEFORE_S + PAUSE_S + PAUSE_AFTER_S if pause else 0
    try:
        host = HostFrequency()
    except OSError as err:
        results.own(False, suite, f"adjtimex works on the host (needs "
                    f"CAP_SYS_TIME): {err}")
        return {}
    daemons = HostFrequency.ntp_daemons_running()
    if daemons:
        log(f"  {suite}: warning: {', '.join(daemons)} running on the host; "
            "it may move the frequency during the run too (pvtimed follows "
            "whatever the kernel does)")
    meter = Meter(build, os.path.join(workdir, f"{GUEST}.meter"))
    guest = NtpGuest(results, daemon, suite)
    figures = {}
    try:
        meter.start()
        cfg = meter_guest_config(
            build, workdir, GUEST, f"ntp NTP_PROBE_S={probe_s} "
            f"NTP_MAX_ABS_US={max_abs_us} NTP_MAX_RTT_US={max_rtt_us} "
            f"NTP_LOAD_AT_S={load_at} NTP_LOAD_S={load_s} "
            f"NTP_PAUSE_PROBE_S={pause_probe_s:.0f}", meter)
        created = daemon.pvxl("create", cfg, timeout=120)
        if not results.own(created.returncode == 0, suite, f"pvxl create {GUEST}",
                           [created.describe()] + daemon.log_tail(15)):
            return {}
        if not results.own(wait_for(guest, lambda: guest.ready_at is not None
                                    or guest.ended, READY_TIMEOUT_S,
                                    daemon.alive) and guest.ready_at, suite,
                           "the guest measures against its meter",
                           tail_file(daemon.domain_log(GUEST), 15)):
            return {}
        before = follower_state(daemon)
        boundaries = []
        start = guest.ready_at
        try:
            for stretch, seconds, action in schedule:
                begin = time.time()
                if isinstance(action, tuple) and action[0] == "load":
                    host.offset_ppm(action[1])
                    log(f"  {suite}: host NTP frequency {action[1]:+.0f} ppm off "
                        f"as found, every guest vCPU busy ({stretch}, {seconds} s)")
                elif isinstance(action, tuple):
                    host.adjtime_us(action[1])
                    log(f"  {suite}: host adjtime({action[1]:+d} us) at 500 ppm "
                        f"({stretch}, {seconds} s)")
                else:
                    host.offset_ppm(action)
                    log(f"  {suite}: host NTP frequency {action:+.0f} ppm off "
                        f"as found ({stretch}, {seconds} s)")
                wait_for(guest, lambda: False, seconds, daemon.alive)
                if isinstance(action, tuple) and action[0] == "adjtime":
                    left = host.adjtime_remaining_us()
                    results.own(left == 0, suite, f"host adjtime({action[1]:+d} "
                                f"us) done within {seconds} s ({left} us left)")
                # The first stretch starts with the probe.
                boundaries.append((stretch, begin if boundaries else start,
                                   time.time()))
            if pause:
                figures["pause"] = pause_and_resume(results, daemon, guest,
                                                    host, suite, max_abs_us)
        finally:
            left = host.restore()
        results.own(host.read().freq == host.original and not left, suite,
                    "the host's NTP frequency is back where it was found "
                    f"({host.original / 65536:+.3f} ppm), no adjtime() left "
                    f"({left} us)")
        after = follower_state(daemon)
        ended = wait_for(guest, lambda: guest.ended, END_TIMEOUT_S, daemon.alive)
        results.own(ended and guest.planned == guest.tap_count and guest.tap_count,
                    suite, f"{GUEST} reported and ended, {guest.tap_count} "
                    f"results of a plan of {guest.planned}",
                    tail_file(daemon.domain_log(GUEST), 30))
        for stretch, fig in stretch_figures(guest, boundaries).items():
            figures[stretch] = fig
            # In the log too: a failed run then says which stretch broke.
            log(f"  {suite}: {stretch}: max |offset| {fig['max_abs_ns']} ns "
                f"over {fig['windows']} judged windows (limit {max_abs_us} us)")
            results.reports.append((suite, f"max_abs_offset_ns_{stretch}",
                                    f"{fig['max_abs_ns']} ({fig['windows']} s)"))
            results.reports.append((suite, f"max_abs_1s_mean_ns_{stretch}",
                                    str(fig["max_abs_mean_ns"])))
            results.reports.append((suite, f"backward_steps_{stretch}",
                                    str(fig["backsteps"])))
        steps = next((value for s_, key, value in results.reports
                      if s_ == suite and key == "ntp_guest_wallclock_steps"), None)
        figures["guest_wallclock_steps"] = steps
        # The loaded stretch, judged through the mailbox by the guest.
        figures["load"] = {key[len("ntp_load_"):]: value
                           for s_, key, value in results.reports
                           if s_ == suite and key.startswith("ntp_load_")}
        figures["follower"] = {key: int(after.get(key, 0)) - int(before.get(key, 0))
                               for key in FOLLOWER_COUNTS}
        for key in FOLLOWER_COUNTS:
            if key in after:
                results.reports.append((suite, f"follower_{key}",
                                        str(int(after[key]) - int(before.get(key, 0)))))
        features = 0
        try:
            features = int(daemon.pvxl("info", "--json", GUEST).json().get("features", 0))
        except (ValueError, TypeError, AttributeError):
            pass
        results.own(bool(features & PVTIME_F_HOST_NTP), suite,
                    f"the domain is offered PVTIME_F_HOST_NTP (features {features:#x})")
        results.own(int(after.get("kernel_changes", 0)) -
                    int(before.get("kernel_changes", 0)) >= 2, suite,
                    "pvtimed saw the host's frequency changes (pvxl info host_clock)",
                    [json.dumps(after)] + daemon.log_tail(10))
        # Each adjtime() starts and ends at a boundary pvtimed can see coming.
        changes = 2 * sum(1 for _, _, action in schedule
                          if isinstance(action, tuple) and action[0] == "adjtime")
        holds = figures["follower"].get("adjtime_fastpath_holds", 0)
        results.own(holds >= changes, suite,
                    f"the guests left the fast path ahead of each adjtime() rate "
                    f"change ({holds} holds, {changes} changes)",
                    [json.dumps(after)] + daemon.log_tail(10))
    except (OSError, RuntimeError) as err:
        results.own(False, suite, f"NTP follow scenario: {err}")
    finally:
        host.restore()
        guest.close_console()
        if daemon.alive():
            daemon.pvxl("destroy", GUEST, timeout=60)
        meter.stop()
    return figures
