/* assist_harness.c - the per-case harness of t_assist_io and t_assist_mem: guest snippets, registers in and out, expected memory, runs to the checkpoint. */

/*
 * Linked into every test but used by the assist tests only: nothing here
 * refers to a guest symbol; the test passes them in ah_env.
 */

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "assist_harness.h"

struct ah_env ah_env;
struct ah_case ah;

static const char *const gpr_names[NVMM_X64_NGPR] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9",
	"r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"
};

static void
fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ah_env.test);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* -------------------------------------------------------------------------
 * Guest, machine and values.
 * ------------------------------------------------------------------------- */

void
ah_machine_up(struct nvmm_assist_callbacks *cbs)
{
	struct vmt *vm = ah_env.vm;

	vmt_create(vm, VMT_RAM, 0);
	if (nvmm_vcpu_configure(&vm->mach, &vm->vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    cbs) == -1)
		fatal("configure callbacks: %s", strerror(errno));
	vmt_load(vm, VMT_CODE, ah_env.code, ah_env.code_end);
}

static const struct ah_snip *
snip(const char *name)
{
	const struct ah_snip *s;

	for (s = ah_env.sniptab; s < ah_env.sniptab_end; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	fatal("no snippet %s", name);
	return NULL;
}

uint64_t
ah_gva(const char *p)
{
	return (uint64_t)(p - ah_env.code) + VMT_CODE;
}

uint64_t
ah_rip(const char *p)
{
	return ah_gva(p) - ah_env.csbase;
}

/* The checkpoint OUT is two bytes: its RIP is the instruction's npc. */
uint64_t
ah_cp_rip(void)
{
	return ah_rip(ah.s->end) - 2;
}

uint8_t
ah_pattern(uint64_t gpa)
{
	return (uint8_t)(((gpa ^ (gpa >> 7) ^ (gpa >> 12)) * 0x6b) + 0x1d);
}

uint64_t
ah_msk(int size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* A register after a load of size bytes, by x86-64 rules. */
uint64_t
ah_merge(uint64_t old, uint64_t v, int size)
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

static uint8_t *
xbyte(uint64_t gpa, bool actual)
{
	struct ah_region *r;
	int i;

	for (i = 0; i < ah_env.nregions; i++) {
		r = &ah_env.regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return (actual ? r->mem : r->exp) + (gpa - r->gpa);
	}
	fatal("gpa %#llx outside the test regions", (unsigned long long)gpa);
	return NULL;
}

/* Expected contents (before or after the guest's effect). */
uint64_t
ah_xrd(uint64_t gpa, int size)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)*xbyte(gpa + (uint64_t)i, false) << (8 * i);
	return v;
}

/* The guest's expected effect on memory. */
void
ah_xwr(uint64_t gpa, int size, uint64_t v)
{
	int i;

	for (i = 0; i < size; i++)
		*xbyte(gpa + (uint64_t)i, false) = (uint8_t)(v >> (8 * i));
}

/* Sets memory before the case, for the guest and the expectation. */
void
ah_put(uint64_t gpa, int size, uint64_t v)
{
	int i;

	ah_xwr(gpa, size, v);
	for (i = 0; i < size; i++)
		*xbyte(gpa + (uint64_t)i, true) = (uint8_t)(v >> (8 * i));
}

/* -------------------------------------------------------------------------
 * Cases.
 * ------------------------------------------------------------------------- */

void
ah_begin(const char *fmt, ...)
{
	char sname[64];
	va_list ap;
	size_t n;
	int i;

	memset(&ah, 0, sizeof(ah));
	va_start(ap, fmt);
	vsnprintf(ah.name, sizeof(ah.name), fmt, ap);
	va_end(ap);
	n = strcspn(ah.name, " ");
	if (n >= sizeof(sname))
		n = sizeof(sname) - 1;
	memcpy(sname, ah.name, n);
	sname[n] = '\0';
	ah.s = snip(sname);

	for (i = 0; i < NVMM_X64_NGPR; i++) {
		ah.in[i] = 0x0f1e2d3c4b5a6978ULL * (uint64_t)(i + 3) ^
		    0x8040201008040201ULL;
		ah.gmask[i] = ~0ULL;
	}
	ah.in[RSP] = VMT_STACK;
	ah.in[RIP] = ah_rip(ah.s->start);
	ah.in[RFL] = 0x2;
	memcpy(ah.exp, ah.in, sizeof(ah.in));
	ah.exp[RIP] = ah_rip(ah.s->end);

	for (i = 0; i < ah_env.nregions; i++) {
		struct ah_region *r = &ah_env.regions[i];
		size_t k;

		for (k = 0; k < r->size; k++)
			r->mem[k] = ah_pattern(r->gpa + k);
		memcpy(r->exp, r->mem, r->size);
	}
	ah_env.prepare();
}

void
ah_set(int gpr, uint64_t v)
{
	ah.in[gpr] = ah.exp[gpr] = v;
}

void
ah_expect(int gpr, uint64_t v)
{
	ah.exp[gpr] = v;
}

/* -------------------------------------------------------------------------
 * VCPU state.
 * ------------------------------------------------------------------------- */

void
ah_getstate(uint64_t flags)
{
	struct vmt *vm = ah_env.vm;

	if (nvmm_vcpu_getstate(&vm->mach, &vm->vcpu, flags) == -1)
		fatal("getstate: %s", strerror(errno));
}

void
ah_setstate(uint64_t flags)
{
	struct vmt *vm = ah_env.vm;

	if (nvmm_vcpu_setstate(&vm->mach, &vm->vcpu, flags) == -1)
		fatal("setstate: %s", strerror(errno));
}

void
ah_load_gprs(void)
{
	ah_getstate(NVMM_X64_STATE_GPRS);
	memcpy(ah_env.vm->vcpu.state->gprs, ah.in, sizeof(ah.in));
	ah_setstate(NVMM_X64_STATE_GPRS);
}

void
ah_set_seg(int seg, uint16_t sel, uint64_t base)
{
	ah_getstate(NVMM_X64_STATE_SEGS);
	ah_env.vm->vcpu.state->segs[seg].selector = sel;
	ah_env.vm->vcpu.state->segs[seg].base = base;
	ah_setstate(NVMM_X64_STATE_SEGS);
}

/* -------------------------------------------------------------------------
 * Running and comparing.
 * ------------------------------------------------------------------------- */

void
ah_cb_enter(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu)
{
	if (mach != &ah_env.vm->mach || vcpu != &ah_env.vm->vcpu)
		ah.badctx++;
	/* A callback may look at the VCPU (QEMU does). */
	if (!ah.peek)
		;
	else if (nvmm_vcpu_getstate(mach, vcpu, NVMM_X64_STATE_GPRS) == -1)
		ah.badstate++;
	else if (vcpu->state->gprs[RIP] != ah.start)
		ah.rip_moved++;
}

void
ah_check_callbacks(void)
{
	CHECK(ah.badsize == 0 && ah.badctx == 0, "%s: %d callbacks with a "
	    "bad size or data, %d with a bad mach/vcpu", ah.name, ah.badsize,
	    ah.badctx);
	CHECK(ah.badstate == 0, "%s: getstate failed in %d callbacks", ah.name,
	    ah.badstate);
}

static bool
at_checkpoint(uint64_t r)
{
	const struct nvmm_x86_exit *x = ah_env.vm->vcpu.exit;

	return r == NVMM_VCPU_EXIT_IO && x->u.io.port == AH_CHECKPOINT &&
	    !x->u.io.in;
}

/*
 * Peeking (the registers at each exit, in the callbacks and right after
 * each assist) makes the library have KVM finish the instruction at
 * once; a case that does not touches nothing until the checkpoint, so
 * that KVM finishes it at the next run.
 */
bool
ah_run(int (*on_exit)(uint64_t reason))
{
	static int case_no;
	struct vmt *vm = ah_env.vm;
	const struct nvmm_x86_exit *x = vm->vcpu.exit;
	uint64_t r;
	int guard;

	ah_load_gprs();
	ah.start = ah.in[RIP];
	ah.peek = (case_no++ & 1) == 0;
	for (guard = 0; guard < 20000; guard++) {
		r = vmt_run(vm);
		if (at_checkpoint(r)) {
			CHECK(nvmm_assist_io(&vm->mach, &vm->vcpu) == 0,
			    "%s: assist_io at the checkpoint: %s", ah.name,
			    strerror(errno));
			return true;
		}
		switch (on_exit(r)) {
		case AH_NEXT:
			continue;
		case AH_FAILED:
			ah_env.recover();
			return false;
		default:
			break;
		}
		CHECK(0, "%s: unexpected exit %#llx (io port %#x, hwcode "
		    "%#llx) at rip %#llx", ah.name, (unsigned long long)r,
		    r == NVMM_VCPU_EXIT_IO ? x->u.io.port : 0,
		    r == NVMM_VCPU_EXIT_INVALID ?
		    (unsigned long long)x->u.inv.hwcode : 0ULL,
		    (unsigned long long)vmt_gpr(vm, RIP));
		ah_env.recover();
		return false;
	}
	CHECK(0, "%s: checkpoint not reached", ah.name);
	ah_env.recover();
	return false;
}

void
ah_check_state(void)
{
	const uint64_t *gprs = ah_env.vm->vcpu.state->gprs;
	int i;

	ah_getstate(NVMM_X64_STATE_GPRS);
	for (i = 0; i < NVMM_X64_NGPR; i++)
		CHECK(((gprs[i] ^ ah.exp[i]) & ah.gmask[i]) == 0, "%s: %s = "
		    "%#llx, expected %#llx (compared bits %#llx)", ah.name,
		    gpr_names[i], (unsigned long long)gprs[i],
		    (unsigned long long)ah.exp[i],
		    (unsigned long long)ah.gmask[i]);

	for (i = 0; i < ah_env.nregions; i++) {
		const struct ah_region *rg = &ah_env.regions[i];
		size_t k;

		for (k = 0; k < rg->size; k++)
			if (rg->mem[k] != rg->exp[k])
				break;
		CHECK(k == rg->size, "%s: %s at gpa %#llx is %#x, expected %#x",
		    ah.name, rg->name, (unsigned long long)(rg->gpa + k),
		    k < rg->size ? rg->mem[k] : 0,
		    k < rg->size ? rg->exp[k] : 0);
	}
}

void
ah_checkpoint(void)
{
	struct vmt *vm = ah_env.vm;
	uint64_t r = vmt_run(vm);

	CHECK(at_checkpoint(r), "%s: exit %#llx, expected the checkpoint",
	    ah.name, (unsigned long long)r);
	if (at_checkpoint(r))
		nvmm_assist_io(&vm->mach, &vm->vcpu);
	else
		ah_env.recover();
}

bool
ah_finish(uint64_t reason)
{
	struct vmt *vm = ah_env.vm;
	uint64_t r;
	int guard;

	for (guard = 0; guard < 100; guard++) {
		r = vmt_run(vm);
		if (at_checkpoint(r)) {
			nvmm_assist_io(&vm->mach, &vm->vcpu);
			return true;
		}
		if (r != reason)
			break;
		if ((r == NVMM_VCPU_EXIT_IO ? nvmm_assist_io(&vm->mach,
		    &vm->vcpu) : nvmm_assist_mem(&vm->mach, &vm->vcpu)) == -1)
			break;
	}
	ah_env.recover();
	return false;
}

/* -------------------------------------------------------------------------
 * Interrupts injected after an assist.
 * ------------------------------------------------------------------------- */

void
ah_idt_isr(void)
{
	struct nvmm_x64_state *st = ah_env.vm->vcpu.state;
	uint8_t *e = ah_env.vm->ram + VMT_IDT + 16 * AH_ISR_VEC;
	uint64_t h = ah_gva(ah_env.isr);

	memset(e, 0, 16);
	e[0] = (uint8_t)h;
	e[1] = (uint8_t)(h >> 8);
	e[2] = 0x08;				/* selector */
	e[5] = 0x8e;				/* P, DPL0, interrupt gate */
	e[6] = (uint8_t)(h >> 16);
	e[7] = (uint8_t)(h >> 24);
	ah_getstate(NVMM_X64_STATE_SEGS);
	st->segs[NVMM_X64_SEG_IDT].base = VMT_IDT;
	st->segs[NVMM_X64_SEG_IDT].limit = 16 * AH_ISR_VEC + 15;
	ah_setstate(NVMM_X64_STATE_SEGS);
}

void
ah_inject_after(bool peek, int gpr, uint64_t want)
{
	struct vmt *vm = ah_env.vm;
	const struct nvmm_x86_exit *x = vm->vcpu.exit;
	uint64_t r, cp = ah_cp_rip();

	if (peek)
		CHECK_EQ(vmt_gpr(vm, RIP), cp);
	vm->vcpu.event->type = NVMM_VCPU_EVENT_INTR;
	vm->vcpu.event->vector = AH_ISR_VEC;
	vm->vcpu.event->u.excp.error = 0;
	CHECK(nvmm_vcpu_inject(&vm->mach, &vm->vcpu) == 0, "%s: inject",
	    ah.name);
	r = vmt_run(vm);
	CHECK(r == NVMM_VCPU_EXIT_IO && x->u.io.port == AH_ISR_PORT,
	    "%s: exit %#llx port %#x, expected the handler", ah.name,
	    (unsigned long long)r, r == NVMM_VCPU_EXIT_IO ? x->u.io.port : 0);
	if (r == NVMM_VCPU_EXIT_IO && x->u.io.port == AH_ISR_PORT) {
		nvmm_assist_io(&vm->mach, &vm->vcpu);
		CHECK(vmt_gpr(vm, RDX) == cp, "%s: the interrupt came at RIP "
		    "%#llx, expected %#llx after the instruction", ah.name,
		    (unsigned long long)vmt_gpr(vm, RDX),
		    (unsigned long long)cp);
		CHECK(vmt_gpr(vm, gpr) == want, "%s: %s %#llx, expected %#llx",
		    ah.name, gpr_names[gpr],
		    (unsigned long long)vmt_gpr(vm, gpr),
		    (unsigned long long)want);
	}
	ah_env.recover();	/* the handler halts; IDT limit back to 0 */
}
