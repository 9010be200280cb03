/* t_hygiene.c - resource hygiene: create, map, run, destroy machines N times; descriptors, threads, mappings, RSS and registry stay flat. */

/*
 * Usage: t_hygiene [CYCLES]   (default 1000; `make stress` gives 10000)
 *
 * One cycle: nvmm_machine_create, two VCPUs (ids 0 and 200, VCPU 200
 * destroyed and created again), fresh host memory (mmap) registered with
 * nvmm_hva_map and mapped with nvmm_gpa_map, a guest run to its HLT (an OUT
 * on the way), then nvmm_gpa_unmap, nvmm_machine_destroy and munmap.
 * After a warm-up, the open descriptors, threads and mappings of the
 * process (from /proc/self) must be exactly what they were before, and
 * RSS may grow by a bounded amount (allocator and sanitizer caches, not
 * one piece per cycle).  The machine ids go back to the registry: its
 * directory keeps the same files.  The time per cycle is printed.
 */

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmtest.h"

#define PAGE		4096ULL
#define RAM		(2 * 1024 * 1024ULL)
#define CODE		0x1000ULL

/* 16-bit real mode at CS:IP 0:0x1000: out %al,$0x10; hlt. */
static const uint8_t guest[] = { 0xe6, 0x10, 0xf4 };

static char regdir[] = "/tmp/t_hygiene.XXXXXX";
static unsigned long nio;

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

/* -------------------------------------------------------------------------
 * Process figures.
 * ------------------------------------------------------------------------- */

struct figures {
	long fds, threads, maps, rss_kib, regfiles;
};

static long
count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int c;

	if (f == NULL)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* "Name:\tvalue" from /proc/self/status. */
static long
status_field(const char *name)
{
	char line[256];
	size_t n = strlen(name);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void
figures(struct figures *f)
{
	/* opendir's own descriptor is counted: the same every time. */
	f->fds = vmt_count_dir("/proc/self/fd");
	f->threads = status_field("Threads");
	f->maps = count_lines("/proc/self/maps");
	f->rss_kib = status_field("VmRSS");
	f->regfiles = vmt_count_dir(regdir);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* -------------------------------------------------------------------------
 * One cycle.
 * ------------------------------------------------------------------------- */

static void
cycle(unsigned long i)
{
	struct nvmm_assist_callbacks cbs = { io_cb, mem_cb };
	struct nvmm_machine m;
	struct nvmm_vcpu v, v2;
	struct nvmm_x64_state *st;
	uint8_t *ram;
	unsigned long before = nio;
	int r;

	if (nvmm_machine_create(&m) == -1)
		vmt_die("nvmm_machine_create");
	if (i == 0)	/* the id comes from our registry directory */
		CHECK(vmt_count_dir(regdir) == 1, "%ld files in the registry",
		    vmt_count_dir(regdir));
	if (nvmm_vcpu_create(&m, 0, &v) == -1 ||
	    nvmm_vcpu_create(&m, 200, &v2) == -1)
		vmt_die("nvmm_vcpu_create");
	if (nvmm_vcpu_destroy(&m, &v2) == -1 ||
	    nvmm_vcpu_create(&m, 200, &v2) == -1)
		vmt_die("VCPU 200 again");
	ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		vmt_die("mmap");
	memcpy(ram + CODE, guest, sizeof(guest));
	if (nvmm_hva_map(&m, (uintptr_t)ram, RAM) == -1)
		vmt_die("nvmm_hva_map");
	if (nvmm_gpa_map(&m, (uintptr_t)ram, 0, RAM,
	    PROT_READ | PROT_WRITE | PROT_EXEC) == -1)
		vmt_die("nvmm_gpa_map");
	if (nvmm_vcpu_configure(&m, &v, NVMM_VCPU_CONF_CALLBACKS, &cbs) == -1)
		vmt_die("nvmm_vcpu_configure");

	/* Real mode, CS base 0, IP at the code. */
	if (nvmm_vcpu_getstate(&m, &v, NVMM_X64_STATE_SEGS |
	    NVMM_X64_STATE_GPRS) == -1)
		vmt_die("getstate");
	st = v.state;
	st->segs[NVMM_X64_SEG_CS].selector = 0;
	st->segs[NVMM_X64_SEG_CS].base = 0;
	st->gprs[NVMM_X64_GPR_RIP] = CODE;
	if (nvmm_vcpu_setstate(&m, &v, NVMM_X64_STATE_SEGS |
	    NVMM_X64_STATE_GPRS) == -1)
		vmt_die("setstate");

	for (;;) {
		if ((r = nvmm_vcpu_run(&m, &v)) == -1)
			vmt_die("nvmm_vcpu_run");
		if (v.exit->reason == NVMM_VCPU_EXIT_IO) {
			if (nvmm_assist_io(&m, &v) == -1)
				vmt_die("nvmm_assist_io");
			continue;
		}
		if (v.exit->reason != NVMM_VCPU_EXIT_NONE)
			break;
	}
	if (v.exit->reason != NVMM_VCPU_EXIT_HALTED || nio != before + 1) {
		CHECK(0, "cycle %lu: exit %#llx, %lu OUTs", i,
		    (unsigned long long)v.exit->reason, nio - before);
	}
	if (nvmm_gpa_unmap(&m, (uintptr_t)ram, 0, RAM) == -1)
		vmt_die("nvmm_gpa_unmap");
	if (nvmm_machine_destroy(&m) == -1)
		vmt_die("nvmm_machine_destroy");
	if (munmap(ram, RAM) == -1)
		vmt_die("munmap");
}

static void
registry_remove(void)
{
	struct dirent *de;
	DIR *d;
	char path[sizeof(regdir) + 300];

	if ((d = opendir(regdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", regdir,
			    de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(regdir);
}

int
main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000, i,
	    warm;
	struct figures f0, f1, fm;
	double t0, secs, tb, first = 0, last = 0;
	long rss_budget;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (n == 0)
		n = 1000;
	vmt_init_or_skip();
	/* A registry of our own, so that its files can be counted. */
	if (mkdtemp(regdir) == NULL || setenv("NVMM_REGISTRY_DIR", regdir, 1))
		vmt_die("registry directory");
	atexit(registry_remove);

	/* Warm-up: the allocator, the registry files, KVM's first VM. */
	warm = n / 10 < 50 ? 50 : n / 10;
	for (i = 0; i < warm; i++)
		cycle(i);
	figures(&f0);
	fm = f0;
	t0 = tb = now();
	for (i = 0; i < n; i++) {
		cycle(i);
		/* Per block of a tenth: a cost that grows would show. */
		if ((i + 1) % (n / 10 ? n / 10 : 1) == 0) {
			last = (now() - tb) * 1e6 / (double)(n / 10 ? n / 10 : 1);
			if (first == 0)
				first = last;
			tb = now();
		}
		if (i % 100 == 99) {
			figures(&f1);
			if (f1.rss_kib > fm.rss_kib)
				fm.rss_kib = f1.rss_kib;
			if (f1.fds > fm.fds)
				fm.fds = f1.fds;
			if (f1.maps > fm.maps)
				fm.maps = f1.maps;
		}
	}
	secs = now() - t0;
	figures(&f1);

	printf("t_hygiene: %lu cycles in %.2f s: %.0f us per cycle (machine "
	    "+ 2 VCPUs + %llu MiB mapped + run to HLT + destroy)\n", n, secs,
	    secs * 1e6 / (double)n, RAM >> 20);
	printf("  first tenth %.0f us per cycle, last tenth %.0f us\n", first,
	    last);
	printf("  after %lu warm-up cycles -> after %lu more: fds %ld -> %ld "
	    "(max %ld), threads %ld -> %ld, mappings %ld -> %ld (max %ld), "
	    "RSS %ld -> %ld KiB (max %ld), registry files %ld -> %ld\n",
	    warm, n, f0.fds, f1.fds, fm.fds, f0.threads, f1.threads, f0.maps,
	    f1.maps, fm.maps, f0.rss_kib, f1.rss_kib, fm.rss_kib,
	    f0.regfiles, f1.regfiles);
	CHECK_EQ(f1.fds, f0.fds);
	CHECK_EQ(fm.fds, f0.fds);
	CHECK_EQ(f1.threads, f0.threads);
	CHECK_EQ(f1.maps, f0.maps);
	CHECK_EQ(fm.maps, f0.maps);
	CHECK_EQ(f1.regfiles, f0.regfiles);
	/*
	 * A leak of one page per cycle would add n * 4 KiB; allow a fixed
	 * 8 MiB for caches (ASan's quarantine keeps freed blocks up to its
	 * own limit: it gets 64 MiB) and less than a page per cycle.
	 */
#if defined(__SANITIZE_ADDRESS__)
	rss_budget = 64 * 1024;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
	rss_budget = 64 * 1024;
#else
	rss_budget = 8 * 1024;
#endif
#else
	rss_budget = 8 * 1024;
#endif
	CHECK(f1.rss_kib - f0.rss_kib < rss_budget && (f1.rss_kib -
	    f0.rss_kib) * 1024 < (long)(n * PAGE) + rss_budget * 1024,
	    "RSS grew from %ld to %ld KiB over %lu cycles", f0.rss_kib,
	    f1.rss_kib, n);
	return vmt_done("t_hygiene");
}
