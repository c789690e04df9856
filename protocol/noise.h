// SPDX-License-Identifier: ISC
#ifndef COFFER_NOISE_H
#define COFFER_NOISE_H

/*
 * The Noise Protocol Framework (revision 34), written once and generic over
 *   DH:     P-256 (32-byte x-coordinate; 65-byte uncompressed SEC1 public
 *           keys, validated before any DH) and X25519;
 *   cipher: AES-256-GCM and ChaCha20-Poly1305;
 *   hash:   SHA-256, SHA-512, BLAKE2s, BLAKE2b (HKDF over HMAC as the spec).
 * Patterns: N, K, X, NN, NK, KK, XK, IK, XX (no PSKs).
 * Every primitive is OpenSSL EVP. Keys, chaining keys and DH outputs are
 * wiped after use.
 *
 * Local key pairs are a public key plus a DH callback, so a private key may
 * live in a token: noise_dh_fn has the shape of hsm_dh_callback(). For
 * software keys, noise_pkey_dh() wraps an EVP_PKEY.
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"

struct buf;

#define NOISE_MAX_DH_LEN 32
#define NOISE_MAX_PUB_LEN 65
#define NOISE_MAX_HASH_LEN 64
#define NOISE_KEY_LEN 32
#define NOISE_TAG_LEN 16
#define NOISE_MAX_MSG 65535
#define NOISE_MAX_NAME 64

enum noise_dh {
	NOISE_DH_25519 = 1,
	NOISE_DH_P256 = 2,
};

enum noise_cipher {
	NOISE_CIPHER_AESGCM = 1,
	NOISE_CIPHER_CHACHAPOLY = 2,
};

enum noise_hash {
	NOISE_HASH_SHA256 = 1,
	NOISE_HASH_SHA512 = 2,
	NOISE_HASH_BLAKE2S = 3,
	NOISE_HASH_BLAKE2B = 4,
};

enum noise_pattern {
	NOISE_PATTERN_N = 1,
	NOISE_PATTERN_K,
	NOISE_PATTERN_X,
	NOISE_PATTERN_NN,
	NOISE_PATTERN_NK,
	NOISE_PATTERN_KK,
	NOISE_PATTERN_XK,
	NOISE_PATTERN_IK,
	NOISE_PATTERN_XX,
};

/* Message tokens. */
enum noise_token {
	NOISE_TOK_END = 0,
	NOISE_TOK_E,
	NOISE_TOK_S,
	NOISE_TOK_EE,
	NOISE_TOK_ES,
	NOISE_TOK_SE,
	NOISE_TOK_SS,
};

/* A protocol: "Noise_IK_P256_AESGCM_SHA256". */
struct noise_proto {
	enum noise_pattern pattern;
	enum noise_dh dh;
	enum noise_cipher cipher;
	enum noise_hash hash;
};

/* Parse a protocol name. ERR_UNSUPPORTED names the part we lack. */
int noise_proto_parse(const char *name, struct noise_proto *p) WARN_UNUSED;
/* Write the name into out (NOISE_MAX_NAME bytes). */
void noise_proto_name(const struct noise_proto *p, char out[static NOISE_MAX_NAME]);

/* Sizes for a DH function: public key (65 / 32) and DH output (32). */
size_t noise_dh_pub_len(enum noise_dh dh);
size_t noise_hash_len(enum noise_hash h);

/*
 * A DH with a local private key: out = DH(private, peer). peer has
 * noise_dh_pub_len() bytes (already validated), out gets 32 bytes.
 * Returns 0 or a negative ERR_* with err_set() detail.
 */
typedef int (*noise_dh_fn)(void *ctx, const uint8_t *peer, uint8_t *out);

/*
 * DH callback over a software key: ctx is an EVP_PKEY * holding a private
 * P-256 or X25519 key. For P-256 the peer is a 65-byte point (validated
 * again), for X25519 32 bytes.
 */
int noise_pkey_dh(void *ctx, const uint8_t *peer, uint8_t *out) WARN_UNUSED;

/* A local key pair: public key and how to do DH with its private half. */
struct noise_key {
	enum noise_dh dh;
	uint8_t pub[NOISE_MAX_PUB_LEN];
	noise_dh_fn fn;
	void *ctx;
	EVP_PKEY *owned; /* freed by noise_key_clear if set */
};

/* A key pair over an EVP_PKEY (a reference is taken): fn = noise_pkey_dh. */
int noise_key_from_pkey(struct noise_key *k, EVP_PKEY *priv) WARN_UNUSED;
/* A key pair from raw private bytes (32; P-256 scalar or X25519). */
int noise_key_from_private(struct noise_key *k, enum noise_dh dh, const uint8_t *priv,
			   size_t len) WARN_UNUSED;
/* A fresh random key pair. */
int noise_key_generate(struct noise_key *k, enum noise_dh dh) WARN_UNUSED;
/* A key pair whose private half is behind a callback. pub is checked. */
int noise_key_from_callback(struct noise_key *k, enum noise_dh dh, const uint8_t *pub,
			    noise_dh_fn fn, void *ctx) WARN_UNUSED;
/* Drop the reference and wipe; safe on a zeroed or cleared key. */
void noise_key_clear(struct noise_key *k);

/*
 * Validate a peer public key for this DH: for P-256 a 65-byte uncompressed
 * point on the curve (pkey_check_point); for X25519 32 bytes.
 */
int noise_check_pub(enum noise_dh dh, const uint8_t *pub, size_t len) WARN_UNUSED;

/* --- Primitive glue (exported for the conformance tests). --- */

/*
 * AEAD with an explicit 12-byte nonce: seal writes len bytes of ciphertext
 * followed by the 16-byte tag into out (len + 16 bytes); open takes
 * ciphertext||tag (len >= 16) and writes len - 16 bytes. ERR_AUTH on a bad
 * tag (out wiped).
 */
int noise_aead_seal(enum noise_cipher c, const uint8_t key[static NOISE_KEY_LEN],
		    const uint8_t nonce[static 12], const uint8_t *ad, size_t adlen,
		    const uint8_t *in, size_t len, uint8_t *out) WARN_UNUSED;
int noise_aead_open(enum noise_cipher c, const uint8_t key[static NOISE_KEY_LEN],
		    const uint8_t nonce[static 12], const uint8_t *ad, size_t adlen,
		    const uint8_t *in, size_t len, uint8_t *out) WARN_UNUSED;
/* RFC 5869 HKDF over HMAC with the given hash; outlen <= 255 * hashlen. */
int noise_hkdf(enum noise_hash h, const uint8_t *salt, size_t saltlen, const uint8_t *ikm,
	       size_t ikmlen, const uint8_t *info, size_t infolen, uint8_t *out,
	       size_t outlen) WARN_UNUSED;

/* --- CipherState --- */
struct noise_cipher_state {
	enum noise_cipher cipher;
	int has_key;
	uint8_t k[NOISE_KEY_LEN];
	uint64_t n;
};

void noise_cs_init(struct noise_cipher_state *cs, enum noise_cipher c,
		   const uint8_t *key /* NULL: no key */);
/* Wipe. */
void noise_cs_clear(struct noise_cipher_state *cs);
/*
 * EncryptWithAd: appends len (+16 if keyed) bytes to out. ERR_TOO_LARGE past
 * nonce 2^64-2 or beyond NOISE_MAX_MSG.
 */
int noise_cs_encrypt(struct noise_cipher_state *cs, const uint8_t *ad, size_t adlen,
		     const uint8_t *in, size_t len, struct buf *out) WARN_UNUSED;
/*
 * DecryptWithAd: appends the plaintext to out. ERR_AUTH on a bad tag (the
 * nonce is not advanced, nothing appended).
 */
int noise_cs_decrypt(struct noise_cipher_state *cs, const uint8_t *ad, size_t adlen,
		     const uint8_t *in, size_t len, struct buf *out) WARN_UNUSED;
/* Rekey() of the spec. */
int noise_cs_rekey(struct noise_cipher_state *cs) WARN_UNUSED;

/* --- HandshakeState (with its SymmetricState) --- */
struct noise_hs;

/*
 * Initialize(): s is the local static (NULL if the pattern has none; the
 * struct is copied and takes its own reference), rs the peer's static public
 * key when known in advance (NULL otherwise; validated). The prologue is
 * mixed in. Pre-message keys of the pattern must be given.
 */
int noise_hs_new(const struct noise_proto *p, int initiator, const uint8_t *prologue,
		 size_t prologue_len, const struct noise_key *s, const uint8_t *rs,
		 struct noise_hs **out) WARN_UNUSED;
/* Wipes and frees; NULL is fine. */
void noise_hs_free(struct noise_hs *hs);
/*
 * Test hook: use this ephemeral private key instead of a random one (for
 * deterministic vectors). Must be called before the `e` token is written.
 */
int noise_hs_set_ephemeral(struct noise_hs *hs, const uint8_t *priv, size_t len) WARN_UNUSED;

/* WriteMessage(): appends the message to out. */
int noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t len, struct buf *out)
	WARN_UNUSED;
/*
 * ReadMessage() in steps, so a responder can learn the initiator's static
 * key (after `s`), look it up, and then supply a cached DH result for the
 * next DH token instead of calling the callback:
 *   noise_hs_read_begin(msg) -> noise_hs_read_until(NOISE_TOK_SS) ->
 *   noise_hs_remote_static() -> noise_hs_supply_dh(cached) ->
 *   noise_hs_read_finish(payload).
 * noise_hs_read() does it in one go. The message bytes must stay valid until
 * read_finish. On any error the handshake is dead.
 */
int noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len, struct buf *payload)
	WARN_UNUSED;
int noise_hs_read_begin(struct noise_hs *hs, const uint8_t *msg, size_t len) WARN_UNUSED;
/* Process tokens until the next one is `stop` (or the message's end). */
int noise_hs_read_until(struct noise_hs *hs, enum noise_token stop) WARN_UNUSED;
/* Use these 32 bytes as the next DH token's output (wiped from hs after). */
int noise_hs_supply_dh(struct noise_hs *hs, const uint8_t *dh, size_t len) WARN_UNUSED;
/* The rest of the tokens, then DecryptAndHash(payload) appended to payload. */
int noise_hs_read_finish(struct noise_hs *hs, struct buf *payload) WARN_UNUSED;

/* The peer's static public key once known, else NULL. */
const uint8_t *noise_hs_remote_static(const struct noise_hs *hs);
/* The peer's ephemeral public key once known, else NULL. */
const uint8_t *noise_hs_remote_ephemeral(const struct noise_hs *hs);
/* 1 when every message pattern has been processed. */
int noise_hs_done(const struct noise_hs *hs);
/* 1 if it is our turn to write. */
int noise_hs_my_turn(const struct noise_hs *hs);
/* The handshake hash h (valid any time; final after the last message). */
const uint8_t *noise_hs_hash(const struct noise_hs *hs, size_t *len);
/*
 * Split(): once done, the two CipherStates: c1 protects initiator->responder,
 * c2 responder->initiator. The handshake's chaining key is wiped.
 */
int noise_hs_split(struct noise_hs *hs, struct noise_cipher_state *c1,
		   struct noise_cipher_state *c2) WARN_UNUSED;

#endif
