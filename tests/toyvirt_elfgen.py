#!/usr/bin/env python3
# toyvirt_elfgen.py - writes the crafted ELF files (good guests and bad images) that toyvirt's tests feed it.
#
# Usage: toyvirt_elfgen.py OUTDIR
# Writes OUTDIR/NAME.elf for every case and OUTDIR/bad.list with one line
# "NAME|distinctive part of toyvirt's error message" per bad image.  The
# good guests are tiny 32-bit protected-mode programs (toyvirt starts the
# guest in 32-bit flat protected mode, paging off); their expected console
# output is in the test scripts.

import os
import struct
import sys

PT_NULL, PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE, PT_SHLIB, PT_PHDR, PT_TLS = range(8)
PT_GNU_STACK = 0x6474e551
PT_GNU_PROPERTY = 0x6474e553
RWX = 7
CONSOLE = 0x7b

# ---------------------------------------------------------------------------
# ELF writer.


def phdr(type_, offset=0, paddr=0, filesz=0, memsz=0, vaddr=None, flags=RWX,
         align=0x1000):
    return dict(type=type_, offset=offset, paddr=paddr,
                vaddr=paddr if vaddr is None else vaddr, filesz=filesz,
                memsz=memsz, flags=flags, align=align)


def elf(entry, phdrs, blobs, ident=None, etype=2, machine=62, version=1,
        phoff=64, phentsize=56, phnum=None, size=None):
    """An ELF64 image: header, program headers at phoff, blobs at offsets."""
    if ident is None:
        ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    if phnum is None:
        phnum = len(phdrs)
    hdr = ident + struct.pack("<HHIQQQIHHHHHH", etype, machine, version,
                              entry, phoff, 0, 0, 64, phentsize, phnum, 0, 0, 0)
    tab = b"".join(struct.pack("<IIQQQQQQ", p["type"], p["flags"],
                               p["offset"], p["vaddr"], p["paddr"],
                               p["filesz"], p["memsz"], p["align"])
                   for p in phdrs)
    img = bytearray(hdr)
    places = list(blobs)
    if 0 <= phoff < (1 << 20):
        places.append((phoff, tab))
    for off, data in places:
        if len(img) < off + len(data):
            img.extend(bytes(off + len(data) - len(img)))
        img[off:off + len(data)] = data
    if size is not None:
        img = img[:size]
    return bytes(img)

# ---------------------------------------------------------------------------
# A few 32-bit instructions, hand encoded.


def u32(x):
    return struct.pack("<I", x & 0xffffffff)


def out_imm(port):           # out imm8, al
    return bytes([0xe6, port])


def putc(c):                 # mov al, c ; out 0x7b, al
    return bytes([0xb0, ord(c)]) + out_imm(CONSOLE)


def puts(s):
    return b"".join(putc(c) for c in s)


def mov_esi(x):
    return b"\xbe" + u32(x)


def mov_ecx(x):
    return b"\xb9" + u32(x)


def mov_esp(x):
    return b"\xbc" + u32(x)


MOV_DX_CONSOLE = b"\x66\xba" + struct.pack("<H", CONSOLE)
REP_OUTSB = b"\xf3\x6e"
OUT_DX_AL = b"\xee"
RDMSR = b"\x0f\x32"
UD2 = b"\x0f\x0b"


def lidt(addr):              # lidt [addr]
    return b"\x0f\x01\x1d" + u32(addr)


def lgdt(addr):              # lgdt [addr]
    return b"\x0f\x01\x15" + u32(addr)


def load_al(addr):           # mov al, [addr]
    return b"\xa0" + u32(addr)


def load_eax(addr):          # mov eax, [addr]
    return b"\xa1" + u32(addr)


def store_byte(addr, v):     # mov byte [addr], v
    return b"\xc6\x05" + u32(addr) + bytes([v])


def store_dword(addr, v):    # mov dword [addr], v
    return b"\xc7\x05" + u32(addr) + u32(v)


def yes_no_al(v):
    """cmp al, v; print 'Y' if equal else 'N'."""
    return bytes([0x3c, v, 0xb0, ord("N"), 0x75, 0x02, 0xb0, ord("Y")]) + \
        out_imm(CONSOLE)


def yes_no_eax_ones():
    """cmp eax, -1; print 'Y' if equal else 'N'."""
    return bytes([0x83, 0xf8, 0xff, 0xb0, ord("N"), 0x75, 0x02, 0xb0,
                  ord("Y")]) + out_imm(CONSOLE)


# Ends the guest on purpose: an empty IDT, then #UD -> triple fault.
def triple_fault(idtr_addr):
    return lidt(idtr_addr) + UD2


EMPTY_IDTR = bytes(6)        # limit 0, base 0

BASE = 0x100000              # where the guests are loaded
CODE_OFF = 0x1000            # their file offset

# ---------------------------------------------------------------------------
# Good guests.


def tiny_guest():
    """Prints "hello", then triple-faults.  Carries every tolerated header."""
    code_len = len(puts("hello\n")) + 9
    idtr = BASE + code_len
    code = puts("hello\n") + triple_fault(idtr)
    assert len(code) == code_len
    code += EMPTY_IDTR
    phdrs = [
        phdr(PT_NULL),
        phdr(PT_LOAD, CODE_OFF, BASE, len(code), len(code)),
        phdr(PT_NOTE, 0x800, 0, 0x10, 0, flags=4, align=4),
        phdr(PT_GNU_STACK, 0, 0, 0, 0, flags=6, align=16),
        phdr(PT_GNU_PROPERTY, 0x800, 0, 0x10, 0x10, flags=4, align=8),
        phdr(PT_PHDR, 64, BASE - 0x1000, 56 * 7, 56 * 7, flags=4, align=8),
        phdr(PT_LOAD, CODE_OFF, 0x300000, 0, 0),        # empty: skipped
    ]
    return elf(BASE, phdrs, [(0x800, bytes(16)), (CODE_OFF, code)])


def multi_guest():
    """Three PT_LOADs: two share a page, one is unaligned with a .bss.

    Prints "two" (rep outsb from the 2nd segment), "three" (from the 3rd),
    then one line: '0' if the .bss byte is zero, 'R' read back from the
    extra RAM, 'x' (the LAPIC ID 120), '9' (bits 11:8 of APICBASE).
    """
    seg_b = 0x100800                 # same page as the code
    seg_c = 0x102345                 # unaligned, with a .bss
    c_file, c_mem = b"three\n", 0x200
    image_end = seg_c + c_mem        # 0x102545
    ram = (image_end + 0xfff) & ~0xfff
    code = b"".join([
        MOV_DX_CONSOLE,
        mov_esi(seg_b), mov_ecx(4), REP_OUTSB,
        mov_esi(seg_c), mov_ecx(len(c_file)), REP_OUTSB,
        load_al(seg_c + 0x100), b"\x04\x30", OUT_DX_AL,        # add al,'0'
        store_byte(ram + 0x10, ord("R")), load_al(ram + 0x10), OUT_DX_AL,
        load_eax(0xfee00020), b"\xc1\xe8\x18", OUT_DX_AL,      # shr eax,24
        mov_ecx(0x1b), RDMSR, b"\xc1\xe8\x08\x24\x0f\x04\x30",
        MOV_DX_CONSOLE, OUT_DX_AL,                      # RDMSR set EDX
        putc("\n"),
    ])
    idtr = BASE + len(code) + 9
    code += triple_fault(idtr) + EMPTY_IDTR
    # File: the .bss of seg C is followed by junk that must not be loaded.
    b_off, c_off = 0x2000, 0x3000
    phdrs = [
        phdr(PT_LOAD, CODE_OFF, BASE, len(code), len(code)),
        phdr(PT_LOAD, b_off, seg_b, 4, 4),
        phdr(PT_LOAD, c_off, seg_c, len(c_file), c_mem),
    ]
    return elf(BASE, phdrs, [(CODE_OFF, code), (b_off, b"two\n" + b"\x55" * 64),
                             (c_off, c_file + b"\x55" * 0x300)])


def idt_guest(body_fn, events=False):
    """A guest with a GDT and a 256-entry IDT.  body_fn(ram) returns the
    main code (run with ESP at the top of the extra RAM).  By default #GP
    prints "GP" and its error code and any other vector prints "EXC", then
    both triple-fault.  With events=True, #GP, NMI (2) and interrupt 200
    print "GP", "NMI", "INT" and spin with interrupts enabled, like
    smallkern; the fourth event triple-faults."""
    gdt = bytes(8) + bytes.fromhex("ffff0000009acf00") + \
        bytes.fromhex("ffff00000092cf00")

    # Layout of the one segment at BASE (two pages):
    #   0x000 entry code, 0x600.. handlers (0x80 each), 0x800 gdtr,
    #   0x808 idtr, 0x840 gdt, 0xc00 empty idtr, 0xc10 event counter,
    #   0x1000 idt (256 gates).
    gdtr_a, idtr_a, gdt_a, empty_a, ctr_a, idt_a = (
        BASE + 0x800, BASE + 0x808, BASE + 0x840, BASE + 0xc00,
        BASE + 0xc10, BASE + 0x1000)
    seg_size = 0x2000
    ram = BASE + seg_size
    ram_top = ram + 512 * 1024
    entry_code = lgdt(gdtr_a) + lidt(idtr_a) + mov_esp(ram_top) + body_fn(ram)
    entry_code += triple_fault(empty_a)
    assert len(entry_code) <= 0x600

    def event(name):
        # inc dword [ctr]; cmp dword [ctr], 4; jne +9; triple fault;
        # print name; sti; jmp $
        return b"\xff\x05" + u32(ctr_a) + b"\x83\x3d" + u32(ctr_a) + \
            b"\x04\x75\x09" + triple_fault(empty_a) + puts(name + "\n") + \
            b"\xfb\xeb\xfe"

    if events:
        handlers = {13: event("GP"), 2: event("NMI"), 200: event("INT")}
    else:
        # #GP: pop the error code, print "GP" and its low digit.
        handlers = {13: b"\x58\x88\xc3" + puts("GP") +
                    b"\x88\xd8\x04\x30" + out_imm(CONSOLE) + putc("\n") +
                    triple_fault(empty_a)}
    other = puts("EXC\n") + triple_fault(empty_a)
    img = bytearray(seg_size)
    img[0:len(entry_code)] = entry_code
    addr = {}
    slot = 0x600
    for v, code in sorted(handlers.items()) + [(-1, other)]:
        assert len(code) <= 0x80 and slot < 0x800
        img[slot:slot + len(code)] = code
        addr[v] = BASE + slot
        slot += 0x80
    gates = b""
    for v in range(256):
        h = addr.get(v, addr[-1])
        gates += struct.pack("<HHBBH", h & 0xffff, 0x08, 0, 0x8e, h >> 16)
    img[0x800:0x806] = struct.pack("<HI", len(gdt) - 1, gdt_a)
    img[0x808:0x80e] = struct.pack("<HI", len(gates) - 1, idt_a)
    img[0x840:0x840 + len(gdt)] = gdt
    img[0xc00:0xc06] = EMPTY_IDTR
    img[0x1000:0x1000 + len(gates)] = gates
    phdrs = [phdr(PT_LOAD, CODE_OFF, BASE, seg_size, seg_size)]
    return elf(BASE, phdrs, [(CODE_OFF, bytes(img))])


def devices_body(ram):
    return b"".join([
        out_imm(0x80),                                  # unknown port
        b"\xe4\x81", yes_no_al(0xff), putc("\n"),       # in: all ones
        load_eax(0xc0000000), yes_no_eax_ones(), putc("\n"),  # unknown MMIO
        store_dword(0xfee00080, 0x12345678),            # LAPIC write
        load_eax(0xfee00020), b"\xc1\xe8\x18", out_imm(CONSOLE), putc("\n"),
        b"\xe4\x7b", yes_no_al(0xff), putc("\n"),       # IN from console
        puts("ab"), out_imm(0x82), puts("c\n"),         # mid-line message
        puts("\x1b[31mred\x7f\n"),                      # control characters
        mov_ecx(5), out_imm(0x80), b"\xe2\xfc",         # 5 more: flood guard
        mov_ecx(0x12345), RDMSR,                        # unknown MSR: #GP
        puts("not reached\n"),
    ])


def halt_body(ram):
    # Waits with interrupts enabled; the injected #GP wakes it.
    return puts("halting\n") + b"\xfb\xf4" + puts("after hlt\n")


def spin_body(ram):
    # Interrupts on, then spin: only injected events get it anywhere.
    return puts("spinning\n") + b"\xfb\xeb\xfe"


def flood_guest():
    """1000 OUTs to port 0x80, then one OUT to each of 1000 new ports."""
    code = b"".join([
        mov_ecx(1000), out_imm(0x80), b"\xe2\xfc",
        mov_ecx(1000), b"\xbb" + u32(0x1000),      # mov ebx, 0x1000
        b"\x89\xda\xee\x43\xe2\xfa",              # mov edx,ebx; out; inc; loop
        puts("done\n"),
    ])
    idtr = BASE + len(code) + 9
    code += triple_fault(idtr) + EMPTY_IDTR
    return elf(BASE, [phdr(PT_LOAD, CODE_OFF, BASE, len(code), len(code))],
               [(CODE_OFF, code)])


def wild_guest():
    """Prints "jumping" and jumps to unbacked guest memory."""
    msg = puts("jumping\n")
    target = 0x50000000
    code = msg + b"\xe9" + u32(target - (BASE + len(msg) + 5))
    return elf(BASE, [phdr(PT_LOAD, CODE_OFF, BASE, len(code), len(code))],
               [(CODE_OFF, code)])


def cli_halt_body(ram):
    return puts("dead end\n") + b"\xfa\xf4" + puts("after hlt\n")


# ---------------------------------------------------------------------------
# Bad images: each is a good one with one thing broken.


def bad_cases():
    code = puts("x\n") + UD2
    one = [phdr(PT_LOAD, CODE_OFF, BASE, len(code), len(code))]
    blobs = [(CODE_OFF, code)]
    good = elf(BASE, one, blobs)

    def load(paddr, memsz, filesz=0, offset=CODE_OFF):
        return phdr(PT_LOAD, offset, paddr, filesz, memsz)

    def ident(cls=2, data=1, ver=1):
        return b"\x7fELF" + bytes([cls, data, ver, 0]) + bytes(8)

    c = []
    c.append(("not_elf", b"this is a text file, not an ELF image at all\n" * 2,
              "not an ELF file (bad magic)"))
    c.append(("short_magic", b"\x7fEL", "truncated ELF header (3 bytes"))
    c.append(("truncated_header", good[:40], "truncated ELF header (40 bytes"))
    c.append(("bad_class", elf(BASE, one, blobs, ident=ident(cls=1)),
              "bad ELF class 1"))
    c.append(("bad_data", elf(BASE, one, blobs, ident=ident(data=2)),
              "bad ELF data encoding 2"))
    c.append(("bad_ident_version", elf(BASE, one, blobs, ident=ident(ver=0)),
              "bad ELF ident version 0"))
    c.append(("bad_machine", elf(BASE, one, blobs, machine=3),
              "bad ELF machine 3"))
    c.append(("type_dyn", elf(BASE, one, blobs, etype=3), "bad ELF type 3"))
    c.append(("type_rel", elf(BASE, one, blobs, etype=1), "bad ELF type 1"))
    c.append(("bad_version", elf(BASE, one, blobs, version=2),
              "bad ELF version 2"))
    c.append(("bad_phentsize", elf(BASE, one, blobs, phentsize=32),
              "bad program header entry size 32"))
    c.append(("no_phdrs", elf(BASE, one, blobs, phnum=0),
              "no program headers"))
    c.append(("too_many_phdrs", elf(BASE, one, blobs, phnum=129),
              "too many program headers (129"))
    c.append(("pn_xnum", elf(BASE, one, blobs, phnum=0xffff),
              "too many program headers (extended numbering"))
    c.append(("phdrs_past_eof", elf(BASE, one, blobs, phoff=len(good) - 20, size=len(good)),
              "program header table"))
    c.append(("phoff_overflow", elf(BASE, one, blobs, phoff=(1 << 64) - 8),
              "program header table [0xfffffffffffffff8, +0x38) lies outside "
              "the file"))
    c.append(("phdrs_truncated", good[:64 + 30], "program header table"))
    c.append(("segdata_past_eof",
              elf(BASE, [load(BASE, 0x2000, 0x2000)], blobs),
              "program header 0: segment file data"))
    c.append(("segoffset_overflow",
              elf(BASE, [load(BASE, 0x40, 0x20, offset=(1 << 64) - 0x10)],
                  blobs),
              "program header 0: segment file data"))
    c.append(("filesz_gt_memsz",
              elf(BASE, [load(BASE, len(code), len(code) + 1)], blobs),
              "program header 0: file size"))
    c.append(("overlap",
              elf(BASE, one + [load(BASE + 4, 0x1000)], blobs),
              "program header 1: segment [0x100004, 0x101004) overlaps "
              "program header 0"))
    c.append(("overlap_contained",
              elf(BASE, [load(BASE, 0x10000, len(code))] + [load(0x200000, 1),
                                                           load(BASE + 0x5000, 1)],
                  blobs),
              "program header 2: segment [0x105000, 0x105001) overlaps "
              "program header 0"))
    c.append(("beyond_128g", elf(BASE, one + [load(0x2000000000, 0x1000)],
                                 blobs),
              "program header 1: segment [0x2000000000, 0x2000001000) lies "
              "outside guest RAM"))
    c.append(("straddle_128g", elf(BASE, one + [load(0x1ffffff000, 0x2000)],
                                   blobs),
              "program header 1: segment [0x1ffffff000, 0x2000001000) lies "
              "outside guest RAM"))
    c.append(("wraps", elf(BASE, one + [load((1 << 64) - 0x1000, 0x2000)],
                           blobs),
              "program header 1: segment at 0xfffffffffffff000 with size "
              "0x2000 wraps around"))
    c.append(("lapic_overlap", elf(BASE, one + [load(0xfedff000, 0x2000)],
                                   blobs),
              "program header 1: segment [0xfedff000, 0xfee01000) overlaps "
              "the LAPIC page"))
    c.append(("lapic_inside", elf(BASE, one + [load(0xfee00800, 0x10)], blobs),
              "program header 1: segment [0xfee00800, 0xfee00810) overlaps "
              "the LAPIC page"))
    c.append(("no_ram_below_lapic",
              elf(BASE, one + [load(0xfedc0000, 0x1000)], blobs),
              "no room for the 512 KiB of extra RAM"))
    c.append(("no_ram_below_128g",
              elf(BASE, one + [load(0x1ffffc0000, 0x1000)], blobs),
              "no room for the 512 KiB of extra RAM"))
    c.append(("entry_outside", elf(0x200000, one, blobs),
              "entry point 0x200000 is not inside any loaded segment"))
    c.append(("entry_in_gap", elf(BASE + len(code), one, blobs),
              "entry point 0x10000a is not inside any loaded segment"))
    c.append(("entry_above_4g",
              elf(0x100000010, one + [load(0x100000000, 0x1000)], blobs),
              "entry point 0x100000010 is above 4 GiB"))
    c.append(("no_load", elf(BASE, [phdr(PT_NOTE, CODE_OFF, 0, 4, 0)], blobs),
              "no loadable segment"))
    c.append(("only_empty_load", elf(BASE, [load(BASE, 0)], blobs),
              "no loadable segment"))
    c.append(("interp", elf(BASE, one + [phdr(PT_INTERP, CODE_OFF, 0, 4, 4)],
                            blobs),
              "program header 1: PT_INTERP"))
    c.append(("dynamic", elf(BASE, [phdr(PT_DYNAMIC, CODE_OFF, 0, 4, 4)] + one,
                             blobs),
              "program header 0: PT_DYNAMIC"))
    c.append(("tls", elf(BASE, one + [phdr(PT_TLS, CODE_OFF, 0, 4, 4)], blobs),
              "program header 1: PT_TLS"))
    c.append(("shlib", elf(BASE, one + [phdr(PT_SHLIB)], blobs),
              "program header 1: unsupported program header type 0x5"))
    c.append(("unknown_type", elf(BASE, one + [phdr(0x60000000)], blobs),
              "program header 1: unsupported program header type "
              "0x60000000"))
    return c


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: toyvirt_elfgen.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    good = {
        "tiny": tiny_guest(),
        "multi": multi_guest(),
        "devices": idt_guest(devices_body),
        "halt": idt_guest(halt_body),
        "cli_halt": idt_guest(cli_halt_body),
        "events": idt_guest(spin_body, events=True),
        "wild": wild_guest(),
        "flood": flood_guest(),
    }
    for name, img in good.items():
        with open(os.path.join(out, name + ".elf"), "wb") as f:
            f.write(img)
    with open(os.path.join(out, "bad.list"), "w") as lst:
        for name, img, msg in bad_cases():
            with open(os.path.join(out, name + ".elf"), "wb") as f:
                f.write(img)
            lst.write("%s|%s\n" % (name, msg))


if __name__ == "__main__":
    main()
