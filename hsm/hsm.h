// SPDX-License-Identifier: ISC
#ifndef COFFER_HSM_H
#define COFFER_HSM_H

/*
 * One key interface over three backends:
 *   - PKCS#11 tokens (HSMs, smart cards, SoftHSM2), keys named by RFC 7512
 *     URIs ("pkcs11:token=appliance;object=server") or by a bare label;
 *   - TPM 2.0 through tpm2-tss ESYS, keys stored as wrapped blob files;
 *   - software keys from PEM files (clients, companions), so that callers
 *     need no second code path.
 * Private keys never leave a token. The API is narrow on purpose (public key,
 * ECDH, sign, generate, import a public key, list) so that it can move behind
 * a socketpair into its own process.
 *
 * Thread safety: hsm_key_ecdh() and hsm_key_sign() may be called on one key
 * from many threads at once (the PKCS#11 backend keeps one logged-in session
 * per thread; the TPM backend serialises on its connection). Opening,
 * generating and closing are not concurrent with anything else.
 *
 * Errors: ERR_HSM / ERR_TPM with err_detail() naming the operation, the key
 * and the CKR / TSS2 code; ERR_FORMAT for a bad peer point (checked before
 * the token sees it); ERR_NOT_FOUND for a missing token or key;
 * ERR_AUTH for a wrong PIN; ERR_UNSUPPORTED for a missing mechanism;
 * ERR_PERMISSION for a PIN file others can read.
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"
#include "pkey.h"

struct buf;
struct hsm;
struct hsm_key;

enum hsm_backend {
	HSM_BACKEND_PKCS11 = 1,
	HSM_BACKEND_TPM2 = 2,
	HSM_BACKEND_SOFT = 3,
};

/* Mechanisms a caller needs from a token (checked at hsm_open). */
enum hsm_need {
	HSM_NEED_ECDH = 1U << 0,   /* CKM_ECDH1_DERIVE / TPM2_ECDH_ZGen */
	HSM_NEED_SIGN = 1U << 1,   /* CKM_ECDSA / TPM2_Sign */
	HSM_NEED_KEYGEN = 1U << 2, /* CKM_EC_KEY_PAIR_GEN / TPM2_Create */
};

/* What a generated key may do. */
enum hsm_usage {
	HSM_USAGE_DERIVE = 1U << 0,
	HSM_USAGE_SIGN = 1U << 1,
};

struct hsm_config {
	enum hsm_backend backend;
	/* PKCS#11 */
	const char *module;     /* path of the PKCS#11 module (required) */
	const char *token;      /* "pkcs11:token=..." URI or a bare token label; NULL: the only token */
	const char *pin_source; /* see hsm_pin_read(); NULL: pin-source/pin-value of the URI, or no login */
	/* TPM 2.0 */
	const char *tcti;       /* "device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=N"; NULL: default */
	int tpm_plain_session;  /* 1: password auth only (fast); 0 (default): salted, encrypting session */
	unsigned need;          /* enum hsm_need: refuse at open if missing */
};

/* Open a token (or the TPM, or the software backend). *out freed with hsm_close. */
int hsm_open(const struct hsm_config *cfg, struct hsm **out) WARN_UNUSED;
/* Log out, close sessions, finalise; NULL is fine. Keys must be freed first. */
void hsm_close(struct hsm *h);
/* "PKCS#11 token 'appliance' (SoftHSM slot 0x..)", "TPM swtpm:...", "software". */
const char *hsm_describe(const struct hsm *h);
/* Which of `need` (enum hsm_need) the token lacks; 0 if none. */
unsigned hsm_missing(const struct hsm *h, unsigned need);

/*
 * Open a private key by name: PKCS#11 URI with object= and/or id=, or a bare
 * label (PKCS#11); a key blob file path (TPM); a PEM file path (software).
 */
int hsm_key_open(struct hsm *h, const char *name, struct hsm_key **out) WARN_UNUSED;
/* Software key from a PEM file without an hsm handle (clients, companions). */
int hsm_key_load_pem(const char *path, struct hsm_key **out) WARN_UNUSED;
/* Software key from an EVP_PKEY (a reference is taken). */
int hsm_key_from_pkey(EVP_PKEY *priv, struct hsm_key **out) WARN_UNUSED;
void hsm_key_free(struct hsm_key *k);
/* Name of the key for messages ("pkcs11:token=a;object=server", a path). */
const char *hsm_key_name(const struct hsm_key *k);

/* The public key (new reference; free with EVP_PKEY_free). */
int hsm_key_public(struct hsm_key *k, EVP_PKEY **out) WARN_UNUSED;
/* The 65-byte uncompressed public point. */
int hsm_key_point(struct hsm_key *k, uint8_t pt[static P256_POINT_LEN]) WARN_UNUSED;

/*
 * ECDH inside the token: x-coordinate of (private key * peer point). The peer
 * point is validated first (ERR_FORMAT: not on the curve, infinity, wrong
 * length or form). Thread-safe.
 */
int hsm_key_ecdh(struct hsm_key *k, const uint8_t *peer, size_t peer_len,
		 uint8_t out[static P256_DH_LEN]) WARN_UNUSED;
/* Callback form for protocol/: ctx is a struct hsm_key *. */
int hsm_dh_callback(void *ctx, const uint8_t peer[static P256_POINT_LEN],
		    uint8_t out[static P256_DH_LEN]) WARN_UNUSED;

/*
 * ECDSA over a SHA-256 digest (SHA-384 for P-384 keys) inside the token; DER
 * signature appended to sig. Thread-safe.
 */
int hsm_key_sign(struct hsm_key *k, const uint8_t *digest, size_t digest_len, struct buf *sig)
	WARN_UNUSED;
/* Hash data with the key's digest and sign it: what `provision-master sign` does. */
int hsm_key_sign_data(struct hsm_key *k, const uint8_t *data, size_t len, struct buf *sig)
	WARN_UNUSED;

/*
 * Generate a P-256 key pair in the token: sensitive, not extractable, with
 * the given label (PKCS#11) and usage (enum hsm_usage). For the TPM, the
 * wrapped blob is written to blob_path (mode 0600, never overwritten).
 * ERR_EXISTS if a key with that label already exists.
 */
int hsm_generate(struct hsm *h, const char *label, unsigned usage, const char *blob_path,
		 struct hsm_key **out) WARN_UNUSED;

/* Store a public key in the token as a CKO_PUBLIC_KEY object (trust anchor). */
int hsm_import_public(struct hsm *h, const char *label, EVP_PKEY *pub) WARN_UNUSED;
/* Read back a public-key object by label (trust anchor). */
int hsm_find_public(struct hsm *h, const char *label, EVP_PKEY **out) WARN_UNUSED;

struct hsm_key_info {
	const char *label;
	const char *id_hex;  /* CKA_ID in hex ("" if none) */
	int is_private;      /* private key (else a public-key object) */
	int key_bits;        /* 256 for P-256 */
};
/* Call fn for each key object in the token; stops at the first non-zero return. */
int hsm_list(struct hsm *h, int (*fn)(const struct hsm_key_info *, void *), void *arg)
	WARN_UNUSED;

/*
 * PIN sources, never argv:
 *   file:PATH         first line of PATH (refused if group/world accessible)
 *   env:NAME          the variable NAME (unset from the environment after)
 *   prompt            asked on the controlling tty without echo
 *   tpm2-sealed:PATH  unsealed from a TPM blob made by hsm_tpm_seal()
 * *pin is NUL-terminated, in secure memory: free with secmem_free().
 */
int hsm_pin_read(const char *source, const char *tcti, char **pin) WARN_UNUSED;

/*
 * Seal a small secret (a PIN) to the TPM at tcti, optionally under a PolicyPCR
 * over `pcrs` ("sha256:16" or "sha256:0,7,16"; NULL: no policy), into blob_path
 * (mode 0600, atomic). Unseal gives the secret back in secure memory.
 */
int hsm_tpm_seal(const char *tcti, const uint8_t *secret, size_t len, const char *pcrs,
		 const char *blob_path) WARN_UNUSED;
int hsm_tpm_unseal(const char *tcti, const char *blob_path, uint8_t **secret, size_t *len)
	WARN_UNUSED;

#endif
