// SPDX-License-Identifier: ISC
#ifndef COFFER_SESSION_H
#define COFFER_SESSION_H

/*
 * One Coffer conversation, either end (docs/protocol.md):
 * Noise_IK_P256_AESGCM_SHA256 with prologue "coffer/1".
 *
 *   Hello       = Noise message 1 (e, es, s, ss), payload = TAI64N (12 bytes)
 *   Link        = Noise message 2 (e, ee, se), empty payload
 *   KeyNotFound = Noise message 2 (e, ee, se), payload = client static key:
 *                 sent only after message 1 authenticated, readable only by
 *                 the holder of the client's private key
 *   Get/OkGet/Bye and Error after Link: sealed with the Split() keys
 *                 (c1 client->server, c2 server->client), AD = the frame
 *                 type byte
 *   Error before Link: plain UTF-8 reason
 *
 * Pure code: frames in (struct frame from the decoder), frames out
 * (appended to a struct buf). Every call checks the conversation state
 * machine first (frame_sm); any failure leaves the session dead.
 *
 * Static keys are DH callbacks (noise_dh_fn, the shape of hsm_dh_callback),
 * so either private key may live in a token.
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "frame.h"
#include "msg.h"
#include "noise.h"

struct buf;
struct session;

#define SESSION_PROTOCOL "Noise_IK_P256_AESGCM_SHA256"
#define SESSION_PROLOGUE "coffer/1"
#define SESSION_TAI64N_LEN 12

struct session_client_config {
	noise_dh_fn dh;              /* DH with the client's static private key */
	void *dh_ctx;
	const uint8_t *client_pub;   /* its 65-byte public point */
	const uint8_t *server_pub;   /* pinned server static public point */
	uint64_t timestamp_ns;       /* Hello timestamp, ns since 1970; 0: now */
};

struct session_server_config {
	noise_dh_fn dh;              /* DH with the server's static private key */
	void *dh_ctx;
	const uint8_t *server_pub;   /* its 65-byte public point */
};

/* New sessions; keys validated (ERR_FORMAT). Free with session_free. */
int session_client_new(const struct session_client_config *cfg, struct session **out)
	WARN_UNUSED;
int session_server_new(const struct session_server_config *cfg, struct session **out)
	WARN_UNUSED;
/* Wipes every key; NULL is fine. */
void session_free(struct session *s);
/* Test hook: fixed ephemeral private key (32 bytes) for the next e token. */
int session_set_ephemeral(struct session *s, const uint8_t *priv, size_t len) WARN_UNUSED;
/* 1 after Bye, KeyNotFound or Error went either way, or after any failure. */
int session_done(const struct session *s);
/* Check an incoming frame against the state machine (0 or ERR_PROTOCOL). */
int session_check_incoming(const struct session *s, const struct frame *f) WARN_UNUSED;
/* The client's static public key (client: own; server: once Hello is read),
 * or NULL. */
const uint8_t *session_client_pub(const struct session *s);

/* ---- client ---- */

/* Append the Hello frame. */
int session_client_hello(struct session *s, struct buf *out) WARN_UNUSED;
/*
 * Read the server's answer to Hello. 0 for Link (transport keys ready);
 * ERR_NOT_FOUND for KeyNotFound (detail: "server does not know this client
 * key"), after checking that it carries our key; ERR_PROTOCOL for Error
 * (detail: "server refused: <reason>"), ERR_AUTH if Link does not
 * authenticate (wrong server key pinned).
 */
int session_client_read_link(struct session *s, const struct frame *f) WARN_UNUSED;
/* Append a Get frame: n == 0 asks for every key. */
int session_client_get(struct session *s, const char *const *names, const size_t *lens,
		       size_t n, struct buf *out) WARN_UNUSED;
/*
 * Read an OkGet (its secrets are added to sh; *more says whether another
 * OkGet follows) or a sealed Error (ERR_PROTOCOL, "server refused: ...";
 * ERR_NOT_FOUND when the reason starts with "secret not found").
 */
int session_client_read_okget(struct session *s, const struct frame *f, struct msg_shard *sh,
			      int *more) WARN_UNUSED;
/* Append the Bye frame (sealed client static key). */
int session_client_bye(struct session *s, struct buf *out) WARN_UNUSED;

/* ---- server ---- */

/*
 * Hello, step 1: tokens e, es (DH callback), s. *client_pub gets the
 * client's static key (65 bytes). Nothing is authenticated yet: use it only
 * to look the client up. ERR_AUTH if s does not decrypt (e.g. the client
 * pinned another server key).
 */
int session_server_hello_begin(struct session *s, const struct frame *f,
			       uint8_t client_pub[static 65]) WARN_UNUSED;
/*
 * Hello, step 2: token ss, from `ss` (32 bytes, cached per client) or, when
 * ss is NULL, through the DH callback; then the payload. On 0 the Hello is
 * authenticated and *ts_ns holds its timestamp (ns since 1970): now check
 * and update the replay table. ERR_AUTH if the payload does not decrypt,
 * ERR_FORMAT for a malformed timestamp.
 */
int session_server_hello_finish(struct session *s, const uint8_t *ss, uint64_t *ts_ns)
	WARN_UNUSED;
/* Append Link (transport keys ready), or KeyNotFound (conversation over). */
int session_server_link(struct session *s, struct buf *out) WARN_UNUSED;
int session_server_key_not_found(struct session *s, struct buf *out) WARN_UNUSED;
/* Read a Get: *names freed with msg_names_free. */
int session_server_read_get(struct session *s, const struct frame *f, struct msg_names **names)
	WARN_UNUSED;
/* Append the next OkGet from the chunker; *more as msg_chunk_next. */
int session_server_okget(struct session *s, struct msg_chunker *c, struct buf *out, int *more)
	WARN_UNUSED;
/* Read Bye: must carry the client's key (ERR_PROTOCOL otherwise). */
int session_server_read_bye(struct session *s, const struct frame *f) WARN_UNUSED;
/*
 * Append an Error with this reason (truncated to FRAME_MAX_ERROR_TEXT):
 * plain before Link, sealed after. Allowed where the state machine allows
 * Error (after Hello, after Get).
 */
int session_server_error(struct session *s, const char *reason, struct buf *out) WARN_UNUSED;

/* TAI64N (12 bytes) <-> ns since 1970. */
void session_tai64n_encode(uint64_t ns, uint8_t out[static SESSION_TAI64N_LEN]);
int session_tai64n_decode(const uint8_t in[static SESSION_TAI64N_LEN], uint64_t *ns) WARN_UNUSED;

/* ---- replay table ---- */
struct replay;

/* A table remembering the newest Hello timestamp per client key; at most
 * max_clients entries (0: 1,000,000). NULL on OOM. */
struct replay *replay_new(size_t max_clients);
void replay_free(struct replay *t);
/* 0 if ts is newer than the client's last, else ERR_REPLAY. Read-only. */
int replay_check(const struct replay *t, const uint8_t pub[static 65], uint64_t ts) WARN_UNUSED;
/* Record ts as the client's newest (only after its Hello authenticated).
 * ERR_REPLAY if not newer, ERR_BUSY when the table is full. */
int replay_update(struct replay *t, const uint8_t pub[static 65], uint64_t ts) WARN_UNUSED;

#endif
