#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""count_tap of selftests/run_check.py on made-up suite outputs: a stream
that prints fewer or more results than its plan, or none, is one failure
more in the final count; streams that keep their plans add none.  The same
for a guest console read by GuestRun (its plan comes after the results)."""

import contextlib
import io
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
import run_check  # noqa: E402

UNIT = "# test_a\nTAP version 13\n1..2\nok 1 - a\nok 2 - b\n"

# (name, suite output, results found, failures expected)
CASES = [
    ("a plan kept", UNIT, 2, 0),
    ("fewer results than the plan",
     "TAP version 13\n1..3\nok 1 - a\nok 2 - b\n", 2, 1),
    ("more results than the plan",
     "TAP version 13\n1..1\nok 1 - a\nok 2 - b\n", 2, 1),
    ("results and no plan", "TAP version 13\nok 1 - a\n", 1, 1),
    ("a trailing plan kept", "TAP version 13\nok 1 - a\nok 2 - b\n1..2\n",
     2, 0),
    ("a trailing plan short of the results",
     "TAP version 13\nok 1 - a\nok 2 - b\n1..1\n", 2, 1),
    ("two programs, both kept", UNIT + UNIT.replace("test_a", "test_b"), 4, 0),
    ("two programs, the second stops early",
     UNIT + "# test_b\nTAP version 13\n1..2\nok 1 - a\n", 3, 1),
    ("two plans without a version line, the second short",
     "1..1\nok 1 - a\n1..2\nok 1 - a\n", 2, 1),
    ("a failed result within its plan",
     "TAP version 13\n1..2\nok 1 - a\nnot ok 2 - b\n", 2, 1),
    ("an empty plan that skips everything", "TAP version 13\n1..0 # SKIP\n",
     0, 0),
    ("a plan and nothing after it (the program died)",
     "TAP version 13\n1..4\n", 0, 1),
]


# (name, console between the markers, failures expected)
GUEST_CASES = [
    ("guest console keeping its plan", "ok 1 - a\nok 2 - b\n1..2\n", 0),
    ("guest console short of its plan (a line lost)",
     "ok 1 - a\n1..2\n", 1),
    ("guest console without a plan", "ok 1 - a\nok 2 - b\n", 1),
]


def guest_run(body):
    """(failures, what was printed) when GuestRun reads a finished console."""
    results = run_check.Results()
    out = io.StringIO()
    with tempfile.NamedTemporaryFile("w", suffix=".log") as console:
        console.write("PVTIME-GUEST-BEGIN main\nTAP version 13\n" + body +
                      "PVTIME-GUEST-END main\n")
        console.flush()
        with contextlib.redirect_stdout(out):
            run = run_check.GuestRun(results, "guest", "main", console.name)
            run.follow(5, lambda: False)
            run.verdict("test")
    return results.failed, out.getvalue()


def guest_failures(body):
    """Failures GuestRun counts for a finished guest console."""
    return guest_run(body)[0]


# A test prints its own account of a failure before its result line.
COMMENTED = ("# quiet before a pass\nok 1 - a\n"
             "# probe trace: raw -2822 ms\nnot ok 2 - b\n"
             "# module state after\n1..2\n")


def comments_around_failure():
    """The comments before and after a failed result are shown, those
    before a passed one are not."""
    _, printed = guest_run(COMMENTED)
    return ("probe trace: raw -2822 ms" in printed and
            "module state after" in printed and
            "quiet before a pass" not in printed and
            printed.index("probe trace") < printed.index("module state after"))


def main():
    print("TAP version 13")
    print(f"1..{len(CASES) + 2 + len(GUEST_CASES)}")
    failed = 0
    for number, (name, text, found_want, failures_want) in \
            enumerate(CASES, 1):
        results = run_check.Results()
        with contextlib.redirect_stdout(io.StringIO()):
            found = run_check.count_tap(results, "suite", text)
        passed = found == found_want and results.failed == failures_want
        failed += not passed
        print(f"{'' if passed else 'not '}ok {number} - {name}: "
              f"{found} results, {results.failed} failures "
              f"(want {found_want}, {failures_want})")
    # The failure names the program whose stream broke its plan.
    results = run_check.Results()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run_check.count_tap(results, "suite", UNIT +
                            "# test_b\nTAP version 13\n1..2\nok 1 - a\n")
    passed = "test_b" in out.getvalue() and "planned 2" in out.getvalue()
    failed += not passed
    print(f"{'' if passed else 'not '}ok {len(CASES) + 1} - the failure "
          f"names the program and its plan")
    for line in out.getvalue().splitlines():
        print(f"# {line.strip()}")
    for number, (name, body, failures_want) in \
            enumerate(GUEST_CASES, len(CASES) + 2):
        failures = guest_failures(body)
        passed = failures == failures_want
        failed += not passed
        print(f"{'' if passed else 'not '}ok {number} - {name}: "
              f"{failures} failures (want {failures_want})")
    passed = comments_around_failure()
    failed += not passed
    print(f"{'' if passed else 'not '}ok {len(CASES) + 2 + len(GUEST_CASES)}"
          " - a failed guest result shows the comments before it and after"
          " it, a passed one none")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
