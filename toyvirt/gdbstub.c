/* gdbstub.c - toyvirt's GDB remote stub (-g PORT), the protocol half: packets, commands, sessions, stops and breakpoint bookkeeping, served on 127.0.0.1; the x86 half is gdbstub_x86.c. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices.h"
#include "elf.h"
#include "gdbstub.h"
#include "gdbstub_x86.h"

/*
 * The GDB remote serial protocol, all-stop, one client at a time.  Each
 * VCPU that runs is a gdb thread (thread 1 is VCPU 120).  While gdb looks
 * at the guest every VCPU is stopped (run.c's hold); register and memory
 * requests run on the selected VCPU's own thread (mc_call).
 *
 * Registers (gdbstub_x86.c): the i386:x86-64 'g' layout, rax rbx rcx rdx rsi rdi rbp rsp
 * r8-r15 rip eflags cs ss ds es fs gs, st0-st7 fctrl fstat ftag fiseg
 * fioff foseg fooff fop, xmm0-xmm15 mxcsr, which is what gdb expects
 * without a target description.  A gdb that reads the target description
 * (qXfer:features:read:target.xml) also gets orig_rax (always -1), fs_base,
 * gs_base, and cr0 cr2 cr3 cr4 cr8 efer in a "system" feature.  Writable:
 * the general registers, rip, eflags, the x87/SSE registers, fs_base,
 * gs_base, the control registers and EFER; a segment selector only keeps
 * its value (its hidden descriptor part cannot be derived from it).
 *
 * Memory: guest virtual addresses of the selected VCPU, translated page by
 * page with nvmm_gva_to_gpa and nvmm_gpa_to_hva; a read stops at the first
 * page that does not translate (E14 if that is the first one).
 *
 * Breakpoints: Z0 uses a free debug register, else writes an int3 (the
 * byte is remembered with its guest physical address and put back on z0,
 * detach and disconnect); Z1 uses
 * DR0-DR3; Z2 (write) and Z4 (access) watchpoints of 1, 2, 4 or 8 aligned
 * bytes use DR0-DR3 too; Z3 (read-only) does not exist on x86.  All of it
 * goes through libnvmm's NVMM_VCPU_CONF_DEBUG (run.c); single steps too;
 * the other VCPUs stay stopped during a step, and no event is injected
 * while the machine is stopped or stepping.
 *
 * Every length and address from the client is bounded; a malformed packet
 * gets an error reply, never a crash.
 */

#define PKT_MAX		0x4000		/* our PacketSize */
#define MEM_MAX		((PKT_MAX - 32) / 2)	/* bytes per m/M */
#define GDB_SIGINT	2
#define GDB_SIGTRAP	5

/* ------------------------------------------------------------------------
 * State.
 * ------------------------------------------------------------------------ */

struct swbp {
	uint64_t gva, gpa;
	uint8_t orig;
};

static int lfd = -1;			/* listening socket */
static int cfd = -1;			/* the client */
static int quit_pipe[2] = { -1, -1 };
static pthread_t stub_thread;
static bool stub_started;

static struct tv_vcpu *s_vcpus;
static unsigned s_nthreads;

static bool noack;			/* QStartNoAckMode */
static bool xml_read;			/* the client took target.xml */
static unsigned g_idx;			/* Hg, or the last stop: registers, memory */
static int c_idx = -1;			/* Hc: -1 any */
static struct mc_stop last_stop;
static struct mc_debug dbg;		/* breakpoints for the VCPUs */
static struct swbp swbps[MC_MAX_SWBP];
static uint32_t s_limits;		/* GDB_LIM_*: what the host refuses */

static uint8_t inbuf[4096];
static size_t inlen, inpos;
static char pkt[PKT_MAX + 1];		/* the packet being handled */
static char out[2 * PKT_MAX + 8];	/* the reply being built */
static size_t outlen;
static char last_reply[2 * PKT_MAX + 8];
static size_t last_reply_len;


/* ------------------------------------------------------------------------
 * Registers (on the VCPU's thread).
 * ------------------------------------------------------------------------ */

struct regs_req {
	struct nvmm_x64_state st;
	uint64_t flags;			/* write: the groups to set */
};

static int
fn_regs_get(struct tv_vcpu *v, void *arg)
{
	struct regs_req *q = arg;

	if (nvmm_vcpu_getstate(mc_machine(), &v->vcpu, NVMM_X64_STATE_ALL) ==
	    -1)
		return -1;
	memcpy(&q->st, v->vcpu.state, sizeof(q->st));
	return 0;
}

static int
fn_regs_set(struct tv_vcpu *v, void *arg)
{
	struct regs_req *q = arg;
	struct nvmm_x64_state *st = v->vcpu.state;

	if (q->flags == 0)
		return 0;
	if (nvmm_vcpu_getstate(mc_machine(), &v->vcpu, NVMM_X64_STATE_ALL) ==
	    -1)
		return -1;
	if (q->flags & NVMM_X64_STATE_GPRS)
		memcpy(st->gprs, q->st.gprs, sizeof(st->gprs));
	if (q->flags & NVMM_X64_STATE_SEGS)
		memcpy(st->segs, q->st.segs, sizeof(st->segs));
	if (q->flags & NVMM_X64_STATE_CRS)
		memcpy(st->crs, q->st.crs, sizeof(st->crs));
	if (q->flags & NVMM_X64_STATE_MSRS)
		memcpy(st->msrs, q->st.msrs, sizeof(st->msrs));
	if (q->flags & NVMM_X64_STATE_FPU)
		memcpy(&st->fpu, &q->st.fpu, sizeof(st->fpu));
	return nvmm_vcpu_setstate(mc_machine(), &v->vcpu, q->flags);
}

/* ------------------------------------------------------------------------
 * Memory (on the VCPU's thread: the page walk uses its registers).
 * ------------------------------------------------------------------------ */

struct mem_req {
	uint64_t gva;
	size_t len;
	uint8_t *buf;
	bool write;
	size_t done;			/* bytes transferred */
	uint64_t gpa0;			/* guest physical address of byte 0 */
};

static int
fn_mem(struct tv_vcpu *v, void *arg)
{
	struct mem_req *q = arg;
	struct nvmm_machine *m = mc_machine();
	nvmm_prot_t prot;
	uint64_t gva, gpa, chunk;
	uintptr_t hva;

	q->done = 0;
	while (q->done < q->len) {
		gva = q->gva + q->done;
		if (nvmm_gva_to_gpa(m, &v->vcpu, gva, &gpa, &prot) == -1 ||
		    nvmm_gpa_to_hva(m, gpa, &hva, &prot) == -1)
			break;
		if (q->done == 0)
			q->gpa0 = gpa;
		/* Within one guest page, in both address spaces. */
		chunk = GUEST_PAGE_SIZE - (gva & (GUEST_PAGE_SIZE - 1));
		if (chunk > GUEST_PAGE_SIZE - (gpa & (GUEST_PAGE_SIZE - 1)))
			chunk = GUEST_PAGE_SIZE - (gpa & (GUEST_PAGE_SIZE - 1));
		if (chunk > q->len - q->done)
			chunk = q->len - q->done;
		if (q->write)
			memcpy((void *)hva, q->buf + q->done, (size_t)chunk);
		else
			memcpy(q->buf + q->done, (const void *)hva,
			    (size_t)chunk);
		q->done += (size_t)chunk;
	}
	return 0;
}

/* One byte at a guest physical address (breakpoint removal). */
static int
phys_byte(uint64_t gpa, uint8_t *b, bool write)
{
	nvmm_prot_t prot;
	uintptr_t hva;

	if (nvmm_gpa_to_hva(mc_machine(), gpa, &hva, &prot) == -1)
		return -1;
	if (write)
		*(volatile uint8_t *)hva = *b;
	else
		*b = *(volatile uint8_t *)hva;
	return 0;
}

static size_t
mem_access(uint64_t gva, uint8_t *buf, size_t len, bool write, uint64_t *gpa)
{
	struct mem_req q;

	memset(&q, 0, sizeof(q));
	q.gva = gva;
	q.len = len;
	q.buf = buf;
	q.write = write;
	if (mc_call(g_idx, fn_mem, &q) == -1)
		return 0;
	if (gpa != NULL)
		*gpa = q.gpa0;
	return q.done;
}

/* ------------------------------------------------------------------------
 * Packets.
 * ------------------------------------------------------------------------ */

static const char hexd[] = "0123456789abcdef";

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A hex number of 1 to 16 digits at *p; advances *p. */
static bool
parse_hex(const char **p, uint64_t *v)
{
	int n = 0, d;

	*v = 0;
	while ((d = hexval((unsigned char)**p)) >= 0) {
		if (++n > 16)
			return false;
		*v = *v << 4 | (uint64_t)d;
		(*p)++;
	}
	return n > 0;
}

/* Decodes 2*len hex digits at s into b; false if malformed. */
static bool
unhex(const char *s, size_t slen, uint8_t *b, size_t len)
{
	size_t i;
	int hi, lo;

	if (slen != 2 * len)
		return false;
	for (i = 0; i < len; i++) {
		hi = hexval((unsigned char)s[2 * i]);
		lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static void
out_reset(void)
{
	outlen = 0;
}

static void __attribute__((format(printf, 1, 2)))
out_fmt(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + outlen, sizeof(out) - outlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		outlen += (size_t)n < sizeof(out) - outlen ? (size_t)n :
		    sizeof(out) - outlen - 1;
}

static void
out_hex(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n && outlen + 2 < sizeof(out); i++) {
		out[outlen++] = hexd[b[i] >> 4];
		out[outlen++] = hexd[b[i] & 15];
	}
}

static void
out_bytes(const char *b, size_t n)
{
	if (n > sizeof(out) - outlen)
		n = sizeof(out) - outlen;
	memcpy(out + outlen, b, n);
	outlen += n;
}

static bool
send_all(const char *b, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(cfd, b, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		b += w;
		n -= (size_t)w;
	}
	return true;
}

/* Sends out[0..outlen) as a packet, escaping what must be. */
static bool
send_reply(void)
{
	size_t i, n = 0;
	uint8_t cs = 0;
	char c;

	last_reply[n++] = '$';
	for (i = 0; i < outlen && n + 6 < sizeof(last_reply); i++) {
		c = out[i];
		if (c == '$' || c == '#' || c == '}' || c == '*') {
			last_reply[n++] = '}';
			cs += '}';
			c ^= 0x20;
		}
		last_reply[n++] = c;
		cs += (uint8_t)c;
	}
	last_reply[n++] = '#';
	last_reply[n++] = hexd[cs >> 4];
	last_reply[n++] = hexd[cs & 15];
	last_reply_len = n;
	return send_all(last_reply, n);
}

static bool
reply(const char *s)
{
	out_reset();
	out_fmt("%s", s);
	return send_reply();
}

enum { IN_BYTE = 1, IN_NOTIFY = 0, IN_EOF = -1 };

/* Waits for a client byte; IN_NOTIFY when the machine reported something. */
static int
wait_input(void)
{
	struct pollfd p[3];
	ssize_t n;

	if (inpos < inlen)
		return IN_BYTE;
	for (;;) {
		p[0].fd = cfd;
		p[0].events = POLLIN;
		p[1].fd = quit_pipe[0];
		p[1].events = POLLIN;
		p[2].fd = mc_notify_fd();
		p[2].events = POLLIN;
		if (poll(p, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			return IN_EOF;
		}
		/* The machine's news first: at its end, quit follows. */
		if (p[2].revents & POLLIN) {
			mc_drain();
			return IN_NOTIFY;
		}
		if (p[1].revents)
			return IN_EOF;
		if (p[0].revents) {
			n = read(cfd, inbuf, sizeof(inbuf));
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				return IN_EOF;
			inlen = (size_t)n;
			inpos = 0;
			return IN_BYTE;
		}
	}
}

enum { PK_OK = 0, PK_EOF = -1, PK_INTR = -2, PK_NOTIFY = -3 };

/*
 * Reads one packet into pkt (NUL-terminated, unescaped later by the X
 * handler) and acknowledges it.  Returns its length or a PK_* code.
 */
static ssize_t
get_packet(void)
{
	enum { S_IDLE, S_DATA, S_CS1, S_CS2 } s = S_IDLE;
	size_t len = 0;
	bool overflow = false;
	uint8_t cs = 0, want = 0;
	int r, c;

	for (;;) {
		r = wait_input();
		if (r == IN_EOF)
			return PK_EOF;
		if (r == IN_NOTIFY) {
			if (s == S_IDLE)
				return PK_NOTIFY;
			continue;
		}
		c = inbuf[inpos++];
		switch (s) {
		case S_IDLE:
			if (c == 0x03)
				return PK_INTR;
			if (c == '-' && !noack && last_reply_len > 0)
				send_all(last_reply, last_reply_len);
			if (c == '$') {
				s = S_DATA;
				len = 0;
				cs = 0;
				overflow = false;
			}
			break;
		case S_DATA:
			if (c == '#') {
				s = S_CS1;
				break;
			}
			cs += (uint8_t)c;
			if (len < PKT_MAX)
				pkt[len++] = (char)c;
			else
				overflow = true;
			break;
		case S_CS1:
			if (hexval(c) < 0) {
				s = S_IDLE;
				break;
			}
			want = (uint8_t)(hexval(c) << 4);
			s = S_CS2;
			break;
		case S_CS2:
			s = S_IDLE;
			if (hexval(c) < 0)
				break;
			want |= (uint8_t)hexval(c);
			if (!noack && want != cs) {
				send_all("-", 1);
				break;
			}
			if (!noack && !send_all("+", 1))
				return PK_EOF;
			pkt[len] = '\0';
			if (overflow) {
				reply("E01");
				break;
			}
			return (ssize_t)len;
		}
	}
}

/* ------------------------------------------------------------------------
 * Breakpoints.
 * ------------------------------------------------------------------------ */

/*
 * On a host whose guest debugging stops at CPL3, or whose breakpoints are
 * HLTs (GDB_LIM_INT3; at CPL3 an HLT is the guest's #GP): is addr in a
 * user page (paging on)?  Then a breakpoint there would never fire, or
 * hand the guest an exception: it is refused.
 */
static bool
refused_user(uint64_t addr, const char *what)
{
	struct probe_req q;

	if (!(s_limits & (GDB_LIM_CPL3 | GDB_LIM_INT3)))
		return false;
	memset(&q, 0, sizeof(q));
	q.gva = addr;
	if (mc_call(g_idx, gx_probe, &q) == -1 || !q.paging || !q.mapped ||
	    !(q.prot & NVMM_PROT_USER))
		return false;
	if (s_limits & GDB_LIM_CPL3)
		say("[!] GDB: %s at 0x%" PRIx64 " refused: it is in a user "
		    "page, and this host's KVM cannot debug guest CPL3 code",
		    what, addr);
	else
		say("[!] GDB: %s at 0x%" PRIx64 " refused: it is in a user "
		    "page, and this host's breakpoints are HLTs, which stop "
		    "CPL0 code only", what, addr);
	return true;
}

static int
swbp_find(uint64_t gva)
{
	unsigned i;

	for (i = 0; i < dbg.nswbp; i++)
		if (swbps[i].gva == gva)
			return (int)i;
	return -1;
}

static const char *
swbp_insert(uint64_t gva)
{
	/* An HLT where an int3 would not reach KVM: it exits at CPL0. */
	uint8_t orig, cc = (s_limits & GDB_LIM_INT3) ? 0xf4 : 0xcc;
	uint64_t gpa;

	if (dbg.nswbp >= MC_MAX_SWBP)
		return "E28";		/* ENOSPC */
	if (mem_access(gva, &orig, 1, false, &gpa) != 1)
		return "E14";
	if (phys_byte(gpa, &cc, true) == -1)
		return "E14";
	swbps[dbg.nswbp].gva = gva;
	swbps[dbg.nswbp].gpa = gpa;
	swbps[dbg.nswbp].orig = orig;
	dbg.swbp[dbg.nswbp] = gva;
	dbg.nswbp++;
	return "OK";
}

static void
swbp_remove_at(unsigned i)
{
	phys_byte(swbps[i].gpa, &swbps[i].orig, true);
	swbps[i] = swbps[dbg.nswbp - 1];
	dbg.swbp[i] = dbg.swbp[dbg.nswbp - 1];
	dbg.nswbp--;
}

static void
swbp_remove_all(void)
{
	while (dbg.nswbp > 0)
		swbp_remove_at(dbg.nswbp - 1);
}

/*
 * Z0 takes a free debug register first (nothing is written to the
 * guest), an int3 when all four are in use or when debug registers never
 * fire on this host (GDB_LIM_DR; an HLT where an int3 would not reach
 * KVM, GDB_LIM_INT3).  Z1 needs a debug register.
 */
static const char *
breakpoint(const char *p)
{
	bool insert = p[0] == 'Z';
	uint64_t type, addr, kind;
	unsigned rw, lenbits;
	int i;

	p++;
	if (!parse_hex(&p, &type) || *p++ != ',' || !parse_hex(&p, &addr) ||
	    *p++ != ',' || !parse_hex(&p, &kind))
		return "E22";
	switch (type) {
	case 0:
		if (!insert) {
			if ((i = gx_slot_find(0, addr, kind)) >= 0)
				gx_slot_free(&dbg, i);
			else if ((i = swbp_find(addr)) >= 0)
				swbp_remove_at((unsigned)i);
			return "OK";
		}
		if (gx_slot_find(0, addr, kind) >= 0 || swbp_find(addr) >= 0)
			return "OK";
		if (refused_user(addr, "breakpoint"))
			return "E01";
		if (gx_slot_take(&dbg, s_limits, 0, addr, kind, 0, 0) >= 0)
			return "OK";
		return swbp_insert(addr);
	case 1:
		if (!insert) {
			if ((i = gx_slot_find(1, addr, kind)) >= 0)
				gx_slot_free(&dbg, i);
			return "OK";
		}
		if (s_limits & GDB_LIM_DR) {
			say("[!] GDB: hardware breakpoint at 0x%" PRIx64
			    " refused: this host's debug registers never fire",
			    addr);
			return "";
		}
		if (refused_user(addr, "hardware breakpoint"))
			return "E01";
		return gx_slot_take(&dbg, s_limits, 1, addr, kind, 0, 0) >= 0 ? "OK" : "E28";
	case 2:
	case 4:
		if (!insert) {
			if ((i = gx_slot_find((unsigned)type, addr, kind)) >= 0)
				gx_slot_free(&dbg, i);
			return "OK";
		}
		/* Unsupported: gdb falls back to software watchpoints. */
		if (s_limits & GDB_LIM_WATCH)
			return "";
		rw = type == 2 ? 1 : 3;
		switch (kind) {
		case 1: lenbits = 0; break;
		case 2: lenbits = 1; break;
		case 4: lenbits = 3; break;
		case 8: lenbits = 2; break;
		default: return "E22";
		}
		if (addr & (kind - 1))
			return "E22";	/* x86 watches aligned ranges */
		return gx_slot_take(&dbg, s_limits, (unsigned)type, addr, kind, rw, lenbits) >= 0 ?
		    "OK" : "E28";
	default:
		return "";		/* Z3: x86 has no read-only watch */
	}
}

/* ------------------------------------------------------------------------
 * Stops and resuming.
 * ------------------------------------------------------------------------ */

/*
 * A stop reply also makes the stopped thread the one 'g', 'm' and the
 * like act on: gdb assumes so (it sends no Hg for the thread it was just
 * told about).
 */
static bool
send_stop(const struct mc_stop *st)
{
	g_idx = st->idx;
	out_reset();
	out_fmt("T%02xthread:%x;", st->sig & 0xff, st->idx + 1);
	switch (st->kind) {
	case STOP_SWBREAK:
		out_fmt("swbreak:;");
		break;
	case STOP_HWBREAK:
		/* A Z0 in a debug register is still gdb's software one. */
		if (gx_slot_is_z0(st->slot))
			out_fmt("swbreak:;");
		else
			out_fmt("hwbreak:;");
		break;
	case STOP_WATCH:
		out_fmt("%s:%" PRIx64 ";", st->watch_rw == 1 ? "watch" :
		    "awatch", st->addr);
		break;
	default:
		break;
	}
	return send_reply();
}

static bool
send_end(void)
{
	enum run_end how = END_ERROR;
	char buf[8];

	mc_ended(&how);
	if (how == END_KILLED)
		return true;
	if (how == END_SIGNAL) {
		/* toyvirt got SIGINT or SIGTERM (the same numbers in gdb). */
		snprintf(buf, sizeof(buf), "X%02x", run_end_signal() & 0xff);
		return reply(buf);
	}
	return reply(how == END_SHUTDOWN ? "W00" : "W01");
}

enum { RES_STOPPED, RES_ENDED, RES_GONE };

/*
 * Resumes (all VCPUs, or step_idx for one step) and waits for the stop,
 * the end, or gdb's interrupt; replies to gdb.
 */
static int
resume_and_wait(int step_idx)
{
	struct mc_stop st;
	ssize_t r;

	dbg.active = true;
	mc_resume(step_idx, &dbg);
	for (;;) {
		r = get_packet();
		if (r == PK_EOF && mc_ended(NULL)) {
			send_end();		/* toyvirt is ending */
			return RES_ENDED;
		}
		if (r == PK_EOF) {
			mc_hold_all();
			mc_wait_held();
			return RES_GONE;
		}
		if (r >= 0)
			continue;	/* all-stop: nothing else while running */
		if (mc_ended(NULL)) {
			mc_wait_held();
			send_end();
			return RES_ENDED;
		}
		/* A VCPU's stop has already told the others to hold. */
		if (mc_take_stop(&st)) {
			last_stop = st;
		} else if (r == PK_INTR) {
			mc_hold_all();
			last_stop.kind = STOP_NONE;
			last_stop.idx = step_idx >= 0 ? (unsigned)step_idx : g_idx;
			last_stop.sig = GDB_SIGINT;
		} else {
			continue;	/* a late notification: nothing new */
		}
		if (!mc_wait_held()) {
			send_end();
			return RES_ENDED;
		}
		return send_stop(&last_stop) ? RES_STOPPED : RES_GONE;
	}
}

static bool
set_rip(unsigned idx, uint64_t rip)
{
	struct regs_req q;

	memset(&q, 0, sizeof(q));
	if (mc_call(idx, fn_regs_get, &q) == -1)
		return false;
	q.st.gprs[NVMM_X64_GPR_RIP] = rip;
	q.flags = NVMM_X64_STATE_GPRS;
	return mc_call(idx, fn_regs_set, &q) == 0;
}

/* Lets the machine go without the debugger. */
static void
release(void)
{
	swbp_remove_all();
	memset(&dbg, 0, sizeof(dbg));
	gx_slots_reset();
	mc_resume(-1, &dbg);
}

/* May VCPU idx be single-stepped here? */
static bool
step_refused(unsigned idx)
{
	struct probe_req q;

	if (!(s_limits & GDB_LIM_CPL3))
		return false;
	memset(&q, 0, sizeof(q));
	if (mc_call(idx, gx_probe, &q) == -1 || q.cpl != 3)
		return false;
	say("[!] GDB: cannot single-step VCPU %u at CPL3: this host's KVM "
	    "runs guest CPL3 code outside its guest debugging",
	    (unsigned)s_vcpus[idx].vcpu.cpuid);
	return true;
}

/* ------------------------------------------------------------------------
 * Commands.
 * ------------------------------------------------------------------------ */

static bool
valid_thread(uint64_t t)
{
	return t >= 1 && t <= s_nthreads;
}

static void
cmd_read_regs(void)
{
	struct regs_req q;
	uint8_t b[GX_REG_MAX];
	int r, n = gx_nregs(xml_read);

	if (mc_call(g_idx, fn_regs_get, &q) == -1) {
		reply("E01");
		return;
	}
	out_reset();
	for (r = 0; r < n; r++) {
		gx_reg_get(&q.st, r, b);
		out_hex(b, gx_reg_size(r));
	}
	send_reply();
}

static void
cmd_write_regs(const char *p, size_t len)
{
	struct regs_req q;
	uint8_t b[GX_REG_MAX];
	size_t off = 0, sz;
	int r, g, n = gx_nregs(xml_read);

	if (mc_call(g_idx, fn_regs_get, &q) == -1) {
		reply("E01");
		return;
	}
	q.flags = 0;
	for (r = 0; r < n && off < len; r++) {
		sz = gx_reg_size(r);
		if (!unhex(p + off, len - off < 2 * sz ? len - off : 2 * sz, b,
		    sz)) {
			reply("E22");
			return;
		}
		off += 2 * sz;
		g = gx_reg_set(&q.st, r, b);
		if (g == -1) {
			reply("E22");
			return;
		}
		q.flags |= (uint64_t)g;
	}
	reply(mc_call(g_idx, fn_regs_set, &q) == 0 ? "OK" : "E01");
}

static void
cmd_read_reg(const char *p)
{
	struct regs_req q;
	uint64_t r;
	uint8_t b[GX_REG_MAX];

	if (!parse_hex(&p, &r) || *p != '\0' || r >= (uint64_t)gx_nregs(true)) {
		reply("E22");
		return;
	}
	if (mc_call(g_idx, fn_regs_get, &q) == -1) {
		reply("E01");
		return;
	}
	gx_reg_get(&q.st, (int)r, b);
	out_reset();
	out_hex(b, gx_reg_size((int)r));
	send_reply();
}

static void
cmd_write_reg(const char *p)
{
	struct regs_req q;
	uint64_t r;
	uint8_t b[GX_REG_MAX];
	int g;

	if (!parse_hex(&p, &r) || *p++ != '=' || r >= (uint64_t)gx_nregs(true) ||
	    !unhex(p, strlen(p), b, gx_reg_size((int)r))) {
		reply("E22");
		return;
	}
	if (mc_call(g_idx, fn_regs_get, &q) == -1) {
		reply("E01");
		return;
	}
	g = gx_reg_set(&q.st, (int)r, b);
	if (g == -1) {
		reply("E22");
		return;
	}
	q.flags = (uint64_t)g;
	reply(mc_call(g_idx, fn_regs_set, &q) == 0 ? "OK" : "E01");
}

static void
cmd_read_mem(const char *p)
{
	static uint8_t buf[MEM_MAX];
	uint64_t addr, len;
	size_t n;

	if (!parse_hex(&p, &addr) || *p++ != ',' || !parse_hex(&p, &len) ||
	    *p != '\0') {
		reply("E22");
		return;
	}
	if (len > MEM_MAX)
		len = MEM_MAX;	/* a shorter reply is allowed */
	if (len == 0) {
		reply("");
		return;
	}
	n = mem_access(addr, buf, (size_t)len, false, NULL);
	if (n == 0) {
		reply("E14");
		return;
	}
	out_reset();
	out_hex(buf, n);
	send_reply();
}

/* M addr,len:hex and X addr,len:binary (escaped). */
static void
cmd_write_mem(const char *p, size_t plen, bool binary)
{
	static uint8_t buf[PKT_MAX];
	const char *end = p + plen, *data;
	uint64_t addr, len;
	size_t i, n = 0;

	p++;
	if (!parse_hex(&p, &addr) || *p++ != ',' || !parse_hex(&p, &len) ||
	    *p++ != ':' || len > sizeof(buf)) {
		reply("E22");
		return;
	}
	data = p;
	if (binary) {
		for (i = 0; data + i < end && n < len; i++) {
			if (data[i] == '}') {
				if (data + i + 1 >= end)
					break;
				buf[n++] = (uint8_t)(data[++i] ^ 0x20);
			} else
				buf[n++] = (uint8_t)data[i];
		}
		if (n != len || data + i != end) {
			reply("E22");
			return;
		}
	} else if (!unhex(data, (size_t)(end - data), buf, (size_t)len)) {
		reply("E22");
		return;
	}
	if (len == 0) {
		reply("OK");
		return;
	}
	reply(mem_access(addr, buf, (size_t)len, true, NULL) == len ? "OK" :
	    "E14");
}

static void
cmd_xfer(const char *p)
{
	static const char pre[] = "qXfer:features:read:target.xml:";
	uint64_t off, len;
	size_t xml_len;
	const char *xml = gx_xml(&xml_len);

	if (strncmp(p, pre, sizeof(pre) - 1) != 0) {
		reply(strncmp(p, "qXfer:features:read:", 20) == 0 ? "E00" :
		    "");
		return;
	}
	p += sizeof(pre) - 1;
	if (!parse_hex(&p, &off) || *p++ != ',' || !parse_hex(&p, &len) ||
	    *p != '\0') {
		reply("E00");
		return;
	}
	xml_read = true;
	if (len > PKT_MAX - 16)
		len = PKT_MAX - 16;
	out_reset();
	if (off >= xml_len) {
		out_fmt("l");
	} else {
		if (len >= xml_len - off) {
			len = xml_len - off;
			out_fmt("l");
		} else
			out_fmt("m");
		out_bytes(xml + off, (size_t)len);
	}
	send_reply();
}

static void
cmd_query(const char *p)
{
	char info[64];
	uint64_t t;
	unsigned i;

	if (strncmp(p, "qSupported", 10) == 0) {
		out_reset();
		out_fmt("PacketSize=%x;qXfer:features:read+;"
		    "QStartNoAckMode+;swbreak+;hwbreak+", PKT_MAX);
		send_reply();
	} else if (strncmp(p, "qXfer:", 6) == 0) {
		cmd_xfer(p);
	} else if (strcmp(p, "qAttached") == 0 ||
	    strncmp(p, "qAttached:", 10) == 0) {
		reply("1");
	} else if (strcmp(p, "qC") == 0) {
		out_reset();
		out_fmt("QC%x", g_idx + 1);
		send_reply();
	} else if (strcmp(p, "qfThreadInfo") == 0) {
		out_reset();
		out_fmt("m");
		for (i = 0; i < s_nthreads; i++)
			out_fmt("%s%x", i > 0 ? "," : "", i + 1);
		send_reply();
	} else if (strcmp(p, "qsThreadInfo") == 0) {
		reply("l");
	} else if (strncmp(p, "qThreadExtraInfo,", 17) == 0) {
		p += 17;
		if (!parse_hex(&p, &t) || !valid_thread(t)) {
			reply("E22");
			return;
		}
		snprintf(info, sizeof(info), "VCPU %u",
		    (unsigned)s_vcpus[t - 1].vcpu.cpuid);
		out_reset();
		out_hex((const uint8_t *)info, strlen(info));
		send_reply();
	} else if (strncmp(p, "qSymbol:", 8) == 0) {
		reply("OK");
	} else {
		reply("");
	}
}

/*
 * vCont;ACTION[:THREAD]...: the first step action decides which VCPU
 * steps (the others stay stopped, whatever their actions say); without
 * one every VCPU continues.  Signals are ignored, as for C and S.
 */
static bool
cmd_vcont(const char *p)
{
	uint64_t v;
	int step = -2, t, r;

	while (*p == ';') {
		char a = *++p;

		if (a != 'c' && a != 'C' && a != 's' && a != 'S')
			return reply("E22");
		p++;
		if ((a == 'C' || a == 'S') && !parse_hex(&p, &v))
			return reply("E22");
		t = -1;
		if (*p == ':') {
			p++;
			if (strncmp(p, "-1", 2) == 0) {
				p += 2;
			} else if (!parse_hex(&p, &v) ||
			    (v != 0 && !valid_thread(v))) {
				return reply("E22");
			} else if (v != 0)
				t = (int)v - 1;
		}
		if ((a == 's' || a == 'S') && step == -2)
			step = t >= 0 ? t : c_idx >= 0 ? c_idx : (int)g_idx;
	}
	if (*p != '\0')
		return reply("E22");
	if (step >= 0 && step_refused((unsigned)step))
		return reply("E01");
	r = resume_and_wait(step >= 0 ? step : -1);
	if (r == RES_GONE)
		release();
	return r == RES_STOPPED;
}

/* Handles one packet; false when the session is over. */
static bool
dispatch(size_t len)
{
	const char *p = pkt;
	uint64_t v, t;
	int idx, r;

	switch (pkt[0]) {
	case '?':
		return send_stop(&last_stop);
	case 'g':
		if (len != 1)
			return reply("E22");
		cmd_read_regs();
		return true;
	case 'G':
		cmd_write_regs(pkt + 1, len - 1);
		return true;
	case 'p':
		cmd_read_reg(pkt + 1);
		return true;
	case 'P':
		cmd_write_reg(pkt + 1);
		return true;
	case 'm':
		cmd_read_mem(pkt + 1);
		return true;
	case 'M':
	case 'X':
		cmd_write_mem(pkt, len, pkt[0] == 'X');
		return true;
	case 'Z':
	case 'z':
		return reply(breakpoint(pkt));
	case 'H':
		if (len < 3)
			return reply("E22");
		p = pkt + 2;
		if (strcmp(p, "-1") == 0 || strcmp(p, "0") == 0)
			t = 0;
		else if (!parse_hex(&p, &t) || *p != '\0' || !valid_thread(t))
			return reply("E22");
		if (pkt[1] == 'g') {
			if (t != 0)
				g_idx = (unsigned)t - 1;
		} else if (pkt[1] == 'c')
			c_idx = t == 0 ? -1 : (int)t - 1;
		else
			return reply("E22");
		return reply("OK");
	case 'T':
		p = pkt + 1;
		return reply(parse_hex(&p, &t) && valid_thread(t) ? "OK" :
		    "E22");
	case 'c':
	case 's':
	case 'C':
	case 'S':
		idx = c_idx >= 0 ? c_idx : (int)g_idx;
		p = pkt + 1;
		if (pkt[0] == 'C' || pkt[0] == 'S') {
			/* The signal is ignored: nothing delivers it. */
			if (!parse_hex(&p, &v))
				return reply("E22");
			if (*p == ';')
				p++;
		}
		if (*p != '\0') {
			if (!parse_hex(&p, &v) || *p != '\0')
				return reply("E22");
			if (!set_rip((unsigned)idx, v))
				return reply("E01");
		}
		if ((pkt[0] == 's' || pkt[0] == 'S') &&
		    step_refused((unsigned)idx))
			return reply("E01");
		r = resume_and_wait(pkt[0] == 's' || pkt[0] == 'S' ? idx : -1);
		if (r == RES_GONE)
			release();
		return r == RES_STOPPED;
	case 'D':
		reply("OK");
		release();
		return false;
	case 'k':
		mc_kill();
		return false;
	case 'v':
		if (strncmp(pkt, "vKill", 5) == 0) {
			reply("OK");
			mc_kill();
			return false;
		}
		if (strcmp(pkt, "vCont?") == 0)
			return reply("vCont;c;C;s;S");
		if (strncmp(pkt, "vCont;", 6) == 0)
			return cmd_vcont(pkt + 5);
		return reply("");
	case 'q':
		cmd_query(pkt);
		return true;
	case 'Q':
		if (strcmp(pkt, "QStartNoAckMode") == 0) {
			reply("OK");
			noack = true;
			return true;
		}
		return reply("");
	default:
		return reply("");
	}
}

/* ------------------------------------------------------------------------
 * Sessions and the thread.
 * ------------------------------------------------------------------------ */

static void
session(void)
{
	ssize_t len;
	int one = 1;

	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	noack = false;
	xml_read = false;
	inlen = inpos = 0;
	last_reply_len = 0;
	g_idx = 0;
	c_idx = -1;
	memset(&dbg, 0, sizeof(dbg));
	dbg.swbp_hlt = (s_limits & GDB_LIM_INT3) != 0;
	gx_slots_reset();
	mc_hold_all();
	if (!mc_wait_held()) {
		send_end();
		return;
	}
	memset(&last_stop, 0, sizeof(last_stop));
	last_stop.sig = GDB_SIGTRAP;
	say("[+] GDB connected");
	if (s_limits & GDB_LIM_DR)
		say("[+] GDB on this host the debug registers never fire and "
		    "an int3 goes to the guest (libnvmm refuses both): break "
		    "writes an HLT (CPL0 code only), hbreak is refused, watch "
		    "is gdb's own");
	for (;;) {
		len = get_packet();
		if (len == PK_EOF && mc_ended(NULL)) {
			send_end();
			return;
		}
		if (len == PK_EOF) {
			release();
			say("[+] GDB disconnected");
			return;
		}
		if (len == PK_INTR)
			continue;	/* already stopped */
		if (len == PK_NOTIFY) {
			if (mc_ended(NULL)) {
				send_end();
				return;
			}
			continue;
		}
		if (len == 0) {
			reply("");
			continue;
		}
		if (!dispatch((size_t)len)) {
			if (!mc_ended(NULL))
				say("[+] GDB detached");
			return;
		}
	}
}

static void *
stub_main(void *arg)
{
	struct pollfd p[3];

	(void)arg;
	for (;;) {
		if (mc_ended(NULL))
			break;
		p[0].fd = lfd;
		p[0].events = POLLIN;
		p[1].fd = quit_pipe[0];
		p[1].events = POLLIN;
		p[2].fd = mc_notify_fd();
		p[2].events = POLLIN;
		if (poll(p, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[2].revents & POLLIN) {
			mc_drain();
			continue;
		}
		if (!(p[0].revents & POLLIN))
			continue;
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd == -1)
			continue;
		session();
		close(cfd);
		cfd = -1;
	}
	return NULL;
}

int
gdb_listen(unsigned port, unsigned *bound, char *err, size_t errlen)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int one = 1;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 1) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) == -1) {
		snprintf(err, errlen, "127.0.0.1:%u: %s", port,
		    strerror(errno));
		close(lfd);
		lfd = -1;
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return 0;
}

int
gdb_start(struct tv_vcpu *vcpus, unsigned nthreads, uint32_t limits,
    char *err, size_t errlen)
{
	int e;

	s_vcpus = vcpus;
	s_nthreads = nthreads;
	s_limits = limits;
	if (gx_xml_build() == -1) {
		snprintf(err, errlen, "target description: %s",
		    strerror(ENOMEM));
		return -1;
	}
	if (pipe2(quit_pipe, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	e = pthread_create(&stub_thread, NULL, stub_main, NULL);
	if (e != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(e));
		return -1;
	}
	stub_started = true;
	return 0;
}

void
gdb_stop(void)
{
	char c = 0;
	ssize_t n;

	if (stub_started) {
		n = write(quit_pipe[1], &c, 1);
		(void)n;
		pthread_join(stub_thread, NULL);
		stub_started = false;
	}
	if (lfd != -1)
		close(lfd);
	lfd = -1;
	if (quit_pipe[0] != -1) {
		close(quit_pipe[0]);
		close(quit_pipe[1]);
	}
	gx_xml_free();
}
