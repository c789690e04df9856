// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_SERVER_H
#define COFFER_APPLIANCE_SERVER_H

/*
 * The serving part of appliance-server: listening sockets, one epoll event
 * loop on the main thread that only moves bytes (non-blocking sockets,
 * signalfd, deadlines), and a pool of worker threads that do everything
 * that touches the token or the secrets (a whole Hello, Get, Bye, reload),
 * so that a slow token never stalls other connections.
 *
 * Limits (struct cfg): max connections, max frame, handshake and idle
 * timeouts, max handshakes in flight, a per-source-address token bucket for
 * handshakes. SIGHUP reloads into a new state (old connections finish on
 * the old one); SIGTERM/SIGINT stop accepting and finish in-flight work
 * within the grace period.
 */

#include "err.h"

struct appl_state;
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
 * Serve on the listening sockets systemd passed (listenfds_take) instead of
 * binding --listen addresses. The server takes the descriptors over (l is
 * left empty; server_free closes them). Returns 0.
 */
int server_adopt(struct server *s, struct listenfds *l) WARN_UNUSED;

/*
 * Block SIGHUP/SIGTERM/SIGINT for all threads and take them through a
 * signalfd. Call before starting any other thread (the token's included is
 * fine: they only inherit the mask if created later).
 */
int server_signals(struct server *s) WARN_UNUSED;

/*
 * Start the workers and serve until SIGTERM/SIGINT; then finish in-flight
 * work within the grace period and stop the workers. Returns 0 on a clean
 * stop, or a negative code if the loop itself failed.
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
