/* devices.h - toyvirt's toy devices (console, LAPIC ID, APICBASE MSR) and its serialised stdout. */

#ifndef _TOYVIRT_DEVICES_H_
#define _TOYVIRT_DEVICES_H_

#include <stddef.h>

#include <nvmm.h>

#define TOYVIRT_VCPU_ID		120	/* the first VCPU; -c adds 121, ... */
#define TOYVIRT_MAX_VCPUS	136	/* ids up to 255, NVMM's last */
#define CONSOLE_PORT		123
#define LAPIC_ID_REG		0x20
#define MSR_APICBASE		0x1B
#define APICBASE_VALUE		0xFEE00900ULL	/* base 0xFEE00000, enable, BSP */
#define APICBASE_BSP		0x100ULL	/* cleared for the other VCPUs */

/* Makes stdout line buffered; call before any output. */
void out_init(void);

/*
 * With more than one VCPU (nvcpus > 1), the console collects each VCPU's
 * bytes into lines of its own and prints a line whole when it ends (or
 * reaches 160 bytes), so the lines of several VCPUs never mix.  With one
 * VCPU bytes are printed as they come.  Call before the guest runs.
 */
void console_set_vcpus(unsigned nvcpus);

/* Prints what the VCPUs left of unfinished lines (several VCPUs only). */
void console_flush(void);

/*
 * Prints one toyvirt line ("[+] ..." / "[!] ...", without the newline) on
 * stdout.  If the guest console is in the middle of a line, that line is
 * ended first, so toyvirt's lines never glue onto guest text.  Callable
 * from any thread.
 */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copies the console's last line (the current partial one if non-empty). */
void console_last_line(char *buf, size_t len);

/* The assist callbacks (NVMM_VCPU_CONF_CALLBACKS); they never exit. */
void dev_io(struct nvmm_io *io);
void dev_mem(struct nvmm_mem *mem);

/*
 * Handles an RDMSR or WRMSR exit: APICBASE is answered (the BSP flag only
 * on VCPU 120), every other MSR gets #GP.  Returns 0, or -1 with the
 * failing library call and its error in err.
 */
int dev_msr(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu, char *err,
    size_t errlen);

#endif
