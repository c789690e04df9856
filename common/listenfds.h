// SPDX-License-Identifier: ISC
#ifndef COFFER_LISTENFDS_H
#define COFFER_LISTENFDS_H

/*
 * Socket activation: the listening sockets systemd (or
 * systemd-socket-activate) passes to a service, per sd_listen_fds(3):
 * LISTEN_PID names this process, LISTEN_FDS counts the descriptors, which
 * start at 3; LISTEN_FDNAMES is optional. No libsystemd needed.
 *
 * Every descriptor must be a listening SOCK_STREAM socket of a wanted
 * family, or nothing is taken: a unit that passes a datagram socket or a
 * connected one is a configuration error, never silently served.
 */

#include <stddef.h>
#include <sys/socket.h>

#include "err.h"

#define LISTENFDS_START 3 /* SD_LISTEN_FDS_START */
#define LISTENFDS_MAX 16  /* as many as appliance-server's --listen */
#define LISTENFDS_TEXT 128

/* Which socket families a caller accepts. */
enum listenfds_family {
	LISTENFDS_INET = 1U << 0, /* AF_INET and AF_INET6 */
	LISTENFDS_UNIX = 1U << 1, /* AF_UNIX */
};

struct listenfd {
	int fd;
	int family;
	struct sockaddr_storage addr; /* getsockname() */
	socklen_t len;
	char text[LISTENFDS_TEXT]; /* "0.0.0.0:9187", "[::]:9187", "/run/x.sock": for logs */
};

struct listenfds {
	struct listenfd fds[LISTENFDS_MAX];
	size_t n;
};

/*
 * 1 if systemd passed sockets to this process (LISTEN_PID is our pid and
 * LISTEN_FDS is set), else 0. Reads the environment only; takes nothing.
 */
int listenfds_offered(void);

/*
 * Take the passed sockets: check each as above, make it close-on-exec and
 * non-blocking, and remove LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES from the
 * environment (children must not think they were activated). Returns 0 with
 * out->n >= 1 (the caller owns the descriptors: listenfds_close), or
 * ERR_NOT_FOUND (not activated: LISTEN_PID unset or another process's,
 * LISTEN_FDS unset or 0), ERR_FORMAT (a malformed variable), ERR_TOO_LARGE
 * (more than LISTENFDS_MAX), ERR_INVALID_ARG (a descriptor that is not a
 * listening stream socket of `families`; the detail names it). On failure
 * out->n is 0 and the descriptors are left as they were.
 */
int listenfds_take(unsigned families, struct listenfds *out) WARN_UNUSED;

/* Close every descriptor in l and set l->n to 0. NULL is fine. */
void listenfds_close(struct listenfds *l);

#endif
