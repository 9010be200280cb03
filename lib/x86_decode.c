/* x86_decode.c - decodes IN/OUT/INS/OUTS and RDMSR/WRMSR to fill NVMM exit fields. */

/*
 * The bytes come from guest memory and are hostile: every access is
 * checked against n, and decoding stops at the architectural maximum
 * instruction length of 15 bytes whatever n is.  Failures return -1 with
 * errno EINVAL; *out is written only on success.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nvmm.h>

#include "x86_decode.h"
#include "x86_regs.h"


/* -------------------------------------------------------------------------
 * Prefixes.
 * ------------------------------------------------------------------------- */

struct prefixes {
	size_t len;		/* bytes of prefixes; the opcode is at bytes[len] */
	bool opsize;		/* 66 */
	bool adsize;		/* 67 */
	bool rep;		/* F3 or F2 */
	int seg;		/* last segment override, or -1 */
	uint8_t rex;		/* REX byte, 0 if none */
};

/* Segment register selected by a segment-override prefix, or -1. */
static int
seg_override(uint8_t b)
{
	switch (b) {
	case 0x26: return NVMM_X64_SEG_ES;
	case 0x2E: return NVMM_X64_SEG_CS;
	case 0x36: return NVMM_X64_SEG_SS;
	case 0x3E: return NVMM_X64_SEG_DS;
	case 0x64: return NVMM_X64_SEG_FS;
	case 0x65: return NVMM_X64_SEG_GS;
	default: return -1;
	}
}

static bool
is_legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0x66: case 0x67: case 0xF0: case 0xF2: case 0xF3:
		return true;
	default:
		return seg_override(b) != -1;
	}
}

static bool
valid_mode(int mode)
{
	return mode == X86_MODE_16 || mode == X86_MODE_32 ||
	    mode == X86_MODE_64;
}

/*
 * Scans {legacy prefix}* [REX] and stops on the first other byte, which
 * must exist within both n and the 15-byte limit.  A REX is only a prefix
 * in 64-bit mode (elsewhere 40-4F are INC/DEC and end the scan), and must
 * be followed directly by the opcode: a legacy prefix or a second REX
 * after it is refused.
 */
static int
scan_prefixes(const uint8_t *bytes, size_t n, int mode, struct prefixes *p)
{
	size_t i, lim;
	uint8_t b;

	p->opsize = p->adsize = p->rep = false;
	p->seg = -1;
	p->rex = 0;

	lim = n < X86_MAX_INSN_LEN ? n : X86_MAX_INSN_LEN;
	for (i = 0; i < lim; i++) {
		b = bytes[i];
		if (!is_legacy_prefix(b))
			break;
		if (b == 0x66)
			p->opsize = true;
		else if (b == 0x67)
			p->adsize = true;
		else if (b == 0xF2 || b == 0xF3)
			p->rep = true;
		else if (seg_override(b) != -1)
			p->seg = seg_override(b);
		/* F0 (LOCK) has no effect on what is reported. */
	}
	if (i >= lim)
		return -1;

	if (mode == X86_MODE_64 && (bytes[i] & 0xF0) == 0x40) {
		p->rex = bytes[i];
		i++;
		if (i >= lim)
			return -1;
		b = bytes[i];
		if (is_legacy_prefix(b) || (b & 0xF0) == 0x40)
			return -1;
	}
	p->len = i;
	return 0;
}

/* -------------------------------------------------------------------------
 * IN, OUT, INS, OUTS.
 * ------------------------------------------------------------------------- */

int
x86_decode_io(const uint8_t *bytes, size_t n, int mode,
    struct x86_insn_io *out)
{
	struct x86_insn_io io;
	struct prefixes p;
	size_t len;
	uint8_t op;

	if (bytes == NULL || out == NULL || !valid_mode(mode))
		goto fail;
	if (scan_prefixes(bytes, n, mode, &p) == -1)
		goto fail;

	op = bytes[p.len];
	len = p.len + 1;

	io.imm_port = false;
	io.port = 0;
	switch (op) {
	case 0xE4: case 0xE5: case 0xE6: case 0xE7:
		/* IN/OUT with an imm8 port, part of the instruction. */
		if (len >= n || len >= X86_MAX_INSN_LEN)
			goto fail;
		io.imm_port = true;
		io.port = bytes[len];
		len++;
		io.str = false;
		io.in = (op & 0x02) == 0;
		break;
	case 0xEC: case 0xED: case 0xEE: case 0xEF:
		io.str = false;
		io.in = (op & 0x02) == 0;
		break;
	case 0x6C: case 0x6D: case 0x6E: case 0x6F:
		io.str = true;
		io.in = (op & 0x02) == 0;
		break;
	default:
		goto fail;
	}

	/* Even opcodes are byte forms; REX.W does not widen I/O. */
	if ((op & 0x01) == 0)
		io.operand_size = 1;
	else if (mode == X86_MODE_16)
		io.operand_size = p.opsize ? 4 : 2;
	else
		io.operand_size = p.opsize ? 2 : 4;

	switch (mode) {
	case X86_MODE_64:
		io.address_size = p.adsize ? 4 : 8;
		break;
	case X86_MODE_32:
		io.address_size = p.adsize ? 2 : 4;
		break;
	default:
		io.address_size = p.adsize ? 4 : 2;
		break;
	}

	io.rep = p.rep;

	/* INS always writes ES:rDI; OUTS reads seg:rSI, DS unless overridden. */
	if (!io.str)
		io.seg = -1;
	else if (io.in)
		io.seg = NVMM_X64_SEG_ES;
	else
		io.seg = p.seg != -1 ? p.seg : NVMM_X64_SEG_DS;

	io.len = (uint8_t)len;
	*out = io;
	return 0;

fail:
	errno = EINVAL;
	return -1;
}

/* -------------------------------------------------------------------------
 * RDMSR, WRMSR.
 * ------------------------------------------------------------------------- */

int
x86_decode_msr(const uint8_t *bytes, size_t n, int mode, uint8_t *len,
    bool *is_write)
{
	struct prefixes p;
	size_t l;

	if (bytes == NULL || len == NULL || is_write == NULL ||
	    !valid_mode(mode))
		goto fail;
	if (scan_prefixes(bytes, n, mode, &p) == -1)
		goto fail;

	/* 0F, then 30 or 32: two bytes after the prefixes. */
	l = p.len + 2;
	if (l > n || l > X86_MAX_INSN_LEN)
		goto fail;
	if (bytes[p.len] != 0x0F)
		goto fail;
	if (bytes[p.len + 1] == 0x30)
		*is_write = true;
	else if (bytes[p.len + 1] == 0x32)
		*is_write = false;
	else
		goto fail;
	*len = (uint8_t)l;
	return 0;

fail:
	errno = EINVAL;
	return -1;
}

/* -------------------------------------------------------------------------
 * Memory instructions that only read.
 * ------------------------------------------------------------------------- */

/* The ModRM reg field of the byte after the opcode, or -1. */
static int
modrm_reg(const uint8_t *bytes, size_t n, size_t at)
{
	if (at >= n || at >= X86_MAX_INSN_LEN)
		return -1;
	return (bytes[at] >> 3) & 7;
}

bool
x86_insn_mem_readonly(const uint8_t *bytes, size_t n, int mode)
{
	struct prefixes p;
	uint8_t op;
	int reg;

	if (bytes == NULL || !valid_mode(mode) ||
	    scan_prefixes(bytes, n, mode, &p) == -1)
		return false;
	op = bytes[p.len];
	switch (op) {
	case 0x02: case 0x03: case 0x0A: case 0x0B:	/* ADD/OR r, r/m */
	case 0x12: case 0x13: case 0x1A: case 0x1B:	/* ADC/SBB r, r/m */
	case 0x22: case 0x23: case 0x2A: case 0x2B:	/* AND/SUB r, r/m */
	case 0x32: case 0x33:				/* XOR r, r/m */
	case 0x38: case 0x39: case 0x3A: case 0x3B:	/* CMP */
	case 0x84: case 0x85:				/* TEST r/m, r */
	case 0x8A: case 0x8B:				/* MOV r, r/m */
	case 0xA0: case 0xA1:				/* MOV acc, moffs */
	case 0xAC: case 0xAD:				/* LODS */
		return true;
	case 0x63:					/* MOVSXD */
		return mode == X86_MODE_64;
	case 0x80: case 0x81: case 0x83:		/* CMP r/m, imm */
		return modrm_reg(bytes, n, p.len + 1) == 7;
	case 0xF6: case 0xF7:				/* TEST r/m, imm */
		reg = modrm_reg(bytes, n, p.len + 1);
		return reg == 0 || reg == 1;
	case 0x0F:
		if (p.len + 1 >= n || p.len + 1 >= X86_MAX_INSN_LEN)
			return false;
		switch (bytes[p.len + 1]) {
		case 0xB6: case 0xB7: case 0xBE: case 0xBF:	/* MOVZX/SX */
		case 0xA3:					/* BT r/m, r */
			return true;
		case 0xBA:					/* BT imm */
			return modrm_reg(bytes, n, p.len + 2) == 4;
		default:
			return false;
		}
	default:
		return false;
	}
}
