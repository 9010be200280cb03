/* nvmm_internal.h - libnvmm's private objects and the backend hook table. */

#ifndef _NVMM_INTERNAL_H_
#define _NVMM_INTERNAL_H_

#include <nvmm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "nvmm_registry.h"

#define NVMM_MAX_VCPUS		256
#define NVMM_MAX_RAM		0x2000000000ULL		/* 128 GiB */
#define NVMM_MAX_HVAS		32
#define NVMM_PAGE_SIZE		4096ULL

#define nvmm_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* -------------------------------------------------------------------------
 * Objects.
 * ------------------------------------------------------------------------- */

/* A guest-physical range given to the guest by nvmm_gpa_map(). */
struct nvmm_area {
	gpaddr_t gpa;
	uintptr_t hva;
	size_t size;
	int prot;		/* mmap PROT_* as given */
	nvmm_prot_t nprot;	/* the same as NVMM_PROT_* */
	int slot;		/* backend slot, -1 when nothing is mapped */
};

/* A host range registered by nvmm_hva_map(). */
struct nvmm_hva {
	uintptr_t hva;
	size_t size;
};

struct nvmm_mach_priv {
	nvmm_machid_t machid;
	bool registered;	/* machid comes from the host-wide registry */
	time_t ctime;		/* creation time, for nvmm_ctl() */
	unsigned int fork_gen;	/* nvmm_fork_gen when created */

	/* Memory: readers are the assists and translations. */
	pthread_rwlock_t mem_lock;
	struct nvmm_area *areas;
	size_t nareas;
	size_t areas_cap;
	struct nvmm_hva hvas[NVMM_MAX_HVAS];
	size_t nhvas;
	/* Bumped by every unmap: host addresses of guest RAM kept from
	   before are stale.  nvmm_mem_same() reads guest RAM through such
	   addresses without mem_lock, counted in gen_readers; an unmap
	   bumps the generation, then waits for the count to drop. */
	_Atomic uint64_t map_gen;
	_Atomic unsigned int gen_readers;

	/* VCPUs, indexed by id; creation and destruction take vcpu_lock. */
	pthread_mutex_t vcpu_lock;
	struct nvmm_vcpu_priv *_Atomic vcpus[NVMM_MAX_VCPUS];
	uint32_t nvcpus;

	void *be;		/* backend machine */
};

/*
 * The machine-independent part of a VCPU.  The backend embeds it in its
 * own VCPU object.  state/event/exit/stop are what the client's
 * struct nvmm_vcpu points to: NVMM's communication page, whose types the
 * API fixes per architecture.  Everything else a backend keeps (its
 * configuration included) is its own.
 */
struct nvmm_vcpu_priv {
	struct nvmm_x64_state state __attribute__((__aligned__(64)));
	struct nvmm_x86_event event;
	struct nvmm_x86_exit exit;
	/* NVMM's ABI hands the client a volatile int * to this word; the
	   library itself only touches it atomically (same size and
	   alignment as int, checked in nvmm.c). */
	_Atomic int stop;
	_Atomic int event_pending;	/* nvmm_vcpu_inject() was called */
	/* The event as it was when nvmm_vcpu_inject() was called: another
	   thread may inject while the VCPU thread runs. */
	struct nvmm_x86_event event_copy;
	atomic_flag event_lock;

	nvmm_cpuid_t cpuid;
	struct nvmm_mach_priv *mach;
};

/* -------------------------------------------------------------------------
 * The backend: everything that talks to the host hypervisor.
 * ------------------------------------------------------------------------- */

struct nvmm_backend {
	const char *name;
	int (*init)(void);
	void (*capability)(struct nvmm_capability *);

	int (*machine_create)(struct nvmm_mach_priv *);
	void (*machine_destroy)(struct nvmm_mach_priv *);

	int (*vcpu_create)(struct nvmm_mach_priv *, nvmm_cpuid_t,
	    struct nvmm_vcpu_priv **);
	void (*vcpu_destroy)(struct nvmm_mach_priv *, struct nvmm_vcpu_priv *);

	/*
	 * The machine-dependent configuration ops: op NVMM_*_CONF_MD_BEGIN + i
	 * exists for i < *_conf_max and takes a structure of *_conf_sizes[i]
	 * bytes.  The front end checks the op, looks the object up and hands
	 * the hook its own copy of the structure.
	 */
	size_t mach_conf_max;
	const size_t *mach_conf_sizes;
	int (*machine_configure)(struct nvmm_mach_priv *, uint64_t op,
	    void *data);
	size_t vcpu_conf_max;
	const size_t *vcpu_conf_sizes;
	int (*vcpu_configure)(struct nvmm_vcpu_priv *, uint64_t op,
	    void *data);

	int (*vcpu_getstate)(struct nvmm_vcpu_priv *, uint64_t flags);
	void (*vcpu_setstate)(struct nvmm_vcpu_priv *, uint64_t flags);
	int (*vcpu_run)(struct nvmm_vcpu_priv *);
	/* Async-signal-safe: make a running VCPU leave guest mode soon. */
	void (*vcpu_kick)(struct nvmm_vcpu_priv *);
	int (*assist_io)(struct nvmm_machine *, struct nvmm_vcpu *,
	    struct nvmm_vcpu_priv *);
	int (*assist_mem)(struct nvmm_machine *, struct nvmm_vcpu *,
	    struct nvmm_vcpu_priv *);
	/* Fills the paging registers for a page walk, without a system call
	   when the backend can. */
	int (*vcpu_paging)(struct nvmm_vcpu_priv *, uint64_t *cr0,
	    uint64_t *cr3, uint64_t *cr4, uint64_t *efer);

	int (*gpa_map)(struct nvmm_mach_priv *, struct nvmm_area *);
	int (*gpa_unmap)(struct nvmm_mach_priv *, struct nvmm_area *);
};

/* The largest configuration structure a backend may declare. */
#define NVMM_CONF_MAXSIZE	256

extern const struct nvmm_backend nvmm_kvm_x86_64;

/*
 * The kind of KVM underneath, known after nvmm_init(): where hosts differ
 * in ways the library cannot hide (docs/kvm-hosts.md), tests and nvmmctl ask.
 */
enum nvmm_kvm_host {
	NVMM_KVM_HOST_UNKNOWN,
	NVMM_KVM_HOST_AMD,	/* kvm_amd: AMD-V (SVM) */
	NVMM_KVM_HOST_INTEL,	/* kvm_intel: VT-x (VMX) */
	NVMM_KVM_HOST_PVM,	/* kvm_pvm: guest CPL0 emulated */
};
enum nvmm_kvm_host nvmm_kvm_host(void);

/* Why nvmm_init() found KVM unusable (the missing capability, say), or
   NULL after a successful one: nvmmctl identify prints it. */
const char *nvmm_kvm_unusable(void);
const char *nvmm_kvm_host_name(enum nvmm_kvm_host);
/* Is XSAVE offered to guests (does a guest's XSETBV reach KVM)? */
bool nvmm_kvm_xsave(void);

/* VCPU and memory ioctls issued so far, KVM_RUN excepted: tests check
   that the exit path makes none. */
extern _Atomic unsigned long nvmm_kvm_ioctls;

/* -------------------------------------------------------------------------
 * Front-end services for the backend (lib/nvmm_mem.c).
 * ------------------------------------------------------------------------- */

/* Pushes nvcpus and the registered RAM to the registry. */
void nvmm_mach_update_registry(struct nvmm_mach_priv *);

/* Looks a machine up for the memory functions (nvmm.c). */
struct nvmm_mach_priv *nvmm_mach_lookup(struct nvmm_machine *);
struct nvmm_vcpu_priv *nvmm_vcpu_lookup(struct nvmm_machine *,
    struct nvmm_vcpu *, struct nvmm_mach_priv **);
extern const struct nvmm_backend *nvmm_be;

/* Copies guest RAM at gpa; 0, or -1 if not entirely inside one area. */
int nvmm_mem_read_phys(struct nvmm_mach_priv *, gpaddr_t gpa, void *buf,
    size_t len);

/*
 * Reads up to len bytes of guest memory at a linear address, through the
 * VCPU's page tables and guest RAM only (never MMIO).  Returns the number
 * of bytes read (stops at the first page it cannot read).
 */
size_t nvmm_mem_read_linear(struct nvmm_mach_priv *, struct nvmm_vcpu_priv *,
    gvaddr_t gva, void *buf, size_t len);

/*
 * nvmm_mem_read_linear(), and where the bytes are in host memory when
 * they lie in one page of guest RAM (*hva, else NULL), with the map
 * generation under which that address stays valid (*gen).
 */
size_t nvmm_mem_read_linear_hva(struct nvmm_mach_priv *,
    struct nvmm_vcpu_priv *, gvaddr_t gva, void *buf, size_t len,
    const uint8_t **hva, uint64_t *gen);

/* memcmp() == 0 for the few bytes of an instruction, without a call. */
static inline bool
nvmm_mem_bytes_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t x, y;

	for (; n >= 8; a += 8, b += 8, n -= 8) {
		__builtin_memcpy(&x, a, 8);
		__builtin_memcpy(&y, b, 8);
		if (x != y)
			return false;
	}
	for (; n > 0; a++, b++, n--) {
		if (*a != *b)
			return false;
	}
	return true;
}

/*
 * Are the n1 bytes at hva1 and the n2 at hva2 (from
 * nvmm_mem_read_linear_hva() under generation gen) still b1 and b2?
 * Inline: every cached exit asks.  The reader is counted first, then the
 * generation read: an unmap either sees the reader and waits for it, or
 * has bumped the generation before it is read here (both sequentially
 * consistent), so no byte is read from RAM being unmapped.
 */
static inline bool
nvmm_mem_same(struct nvmm_mach_priv *m, uint64_t gen,
    const uint8_t *hva1, const uint8_t *b1, size_t n1,
    const uint8_t *hva2, const uint8_t *b2, size_t n2)
{
	bool same;

	atomic_fetch_add(&m->gen_readers, 1);
	same = atomic_load(&m->map_gen) == gen &&
	    nvmm_mem_bytes_eq(hva1, b1, n1) && nvmm_mem_bytes_eq(hva2, b2, n2);
	atomic_fetch_sub(&m->gen_readers, 1);
	return same;
}

/*
 * Walks the VCPU's page tables for gva and says whether a paging-structure
 * entry had to be read outside the guest memory the backend maps (where
 * KVM cannot walk): 1 if so, else 0 (the walk worked or failed on the
 * entries' own contents).
 */
int nvmm_mem_tables_outside(struct nvmm_mach_priv *, struct nvmm_vcpu_priv *,
    gvaddr_t gva);

#endif
