/* t_stress.c - events and stops from other threads at 1 kHz while the guest runs at CPL0 and at CPL3: none lost, none duplicated, no deadlock. */

/*
 * Usage: t_stress [SECONDS]   (per variant; default 2)
 *
 * Two variants: the guest spins at CPL0, or at CPL3 (entered by IRETQ,
 * events taken through the TSS's RSP0).  In each:
 *
 * - an injector thread, every millisecond, requests one event (#GP with
 *   an error code, #UD, NMI, interrupt 0x40 or 0x41, at random; now and
 *   then a burst of three) and kicks the VCPU with nvmm_vcpu_stop; now
 *   and then it only stops it;
 * - a stopper thread calls nvmm_vcpu_stop at random times too;
 * - the VCPU thread injects as a correct NVMM client does (docs/nvmm-semantics.md
 *   6, QEMU's protocol): one event per run; an exception unless an
 *   event is pending; an NMI only when no NMI window is armed (no NMI is in
 *   progress); an interrupt only when the guest can take it (IF set, no
 *   shadow), else it arms the interrupt window and injects at INT_READY.
 *   It injects the next event once the guest has counted the previous
 *   one, so "injected" is exact: no event may be lost or delivered twice.
 *
 * The guest's handlers count each vector in memory, add up the error
 * codes, report with an OUT (so the next injection may find IF clear,
 * inside a handler) and IRETQ.  At the end every count must equal what
 * was injected, and no other vector may have fired.  A watchdog turns a
 * deadlock into a failure.
 *
 * A third variant (CPL3) injects from the other thread while the VCPU
 * runs, as toyvirt does (exceptions and NMIs only: an external interrupt
 * needs the VCPU thread's view of IF), one event at a time.  Before the
 * threads start, early_stop_exitstate() checks that a run stopped before
 * entering the guest reports the state the client set (README).
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmtest.h"

extern const char st_start[], st_end[], st_stubs[], st_cpl0_loop[],
    st_to_cpl3[], st_cpl3_loop[];

#define GVA(l)		((uint64_t)((l) - st_start) + VMT_CODE)
#define ST_CNT		0x100000ULL
#define ST_ERRSUM	(ST_CNT + 0x800)
#define ST_PROGRESS	(ST_CNT + 0x808)
#define TSS_GPA		0x120000ULL
#define RSP0		0x180000ULL	/* CPL0 stack for events at CPL3 */
#define KSTACK		0x160000ULL	/* CPL0 loop's stack */
#define USTACK		0x170000ULL	/* CPL3 stack */

/* The kinds of events and their vectors. */
enum { K_GP, K_UD, K_NMI, K_INT40, K_INT41, NKIND };
static const uint8_t kvec[NKIND] = { 13, 6, 2, 0x40, 0x41 };
static const char *const kname[NKIND] = { "#GP", "#UD", "NMI", "int 0x40",
    "int 0x41" };

static struct vmt t;
static struct nvmm_x86_exit *x;

/* Shared with the threads (atomics only). */
static atomic_ulong requested[NKIND];
static atomic_ulong stop_calls;
static atomic_int running;		/* 1 while requests may come */
static atomic_int kicking;		/* 1 while the kicker threads run */

/* The VCPU thread's own bookkeeping. */
static unsigned long injected[NKIND], stopped_exits, io_exits,
    int_ready, nmi_ready, windows_armed, windows_dropped, lost;
static uint64_t errsum_injected;

/* -------------------------------------------------------------------------
 * Watchdog.
 * ------------------------------------------------------------------------- */

static const char *volatile phase = "setup";

static void
on_alarm(int sig)
{
	static const char msg[] = "t_stress: DEADLOCK or hang: no progress "
	    "within the watchdog time in: ";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	(void)!write(2, phase, strlen(phase));
	(void)!write(2, "\n", 1);
	_exit(1);
}

/* -------------------------------------------------------------------------
 * Guest setup: GDT with user segments and a TSS, IDT, stacks.
 * ------------------------------------------------------------------------- */

static void
setup_guest(bool cpl3)
{
	struct nvmm_x64_state *st = t.vcpu.state;
	uint64_t *gdt = (uint64_t *)(t.ram + VMT_GDT);
	uint8_t *idt = t.ram + VMT_IDT, *tss = t.ram + TSS_GPA;
	uint64_t stub, rsp0 = RSP0;
	int v;

	vmt_setup_long(&t, cpl3 ? GVA(st_to_cpl3) : GVA(st_cpl0_loop));
	memset(t.ram + ST_CNT, 0, 0x1000);
	/* 0x18: 64-bit TSS (16 bytes); 0x28: user data; 0x30: user code. */
	gdt[3] = 0x67 | (TSS_GPA & 0xffffff) << 16 | 0x89ULL << 40 |
	    ((TSS_GPA >> 24) & 0xff) << 56;
	gdt[4] = TSS_GPA >> 32;
	gdt[5] = 0x00cff3000000ffffULL;
	gdt[6] = 0x00affb000000ffffULL;
	memset(tss, 0, 0x68);
	memcpy(tss + 4, &rsp0, 8);
	tss[0x66] = 0x68;			/* no I/O bitmap */
	for (v = 0; v < 256; v++) {
		stub = GVA(st_stubs) + 16 * (uint64_t)v;
		memset(idt + 16 * v, 0, 16);
		idt[16 * v + 0] = stub & 0xff;
		idt[16 * v + 1] = (stub >> 8) & 0xff;
		idt[16 * v + 2] = 0x08;
		idt[16 * v + 5] = 0x8e;		/* P, DPL0, interrupt gate */
		idt[16 * v + 6] = (stub >> 16) & 0xff;
		idt[16 * v + 7] = (stub >> 24) & 0xff;
	}

	if (nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_ALL) == -1) {
		perror("getstate");
		exit(1);
	}
	st->segs[NVMM_X64_SEG_GDT].limit = 7 * 8 - 1;
	st->segs[NVMM_X64_SEG_IDT].limit = 4095;
	memset(&st->segs[NVMM_X64_SEG_TR], 0, sizeof(st->segs[0]));
	st->segs[NVMM_X64_SEG_TR].selector = 0x18;
	st->segs[NVMM_X64_SEG_TR].base = TSS_GPA;
	st->segs[NVMM_X64_SEG_TR].limit = 0x67;
	st->segs[NVMM_X64_SEG_TR].attrib.type = 11;	/* busy 64-bit TSS */
	st->segs[NVMM_X64_SEG_TR].attrib.p = 1;
	st->gprs[NVMM_X64_GPR_RSP] = KSTACK;
	st->gprs[NVMM_X64_GPR_RBX] = USTACK;
	if (nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_ALL) == -1) {
		perror("setstate");
		exit(1);
	}
}

static volatile uint64_t *
counter(int vec)
{
	return (volatile uint64_t *)(t.ram + ST_CNT + 8 * (uint64_t)vec);
}

static uint64_t
progress(void)
{
	return *(volatile uint64_t *)(t.ram + ST_PROGRESS);
}

/* -------------------------------------------------------------------------
 * The other threads.
 * ------------------------------------------------------------------------- */

static unsigned
rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

static void
sleep_until(struct timespec *ts, long ns)
{
	ts->tv_nsec += ns;
	while (ts->tv_nsec >= 1000000000L) {
		ts->tv_nsec -= 1000000000L;
		ts->tv_sec++;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ts, NULL) ==
	    EINTR)
		;
}

static void
stop_vcpu(void)
{
	atomic_fetch_add(&stop_calls, 1);
	nvmm_vcpu_stop(&t.vcpu);
}

/*
 * 1 kHz: one event request and a kick; one tick in five only stops; one
 * in ten requests a burst of three (so that events wait for windows and
 * nest in handlers).
 */
static void *
injector(void *arg)
{
	struct timespec ts;
	unsigned seed = 12345, r, n, i;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	while (atomic_load(&kicking)) {
		sleep_until(&ts, 1000000L);
		r = rnd(&seed);
		n = r % 10 == 1 ? 3 : (r % 5 != 0);
		for (i = 0; i < n && atomic_load(&running); i++)
			atomic_fetch_add(&requested[rnd(&seed) % NKIND], 1);
		stop_vcpu();
	}
	return NULL;
}

/* Stops at random times, 0 to 3 ms apart. */
static void *
stopper(void *arg)
{
	struct timespec ts;
	unsigned seed = 777;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	while (atomic_load(&kicking)) {
		sleep_until(&ts, (long)(rnd(&seed) % 3000) * 1000L);
		stop_vcpu();
	}
	return NULL;
}

/*
 * The third variant, toyvirt's way: this thread calls nvmm_vcpu_inject
 * itself while the VCPU thread is inside nvmm_vcpu_run (the library kicks
 * it).  Only events a guest can take at any time (#GP, #UD, and NMIs,
 * which KVM holds while one is in progress); the next one once the guest
 * has counted the previous one.
 */
static atomic_int direct_drained;
static unsigned long direct_lost;

static void inject(int);
static volatile uint64_t *counter(int);

static void *
direct_injector(void *arg)
{
	static const int kinds[] = { K_GP, K_UD, K_NMI };
	struct timespec ts, t0;
	unsigned seed = 4242;
	int want = -1;
	double waited = 0;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts;
	while (atomic_load(&kicking)) {
		sleep_until(&ts, 1000000L);
		if (want >= 0 && *counter(kvec[want]) == injected[want])
			want = -1;
		if (want >= 0) {
			waited = (double)(ts.tv_sec - t0.tv_sec) +
			    (ts.tv_nsec - t0.tv_nsec) / 1e9;
			if (waited > 10.0) {
				fprintf(stderr, "direct: %s number %lu never "
				    "delivered\n", kname[want], injected[want]);
				direct_lost++;
				want = -1;
			}
			continue;
		}
		if (!atomic_load(&running)) {
			atomic_store(&direct_drained, 1);
			continue;
		}
		want = kinds[rnd(&seed) % 3];
		inject(want);
		t0 = ts;
	}
	return NULL;
}

/* -------------------------------------------------------------------------
 * The VCPU thread: a correct client's run loop.
 * ------------------------------------------------------------------------- */

static void
inject(int k)
{
	struct nvmm_x86_event *e = t.vcpu.event;

	memset(e, 0, sizeof(*e));
	if (k == K_GP || k == K_UD) {
		e->type = NVMM_VCPU_EVENT_EXCP;
		if (k == K_GP) {
			e->u.excp.error = (injected[k] * 8 + 8) & 0xfff8;
			errsum_injected += e->u.excp.error;
		}
	} else {
		e->type = NVMM_VCPU_EVENT_INTR;
	}
	e->vector = kvec[k];
	if (nvmm_vcpu_inject(&t.mach, &t.vcpu) == -1) {
		perror("nvmm_vcpu_inject");
		exit(1);
	}
	injected[k]++;
}

static void
arm_int_window(void)
{
	if (nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_INTR) == -1) {
		perror("getstate");
		exit(1);
	}
	t.vcpu.state->intr.int_window_exiting = 1;
	if (nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_INTR) == -1) {
		perror("setstate");
		exit(1);
	}
	windows_armed++;
}

/* The next kind to inject, round robin over those with requests. */
static int
next_kind(int *rr)
{
	int i, k;

	for (i = 0; i < NKIND; i++) {
		k = (*rr + i) % NKIND;
		if (atomic_load(&requested[k]) > injected[k]) {
			*rr = (k + 1) % NKIND;
			return k;
		}
	}
	return -1;
}

/* The handlers' reports: nothing to do. */
static void
io_cb(struct nvmm_io *io)
{
	if (io->in)
		memset(io->data, 0, io->size);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
variant(bool cpl3, double secs)
{
	pthread_t th_inj, th_stop;
	int rr = 0, want = -1, k, i;
	unsigned long total = 0, nreq = 0;
	uint64_t p0;
	double t_end, t_wait = 0, t0;
	bool draining = false, window_armed = false;
	unsigned long cpl3_seen = 0;
	char ph[64];

	setup_guest(cpl3);
	for (k = 0; k < NKIND; k++) {
		atomic_store(&requested[k], 0);
		injected[k] = 0;
	}
	atomic_store(&stop_calls, 0);
	stopped_exits = io_exits = int_ready = nmi_ready = windows_armed = 0;
	windows_dropped = 0;
	lost = 0;
	errsum_injected = 0;
	snprintf(ph, sizeof(ph), "%s variant", cpl3 ? "CPL3" : "CPL0");
	phase = ph;
	alarm((unsigned)secs + 60);

	t0 = now();
	atomic_store(&running, 1);
	atomic_store(&kicking, 1);
	pthread_create(&th_inj, NULL, injector, NULL);
	pthread_create(&th_stop, NULL, stopper, NULL);
	t_end = t0 + secs;
	p0 = progress();

	for (;;) {
		/* What the guest has counted for the event in flight. */
		if (want >= 0 && *counter(kvec[want]) == injected[want])
			want = -1;
		if (want >= 0 && now() - t_wait > 10.0) {
			fprintf(stderr, "%s: %s number %lu injected 10 s ago "
			    "was never delivered (count %llu)\n", ph,
			    kname[want], injected[want],
			    (unsigned long long)*counter(kvec[want]));
			lost++;
			want = -1;
		}
		if (!draining && now() >= t_end) {
			atomic_store(&running, 0);
			draining = true;
		}
		if (draining && want < 0) {
			for (k = 0; k < NKIND; k++)
				if (atomic_load(&requested[k]) != injected[k])
					break;
			if (k == NKIND)
				break;
		}

		/* One event per run, when the guest can take it. */
		if (want < 0 && (k = next_kind(&rr)) >= 0) {
			switch (k) {
			case K_GP:
			case K_UD:
				if (!x->exitstate.evt_pending) {
					inject(k);
					want = k;
				}
				break;
			case K_NMI:
				if (!x->exitstate.nmi_window_exiting &&
				    !x->exitstate.evt_pending) {
					inject(k);
					want = k;
				}
				break;
			default:
				if ((x->exitstate.rflags & 0x200) &&
				    !x->exitstate.int_shadow &&
				    !x->exitstate.evt_pending &&
				    !x->exitstate.int_window_exiting) {
					inject(k);
					want = k;
				} else if (!x->exitstate.int_window_exiting &&
				    !window_armed) {
					arm_int_window();
					window_armed = true;
				}
				break;
			}
			if (want >= 0) {
				t_wait = now();
			} else {
				rr = k;		/* the same kind next time */
			}
		}

		if (nvmm_vcpu_run(&t.mach, &t.vcpu) == -1) {
			fprintf(stderr, "%s: nvmm_vcpu_run: %s\n", ph,
			    strerror(errno));
			vmt_failures++;
			break;
		}
		total++;
		/*
		 * An armed window ends only with INT_READY (docs/nvmm-semantics.md
		 * 6; HLT cannot happen here).  A STOPPED run may not have
		 * entered the guest (NetBSD then leaves exitstate zero):
		 * its exitstate proves nothing.
		 */
		if (x->reason == NVMM_VCPU_EXIT_STOPPED) {
			if (cpl3 && stopped_exits % 64 == 0) {
				nvmm_vcpu_getstate(&t.mach, &t.vcpu,
				    NVMM_X64_STATE_SEGS);
				cpl3_seen += (t.vcpu.state->segs[
				    NVMM_X64_SEG_CS].selector & 3) == 3;
			}
		} else if (window_armed && !x->exitstate.int_window_exiting &&
		    x->reason != NVMM_VCPU_EXIT_INT_READY) {
			fprintf(stderr, "%s: the interrupt window was disarmed "
			    "by exit %#llx without INT_READY\n", ph,
			    (unsigned long long)x->reason);
			windows_dropped++;
		}
		if (x->reason != NVMM_VCPU_EXIT_STOPPED)
			window_armed = x->exitstate.int_window_exiting;
		switch (x->reason) {
		case NVMM_VCPU_EXIT_NONE:
			break;
		case NVMM_VCPU_EXIT_STOPPED:
			stopped_exits++;
			break;
		case NVMM_VCPU_EXIT_IO:
			io_exits++;
			if (nvmm_assist_io(&t.mach, &t.vcpu) == -1) {
				perror("nvmm_assist_io");
				vmt_failures++;
			}
			break;
		case NVMM_VCPU_EXIT_INT_READY:
			int_ready++;
			break;
		case NVMM_VCPU_EXIT_NMI_READY:
			nmi_ready++;
			break;
		default:
			fprintf(stderr, "%s: unexpected exit %#llx at RIP "
			    "%#llx\n", ph, (unsigned long long)x->reason,
			    (unsigned long long)vmt_gpr(&t,
			    NVMM_X64_GPR_RIP));
			vmt_failures++;
			draining = true;
			atomic_store(&running, 0);
			want = -1;
			for (k = 0; k < NKIND; k++)
				atomic_store(&requested[k], injected[k]);
			break;
		}
		if (vmt_failures > 0 && x->reason != NVMM_VCPU_EXIT_STOPPED &&
		    x->reason != NVMM_VCPU_EXIT_NONE &&
		    x->reason != NVMM_VCPU_EXIT_IO &&
		    x->reason != NVMM_VCPU_EXIT_INT_READY &&
		    x->reason != NVMM_VCPU_EXIT_NMI_READY)
			break;
	}
	atomic_store(&kicking, 0);
	pthread_join(th_inj, NULL);
	pthread_join(th_stop, NULL);
	alarm(0);

	/* Verdict. */
	for (k = 0; k < NKIND; k++) {
		nreq += atomic_load(&requested[k]);
		CHECK(*counter(kvec[k]) == injected[k], "%s %s: injected %lu, "
		    "the guest counted %llu", ph, kname[k], injected[k],
		    (unsigned long long)*counter(kvec[k]));
		CHECK(injected[k] == atomic_load(&requested[k]),
		    "%s %s: requested %lu, injected %lu", ph, kname[k],
		    atomic_load(&requested[k]), injected[k]);
	}
	for (i = 0; i < 256; i++) {
		for (k = 0; k < NKIND && kvec[k] != i; k++)
			;
		if (k == NKIND)
			CHECK(*counter(i) == 0, "%s: vector %d fired %llu "
			    "times", ph, i, (unsigned long long)*counter(i));
	}
	CHECK(*(volatile uint64_t *)(t.ram + ST_ERRSUM) == errsum_injected,
	    "%s: error codes add up to %#llx, injected %#llx", ph,
	    (unsigned long long)*(volatile uint64_t *)(t.ram + ST_ERRSUM),
	    (unsigned long long)errsum_injected);
	CHECK_EQ(lost, 0);
	CHECK_EQ(windows_dropped, 0);
	CHECK(progress() > p0, "%s: the guest loop made no progress", ph);
	CHECK(stopped_exits > 0 && stopped_exits <= atomic_load(&stop_calls),
	    "%s: %lu STOPPED exits for %lu stop calls", ph, stopped_exits,
	    atomic_load(&stop_calls));
	CHECK(io_exits >= nreq, "%s: %lu handler reports for %lu events",
	    ph, io_exits, nreq);
	if (cpl3)
		CHECK(cpl3_seen > 0, "%s: never stopped at CPL3", ph);
	printf("%s: %.1f s: %lu events (", ph, now() - t0, nreq);
	for (k = 0; k < NKIND; k++)
		printf("%s%s %lu", k ? ", " : "", kname[k], injected[k]);
	printf(") injected and delivered exactly once; %lu stop calls, %lu "
	    "STOPPED exits, %lu runs, %lu INT_READY (%lu windows armed), %lu "
	    "NMI_READY; guest loop %llu iterations\n",
	    atomic_load(&stop_calls), stopped_exits, total, int_ready,
	    windows_armed, nmi_ready, (unsigned long long)(progress() - p0));
}

static void
variant_direct(double secs)
{
	pthread_t th_inj, th_stop;
	unsigned long total = 0, nev = 0;
	uint64_t p0;
	double t0, t_end;
	int k;
	const char *ph = "CPL3 variant, injected from another thread";

	setup_guest(true);
	for (k = 0; k < NKIND; k++)
		injected[k] = 0;
	errsum_injected = 0;
	direct_lost = 0;
	stopped_exits = io_exits = 0;
	atomic_store(&stop_calls, 0);
	atomic_store(&direct_drained, 0);
	phase = ph;
	alarm((unsigned)secs + 60);
	t0 = now();
	t_end = t0 + secs;
	p0 = progress();
	atomic_store(&running, 1);
	atomic_store(&kicking, 1);
	pthread_create(&th_inj, NULL, direct_injector, NULL);
	pthread_create(&th_stop, NULL, stopper, NULL);
	while (!atomic_load(&direct_drained)) {
		if (now() >= t_end)
			atomic_store(&running, 0);
		if (nvmm_vcpu_run(&t.mach, &t.vcpu) == -1) {
			fprintf(stderr, "%s: nvmm_vcpu_run: %s\n", ph,
			    strerror(errno));
			vmt_failures++;
			break;
		}
		total++;
		if (x->reason == NVMM_VCPU_EXIT_IO) {
			io_exits++;
			nvmm_assist_io(&t.mach, &t.vcpu);
		} else if (x->reason == NVMM_VCPU_EXIT_STOPPED) {
			stopped_exits++;
		} else if (x->reason != NVMM_VCPU_EXIT_NONE &&
		    x->reason != NVMM_VCPU_EXIT_NMI_READY &&
		    x->reason != NVMM_VCPU_EXIT_INT_READY) {
			fprintf(stderr, "%s: unexpected exit %#llx\n", ph,
			    (unsigned long long)x->reason);
			vmt_failures++;
			atomic_store(&running, 0);
		}
	}
	atomic_store(&kicking, 0);
	pthread_join(th_inj, NULL);
	pthread_join(th_stop, NULL);
	alarm(0);

	for (k = 0; k < NKIND; k++) {
		nev += injected[k];
		CHECK(*counter(kvec[k]) == injected[k], "%s %s: injected %lu, "
		    "the guest counted %llu", ph, kname[k], injected[k],
		    (unsigned long long)*counter(kvec[k]));
	}
	CHECK(*(volatile uint64_t *)(t.ram + ST_ERRSUM) == errsum_injected,
	    "%s: error codes differ", ph);
	CHECK_EQ(direct_lost, 0);
	CHECK(nev > 0, "%s: no events", ph);
	CHECK(progress() > p0, "%s: the guest loop made no progress", ph);
	printf("%s: %.1f s: %lu events (#GP %lu, #UD %lu, NMI %lu) delivered "
	    "exactly once; %lu stop calls, %lu STOPPED exits, %lu runs\n", ph,
	    now() - t0, nev, injected[K_GP], injected[K_UD], injected[K_NMI],
	    atomic_load(&stop_calls), stopped_exits, total);
}

/*
 * Before the threads: a run that returns STOPPED without entering the
 * guest must show the window the client armed with setstate (the Linux
 * port fills exitstate with the current values then, README).
 */
static void
early_stop_exitstate(void)
{
	setup_guest(false);
	arm_int_window();
	nvmm_vcpu_stop(&t.vcpu);
	CHECK_OK(nvmm_vcpu_run(&t.mach, &t.vcpu));
	CHECK_EQ(x->reason, NVMM_VCPU_EXIT_STOPPED);
	CHECK(x->exitstate.int_window_exiting,
	    "early STOPPED: exitstate.int_window_exiting is 0 right after "
	    "setstate armed the window");
	nvmm_vcpu_getstate(&t.mach, &t.vcpu, NVMM_X64_STATE_INTR |
	    NVMM_X64_STATE_GPRS);
	CHECK_EQ(t.vcpu.state->intr.int_window_exiting, 1);
	t.vcpu.state->intr.int_window_exiting = 0;
	/* The same for RFLAGS: the value the next entry will load. */
	t.vcpu.state->gprs[NVMM_X64_GPR_RFLAGS] = 0x202;
	nvmm_vcpu_setstate(&t.mach, &t.vcpu, NVMM_X64_STATE_INTR |
	    NVMM_X64_STATE_GPRS);
	nvmm_vcpu_stop(&t.vcpu);
	CHECK_OK(nvmm_vcpu_run(&t.mach, &t.vcpu));
	CHECK_EQ(x->reason, NVMM_VCPU_EXIT_STOPPED);
	CHECK_EQ(x->exitstate.int_window_exiting, 0);
	CHECK_EQ(x->exitstate.rflags, 0x202);
}

int
main(int argc, char **argv)
{
	struct nvmm_assist_callbacks cbs = { NULL, NULL };
	double secs = argc > 1 ? atof(argv[1]) : 2.0;

	if (secs <= 0)
		secs = 2.0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, on_alarm);
	vmt_init_or_skip();
	vmt_create(&t, VMT_RAM, 0);
	x = t.vcpu.exit;
	cbs.io = io_cb;
	nvmm_vcpu_configure(&t.mach, &t.vcpu, NVMM_VCPU_CONF_CALLBACKS, &cbs);
	vmt_load(&t, VMT_CODE, st_start, st_end);

	early_stop_exitstate();
	variant(false, secs);
	variant(true, secs);
	variant_direct(secs);

	vmt_destroy(&t);
	return vmt_done("t_stress");
}
