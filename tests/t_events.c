/* t_events.c - injection, NMI blocking, interrupt/NMI windows, stop, CR8. */

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvmm_internal.h"	/* nvmm_kvm_host() */
#include "vmtest.h"

extern const char ev_start[], ev_end[], ev_stubs[], ev_halt_loop[],
    ev_spin[], ev_cli_wait[], ev_cr8[], ev_vmmcall[];

#define GVA(l)	((uint64_t)((l) - ev_start) + VMT_CODE)

static struct vmt t;
static struct nvmm_x86_exit *x;

/* What the guest's handlers reported. */
static int nrep;
static uint32_t rep_vec[64], rep_err[64], rep_rip[64];
static int action;		/* answer to IN 0xE3: 0 IRET, 2 hold */
static uint16_t last_port;
static uint32_t last_data;

static void
io_cb(struct nvmm_io *io)
{
	uint32_t v = 0;

	if (io->in) {
		v = (uint32_t)action;
		memcpy(io->data, &v, io->size);
		return;
	}
	memcpy(&v, io->data, io->size);
	last_port = io->port;
	last_data = v;
	switch (io->port) {
	case 0xe0:
		rep_vec[nrep % 64] = v;
		break;
	case 0xe1:
		rep_err[nrep % 64] = v;
		break;
	case 0xe2:
		rep_rip[nrep % 64] = v;
		nrep++;
		break;
	}
}

static void
mem_cb(struct nvmm_mem *mem)
{
	(void)mem;
}

/* Runs, completing port I/O, until an exit that is not IO. */
static uint64_t
run_past_io(void)
{
	uint64_t r;

	for (;;) {
		r = vmt_run(&t);
		if (r != NVMM_VCPU_EXIT_IO)
			return r;
		if (nvmm_assist_io(&t.mach, &t.vcpu) == -1) {
			perror("nvmm_assist_io");
			exit(1);
		}
	}
}

/* Runs until the guest writes to port; 0 if another exit came first. */
static int
run_to_port(uint16_t port)
{
	uint64_t r;
	int guard;

	for (guard = 0; guard < 1000; guard++) {
		r = vmt_run(&t);
		if (r != NVMM_VCPU_EXIT_IO)
			return 0;
		nvmm_assist_io(&t.mach, &t.vcpu);
		if (!x->u.io.in && last_port == port)
			return 1;
	}
	return 0;
}

static void
inject(unsigned int type, uint8_t vector, uint64_t error)
{
	t.vcpu.event->type = type;
	t.vcpu.event->vector = vector;
	t.vcpu.event->u.excp.error = error;
	CHECK(nvmm_vcpu_inject(&t.mach, &t.vcpu) == 0, "inject");
}

static void
set_rip(const char *label)
{
	vmt_set_gpr(&t, NVMM_X64_GPR_RIP, GVA(label));
}

static void
set_int_window(bool on)
{
	nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_INTR);
	t.vcpu.state->intr.int_window_exiting = on;
	nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_INTR);
}

static void
install_idt(void)
{
	uint8_t *idt = t.ram + VMT_IDT;
	uint64_t stub;
	int v;

	for (v = 0; v < 256; v++) {
		stub = GVA(ev_stubs) + 16 * (uint64_t)v;
		memset(idt + 16 * v, 0, 16);
		idt[16 * v + 0] = stub & 0xff;
		idt[16 * v + 1] = (stub >> 8) & 0xff;
		idt[16 * v + 2] = 0x08;			/* selector */
		idt[16 * v + 5] = 0x8e;			/* P, DPL0, int gate */
		idt[16 * v + 6] = (stub >> 16) & 0xff;
		idt[16 * v + 7] = (stub >> 24) & 0xff;
	}
	nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_SEGS);
	t.vcpu.state->segs[NVMM_X64_SEG_IDT].limit = 4095;
	nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_SEGS);
}

struct delayed {
	int what;		/* 0: stop, 1: inject #GP */
	int ms;
};

static void *
delayed_thread(void *arg)
{
	struct delayed *d = arg;
	struct timespec ts = { 0, (long)d->ms * 1000000L };

	nanosleep(&ts, NULL);
	if (d->what == 0)
		nvmm_vcpu_stop(&t.vcpu);
	else
		inject(NVMM_VCPU_EVENT_EXCP, 13, 0x1230);
	return NULL;
}

static uint64_t
run_with_thread(int what)
{
	struct delayed d = { what, 30 };
	pthread_t th;
	uint64_t r;

	pthread_create(&th, NULL, delayed_thread, &d);
	r = what == 0 ? run_past_io() : vmt_run(&t);
	pthread_join(th, NULL);
	return r;
}

int
main(void)
{
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	uint64_t r, hlt_rip;
	int n, i;

	vmt_init_or_skip();
	vmt_create(&t, VMT_RAM, 0);
	x = t.vcpu.exit;
	nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS, &cbs);
	vmt_load(&t, VMT_CODE, ev_start, ev_end);
	vmt_setup_long(&t, GVA(ev_halt_loop));
	install_idt();

	/* An exception with an error code, injected at a HLT exit. */
	r = run_past_io();
	CHECK_EQ(r, NVMM_VCPU_EXIT_HALTED);
	CHECK(x->exitstate.rflags & 0x200, "IF set after sti");
	hlt_rip = vmt_gpr(&t, NVMM_X64_GPR_RIP);
	inject(NVMM_VCPU_EVENT_EXCP, 13, 0x28);
	r = run_past_io();
	CHECK_EQ(r, NVMM_VCPU_EXIT_HALTED);
	CHECK_EQ(nrep, 1);
	CHECK_EQ(rep_vec[0], 13);
	CHECK_EQ(rep_err[0], 0x28);
	CHECK_EQ(rep_rip[0], hlt_rip);

	/* An exception without one (the stub pushes 0). */
	inject(NVMM_VCPU_EVENT_EXCP, 6, 0x99);
	r = run_past_io();
	CHECK_EQ(r, NVMM_VCPU_EXIT_HALTED);
	CHECK_EQ(nrep, 2);
	CHECK_EQ(rep_vec[1], 6);
	CHECK_EQ(rep_err[1], 0);

	/* Invalid events: that run fails with EINVAL, the next one works. */
	{
		static const struct { unsigned type; uint8_t vec; } bad[] = {
			{ NVMM_VCPU_EVENT_EXCP, 0 }, { NVMM_VCPU_EVENT_EXCP, 2 },
			{ NVMM_VCPU_EVENT_EXCP, 3 }, { NVMM_VCPU_EVENT_EXCP, 32 },
			{ NVMM_VCPU_EVENT_EXCP, 255 }, { 7, 13 },
		};
		for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
			inject(bad[i].type, bad[i].vec, 0);
			errno = 0;
			CHECK(nvmm_vcpu_run(&t.mach, &t.vcpu) == -1 &&
			    errno == EINVAL, "bad event %u/%u", bad[i].type,
			    bad[i].vec);
		}
		r = run_past_io();
		CHECK_EQ(r, NVMM_VCPU_EXIT_HALTED);
		CHECK_EQ(nrep, 2);
	}

	/* External interrupt 200 with IF=1. */
	inject(NVMM_VCPU_EVENT_INTR, 200, 0);
	r = run_past_io();
	CHECK_EQ(r, NVMM_VCPU_EXIT_HALTED);
	CHECK_EQ(nrep, 3);
	CHECK_EQ(rep_vec[2], 200);

	/* NMI: the window flag is set until the handler's IRET, then
	   NMI_READY comes. */
	inject(NVMM_VCPU_EVENT_INTR, 2, 0);
	r = vmt_run(&t);
	CHECK_EQ(r, NVMM_VCPU_EXIT_IO);
	CHECK_EQ(x->exitstate.nmi_window_exiting, 1);
	nvmm_assist_io(&t.mach, &t.vcpu);
	r = run_past_io();
	CHECK_EQ(nrep, 4);
	CHECK_EQ(rep_vec[3], 2);
	if (r == NVMM_VCPU_EXIT_HALTED)
		r = vmt_run(&t);
	CHECK_EQ(r, NVMM_VCPU_EXIT_NMI_READY);
	CHECK_EQ(x->exitstate.nmi_window_exiting, 0);

	/* A second NMI stays blocked while the first handler runs. */
	action = 2;		/* handlers hold (HLT) */
	inject(NVMM_VCPU_EVENT_INTR, 2, 0);
	r = run_past_io();
	CHECK_EQ(r, NVMM_VCPU_EXIT_HALTED);
	CHECK_EQ(nrep, 5);
	inject(NVMM_VCPU_EVENT_INTR, 2, 0);
	for (i = 0; i < 3; i++) {
		r = run_past_io();
		CHECK_EQ(r, NVMM_VCPU_EXIT_HALTED);
		CHECK(x->exitstate.nmi_window_exiting, "NMI in progress");
	}
	CHECK_EQ(nrep, 5);
	action = 0;		/* IRET: the pending NMI comes in */
	for (i = 0; i < 4 && nrep == 5; i++)
		r = run_past_io();
	CHECK_EQ(nrep, 6);
	CHECK_EQ(rep_vec[5], 2);
	for (i = 0; i < 4 && r != NVMM_VCPU_EXIT_NMI_READY; i++)
		r = run_past_io();
	CHECK_EQ(r, NVMM_VCPU_EXIT_NMI_READY);

	/* Interrupt window armed while IF=1: INT_READY before any guest
	   instruction. */
	r = run_past_io();
	CHECK_EQ(r, NVMM_VCPU_EXIT_HALTED);
	hlt_rip = vmt_gpr(&t, NVMM_X64_GPR_RIP);
	set_int_window(true);
	r = vmt_run(&t);
	CHECK_EQ(r, NVMM_VCPU_EXIT_INT_READY);
	CHECK_EQ(x->exitstate.int_window_exiting, 0);
	CHECK_EQ(vmt_gpr(&t, NVMM_X64_GPR_RIP), hlt_rip);

	/* Interrupt window armed while IF=0: INT_READY once the guest STIs. */
	set_rip(ev_cli_wait);
	CHECK(run_to_port(0x31), "reached cli_wait");
	CHECK_EQ(x->exitstate.rflags & 0x200, 0);
	set_int_window(true);
	CHECK_EQ(x->exitstate.int_window_exiting, 0);
	r = vmt_run(&t);
	CHECK_EQ(r, NVMM_VCPU_EXIT_INT_READY);
	CHECK(x->exitstate.rflags & 0x200, "IF set at INT_READY");
	CHECK_EQ(x->exitstate.int_window_exiting, 0);
	n = nrep;
	inject(NVMM_VCPU_EVENT_INTR, 201, 0);
	CHECK(run_to_port(0xe2), "interrupt 201 reported");
	CHECK_EQ(nrep, n + 1);
	CHECK_EQ(rep_vec[n], 201);

	/* The guest spins without exits: stop and inject from a thread. */
	action = 0;
	r = run_with_thread(0);
	CHECK_EQ(r, NVMM_VCPU_EXIT_STOPPED);
	n = nrep;
	CHECK(run_with_thread(1) == NVMM_VCPU_EXIT_IO, "inject reaches spin");
	nvmm_assist_io(&t.mach, &t.vcpu);
	CHECK(run_to_port(0xe2), "#GP reported");
	CHECK_EQ(rep_vec[n], 13);
	CHECK_EQ(rep_err[n], 0x1230);

	/* A stop before the run: STOPPED without entering; then it runs. */
	r = vmt_gpr(&t, NVMM_X64_GPR_RIP);
	nvmm_vcpu_stop(&t.vcpu);
	CHECK(nvmm_vcpu_run(&t.mach, &t.vcpu) == 0, "run");
	CHECK_EQ(x->reason, NVMM_VCPU_EXIT_STOPPED);
	/* exitstate holds the real values even then (NetBSD leaves 0). */
	CHECK(x->exitstate.rflags & 0x2, "exitstate filled when stopped");
	CHECK_EQ(x->exitstate.rflags, vmt_gpr(&t, NVMM_X64_GPR_RFLAGS));
	CHECK_EQ(vmt_gpr(&t, NVMM_X64_GPR_RIP), r);
	CHECK_EQ(run_with_thread(0), NVMM_VCPU_EXIT_STOPPED);

	/*
	 * VMMCALL at CPL0: #UD through the guest's IDT, RIP on it.
	 * kvm_amd (documented deviation, docs/kvm-hosts.md): KVM runs the
	 * SVM-native VMMCALL as a KVM hypercall, RAX = -1000 (-KVM_ENOSYS)
	 * and RIP past it, so the #UD comes from the UD2 that follows; the
	 * handler saved RAX at RSP + 8.
	 */
	n = nrep;
	set_rip(ev_vmmcall);
	vmt_set_gpr(&t, NVMM_X64_GPR_RAX, 0x12345);	/* no KVM hypercall */
	CHECK(run_to_port(0xe2), "vmmcall reported");
	CHECK_EQ(rep_vec[n], 6);
	if (nvmm_kvm_host() == NVMM_KVM_HOST_AMD) {
		uint64_t rsp = vmt_gpr(&t, NVMM_X64_GPR_RSP), rax = 0;

		CHECK_EQ(rep_rip[n], GVA(ev_vmmcall) + 3);
		CHECK(rsp + 16 <= t.ram_size, "handler RSP %#llx in RAM",
		    (unsigned long long)rsp);
		if (rsp + 16 <= t.ram_size)
			memcpy(&rax, t.ram + rsp + 8, sizeof(rax));
		CHECK_EQ(rax, (uint64_t)-1000);
	} else {
		CHECK_EQ(rep_rip[n], GVA(ev_vmmcall));
	}

	/* CR8: the guest's writes show in exitstate; setstate reaches it. */
	set_rip(ev_cr8);
	CHECK(run_to_port(0x32), "cr8 written");
	CHECK_EQ(x->exitstate.cr8, 7);
	nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_CRS);
	CHECK_EQ(t.vcpu.state->crs[NVMM_X64_CR_CR8], 7);
	t.vcpu.state->crs[NVMM_X64_CR_CR8] = 3;
	nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_CRS);
	CHECK(run_to_port(0x33), "cr8 read");
	CHECK_EQ(last_data, 3);
	CHECK_EQ(x->exitstate.cr8, 3);

	/* TPR exits: each change of CR8 is reported before the exit that
	   revealed it (NVMM reports each write, at the write). */
	{
		struct nvmm_vcpu_conf_tpr tpr = { .exit_changed = 1 };

		CHECK(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_TPR,
		    &tpr) == 0, "tpr conf");
		r = vmt_run(&t);
		CHECK_EQ(r, NVMM_VCPU_EXIT_TPR_CHANGED);
		CHECK_EQ(x->exitstate.cr8, 9);
		CHECK(run_to_port(0x34), "the held OUT comes next");
		r = vmt_run(&t);
		CHECK_EQ(r, NVMM_VCPU_EXIT_TPR_CHANGED);
		CHECK_EQ(x->exitstate.cr8, 2);
		CHECK(run_to_port(0x35), "continues after TPR_CHANGED");
		CHECK_EQ(last_data, 2);
		tpr.exit_changed = 0;
		nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_TPR, &tpr);
	}

	vmt_destroy(&t);
	return vmt_done("t_events");
}
