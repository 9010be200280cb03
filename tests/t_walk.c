/* t_walk.c - unit tests of the guest page-table walk (lib/x86_walk.c); no KVM needed. */

/*
 * A heap buffer stands for guest RAM at [RAM_BASE, RAM_BASE + RAM_SIZE);
 * the read callback refuses anything outside it, so a walk that leaves
 * RAM fails and ASan catches any stray host access.  Tables are built by
 * hand for every paging mode and the results are compared with values
 * computed independently here.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvmm.h>

#include "vmtest.h"
#include "x86_walk.h"

/* -------------------------------------------------------------------------
 * Fake guest RAM.
 * ------------------------------------------------------------------------- */

#define RAM_BASE	0x100000ULL
#define RAM_PAGES	64
#define RAM_SIZE	(RAM_PAGES * 4096ULL)

static uint8_t *ram;
static unsigned next_page;	/* page allocator for tables */
static unsigned nreads;		/* callback calls since the last reset */
static unsigned nbadreads;	/* calls with a wrong size or alignment */

static int
fake_read(void *arg, gpaddr_t gpa, void *buf, size_t len)
{
	uint64_t off;

	(void)arg;
	nreads++;
	if ((len != 4 && len != 8) || (gpa & (len - 1)) != 0)
		nbadreads++;
	/* Overflow-safe bounds check. */
	if (gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE ||
	    len > RAM_SIZE - (gpa - RAM_BASE)) {
		errno = ERANGE;	/* the walker must turn this into EFAULT */
		return -1;
	}
	off = gpa - RAM_BASE;
	memcpy(buf, ram + off, len);
	return 0;
}

static void
ram_reset(void)
{
	memset(ram, 0, RAM_SIZE);
	next_page = 0;
}

/* A fresh zeroed table page; returns its GPA. */
static uint64_t
alloc_page(void)
{
	if (next_page >= RAM_PAGES) {
		printf("test bug: out of table pages\n");
		exit(2);
	}
	return RAM_BASE + 4096ULL * next_page++;
}

/* Stores the size low bytes of v, little-endian, in the fake RAM. */
static void
put(uint64_t gpa, uint64_t v, int size)
{
	int i;

	if (gpa < RAM_BASE || gpa + (uint64_t)size > RAM_BASE + RAM_SIZE) {
		printf("test bug: put%d outside RAM\n", 8 * size);
		exit(2);
	}
	for (i = 0; i < size; i++)
		ram[gpa - RAM_BASE + i] = (uint8_t)(v >> (8 * i));
}

static void
put64(uint64_t gpa, uint64_t v)
{
	put(gpa, v, 8);
}

static void
put32(uint64_t gpa, uint32_t v)
{
	put(gpa, v, 4);
}

/* -------------------------------------------------------------------------
 * Register sets and entry bits (spelled out here, not shared with the lib).
 * ------------------------------------------------------------------------- */

#define P	0x001ULL
#define W	0x002ULL
#define U	0x004ULL
#define PWT	0x008ULL
#define PCD	0x010ULL
#define A	0x020ULL
#define D	0x040ULL
#define PS	0x080ULL
#define G	0x100ULL
#define NX	(1ULL << 63)
#define PWU	(P | W | U)

#define R_	NVMM_PROT_READ
#define W_	NVMM_PROT_WRITE
#define X_	NVMM_PROT_EXEC
#define U_	NVMM_PROT_USER
#define ALL	NVMM_PROT_ALL

#define CR0_PE	0x1ULL
#define CR0_PG	0x80000000ULL
#define CR0_WP	0x10000ULL
#define CR4_PSE	0x10ULL
#define CR4_PAE	0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL
#define EFER_NXE 0x800ULL

static struct x86_walk_regs
regs_4level(uint64_t cr3)
{
	struct x86_walk_regs r = { CR0_PE | CR0_PG | CR0_WP, cr3, CR4_PAE,
	    EFER_LME | EFER_LMA | EFER_NXE };
	return r;
}

static struct x86_walk_regs
regs_pae(uint64_t cr3)
{
	struct x86_walk_regs r = { CR0_PE | CR0_PG, cr3, CR4_PAE, EFER_NXE };
	return r;
}

static struct x86_walk_regs
regs_32(uint64_t cr3, bool pse)
{
	struct x86_walk_regs r = { CR0_PE | CR0_PG, cr3, pse ? CR4_PSE : 0,
	    0 };
	return r;
}

/* -------------------------------------------------------------------------
 * Walk helpers with checks.
 * ------------------------------------------------------------------------- */

#define SENTINEL_GPA	0xDEADBEEFCAFEF00DULL
#define SENTINEL_PROT	0x5A5AULL

/* One walk into sentinel outputs, counting its table reads. */
static int
walk(const struct x86_walk_regs *r, uint64_t gva, gpaddr_t *gpa,
    nvmm_prot_t *prot)
{
	*gpa = SENTINEL_GPA;
	*prot = SENTINEL_PROT;
	nreads = 0;
	errno = 0;
	return x86_gva_to_gpa(r, fake_read, NULL, gva, gpa, prot);
}

/* The table reads of the last walk, unless want_reads < 0. */
static void
check_reads(const char *what, int want_reads)
{
	if (want_reads >= 0)
		CHECK(nreads == (unsigned)want_reads, "%s: expected %d table "
		    "reads, got %u", what, want_reads, nreads);
}

static void
expect_ok(const char *what, const struct x86_walk_regs *r, uint64_t gva,
    uint64_t want_gpa, nvmm_prot_t want_prot, int want_reads)
{
	gpaddr_t gpa;
	nvmm_prot_t prot;
	int ret;

	ret = walk(r, gva, &gpa, &prot);
	CHECK(ret == 0, "%s: gva %#" PRIx64 ": expected success, got %d "
	    "(errno %d)", what, gva, ret, errno);
	if (ret != 0)
		return;
	CHECK(gpa == want_gpa, "%s: gva %#" PRIx64 ": expected gpa %#" PRIx64
	    ", got %#" PRIx64, what, gva, want_gpa, gpa);
	CHECK(prot == want_prot, "%s: gva %#" PRIx64 ": expected prot %#"
	    PRIx64 ", got %#" PRIx64, what, gva, (uint64_t)want_prot,
	    (uint64_t)prot);
	check_reads(what, want_reads);
}

static void
expect_fail(const char *what, const struct x86_walk_regs *r, uint64_t gva,
    int want_reads)
{
	gpaddr_t gpa;
	nvmm_prot_t prot;
	int ret;

	ret = walk(r, gva, &gpa, &prot);
	CHECK(ret == -1, "%s: gva %#" PRIx64 ": expected failure, got %d "
	    "(gpa %#" PRIx64 " prot %#" PRIx64 ")", what, gva, ret, gpa,
	    (uint64_t)prot);
	CHECK(errno == EFAULT, "%s: expected errno EFAULT, got %d", what,
	    errno);
	CHECK(gpa == SENTINEL_GPA && prot == SENTINEL_PROT,
	    "%s: outputs written on failure", what);
	check_reads(what, want_reads);
}

/* -------------------------------------------------------------------------
 * Table builders.
 * ------------------------------------------------------------------------- */

struct chain {
	uint64_t t[4];		/* table GPAs, top level first */
};

/*
 * 4-level: PML4 -> PDPT -> PD -> PT mapping gva.  e[i] are the flag
 * bits of each level's entry, top first; the leaf entry gets leaf
 * (frame plus flags) instead.  levels = 4 (4 KiB), 3 (2 MiB leaf in the
 * PD) or 2 (1 GiB leaf in the PDPT).
 */
static struct chain
build_4level(uint64_t gva, int levels, const uint64_t e[4], uint64_t leaf)
{
	struct chain c;
	int l, shift;

	for (l = 0; l < levels; l++)
		c.t[l] = alloc_page();
	for (; l < 4; l++)
		c.t[l] = 0;
	for (l = 0; l < levels; l++) {
		shift = 39 - 9 * l;
		put64(c.t[l] + ((gva >> shift) & 511) * 8,
		    l + 1 < levels ? (c.t[l + 1] | e[l]) : leaf);
	}
	return c;
}

/* PAE: PDPT (at pdpt, 32-byte aligned) -> PD -> PT; levels 3 or 2. */
static void
build_pae(uint64_t pdpt, uint64_t gva, int levels, const uint64_t e[3],
    uint64_t leaf)
{
	static const int shift[3] = { 30, 21, 12 };
	uint64_t t[3];
	int l;

	t[0] = pdpt;
	for (l = 1; l < levels; l++)
		t[l] = alloc_page();
	for (l = 0; l < levels; l++)
		put64(t[l] + ((gva >> shift[l]) & (l == 0 ? 3 : 511)) * 8,
		    l + 1 < levels ? (t[l + 1] | e[l]) : leaf);
}

/* build_pae on fresh RAM with the PDPT at offset off of a new page;
   returns the PDPT's address. */
static uint64_t
fresh_pae(uint64_t off, uint64_t gva, int levels, const uint64_t e[3],
    uint64_t leaf)
{
	uint64_t pdpt;

	ram_reset();
	pdpt = alloc_page() + off;
	build_pae(pdpt, gva, levels, e, leaf);
	return pdpt;
}

/* 32-bit: PD -> PT, or a 4 MiB leaf in the PD (levels 1). */
static struct chain
build_32(uint64_t gva, int levels, uint32_t pde, uint32_t leaf)
{
	struct chain c;

	memset(&c, 0, sizeof(c));
	c.t[0] = alloc_page();
	if (levels == 2) {
		c.t[1] = alloc_page();
		put32(c.t[0] + ((gva >> 22) & 1023) * 4,
		    (uint32_t)c.t[1] | pde);
		put32(c.t[1] + ((gva >> 12) & 1023) * 4, leaf);
	} else {
		put32(c.t[0] + ((gva >> 22) & 1023) * 4, leaf);
	}
	return c;
}

/* -------------------------------------------------------------------------
 * No paging.
 * ------------------------------------------------------------------------- */

static void
test_nopaging(void)
{
	struct x86_walk_regs r = { CR0_PE, 0, 0, 0 };
	static const uint64_t gvas[] = { 0, 0x1234, 0x12345678, 0xFFFFFFFF,
	    0x100000000ULL, 0x123456789ABCULL, 0x8000000000000000ULL,
	    0xFFFFFFFFFFFFFFFFULL };
	size_t i;

	ram_reset();
	for (i = 0; i < sizeof(gvas) / sizeof(gvas[0]); i++)
		expect_ok("nopaging", &r, gvas[i], gvas[i], ALL, 0);

	/* PG clear wins over PAE/LMA/PSE and any CR3: identity, no reads. */
	r.cr3 = 0xFFFFFFFFFFFFFFFFULL;
	r.cr4 = CR4_PAE | CR4_PSE;
	r.efer = EFER_LMA | EFER_LME | EFER_NXE;
	expect_ok("nopaging+pae+lma", &r, 0xFFFF800000001234ULL,
	    0xFFFF800000001234ULL, ALL, 0);
	expect_ok("nopaging noncanonical", &r, 0x0000800000000000ULL,
	    0x0000800000000000ULL, ALL, 0);
	r.cr0 = 0;	/* real mode */
	expect_ok("realmode", &r, 0xB8000, 0xB8000, ALL, 0);
}

/* -------------------------------------------------------------------------
 * 4-level long mode.
 * ------------------------------------------------------------------------- */

static void
test_4level_basic(void)
{
	static const uint64_t f[4] = { PWU, PWU, PWU, PWU };
	struct x86_walk_regs r;
	struct chain c;
	uint64_t gva = 0x00007F1234567ABCULL;

	/* 4 KiB page, offsets at the start, middle and end of the page. */
	ram_reset();
	c = build_4level(gva, 4, f, 0xABCDEF000ULL | PWU | A | D);
	r = regs_4level(c.t[0]);
	expect_ok("4l 4k", &r, gva, 0xABCDEFABCULL, ALL, 4);
	expect_ok("4l 4k off0", &r, gva & ~0xFFFULL, 0xABCDEF000ULL, ALL, 4);
	expect_ok("4l 4k offfff", &r, gva | 0xFFF, 0xABCDEFFFFULL, ALL, 4);
	/* The neighbouring pages are not mapped. */
	expect_fail("4l next page", &r, gva + 0x1000, 4);
	expect_fail("4l prev page", &r, gva - 0x1000, 4);

	/* Frame bits 51:12 all set; bits 62:52 (ignored) do not leak in. */
	ram_reset();
	c = build_4level(gva, 4, f,
	    0x000FFFFFFFFFF000ULL | 0x7FF0000000000000ULL | PWU | G);
	r = regs_4level(c.t[0]);
	expect_ok("4l 4k max frame", &r, gva, 0x000FFFFFFFFFFABCULL, ALL, 4);
	/* Same with NX: EXEC goes, the frame is unchanged. */
	ram_reset();
	c = build_4level(gva, 4, f, 0xFFFFFFFFFFFFF000ULL | PWU);
	r = regs_4level(c.t[0]);
	expect_ok("4l 4k all high bits", &r, gva, 0x000FFFFFFFFFFABCULL,
	    R_ | W_ | U_, 4);

	/* Bit 7 of a 4 KiB PTE is PAT: ignored (NetBSD quirk Q11 fixed). */
	ram_reset();
	c = build_4level(gva, 4, f, 0x5000ULL | PWU | PS);
	r = regs_4level(c.t[0]);
	expect_ok("4l PTE PAT", &r, gva, 0x5ABCULL, ALL, 4);
	/* PAT, PCD, PWT, G, A, D together. */
	ram_reset();
	c = build_4level(gva, 4, f, 0x5000ULL | PWU | PS | PCD | PWT | G | A |
	    D | 0xE00);
	r = regs_4level(c.t[0]);
	expect_ok("4l PTE misc bits", &r, gva, 0x5ABCULL, ALL, 4);

	/* Low entry bits of the intermediate levels do not leak into table addresses. */
	{
		static const uint64_t f2[4] = { PWU | PWT | PCD | A | 0xE00,
		    PWU | A | 0xE00 | 0x7FF0000000000000ULL,
		    PWU | D | G | 0xE00, 0 };

		ram_reset();
		c = build_4level(gva, 4, f2, 0x7000ULL | PWU);
		r = regs_4level(c.t[0]);
		expect_ok("4l table bits", &r, gva, 0x7ABCULL, ALL, 4);
	}

	/* Leaf GPA outside RAM is fine: the data page is not read. */
	ram_reset();
	c = build_4level(gva, 4, f, 0x40000000000ULL | PWU);
	r = regs_4level(c.t[0]);
	expect_ok("4l leaf outside RAM", &r, gva, 0x40000000ABCULL, ALL, 4);
}

static void
test_4level_prot(void)
{
	static const uint64_t bits[3] = { U, W, NX };
	static const nvmm_prot_t lost[3] = { U_, W_, X_ };
	static const char *names[3] = { "U/S", "R/W", "NX" };
	uint64_t gva = 0x0000123456789DEFULL;
	struct x86_walk_regs r;
	struct chain c;
	char what[64];
	int b, l, levels;

	/* Each of U/S clear, R/W clear, NX set, at each level, for 4K/2M/1G. */
	for (levels = 2; levels <= 4; levels++) {
		for (b = 0; b < 3; b++) {
			for (l = 0; l < levels; l++) {
				uint64_t f[4] = { PWU, PWU, PWU, PWU };
				uint64_t leafflags = PWU, want;

				if (bits[b] == NX)
					f[l] |= NX;
				else
					f[l] &= ~bits[b];
				if (l == levels - 1)
					leafflags = f[l];
				if (levels == 4)
					want = 0x3000ULL | (gva & 0xFFF);
				else if (levels == 3)
					want = 0x600000ULL | (gva & 0x1FFFFF);
				else
					want = 0xC0000000ULL |
					    (gva & 0x3FFFFFFF);
				ram_reset();
				c = build_4level(gva, levels, f,
				    (want & ~(levels == 4 ? 0xFFFULL :
				    levels == 3 ? 0x1FFFFFULL : 0x3FFFFFFFULL)) |
				    leafflags | (levels < 4 ? PS : 0));
				r = regs_4level(c.t[0]);
				snprintf(what, sizeof(what), "4l %s level %d "
				    "of %d", names[b], l + 1, levels);
				expect_ok(what, &r, gva, want, ALL & ~lost[b],
				    levels);
			}
		}
	}

	/* Combination: U at PML4, W at PT, NX at PD → READ only. */
	{
		uint64_t f[4] = { P | W, PWU, PWU | NX, 0 };

		ram_reset();
		c = build_4level(gva, 4, f, 0x9000ULL | P | U);
		r = regs_4level(c.t[0]);
		expect_ok("4l combined", &r, gva, 0x9DEFULL, R_, 4);
	}
	/* The most restrictive entry P only everywhere. */
	{
		uint64_t f[4] = { P | NX, P, P, 0 };

		ram_reset();
		c = build_4level(gva, 4, f, 0x9000ULL | P | NX);
		r = regs_4level(c.t[0]);
		expect_ok("4l P only", &r, gva, 0x9DEFULL, R_, 4);
	}
	/* EFER.NXE clear: NX still considered (spec: NXE not looked at). */
	{
		uint64_t f[4] = { PWU, PWU, PWU, 0 };

		ram_reset();
		c = build_4level(gva, 4, f, 0x9000ULL | PWU | NX);
		r = regs_4level(c.t[0]);
		r.efer &= ~EFER_NXE;
		expect_ok("4l NX without NXE", &r, gva, 0x9DEFULL, R_ | W_ | U_,
		    4);
		/* CR0.WP, CR4.SMEP/SMAP do not matter either. */
		r.cr0 &= ~CR0_WP;
		r.cr4 |= (1ULL << 20) | (1ULL << 21) | (1ULL << 22);
		expect_ok("4l WP/SMEP/SMAP ignored", &r, gva, 0x9DEFULL,
		    R_ | W_ | U_, 4);
	}
}

static void
test_4level_fail(void)
{
	uint64_t gva = 0x0000123456789DEFULL;
	struct x86_walk_regs r;
	struct chain c;
	char what[64];
	int l, levels;

	/* P clear at each level (other bits set, frames valid). */
	for (levels = 2; levels <= 4; levels++) {
		for (l = 0; l < levels; l++) {
			uint64_t f[4] = { PWU, PWU, PWU, PWU };
			uint64_t leaf = (levels == 4 ? 0x3000ULL :
			    levels == 3 ? 0x600000ULL : 0xC0000000ULL) |
			    PWU | (levels < 4 ? PS : 0);

			f[l] &= ~P;
			if (l == levels - 1)
				leaf &= ~P;
			ram_reset();
			c = build_4level(gva, levels, f, leaf);
			r = regs_4level(c.t[0]);
			snprintf(what, sizeof(what), "4l P clear level %d of %d",
			    l + 1, levels);
			expect_fail(what, &r, gva, l + 1);
		}
	}
	/* An entry of all ones except P. */
	{
		uint64_t f[4] = { PWU, PWU, PWU, 0 };

		ram_reset();
		c = build_4level(gva, 4, f, ~P);
		r = regs_4level(c.t[0]);
		expect_fail("4l PTE ~P", &r, gva, 4);
	}
	/* An empty PML4. */
	ram_reset();
	r = regs_4level(alloc_page());
	expect_fail("4l empty PML4", &r, gva, 1);

	/* PML4E with PS = 1: failure (even with a sane-looking frame). */
	{
		uint64_t f[4] = { PWU | PS, PWU, PWU, 0 };

		ram_reset();
		c = build_4level(gva, 4, f, 0x9000ULL | PWU);
		r = regs_4level(c.t[0]);
		expect_fail("4l PML4E PS", &r, gva, 1);
	}

	/* 1 GiB: frame bits 51:30; bits 29:12 of the entry (PAT at 12) ignored. */
	{
		uint64_t f[4] = { PWU, 0, 0, 0 };
		uint64_t g = 0xFFFFFFC012345678ULL;	/* canonical high */

		ram_reset();
		c = build_4level(g, 2, f, 0x000FFFFFC0000000ULL | 0x3FFFF000ULL |
		    PWU | PS);
		r = regs_4level(c.t[0]);
		expect_ok("4l 1G max frame", &r, g,
		    0x000FFFFFC0000000ULL | 0x12345678ULL, ALL, 2);
		expect_ok("4l 1G end", &r, g | 0x3FFFFFFF,
		    0x000FFFFFFFFFFFFFULL, ALL, 2);
	}
	/* 2 MiB: frame bits 51:21; bits 20:12 (PAT at 12) ignored. */
	{
		uint64_t f[4] = { PWU, PWU, 0, 0 };
		uint64_t g = 0x00007FFFFFE12345ULL;

		ram_reset();
		c = build_4level(g, 3, f, 0x000FFFFFFFE00000ULL | 0x1FF000ULL |
		    PWU | PS | NX);
		r = regs_4level(c.t[0]);
		expect_ok("4l 2M max frame", &r, g,
		    0x000FFFFFFFE00000ULL | 0x012345ULL, R_ | W_ | U_, 3);
		expect_ok("4l 2M start", &r, g & ~0x1FFFFFULL,
		    0x000FFFFFFFE00000ULL, R_ | W_ | U_, 3);
	}
	/* 2 MiB page at a small frame, PAT bit 12 set. */
	{
		uint64_t f[4] = { PWU, PWU, 0, 0 };
		uint64_t g = 0x40000000ULL + 0x200000ULL * 3 + 0x1ABCD;

		ram_reset();
		c = build_4level(g, 3, f, 0x800000ULL | 0x1000ULL | P | W | PS);
		r = regs_4level(c.t[0]);
		expect_ok("4l 2M PAT", &r, g, 0x81ABCDULL, R_ | W_ | X_, 3);
	}

	/* Non-canonical addresses: failure without any table read. */
	{
		static const uint64_t bad[] = { 0x0000800000000000ULL,
		    0xFFFF7FFFFFFFFFFFULL, 0x8000000000000000ULL,
		    0x00FF000000000000ULL, 0x7FFFFFFFFFFFFFFFULL,
		    0x0001000000000000ULL, 0xFFFE800000000000ULL };
		uint64_t f[4] = { PWU, PWU, PWU, 0 };
		size_t i;

		ram_reset();
		c = build_4level(0, 4, f, 0x1000ULL | PWU);
		r = regs_4level(c.t[0]);
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			expect_fail("4l noncanonical", &r, bad[i], 0);
		/* The edges that are canonical. */
		expect_ok("4l va 0", &r, 0, 0x1000ULL, ALL, 4);
	}

	/* Addresses near 2^64 and the top of the lower half. */
	{
		uint64_t f[4] = { PWU, PWU, PWU, 0 };
		uint64_t top = 0xFFFFFFFFFFFFFFFFULL;
		uint64_t low = 0x00007FFFFFFFFFFFULL;
		uint64_t hb = 0xFFFF800000000000ULL;

		ram_reset();
		c = build_4level(top, 4, f, 0xFFFFFFFFF000ULL | P | W);
		r = regs_4level(c.t[0]);
		expect_ok("4l top", &r, top, 0xFFFFFFFFFFFFULL, R_ | W_ | X_, 4);
		expect_ok("4l top-fff", &r, top - 0xFFF, 0xFFFFFFFFF000ULL,
		    R_ | W_ | X_, 4);
		expect_fail("4l top-1000", &r, top - 0x1000, 4);

		ram_reset();
		c = build_4level(low, 4, f, 0x2000ULL | PWU);
		r = regs_4level(c.t[0]);
		expect_ok("4l low top", &r, low, 0x2FFFULL, ALL, 4);
		expect_fail("4l low top+1", &r, low + 1, 0);

		ram_reset();
		c = build_4level(hb, 4, f, 0x3000ULL | PWU);
		r = regs_4level(c.t[0]);
		expect_ok("4l high bottom", &r, hb + 0x10, 0x3010ULL, ALL, 4);
		expect_fail("4l high bottom-1", &r, hb - 1, 0);
		/* Index 256 of the PML4, not index 0. */
		expect_fail("4l va 0 unmapped", &r, 0x10, 1);
	}

	/* CR3 with garbage: PCID bits 11:0, bits 63:52 (incl. no-flush bit 63). */
	{
		uint64_t f[4] = { PWU, PWU, PWU, 0 };

		ram_reset();
		c = build_4level(gva, 4, f, 0x4000ULL | PWU);
		r = regs_4level(c.t[0] | 0xFFF0000000000FFFULL);
		expect_ok("4l cr3 garbage", &r, gva, 0x4DEFULL, ALL, 4);
		r = regs_4level(c.t[0] | (1ULL << 63) | 0x18);
		expect_ok("4l cr3 noflush", &r, gva, 0x4DEFULL, ALL, 4);
		/* CR3 bits 51:32 are part of the address: here outside RAM. */
		r = regs_4level(c.t[0] | (1ULL << 40));
		expect_fail("4l cr3 bit 40", &r, gva, 1);
	}

	/* Tables outside RAM at each level → EFAULT (callback said ERANGE). */
	{
		static const uint64_t outside[] = { 0, RAM_BASE - 4096,
		    RAM_BASE + RAM_SIZE, 0x000FFFFFFFFFF000ULL,
		    0x00000000FFFFF000ULL };
		size_t i;

		for (i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
			uint64_t f[4] = { PWU, PWU, PWU, 0 };

			ram_reset();
			r = regs_4level(outside[i]);
			expect_fail("4l cr3 outside", &r, gva, 1);
			for (l = 0; l < 3; l++) {
				c = build_4level(gva, 4, f, 0x1000ULL | PWU);
				/* Repoint level l's entry to outside RAM. */
				put64(c.t[l] + ((gva >> (39 - 9 * l)) & 511) * 8,
				    outside[i] | PWU);
				r = regs_4level(c.t[0]);
				snprintf(what, sizeof(what),
				    "4l table %d outside", l + 2);
				expect_fail(what, &r, gva, l + 2);
				ram_reset();
			}
		}
	}

	/* Last table in the last RAM page works (bounds are exact). */
	{
		uint64_t f[4] = { PWU, PWU, PWU, 0 };

		ram_reset();
		next_page = RAM_PAGES - 4;
		c = build_4level(0x00007FFFFFFFF000ULL, 4, f, 0x1000ULL | PWU);
		r = regs_4level(c.t[0]);
		expect_ok("4l last RAM entry", &r, 0x00007FFFFFFFF123ULL,
		    0x1123ULL, ALL, 4);
	}

	/* LMA without PAE: failure, no reads. */
	{
		uint64_t f[4] = { PWU, PWU, PWU, 0 };

		ram_reset();
		c = build_4level(gva, 4, f, 0x1000ULL | PWU);
		r = regs_4level(c.t[0]);
		r.cr4 &= ~CR4_PAE;
		expect_fail("LMA without PAE", &r, gva, 0);
		r.cr4 |= CR4_PSE;
		expect_fail("LMA without PAE, PSE", &r, gva, 0);
		r.efer = EFER_LMA;
		expect_fail("LMA alone", &r, 0x1000, 0);
	}
}

/* -------------------------------------------------------------------------
 * 32-bit PAE.
 * ------------------------------------------------------------------------- */

static void
test_pae(void)
{
	static const uint64_t f[3] = { P, PWU, PWU };
	uint64_t gva = 0xC0123ABCULL;
	struct x86_walk_regs r;
	uint64_t pdpt;
	char what[64];
	int l;

	/* PDPT at a 32-byte aligned, non-page-aligned address. */
	pdpt = fresh_pae(0x60, gva, 3, f, 0x7654321000ULL | PWU);
	r = regs_pae(pdpt);
	expect_ok("pae 4k", &r, gva, 0x7654321ABCULL, ALL, 3);
	expect_ok("pae 4k off0", &r, gva & ~0xFFFULL, 0x7654321000ULL, ALL, 3);
	expect_ok("pae 4k offfff", &r, gva | 0xFFF, 0x7654321FFFULL, ALL, 3);
	expect_fail("pae next page", &r, gva + 0x1000, 3);
	/* Other PDPT slots are empty. */
	expect_fail("pae other pdpte", &r, gva - 0x40000000, 1);

	/* Linear addresses are 32 bits: bits 63:32 of the gva are ignored. */
	expect_ok("pae gva high bits", &r, gva | 0xFFFFFFFF00000000ULL,
	    0x7654321ABCULL, ALL, 3);
	expect_ok("pae gva bit 32", &r, gva | 0x100000000ULL,
	    0x7654321ABCULL, ALL, 3);

	/* CR3 garbage: bits 63:32 and PWT/PCD bits 4:3. */
	r = regs_pae(pdpt | 0xFFFFFFFF00000000ULL | 0x18);
	expect_ok("pae cr3 garbage", &r, gva, 0x7654321ABCULL, ALL, 3);
	/* CR3 bits 31:5 matter: off by 32 bytes → another (empty) PDPT. */
	r = regs_pae(pdpt + 0x20);
	expect_fail("pae cr3 off by 32", &r, gva, 1);

	/* Max frame; bits 62:52 ignored; NX. */
	pdpt = fresh_pae(0, gva, 3, f, 0xFFFFFFFFFFFFF000ULL | PWU);
	r = regs_pae(pdpt);
	expect_ok("pae max frame", &r, gva, 0x000FFFFFFFFFFABCULL,
	    R_ | W_ | U_, 3);

	/* PTE bit 7 (PAT) ignored. */
	pdpt = fresh_pae(0, gva, 3, f, 0x5000ULL | PWU | PS);
	r = regs_pae(pdpt);
	expect_ok("pae PTE PAT", &r, gva, 0x5ABCULL, ALL, 3);

	/* 2 MiB page, with or without CR4.PSE; PAT (bit 12) masked off. */
	pdpt = fresh_pae(0, gva, 2, f, 0x000FFFFFFFE00000ULL | 0x1000ULL |
	    PWU | PS);
	r = regs_pae(pdpt);
	expect_ok("pae 2M", &r, gva, 0x000FFFFFFFE00000ULL | (gva & 0x1FFFFF),
	    ALL, 2);
	r.cr4 |= CR4_PSE;
	expect_ok("pae 2M PSE", &r, gva, 0x000FFFFFFFE00000ULL |
	    (gva & 0x1FFFFF), ALL, 2);

	/* PDPTE: P required; PS → failure; NX considered; no R/W, U/S there. */
	{
		uint64_t ff[3] = { 0, PWU, PWU };

		pdpt = fresh_pae(0, gva, 3, ff, 0x5000ULL | PWU);
		r = regs_pae(pdpt);
		expect_fail("pae PDPTE not present", &r, gva, 1);

		ff[0] = P | PS;
		pdpt = fresh_pae(0, gva, 3, ff, 0x5000ULL | PWU);
		r = regs_pae(pdpt);
		expect_fail("pae PDPTE PS", &r, gva, 1);

		ff[0] = P | NX;
		pdpt = fresh_pae(0, gva, 3, ff, 0x5000ULL | PWU);
		r = regs_pae(pdpt);
		expect_ok("pae PDPTE NX", &r, gva, 0x5ABCULL, R_ | W_ | U_, 3);

		/* Bits 1 and 2 are reserved in a PDPTE: neither clear nor set
		 * changes anything. */
		ff[0] = P | W | U;
		pdpt = fresh_pae(0, gva, 3, ff, 0x5000ULL | PWU);
		r = regs_pae(pdpt);
		expect_ok("pae PDPTE W|U", &r, gva, 0x5ABCULL, ALL, 3);
	}

	/* PDE, PTE: U/S, R/W, NX, P, for 4 KiB and 2 MiB. */
	for (l = 1; l < 3; l++) {
		static const uint64_t bits[3] = { U, W, NX };
		static const nvmm_prot_t lost[3] = { U_, W_, X_ };
		int b;

		for (b = 0; b < 3; b++) {
			uint64_t ff[3] = { P, PWU, PWU };

			if (bits[b] == NX)
				ff[l] |= NX;
			else
				ff[l] &= ~bits[b];
			/* The PDPT in the last 32 bytes of its page. */
			pdpt = fresh_pae(0xFE0, gva, 3, ff, 0x5000ULL | ff[2]);
			r = regs_pae(pdpt);
			snprintf(what, sizeof(what), "pae bit %#" PRIx64
			    " level %d", bits[b], l + 1);
			expect_ok(what, &r, gva, 0x5ABCULL, ALL & ~lost[b], 3);

			if (l == 1) {
				pdpt = fresh_pae(0, gva, 2, ff,
				    0x400000ULL | ff[1] | PS);
				r = regs_pae(pdpt);
				snprintf(what, sizeof(what), "pae 2M bit %#"
				    PRIx64, bits[b]);
				expect_ok(what, &r, gva, 0x400000ULL |
				    (gva & 0x1FFFFF), ALL & ~lost[b], 2);
			}
		}
		{
			uint64_t ff[3] = { P, PWU, PWU };

			ff[l] &= ~P;
			pdpt = fresh_pae(0, gva, 3, ff, 0x5000ULL | ff[2]);
			r = regs_pae(pdpt);
			snprintf(what, sizeof(what), "pae P clear level %d",
			    l + 1);
			expect_fail(what, &r, gva, l + 1);
		}
	}

	/* Tables outside RAM. */
	ram_reset();
	r = regs_pae(RAM_BASE - 0x20);
	expect_fail("pae PDPT outside", &r, gva, 1);
	r = regs_pae(0xFFFFFFE0ULL);
	expect_fail("pae PDPT at 4G-32", &r, 0xFFFFFFFFULL, 1);
	pdpt = alloc_page();
	put64(pdpt + 3 * 8, 0x80000000ULL | P);
	r = regs_pae(pdpt);
	expect_fail("pae PD outside", &r, gva, 2);
	{
		uint64_t pd = alloc_page();

		put64(pdpt + 3 * 8, pd | P);
		put64(pd + ((gva >> 21) & 511) * 8, 0x000FFFFFFFFFF000ULL | PWU);
		expect_fail("pae PT outside", &r, gva, 3);
	}

	/* Highest 32-bit address. */
	pdpt = fresh_pae(0, 0xFFFFFFFFULL, 3, f, 0x1000ULL | PWU);
	r = regs_pae(pdpt);
	expect_ok("pae 4G-1", &r, 0xFFFFFFFFULL, 0x1FFFULL, ALL, 3);
	expect_ok("pae 2^64-1", &r, 0xFFFFFFFFFFFFFFFFULL, 0x1FFFULL, ALL, 3);
}

/* -------------------------------------------------------------------------
 * 32-bit 2-level.
 * ------------------------------------------------------------------------- */

static void
test_32bit(void)
{
	uint64_t gva = 0x08048ABCULL;
	struct x86_walk_regs r;
	struct chain c;

	/* 4 KiB. */
	ram_reset();
	c = build_32(gva, 2, PWU, 0x00123000 | PWU);
	r = regs_32(c.t[0], false);
	expect_ok("32 4k", &r, gva, 0x123ABCULL, ALL, 2);
	expect_ok("32 4k off0", &r, gva & ~0xFFFULL, 0x123000ULL, ALL, 2);
	expect_ok("32 4k offfff", &r, gva | 0xFFF, 0x123FFFULL, ALL, 2);
	expect_fail("32 next page", &r, gva + 0x1000, 2);
	expect_fail("32 other PDE", &r, gva + 0x400000, 1);
	/* Same with PSE on: a PDE without PS still points to a PT. */
	r = regs_32(c.t[0], true);
	expect_ok("32 4k PSE", &r, gva, 0x123ABCULL, ALL, 2);
	/* gva bits 63:32 ignored. */
	expect_ok("32 gva high", &r, gva | 0xABCD000000000000ULL, 0x123ABCULL,
	    ALL, 2);

	/* CR3 garbage: bits 63:32, PWT/PCD, bits 11:5. */
	r = regs_32(c.t[0] | 0xFFFFFFFF00000000ULL | 0xFF8, false);
	expect_ok("32 cr3 garbage", &r, gva, 0x123ABCULL, ALL, 2);

	/* Max 32-bit frame; bit 31 is a frame bit, not NX. */
	ram_reset();
	c = build_32(gva, 2, PWU, 0xFFFFF000 | PWU);
	r = regs_32(c.t[0], false);
	r.efer = EFER_NXE;	/* NX does not exist in 32-bit entries */
	expect_ok("32 max frame", &r, gva, 0xFFFFFABCULL, ALL, 2);

	/* NX ignored: the entry after ours (same 8 bytes) has bit 31 set; a
	 * walker that read 64-bit entries would see it as NX. */
	ram_reset();
	c = build_32(gva & ~0x1FFFULL, 2, PWU, 0x00123000 | PWU);
	put32(c.t[1] + (((gva & ~0x1FFFULL) >> 12) & 1023) * 4 + 4,
	    0x80000000 | PWU);
	put32(c.t[0] + (((gva & ~0x1FFFULL) >> 22) & 1023) * 4 + 4,
	    0x80000000 | PWU);
	r = regs_32(c.t[0], true);
	r.efer = EFER_NXE;
	expect_ok("32 NX ignored", &r, gva & ~0x1FFFULL, 0x123000ULL, ALL, 2);
	/* And the neighbour page resolves through its own entry (bit 31 frame). */
	expect_ok("32 neighbour", &r, (gva & ~0x1FFFULL) + 0x1234,
	    0x80000234ULL, ALL, 2);

	/* PTE bit 7 (PAT) ignored. */
	ram_reset();
	c = build_32(gva, 2, PWU, 0x00123000 | PWU | PS | G | A | D);
	r = regs_32(c.t[0], false);
	expect_ok("32 PTE PAT", &r, gva, 0x123ABCULL, ALL, 2);

	/* U/S, R/W, P at each level. */
	ram_reset();
	c = build_32(gva, 2, P | W, 0x00123000 | PWU);
	r = regs_32(c.t[0], false);
	expect_ok("32 PDE U/S", &r, gva, 0x123ABCULL, R_ | W_ | X_, 2);
	ram_reset();
	c = build_32(gva, 2, PWU, 0x00123000 | P | W);
	r = regs_32(c.t[0], false);
	expect_ok("32 PTE U/S", &r, gva, 0x123ABCULL, R_ | W_ | X_, 2);
	ram_reset();
	c = build_32(gva, 2, P | U, 0x00123000 | PWU);
	r = regs_32(c.t[0], false);
	expect_ok("32 PDE R/W", &r, gva, 0x123ABCULL, R_ | X_ | U_, 2);
	ram_reset();
	c = build_32(gva, 2, PWU, 0x00123000 | P | U);
	r = regs_32(c.t[0], false);
	expect_ok("32 PTE R/W", &r, gva, 0x123ABCULL, R_ | X_ | U_, 2);
	ram_reset();
	c = build_32(gva, 2, P, 0x00123000 | P);
	r = regs_32(c.t[0], false);
	expect_ok("32 P only", &r, gva, 0x123ABCULL, R_ | X_, 2);
	ram_reset();
	c = build_32(gva, 2, W | U, 0x00123000 | PWU);
	r = regs_32(c.t[0], false);
	expect_fail("32 PDE not present", &r, gva, 1);
	ram_reset();
	c = build_32(gva, 2, PWU, 0xFFFFFFFE);
	r = regs_32(c.t[0], false);
	expect_fail("32 PTE not present", &r, gva, 2);

	/* 4 MiB with PSE: frame bits 31:22; PSE-36 bits 20:13 and PAT bit 12
	 * ignored. */
	ram_reset();
	c = build_32(0xFFC12345ULL, 1, 0, 0xFFC00000 | 0x1FE000 | 0x1000 |
	    PWU | PS);
	r = regs_32(c.t[0], true);
	expect_ok("32 4M", &r, 0xFFC12345ULL, 0xFFC12345ULL, ALL, 1);
	expect_ok("32 4M end", &r, 0xFFFFFFFFULL, 0xFFFFFFFFULL, ALL, 1);
	expect_ok("32 4M start", &r, 0xFFC00000ULL, 0xFFC00000ULL, ALL, 1);
	/* 4 MiB without PSE: failure. */
	r = regs_32(c.t[0], false);
	expect_fail("32 4M without PSE", &r, 0xFFC12345ULL, 1);

	ram_reset();
	c = build_32(0x00400000ULL, 1, 0, 0x00C00000 | P | PS);
	r = regs_32(c.t[0], true);
	expect_ok("32 4M P only", &r, 0x007FFFFFULL, 0x00FFFFFFULL, R_ | X_,
	    1);
	ram_reset();
	c = build_32(0x00400000ULL, 1, 0, 0x00C00000 | W | U | PS);
	r = regs_32(c.t[0], true);
	expect_fail("32 4M not present", &r, 0x00400000ULL, 1);

	/* Tables outside RAM. */
	ram_reset();
	r = regs_32(0, false);
	expect_fail("32 PD at 0", &r, gva, 1);
	r = regs_32(0xFFFFF000ULL, false);
	expect_fail("32 PD at 4G-4K", &r, 0xFFFFFFFFULL, 1);
	c = build_32(gva, 2, PWU, 0x1000 | PWU);
	put32(c.t[0] + ((gva >> 22) & 1023) * 4, 0xFFFFF000 | PWU);
	r = regs_32(c.t[0], false);
	expect_fail("32 PT outside", &r, gva, 2);

	/* A PD entry pointing to the PD itself (a recursive mapping) is fine
	 * and reads just two entries. */
	ram_reset();
	c = build_32(0, 1, 0, 0);
	put32(c.t[0] + 1023 * 4, (uint32_t)c.t[0] | PWU);
	r = regs_32(c.t[0], false);
	expect_ok("32 recursive", &r, 0xFFFFFABCULL, c.t[0] | 0xABC, ALL, 2);
}

/* -------------------------------------------------------------------------
 * Argument checks.
 * ------------------------------------------------------------------------- */

static void
test_args(void)
{
	struct x86_walk_regs r = { CR0_PE, 0, 0, 0 };
	gpaddr_t gpa;
	nvmm_prot_t prot;

	errno = 0;
	CHECK(x86_gva_to_gpa(NULL, fake_read, NULL, 0, &gpa, &prot) == -1 &&
	    errno == EFAULT, "NULL regs accepted");
	errno = 0;
	CHECK(x86_gva_to_gpa(&r, NULL, NULL, 0, &gpa, &prot) == -1 &&
	    errno == EFAULT, "NULL callback accepted");
	errno = 0;
	CHECK(x86_gva_to_gpa(&r, fake_read, NULL, 0, NULL, &prot) == -1 &&
	    errno == EFAULT, "NULL gpa accepted");
	errno = 0;
	CHECK(x86_gva_to_gpa(&r, fake_read, NULL, 0, &gpa, NULL) == -1 &&
	    errno == EFAULT, "NULL prot accepted");
}

/* -------------------------------------------------------------------------
 * Fuzz: random tables, registers and addresses; nothing may crash, and the
 * results must be self-consistent.
 * ------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t
rnd(void)
{
	return vmt_rnd(&rng_state);
}

/* An address that is usually a RAM page, sometimes near it, sometimes wild. */
static uint64_t
rnd_table_addr(void)
{
	switch (rnd() % 8) {
	case 0:
		return rnd();
	case 1:
		return RAM_BASE + RAM_SIZE - (rnd() % 64) * 8;
	case 2:
		return RAM_BASE - (rnd() % 4) * 4096;
	default:
		return RAM_BASE + (rnd() % RAM_PAGES) * 4096;
	}
}

static uint64_t
rnd_entry(void)
{
	uint64_t v = rnd_table_addr() & 0x000FFFFFFFFFF000ULL;

	switch (rnd() % 4) {
	case 0:
		return rnd();
	case 1:
		return v | (rnd() & 0xFFF) | (rnd() & 0xFFF0000000000000ULL);
	default:
		return v | (rnd() & 0x1FF) | P;
	}
}

static uint64_t
rnd_gva(void)
{
	uint64_t v = rnd();

	switch (rnd() % 6) {
	case 0:
		return v;
	case 1:
		return 0xFFFFFFFFFFFFFFFFULL - (v & 0xFFFFF);
	case 2:
		return (v & 0xFFFFFFFFULL);
	case 3:
		return 0x0000800000000000ULL + (v & 0xFFFF) - 0x8000;
	case 4:
		return 0xFFFF800000000000ULL + (v & 0xFFFF) - 0x8000;
	default:
		return v & 0x00007FFFFFFFFFFFULL;
	}
}

static void
test_fuzz(void)
{
	static const char *mode_names[4] = { "none", "32-bit", "PAE",
	    "4-level" };
	unsigned iter, i, nok = 0, nfail = 0, bad = 0, mode;
	unsigned nok_mode[4] = { 0, 0, 0, 0 };
	struct x86_walk_regs r;
	gpaddr_t gpa;
	nvmm_prot_t prot;
	uint64_t gva;
	int ret;

	nbadreads = 0;
	for (iter = 0; iter < 2000; iter++) {
		/* Fresh random tables. */
		for (i = 0; i < RAM_SIZE / 8; i++) {
			uint64_t e = (rnd() % 3 == 0) ? 0 : rnd_entry();

			put64(RAM_BASE + i * 8ULL, e);
		}
		for (i = 0; i < 200; i++) {
			r.cr0 = (rnd() % 8 == 0) ? rnd() : (rnd() % 6 ?
			    CR0_PG | CR0_PE : CR0_PE);
			r.cr3 = (rnd() % 4 == 0) ? rnd() :
			    rnd_table_addr() | (rnd() & 0xFF8);
			r.cr4 = (rnd() % 8 == 0) ? rnd() :
			    (rnd() & (CR4_PAE | CR4_PSE));
			r.efer = (rnd() % 8 == 0) ? rnd() :
			    (rnd() & (EFER_LMA | EFER_NXE));
			gva = rnd_gva();
			if (!(r.cr0 & CR0_PG))
				mode = 0;
			else if (!(r.cr4 & CR4_PAE))
				mode = 1;
			else
				mode = (r.efer & EFER_LMA) ? 3 : 2;

			ret = walk(&r, gva, &gpa, &prot);
			if (nreads > 4)
				CHECK_FUZZ_BAD(bad, "fuzz: %u reads", nreads);
			if (ret != 0) {
				nfail++;
				if (ret != -1 || errno != EFAULT ||
				    gpa != SENTINEL_GPA ||
				    prot != SENTINEL_PROT)
					CHECK_FUZZ_BAD(bad, "fuzz: failure "
					    "ret %d errno %d", ret, errno);
				continue;
			}
			nok++;
			nok_mode[mode]++;
			if ((gpa & 0xFFF) != (gva & 0xFFF) ||
			    (prot & ~(nvmm_prot_t)ALL) != 0 || !(prot & R_))
				CHECK_FUZZ_BAD(bad, "fuzz: gva %#" PRIx64
				    " -> gpa %#" PRIx64 " prot %#" PRIx64, gva,
				    gpa, (uint64_t)prot);
			if (mode == 0 && (gpa != gva || prot != ALL))
				CHECK_FUZZ_BAD(bad, "fuzz: nopaging gva %#"
				    PRIx64 " -> %#" PRIx64, gva, gpa);
			if (mode != 0 && gpa >= (1ULL << 52))
				CHECK_FUZZ_BAD(bad, "fuzz: gpa %#" PRIx64
				    " beyond 52 bits", gpa);
			if (mode == 1 && (gpa > 0xFFFFFFFFULL ||
			    (prot & X_) == 0))
				CHECK_FUZZ_BAD(bad, "fuzz: 32-bit gpa %#" PRIx64
				    " prot %#" PRIx64, gpa, (uint64_t)prot);
			if (mode == 1 && !(r.cr4 & CR4_PSE) && nreads != 2)
				CHECK_FUZZ_BAD(bad, "fuzz: 32-bit without "
				    "PSE, %u reads", nreads);
			if (mode == 3 && (gva >> 47) != 0 &&
			    (gva >> 47) != 0x1FFFF)
				CHECK_FUZZ_BAD(bad, "fuzz: noncanonical %#" PRIx64
				    " accepted", gva);
			if (mode == 1 && (r.efer & EFER_LMA))
				CHECK_FUZZ_BAD(bad, "fuzz: LMA without PAE "
				    "accepted");
		}
	}
	CHECK(nbadreads == 0, "fuzz: %u reads with a bad size or alignment",
	    nbadreads);
	/* The fuzz must reach success in every mode to mean anything. */
	for (mode = 0; mode < 4; mode++)
		CHECK(nok_mode[mode] >= 100, "fuzz: only %u successes in mode "
		    "%s", nok_mode[mode], mode_names[mode]);
	CHECK(nfail >= 1000, "fuzz: only %u failures", nfail);
	CHECK(bad == 0, "fuzz: %u inconsistent results", bad);
	printf("fuzz: %u walks succeeded (none %u, 32-bit %u, PAE %u, "
	    "4-level %u), %u failed\n", nok, nok_mode[0], nok_mode[1],
	    nok_mode[2], nok_mode[3], nfail);
}

/* -------------------------------------------------------------------------
 * Main.
 * ------------------------------------------------------------------------- */

int
main(void)
{
	/* Exactly RAM_SIZE bytes on the heap, so ASan sees any overrun. */
	ram = malloc(RAM_SIZE);
	if (ram == NULL) {
		printf("malloc failed\n");
		return 2;
	}

	test_nopaging();
	test_4level_basic();
	test_4level_prot();
	test_4level_fail();
	test_pae();
	test_32bit();
	test_args();
	CHECK(nbadreads == 0, "%u table reads with a bad size or alignment",
	    nbadreads);
	test_fuzz();

	free(ram);
	return vmt_done("t_walk");
}
