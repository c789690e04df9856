// SPDX-License-Identifier: ISC
#include "file.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "unit.h"

static char dir[] = "/tmp/coffer-test-file.XXXXXX";

static char *path(const char *name)
{
	static char p[4][256];
	static int next;
	char *out = p[next++ % 4];
	snprintf(out, sizeof(p[0]), "%s/%s", dir, name);
	return out;
}

static int count_entries(void)
{
	char cmd[300];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A %s | wc -l", dir);
	if ((f = popen(cmd, "r")) != NULL) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

int main(void)
{
	struct buf *b = NULL;
	struct stat st;
	char big[5000];

	log_init("test-file", LOG_LEVEL_ERROR);
	if (mkdtemp(dir) == NULL)
		return 1;

	TEST_START("atomic write creates with the mode and replaces");
	ASSERT_INT_EQ(file_write_atomic(path("a"), "hello", 5, 0600), 0);
	ASSERT_INT_EQ(stat(path("a"), &st), 0);
	ASSERT_INT_EQ(st.st_mode & 07777, 0600);
	ASSERT_INT_EQ(file_write_atomic(path("a"), "bye", 3, 0640), 0);
	ASSERT_INT_EQ(file_read_all(path("a"), 100, &b), 0);
	ASSERT_SIZE_EQ(buf_len(b), 3);
	ASSERT_MEM_EQ(buf_ptr(b), "bye", 3);
	buf_free(b);
	ASSERT_INT_EQ(count_entries(), 1); /* no temporary file left */
	TEST_DONE();

	TEST_START("write_new refuses to overwrite");
	ASSERT_INT_EQ(file_write_new(path("a"), "x", 1, 0600), ERR_EXISTS);
	ASSERT_INT_EQ(file_write_new(path("n"), "x", 1, 0600), 0);
	ASSERT_INT_EQ(count_entries(), 2);
	TEST_DONE();

	TEST_START("a failed write leaves the old file intact and no temporary file");
	{
		struct rlimit old, rl;
		memset(big, 'z', sizeof(big));
		getrlimit(RLIMIT_FSIZE, &old);
		rl = old;
		rl.rlim_cur = 4096;
		signal(SIGXFSZ, SIG_IGN);
		ASSERT_INT_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
		ASSERT_INT_EQ(file_write_atomic(path("a"), big, sizeof(big), 0600), ERR_IO);
		setrlimit(RLIMIT_FSIZE, &old);
		ASSERT_INT_EQ(file_read_all(path("a"), 100, &b), 0);
		ASSERT_MEM_EQ(buf_ptr(b), "bye", 3);
		buf_free(b);
		ASSERT_INT_EQ(count_entries(), 2);
	}
	TEST_DONE();

	TEST_START("read caps: exact size, cap+1, empty");
	ASSERT_INT_EQ(file_write_atomic(path("c"), "12345", 5, 0644), 0);
	ASSERT_INT_EQ(file_read_all(path("c"), 5, &b), 0);
	ASSERT_SIZE_EQ(buf_len(b), 5);
	buf_free(b);
	ASSERT_INT_EQ(file_read_all(path("c"), 4, &b), ERR_TOO_LARGE);
	ASSERT_PTR_EQ(b, NULL);
	ASSERT_INT_EQ(file_write_atomic(path("e"), "", 0, 0644), 0);
	ASSERT_INT_EQ(file_read_all(path("e"), 0, &b), 0);
	ASSERT_SIZE_EQ(buf_len(b), 0);
	buf_free(b);
	TEST_DONE();

	TEST_START("read refuses symlinks, directories, missing files");
	ASSERT_INT_EQ(symlink(path("c"), path("link")), 0);
	ASSERT_INT_EQ(file_read_all(path("link"), 100, &b), ERR_PERMISSION);
	ASSERT_TRUE(strstr(err_detail(), "symbolic link") != NULL);
	ASSERT_INT_EQ(file_read_all(dir, 100, &b), ERR_PERMISSION);
	ASSERT_INT_EQ(file_read_all(path("missing"), 100, &b), ERR_NOT_FOUND);
	TEST_DONE();

	TEST_START("private read refuses group/world access");
	ASSERT_INT_EQ(file_read_private(path("c"), 100, &b), ERR_PERMISSION);
	ASSERT_TRUE(strstr(err_detail(), "chmod 600") != NULL);
	ASSERT_INT_EQ(chmod(path("c"), 0600), 0);
	ASSERT_INT_EQ(file_read_private(path("c"), 100, &b), 0);
	buf_free(b);
	ASSERT_INT_EQ(chmod(path("c"), 0640), 0);
	ASSERT_INT_EQ(file_read_private(path("c"), 100, &b), ERR_PERMISSION);
	TEST_DONE();

	TEST_START("temporary files of atomic writes are recognised");
	ASSERT_TRUE(file_is_atomic_temp("coffer.sealed.tmp.a1B2c3"));
	ASSERT_TRUE(file_is_atomic_temp("x.tmp.ABCDEF"));
	ASSERT_FALSE(file_is_atomic_temp("coffer.sealed"));
	ASSERT_FALSE(file_is_atomic_temp(".tmp.ABCDEF"));
	ASSERT_FALSE(file_is_atomic_temp("x.tmp.ABCDE"));
	ASSERT_FALSE(file_is_atomic_temp("x.tmp.ABCDEFG"));
	TEST_DONE();

	TEST_START("output targets: absent or regular only, in a writable directory");
	{
		/* Each kind of node, refused before anything is written, and left as it was. */
		static const struct {
			const char *name, *kind;
		} bad[] = {
		    {"link-to-c", "symbolic link"}, {"dangling", "symbolic link"},
		    {"fifo", "FIFO"},               {"sub", "directory"},
		    {"sock", "socket"},
		};
		size_t i;
		int n0;

		ASSERT_INT_EQ(symlink(path("c"), path("link-to-c")), 0);
		ASSERT_INT_EQ(symlink(path("nowhere"), path("dangling")), 0);
		ASSERT_INT_EQ(mkfifo(path("fifo"), 0600), 0);
		ASSERT_INT_EQ(mkdir(path("sub"), 0700), 0);
		{
			char cmd[400];
			snprintf(cmd, sizeof(cmd),
			         "python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX)"
			         ".bind(sys.argv[1])' %s",
			         path("sock"));
			ASSERT_INT_EQ(system(cmd), 0);
		}
		n0 = count_entries();
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			ASSERT_INT_EQ(file_check_target(path(bad[i].name)), ERR_PERMISSION);
			ASSERT_TRUE(strstr(err_detail(), bad[i].kind) != NULL);
			ASSERT_INT_EQ(file_write_atomic(path(bad[i].name), "x", 1, 0600), ERR_PERMISSION);
			ASSERT_INT_EQ(lstat(path(bad[i].name), &st), 0);
			ASSERT_FALSE(S_ISREG(st.st_mode));
		}
		ASSERT_INT_EQ(count_entries(), n0); /* no temporary file, nothing replaced */
		ASSERT_INT_EQ(file_check_target("/dev/null"), ERR_PERMISSION);
		ASSERT_TRUE(strstr(err_detail(), "character device") != NULL);
		ASSERT_INT_EQ(file_check_target(path("sub/")), ERR_PERMISSION);
		ASSERT_INT_EQ(file_check_target(path("c")), 0);
		ASSERT_INT_EQ(file_check_target(path("new")), 0);
		ASSERT_INT_EQ(file_check_target(path("missing-dir/new")), ERR_NOT_FOUND);
		ASSERT_TRUE(strstr(err_detail(), "no directory") != NULL);
		ASSERT_INT_EQ(file_check_target(path("c/new")), ERR_NOT_FOUND);
		ASSERT_INT_EQ(file_check_target(""), ERR_INVALID_ARG);
		/* A directory we may not write (as an unprivileged user when run as root). */
		ASSERT_INT_EQ(mkdir(path("ro"), 0555), 0);
		ASSERT_INT_EQ(chmod(dir, 0711), 0);
		{
			pid_t pid = fork();
			int ws = 0;
			if (pid == 0) {
				if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
					_exit(2);
				_exit(file_check_target(path("ro/x")) == ERR_PERMISSION &&
				              strstr(err_detail(), "not writable") != NULL
				          ? 0
				          : 1);
			}
			ASSERT_INT_EQ(waitpid(pid, &ws, 0), pid);
			ASSERT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
		}
		ASSERT_INT_EQ(chmod(dir, 0700), 0);
	}
	TEST_DONE();

	TEST_START("mkdirs");
	ASSERT_INT_EQ(file_mkdirs(path("x/y/z"), 0700), 0);
	ASSERT_INT_EQ(stat(path("x/y/z"), &st), 0);
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_INT_EQ(file_mkdirs(path("x/y/z"), 0700), 0);
	TEST_DONE();

	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return unit_finish("common/file");
}
