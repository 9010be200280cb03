/* x86_decode.h - the little x86 decoding libnvmm needs to fill exit fields. */

#ifndef _NVMM_X86_DECODE_H_
#define _NVMM_X86_DECODE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default operand/address size of the code segment, in bytes. */
#define X86_MODE_16	2
#define X86_MODE_32	4
#define X86_MODE_64	8

/* An IN, OUT, INS or OUTS instruction, decoded. */
struct x86_insn_io {
	uint8_t len;		/* total length, prefixes included */
	bool in;		/* IN/INS */
	bool str;		/* INS/OUTS */
	bool rep;		/* F3 or F2 prefix present */
	int8_t seg;		/* string source segment (NVMM_X64_SEG_*): the
				   override, else DS for OUTS, ES for INS;
				   -1 for non-string forms */
	uint8_t address_size;	/* 2, 4 or 8 */
	uint8_t operand_size;	/* 1, 2 or 4 */
	bool imm_port;		/* port is an imm8 (E4-E7) */
	uint8_t port;		/* that imm8 */
};

/*
 * Decodes the I/O instruction at bytes[0..n), with mode one of X86_MODE_*.
 * Legacy prefixes (66 67 F2 F3 F0 2E 36 3E 26 64 65) in any number and
 * order, then a REX prefix in 64-bit mode only, then one of E4-E7, EC-EF,
 * 6C-6F.  Returns 0 and fills *out, or -1 if the bytes are not such an
 * instruction or n is too short.  Never reads past bytes[n-1].
 */
int x86_decode_io(const uint8_t *bytes, size_t n, int mode,
    struct x86_insn_io *out);

/*
 * Decodes RDMSR (0F 32) or WRMSR (0F 30) with optional legacy/REX
 * prefixes.  Returns 0 with *len and *is_write, or -1.
 */
int x86_decode_msr(const uint8_t *bytes, size_t n, int mode, uint8_t *len,
    bool *is_write);

/*
 * True when the instruction at bytes[0..n) is one of the memory-reading
 * instructions that write no memory (MOV/MOVZX/MOVSX loads, ALU and CMP
 * with a register destination, TEST, BT, LODS): completing it only
 * changes registers.  False for anything else or when unsure.
 */
bool x86_insn_mem_readonly(const uint8_t *bytes, size_t n, int mode);

/* -------------------------------------------------------------------------
 * Locating the instruction of an I/O exit (x86_decode_out.c).
 * ------------------------------------------------------------------------- */

/*
 * An I/O exit as a hypervisor that executes the instruction itself
 * reports it, and the guest bytes around RIP.  RIP may be on the
 * instruction or already past it (an OUT or OUTS retired before the exit).
 */
struct x86_io_site {
	const uint8_t *at;	/* bytes at RIP */
	size_t nat;
	const uint8_t *before;	/* the nbefore bytes that end at RIP */
	size_t nbefore;		/* 0 when they could not be read */
	int mode;		/* X86_MODE_* */
	bool in;
	uint16_t port;
	uint8_t operand_size;
	uint64_t rcx;
	uint64_t rdx;
	/* For an OUTS that would end at RIP: 1 if the exit's data are the
	   bytes at its source, else 0. */
	int (*src_matches)(const struct x86_insn_io *, void *arg);
	void *arg;
};

enum x86_io_where {
	X86_IO_UNKNOWN,		/* no I/O instruction fits the exit */
	X86_IO_AT_RIP,		/* the instruction starts at RIP */
	X86_IO_BEFORE_RIP,	/* it ends at RIP: retired before the exit */
};

/*
 * Finds the instruction of the exit and decodes it into *d.  A plain OUT
 * that fits both readings is resolved by what this host was seen doing
 * (learned from earlier exits, process-wide), or by what the caller set
 * with x86_io_out_retired().
 */
enum x86_io_where x86_io_locate(const struct x86_io_site *,
    struct x86_insn_io *d);

/* The host's rule for plain OUTs is known: 1 retired at the exit, 0 at
   the completion.  Nothing is learned afterwards. */
void x86_io_out_retired(int retired);

#endif
