/* x86_icache.c - a VCPU's cache of the instructions its exits came from, so that a repeated exit needs no page walk and no decode. */

#include <string.h>

#include "x86_icache.h"

struct x86_icache_entry *
x86_icache_put(struct x86_icache *c, uint64_t rip, uint64_t cr3,
    uint64_t gen, const uint8_t *hva_before, const uint8_t *hva_at,
    const uint8_t *bytes, size_t len, size_t skip, enum x86_icache_kind kind)
{
	struct x86_icache_entry *e = x86_icache_slot(c, rip);

	if ((skip > 0 && hva_before == NULL) || hva_at == NULL ||
	    len > sizeof(e->bytes) || skip >= len)
		return NULL;
	e->rip = rip;
	e->cr3 = cr3;
	e->gen = gen;
	e->hva_before = hva_before;
	e->hva_at = hva_at;
	e->len = (uint8_t)len;
	e->skip = (uint8_t)skip;
	e->kind = (uint8_t)kind;
	memcpy(e->bytes, bytes, len);
	return e;
}

void
x86_icache_flush(struct x86_icache *c)
{
	size_t i;

	for (i = 0; i < X86_ICACHE_SIZE; i++)
		c->e[i].kind = X86_ICACHE_FREE;
}
