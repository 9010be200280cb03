#!/usr/bin/env python3
# gen_corpus.py - writes the seed corpus of the ELF loader fuzzer: toyvirt_elfgen.py's images plus small crafted edge cases.
#
# Usage: gen_corpus.py OUTDIR
# Every seed is generated here (no binary blob is checked in): the good
# guests and bad images of tests/toyvirt_elfgen.py, then compact images
# (a few hundred bytes, quick to mutate) on each limit elf_parse checks.

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import toyvirt_elfgen as g  # noqa: E402

LOAD = g.PT_LOAD
LIMIT = 0x2000000000          # 128 GiB
LAPIC = 0xfee00000
EXTRA = 512 * 1024


def compact(entry, phdrs, code=b"\xf4", code_off=None, **kw):
    """Header, table at 64, code right after the table."""
    if code_off is None:
        code_off = 64 + 56 * len(phdrs)
    for p in phdrs:
        if p.get("offset") is None:
            p["offset"] = code_off
    return g.elf(entry, phdrs, [(code_off, code)], **kw)


def load(paddr, memsz, filesz=0, offset=None):
    p = g.phdr(LOAD, 0, paddr, filesz, memsz)
    p["offset"] = offset
    return p


def note(name, ntype, desc):
    """One ELF note, name and descriptor padded to 4 bytes."""
    n = name.encode() + b"\0" if isinstance(name, str) else name
    pad = lambda b: b + bytes(-len(b) % 4)
    return struct.pack("<III", len(n), len(desc), ntype) + pad(n) + pad(desc)


def with_notes(notes, entry=0x100000):
    """A one-segment image with a PT_NOTE holding notes."""
    code_off = 64 + 2 * 56
    note_off = code_off + 16
    phdrs = [load(0x100000, 0x1000, 16, offset=code_off),
             g.phdr(g.PT_NOTE, note_off, 0, len(notes), 0, flags=4, align=4)]
    return g.elf(entry, phdrs, [(code_off, b"\xf4" * 16), (note_off, notes)])


def crafted():
    c = {}
    c["min_valid"] = compact(0x100000, [load(0x100000, 1, 1)])
    c["entry_last_byte"] = compact(0x100fff, [load(0x100000, 0x1000, 1)])
    c["entry_past_end"] = compact(0x101000, [load(0x100000, 0x1000, 1)])
    c["entry_4g"] = compact(0xffffffff, [load(0xfffff000, 0x1000, 1)])
    # 128 one-byte segments sharing pages; then 129 headers.
    many = [load(0x100000 + 0x80 * i, 1, 1) for i in range(128)]
    c["phdrs_128"] = compact(0x100000, many)
    c["phdrs_129"] = compact(0x100000, many + [load(0x200000, 1, 1)])
    c["touching"] = compact(0x100000, [load(0x100000, 0x800, 1),
                                       load(0x100800, 0x800, 1)])
    c["overlap_1byte"] = compact(0x100000, [load(0x100000, 0x801, 1),
                                            load(0x100800, 0x800, 1)])
    c["unaligned_span"] = compact(0x100ffe, [load(0x100ffe, 0x3004, 1)])
    c["ram_at_limit"] = compact(LIMIT - EXTRA - 0x1000,
                                [load(LIMIT - EXTRA - 0x1000, 0x1000, 1)])
    c["ram_past_limit"] = compact(LIMIT - EXTRA,
                                  [load(LIMIT - EXTRA, 0x1000, 1)])
    c["below_lapic"] = compact(LAPIC - EXTRA - 0x1000,
                               [load(LAPIC - EXTRA - 0x1000, 0x1000, 1)])
    c["ram_on_lapic"] = compact(LAPIC - 0x1000,
                                [load(LAPIC - 0x1000, 0x1000, 1)])
    c["after_lapic"] = compact(LAPIC + 0x1000, [load(LAPIC + 0x1000, 1, 1)])
    c["huge_memsz"] = compact(0x100000, [load(0x100000, LIMIT - 0x100000 -
                                              EXTRA, 1)])
    c["wrap"] = compact(0x100000, [load(0x100000, 1, 1),
                                   load((1 << 64) - 1, 2)])
    c["empty_loads"] = compact(0x100000, [load(0x300000, 0), load(0x100000,
                                                                  1, 1)])
    c["filesz_gt_memsz"] = compact(0x100000, [load(0x100000, 1, 2)])
    c["data_at_eof"] = compact(0x100000, [load(0x100000, 1, 1, offset=64 +
                                               56)])
    c["data_past_eof"] = compact(0x100000, [load(0x100000, 4, 4, offset=64 +
                                                 56)])
    tolerated = [g.phdr(t) for t in (g.PT_NULL, g.PT_NOTE, g.PT_PHDR,
                                     0x6474e550, g.PT_GNU_STACK, 0x6474e552,
                                     g.PT_GNU_PROPERTY, 0x6474e554)]
    c["tolerated"] = compact(0x100000, tolerated + [load(0x100000, 1, 1)])
    c["refused_tls"] = compact(0x100000, [load(0x100000, 1, 1),
                                          g.phdr(g.PT_TLS)])
    c["phoff_end"] = g.elf(0x100000, [], [], phoff=64, phnum=1)
    c["header_only"] = g.elf(0x100000, [], [], phnum=0)
    c["short"] = compact(0x100000, [load(0x100000, 1, 1)])[:63]
    c["empty"] = b""
    # Notes: toyvirt's AP-entry note (name "toyvirt", type 1), others.
    ap = struct.pack("<I", 0x100800)
    c["note_ap"] = with_notes(note("GNU", 3, bytes(8)) +
                              note("toyvirt", 1, ap))
    c["note_ap8"] = with_notes(note("toyvirt", 1, struct.pack("<Q",
                                                              0x100800)))
    c["note_ap_outside"] = with_notes(note("toyvirt", 1, struct.pack(
        "<I", 0x300000)))
    c["note_ap_high"] = with_notes(note("toyvirt", 1, struct.pack(
        "<Q", 0x100000100800)))
    c["note_ap_size3"] = with_notes(note("toyvirt", 1, b"\0\x08\x10"))
    c["note_other_type"] = with_notes(note("toyvirt", 2, ap))
    c["note_truncated"] = with_notes(note("toyvirt", 1, ap)[:18])
    c["note_huge_namesz"] = with_notes(struct.pack("<III", 0xfffffffd, 4, 1) +
                                       b"toyvirt\0" + ap)
    c["note_huge_descsz"] = with_notes(struct.pack("<III", 8, 0xfffffffe, 1) +
                                       b"toyvirt\0" + ap)
    return c


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_corpus.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {}
    seeds["g_tiny"] = g.tiny_guest()
    seeds["g_multi"] = g.multi_guest()
    seeds["g_devices"] = g.idt_guest(g.devices_body)
    seeds["g_events"] = g.idt_guest(g.spin_body, events=True)
    seeds["g_flood"] = g.flood_guest()
    seeds["g_wild"] = g.wild_guest()
    for name in ("smp_guest",):         # newer generators, when present
        if hasattr(g, name):
            seeds["g_" + name] = getattr(g, name)()
    for name, img, _ in g.bad_cases():
        seeds["b_" + name] = img
    for name, img in crafted().items():
        seeds["c_" + name] = img
    for name, img in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(img)
    print("%d seeds in %s" % (len(seeds), out))


if __name__ == "__main__":
    main()
