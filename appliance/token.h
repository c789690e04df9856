// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_TOKEN_H
#define COFFER_APPLIANCE_TOKEN_H

/*
 * The appliance's keys in its token (PKCS#11 or TPM 2.0), behind the narrow
 * hsm/ interface: open and probe at start, ECDH from any worker thread.
 * Several keys are served at once while clients move from an old key to a
 * new one; the audit key (another token, or the same) is opened here too.
 * This is the only file of appliance/ that calls hsm/ for keys (state.c keeps
 * the TPM rollback counter through hsm_counter_*()).
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "pkey.h"

struct buf;
struct cfg;
struct token;

#define TOKEN_MAX_KEYS 4

/*
 * Open the token named by the config (PKCS#11 module + --token or the token
 * attributes of the first --key URI, else the module's only token + the
 * --key URIs or labels + PIN source, or TPM TCTI + the --key-blob files),
 * require ECDH (ERR_UNSUPPORTED naming the missing mechanism), open every
 * appliance key (1..TOKEN_MAX_KEYS, all in that token, in the order given)
 * and read their public points. The detail says exactly what failed (no
 * token, wrong PIN, no such key); ERR_INVALID_ARG if one key is given twice.
 */
int token_open(const struct cfg *c, struct token **out) WARN_UNUSED;
/*
 * Open the key that signs audit checkpoints (--audit-key): a pkcs11: URI in
 * the token its token attributes select (the appliance's or another of the
 * module), a bare label in the appliance's token, or with --tpm2 a TPM key
 * blob; logged in with --audit-pin-source (none: the URI's pin-source, or
 * the login this process already holds on that token). Requires signing
 * (ERR_UNSUPPORTED). Errors as token_open.
 */
int token_open_audit(const struct cfg *c, struct token **out) WARN_UNUSED;
/*
 * A token over software keys (a reference to each is taken), for tests of
 * the serving code without a PKCS#11 module; appliance-server never uses it.
 */
int token_soft(EVP_PKEY *const *privs, size_t n, struct token **out) WARN_UNUSED;
/*
 * The "sha256:<hex>" fingerprint of the public-key object labelled `label`
 * in the token (a trust anchor stored with coffer-hsm import-anchor).
 * ERR_NOT_FOUND if there is none, ERR_INVALID_ARG if several objects carry
 * the label, ERR_UNSUPPORTED for the TPM backend and software tokens.
 * Thread-safe.
 */
int token_anchor(struct token *t, const char *label, char fpr[static PKEY_FPR_TEXT_LEN + 1])
	WARN_UNUSED;
/* Close the keys and the token; NULL is fine. */
void token_close(struct token *t);
/* hsm_key_renew on every key: their next operations reach the token as the
 * user running them (after the privilege drop). Before the workers start. */
void token_renew(struct token *t);
/* How many keys (1..TOKEN_MAX_KEYS); key i below is one of 0..count-1. */
size_t token_count(const struct token *t);
/* The public point (04||X||Y) of key i. */
const uint8_t *token_point(const struct token *t, size_t i);
/* "sha256:<hex>" of key i's public key. */
const char *token_fingerprint(const struct token *t, size_t i);
/* Human description of the token and its keys for the log. */
const char *token_describe(const struct token *t);
/* The hsm_key (struct hsm_key *) of key i for APIs that take one. */
void *token_key(struct token *t, size_t i);
/* ECDH with key i; thread-safe. ERR_FORMAT for a bad point. */
int token_dh(struct token *t, size_t i, const uint8_t peer[static P256_POINT_LEN],
	     uint8_t out[static P256_DH_LEN]) WARN_UNUSED;
/* ECDH in the callback shape of hsm_dh_callback / noise_dh_fn; ctx is
 * token_dh_ctx(t, i) (valid while the token is open). */
void *token_dh_ctx(struct token *t, size_t i);
int token_dh_callback(void *ctx, const uint8_t *peer, uint8_t *out) WARN_UNUSED;
/* DHs done with key i so far (for the log and the tests). Thread-safe. */
unsigned long token_dh_count(struct token *t, size_t i);
/* SHA-256 and ECDSA over data with the token's (first) key, the DER
 * signature appended to sig: the shape of audit_sign_fn (ctx = token).
 * Thread-safe. ERR_HSM / ERR_TPM. */
int token_sign_callback(void *ctx, const uint8_t *data, size_t len, struct buf *sig) WARN_UNUSED;
/*
 * The key to try first on the next Hello: the one that opened the last
 * Hello of a registered client (0 at start). Thread-safe; a race between
 * two Hellos only costs the loser one token DH.
 */
size_t token_preferred(struct token *t);
void token_prefer(struct token *t, size_t i);

#endif
