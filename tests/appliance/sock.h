// SPDX-License-Identifier: ISC
#ifndef COFFER_TESTS_APPLIANCE_SOCK_H
#define COFFER_TESTS_APPLIANCE_SOCK_H

/* Loopback socket helpers shared by the appliance tests and appl-client. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "frame.h"

/* A TCP port on 127.0.0.1 that was free a moment ago. */
static inline int sock_free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		abort();
	p = ntohs(a.sin_port);
	close(fd);
	return p;
}

/* Connect to 127.0.0.1:port with a receive timeout; -1 on failure. */
static inline int sock_dial(int port, int timeout_s)
{
	struct sockaddr_in a;
	struct timeval tv = {timeout_s, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send all of b and empty it; 0 or -1. */
static inline int sock_send_buf(int fd, struct buf *b)
{
	int ok = send(fd, buf_ptr(b), buf_len(b), MSG_NOSIGNAL) == (ssize_t)buf_len(b);

	buf_reset(b);
	return ok ? 0 : -1;
}

/*
 * Read one frame through protocol/'s decoder, keeping extra bytes in stash
 * (4096 bytes, *have of them used). 0, or -1 on EOF or a decoding error.
 */
static inline int sock_read_frame(int fd, struct frame_decoder *d, uint8_t *stash, size_t *have,
				  struct frame *f)
{
	for (;;) {
		size_t used = 0;
		ssize_t n;
		int r;

		if (*have > 0) {
			r = frame_decoder_feed(d, stash, *have, &used, f);
			memmove(stash, stash + used, *have - used);
			*have -= used;
			if (r == 0)
				return 0;
			if (r != ERR_INCOMPLETE)
				return -1;
		}
		n = recv(fd, stash, 4096, 0);
		if (n <= 0)
			return -1;
		*have = (size_t)n;
	}
}

#endif
