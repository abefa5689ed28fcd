#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make run`: a guest on the pvtime clocksource, and a wall-clock step.

Starts a private pvtimed (state in BUILD/run), creates the domain of
BUILD/guest/default.cfg and streams its console.  The guest (/pvtime/demo.sh)
loads pvtime.ko and prints its clocksource and the date once a second; after
the fifth date the host runs `pvxl set-wallclock <dom> +1h`, later
`pvxl info <dom>`, and the guest's dates show the jump.  Everything is torn
down at the end, on error and on Ctrl-C.
"""

import argparse
import os
import shutil
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pvtime_host import Daemon, LogFollower, read_config_value  # noqa: E402

STEP_AT_LINE = 5        # host steps the wall clock after this many dates
INFO_AT_LINE = 8        # and shows `pvxl info` after this many
TIMEOUT = 180           # seconds for the whole guest run


def host(text):
    print(f"[host]  {text}", flush=True)


def show_pvxl(daemon, *args):
    result = daemon.pvxl(*args)
    host(f"pvxl {' '.join(args)}  -> exit {result.returncode}")
    for line in (result.stdout + result.stderr).splitlines():
        host(f"    {line}")
    return result.returncode == 0


def run_guest(daemon, cfg, name):
    host(f"pvxl create {cfg}")
    if not show_pvxl(daemon, "create", cfg):
        return False
    host(f"guest console ({daemon.domain_log(name)}):")
    console = LogFollower(daemon.domain_log(name))
    dates = 0
    outcome = None
    deadline = time.monotonic() + TIMEOUT
    while outcome is None and time.monotonic() < deadline:
        for line in console.lines():
            print(f"[guest] {line}", flush=True)
            if line.startswith("PVTIME-DEMO-END"):
                outcome = line.split()[-1] == "ok"
            elif line.startswith("demo: ["):
                dates += 1
                if dates == STEP_AT_LINE:
                    host("stepping the guest's wall clock forward one hour")
                    show_pvxl(daemon, "set-wallclock", name, "+1h")
                elif dates == INFO_AT_LINE:
                    show_pvxl(daemon, "info", name)
        if not daemon.alive():
            host("pvtimed died; its log ends with:")
            for line in daemon.log_tail(20):
                host(f"    {line}")
            return False
        time.sleep(0.2)
    console.close()
    if outcome is None:
        host(f"the guest did not finish within {TIMEOUT} s")
        return False
    return outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(os.path.dirname(HERE),
                                                        "build"))
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    cfg = os.path.join(build, "guest", "default.cfg")
    name = read_config_value(cfg, "name")
    workdir = os.path.join(build, "run")
    # A previous run's socket and logs would only confuse this one.
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)

    # Ctrl-C arrives as KeyboardInterrupt; SIGTERM gets the same cleanup.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    daemon = Daemon(build, workdir)
    ok = interrupted = False
    try:
        host(f"starting pvtimed (socket {daemon.socket}, log "
             f"{daemon.log_path}); calibrating the TSC takes a second")
        daemon.start()
        show_pvxl(daemon, "host-info")
        ok = run_guest(daemon, cfg, name)
    except KeyboardInterrupt:
        interrupted = True
        host("interrupted; cleaning up")
    except (OSError, RuntimeError) as err:
        host(f"error: {err}")
        for line in daemon.log_tail(20):
            host(f"    {line}")
    finally:
        if daemon.alive():
            if name in daemon.pvxl("list").stdout:
                show_pvxl(daemon, "destroy", name)
            status = daemon.terminate()
            host(f"pvtimed stopped (exit status {status})")
        daemon.kill_leftovers()
    if interrupted:
        host("demo interrupted")
        return 130
    host("demo finished" if ok else "demo FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
