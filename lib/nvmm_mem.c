/* nvmm_mem.c - host and guest-physical memory: HVA/GPA maps, translations. */

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "nvmm_internal.h"
#include "x86_walk.h"

#define NVMM_PAGE_MASK	(NVMM_PAGE_SIZE - 1)

/* -------------------------------------------------------------------------
 * Area list (callers hold mem_lock).
 * ------------------------------------------------------------------------- */

/* The area holding all of [gpa, gpa+len), or NULL. */
static struct nvmm_area *
area_find(struct nvmm_mach_priv *m, gpaddr_t gpa, size_t len)
{
	struct nvmm_area *a;
	size_t i;

	for (i = 0; i < m->nareas; i++) {
		a = &m->areas[i];
		if (gpa >= a->gpa && gpa - a->gpa < a->size &&
		    len <= a->size - (gpa - a->gpa))
			return a;
	}
	return NULL;
}

static bool
area_overlaps(struct nvmm_mach_priv *m, gpaddr_t gpa, size_t size)
{
	size_t i;

	for (i = 0; i < m->nareas; i++) {
		if (gpa < m->areas[i].gpa + m->areas[i].size &&
		    m->areas[i].gpa < gpa + size)
			return true;
	}
	return false;
}

/* -------------------------------------------------------------------------
 * HVA registrations.
 * ------------------------------------------------------------------------- */

int
nvmm_hva_map(struct nvmm_machine *mach, uintptr_t hva, size_t size)
{
	struct nvmm_mach_priv *m;
	struct nvmm_hva *h;
	size_t i;

	if ((m = nvmm_mach_lookup(mach)) == NULL)
		return -1;
	if (hva == 0 || size == 0 || (hva & NVMM_PAGE_MASK) != 0 ||
	    (size & NVMM_PAGE_MASK) != 0 || hva + size < hva) {
		errno = EINVAL;
		return -1;
	}
	/*
	 * Unlike NetBSD, the memory is not replaced by fresh zeroed memory:
	 * it must already be mapped (QEMU's RAM may be memfd or hugepages).
	 */
	if (msync((void *)hva, size, MS_ASYNC) == -1) {
		errno = EFAULT;
		return -1;
	}

	pthread_rwlock_wrlock(&m->mem_lock);
	/* Inside a registered range is fine (NetBSD then registers it a
	   second time); otherwise it may not overlap any range. */
	for (i = 0; i < m->nhvas; i++) {
		h = &m->hvas[i];
		if (hva >= h->hva && hva + size <= h->hva + h->size)
			break;
	}
	for (i = (i < m->nhvas) ? m->nhvas : 0; i < m->nhvas; i++) {
		h = &m->hvas[i];
		if (hva < h->hva + h->size && h->hva < hva + size) {
			pthread_rwlock_unlock(&m->mem_lock);
			errno = EEXIST;
			return -1;
		}
	}
	if (m->nhvas == NVMM_MAX_HVAS) {
		pthread_rwlock_unlock(&m->mem_lock);
		errno = ENOBUFS;
		return -1;
	}
	m->hvas[m->nhvas].hva = hva;
	m->hvas[m->nhvas].size = size;
	m->nhvas++;
	pthread_mutex_lock(&m->vcpu_lock);
	nvmm_mach_update_registry(m);
	pthread_mutex_unlock(&m->vcpu_lock);
	pthread_rwlock_unlock(&m->mem_lock);
	return 0;
}

/* Under mem_lock (write): host addresses kept from before go stale;
   returns once no nvmm_mem_same() reads through them. */
static void
gen_bump(struct nvmm_mach_priv *m)
{
	atomic_fetch_add(&m->map_gen, 1);
	while (atomic_load(&m->gen_readers) != 0)
		sched_yield();
}

int
nvmm_hva_unmap(struct nvmm_machine *mach, uintptr_t hva, size_t size)
{
	struct nvmm_mach_priv *m;
	size_t i;

	if ((m = nvmm_mach_lookup(mach)) == NULL)
		return -1;
	pthread_rwlock_wrlock(&m->mem_lock);
	for (i = 0; i < m->nhvas; i++) {
		if (m->hvas[i].hva == hva && m->hvas[i].size == size) {
			m->hvas[i] = m->hvas[--m->nhvas];
			gen_bump(m);
			pthread_mutex_lock(&m->vcpu_lock);
			nvmm_mach_update_registry(m);
			pthread_mutex_unlock(&m->vcpu_lock);
			pthread_rwlock_unlock(&m->mem_lock);
			return 0;
		}
	}
	pthread_rwlock_unlock(&m->mem_lock);
	errno = ENOENT;
	return -1;
}

/* -------------------------------------------------------------------------
 * Guest-physical mappings.
 * ------------------------------------------------------------------------- */

static bool
hva_registered(struct nvmm_mach_priv *m, uintptr_t hva, size_t size)
{
	size_t i;

	for (i = 0; i < m->nhvas; i++) {
		if (hva >= m->hvas[i].hva &&
		    hva + size <= m->hvas[i].hva + m->hvas[i].size)
			return true;
	}
	return false;
}

int
nvmm_gpa_map(struct nvmm_machine *mach, uintptr_t hva, gpaddr_t gpa,
    size_t size, int prot)
{
	struct nvmm_mach_priv *m;
	struct nvmm_area a, *na;

	if ((m = nvmm_mach_lookup(mach)) == NULL)
		return -1;
	if ((prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) != 0 ||
	    size == 0 || gpa + size < gpa || hva + size < hva ||
	    ((gpa | size | hva) & NVMM_PAGE_MASK) != 0 || hva == 0 ||
	    gpa >= NVMM_MAX_RAM || gpa + size > NVMM_MAX_RAM) {
		errno = EINVAL;
		return -1;
	}

	pthread_rwlock_wrlock(&m->mem_lock);
	if (area_overlaps(m, gpa, size) || !hva_registered(m, hva, size)) {
		pthread_rwlock_unlock(&m->mem_lock);
		errno = EINVAL;
		return -1;
	}
	if (m->nareas == m->areas_cap) {
		size_t cap = m->areas_cap ? m->areas_cap * 2 : 8;

		na = realloc(m->areas, cap * sizeof(*na));
		if (na == NULL) {
			pthread_rwlock_unlock(&m->mem_lock);
			errno = ENOMEM;
			return -1;
		}
		m->areas = na;
		m->areas_cap = cap;
	}
	a.gpa = gpa;
	a.hva = hva;
	a.size = size;
	a.prot = prot;
	a.nprot = ((prot & PROT_READ) ? NVMM_PROT_READ : 0) |
	    ((prot & PROT_WRITE) ? NVMM_PROT_WRITE : 0) |
	    ((prot & PROT_EXEC) ? NVMM_PROT_EXEC : 0);
	a.slot = -1;
	/* The backend first, so that a failure leaves the list untouched. */
	if (nvmm_be->gpa_map(m, &a) == -1) {
		int err = errno;

		pthread_rwlock_unlock(&m->mem_lock);
		errno = err;
		return -1;
	}
	m->areas[m->nareas++] = a;
	pthread_rwlock_unlock(&m->mem_lock);
	return 0;
}

int
nvmm_gpa_unmap(struct nvmm_machine *mach, uintptr_t hva, gpaddr_t gpa,
    size_t size)
{
	struct nvmm_mach_priv *m;
	size_t i;

	if ((m = nvmm_mach_lookup(mach)) == NULL)
		return -1;
	pthread_rwlock_wrlock(&m->mem_lock);
	for (i = 0; i < m->nareas; i++) {
		struct nvmm_area *a = &m->areas[i];

		if (a->hva != hva || a->gpa != gpa || a->size != size)
			continue;
		if (nvmm_be->gpa_unmap(m, a) == -1) {
			int err = errno;

			pthread_rwlock_unlock(&m->mem_lock);
			errno = err;
			return -1;
		}
		*a = m->areas[--m->nareas];
		gen_bump(m);
		pthread_rwlock_unlock(&m->mem_lock);
		return 0;
	}
	pthread_rwlock_unlock(&m->mem_lock);
	errno = ESRCH;
	return -1;
}

int
nvmm_gpa_to_hva(struct nvmm_machine *mach, gpaddr_t gpa, uintptr_t *hva,
    nvmm_prot_t *prot)
{
	struct nvmm_mach_priv *m;
	struct nvmm_area *a;

	if ((m = nvmm_mach_lookup(mach)) == NULL)
		return -1;
	if (hva == NULL || prot == NULL) {
		errno = EFAULT;
		return -1;
	}
	pthread_rwlock_rdlock(&m->mem_lock);
	if ((a = area_find(m, gpa, 1)) == NULL) {
		pthread_rwlock_unlock(&m->mem_lock);
		errno = ENOENT;
		return -1;
	}
	*hva = a->hva + (gpa - a->gpa);
	*prot = a->nprot;
	pthread_rwlock_unlock(&m->mem_lock);
	return 0;
}

/* -------------------------------------------------------------------------
 * Guest memory reads, bounded to the registered RAM.
 * ------------------------------------------------------------------------- */

/* Where the len bytes at gpa are in host memory; NULL unless they lie
   in one area.  Under mem_lock. */
static const uint8_t *
gpa_hva_locked(struct nvmm_mach_priv *m, gpaddr_t gpa, size_t len)
{
	struct nvmm_area *a;

	if ((a = area_find(m, gpa, len)) == NULL)
		return NULL;
	return (const uint8_t *)(a->hva + (gpa - a->gpa));
}

static int
read_phys_locked(void *arg, gpaddr_t gpa, void *buf, size_t len)
{
	const uint8_t *p = gpa_hva_locked(arg, gpa, len);

	if (p == NULL)
		return -1;
	memcpy(buf, p, len);
	return 0;
}

int
nvmm_mem_read_phys(struct nvmm_mach_priv *m, gpaddr_t gpa, void *buf,
    size_t len)
{
	int ret;

	pthread_rwlock_rdlock(&m->mem_lock);
	ret = read_phys_locked(m, gpa, buf, len);
	pthread_rwlock_unlock(&m->mem_lock);
	return ret;
}

size_t
nvmm_mem_read_linear_hva(struct nvmm_mach_priv *m, struct nvmm_vcpu_priv *v,
    gvaddr_t gva, void *buf, size_t len, const uint8_t **hva, uint64_t *gen)
{
	struct x86_walk_regs r;
	const uint8_t *p;
	uint8_t *out = buf;
	size_t done = 0, chunk;
	gpaddr_t gpa;
	nvmm_prot_t prot;

	*hva = NULL;
	if (nvmm_be->vcpu_paging(v, &r.cr0, &r.cr3, &r.cr4, &r.efer) == -1)
		return 0;
	pthread_rwlock_rdlock(&m->mem_lock);
	*gen = atomic_load(&m->map_gen);
	while (done < len) {
		chunk = NVMM_PAGE_SIZE - ((gva + done) & NVMM_PAGE_MASK);
		if (chunk > len - done)
			chunk = len - done;
		if (x86_gva_to_gpa(&r, read_phys_locked, m, gva + done, &gpa,
		    &prot) == -1 || (p = gpa_hva_locked(m, gpa, chunk)) == NULL)
			break;
		memcpy(out + done, p, chunk);
		if (done == 0 && chunk == len)
			*hva = p;
		done += chunk;
	}
	pthread_rwlock_unlock(&m->mem_lock);
	return done;
}

size_t
nvmm_mem_read_linear(struct nvmm_mach_priv *m, struct nvmm_vcpu_priv *v,
    gvaddr_t gva, void *buf, size_t len)
{
	const uint8_t *hva;
	uint64_t gen;

	return nvmm_mem_read_linear_hva(m, v, gva, buf, len, &hva, &gen);
}

/* A table read of nvmm_mem_tables_outside(): notes reads the backend
   cannot serve (no area, or an area with nothing mapped). */
struct tables_probe {
	struct nvmm_mach_priv *m;
	bool outside;
};

static int
read_phys_probe(void *arg, gpaddr_t gpa, void *buf, size_t len)
{
	struct tables_probe *p = arg;
	struct nvmm_area *a = area_find(p->m, gpa, len);

	if (a == NULL || a->slot < 0) {
		p->outside = true;
		return -1;
	}
	memcpy(buf, (const void *)(a->hva + (gpa - a->gpa)), len);
	return 0;
}

int
nvmm_mem_tables_outside(struct nvmm_mach_priv *m, struct nvmm_vcpu_priv *v,
    gvaddr_t gva)
{
	struct tables_probe p = { m, false };
	struct x86_walk_regs r;
	gpaddr_t gpa;
	nvmm_prot_t prot;

	if (nvmm_be->vcpu_paging(v, &r.cr0, &r.cr3, &r.cr4, &r.efer) == -1)
		return 0;
	pthread_rwlock_rdlock(&m->mem_lock);
	(void)x86_gva_to_gpa(&r, read_phys_probe, &p, gva, &gpa, &prot);
	pthread_rwlock_unlock(&m->mem_lock);
	return p.outside ? 1 : 0;
}

int
nvmm_gva_to_gpa(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu,
    gvaddr_t gva, gpaddr_t *gpa, nvmm_prot_t *prot)
{
	struct nvmm_mach_priv *m;
	struct nvmm_vcpu_priv *v;
	struct x86_walk_regs r;
	int ret;

	if ((v = nvmm_vcpu_lookup(mach, vcpu, &m)) == NULL)
		return -1;
	if (gpa == NULL || prot == NULL) {
		errno = EFAULT;
		return -1;
	}
	if (nvmm_be->vcpu_paging(v, &r.cr0, &r.cr3, &r.cr4, &r.efer) == -1)
		return -1;
	pthread_rwlock_rdlock(&m->mem_lock);
	ret = x86_gva_to_gpa(&r, read_phys_locked, m, gva, gpa, prot);
	pthread_rwlock_unlock(&m->mem_lock);
	if (ret == -1)
		errno = EFAULT;
	return ret;
}
