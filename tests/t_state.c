/* t_state.c - state round trips, the ioctl-free exit path, CPUID. */

#include <cpuid.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "vmtest.h"
#include "nvmm_internal.h"

extern const char st_start[], st_end[], st_out[], st_cpuid[], st_rdmsr[],
    st_outloop[];

#define GVA(l)	((uint64_t)((l) - st_start) + VMT_CODE)

static uint64_t
run_io(struct vmt *t)
{
	uint64_t r;

	while ((r = vmt_run(t)) == NVMM_VCPU_EXIT_IO) {
		nvmm_assist_io(&t->mach, &t->vcpu);
		if (t->vcpu.exit->u.io.port == 0x40)
			break;
	}
	return r;
}

static void
round_trips(void)
{
	struct vmt t;
	struct nvmm_x64_state want, *st;
	int i;

	vmt_create(&t, VMT_RAM, 3);
	nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS, &vmt_port_cbs);
	vmt_load(&t, VMT_CODE, st_start, st_end);
	vmt_setup_long(&t, GVA(st_out));
	st = t.vcpu.state;

	CHECK(nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_ALL) == 0,
	    "getstate");
	for (i = 0; i < 16; i++)
		if (i != NVMM_X64_GPR_RSP)
			st->gprs[i] = 0x1111111111111111ULL * (uint64_t)(i + 1);
	st->crs[NVMM_X64_CR_CR2] = 0xdead0000;
	st->crs[NVMM_X64_CR_CR8] = 5;
	st->crs[NVMM_X64_CR_XCR0] = 1;
	st->drs[NVMM_X64_DR_DR0] = 0x1000;
	st->drs[NVMM_X64_DR_DR1] = 0x2000;
	st->drs[NVMM_X64_DR_DR2] = 0x3000;
	st->drs[NVMM_X64_DR_DR3] = 0x4000;
	st->drs[NVMM_X64_DR_DR6] = 0xffff0ff0;
	st->drs[NVMM_X64_DR_DR7] = 0x400;
	st->msrs[NVMM_X64_MSR_EFER] = 0xd01;	/* SCE LME LMA NXE */
	st->msrs[NVMM_X64_MSR_STAR] = 0x0023001000000000ULL;
	st->msrs[NVMM_X64_MSR_LSTAR] = 0xffffffff81000000ULL;
	st->msrs[NVMM_X64_MSR_CSTAR] = 0xffffffff82000000ULL;
	st->msrs[NVMM_X64_MSR_SFMASK] = 0x47700;
	st->msrs[NVMM_X64_MSR_KERNELGSBASE] = 0xffff888000001000ULL;
	st->msrs[NVMM_X64_MSR_SYSENTER_CS] = 0x10;
	st->msrs[NVMM_X64_MSR_SYSENTER_ESP] = 0xffffc90000002000ULL;
	st->msrs[NVMM_X64_MSR_SYSENTER_EIP] = 0xffffffff81002000ULL;
	st->msrs[NVMM_X64_MSR_PAT] = 0x0007050600070106ULL;
	st->segs[NVMM_X64_SEG_FS].base = 0x7f0000001000ULL;
	st->segs[NVMM_X64_SEG_GS].base = 0xffff888000002000ULL;
	st->segs[NVMM_X64_SEG_GDT].limit = 0xfff;
	st->segs[NVMM_X64_SEG_IDT].base = 0x7000;
	st->segs[NVMM_X64_SEG_IDT].limit = 0x7ff;
	st->segs[NVMM_X64_SEG_LDT].selector = 0x18;
	st->segs[NVMM_X64_SEG_LDT].base = 0x9000;
	st->segs[NVMM_X64_SEG_TR].selector = 0x20;
	st->segs[NVMM_X64_SEG_TR].base = 0xa000;
	st->segs[NVMM_X64_SEG_TR].limit = 0x67;
	memset(&st->fpu, 0, sizeof(st->fpu));
	/*
	 * An x87 state a CPU can hold: IE unmasked and pending, so ES and B
	 * are set.  A CPU computes ES from the exception flags and the masks
	 * and B from ES; values written to them are ignored (AMD APM vol. 1,
	 * 6.2.2).  AMD CPUs save FOP/FIP/FDP only while an exception is
	 * pending (APM, FXSAVE), so without one they would read back 0.
	 */
	st->fpu.fx_cw = 0x37e;
	st->fpu.fx_sw = 0xb881;
	st->fpu.fx_tw = 0x81;
	st->fpu.fx_opcode = 0x5d9;
	st->fpu.fx_ip.fa_64 = 0x401234;
	st->fpu.fx_dp.fa_64 = 0x605678;
	st->fpu.fx_mxcsr = 0x1fa0;
	st->fpu.fx_mxcsr_mask = 0xffff;
	for (i = 0; i < 8; i++) {
		st->fpu.fx_87_ac[i].r.f87_mantissa = 0x8000000000000000ULL |
		    (uint64_t)i;
		st->fpu.fx_87_ac[i].r.f87_exp_sign = (uint16_t)(0x3fff + i);
	}
	for (i = 0; i < 16; i++)
		memset(st->fpu.fx_xmm[i].xmm_bytes, 0x10 + i, 16);
	st->intr.int_window_exiting = 0;
	CHECK(nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_ALL) == 0,
	    "setstate");
	want = *st;
	/*
	 * On AMD, KVM keeps only bits 31:0 of SYSENTER_ESP/EIP unless the
	 * guest's CPUID vendor is Intel (svm.c, svm_set_msr), as AMD CPUs
	 * do: SYSENTER is legacy-mode only there (APM vol. 3, SYSENTER).
	 */
	if (nvmm_kvm_host() == NVMM_KVM_HOST_AMD) {
		want.msrs[NVMM_X64_MSR_SYSENTER_ESP] &= 0xffffffffULL;
		want.msrs[NVMM_X64_MSR_SYSENTER_EIP] &= 0xffffffffULL;
	}

	/* Through KVM: run to the first OUT, then read everything back. */
	CHECK_EQ(run_io(&t), NVMM_VCPU_EXIT_IO);
	memset(st, 0xcc, sizeof(*st));
	CHECK(nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_ALL) == 0,
	    "getstate after run");
	want.gprs[NVMM_X64_GPR_RIP] += 2;	/* past the OUT */
	for (i = 0; i < NVMM_X64_NGPR; i++)
		CHECK(st->gprs[i] == want.gprs[i], "gpr %d: %#llx != %#llx",
		    i, (unsigned long long)st->gprs[i],
		    (unsigned long long)want.gprs[i]);
	for (i = 0; i < NVMM_X64_NSEG; i++) {
		if (i == NVMM_X64_SEG_GDT || i == NVMM_X64_SEG_IDT) {
			CHECK_EQ(st->segs[i].base, want.segs[i].base);
			CHECK_EQ(st->segs[i].limit, want.segs[i].limit);
			continue;
		}
		CHECK(memcmp(&st->segs[i], &want.segs[i], sizeof(st->segs[i]))
		    == 0, "segment %d differs", i);
	}
	for (i = 0; i < NVMM_X64_NCR; i++)
		CHECK(st->crs[i] == want.crs[i], "cr %d: %#llx != %#llx", i,
		    (unsigned long long)st->crs[i],
		    (unsigned long long)want.crs[i]);
	for (i = 0; i < NVMM_X64_NDR; i++)
		CHECK(st->drs[i] == want.drs[i], "dr %d: %#llx != %#llx", i,
		    (unsigned long long)st->drs[i],
		    (unsigned long long)want.drs[i]);
	/* The TSC is not compared: the guest's runs on. */
	for (i = 0; i < NVMM_X64_NMSR; i++)
		CHECK(i == NVMM_X64_MSR_TSC || st->msrs[i] == want.msrs[i],
		    "msr %d: %#llx != %#llx", i,
		    (unsigned long long)st->msrs[i],
		    (unsigned long long)want.msrs[i]);
	CHECK_EQ(st->fpu.fx_cw, want.fpu.fx_cw);
	CHECK_EQ(st->fpu.fx_sw, want.fpu.fx_sw);
	CHECK_EQ(st->fpu.fx_tw, want.fpu.fx_tw);
	CHECK_EQ(st->fpu.fx_opcode, want.fpu.fx_opcode);
	/* QEMU's TCG (the AMD-V test machine) stores FIP and FDP as 0 in
	   its XSAVE/FXSAVE, which the host's KVM uses for the guest's FPU. */
	if (!vmt_on_qemu_tcg()) {
		CHECK_EQ(st->fpu.fx_ip.fa_64, want.fpu.fx_ip.fa_64);
		CHECK_EQ(st->fpu.fx_dp.fa_64, want.fpu.fx_dp.fa_64);
	}
	CHECK_EQ(st->fpu.fx_mxcsr, want.fpu.fx_mxcsr);
	CHECK(st->fpu.fx_mxcsr_mask != 0, "mxcsr_mask");
	CHECK(memcmp(st->fpu.fx_87_ac, want.fpu.fx_87_ac,
	    sizeof(st->fpu.fx_87_ac)) == 0, "x87 registers differ");
	CHECK(memcmp(st->fpu.fx_xmm, want.fpu.fx_xmm,
	    sizeof(st->fpu.fx_xmm)) == 0, "xmm registers differ");
	CHECK_EQ(st->intr.int_shadow, 0);
	CHECK_EQ(st->intr.int_window_exiting, 0);
	CHECK_EQ(st->intr.nmi_window_exiting, 0);
	CHECK_EQ(st->intr.evt_pending, 0);
	CHECK_EQ(t.vcpu.exit->exitstate.cr8, 5);

	/* Unknown flag bits are ignored. */
	CHECK(nvmm_vcpu_getstate(&t.mach, &t.vcpu, 0xff80) == 0, "flags");
	CHECK(nvmm_vcpu_setstate(&t.mach, &t.vcpu, 0xff80) == 0, "flags");

	/* A pending setstate is what getstate shows (it is cached). */
	st->gprs[NVMM_X64_GPR_R9] = 42;
	nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS);
	st->gprs[NVMM_X64_GPR_R9] = 0;
	nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS);
	CHECK_EQ(st->gprs[NVMM_X64_GPR_R9], 0);	/* not re-read */

	vmt_destroy(&t);
}

/* An I/O exit with the assist costs no ioctl; GPRS/SEGS/CRS get and set
   at exits cost none either once the client reads them at every exit. */
static void
no_ioctl_exit_path(void)
{
	struct vmt t;
	unsigned long before;
	int i;

	vmt_create(&t, VMT_RAM, 4);
	nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS, &vmt_port_cbs);
	vmt_load(&t, VMT_CODE, st_start, st_end);
	vmt_setup_long(&t, GVA(st_out));
	CHECK_EQ(run_io(&t), NVMM_VCPU_EXIT_IO);

	/* Plain exits with the assist: not one ioctl besides KVM_RUN (KVM
	   stores no SREGS, the instruction comes from the VCPU's cache). */
	before = atomic_load(&nvmm_kvm_ioctls);
	vmt_set_gpr(&t, NVMM_X64_GPR_RIP, GVA(st_outloop));
	for (i = 0; i < 200; i++) {
		CHECK_EQ(run_io(&t), NVMM_VCPU_EXIT_IO);
		CHECK_EQ(t.vcpu.exit->u.io.npc, GVA(st_outloop) + 2);
		CHECK_EQ(t.vcpu.exit->u.io.port, 0x40);
		CHECK(!t.vcpu.exit->u.io.str && !t.vcpu.exit->u.io.rep &&
		    t.vcpu.exit->u.io.address_size == 8, "io fields");
		if (i == 0)	/* the first decode may fetch SREGS once */
			before = atomic_load(&nvmm_kvm_ioctls);
	}
	CHECK_EQ(atomic_load(&nvmm_kvm_ioctls) - before, 0);
	vmt_set_gpr(&t, NVMM_X64_GPR_RIP, GVA(st_out));
	CHECK_EQ(run_io(&t), NVMM_VCPU_EXIT_IO);

	/* A client that reads SEGS/CRS at exits: the first read fetches
	   SREGS, after that KVM stores them at every exit. */
	nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_SEGS);
	before = atomic_load(&nvmm_kvm_ioctls);
	for (i = 0; i < 2; i++) {
		nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS |
		    NVMM_X64_STATE_SEGS | NVMM_X64_STATE_CRS |
		    NVMM_X64_STATE_INTR);
		t.vcpu.state->gprs[NVMM_X64_GPR_R12] = 0x1234 + (uint64_t)i;
		nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS |
		    NVMM_X64_STATE_SEGS | NVMM_X64_STATE_CRS);
		CHECK_EQ(run_io(&t), NVMM_VCPU_EXIT_IO);
	}
	CHECK_EQ(vmt_gpr(&t, NVMM_X64_GPR_R12), 0x1235);

	/* The RDMSR path as toyvirt does it. */
	vmt_set_gpr(&t, NVMM_X64_GPR_RIP, GVA(st_rdmsr));
	CHECK_EQ(vmt_run(&t), NVMM_VCPU_EXIT_RDMSR);
	for (i = 0; i < 2; i++) {
		nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS);
		t.vcpu.state->gprs[NVMM_X64_GPR_RAX] = 0xfee00900 + (uint64_t)i;
		t.vcpu.state->gprs[NVMM_X64_GPR_RDX] = 0;
		t.vcpu.state->gprs[NVMM_X64_GPR_RIP] =
		    t.vcpu.exit->u.rdmsr.npc;
		if (i == 1)	/* more than the RDMSR's own result */
			t.vcpu.state->gprs[NVMM_X64_GPR_RBX] = 0x77;
		nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS);
		CHECK_EQ(run_io(&t), NVMM_VCPU_EXIT_IO);
		CHECK_EQ(vmt_port_data[0x40], 0xfee00900 + (uint64_t)i);
		if (i == 0)
			CHECK_EQ(vmt_run(&t), NVMM_VCPU_EXIT_RDMSR);
	}
	CHECK_EQ(atomic_load(&nvmm_kvm_ioctls) - before, 0);
	CHECK_EQ(vmt_gpr(&t, NVMM_X64_GPR_RBX), 0x77);
	vmt_destroy(&t);
}

/*
 * Registers set after the assist win over KVM's completion, even when
 * they equal those of the exit: the client puts the VCPU back on the OUT
 * it just assisted (as a VMM restoring a saved state does), and the OUT
 * runs again.  Set before the assist, unchanged, they let it complete.
 */
static void
setstate_after_assist(void)
{
	struct nvmm_x64_state saved;
	struct vmt t;
	int n;

	vmt_create(&t, VMT_RAM, 6);
	nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    &vmt_port_cbs);
	vmt_load(&t, VMT_CODE, st_start, st_end);
	vmt_setup_long(&t, GVA(st_out));
	CHECK_EQ(vmt_run(&t), NVMM_VCPU_EXIT_IO);
	CHECK_OK(nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS));
	saved = *t.vcpu.state;
	CHECK_OK(nvmm_assist_io(&t.mach, &t.vcpu));
	*t.vcpu.state = saved;
	CHECK_OK(nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS));
	CHECK_EQ(vmt_run(&t), NVMM_VCPU_EXIT_IO);
	CHECK_EQ(t.vcpu.exit->u.io.npc, saved.gprs[NVMM_X64_GPR_RIP] + 2);
	/* Written back before the assist: the OUT completes, the next
	   one follows. */
	CHECK_OK(nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS));
	n = (int)t.vcpu.exit->u.io.npc;
	CHECK_OK(nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS));
	CHECK_OK(nvmm_assist_io(&t.mach, &t.vcpu));
	CHECK_EQ(vmt_run(&t), NVMM_VCPU_EXIT_IO);
	CHECK_EQ(t.vcpu.exit->u.io.npc, (uint64_t)n + 2);
	vmt_destroy(&t);
}

/* One I/O exit of the code at gva: its npc, address size, operand size. */
static void
io_exit_is(struct vmt *t, uint64_t gva, uint64_t npc, int asize, int osize)
{
	/* First elsewhere, so that no completion is owed at gva. */
	vmt_set_gpr(t, NVMM_X64_GPR_RIP, gva + 0x800);
	CHECK_EQ(vmt_run(t), NVMM_VCPU_EXIT_HALTED);
	vmt_set_gpr(t, NVMM_X64_GPR_RIP, gva);
	CHECK_EQ(vmt_run(t), NVMM_VCPU_EXIT_IO);
	CHECK_EQ(t->vcpu.exit->u.io.port, 0x41);
	CHECK_EQ(t->vcpu.exit->u.io.npc, npc);
	CHECK_EQ(t->vcpu.exit->u.io.address_size, asize);
	CHECK_EQ(t->vcpu.exit->u.io.operand_size, osize);
	CHECK_OK(nvmm_assist_io(&t->mach, &t->vcpu));
}

/*
 * The exit fields come from the VCPU's instruction cache only while the
 * guest still holds the instruction: rewritten in place, run in another
 * mode, or under other maps, it is decoded afresh.
 */
static void
icache_follows_the_guest(void)
{
	const uint64_t gva = VMT_DATA;
	uint8_t *code;
	struct vmt t;
	int i;

	vmt_create(&t, VMT_RAM, 5);
	nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    &vmt_port_cbs);
	code = t.ram + gva;
	code[0x800] = 0xf4;				/* hlt */
	memcpy(code, "\xe6\x41\xf4", 3);		/* out %al,$0x41; hlt */
	vmt_setup_long(&t, gva);
	vmt_set_gpr(&t, NVMM_X64_GPR_RDX, 0x41);
	for (i = 0; i < 3; i++)
		io_exit_is(&t, gva, gva + 2, 8, 1);
	memcpy(code, "\xee\x90\xf4", 3);		/* out %al,(%dx) */
	io_exit_is(&t, gva, gva + 1, 8, 1);
	memcpy(code, "\x66\xe7\x41", 3);		/* out %ax,$0x41 */
	io_exit_is(&t, gva, gva + 3, 8, 2);
	io_exit_is(&t, gva, gva + 3, 8, 2);
	/* The same bytes in 32-bit protected mode, then in long mode. */
	memcpy(code, "\x67\xee\xf4", 3);		/* addr32 out %al,(%dx) */
	io_exit_is(&t, gva, gva + 2, 4, 1);
	io_exit_is(&t, gva, gva + 2, 4, 1);
	vmt_setup_prot32(&t, gva);
	CHECK_OK(nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_CRS |
	    NVMM_X64_STATE_MSRS));
	t.vcpu.state->crs[NVMM_X64_CR_CR4] = 0;		/* out of long mode */
	t.vcpu.state->msrs[NVMM_X64_MSR_EFER] = 0;
	CHECK_OK(nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_CRS |
	    NVMM_X64_STATE_MSRS));
	vmt_set_gpr(&t, NVMM_X64_GPR_RDX, 0x41);
	io_exit_is(&t, gva, gva + 2, 2, 1);	/* addr16 there */
	io_exit_is(&t, gva, gva + 2, 2, 1);
	vmt_setup_long(&t, gva);
	vmt_set_gpr(&t, NVMM_X64_GPR_RDX, 0x41);
	io_exit_is(&t, gva, gva + 2, 4, 1);
	/* Other maps: the RAM under gva unmapped, another page mapped. */
	CHECK_OK(nvmm_gpa_unmap(&t.mach, (uintptr_t)t.ram, 0, t.ram_size));
	memcpy(code + 0x1000, "\xee\xf4", 2);
	code[0x1800] = 0xf4;
	CHECK_OK(nvmm_gpa_map(&t.mach, (uintptr_t)t.ram, 0, gva,
	    PROT_READ | PROT_WRITE | PROT_EXEC));
	CHECK_OK(nvmm_gpa_map(&t.mach, (uintptr_t)t.ram + gva + 0x1000, gva,
	    0x1000, PROT_READ | PROT_WRITE | PROT_EXEC));
	io_exit_is(&t, gva, gva + 1, 8, 1);
	vmt_destroy(&t);
}

static void
guest_cpuid(struct vmt *t, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	int i;

	vmt_set_gpr(t, NVMM_X64_GPR_RIP, GVA(st_cpuid));
	vmt_set_gpr(t, NVMM_X64_GPR_RDI, leaf);
	vmt_set_gpr(t, NVMM_X64_GPR_RSI, sub);
	while (vmt_run(t) == NVMM_VCPU_EXIT_IO)
		nvmm_assist_io(&t->mach, &t->vcpu);
	for (i = 0; i < 4; i++)
		out[i] = vmt_port_data[0x50 + i];
}

static void
cpuid(void)
{
	struct nvmm_vcpu_conf_cpuid c;
	struct vmt t;
	uint32_t r[4];

	vmt_create(&t, VMT_RAM, 120);
	nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS, &vmt_port_cbs);
	memset(&c, 0, sizeof(c));
	c.mask = 1;
	c.leaf = 0x80000001;
	c.u.mask.del.edx = 0x00100000;		/* NX */
	c.u.mask.set.ecx = 0x00000001;		/* LAHF/SAHF */
	CHECK(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CPUID,
	    &c) == 0, "cpuid conf");
	vmt_load(&t, VMT_CODE, st_start, st_end);
	vmt_setup_long(&t, GVA(st_cpuid));

	guest_cpuid(&t, 1, 0, r);
	CHECK_EQ(r[1] >> 24, 120);		/* initial APIC id */
	CHECK(r[2] & 0x80000000, "hypervisor bit");
	guest_cpuid(&t, 0x80000001, 0, r);
	CHECK_EQ(r[3] & 0x00100000, 0);
	CHECK_EQ(r[2] & 1, 1);
	guest_cpuid(&t, 0x40000000, 0, r);
	CHECK(memcmp(&r[1], "___ NVMM ___", 12) == 0, "signature %.12s",
	    (const char *)&r[1]);
	guest_cpuid(&t, 0xb, 0, r);
	CHECK_EQ(r[3], 120);
	guest_cpuid(&t, 0, 0, r);
	CHECK(r[0] >= 1 && r[0] <= 0x16, "max basic leaf %#x", r[0]);

	/* After the first run the table is fixed: same is fine, new is not. */
	CHECK(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CPUID,
	    &c) == 0, "identical cpuid conf after run");
	c.u.mask.del.edx = 0x00000800;
	CHECK(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CPUID,
	    &c) == -1 && errno == EBUSY, "changed cpuid conf after run");
	guest_cpuid(&t, 0x80000001, 0, r);
	CHECK_EQ(r[3] & 0x00100000, 0);		/* the old table stands */
	vmt_destroy(&t);
}

int
main(void)
{
	vmt_init_or_skip();
	round_trips();
	no_ioctl_exit_path();
	icache_follows_the_guest();
	setstate_after_assist();
	cpuid();
	return vmt_done("t_state");
}
