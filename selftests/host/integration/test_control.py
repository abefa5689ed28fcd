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
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", ".."))
from pvtime_host import (SCHED_FIFO_PRIO, Daemon, Tap, find_key,  # noqa: E402
                         tail_file)

INJECT_DISABLED = ("fault injection is disabled "
                   "(start pvtimed with --enable-fault-injection)")

NOBODY = 65534


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, TypeError, OverflowError):
        return False
    return pid > 0


def start_ticks(pid):
    """/proc/PID/stat field 22, as pvtimed keeps it (0 if the pid is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return 0
    return int(text[text.rindex(")") + 2:].split()[19])


def state_text(pid, ticks, config_path):
    """A well-formed state file (format 1) for a made-up domain."""
    fields = {"domid": 90, "qemu_pid": pid, "qemu_start_ticks": ticks,
              "memfd_ino": 1}
    for kind in ("host", "guest"):
        for vector in range(3):
            fields[f"{kind}_eventfd_id.{vector}"] = 1 + vector
    fields.update({"pause_stop_tsc": 0, "pauses": 0, "paused_total_ns": 0,
                   "tsc_hz": 2000000000, "freq_ppm": 0,
                   "ref.anchor_tsc": 0, "ref.system_ns": 0,
                   "ref.mul": 2147483648, "ref.shift": 0,
                   "fn.anchor_tsc": 0, "fn.system_ns": 0,
                   "fn.mul": 2147483648, "fn.shift": 0, "lag_ns": 0,
                   "slew_ppm": 0, "slew_end_tsc": 0, "wall_offset_ns": 0,
                   "paused": 0, "offset_rtt_cycles": 0, "periodic": 0,
                   "offset_moves": 0, "forward_steps": 0,
                   "forward_step_ns_total": 0, "slews": 0,
                   "kept_ns_total": 0})
    return ("pvtimed-domain-state 1\n" +
            "".join(f"{k} {v}\n" for k, v in fields.items()) +
            f"config_path {config_path}\n")


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
    ("stopped_time slew without a rate", 5, 'stopped_time = "slew"'),
    ("stopped_time slew rate 0", 5, 'stopped_time = "slew:0"'),
    ("stopped_time slew rate not decimal", 5, 'stopped_time = "slew:abc"'),
    ("stopped_time slew rate above 500000", 5,
     'stopped_time = "slew:500001"'),
    ("unknown stopped_time", 5, 'stopped_time = "skip"'),
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
    ["clock-status-off", "1"],
    ["clock-status-odd"],
    ["clock-status-odd", "0"],
    ["clock-status-odd", "5001"],
    ["jump"],
    ["jump", "0"],
    ["jump", "10001"],
]

# The duplicate-create domain's stopped-time policy, shown by `pvxl info`.
DUPTEST_STOPPED_TIME = "slew:1000"


class QmpClient:
    """Just enough QMP to ask QEMU itself what state it is in: connect,
    greeting, qmp_capabilities, one command, skipping events."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        greeting = self.read()
        if "QMP" not in greeting:
            raise RuntimeError(f"no QMP greeting: {greeting}")

    def read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("QEMU closed the QMP connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, command):
        self.sock.sendall(json.dumps({"execute": command}).encode() + b"\n")
        while True:
            reply = self.read()
            if "event" in reply:
                continue
            if "error" in reply:
                raise RuntimeError(f"QMP {command}: {reply['error']}")
            return reply["return"]

    def close(self):
        self.sock.close()


def qmp_status(path):
    """QEMU's own answer to query-status, e.g. 'paused' or 'running'."""
    try:
        client = QmpClient(path)
        try:
            client.execute("qmp_capabilities")
            return client.execute("query-status").get("status")
        finally:
            client.close()
    except (OSError, RuntimeError, ValueError) as err:
        return f"<query-status failed: {err}>"


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
        sched = find_key(result.json(), "sched") if passed else None
        self.tap.result(sched == f"fifo:{SCHED_FIFO_PRIO}",
                        f"host-info: pvtimed runs SCHED_FIFO {SCHED_FIFO_PRIO}"
                        f" (--sched-fifo; says {sched})", self.context(result))

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
                     ["info", "4242"], ["pause", "no-such-dom"],
                     ["unpause", "no-such-dom"], ["pause", "4242"]):
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
        self.expect_exit("pvxl pause without a domain", 2, "pause")
        self.expect_exit("pvxl unpause with three arguments", 2, "unpause",
                         "a", "step", "b")

    def test_duplicate_create(self):
        # No pvtest= on the command line: the guest sits in a shell, so the
        # domain stays up however long the test takes.
        lines = base_config(self.kernel, self.ramdisk)
        lines[0] = 'name = "duptest"'
        lines.append(f'stopped_time = "{DUPTEST_STOPPED_TIME}"')
        path = self.write_config("duptest.cfg", lines)
        first = self.daemon.pvxl("create", path, timeout=60)
        if not self.tap.result(first.returncode == 0,
                               "create a domain from a valid config",
                               self.context(first)):
            return
        try:
            self.expect_exit("second create with the same name", 1,
                             "create", path, must_contain=["duptest"])
            self.test_qemu_sched("duptest")
            self.test_inject_on(self.daemon, "duptest")
            listing = self.daemon.pvxl("list")
            self.tap.result(listing.stdout.count("duptest") == 1,
                            "the domain is listed exactly once",
                            self.context(listing))
            self.test_pause_on("duptest")
            # Left paused: destroy below must still work.
            self.expect_exit("pause again, to destroy a paused domain", 0,
                             "pause", "duptest", must_contain=["paused"])
        finally:
            gone = self.daemon.pvxl("destroy", "duptest", timeout=60)
        self.tap.result(gone.returncode == 0, "destroy the domain",
                        self.context(gone))
        listing = self.daemon.pvxl("list")
        self.tap.result(listing.returncode == 0 and
                        "duptest" not in listing.stdout,
                        "a destroyed domain is no longer listed",
                        self.context(listing))

    def test_qemu_sched(self, domain):
        """--sched-fifo: QEMU's main loop one below pvtimed, and every other
        QEMU thread (the vCPU that runs guest code) SCHED_OTHER."""
        result, info = self.info_json(domain)
        pid = info.get("qemu_pid", 0)
        # A QEMU just created may not have started its vCPU thread yet.
        deadline = time.monotonic() + 20
        while True:
            policies = self.thread_policies(pid)
            if len(policies) > 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        fifo, other = 1, 0
        main_ok = policies.get(pid) == (fifo, SCHED_FIFO_PRIO - 1)
        rest_ok = len(policies) > 1 and all(
            policy == (other, 0) for tid, policy in policies.items()
            if tid != pid)
        self.tap.result(
            info.get("qemu_main_loop_sched") == f"fifo:{SCHED_FIFO_PRIO - 1}"
            and main_ok and rest_ok,
            f"QEMU's main loop at SCHED_FIFO {SCHED_FIFO_PRIO - 1}, its other "
            f"{len(policies) - 1} threads SCHED_OTHER",
            [f"info: {info.get('qemu_main_loop_sched')}; /proc (policy, "
             f"prio) by tid: {policies}"] + self.context(result))

    def thread_policies(self, pid):
        """{tid: (policy, rt_priority)} of a process's threads."""
        policies = {}
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                # stat fields 40 (rt_priority) and 41 (policy), 1-based.
                policies[int(tid)] = (int(fields[38]), int(fields[37]))
        except (OSError, ValueError, IndexError) as err:
            self.tap.diag(f"cannot read the threads of {pid}: {err}")
        return policies

    def info_json(self, domain):
        result = self.daemon.pvxl("info", "--json", domain)
        try:
            return result, result.json()
        except ValueError:
            return result, {}

    def listed_state(self, domain):
        listing = self.daemon.pvxl("list", "--json")
        try:
            for row in listing.json()["domains"]:
                if row["name"] == domain:
                    return row["state"]
        except (ValueError, KeyError):
            pass
        return None

    def check_state(self, domain, want, qemu_want, when):
        """list, info and QEMU's own query-status agree on the state."""
        result, info = self.info_json(domain)
        listed = self.listed_state(domain)
        qemu = qmp_status(os.path.join(self.daemon.state_dir,
                                       f"{domain}.qmp"))
        self.tap.result(
            listed == want and info.get("state") == want and qemu == qemu_want,
            f"{when}: list and info say {want}, QEMU query-status says "
            f"{qemu_want}", [f"list: {listed}, info: {info.get('state')}, "
                             f"query-status: {qemu}"] + self.context(result))
        return info

    def test_pause_on(self, domain):
        """pause/unpause of a real QEMU domain, checked against QEMU."""
        self.expect_exit("unpause of a domain that is not paused", 1,
                         "unpause", domain, must_contain=["is not paused"])
        info = self.check_state(domain, "running", "running", "before pause")
        self.tap.result(info.get("pauses") == 0 and
                        info.get("paused_total_ns") == 0 and
                        info.get("stopped_time") == DUPTEST_STOPPED_TIME,
                        "info before any pause: pauses 0, paused_total_ns 0, "
                        f"stopped_time {DUPTEST_STOPPED_TIME}",
                        [json.dumps({k: info.get(k) for k in (
                            "pauses", "paused_total_ns", "stopped_time")})])

        paused = self.daemon.pvxl("pause", "--json", domain)
        try:
            body = paused.json()
        except ValueError:
            body = {}
        self.tap.result(paused.returncode == 0 and
                        body.get("state") == "paused" and
                        isinstance(body.get("qmp_round_trip_ns"), int),
                        "pause --json: state paused, QMP round trip shown",
                        self.context(paused))
        self.check_state(domain, "paused", "paused", "after pause")
        self.expect_exit("pause of a domain already paused", 1, "pause",
                         domain, must_contain=["already paused"])
        # set-wallclock still works on a paused domain (QEMU keeps running).
        self.expect_exit("set-wallclock on a paused domain", 0,
                         "set-wallclock", domain, "now")

        time.sleep(0.5)
        resumed = self.daemon.pvxl("unpause", domain)
        self.tap.result(resumed.returncode == 0 and
                        "state: running" in resumed.stdout and
                        f"stopped_time: {DUPTEST_STOPPED_TIME}" in
                        resumed.stdout, "unpause: state running, policy "
                        "shown", self.context(resumed))
        info = self.check_state(domain, "running", "running", "after unpause")
        total = info.get("paused_total_ns") or 0
        self.tap.result(info.get("pauses") == 1 and
                        500_000_000 <= total < 60_000_000_000,
                        "info after unpause: pauses 1, paused_total_ns "
                        f"covers the 0.5 s slept ({total} ns)",
                        self.context(resumed))

        # QEMU's monitor serves one client: while we hold it, pvtimed's
        # QMP exchange times out; the command fails cleanly and the domain
        # is left as it was.
        try:
            holder = QmpClient(os.path.join(self.daemon.state_dir,
                                            f"{domain}.qmp"))
        except (OSError, RuntimeError, ValueError) as err:
            self.tap.result(False, "hold the QMP socket", [str(err)])
            return
        try:
            started = time.monotonic()
            self.expect_exit("pause while another client holds QMP fails "
                             "with a QMP error", 1, "pause", domain,
                             must_contain=["QMP stop", "timed out"])
            took = time.monotonic() - started
        finally:
            holder.close()
        self.tap.result(took < 10, f"the QMP failure took {took:.1f} s "
                        "(bounded by pvtimed's QMP timeout)")
        self.check_state(domain, "running", "running",
                         "after the failed pause")

    def test_inject_on(self, daemon, domain):
        """Fault injection on a daemon started with it enabled."""
        for words in BAD_INJECTS:
            self.expect_exit(f"`pvxl inject {domain} {' '.join(words)}` is a "
                             "usage error", 2, "inject", domain, *words)
        self.expect_exit("inject on an unknown domain", 1,
                         "inject", "no-such-dom", "reanchor")
        for words in (["reanchor"], ["storm", "100", "200"], ["skew", "0"],
                      ["freq-step", "100"], ["guest-stopped"],
                      ["clock-status-off"], ["clock-status-odd", "100"],
                      ["clear"]):
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

    def wait_log(self, daemon, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(daemon.log_path, errors="replace") as log_file:
                if text in log_file.read():
                    return True
            time.sleep(0.1)
        return False

    def test_restart_adopts(self, args):
        """A guest outlives a SIGKILLed pvtimed; the next one adopts it, and
        a planned restart (SIGTERM) does the same; then destroy works."""
        workdir = os.path.join(args.workdir, "restart")
        os.makedirs(workdir, exist_ok=True)
        daemon = Daemon(args.build, workdir)
        try:
            daemon.start()
        except (OSError, RuntimeError) as err:
            self.tap.result(False, "restart: pvtimed starts",
                            [str(err)] + daemon.log_tail(10))
            return
        lines = base_config(self.kernel, self.ramdisk)
        lines[0] = 'name = "adoptme"'
        path = self.write_config("adoptme.cfg", lines)
        try:
            created = daemon.pvxl("create", path, timeout=60)
            if not self.tap.result(created.returncode == 0,
                                   "restart: create a domain",
                                   [created.describe()]):
                return
            qemu = self.info_json_on(daemon, "adoptme").get("qemu_pid", 0)
            state = os.path.join(daemon.state_dir, "adoptme.state")
            self.tap.result(os.path.exists(state) and
                            oct(os.stat(state).st_mode & 0o777) == "0o600",
                            "restart: the domain's state file exists, 0600")
            # Until QEMU connected, there is nothing to take back.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not \
                    self.info_json_on(daemon, "adoptme").get("ivshmem_connected"):
                time.sleep(0.2)
            for how in ("SIGKILL", "SIGTERM"):
                if how == "SIGKILL":
                    daemon.proc.kill()
                    daemon.proc.wait()
                    daemon.log_file.close()
                else:
                    daemon.terminate(keep_guests=True)
                alive = pid_alive(qemu)
                daemon.start()
                info = self.info_json_on(daemon, "adoptme")
                self.tap.result(alive and info.get("adopted") is True and
                                info.get("state") == "running" and
                                info.get("qemu_pid") == qemu and
                                info.get("ivshmem_connected") is True,
                                f"restart: QEMU survives pvtimed's {how}; "
                                "the next pvtimed adopts it",
                                [json.dumps(info)[:300]] + daemon.log_tail(8))
            shown = daemon.pvxl("set-wallclock", "adoptme", "+1h")
            self.tap.result(shown.returncode == 0,
                            "restart: set-wallclock on the adopted domain",
                            [shown.describe()])
            gone = daemon.pvxl("destroy", "adoptme", timeout=30)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and pid_alive(qemu):
                time.sleep(0.1)
            self.tap.result(gone.returncode == 0 and not pid_alive(qemu) and
                            not os.path.exists(state),
                            "restart: destroy stops the adopted QEMU and "
                            "removes its state", [gone.describe()])
        finally:
            daemon.terminate()
            daemon.kill_leftovers()

    def info_json_on(self, daemon, domain):
        result = daemon.pvxl("info", "--json", domain)
        try:
            return result.json()
        except ValueError:
            return {}

    def test_restart_bad_state(self, args):
        """Unusable state files at start-up: each logged with its reason,
        nothing killed, the daemon serves."""
        workdir = os.path.join(args.workdir, "badstate")
        state_dir = os.path.join(workdir, "state")
        os.makedirs(state_dir, exist_ok=True)
        lines = base_config(self.kernel, self.ramdisk)
        with open(os.path.join(state_dir, "junk.state"), "w") as f:
            f.write("hello world\n")
        dead = subprocess.Popen(["true"])
        dead.wait()
        impostor = subprocess.Popen(["sleep", "60"])
        for name, pid in (("gone", dead.pid), ("impostor", impostor.pid)):
            cfg = os.path.join(state_dir, f"{name}.cfg")
            lines[0] = f'name = "{name}"'
            with open(cfg, "w") as f:
                f.write("\n".join(lines) + "\n")
            with open(os.path.join(state_dir, f"{name}.state"), "w") as f:
                f.write(state_text(pid, start_ticks(pid) or 1, cfg))
        daemon = Daemon(args.build, workdir)
        try:
            daemon.start()
            listing = daemon.pvxl("list", "--json")
            self.tap.result(listing.returncode == 0 and
                            listing.json().get("domains") == [],
                            "bad state: pvtimed starts and serves, adopting none",
                            [listing.describe()] + daemon.log_tail(10))
            self.tap.result(self.wait_log(daemon, "junk.state:1: not a pvtimed "
                                          "domain state file") and
                            os.path.exists(os.path.join(state_dir, "junk.state")),
                            "bad state: a foreign file is named with file:line "
                            "and left in place", daemon.log_tail(10))
            self.tap.result(self.wait_log(daemon, "QEMU (pid %d) ended while no "
                                          "pvtimed ran" % dead.pid) and
                            not os.path.exists(os.path.join(state_dir,
                                                            "gone.state")),
                            "bad state: a domain whose QEMU is gone is "
                            "forgotten, and that is logged", daemon.log_tail(10))
            self.tap.result(self.wait_log(daemon, "domain impostor: cannot "
                                          "adopt") and
                            impostor.poll() is None and
                            os.path.exists(os.path.join(state_dir,
                                                        "impostor.state")),
                            "bad state: a live process without the domain's "
                            "fds is refused and left running",
                            daemon.log_tail(10))
        except (OSError, RuntimeError, ValueError) as err:
            self.tap.result(False, "bad state: pvtimed starts",
                            [str(err)] + daemon.log_tail(10))
        finally:
            daemon.terminate()
            impostor.kill()
            impostor.wait()

    def test_sd_notify(self, args):
        """Started by systemd (Type=notify): READY=1 on $NOTIFY_SOCKET once
        pvxl works, STOPPING=1 on SIGTERM; a path and an abstract name."""
        workdir = os.path.join(args.workdir, "notify")
        os.makedirs(workdir, exist_ok=True)
        for kind in ("path", "abstract"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            if kind == "path":
                address = os.path.join(workdir, "notify.sock")
                if os.path.exists(address):
                    os.unlink(address)
                sock.bind(address)
                env_value = address
            else:
                name = f"pvtime-notify-{os.getpid()}"
                sock.bind("\0" + name)
                env_value = "@" + name
            sock.settimeout(20)
            control = os.path.join(workdir, f"{kind}.sock")
            proc = subprocess.Popen(
                [os.path.join(args.build, "pvtimed"), "--socket", control,
                 "--state-dir", os.path.join(workdir, f"state-{kind}"),
                 "--calibrate-ms", "100"],
                env=dict(os.environ, NOTIFY_SOCKET=env_value),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            try:
                try:
                    ready = sock.recv(4096).decode()
                except socket.timeout:
                    ready = ""
                listing = subprocess.run(
                    [os.path.join(args.build, "pvxl"), "--socket", control,
                     "list"], capture_output=True, timeout=10)
                self.tap.result("READY=1" in ready.split("\n") and
                                listing.returncode == 0,
                                f"sd_notify ({kind} $NOTIFY_SOCKET): READY=1 "
                                "and pvxl answers at once",
                                [repr(ready), listing.stderr.decode()])
                proc.terminate()
                try:
                    stopping = sock.recv(4096).decode()
                except socket.timeout:
                    stopping = ""
                self.tap.result("STOPPING=1" in stopping.split("\n") and
                                proc.wait(timeout=20) == 0,
                                f"sd_notify ({kind}): STOPPING=1 on SIGTERM, "
                                "exit 0", [repr(stopping)])
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                sock.close()

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

    def test_host_clock_option(self, args):
        """--host-clock: a bad value is a usage error; ntp (the default)
        follows host CLOCK_MONOTONIC, raw does not (pvxl host-info)."""
        pvtimed = os.path.join(args.build, "pvtimed")
        workdir = os.path.join(args.workdir, "host-clock")
        os.makedirs(workdir, exist_ok=True)
        bad = subprocess.run([pvtimed, "--host-clock", "chrony"],
                             capture_output=True, text=True, timeout=10)
        self.tap.result(bad.returncode == 2 and "--host-clock" in bad.stderr,
                        "pvtimed --host-clock chrony: usage error naming the option",
                        [f"exit {bad.returncode}", bad.stderr.strip()])
        for mode, following in (([], True), (["--host-clock", "raw"], False),
                                (["--host-clock", "ntp"], True)):
            control = os.path.join(workdir, f"{len(mode)}{following}.sock")
            proc = subprocess.Popen(
                [pvtimed, "--socket", control, "--calibrate-ms", "100",
                 "--state-dir", os.path.join(workdir, f"state{len(mode)}{following}")]
                + mode, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            try:
                info, data = None, {}
                for _ in range(100):
                    info = subprocess.run(
                        [os.path.join(args.build, "pvxl"), "--socket", control,
                         "host-info", "--json"], capture_output=True, text=True,
                        timeout=10)
                    if info.returncode == 0:
                        data = json.loads(info.stdout).get("host_clock", {})
                        break
                    time.sleep(0.1)
                label = " ".join(mode) or "(default)"
                self.tap.result(data.get("following") is following and
                                ("samples" in data) is following,
                                f"pvtimed {label}: host-info says following "
                                f"host NTP is {following}",
                                [json.dumps(data)])
            finally:
                proc.terminate()
                proc.wait(timeout=10)

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
        self.test_restart_adopts(self.args)
        self.test_restart_bad_state(self.args)
        self.test_sd_notify(self.args)
        self.test_host_clock_option(self.args)
        print(f"1..{self.tap.count}")
        return 1 if self.tap.failed else 0


def integration_args(doc):
    """What run_check.py gives each integration script; doc is its own
    docstring, whose first line describes it."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--build", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--ramdisk", required=True)
    return parser.parse_args()


def main():
    return ControlTests(integration_args(__doc__)).run()


if __name__ == "__main__":
    sys.exit(main())
