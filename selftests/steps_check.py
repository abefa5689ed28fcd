# SPDX-License-Identifier: GPL-2.0
"""The steps phase of `make check` (issue 7, items 2 and 7): host steps of
the wall clock reach the guest within 1 ms at p99, and dates past 2038
and 2106 reach its `date`.

One guest boots in pvtest=steps mode with a pvtime-meter of its own (a
host process that shares nothing with pvtimed), started with a page big
enough for the step log (selftests/host/meter/step_log.h).  Once the
guest's pvtime-steps samples, the runner:

  1. steps the domain's wall clock STEPS times through the control socket,
     `set-wallclock DOM rel +X` and `rel -X` in turn (what `pvxl
     set-wallclock DOM +X` sends), logging for each the host
     CLOCK_MONOTONIC_RAW just before the request and after its answer;
  2. steps the host's CLOCK_REALTIME STEPS times with
     clock_adjtime(ADJ_SETOFFSET), +X and -X in turn, so the host ends
     where it started (and is stepped back in a `finally` if interrupted);
  3. marks the log done; the guest times every step by its meter and
     prints one verdict per kind (p99 < 1 ms over >= 100 steps);
     meanwhile bad TIMEs (before 1970, past the hyp's 2261 limit,
     malformed) must be refused with a clear message and move nothing;
  4. answers the guest's `set-wallclock` requests (2038, 2106, 2107, now)
     with `pvxl`, checking wc_sec/wc_sec_hi in `pvxl info` for each.

The host step moves CLOCK_REALTIME for every process on the machine by X
(2 ms) for at most the gap between two steps; keep X small.

Standalone: python3 selftests/steps_check.py --build build [--keep]
"""

import argparse
import json
import mmap
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

from host_clock import Timex, clock_adjtime
from pvtime_host import (Daemon, GuestConsole, Meter, Results,
                         control_request, find_key, log, meter_guest_config,
                         percentile, tail_file)

SUITE = "steps"
GUEST = "pvtime-steps"
STEPS = 100             # per kind
STEP_NS = 2_000_000     # X: small, the host's own clock moves by it
# Between two steps.  30 ms was too close on a slow host: in one make
# check every step took 10x longer (to the guest's irq: p50 3.3 ms, max
# 30 ms; the sampler's gaps p99 24 ms), so a step could meet the next
# one before the guest took it, and 9 of 100 had no sample to judge by.
GAP_S = 0.06
# ...and at most this much longer, waiting for a guest sample to have seen
# the step land (step_log.h "seen"): a slow host paces the steps rather
# than leaving some with no sample to judge them.  One never seen (a step
# that did not land) is judged missed after this.
SEEN_TIMEOUT_S = 1.0
READY_TIMEOUT_S = 90    # boot, insmod, first samples
END_TIMEOUT_S = 120     # analysis and the date checks
# The guest takes a sample (3 exchanges) every 50 us around each step and
# every millisecond otherwise: the meter spins 20 us after an answer (the
# rest of a sample is answered at once, its bracket symmetric), then polls
# every 50 us (no timer slack), rather than spin all along (its default,
# 1 ms): a spinning meter holds one of the two cores, and every other
# thread the guest needs (the vCPU's, pvtimed's mailbox thread) then
# waits its turn on the other; measured, p99 latencies of 4-24 ms.
METER_ARGS = ["--spin-us", "20"]

# bench-host-wakeups (tools/bench/host_wakeups.c) before the guest boots:
# what this host adds to a step's three wake-ups with no guest and no
# pvtime at work, beside the steps' own figures.  A figure, not a verdict:
# it shows whether a slow run was the host's.  About 3 s here, 11 s in
# make bench.
HOST_WAKEUPS_ARGS = ["--rounds", "100", "--gap-us", "20000", "--spin-s", "1"]
HOST_WAKEUPS_BENCH_ARGS = ["--rounds", "300", "--gap-us", "20000",
                           "--spin-s", "5"]
HOST_WAKEUPS_TIMEOUT_S = 120

# selftests/host/meter/step_log.h
STEP_LOG_MAGIC = 0x50455453
STEP_LOG_OFFSET = 4096
STEP_LOG_METER_SIZE = 16384
STEP_LOG_MAX = 256
STEP_KIND_PVXL = 1
STEP_KIND_HOST = 2
# Announce each step this long before making it.
ANNOUNCE_NS = 3_000_000
ENTRY = struct.Struct("<qqqII")

# <linux/timex.h>
ADJ_SETOFFSET = 0x0100
ADJ_NANO = 0x2000
CLOCK_REALTIME = 0


def host_step(ns):
    """Step the host's CLOCK_REALTIME by ns (ADJ_SETOFFSET, ADJ_NANO)."""
    tx = Timex()
    tx.modes = ADJ_SETOFFSET | ADJ_NANO
    # The kernel wants 0 <= nsec < 1e9: -2 ms is -1 s + 998 ms.
    tx.time.tv_sec, tx.time.tv_usec = divmod(ns, 1_000_000_000)
    clock_adjtime(CLOCK_REALTIME, tx, f"clock_adjtime(ADJ_SETOFFSET, {ns} ns)")


def raw_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW)


def control(sock_path, *words):
    """One text request on the control socket; (ok, reply)."""
    text = control_request(sock_path,
                           ("text " + " ".join(words) + "\n").encode())
    return text.startswith("ok\n"), text


def timed_control(sock_path, *words):
    """As control(), connected first: (ok, reply, before, after), the host
    CLOCK_MONOTONIC_RAW just before the request went out and once its
    answer was in.  A step is asked for when its request is sent; the
    connection before it (and this runner's own scheduling in between) is
    no part of how fast pvtimed and the guest carry it out."""
    stamps = []
    text = control_request(sock_path,
                           ("text " + " ".join(words) + "\n").encode(),
                           stamp=lambda: stamps.append(raw_ns()))
    return text.startswith("ok\n"), text, stamps[0], stamps[1]


class StepLog:
    """The step log in the meter's page file (step_log.h)."""

    def __init__(self, path):
        self.file = open(path, "r+b")
        self.map = mmap.mmap(self.file.fileno(), STEP_LOG_METER_SIZE)
        self.count = 0
        struct.pack_into("<IIII", self.map, STEP_LOG_OFFSET,
                         STEP_LOG_MAGIC, 0, 0, 0)

    def add(self, before, after, expect, kind):
        if self.count >= STEP_LOG_MAX:
            raise RuntimeError("step log full")
        ENTRY.pack_into(self.map, STEP_LOG_OFFSET + 64 + ENTRY.size * self.count,
                        before, after, expect, kind, 0)
        self.count += 1
        # x86 stores are not reordered with each other: entry, then count.
        struct.pack_into("<I", self.map, STEP_LOG_OFFSET + 4, self.count)

    def announce(self):
        """Tell the guest a step comes in ANNOUNCE_NS; wait till then."""
        when = raw_ns() + ANNOUNCE_NS
        struct.pack_into("<q", self.map, STEP_LOG_OFFSET + 16, when)
        while raw_ns() < when:
            time.sleep(max(0, when - raw_ns()) / 1e9)

    def seen(self):
        """How many steps the guest has seen land."""
        return struct.unpack_from("<I", self.map, STEP_LOG_OFFSET + 12)[0]

    def done(self):
        struct.pack_into("<I", self.map, STEP_LOG_OFFSET + 8, 1)

    def close(self):
        self.map.close()
        self.file.close()


def follow_for(guest, seconds):
    """Sleep about `seconds`, reading the console meanwhile."""
    end = time.monotonic() + seconds
    while True:
        guest.follow_console()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.01))


def wallclock_doorbells(daemon):
    """(doorbells rung, host CLOCK_MONOTONIC_RAW of the last) for the
    guest, from `json info` on the control socket; (None, None) if the
    answer has neither."""
    text = control_request(daemon.socket, f"json info {GUEST}\n".encode())
    try:
        wc = json.loads(text.split("\n", 1)[1])["wallclock"]
        return int(wc["doorbells"]), int(wc["last_doorbell_raw_ns"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None, None


class DoorbellTally:
    """pvtimed's part of each step: its wall-clock doorbell must ring once
    per step, and from the request to the ring is pvtimed's time (waking,
    computing wc, writing it); the rest, to the guest's irq, is QEMU's
    and the vCPU's.  Read half a gap after each step (the step is long
    in by then), so no read comes near the next step."""

    def __init__(self, daemon, kind):
        self.daemon = daemon
        self.kind = kind
        self.rings, _ = wallclock_doorbells(daemon)
        self.to_ring_ns = []
        self.not_once = []

    def after_step(self, index, before):
        rings, rung = wallclock_doorbells(self.daemon)
        if rings is None or self.rings is None or rings - self.rings != 1:
            self.not_once.append(f"step {index}: {self.rings} -> {rings}")
        elif rung >= before:
            self.to_ring_ns.append(rung - before)
        self.rings = rings

    def report(self, results, figures):
        results.own(not self.not_once, SUITE,
                    f"{self.kind} steps: pvtimed rang the wall-clock doorbell "
                    f"once per step ({len(self.not_once)} otherwise)",
                    self.not_once[:5])
        if self.to_ring_ns:
            for name, q in (("p50", 0.50), ("p99", 0.99)):
                at = percentile(self.to_ring_ns, q)
                figures[f"steps_{self.kind}_to_ring_{name}_us"] = f"{at / 1e3:.1f}"


def follow_step(guest, steplog, tally, index, before):
    """The gap after a step: the console, and half way pvtimed's tally;
    then, if the guest has not seen the step land yet, up to
    SEEN_TIMEOUT_S more for it.  Returns the extra wait (s)."""
    follow_for(guest, GAP_S / 2)
    tally.after_step(index, before)
    follow_for(guest, GAP_S / 2)
    start = time.monotonic()
    while (steplog.seen() < steplog.count and
           time.monotonic() - start < SEEN_TIMEOUT_S):
        follow_for(guest, 0.005)
    return time.monotonic() - start


def report_waits(figures, kind, waits):
    """Steps after which the runner waited for the guest to see one land."""
    waited = [w for w in waits if w > 0.001]
    figures[f"steps_{kind}_waited_for_guest"] = (
        f"{len(waited)} ({sum(waited) * 1e3:.0f} ms)")


def pvxl_steps(results, daemon, guest, steplog, figures):
    """set-wallclock rel +X / -X through the control socket."""
    expect, costs, waits = 0, [], []
    tally = DoorbellTally(daemon, "pvxl")
    for i in range(STEPS):
        delta = STEP_NS if i % 2 == 0 else -STEP_NS
        steplog.announce()
        ok, reply, before, after = timed_control(
            daemon.socket, "set-wallclock", GUEST, "rel", str(delta))
        if not ok:
            raise RuntimeError(f"set-wallclock rel {delta}: {reply.strip()}")
        expect += delta
        steplog.add(before, after, expect, STEP_KIND_PVXL)
        costs.append(after - before)
        waits.append(follow_step(guest, steplog, tally, i, before))
    figures["steps_pvxl_request_p50_us"] = f"{percentile(costs, 0.5) / 1e3:.1f}"
    report_waits(figures, "pvxl", waits)
    tally.report(results, figures)
    return expect


def host_steps(results, daemon, guest, steplog, expect, figures):
    """clock_adjtime(ADJ_SETOFFSET) +X / -X; the host ends where it began."""
    pending = 0
    costs, waits = [], []
    tally = DoorbellTally(daemon, "host")
    try:
        for i in range(STEPS):
            delta = STEP_NS if i % 2 == 0 else -STEP_NS
            steplog.announce()
            before = raw_ns()
            host_step(delta)
            after = raw_ns()
            pending += delta
            steplog.add(before, after, expect, STEP_KIND_HOST)
            costs.append(after - before)
            waits.append(follow_step(guest, steplog, tally, i, before))
    finally:
        if pending:
            host_step(-pending)
    figures["steps_host_syscall_p50_us"] = f"{percentile(costs, 0.5) / 1e3:.1f}"
    report_waits(figures, "host", waits)
    tally.report(results, figures)


class StepsGuest(GuestConsole):
    """The guest's console: results, reports, requests."""

    def __init__(self, results, daemon):
        super().__init__(results, SUITE, daemon.domain_log(GUEST))
        self.daemon = daemon
        self.ready = False

    def own_line(self, line):
        if line.startswith("PVTIME-STEPS-READY"):
            self.ready = True
            return True
        return False

    def host_request(self, words):
        """set-wallclock TIME through pvxl; for a date, check wc_sec_hi."""
        if len(words) != 2 or words[0] != "set-wallclock":
            self.results.own(False, SUITE, f"unexpected host request {words!r}")
            return
        when = words[1]
        result = self.daemon.pvxl("set-wallclock", GUEST, when)
        log(f"  {SUITE}: host runs `pvxl set-wallclock {GUEST} {when}` "
            f"-> exit {result.returncode}")
        self.results.own(result.returncode == 0, SUITE,
                         f"pvxl set-wallclock {GUEST} {when}",
                         [result.describe()])
        match = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$", when)
        if not match:
            return
        want = _epoch(*map(int, match.groups()))
        info = self.daemon.pvxl("info", "--json", GUEST)
        try:
            wc = info.json()["wallclock"]
            wall_s = int(wc["wall_now_ns"]) // 1_000_000_000
            sec = int(wc["wc_sec"]) | (int(wc["wc_sec_hi"]) << 32)
            # wc is the wall time at the guest's boot, less than a day
            # before the date just set: from the fields, not the reader.
            sec_ok = (int(wc["wc_sec"]) < 2**32 and
                      want - 86400 <= sec <= want + 5)
        except (ValueError, KeyError, TypeError):
            wall_s, sec_ok, wc = None, False, {}
        self.results.own(wall_s is not None and 0 <= wall_s - want <= 5 and sec_ok,
                         SUITE, f"{when}: pvxl info shows the wall time, and "
                         f"wc_sec + wc_sec_hi << 32 is within a day before it "
                         f"(wc_sec_hi {wc.get('wc_sec_hi')})",
                         [info.describe(), f"want {want} s, wall {wall_s} s"])


# pvxl set-wallclock TIME that must be refused: (TIME, exit code, words the
# message must hold).  Nothing may change: the domain's wall offset stays.
BAD_DATES = [
    ("1969-12-31T23:59:59Z", 2, "before 1970"),
    ("@-1", 2, "negative"),
    ("2261-01-01T00:00:01Z", 1, "2261"),
    ("2262-04-11T23:47:17Z", 2, "out of range"),
    ("2107-02-29T00:00:00Z", 2, "day 29"),
    ("2107-01-01", 2, "between date and time"),
    ("2107-01-01T00:00:00Q", 2, "unexpected 'Q'"),
    ("-100000d", 1, "before 1970"),
]


def check_bad_dates(results, daemon):
    """Each bad TIME: the exit code, a message naming why, nothing moved."""
    def wall_offset():
        info = daemon.pvxl("info", "--json", GUEST)
        try:
            return find_key(info.json(), "wall_offset_ns")
        except ValueError:
            return None

    for when, code, words in BAD_DATES:
        before = wall_offset()
        result = daemon.pvxl("set-wallclock", GUEST, when)
        after = wall_offset()
        results.own(result.returncode == code and words in result.stderr and
                    before is not None and before == after, SUITE,
                    f"pvxl set-wallclock {GUEST} {when!r} refused (exit {code}, "
                    f"'{words}'), wall offset unchanged",
                    [result.describe(), f"wall_offset_ns {before} -> {after}"])


def _epoch(year, month, day, hour, minute, second):
    """Seconds since 1970 of a UTC date (proleptic Gregorian, any year)."""
    def days_from_civil(y, m, d):
        y -= m <= 2
        era = y // 400
        yoe = y - era * 400
        doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
        doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
        return era * 146097 + doe - 719468
    return (days_from_civil(year, month, day) * 86400 + hour * 3600 +
            minute * 60 + second)


def wait_for(guest, predicate, timeout, daemon):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        guest.follow_console()
        if predicate() or not daemon.alive():
            return predicate()
        time.sleep(0.05)
    return predicate()


def measure_host_wakeups(results, build, extra_args, figures):
    """Run bench-host-wakeups; its figures go into figures as
    steps_host_wakeups_<key>.  A run that fails is a failed result."""
    cmd = [os.path.join(build, "bench-host-wakeups"), "--json"] + extra_args
    try:
        run = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=HOST_WAKEUPS_TIMEOUT_S, check=False)
        measured = json.loads(run.stdout) if run.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError) as err:
        results.own(False, SUITE, f"bench-host-wakeups measures this host: {err}")
        return
    if not results.own(isinstance(measured, dict), SUITE,
                       "bench-host-wakeups measures this host (no guest yet)",
                       [f"exit {run.returncode}: {run.stderr.strip()}"]):
        return
    for key, value in measured.items():
        figures[f"steps_host_wakeups_{key}"] = value


def phase_steps(results, args, daemon, workdir,
                host_wakeups_args=HOST_WAKEUPS_ARGS):
    log("== phase 3e: host steps reach the guest; dates past 2038 and 2106")
    meter = Meter(args.build, os.path.join(workdir, f"{GUEST}.meter"),
                  extra_args=["--size", str(STEP_LOG_METER_SIZE)] +
                  METER_ARGS)
    guest = StepsGuest(results, daemon)
    figures = {}
    created = False
    try:
        measure_host_wakeups(results, args.build, host_wakeups_args, figures)
        try:
            meter.start()
        except (OSError, RuntimeError) as err:
            results.own(False, SUITE, f"pvtime-meter starts: {err}")
            return
        cfg = meter_guest_config(args.build, workdir, GUEST, "steps", meter)
        made = daemon.pvxl("create", cfg, timeout=120)
        created = made.returncode == 0
        if not results.own(created, SUITE, f"pvxl create {GUEST}",
                           [made.describe()] + daemon.log_tail(15)):
            return
        if not results.own(wait_for(guest, lambda: guest.ready or guest.ended,
                                    READY_TIMEOUT_S, daemon) and guest.ready,
                           SUITE, "pvtime-steps samples the meter",
                           tail_file(daemon.domain_log(GUEST), 20)):
            return
        steplog = StepLog(meter.path)
        try:
            follow_for(guest, 0.3)      # a baseline before the first step
            started = time.monotonic()
            expect = pvxl_steps(results, daemon, guest, steplog, figures)
            host_steps(results, daemon, guest, steplog, expect, figures)
            log(f"  {SUITE}: {steplog.count} steps in "
                f"{time.monotonic() - started:.1f} s")
            steplog.done()
        except (OSError, RuntimeError) as err:
            results.own(False, SUITE, f"stepping: {err}")
            steplog.done()
        finally:
            steplog.close()
        check_bad_dates(results, daemon)
        ended = wait_for(guest, lambda: guest.ended, END_TIMEOUT_S, daemon)
        results.own(ended and guest.tap_count > 0 and
                    guest.planned == guest.tap_count, SUITE,
                    f"{GUEST} reported and ended, {guest.tap_count} results "
                    f"of a plan of {guest.planned}",
                    tail_file(daemon.domain_log(GUEST), 40))
        for key, value in figures.items():
            results.reports.append((SUITE, key, value))
    finally:
        guest.close_console()
        if created and daemon.alive():
            daemon.pvxl("destroy", GUEST, timeout=60)
        meter.stop()


def bench_steps(args, daemon, workdir):
    """For `make bench`: the phase's figures (its verdicts not counted,
    a benchmark measures).  A dict of PVTIME-REPORT key -> value."""
    collector = Results()
    phase_steps(collector, args, daemon, workdir,
                host_wakeups_args=HOST_WAKEUPS_BENCH_ARGS)
    figures = {key: value for _, key, value in collector.reports}
    figures["results_failed"] = collector.failed
    return figures


def steps_report(figures):
    """The bench's host-step rows."""
    if not figures:
        return []
    out = ["", f"host steps to guest CLOCK_REALTIME ({STEPS} per kind, "
           f"+-{STEP_NS / 1e6:g} ms, by the meter; goal p99 < 1000 us "
           f"until applied)"]
    for kind, label in (("pvxl", "pvxl set-wallclock"),
                        ("host", "host ADJ_SETOFFSET")):
        def get(key):
            return figures.get(f"steps_{kind}_{key}", "-")
        goal = "-"
        try:
            goal = "met" if float(get("applied_p99_us")) < 1000 else "MISSED"
        except ValueError:
            pass
        out.append(f"  {label:<20} applied p50 {get('applied_p50_us')} us, "
                   f"p99 {get('applied_p99_us')} us, max "
                   f"{get('applied_max_us')} us (goal {goal}); "
                   f"missed {get('missed')}")
        out.append(f"  {'':<20} of which to pvtimed's doorbell p50 "
                   f"{get('to_ring_p50_us')} us, p99 {get('to_ring_p99_us')} us; "
                   f"to the guest's irq p50 "
                   f"{get('to_irq_p50_us')} us, p99 {get('to_irq_p99_us')} us; "
                   f"in the guest p50 {get('in_guest_p50_us')} us, "
                   f"p99 {get('in_guest_p99_us')} us; the call returned "
                   f"p99 {get('returned_p99_us')} us")
        out.append(f"  {'':<20} seen by a sample p50 {get('latency_p50_us')} us, "
                   f"p99 {get('latency_p99_us')} us; |residual| p50 "
                   f"{get('residual_abs_p50_ns')} ns, p99 "
                   f"{get('residual_abs_p99_ns')} ns")
    def wake(key):
        return figures.get(f"steps_host_wakeups_{key}", "-")
    out.append(f"  this host alone, before the guest booted (bench-host-wakeups): "
               f"a step's {wake('chain_hops')} wake-ups (FIFO "
               f"{wake('chain_fifo_prio')}, one below, OTHER), "
               f"{wake('chain_rounds')} rounds {wake('chain_gap_us')} us apart: "
               f"p50 {wake('chain_p50_us')} us, p99 {wake('chain_p99_us')} us, "
               f"max {wake('chain_max_us')} us, {wake('chain_over_1ms')} over 1 ms")
    out.append(f"  {'':<20} a CPU that never sleeps lost {wake('spin_lost_percent')} % "
               f"of {wake('spin_s')} s, {wake('spin_stretches_over_1ms_per_cpu_s')} "
               f"stretches over 1 ms a second (max {wake('spin_max_stretch_us')} us)")
    out.append(f"  guest samples every {figures.get('steps_sample_gap_p50_us', '-')}"
               f" us (p50; p99 {figures.get('steps_sample_gap_p99_us', '-')} us); "
               f"offset before the steps {figures.get('steps_baseline_offset_ns', '-')} ns")
    return out


def main():
    global STEPS, GAP_S
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build"))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--steps", type=int, default=STEPS,
                        help=f"steps per kind (default {STEPS}; fewer fail "
                        "the verdict, for measuring a slow build)")
    parser.add_argument("--gap-ms", type=float, default=GAP_S * 1e3,
                        help=f"between steps (default {GAP_S * 1e3:.0f})")
    args = parser.parse_args()
    STEPS, GAP_S = args.steps, args.gap_ms / 1e3
    args.build = os.path.abspath(args.build)
    workdir = tempfile.mkdtemp(prefix="pvtime-steps.")
    results = Results()
    daemon = Daemon(args.build, workdir)
    try:
        daemon.start()
        phase_steps(results, args, daemon, workdir)
    finally:
        if daemon.alive():
            daemon.terminate()
        daemon.kill_leftovers()
    for suite, key, value in results.reports:
        log(f"  {key:40} {value:>12}   ({suite})")
    log(f"logs in {workdir}")
    log(results.summary_line())
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
