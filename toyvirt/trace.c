/* trace.c - toyvirt's exit trace (-t) and exit statistics (-s). */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "trace.h"

static const char *const names[TR_NREASONS] = {
	[TR_NONE] = "NONE",
	[TR_STOPPED] = "STOPPED",
	[TR_INVALID] = "INVALID",
	[TR_DEBUG] = "DEBUG",
	[TR_MEMORY] = "MEMORY",
	[TR_IO] = "IO",
	[TR_SHUTDOWN] = "SHUTDOWN",
	[TR_INT_READY] = "INT_READY",
	[TR_NMI_READY] = "NMI_READY",
	[TR_HALTED] = "HALTED",
	[TR_TPR_CHANGED] = "TPR_CHANGED",
	[TR_RDMSR] = "RDMSR",
	[TR_WRMSR] = "WRMSR",
	[TR_MONITOR] = "MONITOR",
	[TR_MWAIT] = "MWAIT",
	[TR_CPUID] = "CPUID",
	[TR_OTHER] = "OTHER",
};

uint64_t
tr_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

enum tr_reason
tr_classify(const struct nvmm_x86_exit *ex)
{
	switch (ex->reason) {
	case NVMM_VCPU_EXIT_NONE:		return TR_NONE;
	case NVMM_VCPU_EXIT_STOPPED:		return TR_STOPPED;
	case NVMM_VCPU_EXIT_INVALID:		return TR_INVALID;
	case NVMM_VCPU_EXIT_DEBUG:		return TR_DEBUG;
	case NVMM_VCPU_EXIT_MEMORY:		return TR_MEMORY;
	case NVMM_VCPU_EXIT_IO:			return TR_IO;
	case NVMM_VCPU_EXIT_SHUTDOWN:		return TR_SHUTDOWN;
	case NVMM_VCPU_EXIT_INT_READY:		return TR_INT_READY;
	case NVMM_VCPU_EXIT_NMI_READY:		return TR_NMI_READY;
	case NVMM_VCPU_EXIT_HALTED:		return TR_HALTED;
	case NVMM_VCPU_EXIT_TPR_CHANGED:	return TR_TPR_CHANGED;
	case NVMM_VCPU_EXIT_RDMSR:		return TR_RDMSR;
	case NVMM_VCPU_EXIT_WRMSR:		return TR_WRMSR;
	case NVMM_VCPU_EXIT_MONITOR:		return TR_MONITOR;
	case NVMM_VCPU_EXIT_MWAIT:		return TR_MWAIT;
	case NVMM_VCPU_EXIT_CPUID:		return TR_CPUID;
	default:				return TR_OTHER;
	}
}

/* The hwcodes libnvmm(3) documents for INVALID exits on Linux. */
#define HWCODE_EMUL		0x1ULL		/* KVM emulation failure */
#define HWCODE_KVM_EXIT		0x10000ULL	/* + an unexpected KVM exit */

/* What an INVALID exit's hwcode means on libnvmm for Linux. */
static const char *
hwcode_meaning(uint64_t hw)
{
	if (hw == HWCODE_EMUL)
		return " (KVM internal error: emulation failure)";
	if (hw >= HWCODE_KVM_EXIT && hw < 2 * HWCODE_KVM_EXIT)
		return " (unexpected KVM exit)";
	return "";
}

void
tr_line(nvmm_cpuid_t cpu, const struct nvmm_x86_exit *ex, uint64_t rip)
{
	enum tr_reason r = tr_classify(ex);
	char line[256];
	int n;

	n = snprintf(line, sizeof(line), "trace: cpu%u %s rip=0x%" PRIx64,
	    (unsigned)cpu, names[r], rip);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	switch (r) {
	case TR_IO:
		snprintf(line + n, sizeof(line) - (size_t)n, " %s port=0x%x "
		    "size=%u%s%s npc=0x%" PRIx64, ex->u.io.in ? "in" : "out",
		    (unsigned)ex->u.io.port, (unsigned)ex->u.io.operand_size,
		    ex->u.io.str ? " str" : "", ex->u.io.rep ? " rep" : "",
		    ex->u.io.npc);
		break;
	case TR_MEMORY:
		snprintf(line + n, sizeof(line) - (size_t)n, " gpa=0x%" PRIx64
		    " %s", ex->u.mem.gpa, (ex->u.mem.prot & 2) ? "write" :
		    (ex->u.mem.prot & 4) ? "exec" : "read");
		break;
	case TR_RDMSR:
		snprintf(line + n, sizeof(line) - (size_t)n, " msr=0x%" PRIx32
		    " npc=0x%" PRIx64, ex->u.rdmsr.msr, ex->u.rdmsr.npc);
		break;
	case TR_WRMSR:
		snprintf(line + n, sizeof(line) - (size_t)n, " msr=0x%" PRIx32
		    " val=0x%" PRIx64 " npc=0x%" PRIx64, ex->u.wrmsr.msr,
		    ex->u.wrmsr.val, ex->u.wrmsr.npc);
		break;
	case TR_MONITOR:
	case TR_MWAIT:
		snprintf(line + n, sizeof(line) - (size_t)n, " npc=0x%" PRIx64,
		    ex->u.insn.npc);
		break;
	case TR_INVALID:
	case TR_DEBUG:
		snprintf(line + n, sizeof(line) - (size_t)n, " hwcode=0x%"
		    PRIx64 "%s", ex->u.inv.hwcode,
		    hwcode_meaning(ex->u.inv.hwcode));
		break;
	case TR_HALTED:
		snprintf(line + n, sizeof(line) - (size_t)n, " if=%d",
		    (ex->exitstate.rflags & 0x200) != 0);
		break;
	case TR_TPR_CHANGED:
		snprintf(line + n, sizeof(line) - (size_t)n, " cr8=%" PRIu64,
		    ex->exitstate.cr8);
		break;
	case TR_OTHER:
		snprintf(line + n, sizeof(line) - (size_t)n, " reason=0x%"
		    PRIx64, ex->reason);
		break;
	default:
		break;
	}
	fprintf(stderr, "%s\n", line);
}

void
tr_print_stats(FILE *f, const struct tr_stats *const *st, unsigned n,
    uint64_t wall_ns)
{
	struct tr_stats sum;
	uint64_t all = 0, allrun = 0, allvmm = 0;
	unsigned i, r;

	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < n; i++)
		for (r = 0; r < TR_NREASONS; r++) {
			sum.count[r] += st[i]->count[r];
			sum.run_ns[r] += st[i]->run_ns[r];
			sum.vmm_ns[r] += st[i]->vmm_ns[r];
		}
	fprintf(f, "exit statistics: %u VCPU%s, %.3f s\n", n, n == 1 ? "" : "s",
	    (double)wall_ns / 1e9);
	fprintf(f, "%-12s %10s %14s %12s %14s %12s\n", "reason", "count",
	    "run total ms", "run mean us", "vmm total ms", "vmm mean us");
	for (r = 0; r < TR_NREASONS; r++) {
		if (sum.count[r] == 0)
			continue;
		fprintf(f, "%-12s %10" PRIu64 " %14.3f %12.3f %14.3f %12.3f\n",
		    names[r], sum.count[r], (double)sum.run_ns[r] / 1e6,
		    (double)sum.run_ns[r] / 1e3 / (double)sum.count[r],
		    (double)sum.vmm_ns[r] / 1e6,
		    (double)sum.vmm_ns[r] / 1e3 / (double)sum.count[r]);
		all += sum.count[r];
		allrun += sum.run_ns[r];
		allvmm += sum.vmm_ns[r];
	}
	fprintf(f, "%-12s %10" PRIu64 " %14.3f %12.3f %14.3f %12.3f\n", "all",
	    all, (double)allrun / 1e6,
	    all > 0 ? (double)allrun / 1e3 / (double)all : 0.0,
	    (double)allvmm / 1e6,
	    all > 0 ? (double)allvmm / 1e3 / (double)all : 0.0);
}
