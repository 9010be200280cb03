/* x86_walk.h - guest page-table walk (gva -> gpa), independent of KVM. */

#ifndef _NVMM_X86_WALK_H_
#define _NVMM_X86_WALK_H_

#include <nvmm.h>

/* The paging-relevant guest registers. */
struct x86_walk_regs {
	uint64_t cr0;
	uint64_t cr3;
	uint64_t cr4;
	uint64_t efer;
};

/*
 * Reads len bytes of guest-physical memory at gpa into buf.  Returns 0, or
 * -1 when [gpa, gpa+len) is not entirely inside guest RAM.  It never reads
 * host memory outside the guest's registered mappings.
 */
typedef int (*x86_read_phys_fn)(void *arg, gpaddr_t gpa, void *buf,
    size_t len);

/*
 * Translates a linear address with the guest's paging mode (none, 32-bit,
 * PAE, 4-level), as docs/nvmm-semantics.md section 7 says.  Returns 0 with the GPA
 * of the byte and the NVMM_PROT_* rights, or -1 with errno EFAULT.
 */
int x86_gva_to_gpa(const struct x86_walk_regs *regs, x86_read_phys_fn read,
    void *arg, gvaddr_t gva, gpaddr_t *gpa, nvmm_prot_t *prot);

#endif
