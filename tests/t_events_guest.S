/* t_events_guest.S - guest for t_events: an IDT whose handlers report each
   event by port I/O, and small scenarios that wait for events. */

#define ERRCODE_VECS(v) ((v) == 8 || (v) == 10 || (v) == 11 || (v) == 12 || \
			 (v) == 13 || (v) == 14 || (v) == 17 || (v) == 21 || \
			 (v) == 30)

	.text
	.code64
	.globl ev_start, ev_end, ev_stubs, ev_halt_loop, ev_spin, ev_cli_wait
	.globl ev_vmmcall
	.globl ev_cr8, ev_after_cli_out, ev_cr8_lower, ev_cr8_lowered
ev_start:

/* Every stub is 16 bytes: the host computes stub = ev_stubs + 16 * vector. */
	.align	16
ev_stubs:
	.set	vec, 0
	.rept	256
	.align	16
	.if	ERRCODE_VECS(vec)
	pushq	$vec
	.else
	pushq	$0
	pushq	$vec
	.endif
	jmp	ev_common
	.set	vec, vec + 1
	.endr

/* Frame: vec, err, rip, cs, rflags, rsp, ss. Reports, then asks the host:
   0 = IRETQ, 2 = hold (HLT and ask again). */
ev_common:
	push	%rax
	push	%rdx
	mov	16(%rsp), %rax
	out	%eax, $0xe0
	mov	24(%rsp), %rax
	out	%eax, $0xe1
	mov	32(%rsp), %rax
	out	%eax, $0xe2
1:	in	$0xe3, %al
	cmp	$2, %al
	jne	2f
	hlt
	jmp	1b
2:	pop	%rdx
	pop	%rax
	add	$16, %rsp
	iretq

/* Interrupts on, halt forever: every HLT is an exit. */
ev_halt_loop:
	sti
1:	hlt
	jmp	1b

/* Interrupts on, spin without exits. */
ev_spin:
	sti
1:	jmp	1b

/* Interrupts off; report, then open the window after STI and spin. */
ev_cli_wait:
	cli
	out	%eax, $0x31
ev_after_cli_out:
	nop
	nop
	sti
	nop
1:	jmp	1b

/* VMMCALL must give #UD (vector 6) at the instruction (kvm_amd: a KVM
   hypercall, RAX = -1000; the UD2 after it gives the #UD). */
ev_vmmcall:
	vmmcall
	ud2

/* CR8: write 7, report; read it, report; raise to 9, lower to 2. */
ev_cr8:
	mov	$7, %eax
	mov	%rax, %cr8
	out	%eax, $0x32
	mov	%cr8, %rax
	out	%eax, $0x33
	mov	$9, %eax
	mov	%rax, %cr8
	out	%eax, $0x34
ev_cr8_lower:
	mov	$2, %eax
	mov	%rax, %cr8
ev_cr8_lowered:
	out	%eax, $0x35
1:	hlt
	jmp	1b
ev_end:
	.section .note.GNU-stack,"",@progbits
