# SPDX-License-Identifier: GPL-2.0
"""Host-side plumbing shared by run_check.py, its phase scripts and
run_demo.py.

A private pvtimed (own socket and state directory), pvxl invocations and
raw control requests against it, a follower for a guest's console log and the reading of what a test
guest prints on it (GuestConsole), TAP line parsing and printing (Tap), and the tally of a
run's results (Results).  Python 3 standard library only.
"""

import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

TAP_RE = re.compile(r"^(not )?ok ([0-9]+)\b(.*)$")
SKIP_RE = re.compile(r"#\s*SKIP\b", re.IGNORECASE)
TAP_PLAN_RE = re.compile(r"^1\.\.([0-9]+)\b")
REPORT_RE = re.compile(r"^PVTIME-REPORT (\S+) (.*)$")


def log(text=""):
    print(text, flush=True)


def percentile(values, fraction):
    """The value at fraction (0..1) of the sorted values: the one at index
    int(fraction * n), the last for 1.0; NaN for none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def parse_tap_line(line):
    """Return 'pass', 'fail', 'skip' for a TAP result line, else None.

    Only lines starting at column 0 count (nested kselftest output is
    indented)."""
    match = TAP_RE.match(line)
    if not match:
        return None
    if SKIP_RE.search(match.group(3)):
        return "skip"
    return "fail" if match.group(1) else "pass"


def parse_tap_plan(line):
    """The N of a TAP plan line "1..N" (column 0), else None."""
    match = TAP_PLAN_RE.match(line)
    return int(match.group(1)) if match else None


class Tap:
    """A TAP producer for the host-side test scripts: numbered results on
    stdout, a failed one's diagnostics as '#' lines; the caller prints
    the plan "1..count" at the end."""

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


def tail_file(path, lines=30):
    """Last lines of a text file, or a note saying why there are none."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        return [f"(cannot read {path}: {err.strerror})"]
    text = data.decode("utf-8", "replace").replace("\r", "")
    return text.splitlines()[-lines:]


def read_config_value(path, key):
    """The value of `key = ...` in a domain config we generated (strings
    unquoted; no escapes are used in generated configs)."""
    pattern = re.compile(r"^\s*" + re.escape(key) + r"\s*=\s*(.*?)\s*$")
    with open(path, encoding="utf-8") as f:
        for line in f:
            match = pattern.match(line)
            if match:
                value = match.group(1)
                if value.startswith('"') and value.endswith('"'):
                    value = value[1:-1]
                return value
    raise KeyError(f"{path}: no '{key}' setting")


PVTEST_WORD = re.compile(r"\bpvtest=[^\s\"]+")


def config_copy(cfg, path, name=None, extra_words="", set_keys=None,
                pvtest=None):
    """Write a copy of a generated domain config to `path`, with an absolute
    ramdisk path, optionally a new name, another pvtest= mode (which may
    carry more KEY=VALUE words for the guest), more kernel parameters and
    keys set to values (given as config text, e.g. '"multi"'), replaced
    where the file has them and appended where it does not."""
    set_keys = dict(set_keys or {})
    ramdisk = os.path.join(os.path.dirname(os.path.abspath(cfg)),
                           read_config_value(cfg, "ramdisk"))
    extra = f"{read_config_value(cfg, 'extra')} {extra_words}".strip()
    if pvtest:
        extra = PVTEST_WORD.sub(f"pvtest={pvtest}", extra)
    with open(cfg, encoding="utf-8") as f:
        lines = f.read().splitlines()
    text = []
    for line in lines:
        key = line.split("=", 1)[0].strip()
        if key == "name" and name:
            line = f'name = "{name}"'
        elif key == "ramdisk":
            line = f'ramdisk = "{ramdisk}"'
        elif key == "extra":
            line = f'extra = "{extra}"'
        elif key in set_keys:
            line = f"{key} = {set_keys.pop(key)}"
        text.append(line)
    text += [f"{key} = {value}" for key, value in set_keys.items()]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(text) + "\n")
    return path


def find_key(obj, key):
    """First value stored under `key` anywhere in a decoded JSON object."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        children = obj.values()
    elif isinstance(obj, list):
        children = obj
    else:
        return None
    for child in children:
        found = find_key(child, key)
        if found is not None:
            return found
    return None


def processes_mentioning(text):
    """PIDs whose command line contains `text` (e.g. a private state dir)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry))
    return pids


def control_request(socket_path, request, timeout=10, stamp=None):
    """One raw request (bytes) on pvtimed's control socket
    (shared/pvtime_ctl.h), without pvxl; the whole reply, as text.
    stamp, if given, is called once connected, right before the request
    goes out, and again once the whole reply is in."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        if stamp:
            stamp()
        sock.sendall(request)
        reply = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        if stamp:
            stamp()
    return reply.decode("utf-8", "replace")


class PvxlResult:
    def __init__(self, argv, returncode, stdout, stderr):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def describe(self):
        out = (self.stdout + self.stderr).strip().replace("\n", " | ")
        return f"`{' '.join(self.argv)}` -> exit {self.returncode}: {out[:300]}"

    def json(self):
        return json.loads(self.stdout)


# pvtimed's --sched-fifo in every test, as in the systemd unit.
SCHED_FIFO_PRIO = 10


class Daemon:
    """A pvtimed with its own control socket and state directory.

    fault_injection=True starts it with --enable-fault-injection, so guest
    tests can ask for `pvxl inject` (CONTRACT.md, issue 3)."""

    def __init__(self, build, workdir, calibrate_ms=1000,
                 fault_injection=False):
        self.build = build
        self.workdir = workdir
        self.socket = os.path.join(workdir, "control.sock")
        self.state_dir = os.path.join(workdir, "state")
        self.log_path = os.path.join(workdir, "pvtimed.log")
        self.calibrate_ms = calibrate_ms
        self.fault_injection = fault_injection
        self.proc = None
        self.log_file = None

    def start(self, timeout=30):
        os.makedirs(self.state_dir, exist_ok=True)
        argv = [os.path.join(self.build, "pvtimed"),
                "--socket", self.socket, "--state-dir", self.state_dir,
                "--log", "stderr", "--calibrate-ms", str(self.calibrate_ms),
                # As the systemd unit: steps reach guests past busy CPUs.
                "--sched-fifo", str(SCHED_FIFO_PRIO)]
        if self.fault_injection:
            argv.append("--enable-fault-injection")
        # For chasing a problem: PVTIMED_LOG_LEVEL=debug make check
        if os.environ.get("PVTIMED_LOG_LEVEL"):
            argv += ["--log-level", os.environ["PVTIMED_LOG_LEVEL"]]
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"pvtimed exited with status {self.proc.returncode} "
                    "during start-up")
            if os.path.exists(self.socket) and self.pvxl("list").returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"pvtimed did not answer on {self.socket} "
                           f"within {timeout} s")

    def pvxl(self, *args, timeout=30, user=None):
        argv = [os.path.join(self.build, "pvxl"), "--socket", self.socket]
        argv += list(args)
        if user is not None:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}",
                    "--clear-groups"] + argv
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            return PvxlResult(argv, -1, "", f"timed out after {timeout} s")
        return PvxlResult(argv, proc.returncode,
                          proc.stdout.decode("utf-8", "replace"),
                          proc.stderr.decode("utf-8", "replace"))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=30):
        return tail_file(self.log_path, lines)

    def domain_log(self, name):
        return os.path.join(self.state_dir, f"{name}.log")

    def destroy_all(self):
        """Destroy every domain: guests outlive a pvtimed that exits."""
        listing = self.pvxl("list", "--json")
        if listing.returncode != 0:
            return
        for dom in listing.json().get("domains", []):
            self.pvxl("destroy", dom["name"])

    def terminate(self, timeout=30, keep_guests=False):
        """SIGTERM; return its exit status (None if it had to be killed).
        Its domains are destroyed first unless keep_guests."""
        if self.proc is None:
            return None
        if self.proc.poll() is None and not keep_guests:
            self.destroy_all()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self.log_file.close()
        return self.proc.returncode

    def kill_leftovers(self):
        """Kill what still runs from our state dir (QEMU after a failure)."""
        for pid in processes_mentioning(self.state_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def domain_listed(daemon, name):
    """Whether `pvxl list` still shows the domain (an unanswered list counts
    as listed, so nobody stops waiting on a daemon hiccup)."""
    listing = daemon.pvxl("list", "--json")
    try:
        domains = listing.json().get("domains", [])
    except (ValueError, AttributeError):
        return True
    return any(domain.get("name") == name for domain in domains)


def destroy_after_poweroff(results, daemon, suite, name):
    """A test guest powers itself off after its END marker: give it 15 s,
    then destroy what is still listed (one result)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and domain_listed(daemon, name):
        time.sleep(0.5)
    if domain_listed(daemon, name):
        gone = daemon.pvxl("destroy", name, timeout=60)
        results.own(gone.returncode == 0, suite, f"pvxl destroy {name}",
                    [gone.describe()])


METER_MAGIC = 0x544d5650  # selftests/host/meter/meter_abi.h


class Meter:
    """pvtime-meter serving one guest's time-meter page, independent of
    pvtimed (Documentation/testing.rst, "The time meter").

    start() returns once the page is ready; device_model_args() is what
    the guest's domain config needs to see it; stop() ends it and returns
    its JSON summary (None if it did not give one) and removes the file."""

    def __init__(self, build, path, extra_args=()):
        if any(c in path for c in ',"\\'):
            raise ValueError(f"meter path {path!r} may not hold , \" or \\")
        self.binary = os.path.join(build, "pvtime-meter")
        self.path = path
        self.proc = None
        self.stderr_path = path + ".stderr"
        self.extra_args = list(extra_args)   # e.g. ["--size", "16384"]

    def start(self, timeout=10):
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([self.binary, "--file", self.path]
                                         + self.extra_args,
                                         stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=err)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"pvtime-meter exited with status {self.proc.returncode}: "
                    + " ".join(tail_file(self.stderr_path, 3)))
            try:
                with open(self.path, "rb") as page:
                    if int.from_bytes(page.read(4), "little") == METER_MAGIC:
                        return
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"pvtime-meter did not set up {self.path} "
                           f"within {timeout} s")

    def device_model_args(self):
        """QEMU options: the page as a second ivshmem (plain) device."""
        size = os.path.getsize(self.path)
        return ["-object", f"memory-backend-file,id=pvmeter,share=on,"
                f"mem-path={self.path},size={size}",
                "-device", "ivshmem-plain,memdev=pvmeter"]

    def stop(self, timeout=10):
        summary = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                out, _ = self.proc.communicate(timeout=timeout)
                summary = json.loads(out.decode("utf-8", "replace"))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()
            except ValueError:
                pass
        for leftover in (self.path, self.path + ".tmp"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass
        return summary


def config_with_args(src, dst, args):
    """Write a copy of domain config src to dst with device_model_args
    set to args; src must not set them itself."""
    with open(src) as f:
        text = f.read()
    if re.search(r"^\s*device_model_args\s*=", text, re.MULTILINE):
        raise ValueError(f"{src} sets device_model_args already")
    quoted = ", ".join('"' + a + '"' for a in args)
    with open(dst + ".tmp", "w") as f:
        f.write(text.rstrip("\n") + f"\ndevice_model_args = [ {quoted} ]\n")
    os.replace(dst + ".tmp", dst)


def meter_guest_config(build, workdir, name, pvtest, meter):
    """build/guest/test.cfg renamed to name, with pvtest=PVTEST (which may
    carry more KEY=VALUE words for the guest), the ramdisk made absolute
    and meter's device added; written in workdir, its path returned."""
    source = os.path.join(build, "guest", "test.cfg")
    base = os.path.join(workdir, f"{name}.base.cfg")
    config_copy(source, base, name=name, pvtest=pvtest)
    path = os.path.join(workdir, f"{name}.cfg")
    config_with_args(base, path, meter.device_model_args())
    return path


class LogFollower:
    """Yields complete lines appended to a file that may not exist yet."""

    def __init__(self, path):
        self.path = path
        self.file = None
        self.partial = b""

    def lines(self):
        if self.file is None:
            try:
                self.file = open(self.path, "rb")
            except FileNotFoundError:
                return []
        self.partial += self.file.read()
        *complete, self.partial = self.partial.split(b"\n")
        return [line.decode("utf-8", "replace").replace("\r", "")
                for line in complete]

    def close(self):
        if self.file is not None:
            self.file.close()



class Results:
    """Every TAP result of a run, plus the PVTIME-REPORT figures.  Only
    failures are printed as they come; summary_line() counts them all."""

    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.reports = []
        self.failures = []

    def add(self, kind, suite, line):
        if kind == "pass":
            self.passed += 1
        elif kind == "skip":
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append(f"[{suite}] {line}")
            log(f"  FAIL [{suite}] {line}")

    def own(self, passed, suite, name, context=()):
        """A result the runner itself decides (not parsed from TAP)."""
        self.add("pass" if passed else "fail", suite,
                 f"{'ok' if passed else 'not ok'} - {name}")
        if not passed:
            for line in context:
                log(f"    | {line}")
        return passed

    def report(self, suite, line):
        match = REPORT_RE.match(line)
        if match:
            self.reports.append((suite, match.group(1), match.group(2)))
            return True
        return False

    def summary_line(self):
        line = f"{self.passed} passed, {self.failed} failed"
        if self.skipped:
            line += f", {self.skipped} skipped"
        return line


class GuestConsole:
    """What a test guest prints on its console (run-guest-tests.sh), read
    as the log grows: the PVTIME-GUEST-BEGIN and -END markers, the TAP
    plan and results between them (each added to `results` under `suite`,
    the '#' lines after a failed one shown), PVTIME-REPORT figures, and
    PVTIME-HOST-REQUEST lines, handed to host_request().  A failed
    result also shows the last COMMENTS_BEFORE_FAILURE '#' lines before
    it: a test's own account of what went wrong (a trace of probes,
    say) is printed before its result.

    A phase's guest takes the lines only it knows in own_line(), which
    sees every line first."""

    COMMENTS_BEFORE_FAILURE = 40

    def __init__(self, results, suite, console_path):
        self.results = results
        self.suite = suite
        self.console_path = console_path
        self.console = LogFollower(console_path)
        self.inside = self.begun = self.ended = False
        self.planned = None
        self.tap_count = 0
        self.tap_failed = 0
        self.after_failure = False
        self.comments_since_result = collections.deque(
            maxlen=self.COMMENTS_BEFORE_FAILURE)

    def follow_console(self):
        """Handle what the console gained since the last call."""
        for line in self.console.lines():
            self.handle(line)

    def close_console(self):
        """Handle the console's last lines and stop following it."""
        self.follow_console()
        self.console.close()

    def own_line(self, line):
        """True if this phase's guest took the line for itself."""
        return False

    def handle(self, line):
        if self.own_line(line):
            return
        if line.startswith("PVTIME-GUEST-BEGIN"):
            self.inside = self.begun = True
            log(f"  {self.suite}: {line}")
        elif line.startswith("PVTIME-GUEST-END"):
            self.end(line)
        elif line.startswith("PVTIME-HOST-REQUEST"):
            self.host_request(line.split()[1:])
        elif self.results.report(self.suite, line):
            pass
        elif self.inside:
            self.tap(line)

    def end(self, line):
        self.inside = False
        self.ended = True
        log(f"  {self.suite}: {line}")

    def tap(self, line):
        """A line between the markers: the plan, a result or a comment."""
        planned = parse_tap_plan(line)
        if planned is not None:
            self.planned = planned
            return
        kind = parse_tap_line(line)
        if kind:
            self.tap_count += 1
            self.tap_failed += kind == "fail"
            self.results.add(kind, self.suite, line)
            self.after_failure = kind == "fail"
            if self.after_failure and self.comments_since_result:
                log(f"    | (the last {len(self.comments_since_result)} comment line(s) before it:)")
                for text in self.comments_since_result:
                    log(f"    |   {text}")
                log("    | (after it:)")
            self.comments_since_result.clear()
        elif line.startswith("#"):
            self.comment(line[1:].strip())

    def comment(self, text):
        """A '#' line between the markers: shown after a failed result,
        kept for the next result's failure otherwise."""
        if self.after_failure:
            log(f"    | {text}")
        else:
            self.comments_since_result.append(text)

    def host_request(self, words):
        """A phase whose guest asks nothing of the host refuses any ask."""
        self.results.own(False, self.suite,
                         f"unexpected host request {words!r}")
