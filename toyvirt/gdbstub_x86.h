/* gdbstub_x86.h - the x86 half of toyvirt's GDB stub, as gdbstub.c sees it: registers, target description, DR0-DR3 slots, address probes. */

#ifndef _TOYVIRT_GDBSTUB_X86_H_
#define _TOYVIRT_GDBSTUB_X86_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nvmm.h>

#include "run.h"

/* The widest register, in bytes. */
#define GX_REG_MAX	16

/* Registers in the 'g' packet: with or without the target description. */
int gx_nregs(bool described);

/* Register r's width in bytes. */
size_t gx_reg_size(int r);

/* Register r of st into b (gx_reg_size(r) bytes). */
void gx_reg_get(const struct nvmm_x64_state *st, int r, uint8_t *b);

/*
 * Sets register r of st from b; returns the NVMM_X64_STATE_* group to
 * write back (0: nothing changed), or -1 if it cannot be written.
 */
int gx_reg_set(struct nvmm_x64_state *st, int r, const uint8_t *b);

/* The target description (qXfer:features:read:target.xml). */
int gx_xml_build(void);
const char *gx_xml(size_t *len);
void gx_xml_free(void);

/* What the selected VCPU says about an address (gx_probe, on its thread). */
struct probe_req {
	uint64_t gva;
	bool paging;			/* CR0.PG */
	bool mapped;			/* gva translates */
	nvmm_prot_t prot;		/* its page's protection */
	unsigned cpl;
};
int gx_probe(struct tv_vcpu *v, void *arg);

/*
 * DR0-DR3 as gdb asked for them (type 0 is a Z0 in a debug register, 1 a
 * Z1, 2 and 4 watchpoints with rw and lenbits as DR7 encodes them).  The
 * slots are written into dbg's dr[] and dr7.
 */
int gx_slot_find(unsigned type, uint64_t addr, uint64_t kind);
int gx_slot_take(struct mc_debug *dbg, uint32_t limits, unsigned type,
    uint64_t addr, uint64_t kind, unsigned rw, unsigned lenbits);
void gx_slot_free(struct mc_debug *dbg, int i);
void gx_slots_reset(void);
bool gx_slot_is_z0(int i);

#endif
