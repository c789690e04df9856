// SPDX-License-Identifier: ISC
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "log.h"

uint64_t net_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int net_parse_addr(const char *addr, char host[static NET_HOST_MAX], char port[static NET_PORT_MAX])
{
	const char *colon, *h = addr, *he;
	unsigned long v;
	char *end;
	size_t hl;

	host[0] = port[0] = '\0';
	if (addr[0] == '[') {
		h = addr + 1;
		if ((he = strchr(h, ']')) == NULL || he[1] != ':')
			goto bad;
		colon = he + 1;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL ||
		    memchr(addr, ':', (size_t)(colon - addr)))
			goto bad;
		he = colon;
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl >= NET_HOST_MAX || memchr(h, ']', hl) != NULL || memchr(h, '[', hl))
		goto bad;
	if (colon[1] < '0' || colon[1] > '9' || strlen(colon + 1) > 5)
		goto bad;
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > 65535)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, colon + 1, strlen(colon + 1) + 1);
	return 0;
bad : {
	char tmp[160];
	return err_set(ERR_FORMAT, "server address '%s': expected host:port or [v6addr]:port",
	               log_untrusted(tmp, sizeof(tmp), addr, 100));
}
}

static int remaining(uint64_t deadline)
{
	uint64_t now = net_now_ms();

	if (now >= deadline)
		return 0;
	return deadline - now > 86400000 ? 86400000 : (int)(deadline - now);
}

/* Wait for fd to be ready for `events` before deadline. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int ms, n;

	for (;;) {
		if ((ms = remaining(deadline)) == 0)
			return ERR_TIMEOUT;
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 0;
		if (n == 0)
			return ERR_TIMEOUT;
		if (errno != EINTR)
			return err_sys("poll");
	}
}

static int connect_one(const struct addrinfo *ai, uint64_t deadline, int *fdp)
{
	int fd, r, soerr = 0;
	socklen_t sl = sizeof(soerr);

	*fdp = -1;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return err_sys("socket");
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			r = err_sys("connect");
			goto fail;
		}
		if ((r = wait_fd(fd, POLLOUT, deadline)) != 0) {
			if (r == ERR_TIMEOUT)
				err_set(r, "connect: timed out");
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
			r = err_sys("getsockopt");
			goto fail;
		}
		if (soerr != 0) {
			errno = soerr;
			r = err_sys("connect");
			goto fail;
		}
	}
	{
		int one = 1;
		/* Frames are small and answered at once: no Nagle delay. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return r == ERR_SYSTEM ? ERR_IO : r;
}

/*
 * getaddrinfo() has no deadline, and a silent resolver holds it for
 * timeout x attempts x servers (tens of seconds). It runs on a detached
 * thread; we wait on a condition variable until the deadline. A lookup that
 * outlives its caller frees its own state when it ends.
 */
struct lookup {
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	int refs; /* caller and thread */
	int done, gai;
	char host[NET_HOST_MAX], port[NET_PORT_MAX];
	struct addrinfo *res;
};

static void lookup_unref(struct lookup *l)
{
	int last;

	pthread_mutex_lock(&l->lock);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->lock);
	if (!last)
		return;
	if (l->res != NULL)
		freeaddrinfo(l->res);
	pthread_cond_destroy(&l->done_cv);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static void *lookup_run(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo hints, *res = NULL;
	int g;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
	g = getaddrinfo(l->host, l->port, &hints, &res);
	pthread_mutex_lock(&l->lock);
	l->gai = g;
	l->res = g == 0 ? res : NULL;
	l->done = 1;
	pthread_cond_signal(&l->done_cv);
	pthread_mutex_unlock(&l->lock);
	lookup_unref(l);
	return NULL;
}

/* Resolve host:port before deadline. *resp freed with freeaddrinfo. */
static int resolve(const char *host, const char *port, uint64_t deadline, struct addrinfo **resp)
{
	struct lookup *l;
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t t;
	struct timespec until;
	int r = 0, g = 0, ok;

	*resp = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return err_set(ERR_ALLOC, "resolve %s", host);
	snprintf(l->host, sizeof(l->host), "%s", host);
	snprintf(l->port, sizeof(l->port), "%s", port);
	l->refs = 2;
	if (pthread_condattr_init(&ca) != 0) {
		free(l);
		return err_set(ERR_ALLOC, "resolve %s", host);
	}
	ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	     pthread_cond_init(&l->done_cv, &ca) == 0;
	pthread_condattr_destroy(&ca);
	if (!ok) {
		free(l);
		return err_set(ERR_ALLOC, "resolve %s", host);
	}
	pthread_mutex_init(&l->lock, NULL);
	if (pthread_attr_init(&ta) != 0) {
		l->refs = 1;
		lookup_unref(l);
		return err_set(ERR_ALLOC, "resolve %s", host);
	}
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	ok = pthread_create(&t, &ta, lookup_run, l) == 0;
	pthread_attr_destroy(&ta);
	if (!ok) {
		l->refs = 1;
		lookup_unref(l);
		return err_set(ERR_SYSTEM, "resolve %s: cannot start a thread", host);
	}
	until.tv_sec = (time_t)(deadline / 1000);
	until.tv_nsec = (long)(deadline % 1000) * 1000000L;
	pthread_mutex_lock(&l->lock);
	while (!l->done && r == 0)
		if (pthread_cond_timedwait(&l->done_cv, &l->lock, &until) == ETIMEDOUT && !l->done)
			r = err_set(ERR_TIMEOUT, "resolve %s: timed out", host);
	if (r == 0) {
		g = l->gai;
		*resp = l->res;
		l->res = NULL;
	}
	pthread_mutex_unlock(&l->lock);
	lookup_unref(l);
	if (r != 0)
		return r;
	if (g == EAI_SYSTEM)
		return err_set(ERR_IO, "resolve %s: system error", host);
	if (g != 0)
		return err_set(ERR_NOT_FOUND, "resolve %s: %s", host, gai_strerror(g));
	return 0;
}

int net_connect(const char *addr, uint64_t deadline, int *fdp)
{
	struct addrinfo *res = NULL, *ai;
	char host[NET_HOST_MAX], port[NET_PORT_MAX];
	int r;

	*fdp = -1;
	if ((r = net_parse_addr(addr, host, port)) != 0)
		return r;
	if ((r = resolve(host, port, deadline, &res)) != 0)
		return r;
	r = ERR_IO;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((r = connect_one(ai, deadline, fdp)) == 0 || r == ERR_TIMEOUT)
			break;
	}
	freeaddrinfo(res);
	return r;
}

int net_write_all(int fd, const uint8_t *p, size_t len, uint64_t deadline)
{
	ssize_t n;
	int r;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((r = wait_fd(fd, POLLOUT, deadline)) != 0)
				return r == ERR_TIMEOUT ? err_set(r, "send: timed out") : r;
			continue;
		}
		err_sys("send");
		return ERR_IO;
	}
	return 0;
}

int net_read_exact(int fd, uint8_t *p, size_t len, uint64_t deadline)
{
	ssize_t n;
	int r;

	while (len > 0) {
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return err_set(ERR_IO, "connection closed by the server");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((r = wait_fd(fd, POLLIN, deadline)) != 0)
				return r == ERR_TIMEOUT ? err_set(r, "receive: timed out") : r;
			continue;
		}
		err_sys("receive");
		return ERR_IO;
	}
	return 0;
}

int net_write_frame(int fd, uint8_t type, const uint8_t *body, size_t len, uint64_t deadline)
{
	uint8_t hdr[WIRE_HEADER_LEN];
	int r;

	if (len > WIRE_MAX_BODY)
		return err_set(ERR_TOO_LARGE, "frame body of %zu bytes", len);
	buf_poke_be16(hdr, (uint16_t)len);
	hdr[2] = type;
	if ((r = net_write_all(fd, hdr, sizeof(hdr), deadline)) != 0)
		return r;
	return net_write_all(fd, body, len, deadline);
}

int net_read_frame(int fd, uint8_t *type, struct buf *body, uint64_t deadline)
{
	uint8_t hdr[WIRE_HEADER_LEN], *p;
	uint16_t len;
	int r;

	buf_reset(body);
	if ((r = net_read_exact(fd, hdr, sizeof(hdr), deadline)) != 0)
		return r;
	len = buf_peek_be16(hdr);
	*type = hdr[2];
	if (len == 0)
		return 0;
	if ((r = buf_reserve(body, len, &p)) != 0)
		return r;
	return net_read_exact(fd, p, len, deadline);
}
