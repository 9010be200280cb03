/* x86_icache.h - a VCPU's cache of the instructions its exits came from, so that a repeated exit needs no page walk and no decode. */

#ifndef _NVMM_X86_ICACHE_H_
#define _NVMM_X86_ICACHE_H_

#include <stdbool.h>
#include <stdint.h>

#include "nvmm_internal.h"
#include "x86_decode.h"
#include "x86_regs.h"

/*
 * An entry remembers, for one RIP, the guest bytes an exit's decode
 * depended on, where they are in host memory, and what the decode said.
 * It is used again only while those bytes are unchanged and the
 * machine's guest-physical maps are those it was made under; it is only
 * made for 64-bit code at CPL0 (docs/kvm-hosts.md says why and what that
 * leaves out).
 */
#define X86_ICACHE_SIZE		8	/* entries per VCPU, direct-mapped */
#define X86_ICACHE_BYTES	(X86_MAX_INSN_LEN + 2)

enum x86_icache_kind {
	X86_ICACHE_FREE,
	X86_ICACHE_IO,		/* an IN/OUT at RIP, and no OUT ends at RIP */
	X86_ICACHE_MEM,		/* an instruction that touched MMIO */
	X86_ICACHE_MSR,		/* RDMSR/WRMSR */
};

struct x86_icache_entry {
	uint64_t rip;
	uint64_t cr3;		/* the address space it was decoded in */
	uint64_t gen;		/* the machine's map generation then */
	/* bytes[] in guest RAM: the skip bytes before RIP, then the rest,
	   each in one page */
	const uint8_t *hva_before, *hva_at;
	uint8_t len;		/* how many bytes are compared */
	uint8_t skip;		/* of which before RIP */
	uint8_t kind;		/* enum x86_icache_kind */
	uint8_t bytes[X86_ICACHE_BYTES];
	union {
		struct {
			struct x86_insn_io d;
			uint16_t port;	/* as the exit reported it */
		} io;
		bool mem_readonly;	/* x86_insn_mem_readonly() */
		uint8_t msr_len;
	} u;
};

struct x86_icache {
	struct x86_icache_entry e[X86_ICACHE_SIZE];
};

/* The slot rip goes to. */
static inline struct x86_icache_entry *
x86_icache_slot(struct x86_icache *c, uint64_t rip)
{
	return &c->e[(rip ^ (rip >> 5)) % X86_ICACHE_SIZE];
}

/* The entry of that kind for rip, if its bytes are still in guest RAM
   there; NULL otherwise.  Inline: it is the whole of a cached exit's
   decode. */
static inline const struct x86_icache_entry *
x86_icache_find(struct x86_icache *c, struct nvmm_mach_priv *m, uint64_t rip,
    enum x86_icache_kind kind)
{
	struct x86_icache_entry *e = x86_icache_slot(c, rip);

	if (e->kind != kind || e->rip != rip)
		return NULL;
	if (!nvmm_mem_same(m, e->gen, e->hva_before, e->bytes, e->skip,
	    e->hva_at, e->bytes + e->skip, e->len - e->skip)) {
		e->kind = X86_ICACHE_FREE;	/* rewritten or unmapped */
		return NULL;
	}
	return e;
}

/*
 * Makes the entry for rip from the len bytes read under maps of
 * generation gen, of which skip lie before RIP at host address
 * hva_before and the rest at hva_at; NULL when they cannot be kept.  The
 * caller fills in the result.
 */
struct x86_icache_entry *x86_icache_put(struct x86_icache *, uint64_t rip,
    uint64_t cr3, uint64_t gen, const uint8_t *hva_before,
    const uint8_t *hva_at, const uint8_t *bytes, size_t len, size_t skip,
    enum x86_icache_kind);

/* Forgets everything (a change of mode or of address space). */
void x86_icache_flush(struct x86_icache *);

#endif
