# SPDX-License-Identifier: GPL-2.0
"""The host's own clock through adjtimex(2), adjtime(3) and clock_adjtime(2),
for the phases that move it (NTP follow, clock status, steps).  Every one
of them restores what it changed; these are the syscalls only."""

import ctypes
import os
import subprocess


class Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class Timex(ctypes.Structure):
    """glibc's struct timex (x86-64: 208 bytes)."""
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long),
                ("freq", ctypes.c_long), ("maxerror", ctypes.c_long),
                ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long),
                ("tolerance", ctypes.c_long), ("time", Timeval),
                ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long),
                ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
                ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long),
                ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_reserved", ctypes.c_int * 11)]


assert ctypes.sizeof(Timex) == 208, "struct timex layout"
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.clock_adjtime.argtypes = [ctypes.c_int, ctypes.POINTER(Timex)]

ADJ_FREQUENCY = 0x0002


def _fail(what):
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}")


def adjtimex(**fields):
    """adjtimex(2) with the given fields set (modes 0: read only);
    returns (clock state, the struct as the kernel left it)."""
    tx = Timex(**fields)
    state = LIBC.adjtimex(ctypes.byref(tx))
    if state < 0:
        _fail(f"adjtimex(modes={tx.modes:#x})")
    return state, tx


def clock_adjtime(clock_id, tx, what):
    """clock_adjtime(2) on tx; what names the request in an error."""
    if LIBC.clock_adjtime(clock_id, ctypes.byref(tx)) < 0:
        _fail(what)


def adjtime_us(delta_us):
    """adjtime(3) by delta_us (None: only read); returns what an earlier
    one had left, us."""
    old = Timeval()
    delta = None if delta_us is None else ctypes.byref(Timeval(0, int(delta_us)))
    if LIBC.adjtime(delta, ctypes.byref(old)) < 0:
        _fail("adjtime")
    return old.tv_sec * 1000000 + old.tv_usec


class HostFrequency:
    """The host kernel's NTP frequency (adjtimex ADJ_FREQUENCY), as chronyd
    sets it, and adjtime(3) offset slews.  offset_ppm() moves the frequency
    relative to where it was found; restore() puts back exactly the value
    found and stops an adjtime() still running (call it in a finally).
    Needs CAP_SYS_TIME."""
    NTP_DAEMONS = ("chronyd", "ntpd", "systemd-timesyncd", "openntpd")

    def __init__(self):
        self.original = self.read().freq
        self.changed = False
        self.slewing = False

    @staticmethod
    def read():
        return adjtimex()[1]

    def offset_ppm(self, ppm):
        """Run the host's clock ppm faster than it was found."""
        self.changed = True
        adjtimex(modes=ADJ_FREQUENCY, freq=self.original + int(round(ppm * 65536)))

    def adjtime_us(self, delta_us):
        """Slew the host's clock by delta_us at the kernel's 500 ppm."""
        self.slewing = True
        return adjtime_us(delta_us)

    @staticmethod
    def adjtime_remaining_us():
        return adjtime_us(None)

    def restore(self):
        """Returns the us an adjtime() still had left (the host keeps them)."""
        left = 0
        if self.changed:
            adjtimex(modes=ADJ_FREQUENCY, freq=self.original)
            self.changed = False
        if self.slewing:
            left = adjtime_us(0)
            self.slewing = False
        return left

    @classmethod
    def ntp_daemons_running(cls):
        """Names of NTP daemons running on the host (they would fight us)."""
        return [name for name in cls.NTP_DAEMONS
                if subprocess.run(["pgrep", "-x", name[:15]],
                                  capture_output=True).returncode == 0]
