#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""make install into a DESTDIR, then check the file list, the systemd
unit (systemd-analyze verify and security --offline) and pvxl's bash
completion against the installed pvxl.  Prints TAP."""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(TOP, "selftests"))
from pvtime_host import Tap  # noqa: E402

PREFIX = "/opt/pvtime"
# systemd's own scale: below 5.0 it calls the exposure "OK" or "SAFE".
MAX_EXPOSURE = 4.0

# Every check is one result of this TAP stream.
TAP = Tap()
tap = TAP.result


def run(argv, **kwargs):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False, **kwargs)


def expected_files():
    docs = ["README.md"] + [os.path.relpath(p, os.path.join(TOP, "Documentation"))
                            for p in glob.glob(os.path.join(TOP, "Documentation",
                                                            "*.rst"))]
    files = {f"{PREFIX}/sbin/pvtimed": 0o755, f"{PREFIX}/bin/pvxl": 0o755,
             f"{PREFIX}/lib/systemd/system/pvtimed.service": 0o644,
             f"{PREFIX}/share/bash-completion/completions/pvxl": 0o644}
    for doc in docs:
        files[f"{PREFIX}/share/doc/pvtime/{doc}"] = 0o644
    return files


def installed_files(destdir):
    found = {}
    for root, _, names in os.walk(destdir):
        for name in names:
            path = os.path.join(root, name)
            found["/" + os.path.relpath(path, destdir)] = \
                os.stat(path).st_mode & 0o7777
    return found


def verify_output(unit_path):
    """systemd-analyze verify reports problems as text, yet exits 0 on
    most of them (unknown keys, bad values): any output is a failure."""
    proc = run(["systemd-analyze", "verify", unit_path])
    return proc.returncode, proc.stdout.strip()


def check_unit(destdir, workdir):
    unit = os.path.join(destdir, PREFIX.lstrip("/"), "lib/systemd/system",
                        "pvtimed.service")
    with open(unit) as f:
        text = f.read()
    tap(re.search(rf"^ExecStart={re.escape(PREFIX)}/sbin/pvtimed\b", text,
                  re.M) is not None,
        f"unit's ExecStart is {PREFIX}/sbin/pvtimed (PREFIX honoured)",
        [line for line in text.splitlines() if line.startswith("ExecStart")])
    tap("@" not in re.sub(r"#.*", "", text),
        "no @PLACEHOLDER@ left in the unit")
    wanted = ["KillMode=process", "RuntimeDirectoryMode=0700",
              "StateDirectoryMode=0700", "ProtectSystem=strict",
              "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes"]
    missing = [w for w in wanted if not re.search(rf"^{w}$", text, re.M)]
    tap(not missing, "unit keeps guests on restart and is hardened",
        [f"missing: {missing}"])
    caps = re.search(r"^CapabilityBoundingSet=(.*)$", text, re.M)
    tap(caps is not None and "CAP_SYS_PTRACE" in caps.group(1).split() and
        "CAP_SYS_ADMIN" not in caps.group(1),
        "capabilities: CAP_SYS_PTRACE (pidfd_getfd), no CAP_SYS_ADMIN",
        [caps.group(0) if caps else "no CapabilityBoundingSet="])

    # verify wants ExecStart to exist: point it at the DESTDIR copy.
    staged = os.path.join(workdir, "pvtimed.service")
    with open(staged, "w") as f:
        f.write(text.replace(f"{PREFIX}/sbin/pvtimed",
                             os.path.join(destdir, PREFIX.lstrip("/"),
                                          "sbin/pvtimed")))
    status, output = verify_output(staged)
    tap(status == 0 and not output, "systemd-analyze verify: no complaint",
        output.splitlines())
    # The check above must be able to fail: a misspelt key is reported.
    broken = os.path.join(workdir, "broken", "pvtimed.service")
    os.makedirs(os.path.dirname(broken))
    with open(broken, "w") as f:
        f.write(open(staged).read().replace("ProtectHome=yes",
                                            "ProtectHome=yess"))
    status, output = verify_output(broken)
    tap(bool(output), "systemd-analyze verify reports a broken copy",
        [f"status {status}, no output"])

    proc = run(["systemd-analyze", "security", "--offline=yes", staged])
    level = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
    tap(level is not None and float(level.group(1)) <= MAX_EXPOSURE,
        f"systemd-analyze security: exposure <= {MAX_EXPOSURE} "
        f"({level.group(1) if level else 'none'})",
        proc.stdout.splitlines()[-5:])


def complete(destdir, words):
    """What the installed completion offers for the last of words."""
    root = os.path.join(destdir, PREFIX.lstrip("/"))
    script = ('source "$1"; shift; COMP_WORDS=("$@"); '
              'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _pvxl; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    proc = run(["bash", "-c", script, "complete",
                os.path.join(root, "share/bash-completion/completions/pvxl"),
                os.path.join(root, "bin/pvxl")] + words,
               env=dict(os.environ, PVTIME_SOCKET="/nonexistent/pvtimed.sock"))
    return sorted(line for line in proc.stdout.splitlines() if line)


def check_completion(destdir):
    """The completion reads pvxl's help: it offers what the table says."""
    cases = [
        (["se"], ["set-wallclock"]),
        (["-"], ["--help", "--socket", "--version"]),
        (["info", "--"], ["--help", "--json"]),
        (["set-wallclock", "--"], ["--all", "--help"]),
        (["destroy", "--"], ["--help"]),
        (["set-wallclock", "--all", "n"], ["now"]),
        (["inject", "dom1", "freq"], ["freq-step"]),
        (["help", "host"], ["host-info"]),
        (["--socket", "/x", "help", "un"], ["unpause"]),
    ]
    for words, want in cases:
        got = complete(destdir, words)
        tap(got == want, f"bash completion: pvxl {' '.join(words)} -> "
            f"{' '.join(want)}", [f"got {got}"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", required=True)
    args = parser.parse_args()
    if not shutil.which("systemd-analyze"):
        print("1..0 # SKIP systemd-analyze missing (tools/deps.sh installs systemd)")
        return 1
    workdir = tempfile.mkdtemp(prefix="pvtime-install.")
    try:
        destdir = os.path.join(workdir, "root")
        proc = run(["make", "--no-print-directory", "install",
                    f"DESTDIR={destdir}", f"PREFIX={PREFIX}",
                    f"BUILD={os.path.abspath(args.build)}"], cwd=TOP)
        if not tap(proc.returncode == 0, "make install DESTDIR=... PREFIX=...",
                   proc.stdout.splitlines()[-15:]):
            return 1
        want, got = expected_files(), installed_files(destdir)
        tap(want == got, f"installs exactly the expected {len(want)} files "
            "with their modes",
            [f"missing: {sorted(set(want) - set(got))}",
             f"unexpected: {sorted(set(got) - set(want))}",
             f"wrong mode: {[p for p in want if p in got and want[p] != got[p]]}"])
        help_run = run([os.path.join(destdir, PREFIX.lstrip("/"), "sbin/pvtimed"),
                        "--help"])
        tap(help_run.returncode == 0 and "Usage: pvtimed" in help_run.stdout,
            "the installed pvtimed runs (--help)", help_run.stdout.splitlines()[:5])
        check_unit(destdir, workdir)
        check_completion(destdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"1..{TAP.count}")
    return 1 if TAP.failed else 0


if __name__ == "__main__":
    sys.exit(main())
