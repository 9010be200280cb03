/* vmtest.h - helpers for tests that run small guests of their own. */

#ifndef _VMTEST_H_
#define _VMTEST_H_

#include <errno.h>
#include <nvmm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Guest physical layout used by vmt_setup_*(). */
#define VMT_PML4	0x1000ULL	/* 4-level tables: PML4, PDPT, PD */
#define VMT_GDT		0x5000ULL
#define VMT_IDT		0x6000ULL
#define VMT_STACK	0xf000ULL	/* initial RSP (grows down) */
#define VMT_CODE	0x10000ULL	/* guest code is loaded here */
#define VMT_DATA	0x100000ULL	/* free RAM for tests */
#define VMT_RAM		0x400000ULL	/* 4 MiB of RAM at GPA 0 */
#define VMT_MMIO	0x20000000ULL	/* an unmapped GPA (512 MiB) */

struct vmt {
	struct nvmm_machine mach;
	struct nvmm_vcpu vcpu;
	uint8_t *ram;
	size_t ram_size;
};

extern int vmt_failures;
extern int vmt_checks;

#define CHECK(cond, ...) do {						\
	vmt_checks++;							\
	if (!(cond)) {							\
		vmt_failures++;						\
		fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,	\
		    __LINE__, #cond);					\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	unsigned long long _a = (unsigned long long)(a);		\
	unsigned long long _b = (unsigned long long)(b);		\
	CHECK(_a == _b, "%s = %#llx, expected %#llx", #a, _a, _b);	\
} while (0)

/* call returns -1 with errno e. */
#define CHECK_ERR(call, e) do {						\
	int _r, _e;							\
	errno = 0;							\
	_r = (call);							\
	_e = errno;							\
	CHECK(_r == -1 && _e == (e), "%s: returned %d errno %d (%s), "	\
	    "expected -1 errno %d (%s)", #call, _r, _e, strerror(_e),	\
	    (e), strerror(e));						\
} while (0)

/* call returns 0. */
#define CHECK_OK(call) do {						\
	int _r, _e;							\
	errno = 0;							\
	_r = (call);							\
	_e = errno;							\
	CHECK(_r == 0, "%s: returned %d errno %d (%s)", #call, _r, _e,	\
	    strerror(_e));						\
} while (0)

/* One more inconsistent result of a fuzz loop, counted in bad: only the
   first 20 become failed checks, so that a broken run stays readable. */
#define CHECK_FUZZ_BAD(bad, ...) do {					\
	if (++(bad) <= 20)						\
		CHECK(0, __VA_ARGS__);					\
} while (0)

/* Prints what failed with strerror(errno) and exits 1. */
void vmt_die(const char *what);

/* Entries of a directory, dot files excepted (/proc/self/fd...); -1. */
long vmt_count_dir(const char *path);

/* nvmm_init(), or exit 77 with the reason when there is no usable KVM. */
void vmt_init_or_skip(void);

/* A machine with ram_size bytes of RAM at GPA 0 and one VCPU. */
void vmt_create(struct vmt *, size_t ram_size, nvmm_cpuid_t cpuid);
void vmt_destroy(struct vmt *);

/* Copies [start, end) into guest RAM at gpa. */
void vmt_load(struct vmt *, uint64_t gpa, const void *start, const void *end);

/* 64-bit long mode, CPL0, identity-mapped first 1 GiB (2 MiB pages). */
void vmt_setup_long(struct vmt *, uint64_t rip);
/* 32-bit flat protected mode, paging off. */
void vmt_setup_prot32(struct vmt *, uint64_t rip);
/* Real mode with CS = rip >> 4 (16-byte aligned rip). */
void vmt_setup_real(struct vmt *, uint64_t rip);

/* Runs until an exit other than NONE; returns the reason. */
uint64_t vmt_run(struct vmt *);

/* Reads a GPR after getstate. */
uint64_t vmt_gpr(struct vmt *, int gpr);
void vmt_set_gpr(struct vmt *, int gpr, uint64_t val);

/* Assist callbacks that keep the last value an OUT wrote to each port
   below VMT_NPORTS and which ports were written (an IN reads 0). */
#define VMT_NPORTS	0x60
extern uint32_t vmt_port_data[VMT_NPORTS];
extern int vmt_port_seen[VMT_NPORTS];
extern struct nvmm_assist_callbacks vmt_port_cbs;

/* Does this process run on QEMU's TCG (its hypervisor leaf says so)? */
int vmt_on_qemu_tcg(void);

/* Final line and exit status of a test. */
int vmt_done(const char *name);

/* xorshift64*: the next number of a reproducible sequence (fuzz loops);
   *state is the test's seed at first and must not be 0. */
uint64_t vmt_rnd(uint64_t *state);

#endif
