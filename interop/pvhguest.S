/* pvhguest.S - interop guest for QEMU microvm: port I/O, MMIO, ROM, MSR, CPUID, #UD, interrupt window, HLT, triple fault. */

/*
 * A PVH-bootable ELF (QEMU -kernel reads the Xen PHYS32_ENTRY note) that
 * stays in 32-bit protected mode with paging off, so every physical
 * address is reachable without page tables.  It prints one line per check
 * on the isa-debugcon at port 0x7b and ends with a triple fault, which
 * makes QEMU -no-reboot exit.  Nothing printed depends on the accelerator
 * or the host CPU: interop/run.sh compares the output under nvmm, tcg and
 * kvm with each other and with interop/pvhguest.expected.
 *
 * Only integer instructions: on hosts where guest CPL0 code is run by
 * KVM's instruction emulator, x87/SSE would stop the VCPU.
 */

#define CON	0x7b		/* isa-debugcon */
#define NOPORT	0x6f0		/* no device decodes this port */
#define VMMIO	0xfeb00000	/* first virtio-mmio transport of microvm */
#define LAPIC	0xfee00000
#define ROMTOP	0xfffffff0	/* reset vector: firmware ROM */

#define LAPIC_ID	(LAPIC + 0x020)
#define LAPIC_TPR	(LAPIC + 0x080)
#define LAPIC_EOI	(LAPIC + 0x0b0)
#define LAPIC_SVR	(LAPIC + 0x0f0)
#define LAPIC_ICRLO	(LAPIC + 0x300)
#define LAPIC_ICRHI	(LAPIC + 0x310)
#define LAPIC_LVTT	(LAPIC + 0x320)
#define LAPIC_LINT1	(LAPIC + 0x360)
#define LAPIC_TICR	(LAPIC + 0x380)
#define LAPIC_TCCR	(LAPIC + 0x390)
#define LAPIC_TDCR	(LAPIC + 0x3e0)

#define TIMER_VEC	0x40
#define LVT_MASKED	0x10000

#define AP_BASE		0x8000		/* AP start-up code (SIPI vector 8) */
#define AP_VAR(x)	(AP_BASE + (x) - ap_tramp)

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

/* SAY "text": print a constant string (clobbers eax, esi). */
.macro SAY str
	.section .rodata
9:	.asciz "\str"
	.text
	movl	$9b, %esi
	call	puts
.endm

/* HEX reg|mem, digits: print the low `digits' hex digits (clobbers eax, ecx). */
.macro HEX val, digits
	movl	\val, %eax
	movl	$\digits, %ecx
	call	puthex
.endm

/* ------------------------------------------------------------------------
 * PVH entry note: 32-bit physical entry address.
 * ------------------------------------------------------------------------ */

	.section .note.Xen, "a", @note
	.balign	4
	.long	4			/* name size: "Xen\0" */
	.long	4			/* descriptor size */
	.long	18			/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz	"Xen"
	.long	start

	.code32
	.text

/* ------------------------------------------------------------------------
 * Entry: own GDT and stack, IDT with the handlers we expect.
 * ------------------------------------------------------------------------ */

	.globl	start
start:
	cli
	cld
	movl	%ebx, start_info	/* PVH: EBX = hvm_start_info */
	lgdt	gdtr
	ljmp	$0x08, $1f
1:	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movl	$stack_top, %esp

	/* Every vector goes to `unexpected', except the two we provoke. */
	xorl	%ebx, %ebx
2:	movl	%ebx, %eax
	movl	$unexpected, %edx
	call	setgate
	incl	%ebx
	cmpl	$256, %ebx
	jb	2b
	movl	$6, %eax
	movl	$ud_handler, %edx
	call	setgate
	movl	$TIMER_VEC, %eax
	movl	$timer_handler, %edx
	call	setgate
	movl	$2, %eax
	movl	$nmi_handler, %edx
	call	setgate
	lidt	idtr

	SAY	"pvhguest: PVH entry reached, 32-bit protected mode\n"

/* ------------------------------------------------------------------------
 * Port I/O
 * ------------------------------------------------------------------------ */

	/* This line goes out through a string OUT (assist_io, rep). */
	movl	$rep_line, %esi
	movl	$rep_line_end - rep_line, %ecx
	movw	$CON, %dx
	rep outsb

	SAY	"pio: inb 0x7b = "
	movw	$CON, %dx
	inb	%dx, %al
	movzbl	%al, %eax
	HEX	%eax, 2
	SAY	"\n"

	SAY	"pio: rep insb 0x7b x4 = "
	movl	$inbuf, %edi
	movl	$4, %ecx
	movw	$CON, %dx
	rep insb
	HEX	inbuf, 8
	SAY	" rcx = "
	HEX	%ecx, 8
	SAY	"\n"

	SAY	"pio: inb/inw/inl 0x6f0 = "
	movw	$NOPORT, %dx
	xorl	%eax, %eax
	inb	%dx, %al
	HEX	%eax, 8
	SAY	" "
	xorl	%eax, %eax
	inw	%dx, %ax
	HEX	%eax, 8
	SAY	" "
	inl	%dx, %eax
	HEX	%eax, 8
	SAY	"\n"

	SAY	"pio: outb 0x6f0 then inb 0x7b = "
	movw	$NOPORT, %dx
	movb	$0x5a, %al
	outb	%al, %dx
	movw	$CON, %dx
	inb	%dx, %al
	movzbl	%al, %eax
	HEX	%eax, 2
	SAY	"\n"

/* ------------------------------------------------------------------------
 * MMIO: virtio-mmio transport registers, the LAPIC
 * ------------------------------------------------------------------------ */

	SAY	"mmio: virtio-mmio magic = "
	HEX	VMMIO, 8
	SAY	" version = "
	HEX	VMMIO + 4, 8
	SAY	" device = "
	HEX	VMMIO + 8, 8
	SAY	" vendor = "
	HEX	VMMIO + 12, 8
	SAY	"\n"

	SAY	"mmio: movzbl magic = "
	movzbl	VMMIO, %eax
	HEX	%eax, 8
	SAY	" cmpl magic = "
	cmpl	$0x74726976, VMMIO
	sete	%al
	movzbl	%al, %eax
	HEX	%eax, 1
	SAY	"\n"

	SAY	"mmio: rep movsl x4 = "
	movl	$VMMIO, %esi
	movl	$mmiobuf, %edi
	movl	$4, %ecx
	rep movsl
	movl	%esi, movs_esi
	HEX	mmiobuf, 8
	SAY	" "
	HEX	mmiobuf + 4, 8
	SAY	" "
	HEX	mmiobuf + 8, 8
	SAY	" "
	HEX	mmiobuf + 12, 8
	SAY	" esi-base = "
	movl	movs_esi, %eax
	subl	$VMMIO, %eax
	HEX	%eax, 8
	SAY	"\n"

	/* TPR: plain write, read-modify-write, write back to 0. */
	SAY	"mmio: lapic tpr = "
	HEX	LAPIC_TPR, 8
	movl	$0x20, LAPIC_TPR
	SAY	", after movl 0x20 = "
	HEX	LAPIC_TPR, 8
	orl	$0x10, LAPIC_TPR
	SAY	", after orl 0x10 = "
	HEX	LAPIC_TPR, 8
	movl	$0, LAPIC_TPR
	SAY	", after movl 0 = "
	HEX	LAPIC_TPR, 8
	SAY	"\n"

/* ------------------------------------------------------------------------
 * The firmware at the top of 4 GiB: read-only on -M pc (a write is a
 * MEMORY exit that QEMU drops), plain RAM on -M microvm.
 * ------------------------------------------------------------------------ */

	movl	ROMTOP, %ebx
	movl	%ebx, %eax
	notl	%eax
	movl	%eax, ROMTOP
	SAY	"rom: write to 0xfffffff0 "
	cmpl	%ebx, ROMTOP
	jne	3f
	SAY	"ignored (read-only)\n"
	jmp	4f
3:	SAY	"took effect (RAM)\n"
	movl	%ebx, ROMTOP
4:

/* ------------------------------------------------------------------------
 * RDMSR of APIC_BASE (answered by QEMU's APIC), CPUID leaf 1.
 * ------------------------------------------------------------------------ */

	SAY	"msr: apicbase = "
	movl	$0x1b, %ecx
	rdmsr
	HEX	%eax, 8
	SAY	"\n"

	SAY	"cpuid: apicid = "
	movl	$1, %eax
	xorl	%ecx, %ecx
	cpuid
	movl	%edx, %edi
	movl	%ebx, %eax
	shrl	$24, %eax
	HEX	%eax, 2
	SAY	" mce = "
	movl	%edi, %eax
	shrl	$7, %eax
	andl	$1, %eax
	HEX	%eax, 1
	SAY	" apic = "
	movl	%edi, %eax
	shrl	$9, %eax
	andl	$1, %eax
	HEX	%eax, 1
	SAY	" mtrr = "
	movl	%edi, %eax
	shrl	$12, %eax
	andl	$1, %eax
	HEX	%eax, 1
	SAY	" mca = "
	movl	%edi, %eax
	shrl	$14, %eax
	andl	$1, %eax
	HEX	%eax, 1
	SAY	"\n"

/* ------------------------------------------------------------------------
 * An exception taken through the guest's own IDT.
 * ------------------------------------------------------------------------ */

	ud2
	SAY	"exc: ud2 gave #UD, handler ran "
	HEX	ud_count, 1
	SAY	" time(s)\n"

/* ------------------------------------------------------------------------
 * A second VCPU (only with the command line "smp...", i.e. QEMU -smp 2
 * -append smp): INIT, SIPI, SIPI through the LAPIC's ICR.  The AP runs
 * ap_tramp in real mode at 0x8000, stores its CPUID leaf 1 EBX and halts.
 * ------------------------------------------------------------------------ */

	movl	$0x1ff, LAPIC_SVR		/* software-enable, spurious 0xff */
	movl	start_info, %esi
	movl	24(%esi), %esi			/* cmdline_paddr (low half) */
	testl	%esi, %esi
	jz	12f
	cmpl	$0x00706d73, (%esi)		/* "smp" + NUL ... */
	je	13f
	cmpl	$0x20706d73, (%esi)		/* ... or "smp " */
	jne	12f
13:	movl	$ap_tramp, %esi
	movl	$AP_BASE, %edi
	movl	$ap_tramp_end - ap_tramp, %ecx
	rep movsb
	movl	$0x01000000, LAPIC_ICRHI	/* destination: APIC ID 1 */
	movl	$0x00004500, LAPIC_ICRLO	/* INIT */
	movl	$0x01000000, LAPIC_ICRHI
	movl	$0x00004600 + (AP_BASE >> 12), LAPIC_ICRLO	/* SIPI */
	movl	$0x01000000, LAPIC_ICRHI
	movl	$0x00004600 + (AP_BASE >> 12), LAPIC_ICRLO	/* SIPI again */
	movl	$3, %eax			/* wait up to 3 s */
	call	deadline
14:	cmpl	$0x600d, AP_VAR(ap_flag)
	je	15f
	call	expired
	jnz	14b
	SAY	"smp: no AP answered the SIPI\n"
	jmp	12f
15:	SAY	"smp: the AP answered the SIPI, its cpuid apic id = "
	movl	AP_VAR(ap_ebx), %eax
	shrl	$24, %eax
	HEX	%eax, 2
	SAY	", the BSP's lapic id = "
	movl	LAPIC_ID, %eax
	shrl	$24, %eax
	HEX	%eax, 2
	SAY	"\n"
12:

/* ------------------------------------------------------------------------
 * NMI through LINT1: QEMU's monitor command `nmi' (interop/run.sh sends it
 * when it sees the "waiting" line).  The handler never IRETs, so NMIs
 * stay blocked afterwards.
 * ------------------------------------------------------------------------ */

	movl	$0x400, LAPIC_LINT1		/* delivery mode NMI, unmasked */
	SAY	"nmi: waiting for the monitor's nmi command\n"
	movl	$30, %eax			/* wait up to 30 s */
	call	deadline
16:	cmpl	$0, nmis
	jne	17f
	call	expired
	jnz	16b
17:	SAY	"nmi: received "
	HEX	nmis, 1
	SAY	"\n"

/* ------------------------------------------------------------------------
 * LAPIC timer: an interrupt that becomes pending while IF=0 is delivered
 * after STI (interrupt window); then HLT is woken by the next one.
 * ------------------------------------------------------------------------ */

	movb	$0xff, %al			/* mask the 8259s: on -M pc the */
	outb	%al, $0x21			/* firmware left the PIT's IRQ 0 */
	outb	%al, $0xa1			/* enabled */
	movl	$0x1ff, LAPIC_SVR		/* software-enable, spurious 0xff */
	movl	$0xb, LAPIC_TDCR		/* divide by 1 */
	movl	$TIMER_VEC, LAPIC_LVTT		/* one-shot, unmasked */
	movl	$10000, LAPIC_TICR
5:	movl	LAPIC_TCCR, %eax		/* wait until it has fired */
	testl	%eax, %eax
	jnz	5b
	SAY	"irq: timer expired with IF=0, ticks = "
	HEX	ticks, 1
	sti
	movl	$100000000, %ecx		/* bounded wait */
6:	cmpl	$0, ticks
	jne	7f
	decl	%ecx
	jnz	6b
7:	cli
	SAY	", after sti = "
	HEX	ticks, 1
	SAY	", vector = "
	HEX	last_vec, 2
	SAY	"\n"

	movl	$20000, LAPIC_TICR		/* re-arm the one-shot timer */
8:	cmpl	$2, ticks
	jae	11f
	sti
	hlt
	cli
	jmp	8b
11:	SAY	"hlt: woken by the timer, ticks = "
	HEX	ticks, 1
	SAY	"\n"

/* ------------------------------------------------------------------------
 * The end: triple fault (no IDT, then a fault).
 * ------------------------------------------------------------------------ */

	SAY	"shutdown: triple fault now\n"
	lidt	noidt
	ud2
	SAY	"!! still running after the triple fault\n"
10:	hlt
	jmp	10b

/* ------------------------------------------------------------------------
 * Handlers and subroutines
 * ------------------------------------------------------------------------ */

/*
 * Handlers return with POPF; RET, never IRET: on hosts where KVM's
 * instruction emulator runs guest CPL0 code, a 32-bit protected-mode IRET
 * cannot be emulated and stops the VCPU (QEMU's KVM and NVMM accelerators
 * alike).  The frame of an interrupt without privilege change is EIP, CS,
 * EFLAGS; it is rewritten into EFLAGS, EIP.
 */
.macro RETINT
	pushl	%eax
	movl	4(%esp), %eax		/* EIP */
	xchgl	%eax, 12(%esp)		/* EFLAGS slot := EIP, eax := EFLAGS */
	movl	%eax, 8(%esp)		/* CS slot := EFLAGS */
	popl	%eax
	addl	$4, %esp
	popfl
	ret
.endm

/* #UD: count it and skip the 2-byte ud2. */
ud_handler:
	incl	ud_count
	addl	$2, (%esp)
	RETINT

timer_handler:
	pushl	%eax
	incl	ticks
	movl	$TIMER_VEC, last_vec
	movl	$0, LAPIC_EOI
	popl	%eax
	RETINT

/* NMI: count it, return without IRET (NMIs stay blocked). */
nmi_handler:
	incl	nmis
	RETINT

/*
 * deadline: start a masked one-shot LAPIC timer of eax seconds (at most
 * 60; the timer counts at 1 GHz / 16).  expired: ZF=1 once it has run out.
 */
deadline:
	pushl	%edx
	movl	$LVT_MASKED + TIMER_VEC, LAPIC_LVTT
	movl	$0x3, LAPIC_TDCR		/* divide by 16 */
	movl	$62500000, %edx
	imull	%edx, %eax
	movl	%eax, LAPIC_TICR
	popl	%edx
	ret

expired:
	cmpl	$0, LAPIC_TCCR
	ret

/* The AP's start-up code, copied to AP_BASE: real mode, CS = AP_BASE >> 4. */
	.code16
ap_tramp:
	cli
	movw	%cs, %ax
	movw	%ax, %ds
	movl	$1, %eax
	xorl	%ecx, %ecx
	cpuid
	movl	%ebx, ap_ebx - ap_tramp
	movl	$0x600d, ap_flag - ap_tramp
	/*
	 * Spin, do not HLT: QEMU 7.2 never clears CPU_INTERRUPT_SIPI outside
	 * TCG, so a halted AP makes its NVMM (and KVM without in-kernel
	 * irqchip) VCPU thread loop forever holding the big QEMU lock.
	 */
1:	pause
	jmp	1b
	.balign	4
ap_ebx:	.long	0
ap_flag: .long	0
ap_tramp_end:
	.code32

/* Anything else is a failure: say so and end with a triple fault. */
unexpected:
	SAY	"!! unexpected event, top of stack = "
	HEX	(%esp), 8
	SAY	" "
	HEX	4(%esp), 8
	SAY	"\n"
	lidt	noidt
	ud2

/* setgate: vector in eax, handler in edx: 32-bit interrupt gate, DPL 0. */
setgate:
	leal	idt(,%eax,8), %eax
	movw	%dx, (%eax)
	movw	$0x08, 2(%eax)
	movw	$0x8e00, 4(%eax)
	shrl	$16, %edx
	movw	%dx, 6(%eax)
	ret

/* puts: NUL-terminated string at esi, one OUT per byte. */
puts:
	pushl	%edx
	movw	$CON, %dx
1:	lodsb
	testb	%al, %al
	jz	2f
	outb	%al, %dx
	jmp	1b
2:	popl	%edx
	ret

/* puthex: low ecx (1..8) hex digits of eax. */
puthex:
	pushl	%ebx
	pushl	%edx
	movl	%eax, %ebx
	movl	$8, %edx
	subl	%ecx, %edx
	shll	$2, %edx
	xchgl	%ecx, %edx
	shll	%cl, %ebx		/* drop the digits not printed */
	movl	%edx, %ecx
	movw	$CON, %dx
1:	roll	$4, %ebx
	movl	%ebx, %eax
	andl	$0xf, %eax
	movb	hexdigits(%eax), %al
	outb	%al, %dx
	decl	%ecx
	jnz	1b
	popl	%edx
	popl	%ebx
	ret

/* ------------------------------------------------------------------------
 * Data
 * ------------------------------------------------------------------------ */

	.section .rodata
hexdigits:
	.ascii	"0123456789abcdef"
rep_line:
	.ascii	"pio: this line was written by rep outsb\n"
rep_line_end:

	.balign	8
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08: flat 32-bit code */
	.quad	0x00cf92000000ffff	/* 0x10: flat data */
gdt_end:
gdtr:
	.word	gdt_end - gdt - 1
	.long	gdt
idtr:
	.word	256 * 8 - 1
	.long	idt
noidt:
	.word	0
	.long	0

	.data
	.balign	4
start_info:	.long	0
nmis:		.long	0
ticks:		.long	0
last_vec:	.long	0
ud_count:	.long	0
inbuf:		.long	0
mmiobuf:	.long	0, 0, 0, 0
movs_esi:	.long	0

	.bss
	.balign	8
idt:		.space	256 * 8
	.balign	16
		.space	4096
stack_top:

	.section .note.GNU-stack, "", @progbits
