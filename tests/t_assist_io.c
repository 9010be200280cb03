/* t_assist_io.c - nvmm_assist_io on real guests in long, 32-bit protected and real mode: exit fields, IN/OUT, INS/OUTS with REP, segments, MMIO operands, stop, errors. */

/*
 * Each case points RIP at a guest snippet "<instruction>; out %al, $0xF0"
 * (t_assist_io_guest.S), loads the registers, runs to the checkpoint OUT
 * completing every I/O exit with nvmm_assist_io, and compares with the
 * x86 result computed here (the harness: assist_harness.h):
 *  - the fields of every I/O exit of the instruction (libnvmm(3),
 *    NVMM_VCPU_EXIT_IO) and RIP at the exit and after the assist,
 *  - the io callback log: one call per element, ascending, with the data,
 *  - all GPRs, RIP and RFLAGS, and the RAM around the string buffers.
 * IN callbacks answer a distinct value per call so that the order of the
 * elements in memory is checked too.  What KVM makes impossible to match
 * (RIP at an OUT exit, fields of instructions it retired before exiting)
 * is printed on "note:" lines instead of failing.
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "assist_harness.h"
#include "vmtest.h"

#define PORT_IMM	0x40
#define PORT_DUP	0x44
#define PORT_DX		0x1234
#define PORT_STR	0x5678
#define PORT_STOP	0x77

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
static uint8_t buf_x[BUF_SIZE];
static uint8_t dev[DEV_SIZE];
/* The string buffers, compared after each case; where depends on the mode. */
static struct ah_region buffer = { "buffer", 0, BUF_SIZE, NULL, buf_x };

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

	if (io->port == AH_CHECKPOINT && !io->in)
		return;		/* not part of any case */
	k = lg.n++;
	ah_cb_enter(io->mach, io->vcpu);
	if ((io->size != 1 && io->size != 2 && io->size != 4) ||
	    io->data == NULL) {
		ah.badsize++;
		return;
	}
	if (io->in) {
		v = in_value(k) & (uint32_t)ah_msk((int)io->size);
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
		ah.badsize++;
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

/* What the harness does not know of a case: the expected io calls and
   the expected fields of the instruction's exits. */
static struct {
	struct io_ent x[MAXIO];
	int nx;
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

/* ah_begin's second half: the defaults of this test. */
static void
prepare(void)
{
	size_t n;

	memset(&c, 0, sizeof(c));
	memset(&lg, 0, sizeof(lg));
	/* Address registers: no junk where the architecture leaves the
	   upper halves undefined (32-bit code). */
	if (mode == M32) {
		ah_set(RSI, ah.in[RSI] & 0xffffffffULL);
		ah_set(RDI, ah.in[RDI] & 0xffffffffULL);
		ah_set(RCX, ah.in[RCX] & 0xffffffffULL);
	}
	if (mode == M16)
		ah_set(RSP, 0xf000);

	/* Default exit fields: a one-instruction snippet. */
	c.xasize = (uint8_t)mode_asize[mode];
	c.xnpc = ah_cp_rip();
	c.xseg = -1;

	for (n = 0; n < DEV_SIZE; n++)
		dev[n] = ah_pattern(DEV_GPA + n);
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
	c.x[c.nx].data = data & (uint32_t)ah_msk(size);
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

/* Exit k of an instruction whose fields cannot be known: printed when
   they are not those of the instruction. */
static void
note_fields(int k, const struct nvmm_x86_exit_io *io, bool str, bool rep,
    int seg, uint64_t npc)
{
	note_ambig_seen++;
	if (io->str == str && io->rep == rep && io->npc == npc &&
	    (!str || io->seg == seg))
		return;
	note_ambig++;
	printf("note: %s: exit %d reported str %d rep %d seg %d npc %#llx; "
	    "the instruction: str %d rep %d seg %d npc %#llx\n", ah.name, k,
	    io->str, io->rep, io->seg, (unsigned long long)io->npc, str, rep,
	    seg, (unsigned long long)npc);
}

/* Checks one exit of the instruction against the expected fields;
   RIP too unless rip is NULL. */
static void
check_exit(int k, const uint64_t *rip)
{
	const struct nvmm_x86_exit_io *io = &x->u.io;
	uint64_t start = ah.in[RIP];

	CHECK(io->in == c.xin && io->port == c.xport &&
	    io->operand_size == c.xsize, "%s: exit %d: in %d port %#x size "
	    "%u, expected in %d port %#x size %u", ah.name, k, io->in,
	    io->port, io->operand_size, c.xin, c.xport, c.xsize);
	if (c.ambiguous) {
		note_fields(k, io, c.xstr, c.xrep, c.xseg, c.xnpc);
		return;
	}
	CHECK(io->str == c.xstr && io->rep == c.xrep && io->npc == c.xnpc,
	    "%s: exit %d: str %d rep %d npc %#llx, expected str %d rep %d "
	    "npc %#llx", ah.name, k, io->str, io->rep,
	    (unsigned long long)io->npc, c.xstr, c.xrep,
	    (unsigned long long)c.xnpc);
	if (c.asize_note) {
		if (io->address_size != c.xasize)
			note_asize++;
	} else {
		CHECK(io->address_size == c.xasize, "%s: exit %d: "
		    "address_size %u, expected %u", ah.name, k,
		    io->address_size, c.xasize);
	}
	if (c.xstr)
		CHECK(io->seg == c.xseg, "%s: exit %d: seg %d, expected %d",
		    ah.name, k, io->seg, c.xseg);
	/* NVMM: RIP on the instruction.  KVM retires OUT and OUTS without
	   REP before exiting (noted). */
	if (rip == NULL) {
		/* not looked at */
	} else if (c.xin || c.xrep) {
		CHECK(*rip == start, "%s: exit %d: RIP %#llx, expected the "
		    "instruction %#llx", ah.name, k, (unsigned long long)*rip,
		    (unsigned long long)start);
	} else {
		note_out_seen++;
		if (*rip != start)
			note_out_rip++;
	}
}

static int nexits;	/* I/O exits of the case's instruction */

/* ah_run's handler: the I/O exits of the instruction. */
static int
io_exit(uint64_t r)
{
	uint64_t rip;

	if (r != NVMM_VCPU_EXIT_IO)
		return AH_UNEXPECTED;
	if (ah.peek) {
		rip = vmt_gpr(&t, RIP);
		check_exit(nexits, &rip);
	} else {
		check_exit(nexits, NULL);
	}
	nexits++;
	if (nvmm_assist_io(&t.mach, &t.vcpu) == -1) {
		CHECK(0, "%s: nvmm_assist_io: %s", ah.name, strerror(errno));
		return AH_FAILED;
	}
	if (!ah.peek)
		return AH_NEXT;
	rip = vmt_gpr(&t, RIP);
	if (ah.multi)
		CHECK(rip == ah.start || rip == c.xnpc, "%s: RIP after the "
		    "assist %#llx, neither the instruction nor npc", ah.name,
		    (unsigned long long)rip);
	else
		CHECK(rip == c.xnpc, "%s: RIP after the assist %#llx, "
		    "expected npc %#llx", ah.name, (unsigned long long)rip,
		    (unsigned long long)c.xnpc);
	return AH_NEXT;
}

/* Runs the case to its checkpoint and compares everything. */
static void
run_case(void)
{
	int i;

	nexits = 0;
	if (!ah_run(io_exit))
		return;

	if (c.nx == 0)
		CHECK(nexits == 0, "%s: %d I/O exits, expected none", ah.name,
		    nexits);
	else if (!ah.multi)
		CHECK(nexits == 1, "%s: %d I/O exits, expected 1", ah.name,
		    nexits);
	else
		CHECK(nexits >= 1 && nexits <= c.nx, "%s: %d I/O exits for %d "
		    "elements", ah.name, nexits, c.nx);

	ah_check_callbacks();
	/* In the callbacks of IN, INS and REP OUTS, RIP is on the
	   instruction, as NVMM; OUT and plain OUTS are noted. */
	if (c.xin || c.xrep)
		CHECK(ah.rip_moved == 0, "%s: RIP moved in %d callbacks",
		    ah.name, ah.rip_moved);
	CHECK(lg.n == c.nx, "%s: %d io callbacks, expected %d", ah.name, lg.n,
	    c.nx);
	for (i = 0; i < c.nx && i < lg.n; i++) {
		const struct io_ent *g = &lg.e[i], *e = &c.x[i];

		if (g->port != e->port || g->in != e->in ||
		    g->size != e->size || g->data != e->data) {
			CHECK(0, "%s: io call %d: port %#x in %d size %u data "
			    "%#x, expected port %#x in %d size %u data %#x",
			    ah.name, i, g->port, g->in, g->size, g->data,
			    e->port, e->in, e->size, e->data);
			break;
		}
	}
	CHECK(lg.nmem == 0, "%s: %d mem callbacks", ah.name, lg.nmem);
	ah_check_state();
}

/* -------------------------------------------------------------------------
 * Machines.
 * ------------------------------------------------------------------------- */

/* (Re)loads the whole VCPU state of the current mode. */
static void
machine_setup(void)
{
	switch (mode) {
	case M64:
		vmt_setup_long(&t, VMT_CODE);
		ah_env.csbase = 0;
		buffer.gpa = BUF64;
		break;
	case M32:
		vmt_setup_prot32(&t, VMT_CODE);
		ah_env.csbase = 0;
		buffer.gpa = BUF64;
		break;
	default:
		vmt_setup_real(&t, VMT_CODE);
		ah_env.csbase = VMT_CODE;
		buffer.gpa = BUF16;
		ah_set_seg(NVMM_X64_SEG_ES, R_ES_SEL, (uint64_t)R_ES_SEL << 4);
		ah_set_seg(NVMM_X64_SEG_DS, R_DS_SEL, (uint64_t)R_DS_SEL << 4);
		break;
	}
	buffer.mem = t.ram + buffer.gpa;
}

static void
machine_up(int m)
{
	ah_env = (struct ah_env){ .test = "t_assist_io", .vm = &t,
	    AH_GUEST_ENV, .regions = &buffer, .nregions = 1,
	    .prepare = prepare, .recover = machine_setup };
	ah_machine_up(&cbs);
	x = t.vcpu.exit;
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

		ah_begin("%s%s%s%d %s", p, in ? "in" : "out", dx ? "d" : "",
		    size, mode_names[mode]);
		ah_set(RAX, 0xfedcba9876543210ULL);
		ah_set(RDX, (ah.in[RDX] & ~0xffffULL) | PORT_DX);
		fields(in, port, size, false, false, -1);
		if (in) {
			uint32_t v = in_value(0) & (uint32_t)ah_msk(size);

			xio(port, true, size, v);
			/* Sizes 1, 2 merge; size 4 zero-extends. */
			ah_expect(RAX, ah_merge(ah.in[RAX], v, size));
		} else {
			xio(port, false, size, (uint32_t)ah.in[RAX]);
		}
		run_case();
	}

	/* Two alike OUTs in a row: each exit is its own instruction. */
	ah_begin("%sdup_out %s", p, mode_names[mode]);
	fields(false, PORT_DUP, 1, false, false, -1);
	c.xnpc = ah.in[RIP] + 2;
	xio(PORT_DUP, false, 1, (uint32_t)ah.in[RAX]);
	xio(PORT_DUP, false, 1, (uint32_t)ah.in[RAX]);
	ah.multi = true;	/* two exits, checked one by one below */
	{
		uint64_t r, start = ah.in[RIP];
		int i;

		ah_load_gprs();
		for (i = 0; i < 2; i++) {
			r = vmt_run(&t);
			CHECK(r == NVMM_VCPU_EXIT_IO &&
			    x->u.io.port == PORT_DUP, "%s: exit %d %#llx",
			    ah.name, i, (unsigned long long)r);
			if (r != NVMM_VCPU_EXIT_IO)
				break;
			CHECK(x->u.io.npc == start + 2 * (uint64_t)(i + 1) &&
			    !x->u.io.str && !x->u.io.rep, "%s: OUT %d: npc "
			    "%#llx str %d rep %d, expected npc %#llx str 0 "
			    "rep 0", ah.name, i,
			    (unsigned long long)x->u.io.npc, x->u.io.str,
			    x->u.io.rep,
			    (unsigned long long)(start + 2 * (uint64_t)(i + 1)));
			CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0, "%s: "
			    "assist %d", ah.name, i);
			CHECK_EQ(vmt_gpr(&t, RIP), start + 2 * (uint64_t)(i + 1));
		}
		ah_checkpoint();
		CHECK_EQ(lg.n, 2);
	}
}

/* Prefixes and forms that only exist in 64-bit code. */
static void
t_inout64(void)
{
	uint32_t v;

	/* 67 on IN: the address size changes, nothing else. */
	ah_begin("in4_a32");
	ah_set(RAX, 0xfedcba9876543210ULL);
	fields(true, PORT_IMM, 4, false, false, -1);
	c.xasize = 4;
	v = in_value(0);
	xio(PORT_IMM, true, 4, v);
	ah_expect(RAX, v);
	run_case();

	/* REX.W does not widen IN. */
	ah_begin("in4_rexw");
	ah_set(RAX, 0xfedcba9876543210ULL);
	fields(true, PORT_IMM, 4, false, false, -1);
	v = in_value(0);
	xio(PORT_IMM, true, 4, v);
	ah_expect(RAX, v);
	run_case();

	/* 67 on OUT: KVM has moved RIP past it already, so the library
	   cannot see the prefix; address_size is noted, not checked. */
	ah_begin("out1_a32");
	fields(false, PORT_IMM, 1, false, false, -1);
	c.xasize = 4;
	c.asize_note = true;
	xio(PORT_IMM, false, 1, (uint32_t)ah.in[RAX]);
	run_case();

	/* OUT DX then OUTS to the same port. */
	ah_begin("dup_outd");
	ah_set(RDX, PORT_DX);
	ah_set(RSI, BUF64 + 0x100);
	{
		uint64_t r, start = ah.in[RIP];

		ah_load_gprs();
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
		ah_checkpoint();
		CHECK_EQ(lg.n, 2);
		CHECK_EQ(lg.e[0].data, ah.in[RAX] & 0xff);
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
	uint64_t start = ah.in[RIP], r;
	int i;

	ah_load_gprs();
	for (i = 0; i < n; i++) {
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == PORT_STR,
		    "%s: exit %d: %#llx", ah.name, i, (unsigned long long)r);
		if (r != NVMM_VCPU_EXIT_IO)
			break;
		note_fields(i, &x->u.io, xe[i].str, xe[i].rep, xe[i].seg,
		    start + xe[i].npc);
		CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0, "%s: assist %d",
		    ah.name, i);
	}
	ah_checkpoint();
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
	ah_begin("amb_outs_fs");
	ah_set(RDX, PORT_STR);
	ah_set(RSI, BUF64 + 0x100);
	run_exits(fs, 1);
	CHECK_EQ(lg.n, 1);
	CHECK_EQ(lg.e[0].data, t.ram[BUF64 + 0x100]);

	/* B0 F3 6E: "F3" is the MOV's immediate, not a REP. */
	ah_begin("amb_outs_rep");
	ah_set(RDX, PORT_STR);
	ah_set(RSI, BUF64 + 0x100);
	ah_set(RCX, 7);
	run_exits(fs, 1);
	CHECK_EQ(lg.n, 1);
	CHECK_EQ(vmt_gpr(&t, RCX), 7);

	/* 6E F3 6E: OUTSB, then REP OUTSB with RCX = 2. */
	ah_begin("seq_outs");
	ah_set(RDX, PORT_STR);
	ah_set(RSI, BUF64 + 0x100);
	ah_set(RCX, 2);
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

	ah_begin("%s df=%d rep=%d %s", sname, df, rep, mode_names[mode]);
	ah_set(RFL, 0x2 | (df ? F_DF : 0));
	ah_set(RDX, (ah.in[RDX] & ~0xffffULL) | PORT_STR);
	ah_set(ireg, reg0);
	if (rep >= 0) {
		/* The count sits in CX, ECX or RCX.  Above CX there is junk
		   that must stay; above ECX there is junk only in 64-bit
		   mode, where only the low half is compared (see the a32
		   note); elsewhere the upper half is undefined: zero. */
		uint64_t hi = asize == 2 ? ah.in[RCX] & ~0xffffULL :
		    asize == 4 && mode == M64 ? 0xffff000000000000ULL : 0;

		ah_set(RCX, hi | (uint64_t)rep);
		ah_expect(RCX, hi);
		if (asize == 4 && mode == M64)
			ah.gmask[RCX] = 0xffffffffULL;
		ah.multi = true;
	}
	if (asize == 4 && mode == M64)
		ah.gmask[ireg] = 0xffffffffULL;
	fields(ins, PORT_STR, size, true, rep >= 0, seg);
	c.xasize = (uint8_t)asize;
	c.ambiguous = string_ambiguous;
	for (i = 0; i < n; i++) {
		uint64_t la = base + ((reg0 + (uint64_t)(i * step)) & amask);

		if (ins) {
			uint32_t v = in_value(i) & (uint32_t)ah_msk(size);

			xio(PORT_STR, true, size, v);
			ah_xwr(la, size, v);
		} else {
			xio(PORT_STR, false, size, (uint32_t)ah_xrd(la, size));
		}
	}
	ah_expect(ireg, (reg0 & ~amask) |
	    ((reg0 + (uint64_t)(n * step)) & amask));
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
		ah_set_seg(NVMM_X64_SEG_FS, 0, BUF64);
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
		ah_set_seg(NVMM_X64_SEG_FS, 0, 0x5000);
		string_case("fs_ins1", true, 1, 0, -1, BUF64 + 0x2000, 0, ~0ULL,
		    NVMM_X64_SEG_ES, 8);
		ah_set_seg(NVMM_X64_SEG_FS, 0, 0);
		ah_set_seg(NVMM_X64_SEG_GS, 0, BUF64 + 0x100);
		string_case("gs_rep_outs2", false, 2, 0, 3, 0x3000,
		    BUF64 + 0x100, ~0ULL, NVMM_X64_SEG_GS, 8);
		ah_set_seg(NVMM_X64_SEG_GS, 0, 0);
		ah_set_seg(NVMM_X64_SEG_ES, 0x10, 0x5000);
		string_ambiguous = true;
		string_case("es_outs1", false, 1, 0, -1, BUF64 + 0x2000, 0,
		    ~0ULL, NVMM_X64_SEG_ES, 8);
		string_ambiguous = false;
		ah_set_seg(NVMM_X64_SEG_ES, 0x10, 0);
		break;
	case M32:
		/* 67: DI/CX only; the upper halves stay. */
		ah_set_seg(NVMM_X64_SEG_ES, 0x10, BUF64);
		string_case("p32_a16_rep_ins1", true, 1, 0, 5, 0x55550100,
		    BUF64, 0xffff, NVMM_X64_SEG_ES, 2);
		ah_set_seg(NVMM_X64_SEG_ES, 0x10, 0);
		ah_set_seg(NVMM_X64_SEG_DS, 0x10, BUF64);
		string_case("p32_a16_rep_outs2", false, 2, 1, 3, 0x66660200,
		    BUF64, 0xffff, NVMM_X64_SEG_DS, 2);
		ah_set_seg(NVMM_X64_SEG_DS, 0x10, 0);
		/* ES override with its own base. */
		ah_set_seg(NVMM_X64_SEG_ES, 0x10, 0x10000);
		string_case("p32_es_rep_outs1", false, 1, 0, 5,
		    BUF64 - 0x10000 + 0x2000, 0x10000, 0xffffffffULL,
		    NVMM_X64_SEG_ES, 4);
		ah_set_seg(NVMM_X64_SEG_ES, 0x10, 0);
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
	int k, n, j;

	for (k = 0; k < 2; k++) {
		n = k == 0 ? 1 : 5;
		ah_begin("%s after-assist", k == 0 ? "ins2" : "rep_ins2");
		ah_set(RDX, PORT_STR);
		ah_set(RDI, BUF64 + 0x100);
		ah_set(RCX, (uint64_t)n);
		ah_load_gprs();
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == PORT_STR,
		    "%s: exit %#llx", ah.name, (unsigned long long)r);
		if (r != NVMM_VCPU_EXIT_IO) {
			machine_setup();
			continue;
		}
		CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0, "%s: assist",
		    ah.name);
		CHECK(lg.n == n, "%s: %d callbacks", ah.name, lg.n);
		for (j = 0; j < lg.n && j < n; j++) {
			uint16_t v;

			memcpy(&v, t.ram + BUF64 + 0x100 + 2 * j, 2);
			CHECK(v == (uint16_t)in_value(j), "%s: element %d not "
			    "in RAM after the assist: %#x", ah.name, j, v);
		}
		CHECK(ah_finish(NVMM_VCPU_EXIT_IO), "%s: checkpoint not "
		    "reached", ah.name);
		CHECK_EQ(vmt_gpr(&t, RDI), BUF64 + 0x100 + 2 * (uint64_t)n);
	}
}

/*
 * An interrupt injected right after the assist of an IN (QEMU's order:
 * assist, inject, run) arrives after the IN: the handler sees RIP past
 * it and the value in RAX.  Once without looking at the registers (KVM
 * finishes the IN in that run), once with.
 */
static void
t_inject_after_in(void)
{
	uint64_t r, want;
	int peek, k;

	for (peek = 0; peek < 2; peek++)
	for (k = 0; k < 2; k++) {
		ah_begin("%s inject peek=%d", k == 0 ? "in4" : "ind2", peek);
		ah_set(RFL, 0x202);
		ah_set(RAX, 0xfedcba9876543210ULL);
		ah_set(RDX, PORT_DX);
		want = ah_merge(ah.in[RAX], in_value(0), k == 0 ? 4 : 2);
		ah_idt_isr();
		ah_load_gprs();
		r = vmt_run(&t);
		CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.in, "%s: exit %#llx",
		    ah.name, (unsigned long long)r);
		if (r != NVMM_VCPU_EXIT_IO) {
			machine_setup();
			continue;
		}
		CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0, "%s: assist",
		    ah.name);
		ah_inject_after(peek, RAX, want);
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

		ah_begin("%s mmio", cases[ci].n);
		memcpy(dev0, dev, sizeof(dev0));
		ah_set(RDX, PORT_STR);
		ah_set(cases[ci].ins ? RDI : RSI, gpa);
		if (cases[ci].count >= 0)
			ah_set(RCX, (uint64_t)n);
		ah_load_gprs();
		for (guard = 0; guard < 200; guard++) {
			r = vmt_run(&t);
			if (r == NVMM_VCPU_EXIT_IO &&
			    x->u.io.port == AH_CHECKPOINT) {
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
				    cases[ci].ins, "%s: exit fields", ah.name);
				CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == 0,
				    "%s: assist_io", ah.name);
			} else if (r == NVMM_VCPU_EXIT_MEMORY) {
				nmem_exits++;
				CHECK(x->u.mem.gpa >= gpa &&
				    x->u.mem.gpa < gpa + (uint64_t)(n * size),
				    "%s: MEMORY exit gpa %#llx", ah.name,
				    (unsigned long long)x->u.mem.gpa);
				CHECK(nvmm_assist_mem(&t.mach, &t.vcpu) == 0,
				    "%s: assist_mem", ah.name);
			} else {
				CHECK(0, "%s: exit %#llx", ah.name,
				    (unsigned long long)r);
				break;
			}
		}
		CHECK(reached, "%s: checkpoint not reached", ah.name);
		if (!reached) {
			machine_setup();
			continue;
		}
		CHECK(nio_exits >= 1, "%s: no IO exit", ah.name);
		CHECK_EQ(lg.n, n);
		/* KVM may write several INS elements in one access. */
		CHECK(lg.nmem >= 1 && lg.nmem <= n, "%s: %d mem callbacks for "
		    "%d elements", ah.name, lg.nmem, n);
		for (i = 0; i < n && i < lg.n; i++) {
			uint64_t a = gpa + (uint64_t)(i * size), v = 0;
			int b;

			for (b = 0; b < size; b++)
				v |= (uint64_t)(cases[ci].ins ? dev[a - DEV_GPA +
				    (uint64_t)b] : dev0[a - DEV_GPA +
				    (uint64_t)b]) << (8 * b);
			CHECK(lg.e[i].port == PORT_STR &&
			    lg.e[i].in == cases[ci].ins &&
			    lg.e[i].size == size, "%s: io call %d", ah.name, i);
			if (cases[ci].ins)
				CHECK(v == (in_value(i) & ah_msk(size)), "%s: "
				    "device at %#llx = %#llx, expected %#llx",
				    ah.name, (unsigned long long)a,
				    (unsigned long long)v,
				    (unsigned long long)(in_value(i) &
				    ah_msk(size)));
			else
				CHECK(lg.e[i].data == v, "%s: io call %d data "
				    "%#x, expected the device's %#llx", ah.name,
				    i, lg.e[i].data, (unsigned long long)v);
		}
		if (!cases[ci].ins)
			CHECK(memcmp(dev, dev0, sizeof(dev0)) == 0,
			    "%s: OUTS wrote the device", ah.name);
		ah_getstate(NVMM_X64_STATE_GPRS);
		CHECK_EQ(t.vcpu.state->gprs[cases[ci].ins ? RDI : RSI],
		    gpa + (uint64_t)(n * size));
		if (cases[ci].count >= 0)
			CHECK_EQ(t.vcpu.state->gprs[RCX], 0);
		CHECK_EQ(t.vcpu.state->gprs[RIP], ah_rip(ah.s->end));
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

	ah_begin("%s stop", ins ? "rep_ins1" : "rep_outs1");
	lg.count_only = true;
	ah_set(RDX, PORT_STOP);
	ah_set(ins ? RDI : RSI, buf);
	ah_set(RCX, count);
	memset(t.ram + buf, 0, count);
	ah_load_gprs();
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
		if (r == NVMM_VCPU_EXIT_IO && x->u.io.port == AH_CHECKPOINT) {
			/* Done before the stop: it must still come, at the
			   next run, without the guest running on. */
			nvmm_assist_io(&t.mach, &t.vcpu);
			finished = true;
			break;
		}
		if (r != NVMM_VCPU_EXIT_IO || x->u.io.port != PORT_STOP) {
			CHECK(0, "%s: exit %#llx", ah.name,
			    (unsigned long long)r);
			break;
		}
		if (nvmm_assist_io(&t.mach, &t.vcpu) == -1) {
			CHECK(0, "%s: assist: %s", ah.name, strerror(errno));
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
	CHECK(stopped, "%s: no STOPPED exit", ah.name);
	if (!stopped) {
		machine_setup();
		return;
	}
	errno = 0;
	CHECK(nvmm_assist_io(&t.mach, &t.vcpu) == -1 && errno == EINVAL,
	    "%s: assist_io after STOPPED: errno %d", ah.name, errno);
	stopped_after = atomic_load(&assists) - atomic_load(&at_stop);
	CHECK(stopped_after >= 0 && stopped_after <= 2, "%s: %d assists "
	    "between nvmm_vcpu_stop and the STOPPED exit", ah.name,
	    stopped_after);

	/* Stopped midway: the registers agree with what was transferred. */
	ah_getstate(NVMM_X64_STATE_GPRS);
	rcx = t.vcpu.state->gprs[RCX];
	done = (uint64_t)lg.n;
	printf("note: %s: STOPPED %d assists after nvmm_vcpu_stop, after "
	    "%llu of %llu elements\n", ah.name, stopped_after,
	    (unsigned long long)done, (unsigned long long)count);
	if (!finished) {
		CHECK(rcx + done == count, "%s: RCX %#llx after %llu elements",
		    ah.name, (unsigned long long)rcx, (unsigned long long)done);
		CHECK_EQ(t.vcpu.state->gprs[ins ? RDI : RSI], buf + done);
		CHECK_EQ(t.vcpu.state->gprs[RIP], ah.in[RIP]);
	}

	/* Then it runs to its end. */
	for (guard = 0; guard < 2000000 && !finished; guard++) {
		r = vmt_run(&t);
		if (r == NVMM_VCPU_EXIT_IO && x->u.io.port == AH_CHECKPOINT) {
			nvmm_assist_io(&t.mach, &t.vcpu);
			finished = true;
			break;
		}
		if (r != NVMM_VCPU_EXIT_IO || nvmm_assist_io(&t.mach,
		    &t.vcpu) == -1) {
			CHECK(0, "%s: exit %#llx after the stop", ah.name,
			    (unsigned long long)r);
			break;
		}
	}
	CHECK(finished, "%s: did not finish", ah.name);
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
		CHECK(i == count, "%s: byte %llu is %#x, expected %#x", ah.name,
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

	/* After HALTED. */
	ah_begin("hlt1");
	ah_load_gprs();
	CHECK_EQ(vmt_run(&t), NVMM_VCPU_EXIT_HALTED);
	CHECK_ERR(nvmm_assist_io(&t.mach, &t.vcpu), EINVAL);
	CHECK_EQ(lg.n, 0);
	ah_checkpoint();

	/* After MEMORY: EINVAL, and the MMIO load still completes. */
	ah_begin("mmio_ld");
	ah_set(RBX, DEV_GPA + 0x20);
	ah_load_gprs();
	CHECK_EQ(vmt_run(&t), NVMM_VCPU_EXIT_MEMORY);
	CHECK_ERR(nvmm_assist_io(&t.mach, &t.vcpu), EINVAL);
	CHECK_EQ(lg.n, 0);
	CHECK(nvmm_assist_mem(&t.mach, &t.vcpu) == 0, "mmio_ld: assist_mem");
	CHECK_EQ(vmt_gpr(&t, RAX), (uint64_t)dev[0x20] |
	    (uint64_t)dev[0x21] << 8 | (uint64_t)dev[0x22] << 16 |
	    (uint64_t)dev[0x23] << 24);
	ah_checkpoint();

	/* No io callback: EINVAL, nothing done; then it works. */
	ah_begin("in1");
	ah_set(RAX, 0x1111);
	ah_load_gprs();
	CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu,
	    NVMM_VCPU_CONF_CALLBACKS, &noio));
	CHECK_EQ(vmt_run(&t), NVMM_VCPU_EXIT_IO);
	CHECK_ERR(nvmm_assist_io(&t.mach, &t.vcpu), EINVAL);
	CHECK_EQ(vmt_gpr(&t, RIP), ah.in[RIP]);
	CHECK_EQ(vmt_gpr(&t, RAX), 0x1111);
	CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu,
	    NVMM_VCPU_CONF_CALLBACKS, &cbs));
	CHECK_OK(nvmm_assist_io(&t.mach, &t.vcpu));
	CHECK_EQ(lg.n, 1);
	CHECK_EQ(vmt_gpr(&t, RAX), 0x1100 | (in_value(0) & 0xff));
	CHECK_EQ(vmt_gpr(&t, RIP), ah.in[RIP] + 2);
	ah_checkpoint();
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
