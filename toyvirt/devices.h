/* devices.h - toyvirt's toy devices (console, LAPIC ID, APICBASE MSR) and its serialised stdout. */

#ifndef _TOYVIRT_DEVICES_H_
#define _TOYVIRT_DEVICES_H_

#include <stddef.h>

#include <nvmm.h>

#define TOYVIRT_VCPU_ID		120
#define CONSOLE_PORT		123
#define LAPIC_ID_REG		0x20
#define MSR_APICBASE		0x1B
#define APICBASE_VALUE		0xFEE00900ULL	/* base 0xFEE00000, enable, BSP */

/* Makes stdout line buffered; call before any output. */
void out_init(void);

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
 * Handles an RDMSR or WRMSR exit: APICBASE is answered, every other MSR
 * gets #GP.  Returns 0, or -1 after printing why on stderr (a library call
 * failed).
 */
int dev_msr(struct nvmm_machine *mach, struct nvmm_vcpu *vcpu);

#endif
