/* t_registry.c - tests of the host-wide machine registry (lib/nvmm_registry.c); no KVM needed. */

/*
 * Every test runs against a fresh directory made with mkdtemp and named
 * by NVMM_REGISTRY_DIR, so the host's real registry is never touched.
 * Other processes are real forked children synchronised through pipes.
 * When the build directory ($B, set by tests/run.sh) holds nvmmctl and
 * /dev/kvm is usable, "nvmmctl list" is also checked end to end against
 * the records made here.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nvmm.h>

#include "nvmm_registry.h"
#include "vmtest.h"

/* -------------------------------------------------------------------------
 * Helpers.
 * ------------------------------------------------------------------------- */

static char topdir[64];		/* mkdtemp result, removed at the end */
static char regdir[128];	/* the registry directory of most tests */

static void
use_dir(const char *path)
{
	setenv("NVMM_REGISTRY_DIR", path, 1);
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static bool
rec_exists(const char *dir, unsigned id)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%u", dir, id);
	return lstat(path, &st) == 0;
}

static void
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd != -1, "create %s: %s", path, strerror(errno));
	if (fd == -1)
		return;
	CHECK(len == 0 || write(fd, data, len) == (ssize_t)len, "write %s",
	    path);
	close(fd);
}

static ssize_t
read_file(const char *dir, unsigned id, void *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%u", dir, id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, len);
	close(fd);
	return n;
}

/* alloc, expecting success; returns the id or 9999. */
static nvmm_machid_t
alloc_ok(void)
{
	nvmm_machid_t id = 9999;

	errno = 0;
	CHECK(nvmm_reg_alloc(&id) == 0, "alloc: %s", strerror(errno));
	return id;
}

static int
query(nvmm_machid_t id, bool root, struct nvmm_ctl_mach_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	info->machid = id;
	errno = 0;
	return nvmm_reg_query(info, root);
}

/* Expects query(id, root) to fail with err. */
static void
query_fails(nvmm_machid_t id, bool root, int err, int line)
{
	struct nvmm_ctl_mach_info info;
	int rv = query(id, root, &info);

	CHECK(rv == -1 && errno == err,
	    "line %d: query(%u, %d) = %d errno %d (%s), expected errno %d",
	    line, id, root, rv, errno, strerror(errno), err);
}
#define QUERY_FAILS(id, root, err) query_fails(id, root, err, __LINE__)

static void
rd_all(int fd, void *buf, size_t len)
{
	CHECK(read(fd, buf, len) == (ssize_t)len, "pipe read");
}

static void
wr_all(int fd, const void *buf, size_t len)
{
	CHECK(write(fd, buf, len) == (ssize_t)len, "pipe write");
}

/* Waits for child pid; returns its exit status, or -1 if it died otherwise. */
static int
wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* fork() for tests: a child counts only its own failed checks. */
static pid_t
test_fork(void)
{
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) == 0)
		vmt_failures = 0;
	CHECK(pid != -1, "fork: %s", strerror(errno));
	return pid;
}

/* Children report their own failed checks through their exit status. */
static void
child_exit(void)
{
	fflush(stdout);
	_exit(vmt_failures == 0 ? 0 : 1);
}

/* -------------------------------------------------------------------------
 * Directory checks.
 * ------------------------------------------------------------------------- */

static void
test_dir_checks(void)
{
	char path[256], sub[256];
	nvmm_machid_t id;

	/* A symlink to a good directory is refused. */
	snprintf(sub, sizeof(sub), "%s/ok", topdir);
	CHECK(mkdir(sub, 0700) == 0, "mkdir");
	snprintf(path, sizeof(path), "%s/link", topdir);
	CHECK(symlink(sub, path) == 0, "symlink");
	use_dir(path);
	CHECK_ERR(nvmm_reg_alloc(&id), EACCES);
	QUERY_FAILS(0, true, EACCES);

	/* A regular file is refused. */
	snprintf(path, sizeof(path), "%s/file", topdir);
	write_file(topdir, "file", "x", 1);
	use_dir(path);
	CHECK_ERR(nvmm_reg_alloc(&id), EACCES);

	/* World-writable without the sticky bit is refused, with it fine. */
	use_dir(sub);
	CHECK(chmod(sub, 0777) == 0, "chmod");
	CHECK_ERR(nvmm_reg_alloc(&id), EACCES);
	CHECK(chmod(sub, 0770) == 0, "chmod");
	CHECK_ERR(nvmm_reg_alloc(&id), EACCES);
	CHECK(chmod(sub, 01777) == 0, "chmod");
	id = alloc_ok();
	CHECK(id == 0, "id %u", id);
	CHECK(rec_exists(sub, 0), "record file");
	nvmm_reg_free(id);
	CHECK(!rec_exists(sub, 0), "record removed");

	/* Owned by somebody else (neither root nor us) is refused. */
	if (geteuid() == 0) {
		CHECK(chown(sub, 65534, 65534) == 0, "chown");
		CHECK_ERR(nvmm_reg_alloc(&id), EACCES);
		QUERY_FAILS(0, true, EACCES);
	} else {
		printf("note: not root, foreign-owner check skipped\n");
	}

	/* A missing $NVMM_REGISTRY_DIR is not created; queries see nothing. */
	snprintf(path, sizeof(path), "%s/missing", topdir);
	use_dir(path);
	CHECK_ERR(nvmm_reg_alloc(&id), ENOENT);
	QUERY_FAILS(3, true, ENOENT);
	CHECK(access(path, F_OK) == -1, "missing dir created");

	use_dir(regdir);
}

/* -------------------------------------------------------------------------
 * Allocation in one process.
 * ------------------------------------------------------------------------- */

static void
test_lowest(void)
{
	nvmm_machid_t a, b, c, d;

	a = alloc_ok();
	b = alloc_ok();
	c = alloc_ok();
	CHECK(a == 0 && b == 1 && c == 2, "ids %u %u %u", a, b, c);
	CHECK(rec_exists(regdir, 1), "record 1");
	nvmm_reg_free(b);
	CHECK(!rec_exists(regdir, 1), "record 1 removed");
	QUERY_FAILS(1, false, ENOENT);
	d = alloc_ok();
	CHECK(d == 1, "reused id %u", d);
	/* Freeing twice, or an id we never had, is harmless. */
	nvmm_reg_free(d);
	nvmm_reg_free(d);
	nvmm_reg_free(100);
	nvmm_reg_free(12345);
	nvmm_reg_free(a);
	nvmm_reg_free(c);
	CHECK(!rec_exists(regdir, 0) && !rec_exists(regdir, 2),
	    "records removed");
}

static void
test_full(void)
{
	nvmm_machid_t ids[NVMM_MAX_MACHINES], id;
	unsigned i;
	bool inorder = true;

	for (i = 0; i < NVMM_MAX_MACHINES; i++) {
		ids[i] = alloc_ok();
		if (ids[i] != i)
			inorder = false;
	}
	CHECK(inorder, "128 ids allocated in order");
	CHECK_ERR(nvmm_reg_alloc(&id), ENOBUFS);
	nvmm_reg_free(77);
	id = alloc_ok();
	CHECK(id == 77, "reused %u", id);
	for (i = 0; i < NVMM_MAX_MACHINES; i++)
		nvmm_reg_free(ids[i]);
	for (i = 0; i < NVMM_MAX_MACHINES; i++)
		CHECK(!rec_exists(regdir, i), "record %u left", i);
}

static void
test_update_query(void)
{
	struct nvmm_ctl_mach_info info;
	nvmm_machid_t id;
	time_t t0, t1;
	int rv;

	t0 = time(NULL);
	id = alloc_ok();
	t1 = time(NULL);
	rv = query(id, false, &info);
	CHECK(rv == 0, "own query: %s", strerror(errno));
	CHECK(info.machid == id, "machid changed");
	CHECK(info.nvcpus == 0 && info.nram == 0, "fresh counts %u %" PRIu64,
	    info.nvcpus, info.nram);
	CHECK(info.pid == getpid(), "pid %d", (int)info.pid);
	CHECK(info.time >= t0 && info.time <= t1, "time %lld not in [%lld,%lld]",
	    (long long)info.time, (long long)t0, (long long)t1);

	nvmm_reg_update(id, 3, 2ULL << 30);
	rv = query(id, false, &info);
	CHECK(rv == 0 && info.nvcpus == 3 && info.nram == (2ULL << 30),
	    "updated: %d %u %" PRIu64, rv, info.nvcpus, info.nram);
	nvmm_reg_update(id, 256, UINT64_MAX);
	rv = query(id, true, &info);
	CHECK(rv == 0 && info.nvcpus == 256 && info.nram == UINT64_MAX,
	    "updated: %d %u %" PRIu64, rv, info.nvcpus, info.nram);
	nvmm_reg_update(id + 1, 7, 7);		/* not ours: ignored */
	CHECK(!rec_exists(regdir, id + 1), "update created a record");

	/* update and free must not clobber errno. */
	errno = EDOM;
	nvmm_reg_update(id, 1, 4096);
	CHECK(errno == EDOM, "update changed errno to %d", errno);

	QUERY_FAILS(id + 1, false, ENOENT);
	QUERY_FAILS(id + 1, true, ENOENT);
	QUERY_FAILS(NVMM_MAX_MACHINES, true, EINVAL);
	QUERY_FAILS(UINT32_MAX, true, EINVAL);

	errno = EDOM;
	nvmm_reg_free(id);
	CHECK(errno == EDOM, "free changed errno to %d", errno);
	QUERY_FAILS(id, true, ENOENT);
}

/* -------------------------------------------------------------------------
 * Other processes.
 * ------------------------------------------------------------------------- */

/*
 * Runs "$B/nvmmctl list" and compares its whole output with expect.
 * Skipped (with a note) when there is no build directory, no nvmmctl or
 * no usable /dev/kvm.
 */
static void
check_nvmmctl_list(const char *expect)
{
	const char *b = getenv("B");
	char cmd[512], out[4096];
	size_t n = 0, r;
	FILE *f;
	int fd, status;

	if (b == NULL) {
		printf("note: $B not set, nvmmctl list not checked\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s/nvmmctl", b);
	if (access(cmd, X_OK) != 0) {
		printf("note: no %s, nvmmctl list not checked\n", cmd);
		return;
	}
	if ((fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)) == -1 ||
	    geteuid() != 0) {
		printf("note: /dev/kvm unusable or not root, nvmmctl list "
		    "not checked\n");
		if (fd != -1)
			close(fd);
		return;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s/nvmmctl list", b);
	fflush(stdout);
	if ((f = popen(cmd, "r")) == NULL) {
		CHECK(0, "popen: %s", strerror(errno));
		return;
	}
	while (n < sizeof(out) - 1 &&
	    (r = fread(out + n, 1, sizeof(out) - 1 - n, f)) > 0)
		n += r;
	out[n] = '\0';
	status = pclose(f);
	CHECK(status == 0, "nvmmctl list exit status %d", status);
	CHECK(strcmp(out, expect) == 0,
	    "nvmmctl list printed:\n%s--- expected:\n%s---", out, expect);
}

/* One "nvmmctl list" line, from what the registry reports. */
static void
list_line(char *buf, size_t size, nvmm_machid_t id, const char *ram)
{
	struct nvmm_ctl_mach_info info;
	char ts[64];
	struct tm tm;

	if (query(id, true, &info) == -1 ||
	    localtime_r(&info.time, &tm) == NULL) {
		snprintf(buf, size, "(machine %u not found)\n", id);
		return;
	}
	strftime(ts, sizeof(ts), "%a %b %e %H:%M:%S %Y", &tm);
	snprintf(buf, size, "%-10u %-5u %-4s %-9d %s\n", id, info.nvcpus, ram,
	    (int)info.pid, ts);
}

static void
test_other_process(void)
{
	struct nvmm_ctl_mach_info info;
	int up[2], down[2];
	nvmm_machid_t cid = 9999, pid_id;
	char expect[1024], l0[256], l1[256];
	pid_t pid;
	int rv;

	CHECK(pipe2(up, O_CLOEXEC) == 0 && pipe2(down, O_CLOEXEC) == 0,
	    "pipe");
	if ((pid = test_fork()) == 0) {
		char c;

		close(up[0]);
		close(down[1]);
		cid = alloc_ok();
		nvmm_reg_update(cid, 2, 512ULL << 20);
		wr_all(up[1], &cid, sizeof(cid));
		/* Wait until the parent is done looking. */
		(void)read(down[0], &c, 1);
		nvmm_reg_free(cid);
		child_exit();
	}
	close(up[1]);
	close(down[0]);
	rd_all(up[0], &cid, sizeof(cid));
	CHECK(cid == 0, "child's id %u", cid);

	QUERY_FAILS(cid, false, EPERM);
	rv = query(cid, true, &info);
	CHECK(rv == 0, "root query: %s", strerror(errno));
	CHECK(info.pid == pid && info.nvcpus == 2 &&
	    info.nram == (512ULL << 20), "root query: pid %d %u %" PRIu64,
	    (int)info.pid, info.nvcpus, info.nram);

	/* The child's live id is skipped. */
	pid_id = alloc_ok();
	CHECK(pid_id == 1, "parent's id %u", pid_id);

	list_line(l0, sizeof(l0), cid, "512M");
	list_line(l1, sizeof(l1), pid_id, "0B");
	snprintf(expect, sizeof(expect), "%s%s%s%s",
	    "Machine ID VCPUs RAM  Owner PID Creation Time           \n",
	    "---------- ----- ---- --------- ------------------------\n",
	    l0, l1);
	check_nvmmctl_list(expect);

	/* Let the child free and exit. */
	close(down[1]);
	CHECK(wait_child(pid) == 0, "child failed");
	close(up[0]);
	QUERY_FAILS(cid, true, ENOENT);
	CHECK(!rec_exists(regdir, cid), "child's record left");
	nvmm_reg_free(pid_id);
}

static void
test_stale_dead(void)
{
	int up[2];
	nvmm_machid_t cid = 9999, id;
	pid_t pid;

	CHECK(pipe2(up, O_CLOEXEC) == 0, "pipe");
	if ((pid = test_fork()) == 0) {
		close(up[0]);
		cid = alloc_ok();
		nvmm_reg_update(cid, 1, 4096);
		wr_all(up[1], &cid, sizeof(cid));
		child_exit();		/* without freeing */
	}
	close(up[1]);
	rd_all(up[0], &cid, sizeof(cid));
	close(up[0]);
	CHECK(wait_child(pid) == 0, "child failed");
	CHECK(cid == 0, "child's id %u", cid);
	CHECK(rec_exists(regdir, cid), "dead child's record already gone");
	QUERY_FAILS(cid, true, ENOENT);
	QUERY_FAILS(cid, false, ENOENT);
	id = alloc_ok();
	CHECK(id == cid, "stale id %u not reused (got %u)", cid, id);
	nvmm_reg_free(id);
}

/*
 * exec closes the owner's descriptors: its machines are gone although the
 * process (same pid, same start time) lives on.
 */
static void
test_stale_exec(void)
{
	int up[2];
	nvmm_machid_t cid = 9999, id;
	char c;
	pid_t pid;

	CHECK(pipe2(up, O_CLOEXEC) == 0, "pipe");
	if ((pid = test_fork()) == 0) {
		close(up[0]);
		cid = alloc_ok();
		wr_all(up[1], &cid, sizeof(cid));
		execlp("sleep", "sleep", "300", (char *)NULL);
		_exit(127);
	}
	close(up[1]);
	rd_all(up[0], &cid, sizeof(cid));
	/* EOF once exec has closed the write end. */
	CHECK(read(up[0], &c, 1) == 0, "pipe not closed");
	close(up[0]);
	CHECK(waitpid(pid, NULL, WNOHANG) == 0, "exec'd child not running");
	CHECK(rec_exists(regdir, cid), "record gone");
	QUERY_FAILS(cid, true, ENOENT);
	id = alloc_ok();
	CHECK(id == cid, "id %u of exec'd owner not reused (got %u)", cid, id);
	kill(pid, SIGKILL);
	wait_child(pid);
	nvmm_reg_free(id);
}

/*
 * The owner died but a child it forked still holds the inherited (locked)
 * descriptor: the dead pid alone makes the record stale.
 */
static void
test_stale_inherited(void)
{
	int up[2], down[2];
	nvmm_machid_t cid = 9999, id;
	pid_t pid;

	CHECK(pipe2(up, O_CLOEXEC) == 0 && pipe2(down, O_CLOEXEC) == 0,
	    "pipe");
	if ((pid = test_fork()) == 0) {
		close(up[0]);
		close(down[1]);
		cid = alloc_ok();
		if (test_fork() == 0) {
			char c;

			/* Grandchild: keep everything open until told. */
			close(up[1]);
			(void)read(down[0], &c, 1);
			_exit(0);
		}
		wr_all(up[1], &cid, sizeof(cid));
		child_exit();		/* without freeing */
	}
	close(up[1]);
	close(down[0]);
	rd_all(up[0], &cid, sizeof(cid));
	close(up[0]);
	CHECK(wait_child(pid) == 0, "child failed");
	CHECK(rec_exists(regdir, cid), "record gone");
	QUERY_FAILS(cid, true, ENOENT);
	id = alloc_ok();
	CHECK(id == cid, "id %u of dead owner not reused (got %u)", cid, id);
	nvmm_reg_free(id);
	close(down[1]);		/* the grandchild exits */
}

static void
test_fork_child(void)
{
	struct nvmm_ctl_mach_info info;
	nvmm_machid_t id;
	pid_t pid;
	int rv;

	id = alloc_ok();
	nvmm_reg_update(id, 1, 4096);
	if ((pid = test_fork()) == 0) {
		nvmm_machid_t cid;

		/* The parent's record is not ours to touch. */
		nvmm_reg_update(id, 9, 9);
		nvmm_reg_free(id);
		QUERY_FAILS(id, false, EPERM);
		cid = alloc_ok();
		CHECK(cid != id, "child got the parent's id %u", cid);
		rv = query(cid, false, &info);
		CHECK(rv == 0 && info.pid == getpid(), "child's own query");
		nvmm_reg_free(cid);
		CHECK(!rec_exists(regdir, cid), "child's record left");
		child_exit();
	}
	CHECK(wait_child(pid) == 0, "child failed");
	CHECK(rec_exists(regdir, id), "child removed the parent's record");
	rv = query(id, false, &info);
	CHECK(rv == 0 && info.nvcpus == 1 && info.nram == 4096 &&
	    info.pid == getpid(), "parent's record after the child: %d %u %"
	    PRIu64, rv, info.nvcpus, info.nram);
	nvmm_reg_free(id);
	CHECK(!rec_exists(regdir, id), "record left");
}

/*
 * Processes allocating and freeing at the same time, some dying with their
 * records held, never hold the same id at once: each holder claims a
 * marker file with O_EXCL while it owns the id.
 */
#define RACE_WORKERS	4
#define RACE_ROUNDS	150

static void
race_worker(const char *markers)
{
	struct nvmm_ctl_mach_info info;
	char path[256];
	nvmm_machid_t id;
	pid_t sub;
	int i, fd;

	for (i = 0; i < RACE_ROUNDS; i++) {
		if (i % 10 == 0 && (sub = test_fork()) == 0) {
			(void)alloc_ok();
			child_exit();		/* a stale record */
		} else if (i % 10 == 0) {
			CHECK(wait_child(sub) == 0, "sub-child failed");
		}
		id = alloc_ok();
		if (id >= NVMM_MAX_MACHINES)
			break;
		snprintf(path, sizeof(path), "%.200s/%u", markers, id % 1000);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		CHECK(fd != -1, "id %u held twice (%s)", id, strerror(errno));
		nvmm_reg_update(id, (uint32_t)i, (uint64_t)getpid());
		CHECK(query(id, false, &info) == 0 && info.pid == getpid() &&
		    info.nvcpus == (uint32_t)i &&
		    info.nram == (uint64_t)getpid(), "query of own id %u", id);
		if (fd != -1) {
			close(fd);
			unlink(path);
		}
		nvmm_reg_free(id);
	}
}

static void
test_race(void)
{
	char markers[256], dir[256];
	pid_t pids[RACE_WORKERS];
	nvmm_machid_t id;
	int i;

	/* Its own directory: the dead sub-children leave stale records. */
	snprintf(dir, sizeof(dir), "%s/race", topdir);
	CHECK(mkdir(dir, 0700) == 0, "mkdir");
	use_dir(dir);
	snprintf(markers, sizeof(markers), "%s/markers", topdir);
	CHECK(mkdir(markers, 0700) == 0, "mkdir");
	for (i = 0; i < RACE_WORKERS; i++) {
		if ((pids[i] = test_fork()) == 0) {
			race_worker(markers);
			child_exit();
		}
	}
	for (i = 0; i < RACE_WORKERS; i++)
		CHECK(pids[i] > 0 && wait_child(pids[i]) == 0,
		    "worker %d failed", i);
	/* Only stale records are left: everything is free again. */
	for (i = 0; i < NVMM_MAX_MACHINES; i++)
		QUERY_FAILS((nvmm_machid_t)i, true, ENOENT);
	id = alloc_ok();
	CHECK(id == 0, "id %u after the race", id);
	nvmm_reg_free(id);
	use_dir(regdir);
}

/* -------------------------------------------------------------------------
 * Malformed and foreign records.
 * ------------------------------------------------------------------------- */

static void
test_malformed(void)
{
	unsigned char rec[256], junk[48];
	char path[256], target[256];
	nvmm_machid_t id;
	ssize_t n;
	struct stat st;

	/* A genuine record that nobody holds any more (as after an exec). */
	id = alloc_ok();
	CHECK(id == 0, "id %u", id);
	n = read_file(regdir, id, rec, sizeof(rec));
	CHECK(n > 0 && n < (ssize_t)sizeof(rec), "record size %zd", n);
	nvmm_reg_free(id);
	if (n <= 0)
		return;

	write_file(regdir, "0", rec, (size_t)n);	/* like after exec */
	memset(junk, 0x5a, sizeof(junk));
	write_file(regdir, "1", junk, sizeof(junk));	/* garbage */
	snprintf(path, sizeof(path), "%s/2", regdir);
	CHECK(mkdir(path, 0700) == 0, "mkdir");		/* not a file */
	write_file(topdir, "target", "keep", 4);
	snprintf(target, sizeof(target), "%s/target", topdir);
	snprintf(path, sizeof(path), "%s/3", regdir);
	CHECK(symlink(target, path) == 0, "symlink");
	snprintf(path, sizeof(path), "%s/4", regdir);
	CHECK(mkfifo(path, 0644) == 0, "mkfifo");
	write_file(regdir, "5", rec, (size_t)n);	/* says machine 0 */
	write_file(regdir, "6", rec, (size_t)n - 1);	/* short */
	write_file(regdir, "7", "", 0);			/* empty */

	for (id = 0; id <= 7; id++) {
		QUERY_FAILS(id, true, ENOENT);
		QUERY_FAILS(id, false, ENOENT);
	}
	/* Each stale file is replaced, except the directory. */
	for (id = 0; id <= 7; id++) {
		nvmm_machid_t got;

		if (id == 2)
			continue;
		got = alloc_ok();
		CHECK(got == id, "alloc got %u, expected %u", got, id);
	}
	CHECK(stat(target, &st) == 0 && st.st_size == 4, "symlink target");
	QUERY_FAILS(2, true, ENOENT);
	for (id = 0; id <= 7; id++)
		nvmm_reg_free(id);
	snprintf(path, sizeof(path), "%s/2", regdir);
	CHECK(rmdir(path) == 0, "rmdir");
	for (id = 0; id <= 7; id++)
		CHECK(!rec_exists(regdir, id), "record %u left", id);
}

/*
 * In a sticky directory another user's stale file cannot be removed: that
 * id is skipped.  Needs root to run a child as another user.
 */
static void
test_sticky_foreign(void)
{
	char sub[256];
	nvmm_machid_t id;
	pid_t pid;

	if (geteuid() != 0) {
		printf("note: not root, sticky-directory check skipped\n");
		return;
	}
	snprintf(sub, sizeof(sub), "%s/sticky", topdir);
	CHECK(mkdir(sub, 01777) == 0 && chmod(sub, 01777) == 0, "mkdir");
	CHECK(chmod(topdir, 0755) == 0, "chmod");
	write_file(sub, "0", "", 0);		/* root's stale file */
	use_dir(sub);
	if ((pid = test_fork()) == 0) {
		if (setgid(65534) == -1 || setuid(65534) == -1) {
			printf("FAIL setuid: %s\n", strerror(errno));
			_exit(1);
		}
		id = alloc_ok();
		CHECK(id == 1, "other user got %u", id);
		CHECK(rec_exists(sub, 0), "root's file removed");
		nvmm_reg_free(id);
		child_exit();
	}
	CHECK(wait_child(pid) == 0, "child failed");
	/* Root may remove it. */
	id = alloc_ok();
	CHECK(id == 0, "root got %u", id);
	nvmm_reg_free(id);
	CHECK(chmod(topdir, 0700) == 0, "chmod");
	use_dir(regdir);
}

/* -------------------------------------------------------------------------
 * Main.
 * ------------------------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) == -1 ? -1 : 0;
	return unlink(path) == -1 ? -1 : 0;
}

int
main(void)
{
	int fds_before, fds_after;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(topdir, sizeof(topdir), "/tmp/t_registry.XXXXXX");
	if (mkdtemp(topdir) == NULL) {
		printf("FAIL mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(regdir, sizeof(regdir), "%s/reg", topdir);
	if (mkdir(regdir, 0700) == -1) {
		printf("FAIL mkdir: %s\n", strerror(errno));
		return 1;
	}
	use_dir(regdir);

	fds_before = count_fds();
	test_dir_checks();
	test_lowest();
	test_full();
	test_update_query();
	test_other_process();
	test_stale_dead();
	test_stale_exec();
	test_stale_inherited();
	test_fork_child();
	test_race();
	test_malformed();
	test_sticky_foreign();
	fds_after = count_fds();
	CHECK(fds_before > 0 && fds_before == fds_after,
	    "descriptors: %d before, %d after", fds_before, fds_after);

	if (nftw(topdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == -1)
		printf("FAIL removing %s: %s\n", topdir, strerror(errno));

	return vmt_done("t_registry");
}
