// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_TOKEN_H
#define COFFER_APPLIANCE_TOKEN_H

/*
 * The appliance's key in its token (PKCS#11 or TPM 2.0), behind the narrow
 * hsm/ interface: open and probe at start, ECDH from any worker thread.
 * This is the only file of appliance/ that calls hsm/ for keys (state.c keeps
 * the TPM rollback counter through hsm_counter_*()).
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "pkey.h"

struct cfg;
struct token;

/*
 * Open the token named by the config (PKCS#11 module + --token or the token
 * attributes of a --key URI, else the module's only token + key URI or
 * label + PIN source, or TPM TCTI + key blob), require ECDH (ERR_UNSUPPORTED naming the missing
 * mechanism), open the key and read its public point. The detail says
 * exactly what failed (no token, wrong PIN, no such key).
 */
int token_open(const struct cfg *c, struct token **out) WARN_UNUSED;
/*
 * A token over a software key (a reference to priv is taken), for tests of
 * the serving code without a PKCS#11 module; appliance-server never uses it.
 */
int token_soft(EVP_PKEY *priv, struct token **out) WARN_UNUSED;
/*
 * The "sha256:<hex>" fingerprint of the public-key object labelled `label`
 * in the token (a trust anchor stored with coffer-hsm import-anchor).
 * ERR_NOT_FOUND if there is none, ERR_INVALID_ARG if several objects carry
 * the label, ERR_UNSUPPORTED for the TPM backend and software tokens.
 * Thread-safe.
 */
int token_anchor(struct token *t, const char *label, char fpr[static PKEY_FPR_TEXT_LEN + 1])
	WARN_UNUSED;
/* Close the key and the token; NULL is fine. */
void token_close(struct token *t);
/* The appliance public point (04||X||Y). */
const uint8_t *token_point(const struct token *t);
/* "sha256:<hex>" of the appliance public key. */
const char *token_fingerprint(const struct token *t);
/* Human description of the token for the log. */
const char *token_describe(const struct token *t);
/* The hsm_key (struct hsm_key *) for APIs that take one. */
void *token_key(struct token *t);
/* ECDH with the appliance key; thread-safe. ERR_FORMAT for a bad point. */
int token_dh(struct token *t, const uint8_t peer[static P256_POINT_LEN],
	     uint8_t out[static P256_DH_LEN]) WARN_UNUSED;
/* Same, in the callback shape of hsm_dh_callback / noise_dh_fn (ctx = token). */
int token_dh_callback(void *ctx, const uint8_t *peer, uint8_t *out) WARN_UNUSED;

#endif
