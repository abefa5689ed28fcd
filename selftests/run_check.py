#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run every pvtime test suite and count the TAP results (`make check`).

Phases:
  1. host unit suites: make -C {hyp,tools,selftests/host/shared} check SANITIZE=1,
     and this runner's own TAP counting (selftests/host/runner/);
     fuzz: make -C selftests/fuzz check (corpus replay + a short run each)
  2. daemon integration: selftests/host/integration/ against a private pvtimed,
     and the state directory's permissions on a pvtimed of its own
  3. guest suites: main and wrongabi through pvtimed, nodevice on plain QEMU
  3a. status: the host clock's leap second, TAI offset, error bounds and
     sync state in a guest's sysfs, the ABI base module on this hyp and this
     module on a hyp without the clock status (selftests/clock_status_check.py;
     it changes the host's adjtimex state and restores it)
  3b. restart: pvtimed SIGKILLed and restarted under two guests, each
     measured by its own pvtime-meter (selftests/restart_check.py)
  3c. ntp: the host's NTP frequency +-50 ppm and two adjtime() slews under
     a guest measured by its own pvtime-meter; no guest step allowed
     (selftests/ntp_follow_check.py)
  3d. timesource: a time-source domain sets a second guest's wall clock,
     which may not set it back; rtc_timeoffset (selftests/timesource_check.py)
  3e. steps: 100 pvxl set-wallclock and 100 host ADJ_SETOFFSET steps timed
     into a guest's REALTIME by its meter (p99 < 1 ms), then dates past
     2038 and 2106 in its `date` (selftests/steps_check.py)
  3f. ptp: the guest's PTP clock and Debian's chrony disciplining the
     guest's wall clock to it (pvtest=ptp, build/guest/ptp.cfg)
  3g. save: pvxl save / restore under a guest (step, keep, step), its time
     across each by the mailbox, then corrupt, truncated, foreign and
     newer save files and unknown policies refused
     (selftests/save_restore_check.py)
  3h. migrate: a second pvtimed; pvxl migrate of a guest under all-vCPU
     load to it (its time across the move by the mailbox), a migration
     failed midway (the guest runs on, its time intact, nothing left at
     the destination), bad input refused (selftests/migrate_check.py)
  4. pvtimed shutdown: SIGTERM -> exit 0, no QEMU left behind

The last line is exactly "N passed, N failed" (", N skipped" when some were);
the exit status is 1 if anything failed.  Every TAP stream must print
exactly as many results as its plan "1..N" says; one that does not, or has
no plan, counts as one more failure.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from clock_status_check import phase_clock_status  # noqa: E402
from hostile_guest import run_hostile_suite  # noqa: E402
from pvtime_host import (Daemon, GuestConsole, Meter, Results,  # noqa: E402
                         config_with_args, destroy_after_poweroff,
                         domain_listed, find_key, log,
                         parse_tap_line, parse_tap_plan,
                         processes_mentioning, read_config_value, tail_file)

from ntp_follow_check import run_ntp_follow  # noqa: E402
from save_restore_check import phase_save_restore  # noqa: E402
from virtual_check import phase_virtual  # noqa: E402
from migrate_check import phase_migrate  # noqa: E402
from restart_check import phase_restart  # noqa: E402
from timesource_check import phase_timesource  # noqa: E402
from steps_check import phase_steps  # noqa: E402

QEMU = "/usr/bin/qemu-system-x86_64"
# Build and fuzz jobs: one per core.
JOBS = os.cpu_count() or 1
HOUR_NS = 3600 * 10**9
GUEST_TIMEOUT = 600      # s, main guest suite in make check
PTP_TIMEOUT = 240        # s, the PTP guest: boot, checks, chrony <= 60 s, hold
SOAK_TIMEOUT = 3 * 3600  # s, main guest suite at full length (make soak)
# ms from QMP cont to the hyp's step when every vCPU is busy: the guest's
# calibration samples that allow it wait behind the load (0.8 s seen on a
# 2-core host; 20-100 ms idle, where the limit is 200 ms).
LOADED_RESUME_MS = 2000


class TapStream:
    """One TAP producer's output: its plan and how many results it gave."""

    def __init__(self, label):
        self.label = label
        self.planned = None
        self.results = 0
        self.closed = False   # a trailing plan ended it

    def problem(self):
        if self.planned is None:
            return f"{self.label}: {self.results} results and no plan"
        if self.planned != self.results:
            return (f"{self.label}: planned {self.planned}, "
                    f"printed {self.results} results")
        return None


def split_tap_streams(text):
    """The TAP streams in `text`, several when a make runs several test
    programs.  A stream starts at "TAP version", at a plan that follows a
    complete one, or at a result after a trailing plan; its label is the
    "# " comment just before it (the units' makefiles print the name)."""
    streams = []
    current = None
    comment = "TAP output"

    def start():
        streams.append(TapStream(f"{comment} (stream {len(streams) + 1})"))
        return streams[-1]

    for line in text.splitlines():
        planned = parse_tap_plan(line)
        if line.startswith("TAP version"):
            current = start()
        elif planned is not None:
            if current is None or current.planned is not None:
                current = start()
            current.planned = planned
            current.closed = current.results > 0
        elif parse_tap_line(line):
            if current is None or current.closed:
                current = start()
            current.results += 1
        elif line.startswith("# "):
            comment = line[2:].strip()
    return streams


def count_tap(results, suite, text):
    """Count the TAP results in a suite's output, showing the diagnostics
    of failed ones; every stream in it must print exactly its plan (a
    missing plan or a wrong count is one more failure).  Return how many
    results there were."""
    found = 0
    after_failure = False
    for line in text.splitlines():
        kind = parse_tap_line(line)
        if kind:
            found += 1
            results.add(kind, suite, line)
            after_failure = kind == "fail"
        elif not results.report(suite, line) and after_failure and \
                line.startswith("#"):
            log(f"    | {line[1:].strip()}")
    for stream in split_tap_streams(text):
        problem = stream.problem()
        if problem:
            results.own(False, suite, f"TAP plan not kept: {problem}")
    return found


def run_tap_command(results, suite, argv, timeout, cwd=TOP):
    """Run a command whose stdout is TAP; its exit status must agree."""
    log(f"  {suite}: {' '.join(shlex.quote(a) for a in argv)}")
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout, check=False)
        output, status = proc.stdout.decode("utf-8", "replace"), proc.returncode
    except subprocess.TimeoutExpired as err:
        output = (err.stdout or b"").decode("utf-8", "replace")
        status = None
    before = (results.passed, results.failed, results.skipped)
    found = count_tap(results, suite, output)
    failed_here = results.failed - before[1]
    elapsed = time.monotonic() - start
    log(f"  {suite}: {results.passed - before[0]} passed, {failed_here} "
        f"failed, {results.skipped - before[2]} skipped ({elapsed:.1f} s)")
    problem = None
    if status is None:
        problem = f"timed out after {timeout} s"
    elif found == 0:
        problem = f"exited {status} without any TAP result"
    elif status != 0 and failed_here == 0:
        problem = f"exited {status} although every TAP result passed"
    if problem:
        results.own(False, suite, f"{suite} {problem}",
                    output.splitlines()[-25:])


# --------------------------------------------------------------------------
# Phase 1 and 2


def phase_host_units(results, args):
    log("== phase 1: host unit tests (SANITIZE=1)")
    sanitize_build = os.path.join(args.build, "sanitize")
    for directory in ("hyp", "tools", "selftests/host/shared",
                      "selftests/host/meter"):
        run_tap_command(results, f"unit:{directory}",
                        ["make", "--no-print-directory", "-C", directory,
                         f"-j{JOBS}", "check", "SANITIZE=1",
                         f"BUILD={sanitize_build}"],
                        timeout=600)
    run_tap_command(results, "unit:install",
                    [sys.executable, os.path.join(HERE, "host", "install",
                                                  "test_install.py"),
                     "--build", args.build], timeout=300)
    run_tap_command(results, "unit:mkguest",
                    [sys.executable, os.path.join(HERE, "host", "mkguest",
                                                  "test_pvh_kernel.py"),
                     "--real", read_config_value(
                         os.path.join(args.build, "guest", "wrongabi.cfg"),
                         "kernel")], timeout=120)
    run_tap_command(results, "unit:runner",
                    [sys.executable, os.path.join(HERE, "host", "runner",
                                                  "test_count_tap.py")],
                    timeout=60)
    run_tap_command(results, "unit:clock-status-guard",
                    [sys.executable, os.path.join(HERE, "host", "runner",
                                                  "test_clock_status_guard.py")],
                    timeout=60)


def phase_fuzz(results, args):
    log("== phase 1b: fuzz harnesses (corpus replay, "
        f"{args.fuzz_seconds} s each)")
    run_tap_command(results, "fuzz",
                    ["make", "--no-print-directory", "-C", "selftests/fuzz",
                     f"-j{JOBS}", "check", f"BUILD={args.build}",
                     f"FUZZ_JOBS={JOBS}",
                     f"FUZZ_CHECK_SECONDS={args.fuzz_seconds}"],
                    timeout=900)


def phase_integration(results, args, daemon, kernel, ramdisk):
    log("== phase 2: pvtimed integration (bad input, control socket, "
        "permissions)")
    script = os.path.join(HERE, "host", "integration", "test_control.py")
    run_tap_command(results, "integration",
                    [sys.executable, script, "--build", args.build,
                     "--workdir", daemon.workdir, "--kernel", kernel,
                     "--ramdisk", ramdisk], timeout=300)
    script = os.path.join(HERE, "host", "integration", "test_permissions.py")
    run_tap_command(results, "integration:permissions",
                    [sys.executable, script, "--build", args.build,
                     "--workdir", daemon.workdir, "--kernel", kernel,
                     "--ramdisk", ramdisk], timeout=300)
    if not daemon.alive():
        results.own(False, "integration", "pvtimed survived the bad input",
                    daemon.log_tail())


# --------------------------------------------------------------------------
# Phase 3: guests


class GuestRun(GuestConsole):
    """Follow one guest's console: TAP between the markers, host requests."""

    def __init__(self, results, suite, mode, console_path, daemon=None,
                 domain=None):
        super().__init__(results, suite, console_path)
        self.mode = mode
        self.daemon = daemon
        self.domain = domain

    def pause_for(self, args):
        """`pause-for SECONDS [POLICY [under-load]]`: a stopped guest
        cannot ask for its own unpause, so the runner pauses, waits and
        unpauses.  under-load: every vCPU is busy, and the guest's
        samples that let the hyp correct come later (LOADED_RESUME_MS)."""
        loaded = args[2:] == ["under-load"]
        if loaded:
            args = args[:2]
        try:
            seconds = float(args[0])
            if not 0 < seconds <= 60 or len(args) > 2:
                raise ValueError
        except (IndexError, ValueError):
            self.results.own(False, self.suite,
                             f"bad host request pause-for {args!r}")
            return
        paused = self.daemon.pvxl("pause", self.domain)
        log(f"  {self.suite}: host runs `pvxl pause {self.domain}`, "
            f"waits {seconds:g} s")
        if paused.returncode == 0:
            time.sleep(seconds)
        resumed = self.daemon.pvxl("unpause", self.domain, *args[1:])
        log(f"  {self.suite}: host runs `pvxl unpause {self.domain} "
            f"{' '.join(args[1:])}`")
        log(f"PVTIME-HOST-DONE {paused.returncode or resumed.returncode}")
        for what, result in (("pause", paused), ("unpause", resumed)):
            if result.returncode != 0:
                self.results.own(False, self.suite,
                                 f"host request `pvxl {what}` for pause-for",
                                 [result.describe()])
                return
        self.check_resume_correction(args[1] if len(args) > 1 else "step",
                                     LOADED_RESUME_MS if loaded else 200,
                                     "loaded_" if loaded else "")

    def check_resume_correction(self, policy, limit_ms=200, prefix=""):
        """The hyp's own figure: from QMP cont to the first correction
        the guest's samples allowed (a step, a slew, or keeping)."""
        deadline = time.monotonic() + 5
        while True:
            info = self.daemon.pvxl("info", "--json", self.domain)
            try:
                data = info.json()
            except ValueError:
                data = {}
            pending = find_key(data, "resume_correction_pending")
            if pending is False or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        ms = find_key(data, "resume_correction_ms")
        name = policy.split(":")[0]
        if pending is not False:
            ms = None
        self.results.reports.append((self.suite,
                                     f"resume_{prefix}{name}_correction_ms",
                                     "none within 5 s" if ms is None
                                     else f"{ms}"))
        if name == "step":
            self.results.own(pending is False and isinstance(ms, (int, float))
                             and ms <= limit_ms, self.suite,
                             f"host: the hyp stepped the guest {ms} ms after "
                             f"unpause (limit {limit_ms} ms)")

    def host_request(self, words):
        if self.daemon is None or not words:
            self.results.own(False, self.suite,
                             f"unexpected host request {words!r}")
            return
        if words[0] == "pause-for":
            self.pause_for(words[1:])
            return
        before = self.wallclock_ns()
        argv = [words[0], self.domain] + words[1:]
        result = self.daemon.pvxl(*argv)
        log(f"  {self.suite}: host runs `pvxl {' '.join(argv)}`")
        log(f"PVTIME-HOST-DONE {result.returncode}")
        if result.returncode != 0:
            self.results.own(False, self.suite,
                             f"host request `pvxl {' '.join(argv)}`",
                             [result.describe()])
            return
        if words[0] == "set-wallclock" and len(words) == 2 and \
                words[1] in ("+3600s", "+1h"):
            self.check_hour_step(before)

    def wallclock_ns(self):
        """The domain's wall clock minus host realtime, from `pvxl info`."""
        host_ns = time.time_ns()
        result = self.daemon.pvxl("info", "--json", self.domain)
        try:
            info = result.json()
        except ValueError:
            return None
        # The wall time the domain sees now, against the host's.
        value = find_key(info, "wall_now_ns")
        if isinstance(value, int):
            return value - host_ns
        return None

    def check_hour_step(self, before):
        after = self.wallclock_ns()
        name = "host: pvxl info shows the wall clock moved by +1 h"
        if before is None or after is None:
            info = self.daemon.pvxl("info", "--json", self.domain)
            self.results.own(False, self.suite, name,
                             ["no wall-clock offset in `pvxl --json info`",
                              info.describe()])
            return
        moved = after - before
        passed = self.results.own(abs(moved - HOUR_NS) < 5 * 10**9,
                                  self.suite,
                                  f"{name} (moved {moved / 1e9:.3f} s)")
        if passed:
            log(f"  {self.suite}: ok - {name} (moved {moved / 1e9:.3f} s)")

    def follow(self, timeout, finished):
        """Read the console until the END marker, `finished()` or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.follow_console()
            if self.ended or finished():
                break
            time.sleep(0.2)
        self.close_console()
        return self.ended

    def verdict(self, timed_out_hint):
        context = [f"console {self.console_path}, last lines:"] + \
            tail_file(self.console_path, 30)
        if self.daemon is not None:
            context += ["pvtimed.log:"] + self.daemon.log_tail(15)
        self.results.own(self.begun, self.suite,
                         f"guest printed PVTIME-GUEST-BEGIN {self.mode}",
                         context if not self.begun else ())
        if self.begun:
            self.results.own(self.ended, self.suite,
                             f"guest printed PVTIME-GUEST-END {self.mode} "
                             f"({timed_out_hint})", context)
            self.results.own(self.tap_count > 0, self.suite,
                             "guest reported at least one TAP result",
                             context)
        if self.ended:
            # A console that dropped lines shows here.
            self.results.own(self.planned == self.tap_count, self.suite,
                             f"guest's TAP plan ({self.planned}) matches its "
                             f"{self.tap_count} results", context)


def report_domain_figures(results, daemon, suite, name):
    """Copy the hyp's view of the guest (TSC offset, handshake) into the summary."""
    info = daemon.pvxl("info", "--json", name)
    try:
        data = info.json()
    except ValueError:
        return
    for key in ("guest_tsc_offset", "handshake_rtt_ns", "handshake_rtt_cycles"):
        value = find_key(data, key)
        if isinstance(value, int) and find_key(data, "guest_tsc_offset_known"):
            results.reports.append((suite, key, str(value)))
    if suite != "guest:main":
        return
    # Continuous calibration: every vCPU's offset, drift rate and age.
    evidence = find_key(data, "tsc_evidence") or []
    complete = [v for v in evidence if isinstance(v, dict) and
                all(k in v for k in ("offset", "rate_ppm", "age_ms"))]
    results.own(len(evidence) >= 2 and len(complete) == len(evidence), suite,
                f"host: pvxl info shows every vCPU's calibrated TSC offset, "
                f"rate and age ({len(complete)} of {len(evidence)})",
                [json.dumps(evidence)])
    for vcpu in complete:
        results.reports.append((suite, f"vcpu{vcpu.get('vcpu')}_offset_rate_ppm",
                                str(vcpu["rate_ppm"])))


def guest_suite_pvtimed(results, daemon, cfg, mode, timeout):
    suite = f"guest:{mode}"
    name = read_config_value(cfg, "name")
    log(f"  {suite}: pvxl create {cfg} (domain {name}, timeout {timeout} s)")
    created = daemon.pvxl("create", os.path.abspath(cfg), timeout=120)
    if not results.own(created.returncode == 0, suite,
                       f"pvxl create {os.path.basename(cfg)}",
                       [created.describe()] + daemon.log_tail(15)):
        return
    start = time.monotonic()
    run = GuestRun(results, suite, mode, daemon.domain_log(name), daemon, name)
    run.follow(timeout, lambda: not daemon.alive())
    run.verdict(f"within {timeout} s")
    log(f"  {suite}: guest ran {time.monotonic() - start:.1f} s")
    report_domain_figures(results, daemon, suite, name)
    destroy_after_poweroff(results, daemon, suite, name)


def guest_suite_nodevice(results, args, cfg, workdir, timeout):
    """Boot the same image on plain QEMU: no pvtimed, no ivshmem device."""
    suite = "guest:nodevice"
    kernel = read_config_value(cfg, "kernel")
    ramdisk = os.path.join(os.path.dirname(cfg),
                           read_config_value(cfg, "ramdisk"))
    cmdline = re.sub(r"\bpvtest=\S+", "", read_config_value(cfg, "extra"))
    cmdline = f"{cmdline.strip()} pvtest=nodevice"
    console = os.path.join(workdir, "nodevice.log")
    argv = [QEMU, "-M", "q35", "-accel", "tcg", "-smp", "2", "-m", "512",
            "-display", "none", "-monitor", "none", "-no-reboot",
            "-serial", f"file:{console}", "-kernel", kernel,
            "-initrd", ramdisk, "-append", cmdline]
    log(f"  {suite}: plain QEMU, -append '{cmdline}' (timeout {timeout} s)")
    qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=open(console + ".stderr", "wb"))
    try:
        run = GuestRun(results, suite, "nodevice", console)
        run.follow(timeout, lambda: qemu.poll() is not None)
        run.verdict(f"within {timeout} s")
        try:
            qemu.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        results.own(qemu.returncode == 0, suite,
                    "guest powered off and QEMU exited 0",
                    tail_file(console + ".stderr", 10))
    finally:
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait()


def guest_suite_with_meter(results, args, daemon, workdir, cfg):
    """The main guest suite with its own pvtime-meter: the guest's clock
    against the host's without pvtimed (pvtime-meter-probe in the guest)."""
    suite = f"guest:{args.guest_mode}"
    meter = Meter(args.build, os.path.join(workdir, "meter-main"))
    try:
        meter.start()
    except (OSError, RuntimeError) as err:
        results.own(False, suite, f"pvtime-meter starts: {err}")
        meter.stop()
        return
    try:
        meter_cfg = cfg[:-len(".cfg")] + "-meter.cfg"
        config_with_args(cfg, meter_cfg, meter.device_model_args())
        guest_suite_pvtimed(results, daemon, meter_cfg, args.guest_mode,
                            args.guest_timeout)
    finally:
        summary = meter.stop()
    log(f"  {suite}: pvtime-meter: {json.dumps(summary)}")
    if results.own(isinstance(summary, dict), suite,
                   "host: pvtime-meter exits on SIGTERM with its summary",
                   tail_file(meter.stderr_path, 5)):
        for key in ("requests", "bursts", "cpu_s", "wall_s"):
            results.reports.append((suite, f"meter_{key}", str(summary.get(key))))


def phase_guests(results, args, daemon, workdir):
    log("== phase 3: guest suites")
    guest = os.path.join(args.build, "guest")
    main_cfg = os.path.join(guest, "soak.cfg" if args.soak else "test.cfg")
    if args.guest_mode != "main":
        # Same guest, another pvtest= mode: a config copy beside it.
        with open(main_cfg) as src:
            text = src.read()
        main_cfg = os.path.join(guest, f"check-{args.guest_mode}.cfg")
        with open(main_cfg, "w") as dst:
            dst.write(re.sub(r"\bpvtest=[^\s\"]+", f"pvtest={args.guest_mode}",
                             text))
    guest_suite_with_meter(results, args, daemon, workdir, main_cfg)
    guest_suite_pvtimed(results, daemon, os.path.join(guest, "wrongabi.cfg"),
                        "wrongabi", 120)
    guest_suite_nodevice(results, args, os.path.join(guest, "test.cfg"),
                         workdir, 120)
    log("  guest:hostile: a hostile guest beside a neighbour "
        "(selftests/hostile_guest.py)")
    run_hostile_suite(results, daemon, guest, workdir)


def phase_ptp(results, args, daemon):
    """The PTP clock: its ioctls, then chrony over it with pvtime's own
    wall-clock following off; the guest asks the runner to move the
    hyp's wall clock +0.5 s first (a PVTIME-HOST-REQUEST)."""
    log("== phase 3f: the guest's PTP clock and Debian's chrony over it")
    guest_suite_pvtimed(results, daemon,
                        os.path.join(args.build, "guest", "ptp.cfg"), "ptp",
                        PTP_TIMEOUT)


# --------------------------------------------------------------------------
# Phase 4


def phase_shutdown(results, daemon):
    log("== phase 4: pvtimed shutdown on SIGTERM")
    qemus_before = [pid for pid in processes_mentioning(daemon.state_dir)
                    if pid != daemon.proc.pid]
    status = daemon.terminate()
    results.own(status == 0, "shutdown", f"pvtimed exits 0 on SIGTERM "
                f"(status {status})", daemon.log_tail())
    deadline = time.monotonic() + 10
    left = processes_mentioning(daemon.state_dir)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = processes_mentioning(daemon.state_dir)
    results.own(not left, "shutdown",
                f"no QEMU left running ({len(qemus_before)} before SIGTERM)",
                [f"still running: {left}"])


def timed(results, name, phase, *args):
    """Run one phase; its wall time goes into the summary (the suite's
    15-minute budget is spent phase by phase)."""
    began = time.monotonic()
    try:
        return phase(*args)
    finally:
        results.reports.append(("runner", f"phase_{name}_s",
                                f"{time.monotonic() - began:.0f}"))


def print_summary(results, started):
    log("== summary")
    for suite, key, value in results.reports:
        log(f"  {key:32} {value:>20}   ({suite})")
    # Again at the end: a log cut to its tail still names every failure.
    for failure in results.failures:
        log(f"  failed: {failure}")
    log(f"  total time {time.monotonic() - started:.0f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(TOP, "build"))
    parser.add_argument("--soak", action="store_true",
                        help="use soak.cfg (PVTIME_SOAK=1): full-length "
                        "timers selftests, longer stress runs")
    parser.add_argument("--only", action="append",
                        choices=["units", "fuzz", "integration", "guests",
                                 "status", "restart", "ntp", "timesource", "steps",
                                 "ptp", "save", "migrate", "virtual"],
                        help="run only these phases (repeatable)")
    parser.add_argument("--guest-timeout", type=int,
                        help="seconds for the main guest suite (default "
                        f"{GUEST_TIMEOUT}, with --soak {SOAK_TIMEOUT})")
    parser.add_argument("--guest-mode", default="main",
                        choices=["main", "timekeep", "pausestep", "module"],
                        help="the main guest's pvtest= mode (timekeep: only "
                             "the moving-TSC tests; pausestep: only the 3 s "
                             "step pause, 12 times; module: only pvtime_test "
                             "and the unload checks)")
    parser.add_argument("--fuzz-seconds", type=int, default=3,
                        help="fuzzing time per harness (default 3; the "
                        "long run is make fuzz)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (logs)")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)
    if args.guest_timeout is None:
        args.guest_timeout = SOAK_TIMEOUT if args.soak else GUEST_TIMEOUT
    phases = set(args.only or ["units", "fuzz", "integration", "guests",
                               "status", "restart", "ntp", "timesource", "steps",
                               "ptp", "save", "migrate", "virtual"])

    started = time.monotonic()
    results = Results()
    workdir = tempfile.mkdtemp(prefix="pvtime-check.")
    # The guest tests ask for `pvxl inject` (fault injection).
    daemon = Daemon(args.build, workdir, fault_injection=True)
    test_cfg = os.path.join(args.build, "guest", "test.cfg")
    try:
        if "units" in phases:
            timed(results, "units", phase_host_units, results, args)
        if "fuzz" in phases:
            timed(results, "fuzz", phase_fuzz, results, args)
        if phases & {"integration", "guests", "status", "restart", "ntp",
                      "timesource", "steps", "ptp", "save", "migrate",
                      "virtual"}:
            log(f"== starting pvtimed in {workdir}")
            try:
                daemon.start()
            except (OSError, RuntimeError) as err:
                results.own(False, "pvtimed", f"pvtimed starts: {err}",
                            daemon.log_tail())
            else:
                kernel = read_config_value(test_cfg, "kernel")
                ramdisk = os.path.join(os.path.dirname(test_cfg),
                                       read_config_value(test_cfg, "ramdisk"))
                if "integration" in phases:
                    timed(results, "integration", phase_integration, results,
                          args, daemon, kernel, ramdisk)
                if "guests" in phases and daemon.alive():
                    timed(results, "guests", phase_guests, results, args,
                          daemon, workdir)
                if "status" in phases and daemon.alive():
                    timed(results, "status", phase_clock_status, results, args,
                          daemon, GuestRun)
                if "restart" in phases and daemon.alive():
                    timed(results, "restart", phase_restart, results, args,
                          daemon, workdir)
                if "ntp" in phases and daemon.alive():
                    log("== phase 3c: the host's NTP slews +-50 ppm under a guest")
                    timed(results, "ntp", run_ntp_follow, results, args.build,
                          daemon, workdir)
                if "timesource" in phases and daemon.alive():
                    timed(results, "timesource", phase_timesource, results,
                          args, daemon, workdir)
                if "steps" in phases and daemon.alive():
                    timed(results, "steps", phase_steps, results, args, daemon,
                          workdir)
                if "ptp" in phases and daemon.alive():
                    timed(results, "ptp", phase_ptp, results, args, daemon)
                if "save" in phases and daemon.alive():
                    timed(results, "save", phase_save_restore, results, args,
                          daemon, workdir, GuestRun, domain_listed)
                if "migrate" in phases and daemon.alive():
                    timed(results, "migrate", phase_migrate, results, args,
                          daemon, workdir, GuestRun)
                if "virtual" in phases and daemon.alive():
                    timed(results, "virtual", phase_virtual, results, args,
                          daemon, workdir, GuestRun)
                phase_shutdown(results, daemon)
    except KeyboardInterrupt:
        results.own(False, "runner", "interrupted")
    finally:
        if daemon.alive():
            daemon.terminate()
        daemon.kill_leftovers()
        if args.keep or results.failed:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_summary(results, started)
    log(results.summary_line())
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
