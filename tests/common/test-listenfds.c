// SPDX-License-Identifier: ISC
/*
 * listenfds: the sockets systemd passes. Each case puts descriptors at 3, 4
 * (as systemd does), sets LISTEN_PID/LISTEN_FDS, and checks what is taken,
 * what is refused, and that the variables are gone afterwards.
 */
#include "listenfds.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "unit.h"

static void set_env(const char *pid, const char *fds)
{
	char own[32];

	if (pid == NULL) {
		snprintf(own, sizeof(own), "%d", (int)getpid());
		pid = own;
	}
	if (setenv("LISTEN_PID", pid, 1) != 0 || (fds != NULL && setenv("LISTEN_FDS", fds, 1) != 0))
		abort();
	if (fds == NULL)
		(void)unsetenv("LISTEN_FDS");
	if (setenv("LISTEN_FDNAMES", "x", 1) != 0)
		abort();
}

static int env_gone(void)
{
	return getenv("LISTEN_PID") == NULL && getenv("LISTEN_FDS") == NULL &&
	       getenv("LISTEN_FDNAMES") == NULL;
}

/* A listening TCP socket on 127.0.0.1, moved to fd `at`; its port. */
static unsigned tcp_at(int at, int type, int do_listen)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, type, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    (do_listen && listen(fd, 4) != 0) || getsockname(fd, (struct sockaddr *)&a, &al) != 0 ||
	    dup2(fd, at) != at)
		abort();
	if (fd != at)
		close(fd);
	return ntohs(a.sin_port);
}

static void unix_at(int at, const char *path)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	(void)unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4) != 0 ||
	    dup2(fd, at) != at)
		abort();
	if (fd != at)
		close(fd);
}

int main(void)
{
	struct listenfds l;
	char want[64], path[64];
	unsigned port;
	int fl;

	snprintf(path, sizeof(path), "/tmp/coffer-listenfds.%d.sock", (int)getpid());

	TEST_START("not activated");
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	ASSERT_INT_EQ(listenfds_offered(), 0);
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_NOT_FOUND);
	ASSERT_SIZE_EQ(l.n, 0);
	TEST_DONE();

	TEST_START("LISTEN_PID of another process");
	set_env("1", "1");
	ASSERT_INT_EQ(listenfds_offered(), 0);
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_NOT_FOUND);
	ASSERT_TRUE(env_gone());
	TEST_DONE();

	TEST_START("malformed variables");
	set_env(NULL, "1x");
	ASSERT_INT_EQ(listenfds_offered(), 1);
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_FORMAT);
	ASSERT_TRUE(env_gone());
	set_env(NULL, "-1");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_FORMAT);
	set_env(NULL, "");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_FORMAT);
	set_env("+00", "1");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_NOT_FOUND);
	set_env(NULL, NULL);
	ASSERT_INT_EQ(listenfds_offered(), 0);
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_NOT_FOUND);
	set_env(NULL, "0");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_NOT_FOUND);
	set_env(NULL, "17");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_TOO_LARGE);
	set_env(NULL, "99999999999999999999");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_FORMAT);
	TEST_DONE();

	TEST_START("two listening TCP sockets");
	port = tcp_at(3, SOCK_STREAM, 1);
	(void)tcp_at(4, SOCK_STREAM, 1);
	set_env(NULL, "2");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), 0);
	ASSERT_SIZE_EQ(l.n, 2);
	ASSERT_INT_EQ(l.fds[0].fd, 3);
	ASSERT_INT_EQ(l.fds[1].fd, 4);
	ASSERT_INT_EQ(l.fds[0].family, AF_INET);
	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	ASSERT_STR_EQ(l.fds[0].text, want);
	fl = fcntl(3, F_GETFL);
	ASSERT_TRUE(fl >= 0 && (fl & O_NONBLOCK));
	ASSERT_TRUE(fcntl(3, F_GETFD) & FD_CLOEXEC);
	ASSERT_TRUE(env_gone());
	listenfds_close(&l);
	ASSERT_SIZE_EQ(l.n, 0);
	ASSERT_INT_EQ(fcntl(3, F_GETFD), -1);
	ASSERT_INT_EQ(fcntl(4, F_GETFD), -1);
	TEST_DONE();

	TEST_START("refused: not listening, datagram, not a socket, wrong family, closed");
	(void)tcp_at(3, SOCK_STREAM, 0);
	set_env(NULL, "1");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "fd 3 is not listening") != NULL);
	ASSERT_SIZE_EQ(l.n, 0);
	ASSERT_TRUE(fcntl(3, F_GETFD) >= 0); /* left as it was */
	(void)tcp_at(3, SOCK_DGRAM, 0);
	set_env(NULL, "1");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "not a stream socket") != NULL);
	if (dup2(STDERR_FILENO, 3) != 3)
		abort();
	set_env(NULL, "1");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "not a socket") != NULL);
	unix_at(3, path);
	set_env(NULL, "1");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "wrong family") != NULL);
	/* One good, one bad: nothing is taken. */
	(void)tcp_at(3, SOCK_STREAM, 1);
	close(4);
	set_env(NULL, "2");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_INET, &l), ERR_SYSTEM);
	ASSERT_SIZE_EQ(l.n, 0);
	TEST_DONE();

	TEST_START("an AF_UNIX socket where asked for");
	unix_at(3, path);
	set_env(NULL, "1");
	ASSERT_INT_EQ(listenfds_take(LISTENFDS_UNIX, &l), 0);
	ASSERT_SIZE_EQ(l.n, 1);
	ASSERT_INT_EQ(l.fds[0].family, AF_UNIX);
	ASSERT_STR_EQ(l.fds[0].text, path);
	listenfds_close(&l);
	(void)unlink(path);
	listenfds_close(NULL);
	TEST_DONE();

	return unit_finish("listenfds");
}
