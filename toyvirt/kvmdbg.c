/* kvmdbg.c - toyvirt reaches KVM directly (Linux only): guest debugging, which libnvmm does not offer, and naming what an unusable /dev/kvm lacks. */

#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kvmdbg.h"

/*
 * Nothing here goes through libnvmm, and nothing here changes what libnvmm
 * keeps: KVM_SET_GUEST_DEBUG only sets KVM's own debug controls (it adds
 * TF to the guest's RFLAGS while single-stepping, which KVM hides from
 * register reads), and the kvm_run page is mapped read-only.  The one
 * write is kvmdbg_step_from's: the RIP libnvmm is about to load anyway.
 * The descriptor stays libnvmm's; toyvirt never closes it.
 */

_Static_assert(KVM_GUESTDBG_ENABLE == KVMDBG_ENABLE &&
    KVM_GUESTDBG_SINGLESTEP == KVMDBG_SINGLESTEP &&
    KVM_GUESTDBG_USE_SW_BP == KVMDBG_USE_SW_BP &&
    KVM_GUESTDBG_USE_HW_BP == KVMDBG_USE_HW_BP &&
    KVM_GUESTDBG_BLOCKIRQ == KVMDBG_BLOCKIRQ &&
    (0x10000 | KVM_EXIT_DEBUG) == KVMDBG_HWCODE_DEBUG,
    "KVM_GUESTDBG_* values");

#define RUN_MAP_SIZE	4096	/* the kvm_run structure is in page 0 */

static void __attribute__((format(printf, 3, 4)))
say_into(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------
 * The VCPU's descriptor and its kvm_run page.
 * ------------------------------------------------------------------------ */

int
kvmdbg_attach(unsigned id, struct kvmdbg_vcpu *kd, char *err, size_t errlen)
{
	char want[64], path[64], link[128];
	struct dirent *de;
	ssize_t n;
	DIR *d;
	void *p;
	int fd = -1;

	kd->fd = -1;
	kd->run = NULL;
	snprintf(want, sizeof(want), "anon_inode:kvm-vcpu:%u", id);
	d = opendir("/proc/self/fd");
	if (d == NULL) {
		say_into(err, errlen, "cannot list /proc/self/fd: %s",
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *end;
		long v;

		errno = 0;
		v = strtol(de->d_name, &end, 10);
		if (*end != '\0' || errno != 0 || v < 0 || v > 1 << 30)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%ld", v);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, want) == 0) {
			fd = (int)v;
			break;
		}
	}
	closedir(d);
	if (fd == -1) {
		say_into(err, errlen, "no descriptor links to \"%s\" in "
		    "/proc/self/fd (libnvmm's KVM VCPU)", want);
		return -1;
	}
	p = mmap(NULL, RUN_MAP_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		say_into(err, errlen, "cannot map the kvm_run page of KVM VCPU "
		    "%u: %s", id, strerror(errno));
		return -1;
	}
	kd->fd = fd;
	kd->run = p;
	return 0;
}

uint32_t
kvmdbg_supported(void)
{
	int fd, n;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_GUEST_DEBUG) <= 0) {
		close(fd);
		return 0;
	}
	n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_GUEST_DEBUG2);
	close(fd);
	if (n <= 0)	/* older KVM: the basic set, no BLOCKIRQ */
		return KVMDBG_ENABLE | KVMDBG_SINGLESTEP | KVMDBG_USE_SW_BP |
		    KVMDBG_USE_HW_BP;
	return (uint32_t)n;
}

/* Is this process on QEMU's TCG (its hypervisor leaf says so)? */
static bool
on_qemu_tcg(void)
{
	unsigned a, b, c, d;
	char sig[12];

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & 0x80000000U))
		return false;		/* no hypervisor */
	__cpuid(0x40000000, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	return memcmp(sig, "TCGTCGTCGTCG", 12) == 0;
}

uint32_t
kvmdbg_host_limits(void)
{
	if (access("/sys/module/kvm_pvm", F_OK) == 0)
		return KVMDBG_LIM_CPL3 | KVMDBG_LIM_WATCH;
	if (on_qemu_tcg())
		return KVMDBG_LIM_DR | KVMDBG_LIM_WATCH | KVMDBG_LIM_INT3;
	return 0;
}

int
kvmdbg_step_from(const struct kvmdbg_vcpu *kd, uint64_t rip)
{
	struct kvm_regs r;

	if (kd->fd == -1) {
		errno = EBADF;
		return -1;
	}
	if (ioctl(kd->fd, KVM_GET_REGS, &r) == -1)
		return -1;
	if (r.rip == rip)
		return 0;
	/*
	 * KVM_SET_REGS loads the rest as KVM has it; libnvmm's load at the
	 * run then writes the client's values over all of it, with this
	 * RIP, where KVM keeps the trap flag.
	 */
	r.rip = rip;
	return ioctl(kd->fd, KVM_SET_REGS, &r);
}

int
kvmdbg_set(const struct kvmdbg_vcpu *kd, uint32_t control,
    const uint64_t dr[4], uint64_t dr7)
{
	struct kvm_guest_debug dbg;
	int i;

	if (kd->fd == -1) {
		errno = EBADF;
		return -1;
	}
	memset(&dbg, 0, sizeof(dbg));
	dbg.control = control;
	for (i = 0; i < 4; i++)
		dbg.arch.debugreg[i] = dr[i];
	dbg.arch.debugreg[7] = dr7;
	return ioctl(kd->fd, KVM_SET_GUEST_DEBUG, &dbg);
}

bool
kvmdbg_exit_info(const struct kvmdbg_vcpu *kd, struct kvmdbg_exit *ex)
{
	const volatile struct kvm_run *run = kd->run;

	if (run == NULL || run->exit_reason != KVM_EXIT_DEBUG)
		return false;
	ex->exception = run->debug.arch.exception;
	ex->pc = run->debug.arch.pc;
	ex->dr6 = run->debug.arch.dr6;
	ex->dr7 = run->debug.arch.dr7;
	return true;
}

/* ------------------------------------------------------------------------
 * Why nvmm_init failed.
 * ------------------------------------------------------------------------ */

static void
mode_string(mode_t m, char s[11])
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	s[0] = S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b' : S_ISDIR(m) ? 'd' :
	    S_ISREG(m) ? '-' : '?';
	for (i = 0; i < 9; i++)
		s[1 + i] = (m & (0400 >> i)) ? rwx[i] : '-';
	s[10] = '\0';
}

static void
no_access(char *msg, size_t len, int e)
{
	struct stat st;
	struct passwd *pw;
	struct group *gr;
	char mode[11], owner[32], group[32];

	if (stat("/dev/kvm", &st) == -1) {
		say_into(msg, len, "%s: no access to /dev/kvm; add your user "
		    "to the kvm group (then log in again)", strerror(e));
		return;
	}
	mode_string(st.st_mode, mode);
	pw = getpwuid(st.st_uid);
	gr = getgrgid(st.st_gid);
	if (pw != NULL)
		snprintf(owner, sizeof(owner), "%s", pw->pw_name);
	else
		snprintf(owner, sizeof(owner), "%u", (unsigned)st.st_uid);
	if (gr != NULL)
		snprintf(group, sizeof(group), "%s", gr->gr_name);
	else
		snprintf(group, sizeof(group), "%u", (unsigned)st.st_gid);
	if ((st.st_mode & 060) != 060 || st.st_gid == 0)
		say_into(msg, len, "%s: no access to /dev/kvm (%s %s:%s: only "
		    "%s may use it); add your user to the kvm group (then log "
		    "in again) after giving /dev/kvm to that group with mode "
		    "0660 (the usual udev rule does)", strerror(e), mode,
		    owner, group, owner);
	else
		say_into(msg, len, "%s: no access to /dev/kvm (%s %s:%s); add "
		    "your user to the %s group (then log in again)",
		    strerror(e), mode, owner, group, group);
}

void
kvmdbg_diagnose(int e, char *msg, size_t len)
{
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_READONLY_MEM, "KVM_CAP_READONLY_MEM" },
		{ KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS" },
		{ KVM_CAP_X86_USER_SPACE_MSR, "KVM_CAP_X86_USER_SPACE_MSR" },
		{ KVM_CAP_X86_MSR_FILTER, "KVM_CAP_X86_MSR_FILTER" },
		{ KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS" },
		{ KVM_CAP_XCRS, "KVM_CAP_XCRS" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_XSAVE, "KVM_CAP_XSAVE" },
	};
	const int sync_need = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS |
	    KVM_SYNC_X86_EVENTS;
	char missing[512];
	size_t i, used = 0;
	int fd, v;

	if (e == EACCES || e == EPERM) {
		no_access(msg, len, e);
		return;
	}
	if (e == EPROTONOSUPPORT) {
		say_into(msg, len, "%s: the kernel's KVM and libnvmm do not "
		    "match", strerror(e));
		return;
	}
	if (e != ENXIO && e != ENOENT && e != ENODEV) {
		say_into(msg, len, "%s", strerror(e));
		return;
	}

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd == -1) {
		int oe = errno;

		if (oe == ENOENT)
			say_into(msg, len, "%s: /dev/kvm does not exist; load "
			    "the kvm module (modprobe kvm_intel or kvm_amd) "
			    "and check that virtualization is enabled in the "
			    "firmware", strerror(e));
		else if (oe == EACCES || oe == EPERM)
			no_access(msg, len, oe);
		else
			say_into(msg, len, "%s: /dev/kvm is missing or "
			    "unusable (open: %s); load the kvm module "
			    "(modprobe kvm_intel or kvm_amd) and check that "
			    "virtualization is enabled", strerror(e),
			    strerror(oe));
		return;
	}

	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		say_into(msg, len, "%s: /dev/kvm speaks KVM API version %d, "
		    "libnvmm needs %d", strerror(e), v, KVM_API_VERSION);
		close(fd);
		return;
	}
	missing[0] = '\0';
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, caps[i].cap) > 0)
			continue;
		used += (size_t)snprintf(missing + used, sizeof(missing) - used,
		    "%s%s", used > 0 ? ", " : "", caps[i].name);
		if (used >= sizeof(missing))
			used = sizeof(missing) - 1;
	}
	v = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
	if (v < 0 || (v & sync_need) != sync_need) {
		used += (size_t)snprintf(missing + used, sizeof(missing) - used,
		    "%sKVM_CAP_SYNC_REGS with REGS|SREGS|EVENTS (it has 0x%x)",
		    used > 0 ? ", " : "", v < 0 ? 0 : (unsigned)v);
		if (used >= sizeof(missing))
			used = sizeof(missing) - 1;
	}
	v = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPU_ID);
	if (v > 0 && v < 256) {
		used += (size_t)snprintf(missing + used, sizeof(missing) - used,
		    "%sKVM_CAP_MAX_VCPU_ID >= 256 (it is %d)",
		    used > 0 ? ", " : "", v);
		if (used >= sizeof(missing))
			used = sizeof(missing) - 1;
	}
	if (used > 0) {
		say_into(msg, len, "%s: KVM is too old for libnvmm: it lacks "
		    "%s (Linux 5.10 or later has everything libnvmm needs)",
		    strerror(e), missing);
		close(fd);
		return;
	}
	if (ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0) < (int)sizeof(struct kvm_run)) {
		say_into(msg, len, "%s: KVM_GET_VCPU_MMAP_SIZE failed or is too "
		    "small", strerror(e));
		close(fd);
		return;
	}
	close(fd);
	say_into(msg, len, "%s: /dev/kvm has every capability libnvmm "
	    "checks, yet libnvmm found it unusable (KVM_GET_SUPPORTED_CPUID "
	    "or the VCPU kick signal may have failed)", strerror(e));
}
