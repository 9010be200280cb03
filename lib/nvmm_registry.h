/* nvmm_registry.h - host-wide registry of machines (ids, owners, nvmm_ctl). */

#ifndef _NVMM_REGISTRY_H_
#define _NVMM_REGISTRY_H_

#include <nvmm.h>

#define NVMM_MAX_MACHINES	128

/*
 * Allocates the lowest machine id that no live process holds, and records
 * this process as its owner with the current time.  Returns 0, or -1 with
 * errno ENOBUFS when all 128 ids are in use (other errors: the registry
 * could not be used; the caller then falls back to a process-local id).
 */
int nvmm_reg_alloc(nvmm_machid_t *machid);

/* Updates the VCPU count and the registered RAM of a machine we own. */
void nvmm_reg_update(nvmm_machid_t machid, uint32_t nvcpus, uint64_t nram);

/* Releases a machine id we own. */
void nvmm_reg_free(nvmm_machid_t machid);

/*
 * Fills info (machid is the input) for NVMM_CTL_MACH_INFO.  Returns 0, or
 * -1 with ENOENT (no live machine with that id) or EPERM (owned by another
 * process and root is false).
 */
int nvmm_reg_query(struct nvmm_ctl_mach_info *info, bool root);

#endif
