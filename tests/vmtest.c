/* vmtest.c - helpers for tests that run small guests of their own. */

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <cpuid.h>

#include "vmtest.h"

int vmt_failures;
int vmt_checks;

void
vmt_die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(1);
}

long
vmt_count_dir(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	long n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void
vmt_init_or_skip(void)
{
	if (nvmm_init() == -1) {
		if (errno == ENXIO || errno == EACCES) {
			printf("skipped: /dev/kvm cannot be used (%s)\n",
			    strerror(errno));
			exit(77);
		}
		vmt_die("nvmm_init");
	}
}

void
vmt_create(struct vmt *t, size_t ram_size, nvmm_cpuid_t cpuid)
{
	memset(t, 0, sizeof(*t));
	if (nvmm_machine_create(&t->mach) == -1)
		vmt_die("nvmm_machine_create");
	t->ram_size = ram_size;
	t->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->ram == MAP_FAILED)
		vmt_die("mmap");
	if (nvmm_hva_map(&t->mach, (uintptr_t)t->ram, ram_size) == -1)
		vmt_die("nvmm_hva_map");
	if (nvmm_gpa_map(&t->mach, (uintptr_t)t->ram, 0, ram_size,
	    PROT_READ | PROT_WRITE | PROT_EXEC) == -1)
		vmt_die("nvmm_gpa_map");
	if (nvmm_vcpu_create(&t->mach, cpuid, &t->vcpu) == -1)
		vmt_die("nvmm_vcpu_create");
}

void
vmt_destroy(struct vmt *t)
{
	if (nvmm_machine_destroy(&t->mach) == -1)
		vmt_die("nvmm_machine_destroy");
	munmap(t->ram, t->ram_size);
}

void
vmt_load(struct vmt *t, uint64_t gpa, const void *start, const void *end)
{
	size_t len = (size_t)((const char *)end - (const char *)start);

	if (gpa + len > t->ram_size) {
		fprintf(stderr, "vmt_load: guest code too large\n");
		exit(1);
	}
	memcpy(t->ram + gpa, start, len);
}

static void
set_seg(struct nvmm_x64_state_seg *s, uint16_t sel, int type, int s_bit,
    int l, int def, uint32_t limit, int g)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = limit;
	s->attrib.type = type;
	s->attrib.s = s_bit;
	s->attrib.p = 1;
	s->attrib.l = l;
	s->attrib.def = def;
	s->attrib.g = g;
}

static void
getstate_all(struct vmt *t)
{
	if (nvmm_vcpu_getstate(&t->mach, &t->vcpu, NVMM_X64_STATE_ALL) == -1)
		vmt_die("nvmm_vcpu_getstate");
}

static void
setstate_all(struct vmt *t)
{
	if (nvmm_vcpu_setstate(&t->mach, &t->vcpu, NVMM_X64_STATE_ALL) == -1)
		vmt_die("nvmm_vcpu_setstate");
}

void
vmt_setup_long(struct vmt *t, uint64_t rip)
{
	struct nvmm_x64_state *st = t->vcpu.state;
	uint64_t *pml4 = (uint64_t *)(t->ram + VMT_PML4);
	uint64_t *pdpt = (uint64_t *)(t->ram + VMT_PML4 + 0x1000);
	uint64_t *pd = (uint64_t *)(t->ram + VMT_PML4 + 0x2000);
	uint64_t *gdt = (uint64_t *)(t->ram + VMT_GDT);
	int i;

	memset(pml4, 0, 0x3000);
	pml4[0] = (VMT_PML4 + 0x1000) | 0x7;
	pdpt[0] = (VMT_PML4 + 0x2000) | 0x7;
	for (i = 0; i < 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x87;	/* P, RW, US, PS */
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffULL;		/* 0x08: 64-bit code */
	gdt[2] = 0x00cf93000000ffffULL;		/* 0x10: data */

	getstate_all(t);
	set_seg(&st->segs[NVMM_X64_SEG_CS], 0x08, 11, 1, 1, 0, 0xffffffff, 1);
	for (i = 0; i < NVMM_X64_NSEG; i++) {
		if (i == NVMM_X64_SEG_CS || i >= NVMM_X64_SEG_GDT)
			continue;
		set_seg(&st->segs[i], 0x10, 3, 1, 0, 1, 0xffffffff, 1);
	}
	memset(&st->segs[NVMM_X64_SEG_GDT], 0, sizeof(st->segs[0]));
	st->segs[NVMM_X64_SEG_GDT].base = VMT_GDT;
	st->segs[NVMM_X64_SEG_GDT].limit = 23;
	memset(&st->segs[NVMM_X64_SEG_IDT], 0, sizeof(st->segs[0]));
	st->segs[NVMM_X64_SEG_IDT].base = VMT_IDT;
	st->segs[NVMM_X64_SEG_IDT].limit = 0;
	set_seg(&st->segs[NVMM_X64_SEG_LDT], 0, 2, 0, 0, 0, 0xffff, 0);
	set_seg(&st->segs[NVMM_X64_SEG_TR], 0, 11, 0, 0, 0, 0xffff, 0);
	st->crs[NVMM_X64_CR_CR0] = 0x80050033;	/* PG WP NE ET MP PE */
	st->crs[NVMM_X64_CR_CR3] = VMT_PML4;
	st->crs[NVMM_X64_CR_CR4] = 0x620;	/* PAE OSFXSR OSXMMEXCPT */
	st->msrs[NVMM_X64_MSR_EFER] = 0x500;	/* LME LMA */
	st->gprs[NVMM_X64_GPR_RIP] = rip;
	st->gprs[NVMM_X64_GPR_RSP] = VMT_STACK;
	st->gprs[NVMM_X64_GPR_RFLAGS] = 0x2;
	setstate_all(t);
}

void
vmt_setup_prot32(struct vmt *t, uint64_t rip)
{
	struct nvmm_x64_state *st = t->vcpu.state;
	int i;

	getstate_all(t);
	set_seg(&st->segs[NVMM_X64_SEG_CS], 0x08, 11, 1, 0, 1, 0xffffffff, 1);
	for (i = 0; i < NVMM_X64_NSEG; i++) {
		if (i == NVMM_X64_SEG_CS || i >= NVMM_X64_SEG_GDT)
			continue;
		set_seg(&st->segs[i], 0x10, 3, 1, 0, 1, 0xffffffff, 1);
	}
	st->crs[NVMM_X64_CR_CR0] = 0x11;	/* ET PE */
	st->gprs[NVMM_X64_GPR_RIP] = rip;
	st->gprs[NVMM_X64_GPR_RSP] = VMT_STACK;
	st->gprs[NVMM_X64_GPR_RFLAGS] = 0x2;
	setstate_all(t);
}

void
vmt_setup_real(struct vmt *t, uint64_t rip)
{
	struct nvmm_x64_state *st = t->vcpu.state;

	getstate_all(t);
	/* The reset state is real mode already; move CS to the code. */
	st->segs[NVMM_X64_SEG_CS].selector = (uint16_t)(rip >> 4);
	st->segs[NVMM_X64_SEG_CS].base = rip & ~0xfULL;
	st->gprs[NVMM_X64_GPR_RIP] = rip & 0xf;
	st->gprs[NVMM_X64_GPR_RSP] = 0xf000;
	setstate_all(t);
}

uint64_t
vmt_run(struct vmt *t)
{
	for (;;) {
		if (nvmm_vcpu_run(&t->mach, &t->vcpu) == -1)
			vmt_die("nvmm_vcpu_run");
		if (t->vcpu.exit->reason != NVMM_VCPU_EXIT_NONE)
			return t->vcpu.exit->reason;
	}
}

uint64_t
vmt_gpr(struct vmt *t, int gpr)
{
	if (nvmm_vcpu_getstate(&t->mach, &t->vcpu, NVMM_X64_STATE_GPRS) == -1)
		vmt_die("nvmm_vcpu_getstate");
	return t->vcpu.state->gprs[gpr];
}

void
vmt_set_gpr(struct vmt *t, int gpr, uint64_t val)
{
	if (nvmm_vcpu_getstate(&t->mach, &t->vcpu, NVMM_X64_STATE_GPRS) == -1)
		vmt_die("nvmm_vcpu_getstate");
	t->vcpu.state->gprs[gpr] = val;
	if (nvmm_vcpu_setstate(&t->mach, &t->vcpu, NVMM_X64_STATE_GPRS) == -1)
		vmt_die("nvmm_vcpu_setstate");
}

int
vmt_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, vmt_checks, vmt_failures);
	return vmt_failures == 0 ? 0 : 1;
}

uint64_t
vmt_rnd(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545F4914F6CDD1DULL;
}

/* Does this process run on QEMU's TCG (its hypervisor leaf says so)? */
int
vmt_on_qemu_tcg(void)
{
	unsigned a, b, c, d;
	char sig[12];

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & 0x80000000U))
		return 0;
	__cpuid(0x40000000, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	return memcmp(sig, "TCGTCGTCGTCG", 12) == 0;
}

uint32_t vmt_port_data[VMT_NPORTS];
int vmt_port_seen[VMT_NPORTS];

static void
vmt_port_io(struct nvmm_io *io)
{
	uint32_t v = 0;

	if (io->in) {
		memset(io->data, 0, io->size);
		return;
	}
	memcpy(&v, io->data, io->size < sizeof(v) ? io->size : sizeof(v));
	if (io->port < VMT_NPORTS) {
		vmt_port_data[io->port] = v;
		vmt_port_seen[io->port] = 1;
	}
}

static void
vmt_port_mem(struct nvmm_mem *mem)
{
	(void)mem;
}

struct nvmm_assist_callbacks vmt_port_cbs = { vmt_port_io, vmt_port_mem };
