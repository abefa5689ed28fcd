# SPDX-License-Identifier: GPL-2.0
"""Phase 3h of make check: pvxl migrate (run_check.py --only migrate).

A second pvtimed (its own control socket and state dir) beside the main
one, and one guest (pvtest=migrate) booted once for all cases:

* it loads every vCPU and asks `PVTIME-HOST-REQUEST migrate`: the runner
  first tries the refusals that must leave it untouched (an unknown
  domain, a DEST that does not exist, is not a socket, is this pvtimed,
  is not a pvtimed, is a pvtimed without migration, a newer protocol
  version, a domain of that name already at DEST, a paused domain,
  usage), then `pvxl migrate` to the second pvtimed, checks `pvxl list`
  on both sides, and follows the guest's console there.  The guest
  measures its REALTIME and CLOCK_MONOTONIC_RAW against the hyp's
  through the mailbox across the move (pvtime-timekeep migrate): within
  1 ms within 3 s, REALTIME within 50 us within 5 s more, CLOCK_MONOTONIC
  never back.
* it asks `migrate-fail kill`: `pvxl migrate` back to the main pvtimed,
  whose incoming QEMU the runner stops (SIGSTOP) as soon as that pvtimed
  has it waiting, then kills (SIGKILL) half a second later: the stream
  breaks midway.  Then `migrate-fail handover`: that QEMU is held the
  same way while the runner puts a directory where the source writes its
  hand-over header, then let go: the stream completes, the source
  (its guest stopped, QEMU in postmigrate) cannot hand over and must
  continue its guest.  Each time the guest must run on at the second
  pvtimed with its time intact (pvtime-timekeep migrate-fail), the main
  pvtimed must list nothing and keep no QEMU, socket or state for it.
"""

import os
import re
import signal
import socket
import threading
import time

from pvtime_host import (Daemon, LogFollower, config_copy, control_request,
                         log, processes_mentioning)

MIGRATE_TIMEOUT = 150   # s, the whole guest
NAME = "pvtime-migrate"


class FakePeer:
    """A Unix socket that answers one request line with a canned reply,
    standing in for a DEST that is not a pvtimed or an older one."""

    def __init__(self, path, reply):
        self.path = path
        self.reply = reply
        self.request = None
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(10)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.request = data.decode("utf-8", "replace").strip()
                conn.sendall(self.reply)
            except OSError:
                pass

    def close(self):
        self.thread.join(timeout=5)
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def listed(daemon, name):
    """The domain's state in `pvxl list` ('' if absent, None if no answer)."""
    result = daemon.pvxl("list", "--json")
    try:
        for dom in result.json().get("domains", []):
            if dom.get("name") == name:
                return dom.get("state")
    except (ValueError, AttributeError):
        return None
    return ""


def qemu_left(daemon, name):
    """Processes still naming this daemon's state dir files of name."""
    return [pid for pid in processes_mentioning(
        os.path.join(daemon.state_dir, name + "."))]


def make_run_class(GuestRun):
    class MigrateRun(GuestRun):
        """GuestRun answering migrate and migrate-fail requests."""

        other = None        # the second pvtimed
        refusals_too = True  # make bench moves the guest without them
        workdir = None
        cfg = None
        figures = None

        def host_request(self, words):
            if words == ["migrate"]:
                self.migrate()
                return
            if words[:1] == ["migrate-fail"] and len(words) == 2 and \
                    words[1] in ("kill", "handover"):
                self.migrate_fail(words[1])
                return
            super().host_request(words)

        def switch_to(self, daemon):
            """The guest's console is at daemon's now: follow it there."""
            old = self.console
            self.other, self.daemon = self.daemon, daemon
            self.console_path = daemon.domain_log(self.domain)
            self.console = LogFollower(self.console_path)
            # What the guest printed before the move (a request among it
            # is answered by the new daemon).
            for line in old.lines():
                self.handle(line)
            old.close()

        def refused(self, what, result, want_rc, words, src, dst):
            text = (result.stderr + result.stdout).strip()
            lines = [line for line in text.splitlines()
                     if not line.startswith("pvxl: migrate: moving ")]
            ok = (result.returncode == want_rc and
                  all(w in text for w in words) and
                  (want_rc != 1 or len(lines) == 1))
            where = (listed(src, self.domain), listed(dst, self.domain))
            self.results.own(ok and where[0] == "running", self.suite,
                             f"{what}: refused (exit {result.returncode}, "
                             f"'{lines[0] if lines else ''}'), the guest "
                             f"runs on here", [result.describe(),
                                               f"listed: {where}"])

        def refusals(self, src, dst):
            name = self.domain
            run = src.pvxl
            self.refused("an unknown domain",
                         run("migrate", "no-such-domain", dst.socket), 1,
                         ["no such domain 'no-such-domain'"], src, dst)
            missing = os.path.join(self.workdir, "no-such-dir", "x.sock")
            self.refused("a DEST that does not exist",
                         run("migrate", name, missing), 1,
                         ["cannot use destination", "No such file"], src, dst)
            self.refused("a DEST that is not a socket",
                         run("migrate", name, self.cfg), 1,
                         ["is not a socket"], src, dst)
            self.refused("DEST this very pvtimed",
                         run("migrate", name, src.socket, timeout=20), 1,
                         ["this pvtimed's own control socket"], src, dst)
            self.refused("usage: no DEST", run("migrate", name), 2,
                         ["usage"], src, dst)
            self.refused("usage: --live and --stopped",
                         run("migrate", "--live", "--stopped", name,
                             dst.socket), 2,
                         ["--live and --stopped exclude each other"], src,
                         dst)
            answer = control_request(
                src.socket,
                f"text migrate {name} {dst.socket} sideways\n".encode()
            ).strip()
            self.results.own(
                answer == "error 2 migration mode 'sideways' is not auto, "
                "live or stopped" and listed(src, name) == "running",
                self.suite, f"a migration mode that does not exist: refused "
                f"('{answer}'), the guest runs on here")
            fakes = (("DEST not a pvtimed", b"hello\n",
                      ["does not answer as a pvtimed"]),
                     ("DEST a pvtimed without migration",
                      b"error 2 unknown command 'migrate-prepare'\n",
                      ["cannot receive migrations"]))
            for what, reply, words in fakes:
                path = os.path.join(self.workdir, "fake-peer.sock")
                fake = FakePeer(path, reply)
                result = run("migrate", name, path, timeout=30)
                fake.close()
                self.refused(what, result, 1, words, src, dst)
                self.results.own((fake.request or "").startswith(
                    "text migrate-prepare 1 /"), self.suite,
                    f"{what}: the source sent migrate-prepare, protocol 1",
                    [f"request: {fake.request!r}"])
            # Straight to the destination: a newer source (version 2), a
            # header that is not there, a hand-over or an abort of a
            # migration it does not have.
            for request, want in (
                    (b"text migrate-prepare 2 /nonexistent\n",
                     "error 1 migration protocol version '2' is not spoken "
                     "here (this pvtimed speaks 1)"),
                    (b"text migrate-prepare 1 /nonexistent/x.migrate\n",
                     "error 1 /nonexistent/x.migrate: No such file"),
                    (f"text migrate-prepare 1 {self.cfg}\n".encode(),
                     f"error 1 {self.cfg}: not a pvtime save file (bad magic)"),
                    (b"text migrate-finish 1 nosuch /nonexistent\n",
                     "error 1 no incoming migration of domain 'nosuch'"),
                    (b"text migrate-abort 1 nosuch\n",
                     "error 1 no incoming migration of domain 'nosuch'")):
                answer = control_request(dst.socket, request).strip()
                self.results.own(answer.startswith(want), self.suite,
                                 f"the destination refuses "
                                 f"'{request.decode().strip()}' ('{answer}')")
            # A domain of that name at DEST (QEMU held at -S: no guest runs).
            held = os.path.join(self.workdir, "migrate-held.cfg")
            config_copy(self.cfg, held, name=name,
                        set_keys={"device_model_args": '["-S"]'})
            created = dst.pvxl("create", held, timeout=60)
            if self.results.own(created.returncode == 0, self.suite,
                                f"a domain '{name}' at DEST (held at -S)",
                                [created.describe()]):
                self.refused("a name already taken at DEST",
                             run("migrate", name, dst.socket, timeout=60), 1,
                             [f"domain '{name}' already exists"], src, dst)
                # A QEMU just started may take its time to answer QMP.
                for _ in range(10):
                    paused = dst.pvxl("pause", name)
                    if paused.returncode == 0:
                        break
                    time.sleep(0.5)
                result = dst.pvxl("migrate", name, src.socket)
                text = (result.stderr + result.stdout).strip()
                self.results.own(paused.returncode == 0 and
                                 result.returncode == 1 and
                                 f"domain '{name}' is paused" in text,
                                 self.suite, f"a paused domain: refused "
                                 f"('{text.splitlines()[-1] if text else ''}')",
                                 [paused.describe(), result.describe()])
                dst.pvxl("destroy", name, timeout=30)
            self.results.own(listed(dst, name) == "" and
                             not qemu_left(dst, name), self.suite,
                             "after the refusals DEST has no domain and no "
                             "QEMU of that name",
                             [f"left: {qemu_left(dst, name)}"])

        def migrate(self):
            src, dst = self.daemon, self.other
            started = time.monotonic()
            if dst is None:
                log("PVTIME-HOST-DONE 1")
                self.results.own(False, self.suite,
                                 "host: a second pvtimed to migrate to")
                return
            if self.refusals_too:
                self.refusals(src, dst)
            t0 = time.monotonic()
            result = src.pvxl("migrate", "--json", self.domain, dst.socket,
                              timeout=120)
            t1 = time.monotonic()
            log(f"  {self.suite}: refusals took {t0 - started:.1f} s; host "
                f"runs `pvxl migrate {self.domain} {dst.socket}` "
                f"({(t1 - t0) * 1000:.0f} ms)")
            log(f"PVTIME-HOST-DONE {result.returncode}")
            if not self.results.own(result.returncode == 0, self.suite,
                                    "host: pvxl migrate to the second "
                                    "pvtimed", [result.describe()] +
                                    src.log_tail(10) + dst.log_tail(10)):
                return
            try:
                reply = result.json()
            except ValueError:
                reply = {}
            self.figures.update({
                "migrate_downtime_ms": (reply.get("downtime_ns") or 0) / 1e6,
                "migrate_live_ms": (reply.get("live_ns") or 0) / 1e6,
                "migrate_total_ms": (reply.get("elapsed_ns") or 0) / 1e6,
                "migrate_pvxl_ms": (t1 - t0) * 1000,
            })
            # A tcg guest goes stopped by default: TCG loses guest writes
            # made during a live migration (Documentation/pvtimed.rst).
            self.results.own(reply.get("mode") == "stopped" and
                             reply.get("live_ns") == 0, self.suite,
                             f"a tcg domain migrates stopped by default "
                             f"(mode {reply.get('mode')!r}, live_ns "
                             f"{reply.get('live_ns')!r})", [result.describe()])
            here, there = listed(src, self.domain), listed(dst, self.domain)
            self.results.own(here == "" and there == "running" and
                             reply.get("state") == "running", self.suite,
                             f"pvxl list: gone from the source, running at "
                             f"the destination ({here!r}, {there!r})",
                             [result.describe()])
            self.results.own(not qemu_left(src, self.domain), self.suite,
                             "the source's QEMU ended",
                             [f"left: {qemu_left(src, self.domain)}"])
            self.switch_to(dst)
            self.check_resume_correction("step", limit_ms=2000)

        def migrate_fail(self, kind):
            """kill: the destination's incoming QEMU stopped, then killed,
            mid-stream.  handover: the stream held (that QEMU stopped)
            while the runner puts a directory where the source writes the
            hand-over header, then let go: the stream completes, the
            hand-over cannot be written, and the source must continue its
            stopped guest (QMP cont from postmigrate)."""
            src, dst = self.daemon, self.other
            name = self.domain
            header = os.path.join(src.state_dir, f"{name}.migrate")
            if dst is None:
                log("PVTIME-HOST-DONE 1")
                self.results.own(False, self.suite,
                                 "host: a pvtimed to fail a migration to")
                return
            size = os.path.getsize(dst.log_path)
            argv = ["migrate", "--json", name, dst.socket]
            t0 = time.monotonic()
            proc_result = {}

            def run():
                proc_result["r"] = src.pvxl(*argv, timeout=120)

            worker = threading.Thread(target=run)
            worker.start()
            pid, stopped_at = None, None
            pattern = re.compile(rf"domain {re.escape(name)}: incoming "
                                 r"migration as domid \d+: QEMU pid (\d+)")
            while worker.is_alive() and time.monotonic() - t0 < 60:
                with open(dst.log_path, "rb") as f:
                    f.seek(size)
                    found = pattern.search(f.read().decode("utf-8", "replace"))
                if found:
                    pid = int(found.group(1))
                    os.kill(pid, signal.SIGSTOP)
                    stopped_at = time.monotonic() - t0
                    if kind == "kill":
                        time.sleep(0.5)
                        os.kill(pid, signal.SIGKILL)
                    else:
                        try:
                            os.unlink(header)
                        except FileNotFoundError:
                            pass
                        os.mkdir(header)
                        time.sleep(0.2)
                        os.kill(pid, signal.SIGCONT)
                    break
                time.sleep(0.01)
            worker.join(timeout=120)
            t1 = time.monotonic()
            result = proc_result.get("r")
            if os.path.isdir(header):
                os.rmdir(header)
            what = ("the destination's QEMU stopped and killed" if
                    kind == "kill" else "the destination's QEMU held, the "
                    "hand-over header made unwritable")
            log(f"  {self.suite}: host runs `pvxl migrate {name} "
                f"{dst.socket}`, {what} (pid {pid}, "
                f"{stopped_at if stopped_at is None else round(stopped_at * 1000)} "
                f"ms in; {(t1 - t0) * 1000:.0f} ms)")
            log(f"PVTIME-HOST-DONE {result.returncode if result else -1}")
            text = (result.stderr + result.stdout).strip() if result else ""
            self.figures[f"migrate_fail_{kind}_ms"] = (t1 - t0) * 1000
            words = ([f"QEMU's migration failed", f"domain '{name}' runs on here"]
                     if kind == "kill" else
                     [f"did not take domain '{name}' over", "runs on here"])
            self.results.own(pid is not None and result is not None and
                             result.returncode == 1 and
                             all(w in text for w in words),
                             self.suite, f"a migration failed midway ({what}):"
                             f" pvxl says the guest runs on "
                             f"('{text.splitlines()[-1] if text else ''}')",
                             [result.describe() if result else "no result"] +
                             src.log_tail(8) + dst.log_tail(8))
            here, there = listed(src, name), listed(dst, name)
            deadline = time.monotonic() + 5
            while qemu_left(dst, name) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.results.own(here == "running" and there == "", self.suite,
                             f"pvxl list after the failure: running at the "
                             f"source, absent at the destination ({here!r}, "
                             f"{there!r})")
            leftovers = [f for f in (f"{name}.incoming", f"{name}.qmp",
                                     f"{name}.state")
                         if os.path.exists(os.path.join(dst.state_dir, f))]
            self.results.own(not qemu_left(dst, name) and not leftovers,
                             self.suite, "no QEMU and no sockets or state of "
                             "it left at the destination",
                             [f"left: {qemu_left(dst, name)} {leftovers}"])
    return MigrateRun


def phase_migrate(results, args, daemon, workdir, GuestRun):
    log("== phase 3h: pvxl migrate between two pvtimeds under a loaded guest")
    suite = "migrate"
    started = time.monotonic()
    other_dir = os.path.join(workdir, "migrate-dest")
    os.makedirs(other_dir, exist_ok=True)
    other = Daemon(args.build, other_dir, fault_injection=True)
    try:
        other.start()
    except (OSError, RuntimeError) as err:
        results.own(False, suite, f"a second pvtimed starts: {err}",
                    other.log_tail(15))
        return
    try:
        guest = os.path.join(args.build, "guest")
        cfg = os.path.join(guest, "check-migrate.cfg")
        config_copy(os.path.join(guest, "test.cfg"), cfg, name=NAME,
                    pvtest="migrate")
        created = daemon.pvxl("create", cfg, timeout=120)
        if not results.own(created.returncode == 0, suite, f"pvxl create {cfg}",
                           [created.describe()] + daemon.log_tail(15)):
            return
        run = make_run_class(GuestRun)(results, suite, "migrate",
                                       daemon.domain_log(NAME), daemon, NAME)
        run.other = other
        run.workdir = workdir
        run.cfg = cfg
        run.figures = {}
        run.follow(MIGRATE_TIMEOUT,
                   lambda: not daemon.alive() or not other.alive())
        run.verdict(f"within {MIGRATE_TIMEOUT} s")
        for key, value in run.figures.items():
            results.reports.append((suite, key, f"{value:.0f}"))
        for d in (daemon, other):
            deadline = time.monotonic() + 15
            while listed(d, NAME) == "running" and time.monotonic() < deadline:
                time.sleep(0.3)
            if listed(d, NAME):
                d.pvxl("destroy", NAME, timeout=60)
        results.own(daemon.alive() and other.alive(), suite,
                    "both pvtimeds still serve",
                    daemon.log_tail(10) + other.log_tail(10))
    finally:
        other.terminate()
        other.kill_leftovers()
        duration = time.monotonic() - started
        results.reports.append((suite, "phase_seconds", f"{duration:.1f}"))
        log(f"  {suite}: phase took {duration:.1f} s")
