/* gdbstub.h - toyvirt's GDB remote stub (-g PORT): registers, memory, breakpoints, stepping and stops of the guest, served on 127.0.0.1. */

#ifndef _TOYVIRT_GDBSTUB_H_
#define _TOYVIRT_GDBSTUB_H_

#include <stddef.h>
#include <stdint.h>

#include "run.h"

/*
 * Opens the listening socket on 127.0.0.1:port (0: any free port); the
 * port is returned in *bound.  Returns 0, or -1 with a reason in err.
 */
int gdb_listen(unsigned port, unsigned *bound, char *err, size_t errlen);

/* What libnvmm refuses to debug on this host (NVMM_VCPU_CONF_DEBUG). */
#define GDB_LIM_CPL3	0x1U	/* guest CPL3 code */
#define GDB_LIM_WATCH	0x2U	/* data breakpoints in DR0-DR3 */
#define GDB_LIM_DR	0x4U	/* anything in DR0-DR3 */
#define GDB_LIM_INT3	0x8U	/* int3 breakpoints: HLTs are used */

/*
 * Asks libnvmm, on a VCPU that has not run, what it refuses (GDB_LIM_*).
 * Returns 0 with *limits, or -1 with a reason in err.
 */
int gdb_limits(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu,
    uint32_t *limits, char *err, size_t errlen);

/*
 * Starts the stub's thread.  vcpus[0..nthreads) are the VCPUs that run
 * (gdb's threads 1..nthreads); limits are gdb_limits()'s.  Returns 0, or
 * -1 with a reason in err.
 */
int gdb_start(struct tv_vcpu *vcpus, unsigned nthreads, uint32_t limits,
    char *err, size_t errlen);

/* Ends the stub (after the machine ended) and joins its thread. */
void gdb_stop(void);

#endif
