// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_NET_H
#define COFFER_APPLIANCE_NET_H

/*
 * The network process's event loop (appliance-net): accept on the
 * listening sockets, read frames, judge each header before any body byte
 * is kept (type, direction, turn, length), enforce the connection,
 * handshake and rate limits and the deadlines, and pass each whole frame to
 * the monitor over the IPC socket; write back the frames the monitor
 * returns. It holds no key, no PIN, no secret and no session key:
 * everything it moves after the Hello is sealed.
 */

#include <stddef.h>

#include "err.h"

struct ipc_config;
struct net;

/*
 * Before anything else: block the signals the loop takes through a
 * signalfd (SIGTERM, SIGINT; SIGHUP is the monitor's and ignored here),
 * ignore SIGPIPE. ERR_SYSTEM.
 */
int net_prepare(void) WARN_UNUSED;

/*
 * Everything the loop needs that the sandbox will forbid later (epoll,
 * signalfd, the tables). `listen_fds[0..count)` are listening,
 * non-blocking stream sockets; they and ipc_fd become the loop's.
 */
int net_new(const struct ipc_config *c, int ipc_fd, const int *listen_fds, size_t count,
	    struct net **out) WARN_UNUSED;

/*
 * Serve (inside the sandbox) until the monitor says SHUTDOWN or a SIGTERM
 * arrives, and the last conversation ends or the grace period passes:
 * returns 0. ERR_IO when the monitor is gone, ERR_PROTOCOL when it sent
 * something malformed, another code when the loop itself failed.
 */
int net_run(struct net *n) WARN_UNUSED;

/* NULL is fine. */
void net_destroy(struct net *n);

#endif
