/* utask.c - the CPL3 task: x87 and SSE work checked all the time; also the idle loop. */

/*
 * This file is the only one built with floating point enabled, and all of
 * it (code, constants, data) is linked into user pages.  The kernel never
 * touches x87/SSE state: it belongs to this task alone, so a hypervisor
 * that loses or mixes up guest FPU state across VM exits, host context
 * switches or injected events makes one of the checks below fail.  The
 * kernel then prints "!!! FPU BUG !!!" in its next fault report (and
 * "!!! REGISTER BUG !!!" if the kernel's own way back here lost a
 * general-purpose register).
 */

#include "smallkern.h"

#define ROUND	(1U << 20)	/* iterations before the values restart */
#define R11_CANARY	0x5a5a0011a5a5ee11ULL

/* Shared with the kernel (see smallkern.h); in user pages. */
struct ushared ushared;

static void
fpu_bug(void)
{
	ushared.fpu_bug = 1;
}

static void
fpu_init(void)
{
	uint32_t mxcsr = 0x1f80;	/* all SSE exceptions masked */

	__asm__ volatile("fninit");	/* x87: all exceptions masked */
	__asm__ volatile("ldmxcsr %0" :: "m"(mxcsr));
}

/*
 * Entered once, from the first fault handler, with interrupts on; never
 * left except by the events the VMM injects.  It cannot HLT (CPL3), so it
 * computes.  Every value below is an integer or half-integer small enough
 * to be exact, so each check is an exact comparison.
 */
void
utask_main(void)
{
	/*
	 * A canary in R11, which SYSRETQ overwrites with RFLAGS: it survives
	 * only if the trampoline restores it.  (RCX, the other register
	 * SYSRETQ uses, holds the loop counter below.)
	 */
	register uint64_t canary __asm__("r11") = R11_CANARY;
	uint32_t seen = 0, n, k;
	float events = 0.0f;
	long double x, y;		/* x87 */
	double sum, r;			/* SSE2 */
	float half;			/* SSE */

	fpu_init();
	for (;;) {
		x = 0.0L;
		sum = 0.0;
		half = 0.0f;
		for (k = 1; k <= ROUND; k++) {
			x += 1.0L;
			y = __builtin_sqrtl(x * x);
			if (x != (long double)k || y != x)
				fpu_bug();

			sum += (double)k;
			r = __builtin_sqrt((double)k * (double)k);
			if (sum != (double)((uint64_t)k * (k + 1) / 2) ||
			    r != (double)k)
				fpu_bug();

			half += 0.5f;
			if (half != 0.5f * (float)k)
				fpu_bug();

			/*
			 * The original handler counted its faults in a float
			 * too: mirror the kernel's event count here.
			 */
			n = ushared.nevents;
			while (seen != n) {
				events += 1.0f;
				seen++;
			}
			if ((uint32_t)events != seen)
				fpu_bug();

			__asm__ volatile("" : "+r"(canary));
			if (canary != R11_CANARY)
				ushared.reg_bug = 1;

			ushared.iterations++;
		}
	}
}
