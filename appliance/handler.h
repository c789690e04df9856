// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_HANDLER_H
#define COFFER_APPLIANCE_HANDLER_H

/*
 * One client conversation above framing: the Noise IK responder for Hello
 * (the token's DHs, or the cached ss), the client lookup, the replay check,
 * then Get -> OkGet (chunked), Bye. Runs on a worker thread; the event loop
 * only moves bytes. This is the only file of appliance/ that calls
 * protocol/. Audit records (handshake, release) are written here.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct appl_state;
struct audit;
struct buf;
struct handler;
struct token;

/* What every conversation shares; owned by the server. */
struct handler_env {
	struct token *token;
	struct audit *audit;
	int audit_required;        /* refuse releases the audit cannot record */
	void *replay;              /* protocol/'s replay table (struct replay *) */
	pthread_mutex_t *replay_lock;
	const uint8_t *test_ephemeral; /* tests and the IPC fuzz target only: a fixed
					* server ephemeral (32 bytes), else NULL */
	/* Hello timestamps: refused beyond now + skew, or before started - skew */
	uint64_t clock_skew_ns;
	uint64_t started_ns;  /* CLOCK_REALTIME at the server's start */
	uint64_t test_now_ns; /* tests only: the clock, if not 0 */
	/* With audit_required and a writer thread: called (on that thread) with
	 * the cookie of a release whose record was written (rc 0) or not. */
	void (*release_done)(void *cookie, int rc);
};

/* handler_handle: a release waits for its audit record. */
#define HANDLER_PENDING 1

/*
 * Handle one complete frame (type, body) from the peer. The first frame
 * must be Hello and creates *hp (holding a reference to st); later frames
 * use it. Reply frames are appended to `out`; *close is set when the
 * connection must end once `out` is sent. Returns 0 (even when the answer
 * is an Error frame), or a negative code for a failure of the server itself
 * (the caller closes without a reply), or HANDLER_PENDING: a release under
 * audit_required whose record is queued; env->release_done(cookie, rc)
 * comes when it is written, and then handler_release_done answers. No
 * frame may be handled for the connection meanwhile.
 */
int handler_handle(const struct handler_env *env, struct appl_state *st, const char *peer,
		   struct handler **hp, uint8_t type, const uint8_t *body, size_t len,
		   struct buf *out, int *close, void *cookie) WARN_UNUSED;

/*
 * Finish a HANDLER_PENDING release once its record's write gave audit_rc:
 * the OkGets, or (audit_rc != 0) a sealed Error "audit unavailable".
 * Returns as handler_handle does (never HANDLER_PENDING).
 */
int handler_release_done(const struct handler_env *env, struct handler *h, const char *peer,
			 int audit_rc, struct buf *out, int *close) WARN_UNUSED;

/* Wipe and free (drops the state reference); NULL is fine. */
void handler_free(struct handler *h);

/* 1 once the handshake completed (Link sent). */
int handler_linked(const struct handler *h);

/* Append a plain (unsealed) Error frame with this reason to out. */
int handler_plain_error(struct buf *out, const char *reason) WARN_UNUSED;

/* A new replay table for handler_env (*out stays NULL without protocol/).
 * ERR_ALLOC. */
int handler_replay_new(void **out) WARN_UNUSED;
void handler_replay_free(void *replay);

#endif
