/* nvmm_registry.c - host-wide registry of machines: one record file per machine id. */

/*
 * KVM keeps no host-wide list of VMs, yet NVMM machine ids are host-wide
 * (0..127) and root's "nvmmctl list" sees every process's machines.  So
 * libnvmm keeps its own registry: a directory holding one file per
 * machine, named by the decimal id, with a fixed 48-byte binary record
 * (struct reg_record).
 *
 * Directory: $NVMM_REGISTRY_DIR when set (ignored by set-id programs),
 * else /dev/shm/nvmm, created mode 01777 (sticky, like /tmp) when
 * missing.  A directory that is a symlink, is not a directory, is owned by
 * someone other than root or the caller, or is group/other-writable
 * without the sticky bit is refused: the functions then fail with EACCES
 * and the library front end falls back to process-local machine ids (those
 * machines are invisible to other processes and their ids may collide with
 * other processes' ids).  Other failures to use the registry (read-only
 * file system, ENOSPC, a missing $NVMM_REGISTRY_DIR, ...) fail with their
 * own errno and lead to the same fallback; only ENOBUFS means "all 128
 * ids are taken".
 *
 * Liveness.  A record belongs to a live machine when its owner process
 * (pid and process start time, which detects pid reuse) still exists and
 * still holds the exclusive flock(2) it took on the file at creation.  The
 * lock lives as long as the owner's descriptor, so a crash, exit or exec
 * (the descriptor is close-on-exec, like the KVM descriptors whose
 * machines vanish with it) makes the record stale even when the pid lives
 * on.  Malformed records (wrong size, magic, version, id, or a uid field
 * that differs from the file's owner) are stale too.
 *
 * Concurrency.  Allocators serialise on an flock of the directory itself,
 * so a stale record is judged and replaced by one process at a time and
 * nobody ever sees another allocator's half-written record; the wait for
 * that lock is bounded (REG_LOCK_WAIT_MS) so that a process sitting on it
 * cannot hang machine creation.  Readers take no lock: a record being
 * created reads as missing.  Owners remove only their own file (checked
 * by inode), and do not need the directory lock.  Within a process a mutex
 * protects the table of owned records; it is held across fork so that a
 * child never inherits a half-done allocation or the directory lock.
 *
 * Forks: the child inherits the table but not the machines, so calls for
 * records whose recorded owner pid is not getpid() are ignored (the
 * inherited descriptors are deliberately left alone: the child may have
 * reused their numbers).  None of this is on a hot path.
 *
 * Limits.  Processes in different pid namespaces must not share the
 * directory (an owner whose pid we cannot see reads as dead).  Anyone who
 * may create files in the directory can hold ids (ENOBUFS for the others)
 * or make records that show false counts, but cannot take over or remove
 * another user's live record.  A lock wait that times out fails with
 * EAGAIN (fallback as above).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/file.h>
#include <sys/stat.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvmm_registry.h"

/* -------------------------------------------------------------------------
 * Record format.
 * ------------------------------------------------------------------------- */

#define REG_DEFAULT_DIR		"/dev/shm/nvmm"
#define REG_DIR_ENV		"NVMM_REGISTRY_DIR"
#define REG_MAGIC		0x524d564eU	/* "NVMR" in little endian */
#define REG_VERSION		1
#define REG_LOCK_WAIT_MS	5000		/* directory lock wait bound */

struct reg_record {
	uint32_t magic;
	uint32_t version;
	uint32_t machid;
	uint32_t uid;		/* owner's euid; must match the file's owner */
	int32_t pid;		/* owner process */
	uint32_t nvcpus;	/* nvcpus and nram are rewritten together */
	uint64_t nram;
	uint64_t start;		/* owner's start time, /proc/PID/stat field 22 */
	int64_t ctime;		/* creation, seconds since the Epoch */
};

static_assert(sizeof(struct reg_record) == 48, "registry record size");
static_assert(offsetof(struct reg_record, nram) ==
    offsetof(struct reg_record, nvcpus) + 4, "counts are contiguous");
static_assert(sizeof(pid_t) == sizeof(int32_t), "pid_t fits the record");

#define REG_COUNTS_OFF	offsetof(struct reg_record, nvcpus)
#define REG_COUNTS_LEN	(sizeof(uint32_t) + sizeof(uint64_t))

/* -------------------------------------------------------------------------
 * Process state.
 * ------------------------------------------------------------------------- */

/* A record this process (pid) created and keeps open (fd, flocked). */
struct reg_slot {
	pid_t pid;		/* 0: unused */
	int fd;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static struct reg_slot reg_slots[NVMM_MAX_MACHINES];	/* by machid */

/* Identity of the current process; refreshed when getpid() changes. */
static pid_t reg_pid;
static uint64_t reg_start;
static bool reg_proc_ok;	/* /proc works: start times are comparable */

static void
reg_fork_prepare(void)
{
	pthread_mutex_lock(&reg_lock);
}

static void
reg_fork_release(void)
{
	pthread_mutex_unlock(&reg_lock);
}

static void
reg_setup(void)
{
	/* Failure only means a fork during an allocation is not held off. */
	(void)pthread_atfork(reg_fork_prepare, reg_fork_release,
	    reg_fork_release);
}

/*
 * Reads the state letter and start time (field 22) of a process from
 * /proc/PID/stat.  The command name (field 2) may hold spaces and
 * parentheses, so fields are counted from the last ')'.
 */
static int
reg_proc_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[32], buf[1024], *p, *end;
	unsigned long long v;
	ssize_t n;
	int fd, field, e;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	e = errno;
	close(fd);
	if (n <= 0) {
		errno = n == 0 ? EIO : e;
		return -1;
	}
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		goto bad;
	p++;
	for (field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			goto bad;
		if (field == 3)
			*state = *p;
		if (field == 22) {
			errno = 0;
			v = strtoull(p, &end, 10);
			if (end == p || errno != 0)
				goto bad;
			*start = v;
			return 0;
		}
		while (*p != '\0' && *p != ' ')
			p++;
	}
bad:
	errno = EIO;
	return -1;
}

/* Refreshes the cached identity after a fork.  reg_lock held. */
static void
reg_identity(void)
{
	pid_t pid = getpid();
	char state;

	if (pid == reg_pid)
		return;
	reg_pid = pid;
	reg_proc_ok = reg_proc_stat(pid, &state, &reg_start) == 0;
	if (!reg_proc_ok)
		reg_start = 0;
}

/* Whether this process created slot id (and not a parent before a fork). */
static bool
reg_slot_ours(nvmm_machid_t id)
{
	return reg_slots[id].pid != 0 && reg_slots[id].pid == reg_pid;
}

/* -------------------------------------------------------------------------
 * Directory and records.
 * ------------------------------------------------------------------------- */

/*
 * Opens the registry directory, creating the default one when create is
 * set, and checks that it can be trusted (see the top of this file).
 * Returns a descriptor, or -1 with errno (EACCES: refused).
 */
static int
reg_opendir(bool create)
{
	const char *path;
	struct stat st;
	bool dflt, made = false;
	uid_t me = geteuid();
	int fd;

	path = secure_getenv(REG_DIR_ENV);
	dflt = path == NULL || path[0] == '\0';
	if (dflt)
		path = REG_DEFAULT_DIR;
	if (dflt && create) {
		if (mkdir(path, 01777) == 0)
			made = true;
		else if (errno != EEXIST)
			return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ELOOP || errno == ENOTDIR)
			errno = EACCES;
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	/* mkdir's mode went through the umask; every user must create here. */
	if (made && st.st_uid == me && (st.st_mode & 07777) != 01777) {
		if (fchmod(fd, 01777) == -1 || fstat(fd, &st) == -1)
			goto fail;
	}
	if (!S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != me) ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (st.st_mode & S_ISVTX) == 0)) {
		errno = EACCES;
		goto fail;
	}
	return fd;
fail:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return -1;
}

/* Takes the allocators' lock on the directory, waiting a bounded time. */
static int
reg_lockdir(int dirfd)
{
	const struct timespec pause = { 0, 1000000 };	/* 1 ms */
	struct timespec now, deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += REG_LOCK_WAIT_MS / 1000;
	for (;;) {
		if (flock(dirfd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > deadline.tv_sec ||
		    (now.tv_sec == deadline.tv_sec &&
		    now.tv_nsec >= deadline.tv_nsec)) {
			errno = EAGAIN;
			return -1;
		}
		nanosleep(&pause, NULL);
	}
}

#define REG_NAME_LEN	16

static void
reg_name(char name[REG_NAME_LEN], nvmm_machid_t id)
{
	snprintf(name, REG_NAME_LEN, "%u", (unsigned int)id);
}

enum reg_status { REC_OK, REC_MISSING, REC_BAD, REC_ERROR };

/*
 * Opens and reads record id.  REC_OK: *r is a well-formed record and *fdp
 * an open descriptor of its file (the caller closes it).  REC_MISSING: no
 * such file.  REC_BAD: something malformed is there.  REC_ERROR: errno
 * says why we could not tell (out of descriptors or memory).  The file's
 * contents are untrusted: anybody may have written them.
 */
static enum reg_status
reg_read(int dirfd, nvmm_machid_t id, struct reg_record *r, int *fdp)
{
	struct stat st;
	char name[REG_NAME_LEN];
	int fd;

	reg_name(name, id);
	/* O_NONBLOCK: a FIFO planted under a record name must not hang us. */
	fd = openat(dirfd, name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		switch (errno) {
		case ENOENT:
			return REC_MISSING;
		case EMFILE:
		case ENFILE:
		case ENOMEM:
			return REC_ERROR;
		default:
			return REC_BAD;
		}
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size != (off_t)sizeof(*r) ||
	    pread(fd, r, sizeof(*r), 0) != (ssize_t)sizeof(*r) ||
	    r->magic != REG_MAGIC || r->version != REG_VERSION ||
	    r->machid != id || r->pid <= 0 || r->uid != st.st_uid) {
		close(fd);
		return REC_BAD;
	}
	*fdp = fd;
	return REC_OK;
}

/*
 * Whether well-formed record r of machine id (file open as fd) belongs to
 * a live owner.  reg_lock held, identity fresh.
 */
static bool
reg_live(nvmm_machid_t id, const struct reg_record *r, int fd)
{
	uint64_t start;
	char state;

	if (r->pid == reg_pid) {
		if (reg_slot_ours(id))
			return r->start == reg_start;
		/* Our pid but not our record: an earlier process or exec. */
		if (r->start != reg_start)
			return false;
	} else if (reg_proc_ok) {
		if (reg_proc_stat(r->pid, &state, &start) == 0) {
			if (state == 'Z' || state == 'X' || start != r->start)
				return false;
		} else if (kill(r->pid, 0) == -1 && errno == ESRCH) {
			return false;
		}
		/* Otherwise /proc hides it (hidepid): the lock decides. */
	} else if (kill(r->pid, 0) == -1 && errno == ESRCH) {
		return false;
	}
	/* The owner holds LOCK_EX for as long as it keeps the record open. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		return false;
	}
	return true;
}

/*
 * Tries to take id: creates its record, replacing a stale one.  Returns 1
 * (taken, slot filled), 0 (in use, or a stale file we may not remove) or
 * -1 with errno (the registry is unusable).  reg_lock and the directory
 * lock held.
 */
static int
reg_claim(int dirfd, nvmm_machid_t id)
{
	struct reg_record r;
	char name[REG_NAME_LEN];
	ssize_t n;
	int fd, rfd, tries, e;
	bool live;

	reg_name(name, id);
	for (tries = 0; tries < 3; tries++) {
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd != -1)
			break;
		if (errno != EEXIST)
			return -1;
		switch (reg_read(dirfd, id, &r, &rfd)) {
		case REC_ERROR:
			return -1;
		case REC_MISSING:
			continue;
		case REC_OK:
			live = reg_live(id, &r, rfd);
			close(rfd);
			if (live)
				return 0;
			break;
		case REC_BAD:
			break;
		}
		/* Stale.  The sticky bit protects other users' files. */
		if (unlinkat(dirfd, name, 0) == -1 && errno != ENOENT)
			return 0;
	}
	if (fd == -1)
		return 0;

	memset(&r, 0, sizeof(r));
	r.magic = REG_MAGIC;
	r.version = REG_VERSION;
	r.machid = id;
	r.uid = (uint32_t)geteuid();
	r.pid = reg_pid;
	r.start = reg_start;
	r.ctime = (int64_t)time(NULL);
	/* Readable by all whatever the umask: others judge its liveness. */
	if (fchmod(fd, 0644) == -1 || flock(fd, LOCK_EX | LOCK_NB) == -1)
		goto fail;
	if ((n = pwrite(fd, &r, sizeof(r), 0)) != (ssize_t)sizeof(r)) {
		if (n >= 0)
			errno = ENOSPC;
		goto fail;
	}
	reg_slots[id].pid = reg_pid;
	reg_slots[id].fd = fd;
	return 1;
fail:
	e = errno;
	unlinkat(dirfd, name, 0);
	close(fd);
	errno = e;
	return -1;
}

/* -------------------------------------------------------------------------
 * Interface.
 * ------------------------------------------------------------------------- */

int
nvmm_reg_alloc(nvmm_machid_t *machid)
{
	nvmm_machid_t id;
	int dirfd = -1, ret = -1, e, rv;

	pthread_once(&reg_once, reg_setup);
	pthread_mutex_lock(&reg_lock);
	reg_identity();
	if ((dirfd = reg_opendir(true)) == -1 || reg_lockdir(dirfd) == -1)
		goto out;
	for (id = 0; id < NVMM_MAX_MACHINES; id++) {
		if (reg_slot_ours(id))
			continue;
		if ((rv = reg_claim(dirfd, id)) == -1)
			goto out;
		if (rv == 1) {
			*machid = id;
			ret = 0;
			goto out;
		}
	}
	errno = ENOBUFS;
out:
	e = errno;
	if (dirfd != -1)
		close(dirfd);	/* drops the directory lock */
	pthread_mutex_unlock(&reg_lock);
	errno = e;
	return ret;
}

void
nvmm_reg_update(nvmm_machid_t machid, uint32_t nvcpus, uint64_t nram)
{
	unsigned char buf[REG_COUNTS_LEN];
	int e = errno;

	if (machid >= NVMM_MAX_MACHINES)
		return;
	memcpy(buf, &nvcpus, sizeof(nvcpus));
	memcpy(buf + sizeof(nvcpus), &nram, sizeof(nram));
	pthread_mutex_lock(&reg_lock);
	if (reg_slots[machid].pid != 0 && reg_slots[machid].pid == getpid())
		(void)pwrite(reg_slots[machid].fd, buf, sizeof(buf),
		    REG_COUNTS_OFF);
	pthread_mutex_unlock(&reg_lock);
	errno = e;
}

void
nvmm_reg_free(nvmm_machid_t machid)
{
	struct stat mine, named;
	char name[REG_NAME_LEN];
	int fd, dirfd, e = errno;

	if (machid >= NVMM_MAX_MACHINES)
		return;
	pthread_mutex_lock(&reg_lock);
	if (reg_slots[machid].pid == 0 || reg_slots[machid].pid != getpid())
		goto out;
	fd = reg_slots[machid].fd;
	reg_slots[machid].pid = 0;
	reg_slots[machid].fd = -1;
	/* Remove the name only if it still is our file; closing unlocks. */
	reg_name(name, machid);
	if ((dirfd = reg_opendir(false)) != -1) {
		if (fstat(fd, &mine) == 0 &&
		    fstatat(dirfd, name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
		    mine.st_dev == named.st_dev && mine.st_ino == named.st_ino)
			unlinkat(dirfd, name, 0);
		close(dirfd);
	}
	close(fd);
out:
	pthread_mutex_unlock(&reg_lock);
	errno = e;
}

int
nvmm_reg_query(struct nvmm_ctl_mach_info *info, bool root)
{
	struct reg_record r;
	nvmm_machid_t id = info->machid;
	int dirfd, fd, ret = -1, e;
	bool live, own;

	if (id >= NVMM_MAX_MACHINES) {
		errno = EINVAL;
		return -1;
	}
	pthread_once(&reg_once, reg_setup);
	pthread_mutex_lock(&reg_lock);
	reg_identity();
	if ((dirfd = reg_opendir(false)) == -1)
		goto out;	/* ENOENT: no registry yet, so no machine */
	switch (reg_read(dirfd, id, &r, &fd)) {
	case REC_ERROR:
		break;
	case REC_MISSING:
	case REC_BAD:
		errno = ENOENT;
		break;
	case REC_OK:
		live = reg_live(id, &r, fd);
		close(fd);
		own = reg_slot_ours(id) && r.pid == reg_pid;
		if (!live) {
			errno = ENOENT;
		} else if (!own && !root) {
			errno = EPERM;
		} else {
			info->nvcpus = r.nvcpus;
			info->nram = r.nram;
			info->pid = (pid_t)r.pid;
			info->time = (time_t)r.ctime;
			ret = 0;
		}
		break;
	}
	e = errno;
	close(dirfd);
	errno = e;
out:
	pthread_mutex_unlock(&reg_lock);
	return ret;
}
