# SPDX-License-Identifier: GPL-2.0
"""The time-source phase of `make check` (issue 7, items 4 and 5).

Two guests boot to a shell on their consoles, which this runner drives
through the console sockets:

  * "pvtime-ts", time_source = 1: the time-source domain;
  * "pvtime-follower", rtc_timeoffset = 7200: an ordinary domain whose
    wall clock runs two hours ahead of the hyp's.

Checked, in order:

  1. a second time_source = 1 domain is refused at create, naming the first;
  2. rtc_timeoffset: the follower's date, first from QEMU's CMOS RTC (before
     pvtime.ko), then from pvtime, is the host's clock + 7200 s, measured
     against the host's own clock around each `date`; `pvxl info` shows it;
  3. `date -s` in the time source moves the hyp's wall clock by what it set,
     the follower follows (its date, and the hyp's view of it), the time
     source is not stepped back, and nothing is forwarded back and forth;
     pvtimed restarted (SIGTERM, start) keeps that offset and the role;
  4. a slew in the time source (adjtimex -f, 500 ppm) is forwarded without
     a step of the time source;
  5. the follower's own SET_WALLCLOCK (debugfs set_wallclock) is refused
     with EPERM, counted, logged with its name, and no domain's time moves;
  6. bad SET_WALLCLOCKs from the time source (before 1970, past the hyp's
     limit, a TSC that is not now) are refused and move nothing;
  7. `pvxl set-wallclock` refuses the time source itself; `--all now` moves
     the follower onto the time source's clock while one runs, and puts
     the hyp back on the host's clock once it is destroyed.
"""

import os
import re
import socket
import time

from pvtime_host import config_copy, find_key, log, tail_file

SUITE = "timesource"
SOURCE = "pvtime-ts"
FOLLOWER = "pvtime-follower"
SECOND_SOURCE = "pvtime-ts2"
RTC_TIMEOFFSET_S = 7200
STEP_S = 1000
SLEW_PPM = 500
BOOT_TIMEOUT_S = 120
SHELL_READY = "leave it with 'exit' to power off"
DEBUGFS = "/sys/kernel/debug/pvtime"
NS = 10**9


class Console:
    """A guest's serial console (QEMU's socket chardev): run shell commands
    and collect their output and exit status."""

    def __init__(self, path, log_path, name):
        self.name = name
        self.log_path = log_path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.text = ""
        self.count = 0

    def read_until(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern, re.S)
        while True:
            match = regex.search(self.text)
            if match:
                self.text = self.text[match.end():]
                return match
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(min(left, 1.0))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                return None
            self.text += data.decode("utf-8", "replace").replace("\r", "")

    def logged(self, text):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return text in f.read()
        except FileNotFoundError:
            return False

    def wait_shell(self, timeout):
        """The shell's banner, on the socket or (printed before we
        connected) in the console log."""
        deadline = time.monotonic() + timeout
        while not self.read_until(re.escape(SHELL_READY), 1):
            if self.logged(SHELL_READY):
                break
            if time.monotonic() > deadline:
                return False
        # No echo: only what the commands print comes back.
        self.sock.sendall(b"\nstty -echo\n")
        return True

    def run(self, command, timeout=60):
        """(status, output) of `command`, or (None, text so far)."""
        self.count += 1
        tag = f"{self.count}"
        # The markers are split in the command so an echo cannot match.
        line = (f'echo "@@BEGIN""-{tag}"; {command}; '
                f'echo "@@END""-{tag} rc=$?"\n')
        self.sock.sendall(line.encode())
        match = self.read_until(rf"@@BEGIN-{tag}\n(.*?)@@END-{tag} rc=(\d+)\n",
                                timeout)
        if not match:
            return None, self.text[-2000:]
        return int(match.group(2)), match.group(1)

    def date_offset(self):
        """Guest `date +%s` minus host time, bracketed by the host's clock
        read before and after: (low, high) in seconds, or None."""
        before = time.time()
        status, out = self.run("date +%s")
        after = time.time()
        if status != 0 or not out.strip().isdigit():
            return None
        guest = int(out.strip())
        # guest is floor(guest time): guest time in [guest, guest + 1).
        return guest - after, guest + 1 - before

    def close(self):
        self.sock.close()


def offset_within(bracket, expected, slack):
    return bracket is not None and \
        bracket[0] - slack <= expected <= bracket[1] + slack


def fmt_bracket(bracket):
    if bracket is None:
        return "no date"
    return f"{bracket[0]:+.2f}..{bracket[1]:+.2f} s"


def info(daemon, name):
    result = daemon.pvxl("info", "--json", name)
    try:
        return result.json()
    except ValueError:
        return {}


def hyp_offset_ns(daemon):
    result = daemon.pvxl("host-info", "--json")
    try:
        return find_key(result.json(), "hyp_wall_offset_ns")
    except ValueError:
        return None


def domain_wall_ns(daemon, name):
    """The domain's wall clock minus host realtime (pvxl info)."""
    host = time.time_ns()
    value = find_key(info(daemon, name), "wall_now_ns")
    return value - host if isinstance(value, int) else None


def debugfs_values(console, name):
    status, out = console.run(f"cat {DEBUGFS}/{name}")
    values = {}
    if status == 0:
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2:
                values[parts[0]] = parts[1]
    return values


class HostSteps:
    """Counts the host CLOCK_REALTIME steps pvtimed saw from now on: the
    time source undoes each one within a check (it owns the wall clock),
    with a forward of its own, so windows with host steps (someone else
    on this host setting its clock) allow that many more forwards."""

    MARK = "host CLOCK_REALTIME was stepped"

    def __init__(self, daemon):
        self.path = daemon.log_path
        self.start = os.path.getsize(self.path)

    def count(self):
        with open(self.path, "rb") as f:
            f.seek(self.start)
            return f.read().decode("utf-8", "replace").count(self.MARK)


def wait_for(predicate, timeout, step=0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


class Phase:
    def __init__(self, results, args, daemon, workdir):
        self.results = results
        self.args = args
        self.daemon = daemon
        self.workdir = workdir
        self.consoles = {}

    def ok(self, passed, name, context=()):
        return self.results.own(bool(passed), SUITE, name, list(context))

    def figure(self, key, value):
        self.results.reports.append((SUITE, key, str(value)))
        log(f"  {SUITE}: {key} = {value}")

    def config(self, name, keys):
        source = os.path.join(self.args.build, "guest", "test.cfg")
        path = os.path.join(self.workdir, f"{name}.cfg")
        config_copy(source, path, name=name, set_keys=dict(keys, vcpus="1"))
        # No pvtest=: the guest starts a shell on its console.
        with open(path, encoding="utf-8") as f:
            text = re.sub(r"\s*\bpvtest=[^\s\"]+", "", f.read())
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def create(self, name, keys):
        created = self.daemon.pvxl("create", self.config(name, keys),
                                   timeout=120)
        if not self.ok(created.returncode == 0, f"pvxl create {name}",
                       [created.describe()] + self.daemon.log_tail(10)):
            return False
        self.consoles[name] = Console(
            os.path.join(self.daemon.state_dir, f"{name}.console"),
            self.daemon.domain_log(name), name)
        return True

    def run(self):
        if not self.create(SOURCE, {"time_source": "1"}):
            return
        second = self.daemon.pvxl("create", self.config(
            SECOND_SOURCE, {"time_source": "1"}))
        self.ok(second.returncode == 1 and
                f"domain '{SOURCE}'" in second.stderr and
                "already the time source" in second.stderr,
                "a second time_source = 1 domain is refused at create, "
                "naming the first", [second.describe()])
        if not self.create(FOLLOWER, {"rtc_timeoffset": str(RTC_TIMEOFFSET_S)}):
            return
        for name, console in self.consoles.items():
            if not self.ok(console.wait_shell(BOOT_TIMEOUT_S),
                           f"{name}: shell on the console",
                           tail_file(self.daemon.domain_log(name), 15)):
                return
        if not self.check_rtc_timeoffset():
            return
        if not self.check_step():
            return
        if not self.check_restart():
            return
        self.check_slew()
        self.check_refused()
        self.check_bad_input()
        self.check_reset()

    def insmod(self, name):
        console = self.consoles[name]
        status, out = console.run("insmod /pvtime/pvtime.ko", timeout=120)
        return self.ok(status == 0, f"{name}: insmod pvtime.ko", [out])

    def check_rtc_timeoffset(self):
        follower = self.consoles[FOLLOWER]
        # Before pvtime.ko: the kernel took its time from the CMOS RTC.
        rtc = follower.date_offset()
        self.figure("follower_rtc_date_minus_host_s", fmt_bracket(rtc))
        # Whole seconds: QEMU truncates the host time it starts the RTC
        # from, the kernel the RTC it reads at boot (measured 0.3-1.7 s
        # behind); without -rtc it would be 7200 s off.
        self.ok(offset_within(rtc, RTC_TIMEOFFSET_S, 3),
                f"rtc_timeoffset = {RTC_TIMEOFFSET_S}: the follower's date "
                f"from QEMU's RTC is the host's + {RTC_TIMEOFFSET_S} s "
                f"({fmt_bracket(rtc)})")
        if not (self.insmod(SOURCE) and self.insmod(FOLLOWER)):
            return False
        wall = follower.date_offset()
        source = self.consoles[SOURCE].date_offset()
        self.figure("follower_date_minus_host_s", fmt_bracket(wall))
        self.figure("source_date_minus_host_s", fmt_bracket(source))
        self.ok(offset_within(wall, RTC_TIMEOFFSET_S, 1),
                f"rtc_timeoffset: on pvtime the follower's date is the "
                f"host's + {RTC_TIMEOFFSET_S} s ({fmt_bracket(wall)})")
        self.ok(offset_within(source, 0, 1),
                f"the time source (no offset) shows the host's date "
                f"({fmt_bracket(source)})")
        data = info(self.daemon, FOLLOWER)
        created = find_key(data, "wall_offset_at_create") or {}
        self.ok(created.get("rtc_timeoffset") == RTC_TIMEOFFSET_S and
                created.get("offset_s") == RTC_TIMEOFFSET_S and
                created.get("localtime") is False and
                find_key(data, "wall_offset_ns") == RTC_TIMEOFFSET_S * NS,
                "pvxl info shows rtc_timeoffset, localtime and the wall "
                "offset they gave", [repr(created)])
        text = self.daemon.pvxl("info", FOLLOWER).stdout
        self.ok(re.search(rf"rtc_timeoffset\W+{RTC_TIMEOFFSET_S}\b", text),
                "pvxl info (text) shows rtc_timeoffset", text.splitlines()[-40:])
        return True

    def check_roles(self):
        source = debugfs_values(self.consoles[SOURCE], "time_source")
        follower = debugfs_values(self.consoles[FOLLOWER], "time_source")
        self.ok(source.get("offered") == "1" and source.get("active") == "1",
                "the time source's module sees PVTIME_F_TIME_SOURCE and "
                "forwards", [repr(source)])
        self.ok(follower.get("offered") == "0" and follower.get("active") == "0",
                "the follower is not offered PVTIME_F_TIME_SOURCE",
                [repr(follower)])
        listing = self.daemon.pvxl("list", "--json")
        try:
            marked = {d["name"]: d.get("time_source")
                      for d in listing.json().get("domains", [])}
        except (ValueError, KeyError):
            marked = {}
        host = self.daemon.pvxl("host-info", "--json")
        try:
            named = find_key(host.json(), "time_source")
        except ValueError:
            named = None
        self.ok(marked.get(SOURCE) is True and marked.get(FOLLOWER) is False
                and named == SOURCE and
                find_key(info(self.daemon, FOLLOWER), "source_domain") == SOURCE,
                "pvxl list, host-info and info name the time source",
                [repr(marked), repr(named)])

    def forwarded(self, name):
        value = find_key(info(self.daemon, name), "set_wallclock_forwarded")
        return value if isinstance(value, int) else -1

    def check_step(self):
        self.check_roles()
        source = self.consoles[SOURCE]
        follower_before = domain_wall_ns(self.daemon, FOLLOWER)
        status, out = source.run(f"date -s @$(( $(date +%s) + {STEP_S} ))")
        if not self.ok(status == 0, f"date -s +{STEP_S} s in the time source",
                       [out]):
            return False
        moved = wait_for(lambda: (lambda v: v if v is not None and
                                  v > STEP_S * NS // 2 else None)(
                                      hyp_offset_ns(self.daemon)), 5)
        self.figure("hyp_wall_offset_after_step_s",
                    f"{moved / NS:.6f}" if moved else "unchanged")
        # date -s sets whole seconds: the step is STEP_S less under a second.
        self.ok(moved is not None and
                (STEP_S - 1.5) * NS <= moved <= (STEP_S + 0.5) * NS,
                f"the hyp's wall clock moved by the time source's step "
                f"({STEP_S} s)", self.daemon.log_tail(10))
        follower_after = domain_wall_ns(self.daemon, FOLLOWER)
        self.ok(follower_before is not None and follower_after is not None and
                abs(follower_after - follower_before - (moved or 0)) < NS // 2,
                "the hyp's view of the follower moved with it")
        # The follower's guest clock, through its doorbell.
        follower = wait_for(lambda: (lambda b: b if offset_within(
            b, RTC_TIMEOFFSET_S + STEP_S, 1) else None)(
                self.consoles[FOLLOWER].date_offset()), 5, step=0.5)
        self.ok(follower, f"the follower's date followed: host + "
                f"{RTC_TIMEOFFSET_S} + {STEP_S} s",
                [fmt_bracket(self.consoles[FOLLOWER].date_offset())])
        state = debugfs_values(source, "time_source")
        self.figure("source_clock_sets_and_step_forwards",
                    f"{state.get('clock_sets')} {state.get('step_forwards')}")
        self.figure("step_to_hyp_answer_ms",
                    f"{int(state.get('step_forward_ns', 0)) / 1e6:.3f}")
        self.ok(int(state.get("step_forwards", 0)) >= 1,
                "the step was forwarded from the clock-set notifier, not "
                "left to the periodic drift check", [repr(state)])
        forwards = self.forwarded(SOURCE)
        host_steps = HostSteps(self.daemon)
        time.sleep(3)
        own = source.date_offset()
        self.figure("source_date_after_step_minus_host_s", fmt_bracket(own))
        self.ok(offset_within(own, STEP_S, 1),
                "the time source kept its own time (not stepped back by "
                "the hyp's echo)", [fmt_bracket(own)])
        later = self.forwarded(SOURCE)
        steps = host_steps.count()
        self.figure("set_wallclock_forwarded_after_step", later)
        self.ok(forwards >= 1 and forwards <= later <= forwards + steps,
                "one forward per step, none for the hyp's echo "
                f"({forwards}, then {later} after 3 s; the host's clock was "
                f"stepped {steps} times meanwhile)")
        return True

    def check_restart(self):
        """pvtimed restarts under both guests: the hyp's wall offset and
        the time source's role survive (STATE_DIR/hyp-wallclock)."""
        hyp_before = hyp_offset_ns(self.daemon)
        wall_before = domain_wall_ns(self.daemon, FOLLOWER)
        status = self.daemon.terminate(keep_guests=True)
        try:
            self.daemon.start()
        except (OSError, RuntimeError) as err:
            return self.ok(False, f"pvtimed restarts: {err}",
                           self.daemon.log_tail(10))
        hyp_after = hyp_offset_ns(self.daemon)
        wall_after = domain_wall_ns(self.daemon, FOLLOWER)
        self.ok(status == 0 and hyp_after == hyp_before and
                None not in (wall_before, wall_after) and
                abs(wall_after - wall_before) < NS // 10 and
                find_key(info(self.daemon, SOURCE), "is_time_source") is True,
                "after a pvtimed restart the hyp's wall offset and the time "
                "source are as they were",
                [f"exit {status}, hyp offset {hyp_before} -> {hyp_after}, "
                 f"follower {wall_before} -> {wall_after}"] +
                self.daemon.log_tail(10))
        return True

    def check_slew(self):
        source = self.consoles[SOURCE]
        before = debugfs_values(source, "time_source")
        hyp_before = hyp_offset_ns(self.daemon)
        host_steps = HostSteps(self.daemon)
        status, out = source.run(f"adjtimex -f {SLEW_PPM * 65536} >/dev/null")
        self.ok(status == 0, f"adjtimex -f ({SLEW_PPM} ppm) in the time source",
                [out])
        time.sleep(4)
        source.run("adjtimex -f 0 >/dev/null")
        # The drift left when the slew stopped is forwarded within a check.
        time.sleep(2)
        after = debugfs_values(source, "time_source")
        hyp_after = hyp_offset_ns(self.daemon)
        def grew(key):
            return int(after.get(key, 0)) - int(before.get(key, 0))

        forwards = grew("forwards")
        # Clock sets also come from clocksource switches (pvtime-tsc
        # engaging): only forwards the drift check made count here.
        drift_forwards = forwards - grew("step_forwards")
        sets = grew("clock_sets")
        moved = (hyp_after - hyp_before) if None not in (hyp_after,
                                                          hyp_before) else None
        self.figure("slew_forwards_in_4s", forwards)
        self.figure("slew_hyp_moved_us", moved / 1000 if moved else moved)
        steps = host_steps.count()
        # 4-5 s at 500 ppm: 2-2.5 ms, forwarded once past 100 us.
        self.ok(drift_forwards >= 2 and moved is not None and
                (steps or 1000000 <= moved <= 3000000),
                f"a {SLEW_PPM} ppm slew in the time source is forwarded by "
                f"the drift check (forwards {forwards}, {drift_forwards} "
                f"from the drift; clock sets +{sets}; hyp moved {moved} ns"
                f"{f', not judged: {steps} host steps' if steps else ''})",
                [repr(before), repr(after)])

    def check_refused(self):
        follower = self.consoles[FOLLOWER]
        forwards = self.forwarded(SOURCE)
        hyp_before = hyp_offset_ns(self.daemon)
        walls_before = {n: domain_wall_ns(self.daemon, n) for n in self.consoles}
        date_before = follower.date_offset()
        # Accepted, this would move every domain by 500 s.
        status, out = follower.run(
            f"echo $(( ($(date +%s) + 500) * {NS} )) > {DEBUGFS}/set_wallclock")
        self.ok(status != 0 and "not permitted" in out,
                "the follower's SET_WALLCLOCK fails with EPERM", [out])
        data = info(self.daemon, FOLLOWER)
        self.figure("follower_set_wallclock_refused",
                    find_key(data, "set_wallclock_refused"))
        self.ok(find_key(data, "set_wallclock_refused") == 1 and
                find_key(data, "set_wallclock_forwarded") == 0,
                "the hyp counted the refusal")
        logged = [line for line in tail_file(self.daemon.log_path, 200)
                  if f"domain {FOLLOWER}: SET_WALLCLOCK refused" in line]
        self.ok(logged, "pvtimed logged the refusal with the domain's name",
                self.daemon.log_tail(10))
        walls_after = {n: domain_wall_ns(self.daemon, n) for n in self.consoles}
        date_after = follower.date_offset()
        hyp_after = hyp_offset_ns(self.daemon)
        self.ok(abs(hyp_after - hyp_before) < NS // 10 and
                all(abs(walls_after[n] - walls_before[n]) < NS // 10
                    for n in self.consoles) and date_before and date_after and
                abs((date_after[0] + date_after[1]) -
                    (date_before[0] + date_before[1])) / 2 < 1.5,
                "after the refusal no domain's time moved",
                [f"hyp offset {hyp_before} -> {hyp_after}, time source's "
                 f"forwards {forwards} -> {self.forwarded(SOURCE)}",
                 repr(walls_before), repr(walls_after),
                 fmt_bracket(date_before), fmt_bracket(date_after)])

    def check_bad_input(self):
        source = self.consoles[SOURCE]
        hyp_before = hyp_offset_ns(self.daemon)
        invalid_before = find_key(info(self.daemon, SOURCE),
                                  "set_wallclock_invalid")
        cases = [("-5", "Invalid argument", "a time before 1970: EINVAL"),
                 ("9200000000000000000", "out of range",
                  "a time past 2261-01-01: ERANGE"),
                 ("now 1", "out of range", "a TSC that is not now: ERANGE")]
        for text, error, what in cases:
            status, out = source.run(f"echo {text} > {DEBUGFS}/set_wallclock")
            self.ok(status != 0 and error in out,
                    f"time source's SET_WALLCLOCK with {what}", [out])
        invalid = find_key(info(self.daemon, SOURCE), "set_wallclock_invalid")
        self.ok(invalid == invalid_before + len(cases) and
                abs(hyp_offset_ns(self.daemon) - hyp_before) < NS // 10,
                "bad SET_WALLCLOCKs are counted and move nothing",
                [f"invalid {invalid_before} -> {invalid}"])

    def check_reset(self):
        own = self.daemon.pvxl("set-wallclock", SOURCE, "+1h")
        self.ok(own.returncode == 1 and "is the time source" in own.stderr,
                "pvxl set-wallclock on the time source is refused (its guest "
                "sets the time)", [own.describe()])
        hyp_before = hyp_offset_ns(self.daemon)
        kept = self.daemon.pvxl("set-wallclock", "--all", "now")
        self.ok(kept.returncode == 0 and
                abs(hyp_offset_ns(self.daemon) - hyp_before) < NS // 10 and
                abs(domain_wall_ns(self.daemon, FOLLOWER) - hyp_before) < NS // 10,
                "with a time source running, set-wallclock --all now puts the "
                "follower on the time source's clock and keeps that",
                [kept.describe()])
        gone = self.daemon.pvxl("destroy", SOURCE, timeout=60)
        reset = self.daemon.pvxl("set-wallclock", "--all", "now")
        follower = domain_wall_ns(self.daemon, FOLLOWER)
        self.ok(gone.returncode == 0 and reset.returncode == 0 and
                hyp_offset_ns(self.daemon) == 0 and follower is not None and
                abs(follower) < NS // 10,
                "the time source destroyed, set-wallclock --all now puts the "
                "hyp back on the host's clock", [reset.describe()])

    def finish(self):
        for console in self.consoles.values():
            console.close()
        for name in list(self.consoles) + [SECOND_SOURCE]:
            self.daemon.pvxl("destroy", name, timeout=60)
        # Whatever happened, later phases see the host's clock again.
        self.daemon.pvxl("set-wallclock", "--all", "now")


def phase_timesource(results, args, daemon, workdir):
    log("== phase 3d: a time-source domain and rtc_timeoffset "
        "(selftests/timesource_check.py)")
    started = time.monotonic()
    phase = Phase(results, args, daemon, workdir)
    try:
        phase.run()
    except (OSError, ValueError) as err:
        results.own(False, SUITE, f"time-source phase: {err!r}")
    finally:
        phase.finish()
    log(f"  {SUITE}: {time.monotonic() - started:.0f} s")
