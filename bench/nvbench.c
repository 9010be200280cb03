/* nvbench.c - libnvmm benchmarks: each measure next to a raw-KVM baseline doing the same work in the same run. */

/*
 * Usage: nvbench MODE [options]        (bench/run.sh drives it; see README)
 *
 *   out       guest OUT loop: nvmm_vcpu_run + nvmm_assist_io vs KVM_RUN
 *   mmio      guest MMIO read loop: nvmm_assist_mem vs KVM_EXIT_MMIO
 *   state     OUT loop with getstate(GPRS) + setstate(GPRS) at every exit
 *   msr       RDMSR 0x1B handled as toyvirt does vs a raw filtered-MSR loop
 *             (-n exits per side, default 100000; -b block, default 1000)
 *   parts     where an exit's time goes: the raw OUT loop with KVM storing
 *             REGS, REGS|EVENTS, REGS|EVENTS|SREGS, with a KVM_GET_SREGS per
 *             exit, and ours, each against the plain raw loop
 *   stop      nvmm_vcpu_stop from another thread vs pthread_kill + a
 *             handler setting immediate_exit (-n kicks per side, 3000)
 *   machines  N machines of 1 VCPU and 2 MiB: create, map, first exit,
 *             destroy (-n machines, 128; -R rounds, 3)
 *   start     fork+exec to the first guest console line: toyvirt vs
 *             raw_boot (and QEMU microvm with -Q); -n runs each (31)
 *   rss       resident memory of toyvirt (and raw_boot) running the kernel
 *   qemuio    QEMU's exit loop: a port-I/O guest under -Q QEMU with -accel
 *             nvmm vs -accel kvm (-n runs each, 5; -b bursts per run, 50)
 *
 *   start and rss take -t TOYVIRT -r RAW_BOOT -k KERNEL [-Q QEMU].
 *
 * Output: one line per result, for bench/run.sh to tabulate:
 *   RESULT key ours_p50 ours_p99 ours_n base_p50 base_p99 base_n unit
 *   SKIP key reason...
 *   INFO free text
 * Times are in microseconds (or ms for start, KiB for rss).  A sample is
 * the time from one return of nvmm_vcpu_run/KVM_RUN to the next, the
 * handling of the exit included.  Ours and the baseline run in alternate
 * blocks (ABBA) in the same process so that machine noise hits both.
 */

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <linux/kvm.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nvmm.h>

/* -------------------------------------------------------------------------
 * Small helpers: errors, time, statistics.
 * ------------------------------------------------------------------------- */

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	fprintf(stderr, "nvbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (errno %d: %s)\n", e, strerror(e));
	exit(1);
}

static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ULL),
	    (long)(ns % 1000000000ULL) };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		continue;
}

static uint64_t *
samples_alloc(size_t n)
{
	uint64_t *s = calloc(n > 0 ? n : 1, sizeof(*s));

	if (s == NULL)
		die("out of memory");
	return s;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t
pct(const uint64_t *s, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(p * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return s[k - 1];
}

/* Sorts both sample sets and prints the RESULT line; div scales ns. */
static void
report(const char *key, uint64_t *ours, size_t no, uint64_t *base,
    size_t nb, double div, const char *unit)
{
	qsort(ours, no, sizeof(*ours), cmp_u64);
	qsort(base, nb, sizeof(*base), cmp_u64);
	printf("RESULT %s %.3f %.3f %zu %.3f %.3f %zu %s\n", key,
	    (double)pct(ours, no, 0.5) / div, (double)pct(ours, no, 0.99) / div,
	    no, (double)pct(base, nb, 0.5) / div,
	    (double)pct(base, nb, 0.99) / div, nb, unit);
	fflush(stdout);
}

/* -------------------------------------------------------------------------
 * The guest, identical on both sides: 64-bit long mode at CPL0, RAM at
 * GPA 0, the first 1 GiB identity-mapped with 2 MiB pages, a flat GDT,
 * code at CODE_GPA.  Nothing is mapped at MMIO_GPA.
 * ------------------------------------------------------------------------- */

#define PML4_GPA	0x1000ULL	/* PML4, PDPT, PD: 3 pages */
#define GDT_GPA		0x5000ULL
#define STACK_GPA	0xf000ULL
#define CODE_GPA	0x10000ULL
#define MMIO_GPA	0x20000000ULL	/* 512 MiB: no memory there */
#define LOOP_RAM	(4ULL << 20)
#define MACH_RAM	(2ULL << 20)

#define IO_PORT		0x10
#define MSR_APICBASE	0x1b
#define APICBASE_VALUE	0xfee00900ULL
#define MMIO_VALUE	0xcafebabeU

struct guest_code {
	const uint8_t *bytes;
	size_t len;
};

/* 1: out %al,$0x10; jmp 1b */
static const uint8_t code_out[] = { 0xe6, IO_PORT, 0xeb, 0xfc };
/* mov $0x20000000,%ebx; 1: mov (%rbx),%eax; jmp 1b */
static const uint8_t code_mmio[] = { 0xbb, 0x00, 0x00, 0x00, 0x20,
	0x8b, 0x03, 0xeb, 0xfc };
/* mov $0x1b,%ecx; 1: rdmsr; jmp 1b */
static const uint8_t code_msr[] = { 0xb9, MSR_APICBASE, 0x00, 0x00, 0x00,
	0x0f, 0x32, 0xeb, 0xfc };
/* 1: jmp 1b */
static const uint8_t code_spin[] = { 0xeb, 0xfe };

#define CODE(a)	((struct guest_code){ (a), sizeof(a) })

/* Page tables, GDT and code in fresh guest RAM. */
static void
guest_image(uint8_t *ram, size_t ram_size, struct guest_code code)
{
	uint64_t *pml4 = (uint64_t *)(void *)(ram + PML4_GPA);
	uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024;
	uint64_t *gdt = (uint64_t *)(void *)(ram + GDT_GPA);
	int i;

	if (CODE_GPA + code.len > ram_size)
		die("guest code does not fit");
	pml4[0] = (PML4_GPA + 0x1000) | 0x3;		/* P RW */
	pdpt[0] = (PML4_GPA + 0x2000) | 0x3;
	for (i = 0; i < 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;	/* P RW PS */
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffULL;			/* 0x08: 64-bit code */
	gdt[2] = 0x00cf93000000ffffULL;			/* 0x10: data */
	memcpy(ram + CODE_GPA, code.bytes, code.len);
}

#define GUEST_CR0	0x80050033ULL	/* PG WP NE ET MP PE */
#define GUEST_CR4	0x620ULL	/* OSXMMEXCPT OSFXSR PAE */
#define GUEST_EFER	0x500ULL	/* LMA LME */

static void *
ram_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap guest RAM");
	return p;
}

/* -------------------------------------------------------------------------
 * The baseline: the same machine with raw KVM ioctls.  It does what a
 * minimal VMM for this guest must do, like bench/raw_boot: no irqchip,
 * the hypercall-patching quirk off, RDMSR 0x1B sent to user space by an
 * MSR filter, CPUID from KVM_GET_SUPPORTED_CPUID.
 * ------------------------------------------------------------------------- */

static int kvm_fd = -1;
static size_t raw_run_size;
static struct kvm_cpuid2 *raw_cpuid;

struct rawvm {
	int vm, vcpu;
	struct kvm_run *run;
	uint8_t *ram;
	size_t ram_size;
	bool get_sregs;		/* parts: a KVM_GET_SREGS at every exit */
};

/* Once per process, like nvmm_init(): /dev/kvm and the CPUID table. */
static void
raw_init(void)
{
	struct kvm_cpuid2 *c = NULL;
	unsigned n, i;
	int sz;

	if (kvm_fd != -1)
		return;
	if ((kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)) == -1)
		die("/dev/kvm");
	if ((sz = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0)) <
	    (int)sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE");
	raw_run_size = (size_t)sz;
	for (n = 64; ; n *= 2) {
		free(c);
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (c == NULL)
			die("out of memory");
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG || n >= 4096)
			die("KVM_GET_SUPPORTED_CPUID");
	}
	/* KVM fills in the APIC ID of the host CPU; the VCPU's is 0. */
	for (i = 0; i < c->nent; i++) {
		if (c->entries[i].function == 1)
			c->entries[i].ebx &= 0x00ffffff;
		if (c->entries[i].function == 0xb ||
		    c->entries[i].function == 0x1f)
			c->entries[i].edx = 0;
	}
	raw_cpuid = c;
}

static void
raw_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t sbit,
    uint8_t l, uint8_t db, uint32_t limit, uint8_t g)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = limit;
	s->type = type;
	s->present = 1;
	s->s = sbit;
	s->l = l;
	s->db = db;
	s->g = g;
}

static void
raw_create(struct rawvm *r, size_t ram_size, struct guest_code code)
{
	struct kvm_userspace_memory_region region;
	struct kvm_msr_filter filter;
	struct kvm_enable_cap cap;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	static uint8_t deny;	/* bit 0 clear: MSR 0x1B read denied */

	memset(r, 0, sizeof(*r));
	if ((r->vm = ioctl(kvm_fd, KVM_CREATE_VM, 0)) == -1)
		die("KVM_CREATE_VM");
	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_DISABLE_QUIRKS2;
	cap.args[0] = KVM_X86_QUIRK_FIX_HYPERCALL_INSN;
	if (ioctl(r->vm, KVM_ENABLE_CAP, &cap) == -1)
		die("KVM_ENABLE_CAP(DISABLE_QUIRKS2)");
	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
	cap.args[0] = KVM_MSR_EXIT_REASON_FILTER;
	if (ioctl(r->vm, KVM_ENABLE_CAP, &cap) == -1)
		die("KVM_ENABLE_CAP(X86_USER_SPACE_MSR)");
	memset(&filter, 0, sizeof(filter));
	filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
	filter.ranges[0].flags = KVM_MSR_FILTER_READ;
	filter.ranges[0].nmsrs = 1;
	filter.ranges[0].base = MSR_APICBASE;
	filter.ranges[0].bitmap = &deny;
	if (ioctl(r->vm, KVM_X86_SET_MSR_FILTER, &filter) == -1)
		die("KVM_X86_SET_MSR_FILTER");

	r->ram_size = ram_size;
	r->ram = ram_alloc(ram_size);
	guest_image(r->ram, ram_size, code);
	memset(&region, 0, sizeof(region));
	region.memory_size = ram_size;
	region.userspace_addr = (uint64_t)(uintptr_t)r->ram;
	if (ioctl(r->vm, KVM_SET_USER_MEMORY_REGION, &region) == -1)
		die("KVM_SET_USER_MEMORY_REGION");

	if ((r->vcpu = ioctl(r->vm, KVM_CREATE_VCPU, 0)) == -1)
		die("KVM_CREATE_VCPU");
	r->run = mmap(NULL, raw_run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    r->vcpu, 0);
	if (r->run == MAP_FAILED)
		die("mmap kvm_run");
	if (ioctl(r->vcpu, KVM_SET_CPUID2, raw_cpuid) == -1)
		die("KVM_SET_CPUID2");

	if (ioctl(r->vcpu, KVM_GET_SREGS, &sregs) == -1)
		die("KVM_GET_SREGS");
	raw_seg(&sregs.cs, 0x08, 11, 1, 1, 0, 0xffffffff, 1);
	raw_seg(&sregs.ds, 0x10, 3, 1, 0, 1, 0xffffffff, 1);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	raw_seg(&sregs.ldt, 0, 2, 0, 0, 0, 0xffff, 0);
	raw_seg(&sregs.tr, 0, 11, 0, 0, 0, 0xffff, 0);
	sregs.gdt.base = GDT_GPA;
	sregs.gdt.limit = 23;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = GUEST_CR0;
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = GUEST_CR4;
	sregs.efer = GUEST_EFER;
	if (ioctl(r->vcpu, KVM_SET_SREGS, &sregs) == -1)
		die("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rsp = STACK_GPA;
	regs.rflags = 0x2;
	if (ioctl(r->vcpu, KVM_SET_REGS, &regs) == -1)
		die("KVM_SET_REGS");
}

static void
raw_destroy(struct rawvm *r)
{
	munmap(r->run, raw_run_size);
	close(r->vcpu);
	close(r->vm);
	munmap(r->ram, r->ram_size);
}

/* One KVM_RUN that must end in the given exit. */
static void
raw_run_expect(struct rawvm *r, uint32_t reason)
{
	if (ioctl(r->vcpu, KVM_RUN, 0) == -1)
		die("KVM_RUN");
	if (r->run->exit_reason != reason)
		die("raw: exit reason %u, expected %u", r->run->exit_reason,
		    reason);
}

/* -------------------------------------------------------------------------
 * Ours: the same machine through libnvmm.
 * ------------------------------------------------------------------------- */

struct ourvm {
	struct nvmm_machine mach;
	struct nvmm_vcpu vcpu;
	uint8_t *ram;
	size_t ram_size;
};

static volatile uint8_t io_sink;

static void
cb_io(struct nvmm_io *io)
{
	if (!io->in && io->size > 0)
		io_sink = io->data[0];
}

static void
cb_mem(struct nvmm_mem *mem)
{
	uint64_t v = MMIO_VALUE;

	if (!mem->write && mem->size <= sizeof(v))
		memcpy(mem->data, &v, mem->size);
}

static void
nvseg(struct nvmm_x64_state_seg *s, uint16_t sel, unsigned type,
    unsigned sbit, unsigned l, unsigned def, uint32_t limit, unsigned g)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = limit;
	s->attrib.type = type;
	s->attrib.s = sbit;
	s->attrib.p = 1;
	s->attrib.l = l;
	s->attrib.def = def;
	s->attrib.g = g;
}

/* Returns -1 with errno when machine creation fails (ENOBUFS: no id). */
static int
our_create(struct ourvm *o, size_t ram_size, struct guest_code code)
{
	struct nvmm_assist_callbacks cbs = { .io = cb_io, .mem = cb_mem };
	struct nvmm_x64_state *st;
	int i;

	memset(o, 0, sizeof(*o));
	if (nvmm_machine_create(&o->mach) == -1)
		return -1;
	o->ram_size = ram_size;
	o->ram = ram_alloc(ram_size);
	if (nvmm_hva_map(&o->mach, (uintptr_t)o->ram, ram_size) == -1)
		die("nvmm_hva_map");
	guest_image(o->ram, ram_size, code);
	if (nvmm_gpa_map(&o->mach, (uintptr_t)o->ram, 0, ram_size,
	    PROT_READ | PROT_WRITE | PROT_EXEC) == -1)
		die("nvmm_gpa_map");
	if (nvmm_vcpu_create(&o->mach, 0, &o->vcpu) == -1)
		die("nvmm_vcpu_create");
	if (nvmm_vcpu_configure(&o->mach, &o->vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    &cbs) == -1)
		die("nvmm_vcpu_configure");

	/* Only what this guest needs, as a careful VMM would. */
	st = o->vcpu.state;
	if (nvmm_vcpu_getstate(&o->mach, &o->vcpu, NVMM_X64_STATE_SEGS |
	    NVMM_X64_STATE_GPRS | NVMM_X64_STATE_CRS | NVMM_X64_STATE_MSRS) ==
	    -1)
		die("nvmm_vcpu_getstate");
	nvseg(&st->segs[NVMM_X64_SEG_CS], 0x08, 11, 1, 1, 0, 0xffffffff, 1);
	for (i = 0; i < NVMM_X64_SEG_GDT; i++) {
		if (i != NVMM_X64_SEG_CS)
			nvseg(&st->segs[i], 0x10, 3, 1, 0, 1, 0xffffffff, 1);
	}
	memset(&st->segs[NVMM_X64_SEG_GDT], 0, sizeof(st->segs[0]));
	st->segs[NVMM_X64_SEG_GDT].base = GDT_GPA;
	st->segs[NVMM_X64_SEG_GDT].limit = 23;
	memset(&st->segs[NVMM_X64_SEG_IDT], 0, sizeof(st->segs[0]));
	nvseg(&st->segs[NVMM_X64_SEG_LDT], 0, 2, 0, 0, 0, 0xffff, 0);
	nvseg(&st->segs[NVMM_X64_SEG_TR], 0, 11, 0, 0, 0, 0xffff, 0);
	st->crs[NVMM_X64_CR_CR0] = GUEST_CR0;
	st->crs[NVMM_X64_CR_CR3] = PML4_GPA;
	st->crs[NVMM_X64_CR_CR4] = GUEST_CR4;
	st->msrs[NVMM_X64_MSR_EFER] = GUEST_EFER;
	st->gprs[NVMM_X64_GPR_RIP] = CODE_GPA;
	st->gprs[NVMM_X64_GPR_RSP] = STACK_GPA;
	st->gprs[NVMM_X64_GPR_RFLAGS] = 0x2;
	if (nvmm_vcpu_setstate(&o->mach, &o->vcpu, NVMM_X64_STATE_SEGS |
	    NVMM_X64_STATE_GPRS | NVMM_X64_STATE_CRS | NVMM_X64_STATE_MSRS) ==
	    -1)
		die("nvmm_vcpu_setstate");
	return 0;
}

static void
our_destroy(struct ourvm *o)
{
	if (nvmm_machine_destroy(&o->mach) == -1)
		die("nvmm_machine_destroy");
	munmap(o->ram, o->ram_size);
}

static void
our_run_expect(struct ourvm *o, uint64_t reason)
{
	if (nvmm_vcpu_run(&o->mach, &o->vcpu) == -1)
		die("nvmm_vcpu_run");
	if (o->vcpu.exit->reason != reason)
		die("ours: exit reason %#llx, expected %#llx",
		    (unsigned long long)o->vcpu.exit->reason,
		    (unsigned long long)reason);
}

static void
our_init(void)
{
	if (nvmm_init() == -1)
		die("nvmm_init");
}

/* -------------------------------------------------------------------------
 * Exit loops: out, mmio, state, msr.
 * ------------------------------------------------------------------------- */

enum loop { LOOP_OUT, LOOP_MMIO, LOOP_STATE, LOOP_MSR };

/* The handling of one exit, ours. */
static inline void
our_handle(struct ourvm *o, enum loop l)
{
	struct nvmm_vcpu *v = &o->vcpu;
	struct nvmm_x64_state *st = v->state;

	switch (l) {
	case LOOP_OUT:
		if (v->exit->reason != NVMM_VCPU_EXIT_IO ||
		    nvmm_assist_io(&o->mach, v) == -1)
			die("ours: IO exit/assist (reason %#llx)",
			    (unsigned long long)v->exit->reason);
		break;
	case LOOP_MMIO:
		if (v->exit->reason != NVMM_VCPU_EXIT_MEMORY ||
		    nvmm_assist_mem(&o->mach, v) == -1)
			die("ours: MEMORY exit/assist (reason %#llx)",
			    (unsigned long long)v->exit->reason);
		break;
	case LOOP_STATE:
		if (v->exit->reason != NVMM_VCPU_EXIT_IO ||
		    nvmm_vcpu_getstate(&o->mach, v, NVMM_X64_STATE_GPRS) == -1 ||
		    nvmm_vcpu_setstate(&o->mach, v, NVMM_X64_STATE_GPRS) == -1 ||
		    nvmm_assist_io(&o->mach, v) == -1)
			die("ours: IO exit with state (reason %#llx)",
			    (unsigned long long)v->exit->reason);
		break;
	case LOOP_MSR:
		/* As toyvirt's msr_complete(). */
		if (v->exit->reason != NVMM_VCPU_EXIT_RDMSR ||
		    v->exit->u.rdmsr.msr != MSR_APICBASE ||
		    nvmm_vcpu_getstate(&o->mach, v, NVMM_X64_STATE_GPRS) == -1)
			die("ours: RDMSR exit (reason %#llx)",
			    (unsigned long long)v->exit->reason);
		st->gprs[NVMM_X64_GPR_RAX] = APICBASE_VALUE & 0xffffffffULL;
		st->gprs[NVMM_X64_GPR_RDX] = APICBASE_VALUE >> 32;
		st->gprs[NVMM_X64_GPR_RIP] = v->exit->u.rdmsr.npc;
		if (nvmm_vcpu_setstate(&o->mach, v, NVMM_X64_STATE_GPRS) == -1)
			die("nvmm_vcpu_setstate");
		break;
	}
}

/* The handling of one exit, raw: what a VMM must do for KVM. */
static inline void
raw_handle(struct rawvm *r, enum loop l)
{
	struct kvm_run *run = r->run;
	uint32_t v = MMIO_VALUE;

	switch (l) {
	case LOOP_OUT:
	case LOOP_STATE:
		if (run->exit_reason != KVM_EXIT_IO ||
		    run->io.data_offset >= raw_run_size)
			die("raw: exit reason %u", run->exit_reason);
		io_sink = *((uint8_t *)run + run->io.data_offset);
		break;
	case LOOP_MMIO:
		if (run->exit_reason != KVM_EXIT_MMIO || run->mmio.len > 8)
			die("raw: exit reason %u", run->exit_reason);
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		memcpy(run->mmio.data, &v, run->mmio.len < 4 ?
		    run->mmio.len : 4);
		break;
	case LOOP_MSR:
		if (run->exit_reason != KVM_EXIT_X86_RDMSR ||
		    run->msr.index != MSR_APICBASE)
			die("raw: exit reason %u", run->exit_reason);
		run->msr.data = APICBASE_VALUE;
		run->msr.error = 0;
		break;
	}
}

/* n samples: n + 1 runs, the handling of each exit included. */
static void
our_block(struct ourvm *o, enum loop l, uint64_t *s, size_t n)
{
	uint64_t prev = 0, t;
	size_t i;

	for (i = 0; i <= n; i++) {
		if (nvmm_vcpu_run(&o->mach, &o->vcpu) == -1)
			die("nvmm_vcpu_run");
		t = now_ns();
		if (i > 0)
			s[i - 1] = t - prev;
		prev = t;
		our_handle(o, l);
	}
}

static void
raw_block(struct rawvm *r, enum loop l, uint64_t *s, size_t n)
{
	struct kvm_sregs sregs;
	uint64_t prev = 0, t;
	size_t i;

	for (i = 0; i <= n; i++) {
		if (ioctl(r->vcpu, KVM_RUN, 0) == -1)
			die("KVM_RUN");
		t = now_ns();
		if (i > 0)
			s[i - 1] = t - prev;
		prev = t;
		if (r->get_sregs && ioctl(r->vcpu, KVM_GET_SREGS, &sregs) == -1)
			die("KVM_GET_SREGS");
		raw_handle(r, l);
	}
}

static void
bench_loop(const char *key, enum loop l, size_t n, size_t block)
{
	struct guest_code code;
	struct ourvm o;
	struct rawvm r;
	uint64_t *so, *sr, warm[64];
	size_t done, k, b;

	code = l == LOOP_MMIO ? CODE(code_mmio) : l == LOOP_MSR ?
	    CODE(code_msr) : CODE(code_out);
	our_init();
	raw_init();
	if (our_create(&o, LOOP_RAM, code) == -1)
		die("nvmm_machine_create");
	raw_create(&r, LOOP_RAM, code);
	so = samples_alloc(n);
	sr = samples_alloc(n);

	/* Warm-up, not counted: first entries, page faults, caches. */
	our_block(&o, l, warm, 64);
	raw_block(&r, l, warm, 64);

	for (done = 0, k = 0; done < n; done += b, k++) {
		b = n - done < block ? n - done : block;
		if (k % 2 == 0) {
			our_block(&o, l, so + done, b);
			raw_block(&r, l, sr + done, b);
		} else {
			raw_block(&r, l, sr + done, b);
			our_block(&o, l, so + done, b);
		}
	}
	report(key, so, n, sr, n, 1000.0, "us");
	our_destroy(&o);
	raw_destroy(&r);
	free(so);
	free(sr);
}

/* -------------------------------------------------------------------------
 * Where an exit's time goes (parts): the raw OUT loop with each piece of
 * work the library may add, side by side with the plain raw loop and
 * with ours.  Every variant runs a block in turn, the order rotating.
 * ------------------------------------------------------------------------- */

struct part {
	const char *key;	/* RESULT key; the baseline is "plain" */
	uint32_t valid;		/* kvm_valid_regs: what KVM stores at exits */
	bool get_sregs;		/* a KVM_GET_SREGS ioctl at every exit */
	bool ours;		/* libnvmm's OUT loop instead of a raw one */
};

static const struct part parts[] = {
	{ "plain", 0, false, false },
	{ "part_sync_regs", KVM_SYNC_X86_REGS, false, false },
	{ "part_sync_regs_events", KVM_SYNC_X86_REGS | KVM_SYNC_X86_EVENTS,
	    false, false },
	{ "part_sync_all", KVM_SYNC_X86_REGS | KVM_SYNC_X86_EVENTS |
	    KVM_SYNC_X86_SREGS, false, false },
	{ "part_get_sregs_ioctl", 0, true, false },
	{ "part_ours", 0, false, true },
};
#define NPARTS	(sizeof(parts) / sizeof(parts[0]))

static void
part_block(const struct part *p, struct rawvm *r, struct ourvm *o,
    uint64_t *s, size_t n)
{
	if (p->ours) {
		our_block(o, LOOP_OUT, s, n);
		return;
	}
	r->run->kvm_valid_regs = p->valid;
	r->get_sregs = p->get_sregs;
	raw_block(r, LOOP_OUT, s, n);
}

static void
bench_parts(size_t n, size_t block)
{
	struct rawvm r[NPARTS];
	struct ourvm o;
	uint64_t *s[NPARTS], warm[64];
	size_t done, k, b, i, j;

	our_init();
	raw_init();
	if (our_create(&o, LOOP_RAM, CODE(code_out)) == -1)
		die("nvmm_machine_create");
	for (i = 0; i < NPARTS; i++) {
		if (!parts[i].ours)
			raw_create(&r[i], LOOP_RAM, CODE(code_out));
		s[i] = samples_alloc(n);
		part_block(&parts[i], &r[i], &o, warm, 64);
	}
	for (done = 0, k = 0; done < n; done += b, k++) {
		b = n - done < block ? n - done : block;
		for (j = 0; j < NPARTS; j++) {
			i = (j + k) % NPARTS;
			part_block(&parts[i], &r[i], &o, s[i] + done, b);
		}
	}
	for (i = 1; i < NPARTS; i++) {
		report(parts[i].key, s[i], n, s[0], n, 1000.0, "us");
		if (!parts[i].ours)
			raw_destroy(&r[i]);
	}
	raw_destroy(&r[0]);
	our_destroy(&o);
	for (i = 0; i < NPARTS; i++)
		free(s[i]);
}

/* -------------------------------------------------------------------------
 * Stop latency: another thread kicks the VCPU thread while the guest
 * spins.  Latency = the kicker's clock before nvmm_vcpu_stop() (or
 * pthread_kill()) to the VCPU thread's clock after the run returned.
 * ------------------------------------------------------------------------- */

enum { KICK_IDLE, KICK_OURS, KICK_RAW, KICK_DONE, KICK_QUIT };

static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kick_cond = PTHREAD_COND_INITIALIZER;
static int kick_phase;
static uint64_t kick_t;
static pthread_t vcpu_thread;
static struct ourvm *kick_ours;
static struct kvm_run *volatile kick_raw_run;

/* The baseline's kick handler: KVM_RUN returns EINTR. */
static void
raw_kick_handler(int sig)
{
	(void)sig;
	if (kick_raw_run != NULL)
		kick_raw_run->immediate_exit = 1;
}

static void
kick_set(int phase)
{
	pthread_mutex_lock(&kick_lock);
	kick_phase = phase;
	pthread_cond_broadcast(&kick_cond);
	pthread_mutex_unlock(&kick_lock);
}

static void *
kicker(void *arg)
{
	unsigned seed = 12345;
	uint64_t t;
	int phase;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&kick_lock);
		while (kick_phase != KICK_OURS && kick_phase != KICK_RAW &&
		    kick_phase != KICK_QUIT)
			pthread_cond_wait(&kick_cond, &kick_lock);
		phase = kick_phase;
		pthread_mutex_unlock(&kick_lock);
		if (phase == KICK_QUIT)
			return NULL;
		/* Let the VCPU get well inside KVM_RUN: 150 to 400 us. */
		sleep_ns(150000 + (uint64_t)(rand_r(&seed) % 250) * 1000);
		t = now_ns();
		if (phase == KICK_OURS) {
			if (nvmm_vcpu_stop(&kick_ours->vcpu) == -1)
				die("nvmm_vcpu_stop");
		} else {
			pthread_kill(vcpu_thread, SIGUSR1);
		}
		pthread_mutex_lock(&kick_lock);
		kick_t = t;
		kick_phase = KICK_DONE;
		pthread_cond_broadcast(&kick_cond);
		pthread_mutex_unlock(&kick_lock);
	}
}

/* Waits for the kicker to finish its call; returns its time stamp. */
static uint64_t
kick_wait(void)
{
	uint64_t t;

	pthread_mutex_lock(&kick_lock);
	while (kick_phase != KICK_DONE)
		pthread_cond_wait(&kick_cond, &kick_lock);
	t = kick_t;
	kick_phase = KICK_IDLE;
	pthread_mutex_unlock(&kick_lock);
	return t;
}

static uint64_t
stop_ours_once(struct ourvm *o)
{
	uint64_t t;

	kick_set(KICK_OURS);
	if (nvmm_vcpu_run(&o->mach, &o->vcpu) == -1)
		die("nvmm_vcpu_run");
	t = now_ns();
	if (o->vcpu.exit->reason != NVMM_VCPU_EXIT_STOPPED)
		die("ours: exit reason %#llx, expected STOPPED",
		    (unsigned long long)o->vcpu.exit->reason);
	return t - kick_wait();
}

static uint64_t
stop_raw_once(struct rawvm *r)
{
	uint64_t t;
	int ret;

	kick_set(KICK_RAW);
	ret = ioctl(r->vcpu, KVM_RUN, 0);
	t = now_ns();
	if (ret != -1 || errno != EINTR)
		die("raw: KVM_RUN returned %d, exit reason %u, not EINTR", ret,
		    r->run->exit_reason);
	r->run->immediate_exit = 0;
	return t - kick_wait();
}

static void
bench_stop(size_t n, size_t block)
{
	struct sigaction sa;
	struct ourvm o;
	struct rawvm r;
	pthread_t tid;
	sigset_t set;
	uint64_t *so, *sr;
	size_t i, j, k, done, b;

	our_init();
	raw_init();
	if (our_create(&o, LOOP_RAM, CODE(code_spin)) == -1)
		die("nvmm_machine_create");
	raw_create(&r, LOOP_RAM, CODE(code_spin));
	kick_ours = &o;
	kick_raw_run = r.run;
	so = samples_alloc(n);
	sr = samples_alloc(n);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = raw_kick_handler;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) == -1)
		die("sigaction");
	vcpu_thread = pthread_self();
	/* The kicker starts with SIGUSR1 blocked: only we take it. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((errno = pthread_create(&tid, NULL, kicker, NULL)) != 0)
		die("pthread_create");
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	for (i = 0; i < 10; i++) {	/* warm-up */
		(void)stop_ours_once(&o);
		(void)stop_raw_once(&r);
	}
	/* Blocks in ABBA order: ours, raw, raw, ours, ... */
	for (done = 0, k = 0; done < n; done += b, k++) {
		b = n - done < block ? n - done : block;
		for (j = 0; j < 2; j++) {
			for (i = 0; i < b; i++) {
				if ((j + k) % 2 == 0)
					so[done + i] = stop_ours_once(&o);
				else
					sr[done + i] = stop_raw_once(&r);
			}
		}
	}
	kick_set(KICK_QUIT);
	pthread_join(tid, NULL);
	report("stop", so, n, sr, n, 1000.0, "us");
	our_destroy(&o);
	raw_destroy(&r);
	free(so);
	free(sr);
}

/* -------------------------------------------------------------------------
 * Machines: n machines alive at once, each created, mapped, run to its
 * first exit; then all destroyed.  A sample is one machine's create ...
 * first exit time plus its destroy time.  Ours and raw alternate machine
 * by machine.  If the machine ids run out (ENOBUFS: other processes hold
 * some), each machine is destroyed right after its first exit instead.
 * ------------------------------------------------------------------------- */

/* Brings machine up to its first exit; -1 when ours ran out of ids. */
static int
mach_up(int ours, struct ourvm *o, struct rawvm *r, uint64_t *ns)
{
	uint64_t t0 = now_ns();

	if (ours) {
		if (our_create(o, MACH_RAM, CODE(code_out)) == -1) {
			if (errno == ENOBUFS)
				return -1;
			die("nvmm_machine_create");
		}
		our_run_expect(o, NVMM_VCPU_EXIT_IO);
	} else {
		raw_create(r, MACH_RAM, CODE(code_out));
		raw_run_expect(r, KVM_EXIT_IO);
	}
	*ns += now_ns() - t0;
	return 0;
}

static void
mach_down(int ours, struct ourvm *o, struct rawvm *r, uint64_t *ns)
{
	uint64_t t0 = now_ns();

	if (ours)
		our_destroy(o);
	else
		raw_destroy(r);
	*ns += now_ns() - t0;
}

static void
bench_machines(size_t n, size_t rounds)
{
	struct ourvm *o = calloc(n, sizeof(*o));
	struct rawvm *r = calloc(n, sizeof(*r));
	uint64_t *so = samples_alloc(n * rounds), *sr = samples_alloc(n * rounds);
	uint64_t *s;
	size_t i, j, k, x;
	bool cycle = false;
	int ours;

	if (o == NULL || r == NULL)
		die("out of memory");
	our_init();
	raw_init();

	for (k = 0; k < rounds; k++) {
		memset(&so[k * n], 0, n * sizeof(*so));
		memset(&sr[k * n], 0, n * sizeof(*sr));
		for (i = 0; i < n; i++) {
			for (j = 0; j < 2; j++) {
				ours = (i + j + k) % 2 == 0;
				s = ours ? &so[k * n + i] : &sr[k * n + i];
				if (mach_up(ours, &o[i], &r[i], s) == -1) {
					if (cycle)
						die("nvmm_machine_create");
					printf("INFO machines: machine ids ran "
					    "out with %zu alive; cycling\n", i);
					for (x = 0; x < i; x++) {
						our_destroy(&o[x]);
						raw_destroy(&r[x]);
					}
					if (j == 1)	/* raw went first */
						raw_destroy(&r[i]);
					cycle = true;
					goto restart;
				}
				if (cycle)
					mach_down(ours, &o[i], &r[i], s);
			}
		}
		if (!cycle) {
			for (i = 0; i < n; i++) {
				for (j = 0; j < 2; j++) {
					ours = (i + j + k) % 2 == 0;
					s = ours ? &so[k * n + i] :
					    &sr[k * n + i];
					mach_down(ours, &o[i], &r[i], s);
				}
			}
		}
		continue;
restart:
		k--;	/* wraps at round 0; the loop's k++ brings it back */
	}
	printf("INFO machines: %zu machines per round, %s, %zu rounds\n", n,
	    cycle ? "one at a time" : "all alive at once", rounds);
	report("machines", so, n * rounds, sr, n * rounds, 1000.0, "us");
	free(o);
	free(r);
	free(so);
	free(sr);
}

/* -------------------------------------------------------------------------
 * Start-up: fork + exec, stdout on a pipe, until the first guest line.
 * toyvirt and raw_boot line-buffer stdout and print each guest line as
 * "mach>" TAB text, so "mach>" reaches the pipe when the guest's first
 * line is complete.  QEMU's debugcon writes every byte at once: for it
 * the end point is the first newline (the same guest progress); its first
 * byte is reported as INFO.
 * ------------------------------------------------------------------------- */

struct prog {
	const char *name;
	char *const *argv;
	const char *marker;	/* end point: this string on stdout */
};

/* Starts the program with stdout on a pipe; *t0 is the time before fork. */
static pid_t
spawn(const struct prog *p, int *outfd, uint64_t *t0)
{
	pid_t pid;
	int fd[2], null;

	if (pipe2(fd, O_CLOEXEC) == -1)
		die("pipe");
	*t0 = now_ns();
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		null = open("/dev/null", O_RDWR);
		if (null == -1 || dup2(fd[1], 1) == -1 || dup2(null, 0) == -1 ||
		    dup2(null, 2) == -1)
			_exit(127);
		execv(p->argv[0], p->argv);
		_exit(127);
	}
	close(fd[1]);
	*outfd = fd[0];
	return pid;
}

/* Reads until the marker; returns its arrival time, *first the first
   byte's (both absolute, ns); 0 when the output ended without it. */
static uint64_t
read_until(const struct prog *p, int fd, uint64_t *first)
{
	static char buf[65536];
	size_t len = 0;
	ssize_t n;

	*first = 0;
	for (;;) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) == sizeof(buf) - 1)
			break;
		if (*first == 0)
			*first = now_ns();
		buf[len] = '\0';
		if (strstr(buf, p->marker) != NULL)
			return now_ns();
	}
	fprintf(stderr, "nvbench: %s: output ended after %zu bytes, before "
	    "the end point\n", p->name, len);
	return 0;
}

static void
reap(pid_t pid, int fd)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(fd);
}

/* One start-up sample: ns from before fork to the marker; 0 on failure. */
static uint64_t
start_once(const struct prog *p, uint64_t *first)
{
	uint64_t t0, t1;
	pid_t pid;
	int fd;

	pid = spawn(p, &fd, &t0);
	t1 = read_until(p, fd, first);
	reap(pid, fd);
	if (t1 == 0)
		return 0;
	*first -= t0;
	return t1 - t0;
}

/* The same for our programs, which must work. */
static uint64_t
start_must(const struct prog *p)
{
	uint64_t first, t;

	if ((t = start_once(p, &first)) == 0)
		die("%s did not start", p->name);
	return t;
}

/* One series of start-ups of the three programs on one kernel image. */
static void
start_series(const char *toyvirt, const char *raw, const char *kernel,
    const char *qemu, size_t n, const char *key_raw, const char *key_qemu)
{
	char *tv_argv[] = { (char *)toyvirt, "-i", "3600000", (char *)kernel,
	    NULL };
	char *raw_argv[] = { (char *)raw, "-i", "3600000", (char *)kernel,
	    NULL };
	char *q_argv[] = { (char *)qemu, "-M", "microvm", "-accel", "kvm",
	    "-kernel", (char *)kernel, "-nodefaults", "-no-user-config",
	    "-display", "none", "-chardev", "stdio,id=con,signal=off",
	    "-device", "isa-debugcon,iobase=123,chardev=con", NULL };
	struct prog tv = { "toyvirt", tv_argv, "mach>" };
	struct prog rb = { "raw_boot", raw_argv, "mach>" };
	struct prog qm = { "qemu", q_argv, "\n" };
	uint64_t *st = samples_alloc(n), *sr = samples_alloc(n);
	uint64_t *sq = samples_alloc(n), *sq1 = samples_alloc(n);
	const char *qfail = NULL;
	uint64_t first;
	size_t i;

	for (i = 0; i < n; i++) {
		/* Alternate the order so that no program always goes first. */
		if (i % 2 == 0) {
			st[i] = start_must(&tv);
			sr[i] = start_must(&rb);
		} else {
			sr[i] = start_must(&rb);
			st[i] = start_must(&tv);
		}
		if (qemu != NULL && qfail == NULL) {
			if ((sq[i] = start_once(&qm, &first)) == 0)
				qfail = "QEMU printed no guest line (see stderr)";
			sq1[i] = first;
		}
	}
	if (qemu != NULL && qfail != NULL) {
		printf("SKIP %s %s\n", key_qemu, qfail);
	} else if (qemu != NULL) {
		/* report() sorts st: give it a copy for the QEMU row. */
		uint64_t *st2 = samples_alloc(n);

		memcpy(st2, st, n * sizeof(*st));
		qsort(sq1, n, sizeof(*sq1), cmp_u64);
		printf("INFO %s: QEMU's first guest byte came after %.3f ms "
		    "(median); the row uses its first complete line, as for "
		    "toyvirt\n", key_qemu, (double)pct(sq1, n, 0.5) / 1e6);
		report(key_qemu, st2, n, sq, n, 1e6, "ms");
		free(st2);
	} else {
		printf("SKIP %s qemu-system-x86_64 not found; install it with: "
		    "apt-get install qemu-system-x86\n", key_qemu);
	}
	report(key_raw, st, n, sr, n, 1e6, "ms");
	free(st);
	free(sr);
	free(sq);
	free(sq1);
}

/*
 * A minimal kernel: prints "ok" and a newline, then spins.  Same entry
 * state as smallkern (32-bit flat protected mode, paging off, at 1 MiB),
 * with a PVH note for QEMU.  It takes the guest's own boot time out of
 * the start-up, which leaves what the VMMs cost (on this host smallkern's
 * CPL0 boot is emulated and takes milliseconds).
 */
static const uint8_t min_code[] = {
	0xb0, 'o', 0xe6, 123,		/* mov $'o',%al; out %al,$123 */
	0xb0, 'k', 0xe6, 123,
	0xb0, '\n', 0xe6, 123,
	0xeb, 0xfe,			/* 1: jmp 1b */
};

/* Writes a PVH ELF whose one page at 1 MiB starts with code. */
static void
write_min_kernel(const char *path, const uint8_t *code, size_t len)
{
	uint8_t img[0x2000];
	Elf64_Ehdr *eh = (Elf64_Ehdr *)(void *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(void *)(img + sizeof(*eh));
	uint32_t note[5] = { 4, 4, 18, 0x006e6558, 0x100000 };	/* "Xen" */
	size_t noteoff = sizeof(*eh) + 2 * sizeof(*ph);
	int fd;

	memset(img, 0, sizeof(img));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = 0x100000;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	ph[0].p_type = PT_LOAD;
	ph[0].p_flags = PF_R | PF_X;
	ph[0].p_offset = 0x1000;
	ph[0].p_vaddr = ph[0].p_paddr = 0x100000;
	if (len > 0x1000)
		die("kernel code too long");
	ph[0].p_filesz = len;
	ph[0].p_memsz = 0x1000;
	ph[0].p_align = 0x1000;
	ph[1].p_type = PT_NOTE;
	ph[1].p_flags = PF_R;
	ph[1].p_offset = noteoff;
	ph[1].p_filesz = ph[1].p_memsz = sizeof(note);
	ph[1].p_align = 4;
	memcpy(img + noteoff, note, sizeof(note));
	memcpy(img + 0x1000, code, len);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || write(fd, img, 0x1000 + len) != (ssize_t)(0x1000 + len) ||
	    close(fd) == -1)
		die("%s", path);
}

static void
bench_start(const char *toyvirt, const char *raw, const char *kernel,
    const char *qemu, size_t n)
{
	char path[64];
	int fd;

	start_series(toyvirt, raw, kernel, qemu, n, "start_raw", "start_qemu");

	/* The same with the minimal kernel: VMM costs only (INFO rows). */
	snprintf(path, sizeof(path), "/tmp/nvbench-minkern.XXXXXX");
	if ((fd = mkstemp(path)) == -1)
		die("mkstemp");
	close(fd);
	write_min_kernel(path, min_code, sizeof(min_code));
	start_series(toyvirt, raw, path, qemu, n, "minstart_raw",
	    "minstart_qemu");
	unlink(path);
}

/* -------------------------------------------------------------------------
 * Resident memory: the program runs the kernel; once the guest has
 * printed and ran for a while, read /proc/PID/status and smaps, and
 * subtract the resident part of the guest RAM mappings.
 * ------------------------------------------------------------------------- */

#define MAX_LOADS	16

/* Page-rounded PT_LOAD sizes of the kernel, as the VMMs map them. */
static size_t
elf_load_sizes(const char *path, uint64_t *sizes, size_t max)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	size_t n = 0;
	int fd, i;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		die("%s", path);
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_phentsize != sizeof(ph))
		die("%s: not an ELF64 file", path);
	for (i = 0; i < eh.e_phnum && n < max; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff +
		    (uint64_t)i * sizeof(ph))) != (ssize_t)sizeof(ph))
			die("%s: short program header", path);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		sizes[n++] = ((ph.p_paddr + ph.p_memsz + 4095) & ~4095ULL) -
		    (ph.p_paddr & ~4095ULL);
	}
	close(fd);
	return n;
}

/* VmRSS (KiB) and the Rss of the anonymous rw mappings of the given
   sizes, each size matched once. */
static void
read_rss(pid_t pid, const uint64_t *sizes, size_t nsizes, uint64_t *vmrss,
    uint64_t *guest, uint64_t *anon, uint64_t *file, uint64_t *shmem)
{
	char path[64], line[512], perms[8], name[256];
	bool used[MAX_LOADS + 1] = { false };
	unsigned long long lo, hi, v;
	bool cand = false;
	FILE *f;
	size_t i;

	*vmrss = *guest = *anon = *file = *shmem = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		die("%s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %llu", &v) == 1)
			*vmrss = v;
		else if (sscanf(line, "RssAnon: %llu", &v) == 1)
			*anon = v;
		else if (sscanf(line, "RssFile: %llu", &v) == 1)
			*file = v;
		else if (sscanf(line, "RssShmem: %llu", &v) == 1)
			*shmem = v;
	}
	fclose(f);

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		die("%s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		name[0] = '\0';
		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %255s", &lo, &hi,
		    perms, name) >= 3 && strchr(line, '-') < strchr(line, ' ')) {
			cand = false;
			if (strcmp(perms, "rw-p") != 0 || name[0] != '\0')
				continue;
			for (i = 0; i < nsizes; i++) {
				if (!used[i] && sizes[i] == hi - lo) {
					used[i] = cand = true;
					break;
				}
			}
			continue;
		}
		if (cand && sscanf(line, "Rss: %llu", &v) == 1) {
			*guest += v;
			cand = false;
		}
	}
	fclose(f);
}

static void
bench_rss(const char *toyvirt, const char *raw, const char *kernel)
{
	char *tv_argv[] = { (char *)toyvirt, "-i", "3600000", (char *)kernel,
	    NULL };
	char *raw_argv[] = { (char *)raw, "-i", "3600000", (char *)kernel,
	    NULL };
	struct prog progs[2] = { { "toyvirt", tv_argv, "mach>" },
	    { "raw_boot", raw_argv, "mach>" } };
	uint64_t loads[MAX_LOADS + 1], sizes[MAX_LOADS + 1], total = 0;
	uint64_t vm, guest, anon, file, shm, beyond[2], first;
	static char sink[65536];
	struct pollfd pfd;
	uint64_t t0;
	size_t nl, i, j, ns;
	pid_t pid;
	int rc, fd;

	nl = elf_load_sizes(kernel, loads, MAX_LOADS);
	for (i = 0; i < nl; i++)
		total += loads[i];
	total += 512 * 1024;	/* toyvirt's and raw_boot's extra RAM */

	for (j = 0; j < 2; j++) {
		/* toyvirt: one mapping for all; raw_boot: one per region. */
		if (j == 0) {
			sizes[0] = total;
			ns = 1;
		} else {
			memcpy(sizes, loads, nl * sizeof(*loads));
			sizes[nl] = 512 * 1024;
			ns = nl + 1;
		}
		pid = spawn(&progs[j], &fd, &t0);
		(void)read_until(&progs[j], fd, &first);
		/* Let the guest run on (its CPL3 worker) for 500 ms. */
		pfd.fd = fd;
		pfd.events = POLLIN;
		t0 = now_ns();
		while (now_ns() - t0 < 500000000ULL) {
			rc = poll(&pfd, 1, 50);
			if (rc > 0 && read(fd, sink, sizeof(sink)) <= 0)
				break;
		}
		read_rss(pid, sizes, ns, &vm, &guest, &anon, &file, &shm);
		if (guest == 0)
			guest = total / 1024;	/* not found: all of it */
		beyond[j] = vm > guest ? vm - guest : 0;
		printf("INFO rss %s: VmRSS %llu KiB (anon %llu, file %llu, "
		    "shmem %llu), guest RAM resident %llu KiB of %llu KiB "
		    "mapped, beyond guest RAM %llu KiB\n", progs[j].name,
		    (unsigned long long)vm, (unsigned long long)anon,
		    (unsigned long long)file, (unsigned long long)shm,
		    (unsigned long long)guest,
		    (unsigned long long)(total / 1024),
		    (unsigned long long)beyond[j]);
		reap(pid, fd);
	}
	printf("RESULT rss %llu %llu 1 %llu %llu 1 KiB\n",
	    (unsigned long long)beyond[0], (unsigned long long)beyond[0],
	    (unsigned long long)beyond[1], (unsigned long long)beyond[1]);
}

/* -------------------------------------------------------------------------
 * QEMU's own exit loop: one port-I/O guest under QEMU's NVMM accelerator
 * (on this libnvmm) and under its KVM accelerator, runs alternating.  The
 * guest prints a dot on the debugcon before every burst of QIO_BURST
 * OUTs to an unused port; the time between dots is QIO_BURST + 1 exits.
 * ------------------------------------------------------------------------- */

#define QIO_BURST	1000

/* The guest's code for segs bursts (32-bit, paging off, at 1 MiB). */
static size_t
qio_code(uint8_t *c, uint32_t segs)
{
	static const uint8_t loop[] = {
		0xb0, '.', 0xe6, 123,		/* 1: mov $'.',%al; out */
		0xb9, QIO_BURST & 0xff, QIO_BURST >> 8, 0, 0, /* mov $N,%ecx */
		0xe6, 0x80,			/* 2: out %al,$0x80 */
		0x49,				/* dec %ecx */
		0x75, 0xfb,			/* jnz 2b */
		0x4e,				/* dec %esi */
		0x75, 0xef,			/* jnz 1b */
		0xb0, '\n', 0xe6, 123,		/* the end of the line */
		0xeb, 0xfe,			/* 3: jmp 3b */
	};

	c[0] = 0xbe;				/* mov $segs,%esi */
	memcpy(c + 1, &segs, 4);
	memcpy(c + 5, loop, sizeof(loop));
	return 5 + sizeof(loop);
}

/* One QEMU run: appends a ns-per-exit sample per burst (the first burst
   is warm-up); returns -1 when QEMU does not print every dot. */
static int
qio_run(const struct prog *p, size_t segs, uint64_t *s, size_t *ns)
{
	char buf[4096];
	uint64_t t0, t, tprev = 0, per;
	size_t seen = 0, k, i;
	ssize_t n;
	pid_t pid;
	int fd;

	pid = spawn(p, &fd, &t0);
	while (seen < segs) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		t = now_ns();
		for (k = 0, i = 0; i < (size_t)n; i++)
			k += buf[i] == '.';
		if (k == 0)
			continue;
		if (tprev != 0) {
			/* Dots read together share their time evenly. */
			per = (t - tprev) / (k * (QIO_BURST + 1));
			for (i = 0; i < k && seen + i < segs; i++)
				s[(*ns)++] = per;
		}
		seen += k;
		tprev = t;
	}
	reap(pid, fd);
	if (seen < segs) {
		fprintf(stderr, "nvbench: %s: %zu of %zu dots\n", p->name, seen,
		    segs);
		return -1;
	}
	return 0;
}

static void
bench_qemuio(const char *qemu, size_t runs, size_t segs)
{
	char path[64], *argv[2][20];
	const char *accel[2] = { "nvmm", "kvm" };
	struct prog pr[2];
	uint8_t code[64];
	uint64_t *s[2];
	size_t ns[2] = { 0, 0 }, i, j, a;
	int fd;

	if (qemu == NULL) {
		printf("SKIP qemu_io no QEMU with NVMM support (make bench "
		    "builds one with interop/run.sh --build)\n");
		return;
	}
	snprintf(path, sizeof(path), "/tmp/nvbench-qio.XXXXXX");
	if ((fd = mkstemp(path)) == -1)
		die("mkstemp");
	close(fd);
	write_min_kernel(path, code, qio_code(code, (uint32_t)segs));
	for (a = 0; a < 2; a++) {
		/* Firmware from Debian's QEMU: a QEMU built in a tree has
		   none of its own. */
		char *v[] = { (char *)qemu, "-L", "/usr/share/qemu", "-M",
		    "microvm", "-accel", (char *)accel[a], "-kernel", path,
		    "-nodefaults",
		    "-no-user-config", "-display", "none", "-chardev",
		    "stdio,id=con,signal=off", "-device",
		    "isa-debugcon,iobase=123,chardev=con", NULL };

		memcpy(argv[a], v, sizeof(v));
		pr[a].name = accel[a];
		pr[a].argv = argv[a];
		pr[a].marker = "\n";
		s[a] = samples_alloc(runs * segs);
	}
	for (i = 0; i < runs; i++) {
		for (j = 0; j < 2; j++) {
			a = (i + j) % 2;	/* ABBA */
			if (qio_run(&pr[a], segs, s[a], &ns[a]) == -1) {
				printf("SKIP qemu_io QEMU -accel %s did not run "
				    "the guest to its end\n", accel[a]);
				goto out;
			}
		}
	}
	printf("INFO qemu_io: QEMU -M microvm, %zu runs per accelerator, "
	    "%zu bursts of %d OUTs per run\n", runs, segs, QIO_BURST);
	report("qemu_io", s[0], ns[0], s[1], ns[1], 1000.0, "us");
out:
	unlink(path);
	free(s[0]);
	free(s[1]);
}

/* -------------------------------------------------------------------------
 * Main.
 * ------------------------------------------------------------------------- */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: nvbench out|mmio|state|msr|parts|stop|machines "
	    "[-n N] [-b BLOCK] [-R ROUNDS]\n"
	    "       nvbench start|rss -t TOYVIRT -r RAW_BOOT -k KERNEL "
	    "[-Q QEMU] [-n RUNS]\n"
	    "       nvbench qemuio -Q QEMU [-n RUNS] [-b BURSTS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *mode, *toyvirt = NULL, *raw = NULL, *kernel = NULL;
	const char *qemu = NULL, *rounds_s = NULL;
	size_t n = 0, block = 0;
	int ch;

	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "n:b:r:R:t:k:Q:")) != -1) {
		switch (ch) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			block = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			raw = optarg;
			break;
		case 'R':
			rounds_s = optarg;
			break;
		case 't':
			toyvirt = optarg;
			break;
		case 'k':
			kernel = optarg;
			break;
		case 'Q':
			qemu = optarg[0] != '\0' ? optarg : NULL;
			break;
		default:
			usage();
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (strcmp(mode, "out") == 0)
		bench_loop("out", LOOP_OUT, n ? n : 100000, block ? block : 1000);
	else if (strcmp(mode, "mmio") == 0)
		bench_loop("mmio", LOOP_MMIO, n ? n : 100000,
		    block ? block : 1000);
	else if (strcmp(mode, "state") == 0)
		bench_loop("state", LOOP_STATE, n ? n : 100000,
		    block ? block : 1000);
	else if (strcmp(mode, "msr") == 0)
		bench_loop("msr", LOOP_MSR, n ? n : 100000, block ? block : 1000);
	else if (strcmp(mode, "parts") == 0)
		bench_parts(n ? n : 100000, block ? block : 1000);
	else if (strcmp(mode, "stop") == 0)
		bench_stop(n ? n : 3000, block ? block : 10);
	else if (strcmp(mode, "machines") == 0)
		bench_machines(n ? n : 128, rounds_s ?
		    strtoul(rounds_s, NULL, 10) : 3);
	else if (strcmp(mode, "start") == 0) {
		if (toyvirt == NULL || raw == NULL || kernel == NULL)
			usage();
		bench_start(toyvirt, raw, kernel, qemu, n ? n : 31);
	} else if (strcmp(mode, "qemuio") == 0) {
		bench_qemuio(qemu, n ? n : 5, block ? block : 50);
	} else if (strcmp(mode, "rss") == 0) {
		if (toyvirt == NULL || raw == NULL || kernel == NULL)
			usage();
		bench_rss(toyvirt, raw, kernel);
	} else
		usage();
	return 0;
}
