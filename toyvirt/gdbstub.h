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

/*
 * Starts the stub's thread.  vcpus[0..nthreads) are the VCPUs that run
 * (gdb's threads 1..nthreads); dbg_support is what KVM's guest debugging
 * accepts (kvmdbg_supported).  Returns 0, or -1 with errno.
 */
int gdb_start(struct tv_vcpu *vcpus, unsigned nthreads, uint32_t dbg_support);

/* Ends the stub (after the machine ended) and joins its thread. */
void gdb_stop(void);

#endif
