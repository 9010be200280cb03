/* t_xsave_guest.S - guest for t_xsave: enables XSAVE as CPUID describes it, saves and restores its state across exits. */

/*
 * Reports on ports (32-bit OUTs):
 *   0x50  CPUID.1:ECX          0x51  CPUID.0xD.0:EAX (XCR0 bits offered)
 *   0x52  XCR0 set by XSETBV   0x53  an exit after XSETBV (the host reads
 *                                    and writes back all state there)
 *   0x54  XCR0 (XGETBV) after that exit
 *   0x55  CPUID.0xD.0:EBX, the area size for the XCR0 now enabled
 *   0x56  an exit between XSAVE and XRSTOR
 *   0x57  1 if XMM0-15 and MXCSR came back from the area, else 0
 * A guest without XSAVE in CPUID stops after 0x50.  A fault (XSETBV,
 * XSAVE or XRSTOR) has no IDT to go to: the VCPU shuts down.
 */

#define AREA	0x100000	/* VMT_DATA: 64-byte aligned, identity mapped */
#define PATTERN	0x100800

	.text
	.code64
	.globl xs_start, xs_end
xs_start:
	mov	$1, %eax
	cpuid
	mov	%ecx, %eax
	out	%eax, $0x50
	bt	$26, %ecx
	jnc	done

	mov	$0xd, %eax
	xor	%ecx, %ecx
	cpuid
	out	%eax, $0x51
	and	$3, %eax			/* x87 and SSE, as offered */
	mov	%eax, %r12d

	mov	%cr4, %rax
	or	$(1 << 18), %rax		/* CR4.OSXSAVE */
	mov	%rax, %cr4
	mov	%r12d, %eax
	xor	%edx, %edx
	xor	%ecx, %ecx
	xsetbv
	out	%eax, $0x52
	out	%eax, $0x53

	xor	%ecx, %ecx
	xgetbv
	out	%eax, $0x54
	mov	$0xd, %eax
	xor	%ecx, %ecx
	cpuid
	mov	%ebx, %eax
	out	%eax, $0x55

	/* A known XMM and MXCSR state, saved with XSAVE. */
	mov	$PATTERN, %rsi
	movdqu	0x00(%rsi), %xmm0
	movdqu	0x10(%rsi), %xmm1
	movdqu	0x20(%rsi), %xmm2
	movdqu	0x30(%rsi), %xmm3
	movdqu	0x40(%rsi), %xmm4
	movdqu	0x50(%rsi), %xmm5
	movdqu	0x60(%rsi), %xmm6
	movdqu	0x70(%rsi), %xmm7
	movdqu	0x80(%rsi), %xmm8
	movdqu	0x90(%rsi), %xmm9
	movdqu	0xa0(%rsi), %xmm10
	movdqu	0xb0(%rsi), %xmm11
	movdqu	0xc0(%rsi), %xmm12
	movdqu	0xd0(%rsi), %xmm13
	movdqu	0xe0(%rsi), %xmm14
	movdqu	0xf0(%rsi), %xmm15
	ldmxcsr	0x100(%rsi)
	mov	%r12d, %eax
	xor	%edx, %edx
	xsave	AREA
	out	%eax, $0x56

	/* Other values, then the saved ones back, as a kernel's signal
	   return does: the header says x87 and SSE state are present. */
	pxor	%xmm0, %xmm0
	pxor	%xmm7, %xmm7
	pxor	%xmm15, %xmm15
	movl	$0x1f80, 0x108(%rsi)
	ldmxcsr	0x108(%rsi)
	orq	%r12, AREA + 512
	mov	%r12d, %eax
	xor	%edx, %edx
	xrstor	AREA

	/* Compare: XMM0-15 against the pattern, MXCSR too. */
	mov	$1, %ebx
	sub	$0x110, %rsp
	movdqu	%xmm0, 0x00(%rsp)
	movdqu	%xmm1, 0x10(%rsp)
	movdqu	%xmm2, 0x20(%rsp)
	movdqu	%xmm3, 0x30(%rsp)
	movdqu	%xmm4, 0x40(%rsp)
	movdqu	%xmm5, 0x50(%rsp)
	movdqu	%xmm6, 0x60(%rsp)
	movdqu	%xmm7, 0x70(%rsp)
	movdqu	%xmm8, 0x80(%rsp)
	movdqu	%xmm9, 0x90(%rsp)
	movdqu	%xmm10, 0xa0(%rsp)
	movdqu	%xmm11, 0xb0(%rsp)
	movdqu	%xmm12, 0xc0(%rsp)
	movdqu	%xmm13, 0xd0(%rsp)
	movdqu	%xmm14, 0xe0(%rsp)
	movdqu	%xmm15, 0xf0(%rsp)
	stmxcsr	0x100(%rsp)
	mov	$(0x104 / 4), %ecx
	mov	%rsp, %rdi
	cld
	repe cmpsl
	je	1f
	xor	%ebx, %ebx
1:	mov	%ebx, %eax
	out	%eax, $0x57
done:
	hlt
	jmp	done
xs_end:
	.section .note.GNU-stack,"",@progbits
