// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_SANDBOX_H
#define COFFER_APPLIANCE_SANDBOX_H

/*
 * The network process's confinement (OpenSSH's sandbox-seccomp-filter is
 * the model), entered once its sockets and descriptors are set up:
 *
 *   1. started as root: chroot into an empty directory that is removed
 *      first (nothing can be created in it, nothing is reachable from it),
 *      then drop every group and become uid/gid, and verify that the old
 *      ids cannot be regained;
 *   2. started unprivileged: Landlock with every file access handled and
 *      none allowed, where the kernel has it (logged when it has not);
 *   3. PR_SET_PDEATHSIG again (a change of ids clears it), RLIMIT_NPROC 0,
 *      PR_SET_DUMPABLE 0, PR_SET_NO_NEW_PRIVS;
 *   4. a seccomp allow-list of the event loop's system calls; anything else
 *      (and any other architecture) kills the process
 *      (SECCOMP_RET_KILL_PROCESS).
 *
 * Anything the process needs from the file system must be opened before.
 */

#include <sys/types.h>

#include "err.h"

struct sandbox_opts {
	int drop;      /* become uid/gid (only meaningful when started as root) */
	uid_t uid;
	gid_t gid;
	pid_t parent;  /* the monitor: its death kills us (re-armed after the drop) */
};

/*
 * Enter the sandbox. ERR_SYSTEM / ERR_PERMISSION naming the step; on any
 * failure the caller must exit (the process may be half-confined).
 */
int sandbox_enter(const struct sandbox_opts *o) WARN_UNUSED;

/* What sandbox_enter did, for the log ("chroot, uid 65534, seccomp"). */
const char *sandbox_describe(void);

#endif
