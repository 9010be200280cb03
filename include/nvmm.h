/*
 * nvmm.h - public API of libnvmm for Linux: NetBSD's NVMM user API, version 2.
 *
 * Source-compatible with NetBSD's <nvmm.h> (user version 2, kernel
 * version 2) on x86-64.  Everything a client needs is here; the library's
 * internals are not.  Layouts and values follow the NVMM ABI; the static
 * assertions at the end of this file pin them.
 */

#ifndef _NVMM_H_
#define _NVMM_H_

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* -------------------------------------------------------------------------
 * NetBSD <sys/cdefs.h> bit helpers (QEMU's NVMM accelerator uses them).
 * ------------------------------------------------------------------------- */

#ifndef __BIT
#define __BIT(__n)							\
	(((uintmax_t)(__n) >= 8 * sizeof(uintmax_t)) ? (uintmax_t)0 :	\
	    ((uintmax_t)1 << (uintmax_t)(__n)))
#endif
#ifndef __BITS
#define __BITS(__m, __n)						\
	((__BIT(((__m) > (__n) ? (__m) : (__n)) + 1) - 1) ^		\
	    (__BIT((__m) < (__n) ? (__m) : (__n)) - 1))
#endif
#ifndef __LOWEST_SET_BIT
#define __LOWEST_SET_BIT(__mask) ((((__mask) - 1) & (__mask)) ^ (__mask))
#endif
#ifndef __SHIFTOUT
#define __SHIFTOUT(__x, __mask) (((__x) & (__mask)) / __LOWEST_SET_BIT(__mask))
#endif
#ifndef __SHIFTIN
#define __SHIFTIN(__x, __mask) ((__x) * __LOWEST_SET_BIT(__mask))
#endif
#ifndef __SHIFTOUT_MASK
#define __SHIFTOUT_MASK(__mask) __SHIFTOUT((__mask), (__mask))
#endif

/*
 * EPROGMISMATCH is a NetBSD errno ("program version wrong").  Linux has no
 * such errno; libnvmm reports a kernel/library version mismatch with
 * EPROTONOSUPPORT, which it never returns for anything else.
 */
#ifndef EPROGMISMATCH
#define EPROGMISMATCH EPROTONOSUPPORT
#endif

/* -------------------------------------------------------------------------
 * Versions, scalar types.
 * ------------------------------------------------------------------------- */

#define NVMM_USER_VERSION	2
#define NVMM_KERN_VERSION	2

typedef uint64_t gpaddr_t;
typedef uint64_t gvaddr_t;
typedef uint32_t nvmm_machid_t;
typedef uint32_t nvmm_cpuid_t;
typedef uint64_t nvmm_prot_t;

/* Protections returned by nvmm_gva_to_gpa() and nvmm_gpa_to_hva(). */
#define NVMM_PROT_READ		0x01
#define NVMM_PROT_WRITE		0x02
#define NVMM_PROT_EXEC		0x04
#define NVMM_PROT_USER		0x08
#define NVMM_PROT_ALL		0x0F

/* -------------------------------------------------------------------------
 * Configuration operation ranges.
 * ------------------------------------------------------------------------- */

#define NVMM_MACH_CONF_LIBNVMM_BEGIN	0
#define NVMM_MACH_CONF_MI_BEGIN		100
#define NVMM_MACH_CONF_MD_BEGIN		200
#define NVMM_MACH_CONF_MD(op)		((op) - NVMM_MACH_CONF_MD_BEGIN)

#define NVMM_VCPU_CONF_LIBNVMM_BEGIN	0
#define NVMM_VCPU_CONF_MI_BEGIN		100
#define NVMM_VCPU_CONF_MD_BEGIN		200
#define NVMM_VCPU_CONF_MD(op)		((op) - NVMM_VCPU_CONF_MD_BEGIN)

#define NVMM_VCPU_CONF_CALLBACKS	NVMM_VCPU_CONF_LIBNVMM_BEGIN

/* -------------------------------------------------------------------------
 * x86: segments, registers, state.
 * ------------------------------------------------------------------------- */

#define NVMM_X64_SEG_ES			0
#define NVMM_X64_SEG_CS			1
#define NVMM_X64_SEG_SS			2
#define NVMM_X64_SEG_DS			3
#define NVMM_X64_SEG_FS			4
#define NVMM_X64_SEG_GS			5
#define NVMM_X64_SEG_GDT		6
#define NVMM_X64_SEG_IDT		7
#define NVMM_X64_SEG_LDT		8
#define NVMM_X64_SEG_TR			9
#define NVMM_X64_NSEG			10

#define NVMM_X64_GPR_RAX		0
#define NVMM_X64_GPR_RCX		1
#define NVMM_X64_GPR_RDX		2
#define NVMM_X64_GPR_RBX		3
#define NVMM_X64_GPR_RSP		4
#define NVMM_X64_GPR_RBP		5
#define NVMM_X64_GPR_RSI		6
#define NVMM_X64_GPR_RDI		7
#define NVMM_X64_GPR_R8			8
#define NVMM_X64_GPR_R9			9
#define NVMM_X64_GPR_R10		10
#define NVMM_X64_GPR_R11		11
#define NVMM_X64_GPR_R12		12
#define NVMM_X64_GPR_R13		13
#define NVMM_X64_GPR_R14		14
#define NVMM_X64_GPR_R15		15
#define NVMM_X64_GPR_RIP		16
#define NVMM_X64_GPR_RFLAGS		17
#define NVMM_X64_NGPR			18

#define NVMM_X64_CR_CR0			0
#define NVMM_X64_CR_CR2			1
#define NVMM_X64_CR_CR3			2
#define NVMM_X64_CR_CR4			3
#define NVMM_X64_CR_CR8			4
#define NVMM_X64_CR_XCR0		5
#define NVMM_X64_NCR			6

#define NVMM_X64_DR_DR0			0
#define NVMM_X64_DR_DR1			1
#define NVMM_X64_DR_DR2			2
#define NVMM_X64_DR_DR3			3
#define NVMM_X64_DR_DR6			4
#define NVMM_X64_DR_DR7			5
#define NVMM_X64_NDR			6

#define NVMM_X64_MSR_EFER		0
#define NVMM_X64_MSR_STAR		1
#define NVMM_X64_MSR_LSTAR		2
#define NVMM_X64_MSR_CSTAR		3
#define NVMM_X64_MSR_SFMASK		4
#define NVMM_X64_MSR_KERNELGSBASE	5
#define NVMM_X64_MSR_SYSENTER_CS	6
#define NVMM_X64_MSR_SYSENTER_ESP	7
#define NVMM_X64_MSR_SYSENTER_EIP	8
#define NVMM_X64_MSR_PAT		9
#define NVMM_X64_MSR_TSC		10
#define NVMM_X64_NMSR			11

struct nvmm_x64_state_seg {
	uint16_t selector;
	struct {			/* hidden attributes (AMD VMCB layout) */
		uint16_t type:4;
		uint16_t s:1;
		uint16_t dpl:2;
		uint16_t p:1;
		uint16_t avl:1;
		uint16_t l:1;
		uint16_t def:1;
		uint16_t g:1;
		uint16_t rsvd:4;
	} attrib;
	uint32_t limit;			/* byte granular */
	uint64_t base;
};

struct nvmm_x64_state_intr {
	uint64_t int_shadow:1;
	uint64_t int_window_exiting:1;
	uint64_t nmi_window_exiting:1;
	uint64_t evt_pending:1;
	uint64_t rsvd:60;
};

/* The FXSAVE image, with NetBSD's <x86/cpu_extended_state.h> names. */
union fp_addr {
	uint64_t fa_64;
	struct {
		uint32_t fa_off;
		uint16_t fa_seg;
		uint16_t fa_opcode;
	} fa_32;
} __attribute__((__packed__, __aligned__(4)));

struct fpacc87 {
	uint64_t f87_mantissa;
	uint16_t f87_exp_sign;
} __attribute__((__packed__, __aligned__(2)));

struct fpaccfx {
	union {
		struct fpacc87 r;	/* NetBSD name */
		struct {		/* DragonFly names */
			uint64_t mm_significand;
			uint16_t mm_exp_sign;
			uint8_t mm_rsvd[6];
		} __attribute__((__packed__));
	};
} __attribute__((__aligned__(16)));

struct xmmreg {
	uint8_t xmm_bytes[16];
};

struct fxsave {
	uint16_t fx_cw;
	uint16_t fx_sw;
	uint8_t fx_tw;
	uint8_t fx_zero;
	uint16_t fx_opcode;
	union fp_addr fx_ip;
	union fp_addr fx_dp;
	uint32_t fx_mxcsr;
	uint32_t fx_mxcsr_mask;
	struct fpaccfx fx_87_ac[8];
	struct xmmreg fx_xmm[16];
	uint8_t fx_rsvd[96];
} __attribute__((__aligned__(16)));

struct nvmm_x64_state {
	struct nvmm_x64_state_seg segs[NVMM_X64_NSEG];
	uint64_t gprs[NVMM_X64_NGPR];
	uint64_t crs[NVMM_X64_NCR];
	uint64_t drs[NVMM_X64_NDR];
	uint64_t msrs[NVMM_X64_NMSR];
	struct nvmm_x64_state_intr intr;
	struct fxsave fpu;
};

#define NVMM_X64_STATE_SEGS	0x01
#define NVMM_X64_STATE_GPRS	0x02
#define NVMM_X64_STATE_CRS	0x04
#define NVMM_X64_STATE_DRS	0x08
#define NVMM_X64_STATE_MSRS	0x10
#define NVMM_X64_STATE_INTR	0x20
#define NVMM_X64_STATE_FPU	0x40
#define NVMM_X64_STATE_ALL	0x7F

/* -------------------------------------------------------------------------
 * x86: events.
 * ------------------------------------------------------------------------- */

#define NVMM_VCPU_EVENT_EXCP	0
#define NVMM_VCPU_EVENT_INTR	1

struct nvmm_x86_event {
	unsigned int type;
	uint8_t vector;
	union {
		struct {
			uint64_t error;
		} excp;
	} u;
};

/* -------------------------------------------------------------------------
 * x86: exits.
 * ------------------------------------------------------------------------- */

#define NVMM_VCPU_EXIT_NONE		0x0000000000000000ULL
#define NVMM_VCPU_EXIT_STOPPED		0xFFFFFFFFFFFFFFFEULL
#define NVMM_VCPU_EXIT_INVALID		0xFFFFFFFFFFFFFFFFULL
#define NVMM_VCPU_EXIT_MEMORY		0x0000000000000001ULL
#define NVMM_VCPU_EXIT_IO		0x0000000000000002ULL
#define NVMM_VCPU_EXIT_SHUTDOWN		0x0000000000001000ULL
#define NVMM_VCPU_EXIT_INT_READY	0x0000000000001001ULL
#define NVMM_VCPU_EXIT_NMI_READY	0x0000000000001002ULL
#define NVMM_VCPU_EXIT_HALTED		0x0000000000001003ULL
#define NVMM_VCPU_EXIT_TPR_CHANGED	0x0000000000001004ULL
#define NVMM_VCPU_EXIT_RDMSR		0x0000000000002000ULL
#define NVMM_VCPU_EXIT_WRMSR		0x0000000000002001ULL
#define NVMM_VCPU_EXIT_MONITOR		0x0000000000002002ULL
#define NVMM_VCPU_EXIT_MWAIT		0x0000000000002003ULL
#define NVMM_VCPU_EXIT_CPUID		0x0000000000002004ULL

struct nvmm_x86_exit_memory {
	int prot;			/* PROT_READ, PROT_WRITE or PROT_EXEC */
	gpaddr_t gpa;
	uint8_t inst_len;
	uint8_t inst_bytes[15];
};

struct nvmm_x86_exit_io {
	bool in;
	uint16_t port;
	int8_t seg;
	uint8_t address_size;
	uint8_t operand_size;
	bool rep;
	bool str;
	uint64_t npc;
};

struct nvmm_x86_exit_rdmsr {
	uint32_t msr;
	uint64_t npc;
};

struct nvmm_x86_exit_wrmsr {
	uint32_t msr;
	uint64_t val;
	uint64_t npc;
};

struct nvmm_x86_exit_insn {
	uint64_t npc;
};

struct nvmm_x86_exit_invalid {
	uint64_t hwcode;
};

/*
 * libnvmm for Linux extension (not in NetBSD's NVMM; libnvmm(3),
 * EXTENSIONS): with NVMM_VCPU_CONF_DEBUG, a single step, a breakpoint or
 * a watchpoint ends the run with this exit.  RIP is on the instruction
 * that comes next (a step, a watchpoint) or on the one that would run (an
 * instruction breakpoint, an int3).
 */
#define NVMM_VCPU_EXIT_DEBUG		0x0000000000010000ULL

struct nvmm_x86_exit_debug {
	uint32_t exception;		/* 1 (#DB) or 3 (#BP, an int3) */
	uint32_t rsvd;
	uint64_t dr6;			/* #DB: DR0-DR3 hits, BS (a step) */
	uint64_t dr7;			/* the DR7 in force */
	uint64_t pc;			/* linear address of RIP */
};

struct nvmm_x86_exit {
	uint64_t reason;
	union {
		struct nvmm_x86_exit_memory mem;
		struct nvmm_x86_exit_io io;
		struct nvmm_x86_exit_rdmsr rdmsr;
		struct nvmm_x86_exit_wrmsr wrmsr;
		struct nvmm_x86_exit_insn insn;
		struct nvmm_x86_exit_invalid inv;
		struct nvmm_x86_exit_debug dbg;	/* extension */
	} u;
	struct {
		uint64_t rflags;
		uint64_t cr8;
		uint64_t int_shadow:1;
		uint64_t int_window_exiting:1;
		uint64_t nmi_window_exiting:1;
		uint64_t evt_pending:1;
		uint64_t rsvd:60;
	} exitstate;
};

/* -------------------------------------------------------------------------
 * x86: capability and configuration.
 * ------------------------------------------------------------------------- */

#define NVMM_CAP_ARCH_VCPU_CONF_CPUID	__BIT(0)
#define NVMM_CAP_ARCH_VCPU_CONF_TPR	__BIT(1)

struct nvmm_cap_md {
	uint64_t mach_conf_support;
	uint64_t vcpu_conf_support;
	uint64_t xcr0_mask;
	uint32_t mxcsr_mask;
	uint32_t conf_cpuid_maxops;
	uint64_t rsvd[6];
};

#define NVMM_X86_MACH_NCONF	0
#define NVMM_X86_VCPU_NCONF	2

#define NVMM_VCPU_CONF_CPUID	(NVMM_VCPU_CONF_MD_BEGIN + 0)
#define NVMM_VCPU_CONF_TPR	(NVMM_VCPU_CONF_MD_BEGIN + 1)

struct nvmm_vcpu_conf_cpuid {
	uint32_t mask:1;
	uint32_t exit:1;
	uint32_t rsvd:30;
	uint32_t leaf;
	union {
		struct {
			struct {
				uint32_t eax;
				uint32_t ebx;
				uint32_t ecx;
				uint32_t edx;
			} set;
			struct {
				uint32_t eax;
				uint32_t ebx;
				uint32_t ecx;
				uint32_t edx;
			} del;
		} mask;
	} u;
};

struct nvmm_vcpu_conf_tpr {
	uint32_t exit_changed:1;
	uint32_t rsvd:31;
};

/*
 * libnvmm for Linux extension (not in NetBSD's NVMM; libnvmm(3),
 * EXTENSIONS): guest debugging, a VCPU configuration op advertised by
 * NVMM_CAP_ARCH_VCPU_CONF_DEBUG.  flags 0 turns debugging off.  What the
 * host cannot do is refused with EOPNOTSUPP.
 */
#define NVMM_CAP_ARCH_VCPU_CONF_DEBUG	__BIT(2)
#define NVMM_VCPU_CONF_DEBUG	(NVMM_VCPU_CONF_MD_BEGIN + 2)

#define NVMM_VCPU_DEBUG_STEP	__BIT(0)	/* exit after one instruction */
#define NVMM_VCPU_DEBUG_SWBP	__BIT(1)	/* an int3 exits, not #BP */
#define NVMM_VCPU_DEBUG_HWBP	__BIT(2)	/* dr[] and dr7 are armed */
#define NVMM_VCPU_DEBUG_NOIRQ	__BIT(3)	/* no interrupt in a step */
#define NVMM_VCPU_DEBUG_USER	__BIT(4)	/* CPL3 code must be covered */

struct nvmm_vcpu_conf_debug {
	uint64_t flags;			/* NVMM_VCPU_DEBUG_* */
	uint64_t dr[4];			/* DR0-DR3 */
	uint64_t dr7;
};

/* Machine-independent names for the x86 structures. */
#define nvmm_vcpu_state		nvmm_x64_state
#define nvmm_vcpu_event		nvmm_x86_event
#define nvmm_vcpu_exit		nvmm_x86_exit

/* -------------------------------------------------------------------------
 * Capability, handles, callbacks, control.
 * ------------------------------------------------------------------------- */

struct nvmm_capability {
	uint32_t version;
	uint32_t state_size;
	uint32_t max_machines;
	uint32_t max_vcpus;
	uint64_t max_ram;
	struct nvmm_cap_md arch;
};

struct nvmm_comm_page;		/* NetBSD kernel page; opaque here */

struct nvmm_machine {
	nvmm_machid_t machid;
	struct nvmm_comm_page **pages;	/* library-private */
	void *areas;			/* library-private */
};

struct nvmm_io;
struct nvmm_mem;

struct nvmm_assist_callbacks {
	void (*io)(struct nvmm_io *);
	void (*mem)(struct nvmm_mem *);
};

struct nvmm_vcpu {
	nvmm_cpuid_t cpuid;
	struct nvmm_assist_callbacks cbs;
	struct nvmm_vcpu_state *state;
	struct nvmm_vcpu_event *event;
	struct nvmm_vcpu_exit *exit;
	volatile int *stop;
};

struct nvmm_io {
	struct nvmm_machine *mach;
	struct nvmm_vcpu *vcpu;
	uint16_t port;
	bool in;
	size_t size;
	uint8_t *data;
};

struct nvmm_mem {
	struct nvmm_machine *mach;
	struct nvmm_vcpu *vcpu;
	gpaddr_t gpa;
	bool write;
	size_t size;
	uint8_t *data;
};

#define NVMM_CTL_MACH_INFO	0

struct nvmm_ctl_mach_info {
	nvmm_machid_t machid;
	uint32_t nvcpus;
	uint64_t nram;
	pid_t pid;
	time_t time;
};

/* -------------------------------------------------------------------------
 * Functions.
 * ------------------------------------------------------------------------- */

int nvmm_init(void);
int nvmm_root_init(void);
int nvmm_capability(struct nvmm_capability *);

int nvmm_machine_create(struct nvmm_machine *);
int nvmm_machine_destroy(struct nvmm_machine *);
int nvmm_machine_configure(struct nvmm_machine *, uint64_t, void *);

int nvmm_vcpu_create(struct nvmm_machine *, nvmm_cpuid_t, struct nvmm_vcpu *);
int nvmm_vcpu_destroy(struct nvmm_machine *, struct nvmm_vcpu *);
int nvmm_vcpu_configure(struct nvmm_machine *, struct nvmm_vcpu *, uint64_t,
    void *);
int nvmm_vcpu_setstate(struct nvmm_machine *, struct nvmm_vcpu *, uint64_t);
int nvmm_vcpu_getstate(struct nvmm_machine *, struct nvmm_vcpu *, uint64_t);
int nvmm_vcpu_inject(struct nvmm_machine *, struct nvmm_vcpu *);
int nvmm_vcpu_run(struct nvmm_machine *, struct nvmm_vcpu *);
int nvmm_vcpu_stop(struct nvmm_vcpu *);

int nvmm_gpa_map(struct nvmm_machine *, uintptr_t, gpaddr_t, size_t, int);
int nvmm_gpa_unmap(struct nvmm_machine *, uintptr_t, gpaddr_t, size_t);
int nvmm_hva_map(struct nvmm_machine *, uintptr_t, size_t);
int nvmm_hva_unmap(struct nvmm_machine *, uintptr_t, size_t);

int nvmm_gva_to_gpa(struct nvmm_machine *, struct nvmm_vcpu *, gvaddr_t,
    gpaddr_t *, nvmm_prot_t *);
int nvmm_gpa_to_hva(struct nvmm_machine *, gpaddr_t, uintptr_t *,
    nvmm_prot_t *);

int nvmm_assist_io(struct nvmm_machine *, struct nvmm_vcpu *);
int nvmm_assist_mem(struct nvmm_machine *, struct nvmm_vcpu *);

int nvmm_ctl(int, void *, size_t);

int nvmm_vcpu_dump(struct nvmm_machine *, struct nvmm_vcpu *);

/* -------------------------------------------------------------------------
 * The NVMM ABI sizes (x86-64, LP64).
 * ------------------------------------------------------------------------- */

#if defined(__cplusplus) && __cplusplus >= 201103L
#define _NVMM_ASSERT_SIZE(t, n) static_assert(sizeof(t) == (n), #t)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define _NVMM_ASSERT_SIZE(t, n) _Static_assert(sizeof(t) == (n), #t)
#endif
#ifdef _NVMM_ASSERT_SIZE
_NVMM_ASSERT_SIZE(struct nvmm_capability, 104);
_NVMM_ASSERT_SIZE(struct nvmm_machine, 24);
_NVMM_ASSERT_SIZE(struct nvmm_vcpu, 56);
_NVMM_ASSERT_SIZE(struct nvmm_x64_state, 1008);
_NVMM_ASSERT_SIZE(struct nvmm_x64_state_seg, 16);
_NVMM_ASSERT_SIZE(struct fxsave, 512);
_NVMM_ASSERT_SIZE(struct nvmm_x86_event, 16);
_NVMM_ASSERT_SIZE(struct nvmm_x86_exit, 64);
_NVMM_ASSERT_SIZE(struct nvmm_vcpu_conf_cpuid, 40);
_NVMM_ASSERT_SIZE(struct nvmm_vcpu_conf_tpr, 4);
_NVMM_ASSERT_SIZE(struct nvmm_vcpu_conf_debug, 48);
_NVMM_ASSERT_SIZE(struct nvmm_io, 40);
_NVMM_ASSERT_SIZE(struct nvmm_mem, 48);
_NVMM_ASSERT_SIZE(struct nvmm_ctl_mach_info, 32);
#undef _NVMM_ASSERT_SIZE
#endif

#ifdef __cplusplus
}
#endif

#endif /* _NVMM_H_ */
