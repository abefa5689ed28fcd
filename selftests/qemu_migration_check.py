#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Does this QEMU's migration deliver the guest's RAM exactly?

pvtime's own question about the QEMU it runs on (make qemu-migration-check;
Documentation/pvtimed.rst, "Migration"), asked of plain QEMU with neither
pvtimed nor pvtime.ko nor ivshmem: boot the guest kernel on pvtime's
busybox image, keep it busy forking and listing /proc (kernel memory
written everywhere), migrate it to a second QEMU started with -S
-incoming, and once both stand still dump both RAMs (QMP pmemsave) and
compare them page by page.  They must be equal: the destination holds
exactly what the source had when it stopped.

  --mode live     the guest runs while its RAM goes over (what QEMU calls
                  a live migration; pvxl migrate --live)
  --mode stopped  QMP stop first (pvxl migrate --stopped)

Each run prints the pages that differ; with --run-destination the
destination then runs for a few seconds and its console is searched for
an oops.  Exit status: 0 every run equal, 1 a run differed (or the
destination oopsed), 2 usage, 3 could not set up (no QEMU, no kernel).
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = 4096
LOAD = ("mount -t devtmpfs d /dev; mount -t proc p /proc; "
        "(while :; do /bin/true; done) & "
        "(while :; do ls -R /proc >/dev/null 2>&1; done) &\n")
OOPS_WORDS = ("Oops", "general protection fault", "BUG:", "Kernel panic")


class SetupError(Exception):
    pass


class Qmp:
    """A QMP client on a unix socket: one command at a time."""

    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise SetupError(f"no QMP on {path} within {timeout} s")
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.file = self.sock.makefile("rw")
        self.file.readline()
        self.run("qmp_capabilities")

    def run(self, name, **args):
        self.file.write(json.dumps({"execute": name, "arguments": args})
                        + "\n")
        self.file.flush()
        while True:
            line = self.file.readline()
            if not line:
                raise SetupError(f"QMP closed during {name}")
            reply = json.loads(line)
            if "error" in reply:
                raise SetupError(f"QMP {name}: {reply['error']}")
            if "return" in reply:
                return reply["return"]

    def migration_status(self):
        return self.run("query-migrate").get("status", "")

    def close(self):
        self.sock.close()


class Vm:
    """One QEMU: q35, TCG, the guest kernel and busybox image."""

    def __init__(self, args, workdir, tag, incoming=None):
        self.tag = tag
        self.console = os.path.join(workdir, f"{tag}.con")
        self.log = os.path.join(workdir, f"{tag}.log")
        qmp = os.path.join(workdir, f"{tag}.qmp")
        argv = [args.qemu, "-M", "q35", "-accel",
                f"tcg,thread={args.tcg_thread}", "-smp", str(args.vcpus),
                "-m", str(args.memory), "-nodefaults", "-display", "none",
                "-kernel", args.kernel, "-initrd", args.initrd,
                "-append", "console=ttyS0 rdinit=/bin/sh loglevel=4",
                "-chardev", f"socket,id=c0,path={self.console},server=on,"
                f"wait=off,logfile={self.log}",
                "-serial", "chardev:c0",
                "-qmp", f"unix:{qmp},server=on,wait=off"]
        if incoming:
            argv += ["-S", "-incoming", incoming]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log + ".qemu", "w"))
        try:
            self.qmp = Qmp(qmp)
        except SetupError:
            self.stop()
            raise

    def type(self, text):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(self.console)
            sock.sendall(text.encode())
            time.sleep(0.3)

    def oopsed(self):
        try:
            with open(self.log, errors="replace") as f:
                text = f.read()
        except OSError:
            return False
        return any(word in text for word in OOPS_WORDS)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def wait_migration(qmp, what, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        status = qmp.migration_status()
        if status in ("completed", "failed", "cancelled"):
            if status != "completed":
                raise SetupError(f"{what}: migration {status}")
            return
        if time.monotonic() > deadline:
            raise SetupError(f"{what}: migration not done in {timeout} s")
        time.sleep(0.05)


def differing_pages(path_a, path_b):
    pages = []
    with open(path_a, "rb") as a, open(path_b, "rb") as b:
        index = 0
        while True:
            chunk_a, chunk_b = a.read(PAGE * 256), b.read(PAGE * 256)
            if not chunk_a and not chunk_b:
                return pages
            for off in range(0, max(len(chunk_a), len(chunk_b)), PAGE):
                if chunk_a[off:off + PAGE] != chunk_b[off:off + PAGE]:
                    pages.append(index + off // PAGE)
            index += len(chunk_a) // PAGE


def one_run(args, workdir, number):
    for name in os.listdir(workdir):
        os.unlink(os.path.join(workdir, name))
    src = Vm(args, workdir, "source")
    dst = None
    try:
        src.qmp.run("cont")
        time.sleep(args.boot_seconds)
        src.type("\n" + LOAD)
        time.sleep(args.load_seconds)
        incoming = os.path.join(workdir, "incoming.sock")
        dst = Vm(args, workdir, "destination", incoming=f"unix:{incoming}")
        src.qmp.run("migrate-set-parameters", **{
            "max-bandwidth": 10 << 30, "downtime-limit": 50})
        if args.mode == "stopped":
            src.qmp.run("stop")
        src.qmp.run("migrate", uri=f"unix:{incoming}")
        wait_migration(src.qmp, "source")
        wait_migration(dst.qmp, "destination")
        size = args.memory << 20
        dumps = []
        for vm in (src, dst):
            path = os.path.join(workdir, f"{vm.tag}.ram")
            vm.qmp.run("pmemsave", val=0, size=size, filename=path)
            dumps.append(path)
        pages = differing_pages(*dumps)
        for path in dumps:
            os.unlink(path)
        oops = False
        if args.run_destination:
            dst.qmp.run("cont")
            time.sleep(args.run_destination)
            oops = dst.oopsed()
        what = f"{len(pages)} of {size // PAGE} pages differ"
        if pages:
            shown = ", ".join(f"{p * PAGE:#x}" for p in pages[:8])
            what += f" ({shown}{', ...' if len(pages) > 8 else ''})"
        if args.run_destination:
            what += ("; the destination oopsed" if oops else
                     "; the destination ran on")
        print(f"run {number}: {args.mode}: {what}", flush=True)
        return len(pages), oops
    finally:
        src.stop()
        if dst:
            dst.stop()


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Exit status: 0 every run equal, 1 a run differed or the "
        "destination oopsed, 2 usage, 3 could not set up.")
    parser.add_argument("--build", default=os.path.join(TOP, "build"),
                        help="pvtime's build directory (its guest image)")
    parser.add_argument("--mode", choices=("live", "stopped"), default="live")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tcg-thread", choices=("single", "multi"),
                        default="single")
    parser.add_argument("--vcpus", type=int, default=2)
    parser.add_argument("--memory", type=int, default=512, help="MiB")
    parser.add_argument("--qemu", default="qemu-system-x86_64")
    parser.add_argument("--kernel", help="default: the guest kernel in "
                        "BUILD/guest (vmlinuz of the configs)")
    parser.add_argument("--boot-seconds", type=float, default=8)
    parser.add_argument("--load-seconds", type=float, default=3)
    parser.add_argument("--run-destination", type=float, default=0,
                        metavar="SECONDS", help="then run the destination "
                        "this long and look for an oops on its console")
    parser.add_argument("--keep", action="store_true",
                        help="keep the consoles (a temporary directory)")
    args = parser.parse_args()
    if args.runs < 1 or args.vcpus < 1 or args.memory < 64:
        parser.error("--runs and --vcpus at least 1, --memory at least 64")
    args.initrd = os.path.join(args.build, "guest", "initramfs.cpio.gz")
    if not args.kernel:
        from pvtime_host import read_config_value
        try:
            args.kernel = read_config_value(
                os.path.join(args.build, "guest", "default.cfg"), "kernel")
        except (OSError, KeyError) as err:
            print(f"qemu-migration-check: no guest kernel: {err} (make "
                  f"build first, or --kernel)", file=sys.stderr)
            return 3
    for what, path in (("guest image", args.initrd),
                       ("guest kernel", args.kernel)):
        if not path or not os.path.isfile(path):
            print(f"qemu-migration-check: no {what} at {path} (make build "
                  f"first)", file=sys.stderr)
            return 3
    if not shutil.which(args.qemu):
        print(f"qemu-migration-check: no {args.qemu}", file=sys.stderr)
        return 3
    version = subprocess.run([args.qemu, "--version"], capture_output=True,
                             text=True).stdout.splitlines()
    print(f"# {version[0] if version else args.qemu}; tcg,thread="
          f"{args.tcg_thread}, {args.vcpus} vCPUs, {args.memory} MiB; "
          f"{args.runs} {args.mode} migration(s) of a guest forking in a loop",
          flush=True)
    workdir = tempfile.mkdtemp(prefix="pvtime-qemu-migration.")
    bad = 0
    try:
        for number in range(1, args.runs + 1):
            pages, oops = one_run(args, workdir, number)
            bad += bool(pages or oops)
    except SetupError as err:
        print(f"qemu-migration-check: {err}", file=sys.stderr)
        return 3
    finally:
        if args.keep:
            print(f"# consoles kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{args.runs - bad} equal, {bad} differed ({args.mode})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
