/* t_exits_guest.S - guest code for t_exits: one exit of each kind, in order. */

#define G(l)	((l) - exits_start + 0x10000)

	.text
	.code64
	.globl exits_start, exits_end
	.globl exits_out, exits_in, exits_hlt, exits_after_hlt, exits_rdmsr
	.globl exits_wrmsr, exits_mmio_rd, exits_mmio_wr, exits_ins
	.globl exits_rmw, exits_vmmcall
exits_start:
	mov	$0x12345678, %eax
exits_out:
	out	%eax, $0x10			/* IO out, imm port, 4 bytes */
	mov	$0x21, %dx
exits_in:
	in	%dx, %al			/* IO in, DX port, 1 byte */
	out	%eax, $0x11			/* reports RAX */
	lea	exits_buf(%rip), %rdi
	mov	$3, %ecx
	mov	$0x22, %dx
exits_ins:
	rep insw				/* string in, 3 words */
	out	%eax, $0x11
exits_hlt:
	hlt
exits_after_hlt:
	mov	$0x1b, %ecx
exits_rdmsr:
	rdmsr					/* RDMSR for the client */
	out	%eax, $0x12
	mov	%edx, %eax
	out	%eax, $0x12
	mov	$0x12345, %ecx
	mov	$0xaabbccdd, %eax
	mov	$0x11223344, %edx
exits_wrmsr:
	wrmsr
	mov	$0x20000000, %ebx
exits_mmio_rd:
	mov	(%rbx), %eax			/* MMIO read, 4 bytes */
	out	%eax, $0x13
exits_mmio_wr:
	movq	$0x5566778899, %rax
	mov	%rax, 8(%rbx)			/* MMIO write, 8 bytes */
exits_rmw:
	orl	$0x80000000, 16(%rbx)		/* MMIO read then write */
	out	%eax, $0x14
exits_vmmcall:
	vmmcall					/* #UD; no IDT: triple fault */
	out	%eax, $0x15			/* kvm_amd: hypercall returned */
	ud2
	.align 16
exits_buf:
	.quad	0, 0
exits_end:
	.section .note.GNU-stack,"",@progbits
