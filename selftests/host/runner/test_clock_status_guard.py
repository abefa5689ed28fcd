#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The safety of selftests/clock_status_check.py without touching the host
clock: the phase refuses to run within 10 minutes of a UTC midnight (a
leap second left pending there would really be inserted), a leap request
is refused there too, bad `host-clock` requests from the guest are
refused before anything changes, and struct timex has glibc's size."""

import ctypes
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
import clock_status_check as csc  # noqa: E402
import host_clock  # noqa: E402

MIDNIGHT = 1796083200  # 2026-12-01T00:00:00Z


class FakeHost:
    """Records what would have been changed."""

    def __init__(self):
        self.calls = []

    def leap(self, kind, tai=None):
        self.calls.append(("leap", kind, tai))

    def synchronised(self, maxerror_us, esterror_us):
        self.calls.append(("sync", maxerror_us, esterror_us))

    def unsynchronised(self):
        self.calls.append(("unsync",))

    def restore(self):
        self.calls.append(("restore",))
        return True


results = []


def tap(ok, name):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {name}")


def main():
    print("TAP version 13")
    for offset, refused in ((-601, False), (-599, True), (-1, True),
                            (0, True), (599, True), (601, False),
                            (43200, False)):
        reason = csc.midnight_refusal(MIDNIGHT + offset)
        tap((reason is not None) == refused,
            f"{offset:+d} s from midnight: {'refused' if refused else 'runs'}"
            f" ({reason})")
    tap("refused" in (csc.midnight_refusal(MIDNIGHT - 30) or ""),
        "the refusal says why")
    for words in ([], ["insert", "37", "1"], ["insert", "1001"],
                  ["insert", "x"], ["sync", "1"], ["sync", "-1", "5"],
                  ["sync", "1", "16000001"], ["unsync", "1"],
                  ["restore", "now"], ["rm", "-rf"]):
        host = FakeHost()
        try:
            csc.host_clock_request(host, words)
            refused = False
        except ValueError:
            refused = True
        tap(refused and not host.calls,
            f"host-clock {' '.join(words) or '(nothing)'} refused, "
            f"nothing changed")
    host = FakeHost()
    csc.host_clock_request(host, ["insert", "37"])
    csc.host_clock_request(host, ["sync", "123456", "7890"])
    csc.host_clock_request(host, ["none"])
    tap(host.calls == [("leap", "insert", 37), ("sync", 123456, 7890),
                       ("leap", "none", None)],
        f"good requests reach the host as asked ({host.calls})")
    tap(ctypes.sizeof(host_clock.Timex) == 208, "struct timex is glibc's 208 bytes")
    print(f"1..{len(results)}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
