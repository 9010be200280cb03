/* locore.S - entry from 32-bit protected mode into long mode, the GDT, small CPU helpers. */

#include "smallkern.h"

#define PG_P		0x001
#define PG_RW		0x002
#define PG_PS		0x080

#define CR0_BOOT	0x80010033	/* PG WP NE ET MP PE; CD NW EM TS clear */
#define CR4_BOOT	0x00000620	/* PAE OSFXSR OSXMMEXCPT */
#define EFER_LME	0x100
#define EFER_SCE	0x001

/* -------------------------------------------------------------------------
 * PVH entry note.  PVH loaders (QEMU -kernel, Xen, Firecracker...) read it
 * from the PT_NOTE segment and enter the 32-bit address it holds in the
 * same state as our own VMM does: protected mode, paging off, flat 4 GiB
 * segments, interrupts off (plus EBX = start-info struct, unused here).
 * ------------------------------------------------------------------------- */

	.section .note.Xen, "a", @note
	.balign 4
	.long	4			/* name size: "Xen\0" */
	.long	4			/* descriptor size */
	.long	18			/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz	"Xen"
	.long	start			/* 32-bit physical entry address */

/* -------------------------------------------------------------------------
 * 32-bit entry.  Nothing is assumed about the stack, the GDTR or EFLAGS.DF,
 * so this code uses no stack and loads no segment register before its own
 * GDT is in place.
 * ------------------------------------------------------------------------- */

	.section .text.boot, "ax"
	.code32
	.globl	start
start:
	cli
	cld

	/* Zero .bss: a VMM normally does, but the kernel must not depend on it. */
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	shr	$2, %ecx		/* both ends 8-byte aligned (smallkern.ld) */
	xor	%eax, %eax
	rep stosl

	/*
	 * Boot page tables, just enough to reach C: the first 2 MiB
	 * identity-mapped with one large page.  vm_init() replaces them.
	 */
	mov	$__boot_pml4, %edi
	mov	$(3 * 4096 / 4), %ecx
	rep stosl
	movl	$(__boot_pdpt + PG_P + PG_RW), __boot_pml4
	movl	$(__boot_pd + PG_P + PG_RW), __boot_pdpt
	movl	$(PG_P + PG_RW + PG_PS), __boot_pd

	/* PAE paging plus SSE enabled (for the CPL3 task). */
	mov	$CR4_BOOT, %eax
	mov	%eax, %cr4

	/* Long mode; SCE because handlers leave through SYSRETQ. */
	mov	$EFER_MSR, %ecx
	rdmsr
	or	$(EFER_LME | EFER_SCE), %eax
	wrmsr

	mov	$__boot_pml4, %eax
	mov	%eax, %cr3
	mov	$CR0_BOOT, %eax		/* paging on: long mode is now active */
	mov	%eax, %cr0

	/* A far jump through a 64-bit code segment leaves compatibility mode. */
	lgdt	gdt_desc
	ljmp	$GSEL_KCODE, $start64

	.code64
start64:
	mov	$GSEL_KDATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	xor	%eax, %eax
	mov	%eax, %fs
	mov	%eax, %gs

	mov	$__kstack_top, %rsp
	xor	%ebp, %ebp
	call	kmain
1:	jmp	1b			/* kmain never returns */

/* -------------------------------------------------------------------------
 * Helpers called from C.
 * ------------------------------------------------------------------------- */

	.text

/*
 * int rdmsr_safe(uint32_t msr, uint64_t *val): 0, or -1 if RDMSR faulted.
 * trap() recognises a #GP at rdmsr_safe_insn and resumes at the fixup, so
 * a VMM that does not implement the MSR costs a "[!]" line, not the boot.
 */
	.globl	rdmsr_safe, rdmsr_safe_insn, rdmsr_safe_fixup
rdmsr_safe:
	mov	%edi, %ecx
rdmsr_safe_insn:
	rdmsr
	shl	$32, %rdx
	or	%rdx, %rax
	mov	%rax, (%rsi)
	xor	%eax, %eax
	ret
rdmsr_safe_fixup:
	mov	$-1, %eax
	ret

/*
 * VMMCALL must be refused with #UD.  Where it is a hypercall that returns
 * instead (KVM on AMD hardware), the UD2 after it raises the same #UD.
 * For that case, ask for a hypercall number no hypervisor defines, with
 * zero arguments, so that the call does nothing but fail.
 */
	.globl	vmmcall_then_ud2
vmmcall_then_ud2:
	mov	$-1, %rax
	xor	%ebx, %ebx
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	vmmcall
	ud2

/* -------------------------------------------------------------------------
 * GDT.  The selectors are fixed by SYSRETQ: STAR[63:48] = 0x18 gives user
 * SS = 0x20|3 and user CS = 0x28|3.  Writable: the CPU sets accessed and
 * busy bits in it.
 * ------------------------------------------------------------------------- */

	.data
	.balign	16
	.globl	gdt
gdt:
	.quad	0			/* 0x00: null */
	.quad	0x00af9a000000ffff	/* 0x08: kernel code, 64-bit, DPL 0 */
	.quad	0x00cf92000000ffff	/* 0x10: kernel data, DPL 0 */
	.quad	0			/* 0x18: (32-bit user code, unused) */
	.quad	0x00cff2000000ffff	/* 0x20: user data, DPL 3 */
	.quad	0x00affa000000ffff	/* 0x28: user code, 64-bit, DPL 3 */
	.quad	0, 0			/* 0x30: TSS, set by gdt_tss_init() */
gdt_end:

	.balign	8
	.globl	gdt_desc
gdt_desc:
	.word	gdt_end - gdt - 1
	.quad	gdt

	.section .note.GNU-stack, "", @progbits
