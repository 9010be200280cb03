/* t_hostile_guest.S - guest routines for t_hostile: each misbehaves in one way; the host picks one by setting RIP and registers. */

/*
 * Loaded at GPA/GVA 0x10000 (vmtest's long-mode setup: CPL0, the first
 * GiB identity-mapped).  Every routine ends with HLT (an exit) or never
 * ends; the host sets RDI, RSI, RCX, RDX as the routine says.
 */

	.text
	.code64
	.globl h_start, h_end
	.globl h_triple, h_spin, h_wild, h_fld1, h_fld1_after, h_cpuid
	.globl h_ld1, h_ld2, h_ld4, h_ld8, h_st4, h_st8
	.globl h_rep_insb, h_rep_outsb, h_rep_insb_down, h_rep_outsb_a32
	.globl h_out_page, h_out_page_end, h_cons_flood, h_cr3
	.align	4096
h_start:

/* An empty IDT, then #UD: triple fault. */
h_triple:
	lidt	h_empty_idtr(%rip)
	ud2

/* Spins forever without an exit, interrupts off. */
h_spin:
	cli
1:	jmp	1b

/* Jumps to RDI (unbacked guest memory). */
h_wild:
	jmp	*%rdi

/* x87 at CPL0 (KVM's emulator on kvm_pvm cannot run it), then OUT 0x10
   with the low byte of the stored 1.0's exponent. */
h_fld1:
	fld1
h_fld1_after:
	fstpl	h_scratch(%rip)
	mov	h_scratch+6(%rip), %ax
	out	%ax, $0x10
	hlt

/* Loads CR3 from RDI: page tables outside guest RAM. */
h_cr3:
	mov	%rdi, %cr3
	nop
	hlt

/* CPUID leaf RAX (subleaf 0), result in EAX..EDX. */
h_cpuid:
	xor	%ecx, %ecx
	cpuid
	hlt

/* Loads and stores at RDI (stores write RSI). */
h_ld1:	movzbq	(%rdi), %rax
	hlt
h_ld2:	movzwq	(%rdi), %rax
	hlt
h_ld4:	movl	(%rdi), %eax
	hlt
h_ld8:	movq	(%rdi), %rax
	hlt
h_st4:	movl	%esi, (%rdi)
	hlt
h_st8:	movq	%rsi, (%rdi)
	hlt

/* String I/O: port DX, count RCX, RDI/RSI as set. */
h_rep_insb:
	cld
	rep insb
	hlt
h_rep_insb_down:
	std
	rep insb
	cld
	hlt
h_rep_outsb:
	cld
	rep outsb
	hlt
/* 32-bit addressing: ESI wraps at 4 GiB, ECX counts. */
h_rep_outsb_a32:
	cld
	addr32 rep outsb
	hlt

/* Console flood: RCX times OUT of AL to port DX, then HLT. */
h_cons_flood:
	mov	$'x', %al
1:	out	%al, %dx
	dec	%rcx
	jnz	1b
	hlt

	.align	8
h_empty_idtr:
	.word	0
	.quad	0
h_scratch:
	.quad	0

/* A page that starts with an OUT: the host maps it after a page whose
   translation leads outside guest RAM. */
	.align	4096
h_out_page:
	out	%al, $0x12
	hlt
	.align	4096
h_out_page_end:
h_end:
	.section .note.GNU-stack,"",@progbits
