/* t_assist_mem.c - nvmm_assist_mem on real guests: every instruction class and size, flags, strings, page splits, read-only RAM, errors. */

/*
 * Each case points RIP at a guest snippet "<instruction>; out %al, $0xF0"
 * (t_assist_mem_guest.S), loads the registers, runs until the checkpoint
 * OUT, completing every MEMORY exit with nvmm_assist_mem, and compares
 * with the x86 result computed here independently:
 *  - the mem callback log (every access: gpa, size, direction, data),
 *  - the MEMORY exits (how many, first GPA and prot, RIP at the exit and
 *    right after the assist),
 *  - all GPRs, RIP and RFLAGS (undefined flags masked out),
 *  - guest RAM around every buffer and the fake device's registers.
 * The fake device is 8 KiB of byte registers at VMT_MMIO; RAM pages sit
 * right below and right above it so that accesses can straddle the
 * boundary, and a read-only page sits at RO_GPA.
 *
 * KVM, not the library, executes the instruction (nvmm-api.md 12.4), so
 * an access NVMM makes in one callback may arrive split at a page
 * boundary; the log comparison accepts any ascending split of an
 * expected access and the run prints how often that happened.  SSE
 * moves (movdqu, movq xmm) are not tested: SSE at CPL0 stops the VCPU
 * on the emulating KVM of our machines (kvm-host.md Q16b).
 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "vmtest.h"

/* -------------------------------------------------------------------------
 * Guest snippets.
 * ------------------------------------------------------------------------- */

struct snip {
	const char *name;
	const char *start;	/* the instruction under test */
	const char *end;	/* after the checkpoint OUT */
};

extern const struct snip am_sniptab[], am_sniptab_end[];
extern const char am_start[], am_end[], am_isr[];

#define CHECKPOINT	0xF0
#define GVA(p)		((uint64_t)((p) - am_start) + VMT_CODE)

static const struct snip *
snip(const char *name)
{
	const struct snip *s;

	for (s = am_sniptab; s < am_sniptab_end; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	fprintf(stderr, "t_assist_mem: no snippet %s\n", name);
	exit(1);
}

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

struct region {
	const char *name;
	uint64_t gpa;
	size_t size;
	uint8_t *mem;		/* what the guest sees */
	uint8_t *exp;		/* what it should see after the case */
};

static uint8_t dev[DEV_SIZE], dev_x[DEV_SIZE];
static uint8_t lo_x[PAGE], hi_x[PAGE], ro_x[PAGE], buf_x[BUF_SIZE];
static uint8_t *lo_page, *hi_page, *ro_page;
static struct region regions[5];
#define NREGIONS	5

static struct vmt t;
static struct nvmm_x86_exit *x;

static uint8_t
pattern(uint64_t gpa)
{
	return (uint8_t)(((gpa ^ (gpa >> 7) ^ (gpa >> 12)) * 0x6b) + 0x1d);
}

static struct region *
region_of(uint64_t gpa)
{
	int i;

	for (i = 0; i < NREGIONS; i++)
		if (gpa >= regions[i].gpa &&
		    gpa - regions[i].gpa < regions[i].size)
			return &regions[i];
	return NULL;
}

static uint8_t *
xbyte(uint64_t gpa, bool actual)
{
	struct region *r = region_of(gpa);

	if (r == NULL) {
		fprintf(stderr, "t_assist_mem: gpa %#llx outside the test "
		    "regions\n", (unsigned long long)gpa);
		exit(1);
	}
	return (actual ? r->mem : r->exp) + (gpa - r->gpa);
}

static uint64_t
msk(int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* Expected contents (before or after the guest's effect). */
static uint64_t
xrd(uint64_t gpa, int size)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)*xbyte(gpa + i, false) << (8 * i);
	return v;
}

/* The guest's expected effect on memory. */
static void
xwr(uint64_t gpa, int size, uint64_t v)
{
	int i;

	for (i = 0; i < size; i++)
		*xbyte(gpa + i, false) = (uint8_t)(v >> (8 * i));
}

/* Sets memory before the case, for the guest and the expectation. */
static void
put(uint64_t gpa, int size, uint64_t v)
{
	int i;

	for (i = 0; i < size; i++) {
		*xbyte(gpa + i, false) = (uint8_t)(v >> (8 * i));
		*xbyte(gpa + i, true) = (uint8_t)(v >> (8 * i));
	}
}

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
	int badsize;
	int badctx;
	int badstate;		/* getstate failed inside the callback */
	int rip_moved;		/* RIP not on the instruction there */
	uint64_t start;		/* the instruction's RIP */
	bool peek;		/* look at the state during the case */
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
	if (m->mach != &t.mach || m->vcpu != &t.vcpu)
		lg.badctx++;
	/* A callback may look at the VCPU (QEMU does). */
	if (!lg.peek)
		;
	else if (nvmm_vcpu_getstate(m->mach, m->vcpu,
	    NVMM_X64_STATE_GPRS) == -1)
		lg.badstate++;
	else if (m->vcpu->state->gprs[NVMM_X64_GPR_RIP] != lg.start)
		lg.rip_moved++;
	if (m->size < 1 || m->size > 8 || m->data == NULL) {
		lg.badsize++;
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
#define F_DF	0x400ULL
#define F_OF	0x800ULL
#define F_ARITH	(F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

#define RAX	NVMM_X64_GPR_RAX
#define RCX	NVMM_X64_GPR_RCX
#define RDX	NVMM_X64_GPR_RDX
#define RBX	NVMM_X64_GPR_RBX
#define RSI	NVMM_X64_GPR_RSI
#define RDI	NVMM_X64_GPR_RDI
#define RIP	NVMM_X64_GPR_RIP
#define RFL	NVMM_X64_GPR_RFLAGS

static const char *const gpr_names[NVMM_X64_NGPR] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9",
	"r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"
};

static struct {
	char name[112];
	const struct snip *s;
	uint64_t in[NVMM_X64_NGPR];
	uint64_t exp[NVMM_X64_NGPR];
	uint64_t gmask[NVMM_X64_NGPR];	/* bits of each GPR compared */
	struct cb xcb[MAXCB];
	int nxcb;
	bool multi;		/* REP string: several exits allowed */
	bool mode32;		/* 32-bit protected mode */
} c;

/* Deviations from NVMM that KVM imposes, counted for the final notes. */
static int note_rip_write, note_rip_write_seen, note_split, note_a32;
static int note_cb_rip;

static void
begin(const char *fmt, ...)
{
	char sname[64];
	va_list ap;
	size_t n;
	int i;

	memset(&c, 0, sizeof(c));
	va_start(ap, fmt);
	vsnprintf(c.name, sizeof(c.name), fmt, ap);
	va_end(ap);
	n = strcspn(c.name, " ");
	if (n >= sizeof(sname))
		n = sizeof(sname) - 1;
	memcpy(sname, c.name, n);
	sname[n] = '\0';
	c.s = snip(sname);

	for (i = 0; i < NVMM_X64_NGPR; i++) {
		c.in[i] = 0x0f1e2d3c4b5a6978ULL * (uint64_t)(i + 3) ^
		    0x8040201008040201ULL;
		c.gmask[i] = ~0ULL;
	}
	c.in[NVMM_X64_GPR_RSP] = VMT_STACK;
	c.in[RIP] = GVA(c.s->start);
	c.in[RFL] = 0x2;
	memcpy(c.exp, c.in, sizeof(c.in));
	c.exp[RIP] = GVA(c.s->end);

	for (i = 0; i < NREGIONS; i++) {
		struct region *r = &regions[i];
		size_t k;

		for (k = 0; k < r->size; k++)
			r->mem[k] = pattern(r->gpa + k);
		memcpy(r->exp, r->mem, r->size);
	}
	memset(&lg, 0, sizeof(lg));
}

/* 32-bit mode cases start with 32-bit register values. */
static void
begin32(const char *fmt, const char *arg)
{
	int i;

	begin(fmt, arg);
	c.mode32 = true;
	for (i = 0; i < RIP; i++) {
		c.in[i] &= 0xffffffffULL;
		c.exp[i] = c.in[i];
	}
}

static void
set(int gpr, uint64_t v)
{
	c.in[gpr] = c.exp[gpr] = v;
}

static void
expect(int gpr, uint64_t v)
{
	c.exp[gpr] = v;
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
	c.xcb[c.nxcb].data = data & msk(size);
	c.nxcb++;
}

/* A register after a load of size bytes, by x86-64 rules. */
static uint64_t
merge(uint64_t old, uint64_t v, int size)
{
	switch (size) {
	case 1:
		return (old & ~0xffULL) | (v & 0xff);
	case 2:
		return (old & ~0xffffULL) | (v & 0xffff);
	case 4:
		return v & 0xffffffffULL;
	default:
		return v;
	}
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
			part = (e->data >> (8 * done)) & msk((int)l->size);
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

static void
load_state(void)
{
	struct nvmm_x64_state *st = t.vcpu.state;

	if (nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS) == -1) {
		perror("getstate");
		exit(1);
	}
	memcpy(st->gprs, c.in, sizeof(c.in));
	if (nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS) == -1) {
		perror("setstate");
		exit(1);
	}
}

static void recover(void);

/*
 * Runs the case to its checkpoint and compares everything.  Every other
 * case looks at the registers at each exit, in the callbacks and right
 * after each assist (that makes the library have KVM finish the
 * instruction at once); the others touch nothing until the checkpoint,
 * so that KVM finishes it at the next run.
 */
static int case_no;

static void
run_case(void)
{
	uint64_t start = GVA(c.s->start), cp = GVA(c.s->end) - 2;
	uint64_t first_gpa = 0, rip_exit = 0, rip_after = 0, r;
	int nexits = 0, guard, first_prot = 0, i;
	bool reached = false, split;
	char why[200];

	load_state();
	lg.start = start;
	lg.peek = (case_no++ & 1) == 0;
	for (guard = 0; guard < 4096; guard++) {
		r = vmt_run(&t);
		if (r == NVMM_VCPU_EXIT_MEMORY && !lg.peek) {
			if (nexits == 0) {
				first_gpa = x->u.mem.gpa;
				first_prot = x->u.mem.prot;
			}
			nexits++;
			if (nvmm_assist_mem(&t.mach, &t.vcpu) == -1) {
				CHECK(0, "%s: nvmm_assist_mem: %s", c.name,
				    strerror(errno));
				recover();
				return;
			}
			continue;
		}
		if (r == NVMM_VCPU_EXIT_MEMORY) {
			uint64_t rip = vmt_gpr(&t, RIP);

			if (nexits == 0) {
				first_gpa = x->u.mem.gpa;
				first_prot = x->u.mem.prot;
				rip_exit = rip;
			}
			/* Reads: RIP on the instruction, as NVMM.  Writes:
			   KVM retires them first (counted in the notes). */
			if (x->u.mem.prot == PROT_READ)
				CHECK(rip == start, "%s: RIP at the read exit "
				    "%#llx, expected %#llx", c.name,
				    (unsigned long long)rip,
				    (unsigned long long)start);
			nexits++;
			if (nvmm_assist_mem(&t.mach, &t.vcpu) == -1) {
				CHECK(0, "%s: nvmm_assist_mem: %s", c.name,
				    strerror(errno));
				recover();
				return;
			}
			rip = vmt_gpr(&t, RIP);
			if (nexits == 1)
				rip_after = rip;
			if (c.multi)
				CHECK(rip == start || rip == cp, "%s: RIP after "
				    "the assist %#llx, neither the instruction "
				    "nor the checkpoint", c.name,
				    (unsigned long long)rip);
			continue;
		}
		if (r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT &&
		    !x->u.io.in) {
			CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0,
			    "%s: assist_io at the checkpoint: %s", c.name,
			    strerror(errno));
			reached = true;
			break;
		}
		CHECK(0, "%s: unexpected exit %#llx (io port %#x, hwcode "
		    "%#llx) at rip %#llx", c.name, (unsigned long long)r,
		    r == NVMM_VCPU_EXIT_IO ? x->u.io.port : 0,
		    r == NVMM_VCPU_EXIT_INVALID ?
		    (unsigned long long)x->u.inv.hwcode : 0ULL,
		    (unsigned long long)vmt_gpr(&t, RIP));
		recover();
		return;
	}
	if (!reached) {
		CHECK(0, "%s: checkpoint not reached", c.name);
		recover();
		return;
	}

	/* The callbacks. */
	CHECK(lg.badsize == 0 && lg.badctx == 0, "%s: %d callbacks with a bad "
	    "size or data, %d with a bad mach/vcpu", c.name, lg.badsize,
	    lg.badctx);
	CHECK(lg.stray == 0, "%s: %d bytes accessed outside the device",
	    c.name, lg.stray);
	CHECK(lg.badstate == 0, "%s: getstate failed in %d callbacks", c.name,
	    lg.badstate);
	if (!c.multi)
		note_cb_rip += lg.rip_moved;
	CHECK(log_matches(why, sizeof(why), &split), "%s: %s", c.name, why);
	if (split)
		note_split++;

	/* The exits. */
	if (c.nxcb == 0) {
		CHECK(nexits == 0, "%s: %d MEMORY exits, expected none",
		    c.name, nexits);
	} else {
		if (c.multi)
			CHECK(nexits >= 1 && nexits <= lg.n, "%s: %d MEMORY "
			    "exits for %d accesses", c.name, nexits, lg.n);
		else
			CHECK(nexits == 1, "%s: %d MEMORY exits, expected 1",
			    c.name, nexits);
		CHECK(first_gpa == c.xcb[0].gpa, "%s: exit gpa %#llx, "
		    "expected %#llx", c.name, (unsigned long long)first_gpa,
		    (unsigned long long)c.xcb[0].gpa);
		CHECK(first_prot == (c.xcb[0].write ? PROT_WRITE : PROT_READ),
		    "%s: exit prot %d", c.name, first_prot);
		if (c.xcb[0].write && !c.multi && lg.peek) {
			note_rip_write_seen++;
			if (rip_exit != start)
				note_rip_write++;
		}
		if (!c.multi && lg.peek)
			CHECK(rip_after == cp, "%s: RIP right after the assist "
			    "%#llx, expected %#llx", c.name,
			    (unsigned long long)rip_after,
			    (unsigned long long)cp);
	}

	/* The registers. */
	if (nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS) == -1) {
		perror("getstate");
		exit(1);
	}
	for (i = 0; i < NVMM_X64_NGPR; i++) {
		uint64_t got = t.vcpu.state->gprs[i];

		CHECK(((got ^ c.exp[i]) & c.gmask[i]) == 0, "%s: %s = %#llx, "
		    "expected %#llx (compared bits %#llx)", c.name,
		    gpr_names[i], (unsigned long long)got,
		    (unsigned long long)c.exp[i],
		    (unsigned long long)c.gmask[i]);
	}

	/* Memory. */
	for (i = 0; i < NREGIONS; i++) {
		struct region *rg = &regions[i];
		size_t k;

		for (k = 0; k < rg->size; k++)
			if (rg->mem[k] != rg->exp[k])
				break;
		CHECK(k == rg->size, "%s: %s memory at gpa %#llx is %#x, "
		    "expected %#x", c.name, rg->name,
		    (unsigned long long)(rg->gpa + k),
		    k < rg->size ? rg->mem[k] : 0,
		    k < rg->size ? rg->exp[k] : 0);
	}
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

static void
machine_up(bool lm)
{
	vmt_create(&t, VMT_RAM, 0);
	x = t.vcpu.exit;
	if (nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    &cbs) == -1) {
		perror("configure callbacks");
		exit(1);
	}
	map_page(lo_page, LO_GPA, PROT_READ | PROT_WRITE);
	map_page(hi_page, HI_GPA, PROT_READ | PROT_WRITE);
	map_page(ro_page, RO_GPA, PROT_READ);
	vmt_load(&t, VMT_CODE, am_start, am_end);
	long_mode = lm;
	if (lm)
		vmt_setup_long(&t, VMT_CODE);
	else
		vmt_setup_prot32(&t, VMT_CODE);

	regions[0] = (struct region){ "device", DEV_GPA, DEV_SIZE, dev, dev_x };
	regions[1] = (struct region){ "low RAM page", LO_GPA, PAGE, lo_page,
	    lo_x };
	regions[2] = (struct region){ "high RAM page", HI_GPA, PAGE, hi_page,
	    hi_x };
	regions[3] = (struct region){ "read-only page", RO_GPA, PAGE, ro_page,
	    ro_x };
	regions[4] = (struct region){ "buffer", BUF_GPA, BUF_SIZE,
	    t.ram + BUF_GPA, buf_x };
}

/* After a failed case: a clean VCPU state for the next one. */
static void
recover(void)
{
	if (long_mode)
		vmt_setup_long(&t, VMT_CODE);
	else
		vmt_setup_prot32(&t, VMT_CODE);
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
	uint64_t m = msk(size), sb = 1ULL << (bits - 1), cin = 0;
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
	c.exp[RFL] = (c.in[RFL] & ~F_ARITH) | o->f;
	c.gmask[RFL] = ~o->undef;
}

static uint64_t
sext(uint64_t v, int from, int to)
{
	int s = 64 - from * 8;

	return (uint64_t)(((int64_t)(v << s)) >> s) & msk(to);
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

			begin("st_r%d off=%#x", size, offs[o]);
			set(RBX, gpa);
			set(RCX, val);
			xcb(gpa, size, true, val);
			xwr(gpa, size, val);
			run_case();

			begin("ld_r%d off=%#x", size, offs[o]);
			set(RBX, gpa);
			v = xrd(gpa, size);
			xcb(gpa, size, false, v);
			expect(RCX, merge(c.in[RCX], v, size));
			run_case();
		}
	}

	gpa = DEV_GPA + 0x30;
	begin("st_ah");
	set(RBX, gpa);
	xcb(gpa, 1, true, c.in[RAX] >> 8);
	xwr(gpa, 1, c.in[RAX] >> 8);
	run_case();

	begin("st_sil");
	set(RBX, gpa);
	xcb(gpa, 1, true, c.in[RSI]);
	xwr(gpa, 1, c.in[RSI]);
	run_case();

	begin("st_r9b");
	set(RBX, gpa);
	xcb(gpa, 1, true, c.in[NVMM_X64_GPR_R9]);
	xwr(gpa, 1, c.in[NVMM_X64_GPR_R9]);
	run_case();

	begin("st_r10");
	set(RBX, gpa);
	xcb(gpa, 8, true, c.in[NVMM_X64_GPR_R10]);
	xwr(gpa, 8, c.in[NVMM_X64_GPR_R10]);
	run_case();

	begin("st_r12d");
	set(RBX, gpa);
	xcb(gpa + 0x18, 4, true, c.in[NVMM_X64_GPR_R12]);
	xwr(gpa + 0x18, 4, c.in[NVMM_X64_GPR_R12]);
	run_case();

	begin("ld_ah");
	set(RBX, gpa);
	v = xrd(gpa, 1);
	xcb(gpa, 1, false, v);
	expect(RAX, (c.in[RAX] & ~0xff00ULL) | (v << 8));
	run_case();

	begin("ld_dil");
	set(RBX, gpa);
	v = xrd(gpa, 1);
	xcb(gpa, 1, false, v);
	expect(RDI, merge(c.in[RDI], v, 1));
	run_case();

	begin("ld_r11");
	set(RBX, gpa);
	v = xrd(gpa, 8);
	xcb(gpa, 8, false, v);
	expect(NVMM_X64_GPR_R11, v);
	run_case();

	begin("ld_r13w");
	set(RBX, gpa);
	v = xrd(gpa, 2);
	xcb(gpa, 2, false, v);
	expect(NVMM_X64_GPR_R13, merge(c.in[NVMM_X64_GPR_R13], v, 2));
	run_case();

	/* 0x10(%rbx,%rsi,4) with RSI = 2. */
	begin("ld_sib");
	set(RBX, DEV_GPA + 0x20);
	set(RSI, 2);
	v = xrd(DEV_GPA + 0x38, 4);
	xcb(DEV_GPA + 0x38, 4, false, v);
	expect(RCX, v);
	run_case();

	begin("ld_riprel");
	v = xrd(DEV_GPA + 0x20, 4);
	xcb(DEV_GPA + 0x20, 4, false, v);
	expect(RDX, v);
	run_case();

	/* MOV AL/AX/EAX/RAX <-> moffs64 at DEV_GPA + 0x10. */
	for (k = 0; k < 4; k++) {
		size = sizes[k];
		begin("mo_ld%d", size);
		v = xrd(DEV_GPA + 0x10, size);
		xcb(DEV_GPA + 0x10, size, false, v);
		expect(RAX, merge(c.in[RAX], v, size));
		run_case();

		begin("mo_st%d", size);
		xcb(DEV_GPA + 0x10, size, true, c.in[RAX]);
		xwr(DEV_GPA + 0x10, size, c.in[RAX]);
		run_case();
	}
	begin("mo_ld4_a32");
	v = xrd(DEV_GPA + 0x10, 4);
	xcb(DEV_GPA + 0x10, 4, false, v);
	expect(RAX, v);
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
			begin("%s", imms[i].n);
			set(RBX, DEV_GPA + 0x40);
			xcb(DEV_GPA + 0x40, imms[i].size, true, imms[i].imm);
			xwr(DEV_GPA + 0x40, imms[i].size, imms[i].imm);
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
			begin("%s v=%#llx", ops[i].n, (unsigned long long)v);
			set(RBX, gpa);
			put(gpa, ops[i].from, v);
			xcb(gpa, ops[i].from, false, v);
			ext = ops[i].sx ? sext(v, ops[i].from, ops[i].to) : v;
			expect(RCX, merge(c.in[RCX], ext, ops[i].to));
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
		uint64_t m = msk(size), memv, regv, gpa;
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
		begin("%s_%s flags=%#llx v%d", ops[i].n, forms[j].sfx,
		    (unsigned long long)flag_ins[fi], v);
		set(RFL, flag_ins[fi]);
		set(RBX, gpa);
		set(RCX, (junk & ~m) | (regv & m));
		put(gpa, size, memv);
		xcb(gpa, size, false, memv);
		if (kind == RM) {
			o = alu(ops[i].op, size, regv, memv, flag_ins[fi]);
			if (o.wr)
				expect(RCX, merge(c.in[RCX], o.r, size));
		} else {
			o = alu(ops[i].op, size, memv, regv, flag_ins[fi]);
			if (o.wr) {
				xcb(gpa, size, true, o.r);
				xwr(gpa, size, o.r);
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
		uint64_t m = msk(size), gpa = DEV_GPA + 0x70, memv, src;
		struct alu o;

		src = forms[j].imm ? forms[j].src : 0xc3a5968778695a4bULL & m;
		memv = v == 0 ? 0x5a3c0ff0e1d2c3b4ULL & m :
		    v == 1 ? src : v == 2 ? ~src & m : (m >> 1) + 1;
		begin("%s flags=%#llx v%d", forms[j].n,
		    (unsigned long long)flag_ins[fi], v);
		set(RFL, flag_ins[fi]);
		set(RBX, gpa);
		if (!forms[j].imm)
			set(RCX, (c.in[RCX] & ~m) | src);
		put(gpa, size, memv);
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

		begin("xchg%d v%d", size, v);
		set(RBX, gpa);
		old = xrd(gpa, size);
		xcb(gpa, size, false, old);
		xcb(gpa, size, true, c.in[RCX]);
		xwr(gpa, size, c.in[RCX]);
		expect(RCX, merge(c.in[RCX], old, size));
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
		uint64_t m = msk(size), gpa = DEV_GPA + 0x90, memv;
		struct alu o;

		memv = v == 0 ? 0x9c3a5f7e81d4b26cULL & m : v == 1 ? m >> 1 :
		    v == 2 ? (m >> 1) + 1 : v == 3 ? 0 : m;
		begin("%s%d flags=%#llx v%d", ops[i].n, size,
		    (unsigned long long)flag_ins[fi], v);
		set(RFL, flag_ins[fi]);
		set(RBX, gpa);
		put(gpa, size, memv);
		o = alu(ops[i].op, size, memv, 0, flag_ins[fi]);
		xcb(gpa, size, false, memv);
		xcb(gpa, size, true, o.r);
		xwr(gpa, size, o.r);
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
		begin("%s_%c%d off=%lld flags=%#llx", names[op],
		    form == 0 ? 'r' : 'i', size, (long long)off,
		    (unsigned long long)flag_ins[fi]);
		set(RFL, flag_ins[fi]);
		set(RBX, base);
		if (form == 0)
			set(RCX, (c.in[RCX] & ~msk(size)) |
			    ((uint64_t)off & msk(size)));
		memv = xrd(gpa, size);
		xcb(gpa, size, false, memv);
		nv = memv;
		if (op == 1)
			nv |= 1ULL << bit;
		else if (op == 2)
			nv &= ~(1ULL << bit);
		else if (op == 3)
			nv ^= 1ULL << bit;
		if (op != 0) {
			xcb(gpa, size, true, nv);
			xwr(gpa, size, nv);
		}
		/* CF = the bit; OF SF ZF AF PF are undefined (AMD, Intel
		   differ on ZF). */
		c.exp[RFL] = (c.in[RFL] & ~F_CF) | ((memv >> bit) & 1);
		c.gmask[RFL] = ~(F_OF | F_SF | F_ZF | F_AF | F_PF);
		run_case();
	}
}

static void
t_lock(void)
{
	uint64_t gpa = DEV_GPA + 0xa0, memv;
	struct alu o;

	begin("lock_or4");
	set(RBX, gpa);
	memv = xrd(gpa, 4);
	o = alu(OP_OR, 4, memv, c.in[RCX], c.in[RFL]);
	xcb(gpa, 4, false, memv);
	xcb(gpa, 4, true, o.r);
	xwr(gpa, 4, o.r);
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
		set(RCX, (uint64_t)rep);
	set(RFL, 0x2 | (df ? F_DF : 0));
	c.multi = rep >= 0;
	if (rep >= 0)
		expect(RCX, 0);
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

		begin("%smovs%d %s df=%d rep=%d", rep < 0 ? "" : "rep_", size,
		    dirs[d], df, rep);
		string_regs(rep, df);
		set(RSI, srcs[d]);
		set(RDI, dsts[d]);
		for (i = 0; i < n; i++) {
			uint64_t sa = srcs[d] + (uint64_t)(i * step);
			uint64_t da = dsts[d] + (uint64_t)(i * step);
			uint64_t v = xrd(sa, size);

			if (is_dev(sa))
				xcb(sa, size, false, v);
			xwr(da, size, v);
			if (is_dev(da))
				xcb(da, size, true, v);
		}
		expect(RSI, srcs[d] + (uint64_t)(n * step));
		expect(RDI, dsts[d] + (uint64_t)(n * step));
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

		begin("%s%s%d df=%d rep=%d", rep < 0 ? "" : "rep_",
		    lods ? "lods" : "stos", size, df, rep);
		string_regs(rep, df);
		set(lods ? RSI : RDI, base);
		rax = c.in[RAX];
		for (i = 0; i < n; i++) {
			uint64_t a = base + (uint64_t)(i * step);

			if (lods) {
				uint64_t v = xrd(a, size);

				xcb(a, size, false, v);
				rax = merge(rax, v, size);
			} else {
				xcb(a, size, true, rax);
				xwr(a, size, rax);
			}
		}
		expect(RAX, rax);
		expect(lods ? RSI : RDI, base + (uint64_t)(n * step));
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
		uint64_t m = msk(size), rfl;
		const char *sn;
		bool stop = false;

		count = var == NOREP ? 1 : var == REPE_ZERO ? 0 :
		    (var == REPE_MISS || var == REPNE_HIT) ? 17 : 3;
		sn = var == NOREP ? "" : (var == REPNE_HIT ||
		    var == REPNE_NONE) ? "repne_" : "repe_";
		begin("%scmps%d %s df=%d %s", sn, size, lnames[loc], df,
		    vnames[var]);
		if (var == NOREP) {
			set(RFL, 0x2 | (df ? F_DF : 0));
		} else {
			string_regs(count, df);
		}
		set(RSI, srcs[loc]);
		set(RDI, dsts[loc]);
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
			put(sa, size, v);
			put(da, size, equal ? v : (v + 1) & m);
		}
		rfl = c.in[RFL];
		for (n = 0; n < count && !stop; n++) {
			uint64_t sa = srcs[loc] + (uint64_t)(n * step);
			uint64_t da = dsts[loc] + (uint64_t)(n * step);
			uint64_t sv = xrd(sa, size), dv = xrd(da, size);
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
		expect(RFL, rfl);
		expect(RSI, srcs[loc] + (uint64_t)(n * step));
		expect(RDI, dsts[loc] + (uint64_t)(n * step));
		if (var != NOREP)
			expect(RCX, (uint64_t)(count - n));
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

	begin("a32_rep_stos1");
	c.multi = true;
	set(RDI, 0xdead000000000000ULL | (DEV_GPA + 0x100));
	set(RCX, 0xffff000000000003ULL);
	for (i = 0; i < 3; i++) {
		xcb(DEV_GPA + 0x100 + (uint64_t)i, 1, true, c.in[RAX]);
		xwr(DEV_GPA + 0x100 + (uint64_t)i, 1, c.in[RAX]);
	}
	expect(RDI, DEV_GPA + 0x103);
	expect(RCX, 0);
	c.gmask[RDI] = c.gmask[RCX] = 0xffffffffULL;
	run_case();
	got_rdi = t.vcpu.state->gprs[RDI];
	got_rcx = t.vcpu.state->gprs[RCX];
	if ((got_rdi >> 32) != 0xdead0000ULL || (got_rcx >> 32) != 0xffff0000)
		note_a32++;

	begin("a32_rep_movs4");
	c.multi = true;
	set(RSI, 0xffffffff00000000ULL | (DEV_GPA + 0x400));
	set(RDI, 0x1234567800000000ULL | (BUF_GPA + 0x400));
	set(RCX, 0xabcdef0100000005ULL);
	for (i = 0; i < 5; i++) {
		uint64_t v = xrd(DEV_GPA + 0x400 + (uint64_t)i * 4, 4);

		xcb(DEV_GPA + 0x400 + (uint64_t)i * 4, 4, false, v);
		xwr(BUF_GPA + 0x400 + (uint64_t)i * 4, 4, v);
	}
	expect(RSI, DEV_GPA + 0x414);
	expect(RDI, BUF_GPA + 0x414);
	expect(RCX, 0);
	c.gmask[RSI] = c.gmask[RDI] = c.gmask[RCX] = 0xffffffffULL;
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
	begin("ld_r4 ram|mmio");
	set(RBX, DEV_GPA - 2);
	v = xrd(DEV_GPA - 2, 4);
	xcb(DEV_GPA, 2, false, v >> 16);
	expect(RCX, v);
	run_case();

	begin("ld_r8 ram|mmio");
	set(RBX, DEV_GPA - 3);
	v = xrd(DEV_GPA - 3, 8);
	xcb(DEV_GPA, 5, false, v >> 24);
	expect(RCX, v);
	run_case();

	begin("st_r8 ram|mmio");
	set(RBX, DEV_GPA - 3);
	xwr(DEV_GPA - 3, 8, c.in[RCX]);
	xcb(DEV_GPA, 5, true, c.in[RCX] >> 24);
	run_case();

	begin("add_mr4 ram|mmio");
	set(RBX, DEV_GPA - 2);
	lo = xrd(DEV_GPA - 2, 4);
	o = alu(OP_ADD, 4, lo, c.in[RCX], c.in[RFL]);
	xcb(DEV_GPA, 2, false, lo >> 16);
	xcb(DEV_GPA, 2, true, o.r >> 16);
	xwr(DEV_GPA - 2, 4, o.r);
	expect_flags(&o);
	run_case();

	/* Inside MMIO across a page: NVMM gives one callback, KVM may
	   give one per page. */
	begin("ld_r4 mmio|mmio");
	set(RBX, DEV_GPA + PAGE - 2);
	v = xrd(DEV_GPA + PAGE - 2, 4);
	xcb(DEV_GPA + PAGE - 2, 4, false, v);
	expect(RCX, v);
	run_case();

	begin("st_r8 mmio|mmio");
	set(RBX, DEV_GPA + PAGE - 5);
	xcb(DEV_GPA + PAGE - 5, 8, true, c.in[RCX]);
	xwr(DEV_GPA + PAGE - 5, 8, c.in[RCX]);
	run_case();

	/* MMIO then RAM. */
	begin("ld_r4 mmio|ram");
	set(RBX, HI_GPA - 2);
	v = xrd(HI_GPA - 2, 4);
	xcb(HI_GPA - 2, 2, false, v);
	expect(RCX, v);
	run_case();

	begin("st_r4 mmio|ram");
	set(RBX, HI_GPA - 1);
	xcb(HI_GPA - 1, 1, true, c.in[RCX]);
	xwr(HI_GPA - 1, 4, c.in[RCX]);
	run_case();

	/* A string element split between RAM and MMIO. */
	begin("rep_movs4 ram|mmio->ram");
	string_regs(3, 0);
	set(RSI, DEV_GPA - 2);
	set(RDI, BUF_GPA + 0x800);
	for (i = 0; i < 3; i++) {
		uint64_t sa = DEV_GPA - 2 + (uint64_t)i * 4;

		v = xrd(sa, 4);
		if (i == 0)
			xcb(DEV_GPA, 2, false, v >> 16);
		else
			xcb(sa, 4, false, v);
		xwr(BUF_GPA + 0x800 + (uint64_t)i * 4, 4, v);
	}
	expect(RSI, DEV_GPA - 2 + 12);
	expect(RDI, BUF_GPA + 0x800 + 12);
	run_case();

	begin("stos8 ram|mmio");
	set(RFL, 0x2);
	set(RDI, DEV_GPA - 4);
	xwr(DEV_GPA - 4, 8, c.in[RAX]);
	xcb(DEV_GPA, 4, true, c.in[RAX] >> 32);
	expect(RDI, DEV_GPA + 4);
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

	begin("st_r4 rom");
	set(RBX, gpa);
	xcb(gpa, 4, true, c.in[RCX]);
	run_case();

	begin("st_i8 rom");
	set(RBX, gpa);
	xcb(gpa, 8, true, 0xffffffffedcba988ULL);
	run_case();

	begin("ld_r4 rom");
	set(RBX, gpa);
	expect(RCX, xrd(gpa, 4));
	run_case();

	begin("add_mr4 rom");
	set(RBX, gpa);
	v = xrd(gpa, 4);
	o = alu(OP_ADD, 4, v, c.in[RCX], c.in[RFL]);
	xcb(gpa, 4, true, o.r);
	expect_flags(&o);
	run_case();

	begin("rep_stos4 rom");
	string_regs(3, 0);
	set(RDI, gpa);
	for (i = 0; i < 3; i++)
		xcb(gpa + (uint64_t)i * 4, 4, true, c.in[RAX]);
	expect(RDI, gpa + 12);
	run_case();

	begin("rep_movs2 ram->rom");
	string_regs(3, 0);
	set(RSI, BUF_GPA + 0x100);
	set(RDI, gpa);
	for (i = 0; i < 3; i++)
		xcb(gpa + (uint64_t)i * 2, 2, true,
		    xrd(BUF_GPA + 0x100 + (uint64_t)i * 2, 2));
	expect(RSI, BUF_GPA + 0x106);
	expect(RDI, gpa + 6);
	run_case();
}

/*
 * What an assist must have done when it returns, before the client reads
 * any register: every callback of the instruction (NVMM serves them all
 * in the one assist) and every write to guest RAM.
 */
static void
finish_case(void)
{
	uint64_t r;
	int guard;

	for (guard = 0; guard < 100; guard++) {
		r = vmt_run(&t);
		if (r == NVMM_VCPU_EXIT_MEMORY &&
		    nvmm_assist_mem(&t.mach, &t.vcpu) == 0)
			continue;
		if (r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT) {
			nvmm_assist_io(&t.mach, &t.vcpu);
			return;
		}
		break;
	}
	CHECK(0, "%s: checkpoint not reached", c.name);
	recover();
}

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
	uint64_t r, v;
	size_t i;
	int k;

	for (i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		begin("%s after-assist", one[i].n);
		set(RBX, one[i].rbx);
		load_state();
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_MEMORY, "%s: exit %#llx", c.name,
		    (unsigned long long)r);
		if (r != NVMM_VCPU_EXIT_MEMORY) {
			recover();
			continue;
		}
		CHECK(nvmm_assist_mem(&t.mach, &t.vcpu) == 0, "%s: assist",
		    c.name);
		CHECK(lg.n == one[i].ncb, "%s: %d callbacks in the assist, "
		    "expected %d", c.name, lg.n, one[i].ncb);
		finish_case();
		CHECK(lg.n == one[i].ncb, "%s: %d callbacks in all, expected "
		    "%d", c.name, lg.n, one[i].ncb);
	}

	/* MOVS MMIO->RAM: the RAM is written when the assist returns. */
	for (k = 0; k < 2; k++) {
		int n = k == 0 ? 1 : 3, j;

		begin("%s after-assist", k == 0 ? "movs4" : "rep_movs4");
		set(RSI, DEV_GPA + 0x100);
		set(RDI, BUF_GPA + 0x100);
		set(RCX, (uint64_t)n);
		load_state();
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_MEMORY, "%s: exit %#llx", c.name,
		    (unsigned long long)r);
		if (r != NVMM_VCPU_EXIT_MEMORY) {
			recover();
			continue;
		}
		CHECK(nvmm_assist_mem(&t.mach, &t.vcpu) == 0, "%s: assist",
		    c.name);
		CHECK(lg.n >= 1 && lg.n <= n, "%s: %d callbacks", c.name, lg.n);
		for (j = 0; j < lg.n && j < n; j++) {
			memcpy(&v, t.ram + BUF_GPA + 0x100 + 4 * j, 4);
			v &= 0xffffffffULL;
			CHECK(v == xrd(DEV_GPA + 0x100 + 4 * (uint64_t)j, 4),
			    "%s: element %d not in RAM after the assist: "
			    "%#llx", c.name, j, (unsigned long long)v);
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
#define ISR_VEC		0x30
#define ISR_PORT	0xE1

static void
idt_isr(void)
{
	uint8_t *e = t.ram + VMT_IDT + 16 * ISR_VEC;
	uint64_t h = GVA(am_isr);

	memset(e, 0, 16);
	e[0] = (uint8_t)h;
	e[1] = (uint8_t)(h >> 8);
	e[2] = 0x08;				/* selector */
	e[5] = 0x8e;				/* P, DPL0, interrupt gate */
	e[6] = (uint8_t)(h >> 16);
	e[7] = (uint8_t)(h >> 24);
	if (nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_SEGS) == -1) {
		perror("getstate");
		exit(1);
	}
	t.vcpu.state->segs[NVMM_X64_SEG_IDT].base = VMT_IDT;
	t.vcpu.state->segs[NVMM_X64_SEG_IDT].limit = 16 * ISR_VEC + 15;
	if (nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_SEGS) == -1) {
		perror("setstate");
		exit(1);
	}
}

static void
t_inject_after_assist(void)
{
	static const char *const names[3] = { "ld_r4", "add_rm4", "xchg4" };
	uint64_t r, v, want;
	int peek, i;

	for (peek = 0; peek < 2; peek++)
	for (i = 0; i < 3; i++) {
		begin("%s inject peek=%d", names[i], peek);
		set(RBX, DEV_GPA + 0x10);
		set(RFL, 0x202);
		v = xrd(DEV_GPA + 0x10, 4);
		want = i == 0 || i == 2 ? v :
		    alu(OP_ADD, 4, c.in[RCX], v, c.in[RFL]).r;
		idt_isr();
		load_state();
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_MEMORY, "%s: exit %#llx", c.name,
		    (unsigned long long)r);
		if (r != NVMM_VCPU_EXIT_MEMORY) {
			recover();
			continue;
		}
		CHECK(nvmm_assist_mem(&t.mach, &t.vcpu) == 0, "%s: assist",
		    c.name);
		if (peek)
			CHECK_EQ(vmt_gpr(&t, RIP), GVA(c.s->end) - 2);
		t.vcpu.event->type = NVMM_VCPU_EVENT_INTR;
		t.vcpu.event->vector = ISR_VEC;
		t.vcpu.event->u.excp.error = 0;
		CHECK(nvmm_vcpu_inject(&t.mach, &t.vcpu) == 0, "%s: inject",
		    c.name);
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == ISR_PORT,
		    "%s: exit %#llx port %#x, expected the handler", c.name,
		    (unsigned long long)r,
		    r == NVMM_VCPU_EXIT_IO ? x->u.io.port : 0);
		if (r == NVMM_VCPU_EXIT_IO && x->u.io.port == ISR_PORT) {
			nvmm_assist_io(&t.mach, &t.vcpu);
			CHECK(vmt_gpr(&t, RDX) == GVA(c.s->end) - 2, "%s: the "
			    "interrupt came at RIP %#llx, expected %#llx after "
			    "the instruction", c.name,
			    (unsigned long long)vmt_gpr(&t, RDX),
			    (unsigned long long)(GVA(c.s->end) - 2));
			CHECK(vmt_gpr(&t, RCX) == want, "%s: RCX %#llx, "
			    "expected %#llx", c.name,
			    (unsigned long long)vmt_gpr(&t, RCX),
			    (unsigned long long)want);
		}
		CHECK_EQ(lg.n, i == 0 || i == 1 ? 1 : 2);
		recover();	/* the handler halts; IDT limit back to 0 */
	}
}

/* -------------------------------------------------------------------------
 * Errors and clients that do without the assist.
 * ------------------------------------------------------------------------- */

static void
t_errors(void)
{
	struct nvmm_assist_callbacks nomem = { io_cb, NULL };
	uint64_t r, start, v;
	int ret;

	/* The last exit is the checkpoint's IO exit. */
	begin("ld_r4");
	set(RBX, DEV_GPA);
	v = xrd(DEV_GPA, 4);
	xcb(DEV_GPA, 4, false, v);
	expect(RCX, v);
	run_case();
	CHECK_EQ(x->reason, NVMM_VCPU_EXIT_IO);
	errno = 0;
	ret = nvmm_assist_mem(&t.mach, &t.vcpu);
	CHECK(ret == -1 && errno == EINVAL, "assist_mem after an IO exit: "
	    "%d, errno %d", ret, errno);

	/* No mem callback: EINVAL, nothing done; then with it, it works. */
	begin("ld_r4 nomem");
	set(RBX, DEV_GPA + 8);
	start = GVA(c.s->start);
	load_state();
	CHECK(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    &nomem) == 0, "configure without mem");
	r = vmt_run(&t);
	CHECK_EQ(r, NVMM_VCPU_EXIT_MEMORY);
	errno = 0;
	ret = nvmm_assist_mem(&t.mach, &t.vcpu);
	CHECK(ret == -1 && errno == EINVAL, "assist_mem without a mem "
	    "callback: %d, errno %d", ret, errno);
	CHECK_EQ(lg.n, 0);
	CHECK_EQ(vmt_gpr(&t, RIP), start);
	CHECK_EQ(vmt_gpr(&t, RCX), c.in[RCX]);
	CHECK(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    &cbs) == 0, "configure with mem");
	CHECK(nvmm_assist_mem(&t.mach, &t.vcpu) == 0, "assist_mem retried: %s",
	    strerror(errno));
	CHECK_EQ(lg.n, 1);
	CHECK_EQ(vmt_gpr(&t, RCX), xrd(DEV_GPA + 8, 4));
	r = vmt_run(&t);
	CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT,
	    "checkpoint after the retried assist");
	if (r == NVMM_VCPU_EXIT_IO)
		nvmm_assist_io(&t.mach, &t.vcpu);
	else
		recover();

	/* A client that emulates the load itself and moves RIP on. */
	begin("ld_r4 client");
	set(RBX, DEV_GPA + 8);
	load_state();
	r = vmt_run(&t);
	CHECK_EQ(r, NVMM_VCPU_EXIT_MEMORY);
	if (nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS) == 0) {
		t.vcpu.state->gprs[RCX] = 0x777;
		t.vcpu.state->gprs[RIP] = GVA(c.s->end) - 2;
		nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS);
	}
	r = vmt_run(&t);
	CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT,
	    "client-completed load: exit %#llx", (unsigned long long)r);
	CHECK_EQ(vmt_gpr(&t, RCX), 0x777);
	CHECK_EQ(lg.n, 0);
	if (r == NVMM_VCPU_EXIT_IO)
		nvmm_assist_io(&t.mach, &t.vcpu);
	else
		recover();
}

/* -------------------------------------------------------------------------
 * 32-bit protected mode (paging off).
 * ------------------------------------------------------------------------- */

static void
set_seg_base(int seg, uint64_t base)
{
	if (nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_SEGS) == -1) {
		perror("getstate");
		exit(1);
	}
	t.vcpu.state->segs[seg].base = base;
	if (nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_SEGS) == -1) {
		perror("setstate");
		exit(1);
	}
}

static void
t_prot32(void)
{
	uint64_t gpa = DEV_GPA + 0x10, v;
	struct alu o;
	int i, df;

	begin32("%s", "p32_ld4");
	set(RBX, gpa);
	v = xrd(gpa, 4);
	xcb(gpa, 4, false, v);
	expect(RCX, v);
	run_case();

	begin32("%s", "p32_ld2");
	set(RBX, gpa);
	v = xrd(gpa, 2);
	xcb(gpa, 2, false, v);
	expect(RCX, merge(c.in[RCX], v, 2));
	run_case();

	begin32("%s", "p32_st1");
	set(RBX, gpa);
	xcb(gpa, 1, true, c.in[RCX]);
	xwr(gpa, 1, c.in[RCX]);
	run_case();

	begin32("%s", "p32_st4");
	set(RBX, gpa);
	xcb(gpa + 4, 4, true, c.in[RCX]);
	xwr(gpa + 4, 4, c.in[RCX]);
	run_case();

	begin32("%s", "p32_add_mr4");
	set(RBX, gpa);
	v = xrd(gpa, 4);
	o = alu(OP_ADD, 4, v, c.in[RCX], c.in[RFL]);
	xcb(gpa, 4, false, v);
	xcb(gpa, 4, true, o.r);
	xwr(gpa, 4, o.r);
	expect_flags(&o);
	run_case();

	begin32("%s", "p32_or_rm2");
	set(RBX, gpa);
	v = xrd(gpa, 2);
	o = alu(OP_OR, 2, c.in[RCX], v, c.in[RFL]);
	xcb(gpa, 2, false, v);
	expect(RCX, merge(c.in[RCX], o.r, 2));
	expect_flags(&o);
	run_case();

	begin32("%s", "p32_sub_i83l");
	set(RBX, gpa);
	v = xrd(gpa, 4);
	o = alu(OP_SUB, 4, v, 0xfffffffdULL, c.in[RFL]);
	xcb(gpa, 4, false, v);
	xcb(gpa, 4, true, o.r);
	xwr(gpa, 4, o.r);
	expect_flags(&o);
	run_case();

	begin32("%s", "p32_zx_bl");
	set(RBX, gpa);
	put(gpa, 1, 0x9a);
	xcb(gpa, 1, false, 0x9a);
	expect(RCX, 0x9a);
	run_case();

	begin32("%s", "p32_xchg4");
	set(RBX, gpa);
	v = xrd(gpa, 4);
	xcb(gpa, 4, false, v);
	xcb(gpa, 4, true, c.in[RCX]);
	xwr(gpa, 4, c.in[RCX]);
	expect(RCX, v);
	run_case();

	begin32("%s", "p32_mo_ld4");
	v = xrd(DEV_GPA + 0x10, 4);
	xcb(DEV_GPA + 0x10, 4, false, v);
	expect(RAX, v);
	run_case();

	for (df = 0; df < 2; df++) {
		begin32("%s", "p32_rep_stos4");
		string_regs(5, df);
		set(RDI, DEV_GPA + 0x100);
		for (i = 0; i < 5; i++) {
			uint64_t a = DEV_GPA + 0x100 +
			    (uint64_t)(df ? -4 * i : 4 * i);

			xcb(a, 4, true, c.in[RAX]);
			xwr(a, 4, c.in[RAX]);
		}
		expect(RDI, DEV_GPA + 0x100 + (uint64_t)(df ? -20 : 20));
		run_case();
	}

	begin32("%s", "p32_rep_movs1");
	string_regs(7, 0);
	set(RSI, DEV_GPA + 0x300);
	set(RDI, BUF_GPA + 0x300);
	for (i = 0; i < 7; i++) {
		v = xrd(DEV_GPA + 0x300 + (uint64_t)i, 1);
		xcb(DEV_GPA + 0x300 + (uint64_t)i, 1, false, v);
		xwr(BUF_GPA + 0x300 + (uint64_t)i, 1, v);
	}
	expect(RSI, DEV_GPA + 0x307);
	expect(RDI, BUF_GPA + 0x307);
	run_case();

	begin32("%s", "p32_rep_lods2");
	string_regs(3, 0);
	set(RSI, DEV_GPA + 0x310);
	for (i = 0; i < 3; i++) {
		v = xrd(DEV_GPA + 0x310 + (uint64_t)i * 2, 2);
		xcb(DEV_GPA + 0x310 + (uint64_t)i * 2, 2, false, v);
	}
	expect(RAX, merge(c.in[RAX], v, 2));
	expect(RSI, DEV_GPA + 0x316);
	run_case();

	/* 16-bit addressing with a DS base: DS.base + (BX + SI + 0x10)
	   ignoring the upper halves of EBX and ESI. */
	set_seg_base(NVMM_X64_SEG_DS, DEV_GPA);
	begin32("%s", "p32_a16_ld4");
	set(RBX, 0xabcd0100);
	set(RSI, 0x12340008);
	v = xrd(DEV_GPA + 0x118, 4);
	xcb(DEV_GPA + 0x118, 4, false, v);
	expect(RCX, v);
	run_case();
	set_seg_base(NVMM_X64_SEG_DS, 0);

	/* ES base, DI and CX as 16-bit registers: the upper halves of EDI
	   and ECX are kept. */
	set_seg_base(NVMM_X64_SEG_ES, DEV_GPA);
	begin32("%s", "p32_a16_rep_stos2");
	c.multi = true;
	set(RDI, 0x55550200);
	set(RCX, 0x77770003);
	for (i = 0; i < 3; i++) {
		xcb(DEV_GPA + 0x200 + (uint64_t)i * 2, 2, true, c.in[RAX]);
		xwr(DEV_GPA + 0x200 + (uint64_t)i * 2, 2, c.in[RAX]);
	}
	expect(RDI, 0x55550206);
	expect(RCX, 0x77770000);
	run_case();
	set_seg_base(NVMM_X64_SEG_ES, 0);
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
