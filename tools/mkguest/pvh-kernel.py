#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unpack a bzImage into the ELF vmlinux inside it, for a PVH boot.

  pvh-kernel.py VMLINUZ OUTPUT

Debian's x86 kernel is an XZ-compressed bzImage.  Under QEMU TCG its
decompressor runs as guest code and takes about five seconds of every
boot; the same kernel's ELF image boots at once through its PVH entry
point (QEMU's -kernel loads an ELF with the XEN_ELFNOTE_PHYS32_ENTRY note
that way).  Outside Xen the PVH entry hands the kernel the same boot
parameters a bzImage boot would (arch/x86/platform/pvh/), so the kernel
that runs is the same: only the way in differs.  make check boots its
guests so (Documentation/testing.rst, "Guest boots").

The payload is found by its compression magic; XZ and gzip are known.
Exit status: 0 written, 1 no usable payload or no PVH entry (nothing
written), 2 usage.
"""

import lzma
import os
import struct
import sys
import zlib

MAGICS = (
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x1f\x8b\x08", "gzip"),
)
ELF_MAGIC = b"\x7fELF"
ELFCLASS64 = 2
EM_X86_64 = 62
PT_NOTE = 4
XEN_ELFNOTE_PHYS32_ENTRY = 18


def decompress(kind, data):
    """The first stream of `kind` at the start of data (trailing bytes,
    the bzImage's own, are left)."""
    if kind == "xz":
        return lzma.LZMADecompressor().decompress(data)
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)


def payloads(image):
    """Every decompressible ELF payload, in file order."""
    for magic, kind in MAGICS:
        start = image.find(magic)
        while start >= 0:
            try:
                out = decompress(kind, image[start:])
            except (lzma.LZMAError, zlib.error, EOFError):
                out = b""
            if out.startswith(ELF_MAGIC):
                yield start, kind, out
            start = image.find(magic, start + 1)


def elf_notes(elf):
    """(owner, type) of every note in the ELF64's PT_NOTE segments."""
    if elf[4] != ELFCLASS64:
        raise ValueError("not a 64-bit ELF")
    machine, = struct.unpack_from("<H", elf, 18)
    if machine != EM_X86_64:
        raise ValueError(f"ELF machine {machine}, not x86-64")
    phoff, = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", elf, phoff + i * phentsize)
        if p_type != PT_NOTE:
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, note_type = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            yield name.decode("ascii", "replace"), note_type
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4


def main(argv):
    usage = __doc__.split("\n\n")[1].strip()
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(usage)
        return 0
    if len(argv) != 3:
        print(f"usage: {usage}", file=sys.stderr)
        return 2
    source, output = argv[1], argv[2]
    try:
        with open(source, "rb") as f:
            image = f.read()
    except OSError as err:
        print(f"pvh-kernel.py: {source}: {err.strerror}", file=sys.stderr)
        return 1
    for start, kind, elf in payloads(image):
        try:
            has_pvh = ("Xen", XEN_ELFNOTE_PHYS32_ENTRY) in set(elf_notes(elf))
        except (ValueError, struct.error) as err:
            print(f"pvh-kernel.py: {source}: {kind} payload at {start}: "
                  f"{err}", file=sys.stderr)
            return 1
        if not has_pvh:
            print(f"pvh-kernel.py: {source}: the kernel has no PVH entry "
                  "(XEN_ELFNOTE_PHYS32_ENTRY; CONFIG_PVH=y builds it): "
                  "boot the bzImage instead", file=sys.stderr)
            return 1
        with open(output + ".tmp", "wb") as f:
            f.write(elf)
        os.replace(output + ".tmp", output)
        return 0
    print(f"pvh-kernel.py: {source}: no XZ or gzip payload holding an ELF "
          "kernel", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
