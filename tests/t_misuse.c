/* t_misuse.c - API misuse not covered by t_api, t_memory and t_fork: no /dev/kvm, no permission, garbage handles, races on ids, memory pulled away, garbage state, assists twice, fork during a run. */

/*
 * Every misuse call must fail with its errno (or give a defined exit) and
 * never crash, hang or corrupt the library: each group ends by checking
 * that a well-formed machine still works.  The number of misuse calls made
 * is printed ("misuse cases: N").  Parts that cannot be set up here (no
 * mount namespace, /dev/kvm open to everyone) are skipped and counted.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmtest.h"

#define PAGE		4096ULL
#define MAXRAM		0x2000000000ULL

static int nmisuse, nskipped;

/* A misuse call that must fail with errno e. */
#define MISUSE(call, e) do {						\
	nmisuse++;							\
	CHECK_ERR(call, e);						\
} while (0)

static void
skip(const char *why)
{
	nskipped++;
	printf("skipped: %s\n", why);
}

/* -------------------------------------------------------------------------
 * Watchdog.
 * ------------------------------------------------------------------------- */

static const char *volatile current = "setup";

static void
on_alarm(int sig)
{
	static const char msg[] = "t_misuse: HANG in: ";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	(void)!write(2, current, strlen(current));
	(void)!write(2, "\n", 1);
	_exit(1);
}

static void
group(const char *name, unsigned secs)
{
	current = name;
	printf("group: %s\n", name);
	alarm(secs);
}

/* -------------------------------------------------------------------------
 * Children: the counts come back through a pipe; exit 77 means "skipped".
 * ------------------------------------------------------------------------- */

struct child_counts {
	int checks, failures, misuse;
};

static void
child_report(int fd, int status)
{
	struct child_counts c = { vmt_checks, vmt_failures, nmisuse };

	if (write(fd, &c, sizeof(c)) != (ssize_t)sizeof(c))
		status = 1;
	fflush(stdout);
	fflush(stderr);
	_exit(status != 0 ? status : (vmt_failures ? 1 : 0));
}

/* Runs fn in a child; adds its counts; returns its exit status. */
static int
in_child(void (*fn)(int fd), const char *what)
{
	struct child_counts c;
	int fds[2], status;
	pid_t pid;
	ssize_t n;

	if (pipe(fds) == -1)
		vmt_die("pipe");
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		vmt_die("fork");
	if (pid == 0) {
		close(fds[0]);
		vmt_checks = vmt_failures = nmisuse = 0;
		fn(fds[1]);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], &c, sizeof(c));
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid)
		vmt_die("waitpid");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		return 77;
	if (n == (ssize_t)sizeof(c)) {
		vmt_checks += c.checks;
		vmt_failures += c.failures;
		nmisuse += c.misuse;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    n == (ssize_t)sizeof(c), "%s: child status %#x", what, status);
	return 0;
}

/* -------------------------------------------------------------------------
 * nvmm_init without a usable /dev/kvm (children, before our own init).
 * ------------------------------------------------------------------------- */

/* The library stays uninitialised after a failed init. */
static void
still_uninitialised(int e)
{
	struct nvmm_capability cap;
	struct nvmm_machine m;

	MISUSE(nvmm_init(), e);
	MISUSE(nvmm_root_init(), e);
	MISUSE(nvmm_capability(&cap), EBADF);
	MISUSE(nvmm_machine_create(&m), EBADF);
}

static void
no_device_child(int fd)
{
	int kfd;

	/* A private mount namespace with an empty /dev. */
	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
	    mount("none", "/dev", "tmpfs", 0, "mode=755") == -1) {
		printf("cannot hide /dev (%s)\n", strerror(errno));
		_exit(77);
	}
	MISUSE(nvmm_init(), ENXIO);
	still_uninitialised(ENXIO);

	/* Something else where /dev/kvm should be: not KVM, so ENXIO. */
	if (mknod("/dev/kvm", S_IFCHR | 0666, makedev(1, 3)) == 0) {
		MISUSE(nvmm_init(), ENXIO);		/* /dev/null */
		unlink("/dev/kvm");
	}
	if ((kfd = open("/dev/kvm", O_CREAT | O_WRONLY, 0666)) != -1) {
		close(kfd);
		MISUSE(nvmm_init(), ENXIO);		/* a regular file */
		unlink("/dev/kvm");
	}
	if (mkdir("/dev/kvm", 0755) == 0) {
		MISUSE(nvmm_init(), ENXIO);		/* a directory */
		rmdir("/dev/kvm");
	}
	still_uninitialised(ENXIO);
	child_report(fd, 0);
}

static void
no_permission_child(int fd)
{
	int kfd;

	if (setgroups(0, NULL) == -1 || setresgid(65534, 65534, 65534) == -1 ||
	    setresuid(65534, 65534, 65534) == -1) {
		printf("cannot become nobody (%s)\n", strerror(errno));
		_exit(77);
	}
	if ((kfd = open("/dev/kvm", O_RDWR)) != -1) {
		close(kfd);
		printf("nobody may open /dev/kvm here\n");
		_exit(77);
	}
	MISUSE(nvmm_init(), EACCES);
	still_uninitialised(EACCES);
	child_report(fd, 0);
}

static void
init_failures(void)
{
	group("nvmm_init without /dev/kvm, and as nobody", 30);
	if (in_child(no_device_child, "no /dev/kvm") == 77)
		skip("no /dev/kvm: cannot make a mount namespace");
	if (in_child(no_permission_child, "as nobody") == 77)
		skip("EACCES as nobody: cannot be set up here");
}

/* -------------------------------------------------------------------------
 * Garbage handles.
 * ------------------------------------------------------------------------- */

static void io_cb(struct nvmm_io *);
static void mem_cb(struct nvmm_mem *);

/* Every function taking a machine fails with e for mp. */
static void
machine_calls(struct nvmm_machine *mp, struct nvmm_vcpu *vp, int e)
{
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	struct nvmm_vcpu nv;
	uintptr_t hva;
	gpaddr_t gpa;
	nvmm_prot_t prot;
	uint8_t *buf = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		vmt_die("mmap");
	memset(&nv, 0, sizeof(nv));
	MISUSE(nvmm_machine_destroy(mp), e);
	MISUSE(nvmm_vcpu_create(mp, 9, &nv), e);
	MISUSE(nvmm_vcpu_destroy(mp, vp), e);
	MISUSE(nvmm_vcpu_configure(mp, vp, NVMM_VCPU_CONF_CALLBACKS, &cbs), e);
	MISUSE(nvmm_vcpu_getstate(mp, vp, NVMM_X64_STATE_ALL), e);
	MISUSE(nvmm_vcpu_setstate(mp, vp, NVMM_X64_STATE_ALL), e);
	MISUSE(nvmm_vcpu_inject(mp, vp), e);
	MISUSE(nvmm_vcpu_run(mp, vp), e);
	MISUSE(nvmm_hva_map(mp, (uintptr_t)buf, PAGE), e);
	MISUSE(nvmm_hva_unmap(mp, (uintptr_t)buf, PAGE), e);
	MISUSE(nvmm_gpa_map(mp, (uintptr_t)buf, 0, PAGE, PROT_READ), e);
	MISUSE(nvmm_gpa_unmap(mp, (uintptr_t)buf, 0, PAGE), e);
	MISUSE(nvmm_gpa_to_hva(mp, 0, &hva, &prot), e);
	MISUSE(nvmm_gva_to_gpa(mp, vp, 0, &gpa, &prot), e);
	MISUSE(nvmm_assist_io(mp, vp), e);
	MISUSE(nvmm_assist_mem(mp, vp), e);
	MISUSE(nvmm_vcpu_dump(mp, vp), e);
	munmap(buf, PAGE);
}

/* Every function taking a VCPU fails with e for vp of machine mp. */
static void
vcpu_calls(struct nvmm_machine *mp, struct nvmm_vcpu *vp, int e)
{
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	struct nvmm_vcpu_conf_tpr tpr = { .exit_changed = 1 };
	gpaddr_t gpa;
	nvmm_prot_t prot;

	MISUSE(nvmm_vcpu_destroy(mp, vp), e);
	MISUSE(nvmm_vcpu_configure(mp, vp, NVMM_VCPU_CONF_CALLBACKS, &cbs), e);
	MISUSE(nvmm_vcpu_configure(mp, vp, NVMM_VCPU_CONF_TPR, &tpr), e);
	MISUSE(nvmm_vcpu_getstate(mp, vp, NVMM_X64_STATE_ALL), e);
	MISUSE(nvmm_vcpu_setstate(mp, vp, NVMM_X64_STATE_ALL), e);
	MISUSE(nvmm_vcpu_inject(mp, vp), e);
	MISUSE(nvmm_vcpu_run(mp, vp), e);
	MISUSE(nvmm_gva_to_gpa(mp, vp, 0, &gpa, &prot), e);
	MISUSE(nvmm_assist_io(mp, vp), e);
	MISUSE(nvmm_assist_mem(mp, vp), e);
	MISUSE(nvmm_vcpu_dump(mp, vp), e);
}

static void
garbage_handles(void)
{
	struct nvmm_machine m, fake;
	struct nvmm_vcpu v, fv;

	group("uninitialised and forged handles", 30);
	CHECK_OK(nvmm_machine_create(&m));
	CHECK_OK(nvmm_vcpu_create(&m, 3, &v));

	/* Stack garbage: an out-of-range id. */
	memset(&fake, 0xa5, sizeof(fake));
	machine_calls(&fake, &v, EINVAL);
	/* The right id, but not the handle create filled in (zeroed, or
	   pointing at something else): nothing is dereferenced. */
	memset(&fake, 0, sizeof(fake));
	fake.machid = m.machid;
	machine_calls(&fake, &v, ENOENT);
	fake.areas = &fake;
	fake.pages = (struct nvmm_comm_page **)(void *)&fake;
	machine_calls(&fake, &v, ENOENT);
	fake.areas = (void *)(uintptr_t)0x10;
	machine_calls(&fake, &v, ENOENT);

	/* VCPU garbage: out-of-range id; an id never created. */
	memset(&fv, 0xa5, sizeof(fv));
	vcpu_calls(&m, &fv, EINVAL);
	memset(&fv, 0, sizeof(fv));
	fv.cpuid = 200;
	vcpu_calls(&m, &fv, ENOENT);
	/* A stop on a zeroed VCPU handle. */
	MISUSE(nvmm_vcpu_stop(&fv), EFAULT);

	/* Still fine. */
	CHECK_OK(nvmm_vcpu_getstate(&m, &v, NVMM_X64_STATE_ALL));
	CHECK_OK(nvmm_machine_destroy(&m));
	/* The handles of the destroyed machine and its VCPU. */
	machine_calls(&m, &v, ENOENT);
	vcpu_calls(&m, &v, ENOENT);
}

/* -------------------------------------------------------------------------
 * VCPU ids: the same id from two threads at once; all 256.
 * ------------------------------------------------------------------------- */

static struct nvmm_machine race_m;
static atomic_int race_go;
static int race_ret[2], race_err[2];
static struct nvmm_vcpu race_v[2];

static void *
race_thread(void *arg)
{
	int i = (int)(intptr_t)arg;

	while (!atomic_load(&race_go))
		;
	errno = 0;
	race_ret[i] = nvmm_vcpu_create(&race_m, 7, &race_v[i]);
	race_err[i] = errno;
	return NULL;
}

static void
vcpu_ids(void)
{
	static struct nvmm_vcpu all[256];
	struct nvmm_ctl_mach_info info;
	struct nvmm_vcpu extra;
	int round, i, both = 0, none = 0, distinct = 1;
	pthread_t th[2];

	group("the same VCPU id created from two threads at once", 60);
	CHECK_OK(nvmm_machine_create(&race_m));
	for (round = 0; round < 100; round++) {
		atomic_store(&race_go, 0);
		for (i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, race_thread,
			    (void *)(intptr_t)i);
		atomic_store(&race_go, 1);
		for (i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		nmisuse++;
		if (race_ret[0] == 0 && race_ret[1] == 0)
			both++;
		else if (race_ret[0] == -1 && race_ret[1] == -1)
			none++;
		else
			CHECK(race_err[race_ret[0] == 0 ? 1 : 0] == EBUSY,
			    "the loser got errno %d",
			    race_err[race_ret[0] == 0 ? 1 : 0]);
		CHECK_OK(nvmm_vcpu_destroy(&race_m,
		    &race_v[race_ret[0] == 0 ? 0 : 1]));
	}
	CHECK(both == 0 && none == 0, "%d rounds where both won, %d where "
	    "none did", both, none);
	CHECK_OK(nvmm_machine_destroy(&race_m));

	group("256 VCPUs, then one more", 60);
	CHECK_OK(nvmm_machine_create(&race_m));
	for (i = 0; i < 256; i++)
		CHECK_OK(nvmm_vcpu_create(&race_m, (nvmm_cpuid_t)i, &all[i]));
	for (i = 1; i < 256; i++)
		distinct &= all[i].state != all[i - 1].state &&
		    all[i].exit != all[i - 1].exit;
	CHECK(distinct, "VCPUs share buffers");
	MISUSE(nvmm_vcpu_create(&race_m, 256, &extra), EINVAL);
	MISUSE(nvmm_vcpu_create(&race_m, 255, &extra), EBUSY);
	memset(&info, 0, sizeof(info));
	info.machid = race_m.machid;
	CHECK_OK(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)));
	CHECK_EQ(info.nvcpus, 256);
	CHECK_OK(nvmm_vcpu_getstate(&race_m, &all[255], NVMM_X64_STATE_ALL));
	CHECK_OK(nvmm_machine_destroy(&race_m));
}

/* -------------------------------------------------------------------------
 * A small guest for the groups below.
 * ------------------------------------------------------------------------- */

/*
 * 0x10000: out %al,$0x10; hlt; jmp 0x10000
 * 0x10005: mov (%rdi),%eax; hlt
 * 0x10008: jmp . (spin)
 */
static const uint8_t code[] = { 0xe6, 0x10, 0xf4, 0xeb, 0xfb, 0x8b, 0x07,
    0xf4, 0xeb, 0xfe };
#define G_OUT	(VMT_CODE + 0)
#define G_LOAD	(VMT_CODE + 5)
#define G_SPIN	(VMT_CODE + 8)

static int nio, nmem;

static void
io_cb(struct nvmm_io *io)
{
	nio++;
	if (io->in)
		memset(io->data, 0, io->size);
}

static void
mem_cb(struct nvmm_mem *mem)
{
	nmem++;
	if (!mem->write)
		memset(mem->data, 0x42, mem->size);
}

static struct nvmm_x64_state good;	/* long mode at G_OUT */

static void
guest_create(struct vmt *t)
{
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };

	vmt_create(t, VMT_RAM, 0);
	CHECK_OK(nvmm_vcpu_configure(&t->mach, &t->vcpu,
	    NVMM_VCPU_CONF_CALLBACKS, &cbs));
	vmt_load(t, VMT_CODE, code, code + sizeof(code));
	vmt_setup_long(t, G_OUT);
	CHECK_OK(nvmm_vcpu_getstate(&t->mach, &t->vcpu, NVMM_X64_STATE_ALL));
	good = *t->vcpu.state;
}

static uint64_t
run1(struct vmt *t)
{
	int r;

	do {
		r = nvmm_vcpu_run(&t->mach, &t->vcpu);
	} while (r == 0 && t->vcpu.exit->reason == NVMM_VCPU_EXIT_NONE);
	if (r == -1) {
		CHECK(0, "nvmm_vcpu_run: %s", strerror(errno));
		return NVMM_VCPU_EXIT_INVALID;
	}
	return t->vcpu.exit->reason;
}

/* Back to the good state; the OUT, then the HLT. */
static void
guest_works(struct vmt *t, const char *after)
{
	int before = vmt_failures, n = nio;

	*t->vcpu.state = good;
	CHECK_OK(nvmm_vcpu_setstate(&t->mach, &t->vcpu, NVMM_X64_STATE_ALL));
	CHECK_EQ(run1(t), NVMM_VCPU_EXIT_IO);
	if (t->vcpu.exit->reason == NVMM_VCPU_EXIT_IO)
		CHECK_OK(nvmm_assist_io(&t->mach, &t->vcpu));
	CHECK_EQ(nio, n + 1);
	CHECK_EQ(run1(t), NVMM_VCPU_EXIT_HALTED);
	if (vmt_failures != before)
		fprintf(stderr, "  (the guest no longer works after %s)\n",
		    after);
}

/* A thread that stops the VCPU after ms, unless cancelled. */
struct stopper {
	pthread_t th;
	struct nvmm_vcpu *v;
	unsigned ms;
};

static void *
stopper_main(void *arg)
{
	struct stopper *s = arg;
	struct timespec ts = { 0, (long)s->ms * 1000000L };

	nanosleep(&ts, NULL);
	nvmm_vcpu_stop(s->v);
	return NULL;
}

/* -------------------------------------------------------------------------
 * Assists: twice, without callbacks, at the wrong exit.
 * ------------------------------------------------------------------------- */

static void
assists(void)
{
	struct nvmm_assist_callbacks none = { NULL, NULL };
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	struct vmt t;
	int n;

	group("assists twice, without callbacks, after other exits", 30);
	guest_create(&t);
	CHECK_EQ(run1(&t), NVMM_VCPU_EXIT_IO);
	n = nio;
	CHECK_OK(nvmm_assist_io(&t.mach, &t.vcpu));
	MISUSE(nvmm_assist_io(&t.mach, &t.vcpu), EINVAL);
	MISUSE(nvmm_assist_mem(&t.mach, &t.vcpu), EINVAL);
	CHECK_EQ(nio, n + 1);			/* no second callback */
	CHECK_EQ(run1(&t), NVMM_VCPU_EXIT_HALTED);
	CHECK_EQ(vmt_gpr(&t, NVMM_X64_GPR_RIP), G_OUT + 3);

	/* A MEMORY exit with the callbacks removed: EINVAL, no call. */
	vmt_set_gpr(&t, NVMM_X64_GPR_RIP, G_LOAD);
	vmt_set_gpr(&t, NVMM_X64_GPR_RDI, VMT_MMIO);
	CHECK_EQ(run1(&t), NVMM_VCPU_EXIT_MEMORY);
	CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu,
	    NVMM_VCPU_CONF_CALLBACKS, &none));
	n = nmem;
	MISUSE(nvmm_assist_mem(&t.mach, &t.vcpu), EINVAL);
	MISUSE(nvmm_assist_io(&t.mach, &t.vcpu), EINVAL);
	CHECK_EQ(nmem, n);
	/* Callbacks back: the same exit is still pending, and completes. */
	CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu,
	    NVMM_VCPU_CONF_CALLBACKS, &cbs));
	CHECK_OK(nvmm_assist_mem(&t.mach, &t.vcpu));
	MISUSE(nvmm_assist_mem(&t.mach, &t.vcpu), EINVAL);
	CHECK_EQ(nmem, n + 1);
	CHECK_EQ(run1(&t), NVMM_VCPU_EXIT_HALTED);
	CHECK_EQ(vmt_gpr(&t, NVMM_X64_GPR_RAX) & 0xffffffff, 0x42424242);

	/* After a STOPPED exit nothing is to be assisted. */
	nvmm_vcpu_stop(&t.vcpu);
	CHECK_EQ(run1(&t), NVMM_VCPU_EXIT_STOPPED);
	MISUSE(nvmm_assist_io(&t.mach, &t.vcpu), EINVAL);
	MISUSE(nvmm_assist_mem(&t.mach, &t.vcpu), EINVAL);
	guest_works(&t, "the assists");
	vmt_destroy(&t);
}

/* -------------------------------------------------------------------------
 * Stop and destroyed VCPUs.
 * ------------------------------------------------------------------------- */

static void
stop_destroyed(void)
{
	struct vmt t;
	struct nvmm_vcpu old;

	group("stop on a destroyed VCPU, then the id created again", 30);
	guest_create(&t);
	old = t.vcpu;
	CHECK_OK(nvmm_vcpu_destroy(&t.mach, &t.vcpu));
	/* NVMM: no validation, the flag of a dead VCPU; here it must not
	   crash, and must not stop the VCPU created next with that id. */
	nmisuse++;
	CHECK_OK(nvmm_vcpu_stop(&old));
	vcpu_calls(&t.mach, &old, ENOENT);
	CHECK_OK(nvmm_vcpu_create(&t.mach, 0, &t.vcpu));
	CHECK_EQ(*t.vcpu.stop, 0);
	{
		struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };

		CHECK_OK(nvmm_vcpu_configure(&t.mach, &t.vcpu,
		    NVMM_VCPU_CONF_CALLBACKS, &cbs));
	}
	t.vcpu.state->gprs[0] = 0;	/* the buffer is usable */
	CHECK_OK(nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_ALL));
	*t.vcpu.state = good;
	CHECK_OK(nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_ALL));
	CHECK(run1(&t) == NVMM_VCPU_EXIT_IO, "the new VCPU 0 was stopped by "
	    "a stop sent to its destroyed predecessor (exit %#llx)",
	    (unsigned long long)t.vcpu.exit->reason);
	if (t.vcpu.exit->reason == NVMM_VCPU_EXIT_IO)
		nvmm_assist_io(&t.mach, &t.vcpu);
	guest_works(&t, "a stop on a destroyed VCPU");
	vmt_destroy(&t);
}

/* -------------------------------------------------------------------------
 * Memory misuse.
 * ------------------------------------------------------------------------- */

/* A run whose memory cannot be used: a defined outcome, never a crash. */
static void
defined_outcome(struct vmt *t, const char *what)
{
	int r;

	nmisuse++;
	errno = 0;
	r = nvmm_vcpu_run(&t->mach, &t->vcpu);
	CHECK((r == 0 && (t->vcpu.exit->reason == NVMM_VCPU_EXIT_INVALID ||
	    t->vcpu.exit->reason == NVMM_VCPU_EXIT_MEMORY)) ||
	    (r == -1 && (errno == EFAULT || errno == EINVAL)),
	    "%s: run %d errno %d reason %#llx", what, r, errno,
	    (unsigned long long)t->vcpu.exit->reason);
	printf("  %s: %s\n", what, r == -1 ? strerror(errno) :
	    t->vcpu.exit->reason == NVMM_VCPU_EXIT_INVALID ? "INVALID exit" :
	    "MEMORY exit");
}

static void
memory_misuse(void)
{
	struct vmt t;
	uint8_t *p, *q;
	uintptr_t hva;
	nvmm_prot_t prot;
	int r;

	group("memory: wrapping and out-of-range unmaps, memory pulled away",
	    30);
	guest_create(&t);
	p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		vmt_die("mmap");

	/* Unmaps that wrap, exceed 128 GiB, or are empty or unaligned:
	   no such mapping (ESRCH) or bad arguments (EINVAL). */
	{
		static const struct { uint64_t gpa, size; } bad[] = {
			{ 0xfffffffffffff000ULL, 0x2000 },
			{ MAXRAM, PAGE }, { MAXRAM - PAGE, 2 * PAGE },
			{ 0, 0 }, { 0x800, PAGE }, { 0, 0x800 },
			{ 0x1000, 0xfffffffffffff000ULL },
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			nmisuse++;
			errno = 0;
			r = nvmm_gpa_unmap(&t.mach, (uintptr_t)t.ram,
			    bad[i].gpa, bad[i].size);
			CHECK(r == -1 && (errno == ESRCH || errno == EINVAL),
			    "gpa_unmap(%#llx, %#llx): %d errno %d",
			    (unsigned long long)bad[i].gpa,
			    (unsigned long long)bad[i].size, r, errno);
		}
		MISUSE(nvmm_hva_unmap(&t.mach, 0xfffffffffffff000ULL, 0x2000),
		    ENOENT);
		MISUSE(nvmm_gpa_map(&t.mach, (uintptr_t)t.ram,
		    0xffffffffffffe000ULL, 0x2000, PROT_READ), EINVAL);
		MISUSE(nvmm_gpa_map(&t.mach, (uintptr_t)t.ram, 0,
		    VMT_RAM, PROT_READ), EINVAL);	/* overlaps RAM */
		MISUSE(nvmm_gpa_map(&t.mach, (uintptr_t)t.ram + VMT_RAM -
		    PAGE, 0x40000000, 2 * PAGE, PROT_READ), EINVAL);
	}

	/*
	 * Registered, mapped to the guest, then unmapped by the client
	 * behind the library's back (the manual forbids it): the guest's
	 * access has a defined outcome; mapped again at the same address,
	 * it works again.
	 */
	CHECK_OK(nvmm_hva_map(&t.mach, (uintptr_t)p, 4 * PAGE));
	CHECK_OK(nvmm_gpa_map(&t.mach, (uintptr_t)p, 0x1000000, 4 * PAGE,
	    PROT_READ | PROT_WRITE));
	if (munmap(p, 4 * PAGE) == -1)
		vmt_die("munmap");
	*t.vcpu.state = good;
	t.vcpu.state->gprs[NVMM_X64_GPR_RIP] = G_LOAD;
	t.vcpu.state->gprs[NVMM_X64_GPR_RDI] = 0x1000010;
	CHECK_OK(nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_ALL));
	defined_outcome(&t, "guest reads memory the client unmapped");
	if (t.vcpu.exit->reason == NVMM_VCPU_EXIT_MEMORY)
		nvmm_assist_mem(&t.mach, &t.vcpu);
	q = mmap(p, 4 * PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (q != p)
		vmt_die("mmap again");
	q[0x10] = 0x77;
	*t.vcpu.state = good;
	t.vcpu.state->gprs[NVMM_X64_GPR_RIP] = G_LOAD;
	t.vcpu.state->gprs[NVMM_X64_GPR_RDI] = 0x1000010;
	CHECK_OK(nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_ALL));
	CHECK_EQ(run1(&t), NVMM_VCPU_EXIT_HALTED);
	CHECK_EQ(vmt_gpr(&t, NVMM_X64_GPR_RAX) & 0xff, 0x77);

	/* The same memory made inaccessible (PROT_NONE). */
	if (mprotect(p, 4 * PAGE, PROT_NONE) == -1)
		vmt_die("mprotect");
	*t.vcpu.state = good;
	t.vcpu.state->gprs[NVMM_X64_GPR_RIP] = G_LOAD;
	t.vcpu.state->gprs[NVMM_X64_GPR_RDI] = 0x1001010;
	CHECK_OK(nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_ALL));
	defined_outcome(&t, "guest reads memory the client made PROT_NONE");
	if (t.vcpu.exit->reason == NVMM_VCPU_EXIT_MEMORY)
		nvmm_assist_mem(&t.mach, &t.vcpu);
	mprotect(p, 4 * PAGE, PROT_READ | PROT_WRITE);

	/*
	 * hva_unmap while a GPA mapping uses the range: refused, or the
	 * registration goes and the guest mapping stays (Linux port: no
	 * memory is replaced); either way nothing breaks.
	 */
	nmisuse++;
	errno = 0;
	r = nvmm_hva_unmap(&t.mach, (uintptr_t)p, 4 * PAGE);
	CHECK(r == 0 || errno == EBUSY || errno == EINVAL,
	    "hva_unmap under a GPA mapping: %d errno %d", r, errno);
	printf("  hva_unmap under a GPA mapping: %s\n", r == 0 ? "accepted" :
	    strerror(errno));
	CHECK_OK(nvmm_gpa_to_hva(&t.mach, 0x1000010, &hva, &prot));
	CHECK_EQ(hva, (uintptr_t)p + 0x10);
	if (r == 0) {
		/* No new GPA mapping from the unregistered range. */
		MISUSE(nvmm_gpa_map(&t.mach, (uintptr_t)p, 0x2000000, PAGE,
		    PROT_READ), EINVAL);
	}
	CHECK_OK(nvmm_gpa_unmap(&t.mach, (uintptr_t)p, 0x1000000, 4 * PAGE));
	guest_works(&t, "the memory misuse");
	vmt_destroy(&t);
	munmap(p, 4 * PAGE);
}

/* -------------------------------------------------------------------------
 * Garbage VCPU state.
 * ------------------------------------------------------------------------- */

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Loads st (flags), runs under a stopper: a defined outcome. */
static void
try_state(struct vmt *t, uint64_t flags, const char *what)
{
	struct stopper s = { .v = &t->vcpu, .ms = 30 };
	int r, n = 0;

	nmisuse++;
	CHECK_OK(nvmm_vcpu_setstate(&t->mach, &t->vcpu, flags));
	pthread_create(&s.th, NULL, stopper_main, &s);
	do {
		errno = 0;
		r = nvmm_vcpu_run(&t->mach, &t->vcpu);
		if (r == 0 && t->vcpu.exit->reason == NVMM_VCPU_EXIT_IO)
			nvmm_assist_io(&t->mach, &t->vcpu);
		else if (r == 0 && t->vcpu.exit->reason ==
		    NVMM_VCPU_EXIT_MEMORY)
			nvmm_assist_mem(&t->mach, &t->vcpu);
		else if (r == 0 && (t->vcpu.exit->reason ==
		    NVMM_VCPU_EXIT_RDMSR || t->vcpu.exit->reason ==
		    NVMM_VCPU_EXIT_WRMSR || t->vcpu.exit->reason ==
		    NVMM_VCPU_EXIT_HALTED || t->vcpu.exit->reason ==
		    NVMM_VCPU_EXIT_INT_READY || t->vcpu.exit->reason ==
		    NVMM_VCPU_EXIT_NMI_READY || t->vcpu.exit->reason ==
		    NVMM_VCPU_EXIT_TPR_CHANGED))
			;	/* the garbage guest goes on */
		else
			break;
	} while (++n < 10000);
	pthread_join(s.th, NULL);
	/* docs/nvmm-semantics.md 1: -1 only for lookups, bad events, catastrophes;
	   a state KVM refuses is an INVALID exit. */
	CHECK(r == 0, "%s: run %d errno %d (%s)", what, r, errno,
	    strerror(errno));
	/* Drop a stop that came after the last exit. */
	*t->vcpu.stop = 0;
	guest_works(t, what);
}

static void
garbage_state(void)
{
	struct vmt t;
	struct nvmm_x64_state *st;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t i, j;

	group("garbage state: impossible registers, then random states", 120);
	guest_create(&t);
	st = t.vcpu.state;

#define BAD(field, value, flags, name) do {				\
	*st = good;							\
	field = (value);						\
	try_state(&t, (flags), name);					\
} while (0)
	BAD(st->crs[NVMM_X64_CR_CR0], 0x80000000, NVMM_X64_STATE_CRS,
	    "CR0.PG without PE");
	BAD(st->crs[NVMM_X64_CR_CR0], 0xffffffffffffffffULL,
	    NVMM_X64_STATE_CRS, "CR0 all ones");
	BAD(st->crs[NVMM_X64_CR_CR4], 0xffffffffffffffffULL,
	    NVMM_X64_STATE_CRS, "CR4 all ones");
	BAD(st->crs[NVMM_X64_CR_CR4], 0, NVMM_X64_STATE_CRS,
	    "long mode without CR4.PAE");
	BAD(st->crs[NVMM_X64_CR_CR3], 0xffffffffffffffffULL,
	    NVMM_X64_STATE_CRS, "CR3 all ones");
	BAD(st->crs[NVMM_X64_CR_XCR0], 0, NVMM_X64_STATE_CRS, "XCR0 0");
	BAD(st->crs[NVMM_X64_CR_XCR0], 0xffffffffffffffffULL,
	    NVMM_X64_STATE_CRS, "XCR0 all ones");
	BAD(st->msrs[NVMM_X64_MSR_EFER], 0xffffffffffffffffULL,
	    NVMM_X64_STATE_MSRS, "EFER all ones");
	BAD(st->msrs[NVMM_X64_MSR_EFER], 0x400, NVMM_X64_STATE_MSRS,
	    "EFER.LMA without LME");
	BAD(st->msrs[NVMM_X64_MSR_PAT], 0xffffffffffffffffULL,
	    NVMM_X64_STATE_MSRS, "PAT with invalid types");
	BAD(st->msrs[NVMM_X64_MSR_LSTAR], 0x8000000000000000ULL,
	    NVMM_X64_STATE_MSRS, "non-canonical LSTAR");
	BAD(st->gprs[NVMM_X64_GPR_RIP], 0x8000000000000000ULL,
	    NVMM_X64_STATE_GPRS, "non-canonical RIP");
	BAD(st->gprs[NVMM_X64_GPR_RFLAGS], 0xffffffffffffffffULL,
	    NVMM_X64_STATE_GPRS, "RFLAGS all ones");
	BAD(st->segs[NVMM_X64_SEG_CS].attrib.def, 1, NVMM_X64_STATE_SEGS,
	    "CS with L and D");
	BAD(st->segs[NVMM_X64_SEG_CS].attrib.p, 0, NVMM_X64_STATE_SEGS,
	    "CS not present");
	BAD(st->segs[NVMM_X64_SEG_TR].attrib.type, 0, NVMM_X64_STATE_SEGS,
	    "TR of type 0");
	BAD(st->segs[NVMM_X64_SEG_SS].attrib.dpl, 3, NVMM_X64_STATE_SEGS,
	    "SS.DPL 3 with CS.DPL 0");
	BAD(st->drs[NVMM_X64_DR_DR7], 0xffffffffffffffffULL,
	    NVMM_X64_STATE_DRS, "DR7 all ones");
	BAD(st->drs[NVMM_X64_DR_DR6], 0xffffffffffffffffULL,
	    NVMM_X64_STATE_DRS, "DR6 all ones");
	BAD(st->fpu.fx_mxcsr, 0xffffffff, NVMM_X64_STATE_FPU,
	    "MXCSR reserved bits");
	BAD(st->fpu.fx_cw, 0, NVMM_X64_STATE_FPU, "x87 control word 0");
	{
		uint64_t v;

		*st = good;
		v = 0xffffffffffffffffULL;
		memcpy(&st->intr, &v, sizeof(v));
		try_state(&t, NVMM_X64_STATE_INTR, "INTR all ones");
	}
#undef BAD

	/* Random bytes in one group at a time, then in all of them. */
	for (i = 0; i < 160; i++) {
		static const uint64_t groups[] = { NVMM_X64_STATE_SEGS,
		    NVMM_X64_STATE_GPRS, NVMM_X64_STATE_CRS,
		    NVMM_X64_STATE_DRS, NVMM_X64_STATE_MSRS,
		    NVMM_X64_STATE_INTR, NVMM_X64_STATE_FPU,
		    NVMM_X64_STATE_ALL };
		uint64_t g = groups[i % 8];
		uint8_t *b = (uint8_t *)st;

		*st = good;
		for (j = 0; j < sizeof(*st); j++) {
			uint64_t r = xorshift(&seed);

			/* One byte in eight random, the rest kept. */
			if ((r & 7) == 0)
				b[j] = (uint8_t)(r >> 8);
		}
		/* Only the chosen group is loaded. */
		try_state(&t, g, "random state");
	}
	vmt_destroy(&t);
}

/* -------------------------------------------------------------------------
 * fork() while another thread runs a VCPU.
 * ------------------------------------------------------------------------- */

static struct vmt ft;
static atomic_int fork_run_ret = 99;
static uint64_t fork_run_reason;

static void *
spinner(void *arg)
{
	int r;

	(void)arg;
	do {
		r = nvmm_vcpu_run(&ft.mach, &ft.vcpu);
	} while (r == 0 && ft.vcpu.exit->reason == NVMM_VCPU_EXIT_NONE);
	fork_run_reason = ft.vcpu.exit->reason;
	atomic_store(&fork_run_ret, r);
	return NULL;
}

static void
fork_child(int fd)
{
	struct nvmm_ctl_mach_info info;

	/* The parent's VCPU is in KVM_RUN in the parent: here all EPERM. */
	MISUSE(nvmm_vcpu_run(&ft.mach, &ft.vcpu), EPERM);
	MISUSE(nvmm_vcpu_getstate(&ft.mach, &ft.vcpu, NVMM_X64_STATE_ALL),
	    EPERM);
	MISUSE(nvmm_vcpu_inject(&ft.mach, &ft.vcpu), EPERM);
	MISUSE(nvmm_vcpu_destroy(&ft.mach, &ft.vcpu), EPERM);
	MISUSE(nvmm_machine_destroy(&ft.mach), EPERM);
	memset(&info, 0, sizeof(info));
	info.machid = ft.mach.machid;
	MISUSE(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)), EPERM);
	/* A stop from the child: no validation on NVMM; it must neither
	   fail nor reach the parent's thread. */
	nmisuse++;
	CHECK_OK(nvmm_vcpu_stop(&ft.vcpu));
	child_report(fd, 0);
}

static void
fork_during_run(void)
{
	struct timespec ts = { 0, 100 * 1000000L };
	pthread_t th;

	group("fork while another thread runs a VCPU", 30);
	guest_create(&ft);
	ft.vcpu.state->gprs[NVMM_X64_GPR_RIP] = G_SPIN;
	CHECK_OK(nvmm_vcpu_setstate(&ft.mach, &ft.vcpu, NVMM_X64_STATE_GPRS));
	pthread_create(&th, NULL, spinner, NULL);
	nanosleep(&ts, NULL);
	in_child(fork_child, "fork during a run");
	/* The parent's run went on, untouched by the child's stop. */
	nanosleep(&ts, NULL);
	CHECK_EQ(atomic_load(&fork_run_ret), 99);
	nvmm_vcpu_stop(&ft.vcpu);
	pthread_join(th, NULL);
	CHECK_EQ(atomic_load(&fork_run_ret), 0);
	CHECK_EQ(fork_run_reason, NVMM_VCPU_EXIT_STOPPED);
	guest_works(&ft, "the fork");
	vmt_destroy(&ft);
}

/* -------------------------------------------------------------------------
 * nvmm_ctl sizes and ops not in t_api.
 * ------------------------------------------------------------------------- */

static void
ctl_sizes(void)
{
	struct nvmm_ctl_mach_info info[2];
	struct nvmm_machine m;

	group("nvmm_ctl sizes and ops", 10);
	CHECK_OK(nvmm_machine_create(&m));
	memset(info, 0, sizeof(info));
	info[0].machid = m.machid;
	MISUSE(nvmm_ctl(NVMM_CTL_MACH_INFO, info, SIZE_MAX), EINVAL);
	MISUSE(nvmm_ctl(NVMM_CTL_MACH_INFO, info, sizeof(info)), EINVAL);
	MISUSE(nvmm_ctl(NVMM_CTL_MACH_INFO, info, 1), EINVAL);
	MISUSE(nvmm_ctl(INT32_MIN, info, sizeof(info[0])), EINVAL);
	MISUSE(nvmm_ctl(INT32_MAX, info, sizeof(info[0])), EINVAL);
	MISUSE(nvmm_ctl(2, NULL, 0), EINVAL);
	MISUSE(nvmm_machine_configure(&m, NVMM_MACH_CONF_MI_BEGIN, info),
	    EINVAL);
	MISUSE(nvmm_machine_configure(&m, 0x8000000000000000ULL, NULL),
	    EINVAL);
	CHECK_OK(nvmm_ctl(NVMM_CTL_MACH_INFO, info, sizeof(info[0])));
	CHECK_EQ(info[0].machid, m.machid);
	CHECK_OK(nvmm_machine_destroy(&m));
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, on_alarm);

	/* Before our own nvmm_init: children that cannot get a handle. */
	if (access("/dev/kvm", F_OK) == 0)
		init_failures();
	else
		skip("init failures: /dev/kvm is missing anyway");
	vmt_init_or_skip();

	garbage_handles();
	vcpu_ids();
	assists();
	stop_destroyed();
	memory_misuse();
	garbage_state();
	fork_during_run();
	ctl_sizes();
	alarm(0);

	printf("misuse cases: %d (%d parts skipped)\n", nmisuse, nskipped);
	return vmt_done("t_misuse");
}
