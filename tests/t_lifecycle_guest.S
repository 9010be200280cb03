/* t_lifecycle_guest.S - guest for t_lifecycle: count in RBX, OUT each turn. */

	.text
	.code64
	.globl lc_start, lc_end
lc_start:
	xor	%ebx, %ebx
1:	inc	%rbx
	mov	%ebx, %eax
	out	%eax, $0x70
	jmp	1b
lc_end:
	.section .note.GNU-stack,"",@progbits
