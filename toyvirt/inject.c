/* inject.c - toyvirt's event injection: the injector thread, parked events and the VCPU's event slot. */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "devices.h"
#include "inject.h"

/*
 * Every `interval` milliseconds the injector thread takes the next event of
 * the cycle #GP (exception 13, error 0), NMI (interrupt vector 2), external
 * interrupt 200 (only while the guest's last reported CR8 is below 15),
 * prints its "[+] Inject ..." line and then posts it: an NMI is committed
 * if the last exit said no NMI window was armed, any other event if no
 * interrupt window was armed; otherwise it is parked and re-injected at the
 * next NMI_READY / INT_READY exit.  (toyvirt never arms the interrupt
 * window itself; NVMM arms the NMI window when an NMI is injected and keeps
 * it until the guest's IRET.)
 *
 * Locking.  One mutex, `lock`, covers the flags copied from the last exit,
 * the parked events, the counters and every write to the VCPU's event
 * buffer together with the nvmm_vcpu_inject call that commits it, on both
 * threads.  So toyvirt never has two writers of *vcpu->event, and the
 * buffer is never rewritten between the store and its inject call.  The
 * injector calls nvmm_vcpu_inject while the VCPU thread is inside
 * nvmm_vcpu_run (that is the point of the demo): the lock cannot be held
 * across a run, so the reader on the other side - the library taking the
 * event at its next guest entry - is outside our lock.  That is the
 * library's half of the contract (docs/nvmm-semantics.md 1: inject is callable
 * from another thread during a run; it publishes the event with release
 * semantics and kicks the VCPU so the event is taken at once).  Our part
 * is that after a commit the buffer stays unchanged until the next commit,
 * which is at least one period later, or at an exit of the VCPU thread
 * (which is not inside the run then).
 *
 * Lock order: `lock` may be held while say() takes the output lock; the
 * output lock is never held while taking `lock`.
 */

static struct nvmm_machine *i_mach;
static struct nvmm_vcpu *i_vcpu;
static unsigned i_interval_ms = INJECT_DEFAULT_MS;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;		/* commits and quit; CLOCK_MONOTONIC */
static pthread_t thread;
static bool started, quit;

/* From the last exit (VCPU thread writes, injector reads). */
static uint64_t last_cr8;
static bool can_take_int = true, can_take_nmi = true;

static bool int_parked, nmi_parked;
static struct nvmm_x86_event parked_int, parked_nmi;

static uint64_t commits;
static bool failed;
static int failed_errno;
static bool paused;

/* ------------------------------------------------------------------------
 * Committing and posting (lock held).
 * ------------------------------------------------------------------------ */

static int
commit(const struct nvmm_x86_event *ev)
{
	*i_vcpu->event = *ev;
	if (nvmm_vcpu_inject(i_mach, i_vcpu) == -1)
		return -1;
	commits++;
	pthread_cond_broadcast(&cv);
	return 0;
}

static bool
is_nmi(const struct nvmm_x86_event *ev)
{
	return ev->type == NVMM_VCPU_EVENT_INTR && ev->vector == 2;
}

static int
post(const struct nvmm_x86_event *ev)
{
	if (is_nmi(ev) ? can_take_nmi : can_take_int)
		return commit(ev);
	/* Parked; a later one of the same kind replaces it (NMIs collapse). */
	if (is_nmi(ev)) {
		parked_nmi = *ev;
		nmi_parked = true;
	} else {
		parked_int = *ev;
		int_parked = true;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * The injector thread.
 * ------------------------------------------------------------------------ */

static void
deadline_after(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *
injector(void *arg)
{
	struct nvmm_x86_event ev;
	struct timespec ts;
	unsigned step = 0;

	(void)arg;
	pthread_mutex_lock(&lock);
	while (!quit) {
		while (paused && !quit)
			pthread_cond_wait(&cv, &lock);
		deadline_after(&ts, i_interval_ms);
		while (!quit && !paused && pthread_cond_timedwait(&cv, &lock,
		    &ts) != ETIMEDOUT)
			;
		if (quit)
			break;
		if (paused)
			continue;	/* the period starts again on resume */
		memset(&ev, 0, sizeof(ev));
		switch (step) {
		case 0:
			say("[+] Inject #GP event");
			ev.type = NVMM_VCPU_EVENT_EXCP;
			ev.vector = 13;
			ev.u.excp.error = 0;
			break;
		case 1:
			say("[+] Inject #NMI event");
			ev.type = NVMM_VCPU_EVENT_INTR;
			ev.vector = 2;
			break;
		default:
			ev.type = NVMM_VCPU_EVENT_INTR;
			ev.vector = 200;
			if (last_cr8 < 15)
				say("[+] Inject hardware interrupt event");
			break;
		}
		step = (step + 1) % 3;
		if (ev.vector == 200 && last_cr8 >= 15)
			continue;
		if (post(&ev) == -1) {
			failed = true;
			failed_errno = errno;
			/* Make the VCPU thread notice (it checks on STOPPED). */
			nvmm_vcpu_stop(i_vcpu);
			pthread_cond_broadcast(&cv);
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* ------------------------------------------------------------------------
 * Interface.
 * ------------------------------------------------------------------------ */

void
inject_init(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu,
    unsigned interval_ms)
{
	pthread_condattr_t ca;

	i_mach = mach;
	i_vcpu = vcpu;
	i_interval_ms = interval_ms;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
}

int
inject_start(void)
{
	int e;

	e = pthread_create(&thread, NULL, injector, NULL);
	if (e != 0) {
		errno = e;
		return -1;
	}
	started = true;
	return 0;
}

void
inject_stop(void)
{
	pthread_mutex_lock(&lock);
	quit = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&lock);
	if (started) {
		pthread_join(thread, NULL);
		started = false;
	}
}

void
inject_exit_update(const struct nvmm_x86_exit *exit)
{
	pthread_mutex_lock(&lock);
	last_cr8 = exit->exitstate.cr8;
	can_take_int = !exit->exitstate.int_window_exiting;
	can_take_nmi = !exit->exitstate.nmi_window_exiting;
	pthread_mutex_unlock(&lock);
}

int
inject_ready(bool nmi)
{
	int rv = 0;

	pthread_mutex_lock(&lock);
	/*
	 * The original stopped the VM after this; toyvirt keeps running (a
	 * window opening is no reason to end).  Nothing parked: the exit
	 * came spuriously, which NVMM allows; ignore it.
	 */
	if (nmi && nmi_parked) {
		say("[+] Machine ready to NMI");
		nmi_parked = false;
		rv = commit(&parked_nmi);
	} else if (!nmi && int_parked) {
		say("[+] Machine ready to INT");
		int_parked = false;
		rv = commit(&parked_int);
	}
	pthread_mutex_unlock(&lock);
	return rv;
}

int
inject_exception(struct nvmm_vcpu *vcpu, uint8_t vector, uint64_t error)
{
	struct nvmm_x86_event ev;
	int rv;

	memset(&ev, 0, sizeof(ev));
	ev.type = NVMM_VCPU_EVENT_EXCP;
	ev.vector = vector;
	ev.u.excp.error = error;
	if (vcpu != i_vcpu) {
		/* Another VCPU: no injector writes its event buffer. */
		*vcpu->event = ev;
		return nvmm_vcpu_inject(i_mach, vcpu);
	}
	pthread_mutex_lock(&lock);
	rv = commit(&ev);
	pthread_mutex_unlock(&lock);
	return rv;
}

uint64_t
inject_count(void)
{
	uint64_t n;

	pthread_mutex_lock(&lock);
	n = commits;
	pthread_mutex_unlock(&lock);
	return n;
}

bool
inject_wait_after(uint64_t since, bool (*wake)(void *), void *arg)
{
	bool got;

	pthread_mutex_lock(&lock);
	while (commits == since && !quit && !failed &&
	    (wake == NULL || !wake(arg)))
		pthread_cond_wait(&cv, &lock);
	got = commits != since;
	pthread_mutex_unlock(&lock);
	return got;
}

void
inject_kick(void)
{
	pthread_mutex_lock(&lock);
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&lock);
}

void
inject_pause(bool p)
{
	pthread_mutex_lock(&lock);
	paused = p;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&lock);
}

bool
inject_failed(int *error)
{
	bool f;

	pthread_mutex_lock(&lock);
	f = failed;
	*error = failed_errno;
	pthread_mutex_unlock(&lock);
	return f;
}
