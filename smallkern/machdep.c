/* machdep.c - page tables, GDT/TSS, IDT and MSR set-up; fatal(). */

#include "smallkern.h"

/* -------------------------------------------------------------------------
 * Page tables.
 * ------------------------------------------------------------------------- */

#define PG_P		0x001ULL
#define PG_RW		0x002ULL
#define PG_U		0x004ULL
#define PG_PWT		0x008ULL
#define PG_PCD		0x010ULL
#define PG_FRAME	0x000ffffffffff000ULL
#define PAGE_SIZE	4096

#define LAPIC_BASE	0xfee00000ULL

volatile uint32_t *const lapic_id_reg = (volatile uint32_t *)(LAPIC_BASE + 0x20);

static char *pt_next = __ptpool_start;
static uint64_t *pml4;

/*
 * Table pages come from a fixed pool above the image.  While the tables
 * are built the boot tables are active and map that pool at its physical
 * address, so physical addresses can be used as pointers.
 */
static uint64_t *
pt_alloc(void)
{
	uint64_t *page;

	if (pt_next >= __ptpool_end)
		fatal("out of page-table pages");
	page = (uint64_t *)pt_next;
	pt_next += PAGE_SIZE;
	kmemset(page, 0, PAGE_SIZE);
	return page;
}

/*
 * Upper levels allow everything (user, write); the last level decides,
 * since the CPU combines the permissions of all levels.
 */
static void
map_page(uint64_t va, uint64_t pa, uint64_t flags)
{
	uint64_t *table = pml4, *e;
	int shift;

	for (shift = 39; shift > 12; shift -= 9) {
		e = &table[(va >> shift) & 511];
		if ((*e & PG_P) == 0)
			*e = (uint64_t)pt_alloc() | PG_P | PG_RW | PG_U;
		table = (uint64_t *)(*e & PG_FRAME);
	}
	table[(va >> 12) & 511] = (pa & PG_FRAME) | flags | PG_P;
}

/* Identity-map [start, end) (page aligned by the linker script). */
static void
map_range(const char *start, const char *end, uint64_t flags)
{
	uint64_t va;

	for (va = (uint64_t)start; va < (uint64_t)end; va += PAGE_SIZE)
		map_page(va, va, flags);
}

/*
 * Final address space: the image and the stacks identity-mapped, each part
 * with the permissions it needs, and the LAPIC page uncached.  Everything
 * else is absent: page 0 (NULL), the guard pages between the stacks, and
 * the page tables themselves, which nothing changes after this.  No NX:
 * the VMM tells us the CPU has none.
 */
void
vm_init(void)
{
	pml4 = pt_alloc();

	map_range(__text_start, __text_end, 0);
	map_range(__utext_start, __utext_end, PG_U);
	map_range(__rodata_start, __rodata_end, 0);
	map_range(__udata_start, __udata_end, PG_RW | PG_U);
	map_range(__data_start, __data_end, PG_RW);
	map_range(__kstack_bottom, __kstack_top, PG_RW);
	map_range(__nmistack_bottom, __nmistack_top, PG_RW);
	map_range(__dfstack_bottom, __dfstack_top, PG_RW);
	map_range(__ustack_bottom, __ustack_top, PG_RW | PG_U);
	map_page(LAPIC_BASE, LAPIC_BASE, PG_RW | PG_PCD | PG_PWT);

	lcr3((uint64_t)pml4);
}

/* -------------------------------------------------------------------------
 * GDT and TSS.
 * ------------------------------------------------------------------------- */

extern uint64_t gdt[];		/* locore.S */

/*
 * 64-bit TSS followed by an I/O permission bitmap for ports 0-127 in which
 * only the console port is open: CPL3 code may print, nothing else.  Ports
 * past the bitmap (the TSS limit) are closed.
 */
struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
	uint8_t iomap[128 / 8];
	uint8_t iomap_end;	/* the CPU may read one byte past the map */
} __attribute__((packed, aligned(16)));

_Static_assert(offsetof(struct tss, iomap) == 104, "TSS layout");

static struct tss tss;

void
gdt_tss_init(void)
{
	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;

	tss.rsp[0] = (uint64_t)__kstack_top;		/* events from CPL3 */
	tss.ist[0] = (uint64_t)__nmistack_top;		/* IST1: NMI */
	tss.ist[1] = (uint64_t)__dfstack_top;		/* IST2: #DF */
	tss.iomap_base = offsetof(struct tss, iomap);
	kmemset(tss.iomap, 0xff, sizeof(tss.iomap));
	tss.iomap[CONSOLE_PORT / 8] &= ~(1U << (CONSOLE_PORT % 8));
	tss.iomap_end = 0xff;

	/* Available 64-bit TSS (type 9), present, DPL 0; 16 bytes. */
	gdt[GSEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
	    (0x89ULL << 40) | (((limit >> 16) & 0xf) << 48) |
	    (((base >> 24) & 0xff) << 56);
	gdt[GSEL_TSS / 8 + 1] = base >> 32;

	__asm__ volatile("ltr %w0" :: "r"(GSEL_TSS) : "memory");
}

/* -------------------------------------------------------------------------
 * IDT.
 * ------------------------------------------------------------------------- */

/* 256 gates of 16 bytes: written as two quadwords each. */
static uint64_t idt[256 * 2] __attribute__((aligned(4096)));

struct dtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static uint64_t
gate_lo(uint64_t addr, uint64_t ist)
{
	return (addr & 0xffff) | ((uint64_t)GSEL_KCODE << 16) | (ist << 32) |
	    (0x8eULL << 40) |		/* present, DPL 0, interrupt gate */
	    (((addr >> 16) & 0xffff) << 48);
}

/*
 * Every vector gets its own stub and an interrupt gate (IF cleared on
 * entry) with DPL 0, so CPL3 cannot raise any of them with INT n.  The NMI
 * and the double fault run on their own IST stacks: they can arrive while
 * another handler runs, or with a bad stack.
 *
 * The stubs fill one page (trapentry.S), so only the low 16 bits of their
 * addresses differ and each gate is the previous one plus the stub size:
 * cheaper than encoding 256 gates where CPL0 code is emulated.
 */
void
idt_init(void)
{
	uint64_t base = (uint64_t)trap_stubs, lo, hi;
	struct dtr dtr;
	int v;

	lo = gate_lo(base, 0);
	hi = base >> 32;
	for (v = 0; v < 256; v++) {
		idt[2 * v] = lo;
		idt[2 * v + 1] = hi;
		lo += TRAP_STUB_SIZE;
	}
	idt[2 * 2] = gate_lo(base + 2 * TRAP_STUB_SIZE, 1);	/* NMI: IST1 */
	idt[2 * 8] = gate_lo(base + 8 * TRAP_STUB_SIZE, 2);	/* #DF: IST2 */

	dtr.limit = sizeof(idt) - 1;
	dtr.base = (uint64_t)idt;
	__asm__ volatile("lidt %0" :: "m"(dtr) : "memory");
}

/* An empty IDT: every event then escalates to a triple fault. */
void
idt_clear(void)
{
	struct dtr dtr = { 0, 0 };

	__asm__ volatile("lidt %0" :: "m"(dtr) : "memory");
}

/* -------------------------------------------------------------------------
 * MSRs, fatal().
 * ------------------------------------------------------------------------- */

/*
 * STAR gives the selectors SYSRETQ loads.  SYSCALL is never used (CPL3
 * enters the kernel only through events), so LSTAR stays unset.
 */
void
syscall_msrs_init(void)
{
	wrmsr(STAR_MSR, ((uint64_t)GSEL_USYSRET << 48) |
	    ((uint64_t)GSEL_KCODE << 32));
}

void
fatal(const char *msg)
{
	cons_puts("\n********** FATAL ***********\n");
	cons_puts(msg);
	cons_puts("\n****************************\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}
