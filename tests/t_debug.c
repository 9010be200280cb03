/* t_debug.c - our guest-debugging extension: NVMM_VCPU_CONF_DEBUG (steps, int3 and DR0-DR3 breakpoints) and NVMM_VCPU_EXIT_DEBUG. */

/*
 * The guest is 64-bit code: nop; nop; hlt; int3; hlt; rep outsb; hlt.
 * What a host cannot do (an int3 or DR0-DR3 on a KVM inside QEMU's TCG)
 * must be refused with EOPNOTSUPP, never accepted and then silent.  A
 * step armed in the middle of a REP OUTS (an element assisted, KVM not
 * done with it yet) must neither lose nor repeat an element.
 */

#include <errno.h>
#include <string.h>

#include "vmtest.h"

static const uint8_t code[] = { 0x90, 0x90, 0xf4, 0xcc, 0xf4, 0xf3, 0x6e,
    0xf4 };
static const char outs_data[] = "ABCD";

#define OUTS_PORT	0x10
#define OUTS_SRC	VMT_DATA

static char outs_log[16];
static size_t outs_n;

static void
io_cb(struct nvmm_io *io)
{
	if (!io->in && outs_n < sizeof(outs_log) - 1)
		outs_log[outs_n++] = (char)io->data[0];
}

static void
mem_cb(struct nvmm_mem *mem)
{
	(void)mem;
}

#define AT(i)	(VMT_CODE + (i))

static int
debug_conf(struct vmt *t, uint64_t flags, uint64_t dr0, uint64_t dr7)
{
	struct nvmm_vcpu_conf_debug c;

	memset(&c, 0, sizeof(c));
	c.flags = flags;
	c.dr[0] = dr0;
	c.dr7 = dr7;
	return nvmm_vcpu_configure(&t->mach, &t->vcpu, NVMM_VCPU_CONF_DEBUG,
	    &c);
}

static void
set_rip(struct vmt *t, uint64_t rip)
{
	vmt_set_gpr(t, NVMM_X64_GPR_RIP, rip);
}

/* One step from RIP: a #DB debug exit on the next instruction. */
static void
check_step(struct vmt *t, uint64_t from, uint64_t to)
{
	const struct nvmm_x86_exit *x = t->vcpu.exit;

	set_rip(t, from);
	CHECK_OK(debug_conf(t, NVMM_VCPU_DEBUG_STEP | NVMM_VCPU_DEBUG_NOIRQ,
	    0, 0));
	CHECK_EQ(vmt_run(t), NVMM_VCPU_EXIT_DEBUG);
	CHECK_EQ(x->u.dbg.exception, 1);
	CHECK_EQ(vmt_gpr(t, NVMM_X64_GPR_RIP), to);
}

static void
check_args(struct vmt *t)
{
	struct nvmm_capability cap;

	CHECK_OK(nvmm_capability(&cap));
	CHECK(cap.arch.vcpu_conf_support & NVMM_CAP_ARCH_VCPU_CONF_DEBUG,
	    "no NVMM_CAP_ARCH_VCPU_CONF_DEBUG on a KVM with guest debugging");
	CHECK_ERR(debug_conf(t, 1ULL << 40, 0, 0), EINVAL);
	CHECK_ERR(nvmm_vcpu_configure(&t->mach, &t->vcpu,
	    NVMM_VCPU_CONF_DEBUG, NULL), EFAULT);
	/* Off is always possible. */
	CHECK_OK(debug_conf(t, 0, 0, 0));
}

static void
check_swbp(struct vmt *t)
{
	const struct nvmm_x86_exit *x = t->vcpu.exit;

	set_rip(t, AT(3));
	if (debug_conf(t, NVMM_VCPU_DEBUG_SWBP, 0, 0) == -1) {
		CHECK_EQ(errno, EOPNOTSUPP);
		printf("int3 breakpoints: refused by this host\n");
		return;
	}
	CHECK_EQ(vmt_run(t), NVMM_VCPU_EXIT_DEBUG);
	CHECK_EQ(x->u.dbg.exception, 3);
	CHECK_EQ(vmt_gpr(t, NVMM_X64_GPR_RIP), AT(3));
	CHECK_OK(debug_conf(t, 0, 0, 0));
}

static void
check_hwbp(struct vmt *t)
{
	const struct nvmm_x86_exit *x = t->vcpu.exit;

	set_rip(t, AT(0));
	/* DR0 = the second nop, execute, enabled locally (DR7.L0). */
	if (debug_conf(t, NVMM_VCPU_DEBUG_HWBP, AT(1), 0x1) == -1) {
		CHECK_EQ(errno, EOPNOTSUPP);
		printf("DR0-DR3 breakpoints: refused by this host\n");
		return;
	}
	CHECK_EQ(vmt_run(t), NVMM_VCPU_EXIT_DEBUG);
	CHECK_EQ(x->u.dbg.exception, 1);
	CHECK(x->u.dbg.dr6 & 1, "DR6 0x%llx: B0 not set",
	    (unsigned long long)x->u.dbg.dr6);
	CHECK_EQ(vmt_gpr(t, NVMM_X64_GPR_RIP), AT(1));
	CHECK_OK(debug_conf(t, 0, 0, 0));
}

/* Runs to the next exit that is not an I/O one, assisting those. */
static uint64_t
run_assisted(struct vmt *t)
{
	uint64_t r;

	while ((r = vmt_run(t)) == NVMM_VCPU_EXIT_IO)
		CHECK_OK(nvmm_assist_io(&t->mach, &t->vcpu));
	return r;
}

static void
check_step_in_outs(struct vmt *t)
{
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	uint64_t r;
	int steps = 0;

	CHECK_OK(nvmm_vcpu_configure(&t->mach, &t->vcpu,
	    NVMM_VCPU_CONF_CALLBACKS, &cbs));
	memcpy(t->ram + OUTS_SRC, outs_data, 4);
	vmt_set_gpr(t, NVMM_X64_GPR_RSI, OUTS_SRC);
	vmt_set_gpr(t, NVMM_X64_GPR_RCX, 4);
	vmt_set_gpr(t, NVMM_X64_GPR_RDX, OUTS_PORT);
	set_rip(t, AT(5));
	/* The first element, assisted; KVM completes it at the next run. */
	CHECK_EQ(vmt_run(t), NVMM_VCPU_EXIT_IO);
	CHECK_OK(nvmm_assist_io(&t->mach, &t->vcpu));
	CHECK_OK(debug_conf(t, NVMM_VCPU_DEBUG_STEP, 0, 0));
	while ((r = run_assisted(t)) == NVMM_VCPU_EXIT_DEBUG && steps < 8)
		steps++;
	CHECK_OK(debug_conf(t, 0, 0, 0));
	if (r == NVMM_VCPU_EXIT_DEBUG)
		r = run_assisted(t);
	CHECK_EQ(r, NVMM_VCPU_EXIT_HALTED);
	CHECK(outs_n == 4 && memcmp(outs_log, outs_data, 4) == 0,
	    "rep outsb stepped: the port saw \"%.*s\", not \"ABCD\"",
	    (int)outs_n, outs_log);
	CHECK_EQ(vmt_gpr(t, NVMM_X64_GPR_RIP), AT(8));
}

int
main(void)
{
	struct vmt t;

	vmt_init_or_skip();
	vmt_create(&t, VMT_RAM, 0);
	vmt_load(&t, VMT_CODE, code, code + sizeof(code));
	vmt_setup_long(&t, AT(0));

	check_args(&t);
	check_step(&t, AT(0), AT(1));
	check_step(&t, AT(1), AT(2));
	/* A RIP set by the client is where the next step starts. */
	check_step(&t, AT(0), AT(1));
	/* Off: the guest runs to its HLT. */
	CHECK_OK(debug_conf(&t, 0, 0, 0));
	set_rip(&t, AT(0));
	CHECK_EQ(vmt_run(&t), NVMM_VCPU_EXIT_HALTED);
	CHECK_EQ(vmt_gpr(&t, NVMM_X64_GPR_RIP), AT(3));
	check_swbp(&t);
	check_hwbp(&t);
	check_step_in_outs(&t);

	vmt_destroy(&t);
	return vmt_done("t_debug");
}
