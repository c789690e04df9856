// SPDX-License-Identifier: ISC
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

int privdrop_no_new_privs(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return err_sys("prctl(PR_SET_NO_NEW_PRIVS)");
	return 0;
}

int privdrop_to_user(const char *user)
{
	struct passwd pw, *res = NULL;
	char *pwbuf = NULL;
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	uid_t old_uid = geteuid();
	gid_t old_gid = getegid();
	int e, r = 0;

	if (user == NULL)
		return 0;
	if (sz < 1024)
		sz = 16384;
	if ((pwbuf = malloc((size_t)sz)) == NULL)
		return err_set(ERR_ALLOC, "getpwnam");
	e = getpwnam_r(user, &pw, pwbuf, (size_t)sz, &res);
	if (e != 0 || res == NULL) {
		r = err_set(ERR_NOT_FOUND, "--user %s: no such user", user);
		goto out;
	}
	if (old_uid == pw.pw_uid && getuid() == pw.pw_uid) {
		/* Already that user: nothing to drop. */
		goto out;
	}
	if (old_uid != 0) {
		r = err_set(ERR_PERMISSION, "--user %s: must start as root to change user", user);
		goto out;
	}
	if (initgroups(user, pw.pw_gid) != 0) {
		r = err_sys("initgroups(%s)", user);
		goto out;
	}
	if (setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) != 0) {
		r = err_sys("setresgid(%u)", (unsigned)pw.pw_gid);
		goto out;
	}
	if (setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) != 0) {
		r = err_sys("setresuid(%u)", (unsigned)pw.pw_uid);
		goto out;
	}
	/* Verify: the old ids must be gone for good (OpenSSH uidswap.c). */
	if (pw.pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		r = err_set(ERR_PERMISSION, "--user %s: could regain uid 0 after the drop", user);
		goto out;
	}
	if (old_gid != pw.pw_gid && pw.pw_uid != 0 && (setgid(old_gid) == 0 || setegid(old_gid) == 0)) {
		r = err_set(ERR_PERMISSION, "--user %s: could regain gid %u after the drop", user,
			    (unsigned)old_gid);
		goto out;
	}
	if (getuid() != pw.pw_uid || geteuid() != pw.pw_uid || getgid() != pw.pw_gid ||
	    getegid() != pw.pw_gid) {
		r = err_set(ERR_PERMISSION, "--user %s: ids did not change", user);
		goto out;
	}
	log_info("running as %s (uid %u, gid %u)", user, (unsigned)pw.pw_uid, (unsigned)pw.pw_gid);
out:
	free(pwbuf);
	return r;
}
