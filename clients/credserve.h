// SPDX-License-Identifier: ISC
#ifndef COFFER_CLIENTS_CREDSERVE_H
#define COFFER_CLIENTS_CREDSERVE_H

/*
 * The systemd credential provider behind `coffer-get serve`: an AF_UNIX
 * stream socket that systemd's LoadCredential=NAME:SOCKET connects to. For
 * each connection, one at a time:
 *
 *  1. the peer must be uid 0 (SO_PEERCRED): systemd connects as root;
 *  2. its socket name must be \0<random>/unit/<UNIT>/<NAME> (credpolicy.h);
 *  3. the policy, if any, must let UNIT read NAME;
 *  4. NAME is fetched from the appliance (the fetch callback) and its value's
 *     exact bytes are written; then the connection is closed.
 *
 * Any refusal or failure closes the connection with nothing written and logs
 * one line (unit, name and the reason; never a value). Nothing is read from
 * the peer. The write has a deadline, so a peer that never reads holds the
 * provider for at most CREDSERVE_WRITE_MS.
 *
 * The socket is the one systemd passed (coffer-credentials.socket), or
 * created at the given path with mode 0600 (a stale socket there is
 * replaced; a live one, or any other file, is refused) and removed at exit.
 * SIGHUP re-reads the policy (a bad one keeps the old); SIGTERM and SIGINT
 * stop.
 */

#include "err.h"

#define CREDSERVE_WRITE_MS 5000
#define CREDSERVE_BACKLOG 64

struct buf;
struct credserve;

/*
 * Append the exact bytes of secret `name`'s value to out. 0, ERR_NOT_FOUND
 * (not in this host's shard), or another code (logged with err_detail()).
 */
typedef int (*credserve_fetch_fn)(void *ctx, const char *name, struct buf *out);

struct credserve_config {
	const char *socket_path; /* required without socket activation */
	const char *policy_path; /* NULL: every unit may read every name */
	credserve_fetch_fn fetch;
	void *fetch_ctx;
};

/*
 * Load the policy, take the socket from systemd (LISTEN_FDS: exactly one
 * AF_UNIX stream socket, at socket_path if that is given) or create it, and
 * take SIGHUP/SIGTERM/SIGINT through a signalfd (blocked for the process).
 * *out freed with credserve_free. Errors name the file or socket.
 */
int credserve_open(const struct credserve_config *cfg, struct credserve **out) WARN_UNUSED;

/* Serve until SIGTERM/SIGINT: 0, or ERR_SYSTEM if the socket failed. */
int credserve_run(struct credserve *cs) WARN_UNUSED;

/* Close the socket (removing it if we created it). NULL is fine. */
void credserve_free(struct credserve *cs);

#endif
