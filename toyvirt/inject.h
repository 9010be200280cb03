/* inject.h - toyvirt's event injection: the injector thread, parked events and the VCPU's event slot. */

#ifndef _TOYVIRT_INJECT_H_
#define _TOYVIRT_INJECT_H_

#include <stdbool.h>
#include <stdint.h>

#include <nvmm.h>

#define INJECT_DEFAULT_MS	3000
#define INJECT_MAX_MS		86400000U	/* one day */

/* Remembers the machine, VCPU and period; call once before the others. */
void inject_init(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu,
    unsigned interval_ms);

/* Starts the injector thread.  Returns 0, or -1 with errno. */
int inject_start(void);

/* Stops and joins the injector thread (if started). */
void inject_stop(void);

/*
 * After each run (VCPU thread): records the guest's CR8 and whether the
 * interrupt and NMI windows are armed, from exit->exitstate.
 */
void inject_exit_update(const struct nvmm_x86_exit *exit);

/*
 * On an INT_READY (nmi false) or NMI_READY (nmi true) exit: re-injects the
 * parked event of that kind, if any.  Returns 0, or -1 with errno.
 */
int inject_ready(bool nmi);

/*
 * Injects exception `vector` with error code `error` into `vcpu` now,
 * whatever the windows say (a fault caused by the current instruction).
 * Called on that VCPU's thread.  Returns 0, or -1 with errno.
 */
int inject_exception(struct nvmm_vcpu *vcpu, uint8_t vector, uint64_t error);

/* Number of events committed so far (for inject_wait_after). */
uint64_t inject_count(void);

/*
 * Blocks until an event was committed after inject_count() returned
 * `since`, the injector stopped, or wake(arg) returns true (it is checked
 * under the injector's lock; whoever makes it true calls inject_kick()
 * afterwards).  Returns true if an event was committed.  For a guest that
 * halted with interrupts enabled: it sleeps until something may wake it.
 */
bool inject_wait_after(uint64_t since, bool (*wake)(void *), void *arg);

/* Wakes inject_wait_after callers so they look at their wake() again. */
void inject_kick(void);

/*
 * Pauses (true) or resumes (false) the injector: while the debugger holds
 * the machine no event is posted; on resume a full period starts again.
 */
void inject_pause(bool paused);

/* True (with the errno in *error) if the injector thread hit an error. */
bool inject_failed(int *error);

#endif
