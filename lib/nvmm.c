/* nvmm.c - libnvmm front end: handles, lookups, argument checks, dispatch. */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvmm_internal.h"

/* -------------------------------------------------------------------------
 * Library state.
 * ------------------------------------------------------------------------- */

const struct nvmm_backend *nvmm_be;	/* set by a successful init */
static bool nvmm_is_root;
static struct nvmm_capability nvmm_cap;

/* Machines of this process, indexed by machine id. */
static struct nvmm_mach_priv *_Atomic nvmm_machines[NVMM_MAX_MACHINES];
static pthread_mutex_t nvmm_machines_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Bumped in a forked child: machines created before the fork belong to the
 * parent (their KVM VMs are bound to its address space).  Checking it costs
 * no system call, unlike getpid().
 */
static _Atomic unsigned int nvmm_fork_gen;

/* The client sees the stop word as NVMM's volatile int. */
_Static_assert(sizeof(_Atomic int) == sizeof(int) &&
    _Alignof(_Atomic int) == _Alignof(int), "stop word layout");

static void
nvmm_atfork_child(void)
{
	atomic_fetch_add(&nvmm_fork_gen, 1);
}

/* -------------------------------------------------------------------------
 * Initialisation and capability.
 * ------------------------------------------------------------------------- */

static int
nvmm_do_init(bool root)
{
	static bool atfork_done;

	if (nvmm_be != NULL)
		return 0;	/* the first kind of handle wins */
	if (root && geteuid() != 0) {
		errno = EACCES;
		return -1;
	}
	if (nvmm_kvm_x86_64.init() == -1)
		return -1;
	nvmm_kvm_x86_64.capability(&nvmm_cap);
	if (nvmm_cap.version != NVMM_KERN_VERSION) {
		errno = EPROGMISMATCH;
		return -1;
	}
	if (!atfork_done) {
		if (pthread_atfork(NULL, NULL, nvmm_atfork_child) != 0) {
			errno = ENOMEM;
			return -1;
		}
		atfork_done = true;
	}
	nvmm_is_root = root;
	nvmm_be = &nvmm_kvm_x86_64;
	return 0;
}

int
nvmm_init(void)
{
	return nvmm_do_init(false);
}

int
nvmm_root_init(void)
{
	return nvmm_do_init(true);
}

int
nvmm_capability(struct nvmm_capability *cap)
{
	if (nvmm_be == NULL) {
		errno = EBADF;
		return -1;
	}
	if (cap == NULL) {
		errno = EFAULT;
		return -1;
	}
	*cap = nvmm_cap;
	return 0;
}

/* -------------------------------------------------------------------------
 * Lookups, in the order NVMM checks: handle, machine id, machine, owner,
 * VCPU id, VCPU.
 * ------------------------------------------------------------------------- */

struct nvmm_mach_priv *
nvmm_mach_lookup(struct nvmm_machine *mach)
{
	struct nvmm_mach_priv *m;

	if (nvmm_be == NULL) {
		errno = EBADF;
		return NULL;
	}
	if (mach == NULL) {
		errno = EFAULT;
		return NULL;
	}
	if (mach->machid >= NVMM_MAX_MACHINES) {
		errno = EINVAL;
		return NULL;
	}
	m = atomic_load_explicit(&nvmm_machines[mach->machid],
	    memory_order_acquire);
	if (m == NULL || mach->areas != (void *)m) {
		errno = ENOENT;
		return NULL;
	}
	if (m->fork_gen != atomic_load_explicit(&nvmm_fork_gen,
	    memory_order_relaxed)) {
		errno = EPERM;
		return NULL;
	}
	return m;
}

struct nvmm_vcpu_priv *
nvmm_vcpu_lookup(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu,
    struct nvmm_mach_priv **mp)
{
	struct nvmm_mach_priv *m;
	struct nvmm_vcpu_priv *v;

	if ((m = nvmm_mach_lookup(mach)) == NULL)
		return NULL;
	if (vcpu == NULL) {
		errno = EFAULT;
		return NULL;
	}
	if (vcpu->cpuid >= NVMM_MAX_VCPUS) {
		errno = EINVAL;
		return NULL;
	}
	v = atomic_load_explicit(&m->vcpus[vcpu->cpuid], memory_order_acquire);
	if (v == NULL) {
		errno = ENOENT;
		return NULL;
	}
	if (mp != NULL)
		*mp = m;
	return v;
}

/* -------------------------------------------------------------------------
 * Machines.
 * ------------------------------------------------------------------------- */

/* Recomputes the registry's view of a machine (nvcpus, nram). */
void
nvmm_mach_update_registry(struct nvmm_mach_priv *m)
{
	uint64_t nram = 0;
	size_t i;

	if (!m->registered)
		return;
	for (i = 0; i < m->nhvas; i++)
		nram += m->hvas[i].size;
	nvmm_reg_update(m->machid, m->nvcpus, nram);
}

static int
nvmm_machid_alloc(struct nvmm_mach_priv *m)
{
	nvmm_machid_t id;

	if (nvmm_reg_alloc(&id) == 0) {
		if (atomic_load(&nvmm_machines[id]) == NULL) {
			m->machid = id;
			m->registered = true;
			return 0;
		}
		/* A parent's machine still in our table (we are a fork). */
		nvmm_reg_free(id);
	} else if (errno == ENOBUFS) {
		return -1;
	}
	/* No usable registry: a process-local id. */
	for (id = 0; id < NVMM_MAX_MACHINES; id++) {
		if (atomic_load(&nvmm_machines[id]) == NULL) {
			m->machid = id;
			m->registered = false;
			return 0;
		}
	}
	errno = ENOBUFS;
	return -1;
}

int
nvmm_machine_create(struct nvmm_machine *mach)
{
	struct nvmm_mach_priv *m;
	int err;

	if (nvmm_be == NULL) {
		errno = EBADF;
		return -1;
	}
	if (mach == NULL) {
		errno = EFAULT;
		return -1;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (pthread_rwlock_init(&m->mem_lock, NULL) != 0) {
		free(m);
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_init(&m->vcpu_lock, NULL);
	m->fork_gen = atomic_load(&nvmm_fork_gen);
	m->ctime = time(NULL);

	pthread_mutex_lock(&nvmm_machines_lock);
	if (nvmm_machid_alloc(m) == -1) {
		err = errno;
		goto fail_locked;
	}
	if (nvmm_be->machine_create(m) == -1) {
		err = errno;
		if (m->registered)
			nvmm_reg_free(m->machid);
		goto fail_locked;
	}
	atomic_store_explicit(&nvmm_machines[m->machid], m,
	    memory_order_release);
	pthread_mutex_unlock(&nvmm_machines_lock);

	memset(mach, 0, sizeof(*mach));
	mach->machid = m->machid;
	mach->pages = (struct nvmm_comm_page **)(void *)m->vcpus;
	mach->areas = m;
	return 0;

fail_locked:
	pthread_mutex_unlock(&nvmm_machines_lock);
	pthread_rwlock_destroy(&m->mem_lock);
	pthread_mutex_destroy(&m->vcpu_lock);
	free(m);
	errno = err;
	return -1;
}

int
nvmm_machine_destroy(struct nvmm_machine *mach)
{
	struct nvmm_mach_priv *m;
	struct nvmm_vcpu_priv *v;
	size_t i;

	if ((m = nvmm_mach_lookup(mach)) == NULL)
		return -1;

	pthread_mutex_lock(&nvmm_machines_lock);
	atomic_store(&nvmm_machines[m->machid], NULL);
	pthread_mutex_unlock(&nvmm_machines_lock);

	for (i = 0; i < NVMM_MAX_VCPUS; i++) {
		v = atomic_exchange(&m->vcpus[i], NULL);
		if (v != NULL)
			nvmm_be->vcpu_destroy(m, v);
	}
	nvmm_be->machine_destroy(m);
	if (m->registered)
		nvmm_reg_free(m->machid);
	pthread_rwlock_destroy(&m->mem_lock);
	pthread_mutex_destroy(&m->vcpu_lock);
	free(m->areas);
	free(m);
	mach->areas = NULL;
	return 0;
}

/*
 * A machine-dependent op of the backend, as its index, or -1 with errno
 * (EBADF before nvmm_init, as NVMM's ioctl on no descriptor; EINVAL).
 */
static int64_t
nvmm_conf_index(uint64_t op, uint64_t md_begin, size_t max,
    const size_t *sizes)
{
	if (nvmm_be == NULL) {
		errno = EBADF;
		return -1;
	}
	if (op < md_begin || op - md_begin >= max ||
	    sizes[op - md_begin] > NVMM_CONF_MAXSIZE) {
		errno = EINVAL;
		return -1;
	}
	return (int64_t)(op - md_begin);
}

int
nvmm_machine_configure(struct nvmm_machine *mach, uint64_t op, void *conf)
{
	struct nvmm_mach_priv *m;
	uint64_t buf[NVMM_CONF_MAXSIZE / sizeof(uint64_t)];
	int64_t i;

	/* The op is checked first, as NVMM does. */
	if ((i = nvmm_conf_index(op, NVMM_MACH_CONF_MD_BEGIN,
	    nvmm_be ? nvmm_be->mach_conf_max : 0,
	    nvmm_be ? nvmm_be->mach_conf_sizes : NULL)) == -1)
		return -1;
	if ((m = nvmm_mach_lookup(mach)) == NULL)
		return -1;
	if (conf == NULL) {
		errno = EFAULT;
		return -1;
	}
	/* The backend works on a copy the client cannot change under it. */
	memcpy(buf, conf, nvmm_be->mach_conf_sizes[i]);
	return nvmm_be->machine_configure(m, op, buf);
}

/* -------------------------------------------------------------------------
 * VCPUs.
 * ------------------------------------------------------------------------- */

int
nvmm_vcpu_create(struct nvmm_machine *mach, nvmm_cpuid_t cpuid,
    struct nvmm_vcpu *vcpu)
{
	struct nvmm_mach_priv *m;
	struct nvmm_vcpu_priv *v;

	if ((m = nvmm_mach_lookup(mach)) == NULL)
		return -1;
	if (cpuid >= NVMM_MAX_VCPUS) {
		errno = EINVAL;
		return -1;
	}
	if (vcpu == NULL) {
		errno = EFAULT;
		return -1;
	}
	pthread_mutex_lock(&m->vcpu_lock);
	if (atomic_load(&m->vcpus[cpuid]) != NULL) {
		pthread_mutex_unlock(&m->vcpu_lock);
		errno = EBUSY;
		return -1;
	}
	if (nvmm_be->vcpu_create(m, cpuid, &v) == -1) {
		pthread_mutex_unlock(&m->vcpu_lock);
		return -1;
	}
	v->cpuid = cpuid;
	v->mach = m;
	m->nvcpus++;
	atomic_store_explicit(&m->vcpus[cpuid], v, memory_order_release);
	nvmm_mach_update_registry(m);
	pthread_mutex_unlock(&m->vcpu_lock);

	vcpu->cpuid = cpuid;
	vcpu->state = &v->state;
	vcpu->event = &v->event;
	vcpu->exit = &v->exit;
	vcpu->stop = (volatile int *)(void *)&v->stop;
	return 0;
}

int
nvmm_vcpu_destroy(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu)
{
	struct nvmm_mach_priv *m;
	struct nvmm_vcpu_priv *v;

	if ((v = nvmm_vcpu_lookup(mach, vcpu, &m)) == NULL)
		return -1;
	pthread_mutex_lock(&m->vcpu_lock);
	if (atomic_exchange(&m->vcpus[vcpu->cpuid], NULL) != v) {
		pthread_mutex_unlock(&m->vcpu_lock);
		errno = ENOENT;
		return -1;
	}
	m->nvcpus--;
	nvmm_mach_update_registry(m);
	pthread_mutex_unlock(&m->vcpu_lock);
	nvmm_be->vcpu_destroy(m, v);
	return 0;
}

int
nvmm_vcpu_configure(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu,
    uint64_t op, void *conf)
{
	struct nvmm_vcpu_priv *v;
	uint64_t buf[NVMM_CONF_MAXSIZE / sizeof(uint64_t)];
	int64_t i;

	if (op == NVMM_VCPU_CONF_CALLBACKS) {
		/* Library-only, as on NetBSD; the VCPU is still looked up. */
		if ((v = nvmm_vcpu_lookup(mach, vcpu, NULL)) == NULL)
			return -1;
		if (conf == NULL) {
			errno = EFAULT;
			return -1;
		}
		memcpy(&vcpu->cbs, conf, sizeof(vcpu->cbs));
		return 0;
	}
	if ((i = nvmm_conf_index(op, NVMM_VCPU_CONF_MD_BEGIN,
	    nvmm_be ? nvmm_be->vcpu_conf_max : 0,
	    nvmm_be ? nvmm_be->vcpu_conf_sizes : NULL)) == -1)
		return -1;
	if ((v = nvmm_vcpu_lookup(mach, vcpu, NULL)) == NULL)
		return -1;
	if (conf == NULL) {
		errno = EFAULT;
		return -1;
	}
	memcpy(buf, conf, nvmm_be->vcpu_conf_sizes[i]);
	return nvmm_be->vcpu_configure(v, op, buf);
}

int
nvmm_vcpu_setstate(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu,
    uint64_t flags)
{
	struct nvmm_vcpu_priv *v;

	if ((v = nvmm_vcpu_lookup(mach, vcpu, NULL)) == NULL)
		return -1;
	nvmm_be->vcpu_setstate(v, flags & NVMM_X64_STATE_ALL);
	return 0;
}

int
nvmm_vcpu_getstate(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu,
    uint64_t flags)
{
	struct nvmm_vcpu_priv *v;

	if ((v = nvmm_vcpu_lookup(mach, vcpu, NULL)) == NULL)
		return -1;
	return nvmm_be->vcpu_getstate(v, flags & NVMM_X64_STATE_ALL);
}

int
nvmm_vcpu_inject(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu)
{
	struct nvmm_vcpu_priv *v;

	if ((v = nvmm_vcpu_lookup(mach, vcpu, NULL)) == NULL)
		return -1;
	/* Validated at the next run, as on NetBSD; copied now, so that a
	   client may inject from another thread while the VCPU runs. */
	while (atomic_flag_test_and_set_explicit(&v->event_lock,
	    memory_order_acquire))
		;
	v->event_copy = v->event;
	atomic_store(&v->event_pending, 1);
	atomic_flag_clear_explicit(&v->event_lock, memory_order_release);
	nvmm_be->vcpu_kick(v);
	return 0;
}

int
nvmm_vcpu_run(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu)
{
	struct nvmm_vcpu_priv *v;

	if ((v = nvmm_vcpu_lookup(mach, vcpu, NULL)) == NULL)
		return -1;
	return nvmm_be->vcpu_run(v);
}

/*
 * Async-signal-safe and callable from any thread (QEMU calls it from a
 * signal handler): no lookup, no lock, only stores and a tgkill.
 */
int
nvmm_vcpu_stop(struct nvmm_vcpu *vcpu)
{
	struct nvmm_vcpu_priv *v;

	if (vcpu == NULL || vcpu->stop == NULL) {
		errno = EFAULT;
		return -1;
	}
	v = nvmm_container_of(vcpu->stop, struct nvmm_vcpu_priv, stop);
	atomic_store(&v->stop, 1);
	if (nvmm_be != NULL)
		nvmm_be->vcpu_kick(v);
	return 0;
}

/* -------------------------------------------------------------------------
 * Assists.
 * ------------------------------------------------------------------------- */

int
nvmm_assist_io(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu)
{
	struct nvmm_vcpu_priv *v;

	if ((v = nvmm_vcpu_lookup(mach, vcpu, NULL)) == NULL)
		return -1;
	if (v->exit.reason != NVMM_VCPU_EXIT_IO || vcpu->cbs.io == NULL) {
		errno = EINVAL;
		return -1;
	}
	return nvmm_be->assist_io(mach, vcpu, v);
}

int
nvmm_assist_mem(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu)
{
	struct nvmm_vcpu_priv *v;

	if ((v = nvmm_vcpu_lookup(mach, vcpu, NULL)) == NULL)
		return -1;
	if (v->exit.reason != NVMM_VCPU_EXIT_MEMORY || vcpu->cbs.mem == NULL) {
		errno = EINVAL;
		return -1;
	}
	return nvmm_be->assist_mem(mach, vcpu, v);
}

/* -------------------------------------------------------------------------
 * Control.
 * ------------------------------------------------------------------------- */

int
nvmm_ctl(int op, void *data, size_t size)
{
	struct nvmm_ctl_mach_info *info = data;
	struct nvmm_mach_priv *m;

	if (nvmm_be == NULL) {
		errno = EBADF;
		return -1;
	}
	if (op != NVMM_CTL_MACH_INFO || size != sizeof(*info)) {
		errno = EINVAL;
		return -1;
	}
	if (info == NULL) {
		errno = EFAULT;
		return -1;
	}
	if (info->machid >= NVMM_MAX_MACHINES) {
		errno = EINVAL;
		return -1;
	}
	/* A machine of ours that the registry could not record. */
	m = atomic_load(&nvmm_machines[info->machid]);
	if (m != NULL && !m->registered &&
	    m->fork_gen == atomic_load(&nvmm_fork_gen)) {
		uint64_t nram = 0;
		size_t i;

		pthread_rwlock_rdlock(&m->mem_lock);
		for (i = 0; i < m->nhvas; i++)
			nram += m->hvas[i].size;
		pthread_rwlock_unlock(&m->mem_lock);
		info->nvcpus = m->nvcpus;
		info->nram = nram;
		info->pid = getpid();
		info->time = m->ctime;
		return 0;
	}
	return nvmm_reg_query(info, nvmm_is_root);
}
