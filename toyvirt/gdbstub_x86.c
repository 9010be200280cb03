/* gdbstub_x86.c - the x86 half of toyvirt's GDB stub: the register file and target description gdb sees, DR0-DR3 breakpoints, and what libnvmm can debug here. */

/*
 * The protocol (packets, commands, sessions) is gdbstub.c's and knows no
 * register: it asks here how many there are, how wide, and how each maps
 * onto NVMM's x86 state.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdbstub.h"
#include "gdbstub_x86.h"

#define CR0_PG		0x80000000ULL

/* ------------------------------------------------------------------------
 * Registers: the i386:x86-64 layout.
 * ------------------------------------------------------------------------ */

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

int
gx_nregs(bool described)
{
	return described ? R_NREGS : R_NPLAIN;
}

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

int
gx_xml_build(void)
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

const char *
gx_xml(size_t *len)
{
	*len = xml_len;
	return xml;
}

void
gx_xml_free(void)
{
	free(xml);
	xml = NULL;
	xml_len = 0;
}

/* ------------------------------------------------------------------------
 * Register values.
 * ------------------------------------------------------------------------ */

size_t
gx_reg_size(int r)
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

/* Register r of st into b (gx_reg_size(r) bytes). */
void
gx_reg_get(const struct nvmm_x64_state *st, int r, uint8_t *b)
{
	const struct fxsave *fx = &st->fpu;

	memset(b, 0, GX_REG_MAX);
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
int
gx_reg_set(struct nvmm_x64_state *st, int r, const uint8_t *b)
{
	struct fxsave *fx = &st->fpu;
	uint64_t v = get_le(b, gx_reg_size(r) > 8 ? 8 : gx_reg_size(r));
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

/* ------------------------------------------------------------------------
 * The VCPU at an address (on its thread).
 * ------------------------------------------------------------------------ */

int
gx_probe(struct tv_vcpu *v, void *arg)
{
	struct probe_req *q = arg;
	struct nvmm_x64_state *st = v->vcpu.state;
	uint64_t gpa;

	if (nvmm_vcpu_getstate(mc_machine(), &v->vcpu, NVMM_X64_STATE_CRS |
	    NVMM_X64_STATE_SEGS) == -1)
		return -1;
	q->paging = (st->crs[NVMM_X64_CR_CR0] & CR0_PG) != 0;
	q->cpl = st->segs[NVMM_X64_SEG_CS].selector & 3;
	q->mapped = nvmm_gva_to_gpa(mc_machine(), &v->vcpu, q->gva, &gpa,
	    &q->prot) == 0;
	return 0;
}

/* ------------------------------------------------------------------------
 * DR0-DR3.
 * ------------------------------------------------------------------------ */

/* DR0-DR3: what gdb asked for (type 0 = Z0 in a debug register). */
static struct {
	bool used;
	unsigned type;
	uint64_t addr, kind;
	unsigned rw, lenbits;
} slots[4];

/* DR0-DR3 and DR7 from the slots: L bit 2i, RW bits 16+4i, LEN 18+4i. */
static void
slots_to_dbg(struct mc_debug *dbg)
{
	unsigned i;

	dbg->dr7 = 0;
	for (i = 0; i < 4; i++) {
		dbg->dr[i] = slots[i].used ? slots[i].addr : 0;
		if (slots[i].used)
			dbg->dr7 |= (1ULL << (2 * i)) |
			    (uint64_t)slots[i].rw << (16 + 4 * i) |
			    (uint64_t)slots[i].lenbits << (18 + 4 * i);
	}
}

int
gx_slot_find(unsigned type, uint64_t addr, uint64_t kind)
{
	unsigned i;

	for (i = 0; i < 4; i++)
		if (slots[i].used && slots[i].type == type &&
		    slots[i].addr == addr && (type < 2 || slots[i].kind == kind))
			return (int)i;
	return -1;
}

int
gx_slot_take(struct mc_debug *dbg, uint32_t limits, unsigned type,
    uint64_t addr, uint64_t kind, unsigned rw, unsigned lenbits)
{
	unsigned i;

	if (type < 2 && (limits & GDB_LIM_DR))
		return -1;
	for (i = 0; i < 4; i++)
		if (!slots[i].used) {
			slots[i].used = true;
			slots[i].type = type;
			slots[i].addr = addr;
			slots[i].kind = kind;
			slots[i].rw = rw;
			slots[i].lenbits = lenbits;
			slots_to_dbg(dbg);
			return (int)i;
		}
	return -1;
}

void
gx_slot_free(struct mc_debug *dbg, int i)
{
	memset(&slots[i], 0, sizeof(slots[i]));
	slots_to_dbg(dbg);
}

void
gx_slots_reset(void)
{
	memset(slots, 0, sizeof(slots));
}

bool
gx_slot_is_z0(int i)
{
	return i >= 0 && i < 4 && slots[i].used && slots[i].type == 0;
}

/* ------------------------------------------------------------------------
 * What libnvmm can debug on this host.
 * ------------------------------------------------------------------------ */

/* One trial configuration: 0 if accepted, 1 if refused, -1 on error. */
static int
try_debug(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu, uint64_t flags,
    uint64_t dr7)
{
	struct nvmm_vcpu_conf_debug c;

	memset(&c, 0, sizeof(c));
	c.flags = flags;
	c.dr7 = dr7;
	if (nvmm_vcpu_configure(mach, vcpu, NVMM_VCPU_CONF_DEBUG, &c) == 0)
		return 0;
	return errno == EOPNOTSUPP ? 1 : -1;
}

int
gdb_limits(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu,
    uint32_t *limits, char *err, size_t errlen)
{
	static const struct {
		uint64_t flags, dr7;
		uint32_t lim;
	} trials[] = {
		{ NVMM_VCPU_DEBUG_USER, 0, GDB_LIM_CPL3 },
		{ NVMM_VCPU_DEBUG_SWBP, 0, GDB_LIM_INT3 },
		{ NVMM_VCPU_DEBUG_HWBP, 0x1, GDB_LIM_DR },	/* DR0, exec */
		{ NVMM_VCPU_DEBUG_HWBP, 0x10001, GDB_LIM_WATCH }, /* write */
	};
	struct nvmm_capability cap;
	size_t i;
	int r;

	if (nvmm_capability(&cap) == -1)
		goto fail;
	if (!(cap.arch.vcpu_conf_support & NVMM_CAP_ARCH_VCPU_CONF_DEBUG)) {
		snprintf(err, errlen, "libnvmm offers no guest debugging "
		    "here (NVMM_CAP_ARCH_VCPU_CONF_DEBUG)");
		return -1;
	}
	*limits = 0;
	for (i = 0; i < sizeof(trials) / sizeof(trials[0]); i++) {
		if ((r = try_debug(mach, vcpu, trials[i].flags,
		    trials[i].dr7)) == -1)
			goto fail;
		if (r == 1)
			*limits |= trials[i].lim;
	}
	/* Data breakpoints need the debug registers. */
	if (*limits & GDB_LIM_DR)
		*limits |= GDB_LIM_WATCH;
	if (try_debug(mach, vcpu, 0, 0) == 0)
		return 0;
fail:
	snprintf(err, errlen, "nvmm_vcpu_configure(NVMM_VCPU_CONF_DEBUG): %s",
	    strerror(errno));
	return -1;
}

