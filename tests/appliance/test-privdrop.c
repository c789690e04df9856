// SPDX-License-Identifier: ISC
/* Privilege drop: in a child process, become `nobody` and prove root is gone. */
#include "privdrop.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

int main(void)
{
	pid_t pid;
	int st = 0;

	TEST_START("unknown user refused");
	ASSERT_INT_EQ(privdrop_to_user("no-such-user-coffer"), ERR_NOT_FOUND);
	ASSERT_INT_EQ(privdrop_to_user(NULL), 0);
	TEST_DONE();

	TEST_START("drop to nobody sticks; NO_NEW_PRIVS set");
	pid = fork();
	if (pid == 0) {
		int r = privdrop_to_user("nobody");
		if (geteuid() != 0 && getpwnam("nobody") != NULL && getuid() != getpwnam("nobody")->pw_uid)
			_exit(r == ERR_PERMISSION ? 0 : 10); /* not root: refused */
		if (r != 0)
			_exit(11);
		if (setuid(0) == 0 || seteuid(0) == 0)
			_exit(12);
		if (privdrop_no_new_privs() != 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			_exit(13);
		_exit(0);
	}
	ASSERT_TRUE(pid > 0);
	ASSERT_INT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_INT_EQ(WEXITSTATUS(st), 0);
	TEST_DONE();
	return unit_finish("appliance/privdrop");
}
