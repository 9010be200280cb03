/* memory.h - gives the guest its RAM: maps an ELF load plan into a machine and copies the image. */

#ifndef _TOYVIRT_MEMORY_H_
#define _TOYVIRT_MEMORY_H_

#include <stddef.h>
#include <stdint.h>

#include <nvmm.h>

#include "elf.h"

/*
 * Allocates host memory for every region of the plan, registers it with
 * nvmm_hva_map, maps each region with nvmm_gpa_map (read/write/execute)
 * and copies the segments' file bytes from buf[0..len) (a buffer that
 * elf_parse accepted with this plan).  Returns 0, or -1 with a one-line
 * description naming the failing call in err.
 */
int mem_load(struct nvmm_machine *mach, const struct elf_plan *plan,
    const uint8_t *buf, size_t len, char *err, size_t errlen);

#endif
