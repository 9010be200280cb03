/* x86_walk.c - guest page-table walk (gva -> gpa) for nvmm_gva_to_gpa and the assists. */

/*
 * Implements docs/nvmm-semantics.md section 7.  Everything read here (CR3, the
 * table entries) is guest-controlled: each paging mode is a fixed,
 * straight-line sequence of at most four entry reads, every table address
 * is masked to the architectural frame bits before use, and all reads go
 * through the caller's callback, which bounds them to guest RAM.  No host
 * memory is touched in any other way.
 *
 * Deliberate differences from a literal reading of NetBSD's walker:
 *  - bit 7 of a 4 KiB PTE is the PAT bit, not a "large page" bit; it is
 *    ignored (NetBSD fails the walk; docs/nvmm-semantics.md D7);
 *  - in 32-bit PAE mode the PDPTE has no R/W or U/S bits (they are
 *    reserved), so only P, NX and PS are looked at there;
 *  - in the two 32-bit modes the linear address is 32 bits wide: bits 63:32
 *    of the gva are ignored (linear addresses wrap at 4 GiB).
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <nvmm.h>

#include "x86_regs.h"
#include "x86_walk.h"

/* -------------------------------------------------------------------------
 * Architectural bits.
 * ------------------------------------------------------------------------- */


#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_US		(1ULL << 2)
#define PTE_PS		(1ULL << 7)
#define PTE_NX		(1ULL << 63)

#define PAGE_MASK_4K	0xFFFULL

/* 64-bit entries (PAE and 4-level): physical address bits 51:12. */
#define FRAME64_4K	0x000FFFFFFFFFF000ULL
#define FRAME64_2M	0x000FFFFFFFE00000ULL
#define FRAME64_1G	0x000FFFFFC0000000ULL

/* 32-bit entries: bits 31:12; 4 MiB pages bits 31:22 (PSE-36 ignored). */
#define FRAME32_4K	0xFFFFF000ULL
#define FRAME32_4M	0xFFC00000ULL

/* CR3: PAE PDPT base (32-byte aligned, bits 31:5). */
#define CR3_PAE_PDPT	0xFFFFFFE0ULL

#define SIZE_2M		(1ULL << 21)
#define SIZE_4M		(1ULL << 22)
#define SIZE_1G		(1ULL << 30)

/* -------------------------------------------------------------------------
 * Entry reads and protection reduction.
 * ------------------------------------------------------------------------- */

/*
 * Reads the 8-byte entry idx of the table at gpa table.  The table
 * address is at most 52 bits and idx*8 < 4096, so no overflow.
 */
static int
read_entry64(x86_read_phys_fn read, void *arg, uint64_t table, uint64_t idx,
    uint64_t *entry)
{
	uint8_t b[8];
	uint64_t v = 0;
	int i;

	if (read(arg, table + idx * 8, b, sizeof(b)) == -1)
		return -1;
	/* Guest memory is little-endian whatever the host is. */
	for (i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	*entry = v;
	return 0;
}

static int
read_entry32(x86_read_phys_fn read, void *arg, uint64_t table, uint64_t idx,
    uint64_t *entry)
{
	uint8_t b[4];

	if (read(arg, table + idx * 4, b, sizeof(b)) == -1)
		return -1;
	*entry = (uint64_t)b[0] | (uint64_t)b[1] << 8 |
	    (uint64_t)b[2] << 16 | (uint64_t)b[3] << 24;
	return 0;
}

/* U/S and R/W of a paging-structure entry; READ is never removed. */
static void
reduce_prot(uint64_t entry, nvmm_prot_t *prot)
{
	if (!(entry & PTE_US))
		*prot &= ~(nvmm_prot_t)NVMM_PROT_USER;
	if (!(entry & PTE_RW))
		*prot &= ~(nvmm_prot_t)NVMM_PROT_WRITE;
}

/* NX exists only in 64-bit entries (PAE and 4-level); EFER.NXE is not looked at. */
static void
reduce_prot_nx(uint64_t entry, nvmm_prot_t *prot)
{
	if (entry & PTE_NX)
		*prot &= ~(nvmm_prot_t)NVMM_PROT_EXEC;
}

/* -------------------------------------------------------------------------
 * The three paging modes.
 * ------------------------------------------------------------------------- */

/* Canonical for 48 bits: bits 63:47 all equal. */
static int
canonical48(uint64_t va)
{
	uint64_t top = va >> 47;

	return top == 0 || top == 0x1FFFF;
}

/* Reads a present 64-bit entry and applies its rights; -1 if absent. */
static int
entry64(x86_read_phys_fn read, void *arg, uint64_t table, unsigned int idx,
    uint64_t *e, nvmm_prot_t *prot)
{
	if (read_entry64(read, arg, table, idx, e) == -1 || !(*e & PTE_P))
		return -1;
	reduce_prot(*e, prot);
	reduce_prot_nx(*e, prot);
	return 0;
}

/* The page directory and page table, the same in PAE and 4-level. */
static int
walk_pd64(uint64_t pd, x86_read_phys_fn read, void *arg, uint64_t va,
    gpaddr_t *gpa, nvmm_prot_t *prot)
{
	uint64_t e;

	/* PDE: PS means a 2 MiB page (bit 12 is then PAT, masked off). */
	if (entry64(read, arg, pd, (va >> 21) & 0x1FF, &e, prot) == -1)
		return -1;
	if (e & PTE_PS) {
		*gpa = (e & FRAME64_2M) | (va & (SIZE_2M - 1));
		return 0;
	}

	/* PTE: bit 7 is PAT, ignored. */
	if (entry64(read, arg, e & FRAME64_4K, (va >> 12) & 0x1FF, &e,
	    prot) == -1)
		return -1;
	*gpa = (e & FRAME64_4K) | (va & PAGE_MASK_4K);
	return 0;
}

static int
walk_4level(uint64_t cr3, x86_read_phys_fn read, void *arg, uint64_t va,
    gpaddr_t *gpa, nvmm_prot_t *prot)
{
	uint64_t e;

	if (!canonical48(va))
		return -1;

	/* PML4E: a PS bit here is reserved, so it is a failure. */
	if (entry64(read, arg, cr3 & FRAME64_4K, (va >> 39) & 0x1FF, &e,
	    prot) == -1 || (e & PTE_PS))
		return -1;

	/* PDPTE: PS means a 1 GiB page. */
	if (entry64(read, arg, e & FRAME64_4K, (va >> 30) & 0x1FF, &e,
	    prot) == -1)
		return -1;
	if (e & PTE_PS) {
		*gpa = (e & FRAME64_1G) | (va & (SIZE_1G - 1));
		return 0;
	}
	return walk_pd64(e & FRAME64_4K, read, arg, va, gpa, prot);
}

static int
walk_pae(uint64_t cr3, x86_read_phys_fn read, void *arg, uint64_t va,
    gpaddr_t *gpa, nvmm_prot_t *prot)
{
	uint64_t e;

	/*
	 * PDPTE: 4 entries at CR3 bits 31:5.  R/W and U/S do not exist at
	 * this level (reserved bits), so only P, NX and PS count; a PS bit
	 * is reserved too and fails the walk.
	 */
	if (read_entry64(read, arg, cr3 & CR3_PAE_PDPT, (va >> 30) & 0x3,
	    &e) == -1)
		return -1;
	if (!(e & PTE_P) || (e & PTE_PS))
		return -1;
	reduce_prot_nx(e, prot);
	return walk_pd64(e & FRAME64_4K, read, arg, va, gpa, prot);
}

static int
walk_32bit(uint64_t cr3, bool pse, x86_read_phys_fn read, void *arg,
    uint64_t va, gpaddr_t *gpa, nvmm_prot_t *prot)
{
	uint64_t e, table;

	/* PDE: PS means a 4 MiB page with CR4.PSE, and is refused without. */
	table = cr3 & FRAME32_4K;
	if (read_entry32(read, arg, table, (va >> 22) & 0x3FF, &e) == -1)
		return -1;
	if (!(e & PTE_P))
		return -1;
	reduce_prot(e, prot);
	if (e & PTE_PS) {
		if (!pse)
			return -1;
		*gpa = (e & FRAME32_4M) | (va & (SIZE_4M - 1));
		return 0;
	}

	/* PTE: bit 7 is PAT, ignored. */
	table = e & FRAME32_4K;
	if (read_entry32(read, arg, table, (va >> 12) & 0x3FF, &e) == -1)
		return -1;
	if (!(e & PTE_P))
		return -1;
	reduce_prot(e, prot);
	*gpa = (e & FRAME32_4K) | (va & PAGE_MASK_4K);
	return 0;
}

/* -------------------------------------------------------------------------
 * Entry point.
 * ------------------------------------------------------------------------- */

int
x86_gva_to_gpa(const struct x86_walk_regs *regs, x86_read_phys_fn read,
    void *arg, gvaddr_t gva, gpaddr_t *gpa, nvmm_prot_t *prot)
{
	nvmm_prot_t p = NVMM_PROT_ALL;
	gpaddr_t g = 0;
	bool pae, lma;
	int ret;

	if (regs == NULL || read == NULL || gpa == NULL || prot == NULL) {
		errno = EFAULT;
		return -1;
	}

	pae = (regs->cr4 & X86_CR4_PAE) != 0;
	lma = (regs->efer & X86_EFER_LMA) != 0;

	if (!(regs->cr0 & X86_CR0_PG)) {
		/* No paging: identity, the full 64-bit value. */
		*gpa = gva;
		*prot = NVMM_PROT_ALL;
		return 0;
	}

	if (pae && lma)
		ret = walk_4level(regs->cr3, read, arg, gva, &g, &p);
	else if (pae)
		ret = walk_pae(regs->cr3, read, arg, gva & 0xFFFFFFFFULL,
		    &g, &p);
	else if (!lma)
		ret = walk_32bit(regs->cr3, (regs->cr4 & X86_CR4_PSE) != 0,
		    read, arg, gva & 0xFFFFFFFFULL, &g, &p);
	else
		ret = -1;	/* LMA without PAE cannot happen on real hardware */

	if (ret == -1) {
		/* Whatever the callback left in errno, the walk says EFAULT. */
		errno = EFAULT;
		return -1;
	}
	*gpa = g;
	*prot = p;
	return 0;
}
