/* elf.h - toyvirt's ELF reader: file reading and a pure parse/validate step producing a load plan. */

#ifndef _TOYVIRT_ELF_H_
#define _TOYVIRT_ELF_H_

#include <stddef.h>
#include <stdint.h>

/*
 * Guest physical memory layout rules (the checks elf_parse makes).
 */
#define GUEST_PAGE_SIZE		0x1000ULL
#define GUEST_GPA_LIMIT		0x2000000000ULL	/* NVMM max_ram: 128 GiB */
#define GUEST_LAPIC_GPA		0xFEE00000ULL	/* LAPIC MMIO page, never RAM */
#define GUEST_LAPIC_SIZE	0x1000ULL
/*
 * Extra RAM given to the guest right after the image (after the end of the
 * highest PT_LOAD's memory, rounded up to a page): 128 pages = 512 KiB, as
 * in the original toyvirt.  smallkern keeps its page tables and its boot
 * stack there.
 */
#define GUEST_EXTRA_RAM		(512ULL * 1024)

/* Limits of what toyvirt accepts. */
#define ELF_MAX_PHDRS		128		/* e_phnum, as the original */
#define ELF_MAX_FILE_SIZE	(1ULL << 30)	/* 1 GiB */

/* One PT_LOAD with a non-zero memory size. */
struct elf_seg {
	unsigned phidx;		/* index of its program header */
	uint64_t gpa;		/* p_paddr: byte-exact guest physical address */
	uint64_t memsz;		/* p_memsz > 0 */
	uint64_t offset;	/* p_offset */
	uint64_t filesz;	/* p_filesz <= p_memsz; the rest is zero */
};

/* A page-aligned guest RAM range; regions are sorted and disjoint. */
struct elf_region {
	uint64_t gpa;
	uint64_t size;
};

/*
 * What to map and copy.  The regions cover every segment's pages and the
 * extra RAM; segments may share a page (they never share a byte), so the
 * regions are the union of the segments' page ranges, with touching or
 * overlapping ranges merged.  Everything not copied from the file is zero.
 */
struct elf_plan {
	uint64_t entry;			/* e_entry, inside a segment, < 4 GiB */
	unsigned nsegs;
	struct elf_seg segs[ELF_MAX_PHDRS];
	unsigned nregions;
	struct elf_region regions[ELF_MAX_PHDRS + 1];
	uint64_t image_end;		/* end of the highest segment */
	uint64_t ram_gpa;		/* the extra RAM: [ram_gpa, +ram_size) */
	uint64_t ram_size;
	uint64_t total_size;		/* sum of the region sizes */
	int has_ap_entry;		/* a "toyvirt" AP-entry note was found */
	uint64_t ap_entry;		/* its address: in a segment, < 4 GiB */
};

/*
 * The note that lets toyvirt start secondary VCPUs (-c): a PT_NOTE entry
 * with name "toyvirt" and type 1 whose descriptor is the 32-bit entry
 * point of the secondary VCPUs, 4 bytes little-endian (8 bytes are
 * accepted too, the upper half zero).  Without it only the first VCPU
 * runs.  Other notes are ignored.
 */
#define TOYVIRT_NOTE_NAME	"toyvirt"
#define TOYVIRT_NOTE_AP_ENTRY	1

/*
 * Validates the ELF image buf[0..len) and fills *plan.  Pure: no I/O, no
 * allocation, no global state, so it can be fuzzed on its own.  Returns 0,
 * or -1 with a one-line description of the first failed check in err.
 */
int elf_parse(const uint8_t *buf, size_t len, struct elf_plan *plan,
    char *err, size_t errlen);

/*
 * Reads the regular file at path into a malloc'd buffer (*bufp, *lenp).
 * Returns 0, or -1 with a one-line reason in err (missing file, directory,
 * empty file, too large, read error).
 */
int elf_read_file(const char *path, uint8_t **bufp, size_t *lenp,
    char *err, size_t errlen);

#endif
