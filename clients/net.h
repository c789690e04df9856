// SPDX-License-Identifier: ISC
#ifndef COFFER_CLIENTS_NET_H
#define COFFER_CLIENTS_NET_H

/*
 * Client-side sockets with deadlines: address parsing ("host:port",
 * "[v6]:port"), connect to each resolved address in turn until the
 * deadline, and whole-frame reads and writes (u16 length | u8 type | body)
 * that give up at the deadline. Deadlines are CLOCK_MONOTONIC milliseconds.
 * Errors: ERR_FORMAT (address), ERR_NOT_FOUND (name does not resolve),
 * ERR_IO (refused, reset, closed early), ERR_TIMEOUT, ERR_TOO_LARGE;
 * the detail names the server.
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define NET_HOST_MAX 256
#define NET_PORT_MAX 6

struct buf;

/* Now, monotonic milliseconds. */
uint64_t net_now_ms(void);

/*
 * Split "host:port" / "[v6]:port" into host (without brackets) and a decimal
 * port 1..65535. ERR_FORMAT otherwise (a bare v6 address without brackets
 * included, as its last ':' would be ambiguous).
 */
int net_parse_addr(const char *addr, char host[static NET_HOST_MAX],
                   char port[static NET_PORT_MAX]) WARN_UNUSED;

/* Connected TCP socket to addr before deadline; *fdp closed by the caller. */
int net_connect(const char *addr, uint64_t deadline, int *fdp) WARN_UNUSED;

/* Write / read exactly len bytes before the deadline. */
int net_write_all(int fd, const uint8_t *p, size_t len, uint64_t deadline) WARN_UNUSED;
int net_read_exact(int fd, uint8_t *p, size_t len, uint64_t deadline) WARN_UNUSED;

/* Write one frame. */
int net_write_frame(int fd, uint8_t type, const uint8_t *body, size_t len,
                    uint64_t deadline) WARN_UNUSED;
/* Read one frame: *type, and the body appended to body (reset first). */
int net_read_frame(int fd, uint8_t *type, struct buf *body, uint64_t deadline) WARN_UNUSED;

#endif
