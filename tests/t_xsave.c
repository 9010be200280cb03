/* t_xsave.c - a guest's XSAVE state: XCR0 it sets survives exits and full state round trips, XRSTOR of what XSAVE wrote works. */

/*
 * The regression behind Linux's "bad frame in rt_sigreturn" under QEMU's
 * NVMM accelerator in the AMD-V test machine: the guest was offered XSAVE,
 * enabled x87|SSE in XCR0, but ran with XCR0 = x87 after its next exit
 * (the emulated AMD-V does not make XSETBV exit, so KVM never saw it), and
 * XRSTOR of a signal frame whose header says SSE faulted.  The library
 * now offers XSAVE only where XSETBV reaches KVM; this test checks both
 * halves: offered means it works, hidden only happens on QEMU's TCG.
 * At each reporting exit the host reads and writes back the whole state,
 * as QEMU does when it synchronises a VCPU.
 */

#include <string.h>

#include "vmtest.h"
#include "nvmm_internal.h"

extern const char xs_start[], xs_end[];

#define PATTERN		(VMT_DATA + 0x800)

/* QEMU's synchronisation: everything out, everything back. */
static uint64_t
sync_all(struct vmt *t)
{
	struct nvmm_x64_state *st = t->vcpu.state;
	uint64_t xcr0;

	CHECK_OK(nvmm_vcpu_getstate(&t->mach, &t->vcpu, NVMM_X64_STATE_ALL));
	xcr0 = st->crs[NVMM_X64_CR_XCR0];
	CHECK_OK(nvmm_vcpu_setstate(&t->mach, &t->vcpu, NVMM_X64_STATE_ALL));
	return xcr0;
}

int
main(void)
{
	struct nvmm_capability cap;
	struct vmt t;
	uint64_t r, seed = 0x5eed, xcr0_at_exit = 0;
	uint32_t mxcsr = 0x7f80;	/* round toward zero, exceptions masked */
	uint8_t *p;
	size_t i;
	int offered, tcg = vmt_on_qemu_tcg();

	vmt_init_or_skip();
	CHECK_OK(nvmm_capability(&cap));
	vmt_create(&t, VMT_RAM, 0);
	nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS, &vmt_port_cbs);
	vmt_load(&t, VMT_CODE, xs_start, xs_end);
	p = t.ram + PATTERN;
	for (i = 0; i < 256; i += 8) {
		uint64_t x = vmt_rnd(&seed);
		memcpy(p + i, &x, 8);
	}
	memcpy(p + 256, &mxcsr, 4);
	vmt_setup_long(&t, VMT_CODE);

	while ((r = vmt_run(&t)) == NVMM_VCPU_EXIT_IO) {
		uint16_t port = t.vcpu.exit->u.io.port;

		nvmm_assist_io(&t.mach, &t.vcpu);
		if (port == 0x53)
			xcr0_at_exit = sync_all(&t);
		else if (port == 0x56)
			sync_all(&t);
	}
	CHECK(r == NVMM_VCPU_EXIT_HALTED, "the guest ended with exit %#llx, "
	    "not HLT (a fault in XSETBV, XSAVE or XRSTOR shuts it down)",
	    (unsigned long long)r);
	CHECK(vmt_port_seen[0x50], "the guest reported no CPUID");
	offered = (vmt_port_data[0x50] >> 26) & 1;
	printf("host %s, XSAVE %s to the guest, xcr0_mask %#llx\n",
	    tcg ? "QEMU TCG" : "not QEMU TCG", offered ? "offered" : "hidden",
	    (unsigned long long)cap.arch.xcr0_mask);

	if (offered) {
		CHECK(nvmm_kvm_xsave(), "CPUID offers XSAVE the library hides");
		CHECK_EQ(vmt_port_data[0x51] & 3, 3);
		CHECK_EQ(vmt_port_data[0x52], 3);
		/* What KVM holds at the exit right after XSETBV... */
		CHECK_EQ(xcr0_at_exit, 3);
		/* ...and what the guest runs with after it. */
		CHECK_EQ(vmt_port_data[0x54], 3);
		CHECK(vmt_port_data[0x55] >= 576, "XSAVE area for x87|SSE: %u bytes",
		    vmt_port_data[0x55]);
		CHECK(vmt_port_seen[0x57] && vmt_port_data[0x57] == 1,
		    "XMM0-15 and MXCSR did not come back through XSAVE/XRSTOR");
	} else {
		/* Hiding XSAVE is for hosts whose XSETBV does not exit. */
		CHECK(tcg, "XSAVE hidden on a host that is not QEMU's TCG");
		CHECK(!nvmm_kvm_xsave(), "XSAVE hidden but the library says offered");
		CHECK(!vmt_port_seen[0x51], "the guest went on without XSAVE");
	}
	/* What a client may set is x87|SSE either way: KVM loads it. */
	CHECK_EQ(cap.arch.xcr0_mask, 0x3);
	vmt_destroy(&t);
	return vmt_done("t_xsave");
}
