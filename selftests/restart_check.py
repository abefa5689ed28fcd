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

import os
import re
import signal
import subprocess
import time

from pvtime_host import (LogFollower, parse_tap_line, parse_tap_plan,
                         read_config_value, tail_file)

SUITE = "restart"
GUESTS = ("pvtime-restart-a", "pvtime-restart-b")
BEFORE_S = 6          # with pvtimed, before the kill
DEAD_S = 2            # no pvtimed (plus its start-up calibration)
BETWEEN_S = 6         # adopted, before the planned restart
AFTER_S = 6           # after the planned restart
READY_TIMEOUT_S = 90  # boot and insmod, both guests
END_TIMEOUT_S = 120   # probe end and the rest of the guest's checks
METER_BYTES = 4096


def log(text=""):
    print(text, flush=True)
WINDOW_RE = re.compile(r"^PVTIME-METER-WINDOW (.*)$")


def meter_binary(build):
    return os.path.join(build, "pvtime-meter")


def write_config(build, workdir, name, meter_file):
    """test.cfg with another name, pvtest=restart and the meter device."""
    source = os.path.join(build, "guest", "test.cfg")
    with open(source) as src:
        text = src.read()
    text = re.sub(r'^name = .*$', f'name = "{name}"', text, flags=re.M)
    text = re.sub(r"\bpvtest=[^\s\"]+", "pvtest=restart", text)
    # The ramdisk is relative to the config's directory: make it absolute.
    ramdisk = read_config_value(source, "ramdisk")
    text = re.sub(r'^ramdisk = .*$',
                  f'ramdisk = "{os.path.join(build, "guest", ramdisk)}"',
                  text, flags=re.M)
    text += ('device_model_args = [ "-object", '
             f'"memory-backend-file,id=pvmeter,share=on,mem-path={meter_file},'
             f'size={METER_BYTES}", "-device", "ivshmem-plain,memdev=pvmeter" ]\n')
    path = os.path.join(workdir, f"{name}.cfg")
    with open(path, "w") as dst:
        dst.write(text)
    return path


class RestartGuest:
    """One guest: its meter, its console, what it reported."""

    def __init__(self, results, daemon, workdir, name):
        self.results = results
        self.daemon = daemon
        self.name = name
        self.meter_file = os.path.join(workdir, f"{name}.meter")
        self.meter_log = os.path.join(workdir, f"{name}.meter.log")
        self.meter = None
        self.console = None
        self.ready = self.begun = self.ended = False
        self.tap_count = 0
        self.planned = None
        self.windows = []      # (host realtime s, fields dict)
        self.after_failure = False

    def start_meter(self, build):
        with open(self.meter_log, "wb") as log_file:
            self.meter = subprocess.Popen(
                [meter_binary(build), "--file", self.meter_file,
                 "--size", str(METER_BYTES)],
                stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not os.path.exists(self.meter_file):
            time.sleep(0.05)
        return os.path.exists(self.meter_file) and self.meter.poll() is None

    def stop_meter(self):
        if self.meter is not None and self.meter.poll() is None:
            self.meter.send_signal(signal.SIGTERM)
            try:
                self.meter.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.meter.kill()
                self.meter.wait()

    def follow_console(self):
        if self.console is None and os.path.exists(self.daemon.domain_log(self.name)):
            self.console = LogFollower(self.daemon.domain_log(self.name))
        if self.console is None:
            return
        for line in self.console.lines():
            self.handle(line)

    def handle(self, line):
        if line.startswith("PVTIME-GUEST-BEGIN"):
            self.begun = True
            log(f"  {SUITE}/{self.name}: {line}")
        elif line.startswith("PVTIME-GUEST-END"):
            self.ended = True
            log(f"  {SUITE}/{self.name}: {line}")
        elif line.startswith("PVTIME-RESTART-READY"):
            self.ready = True
            log(f"  {SUITE}/{self.name}: {line}")
        elif line.startswith("PVTIME-HOST-REQUEST"):
            self.host_request(line.split()[1:])
        elif WINDOW_RE.match(line):
            fields = dict(word.split("=", 1) for word in
                          WINDOW_RE.match(line).group(1).split() if "=" in word)
            self.windows.append((time.time(), fields))
        elif self.results.report(f"{SUITE}/{self.name}", line):
            pass
        elif self.begun and not self.ended and parse_tap_plan(line) is not None:
            self.planned = parse_tap_plan(line)
        elif self.begun and not self.ended:
            kind = parse_tap_line(line)
            if kind:
                self.tap_count += 1
                self.results.add(kind, f"{SUITE}/{self.name}", line)
                self.after_failure = kind == "fail"
            elif self.after_failure and line.startswith("#"):
                log(f"    | {line[1:].strip()}")

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


def report_windows(results, guests, timeline):
    """Max |offset| per stretch of the run, per guest, into the summary."""
    kill_at, back_at = timeline["kill"], timeline["back"]
    for guest in guests:
        stretches = {"before": [], "during": [], "after": []}
        for arrived, fields in guest.windows:
            # A window line arrives within a second of the window's end.
            end = arrived
            if end < kill_at:
                stretches["before"].append(fields)
            elif end <= back_at + 1.5:
                stretches["during"].append(fields)
            else:
                stretches["after"].append(fields)
        for stretch, rows in stretches.items():
            values = [abs(int(r["max_abs_ns"])) for r in rows
                      if r.get("max_abs_ns", "").lstrip("-").isdigit()]
            if values:
                results.reports.append((f"{SUITE}/{guest.name}",
                                        f"max_abs_offset_ns_{stretch}",
                                        str(max(values))))


def phase_restart(results, args, daemon, workdir):
    log("== phase 3b: pvtimed SIGKILLed and restarted under two guests")
    if not os.access(meter_binary(args.build), os.X_OK):
        results.own(False, SUITE, f"{meter_binary(args.build)} built")
        return
    guests = [RestartGuest(results, daemon, workdir, name) for name in GUESTS]
    timeline = {}
    try:
        for guest in guests:
            if not results.own(guest.start_meter(args.build), SUITE,
                               f"pvtime-meter for {guest.name} starts",
                               tail_file(guest.meter_log, 10)):
                return
            cfg = write_config(args.build, workdir, guest.name, guest.meter_file)
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
        status = daemon.terminate(keep_guests=True)
        results.own(status == 0, SUITE,
                    f"planned restart: SIGTERM leaves the guests, exit 0 (status {status})")
        daemon.start()
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
    finally:
        for guest in guests:
            if guest.console is not None:
                guest.follow_console()
                guest.console.close()
            gone = daemon.pvxl("destroy", guest.name, timeout=60) \
                if daemon.alive() else None
            if gone is not None and timeline.get("back"):
                results.own(gone.returncode == 0, SUITE,
                            f"pvxl destroy {guest.name} (adopted)",
                            [gone.describe()])
            guest.stop_meter()
        left = subprocess.run(["pgrep", "-f", "pvtime-restart-"],
                              capture_output=True, text=True).stdout.split()
        results.own(not left, SUITE, "no QEMU of theirs left running",
                    [f"still running: {left}"])
