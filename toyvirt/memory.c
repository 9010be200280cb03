/* memory.c - gives the guest its RAM: maps an ELF load plan into a machine and copies the image. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "memory.h"

/*
 * One anonymous host mapping holds all regions back to back and is
 * registered with a single nvmm_hva_map (NVMM allows only 32 registrations
 * per machine, and an ELF may have up to 128 segments); each region is
 * then given to the guest with its own nvmm_gpa_map, so the guest-physical
 * ranges never overlap and are page aligned even when the segments are
 * not.  The memory is fresh and zero-filled, and it is written only after
 * nvmm_hva_map (NetBSD's hva_map replaces the pages), so .bss and the
 * page slack around unaligned segments read as zero without being touched.
 * MAP_NORESERVE: a large .bss costs nothing until the guest uses it.  The
 * mapping lives until the process exits.
 */

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
mem_load(struct nvmm_machine *mach, const struct elf_plan *plan,
    const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	uint64_t hvaoff[ELF_MAX_PHDRS + 1];
	uint64_t off = 0;
	uint8_t *hva;
	unsigned i, j;

	if (plan->total_size == 0 || plan->total_size > SIZE_MAX)
		return fail(err, errlen, "bad guest RAM size 0x%" PRIx64,
		    plan->total_size);
	hva = mmap(NULL, (size_t)plan->total_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hva == MAP_FAILED)
		return fail(err, errlen, "mmap of %" PRIu64 " bytes of guest "
		    "RAM: %s", plan->total_size, strerror(errno));
	if (nvmm_hva_map(mach, (uintptr_t)hva, (size_t)plan->total_size) == -1)
		return fail(err, errlen, "nvmm_hva_map: %s", strerror(errno));

	for (i = 0; i < plan->nregions; i++) {
		const struct elf_region *r = &plan->regions[i];

		hvaoff[i] = off;
		if (nvmm_gpa_map(mach, (uintptr_t)(hva + off), r->gpa,
		    (size_t)r->size, PROT_READ | PROT_WRITE | PROT_EXEC) == -1)
			return fail(err, errlen, "nvmm_gpa_map [0x%" PRIx64
			    ", 0x%" PRIx64 "): %s", r->gpa, r->gpa + r->size,
			    strerror(errno));
		off += r->size;
	}

	for (i = 0; i < plan->nsegs; i++) {
		const struct elf_seg *s = &plan->segs[i];

		/* elf_parse guarantees these; check again before copying. */
		if (s->offset > len || s->filesz > len - s->offset)
			return fail(err, errlen, "program header %u: file data "
			    "outside the buffer", s->phidx);
		for (j = 0; j < plan->nregions; j++) {
			const struct elf_region *r = &plan->regions[j];

			if (s->gpa >= r->gpa && s->gpa - r->gpa < r->size &&
			    s->memsz <= r->size - (s->gpa - r->gpa))
				break;
		}
		if (j == plan->nregions)
			return fail(err, errlen, "program header %u: no region "
			    "holds the segment", s->phidx);
		memcpy(hva + hvaoff[j] + (s->gpa - plan->regions[j].gpa),
		    buf + s->offset, (size_t)s->filesz);
	}
	return 0;
}
