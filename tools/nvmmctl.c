/* nvmmctl.c - nvmmctl: identify the host's NVMM support and list its virtual machines. */

/*
 * The NetBSD tool's commands and output formats (nvmmctl(8)),
 * written against <nvmm.h> only:
 *
 *	nvmmctl identify	nvmm_init, nvmm_capability: 8 lines of limits
 *				and features, then the Linux KVM backend's
 *				known differences from NetBSD's NVMM
 *	nvmmctl list		nvmm_root_init, nvmm_ctl(NVMM_CTL_MACH_INFO)
 *				for every machine id of the host
 *
 * humanize_number(3) and snprintb(3) do not exist on Linux; the two
 * formats used here are reimplemented below.  The kind of KVM host is
 * the library's private knowledge (nvmm_internal.h): the public API has
 * no word for it.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nvmm.h>
#include "nvmm_internal.h"

/* -------------------------------------------------------------------------
 * Formatting.
 * ------------------------------------------------------------------------- */

#define HUMAN_LEN	5	/* NetBSD's buffer: 4 characters and NUL */

/*
 * Formats a byte count as NetBSD's humanize_number() does into a 5-byte
 * buffer with automatic scaling, HN_B | HN_NOSPACE | HN_DECIMAL: powers
 * of 1024 with a B/K/M/G/T/P/E suffix, three digits at most, one decimal
 * below 10 ("128G", "2.0G", "512M", "0B").
 */
static void
humanize(char *buf, size_t size, uint64_t n)
{
	static const char units[] = "BKMGTPE";
	uint64_t v;		/* the scaled value times 100 */
	unsigned int i = 0, t;

	if (n > UINT64_MAX / 100) {
		v = n / 1024 * 100;
		i = 1;
	} else {
		v = n * 100;
	}
	/* Scale until the rounded value fits in three digits. */
	while (v >= 99950 && i < sizeof(units) - 2) {
		v /= 1024;
		i++;
	}
	if (i > 0 && v < 995) {
		t = (unsigned int)((v + 5) / 10);
		snprintf(buf, size, "%u.%u%c", t / 10, t % 10, units[i]);
	} else {
		/* Below 1000 by the loop above; % says so to the compiler. */
		t = (unsigned int)((v + 50) / 100 % 1000);
		snprintf(buf, size, "%u%c", t, units[i]);
	}
}

/*
 * Formats a bit mask as NetBSD's snprintb() does with a hexadecimal base:
 * "0x<hex>", then "<" + the names of the named set bits, comma-separated,
 * + ">" when there is at least one ("0x3<CPUID,TPR>", "0x0").
 */
static void
bitfmt(char *buf, size_t size, uint64_t v, const char *const *names,
    size_t nnames)
{
	size_t len, i;
	char sep = '<';

	len = (size_t)snprintf(buf, size, "0x%" PRIx64, v);
	for (i = 0; i < nnames && i < 64; i++) {
		if (names[i] == NULL || (v & ((uint64_t)1 << i)) == 0)
			continue;
		if (len < size)
			len += (size_t)snprintf(buf + len, size - len, "%c%s",
			    sep, names[i]);
		sep = ',';
	}
	if (sep == ',' && len < size)
		snprintf(buf + len, size - len, ">");
}

static const char *const vcpu_conf_names[] = {
	[0] = "CPUID",		/* NVMM_CAP_ARCH_VCPU_CONF_CPUID */
	[1] = "TPR",		/* NVMM_CAP_ARCH_VCPU_CONF_TPR */
	[2] = "DEBUG",		/* NVMM_CAP_ARCH_VCPU_CONF_DEBUG, ours */
};

/* XSAVE state components, by XCR0/XSS bit, as NetBSD names them. */
static const char *const xcr0_names[] = {
	[0] = "x87",
	[1] = "SSE",
	[2] = "AVX",
	[3] = "BNDREGS",
	[4] = "BNDCSR",
	[5] = "Opmask",
	[6] = "ZMM_Hi256",
	[7] = "Hi16_ZMM",
	[8] = "PT",
	[9] = "PKRU",
	[11] = "CET_U",
	[12] = "CET_S",
	[13] = "HDC",
	[15] = "LBR",
	[16] = "HWP",
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* -------------------------------------------------------------------------
 * Commands.
 * ------------------------------------------------------------------------- */

/*
 * What the Linux KVM backend cannot do like NetBSD's NVMM (docs/nvmm-semantics.md
 * section 8).  The public API cannot reveal them, so the list is
 * fixed here; printed after the 8 lines NetBSD's nvmmctl prints.
 */
static const char *const kvm_differences[] = {
	"  CPUID conf: exit entries refused (EINVAL), "
	    "no change after the first run (EBUSY)",
	"  TPR_CHANGED: reported when CR8 changed, before the exit that "
	    "showed it",
	"  NMI_READY: reported at the next run once the NMI window is "
	    "open",
	"  GPA protections: read-only and unmapped only, exec ignored",
	"  MONITOR/MWAIT: #UD injected, no MONITOR/MWAIT exits",
	"  VMCALL/VMMCALL: #UD at CPL0 only; the CPU-native one may act as "
	    "a KVM hypercall",
};

static void
cmd_identify(void)
{
	struct nvmm_capability cap;
	char ram[HUMAN_LEN], buf[256];
	size_t i;

	if (nvmm_init() == -1) {
		int e = errno;

		/* The library knows why (the capability KVM lacks, say). */
		if (nvmm_kvm_unusable() != NULL)
			fprintf(stderr, "%s: KVM is unusable: %s\n",
			    program_invocation_short_name,
			    nvmm_kvm_unusable());
		errno = e;
		err(EXIT_FAILURE, "nvmm_init failed");
	}
	if (nvmm_capability(&cap) == -1)
		err(EXIT_FAILURE, "nvmm_capability failed");

	printf("nvmm: Kernel API version %u\n", cap.version);
	printf("nvmm: State size %u\n", cap.state_size);
	printf("nvmm: Max machines %u\n", cap.max_machines);
	printf("nvmm: Max VCPUs per machine %u\n", cap.max_vcpus);
	humanize(ram, sizeof(ram), cap.max_ram);
	printf("nvmm: Max RAM per machine %s\n", ram);
	/* No machine configuration exists (NVMM_X86_MACH_NCONF is 0). */
	bitfmt(buf, sizeof(buf), cap.arch.mach_conf_support, NULL, 0);
	printf("nvmm: Arch Mach conf %s\n", buf);
	bitfmt(buf, sizeof(buf), cap.arch.vcpu_conf_support, vcpu_conf_names,
	    NELEM(vcpu_conf_names));
	printf("nvmm: Arch VCPU conf %s\n", buf);
	bitfmt(buf, sizeof(buf), cap.arch.xcr0_mask, xcr0_names,
	    NELEM(xcr0_names));
	printf("nvmm: Guest FPU states %s\n", buf);

	printf("nvmm: Backend Linux KVM on %s; differences from NetBSD "
	    "NVMM:\n", nvmm_kvm_host_name(nvmm_kvm_host()));
	for (i = 0; i < NELEM(kvm_differences); i++)
		printf("nvmm: %s\n", kvm_differences[i]);
	if (!nvmm_kvm_xsave())
		printf("nvmm: XSAVE hidden from guests: a guest's XSETBV does "
		    "not reach KVM on this host\n");
}

static void
cmd_list(void)
{
	struct nvmm_capability cap;
	struct nvmm_ctl_mach_info info;
	char ram[HUMAN_LEN], ts[64];
	struct tm tm;
	uint32_t id;

	if (nvmm_root_init() == -1)
		err(EXIT_FAILURE, "nvmm_root_init failed");
	if (nvmm_capability(&cap) == -1)
		err(EXIT_FAILURE, "nvmm_capability failed");

	printf("Machine ID VCPUs RAM  Owner PID Creation Time           \n"
	    "---------- ----- ---- --------- ------------------------\n");
	for (id = 0; id < cap.max_machines; id++) {
		memset(&info, 0, sizeof(info));
		info.machid = id;
		if (nvmm_ctl(NVMM_CTL_MACH_INFO, &info, sizeof(info)) == -1) {
			if (errno == ENOENT)
				continue;
			err(EXIT_FAILURE, "nvmm_ctl failed");
		}
		humanize(ram, sizeof(ram), info.nram);
		/* asctime()'s format, without its newline (C locale). */
		if (localtime_r(&info.time, &tm) == NULL ||
		    strftime(ts, sizeof(ts), "%a %b %e %H:%M:%S %Y", &tm) == 0)
			snprintf(ts, sizeof(ts), "%lld", (long long)info.time);
		printf("%-10" PRIu32 " %-5" PRIu32 " %-4s %-9d %s\n", id,
		    info.nvcpus, ram, (int)info.pid, ts);
	}
}

/* -------------------------------------------------------------------------
 * Main.
 * ------------------------------------------------------------------------- */

static void
usage(void)
{
	const char *prog = program_invocation_short_name;

	fprintf(stderr, "usage: %s identify\n       %s list\n", prog, prog);
	exit(EXIT_FAILURE);
}

static const struct {
	const char *name;
	void (*func)(void);
} commands[] = {
	{ "identify", cmd_identify },
	{ "list", cmd_list },
};

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		usage();
	for (i = 0; i < NELEM(commands); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		if (argc != 2)
			usage();
		commands[i].func();
		if (fflush(stdout) == EOF || ferror(stdout))
			err(EXIT_FAILURE, "stdout");
		return EXIT_SUCCESS;
	}
	errx(EXIT_FAILURE, "unknown command ``%s''", argv[1]);
}
