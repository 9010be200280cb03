/* smallkern.h - smallkern's shared definitions: layout, CPU constants, helpers. */

#ifndef _SMALLKERN_H_
#define _SMALLKERN_H_

/* -------------------------------------------------------------------------
 * Constants shared with the assembly files (keep them plain numbers).
 * ------------------------------------------------------------------------- */

/* GDT selectors.  SYSRETQ derives the user selectors from STAR[63:48]
 * (GSEL_USYSRET): SS = that + 8, CS = that + 16, both with RPL 3. */
#define GSEL_KCODE	0x08
#define GSEL_KDATA	0x10
#define GSEL_USYSRET	0x18	/* slot a 32-bit user CS would use; empty */
#define GSEL_UDATA	0x23	/* 0x20 | RPL 3 */
#define GSEL_UCODE	0x2b	/* 0x28 | RPL 3 */
#define GSEL_TSS	0x30	/* 16-byte system descriptor */

#define CONSOLE_PORT	123	/* toy console device of the VMM */

#define EFER_MSR	0xc0000080
#define STAR_MSR	0xc0000081
#define APICBASE_MSR	0x1b

#define PSL_IF		0x200
#define PSL_RESERVED	0x002	/* bit 1 of RFLAGS always reads 1 */

/* What trap() tells the exit path in trapentry.S to do (returned in %eax). */
#define TRAP_RET_KERNEL	0	/* back into interrupted CPL0 code (POPFQ+RET) */
#define TRAP_RET_USER	1	/* back to CPL3 through the trampoline (SYSRETQ) */

/* Distance between the IDT entry stubs in trapentry.S. */
#define TRAP_STUB_SIZE	16

/* Offsets in struct trapframe, for trapentry.S. */
#define TF_VECTOR	(15 * 8)
#define TF_ERR		(16 * 8)
#define TF_RIP		(17 * 8)
#define TF_CS		(18 * 8)
#define TF_RFLAGS	(19 * 8)
#define TF_RSP		(20 * 8)

/* Offsets in struct ushared, for trapentry.S (the trampoline reads them). */
#define US_RIP		0
#define US_RCX		8
#define US_R11		16

#ifndef __ASSEMBLER__

#include <stddef.h>
#include <stdint.h>

/* -------------------------------------------------------------------------
 * Linker-script symbols (smallkern.ld).  Only their addresses matter.
 * ------------------------------------------------------------------------- */

extern char __text_start[], __text_end[];	/* kernel code */
extern char __utext_start[], __utext_end[];	/* CPL3 code */
extern char __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[];	/* kernel .data + .bss */
extern char __udata_start[], __udata_end[];	/* CPL3-writable data */
extern char __image_end[];
/* RAM the VMM provides above the image (no bytes in the ELF file). */
extern char __ptpool_start[], __ptpool_end[];	/* final page tables */
extern char __kstack_bottom[], __kstack_top[];	/* TSS.RSP0 + boot stack */
extern char __nmistack_bottom[], __nmistack_top[];	/* IST1 */
extern char __dfstack_bottom[], __dfstack_top[];	/* IST2 */
extern char __ustack_bottom[], __ustack_top[];	/* CPL3 task */
extern char __ram_end[];

/* -------------------------------------------------------------------------
 * Interrupt frame, as built by trapentry.S (lowest address first).
 * ------------------------------------------------------------------------- */

struct trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector;	/* pushed by the stub */
	uint64_t err;		/* pushed by the CPU, or 0 by the stub */
	uint64_t rip, cs, rflags, rsp, ss;	/* pushed by the CPU */
};

_Static_assert(offsetof(struct trapframe, vector) == TF_VECTOR, "TF_VECTOR");
_Static_assert(offsetof(struct trapframe, err) == TF_ERR, "TF_ERR");
_Static_assert(offsetof(struct trapframe, rip) == TF_RIP, "TF_RIP");
_Static_assert(offsetof(struct trapframe, cs) == TF_CS, "TF_CS");
_Static_assert(offsetof(struct trapframe, rflags) == TF_RFLAGS, "TF_RFLAGS");
_Static_assert(offsetof(struct trapframe, rsp) == TF_RSP, "TF_RSP");

/* -------------------------------------------------------------------------
 * Memory shared by the kernel and the CPL3 task (in .udata: user pages).
 * ------------------------------------------------------------------------- */

struct ushared {
	/* Context the trampoline restores (SYSRETQ destroys RCX and R11). */
	volatile uint64_t tramp_rip;
	volatile uint64_t tramp_rcx;
	volatile uint64_t tramp_r11;
	/* Kernel -> task: number of events the kernel has taken. */
	volatile uint32_t nevents;
	/* Task -> kernel: non-zero once a floating-point check failed. */
	volatile uint32_t fpu_bug;
	/* Task -> kernel: non-zero once its R11 canary was lost. */
	volatile uint32_t reg_bug;
	/* Task -> kernel: loop iterations done (for debugging only). */
	volatile uint64_t iterations;
};

_Static_assert(offsetof(struct ushared, tramp_rip) == US_RIP, "US_RIP");
_Static_assert(offsetof(struct ushared, tramp_rcx) == US_RCX, "US_RCX");
_Static_assert(offsetof(struct ushared, tramp_r11) == US_R11, "US_R11");

extern struct ushared ushared;

/* CPL3 side (utask.c, trapentry.S). */
extern char utask_start[];		/* entry of the CPL3 task */
extern char utramp[], utramp_end[];	/* the SYSRETQ trampoline */
void utask_main(void) __attribute__((noreturn));

/* -------------------------------------------------------------------------
 * Kernel interfaces.
 * ------------------------------------------------------------------------- */

/* console.c */
void cons_putc(char c);
void cons_puts(const char *s);
void print_state(int ok, const char *text);

/* machdep.c */
void vm_init(void);
void gdt_tss_init(void);
void idt_init(void);
void idt_clear(void);
void syscall_msrs_init(void);
void fatal(const char *msg) __attribute__((noreturn));
extern volatile uint32_t *const lapic_id_reg;

/* trap.c */
int trap(struct trapframe *tf);

/* trapentry.S / locore.S helpers */
extern char trap_stubs[];		/* 256 entry stubs */
extern char rdmsr_safe_insn[], rdmsr_safe_fixup[];
int rdmsr_safe(uint32_t msr, uint64_t *val);
void vmmcall_then_ud2(void) __attribute__((noreturn));

/* -------------------------------------------------------------------------
 * Inline CPU helpers (integer-only: kernel code never touches x87/SSE).
 * ------------------------------------------------------------------------- */

static inline void
cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
	    : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
	    : "a"(leaf), "c"(sub));
}

static inline void
wrmsr(uint32_t msr, uint64_t val)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)val),
	    "d"((uint32_t)(val >> 32)) : "memory");
}

static inline void
lcr3(uint64_t val)
{
	__asm__ volatile("mov %0, %%cr3" :: "r"(val) : "memory");
}

static inline void
lcr8(uint64_t val)
{
	__asm__ volatile("mov %0, %%cr8" :: "r"(val) : "memory");
}

/*
 * memset.  A string instruction, and 8 bytes per iteration when it can:
 * where CPL0 is emulated, each iteration costs about half a microsecond.
 */
static inline void
kmemset(void *dst, int c, size_t len)
{
	uint64_t pat = 0x0101010101010101ULL * (uint8_t)c;

	if ((((uintptr_t)dst | len) & 7) == 0) {
		len /= 8;
		__asm__ volatile("rep stosq"
		    : "+D"(dst), "+c"(len) : "a"(pat) : "memory");
	} else {
		__asm__ volatile("rep stosb"
		    : "+D"(dst), "+c"(len) : "a"(pat) : "memory");
	}
}

#endif /* !__ASSEMBLER__ */

#endif /* !_SMALLKERN_H_ */
