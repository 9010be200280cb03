/* nvmm_x86.h - NVMM's x86 rules, shared by every backend (docs/nvmm-semantics.md). */

#ifndef _NVMM_X86_H_
#define _NVMM_X86_H_

#include <nvmm.h>
#include <stdbool.h>
#include <stdint.h>

#include "x86_regs.h"

/* The XCR0 components a guest may enable: x87 and SSE. */
#define NVMM_X86_XCR0_MASK	(X86_XCR0_X87 | X86_XCR0_SSE)

/* The CR4 bits a guest may have (docs/nvmm-semantics.md 3). */
#define NVMM_X86_CR4_VALID	0x370fffULL

/* Per-VCPU CPUID masks a client may configure. */
#define NVMM_X86_CPUID_MAXOPS	32

/* -------------------------------------------------------------------------
 * State.
 * ------------------------------------------------------------------------- */

/* The power-on state every VCPU starts in; mxcsr_mask is the host's. */
void nvmm_x86_state_reset(struct nvmm_x64_state *, uint32_t mxcsr_mask);

/* The MSRs of nvmm_x64_state, with their architectural numbers. */
struct nvmm_x86_state_msr {
	uint32_t msr;
	int index;		/* NVMM_X64_MSR_* */
};
#define NVMM_X86_NSTATE_MSRS	10
extern const struct nvmm_x86_state_msr nvmm_x86_state_msrs[NVMM_X86_NSTATE_MSRS];

/* -------------------------------------------------------------------------
 * MSRs the guest reads and writes.
 * ------------------------------------------------------------------------- */

/* Ranges the guest owns outright: no exit, no rule. */
struct nvmm_x86_msr_range {
	uint32_t base;
	uint32_t n;
};
extern const struct nvmm_x86_msr_range nvmm_x86_msr_guest[];
extern const size_t nvmm_x86_nmsr_guest;

/* What NVMM does with a guest RDMSR/WRMSR of an MSR outside them. */
enum nvmm_x86_msr_rule {
	NVMM_X86_MSR_EXIT,	/* the client's: RDMSR/WRMSR exit */
	NVMM_X86_MSR_ZERO,	/* reads 0, writes ignored */
	NVMM_X86_MSR_HOST,	/* reads the host's value through
				   nvmm_x86_msr_host(), writes ignored */
};
enum nvmm_x86_msr_rule nvmm_x86_msr_rule(uint32_t msr);

/* The guest's view of a host MSR with the NVMM_X86_MSR_HOST rule. */
uint64_t nvmm_x86_msr_host(uint32_t msr, uint64_t host);

/* -------------------------------------------------------------------------
 * CPUID.
 * ------------------------------------------------------------------------- */

/* One CPUID result: leaf, sub-leaf, and EAX, EBX, ECX, EDX. */
struct nvmm_x86_cpuid {
	uint32_t leaf;
	uint32_t index;
	uint32_t regs[4];
};

/* A client's mask for one leaf (NVMM_VCPU_CONF_CPUID). */
struct nvmm_x86_cpuid_mask {
	uint32_t leaf;
	uint32_t set[4];	/* eax, ebx, ecx, edx */
	uint32_t del[4];
};

/* A VCPU's CPUID configuration. */
struct nvmm_x86_cpuid_conf {
	struct nvmm_x86_cpuid_mask masks[NVMM_X86_CPUID_MAXOPS];
	size_t nmasks;
};

/* What the filter needs to know of the VCPU and the host. */
struct nvmm_x86_cpuid_ctx {
	nvmm_cpuid_t vcpu;
	uint32_t nvcpus;
	uint32_t max_basic;	/* clamped by nvmm_x86_cpuid_limits() */
	uint32_t max_ext;
	bool no_xsave;		/* the host cannot keep a guest's XCR0 */
};

#define NVMM_X86_CPUID_HV	0x40000000	/* NVMM's signature leaf */

/* Clamps the host's highest leaves to what NVMM shows. */
void nvmm_x86_cpuid_limits(struct nvmm_x86_cpuid_ctx *, uint32_t host_basic,
    uint32_t host_ext);

/* Filters a host result as NVMM does; false when the leaf is hidden. */
bool nvmm_x86_cpuid_filter(struct nvmm_x86_cpuid *,
    const struct nvmm_x86_cpuid_ctx *);

/* NVMM's signature leaf. */
void nvmm_x86_cpuid_signature(struct nvmm_x86_cpuid *);

/* Applies the client's masks to a filtered result. */
void nvmm_x86_cpuid_apply(struct nvmm_x86_cpuid *,
    const struct nvmm_x86_cpuid_conf *);

/*
 * Checks an NVMM_VCPU_CONF_CPUID request and updates conf with it.
 * Returns 0, or -1 with errno (conf unchanged).  exit_ok says whether
 * the backend can make CPUID exit.
 */
int nvmm_x86_cpuid_configure(struct nvmm_x86_cpuid_conf *,
    const struct nvmm_vcpu_conf_cpuid *, bool exit_ok);

/* -------------------------------------------------------------------------
 * Events.
 * ------------------------------------------------------------------------- */

/* 0 if NVMM accepts the event for injection, else -1 with EINVAL. */
int nvmm_x86_event_check(const struct nvmm_x86_event *);

/* Does the exception push an error code? */
bool nvmm_x86_exc_has_errcode(uint8_t vector);

/* Does injecting the exception set RFLAGS.RF? */
bool nvmm_x86_exc_sets_rf(uint8_t vector);

#endif
