/* t_layout.c - pins the ABI of <nvmm.h>: sizes, offsets, bit positions, constants, macros. */

/*
 * NVMM's ABI (include/nvmm.h, libnvmm(3)).  Everything up to the run-time section needs
 * nothing but <nvmm.h>, which is therefore included alone and first: the
 * static part also proves that the header is self-contained.
 * Needs no KVM and never skips.
 */

#include <nvmm.h>

/* -------------------------------------------------------------------------
 * Helpers for compile-time checks.
 * ------------------------------------------------------------------------- */

#define SA(cond)		_Static_assert(cond, #cond)
#define OFF(type, member, off)	SA(offsetof(type, member) == (off))
#define SIZE(type, size)	SA(sizeof(type) == (size))
/* The declared type of an expression (not evaluated). */
#define IS_TYPE(expr, type)	SA(_Generic((expr), type: 1, default: 0))
#define MEMBER(type, member)	(((type *)0)->member)
#define MTYPE(stype, member, type) IS_TYPE(MEMBER(stype, member), type)

/* -------------------------------------------------------------------------
 * 2.1 Scalar types, 2.2 versions.
 * ------------------------------------------------------------------------- */

IS_TYPE((gpaddr_t)0, uint64_t);
IS_TYPE((gvaddr_t)0, uint64_t);
IS_TYPE((nvmm_machid_t)0, uint32_t);
IS_TYPE((nvmm_cpuid_t)0, uint32_t);
IS_TYPE((nvmm_prot_t)0, uint64_t);

SA(NVMM_USER_VERSION == 2);
SA(NVMM_KERN_VERSION == 2);

/* -------------------------------------------------------------------------
 * 2.14 Sizes.
 * ------------------------------------------------------------------------- */

SIZE(struct nvmm_capability, 104);
SIZE(struct nvmm_cap_md, 80);
SIZE(struct nvmm_machine, 24);
SIZE(struct nvmm_vcpu, 56);
SIZE(struct nvmm_x64_state, 1008);
SIZE(struct nvmm_x64_state_seg, 16);
SIZE(struct nvmm_x64_state_intr, 8);
SIZE(struct fxsave, 512);
SIZE(struct nvmm_x86_event, 16);
SIZE(struct nvmm_x86_exit, 64);
SIZE(struct nvmm_vcpu_conf_cpuid, 40);
SIZE(struct nvmm_vcpu_conf_tpr, 4);
SIZE(struct nvmm_assist_callbacks, 16);
SIZE(struct nvmm_io, 40);
SIZE(struct nvmm_mem, 48);
SIZE(struct nvmm_ctl_mach_info, 32);

/* The machine-independent names are the x86 structures. */
IS_TYPE((struct nvmm_vcpu_state *)0, struct nvmm_x64_state *);
IS_TYPE((struct nvmm_vcpu_event *)0, struct nvmm_x86_event *);
IS_TYPE((struct nvmm_vcpu_exit *)0, struct nvmm_x86_exit *);

/* -------------------------------------------------------------------------
 * 2.3 Capability.
 * ------------------------------------------------------------------------- */

OFF(struct nvmm_capability, version, 0);
OFF(struct nvmm_capability, state_size, 4);
OFF(struct nvmm_capability, max_machines, 8);
OFF(struct nvmm_capability, max_vcpus, 12);
OFF(struct nvmm_capability, max_ram, 16);
OFF(struct nvmm_capability, arch, 24);
MTYPE(struct nvmm_capability, version, uint32_t);
MTYPE(struct nvmm_capability, state_size, uint32_t);
MTYPE(struct nvmm_capability, max_machines, uint32_t);
MTYPE(struct nvmm_capability, max_vcpus, uint32_t);
MTYPE(struct nvmm_capability, max_ram, uint64_t);

OFF(struct nvmm_cap_md, mach_conf_support, 0);
OFF(struct nvmm_cap_md, vcpu_conf_support, 8);
OFF(struct nvmm_cap_md, xcr0_mask, 16);
OFF(struct nvmm_cap_md, mxcsr_mask, 24);
OFF(struct nvmm_cap_md, conf_cpuid_maxops, 28);
OFF(struct nvmm_cap_md, rsvd, 32);
SA(sizeof(MEMBER(struct nvmm_cap_md, rsvd)) == 48);
MTYPE(struct nvmm_cap_md, mach_conf_support, uint64_t);
MTYPE(struct nvmm_cap_md, vcpu_conf_support, uint64_t);
MTYPE(struct nvmm_cap_md, xcr0_mask, uint64_t);
MTYPE(struct nvmm_cap_md, mxcsr_mask, uint32_t);
MTYPE(struct nvmm_cap_md, conf_cpuid_maxops, uint32_t);
MTYPE(struct nvmm_cap_md, rsvd[0], uint64_t);

SA(NVMM_CAP_ARCH_VCPU_CONF_CPUID == 0x1);
SA(NVMM_CAP_ARCH_VCPU_CONF_TPR == 0x2);
IS_TYPE(NVMM_CAP_ARCH_VCPU_CONF_CPUID, uintmax_t);
IS_TYPE(NVMM_CAP_ARCH_VCPU_CONF_TPR, uintmax_t);

/* -------------------------------------------------------------------------
 * 2.4 Machine and 2.5 VCPU handles.
 * ------------------------------------------------------------------------- */

OFF(struct nvmm_machine, machid, 0);
OFF(struct nvmm_machine, pages, 8);
OFF(struct nvmm_machine, areas, 16);
MTYPE(struct nvmm_machine, machid, nvmm_machid_t);
MTYPE(struct nvmm_machine, pages, struct nvmm_comm_page **);
MTYPE(struct nvmm_machine, areas, void *);

OFF(struct nvmm_vcpu, cpuid, 0);
OFF(struct nvmm_vcpu, cbs, 8);
OFF(struct nvmm_vcpu, cbs.io, 8);
OFF(struct nvmm_vcpu, cbs.mem, 16);
OFF(struct nvmm_vcpu, state, 24);
OFF(struct nvmm_vcpu, event, 32);
OFF(struct nvmm_vcpu, exit, 40);
OFF(struct nvmm_vcpu, stop, 48);
MTYPE(struct nvmm_vcpu, cpuid, nvmm_cpuid_t);
MTYPE(struct nvmm_vcpu, cbs, struct nvmm_assist_callbacks);
MTYPE(struct nvmm_vcpu, state, struct nvmm_x64_state *);
MTYPE(struct nvmm_vcpu, event, struct nvmm_x86_event *);
MTYPE(struct nvmm_vcpu, exit, struct nvmm_x86_exit *);
MTYPE(struct nvmm_vcpu, stop, volatile int *);

/* -------------------------------------------------------------------------
 * 2.6 State.
 * ------------------------------------------------------------------------- */

SA(_Alignof(struct nvmm_x64_state) == 16);
OFF(struct nvmm_x64_state, segs, 0);
OFF(struct nvmm_x64_state, gprs, 160);
OFF(struct nvmm_x64_state, crs, 304);
OFF(struct nvmm_x64_state, drs, 352);
OFF(struct nvmm_x64_state, msrs, 400);
OFF(struct nvmm_x64_state, intr, 488);
OFF(struct nvmm_x64_state, fpu, 496);
SA(sizeof(MEMBER(struct nvmm_x64_state, segs)) == 10 * 16);
SA(sizeof(MEMBER(struct nvmm_x64_state, gprs)) == 18 * 8);
SA(sizeof(MEMBER(struct nvmm_x64_state, crs)) == 6 * 8);
SA(sizeof(MEMBER(struct nvmm_x64_state, drs)) == 6 * 8);
SA(sizeof(MEMBER(struct nvmm_x64_state, msrs)) == 11 * 8);
MTYPE(struct nvmm_x64_state, segs[0], struct nvmm_x64_state_seg);
MTYPE(struct nvmm_x64_state, gprs[0], uint64_t);
MTYPE(struct nvmm_x64_state, crs[0], uint64_t);
MTYPE(struct nvmm_x64_state, drs[0], uint64_t);
MTYPE(struct nvmm_x64_state, msrs[0], uint64_t);
MTYPE(struct nvmm_x64_state, intr, struct nvmm_x64_state_intr);
MTYPE(struct nvmm_x64_state, fpu, struct fxsave);
/* A few elements, to pin the indexes against the offsets. */
OFF(struct nvmm_x64_state, segs[NVMM_X64_SEG_TR], 144);
OFF(struct nvmm_x64_state, gprs[NVMM_X64_GPR_RIP], 160 + 16 * 8);
OFF(struct nvmm_x64_state, gprs[NVMM_X64_GPR_RFLAGS], 160 + 17 * 8);
OFF(struct nvmm_x64_state, crs[NVMM_X64_CR_XCR0], 304 + 5 * 8);
OFF(struct nvmm_x64_state, drs[NVMM_X64_DR_DR7], 352 + 5 * 8);
OFF(struct nvmm_x64_state, msrs[NVMM_X64_MSR_TSC], 400 + 10 * 8);

/* 2.6.1 Indexes. */
SA(NVMM_X64_SEG_ES == 0);
SA(NVMM_X64_SEG_CS == 1);
SA(NVMM_X64_SEG_SS == 2);
SA(NVMM_X64_SEG_DS == 3);
SA(NVMM_X64_SEG_FS == 4);
SA(NVMM_X64_SEG_GS == 5);
SA(NVMM_X64_SEG_GDT == 6);
SA(NVMM_X64_SEG_IDT == 7);
SA(NVMM_X64_SEG_LDT == 8);
SA(NVMM_X64_SEG_TR == 9);
SA(NVMM_X64_NSEG == 10);

SA(NVMM_X64_GPR_RAX == 0);
SA(NVMM_X64_GPR_RCX == 1);
SA(NVMM_X64_GPR_RDX == 2);
SA(NVMM_X64_GPR_RBX == 3);
SA(NVMM_X64_GPR_RSP == 4);
SA(NVMM_X64_GPR_RBP == 5);
SA(NVMM_X64_GPR_RSI == 6);
SA(NVMM_X64_GPR_RDI == 7);
SA(NVMM_X64_GPR_R8 == 8);
SA(NVMM_X64_GPR_R9 == 9);
SA(NVMM_X64_GPR_R10 == 10);
SA(NVMM_X64_GPR_R11 == 11);
SA(NVMM_X64_GPR_R12 == 12);
SA(NVMM_X64_GPR_R13 == 13);
SA(NVMM_X64_GPR_R14 == 14);
SA(NVMM_X64_GPR_R15 == 15);
SA(NVMM_X64_GPR_RIP == 16);
SA(NVMM_X64_GPR_RFLAGS == 17);
SA(NVMM_X64_NGPR == 18);

SA(NVMM_X64_CR_CR0 == 0);
SA(NVMM_X64_CR_CR2 == 1);
SA(NVMM_X64_CR_CR3 == 2);
SA(NVMM_X64_CR_CR4 == 3);
SA(NVMM_X64_CR_CR8 == 4);
SA(NVMM_X64_CR_XCR0 == 5);
SA(NVMM_X64_NCR == 6);

SA(NVMM_X64_DR_DR0 == 0);
SA(NVMM_X64_DR_DR1 == 1);
SA(NVMM_X64_DR_DR2 == 2);
SA(NVMM_X64_DR_DR3 == 3);
SA(NVMM_X64_DR_DR6 == 4);
SA(NVMM_X64_DR_DR7 == 5);
SA(NVMM_X64_NDR == 6);

SA(NVMM_X64_MSR_EFER == 0);
SA(NVMM_X64_MSR_STAR == 1);
SA(NVMM_X64_MSR_LSTAR == 2);
SA(NVMM_X64_MSR_CSTAR == 3);
SA(NVMM_X64_MSR_SFMASK == 4);
SA(NVMM_X64_MSR_KERNELGSBASE == 5);
SA(NVMM_X64_MSR_SYSENTER_CS == 6);
SA(NVMM_X64_MSR_SYSENTER_ESP == 7);
SA(NVMM_X64_MSR_SYSENTER_EIP == 8);
SA(NVMM_X64_MSR_PAT == 9);
SA(NVMM_X64_MSR_TSC == 10);
SA(NVMM_X64_NMSR == 11);

/* 2.6.2 Segment (attribute bits are checked at run time). */
OFF(struct nvmm_x64_state_seg, selector, 0);
OFF(struct nvmm_x64_state_seg, attrib, 2);
OFF(struct nvmm_x64_state_seg, limit, 4);
OFF(struct nvmm_x64_state_seg, base, 8);
SA(sizeof(MEMBER(struct nvmm_x64_state_seg, attrib)) == 2);
MTYPE(struct nvmm_x64_state_seg, selector, uint16_t);
MTYPE(struct nvmm_x64_state_seg, limit, uint32_t);
MTYPE(struct nvmm_x64_state_seg, base, uint64_t);

/* 2.6.4 FPU area. */
SA(_Alignof(struct fxsave) == 16);
OFF(struct fxsave, fx_cw, 0);
OFF(struct fxsave, fx_sw, 2);
OFF(struct fxsave, fx_tw, 4);
OFF(struct fxsave, fx_zero, 5);
OFF(struct fxsave, fx_opcode, 6);
OFF(struct fxsave, fx_ip, 8);
OFF(struct fxsave, fx_dp, 16);
OFF(struct fxsave, fx_mxcsr, 24);
OFF(struct fxsave, fx_mxcsr_mask, 28);
OFF(struct fxsave, fx_87_ac, 32);
OFF(struct fxsave, fx_87_ac[1], 48);
OFF(struct fxsave, fx_87_ac[7], 144);
OFF(struct fxsave, fx_xmm, 160);
OFF(struct fxsave, fx_xmm[1], 176);
OFF(struct fxsave, fx_xmm[15], 400);
OFF(struct fxsave, fx_rsvd, 416);
SA(sizeof(MEMBER(struct fxsave, fx_87_ac)) == 128);
SA(sizeof(MEMBER(struct fxsave, fx_xmm)) == 256);
SA(sizeof(MEMBER(struct fxsave, fx_rsvd)) == 96);
MTYPE(struct fxsave, fx_cw, uint16_t);
MTYPE(struct fxsave, fx_sw, uint16_t);
MTYPE(struct fxsave, fx_tw, uint8_t);
MTYPE(struct fxsave, fx_zero, uint8_t);
MTYPE(struct fxsave, fx_opcode, uint16_t);
MTYPE(struct fxsave, fx_ip, union fp_addr);
MTYPE(struct fxsave, fx_dp, union fp_addr);
MTYPE(struct fxsave, fx_mxcsr, uint32_t);
MTYPE(struct fxsave, fx_mxcsr_mask, uint32_t);
MTYPE(struct fxsave, fx_87_ac[0], struct fpaccfx);
MTYPE(struct fxsave, fx_xmm[0], struct xmmreg);

SIZE(union fp_addr, 8);
SA(_Alignof(union fp_addr) == 4);
OFF(union fp_addr, fa_64, 0);
OFF(union fp_addr, fa_32.fa_off, 0);
OFF(union fp_addr, fa_32.fa_seg, 4);
OFF(union fp_addr, fa_32.fa_opcode, 6);
MTYPE(union fp_addr, fa_64, uint64_t);
MTYPE(union fp_addr, fa_32.fa_off, uint32_t);
MTYPE(union fp_addr, fa_32.fa_seg, uint16_t);
MTYPE(union fp_addr, fa_32.fa_opcode, uint16_t);

SIZE(struct fpacc87, 10);
SA(_Alignof(struct fpacc87) == 2);
OFF(struct fpacc87, f87_mantissa, 0);
OFF(struct fpacc87, f87_exp_sign, 8);
SIZE(struct fpaccfx, 16);
SA(_Alignof(struct fpaccfx) == 16);
OFF(struct fpaccfx, r, 0);
OFF(struct fpaccfx, r.f87_mantissa, 0);
OFF(struct fpaccfx, r.f87_exp_sign, 8);
/* The DragonFly aliases. */
OFF(struct fpaccfx, mm_significand, 0);
OFF(struct fpaccfx, mm_exp_sign, 8);
OFF(struct fpaccfx, mm_rsvd, 10);
SA(sizeof(MEMBER(struct fpaccfx, mm_rsvd)) == 6);
OFF(struct fxsave, fx_87_ac[3].r.f87_mantissa, 32 + 3 * 16);
OFF(struct fxsave, fx_87_ac[3].r.f87_exp_sign, 32 + 3 * 16 + 8);
SIZE(struct xmmreg, 16);
OFF(struct xmmreg, xmm_bytes, 0);
OFF(struct fxsave, fx_xmm[2].xmm_bytes[5], 160 + 2 * 16 + 5);

/* 2.6.5 State flags. */
SA(NVMM_X64_STATE_SEGS == 0x01);
SA(NVMM_X64_STATE_GPRS == 0x02);
SA(NVMM_X64_STATE_CRS == 0x04);
SA(NVMM_X64_STATE_DRS == 0x08);
SA(NVMM_X64_STATE_MSRS == 0x10);
SA(NVMM_X64_STATE_INTR == 0x20);
SA(NVMM_X64_STATE_FPU == 0x40);
SA(NVMM_X64_STATE_ALL == 0x7F);

/* -------------------------------------------------------------------------
 * 2.7 Event, 2.8 Exit.
 * ------------------------------------------------------------------------- */

SA(NVMM_VCPU_EVENT_EXCP == 0);
SA(NVMM_VCPU_EVENT_INTR == 1);
OFF(struct nvmm_x86_event, type, 0);
OFF(struct nvmm_x86_event, vector, 4);
OFF(struct nvmm_x86_event, u, 8);
OFF(struct nvmm_x86_event, u.excp.error, 8);
MTYPE(struct nvmm_x86_event, type, unsigned int);
MTYPE(struct nvmm_x86_event, vector, uint8_t);
MTYPE(struct nvmm_x86_event, u.excp.error, uint64_t);

/* 2.8.1 Reasons: values and 64-bit width. */
SA(NVMM_VCPU_EXIT_NONE == 0x0000000000000000ULL);
SA(NVMM_VCPU_EXIT_STOPPED == 0xFFFFFFFFFFFFFFFEULL);
SA(NVMM_VCPU_EXIT_INVALID == 0xFFFFFFFFFFFFFFFFULL);
SA(NVMM_VCPU_EXIT_MEMORY == 0x0000000000000001ULL);
SA(NVMM_VCPU_EXIT_IO == 0x0000000000000002ULL);
SA(NVMM_VCPU_EXIT_SHUTDOWN == 0x0000000000001000ULL);
SA(NVMM_VCPU_EXIT_INT_READY == 0x0000000000001001ULL);
SA(NVMM_VCPU_EXIT_NMI_READY == 0x0000000000001002ULL);
SA(NVMM_VCPU_EXIT_HALTED == 0x0000000000001003ULL);
SA(NVMM_VCPU_EXIT_TPR_CHANGED == 0x0000000000001004ULL);
SA(NVMM_VCPU_EXIT_RDMSR == 0x0000000000002000ULL);
SA(NVMM_VCPU_EXIT_WRMSR == 0x0000000000002001ULL);
SA(NVMM_VCPU_EXIT_MONITOR == 0x0000000000002002ULL);
SA(NVMM_VCPU_EXIT_MWAIT == 0x0000000000002003ULL);
SA(NVMM_VCPU_EXIT_CPUID == 0x0000000000002004ULL);
SA(sizeof(NVMM_VCPU_EXIT_STOPPED) == 8);
SA(sizeof(NVMM_VCPU_EXIT_INVALID) == 8);
SA(NVMM_VCPU_EXIT_INVALID > 0);		/* unsigned */

OFF(struct nvmm_x86_exit, reason, 0);
OFF(struct nvmm_x86_exit, u, 8);
OFF(struct nvmm_x86_exit, exitstate, 40);
OFF(struct nvmm_x86_exit, exitstate.rflags, 40);
OFF(struct nvmm_x86_exit, exitstate.cr8, 48);
MTYPE(struct nvmm_x86_exit, reason, uint64_t);
MTYPE(struct nvmm_x86_exit, exitstate.rflags, uint64_t);
MTYPE(struct nvmm_x86_exit, exitstate.cr8, uint64_t);
SA(sizeof(MEMBER(struct nvmm_x86_exit, u)) == 32);
SA(sizeof(MEMBER(struct nvmm_x86_exit, exitstate)) == 24);

/* 2.8.2 Union members, and where they land in the exit. */
SIZE(struct nvmm_x86_exit_memory, 32);
OFF(struct nvmm_x86_exit_memory, prot, 0);
OFF(struct nvmm_x86_exit_memory, gpa, 8);
OFF(struct nvmm_x86_exit_memory, inst_len, 16);
OFF(struct nvmm_x86_exit_memory, inst_bytes, 17);
SA(sizeof(MEMBER(struct nvmm_x86_exit_memory, inst_bytes)) == 15);
MTYPE(struct nvmm_x86_exit_memory, prot, int);
MTYPE(struct nvmm_x86_exit_memory, gpa, gpaddr_t);
MTYPE(struct nvmm_x86_exit_memory, inst_len, uint8_t);
MTYPE(struct nvmm_x86_exit_memory, inst_bytes[0], uint8_t);
OFF(struct nvmm_x86_exit, u.mem.prot, 8);
OFF(struct nvmm_x86_exit, u.mem.gpa, 16);
OFF(struct nvmm_x86_exit, u.mem.inst_len, 24);
OFF(struct nvmm_x86_exit, u.mem.inst_bytes, 25);

SIZE(struct nvmm_x86_exit_io, 24);
OFF(struct nvmm_x86_exit_io, in, 0);
OFF(struct nvmm_x86_exit_io, port, 2);
OFF(struct nvmm_x86_exit_io, seg, 4);
OFF(struct nvmm_x86_exit_io, address_size, 5);
OFF(struct nvmm_x86_exit_io, operand_size, 6);
OFF(struct nvmm_x86_exit_io, rep, 7);
OFF(struct nvmm_x86_exit_io, str, 8);
OFF(struct nvmm_x86_exit_io, npc, 16);
MTYPE(struct nvmm_x86_exit_io, in, bool);
MTYPE(struct nvmm_x86_exit_io, port, uint16_t);
MTYPE(struct nvmm_x86_exit_io, seg, int8_t);
MTYPE(struct nvmm_x86_exit_io, address_size, uint8_t);
MTYPE(struct nvmm_x86_exit_io, operand_size, uint8_t);
MTYPE(struct nvmm_x86_exit_io, rep, bool);
MTYPE(struct nvmm_x86_exit_io, str, bool);
MTYPE(struct nvmm_x86_exit_io, npc, uint64_t);
OFF(struct nvmm_x86_exit, u.io.port, 10);
OFF(struct nvmm_x86_exit, u.io.npc, 24);

SIZE(struct nvmm_x86_exit_rdmsr, 16);
OFF(struct nvmm_x86_exit_rdmsr, msr, 0);
OFF(struct nvmm_x86_exit_rdmsr, npc, 8);
MTYPE(struct nvmm_x86_exit_rdmsr, msr, uint32_t);
MTYPE(struct nvmm_x86_exit_rdmsr, npc, uint64_t);
OFF(struct nvmm_x86_exit, u.rdmsr.npc, 16);

SIZE(struct nvmm_x86_exit_wrmsr, 24);
OFF(struct nvmm_x86_exit_wrmsr, msr, 0);
OFF(struct nvmm_x86_exit_wrmsr, val, 8);
OFF(struct nvmm_x86_exit_wrmsr, npc, 16);
MTYPE(struct nvmm_x86_exit_wrmsr, msr, uint32_t);
MTYPE(struct nvmm_x86_exit_wrmsr, val, uint64_t);
MTYPE(struct nvmm_x86_exit_wrmsr, npc, uint64_t);
OFF(struct nvmm_x86_exit, u.wrmsr.val, 16);
OFF(struct nvmm_x86_exit, u.wrmsr.npc, 24);

SIZE(struct nvmm_x86_exit_insn, 8);
OFF(struct nvmm_x86_exit_insn, npc, 0);
MTYPE(struct nvmm_x86_exit_insn, npc, uint64_t);
OFF(struct nvmm_x86_exit, u.insn.npc, 8);

SIZE(struct nvmm_x86_exit_invalid, 8);
OFF(struct nvmm_x86_exit_invalid, hwcode, 0);
MTYPE(struct nvmm_x86_exit_invalid, hwcode, uint64_t);
OFF(struct nvmm_x86_exit, u.inv.hwcode, 8);

/* -------------------------------------------------------------------------
 * 2.9 Configuration.
 * ------------------------------------------------------------------------- */

SA(NVMM_MACH_CONF_LIBNVMM_BEGIN == 0);
SA(NVMM_MACH_CONF_MI_BEGIN == 100);
SA(NVMM_MACH_CONF_MD_BEGIN == 200);
SA(NVMM_MACH_CONF_MD(200) == 0);
SA(NVMM_MACH_CONF_MD(205) == 5);
SA(NVMM_VCPU_CONF_LIBNVMM_BEGIN == 0);
SA(NVMM_VCPU_CONF_MI_BEGIN == 100);
SA(NVMM_VCPU_CONF_MD_BEGIN == 200);
SA(NVMM_VCPU_CONF_MD(200) == 0);
SA(NVMM_VCPU_CONF_MD(NVMM_VCPU_CONF_TPR) == 1);
SA(NVMM_VCPU_CONF_CALLBACKS == 0);
SA(NVMM_VCPU_CONF_CPUID == 200);
SA(NVMM_VCPU_CONF_TPR == 201);
SA(NVMM_X86_MACH_NCONF == 0);
SA(NVMM_X86_VCPU_NCONF == 2);

OFF(struct nvmm_vcpu_conf_cpuid, leaf, 4);
OFF(struct nvmm_vcpu_conf_cpuid, u, 8);
OFF(struct nvmm_vcpu_conf_cpuid, u.mask.set.eax, 8);
OFF(struct nvmm_vcpu_conf_cpuid, u.mask.set.ebx, 12);
OFF(struct nvmm_vcpu_conf_cpuid, u.mask.set.ecx, 16);
OFF(struct nvmm_vcpu_conf_cpuid, u.mask.set.edx, 20);
OFF(struct nvmm_vcpu_conf_cpuid, u.mask.del.eax, 24);
OFF(struct nvmm_vcpu_conf_cpuid, u.mask.del.ebx, 28);
OFF(struct nvmm_vcpu_conf_cpuid, u.mask.del.ecx, 32);
OFF(struct nvmm_vcpu_conf_cpuid, u.mask.del.edx, 36);
MTYPE(struct nvmm_vcpu_conf_cpuid, leaf, uint32_t);
MTYPE(struct nvmm_vcpu_conf_cpuid, u.mask.set.eax, uint32_t);
MTYPE(struct nvmm_vcpu_conf_cpuid, u.mask.del.edx, uint32_t);

/* -------------------------------------------------------------------------
 * 2.10 Callbacks and descriptors.
 * ------------------------------------------------------------------------- */

OFF(struct nvmm_assist_callbacks, io, 0);
OFF(struct nvmm_assist_callbacks, mem, 8);
MTYPE(struct nvmm_assist_callbacks, io, void (*)(struct nvmm_io *));
MTYPE(struct nvmm_assist_callbacks, mem, void (*)(struct nvmm_mem *));

OFF(struct nvmm_io, mach, 0);
OFF(struct nvmm_io, vcpu, 8);
OFF(struct nvmm_io, port, 16);
OFF(struct nvmm_io, in, 18);
OFF(struct nvmm_io, size, 24);
OFF(struct nvmm_io, data, 32);
MTYPE(struct nvmm_io, mach, struct nvmm_machine *);
MTYPE(struct nvmm_io, vcpu, struct nvmm_vcpu *);
MTYPE(struct nvmm_io, port, uint16_t);
MTYPE(struct nvmm_io, in, bool);
MTYPE(struct nvmm_io, size, size_t);
MTYPE(struct nvmm_io, data, uint8_t *);

OFF(struct nvmm_mem, mach, 0);
OFF(struct nvmm_mem, vcpu, 8);
OFF(struct nvmm_mem, gpa, 16);
OFF(struct nvmm_mem, write, 24);
OFF(struct nvmm_mem, size, 32);
OFF(struct nvmm_mem, data, 40);
MTYPE(struct nvmm_mem, mach, struct nvmm_machine *);
MTYPE(struct nvmm_mem, vcpu, struct nvmm_vcpu *);
MTYPE(struct nvmm_mem, gpa, gpaddr_t);
MTYPE(struct nvmm_mem, write, bool);
MTYPE(struct nvmm_mem, size, size_t);
MTYPE(struct nvmm_mem, data, uint8_t *);

/* -------------------------------------------------------------------------
 * 2.11 Protections, 2.12 control.
 * ------------------------------------------------------------------------- */

SA(NVMM_PROT_READ == 0x01);
SA(NVMM_PROT_WRITE == 0x02);
SA(NVMM_PROT_EXEC == 0x04);
SA(NVMM_PROT_USER == 0x08);
SA(NVMM_PROT_ALL == 0x0F);

SA(NVMM_CTL_MACH_INFO == 0);
OFF(struct nvmm_ctl_mach_info, machid, 0);
OFF(struct nvmm_ctl_mach_info, nvcpus, 4);
OFF(struct nvmm_ctl_mach_info, nram, 8);
OFF(struct nvmm_ctl_mach_info, pid, 16);
OFF(struct nvmm_ctl_mach_info, time, 24);
MTYPE(struct nvmm_ctl_mach_info, machid, nvmm_machid_t);
MTYPE(struct nvmm_ctl_mach_info, nvcpus, uint32_t);
MTYPE(struct nvmm_ctl_mach_info, nram, uint64_t);
MTYPE(struct nvmm_ctl_mach_info, pid, pid_t);
MTYPE(struct nvmm_ctl_mach_info, time, time_t);

/* -------------------------------------------------------------------------
 * Section 3: the 24 prototypes.
 * ------------------------------------------------------------------------- */

IS_TYPE(&nvmm_init, int (*)(void));
IS_TYPE(&nvmm_root_init, int (*)(void));
IS_TYPE(&nvmm_capability, int (*)(struct nvmm_capability *));
IS_TYPE(&nvmm_machine_create, int (*)(struct nvmm_machine *));
IS_TYPE(&nvmm_machine_destroy, int (*)(struct nvmm_machine *));
IS_TYPE(&nvmm_machine_configure,
    int (*)(struct nvmm_machine *, uint64_t, void *));
IS_TYPE(&nvmm_vcpu_create,
    int (*)(struct nvmm_machine *, nvmm_cpuid_t, struct nvmm_vcpu *));
IS_TYPE(&nvmm_vcpu_destroy, int (*)(struct nvmm_machine *, struct nvmm_vcpu *));
IS_TYPE(&nvmm_vcpu_configure,
    int (*)(struct nvmm_machine *, struct nvmm_vcpu *, uint64_t, void *));
IS_TYPE(&nvmm_vcpu_setstate,
    int (*)(struct nvmm_machine *, struct nvmm_vcpu *, uint64_t));
IS_TYPE(&nvmm_vcpu_getstate,
    int (*)(struct nvmm_machine *, struct nvmm_vcpu *, uint64_t));
IS_TYPE(&nvmm_vcpu_inject, int (*)(struct nvmm_machine *, struct nvmm_vcpu *));
IS_TYPE(&nvmm_vcpu_run, int (*)(struct nvmm_machine *, struct nvmm_vcpu *));
IS_TYPE(&nvmm_vcpu_stop, int (*)(struct nvmm_vcpu *));
IS_TYPE(&nvmm_gpa_map,
    int (*)(struct nvmm_machine *, uintptr_t, gpaddr_t, size_t, int));
IS_TYPE(&nvmm_gpa_unmap,
    int (*)(struct nvmm_machine *, uintptr_t, gpaddr_t, size_t));
IS_TYPE(&nvmm_hva_map, int (*)(struct nvmm_machine *, uintptr_t, size_t));
IS_TYPE(&nvmm_hva_unmap, int (*)(struct nvmm_machine *, uintptr_t, size_t));
IS_TYPE(&nvmm_gva_to_gpa, int (*)(struct nvmm_machine *, struct nvmm_vcpu *,
    gvaddr_t, gpaddr_t *, nvmm_prot_t *));
IS_TYPE(&nvmm_gpa_to_hva,
    int (*)(struct nvmm_machine *, gpaddr_t, uintptr_t *, nvmm_prot_t *));
IS_TYPE(&nvmm_assist_io, int (*)(struct nvmm_machine *, struct nvmm_vcpu *));
IS_TYPE(&nvmm_assist_mem, int (*)(struct nvmm_machine *, struct nvmm_vcpu *));
IS_TYPE(&nvmm_ctl, int (*)(int, void *, size_t));
IS_TYPE(&nvmm_vcpu_dump, int (*)(struct nvmm_machine *, struct nvmm_vcpu *));

/* -------------------------------------------------------------------------
 * 1.1 Bit helpers, computed in uintmax_t.
 * ------------------------------------------------------------------------- */

IS_TYPE(__BIT(0), uintmax_t);
IS_TYPE(__BITS(3, 0), uintmax_t);
SA(__BIT(0) == 1);
SA(__BIT(5) == 0x20);
SA(__BIT(31) == 0x80000000ULL);
SA(__BIT(63) == 0x8000000000000000ULL);
SA(__BIT(64) == 0);
SA(__BIT(100) == 0);
SA(__BITS(0, 0) == 1);
SA(__BITS(3, 0) == 0xF);
SA(__BITS(0, 3) == 0xF);
SA(__BITS(11, 4) == 0xFF0);
SA(__BITS(4, 11) == 0xFF0);
SA(__BITS(63, 0) == UINTMAX_MAX);
SA(__BITS(0, 63) == UINTMAX_MAX);
SA(__BITS(63, 60) == 0xF000000000000000ULL);
SA(__BITS(31, 31) == 0x80000000ULL);
SA(__LOWEST_SET_BIT(0xFF0) == 0x10);
SA(__LOWEST_SET_BIT(0x8000000000000000ULL) == 0x8000000000000000ULL);
SA(__LOWEST_SET_BIT(__BITS(11, 4)) == 0x10);
SA(__LOWEST_SET_BIT(0x6) == 0x2);
SA(__SHIFTOUT(0xABCD, __BITS(11, 4)) == 0xBC);
SA(__SHIFTOUT(0xABCD, __BITS(3, 0)) == 0xD);
SA(__SHIFTOUT(0xF000000000000000ULL, __BITS(63, 60)) == 0xF);
SA(__SHIFTOUT(0x30, __BIT(4)) == 1);
SA(__SHIFTIN(0xBC, __BITS(11, 4)) == 0xBC0);
SA(__SHIFTIN(5, __BITS(10, 8)) == 0x500);
SA(__SHIFTIN(1, __BIT(63)) == 0x8000000000000000ULL);
SA(__SHIFTOUT(__SHIFTIN(0x2A, __BITS(21, 14)), __BITS(21, 14)) == 0x2A);

/* -------------------------------------------------------------------------
 * 1.1 EPROGMISMATCH: defined, and none of the errnos libnvmm returns.
 * ------------------------------------------------------------------------- */

SA(EPROGMISMATCH > 0);
SA(EPROGMISMATCH != EINVAL);
SA(EPROGMISMATCH != ENOENT);
SA(EPROGMISMATCH != EPERM);
SA(EPROGMISMATCH != EBUSY);
SA(EPROGMISMATCH != ENOBUFS);
SA(EPROGMISMATCH != EFAULT);
SA(EPROGMISMATCH != EEXIST);
SA(EPROGMISMATCH != ESRCH);
SA(EPROGMISMATCH != ENXIO);
SA(EPROGMISMATCH != EACCES);
SA(EPROGMISMATCH != EBADF);
SA(EPROGMISMATCH != ENOMEM);
SA(EPROGMISMATCH != EINTR);
SA(EPROGMISMATCH != EAGAIN);

/* -------------------------------------------------------------------------
 * Run time: bit-field positions, which offsetof cannot see.
 * ------------------------------------------------------------------------- */

#include <string.h>

#include "vmtest.h"

/* Byte offset and 16/32/64-bit raw value of a bit-field word. */
static uint64_t
raw(const void *obj, size_t off, size_t size)
{
	uint64_t v = 0;

	memcpy(&v, (const char *)obj + off, size);
	return v;
}

static void
check_seg_attrib(void)
{
	struct nvmm_x64_state_seg s;

#define ATTRIB(field, all, mask) do {					\
	memset(&s, 0, sizeof(s));					\
	s.attrib.field = (all);						\
	CHECK(raw(&s, 2, 2) == (mask) && raw(&s, 0, 2) == 0 &&		\
	    raw(&s, 4, 4) == 0 && raw(&s, 8, 8) == 0,			\
	    "attrib." #field " raw %#llx, expected %#x",		\
	    (unsigned long long)raw(&s, 2, 2), (mask));			\
} while (0)
	ATTRIB(type, 0xF, 0x000F);
	ATTRIB(s, 1, 0x0010);
	ATTRIB(dpl, 3, 0x0060);
	ATTRIB(p, 1, 0x0080);
	ATTRIB(avl, 1, 0x0100);
	ATTRIB(l, 1, 0x0200);
	ATTRIB(def, 1, 0x0400);
	ATTRIB(g, 1, 0x0800);
	ATTRIB(rsvd, 0xF, 0xF000);
#undef ATTRIB

	/* A 64-bit code segment (AMD layout: 0xa9b, not VMX's 0xa09b). */
	memset(&s, 0, sizeof(s));
	s.attrib.type = 11;
	s.attrib.s = 1;
	s.attrib.p = 1;
	s.attrib.l = 1;
	s.attrib.g = 1;
	CHECK_EQ(raw(&s, 2, 2), 0x0a9b);
}

static void
check_intr(void)
{
	struct nvmm_x64_state_intr i;
	struct nvmm_x64_state st;

#define INTR(field, all, mask) do {					\
	memset(&i, 0, sizeof(i));					\
	i.field = (all);						\
	CHECK(raw(&i, 0, 8) == (mask), "intr." #field " raw %#llx",	\
	    (unsigned long long)raw(&i, 0, 8));				\
} while (0)
	INTR(int_shadow, 1, 0x1ULL);
	INTR(int_window_exiting, 1, 0x2ULL);
	INTR(nmi_window_exiting, 1, 0x4ULL);
	INTR(evt_pending, 1, 0x8ULL);
	INTR(rsvd, (1ULL << 60) - 1, 0xFFFFFFFFFFFFFFF0ULL);
#undef INTR

	/* In the state, at offset 488. */
	memset(&st, 0, sizeof(st));
	st.intr.evt_pending = 1;
	CHECK_EQ(raw(&st, 488, 8), 0x8);
}

static void
check_exitstate(void)
{
	struct nvmm_x86_exit x;

#define EXST(field, all, mask) do {					\
	memset(&x, 0, sizeof(x));					\
	x.exitstate.field = (all);					\
	CHECK(raw(&x, 56, 8) == (mask), "exitstate." #field		\
	    " raw %#llx", (unsigned long long)raw(&x, 56, 8));		\
} while (0)
	EXST(int_shadow, 1, 0x1ULL);
	EXST(int_window_exiting, 1, 0x2ULL);
	EXST(nmi_window_exiting, 1, 0x4ULL);
	EXST(evt_pending, 1, 0x8ULL);
	EXST(rsvd, (1ULL << 60) - 1, 0xFFFFFFFFFFFFFFF0ULL);
#undef EXST

	memset(&x, 0, sizeof(x));
	x.exitstate.rflags = 0x202;
	x.exitstate.cr8 = 15;
	CHECK_EQ(raw(&x, 40, 8), 0x202);
	CHECK_EQ(raw(&x, 48, 8), 15);
	CHECK_EQ(raw(&x, 56, 8), 0);
}

static void
check_conf_bits(void)
{
	struct nvmm_vcpu_conf_cpuid c;
	struct nvmm_vcpu_conf_tpr t;

	memset(&c, 0, sizeof(c));
	c.mask = 1;
	CHECK_EQ(raw(&c, 0, 4), 0x1);
	memset(&c, 0, sizeof(c));
	c.exit = 1;
	CHECK_EQ(raw(&c, 0, 4), 0x2);
	memset(&c, 0, sizeof(c));
	c.rsvd = 0x3FFFFFFF;
	CHECK_EQ(raw(&c, 0, 4), 0xFFFFFFFC);
	CHECK_EQ(raw(&c, 4, 4), 0);

	memset(&t, 0, sizeof(t));
	t.exit_changed = 1;
	CHECK_EQ(raw(&t, 0, 4), 0x1);
	memset(&t, 0, sizeof(t));
	t.rsvd = 0x7FFFFFFF;
	CHECK_EQ(raw(&t, 0, 4), 0xFFFFFFFE);
}

/* The bit helpers with run-time operands (no constant folding). */
static void
check_bit_macros(void)
{
	volatile unsigned int n64 = 64, n0 = 0, n63 = 63, n200 = 200;
	volatile uintmax_t x = 0xABCD;

	CHECK_EQ(__BIT(n64), 0);
	CHECK_EQ(__BIT(n200), 0);
	CHECK_EQ(__BIT(n0), 1);
	CHECK_EQ(__BIT(n63), 0x8000000000000000ULL);
	CHECK_EQ(__BITS(n63, n0), UINTMAX_MAX);
	CHECK_EQ(__BITS(n0, n63), UINTMAX_MAX);
	CHECK_EQ(__SHIFTOUT(x, __BITS(15, 8)), 0xAB);
	CHECK_EQ(__SHIFTIN(x & 0xF, __BITS(7, 4)), 0xD0);
}

int
main(void)
{
	check_seg_attrib();
	check_intr();
	check_exitstate();
	check_conf_bits();
	check_bit_macros();
	return vmt_done("t_layout");
}
