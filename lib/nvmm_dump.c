/* nvmm_dump.c - nvmm_vcpu_dump(): a readable VCPU state on stdout. */

#include <stdio.h>

#include "nvmm_internal.h"

int
nvmm_vcpu_dump(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu)
{
	static const char *const gpr_names[] = {
		"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
	};
	static const char *const seg_names[NVMM_X64_NSEG] = {
		"ES", "CS", "SS", "DS", "FS", "GS", "GDT", "IDT", "LDT", "TR",
	};
	const struct nvmm_x64_state *st;
	const struct nvmm_x64_state_seg *sg;
	uint16_t attrib;
	int i;

	if (nvmm_vcpu_getstate(mach, vcpu, NVMM_X64_STATE_ALL) == -1)
		return -1;
	st = vcpu->state;

	printf("+ VCPU id=%u\n", (unsigned int)vcpu->cpuid);
	for (i = 0; i < 8; i++)
		printf("| -> %s=%llx\n", gpr_names[i],
		    (unsigned long long)st->gprs[i]);
	printf("| -> RIP=%llx\n",
	    (unsigned long long)st->gprs[NVMM_X64_GPR_RIP]);
	printf("| -> RFLAGS=%p\n", (void *)st->gprs[NVMM_X64_GPR_RFLAGS]);
	for (i = 0; i < NVMM_X64_NSEG; i++) {
		sg = &st->segs[i];
		attrib = (uint16_t)(sg->attrib.type | (sg->attrib.s << 4) |
		    (sg->attrib.dpl << 5) | (sg->attrib.p << 7) |
		    (sg->attrib.avl << 8) | (sg->attrib.l << 9) |
		    (sg->attrib.def << 10) | (sg->attrib.g << 11) |
		    (sg->attrib.rsvd << 12));
		printf("| -> %s: sel=0x%x base=%llx, limit=%x, attrib=%x "
		    "[type=%d,l=%d,def=%d]\n", seg_names[i], sg->selector,
		    (unsigned long long)sg->base, sg->limit, attrib,
		    sg->attrib.type, sg->attrib.l, sg->attrib.def);
	}
	printf("| -> MSR_EFER=%llx\n",
	    (unsigned long long)st->msrs[NVMM_X64_MSR_EFER]);
	printf("| -> CR0=%llx\n", (unsigned long long)st->crs[NVMM_X64_CR_CR0]);
	printf("| -> CR3=%llx\n", (unsigned long long)st->crs[NVMM_X64_CR_CR3]);
	printf("| -> CR4=%llx\n", (unsigned long long)st->crs[NVMM_X64_CR_CR4]);
	printf("| -> CR8=%llx\n", (unsigned long long)st->crs[NVMM_X64_CR_CR8]);
	return 0;
}
