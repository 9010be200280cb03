/* raw_boot.c - boots smallkern like toyvirt does, with raw KVM ioctls only (test bed and benchmark baseline). */

/*
 * Usage: raw_boot [-i MS] [-q] ELF
 *
 *   -i MS  interval between injected events (default 3000 ms, as toyvirt)
 *   -q     exit right after the guest's first console byte (start-up timing)
 *   -v     trace each injected event on stderr (guest RIP, CS, RFLAGS)
 *   -F     with the first #GP, also corrupt the guest's x87/SSE registers:
 *          checks that smallkern's FPU checks work ("!!! FPU BUG !!!")
 *
 * Same machine as toyvirt's (docs/toy-machine.md), without libnvmm: one VCPU
 * with id 120, the ELF's PT_LOADs at p_paddr plus 512 KiB of RAM after
 * them, 32-bit flat protected-mode entry, a console on port 123, the LAPIC
 * ID register at 0xFEE00020, APICBASE answered with 0xFEE00900, NX hidden
 * from CPUID, and a thread that injects #GP, NMI and interrupt 200 in turn.
 * Exit status 0 when the guest shuts down (triple fault), 1 otherwise.
 */

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <linux/kvm.h>

#include <elf.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* -------------------------------------------------------------------------
 * The toy machine (docs/toy-machine.md 1).
 * ------------------------------------------------------------------------- */

#define VCPU_ID		120
#define CONSOLE_PORT	123
#define LAPIC_GPA	0xfee00000ULL
#define LAPIC_SIZE	0x1000ULL
#define LAPIC_ID_OFF	0x20
#define APICBASE_MSR	0x1b
#define APICBASE_VALUE	0xfee00900ULL
#define PAT_MSR		0x277
#define PAT_DEFAULT	0x0007040600070406ULL
#define EXTRA_RAM	(512 * 1024ULL)
#define IRQ_VECTOR	200
#define GP_VECTOR	13
#define CPUID_EXT_NX	(1U << 20)

#define PAGE_SIZE	4096ULL
#define MAX_SLOTS	16
#define MAX_ELF_SIZE	(64 * 1024 * 1024)

static int kvm_fd = -1, vm_fd = -1, vcpu_fd = -1;
static struct kvm_run *run;
static size_t run_size;
static unsigned nslots;
static bool quick, verbose, corrupt_fpu;

/* -------------------------------------------------------------------------
 * Injector thread <-> VCPU thread.  VCPU ioctls wait while KVM_RUN runs
 * and a spinning guest makes no exits, so the injector only posts a
 * request and kicks the VCPU thread with SIGUSR1; the VCPU thread does
 * the ioctls between two KVM_RUNs.
 * ------------------------------------------------------------------------- */

static pthread_mutex_t req_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t req_cond;
static bool req_gp, req_nmi, req_irq, stopping;
static unsigned nmi_parked;
static _Atomic uint64_t last_cr8;	/* guest CR8 at the last exit */
static pthread_t vcpu_thread;
static unsigned interval_ms = 3000;

/* Makes a KVM_RUN in progress return EINTR, or the next one not enter. */
static void
kick_handler(int sig)
{
	(void)sig;
	run->immediate_exit = 1;
}

static void
timespec_add_ms(struct timespec *ts, unsigned ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * One event per interval, in the cycle #GP, NMI, interrupt, each message
 * printed before the event is posted.  The interrupt is skipped (silently)
 * while the guest's CR8 masks it, as toyvirt does: without an in-kernel
 * LAPIC, KVM does not filter by CR8 itself.
 */
static void *
injector(void *arg)
{
	struct timespec next;
	unsigned k;
	int rc;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&req_lock);
	for (k = 0; !stopping; k++) {
		timespec_add_ms(&next, interval_ms);
		rc = 0;
		while (!stopping && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&req_cond, &req_lock, &next);
		if (stopping)
			break;
		switch (k % 3) {
		case 0:
			printf("[+] Inject #GP event\n");
			req_gp = true;
			break;
		case 1:
			printf("[+] Inject #NMI event\n");
			req_nmi = true;
			break;
		default:
			if (atomic_load(&last_cr8) >= 15)
				continue;
			printf("[+] Inject hardware interrupt event\n");
			req_irq = true;
			break;
		}
		pthread_kill(vcpu_thread, SIGUSR1);
	}
	pthread_mutex_unlock(&req_lock);
	return NULL;
}

/* -v: where the guest was when an event went in. */
static void
trace(const char *what)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (!verbose)
		return;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		err(1, "KVM_GET_REGS/SREGS");
	fprintf(stderr, "raw_boot: %s: rip=%#llx cs=%#x rflags=%#llx cr8=%llu\n",
	    what, (unsigned long long)regs.rip, sregs.cs.selector,
	    (unsigned long long)regs.rflags, (unsigned long long)sregs.cr8);
}

/* -F: flip a low bit in every x87 and SSE register, once. */
static void
scramble_fpu(void)
{
	struct kvm_fpu fpu;
	int i;

	if (ioctl(vcpu_fd, KVM_GET_FPU, &fpu) < 0)
		err(1, "KVM_GET_FPU");
	for (i = 0; i < 8; i++)
		fpu.fpr[i][0] ^= 0x01;		/* mantissa LSB of st(i) */
	for (i = 0; i < 16; i++)
		fpu.xmm[i][0] ^= 0x01;		/* LSB of each xmm */
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		err(1, "KVM_SET_FPU");
	corrupt_fpu = false;
}

static void
get_events(struct kvm_vcpu_events *ev)
{
	if (ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, ev) < 0)
		err(1, "KVM_GET_VCPU_EVENTS");
}

/* Called by the VCPU thread before every KVM_RUN. */
static void
apply_requests(void)
{
	struct kvm_vcpu_events ev;
	struct kvm_interrupt irq;

	pthread_mutex_lock(&req_lock);
	if (req_gp) {
		/*
		 * Read-modify-write: SET_VCPU_EVENTS always writes the NMI
		 * mask, so a zeroed struct would unblock NMIs.  Wait if an
		 * exception is already on its way in.
		 */
		get_events(&ev);
		if (!ev.exception.injected && !ev.exception.pending) {
			trace("#GP");
			if (corrupt_fpu)
				scramble_fpu();
			ev.exception.injected = 1;
			ev.exception.nr = GP_VECTOR;
			ev.exception.has_error_code = 1;
			ev.exception.error_code = 0;
			if (ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
				err(1, "KVM_SET_VCPU_EVENTS");
			req_gp = false;
		}
	}
	if (req_nmi) {
		/*
		 * NMIs stay blocked from the first one until the guest's next
		 * IRET.  Park the NMI like toyvirt (nothing re-injects it:
		 * smallkern never executes IRET) instead of letting KVM queue
		 * it; never clear nmi.masked.
		 */
		get_events(&ev);
		if (ev.nmi.masked || ev.nmi.pending || ev.nmi.injected) {
			trace("NMI parked");
			nmi_parked++;
		} else {
			trace("NMI");
			if (ioctl(vcpu_fd, KVM_NMI) < 0)
				err(1, "KVM_NMI");
		}
		req_nmi = false;
	}
	if (req_irq) {
		if (run->ready_for_interrupt_injection) {
			trace("interrupt");
			irq.irq = IRQ_VECTOR;
			if (ioctl(vcpu_fd, KVM_INTERRUPT, &irq) < 0)
				err(1, "KVM_INTERRUPT");
			req_irq = false;
			run->request_interrupt_window = 0;
		} else {
			run->request_interrupt_window = 1;
		}
	}
	pthread_mutex_unlock(&req_lock);
}

static void
stop_injector(pthread_t tid)
{
	pthread_mutex_lock(&req_lock);
	stopping = true;
	pthread_cond_broadcast(&req_cond);
	pthread_mutex_unlock(&req_lock);
	pthread_join(tid, NULL);
}

/* -------------------------------------------------------------------------
 * ELF loading.  The file is untrusted: every offset and size is checked.
 * ------------------------------------------------------------------------- */

static uint64_t
page_up(uint64_t v)
{
	return (v + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

/* One memslot of fresh zeroed host memory at [gpa, gpa + size). */
static uint8_t *
add_ram(uint64_t gpa, uint64_t size)
{
	struct kvm_userspace_memory_region region;
	void *hva;

	if (nslots == MAX_SLOTS)
		errx(1, "too many segments");
	hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hva == MAP_FAILED)
		err(1, "mmap");
	memset(&region, 0, sizeof(region));
	region.slot = nslots++;
	region.guest_phys_addr = gpa;
	region.memory_size = size;
	region.userspace_addr = (uint64_t)(uintptr_t)hva;
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		err(1, "KVM_SET_USER_MEMORY_REGION");
	return hva;
}

static uint8_t *
read_file(const char *path, size_t *sizep)
{
	struct stat st;
	uint8_t *buf;
	size_t done;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		err(1, "%s", path);
	if (fstat(fd, &st) < 0)
		err(1, "%s", path);
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr) ||
	    st.st_size > MAX_ELF_SIZE)
		errx(1, "%s: not a plausible ELF file", path);
	if ((buf = malloc((size_t)st.st_size)) == NULL)
		err(1, "malloc");
	for (done = 0; done < (size_t)st.st_size; done += (size_t)n) {
		n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n < 0)
			err(1, "%s", path);
		if (n == 0)
			errx(1, "%s: file shrank", path);
	}
	close(fd);
	*sizep = done;
	return buf;
}

/*
 * Maps every PT_LOAD at p_paddr (rounded up to pages, zeroed past
 * p_filesz), then EXTRA_RAM after the highest one.  Other program headers
 * (PT_NOTE, PT_GNU_STACK...) are ignored.  Returns the entry point.
 */
static uint64_t
load_elf(const char *path)
{
	uint64_t lo[MAX_SLOTS], hi[MAX_SLOTS], end = 0, start, stop, entry;
	const Elf64_Ehdr *eh;
	const Elf64_Phdr *ph;
	unsigned i, j, nseg = 0;
	uint8_t *file, *mem;
	bool entry_ok = false;
	size_t size;

	file = read_file(path, &size);
	eh = (const Elf64_Ehdr *)file;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC)
		errx(1, "%s: not an x86-64 ELF executable", path);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > 128 || eh->e_phoff > size ||
	    (size - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum)
		errx(1, "%s: bad program header table", path);

	for (i = 0; i < eh->e_phnum; i++) {
		/* memcpy: e_phoff need not be aligned. */
		Elf64_Phdr p;

		memcpy(&p, file + eh->e_phoff + i * sizeof(p), sizeof(p));
		ph = &p;
		if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
			continue;
		if (ph->p_filesz > ph->p_memsz || ph->p_offset > size ||
		    size - ph->p_offset < ph->p_filesz)
			errx(1, "%s: segment %u outside the file", path, i);
		if (ph->p_paddr % PAGE_SIZE != 0 || ph->p_paddr >= LAPIC_GPA ||
		    ph->p_memsz > LAPIC_GPA - ph->p_paddr)
			errx(1, "%s: segment %u: bad address 0x%llx", path, i,
			    (unsigned long long)ph->p_paddr);
		start = ph->p_paddr;
		stop = page_up(ph->p_paddr + ph->p_memsz);
		for (j = 0; j < nseg; j++)
			if (start < hi[j] && lo[j] < stop)
				errx(1, "%s: segments overlap", path);
		if (nseg == MAX_SLOTS - 1)
			errx(1, "%s: too many segments", path);
		lo[nseg] = start;
		hi[nseg++] = stop;

		mem = add_ram(start, stop - start);
		memcpy(mem, file + ph->p_offset, ph->p_filesz);
		if (eh->e_entry >= start && eh->e_entry < start + ph->p_memsz)
			entry_ok = true;
		if (stop > end)
			end = stop;
	}
	if (nseg == 0 || !entry_ok)
		errx(1, "%s: no PT_LOAD, or entry point outside them", path);
	if (end + EXTRA_RAM > LAPIC_GPA)
		errx(1, "%s: image too high", path);
	for (j = 0; j < nseg; j++)
		if (end < hi[j] && lo[j] < end + EXTRA_RAM)
			errx(1, "%s: segments overlap the extra RAM", path);
	add_ram(end, EXTRA_RAM);

	entry = eh->e_entry;	/* eh points into file */
	free(file);
	return entry;
}

/* -------------------------------------------------------------------------
 * VM and VCPU set-up.
 * ------------------------------------------------------------------------- */

/* KVM_GET_SUPPORTED_CPUID with APIC ID 120 and without NX. */
static void
setup_cpuid(void)
{
	struct kvm_cpuid2 *c = NULL;
	unsigned n = 64, i;

	for (;;) {
		c = realloc(c, sizeof(*c) + n * sizeof(c->entries[0]));
		if (c == NULL)
			err(1, "realloc");
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG || n >= 4096)
			err(1, "KVM_GET_SUPPORTED_CPUID");
		n *= 2;
	}
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		/* KVM fills in the host CPU's APIC ID: ours is the VCPU id. */
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffff) | ((uint32_t)VCPU_ID << 24);
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = VCPU_ID;
		if (e->function == 0x80000001)
			e->edx &= ~CPUID_EXT_NX;
	}
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		err(1, "KVM_SET_CPUID2");
	free(c);
}

/* RDMSR 0x1B must exit to us; everything else stays inside KVM. */
static void
setup_msr_exits(void)
{
	struct kvm_enable_cap cap;
	struct kvm_msr_filter filter;
	static uint8_t deny;	/* bit 0 clear: MSR 0x1B denied */

	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
	cap.args[0] = KVM_MSR_EXIT_REASON_FILTER;
	if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		err(1, "KVM_ENABLE_CAP(X86_USER_SPACE_MSR)");

	memset(&filter, 0, sizeof(filter));
	filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
	filter.ranges[0].flags = KVM_MSR_FILTER_READ;
	filter.ranges[0].nmsrs = 1;
	filter.ranges[0].base = APICBASE_MSR;
	filter.ranges[0].bitmap = &deny;
	if (ioctl(vm_fd, KVM_X86_SET_MSR_FILTER, &filter) < 0)
		err(1, "KVM_X86_SET_MSR_FILTER");
}

/*
 * Without this quirk disabled, KVM rewrites VMMCALL/VMCALL into the host's
 * hypercall instruction, and the guest never sees the #UD NVMM gives it.
 */
static void
disable_hypercall_patching(void)
{
	struct kvm_enable_cap cap;
	int quirks;

	quirks = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DISABLE_QUIRKS2);
	if (quirks < 0 || !(quirks & KVM_X86_QUIRK_FIX_HYPERCALL_INSN)) {
		fprintf(stderr, "raw_boot: cannot disable the hypercall "
		    "patching quirk; VMMCALL may not give #UD\n");
		return;
	}
	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_DISABLE_QUIRKS2;
	cap.args[0] = KVM_X86_QUIRK_FIX_HYPERCALL_INSN;
	if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		err(1, "KVM_ENABLE_CAP(DISABLE_QUIRKS2)");
}

static void
flat_segment(struct kvm_segment *s, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = 0;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->db = 1;
	s->s = 1;
	s->l = 0;
	s->g = 1;
	s->avl = 1;
}

/* docs/toy-machine.md 2: 32-bit flat protected mode, paging off, at the entry. */
static void
setup_state(uint64_t entry)
{
	uint64_t msrbuf[(sizeof(struct kvm_msrs) +
	    sizeof(struct kvm_msr_entry)) / sizeof(uint64_t) + 1];
	struct kvm_msrs *msrs = (struct kvm_msrs *)msrbuf;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		err(1, "KVM_GET_SREGS");
	flat_segment(&sregs.cs, 11);		/* code, execute/read, accessed */
	flat_segment(&sregs.ds, 3);		/* data, read/write, accessed */
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = sregs.idt.base = 0;
	sregs.gdt.limit = sregs.idt.limit = 0xffff;
	flat_segment(&sregs.ldt, 2);		/* LDT */
	sregs.ldt.s = 0;
	sregs.ldt.db = 0;
	sregs.ldt.avl = 0;
	sregs.tr = sregs.ldt;
	sregs.tr.type = 11;			/* busy 32/64-bit TSS */
	sregs.cr0 = 0x60000011;			/* PE ET NW CD: paging off */
	sregs.cr3 = 0;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		err(1, "KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rflags = 0x2;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		err(1, "KVM_SET_REGS");

	memset(msrbuf, 0, sizeof(msrbuf));
	msrs->nmsrs = 1;
	msrs->entries[0].index = PAT_MSR;
	msrs->entries[0].data = PAT_DEFAULT;
	if (ioctl(vcpu_fd, KVM_SET_MSRS, msrs) != 1)
		err(1, "KVM_SET_MSRS(PAT)");
}

/* -------------------------------------------------------------------------
 * Devices (docs/toy-machine.md 3).
 * ------------------------------------------------------------------------- */

/* The "mach>" + TAB prefix goes out lazily, with a line's first byte. */
static void
console_putc(uint8_t c)
{
	static bool line_start = true;

	if (line_start)
		fputs("mach>\t", stdout);
	putchar(c);
	line_start = (c == '\n');
	if (quick)
		exit(0);
}

static void
handle_io(void)
{
	uint64_t n, i;
	uint8_t *data;

	if (run->io.port != CONSOLE_PORT) {
		printf("[!] Unknown IO device PORT=%u\n", run->io.port);
		exit(1);
	}
	if (run->io.direction == KVM_EXIT_IO_IN) {
		printf("[!] Unexpected IN for the console\n");
		exit(1);
	}
	n = (uint64_t)run->io.size * run->io.count;
	if (run->io.data_offset > run_size || n > run_size - run->io.data_offset)
		errx(1, "KVM_EXIT_IO data outside kvm_run");
	data = (uint8_t *)run + run->io.data_offset;
	for (i = 0; i < n; i++)
		console_putc(data[i]);
}

static void
handle_mmio(void)
{
	uint64_t gpa = run->mmio.phys_addr;
	uint32_t len = run->mmio.len;

	if (gpa < LAPIC_GPA || len > sizeof(run->mmio.data) ||
	    gpa - LAPIC_GPA > LAPIC_SIZE - len) {
		printf("[!] Unknown MMIO device GPA=%p\n", (void *)(uintptr_t)gpa);
		exit(1);
	}
	if (run->mmio.is_write) {
		printf("[!] Unexpected LAPIC write!\n");
		exit(1);
	}
	if (len != 4) {
		printf("[!] Unexpected LAPIC read size %u!\n", len);
		exit(1);
	}
	/* KVM does not clear the buffer for reads. */
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	if (gpa - LAPIC_GPA == LAPIC_ID_OFF)
		run->mmio.data[3] = VCPU_ID;	/* ID in bits 31:24 */
}

/* KVM completes the RDMSR itself on the next KVM_RUN with our answer. */
static void
handle_rdmsr(void)
{
	if (run->msr.index == APICBASE_MSR) {
		run->msr.data = APICBASE_VALUE;
		run->msr.error = 0;
	} else {
		printf("[!] Unknown MSR!\n");
		run->msr.error = 1;	/* #GP in the guest */
	}
}

static void
invalid_exit(const char *what)
{
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0)
		err(1, "KVM_GET_REGS");
	printf("[!] Invalid exit: rip=%p\n", (void *)(uintptr_t)regs.rip);
	fprintf(stderr, "raw_boot: exit reason %u (%s)", run->exit_reason, what);
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		fprintf(stderr, ", suberror %u", run->internal.suberror);
	fprintf(stderr, "\n");
}

/* -------------------------------------------------------------------------
 * Main.
 * ------------------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: raw_boot [-i interval_ms] [-qvF] elf-file\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct sigaction sa;
	pthread_condattr_t ca;
	sigset_t set;
	pthread_t tid;
	uint64_t entry;
	bool shutdown = false;
	char *end;
	long v;
	int ch, mmap_size;

	while ((ch = getopt(argc, argv, "i:qvF")) != -1) {
		switch (ch) {
		case 'i':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v < 1 || v > 3600000)
				errx(1, "bad interval: %s", optarg);
			interval_ms = (unsigned)v;
			break;
		case 'q':
			quick = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'F':
			corrupt_fpu = true;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();

	/* Our lines and the guest's must stay in order through a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if ((kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0)
		err(1, "/dev/kvm");
	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		errx(1, "unexpected KVM API version");
	printf("[+] NVMM initialization succeeded\n");

	if ((vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0)) < 0)
		err(1, "KVM_CREATE_VM");
	disable_hypercall_patching();
	printf("[+] Machine creation succeeded\n");

	if ((vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, VCPU_ID)) < 0)
		err(1, "KVM_CREATE_VCPU");
	if ((mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0)) <
	    (int)sizeof(*run))
		err(1, "KVM_GET_VCPU_MMAP_SIZE");
	run_size = (size_t)mmap_size;
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    vcpu_fd, 0);
	if (run == MAP_FAILED)
		err(1, "mmap(kvm_run)");
	printf("[+] VCPU creation succeeded\n");

	setup_msr_exits();
	printf("[+] VCPU callbacks configuration succeeded\n");

	setup_cpuid();
	entry = load_elf(argv[optind]);
	setup_state(entry);
	printf("[+] State set\n");

	/* The kick: no SA_RESTART, so KVM_RUN returns EINTR. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		err(1, "sigaction");

	/* Only the VCPU thread takes SIGUSR1: the injector starts blocked. */
	vcpu_thread = pthread_self();
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&req_cond, &ca);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((errno = pthread_create(&tid, NULL, injector, NULL)) != 0)
		err(1, "pthread_create");
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	for (;;) {
		apply_requests();
		if (ioctl(vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN)
				err(1, "KVM_RUN");
			run->immediate_exit = 0;
			atomic_store(&last_cr8, run->cr8);
			continue;
		}
		atomic_store(&last_cr8, run->cr8);

		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io();
			continue;
		case KVM_EXIT_MMIO:
			handle_mmio();
			continue;
		case KVM_EXIT_X86_RDMSR:
			handle_rdmsr();
			continue;
		case KVM_EXIT_X86_WRMSR:
			printf("[!] Expected rdmsr!\n");
			run->msr.error = 1;
			continue;
		case KVM_EXIT_IRQ_WINDOW_OPEN:
		case KVM_EXIT_INTR:
			continue;	/* apply_requests() does the rest */
		case KVM_EXIT_SHUTDOWN:
			printf("[+] Machine received shutdown\n");
			shutdown = true;
			break;
		case KVM_EXIT_HLT:
			invalid_exit("hlt");
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			invalid_exit("internal error");
			break;
		default:
			invalid_exit("unexpected");
			break;
		}
		break;
	}

	stop_injector(tid);
	if (shutdown)
		printf("[+] Machine execution successful\n");
	munmap(run, run_size);
	close(vcpu_fd);
	close(vm_fd);
	close(kvm_fd);
	printf("[+] Machine destroyed\n");
	if (verbose)
		fprintf(stderr, "raw_boot: %u NMI(s) parked (NMIs blocked)\n",
		    nmi_parked);
	return shutdown ? 0 : 1;
}
