/* t_fork.c - machines are not inherited by fork(): the child gets EPERM, its own machines work. */

/*
 * docs/nvmm-semantics.md 1 (machines are not inherited by a child) and
 * the general lookup errors there (EPERM: created by another
 * process).  The child reports its check counts through a pipe and its
 * verdict through its exit status.
 */

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmtest.h"

#define PAGE	4096ULL


/* out %al,$0x10; hlt; jmp back to the out. */
static const uint8_t guest_code[] = { 0xe6, 0x10, 0xf4, 0xeb, 0xfb };

static int nio;

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
	if (!mem->write)
		memset(mem->data, 0, mem->size);
}

/* Runs the OUT then the HLT of guest_code. */
static void
run_guest(struct vmt *t, const char *who)
{
	int before = vmt_failures, n = nio;

	CHECK_EQ(vmt_run(t), NVMM_VCPU_EXIT_IO);
	CHECK_EQ(t->vcpu.exit->u.io.port, 0x10);
	CHECK_OK(nvmm_assist_io(&t->mach, &t->vcpu));
	CHECK_EQ(nio, n + 1);
	CHECK_EQ(vmt_run(t), NVMM_VCPU_EXIT_HALTED);
	if (vmt_failures != before)
		fprintf(stderr, "  (guest of the %s)\n", who);
}

static void
guest_setup(struct vmt *t, nvmm_cpuid_t id)
{
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };

	vmt_create(t, VMT_RAM, id);
	CHECK_OK(nvmm_vcpu_configure(&t->mach, &t->vcpu,
	    NVMM_VCPU_CONF_CALLBACKS, &cbs));
	vmt_load(t, VMT_CODE, guest_code, guest_code + sizeof(guest_code));
	vmt_setup_long(t, VMT_CODE);
}

/* -------------------------------------------------------------------------
 * The child.
 * ------------------------------------------------------------------------- */

static void
child(struct vmt *p, uint8_t *extra, int fd)
{
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	struct nvmm_vcpu_conf_cpuid cc;
	struct nvmm_vcpu_conf_tpr tpr;
	struct nvmm_ctl_mach_info info;
	struct nvmm_capability cap;
	struct nvmm_vcpu nv;
	struct vmt c;
	uintptr_t hva;
	gpaddr_t gpa;
	nvmm_prot_t prot;
	int counts[2];

	vmt_checks = vmt_failures = 0;
	memset(&cc, 0, sizeof(cc));
	cc.mask = 1;
	cc.leaf = 0x40000000;
	memset(&tpr, 0, sizeof(tpr));
	memset(&nv, 0, sizeof(nv));

	/* The library itself is usable. */
	CHECK_OK(nvmm_init());
	CHECK_OK(nvmm_capability(&cap));
	CHECK_EQ(cap.version, NVMM_KERN_VERSION);

	/* The parent's machine and VCPU: EPERM everywhere. */
	CHECK_ERR(nvmm_vcpu_run(&p->mach, &p->vcpu), EPERM);
	CHECK_ERR(nvmm_vcpu_getstate(&p->mach, &p->vcpu, NVMM_X64_STATE_ALL),
	    EPERM);
	CHECK_ERR(nvmm_vcpu_setstate(&p->mach, &p->vcpu, NVMM_X64_STATE_GPRS),
	    EPERM);
	CHECK_ERR(nvmm_vcpu_inject(&p->mach, &p->vcpu), EPERM);
	CHECK_ERR(nvmm_vcpu_configure(&p->mach, &p->vcpu,
	    NVMM_VCPU_CONF_CALLBACKS, &cbs), EPERM);
	CHECK_ERR(nvmm_vcpu_configure(&p->mach, &p->vcpu,
	    NVMM_VCPU_CONF_CPUID, &cc), EPERM);
	CHECK_ERR(nvmm_vcpu_configure(&p->mach, &p->vcpu, NVMM_VCPU_CONF_TPR,
	    &tpr), EPERM);
	CHECK_ERR(nvmm_vcpu_create(&p->mach, 5, &nv), EPERM);
	CHECK_ERR(nvmm_vcpu_destroy(&p->mach, &p->vcpu), EPERM);
	CHECK_ERR(nvmm_gpa_map(&p->mach, (uintptr_t)extra, 0x1000000, PAGE,
	    PROT_READ | PROT_WRITE), EPERM);
	CHECK_ERR(nvmm_gpa_unmap(&p->mach, (uintptr_t)p->ram, 0, p->ram_size),
	    EPERM);
	CHECK_ERR(nvmm_hva_map(&p->mach, (uintptr_t)extra + 2 * PAGE, PAGE),
	    EPERM);
	CHECK_ERR(nvmm_hva_unmap(&p->mach, (uintptr_t)extra, 2 * PAGE),
	    EPERM);
	CHECK_ERR(nvmm_gpa_to_hva(&p->mach, VMT_CODE, &hva, &prot), EPERM);
	CHECK_ERR(nvmm_gva_to_gpa(&p->mach, &p->vcpu, VMT_CODE, &gpa, &prot),
	    EPERM);
	CHECK_ERR(nvmm_assist_io(&p->mach, &p->vcpu), EPERM);
	CHECK_ERR(nvmm_assist_mem(&p->mach, &p->vcpu), EPERM);
	CHECK_ERR(nvmm_vcpu_dump(&p->mach, &p->vcpu), EPERM);
	CHECK_ERR(nvmm_machine_destroy(&p->mach), EPERM);
	memset(&info, 0, sizeof(info));
	info.machid = p->mach.machid;
	CHECK_ERR(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)), EPERM);

	/* A machine of its own works, with another id. */
	guest_setup(&c, 0);
	CHECK(c.mach.machid != p->mach.machid, "child got the parent's id %u",
	    (unsigned int)c.mach.machid);
	CHECK_OK(nvmm_vcpu_getstate(&c.mach, &c.vcpu, NVMM_X64_STATE_ALL));
	run_guest(&c, "child");
	memset(&info, 0, sizeof(info));
	info.machid = c.mach.machid;
	CHECK_OK(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)));
	CHECK_EQ(info.pid, getpid());
	CHECK_EQ(info.nvcpus, 1);
	CHECK_OK(nvmm_machine_destroy(&c.mach));
	munmap(c.ram, c.ram_size);

	/* Still refused after that. */
	CHECK_ERR(nvmm_vcpu_run(&p->mach, &p->vcpu), EPERM);
	CHECK_ERR(nvmm_machine_destroy(&p->mach), EPERM);

	counts[0] = vmt_checks;
	counts[1] = vmt_failures;
	if (write(fd, counts, sizeof(counts)) != (ssize_t)sizeof(counts))
		vmt_failures++;
	close(fd);
	fflush(stderr);
	exit(vmt_failures == 0 ? 0 : 1);
}

/* -------------------------------------------------------------------------
 * The parent.
 * ------------------------------------------------------------------------- */

int
main(void)
{
	struct nvmm_ctl_mach_info info;
	struct vmt t;
	uint8_t *extra;
	uintptr_t hva;
	nvmm_prot_t prot;
	int fds[2], status, counts[2];
	ssize_t n;
	pid_t pid;

	vmt_init_or_skip();
	guest_setup(&t, 7);
	extra = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (extra == MAP_FAILED)
		vmt_die("mmap");
	CHECK_OK(nvmm_hva_map(&t.mach, (uintptr_t)extra, 2 * PAGE));
	run_guest(&t, "parent, before the fork");

	if (pipe(fds) == -1)
		vmt_die("pipe");
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		vmt_die("fork");
	if (pid == 0) {
		close(fds[0]);
		child(&t, extra, fds[1]);
	}
	close(fds[1]);
	n = read(fds[0], counts, sizeof(counts));
	close(fds[0]);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s",
	    strerror(errno));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child status %#x", status);
	CHECK(n == (ssize_t)sizeof(counts), "no counts from the child");
	if (n == (ssize_t)sizeof(counts)) {
		vmt_checks += counts[0];
		vmt_failures += counts[1];
	}

	/* The parent's machine is intact. */
	run_guest(&t, "parent, after the child exited");
	CHECK_OK(nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_ALL));
	memset(&info, 0, sizeof(info));
	info.machid = t.mach.machid;
	CHECK_OK(nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)));
	CHECK_EQ(info.pid, getpid());
	CHECK_EQ(info.nvcpus, 1);
	CHECK_EQ(info.nram, VMT_RAM + 2 * PAGE);
	CHECK_OK(nvmm_gpa_map(&t.mach, (uintptr_t)extra, 0x1000000, PAGE,
	    PROT_READ | PROT_WRITE));
	CHECK_OK(nvmm_gpa_to_hva(&t.mach, 0x1000010, &hva, &prot));
	CHECK_EQ(hva, (uintptr_t)extra + 0x10);
	run_guest(&t, "parent, at the end");
	vmt_destroy(&t);
	munmap(extra, 4 * PAGE);
	return vmt_done("t_fork");
}
