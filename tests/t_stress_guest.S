/* t_stress_guest.S - guest for t_stress: handlers count every event per vector in memory, report with an OUT and IRETQ; a CPL0 and a CPL3 loop. */

/*
 * Loaded at 0x10000; t_stress builds the GDT (with user segments and a
 * TSS), the IDT (st_stubs + 16 * vector) and the stacks.  Memory at
 * ST_CNT: u64 count[256], then the sum of the error codes, then the
 * loop's progress counter.
 */

#define ST_CNT		0x100000
#define ST_ERRSUM	(ST_CNT + 0x800)
#define ST_PROGRESS	(ST_CNT + 0x808)

#define ERRCODE_VECS(v) ((v) == 8 || (v) == 10 || (v) == 11 || (v) == 12 || \
			 (v) == 13 || (v) == 14 || (v) == 17 || (v) == 21 || \
			 (v) == 30)

	.text
	.code64
	.globl st_start, st_end, st_stubs, st_cpl0_loop, st_to_cpl3
	.globl st_cpl3_loop
st_start:

	.align	16
st_stubs:
	.set	vec, 0
	.rept	256
	.align	16
	.if	ERRCODE_VECS(vec)
	pushq	$vec
	.else
	pushq	$0
	pushq	$vec
	.endif
	jmp	st_common
	.set	vec, vec + 1
	.endr

/* Frame: vec, err, rip, cs, rflags, rsp, ss. */
st_common:
	push	%rax
	push	%rdx
	mov	16(%rsp), %rax
	lock incq ST_CNT(,%rax,8)
	mov	24(%rsp), %rdx
	lock addq %rdx, ST_ERRSUM
	out	%al, $0xe0		/* an exit: the host may inject again */
	pop	%rdx
	pop	%rax
	add	$16, %rsp
	iretq

/* CPL0: interrupts on, count forever. */
st_cpl0_loop:
	sti
1:	incq	ST_PROGRESS
	jmp	1b

/* Enter CPL3 by IRETQ: SS 0x2b, RSP from RBX, RFLAGS 0x202, CS 0x33. */
st_to_cpl3:
	pushq	$0x2b
	pushq	%rbx
	pushq	$0x202
	pushq	$0x33
	lea	st_cpl3_loop(%rip), %rax
	pushq	%rax
	iretq

/* CPL3: count forever (natively on kvm_pvm). */
st_cpl3_loop:
	incq	ST_PROGRESS
	jmp	st_cpl3_loop
st_end:
	.section .note.GNU-stack,"",@progbits
