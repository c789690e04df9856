// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_SESSION_H
#define COFFER_APPLIANCE_SESSION_H

/*
 * One client conversation after framing: the Noise IK responder for Hello
 * (token DH through the worker thread's hsm session), then Get -> OkGet
 * (chunked), Bye. Runs on a worker thread; the event loop only moves bytes.
 * This is the only file of appliance/ that calls protocol/.
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct appl_state;
struct audit;
struct buf;
struct session;
struct token;

/* What a session needs from the server; shared by all sessions. */
struct session_env {
	struct token *token;
	struct audit *audit;
	int audit_required;
	void *replay; /* replay table (protocol/), shared; NULL until wired */
};

/*
 * Handle one complete frame (type, body) from the peer. The first frame
 * must be Hello and creates *sessp (holding a reference to st); later
 * frames use it. The reply frames are appended to `out`; *close is set when
 * the connection must end after `out` is sent. Audit records are written
 * here. Returns 0 (even when the answer is an Error frame), or a negative
 * code for a failure of the server itself (the caller closes).
 */
int session_handle(const struct session_env *env, struct appl_state *st, const char *peer,
		   struct session **sessp, uint8_t type, const uint8_t *body, size_t len,
		   struct buf *out, int *close) WARN_UNUSED;

/* Wipe and free (drops the state reference); NULL is fine. */
void session_free(struct session *s);

/* 1 once the handshake completed (Link sent). */
int session_linked(const struct session *s);

/* Append a plain (unsealed) Error frame with this reason to out. */
int session_plain_error(struct buf *out, const char *reason) WARN_UNUSED;

#endif
