/* devices.c - toyvirt's toy devices (console, LAPIC ID, APICBASE MSR) and its serialised stdout. */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "devices.h"
#include "elf.h"
#include "inject.h"

/*
 * Behaviour towards the guest is what hardware with nothing behind an
 * address gives: reads of unknown ports and MMIO return all ones, writes
 * are dropped, an unknown MSR raises #GP.  Nothing a guest does here ends
 * toyvirt.  Each unexpected access is reported on stdout with a "[!]" line,
 * at most a few times per port/address/MSR (flood guard), so a hostile
 * guest cannot flood the terminal.
 */

/* ------------------------------------------------------------------------
 * Output: one lock serialises toyvirt's lines and the guest console.
 * ------------------------------------------------------------------------ */

#define LINE_KEEP	160	/* bytes of a console line kept for messages */

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static bool con_line_start = true;	/* console is at the start of a line */
static char con_cur[LINE_KEEP], con_last[LINE_KEEP];
static size_t con_curlen;

/* Several VCPUs: a line being collected per VCPU (under out_lock). */
static unsigned con_nvcpus = 1;
static struct {
	uint8_t buf[LINE_KEEP];
	size_t len;
} con_vcpu[TOYVIRT_MAX_VCPUS];

void
out_init(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

void
console_set_vcpus(unsigned nvcpus)
{
	con_nvcpus = nvcpus;
}

void
say(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&out_lock);
	if (!con_line_start) {
		/* End the guest's partial line; its next byte re-prefixes. */
		putchar('\n');
		con_line_start = true;
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	pthread_mutex_unlock(&out_lock);
}

void
console_last_line(char *buf, size_t len)
{
	if (len == 0)
		return;
	pthread_mutex_lock(&out_lock);
	snprintf(buf, len, "%s", con_curlen > 0 ? con_cur : con_last);
	pthread_mutex_unlock(&out_lock);
}

/*
 * One guest byte.  Control characters other than TAB and newline (and DEL)
 * are shown in caret notation (ESC as "^["), so the guest cannot drive the
 * terminal; other bytes, UTF-8 included, pass unchanged.
 */
static void
console_byte(uint8_t c)
{
	if (con_line_start)
		fputs("mach>\t", stdout);
	if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f))
		putchar(c);
	else {
		putchar('^');
		putchar(c == 0x7f ? '?' : c + 0x40);
	}
	con_line_start = c == '\n';
	if (c == '\n') {
		memcpy(con_last, con_cur, con_curlen);
		con_last[con_curlen] = '\0';
		con_curlen = 0;
		con_cur[0] = '\0';
	} else if (con_curlen < LINE_KEEP - 1) {
		con_cur[con_curlen++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
		con_cur[con_curlen] = '\0';
	}
}

/* One VCPU's byte when several run (out_lock held). */
static void
console_vcpu_byte(unsigned idx, uint8_t c)
{
	size_t i;

	con_vcpu[idx].buf[con_vcpu[idx].len++] = c;
	if (c != '\n' && con_vcpu[idx].len < LINE_KEEP)
		return;
	for (i = 0; i < con_vcpu[idx].len; i++)
		console_byte(con_vcpu[idx].buf[i]);
	if (c != '\n')
		console_byte('\n');
	con_vcpu[idx].len = 0;
}

void
console_flush(void)
{
	unsigned i;

	pthread_mutex_lock(&out_lock);
	for (i = 0; i < con_nvcpus && i < TOYVIRT_MAX_VCPUS; i++)
		if (con_vcpu[i].len > 0)
			console_vcpu_byte(i, '\n');
	pthread_mutex_unlock(&out_lock);
}

/* ------------------------------------------------------------------------
 * Flood guard (shared by the VCPU threads, under flood_lock).
 * ------------------------------------------------------------------------ */

enum { F_PORT, F_MMIO, F_LAPIC, F_MSR_RD, F_MSR_WR, F_CONSOLE_IN };

#define FLOOD_KEYS	64	/* distinct things remembered */
#define FLOOD_PER_KEY	3	/* reports per distinct thing */
#define FLOOD_OTHERS	12	/* reports for everything past the table */

static struct {
	int kind;
	uint64_t key;
	unsigned count;
} flood[FLOOD_KEYS];
static unsigned flood_used, flood_others;
static pthread_mutex_t flood_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Returns false when the report must be suppressed; otherwise *note is set
 * to the remark for the final report allowed (or NULL).
 */
static bool
flood_ok(int kind, uint64_t key, const char **note)
{
	unsigned i;

	for (i = 0; i < flood_used; i++)
		if (flood[i].kind == kind && flood[i].key == key)
			break;
	if (i == flood_used) {
		if (flood_used == FLOOD_KEYS) {
			if (flood_others >= FLOOD_OTHERS)
				return false;
			if (++flood_others == FLOOD_OTHERS)
				*note = " (further reports of other "
				    "devices suppressed)";
			return true;
		}
		flood[i].kind = kind;
		flood[i].key = key;
		flood[i].count = 0;
		flood_used++;
	}
	if (flood[i].count >= FLOOD_PER_KEY)
		return false;
	if (++flood[i].count == FLOOD_PER_KEY)
		*note = " (further reports suppressed)";
	return true;
}

/* Prints a "[!]" report unless the flood guard says enough. */
static void __attribute__((format(printf, 3, 4)))
report(int kind, uint64_t key, const char *fmt, ...)
{
	const char *note = NULL;
	char buf[160];
	va_list ap;
	bool ok;

	pthread_mutex_lock(&flood_lock);
	ok = flood_ok(kind, key, &note);
	pthread_mutex_unlock(&flood_lock);
	if (!ok)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("%s%s", buf, note != NULL ? note : "");
}

/* ------------------------------------------------------------------------
 * I/O ports: the console on port 123.
 * ------------------------------------------------------------------------ */

void
dev_io(struct nvmm_io *io)
{
	size_t i;

	if (io->port == CONSOLE_PORT && !io->in) {
		unsigned idx = io->vcpu->cpuid - TOYVIRT_VCPU_ID;

		pthread_mutex_lock(&out_lock);
		for (i = 0; i < io->size; i++) {
			if (con_nvcpus > 1 && idx < TOYVIRT_MAX_VCPUS)
				console_vcpu_byte(idx, io->data[i]);
			else
				console_byte(io->data[i]);
		}
		pthread_mutex_unlock(&out_lock);
		return;
	}
	if (io->in)
		memset(io->data, 0xff, io->size);
	if (io->port == CONSOLE_PORT)
		report(F_CONSOLE_IN, 0, "[!] Unexpected IN for the console");
	else
		report(F_PORT, io->port, "[!] Unknown IO device PORT=%u",
		    (unsigned)io->port);
}

/* ------------------------------------------------------------------------
 * MMIO: the LAPIC page, answering the ID register.
 * ------------------------------------------------------------------------ */

/* The 32-bit LAPIC register at a 4-byte aligned offset, as VCPU cpu sees it. */
static uint32_t
lapic_reg(nvmm_cpuid_t cpu, uint64_t off)
{
	if (off == LAPIC_ID_REG)
		return (uint32_t)cpu << 24;
	return 0;
}

void
dev_mem(struct nvmm_mem *mem)
{
	uint64_t gpa = mem->gpa, off;
	bool lapic = false, other = false;
	size_t i;

	/* Byte by byte, so an access straddling the page edge is exact. */
	for (i = 0; i < mem->size; i++) {
		uint64_t a = gpa + i;

		if (a >= GUEST_LAPIC_GPA && a - GUEST_LAPIC_GPA <
		    GUEST_LAPIC_SIZE && a >= gpa) {
			lapic = true;
			off = a - GUEST_LAPIC_GPA;
			if (!mem->write)
				mem->data[i] = (uint8_t)(lapic_reg(
				    mem->vcpu->cpuid, off & ~3ULL)
				    >> (8 * (off & 3)));
		} else {
			other = true;
			if (!mem->write)
				mem->data[i] = 0xff;
		}
	}
	if (other)
		report(F_MMIO, gpa, "[!] Unknown MMIO device GPA=0x%" PRIx64,
		    gpa);
	if (lapic && mem->write)
		report(F_LAPIC, gpa, "[!] Unexpected LAPIC write at 0x%" PRIx64
		    " ignored", gpa);
	else if (lapic && (mem->size != 4 || (gpa & 3) != 0))
		report(F_LAPIC, gpa, "[!] Unexpected LAPIC read size %zu at "
		    "0x%" PRIx64, mem->size, gpa);
}

/* ------------------------------------------------------------------------
 * MSRs: APICBASE.
 * ------------------------------------------------------------------------ */

/* Completes the MSR instruction: optional RDMSR result, RIP = npc. */
static int
msr_complete(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu, bool rd,
    uint64_t val, uint64_t npc, char *err, size_t errlen)
{
	struct nvmm_x64_state *st = vcpu->state;

	if (nvmm_vcpu_getstate(mach, vcpu, NVMM_X64_STATE_GPRS) == -1) {
		snprintf(err, errlen, "nvmm_vcpu_getstate: %s",
		    strerror(errno));
		return -1;
	}
	if (rd) {
		st->gprs[NVMM_X64_GPR_RAX] = val & 0xffffffffULL;
		st->gprs[NVMM_X64_GPR_RDX] = val >> 32;
	}
	st->gprs[NVMM_X64_GPR_RIP] = npc;
	if (nvmm_vcpu_setstate(mach, vcpu, NVMM_X64_STATE_GPRS) == -1) {
		snprintf(err, errlen, "nvmm_vcpu_setstate: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
dev_msr(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu, char *err,
    size_t errlen)
{
	const struct nvmm_x86_exit *ex = vcpu->exit;
	uint64_t apicbase = APICBASE_VALUE;

	if (vcpu->cpuid != TOYVIRT_VCPU_ID)
		apicbase &= ~APICBASE_BSP;
	if (ex->reason == NVMM_VCPU_EXIT_RDMSR) {
		if (ex->u.rdmsr.msr == MSR_APICBASE)
			return msr_complete(mach, vcpu, true, apicbase,
			    ex->u.rdmsr.npc, err, errlen);
		report(F_MSR_RD, ex->u.rdmsr.msr, "[!] Unknown MSR 0x%" PRIx32
		    " read: #GP", ex->u.rdmsr.msr);
	} else {
		if (ex->u.wrmsr.msr == MSR_APICBASE) {
			/* Accepted and ignored: the LAPIC does not move. */
			if (ex->u.wrmsr.val != apicbase)
				report(F_MSR_WR, MSR_APICBASE, "[!] APICBASE "
				    "write 0x%" PRIx64 " ignored",
				    ex->u.wrmsr.val);
			return msr_complete(mach, vcpu, false, 0,
			    ex->u.wrmsr.npc, err, errlen);
		}
		report(F_MSR_WR, ex->u.wrmsr.msr, "[!] Unknown MSR 0x%" PRIx32
		    " write 0x%" PRIx64 ": #GP", ex->u.wrmsr.msr,
		    ex->u.wrmsr.val);
	}
	/* #GP(0) on the instruction itself: RIP stays where it is. */
	if (inject_exception(vcpu, 13, 0) == -1) {
		snprintf(err, errlen, "nvmm_vcpu_inject: %s", strerror(errno));
		return -1;
	}
	return 0;
}
