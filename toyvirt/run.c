/* run.c - toyvirt's VCPU threads: the run loop, exit handling, and the machine control the debugger uses (hold, resume, calls on a VCPU's thread). */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices.h"
#include "inject.h"
#include "run.h"

/*
 * Each VCPU that runs has a thread of its own.  The first VCPU (120) is
 * the one the injector thread sends events to; the others get nothing but
 * the exceptions their own instructions cause, so an HLT there waits until
 * the machine ends.
 *
 * The machine ends at the first VCPU that ends it: a shutdown (triple
 * fault) on any VCPU, an invalid exit on any VCPU, an HLT with interrupts
 * disabled on VCPU 120 (on the others it parks the VCPU, as it parks a
 * real application processor), an error, or the debugger's kill.  The
 * other VCPUs are then stopped (nvmm_vcpu_stop) and their threads end.
 *
 * The debugger.  ctl_lock covers the control fields of struct tv_vcpu,
 * the debug configuration and the stop report.  A VCPU that is told to
 * hold (hold, set by the stub or by a VCPU that reported a stop) is kicked
 * out of nvmm_vcpu_run with nvmm_vcpu_stop and parks in control(), before
 * its next run; while parked it executes the stub's requests (register
 * and memory access) on its own thread, so only that thread ever touches
 * its VCPU.  Resuming gives each VCPU the debug configuration, which it
 * applies with libnvmm's NVMM_VCPU_CONF_DEBUG before it runs again.
 * When a debugger is attached, a VCPU about to kill the machine (invalid
 * exit, dead halt) stops for the debugger first; the machine ends when the
 * debugger resumes it.
 *
 * Lock order: ctl_lock, then the injector's lock, then the output lock.
 */

#define PSL_I		0x200ULL	/* RFLAGS.IF */
#define PSL_RF		0x10000ULL	/* RFLAGS.RF */
#define DR6_BS		0x4000ULL	/* DR6: single step */
#define GDB_SIGTRAP	5
#define GDB_SIGILL	4
#define GDB_SIGSTOP	17

static struct nvmm_machine *r_mach;
static struct tv_vcpu *r_vcpus;
static unsigned r_n;
static struct run_opts r_opts;

static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ctl_cv = PTHREAD_COND_INITIALIZER;
static atomic_bool ended;
static enum run_end end_kind;
static char end_why[256];

static struct mc_debug dbg_cfg;
static uint64_t dbg_gen;
static bool stop_pending;
static struct mc_stop stop_info;

static int notify_pipe[2] = { -1, -1 };
static atomic_int end_signal;

/* ------------------------------------------------------------------------
 * Helpers.
 * ------------------------------------------------------------------------ */

static void
notify(void)
{
	char c = 0;
	ssize_t n;

	if (notify_pipe[1] == -1)
		return;
	n = write(notify_pipe[1], &c, 1);	/* full pipe: already readable */
	(void)n;
}

static uint64_t
guest_rip(struct tv_vcpu *v)
{
	if (nvmm_vcpu_getstate(r_mach, &v->vcpu, NVMM_X64_STATE_GPRS) == -1)
		return UINT64_MAX;
	return v->vcpu.state->gprs[NVMM_X64_GPR_RIP];
}

/* Stops every VCPU but `self` (NULL: all); ctl_lock need not be held. */
static void
kick_others(const struct tv_vcpu *self)
{
	unsigned i;

	for (i = 0; i < r_n; i++)
		if (r_vcpus[i].runs && &r_vcpus[i] != self)
			nvmm_vcpu_stop(&r_vcpus[i].vcpu);
	inject_kick();
}

/* Ends the machine; the first caller's kind and reason count. */
static void
end_machine(struct tv_vcpu *self, enum run_end kind, const char *why)
{
	pthread_mutex_lock(&ctl_lock);
	if (!atomic_load(&ended)) {
		end_kind = kind;
		if (why != NULL && r_n > 1 && self != NULL &&
		    kind == END_DIED)
			snprintf(end_why, sizeof(end_why), "VCPU %u: %s",
			    (unsigned)self->vcpu.cpuid, why);
		else if (why != NULL)
			snprintf(end_why, sizeof(end_why), "%s", why);
		atomic_store(&ended, true);
	}
	pthread_cond_broadcast(&ctl_cv);
	pthread_mutex_unlock(&ctl_lock);
	kick_others(self);
	notify();
}

/*
 * Ends the machine on toyvirt's or the library's error: the reason is
 * what failed and errno's text, printed by main alone.
 */
static void __attribute__((format(printf, 2, 3)))
fail_machine(struct tv_vcpu *self, const char *fmt, ...)
{
	char what[160], why[224];
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(why, sizeof(why), "%s: %s", what, strerror(e));
	end_machine(self, END_ERROR, why);
}

/* A VCPU stops for the debugger; every other VCPU is told to hold. */
static void
report_stop(struct tv_vcpu *v, enum stop_kind kind, int sig, int slot,
    uint64_t addr, int rw)
{
	unsigned i;

	v->stepping = false;
	pthread_mutex_lock(&ctl_lock);
	if (!stop_pending) {
		stop_pending = true;
		stop_info.kind = kind;
		stop_info.idx = v->idx;
		stop_info.sig = sig;
		stop_info.slot = slot;
		stop_info.addr = addr;
		stop_info.watch_rw = rw;
	}
	for (i = 0; i < r_n; i++)
		atomic_store(&r_vcpus[i].hold, true);
	pthread_cond_broadcast(&ctl_cv);
	pthread_mutex_unlock(&ctl_lock);
	inject_pause(true);
	kick_others(v);
	notify();
}

/* ------------------------------------------------------------------------
 * Parking and the debug configuration (VCPU thread).
 * ------------------------------------------------------------------------ */

static int
apply_debug(struct tv_vcpu *v, const struct mc_debug *d, bool step)
{
	struct nvmm_vcpu_conf_debug c;

	if (!r_opts.debug)
		return 0;
	memset(&c, 0, sizeof(c));
	if (d->active) {
		if (d->dr7 & 0xff)	/* an enabled DR0-DR3 */
			c.flags |= NVMM_VCPU_DEBUG_HWBP;
		if (d->nswbp > 0 && !d->swbp_hlt)
			c.flags |= NVMM_VCPU_DEBUG_SWBP;
		if (step)
			c.flags |= NVMM_VCPU_DEBUG_STEP | NVMM_VCPU_DEBUG_NOIRQ;
		memcpy(c.dr, d->dr, sizeof(c.dr));
		c.dr7 = d->dr7;
	}
	if (nvmm_vcpu_configure(r_mach, &v->vcpu, NVMM_VCPU_CONF_DEBUG,
	    &c) == -1) {
		fail_machine(v, "nvmm_vcpu_configure(NVMM_VCPU_CONF_DEBUG) on "
		    "VCPU %u (flags 0x%" PRIx64 ")", (unsigned)v->vcpu.cpuid,
		    c.flags);
		return -1;
	}
	return 0;
}

/*
 * Parks while the VCPU is told to hold, serving the debugger's requests.
 * Returns -1 when the machine ended, else 0 after applying a new debug
 * configuration if there is one.
 */
static int
control(struct tv_vcpu *v)
{
	struct mc_debug d;
	bool need, step;

	pthread_mutex_lock(&ctl_lock);
	for (;;) {
		if (v->req != NULL) {
			int (*fn)(struct tv_vcpu *, void *) = v->req;
			int rv;

			v->req = NULL;
			pthread_mutex_unlock(&ctl_lock);
			rv = fn(v, v->req_arg);
			pthread_mutex_lock(&ctl_lock);
			v->req_rv = rv;
			v->req_done = true;
			pthread_cond_broadcast(&ctl_cv);
			continue;
		}
		if (atomic_load(&ended) || !atomic_load(&v->hold))
			break;
		if (!v->parked) {
			v->parked = true;
			pthread_cond_broadcast(&ctl_cv);
		}
		pthread_cond_wait(&ctl_cv, &ctl_lock);
	}
	v->parked = false;
	if (atomic_load(&ended)) {
		pthread_mutex_unlock(&ctl_lock);
		return -1;
	}
	need = v->dbg_gen != dbg_gen;
	d = dbg_cfg;
	step = v->step;
	v->step = false;
	v->dbg_gen = dbg_gen;
	pthread_mutex_unlock(&ctl_lock);
	if (need) {
		v->dbg = d;
		if (apply_debug(v, &d, step) == -1)
			return -1;
		v->stepping = step;
		if (step) {
			v->step_rip = guest_rip(v);
			v->step_tries = 0;
		}
	}
	return 0;
}

/*
 * This host's KVM sometimes reports a single step before the instruction
 * ran (RIP unchanged, docs/kvm-hosts.md): step again, a few times at most.
 */
static bool
step_did_not_move(struct tv_vcpu *v)
{
	return v->stepping && guest_rip(v) == v->step_rip &&
	    ++v->step_tries < 4;
}

static bool
halt_wake(void *arg)
{
	struct tv_vcpu *v = arg;

	return atomic_load(&ended) || atomic_load(&v->hold);
}

/*
 * A halted VCPU waits: VCPU 120 for the next injected event, the others
 * for the end.  Returns true when it may run again, false when it must
 * look at control() first (it stays halted).
 */
static bool
halt_wait(struct tv_vcpu *v)
{
	if (v->idx == 0)
		return inject_wait_after(v->halt_since, halt_wake, v);
	pthread_mutex_lock(&ctl_lock);
	while (!halt_wake(v))
		pthread_cond_wait(&ctl_cv, &ctl_lock);
	pthread_mutex_unlock(&ctl_lock);
	return false;
}

/* ------------------------------------------------------------------------
 * Exits.
 * ------------------------------------------------------------------------ */

enum handled { H_CONT, H_END, H_STOP };

/*
 * The guest would die on VCPU v.  With a debugger attached it stops first
 * (signal sig); the death comes when the debugger resumes it.
 */
static enum handled
die(struct tv_vcpu *v, int sig, const char *line, const char *why)
{
	if (v->dbg.active && !v->dying) {
		v->dying = true;
		snprintf(v->line, sizeof(v->line), "%s", line);
		snprintf(v->why, sizeof(v->why), "%s", why);
		report_stop(v, STOP_DIED, sig, -1, 0, 0);
		return H_STOP;
	}
	say("%s", line);
	end_machine(v, END_DIED, why);
	return H_END;
}

static bool
is_swbp(const struct tv_vcpu *v, uint64_t rip)
{
	unsigned i;

	for (i = 0; i < v->dbg.nswbp && i < MC_MAX_SWBP; i++)
		if (v->dbg.swbp[i] == rip)
			return true;
	return false;
}

/*
 * Where an int3 does not reach KVM the breakpoints are HLTs: an HLT exit
 * just past one of them is that breakpoint.  RIP goes back to it, as it
 * is at an int3's debug exit, so that the guest runs the original
 * instruction there once the debugger removes the breakpoint.
 */
static enum handled
hlt_break(struct tv_vcpu *v, uint64_t bp)
{
	v->vcpu.state->gprs[NVMM_X64_GPR_RIP] = bp;
	if (nvmm_vcpu_setstate(r_mach, &v->vcpu, NVMM_X64_STATE_GPRS) == -1) {
		fail_machine(v, "nvmm_vcpu_setstate");
		return H_END;
	}
	report_stop(v, STOP_SWBREAK, GDB_SIGTRAP, -1, 0, 0);
	return H_STOP;
}

/* A debug exit: which breakpoint, watchpoint or step it was. */
static enum handled
debug_exit(struct tv_vcpu *v)
{
	const struct nvmm_x86_exit_debug *dx = &v->vcpu.exit->u.dbg;
	uint64_t dr7;
	unsigned i;
	int rw;

	if (!v->dbg.active)
		return H_CONT;		/* stale: the debugger has gone */
	if (dx->exception == 3) {
		report_stop(v, is_swbp(v, guest_rip(v)) ? STOP_SWBREAK :
		    STOP_TRAP, GDB_SIGTRAP, -1, 0, 0);
		return H_STOP;
	}
	dr7 = v->dbg.dr7;
	for (i = 0; i < 4; i++) {
		if (!(dx->dr6 & (1ULL << i)) || !(dr7 & (3ULL << (2 * i))))
			continue;
		rw = (int)((dr7 >> (16 + 4 * i)) & 3);
		if (rw == 0)
			report_stop(v, STOP_HWBREAK, GDB_SIGTRAP, (int)i, 0, 0);
		else
			report_stop(v, STOP_WATCH, GDB_SIGTRAP, (int)i,
			    v->dbg.dr[i], rw);
		return H_STOP;
	}
	if (step_did_not_move(v))
		return H_CONT;
	report_stop(v, (dx->dr6 & DR6_BS) || v->stepping ? STOP_STEP :
	    STOP_TRAP, GDB_SIGTRAP, -1, 0, 0);
	return H_STOP;
}

static enum handled
handle_exit(struct tv_vcpu *v, uint64_t since)
{
	const struct nvmm_x86_exit *ex = v->vcpu.exit;
	char line[192], why[192];
	uint64_t rip;
	int e;

	if (v->idx == 0 && ex->reason != NVMM_VCPU_EXIT_NONE &&
	    ex->reason != NVMM_VCPU_EXIT_STOPPED)
		inject_exit_update(ex);

	switch (ex->reason) {
	case NVMM_VCPU_EXIT_NONE:
	case NVMM_VCPU_EXIT_STOPPED:
	case NVMM_VCPU_EXIT_TPR_CHANGED:
		return H_CONT;
	case NVMM_VCPU_EXIT_IO:
		if (nvmm_assist_io(r_mach, &v->vcpu) == -1) {
			e = errno;
			rip = guest_rip(v);
			errno = e;
			fail_machine(v, "nvmm_assist_io (port %u, rip=0x%"
			    PRIx64 ")", (unsigned)ex->u.io.port, rip);
			return H_END;
		}
		return H_CONT;
	case NVMM_VCPU_EXIT_MEMORY:
		if (nvmm_assist_mem(r_mach, &v->vcpu) == -1) {
			e = errno;
			rip = guest_rip(v);
			errno = e;
			fail_machine(v, "nvmm_assist_mem (gpa 0x%" PRIx64
			    ", rip=0x%" PRIx64 ")", ex->u.mem.gpa, rip);
			return H_END;
		}
		return H_CONT;
	case NVMM_VCPU_EXIT_RDMSR:
	case NVMM_VCPU_EXIT_WRMSR:
		if (dev_msr(r_mach, &v->vcpu, why, sizeof(why)) == -1) {
			end_machine(v, END_ERROR, why);
			return H_END;
		}
		return H_CONT;
	case NVMM_VCPU_EXIT_INT_READY:
	case NVMM_VCPU_EXIT_NMI_READY:
		/* Only VCPU 120 gets events that wait for a window. */
		if (v->idx == 0 && inject_ready(ex->reason ==
		    NVMM_VCPU_EXIT_NMI_READY) == -1) {
			fail_machine(v, "nvmm_vcpu_inject");
			return H_END;
		}
		return H_CONT;
	case NVMM_VCPU_EXIT_MONITOR:
	case NVMM_VCPU_EXIT_MWAIT:
		/* Hidden in CPUID; answer as hardware without it: #UD. */
		if (inject_exception(&v->vcpu, 6, 0) == -1) {
			fail_machine(v, "nvmm_vcpu_inject");
			return H_END;
		}
		return H_CONT;
	case NVMM_VCPU_EXIT_HALTED:
		if (v->dbg.active && v->dbg.swbp_hlt)
			if ((rip = guest_rip(v)) != UINT64_MAX &&
			    is_swbp(v, rip - 1))
				return hlt_break(v, rip - 1);
		if ((ex->exitstate.rflags & PSL_I) || v->idx > 0) {
			/* Wait for an event, as a halted CPU does. */
			v->halted = true;
			v->halt_since = since;
			return H_CONT;
		}
		rip = guest_rip(v);
		snprintf(line, sizeof(line), "[!] Guest halted with interrupts "
		    "disabled at rip=0x%" PRIx64, rip);
		snprintf(why, sizeof(why), "halted with interrupts disabled "
		    "at rip=0x%" PRIx64, rip);
		return die(v, GDB_SIGSTOP, line, why);
	case NVMM_VCPU_EXIT_SHUTDOWN:
		say("[+] Machine received shutdown");
		end_machine(v, END_SHUTDOWN, NULL);
		return H_END;
	case NVMM_VCPU_EXIT_DEBUG:
		return debug_exit(v);
	case NVMM_VCPU_EXIT_INVALID:
		rip = guest_rip(v);
		snprintf(line, sizeof(line), "[!] Invalid exit: rip=0x%" PRIx64
		    " hwcode=0x%" PRIx64, rip, ex->u.inv.hwcode);
		snprintf(why, sizeof(why), "invalid exit (hwcode 0x%" PRIx64
		    ") at rip=0x%" PRIx64, ex->u.inv.hwcode, rip);
		return die(v, GDB_SIGILL, line, why);
	default:
		rip = guest_rip(v);
		snprintf(line, sizeof(line), "[!] Unexpected exit: reason=0x%"
		    PRIx64 " rip=0x%" PRIx64, ex->reason, rip);
		snprintf(why, sizeof(why), "unexpected exit reason 0x%" PRIx64
		    " at rip=0x%" PRIx64, ex->reason, rip);
		return die(v, GDB_SIGILL, line, why);
	}
}

/* Did this exit end the instruction being single-stepped? */
static bool
ends_step(uint64_t reason)
{
	switch (reason) {
	case NVMM_VCPU_EXIT_NONE:
	case NVMM_VCPU_EXIT_STOPPED:
	case NVMM_VCPU_EXIT_TPR_CHANGED:
	case NVMM_VCPU_EXIT_INT_READY:
	case NVMM_VCPU_EXIT_NMI_READY:
		return false;	/* no guest instruction was completed */
	default:
		return true;
	}
}

/* ------------------------------------------------------------------------
 * The VCPU thread.
 * ------------------------------------------------------------------------ */

static void *
vcpu_main(void *arg)
{
	struct tv_vcpu *v = arg;
	enum tr_reason last = TR_NREASONS;
	uint64_t t0, t1 = 0, since, rip;
	enum handled h;
	int e;

	for (;;) {
		if (control(v) == -1)
			break;
		if (v->dying) {
			/* Resumed by the debugger after its death stop. */
			say("%s", v->line);
			end_machine(v, END_DIED, v->why);
			break;
		}
		if (v->halted) {
			if (!halt_wait(v)) {
				if (v->idx == 0 && inject_failed(&e)) {
					errno = e;
					fail_machine(v, "nvmm_vcpu_inject");
					break;
				}
				continue;
			}
			v->halted = false;
		}
		since = inject_count();
		t0 = r_opts.stats ? tr_now() : 0;
		if (last != TR_NREASONS)
			v->stats.vmm_ns[last] += t0 - t1;
		if (nvmm_vcpu_run(r_mach, &v->vcpu) == -1) {
			fail_machine(v, "nvmm_vcpu_run (VCPU %u)",
			    (unsigned)v->vcpu.cpuid);
			break;
		}
		last = tr_classify(v->vcpu.exit);
		if (r_opts.stats) {
			t1 = tr_now();
			v->stats.count[last]++;
			v->stats.run_ns[last] += t1 - t0;
		}
		if (r_opts.trace) {
			rip = guest_rip(v);
			tr_line(v->vcpu.cpuid, v->vcpu.exit, rip);
		}
		h = handle_exit(v, since);
		if (h == H_END)
			break;
		if (h == H_CONT && v->stepping &&
		    ends_step(v->vcpu.exit->reason))
			report_stop(v, STOP_STEP, GDB_SIGTRAP, -1, 0, 0);
		if (v->idx == 0 && inject_failed(&e)) {
			errno = e;
			fail_machine(v, "nvmm_vcpu_inject");
			break;
		}
	}
	if (r_opts.stats && last != TR_NREASONS)
		v->stats.vmm_ns[last] += tr_now() - t1;
	pthread_mutex_lock(&ctl_lock);
	v->done = true;
	pthread_cond_broadcast(&ctl_cv);
	pthread_mutex_unlock(&ctl_lock);
	notify();
	return NULL;
}

enum run_end
run_machine(struct nvmm_machine *mach, struct tv_vcpu *vcpus, unsigned n,
    const struct run_opts *opts, char *why, size_t whylen)
{
	unsigned i;
	int e;

	r_mach = mach;
	r_vcpus = vcpus;
	r_n = n;
	r_opts = *opts;
	if (pipe2(notify_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return END_ERROR;
	}
	for (i = 0; i < n; i++)
		atomic_store(&vcpus[i].hold, opts->debug);
	if (opts->debug)
		inject_pause(true);
	for (i = 0; i < n; i++) {
		if (!vcpus[i].runs)
			continue;
		e = pthread_create(&vcpus[i].thread, NULL, vcpu_main,
		    &vcpus[i]);
		if (e != 0) {
			errno = e;
			fail_machine(NULL, "pthread_create");
			break;
		}
		vcpus[i].started = true;
	}
	for (i = 0; i < n; i++)
		if (vcpus[i].started) {
			pthread_join(vcpus[i].thread, NULL);
			vcpus[i].started = false;
		}
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", end_why);
	return end_kind;
}

/* ------------------------------------------------------------------------
 * Machine control for the debugger stub.
 * ------------------------------------------------------------------------ */

int
mc_notify_fd(void)
{
	return notify_pipe[0];
}

void
mc_drain(void)
{
	char buf[64];

	while (read(notify_pipe[0], buf, sizeof(buf)) > 0)
		;
}

struct nvmm_machine *
mc_machine(void)
{
	return r_mach;
}

void
mc_hold_all(void)
{
	bool kick[TOYVIRT_MAX_VCPUS];
	unsigned i;

	pthread_mutex_lock(&ctl_lock);
	for (i = 0; i < r_n && i < TOYVIRT_MAX_VCPUS; i++) {
		atomic_store(&r_vcpus[i].hold, true);
		/* A parked VCPU needs no kick (it would stay pending). */
		kick[i] = r_vcpus[i].runs && !r_vcpus[i].parked;
	}
	pthread_cond_broadcast(&ctl_cv);
	pthread_mutex_unlock(&ctl_lock);
	inject_pause(true);
	for (i = 0; i < r_n && i < TOYVIRT_MAX_VCPUS; i++)
		if (kick[i])
			nvmm_vcpu_stop(&r_vcpus[i].vcpu);
	inject_kick();
}

bool
mc_wait_held(void)
{
	unsigned i;
	bool all;

	pthread_mutex_lock(&ctl_lock);
	for (;;) {
		all = true;
		for (i = 0; i < r_n; i++) {
			const struct tv_vcpu *v = &r_vcpus[i];

			if (v->runs && !v->done && !v->parked)
				all = false;
		}
		if (all || atomic_load(&ended))
			break;
		pthread_cond_wait(&ctl_cv, &ctl_lock);
	}
	pthread_mutex_unlock(&ctl_lock);
	return !atomic_load(&ended);
}

bool
mc_take_stop(struct mc_stop *st)
{
	bool had;

	pthread_mutex_lock(&ctl_lock);
	had = stop_pending;
	if (had)
		*st = stop_info;
	stop_pending = false;
	pthread_mutex_unlock(&ctl_lock);
	return had;
}

bool
mc_ended(enum run_end *how)
{
	bool e;

	pthread_mutex_lock(&ctl_lock);
	e = atomic_load(&ended);
	if (e && how != NULL)
		*how = end_kind;
	pthread_mutex_unlock(&ctl_lock);
	return e;
}

int
mc_call(unsigned idx, int (*fn)(struct tv_vcpu *, void *), void *arg)
{
	struct tv_vcpu *v;
	int rv;

	if (idx >= r_n || !r_vcpus[idx].runs) {
		errno = ESRCH;
		return -1;
	}
	v = &r_vcpus[idx];
	pthread_mutex_lock(&ctl_lock);
	while (!v->parked && !v->done)
		pthread_cond_wait(&ctl_cv, &ctl_lock);
	if (v->done) {
		pthread_mutex_unlock(&ctl_lock);
		errno = ESRCH;
		return -1;
	}
	v->req = fn;
	v->req_arg = arg;
	v->req_done = false;
	pthread_cond_broadcast(&ctl_cv);
	while (!v->req_done && !v->done)
		pthread_cond_wait(&ctl_cv, &ctl_lock);
	rv = v->req_done ? v->req_rv : -1;
	if (!v->req_done) {
		v->req = NULL;
		errno = ESRCH;
	}
	pthread_mutex_unlock(&ctl_lock);
	return rv;
}

void
mc_resume(int step_idx, const struct mc_debug *dbg)
{
	unsigned i;

	pthread_mutex_lock(&ctl_lock);
	dbg_cfg = *dbg;
	dbg_gen++;
	stop_pending = false;
	for (i = 0; i < r_n; i++) {
		r_vcpus[i].step = (int)i == step_idx;
		if (step_idx < 0 || (int)i == step_idx)
			atomic_store(&r_vcpus[i].hold, false);
	}
	pthread_cond_broadcast(&ctl_cv);
	pthread_mutex_unlock(&ctl_lock);
	if (step_idx < 0)
		inject_pause(false);
	inject_kick();
}

void
mc_kill(void)
{
	end_machine(NULL, END_KILLED, NULL);
}

void
run_signal(int sig)
{
	int none = 0;

	atomic_compare_exchange_strong(&end_signal, &none, sig);
	end_machine(NULL, END_SIGNAL, NULL);
}

int
run_end_signal(void)
{
	return atomic_load(&end_signal);
}
