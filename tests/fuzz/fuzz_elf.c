/* fuzz_elf.c - libFuzzer target for toyvirt's ELF loader: every input loads into a consistent plan or is refused with a message. */

/*
 * Built with clang -fsanitize=fuzzer,address,undefined by
 * tests/t_fuzz_elf.sh (and `make fuzz`), linked with toyvirt/elf.c only.
 * elf_parse() is pure, so each input is checked on its own:
 *
 *   0   the plan must be consistent with the input and with the rules of
 *       toyvirt/elf.h: segments inside the file, non-overlapping, below
 *       128 GiB and clear of the LAPIC page, the entry inside a segment and
 *       below 4 GiB (the AP entry of toyvirt's note too, where elf.h has
 *       it), page-aligned regions sorted, disjoint and covering every
 *       segment and the extra RAM;
 *   -1  the error must be a non-empty, NUL-terminated line, and nothing may
 *       be written past the given error buffer length.
 *
 * Anything else calls abort(), which libFuzzer reports as a crash with the
 * input saved.  Each input is parsed twice (a full and a tiny error buffer)
 * and the two verdicts must agree.
 */

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf.h"

/* -------------------------------------------------------------------------
 * Helpers.
 * ------------------------------------------------------------------------- */

#define ERRLEN		256
#define GUARD		64
#define CANARY		0xa5

#define PT_LOAD_TYPE	1
#define PH_SIZE		56

static void __attribute__((noreturn, format(printf, 1, 2)))
bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_elf: inconsistent result: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static uint64_t
rd(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static bool
meet(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* -------------------------------------------------------------------------
 * Checks.
 * ------------------------------------------------------------------------- */

/* Nothing was written past the errlen bytes of the error buffer. */
static void
check_guard(const char *err, size_t errlen)
{
	const uint8_t *g = (const uint8_t *)err + errlen;
	size_t i;

	for (i = 0; i < GUARD; i++)
		if (g[i] != CANARY)
			bad("byte %zu past the error buffer (length %zu) was "
			    "written", i, errlen);
}

/* A refusal: a one-line message, NUL-terminated inside errlen. */
static void
check_error(const char *err, size_t errlen)
{
	size_t n, i;

	check_guard(err, errlen);
	if (errlen == 0)
		return;
	n = strnlen(err, errlen);
	if (n == errlen)
		bad("error message not NUL-terminated within %zu bytes",
		    errlen);
	if (errlen > 1 && n == 0)
		bad("rejected without a message");
	for (i = 0; i < n; i++)
		if (err[i] == '\n')
			bad("error message has more than one line: \"%s\"",
			    err);
}

static void
check_segment(const uint8_t *buf, size_t len, const struct elf_plan *p,
    unsigned i)
{
	const struct elf_seg *s = &p->segs[i];
	uint64_t phoff = rd(buf + 32, 8), phnum = rd(buf + 56, 2);
	const uint8_t *ph;
	unsigned j;

	if (s->phidx >= phnum)
		bad("segment %u: program header %u of %" PRIu64, i, s->phidx,
		    phnum);
	if (i > 0 && s->phidx <= p->segs[i - 1].phidx)
		bad("segment %u: program headers out of order", i);
	ph = buf + phoff + (uint64_t)s->phidx * PH_SIZE;
	if (rd(ph, 4) != PT_LOAD_TYPE)
		bad("segment %u comes from a header of type %#" PRIx64, i,
		    rd(ph, 4));
	if (s->offset != rd(ph + 8, 8) || s->gpa != rd(ph + 24, 8) ||
	    s->filesz != rd(ph + 32, 8) || s->memsz != rd(ph + 40, 8))
		bad("segment %u differs from program header %u", i, s->phidx);
	if (s->memsz == 0 || s->filesz > s->memsz)
		bad("segment %u: filesz %#" PRIx64 " memsz %#" PRIx64, i,
		    s->filesz, s->memsz);
	if (s->offset > len || s->filesz > len - s->offset)
		bad("segment %u: file data [%#" PRIx64 ", +%#" PRIx64 ") "
		    "outside the %zu-byte input", i, s->offset, s->filesz,
		    len);
	if (s->gpa >= GUEST_GPA_LIMIT || s->memsz > GUEST_GPA_LIMIT - s->gpa)
		bad("segment %u: [%#" PRIx64 ", +%#" PRIx64 ") outside guest "
		    "RAM", i, s->gpa, s->memsz);
	if (meet(s->gpa, s->memsz, GUEST_LAPIC_GPA, GUEST_LAPIC_SIZE))
		bad("segment %u overlaps the LAPIC page", i);
	for (j = 0; j < i; j++)
		if (meet(s->gpa, s->memsz, p->segs[j].gpa, p->segs[j].memsz))
			bad("segments %u and %u overlap", j, i);
}

/* Is [gpa, gpa + size) inside one region? */
static bool
in_region(const struct elf_plan *p, uint64_t gpa, uint64_t size)
{
	unsigned k;

	for (k = 0; k < p->nregions; k++) {
		const struct elf_region *r = &p->regions[k];

		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    size <= r->size - (gpa - r->gpa))
			return true;
	}
	return false;
}

/*
 * A reference model: the page ranges of the segments and of the extra RAM,
 * sorted, touching or overlapping ones merged, must be the regions.
 */
static void
check_union(const struct elf_plan *p)
{
	struct elf_region r[ELF_MAX_PHDRS + 1], t, m[ELF_MAX_PHDRS + 1];
	unsigned n = 0, nm = 0, i, j;
	const uint64_t pg = GUEST_PAGE_SIZE;

	for (i = 0; i < p->nsegs; i++) {
		r[n].gpa = p->segs[i].gpa & ~(pg - 1);
		r[n].size = ((p->segs[i].gpa + p->segs[i].memsz + pg - 1) &
		    ~(pg - 1)) - r[n].gpa;
		n++;
	}
	r[n].gpa = p->ram_gpa;
	r[n].size = p->ram_size;
	n++;
	for (i = 1; i < n; i++) {
		t = r[i];
		for (j = i; j > 0 && r[j - 1].gpa > t.gpa; j--)
			r[j] = r[j - 1];
		r[j] = t;
	}
	for (i = 0; i < n; i++) {
		if (nm > 0 && r[i].gpa <= m[nm - 1].gpa + m[nm - 1].size) {
			if (r[i].gpa + r[i].size > m[nm - 1].gpa +
			    m[nm - 1].size)
				m[nm - 1].size = r[i].gpa + r[i].size -
				    m[nm - 1].gpa;
		} else
			m[nm++] = r[i];
	}
	if (nm != p->nregions)
		bad("%u regions, the pages used make %u", p->nregions, nm);
	for (i = 0; i < nm; i++)
		if (m[i].gpa != p->regions[i].gpa ||
		    m[i].size != p->regions[i].size)
			bad("region %u is [%#" PRIx64 ", +%#" PRIx64 "), the "
			    "pages used make [%#" PRIx64 ", +%#" PRIx64 ")", i,
			    p->regions[i].gpa, p->regions[i].size, m[i].gpa,
			    m[i].size);
}

static void
check_plan(const uint8_t *buf, size_t len, const struct elf_plan *p)
{
	uint64_t end = 0, total = 0;
	unsigned i, nload = 0;
	bool entry_ok = false;

	if (len < 64)
		bad("accepted a %zu-byte input", len);
	if (rd(buf + 32, 8) > len || rd(buf + 56, 2) * PH_SIZE >
	    len - rd(buf + 32, 8))
		bad("accepted a program header table outside the file");
	if (p->nsegs == 0 || p->nsegs > ELF_MAX_PHDRS)
		bad("%u segments", p->nsegs);
	for (i = 0; i < rd(buf + 56, 2) && i < ELF_MAX_PHDRS; i++) {
		const uint8_t *ph = buf + rd(buf + 32, 8) + (uint64_t)i *
		    PH_SIZE;

		if (rd(ph, 4) == PT_LOAD_TYPE && rd(ph + 40, 8) != 0)
			nload++;
	}
	if (nload != p->nsegs)
		bad("%u non-empty PT_LOADs but %u segments", nload, p->nsegs);
	for (i = 0; i < p->nsegs; i++) {
		const struct elf_seg *s = &p->segs[i];

		check_segment(buf, len, p, i);
		if (s->gpa + s->memsz > end)
			end = s->gpa + s->memsz;
		if (p->entry >= s->gpa && p->entry - s->gpa < s->memsz)
			entry_ok = true;
	}
	if (p->entry != rd(buf + 24, 8))
		bad("entry %#" PRIx64 " is not e_entry", p->entry);
	if (!entry_ok || p->entry > UINT32_MAX)
		bad("entry %#" PRIx64 " outside the segments or above 4 GiB",
		    p->entry);
#ifdef TOYVIRT_NOTE_AP_ENTRY
	/* The secondary VCPUs' entry (a note) obeys the same rules. */
	if (p->has_ap_entry != 0 && p->has_ap_entry != 1)
		bad("has_ap_entry %d", p->has_ap_entry);
	if (p->has_ap_entry) {
		entry_ok = false;
		for (i = 0; i < p->nsegs; i++)
			if (p->ap_entry >= p->segs[i].gpa &&
			    p->ap_entry - p->segs[i].gpa < p->segs[i].memsz)
				entry_ok = true;
		if (!entry_ok || p->ap_entry > UINT32_MAX)
			bad("AP entry %#" PRIx64 " outside the segments or "
			    "above 4 GiB", p->ap_entry);
	}
#endif
	if (p->image_end != end)
		bad("image_end %#" PRIx64 ", segments end at %#" PRIx64,
		    p->image_end, end);

	if (p->ram_size != GUEST_EXTRA_RAM || p->ram_gpa < p->image_end ||
	    p->ram_gpa - p->image_end >= GUEST_PAGE_SIZE ||
	    (p->ram_gpa & (GUEST_PAGE_SIZE - 1)) != 0)
		bad("extra RAM [%#" PRIx64 ", +%#" PRIx64 ") after image end "
		    "%#" PRIx64, p->ram_gpa, p->ram_size, p->image_end);
	if (p->ram_gpa > GUEST_GPA_LIMIT ||
	    p->ram_size > GUEST_GPA_LIMIT - p->ram_gpa ||
	    meet(p->ram_gpa, p->ram_size, GUEST_LAPIC_GPA, GUEST_LAPIC_SIZE))
		bad("extra RAM at %#" PRIx64 " is outside guest RAM or on "
		    "the LAPIC", p->ram_gpa);

	if (p->nregions == 0 || p->nregions > ELF_MAX_PHDRS + 1)
		bad("%u regions", p->nregions);
	for (i = 0; i < p->nregions; i++) {
		const struct elf_region *r = &p->regions[i];

		if (r->size == 0 || ((r->gpa | r->size) &
		    (GUEST_PAGE_SIZE - 1)) != 0)
			bad("region %u [%#" PRIx64 ", +%#" PRIx64 ") empty or "
			    "not page-aligned", i, r->gpa, r->size);
		if (r->gpa >= GUEST_GPA_LIMIT ||
		    r->size > GUEST_GPA_LIMIT - r->gpa)
			bad("region %u outside guest RAM", i);
		if (meet(r->gpa, r->size, GUEST_LAPIC_GPA, GUEST_LAPIC_SIZE))
			bad("region %u covers the LAPIC page", i);
		/* Sorted, and touching ones merged: a gap between each. */
		if (i > 0 && r->gpa <= p->regions[i - 1].gpa +
		    p->regions[i - 1].size)
			bad("regions %u and %u overlap, touch or are out of "
			    "order", i - 1, i);
		total += r->size;
	}
	if (total != p->total_size)
		bad("total_size %#" PRIx64 ", regions add up to %#" PRIx64,
		    p->total_size, total);
	for (i = 0; i < p->nsegs; i++)
		if (!in_region(p, p->segs[i].gpa, p->segs[i].memsz))
			bad("segment %u is not inside one region", i);
	if (!in_region(p, p->ram_gpa, p->ram_size))
		bad("the extra RAM is not inside one region");
	/* The regions are exactly the union of the pages used. */
	check_union(p);
}

/* Field by field: padding bytes may differ. */
static bool
same_plan(const struct elf_plan *a, const struct elf_plan *b)
{
	unsigned i;

	if (a->entry != b->entry || a->nsegs != b->nsegs ||
	    a->nregions != b->nregions || a->image_end != b->image_end ||
	    a->ram_gpa != b->ram_gpa || a->ram_size != b->ram_size ||
	    a->total_size != b->total_size)
		return false;
#ifdef TOYVIRT_NOTE_AP_ENTRY
	if (a->has_ap_entry != b->has_ap_entry || a->ap_entry != b->ap_entry)
		return false;
#endif
	for (i = 0; i < a->nsegs; i++) {
		const struct elf_seg *s = &a->segs[i], *t = &b->segs[i];

		if (s->phidx != t->phidx || s->gpa != t->gpa ||
		    s->memsz != t->memsz || s->offset != t->offset ||
		    s->filesz != t->filesz)
			return false;
	}
	for (i = 0; i < a->nregions; i++)
		if (a->regions[i].gpa != b->regions[i].gpa ||
		    a->regions[i].size != b->regions[i].size)
			return false;
	return true;
}

/* -------------------------------------------------------------------------
 * The target.
 * ------------------------------------------------------------------------- */

static struct elf_plan plan1, plan2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err1[ERRLEN + GUARD], err2[16 + GUARD];
	size_t small = size > 0 ? data[0] % 16 : 0;
	int r1, r2;

	memset(err1, CANARY, sizeof(err1));
	memset(err2, CANARY, sizeof(err2));
	r1 = elf_parse(data, size, &plan1, err1, ERRLEN);
	r2 = elf_parse(data, size, &plan2, err2, small);
	if (r1 != r2)
		bad("verdict %d with a %d-byte error buffer, %d with %zu", r1,
		    ERRLEN, r2, small);
	if (r1 == 0) {
		check_guard(err1, ERRLEN);
		check_guard(err2, small);
		check_plan(data, size, &plan1);
		if (!same_plan(&plan1, &plan2))
			bad("two parses of the same input gave two plans");
	} else if (r1 == -1) {
		check_error(err1, ERRLEN);
		check_error(err2, small);
		if (small > 1 && strncmp(err1, err2, small - 1) != 0)
			bad("truncated message \"%s\" is not a prefix of "
			    "\"%s\"", err2, err1);
	} else {
		bad("elf_parse returned %d", r1);
	}
	return 0;
}
