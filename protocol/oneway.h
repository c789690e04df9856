// SPDX-License-Identifier: ISC
#ifndef COFFER_ONEWAY_H
#define COFFER_ONEWAY_H

/*
 * One-way Noise messages, Noise_K_P256_AESGCM_SHA256: a sender with a static
 * key seals a payload to a recipient's static public key; the recipient opens
 * it knowing which sender to expect. Tokens: pre-messages -> s, <- s;
 * message -> e, es, ss. The message is e (65 bytes) || AES-GCM(payload) (+16).
 * Used by the sealed coffer file to wrap data keys (one message per recipient
 * appliance). Both private keys may live in tokens (DH callbacks).
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "noise.h"

struct buf;

#define ONEWAY_PROTOCOL "Noise_K_P256_AESGCM_SHA256"
#define ONEWAY_OVERHEAD (65 + 16)
#define ONEWAY_MAX_PAYLOAD (NOISE_MAX_MSG - ONEWAY_OVERHEAD)

struct oneway_key {
	noise_dh_fn dh;      /* DH with the local static private key */
	void *dh_ctx;
	const uint8_t *pub;  /* its 65-byte public point */
};

/*
 * Seal payload (at most ONEWAY_MAX_PAYLOAD bytes) from `sender` to the
 * recipient's public point; the message is appended to out. The prologue
 * (may be empty) binds the context, e.g. a file header. test_ephemeral: NULL,
 * or a 32-byte private scalar for deterministic test vectors only.
 */
int oneway_seal(const struct oneway_key *sender, const uint8_t recipient_pub[static 65],
		const uint8_t *prologue, size_t prologue_len, const uint8_t *payload, size_t len,
		const uint8_t *test_ephemeral, struct buf *out) WARN_UNUSED;
/*
 * Open a message with the recipient's key, expecting it from sender_pub;
 * the payload is appended to out. ERR_AUTH if it was not sealed by that
 * sender to this recipient with this prologue, or was changed; ERR_FORMAT
 * for a bad ephemeral key or a short message.
 */
int oneway_open(const struct oneway_key *recipient, const uint8_t sender_pub[static 65],
		const uint8_t *prologue, size_t prologue_len, const uint8_t *msg, size_t len,
		struct buf *out) WARN_UNUSED;

#endif
