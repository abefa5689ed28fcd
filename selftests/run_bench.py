#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make bench`: pvtime against tsc, hpet and acpi_pm in one boot, one table.

1. A private pvtimed without fault injection; `pvxl host-info` gives the host
   TSC Hz and its precision.
2. `BUILD/bench-records`: the hyp's cost per record update.
3. ONE guest (BUILD/guest/bench.cfg: `tsc=reliable pvtest=bench`) measures,
   for each clocksource, ns per clock_gettime(CLOCK_MONOTONIC) and
   (CLOCK_REALTIME), backward steps, and its rate against the host; it
   prints one `PVTIME-BENCH <clocksource> key=value ...` line each.
   Then, on pvtime, pvtime-tcg-bench: the summed iterations/s of an
   integer loop on every vCPU, and the guest TSC's rate against the host's
   over a span in which every vCPU spins on clock_gettime + rdtsc (the
   offset gained between realtime_probe reads just before and after).
   That guest runs with `tcg_thread = "single"` (the default).
4. A second, short boot of the same image with `tcg_thread = "multi"` runs
   only pvtime-tcg-bench (`PVTIME_BENCH_PARTS=tcg`): the TCG-mode rows.
   Last in that boot, chrony over the PHC (`PVTIME_BENCH_PARTS` ptp):
   pvtime's wall-clock following off, the hyp's wall clock moved +0.5 s,
   Debian's chronyd on `refclock PHC /dev/ptp0`: the time it takes to
   bring REALTIME within 10 us of the hyp's, then the worst |offset| over
   10 s by the mailbox realtime probe (independent of chrony) and
   chrony's own RMS offset (one `PVTIME-BENCH chrony-phc` line).
4b. A third, short boot with `clock = "virtual"` (one vCPU,
   `PVTIME_BENCH_PARTS=virtual`): a clock read's cost in the virtual-time
   domain, by its own clock (virtual ns: instructions) and by the host's
   raw clock (the mailbox's, around the reads), beside the first boot's
   pvtime figure (`--skip-virtual` leaves it out).
5. pvtimed's CPU use: with no domain, then with N idle domains
   (BUILD/guest/idle.cfg: insmod, then sleep), from /proc/<pid>/stat.
6. Host steps: 100 `pvxl set-wallclock` and 100 host ADJ_SETOFFSET steps
   timed into a guest's CLOCK_REALTIME by its meter, p50/p99/max latency
   and residual per kind (selftests/steps_check.py; --skip-steps).
7. The table, on stdout and in BUILD/bench.txt; everything in
   BUILD/bench.json.

Exit status 0 when every figure was collected, 1 otherwise.  The issue's
goals are printed as met or missed; missing a goal does not fail the run
(a benchmark measures, it does not assert).
"""

import argparse
import json
import math
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from pvtime_host import (Daemon, LogFollower, Results, config_copy,  # noqa: E402
                         log, read_config_value)
from ntp_follow_check import run_ntp_follow  # noqa: E402
from run_check import GuestRun, domain_listed  # noqa: E402
from save_restore_check import make_run_class  # noqa: E402
from migrate_check import make_run_class as make_migrate_class  # noqa: E402
from steps_check import bench_steps, steps_report  # noqa: E402

CLOCKSOURCES = ["pvtime", "pvtime-tsc", "tsc", "hpet", "acpi_pm"]
# Domain config values of tcg_thread, in the order the table lists them.
TCG_MODES = ["single", "multi"]
TCG_LINES = ["tcg-throughput", "tcg-load-rate"]
TIMEKEEP_LINES = ["timekeep-load", "timekeep-load-pause", "timekeep-pause-step",
                  "timekeep-save-restore-recovery", "timekeep-save-restore-step",
                  "timekeep-migrate"]
CHRONY_LINE = "chrony-phc"
# The guest's alternating rounds of the fast path and the forced tsc vDSO
# (run-guest-tests.sh bench_alternate): PVTIME-BENCH alternate-<round>-<cs>.
ALTERNATE_RE = re.compile(r"^alternate-(\d+)-(pvtime-tsc|tsc)$")
BENCH_RE = re.compile(r"^PVTIME-BENCH (\S+)\s*(.*)$")
# The guest kernel's own TSC calibration, from its dmesg (the bench mode
# prints it, as a PVTIME-BENCH line or as commented dmesg lines).
TSC_MHZ_RES = [
    re.compile(r"Refined TSC clocksource calibration: ([0-9.]+) MHz"),
    re.compile(r"tsc: Detected ([0-9.]+) MHz processor"),
]
# Goals of issue 3.
FAST_VS_TSC_MAX = 1.2
HPET_VS_FAST_MIN = 7.0
# Issue 7: guest REALTIME within this of the host's through a +-50 ppm slew.
NTP_FOLLOW_GOAL_NS = 1000
# The guest's own verdict covers the adjtime() stretches too, whose start
# and end cost a few us (pvtimed.rst); the goal above judges +-50 ppm.
NTP_FOLLOW_TAP_US = 5
RATE_ERROR_MAX_PPM = 0.05
GUEST_CALIBRATION_MIN_PPM = 1.0


def parse_number(text):
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and \
        "e" not in text.lower() else value


def parse_fields(text):
    """key=value words (values may be quoted) -> dict; other words go to
    'note'."""
    fields, notes = {}, []
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key:
            fields[key] = parse_number(value)
        else:
            notes.append(word)
    if notes:
        fields["note"] = " ".join(notes)
    return fields


class BenchRun(make_migrate_class(make_run_class(GuestRun))):
    """The bench guest's console: PVTIME-BENCH lines and the TSC MHz; it
    answers save-restore requests as make check's phase 3g does, and
    migrate to a second pvtimed as phase 3h does (without the refusals)."""

    refusals_too = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.figures = {}
        self.bench = {}
        self.tsc_mhz = {}
        self.save_file = os.path.join(self.daemon.workdir, "bench.save") \
            if self.daemon else None
        self.timings = []

    def handle(self, line):
        text = line[2:] if line.startswith("# ") else line
        for pattern in TSC_MHZ_RES:
            match = pattern.search(text)
            if match:
                key = "refined" if "Refined" in pattern.pattern else "detected"
                self.tsc_mhz[key] = float(match.group(1))
        match = BENCH_RE.match(line)
        if match:
            log(f"  bench: {line}")
            self.bench[match.group(1)] = parse_fields(match.group(2))
            return
        super().handle(line)


def host_info(daemon):
    result = daemon.pvxl("host-info", "--json")
    if result.returncode != 0:
        raise RuntimeError(f"pvxl host-info failed: {result.describe()}")
    return result.json()


def run_bench_records(build):
    """BUILD/bench-records: its `key value` (or key=value) figures."""
    path = os.path.join(build, "bench-records")
    if not os.access(path, os.X_OK):
        return {"error": f"{path} not built"}, []
    try:
        proc = subprocess.run([path], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"{path} timed out after 300 s"}, []
    output = proc.stdout.decode("utf-8", "replace").splitlines()
    figures = {}
    for line in output:
        if line.startswith("#"):
            continue
        match = re.match(r"^\s*([A-Za-z_][\w.-]*)\s*[=:\s]\s*(-?[0-9.]+)\b",
                         line)
        if match:
            figures[match.group(1)] = parse_number(match.group(2))
    if proc.returncode != 0:
        figures["error"] = (f"{path} exited {proc.returncode}: " +
                            proc.stderr.decode("utf-8", "replace").strip()[:200])
    return figures, output


def cpu_seconds(pid):
    """utime + stime of a process (all threads), in seconds.  Clock ticks:
    over 30 s one tick is 0.03 % of a core.  (schedstat would be finer but
    reads 0 on kernels without schedstats.)"""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime, stime are fields 14, 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def sample_cpu(daemon, seconds):
    """pvtimed's CPU use over `seconds`, as a percentage of one core, and
    the resolution of that figure (one clock tick)."""
    start_cpu, start = cpu_seconds(daemon.proc.pid), time.monotonic()
    time.sleep(seconds)
    used = cpu_seconds(daemon.proc.pid) - start_cpu
    elapsed = time.monotonic() - start
    return 100.0 * used / elapsed, 100.0 / os.sysconf("SC_CLK_TCK") / elapsed


def tcg_mode_evidence(daemon, name):
    """What pvxl info says of the domain's TCG thread mode, and the -accel
    argument its QEMU actually got (from /proc/<qemu_pid>/cmdline)."""
    found = {}
    info = daemon.pvxl("info", "--json", name)
    if info.returncode != 0:
        return {"error": info.describe()}
    try:
        fields = info.json()
    except ValueError as err:
        return {"error": f"pvxl info --json: {err}"}
    found["info_tcg_thread"] = fields.get("tcg_thread")
    try:
        with open(f"/proc/{fields.get('qemu_pid')}/cmdline", "rb") as f:
            argv = f.read().decode("utf-8", "replace").split("\0")
        if "-accel" in argv[:-1]:
            found["qemu_accel"] = argv[argv.index("-accel") + 1]
    except OSError as err:
        found["qemu_accel"] = f"unknown ({err})"
    return found


def run_bench_guest(daemon, cfg, timeout, results, suite="guest:bench",
                    other=None, workdir=None):
    name = read_config_value(cfg, "name")
    log(f"== bench guest: pvxl create {cfg} (timeout {timeout} s)")
    created = daemon.pvxl("create", os.path.abspath(cfg), timeout=120)
    if created.returncode != 0:
        raise RuntimeError(f"pvxl create failed: {created.describe()}")
    start = time.monotonic()
    run = BenchRun(results, suite, "bench", daemon.domain_log(name),
                   daemon, name)
    # A migrate request moves it to the second pvtimed (run.daemon then).
    run.other = other
    run.workdir = workdir
    run.cfg = cfg
    run.accel = tcg_mode_evidence(daemon, name)
    log(f"  {name}: {run.accel}")
    checked, unlisted = [time.monotonic()], []

    def gone():
        """pvtimed died, or the guest powered off without END (its last
        console lines may land after it left `pvxl list`: read 3 s more)."""
        if not run.daemon.alive():
            return True
        if unlisted:
            return time.monotonic() - unlisted[0] > 3
        if time.monotonic() - checked[0] >= 5:
            checked[0] = time.monotonic()
            if not domain_listed(run.daemon, name):
                unlisted.append(time.monotonic())
        return False

    run.follow(timeout, gone)
    log(f"  bench guest ran {time.monotonic() - start:.0f} s")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and domain_listed(run.daemon, name):
        time.sleep(0.5)
    if domain_listed(run.daemon, name):
        run.daemon.pvxl("destroy", name, timeout=60)
    if not run.ended:
        log(f"  bench guest did not print PVTIME-GUEST-END bench within "
            f"{timeout} s; console: {run.daemon.domain_log(name)}")
    return run


def idle_configs(idle_cfg, workdir, count):
    """`count` copies of idle.cfg with their own names."""
    configs = []
    for number in range(1, count + 1):
        name = f"pvtime-idle{number}"
        configs.append((name, config_copy(
            idle_cfg, os.path.join(workdir, f"{name}.cfg"), name=name)))
    return configs


def wait_idle_ready(console_path, timeout):
    """The clocksource an idle guest reports ready with, or what went
    wrong."""
    follower = LogFollower(console_path)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for line in follower.lines():
                if line.startswith("PVTIME-IDLE-READY"):
                    return line.split()[-1]
                if "insmod pvtime.ko failed" in line:
                    return "insmod pvtime.ko failed"
            time.sleep(0.3)
    finally:
        follower.close()
    return f"not ready within {timeout} s"


def measure_idle(daemon, idle_cfg, workdir, count, seconds, boot_timeout):
    """pvtimed CPU % with no domain, then with `count` idle domains."""
    figures = {"idle_domains": count, "sample_s": seconds}
    log(f"== pvtimed CPU: no domain, {min(seconds, 10)} s")
    figures["cpu_percent_no_domain"], _ = sample_cpu(daemon, min(seconds, 10))
    configs = idle_configs(idle_cfg, workdir, count)
    ready = {}
    figures["idle_clocksources"] = ready
    try:
        # One at a time: nine TCG guests booting at once on two cores
        # starve each other's handshakes; the figure is about idle ones.
        log(f"== starting {count} idle domains, each up to "
            f"PVTIME-IDLE-READY before the next")
        for name, path in configs:
            created = daemon.pvxl("create", path, timeout=120)
            if created.returncode != 0:
                figures["error"] = f"create {name}: {created.describe()}"
                return figures
            state = wait_idle_ready(daemon.domain_log(name), boot_timeout)
            ready[name] = state
            if state not in ("pvtime", "pvtime-tsc"):
                figures["error"] = (f"idle domain {name}: {state} (console "
                                    f"{daemon.domain_log(name)})")
                return figures
        # Let the boot-time mailbox sessions finish before sampling.
        time.sleep(5)
        log(f"== pvtimed CPU: {count} idle domains, {seconds} s")
        percent, resolution = sample_cpu(daemon, seconds)
        figures["cpu_percent"] = percent
        figures["cpu_percent_resolution"] = resolution
        figures["cpu_percent_per_domain"] = percent / count
    finally:
        for name, _ in configs:
            if domain_listed(daemon, name):
                daemon.pvxl("destroy", name, timeout=60)
    return figures


def fmt(value, spec, missing="-"):
    if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value):
        return format(value, spec)
    return missing


def rate_text(row):
    rate = row.get("rate_ppm")
    if row.get("rate_failed"):
        return "probe failed"
    if not isinstance(rate, (int, float)):
        return "-"
    err = row.get("rate_err")
    text = f"{rate:+.4f}"
    if isinstance(err, (int, float)):
        text += f" ± {err:.4f}"
    return text


def tcg_figures(run):
    """The TCG-mode figures of one bench boot."""
    figures = {name: run.bench[name] for name in TCG_LINES if name in run.bench}
    figures["accel"] = getattr(run, "accel", {})
    figures["ended"] = run.ended
    return figures


def tcg_report(data):
    """The TCG thread mode rows: one per mode, from its own boot."""
    tcg = data.get("tcg", {})
    if not tcg:
        return []
    multi = tcg.get("multi", {}).get("tcg-throughput", {}).get("iter_per_s")
    head = (f"{'TCG mode':<9} {'two-thread throughput (iter/s)':>31} "
            f"{'ratio vs multi':>15} "
            f"{'guest TSC rate vs host under all-vCPU load (ppm)':>50}")
    out = ["", head, "-" * len(head)]
    notes = []
    for mode in TCG_MODES:
        row = tcg.get(mode)
        if row is None:
            continue
        if row.get("skipped"):
            out.append(f"{mode:<9} skipped: {row['skipped']}")
            continue
        work = row.get("tcg-throughput", {})
        load = row.get("tcg-load-rate", {})
        iters = work.get("iter_per_s")
        ratio = iters / multi if isinstance(iters, (int, float)) and \
            isinstance(multi, (int, float)) and multi else None
        rate = rate_text(load) if load else "-"
        if load.get("reason"):
            rate = f"skipped: {load['reason']}"
        out.append(f"{mode:<9} {fmt(iters, '31.4g')} "
                   f"{fmt(ratio, '14.2f') + 'x' if ratio else '-':>15} "
                   f"{rate:>50}")
        accel = row.get("accel", {})
        notes.append(f"  {mode}: QEMU -accel {accel.get('qemu_accel', '?')}, "
                     f"pvxl info tcg_thread={accel.get('info_tcg_thread', '?')}; "
                     f"{work.get('threads', '?')} threads for "
                     f"{fmt(work.get('seconds'), '.0f')} s; on "
                     f"{load.get('clocksource', '?')}, offset gained "
                     f"{fmt(load.get('offset_gain_ns'), 'd')} ns over "
                     f"{fmt(load.get('rate_s'), '.1f')} s of "
                     f"{fmt(load.get('reads_per_s'), '.3g')} clock reads/s "
                     f"(probe round trips {fmt(load.get('rtt_before_ns'), 'd')}"
                     f" / {fmt(load.get('rtt_after_ns'), 'd')} ns)")
    return out + notes


def timekeep_report(data):
    """When the guest TSC moves: all-vCPU load, and a pause under step."""
    tk = data.get("timekeep")
    if not tk:
        return []
    load = tk.get("timekeep-load", {})
    pause = tk.get("timekeep-pause-step", {})
    out = ["", "guest TSC moving (pvtime-timekeep, against the hyp through "
           "the mailbox; chosen TCG mode)"]
    out.append(f"  all-vCPU clock_gettime+rdtsc load, {load.get('seconds', '?')}"
               f" s: max |REALTIME - hyp| "
               f"{fmt(abs(load['worst_realtime_ns']) if isinstance(load.get('worst_realtime_ns'), int) else None, 'd')} ns"
               f" (after: {fmt(load.get('after_realtime_ns'), 'd')} ns), "
               f"guest raw clock vs host {fmt(load.get('raw_rate_ppm'), '+.4f')} ppm")
    loaded = tk.get("timekeep-load-pause", {})
    if loaded:
        out.append(f"  paused {fmt(loaded.get('paused_ms'), 'd')} ms under "
                   f"that load, step: back within 1 ms after "
                   f"{fmt(loaded.get('recovery_ms'), 'd')} ms; then max "
                   f"|REALTIME - hyp| "
                   f"{fmt(abs(loaded['worst_realtime_ns']) if isinstance(loaded.get('worst_realtime_ns'), int) else None, 'd')}"
                   f" ns, proven error {fmt(loaded.get('proven_error_ns'), 'd')}"
                   f" ns ({fmt(loaded.get('probes'), 'd')} probes)")
    recovery = pause.get("recovery_us")
    back = (f"within 1 ms {fmt(recovery, 'd')} us after its first probe"
            if not isinstance(recovery, int) or recovery >= 0 else
            "NOT within 1 ms 20 s after its first probe")
    out.append(f"  pause {fmt(pause.get('paused_ms'), 'd')} ms, step: hyp "
               f"corrected {tk.get('resume_step_correction_ms') or '-'} ms "
               f"after cont; guest {back} (which saw "
               f"{fmt(pause.get('first_error_ns'), 'd')} ns)")
    saved = tk.get("timekeep-save-restore-step", {})
    how = tk.get("save_restore") or {}
    if saved or how:
        out.append(f"  save/restore, step: {fmt(saved.get('stopped_ms'), 'd')}"
                   f" ms away (pvxl save {fmt(how.get('save_ms'), '.0f')} ms,"
                   f" {fmt(how.get('stream_bytes'), 'd')} bytes; restore "
                   f"{fmt(how.get('restore_ms'), '.0f')} ms); a second after:"
                   f" REALTIME - hyp {fmt(saved.get('realtime_error_ns'), 'd')}"
                   f" ns, raw clock - host "
                   f"{fmt(saved.get('raw_error_ns'), 'd')} ns")
    moved = tk.get("timekeep-migrate", {})
    how = tk.get("migrate") or {}
    if moved or how:
        out.append(f"  migrate to a second pvtimed under all-vCPU load, step:"
                   f" stopped {fmt(how.get('migrate_downtime_ms'), '.0f')} ms"
                   f" (live {fmt(how.get('migrate_live_ms'), '.0f')} ms, "
                   f"{fmt(how.get('migrate_total_ms'), '.0f')} ms in all); a"
                   f" second after: REALTIME - hyp "
                   f"{fmt(moved.get('realtime_error_ns'), 'd')} ns, raw clock"
                   f" - host {fmt(moved.get('raw_error_ns'), 'd')} ns; within"
                   f" 50 us after {fmt(moved.get('settled_ms'), 'd')} ms")
    return out


def wallclock_report(data):
    """Issue 7: the guest's CLOCK_REALTIME against the host's."""
    out = []
    ntp = data.get("wallclock", {}).get("ntp_follow")
    if ntp is None:
        return out
    out.append("")
    out.append("guest CLOCK_REALTIME vs host (independent pvtime-meter, "
               "samples with round trip <= 2 us, so each within 1 us):")
    if not ntp:
        out.append("  host NTP +-50 ppm: no figures (see the log)")
        return out
    for stretch in ("as-found", "plus50", "minus50", "adjtime-plus2ms",
                    "adjtime-minus2ms", "restored"):
        fig = ntp.get(stretch)
        if not fig:
            out.append(f"  host NTP {stretch:<9}: no windows")
            continue
        out.append(f"  host NTP {stretch:<9}: max |offset| {fig['max_abs_ns']:>6} ns, "
                   f"worst 1-s mean {fig['max_abs_mean_ns']:>6} ns, "
                   f"worst 1-s p99 {fig['p99_abs_ns']:>6} ns over "
                   f"{fig['windows']} s, {fig['backsteps']} backward")
    pause = ntp.get("pause") or {}
    recovery = pause.get("recovery_s")
    out.append(f"  after a 1 s pause at +50 ppm (policy step): max |offset| "
               f"{fmt(pause.get('max_abs_ns'), 'd')} ns from 1 s after the "
               f"unpause ({fmt(pause.get('windows'), 'd')} windows of 0.2 s); "
               f"within the limit "
               f"{'-' if recovery is None else f'{recovery:.1f}'} s after it")
    load = ntp.get("load") or {}
    out.append(f"  +50 ppm with every guest vCPU hammering clock_gettime() and "
               f"rdtsc, by the mailbox probe once a second (the meter cannot "
               f"answer while the vCPUs hold both host cores): proven error "
               f"{load.get('realtime_proven_error_ns', '-')} ns (|offset| - "
               f"rtt/2, worst probe); largest raw |offset| "
               f"{load.get('realtime_worst_ns', '-')} ns, whatever its round trip")
    follower = ntp.get("follower", {})
    out.append(f"  guest wall-clock steps during the slews: "
               f"{ntp.get('guest_wallclock_steps', '-')} (goal 0); pvtimed "
               f"saw {follower.get('kernel_changes', '-')} frequency changes, "
               f"changed the records' rate {follower.get('rate_changes', '-')} "
               f"times ({follower.get('trims', '-')} phase trims)")
    return out


def chrony_report(data):
    """chrony over the guest's PHC: offset reached, time to reach it and
    the independent check against the hyp (the mailbox realtime probe)."""
    row = data.get("chrony")
    if row is None:
        return []
    out = ["", "chrony over the PHC in the guest (refclock PHC /dev/ptp0 "
           "poll -2 dpoll -2, following off, from 0.5 s behind the hyp)"]
    if not row:
        return out + ["  (no PVTIME-BENCH chrony-phc line from the guest)"]
    reach = row.get("reach_s")
    out.append(f"  |REALTIME - hyp| <= {fmt(row.get('within_ns'), 'd')} ns "
               f"reached after {fmt(reach, '.1f') if isinstance(reach, (int, float)) else 'never'} s; "
               f"then over {fmt(row.get('hold_s'), 'd')} s: max "
               f"{fmt(row.get('hold_max_abs_ns'), 'd')} ns by the realtime "
               f"probe (independent; its rtt <= "
               f"{fmt(row.get('probe_rtt_max_ns'), 'd')} ns)")
    out.append(f"  chrony: max |last offset| "
               f"{fmt(row.get('chrony_last_max_abs_ns'), 'd')} ns, RMS offset "
               f"{fmt(row.get('chrony_rms_ns'), 'd')} ns; "
               f"{fmt(row.get('crosststamps'), 'd')} PTP_SYS_OFFSET_PRECISE, "
               f"{fmt(row.get('gettimex64_reads'), 'd')} gettimex64 reads")
    return out


def virtual_figures(results, suite):
    """The clock = "virtual" boot's PVTIME-REPORT figures."""
    found = {}
    for s, key, value in results.reports:
        if s == suite and key in ("virtual_read_guest_ns",
                                  "virtual_read_host_ns"):
            found[key] = parse_number(value)
    return found


def virtual_report(data):
    """A virtual-time domain's clock read beside a host-time one's."""
    virtual = data.get("virtual", {})
    if virtual.get("skipped"):
        return [f"virtual-time domain: skipped ({virtual['skipped']})"]
    host_time = data["clocksources"].get("pvtime", {}).get("mono_ns")
    return [
        "clock_gettime(CLOCK_MONOTONIC) on pvtime (kernel path), same run:",
        f"  clock = \"virtual\" (-icount shift=0): "
        f"{fmt(virtual.get('virtual_read_guest_ns'), '.1f')} ns of its own "
        f"virtual time (= instructions), "
        f"{fmt(virtual.get('virtual_read_host_ns'), '.1f')} ns of host time",
        f"  clock = \"host\": {fmt(host_time, '.1f')} ns",
    ]


def build_report(data):
    """The table and the summary lines, as printed."""
    rows = data["clocksources"]
    hpet = rows.get("hpet", {}).get("mono_ns")
    out = ["pvtime bench: clock_gettime cost, monotonicity and rate, "
           "one guest boot", ""]
    head = (f"{'clocksource':<12} {'MONOTONIC ns':>13} {'REALTIME ns':>12} "
            f"{'hpet/this':>10} {'backward':>9} {'rate vs host ppm':>20}")
    out += [head, "-" * len(head)]
    for name in CLOCKSOURCES:
        row = rows.get(name)
        if row is None:
            out.append(f"{name:<12} (no PVTIME-BENCH line from the guest)")
            continue
        mono = row.get("mono_ns")
        if not isinstance(mono, (int, float)):
            reason = row.get("reason") or row.get("note") or "no figures"
            out.append(f"{name:<12} skipped: {reason}")
            continue
        ratio = hpet / mono if isinstance(hpet, (int, float)) and mono else None
        out.append(f"{name:<12} {fmt(mono, '13.1f')} "
                   f"{fmt(row.get('real_ns'), '12.1f'):>12} "
                   f"{fmt(ratio, '9.2f') + 'x' if ratio else '-':>10} "
                   f"{fmt(row.get('backward'), '9d'):>9} "
                   f"{rate_text(row):>20}")
    out.append("")
    derived = data["derived"]
    ratios = alternating_ratios(data)
    how = (f"median of {len(ratios)} alternating rounds: "
           + ", ".join(f"{r:.3f}" for r in ratios)
           + f"; the two rows above alone: "
           f"{fmt(derived.get('fast_vs_tsc_single'), '.3f')}x") if ratios \
        else "the two rows above; no alternating rounds"
    out.append(f"fast path (pvtime-tsc) / forced tsc vDSO:  "
               f"{fmt(derived.get('fast_vs_tsc'), '.3f')}x "
               f"(goal <= {FAST_VS_TSC_MAX}; {how})")
    out.append(f"hpet / fast path (pvtime-tsc):             "
               f"{fmt(derived.get('hpet_vs_fast'), '.2f')}x "
               f"(goal >= {HPET_VS_FAST_MIN})")
    out.append(f"hpet / kernel path (pvtime):               "
               f"{fmt(derived.get('hpet_vs_pvtime'), '.2f')}x")
    host = data["host"]
    out.append(f"host TSC:   {fmt(host.get('tsc_hz'), 'd')} Hz "
               f"± {fmt(host.get('precision_hz'), 'd')} Hz "
               f"({fmt(host.get('precision_ppm'), '.4f')} ppm, pvxl host-info)")
    guest = data["guest"]
    mhz = guest.get("tsc_mhz")
    out.append(f"guest's own TSC calibration: {fmt(mhz, '.3f')} MHz "
               f"({guest.get('tsc_mhz_source', 'not reported')}): "
               f"{fmt(guest.get('tsc_calibration_ppm'), '+.2f')} ppm vs host "
               f"(printed to 1 kHz: ±0.2 ppm)")
    records = data["hyp"]["records"]
    if records.get("error"):
        out.append(f"record update: {records['error']}")
    for key, value in records.items():
        if key != "error":
            out.append(f"record update: {key} = {value}")
    idle = data["hyp"]["idle"]
    if idle.get("error"):
        out.append(f"pvtimed CPU: {idle['error']}")
    else:
        resolution = idle.get("cpu_percent_resolution") or 0
        total = idle.get("cpu_percent")
        if total == 0:
            total_text = f"< {resolution:.3f} % of a core (no clock tick)"
            per_text = f"< {resolution / idle['idle_domains']:.4f} %"
        else:
            total_text = (f"{fmt(total, '.3f')} % of a core "
                          f"(± {resolution:.3f})")
            per_text = f"{fmt(idle.get('cpu_percent_per_domain'), '.4f')} %"
        out.append(f"pvtimed CPU, {idle.get('idle_domains')} idle domains "
                   f"over {idle.get('sample_s')} s: {total_text}, "
                   f"{per_text} per domain (no domain: "
                   f"{fmt(idle.get('cpu_percent_no_domain'), '.3f')} %)")
    out += tcg_report(data)
    out += virtual_report(data)
    out += timekeep_report(data)
    out += wallclock_report(data)
    out += steps_report(data.get("steps"))
    out += chrony_report(data)
    out.append("")
    for goal, verdict in data["goals"].items():
        out.append(f"goal {goal}: {verdict}")
    return out


def alternating_rounds(bench):
    """{round: {"tsc": mono_ns, "pvtime-tsc": mono_ns}} for the rounds
    that measured both, keyed by round number as a string (JSON)."""
    rounds = {}
    for name, row in bench.items():
        match = ALTERNATE_RE.match(name)
        mono = row.get("mono_ns")
        if match and isinstance(mono, (int, float)) and mono > 0:
            rounds.setdefault(match.group(1), {})[match.group(2)] = mono
    return {key: value for key, value in sorted(rounds.items(),
                                                key=lambda kv: int(kv[0]))
            if len(value) == 2}


def alternating_ratios(data):
    """pvtime-tsc / tsc of each alternating round, in round order."""
    return [pair["pvtime-tsc"] / pair["tsc"]
            for pair in (data.get("alternating") or {}).values()]


def derive(data):
    rows = data["clocksources"]

    def mono(name):
        value = rows.get(name, {}).get("mono_ns")
        return value if isinstance(value, (int, float)) and value > 0 else None

    def rate(name):
        value = rows.get(name, {}).get("rate_ppm")
        return value if isinstance(value, (int, float)) else None

    derived = {}
    if mono("pvtime-tsc") and mono("tsc"):
        derived["fast_vs_tsc_single"] = mono("pvtime-tsc") / mono("tsc")
    # The goal judges the alternating rounds' median: each round's two
    # windows are next to each other in host time.
    ratios = alternating_ratios(data)
    if ratios:
        derived["fast_vs_tsc"] = statistics.median(ratios)
    elif "fast_vs_tsc_single" in derived:
        derived["fast_vs_tsc"] = derived["fast_vs_tsc_single"]
    if mono("hpet") and mono("pvtime-tsc"):
        derived["hpet_vs_fast"] = mono("hpet") / mono("pvtime-tsc")
    if mono("hpet") and mono("pvtime"):
        derived["hpet_vs_pvtime"] = mono("hpet") / mono("pvtime")
    tcg = data.get("tcg", {})
    iters = {mode: tcg.get(mode, {}).get("tcg-throughput", {}).get("iter_per_s")
             for mode in TCG_MODES}
    if all(isinstance(v, (int, float)) and v > 0 for v in iters.values()):
        derived["tcg_single_vs_multi"] = iters["single"] / iters["multi"]
    data["derived"] = derived

    guest = data["guest"]
    tsc_hz = data["host"].get("tsc_hz")
    if guest.get("tsc_mhz") and isinstance(tsc_hz, int):
        guest["tsc_calibration_ppm"] = \
            (guest["tsc_mhz"] * 1e6 - tsc_hz) / tsc_hz * 1e6

    def judged(value, test):
        if value is None:
            return "n/a (not measured)"
        verdict = test(value)
        if isinstance(verdict, str):
            return verdict
        return "met" if verdict else "MISSED"

    backward = [rows[n].get("backward") for n in ("pvtime", "pvtime-tsc")
                if n in rows]
    pv_rates = [rate(n) for n in ("pvtime", "pvtime-tsc")]
    pv_errs = [rows.get(n, {}).get("rate_err") for n in ("pvtime", "pvtime-tsc")]

    def rate_goal(rates):
        """Met only when the fit resolves the limit: |rate| and its
        uncertainty both below it."""
        if not all(abs(r) < RATE_ERROR_MAX_PPM for r in rates):
            return False
        if all(isinstance(e, (int, float)) and e < RATE_ERROR_MAX_PPM
               for e in pv_errs):
            return True
        return ("unresolved (the fit's uncertainty is not below the limit: "
                "measure longer, BENCH_ARGS=--rate-seconds N)")
    data["goals"] = {
        f"fast path within {FAST_VS_TSC_MAX}x of tsc vDSO":
            judged(derived.get("fast_vs_tsc"), lambda v: v <= FAST_VS_TSC_MAX),
        f"fast path >= {HPET_VS_FAST_MIN}x faster than hpet":
            judged(derived.get("hpet_vs_fast"),
                   lambda v: v >= HPET_VS_FAST_MIN),
        "zero backward steps (pvtime, pvtime-tsc)":
            judged(backward if len(backward) == 2 and
                   all(isinstance(b, int) for b in backward) else None,
                   lambda v: not any(v)),
        f"pvtime rate error < {RATE_ERROR_MAX_PPM} ppm (and resolved)":
            judged(pv_rates if all(r is not None for r in pv_rates) else None,
                   rate_goal),
        f"guest's own calibration >= {GUEST_CALIBRATION_MIN_PPM} ppm off":
            judged(guest.get("tsc_calibration_ppm"),
                   lambda v: abs(v) >= GUEST_CALIBRATION_MIN_PPM),
    }
    ntp = data.get("wallclock", {}).get("ntp_follow")
    if ntp is not None:
        slewed = [ntp[s]["max_abs_ns"] for s in ("plus50", "minus50") if s in ntp]
        data["goals"][f"guest REALTIME within {NTP_FOLLOW_GOAL_NS} ns of the "
                      "host's through +-50 ppm, no guest step"] = judged(
            (max(slewed), ntp.get("guest_wallclock_steps"))
            if len(slewed) == 2 else None,
            lambda v: v[0] <= NTP_FOLLOW_GOAL_NS and str(v[1]) == "0")
    steps = data.get("steps") or {}
    # Until applied (the guest's timekeeper took the step), as the steps
    # rows judge it; "seen" adds the sampler's own wait for its vCPU.
    p99s = [steps.get(f"steps_{kind}_applied_p99_us") for kind in ("pvxl", "host")]
    if steps:
        data["goals"]["host steps reach guest REALTIME within 1 ms at p99 "
                      "(pvxl set-wallclock, host ADJ_SETOFFSET)"] = judged(
            [float(v) for v in p99s] if all(v is not None for v in p99s) else None,
            lambda v: max(v) < 1000)


def complete(data):
    """What is missing for a complete bench, as a list of sentences."""
    missing = []
    for name in CLOCKSOURCES:
        row = data["clocksources"].get(name, {})
        if not isinstance(row.get("mono_ns"), (int, float)):
            missing.append(f"no figures for {name}")
    if not data["guest"].get("tsc_mhz"):
        missing.append("guest TSC calibration not reported")
    if data["hyp"]["records"].get("error") or not data["hyp"]["records"]:
        missing.append("no record-update figures")
    if data["hyp"]["idle"].get("error") or \
            "cpu_percent" not in data["hyp"]["idle"]:
        missing.append("no pvtimed CPU figure")
    if not data["guest"].get("ended"):
        missing.append("bench guest did not finish")
    virtual = data.get("virtual", {})
    if not virtual.get("skipped") and \
            not isinstance(virtual.get("virtual_read_host_ns"), (int, float)):
        missing.append("no clock read figure for the virtual-time domain")
    for mode, row in data.get("tcg", {}).items():
        if row.get("skipped"):
            continue
        if not isinstance(row.get("tcg-throughput", {}).get("iter_per_s"),
                          (int, float)):
            missing.append(f"no throughput figure for tcg_thread {mode}")
        if not isinstance(row.get("tcg-load-rate", {}).get("rate_ppm"),
                          (int, float)):
            missing.append(f"no TSC rate under load for tcg_thread {mode}")
    tk = data.get("timekeep")
    if tk is not None:
        if not isinstance(tk.get("timekeep-load", {}).get("worst_realtime_ns"),
                          int):
            missing.append("no REALTIME figure under all-vCPU load")
        if not isinstance(tk.get("timekeep-load-pause", {})
                          .get("worst_realtime_ns"), int):
            missing.append("no REALTIME figure after a pause under load")
        if not isinstance(tk.get("timekeep-pause-step", {}).get("paused_ms"),
                          int):
            missing.append("no pause/step figure")
        if not isinstance(tk.get("timekeep-save-restore-step", {})
                          .get("realtime_error_ns"), int):
            missing.append("no save/restore figure")
        if not isinstance(tk.get("timekeep-migrate", {})
                          .get("realtime_error_ns"), int):
            missing.append("no migration figure")
    chrony = data.get("chrony")
    if chrony is not None and \
            not isinstance(chrony.get("reach_s"), (int, float)):
        missing.append("chrony over the PHC did not reach its goal "
                       "(or no figures)")
    return missing


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(TOP, "build"))
    parser.add_argument("--timeout", type=int, default=900,
                        help="seconds for the bench guest (default 900)")
    parser.add_argument("--rate-seconds", type=int, default=30,
                        help="rate measurement per clocksource in the guest "
                        "(PVTIME_BENCH_RATE_S, default 30)")
    parser.add_argument("--tcg-seconds", type=int, default=15,
                        help="pvtime-tcg-bench: seconds of integer load, then "
                        "as many of rate under clock-read load, per TCG "
                        "thread mode (PVTIME_BENCH_TCG_S, default 15; 0 "
                        "leaves the TCG-mode rows out)")
    parser.add_argument("--timekeep-seconds", type=int, default=30,
                        help="pvtime-timekeep: seconds of all-vCPU load, then "
                        "a 3 s pause (PVTIME_BENCH_TIMEKEEP_S, default 30; 0 "
                        "leaves those rows out)")
    parser.add_argument("--ntp-seconds", type=int, default=150,
                        help="seconds at +50 ppm and again at -50 ppm of host "
                        "NTP frequency under a guest (0 skips; default 150)")
    parser.add_argument("--skip-chrony", action="store_true",
                        help="leave out chrony over the PHC at the end of "
                        "the bench guest's boot")
    parser.add_argument("--skip-tcg-multi", action="store_true",
                        help="no second boot with tcg_thread = \"multi\"")
    parser.add_argument("--skip-virtual", action="store_true",
                        help="no clock = \"virtual\" boot (its clock read "
                        "cost)")
    parser.add_argument("--skip-clocksources", action="store_true",
                        help="the first boot runs only pvtime-tcg-bench "
                        "(quick TCG-mode figures; the bench is incomplete)")
    parser.add_argument("--idle-domains", type=int, default=8)
    parser.add_argument("--idle-seconds", type=int, default=30,
                        help="CPU sampling time with idle domains (30)")
    parser.add_argument("--calibrate-ms", type=int, default=2000,
                        help="pvtimed's start-up TSC calibration (2000)")
    parser.add_argument("--skip-idle", action="store_true",
                        help="leave out the idle-domain CPU measurement")
    parser.add_argument("--skip-steps", action="store_true",
                        help="leave out host-step propagation (one more "
                        "guest boot, about 40 s)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (logs)")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)
    guest_dir = os.path.join(args.build, "guest")

    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="pvtime-bench.")
    daemon = Daemon(args.build, workdir, calibrate_ms=args.calibrate_ms)
    results = Results()
    data = {"clocksources": {}, "host": {}, "guest": {},
            "hyp": {"records": {}, "idle": {}}, "tcg": {}, "wallclock": {}}
    parts = [] if args.skip_clocksources else ["clocksources"]
    if args.tcg_seconds > 0:
        parts.append("tcg")
    if args.timekeep_seconds > 0:
        parts.append("timekeep")
    if not args.skip_chrony:
        parts.append("ptp")
    failed = False
    other = None
    try:
        log(f"== starting pvtimed in {workdir} (no fault injection)")
        daemon.start()
        log("== bench-records")
        data["hyp"]["records"], records_output = run_bench_records(args.build)
        for line in records_output:
            log(f"  bench-records: {line}")
        bench_cfg = config_copy(
            os.path.join(guest_dir, "bench.cfg"),
            os.path.join(workdir, "bench.cfg"),
            extra_words=f"PVTIME_BENCH_RATE_S={args.rate_seconds} "
            f"PVTIME_BENCH_TCG_S={args.tcg_seconds} "
            f"PVTIME_BENCH_TIMEKEEP_S={args.timekeep_seconds} "
            f"PVTIME_BENCH_PARTS={','.join(parts) or 'none'}",
            set_keys={"tcg_thread": '"single"'})
        if args.timekeep_seconds > 0:
            # The bench guest migrates to it (pvtime-timekeep migrate).
            other = Daemon(args.build, os.path.join(workdir, "migrate-dest"),
                           calibrate_ms=args.calibrate_ms)
            os.makedirs(other.workdir, exist_ok=True)
            other.start()
        run = run_bench_guest(daemon, bench_cfg, args.timeout, results,
                              other=other, workdir=workdir)
        data["clocksources"] = {name: row for name, row in run.bench.items()
                                if name not in TCG_LINES + TIMEKEEP_LINES +
                                [CHRONY_LINE] and
                                not ALTERNATE_RE.match(name)}
        data["alternating"] = alternating_rounds(run.bench)
        if not args.skip_chrony:
            data["chrony"] = run.bench.get(CHRONY_LINE, {})
        if args.timekeep_seconds > 0:
            data["timekeep"] = {name: run.bench.get(name, {})
                                for name in TIMEKEEP_LINES}
            data["timekeep"]["resume_step_correction_ms"] = next(
                (value for _, key, value in results.reports
                 if key == "resume_step_correction_ms"), None)
            data["timekeep"]["save_restore"] = \
                run.timings[0] if run.timings else {}
            data["timekeep"]["migrate"] = run.figures
        if args.tcg_seconds > 0:
            data["tcg"]["single"] = tcg_figures(run)
        data["guest"]["ended"] = run.ended
        data["guest"]["tap"] = {"passed": results.passed,
                                "failed": results.failed,
                                "skipped": results.skipped}
        calibration = run.bench.get("tsc-calibration", {})
        if isinstance(calibration.get("mhz"), (int, float)):
            data["guest"]["tsc_mhz"] = float(calibration["mhz"])
            data["guest"]["tsc_mhz_source"] = "PVTIME-BENCH tsc-calibration"
        elif "refined" in run.tsc_mhz:
            data["guest"]["tsc_mhz"] = run.tsc_mhz["refined"]
            data["guest"]["tsc_mhz_source"] = "dmesg: refined calibration"
        elif "detected" in run.tsc_mhz:
            data["guest"]["tsc_mhz"] = run.tsc_mhz["detected"]
            data["guest"]["tsc_mhz_source"] = "dmesg: detected"
        # The host's figures after the run: pvtimed refines them as it runs.
        data["host"] = host_info(daemon)
        if args.tcg_seconds > 0 and args.skip_tcg_multi:
            data["tcg"]["multi"] = {"skipped": "--skip-tcg-multi"}
        elif args.tcg_seconds > 0:
            multi_cfg = config_copy(
                os.path.join(guest_dir, "bench.cfg"),
                os.path.join(workdir, "bench-multi.cfg"),
                name=f"{read_config_value(bench_cfg, 'name')}-multi",
                extra_words=f"PVTIME_BENCH_TCG_S={args.tcg_seconds} "
                "PVTIME_BENCH_PARTS=tcg",
                set_keys={"tcg_thread": '"multi"'})
            multi_run = run_bench_guest(daemon, multi_cfg,
                                        4 * args.tcg_seconds + 180, results,
                                        suite="guest:bench-multi")
            data["tcg"]["multi"] = tcg_figures(multi_run)
        if args.skip_virtual:
            data["virtual"] = {"skipped": "--skip-virtual"}
        else:
            virtual_cfg = config_copy(
                os.path.join(guest_dir, "bench.cfg"),
                os.path.join(workdir, "bench-virtual.cfg"),
                name=f"{read_config_value(bench_cfg, 'name')}-virtual",
                extra_words="PVTIME_BENCH_PARTS=virtual",
                set_keys={"vcpus": "1", "clock": '"virtual"',
                          "tcg_thread": '"single"'})
            run_bench_guest(daemon, virtual_cfg, 240, results,
                            suite="guest:bench-virtual")
            data["virtual"] = virtual_figures(results, "guest:bench-virtual")
        if args.ntp_seconds > 0:
            log("== the host's NTP frequency +-50 ppm under a guest "
                f"({args.ntp_seconds} s each)")
            schedule = (("as-found", 10, 0.0), ("plus50", args.ntp_seconds, 50.0),
                        ("minus50", args.ntp_seconds, -50.0),
                        ("adjtime-plus2ms", 5, ("adjtime", 2000)),
                        ("adjtime-minus2ms", 5, ("adjtime", -2000)),
                        ("plus50-load", 60, ("load", 50.0)),
                        ("restored", 10, 0.0))
            data["wallclock"]["ntp_follow"] = run_ntp_follow(
                results, args.build, daemon, workdir, suite="bench:ntp",
                schedule=schedule, max_abs_us=NTP_FOLLOW_TAP_US, max_rtt_us=2)
        if not args.skip_idle:
            data["hyp"]["idle"] = measure_idle(
                daemon, os.path.join(guest_dir, "idle.cfg"), workdir,
                args.idle_domains, args.idle_seconds, boot_timeout=120)
        else:
            data["hyp"]["idle"] = {"error": "skipped (--skip-idle)"}
        if not args.skip_steps:
            log("== host steps to a guest (selftests/steps_check.py)")
            data["steps"] = bench_steps(args, daemon, workdir)
    except (OSError, RuntimeError, ValueError) as err:
        log(f"bench: {err}")
        for line in daemon.log_tail(15):
            log(f"  pvtimed.log: {line}")
        failed = True
    except KeyboardInterrupt:
        log("bench: interrupted")
        failed = True
    finally:
        if daemon.alive():
            daemon.terminate()
        daemon.kill_leftovers()
        if other is not None:
            if other.alive():
                other.terminate()
            other.kill_leftovers()

    derive(data)
    missing = complete(data)
    data["missing"] = missing
    data["elapsed_s"] = round(time.monotonic() - started)
    report = build_report(data)
    for line in missing:
        report.append(f"incomplete: {line}")
    report.append(f"bench took {data['elapsed_s']} s")
    print("\n".join(report), flush=True)
    with open(os.path.join(args.build, "bench.txt"), "w",
              encoding="utf-8") as f:
        f.write("\n".join(report) + "\n")
    with open(os.path.join(args.build, "bench.json"), "w",
              encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    log(f"wrote {args.build}/bench.txt and bench.json")
    failed = failed or bool(missing) or results.failed > 0
    if args.keep or failed:
        log(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
