/* trace.h - toyvirt's exit trace (-t) and exit statistics (-s). */

#ifndef _TOYVIRT_TRACE_H_
#define _TOYVIRT_TRACE_H_

#include <stdint.h>
#include <stdio.h>

#include <nvmm.h>

/* The exit reasons counted apart; anything else is TR_OTHER. */
enum tr_reason {
	TR_NONE, TR_STOPPED, TR_INVALID, TR_DEBUG, TR_MEMORY, TR_IO,
	TR_SHUTDOWN, TR_INT_READY, TR_NMI_READY, TR_HALTED, TR_TPR_CHANGED,
	TR_RDMSR, TR_WRMSR, TR_MONITOR, TR_MWAIT, TR_CPUID, TR_OTHER,
	TR_NREASONS
};

/*
 * Per-VCPU counters, written by that VCPU's thread only.  run_ns is the
 * time spent in nvmm_vcpu_run calls that ended with the reason (guest,
 * KVM and libnvmm); vmm_ns the time from that return to the next call
 * (toyvirt handling the exit, including a halted VCPU's wait and a stop
 * in the debugger).
 */
struct tr_stats {
	uint64_t count[TR_NREASONS];
	uint64_t run_ns[TR_NREASONS];
	uint64_t vmm_ns[TR_NREASONS];
};

/* Monotonic nanoseconds. */
uint64_t tr_now(void);

/* The counter an exit goes to (a KVM debug exit is TR_DEBUG). */
enum tr_reason tr_classify(const struct nvmm_x86_exit *ex);

/*
 * Prints the trace line of one exit on stderr (one write, so lines of
 * several VCPUs do not mix):
 *   "trace: cpu120 IO rip=0x10001c out port=0x7b size=1"
 * rip is the guest RIP as nvmm_vcpu_getstate shows it at the exit.
 */
void tr_line(nvmm_cpuid_t cpu, const struct nvmm_x86_exit *ex, uint64_t rip);

/* Adds up n VCPUs' counters and prints the table on f. */
void tr_print_stats(FILE *f, const struct tr_stats *const *st, unsigned n,
    uint64_t wall_ns);

#endif
