// SPDX-License-Identifier: ISC
#include "sandbox.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

static char described[128];

const char *sandbox_describe(void)
{
	return described[0] != '\0' ? described : "none";
}

static void describe(const char *part)
{
	size_t n = strlen(described);

	snprintf(described + n, sizeof(described) - n, "%s%s", n > 0 ? ", " : "", part);
}

/* An empty directory that no longer exists: nothing can be made in it. */
static int empty_root(void)
{
	char dir[] = "/tmp/appliance-net.XXXXXX";

	if (mkdtemp(dir) == NULL)
		return err_sys("sandbox: mkdtemp %s", dir);
	if (chdir(dir) != 0) {
		int r = err_sys("sandbox: chdir %s", dir);
		(void)rmdir(dir);
		return r;
	}
	if (rmdir(dir) != 0)
		return err_sys("sandbox: rmdir %s", dir);
	if (chroot(".") != 0)
		return err_sys("sandbox: chroot");
	if (chdir("/") != 0)
		return err_sys("sandbox: chdir /");
	describe("chroot to an empty directory");
	return 0;
}

static int drop_ids(uid_t uid, gid_t gid)
{
	char what[64];

	if (setgroups(0, NULL) != 0)
		return err_sys("sandbox: setgroups");
	if (setresgid(gid, gid, gid) != 0)
		return err_sys("sandbox: setresgid(%u)", (unsigned)gid);
	if (setresuid(uid, uid, uid) != 0)
		return err_sys("sandbox: setresuid(%u)", (unsigned)uid);
	/* The drop must stick (OpenSSH uidswap.c). */
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return err_set(ERR_PERMISSION, "sandbox: could regain uid 0");
	if (gid != 0 && (setgid(0) == 0 || setegid(0) == 0))
		return err_set(ERR_PERMISSION, "sandbox: could regain gid 0");
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		return err_set(ERR_PERMISSION, "sandbox: ids did not change");
	snprintf(what, sizeof(what), "uid %u gid %u", (unsigned)uid, (unsigned)gid);
	describe(what);
	return 0;
}

/* Every file-system access right of this Landlock ABI, none granted. */
static int landlock_no_files(void)
{
	struct landlock_ruleset_attr attr;
	long abi;
	int fd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		/* Old kernel, or disabled, or filtered by the service manager. */
		log_info("Landlock not available (%s): relying on seccomp", strerror(errno));
		return 0;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
				 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
				 LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
				 LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
				 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
				 LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
				 LANDLOCK_ACCESS_FS_MAKE_SYM;
#ifdef LANDLOCK_ACCESS_FS_REFER
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	if ((fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0)) < 0)
		return err_sys("sandbox: landlock_create_ruleset");
	/* Needs no_new_privs (set by the caller first) when not privileged. */
	if (syscall(SYS_landlock_restrict_self, fd, 0) != 0) {
		int r = err_sys("sandbox: landlock_restrict_self");
		close(fd);
		return r;
	}
	close(fd);
	describe("Landlock: no file access");
	return 0;
}

/*
 * The system calls of the event loop (appliance/net.c) and of what it calls
 * in libc (malloc, the log's write, clock_gettime's fallback). Nothing here
 * opens a file, creates a socket, starts a process or changes an identity.
 */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
	SCMP_SYS(close), SCMP_SYS(shutdown), SCMP_SYS(accept), SCMP_SYS(accept4),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(getrandom), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(futex), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
#ifdef COFFER_SANITIZERS
	/* The sanitizer runtime's own bookkeeping (never in a release build). */
	SCMP_SYS(mprotect), SCMP_SYS(sched_yield), SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction),
	SCMP_SYS(prctl),
#endif
};

static int seccomp_allow_list(void)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return err_set(ERR_SYSTEM, "sandbox: seccomp_init failed");
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (allowed[i] < 0)
			continue; /* not a system call on this architecture */
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0)) != 0) {
			seccomp_release(ctx);
			errno = -rc;
			return err_sys("sandbox: seccomp rule for call %d", allowed[i]);
		}
	}
	/* A call from another architecture's table is killed too (the default). */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) != 0 ||
	    (rc = seccomp_load(ctx)) != 0) {
		seccomp_release(ctx);
		errno = -rc;
		return err_sys("sandbox: seccomp_load");
	}
	seccomp_release(ctx);
	describe("seccomp allow-list");
	return 0;
}

int sandbox_enter(const struct sandbox_opts *o)
{
	struct rlimit zero = {0, 0};
	int r, root = geteuid() == 0;

	described[0] = '\0';
	if (root) {
		if ((r = empty_root()) != 0)
			return r;
		if (o->drop && (r = drop_ids(o->uid, o->gid)) != 0)
			return r;
	}
	/* Changing ids cleared the parent-death signal the monitor set. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		return err_sys("sandbox: prctl(PR_SET_PDEATHSIG)");
	if (getppid() != o->parent)
		return err_set(ERR_IO, "the monitor is gone");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return err_sys("sandbox: prctl(PR_SET_NO_NEW_PRIVS)");
	describe("no_new_privs");
	if (!root && (r = landlock_no_files()) != 0)
		return r;
	if (setrlimit(RLIMIT_NPROC, &zero) != 0 || setrlimit(RLIMIT_CORE, &zero) != 0)
		return err_sys("sandbox: setrlimit");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return err_sys("sandbox: prctl(PR_SET_DUMPABLE, 0)");
	return seccomp_allow_list();
}
