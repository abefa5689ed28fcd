# SPDX-License-Identifier: GPL-2.0
"""The clock-status phase of `make check` (issue 7, item 6): the host
clock's leap second, TAI offset, error bounds and sync state reach the
guest, and the ABI is versioned both ways.

One guest boots in pvtest=status mode and drives the test
(selftests/guest/run-guest-tests.sh, mode_status):

  1. it loads the ABI base module (pvtime.ko of the last commit before the
     clock status, built from git): an old module meeting this hyp;
  2. it asks for `pvxl inject DOM clock-status-off` (the hyp shows the
     control page of a hyp without PVTIME_F_CLOCK_STATUS) and loads the new
     module: it must work and report the status as unavailable;
  3. `inject clear`, then `inject clock-status-odd 3000` (a torn block);
  4. it asks the host to change the host's own clock status through
     adjtimex(2) ("PVTIME-HOST-REQUEST host-clock ..."): a leap second
     inserted (STA_INS) with a TAI offset, deleted, none; maxerror,
     esterror and STA_UNSYNC cleared; STA_UNSYNC set; and reads what it
     sees in sysfs.

DANGER: STA_INS left set makes the host's kernel really insert a leap
second at the next UTC midnight.  HostClock saves what it changes (only
the STA_INS, STA_DEL and STA_UNSYNC bits, maxerror, esterror, the TAI
offset) and restores it in a `finally`, on SIGTERM too; the phase refuses
to run within 10 minutes of a UTC midnight (counted as skipped, with the
reason, in the final line).
"""

import os
import signal
import time

from host_clock import adjtimex
from pvtime_host import destroy_after_poweroff, log, read_config_value

SUITE = "guest:status"
TIMEOUT_S = 240
MIDNIGHT_GUARD_S = 600

# <sys/timex.h>
ADJ_MAXERROR = 0x0004
ADJ_ESTERROR = 0x0008
ADJ_STATUS = 0x0010
ADJ_TAI = 0x0080
STA_INS = 0x0010
STA_DEL = 0x0020
STA_UNSYNC = 0x0040
OUR_BITS = STA_INS | STA_DEL | STA_UNSYNC


def seconds_to_utc_midnight(now=None):
    """Seconds to the nearer UTC midnight, before or after now."""
    now = time.time() if now is None else now
    into_day = now % 86400
    return min(into_day, 86400 - into_day)


def midnight_refusal(now=None):
    """Why the phase must not touch the host's leap state now, or None."""
    left = seconds_to_utc_midnight(now)
    if left < MIDNIGHT_GUARD_S:
        return (f"refused: {left:.0f} s from a UTC midnight (within "
                f"{MIDNIGHT_GUARD_S // 60} min a leap-second test could "
                f"make the host insert one)")
    return None


class HostClock:
    """Changes to the host's adjtimex state, every one undone by restore()."""

    def __init__(self):
        _, tx = adjtimex()
        self.saved_bits = tx.status & OUR_BITS
        self.saved_maxerror = tx.maxerror
        self.saved_esterror = tx.esterror
        self.saved_tai = tx.tai
        self.touched = set()
        log(f"  {SUITE}: host adjtimex saved: status {tx.status:#x}, "
            f"maxerror {tx.maxerror} us, esterror {tx.esterror} us, "
            f"tai {tx.tai} s")

    def _set_bits(self, set_bits, clear_bits):
        _, tx = adjtimex()
        status = (tx.status | set_bits) & ~clear_bits
        adjtimex(modes=ADJ_STATUS, status=status)
        self.touched.add("status")

    def leap(self, kind, tai=None):
        """kind: insert, delete or none."""
        if kind != "none":
            refusal = midnight_refusal()
            if refusal:
                raise RuntimeError(refusal)
        bits = {"insert": STA_INS, "delete": STA_DEL, "none": 0}[kind]
        self._set_bits(bits, (STA_INS | STA_DEL) & ~bits)
        if tai is not None:
            adjtimex(modes=ADJ_TAI, constant=tai)
            self.touched.add("tai")

    def synchronised(self, maxerror_us, esterror_us):
        # maxerror first: with STA_UNSYNC clear and maxerror past 16 s the
        # kernel would set STA_UNSYNC again at the next second.
        adjtimex(modes=ADJ_MAXERROR | ADJ_ESTERROR, maxerror=maxerror_us,
                 esterror=esterror_us)
        self.touched.add("errors")
        self._set_bits(0, STA_UNSYNC)

    def unsynchronised(self):
        self._set_bits(STA_UNSYNC, 0)

    def restore(self):
        """Put back exactly what was changed; safe to call twice."""
        if "status" in self.touched:
            _, tx = adjtimex()
            status = (tx.status & ~OUR_BITS) | self.saved_bits
            adjtimex(modes=ADJ_STATUS, status=status)
        if "errors" in self.touched:
            adjtimex(modes=ADJ_MAXERROR | ADJ_ESTERROR,
                     maxerror=self.saved_maxerror,
                     esterror=self.saved_esterror)
        if "tai" in self.touched:
            adjtimex(modes=ADJ_TAI, constant=self.saved_tai)
        _, tx = adjtimex()
        self.touched.clear()
        return tx.status & OUR_BITS == self.saved_bits and \
            tx.tai == self.saved_tai


def _number(word, low, high):
    value = int(word)
    if not low <= value <= high:
        raise ValueError(f"{value} outside {low}..{high}")
    return value


def host_clock_request(host, words):
    """Apply `host-clock ACTION [ARGS]`; raise ValueError on bad input."""
    if not words:
        raise ValueError("host-clock needs an action")
    action, args = words[0], words[1:]
    if action in ("insert", "delete", "none") and len(args) <= 1:
        tai = _number(args[0], 0, 1000) if args else None
        host.leap(action, tai)
    elif action == "sync" and len(args) == 2:
        host.synchronised(_number(args[0], 0, 16000000),
                          _number(args[1], 0, 16000000))
    elif action == "unsync" and not args:
        host.unsynchronised()
    elif action == "restore" and not args:
        if not host.restore():
            raise RuntimeError("host adjtimex state not as saved")
    else:
        raise ValueError(f"bad host-clock request {words!r}")


def make_guest_run(guest_run_cls):
    class StatusGuestRun(guest_run_cls):
        """The guest's `host-clock` requests change the host's adjtimex."""
        host = None

        def host_request(self, words):
            if not words or words[0] != "host-clock":
                super().host_request(words)
                return
            try:
                host_clock_request(self.host, words[1:])
            except (ValueError, RuntimeError, OSError) as err:
                log("PVTIME-HOST-DONE 1")
                self.results.own(False, self.suite,
                                 f"host request {' '.join(words)}: {err}")
                return
            _, tx = adjtimex()
            log(f"  {self.suite}: host {' '.join(words)}: status "
                f"{tx.status:#x}, maxerror {tx.maxerror}, esterror "
                f"{tx.esterror}, tai {tx.tai}")
            log("PVTIME-HOST-DONE 0")
            if words[1] == "sync":
                self.check_info(int(words[3]))

        def check_info(self, esterror_us):
            """pvxl info shows the block the guest reads, within 3 s."""
            deadline = time.monotonic() + 3
            shown = None
            while time.monotonic() < deadline:
                info = self.daemon.pvxl("info", "--json", self.domain)
                try:
                    shown = info.json().get("clock_status")
                except (ValueError, AttributeError):
                    shown = None
                if isinstance(shown, dict) and \
                        shown.get("esterror_us") == esterror_us and \
                        shown.get("sync") == 1:
                    break
                time.sleep(0.2)
            self.results.own(
                isinstance(shown, dict) and shown.get("offered") is True and
                shown.get("esterror_us") == esterror_us and
                shown.get("sync") == 1, self.suite,
                f"host: pvxl info shows the clock status (sync 1, esterror "
                f"{esterror_us} us)", [f"clock_status: {shown}"])
    return StatusGuestRun


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def phase_clock_status(results, args, daemon, guest_run_cls):
    log("== phase 3a: host clock status in the guest, ABI both ways "
        "(selftests/clock_status_check.py)")
    refusal = midnight_refusal()
    if refusal:
        # Counted and said, not failed: a CI run near midnight is not broken.
        results.add("skip", SUITE, f"ok - clock-status phase # SKIP {refusal}")
        log(f"  {SUITE}: SKIPPED: {refusal}")
        return
    cfg = os.path.join(args.build, "guest", "status.cfg")
    name = read_config_value(cfg, "name")
    created = daemon.pvxl("create", os.path.abspath(cfg), timeout=120)
    if not results.own(created.returncode == 0, SUITE,
                       f"pvxl create {os.path.basename(cfg)}",
                       [created.describe()] + daemon.log_tail(15)):
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    host = HostClock()
    start = time.monotonic()
    try:
        run = make_guest_run(guest_run_cls)(results, SUITE, "status",
                                            daemon.domain_log(name),
                                            daemon, name)
        run.host = host
        run.follow(TIMEOUT_S, lambda: not daemon.alive())
        run.verdict(f"within {TIMEOUT_S} s")
    finally:
        restored = host.restore()
        signal.signal(signal.SIGTERM, previous)
    results.own(restored, SUITE, "host: adjtimex status bits, maxerror, "
                "esterror and TAI restored as saved")
    log(f"  {SUITE}: guest ran {time.monotonic() - start:.1f} s")
    destroy_after_poweroff(results, daemon, SUITE, name)
