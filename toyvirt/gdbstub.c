/* gdbstub.c - toyvirt's GDB remote stub (-g PORT): registers, memory, breakpoints, stepping and stops of the guest, served on 127.0.0.1. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices.h"
#include "elf.h"
#include "gdbstub.h"

/*
 * The GDB remote serial protocol, all-stop, one client at a time.  Each
 * VCPU that runs is a gdb thread (thread 1 is VCPU 120).  While gdb looks
 * at the guest every VCPU is stopped (run.c's hold); register and memory
 * requests run on the selected VCPU's own thread (mc_call).
 *
 * Registers: the i386:x86-64 'g' layout, rax rbx rcx rdx rsi rdi rbp rsp
 * r8-r15 rip eflags cs ss ds es fs gs, st0-st7 fctrl fstat ftag fiseg
 * fioff foseg fooff fop, xmm0-xmm15 mxcsr, which is what gdb expects
 * without a target description.  A gdb that reads the target description
 * (qXfer:features:read:target.xml) also gets orig_rax (always -1), fs_base,
 * gs_base, and cr0 cr2 cr3 cr4 cr8 efer in a "system" feature.  Writable:
 * the general registers, rip, eflags, the x87/SSE registers, fs_base,
 * gs_base, the control registers and EFER; a segment selector only keeps
 * its value (its hidden descriptor part cannot be derived from it).
 *
 * Memory: guest virtual addresses of the selected VCPU, translated page by
 * page with nvmm_gva_to_gpa and nvmm_gpa_to_hva; a read stops at the first
 * page that does not translate (E14 if that is the first one).
 *
 * Breakpoints: Z0 uses a free debug register, else writes an int3 (the
 * byte is remembered with its guest physical address and put back on z0,
 * detach and disconnect); Z1 uses
 * DR0-DR3; Z2 (write) and Z4 (access) watchpoints of 1, 2, 4 or 8 aligned
 * bytes use DR0-DR3 too; Z3 (read-only) does not exist on x86.  KVM's guest
 * debugging is reached directly (kvmdbg.c).  Single steps use KVM's
 * single-step; the other VCPUs stay stopped during a step, and no event
 * is injected while the machine is stopped or stepping.
 *
 * Every length and address from the client is bounded; a malformed packet
 * gets an error reply, never a crash.
 */

#define PKT_MAX		0x4000		/* our PacketSize */
#define MEM_MAX		((PKT_MAX - 32) / 2)	/* bytes per m/M */
#define GDB_SIGINT	2
#define GDB_SIGTRAP	5

/* Register numbers of the 'g' packet and the target description. */
enum {
	R_RAX, R_RBX, R_RCX, R_RDX, R_RSI, R_RDI, R_RBP, R_RSP,
	R_R8, R_R15 = R_R8 + 7, R_RIP, R_EFLAGS,
	R_CS, R_SS, R_DS, R_ES, R_FS, R_GS,
	R_ST0, R_FCTRL = R_ST0 + 8, R_FSTAT, R_FTAG, R_FISEG, R_FIOFF,
	R_FOSEG, R_FOOFF, R_FOP,
	R_XMM0, R_MXCSR = R_XMM0 + 16,
	R_ORIG_RAX, R_FS_BASE, R_GS_BASE,
	R_CR0, R_CR2, R_CR3, R_CR4, R_CR8, R_EFER,
	R_NREGS,
	R_NPLAIN = R_ORIG_RAX		/* without the target description */
};

static const int gpr_map[16] = {
	NVMM_X64_GPR_RAX, NVMM_X64_GPR_RBX, NVMM_X64_GPR_RCX,
	NVMM_X64_GPR_RDX, NVMM_X64_GPR_RSI, NVMM_X64_GPR_RDI,
	NVMM_X64_GPR_RBP, NVMM_X64_GPR_RSP, NVMM_X64_GPR_R8,
	NVMM_X64_GPR_R9, NVMM_X64_GPR_R10, NVMM_X64_GPR_R11,
	NVMM_X64_GPR_R12, NVMM_X64_GPR_R13, NVMM_X64_GPR_R14,
	NVMM_X64_GPR_R15,
};

static const int seg_map[6] = {
	NVMM_X64_SEG_CS, NVMM_X64_SEG_SS, NVMM_X64_SEG_DS, NVMM_X64_SEG_ES,
	NVMM_X64_SEG_FS, NVMM_X64_SEG_GS,
};

static const int cr_map[5] = {
	NVMM_X64_CR_CR0, NVMM_X64_CR_CR2, NVMM_X64_CR_CR3, NVMM_X64_CR_CR4,
	NVMM_X64_CR_CR8,
};

/* ------------------------------------------------------------------------
 * State.
 * ------------------------------------------------------------------------ */

struct swbp {
	uint64_t gva, gpa;
	uint8_t orig;
};

static int lfd = -1;			/* listening socket */
static int cfd = -1;			/* the client */
static int quit_pipe[2] = { -1, -1 };
static pthread_t stub_thread;
static bool stub_started;

static struct tv_vcpu *s_vcpus;
static unsigned s_nthreads;
static uint32_t s_support;

static bool noack;			/* QStartNoAckMode */
static bool xml_read;			/* the client took target.xml */
static unsigned g_idx;			/* Hg: registers and memory */
static int c_idx = -1;			/* Hc: -1 any */
static struct mc_stop last_stop;
static struct mc_debug dbg;		/* breakpoints for the VCPUs */
static struct swbp swbps[MC_MAX_SWBP];
static uint32_t s_limits;		/* KVMDBG_LIM_* of this host */

/* DR0-DR3: what gdb asked for (type 0 = Z0 in a debug register). */
static struct {
	bool used;
	unsigned type;
	uint64_t addr, kind;
	unsigned rw, lenbits;
} slots[4];

static uint8_t inbuf[4096];
static size_t inlen, inpos;
static char pkt[PKT_MAX + 1];		/* the packet being handled */
static char out[2 * PKT_MAX + 8];	/* the reply being built */
static size_t outlen;
static char last_reply[2 * PKT_MAX + 8];
static size_t last_reply_len;

static char *xml;			/* the target description */
static size_t xml_len;

/* ------------------------------------------------------------------------
 * Target description.
 * ------------------------------------------------------------------------ */

static const char *const gpr_names[16] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};
static const char *const seg_names[6] = { "cs", "ss", "ds", "es", "fs", "gs" };
static const char *const fpc_names[8] = {
	"fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop",
};
static const char *const sys_names[6] = {
	"cr0", "cr2", "cr3", "cr4", "cr8", "efer",
};

static void __attribute__((format(printf, 2, 3)))
xadd(size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(xml + xml_len, *cap - xml_len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < *cap - xml_len) {
			xml_len += (size_t)n;
			return;
		}
		p = realloc(xml, *cap * 2);
		if (p == NULL)
			return;
		xml = p;
		*cap *= 2;
	}
}

static int
build_xml(void)
{
	static const char *const eflags[][2] = {
		{ "CF", "0" }, { "PF", "2" }, { "AF", "4" }, { "ZF", "6" },
		{ "SF", "7" }, { "TF", "8" }, { "IF", "9" }, { "DF", "10" },
		{ "OF", "11" }, { "NT", "14" }, { "RF", "16" }, { "VM", "17" },
		{ "AC", "18" }, { "VIF", "19" }, { "VIP", "20" }, { "ID", "21" },
	};
	static const char *const mxcsr[][2] = {
		{ "IE", "0" }, { "DE", "1" }, { "ZE", "2" }, { "OE", "3" },
		{ "UE", "4" }, { "PE", "5" }, { "DAZ", "6" }, { "IM", "7" },
		{ "DM", "8" }, { "ZM", "9" }, { "OM", "10" }, { "UM", "11" },
		{ "PM", "12" }, { "FZ", "15" },
	};
	size_t cap = 8192, i;
	int r = 0;

	xml = malloc(cap);
	if (xml == NULL)
		return -1;
	xml_len = 0;
	xadd(&cap, "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM "
	    "\"gdb-target.dtd\">\n<target version=\"1.0\">\n"
	    "<architecture>i386:x86-64</architecture>\n");

	xadd(&cap, "<feature name=\"org.gnu.gdb.i386.core\">\n"
	    "<flags id=\"tv_eflags\" size=\"4\">\n");
	for (i = 0; i < sizeof(eflags) / sizeof(eflags[0]); i++)
		xadd(&cap, "<field name=\"%s\" start=\"%s\" end=\"%s\"/>\n",
		    eflags[i][0], eflags[i][1], eflags[i][1]);
	xadd(&cap, "</flags>\n");
	for (i = 0; i < 16; i++)
		xadd(&cap, "<reg name=\"%s\" bitsize=\"64\" type=\"%s\" "
		    "regnum=\"%d\"/>\n", gpr_names[i],
		    i == 6 || i == 7 ? "data_ptr" : "int64", r++);
	xadd(&cap, "<reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\" "
	    "regnum=\"%d\"/>\n", r++);
	xadd(&cap, "<reg name=\"eflags\" bitsize=\"32\" type=\"tv_eflags\" "
	    "regnum=\"%d\"/>\n", r++);
	for (i = 0; i < 6; i++)
		xadd(&cap, "<reg name=\"%s\" bitsize=\"32\" type=\"int32\" "
		    "regnum=\"%d\"/>\n", seg_names[i], r++);
	for (i = 0; i < 8; i++)
		xadd(&cap, "<reg name=\"st%zu\" bitsize=\"80\" type=\"i387_ext\" "
		    "regnum=\"%d\"/>\n", i, r++);
	for (i = 0; i < 8; i++)
		xadd(&cap, "<reg name=\"%s\" bitsize=\"32\" type=\"int\" "
		    "group=\"float\" regnum=\"%d\"/>\n", fpc_names[i], r++);
	xadd(&cap, "</feature>\n");

	xadd(&cap, "<feature name=\"org.gnu.gdb.i386.sse\">\n"
	    "<vector id=\"tv_v4f\" type=\"ieee_single\" count=\"4\"/>\n"
	    "<vector id=\"tv_v2d\" type=\"ieee_double\" count=\"2\"/>\n"
	    "<vector id=\"tv_v16i8\" type=\"int8\" count=\"16\"/>\n"
	    "<vector id=\"tv_v8i16\" type=\"int16\" count=\"8\"/>\n"
	    "<vector id=\"tv_v4i32\" type=\"int32\" count=\"4\"/>\n"
	    "<vector id=\"tv_v2i64\" type=\"int64\" count=\"2\"/>\n"
	    "<union id=\"tv_vec128\">\n"
	    "<field name=\"v4_float\" type=\"tv_v4f\"/>\n"
	    "<field name=\"v2_double\" type=\"tv_v2d\"/>\n"
	    "<field name=\"v16_int8\" type=\"tv_v16i8\"/>\n"
	    "<field name=\"v8_int16\" type=\"tv_v8i16\"/>\n"
	    "<field name=\"v4_int32\" type=\"tv_v4i32\"/>\n"
	    "<field name=\"v2_int64\" type=\"tv_v2i64\"/>\n"
	    "<field name=\"uint128\" type=\"uint128\"/>\n"
	    "</union>\n<flags id=\"tv_mxcsr\" size=\"4\">\n");
	for (i = 0; i < sizeof(mxcsr) / sizeof(mxcsr[0]); i++)
		xadd(&cap, "<field name=\"%s\" start=\"%s\" end=\"%s\"/>\n",
		    mxcsr[i][0], mxcsr[i][1], mxcsr[i][1]);
	xadd(&cap, "</flags>\n");
	for (i = 0; i < 16; i++)
		xadd(&cap, "<reg name=\"xmm%zu\" bitsize=\"128\" type=\"tv_vec128\" "
		    "regnum=\"%d\"/>\n", i, r++);
	xadd(&cap, "<reg name=\"mxcsr\" bitsize=\"32\" type=\"tv_mxcsr\" "
	    "group=\"vector\" regnum=\"%d\"/>\n</feature>\n", r++);

	xadd(&cap, "<feature name=\"org.gnu.gdb.i386.linux\">\n<reg name=\""
	    "orig_rax\" bitsize=\"64\" type=\"int\" regnum=\"%d\"/>\n"
	    "</feature>\n", r++);
	xadd(&cap, "<feature name=\"org.gnu.gdb.i386.segments\">\n");
	xadd(&cap, "<reg name=\"fs_base\" bitsize=\"64\" type=\"int\" "
	    "regnum=\"%d\"/>\n", r++);
	xadd(&cap, "<reg name=\"gs_base\" bitsize=\"64\" type=\"int\" "
	    "regnum=\"%d\"/>\n</feature>\n", r++);
	xadd(&cap, "<feature name=\"org.toyvirt.x86.system\">\n");
	for (i = 0; i < 6; i++)
		xadd(&cap, "<reg name=\"%s\" bitsize=\"64\" type=\"uint64\" "
		    "group=\"system\" regnum=\"%d\"/>\n", sys_names[i], r++);
	xadd(&cap, "</feature>\n</target>\n");
	if (r != R_NREGS)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------------
 * Registers (on the VCPU's thread).
 * ------------------------------------------------------------------------ */

static size_t
reg_size(int r)
{
	if (r < R_RIP + 1)
		return 8;
	if (r < R_ST0)
		return 4;		/* eflags, selectors */
	if (r < R_FCTRL)
		return 10;
	if (r < R_XMM0)
		return 4;
	if (r < R_MXCSR)
		return 16;
	if (r == R_MXCSR)
		return 4;
	return 8;
}

/* The x87 tag word as gdb shows it (2 bits per register) from FXSAVE's. */
static uint16_t
full_tag(const struct fxsave *fx)
{
	unsigned top = (fx->fx_sw >> 11) & 7, p;
	uint16_t tag = 0;

	for (p = 0; p < 8; p++) {
		const struct fpacc87 *a = &fx->fx_87_ac[(p - top) & 7].r;
		unsigned t, exp = a->f87_exp_sign & 0x7fff;

		if (!(fx->fx_tw & (1U << p)))
			t = 3;			/* empty */
		else if (exp == 0x7fff)
			t = 2;			/* special */
		else if (exp == 0)
			t = a->f87_mantissa == 0 ? 1 : 2;
		else
			t = (a->f87_mantissa >> 63) ? 0 : 2;
		tag |= (uint16_t)(t << (2 * p));
	}
	return tag;
}

static void
put_le(uint8_t *b, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le(const uint8_t *b, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n && i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* Register r of st into b (reg_size(r) bytes). */
static void
reg_get(const struct nvmm_x64_state *st, int r, uint8_t *b)
{
	const struct fxsave *fx = &st->fpu;

	memset(b, 0, 16);
	if (r < 16)
		put_le(b, st->gprs[gpr_map[r]], 8);
	else if (r == R_RIP)
		put_le(b, st->gprs[NVMM_X64_GPR_RIP], 8);
	else if (r == R_EFLAGS)
		put_le(b, st->gprs[NVMM_X64_GPR_RFLAGS], 4);
	else if (r >= R_CS && r <= R_GS)
		put_le(b, st->segs[seg_map[r - R_CS]].selector, 4);
	else if (r >= R_ST0 && r < R_FCTRL)
		memcpy(b, &fx->fx_87_ac[r - R_ST0], 10);
	else if (r == R_FCTRL)
		put_le(b, fx->fx_cw, 4);
	else if (r == R_FSTAT)
		put_le(b, fx->fx_sw, 4);
	else if (r == R_FTAG)
		put_le(b, full_tag(fx), 4);
	else if (r == R_FISEG)
		put_le(b, fx->fx_ip.fa_64 >> 32, 4);
	else if (r == R_FIOFF)
		put_le(b, fx->fx_ip.fa_64, 4);
	else if (r == R_FOSEG)
		put_le(b, fx->fx_dp.fa_64 >> 32, 4);
	else if (r == R_FOOFF)
		put_le(b, fx->fx_dp.fa_64, 4);
	else if (r == R_FOP)
		put_le(b, fx->fx_opcode & 0x7ff, 4);
	else if (r >= R_XMM0 && r < R_MXCSR)
		memcpy(b, fx->fx_xmm[r - R_XMM0].xmm_bytes, 16);
	else if (r == R_MXCSR)
		put_le(b, fx->fx_mxcsr, 4);
	else if (r == R_ORIG_RAX)
		put_le(b, UINT64_MAX, 8);
	else if (r == R_FS_BASE)
		put_le(b, st->segs[NVMM_X64_SEG_FS].base, 8);
	else if (r == R_GS_BASE)
		put_le(b, st->segs[NVMM_X64_SEG_GS].base, 8);
	else if (r >= R_CR0 && r <= R_CR8)
		put_le(b, st->crs[cr_map[r - R_CR0]], 8);
	else if (r == R_EFER)
		put_le(b, st->msrs[NVMM_X64_MSR_EFER], 8);
}

/*
 * Sets register r of st from b; returns the NVMM_X64_STATE_* group to
 * write back (0: nothing changed), or -1 if it cannot be written.
 */
static int
reg_set(struct nvmm_x64_state *st, int r, const uint8_t *b)
{
	struct fxsave *fx = &st->fpu;
	uint64_t v = get_le(b, reg_size(r) > 8 ? 8 : reg_size(r));
	unsigned p;

	if (r < 16) {
		st->gprs[gpr_map[r]] = v;
		return NVMM_X64_STATE_GPRS;
	}
	if (r == R_RIP) {
		st->gprs[NVMM_X64_GPR_RIP] = v;
		return NVMM_X64_STATE_GPRS;
	}
	if (r == R_EFLAGS) {
		/* The upper half stays; bit 1 is always set. */
		st->gprs[NVMM_X64_GPR_RFLAGS] = (st->gprs[NVMM_X64_GPR_RFLAGS] &
		    ~0xffffffffULL) | v | 2;
		return NVMM_X64_STATE_GPRS;
	}
	if (r >= R_CS && r <= R_GS)
		return st->segs[seg_map[r - R_CS]].selector == (v & 0xffff) &&
		    (v >> 16) == 0 ? 0 : -1;
	if (r >= R_ST0 && r < R_FCTRL) {
		memcpy(&fx->fx_87_ac[r - R_ST0], b, 10);
		return NVMM_X64_STATE_FPU;
	}
	switch (r) {
	case R_FCTRL:
		fx->fx_cw = (uint16_t)v;
		return NVMM_X64_STATE_FPU;
	case R_FSTAT:
		fx->fx_sw = (uint16_t)v;
		return NVMM_X64_STATE_FPU;
	case R_FTAG:
		fx->fx_tw = 0;
		for (p = 0; p < 8; p++)
			if (((v >> (2 * p)) & 3) != 3)
				fx->fx_tw |= (uint8_t)(1U << p);
		return NVMM_X64_STATE_FPU;
	case R_FISEG:
		fx->fx_ip.fa_64 = (fx->fx_ip.fa_64 & 0xffffffffULL) |
		    (v & 0xffffffffULL) << 32;
		return NVMM_X64_STATE_FPU;
	case R_FIOFF:
		fx->fx_ip.fa_64 = (fx->fx_ip.fa_64 & ~0xffffffffULL) |
		    (v & 0xffffffffULL);
		return NVMM_X64_STATE_FPU;
	case R_FOSEG:
		fx->fx_dp.fa_64 = (fx->fx_dp.fa_64 & 0xffffffffULL) |
		    (v & 0xffffffffULL) << 32;
		return NVMM_X64_STATE_FPU;
	case R_FOOFF:
		fx->fx_dp.fa_64 = (fx->fx_dp.fa_64 & ~0xffffffffULL) |
		    (v & 0xffffffffULL);
		return NVMM_X64_STATE_FPU;
	case R_FOP:
		fx->fx_opcode = (uint16_t)(v & 0x7ff);
		return NVMM_X64_STATE_FPU;
	case R_MXCSR:
		fx->fx_mxcsr = (uint32_t)v;
		return NVMM_X64_STATE_FPU;
	case R_ORIG_RAX:
		return v == UINT64_MAX ? 0 : -1;
	case R_FS_BASE:
		st->segs[NVMM_X64_SEG_FS].base = v;
		return NVMM_X64_STATE_SEGS;
	case R_GS_BASE:
		st->segs[NVMM_X64_SEG_GS].base = v;
		return NVMM_X64_STATE_SEGS;
	case R_EFER:
		st->msrs[NVMM_X64_MSR_EFER] = v;
		return NVMM_X64_STATE_MSRS;
	default:
		break;
	}
	if (r >= R_XMM0 && r < R_MXCSR) {
		memcpy(fx->fx_xmm[r - R_XMM0].xmm_bytes, b, 16);
		return NVMM_X64_STATE_FPU;
	}
	if (r >= R_CR0 && r <= R_CR8) {
		st->crs[cr_map[r - R_CR0]] = v;
		return NVMM_X64_STATE_CRS;
	}
	return -1;
}

struct regs_req {
	struct nvmm_x64_state st;
	uint64_t flags;			/* write: the groups to set */
};

static int
fn_regs_get(struct tv_vcpu *v, void *arg)
{
	struct regs_req *q = arg;

	if (nvmm_vcpu_getstate(mc_machine(), &v->vcpu, NVMM_X64_STATE_ALL) ==
	    -1)
		return -1;
	memcpy(&q->st, v->vcpu.state, sizeof(q->st));
	return 0;
}

static int
fn_regs_set(struct tv_vcpu *v, void *arg)
{
	struct regs_req *q = arg;
	struct nvmm_x64_state *st = v->vcpu.state;

	if (q->flags == 0)
		return 0;
	if (nvmm_vcpu_getstate(mc_machine(), &v->vcpu, NVMM_X64_STATE_ALL) ==
	    -1)
		return -1;
	if (q->flags & NVMM_X64_STATE_GPRS)
		memcpy(st->gprs, q->st.gprs, sizeof(st->gprs));
	if (q->flags & NVMM_X64_STATE_SEGS)
		memcpy(st->segs, q->st.segs, sizeof(st->segs));
	if (q->flags & NVMM_X64_STATE_CRS)
		memcpy(st->crs, q->st.crs, sizeof(st->crs));
	if (q->flags & NVMM_X64_STATE_MSRS)
		memcpy(st->msrs, q->st.msrs, sizeof(st->msrs));
	if (q->flags & NVMM_X64_STATE_FPU)
		memcpy(&st->fpu, &q->st.fpu, sizeof(st->fpu));
	return nvmm_vcpu_setstate(mc_machine(), &v->vcpu, q->flags);
}

/* ------------------------------------------------------------------------
 * Memory (on the VCPU's thread: the page walk uses its registers).
 * ------------------------------------------------------------------------ */

struct mem_req {
	uint64_t gva;
	size_t len;
	uint8_t *buf;
	bool write;
	size_t done;			/* bytes transferred */
	uint64_t gpa0;			/* guest physical address of byte 0 */
};

static int
fn_mem(struct tv_vcpu *v, void *arg)
{
	struct mem_req *q = arg;
	struct nvmm_machine *m = mc_machine();
	nvmm_prot_t prot;
	uint64_t gva, gpa, chunk;
	uintptr_t hva;

	q->done = 0;
	while (q->done < q->len) {
		gva = q->gva + q->done;
		if (nvmm_gva_to_gpa(m, &v->vcpu, gva, &gpa, &prot) == -1 ||
		    nvmm_gpa_to_hva(m, gpa, &hva, &prot) == -1)
			break;
		if (q->done == 0)
			q->gpa0 = gpa;
		/* Within one guest page, in both address spaces. */
		chunk = GUEST_PAGE_SIZE - (gva & (GUEST_PAGE_SIZE - 1));
		if (chunk > GUEST_PAGE_SIZE - (gpa & (GUEST_PAGE_SIZE - 1)))
			chunk = GUEST_PAGE_SIZE - (gpa & (GUEST_PAGE_SIZE - 1));
		if (chunk > q->len - q->done)
			chunk = q->len - q->done;
		if (q->write)
			memcpy((void *)hva, q->buf + q->done, (size_t)chunk);
		else
			memcpy(q->buf + q->done, (const void *)hva,
			    (size_t)chunk);
		q->done += (size_t)chunk;
	}
	return 0;
}

/* One byte at a guest physical address (breakpoint removal). */
static int
phys_byte(uint64_t gpa, uint8_t *b, bool write)
{
	nvmm_prot_t prot;
	uintptr_t hva;

	if (nvmm_gpa_to_hva(mc_machine(), gpa, &hva, &prot) == -1)
		return -1;
	if (write)
		*(volatile uint8_t *)hva = *b;
	else
		*b = *(volatile uint8_t *)hva;
	return 0;
}

static size_t
mem_access(uint64_t gva, uint8_t *buf, size_t len, bool write, uint64_t *gpa)
{
	struct mem_req q;

	memset(&q, 0, sizeof(q));
	q.gva = gva;
	q.len = len;
	q.buf = buf;
	q.write = write;
	if (mc_call(g_idx, fn_mem, &q) == -1)
		return 0;
	if (gpa != NULL)
		*gpa = q.gpa0;
	return q.done;
}

/* ------------------------------------------------------------------------
 * Packets.
 * ------------------------------------------------------------------------ */

static const char hexd[] = "0123456789abcdef";

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A hex number of 1 to 16 digits at *p; advances *p. */
static bool
parse_hex(const char **p, uint64_t *v)
{
	int n = 0, d;

	*v = 0;
	while ((d = hexval((unsigned char)**p)) >= 0) {
		if (++n > 16)
			return false;
		*v = *v << 4 | (uint64_t)d;
		(*p)++;
	}
	return n > 0;
}

/* Decodes 2*len hex digits at s into b; false if malformed. */
static bool
unhex(const char *s, size_t slen, uint8_t *b, size_t len)
{
	size_t i;
	int hi, lo;

	if (slen != 2 * len)
		return false;
	for (i = 0; i < len; i++) {
		hi = hexval((unsigned char)s[2 * i]);
		lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static void
out_reset(void)
{
	outlen = 0;
}

static void __attribute__((format(printf, 1, 2)))
out_fmt(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + outlen, sizeof(out) - outlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		outlen += (size_t)n < sizeof(out) - outlen ? (size_t)n :
		    sizeof(out) - outlen - 1;
}

static void
out_hex(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n && outlen + 2 < sizeof(out); i++) {
		out[outlen++] = hexd[b[i] >> 4];
		out[outlen++] = hexd[b[i] & 15];
	}
}

static void
out_bytes(const char *b, size_t n)
{
	if (n > sizeof(out) - outlen)
		n = sizeof(out) - outlen;
	memcpy(out + outlen, b, n);
	outlen += n;
}

static bool
send_all(const char *b, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(cfd, b, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		b += w;
		n -= (size_t)w;
	}
	return true;
}

/* Sends out[0..outlen) as a packet, escaping what must be. */
static bool
send_reply(void)
{
	size_t i, n = 0;
	uint8_t cs = 0;
	char c;

	last_reply[n++] = '$';
	for (i = 0; i < outlen && n + 6 < sizeof(last_reply); i++) {
		c = out[i];
		if (c == '$' || c == '#' || c == '}' || c == '*') {
			last_reply[n++] = '}';
			cs += '}';
			c ^= 0x20;
		}
		last_reply[n++] = c;
		cs += (uint8_t)c;
	}
	last_reply[n++] = '#';
	last_reply[n++] = hexd[cs >> 4];
	last_reply[n++] = hexd[cs & 15];
	last_reply_len = n;
	return send_all(last_reply, n);
}

static bool
reply(const char *s)
{
	out_reset();
	out_fmt("%s", s);
	return send_reply();
}

enum { IN_BYTE = 1, IN_NOTIFY = 0, IN_EOF = -1 };

/* Waits for a client byte; IN_NOTIFY when the machine reported something. */
static int
wait_input(void)
{
	struct pollfd p[3];
	ssize_t n;

	if (inpos < inlen)
		return IN_BYTE;
	for (;;) {
		p[0].fd = cfd;
		p[0].events = POLLIN;
		p[1].fd = quit_pipe[0];
		p[1].events = POLLIN;
		p[2].fd = mc_notify_fd();
		p[2].events = POLLIN;
		if (poll(p, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			return IN_EOF;
		}
		/* The machine's news first: at its end, quit follows. */
		if (p[2].revents & POLLIN) {
			mc_drain();
			return IN_NOTIFY;
		}
		if (p[1].revents)
			return IN_EOF;
		if (p[0].revents) {
			n = read(cfd, inbuf, sizeof(inbuf));
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				return IN_EOF;
			inlen = (size_t)n;
			inpos = 0;
			return IN_BYTE;
		}
	}
}

enum { PK_OK = 0, PK_EOF = -1, PK_INTR = -2, PK_NOTIFY = -3 };

/*
 * Reads one packet into pkt (NUL-terminated, unescaped later by the X
 * handler) and acknowledges it.  Returns its length or a PK_* code.
 */
static ssize_t
get_packet(void)
{
	enum { S_IDLE, S_DATA, S_CS1, S_CS2 } s = S_IDLE;
	size_t len = 0;
	bool overflow = false;
	uint8_t cs = 0, want = 0;
	int r, c;

	for (;;) {
		r = wait_input();
		if (r == IN_EOF)
			return PK_EOF;
		if (r == IN_NOTIFY) {
			if (s == S_IDLE)
				return PK_NOTIFY;
			continue;
		}
		c = inbuf[inpos++];
		switch (s) {
		case S_IDLE:
			if (c == 0x03)
				return PK_INTR;
			if (c == '-' && !noack && last_reply_len > 0)
				send_all(last_reply, last_reply_len);
			if (c == '$') {
				s = S_DATA;
				len = 0;
				cs = 0;
				overflow = false;
			}
			break;
		case S_DATA:
			if (c == '#') {
				s = S_CS1;
				break;
			}
			cs += (uint8_t)c;
			if (len < PKT_MAX)
				pkt[len++] = (char)c;
			else
				overflow = true;
			break;
		case S_CS1:
			if (hexval(c) < 0) {
				s = S_IDLE;
				break;
			}
			want = (uint8_t)(hexval(c) << 4);
			s = S_CS2;
			break;
		case S_CS2:
			s = S_IDLE;
			if (hexval(c) < 0)
				break;
			want |= (uint8_t)hexval(c);
			if (!noack && want != cs) {
				send_all("-", 1);
				break;
			}
			if (!noack && !send_all("+", 1))
				return PK_EOF;
			pkt[len] = '\0';
			if (overflow) {
				reply("E01");
				break;
			}
			return (ssize_t)len;
		}
	}
}

/* ------------------------------------------------------------------------
 * Breakpoints.
 * ------------------------------------------------------------------------ */

/* What the selected VCPU says about an address (on its thread). */
struct probe_req {
	uint64_t gva;
	bool paging;			/* CR0.PG */
	bool mapped;			/* gva translates */
	nvmm_prot_t prot;		/* its page's protection */
	unsigned cpl;
};

static int
fn_probe(struct tv_vcpu *v, void *arg)
{
	struct probe_req *q = arg;
	struct nvmm_x64_state *st = v->vcpu.state;
	uint64_t gpa;

	if (nvmm_vcpu_getstate(mc_machine(), &v->vcpu, NVMM_X64_STATE_CRS |
	    NVMM_X64_STATE_SEGS) == -1)
		return -1;
	q->paging = (st->crs[NVMM_X64_CR_CR0] & 0x80000000ULL) != 0;
	q->cpl = st->segs[NVMM_X64_SEG_CS].selector & 3;
	q->mapped = nvmm_gva_to_gpa(mc_machine(), &v->vcpu, q->gva, &gpa,
	    &q->prot) == 0;
	return 0;
}

/*
 * On a host whose guest debugging stops at CPL3, or whose breakpoints are
 * HLTs (KVMDBG_LIM_INT3; at CPL3 an HLT is the guest's #GP): is addr in a
 * user page (paging on)?  Then a breakpoint there would never fire, or
 * hand the guest an exception: it is refused.
 */
static bool
refused_user(uint64_t addr, const char *what)
{
	struct probe_req q;

	if (!(s_limits & (KVMDBG_LIM_CPL3 | KVMDBG_LIM_INT3)))
		return false;
	memset(&q, 0, sizeof(q));
	q.gva = addr;
	if (mc_call(g_idx, fn_probe, &q) == -1 || !q.paging || !q.mapped ||
	    !(q.prot & NVMM_PROT_USER))
		return false;
	if (s_limits & KVMDBG_LIM_CPL3)
		say("[!] GDB: %s at 0x%" PRIx64 " refused: it is in a user "
		    "page, and this host's KVM cannot debug guest CPL3 code",
		    what, addr);
	else
		say("[!] GDB: %s at 0x%" PRIx64 " refused: it is in a user "
		    "page, and this host's breakpoints are HLTs, which stop "
		    "CPL0 code only", what, addr);
	return true;
}

static int
swbp_find(uint64_t gva)
{
	unsigned i;

	for (i = 0; i < dbg.nswbp; i++)
		if (swbps[i].gva == gva)
			return (int)i;
	return -1;
}

static const char *
swbp_insert(uint64_t gva)
{
	/* An HLT where an int3 would not reach KVM: it exits at CPL0. */
	uint8_t orig, cc = (s_limits & KVMDBG_LIM_INT3) ? 0xf4 : 0xcc;
	uint64_t gpa;

	if (dbg.nswbp >= MC_MAX_SWBP)
		return "E28";		/* ENOSPC */
	if (mem_access(gva, &orig, 1, false, &gpa) != 1)
		return "E14";
	if (phys_byte(gpa, &cc, true) == -1)
		return "E14";
	swbps[dbg.nswbp].gva = gva;
	swbps[dbg.nswbp].gpa = gpa;
	swbps[dbg.nswbp].orig = orig;
	dbg.swbp[dbg.nswbp] = gva;
	dbg.nswbp++;
	return "OK";
}

static void
swbp_remove_at(unsigned i)
{
	phys_byte(swbps[i].gpa, &swbps[i].orig, true);
	swbps[i] = swbps[dbg.nswbp - 1];
	dbg.swbp[i] = dbg.swbp[dbg.nswbp - 1];
	dbg.nswbp--;
}

static void
swbp_remove_all(void)
{
	while (dbg.nswbp > 0)
		swbp_remove_at(dbg.nswbp - 1);
}

/* DR0-DR3 and DR7 from the slots: L bit 2i, RW bits 16+4i, LEN 18+4i. */
static void
slots_to_dbg(void)
{
	unsigned i;

	dbg.dr7 = 0;
	for (i = 0; i < 4; i++) {
		dbg.dr[i] = slots[i].used ? slots[i].addr : 0;
		if (slots[i].used)
			dbg.dr7 |= (1ULL << (2 * i)) |
			    (uint64_t)slots[i].rw << (16 + 4 * i) |
			    (uint64_t)slots[i].lenbits << (18 + 4 * i);
	}
}

static int
slot_find(unsigned type, uint64_t addr, uint64_t kind)
{
	unsigned i;

	for (i = 0; i < 4; i++)
		if (slots[i].used && slots[i].type == type &&
		    slots[i].addr == addr && (type < 2 || slots[i].kind == kind))
			return (int)i;
	return -1;
}

static int
slot_take(unsigned type, uint64_t addr, uint64_t kind, unsigned rw,
    unsigned lenbits)
{
	unsigned i;

	if (!(s_support & KVMDBG_USE_HW_BP) ||
	    (type < 2 && (s_limits & KVMDBG_LIM_DR)))
		return -1;
	for (i = 0; i < 4; i++)
		if (!slots[i].used) {
			slots[i].used = true;
			slots[i].type = type;
			slots[i].addr = addr;
			slots[i].kind = kind;
			slots[i].rw = rw;
			slots[i].lenbits = lenbits;
			slots_to_dbg();
			return (int)i;
		}
	return -1;
}

static void
slot_free(int i)
{
	memset(&slots[i], 0, sizeof(slots[i]));
	slots_to_dbg();
}

/*
 * Z0 takes a free debug register first (nothing is written to the
 * guest), an int3 when all four are in use or when debug registers never
 * fire on this host (KVMDBG_LIM_DR; an HLT where an int3 would not reach
 * KVM, KVMDBG_LIM_INT3).  Z1 needs a debug register.
 */
static const char *
breakpoint(const char *p)
{
	bool insert = p[0] == 'Z';
	uint64_t type, addr, kind;
	unsigned rw, lenbits;
	int i;

	p++;
	if (!parse_hex(&p, &type) || *p++ != ',' || !parse_hex(&p, &addr) ||
	    *p++ != ',' || !parse_hex(&p, &kind))
		return "E22";
	switch (type) {
	case 0:
		if (!insert) {
			if ((i = slot_find(0, addr, kind)) >= 0)
				slot_free(i);
			else if ((i = swbp_find(addr)) >= 0)
				swbp_remove_at((unsigned)i);
			return "OK";
		}
		if (slot_find(0, addr, kind) >= 0 || swbp_find(addr) >= 0)
			return "OK";
		if (refused_user(addr, "breakpoint"))
			return "E01";
		if (slot_take(0, addr, kind, 0, 0) >= 0)
			return "OK";
		if (!(s_support & KVMDBG_USE_SW_BP))
			return "E28";
		return swbp_insert(addr);
	case 1:
		if (!insert) {
			if ((i = slot_find(1, addr, kind)) >= 0)
				slot_free(i);
			return "OK";
		}
		if (!(s_support & KVMDBG_USE_HW_BP))
			return "";
		if (s_limits & KVMDBG_LIM_DR) {
			say("[!] GDB: hardware breakpoint at 0x%" PRIx64
			    " refused: this host's debug registers never fire",
			    addr);
			return "";
		}
		if (refused_user(addr, "hardware breakpoint"))
			return "E01";
		return slot_take(1, addr, kind, 0, 0) >= 0 ? "OK" : "E28";
	case 2:
	case 4:
		if (!insert) {
			if ((i = slot_find((unsigned)type, addr, kind)) >= 0)
				slot_free(i);
			return "OK";
		}
		/* Unsupported: gdb falls back to software watchpoints. */
		if (!(s_support & KVMDBG_USE_HW_BP) ||
		    (s_limits & KVMDBG_LIM_WATCH))
			return "";
		rw = type == 2 ? 1 : 3;
		switch (kind) {
		case 1: lenbits = 0; break;
		case 2: lenbits = 1; break;
		case 4: lenbits = 3; break;
		case 8: lenbits = 2; break;
		default: return "E22";
		}
		if (addr & (kind - 1))
			return "E22";	/* x86 watches aligned ranges */
		return slot_take((unsigned)type, addr, kind, rw, lenbits) >= 0 ?
		    "OK" : "E28";
	default:
		return "";		/* Z3: x86 has no read-only watch */
	}
}

/* ------------------------------------------------------------------------
 * Stops and resuming.
 * ------------------------------------------------------------------------ */

static bool
send_stop(const struct mc_stop *st)
{
	out_reset();
	out_fmt("T%02xthread:%x;", st->sig & 0xff, st->idx + 1);
	switch (st->kind) {
	case STOP_SWBREAK:
		out_fmt("swbreak:;");
		break;
	case STOP_HWBREAK:
		/* A Z0 in a debug register is still gdb's software one. */
		if (st->slot >= 0 && st->slot < 4 && slots[st->slot].used &&
		    slots[st->slot].type == 0)
			out_fmt("swbreak:;");
		else
			out_fmt("hwbreak:;");
		break;
	case STOP_WATCH:
		out_fmt("%s:%" PRIx64 ";", st->watch_rw == 1 ? "watch" :
		    "awatch", st->addr);
		break;
	default:
		break;
	}
	return send_reply();
}

static bool
send_end(void)
{
	enum run_end how = END_ERROR;
	char buf[8];

	mc_ended(&how);
	if (how == END_KILLED)
		return true;
	if (how == END_SIGNAL) {
		/* toyvirt got SIGINT or SIGTERM (the same numbers in gdb). */
		snprintf(buf, sizeof(buf), "X%02x", run_end_signal() & 0xff);
		return reply(buf);
	}
	return reply(how == END_SHUTDOWN ? "W00" : "W01");
}

enum { RES_STOPPED, RES_ENDED, RES_GONE };

/*
 * Resumes (all VCPUs, or step_idx for one step) and waits for the stop,
 * the end, or gdb's interrupt; replies to gdb.
 */
static int
resume_and_wait(int step_idx)
{
	struct mc_stop st;
	ssize_t r;

	dbg.active = true;
	mc_resume(step_idx, &dbg);
	for (;;) {
		r = get_packet();
		if (r == PK_EOF && mc_ended(NULL)) {
			send_end();		/* toyvirt is ending */
			return RES_ENDED;
		}
		if (r == PK_EOF) {
			mc_hold_all();
			mc_wait_held();
			return RES_GONE;
		}
		if (r >= 0)
			continue;	/* all-stop: nothing else while running */
		if (mc_ended(NULL)) {
			mc_wait_held();
			send_end();
			return RES_ENDED;
		}
		/* A VCPU's stop has already told the others to hold. */
		if (mc_take_stop(&st)) {
			last_stop = st;
		} else if (r == PK_INTR) {
			mc_hold_all();
			last_stop.kind = STOP_NONE;
			last_stop.idx = step_idx >= 0 ? (unsigned)step_idx : g_idx;
			last_stop.sig = GDB_SIGINT;
		} else {
			continue;	/* a late notification: nothing new */
		}
		if (!mc_wait_held()) {
			send_end();
			return RES_ENDED;
		}
		/* Hg stays as gdb set it: gdb caches it. */
		return send_stop(&last_stop) ? RES_STOPPED : RES_GONE;
	}
}

static bool
set_rip(unsigned idx, uint64_t rip)
{
	struct regs_req q;

	memset(&q, 0, sizeof(q));
	if (mc_call(idx, fn_regs_get, &q) == -1)
		return false;
	q.st.gprs[NVMM_X64_GPR_RIP] = rip;
	q.flags = NVMM_X64_STATE_GPRS;
	return mc_call(idx, fn_regs_set, &q) == 0;
}

/* Lets the machine go without the debugger. */
static void
release(void)
{
	swbp_remove_all();
	memset(&dbg, 0, sizeof(dbg));
	memset(slots, 0, sizeof(slots));
	mc_resume(-1, &dbg);
}

/* May VCPU idx be single-stepped here? */
static bool
step_refused(unsigned idx)
{
	struct probe_req q;

	if (!(s_limits & KVMDBG_LIM_CPL3))
		return false;
	memset(&q, 0, sizeof(q));
	if (mc_call(idx, fn_probe, &q) == -1 || q.cpl != 3)
		return false;
	say("[!] GDB: cannot single-step VCPU %u at CPL3: this host's KVM "
	    "runs guest CPL3 code outside its guest debugging",
	    (unsigned)s_vcpus[idx].vcpu.cpuid);
	return true;
}

/* ------------------------------------------------------------------------
 * Commands.
 * ------------------------------------------------------------------------ */

static bool
valid_thread(uint64_t t)
{
	return t >= 1 && t <= s_nthreads;
}

static void
cmd_read_regs(void)
{
	struct regs_req q;
	uint8_t b[16];
	int r, n = xml_read ? R_NREGS : R_NPLAIN;

	if (mc_call(g_idx, fn_regs_get, &q) == -1) {
		reply("E01");
		return;
	}
	out_reset();
	for (r = 0; r < n; r++) {
		reg_get(&q.st, r, b);
		out_hex(b, reg_size(r));
	}
	send_reply();
}

static void
cmd_write_regs(const char *p, size_t len)
{
	struct regs_req q;
	uint8_t b[16];
	size_t off = 0, sz;
	int r, g, n = xml_read ? R_NREGS : R_NPLAIN;

	if (mc_call(g_idx, fn_regs_get, &q) == -1) {
		reply("E01");
		return;
	}
	q.flags = 0;
	for (r = 0; r < n && off < len; r++) {
		sz = reg_size(r);
		if (!unhex(p + off, len - off < 2 * sz ? len - off : 2 * sz, b,
		    sz)) {
			reply("E22");
			return;
		}
		off += 2 * sz;
		g = reg_set(&q.st, r, b);
		if (g == -1) {
			reply("E22");
			return;
		}
		q.flags |= (uint64_t)g;
	}
	reply(mc_call(g_idx, fn_regs_set, &q) == 0 ? "OK" : "E01");
}

static void
cmd_read_reg(const char *p)
{
	struct regs_req q;
	uint64_t r;
	uint8_t b[16];

	if (!parse_hex(&p, &r) || *p != '\0' || r >= R_NREGS) {
		reply("E22");
		return;
	}
	if (mc_call(g_idx, fn_regs_get, &q) == -1) {
		reply("E01");
		return;
	}
	reg_get(&q.st, (int)r, b);
	out_reset();
	out_hex(b, reg_size((int)r));
	send_reply();
}

static void
cmd_write_reg(const char *p)
{
	struct regs_req q;
	uint64_t r;
	uint8_t b[16];
	int g;

	if (!parse_hex(&p, &r) || *p++ != '=' || r >= R_NREGS ||
	    !unhex(p, strlen(p), b, reg_size((int)r))) {
		reply("E22");
		return;
	}
	if (mc_call(g_idx, fn_regs_get, &q) == -1) {
		reply("E01");
		return;
	}
	g = reg_set(&q.st, (int)r, b);
	if (g == -1) {
		reply("E22");
		return;
	}
	q.flags = (uint64_t)g;
	reply(mc_call(g_idx, fn_regs_set, &q) == 0 ? "OK" : "E01");
}

static void
cmd_read_mem(const char *p)
{
	static uint8_t buf[MEM_MAX];
	uint64_t addr, len;
	size_t n;

	if (!parse_hex(&p, &addr) || *p++ != ',' || !parse_hex(&p, &len) ||
	    *p != '\0') {
		reply("E22");
		return;
	}
	if (len > MEM_MAX)
		len = MEM_MAX;	/* a shorter reply is allowed */
	if (len == 0) {
		reply("");
		return;
	}
	n = mem_access(addr, buf, (size_t)len, false, NULL);
	if (n == 0) {
		reply("E14");
		return;
	}
	out_reset();
	out_hex(buf, n);
	send_reply();
}

/* M addr,len:hex and X addr,len:binary (escaped). */
static void
cmd_write_mem(const char *p, size_t plen, bool binary)
{
	static uint8_t buf[PKT_MAX];
	const char *end = p + plen, *data;
	uint64_t addr, len;
	size_t i, n = 0;

	p++;
	if (!parse_hex(&p, &addr) || *p++ != ',' || !parse_hex(&p, &len) ||
	    *p++ != ':' || len > sizeof(buf)) {
		reply("E22");
		return;
	}
	data = p;
	if (binary) {
		for (i = 0; data + i < end && n < len; i++) {
			if (data[i] == '}') {
				if (data + i + 1 >= end)
					break;
				buf[n++] = (uint8_t)(data[++i] ^ 0x20);
			} else
				buf[n++] = (uint8_t)data[i];
		}
		if (n != len || data + i != end) {
			reply("E22");
			return;
		}
	} else if (!unhex(data, (size_t)(end - data), buf, (size_t)len)) {
		reply("E22");
		return;
	}
	if (len == 0) {
		reply("OK");
		return;
	}
	reply(mem_access(addr, buf, (size_t)len, true, NULL) == len ? "OK" :
	    "E14");
}

static void
cmd_xfer(const char *p)
{
	static const char pre[] = "qXfer:features:read:target.xml:";
	uint64_t off, len;

	if (strncmp(p, pre, sizeof(pre) - 1) != 0) {
		reply(strncmp(p, "qXfer:features:read:", 20) == 0 ? "E00" :
		    "");
		return;
	}
	p += sizeof(pre) - 1;
	if (!parse_hex(&p, &off) || *p++ != ',' || !parse_hex(&p, &len) ||
	    *p != '\0') {
		reply("E00");
		return;
	}
	xml_read = true;
	if (len > PKT_MAX - 16)
		len = PKT_MAX - 16;
	out_reset();
	if (off >= xml_len) {
		out_fmt("l");
	} else {
		if (len >= xml_len - off) {
			len = xml_len - off;
			out_fmt("l");
		} else
			out_fmt("m");
		out_bytes(xml + off, (size_t)len);
	}
	send_reply();
}

static void
cmd_query(const char *p)
{
	char info[64];
	uint64_t t;
	unsigned i;

	if (strncmp(p, "qSupported", 10) == 0) {
		out_reset();
		out_fmt("PacketSize=%x;qXfer:features:read+;"
		    "QStartNoAckMode+;swbreak+;hwbreak+", PKT_MAX);
		send_reply();
	} else if (strncmp(p, "qXfer:", 6) == 0) {
		cmd_xfer(p);
	} else if (strcmp(p, "qAttached") == 0 ||
	    strncmp(p, "qAttached:", 10) == 0) {
		reply("1");
	} else if (strcmp(p, "qC") == 0) {
		out_reset();
		out_fmt("QC%x", g_idx + 1);
		send_reply();
	} else if (strcmp(p, "qfThreadInfo") == 0) {
		out_reset();
		out_fmt("m");
		for (i = 0; i < s_nthreads; i++)
			out_fmt("%s%x", i > 0 ? "," : "", i + 1);
		send_reply();
	} else if (strcmp(p, "qsThreadInfo") == 0) {
		reply("l");
	} else if (strncmp(p, "qThreadExtraInfo,", 17) == 0) {
		p += 17;
		if (!parse_hex(&p, &t) || !valid_thread(t)) {
			reply("E22");
			return;
		}
		snprintf(info, sizeof(info), "VCPU %u",
		    (unsigned)s_vcpus[t - 1].vcpu.cpuid);
		out_reset();
		out_hex((const uint8_t *)info, strlen(info));
		send_reply();
	} else if (strncmp(p, "qSymbol:", 8) == 0) {
		reply("OK");
	} else {
		reply("");
	}
}

/*
 * vCont;ACTION[:THREAD]...: the first step action decides which VCPU
 * steps (the others stay stopped, whatever their actions say); without
 * one every VCPU continues.  Signals are ignored, as for C and S.
 */
static bool
cmd_vcont(const char *p)
{
	uint64_t v;
	int step = -2, t, r;

	while (*p == ';') {
		char a = *++p;

		if (a != 'c' && a != 'C' && a != 's' && a != 'S')
			return reply("E22");
		p++;
		if ((a == 'C' || a == 'S') && !parse_hex(&p, &v))
			return reply("E22");
		t = -1;
		if (*p == ':') {
			p++;
			if (strncmp(p, "-1", 2) == 0) {
				p += 2;
			} else if (!parse_hex(&p, &v) ||
			    (v != 0 && !valid_thread(v))) {
				return reply("E22");
			} else if (v != 0)
				t = (int)v - 1;
		}
		if ((a == 's' || a == 'S') && step == -2)
			step = t >= 0 ? t : c_idx >= 0 ? c_idx : (int)g_idx;
	}
	if (*p != '\0')
		return reply("E22");
	if (step >= 0 && step_refused((unsigned)step))
		return reply("E01");
	r = resume_and_wait(step >= 0 ? step : -1);
	if (r == RES_GONE)
		release();
	return r == RES_STOPPED;
}

/* Handles one packet; false when the session is over. */
static bool
dispatch(size_t len)
{
	const char *p = pkt;
	uint64_t v, t;
	int idx, r;

	switch (pkt[0]) {
	case '?':
		return send_stop(&last_stop);
	case 'g':
		if (len != 1)
			return reply("E22");
		cmd_read_regs();
		return true;
	case 'G':
		cmd_write_regs(pkt + 1, len - 1);
		return true;
	case 'p':
		cmd_read_reg(pkt + 1);
		return true;
	case 'P':
		cmd_write_reg(pkt + 1);
		return true;
	case 'm':
		cmd_read_mem(pkt + 1);
		return true;
	case 'M':
	case 'X':
		cmd_write_mem(pkt, len, pkt[0] == 'X');
		return true;
	case 'Z':
	case 'z':
		return reply(breakpoint(pkt));
	case 'H':
		if (len < 3)
			return reply("E22");
		p = pkt + 2;
		if (strcmp(p, "-1") == 0 || strcmp(p, "0") == 0)
			t = 0;
		else if (!parse_hex(&p, &t) || *p != '\0' || !valid_thread(t))
			return reply("E22");
		if (pkt[1] == 'g') {
			if (t != 0)
				g_idx = (unsigned)t - 1;
		} else if (pkt[1] == 'c')
			c_idx = t == 0 ? -1 : (int)t - 1;
		else
			return reply("E22");
		return reply("OK");
	case 'T':
		p = pkt + 1;
		return reply(parse_hex(&p, &t) && valid_thread(t) ? "OK" :
		    "E22");
	case 'c':
	case 's':
	case 'C':
	case 'S':
		idx = c_idx >= 0 ? c_idx : (int)g_idx;
		p = pkt + 1;
		if (pkt[0] == 'C' || pkt[0] == 'S') {
			/* The signal is ignored: nothing delivers it. */
			if (!parse_hex(&p, &v))
				return reply("E22");
			if (*p == ';')
				p++;
		}
		if (*p != '\0') {
			if (!parse_hex(&p, &v) || *p != '\0')
				return reply("E22");
			if (!set_rip((unsigned)idx, v))
				return reply("E01");
		}
		if ((pkt[0] == 's' || pkt[0] == 'S') &&
		    step_refused((unsigned)idx))
			return reply("E01");
		r = resume_and_wait(pkt[0] == 's' || pkt[0] == 'S' ? idx : -1);
		if (r == RES_GONE)
			release();
		return r == RES_STOPPED;
	case 'D':
		reply("OK");
		release();
		return false;
	case 'k':
		mc_kill();
		return false;
	case 'v':
		if (strncmp(pkt, "vKill", 5) == 0) {
			reply("OK");
			mc_kill();
			return false;
		}
		if (strcmp(pkt, "vCont?") == 0)
			return reply("vCont;c;C;s;S");
		if (strncmp(pkt, "vCont;", 6) == 0)
			return cmd_vcont(pkt + 5);
		return reply("");
	case 'q':
		cmd_query(pkt);
		return true;
	case 'Q':
		if (strcmp(pkt, "QStartNoAckMode") == 0) {
			reply("OK");
			noack = true;
			return true;
		}
		return reply("");
	default:
		return reply("");
	}
}

/* ------------------------------------------------------------------------
 * Sessions and the thread.
 * ------------------------------------------------------------------------ */

static void
session(void)
{
	ssize_t len;
	int one = 1;

	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	noack = false;
	xml_read = false;
	inlen = inpos = 0;
	last_reply_len = 0;
	g_idx = 0;
	c_idx = -1;
	memset(&dbg, 0, sizeof(dbg));
	dbg.swbp_hlt = (s_limits & KVMDBG_LIM_INT3) != 0;
	memset(slots, 0, sizeof(slots));
	mc_hold_all();
	if (!mc_wait_held()) {
		send_end();
		return;
	}
	memset(&last_stop, 0, sizeof(last_stop));
	last_stop.sig = GDB_SIGTRAP;
	say("[+] GDB connected");
	if (s_limits & KVMDBG_LIM_DR)
		say("[+] GDB on this host (KVM inside QEMU's TCG) the debug "
		    "registers never fire and an int3 goes to the guest: "
		    "break writes an HLT (CPL0 code only), hbreak is refused, "
		    "watch is gdb's own");
	for (;;) {
		len = get_packet();
		if (len == PK_EOF && mc_ended(NULL)) {
			send_end();
			return;
		}
		if (len == PK_EOF) {
			release();
			say("[+] GDB disconnected");
			return;
		}
		if (len == PK_INTR)
			continue;	/* already stopped */
		if (len == PK_NOTIFY) {
			if (mc_ended(NULL)) {
				send_end();
				return;
			}
			continue;
		}
		if (len == 0) {
			reply("");
			continue;
		}
		if (!dispatch((size_t)len)) {
			if (!mc_ended(NULL))
				say("[+] GDB detached");
			return;
		}
	}
}

static void *
stub_main(void *arg)
{
	struct pollfd p[3];

	(void)arg;
	for (;;) {
		if (mc_ended(NULL))
			break;
		p[0].fd = lfd;
		p[0].events = POLLIN;
		p[1].fd = quit_pipe[0];
		p[1].events = POLLIN;
		p[2].fd = mc_notify_fd();
		p[2].events = POLLIN;
		if (poll(p, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[2].revents & POLLIN) {
			mc_drain();
			continue;
		}
		if (!(p[0].revents & POLLIN))
			continue;
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd == -1)
			continue;
		session();
		close(cfd);
		cfd = -1;
	}
	return NULL;
}

int
gdb_listen(unsigned port, unsigned *bound, char *err, size_t errlen)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int one = 1;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 1) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) == -1) {
		snprintf(err, errlen, "127.0.0.1:%u: %s", port,
		    strerror(errno));
		close(lfd);
		lfd = -1;
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return 0;
}

int
gdb_start(struct tv_vcpu *vcpus, unsigned nthreads, uint32_t dbg_support)
{
	int e;

	s_vcpus = vcpus;
	s_nthreads = nthreads;
	s_support = dbg_support;
	s_limits = kvmdbg_host_limits();
	if (build_xml() == -1) {
		errno = ENOMEM;
		return -1;
	}
	if (pipe2(quit_pipe, O_CLOEXEC) == -1)
		return -1;
	e = pthread_create(&stub_thread, NULL, stub_main, NULL);
	if (e != 0) {
		errno = e;
		return -1;
	}
	stub_started = true;
	return 0;
}

void
gdb_stop(void)
{
	char c = 0;
	ssize_t n;

	if (stub_started) {
		n = write(quit_pipe[1], &c, 1);
		(void)n;
		pthread_join(stub_thread, NULL);
		stub_started = false;
	}
	if (lfd != -1)
		close(lfd);
	lfd = -1;
	if (quit_pipe[0] != -1) {
		close(quit_pipe[0]);
		close(quit_pipe[1]);
	}
	free(xml);
	xml = NULL;
}
