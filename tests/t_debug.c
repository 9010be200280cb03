/* t_debug.c - our guest-debugging extension: NVMM_VCPU_CONF_DEBUG (steps, int3 and DR0-DR3 breakpoints) and NVMM_VCPU_EXIT_DEBUG. */

/*
 * The guest is five bytes of 64-bit code: nop; nop; hlt; int3; hlt.
 * What a host cannot do (an int3 or DR0-DR3 on a KVM inside QEMU's TCG)
 * must be refused with EOPNOTSUPP, never accepted and then silent.
 */

#include <errno.h>
#include <string.h>

#include "vmtest.h"

static const uint8_t code[] = { 0x90, 0x90, 0xf4, 0xcc, 0xf4 };

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

	vmt_destroy(&t);
	return vmt_done("t_debug");
}
