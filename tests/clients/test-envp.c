// SPDX-License-Identifier: ISC
/* The exec-mode environment: built beside ours, handed to a real execve. */
#include "envp.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

extern char **environ;

#define S(k, val)                                                                                  \
	{                                                                                          \
		.key = k, .key_len = sizeof(k) - 1, .type = SECRET_STRING, .v.str = {              \
			.ptr = val,                                                                \
			.len = sizeof(val) - 1                                                     \
		}                                                                                  \
	}

static struct secret shard[] = {
    S("DB_PASSWORD", "s3cr3t-envp-test"),
    S("MULTI", "line1\nline2 'q' $x"),
    {.key = "PORT", .key_len = 4, .type = SECRET_INTEGER, .v.i = -7},
    {.key = "RATIO", .key_len = 5, .type = SECRET_FLOAT, .v.f = 0.25},
    {.key = "TLS", .key_len = 3, .type = SECRET_BOOL, .v.b = 1},
    {.key = "WHEN",
     .key_len = 4,
     .type = SECRET_LOCAL_DATE,
     .v.str = {.ptr = "2026-01-02", .len = 10}},
    S("HOME", "/overridden"),
};
#define NSHARD (sizeof(shard) / sizeof(shard[0]))

static int has(char **envp, const char *entry)
{
	size_t i;

	for (i = 0; envp[i] != NULL; i++)
		if (strcmp(envp[i], entry) == 0)
			return 1;
	return 0;
}

/* Run argv with envp in a child; its stdout into out. Returns exit status. */
static int run_child(char *const argv[], char **envp, char *out, size_t outlen)
{
	int pfd[2], st = -1, r;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(pfd) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		r = envp_exec(argv[0], argv, envp);
		_exit(r == ERR_NOT_FOUND ? 127 : 126);
	}
	close(pfd[1]);
	while (got + 1 < outlen && (n = read(pfd[0], out + got, outlen - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
	char **envp = NULL;
	char out[65536];
	size_t before;

	setenv("COFFER_TEST_KEEP", "kept", 1);
	setenv("HOME", "/home/test", 1);
	before = envp_count(environ);

	TEST_START("build");
	ASSERT_INT_EQ(envp_build(environ, shard, NSHARD, NULL, NULL, &envp), 0);
	ASSERT_TRUE(envp != NULL);
	ASSERT_TRUE(has(envp, "DB_PASSWORD=s3cr3t-envp-test"));
	ASSERT_TRUE(has(envp, "MULTI=line1\nline2 'q' $x"));
	ASSERT_TRUE(has(envp, "PORT=-7"));
	ASSERT_TRUE(has(envp, "RATIO=0.25"));
	ASSERT_TRUE(has(envp, "TLS=true"));
	ASSERT_TRUE(has(envp, "WHEN=2026-01-02"));
	ASSERT_TRUE(has(envp, "COFFER_TEST_KEEP=kept"));
	/* A secret replaces an inherited variable of the same name. */
	ASSERT_TRUE(has(envp, "HOME=/overridden"));
	ASSERT_FALSE(has(envp, "HOME=/home/test"));
	ASSERT_SIZE_EQ(envp_count(envp), before + NSHARD - 1);
	/* Our own environment is untouched. */
	ASSERT_SIZE_EQ(envp_count(environ), before);
	ASSERT_STR_EQ(getenv("HOME"), "/home/test");
	ASSERT_TRUE(getenv("DB_PASSWORD") == NULL);
	TEST_DONE();

	TEST_START("execve of env (PATH search) sees the values; /proc/self/environ does not");
	{
		char *argv[] = {"env", NULL};
		ASSERT_INT_EQ(run_child(argv, envp, out, sizeof(out)), 0);
		ASSERT_TRUE(strstr(out, "DB_PASSWORD=s3cr3t-envp-test\n") != NULL);
		ASSERT_TRUE(strstr(out, "MULTI=line1\nline2 'q' $x\n") != NULL);
		ASSERT_TRUE(strstr(out, "HOME=/overridden\n") != NULL);
		ASSERT_TRUE(strstr(out, "COFFER_TEST_KEEP=kept\n") != NULL);
	}
	TEST_DONE();

	TEST_START("the parent's /proc/self/environ holds no value");
	{
		FILE *f = fopen("/proc/self/environ", "rb");
		size_t n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
		size_t i;
		ASSERT_TRUE(f != NULL);
		if (f)
			fclose(f);
		for (i = 0; i < n; i++)
			if (out[i] == '\0')
				out[i] = '\n';
		out[n] = '\0';
		ASSERT_TRUE(strstr(out, "s3cr3t-envp-test") == NULL);
	}
	TEST_DONE();

	TEST_START("absolute path and missing command");
	{
		char *argv[] = {"/usr/bin/env", NULL};
		char *missing[] = {"coffer-no-such-command-xyz", NULL};
		char *missing_abs[] = {"/nonexistent/cmd", NULL};
		ASSERT_INT_EQ(run_child(argv, envp, out, sizeof(out)), 0);
		ASSERT_TRUE(strstr(out, "TLS=true\n") != NULL);
		ASSERT_INT_EQ(run_child(missing, envp, out, sizeof(out)), 127);
		ASSERT_INT_EQ(run_child(missing_abs, envp, out, sizeof(out)), 127);
	}
	TEST_DONE();
	envp_free(envp);
	envp = NULL;

	TEST_START("prefix, later duplicate wins, refused names");
	{
		struct secret dup[] = {S("A", "1"), S("A", "2")};
		struct secret bad[] = {S("A", "1"), S("B-C", "2")};
		struct secret nul[] = {{.key = "N",
		                        .key_len = 1,
		                        .type = SECRET_STRING,
		                        .v.str = {.ptr = "a\0b", .len = 3}}};
		char *base[] = {"P_A=old", "X=1", NULL};
		ASSERT_INT_EQ(envp_build(base, dup, 2, "P_", NULL, &envp), 0);
		ASSERT_SIZE_EQ(envp_count(envp), 2);
		ASSERT_TRUE(has(envp, "X=1"));
		ASSERT_TRUE(has(envp, "P_A=2"));
		envp_free(envp);
		envp = NULL;
		ASSERT_INT_EQ(envp_build(base, bad, 2, NULL, NULL, &envp), ERR_FORMAT);
		ASSERT_TRUE(envp == NULL);
		ASSERT_INT_EQ(envp_build(base, nul, 1, NULL, NULL, &envp), ERR_FORMAT);
		ASSERT_INT_EQ(envp_build(NULL, dup, 1, NULL, NULL, &envp), 0);
		ASSERT_SIZE_EQ(envp_count(envp), 1);
		envp_free(envp);
		envp = NULL;
		envp_free(NULL);
	}
	TEST_DONE();

	TEST_START("a shard cannot choose the loader, the shell or the PATH of the child");
	{
		struct secret evil[] = {S("A", "1"), S("LD_PRELOAD", "/tmp/x.so")};
		struct secret path[] = {S("PATH", "/tmp/evil")};
		const char *allow[] = {"PATH", NULL};
		char *base[] = {"PATH=/usr/bin", NULL};
		ASSERT_INT_EQ(envp_build(base, evil, 2, NULL, NULL, &envp), ERR_PERMISSION);
		ASSERT_TRUE(envp == NULL);
		ASSERT_TRUE(strstr(err_detail(), "LD_PRELOAD") != NULL);
		ASSERT_INT_EQ(envp_build(base, path, 1, NULL, NULL, &envp), ERR_PERMISSION);
		ASSERT_INT_EQ(envp_build(base, path, 1, NULL, allow, &envp), 0);
		ASSERT_TRUE(has(envp, "PATH=/tmp/evil"));
		envp_free(envp);
		envp = NULL;
		ASSERT_INT_EQ(envp_build(base, evil, 2, "APP_", NULL, &envp), 0);
		ASSERT_TRUE(has(envp, "APP_LD_PRELOAD=/tmp/x.so"));
		ASSERT_TRUE(has(envp, "PATH=/usr/bin"));
		envp_free(envp);
		envp = NULL;
	}
	TEST_DONE();
	return unit_finish("clients/envp");
}
