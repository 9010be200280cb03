/* t_decode.c - unit tests of the I/O and MSR instruction decoders (lib/x86_decode.c, lib/x86_decode_out.c); no KVM needed. */

/*
 * Two kinds of checks: literal table rows with hand-computed results, and
 * generated combinations (every opcode x mode x prefix set x REX) whose
 * expected results come from a small model written here.  Every decode
 * runs on an exact-size heap copy of the bytes, so ASan reports any read
 * past n; every valid instruction is also decoded truncated at every
 * shorter length.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvmm.h>

#include "vmtest.h"
#include "x86_decode.h"

/* -------------------------------------------------------------------------
 * Messages.
 * ------------------------------------------------------------------------- */

static const char *
hex(const uint8_t *b, size_t n)
{
	static char buf[3 * 64 + 1];
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < n && i < 64; i++)
		snprintf(buf + 3 * i, 4, "%02x ", b[i]);
	if (n > 0)
		buf[3 * (n < 64 ? n : 64) - 1] = '\0';
	return buf;
}

static const char *
mode_name(int mode)
{
	switch (mode) {
	case X86_MODE_16: return "16-bit";
	case X86_MODE_32: return "32-bit";
	case X86_MODE_64: return "64-bit";
	default: return "bad-mode";
	}
}

/* -------------------------------------------------------------------------
 * Decoding on exact-size heap buffers.
 * ------------------------------------------------------------------------- */

/* A heap copy of exactly n bytes.  For n = 0 a 1-byte block holding an
 * IN opcode is passed with n = 0: decoding it would be a bug. */
static uint8_t *
dup_exact(const uint8_t *b, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	if (p == NULL) {
		printf("malloc failed\n");
		exit(2);
	}
	if (n)
		memcpy(p, b, n);
	else
		p[0] = 0xEC;	/* an IN opcode the decoder must not look at */
	return p;
}

static int
decode_io(const uint8_t *b, size_t n, int mode, struct x86_insn_io *io)
{
	uint8_t *p = dup_exact(b, n);
	int ret;

	ret = x86_decode_io(p, n, mode, io);
	free(p);
	return ret;
}

static int
decode_msr(const uint8_t *b, size_t n, int mode, uint8_t *len, bool *wr)
{
	uint8_t *p = dup_exact(b, n);
	int ret;

	ret = x86_decode_msr(p, n, mode, len, wr);
	free(p);
	return ret;
}

/* -------------------------------------------------------------------------
 * Expected results.
 * ------------------------------------------------------------------------- */

static void
expect_io(const char *what, const uint8_t *b, size_t n, int mode,
    const struct x86_insn_io *want)
{
	struct x86_insn_io io;
	int ret;

	memset(&io, 0xA5, sizeof(io));
	ret = decode_io(b, n, mode, &io);
	CHECK(ret == 0, "%s: %s [%s]: expected success, got %d", what,
	    mode_name(mode), hex(b, n), ret);
	if (ret != 0)
		return;
#define FIELD(f, fmt) CHECK(io.f == want->f, "%s: %s [%s]: " #f		\
	" expected " fmt ", got " fmt, what, mode_name(mode), hex(b, n),	\
	want->f, io.f)
	FIELD(len, "%u");
	FIELD(in, "%d");
	FIELD(str, "%d");
	FIELD(rep, "%d");
	FIELD(seg, "%d");
	FIELD(address_size, "%u");
	FIELD(operand_size, "%u");
	FIELD(imm_port, "%d");
	if (want->imm_port)
		FIELD(port, "%#x");
#undef FIELD
}

static void
expect_io_fail(const char *what, const uint8_t *b, size_t n, int mode)
{
	struct x86_insn_io io, orig;
	int ret;

	memset(&io, 0xA5, sizeof(io));
	orig = io;
	errno = 0;
	ret = decode_io(b, n, mode, &io);
	CHECK(ret == -1, "%s: %s [%s] (n=%zu): expected failure, got %d "
	    "(len %u)", what, mode_name(mode), hex(b, n), n, ret, io.len);
	CHECK(errno == EINVAL, "%s: %s [%s]: expected errno EINVAL, got %d",
	    what, mode_name(mode), hex(b, n), errno);
	CHECK(memcmp(&io, &orig, sizeof(io)) == 0, "%s: %s [%s]: output "
	    "written on failure", what, mode_name(mode), hex(b, n));
}

static void
expect_msr(const char *what, const uint8_t *b, size_t n, int mode,
    uint8_t want_len, bool want_write)
{
	uint8_t len = 0xEE;
	bool wr = !want_write;
	int ret;

	ret = decode_msr(b, n, mode, &len, &wr);
	CHECK(ret == 0, "%s: %s [%s]: expected success, got %d", what,
	    mode_name(mode), hex(b, n), ret);
	if (ret != 0)
		return;
	CHECK(len == want_len, "%s: %s [%s]: expected len %u, got %u", what,
	    mode_name(mode), hex(b, n), want_len, len);
	CHECK(wr == want_write, "%s: %s [%s]: expected is_write %d, got %d",
	    what, mode_name(mode), hex(b, n), want_write, wr);
}

static void
expect_msr_fail(const char *what, const uint8_t *b, size_t n, int mode)
{
	uint8_t len = 0xEE;
	bool wr = true;
	int ret;

	errno = 0;
	ret = decode_msr(b, n, mode, &len, &wr);
	CHECK(ret == -1, "%s: %s [%s] (n=%zu): expected failure, got %d "
	    "(len %u)", what, mode_name(mode), hex(b, n), n, ret, len);
	CHECK(errno == EINVAL, "%s: %s [%s]: expected errno EINVAL, got %d",
	    what, mode_name(mode), hex(b, n), errno);
	CHECK(len == 0xEE && wr == true, "%s: %s [%s]: outputs written on "
	    "failure", what, mode_name(mode), hex(b, n));
}

/* Every proper prefix of a valid instruction must fail. */
static void
expect_truncations_fail(const char *what, const uint8_t *b, size_t len,
    int mode, bool msr)
{
	size_t n;

	for (n = 0; n < len; n++) {
		if (msr)
			expect_msr_fail(what, b, n, mode);
		else
			expect_io_fail(what, b, n, mode);
	}
}

/* -------------------------------------------------------------------------
 * Literal rows.
 * ------------------------------------------------------------------------- */

#define ES NVMM_X64_SEG_ES
#define CS NVMM_X64_SEG_CS
#define SS NVMM_X64_SEG_SS
#define DS NVMM_X64_SEG_DS
#define FS NVMM_X64_SEG_FS
#define GS NVMM_X64_SEG_GS

struct io_row {
	const char *what;
	int mode;
	uint8_t n;
	uint8_t b[20];
	int ok;
	struct x86_insn_io want;	/* len in str rep seg asz osz imm port */
};

#define M16 X86_MODE_16
#define M32 X86_MODE_32
#define M64 X86_MODE_64

static const struct io_row io_rows[] = {
	/* Plain forms, each mode. */
	{ "in al,imm", M64, 2, { 0xE4, 0x60 }, 1,
	  { 2, 1, 0, 0, -1, 8, 1, 1, 0x60 } },
	{ "in eax,imm", M64, 2, { 0xE5, 0x71 }, 1,
	  { 2, 1, 0, 0, -1, 8, 4, 1, 0x71 } },
	{ "out imm,al", M64, 2, { 0xE6, 0x80 }, 1,
	  { 2, 0, 0, 0, -1, 8, 1, 1, 0x80 } },
	{ "out imm,eax", M64, 2, { 0xE7, 0xFF }, 1,
	  { 2, 0, 0, 0, -1, 8, 4, 1, 0xFF } },
	{ "in al,dx", M64, 1, { 0xEC }, 1,
	  { 1, 1, 0, 0, -1, 8, 1, 0, 0 } },
	{ "in eax,dx", M64, 1, { 0xED }, 1,
	  { 1, 1, 0, 0, -1, 8, 4, 0, 0 } },
	{ "out dx,al", M64, 1, { 0xEE }, 1,
	  { 1, 0, 0, 0, -1, 8, 1, 0, 0 } },
	{ "out dx,eax", M64, 1, { 0xEF }, 1,
	  { 1, 0, 0, 0, -1, 8, 4, 0, 0 } },
	{ "insb", M64, 1, { 0x6C }, 1,
	  { 1, 1, 1, 0, ES, 8, 1, 0, 0 } },
	{ "insd", M64, 1, { 0x6D }, 1,
	  { 1, 1, 1, 0, ES, 8, 4, 0, 0 } },
	{ "outsb", M64, 1, { 0x6E }, 1,
	  { 1, 0, 1, 0, DS, 8, 1, 0, 0 } },
	{ "outsd", M64, 1, { 0x6F }, 1,
	  { 1, 0, 1, 0, DS, 8, 4, 0, 0 } },
	{ "in ax,dx (32)", M32, 2, { 0x66, 0xED }, 1,
	  { 2, 1, 0, 0, -1, 4, 2, 0, 0 } },
	{ "in ax,dx (16)", M16, 1, { 0xED }, 1,
	  { 1, 1, 0, 0, -1, 2, 2, 0, 0 } },
	{ "in eax,dx (16)", M16, 2, { 0x66, 0xED }, 1,
	  { 2, 1, 0, 0, -1, 2, 4, 0, 0 } },
	{ "out imm,ax (16)", M16, 2, { 0xE7, 0x92 }, 1,
	  { 2, 0, 0, 0, -1, 2, 2, 1, 0x92 } },
	{ "66 in al,dx (16)", M16, 2, { 0x66, 0xEC }, 1,
	  { 2, 1, 0, 0, -1, 2, 1, 0, 0 } },

	/* Prefix combinations. */
	{ "rep outsw 64", M64, 3, { 0xF3, 0x66, 0x6F }, 1,
	  { 3, 0, 1, 1, DS, 8, 2, 0, 0 } },
	{ "repne insb 64", M64, 2, { 0xF2, 0x6C }, 1,
	  { 2, 1, 1, 1, ES, 8, 1, 0, 0 } },
	{ "rep insd a32", M64, 3, { 0x67, 0xF3, 0x6D }, 1,
	  { 3, 1, 1, 1, ES, 4, 4, 0, 0 } },
	{ "rep outsd a16 (32)", M32, 3, { 0xF3, 0x67, 0x6F }, 1,
	  { 3, 0, 1, 1, DS, 2, 4, 0, 0 } },
	{ "rep outsw a32 (16)", M16, 3, { 0xF3, 0x67, 0x6F }, 1,
	  { 3, 0, 1, 1, DS, 4, 2, 0, 0 } },
	{ "rep outsd a32 o32 (16)", M16, 4, { 0x67, 0x66, 0xF3, 0x6F }, 1,
	  { 4, 0, 1, 1, DS, 4, 4, 0, 0 } },
	{ "fs outsb", M64, 2, { 0x64, 0x6E }, 1,
	  { 2, 0, 1, 0, FS, 8, 1, 0, 0 } },
	{ "gs rep outsd", M64, 3, { 0x65, 0xF3, 0x6F }, 1,
	  { 3, 0, 1, 1, GS, 8, 4, 0, 0 } },
	{ "cs outsb", M32, 2, { 0x2E, 0x6E }, 1,
	  { 2, 0, 1, 0, CS, 4, 1, 0, 0 } },
	{ "ss outsb", M32, 2, { 0x36, 0x6E }, 1,
	  { 2, 0, 1, 0, SS, 4, 1, 0, 0 } },
	{ "ds outsb", M32, 2, { 0x3E, 0x6E }, 1,
	  { 2, 0, 1, 0, DS, 4, 1, 0, 0 } },
	{ "es outsb", M16, 2, { 0x26, 0x6E }, 1,
	  { 2, 0, 1, 0, ES, 2, 1, 0, 0 } },
	{ "last seg wins", M32, 4, { 0x64, 0x2E, 0x65, 0x6F }, 1,
	  { 4, 0, 1, 0, GS, 4, 4, 0, 0 } },
	{ "last seg wins 2", M32, 5, { 0x65, 0xF3, 0x36, 0x66, 0x6F }, 1,
	  { 5, 0, 1, 1, SS, 4, 2, 0, 0 } },
	{ "ins ignores seg", M64, 2, { 0x65, 0x6C }, 1,
	  { 2, 1, 1, 0, ES, 8, 1, 0, 0 } },
	{ "ins ignores cs", M16, 3, { 0x2E, 0xF3, 0x6D }, 1,
	  { 3, 1, 1, 1, ES, 2, 2, 0, 0 } },
	{ "seg on in: -1", M64, 2, { 0x65, 0xEC }, 1,
	  { 2, 1, 0, 0, -1, 8, 1, 0, 0 } },
	{ "seg on out imm: -1", M32, 3, { 0x3E, 0xE6, 0x70 }, 1,
	  { 3, 0, 0, 0, -1, 4, 1, 1, 0x70 } },
	{ "lock in", M64, 2, { 0xF0, 0xEC }, 1,
	  { 2, 1, 0, 0, -1, 8, 1, 0, 0 } },
	{ "66 66 toggles once", M32, 3, { 0x66, 0x66, 0xED }, 1,
	  { 3, 1, 0, 0, -1, 4, 2, 0, 0 } },
	{ "rep on in: rep", M64, 2, { 0xF3, 0xEC }, 1,
	  { 2, 1, 0, 1, -1, 8, 1, 0, 0 } },
	{ "67 on in", M64, 3, { 0x67, 0xE5, 0x10 }, 1,
	  { 3, 1, 0, 0, -1, 4, 4, 1, 0x10 } },

	/* REX in 64-bit mode. */
	{ "rex.w in", M64, 2, { 0x48, 0xED }, 1,
	  { 2, 1, 0, 0, -1, 8, 4, 0, 0 } },
	{ "66 rex.w in", M64, 3, { 0x66, 0x48, 0xED }, 1,
	  { 3, 1, 0, 0, -1, 8, 2, 0, 0 } },
	{ "rex.w outsd", M64, 3, { 0xF3, 0x48, 0x6F }, 1,
	  { 3, 0, 1, 1, DS, 8, 4, 0, 0 } },
	{ "rex in imm", M64, 3, { 0x41, 0xE4, 0x21 }, 1,
	  { 3, 1, 0, 0, -1, 8, 1, 1, 0x21 } },
	{ "rex 4f insb", M64, 4, { 0x65, 0x67, 0x4F, 0x6C }, 1,
	  { 4, 1, 1, 0, ES, 4, 1, 0, 0 } },

	/* Failures. */
	{ "rex in 32-bit", M32, 2, { 0x48, 0xED }, 0, { 0 } },
	{ "rex in 16-bit", M16, 2, { 0x40, 0xEC }, 0, { 0 } },
	{ "legacy after rex", M64, 3, { 0x48, 0x66, 0xED }, 0, { 0 } },
	{ "rep after rex", M64, 3, { 0x40, 0xF3, 0x6C }, 0, { 0 } },
	{ "seg after rex", M64, 3, { 0x41, 0x65, 0x6E }, 0, { 0 } },
	{ "rex rex", M64, 3, { 0x48, 0x41, 0xED }, 0, { 0 } },
	{ "nop", M64, 1, { 0x90 }, 0, { 0 } },
	{ "0f", M64, 2, { 0x0F, 0xEC }, 0, { 0 } },
	{ "mov", M64, 3, { 0x89, 0x07, 0xEC }, 0, { 0 } },
	{ "vex", M64, 3, { 0xC5, 0xF8, 0xEC }, 0, { 0 } },
	{ "in ax? (e8)", M64, 2, { 0xE8, 0xEC }, 0, { 0 } },
	{ "6b", M64, 1, { 0x6B }, 0, { 0 } },
	{ "70", M64, 1, { 0x70 }, 0, { 0 } },
	{ "e3", M64, 2, { 0xE3, 0x00 }, 0, { 0 } },
	{ "f0 only", M64, 1, { 0xF0 }, 0, { 0 } },
	{ "rex only", M64, 1, { 0x48 }, 0, { 0 } },
	{ "e4 no imm", M32, 1, { 0xE4 }, 0, { 0 } },
	{ "66 e7 no imm", M16, 2, { 0x66, 0xE7 }, 0, { 0 } },
};

static void
test_io_rows(void)
{
	size_t i;

	for (i = 0; i < sizeof(io_rows) / sizeof(io_rows[0]); i++) {
		const struct io_row *r = &io_rows[i];

		if (r->ok) {
			expect_io(r->what, r->b, r->n, r->mode, &r->want);
			expect_truncations_fail(r->what, r->b, r->n, r->mode,
			    false);
		} else {
			expect_io_fail(r->what, r->b, r->n, r->mode);
		}
	}
}

/* -------------------------------------------------------------------------
 * Generated combinations: opcode x mode x prefixes x REX.
 * ------------------------------------------------------------------------- */

static const uint8_t io_opcodes[] = { 0xE4, 0xE5, 0xE6, 0xE7, 0xEC, 0xED,
    0xEE, 0xEF, 0x6C, 0x6D, 0x6E, 0x6F };

static const struct {
	uint8_t n;
	uint8_t b[8];
} prefix_sets[] = {
	{ 0, { 0 } },
	{ 1, { 0x66 } },
	{ 1, { 0x67 } },
	{ 1, { 0xF3 } },
	{ 1, { 0xF2 } },
	{ 1, { 0xF0 } },
	{ 1, { 0x26 } },
	{ 1, { 0x2E } },
	{ 1, { 0x36 } },
	{ 1, { 0x3E } },
	{ 1, { 0x64 } },
	{ 1, { 0x65 } },
	{ 2, { 0x66, 0x67 } },
	{ 2, { 0x67, 0x66 } },
	{ 2, { 0xF3, 0x66 } },
	{ 2, { 0x66, 0xF3 } },
	{ 2, { 0x2E, 0x64 } },
	{ 2, { 0x65, 0x26 } },
	{ 3, { 0xF2, 0xF3, 0x67 } },
	{ 4, { 0x3E, 0xF3, 0x66, 0x67 } },
	{ 5, { 0x64, 0x66, 0x65, 0xF0, 0x36 } },
	{ 6, { 0x66, 0x66, 0x67, 0x67, 0xF3, 0xF3 } },
	{ 8, { 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0xF2, 0x66 } },
};

/* The model: expected fields from the prefix bytes, independently. */
static void
model_io(const uint8_t *pfx, size_t npfx, uint8_t rex, uint8_t op, int mode,
    struct x86_insn_io *w)
{
	bool o66 = false, a67 = false, rep = false;
	int seg = -1;
	size_t i;

	(void)rex;	/* REX.W never changes an I/O operand size */
	for (i = 0; i < npfx; i++) {
		switch (pfx[i]) {
		case 0x66: o66 = true; break;
		case 0x67: a67 = true; break;
		case 0xF2: case 0xF3: rep = true; break;
		case 0x26: seg = ES; break;
		case 0x2E: seg = CS; break;
		case 0x36: seg = SS; break;
		case 0x3E: seg = DS; break;
		case 0x64: seg = FS; break;
		case 0x65: seg = GS; break;
		default: break;
		}
	}
	memset(w, 0, sizeof(*w));
	w->imm_port = op >= 0xE4 && op <= 0xE7;
	w->len = (uint8_t)(npfx + (rex ? 1 : 0) + 1 + (w->imm_port ? 1 : 0));
	w->in = op == 0xE4 || op == 0xE5 || op == 0xEC || op == 0xED ||
	    op == 0x6C || op == 0x6D;
	w->str = op >= 0x6C && op <= 0x6F;
	w->rep = rep;
	if (!w->str)
		w->seg = -1;
	else if (w->in)
		w->seg = ES;
	else
		w->seg = seg == -1 ? DS : seg;
	if (op == 0xE4 || op == 0xE6 || op == 0xEC || op == 0xEE ||
	    op == 0x6C || op == 0x6E)
		w->operand_size = 1;
	else if (mode == M16)
		w->operand_size = o66 ? 4 : 2;
	else
		w->operand_size = o66 ? 2 : 4;
	if (mode == M64)
		w->address_size = a67 ? 4 : 8;
	else if (mode == M32)
		w->address_size = a67 ? 2 : 4;
	else
		w->address_size = a67 ? 4 : 2;
}

static void
test_io_generated(void)
{
	static const int modes[3] = { M16, M32, M64 };
	static const uint8_t rexes[] = { 0, 0x40, 0x41, 0x48, 0x4F };
	size_t o, p, x, m, len;
	uint8_t b[32];
	char what[80];
	struct x86_insn_io w;

	for (m = 0; m < 3; m++)
	for (o = 0; o < sizeof(io_opcodes); o++)
	for (p = 0; p < sizeof(prefix_sets) / sizeof(prefix_sets[0]); p++)
	for (x = 0; x < sizeof(rexes); x++) {
		uint8_t op = io_opcodes[o], rex = rexes[x];

		len = 0;
		memcpy(b, prefix_sets[p].b, prefix_sets[p].n);
		len = prefix_sets[p].n;
		if (rex)
			b[len++] = rex;
		b[len++] = op;
		if (op >= 0xE4 && op <= 0xE7)
			b[len++] = (uint8_t)(0x5A + o + p);
		snprintf(what, sizeof(what), "gen op %02x pfx#%zu rex %02x", op,
		    p, rex);

		if (rex && modes[m] != M64) {
			/* 40-4F are INC/DEC outside 64-bit mode. */
			expect_io_fail(what, b, len, modes[m]);
			continue;
		}
		model_io(prefix_sets[p].b, prefix_sets[p].n, rex, op,
		    modes[m], &w);
		w.port = w.imm_port ? b[len - 1] : 0;
		expect_io(what, b, len, modes[m], &w);
		expect_truncations_fail(what, b, len, modes[m], false);

		/* Trailing bytes after the instruction do not matter. */
		memset(b + len, 0xEC, 4);
		expect_io(what, b, len + 4, modes[m], &w);

		/* A legacy prefix wedged between REX and opcode fails. */
		if (rex) {
			uint8_t c[32];
			size_t rpos = prefix_sets[p].n;

			memcpy(c, b, rpos + 1);
			c[rpos + 1] = 0x66;
			memcpy(c + rpos + 2, b + rpos + 1, len - rpos - 1);
			expect_io_fail(what, c, len + 1, modes[m]);
		}
	}
}

/* -------------------------------------------------------------------------
 * Every first byte; every prefix then every opcode byte.
 * ------------------------------------------------------------------------- */

static bool
is_io_opcode(unsigned v)
{
	size_t i;

	for (i = 0; i < sizeof(io_opcodes); i++)
		if (io_opcodes[i] == v)
			return true;
	return false;
}

static bool
is_legacy(unsigned v)
{
	return v == 0x66 || v == 0x67 || v == 0xF0 || v == 0xF2 ||
	    v == 0xF3 || v == 0x26 || v == 0x2E || v == 0x36 || v == 0x3E ||
	    v == 0x64 || v == 0x65;
}

/* Length of the lone I/O opcode v: E4-E7 take an imm8 port. */
static unsigned
io_opcode_len(unsigned v)
{
	return (v & 0xF0) == 0xE0 && v < 0xE8 ? 2 : 1;
}

static void
test_io_all_bytes(void)
{
	static const int modes[3] = { M16, M32, M64 };
	unsigned v, m;
	uint8_t b[4];
	int ret;
	struct x86_insn_io io;

	for (m = 0; m < 3; m++) {
		for (v = 0; v < 256; v++) {
			b[0] = (uint8_t)v;
			b[1] = 0x10;
			b[2] = 0xEC;
			ret = decode_io(b, 3, modes[m], &io);
			/* [v, 0x10, 0xEC]: only I/O opcodes decode; prefixes
			 * are followed by 0x10 (ADC), so everything else
			 * fails. */
			if (is_io_opcode(v))
				CHECK(ret == 0 && io.len == io_opcode_len(v),
				    "byte %02x %s: ret %d len %u", v,
				    mode_name(modes[m]), ret, io.len);
			else
				CHECK(ret == -1, "byte %02x %s: decoded (len "
				    "%u)", v, mode_name(modes[m]), io.len);

			/* [v, 0xEC]: legacy prefixes (and REX in 64-bit
			 * mode) then IN; other bytes are opcodes and fail
			 * unless they are I/O opcodes themselves. */
			b[1] = 0xEC;
			ret = decode_io(b, 2, modes[m], &io);
			if (is_legacy(v) || (modes[m] == M64 &&
			    (v & 0xF0) == 0x40))
				CHECK(ret == 0 && io.len == 2 && io.in &&
				    !io.str, "prefix %02x %s: ret %d len %u",
				    v, mode_name(modes[m]), ret, io.len);
			else if (is_io_opcode(v))
				CHECK(ret == 0 && io.len == io_opcode_len(v),
				    "op %02x %s: ret %d", v,
				    mode_name(modes[m]), ret);
			else
				CHECK(ret == -1, "byte %02x EC %s: decoded "
				    "(len %u)", v, mode_name(modes[m]), io.len);
		}
	}
}

/* -------------------------------------------------------------------------
 * The 15-byte limit.
 * ------------------------------------------------------------------------- */

/* k copies of prefix pfx then [rex] op [imm8 = fill], for k up to 20:
 * decodes while at most 15 bytes long, with n its length and with a
 * longer n; fails beyond. */
static void
limit_io(const char *what, uint8_t pfx, uint8_t rex, uint8_t op,
    uint8_t fill, int mode)
{
	char what_long[64];
	uint8_t b[32];
	struct x86_insn_io w;
	size_t k, at;

	snprintf(what_long, sizeof(what_long), "%s, long n", what);
	for (k = 0; k <= 20; k++) {
		memset(b, fill, sizeof(b));
		memset(b, pfx, k);
		at = k;
		if (rex)
			b[at++] = rex;
		b[at++] = op;
		model_io(b, k, rex, op, mode, &w);
		if (w.imm_port)
			w.port = b[at];
		if (w.len <= 15) {
			expect_io(what, b, w.len, mode, &w);
			expect_io(what_long, b, sizeof(b), mode, &w);
		} else {
			expect_io_fail(what, b, w.len, mode);
			expect_io_fail(what_long, b, sizeof(b), mode);
		}
	}
}

static void
test_io_length_limit(void)
{
	uint8_t b[32];
	size_t k;

	/* k prefixes + EC: fine up to k = 14 (15 bytes), refused from 15. */
	limit_io("limit EC", 0x3E, 0, 0xEC, 0xEC, M32);
	/* k prefixes + E4 imm8: fine up to k = 13. */
	limit_io("limit E4", 0x66, 0, 0xE4, 0x99, M16);
	/* k prefixes + REX + 6F in 64-bit mode: fine up to k = 13. */
	limit_io("limit rex 6F", 0xF3, 0x48, 0x6F, 0x6F, M64);
	/* A long run of prefixes only, of every length up to 32: fails
	 * without reading past n. */
	memset(b, 0x26, sizeof(b));
	for (k = 0; k <= sizeof(b); k++)
		expect_io_fail("prefixes only", b, k, M64);
}

/* -------------------------------------------------------------------------
 * Bad arguments.
 * ------------------------------------------------------------------------- */

static void
test_io_args(void)
{
	static const uint8_t b[] = { 0xEC };
	static const int bad_modes[] = { 0, 1, 3, 5, 16, 32, 64, -1 };
	struct x86_insn_io io;
	uint8_t len;
	bool wr;
	size_t i;

	for (i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		expect_io_fail("bad mode", b, 1, bad_modes[i]);
		expect_msr_fail("bad mode", (const uint8_t *)"\x0f\x30", 2,
		    bad_modes[i]);
	}
	errno = 0;
	CHECK(x86_decode_io(NULL, 1, M64, &io) == -1 && errno == EINVAL,
	    "NULL bytes accepted");
	CHECK(x86_decode_io(NULL, 0, M64, &io) == -1, "NULL/0 accepted");
	CHECK(x86_decode_io(b, 1, M64, NULL) == -1, "NULL out accepted");
	CHECK(x86_decode_msr(NULL, 2, M64, &len, &wr) == -1,
	    "msr NULL bytes accepted");
	CHECK(x86_decode_msr((const uint8_t *)"\x0f\x30", 2, M64, NULL,
	    &wr) == -1, "msr NULL len accepted");
	CHECK(x86_decode_msr((const uint8_t *)"\x0f\x30", 2, M64, &len,
	    NULL) == -1, "msr NULL is_write accepted");
}

/* -------------------------------------------------------------------------
 * RDMSR / WRMSR.
 * ------------------------------------------------------------------------- */

struct msr_row {
	const char *what;
	int mode;
	uint8_t n;
	uint8_t b[20];
	int ok;
	uint8_t len;
	bool wr;
};

static const struct msr_row msr_rows[] = {
	{ "wrmsr", M64, 2, { 0x0F, 0x30 }, 1, 2, true },
	{ "rdmsr", M64, 2, { 0x0F, 0x32 }, 1, 2, false },
	{ "wrmsr 32", M32, 2, { 0x0F, 0x30 }, 1, 2, true },
	{ "rdmsr 16", M16, 2, { 0x0F, 0x32 }, 1, 2, false },
	{ "66 rdmsr", M64, 3, { 0x66, 0x0F, 0x32 }, 1, 3, false },
	{ "rex.w wrmsr", M64, 3, { 0x48, 0x0F, 0x30 }, 1, 3, true },
	{ "pfx rex rdmsr", M64, 6, { 0x2E, 0xF3, 0x67, 0x41, 0x0F, 0x32 }, 1,
	  6, false },
	{ "seg wrmsr 16", M16, 4, { 0x26, 0x64, 0x0F, 0x30 }, 1, 4, true },
	{ "trailing bytes", M32, 5, { 0x0F, 0x32, 0x0F, 0x30, 0x90 }, 1, 2,
	  false },
	{ "rex in 32", M32, 3, { 0x48, 0x0F, 0x30 }, 0, 0, false },
	{ "rex in 16", M16, 3, { 0x40, 0x0F, 0x32 }, 0, 0, false },
	{ "legacy after rex", M64, 4, { 0x48, 0x66, 0x0F, 0x30 }, 0, 0,
	  false },
	{ "rex rex", M64, 4, { 0x48, 0x48, 0x0F, 0x30 }, 0, 0, false },
	{ "rdtsc", M64, 2, { 0x0F, 0x31 }, 0, 0, false },
	{ "rdpmc", M64, 2, { 0x0F, 0x33 }, 0, 0, false },
	{ "0f 0f", M64, 3, { 0x0F, 0x0F, 0x30 }, 0, 0, false },
	{ "30 alone", M64, 1, { 0x30 }, 0, 0, false },
	{ "32 0f", M64, 2, { 0x32, 0x0F }, 0, 0, false },
	{ "in", M64, 1, { 0xEC }, 0, 0, false },
	{ "0f 30 reversed", M64, 2, { 0x30, 0x0F }, 0, 0, false },
	{ "0f alone", M64, 1, { 0x0F }, 0, 0, false },
};

static void
test_msr(void)
{
	static const int modes[3] = { M16, M32, M64 };
	uint8_t b[32];
	size_t i, k, m;
	unsigned v;

	for (i = 0; i < sizeof(msr_rows) / sizeof(msr_rows[0]); i++) {
		const struct msr_row *r = &msr_rows[i];

		if (r->ok) {
			expect_msr(r->what, r->b, r->n, r->mode, r->len, r->wr);
			expect_truncations_fail(r->what, r->b, r->len, r->mode,
			    true);
		} else {
			expect_msr_fail(r->what, r->b, r->n, r->mode);
		}
	}

	/* Every second opcode byte after 0F: only 30 and 32. */
	for (m = 0; m < 3; m++) {
		for (v = 0; v < 256; v++) {
			b[0] = 0x0F;
			b[1] = (uint8_t)v;
			if (v == 0x30 || v == 0x32)
				expect_msr("0f xx", b, 2, modes[m], 2,
				    v == 0x30);
			else
				expect_msr_fail("0f xx", b, 2, modes[m]);
		}
	}

	/* 15-byte limit: k prefixes + 0F 30 fine up to k = 13. */
	for (k = 0; k <= 20; k++) {
		memset(b, 0x67, k);
		b[k] = 0x0F;
		b[k + 1] = 0x30;
		if (k + 2 <= 15) {
			expect_msr("msr limit", b, k + 2, M32, (uint8_t)(k + 2),
			    true);
			expect_truncations_fail("msr limit", b, k + 2, M32,
			    true);
		} else {
			expect_msr_fail("msr limit", b, k + 2, M32);
		}
	}
	/* With REX in 64-bit mode: k prefixes + REX + 0F 32 up to k = 12. */
	for (k = 0; k <= 20; k++) {
		memset(b, 0xF0, k);
		b[k] = 0x4C;
		b[k + 1] = 0x0F;
		b[k + 2] = 0x32;
		if (k + 3 <= 15)
			expect_msr("msr limit rex", b, k + 3, M64,
			    (uint8_t)(k + 3), false);
		else
			expect_msr_fail("msr limit rex", b, k + 3, M64);
	}
	/* Prefixes only. */
	memset(b, 0xF2, sizeof(b));
	for (k = 0; k <= sizeof(b); k++)
		expect_msr_fail("msr prefixes only", b, k, M64);
	/* I/O decoder refuses MSR instructions and vice versa. */
	expect_io_fail("io on wrmsr", (const uint8_t *)"\x0f\x30", 2, M64);
	expect_msr_fail("msr on in", (const uint8_t *)"\xec\x0f\x30", 3, M64);
}

/* -------------------------------------------------------------------------
 * Fuzz: random byte strings; no crash, and consistency with the model.
 * ------------------------------------------------------------------------- */

static uint64_t rng_state = 0x0123456789ABCDEFULL;

static uint64_t
rnd(void)
{
	return vmt_rnd(&rng_state);
}

static void
test_fuzz(void)
{
	/* Bytes drawn mostly from prefixes, REX and the opcodes of interest. */
	static const uint8_t pool[] = { 0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26,
	    0x2E, 0x36, 0x3E, 0x64, 0x65, 0x40, 0x48, 0x4F, 0xE4, 0xE5, 0xE6,
	    0xE7, 0xEC, 0xED, 0xEE, 0xEF, 0x6C, 0x6D, 0x6E, 0x6F, 0x0F, 0x30,
	    0x32 };
	static const int modes[3] = { M16, M32, M64 };
	unsigned iter, nio = 0, nmsr = 0, bad = 0;
	uint8_t b[24], len;
	struct x86_insn_io io, w;
	bool wr;
	size_t n, i, k;
	int mode;

	for (iter = 0; iter < 200000; iter++) {
		n = rnd() % sizeof(b);
		for (i = 0; i < n; i++)
			b[i] = (rnd() % 4) ? pool[rnd() % sizeof(pool)] :
			    (uint8_t)rnd();
		mode = modes[rnd() % 3];

		if (decode_io(b, n, mode, &io) == 0) {
			nio++;
			/* Re-derive: the prefix run, optional REX, opcode. */
			for (k = 0; k < io.len && is_legacy(b[k]); k++)
				;
			if (mode == M64 && (b[k] & 0xF0) == 0x40) {
				model_io(b, k, b[k], b[k + 1], mode, &w);
				if (w.imm_port)
					w.port = b[k + 2];
			} else {
				model_io(b, k, 0, b[k], mode, &w);
				if (w.imm_port)
					w.port = b[k + 1];
			}
			if (io.len > 15 || io.len > n || io.len != w.len ||
			    io.in != w.in || io.str != w.str ||
			    io.rep != w.rep || io.seg != w.seg ||
			    io.operand_size != w.operand_size ||
			    io.address_size != w.address_size ||
			    io.imm_port != w.imm_port ||
			    (w.imm_port && io.port != w.port)) {
				CHECK_FUZZ_BAD(bad, "fuzz io %s [%s]: len %u",
				    mode_name(mode), hex(b, n), io.len);
			}
		}
		if (decode_msr(b, n, mode, &len, &wr) == 0) {
			nmsr++;
			if (len > 15 || len > n || len < 2 ||
			    b[len - 2] != 0x0F ||
			    (b[len - 1] != 0x30 && b[len - 1] != 0x32) ||
			    wr != (b[len - 1] == 0x30)) {
				CHECK_FUZZ_BAD(bad, "fuzz msr %s [%s]: len %u",
				    mode_name(mode), hex(b, n), len);
			}
		}
	}
	CHECK(bad == 0, "fuzz: %u inconsistent results", bad);
	CHECK(nio >= 1000 && nmsr >= 100, "fuzz: only %u io and %u msr "
	    "decodes", nio, nmsr);
	printf("fuzz: %u I/O and %u MSR instructions decoded\n", nio, nmsr);
}

/* -------------------------------------------------------------------------
 * Locating the instruction of an I/O exit (x86_io_locate).
 * ------------------------------------------------------------------------- */

static enum x86_io_where
locate(const char *at, const char *before, bool in, uint64_t rcx,
    struct x86_insn_io *d)
{
	struct x86_io_site s;

	memset(&s, 0, sizeof(s));
	s.at = (const uint8_t *)at;
	s.nat = strlen(at);
	s.before = (const uint8_t *)before;
	s.nbefore = strlen(before);
	s.mode = X86_MODE_64;
	s.in = in;
	s.port = 0x10;
	s.operand_size = 1;
	s.rcx = rcx;
	s.rdx = 0x10;
	return x86_io_locate(&s, d);
}

static void
test_io_locate(void)
{
	struct x86_insn_io d;
	enum x86_io_where w;

	/* IN and INS are always at RIP; nothing else is an IN. */
	CHECK(locate("\xe4\x10", "", true, 0, &d) == X86_IO_AT_RIP &&
	    d.len == 2, "in al,0x10 not at RIP");
	CHECK(locate("\x90", "\xe4\x10", true, 0, &d) == X86_IO_UNKNOWN,
	    "IN found before RIP");
	/* A REP OUTS with rounds left is still at RIP. */
	CHECK(locate("\xf3\x6e", "\xf3\x6e", false, 3, &d) ==
	    X86_IO_AT_RIP && d.rep && d.str, "rep outsb with rounds left");
	/* An OUTS is retired before the exit. */
	CHECK(locate("\x6e", "\x90\x6e", false, 0, &d) ==
	    X86_IO_BEFORE_RIP && d.str && d.len == 1, "outsb not retired");
	/* A REP OUTS whose count is 0 ended before RIP: the longer form. */
	CHECK(locate("\x90", "\x90\xf3\x6e", false, 0, &d) ==
	    X86_IO_BEFORE_RIP && d.rep && d.len == 2, "finished rep outsb");

	/* Plain OUTs: learned from the unambiguous exits. */
	CHECK(locate("\xe6\x10", "\x90\x90", false, 0, &d) ==
	    X86_IO_AT_RIP, "out at RIP");
	CHECK(locate("\xe6\x10", "\xe6\x10", false, 0, &d) ==
	    X86_IO_AT_RIP, "ambiguous out after one at RIP");
	CHECK(locate("\x90", "\xe6\x10", false, 0, &d) ==
	    X86_IO_BEFORE_RIP, "out before RIP");
	CHECK(locate("\xe6\x10", "\xe6\x10", false, 0, &d) ==
	    X86_IO_BEFORE_RIP, "ambiguous out after a retired one");
	/* A host whose rule is known learns nothing more. */
	x86_io_out_retired(0);
	CHECK(locate("\x90", "\xe6\x10", false, 0, &d) ==
	    X86_IO_BEFORE_RIP, "out before RIP, rule known");
	w = locate("\xe6\x10", "\xe6\x10", false, 0, &d);
	CHECK(w == X86_IO_AT_RIP, "ambiguous out, rule 0: %d", (int)w);
	/* Another port is not the exit's instruction. */
	CHECK(locate("\xe6\x11", "\xe6\x12", false, 0, &d) ==
	    X86_IO_UNKNOWN, "wrong port accepted");
}

/* -------------------------------------------------------------------------
 * Main.
 * ------------------------------------------------------------------------- */

int
main(void)
{
	test_io_rows();
	test_io_generated();
	test_io_all_bytes();
	test_io_length_limit();
	test_io_args();
	test_msr();
	test_fuzz();
	test_io_locate();

	return vmt_done("t_decode");
}
