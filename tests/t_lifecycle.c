/* t_lifecycle.c - destroy releases everything; VCPUs in parallel; dump. */

#include <dirent.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmtest.h"

extern const char lc_start[], lc_end[];

static int
count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int c, n = 0;

	if (f == NULL)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void
io_nop(struct nvmm_io *io)
{
	(void)io;
}

static void
mem_nop(struct nvmm_mem *mem)
{
	(void)mem;
}

static struct nvmm_assist_callbacks cbs = { io_nop, mem_nop };

/* Runs n OUT exits; returns the guest's count. */
static uint64_t
run_outs(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (nvmm_vcpu_run(mach, vcpu) == -1 ||
		    vcpu->exit->reason != NVMM_VCPU_EXIT_IO ||
		    nvmm_assist_io(mach, vcpu) == -1)
			return 0;
	}
	nvmm_vcpu_getstate(mach, vcpu, NVMM_X64_STATE_GPRS);
	return vcpu->state->gprs[NVMM_X64_GPR_RBX];
}

static void
cycles(void)
{
	static const nvmm_cpuid_t ids[] = { 0, 120, 255 };
	int fds0 = 0, maps0 = 0, tasks0 = 0, i, k;
	struct vmt t;

	/* One warm-up cycle: first-use allocations (registry, stdio). */
	for (i = 0; i < 51; i++) {
		struct nvmm_vcpu extra[2];

		if (i == 1) {
			fds0 = vmt_count_dir("/proc/self/fd");
			maps0 = count_maps();
			tasks0 = vmt_count_dir("/proc/self/task");
		}
		vmt_create(&t, VMT_RAM, ids[0]);
		for (k = 1; k < 3; k++)
			CHECK(nvmm_vcpu_create(&t.mach, ids[k], &extra[k - 1]) ==
			    0, "vcpu %u", ids[k]);
		nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS,
		    &cbs);
		vmt_load(&t, VMT_CODE, lc_start, lc_end);
		vmt_setup_long(&t, VMT_CODE);
		CHECK_EQ(run_outs(&t.mach, &t.vcpu, 3), 3);
		if (i % 2)	/* half the time, destroy one VCPU first */
			CHECK(nvmm_vcpu_destroy(&t.mach, &extra[0]) == 0, "d");
		vmt_destroy(&t);
	}
	CHECK_EQ(vmt_count_dir("/proc/self/fd"), fds0);
	CHECK_EQ(count_maps(), maps0);
	CHECK_EQ(vmt_count_dir("/proc/self/task"), tasks0);
}

struct worker {
	struct vmt *t;
	struct nvmm_vcpu *vcpu;
	uint64_t result;
};

static void *
worker(void *arg)
{
	struct worker *w = arg;

	w->result = run_outs(&w->t->mach, w->vcpu, 2000);
	return NULL;
}

static void
parallel(void)
{
	struct nvmm_vcpu v2;
	struct worker w[2];
	pthread_t th[2];
	struct vmt t;
	int i;

	vmt_create(&t, VMT_RAM, 1);
	CHECK(nvmm_vcpu_create(&t.mach, 2, &v2) == 0, "second vcpu");
	vmt_load(&t, VMT_CODE, lc_start, lc_end);
	vmt_setup_long(&t, VMT_CODE);
	/* The second VCPU gets the same state. */
	memcpy(v2.state, t.vcpu.state, sizeof(*v2.state));
	nvmm_vcpu_setstate(&t.mach, &v2, NVMM_X64_STATE_ALL);
	nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS, &cbs);
	nvmm_vcpu_configure(&t.mach, &v2, NVMM_VCPU_CONF_CALLBACKS, &cbs);
	w[0] = (struct worker){ &t, &t.vcpu, 0 };
	w[1] = (struct worker){ &t, &v2, 0 };
	for (i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, worker, &w[i]);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ(w[0].result, 2000);
	CHECK_EQ(w[1].result, 2000);
	vmt_destroy(&t);
}

static void
dump(void)
{
	char buf[4096], *p;
	struct vmt t;
	FILE *f;
	int saved;
	size_t n;

	vmt_create(&t, VMT_RAM, 7);
	vmt_setup_long(&t, 0x12345);
	f = tmpfile();
	fflush(stdout);
	saved = dup(1);
	dup2(fileno(f), 1);
	CHECK(nvmm_vcpu_dump(&t.mach, &t.vcpu) == 0, "dump");
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	CHECK(strncmp(buf, "+ VCPU id=7\n| -> RAX=0\n", 23) == 0, "head %.40s",
	    buf);
	CHECK(strstr(buf, "| -> RIP=12345\n") != NULL, "RIP line");
	CHECK(strstr(buf, "| -> RFLAGS=0x2\n") != NULL, "RFLAGS line");
	CHECK(strstr(buf, "| -> CS: sel=0x8 base=0, limit=ffffffff, "
	    "attrib=a9b [type=11,l=1,def=0]\n") != NULL, "CS line");
	CHECK(strstr(buf, "| -> MSR_EFER=500\n| -> CR0=80050033\n"
	    "| -> CR3=1000\n| -> CR4=620\n| -> CR8=0\n") != NULL, "tail");
	for (n = 0, p = buf; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	CHECK_EQ(n, 1 + 9 + 1 + 10 + 5);
	vmt_destroy(&t);
}

int
main(void)
{
	vmt_init_or_skip();
	cycles();
	parallel();
	dump();
	return vmt_done("t_lifecycle");
}
