/* x86_decode_out.c - which instruction an I/O exit came from, when RIP may already be past it. */

/*
 * A hypervisor that executes I/O instructions itself (KVM) reports only
 * port, size, direction and count, and for some instructions has already
 * moved RIP past them.  IN and INS stay on the instruction until they are
 * completed, and so does a REP OUTS with rounds left; an OUTS, or the last
 * round of a REP OUTS, is retired before the exit, and a plain OUT is
 * retired at the exit by some hosts and at the completion by others
 * (docs/kvm-hosts.md).  So the instruction is either the one at RIP or the
 * one that ends at RIP; both are decoded and the better fit wins.
 *
 * All bytes come from the guest: the decoder bounds every read.
 */

#include <stdatomic.h>

#include "x86_decode.h"

/*
 * Does the host retire a plain OUT before it exits?  -1: not known yet,
 * learned from exits where only one reading fits.
 */
static _Atomic int x86_out_retired = -1;
static _Atomic bool x86_out_learn = true;

void
x86_io_out_retired(int retired)
{
	atomic_store(&x86_out_learn, false);
	atomic_store(&x86_out_retired, retired);
}

static uint64_t
addr_mask(unsigned int size)
{
	return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* Is the instruction in bytes[0..n) an I/O instruction matching the exit? */
static bool
io_matches(const struct x86_io_site *s, const uint8_t *bytes, size_t n,
    struct x86_insn_io *d)
{
	return x86_decode_io(bytes, n, s->mode, d) == 0 && d->in == s->in &&
	    d->operand_size == s->operand_size &&
	    (d->imm_port ? d->port == s->port : (s->rdx & 0xffff) == s->port);
}

/*
 * How well a candidate that ends at RIP fits (higher is better): a REP
 * form must have left the count at 0; an OUTS must have read the exit's
 * data at its source.
 */
static int
back_score(const struct x86_io_site *s, const struct x86_insn_io *c)
{
	int score = 0;

	if (c->rep == ((s->rcx & addr_mask(c->address_size)) == 0))
		score += 2;
	if (c->str && s->src_matches != NULL && s->src_matches(c, s->arg))
		score += 1;
	return score;
}

/*
 * The best instruction that ends exactly at RIP.  Several starts may fit
 * (a byte of the previous instruction can read as a prefix): prefer the
 * higher score, then the longest.
 */
static bool
io_before(const struct x86_io_site *s, struct x86_insn_io *b)
{
	struct x86_insn_io c;
	bool found = false;
	size_t k;

	for (k = 1; k <= s->nbefore; k++) {
		if (!io_matches(s, s->before + s->nbefore - k, k, &c) ||
		    c.len != k)
			continue;
		if (!found || back_score(s, &c) >= back_score(s, b)) {
			*b = c;
			found = true;
		}
	}
	return found;
}

enum x86_io_where
x86_io_locate(const struct x86_io_site *s, struct x86_insn_io *d)
{
	struct x86_insn_io b;
	bool fwd, bwd;
	int retired;

	fwd = io_matches(s, s->at, s->nat, d);
	if (fwd && (s->in || (d->rep && d->str &&
	    (s->rcx & addr_mask(d->address_size)) != 0)))
		return X86_IO_AT_RIP;
	if (s->in)
		return fwd ? X86_IO_AT_RIP : X86_IO_UNKNOWN;

	bwd = io_before(s, &b);
	if (atomic_load(&x86_out_learn)) {
		if (bwd && !fwd && !b.str)
			atomic_store(&x86_out_retired, 1);
		if (fwd && !bwd && !d->str)
			atomic_store(&x86_out_retired, 0);
	}
	retired = atomic_load(&x86_out_retired);
	if (bwd && (!fwd || b.str || retired == 1)) {
		*d = b;
		return X86_IO_BEFORE_RIP;
	}
	return fwd ? X86_IO_AT_RIP : X86_IO_UNKNOWN;
}
