#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""pvtimed's state directory is root's alone.  Starts a pvtimed of its own
(its control socket inside the state directory, as by default, and that
directory pre-created 0755 for pvtimed to narrow) with one domain, then:

  * every entry under the state directory has no group or other permission
    bits, and the directory itself is 0700;
  * as nobody (setpriv), reading, writing and listing every entry and
    connecting to every socket is refused: first as they are, then with
    the directories above made traversable, so each file's own mode is
    what refuses;
  * a state directory owned by another user is refused at start-up.

Must run as root (setpriv); prints TAP.

    test_permissions.py --build DIR --workdir DIR --kernel VMLINUZ --ramdisk CPIO
"""

import json
import os
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from pvtime_host import Daemon, Tap  # noqa: E402
from test_control import base_config, integration_args  # noqa: E402

DOMAIN = "permtest"
# What a running domain leaves in the state directory, besides control.sock.
DOMAIN_SUFFIXES = (".ivshmem", ".console", ".log", ".qmp", ".qemu.log")

# Run as nobody: try every access to every entry, report what happened.
PROBE = r"""
import errno, json, os, socket, sys

def attempt(action):
    try:
        action()
        return "allowed"
    except OSError as err:
        return errno.errorcode.get(err.errno, str(err.errno))

def read_file(path):
    with open(path, "rb") as f:
        f.read(1)

def write_file(path):
    with open(path, "ab") as f:
        f.write(b"")

def create_in(path):
    with open(os.path.join(path, ".nobody-probe"), "xb"):
        pass

def connect(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)

report = {}
for path, kind in json.loads(sys.argv[1]):
    if kind == "dir":
        tries = {"list": lambda: os.listdir(path),
                 "create in": lambda: create_in(path)}
    elif kind == "socket":
        tries = {"connect": lambda: connect(path)}
    else:
        tries = {"read": lambda: read_file(path),
                 "write": lambda: write_file(path)}
    report[path] = {name: attempt(action) for name, action in tries.items()}
print(json.dumps(report))
"""


def kind_of(mode):
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "file"


class PermissionTests:
    def __init__(self, args):
        self.args = args
        self.tap = Tap()
        workdir = os.path.join(args.workdir, "permissions")
        os.makedirs(workdir, exist_ok=True)
        self.daemon = Daemon(args.build, workdir)
        # As by default (/run/pvtimed/control.sock): inside the state dir.
        self.daemon.socket = os.path.join(self.daemon.state_dir,
                                          "control.sock")
        self.cfg_path = os.path.join(workdir, f"{DOMAIN}.cfg")

    def entries(self):
        """The state dir and everything under it: [(path, kind, mode, uid)]."""
        found = []
        for root, dirs, files in os.walk(self.daemon.state_dir):
            for path in [root] + [os.path.join(root, n) for n in files]:
                st = os.lstat(path)
                found.append((path, kind_of(st.st_mode),
                              stat.S_IMODE(st.st_mode), st.st_uid))
            dirs.sort()
        return found

    def wait_for_domain_files(self, timeout=60):
        wanted = [os.path.join(self.daemon.state_dir, DOMAIN + suffix)
                  for suffix in DOMAIN_SUFFIXES]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            missing = [p for p in wanted if not os.path.exists(p)]
            if not missing:
                return []
            time.sleep(0.2)
        return missing

    def test_modes(self, entries):
        for path, kind, mode, uid in entries:
            name = os.path.relpath(path, self.daemon.workdir)
            if path == self.daemon.state_dir:
                passed = mode == 0o700
                want = "0700"
            else:
                passed = mode & 0o077 == 0
                want = "no group/other bits"
            self.tap.result(passed and uid == 0,
                            f"{name} ({kind}) is mode {mode:04o} uid {uid} "
                            f"(want {want}, uid 0)")

    def probe_as_nobody(self, entries, when):
        listing = json.dumps([(path, kind) for path, kind, _, _ in entries])
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup",
                "--clear-groups", sys.executable, "-c", PROBE, listing]
        proc = subprocess.run(argv, capture_output=True, timeout=60,
                              check=False, cwd="/")
        try:
            report = json.loads(proc.stdout)
        except ValueError:
            self.tap.result(False, f"nobody's probe ran ({when})",
                            [proc.stdout.decode(), proc.stderr.decode()])
            return
        for path, kind, _, _ in entries:
            attempts = report.get(path, {})
            allowed = [a for a, outcome in attempts.items()
                       if outcome == "allowed"]
            name = os.path.relpath(path, self.daemon.workdir)
            self.tap.result(attempts and not allowed,
                            f"nobody is refused every access to {name} "
                            f"({kind}, {when}): "
                            + ", ".join(f"{a} {o}"
                                        for a, o in sorted(attempts.items())))

    def probe_with_traversable_parents(self, entries):
        """chmod o+x the state dir and every directory above it, probe,
        restore: then only each entry's own mode stands in the way."""
        changed = []
        path = self.daemon.state_dir
        try:
            while True:
                mode = stat.S_IMODE(os.stat(path).st_mode)
                if not mode & 0o001:
                    os.chmod(path, mode | 0o001)
                    changed.append((path, mode))
                if path == "/":
                    break
                path = os.path.dirname(path)
            self.probe_as_nobody(entries, "directories above traversable")
        finally:
            for path, mode in reversed(changed):
                os.chmod(path, mode)

    def test_foreign_state_dir(self):
        workdir = os.path.join(self.args.workdir, "permissions-foreign")
        state_dir = os.path.join(workdir, "state")
        os.makedirs(state_dir, exist_ok=True)
        os.chmod(state_dir, 0o755)
        os.chown(state_dir, 65534, 65534)
        argv = [os.path.join(self.args.build, "pvtimed"), "--log", "stderr",
                "--state-dir", state_dir,
                "--socket", os.path.join(workdir, "control.sock")]
        proc = subprocess.run(argv, capture_output=True, timeout=30,
                              check=False, stdin=subprocess.DEVNULL)
        stderr = proc.stderr.decode("utf-8", "replace")
        self.tap.result(proc.returncode != 0 and "belongs to uid 65534" in
                        stderr and
                        stat.S_IMODE(os.stat(state_dir).st_mode) == 0o755,
                        "a state dir owned by nobody is refused at start-up, "
                        f"untouched (exit {proc.returncode})",
                        stderr.splitlines()[-5:])

    def run(self):
        print("TAP version 13")
        if os.geteuid() != 0:
            print("1..0 # SKIP needs root (setpriv to nobody)")
            return 0
        self.test_foreign_state_dir()
        # Pre-created wide open, as a careless admin or an old pvtimed left it.
        os.makedirs(self.daemon.state_dir, exist_ok=True)
        os.chmod(self.daemon.state_dir, 0o755)
        try:
            self.daemon.start()
        except (OSError, RuntimeError) as err:
            self.tap.result(False, "pvtimed starts",
                            [str(err)] + self.daemon.log_tail(10))
            print(f"1..{self.tap.count}")
            return 1
        try:
            self.run_with_daemon()
        finally:
            self.daemon.pvxl("destroy", DOMAIN, timeout=60)
            status = self.daemon.terminate()
            self.daemon.kill_leftovers()
        self.tap.result(status == 0, "pvtimed exits 0 on SIGTERM",
                        self.daemon.log_tail(10))
        print(f"1..{self.tap.count}")
        return 1 if self.tap.failed else 0

    def run_with_daemon(self):
        lines = base_config(self.args.kernel,
                            os.path.abspath(self.args.ramdisk))
        lines[0] = f'name = "{DOMAIN}"'
        with open(self.cfg_path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        created = self.daemon.pvxl("create", self.cfg_path, timeout=60)
        if not self.tap.result(created.returncode == 0, "create a domain",
                               [created.describe()] +
                               self.daemon.log_tail(10)):
            return
        missing = self.wait_for_domain_files()
        self.tap.result(not missing, "the domain's sockets and logs exist",
                        [f"missing: {p}" for p in missing])
        entries = self.entries()
        for path, kind, mode, _ in entries:
            self.tap.diag(f"{mode:04o} {kind:6} {path}")
        self.test_modes(entries)
        self.probe_as_nobody(entries, "as they are")
        self.probe_with_traversable_parents(entries)


def main():
    return PermissionTests(integration_args(__doc__)).run()


if __name__ == "__main__":
    sys.exit(main())
