/* trap.c - what smallkern does on every exception, NMI and interrupt. */

#include "smallkern.h"

#ifndef MAX_FAULTS
#define MAX_FAULTS	6	/* the 7th event triple-faults the machine */
#endif

/* NetBSD trap numbers (what the original stubs pushed) and their names. */
#define T_PRIVINFLT	0
#define T_DOUBLEFLT	13
#define T_MCA		18
#define T_INTR		20	/* vectors 20-255 */

static const char *const trap_names[] = {
	"privileged instruction fault",		/*  0 T_PRIVINFLT */
	"breakpoint trap",			/*  1 T_BPTFLT */
	"arithmetic trap",			/*  2 T_ARITHTRAP */
	"asynchronous system trap",		/*  3 T_ASTFLT */
	"protection fault",			/*  4 T_PROTFLT */
	"trace trap",				/*  5 T_TRCTRAP */
	"page fault",				/*  6 T_PAGEFLT */
	"alignment fault",			/*  7 T_ALIGNFLT */
	"integer divide fault",			/*  8 T_DIVIDE */
	"non-maskable interrupt",		/*  9 T_NMI */
	"overflow trap",			/* 10 T_OFLOW */
	"bounds check fault",			/* 11 T_BOUND */
	"FPU not available fault",		/* 12 T_DNA */
	"double fault",				/* 13 T_DOUBLEFLT */
	"FPU operand fetch fault",		/* 14 T_FPOPFLT */
	"invalid TSS fault",			/* 15 T_TSSFLT */
	"segment not present fault",		/* 16 T_SEGNPFLT */
	"stack fault",				/* 17 T_STKFLT */
	"machine check fault",			/* 18 T_MCA */
	"SSE FP exception",			/* 19 T_XMM */
	"hardware interrupt",			/* 20 T_INTR */
};

/* Vectors 0-19 -> trap number; everything above is T_INTR. */
static const uint8_t vector_trapno[20] = {
	8, 5, 9, 1, 10, 11, 0, 12, 13, 14, 15, 16, 17, 4, 6, 3, 2, 7, 18, 19,
};

static uint32_t nfaults;

/* -------------------------------------------------------------------------
 * Ways out of a handler.  None of them is IRET: the first NMI blocks NMIs
 * until the next IRET, and smallkern wants that to last forever.
 * ------------------------------------------------------------------------- */

/*
 * Back to CPL3 with SYSRETQ, which loads RIP from RCX and RFLAGS from R11.
 * trapentry.S points RCX at the trampoline, which reloads the task's own RCX
 * and R11 from ushared and jumps to its RIP.  If the event hit inside the
 * trampoline, ushared still holds the values of the first interruption:
 * keep them and run the trampoline again from its start.  The trampoline
 * touches neither flags nor stack, so RFLAGS and RSP in the frame are the
 * task's.
 */
static int
ret_user(struct trapframe *tf)
{
	if (tf->rip < (uint64_t)utramp || tf->rip >= (uint64_t)utramp_end) {
		ushared.tramp_rip = tf->rip;
		ushared.tramp_rcx = tf->rcx;
		ushared.tramp_r11 = tf->r11;
	}
	return TRAP_RET_USER;
}

/*
 * Back into interrupted CPL0 code without IRET: store its RFLAGS and RIP
 * just below its stack pointer; trapentry.S switches to that stack and does
 * POPFQ; RET.  Kernel code has no red zone, so those 16 bytes are free.
 * They may overlap the top of this very frame (same stack, no IST): all
 * fields needed are read before the stores.
 */
static int
ret_kernel(struct trapframe *tf)
{
	uint64_t rip = tf->rip, rflags = tf->rflags;
	uint64_t *sp = (uint64_t *)(tf->rsp - 16);

	sp[0] = rflags;
	sp[1] = rip;
	tf->vector = (uint64_t)sp;	/* trapentry.S loads RSP from here */
	return TRAP_RET_KERNEL;
}

/*
 * The boot code is finished once an event interrupts it (it ends with
 * VMMCALL/UD2 anyway).  Instead of "STI and spin forever" like the
 * original, start the CPL3 task: fresh registers and stack, IF=1.
 */
static int
start_task(struct trapframe *tf)
{
	kmemset(tf, 0, offsetof(struct trapframe, vector));
	tf->rsp = (uint64_t)__ustack_top;
	tf->rflags = PSL_IF | PSL_RESERVED;
	ushared.tramp_rip = (uint64_t)utask_start;
	ushared.tramp_rcx = 0;
	ushared.tramp_r11 = 0;
	return TRAP_RET_USER;
}

static void triple_fault(void) __attribute__((noreturn));

/* Empty IDT, then a store to the unmapped page 0: #PF -> #DF -> shutdown. */
static void
triple_fault(void)
{
	idt_clear();
	__asm__ volatile("movb $0, (%0)" :: "r"(0UL) : "memory");
	for (;;)
		continue;
}

/* -------------------------------------------------------------------------
 * The handler.
 * ------------------------------------------------------------------------- */

/*
 * Called by trapentry.S for every vector, with interrupts off.  Returns how to
 * leave (TRAP_RET_*).  Runs at CPL0, so integer code only.
 */
int
trap(struct trapframe *tf)
{
	const char *name;
	int trapno;

	/* rdmsr_safe() probing an MSR the VMM does not know: not an event. */
	if (tf->vector == 13 && (tf->cs & 3) == 0 &&
	    tf->rip == (uint64_t)rdmsr_safe_insn) {
		tf->rip = (uint64_t)rdmsr_safe_fixup;
		return ret_kernel(tf);
	}

	if (nfaults == MAX_FAULTS)
		triple_fault();
	nfaults++;
	ushared.nevents = nfaults;	/* the task mirrors it in a float */

	/* The CPL3 task found a wrong floating-point result. */
	if (ushared.fpu_bug)
		cons_puts("!!! FPU BUG !!!\n");
	if (ushared.reg_bug)
		cons_puts("!!! REGISTER BUG !!!\n");

	trapno = tf->vector < 20 ? vector_trapno[tf->vector] : T_INTR;
	name = trap_names[trapno];

	/* Mask all further external interrupts, before printing anything. */
	if (trapno == T_INTR)
		lcr8(15);

	cons_puts("\n****** FAULT OCCURRED ******\n");
	cons_puts(name);
	cons_puts("\n****************************\n\n");

	/* An abort: there is nothing to go back to. */
	if (trapno == T_DOUBLEFLT || trapno == T_MCA)
		triple_fault();

	if ((tf->cs & 3) != 0)
		return ret_user(tf);
	/*
	 * CPL0 with IF=1 can only be the boot code: handlers run with IF=0
	 * from the moment the interrupt gate delivers them, so this test has
	 * no window, unlike any flag a handler would have to set itself.
	 */
	if (tf->rflags & PSL_IF)
		return start_task(tf);
	return ret_kernel(tf);
}
