#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""tools/mkguest/pvh-kernel.py on made-up bzImages: the ELF inside an XZ
or gzip payload is written when it has the PVH entry note, refused (and
nothing written) when it has none, when it is not x86-64 or when there is
no payload; usage errors exit 2.  With --real PATH, also the real kernel:
the output must be an ELF with the note."""

import lzma
import os
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
TOOL = os.path.join(TOP, "tools", "mkguest", "pvh-kernel.py")
XEN_ELFNOTE_PHYS32_ENTRY = 18
XEN_ELFNOTE_ENTRY = 1

results = []


def tap(ok, name, diagnostics=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {name}")
    for line in ([] if ok else diagnostics.splitlines()):
        print(f"# {line}")


def note(owner, note_type, desc):
    name = owner.encode() + b"\0"
    pad = (lambda b: b + b"\0" * (-len(b) % 4))
    return (struct.pack("<III", len(name), len(desc), note_type) +
            pad(name) + pad(desc))


def elf(notes, machine=62):
    """A minimal ELF64 header, one PT_NOTE program header, the notes."""
    body = b"".join(notes)
    phoff = 64
    note_off = phoff + 56
    header = (b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9 +
              struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0, phoff, 0, 0,
                          64, 56, 1, 64, 0, 0))
    phdr = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(body),
                       len(body), 4)
    return header + phdr + body


def gzip_bytes(data):
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return comp.compress(data) + comp.flush()


def bzimage(payload):
    """A setup part, the compressed payload, the trailing bytes a real
    bzImage has after it."""
    return b"MZ" + os.urandom(4000).replace(b"\xfd7zXZ", b"xxxxx") + \
        payload + b"\0" * 64


def run(*argv):
    return subprocess.run([sys.executable, TOOL, *argv], capture_output=True,
                          text=True, check=False)


def main():
    print("TAP version 13")
    real = sys.argv[2] if len(sys.argv) == 3 and sys.argv[1] == "--real" \
        else None
    print(f"1..{8 + (1 if real else 0)}")
    pvh = elf([note("Xen", XEN_ELFNOTE_ENTRY, b"\0" * 8),
               note("Xen", XEN_ELFNOTE_PHYS32_ENTRY, b"\0" * 4)])
    no_pvh = elf([note("Xen", XEN_ELFNOTE_ENTRY, b"\0" * 8),
                  note("GNU", XEN_ELFNOTE_PHYS32_ENTRY, b"\0" * 4)])
    with tempfile.TemporaryDirectory() as tmp:
        def write(name, data):
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            return path

        out = os.path.join(tmp, "vmlinux")
        for kind, packed in (("xz", lzma.compress(pvh)),
                             ("gzip", gzip_bytes(pvh))):
            proc = run(write(f"{kind}.bz", bzimage(packed)), out)
            ok = proc.returncode == 0 and open(out, "rb").read() == pvh
            tap(ok, f"the PVH note in a {kind} payload: the ELF is written as is",
                proc.stderr)
            if os.path.exists(out):
                os.unlink(out)

        cases = (
            ("no PVH note", bzimage(lzma.compress(no_pvh)), "no PVH entry"),
            ("not x86-64", bzimage(lzma.compress(elf([], machine=183))),
             "not x86-64"),
            ("no payload", b"MZ" + b"\0" * 8192, "no XZ or gzip payload"),
            ("a payload that is not an ELF",
             bzimage(lzma.compress(b"\0" * 4096)), "no XZ or gzip payload"),
        )
        for what, image, message in cases:
            proc = run(write("bad.bz", image), out)
            tap(proc.returncode == 1 and message in proc.stderr and
                not os.path.exists(out) and
                not os.path.exists(out + ".tmp"),
                f"{what}: exit 1, '{message}', nothing written",
                f"exit {proc.returncode}: {proc.stderr}")

        proc = run(os.path.join(tmp, "missing"), out)
        tap(proc.returncode == 1 and "No such file" in proc.stderr,
            "a missing input: exit 1 with the reason", proc.stderr)
        proc = run("one-argument")
        tap(proc.returncode == 2 and not proc.stdout and
            "usage: pvh-kernel.py VMLINUZ OUTPUT" in proc.stderr,
            "one argument: usage on stderr, exit 2", proc.stderr)

        if real:
            proc = run(real, out)
            notes = subprocess.run(["readelf", "-n", out], capture_output=True,
                                   text=True, check=False).stdout \
                if proc.returncode == 0 else ""
            tap(proc.returncode == 0 and
                "(0x00000012)" in notes,
                f"{real}: an ELF with the PVH entry note comes out",
                proc.stderr)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
