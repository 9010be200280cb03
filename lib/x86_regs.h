/* x86_regs.h - named x86 architectural constants: register bits, MSR numbers, exception vectors. */

#ifndef _NVMM_X86_REGS_H_
#define _NVMM_X86_REGS_H_

/* RFLAGS. */
#define X86_RFLAGS_IF		(1ULL << 9)
#define X86_RFLAGS_DF		(1ULL << 10)
#define X86_RFLAGS_RF		(1ULL << 16)

/* Control registers. */
#define X86_CR0_PE		(1ULL << 0)
#define X86_CR0_ET		(1ULL << 4)
#define X86_CR0_NW		(1ULL << 29)
#define X86_CR0_CD		(1ULL << 30)
#define X86_CR0_PG		(1ULL << 31)
#define X86_CR4_PSE		(1ULL << 4)
#define X86_CR4_PAE		(1ULL << 5)
#define X86_CR4_OSXSAVE		(1ULL << 18)
#define X86_CPUID1_ECX_XSAVE	(1u << 26)
#define X86_CPUID1_ECX_OSXSAVE	(1u << 27)

/* EFER. */
#define X86_EFER_LME		(1ULL << 8)
#define X86_EFER_LMA		(1ULL << 10)

/* XCR0 components. */
#define X86_XCR0_X87		(1ULL << 0)
#define X86_XCR0_SSE		(1ULL << 1)

/* Debug registers. */
#define X86_DR6_RESET		0xffff0ff0ULL
#define X86_DR7_RESET		0x400ULL

/* MSRs. */
#define X86_MSR_TSC		0x00000010
#define X86_MSR_PLATFORM_ID	0x00000017
#define X86_MSR_APICBASE	0x0000001b
#define X86_MSR_BIOS_SIGN	0x0000008b
#define X86_MSR_ARCH_CAPABILITIES 0x0000010a
#define X86_MSR_SYSENTER_CS	0x00000174
#define X86_MSR_SYSENTER_ESP	0x00000175
#define X86_MSR_SYSENTER_EIP	0x00000176
#define X86_MSR_MISC_ENABLE	0x000001a0
#define X86_MSR_PAT		0x00000277
#define X86_MSR_EFER		0xc0000080
#define X86_MSR_STAR		0xc0000081
#define X86_MSR_LSTAR		0xc0000082
#define X86_MSR_CSTAR		0xc0000083
#define X86_MSR_SFMASK		0xc0000084
#define X86_MSR_FSBASE		0xc0000100
#define X86_MSR_GSBASE		0xc0000101
#define X86_MSR_KERNELGSBASE	0xc0000102

/* Exception vectors. */
#define X86_EXC_DE		0
#define X86_EXC_DB		1
#define X86_EXC_NMI		2
#define X86_EXC_BP		3
#define X86_EXC_OF		4
#define X86_EXC_UD		6
#define X86_EXC_DF		8
#define X86_EXC_MC		18

/* The longest instruction the CPU accepts. */
#define X86_MAX_INSN_LEN	15

#endif
