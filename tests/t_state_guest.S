/* t_state_guest.S - guest for t_state: exits to report, CPUID queries. */

	.text
	.code64
	.globl st_start, st_end, st_out, st_cpuid, st_rdmsr, st_outloop
st_start:
st_out:
	out	%al, $0x40
	out	%al, $0x40
	out	%al, $0x40
1:	hlt
	jmp	1b

st_outloop:
	out	%al, $0x40
	jmp	st_outloop

/* CPUID leaf RDI, sub-leaf RSI; reports EAX..EDX on ports 0x50-0x53. */
st_cpuid:
	mov	%edi, %eax
	mov	%esi, %ecx
	cpuid
	out	%eax, $0x50
	mov	%ebx, %eax
	out	%eax, $0x51
	mov	%ecx, %eax
	out	%eax, $0x52
	mov	%edx, %eax
	out	%eax, $0x53
1:	hlt
	jmp	1b

st_rdmsr:
	mov	$0x1b, %ecx
	rdmsr
	out	%eax, $0x40
	rdmsr
	out	%eax, $0x40
1:	hlt
	jmp	1b
st_end:
	.section .note.GNU-stack,"",@progbits
