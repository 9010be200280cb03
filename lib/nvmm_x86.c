/* nvmm_x86.c - NVMM's x86 rules: reset state, MSRs, CPUID filtering, events (docs/nvmm-semantics.md). */

/*
 * What NVMM promises a guest and a client on x86, whatever does the
 * virtualization underneath.  Nothing here knows KVM: a backend asks
 * these functions and maps the answers onto its hypervisor.
 */

#include <errno.h>
#include <string.h>

#include "nvmm_x86.h"

/* -------------------------------------------------------------------------
 * State (docs/nvmm-semantics.md 2).
 * ------------------------------------------------------------------------- */

void
nvmm_x86_state_reset(struct nvmm_x64_state *st, uint32_t mxcsr_mask)
{
	int i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < NVMM_X64_NSEG; i++) {
		st->segs[i].limit = 0xffff;
		st->segs[i].attrib.type = 3;	/* read/write, accessed */
		st->segs[i].attrib.s = 1;
		st->segs[i].attrib.p = 1;
	}
	st->segs[NVMM_X64_SEG_CS].selector = 0xf000;
	st->segs[NVMM_X64_SEG_CS].base = 0xffff0000;
	st->segs[NVMM_X64_SEG_GDT].attrib.type = 2;
	st->segs[NVMM_X64_SEG_IDT].attrib.type = 2;
	st->segs[NVMM_X64_SEG_LDT].attrib.type = 2;	/* LDT */
	st->segs[NVMM_X64_SEG_LDT].attrib.s = 0;
	st->segs[NVMM_X64_SEG_TR].attrib.type = 3;	/* busy 16-bit TSS */
	st->segs[NVMM_X64_SEG_TR].attrib.s = 0;

	st->gprs[NVMM_X64_GPR_RDX] = 0x600;	/* the CPU's signature */
	st->gprs[NVMM_X64_GPR_RIP] = 0xfff0;
	st->gprs[NVMM_X64_GPR_RFLAGS] = 0x2;
	st->crs[NVMM_X64_CR_CR0] = X86_CR0_CD | X86_CR0_NW | X86_CR0_ET;
	st->crs[NVMM_X64_CR_XCR0] = X86_XCR0_X87;
	st->drs[NVMM_X64_DR_DR6] = X86_DR6_RESET;
	st->drs[NVMM_X64_DR_DR7] = X86_DR7_RESET;
	st->msrs[NVMM_X64_MSR_PAT] = 0x0007040600070406ULL;

	/* MXCSR as hardware resets it (NetBSD's effective 0 is not kept). */
	st->fpu.fx_cw = 0x0040;
	st->fpu.fx_tw = 0x55;
	st->fpu.fx_zero = 0x55;
	st->fpu.fx_mxcsr = 0x1f80;
	st->fpu.fx_mxcsr_mask = mxcsr_mask;
}

const struct nvmm_x86_state_msr nvmm_x86_state_msrs[NVMM_X86_NSTATE_MSRS] = {
	{ X86_MSR_STAR, NVMM_X64_MSR_STAR },
	{ X86_MSR_LSTAR, NVMM_X64_MSR_LSTAR },
	{ X86_MSR_CSTAR, NVMM_X64_MSR_CSTAR },
	{ X86_MSR_SFMASK, NVMM_X64_MSR_SFMASK },
	{ X86_MSR_KERNELGSBASE, NVMM_X64_MSR_KERNELGSBASE },
	{ X86_MSR_SYSENTER_CS, NVMM_X64_MSR_SYSENTER_CS },
	{ X86_MSR_SYSENTER_ESP, NVMM_X64_MSR_SYSENTER_ESP },
	{ X86_MSR_SYSENTER_EIP, NVMM_X64_MSR_SYSENTER_EIP },
	{ X86_MSR_PAT, NVMM_X64_MSR_PAT },
	{ X86_MSR_TSC, NVMM_X64_MSR_TSC },
};
/* Every MSR of the state but EFER, which travels with the segments. */
_Static_assert(NVMM_X64_NMSR - 1 == NVMM_X86_NSTATE_MSRS, "state MSRs");

/* -------------------------------------------------------------------------
 * MSRs (docs/nvmm-semantics.md 4).
 * ------------------------------------------------------------------------- */

/* The MSRs of nvmm_x64_state and FS/GS base. */
const struct nvmm_x86_msr_range nvmm_x86_msr_guest[] = {
	{ X86_MSR_TSC, 1 },
	{ X86_MSR_SYSENTER_CS, 3 },
	{ X86_MSR_PAT, 1 },
	{ X86_MSR_EFER, 5 },	/* EFER, STAR, LSTAR, CSTAR, SFMASK */
	{ X86_MSR_FSBASE, 3 },	/* FS.base, GS.base, KERNELGSBASE */
};
const size_t nvmm_x86_nmsr_guest =
    sizeof(nvmm_x86_msr_guest) / sizeof(nvmm_x86_msr_guest[0]);

enum nvmm_x86_msr_rule
nvmm_x86_msr_rule(uint32_t msr)
{
	switch (msr) {
	case X86_MSR_PLATFORM_ID:
	case X86_MSR_BIOS_SIGN:
		return NVMM_X86_MSR_ZERO;
	case X86_MSR_MISC_ENABLE:
	case X86_MSR_ARCH_CAPABILITIES:
		return NVMM_X86_MSR_HOST;
	default:
		return NVMM_X86_MSR_EXIT;
	}
}

/* MISC_ENABLE bits NVMM hides and shows. */
#define MISC_PERFMON		(1ULL << 7)
#define MISC_BTS_UNAVAIL	(1ULL << 11)
#define MISC_PEBS_UNAVAIL	(1ULL << 12)
#define MISC_EIST		(1ULL << 16)
#define MISC_MONITOR		(1ULL << 18)

/* ARCH_CAPABILITIES: RDCL_NO, SSB_NO, MDS_NO, TAA_NO. */
#define ARCH_CAP_KEPT		0x131ULL

uint64_t
nvmm_x86_msr_host(uint32_t msr, uint64_t host)
{
	if (msr == X86_MSR_MISC_ENABLE)
		return (host & ~(MISC_PERFMON | MISC_EIST | MISC_MONITOR)) |
		    MISC_BTS_UNAVAIL | MISC_PEBS_UNAVAIL;
	if (msr == X86_MSR_ARCH_CAPABILITIES)
		return host & ARCH_CAP_KEPT;
	return 0;
}

/* -------------------------------------------------------------------------
 * CPUID (docs/nvmm-semantics.md 5).
 * ------------------------------------------------------------------------- */

#define CPUID_MAX_BASIC		0x16
#define CPUID_MAX_EXT		0x80000008
#define CPUID_EXT		0x80000000

enum { EAX, EBX, ECX, EDX };

void
nvmm_x86_cpuid_limits(struct nvmm_x86_cpuid_ctx *ctx, uint32_t host_basic,
    uint32_t host_ext)
{
	ctx->max_basic = host_basic < CPUID_MAX_BASIC ? host_basic :
	    CPUID_MAX_BASIC;
	ctx->max_ext = host_ext < CPUID_MAX_EXT ? host_ext : CPUID_MAX_EXT;
}

static void
cpuid_set(struct nvmm_x86_cpuid *c, uint32_t a, uint32_t b, uint32_t cx,
    uint32_t d)
{
	c->regs[EAX] = a;
	c->regs[EBX] = b;
	c->regs[ECX] = cx;
	c->regs[EDX] = d;
}

/* Leaf 7: the user-level features NVMM lets through. */
static void
cpuid_leaf7(struct nvmm_x86_cpuid *c)
{
	if (c->index != 0) {
		cpuid_set(c, 0, 0, 0, 0);
		return;
	}
	c->regs[EAX] = 0;
	c->regs[EBX] &= 0x019c23c9 | (1u << 10);	/* and INVPCID */
	c->regs[ECX] &= 0x1a000705;
	c->regs[EDX] &= 0x4410;
}

/* Leaf 0xB: one thread per core, the VCPU id as x2APIC id. */
static void
cpuid_leafb(struct nvmm_x86_cpuid *c, const struct nvmm_x86_cpuid_ctx *ctx)
{
	uint32_t log2 = 0;

	while ((2u << log2) <= ctx->nvcpus)
		log2++;
	if (c->index == 0)
		cpuid_set(c, 0, 0, 0x100, ctx->vcpu);
	else if (c->index == 1)
		cpuid_set(c, log2, ctx->nvcpus, 0x201, ctx->vcpu);
	else
		cpuid_set(c, 0, 0, c->index, ctx->vcpu);
}

/* Leaf 0xD: x87 and SSE only; false for the other components. */
static bool
cpuid_leafd(struct nvmm_x86_cpuid *c)
{
	if (c->index == 0)
		cpuid_set(c, NVMM_X86_XCR0_MASK & c->regs[EAX], 576, 576, 0);
	else if (c->index == 1)
		cpuid_set(c, c->regs[EAX] & 0x7, 0, 0, 0);
	else
		return false;
	return true;
}

static bool
cpuid_in_range(uint32_t leaf, const struct nvmm_x86_cpuid_ctx *ctx)
{
	if (leaf >= NVMM_X86_CPUID_HV && leaf < CPUID_EXT)
		return false;	/* the host's hypervisor leaves */
	if (leaf < NVMM_X86_CPUID_HV)
		return leaf <= ctx->max_basic;
	return leaf <= ctx->max_ext;
}

bool
nvmm_x86_cpuid_filter(struct nvmm_x86_cpuid *c,
    const struct nvmm_x86_cpuid_ctx *ctx)
{
	if (!cpuid_in_range(c->leaf, ctx))
		return false;
	switch (c->leaf) {
	case 0x0:
		c->regs[EAX] = ctx->max_basic;
		break;
	case 0x1:
		c->regs[EBX] = (c->regs[EBX] & 0x00ffffff) | (ctx->vcpu << 24);
		c->regs[ECX] = (c->regs[ECX] & 0x6ed83203) | 0x80000000;
		if (ctx->no_xsave)	/* XSAVE, and OSXSAVE with it */
			c->regs[ECX] &= ~(X86_CPUID1_ECX_XSAVE |
			    X86_CPUID1_ECX_OSXSAVE);
		c->regs[EDX] &= 0x9f8bab7f;
		break;
	case 0x3: case 0x5: case 0x6: case 0x8: case 0x9: case 0xa: case 0xc:
	case 0xe: case 0xf: case 0x10: case 0x11: case 0x12: case 0x13:
	case 0x14:
		cpuid_set(c, 0, 0, 0, 0);	/* no MONITOR, no PMU... */
		break;
	case 0x7:
		cpuid_leaf7(c);
		break;
	case 0xb:
		cpuid_leafb(c, ctx);
		break;
	case 0xd:
		return !ctx->no_xsave && cpuid_leafd(c);
	case 0x1f:
		c->regs[EDX] = ctx->vcpu;
		break;
	case CPUID_EXT:
		c->regs[EAX] = ctx->max_ext;
		break;
	case 0x80000001:
		c->regs[ECX] &= 0x006309f3;
		c->regs[EDX] &= 0xe7d3ab7f;
		break;
	case 0x80000007:
		cpuid_set(c, 0, 0, 0, c->regs[EDX] & 0x100);	/* invariant TSC */
		break;
	case 0x80000008:
		c->regs[EBX] &= 0x205;
		c->regs[EDX] = 0;
		break;
	default:
		break;
	}
	return true;
}

void
nvmm_x86_cpuid_signature(struct nvmm_x86_cpuid *c)
{
	c->leaf = NVMM_X86_CPUID_HV;
	c->index = 0;
	/* "___ NVMM ___" */
	cpuid_set(c, NVMM_X86_CPUID_HV, 0x205f5f5f, 0x4d4d564e, 0x5f5f5f20);
}

void
nvmm_x86_cpuid_apply(struct nvmm_x86_cpuid *c,
    const struct nvmm_x86_cpuid_conf *conf)
{
	const struct nvmm_x86_cpuid_mask *m;
	size_t i;
	int r;

	for (i = 0; i < conf->nmasks; i++) {
		m = &conf->masks[i];
		if (m->leaf != c->leaf)
			continue;
		for (r = 0; r < 4; r++)
			c->regs[r] = (c->regs[r] & ~m->del[r]) | m->set[r];
	}
}

int
nvmm_x86_cpuid_configure(struct nvmm_x86_cpuid_conf *conf,
    const struct nvmm_vcpu_conf_cpuid *c, bool exit_ok)
{
	struct nvmm_x86_cpuid_mask *e = NULL;
	uint32_t set[4], del[4];
	size_t i;

	if ((c->mask && c->exit) || (c->exit && !exit_ok)) {
		errno = EINVAL;
		return -1;
	}
	set[EAX] = c->u.mask.set.eax; set[EBX] = c->u.mask.set.ebx;
	set[ECX] = c->u.mask.set.ecx; set[EDX] = c->u.mask.set.edx;
	del[EAX] = c->u.mask.del.eax; del[EBX] = c->u.mask.del.ebx;
	del[ECX] = c->u.mask.del.ecx; del[EDX] = c->u.mask.del.edx;
	for (i = 0; c->mask && i < 4; i++) {
		if (set[i] & del[i]) {
			errno = EINVAL;
			return -1;
		}
	}
	for (i = 0; i < conf->nmasks && e == NULL; i++) {
		if (conf->masks[i].leaf == c->leaf)
			e = &conf->masks[i];
	}
	if (!c->mask) {
		/* Neither mask nor exit: the leaf's entry goes, if any. */
		if (e != NULL)
			*e = conf->masks[--conf->nmasks];
		return 0;
	}
	if (e == NULL) {
		if (conf->nmasks == NVMM_X86_CPUID_MAXOPS) {
			errno = ENOBUFS;
			return -1;
		}
		e = &conf->masks[conf->nmasks++];
	}
	e->leaf = c->leaf;
	memcpy(e->set, set, sizeof(set));
	memcpy(e->del, del, sizeof(del));
	return 0;
}

/* -------------------------------------------------------------------------
 * Events (docs/nvmm-semantics.md 6).
 * ------------------------------------------------------------------------- */

/* Exceptions that push an error code: 8, 10-14, 17, 21, 30. */
#define EXC_ERRCODE	((1u << 8) | (1u << 10) | (1u << 11) | (1u << 12) | \
			 (1u << 13) | (1u << 14) | (1u << 17) | (1u << 21) | \
			 (1u << 30))

int
nvmm_x86_event_check(const struct nvmm_x86_event *e)
{
	switch (e->type) {
	case NVMM_VCPU_EVENT_EXCP:
		/* #DE, NMI and #BP cannot be injected as exceptions. */
		if (e->vector >= 32 || e->vector == X86_EXC_DE ||
		    e->vector == X86_EXC_NMI || e->vector == X86_EXC_BP)
			break;
		return 0;
	case NVMM_VCPU_EVENT_INTR:
		return 0;	/* any vector; 2 is an NMI */
	default:
		break;
	}
	errno = EINVAL;
	return -1;
}

bool
nvmm_x86_exc_has_errcode(uint8_t vector)
{
	return vector < 32 && ((EXC_ERRCODE >> vector) & 1);
}

bool
nvmm_x86_exc_sets_rf(uint8_t vector)
{
	return vector != X86_EXC_DB && vector != X86_EXC_OF &&
	    vector != X86_EXC_DF && vector != X86_EXC_MC;
}
