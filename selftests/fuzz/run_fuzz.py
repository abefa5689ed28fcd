#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Replay the fuzz corpus, then fuzz each harness for a while (TAP output).

For every harness two TAP results: its corpus replays without a finding,
and a run of --seconds finds nothing.  New inputs go to a scratch corpus
under $BUILD/fuzz/work/<harness>/ (kept between runs), crashes to
$BUILD/fuzz/crashes/<harness>/; with --merge the inputs that add coverage
are minimised into selftests/fuzz/corpus/<harness>/.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
HARNESSES = ["time_arg", "domain_config", "control", "mailbox",
             "domain_state", "save_file"]
STAT_RE = re.compile(r"^stat::(\w+):\s+(\d+)", re.M)
ARTIFACT_RE = re.compile(r"Test unit written to (\S+)")
# Beyond the requested time: start-up, corpus loading, the final stats.
GRACE_S = 120


class Tap:
    def __init__(self, planned):
        self.number = 0
        self.failed = 0
        print(f"1..{planned}", flush=True)

    def result(self, passed, name, diagnostics=()):
        self.number += 1
        self.failed += not passed
        print(f"{'ok' if passed else 'not ok'} {self.number} - {name}")
        for line in diagnostics:
            print(f"# {line}")
        sys.stdout.flush()

    def line(self, text):
        print(text, flush=True)


class HarnessOutput:
    """One harness's results and report lines, held until its turn: the
    harnesses run side by side, their TAP comes out in harness order."""

    def __init__(self):
        self.items = []

    def result(self, passed, name, diagnostics=()):
        self.items.append(("result", (passed, name, list(diagnostics))))

    def line(self, text):
        self.items.append(("line", (text,)))

    def replay_onto(self, tap):
        for kind, item in self.items:
            getattr(tap, kind)(*item)


def run(argv, timeout):
    """Run a harness; return (exit status or None on timeout, output)."""
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout, check=False)
        return proc.returncode, proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as err:
        return None, (err.stdout or b"").decode("utf-8", "replace")


def finding(binary, status, output):
    """Diagnostics for a failed run: the report's head and how to replay."""
    lines = [f"exit status {status}" if status is not None else "timed out"]
    # The report's lines and the stack frames in pvtime's own code.
    report = [line for line in output.splitlines()
              if re.search(r"ERROR|invariant broken|runtime error|SUMMARY",
                           line) or
              (re.match(r"^\s+#\d+ ", line) and TOP in line)]
    lines += report[:20]
    for path in ARTIFACT_RE.findall(output):
        lines.append(f"reproducer: {path}")
        lines.append(f"reproduce: {binary} {shlex.quote(path)}")
    if len(lines) == 1:
        lines += output.splitlines()[-15:]
    return lines


def common_options(harness, crashes):
    options = [f"-artifact_prefix={crashes}/", "-timeout=10",
               "-rss_limit_mb=2048"]
    dictionary = os.path.join(HERE, "dict", f"{harness}.dict")
    if os.path.exists(dictionary):
        options.append(f"-dict={dictionary}")
    return options


def replay(tap, binary, harness, corpus, crashes):
    inputs = len(os.listdir(corpus))
    status, output = run([binary, "-runs=0"] +
                         common_options(harness, crashes) + [corpus],
                         timeout=GRACE_S)
    tap.result(status == 0, f"fuzz_{harness}: the corpus replays cleanly "
               f"({inputs} inputs)",
               [] if status == 0 else finding(binary, status, output))


def fuzz(tap, binary, harness, corpus, work, crashes, seconds):
    start = time.monotonic()
    status, output = run([binary, f"-max_total_time={seconds}",
                          "-print_final_stats=1"] +
                         common_options(harness, crashes) + [work, corpus],
                         timeout=seconds + GRACE_S)
    elapsed = time.monotonic() - start
    stats = {key: int(value) for key, value in STAT_RE.findall(output)}
    execs = stats.get("number_of_executed_units", 0)
    rate = execs / elapsed if elapsed > 0 else 0
    ok = status == 0 and execs > 0
    tap.result(ok, f"fuzz_{harness}: {seconds} s of fuzzing find nothing",
               [f"{execs} executions in {elapsed:.0f} s ({rate:.0f} exec/s)"] +
               ([] if ok else finding(binary, status, output)))
    tap.line(f"PVTIME-REPORT fuzz_{harness}_executions {execs}")
    tap.line(f"PVTIME-REPORT fuzz_{harness}_exec_per_s {rate:.0f}")


def merge(tap, binary, harness, corpus, work, crashes):
    before = len(os.listdir(corpus))
    status, output = run([binary, "-merge=1"] +
                         common_options(harness, crashes) + [corpus, work],
                         timeout=600)
    if status != 0:
        tap.line(f"# fuzz_{harness}: merge failed (exit {status})")
        for line in output.splitlines()[-10:]:
            tap.line(f"#   {line}")
    else:
        tap.line(f"# fuzz_{harness}: corpus {before} -> "
                 f"{len(os.listdir(corpus))} inputs")


def run_harness(args, harness):
    """Replay, fuzz and merge one harness; its output, held."""
    out = HarnessOutput()
    binary = os.path.join(args.build, "fuzz", f"fuzz_{harness}")
    corpus = os.path.join(HERE, "corpus", harness)
    work = os.path.join(args.build, "fuzz", "work", harness)
    crashes = os.path.join(args.build, "fuzz", "crashes", harness)
    os.makedirs(work, exist_ok=True)
    os.makedirs(crashes, exist_ok=True)
    replay(out, binary, harness, corpus, crashes)
    if args.seconds:
        fuzz(out, binary, harness, corpus, work, crashes, args.seconds)
        if args.merge:
            merge(out, binary, harness, corpus, work, crashes)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", required=True)
    parser.add_argument("--seconds", type=int, default=600,
                        help="fuzzing time per harness (0: replay only)")
    parser.add_argument("--harness", nargs="+", choices=HARNESSES,
                        default=HARNESSES)
    parser.add_argument("--merge", action="store_true",
                        help="minimise new coverage into the repo corpus")
    parser.add_argument("--jobs", type=int, default=1,
                        help="harnesses run at once (default 1)")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    tap = Tap(len(args.harness) * (2 if args.seconds else 1))
    # Each harness is one process on one core: --jobs of them at once.
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        runs = [pool.submit(run_harness, args, harness)
                for harness in args.harness]
        for harness_run in runs:
            harness_run.result().replay_onto(tap)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
