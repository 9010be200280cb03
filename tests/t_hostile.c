/* t_hostile.c - hostile guests at the library level: triple fault, endless loops, wild jumps, x87 at CPL0, MMIO everywhere, huge string I/O, bad page tables. */

/*
 * Each case runs one routine of t_hostile_guest.S and checks that the
 * library reports a defined exit, stays stoppable from another thread,
 * keeps its memory bounded and never touches host memory outside the
 * registered mappings.  Guest RAM is surrounded by PROT_NONE guard pages,
 * so a stray host access crashes the test (and ASan names it).  Every case
 * runs under a watchdog: a hang fails the test instead of blocking it.
 *
 * Usage: t_hostile [FLOOD_BYTES]   (console flood size, default 200000)
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "nvmm_internal.h"	/* nvmm_kvm_host() */
#include "vmtest.h"

extern const char h_start[], h_end[], h_triple[], h_spin[], h_wild[],
    h_fld1[], h_fld1_after[], h_cpuid[], h_ld1[], h_ld2[], h_ld4[], h_ld8[],
    h_st4[], h_st8[], h_rep_insb[], h_rep_outsb[], h_rep_insb_down[],
    h_rep_outsb_a32[], h_out_page[], h_out_page_end[], h_cons_flood[],
    h_cr3[];

#define GVA(l)		((uint64_t)((l) - h_start) + VMT_CODE)
#define PAGE		4096ULL
#define RAM_END		VMT_RAM			/* 4 MiB at GPA 0 */
#define XPAGE_GPA	0x500000ULL		/* one more RAM page */
#define HIGH_GVA	0x8000000000ULL		/* PML4[1]: MMIO windows */
#define OUTP_GVA	0x10000000000ULL	/* PML4[2]: h_out_page */
#define TBL		(VMT_DATA + 0x10000)	/* host-built tables */

#define PTE_P		0x1ULL
#define PTE_W		0x2ULL
#define PTE_U		0x4ULL
#define PWU		(PTE_P | PTE_W | PTE_U)

static struct vmt t;
static struct nvmm_x86_exit *x;
static uint8_t *xpage;			/* the RAM page at XPAGE_GPA */
static int ncases;

/* -------------------------------------------------------------------------
 * Watchdog: a hang is a failure, not a blocked test run.
 * ------------------------------------------------------------------------- */

static const char *volatile current = "setup";

static void
on_alarm(int sig)
{
	static const char msg[] = "t_hostile: HANG: no defined exit within "
	    "the watchdog time in case: ";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	(void)!write(2, current, strlen(current));
	(void)!write(2, "\n", 1);
	_exit(1);
}

static void
begin(const char *name, unsigned secs)
{
	current = name;
	ncases++;
	printf("case: %s\n", name);
	fflush(stdout);
	alarm(secs);
}

/* -------------------------------------------------------------------------
 * Guarded host memory, process figures.
 * ------------------------------------------------------------------------- */

/* size bytes of RW memory between two PROT_NONE pages. */
static uint8_t *
guarded(size_t size)
{
	uint8_t *b = mmap(NULL, size + 2 * PAGE, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED)
		vmt_die("mmap");
	if (mprotect(b + PAGE, size, PROT_READ | PROT_WRITE) == -1)
		vmt_die("mprotect");
	return b + PAGE;
}

static long
rss_kib(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* -------------------------------------------------------------------------
 * Devices: every port and every MMIO byte answers a pattern, and is logged.
 * ------------------------------------------------------------------------- */

/* What an MMIO read of gpa returns. */
static uint8_t
mmio_byte(uint64_t gpa)
{
	return (uint8_t)((gpa & 0xff) ^ 0x5a);
}

static struct {
	uint64_t in_bytes, out_bytes;	/* port I/O */
	uint8_t in_next;		/* next byte an IN returns */
	uint16_t port;
	uint64_t out_sum;		/* sum of the bytes written */
	uint8_t out_first[64];		/* the first bytes written */
	int nmem;			/* MMIO fragments */
	struct { uint64_t gpa; size_t size; bool write; uint64_t data; }
	    mem[64];
	uint64_t mem_bytes;
	uint64_t mem_next_gpa;		/* for contiguous MMIO streams */
	bool mem_contig;
	bool ins_check;			/* MMIO writes carry IN data: */
	uint64_t ins_base;		/* byte at gpa g is (g - ins_base) */
	bool ins_ok;
} dev;

static void
dev_reset(void)
{
	memset(&dev, 0, sizeof(dev));
	dev.mem_contig = true;
	dev.ins_ok = true;
}

/* Bytes through the ports so far, for the stopper thread. */
static atomic_ulong io_progress;

static void
io_cb(struct nvmm_io *io)
{
	size_t i;

	atomic_fetch_add(&io_progress, io->size);
	dev.port = io->port;
	for (i = 0; i < io->size; i++) {
		if (io->in) {
			io->data[i] = dev.in_next++;
			dev.in_bytes++;
		} else {
			if (dev.out_bytes < sizeof(dev.out_first))
				dev.out_first[dev.out_bytes] = io->data[i];
			dev.out_sum += io->data[i];
			dev.out_bytes++;
		}
	}
}

static void
mem_cb(struct nvmm_mem *mem)
{
	uint64_t v = 0;
	size_t i;
	int k = dev.nmem++;

	for (i = 0; i < mem->size; i++) {
		if (!mem->write)
			mem->data[i] = mmio_byte(mem->gpa + i);
		else if (dev.ins_check && mem->data[i] !=
		    (uint8_t)(mem->gpa + i - dev.ins_base))
			dev.ins_ok = false;
	}
	memcpy(&v, mem->data, mem->size < 8 ? mem->size : 8);
	if (k < 64) {
		dev.mem[k].gpa = mem->gpa;
		dev.mem[k].size = mem->size;
		dev.mem[k].write = mem->write;
		dev.mem[k].data = v;
	}
	if (dev.mem_bytes > 0 && mem->gpa != dev.mem_next_gpa)
		dev.mem_contig = false;
	dev.mem_next_gpa = mem->gpa + mem->size;
	dev.mem_bytes += mem->size;
}

/* -------------------------------------------------------------------------
 * Running.
 * ------------------------------------------------------------------------- */

struct regs {
	uint64_t rip, rax, rcx, rdx, rsi, rdi;
};

static void
set_regs(const struct regs *r)
{
	uint64_t *g = t.vcpu.state->gprs;

	if (nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS) == -1)
		vmt_die("getstate");
	g[NVMM_X64_GPR_RIP] = r->rip;
	g[NVMM_X64_GPR_RAX] = r->rax;
	g[NVMM_X64_GPR_RCX] = r->rcx;
	g[NVMM_X64_GPR_RDX] = r->rdx;
	g[NVMM_X64_GPR_RSI] = r->rsi;
	g[NVMM_X64_GPR_RDI] = r->rdi;
	g[NVMM_X64_GPR_RSP] = VMT_STACK;
	g[NVMM_X64_GPR_RFLAGS] = 0x2;
	if (nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_GPRS) == -1)
		vmt_die("setstate");
}

/*
 * Runs, completing I/O and MMIO with the assists, until an exit that is
 * neither (or max_assists of them).  An assist that fails is a check
 * failure; the exit reason is returned.
 */
static uint64_t
go_n(unsigned long max_assists, unsigned long *nassists)
{
	unsigned long n = 0;

	for (;;) {
		if (nvmm_vcpu_run(&t.mach, &t.vcpu) == -1) {
			CHECK(0, "nvmm_vcpu_run: %s", strerror(errno));
			return NVMM_VCPU_EXIT_INVALID;
		}
		switch (x->reason) {
		case NVMM_VCPU_EXIT_NONE:
			continue;
		case NVMM_VCPU_EXIT_IO:
			if (nvmm_assist_io(&t.mach, &t.vcpu) == -1) {
				CHECK(0, "nvmm_assist_io (port %#x): %s",
				    x->u.io.port, strerror(errno));
				return x->reason;
			}
			break;
		case NVMM_VCPU_EXIT_MEMORY:
			if (nvmm_assist_mem(&t.mach, &t.vcpu) == -1) {
				CHECK(0, "nvmm_assist_mem (gpa %#llx): %s",
				    (unsigned long long)x->u.mem.gpa,
				    strerror(errno));
				return x->reason;
			}
			break;
		default:
			if (nassists != NULL)
				*nassists = n;
			return x->reason;
		}
		if (++n == max_assists) {
			if (nassists != NULL)
				*nassists = n;
			return x->reason;
		}
	}
}

static uint64_t
go(const struct regs *r)
{
	set_regs(r);
	return go_n(0, NULL);
}

static uint64_t
gpr(int i)
{
	return vmt_gpr(&t, i);
}

/* The VCPU still works: an 8-byte load from RAM. */
static void
check_recovers(const char *after)
{
	struct regs r = { .rip = GVA(h_ld8), .rdi = VMT_DATA };
	uint64_t v = 0x0123456789abcdefULL;

	memcpy(t.ram + VMT_DATA, &v, 8);
	vmt_setup_long(&t, GVA(h_ld8));
	CHECK(go(&r) == NVMM_VCPU_EXIT_HALTED, "VCPU dead after %s", after);
	CHECK(gpr(NVMM_X64_GPR_RAX) == v, "VCPU wrong after %s", after);
}

/*
 * A thread that calls nvmm_vcpu_stop once: after ms milliseconds, or
 * (when bytes is not 0) once that many bytes went through the ports, so
 * that no check depends on the speed of the machine.
 */
struct stopper {
	pthread_t th;
	unsigned ms;
	unsigned long bytes;
	atomic_int done;
};

static void *
stopper_main(void *arg)
{
	struct stopper *s = arg;
	struct timespec ts = { s->ms / 1000, (long)(s->ms % 1000) * 1000000L };
	struct timespec tick = { 0, 1000000L };

	if (s->bytes == 0)
		nanosleep(&ts, NULL);
	else
		while (atomic_load(&io_progress) < s->bytes)
			nanosleep(&tick, NULL);
	nvmm_vcpu_stop(&t.vcpu);
	atomic_store(&s->done, 1);
	return NULL;
}

static void
stopper_go(struct stopper *s, unsigned ms, unsigned long bytes)
{
	s->ms = ms;
	s->bytes = bytes;
	atomic_store(&s->done, 0);
	if (pthread_create(&s->th, NULL, stopper_main, s) != 0)
		vmt_die("pthread_create");
}

static void
stopper_start(struct stopper *s, unsigned ms)
{
	stopper_go(s, ms, 0);
}

static void
stopper_join(struct stopper *s)
{
	pthread_join(s->th, NULL);
}

/* -------------------------------------------------------------------------
 * Cases: ends of the guest.
 * ------------------------------------------------------------------------- */

static void
case_triple_fault(void)
{
	struct regs r = { .rip = GVA(h_triple) };

	begin("triple fault", 20);
	CHECK_EQ(go(&r), NVMM_VCPU_EXIT_SHUTDOWN);
	/* Running it again: still a shutdown, never a hang or a crash. */
	CHECK_EQ(go_n(0, NULL), NVMM_VCPU_EXIT_SHUTDOWN);
	check_recovers("a triple fault");
}

static void
case_spin_stopped(void)
{
	struct regs r = { .rip = GVA(h_spin) };
	struct stopper s;
	uint64_t rip;
	int i;

	begin("endless loop, stopped from another thread (x20)", 30);
	for (i = 0; i < 20; i++) {
		set_regs(&r);
		stopper_start(&s, 5 + (unsigned)i);
		CHECK_EQ(go_n(0, NULL), NVMM_VCPU_EXIT_STOPPED);
		stopper_join(&s);
		CHECK(atomic_load(&s.done), "STOPPED before the stop");
		rip = gpr(NVMM_X64_GPR_RIP);
		CHECK(rip >= GVA(h_spin) && rip < GVA(h_spin) + 3,
		    "RIP %#llx outside the loop", (unsigned long long)rip);
	}
	/* A stop before the run: STOPPED at once, the loop not entered. */
	set_regs(&r);
	nvmm_vcpu_stop(&t.vcpu);
	CHECK_EQ(go_n(0, NULL), NVMM_VCPU_EXIT_STOPPED);
	CHECK_EQ(gpr(NVMM_X64_GPR_RIP), GVA(h_spin));
	check_recovers("the endless loop");
}

static void
case_wild_jump(void)
{
	static const uint64_t targets[] = { VMT_MMIO, RAM_END, 0x3ffff000,
	    0xfee00000 & 0x3fffffff, XPAGE_GPA + PAGE };
	size_t i;

	begin("execution from unbacked memory", 20);
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct regs r = { .rip = GVA(h_wild), .rdi = targets[i] };
		uint64_t why = go(&r);

		/* KVM: INVALID (its emulator cannot fetch from MMIO);
		   NetBSD NVMM: a MEMORY exit with PROT_EXEC. */
		CHECK(why == NVMM_VCPU_EXIT_INVALID ||
		    (why == NVMM_VCPU_EXIT_MEMORY &&
		    x->u.mem.prot == PROT_EXEC && x->u.mem.gpa == targets[i]),
		    "jump to %#llx: exit %#llx", (unsigned long long)targets[i],
		    (unsigned long long)why);
		if (why == NVMM_VCPU_EXIT_INVALID)
			CHECK_EQ(gpr(NVMM_X64_GPR_RIP), targets[i]);
		check_recovers("a wild jump");
	}
}

static void
case_fld1(void)
{
	struct regs r = { .rip = GVA(h_fld1) };
	uint64_t why;

	begin("x87 fld1 at CPL0", 30);
	dev_reset();
	why = go(&r);
	/* VT-x/AMD-V: it runs (OUT 0x10 with 1.0's exponent, then HLT);
	   kvm_pvm: an INVALID exit at the instruction.  Never a hang. */
	if (why == NVMM_VCPU_EXIT_INVALID) {
		CHECK_EQ(gpr(NVMM_X64_GPR_RIP), GVA(h_fld1));
		printf("  fld1: INVALID exit (hwcode %#llx): this host cannot "
		    "run x87 at CPL0\n", (unsigned long long)x->u.inv.hwcode);
	} else {
		CHECK_EQ(why, NVMM_VCPU_EXIT_HALTED);
		CHECK_EQ(dev.port, 0x10);
		CHECK_EQ(dev.out_bytes, 2);
		CHECK_EQ(dev.out_first[0] | dev.out_first[1] << 8, 0x3ff0);
		printf("  fld1: ran\n");
	}
	check_recovers("fld1");
}

/* -------------------------------------------------------------------------
 * Cases: MMIO everywhere.
 * ------------------------------------------------------------------------- */

static uint64_t *
tbl(unsigned k)
{
	return (uint64_t *)(t.ram + TBL + k * PAGE);
}

/*
 * PML4[1] -> tables mapping HIGH_GVA + i * 4 KiB to page[i] (GPAs).
 * Returns the GVA of entry i.
 */
static void
map_high(const uint64_t *gpas, unsigned n)
{
	uint64_t *pml4 = (uint64_t *)(t.ram + VMT_PML4);
	unsigned i;

	memset(tbl(0), 0, 3 * PAGE);
	tbl(0)[0] = (TBL + PAGE) | PWU;		/* PDPT -> PD */
	tbl(1)[0] = (TBL + 2 * PAGE) | PWU;	/* PD -> PT */
	for (i = 0; i < n; i++)
		tbl(2)[i] = gpas[i] | PWU;
	pml4[1] = TBL | PWU;
}

#define HV(i)	(HIGH_GVA + (uint64_t)(i) * PAGE)

/* Expected little-endian value of n MMIO bytes at gpa. */
static uint64_t
mmio_val(uint64_t gpa, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)mmio_byte(gpa + i) << (8 * i);
	return v;
}

static const char *const loads[] = { h_ld1, h_ld2, h_ld4, h_ld8 };

/* One load of n bytes at gva, all of it MMIO at gpa: one fragment. */
static void
probe_load(uint64_t gva, uint64_t gpa, size_t n, int li)
{
	struct regs r = { .rip = GVA(loads[li]), .rdi = gva };
	uint64_t why;

	dev_reset();
	why = go(&r);
	CHECK(why == NVMM_VCPU_EXIT_HALTED && dev.nmem == 1 &&
	    dev.mem[0].gpa == gpa && dev.mem[0].size == n &&
	    !dev.mem[0].write && gpr(NVMM_X64_GPR_RAX) == mmio_val(gpa, n),
	    "%zu-byte load at gva %#llx (gpa %#llx): exit %#llx, %d "
	    "fragments, first gpa %#llx size %zu, rax %#llx",
	    n, (unsigned long long)gva, (unsigned long long)gpa,
	    (unsigned long long)why, dev.nmem,
	    (unsigned long long)dev.mem[0].gpa, dev.mem[0].size,
	    (unsigned long long)gpr(NVMM_X64_GPR_RAX));
}

static void
probe_store(uint64_t gva, uint64_t gpa, int eight)
{
	struct regs r = { .rip = GVA(eight ? h_st8 : h_st4), .rdi = gva,
	    .rsi = 0x1122334455667788ULL };
	size_t n = eight ? 8 : 4;
	uint64_t why;

	dev_reset();
	why = go(&r);
	CHECK(why == NVMM_VCPU_EXIT_HALTED && dev.nmem == 1 &&
	    dev.mem[0].gpa == gpa && dev.mem[0].size == n &&
	    dev.mem[0].write && dev.mem[0].data == (r.rsi &
	    (eight ? ~0ULL : 0xffffffffULL)),
	    "%zu-byte store at gva %#llx (gpa %#llx): exit %#llx, %d "
	    "fragments, first gpa %#llx size %zu data %#llx", n,
	    (unsigned long long)gva, (unsigned long long)gpa,
	    (unsigned long long)why, dev.nmem,
	    (unsigned long long)dev.mem[0].gpa, dev.mem[0].size,
	    (unsigned long long)dev.mem[0].data);
}

/* The guest's MAXPHYADDR (CPUID 0x80000008). */
static unsigned
guest_maxphy(void)
{
	struct regs r = { .rip = GVA(h_cpuid), .rax = 0x80000008 };
	unsigned m;

	CHECK_EQ(go(&r), NVMM_VCPU_EXIT_HALTED);
	m = (unsigned)(gpr(NVMM_X64_GPR_RAX) & 0xff);
	if (m < 36 || m > 52) {
		CHECK(0, "guest MAXPHYADDR %u", m);
		m = 36;
	}
	return m;
}

static void
case_mmio_everywhere(void)
{
	static const size_t sizes[] = { 1, 2, 4, 8 };
	unsigned maxphy, i, k;
	uint64_t top, pages[10];
	uint64_t ram8, v;

	begin("MMIO to unmapped regions: top of the physical space, above "
	    "128 GiB, across pages and RAM/MMIO edges", 60);
	vmt_setup_long(&t, GVA(h_ld8));
	maxphy = guest_maxphy();
	top = (1ULL << maxphy) - PAGE;
	printf("  guest MAXPHYADDR %u: top page %#llx\n", maxphy,
	    (unsigned long long)top);
	pages[0] = top;				/* 0xfffffffff000 on 48 bits */
	pages[1] = 0x2000000000ULL;		/* 128 GiB: above NVMM's RAM */
	pages[2] = 0x1ffffff000ULL;		/* last page below 128 GiB */
	pages[3] = 0xfee00000ULL;		/* where a LAPIC would be */
	pages[4] = RAM_END;			/* right after RAM */
	pages[5] = top;				/* MMIO, then ... */
	pages[6] = RAM_END - PAGE;		/* ... RAM */
	pages[7] = RAM_END - PAGE;		/* RAM, then ... */
	pages[8] = top;				/* ... MMIO */
	pages[9] = 0x7ffff000ULL;		/* MMIO after MMIO (8 -> 9) */
	map_high(pages, 10);

	/* Each size at the start and at the end of each MMIO page. */
	for (i = 0; i < 5; i++) {
		for (k = 0; k < 4; k++) {
			probe_load(HV(i), pages[i], sizes[k], (int)k);
			probe_load(HV(i) + PAGE - sizes[k],
			    pages[i] + PAGE - sizes[k], sizes[k], (int)k);
		}
		probe_store(HV(i) + 0x10, pages[i] + 0x10, 0);
		probe_store(HV(i) + PAGE - 8, pages[i] + PAGE - 8, 1);
	}

	/* MMIO -> RAM across a page edge: 4 bytes of each. */
	memcpy(&v, "\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8", 8);
	memcpy(t.ram + RAM_END - PAGE, &v, 8);
	{
		struct regs r = { .rip = GVA(h_ld8), .rdi = HV(6) - 4 };

		dev_reset();
		CHECK_EQ(go(&r), NVMM_VCPU_EXIT_HALTED);
		CHECK_EQ(dev.nmem, 1);
		CHECK_EQ(dev.mem[0].gpa, top + PAGE - 4);
		CHECK_EQ(dev.mem[0].size, 4);
		CHECK_EQ(gpr(NVMM_X64_GPR_RAX), mmio_val(top + PAGE - 4, 4) |
		    (v & 0xffffffffULL) << 32);
	}
	/* RAM -> MMIO, load and store. */
	memcpy(t.ram + RAM_END - 4, &v, 4);
	{
		struct regs r = { .rip = GVA(h_ld8), .rdi = HV(8) - 4 };

		dev_reset();
		CHECK_EQ(go(&r), NVMM_VCPU_EXIT_HALTED);
		CHECK_EQ(dev.nmem, 1);
		CHECK_EQ(dev.mem[0].gpa, top);
		CHECK_EQ(dev.mem[0].size, 4);
		CHECK_EQ(gpr(NVMM_X64_GPR_RAX), (v & 0xffffffffULL) |
		    mmio_val(top, 4) << 32);

		r.rip = GVA(h_st8);
		r.rsi = 0x8877665544332211ULL;
		dev_reset();
		CHECK_EQ(go(&r), NVMM_VCPU_EXIT_HALTED);
		CHECK_EQ(dev.nmem, 1);
		CHECK_EQ(dev.mem[0].gpa, top);
		CHECK_EQ(dev.mem[0].size, 4);
		CHECK(dev.mem[0].write, "not a write");
		CHECK_EQ(dev.mem[0].data, 0x88776655);
		memcpy(&ram8, t.ram + RAM_END - 4, 4);
		CHECK_EQ(ram8 & 0xffffffffULL, 0x44332211);
	}
	/* MMIO -> MMIO: two fragments (one assist or two exits). */
	{
		struct regs r = { .rip = GVA(h_ld8), .rdi = HV(9) - 3 };

		dev_reset();
		CHECK_EQ(go(&r), NVMM_VCPU_EXIT_HALTED);
		CHECK_EQ(dev.nmem, 2);
		CHECK_EQ(dev.mem[0].gpa, top + PAGE - 3);
		CHECK_EQ(dev.mem[0].size, 3);
		CHECK_EQ(dev.mem[1].gpa, pages[9]);
		CHECK_EQ(dev.mem[1].size, 5);
		CHECK_EQ(gpr(NVMM_X64_GPR_RAX), mmio_val(top + PAGE - 3, 3) |
		    mmio_val(pages[9], 5) << 24);
	}
	/* Identity-mapped edges: RAM -> MMIO at 4 MiB, MMIO -> RAM below
	   the extra page. */
	{
		struct regs r = { .rip = GVA(h_ld4), .rdi = RAM_END - 2 };

		t.ram[RAM_END - 2] = 0x11;
		t.ram[RAM_END - 1] = 0x22;
		dev_reset();
		CHECK_EQ(go(&r), NVMM_VCPU_EXIT_HALTED);
		CHECK_EQ(dev.nmem, 1);
		CHECK_EQ(dev.mem[0].gpa, RAM_END);
		CHECK_EQ(dev.mem[0].size, 2);
		CHECK_EQ(gpr(NVMM_X64_GPR_RAX), 0x2211 |
		    mmio_val(RAM_END, 2) << 16);

		xpage[0] = 0x33;
		xpage[1] = 0x44;
		r.rdi = XPAGE_GPA - 2;
		dev_reset();
		CHECK_EQ(go(&r), NVMM_VCPU_EXIT_HALTED);
		CHECK_EQ(dev.nmem, 1);
		CHECK_EQ(dev.mem[0].gpa, XPAGE_GPA - 2);
		CHECK_EQ(dev.mem[0].size, 2);
		CHECK_EQ(gpr(NVMM_X64_GPR_RAX), mmio_val(XPAGE_GPA - 2, 2) |
		    0x44330000ULL);
	}
	((uint64_t *)(t.ram + VMT_PML4))[1] = 0;
}

/* -------------------------------------------------------------------------
 * Cases: string I/O with huge counts.
 * ------------------------------------------------------------------------- */

/*
 * rep insb with count rcx at rdi, stopped from another thread once the
 * device gave `bytes`.
 * KVM reads up to a page of port data ahead and stores it byte by byte
 * (MMIO writes one exit at a time), so at any IO exit every byte the
 * device gave so far is in RAM or went to MMIO, in order, with RCX and
 * RDI moved by exactly that much; in between, at most that read-ahead is
 * in flight.  Nothing else is written (guard pages).
 */
static void
rep_insb_stopped(uint64_t rdi, uint64_t rcx, unsigned long bytes)
{
	struct regs r = { .rip = GVA(h_rep_insb), .rdi = rdi, .rcx = rcx,
	    .rdx = 0x20 };
	uint64_t ram_bytes = rdi < RAM_END ? RAM_END - rdi : 0, done, i;
	unsigned long nio = 0, nbad = 0;
	struct stopper s;
	long rss0 = rss_kib();
	uint64_t why, stored;
	bool ram_ok = true, stopped = false;
	double t0 = now();

	memset(t.ram + (RAM_END - ram_bytes), 0, ram_bytes);
	dev_reset();
	dev.ins_check = true;
	dev.ins_base = rdi;
	set_regs(&r);
	atomic_store(&io_progress, 0);
	stopper_go(&s, 0, bytes);
	for (;;) {
		if (nvmm_vcpu_run(&t.mach, &t.vcpu) == -1) {
			CHECK(0, "run: %s", strerror(errno));
			break;
		}
		why = x->reason;
		if (why == NVMM_VCPU_EXIT_IO) {
			/* Everything given so far has been stored. */
			stored = ram_bytes + dev.mem_bytes;
			if (dev.in_bytes > ram_bytes && stored != dev.in_bytes)
				nbad++;
			nio++;
			if (stopped)
				break;		/* drained: checked below */
			if (nvmm_assist_io(&t.mach, &t.vcpu) == -1) {
				CHECK(0, "assist_io: %s", strerror(errno));
				break;
			}
		} else if (why == NVMM_VCPU_EXIT_MEMORY) {
			if (nvmm_assist_mem(&t.mach, &t.vcpu) == -1) {
				CHECK(0, "assist_mem: %s", strerror(errno));
				break;
			}
		} else if (why == NVMM_VCPU_EXIT_STOPPED && !stopped) {
			stopped = true;
			done = rcx - gpr(NVMM_X64_GPR_RCX);
			/* RCX counts what KVM read, stored or not yet. */
			CHECK(done == dev.in_bytes, "at the stop RCX moved by "
			    "%llu, the device gave %llu",
			    (unsigned long long)done,
			    (unsigned long long)dev.in_bytes);
			CHECK(dev.in_bytes - (ram_bytes + dev.mem_bytes) <=
			    PAGE, "%llu bytes in flight at the stop",
			    (unsigned long long)(dev.in_bytes - (ram_bytes +
			    dev.mem_bytes)));
		} else if (why != NVMM_VCPU_EXIT_NONE) {
			CHECK(0, "exit %#llx", (unsigned long long)why);
			break;
		}
	}
	stopper_join(&s);
	CHECK(stopped, "never stopped");
	CHECK_EQ(nbad, 0);
	CHECK_EQ(ram_bytes + dev.mem_bytes, dev.in_bytes);
	done = rcx - gpr(NVMM_X64_GPR_RCX);
	printf("  rep insb rcx=%#llx rdi=%#llx: stopped after %.0f ms, "
	    "%llu bytes in (%llu to MMIO) in %lu IO exits, rss %+ld KiB\n",
	    (unsigned long long)rcx, (unsigned long long)rdi,
	    (now() - t0) * 1000, (unsigned long long)dev.in_bytes,
	    (unsigned long long)dev.mem_bytes, nio, rss_kib() - rss0);
	CHECK(done == dev.in_bytes, "RCX moved by %llu, the device gave %llu",
	    (unsigned long long)done, (unsigned long long)dev.in_bytes);
	CHECK_EQ(gpr(NVMM_X64_GPR_RDI), rdi + done);
	CHECK(done >= bytes, "only %llu bytes in", (unsigned long long)done);
	for (i = 0; i < ram_bytes && i < done; i++)
		ram_ok &= t.ram[RAM_END - ram_bytes + i] == (uint8_t)i;
	CHECK(ram_ok, "RAM bytes differ from what the device gave");
	/* The rest went to MMIO, in order, with the device's bytes. */
	CHECK(dev.mem_contig, "MMIO writes not contiguous");
	CHECK(dev.ins_ok, "MMIO writes carry other bytes than the device's");
	if (dev.nmem > 0)
		CHECK_EQ(dev.mem[0].gpa, rdi + ram_bytes);
	CHECK(rss_kib() - rss0 < 16384, "RSS grew by %ld KiB",
	    rss_kib() - rss0);
	/* The IO exit left open is completed by the next setstate+run. */
}

static void
case_rep_ins_huge(void)
{
	begin("rep insb, RCX = 2^32, off the end of RAM into MMIO, stopped",
	    30);
	vmt_setup_long(&t, GVA(h_rep_insb));
	rep_insb_stopped(RAM_END - PAGE, 1ULL << 32, 256 * 1024);
	check_recovers("rep insb 2^32");

	begin("rep insb, RCX = 2^64-1, stopped", 30);
	vmt_setup_long(&t, GVA(h_rep_insb));
	rep_insb_stopped(RAM_END - 16, ~0ULL, 256 * 1024);
	check_recovers("rep insb 2^64-1");

	/* Downwards from GPA 0x10: below 0 is unmapped: #PF, no IDT. */
	begin("rep insb downwards through address 0", 20);
	{
		struct regs r = { .rip = GVA(h_rep_insb_down), .rdi = 0x10,
		    .rcx = 1ULL << 32, .rdx = 0x20 };
		bool ok = true;
		int i;

		vmt_setup_long(&t, GVA(h_rep_insb_down));
		memset(t.ram, 0, 0x20);
		dev_reset();
		CHECK_EQ(go(&r), NVMM_VCPU_EXIT_SHUTDOWN);
		/* 0x11 bytes fit; KVM may read more ahead and drop them
		   when the store faults (at most a page of data). */
		CHECK(dev.in_bytes >= 0x11 && dev.in_bytes <= 0x11 + PAGE,
		    "%llu bytes read", (unsigned long long)dev.in_bytes);
		printf("  rep insb down: %llu bytes read from the port, 17 "
		    "stored, then the #PF\n",
		    (unsigned long long)dev.in_bytes);
		for (i = 0; i <= 0x10; i++)
			ok &= t.ram[0x10 - i] == (uint8_t)i;
		CHECK(ok, "RAM [0, 0x10] not what the device gave");
		CHECK_EQ(t.ram[0x11], 0);
		check_recovers("rep insb down");
	}
}

/* rep outsb from the end of RAM into MMIO, count rcx, stopped. */
static void
case_rep_outs_huge(void)
{
	struct regs r = { .rip = GVA(h_rep_outsb), .rsi = RAM_END - 16,
	    .rcx = 1ULL << 32, .rdx = 0x21 };
	struct stopper s;
	uint64_t why, done, sum = 0, i;
	long rss0 = rss_kib();

	begin("rep outsb, RCX = 2^32, from RAM into MMIO, stopped", 30);
	vmt_setup_long(&t, GVA(h_rep_outsb));
	for (i = 0; i < 16; i++)
		t.ram[RAM_END - 16 + i] = (uint8_t)(0xc0 + i);
	dev_reset();
	set_regs(&r);
	atomic_store(&io_progress, 0);
	stopper_go(&s, 0, 8192);
	do {
		why = go_n(0, NULL);
	} while (why == NVMM_VCPU_EXIT_NONE);
	stopper_join(&s);
	CHECK_EQ(why, NVMM_VCPU_EXIT_STOPPED);
	done = r.rcx - gpr(NVMM_X64_GPR_RCX);
	printf("  rep outsb: %llu bytes out, %llu read from MMIO, rss %+ld "
	    "KiB\n", (unsigned long long)dev.out_bytes,
	    (unsigned long long)dev.mem_bytes, rss_kib() - rss0);
	/* One element may have been read (from MMIO) and not yet sent. */
	CHECK(done == dev.out_bytes || done == dev.out_bytes + 1,
	    "RCX moved by %llu, %llu bytes out", (unsigned long long)done,
	    (unsigned long long)dev.out_bytes);
	CHECK_EQ(gpr(NVMM_X64_GPR_RSI), r.rsi + done);
	CHECK(done > 16, "only %llu bytes out", (unsigned long long)done);
	for (i = 0; i < 16; i++)
		CHECK_EQ(dev.out_first[i], 0xc0 + i);
	/* The bytes after RAM came from MMIO reads at 4 MiB onwards. */
	for (i = 16; i < dev.out_bytes; i++)
		sum += mmio_byte(RAM_END + i - 16);
	for (i = 0; i < 16; i++)
		sum += 0xc0 + i;
	CHECK(sum == dev.out_sum, "bytes out do not match RAM then MMIO");
	CHECK(dev.mem_contig, "MMIO reads not contiguous");
	CHECK(rss_kib() - rss0 < 16384, "RSS grew by %ld KiB",
	    rss_kib() - rss0);
	check_recovers("rep outsb 2^32");

	/* 32-bit addressing: ESI wraps from 4 GiB - 8 to 0, which is not
	   mapped above 1 GiB: #PF, no IDT, shutdown. */
	begin("addr32 rep outsb, ESI wrapping", 20);
	{
		struct regs r2 = { .rip = GVA(h_rep_outsb_a32),
		    .rsi = 0xfffffff8ULL, .rcx = 64, .rdx = 0x21 };

		vmt_setup_long(&t, GVA(h_rep_outsb_a32));
		dev_reset();
		CHECK_EQ(go(&r2), NVMM_VCPU_EXIT_SHUTDOWN);
		CHECK_EQ(dev.out_bytes, 0);
		check_recovers("addr32 rep outsb");
	}
}

/* The console flood: n one-byte OUTs; memory stays flat. */
static void
case_console_flood(uint64_t n)
{
	struct regs r = { .rip = GVA(h_cons_flood), .rcx = n, .rdx = 123 };
	long rss0;
	double t0;

	begin("console flood", 120);
	vmt_setup_long(&t, GVA(h_cons_flood));
	dev_reset();
	rss0 = rss_kib();
	t0 = now();
	CHECK_EQ(go(&r), NVMM_VCPU_EXIT_HALTED);
	printf("  %llu bytes through port 123 in %.2f s (%.1f us each), rss "
	    "%+ld KiB\n", (unsigned long long)dev.out_bytes, now() - t0,
	    (now() - t0) * 1e6 / (double)(n ? n : 1), rss_kib() - rss0);
	CHECK_EQ(dev.out_bytes, n);
	CHECK_EQ(dev.out_sum, n * 'x');
	CHECK(rss_kib() - rss0 < 4096, "RSS grew by %ld KiB",
	    rss_kib() - rss0);
}

/* -------------------------------------------------------------------------
 * Cases: page tables outside guest RAM.
 * ------------------------------------------------------------------------- */

static int
walk(uint64_t gva, uint64_t *gpa)
{
	nvmm_prot_t prot;
	gpaddr_t g = 0;
	int r;

	errno = 0;
	r = nvmm_gva_to_gpa(&t.mach, &t.vcpu, gva, &g, &prot);
	*gpa = g;
	return r;
}

static void
expect_nowalk(uint64_t gva, const char *what)
{
	uint64_t gpa;
	int r = walk(gva, &gpa);

	CHECK(r == -1 && errno == EFAULT, "%s: gva_to_gpa(%#llx) = %d errno "
	    "%d gpa %#llx, expected EFAULT", what, (unsigned long long)gva, r,
	    errno, (unsigned long long)gpa);
}

/* CR0/CR3/CR4/EFER as given (paging modes by hand). */
static void
set_paging(uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer)
{
	struct nvmm_x64_state *st = t.vcpu.state;

	if (nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_CRS |
	    NVMM_X64_STATE_MSRS) == -1)
		vmt_die("getstate");
	st->crs[NVMM_X64_CR_CR0] = cr0;
	st->crs[NVMM_X64_CR_CR3] = cr3;
	st->crs[NVMM_X64_CR_CR4] = cr4;
	st->msrs[NVMM_X64_MSR_EFER] = efer;
	if (nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_CRS |
	    NVMM_X64_STATE_MSRS) == -1)
		vmt_die("setstate");
}

static void
case_page_tables_outside(void)
{
	uint64_t *last = (uint64_t *)(t.ram + RAM_END - PAGE);
	uint32_t *last32 = (uint32_t *)(t.ram + RAM_END - PAGE);
	static const uint64_t cr3s[] = { 0x7fff000ULL, RAM_END,
	    0x1ffffff000ULL, 0x2000000000ULL, 0xffffffffff000ULL,
	    0xfffffffffffff000ULL };
	uint64_t gpa;
	size_t i;
	int r;

	begin("page tables outside guest RAM, walked by nvmm_gva_to_gpa", 20);
	vmt_setup_long(&t, GVA(h_ld8));
	/* 4-level, CR3 itself outside RAM. */
	for (i = 0; i < sizeof(cr3s) / sizeof(cr3s[0]); i++) {
		set_paging(0x80050033, cr3s[i], 0x620, 0x500);
		expect_nowalk(0, "4-level, CR3 outside RAM");
		expect_nowalk(0xffffffff80000000ULL, "4-level, CR3 outside");
	}
	/* The last RAM page as PML4: entries lead just past RAM, to the
	   top of the space, and to itself (a loop of tables). */
	memset(last, 0, PAGE);
	last[0] = RAM_END | PWU;
	last[1] = 0xffffffffff000ULL | PWU;
	last[2] = (RAM_END - PAGE) | PWU;
	last[511] = (RAM_END - PAGE) | PWU;
	set_paging(0x80050033, RAM_END - PAGE, 0x620, 0x500);
	expect_nowalk(0, "PML4 entry to just past RAM");
	expect_nowalk(0x8000000000ULL, "PML4 entry to the top");
	r = walk(0x10000000000ULL, &gpa);	/* itself at every level */
	CHECK(r == -1 ? errno == EFAULT : gpa < (1ULL << 52),
	    "self-referencing tables: %d errno %d", r, errno);
	r = walk(0xffffffffffffffffULL, &gpa);
	CHECK(r == -1 ? errno == EFAULT : gpa < (1ULL << 52),
	    "self-referencing tables at the top: %d errno %d", r, errno);

	/* PAE: the four PDPTEs read across the end of RAM. */
	memset(last, 0, PAGE);
	set_paging(0x80000011, RAM_END - 16, 0x20, 0);
	expect_nowalk(0, "PAE, PDPT straddling the end of RAM");
	expect_nowalk(0xc0000000, "PAE, PDPT straddling the end of RAM");
	set_paging(0x80000011, RAM_END - 32, 0x20, 0);
	last[508] = RAM_END | 1;			/* PD just past RAM */
	expect_nowalk(0, "PAE, PD outside RAM");
	expect_nowalk(0x40000000, "PAE, PDPTE not present");

	/* 32-bit: the last PDE leads past RAM. */
	memset(last, 0, PAGE);
	last32[1023] = (uint32_t)RAM_END | PWU;
	set_paging(0x80000011, RAM_END - PAGE, 0, 0);
	expect_nowalk(0xffc00000, "32-bit, page table outside RAM");
	expect_nowalk(0x1000, "32-bit, PDE not present");

	/* The guest loads such a CR3 itself, then the library walks it. */
	begin("guest loads CR3 outside RAM", 20);
	{
		struct regs rr = { .rip = GVA(h_cr3), .rdi = 0x7fff000 };
		uint64_t why;

		vmt_setup_long(&t, GVA(h_cr3));
		why = go(&rr);
		/* The next fetch walks tables in unbacked memory: KVM cannot
		   (INVALID), hardware reads all ones (a #PF, no IDT: a
		   shutdown), or NetBSD gives a MEMORY exit. */
		CHECK(why == NVMM_VCPU_EXIT_INVALID ||
		    why == NVMM_VCPU_EXIT_SHUTDOWN ||
		    why == NVMM_VCPU_EXIT_MEMORY, "exit %#llx",
		    (unsigned long long)why);
		printf("  guest CR3 outside RAM: exit %#llx\n",
		    (unsigned long long)why);
		nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_CRS |
		    NVMM_X64_STATE_GPRS);
		if (why == NVMM_VCPU_EXIT_SHUTDOWN &&
		    nvmm_kvm_host() == NVMM_KVM_HOST_AMD) {
			/* AMD-V: the VMCB is undefined after a SHUTDOWN
			   intercept (APM vol 2), so kvm_amd INITs the VCPU:
			   the guest's CR3 is gone, the VCPU is at the reset
			   vector and stays shut down until a new state is
			   loaded.  The case below keeps the guest's CR3. */
			CHECK_EQ(t.vcpu.state->crs[NVMM_X64_CR_CR3], 0);
			CHECK_EQ(t.vcpu.state->gprs[NVMM_X64_GPR_RIP], 0xfff0);
			CHECK_EQ(go_n(0, NULL), NVMM_VCPU_EXIT_SHUTDOWN);
		} else {
			CHECK_EQ(t.vcpu.state->crs[NVMM_X64_CR_CR3],
			    0x7fff000);
			expect_nowalk(GVA(h_cr3), "the guest's own CR3");
		}
		check_recovers("CR3 outside RAM");
	}
	memset(last, 0, PAGE);
}

/* A thread that calls nvmm_vcpu_stop every 10 ms until told to quit. */
struct kicker {
	pthread_t th;
	atomic_int quit;
};

static void *
kicker_main(void *arg)
{
	struct kicker *k = arg;
	struct timespec ts = { 0, 10000000L };

	while (!atomic_load(&k->quit)) {
		nanosleep(&ts, NULL);
		nvmm_vcpu_stop(&t.vcpu);
	}
	return NULL;
}

/*
 * The same guest with an IDT: delivering the #PF needs the IDT gate,
 * which only the tables outside RAM translate.  Hardware reads all ones
 * there and shuts down; KVM would retry the delivery inside KVM_RUN for
 * ever (nested page fault, emulation, #PF...), so the library, at the
 * next kick, ends the run with an INVALID exit (hwcode: the nested page
 * fault code, 0x400 on AMD-V) and drops the event.
 */
static void
case_cr3_outside_idt(void)
{
	struct regs rr = { .rip = GVA(h_cr3), .rdi = 0x7fff000 };
	struct kicker k;
	uint64_t why;
	int r;

	begin("guest loads CR3 outside RAM, with an IDT, kicked", 20);
	vmt_setup_long(&t, GVA(h_cr3));
	if (nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_SEGS) == -1)
		vmt_die("getstate");
	t.vcpu.state->segs[NVMM_X64_SEG_IDT].limit = 256 * 16 - 1;
	if (nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_SEGS) == -1)
		vmt_die("setstate");
	set_regs(&rr);
	atomic_store(&k.quit, 0);
	if (pthread_create(&k.th, NULL, kicker_main, &k) != 0)
		vmt_die("pthread_create");
	do {
		r = nvmm_vcpu_run(&t.mach, &t.vcpu);
	} while (r == 0 && (x->reason == NVMM_VCPU_EXIT_NONE ||
	    x->reason == NVMM_VCPU_EXIT_STOPPED));
	why = r == 0 ? x->reason : NVMM_VCPU_EXIT_NONE;
	atomic_store(&k.quit, 1);
	pthread_join(k.th, NULL);
	*t.vcpu.stop = 0;	/* a stop that came after the exit */
	CHECK(r == 0, "nvmm_vcpu_run: %s", strerror(errno));
	printf("  guest CR3 outside RAM, IDT: exit %#llx hwcode %#llx\n",
	    (unsigned long long)why, (unsigned long long)x->u.inv.hwcode);
	if (nvmm_kvm_host() == NVMM_KVM_HOST_AMD) {
		CHECK_EQ(why, NVMM_VCPU_EXIT_INVALID);
		CHECK_EQ(x->u.inv.hwcode, 0x400);
	} else {
		CHECK(why == NVMM_VCPU_EXIT_INVALID ||
		    why == NVMM_VCPU_EXIT_SHUTDOWN ||
		    why == NVMM_VCPU_EXIT_MEMORY, "exit %#llx",
		    (unsigned long long)why);
	}
	if (why == NVMM_VCPU_EXIT_INVALID) {
		CHECK_EQ(x->exitstate.evt_pending, 0);
		nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_CRS |
		    NVMM_X64_STATE_GPRS);
		CHECK_EQ(t.vcpu.state->crs[NVMM_X64_CR_CR3], 0x7fff000);
		CHECK_EQ(t.vcpu.state->gprs[NVMM_X64_GPR_RIP], GVA(h_cr3) + 3);
		expect_nowalk(GVA(h_cr3), "the guest's own CR3");
	}
	check_recovers("CR3 outside RAM with an IDT");
}

/*
 * An OUT at the start of a page whose preceding page translates to GPAs
 * outside RAM (or not at all): the library reads around RIP to describe
 * the exit, and must stay inside RAM.
 */
static void
case_out_after_bad_page(void)
{
	uint64_t *pml4 = (uint64_t *)(t.ram + VMT_PML4);
	static const uint64_t before[] = { 0x7ffff000ULL | PWU, 0,
	    0xffffffffff000ULL | PWU, (RAM_END - PAGE) | PWU | (1ULL << 51) };
	uint64_t page = (uint64_t)(h_out_page - h_start) + VMT_CODE;
	size_t i;

	begin("I/O exit after a page that translates outside RAM", 20);
	for (i = 0; i < sizeof(before) / sizeof(before[0]); i++) {
		struct regs r = { .rip = OUTP_GVA + PAGE, .rax = 0x5a };

		vmt_setup_long(&t, OUTP_GVA + PAGE);	/* clears PML4[2] */
		memset(tbl(3), 0, 3 * PAGE);
		tbl(3)[0] = (TBL + 4 * PAGE) | PWU;
		tbl(4)[0] = (TBL + 5 * PAGE) | PWU;
		tbl(5)[0] = before[i];
		tbl(5)[1] = page | PWU;
		pml4[2] = (TBL + 3 * PAGE) | PWU;
		dev_reset();
		set_regs(&r);
		CHECK_EQ(go_n(1, NULL), NVMM_VCPU_EXIT_IO);
		CHECK_EQ(x->u.io.port, 0x12);
		CHECK(!x->u.io.in && !x->u.io.str && !x->u.io.rep,
		    "IO exit fields");
		CHECK_EQ(dev.out_bytes, 1);
		CHECK_EQ(dev.out_first[0], 0x5a);
		CHECK_EQ(go_n(0, NULL), NVMM_VCPU_EXIT_HALTED);
		CHECK_EQ(gpr(NVMM_X64_GPR_RIP), OUTP_GVA + PAGE + 3);
	}
	pml4[2] = 0;
}

/* -------------------------------------------------------------------------
 * Main.
 * ------------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	uint64_t flood = argc > 1 ? strtoull(argv[1], NULL, 0) : 200000;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, on_alarm);
	/* RSS must count what we use: with THP "always", khugepaged turns
	   a few touched pages (guest RAM, ASan's regions) into 2 MiB at
	   any moment. */
	(void)prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	vmt_init_or_skip();

	/* vmt_create's layout, with guard pages around the host memory. */
	memset(&t, 0, sizeof(t));
	if (nvmm_machine_create(&t.mach) == -1)
		vmt_die("nvmm_machine_create");
	t.ram_size = VMT_RAM;
	t.ram = guarded(VMT_RAM);
	xpage = guarded(PAGE);
	if (nvmm_hva_map(&t.mach, (uintptr_t)t.ram, VMT_RAM) == -1 ||
	    nvmm_hva_map(&t.mach, (uintptr_t)xpage, PAGE) == -1)
		vmt_die("nvmm_hva_map");
	if (nvmm_gpa_map(&t.mach, (uintptr_t)t.ram, 0, VMT_RAM,
	    PROT_READ | PROT_WRITE | PROT_EXEC) == -1 ||
	    nvmm_gpa_map(&t.mach, (uintptr_t)xpage, XPAGE_GPA, PAGE,
	    PROT_READ | PROT_WRITE | PROT_EXEC) == -1)
		vmt_die("nvmm_gpa_map");
	if (nvmm_vcpu_create(&t.mach, 0, &t.vcpu) == -1)
		vmt_die("nvmm_vcpu_create");
	if (nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    &cbs) == -1)
		vmt_die("nvmm_vcpu_configure");
	x = t.vcpu.exit;
	vmt_load(&t, VMT_CODE, h_start, h_end);
	vmt_setup_long(&t, VMT_CODE);

	case_triple_fault();
	case_spin_stopped();
	case_wild_jump();
	case_fld1();
	case_mmio_everywhere();
	case_rep_ins_huge();
	case_rep_outs_huge();
	case_console_flood(flood);
	case_page_tables_outside();
	case_cr3_outside_idt();
	case_out_after_bad_page();
	alarm(0);

	if (nvmm_machine_destroy(&t.mach) == -1)
		vmt_die("nvmm_machine_destroy");
	printf("hostile cases: %d\n", ncases);
	return vmt_done("t_hostile");
}
