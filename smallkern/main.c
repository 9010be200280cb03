/* main.c - smallkern's boot sequence: banner, CPU set-up, the hardware checks, VMMCALL. */

#include "smallkern.h"

#define LAPIC_ID_EXPECTED	120	/* the VMM creates VCPU 120 */
#define APICBASE_EXPECTED	0xfee00000ULL
#define CPUID_EXT_NX		(1U << 20)	/* leaf 0x80000001 EDX */

/* Six lines of exactly 62 characters; the trailing spaces are part of it. */
static const char banner[] =
	"  _________               __   __   __                        \n"
	" /   _____/ _____ _____  |  | |  | |  | __ ___________  ____  \n"
	" \\_____  \\ /     \\\\__  \\ |  | |  | |  |/ // __ \\_  __ \\/    \\ \n"
	" /        \\  Y Y  \\/ __ \\|  |_|  |_|    <\\  ___/|  | \\/   |  \\\n"
	"/_______  /__|_|  (____  /____/____/__|_ \\\\___  >__|  |___|  /\n"
	"        \\/      \\/     \\/               \\/    \\/           \\/ \n";

/* APICBASE (MSR 0x1B): only the base address, bits 31:12, is compared. */
static void
check_apicbase(void)
{
	uint64_t val;

	if (rdmsr_safe(APICBASE_MSR, &val) != 0)
		print_state(0, "APICBASE cannot be read");
	else if ((val & 0xfffff000ULL) == APICBASE_EXPECTED)
		print_state(1, "APICBASE is correct");
	else
		print_state(0, "wrong APICBASE");
}

/* The VMM removes No-eXecute from CPUID; smallkern never uses it. */
static void
check_nx(void)
{
	uint32_t r[4];
	int nx = 0;

	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000001) {
		cpuid(0x80000001, 0, r);
		nx = (r[3] & CPUID_EXT_NX) != 0;
	}
	if (nx)
		print_state(0, "PG_NX is enabled!");
	else
		print_state(1, "PG_NX is disabled");
}

/* CPUID leaf 1 EBX[31:24] is the initial APIC ID, which is the VCPU id. */
static void
check_cpu(void)
{
	uint32_t r[4];

	cpuid(1, 0, r);
	if ((r[1] >> 24) == LAPIC_ID_EXPECTED)
		print_state(1, "Running on cpu120");
	else
		print_state(0, "Not running on cpu120!");
}

/* LAPIC ID register through our own mapping of the MMIO page. */
static void
check_lapic(void)
{
	if ((*lapic_id_reg >> 24) == LAPIC_ID_EXPECTED)
		print_state(1, "LAPIC information matches");
	else
		print_state(0, "LAPIC information does not match!");
}

/*
 * Called by locore.S in long mode, on the boot stack, with interrupts off
 * and the boot page tables (first 2 MiB, identity) loaded.  Never returns:
 * its last act is a fault, and the handler of that fault starts the CPL3
 * task instead of coming back here.
 */
void kmain(void) __attribute__((noreturn));

void
kmain(void)
{
	vm_init();
	cons_puts(banner);

	gdt_tss_init();
	print_state(1, "TSS created");
	idt_init();
	print_state(1, "IDT created");
	syscall_msrs_init();

	/*
	 * Interrupts on for the rest of the boot, as in the original.  IF=1
	 * at CPL0 also tells trap() that it interrupted this boot code:
	 * handlers always run with IF=0.
	 */
	lcr8(0);
	__asm__ volatile("sti");

	check_apicbase();
	check_nx();
	check_cpu();
	check_lapic();

	vmmcall_then_ud2();
}
