/* t_assist_io_guest.S - guest snippets for t_assist_io: one I/O instruction each, then a checkpoint OUT, in 64-, 32- and 16-bit code. */

/*
 * Every snippet is "<instruction under test>; out %al, $0xF0".  SNIP()
 * (assist_harness.h) records {name, start, end} in ah_sniptab; "end" is
 * the byte after the checkpoint OUT.  Immediate ports are 0x40; DX holds
 * the port of the other forms.  The 16-bit snippets run in real mode with
 * CS based at the start of this code (a 64 KiB window).  No apostrophes
 * in comments: cpp reads this file.
 */

#include "assist_harness.h"

AH_GUEST_BEGIN

/* ------------------------------------------------------------------------
 * 64-bit long mode.
 * ------------------------------------------------------------------------ */
	.code64
SNIP(out1, out %al, $0x40)
SNIP(out2, out %ax, $0x40)
SNIP(out4, out %eax, $0x40)
SNIP(outd1, out %al, (%dx))
SNIP(outd2, out %ax, (%dx))
SNIP(outd4, out %eax, (%dx))
SNIP(in1, in $0x40, %al)
SNIP(in2, in $0x40, %ax)
SNIP(in4, in $0x40, %eax)
SNIP(ind1, in (%dx), %al)
SNIP(ind2, in (%dx), %ax)
SNIP(ind4, in (%dx), %eax)
SNIP(in4_a32, .byte 0x67; in $0x40, %eax)
SNIP(in4_rexw, .byte 0x48; in $0x40, %eax)
SNIP(out1_a32, .byte 0x67; out %al, $0x40)
SNIP(ins1, insb)
SNIP(ins2, insw)
SNIP(ins4, insl)
SNIP(outs1, outsb)
SNIP(outs2, outsw)
SNIP(outs4, outsl)
SNIP(rep_ins1, rep insb)
SNIP(rep_ins2, rep insw)
SNIP(rep_ins4, rep insl)
SNIP(rep_outs1, rep outsb)
SNIP(rep_outs2, rep outsw)
SNIP(rep_outs4, rep outsl)
SNIP(a32_rep_ins1, addr32 rep insb)
SNIP(a32_rep_outs2, addr32 rep outsw)
SNIP(fs_outs1, outsb %fs:(%rsi), (%dx))
SNIP(fs_rep_outs4, rep outsl %fs:(%rsi), (%dx))
SNIP(gs_rep_outs2, rep outsw %gs:(%rsi), (%dx))
SNIP(es_outs1, outsb %es:(%rsi), (%dx))
SNIP(fs_ins1, .byte 0x64; insb)
/* Two OUTs that look alike: the first exit must not be taken for the second. */
SNIP(dup_out, out %al, $0x44; out %al, $0x44)
SNIP(dup_outd, out %al, (%dx); outsb)
/* A byte that looks like a prefix right before a plain OUTS (the last
   byte of a MOV), and a plain OUTS right before a REP OUTS. */
SNIP(amb_outs_fs, mov $0x64, %al; outsb)
SNIP(amb_outs_rep, mov $0xf3, %al; outsb)
SNIP(seq_outs, outsb; rep outsb)
SNIP(hlt1, hlt)
SNIP(mmio_ld, mov (%rbx), %eax)

/* ------------------------------------------------------------------------
 * 32-bit protected mode, paging off.
 * ------------------------------------------------------------------------ */
	.code32
SNIP(p32_out1, out %al, $0x40)
SNIP(p32_out2, out %ax, $0x40)
SNIP(p32_out4, out %eax, $0x40)
SNIP(p32_outd1, out %al, (%dx))
SNIP(p32_outd2, out %ax, (%dx))
SNIP(p32_outd4, out %eax, (%dx))
SNIP(p32_in1, in $0x40, %al)
SNIP(p32_in2, in $0x40, %ax)
SNIP(p32_in4, in $0x40, %eax)
SNIP(p32_ind1, in (%dx), %al)
SNIP(p32_ind2, in (%dx), %ax)
SNIP(p32_ind4, in (%dx), %eax)
SNIP(p32_ins1, insb)
SNIP(p32_ins2, insw)
SNIP(p32_ins4, insl)
SNIP(p32_outs1, outsb)
SNIP(p32_outs2, outsw)
SNIP(p32_outs4, outsl)
SNIP(p32_rep_ins1, rep insb)
SNIP(p32_rep_ins2, rep insw)
SNIP(p32_rep_ins4, rep insl)
SNIP(p32_rep_outs1, rep outsb)
SNIP(p32_rep_outs2, rep outsw)
SNIP(p32_rep_outs4, rep outsl)
SNIP(p32_a16_rep_ins1, addr16 rep insb)
SNIP(p32_a16_rep_outs2, addr16 rep outsw)
SNIP(p32_es_rep_outs1, rep outsb %es:(%esi), (%dx))
SNIP(p32_dup_out, out %al, $0x44; out %al, $0x44)

/* ------------------------------------------------------------------------
 * 16-bit real mode.
 * ------------------------------------------------------------------------ */
	.code16
SNIP(r_out1, out %al, $0x40)
SNIP(r_out2, out %ax, $0x40)
SNIP(r_out4, out %eax, $0x40)
SNIP(r_outd1, out %al, (%dx))
SNIP(r_outd2, out %ax, (%dx))
SNIP(r_outd4, out %eax, (%dx))
SNIP(r_in1, in $0x40, %al)
SNIP(r_in2, in $0x40, %ax)
SNIP(r_in4, in $0x40, %eax)
SNIP(r_ind1, in (%dx), %al)
SNIP(r_ind2, in (%dx), %ax)
SNIP(r_ind4, in (%dx), %eax)
SNIP(r_ins1, insb)
SNIP(r_ins2, insw)
SNIP(r_ins4, insl)
SNIP(r_outs1, outsb)
SNIP(r_outs2, outsw)
SNIP(r_outs4, outsl)
SNIP(r_rep_ins1, rep insb)
SNIP(r_rep_ins2, rep insw)
SNIP(r_rep_ins4, rep insl)
SNIP(r_rep_outs1, rep outsb)
SNIP(r_rep_outs2, rep outsw)
SNIP(r_rep_outs4, rep outsl)
SNIP(r_a32_rep_ins1, .byte 0x67; rep insb)
SNIP(r_a32_rep_outs2, .byte 0x67; rep outsw)
SNIP(r_es_rep_outs1, rep outsb %es:(%si), (%dx))
SNIP(r_dup_out, out %al, $0x44; out %al, $0x44)

AH_GUEST_END
