// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_SERVER_H
#define COFFER_APPLIANCE_SERVER_H

/*
 * The serving part of appliance-server, split in two processes (OpenSSH's
 * privilege separation):
 *
 * - the monitor (this process, and this file): the token, the state, the
 *   Noise handshakes and transport sealing, the replay table, the audit
 *   trail, reload and stop. An epoll loop on the main thread reads the
 *   network process's messages (appliance/ipc.h) and answers Get and Bye
 *   itself; Hellos (token DH) and reloads go to a pool of worker threads.
 *   After server_start_net() it holds no network socket.
 * - the network process (appliance-net, appliance/net.c): a fresh exec,
 *   sandboxed (appliance/sandbox.h), that owns the listening sockets, the
 *   connections, their limits and deadlines, and judges frame headers.
 *
 * Limits (struct cfg): max connections, max frame, handshake and idle
 * timeouts, max handshakes in flight, a per-source-address token bucket for
 * handshakes. SIGHUP reloads into a new state (old connections finish on
 * the old one); SIGTERM/SIGINT stop accepting and finish in-flight work
 * within the grace period. If the network process dies, the monitor logs
 * and audits how and server_run() fails: the service ends, fail closed.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct appl_state;
struct ipc_msg;
struct audit;
struct cfg;
struct listenfds;
struct server;
struct token;

/*
 * A server over a loaded state (a reference is taken), the token and the
 * audit trail (both stay the caller's and must outlive the server).
 */
int server_new(const struct cfg *c, struct token *t, struct audit *a, struct appl_state *st,
	       struct server **out) WARN_UNUSED;
/* NULL is fine. Closes sockets; workers must have stopped (server_run returned). */
void server_free(struct server *s);

/*
 * Create, bind and listen on every --listen address (before dropping
 * privileges). ERR_SYSTEM naming the address on failure.
 */
int server_bind(struct server *s) WARN_UNUSED;

/*
 * Take the listening sockets systemd passed (listenfds_take) instead of
 * binding --listen addresses; server_start_net() hands them to the network
 * process like bound ones. The server takes the descriptors over (l is left
 * empty; server_free closes them). Returns 0.
 */
int server_adopt(struct server *s, struct listenfds *l) WARN_UNUSED;

/*
 * Start the network process (fork, exec appliance-net) with the listening
 * sockets and the limits, and close the sockets here. Call after
 * server_bind() and before dropping privileges (the network process
 * chroots when it starts as root). server_run() calls it if not done yet.
 * ERR_SYSTEM / ERR_NOT_FOUND naming what failed.
 */
int server_start_net(struct server *s) WARN_UNUSED;
/* The network process's pid, or -1. */
pid_t server_net_pid(const struct server *s);

/*
 * The monitor's input from the network process: bytes appended to the IPC
 * input and every whole message in it handled (server_run feeds it; the IPC
 * fuzz target calls it directly). Returns 0, or ERR_PROTOCOL (and the like)
 * when the network process sent something it never may: the service ends.
 */
int server_ipc_input(struct server *s, const uint8_t *p, size_t len) WARN_UNUSED;

/*
 * Tests and the IPC fuzz target only (a server without a network process):
 * the messages queued for the network process, a fixed server ephemeral
 * key (32 bytes) and a fixed clock (ns since 1970, also taken as the
 * start) so that recorded conversations replay.
 */
struct buf *server_ipc_output(struct server *s);
void server_set_test_ephemeral(struct server *s, const uint8_t *priv);
void server_set_test_clock(struct server *s, uint64_t now_ns);

/*
 * Block SIGHUP/SIGTERM/SIGINT for all threads and take them through a
 * signalfd. Call before starting any other thread (the token's included is
 * fine: they only inherit the mask if created later).
 */
int server_signals(struct server *s) WARN_UNUSED;

/*
 * Start the network process if needed, the workers, and serve until
 * SIGTERM/SIGINT; then let the network process finish in-flight work within
 * the grace period and stop the workers. Returns 0 on a clean stop, ERR_IO
 * if the network process died (how is in the log and the audit trail), or
 * another negative code if the loop itself failed.
 */
int server_run(struct server *s) WARN_UNUSED;

/*
 * How SIGHUP builds the new state (runs on a worker thread). The default is
 * state_load(cfg, token, update_state = 1). Tests replace it.
 */
typedef int (*server_loader_fn)(void *ctx, struct appl_state **out);
void server_set_loader(struct server *s, server_loader_fn fn, void *ctx);

/* sd_notify() when built with libsystemd, else nothing. */
void server_notify(const char *state);

#endif
