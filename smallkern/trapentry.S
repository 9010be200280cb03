/* trapentry.S - IDT entry stubs, the common trap entry and exits, and the CPL3 trampoline. */

#include "smallkern.h"

/* -------------------------------------------------------------------------
 * 256 entry stubs, TRAP_STUB_SIZE bytes apart in one page (idt_init()
 * relies on both; the longest stub is 12 bytes).  Each makes the frame
 * uniform: a 0 where the CPU pushes no error code, then the vector number.
 * ------------------------------------------------------------------------- */

	.text
	.balign	4096
	.globl	trap_stubs
trap_stubs:
	.set	vec, 0
	.rept	256
	.balign	TRAP_STUB_SIZE
	/* Exceptions with an error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX */
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || \
	    (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$vec
	jmp	trap_common
	.set	vec, vec + 1
	.endr
	.balign	TRAP_STUB_SIZE
	.globl	trap_stubs_end		/* smallkern.ld checks the size */
trap_stubs_end:

/* -------------------------------------------------------------------------
 * Common entry: save the registers (struct trapframe) and call trap().
 * The CPU aligned RSP to 16 before pushing its 5 words; with the error
 * code, the vector and 15 registers RSP is 16-byte aligned at the call.
 * ------------------------------------------------------------------------- */

/* Restores the 15 registers; RSP ends at the vector slot. */
	.macro	POP_REGS
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	.endm

trap_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	cld				/* the C ABI wants DF=0 */
	mov	%rsp, %rdi
	call	trap
	cmp	$TRAP_RET_USER, %eax
	je	1f

	/*
	 * Back into CPL0 code (a handler that was interrupted, or the boot
	 * code after a failed rdmsr_safe): trap() left the interrupted
	 * RFLAGS and RIP below the interrupted RSP and that address in the
	 * vector slot.
	 */
	POP_REGS
	mov	(%rsp), %rsp
	popfq
	ret

	/*
	 * Back to CPL3: SYSRETQ into the trampoline, which restores RCX and
	 * R11 (trap() stored them in ushared).  RCX is a fixed canonical
	 * address, so SYSRETQ cannot #GP on Intel.  An event between loading
	 * the user RSP and SYSRETQ is taken at CPL0 on the user stack, below
	 * its RSP: the CPL3 task is built without red zone for that reason.
	 */
1:	POP_REGS
	mov	TF_RFLAGS - TF_VECTOR(%rsp), %r11
	mov	$utramp, %ecx
	mov	TF_RSP - TF_VECTOR(%rsp), %rsp
	sysretq

/* -------------------------------------------------------------------------
 * CPL3 code (user pages).
 * ------------------------------------------------------------------------- */

	.section .utext, "ax"

/*
 * The trampoline: every return to CPL3 passes here.  It changes no flag
 * and no stack slot, so the interrupted context comes back whole.  trap()
 * restarts it from the top when an event interrupts it.
 */
	.globl	utramp, utramp_end
utramp:
	mov	ushared + US_RCX(%rip), %rcx
	mov	ushared + US_R11(%rip), %r11
	jmp	*ushared + US_RIP(%rip)
utramp_end:

/* First entry of the CPL3 task, on an empty user stack (16-byte aligned). */
	.globl	utask_start
utask_start:
	call	utask_main
1:	jmp	1b

	.section .note.GNU-stack, "", @progbits
