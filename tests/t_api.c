/* t_api.c - the error contract of every public function, capability, ids, limits, reset state. */

/*
 * docs/nvmm-semantics.md 1 (errors) and 2 (reset state).  Machine
 * ids are host-wide, so the test uses a registry directory of its own
 * (NVMM_REGISTRY_DIR, set before the first machine exists): its id
 * checks and the 128-machine limit then neither see nor disturb the
 * machines of tests running at the same time.
 */

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmtest.h"

#define PAGE		4096


static char regdir[] = "/tmp/t_api.XXXXXX";
static struct nvmm_capability cap;

/* A page of host memory for calls that need a valid-looking buffer. */
static void *
page_alloc(size_t n)
{
	void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		vmt_die("mmap");
	return p;
}

/* -------------------------------------------------------------------------
 * Private registry directory.
 * ------------------------------------------------------------------------- */

static void
registry_private(void)
{
	if (mkdtemp(regdir) == NULL)
		vmt_die("mkdtemp");
	if (setenv("NVMM_REGISTRY_DIR", regdir, 1) == -1)
		vmt_die("setenv");
}

static void
registry_remove(void)
{
	struct dirent *de;
	DIR *d;
	char path[sizeof(regdir) + 300];

	if ((d = opendir(regdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", regdir,
			    de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(regdir);
}

/* -------------------------------------------------------------------------
 * Before nvmm_init(): no handle, EBADF wherever NVMM issues an ioctl first.
 * ------------------------------------------------------------------------- */

static void
before_init(void)
{
	struct nvmm_capability c;
	struct nvmm_machine m;
	struct nvmm_vcpu v;
	struct nvmm_vcpu_conf_cpuid cc;
	struct nvmm_vcpu_conf_tpr tpr;
	struct nvmm_ctl_mach_info info;
	void *buf = page_alloc(1);

	memset(&m, 0, sizeof(m));
	memset(&v, 0, sizeof(v));
	memset(&cc, 0, sizeof(cc));
	memset(&tpr, 0, sizeof(tpr));
	memset(&info, 0, sizeof(info));

	CHECK_ERR(nvmm_capability(&c), EBADF);
	CHECK_ERR(nvmm_machine_create(&m), EBADF);
	CHECK_ERR(nvmm_machine_destroy(&m), EBADF);
	CHECK_ERR(nvmm_machine_configure(&m, 0, NULL), EBADF);
	CHECK_ERR(nvmm_vcpu_create(&m, 0, &v), EBADF);
	CHECK_ERR(nvmm_vcpu_destroy(&m, &v), EBADF);
	CHECK_ERR(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &cc),
	    EBADF);
	CHECK_ERR(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_TPR, &tpr),
	    EBADF);
	CHECK_ERR(nvmm_hva_map(&m, (uintptr_t)buf, PAGE), EBADF);
	CHECK_ERR(nvmm_hva_unmap(&m, (uintptr_t)buf, PAGE), EBADF);
	CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)), EBADF);
	munmap(buf, PAGE);
}

/* -------------------------------------------------------------------------
 * Initialisation and capability.
 * ------------------------------------------------------------------------- */

static void
init_and_capability(void)
{
	CHECK_OK(nvmm_init());		/* idempotent */
	CHECK_OK(nvmm_root_init());	/* a handle exists: 0, no upgrade */
	CHECK_OK(nvmm_init());

	memset(&cap, 0xa5, sizeof(cap));
	CHECK_OK(nvmm_capability(&cap));
	CHECK_ERR(nvmm_capability(NULL), EFAULT);
	CHECK_EQ(cap.version, 2);
	CHECK_EQ(cap.version, NVMM_KERN_VERSION);
	CHECK_EQ(cap.state_size, 1008);
	CHECK_EQ(cap.state_size, sizeof(struct nvmm_x64_state));
	CHECK_EQ(cap.max_machines, 128);
	CHECK_EQ(cap.max_vcpus, 256);
	CHECK_EQ(cap.max_ram, 0x2000000000ULL);
	CHECK_EQ(cap.arch.mach_conf_support, 0);
	/* NVMM's two, and our debug extension where KVM can debug. */
	CHECK_EQ(cap.arch.vcpu_conf_support & ~NVMM_CAP_ARCH_VCPU_CONF_DEBUG,
	    3);
	CHECK_EQ(cap.arch.xcr0_mask, 3);
	CHECK(cap.arch.mxcsr_mask != 0, "mxcsr_mask is 0");
	/* All of bits 0-15 but DAZ on any SSE2 CPU (AMD adds bit 17). */
	CHECK_EQ(cap.arch.mxcsr_mask & 0xffbf, 0xffbf);
	CHECK_EQ(cap.arch.conf_cpuid_maxops, 32);
	{
		int i, nz = 0;

		for (i = 0; i < 6; i++)
			nz += cap.arch.rsvd[i] != 0;
		CHECK_EQ(nz, 0);
	}
}

/* -------------------------------------------------------------------------
 * Lookup errors of every function taking a machine or a VCPU.
 * ------------------------------------------------------------------------- */

static void io_cb(struct nvmm_io *);
static void mem_cb(struct nvmm_mem *);

/*
 * Every function that takes a machine fails with e for mp; v is a
 * well-formed VCPU handle (of some other machine) so that only the
 * machine is wrong.
 */
static void
mach_errors(struct nvmm_machine *mp, struct nvmm_vcpu *v, int e,
    const char *what)
{
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	struct nvmm_vcpu_conf_cpuid cc;
	struct nvmm_vcpu_conf_tpr tpr;
	struct nvmm_vcpu nv;
	uintptr_t hva;
	gpaddr_t gpa;
	nvmm_prot_t prot;
	void *buf = page_alloc(1);
	int before = vmt_failures;

	memset(&cc, 0, sizeof(cc));
	cc.mask = 1;
	cc.leaf = 0x40000000;
	memset(&tpr, 0, sizeof(tpr));
	memset(&nv, 0, sizeof(nv));

	CHECK_ERR(nvmm_machine_destroy(mp), e);
	CHECK_ERR(nvmm_vcpu_create(mp, 1, &nv), e);
	CHECK_ERR(nvmm_vcpu_destroy(mp, v), e);
	CHECK_ERR(nvmm_vcpu_configure(mp, v, NVMM_VCPU_CONF_CALLBACKS, &cbs),
	    e);
	CHECK_ERR(nvmm_vcpu_configure(mp, v, NVMM_VCPU_CONF_CPUID, &cc), e);
	CHECK_ERR(nvmm_vcpu_configure(mp, v, NVMM_VCPU_CONF_TPR, &tpr), e);
	CHECK_ERR(nvmm_vcpu_setstate(mp, v, NVMM_X64_STATE_GPRS), e);
	CHECK_ERR(nvmm_vcpu_getstate(mp, v, NVMM_X64_STATE_GPRS), e);
	CHECK_ERR(nvmm_vcpu_inject(mp, v), e);
	CHECK_ERR(nvmm_vcpu_run(mp, v), e);
	CHECK_ERR(nvmm_gpa_map(mp, (uintptr_t)buf, 0x7000000, PAGE,
	    PROT_READ), e);
	CHECK_ERR(nvmm_gpa_unmap(mp, (uintptr_t)buf, 0x7000000, PAGE), e);
	CHECK_ERR(nvmm_hva_map(mp, (uintptr_t)buf, PAGE), e);
	CHECK_ERR(nvmm_hva_unmap(mp, (uintptr_t)buf, PAGE), e);
	CHECK_ERR(nvmm_gva_to_gpa(mp, v, 0x1000, &gpa, &prot), e);
	CHECK_ERR(nvmm_gpa_to_hva(mp, 0x1000, &hva, &prot), e);
	CHECK_ERR(nvmm_assist_io(mp, v), e);
	CHECK_ERR(nvmm_assist_mem(mp, v), e);
	CHECK_ERR(nvmm_vcpu_dump(mp, v), e);
	/* No machine configuration exists on x86: EINVAL before any lookup. */
	CHECK_ERR(nvmm_machine_configure(mp, 0, &tpr), EINVAL);
	CHECK_ERR(nvmm_machine_configure(mp, NVMM_MACH_CONF_MD_BEGIN, &tpr),
	    EINVAL);
	munmap(buf, PAGE);
	if (vmt_failures != before)
		fprintf(stderr, "  (machine errors: %s)\n", what);
}

/* Every function that takes a VCPU fails with e for vp on machine mp. */
static void
vcpu_errors(struct nvmm_machine *mp, struct nvmm_vcpu *vp, int e,
    const char *what)
{
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	struct nvmm_vcpu_conf_cpuid cc;
	struct nvmm_vcpu_conf_tpr tpr;
	gpaddr_t gpa;
	nvmm_prot_t prot;
	int before = vmt_failures;

	memset(&cc, 0, sizeof(cc));
	cc.mask = 1;
	cc.leaf = 0x40000000;
	memset(&tpr, 0, sizeof(tpr));

	CHECK_ERR(nvmm_vcpu_destroy(mp, vp), e);
	CHECK_ERR(nvmm_vcpu_configure(mp, vp, NVMM_VCPU_CONF_CALLBACKS, &cbs),
	    e);
	CHECK_ERR(nvmm_vcpu_configure(mp, vp, NVMM_VCPU_CONF_CPUID, &cc), e);
	CHECK_ERR(nvmm_vcpu_configure(mp, vp, NVMM_VCPU_CONF_TPR, &tpr), e);
	CHECK_ERR(nvmm_vcpu_setstate(mp, vp, NVMM_X64_STATE_ALL), e);
	CHECK_ERR(nvmm_vcpu_getstate(mp, vp, NVMM_X64_STATE_ALL), e);
	CHECK_ERR(nvmm_vcpu_inject(mp, vp), e);
	CHECK_ERR(nvmm_vcpu_run(mp, vp), e);
	CHECK_ERR(nvmm_gva_to_gpa(mp, vp, 0x1000, &gpa, &prot), e);
	CHECK_ERR(nvmm_assist_io(mp, vp), e);
	CHECK_ERR(nvmm_assist_mem(mp, vp), e);
	CHECK_ERR(nvmm_vcpu_dump(mp, vp), e);
	if (vmt_failures != before)
		fprintf(stderr, "  (VCPU errors: %s)\n", what);
}

/* -------------------------------------------------------------------------
 * Machines: ids, lookups, configure.
 * ------------------------------------------------------------------------- */

static void
machines(void)
{
	struct nvmm_machine m[3], stale, bad;
	struct nvmm_vcpu v;
	int i;

	for (i = 0; i < 3; i++) {
		memset(&m[i], 0xa5, sizeof(m[i]));	/* need not be zeroed */
		CHECK_OK(nvmm_machine_create(&m[i]));
	}
	/* A fresh registry: the lowest free ids, in order. */
	CHECK_EQ(m[0].machid, 0);
	CHECK_EQ(m[1].machid, 1);
	CHECK_EQ(m[2].machid, 2);
	CHECK(m[0].machid != m[1].machid && m[1].machid != m[2].machid &&
	    m[0].machid != m[2].machid, "ids not distinct");
	CHECK(m[0].machid < 128 && m[1].machid < 128 && m[2].machid < 128,
	    "ids out of range");
	CHECK_ERR(nvmm_machine_create(NULL), EFAULT);

	/* A VCPU handle of a live machine, for the machine-error calls. */
	CHECK_OK(nvmm_vcpu_create(&m[0], 0, &v));

	/* Destroyed: the handle and a copy taken before are both dead. */
	stale = m[1];
	CHECK_OK(nvmm_machine_destroy(&m[1]));
	mach_errors(&m[1], &v, ENOENT, "destroyed machine");
	mach_errors(&stale, &v, ENOENT, "copy of a destroyed machine");

	/* The lowest free id is reused. */
	CHECK_OK(nvmm_machine_create(&m[1]));
	CHECK_EQ(m[1].machid, 1);

	memset(&bad, 0, sizeof(bad));
	bad.machid = 77;			/* never created */
	mach_errors(&bad, &v, ENOENT, "machid 77");
	bad = m[0];
	bad.machid = 5;				/* the handle of another id */
	mach_errors(&bad, &v, ENOENT, "machid 5 with machine 0's handle");
	bad.machid = 128;
	mach_errors(&bad, &v, EINVAL, "machid 128");
	bad.machid = 0xffffffff;
	mach_errors(&bad, &v, EINVAL, "machid 0xffffffff");
	mach_errors(NULL, &v, EFAULT, "NULL machine");

	/* Any machine configuration op, any machine. */
	CHECK_ERR(nvmm_machine_configure(&m[0], 0, NULL), EINVAL);
	CHECK_ERR(nvmm_machine_configure(&m[0], 1, &v), EINVAL);
	CHECK_ERR(nvmm_machine_configure(&m[0], 100, &v), EINVAL);
	CHECK_ERR(nvmm_machine_configure(&m[0], 200, &v), EINVAL);
	CHECK_ERR(nvmm_machine_configure(&m[0], 201, &v), EINVAL);
	CHECK_ERR(nvmm_machine_configure(&m[0], UINT64_MAX, &v), EINVAL);
	CHECK_ERR(nvmm_machine_configure(NULL, 200, NULL), EINVAL);

	/* The survivors still work. */
	for (i = 0; i < 3; i++)
		CHECK_OK(nvmm_machine_destroy(&m[i]));
	CHECK_ERR(nvmm_machine_destroy(&m[0]), ENOENT);
}

/* -------------------------------------------------------------------------
 * VCPUs: ids, duplicates, lookups.
 * ------------------------------------------------------------------------- */

static int
ctl_info(nvmm_machid_t id, struct nvmm_ctl_mach_info *info)
{
	memset(info, 0, sizeof(*info));
	info->machid = id;
	return nvmm_ctl(NVMM_CTL_MACH_INFO, info, sizeof(*info));
}

static void
vcpus(void)
{
	struct nvmm_assist_callbacks sentinel = {
		(void (*)(struct nvmm_io *))0x1111,
		(void (*)(struct nvmm_mem *))0x2222,
	};
	struct nvmm_machine m;
	struct nvmm_vcpu v0, v120, v255, dup, bad, old;
	struct nvmm_ctl_mach_info info;
	int r;

	CHECK_OK(nvmm_machine_create(&m));
	memset(&v0, 0, sizeof(v0));
	v0.cbs = sentinel;
	CHECK_OK(nvmm_vcpu_create(&m, 0, &v0));
	CHECK_EQ(v0.cpuid, 0);
	/* cbs is not touched by create. */
	CHECK(v0.cbs.io == sentinel.io && v0.cbs.mem == sentinel.mem,
	    "vcpu_create changed cbs");
	CHECK(v0.state != NULL && v0.event != NULL && v0.exit != NULL &&
	    v0.stop != NULL, "vcpu pointers not set");
	CHECK((void *)v0.state != (void *)v0.event &&
	    (void *)v0.event != (void *)v0.exit &&
	    (void *)v0.exit != (void *)v0.stop, "vcpu pointers alias");
	CHECK_EQ(*v0.stop, 0);

	CHECK_OK(nvmm_vcpu_create(&m, 120, &v120));
	CHECK_EQ(v120.cpuid, 120);
	CHECK_OK(nvmm_vcpu_create(&m, 255, &v255));
	CHECK_EQ(v255.cpuid, 255);
	CHECK(v120.state != v0.state && v255.state != v120.state,
	    "VCPUs share a state buffer");

	CHECK_ERR(nvmm_vcpu_create(&m, 256, &dup), EINVAL);
	CHECK_ERR(nvmm_vcpu_create(&m, 0xffffffff, &dup), EINVAL);
	CHECK_ERR(nvmm_vcpu_create(&m, 120, &dup), EBUSY);
	CHECK_ERR(nvmm_vcpu_create(&m, 0, &dup), EBUSY);
	CHECK_ERR(nvmm_vcpu_create(&m, 7, NULL), EFAULT);

	CHECK_OK(ctl_info(m.machid, &info));
	CHECK_EQ(info.nvcpus, 3);

	/* Lookup errors on a VCPU of a live machine. */
	vcpu_errors(&m, NULL, EFAULT, "NULL VCPU");
	bad = v0;
	bad.cpuid = 256;
	vcpu_errors(&m, &bad, EINVAL, "cpuid 256");
	bad.cpuid = 0xffffffff;
	vcpu_errors(&m, &bad, EINVAL, "cpuid 0xffffffff");
	bad.cpuid = 7;
	vcpu_errors(&m, &bad, ENOENT, "cpuid 7, never created");

	/* Destroy: once. */
	old = v255;
	CHECK_OK(nvmm_vcpu_destroy(&m, &v255));
	CHECK_ERR(nvmm_vcpu_destroy(&m, &v255), ENOENT);
	vcpu_errors(&m, &old, ENOENT, "destroyed VCPU 255");
	CHECK_OK(ctl_info(m.machid, &info));
	CHECK_EQ(info.nvcpus, 2);
	/* The id is free again (KVM never frees a VCPU id of a VM). */
	errno = 0;
	r = nvmm_vcpu_create(&m, 255, &v255);
	CHECK(r == 0, "re-creating VCPU 255: %d errno %d (%s)", r, errno,
	    strerror(errno));
	CHECK_OK(ctl_info(m.machid, &info));
	CHECK_EQ(info.nvcpus, r == 0 ? 3 : 2);	/* a failure counts nothing */
	/* The other VCPUs are unaffected. */
	CHECK_OK(nvmm_vcpu_getstate(&m, &v120, NVMM_X64_STATE_ALL));

	CHECK_OK(nvmm_machine_destroy(&m));
}

/* -------------------------------------------------------------------------
 * The reset state (4.1), exactly.
 * ------------------------------------------------------------------------- */

static void
seg_set(struct nvmm_x64_state_seg *s, uint16_t sel, uint64_t base,
    uint32_t limit, unsigned int type, unsigned int sbit)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = base;
	s->limit = limit;
	s->attrib.type = type & 0xf;
	s->attrib.s = sbit & 1;
	s->attrib.p = 1;
}

static void
reset_expected(struct nvmm_x64_state *st)
{
	int i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < NVMM_X64_NSEG; i++)
		seg_set(&st->segs[i], 0, 0, 0xffff, 3, 1);
	seg_set(&st->segs[NVMM_X64_SEG_CS], 0xf000, 0xffff0000, 0xffff, 3, 1);
	seg_set(&st->segs[NVMM_X64_SEG_GDT], 0, 0, 0xffff, 2, 1);
	seg_set(&st->segs[NVMM_X64_SEG_IDT], 0, 0, 0xffff, 2, 1);
	seg_set(&st->segs[NVMM_X64_SEG_LDT], 0, 0, 0xffff, 2, 0);
	seg_set(&st->segs[NVMM_X64_SEG_TR], 0, 0, 0xffff, 3, 0);

	st->gprs[NVMM_X64_GPR_RDX] = 0x600;
	st->gprs[NVMM_X64_GPR_RIP] = 0xfff0;
	st->gprs[NVMM_X64_GPR_RFLAGS] = 0x2;
	st->crs[NVMM_X64_CR_CR0] = 0x60000010;
	st->crs[NVMM_X64_CR_XCR0] = 0x1;
	st->drs[NVMM_X64_DR_DR6] = 0xffff0ff0;
	st->drs[NVMM_X64_DR_DR7] = 0x400;
	st->msrs[NVMM_X64_MSR_PAT] = 0x0007040600070406ULL;

	st->fpu.fx_cw = 0x0040;
	st->fpu.fx_tw = 0x55;
	st->fpu.fx_zero = 0x55;
	/* [Linux] 4.1: MXCSR 0x1F80 with the host mask (NetBSD: 0/0). */
	st->fpu.fx_mxcsr = 0x1f80;
	st->fpu.fx_mxcsr_mask = cap.arch.mxcsr_mask;
}

static uint16_t
attrib_raw(const struct nvmm_x64_state_seg *s)
{
	uint16_t v;

	memcpy(&v, (const char *)s + 2, sizeof(v));
	return v;
}

/* Field-by-field comparison, so that a failure names the field. */
static void
state_compare(const struct nvmm_x64_state *got,
    const struct nvmm_x64_state *want, uint64_t flags, const char *what)
{
	static const char *const segn[] = { "ES", "CS", "SS", "DS", "FS",
	    "GS", "GDT", "IDT", "LDT", "TR" };
	int i, before = vmt_failures;

	if (flags & NVMM_X64_STATE_SEGS) {
		for (i = 0; i < NVMM_X64_NSEG; i++) {
			const struct nvmm_x64_state_seg *g = &got->segs[i],
			    *w = &want->segs[i];

			CHECK(g->selector == w->selector &&
			    attrib_raw(g) == attrib_raw(w) &&
			    g->limit == w->limit && g->base == w->base,
			    "%s: sel %#x attrib %#x limit %#x base %#llx, "
			    "expected %#x %#x %#x %#llx", segn[i], g->selector,
			    attrib_raw(g), g->limit,
			    (unsigned long long)g->base, w->selector,
			    attrib_raw(w), w->limit,
			    (unsigned long long)w->base);
		}
	}
#define ARR(flag, arr, n, name) do {					\
	if (flags & (flag)) {						\
		for (i = 0; i < (n); i++)				\
			CHECK(got->arr[i] == want->arr[i],		\
			    name "[%d] = %#llx, expected %#llx", i,	\
			    (unsigned long long)got->arr[i],		\
			    (unsigned long long)want->arr[i]);		\
	}								\
} while (0)
	ARR(NVMM_X64_STATE_GPRS, gprs, NVMM_X64_NGPR, "gprs");
	ARR(NVMM_X64_STATE_CRS, crs, NVMM_X64_NCR, "crs");
	ARR(NVMM_X64_STATE_DRS, drs, NVMM_X64_NDR, "drs");
	ARR(NVMM_X64_STATE_MSRS, msrs, NVMM_X64_NMSR, "msrs");
#undef ARR
	if (flags & NVMM_X64_STATE_INTR) {
		uint64_t g, w;

		memcpy(&g, &got->intr, 8);
		memcpy(&w, &want->intr, 8);
		CHECK(g == w, "intr = %#llx, expected %#llx",
		    (unsigned long long)g, (unsigned long long)w);
	}
	if (flags & NVMM_X64_STATE_FPU) {
		const struct fxsave *g = &got->fpu, *w = &want->fpu;

		CHECK_EQ(g->fx_cw, w->fx_cw);
		CHECK_EQ(g->fx_sw, w->fx_sw);
		CHECK_EQ(g->fx_tw, w->fx_tw);
		CHECK_EQ(g->fx_zero, w->fx_zero);
		CHECK_EQ(g->fx_opcode, w->fx_opcode);
		CHECK_EQ(g->fx_ip.fa_64, w->fx_ip.fa_64);
		CHECK_EQ(g->fx_dp.fa_64, w->fx_dp.fa_64);
		CHECK_EQ(g->fx_mxcsr, w->fx_mxcsr);
		CHECK_EQ(g->fx_mxcsr_mask, w->fx_mxcsr_mask);
		CHECK(memcmp(g->fx_87_ac, w->fx_87_ac,
		    sizeof(g->fx_87_ac)) == 0, "fx_87_ac not zero");
		CHECK(memcmp(g->fx_xmm, w->fx_xmm, sizeof(g->fx_xmm)) == 0,
		    "fx_xmm not zero");
		CHECK(memcmp(g->fx_rsvd, w->fx_rsvd, sizeof(g->fx_rsvd)) == 0,
		    "fx_rsvd not zero");
	}
	if (vmt_failures != before)
		fprintf(stderr, "  (state: %s)\n", what);
}

static void
reset_state(void)
{
	static const uint64_t groups[] = {
		NVMM_X64_STATE_SEGS, NVMM_X64_STATE_GPRS, NVMM_X64_STATE_CRS,
		NVMM_X64_STATE_DRS, NVMM_X64_STATE_MSRS, NVMM_X64_STATE_INTR,
		NVMM_X64_STATE_FPU,
	};
	struct nvmm_x64_state want;
	struct nvmm_machine m;
	struct nvmm_vcpu v[2];
	size_t g;
	int i;

	reset_expected(&want);
	/* The raw attributes 4.1 implies. */
	CHECK_EQ(attrib_raw(&want.segs[NVMM_X64_SEG_CS]), 0x93);
	CHECK_EQ(attrib_raw(&want.segs[NVMM_X64_SEG_LDT]), 0x82);
	CHECK_EQ(attrib_raw(&want.segs[NVMM_X64_SEG_TR]), 0x83);

	CHECK_OK(nvmm_machine_create(&m));
	CHECK_OK(nvmm_vcpu_create(&m, 0, &v[0]));
	CHECK_OK(nvmm_vcpu_create(&m, 200, &v[1]));
	for (i = 0; i < 2; i++) {
		/* One group at a time, then all (nothing is reloaded). */
		for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
			CHECK_OK(nvmm_vcpu_getstate(&m, &v[i], groups[g]));
			state_compare(v[i].state, &want, groups[g],
			    i ? "VCPU 200, one group" : "VCPU 0, one group");
		}
		CHECK_OK(nvmm_vcpu_getstate(&m, &v[i], NVMM_X64_STATE_ALL));
		state_compare(v[i].state, &want, NVMM_X64_STATE_ALL,
		    i ? "VCPU 200" : "VCPU 0");
		/* And byte for byte (padding of the FPU slots included). */
		CHECK(memcmp(v[i].state, &want, sizeof(want)) == 0,
		    "VCPU %d: reset state differs from 4.1", i ? 200 : 0);
	}

	/* Unknown flag bits are ignored (2.6.5). */
	CHECK_OK(nvmm_vcpu_getstate(&m, &v[0], 0xFF80));
	CHECK_OK(nvmm_vcpu_getstate(&m, &v[0], 0xFFFFFFFFFFFFFF80ULL));
	CHECK_OK(nvmm_vcpu_getstate(&m, &v[0], 0xFFFFFFFFFFFFFFFFULL));
	CHECK_OK(nvmm_vcpu_getstate(&m, &v[0], 0));
	CHECK_OK(nvmm_vcpu_setstate(&m, &v[0], 0xFF80));
	CHECK_OK(nvmm_vcpu_setstate(&m, &v[0], 0xFFFFFFFFFFFFFF80ULL));
	CHECK_OK(nvmm_vcpu_setstate(&m, &v[0], 0));
	CHECK(memcmp(v[0].state, &want, sizeof(want)) == 0,
	    "unknown flags changed the state");

	CHECK_OK(nvmm_machine_destroy(&m));
}

/* -------------------------------------------------------------------------
 * VCPU configuration.
 * ------------------------------------------------------------------------- */

static void
cpuid_conf(struct nvmm_vcpu_conf_cpuid *c, uint32_t leaf, int mask, int exit_)
{
	memset(c, 0, sizeof(*c));
	c->mask = mask & 1;
	c->exit = exit_ & 1;
	c->leaf = leaf;
}

static void
vcpu_configure(void)
{
	static const uint64_t badops[] = { 1, 2, 99, 100, 101, 199, 203,
	    299, 300, 0x1000000c8ULL, UINT64_MAX };
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	struct nvmm_vcpu_conf_cpuid c;
	struct nvmm_vcpu_conf_tpr tpr;
	struct nvmm_machine m;
	struct nvmm_vcpu v;
	uint32_t leaf;
	size_t i;
	int r;

	CHECK_OK(nvmm_machine_create(&m));
	CHECK_OK(nvmm_vcpu_create(&m, 3, &v));

	for (i = 0; i < sizeof(badops) / sizeof(badops[0]); i++) {
		cpuid_conf(&c, 0, 1, 0);
		errno = 0;
		r = nvmm_vcpu_configure(&m, &v, badops[i], &c);
		CHECK(r == -1 && errno == EINVAL,
		    "configure op %#llx: %d errno %d, expected EINVAL",
		    (unsigned long long)badops[i], r, errno);
	}

	/* Callbacks: copied into vcpu->cbs; NULL is refused. */
	memset(&v.cbs, 0, sizeof(v.cbs));
	CHECK_OK(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CALLBACKS, &cbs));
	CHECK(v.cbs.io == io_cb && v.cbs.mem == mem_cb, "cbs not stored");
	CHECK_ERR(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CALLBACKS, NULL),
	    EFAULT);
	CHECK(v.cbs.io == io_cb && v.cbs.mem == mem_cb, "cbs clobbered");

	/* CPUID: argument checks. */
	CHECK_ERR(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, NULL),
	    EFAULT);
	cpuid_conf(&c, 1, 1, 1);
	CHECK_ERR(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c),
	    EINVAL);
	/* KVM cannot make CPUID exit: refused (docs/nvmm-semantics.md D4). */
	cpuid_conf(&c, 1, 0, 1);
	CHECK_ERR(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c),
	    EINVAL);
	for (i = 0; i < 4; i++) {
		cpuid_conf(&c, 1, 1, 0);
		c.u.mask.set.eax = 0x10;
		c.u.mask.del.eax = 0x20;
		c.u.mask.set.ebx = 0x100;
		c.u.mask.del.edx = 0x1;
		switch (i) {
		case 0: c.u.mask.del.eax |= 0x10; break;
		case 1: c.u.mask.del.ebx = 0x300; break;
		case 2: c.u.mask.set.ecx = 0x80000000;
			c.u.mask.del.ecx = 0x80000001; break;
		case 3: c.u.mask.set.edx = 0x5; break;
		}
		errno = 0;
		r = nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c);
		CHECK(r == -1 && errno == EINVAL,
		    "set/del overlap in register %zu: %d errno %d", i, r,
		    errno);
	}
	/* Without the overlap it is fine. */
	cpuid_conf(&c, 1, 1, 0);
	c.u.mask.set.eax = 0x10;
	c.u.mask.del.eax = 0x20;
	CHECK_OK(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c));

	/* 32 distinct leaves (leaf 1 is one of them), then ENOBUFS. */
	for (leaf = 0x40000000; leaf < 0x40000000 + 31; leaf++) {
		cpuid_conf(&c, leaf, 1, 0);
		c.u.mask.set.ecx = leaf;
		errno = 0;
		r = nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c);
		CHECK(r == 0, "leaf %#x: %d errno %d", leaf, r, errno);
	}
	cpuid_conf(&c, 0x80000001, 1, 0);
	CHECK_ERR(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c),
	    ENOBUFS);
	/* Replacing an existing leaf at 32 entries is fine. */
	cpuid_conf(&c, 0x40000005, 1, 0);
	c.u.mask.del.eax = 0xffffffff;
	CHECK_OK(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c));
	cpuid_conf(&c, 1, 1, 0);
	CHECK_OK(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c));
	/* Removing an absent leaf is fine and frees nothing. */
	cpuid_conf(&c, 0x12345678, 0, 0);
	CHECK_OK(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c));
	cpuid_conf(&c, 0x80000001, 1, 0);
	CHECK_ERR(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c),
	    ENOBUFS);
	/* Removing a present one (set/del ignored) makes room for one. */
	cpuid_conf(&c, 0x40000007, 0, 0);
	c.u.mask.set.eax = c.u.mask.del.eax = 1;
	CHECK_OK(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c));
	cpuid_conf(&c, 0x80000001, 1, 0);
	CHECK_OK(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c));
	cpuid_conf(&c, 0x80000002, 1, 0);
	CHECK_ERR(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CPUID, &c),
	    ENOBUFS);
	/* The limit is per VCPU. */
	{
		struct nvmm_vcpu v2;

		CHECK_OK(nvmm_vcpu_create(&m, 4, &v2));
		CHECK_OK(nvmm_vcpu_configure(&m, &v2, NVMM_VCPU_CONF_CPUID,
		    &c));
		CHECK_OK(nvmm_vcpu_destroy(&m, &v2));
	}

	/* TPR. */
	memset(&tpr, 0, sizeof(tpr));
	tpr.exit_changed = 1;
	CHECK_OK(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_TPR, &tpr));
	tpr.exit_changed = 0;
	CHECK_OK(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_TPR, &tpr));
	CHECK_ERR(nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_TPR, NULL),
	    EFAULT);

	CHECK_OK(nvmm_machine_destroy(&m));
}

/* -------------------------------------------------------------------------
 * With a guest: assists, stop, invalid events.
 * ------------------------------------------------------------------------- */

/* out %al,$0x10; hlt; jmp back to the out. */
static const uint8_t guest_code[] = { 0xe6, 0x10, 0xf4, 0xeb, 0xfb };
#define G_OUT	(VMT_CODE + 0)
#define G_HLT	(VMT_CODE + 2)
#define G_JMP	(VMT_CODE + 3)

static int nio;
static uint8_t io_last;

static void
io_cb(struct nvmm_io *io)
{
	nio++;
	if (io->in)
		memset(io->data, 0, io->size);
	else
		io_last = io->data[0];
}

static void
mem_cb(struct nvmm_mem *mem)
{
	if (!mem->write)
		memset(mem->data, 0, mem->size);
}

static int
run(struct vmt *t)
{
	int r;

	do {
		r = nvmm_vcpu_run(&t->mach, &t->vcpu);
	} while (r == 0 && t->vcpu.exit->reason == NVMM_VCPU_EXIT_NONE);
	return r;
}

static void
with_guest(void)
{
	static const struct { unsigned int type; uint8_t vector; } bad[] = {
		{ NVMM_VCPU_EVENT_EXCP, 2 },
		{ NVMM_VCPU_EVENT_EXCP, 3 },
		{ NVMM_VCPU_EVENT_EXCP, 0 },
		{ NVMM_VCPU_EVENT_EXCP, 32 },
		{ NVMM_VCPU_EVENT_EXCP, 255 },
		{ 7, 32 },
		{ 2, 6 },
		{ 0xffffffff, 13 },
	};
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	struct nvmm_vcpu_conf_cpuid c;
	struct nvmm_vcpu_conf_tpr tpr;
	struct nvmm_x86_exit *x;
	struct vmt t;
	size_t i;
	int r;

	vmt_create(&t, VMT_RAM, 0);
	x = t.vcpu.exit;
	vmt_load(&t, VMT_CODE, guest_code, guest_code + sizeof(guest_code));
	vmt_setup_long(&t, G_OUT);
	memset(&t.vcpu.cbs, 0, sizeof(t.vcpu.cbs));
	/* A leaf that exists, so that a change is a change. */
	cpuid_conf(&c, 0x40000000, 1, 0);
	c.u.mask.set.eax = 0x5;
	CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CPUID,
	    &c));

	/* No exit yet: nothing to assist. */
	CHECK_ERR(nvmm_assist_io(&t.mach, &t.vcpu), EINVAL);
	CHECK_ERR(nvmm_assist_mem(&t.mach, &t.vcpu), EINVAL);

	CHECK_OK(run(&t));
	CHECK_EQ(x->reason, NVMM_VCPU_EXIT_IO);
	CHECK_ERR(nvmm_assist_mem(&t.mach, &t.vcpu), EINVAL);
	/* No io callback configured (docs/nvmm-semantics.md D9: EINVAL, no crash). */
	CHECK_ERR(nvmm_assist_io(&t.mach, &t.vcpu), EINVAL);
	CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu,
	    NVMM_VCPU_CONF_CALLBACKS, &cbs));
	CHECK_OK(nvmm_assist_io(&t.mach, &t.vcpu));
	CHECK_EQ(nio, 1);
	CHECK_EQ(vmt_gpr(&t, NVMM_X64_GPR_RIP), G_HLT);

	CHECK_OK(run(&t));
	CHECK_EQ(x->reason, NVMM_VCPU_EXIT_HALTED);
	CHECK_ERR(nvmm_assist_io(&t.mach, &t.vcpu), EINVAL);
	CHECK_ERR(nvmm_assist_mem(&t.mach, &t.vcpu), EINVAL);
	CHECK_EQ(nio, 1);

	/* CPUID after the first run: the same table is fine, a change is
	   refused with EBUSY (docs/nvmm-semantics.md D4). */
	CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CPUID,
	    &c));
	c.u.mask.set.eax = 0x7;
	CHECK_ERR(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CPUID,
	    &c), EBUSY);
	c.mask = 0;
	CHECK_ERR(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CPUID,
	    &c), EBUSY);
	memset(&tpr, 0, sizeof(tpr));
	tpr.exit_changed = 1;
	CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_TPR,
	    &tpr));

	/* Stop: NULL refused; a set flag makes the next run STOPPED. */
	CHECK_ERR(nvmm_vcpu_stop(NULL), EFAULT);
	{
		struct nvmm_vcpu z;

		memset(&z, 0, sizeof(z));
		CHECK_ERR(nvmm_vcpu_stop(&z), EFAULT);
	}
	CHECK_OK(nvmm_vcpu_stop(&t.vcpu));
	CHECK_OK(nvmm_vcpu_run(&t.mach, &t.vcpu));
	CHECK_EQ(x->reason, NVMM_VCPU_EXIT_STOPPED);
	CHECK_EQ(*t.vcpu.stop, 0);
	CHECK_EQ(vmt_gpr(&t, NVMM_X64_GPR_RIP), G_JMP);

	/*
	 * Invalid events: inject accepts them, the next run fails with
	 * EINVAL without running the guest but after loading the state,
	 * and drops the event: the run after it works.
	 */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t mark = (uint8_t)(0x40 + i);

		CHECK_EQ(vmt_gpr(&t, NVMM_X64_GPR_RIP), G_JMP);
		vmt_set_gpr(&t, NVMM_X64_GPR_RAX, mark);
		memset(t.vcpu.event, 0, sizeof(*t.vcpu.event));
		t.vcpu.event->type = bad[i].type;
		t.vcpu.event->vector = bad[i].vector;
		CHECK_OK(nvmm_vcpu_inject(&t.mach, &t.vcpu));
		errno = 0;
		r = nvmm_vcpu_run(&t.mach, &t.vcpu);
		CHECK(r == -1 && errno == EINVAL,
		    "event type %u vector %u: run %d errno %d, expected "
		    "EINVAL", bad[i].type, bad[i].vector, r, errno);
		CHECK_EQ(vmt_gpr(&t, NVMM_X64_GPR_RIP), G_JMP);
		CHECK_OK(run(&t));
		CHECK_EQ(x->reason, NVMM_VCPU_EXIT_IO);
		if (x->reason != NVMM_VCPU_EXIT_IO)
			break;
		CHECK_OK(nvmm_assist_io(&t.mach, &t.vcpu));
		CHECK_EQ(io_last, mark);	/* the state was committed */
		CHECK_OK(run(&t));
		CHECK_EQ(x->reason, NVMM_VCPU_EXIT_HALTED);
	}

	/* nvmm_vcpu_dump works on a live VCPU. */
	fflush(stdout);
	CHECK_OK(nvmm_vcpu_dump(&t.mach, &t.vcpu));
	fflush(stdout);

	/* A valid exception is accepted; with no IDT: triple fault. */
	memset(t.vcpu.event, 0, sizeof(*t.vcpu.event));
	t.vcpu.event->type = NVMM_VCPU_EVENT_EXCP;
	t.vcpu.event->vector = 13;
	CHECK_OK(nvmm_vcpu_inject(&t.mach, &t.vcpu));
	CHECK_OK(run(&t));
	CHECK_EQ(x->reason, NVMM_VCPU_EXIT_SHUTDOWN);

	/*
	 * The same id again after a destroy: a new VCPU in the reset state.
	 * KVM cannot free a VCPU id, and refuses a new CPUID table once a
	 * VCPU has run: the new VCPU keeps its predecessor's configuration,
	 * and a different one is refused with EBUSY (documented).
	 */
	CHECK_OK(nvmm_vcpu_stop(&t.vcpu));
	CHECK_OK(nvmm_vcpu_destroy(&t.mach, &t.vcpu));
	memset(&t.vcpu, 0, sizeof(t.vcpu));
	CHECK_OK(nvmm_vcpu_create(&t.mach, 0, &t.vcpu));
	if (t.vcpu.state != NULL) {
		struct nvmm_x64_state want;

		reset_expected(&want);
		CHECK_OK(nvmm_vcpu_getstate(&t.mach, &t.vcpu,
		    NVMM_X64_STATE_ALL));
		state_compare(t.vcpu.state, &want, NVMM_X64_STATE_ALL,
		    "VCPU 0 created again");
		CHECK_EQ(*t.vcpu.stop, 0);
		x = t.vcpu.exit;
		c.mask = 1;
		c.leaf = 0x80000001;
		c.u.mask.set.ecx = 0x1;
		CHECK_ERR(nvmm_vcpu_configure(&t.mach, &t.vcpu,
		    NVMM_VCPU_CONF_CPUID, &c), EBUSY);
		CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu,
		    NVMM_VCPU_CONF_CALLBACKS, &cbs));
		vmt_setup_long(&t, G_OUT);
		CHECK_OK(run(&t));
		CHECK_EQ(x->reason, NVMM_VCPU_EXIT_IO);
		CHECK_OK(nvmm_assist_io(&t.mach, &t.vcpu));
		CHECK_OK(run(&t));
		CHECK_EQ(x->reason, NVMM_VCPU_EXIT_HALTED);
	}

	/* The same without any CPUID configuration, on VCPU 1. */
	{
		struct nvmm_vcpu v1;
		int k;

		for (k = 0; k < 2; k++) {
			CHECK_OK(nvmm_vcpu_create(&t.mach, 1, &v1));
			if (v1.state == NULL)
				break;
			CHECK_OK(nvmm_vcpu_configure(&t.mach, &v1,
			    NVMM_VCPU_CONF_CALLBACKS, &cbs));
			CHECK_OK(nvmm_vcpu_getstate(&t.mach, &v1,
			    NVMM_X64_STATE_ALL));
			CHECK_EQ(v1.state->gprs[NVMM_X64_GPR_RIP], 0xfff0);
			*v1.state = *t.vcpu.state;	/* VCPU 0's setup */
			v1.state->gprs[NVMM_X64_GPR_RIP] = G_OUT;
			CHECK_OK(nvmm_vcpu_setstate(&t.mach, &v1,
			    NVMM_X64_STATE_ALL));
			do {
				r = nvmm_vcpu_run(&t.mach, &v1);
			} while (r == 0 &&
			    v1.exit->reason == NVMM_VCPU_EXIT_NONE);
			CHECK(r == 0 && v1.exit->reason == NVMM_VCPU_EXIT_IO,
			    "VCPU 1, %s: run %d reason %#llx", k ?
			    "created again" : "first", r,
			    (unsigned long long)v1.exit->reason);
			CHECK_OK(nvmm_vcpu_destroy(&t.mach, &v1));
		}
	}

	/* nvmm_ctl on it: one VCPU, the RAM registered. */
	{
		struct nvmm_ctl_mach_info info;

		CHECK_OK(ctl_info(t.mach.machid, &info));
		CHECK_EQ(info.nvcpus, 1);
		CHECK_EQ(info.nram, VMT_RAM);
	}
	vmt_destroy(&t);
}

/* -------------------------------------------------------------------------
 * nvmm_ctl.
 * ------------------------------------------------------------------------- */

static void
ctl(void)
{
	struct nvmm_ctl_mach_info info;
	struct nvmm_machine m;
	struct nvmm_vcpu v[2];
	uint8_t *buf = page_alloc(16);
	time_t now;

	CHECK_OK(nvmm_machine_create(&m));
	memset(&info, 0, sizeof(info));
	info.machid = m.machid;
	CHECK_ERR(nvmm_ctl(1, &info, sizeof(info)), EINVAL);
	CHECK_ERR(nvmm_ctl(-1, &info, sizeof(info)), EINVAL);
	CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, 0), EINVAL);
	CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info) - 1),
	    EINVAL);
	CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info) + 1),
	    EINVAL);
	CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, 24), EINVAL);
	CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, NULL, sizeof(info)), EFAULT);
	info.machid = 128;
	CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)), EINVAL);
	info.machid = 0xffffffff;
	CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)), EINVAL);
	info.machid = 127;			/* free in our registry */
	CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)), ENOENT);

	/* Our machine: empty, then 2 VCPUs and two HVA ranges. */
	CHECK_OK(ctl_info(m.machid, &info));
	CHECK_EQ(info.machid, m.machid);
	CHECK_EQ(info.nvcpus, 0);
	CHECK_EQ(info.nram, 0);
	CHECK_EQ(info.pid, getpid());
	now = time(NULL);
	CHECK(info.time <= now && info.time >= now - 60,
	    "creation time %lld, now %lld", (long long)info.time,
	    (long long)now);

	CHECK_OK(nvmm_vcpu_create(&m, 9, &v[0]));
	CHECK_OK(nvmm_vcpu_create(&m, 250, &v[1]));
	CHECK_OK(nvmm_hva_map(&m, (uintptr_t)buf, 3 * PAGE));
	CHECK_OK(nvmm_hva_map(&m, (uintptr_t)buf + 8 * PAGE, 5 * PAGE));
	/* gpa_map does not count. */
	CHECK_OK(nvmm_gpa_map(&m, (uintptr_t)buf, 0, 3 * PAGE, PROT_READ));
	CHECK_OK(ctl_info(m.machid, &info));
	CHECK_EQ(info.nvcpus, 2);
	CHECK_EQ(info.nram, 8 * PAGE);
	CHECK_OK(nvmm_hva_unmap(&m, (uintptr_t)buf + 8 * PAGE, 5 * PAGE));
	CHECK_OK(nvmm_vcpu_destroy(&m, &v[0]));
	CHECK_OK(ctl_info(m.machid, &info));
	CHECK_EQ(info.nvcpus, 1);
	CHECK_EQ(info.nram, 3 * PAGE);

	CHECK_OK(nvmm_machine_destroy(&m));
	info.machid = m.machid;
	CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)), ENOENT);
	munmap(buf, 16 * PAGE);
}

/*
 * Another process's machine: EPERM, because our handle is the ordinary
 * one (nvmm_init came first; nvmm_root_init did not upgrade it).  Once
 * that process is gone: ENOENT.
 */
static void
ctl_other_process(void)
{
	struct nvmm_ctl_mach_info info;
	int up[2], down[2], status;
	nvmm_machid_t id = 0xffffffff;
	pid_t pid;
	char c;

	if (pipe(up) == -1 || pipe(down) == -1)
		vmt_die("pipe");
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		vmt_die("fork");
	if (pid == 0) {
		struct nvmm_machine m;

		close(up[0]);
		close(down[1]);
		if (nvmm_machine_create(&m) == 0)
			id = m.machid;
		if (write(up[1], &id, sizeof(id)) != sizeof(id))
			_exit(2);
		(void)read(down[0], &c, 1);	/* until the parent is done */
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	CHECK(read(up[0], &id, sizeof(id)) == sizeof(id), "child id");
	CHECK(id < 128, "child could not create a machine");
	if (id < 128) {
		memset(&info, 0, sizeof(info));
		info.machid = id;
		CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)),
		    EPERM);
	}
	close(down[1]);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "child status %#x", status);
	close(up[0]);
	if (id < 128) {
		info.machid = id;
		CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)),
		    ENOENT);
	}
}

/* -------------------------------------------------------------------------
 * 128 machines, then ENOBUFS.
 * ------------------------------------------------------------------------- */

static void
machine_limit(void)
{
	static struct nvmm_machine m[129];
	uint8_t seen[128];
	int n, i, dup = 0;

	memset(seen, 0, sizeof(seen));
	for (n = 0; n < 128; n++) {
		if (nvmm_machine_create(&m[n]) == -1) {
			CHECK(0, "machine %d: %s", n, strerror(errno));
			break;
		}
		if (m[n].machid < 128)
			dup += seen[m[n].machid]++;
	}
	CHECK_EQ(n, 128);
	CHECK_EQ(dup, 0);
	if (n == 128) {
		memset(&m[128], 0x5a, sizeof(m[128]));
		CHECK_ERR(nvmm_machine_create(&m[128]), ENOBUFS);
		CHECK_ERR(nvmm_machine_create(&m[128]), ENOBUFS);
	}
	/* Free one in the middle: it is the one reused. */
	if (n > 60) {
		nvmm_machid_t id = m[60].machid;

		CHECK_OK(nvmm_machine_destroy(&m[60]));
		CHECK_OK(nvmm_machine_create(&m[60]));
		CHECK_EQ(m[60].machid, id);
	}
	for (i = 0; i < n; i++)
		CHECK_OK(nvmm_machine_destroy(&m[i]));
	CHECK_OK(nvmm_machine_create(&m[0]));
	CHECK_EQ(m[0].machid, 0);
	CHECK_OK(nvmm_machine_destroy(&m[0]));
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	before_init();
	vmt_init_or_skip();
	registry_private();	/* before the first machine */
	atexit(registry_remove);
	init_and_capability();
	machines();
	vcpus();
	reset_state();
	vcpu_configure();
	with_guest();
	ctl();
	ctl_other_process();
	machine_limit();
	return vmt_done("t_api");
}
