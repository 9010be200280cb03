/* nvmm_kvm_x86_64.c - the Linux KVM backend of libnvmm for x86-64. */

/*
 * NVMM's x86 rules (reset state, MSRs, CPUID, events) are nvmm_x86.c's;
 * this file only maps them onto KVM.  How, in short (docs/kvm-hosts.md):
 *
 * - One KVM VM per machine, no in-kernel irqchip; one KVM VCPU per VCPU,
 *   with the NVMM VCPU id as KVM vcpu id.
 * - State: GPRS, SEGS, most of CRS, EFER and the interrupt state travel
 *   through KVM's SYNC_REGS area of kvm_run.  KVM stores REGS and EVENTS
 *   there at every exit; SREGS (segments, CRs, EFER) only after an exit
 *   whose handling read them, else they are fetched when first read
 *   (sregs_load).  An exit whose instruction was seen before is decoded
 *   from the VCPU's instruction cache (x86_icache.c) without them, so a
 *   repeated I/O, MMIO or MSR exit costs one KVM_RUN and no other system
 *   call.  Only what the client changed is written back, right before
 *   the next KVM_RUN.  DRS, the other MSRs, XCR0 and the FPU use ioctls,
 *   on demand.
 * - Events are written into the synced kvm_vcpu_events as well.
 * - KVM decodes and completes I/O and MMIO instructions itself.  The
 *   assists hand KVM's data to the client's callbacks; KVM finishes the
 *   instruction at the next KVM_RUN, or at once (a KVM_RUN with
 *   immediate_exit set, which returns EINTR without entering the guest)
 *   when the client reads the registers first, or when the instruction
 *   writes guest memory or needs more callbacks.  Every VCPU ioctl costs
 *   as much as half an exit on some hosts: this keeps an exit to one.
 * - RDMSR/WRMSR: the client completes them NVMM's way (RIP = npc, RAX and
 *   RDX set); the next KVM_RUN hands that to KVM's own completion.
 * - A private signal kicks a VCPU thread out of KVM_RUN for
 *   nvmm_vcpu_stop() and nvmm_vcpu_inject() from other threads.
 * - Our guest-debugging extension (NVMM_VCPU_CONF_DEBUG) is
 *   KVM_SET_GUEST_DEBUG; KVM's debug exit is NVMM_VCPU_EXIT_DEBUG.
 */

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nvmm_internal.h"
#include "nvmm_x86.h"
#include "x86_decode.h"
#include "x86_icache.h"

/* -------------------------------------------------------------------------
 * Constants of the mapping onto KVM.
 * ------------------------------------------------------------------------- */

/* The nested-page exits KVM's MMIO faults come from: SVM VMEXIT_NPF, VMX
   EPT misconfiguration (KVM marks MMIO pages with misconfigured EPTEs). */
#define SVM_EXIT_NPF		0x400ULL
#define VMX_EXIT_EPT_MISCONFIG	49ULL

/* Reserved for KVM's VMX real-mode TSS (three pages), as QEMU does. */
#define KVM_TSS_GPA		0xfffbd000ULL

/* INVALID's hwcode for a KVM exit NVMM has no exit for (libnvmm(3)). */
#define NVMM_KVM_HWCODE(reason)	(0x10000ULL | (reason))

/* An assist completes at most this many MMIO fragments in one call. */
#define MMIO_FRAGS_MAX		16

/* -------------------------------------------------------------------------
 * Objects.
 * ------------------------------------------------------------------------- */

struct kvm_mach {
	int vm_fd;
	uint32_t *slot_used;	/* bitmap of memslots */
	uint32_t nslots;
	/* KVM destroys VCPUs only with their VM: a destroyed NVMM VCPU's
	   KVM VCPU is kept here and reused if its id is created again. */
	struct kvm_vcpu_be *parked[NVMM_MAX_VCPUS];
};

/* What KVM has left to finish, from the last exit. */
enum kvm_compl {
	COMPL_NONE,	/* nothing */
	COMPL_IO,	/* an IO exit awaits the assist */
	COMPL_MMIO,	/* an MMIO exit awaits the assist */
	COMPL_READY,	/* the assist gave the data: the next KVM_RUN, or a
			   read of the registers, completes it */
	COMPL_MSR,	/* an RDMSR/WRMSR awaits the client (msr_reconcile) */
};

struct kvm_vcpu_be {
	struct nvmm_vcpu_priv common;	/* first: the front end's view */

	int fd;
	struct kvm_run *run;
	size_t run_size;

	uint64_t cached;	/* NVMM groups valid in common.state */
	uint64_t dirty;		/* groups set by the client, not yet loaded */
	bool sregs_fresh;	/* run->s.regs.sregs are KVM's current ones */
	bool sregs_wanted;	/* read since the last KVM_RUN (sregs_load) */
	struct x86_icache icache;	/* the instructions of recent exits */

	/* Where KVM stands. */
	enum kvm_compl compl;
	bool compl_now;		/* the assist must complete at once */
	bool compl_regs;	/* completing changes registers */
	bool gprs_after_assist;	/* GPRS set after the assist gave the data */
	struct kvm_regs msr_regs;	/* registers at the MSR exit */
	uint64_t msr_npc;
	bool msr_rd;
	bool msr_fixup;		/* put RIP back on the MSR for KVM's skip */
	bool held;		/* run holds an exit not reported yet */
	bool ran;		/* KVM_RUN has entered the guest once */
	struct nvmm_x86_cpuid_conf cpuid_conf;	/* the client's masks */
	bool tpr_exit;		/* NVMM_VCPU_CONF_TPR's exit_changed */
	bool cpuid_dirty;	/* the CPUID table must be (re)loaded */
	struct kvm_cpuid2 *cpuid;	/* the table KVM has */
	uint32_t topo_nvcpus;	/* leaf 0xB's VCPU count in that table */
	bool xcr0_volatile;	/* the guest may have changed XCR0 */
	uint64_t xcr0;		/* last XCR0 known to KVM */
	bool shutdown;		/* shut down, KVM re-initialised it (SVM) */
	uint64_t debug;		/* NVMM_VCPU_DEBUG_* in force */

	/* NVMM window state KVM does not keep. */
	bool int_window;	/* int_window_exiting */
	bool nmi_window;	/* nmi_window_exiting */
	uint64_t tpr_seen;	/* CR8 at the last exit the client saw */

	/* Kicking. */
	_Atomic int running;	/* inside the run path, KVM_RUN possible */
	_Atomic pid_t runner;	/* its thread id */
};

static int kvm_fd = -1;
static int kvm_run_size;
static struct kvm_cpuid2 *kvm_supported;	/* KVM_GET_SUPPORTED_CPUID */
static uint32_t kvm_host_mxcsr_mask;
static uint64_t kvm_quirks;			/* quirks we disable */
static uint32_t kvm_nslots;
static int kvm_kick_signo;
static enum nvmm_kvm_host kvm_host = NVMM_KVM_HOST_UNKNOWN;
static bool kvm_host_tcg;			/* KVM inside QEMU's TCG */
static bool kvm_xsave = true;	/* XSAVE can be offered to guests */
static uint32_t kvm_dbg_control;		/* KVM_GUESTDBG_* accepted */
/* The VCPU the current thread is running, for the kick handler. */
static __thread struct kvm_vcpu_be *kvm_tls_vcpu
    __attribute__((tls_model("initial-exec")));
static __thread pid_t kvm_tls_tid
    __attribute__((tls_model("initial-exec")));

/* What a step of the run path says: go on, report the exit, or fail. */
enum {
	RUN_FAIL = -1,
	RUN_AGAIN = 0,
	RUN_EXIT = 1,
};

static int kvm_complete(struct kvm_vcpu_be *);
static int run_finish_previous(struct kvm_vcpu_be *);
static int state_flush(struct kvm_vcpu_be *);

/*
 * kvm_run->immediate_exit is written by the VCPU thread, by other threads
 * (stop, inject) and by the kick signal handler: always atomically, in
 * one total order with the stop and event flags (see kvm_vcpu_run).
 */
static inline void
set_immediate_exit(struct kvm_vcpu_be *kv, int v)
{
	__atomic_store_n(&kv->run->immediate_exit, (uint8_t)v, __ATOMIC_SEQ_CST);
}

static inline struct kvm_vcpu_be *
kvcpu(struct nvmm_vcpu_priv *v)
{
	return nvmm_container_of(v, struct kvm_vcpu_be, common);
}

static inline struct kvm_mach *
kmach(struct nvmm_mach_priv *m)
{
	return m->be;
}

_Atomic unsigned long nvmm_kvm_ioctls;

/* Every ioctl but KVM_RUN goes through here, and is counted. */
static int
kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	atomic_fetch_add_explicit(&nvmm_kvm_ioctls, 1, memory_order_relaxed);
	do {
		ret = ioctl(fd, req, arg);
	} while (ret == -1 && errno == EINTR);
	return ret;
}

/*
 * Once the guest has enabled XSAVE (CR4.OSXSAVE, seen whenever SREGS are
 * at hand), it may change XCR0 without an exit: KVM's is read from then
 * on rather than the last one loaded.
 */
static void
sregs_seen(struct kvm_vcpu_be *kv)
{
	if (kv->run->s.regs.sregs.cr4 & X86_CR4_OSXSAVE)
		kv->xcr0_volatile = true;
}

/*
 * Makes run->s.regs.sregs KVM's current SREGS: stored by KVM at the exit
 * when the last one needed them, else fetched now (once per exit).  The
 * next KVM_RUN asks KVM to store them again.
 */
static int
sregs_load(struct kvm_vcpu_be *kv)
{
	kv->sregs_wanted = true;
	if (kv->sregs_fresh)
		return 0;
	if (kvm_ioctl(kv->fd, KVM_GET_SREGS, &kv->run->s.regs.sregs) == -1)
		return -1;
	kv->sregs_fresh = true;
	sregs_seen(kv);
	return 0;
}

/* -------------------------------------------------------------------------
 * Initialisation.
 * ------------------------------------------------------------------------- */

static void
kvm_kick_handler(int sig)
{
	struct kvm_vcpu_be *kv = kvm_tls_vcpu;

	(void)sig;
	/* KVM_RUN, or the entry to it, returns EINTR: nothing else to do. */
	if (kv != NULL)
		set_immediate_exit(kv, 1);
}

static uint32_t
kvm_host_mxcsr(void)
{
	uint8_t area[512] __attribute__((__aligned__(16)));
	uint32_t mask;

	memset(area, 0, sizeof(area));
	__asm__ volatile("fxsave %0" : "=m"(area));
	memcpy(&mask, &area[28], sizeof(mask));
	return mask != 0 ? mask : 0xffbf;	/* 0 means the default */
}

static int
kvm_check(int cap)
{
	return ioctl(kvm_fd, KVM_CHECK_EXTENSION, cap);
}

/*
 * Which KVM module serves /dev/kvm.  kvm_pvm stands beside kvm_amd or
 * kvm_intel and wins; a KVM built into the kernel still has its
 * /sys/module directory (it has parameters).
 */
static enum nvmm_kvm_host
kvm_host_detect(void)
{
	if (access("/sys/module/kvm_pvm", F_OK) == 0)
		return NVMM_KVM_HOST_PVM;
	if (access("/sys/module/kvm_amd", F_OK) == 0)
		return NVMM_KVM_HOST_AMD;
	if (access("/sys/module/kvm_intel", F_OK) == 0)
		return NVMM_KVM_HOST_INTEL;
	return NVMM_KVM_HOST_UNKNOWN;
}

/* Is this host itself a guest (CPUID.1:ECX bit 31, "hypervisor")? */
static bool
kvm_host_is_guest(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) && (c & 0x80000000U);
}

/*
 * Is this KVM itself a guest of QEMU's TCG (the hypervisor leaf says
 * "TCGTCGTCGTCG")?  Its emulated AMD-V never fires DR0-DR3 and hands an
 * int3 to the guest (docs/kvm-hosts.md).
 */
static bool
kvm_host_is_tcg(void)
{
	unsigned int a, b, c, d;
	char sig[12];

	if (!kvm_host_is_guest())
		return false;
	__cpuid(0x40000000, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	return memcmp(sig, "TCGTCGTCGTCG", sizeof(sig)) == 0;
}

/* The KVM_GUESTDBG_* controls KVM accepts; 0 without guest debugging. */
static uint32_t
kvm_debug_support(void)
{
	int n;

	if (kvm_check(KVM_CAP_SET_GUEST_DEBUG) <= 0)
		return 0;
	n = kvm_check(KVM_CAP_SET_GUEST_DEBUG2);
	if (n <= 0)	/* an older KVM: the basic set */
		return KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP |
		    KVM_GUESTDBG_USE_SW_BP | KVM_GUESTDBG_USE_HW_BP;
	return (uint32_t)n;
}

enum nvmm_kvm_host
nvmm_kvm_host(void)
{
	return kvm_host;
}

const char *
nvmm_kvm_host_name(enum nvmm_kvm_host h)
{
	switch (h) {
	case NVMM_KVM_HOST_AMD:
		return "AMD-V (kvm_amd)";
	case NVMM_KVM_HOST_INTEL:
		return "VT-x (kvm_intel)";
	case NVMM_KVM_HOST_PVM:
		return "PVM (kvm_pvm)";
	default:
		return "unknown";
	}
}

/* What NVMM needs of KVM; the first one missing is reported by name. */
#define KVM_REQ(cap)	{ cap, #cap }
static const struct {
	int cap;
	const char *name;
} kvm_required[] = {
	KVM_REQ(KVM_CAP_IMMEDIATE_EXIT), KVM_REQ(KVM_CAP_READONLY_MEM),
	KVM_REQ(KVM_CAP_VCPU_EVENTS), KVM_REQ(KVM_CAP_X86_USER_SPACE_MSR),
	KVM_REQ(KVM_CAP_X86_MSR_FILTER), KVM_REQ(KVM_CAP_DEBUGREGS),
	KVM_REQ(KVM_CAP_XCRS), KVM_REQ(KVM_CAP_EXT_CPUID),
	KVM_REQ(KVM_CAP_USER_MEMORY), KVM_REQ(KVM_CAP_XSAVE),
};
#undef KVM_REQ

/* Why the last nvmm_init() found KVM unusable, or NULL. */
static const char *kvm_why;

const char *
nvmm_kvm_unusable(void)
{
	return kvm_why;
}

/* Checks what the library needs of KVM; -1 with kvm_why set if not. */
static int
kvm_check_caps(void)
{
	const int sync = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS |
	    KVM_SYNC_X86_EVENTS;
	static char api[64];
	size_t i;
	int n;

	if ((n = ioctl(kvm_fd, KVM_GET_API_VERSION, 0)) != KVM_API_VERSION) {
		snprintf(api, sizeof(api), "KVM API version %d, libnvmm needs "
		    "%d", n, KVM_API_VERSION);
		kvm_why = api;
		return -1;
	}
	for (i = 0; i < sizeof(kvm_required) / sizeof(kvm_required[0]); i++) {
		if (kvm_check(kvm_required[i].cap) <= 0) {
			kvm_why = kvm_required[i].name;
			return -1;
		}
	}
	if ((kvm_check(KVM_CAP_SYNC_REGS) & sync) != sync) {
		kvm_why = "KVM_CAP_SYNC_REGS (registers, sregs, events)";
		return -1;
	}
	kvm_run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm_run_size < (int)sizeof(struct kvm_run)) {
		kvm_why = "KVM_GET_VCPU_MMAP_SIZE";
		return -1;
	}
	n = kvm_check(KVM_CAP_MAX_VCPU_ID);
	if (n > 0 && n < NVMM_MAX_VCPUS) {
		kvm_why = "KVM_CAP_MAX_VCPU_ID (256 VCPU ids)";
		return -1;
	}
	n = kvm_check(KVM_CAP_NR_MEMSLOTS);
	kvm_nslots = n > 0 ? (uint32_t)n : 32;
	n = kvm_check(KVM_CAP_DISABLE_QUIRKS2);
	kvm_quirks = n > 0 ? ((uint64_t)n & (KVM_X86_QUIRK_FIX_HYPERCALL_INSN |
	    KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS)) : 0;
	return 0;
}

/* KVM's supported CPUID table, base of every VCPU's. */
static int
kvm_get_supported(void)
{
	struct kvm_cpuid2 *c;
	int n;

	for (n = 256; ; n *= 2) {	/* one call on current hosts */
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (c == NULL) {
			errno = ENOMEM;
			return -1;
		}
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		free(c);
		if (errno != E2BIG || n >= 4096) {
			kvm_why = "KVM_GET_SUPPORTED_CPUID";
			errno = ENXIO;
			return -1;
		}
	}
	kvm_supported = c;
	return 0;
}

/* The kick signal: no SA_RESTART, so KVM_RUN returns EINTR. */
static int
kvm_kick_install(void)
{
	struct sigaction sa;

	kvm_kick_signo = SIGRTMAX - 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kvm_kick_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(kvm_kick_signo, &sa, NULL) == -1) {
		kvm_why = "the kick signal (SIGRTMAX-2) cannot be installed";
		errno = ENXIO;
		return -1;
	}
	return 0;
}

/*
 * Does a guest's XSETBV reach KVM?  Every VT-x and AMD-V processor makes
 * it exit, and KVM keeps the guest's XCR0 from there, loading it at each
 * entry.  An emulated AMD-V that lacks the XSETBV intercept (QEMU 7.2's
 * TCG) lets the guest change its XCR0 behind KVM's back, and the next
 * entry puts KVM's stale value back: a guest that enabled SSE state in
 * XCR0 then faults in XRSTOR (Linux: "bad frame in rt_sigreturn").  A
 * real-mode guest of four bytes (XSETBV; HLT) with RAX = 3 tells; where
 * XCR0 stays 1, XSAVE is not offered in CPUID (docs/kvm-hosts.md).
 * XCR0 set by the client still works there (KVM loads it at each entry),
 * so xcr0_mask does not change.  If the probe itself cannot run, the
 * hardware rule is assumed.
 *
 * On bare metal nothing runs (XSETBV exits by architecture).  Where this
 * host is a guest itself (nested, or emulated as in the AMD-V test
 * machine), the probe runs once per process, when first needed: in the
 * first machine's own VM before the client maps anything (a VCPU with an
 * id NVMM never uses, and a memory slot removed afterwards; KVM cannot
 * destroy the VCPU, which stays idle), so that start-up costs no second
 * KVM_CREATE_VM; or in a VM of its own when asked outside a machine.
 */
#define KVM_PROBE_VCPU_ID	NVMM_MAX_VCPUS

static pthread_mutex_t kvm_probe_lock = PTHREAD_MUTEX_INITIALIZER;
static bool kvm_probed;

static bool
kvm_xsetbv_exits(int vm_fd)
{
	static const uint8_t code[] = { 0x0f, 0x01, 0xd1, 0xf4 };
	struct kvm_userspace_memory_region mr;
	struct kvm_sregs sr;
	struct kvm_regs r;
	struct kvm_xcrs x;
	struct kvm_run *run = MAP_FAILED;
	void *ram = MAP_FAILED;
	int vm = vm_fd, vcpu = -1;
	bool exits = true, slot = false;
	uint32_t i;

	if (vm == -1 && (vm = ioctl(kvm_fd, KVM_CREATE_VM, 0)) == -1)
		return true;
	ram = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		goto out;
	memcpy(ram, code, sizeof(code));
	memset(&mr, 0, sizeof(mr));
	mr.memory_size = 4096;
	mr.userspace_addr = (uintptr_t)ram;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr) == -1)
		goto out;
	slot = true;
	if ((vcpu = ioctl(vm, KVM_CREATE_VCPU, vm_fd == -1 ? 0 :
	    KVM_PROBE_VCPU_ID)) == -1 ||
	    ioctl(vcpu, KVM_SET_CPUID2, kvm_supported) == -1)
		goto out;
	run = mmap(NULL, (size_t)kvm_run_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sr) == -1)
		goto out;
	sr.cs.base = 0;
	sr.cs.selector = 0;
	sr.cr4 |= X86_CR4_OSXSAVE;
	memset(&r, 0, sizeof(r));
	r.rax = 3;			/* x87 | SSE */
	r.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_SREGS, &sr) == -1 ||
	    ioctl(vcpu, KVM_SET_REGS, &r) == -1 ||
	    ioctl(vcpu, KVM_RUN, 0) == -1 || run->exit_reason != KVM_EXIT_HLT ||
	    ioctl(vcpu, KVM_GET_XCRS, &x) == -1)
		goto out;
	for (i = 0; i < x.nr_xcrs && i < KVM_MAX_XCRS; i++) {
		if (x.xcrs[i].xcr == 0)
			exits = (x.xcrs[i].value & 3) == 3;
	}
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)kvm_run_size);
	if (vcpu != -1)
		close(vcpu);
	if (vm_fd == -1) {
		close(vm);
	} else if (slot) {
		mr.memory_size = 0;	/* the slot goes; the client's come */
		(void)ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr);
	}
	if (ram != MAP_FAILED)
		munmap(ram, 4096);
	return exits;
}

/* Runs the probe if nobody has: in vm_fd (a new machine's), or -1. */
static bool
kvm_xsave_probe(int vm_fd)
{
	pthread_mutex_lock(&kvm_probe_lock);
	if (!kvm_probed) {
		/* The probe VCPU's id must be one KVM accepts. */
		if (vm_fd != -1 && ioctl(kvm_fd, KVM_CHECK_EXTENSION,
		    KVM_CAP_MAX_VCPU_ID) <= KVM_PROBE_VCPU_ID)
			vm_fd = -1;
		/* On bare metal VT-x and AMD-V, XSETBV exits by architecture;
		   only a hypervisor underneath can get it wrong. */
		kvm_xsave = !kvm_host_is_guest() || kvm_xsetbv_exits(vm_fd);
		kvm_probed = true;
	}
	pthread_mutex_unlock(&kvm_probe_lock);
	return kvm_xsave;
}

bool
nvmm_kvm_xsave(void)
{
	return kvm_xsave_probe(-1);
}

static int
kvm_init(void)
{
	int fd;

	if (kvm_fd != -1)
		return 0;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd == -1) {
		/* NVMM's "no hypervisor" is ENXIO; keep permission errors. */
		kvm_why = (errno == EACCES || errno == EPERM) ?
		    "no permission to open /dev/kvm" : "no /dev/kvm";
		errno = (errno == EACCES || errno == EPERM) ? EACCES : ENXIO;
		return -1;
	}
	kvm_fd = fd;
	if (kvm_check_caps() == -1) {
		errno = ENXIO;
		goto fail;
	}
	if (kvm_supported == NULL && kvm_get_supported() == -1)
		goto fail;
	if (kvm_kick_install() == -1)
		goto fail;
	kvm_host_mxcsr_mask = kvm_host_mxcsr();
	kvm_host = kvm_host_detect();
	kvm_host_tcg = kvm_host_is_tcg();
	kvm_dbg_control = kvm_debug_support();
	/* Upstream KVM on AMD-V and VT-x skips a plain OUT when it
	   completes it; other hosts are learned from their exits. */
	if (kvm_host == NVMM_KVM_HOST_AMD || kvm_host == NVMM_KVM_HOST_INTEL)
		x86_io_out_retired(0);
	kvm_why = NULL;
	return 0;
fail:
	close(fd);
	kvm_fd = -1;
	return -1;
}

static void
kvm_capability(struct nvmm_capability *cap)
{
	memset(cap, 0, sizeof(*cap));
	cap->version = NVMM_KERN_VERSION;
	cap->state_size = sizeof(struct nvmm_x64_state);
	cap->max_machines = NVMM_MAX_MACHINES;
	cap->max_vcpus = NVMM_MAX_VCPUS;
	cap->max_ram = NVMM_MAX_RAM;
	cap->arch.mach_conf_support = 0;
	cap->arch.vcpu_conf_support = NVMM_CAP_ARCH_VCPU_CONF_CPUID |
	    NVMM_CAP_ARCH_VCPU_CONF_TPR;
	if (kvm_dbg_control != 0)
		cap->arch.vcpu_conf_support |= NVMM_CAP_ARCH_VCPU_CONF_DEBUG;
	cap->arch.xcr0_mask = NVMM_X86_XCR0_MASK;
	cap->arch.mxcsr_mask = kvm_host_mxcsr_mask;
	cap->arch.conf_cpuid_maxops = NVMM_X86_CPUID_MAXOPS;
}

/* -------------------------------------------------------------------------
 * CPUID: KVM's supported table, filtered by NVMM's rules (nvmm_x86.c),
 * then the VCPU's configured masks.
 * ------------------------------------------------------------------------- */

/*
 * Appends a KVM entry to t after NVMM's filter and the client's masks;
 * false when NVMM hides the leaf.
 */
static bool
cpuid_put(struct kvm_cpuid2 *t, const struct kvm_cpuid_entry2 *src,
    const struct nvmm_x86_cpuid_ctx *ctx, const struct nvmm_x86_cpuid_conf *conf)
{
	struct kvm_cpuid_entry2 *e = &t->entries[t->nent];
	struct nvmm_x86_cpuid c = {
		.leaf = src->function, .index = src->index,
		.regs = { src->eax, src->ebx, src->ecx, src->edx },
	};

	if (ctx != NULL && !nvmm_x86_cpuid_filter(&c, ctx))
		return false;
	nvmm_x86_cpuid_apply(&c, conf);
	*e = *src;
	e->eax = c.regs[0];
	e->ebx = c.regs[1];
	e->ecx = c.regs[2];
	e->edx = c.regs[3];
	t->nent++;
	return true;
}

/* The VCPU and the host as the CPUID filter sees them. */
static void
cpuid_ctx(struct kvm_vcpu_be *kv, struct nvmm_x86_cpuid_ctx *ctx)
{
	const struct kvm_cpuid2 *s = kvm_supported;
	uint32_t basic = 0, ext = 0x80000000, i;

	for (i = 0; i < s->nent; i++) {
		if (s->entries[i].function == 0)
			basic = s->entries[i].eax;
		if (s->entries[i].function == 0x80000000)
			ext = s->entries[i].eax;
	}
	ctx->vcpu = kv->common.cpuid;
	ctx->no_xsave = !kvm_xsave_probe(-1);
	ctx->nvcpus = kv->topo_nvcpus ? kv->topo_nvcpus :
	    kv->common.mach->nvcpus;
	nvmm_x86_cpuid_limits(ctx, basic, ext);
}

/* Builds the table of one VCPU; the caller frees it. */
static struct kvm_cpuid2 *
cpuid_build(struct kvm_vcpu_be *kv)
{
	const struct kvm_cpuid2 *s = kvm_supported;
	const struct nvmm_x86_cpuid_conf *conf = &kv->cpuid_conf;
	struct nvmm_x86_cpuid_ctx ctx;
	struct kvm_cpuid_entry2 e;
	struct nvmm_x86_cpuid sig;
	struct kvm_cpuid2 *t;
	bool have_b[2] = { false, false };
	uint32_t i;

	t = calloc(1, sizeof(*t) + (s->nent + 3) * sizeof(t->entries[0]));
	if (t == NULL)
		return NULL;
	cpuid_ctx(kv, &ctx);
	for (i = 0; i < s->nent; i++) {
		if (cpuid_put(t, &s->entries[i], &ctx, conf) &&
		    s->entries[i].function == 0xb && s->entries[i].index < 2)
			have_b[s->entries[i].index] = true;
	}
	/* Leaf 0xB carries the VCPU id even if the host has no such leaf. */
	for (i = 0; i < 2 && ctx.max_basic >= 0xb; i++) {
		if (have_b[i])
			continue;
		memset(&e, 0, sizeof(e));
		e.function = 0xb;
		e.index = i;
		e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		cpuid_put(t, &e, &ctx, conf);
	}
	nvmm_x86_cpuid_signature(&sig);
	memset(&e, 0, sizeof(e));
	e.function = sig.leaf;
	e.eax = sig.regs[0];
	e.ebx = sig.regs[1];
	e.ecx = sig.regs[2];
	e.edx = sig.regs[3];
	cpuid_put(t, &e, NULL, conf);
	return t;
}

static size_t
cpuid_size(const struct kvm_cpuid2 *t)
{
	return sizeof(*t) + t->nent * sizeof(t->entries[0]);
}

static int
cpuid_load(struct kvm_vcpu_be *kv)
{
	struct kvm_cpuid2 *t;

	if ((t = cpuid_build(kv)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/* KVM compares with a table it adjusts at run time: do it here. */
	if (kv->cpuid != NULL && cpuid_size(kv->cpuid) == cpuid_size(t) &&
	    memcmp(kv->cpuid, t, cpuid_size(t)) == 0) {
		free(t);
		kv->cpuid_dirty = false;
		return 0;
	}
	if (kvm_ioctl(kv->fd, KVM_SET_CPUID2, t) == -1) {
		free(t);
		return -1;
	}
	free(kv->cpuid);
	kv->cpuid = t;
	kv->cpuid_dirty = false;
	if (kv->topo_nvcpus == 0)
		kv->topo_nvcpus = kv->common.mach->nvcpus;
	return 0;
}

/* -------------------------------------------------------------------------
 * VCPU configuration.
 * ------------------------------------------------------------------------- */

/* NVMM_VCPU_CONF_CPUID: NVMM's rules, then KVM's table. */
static int
kvm_vcpu_conf_cpuid(struct kvm_vcpu_be *kv,
    const struct nvmm_vcpu_conf_cpuid *c)
{
	struct nvmm_x86_cpuid_conf saved = kv->cpuid_conf;

	/* KVM cannot make CPUID exit to user space. */
	if (nvmm_x86_cpuid_configure(&kv->cpuid_conf, c, false) == -1)
		return -1;
	if (!kv->ran) {
		kv->cpuid_dirty = true;	/* loaded at the first run */
		return 0;
	}
	/* KVM refuses a different table once the VCPU has run. */
	if (cpuid_load(kv) == -1) {
		kv->cpuid_conf = saved;
		errno = EBUSY;
		return -1;
	}
	return 0;
}

/*
 * NVMM_VCPU_CONF_DEBUG (our extension): what this host cannot do, refused
 * rather than silently never firing (docs/kvm-hosts.md).
 */
static bool
kvm_debug_refused(const struct nvmm_vcpu_conf_debug *c)
{
	bool hw = (c->flags & NVMM_VCPU_DEBUG_HWBP) && (c->dr7 & 0xff);
	bool data = false;
	int i;

	for (i = 0; i < 4; i++)
		if ((c->dr7 & (3ULL << (2 * i))) &&
		    ((c->dr7 >> (16 + 4 * i)) & 3) != 0)
			data = true;
	if ((c->flags & NVMM_VCPU_DEBUG_SWBP) &&
	    (!(kvm_dbg_control & KVM_GUESTDBG_USE_SW_BP) || kvm_host_tcg))
		return true;
	if (hw && (!(kvm_dbg_control & KVM_GUESTDBG_USE_HW_BP) ||
	    kvm_host_tcg || (data && kvm_host == NVMM_KVM_HOST_PVM)))
		return true;
	/* kvm_pvm runs guest CPL3 code outside KVM's guest debugging. */
	return (c->flags & NVMM_VCPU_DEBUG_USER) &&
	    kvm_host == NVMM_KVM_HOST_PVM;
}

/*
 * KVM starts a single step from the linear RIP it holds at
 * KVM_SET_GUEST_DEBUG and sets TF only while the VCPU is there; the
 * registers the client set since the last run (RIP, CS) are loaded only
 * at the next one.  Give them to KVM now, as the next run would.
 */
static int
kvm_debug_step_from(struct kvm_vcpu_be *kv)
{
	struct kvm_run *run = kv->run;
	int ret;

	/* An assisted instruction KVM has not finished yet ends first, so
	   that the step starts on an instruction boundary. */
	if (kv->compl == COMPL_READY) {
		if ((ret = kvm_complete(kv)) == -1)
			return -1;
		if (ret == 0)
			kv->held = true;
	}
	if (!(kv->dirty & (NVMM_X64_STATE_GPRS | NVMM_X64_STATE_SEGS |
	    NVMM_X64_STATE_CRS | NVMM_X64_STATE_MSRS)))
		return 0;
	if (run_finish_previous(kv) == -1 || state_flush(kv) == -1)
		return -1;
	if ((run->kvm_dirty_regs & KVM_SYNC_X86_REGS) &&
	    kvm_ioctl(kv->fd, KVM_SET_REGS, &run->s.regs.regs) == -1)
		return -1;
	if ((run->kvm_dirty_regs & KVM_SYNC_X86_SREGS) &&
	    kvm_ioctl(kv->fd, KVM_SET_SREGS, &run->s.regs.sregs) == -1)
		return -1;
	run->kvm_dirty_regs &= ~(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS);
	return 0;
}

static int
kvm_vcpu_conf_debug(struct kvm_vcpu_be *kv,
    const struct nvmm_vcpu_conf_debug *c)
{
	const uint64_t all = NVMM_VCPU_DEBUG_STEP | NVMM_VCPU_DEBUG_SWBP |
	    NVMM_VCPU_DEBUG_HWBP | NVMM_VCPU_DEBUG_NOIRQ | NVMM_VCPU_DEBUG_USER;
	struct kvm_guest_debug g;
	int i;

	if (c->flags & ~all) {
		errno = EINVAL;
		return -1;
	}
	if (kvm_dbg_control == 0 || kvm_debug_refused(c)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	memset(&g, 0, sizeof(g));
	if (c->flags != 0)
		g.control = KVM_GUESTDBG_ENABLE;
	if (c->flags & NVMM_VCPU_DEBUG_STEP)
		g.control |= KVM_GUESTDBG_SINGLESTEP;
	if (c->flags & NVMM_VCPU_DEBUG_SWBP)
		g.control |= KVM_GUESTDBG_USE_SW_BP;
	if ((c->flags & NVMM_VCPU_DEBUG_HWBP) && (c->dr7 & 0xff))
		g.control |= KVM_GUESTDBG_USE_HW_BP;
	/* Best effort: an older KVM cannot hold interrupts back. */
	if ((c->flags & NVMM_VCPU_DEBUG_NOIRQ) &&
	    (kvm_dbg_control & KVM_GUESTDBG_BLOCKIRQ))
		g.control |= KVM_GUESTDBG_BLOCKIRQ;
	for (i = 0; i < 4; i++)
		g.arch.debugreg[i] = c->dr[i];
	g.arch.debugreg[7] = c->dr7;
	if ((c->flags & NVMM_VCPU_DEBUG_STEP) && kvm_debug_step_from(kv) == -1)
		return -1;
	if (kvm_ioctl(kv->fd, KVM_SET_GUEST_DEBUG, &g) == -1)
		return -1;
	kv->debug = c->flags;
	return 0;
}

/* Our configuration ops: NVMM's two, then the debug extension. */
#define KVM_VCPU_NCONF	(NVMM_X86_VCPU_NCONF + 1)

static const size_t kvm_vcpu_conf_sizes[KVM_VCPU_NCONF] = {
	[NVMM_VCPU_CONF_MD(NVMM_VCPU_CONF_CPUID)] =
	    sizeof(struct nvmm_vcpu_conf_cpuid),
	[NVMM_VCPU_CONF_MD(NVMM_VCPU_CONF_TPR)] =
	    sizeof(struct nvmm_vcpu_conf_tpr),
	[NVMM_VCPU_CONF_MD(NVMM_VCPU_CONF_DEBUG)] =
	    sizeof(struct nvmm_vcpu_conf_debug),
};

static int
kvm_vcpu_configure(struct nvmm_vcpu_priv *v, uint64_t op, void *data)
{
	struct kvm_vcpu_be *kv = kvcpu(v);

	switch (op) {
	case NVMM_VCPU_CONF_CPUID:
		return kvm_vcpu_conf_cpuid(kv, data);
	case NVMM_VCPU_CONF_TPR:
		kv->tpr_exit =
		    ((const struct nvmm_vcpu_conf_tpr *)data)->exit_changed;
		return 0;
	case NVMM_VCPU_CONF_DEBUG:
		return kvm_vcpu_conf_debug(kv, data);
	default:
		errno = EINVAL;
		return -1;
	}
}

/* -------------------------------------------------------------------------
 * Machines and memory.
 * ------------------------------------------------------------------------- */

static int
kvm_machine_setup(struct kvm_mach *km)
{
	static uint8_t allow_bits[KVM_MSR_FILTER_MAX_RANGES];
	struct kvm_msr_filter filter;
	struct kvm_enable_cap cap;
	size_t i;

	/* VMCALL/VMMCALL give #UD (no patching); MWAIT gives #UD. */
	if (kvm_quirks != 0) {
		memset(&cap, 0, sizeof(cap));
		cap.cap = KVM_CAP_DISABLE_QUIRKS2;
		cap.args[0] = kvm_quirks;
		if (kvm_ioctl(km->vm_fd, KVM_ENABLE_CAP, &cap) == -1)
			return -1;
	}
	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
	cap.args[0] = KVM_MSR_EXIT_REASON_FILTER | KVM_MSR_EXIT_REASON_UNKNOWN;
	if (kvm_ioctl(km->vm_fd, KVM_ENABLE_CAP, &cap) == -1)
		return -1;

	memset(&filter, 0, sizeof(filter));
	filter.flags = KVM_MSR_FILTER_DEFAULT_DENY;
	/* The guest's own MSRs stay in KVM; every other one exits. */
	for (i = 0; i < nvmm_x86_nmsr_guest && i < KVM_MSR_FILTER_MAX_RANGES;
	    i++) {
		allow_bits[i] = (uint8_t)((1u << nvmm_x86_msr_guest[i].n) - 1);
		filter.ranges[i].flags = KVM_MSR_FILTER_READ |
		    KVM_MSR_FILTER_WRITE;
		filter.ranges[i].base = nvmm_x86_msr_guest[i].base;
		filter.ranges[i].nmsrs = nvmm_x86_msr_guest[i].n;
		filter.ranges[i].bitmap = &allow_bits[i];
	}
	if (kvm_ioctl(km->vm_fd, KVM_X86_SET_MSR_FILTER, &filter) == -1)
		return -1;

	/* Needed on VMX hosts without unrestricted guest; harmless elsewhere. */
	(void)ioctl(km->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_GPA);
	return 0;
}

static int
kvm_machine_create(struct nvmm_mach_priv *m)
{
	struct kvm_mach *km;
	int err;

	if ((km = calloc(1, sizeof(*km))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	km->nslots = kvm_nslots;
	km->slot_used = calloc((km->nslots + 31) / 32, sizeof(uint32_t));
	if (km->slot_used == NULL) {
		free(km);
		errno = ENOMEM;
		return -1;
	}
	do {
		km->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	} while (km->vm_fd == -1 && errno == EINTR);
	if (km->vm_fd == -1) {
		err = errno;
		goto fail;
	}
	if (kvm_machine_setup(km) == -1) {
		err = errno;
		close(km->vm_fd);
		goto fail;
	}
	(void)kvm_xsave_probe(km->vm_fd);
	m->be = km;
	return 0;
fail:
	free(km->slot_used);
	free(km);
	errno = (err == ENOMEM || err == EMFILE || err == ENFILE) ? err :
	    ENOMEM;
	return -1;
}

static void vcpu_free(struct kvm_vcpu_be *);

static void
kvm_machine_destroy(struct nvmm_mach_priv *m)
{
	struct kvm_mach *km = kmach(m);
	size_t i;

	for (i = 0; i < NVMM_MAX_VCPUS; i++) {
		if (km->parked[i] != NULL)
			vcpu_free(km->parked[i]);
	}
	close(km->vm_fd);
	free(km->slot_used);
	free(km);
	m->be = NULL;
}

static int
kvm_set_slot(struct kvm_mach *km, int slot, struct nvmm_area *a, bool del)
{
	struct kvm_userspace_memory_region r;

	memset(&r, 0, sizeof(r));
	r.slot = (uint32_t)slot;
	r.guest_phys_addr = a->gpa;
	r.memory_size = del ? 0 : a->size;
	r.userspace_addr = a->hva;
	r.flags = (a->prot & PROT_WRITE) ? 0 : KVM_MEM_READONLY;
	return kvm_ioctl(km->vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

static int
kvm_gpa_map(struct nvmm_mach_priv *m, struct nvmm_area *a)
{
	struct kvm_mach *km = kmach(m);
	uint32_t s;

	/* No access at all: leave it unmapped, accesses become MMIO exits. */
	if (a->prot == 0) {
		a->slot = -1;
		return 0;
	}
	for (s = 0; s < km->nslots; s++) {
		if (!(km->slot_used[s / 32] & (1u << (s % 32))))
			break;
	}
	if (s == km->nslots) {
		errno = ENOBUFS;
		return -1;
	}
	if (kvm_set_slot(km, (int)s, a, false) == -1) {
		/* Overlaps KVM's own reserved range, or a bad HVA. */
		errno = EINVAL;
		return -1;
	}
	km->slot_used[s / 32] |= 1u << (s % 32);
	a->slot = (int)s;
	return 0;
}

static int
kvm_gpa_unmap(struct nvmm_mach_priv *m, struct nvmm_area *a)
{
	struct kvm_mach *km = kmach(m);

	if (a->slot < 0)
		return 0;
	if (kvm_set_slot(km, a->slot, a, true) == -1)
		return -1;
	km->slot_used[a->slot / 32] &= ~(1u << (a->slot % 32));
	a->slot = -1;
	return 0;
}

/* -------------------------------------------------------------------------
 * State conversion between NVMM and KVM.
 * ------------------------------------------------------------------------- */

#define GROUPS_SYNCED	(NVMM_X64_STATE_GPRS | NVMM_X64_STATE_SEGS | \
			 NVMM_X64_STATE_CRS | NVMM_X64_STATE_INTR)

static void
seg_from_kvm(struct nvmm_x64_state_seg *s, const struct kvm_segment *k)
{
	s->selector = k->selector;
	s->base = k->base;
	s->limit = k->limit;
	s->attrib.type = k->type & 0xf;
	s->attrib.s = k->s & 1;
	s->attrib.dpl = k->dpl & 3;
	s->attrib.p = k->unusable ? 0 : (k->present & 1);
	s->attrib.avl = k->avl & 1;
	s->attrib.l = k->l & 1;
	s->attrib.def = k->db & 1;
	s->attrib.g = k->g & 1;
	s->attrib.rsvd = 0;
}

static void
seg_to_kvm(struct kvm_segment *k, const struct nvmm_x64_state_seg *s)
{
	memset(k, 0, sizeof(*k));
	k->selector = s->selector;
	k->base = s->base;
	k->limit = s->limit;
	k->type = s->attrib.type;
	k->s = s->attrib.s;
	k->dpl = s->attrib.dpl;
	k->present = s->attrib.p;
	k->avl = s->attrib.avl;
	k->l = s->attrib.l;
	k->db = s->attrib.def;
	k->g = s->attrib.g;
	k->unusable = !s->attrib.p;
}

static void
gprs_from_kvm(uint64_t *g, const struct kvm_regs *r)
{
	g[NVMM_X64_GPR_RAX] = r->rax;
	g[NVMM_X64_GPR_RCX] = r->rcx;
	g[NVMM_X64_GPR_RDX] = r->rdx;
	g[NVMM_X64_GPR_RBX] = r->rbx;
	g[NVMM_X64_GPR_RSP] = r->rsp;
	g[NVMM_X64_GPR_RBP] = r->rbp;
	g[NVMM_X64_GPR_RSI] = r->rsi;
	g[NVMM_X64_GPR_RDI] = r->rdi;
	g[NVMM_X64_GPR_R8] = r->r8;
	g[NVMM_X64_GPR_R9] = r->r9;
	g[NVMM_X64_GPR_R10] = r->r10;
	g[NVMM_X64_GPR_R11] = r->r11;
	g[NVMM_X64_GPR_R12] = r->r12;
	g[NVMM_X64_GPR_R13] = r->r13;
	g[NVMM_X64_GPR_R14] = r->r14;
	g[NVMM_X64_GPR_R15] = r->r15;
	g[NVMM_X64_GPR_RIP] = r->rip;
	g[NVMM_X64_GPR_RFLAGS] = r->rflags;
}

static void
gprs_to_kvm(struct kvm_regs *r, const uint64_t *g)
{
	r->rax = g[NVMM_X64_GPR_RAX];
	r->rcx = g[NVMM_X64_GPR_RCX];
	r->rdx = g[NVMM_X64_GPR_RDX];
	r->rbx = g[NVMM_X64_GPR_RBX];
	r->rsp = g[NVMM_X64_GPR_RSP];
	r->rbp = g[NVMM_X64_GPR_RBP];
	r->rsi = g[NVMM_X64_GPR_RSI];
	r->rdi = g[NVMM_X64_GPR_RDI];
	r->r8 = g[NVMM_X64_GPR_R8];
	r->r9 = g[NVMM_X64_GPR_R9];
	r->r10 = g[NVMM_X64_GPR_R10];
	r->r11 = g[NVMM_X64_GPR_R11];
	r->r12 = g[NVMM_X64_GPR_R12];
	r->r13 = g[NVMM_X64_GPR_R13];
	r->r14 = g[NVMM_X64_GPR_R14];
	r->r15 = g[NVMM_X64_GPR_R15];
	r->rip = g[NVMM_X64_GPR_RIP];
	r->rflags = g[NVMM_X64_GPR_RFLAGS];
}

/* Are the client's GPRS those in *want? */
static bool
gprs_unchanged(struct kvm_vcpu_be *kv, const struct kvm_regs *want)
{
	struct kvm_regs r = *want;

	gprs_to_kvm(&r, kv->common.state.gprs);
	return memcmp(&r, want, sizeof(r)) == 0;
}

static void
segs_from_kvm(struct nvmm_x64_state_seg *segs, const struct kvm_sregs *sr)
{
	seg_from_kvm(&segs[NVMM_X64_SEG_ES], &sr->es);
	seg_from_kvm(&segs[NVMM_X64_SEG_CS], &sr->cs);
	seg_from_kvm(&segs[NVMM_X64_SEG_SS], &sr->ss);
	seg_from_kvm(&segs[NVMM_X64_SEG_DS], &sr->ds);
	seg_from_kvm(&segs[NVMM_X64_SEG_FS], &sr->fs);
	seg_from_kvm(&segs[NVMM_X64_SEG_GS], &sr->gs);
	seg_from_kvm(&segs[NVMM_X64_SEG_LDT], &sr->ldt);
	seg_from_kvm(&segs[NVMM_X64_SEG_TR], &sr->tr);
	/* Descriptor tables: only base and limit, as VMX reports them. */
	memset(&segs[NVMM_X64_SEG_GDT], 0, sizeof(segs[0]));
	segs[NVMM_X64_SEG_GDT].base = sr->gdt.base;
	segs[NVMM_X64_SEG_GDT].limit = sr->gdt.limit;
	memset(&segs[NVMM_X64_SEG_IDT], 0, sizeof(segs[0]));
	segs[NVMM_X64_SEG_IDT].base = sr->idt.base;
	segs[NVMM_X64_SEG_IDT].limit = sr->idt.limit;
}

static void
segs_to_kvm(struct kvm_sregs *sr, const struct nvmm_x64_state_seg *segs)
{
	seg_to_kvm(&sr->es, &segs[NVMM_X64_SEG_ES]);
	seg_to_kvm(&sr->cs, &segs[NVMM_X64_SEG_CS]);
	seg_to_kvm(&sr->ss, &segs[NVMM_X64_SEG_SS]);
	seg_to_kvm(&sr->ds, &segs[NVMM_X64_SEG_DS]);
	seg_to_kvm(&sr->fs, &segs[NVMM_X64_SEG_FS]);
	seg_to_kvm(&sr->gs, &segs[NVMM_X64_SEG_GS]);
	seg_to_kvm(&sr->ldt, &segs[NVMM_X64_SEG_LDT]);
	seg_to_kvm(&sr->tr, &segs[NVMM_X64_SEG_TR]);
	sr->gdt.base = segs[NVMM_X64_SEG_GDT].base;
	sr->gdt.limit = (uint16_t)segs[NVMM_X64_SEG_GDT].limit;
	sr->idt.base = segs[NVMM_X64_SEG_IDT].base;
	sr->idt.limit = (uint16_t)segs[NVMM_X64_SEG_IDT].limit;
}

#define KVM_NSTATE_MSRS	NVMM_X86_NSTATE_MSRS

/* struct kvm_msrs with room for n entries (it ends in a flexible array). */
#define KVM_MSRS_BUF(name, n)						\
	union {								\
		struct kvm_msrs m;					\
		uint8_t b[sizeof(struct kvm_msrs) +			\
		    (n) * sizeof(struct kvm_msr_entry)];		\
	} name

static int
msrs_io(struct kvm_vcpu_be *kv, bool set)
{
	uint64_t *msrs = kv->common.state.msrs;
	KVM_MSRS_BUF(buf, KVM_NSTATE_MSRS);
	size_t i;
	int n;

	memset(&buf, 0, sizeof(buf));
	buf.m.nmsrs = KVM_NSTATE_MSRS;
	for (i = 0; i < KVM_NSTATE_MSRS; i++) {
		buf.m.entries[i].index = nvmm_x86_state_msrs[i].msr;
		if (set)
			buf.m.entries[i].data =
			    msrs[nvmm_x86_state_msrs[i].index];
	}
	n = kvm_ioctl(kv->fd, set ? KVM_SET_MSRS : KVM_GET_MSRS, &buf);
	if (n != (int)KVM_NSTATE_MSRS) {
		errno = (n == -1) ? errno : EINVAL;
		return -1;
	}
	if (!set) {
		for (i = 0; i < KVM_NSTATE_MSRS; i++)
			msrs[nvmm_x86_state_msrs[i].index] =
			    buf.m.entries[i].data;
	}
	return 0;
}

/*
 * The FPU goes through KVM's XSAVE image: its first 512 bytes are the
 * FXSAVE layout NVMM exposes.  (KVM_GET/SET_FPU lose MXCSR when the XSAVE
 * header says the state is in its initial form.)
 */
#define XSAVE_BV_OFFSET	512
#define XSAVE_X87_SSE	0x3ULL

static int
fpu_get(struct kvm_vcpu_be *kv)
{
	struct fxsave *fx = &kv->common.state.fpu;
	struct kvm_xsave xs;

	if (kvm_ioctl(kv->fd, KVM_GET_XSAVE, &xs) == -1)
		return -1;
	memcpy(fx, xs.region, sizeof(*fx));
	fx->fx_mxcsr_mask = kvm_host_mxcsr_mask;
	return 0;
}

static int
fpu_set(struct kvm_vcpu_be *kv)
{
	const struct fxsave *fx = &kv->common.state.fpu;
	struct fxsave *dst;
	struct kvm_xsave xs;
	uint64_t bv;
	uint32_t mask;

	if (kvm_ioctl(kv->fd, KVM_GET_XSAVE, &xs) == -1)
		return -1;
	dst = (struct fxsave *)(void *)xs.region;
	memcpy(dst, fx, sizeof(*dst));
	/* MXCSR bits the host does not support are dropped, as on NetBSD. */
	mask = fx->fx_mxcsr_mask & kvm_host_mxcsr_mask;
	if (mask == 0)
		mask = kvm_host_mxcsr_mask;
	dst->fx_mxcsr = fx->fx_mxcsr & mask;
	dst->fx_mxcsr_mask = kvm_host_mxcsr_mask;
	/* x87 and SSE state are given, not initial. */
	memcpy(&bv, (uint8_t *)xs.region + XSAVE_BV_OFFSET, sizeof(bv));
	bv |= XSAVE_X87_SSE;
	memcpy((uint8_t *)xs.region + XSAVE_BV_OFFSET, &bv, sizeof(bv));
	return kvm_ioctl(kv->fd, KVM_SET_XSAVE, &xs);
}

static int
xcr0_get(struct kvm_vcpu_be *kv, uint64_t *xcr0)
{
	struct kvm_xcrs x;
	uint32_t i;

	if (!kv->xcr0_volatile) {
		*xcr0 = kv->xcr0;
		return 0;
	}
	if (kvm_ioctl(kv->fd, KVM_GET_XCRS, &x) == -1)
		return -1;
	for (i = 0; i < x.nr_xcrs && i < KVM_MAX_XCRS; i++) {
		if (x.xcrs[i].xcr == 0)
			kv->xcr0 = x.xcrs[i].value;
	}
	*xcr0 = kv->xcr0;
	return 0;
}

static int
xcr0_set(struct kvm_vcpu_be *kv, uint64_t xcr0)
{
	struct kvm_xcrs x;

	xcr0 = (xcr0 & NVMM_X86_XCR0_MASK) | X86_XCR0_X87;	/* always x87 */
	if (!kv->xcr0_volatile && xcr0 == kv->xcr0)
		return 0;
	memset(&x, 0, sizeof(x));
	x.nr_xcrs = 1;
	x.xcrs[0].xcr = 0;
	x.xcrs[0].value = xcr0;
	if (kvm_ioctl(kv->fd, KVM_SET_XCRS, &x) == -1)
		return -1;
	kv->xcr0 = xcr0;
	return 0;
}

/* Is an event injected but not delivered yet? */
static bool
events_pending(const struct kvm_vcpu_events *ev)
{
	return ev->exception.injected || ev->interrupt.injected ||
	    ev->nmi.injected;
}

/* Makes the groups in flags valid in the state buffer. */
static int
kvm_vcpu_getstate(struct nvmm_vcpu_priv *v, uint64_t flags)
{
	struct kvm_vcpu_be *kv = kvcpu(v);
	struct nvmm_x64_state *st = &v->state;
	struct kvm_sync_regs *s = &kv->run->s.regs;
	struct kvm_debugregs dr;
	uint64_t need = flags & ~kv->cached;
	uint64_t xcr0;
	int ret;

	if (need == 0)
		return 0;
	/* The registers after the assisted instruction: KVM finishes it
	   now rather than at the next run. */
	if ((need & NVMM_X64_STATE_GPRS) && kv->compl == COMPL_READY &&
	    kv->compl_regs) {
		if ((ret = kvm_complete(kv)) == -1)
			return -1;
		if (ret == 0)
			kv->held = true;
		need = flags & ~kv->cached;
	}
	if (need & NVMM_X64_STATE_GPRS)
		gprs_from_kvm(st->gprs, &s->regs);
	if ((need & (NVMM_X64_STATE_SEGS | NVMM_X64_STATE_CRS |
	    NVMM_X64_STATE_MSRS)) && sregs_load(kv) == -1)
		return -1;
	if (need & NVMM_X64_STATE_SEGS)
		segs_from_kvm(st->segs, &s->sregs);
	if (need & NVMM_X64_STATE_CRS) {
		if (xcr0_get(kv, &xcr0) == -1)
			return -1;
		st->crs[NVMM_X64_CR_CR0] = s->sregs.cr0;
		st->crs[NVMM_X64_CR_CR2] = s->sregs.cr2;
		st->crs[NVMM_X64_CR_CR3] = s->sregs.cr3;
		st->crs[NVMM_X64_CR_CR4] = s->sregs.cr4;
		st->crs[NVMM_X64_CR_CR8] = kv->run->cr8;
		st->crs[NVMM_X64_CR_XCR0] = xcr0;
	}
	if (need & NVMM_X64_STATE_DRS) {
		if (kvm_ioctl(kv->fd, KVM_GET_DEBUGREGS, &dr) == -1)
			return -1;
		st->drs[NVMM_X64_DR_DR0] = dr.db[0];
		st->drs[NVMM_X64_DR_DR1] = dr.db[1];
		st->drs[NVMM_X64_DR_DR2] = dr.db[2];
		st->drs[NVMM_X64_DR_DR3] = dr.db[3];
		st->drs[NVMM_X64_DR_DR6] = dr.dr6;
		st->drs[NVMM_X64_DR_DR7] = dr.dr7;
	}
	if (need & NVMM_X64_STATE_MSRS) {
		if (msrs_io(kv, false) == -1)
			return -1;
		st->msrs[NVMM_X64_MSR_EFER] = s->sregs.efer;
	}
	if (need & NVMM_X64_STATE_INTR) {
		memset(&st->intr, 0, sizeof(st->intr));
		st->intr.int_shadow = s->events.interrupt.shadow != 0;
		st->intr.int_window_exiting = kv->int_window;
		st->intr.nmi_window_exiting = kv->nmi_window;
		st->intr.evt_pending = events_pending(&s->events);
	}
	if ((need & NVMM_X64_STATE_FPU) && fpu_get(kv) == -1)
		return -1;
	kv->cached |= need;
	return 0;
}

static void
kvm_vcpu_setstate(struct nvmm_vcpu_priv *v, uint64_t flags)
{
	struct kvm_vcpu_be *kv = kvcpu(v);

	kv->dirty |= flags;
	kv->cached |= flags;
	if ((flags & NVMM_X64_STATE_GPRS) && kv->compl == COMPL_READY)
		kv->gprs_after_assist = true;
}

/*
 * Loads what the client set into KVM: the synced groups into kvm_run
 * (KVM reads them at the next KVM_RUN), the others with ioctls.
 */
static int
state_flush(struct kvm_vcpu_be *kv)
{
	struct nvmm_x64_state *st = &kv->common.state;
	struct kvm_sync_regs *s = &kv->run->s.regs;
	uint64_t d = kv->dirty;
	struct kvm_debugregs dr;

	if (kv->cpuid_dirty && cpuid_load(kv) == -1)
		return -1;
	if (d == 0)
		return 0;
	/*
	 * Only what differs from KVM's copy is written back: a client that
	 * reads and writes back unchanged registers at every exit (QEMU's
	 * pattern) then costs KVM nothing.
	 */
	if (d & NVMM_X64_STATE_GPRS) {
		struct kvm_regs r = s->regs;

		gprs_to_kvm(&r, st->gprs);
		if (memcmp(&r, &s->regs, sizeof(r)) != 0) {
			s->regs = r;
			kv->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		}
	}
	if (d & (NVMM_X64_STATE_SEGS | NVMM_X64_STATE_CRS |
	    NVMM_X64_STATE_MSRS)) {
		struct kvm_sregs sr;

		if (sregs_load(kv) == -1)
			return -1;
		/* A new mode or address space: decode afresh. */
		x86_icache_flush(&kv->icache);
		sr = s->sregs;

		if (d & NVMM_X64_STATE_SEGS)
			segs_to_kvm(&sr, st->segs);
		if (d & NVMM_X64_STATE_CRS) {
			sr.cr0 = st->crs[NVMM_X64_CR_CR0];
			sr.cr2 = st->crs[NVMM_X64_CR_CR2];
			sr.cr3 = st->crs[NVMM_X64_CR_CR3];
			sr.cr4 = st->crs[NVMM_X64_CR_CR4] & NVMM_X86_CR4_VALID;
			sr.cr8 = st->crs[NVMM_X64_CR_CR8] & 0xf;
			/* Without an irqchip KVM takes the TPR from here. */
			kv->run->cr8 = st->crs[NVMM_X64_CR_CR8] & 0xf;
			kv->tpr_seen = kv->run->cr8;
		}
		if (d & NVMM_X64_STATE_MSRS)
			sr.efer = st->msrs[NVMM_X64_MSR_EFER];
		/* A set bit would queue an interrupt again. */
		memset(sr.interrupt_bitmap, 0, sizeof(sr.interrupt_bitmap));
		if (memcmp(&sr, &s->sregs, sizeof(sr)) != 0) {
			s->sregs = sr;
			kv->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
		}
	}
	if ((d & NVMM_X64_STATE_CRS) &&
	    xcr0_set(kv, st->crs[NVMM_X64_CR_XCR0]) == -1)
		return -1;
	if (d & NVMM_X64_STATE_DRS) {
		memset(&dr, 0, sizeof(dr));
		dr.db[0] = st->drs[NVMM_X64_DR_DR0];
		dr.db[1] = st->drs[NVMM_X64_DR_DR1];
		dr.db[2] = st->drs[NVMM_X64_DR_DR2];
		dr.db[3] = st->drs[NVMM_X64_DR_DR3];
		dr.dr6 = st->drs[NVMM_X64_DR_DR6] & 0xffffffffULL;
		dr.dr7 = st->drs[NVMM_X64_DR_DR7];
		if (kvm_ioctl(kv->fd, KVM_SET_DEBUGREGS, &dr) == -1)
			return -1;
	}
	if ((d & NVMM_X64_STATE_MSRS) && msrs_io(kv, true) == -1)
		return -1;
	if (d & NVMM_X64_STATE_INTR) {
		/* A MOV SS-style shadow, as VMX loads it. */
		s->events.interrupt.shadow = st->intr.int_shadow ?
		    KVM_X86_SHADOW_INT_MOV_SS : 0;
		s->events.flags |= KVM_VCPUEVENT_VALID_SHADOW;
		kv->run->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
		kv->int_window = st->intr.int_window_exiting;
		kv->nmi_window = st->intr.nmi_window_exiting;
	}
	if ((d & NVMM_X64_STATE_FPU) && fpu_set(kv) == -1)
		return -1;
	kv->dirty = 0;
	return 0;
}

static int
kvm_vcpu_paging(struct nvmm_vcpu_priv *v, uint64_t *cr0, uint64_t *cr3,
    uint64_t *cr4, uint64_t *efer)
{
	struct kvm_vcpu_be *kv = kvcpu(v);
	const struct nvmm_x64_state *st = &v->state;
	const struct kvm_sregs *sr = &kv->run->s.regs.sregs;

	if ((~kv->cached & (NVMM_X64_STATE_CRS | NVMM_X64_STATE_MSRS)) &&
	    sregs_load(kv) == -1)
		return -1;
	/* The client's pending values win, as getstate would show them. */
	if (kv->cached & NVMM_X64_STATE_CRS) {
		*cr0 = st->crs[NVMM_X64_CR_CR0];
		*cr3 = st->crs[NVMM_X64_CR_CR3];
		*cr4 = st->crs[NVMM_X64_CR_CR4];
	} else {
		*cr0 = sr->cr0;
		*cr3 = sr->cr3;
		*cr4 = sr->cr4;
	}
	*efer = (kv->cached & NVMM_X64_STATE_MSRS) ?
	    st->msrs[NVMM_X64_MSR_EFER] : sr->efer;
	return 0;
}

/* -------------------------------------------------------------------------
 * VCPUs.
 * ------------------------------------------------------------------------- */

/*
 * A parked KVM VCPU becomes a fresh NVMM VCPU.  Its CPUID table cannot
 * change any more (KVM refuses once a VCPU has run), so the new VCPU
 * inherits the configuration that produced it; a different one is
 * refused with EBUSY.
 */
static void
vcpu_revive(struct kvm_vcpu_be *kv)
{
	struct kvm_vcpu_events *ev = &kv->run->s.regs.events;
	int i, ret;

	/*
	 * KVM may still owe the old VCPU the end of its last instruction
	 * (an IO, MMIO or MSR exit the client never completed, or an exit
	 * held back): KVM_RUN would finish it on the new VCPU's state,
	 * e.g. skip an OUT at the same RIP (SVM exits with RIP on it) or
	 * write RAX.  Finish it now, without entering the guest; what it
	 * changes is overwritten below.  String I/O may need several
	 * rounds; the client's old registers are not loaded (they may be
	 * invalid and fail the run before KVM completes anything).
	 */
	if (kv->ran) {
		kv->run->kvm_dirty_regs = 0;
		kv->run->msr.error = 0;
		for (i = 0; i < 4096; i++) {
			ret = kvm_complete(kv);
			if (ret != 0)
				break;
		}
	}

	memset(&kv->common, 0, sizeof(kv->common));
	x86_icache_flush(&kv->icache);
	kv->tpr_exit = false;
	kv->compl = COMPL_NONE;
	kv->msr_fixup = false;
	kv->held = false;
	kv->int_window = false;
	kv->nmi_window = false;
	kv->tpr_seen = 0;
	kv->shutdown = false;
	kv->cpuid_dirty = true;		/* must match what KVM has */
	if (kv->debug != 0) {
		struct kvm_guest_debug off;

		memset(&off, 0, sizeof(off));
		(void)kvm_ioctl(kv->fd, KVM_SET_GUEST_DEBUG, &off);
		kv->debug = 0;
	}
	/* No event of the old VCPU survives. */
	memset(&ev->exception, 0, sizeof(ev->exception));
	memset(&ev->interrupt, 0, sizeof(ev->interrupt));
	memset(&ev->nmi, 0, sizeof(ev->nmi));
	ev->flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
	kv->run->kvm_dirty_regs = KVM_SYNC_X86_EVENTS;
	kv->run->request_interrupt_window = 0;
	set_immediate_exit(kv, 0);
	kv->run->cr8 = 0;
}

static int
kvm_vcpu_create(struct nvmm_mach_priv *m, nvmm_cpuid_t cpuid,
    struct nvmm_vcpu_priv **vp)
{
	struct kvm_mach *km = kmach(m);
	struct kvm_vcpu_be *kv;
	int err;

	if ((kv = km->parked[cpuid]) != NULL) {
		km->parked[cpuid] = NULL;
		vcpu_revive(kv);
		nvmm_x86_state_reset(&kv->common.state, kvm_host_mxcsr_mask);
		kv->cached = NVMM_X64_STATE_ALL;
		kv->dirty = NVMM_X64_STATE_ALL;
		*vp = &kv->common;
		return 0;
	}

	if (posix_memalign((void **)&kv, 64, sizeof(*kv)) != 0) {
		errno = ENOMEM;
		return -1;
	}
	memset(kv, 0, sizeof(*kv));
	do {
		kv->fd = ioctl(km->vm_fd, KVM_CREATE_VCPU, (unsigned long)cpuid);
	} while (kv->fd == -1 && errno == EINTR);
	if (kv->fd == -1) {
		err = (errno == EEXIST) ? EBUSY : errno;
		goto fail;
	}
	fcntl(kv->fd, F_SETFD, FD_CLOEXEC);
	kv->run_size = (size_t)kvm_run_size;
	kv->run = mmap(NULL, kv->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    kv->fd, 0);
	if (kv->run == MAP_FAILED) {
		err = errno;
		close(kv->fd);
		goto fail;
	}
	/* Seed the synced area with KVM's view; the NVMM reset state is
	   written over it at the first run. */
	if (kvm_ioctl(kv->fd, KVM_GET_SREGS, &kv->run->s.regs.sregs) == -1 ||
	    kvm_ioctl(kv->fd, KVM_GET_VCPU_EVENTS,
	    &kv->run->s.regs.events) == -1) {
		err = errno;
		munmap(kv->run, kv->run_size);
		close(kv->fd);
		goto fail;
	}
	kv->sregs_fresh = true;
	kv->run->cr8 = 0;
	kv->xcr0 = 1;
	kv->cpuid_dirty = true;

	nvmm_x86_state_reset(&kv->common.state, kvm_host_mxcsr_mask);
	kv->cached = NVMM_X64_STATE_ALL;
	kv->dirty = NVMM_X64_STATE_ALL;
	*vp = &kv->common;
	return 0;
fail:
	free(kv);
	errno = err;
	return -1;
}

static void
vcpu_free(struct kvm_vcpu_be *kv)
{
	munmap(kv->run, kv->run_size);
	close(kv->fd);
	free(kv->cpuid);
	free(kv);
}

static void
kvm_vcpu_destroy(struct nvmm_mach_priv *m, struct nvmm_vcpu_priv *v)
{
	struct kvm_vcpu_be *kv = kvcpu(v);

	kmach(m)->parked[v->cpuid] = kv;
}

/* -------------------------------------------------------------------------
 * Kicking a running VCPU.
 * ------------------------------------------------------------------------- */

static void
kvm_vcpu_kick(struct nvmm_vcpu_priv *v)
{
	struct kvm_vcpu_be *kv = kvcpu(v);

	pid_t tid;

	/* The caller's flag store comes before this load (seq_cst). */
	if (!atomic_load(&kv->running))
		return;
	set_immediate_exit(kv, 1);
	/* tgkill, not pthread_kill: harmless if the thread is gone. */
	tid = atomic_load(&kv->runner);
	if (tid != kvm_tls_tid)
		(void)syscall(SYS_tgkill, getpid(), tid, kvm_kick_signo);
}

/* Publishes that this thread may enter KVM_RUN on kv. */
static void
run_enter(struct kvm_vcpu_be *kv)
{
	sigset_t set;

	if (kvm_tls_tid == 0) {
		/* Once per thread: the kick signal must reach it. */
		sigemptyset(&set);
		sigaddset(&set, kvm_kick_signo);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		kvm_tls_tid = (pid_t)syscall(SYS_gettid);
	}
	set_immediate_exit(kv, 0);
	atomic_store(&kv->runner, kvm_tls_tid);
	kvm_tls_vcpu = kv;
	atomic_store(&kv->running, 1);
}

static void
run_leave(struct kvm_vcpu_be *kv)
{
	atomic_store(&kv->running, 0);
	kvm_tls_vcpu = NULL;
	set_immediate_exit(kv, 0);
}

/*
 * One KVM_RUN.  Returns 0 with an exit in kv->run, 1 when KVM_RUN was
 * interrupted (EINTR), -1 on error.  The synced groups are refreshed.
 */
static int
kvm_run_once(struct kvm_vcpu_be *kv)
{
	int ret;

	kv->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_EVENTS |
	    (kv->sregs_wanted ? KVM_SYNC_X86_SREGS : 0);
	do {
		ret = ioctl(kv->fd, KVM_RUN, 0);
	} while (ret == -1 && errno == EAGAIN);
	kv->run->kvm_dirty_regs = 0;
	kv->cached = kv->dirty;	/* what the client set is still its own */
	/* KVM stores the synced groups on its way out, EINTR included. */
	kv->sregs_fresh = kv->sregs_wanted && (ret == 0 || errno == EINTR);
	if (kv->sregs_fresh)
		sregs_seen(kv);
	if (ret == -1)
		return errno == EINTR ? 1 : -1;
	return 0;
}

/* Lets KVM finish a pending instruction without entering the guest. */
static int
kvm_complete(struct kvm_vcpu_be *kv)
{
	int ret;

	set_immediate_exit(kv, 1);
	ret = kvm_run_once(kv);
	set_immediate_exit(kv, 0);
	kv->compl = COMPL_NONE;
	return ret;
}

/* -------------------------------------------------------------------------
 * Events.
 * ------------------------------------------------------------------------- */

/* Puts the client's event into the synced events (docs/nvmm-semantics.md 6). */
static int
event_commit(struct kvm_vcpu_be *kv, const struct nvmm_x86_event *e)
{
	struct kvm_vcpu_events *ev = &kv->run->s.regs.events;
	struct kvm_regs *r = &kv->run->s.regs.regs;
	uint8_t vec = e->vector;

	if (nvmm_x86_event_check(e) == -1)
		return -1;
	if (e->type == NVMM_VCPU_EVENT_EXCP) {
		ev->exception.injected = 1;
		ev->exception.nr = vec;
		ev->exception.has_error_code = nvmm_x86_exc_has_errcode(vec);
		ev->exception.error_code = (uint32_t)e->u.excp.error;
		if (nvmm_x86_exc_sets_rf(vec)) {
			if (kv->dirty & NVMM_X64_STATE_GPRS)
				kv->common.state.gprs[NVMM_X64_GPR_RFLAGS] |=
				    X86_RFLAGS_RF;
			r->rflags |= X86_RFLAGS_RF;
			kv->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		}
	} else {
		if (vec == X86_EXC_NMI) {
			/* Queued like KVM_NMI: a masked NMI stays pending. */
			ev->nmi.pending = 1;
			ev->flags |= KVM_VCPUEVENT_VALID_NMI_PENDING;
			kv->nmi_window = true;
		} else {
			ev->interrupt.injected = 1;
			ev->interrupt.nr = vec;
			ev->interrupt.soft = 0;
		}
	}
	kv->run->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
	return 0;
}

/* Takes the event nvmm_vcpu_inject() left, if any. */
static int
event_take(struct kvm_vcpu_be *kv)
{
	struct nvmm_vcpu_priv *v = &kv->common;
	struct nvmm_x86_event e;

	if (!atomic_load_explicit(&v->event_pending, memory_order_acquire))
		return 0;
	while (atomic_flag_test_and_set_explicit(&v->event_lock,
	    memory_order_acquire))
		;
	e = v->event_copy;
	atomic_store(&v->event_pending, 0);
	atomic_flag_clear_explicit(&v->event_lock, memory_order_release);
	return event_commit(kv, &e);
}

static bool
guest_can_take_int(struct kvm_vcpu_be *kv)
{
	const struct kvm_sync_regs *s = &kv->run->s.regs;

	return (s->regs.rflags & X86_RFLAGS_IF) &&
	    s->events.interrupt.shadow == 0 && !events_pending(&s->events) && !s->events.exception.pending;
}

static bool
guest_nmi_done(struct kvm_vcpu_be *kv)
{
	const struct kvm_vcpu_events *ev = &kv->run->s.regs.events;

	return !ev->nmi.masked && !ev->nmi.pending && !ev->nmi.injected;
}

/* Forgets the exception KVM has queued (all queued events unless
   exc_only); KVM is told at the next KVM_RUN. */
static void
event_drop(struct kvm_vcpu_be *kv, bool exc_only)
{
	struct kvm_vcpu_events *ev = &kv->run->s.regs.events;

	memset(&ev->exception, 0, sizeof(ev->exception));
	if (!exc_only) {
		ev->nmi.injected = 0;
		ev->interrupt.injected = 0;
	}
	kv->run->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
}

/*
 * KVM cannot walk guest page tables that lie outside the memory slots
 * (to KVM they are MMIO).  When delivering an event needs such a walk,
 * KVM_RUN loops inside the kernel for ever (nested page fault, emulation,
 * #PF queued, the same nested page fault...) and never exits; hardware
 * would read all ones there, fault and shut down.  A KVM_RUN interrupted
 * (a kick, a signal) shows the loop: an event still queued whose IDT gate
 * can only be reached through such tables.
 */
static bool
delivery_stuck(struct kvm_vcpu_be *kv)
{
	const struct kvm_sync_regs *s = &kv->run->s.regs;
	const struct kvm_vcpu_events *ev = &s->events;
	const struct kvm_sregs *sr = &s->sregs;
	uint64_t vec, size, la;
	int e = errno, r;

	if (sregs_load(kv) == -1) {
		errno = e;
		return false;
	}
	if (ev->exception.injected || ev->exception.pending)
		vec = ev->exception.nr;
	else if (ev->nmi.injected)
		vec = 2;
	else if (ev->interrupt.injected)
		vec = ev->interrupt.nr;
	else
		return false;
	if (!(sr->cr0 & X86_CR0_PG))
		return false;
	size = (sr->efer & X86_EFER_LMA) ? 16 : 8;
	/* Past the limit: #GP, #DF, then a shutdown KVM does itself. */
	if (vec * size + size - 1 > sr->idt.limit)
		return false;
	la = sr->idt.base + vec * size;
	if (!(sr->efer & X86_EFER_LMA))
		la &= 0xffffffffULL;
	r = nvmm_mem_tables_outside(kv->common.mach, &kv->common, la);
	errno = e;
	return r == 1;
}

/* -------------------------------------------------------------------------
 * Exits.
 * ------------------------------------------------------------------------- */

static void
exitstate_fill(struct kvm_vcpu_be *kv)
{
	struct nvmm_x86_exit *x = &kv->common.exit;
	const struct kvm_sync_regs *s = &kv->run->s.regs;

	const struct nvmm_x64_state *st = &kv->common.state;

	/* What the client set and KVM has not seen yet wins (a run that
	   returns before entering the guest, e.g. an early STOPPED). */
	x->exitstate.rflags = (kv->dirty & NVMM_X64_STATE_GPRS) ?
	    st->gprs[NVMM_X64_GPR_RFLAGS] : s->regs.rflags;
	x->exitstate.cr8 = (kv->dirty & NVMM_X64_STATE_CRS) ?
	    (st->crs[NVMM_X64_CR_CR8] & 0xf) : kv->run->cr8;
	if (kv->dirty & NVMM_X64_STATE_INTR) {
		x->exitstate.int_shadow = st->intr.int_shadow;
		x->exitstate.int_window_exiting = st->intr.int_window_exiting;
		x->exitstate.nmi_window_exiting = st->intr.nmi_window_exiting;
	} else {
		x->exitstate.int_shadow = s->events.interrupt.shadow != 0;
		x->exitstate.int_window_exiting = kv->int_window;
		x->exitstate.nmi_window_exiting = kv->nmi_window;
	}
	x->exitstate.evt_pending = events_pending(&s->events);
}

/* Code-segment default size: 64-bit, 32-bit or 16-bit. */
static int
cs_mode(const struct kvm_sregs *sr)
{
	if ((sr->efer & X86_EFER_LMA) && sr->cs.l)
		return X86_MODE_64;
	return sr->cs.db ? X86_MODE_32 : X86_MODE_16;
}

/* Reads the instruction bytes at rip; returns how many were read. */
static size_t
fetch_insn(struct kvm_vcpu_be *kv, uint64_t rip, uint8_t *buf, size_t len)
{
	const struct kvm_sync_regs *s = &kv->run->s.regs;
	uint64_t la = rip;

	if (sregs_load(kv) == -1)
		return 0;
	if (cs_mode(&s->sregs) != X86_MODE_64)
		la = (s->sregs.cs.base + la) & 0xffffffffULL;
	return nvmm_mem_read_linear(kv->common.mach, &kv->common, la, buf,
	    len);
}

/*
 * For x86_io_locate: did an OUTS that ends at RIP read the exit's data?
 * Its source is seg:[RSI - size] (DF clear; RSI + size with DF set).
 */
static int
outs_src_matches(const struct x86_insn_io *c, void *arg)
{
	struct kvm_vcpu_be *kv = arg;
	const struct kvm_run *run = kv->run;
	const struct kvm_sync_regs *s = &run->s.regs;
	const struct kvm_segment *segs[] = {
		&s->sregs.es, &s->sregs.cs, &s->sregs.ss, &s->sregs.ds,
		&s->sregs.fs, &s->sregs.gs,
	};
	uint64_t amask, base = 0, src;
	size_t size = run->io.size;
	uint8_t mem[4];

	if (c->seg < 0 || c->seg > NVMM_X64_SEG_GS || size > sizeof(mem) ||
	    run->io.data_offset >= kv->run_size ||
	    size > kv->run_size - run->io.data_offset)
		return 0;
	if (cs_mode(&s->sregs) != X86_MODE_64 || c->seg == NVMM_X64_SEG_FS ||
	    c->seg == NVMM_X64_SEG_GS)
		base = segs[c->seg]->base;
	amask = c->address_size == 8 ? ~0ULL :
	    (1ULL << (c->address_size * 8)) - 1;
	src = (s->regs.rflags & X86_RFLAGS_DF) ? s->regs.rsi + size :
	    s->regs.rsi - size;
	src = base + (src & amask);
	return nvmm_mem_read_linear(kv->common.mach, &kv->common, src, mem,
	    size) == size && memcmp(mem, (const uint8_t *)run +
	    run->io.data_offset, size) == 0;
}

/* The guest bytes that end at RIP, within RIP's page if the one before
   is not RAM; 0 if they cannot be read. */
static size_t
fetch_before(struct kvm_vcpu_be *kv, uint64_t rip, uint8_t *buf, size_t len)
{
	size_t want = len;

	if (fetch_insn(kv, rip - want, buf, want) == want)
		return want;
	want = rip & (NVMM_PAGE_SIZE - 1);
	if (want > len)
		want = len;
	return fetch_insn(kv, rip - want, buf, want) == want ? want : 0;
}

/* Only 64-bit code at CPL0 is cached: there the linear address is RIP
   and no segment base takes part (docs/kvm-hosts.md). */
static bool
icache_mode_ok(const struct kvm_sregs *sr)
{
	return cs_mode(sr) == X86_MODE_64 && sr->cs.dpl == 0 &&
	    sr->ss.dpl == 0;
}

/* The cached decode of the instruction at rip, if still good. */
static const struct x86_icache_entry *
icache_find(struct kvm_vcpu_be *kv, uint64_t rip, enum x86_icache_kind kind)
{
	const struct kvm_sregs *sr = &kv->run->s.regs.sregs;
	const struct x86_icache_entry *e;

	if ((e = x86_icache_find(&kv->icache, kv->common.mach, rip,
	    kind)) == NULL)
		return NULL;
	/* Where KVM stored SREGS anyway, the mode is checked as well. */
	if (kv->sregs_fresh && (!icache_mode_ok(sr) || sr->cr3 != e->cr3)) {
		x86_icache_flush(&kv->icache);
		return NULL;
	}
	return e;
}

/*
 * Keeps a decode: the len bytes it used, starting skip bytes before rip,
 * are read again with their host address and must equal those decoded.
 * SREGS are loaded (the decode needed them).
 */
static struct x86_icache_entry *
icache_put(struct kvm_vcpu_be *kv, uint64_t rip, const uint8_t *decoded,
    size_t len, size_t skip, enum x86_icache_kind kind)
{
	const struct kvm_sregs *sr = &kv->run->s.regs.sregs;
	struct nvmm_mach_priv *m = kv->common.mach;
	uint8_t buf[X86_ICACHE_BYTES];
	const uint8_t *hva_before = NULL, *hva_at;
	uint64_t gen, gen2 = 0;

	if (!icache_mode_ok(sr) || len > sizeof(buf) || skip > rip ||
	    skip >= len)
		return NULL;
	/* The bytes before RIP may be on the page before. */
	if (skip > 0 && nvmm_mem_read_linear_hva(m, &kv->common, rip - skip,
	    buf, skip, &hva_before, &gen2) != skip)
		return NULL;
	if (nvmm_mem_read_linear_hva(m, &kv->common, rip, buf + skip,
	    len - skip, &hva_at, &gen) != len - skip ||
	    (skip > 0 && gen2 != gen) || memcmp(buf, decoded, len) != 0)
		return NULL;
	return x86_icache_put(&kv->icache, rip, sr->cr3, gen, hva_before,
	    hva_at, buf, len, skip, kind);
}

/* What KVM has left to do for an I/O exit; retired: RIP is past it. */
static void
exit_io_completion(struct kvm_vcpu_be *kv, bool retired)
{
	struct kvm_run *run = kv->run;
	const struct nvmm_x86_exit_io *io = &kv->common.exit.u.io;
	size_t bytes = (size_t)run->io.size * run->io.count;

	kv->compl = COMPL_IO;
	/* KVM writes INS data into guest memory when it completes: that
	   must happen within the assist, as on NVMM. */
	kv->compl_now = io->in && io->str;
	/* A retired OUT/OUTS leaves nothing for the registers. */
	kv->compl_regs = io->in || !retired;
	/* Unanswered reads see all ones, as on real hardware. */
	if (io->in && run->io.data_offset < kv->run_size &&
	    bytes <= kv->run_size - run->io.data_offset)
		memset((uint8_t *)run + run->io.data_offset, 0xff, bytes);
}

/* The NVMM fields of the I/O instruction found (or not) by the decode. */
static void
exit_io_fields(struct nvmm_x86_exit_io *io, uint64_t rip,
    enum x86_io_where where, const struct x86_insn_io *d)
{
	io->npc = rip;
	if (where == X86_IO_AT_RIP)
		io->npc = rip + d->len;
	if (where != X86_IO_UNKNOWN) {
		io->str = d->str;
		io->rep = d->rep;
		io->seg = d->seg;
		io->address_size = d->address_size;
	}
}

/* Can no OUT end at RIP, judging by the two bytes before it?  (An OUT's
   last byte is its opcode, or the imm8 after E6/E7.) */
static bool
no_out_ends_at(const uint8_t *before, size_t n)
{
	if (n < 2)
		return false;
	switch (before[n - 1]) {
	case 0x6e: case 0x6f: case 0xee: case 0xef:
		return false;
	}
	return before[n - 2] != 0xe6 && before[n - 2] != 0xe7;
}

/*
 * The slow path: find the instruction (at RIP, or before it when KVM has
 * retired it already) in guest memory and decode it.  A plain IN/OUT
 * that is at RIP and that nothing before RIP could be taken for goes to
 * the instruction cache.
 */
static enum x86_io_where
exit_io_decode(struct kvm_vcpu_be *kv)
{
	struct kvm_run *run = kv->run;
	struct nvmm_x86_exit_io *io = &kv->common.exit.u.io;
	const struct kvm_regs *r = &run->s.regs.regs;
	uint8_t at[X86_MAX_INSN_LEN], before[X86_MAX_INSN_LEN];
	uint8_t win[X86_ICACHE_BYTES];
	struct x86_icache_entry *e;
	struct x86_io_site site;
	struct x86_insn_io d;
	enum x86_io_where where;
	size_t skip;

	memset(&site, 0, sizeof(site));
	site.at = at;
	site.nat = fetch_insn(kv, r->rip, at, sizeof(at));
	if (site.nat == 0 && !kv->sregs_fresh)
		return X86_IO_UNKNOWN;	/* no SREGS: the fields stay unknown */
	site.before = before;
	if (!io->in)
		site.nbefore = fetch_before(kv, r->rip, before, sizeof(before));
	site.mode = cs_mode(&run->s.regs.sregs);
	io->address_size = site.mode;	/* X86_MODE_* is the size in bytes */
	site.in = io->in;
	site.port = io->port;
	site.operand_size = io->operand_size;
	site.rcx = r->rcx;
	site.rdx = r->rdx;
	site.src_matches = outs_src_matches;
	site.arg = kv;
	where = x86_io_locate(&site, &d);
	exit_io_fields(io, r->rip, where, &d);
	if (where != X86_IO_AT_RIP || d.str ||
	    (!io->in && !no_out_ends_at(before, site.nbefore)))
		return where;
	skip = io->in ? 0 : 2;
	memcpy(win, before + site.nbefore - skip, skip);
	memcpy(win + skip, at, d.len);
	e = icache_put(kv, r->rip, win, skip + d.len, skip, X86_ICACHE_IO);
	if (e != NULL) {
		e->u.io.d = d;
		e->u.io.port = io->port;
	}
	return where;
}

/*
 * KVM reports port, size, direction and count, not the NVMM fields that
 * describe the instruction: those come from the instruction cache when
 * this RIP was decoded before, else from exit_io_decode().
 */
static int
exit_io(struct kvm_vcpu_be *kv)
{
	struct kvm_run *run = kv->run;
	struct nvmm_x86_exit_io *io = &kv->common.exit.u.io;
	uint64_t rip = run->s.regs.regs.rip;
	const struct x86_icache_entry *e;
	enum x86_io_where where = X86_IO_AT_RIP;

	kv->common.exit.reason = NVMM_VCPU_EXIT_IO;
	io->in = run->io.direction == KVM_EXIT_IO_IN;
	io->port = run->io.port;
	io->operand_size = run->io.size;
	io->seg = -1;
	io->rep = false;
	io->str = false;
	io->address_size = X86_MODE_64;
	io->npc = rip;
	e = icache_find(kv, rip, X86_ICACHE_IO);
	if (e != NULL && e->u.io.port == io->port &&
	    e->u.io.d.in == io->in &&
	    e->u.io.d.operand_size == io->operand_size)
		exit_io_fields(io, rip, where, &e->u.io.d);
	else
		where = exit_io_decode(kv);
	exit_io_completion(kv, where == X86_IO_BEFORE_RIP);
	return RUN_EXIT;
}

static int
exit_mmio(struct kvm_vcpu_be *kv)
{
	struct kvm_run *run = kv->run;
	struct nvmm_x86_exit_memory *mem = &kv->common.exit.u.mem;

	uint64_t rip = run->s.regs.regs.rip;
	const struct x86_icache_entry *e;
	struct x86_icache_entry *ne;
	uint8_t insn[X86_MAX_INSN_LEN];
	size_t n;
	bool ro;

	kv->common.exit.reason = NVMM_VCPU_EXIT_MEMORY;
	mem->prot = run->mmio.is_write ? PROT_WRITE : PROT_READ;
	mem->gpa = run->mmio.phys_addr;
	mem->inst_len = 0;	/* as on VMX: KVM gives no instruction bytes */
	kv->compl = COMPL_MMIO;
	kv->compl_now = false;
	/* KVM has written a store's registers back before exiting. */
	kv->compl_regs = !run->mmio.is_write;
	if (!run->mmio.is_write) {
		memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		/* RIP is on the instruction.  Unless it only loads (a write
		   or a second fragment may follow, within the same assist
		   on NVMM), the assist completes it at once. */
		if ((e = icache_find(kv, rip, X86_ICACHE_MEM)) != NULL) {
			kv->compl_now = !e->u.mem_readonly;
			return RUN_EXIT;
		}
		n = fetch_insn(kv, rip, insn, sizeof(insn));
		ro = n > 0 && x86_insn_mem_readonly(insn, n,
		    cs_mode(&run->s.regs.sregs));
		kv->compl_now = !ro;
		if (n > 0 && (ne = icache_put(kv, rip, insn, n, 0,
		    X86_ICACHE_MEM)) != NULL)
			ne->u.mem_readonly = ro;
	}
	return RUN_EXIT;
}

/*
 * MSRs NVMM answers itself (nvmm_x86_msr_rule) that KVM's filter sends to
 * us.  Returns true when answered (KVM completes it at the next KVM_RUN).
 */
static bool
msr_internal(struct kvm_vcpu_be *kv)
{
	struct kvm_run *run = kv->run;
	bool rd = run->exit_reason == KVM_EXIT_X86_RDMSR;
	enum nvmm_x86_msr_rule rule = nvmm_x86_msr_rule(run->msr.index);
	KVM_MSRS_BUF(buf, 1);

	if (rule == NVMM_X86_MSR_EXIT)
		return false;
	run->msr.error = 0;
	if (!rd)
		return true;	/* writes are ignored */
	run->msr.data = 0;
	if (rule == NVMM_X86_MSR_ZERO)
		return true;
	memset(&buf, 0, sizeof(buf));
	buf.m.nmsrs = 1;
	buf.m.entries[0].index = run->msr.index;
	if (kvm_ioctl(kv->fd, KVM_GET_MSRS, &buf) != 1)
		run->msr.error = 1;	/* #GP, as without the MSR */
	else
		run->msr.data = nvmm_x86_msr_host(run->msr.index,
		    buf.m.entries[0].data);
	return true;
}

/*
 * An RDMSR/WRMSR for the client.  KVM completes the instruction itself at
 * the next KVM_RUN (writes EDX:EAX from run->msr.data, skips it, or
 * injects #GP on error); NVMM leaves that to the client, with RIP on the
 * instruction.  msr_reconcile() joins the two before the next KVM_RUN.
 */
static int
exit_msr(struct kvm_vcpu_be *kv)
{
	struct kvm_run *run = kv->run;
	struct nvmm_x86_exit *x = &kv->common.exit;
	const struct kvm_regs *r = &run->s.regs.regs;
	const struct x86_icache_entry *e;
	struct x86_icache_entry *ne;
	uint8_t insn[X86_MAX_INSN_LEN], len = 2;
	bool is_write;
	size_t n;

	if (msr_internal(kv))
		return RUN_AGAIN;	/* KVM completes it at the next run */
	if ((e = icache_find(kv, r->rip, X86_ICACHE_MSR)) != NULL) {
		len = e->u.msr_len;
	} else {
		n = fetch_insn(kv, r->rip, insn, sizeof(insn));
		if (n > 0 && x86_decode_msr(insn, n,
		    cs_mode(&run->s.regs.sregs), &len, &is_write) == 0) {
			if ((ne = icache_put(kv, r->rip, insn, len, 0,
			    X86_ICACHE_MSR)) != NULL)
				ne->u.msr_len = len;
		} else {
			len = 2;
		}
	}
	kv->msr_rd = run->exit_reason == KVM_EXIT_X86_RDMSR;
	kv->msr_regs = *r;
	kv->msr_npc = r->rip + len;
	if (kv->msr_rd) {
		x->reason = NVMM_VCPU_EXIT_RDMSR;
		x->u.rdmsr.msr = run->msr.index;
		x->u.rdmsr.npc = kv->msr_npc;
	} else {
		x->reason = NVMM_VCPU_EXIT_WRMSR;
		x->u.wrmsr.msr = run->msr.index;
		x->u.wrmsr.val = run->msr.data;
		x->u.wrmsr.npc = kv->msr_npc;
	}
	kv->compl = COMPL_MSR;
	return RUN_EXIT;
}

/*
 * Before the next KVM_RUN after an MSR exit.  The usual case: the client
 * completed it (RIP = npc, and RAX/RDX for RDMSR); KVM's completion does
 * the same from run->msr.data, so hand it the values and put RIP back on
 * the instruction for KVM to skip: no extra ioctl.  Anything else (RIP
 * left on it to re-execute or to take an injected #GP, or moved
 * elsewhere): let KVM finish now, then restore the registers.
 */
static int
msr_reconcile(struct kvm_vcpu_be *kv)
{
	const uint64_t *g = kv->common.state.gprs;
	struct kvm_run *run = kv->run;
	int ret;

	if ((kv->dirty & NVMM_X64_STATE_GPRS) &&
	    g[NVMM_X64_GPR_RIP] == kv->msr_npc) {
		struct kvm_regs done = kv->msr_regs;

		if (kv->msr_rd)
			run->msr.data = (g[NVMM_X64_GPR_RDX] << 32) |
			    (g[NVMM_X64_GPR_RAX] & 0xffffffffULL);
		run->msr.error = 0;
		kv->compl = COMPL_NONE;
		/* What KVM's completion will make of the registers; if that
		   is all the client changed, nothing needs writing. */
		done.rip = kv->msr_npc;
		if (kv->msr_rd) {
			done.rax = run->msr.data & 0xffffffffULL;
			done.rdx = run->msr.data >> 32;
		}
		if (gprs_unchanged(kv, &done))
			kv->dirty &= ~NVMM_X64_STATE_GPRS;
		else
			kv->msr_fixup = true;
		return 0;
	}
	run->msr.data = 0;
	run->msr.error = 0;
	if ((ret = kvm_complete(kv)) == -1)
		return -1;
	if (ret == 0)
		kv->held = true;	/* KVM had more to say; report it next */
	run->s.regs.regs = kv->msr_regs;
	run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	return 0;
}

static int
exit_hlt(struct kvm_vcpu_be *kv)
{
	kv->common.exit.reason = NVMM_VCPU_EXIT_HALTED;
	/* The guest can take interrupts: the window is not needed. */
	if (kv->run->s.regs.regs.rflags & X86_RFLAGS_IF)
		kv->int_window = false;
	return RUN_EXIT;
}

static int
exit_shutdown(struct kvm_vcpu_be *kv)
{
	kv->common.exit.reason = NVMM_VCPU_EXIT_SHUTDOWN;
	/*
	 * The VMCB is undefined after a shutdown intercept (AMD APM vol 2),
	 * so kvm_amd INITs the VCPU before it exits: the state is gone and
	 * the next KVM_RUN would start at the reset vector.  NVMM keeps a
	 * shut-down VCPU shut down until the client loads a new state
	 * (run_prologue).
	 */
	kv->shutdown = kvm_host == NVMM_KVM_HOST_AMD;
	return RUN_EXIT;
}

static int
exit_int_window(struct kvm_vcpu_be *kv)
{
	if (!kv->int_window)
		return RUN_AGAIN;
	kv->int_window = false;
	kv->common.exit.reason = NVMM_VCPU_EXIT_INT_READY;
	return RUN_EXIT;
}

/* The linear address of RIP. */
static uint64_t
linear_rip(struct kvm_vcpu_be *kv)
{
	const struct kvm_sync_regs *s = &kv->run->s.regs;

	if (sregs_load(kv) == -1 || cs_mode(&s->sregs) == X86_MODE_64)
		return s->regs.rip;
	return (s->sregs.cs.base + s->regs.rip) & 0xffffffffULL;
}

/* A KVM debug exit: NVMM_VCPU_EXIT_DEBUG, our extension. */
static int
exit_debug(struct kvm_vcpu_be *kv)
{
	const struct kvm_debug_exit_arch *d = &kv->run->debug.arch;
	struct nvmm_x86_exit_debug *x = &kv->common.exit.u.dbg;

	if (kv->debug == 0)
		return RUN_AGAIN;	/* armed before debugging was turned off */
	kv->common.exit.reason = NVMM_VCPU_EXIT_DEBUG;
	x->exception = d->exception;
	x->dr6 = d->dr6;
	x->dr7 = d->dr7;
	x->pc = d->pc;
	return RUN_EXIT;
}

/*
 * Where KVM emulates guest CPL0 code (kvm_pvm), an int3 there is an
 * emulation failure at the int3 rather than a debug exit: with software
 * breakpoints on, report it as the debug exit it stands for.
 */
static bool
exit_emulated_int3(struct kvm_vcpu_be *kv)
{
	struct nvmm_x86_exit_debug *x = &kv->common.exit.u.dbg;
	uint8_t b;

	if (!(kv->debug & NVMM_VCPU_DEBUG_SWBP) ||
	    fetch_insn(kv, kv->run->s.regs.regs.rip, &b, 1) != 1 || b != 0xcc)
		return false;
	kv->common.exit.reason = NVMM_VCPU_EXIT_DEBUG;
	x->exception = X86_EXC_BP;
	x->dr6 = 0;
	x->dr7 = 0;
	x->pc = linear_rip(kv);
	return true;
}

/* E.g. an instruction KVM's emulator cannot run. */
static int
exit_internal_error(struct kvm_vcpu_be *kv)
{
	const struct kvm_run *run = kv->run;
	const struct kvm_vcpu_events *ev = &run->s.regs.events;

	kv->common.exit.reason = NVMM_VCPU_EXIT_INVALID;
	kv->common.exit.u.inv.hwcode = run->internal.suberror;
	/*
	 * Without KVM_CAP_EXIT_ON_EMULATION_FAILURE, KVM also queues a #UD
	 * for the guest when its emulator fails at CPL0.  NVMM has no such
	 * event: the VCPU must run the client's next state as it is, not
	 * take a #UD there first.
	 */
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (ev->exception.injected || ev->exception.pending) &&
	    ev->exception.nr == X86_EXC_UD)
		event_drop(kv, true);
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
		exit_emulated_int3(kv);
	return RUN_EXIT;
}

/* Anything NVMM has no exit for. */
static int
exit_invalid(struct kvm_vcpu_be *kv, uint64_t hwcode)
{
	kv->common.exit.reason = NVMM_VCPU_EXIT_INVALID;
	kv->common.exit.u.inv.hwcode = hwcode;
	return RUN_EXIT;
}

/*
 * Turns the KVM exit in kv->run into an NVMM exit: RUN_EXIT when the exit
 * is for the client, RUN_AGAIN when the run must go on, RUN_FAIL on error.
 */
static int
exit_translate(struct kvm_vcpu_be *kv)
{
	struct kvm_run *run = kv->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return exit_io(kv);
	case KVM_EXIT_MMIO:
		return exit_mmio(kv);
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		return exit_msr(kv);
	case KVM_EXIT_HLT:
		return exit_hlt(kv);
	case KVM_EXIT_SHUTDOWN:
		return exit_shutdown(kv);
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return exit_int_window(kv);
	case KVM_EXIT_SET_TPR:
		return RUN_AGAIN;	/* found by tpr_changed() */
	case KVM_EXIT_FAIL_ENTRY:
		return exit_invalid(kv,
		    run->fail_entry.hardware_entry_failure_reason);
	case KVM_EXIT_INTERNAL_ERROR:
		return exit_internal_error(kv);
	case KVM_EXIT_DEBUG:
		return exit_debug(kv);
	default:
		return exit_invalid(kv, NVMM_KVM_HWCODE(run->exit_reason));
	}
}

/* -------------------------------------------------------------------------
 * Run.
 * ------------------------------------------------------------------------- */

/*
 * NVMM exits on every guest CR8 write when asked to; KVM exits (at best)
 * when the TPR is lowered, and not at all when its emulator runs the
 * write.  So compare CR8 with its value at the last exit: if it changed,
 * report TPR_CHANGED and keep the real exit, if any, for the next run.
 */
static bool
tpr_changed(struct kvm_vcpu_be *kv, int ret)
{
	if (!kv->tpr_exit || kv->run->cr8 == kv->tpr_seen)
		return false;
	if (ret == 0 && kv->run->exit_reason != KVM_EXIT_SET_TPR)
		kv->held = true;
	kv->common.exit.reason = NVMM_VCPU_EXIT_TPR_CHANGED;
	return true;
}

/* A stop request, seen: it is consumed by the exit that reports it. */
static int
run_stopped(struct kvm_vcpu_be *kv)
{
	kv->common.exit.reason = NVMM_VCPU_EXIT_STOPPED;
	atomic_store(&kv->common.stop, 0);
	return RUN_EXIT;
}

/*
 * KVM refused the state the client loaded: NVMM's entry failure.  Show
 * the client what KVM really holds.
 */
static int
run_invalid_state(struct kvm_vcpu_be *kv)
{
	struct nvmm_x86_exit *x = &kv->common.exit;

	kv->dirty = 0;
	kv->cached = 0;
	kv->run->kvm_dirty_regs = 0;
	(void)kvm_ioctl(kv->fd, KVM_GET_REGS, &kv->run->s.regs.regs);
	kv->sregs_fresh = kvm_ioctl(kv->fd, KVM_GET_SREGS,
	    &kv->run->s.regs.sregs) == 0;
	(void)kvm_ioctl(kv->fd, KVM_GET_VCPU_EVENTS, &kv->run->s.regs.events);
	kv->run->cr8 = kv->run->s.regs.sregs.cr8;
	x->reason = NVMM_VCPU_EXIT_INVALID;
	x->u.inv.hwcode = ~0ULL;
	return RUN_EXIT;
}

/*
 * KVM still has the last instruction to finish.  After an MSR exit, join
 * the client's completion with KVM's.  After an IO/MMIO exit: if the
 * client changed the registers itself (with or without the assist), let
 * KVM finish first so that the client's values win; otherwise the next
 * KVM_RUN finishes it.
 */
static int
run_finish_previous(struct kvm_vcpu_be *kv)
{
	if (kv->compl == COMPL_MSR)
		return msr_reconcile(kv);
	if (kv->compl == COMPL_NONE || !kv->compl_regs ||
	    !(kv->dirty & NVMM_X64_STATE_GPRS))
		return 0;
	/* Registers read at the exit and written back unchanged before the
	   assist (QEMU's way): KVM's own completion gives what NVMM's assist
	   would.  Registers set after the assist are the client's last word
	   and must win over the completion. */
	if (kv->compl == COMPL_READY && !kv->gprs_after_assist &&
	    gprs_unchanged(kv, &kv->run->s.regs.regs)) {
		kv->dirty &= ~NVMM_X64_STATE_GPRS;
		return 0;
	}
	return kvm_complete(kv) == -1 ? -1 : 0;
}

/* Window exits NVMM would take before any guest instruction. */
static int
run_windows(struct kvm_vcpu_be *kv)
{
	struct nvmm_x86_exit *x = &kv->common.exit;

	if (atomic_load(&kv->common.event_pending))
		return RUN_AGAIN;
	if (kv->int_window && guest_can_take_int(kv)) {
		kv->int_window = false;
		x->reason = NVMM_VCPU_EXIT_INT_READY;
		return RUN_EXIT;
	}
	if (kv->nmi_window && guest_nmi_done(kv)) {
		kv->nmi_window = false;
		x->reason = NVMM_VCPU_EXIT_NMI_READY;
		return RUN_EXIT;
	}
	return RUN_AGAIN;
}

/* Everything before the first KVM_RUN of an nvmm_vcpu_run(). */
static int
run_prologue(struct kvm_vcpu_be *kv)
{
	int ret;

	/* A stop request wins over everything and commits nothing. */
	if (atomic_load(&kv->common.stop))
		return run_stopped(kv);
	/* A VCPU KVM re-initialised at its shutdown stays shut down, as
	   NVMM's does, until the client loads registers of its own. */
	if (kv->shutdown) {
		if (!(kv->dirty & (NVMM_X64_STATE_GPRS | NVMM_X64_STATE_SEGS |
		    NVMM_X64_STATE_CRS))) {
			kv->common.exit.reason = NVMM_VCPU_EXIT_SHUTDOWN;
			return RUN_EXIT;
		}
		kv->shutdown = false;
	}
	/* An exit that came up while completing the previous one. */
	if (kv->held) {
		kv->held = false;
		if ((ret = exit_translate(kv)) != RUN_AGAIN)
			return ret;
	}
	if (run_finish_previous(kv) == -1)
		return RUN_FAIL;
	if (state_flush(kv) == -1)
		return run_invalid_state(kv);
	return run_windows(kv);
}

/*
 * KVM_RUN returned EINTR: a stop, an event, a foreign signal, or KVM
 * looping on an event it cannot deliver (then give up on the event).
 */
static int
run_interrupted(struct kvm_vcpu_be *kv)
{
	struct nvmm_x86_exit *x = &kv->common.exit;

	if (delivery_stuck(kv)) {
		event_drop(kv, false);
		x->reason = NVMM_VCPU_EXIT_INVALID;
		x->u.inv.hwcode = kvm_host == NVMM_KVM_HOST_INTEL ?
		    VMX_EXIT_EPT_MISCONFIG : SVM_EXIT_NPF;
		return RUN_EXIT;
	}
	if (atomic_load(&kv->common.stop))
		return run_stopped(kv);
	if (atomic_load(&kv->common.event_pending))
		return RUN_AGAIN;
	x->reason = NVMM_VCPU_EXIT_NONE;
	return RUN_EXIT;
}

/* One entry into the guest, and what came out of it. */
static int
run_guest(struct kvm_vcpu_be *kv)
{
	int ret;

	/*
	 * Clear immediate_exit, then look at the stop flag: a stop that came
	 * after that load has set immediate_exit again (or will kick the
	 * thread), so KVM_RUN cannot miss it.
	 */
	set_immediate_exit(kv, 0);
	if (atomic_load(&kv->common.stop))
		return run_stopped(kv);
	if (event_take(kv) == -1)
		return RUN_FAIL;	/* EINVAL: the event is dropped */
	kv->run->request_interrupt_window = kv->int_window;
	if (kv->msr_fixup) {
		kv->run->s.regs.regs.rip = kv->msr_regs.rip;
		kv->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		kv->msr_fixup = false;
	}
	ret = kvm_run_once(kv);
	kv->sregs_wanted = false;	/* until this exit reads them */
	kv->compl = COMPL_NONE;
	kv->gprs_after_assist = false;
	kv->ran = true;
	if (ret == -1)
		return (errno == EINVAL || errno == EFAULT) ?
		    run_invalid_state(kv) : RUN_FAIL;
	if (tpr_changed(kv, ret))
		return RUN_EXIT;
	if (ret == 1)
		return run_interrupted(kv);
	return exit_translate(kv);
}

static int
kvm_vcpu_run(struct nvmm_vcpu_priv *v)
{
	struct kvm_vcpu_be *kv = kvcpu(v);
	int ret, err;

	memset(&v->exit, 0, sizeof(v->exit));
	run_enter(kv);
	ret = run_prologue(kv);
	while (ret == RUN_AGAIN)
		ret = run_guest(kv);

	err = errno;
	run_leave(kv);
	exitstate_fill(kv);
	if (ret == RUN_FAIL) {
		errno = err;
		return -1;
	}
	kv->tpr_seen = kv->run->cr8;
	return 0;
}

/* -------------------------------------------------------------------------
 * Assists: hand KVM's data to the callbacks, then let KVM complete.
 * ------------------------------------------------------------------------- */

/* After a completion, an exit KVM raised is kept for the next run. */
static int
assist_finish(struct kvm_vcpu_be *kv)
{
	int ret;

	if (state_flush(kv) == -1)
		return -1;
	ret = kvm_complete(kv);
	if (ret == -1)
		return -1;
	if (ret == 0)
		kv->held = true;
	return 0;
}

static int
kvm_assist_io(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu,
    struct nvmm_vcpu_priv *v)
{
	struct kvm_vcpu_be *kv = kvcpu(v);
	struct kvm_run *run = kv->run;
	struct nvmm_io io;
	uint8_t *data;
	size_t size = run->io.size, count = run->io.count, i;

	if (kv->compl != COMPL_IO || run->exit_reason != KVM_EXIT_IO) {
		errno = EINVAL;
		return -1;
	}
	if ((size != 1 && size != 2 && size != 4) ||
	    run->io.data_offset >= kv->run_size ||
	    count > (kv->run_size - run->io.data_offset) / size) {
		errno = EINVAL;
		return -1;
	}
	data = (uint8_t *)run + run->io.data_offset;
	io.mach = mach;
	io.vcpu = vcpu;
	io.port = run->io.port;
	io.in = run->io.direction == KVM_EXIT_IO_IN;
	io.size = size;
	for (i = 0; i < count; i++) {
		io.data = data + i * size;
		if (io.in)
			memset(io.data, 0, size);
		vcpu->cbs.io(&io);
	}
	kv->compl = COMPL_READY;
	if (kv->compl_now)
		return assist_finish(kv);
	/* If the instruction changes the registers, the next
	   getstate(GPRS) has KVM finish it first. */
	if (kv->compl_regs)
		kv->cached &= ~NVMM_X64_STATE_GPRS | kv->dirty;
	return 0;
}

static int
kvm_assist_mem(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu,
    struct nvmm_vcpu_priv *v)
{
	struct kvm_vcpu_be *kv = kvcpu(v);
	struct kvm_run *run = kv->run;
	struct nvmm_mem mem;
	uint8_t buf[8];
	int frags, ret;

	if (kv->compl != COMPL_MMIO || run->exit_reason != KVM_EXIT_MMIO) {
		errno = EINVAL;
		return -1;
	}
	/* One instruction may need several fragments (read-modify-write,
	   MOVS between two MMIO areas, page splits): NVMM serves them all
	   in one assist. */
	for (frags = 0; ; frags++) {
		if (run->mmio.len == 0 || run->mmio.len > sizeof(buf)) {
			errno = EINVAL;
			return -1;
		}
		mem.mach = mach;
		mem.vcpu = vcpu;
		mem.gpa = run->mmio.phys_addr;
		mem.write = run->mmio.is_write;
		mem.size = run->mmio.len;
		mem.data = buf;
		if (mem.write)
			memcpy(buf, run->mmio.data, mem.size);
		else
			memset(buf, 0, sizeof(buf));
		vcpu->cbs.mem(&mem);
		if (!mem.write)
			memcpy(run->mmio.data, buf, mem.size);

		/*
		 * A write or a plain load: the next KVM_RUN (or getstate of
		 * the registers) finishes it.  Not when the fragment ends on
		 * a page boundary: KVM may have a second one for the same
		 * instruction, which NVMM serves in the same assist.
		 */
		kv->compl = COMPL_READY;
		if ((mem.write || !kv->compl_now) &&
		    ((mem.gpa + mem.size) & (NVMM_PAGE_SIZE - 1)) != 0) {
			if (!mem.write)
				kv->cached &= ~NVMM_X64_STATE_GPRS | kv->dirty;
			return 0;
		}
		if (frags == 0 && state_flush(kv) == -1)
			return -1;
		ret = kvm_complete(kv);
		if (ret == -1)
			return -1;
		if (ret == 1)
			return 0;
		if (run->exit_reason != KVM_EXIT_MMIO ||
		    frags + 1 == MMIO_FRAGS_MAX) {
			kv->held = true;
			return 0;
		}
		kv->compl = COMPL_MMIO;
		kv->compl_now = true;
	}
}

/* -------------------------------------------------------------------------
 * The table.
 * ------------------------------------------------------------------------- */

const struct nvmm_backend nvmm_kvm_x86_64 = {
	.name = "kvm",
	.init = kvm_init,
	.capability = kvm_capability,
	.machine_create = kvm_machine_create,
	.machine_destroy = kvm_machine_destroy,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_conf_max = KVM_VCPU_NCONF,
	.vcpu_conf_sizes = kvm_vcpu_conf_sizes,
	.vcpu_configure = kvm_vcpu_configure,
	.vcpu_getstate = kvm_vcpu_getstate,
	.vcpu_setstate = kvm_vcpu_setstate,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.assist_io = kvm_assist_io,
	.assist_mem = kvm_assist_mem,
	.vcpu_paging = kvm_vcpu_paging,
	.gpa_map = kvm_gpa_map,
	.gpa_unmap = kvm_gpa_unmap,
};
