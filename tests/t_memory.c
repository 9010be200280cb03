/* t_memory.c - HVA/GPA mapping rules, gpa_to_hva, gva_to_gpa, and what a guest sees of them. */

/*
 * libnvmm(3) on the memory functions, docs/nvmm-semantics.md 7.  The argument checks use
 * machines without VCPUs; the guest part runs t_memory_guest.S.
 */

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "vmtest.h"

#define PAGE		4096ULL
#define GIB		(1ULL << 30)
#define MAXRAM		(128 * GIB)

/* GPAs of t_memory_guest.S. */
#define RO_GPA		0x800000ULL
#define NONE_GPA	0x900000ULL
#define RW_GPA		0xa00000ULL
#define REMAP_GPA	0xb00000ULL


extern const char mem_start[], mem_end[], mem_ro_read[], mem_ro_write[],
    mem_none_read[], mem_none_write[], mem_rw_read[], mem_rw_write[],
    mem_gone_read[], mem_gone_write[], mem_remap_read[], mem_remap_write[],
    mem_hlt[];

#define GVA(l)	((uint64_t)((l) - mem_start) + VMT_CODE)

static uint8_t *
pages(size_t n)
{
	void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		vmt_die("mmap");
	return p;
}

static uintptr_t
H(const uint8_t *base, uint64_t off)
{
	return (uintptr_t)base + (uintptr_t)off;
}

/* gpa_to_hva gives exactly (hva, prot). */
static void
check_lookup(struct nvmm_machine *m, gpaddr_t gpa, uintptr_t hva,
    nvmm_prot_t prot)
{
	uintptr_t h = 0;
	nvmm_prot_t p = 0xdead;
	int r;

	errno = 0;
	r = nvmm_gpa_to_hva(m, gpa, &h, &p);
	CHECK(r == 0 && h == hva && p == prot,
	    "gpa_to_hva(%#llx): %d errno %d hva %#lx prot %#llx, expected "
	    "%#lx %#llx", (unsigned long long)gpa, r, errno,
	    (unsigned long)h, (unsigned long long)p, (unsigned long)hva,
	    (unsigned long long)prot);
}

static void
check_nolookup(struct nvmm_machine *m, gpaddr_t gpa)
{
	uintptr_t h;
	nvmm_prot_t p;
	int r;

	errno = 0;
	r = nvmm_gpa_to_hva(m, gpa, &h, &p);
	CHECK(r == -1 && errno == ENOENT,
	    "gpa_to_hva(%#llx): %d errno %d, expected ENOENT",
	    (unsigned long long)gpa, r, errno);
}

/* -------------------------------------------------------------------------
 * nvmm_hva_map / nvmm_hva_unmap.
 * ------------------------------------------------------------------------- */

static void
hva_rules(void)
{
	struct nvmm_machine m;
	struct nvmm_ctl_mach_info info;
	uint8_t *b = pages(64), *hole = pages(3);
	int i;

	/* A hole in the middle of a mapped range. */
	if (munmap(hole + PAGE, PAGE) == -1)
		vmt_die("munmap");
	CHECK_OK(nvmm_machine_create(&m));

	CHECK_ERR(nvmm_hva_map(&m, 0, PAGE), EINVAL);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 1), PAGE), EINVAL);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 0x800), PAGE), EINVAL);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 0), PAGE + 1), EINVAL);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 0), 100), EINVAL);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 0), 0), EINVAL);
	CHECK_ERR(nvmm_hva_map(&m, 0xfffffffffffff000ULL, 0x2000), EINVAL);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 0), SIZE_MAX & ~(PAGE - 1)), EINVAL);
	/* Library extension: the host range must be mapped. */
	CHECK_ERR(nvmm_hva_map(&m, H(hole, 0), 3 * PAGE), EFAULT);
	CHECK_ERR(nvmm_hva_map(&m, H(hole, PAGE), PAGE), EFAULT);
	CHECK_ERR(nvmm_hva_map(&m, PAGE, PAGE), EFAULT);

	/* [8, 16) registered. */
	CHECK_OK(nvmm_hva_map(&m, H(b, 8 * PAGE), 8 * PAGE));
	CHECK_ERR(nvmm_hva_map(&m, H(b, 4 * PAGE), 8 * PAGE), EEXIST);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 12 * PAGE), 8 * PAGE), EEXIST);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 15 * PAGE), 2 * PAGE), EEXIST);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 7 * PAGE), 2 * PAGE), EEXIST);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 0), 32 * PAGE), EEXIST);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 8 * PAGE), 9 * PAGE), EEXIST);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 7 * PAGE), 9 * PAGE), EEXIST);
	/* Nested (the same range included) is accepted; adjacent too. */
	CHECK_OK(nvmm_hva_map(&m, H(b, 10 * PAGE), 2 * PAGE));
	CHECK_OK(nvmm_hva_map(&m, H(b, 8 * PAGE), 8 * PAGE));
	CHECK_OK(nvmm_hva_map(&m, H(b, 15 * PAGE), PAGE));
	CHECK_OK(nvmm_hva_map(&m, H(b, 16 * PAGE), 4 * PAGE));
	CHECK_OK(nvmm_hva_map(&m, H(b, 4 * PAGE), 4 * PAGE));
	/* nram counts every registration, nested ones included. */
	memset(&info, 0, sizeof(info));
	info.machid = m.machid;
	CHECK_OK(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)));
	CHECK_EQ(info.nram, (8 + 2 + 8 + 1 + 4 + 4) * PAGE);

	/* Unmap wants the exact (hva, size) of a registration. */
	CHECK_ERR(nvmm_hva_unmap(&m, H(b, 8 * PAGE), 4 * PAGE), ENOENT);
	CHECK_ERR(nvmm_hva_unmap(&m, H(b, 8 * PAGE), 9 * PAGE), ENOENT);
	CHECK_ERR(nvmm_hva_unmap(&m, H(b, 9 * PAGE), 7 * PAGE), ENOENT);
	CHECK_ERR(nvmm_hva_unmap(&m, H(b, 4 * PAGE), 16 * PAGE), ENOENT);
	CHECK_ERR(nvmm_hva_unmap(&m, H(b, 40 * PAGE), PAGE), ENOENT);
	CHECK_ERR(nvmm_hva_unmap(&m, H(b, 8 * PAGE + 1), 8 * PAGE), ENOENT);
	CHECK_ERR(nvmm_hva_unmap(&m, 0, PAGE), ENOENT);
	CHECK_ERR(nvmm_hva_unmap(&m, H(b, 8 * PAGE), 0), ENOENT);
	CHECK_OK(nvmm_hva_unmap(&m, H(b, 10 * PAGE), 2 * PAGE));
	CHECK_ERR(nvmm_hva_unmap(&m, H(b, 10 * PAGE), 2 * PAGE), ENOENT);
	/* Registered twice: unmapped twice. */
	CHECK_OK(nvmm_hva_unmap(&m, H(b, 8 * PAGE), 8 * PAGE));
	CHECK_OK(nvmm_hva_unmap(&m, H(b, 8 * PAGE), 8 * PAGE));
	CHECK_ERR(nvmm_hva_unmap(&m, H(b, 8 * PAGE), 8 * PAGE), ENOENT);
	/* Gone: a range across the old ones is no longer refused. */
	CHECK_OK(nvmm_hva_unmap(&m, H(b, 15 * PAGE), PAGE));
	CHECK_OK(nvmm_hva_map(&m, H(b, 9 * PAGE), 7 * PAGE));
	CHECK_ERR(nvmm_hva_map(&m, H(b, 7 * PAGE), 3 * PAGE), EEXIST);
	CHECK_OK(nvmm_machine_destroy(&m));

	/* 32 registrations per machine, nested ones included. */
	CHECK_OK(nvmm_machine_create(&m));
	for (i = 0; i < 31; i++)
		CHECK_OK(nvmm_hva_map(&m, H(b, (uint64_t)i * PAGE), PAGE));
	CHECK_OK(nvmm_hva_map(&m, H(b, 40 * PAGE), 4 * PAGE));
	CHECK_ERR(nvmm_hva_map(&m, H(b, 32 * PAGE), PAGE), ENOBUFS);
	CHECK_ERR(nvmm_hva_map(&m, H(b, 41 * PAGE), PAGE), ENOBUFS);
	CHECK_OK(nvmm_hva_unmap(&m, H(b, 7 * PAGE), PAGE));
	CHECK_OK(nvmm_hva_map(&m, H(b, 32 * PAGE), PAGE));
	CHECK_ERR(nvmm_hva_map(&m, H(b, 7 * PAGE), PAGE), ENOBUFS);
	CHECK_OK(nvmm_machine_destroy(&m));

	munmap(b, 64 * PAGE);
	munmap(hole, PAGE);
	munmap(hole + 2 * PAGE, PAGE);
}

/* -------------------------------------------------------------------------
 * nvmm_gpa_map / nvmm_gpa_unmap / nvmm_gpa_to_hva.
 * ------------------------------------------------------------------------- */

static void
gpa_rules(void)
{
	static const int badprot[] = { PROT_READ | 0x8, 0x10, 0x80,
	    PROT_GROWSDOWN, PROT_READ | PROT_GROWSUP, -1, 0x40000000 };
	struct nvmm_machine m;
	uint8_t *b = pages(64);
	uint8_t *r = b + 32 * PAGE;		/* registered: 16 pages */
	uintptr_t h;
	nvmm_prot_t p;
	size_t i;
	int ret;

	CHECK_OK(nvmm_machine_create(&m));
	CHECK_OK(nvmm_hva_map(&m, H(b, 8 * PAGE), 8 * PAGE));	/* A */
	CHECK_OK(nvmm_hva_map(&m, H(b, 16 * PAGE), 4 * PAGE));	/* C */
	CHECK_OK(nvmm_hva_map(&m, H(r, 0), 16 * PAGE));		/* R */

	for (i = 0; i < sizeof(badprot) / sizeof(badprot[0]); i++) {
		errno = 0;
		ret = nvmm_gpa_map(&m, H(r, 0), 0x100000, PAGE, badprot[i]);
		CHECK(ret == -1 && errno == EINVAL,
		    "gpa_map prot %#x: %d errno %d, expected EINVAL",
		    badprot[i], ret, errno);
	}
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 0), 0x100000, 0, PROT_READ), EINVAL);
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 0), 0x100001, PAGE, PROT_READ),
	    EINVAL);
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 0), 0x100800, PAGE, PROT_READ),
	    EINVAL);
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 0), 0x100000, 0x1800, PROT_READ),
	    EINVAL);
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 0), 0x100000, 1, PROT_READ), EINVAL);
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 0x10), 0x100000, PAGE, PROT_READ),
	    EINVAL);
	CHECK_ERR(nvmm_gpa_map(&m, 0, 0x100000, PAGE, PROT_READ), EINVAL);
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 0), MAXRAM, PAGE, PROT_READ), EINVAL);
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 0), MAXRAM + PAGE, PAGE, PROT_READ),
	    EINVAL);
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 0), MAXRAM - PAGE, 2 * PAGE,
	    PROT_READ), EINVAL);
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 0), 0xfffffffffffff000ULL, 2 * PAGE,
	    PROT_READ), EINVAL);
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 0), 0xfffffffffffff000ULL, PAGE,
	    PROT_READ), EINVAL);
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 0), 0x100000, 0xfffffffffff00000ULL,
	    PROT_READ), EINVAL);
	/* The HVA side: inside one registered range. */
	CHECK_ERR(nvmm_gpa_map(&m, H(b, 50 * PAGE), 0x100000, PAGE,
	    PROT_READ), EINVAL);			/* not registered */
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 15 * PAGE), 0x100000, 2 * PAGE,
	    PROT_READ), EINVAL);			/* past R's end */
	CHECK_ERR(nvmm_gpa_map(&m, H(b, 7 * PAGE), 0x100000, 2 * PAGE,
	    PROT_READ), EINVAL);			/* before A */
	CHECK_ERR(nvmm_gpa_map(&m, H(b, 12 * PAGE), 0x100000, 8 * PAGE,
	    PROT_READ), EINVAL);			/* across A and C */
	/* None of that left anything behind. */
	check_nolookup(&m, 0x100000);
	check_nolookup(&m, MAXRAM - PAGE);

	/* The last page of the guest-physical space is mappable. */
	CHECK_OK(nvmm_gpa_map(&m, H(r, 0), MAXRAM - PAGE, PAGE, PROT_READ));
	check_lookup(&m, MAXRAM - 1, H(r, PAGE - 1), NVMM_PROT_READ);
	CHECK_OK(nvmm_gpa_unmap(&m, H(r, 0), MAXRAM - PAGE, PAGE));
	/* So is the range just below 4 GiB where firmware goes (KVM's
	   private VMX TSS must not be in the way). */
	CHECK_OK(nvmm_gpa_map(&m, H(r, 0), 0xfffbd000, 3 * PAGE, PROT_READ));
	CHECK_OK(nvmm_gpa_unmap(&m, H(r, 0), 0xfffbd000, 3 * PAGE));
	CHECK_OK(nvmm_gpa_map(&m, H(r, 0), 0xffc00000, 16 * PAGE,
	    PROT_READ | PROT_EXEC));
	CHECK_OK(nvmm_gpa_unmap(&m, H(r, 0), 0xffc00000, 16 * PAGE));

	/* [0x100000, 0x104000) -> R[0, 4). */
	CHECK_OK(nvmm_gpa_map(&m, H(r, 0), 0x100000, 4 * PAGE,
	    PROT_READ | PROT_WRITE));
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 4 * PAGE), 0x100000, 4 * PAGE,
	    PROT_READ), EINVAL);			/* identical */
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 4 * PAGE), 0x102000, 4 * PAGE,
	    PROT_READ), EINVAL);			/* tail */
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 4 * PAGE), 0x0ff000, 2 * PAGE,
	    PROT_READ), EINVAL);			/* head */
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 4 * PAGE), 0x0fe000, 8 * PAGE,
	    PROT_READ), EINVAL);			/* enclosing */
	CHECK_ERR(nvmm_gpa_map(&m, H(r, 4 * PAGE), 0x101000, PAGE,
	    PROT_READ), EINVAL);			/* inside */
	/* Adjacent on both sides. */
	CHECK_OK(nvmm_gpa_map(&m, H(r, 4 * PAGE), 0x104000, 2 * PAGE,
	    PROT_READ));
	CHECK_OK(nvmm_gpa_map(&m, H(r, 6 * PAGE), 0x0fe000, 2 * PAGE,
	    PROT_READ | PROT_EXEC));
	/* The same host memory at a second GPA. */
	CHECK_OK(nvmm_gpa_map(&m, H(r, 0), 0x200000, 4 * PAGE,
	    PROT_READ | PROT_WRITE | PROT_EXEC));

	/* Byte-granular lookups, protections as NVMM_PROT_*. */
	check_lookup(&m, 0x100000, H(r, 0), NVMM_PROT_READ | NVMM_PROT_WRITE);
	check_lookup(&m, 0x100123, H(r, 0x123),
	    NVMM_PROT_READ | NVMM_PROT_WRITE);
	check_lookup(&m, 0x103fff, H(r, 4 * PAGE - 1),
	    NVMM_PROT_READ | NVMM_PROT_WRITE);
	check_lookup(&m, 0x104000, H(r, 4 * PAGE), NVMM_PROT_READ);
	check_lookup(&m, 0x105fff, H(r, 6 * PAGE - 1), NVMM_PROT_READ);
	check_lookup(&m, 0x0fe001, H(r, 6 * PAGE + 1),
	    NVMM_PROT_READ | NVMM_PROT_EXEC);
	check_lookup(&m, 0x200010, H(r, 0x10),
	    NVMM_PROT_READ | NVMM_PROT_WRITE | NVMM_PROT_EXEC);
	check_nolookup(&m, 0x106000);
	check_nolookup(&m, 0x0fdfff);
	check_nolookup(&m, 0x204000);
	check_nolookup(&m, 0);
	check_nolookup(&m, MAXRAM);
	check_nolookup(&m, UINT64_MAX);
	CHECK_ERR(nvmm_gpa_to_hva(&m, 0x100000, NULL, &p), EFAULT);
	CHECK_ERR(nvmm_gpa_to_hva(&m, 0x100000, &h, NULL), EFAULT);

	/* Unmap wants the exact triple. */
	CHECK_ERR(nvmm_gpa_unmap(&m, H(r, 0), 0x100000, 2 * PAGE), ESRCH);
	CHECK_ERR(nvmm_gpa_unmap(&m, H(r, 0), 0x100000, 8 * PAGE), ESRCH);
	CHECK_ERR(nvmm_gpa_unmap(&m, H(r, PAGE), 0x100000, 4 * PAGE), ESRCH);
	CHECK_ERR(nvmm_gpa_unmap(&m, H(r, 0), 0x101000, 3 * PAGE), ESRCH);
	CHECK_ERR(nvmm_gpa_unmap(&m, H(r, 0), 0x300000, 4 * PAGE), ESRCH);
	CHECK_ERR(nvmm_gpa_unmap(&m, H(r, 4 * PAGE), 0x100000, 4 * PAGE),
	    ESRCH);
	check_lookup(&m, 0x100000, H(r, 0), NVMM_PROT_READ | NVMM_PROT_WRITE);
	CHECK_OK(nvmm_gpa_unmap(&m, H(r, 0), 0x100000, 4 * PAGE));
	CHECK_ERR(nvmm_gpa_unmap(&m, H(r, 0), 0x100000, 4 * PAGE), ESRCH);
	check_nolookup(&m, 0x100000);
	check_nolookup(&m, 0x103fff);
	/* Its neighbours and its alias stay. */
	check_lookup(&m, 0x104000, H(r, 4 * PAGE), NVMM_PROT_READ);
	check_lookup(&m, 0x200000, H(r, 0),
	    NVMM_PROT_READ | NVMM_PROT_WRITE | NVMM_PROT_EXEC);
	/* And the space is free again. */
	CHECK_OK(nvmm_gpa_map(&m, H(r, 8 * PAGE), 0x100000, 4 * PAGE,
	    PROT_WRITE));
	check_lookup(&m, 0x100000, H(r, 8 * PAGE), NVMM_PROT_WRITE);

	/* Each protection combination, never USER. */
	for (i = 0; i < 8; i++) {
		gpaddr_t gpa = 0x1000000 + i * 0x10000;
		nvmm_prot_t want = ((i & PROT_READ) ? NVMM_PROT_READ : 0) |
		    ((i & PROT_WRITE) ? NVMM_PROT_WRITE : 0) |
		    ((i & PROT_EXEC) ? NVMM_PROT_EXEC : 0);

		CHECK_OK(nvmm_gpa_map(&m, H(r, 12 * PAGE), gpa, PAGE,
		    (int)i));
		check_lookup(&m, gpa + 0x7ff, H(r, 12 * PAGE + 0x7ff), want);
	}

	CHECK_OK(nvmm_machine_destroy(&m));
	munmap(b, 64 * PAGE);
}

/* -------------------------------------------------------------------------
 * A guest: read-only and no-access ranges, unmap, remap (4.14).
 * ------------------------------------------------------------------------- */

static struct {
	int nio;
	uint16_t port;
	uint32_t data;
	int nmem;
	gpaddr_t gpa;
	bool write;
	size_t size;
	uint64_t wdata;
} cb;
static uint32_t mem_answer;

static void
io_cb(struct nvmm_io *io)
{
	cb.nio++;
	cb.port = io->port;
	cb.data = 0;
	if (io->in)
		memset(io->data, 0, io->size);
	else
		memcpy(&cb.data, io->data, io->size < 4 ? io->size : 4);
}

static void
mem_cb(struct nvmm_mem *mem)
{
	cb.nmem++;
	cb.gpa = mem->gpa;
	cb.write = mem->write;
	cb.size = mem->size;
	cb.wdata = 0;
	if (mem->write)
		memcpy(&cb.wdata, mem->data, mem->size < 8 ? mem->size : 8);
	else
		memcpy(mem->data, &mem_answer,
		    mem->size < 4 ? mem->size : 4);
}

/* Runs to the next exit other than NONE. */
static uint64_t
next_exit(struct vmt *t)
{
	return vmt_run(t);
}

/* Expects an OUT to port; completes it; returns its data. */
static uint32_t
expect_out(struct vmt *t, uint16_t port)
{
	struct nvmm_x86_exit *x = t->vcpu.exit;
	uint64_t r = next_exit(t);

	CHECK_EQ(r, NVMM_VCPU_EXIT_IO);
	if (r != NVMM_VCPU_EXIT_IO)
		return 0xffffffff;
	CHECK_EQ(x->u.io.port, port);
	cb.port = 0;
	CHECK_OK(nvmm_assist_io(&t->mach, &t->vcpu));
	CHECK_EQ(cb.port, port);
	return cb.data;
}

/* Expects a MEMORY exit; checks it, RIP, and completes it. */
static void
expect_mem(struct vmt *t, int prot, gpaddr_t gpa, uint64_t rip)
{
	struct nvmm_x86_exit *x = t->vcpu.exit;
	uint64_t r = next_exit(t);
	int before = cb.nmem, fails = vmt_failures;

	CHECK_EQ(r, NVMM_VCPU_EXIT_MEMORY);
	if (r != NVMM_VCPU_EXIT_MEMORY)
		return;
	CHECK_EQ(x->u.mem.prot, prot);
	CHECK_EQ(x->u.mem.gpa, gpa);
	/* RIP on the faulting instruction for reads; KVM has already
	   emulated a write and moved RIP past it (documented). */
	if (prot == PROT_WRITE) {
		uint64_t pc = vmt_gpr(t, NVMM_X64_GPR_RIP);

		CHECK(pc > rip && pc <= rip + 15, "RIP %#llx after the write "
		    "at %#llx", (unsigned long long)pc,
		    (unsigned long long)rip);
	} else {
		CHECK_EQ(vmt_gpr(t, NVMM_X64_GPR_RIP), rip);
	}
	CHECK_OK(nvmm_assist_mem(&t->mach, &t->vcpu));
	CHECK_EQ(cb.nmem, before + 1);
	CHECK_EQ(cb.gpa, gpa);
	CHECK_EQ(cb.write, prot == PROT_WRITE);
	CHECK_EQ(cb.size, 4);
	if (vmt_failures != fails)
		fprintf(stderr, "  (the %s MEMORY exit at GPA %#llx)\n",
		    prot == PROT_WRITE ? "write" : "read",
		    (unsigned long long)gpa);
}

static void
guest_view(struct vmt *t, uint8_t *x)
{
	uint8_t *ro = x, *none = x + 4 * PAGE, *rw = x + 8 * PAGE;
	uint64_t v64;
	uint32_t v32;

	CHECK_OK(nvmm_hva_map(&t->mach, H(x, 0), 16 * PAGE));
	CHECK_OK(nvmm_gpa_map(&t->mach, H(ro, 0), RO_GPA, 2 * PAGE,
	    PROT_READ));
	CHECK_OK(nvmm_gpa_map(&t->mach, H(none, 0), NONE_GPA, 2 * PAGE, 0));
	CHECK_OK(nvmm_gpa_map(&t->mach, H(rw, 0), RW_GPA, 2 * PAGE,
	    PROT_READ | PROT_WRITE));
	check_lookup(&t->mach, NONE_GPA + 0x10, H(none, 0x10), 0);

	v64 = 0x1122334455667788ULL;
	memcpy(ro, &v64, 8);
	v64 = 0x9999999999999999ULL;
	memcpy(ro + 8, &v64, 8);
	memset(none, 0x77, 2 * PAGE);
	v32 = 0x600df00d;
	memcpy(rw, &v32, 4);

	vmt_load(t, VMT_CODE, mem_start, mem_end);
	vmt_setup_long(t, VMT_CODE);

	/* Read-only RAM: reads see the host's data without an exit. */
	CHECK_EQ(expect_out(t, 0x10), 0x55667788);
	CHECK_EQ(vmt_gpr(t, NVMM_X64_GPR_RAX), 0x1122334455667788ULL);
	CHECK_EQ(cb.nmem, 0);
	/* A write is a MEMORY exit; the assist hands it to the callback;
	   the host memory is not written. */
	expect_mem(t, PROT_WRITE, RO_GPA + 8, GVA(mem_ro_write));
	CHECK_EQ(cb.wdata, 0x11223344);
	memcpy(&v64, ro + 8, 8);
	CHECK_EQ(v64, 0x9999999999999999ULL);
	expect_out(t, 0x11);
	CHECK_EQ(vmt_gpr(t, NVMM_X64_GPR_RIP), GVA(mem_ro_write) + 9);

	/* prot 0: reads and writes are MEMORY exits, host memory unseen. */
	mem_answer = 0x5a5a1234;
	expect_mem(t, PROT_READ, NONE_GPA + 0x10, GVA(mem_none_read));
	CHECK_EQ(expect_out(t, 0x12), 0x5a5a1234);
	expect_mem(t, PROT_WRITE, NONE_GPA + 0x20, GVA(mem_none_write));
	CHECK_EQ(cb.wdata, 0x55667788);
	memcpy(&v32, none + 0x20, 4);
	CHECK_EQ(v32, 0x77777777);
	expect_out(t, 0x13);

	/* Read-write RAM is shared both ways. */
	CHECK_EQ(expect_out(t, 0x14), 0x600df00d);
	expect_out(t, 0x15);
	memcpy(&v32, rw + 4, 4);
	CHECK_EQ(v32, 0xdeadbeef);
	CHECK_EQ(cb.nmem, 3);

	/* Unmapped: MEMORY exits; host writes are no longer seen. */
	CHECK_OK(nvmm_gpa_unmap(&t->mach, H(rw, 0), RW_GPA, 2 * PAGE));
	check_nolookup(&t->mach, RW_GPA);
	v32 = 0xbbbbbbbb;
	memcpy(rw, &v32, 4);
	mem_answer = 0x0badf00d;
	expect_mem(t, PROT_READ, RW_GPA, GVA(mem_gone_read));
	CHECK_EQ(expect_out(t, 0x16), 0x0badf00d);
	expect_mem(t, PROT_WRITE, RW_GPA + 8, GVA(mem_gone_write));
	CHECK_EQ(cb.wdata, 0x01020304);
	memcpy(&v32, rw + 8, 4);
	CHECK_EQ(v32, 0);
	expect_out(t, 0x17);

	/* Remapped elsewhere: the same memory, both ways. */
	CHECK_OK(nvmm_gpa_map(&t->mach, H(rw, 0), REMAP_GPA, 2 * PAGE,
	    PROT_READ | PROT_WRITE | PROT_EXEC));
	check_lookup(&t->mach, REMAP_GPA + 12, H(rw, 12),
	    NVMM_PROT_READ | NVMM_PROT_WRITE | NVMM_PROT_EXEC);
	vmt_set_gpr(t, NVMM_X64_GPR_RSI, REMAP_GPA);
	CHECK_EQ(expect_out(t, 0x18), 0xbbbbbbbb);
	expect_out(t, 0x19);
	memcpy(&v32, rw + 12, 4);
	CHECK_EQ(v32, 0xcafef00d);
	CHECK_EQ(next_exit(t), NVMM_VCPU_EXIT_HALTED);
	CHECK_EQ(vmt_gpr(t, NVMM_X64_GPR_RIP), GVA(mem_hlt) + 1);
	CHECK_EQ(cb.nmem, 5);
}

/* -------------------------------------------------------------------------
 * nvmm_gva_to_gpa (6.1).
 * ------------------------------------------------------------------------- */

#define PTE_P	0x1ULL
#define PTE_W	0x2ULL
#define PTE_U	0x4ULL
#define PTE_PS	0x80ULL
#define PTE_PAT	0x80ULL
#define PTE_NX	(1ULL << 63)

#define PROT_RWXU	(NVMM_PROT_READ | NVMM_PROT_WRITE | NVMM_PROT_EXEC | \
			 NVMM_PROT_USER)

static void
check_walk(struct vmt *t, gvaddr_t gva, gpaddr_t want, nvmm_prot_t wprot)
{
	gpaddr_t gpa = 0xdead;
	nvmm_prot_t prot = 0xdead;
	int r;

	errno = 0;
	r = nvmm_gva_to_gpa(&t->mach, &t->vcpu, gva, &gpa, &prot);
	CHECK(r == 0 && gpa == want && prot == wprot,
	    "gva_to_gpa(%#llx): %d errno %d gpa %#llx prot %#llx, expected "
	    "%#llx %#llx", (unsigned long long)gva, r, errno,
	    (unsigned long long)gpa, (unsigned long long)prot,
	    (unsigned long long)want, (unsigned long long)wprot);
}

static void
check_nowalk(struct vmt *t, gvaddr_t gva)
{
	gpaddr_t gpa;
	nvmm_prot_t prot;
	int r;

	errno = 0;
	r = nvmm_gva_to_gpa(&t->mach, &t->vcpu, gva, &gpa, &prot);
	CHECK(r == -1 && errno == EFAULT,
	    "gva_to_gpa(%#llx): %d errno %d, expected EFAULT",
	    (unsigned long long)gva, r, errno);
}

/* Paging off (the reset state): identity, everything allowed. */
static void
walk_flat(struct vmt *t)
{
	check_walk(t, 0, 0, PROT_RWXU);
	check_walk(t, 0x12345678, 0x12345678, PROT_RWXU);
	check_walk(t, 0xfffffff0, 0xfffffff0, PROT_RWXU);
	check_walk(t, 0x123456789ULL, 0x123456789ULL, PROT_RWXU);
}

static void
walk_long(struct vmt *t, uint8_t *ro, uint8_t *none)
{
	uint64_t *pml4 = (uint64_t *)(t->ram + VMT_PML4);
	uint64_t *pdpt = (uint64_t *)(t->ram + VMT_PML4 + 0x1000);
	uint64_t *pd = (uint64_t *)(t->ram + VMT_PML4 + 0x2000);
	uint64_t *pt = (uint64_t *)(t->ram + VMT_DATA + 0x80000);
	uint64_t *pd4 = (uint64_t *)(t->ram + VMT_DATA + 0x90000);
	uint64_t *pdpt1 = (uint64_t *)(t->ram + VMT_DATA + 0xa0000);
	uint64_t *ropd = (uint64_t *)ro, *nonepd = (uint64_t *)none;
	gpaddr_t gpa;
	nvmm_prot_t prot;

	/* vmt_setup_long: 1 GiB identity-mapped with 2 MiB pages. */
	check_walk(t, 0, 0, PROT_RWXU);
	check_walk(t, VMT_CODE + 0x123, VMT_CODE + 0x123, PROT_RWXU);
	check_walk(t, 0x3fffffff, 0x3fffffff, PROT_RWXU);
	check_walk(t, 0x2345678, 0x2345678, PROT_RWXU);
	check_nowalk(t, 0x40000000);			/* above 1 GiB */
	check_nowalk(t, 0x7fffffffffffULL);
	check_nowalk(t, 0x800000000000ULL);		/* non-canonical */
	check_nowalk(t, 0xffff800000000000ULL);
	check_nowalk(t, 0xffffffffffffffffULL);
	CHECK_ERR(nvmm_gva_to_gpa(&t->mach, &t->vcpu, 0, NULL, &prot),
	    EFAULT);
	CHECK_ERR(nvmm_gva_to_gpa(&t->mach, &t->vcpu, 0, &gpa, NULL),
	    EFAULT);

	/* 4 KiB pages at 2 MiB: each restriction alone. */
	memset(pt, 0, PAGE);
	pd[1] = (VMT_DATA + 0x80000) | PTE_P | PTE_W | PTE_U;
	pt[0] = 0x123000 | PTE_P | PTE_NX;		/* R/W, U/S clear */
	pt[1] = 0x124000 | PTE_P | PTE_W | PTE_U;
	pt[2] = 0x125000 | PTE_P | PTE_W | PTE_NX;
	pt[3] = 0x126000 | PTE_P | PTE_U;
	pt[4] = 0x127000 | PTE_W | PTE_U;		/* not present */
	pt[5] = 0x128000 | PTE_P | PTE_W | PTE_U | PTE_PAT;
	pt[6] = 0x7fffff000ULL | PTE_P | PTE_W | PTE_U;
	check_walk(t, 0x200456, 0x123456, NVMM_PROT_READ);
	check_walk(t, 0x201010, 0x124010, PROT_RWXU);
	check_walk(t, 0x202fff, 0x125fff, NVMM_PROT_READ | NVMM_PROT_WRITE);
	check_walk(t, 0x203000, 0x126000,
	    NVMM_PROT_READ | NVMM_PROT_EXEC | NVMM_PROT_USER);
	check_nowalk(t, 0x204000);
	check_walk(t, 0x205abc, 0x128abc, PROT_RWXU);	/* PAT bit: Q11 */
	check_walk(t, 0x206008, 0x7fffff008ULL, PROT_RWXU);
	check_nowalk(t, 0x207000);

	/* A 2 MiB page without R/W, with NX. */
	pd[2] = 0x600000 | PTE_P | PTE_U | PTE_PS | PTE_NX;
	check_walk(t, 0x401234, 0x601234, NVMM_PROT_READ | NVMM_PROT_USER);
	/* A page table outside guest RAM. */
	pd[3] = VMT_MMIO | PTE_P | PTE_W | PTE_U;
	check_nowalk(t, 0x600000);

	/* Tables are read whatever the protection of their range. */
	memset(ro, 0, PAGE);
	memset(none, 0, PAGE);
	ropd[0] = 0x200000 | PTE_P | PTE_W | PTE_U | PTE_PS;
	nonepd[1] = 0x400000 | PTE_P | PTE_W | PTE_U | PTE_PS;
	pdpt[1] = RO_GPA | PTE_P | PTE_W | PTE_U;
	pdpt[2] = NONE_GPA | PTE_P | PTE_W | PTE_U;
	pdpt[3] = RW_GPA | PTE_P | PTE_W | PTE_U;	/* unmapped by now */
	check_walk(t, 0x40000010, 0x200010, PROT_RWXU);
	check_walk(t, 0x80200010, 0x400010, PROT_RWXU);
	check_nowalk(t, 0x80000000);
	check_nowalk(t, 0xc0000000);

	/* U/S clear in a PDPTE removes USER below it. */
	memset(pd4, 0, PAGE);
	pd4[0] = 0x200000 | PTE_P | PTE_W | PTE_U | PTE_PS;
	pdpt[4] = (VMT_DATA + 0x90000) | PTE_P | PTE_W;
	check_walk(t, 0x100000008ULL, 0x200008,
	    NVMM_PROT_READ | NVMM_PROT_WRITE | NVMM_PROT_EXEC);
	/* NX in a PML4E; a 1 GiB page. */
	memset(pdpt1, 0, PAGE);
	pdpt1[0] = 0x40000000 | PTE_P | PTE_W | PTE_U | PTE_PS;
	pml4[1] = (VMT_DATA + 0xa0000) | PTE_P | PTE_W | PTE_U | PTE_NX;
	check_walk(t, 0x8000001234ULL, 0x40001234,
	    NVMM_PROT_READ | NVMM_PROT_WRITE | NVMM_PROT_USER);
	/* PS in a PML4E is invalid. */
	pml4[2] = PTE_P | PTE_W | PTE_U | PTE_PS;
	check_nowalk(t, 0x10000000000ULL);
	/* Not present at the top. */
	pml4[1] &= ~PTE_P;
	check_nowalk(t, 0x8000001234ULL);
}

int
main(void)
{
	struct vmt t;
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	uint8_t *x;

	vmt_init_or_skip();
	hva_rules();
	gpa_rules();

	vmt_create(&t, VMT_RAM, 0);
	CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu,
	    NVMM_VCPU_CONF_CALLBACKS, &cbs));
	walk_flat(&t);
	x = pages(16);
	guest_view(&t, x);
	walk_long(&t, x, x + 4 * PAGE);
	vmt_destroy(&t);
	munmap(x, 16 * PAGE);
	return vmt_done("t_memory");
}
