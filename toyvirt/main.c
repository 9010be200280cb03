/* main.c - toyvirt, a toy VMM on libnvmm: boots a 64-bit ELF kernel in a VM (one VCPU, or more with -c), with exit tracing and a GDB stub. */

/*
 * Usage: toyvirt [-h] [-i MS] ELF
 *        toyvirt [-st] [-c N] [-g PORT] [-i MS] ELF
 *
 *   ELF     a static x86-64 ELF executable (ET_EXEC), e.g. smallkern.  Each
 *           PT_LOAD is loaded at its physical address (p_paddr); the guest
 *           also gets 512 KiB of RAM right after the image (page tables,
 *           stacks).  It starts in 32-bit protected mode, paging off, at
 *           e_entry, on VCPU 120.
 *   -i MS   interval between the injected events, in milliseconds
 *           (default 3000): #GP, NMI, interrupt 200, in turn.
 *   -t      trace every exit on stderr, one line each: VCPU, exit reason,
 *           RIP and the exit's fields ("trace: cpu120 IO rip=0x... out
 *           port=0x7b size=1 npc=0x...").
 *   -s      print exit statistics on stderr at the end: per exit reason
 *           the count, the time spent in nvmm_vcpu_run and the time
 *           toyvirt took to handle it, in total and on average.
 *   -c N    N VCPUs (1 to 136), ids 120 to 120+N-1, one thread each.  The
 *           others only run if the ELF has a "toyvirt" AP-entry note
 *           (elf.h): they start in the same 32-bit state at that address.
 *           With the note every VCPU starts with EBX = its index (0 for
 *           VCPU 120) and ESI = N.  Without it they stay parked.
 *   -g PORT wait for GDB on 127.0.0.1:PORT (0: any free port, printed)
 *           before the first guest instruction; see gdbstub.c.  It uses
 *           libnvmm's guest-debugging extension (NVMM_VCPU_CONF_DEBUG).
 *   -h      print the usage and exit.
 *
 * Devices: a console on I/O port 123 (output only; each guest line is
 * printed as "mach>", a TAB, the text; with several VCPUs each VCPU's
 * lines are collected apart and printed whole), the LAPIC ID register at
 * 0xFEE00020 (reads the VCPU's id << 24), the APICBASE MSR (0xFEE00900,
 * without the BSP flag 0x100 on VCPUs other than 120).
 *
 * Exit status: 0 when the guest ran to its end (shutdown, e.g. a triple
 * fault); 1 on any error, including a guest that died otherwise (invalid
 * state, VCPU 120 halted with interrupts disabled) and a kill from the
 * debugger, with a one-line reason on stderr; 128 + the signal number
 * after SIGINT, SIGTERM or SIGHUP, which stop the VCPUs and destroy the
 * machine first.  The ELF file is read and checked before the VM is
 * created.
 *
 * Errors, one convention: a function that fails returns -1 and leaves a
 * one-line reason in its caller's buffer (err, errlen); one that only
 * wraps a single libnvmm or system call leaves that call's errno, which
 * its caller turns into such a reason.  A VCPU thread ends the machine
 * with the reason (run.c's fail_machine); main alone prints it and exits.
 *
 * Differences from the original demo (docs/toy-machine.md): a defensive ELF
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
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nvmm.h>

#include "devices.h"
#include "elf.h"
#include "gdbstub.h"
#include "inject.h"
#include "memory.h"
#include "run.h"
#include "trace.h"

#define USAGE_LINES \
	"usage: %s [-h] [-i MS] ELF\n" \
	"       %s [-st] [-c N] [-g PORT] [-i MS] ELF\n"

static struct nvmm_machine mach;
static struct tv_vcpu vcpus[TOYVIRT_MAX_VCPUS];

/* ------------------------------------------------------------------------
 * Command line.
 * ------------------------------------------------------------------------ */

struct options {
	unsigned interval;
	unsigned nvcpus;
	bool trace, stats, debug;
	unsigned port;
};

static void
usage(FILE *f)
{
	const char *me = program_invocation_short_name;

	fprintf(f, USAGE_LINES, me, me);
	fprintf(f,
	    "Runs the static x86-64 ELF executable ELF (e.g. smallkern) in "
	    "an NVMM virtual\n"
	    "machine with one VCPU (id 120).  Each PT_LOAD segment is loaded "
	    "at its physical\n"
	    "address; the guest gets %llu KiB of extra RAM right after the "
	    "image for its page\n"
	    "tables and stacks, and starts in 32-bit protected mode at the "
	    "entry point.\n"
	    "  -i MS    interval between injected events (#GP, NMI, interrupt "
	    "200, in turn),\n"
	    "           in milliseconds, 1 to %u (default %u)\n"
	    "  -t       trace every exit on stderr (VCPU, reason, RIP, "
	    "fields)\n"
	    "  -s       print exit statistics on stderr at the end (count, "
	    "time per reason)\n"
	    "  -c N     run N VCPUs, ids 120 to 120+N-1, 1 to %u (the others "
	    "start at the\n"
	    "           ELF's \"toyvirt\" AP-entry note, or stay parked "
	    "without one)\n"
	    "  -g PORT  wait for GDB on 127.0.0.1:PORT before the first "
	    "instruction\n"
	    "           (0: any free port, printed)\n"
	    "  -h       print this help and exit\n"
	    "Exit status: 0 when the guest shuts down, 1 on any error.\n",
	    GUEST_EXTRA_RAM / 1024, INJECT_MAX_MS, INJECT_DEFAULT_MS,
	    TOYVIRT_MAX_VCPUS);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bad_usage(const char *fmt, ...)
{
	const char *me = program_invocation_short_name;
	va_list ap;

	fprintf(stderr, "%s: ", me);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n" USAGE_LINES, me, me);
	exit(1);
}

/* A decimal number in [lo, hi], or a usage error naming what it is. */
static unsigned
parse_num(const char *s, unsigned long lo, unsigned long hi,
    const char *what, const char *unit)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		bad_usage("invalid %s '%s': expected %s, %lu to %lu", what, s,
		    unit, lo, hi);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		bad_usage("invalid %s '%s': expected %s, %lu to %lu", what, s,
		    unit, lo, hi);
	return (unsigned)v;
}

static void
parse_args(int argc, char **argv, struct options *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	o->interval = INJECT_DEFAULT_MS;
	o->nvcpus = 1;
	opterr = 0;
	while ((ch = getopt(argc, argv, ":hi:tsc:g:")) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			exit(0);
		case 'i':
			o->interval = parse_num(optarg, 1, INJECT_MAX_MS,
			    "interval", "milliseconds");
			break;
		case 't':
			o->trace = true;
			break;
		case 's':
			o->stats = true;
			break;
		case 'c':
			o->nvcpus = parse_num(optarg, 1, TOYVIRT_MAX_VCPUS,
			    "VCPU count", "a number");
			break;
		case 'g':
			o->port = parse_num(optarg, 0, 65535, "port",
			    "a TCP port");
			o->debug = true;
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
}

/* ------------------------------------------------------------------------
 * Start-up.
 * ------------------------------------------------------------------------ */

/*
 * What to do about NVMM's two init errors; which KVM capability is
 * missing, say, is the library's to know: nvmmctl identify prints it.
 */
static void __attribute__((noreturn))
init_failed(void)
{
	int e = errno;

	if (e == EACCES)
		errx(1, "nvmm_init: %s: no access to /dev/kvm; add your user "
		    "to the kvm group (then log in again)", strerror(e));
	if (e == ENXIO)
		errx(1, "nvmm_init: %s: no usable KVM; load the kvm module "
		    "(modprobe kvm_intel or kvm_amd), check that "
		    "virtualization is enabled, and see what nvmmctl identify "
		    "says is missing", strerror(e));
	errx(1, "nvmm_init: %s", strerror(e));
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

/*
 * docs/toy-machine.md 2: 32-bit flat protected mode, paging off, at the entry.  With
 * the AP-entry note, EBX = the VCPU's index and ESI = the VCPU count.
 */
static void
set_initial_state(struct nvmm_vcpu *vcpu, uint64_t entry, bool note,
    unsigned idx, unsigned n)
{
	struct nvmm_x64_state *st = vcpu->state;

	if (nvmm_vcpu_getstate(&mach, vcpu, NVMM_X64_STATE_ALL) == -1)
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
	if (note) {
		st->gprs[NVMM_X64_GPR_RBX] = idx;
		st->gprs[NVMM_X64_GPR_RSI] = n;
	}
	if (nvmm_vcpu_setstate(&mach, vcpu, NVMM_X64_STATE_ALL) == -1)
		err(1, "nvmm_vcpu_setstate");
}

static void
start_machine(const char *path, const struct elf_plan *plan,
    const uint8_t *image, size_t len, unsigned n)
{
	struct nvmm_assist_callbacks cbs = { .io = dev_io, .mem = dev_mem };
	struct nvmm_vcpu_conf_cpuid cpuid;
	char msg[256];
	unsigned i;

	if (nvmm_init() == -1)
		init_failed();
	say("[+] NVMM initialization succeeded");

	if (nvmm_machine_create(&mach) == -1)
		err(1, "nvmm_machine_create");
	say("[+] Machine creation succeeded");

	for (i = 0; i < n; i++) {
		vcpus[i].idx = i;
		if (nvmm_vcpu_create(&mach, TOYVIRT_VCPU_ID + i,
		    &vcpus[i].vcpu) == -1)
			err(1, "nvmm_vcpu_create(%u)", TOYVIRT_VCPU_ID + i);
	}
	say("[+] VCPU creation succeeded");

	for (i = 0; i < n; i++) {
		struct nvmm_vcpu *vcpu = &vcpus[i].vcpu;

		if (nvmm_vcpu_configure(&mach, vcpu, NVMM_VCPU_CONF_CALLBACKS,
		    &cbs) == -1)
			err(1, "nvmm_vcpu_configure(CALLBACKS)");
		/* Hide NX: leaf 0x80000001, EDX bit 20 deleted. */
		memset(&cpuid, 0, sizeof(cpuid));
		cpuid.mask = 1;
		cpuid.leaf = 0x80000001;
		cpuid.u.mask.del.edx = 0x00100000;
		if (nvmm_vcpu_configure(&mach, vcpu, NVMM_VCPU_CONF_CPUID,
		    &cpuid) == -1)
			err(1, "nvmm_vcpu_configure(CPUID)");
	}
	say("[+] VCPU callbacks configuration succeeded");

	if (mem_load(&mach, plan, image, len, msg, sizeof(msg)) == -1)
		errx(1, "%s: loading the guest: %s", path, msg);
	for (i = 0; i < n; i++) {
		vcpus[i].runs = i == 0 || plan->has_ap_entry;
		set_initial_state(&vcpus[i].vcpu, i == 0 ? plan->entry :
		    plan->ap_entry, plan->has_ap_entry, i, n);
	}
	say("[+] State set");
	if (n == 2 && plan->has_ap_entry)
		say("[+] VCPU %u starts at the AP entry 0x%" PRIx64,
		    TOYVIRT_VCPU_ID + 1, plan->ap_entry);
	else if (n > 2 && plan->has_ap_entry)
		say("[+] VCPUs %u-%u start at the AP entry 0x%" PRIx64,
		    TOYVIRT_VCPU_ID + 1, TOYVIRT_VCPU_ID + n - 1,
		    plan->ap_entry);
	else if (n == 2)
		say("[!] No toyvirt AP-entry note in %s: VCPU %u stays parked",
		    path, TOYVIRT_VCPU_ID + 1);
	else if (n > 2)
		say("[!] No toyvirt AP-entry note in %s: VCPUs %u-%u stay "
		    "parked", path, TOYVIRT_VCPU_ID + 1,
		    TOYVIRT_VCPU_ID + n - 1);
}

/* -g: what libnvmm can debug here, then the stub, which waits for gdb. */
static void
start_debugger(unsigned port, unsigned nrun)
{
	char msg[256];
	uint32_t limits;
	unsigned bound;

	if (gdb_limits(&mach, &vcpus[0].vcpu, &limits, msg, sizeof(msg)) == -1)
		errx(1, "-g: %s", msg);
	if (gdb_listen(port, &bound, msg, sizeof(msg)) == -1)
		errx(1, "-g: cannot listen on %s", msg);
	if (gdb_start(vcpus, nrun, limits, msg, sizeof(msg)) == -1)
		errx(1, "-g: cannot start the GDB stub: %s", msg);
	say("[+] Waiting for gdb on 127.0.0.1:%u", bound);
}

/* ------------------------------------------------------------------------
 * Signals: SIGINT, SIGTERM and SIGHUP end the run cleanly.
 * ------------------------------------------------------------------------ */

static sigset_t end_signals;

/*
 * The signals are blocked in every thread and taken here with sigwait, so
 * ending the machine (stopping the VCPUs) runs in a normal thread, not in
 * a signal handler.  The thread lives until the process exits.
 */
static void *
signal_main(void *arg)
{
	int sig;

	(void)arg;
	for (;;)
		if (sigwait(&end_signals, &sig) == 0)
			run_signal(sig);
	return NULL;
}

static void
signals_start(void)
{
	pthread_t t;
	int e;

	sigemptyset(&end_signals);
	sigaddset(&end_signals, SIGINT);
	sigaddset(&end_signals, SIGTERM);
	sigaddset(&end_signals, SIGHUP);
	/* Before any thread exists, so that all of them inherit it. */
	e = pthread_sigmask(SIG_BLOCK, &end_signals, NULL);
	if (e == 0)
		e = pthread_create(&t, NULL, signal_main, NULL);
	if (e != 0) {
		errno = e;
		err(1, "signal thread");
	}
	pthread_detach(t);
}

static const char *
signal_text(int sig)
{
	switch (sig) {
	case SIGINT:	return "interrupted by SIGINT";
	case SIGTERM:	return "terminated by SIGTERM";
	case SIGHUP:	return "hung up (SIGHUP)";
	default:	return "ended by a signal";
	}
}

/* ------------------------------------------------------------------------
 * Main.
 * ------------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	struct options o;
	struct run_opts ro;
	struct elf_plan *plan;
	const struct tr_stats *st[TOYVIRT_MAX_VCPUS];
	char msg[256], why[256], line[160];
	enum run_end end;
	uint64_t t0;
	uint8_t *image;
	size_t len;
	unsigned i, nrun;

	out_init();
	parse_args(argc, argv, &o);

	/* The file is read and checked before any VM exists. */
	plan = malloc(sizeof(*plan));
	if (plan == NULL)
		err(1, "malloc");
	if (elf_read_file(argv[optind], &image, &len, msg, sizeof(msg)) == -1 ||
	    elf_parse(image, len, plan, msg, sizeof(msg)) == -1)
		errx(1, "%s: %s", argv[optind], msg);

	console_set_vcpus(o.nvcpus);
	start_machine(argv[optind], plan, image, len, o.nvcpus);
	nrun = plan->has_ap_entry ? o.nvcpus : 1;
	free(image);
	free(plan);

	signals_start();
	memset(&ro, 0, sizeof(ro));
	ro.trace = o.trace;
	ro.stats = o.stats;
	ro.debug = o.debug;
	inject_init(&mach, &vcpus[0].vcpu, o.interval);
	if (o.debug)
		start_debugger(o.port, nrun);
	if (inject_start() == -1)
		err(1, "pthread_create");
	why[0] = '\0';
	t0 = tr_now();
	end = run_machine(&mach, vcpus, o.nvcpus, &ro, why, sizeof(why));
	inject_stop();
	if (o.debug)
		gdb_stop();
	if (o.nvcpus > 1)
		console_flush();

	if (end == END_SHUTDOWN)
		say("[+] Machine execution successful");
	else if (end == END_KILLED)
		say("[!] Machine killed by the debugger");
	else if (end == END_SIGNAL)
		say("[!] Machine stopped: toyvirt was %s",
		    signal_text(run_end_signal()));
	if (o.stats) {
		for (i = 0; i < o.nvcpus; i++)
			st[i] = &vcpus[i].stats;
		fflush(stdout);
		tr_print_stats(stderr, st, o.nvcpus, tr_now() - t0);
	}
	if (nvmm_machine_destroy(&mach) == -1)
		err(1, "nvmm_machine_destroy");
	say("[+] Machine destroyed");

	if (end == END_DIED) {
		console_last_line(line, sizeof(line));
		fflush(stdout);
		errx(1, "guest died: %s; last console line: \"%s\"", why,
		    line);
	}
	if (end == END_KILLED) {
		fflush(stdout);
		errx(1, "the debugger killed the guest");
	}
	if (end == END_ERROR) {
		fflush(stdout);
		errx(1, "%s", why[0] != '\0' ? why : "error");
	}
	if (end == END_SIGNAL) {
		fflush(stdout);
		warnx("%s: the machine was stopped and destroyed",
		    signal_text(run_end_signal()));
		return 128 + run_end_signal();
	}
	return end == END_SHUTDOWN ? 0 : 1;
}
