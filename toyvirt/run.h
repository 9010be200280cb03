/* run.h - toyvirt's VCPU threads: the run loop, exit handling, and the machine control the debugger uses (hold, resume, calls on a VCPU's thread). */

#ifndef _TOYVIRT_RUN_H_
#define _TOYVIRT_RUN_H_

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nvmm.h>

#include "trace.h"

enum run_end {
	END_SHUTDOWN,		/* the guest's end: success */
	END_DIED,		/* the guest died: the reason is kept */
	END_ERROR,		/* toyvirt or library error, already reported */
	END_KILLED,		/* the debugger killed it */
	END_SIGNAL,		/* toyvirt got SIGINT, SIGTERM or SIGHUP */
};

/* Why a VCPU stopped for the debugger. */
enum stop_kind {
	STOP_NONE,
	STOP_STEP,		/* a single step ended */
	STOP_HWBREAK,		/* a hardware breakpoint (DR0-DR3, execute) */
	STOP_SWBREAK,		/* an int3 toyvirt inserted */
	STOP_WATCH,		/* a hardware watchpoint (DR0-DR3, data) */
	STOP_TRAP,		/* another debug exit (a guest's own int3) */
	STOP_DIED,		/* the guest would die here (see run.c) */
};

struct mc_stop {
	enum stop_kind kind;
	unsigned idx;		/* the VCPU */
	int sig;		/* GDB signal number */
	int slot;		/* STOP_HWBREAK, STOP_WATCH: DR0-DR3 index */
	uint64_t addr;		/* STOP_WATCH: the watched address */
	int watch_rw;		/* STOP_WATCH: 1 write, 3 access */
};

/* Debug controls the debugger gives at resume (applied per VCPU). */
#define MC_MAX_SWBP	64
struct mc_debug {
	bool active;		/* a debugger is attached */
	uint64_t dr[4];		/* hardware breakpoint/watchpoint addresses */
	uint64_t dr7;		/* their enables, kinds and lengths */
	unsigned nswbp;		/* int3s inserted in guest memory */
	uint64_t swbp[MC_MAX_SWBP];	/* their guest virtual addresses */
	bool swbp_hlt;		/* they are HLTs (the host refuses int3s) */
};

struct tv_vcpu {
	unsigned idx;			/* 0 for VCPU 120, 1 for 121, ... */
	struct nvmm_vcpu vcpu;
	bool runs;			/* has an entry point and a thread */
	struct tr_stats stats;		/* -s */

	/* The rest belongs to run.c. */
	pthread_t thread;
	bool started;
	atomic_bool hold;		/* the debugger wants it stopped */
	bool parked, done;		/* under the control lock */
	int (*req)(struct tv_vcpu *, void *);
	void *req_arg;
	int req_rv;
	bool req_done;
	uint64_t dbg_gen;		/* last debug configuration applied */
	bool step;			/* single-step at the next resume */
	bool stepping;			/* a step is under way */
	uint64_t step_rip;		/* where it started */
	unsigned step_tries;		/* step reports that did not move */
	bool halted;			/* in HLT: waits for an event */
	uint64_t halt_since;
	struct mc_debug dbg;		/* the debug configuration it applied */
	bool dying;			/* stopped for the debugger on its death */
	char line[192], why[192];	/* then: its "[!]" line and reason */
};

struct run_opts {
	bool trace;			/* -t */
	bool stats;			/* -s */
	bool debug;			/* -g: start held, for the debugger */
};

/*
 * Runs the machine: one thread per VCPU that runs (vcpus[i].runs), all
 * stopped and waiting for the debugger first with opts->debug.  Returns
 * when the machine ended: how in *why (END_DIED) or already reported.
 */
enum run_end run_machine(struct nvmm_machine *mach, struct tv_vcpu *vcpus,
    unsigned n, const struct run_opts *opts, char *why, size_t whylen);

/*
 * Ends the machine because toyvirt got signal sig (called from the thread
 * that waits for signals); the first end counts.
 */
void run_signal(int sig);

/* The signal that ended the machine (END_SIGNAL). */
int run_end_signal(void);

/*
 * Machine control for the debugger stub (its own thread).
 */

/* A descriptor that becomes readable when a VCPU stops for the debugger
   or the machine ends (drain it with mc_drain). */
int mc_notify_fd(void);
void mc_drain(void);

/* Asks every VCPU to stop and pauses the injector. */
void mc_hold_all(void);

/* Waits until every VCPU thread has stopped; false if the machine ended. */
bool mc_wait_held(void);

/* The stop a VCPU reported since the last resume, if any (taken). */
bool mc_take_stop(struct mc_stop *st);

/* Has the machine ended (and how)? */
bool mc_ended(enum run_end *how);

/*
 * Runs fn(vcpu, arg) on VCPU idx's thread while it is stopped; returns
 * fn's value, or -1 with errno ESRCH if the VCPU has no thread any more.
 */
int mc_call(unsigned idx, int (*fn)(struct tv_vcpu *, void *), void *arg);

/*
 * Resumes with the debug controls dbg: all VCPUs (step_idx < 0), or VCPU
 * step_idx alone for one instruction.
 */
void mc_resume(int step_idx, const struct mc_debug *dbg);

/* Ends the machine (the debugger's kill). */
void mc_kill(void);

/* The machine, for the debugger's memory accesses. */
struct nvmm_machine *mc_machine(void);

#endif
