#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""pvtimed/pvxl integration tests: bad input must be refused clearly and must
never take the daemon down.  Runs against a pvtimed that the caller started
(selftests/run_check.py does); prints TAP.

    test_control.py --build DIR --workdir DIR --kernel VMLINUZ --ramdisk CPIO

--workdir is the daemon's private directory (control.sock, state/,
pvtimed.log), as laid out by pvtime_host.Daemon; that daemon runs with
--enable-fault-injection.  The fault-injection refusal is tested on a second
daemon of our own, started without it (in WORKDIR/noinject).
"""

import argparse
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", ".."))
from pvtime_host import Daemon, find_key, tail_file  # noqa: E402

INJECT_DISABLED = ("fault injection is disabled "
                   "(start pvtimed with --enable-fault-injection)")

NOBODY = 65534


class Tap:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def result(self, passed, name, diagnostics=()):
        self.count += 1
        if not passed:
            self.failed += 1
        print(f"{'' if passed else 'not '}ok {self.count} - {name}")
        if not passed:
            for line in diagnostics:
                print(f"# {line}")
        sys.stdout.flush()
        return passed

    def diag(self, text):
        print(f"# {text}")
        sys.stdout.flush()


def base_config(kernel, ramdisk):
    """A valid config, one setting per line (line N = index N-1)."""
    return ['name = "cfgtest"', "vcpus = 1", "memory = 128",
            f'kernel = "{kernel}"', f'ramdisk = "{ramdisk}"',
            'extra = "console=ttyS0"']


# (what is wrong, index of the line to replace, replacement line)
MALFORMED = [
    ("unterminated string", 0, 'name = "cfgtest'),
    ("unknown key", 1, "frobnicate = 1"),
    ("vcpus = 0 (below range)", 1, "vcpus = 0"),
    ("vcpus = 33 (above range)", 1, "vcpus = 33"),
    ("memory not a number", 2, "memory = lots"),
    ("memory = 1 (below range)", 2, "memory = 1"),
    ("name with invalid characters", 0, 'name = "bad name!"'),
    ("unknown accel", 5, 'accel = "warp"'),
    ("unknown tcg_thread", 5, 'tcg_thread = "many"'),
    ("tcg_thread with accel = kvm", 5, 'accel = "kvm"; tcg_thread = "multi"'),
    ("missing '='", 1, "vcpus 2"),
    ("unterminated list", 5, 'device_model_args = [ "-device", "x"'),
    ("invalid string escape", 5, 'extra = "console=ttyS0 \\q"'),
    ("trailing garbage after value", 1, "vcpus = 2 junk"),
]

# `pvxl inject DOM ...` argument lists that are usage errors (exit 2).
BAD_INJECTS = [
    [],
    ["frobnicate"],
    ["storm"],
    ["storm", "1000"],
    ["storm", "0", "100"],
    ["storm", "10001", "100"],
    ["storm", "1000", "-5"],
    ["storm", "fast", "100"],
    ["skew"],
    ["skew", "1ms"],
    ["freq-step", "1001"],
    ["freq-step", "-1001"],
    ["freq-step", "1e3"],
    ["odd", "1"],
    ["odd", "1", "0"],
    ["odd", "1", "5001"],
    ["odd", "-1", "100"],
    ["reanchor", "now"],
    ["clear", "all"],
    ["guest-stopped", "1"],
]

BAD_TIMES = ["soon", "+", "+1x", "--5s", "+99999999999999999999999s", "1h2",
             ""]


class ControlTests:
    def __init__(self, args):
        self.daemon = Daemon(args.build, args.workdir)
        self.kernel = args.kernel
        self.ramdisk = os.path.abspath(args.ramdisk)
        self.cfg_dir = os.path.join(args.workdir, "configs")
        os.makedirs(self.cfg_dir, exist_ok=True)
        self.tap = Tap()
        self.args = args

    def context(self, result):
        return [result.describe()] + [
            "pvtimed.log: " + line for line in self.daemon.log_tail(10)]

    def still_serving(self):
        """The daemon answers `pvxl list`: part of every bad-input test."""
        listing = self.daemon.pvxl("list")
        return listing.returncode == 0, listing

    def expect_exit(self, name, code, *args, must_contain=(),
                    must_contain_one=(), user=None):
        result = self.daemon.pvxl(*args, user=user)
        output = result.stdout + result.stderr
        problems = []
        if result.returncode != code:
            problems.append(f"exit {result.returncode}, want {code}")
        for text in must_contain:
            if text not in output:
                problems.append(f"output lacks '{text}'")
        if must_contain_one and not any(text in output
                                        for text in must_contain_one):
            problems.append(f"output has none of {list(must_contain_one)}")
        if code != 0 and not result.stderr.strip():
            problems.append("no error message on stderr")
        serving, listing = self.still_serving()
        if not serving:
            problems.append("daemon no longer answers `pvxl list`: "
                            + listing.describe())
        return self.tap.result(not problems, f"{name}: exit {code}",
                               problems + self.context(result))

    def write_config(self, filename, lines):
        path = os.path.join(self.cfg_dir, filename)
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def test_host_info(self):
        result = self.daemon.pvxl("host-info", "--json")
        tsc_hz = None
        try:
            tsc_hz = find_key(result.json(), "tsc_hz")
        except ValueError as err:
            self.tap.diag(f"host-info JSON does not parse: {err}")
        passed = result.returncode == 0 and isinstance(tsc_hz, int) and \
            tsc_hz > 100_000_000
        if passed:
            print(f"PVTIME-REPORT host_tsc_hz {tsc_hz}")
            for key in ("precision_hz", "precision_ppm"):
                value = find_key(result.json(), key)
                if value is not None:
                    print(f"PVTIME-REPORT host_tsc_{key} {value}")
        self.tap.result(passed, f"host-info reports tsc_hz ({tsc_hz})",
                        self.context(result))

    def test_malformed_configs(self):
        for number, (what, index, line) in enumerate(MALFORMED, 1):
            lines = base_config(self.kernel, self.ramdisk)
            lines[index] = line
            path = self.write_config(f"malformed-{number}.cfg", lines)
            # An unterminated construct may be reported where it starts
            # or at the end of the file.
            where = [f"{path}:{index + 1}"]
            if what.startswith("unterminated"):
                where.append(f"{path}:{len(lines) + 1}")
            self.expect_exit(f"config with {what} is refused with file:line",
                             1, "create", path, must_contain_one=where)

    def test_bad_config_files(self):
        missing = os.path.join(self.cfg_dir, "does-not-exist.cfg")
        self.expect_exit("create with a missing config file", 1,
                         "create", missing, must_contain=[missing])
        lines = base_config("/nonexistent/vmlinuz", self.ramdisk)
        path = self.write_config("no-kernel-file.cfg", lines)
        self.expect_exit("config naming a missing kernel file", 1,
                         "create", path, must_contain=["/nonexistent/vmlinuz"])
        lines = [line for line in base_config(self.kernel, self.ramdisk)
                 if not line.startswith("kernel")]
        path = self.write_config("no-kernel-key.cfg", lines)
        self.expect_exit("config without kernel", 1, "create", path,
                         must_contain=[path])

    def test_unknown_domain(self):
        for args in (["info", "no-such-dom"], ["destroy", "no-such-dom"],
                     ["set-wallclock", "no-such-dom", "+1s"],
                     ["info", "4242"]):
            self.expect_exit(f"`pvxl {' '.join(args)}` on an unknown domain",
                             1, *args)

    def test_bad_times(self):
        for text in BAD_TIMES:
            self.expect_exit(f"set-wallclock with bad TIME '{text}'", 2,
                             "set-wallclock", "--all", text)

    def test_usage(self):
        self.expect_exit("pvxl without a command", 2)
        self.expect_exit("pvxl with an unknown command", 2, "frobnicate")
        self.expect_exit("pvxl info without a domain", 2, "info")
        self.expect_exit("pvxl inject without a domain", 2, "inject")

    def test_duplicate_create(self):
        # No pvtest= on the command line: the guest sits in a shell, so the
        # domain stays up however long the test takes.
        lines = base_config(self.kernel, self.ramdisk)
        lines[0] = 'name = "duptest"'
        path = self.write_config("duptest.cfg", lines)
        first = self.daemon.pvxl("create", path, timeout=60)
        if not self.tap.result(first.returncode == 0,
                               "create a domain from a valid config",
                               self.context(first)):
            return
        try:
            self.expect_exit("second create with the same name", 1,
                             "create", path, must_contain=["duptest"])
            self.test_inject_on(self.daemon, "duptest")
            listing = self.daemon.pvxl("list")
            self.tap.result(listing.stdout.count("duptest") == 1,
                            "the domain is listed exactly once",
                            self.context(listing))
        finally:
            gone = self.daemon.pvxl("destroy", "duptest", timeout=60)
        self.tap.result(gone.returncode == 0, "destroy the domain",
                        self.context(gone))
        listing = self.daemon.pvxl("list")
        self.tap.result(listing.returncode == 0 and
                        "duptest" not in listing.stdout,
                        "a destroyed domain is no longer listed",
                        self.context(listing))

    def test_inject_on(self, daemon, domain):
        """Fault injection on a daemon started with it enabled."""
        for words in BAD_INJECTS:
            self.expect_exit(f"`pvxl inject {domain} {' '.join(words)}` is a "
                             "usage error", 2, "inject", domain, *words)
        self.expect_exit("inject on an unknown domain", 1,
                         "inject", "no-such-dom", "reanchor")
        for words in (["reanchor"], ["storm", "100", "200"], ["skew", "0"],
                      ["freq-step", "100"], ["guest-stopped"], ["clear"]):
            self.expect_exit(f"`pvxl inject {domain} {' '.join(words)}` "
                             "is accepted", 0, "inject", domain, *words)

    def test_inject_disabled(self, args):
        """A daemon started without --enable-fault-injection refuses every
        inject request, and says how to enable it."""
        workdir = os.path.join(args.workdir, "noinject")
        os.makedirs(workdir, exist_ok=True)
        daemon = Daemon(args.build, workdir, fault_injection=False)
        try:
            daemon.start()
        except (OSError, RuntimeError) as err:
            self.tap.result(False, "second pvtimed (no fault injection) "
                            "starts", [str(err)] + daemon.log_tail(10))
            return
        try:
            lines = base_config(self.kernel, self.ramdisk)
            lines[0] = 'name = "noinject"'
            path = self.write_config("noinject.cfg", lines)
            created = daemon.pvxl("create", path, timeout=60)
            if not self.tap.result(created.returncode == 0,
                                   "create a domain on the second pvtimed",
                                   [created.describe()] + daemon.log_tail(10)):
                return
            for words in (["reanchor"], ["storm", "1000", "100"], ["clear"]):
                result = daemon.pvxl("inject", "noinject", *words)
                output = result.stdout + result.stderr
                self.tap.result(
                    result.returncode == 1 and INJECT_DISABLED in output,
                    f"inject {' '.join(words)} without "
                    "--enable-fault-injection: exit 1, says how to enable it",
                    [result.describe()] + daemon.log_tail(5))
            listing = daemon.pvxl("list")
            self.tap.result(listing.returncode == 0 and
                            "noinject" in listing.stdout,
                            "the domain still runs after refused injections",
                            [listing.describe()])
        finally:
            status = daemon.terminate()
            daemon.kill_leftovers()
        self.tap.result(status == 0, "second pvtimed exits 0 on SIGTERM",
                        daemon.log_tail(10))

    def test_non_root(self):
        # Make the socket reachable so the refusal comes from the daemon's
        # peer-credential check, not from file permissions.
        for path in (self.daemon.workdir, self.daemon.socket):
            os.chmod(path, 0o777 if path == self.daemon.socket else 0o755)
        self.expect_exit("request from uid 65534 is refused", 1, "list",
                         must_contain=["permission denied"], user=NOBODY)

    def raw_request(self, payload, shutdown=True):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(self.daemon.socket)
            if payload:
                sock.sendall(payload)
            if shutdown:
                sock.shutdown(socket.SHUT_WR)
            reply = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return reply
                reply += chunk

    def test_raw_garbage(self):
        cases = [
            ("valid raw request (control)", b"text list\n", b"ok\n"),
            ("binary junk", b"\x00\xff\xfe garbage \x01\n", b"error "),
            ("unknown command", b"text frobnicate\n", b"error "),
            ("unknown format", b"xml list\n", b"error "),
            ("malformed escape", b"text info %zz\n", b"error "),
            ("escaped NUL", b"text info a%00b\n", b"error "),
            ("too many arguments", b"text list" + b" x" * 20 + b"\n",
             b"error "),
            ("empty line", b"\n", b"error "),
            ("line longer than the limit", b"text " + b"a" * 5000 + b"\n",
             b"error "),
            ("request without newline", b"text list", None),
            ("connection closed at once", b"", None),
        ]
        for name, payload, want in cases:
            try:
                reply = self.raw_request(payload)
                error = None
            except OSError as err:
                reply, error = b"", str(err)
            problems = []
            if error:
                problems.append(f"socket error: {error}")
            elif want is not None and not reply.startswith(want):
                problems.append(f"reply {reply[:80]!r}, want {want!r}...")
            serving, listing = self.still_serving()
            if not serving:
                problems.append("daemon no longer answers `pvxl list`: "
                                + listing.describe())
            self.tap.result(not problems, f"raw socket: {name}",
                            problems + ["pvtimed.log: " + line for line in
                                        tail_file(self.daemon.log_path, 10)])

    def run(self):
        print("TAP version 13")
        self.test_host_info()
        self.test_usage()
        self.test_malformed_configs()
        self.test_bad_config_files()
        self.test_unknown_domain()
        self.test_bad_times()
        self.test_raw_garbage()
        self.test_non_root()
        self.test_duplicate_create()
        self.test_inject_disabled(self.args)
        print(f"1..{self.tap.count}")
        return 1 if self.tap.failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--ramdisk", required=True)
    return ControlTests(parser.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
