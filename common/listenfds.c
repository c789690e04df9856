// SPDX-License-Identifier: ISC
#include "listenfds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

/* A decimal number with nothing around it, at most max. 0 or ERR_FORMAT. */
static int parse_decimal(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return ERR_FORMAT;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return ERR_FORMAT;
	*out = v;
	return 0;
}

/* Is LISTEN_PID this process? */
static int pid_is_ours(void)
{
	const char *s = getenv("LISTEN_PID");
	unsigned long pid;

	return s != NULL && parse_decimal(s, (unsigned long)INT32_MAX, &pid) == 0 &&
	       pid == (unsigned long)getpid();
}

int listenfds_offered(void)
{
	return pid_is_ours() && getenv("LISTEN_FDS") != NULL;
}

static void unset_env(void)
{
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
}

static void describe(struct listenfd *l)
{
	char host[INET6_ADDRSTRLEN], path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&l->addr;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&l->addr;
	const struct sockaddr_un *un = (const struct sockaddr_un *)&l->addr;
	size_t plen;

	if (l->family == AF_INET && inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host)))
		snprintf(l->text, sizeof(l->text), "%s:%u", host, ntohs(a4->sin_port));
	else if (l->family == AF_INET6 && inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host)))
		snprintf(l->text, sizeof(l->text), "[%s]:%u", host, ntohs(a6->sin6_port));
	else if (l->family == AF_UNIX && l->len > offsetof(struct sockaddr_un, sun_path)) {
		plen = l->len - offsetof(struct sockaddr_un, sun_path);
		if (plen > sizeof(un->sun_path))
			plen = sizeof(un->sun_path);
		/* An abstract name starts with a NUL: shown as '@', as ss(8) does. */
		memcpy(path, un->sun_path, plen);
		path[plen] = '\0';
		if (path[0] == '\0')
			path[0] = '@';
		log_untrusted(l->text, sizeof(l->text), path, sizeof(l->text) / 2);
	} else
		snprintf(l->text, sizeof(l->text), "fd %d", l->fd);
}

/* fd is an open, listening stream socket of a wanted family: fill l. */
static int check_fd(int fd, unsigned families, struct listenfd *l)
{
	struct stat st;
	int v = 0;
	socklen_t vl = sizeof(v);

	memset(l, 0, sizeof(*l));
	l->fd = fd;
	if (fstat(fd, &st) != 0)
		return err_sys("socket activation: fd %d", fd);
	if (!S_ISSOCK(st.st_mode))
		return err_set(ERR_INVALID_ARG, "socket activation: fd %d is not a socket", fd);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl) != 0)
		return err_sys("socket activation: SO_TYPE of fd %d", fd);
	if (v != SOCK_STREAM)
		return err_set(ERR_INVALID_ARG,
			       "socket activation: fd %d is not a stream socket (ListenStream=)", fd);
	vl = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) != 0)
		return err_sys("socket activation: SO_ACCEPTCONN of fd %d", fd);
	if (v != 1)
		return err_set(ERR_INVALID_ARG,
			       "socket activation: fd %d is not listening (Accept=yes is not supported)",
			       fd);
	l->len = sizeof(l->addr);
	if (getsockname(fd, (struct sockaddr *)&l->addr, &l->len) != 0)
		return err_sys("socket activation: getsockname of fd %d", fd);
	l->family = l->addr.ss_family;
	describe(l);
	if (!((families & LISTENFDS_INET) && (l->family == AF_INET || l->family == AF_INET6)) &&
	    !((families & LISTENFDS_UNIX) && l->family == AF_UNIX))
		return err_set(ERR_INVALID_ARG, "socket activation: fd %d (%s) is of the wrong family",
			       fd, l->text);
	return 0;
}

int listenfds_take(unsigned families, struct listenfds *out)
{
	const char *s;
	unsigned long n;
	size_t i;
	int r, fl;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < LISTENFDS_MAX; i++)
		out->fds[i].fd = -1;
	if (!pid_is_ours()) {
		r = err_set(ERR_NOT_FOUND, "not socket-activated (LISTEN_PID is not this process)");
		goto out;
	}
	if ((s = getenv("LISTEN_FDS")) == NULL) {
		r = err_set(ERR_NOT_FOUND, "not socket-activated (LISTEN_FDS unset)");
		goto out;
	}
	if (parse_decimal(s, (unsigned long)INT32_MAX - LISTENFDS_START, &n) != 0) {
		r = err_set(ERR_FORMAT, "socket activation: LISTEN_FDS is not a number");
		goto out;
	}
	if (n == 0) {
		r = err_set(ERR_NOT_FOUND, "socket activation passed no socket (LISTEN_FDS=0)");
		goto out;
	}
	if (n > LISTENFDS_MAX) {
		r = err_set(ERR_TOO_LARGE, "socket activation passed %lu sockets, at most %d", n,
			    LISTENFDS_MAX);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = check_fd(LISTENFDS_START + (int)i, families, &out->fds[i])) != 0)
			goto out;
	}
	for (i = 0; i < n; i++) {
		int fd = out->fds[i].fd;

		if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
			r = err_sys("socket activation: fcntl of fd %d", fd);
			goto out;
		}
	}
	out->n = n;
	r = 0;
out:
	unset_env();
	if (r != 0) {
		out->n = 0;
		for (i = 0; i < LISTENFDS_MAX; i++)
			out->fds[i].fd = -1;
	}
	return r;
}

void listenfds_close(struct listenfds *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		if (l->fds[i].fd >= 0)
			close(l->fds[i].fd);
		l->fds[i].fd = -1;
	}
	l->n = 0;
}
