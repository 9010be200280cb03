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


def note(name, ntype, desc):
    """One ELF note: namesz, descsz, type, name and desc padded to 4."""
    n = name.encode() + b"\0"
    pad = lambda b: b + bytes(-len(b) % 4)
    return struct.pack("<III", len(n), len(desc), ntype) + pad(n) + pad(desc)


def smp_guest():
    """Several VCPUs (toyvirt -c N): a "toyvirt" note (type 1) gives the AP
    entry; toyvirt starts every VCPU with EBX = its index, ESI = N.  Each
    prints one line "cpu ID idx I lapic Y|N A|B": its CPUID APIC id (three
    digits), its index (one digit: N <= 10), 'Y' if the LAPIC ID register
    agrees with CPUID, 'B' if APICBASE has the BSP flag (else 'A').  Then
    it counts itself in with a locked increment; the APs park (cli; hlt),
    the first VCPU waits until all N have counted, prints "all up" and
    triple-faults.  A foreign note comes first: it must be skipped."""
    counter = BASE + 0x800
    common = b"".join([
        b"\x89\xf7",                            # mov edi, esi (N)
        b"\x89\xdc",                            # mov esp, ebx (index)
        b"\xb8\x01\x00\x00\x00\x0f\xa2",        # mov eax, 1; cpuid
        b"\xc1\xeb\x18\x89\xdd",                # shr ebx, 24; mov ebp, ebx
        puts("cpu "),
        b"\x89\xe8\x31\xd2\xb9\x64\x00\x00\x00\xf7\xf1",  # eax=id; div 100
        b"\x04\x30" + out_imm(CONSOLE),          # hundreds
        b"\x89\xd0\xb1\x0a\xf6\xf1\x88\xe2",    # ax=rest; div cl; dl=ah
        b"\x04\x30" + out_imm(CONSOLE),          # tens
        b"\x88\xd0\x04\x30" + out_imm(CONSOLE),  # ones
        puts(" idx "),
        b"\x89\xe0\x04\x30" + out_imm(CONSOLE),  # mov eax, esp; index
        puts(" lapic "),
        load_eax(0xfee00020), b"\xc1\xe8\x18",   # LAPIC ID >> 24
        b"\x39\xe8\xb0\x4e\x75\x02\xb0\x59" + out_imm(CONSOLE),
        putc(" "),
        mov_ecx(0x1b), RDMSR,                     # APICBASE
        b"\xf6\xc4\x01\xb0\x41\x74\x02\xb0\x42" + out_imm(CONSOLE),
        putc("\n"),
        b"\xf0\xff\x05" + u32(counter),           # lock inc [counter]
        b"\x85\xe4",                            # test esp, esp
    ])
    ap_park = b"\xfa\xf4\xeb\xfd"                # cli; hlt; jmp back
    spin = load_eax(counter) + b"\x39\xf8"      # mov eax,[ctr]; cmp eax,edi
    spin += b"\x74\x04\xf3\x90\xeb" + bytes([(-(len(spin) + 6)) & 0xff])
    tail_len = len(spin) + len(puts("all up\n")) + 9
    bsp = spin + puts("all up\n")
    # jnz ap_park: skips the BSP part (spin, message, triple fault, idtr).
    code = b"\x90\x90" + common + b"\x75" + bytes([tail_len + 6]) + bsp
    idtr = BASE + len(code) + 9
    code += triple_fault(idtr) + EMPTY_IDTR + ap_park
    assert len(code) < 0x800
    ap_entry = BASE + 2
    notes = note("GNU", 3, bytes(8)) + note("toyvirt", 1, u32(ap_entry))
    img = bytearray(0x1000)
    img[0:len(code)] = code
    phdrs = [
        phdr(PT_LOAD, CODE_OFF, BASE, len(img), len(img)),
        phdr(PT_NOTE, 0x800, 0, len(notes), 0, flags=4, align=4),
    ]
    return elf(BASE, phdrs, [(0x800, notes), (CODE_OFF, bytes(img))])


# ---------------------------------------------------------------------------
# Hostile guests (tests/t_toyvirt_hostile.sh): each misbehaves in one way.


def mov_eax(x):              # mov eax, imm32
    return b"\xb8" + u32(x)


def mov_ebx(x):              # mov ebx, imm32
    return b"\xbb" + u32(x)


def mov_edi(x):              # mov edi, imm32
    return b"\xbf" + u32(x)


def mov_dx(x):               # mov dx, imm16
    return b"\x66\xba" + struct.pack("<H", x)


def cmp_eax(v):              # cmp eax, imm32
    return b"\x3d" + u32(v)


def yes_no_eq():
    """After a cmp: print 'Y' if equal, else 'N'."""
    return bytes([0xb0, ord("N"), 0x75, 0x02, 0xb0, ord("Y")]) + \
        out_imm(CONSOLE)


def jmp_abs(addr):           # mov eax, addr; jmp eax
    return mov_eax(addr) + b"\xff\xe0"


CLI_SPIN = b"\xfa\xeb\xfe"
STI_SPIN = b"\xfb\xeb\xfe"
REP_INSB = b"\xfc\xf3\x6c"   # cld; rep insb
MOV_CR3_EAX = b"\x0f\x22\xd8"
MOV_EAX_CR0 = b"\x0f\x20\xc0"
MOV_CR0_EAX = b"\x0f\x22\xc0"
MOV_EAX_CR4 = b"\x0f\x20\xe0"
MOV_CR4_EAX = b"\x0f\x22\xe0"


def or_eax(v):               # or eax, imm32
    return b"\x0d" + u32(v)


def plain_guest(code):
    """One PT_LOAD at BASE; returns the image and the end of its extra
    RAM (the first byte past guest RAM)."""
    ram_end = ((BASE + len(code) + 0xfff) & ~0xfff) + 512 * 1024
    return elf(BASE, [phdr(PT_LOAD, CODE_OFF, BASE, len(code), len(code))],
               [(CODE_OFF, code)]), ram_end


def hostile_idt_guest(body, handlers, other):
    """Like idt_guest, with the handlers given: {vector: code}; other is
    the code for every other vector.  body(ram) is the main code."""
    gdt = bytes(8) + bytes.fromhex("ffff0000009acf00") + \
        bytes.fromhex("ffff00000092cf00")
    gdtr_a, idtr_a, gdt_a, empty_a, idt_a = (
        BASE + 0x800, BASE + 0x808, BASE + 0x840, BASE + 0xc00,
        BASE + 0x1000)
    seg_size = 0x2000
    ram = BASE + seg_size
    ram_top = ram + 512 * 1024
    entry = lgdt(gdtr_a) + lidt(idtr_a) + mov_esp(ram_top) + body(ram)
    entry += triple_fault(empty_a)
    assert len(entry) <= 0x600
    img = bytearray(seg_size)
    img[0:len(entry)] = entry
    addr = {}
    slot = 0x600
    for v, code in sorted(handlers.items()) + [(-1, other(empty_a))]:
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
    return elf(BASE, [phdr(PT_LOAD, CODE_OFF, BASE, seg_size, seg_size)],
               [(CODE_OFF, bytes(img))])


def exc_handler(empty_idtr):
    return puts("EXC\n") + triple_fault(empty_idtr)


def forever_guest():
    """Never ends: each injected event prints one line ("G", "N", "I")
    and goes back to the loop with interrupts on, resetting the stack.
    No IRET: KVM's instruction emulator (which runs guest CPL0 code on
    kvm_pvm hosts) has no 32-bit protected-mode IRET; so after the first
    NMI, NMIs stay blocked (toyvirt keeps the next one parked)."""
    pre = lgdt(0) + lidt(0) + mov_esp(0)
    msg = puts("forever\n")
    spin = BASE + len(pre) + len(msg) + 1          # the jmp $ after sti
    top = BASE + 0x2000 + 512 * 1024

    def back(name):
        return puts(name + "\n") + mov_esp(top) + b"\xfb" + jmp_abs(spin)
    handlers = {13: back("G"), 2: back("N"), 200: back("I")}
    return hostile_idt_guest(lambda ram: msg + STI_SPIN, handlers,
                             exc_handler)


def fld1_guest():
    """x87 at CPL0: prints "fpu", runs fld1; fstp st0, prints "fpu ok"."""
    code = puts("fpu\n") + b"\xd9\xe8\xdd\xd8" + puts("fpu ok\n")
    idtr = BASE + len(code) + 9
    code += triple_fault(idtr) + EMPTY_IDTR
    return plain_guest(code)[0]


def console_flood_guest(kib=128, newline=True):
    """kib KiB through the console port with rep outsb, in 64-byte lines
    (or one endless line), then "flood done" and a loop with interrupts
    off that only an injected event ends."""
    line = (b"0123456789abcdef" * 4)[:63] + (b"\n" if newline else b"x")
    msg_a = BASE + 0x100
    loop = mov_esi(msg_a) + mov_ecx(64) + mov_dx(CONSOLE) + REP_OUTSB + \
        b"\x4b"                                         # dec ebx
    loop += b"\x75" + bytes([(-(len(loop) + 2)) & 0xff])  # jnz loop
    code = mov_ebx(kib * 16) + loop + putc("\n") + puts("flood done\n") + \
        CLI_SPIN
    assert len(code) <= 0x100
    code = code.ljust(0x100, b"\x90") + line
    return plain_guest(code)[0]


def port_flood_guest():
    """50000 OUTs to port 0x80, then one OUT to every port but the
    console's, then "ports done" and a triple fault."""
    each = b"\x31\xd2"                                  # xor edx, edx
    body = b"\x66\x83\xfa" + bytes([CONSOLE]) + b"\x74\x01" + OUT_DX_AL
    body += b"\x42\x81\xfa" + u32(0x10000)              # inc edx; cmp
    body += b"\x75" + bytes([(-(len(body) + 2)) & 0xff])  # jne
    code = mov_ecx(50000) + out_imm(0x80) + b"\xe2\xfc" + each + body + \
        puts("ports done\n")
    idtr = BASE + len(code) + 9
    code += triple_fault(idtr) + EMPTY_IDTR
    return plain_guest(code)[0]


def long_mode_on(pml4):
    """CR3 = pml4, CR4.PAE, EFER.LME, CR0.PG: IA-32e mode, still running
    32-bit code (compatibility mode; exceptions would need a 64-bit IDT,
    so none may happen).  kvm_pvm hosts only do 4-level paging."""
    return mov_eax(pml4) + MOV_CR3_EAX + MOV_EAX_CR4 + or_eax(0x20) + \
        MOV_CR4_EAX + mov_ecx(0xc0000080) + RDMSR + or_eax(0x100) + \
        b"\x0f\x30" + MOV_EAX_CR0 + or_eax(0x80000000) + MOV_CR0_EAX


def mmio_guest():
    """4-level paging maps linear 2 MiB + 4 KiB * i to unbacked GPAs: the
    top page of the physical address space, 128 GiB, the page below the
    LAPIC, the LAPIC, the last page of RAM and an unbacked page after it.
    The top comes from CPUID 0x80000008 (MAXPHYADDR, printed first as
    "phys NN"), so that its PTE has no reserved bit on any CPU.  Reads
    across page edges (MMIO/MMIO, MMIO/LAPIC, RAM/MMIO) and one write;
    each read is checked ('Y': all ones where nothing is).  Prints "mmio
    done", then triple-faults.  With MAXPHYADDR below 38, where 128 GiB
    is no physical address, it prints "phys<38" and skips the accesses.
    (32-bit PAE paging would do, but kvm_pvm hosts refuse it: #GP at
    CR0.PG.)"""
    ram = ((BASE + 0x1000 + 0xfff) & ~0xfff)
    pml4, pdpt, pd, pt = ram, ram + 0x1000, ram + 0x2000, ram + 0x3000
    ram_last = ram + 512 * 1024 - 0x1000
    pages = [None, 0x2000000000, 0xfedff000, 0xfee00000, ram_last,
             0x7fff0000]

    def store64(a, v):
        return store_dword(a, v & 0xffffffff) + store_dword(a + 4, v >> 32)
    c = mov_esp(ram + 512 * 1024)
    c += store64(pml4, pdpt | 3) + store64(pdpt, pd | 3)
    c += store64(pd, 0x83)                        # 0-2 MiB, 2 MiB page
    c += store64(pd + 8, pt | 3)
    for i, p in enumerate(pages):
        if p is not None:
            c += store64(pt + 8 * i, p | 3)
    # mov eax, 0x80000008; cpuid; movzx esi, al; print "phys NN"
    c += mov_eax(0x80000008) + b"\x0f\xa2" + b"\x0f\xb6\xf0"
    c += puts("phys ")
    c += b"\x89\xf0\xb3\x0a\xf6\xf3"            # mov eax, esi; div bl
    c += b"\x88\xe3\x04\x30" + out_imm(CONSOLE)    # mov bl, ah; tens
    c += b"\x88\xd8\x04\x30" + out_imm(CONSOLE)    # mov al, bl; ones
    c += putc("\n")
    # The top page's PTE: high dword (1 << (MAXPHYADDR - 32)) - 1.
    top = b"\x89\xf1\x83\xe9\x20"                # mov ecx, esi; sub ecx, 32
    top += b"\xba\x01\x00\x00\x00\xd3\xe2\x4a"   # mov edx, 1; shl edx, cl; dec
    top += b"\x89\x15" + u32(pt + 4)               # mov [pt + 4], edx
    top += store_dword(pt, 0xfffff000 | 3)
    top += long_mode_on(pml4)
    v = 0x200000
    acc = top + load_eax(v) + cmp_eax(0xffffffff) + yes_no_eq()
    acc += load_eax(v + 0xffe) + cmp_eax(0xffffffff) + yes_no_eq()
    acc += store_dword(v + 0x1010, 0x12345678)
    acc += load_eax(v + 0x2ffe) + cmp_eax(0x0000ffff) + yes_no_eq()
    acc += load_eax(v + 0x4ffe) + cmp_eax(0xffff0000) + yes_no_eq()
    acc += putc("\n")
    small = puts("phys<38\n")
    # cmp esi, 38; jb small; acc; jmp over
    c += b"\x83\xfe\x26"
    c += b"\x0f\x82" + u32(len(acc) + 5)            # jb rel32
    c += acc + b"\xe9" + u32(len(small)) + small     # jmp rel32
    c += puts("mmio done\n")
    code = c + triple_fault(BASE + len(c) + 9) + EMPTY_IDTR
    assert len(code) <= 0x1000      # the extra RAM starts at ram
    return plain_guest(code)[0]


def rep_ins_guest():
    """rep insb, ECX = 2^32 - 1, from unknown port 0x80 to the last 16
    bytes of RAM and on into unbacked memory: it never ends."""
    code = puts("rep insb\n") + mov_ecx(0xffffffff) + mov_dx(0x80)
    code += mov_edi(0) + REP_INSB + puts("not reached\n") + CLI_SPIN
    _, ram_end = plain_guest(code)
    code = code.replace(mov_edi(0), mov_edi(ram_end - 16))
    return plain_guest(code)[0]


def rep_outs_guest():
    """rep outsb, ECX = 2^32 - 1, to the console from the last 16 bytes
    of RAM and on from unbacked memory (all ones): it never ends."""
    code = puts("rep outsb\n") + mov_ecx(0xffffffff) + mov_dx(CONSOLE)
    code += mov_esi(0) + b"\xfc" + REP_OUTSB + puts("not reached\n")
    code += CLI_SPIN
    _, ram_end = plain_guest(code)
    code = code.replace(mov_esi(0), mov_esi(ram_end - 16))
    return plain_guest(code)[0]


def bad_cr3_guest():
    """Turns 4-level paging on with its tables in unbacked memory."""
    code = puts("paging\n") + long_mode_on(0x80000000) + puts("paged\n")
    idtr = BASE + len(code) + 9
    code += triple_fault(idtr) + EMPTY_IDTR
    return plain_guest(code)[0]


def wild_to_guest(target):
    """Prints "jumping" and jumps to target (not RAM)."""
    code = puts("jumping\n") + jmp_abs(target)
    return plain_guest(code)[0]


def hostile_guests():
    return {
        "h_forever": forever_guest(),
        "h_fld1": fld1_guest(),
        "h_flood_lines": console_flood_guest(),
        "h_flood_oneline": console_flood_guest(newline=False),
        "h_ports": port_flood_guest(),
        "h_mmio": mmio_guest(),
        "h_rep_ins": rep_ins_guest(),
        "h_rep_outs": rep_outs_guest(),
        "h_bad_cr3": bad_cr3_guest(),
        "h_wild_lapic": wild_to_guest(0xfee00000),
        "h_wild_top": wild_to_guest(0xfffff000),
    }


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
    # The "toyvirt" AP-entry note (added with toyvirt -c).
    notes_at = 0x800

    def with_note(desc, ntype=1, filesz=None, offset=notes_at):
        n = note("toyvirt", ntype, desc)
        ph = phdr(PT_NOTE, offset, 0, len(n) if filesz is None else filesz,
                  0, flags=4, align=4)
        return elf(BASE, one + [ph], blobs + [(notes_at, n)])
    c.append(("note_bad_desc", with_note(b"\x00\x10"),
              "toyvirt AP-entry note at file offset 0x800: descriptor size 2 "
              "(need 4 or 8) (program header 1 at file offset 0x78)"))
    c.append(("note_ap_outside", with_note(u32(0x200000)),
              "the toyvirt note's AP entry point 0x200000 is not inside any "
              "loaded segment"))
    c.append(("note_ap_above_4g", with_note(struct.pack("<Q", 1 << 32)),
              "the toyvirt note's AP entry point 0x100000000"))
    c.append(("note_past_eof", with_note(u32(BASE), offset=0x100000),
              "program header 1: PT_NOTE data [0x100000, +0x18) lies outside "
              "the file"))
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
        "smp": smp_guest(),
    }
    good.update(hostile_guests())
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
