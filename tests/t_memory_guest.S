/* t_memory_guest.S - guest code for t_memory: accesses to RO, no-access, unmapped and remapped RAM. */

/*
 * Runs in 64-bit mode at VMT_CODE with the first GiB identity-mapped.
 * Every step ends with an OUT to its own port so that the host can look
 * at the registers and at memory between steps.  The GPAs match the
 * ones t_memory.c maps.
 */

#define RO_GPA		0x800000
#define NONE_GPA	0x900000
#define RW_GPA		0xa00000

	.text
	.code64
	.globl mem_start, mem_end
	.globl mem_ro_read, mem_ro_write, mem_none_read, mem_none_write
	.globl mem_rw_read, mem_rw_write, mem_gone_read, mem_gone_write
	.globl mem_remap_read, mem_remap_write, mem_hlt
mem_start:
	mov	$RO_GPA, %ebx
mem_ro_read:
	mov	(%rbx), %rax			/* read-only RAM: no exit */
	out	%eax, $0x10
mem_ro_write:
	movl	$0x11223344, 8(%rbx)		/* MEMORY exit, write */
	out	%eax, $0x11
	mov	$NONE_GPA, %ecx
mem_none_read:
	mov	0x10(%rcx), %eax		/* MEMORY exit, read */
	out	%eax, $0x12
mem_none_write:
	movl	$0x55667788, 0x20(%rcx)		/* MEMORY exit, write */
	out	%eax, $0x13
	mov	$RW_GPA, %edx
mem_rw_read:
	mov	(%rdx), %eax			/* what the host wrote */
	out	%eax, $0x14
mem_rw_write:
	movl	$0xdeadbeef, 4(%rdx)		/* the host sees it */
	out	%eax, $0x15			/* the host unmaps RW_GPA */
mem_gone_read:
	mov	(%rdx), %eax			/* MEMORY exit, read */
	out	%eax, $0x16
mem_gone_write:
	movl	$0x01020304, 8(%rdx)		/* MEMORY exit, write */
	out	%eax, $0x17			/* the host remaps, sets RSI */
mem_remap_read:
	mov	(%rsi), %eax
	out	%eax, $0x18
mem_remap_write:
	movl	$0xcafef00d, 12(%rsi)
	out	%eax, $0x19
mem_hlt:
	hlt
	jmp	mem_hlt
mem_end:
	.section .note.GNU-stack,"",@progbits
