# SPDX-License-Identifier: GPL-2.0
"""The restart phase of `make check` (issue 8): pvtimed dies under two
running guests and comes back.

Two guests boot in pvtest=restart mode.  Each measures its CLOCK_REALTIME
against the host's through its own pvtime-meter, a host process that has
nothing to do with pvtimed, for the whole run.  Meanwhile the runner:

  1. lets both run with pvtimed for a while ("before");
  2. SIGKILLs pvtimed, waits, and starts a new one on the same state dir
     ("during": no pvtimed at all);
  3. checks that the new pvtimed adopted both: `pvxl list`, `info`;
  4. restarts it again the planned way, SIGTERM then start (as
     `systemctl restart` does);
  5. lets both run ("after"), then answers their `set-wallclock` requests
     and destroys them through the adopted state.

Each guest prints its verdict as TAP (|offset| <= 50 us, no backward step)
and a PVTIME-METER-WINDOW line per second, which the runner sorts into
before / during / after against its own timeline and reports.
"""

import json
import os
import re
import subprocess
import time

from pvtime_host import (GuestConsole, Meter, log, meter_guest_config,
                         tail_file)

SUITE = "restart"
GUESTS = ("pvtime-restart-a", "pvtime-restart-b")
BEFORE_S = 6          # with pvtimed, before the kill
DEAD_S = 2            # no pvtimed (plus its start-up calibration)
BETWEEN_S = 6         # adopted, before the planned restart
AFTER_S = 6           # after the planned restart
MAX_ABS_NS = 50000    # the guest's --max-abs-us, for the failure story
READY_TIMEOUT_S = 90  # boot and insmod, both guests
END_TIMEOUT_S = 120   # probe end and the rest of the guest's checks

WINDOW_RE = re.compile(r"^PVTIME-METER-WINDOW (.*)$")


class RestartGuest(GuestConsole):
    """One guest: its meter, its console, what it reported."""

    def __init__(self, results, daemon, workdir, build, name):
        super().__init__(results, f"{SUITE}/{name}", daemon.domain_log(name))
        self.daemon = daemon
        self.name = name
        # Two guests and two meters share the host's two cores.  A meter
        # that spins 1 ms after each answer (its default) and a probe that
        # spins while it waits can lock each other into taking turns at the
        # scheduler's slice: every round trip about 1 ms, no usable sample
        # for many windows (seen once in a make check).  20 us covers the
        # back-to-back exchanges of one sample, as for the steps phase.
        self.meter = Meter(build, os.path.join(workdir, f"{name}.meter"),
                           extra_args=["--spin-us", "20"])
        self.ready = False
        self.windows = []      # (host realtime s, the window's JSON)
        self.ready_at = None
        self.summary = None
        self.comments = []     # the guest's '#' lines, for a failure's story

    def own_line(self, line):
        if line.startswith("PVTIME-RESTART-READY"):
            self.ready = True
            self.ready_at = time.time()
            log(f"  {self.suite}: {line}")
            return True
        match = WINDOW_RE.match(line)
        if not match:
            return False
        try:
            row = json.loads(match.group(1))
        except ValueError:
            row = {}
        if "window" in row and self.ready_at:
            # t_s counts from the probe's start, just after READY.
            self.windows.append((self.ready_at + float(row.get("t_s", 0)),
                                 row))
        elif "summary" in row or "total" in row:
            self.summary = row
        return True

    def comment(self, text):
        self.comments = self.comments[-199:] + [text]
        super().comment(text)

    def host_request(self, words):
        """Only `set-wallclock +1h`: on an adopted domain, by the new pvtimed."""
        if words[:2] != ["set-wallclock", "+1h"]:
            self.results.own(False, SUITE, f"unexpected host request {words!r}")
            return
        before = self.daemon.pvxl("info", "--json", self.name)
        result = self.daemon.pvxl("set-wallclock", self.name, "+1h")
        log(f"  {SUITE}/{self.name}: host runs `pvxl set-wallclock {self.name} +1h`")
        self.results.own(result.returncode == 0, SUITE,
                         f"pvxl set-wallclock works on adopted {self.name}",
                         [result.describe(), before.describe()])


def qemu_pid(daemon, name):
    info = daemon.pvxl("info", "--json", name)
    try:
        return int(info.json().get("qemu_pid", 0))
    except (ValueError, TypeError):
        return 0


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(guests, predicate, timeout, daemon_alive=lambda: True):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for guest in guests:
            guest.follow_console()
        if predicate():
            return True
        if not daemon_alive():
            return False
        time.sleep(0.1)
    return predicate()


def sleep_following(guests, seconds):
    wait_for(guests, lambda: False, seconds)


def check_adopted(results, daemon, label):
    """`pvxl list` shows both guests running and `info` says adopted."""
    listing = daemon.pvxl("list", "--json")
    try:
        domains = {d["name"]: d for d in listing.json().get("domains", [])}
    except (ValueError, KeyError, AttributeError):
        domains = {}
    results.own(all(domains.get(n, {}).get("state") == "running" for n in GUESTS),
                SUITE, f"{label}: pvxl list shows both guests running",
                [listing.describe()] + daemon.log_tail(15))
    adopted = []
    for name in GUESTS:
        info = daemon.pvxl("info", "--json", name)
        try:
            data = info.json()
        except ValueError:
            data = {}
        adopted.append(data.get("adopted") is True and
                       data.get("guest_tsc_offset_known") is True)
    results.own(all(adopted), SUITE,
                f"{label}: pvxl info says both were adopted with their offset",
                daemon.log_tail(20))


def window_is_bad(row):
    offset = row.get("offset", {})
    return ((not offset.get("n") and not int(row.get("wide", 0))) or
            abs(int(offset.get("max_abs_ns", 0))) > MAX_ABS_NS or
            int(row.get("wide_proven_max_ns", 0)) > MAX_ABS_NS or
            int(row.get("realtime_backsteps", 0)) or
            int(row.get("monotonic_backsteps", 0)))


def tell_failure(guest, daemon, timeline):
    """A failed guest's story on the runner's timeline: CI keeps only the
    log, so the windows out of bounds, the guest's own notes and pvtimed's
    lines about it are printed here."""
    kill_at = timeline.get("kill", 0)
    marks = ", ".join(f"{name} at {at - kill_at:+.1f} s"
                      for name, at in sorted(timeline.items(), key=lambda kv: kv[1]))
    log(f"    | {guest.name}: timeline (s from the SIGKILL): {marks}")
    bad = [(end, row) for end, row in guest.windows if window_is_bad(row)]
    log(f"    | {guest.name}: {len(bad)} of {len(guest.windows)} windows out of "
        f"bounds (|offset|, or a wide sample's proven error, over "
        f"{MAX_ABS_NS / 1000:.0f} us; backward steps; no sample to judge by)")
    for end, row in bad[:12]:
        log(f"    |   window ending {end - kill_at:+.1f} s: {json.dumps(row)}")
    for line in guest.comments[-40:]:
        log(f"    | {guest.name} # {line}")
    for line in [l for l in daemon.log_tail(400) if guest.name in l][-25:]:
        log(f"    | pvtimed: {line}")


def report_windows(results, guests, timeline):
    """Max |offset| per stretch of the run, per guest, into the summary."""
    kill_at, back_at = timeline["kill"], timeline["back"]
    for guest in guests:
        stretches = {"before": [], "during": [], "after": []}
        for end, row in guest.windows:
            if end < kill_at:
                stretches["before"].append(row)
            elif end <= back_at + 1.0:
                stretches["during"].append(row)
            else:
                stretches["after"].append(row)
        for stretch, rows in stretches.items():
            values = [abs(int(r["offset"]["max_abs_ns"])) for r in rows
                      if r.get("offset", {}).get("n")]
            if values:
                results.reports.append((f"{SUITE}/{guest.name}",
                                        f"max_abs_offset_ns_{stretch}",
                                        str(max(values))))
            backsteps = sum(int(r.get("realtime_backsteps", 0)) +
                            int(r.get("monotonic_backsteps", 0)) for r in rows)
            if rows:
                results.reports.append((f"{SUITE}/{guest.name}",
                                        f"backward_steps_{stretch}",
                                        str(backsteps)))


def phase_restart(results, args, daemon, workdir):
    log("== phase 3b: pvtimed SIGKILLed and restarted under two guests")
    guests = [RestartGuest(results, daemon, workdir, args.build, name)
              for name in GUESTS]
    timeline = {}
    try:
        for guest in guests:
            try:
                guest.meter.start()
            except (OSError, RuntimeError) as err:
                results.own(False, SUITE, f"pvtime-meter for {guest.name} "
                            f"starts: {err}")
                return
            cfg = meter_guest_config(args.build, workdir, guest.name, "restart",
                                     guest.meter)
            created = daemon.pvxl("create", cfg, timeout=120)
            if not results.own(created.returncode == 0, SUITE,
                               f"pvxl create {guest.name}",
                               [created.describe()] + daemon.log_tail(15)):
                return
        if not results.own(wait_for(guests, lambda: all(g.ready for g in guests),
                                    READY_TIMEOUT_S, daemon.alive),
                           SUITE, "both guests measuring against their meters",
                           [f"{g.name}: " + " | ".join(
                               tail_file(daemon.domain_log(g.name), 8))
                            for g in guests]):
            return
        sleep_following(guests, BEFORE_S)

        qemu_pids = [qemu_pid(daemon, g.name) for g in guests]
        timeline["kill"] = time.time()
        log(f"  {SUITE}: SIGKILL pvtimed (pid {daemon.proc.pid})")
        daemon.proc.kill()
        daemon.proc.wait()
        daemon.log_file.close()
        sleep_following(guests, 0.5)
        results.own(all(pid and pid_alive(pid) for pid in qemu_pids), SUITE,
                    f"both QEMUs (pids {qemu_pids}) survive pvtimed's SIGKILL")
        sleep_following(guests, DEAD_S)
        daemon.start()
        timeline["back"] = time.time()
        log(f"  {SUITE}: pvtimed restarted "
            f"({timeline['back'] - timeline['kill']:.1f} s without one)")
        check_adopted(results, daemon, "after SIGKILL")

        sleep_following(guests, BETWEEN_S)
        timeline["planned"] = time.time()
        status = daemon.terminate(keep_guests=True)
        results.own(status == 0, SUITE,
                    f"planned restart: SIGTERM leaves the guests, exit 0 (status {status})")
        daemon.start()
        timeline["planned_back"] = time.time()
        check_adopted(results, daemon, "after a planned restart")
        sleep_following(guests, AFTER_S)

        ended = wait_for(guests, lambda: all(g.ended for g in guests),
                         END_TIMEOUT_S, daemon.alive)
        for guest in guests:
            results.own(guest.begun and guest.ended and guest.tap_count > 0 and
                        guest.planned == guest.tap_count,
                        SUITE, f"{guest.name} reported and ended, "
                        f"{guest.tap_count} results of a plan of {guest.planned}",
                        tail_file(daemon.domain_log(guest.name), 30)
                        if not ended else ())
        report_windows(results, guests, timeline)
        for guest in guests:
            if guest.tap_failed:
                tell_failure(guest, daemon, timeline)
    finally:
        for guest in guests:
            guest.close_console()
            gone = daemon.pvxl("destroy", guest.name, timeout=60) \
                if daemon.alive() else None
            if gone is not None and timeline.get("back"):
                results.own(gone.returncode == 0, SUITE,
                            f"pvxl destroy {guest.name} (adopted)",
                            [gone.describe()])
            guest.meter.stop()
        left = subprocess.run(["pgrep", "-f", "pvtime-restart-"],
                              capture_output=True, text=True).stdout.split()
        results.own(not left, SUITE, "no QEMU of theirs left running",
                    [f"still running: {left}"])
