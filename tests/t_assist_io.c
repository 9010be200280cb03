/* t_assist_io.c - nvmm_assist_io on real guests in long, 32-bit protected and real mode: exit fields, IN/OUT, INS/OUTS with REP, segments, MMIO operands, stop, errors. */

/*
 * Each case points RIP at a guest snippet "<instruction>; out %al, $0xF0"
 * (t_assist_io_guest.S), loads the registers, runs to the checkpoint OUT
 * completing every I/O exit with nvmm_assist_io, and compares with the
 * x86 result computed here:
 *  - the fields of every I/O exit of the instruction (nvmm-api.md 2.8.2,
 *    4.15) and RIP at the exit and after the assist,
 *  - the io callback log: one call per element, ascending, with the data,
 *  - all GPRs, RIP and RFLAGS, and the RAM around the string buffers.
 * IN callbacks answer a distinct value per call so that the order of the
 * elements in memory is checked too. * What KVM makes impossible to match (RIP at an OUT exit, fields of
 * instructions it retired before exiting) is printed on "note:" lines
 * instead of failing.
 */

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
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

extern const struct snip io_sniptab[], io_sniptab_end[];
extern const char io_start[], io_end[], io_isr[];

#define GVA(p)		((uint64_t)((p) - io_start) + VMT_CODE)

#define CHECKPOINT	0xF0
#define PORT_IMM	0x40
#define PORT_DUP	0x44
#define PORT_DX		0x1234
#define PORT_STR	0x5678
#define PORT_STOP	0x77

static const struct snip *
snip(const char *name)
{
	const struct snip *s;

	for (s = io_sniptab; s < io_sniptab_end; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	fprintf(stderr, "t_assist_io: no snippet %s\n", name);
	exit(1);
}

/* -------------------------------------------------------------------------
 * Modes and memory.
 * ------------------------------------------------------------------------- */

enum { M64, M32, M16 };
static const char *const mode_names[3] = { "long", "prot32", "real" };
static const char *const mode_prefix[3] = { "", "p32_", "r_" };
static const int mode_asize[3] = { 8, 4, 2 };

/* Real mode: ES and DS point into the RAM region. */
#define R_ES_SEL	0x2000
#define R_DS_SEL	0x3000

#define BUF64		VMT_DATA	/* 64/32-bit string buffers */
#define BUF16		0x20000ULL	/* real mode: ES base */
#define BUF_SIZE	0x20000ULL
#define DEV_GPA		VMT_MMIO
#define DEV_SIZE	0x1000ULL

static struct vmt t;
static struct nvmm_x86_exit *x;
static int mode;
static uint64_t csbase;		/* CS base: RIP = GVA - csbase */
static uint64_t rbase;		/* RAM region checked after each case */
static uint8_t buf_x[BUF_SIZE];
static uint8_t dev[DEV_SIZE];

static uint8_t
pattern(uint64_t gpa)
{
	return (uint8_t)(((gpa ^ (gpa >> 7) ^ (gpa >> 12)) * 0x6b) + 0x1d);
}

static uint64_t
msk(int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static uint8_t *
xbyte(uint64_t gpa)
{
	if (gpa < rbase || gpa - rbase >= BUF_SIZE) {
		fprintf(stderr, "t_assist_io: gpa %#llx outside the buffer\n",
		    (unsigned long long)gpa);
		exit(1);
	}
	return &buf_x[gpa - rbase];
}

static uint64_t
xrd(uint64_t gpa, int size)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)*xbyte(gpa + (uint64_t)i) << (8 * i);
	return v;
}

static void
xwr(uint64_t gpa, int size, uint64_t v)
{
	int i;

	for (i = 0; i < size; i++)
		*xbyte(gpa + (uint64_t)i) = (uint8_t)(v >> (8 * i));
}

static uint64_t
merge(uint64_t old, uint64_t v, int size)
{
	switch (size) {
	case 1:
		return (old & ~0xffULL) | (v & 0xff);
	case 2:
		return (old & ~0xffffULL) | (v & 0xffff);
	default:
		return v & 0xffffffffULL;
	}
}

/* -------------------------------------------------------------------------
 * Callbacks and their log.
 * ------------------------------------------------------------------------- */

#define MAXIO	4200
#define MAXSEQ	64

struct io_ent {
	uint16_t port;
	bool in;
	uint8_t size;
	uint32_t data;
};

static struct {
	struct io_ent e[MAXIO];
	int n;			/* io calls; may exceed MAXIO */
	int badctx, badsize;
	int badstate;		/* getstate failed inside the callback */
	int rip_moved;		/* RIP not on the instruction there */
	uint64_t start;		/* the instruction's RIP */
	bool peek;		/* look at the state during the case */
	int nmem;		/* mem calls */
	struct { uint64_t gpa; size_t size; bool write; uint64_t data; }
	    mem[MAXSEQ];
	char seq[MAXSEQ + 1];	/* callback order: I(o) and M(em) */
	bool count_only;	/* stop tests: no per-call log */
} lg;

/* What an IN reads on call k: distinct for every call. */
static uint32_t
in_value(int k)
{
	return 0x9e3779b9u * (uint32_t)(k + 1) ^ 0x5a5a0000u;
}

static void
io_cb(struct nvmm_io *io)
{
	uint32_t v = 0;
	int k;

	if (io->port == CHECKPOINT && !io->in)
		return;		/* not part of any case */
	k = lg.n++;
	if (io->mach != &t.mach || io->vcpu != &t.vcpu)
		lg.badctx++;
	/* A callback may look at the VCPU (QEMU does). */
	if (!lg.peek)
		;
	else if (nvmm_vcpu_getstate(io->mach, io->vcpu,
	    NVMM_X64_STATE_GPRS) == -1)
		lg.badstate++;
	else if (io->vcpu->state->gprs[NVMM_X64_GPR_RIP] != lg.start)
		lg.rip_moved++;
	if ((io->size != 1 && io->size != 2 && io->size != 4) ||
	    io->data == NULL) {
		lg.badsize++;
		return;
	}
	if (io->in) {
		v = in_value(k) & (uint32_t)msk((int)io->size);
		memcpy(io->data, &v, io->size);
	} else {
		memcpy(&v, io->data, io->size);
	}
	if (lg.count_only)
		return;
	if (k < MAXIO) {
		lg.e[k].port = io->port;
		lg.e[k].in = io->in;
		lg.e[k].size = (uint8_t)io->size;
		lg.e[k].data = v;
	}
	if (strlen(lg.seq) < MAXSEQ)
		strcat(lg.seq, "I");
}

static void
mem_cb(struct nvmm_mem *m)
{
	uint64_t v = 0;
	size_t i;
	int k = lg.nmem++;

	if (m->size < 1 || m->size > 8) {
		lg.badsize++;
		return;
	}
	for (i = 0; i < m->size; i++) {
		uint64_t off = m->gpa + i - DEV_GPA;

		if (off < DEV_SIZE) {
			if (m->write)
				dev[off] = m->data[i];
			else
				m->data[i] = dev[off];
		} else if (!m->write) {
			m->data[i] = 0xee;
		}
		v |= (uint64_t)m->data[i] << (8 * i);
	}
	if (k < MAXSEQ) {
		lg.mem[k].gpa = m->gpa;
		lg.mem[k].size = m->size;
		lg.mem[k].write = m->write;
		lg.mem[k].data = v;
	}
	if (strlen(lg.seq) < MAXSEQ)
		strcat(lg.seq, "M");
}

static struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };

/* -------------------------------------------------------------------------
 * Cases.
 * ------------------------------------------------------------------------- */

#define RAX	NVMM_X64_GPR_RAX
#define RCX	NVMM_X64_GPR_RCX
#define RDX	NVMM_X64_GPR_RDX
#define RBX	NVMM_X64_GPR_RBX
#define RSI	NVMM_X64_GPR_RSI
#define RDI	NVMM_X64_GPR_RDI
#define RIP	NVMM_X64_GPR_RIP
#define RFL	NVMM_X64_GPR_RFLAGS
#define F_DF	0x400ULL

static const char *const gpr_names[NVMM_X64_NGPR] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9",
	"r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"
};

static struct {
	char name[112];
	const struct snip *s;
	uint64_t in[NVMM_X64_NGPR];
	uint64_t exp[NVMM_X64_NGPR];
	uint64_t gmask[NVMM_X64_NGPR];
	struct io_ent x[MAXIO];
	int nx;
	bool multi;		/* REP: several exits allowed */
	/* Expected fields of the instruction's exits. */
	bool xin, xstr, xrep;
	uint16_t xport;
	uint8_t xsize, xasize;
	int8_t xseg;
	uint64_t xnpc;
	bool asize_note;	/* address_size cannot be known: note only */
	bool ambiguous;		/* the fields cannot be known: note only */
} c;

static int note_out_rip, note_out_seen, note_asize, note_a32;
static int note_ambig, note_ambig_seen;
static bool string_ambiguous;

/* The instruction's RIP and the checkpoint's, in CS offsets. */
static uint64_t
rip_of(const char *p)
{
	return GVA(p) - csbase;
}

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
	/* Address registers: no junk where the architecture leaves the
	   upper halves undefined (32-bit code). */
	if (mode == M32) {
		c.in[RSI] &= 0xffffffffULL;
		c.in[RDI] &= 0xffffffffULL;
		c.in[RCX] &= 0xffffffffULL;
	}
	c.in[NVMM_X64_GPR_RSP] = mode == M16 ? 0xf000 : VMT_STACK;
	c.in[RIP] = rip_of(c.s->start);
	c.in[RFL] = 0x2;
	memcpy(c.exp, c.in, sizeof(c.in));
	c.exp[RIP] = rip_of(c.s->end);

	/* Default exit fields: a one-instruction snippet. */
	c.xasize = (uint8_t)mode_asize[mode];
	c.xnpc = rip_of(c.s->end) - 2;
	c.xseg = -1;

	for (n = 0; n < BUF_SIZE; n++)
		t.ram[rbase + n] = pattern(rbase + n);
	memcpy(buf_x, t.ram + rbase, BUF_SIZE);
	for (n = 0; n < DEV_SIZE; n++)
		dev[n] = pattern(DEV_GPA + n);
	memset(&lg, 0, sizeof(lg));
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
xio(uint16_t port, bool in, int size, uint32_t data)
{
	if (c.nx == MAXIO) {
		fprintf(stderr, "t_assist_io: too many expected calls\n");
		exit(1);
	}
	c.x[c.nx].port = port;
	c.x[c.nx].in = in;
	c.x[c.nx].size = (uint8_t)size;
	c.x[c.nx].data = data & (uint32_t)msk(size);
	c.nx++;
}

static void
fields(bool in, uint16_t port, int size, bool str, bool rep, int seg)
{
	c.xin = in;
	c.xport = port;
	c.xsize = (uint8_t)size;
	c.xstr = str;
	c.xrep = rep;
	c.xseg = (int8_t)seg;
}

static void
vgetstate(uint64_t flags)
{
	if (nvmm_vcpu_getstate(&t.mach, &t.vcpu, flags) == -1) {
		perror("getstate");
		exit(1);
	}
}

static void
vsetstate(uint64_t flags)
{
	if (nvmm_vcpu_setstate(&t.mach, &t.vcpu, flags) == -1) {
		perror("setstate");
		exit(1);
	}
}

static void
load_state(void)
{
	vgetstate(NVMM_X64_STATE_GPRS);
	memcpy(t.vcpu.state->gprs, c.in, sizeof(c.in));
	vsetstate(NVMM_X64_STATE_GPRS);
}

static void machine_setup(void);

/* Checks one exit of the instruction against the expected fields;
   RIP too unless rip is NULL. */
static void
check_exit(int k, const uint64_t *rip)
{
	const struct nvmm_x86_exit_io *io = &x->u.io;
	uint64_t start = c.in[RIP];

	CHECK(io->in == c.xin && io->port == c.xport &&
	    io->operand_size == c.xsize, "%s: exit %d: in %d port %#x size "
	    "%u, expected in %d port %#x size %u", c.name, k, io->in,
	    io->port, io->operand_size, c.xin, c.xport, c.xsize);
	if (c.ambiguous) {
		note_ambig_seen++;
		if (io->str != c.xstr || io->rep != c.xrep ||
		    io->npc != c.xnpc || (c.xstr && io->seg != c.xseg)) {
			note_ambig++;
			printf("note: %s: exit %d reported str %d rep %d seg %d "
			    "npc %#llx; the instruction: str %d rep %d seg %d "
			    "npc %#llx\n", c.name, k, io->str, io->rep,
			    io->seg, (unsigned long long)io->npc, c.xstr,
			    c.xrep, c.xseg, (unsigned long long)c.xnpc);
		}
		return;
	}
	CHECK(io->str == c.xstr && io->rep == c.xrep && io->npc == c.xnpc,
	    "%s: exit %d: str %d rep %d npc %#llx, expected str %d rep %d "
	    "npc %#llx", c.name, k, io->str, io->rep,
	    (unsigned long long)io->npc, c.xstr, c.xrep,
	    (unsigned long long)c.xnpc);
	if (c.asize_note) {
		if (io->address_size != c.xasize)
			note_asize++;
	} else {
		CHECK(io->address_size == c.xasize, "%s: exit %d: "
		    "address_size %u, expected %u", c.name, k,
		    io->address_size, c.xasize);
	}
	if (c.xstr)
		CHECK(io->seg == c.xseg, "%s: exit %d: seg %d, expected %d",
		    c.name, k, io->seg, c.xseg);
	/* NVMM: RIP on the instruction.  KVM retires OUT and OUTS without
	   REP before exiting (noted). */
	if (rip == NULL) {
		/* not looked at */
	} else if (c.xin || c.xrep) {
		CHECK(*rip == start, "%s: exit %d: RIP %#llx, expected the "
		    "instruction %#llx", c.name, k, (unsigned long long)*rip,
		    (unsigned long long)start);
	} else {
		note_out_seen++;
		if (*rip != start)
			note_out_rip++;
	}
}

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
	uint64_t start = c.in[RIP], r, rip;
	int nexits = 0, guard, i;
	bool reached = false;

	load_state();
	lg.start = start;
	lg.peek = (case_no++ & 1) == 0;
	for (guard = 0; guard < 20000; guard++) {
		r = vmt_run(&t);
		if (r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT &&
		    !x->u.io.in) {
			CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0,
			    "%s: assist_io at the checkpoint", c.name);
			reached = true;
			break;
		}
		if (r == NVMM_VCPU_EXIT_IO) {
			if (lg.peek) {
				rip = vmt_gpr(&t, RIP);
				check_exit(nexits, &rip);
			} else {
				check_exit(nexits, NULL);
			}
			nexits++;
			if (nvmm_assist_io(&t.mach, &t.vcpu) == -1) {
				CHECK(0, "%s: nvmm_assist_io: %s", c.name,
				    strerror(errno));
				machine_setup();
				return;
			}
			if (!lg.peek)
				continue;
			rip = vmt_gpr(&t, RIP);
			if (c.multi)
				CHECK(rip == start || rip == c.xnpc, "%s: RIP "
				    "after the assist %#llx, neither the "
				    "instruction nor npc", c.name,
				    (unsigned long long)rip);
			else
				CHECK(rip == c.xnpc, "%s: RIP after the assist "
				    "%#llx, expected npc %#llx", c.name,
				    (unsigned long long)rip,
				    (unsigned long long)c.xnpc);
			continue;
		}
		CHECK(0, "%s: unexpected exit %#llx at rip %#llx", c.name,
		    (unsigned long long)r,
		    (unsigned long long)vmt_gpr(&t, RIP));
		machine_setup();
		return;
	}
	if (!reached) {
		CHECK(0, "%s: checkpoint not reached", c.name);
		machine_setup();
		return;
	}

	if (c.nx == 0)
		CHECK(nexits == 0, "%s: %d I/O exits, expected none", c.name,
		    nexits);
	else if (!c.multi)
		CHECK(nexits == 1, "%s: %d I/O exits, expected 1", c.name,
		    nexits);
	else
		CHECK(nexits >= 1 && nexits <= c.nx, "%s: %d I/O exits for %d "
		    "elements", c.name, nexits, c.nx);

	CHECK(lg.badctx == 0 && lg.badsize == 0, "%s: bad callback "
	    "arguments", c.name);
	CHECK(lg.badstate == 0, "%s: getstate failed in %d callbacks", c.name,
	    lg.badstate);
	/* In the callbacks of IN, INS and REP OUTS, RIP is on the
	   instruction, as NVMM; OUT and plain OUTS are noted. */
	if (c.xin || c.xrep)
		CHECK(lg.rip_moved == 0, "%s: RIP moved in %d callbacks",
		    c.name, lg.rip_moved);
	CHECK(lg.n == c.nx, "%s: %d io callbacks, expected %d", c.name, lg.n,
	    c.nx);
	for (i = 0; i < c.nx && i < lg.n; i++) {
		const struct io_ent *g = &lg.e[i], *e = &c.x[i];

		if (g->port != e->port || g->in != e->in ||
		    g->size != e->size || g->data != e->data) {
			CHECK(0, "%s: io call %d: port %#x in %d size %u data "
			    "%#x, expected port %#x in %d size %u data %#x",
			    c.name, i, g->port, g->in, g->size, g->data,
			    e->port, e->in, e->size, e->data);
			break;
		}
	}
	CHECK(lg.nmem == 0, "%s: %d mem callbacks", c.name, lg.nmem);

	vgetstate(NVMM_X64_STATE_GPRS);
	for (i = 0; i < NVMM_X64_NGPR; i++) {
		uint64_t got = t.vcpu.state->gprs[i];

		CHECK(((got ^ c.exp[i]) & c.gmask[i]) == 0, "%s: %s = %#llx, "
		    "expected %#llx", c.name, gpr_names[i],
		    (unsigned long long)got, (unsigned long long)c.exp[i]);
	}
	for (i = 0; i < (int)BUF_SIZE; i++)
		if (t.ram[rbase + (uint64_t)i] != buf_x[i])
			break;
	CHECK(i == (int)BUF_SIZE, "%s: RAM at %#llx is %#x, expected %#x",
	    c.name, (unsigned long long)(rbase + (uint64_t)i),
	    i < (int)BUF_SIZE ? t.ram[rbase + (uint64_t)i] : 0,
	    i < (int)BUF_SIZE ? buf_x[i] : 0);
}

/* -------------------------------------------------------------------------
 * Machines.
 * ------------------------------------------------------------------------- */

static void
set_seg(int seg, uint16_t sel, uint64_t base)
{
	vgetstate(NVMM_X64_STATE_SEGS);
	t.vcpu.state->segs[seg].selector = sel;
	t.vcpu.state->segs[seg].base = base;
	vsetstate(NVMM_X64_STATE_SEGS);
}

/* (Re)loads the whole VCPU state of the current mode. */
static void
machine_setup(void)
{
	switch (mode) {
	case M64:
		vmt_setup_long(&t, VMT_CODE);
		csbase = 0;
		rbase = BUF64;
		break;
	case M32:
		vmt_setup_prot32(&t, VMT_CODE);
		csbase = 0;
		rbase = BUF64;
		break;
	default:
		vmt_setup_real(&t, VMT_CODE);
		csbase = VMT_CODE;
		rbase = BUF16;
		set_seg(NVMM_X64_SEG_ES, R_ES_SEL, (uint64_t)R_ES_SEL << 4);
		set_seg(NVMM_X64_SEG_DS, R_DS_SEL, (uint64_t)R_DS_SEL << 4);
		break;
	}
}

static void
machine_up(int m)
{
	vmt_create(&t, VMT_RAM, 0);
	x = t.vcpu.exit;
	if (nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    &cbs) == -1) {
		perror("configure callbacks");
		exit(1);
	}
	vmt_load(&t, VMT_CODE, io_start, io_end);
	mode = m;
	machine_setup();
}

/* The linear base of ES and DS in the current mode. */
static uint64_t
es_base(void)
{
	return mode == M16 ? (uint64_t)R_ES_SEL << 4 : 0;
}

static uint64_t
ds_base(void)
{
	return mode == M16 ? (uint64_t)R_DS_SEL << 4 : 0;
}

/* -------------------------------------------------------------------------
 * IN and OUT.
 * ------------------------------------------------------------------------- */

static void
t_inout(void)
{
	static const int sizes[3] = { 1, 2, 4 };
	const char *p = mode_prefix[mode];
	int k, dx, in;

	for (k = 0; k < 3; k++)
	for (dx = 0; dx < 2; dx++)
	for (in = 0; in < 2; in++) {
		int size = sizes[k];
		uint16_t port = dx ? PORT_DX : PORT_IMM;

		begin("%s%s%s%d %s", p, in ? "in" : "out", dx ? "d" : "", size,
		    mode_names[mode]);
		set(RAX, 0xfedcba9876543210ULL);
		set(RDX, (c.in[RDX] & ~0xffffULL) | PORT_DX);
		fields(in, port, size, false, false, -1);
		if (in) {
			uint32_t v = in_value(0) & (uint32_t)msk(size);

			xio(port, true, size, v);
			/* Sizes 1, 2 merge; size 4 zero-extends. */
			expect(RAX, merge(c.in[RAX], v, size));
		} else {
			xio(port, false, size, (uint32_t)c.in[RAX]);
		}
		run_case();
	}

	/* Two alike OUTs in a row: each exit is its own instruction. */
	begin("%sdup_out %s", p, mode_names[mode]);
	fields(false, PORT_DUP, 1, false, false, -1);
	c.xnpc = c.in[RIP] + 2;
	xio(PORT_DUP, false, 1, (uint32_t)c.in[RAX]);
	xio(PORT_DUP, false, 1, (uint32_t)c.in[RAX]);
	c.multi = true;		/* two exits, checked one by one below */
	{
		uint64_t r, start = c.in[RIP];
		int i;

		load_state();
		for (i = 0; i < 2; i++) {
			r = vmt_run(&t);
			CHECK(r == NVMM_VCPU_EXIT_IO &&
			    x->u.io.port == PORT_DUP, "%s: exit %d %#llx",
			    c.name, i, (unsigned long long)r);
			if (r != NVMM_VCPU_EXIT_IO)
				break;
			CHECK(x->u.io.npc == start + 2 * (uint64_t)(i + 1) &&
			    !x->u.io.str && !x->u.io.rep, "%s: OUT %d: npc "
			    "%#llx str %d rep %d, expected npc %#llx str 0 "
			    "rep 0", c.name, i,
			    (unsigned long long)x->u.io.npc, x->u.io.str,
			    x->u.io.rep,
			    (unsigned long long)(start + 2 * (uint64_t)(i + 1)));
			CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0, "%s: "
			    "assist %d", c.name, i);
			CHECK_EQ(vmt_gpr(&t, RIP), start + 2 * (uint64_t)(i + 1));
		}
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT,
		    "%s: checkpoint", c.name);
		if (r == NVMM_VCPU_EXIT_IO)
			nvmm_assist_io(&t.mach, &t.vcpu);
		else
			machine_setup();
		CHECK_EQ(lg.n, 2);
	}
}

/* Prefixes and forms that only exist in 64-bit code. */
static void
t_inout64(void)
{
	uint32_t v;

	/* 67 on IN: the address size changes, nothing else. */
	begin("in4_a32");
	set(RAX, 0xfedcba9876543210ULL);
	fields(true, PORT_IMM, 4, false, false, -1);
	c.xasize = 4;
	v = in_value(0);
	xio(PORT_IMM, true, 4, v);
	expect(RAX, v);
	run_case();

	/* REX.W does not widen IN. */
	begin("in4_rexw");
	set(RAX, 0xfedcba9876543210ULL);
	fields(true, PORT_IMM, 4, false, false, -1);
	v = in_value(0);
	xio(PORT_IMM, true, 4, v);
	expect(RAX, v);
	run_case();

	/* 67 on OUT: KVM has moved RIP past it already, so the library
	   cannot see the prefix; address_size is noted, not checked. */
	begin("out1_a32");
	fields(false, PORT_IMM, 1, false, false, -1);
	c.xasize = 4;
	c.asize_note = true;
	xio(PORT_IMM, false, 1, (uint32_t)c.in[RAX]);
	run_case();

	/* OUT DX then OUTS to the same port. */
	begin("dup_outd");
	set(RDX, PORT_DX);
	set(RSI, BUF64 + 0x100);
	{
		uint64_t r, start = c.in[RIP];

		load_state();
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == PORT_DX,
		    "dup_outd: first exit %#llx", (unsigned long long)r);
		CHECK(x->u.io.npc == start + 1 && !x->u.io.str &&
		    !x->u.io.rep, "dup_outd: OUT DX: npc %#llx str %d rep %d, "
		    "expected npc %#llx str 0 rep 0",
		    (unsigned long long)x->u.io.npc, x->u.io.str, x->u.io.rep,
		    (unsigned long long)(start + 1));
		nvmm_assist_io(&t.mach, &t.vcpu);
		CHECK_EQ(vmt_gpr(&t, RIP), start + 1);
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == PORT_DX &&
		    x->u.io.str && x->u.io.seg == NVMM_X64_SEG_DS &&
		    x->u.io.npc == start + 2, "dup_outd: OUTSB: str %d seg %d "
		    "npc %#llx", x->u.io.str, x->u.io.seg,
		    (unsigned long long)x->u.io.npc);
		nvmm_assist_io(&t.mach, &t.vcpu);
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT,
		    "dup_outd: checkpoint");
		if (r == NVMM_VCPU_EXIT_IO)
			nvmm_assist_io(&t.mach, &t.vcpu);
		else
			machine_setup();
		CHECK_EQ(lg.n, 2);
		CHECK_EQ(lg.e[0].data, c.in[RAX] & 0xff);
		CHECK_EQ(lg.e[1].data, t.ram[BUF64 + 0x100]);
		CHECK_EQ(vmt_gpr(&t, RSI), BUF64 + 0x101);
	}
}

/*
 * Instructions KVM has already retired at the exit (OUT, OUTS without
 * REP) must be found from the bytes before RIP, and a REP OUTS is on
 * RIP.  These sequences give the library the same bytes and registers
 * at an exit as other sequences do (fs_outs1, es_outs1: a real prefix;
 * a REP OUTS one round further): no rule can describe every exit right.
 * The fields are noted, the effects checked.
 */
struct xexit {
	bool str, rep;
	int8_t seg;
	uint64_t npc;		/* offset from the snippet start */
};

static void
run_exits(const struct xexit *xe, int n)
{
	uint64_t start = c.in[RIP], r;
	int i;

	load_state();
	for (i = 0; i < n; i++) {
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == PORT_STR,
		    "%s: exit %d: %#llx", c.name, i, (unsigned long long)r);
		if (r != NVMM_VCPU_EXIT_IO)
			break;
		note_ambig_seen++;
		if (x->u.io.str != xe[i].str || x->u.io.rep != xe[i].rep ||
		    (xe[i].str && x->u.io.seg != xe[i].seg) ||
		    x->u.io.npc != start + xe[i].npc) {
			note_ambig++;
			printf("note: %s: exit %d reported str %d rep %d seg %d "
			    "npc %#llx; the instruction: str %d rep %d seg %d "
			    "npc %#llx\n", c.name, i, x->u.io.str,
			    x->u.io.rep, x->u.io.seg,
			    (unsigned long long)x->u.io.npc, xe[i].str,
			    xe[i].rep, xe[i].seg,
			    (unsigned long long)(start + xe[i].npc));
		}
		CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0, "%s: assist %d",
		    c.name, i);
	}
	r = vmt_run(&t);
	CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT,
	    "%s: checkpoint: exit %#llx", c.name, (unsigned long long)r);
	if (r == NVMM_VCPU_EXIT_IO)
		nvmm_assist_io(&t.mach, &t.vcpu);
	else
		machine_setup();
}

static void
t_retired(void)
{
	static const struct xexit fs[1] = { { true, false, NVMM_X64_SEG_DS, 3 } };
	static const struct xexit seq[3] = {
		{ true, false, NVMM_X64_SEG_DS, 1 },	/* OUTSB */
		{ true, true, NVMM_X64_SEG_DS, 3 },	/* REP OUTSB, 1 of 2 */
		{ true, true, NVMM_X64_SEG_DS, 3 },	/* REP OUTSB, 2 of 2 */
	};
	int i;

	/* B0 64 6E: "64" is the MOV's immediate, not an FS override. */
	begin("amb_outs_fs");
	set(RDX, PORT_STR);
	set(RSI, BUF64 + 0x100);
	run_exits(fs, 1);
	CHECK_EQ(lg.n, 1);
	CHECK_EQ(lg.e[0].data, t.ram[BUF64 + 0x100]);

	/* B0 F3 6E: "F3" is the MOV's immediate, not a REP. */
	begin("amb_outs_rep");
	set(RDX, PORT_STR);
	set(RSI, BUF64 + 0x100);
	set(RCX, 7);
	run_exits(fs, 1);
	CHECK_EQ(lg.n, 1);
	CHECK_EQ(vmt_gpr(&t, RCX), 7);

	/* 6E F3 6E: OUTSB, then REP OUTSB with RCX = 2. */
	begin("seq_outs");
	set(RDX, PORT_STR);
	set(RSI, BUF64 + 0x100);
	set(RCX, 2);
	run_exits(seq, 3);
	CHECK_EQ(lg.n, 3);
	for (i = 0; i < 3 && i < lg.n; i++)
		CHECK_EQ(lg.e[i].data, t.ram[BUF64 + 0x100 + (uint64_t)i]);
	CHECK_EQ(vmt_gpr(&t, RCX), 0);
	CHECK_EQ(vmt_gpr(&t, RSI), BUF64 + 0x103);
}

/* -------------------------------------------------------------------------
 * INS and OUTS.
 * ------------------------------------------------------------------------- */

/*
 * One string case.  reg0 is the offset register's start value (RDI for
 * INS, RSI for OUTS) including any upper bits the address size ignores;
 * base is the segment base; amask the address-size mask.
 */
static void
string_case(const char *sname, bool ins, int size, int df, int rep,
    uint64_t reg0, uint64_t base, uint64_t amask, int seg, int asize)
{
	int n = rep < 0 ? 1 : rep, i;
	int64_t step = df ? -size : size;
	int ireg = ins ? RDI : RSI;

	begin("%s df=%d rep=%d %s", sname, df, rep, mode_names[mode]);
	set(RFL, 0x2 | (df ? F_DF : 0));
	set(RDX, (c.in[RDX] & ~0xffffULL) | PORT_STR);
	set(ireg, reg0);
	if (rep >= 0) {
		/* The count sits in CX, ECX or RCX.  Above CX there is junk
		   that must stay; above ECX there is junk only in 64-bit
		   mode, where only the low half is compared (see the a32
		   note); elsewhere the upper half is undefined: zero. */
		uint64_t hi = asize == 2 ? c.in[RCX] & ~0xffffULL :
		    asize == 4 && mode == M64 ? 0xffff000000000000ULL : 0;

		set(RCX, hi | (uint64_t)rep);
		expect(RCX, hi);
		if (asize == 4 && mode == M64)
			c.gmask[RCX] = 0xffffffffULL;
		c.multi = true;
	}
	if (asize == 4 && mode == M64)
		c.gmask[ireg] = 0xffffffffULL;
	fields(ins, PORT_STR, size, true, rep >= 0, seg);
	c.xasize = (uint8_t)asize;
	c.ambiguous = string_ambiguous;
	for (i = 0; i < n; i++) {
		uint64_t la = base + ((reg0 + (uint64_t)(i * step)) & amask);

		if (ins) {
			uint32_t v = in_value(i) & (uint32_t)msk(size);

			xio(PORT_STR, true, size, v);
			xwr(la, size, v);
		} else {
			xio(PORT_STR, false, size, (uint32_t)xrd(la, size));
		}
	}
	expect(ireg, (reg0 & ~amask) | ((reg0 + (uint64_t)(n * step)) & amask));
	run_case();
}

static void
t_string(void)
{
	static const int sizes[3] = { 1, 2, 4 };
	static const int reps[6] = { -1, 0, 1, 5, 100, 4096 };
	const char *p = mode_prefix[mode];
	char sname[64];
	int k, df, r, ins;

	for (ins = 0; ins < 2; ins++)
	for (k = 0; k < 3; k++)
	for (df = 0; df < 2; df++)
	for (r = 0; r < 6; r++) {
		int size = sizes[k], asize = mode_asize[mode];
		uint64_t off = df ? 0xc000 : 0x1000, reg0, amask, base;

		snprintf(sname, sizeof(sname), "%s%s%s%d", p,
		    reps[r] < 0 ? "" : "rep_", ins ? "ins" : "outs", size);
		base = ins ? es_base() : ds_base();
		switch (mode) {
		case M64:
			reg0 = BUF64 + off;
			amask = ~0ULL;
			break;
		case M32:
			reg0 = BUF64 + off;
			amask = 0xffffffffULL;
			break;
		default:
			/* Upper bits that 16-bit addressing ignores. */
			reg0 = 0x12340000ULL | off;
			amask = 0xffff;
			break;
		}
		string_case(sname, ins, size, df, reps[r], reg0, base, amask,
		    ins ? NVMM_X64_SEG_ES : NVMM_X64_SEG_DS, asize);
	}
}

/* Address-size overrides and segment overrides. */
static void
t_string_prefixes(void)
{
	uint64_t rdi, rcx, rsi;

	switch (mode) {
	case M64:
		/* 67: EDI/ECX; KVM zero-extends them on write-back (as an
		   x86 32-bit register write), NVMM keeps the upper half. */
		string_case("a32_rep_ins1", true, 1, 0, 5,
		    0xdead000000000000ULL | (BUF64 + 0x1000), 0,
		    0xffffffffULL, NVMM_X64_SEG_ES, 4);
		rdi = t.vcpu.state->gprs[RDI];
		rcx = t.vcpu.state->gprs[RCX];
		if ((rdi >> 32) == 0 && (rcx >> 32) == 0)
			note_a32++;
		string_case("a32_rep_outs2", false, 2, 0, 3,
		    0xbeef000000000000ULL | (BUF64 + 0x2000), 0,
		    0xffffffffULL, NVMM_X64_SEG_DS, 4);
		rsi = t.vcpu.state->gprs[RSI];
		if ((rsi >> 32) == 0)
			note_a32++;

		/* FS and GS add their base in long mode; ES does not, and
		   INS ignores overrides. */
		set_seg(NVMM_X64_SEG_FS, 0, BUF64);
		/* A plain OUTS is retired at the exit, and "64 6E" before
		   RIP may be an FS override or the end of the instruction
		   before (t_retired): its fields are noted. */
		string_ambiguous = true;
		string_case("fs_outs1", false, 1, 0, -1, 0x3000, BUF64, ~0ULL,
		    NVMM_X64_SEG_FS, 8);
		string_ambiguous = false;
		string_case("fs_rep_outs4", false, 4, 0, 5, 0x3000, BUF64,
		    ~0ULL, NVMM_X64_SEG_FS, 8);
		string_case("fs_rep_outs4", false, 4, 1, 5, 0x3100, BUF64,
		    ~0ULL, NVMM_X64_SEG_FS, 8);
		set_seg(NVMM_X64_SEG_FS, 0, 0x5000);
		string_case("fs_ins1", true, 1, 0, -1, BUF64 + 0x2000, 0, ~0ULL,
		    NVMM_X64_SEG_ES, 8);
		set_seg(NVMM_X64_SEG_FS, 0, 0);
		set_seg(NVMM_X64_SEG_GS, 0, BUF64 + 0x100);
		string_case("gs_rep_outs2", false, 2, 0, 3, 0x3000,
		    BUF64 + 0x100, ~0ULL, NVMM_X64_SEG_GS, 8);
		set_seg(NVMM_X64_SEG_GS, 0, 0);
		set_seg(NVMM_X64_SEG_ES, 0x10, 0x5000);
		string_ambiguous = true;
		string_case("es_outs1", false, 1, 0, -1, BUF64 + 0x2000, 0,
		    ~0ULL, NVMM_X64_SEG_ES, 8);
		string_ambiguous = false;
		set_seg(NVMM_X64_SEG_ES, 0x10, 0);
		break;
	case M32:
		/* 67: DI/CX only; the upper halves stay. */
		set_seg(NVMM_X64_SEG_ES, 0x10, BUF64);
		string_case("p32_a16_rep_ins1", true, 1, 0, 5, 0x55550100,
		    BUF64, 0xffff, NVMM_X64_SEG_ES, 2);
		set_seg(NVMM_X64_SEG_ES, 0x10, 0);
		set_seg(NVMM_X64_SEG_DS, 0x10, BUF64);
		string_case("p32_a16_rep_outs2", false, 2, 1, 3, 0x66660200,
		    BUF64, 0xffff, NVMM_X64_SEG_DS, 2);
		set_seg(NVMM_X64_SEG_DS, 0x10, 0);
		/* ES override with its own base. */
		set_seg(NVMM_X64_SEG_ES, 0x10, 0x10000);
		string_case("p32_es_rep_outs1", false, 1, 0, 5,
		    BUF64 - 0x10000 + 0x2000, 0x10000, 0xffffffffULL,
		    NVMM_X64_SEG_ES, 4);
		set_seg(NVMM_X64_SEG_ES, 0x10, 0);
		break;
	default:
		string_case("r_a32_rep_ins1", true, 1, 0, 5, 0x1000, es_base(),
		    0xffffffffULL, NVMM_X64_SEG_ES, 4);
		string_case("r_a32_rep_outs2", false, 2, 0, 3, 0x2000,
		    ds_base(), 0xffffffffULL, NVMM_X64_SEG_DS, 4);
		string_case("r_es_rep_outs1", false, 1, 0, 5, 0x3000,
		    es_base(), 0xffff, NVMM_X64_SEG_ES, 2);
		break;
	}
}

/* INS: guest RAM holds the data when the assist returns (NVMM writes it
   in the assist), before the client reads any register. */
static void
t_ins_after_assist(void)
{
	uint64_t r;
	int k, n, j, guard;

	for (k = 0; k < 2; k++) {
		n = k == 0 ? 1 : 5;
		begin("%s after-assist", k == 0 ? "ins2" : "rep_ins2");
		set(RDX, PORT_STR);
		set(RDI, BUF64 + 0x100);
		set(RCX, (uint64_t)n);
		load_state();
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == PORT_STR,
		    "%s: exit %#llx", c.name, (unsigned long long)r);
		if (r != NVMM_VCPU_EXIT_IO) {
			machine_setup();
			continue;
		}
		CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0, "%s: assist",
		    c.name);
		CHECK(lg.n == n, "%s: %d callbacks", c.name, lg.n);
		for (j = 0; j < lg.n && j < n; j++) {
			uint16_t v;

			memcpy(&v, t.ram + BUF64 + 0x100 + 2 * j, 2);
			CHECK(v == (uint16_t)in_value(j), "%s: element %d not "
			    "in RAM after the assist: %#x", c.name, j, v);
		}
		for (guard = 0; guard < 10; guard++) {
			r = vmt_run(&t);
			if (r != NVMM_VCPU_EXIT_IO)
				break;
			nvmm_assist_io(&t.mach, &t.vcpu);
			if (x->u.io.port == CHECKPOINT)
				break;
		}
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT,
		    "%s: checkpoint", c.name);
		if (r != NVMM_VCPU_EXIT_IO)
			machine_setup();
		CHECK_EQ(vmt_gpr(&t, RDI), BUF64 + 0x100 + 2 * (uint64_t)n);
	}
}

/*
 * An interrupt injected right after the assist of an IN (QEMU's order:
 * assist, inject, run) arrives after the IN: the handler sees RIP past
 * it and the value in RAX.  Once without looking at the registers (KVM
 * finishes the IN in that run), once with.
 */
#define ISR_VEC		0x30
#define ISR_PORT	0xE1

static void
t_inject_after_in(void)
{
	uint8_t *e = t.ram + VMT_IDT + 16 * ISR_VEC;
	uint64_t h = GVA(io_isr), r, want;
	int peek, k;

	memset(e, 0, 16);
	e[0] = (uint8_t)h;
	e[1] = (uint8_t)(h >> 8);
	e[2] = 0x08;				/* selector */
	e[5] = 0x8e;				/* P, DPL0, interrupt gate */
	e[6] = (uint8_t)(h >> 16);
	e[7] = (uint8_t)(h >> 24);
	for (peek = 0; peek < 2; peek++)
	for (k = 0; k < 2; k++) {
		begin("%s inject peek=%d", k == 0 ? "in4" : "ind2", peek);
		set(RFL, 0x202);
		set(RAX, 0xfedcba9876543210ULL);
		set(RDX, PORT_DX);
		want = merge(c.in[RAX], in_value(0), k == 0 ? 4 : 2);
		vgetstate(NVMM_X64_STATE_SEGS);
		t.vcpu.state->segs[NVMM_X64_SEG_IDT].base = VMT_IDT;
		t.vcpu.state->segs[NVMM_X64_SEG_IDT].limit = 16 * ISR_VEC + 15;
		vsetstate(NVMM_X64_STATE_SEGS);
		load_state();
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.in, "%s: exit %#llx",
		    c.name, (unsigned long long)r);
		if (r != NVMM_VCPU_EXIT_IO) {
			machine_setup();
			continue;
		}
		CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0, "%s: assist",
		    c.name);
		if (peek)
			CHECK_EQ(vmt_gpr(&t, RIP), rip_of(c.s->end) - 2);
		t.vcpu.event->type = NVMM_VCPU_EVENT_INTR;
		t.vcpu.event->vector = ISR_VEC;
		t.vcpu.event->u.excp.error = 0;
		CHECK(nvmm_vcpu_inject(&t.mach, &t.vcpu) == 0, "%s: inject",
		    c.name);
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == ISR_PORT,
		    "%s: exit %#llx, expected the handler", c.name,
		    (unsigned long long)r);
		if (r == NVMM_VCPU_EXIT_IO && x->u.io.port == ISR_PORT) {
			nvmm_assist_io(&t.mach, &t.vcpu);
			CHECK(vmt_gpr(&t, RDX) == rip_of(c.s->end) - 2, "%s: "
			    "the interrupt came at RIP %#llx, expected %#llx "
			    "after the IN", c.name,
			    (unsigned long long)vmt_gpr(&t, RDX),
			    (unsigned long long)(rip_of(c.s->end) - 2));
			CHECK(vmt_gpr(&t, RAX) == want, "%s: RAX %#llx, "
			    "expected %#llx", c.name,
			    (unsigned long long)vmt_gpr(&t, RAX),
			    (unsigned long long)want);
		}
		machine_setup();	/* the handler halts; IDT limit 0 */
	}
}

/* -------------------------------------------------------------------------
 * String I/O with an MMIO memory operand.
 * ------------------------------------------------------------------------- */

/*
 * KVM does the I/O and the memory access as separate steps, each with its
 * own exit: INS is an IO exit (assist_io: io callbacks) and then MEMORY
 * exits (assist_mem: mem callbacks); OUTS is a MEMORY exit first.  NVMM
 * does both in one IO exit, the memory part through the mem callback.
 * The effects must be those of x86; the order is printed.
 */
static void
t_string_mmio(void)
{
	static const struct { const char *n; bool ins; int size, count; }
	    cases[] = {
		{ "rep_ins1", true, 1, 3 },
		{ "ins2", true, 2, -1 },
		{ "rep_ins4", true, 4, 2 },
		{ "rep_outs1", false, 1, 3 },
		{ "outs4", false, 4, -1 },
	};
	size_t ci;

	for (ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
		int size = cases[ci].size, n = cases[ci].count < 0 ? 1 :
		    cases[ci].count, i, guard, nio_exits = 0, nmem_exits = 0;
		uint64_t gpa = DEV_GPA + 0x10, r;
		uint8_t dev0[DEV_SIZE];
		char exits[64] = "";
		bool reached = false;

		begin("%s mmio", cases[ci].n);
		memcpy(dev0, dev, sizeof(dev0));
		set(RDX, PORT_STR);
		set(cases[ci].ins ? RDI : RSI, gpa);
		if (cases[ci].count >= 0)
			set(RCX, (uint64_t)n);
		load_state();
		for (guard = 0; guard < 200; guard++) {
			r = vmt_run(&t);
			if (r == NVMM_VCPU_EXIT_IO &&
			    x->u.io.port == CHECKPOINT) {
				nvmm_assist_io(&t.mach, &t.vcpu);
				reached = true;
				break;
			}
			if (strlen(exits) < sizeof(exits) - 4)
				strcat(exits, r == NVMM_VCPU_EXIT_IO ? "IO " :
				    r == NVMM_VCPU_EXIT_MEMORY ? "MEM " : "? ");
			if (r == NVMM_VCPU_EXIT_IO) {
				nio_exits++;
				/* (str of a plain OUTS: see t_string) */
				CHECK(x->u.io.port == PORT_STR && x->u.io.in ==
				    cases[ci].ins, "%s: exit fields", c.name);
				CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0,
				    "%s: assist_io", c.name);
			} else if (r == NVMM_VCPU_EXIT_MEMORY) {
				nmem_exits++;
				CHECK(x->u.mem.gpa >= gpa &&
				    x->u.mem.gpa < gpa + (uint64_t)(n * size),
				    "%s: MEMORY exit gpa %#llx", c.name,
				    (unsigned long long)x->u.mem.gpa);
				CHECK(nvmm_assist_mem(&t.mach, &t.vcpu) == 0,
				    "%s: assist_mem", c.name);
			} else {
				CHECK(0, "%s: exit %#llx", c.name,
				    (unsigned long long)r);
				break;
			}
		}
		CHECK(reached, "%s: checkpoint not reached", c.name);
		if (!reached) {
			machine_setup();
			continue;
		}
		CHECK(nio_exits >= 1, "%s: no IO exit", c.name);
		CHECK_EQ(lg.n, n);
		/* KVM may write several INS elements in one access. */
		CHECK(lg.nmem >= 1 && lg.nmem <= n, "%s: %d mem callbacks for "
		    "%d elements", c.name, lg.nmem, n);
		for (i = 0; i < n && i < lg.n; i++) {
			uint64_t a = gpa + (uint64_t)(i * size), v = 0;
			int b;

			for (b = 0; b < size; b++)
				v |= (uint64_t)(cases[ci].ins ? dev[a - DEV_GPA +
				    (uint64_t)b] : dev0[a - DEV_GPA +
				    (uint64_t)b]) << (8 * b);
			CHECK(lg.e[i].port == PORT_STR &&
			    lg.e[i].in == cases[ci].ins &&
			    lg.e[i].size == size, "%s: io call %d", c.name, i);
			if (cases[ci].ins)
				CHECK(v == (in_value(i) & msk(size)), "%s: "
				    "device at %#llx = %#llx, expected %#llx",
				    c.name, (unsigned long long)a,
				    (unsigned long long)v,
				    (unsigned long long)(in_value(i) &
				    msk(size)));
			else
				CHECK(lg.e[i].data == v, "%s: io call %d data "
				    "%#x, expected the device's %#llx", c.name,
				    i, lg.e[i].data, (unsigned long long)v);
		}
		if (!cases[ci].ins)
			CHECK(memcmp(dev, dev0, sizeof(dev0)) == 0,
			    "%s: OUTS wrote the device", c.name);
		vgetstate(NVMM_X64_STATE_GPRS);
		CHECK_EQ(t.vcpu.state->gprs[cases[ci].ins ? RDI : RSI],
		    gpa + (uint64_t)(n * size));
		if (cases[ci].count >= 0)
			CHECK_EQ(t.vcpu.state->gprs[RCX], 0);
		CHECK_EQ(t.vcpu.state->gprs[RIP], rip_of(c.s->end));
		printf("note: %s into/from MMIO: exits %s(%d IO, %d MEMORY), "
		    "callbacks %s\n", cases[ci].n, exits, nio_exits,
		    nmem_exits, lg.seq);
	}
}

/* -------------------------------------------------------------------------
 * Stopping a long REP from another thread.
 * ------------------------------------------------------------------------- */

static atomic_int assists;	/* assists done by the VCPU thread */
static atomic_int go;		/* the VCPU thread asks for the stop */
static atomic_int at_stop;	/* assists when nvmm_vcpu_stop returned */

static void *
stopper(void *arg)
{
	(void)arg;
	while (!atomic_load(&go))
		;
	if (nvmm_vcpu_stop(&t.vcpu) == -1)
		perror("nvmm_vcpu_stop");
	atomic_store(&at_stop, atomic_load(&assists));
	return NULL;
}

static void
t_stop(bool ins)
{
	const uint64_t count = ins ? 0x100000 : 20000, buf = 0x200000;
	uint64_t r = 0, rcx, done, i;
	pthread_t th;
	int guard, stopped_after;
	bool stopped = false, finished = false;

	begin("%s stop", ins ? "rep_ins1" : "rep_outs1");
	lg.count_only = true;
	set(RDX, PORT_STOP);
	set(ins ? RDI : RSI, buf);
	set(RCX, count);
	memset(t.ram + buf, 0, count);
	load_state();
	atomic_store(&assists, 0);
	atomic_store(&go, 0);
	atomic_store(&at_stop, -1);
	if (pthread_create(&th, NULL, stopper, NULL) != 0) {
		perror("pthread_create");
		exit(1);
	}
	for (guard = 0; guard < 2000000; guard++) {
		r = vmt_run(&t);
		if (r == NVMM_VCPU_EXIT_STOPPED) {
			stopped = true;
			break;
		}
		if (r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT) {
			/* Done before the stop: it must still come, at the
			   next run, without the guest running on. */
			nvmm_assist_io(&t.mach, &t.vcpu);
			finished = true;
			break;
		}
		if (r != NVMM_VCPU_EXIT_IO || x->u.io.port != PORT_STOP) {
			CHECK(0, "%s: exit %#llx", c.name,
			    (unsigned long long)r);
			break;
		}
		if (nvmm_assist_io(&t.mach, &t.vcpu) == -1) {
			CHECK(0, "%s: assist: %s", c.name, strerror(errno));
			break;
		}
		atomic_fetch_add(&assists, 1);
		if (atomic_load(&assists) == 5)
			atomic_store(&go, 1);
	}
	atomic_store(&go, 1);
	pthread_join(th, NULL);
	if (finished && !stopped) {
		if (nvmm_vcpu_run(&t.mach, &t.vcpu) == 0 &&
		    x->reason == NVMM_VCPU_EXIT_STOPPED)
			stopped = true;
	}
	CHECK(stopped, "%s: no STOPPED exit", c.name);
	if (!stopped) {
		machine_setup();
		return;
	}
	errno = 0;
	CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == -1 && errno == EINVAL,
	    "%s: assist_io after STOPPED: errno %d", c.name, errno);
	stopped_after = atomic_load(&assists) - atomic_load(&at_stop);
	CHECK(stopped_after >= 0 && stopped_after <= 2, "%s: %d assists "
	    "between nvmm_vcpu_stop and the STOPPED exit", c.name,
	    stopped_after);

	/* Stopped midway: the registers agree with what was transferred. */
	vgetstate(NVMM_X64_STATE_GPRS);
	rcx = t.vcpu.state->gprs[RCX];
	done = (uint64_t)lg.n;
	printf("note: %s: STOPPED %d assists after nvmm_vcpu_stop, after "
	    "%llu of %llu elements\n", c.name, stopped_after,
	    (unsigned long long)done, (unsigned long long)count);
	if (!finished) {
		CHECK(rcx + done == count, "%s: RCX %#llx after %llu elements",
		    c.name, (unsigned long long)rcx, (unsigned long long)done);
		CHECK_EQ(t.vcpu.state->gprs[ins ? RDI : RSI], buf + done);
		CHECK_EQ(t.vcpu.state->gprs[RIP], c.in[RIP]);
	}

	/* Then it runs to its end. */
	for (guard = 0; guard < 2000000 && !finished; guard++) {
		r = vmt_run(&t);
		if (r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT) {
			nvmm_assist_io(&t.mach, &t.vcpu);
			finished = true;
			break;
		}
		if (r != NVMM_VCPU_EXIT_IO || nvmm_assist_io(&t.mach,
		    &t.vcpu) == -1) {
			CHECK(0, "%s: exit %#llx after the stop", c.name,
			    (unsigned long long)r);
			break;
		}
	}
	CHECK(finished, "%s: did not finish", c.name);
	if (!finished) {
		machine_setup();
		return;
	}
	CHECK_EQ(lg.n, count);
	CHECK_EQ(vmt_gpr(&t, RCX), 0);
	CHECK_EQ(vmt_gpr(&t, ins ? RDI : RSI), buf + count);
	if (ins) {
		for (i = 0; i < count; i++)
			if (t.ram[buf + i] != (uint8_t)in_value((int)i))
				break;
		CHECK(i == count, "%s: byte %llu is %#x, expected %#x", c.name,
		    (unsigned long long)i, i < count ? t.ram[buf + i] : 0,
		    i < count ? (uint8_t)in_value((int)i) : 0);
	}
}

/* -------------------------------------------------------------------------
 * Errors.
 * ------------------------------------------------------------------------- */

static void
t_errors(void)
{
	struct nvmm_assist_callbacks noio = { NULL, mem_cb };
	uint64_t r;
	int ret;

	/* After HALTED. */
	begin("hlt1");
	load_state();
	r = vmt_run(&t);
	CHECK_EQ(r, NVMM_VCPU_EXIT_HALTED);
	errno = 0;
	ret = nvmm_assist_io(&t.mach, &t.vcpu);
	CHECK(ret == -1 && errno == EINVAL, "assist_io after HALTED: %d, "
	    "errno %d", ret, errno);
	CHECK_EQ(lg.n, 0);
	r = vmt_run(&t);
	CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT,
	    "hlt1: checkpoint");
	if (r == NVMM_VCPU_EXIT_IO)
		nvmm_assist_io(&t.mach, &t.vcpu);

	/* After MEMORY: EINVAL, and the MMIO load still completes. */
	begin("mmio_ld");
	set(RBX, DEV_GPA + 0x20);
	load_state();
	r = vmt_run(&t);
	CHECK_EQ(r, NVMM_VCPU_EXIT_MEMORY);
	errno = 0;
	ret = nvmm_assist_io(&t.mach, &t.vcpu);
	CHECK(ret == -1 && errno == EINVAL, "assist_io after MEMORY: %d, "
	    "errno %d", ret, errno);
	CHECK_EQ(lg.n, 0);
	CHECK(nvmm_assist_mem(&t.mach, &t.vcpu) == 0, "mmio_ld: assist_mem");
	CHECK_EQ(vmt_gpr(&t, RAX), (uint64_t)dev[0x20] | (uint64_t)dev[0x21] << 8 |
	    (uint64_t)dev[0x22] << 16 | (uint64_t)dev[0x23] << 24);
	r = vmt_run(&t);
	CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT,
	    "mmio_ld: checkpoint");
	if (r == NVMM_VCPU_EXIT_IO)
		nvmm_assist_io(&t.mach, &t.vcpu);

	/* No io callback: EINVAL, nothing done; then it works. */
	begin("in1");
	set(RAX, 0x1111);
	load_state();
	CHECK(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    &noio) == 0, "configure without io");
	r = vmt_run(&t);
	CHECK_EQ(r, NVMM_VCPU_EXIT_IO);
	errno = 0;
	ret = nvmm_assist_io(&t.mach, &t.vcpu);
	CHECK(ret == -1 && errno == EINVAL, "assist_io without an io "
	    "callback: %d, errno %d", ret, errno);
	CHECK_EQ(vmt_gpr(&t, RIP), c.in[RIP]);
	CHECK_EQ(vmt_gpr(&t, RAX), 0x1111);
	CHECK(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    &cbs) == 0, "configure with io");
	CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0, "assist_io retried: %s",
	    strerror(errno));
	CHECK_EQ(lg.n, 1);
	CHECK_EQ(vmt_gpr(&t, RAX), 0x1100 | (in_value(0) & 0xff));
	CHECK_EQ(vmt_gpr(&t, RIP), c.in[RIP] + 2);
	r = vmt_run(&t);
	CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == CHECKPOINT,
	    "in1: checkpoint");
	if (r == NVMM_VCPU_EXIT_IO)
		nvmm_assist_io(&t.mach, &t.vcpu);
}

/* -------------------------------------------------------------------------
 * Main.
 * ------------------------------------------------------------------------- */

int
main(void)
{
	vmt_init_or_skip();

	machine_up(M64);
	t_inout();
	t_inout64();
	t_retired();
	t_string();
	t_string_prefixes();
	t_string_mmio();
	t_ins_after_assist();
	t_inject_after_in();
	t_stop(true);
	t_stop(false);
	t_errors();
	vmt_destroy(&t);

	machine_up(M32);
	t_inout();
	t_string();
	t_string_prefixes();
	vmt_destroy(&t);

	machine_up(M16);
	t_inout();
	t_string();
	t_string_prefixes();
	vmt_destroy(&t);

	if (note_out_rip > 0)
		printf("note: %d of %d exits of OUT or OUTS without REP showed "
		    "RIP already past the instruction (KVM retires them before "
		    "exiting; NVMM leaves RIP on it)\n", note_out_rip,
		    note_out_seen);
	if (note_asize > 0)
		printf("note: %d OUT exits with a 67 prefix reported the "
		    "default address size (the library cannot see the "
		    "instruction KVM already retired)\n", note_asize);
	if (note_a32 > 0)
		printf("note: 67-prefixed string I/O in 64-bit mode "
		    "zero-extended RSI/RDI/RCX (KVM); NVMM keeps the upper "
		    "halves\n");
	printf("note: %d of %d exits of ambiguous OUTS sequences were "
	    "described wrongly (see above)\n", note_ambig, note_ambig_seen);
	return vmt_done("t_assist_io");
}
