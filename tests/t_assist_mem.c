/* t_assist_mem.c - nvmm_assist_mem on real guests: every instruction class and size, flags, strings, page splits, read-only RAM, errors. */

/*
 * Each case points RIP at a guest snippet "<instruction>; out %al, $0xF0"
 * (t_assist_mem_guest.S), loads the registers, runs until the checkpoint
 * OUT, completing every MEMORY exit with nvmm_assist_mem, and compares
 * with the x86 result computed here independently (the harness:
 * assist_harness.h):
 *  - the mem callback log (every access: gpa, size, direction, data),
 *  - the MEMORY exits (how many, first GPA and prot, RIP at the exit and
 *    right after the assist),
 *  - all GPRs, RIP and RFLAGS (undefined flags masked out),
 *  - guest RAM around every buffer and the fake device's registers.
 * The fake device is 8 KiB of byte registers at VMT_MMIO; RAM pages sit
 * right below and right above it so that accesses can straddle the
 * boundary, and a read-only page sits at RO_GPA.
 *
 * KVM, not the library, executes the instruction (docs/kvm-hosts.md), so
 * an access NVMM makes in one callback may arrive split at a page
 * boundary; the log comparison accepts any ascending split of an
 * expected access and the run prints how often that happened.  SSE
 * moves (movdqu, movq xmm) are not tested: SSE at CPL0 stops the VCPU
 * on kvm_pvm's emulated CPL0 (docs/kvm-hosts.md).
 */

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "assist_harness.h"
#include "vmtest.h"

/* -------------------------------------------------------------------------
 * Guest physical layout, and expected images of everything writable.
 * ------------------------------------------------------------------------- */

#define PAGE		0x1000ULL
#define DEV_GPA		VMT_MMIO		/* fake device, unmapped */
#define DEV_SIZE	0x2000ULL
#define LO_GPA		(VMT_MMIO - PAGE)	/* RAM right below it */
#define HI_GPA		(VMT_MMIO + DEV_SIZE)	/* RAM right above it */
#define RO_GPA		0x800000ULL		/* read-only RAM */
#define BUF_GPA		VMT_DATA		/* RAM for string operands */
#define BUF_SIZE	0x10000ULL

static uint8_t dev[DEV_SIZE], dev_x[DEV_SIZE];
static uint8_t lo_x[PAGE], hi_x[PAGE], ro_x[PAGE], buf_x[BUF_SIZE];
static uint8_t *lo_page, *hi_page, *ro_page;
#define NREGIONS	5
static struct ah_region regions[NREGIONS];

static struct vmt t;
static struct nvmm_x86_exit *x;

static bool
is_dev(uint64_t gpa)
{
	return gpa >= DEV_GPA && gpa - DEV_GPA < DEV_SIZE;
}

/* -------------------------------------------------------------------------
 * Callbacks and their log.
 * ------------------------------------------------------------------------- */

#define MAXCB	160

struct cb {
	uint64_t gpa;
	size_t size;
	bool write;
	uint64_t data;
};

static struct {
	struct cb e[MAXCB];
	int n;			/* calls; may exceed MAXCB */
	int stray;		/* accesses outside the device / RO page */
	int nio;
	uint16_t io_port;
	bool io_in;
} lg;

static void
mem_cb(struct nvmm_mem *m)
{
	struct cb *e = lg.n < MAXCB ? &lg.e[lg.n] : NULL;
	uint64_t v = 0;
	size_t i;

	lg.n++;
	ah_cb_enter(m->mach, m->vcpu);
	if (m->size < 1 || m->size > 8 || m->data == NULL) {
		ah.badsize++;
		return;
	}
	for (i = 0; i < m->size; i++) {
		uint64_t gpa = m->gpa + i;

		if (is_dev(gpa)) {
			if (m->write)
				dev[gpa - DEV_GPA] = m->data[i];
			else
				m->data[i] = dev[gpa - DEV_GPA];
		} else if (m->write && gpa >= RO_GPA && gpa - RO_GPA < PAGE) {
			/* A write to the ROM: the device ignores it. */
		} else {
			lg.stray++;
			if (!m->write)
				m->data[i] = 0xee;
		}
		v |= (uint64_t)m->data[i] << (8 * i);
	}
	if (e != NULL) {
		e->gpa = m->gpa;
		e->size = m->size;
		e->write = m->write;
		e->data = v;
	}
}

static void
io_cb(struct nvmm_io *io)
{
	lg.nio++;
	lg.io_port = io->port;
	lg.io_in = io->in;
	if (io->in)
		memset(io->data, 0, io->size);
}

/* -------------------------------------------------------------------------
 * Cases.
 * ------------------------------------------------------------------------- */

#define F_CF	0x001ULL
#define F_PF	0x004ULL
#define F_AF	0x010ULL
#define F_ZF	0x040ULL
#define F_SF	0x080ULL
#define F_OF	0x800ULL
#define F_ARITH	(F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

/* What the harness does not know of a case: the expected accesses. */
static struct {
	struct cb xcb[MAXCB];
	int nxcb;
} c;

/* Deviations from NVMM that KVM imposes, counted for the final notes. */
static int note_rip_write, note_rip_write_seen, note_split, note_a32;
static int note_cb_rip;

/* ah_begin's second half: the defaults of this test. */
static void
prepare(void)
{
	memset(&c, 0, sizeof(c));
	memset(&lg, 0, sizeof(lg));
}

/* 32-bit mode cases start with 32-bit register values. */
static void
begin32(const char *name)
{
	int i;

	ah_begin("%s", name);
	for (i = 0; i < RIP; i++)
		ah_set(i, ah.in[i] & 0xffffffffULL);
}

static void
xcb(uint64_t gpa, int size, bool write, uint64_t data)
{
	if (c.nxcb == MAXCB) {
		fprintf(stderr, "t_assist_mem: too many expected accesses\n");
		exit(1);
	}
	c.xcb[c.nxcb].gpa = gpa;
	c.xcb[c.nxcb].size = (size_t)size;
	c.xcb[c.nxcb].write = write;
	c.xcb[c.nxcb].data = data & ah_msk(size);
	c.nxcb++;
}

/* An expected read through the callback; returns the value. */
static uint64_t
xld(uint64_t gpa, int size)
{
	uint64_t v = ah_xrd(gpa, size);

	xcb(gpa, size, false, v);
	return v;
}

/* An expected write through the callback, and its effect. */
static void
xst(uint64_t gpa, int size, uint64_t v)
{
	xcb(gpa, size, true, v);
	ah_xwr(gpa, size, v);
}

/*
 * Matches the log against the expected accesses: each expected access
 * must arrive whole or split into ascending contiguous pieces.
 */
static bool
log_matches(char *why, size_t whylen, bool *split)
{
	int li = 0, ei;

	*split = false;
	for (ei = 0; ei < c.nxcb; ei++) {
		const struct cb *e = &c.xcb[ei];
		size_t done = 0;

		while (done < e->size) {
			const struct cb *l;
			uint64_t part;

			if (li >= lg.n || li >= MAXCB) {
				snprintf(why, whylen, "access %d missing: "
				    "expected gpa %#llx size %zu %s", li,
				    (unsigned long long)(e->gpa + done),
				    e->size - done, e->write ? "write" : "read");
				return false;
			}
			l = &lg.e[li];
			if (l->write != e->write || l->gpa != e->gpa + done ||
			    l->size == 0 || l->size > e->size - done) {
				snprintf(why, whylen, "access %d: got gpa %#llx "
				    "size %zu %s, expected gpa %#llx size %zu %s",
				    li, (unsigned long long)l->gpa, l->size,
				    l->write ? "write" : "read",
				    (unsigned long long)(e->gpa + done),
				    e->size - done, e->write ? "write" : "read");
				return false;
			}
			part = (e->data >> (8 * done)) & ah_msk((int)l->size);
			if (l->data != part) {
				snprintf(why, whylen, "access %d (gpa %#llx "
				    "size %zu %s): data %#llx, expected %#llx",
				    li, (unsigned long long)l->gpa, l->size,
				    l->write ? "write" : "read",
				    (unsigned long long)l->data,
				    (unsigned long long)part);
				return false;
			}
			if (l->size != e->size)
				*split = true;
			done += l->size;
			li++;
		}
	}
	if (li != lg.n) {
		const struct cb *l = &lg.e[li < MAXCB ? li : MAXCB - 1];

		snprintf(why, whylen, "%d unexpected accesses, the first: gpa "
		    "%#llx size %zu %s", lg.n - li, (unsigned long long)l->gpa,
		    l->size, l->write ? "write" : "read");
		return false;
	}
	return true;
}

/* What the MEMORY exits of a case showed. */
static struct {
	int n;
	uint64_t first_gpa;
	int first_prot;
	uint64_t rip_exit;	/* RIP at the first exit */
	uint64_t rip_after;	/* and right after its assist */
} ex;

/* ah_run's handler: the MEMORY exits of the instruction. */
static int
mem_exit(uint64_t r)
{
	uint64_t rip = 0;

	if (r != NVMM_VCPU_EXIT_MEMORY)
		return AH_UNEXPECTED;
	if (ah.peek)
		rip = vmt_gpr(&t, RIP);
	if (ex.n == 0) {
		ex.first_gpa = x->u.mem.gpa;
		ex.first_prot = x->u.mem.prot;
		ex.rip_exit = rip;
	}
	/* Reads: RIP on the instruction, as NVMM.  Writes: KVM retires
	   them first (counted in the notes). */
	if (ah.peek && x->u.mem.prot == PROT_READ)
		CHECK(rip == ah.start, "%s: RIP at the read exit %#llx, "
		    "expected %#llx", ah.name, (unsigned long long)rip,
		    (unsigned long long)ah.start);
	ex.n++;
	if (nvmm_assist_mem(&t.mach, &t.vcpu) == -1) {
		CHECK(0, "%s: nvmm_assist_mem: %s", ah.name, strerror(errno));
		return AH_FAILED;
	}
	if (!ah.peek)
		return AH_NEXT;
	rip = vmt_gpr(&t, RIP);
	if (ex.n == 1)
		ex.rip_after = rip;
	if (ah.multi)
		CHECK(rip == ah.start || rip == ah_cp_rip(), "%s: RIP after "
		    "the assist %#llx, neither the instruction nor the "
		    "checkpoint", ah.name, (unsigned long long)rip);
	return AH_NEXT;
}

/* Runs the case to its checkpoint and compares everything. */
static void
run_case(void)
{
	bool split;
	char why[200];

	memset(&ex, 0, sizeof(ex));
	if (!ah_run(mem_exit))
		return;

	/* The callbacks. */
	ah_check_callbacks();
	CHECK(lg.stray == 0, "%s: %d bytes accessed outside the device",
	    ah.name, lg.stray);
	if (!ah.multi)
		note_cb_rip += ah.rip_moved;
	CHECK(log_matches(why, sizeof(why), &split), "%s: %s", ah.name, why);
	if (split)
		note_split++;

	/* The exits. */
	if (c.nxcb == 0) {
		CHECK(ex.n == 0, "%s: %d MEMORY exits, expected none",
		    ah.name, ex.n);
	} else {
		if (ah.multi)
			CHECK(ex.n >= 1 && ex.n <= lg.n, "%s: %d MEMORY "
			    "exits for %d accesses", ah.name, ex.n, lg.n);
		else
			CHECK(ex.n == 1, "%s: %d MEMORY exits, expected 1",
			    ah.name, ex.n);
		CHECK(ex.first_gpa == c.xcb[0].gpa, "%s: exit gpa %#llx, "
		    "expected %#llx", ah.name,
		    (unsigned long long)ex.first_gpa,
		    (unsigned long long)c.xcb[0].gpa);
		CHECK(ex.first_prot == (c.xcb[0].write ? PROT_WRITE :
		    PROT_READ), "%s: exit prot %d", ah.name, ex.first_prot);
		if (c.xcb[0].write && !ah.multi && ah.peek) {
			note_rip_write_seen++;
			if (ex.rip_exit != ah.start)
				note_rip_write++;
		}
		if (!ah.multi && ah.peek)
			CHECK(ex.rip_after == ah_cp_rip(), "%s: RIP right after "
			    "the assist %#llx, expected %#llx", ah.name,
			    (unsigned long long)ex.rip_after,
			    (unsigned long long)ah_cp_rip());
	}

	/* The registers and memory. */
	ah_check_state();
}

/* -------------------------------------------------------------------------
 * Machines.
 * ------------------------------------------------------------------------- */

static struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
static bool long_mode;

static uint8_t *
page_alloc(void)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static void
map_page(uint8_t *p, uint64_t gpa, int prot)
{
	if (nvmm_hva_map(&t.mach, (uintptr_t)p, PAGE) == -1 ||
	    nvmm_gpa_map(&t.mach, (uintptr_t)p, gpa, PAGE, prot) == -1) {
		perror("map_page");
		exit(1);
	}
}

/* A clean VCPU state in the current mode, also after a failed case. */
static void
recover(void)
{
	if (long_mode)
		vmt_setup_long(&t, VMT_CODE);
	else
		vmt_setup_prot32(&t, VMT_CODE);
}

static void
machine_up(bool lm)
{
	ah_env = (struct ah_env){ .test = "t_assist_mem", .vm = &t,
	    AH_GUEST_ENV, .regions = regions, .nregions = NREGIONS,
	    .prepare = prepare, .recover = recover };
	ah_machine_up(&cbs);
	x = t.vcpu.exit;
	map_page(lo_page, LO_GPA, PROT_READ | PROT_WRITE);
	map_page(hi_page, HI_GPA, PROT_READ | PROT_WRITE);
	map_page(ro_page, RO_GPA, PROT_READ);
	long_mode = lm;
	recover();

	regions[0] = (struct ah_region){ "device", DEV_GPA, DEV_SIZE, dev,
	    dev_x };
	regions[1] = (struct ah_region){ "low RAM page", LO_GPA, PAGE,
	    lo_page, lo_x };
	regions[2] = (struct ah_region){ "high RAM page", HI_GPA, PAGE,
	    hi_page, hi_x };
	regions[3] = (struct ah_region){ "read-only page", RO_GPA, PAGE,
	    ro_page, ro_x };
	regions[4] = (struct ah_region){ "buffer", BUF_GPA, BUF_SIZE,
	    t.ram + BUF_GPA, buf_x };
}

/* -------------------------------------------------------------------------
 * Reference x86 arithmetic (pure C).
 * ------------------------------------------------------------------------- */

enum { OP_ADD, OP_OR, OP_ADC, OP_SBB, OP_AND, OP_SUB, OP_XOR, OP_CMP,
    OP_TEST, OP_INC, OP_DEC, OP_NOT, OP_NEG };

struct alu {
	uint64_t r;		/* result, size bits */
	uint64_t f;		/* arithmetic flags after the operation */
	uint64_t undef;		/* flags the architecture leaves undefined */
	bool wr;		/* the destination is written */
};

static uint64_t
szp(uint64_t r, int size)
{
	uint64_t f = 0;

	if (r == 0)
		f |= F_ZF;
	if (r & (1ULL << (size * 8 - 1)))
		f |= F_SF;
	if (__builtin_parity((unsigned)(r & 0xff)) == 0)
		f |= F_PF;
	return f;
}

static struct alu
alu(int op, int size, uint64_t a, uint64_t b, uint64_t fin)
{
	unsigned bits = (unsigned)size * 8;
	uint64_t m = ah_msk(size), sb = 1ULL << (bits - 1), cin = 0;
	unsigned __int128 w;
	struct alu o;

	a &= m;
	b &= m;
	o.f = fin & F_ARITH;
	o.undef = 0;
	o.wr = op != OP_CMP && op != OP_TEST;
	switch (op) {
	case OP_ADD:
	case OP_ADC:
	case OP_INC:
		if (op == OP_ADC)
			cin = fin & F_CF;
		if (op == OP_INC)
			b = 1;
		w = (unsigned __int128)a + b + cin;
		o.r = (uint64_t)w & m;
		o.f = szp(o.r, size);
		if (op == OP_INC)
			o.f |= fin & F_CF;
		else if ((w >> bits) & 1)
			o.f |= F_CF;
		if ((a ^ o.r) & (b ^ o.r) & sb)
			o.f |= F_OF;
		if ((a ^ b ^ o.r) & 0x10)
			o.f |= F_AF;
		break;
	case OP_SUB:
	case OP_SBB:
	case OP_CMP:
	case OP_DEC:
	case OP_NEG:
		if (op == OP_SBB)
			cin = fin & F_CF;
		if (op == OP_DEC)
			b = 1;
		if (op == OP_NEG) {
			b = a;
			a = 0;
		}
		o.r = (a - b - cin) & m;
		o.f = szp(o.r, size);
		if (op == OP_DEC)
			o.f |= fin & F_CF;
		else if ((unsigned __int128)a < (unsigned __int128)b + cin)
			o.f |= F_CF;
		if ((a ^ b) & (a ^ o.r) & sb)
			o.f |= F_OF;
		if ((a ^ b ^ o.r) & 0x10)
			o.f |= F_AF;
		break;
	case OP_AND:
	case OP_TEST:
	case OP_OR:
	case OP_XOR:
		o.r = op == OP_OR ? (a | b) : op == OP_XOR ? (a ^ b) : (a & b);
		o.f = szp(o.r, size) | (fin & F_AF);
		o.undef = F_AF;
		break;
	default:	/* OP_NOT */
		o.r = ~a & m;
		break;
	}
	return o;
}

/* Expects the flags of o, from the case's input flags. */
static void
expect_flags(const struct alu *o)
{
	ah.exp[RFL] = (ah.in[RFL] & ~F_ARITH) | o->f;
	ah.gmask[RFL] = ~o->undef;
}

static uint64_t
sext(uint64_t v, int from, int to)
{
	int s = 64 - from * 8;

	return (uint64_t)(((int64_t)(v << s)) >> s) & ah_msk(to);
}

/* -------------------------------------------------------------------------
 * 64-bit cases.
 * ------------------------------------------------------------------------- */

static const int sizes[4] = { 1, 2, 4, 8 };
static const uint64_t flag_ins[2] = { 0x2, 0x2 | F_ARITH };

/* MOV stores and loads with every register kind, moffs and immediates. */
static void
t_mov(void)
{
	static const int offs[2] = { 0x10, 0x7 };
	const uint64_t val = 0x8877665544332211ULL;
	uint64_t gpa, v;
	int k, o, size;

	for (k = 0; k < 4; k++) {
		size = sizes[k];
		for (o = 0; o < 2; o++) {
			gpa = DEV_GPA + (uint64_t)offs[o];

			ah_begin("st_r%d off=%#x", size, offs[o]);
			ah_set(RBX, gpa);
			ah_set(RCX, val);
			xst(gpa, size, val);
			run_case();

			ah_begin("ld_r%d off=%#x", size, offs[o]);
			ah_set(RBX, gpa);
			v = xld(gpa, size);
			ah_expect(RCX, ah_merge(ah.in[RCX], v, size));
			run_case();
		}
	}

	gpa = DEV_GPA + 0x30;
	ah_begin("st_ah");
	ah_set(RBX, gpa);
	xst(gpa, 1, ah.in[RAX] >> 8);
	run_case();

	ah_begin("st_sil");
	ah_set(RBX, gpa);
	xst(gpa, 1, ah.in[RSI]);
	run_case();

	ah_begin("st_r9b");
	ah_set(RBX, gpa);
	xst(gpa, 1, ah.in[NVMM_X64_GPR_R9]);
	run_case();

	ah_begin("st_r10");
	ah_set(RBX, gpa);
	xst(gpa, 8, ah.in[NVMM_X64_GPR_R10]);
	run_case();

	ah_begin("st_r12d");
	ah_set(RBX, gpa);
	xst(gpa + 0x18, 4, ah.in[NVMM_X64_GPR_R12]);
	run_case();

	ah_begin("ld_ah");
	ah_set(RBX, gpa);
	v = xld(gpa, 1);
	ah_expect(RAX, (ah.in[RAX] & ~0xff00ULL) | (v << 8));
	run_case();

	ah_begin("ld_dil");
	ah_set(RBX, gpa);
	v = xld(gpa, 1);
	ah_expect(RDI, ah_merge(ah.in[RDI], v, 1));
	run_case();

	ah_begin("ld_r11");
	ah_set(RBX, gpa);
	v = xld(gpa, 8);
	ah_expect(NVMM_X64_GPR_R11, v);
	run_case();

	ah_begin("ld_r13w");
	ah_set(RBX, gpa);
	v = xld(gpa, 2);
	ah_expect(NVMM_X64_GPR_R13, ah_merge(ah.in[NVMM_X64_GPR_R13], v, 2));
	run_case();

	/* 0x10(%rbx,%rsi,4) with RSI = 2. */
	ah_begin("ld_sib");
	ah_set(RBX, DEV_GPA + 0x20);
	ah_set(RSI, 2);
	v = xld(DEV_GPA + 0x38, 4);
	ah_expect(RCX, v);
	run_case();

	ah_begin("ld_riprel");
	v = xld(DEV_GPA + 0x20, 4);
	ah_expect(RDX, v);
	run_case();

	/* MOV AL/AX/EAX/RAX <-> moffs64 at DEV_GPA + 0x10. */
	for (k = 0; k < 4; k++) {
		size = sizes[k];
		ah_begin("mo_ld%d", size);
		v = xld(DEV_GPA + 0x10, size);
		ah_expect(RAX, ah_merge(ah.in[RAX], v, size));
		run_case();

		ah_begin("mo_st%d", size);
		xst(DEV_GPA + 0x10, size, ah.in[RAX]);
		run_case();
	}
	ah_begin("mo_ld4_a32");
	v = xld(DEV_GPA + 0x10, 4);
	ah_expect(RAX, v);
	run_case();

	/* MOV r/m, imm: the imm32 of a 64-bit store is sign-extended. */
	{
		static const struct { const char *n; int size; uint64_t imm; }
		    imms[] = {
			{ "st_i1", 1, 0x5a },
			{ "st_i2", 2, 0x1234 },
			{ "st_i4", 4, 0x89abcdef },
			{ "st_i8", 8, 0xffffffffedcba988ULL },
			{ "st_i8p", 8, 0x7edcba98 },
		};
		size_t i;

		for (i = 0; i < sizeof(imms) / sizeof(imms[0]); i++) {
			ah_begin("%s", imms[i].n);
			ah_set(RBX, DEV_GPA + 0x40);
			xst(DEV_GPA + 0x40, imms[i].size, imms[i].imm);
			run_case();
		}
	}
}

/* MOVZX, MOVSX, MOVSXD, with the sign bit set and clear. */
static void
t_movx(void)
{
	static const struct { const char *n; int from, to; bool sx; } ops[] = {
		{ "zx_bw", 1, 2, false }, { "zx_bl", 1, 4, false },
		{ "zx_bq", 1, 8, false }, { "zx_wl", 2, 4, false },
		{ "zx_wq", 2, 8, false }, { "sx_bw", 1, 2, true },
		{ "sx_bl", 1, 4, true }, { "sx_bq", 1, 8, true },
		{ "sx_wl", 2, 4, true }, { "sx_wq", 2, 8, true },
		{ "sx_lq", 4, 8, true },
	};
	static const uint64_t vals[2] = { 0x87654321ULL, 0x34567890ULL };
	uint64_t gpa = DEV_GPA + 0x50, v, ext;
	size_t i;
	int k;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (k = 0; k < 2; k++) {
			/* The operand's top byte decides the sign. */
			v = ops[i].from == 4 ? vals[k] :
			    ops[i].from == 2 ? (vals[k] >> 16) & 0xffff :
			    (vals[k] >> 24) & 0xff;
			ah_begin("%s v=%#llx", ops[i].n, (unsigned long long)v);
			ah_set(RBX, gpa);
			ah_put(gpa, ops[i].from, v);
			xcb(gpa, ops[i].from, false, v);
			ext = ops[i].sx ? sext(v, ops[i].from, ops[i].to) : v;
			ah_expect(RCX, ah_merge(ah.in[RCX], ext, ops[i].to));
			run_case();
		}
	}
}

/* ALU and CMP: r/m OP r, r OP r/m, r/m OP imm (80, 81, 83). */
static void
t_alu(void)
{
	static const struct { const char *n; int op; } ops[] = {
		{ "add", OP_ADD }, { "or", OP_OR }, { "adc", OP_ADC },
		{ "sbb", OP_SBB }, { "and", OP_AND }, { "sub", OP_SUB },
		{ "xor", OP_XOR }, { "cmp", OP_CMP },
	};
	enum { MR, RM, IMM };
	static const struct { const char *sfx; int size, kind; uint64_t imm; }
	    forms[] = {
		{ "mr1", 1, MR, 0 }, { "mr2", 2, MR, 0 }, { "mr4", 4, MR, 0 },
		{ "mr8", 8, MR, 0 }, { "rm1", 1, RM, 0 }, { "rm2", 2, RM, 0 },
		{ "rm4", 4, RM, 0 }, { "rm8", 8, RM, 0 },
		{ "i80", 1, IMM, 0xa5 }, { "i81w", 2, IMM, 0x1234 },
		{ "i81l", 4, IMM, 0x12345678 },
		{ "i81q", 8, IMM, 0xffffffffedcba988ULL },
		{ "i83w", 2, IMM, 0xfffd }, { "i83l", 4, IMM, 0xfffffffdULL },
		{ "i83q", 8, IMM, 0xfffffffffffffffdULL },
	};
	const uint64_t junk = 0xf0e1d2c3b4a59687ULL;
	size_t i, j;
	int fi, v;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
	for (j = 0; j < sizeof(forms) / sizeof(forms[0]); j++)
	for (fi = 0; fi < 2; fi++)
	for (v = 0; v < 4; v++) {
		int size = forms[j].size, kind = forms[j].kind;
		uint64_t m = ah_msk(size), memv, regv, gpa;
		struct alu o;

		gpa = DEV_GPA + (v == 3 ? 0x63 : 0x60);
		regv = kind == IMM ? forms[j].imm : 0x6e5d4c3b2a190817ULL & m;
		switch (v) {
		case 0:		/* ordinary values */
			memv = 0x9c3a5f7e81d4b26cULL & m;
			break;
		case 1:		/* equal operands */
			memv = regv;
			break;
		case 2:		/* largest positive */
			memv = m >> 1;
			break;
		default:	/* smallest negative */
			memv = (m >> 1) + 1;
			break;
		}
		if (kind == RM && v >= 2) {
			/* Let the register hold the extreme value. */
			uint64_t tmp = regv;

			regv = memv;
			memv = v == 2 ? 1 : tmp;
		}
		ah_begin("%s_%s flags=%#llx v%d", ops[i].n, forms[j].sfx,
		    (unsigned long long)flag_ins[fi], v);
		ah_set(RFL, flag_ins[fi]);
		ah_set(RBX, gpa);
		ah_set(RCX, (junk & ~m) | (regv & m));
		ah_put(gpa, size, memv);
		xcb(gpa, size, false, memv);
		if (kind == RM) {
			o = alu(ops[i].op, size, regv, memv, flag_ins[fi]);
			if (o.wr)
				ah_expect(RCX, ah_merge(ah.in[RCX], o.r, size));
		} else {
			o = alu(ops[i].op, size, memv, regv, flag_ins[fi]);
			if (o.wr) {
				xst(gpa, size, o.r);
			}
		}
		expect_flags(&o);
		run_case();
	}
}

/* TEST r/m, r and r/m, imm: a read, flags, no write. */
static void
t_test(void)
{
	static const struct { const char *n; int size; bool imm;
	    uint64_t src; } forms[] = {
		{ "test_mr1", 1, false, 0 }, { "test_mr2", 2, false, 0 },
		{ "test_mr4", 4, false, 0 }, { "test_mr8", 8, false, 0 },
		{ "test_i1", 1, true, 0xa5 }, { "test_i2", 2, true, 0x8001 },
		{ "test_i4", 4, true, 0x80000001ULL },
		{ "test_i8", 8, true, 0xffffffff80000010ULL },
	};
	size_t j;
	int fi, v;

	for (j = 0; j < sizeof(forms) / sizeof(forms[0]); j++)
	for (fi = 0; fi < 2; fi++)
	for (v = 0; v < 4; v++) {
		int size = forms[j].size;
		uint64_t m = ah_msk(size), gpa = DEV_GPA + 0x70, memv, src;
		struct alu o;

		src = forms[j].imm ? forms[j].src : 0xc3a5968778695a4bULL & m;
		memv = v == 0 ? 0x5a3c0ff0e1d2c3b4ULL & m :
		    v == 1 ? src : v == 2 ? ~src & m : (m >> 1) + 1;
		ah_begin("%s flags=%#llx v%d", forms[j].n,
		    (unsigned long long)flag_ins[fi], v);
		ah_set(RFL, flag_ins[fi]);
		ah_set(RBX, gpa);
		if (!forms[j].imm)
			ah_set(RCX, (ah.in[RCX] & ~m) | src);
		ah_put(gpa, size, memv);
		xcb(gpa, size, false, memv);
		o = alu(OP_TEST, size, memv, src, flag_ins[fi]);
		expect_flags(&o);
		run_case();
	}
}

/* XCHG r/m, r: read, write, the register gets the old value. */
static void
t_xchg(void)
{
	int k, v;

	for (k = 0; k < 4; k++)
	for (v = 0; v < 2; v++) {
		int size = sizes[k];
		uint64_t gpa = DEV_GPA + 0x80 + (uint64_t)v * 3, old;

		ah_begin("xchg%d v%d", size, v);
		ah_set(RBX, gpa);
		old = xld(gpa, size);
		xst(gpa, size, ah.in[RCX]);
		ah_expect(RCX, ah_merge(ah.in[RCX], old, size));
		run_case();
	}
}

/* INC, DEC, NOT, NEG on memory. */
static void
t_unary(void)
{
	static const struct { const char *n; int op; } ops[] = {
		{ "inc", OP_INC }, { "dec", OP_DEC }, { "not", OP_NOT },
		{ "neg", OP_NEG },
	};
	size_t i;
	int k, fi, v;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
	for (k = 0; k < 4; k++)
	for (fi = 0; fi < 2; fi++)
	for (v = 0; v < 5; v++) {
		int size = sizes[k];
		uint64_t m = ah_msk(size), gpa = DEV_GPA + 0x90, memv;
		struct alu o;

		memv = v == 0 ? 0x9c3a5f7e81d4b26cULL & m : v == 1 ? m >> 1 :
		    v == 2 ? (m >> 1) + 1 : v == 3 ? 0 : m;
		ah_begin("%s%d flags=%#llx v%d", ops[i].n, size,
		    (unsigned long long)flag_ins[fi], v);
		ah_set(RFL, flag_ins[fi]);
		ah_set(RBX, gpa);
		ah_put(gpa, size, memv);
		o = alu(ops[i].op, size, memv, 0, flag_ins[fi]);
		xcb(gpa, size, false, memv);
		xst(gpa, size, o.r);
		expect_flags(&o);
		run_case();
	}
}

/* BT, BTS, BTR, BTC with register offsets (also outside the operand,
   and negative) and imm8 offsets (taken modulo the operand size). */
static void
t_bt(void)
{
	static const char *const names[4] = { "bt", "bts", "btr", "btc" };
	static const int64_t roffs[3][4] = {
		{ 3, 15, 19, -1 },		/* 16-bit */
		{ 0, 31, 40, -1 },		/* 32-bit */
		{ 5, 63, 70, -65 },		/* 64-bit */
	};
	static const int imms[3] = { 29, 45, 61 };
	int op, k, form, v, fi;

	for (op = 0; op < 4; op++)
	for (k = 0; k < 3; k++)
	for (form = 0; form < 2; form++)
	for (v = 0; v < 4; v++)
	for (fi = 0; fi < 2; fi++) {
		int size = 2 << k, bits = size * 8;
		uint64_t base = DEV_GPA + 0x200, gpa, memv, nv, bit;
		int64_t off;

		if (form == 1 && v > 0)
			continue;	/* one offset per immediate */
		if (form == 0) {
			off = roffs[k][v];
			/* floor(off / bits) operands away, as x86 does. */
			gpa = base + (uint64_t)((off >= 0 ? off / bits :
			    -((-off + bits - 1) / bits)) * size);
			bit = (uint64_t)off & (uint64_t)(bits - 1);
		} else {
			off = imms[k];
			gpa = base;
			bit = (uint64_t)off & (uint64_t)(bits - 1);
		}
		ah_begin("%s_%c%d off=%lld flags=%#llx", names[op],
		    form == 0 ? 'r' : 'i', size, (long long)off,
		    (unsigned long long)flag_ins[fi]);
		ah_set(RFL, flag_ins[fi]);
		ah_set(RBX, base);
		if (form == 0)
			ah_set(RCX, (ah.in[RCX] & ~ah_msk(size)) |
			    ((uint64_t)off & ah_msk(size)));
		memv = xld(gpa, size);
		nv = memv;
		if (op == 1)
			nv |= 1ULL << bit;
		else if (op == 2)
			nv &= ~(1ULL << bit);
		else if (op == 3)
			nv ^= 1ULL << bit;
		if (op != 0) {
			xst(gpa, size, nv);
		}
		/* CF = the bit; OF SF ZF AF PF are undefined (AMD, Intel
		   differ on ZF). */
		ah.exp[RFL] = (ah.in[RFL] & ~F_CF) | ((memv >> bit) & 1);
		ah.gmask[RFL] = ~(F_OF | F_SF | F_ZF | F_AF | F_PF);
		run_case();
	}
}

static void
t_lock(void)
{
	uint64_t gpa = DEV_GPA + 0xa0, memv;
	struct alu o;

	ah_begin("lock_or4");
	ah_set(RBX, gpa);
	memv = xld(gpa, 4);
	o = alu(OP_OR, 4, memv, ah.in[RCX], ah.in[RFL]);
	xst(gpa, 4, o.r);
	expect_flags(&o);
	run_case();
}

/* -------------------------------------------------------------------------
 * String instructions.
 * ------------------------------------------------------------------------- */

static const int reps[5] = { -1, 0, 1, 3, 17 };	/* -1: no REP */

static void
string_regs(int rep, int df)
{
	if (rep >= 0)
		ah_set(RCX, (uint64_t)rep);
	ah_set(RFL, 0x2 | (df ? F_DF : 0));
	ah.multi = rep >= 0;
	if (rep >= 0)
		ah_expect(RCX, 0);
}

/* MOVS MMIO->RAM, RAM->MMIO and MMIO->MMIO. */
static void
t_movs(void)
{
	static const char *const dirs[3] = { "mmio->ram", "ram->mmio",
	    "mmio->mmio" };
	static const uint64_t srcs[3] = { DEV_GPA + 0x400, BUF_GPA + 0x400,
	    DEV_GPA + 0x400 };
	static const uint64_t dsts[3] = { BUF_GPA + 0x1400, DEV_GPA + 0x400,
	    DEV_GPA + 0x1400 };
	int k, d, df, r, i;

	for (k = 0; k < 4; k++)
	for (d = 0; d < 3; d++)
	for (df = 0; df < 2; df++)
	for (r = 0; r < 5; r++) {
		int size = sizes[k], rep = reps[r], n = rep < 0 ? 1 : rep;
		int64_t step = df ? -size : size;

		ah_begin("%smovs%d %s df=%d rep=%d", rep < 0 ? "" : "rep_",
		    size, dirs[d], df, rep);
		string_regs(rep, df);
		ah_set(RSI, srcs[d]);
		ah_set(RDI, dsts[d]);
		for (i = 0; i < n; i++) {
			uint64_t sa = srcs[d] + (uint64_t)(i * step);
			uint64_t da = dsts[d] + (uint64_t)(i * step);
			uint64_t v = ah_xrd(sa, size);

			if (is_dev(sa))
				xcb(sa, size, false, v);
			ah_xwr(da, size, v);
			if (is_dev(da))
				xcb(da, size, true, v);
		}
		ah_expect(RSI, srcs[d] + (uint64_t)(n * step));
		ah_expect(RDI, dsts[d] + (uint64_t)(n * step));
		run_case();
	}
}

static void
t_stos_lods(void)
{
	uint64_t base = DEV_GPA + 0x600;
	int k, df, r, i, lods;

	for (lods = 0; lods < 2; lods++)
	for (k = 0; k < 4; k++)
	for (df = 0; df < 2; df++)
	for (r = 0; r < 5; r++) {
		int size = sizes[k], rep = reps[r], n = rep < 0 ? 1 : rep;
		int64_t step = df ? -size : size;
		uint64_t rax;

		ah_begin("%s%s%d df=%d rep=%d", rep < 0 ? "" : "rep_",
		    lods ? "lods" : "stos", size, df, rep);
		string_regs(rep, df);
		ah_set(lods ? RSI : RDI, base);
		rax = ah.in[RAX];
		for (i = 0; i < n; i++) {
			uint64_t a = base + (uint64_t)(i * step);

			if (lods) {
				uint64_t v = ah_xrd(a, size);

				xcb(a, size, false, v);
				rax = ah_merge(rax, v, size);
			} else {
				xst(a, size, rax);
			}
		}
		ah_expect(RAX, rax);
		ah_expect(lods ? RSI : RDI, base + (uint64_t)(n * step));
		run_case();
	}
}

/* CMPS: flags of DS:[RSI] - ES:[RDI]; REPE/REPNE stop at the right element. */
static void
t_cmps(void)
{
	enum { NOREP, REPE_MISS, REPE_ALL, REPNE_HIT, REPNE_NONE, REPE_ZERO };
	static const char *const vnames[6] = { "norep", "repe-mismatch@5",
	    "repe-all-equal", "repne-match@9", "repne-no-match", "repe-rcx0" };
	static const char *const lnames[3] = { "mmio-ram", "mmio-mmio",
	    "ram-mmio" };
	static const uint64_t srcs[3] = { DEV_GPA + 0x400, DEV_GPA + 0x400,
	    BUF_GPA + 0x400 };
	static const uint64_t dsts[3] = { BUF_GPA + 0x400, DEV_GPA + 0x1400,
	    DEV_GPA + 0x400 };
	int k, loc, df, var, i;

	for (k = 0; k < 4; k++)
	for (loc = 0; loc < 3; loc++)
	for (df = 0; df < 2; df++)
	for (var = 0; var < 6; var++) {
		int size = sizes[k], count, n;
		int64_t step = df ? -size : size;
		uint64_t m = ah_msk(size), rfl;
		const char *sn;
		bool stop = false;

		count = var == NOREP ? 1 : var == REPE_ZERO ? 0 :
		    (var == REPE_MISS || var == REPNE_HIT) ? 17 : 3;
		sn = var == NOREP ? "" : (var == REPNE_HIT ||
		    var == REPNE_NONE) ? "repne_" : "repe_";
		ah_begin("%scmps%d %s df=%d %s", sn, size, lnames[loc], df,
		    vnames[var]);
		if (var == NOREP) {
			ah_set(RFL, 0x2 | (df ? F_DF : 0));
		} else {
			string_regs(count, df);
		}
		ah_set(RSI, srcs[loc]);
		ah_set(RDI, dsts[loc]);
		/* Element i: equal values, or dst = src + 1 (differ). */
		for (i = 0; i < count; i++) {
			uint64_t sa = srcs[loc] + (uint64_t)(i * step);
			uint64_t da = dsts[loc] + (uint64_t)(i * step);
			uint64_t v = (0x0123456789abcdefULL * (uint64_t)(i + 3))
			    & m;
			bool equal;

			equal = var == REPE_MISS ? i != 5 :
			    var == REPE_ALL ? true :
			    var == REPNE_HIT ? i == 9 :
			    var == REPNE_NONE ? false : (i & 1) == 0;
			if (var == NOREP)
				equal = false;
			ah_put(sa, size, v);
			ah_put(da, size, equal ? v : (v + 1) & m);
		}
		rfl = ah.in[RFL];
		for (n = 0; n < count && !stop; n++) {
			uint64_t sa = srcs[loc] + (uint64_t)(n * step);
			uint64_t da = dsts[loc] + (uint64_t)(n * step);
			uint64_t sv = ah_xrd(sa, size), dv = ah_xrd(da, size);
			struct alu o;

			if (is_dev(sa))
				xcb(sa, size, false, sv);
			if (is_dev(da))
				xcb(da, size, false, dv);
			o = alu(OP_CMP, size, sv, dv, rfl);
			rfl = (rfl & ~F_ARITH) | o.f;
			if (var == REPE_MISS || var == REPE_ALL)
				stop = (o.f & F_ZF) == 0;
			else if (var == REPNE_HIT || var == REPNE_NONE)
				stop = (o.f & F_ZF) != 0;
		}
		ah_expect(RFL, rfl);
		ah_expect(RSI, srcs[loc] + (uint64_t)(n * step));
		ah_expect(RDI, dsts[loc] + (uint64_t)(n * step));
		if (var != NOREP)
			ah_expect(RCX, (uint64_t)(count - n));
		run_case();
	}
}

/*
 * 67-prefixed string instructions in 64-bit mode use ESI/EDI/ECX.  KVM
 * writes them back as 32-bit registers (zero-extended), NVMM keeps the
 * upper halves; only the low halves are checked, the rest is noted.
 */
static void
t_a32(void)
{
	uint64_t got_rdi, got_rcx, got_rsi;
	int i;

	ah_begin("a32_rep_stos1");
	ah.multi = true;
	ah_set(RDI, 0xdead000000000000ULL | (DEV_GPA + 0x100));
	ah_set(RCX, 0xffff000000000003ULL);
	for (i = 0; i < 3; i++) {
		xst(DEV_GPA + 0x100 + (uint64_t)i, 1, ah.in[RAX]);
	}
	ah_expect(RDI, DEV_GPA + 0x103);
	ah_expect(RCX, 0);
	ah.gmask[RDI] = ah.gmask[RCX] = 0xffffffffULL;
	run_case();
	got_rdi = t.vcpu.state->gprs[RDI];
	got_rcx = t.vcpu.state->gprs[RCX];
	if ((got_rdi >> 32) != 0xdead0000ULL || (got_rcx >> 32) != 0xffff0000)
		note_a32++;

	ah_begin("a32_rep_movs4");
	ah.multi = true;
	ah_set(RSI, 0xffffffff00000000ULL | (DEV_GPA + 0x400));
	ah_set(RDI, 0x1234567800000000ULL | (BUF_GPA + 0x400));
	ah_set(RCX, 0xabcdef0100000005ULL);
	for (i = 0; i < 5; i++) {
		uint64_t v = ah_xrd(DEV_GPA + 0x400 + (uint64_t)i * 4, 4);

		xcb(DEV_GPA + 0x400 + (uint64_t)i * 4, 4, false, v);
		ah_xwr(BUF_GPA + 0x400 + (uint64_t)i * 4, 4, v);
	}
	ah_expect(RSI, DEV_GPA + 0x414);
	ah_expect(RDI, BUF_GPA + 0x414);
	ah_expect(RCX, 0);
	ah.gmask[RSI] = ah.gmask[RDI] = ah.gmask[RCX] = 0xffffffffULL;
	run_case();
	got_rsi = t.vcpu.state->gprs[RSI];
	if ((got_rsi >> 32) != 0xffffffffULL)
		note_a32++;
}

/* -------------------------------------------------------------------------
 * Page-boundary splits and read-only RAM.
 * ------------------------------------------------------------------------- */

static void
t_straddle(void)
{
	uint64_t v, lo;
	struct alu o;
	int i;

	/* RAM then MMIO: the RAM part never reaches the callback. */
	ah_begin("ld_r4 ram|mmio");
	ah_set(RBX, DEV_GPA - 2);
	v = ah_xrd(DEV_GPA - 2, 4);
	xcb(DEV_GPA, 2, false, v >> 16);
	ah_expect(RCX, v);
	run_case();

	ah_begin("ld_r8 ram|mmio");
	ah_set(RBX, DEV_GPA - 3);
	v = ah_xrd(DEV_GPA - 3, 8);
	xcb(DEV_GPA, 5, false, v >> 24);
	ah_expect(RCX, v);
	run_case();

	ah_begin("st_r8 ram|mmio");
	ah_set(RBX, DEV_GPA - 3);
	ah_xwr(DEV_GPA - 3, 8, ah.in[RCX]);
	xcb(DEV_GPA, 5, true, ah.in[RCX] >> 24);
	run_case();

	ah_begin("add_mr4 ram|mmio");
	ah_set(RBX, DEV_GPA - 2);
	lo = ah_xrd(DEV_GPA - 2, 4);
	o = alu(OP_ADD, 4, lo, ah.in[RCX], ah.in[RFL]);
	xcb(DEV_GPA, 2, false, lo >> 16);
	xcb(DEV_GPA, 2, true, o.r >> 16);
	ah_xwr(DEV_GPA - 2, 4, o.r);
	expect_flags(&o);
	run_case();

	/* Inside MMIO across a page: NVMM gives one callback, KVM may
	   give one per page. */
	ah_begin("ld_r4 mmio|mmio");
	ah_set(RBX, DEV_GPA + PAGE - 2);
	v = xld(DEV_GPA + PAGE - 2, 4);
	ah_expect(RCX, v);
	run_case();

	ah_begin("st_r8 mmio|mmio");
	ah_set(RBX, DEV_GPA + PAGE - 5);
	xst(DEV_GPA + PAGE - 5, 8, ah.in[RCX]);
	run_case();

	/* MMIO then RAM. */
	ah_begin("ld_r4 mmio|ram");
	ah_set(RBX, HI_GPA - 2);
	v = ah_xrd(HI_GPA - 2, 4);
	xcb(HI_GPA - 2, 2, false, v);
	ah_expect(RCX, v);
	run_case();

	ah_begin("st_r4 mmio|ram");
	ah_set(RBX, HI_GPA - 1);
	xcb(HI_GPA - 1, 1, true, ah.in[RCX]);
	ah_xwr(HI_GPA - 1, 4, ah.in[RCX]);
	run_case();

	/* A string element split between RAM and MMIO. */
	ah_begin("rep_movs4 ram|mmio->ram");
	string_regs(3, 0);
	ah_set(RSI, DEV_GPA - 2);
	ah_set(RDI, BUF_GPA + 0x800);
	for (i = 0; i < 3; i++) {
		uint64_t sa = DEV_GPA - 2 + (uint64_t)i * 4;

		v = ah_xrd(sa, 4);
		if (i == 0)
			xcb(DEV_GPA, 2, false, v >> 16);
		else
			xcb(sa, 4, false, v);
		ah_xwr(BUF_GPA + 0x800 + (uint64_t)i * 4, 4, v);
	}
	ah_expect(RSI, DEV_GPA - 2 + 12);
	ah_expect(RDI, BUF_GPA + 0x800 + 12);
	run_case();

	ah_begin("stos8 ram|mmio");
	ah_set(RFL, 0x2);
	ah_set(RDI, DEV_GPA - 4);
	ah_xwr(DEV_GPA - 4, 8, ah.in[RAX]);
	xcb(DEV_GPA, 4, true, ah.in[RAX] >> 32);
	ah_expect(RDI, DEV_GPA + 4);
	run_case();
}

/*
 * A write to a read-only gpa_map range is a MEMORY exit with PROT_WRITE;
 * the callback gets the write and the RAM stays unchanged.  Reads are
 * not exits.  (NVMM would also route the read half of a read-modify-
 * write through the callback; KVM reads the RAM itself.)
 */
static void
t_readonly(void)
{
	uint64_t gpa = RO_GPA + 0x10, v;
	struct alu o;
	int i;

	ah_begin("st_r4 rom");
	ah_set(RBX, gpa);
	xcb(gpa, 4, true, ah.in[RCX]);
	run_case();

	ah_begin("st_i8 rom");
	ah_set(RBX, gpa);
	xcb(gpa, 8, true, 0xffffffffedcba988ULL);
	run_case();

	ah_begin("ld_r4 rom");
	ah_set(RBX, gpa);
	ah_expect(RCX, ah_xrd(gpa, 4));
	run_case();

	ah_begin("add_mr4 rom");
	ah_set(RBX, gpa);
	v = ah_xrd(gpa, 4);
	o = alu(OP_ADD, 4, v, ah.in[RCX], ah.in[RFL]);
	xcb(gpa, 4, true, o.r);
	expect_flags(&o);
	run_case();

	ah_begin("rep_stos4 rom");
	string_regs(3, 0);
	ah_set(RDI, gpa);
	for (i = 0; i < 3; i++)
		xcb(gpa + (uint64_t)i * 4, 4, true, ah.in[RAX]);
	ah_expect(RDI, gpa + 12);
	run_case();

	ah_begin("rep_movs2 ram->rom");
	string_regs(3, 0);
	ah_set(RSI, BUF_GPA + 0x100);
	ah_set(RDI, gpa);
	for (i = 0; i < 3; i++)
		xcb(gpa + (uint64_t)i * 2, 2, true,
		    ah_xrd(BUF_GPA + 0x100 + (uint64_t)i * 2, 2));
	ah_expect(RSI, BUF_GPA + 0x106);
	ah_expect(RDI, gpa + 6);
	run_case();
}

/* Loads the registers and runs to the first exit, which must be a
   MEMORY exit, and assists it; false (after a recover) otherwise. */
static bool
assist_first(void)
{
	uint64_t r;

	ah_load_gprs();
	r = vmt_run(&t);
	CHECK(r == NVMM_VCPU_EXIT_MEMORY, "%s: exit %#llx", ah.name,
	    (unsigned long long)r);
	if (r != NVMM_VCPU_EXIT_MEMORY) {
		recover();
		return false;
	}
	CHECK(nvmm_assist_mem(&t.mach, &t.vcpu) == 0, "%s: assist", ah.name);
	return true;
}

static void
finish_case(void)
{
	if (!ah_finish(NVMM_VCPU_EXIT_MEMORY))
		CHECK(0, "%s: checkpoint not reached", ah.name);
}

/*
 * What an assist must have done when it returns, before the client reads
 * any register: every callback of the instruction (NVMM serves them all
 * in the one assist) and every write to guest RAM.
 */
static void
t_after_assist(void)
{
	static const struct { const char *n; uint64_t rbx; int ncb; } one[] = {
		{ "add_mr4", DEV_GPA + 0x10, 2 },	/* read, write */
		{ "xchg8", DEV_GPA + 0x10, 2 },		/* read, write */
		{ "btc_i4", DEV_GPA + 0x10, 2 },	/* read, write */
		{ "ld_r4", DEV_GPA + PAGE - 2, 2 },	/* two pages */
		{ "st_r8", DEV_GPA + PAGE - 5, 2 },	/* two pages */
		{ "neg8", DEV_GPA + PAGE - 4, 4 },	/* both, two pages */
	};
	uint64_t v;
	size_t i;
	int k;

	for (i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		ah_begin("%s after-assist", one[i].n);
		ah_set(RBX, one[i].rbx);
		if (!assist_first())
			continue;
		CHECK(lg.n == one[i].ncb, "%s: %d callbacks in the assist, "
		    "expected %d", ah.name, lg.n, one[i].ncb);
		finish_case();
		CHECK(lg.n == one[i].ncb, "%s: %d callbacks in all, expected "
		    "%d", ah.name, lg.n, one[i].ncb);
	}

	/* MOVS MMIO->RAM: the RAM is written when the assist returns. */
	for (k = 0; k < 2; k++) {
		int n = k == 0 ? 1 : 3, j;

		ah_begin("%s after-assist", k == 0 ? "movs4" : "rep_movs4");
		ah_set(RSI, DEV_GPA + 0x100);
		ah_set(RDI, BUF_GPA + 0x100);
		ah_set(RCX, (uint64_t)n);
		if (!assist_first())
			continue;
		CHECK(lg.n >= 1 && lg.n <= n, "%s: %d callbacks", ah.name,
		    lg.n);
		for (j = 0; j < lg.n && j < n; j++) {
			memcpy(&v, t.ram + BUF_GPA + 0x100 + 4 * j, 4);
			v &= 0xffffffffULL;
			CHECK(v == ah_xrd(DEV_GPA + 0x100 + 4 * (uint64_t)j, 4),
			    "%s: element %d not in RAM after the assist: "
			    "%#llx", ah.name, j, (unsigned long long)v);
		}
		finish_case();
		CHECK_EQ(lg.n, n);
	}
}

/*
 * An interrupt injected right after the assist (QEMU's order: assist,
 * inject, run) arrives after the instruction: the handler sees RIP past
 * it and the loaded value in the register.  Once without looking at the
 * registers (KVM finishes the instruction in that run), once with.
 */
static void
t_inject_after_assist(void)
{
	static const char *const names[3] = { "ld_r4", "add_rm4", "xchg4" };
	uint64_t v, want;
	int peek, i;

	for (peek = 0; peek < 2; peek++)
	for (i = 0; i < 3; i++) {
		ah_begin("%s inject peek=%d", names[i], peek);
		ah_set(RBX, DEV_GPA + 0x10);
		ah_set(RFL, 0x202);
		v = ah_xrd(DEV_GPA + 0x10, 4);
		want = i == 0 || i == 2 ? v :
		    alu(OP_ADD, 4, ah.in[RCX], v, ah.in[RFL]).r;
		ah_idt_isr();
		if (!assist_first())
			continue;
		ah_inject_after(peek, RCX, want);
		CHECK_EQ(lg.n, i == 0 || i == 1 ? 1 : 2);
	}
}

/* -------------------------------------------------------------------------
 * Errors and clients that do without the assist.
 * ------------------------------------------------------------------------- */

static void
t_errors(void)
{
	struct nvmm_assist_callbacks nomem = { io_cb, NULL };
	uint64_t v;

	/* The last exit is the checkpoint's IO exit. */
	ah_begin("ld_r4");
	ah_set(RBX, DEV_GPA);
	v = xld(DEV_GPA, 4);
	ah_expect(RCX, v);
	run_case();
	CHECK_EQ(x->reason, NVMM_VCPU_EXIT_IO);
	CHECK_ERR(nvmm_assist_mem(&t.mach, &t.vcpu), EINVAL);

	/* No mem callback: EINVAL, nothing done; then with it, it works. */
	ah_begin("ld_r4 nomem");
	ah_set(RBX, DEV_GPA + 8);
	ah_load_gprs();
	CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu,
	    NVMM_VCPU_CONF_CALLBACKS, &nomem));
	CHECK_EQ(vmt_run(&t), NVMM_VCPU_EXIT_MEMORY);
	CHECK_ERR(nvmm_assist_mem(&t.mach, &t.vcpu), EINVAL);
	CHECK_EQ(lg.n, 0);
	CHECK_EQ(vmt_gpr(&t, RIP), ah.in[RIP]);
	CHECK_EQ(vmt_gpr(&t, RCX), ah.in[RCX]);
	CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu,
	    NVMM_VCPU_CONF_CALLBACKS, &cbs));
	CHECK_OK(nvmm_assist_mem(&t.mach, &t.vcpu));
	CHECK_EQ(lg.n, 1);
	CHECK_EQ(vmt_gpr(&t, RCX), ah_xrd(DEV_GPA + 8, 4));
	ah_checkpoint();

	/* A client that emulates the load itself and moves RIP on. */
	ah_begin("ld_r4 client");
	ah_set(RBX, DEV_GPA + 8);
	ah_load_gprs();
	CHECK_EQ(vmt_run(&t), NVMM_VCPU_EXIT_MEMORY);
	ah_getstate(NVMM_X64_STATE_GPRS);
	t.vcpu.state->gprs[RCX] = 0x777;
	t.vcpu.state->gprs[RIP] = ah_cp_rip();
	ah_setstate(NVMM_X64_STATE_GPRS);
	ah_checkpoint();
	CHECK_EQ(vmt_gpr(&t, RCX), 0x777);
	CHECK_EQ(lg.n, 0);
}

/* -------------------------------------------------------------------------
 * 32-bit protected mode (paging off).
 * ------------------------------------------------------------------------- */

static void
t_prot32(void)
{
	uint64_t gpa = DEV_GPA + 0x10, v;
	struct alu o;
	int i, df;

	begin32("p32_ld4");
	ah_set(RBX, gpa);
	v = xld(gpa, 4);
	ah_expect(RCX, v);
	run_case();

	begin32("p32_ld2");
	ah_set(RBX, gpa);
	v = xld(gpa, 2);
	ah_expect(RCX, ah_merge(ah.in[RCX], v, 2));
	run_case();

	begin32("p32_st1");
	ah_set(RBX, gpa);
	xst(gpa, 1, ah.in[RCX]);
	run_case();

	begin32("p32_st4");
	ah_set(RBX, gpa);
	xst(gpa + 4, 4, ah.in[RCX]);
	run_case();

	begin32("p32_add_mr4");
	ah_set(RBX, gpa);
	v = xld(gpa, 4);
	o = alu(OP_ADD, 4, v, ah.in[RCX], ah.in[RFL]);
	xst(gpa, 4, o.r);
	expect_flags(&o);
	run_case();

	begin32("p32_or_rm2");
	ah_set(RBX, gpa);
	v = xld(gpa, 2);
	o = alu(OP_OR, 2, ah.in[RCX], v, ah.in[RFL]);
	ah_expect(RCX, ah_merge(ah.in[RCX], o.r, 2));
	expect_flags(&o);
	run_case();

	begin32("p32_sub_i83l");
	ah_set(RBX, gpa);
	v = xld(gpa, 4);
	o = alu(OP_SUB, 4, v, 0xfffffffdULL, ah.in[RFL]);
	xst(gpa, 4, o.r);
	expect_flags(&o);
	run_case();

	begin32("p32_zx_bl");
	ah_set(RBX, gpa);
	ah_put(gpa, 1, 0x9a);
	xcb(gpa, 1, false, 0x9a);
	ah_expect(RCX, 0x9a);
	run_case();

	begin32("p32_xchg4");
	ah_set(RBX, gpa);
	v = xld(gpa, 4);
	xst(gpa, 4, ah.in[RCX]);
	ah_expect(RCX, v);
	run_case();

	begin32("p32_mo_ld4");
	v = xld(DEV_GPA + 0x10, 4);
	ah_expect(RAX, v);
	run_case();

	for (df = 0; df < 2; df++) {
		begin32("p32_rep_stos4");
		string_regs(5, df);
		ah_set(RDI, DEV_GPA + 0x100);
		for (i = 0; i < 5; i++) {
			uint64_t a = DEV_GPA + 0x100 +
			    (uint64_t)(df ? -4 * i : 4 * i);

			xst(a, 4, ah.in[RAX]);
		}
		ah_expect(RDI, DEV_GPA + 0x100 + (uint64_t)(df ? -20 : 20));
		run_case();
	}

	begin32("p32_rep_movs1");
	string_regs(7, 0);
	ah_set(RSI, DEV_GPA + 0x300);
	ah_set(RDI, BUF_GPA + 0x300);
	for (i = 0; i < 7; i++) {
		v = xld(DEV_GPA + 0x300 + (uint64_t)i, 1);
		ah_xwr(BUF_GPA + 0x300 + (uint64_t)i, 1, v);
	}
	ah_expect(RSI, DEV_GPA + 0x307);
	ah_expect(RDI, BUF_GPA + 0x307);
	run_case();

	begin32("p32_rep_lods2");
	string_regs(3, 0);
	ah_set(RSI, DEV_GPA + 0x310);
	for (i = 0; i < 3; i++) {
		v = xld(DEV_GPA + 0x310 + (uint64_t)i * 2, 2);
	}
	ah_expect(RAX, ah_merge(ah.in[RAX], v, 2));
	ah_expect(RSI, DEV_GPA + 0x316);
	run_case();

	/* 16-bit addressing with a DS base: DS.base + (BX + SI + 0x10)
	   ignoring the upper halves of EBX and ESI. */
	ah_set_seg(NVMM_X64_SEG_DS, 0x10, DEV_GPA);
	begin32("p32_a16_ld4");
	ah_set(RBX, 0xabcd0100);
	ah_set(RSI, 0x12340008);
	v = xld(DEV_GPA + 0x118, 4);
	ah_expect(RCX, v);
	run_case();
	ah_set_seg(NVMM_X64_SEG_DS, 0x10, 0);

	/* ES base, DI and CX as 16-bit registers: the upper halves of EDI
	   and ECX are kept. */
	ah_set_seg(NVMM_X64_SEG_ES, 0x10, DEV_GPA);
	begin32("p32_a16_rep_stos2");
	ah.multi = true;
	ah_set(RDI, 0x55550200);
	ah_set(RCX, 0x77770003);
	for (i = 0; i < 3; i++) {
		xst(DEV_GPA + 0x200 + (uint64_t)i * 2, 2, ah.in[RAX]);
	}
	ah_expect(RDI, 0x55550206);
	ah_expect(RCX, 0x77770000);
	run_case();
	ah_set_seg(NVMM_X64_SEG_ES, 0x10, 0);
}

/* -------------------------------------------------------------------------
 * Main.
 * ------------------------------------------------------------------------- */

int
main(void)
{
	vmt_init_or_skip();
	lo_page = page_alloc();
	hi_page = page_alloc();
	ro_page = page_alloc();

	machine_up(true);
	t_mov();
	t_movx();
	t_alu();
	t_test();
	t_xchg();
	t_unary();
	t_bt();
	t_lock();
	t_movs();
	t_stos_lods();
	t_cmps();
	t_a32();
	t_straddle();
	t_readonly();
	t_after_assist();
	t_inject_after_assist();
	t_errors();
	vmt_destroy(&t);

	machine_up(false);
	t_prot32();
	vmt_destroy(&t);

	if (note_rip_write > 0)
		printf("note: %d of %d MEMORY exits for a non-REP write showed "
		    "RIP already past the instruction before the assist (KVM "
		    "retires MMIO writes before exiting; NVMM leaves RIP on "
		    "the instruction)\n", note_rip_write, note_rip_write_seen);
	if (note_cb_rip > 0)
		printf("note: in %d callbacks of non-REP instructions getstate "
		    "showed RIP past the instruction (the write half of a "
		    "read-modify-write, or a store); NVMM shows the state "
		    "before the instruction in every callback\n", note_cb_rip);
	if (note_split > 0)
		printf("note: in %d cases an access NVMM makes in one callback "
		    "came in several (KVM splits at page boundaries)\n",
		    note_split);
	if (note_a32 > 0)
		printf("note: 67-prefixed string instructions in 64-bit mode "
		    "zero-extended RSI/RDI/RCX (KVM, as x86 32-bit register "
		    "writes); NVMM keeps the upper halves\n");
	return vmt_done("t_assist_mem");
}
