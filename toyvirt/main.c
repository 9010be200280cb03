/* main.c - toyvirt, a toy VMM on libnvmm: boots a 64-bit ELF kernel in a VM with one VCPU. */

/*
 * Usage: toyvirt [-h] [-i MS] ELF
 *
 *   ELF     a static x86-64 ELF executable (ET_EXEC), e.g. smallkern.  Each
 *           PT_LOAD is loaded at its physical address (p_paddr); the guest
 *           also gets 512 KiB of RAM right after the image (page tables,
 *           stacks).  It starts in 32-bit protected mode, paging off, at
 *           e_entry, on VCPU 120.
 *   -i MS   interval between the injected events, in milliseconds
 *           (default 3000): #GP, NMI, interrupt 200, in turn.
 *   -h      print the usage and exit.
 *
 * Devices: a console on I/O port 123 (output only; each guest line is
 * printed as "mach>", a TAB, the text), the LAPIC ID register at
 * 0xFEE00020 (reads 120 << 24), the APICBASE MSR (0xFEE00900).
 *
 * Exit status: 0 when the guest ran to its end (shutdown, e.g. a triple
 * fault); 1 on any error, including a guest that died otherwise (invalid
 * state, halted with interrupts disabled), with a one-line reason on
 * stderr.  The ELF file is read and checked before the VM is created.
 *
 * Differences from the original demo (demo.md section 2): a defensive ELF
 * loader; unknown devices and MSRs are answered like hardware instead of
 * ending toyvirt; INT_READY / NMI_READY re-inject the parked event and the
 * run goes on (the original ended the run there); HLT with interrupts
 * enabled waits for the next injected event; stdout is line buffered, a
 * toyvirt line arriving in the middle of a guest line ends that line
 * first, and guest control characters are shown in caret notation.
 */

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nvmm.h>

#include "devices.h"
#include "elf.h"
#include "inject.h"
#include "memory.h"

#define PSL_I		0x200ULL	/* RFLAGS.IF */

static struct nvmm_machine mach;
static struct nvmm_vcpu vcpu;

/* ------------------------------------------------------------------------
 * Command line.
 * ------------------------------------------------------------------------ */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [-h] [-i MS] ELF\n"
	    "Runs the static x86-64 ELF executable ELF (e.g. smallkern) in "
	    "an NVMM virtual\n"
	    "machine with one VCPU (id 120).  Each PT_LOAD segment is loaded "
	    "at its physical\n"
	    "address; the guest gets %llu KiB of extra RAM right after the "
	    "image for its page\n"
	    "tables and stacks, and starts in 32-bit protected mode at the "
	    "entry point.\n"
	    "  -i MS  interval between injected events (#GP, NMI, interrupt "
	    "200, in turn),\n"
	    "         in milliseconds, 1 to %u (default %u)\n"
	    "  -h     print this help and exit\n"
	    "Exit status: 0 when the guest shuts down, 1 on any error.\n",
	    program_invocation_short_name, GUEST_EXTRA_RAM / 1024,
	    INJECT_MAX_MS, INJECT_DEFAULT_MS);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s [-h] [-i MS] ELF\n",
	    program_invocation_short_name);
	exit(1);
}

static unsigned
parse_interval(const char *s)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		bad_usage("invalid interval '%s': expected milliseconds, 1 to "
		    "%u", s, INJECT_MAX_MS);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > INJECT_MAX_MS)
		bad_usage("invalid interval '%s': expected milliseconds, 1 to "
		    "%u", s, INJECT_MAX_MS);
	return (unsigned)v;
}

/* ------------------------------------------------------------------------
 * Start-up.
 * ------------------------------------------------------------------------ */

static void __attribute__((noreturn))
init_failed(void)
{
	int e = errno;

	switch (e) {
	case ENXIO:
	case ENOENT:
	case ENODEV:
		errx(1, "nvmm_init: %s: /dev/kvm is missing or unusable; load "
		    "the kvm module (modprobe kvm_intel or kvm_amd) and check "
		    "that virtualization is enabled", strerror(e));
	case EACCES:
	case EPERM:
		errx(1, "nvmm_init: %s: no access to /dev/kvm; add your user "
		    "to the kvm group (then log in again)", strerror(e));
	case EPROTONOSUPPORT:
		errx(1, "nvmm_init: %s: the kernel's KVM and libnvmm do not "
		    "match", strerror(e));
	default:
		errx(1, "nvmm_init: %s", strerror(e));
	}
}

/* 32-bit flat segment: base 0, limit 4 GiB, present, DPL 0, AVL, D/B, G. */
static void
flat_seg(struct nvmm_x64_state_seg *s, unsigned type)
{
	memset(s, 0, sizeof(*s));
	s->attrib.type = type & 0xf;
	s->attrib.s = 1;
	s->attrib.p = 1;
	s->attrib.avl = 1;
	s->attrib.def = 1;
	s->attrib.g = 1;
	s->limit = 0xFFFFFFFF;
}

/* A system segment (LDT, TR): base 0, limit 4 GiB, present, G. */
static void
sys_seg(struct nvmm_x64_state_seg *s, unsigned type)
{
	memset(s, 0, sizeof(*s));
	s->attrib.type = type & 0xf;
	s->attrib.p = 1;
	s->attrib.g = 1;
	s->limit = 0xFFFFFFFF;
}

/* demo.md 2.5: 32-bit flat protected mode, paging off, at the entry. */
static void
set_initial_state(uint64_t entry)
{
	struct nvmm_x64_state *st = vcpu.state;

	if (nvmm_vcpu_getstate(&mach, &vcpu, NVMM_X64_STATE_ALL) == -1)
		err(1, "nvmm_vcpu_getstate");
	flat_seg(&st->segs[NVMM_X64_SEG_CS], 11);	/* code exec/read, accessed */
	flat_seg(&st->segs[NVMM_X64_SEG_SS], 3);	/* data read/write, accessed */
	flat_seg(&st->segs[NVMM_X64_SEG_DS], 3);
	flat_seg(&st->segs[NVMM_X64_SEG_ES], 3);
	flat_seg(&st->segs[NVMM_X64_SEG_FS], 3);
	flat_seg(&st->segs[NVMM_X64_SEG_GS], 3);
	memset(&st->segs[NVMM_X64_SEG_GDT], 0, sizeof(st->segs[0]));
	st->segs[NVMM_X64_SEG_GDT].limit = 0xFFFF;
	memset(&st->segs[NVMM_X64_SEG_IDT], 0, sizeof(st->segs[0]));
	st->segs[NVMM_X64_SEG_IDT].limit = 0xFFFF;
	sys_seg(&st->segs[NVMM_X64_SEG_LDT], 2);	/* LDT */
	sys_seg(&st->segs[NVMM_X64_SEG_TR], 11);	/* busy 32/64-bit TSS */
	st->crs[NVMM_X64_CR_CR0] = 0x60000011;		/* PE, ET, NW, CD */
	st->msrs[NVMM_X64_MSR_PAT] = 0x0007040600070406ULL;
	st->gprs[NVMM_X64_GPR_RIP] = entry;
	st->gprs[NVMM_X64_GPR_RFLAGS] = 0x2;
	if (nvmm_vcpu_setstate(&mach, &vcpu, NVMM_X64_STATE_ALL) == -1)
		err(1, "nvmm_vcpu_setstate");
}

static void
start_machine(const char *path, const struct elf_plan *plan,
    const uint8_t *image, size_t len)
{
	struct nvmm_assist_callbacks cbs = { .io = dev_io, .mem = dev_mem };
	struct nvmm_vcpu_conf_cpuid cpuid;
	char msg[256];

	if (nvmm_init() == -1)
		init_failed();
	say("[+] NVMM initialization succeeded");

	if (nvmm_machine_create(&mach) == -1)
		err(1, "nvmm_machine_create");
	say("[+] Machine creation succeeded");

	if (nvmm_vcpu_create(&mach, TOYVIRT_VCPU_ID, &vcpu) == -1)
		err(1, "nvmm_vcpu_create");
	say("[+] VCPU creation succeeded");

	if (nvmm_vcpu_configure(&mach, &vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    &cbs) == -1)
		err(1, "nvmm_vcpu_configure(CALLBACKS)");
	say("[+] VCPU callbacks configuration succeeded");

	/* Hide NX: leaf 0x80000001, EDX bit 20 deleted. */
	memset(&cpuid, 0, sizeof(cpuid));
	cpuid.mask = 1;
	cpuid.leaf = 0x80000001;
	cpuid.u.mask.del.edx = 0x00100000;
	if (nvmm_vcpu_configure(&mach, &vcpu, NVMM_VCPU_CONF_CPUID,
	    &cpuid) == -1)
		err(1, "nvmm_vcpu_configure(CPUID)");

	if (mem_load(&mach, plan, image, len, msg, sizeof(msg)) == -1)
		errx(1, "%s: loading the guest: %s", path, msg);
	set_initial_state(plan->entry);
	say("[+] State set");
}

/* ------------------------------------------------------------------------
 * Run loop.
 * ------------------------------------------------------------------------ */

enum run_end {
	END_SHUTDOWN,		/* the guest's end: success */
	END_DIED,		/* the guest died: why[] says how */
	END_ERROR,		/* toyvirt or library error, already reported */
};

static uint64_t
guest_rip(void)
{
	if (nvmm_vcpu_getstate(&mach, &vcpu, NVMM_X64_STATE_GPRS) == -1)
		return UINT64_MAX;
	return vcpu.state->gprs[NVMM_X64_GPR_RIP];
}

static enum run_end
run(char *why, size_t whylen)
{
	const struct nvmm_x86_exit *ex;
	uint64_t since, rip;
	int e;

	for (;;) {
		since = inject_count();
		if (nvmm_vcpu_run(&mach, &vcpu) == -1) {
			warn("nvmm_vcpu_run");
			return END_ERROR;
		}
		ex = vcpu.exit;
		if (ex->reason != NVMM_VCPU_EXIT_NONE &&
		    ex->reason != NVMM_VCPU_EXIT_STOPPED)
			inject_exit_update(ex);

		switch (ex->reason) {
		case NVMM_VCPU_EXIT_NONE:
		case NVMM_VCPU_EXIT_STOPPED:
		case NVMM_VCPU_EXIT_TPR_CHANGED:
			break;
		case NVMM_VCPU_EXIT_IO:
			if (nvmm_assist_io(&mach, &vcpu) == -1) {
				e = errno;
				rip = guest_rip();
				errno = e;
				warn("nvmm_assist_io (port %u, rip=0x%" PRIx64
				    ")", (unsigned)ex->u.io.port, rip);
				return END_ERROR;
			}
			break;
		case NVMM_VCPU_EXIT_MEMORY:
			if (nvmm_assist_mem(&mach, &vcpu) == -1) {
				e = errno;
				rip = guest_rip();
				errno = e;
				warn("nvmm_assist_mem (gpa 0x%" PRIx64 ", rip=0x%"
				    PRIx64 ")", ex->u.mem.gpa, rip);
				return END_ERROR;
			}
			break;
		case NVMM_VCPU_EXIT_RDMSR:
		case NVMM_VCPU_EXIT_WRMSR:
			if (dev_msr(&mach, &vcpu) == -1)
				return END_ERROR;
			break;
		case NVMM_VCPU_EXIT_INT_READY:
		case NVMM_VCPU_EXIT_NMI_READY:
			if (inject_ready(ex->reason ==
			    NVMM_VCPU_EXIT_NMI_READY) == -1) {
				warn("nvmm_vcpu_inject");
				return END_ERROR;
			}
			break;
		case NVMM_VCPU_EXIT_MONITOR:
		case NVMM_VCPU_EXIT_MWAIT:
			/* Hidden in CPUID; answer as hardware without it: #UD. */
			if (inject_exception(6, 0) == -1) {
				warn("nvmm_vcpu_inject");
				return END_ERROR;
			}
			break;
		case NVMM_VCPU_EXIT_HALTED:
			if (ex->exitstate.rflags & PSL_I) {
				/* Wait for an event, as a halted CPU does. */
				inject_wait_after(since);
				break;
			}
			rip = guest_rip();
			say("[!] Guest halted with interrupts disabled at "
			    "rip=0x%" PRIx64, rip);
			snprintf(why, whylen, "halted with interrupts disabled "
			    "at rip=0x%" PRIx64, rip);
			return END_DIED;
		case NVMM_VCPU_EXIT_SHUTDOWN:
			say("[+] Machine received shutdown");
			return END_SHUTDOWN;
		case NVMM_VCPU_EXIT_INVALID:
			rip = guest_rip();
			say("[!] Invalid exit: rip=0x%" PRIx64 " hwcode=0x%"
			    PRIx64, rip, ex->u.inv.hwcode);
			snprintf(why, whylen, "invalid exit (hwcode 0x%" PRIx64
			    ") at rip=0x%" PRIx64, ex->u.inv.hwcode, rip);
			return END_DIED;
		default:
			rip = guest_rip();
			say("[!] Unexpected exit: reason=0x%" PRIx64 " rip=0x%"
			    PRIx64, ex->reason, rip);
			snprintf(why, whylen, "unexpected exit reason 0x%" PRIx64
			    " at rip=0x%" PRIx64, ex->reason, rip);
			return END_DIED;
		}
		if (inject_failed(&e)) {
			errno = e;
			warn("nvmm_vcpu_inject");
			return END_ERROR;
		}
	}
}

/* ------------------------------------------------------------------------
 * Main.
 * ------------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	unsigned interval = INJECT_DEFAULT_MS;
	struct elf_plan *plan;
	char msg[256], why[256], line[160];
	enum run_end end;
	uint8_t *image;
	size_t len;
	int ch;

	out_init();
	opterr = 0;
	while ((ch = getopt(argc, argv, ":hi:")) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return 0;
		case 'i':
			interval = parse_interval(optarg);
			break;
		case ':':
			bad_usage("option -%c requires an argument", optopt);
		default:
			if (optopt >= 0x21 && optopt < 0x7f)
				bad_usage("unknown option -%c", optopt);
			bad_usage("unknown option %s", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		bad_usage(argc == optind ? "no ELF file given" :
		    "too many arguments");

	/* The file is read and checked before any VM exists. */
	plan = malloc(sizeof(*plan));
	if (plan == NULL)
		err(1, "malloc");
	if (elf_read_file(argv[optind], &image, &len, msg, sizeof(msg)) == -1 ||
	    elf_parse(image, len, plan, msg, sizeof(msg)) == -1)
		errx(1, "%s: %s", argv[optind], msg);

	start_machine(argv[optind], plan, image, len);
	free(image);
	free(plan);

	inject_init(&mach, &vcpu, interval);
	if (inject_start() == -1)
		err(1, "pthread_create");
	why[0] = '\0';
	end = run(why, sizeof(why));
	inject_stop();

	if (end == END_SHUTDOWN)
		say("[+] Machine execution successful");
	if (nvmm_machine_destroy(&mach) == -1)
		err(1, "nvmm_machine_destroy");
	say("[+] Machine destroyed");

	if (end == END_DIED) {
		console_last_line(line, sizeof(line));
		fflush(stdout);
		errx(1, "guest died: %s; last console line: \"%s\"", why,
		    line);
	}
	return end == END_SHUTDOWN ? 0 : 1;
}
