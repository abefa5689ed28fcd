#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""A hostile guest beside a well-behaved one: pvtimed's CPU stays bounded,
the neighbour's clock does not move, pvtimed survives and logs it.

The neighbour (pvtest=neighbour) loads pvtime.ko and prints a
realtime_probe line (its CLOCK_REALTIME minus the hyp's wall time, one
mailbox exchange) every 0.5 s.  After a quiet baseline the hostile guest
(pvtest=hostile) runs pvtime-hostile: doorbells, garbage, unanswered
requests, scribbling (selftests/guest/pvtime_hostile.c).  The runner
compares pvtimed's CPU (/proc/<pid>/stat) and the neighbour's
|REALTIME - hyp| over the hostile window with the baseline.

Standalone: selftests/hostile_guest.py --build build [--keep]
(run_check.py calls run_hostile_suite() in its guest phase)."""
import argparse
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pvtime_host import (Daemon, LogFollower, config_copy, log,  # noqa: E402
                         percentile)

SUITE = "guest:hostile"
NEIGHBOUR = "pvtime-neighbour"
HOSTILE = "pvtime-hostile"
PHASES = ("doorbells", "garbage", "unanswered", "scribble")
PHASE_S = 8
BASELINE_S = 20
BOOT_TIMEOUT_S = 120
# Per phase, over the quiet window's figure: the mailbox budget lets one
# domain's sessions run 200 ms of every second (hyp/guest/mailbox_budget.h), and
# the doorbell limit keeps the event loop's wakes to 500 a second a vector
# (hyp/guest/doorbell_limit.h); a few % of a core more for what either lets
# through.  Fractions of one core.
MAILBOX_BUDGET_CORE = 0.2
# The budget is a token bucket (hyp/guest/mailbox_budget.h): 200 ms a second,
# and up to 2 s saved while the guest asks for less.  Over one phase of
# T seconds a domain may so take rate + burst / T of a core: a phase after
# quieter ones spends what they left (0.33 core measured in scribble,
# after garbage and unanswered took 0.13 and 0.11).
MAILBOX_BURST_S = 2.0
# The doorbell limit is judged by pvtimed's own count of the wakes it let
# through (doorbell_wakes, at most DOORBELL_WAKES_PER_WINDOW a vector in
# each 100 ms window, hyp/guest/doorbell_limit.h) and of the times it held
# a vector off (doorbell_hold_offs, which the doorbells phase must cause).
# So the event loop's CPU only has to catch gross waste (a spinning loop
# is a whole core): what it costs varies with the host (0.006-0.012 core
# over quiet on one machine; 0.03-0.09, once 0.12 while garbage, on
# another, with the limit working on both).
EVENT_LOOP_SLACK_CORE = 0.15
DOORBELL_VECTORS = 3            # PVTIME_NR_VECTORS
DOORBELL_WAKES_PER_WINDOW = 50
DOORBELL_WINDOW_S = 0.1
# Samples near a window's edges belong to neither (console latency).
EDGE_S = 1.0
# What the hostile guest's SET_OFFSETs and scribbles must not reach.
RECORD_KEYS = ("guest_tsc_offset", "guest_tsc_offset_known", "wall_offset_ns")
# pvtimed's line for an offset a domain's own TSC probe taught it.
OWN_OFFSET_RE = re.compile(r": vCPU \d+: guest TSC offset moved to (-?\d+) ")
PROBE_RE = re.compile(r"^PVTIME-NEIGHBOUR offset_ns (-?\d+) rtt_ns (\d+)")
# A probe knows the offset to within half its round trip: one whose best
# round trip was longer (its vCPU lost the host CPU) measures nothing.
PROBE_RTT_MAX_NS = 20000


def cpu_seconds(pid, tid=None):
    """utime + stime of a process (all threads), or of one thread."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    with open(path, encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime, stime are fields 14, 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """pvtimed's CPU, all threads and the event loop (its main thread;
    the mailbox sessions run on each domain's mailbox thread)."""

    def __init__(self, pid):
        self.pid = pid

    def sample(self):
        return (time.monotonic(), cpu_seconds(self.pid),
                cpu_seconds(self.pid, self.pid))

    @staticmethod
    def use(first, last):
        """(all threads, event loop) in cores between two samples."""
        elapsed = last[0] - first[0]
        return ((last[1] - first[1]) / elapsed, (last[2] - first[2]) / elapsed)


class Console:
    """A guest console followed line by line, each line stamped with the
    host's monotonic time when it was seen."""

    def __init__(self, path):
        self.follower = LogFollower(path)
        self.lines = []

    def poll(self):
        now = time.monotonic()
        fresh = [(now, line) for line in self.follower.lines()]
        self.lines += fresh
        return fresh


def window_offsets(samples, start, end):
    """The signed offsets measured inside a window, and how many probes
    there were too slow to count."""
    inside = [(err, rtt) for when, err, rtt in samples
              if start + EDGE_S <= when <= end - EDGE_S]
    offsets = [err for err, rtt in inside if rtt <= PROBE_RTT_MAX_NS]
    return offsets, len(inside) - len(offsets)


def error_stats(offsets, slow, reference):
    """|REALTIME - hyp| (max, p99), and how far the offsets stray from
    reference (the quiet window's median): the neighbour's clock may sit
    off the hyp's by a constant, the attack must not move it."""
    errors = [abs(err) for err in offsets]
    moves = [abs(err - reference) for err in offsets]
    nan = float("nan")
    return {"n": len(offsets), "slow": slow,
            "max": max(errors) if errors else nan,
            "p99": percentile(errors, 0.99),
            "move_max": max(moves) if moves else nan,
            "move_p99": percentile(moves, 0.99)}


def pump(consoles, seconds, until=None):
    """Follow every console for `seconds` or until until(line) is true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for console in consoles:
            for _, line in console.poll():
                if until and until(line):
                    return line
        time.sleep(0.1)
    return None


def neighbour_samples(console):
    samples, failed = [], 0
    for when, line in console.lines:
        if line.startswith("PVTIME-NEIGHBOUR "):
            match = PROBE_RE.match(line)
            if match:
                samples.append((when, int(match.group(1)), int(match.group(2))))
            else:
                failed += 1
    return samples, failed


def domain_info(daemon, name):
    """`pvxl info --json` of one domain ({} if it failed or was not JSON)."""
    info = daemon.pvxl("info", "--json", name)
    try:
        return info.json() if info.returncode == 0 else {}
    except ValueError:
        return {}


def doorbell_counts(daemon):
    """(doorbell_wakes, doorbell_hold_offs) of the hostile domain."""
    data = domain_info(daemon, HOSTILE)
    return data.get("doorbell_wakes"), data.get("doorbell_hold_offs")


def counters_changed(before, after, prefix=""):
    """The numeric fields of two `pvxl info --json` answers that differ."""
    changed = {}
    for key, value in after.items():
        old = before.get(key) if isinstance(before, dict) else None
        if isinstance(value, dict):
            changed.update(counters_changed(old or {}, value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) \
                and value != old:
            changed[f"{prefix}{key}"] = (old, value)
    return changed


def log_lines_about(path, name, start_offset):
    with open(path, "rb") as f:
        f.seek(start_offset)
        text = f.read().decode("utf-8", "replace")
    return [line for line in text.splitlines() if f"domain {name}" in line]


def run_hostile_suite(results, daemon, guest_dir, workdir, phase_s=PHASE_S):
    """Both guests on `daemon`; results.own() for each verdict."""
    idle_cfg = os.path.join(guest_dir, "idle.cfg")
    neighbour_cfg = config_copy(idle_cfg, os.path.join(workdir, "neighbour.cfg"),
                                name=NEIGHBOUR, extra_words="pvtest=neighbour")
    hostile_cfg = config_copy(idle_cfg, os.path.join(workdir, "hostile.cfg"),
                              name=HOSTILE, extra_words=(
                                  f"pvtest=hostile PVTIME_HOSTILE_S={phase_s}"))
    meter = CpuMeter(daemon.proc.pid)
    figures = {}
    try:
        created = daemon.pvxl("create", neighbour_cfg, timeout=120)
        if not results.own(created.returncode == 0, SUITE,
                           f"pvxl create {NEIGHBOUR}", [created.describe()]):
            return figures
        neighbour = Console(daemon.domain_log(NEIGHBOUR))
        ready = pump([neighbour], BOOT_TIMEOUT_S,
                     lambda line: line.startswith("PVTIME-NEIGHBOUR-READY") or
                     "insmod pvtime.ko failed" in line)
        if not results.own(ready is not None and "READY" in ready, SUITE,
                           f"{NEIGHBOUR} loaded pvtime.ko ({ready})",
                           [f"console: {daemon.domain_log(NEIGHBOUR)}"]):
            return figures
        # Let its load-time handshakes settle, then the quiet window.
        pump([neighbour], 3)
        before = domain_info(daemon, NEIGHBOUR)
        quiet_first = meter.sample()
        pump([neighbour], BASELINE_S)
        quiet_last = meter.sample()
        quiet_start, quiet_end = quiet_first[0], quiet_last[0]
        figures["cpu_quiet"], figures["cpu_loop_quiet"] = \
            CpuMeter.use(quiet_first, quiet_last)

        log_offset = os.path.getsize(daemon.log_path)
        created = daemon.pvxl("create", hostile_cfg, timeout=120)
        if not results.own(created.returncode == 0, SUITE,
                           f"pvxl create {HOSTILE}", [created.describe()]):
            return figures
        hostile = Console(daemon.domain_log(HOSTILE))
        marks = {}
        doorbells = {}
        answered = []

        def mark(line):
            words = line.split()
            if len(words) >= 3 and words[0] == "PVTIME-HOSTILE":
                marks[(words[1], words[2])] = meter.sample()
                doorbells[(words[1], words[2])] = doorbell_counts(daemon)
                if words[1] == "begin":
                    # The control socket answers while the guest attacks.
                    answered.append(daemon.pvxl("info", NEIGHBOUR,
                                                timeout=10).returncode == 0)
            return ("end", PHASES[-1]) in marks or \
                "pvtime-init: pvtime-hostile exited" in line

        pump([neighbour, hostile], BOOT_TIMEOUT_S + len(PHASES) * phase_s * 3,
             mark)
        begin, end = marks.get(("begin", PHASES[0])), marks.get(("end", PHASES[-1]))
        for _, line in hostile.lines:
            if line.startswith(("ok ", "not ok ")):
                results.add("pass" if line.startswith("ok ") else "fail",
                            SUITE, line)
        if not results.own(begin is not None and end is not None, SUITE,
                           "the hostile guest ran every phase",
                           [line for _, line in hostile.lines[-15:]]):
            return figures
        pump([neighbour], 2)
        figures["cpu_hostile"], figures["cpu_loop_hostile"] = \
            CpuMeter.use(begin, end)
        samples, failed = neighbour_samples(neighbour)
        quiet_offsets, quiet_slow = window_offsets(samples, quiet_start,
                                                   quiet_end)
        attacked_offsets, attacked_slow = window_offsets(samples, begin[0],
                                                         end[0])
        reference = percentile(quiet_offsets, 0.5)
        quiet = error_stats(quiet_offsets, quiet_slow, reference)
        attacked = error_stats(attacked_offsets, attacked_slow, reference)
        figures.update({f"quiet_{k}": v for k, v in quiet.items()})
        figures.update({f"attacked_{k}": v for k, v in attacked.items()})
        figures["probe_failures"] = failed
        phase_use = {}
        for phase in PHASES:
            b, e = marks.get(("begin", phase)), marks.get(("end", phase))
            if b and e:
                phase_use[phase] = CpuMeter.use(b, e)
                figures[f"cpu_{phase}"], figures[f"cpu_loop_{phase}"] = \
                    phase_use[phase]

        results.own(daemon.alive(), SUITE, "pvtimed survived the hostile guest",
                    daemon.log_tail(10))
        results.own(answered and all(answered), SUITE,
                    "pvxl info on the neighbour answered during each phase",
                    [f"answers: {answered}"])
        total_bound = figures["cpu_quiet"] + MAILBOX_BUDGET_CORE + \
            MAILBOX_BURST_S / phase_s + EVENT_LOOP_SLACK_CORE
        loop_bound = figures["cpu_loop_quiet"] + EVENT_LOOP_SLACK_CORE
        for phase in PHASES:
            b, e = marks.get(("begin", phase)), marks.get(("end", phase))
            counts = (doorbells.get(("begin", phase)),
                      doorbells.get(("end", phase)))
            if not (b and e):
                continue
            known = all(c and None not in c for c in counts)
            wakes = counts[1][0] - counts[0][0] if known else None
            hold_offs = counts[1][1] - counts[0][1] if known else None
            # The wake that starts a hold-off counts too (51 a window),
            # and `pvxl info` answers a little after each mark.
            windows = int((e[0] - b[0]) / DOORBELL_WINDOW_S) + 2
            max_wakes = int(1.1 * DOORBELL_VECTORS *
                            (DOORBELL_WAKES_PER_WINDOW + 1) * windows)
            figures[f"doorbell_wakes_{phase}"] = wakes
            figures[f"doorbell_hold_offs_{phase}"] = hold_offs
            results.own(known and wakes <= max_wakes and
                        (phase != "doorbells" or hold_offs > 0), SUITE,
                        f"doorbell limit while {phase}: {wakes} event-loop "
                        f"wakes (<= {max_wakes}), {hold_offs} hold-offs"
                        + (" (> 0)" if phase == "doorbells" else ""),
                        [f"counts at begin, end: {counts}"])
        for phase, (total, loop) in phase_use.items():
            results.own(total <= total_bound and loop <= loop_bound, SUITE,
                        f"pvtimed CPU while {phase}: {total:.3f} core "
                        f"(<= {total_bound:.3f}), event loop {loop:.3f} "
                        f"(<= {loop_bound:.3f})",
                        [f"{k}: {v}" for k, v in figures.items()])
        enough = quiet["n"] >= 10 and attacked["n"] >= 10
        results.own(enough and failed <= (quiet["n"] + attacked["n"]) // 10,
                    SUITE, f"neighbour probes: {quiet['n']} quiet, "
                    f"{attacked['n']} attacked, {failed} failed, "
                    f"{quiet['slow'] + attacked['slow']} too slow to count")
        log(f"  neighbour |REALTIME - hyp|: quiet max {quiet['max']:.0f} ns "
            f"p99 {quiet['p99']:.0f} ns; attacked max {attacked['max']:.0f} "
            f"ns p99 {attacked['p99']:.0f} ns")
        after = domain_info(daemon, NEIGHBOUR)
        # What moved it, should it move: pvtimed's view of the neighbour.
        why = [f"neighbour counters that changed: {counters_changed(before, after)}"]
        why += log_lines_about(daemon.log_path, NEIGHBOUR, log_offset)[:20]
        # The probe lines around any that strayed, whole: the records'
        # own offset and the module's counters tell who moved.
        probe_lines = [(when, line) for when, line in neighbour.lines
                       if line.startswith("PVTIME-NEIGHBOUR ")]
        strayed = {i for i, (_, line) in enumerate(probe_lines)
                   if (m := PROBE_RE.match(line)) and
                   abs(int(m.group(1)) - reference) > PROBE_RTT_MAX_NS / 2}
        around = sorted({j for i in strayed for j in (i - 1, i, i + 1)
                         if 0 <= j < len(probe_lines)})
        why += [f"probe at +{probe_lines[j][0] - begin[0]:.1f} s: "
                f"{probe_lines[j][1]}" for j in around[:12]]
        why += [f"neighbour console: {line}" for when, line in neighbour.lines
                if begin[0] <= when and
                not line.startswith("PVTIME-NEIGHBOUR ")][:20]
        for stat in ("p99", "max"):
            limit = 2 * quiet[f"move_{stat}"] + PROBE_RTT_MAX_NS / 2
            results.own(enough and attacked[f"move_{stat}"] <= limit, SUITE,
                        f"neighbour's REALTIME - hyp moved {stat} "
                        f"{attacked[f'move_{stat}'] / 1000:.2f} us under attack"
                        f" <= 2 x quiet {quiet[f'move_{stat}'] / 1000:.2f} us"
                        f" + {PROBE_RTT_MAX_NS / 2000:.0f} us (probe error)",
                        [f"quiet median {reference} ns; offsets under attack: "
                         f"{attacked_offsets[:40]}"] + why)
        about = log_lines_about(daemon.log_path, HOSTILE, log_offset)
        figures["log_lines"] = len(about)
        window_s = end[0] - begin[0]
        # Each rate limit lets a handful through a minute.
        results.own(0 < len(about) <= 40 + window_s, SUITE,
                    f"pvtimed logged the hostile domain, rate-limited "
                    f"({len(about)} lines over {window_s:.0f} s)",
                    about[:10])
        moved = {key: (before.get(key), after.get(key)) for key in RECORD_KEYS
                 if before.get(key) != after.get(key)}
        # The neighbour's own TSC probes refine its offset now and then (a
        # few hundred cycles): a move pvtimed logged as learnt from the
        # neighbour, to exactly the value found after, is its own.
        learnt = {int(m.group(1)) for line in
                  log_lines_about(daemon.log_path, NEIGHBOUR, log_offset)
                  if (m := OWN_OFFSET_RE.search(line))}
        own = ("guest_tsc_offset" in moved and
               moved["guest_tsc_offset"][1] in learnt)
        if own:
            del moved["guest_tsc_offset"]
        results.own(bool(before and after and not moved), SUITE,
                    "the neighbour's TSC offset and wall-clock offset are "
                    "untouched by the attack" +
                    (" (its offset moved once more by its own probes)"
                     if own else ""),
                    [f"changed: {moved}", f"learnt by the neighbour's own "
                     f"probes: {sorted(learnt)}"])
    finally:
        for name in (HOSTILE, NEIGHBOUR):
            daemon.pvxl("destroy", name, timeout=60)
        for key, value in figures.items():
            text = f"{value:.3f}" if isinstance(value, float) else str(value)
            results.reports.append((SUITE, f"hostile_{key}", text))
    return figures


class StandaloneResults:
    """The subset of run_check.Results this suite uses, printing TAP."""

    def __init__(self):
        self.count = self.failed = 0
        self.reports = []

    def add(self, kind, suite, line):
        self.count += 1
        self.failed += kind == "fail"
        name = re.sub(r"^(not ok|ok)( \d+)?( -)? ?", "", line)
        ok = "ok" if kind != "fail" else "not ok"
        print(f"{ok} {self.count} - {name}", flush=True)

    def own(self, passed, suite, name, context=()):
        self.add("pass" if passed else "fail", suite, name)
        if not passed:
            for line in context:
                print(f"#   | {line}")
        return passed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(os.path.dirname(HERE),
                                                        "build"))
    parser.add_argument("--phase-s", type=int, default=PHASE_S)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    workdir = tempfile.mkdtemp(prefix="pvtime-hostile.")
    daemon = Daemon(build, workdir)
    results = StandaloneResults()
    try:
        daemon.start()
        run_hostile_suite(results, daemon, os.path.join(build, "guest"),
                          workdir, args.phase_s)
    finally:
        daemon.terminate()
        daemon.kill_leftovers()
    for suite, key, value in results.reports:
        print(f"# {key} {value}")
    print(f"1..{results.count}")
    if args.keep or results.failed:
        print(f"# logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
