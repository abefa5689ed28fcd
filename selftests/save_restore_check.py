# SPDX-License-Identifier: GPL-2.0
"""Phase 3g of make check: pvxl save / restore (run_check.py --only save).

A guest (pvtest=saverestore) asks for `PVTIME-HOST-REQUEST save-restore
SECONDS POLICY` three times; the runner answers each with `pvxl save`,
SECONDS with the guest on disk, and `pvxl restore --stopped-time POLICY`,
while the guest measures its REALTIME and CLOCK_MONOTONIC_RAW against the
hyp's through the mailbox (pvtime-timekeep save-restore).  Then bad input,
each refused with exit status 1 (2 for a usage error), one line naming the
file and the reason, and no domain left behind: a restore over a domain of
the same name, a non-save file, a newer format, another ABI (checksums
recomputed, so only the ABI is wrong), a truncated file, one flipped byte
in the stream, unknown policies; then the real file restores again.
"""

import os
import re
import time

from pvtime_host import config_copy, find_key, log, read_config_value

SAVE_TIMEOUT = 180   # s, the whole guest
NAME = "pvtime-save"


def fnv64(data, h=0xcbf29ce484222325):
    for byte in data:
        h ^= byte
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def reseal_header(data):
    """Recompute the header checksum of an edited save file."""
    marker = b"\nheader_fnv64 "
    at = data.index(marker) + 1
    line_end = data.index(b"\n", at)
    digest = f"header_fnv64 {fnv64(data[:at]):016x}".encode()
    return data[:at] + digest + data[line_end:]


def make_run_class(GuestRun):
    class SaveRestoreRun(GuestRun):
        """GuestRun answering save-restore requests."""

        save_file = None
        timings = None

        def host_request(self, words):
            if words and words[0] == "save-restore":
                self.save_restore(words[1:])
                return
            super().host_request(words)

        def save_restore(self, args):
            try:
                seconds = float(args[0])
                policy = args[1]
                if not 0 < seconds <= 60 or len(args) != 2:
                    raise ValueError
            except (IndexError, ValueError):
                self.results.own(False, self.suite,
                                 f"bad host request save-restore {args!r}")
                return
            t0 = time.monotonic()
            saved = self.daemon.pvxl("save", "--json", self.domain,
                                     self.save_file, timeout=120)
            t1 = time.monotonic()
            log(f"  {self.suite}: host runs `pvxl save {self.domain} "
                f"{self.save_file}` ({(t1 - t0) * 1000:.0f} ms), waits "
                f"{seconds:g} s")
            if saved.returncode == 0:
                time.sleep(seconds)
            t2 = time.monotonic()
            restored = self.daemon.pvxl("restore", "--json", "--stopped-time",
                                        policy, self.save_file, timeout=120)
            t3 = time.monotonic()
            log(f"  {self.suite}: host runs `pvxl restore --stopped-time "
                f"{policy} {self.save_file}` ({(t3 - t2) * 1000:.0f} ms)")
            log(f"PVTIME-HOST-DONE {saved.returncode or restored.returncode}")
            for what, result in (("save", saved), ("restore", restored)):
                if not self.results.own(result.returncode == 0, self.suite,
                                        f"host: pvxl {what} ({policy})",
                                        [result.describe()] +
                                        self.daemon.log_tail(10)):
                    return
            try:
                s, r = saved.json(), restored.json()
            except ValueError:
                s, r = {}, {}
            self.timings.append({
                "policy": policy,
                "save_ms": (t1 - t0) * 1000,
                "restore_ms": (t3 - t2) * 1000,
                "stream_bytes": s.get("stream_bytes"),
                "load_ms": (r.get("load_ns") or 0) / 1e6,
            })
            self.results.own(r.get("state") == "running" and
                             r.get("stopped_time") == policy and
                             r.get("name") == self.domain, self.suite,
                             f"host: the restored domain runs under {policy}",
                             [restored.describe()])
            if policy == "step":
                # A fresh QEMU's cold translation cache slows the guest's
                # first sample: 2 s, not pause's 200 ms.
                self.check_resume_correction("step", limit_ms=2000)
    return SaveRestoreRun


def refused(results, suite, daemon, what, argv, want_rc, words):
    """A pvxl command that must fail with want_rc and say words, leaving
    no domain called NAME behind."""
    result = daemon.pvxl(*argv, timeout=120)
    text = (result.stderr + result.stdout).strip()
    one_line = len(text.splitlines()) == 1 if want_rc == 1 else True
    ok = (result.returncode == want_rc and one_line and
          all(w in text for w in words))
    listing = daemon.pvxl("list", "--json")
    try:
        left = [d for d in listing.json().get("domains", [])
                if d.get("name") == NAME]
    except (ValueError, AttributeError):
        left = ["(list failed)"]
    results.own(ok and not left, suite,
                f"{what}: refused (exit {result.returncode}, "
                f"'{text.splitlines()[0] if text else ''}')",
                [result.describe(), f"domains left: {left}"])


def bad_input(results, suite, daemon, workdir, save_file, cfg):
    with open(save_file, "rb") as f:
        data = f.read()
    header_bytes = int(data[:32].split(b"\n")[0].split()[2])

    def variant(name, content):
        path = os.path.join(workdir, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    # pvxl names files by their real path.
    real = os.path.realpath
    refused(results, suite, daemon, "a config file as a save file",
            ["restore", cfg], 1,
            [real(cfg), "not a pvtime save file (bad magic)"])
    newer = variant("newer.save", data.replace(b"PVTIME-SAVE 1 ",
                                               b"PVTIME-SAVE 2 ", 1))
    refused(results, suite, daemon, "a newer format", ["restore", newer], 1,
            [newer, "format 2 is newer"])
    header = data[:header_bytes].rstrip(b"\0")
    foreign = reseal_header(re.sub(rb"\nabi 1\n", b"\nabi 7\n", header))
    foreign = foreign + b"\0" * (header_bytes - len(foreign)) + \
        data[header_bytes:]
    abi = variant("abi7.save", foreign)
    refused(results, suite, daemon, "another ABI (checksums valid)",
            ["restore", abi], 1, [real(abi), "pvtime ABI 7"])
    edited = bytearray(data)
    edited[data.index(b"\nlag_ns ") + 8] ^= 0x01
    hdr = variant("edited-header.save", bytes(edited))
    refused(results, suite, daemon, "an edited header field",
            ["restore", hdr], 1, [real(hdr), "header checksum mismatch"])
    short = variant("short.save", data[:header_bytes + (len(data) -
                                                        header_bytes) // 2])
    refused(results, suite, daemon, "a truncated file", ["restore", short], 1,
            [short, "truncated"])
    flipped = bytearray(data)
    flipped[header_bytes + (len(data) - header_bytes) // 3] ^= 0x40
    corrupt = variant("corrupt.save", bytes(flipped))
    refused(results, suite, daemon, "one flipped bit in the stream",
            ["restore", corrupt], 1,
            [real(corrupt), "checksum mismatch in the migration stream"])
    refused(results, suite, daemon, "an unknown policy (pvxl)",
            ["restore", "--stopped-time", "bogus", save_file], 2,
            ["unknown stopped-time policy 'bogus'"])
    refused(results, suite, daemon, "slew:0 (pvtimed's range check)",
            ["restore", "--stopped-time", "slew:0", save_file], 2, ["slew"])
    refused(results, suite, daemon, "save of a domain that does not exist",
            ["save", "no-such-domain", os.path.join(workdir, "x.save")], 1,
            ["no such domain 'no-such-domain'"])
    # The real file, refused only for what was wrong with the others,
    # as if saved on another host (another boot_id, checksums valid): the
    # time away then comes from CLOCK_REALTIME, not this TSC.
    other = re.sub(rb"\nboot_id [^\n]*\n",
                   b"\nboot_id 00000000-0000-0000-0000-000000000000\n", header)
    other = reseal_header(other)
    elsewhere = variant("elsewhere.save", other + b"\0" *
                        (header_bytes - len(other)) + data[header_bytes:])
    again = daemon.pvxl("restore", "--json", elsewhere, timeout=120)
    try:
        reply = again.json()
    except ValueError:
        reply = {}
    results.own(again.returncode == 0 and reply.get("same_host") is False and
                reply.get("state") == "running", suite,
                "the unaltered file, as if saved on another host, restores "
                "after the refusals (same_host false)",
                [again.describe()] + daemon.log_tail(10))
    if again.returncode == 0:
        daemon.pvxl("destroy", NAME, timeout=60)
    for path in (newer, abi, hdr, short, corrupt, elsewhere):
        os.unlink(path)


def phase_save_restore(results, args, daemon, workdir, GuestRun,
                       domain_listed):
    log("== phase 3g: pvxl save / restore under a guest")
    suite = "save"
    guest = os.path.join(args.build, "guest")
    cfg = os.path.join(guest, "check-saverestore.cfg")
    config_copy(os.path.join(guest, "test.cfg"), cfg, name=NAME,
                pvtest="saverestore")
    save_file = os.path.join(workdir, f"{NAME}.save")
    name = read_config_value(cfg, "name")
    created = daemon.pvxl("create", cfg, timeout=120)
    if not results.own(created.returncode == 0, suite, f"pvxl create {cfg}",
                       [created.describe()] + daemon.log_tail(15)):
        return
    start = time.monotonic()
    run_class = make_run_class(GuestRun)
    run = run_class(results, suite, "saverestore", daemon.domain_log(name),
                    daemon, name)
    run.save_file = save_file
    run.timings = []
    run.follow(SAVE_TIMEOUT, lambda: not daemon.alive())
    run.verdict(f"within {SAVE_TIMEOUT} s")
    log(f"  {suite}: guest ran {time.monotonic() - start:.1f} s")
    for t in run.timings:
        for key in ("save_ms", "restore_ms", "load_ms"):
            results.reports.append((suite, f"{t['policy'].split(':')[0]}_{key}",
                                    f"{t[key]:.0f}"))
        results.reports.append((suite, "stream_bytes", str(t["stream_bytes"])))
    # Still listed (running, or shut down after END): a same-name restore.
    if os.path.exists(save_file) and domain_listed(daemon, name):
        result = daemon.pvxl("restore", save_file, timeout=60)
        text = (result.stderr + result.stdout).strip()
        results.own(result.returncode == 1 and
                    f"domain '{name}' already exists" in text, suite,
                    f"restore over a domain of the same name: refused "
                    f"('{text}')", [result.describe()])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and domain_listed(daemon, name):
        info = daemon.pvxl("info", "--json", name)
        try:
            if find_key(info.json(), "state") == "shutdown":
                break
        except ValueError:
            pass
        time.sleep(0.5)
    if domain_listed(daemon, name):
        gone = daemon.pvxl("destroy", name, timeout=60)
        results.own(gone.returncode == 0, suite, f"pvxl destroy {name}",
                    [gone.describe()])
    if not results.own(os.path.exists(save_file), suite,
                       f"the save file {save_file} is there"):
        return
    bad_input(results, suite, daemon, workdir, save_file, cfg)
    os.unlink(save_file)
