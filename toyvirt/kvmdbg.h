/* kvmdbg.h - toyvirt reaches KVM directly (Linux only): guest debugging, which libnvmm does not offer, and naming what an unusable /dev/kvm lacks. */

#ifndef _TOYVIRT_KVMDBG_H_
#define _TOYVIRT_KVMDBG_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * libnvmm's API has no debug interface.  On Linux it creates one KVM VCPU
 * per NVMM VCPU, whose file descriptor shows in /proc/self/fd as a link
 * to "anon_inode:kvm-vcpu:<id>".  toyvirt finds that descriptor and calls
 * KVM_SET_GUEST_DEBUG on it itself; it also maps the VCPU's kvm_run page
 * read-only to learn why a debug exit happened.  libnvmm reports KVM's
 * debug exit as NVMM_VCPU_EXIT_INVALID with hwcode KVMDBG_HWCODE_DEBUG.
 */

#define KVMDBG_HWCODE_DEBUG	0x10004ULL	/* 0x10000 | KVM_EXIT_DEBUG */
#define KVMDBG_HWCODE_EMUL	0x1ULL		/* KVM internal error 1 */

/* KVM_SET_GUEST_DEBUG control bits (the KVM_GUESTDBG_* values). */
#define KVMDBG_ENABLE		0x00000001U
#define KVMDBG_SINGLESTEP	0x00000002U
#define KVMDBG_USE_SW_BP	0x00010000U
#define KVMDBG_USE_HW_BP	0x00020000U
#define KVMDBG_BLOCKIRQ		0x00100000U

struct kvmdbg_vcpu {
	int fd;				/* libnvmm's KVM VCPU fd (not ours) */
	const volatile void *run;	/* read-only view of its kvm_run */
};

/* What a KVM debug exit said (kvm_run's debug.arch). */
struct kvmdbg_exit {
	uint32_t exception;		/* 1 (#DB) or 3 (#BP) */
	uint64_t pc, dr6, dr7;
};

/*
 * Finds the KVM VCPU with id `id` among this process's descriptors and maps
 * its kvm_run page.  Returns 0, or -1 with a reason in err.
 */
int kvmdbg_attach(unsigned id, struct kvmdbg_vcpu *kd, char *err,
    size_t errlen);

/*
 * The KVM_GUESTDBG_* control bits this KVM accepts (KVM_CAP_SET_GUEST_DEBUG2),
 * or 0 when it has no guest debugging; asks /dev/kvm.
 */
uint32_t kvmdbg_supported(void);

/*
 * What guest debugging cannot do on this host (KVMDBG_LIM_* bits).  One
 * kind of host is known to need them: the nested, software-assisted KVM
 * of the kvm_pvm module (seen in /sys/module), which runs guest CPL0 code
 * in KVM's instruction emulator and guest CPL3 code natively, outside
 * KVM's guest debugging.  Measured there: breakpoints in DR0-DR3 and
 * single steps work at CPL0; at CPL3 a hardware breakpoint never fires
 * and a single step or an int3 goes to the guest as #DB or #BP (and the
 * guest then keeps TF in its saved RFLAGS); data breakpoints never fire.
 * The other is a KVM inside QEMU's TCG (an emulated AMD-V; CPUID leaf
 * 0x40000000 of the CPU toyvirt runs on says "TCGTCGTCGTCG").  Measured
 * with QEMU 7.2: nothing in DR0-DR3 ever fires (its VMRUN loads the
 * guest's DR7 without arming the breakpoints; QEMU 9.1 fixed that), and
 * an int3 is not intercepted as #BP (QEMU checks only the INTn intercept
 * for it): the guest gets it, through its IDT.  Single steps work, and so
 * does an HLT at CPL0, which always exits: there, toyvirt's software
 * breakpoints are HLTs instead of int3s.  Elsewhere (VT-x, AMD-V
 * hardware) there are no limits.
 */
#define KVMDBG_LIM_CPL3		0x1U	/* nothing works at guest CPL3 */
#define KVMDBG_LIM_WATCH	0x2U	/* data breakpoints never fire */
#define KVMDBG_LIM_DR		0x4U	/* nothing in DR0-DR3 fires */
#define KVMDBG_LIM_INT3		0x8U	/* an int3 goes to the guest */
uint32_t kvmdbg_host_limits(void);

/*
 * Before a single step: KVM_SET_GUEST_DEBUG takes the step's start from
 * the RIP KVM holds, and KVM sets the trap flag only while the VCPU is
 * there.  libnvmm loads registers the client set at the next run, after
 * that call: a RIP set since the last run (the first run, or a debugger's
 * "set $pc") would make the step run away.  This gives KVM the RIP
 * libnvmm will load (`rip`, the client's) first; nothing else changes.
 * Call on the VCPU's thread while it is not running.  Returns 0, or -1
 * with errno.
 */
int kvmdbg_step_from(const struct kvmdbg_vcpu *kd, uint64_t rip);

/*
 * KVM_SET_GUEST_DEBUG: `control` (0 turns debugging off), DR0-DR3 and DR7
 * for hardware breakpoints.  Call on the VCPU's thread while it is not
 * running.  Returns 0, or -1 with errno.
 */
int kvmdbg_set(const struct kvmdbg_vcpu *kd, uint32_t control,
    const uint64_t dr[4], uint64_t dr7);

/* Reads the debug exit KVM left in kvm_run; false if none is there. */
bool kvmdbg_exit_info(const struct kvmdbg_vcpu *kd, struct kvmdbg_exit *ex);

/*
 * After nvmm_init failed with errno `e`: looks at /dev/kvm and says in
 * one line what is wrong and what to do (the missing capability by name,
 * the device's owner and mode, ...).
 */
void kvmdbg_diagnose(int e, char *msg, size_t len);

#endif
