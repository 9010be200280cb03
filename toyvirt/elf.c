/* elf.c - toyvirt's ELF reader: reads the file and validates it into a load plan (no VM involved). */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf.h"

/*
 * What is accepted (each refusal has its own message, naming the program
 * header index where there is one):
 *
 * - ELF64, little-endian, ident version 1, e_version 1, x86-64, ET_EXEC.
 *   OSABI, flags and the section headers are ignored.
 * - e_phentsize 56, 1 <= e_phnum <= 128, the table inside the file.
 * - PT_LOAD: p_filesz <= p_memsz, file data inside the file, placed at
 *   p_paddr (paging is off when the guest starts, so the physical address
 *   is what counts; p_vaddr, p_flags and p_align are ignored and every
 *   segment is mapped read/write/execute).  The bytes [p_paddr,
 *   p_paddr + p_memsz) must lie below 128 GiB, must not touch the LAPIC
 *   page and must not overlap another segment.  p_paddr need not be page
 *   aligned: the mapping is rounded out to whole pages and the data is
 *   placed byte-exact; the rest of those pages is zero.  Two segments may
 *   share a page.  A PT_LOAD with p_memsz 0 loads nothing and is skipped.
 * - Tolerated and ignored: PT_NULL, PT_PHDR and the GNU hint headers
 *   (GNU_EH_FRAME, GNU_STACK, GNU_RELRO, GNU_PROPERTY, GNU_SFRAME); they
 *   describe data inside the loaded segments or linker hints.
 * - PT_NOTE: its data must lie inside the file; the notes are scanned for
 *   toyvirt's AP-entry note (elf.h), the others are ignored.  The AP entry
 *   obeys the rules of the entry point.
 * - Every refusal that concerns a field names its file offset: the ELF
 *   header field's, or the program header's.
 * - Refused: PT_INTERP and PT_DYNAMIC (dynamic linking), PT_TLS (nothing
 *   sets it up), PT_SHLIB and every other type.
 * - At least one non-empty PT_LOAD; the entry point inside one of them and
 *   below 4 GiB (the guest starts in 32-bit protected mode).
 * - The 512 KiB of extra RAM after the image must also fit below 128 GiB
 *   and miss the LAPIC page.
 */

/* ------------------------------------------------------------------------
 * ELF numbers (facts from the ELF and x86-64 psABI specifications).
 * ------------------------------------------------------------------------ */

#define EH_SIZE		64	/* sizeof(Elf64_Ehdr) */
#define PH_SIZE		56	/* sizeof(Elf64_Phdr) */

#define EI_CLASS	4
#define EI_DATA		5
#define EI_VERSION	6
#define CLASS64		2
#define DATA2LSB	1
#define EV_CURRENT	1

#define T_REL		1
#define T_EXEC		2
#define T_DYN		3
#define T_CORE		4
#define M_X86_64	62

#define P_NULL		0
#define P_LOAD		1
#define P_DYNAMIC	2
#define P_INTERP	3
#define P_NOTE		4
#define P_SHLIB		5
#define P_PHDR		6
#define P_TLS		7
#define P_GNU_EH_FRAME	0x6474e550
#define P_GNU_STACK	0x6474e551
#define P_GNU_RELRO	0x6474e552
#define P_GNU_PROPERTY	0x6474e553
#define P_GNU_SFRAME	0x6474e554

#define PN_XNUM		0xffff

/* File offsets of the ELF header fields named in the messages. */
#define OFF_TYPE	16
#define OFF_MACHINE	18
#define OFF_VERSION	20
#define OFF_ENTRY	24
#define OFF_PHOFF	32
#define OFF_PHENTSIZE	54
#define OFF_PHNUM	56

/* ------------------------------------------------------------------------
 * Helpers.
 * ------------------------------------------------------------------------ */

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Little-endian field readers; the caller has checked the bounds. */
static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint64_t
page_down(uint64_t x)
{
	return x & ~(GUEST_PAGE_SIZE - 1);
}

/* Rounds up; the caller guarantees x <= GUEST_GPA_LIMIT, so no overflow. */
static uint64_t
page_up(uint64_t x)
{
	return (x + GUEST_PAGE_SIZE - 1) & ~(GUEST_PAGE_SIZE - 1);
}

/* Do [a, a+alen) and [b, b+blen) intersect?  Both ends are known not to wrap. */
static bool
ranges_meet(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static const char *
type_name(uint16_t t)
{
	switch (t) {
	case 0:		return "ET_NONE";
	case T_REL:	return "ET_REL, a relocatable object";
	case T_DYN:	return "ET_DYN, a shared object or PIE";
	case T_CORE:	return "ET_CORE, a core file";
	default:	return "unknown";
	}
}

/* ------------------------------------------------------------------------
 * Parsing.
 * ------------------------------------------------------------------------ */

static int
check_header(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	static const uint8_t magic[4] = { 0x7f, 'E', 'L', 'F' };
	uint16_t type, machine, phentsize;
	uint32_t version;

	if (len == 0)
		return fail(err, errlen, "empty file, not an ELF file");
	if (memcmp(buf, magic, len < 4 ? len : 4) != 0)
		return fail(err, errlen, "not an ELF file (bad magic)");
	if (len < EH_SIZE)
		return fail(err, errlen, "truncated ELF header (%zu bytes, an "
		    "ELF64 header needs %d)", len, EH_SIZE);
	if (buf[EI_CLASS] != CLASS64)
		return fail(err, errlen, "bad ELF class %u at file offset "
		    "0x%x: not a 64-bit ELF file", buf[EI_CLASS], EI_CLASS);
	if (buf[EI_DATA] != DATA2LSB)
		return fail(err, errlen, "bad ELF data encoding %u at file "
		    "offset 0x%x: not a little-endian ELF file", buf[EI_DATA],
		    EI_DATA);
	if (buf[EI_VERSION] != EV_CURRENT)
		return fail(err, errlen, "bad ELF ident version %u at file "
		    "offset 0x%x (need 1)", buf[EI_VERSION], EI_VERSION);
	type = rd16(buf + OFF_TYPE);
	machine = rd16(buf + OFF_MACHINE);
	version = rd32(buf + OFF_VERSION);
	if (machine != M_X86_64)
		return fail(err, errlen, "bad ELF machine %u at file offset "
		    "0x%x: not an x86-64 file", machine, OFF_MACHINE);
	if (type != T_EXEC)
		return fail(err, errlen, "bad ELF type %u (%s) at file offset "
		    "0x%x: need ET_EXEC, a static executable", type,
		    type_name(type), OFF_TYPE);
	if (version != EV_CURRENT)
		return fail(err, errlen, "bad ELF version %" PRIu32 " at file "
		    "offset 0x%x (need 1)", version, OFF_VERSION);
	phentsize = rd16(buf + OFF_PHENTSIZE);
	if (phentsize != PH_SIZE)
		return fail(err, errlen, "bad program header entry size %u "
		    "at file offset 0x%x (need %d)", phentsize, OFF_PHENTSIZE,
		    PH_SIZE);
	return 0;
}

/* Checks one non-empty PT_LOAD against the RAM rules and the earlier ones. */
static int
check_segment(const struct elf_plan *plan, const struct elf_seg *s,
    char *err, size_t errlen)
{
	uint64_t end;
	unsigned j;

	if (s->gpa >= GUEST_GPA_LIMIT ||
	    s->memsz > GUEST_GPA_LIMIT - s->gpa) {
		if (s->memsz > UINT64_MAX - s->gpa)
			return fail(err, errlen, "program header %u: segment "
			    "at 0x%" PRIx64 " with size 0x%" PRIx64 " wraps "
			    "around the address space", s->phidx, s->gpa,
			    s->memsz);
		return fail(err, errlen, "program header %u: segment [0x%"
		    PRIx64 ", 0x%" PRIx64 ") lies outside guest RAM (guest "
		    "physical addresses must be below 0x%llx, 128 GiB)",
		    s->phidx, s->gpa, s->gpa + s->memsz,
		    (unsigned long long)GUEST_GPA_LIMIT);
	}
	end = s->gpa + s->memsz;
	if (ranges_meet(s->gpa, s->memsz, GUEST_LAPIC_GPA, GUEST_LAPIC_SIZE))
		return fail(err, errlen, "program header %u: segment [0x%"
		    PRIx64 ", 0x%" PRIx64 ") overlaps the LAPIC page [0x%llx, "
		    "0x%llx)", s->phidx, s->gpa, end,
		    (unsigned long long)GUEST_LAPIC_GPA,
		    (unsigned long long)(GUEST_LAPIC_GPA + GUEST_LAPIC_SIZE));
	for (j = 0; j < plan->nsegs; j++) {
		const struct elf_seg *o = &plan->segs[j];

		if (ranges_meet(s->gpa, s->memsz, o->gpa, o->memsz))
			return fail(err, errlen, "program header %u: segment "
			    "[0x%" PRIx64 ", 0x%" PRIx64 ") overlaps program "
			    "header %u [0x%" PRIx64 ", 0x%" PRIx64 ")",
			    s->phidx, s->gpa, end, o->phidx, o->gpa,
			    o->gpa + o->memsz);
	}
	return 0;
}

/* Appends to the message already in err (one line). */
static void __attribute__((format(printf, 3, 4)))
append(char *err, size_t errlen, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (errlen == 0)
		return;
	n = strnlen(err, errlen - 1);
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
}

/*
 * Looks for the toyvirt AP-entry note in the PT_NOTE data [off, off+size)
 * (inside the file).  Notes with other names are skipped; a truncated
 * trailing note ends the scan (the note format has no way to be sure what
 * follows), but a "toyvirt" note must be well formed.
 */
static int
parse_notes(const uint8_t *buf, uint64_t off, uint64_t size,
    struct elf_plan *plan, char *err, size_t errlen)
{
	static const char name[] = TOYVIRT_NOTE_NAME;
	uint64_t pos = 0, namesz, descsz, type, npad, dpad, d;

	while (size - pos >= 12) {
		const uint8_t *n = buf + off + pos;

		namesz = rd32(n);
		descsz = rd32(n + 4);
		type = rd32(n + 8);
		npad = (namesz + 3) & ~3ULL;	/* < 2^33: no overflow */
		dpad = (descsz + 3) & ~3ULL;
		if (npad > size - pos - 12 || dpad > size - pos - 12 - npad)
			break;
		if (namesz == sizeof(name) && memcmp(n + 12, name,
		    sizeof(name)) == 0 && type == TOYVIRT_NOTE_AP_ENTRY) {
			const uint8_t *desc = n + 12 + npad;

			if (descsz != 4 && descsz != 8)
				return fail(err, errlen, "toyvirt AP-entry note "
				    "at file offset 0x%" PRIx64 ": descriptor "
				    "size %" PRIu64 " (need 4 or 8)", off + pos,
				    descsz);
			d = descsz == 4 ? rd32(desc) : rd64(desc);
			if (plan->has_ap_entry && d != plan->ap_entry)
				return fail(err, errlen, "toyvirt AP-entry note "
				    "at file offset 0x%" PRIx64 ": a second, "
				    "different AP entry 0x%" PRIx64, off + pos,
				    d);
			plan->has_ap_entry = 1;
			plan->ap_entry = d;
		}
		pos += 12 + npad + dpad;
	}
	return 0;
}

/* One program header; the caller adds where it is in the file. */
static int
parse_phdr(const uint8_t *buf, size_t len, unsigned i, const uint8_t *ph,
    struct elf_plan *plan, char *err, size_t errlen)
{
	uint32_t type = rd32(ph);
	struct elf_seg s;

	switch (type) {
	case P_LOAD:
		break;
	case P_NOTE:
		s.offset = rd64(ph + 8);
		s.filesz = rd64(ph + 32);
		if (s.offset > len || s.filesz > len - s.offset)
			return fail(err, errlen, "program header %u: PT_NOTE "
			    "data [0x%" PRIx64 ", +0x%" PRIx64 ") lies outside "
			    "the file (%zu bytes)", i, s.offset, s.filesz,
			    len);
		return parse_notes(buf, s.offset, s.filesz, plan, err,
		    errlen);
	case P_NULL:
	case P_PHDR:
	case P_GNU_EH_FRAME:
	case P_GNU_STACK:
	case P_GNU_RELRO:
	case P_GNU_PROPERTY:
	case P_GNU_SFRAME:
		return 0;
	case P_INTERP:
	case P_DYNAMIC:
		return fail(err, errlen, "program header %u: %s: dynamically "
		    "linked executables are not supported", i,
		    type == P_INTERP ? "PT_INTERP" : "PT_DYNAMIC");
	case P_TLS:
		return fail(err, errlen, "program header %u: PT_TLS: "
		    "thread-local storage is not supported", i);
	default:
		return fail(err, errlen, "program header %u: unsupported "
		    "program header type 0x%" PRIx32, i, type);
	}

	s.phidx = i;
	s.offset = rd64(ph + 8);
	s.gpa = rd64(ph + 24);		/* p_paddr */
	s.filesz = rd64(ph + 32);
	s.memsz = rd64(ph + 40);
	if (s.filesz > s.memsz)
		return fail(err, errlen, "program header %u: file size 0x%"
		    PRIx64 " exceeds memory size 0x%" PRIx64, i, s.filesz,
		    s.memsz);
	if (s.offset > len || s.filesz > len - s.offset)
		return fail(err, errlen, "program header %u: segment file data "
		    "[0x%" PRIx64 ", +0x%" PRIx64 ") lies outside the file "
		    "(%zu bytes)", i, s.offset, s.filesz, len);
	if (s.memsz == 0)
		return 0;
	if (check_segment(plan, &s, err, errlen) != 0)
		return -1;
	plan->segs[plan->nsegs++] = s;
	return 0;
}

static int
parse_phdrs(const uint8_t *buf, size_t len, struct elf_plan *plan,
    char *err, size_t errlen)
{
	uint64_t phoff = rd64(buf + OFF_PHOFF);
	uint16_t phnum = rd16(buf + OFF_PHNUM);
	uint64_t tabsize;
	unsigned i;

	if (phnum == 0)
		return fail(err, errlen, "no program headers (e_phnum at "
		    "file offset 0x%x is 0)", OFF_PHNUM);
	if (phnum == PN_XNUM)
		return fail(err, errlen, "too many program headers (extended "
		    "numbering, PN_XNUM, is not supported; e_phnum at file "
		    "offset 0x%x)", OFF_PHNUM);
	if (phnum > ELF_MAX_PHDRS)
		return fail(err, errlen, "too many program headers (%u, at "
		    "most %d; e_phnum at file offset 0x%x)", phnum,
		    ELF_MAX_PHDRS, OFF_PHNUM);
	tabsize = (uint64_t)phnum * PH_SIZE;	/* <= 7168: no overflow */
	if (phoff > len || tabsize > len - phoff)
		return fail(err, errlen, "program header table [0x%" PRIx64
		    ", +0x%" PRIx64 ") lies outside the file (%zu bytes)",
		    phoff, tabsize, len);

	for (i = 0; i < phnum; i++) {
		uint64_t at = phoff + (uint64_t)i * PH_SIZE;

		if (parse_phdr(buf, len, i, buf + at, plan, err, errlen) != 0) {
			append(err, errlen, " (program header %u at file "
			    "offset 0x%" PRIx64 ")", i, at);
			return -1;
		}
	}
	if (plan->nsegs == 0)
		return fail(err, errlen, "no loadable segment (no PT_LOAD with "
		    "a non-zero memory size)");
	return 0;
}

/* Is [a] inside a loaded segment? */
static bool
in_segment(const struct elf_plan *plan, uint64_t a)
{
	unsigned i;

	for (i = 0; i < plan->nsegs; i++) {
		const struct elf_seg *s = &plan->segs[i];

		if (a >= s->gpa && a - s->gpa < s->memsz)
			return true;
	}
	return false;
}

static int
check_entry(struct elf_plan *plan, const uint8_t *buf, char *err,
    size_t errlen)
{
	plan->entry = rd64(buf + OFF_ENTRY);
	if (!in_segment(plan, plan->entry))
		return fail(err, errlen, "entry point 0x%" PRIx64 " is not "
		    "inside any loaded segment (e_entry at file offset 0x%x)",
		    plan->entry, OFF_ENTRY);
	if (plan->entry > UINT32_MAX)
		return fail(err, errlen, "entry point 0x%" PRIx64 " is above "
		    "4 GiB: the guest starts in 32-bit protected mode (e_entry "
		    "at file offset 0x%x)", plan->entry, OFF_ENTRY);
	if (plan->has_ap_entry && !in_segment(plan, plan->ap_entry))
		return fail(err, errlen, "the toyvirt note's AP entry point "
		    "0x%" PRIx64 " is not inside any loaded segment",
		    plan->ap_entry);
	if (plan->has_ap_entry && plan->ap_entry > UINT32_MAX)
		return fail(err, errlen, "the toyvirt note's AP entry point "
		    "0x%" PRIx64 " is above 4 GiB: secondary VCPUs start in "
		    "32-bit protected mode", plan->ap_entry);
	return 0;
}

/* Places the extra RAM and builds the sorted, merged page regions. */
static int
build_regions(struct elf_plan *plan, char *err, size_t errlen)
{
	struct elf_region r[ELF_MAX_PHDRS + 1], t;
	unsigned n = 0, i, j;

	plan->image_end = 0;
	for (i = 0; i < plan->nsegs; i++) {
		const struct elf_seg *s = &plan->segs[i];

		if (s->gpa + s->memsz > plan->image_end)
			plan->image_end = s->gpa + s->memsz;
		r[n].gpa = page_down(s->gpa);
		r[n].size = page_up(s->gpa + s->memsz) - r[n].gpa;
		n++;
	}
	plan->ram_gpa = page_up(plan->image_end);
	plan->ram_size = GUEST_EXTRA_RAM;
	if (plan->ram_size > GUEST_GPA_LIMIT - plan->ram_gpa)
		return fail(err, errlen, "no room for the %llu KiB of extra "
		    "RAM after the image (it would end at 0x%" PRIx64 ", "
		    "beyond 128 GiB)", GUEST_EXTRA_RAM / 1024,
		    plan->ram_gpa + plan->ram_size);
	if (ranges_meet(plan->ram_gpa, plan->ram_size, GUEST_LAPIC_GPA,
	    GUEST_LAPIC_SIZE))
		return fail(err, errlen, "no room for the %llu KiB of extra "
		    "RAM after the image at 0x%" PRIx64 ": it would overlap "
		    "the LAPIC page 0x%llx", GUEST_EXTRA_RAM / 1024,
		    plan->ram_gpa, (unsigned long long)GUEST_LAPIC_GPA);
	r[n].gpa = plan->ram_gpa;
	r[n].size = plan->ram_size;
	n++;

	/* Insertion sort by address (n <= 129), then merge. */
	for (i = 1; i < n; i++) {
		t = r[i];
		for (j = i; j > 0 && r[j - 1].gpa > t.gpa; j--)
			r[j] = r[j - 1];
		r[j] = t;
	}
	plan->nregions = 0;
	plan->total_size = 0;
	for (i = 0; i < n; i++) {
		struct elf_region *last = plan->nregions == 0 ? NULL :
		    &plan->regions[plan->nregions - 1];

		if (last != NULL && r[i].gpa <= last->gpa + last->size) {
			if (r[i].gpa + r[i].size > last->gpa + last->size)
				last->size = r[i].gpa + r[i].size - last->gpa;
		} else
			plan->regions[plan->nregions++] = r[i];
	}
	for (i = 0; i < plan->nregions; i++)
		plan->total_size += plan->regions[i].size;
	return 0;
}

int
elf_parse(const uint8_t *buf, size_t len, struct elf_plan *plan, char *err,
    size_t errlen)
{
	memset(plan, 0, sizeof(*plan));
	if (errlen > 0)
		err[0] = '\0';
	if (check_header(buf, len, err, errlen) != 0 ||
	    parse_phdrs(buf, len, plan, err, errlen) != 0 ||
	    check_entry(plan, buf, err, errlen) != 0 ||
	    build_regions(plan, err, errlen) != 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------------
 * Reading the file.
 * ------------------------------------------------------------------------ */

int
elf_read_file(const char *path, uint8_t **bufp, size_t *lenp, char *err,
    size_t errlen)
{
	struct stat st;
	uint8_t *buf;
	size_t len, done = 0;
	ssize_t n;
	int fd, e;

	*bufp = NULL;
	*lenp = 0;
	/*
	 * Refuse directories and special files before opening them (opening
	 * a FIFO would block, a device may react); O_NONBLOCK covers a file
	 * swapped in between, and fstat below checks again.
	 */
	if (stat(path, &st) == -1)
		return fail(err, errlen, "cannot open: %s", strerror(errno));
	if (S_ISDIR(st.st_mode))
		return fail(err, errlen, "is a directory, not an ELF file");
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, "not a regular file");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1)
		return fail(err, errlen, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) == -1) {
		e = errno;
		close(fd);
		return fail(err, errlen, "cannot stat: %s", strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return fail(err, errlen, "is a directory, not an ELF file");
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, "not a regular file");
	}
	if (st.st_size == 0) {
		close(fd);
		return fail(err, errlen, "empty file, not an ELF file");
	}
	if ((unsigned long long)st.st_size > ELF_MAX_FILE_SIZE) {
		close(fd);
		return fail(err, errlen, "file too large (%lld bytes, at most "
		    "%llu)", (long long)st.st_size, ELF_MAX_FILE_SIZE);
	}
	len = (size_t)st.st_size;
	buf = malloc(len);
	if (buf == NULL) {
		close(fd);
		return fail(err, errlen, "cannot allocate %zu bytes", len);
	}
	while (done < len) {
		n = read(fd, buf + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n == 0 ? 0 : errno;
			free(buf);
			close(fd);
			if (e == 0)
				return fail(err, errlen, "file shrank while "
				    "being read");
			return fail(err, errlen, "read error: %s",
			    strerror(e));
		}
		done += (size_t)n;
	}
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;
}
