/* t_assist_mem_guest.S - guest snippets for t_assist_mem: one MMIO instruction each, then a checkpoint OUT. */

/*
 * Every snippet is "<instruction under test>; out %al, $0xF0".  The host
 * loads the registers, points RIP at a snippet and runs it until the
 * checkpoint.  SNIP() (assist_harness.h) also records {name, start,
 * end} in ah_sniptab so that the host finds snippets by name; "end" is
 * the byte after the checkpoint OUT.  The memory operand is (%rbx)
 * unless the instruction has a fixed one.  No apostrophes in comments:
 * cpp reads this file.
 */

#define MMIO	0x20000000

#include "assist_harness.h"

AH_GUEST_BEGIN

/* ------------------------------------------------------------------------
 * 64-bit snippets.
 * ------------------------------------------------------------------------ */
	.code64

/* MOV stores (88, 89) and loads (8A, 8B), with AH, REX byte and R8+ registers. */
SNIP(st_r1, mov %cl, (%rbx))
SNIP(st_r2, mov %cx, (%rbx))
SNIP(st_r4, mov %ecx, (%rbx))
SNIP(st_r8, mov %rcx, (%rbx))
SNIP(st_ah, mov %ah, (%rbx))
SNIP(st_sil, mov %sil, (%rbx))
SNIP(st_r9b, mov %r9b, (%rbx))
SNIP(st_r10, mov %r10, (%rbx))
SNIP(st_r12d, mov %r12d, 0x18(%rbx))
SNIP(ld_r1, mov (%rbx), %cl)
SNIP(ld_r2, mov (%rbx), %cx)
SNIP(ld_r4, mov (%rbx), %ecx)
SNIP(ld_r8, mov (%rbx), %rcx)
SNIP(ld_ah, mov (%rbx), %ah)
SNIP(ld_dil, mov (%rbx), %dil)
SNIP(ld_r11, mov (%rbx), %r11)
SNIP(ld_r13w, mov (%rbx), %r13w)
SNIP(ld_sib, mov 0x10(%rbx,%rsi,4), %ecx)
SNIP(ld_riprel, .byte 0x8b, 0x15; .long MMIO + 0x20 - (1f - ah_code + 0x10000); 1:)

/* MOV with a 64-bit moffs (A0-A3), and A1 with a 32-bit moffs (67). */
SNIP(mo_ld1, movabs MMIO + 0x10, %al)
SNIP(mo_ld2, movabs MMIO + 0x10, %ax)
SNIP(mo_ld4, movabs MMIO + 0x10, %eax)
SNIP(mo_ld8, movabs MMIO + 0x10, %rax)
SNIP(mo_st1, movabs %al, MMIO + 0x10)
SNIP(mo_st2, movabs %ax, MMIO + 0x10)
SNIP(mo_st4, movabs %eax, MMIO + 0x10)
SNIP(mo_st8, movabs %rax, MMIO + 0x10)
SNIP(mo_ld4_a32, .byte 0x67, 0xa1; .long MMIO + 0x10)

/* MOV r/m, imm (C6, C7; imm32 sign-extended for 64-bit). */
SNIP(st_i1, movb $0x5a, (%rbx))
SNIP(st_i2, movw $0x1234, (%rbx))
SNIP(st_i4, movl $0x89abcdef, (%rbx))
SNIP(st_i8, movq $-0x12345678, (%rbx))
SNIP(st_i8p, movq $0x7edcba98, (%rbx))

/* MOVZX, MOVSX, MOVSXD. */
SNIP(zx_bw, movzbw (%rbx), %cx)
SNIP(zx_bl, movzbl (%rbx), %ecx)
SNIP(zx_bq, movzbq (%rbx), %rcx)
SNIP(zx_wl, movzwl (%rbx), %ecx)
SNIP(zx_wq, movzwq (%rbx), %rcx)
SNIP(sx_bw, movsbw (%rbx), %cx)
SNIP(sx_bl, movsbl (%rbx), %ecx)
SNIP(sx_bq, movsbq (%rbx), %rcx)
SNIP(sx_wl, movswl (%rbx), %ecx)
SNIP(sx_wq, movswq (%rbx), %rcx)
SNIP(sx_lq, movslq (%rbx), %rcx)

/* ALU: r/m OP= r, r OP= r/m, r/m OP= imm (80, 81, 83). */
#define ALU(op)							\
SNIP(op##_mr1, op %cl, (%rbx))					\
SNIP(op##_mr2, op %cx, (%rbx))					\
SNIP(op##_mr4, op %ecx, (%rbx))					\
SNIP(op##_mr8, op %rcx, (%rbx))					\
SNIP(op##_rm1, op (%rbx), %cl)					\
SNIP(op##_rm2, op (%rbx), %cx)					\
SNIP(op##_rm4, op (%rbx), %ecx)					\
SNIP(op##_rm8, op (%rbx), %rcx)					\
SNIP(op##_i80, op##b $0xa5, (%rbx))				\
SNIP(op##_i81w, op##w $0x1234, (%rbx))				\
SNIP(op##_i81l, op##l $0x12345678, (%rbx))			\
SNIP(op##_i81q, op##q $-0x12345678, (%rbx))			\
SNIP(op##_i83w, op##w $-3, (%rbx))				\
SNIP(op##_i83l, op##l $-3, (%rbx))				\
SNIP(op##_i83q, op##q $-3, (%rbx))

ALU(add)
ALU(or)
ALU(adc)
ALU(sbb)
ALU(and)
ALU(sub)
ALU(xor)
ALU(cmp)

/* TEST r/m, r (84, 85) and r/m, imm (F6 /0, F7 /0). */
SNIP(test_mr1, test %cl, (%rbx))
SNIP(test_mr2, test %cx, (%rbx))
SNIP(test_mr4, test %ecx, (%rbx))
SNIP(test_mr8, test %rcx, (%rbx))
SNIP(test_i1, testb $0xa5, (%rbx))
SNIP(test_i2, testw $0x8001, (%rbx))
SNIP(test_i4, testl $0x80000001, (%rbx))
SNIP(test_i8, testq $-0x7ffffff0, (%rbx))

/* XCHG r/m, r (86, 87). */
SNIP(xchg1, xchg %cl, (%rbx))
SNIP(xchg2, xchg %cx, (%rbx))
SNIP(xchg4, xchg %ecx, (%rbx))
SNIP(xchg8, xchg %rcx, (%rbx))

/* INC, DEC (FE, FF), NOT, NEG (F6, F7). */
#define UN(op)							\
SNIP(op##1, op##b (%rbx))					\
SNIP(op##2, op##w (%rbx))					\
SNIP(op##4, op##l (%rbx))					\
SNIP(op##8, op##q (%rbx))

UN(inc)
UN(dec)
UN(not)
UN(neg)

/* BT, BTS, BTR, BTC with a register (0F A3/AB/B3/BB) and imm8 (0F BA). */
#define BT(op)							\
SNIP(op##_r2, op %cx, (%rbx))					\
SNIP(op##_r4, op %ecx, (%rbx))					\
SNIP(op##_r8, op %rcx, (%rbx))					\
SNIP(op##_i2, op##w $29, (%rbx))				\
SNIP(op##_i4, op##l $45, (%rbx))				\
SNIP(op##_i8, op##q $61, (%rbx))

BT(bt)
BT(bts)
BT(btr)
BT(btc)

/* A locked read-modify-write. */
SNIP(lock_or4, lock orl %ecx, (%rbx))

/* String instructions. */
SNIP(movs1, movsb)
SNIP(movs2, movsw)
SNIP(movs4, movsl)
SNIP(movs8, movsq)
SNIP(rep_movs1, rep movsb)
SNIP(rep_movs2, rep movsw)
SNIP(rep_movs4, rep movsl)
SNIP(rep_movs8, rep movsq)
SNIP(stos1, stosb)
SNIP(stos2, stosw)
SNIP(stos4, stosl)
SNIP(stos8, stosq)
SNIP(rep_stos1, rep stosb)
SNIP(rep_stos2, rep stosw)
SNIP(rep_stos4, rep stosl)
SNIP(rep_stos8, rep stosq)
SNIP(lods1, lodsb)
SNIP(lods2, lodsw)
SNIP(lods4, lodsl)
SNIP(lods8, lodsq)
SNIP(rep_lods1, rep lodsb)
SNIP(rep_lods2, rep lodsw)
SNIP(rep_lods4, rep lodsl)
SNIP(rep_lods8, rep lodsq)
SNIP(cmps1, cmpsb)
SNIP(cmps2, cmpsw)
SNIP(cmps4, cmpsl)
SNIP(cmps8, cmpsq)
SNIP(repe_cmps1, repe cmpsb)
SNIP(repe_cmps2, repe cmpsw)
SNIP(repe_cmps4, repe cmpsl)
SNIP(repe_cmps8, repe cmpsq)
SNIP(repne_cmps1, repne cmpsb)
SNIP(repne_cmps2, repne cmpsw)
SNIP(repne_cmps4, repne cmpsl)
SNIP(repne_cmps8, repne cmpsq)
SNIP(a32_rep_stos1, addr32 rep stosb)
SNIP(a32_rep_movs4, addr32 rep movsl)

/* ------------------------------------------------------------------------
 * 32-bit protected-mode snippets (paging off, flat unless the host
 * changes a segment base).
 * ------------------------------------------------------------------------ */
	.code32
SNIP(p32_ld4, mov (%ebx), %ecx)
SNIP(p32_ld2, mov (%ebx), %cx)
SNIP(p32_st1, mov %cl, (%ebx))
SNIP(p32_st4, mov %ecx, 4(%ebx))
SNIP(p32_add_mr4, add %ecx, (%ebx))
SNIP(p32_or_rm2, or (%ebx), %cx)
SNIP(p32_sub_i83l, subl $-3, (%ebx))
SNIP(p32_zx_bl, movzbl (%ebx), %ecx)
SNIP(p32_xchg4, xchg %ecx, (%ebx))
SNIP(p32_mo_ld4, movl MMIO + 0x10, %eax)
SNIP(p32_rep_stos4, rep stosl)
SNIP(p32_rep_movs1, rep movsb)
SNIP(p32_rep_lods2, rep lodsw)
SNIP(p32_a16_ld4, addr16 mov 0x10(%bx,%si), %ecx)
SNIP(p32_a16_rep_stos2, addr16 rep stosw)

AH_GUEST_END
