// SPDX-License-Identifier: ISC
#ifndef COFFER_TESTS_PROTOCOL_CONVO_H
#define COFFER_TESTS_PROTOCOL_CONVO_H

/*
 * An in-memory client and server for the protocol tests: software P-256
 * keys behind noise_pkey_dh, frames passed through the real decoder.
 * The server side takes any DH callback, so the same conversation runs with
 * a token key (hsm_dh_callback) once hsm/ is there.
 */

#include <string.h>

#include "buf.h"
#include "frame.h"
#include "log.h"
#include "pkey.h"
#include "session.h"

/* Decode exactly one frame from all of b (the frame points into d). */
static inline int convo_frame(struct frame_decoder *d, const struct buf *b, struct frame *f)
{
	size_t used = 0;
	int r = frame_decoder_feed(d, buf_ptr(b), buf_len(b), &used, f);

	if (r == 0 && used != buf_len(b))
		return ERR_TRAILING_DATA;
	return r;
}

/* A client and a server session joined by an in-memory wire. */
struct convo_pair {
	struct session *c, *s;
	struct buf *wire;
	struct frame f;
};

static inline int convo_pair_new(struct convo_pair *p, const struct session_client_config *cc,
				 const struct session_server_config *sc)
{
	int r;

	memset(p, 0, sizeof(*p));
	if ((p->wire = buf_new(0)) == NULL)
		return ERR_ALLOC;
	if ((r = session_client_new(cc, &p->c)) != 0 || (r = session_server_new(sc, &p->s)) != 0)
		return r;
	return 0;
}

static inline void convo_pair_free(struct convo_pair *p)
{
	session_free(p->c);
	session_free(p->s);
	buf_free(p->wire);
}

/* Pass what is on the wire through the decoder d into p->f. */
static inline int convo_xfer(struct frame_decoder *d, struct convo_pair *p)
{
	int r = convo_frame(d, p->wire, &p->f);

	buf_reset(p->wire);
	return r;
}

struct convo_keys {
	EVP_PKEY *server, *client;
	uint8_t server_pub[65], client_pub[65];
};

static inline int convo_keys_new(struct convo_keys *k)
{
	int r;

	memset(k, 0, sizeof(*k));
	if ((r = pkey_generate_p256(&k->server)) != 0 || (r = pkey_generate_p256(&k->client)) != 0 ||
	    (r = pkey_to_point(k->server, k->server_pub)) != 0 ||
	    (r = pkey_to_point(k->client, k->client_pub)) != 0)
		return r;
	return 0;
}

static inline void convo_keys_free(struct convo_keys *k)
{
	EVP_PKEY_free(k->server);
	EVP_PKEY_free(k->client);
}

#endif
