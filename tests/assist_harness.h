/* assist_harness.h - the per-case harness of t_assist_io and t_assist_mem: guest snippets, registers in and out, expected memory, runs to the checkpoint. */

/*
 * A case points RIP at a guest snippet "<instruction>; out %al, $0xF0",
 * loads the registers, runs to the checkpoint OUT and compares the
 * registers and the watched memory regions with what the test computed.
 * The test keeps what is its own (callback logs, expected exits) and
 * hands the rest to the functions here through ah_env and ah.
 *
 * The guest side (t_*_guest.S) includes this file too: SNIP() and the
 * AH_GUEST_BEGIN / AH_GUEST_END brackets.  No apostrophes in comments:
 * cpp reads this file for the guests.
 */

#ifndef _ASSIST_HARNESS_H_
#define _ASSIST_HARNESS_H_

#define AH_CHECKPOINT	0xF0	/* port of the OUT that ends every snippet */
#define AH_ISR_VEC	0x30	/* vector of the interrupt injected by tests */
#define AH_ISR_PORT	0xE1	/* port of the OUT of its handler */

#ifdef __ASSEMBLER__

/* -------------------------------------------------------------------------
 * Guest side.
 * ------------------------------------------------------------------------- */

/* One snippet; also records {name, start, end} in ah_sniptab, "end"
   being the byte after the checkpoint OUT. */
#define SNIP(name, ...)						\
	.pushsection .rodata.ah_names, "a";			\
9:	.asciz #name;						\
	.popsection;						\
	.pushsection .data.ah_sniptab, "aw";			\
	.quad 9b, 7f, 8f;					\
	.popsection;						\
7:	__VA_ARGS__;						\
	out %al, $AH_CHECKPOINT;				\
8:

#define AH_GUEST_BEGIN						\
	.pushsection .data.ah_sniptab, "aw";			\
	.balign 8;						\
	.globl ah_sniptab;					\
ah_sniptab:							\
	.popsection;						\
	.text;							\
	.globl ah_code, ah_code_end;				\
ah_code:

/* Ends the code with the handler of the interrupt injected after an
   assist, which reports the interrupted RIP in RDX, then halts. */
#define AH_GUEST_END						\
	.code64;						\
	.globl ah_isr;						\
ah_isr:								\
	mov	(%rsp), %rdx;					\
	out	%al, $AH_ISR_PORT;				\
	hlt;							\
ah_code_end:							\
	.pushsection .data.ah_sniptab, "aw";			\
	.globl ah_sniptab_end;					\
ah_sniptab_end:							\
	.popsection;						\
	.section .note.GNU-stack, "", @progbits

#else /* !__ASSEMBLER__ */

#include <stdbool.h>
#include <stdint.h>

#include "vmtest.h"

/* -------------------------------------------------------------------------
 * The test's guest and machine.
 * ------------------------------------------------------------------------- */

struct ah_snip {
	const char *name;
	const char *start;	/* the instruction under test */
	const char *end;	/* after the checkpoint OUT */
};

/* Defined by the guest of the test that includes this file. */
extern const struct ah_snip ah_sniptab[], ah_sniptab_end[];
extern const char ah_code[], ah_code_end[], ah_isr[];

/* Memory whose whole contents are compared after each case. */
struct ah_region {
	const char *name;
	uint64_t gpa;
	size_t size;
	uint8_t *mem;		/* what the guest sees */
	uint8_t *exp;		/* what it should see after the case */
};

/* What the harness needs of the test, set before ah_machine_up. */
struct ah_env {
	const char *test;		/* name in messages */
	struct vmt *vm;
	const struct ah_snip *sniptab, *sniptab_end;
	const char *code, *code_end, *isr;
	uint64_t csbase;		/* CS base: RIP = GVA - csbase */
	struct ah_region *regions;
	int nregions;
	void (*prepare)(void);		/* the test defaults of a new case */
	void (*recover)(void);		/* a clean VCPU after a failed case */
};
extern struct ah_env ah_env;

/* The guest fields of ah_env, in an initializer of the test. */
#define AH_GUEST_ENV							\
	.sniptab = ah_sniptab, .sniptab_end = ah_sniptab_end,		\
	.code = ah_code, .code_end = ah_code_end, .isr = ah_isr

/* A machine with the guest loaded at VMT_CODE and the callbacks set;
   the mode is the test's to set up. */
void ah_machine_up(struct nvmm_assist_callbacks *);

/* -------------------------------------------------------------------------
 * The current case.
 * ------------------------------------------------------------------------- */

#define RAX	NVMM_X64_GPR_RAX
#define RCX	NVMM_X64_GPR_RCX
#define RDX	NVMM_X64_GPR_RDX
#define RBX	NVMM_X64_GPR_RBX
#define RSP	NVMM_X64_GPR_RSP
#define RSI	NVMM_X64_GPR_RSI
#define RDI	NVMM_X64_GPR_RDI
#define RIP	NVMM_X64_GPR_RIP
#define RFL	NVMM_X64_GPR_RFLAGS
#define F_DF	0x400ULL

struct ah_case {
	char name[112];		/* "<snippet> <details>" */
	const struct ah_snip *s;
	uint64_t in[NVMM_X64_NGPR];
	uint64_t exp[NVMM_X64_NGPR];
	uint64_t gmask[NVMM_X64_NGPR];	/* bits of each GPR compared */
	bool multi;		/* REP: several exits allowed */
	/* Set by ah_run, for the callbacks. */
	uint64_t start;		/* the instruction's RIP */
	bool peek;		/* look at the state during the case */
	/* Counted by the callbacks (ah_cb_enter and the test's own). */
	int badctx;		/* wrong mach or vcpu */
	int badsize;		/* bad size or data pointer */
	int badstate;		/* getstate failed */
	int rip_moved;		/* RIP not on the instruction */
};
extern struct ah_case ah;

/* A new case named by printf: its first word names the snippet.  GPRs
   get distinct junk, RSP the stack, RIP the snippet, RFLAGS 0x2; every
   region gets ah_pattern; then ah_env.prepare runs. */
void ah_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A register set before the case and expected unchanged; expected only. */
void ah_set(int gpr, uint64_t v);
void ah_expect(int gpr, uint64_t v);

uint64_t ah_gva(const char *p);		/* linear address of guest code */
uint64_t ah_rip(const char *p);		/* the same as a RIP */
uint64_t ah_cp_rip(void);		/* RIP of the case's checkpoint */

/* Values. */
uint8_t ah_pattern(uint64_t gpa);	/* initial contents of regions */
uint64_t ah_msk(int size);
uint64_t ah_merge(uint64_t old, uint64_t v, int size);	/* x86-64 load */

/* Expected contents of the regions; ah_put sets the guest copy too. */
uint64_t ah_xrd(uint64_t gpa, int size);
void ah_xwr(uint64_t gpa, int size, uint64_t v);
void ah_put(uint64_t gpa, int size, uint64_t v);

/* -------------------------------------------------------------------------
 * VCPU state.
 * ------------------------------------------------------------------------- */

void ah_getstate(uint64_t flags);	/* exit the test on failure */
void ah_setstate(uint64_t flags);
void ah_load_gprs(void);		/* ah.in into the VCPU */
void ah_set_seg(int seg, uint16_t sel, uint64_t base);

/* -------------------------------------------------------------------------
 * Running.
 * ------------------------------------------------------------------------- */

/* In the test callback: checks the arguments, and the RIP if ah.peek. */
void ah_cb_enter(struct nvmm_machine *, struct nvmm_vcpu *);
void ah_check_callbacks(void);

/* What an on_exit handler of ah_run did with an exit. */
enum { AH_NEXT, AH_FAILED, AH_UNEXPECTED };

/* Loads the registers and runs to the checkpoint, passing every other
   exit to on_exit: AH_NEXT goes on, AH_FAILED (after a failed check)
   and AH_UNEXPECTED (a failed check here) end the case with a recover.
   Every other case peeks.  True when the checkpoint was reached. */
bool ah_run(int (*on_exit)(uint64_t reason));

/* The GPRs against ah.exp (under ah.gmask), the regions against theirs. */
void ah_check_state(void);

/* The next exit must be the checkpoint: completed, or recover. */
void ah_checkpoint(void);

/* Runs to the checkpoint completing exits of the given reason (IO or
   MEMORY) with their assist; false (after a recover) when it fails. */
bool ah_finish(uint64_t reason);

/* The IDT entry of AH_ISR_VEC, and an IDT limit that covers it. */
void ah_idt_isr(void);

/* After the assist of the case instruction: RIP past it if peek, then
   an interrupt injected before the next run must arrive after the
   instruction, with gpr = want in the handler.  Recovers at the end. */
void ah_inject_after(bool peek, int gpr, uint64_t want);

#endif /* !__ASSEMBLER__ */

#endif
