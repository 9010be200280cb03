/* lcheck.c - what a real system does, checked from inside a Linux guest: FPU/SSE/AVX state across signals and switches, fork/exec, timers, /proc/cpuinfo. */

/*
 * Built static (glibc) and put in the initramfs of make interop's Linux
 * check, where interop/linux/init runs it.  Each mode prints one line that
 * names the check and says "ok", or names what went wrong; the exit status
 * is 0 only for "ok".  The lines hold no times and nothing that differs
 * between accelerators, so the whole output of a run under -accel nvmm can
 * be compared with the same run under -accel kvm.
 *
 *   lcheck fpu ROUNDS     two processes, each ROUNDS times: load its own
 *                         x87 stack, control word, XMM0-15, MXCSR (and the
 *                         YMM upper halves where AVX is enabled), take a
 *                         signal whose handler clobbers all of them, yield
 *                         the CPU, then check every register
 *   lcheck exec N         fork + execve + wait, N times
 *   lcheck timer          nanosleep and an interval timer against the
 *                         monotonic clock
 *   lcheck cpuinfo        /proc/cpuinfo: processors, each with fpu and sse2
 *   lcheck nop            exits 0 (the program exec runs)
 */

#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --------------------------------------------------------------------- */
/* Vector and x87 state                                                  */
/* --------------------------------------------------------------------- */

/* Everything one round loads, and later reads back. */
struct vstate {
	uint8_t xmm[16][16];
	uint8_t ymmh[16][16];	/* upper halves, AVX only */
	long double st[8];	/* x87 stack, top first */
	uint32_t mxcsr;
	uint16_t fcw;
};

static int have_avx;
static volatile sig_atomic_t nsig;

/* AVX is usable when CPUID says so and the kernel enabled YMM in XCR0. */
static int
avx_usable(void)
{
	unsigned int a, b, c, d, lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & (1u << 27)) || !(c & (1u << 28)))	/* OSXSAVE, AVX */
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

/* Loads x87 (8 values), FCW and MXCSR from in. */
static void
load_x87(const struct vstate *in)
{
	int i;

	__asm__ volatile("fninit; fldcw %0" : : "m"(in->fcw));
	for (i = 7; i >= 0; i--)
		__asm__ volatile("fldt %0" : : "m"(in->st[i]));
	__asm__ volatile("ldmxcsr %0" : : "m"(in->mxcsr));
}

#define VEC_LOAD_ALL(op, reg, base, stride) \
	op " 0*" #stride "(%[" base "]), %%" reg "0\n\t" \
	op " 1*" #stride "(%[" base "]), %%" reg "1\n\t" \
	op " 2*" #stride "(%[" base "]), %%" reg "2\n\t" \
	op " 3*" #stride "(%[" base "]), %%" reg "3\n\t" \
	op " 4*" #stride "(%[" base "]), %%" reg "4\n\t" \
	op " 5*" #stride "(%[" base "]), %%" reg "5\n\t" \
	op " 6*" #stride "(%[" base "]), %%" reg "6\n\t" \
	op " 7*" #stride "(%[" base "]), %%" reg "7\n\t" \
	op " 8*" #stride "(%[" base "]), %%" reg "8\n\t" \
	op " 9*" #stride "(%[" base "]), %%" reg "9\n\t" \
	op " 10*" #stride "(%[" base "]), %%" reg "10\n\t" \
	op " 11*" #stride "(%[" base "]), %%" reg "11\n\t" \
	op " 12*" #stride "(%[" base "]), %%" reg "12\n\t" \
	op " 13*" #stride "(%[" base "]), %%" reg "13\n\t" \
	op " 14*" #stride "(%[" base "]), %%" reg "14\n\t" \
	op " 15*" #stride "(%[" base "]), %%" reg "15\n\t"

#define VEC_STORE_ALL(op, reg, base, stride) \
	op " %%" reg "0, 0*" #stride "(%[" base "])\n\t" \
	op " %%" reg "1, 1*" #stride "(%[" base "])\n\t" \
	op " %%" reg "2, 2*" #stride "(%[" base "])\n\t" \
	op " %%" reg "3, 3*" #stride "(%[" base "])\n\t" \
	op " %%" reg "4, 4*" #stride "(%[" base "])\n\t" \
	op " %%" reg "5, 5*" #stride "(%[" base "])\n\t" \
	op " %%" reg "6, 6*" #stride "(%[" base "])\n\t" \
	op " %%" reg "7, 7*" #stride "(%[" base "])\n\t" \
	op " %%" reg "8, 8*" #stride "(%[" base "])\n\t" \
	op " %%" reg "9, 9*" #stride "(%[" base "])\n\t" \
	op " %%" reg "10, 10*" #stride "(%[" base "])\n\t" \
	op " %%" reg "11, 11*" #stride "(%[" base "])\n\t" \
	op " %%" reg "12, 12*" #stride "(%[" base "])\n\t" \
	op " %%" reg "13, 13*" #stride "(%[" base "])\n\t" \
	op " %%" reg "14, 14*" #stride "(%[" base "])\n\t" \
	op " %%" reg "15, 15*" #stride "(%[" base "])\n\t"

#define XMM_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", \
	"xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", \
	"xmm14", "xmm15"

/*
 * Loads XMM0-15 from in (and the YMM upper halves with AVX), sends
 * SIGUSR1 to this process and yields, all in one asm statement so the
 * compiler cannot touch a vector register in between; then stores the
 * registers to out.  The signal is delivered on the way back from kill,
 * so the handler runs, and its sigreturn restores the state, in between.
 */
static void
vector_round(const struct vstate *in, struct vstate *out)
{
	long pid = getpid(), ret;

	if (have_avx) {
		/* YMM is loaded whole from a staging buffer: a VEX load
		 * of an XMM register would zero the upper half. */
		uint8_t buf[16][32], res[16][32];
		int i;

		for (i = 0; i < 16; i++) {
			memcpy(buf[i], in->xmm[i], 16);
			memcpy(buf[i] + 16, in->ymmh[i], 16);
		}
		__asm__ volatile(
		    VEC_LOAD_ALL("vmovdqu", "ymm", "b", 32)
		    "mov $62, %%eax\n\t"	/* kill(pid, SIGUSR1) */
		    "mov %[pid], %%rdi\n\t"
		    "mov $10, %%esi\n\t"
		    "syscall\n\t"
		    "mov $24, %%eax\n\t"	/* sched_yield() */
		    "syscall\n\t"
		    VEC_STORE_ALL("vmovdqu", "ymm", "r", 32)
		    : "=&a"(ret)
		    : [b] "r"(buf), [r] "r"(res), [pid] "r"(pid)
		    : "rdi", "rsi", "rcx", "r11", "memory", XMM_CLOBBERS);
		for (i = 0; i < 16; i++) {
			memcpy(out->xmm[i], res[i], 16);
			memcpy(out->ymmh[i], res[i] + 16, 16);
		}
	} else {
		__asm__ volatile(
		    VEC_LOAD_ALL("movdqu", "xmm", "b", 16)
		    "mov $62, %%eax\n\t"
		    "mov %[pid], %%rdi\n\t"
		    "mov $10, %%esi\n\t"
		    "syscall\n\t"
		    "mov $24, %%eax\n\t"
		    "syscall\n\t"
		    VEC_STORE_ALL("movdqu", "xmm", "r", 16)
		    : "=&a"(ret)
		    : [b] "r"(in->xmm), [r] "r"(out->xmm), [pid] "r"(pid)
		    : "rdi", "rsi", "rcx", "r11", "memory", XMM_CLOBBERS);
	}
	(void)ret;
}

/* Reads x87 (8 values), FCW and MXCSR back into out. */
static void
store_x87(struct vstate *out)
{
	int i;

	__asm__ volatile("stmxcsr %0" : "=m"(out->mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(out->fcw));
	for (i = 0; i < 8; i++)
		__asm__ volatile("fstpt %0" : "=m"(out->st[i]));
}

/* The handler dirties everything the round checks. */
static void
on_usr1(int sig)
{
	static const uint8_t junk[16 * 32] = { 0xa5 };
	uint16_t fcw = 0x0c7f;		/* round toward zero */
	uint32_t mxcsr = 0x7f80;	/* round toward zero */
	int i;

	(void)sig;
	nsig++;
	__asm__ volatile("fninit; fldcw %0" : : "m"(fcw));
	for (i = 0; i < 8; i++)
		__asm__ volatile("fldpi");
	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
	if (have_avx)
		__asm__ volatile(VEC_LOAD_ALL("vmovdqu", "ymm", "j", 32)
		    : : [j] "r"(junk) : "memory", XMM_CLOBBERS);
	else
		__asm__ volatile(VEC_LOAD_ALL("movdqu", "xmm", "j", 16)
		    : : [j] "r"(junk) : "memory", XMM_CLOBBERS);
}

/* A pattern of this process's own, different every round. */
static void
fill(struct vstate *s, unsigned seed, unsigned round)
{
	uint32_t x = seed * 2654435761u + round * 40503u + 1;
	uint8_t *p;
	size_t i;
	int j;

	p = &s->xmm[0][0];
	for (i = 0; i < sizeof(s->xmm) + sizeof(s->ymmh); i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	for (j = 0; j < 8; j++)
		s->st[j] = (long double)(seed * 1000 + round) + j / 8.0L;
	s->fcw = 0x037f;		/* default: round to nearest, 64 bits */
	s->mxcsr = 0x1f80 | ((round & 3) << 13);	/* rounding: vary */
}

/* One process's rounds: returns the number of rounds that failed. */
static int
fpu_worker(unsigned seed, unsigned rounds)
{
	struct vstate in, out;
	unsigned r, bad = 0;
	int j;

	for (r = 0; r < rounds; r++) {
		memset(&in, 0, sizeof(in));
		memset(&out, 0, sizeof(out));
		fill(&in, seed, r);
		load_x87(&in);
		vector_round(&in, &out);
		store_x87(&out);
		if (memcmp(in.xmm, out.xmm, sizeof(in.xmm)) != 0 ||
		    (have_avx && memcmp(in.ymmh, out.ymmh, sizeof(in.ymmh)) != 0) ||
		    in.mxcsr != out.mxcsr || in.fcw != out.fcw) {
			bad++;
			continue;
		}
		for (j = 0; j < 8; j++) {
			if (in.st[j] != out.st[j]) {
				bad++;
				break;
			}
		}
	}
	if (nsig != (sig_atomic_t)rounds)
		bad++;
	return bad != 0;
}

static int
check_fpu(unsigned rounds)
{
	struct sigaction sa;
	pid_t pid[2];
	int i, st, failed = 0;

	have_avx = avx_usable();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) == -1) {
		printf("lcheck: fpu: sigaction: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] == -1) {
			printf("lcheck: fpu: fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid[i] == 0)
			_exit(fpu_worker((unsigned)i + 1, rounds));
	}
	for (i = 0; i < 2; i++) {
		if (waitpid(pid[i], &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			printf("lcheck: fpu: process %d: %s %d\n", i + 1,
			    WIFSIGNALED(st) ? "killed by signal" : "failed rounds, status",
			    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			failed = 1;
		}
	}
	if (failed)
		return 1;
	printf("lcheck: fpu: 2 processes x %u rounds: x87, SSE and AVX (where enabled) state "
	    "kept across signals and switches: ok\n", rounds);
	return 0;
}

/* --------------------------------------------------------------------- */
/* fork/exec, timers, cpuinfo                                            */
/* --------------------------------------------------------------------- */

static int
check_exec(const char *self, unsigned n)
{
	unsigned i;
	pid_t pid;
	int st;

	for (i = 0; i < n; i++) {
		pid = fork();
		if (pid == -1) {
			printf("lcheck: exec: fork %u: %s\n", i, strerror(errno));
			return 1;
		}
		if (pid == 0) {
			execl("/proc/self/exe", self, "nop", (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			printf("lcheck: exec: run %u of %s failed\n", i, self);
			return 1;
		}
	}
	printf("lcheck: exec: %u fork+exec+wait: ok\n", n);
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile sig_atomic_t nalrm;

static void
on_alrm(int sig)
{
	(void)sig;
	nalrm++;
}

/*
 * A sleep of 0.5 s must take at least that long on the guest's clock; ten
 * 50 ms timer ticks must arrive.  Upper bounds are loose (an emulated
 * machine is slow), but a clock that runs wild or a timer that never
 * fires fails.
 */
static int
check_timer(void)
{
	struct timespec req = { 0, 500000000 };
	struct itimerval it;
	struct sigaction sa;
	double t0, t;

	t0 = now();
	if (nanosleep(&req, NULL) == -1) {
		printf("lcheck: timer: nanosleep: %s\n", strerror(errno));
		return 1;
	}
	t = now() - t0;
	if (t < 0.5 || t > 5.0) {
		printf("lcheck: timer: a 0.5 s sleep took %.3f s\n", t);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alrm;
	sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof(it));
	it.it_interval.tv_usec = 50000;
	it.it_value.tv_usec = 50000;
	t0 = now();
	setitimer(ITIMER_REAL, &it, NULL);
	while (nalrm < 10 && now() - t0 < 10.0)
		pause();
	t = now() - t0;
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	if (nalrm < 10 || t < 0.45) {
		printf("lcheck: timer: %d ticks of 50 ms in %.3f s\n", (int)nalrm, t);
		return 1;
	}
	printf("lcheck: timer: 0.5 s sleep, 10 ticks of a 50 ms interval timer: ok\n");
	return 0;
}

static int
check_cpuinfo(void)
{
	char line[4096];
	int nproc = 0, nflags = 0, good = 0;
	FILE *f;

	f = fopen("/proc/cpuinfo", "r");
	if (f == NULL) {
		printf("lcheck: cpuinfo: %s\n", strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "processor", 9) == 0)
			nproc++;
		if (strncmp(line, "flags", 5) == 0) {
			nflags++;
			if (strstr(line, " fpu ") && strstr(line, " sse2"))
				good++;
		}
	}
	fclose(f);
	if (nproc == 0 || nflags != nproc || good != nproc) {
		printf("lcheck: cpuinfo: %d processors, %d flags lines, %d with fpu and sse2\n",
		    nproc, nflags, good);
		return 1;
	}
	printf("lcheck: cpuinfo: %d processor%s, each with fpu and sse2: ok\n",
	    nproc, nproc == 1 ? "" : "s");
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long n = 0;
	char *end;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3) {
		errno = 0;
		n = strtoul(argv[2], &end, 10);
		if (errno != 0 || *end != '\0' || n == 0 || n > 1000000) {
			fprintf(stderr, "lcheck: bad count '%s'\n", argv[2]);
			return 2;
		}
	}
	if (argc == 2 && strcmp(argv[1], "nop") == 0)
		return 0;
	if (argc == 3 && strcmp(argv[1], "fpu") == 0)
		return check_fpu((unsigned)n);
	if (argc == 3 && strcmp(argv[1], "exec") == 0)
		return check_exec(argv[0], (unsigned)n);
	if (argc == 2 && strcmp(argv[1], "timer") == 0)
		return check_timer();
	if (argc == 2 && strcmp(argv[1], "cpuinfo") == 0)
		return check_cpuinfo();
	fprintf(stderr, "usage: lcheck fpu ROUNDS | exec N | timer | cpuinfo | nop\n");
	return 2;
}
