// SPDX-License-Identifier: ISC
#ifndef COFFER_PKEY_H
#define COFFER_PKEY_H

/*
 * P-256 keys as OpenSSL EVP_PKEYs, in the forms the rest of the code needs:
 * the 65-byte uncompressed point (04||X||Y) used on the wire, DER
 * SubjectPublicKeyInfo, PEM files, identities and fingerprints. Every point
 * taken from outside is validated (on the curve, not infinity, uncompressed
 * form, exact length) before use.
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "encoding.h"
#include "err.h"

#define P256_POINT_LEN 65  /* 04 || X || Y */
#define P256_SCALAR_LEN 32
#define P256_DH_LEN 32     /* ECDH output: the x-coordinate */
#define PKEY_PEM_MAX (16 * 1024)
#define SHA256_LEN 32

struct buf;

/* A public P-256 key from a 65-byte uncompressed point; ERR_FORMAT if the
 * point is not valid (wrong length or prefix, off curve, infinity). */
int pkey_from_point(const uint8_t *pt, size_t len, EVP_PKEY **out) WARN_UNUSED;
/* Is this a valid uncompressed P-256 point? 0 or ERR_FORMAT with a reason. */
int pkey_check_point(const uint8_t *pt, size_t len) WARN_UNUSED;
/* The uncompressed point of a P-256 key (public or private), whatever form
 * the key was read in. ERR_UNSUPPORTED for another key type. */
int pkey_to_point(EVP_PKEY *k, uint8_t pt[static P256_POINT_LEN]) WARN_UNUSED;
/* Is k a P-256 key? */
int pkey_is_p256(EVP_PKEY *k);

/* DER SubjectPublicKeyInfo of k's public part, appended to b. */
int pkey_spki_der(EVP_PKEY *k, struct buf *b) WARN_UNUSED;
/* SHA-256 over the SPKI DER: the client identity / key fingerprint. A P-256
 * key is hashed in its one canonical SPKI (named curve, uncompressed point,
 * as pkey_identity_from_point), so a key read from a compressed or
 * explicit-parameter encoding has the identity its Hello shows. */
int pkey_identity(EVP_PKEY *k, uint8_t id[static IDENTITY_LEN]) WARN_UNUSED;
/* "sha256:<64 lower-case hex>" of the SPKI; out has PKEY_FPR_TEXT_LEN+1. */
#define PKEY_FPR_TEXT_LEN (7 + 64)
int pkey_fingerprint(EVP_PKEY *k, char *out) WARN_UNUSED;

/* Public key from PEM text (SPKI "PUBLIC KEY"), any type OpenSSL knows. */
int pkey_public_from_pem(const uint8_t *pem, size_t len, EVP_PKEY **out) WARN_UNUSED;
/* Load a public key PEM file. ERR_NOT_FOUND, ERR_FORMAT (detail: path). */
int pkey_load_public(const char *path, EVP_PKEY **out) WARN_UNUSED;
/* Private key from PEM text (PKCS#8 or SEC1, unencrypted; encrypted keys are
 * refused, never prompted for): ERR_TOO_LARGE, ERR_CRYPTO naming `what`, and
 * ERR_FORMAT if the public key the file carries is not its private key's. */
int pkey_private_from_pem(const uint8_t *pem, size_t len, const char *what, EVP_PKEY **out)
	WARN_UNUSED;
/* Load a private key PEM file (PKCS#8 or SEC1, unencrypted), refusing a file
 * that group or others can access (ERR_PERMISSION). */
int pkey_load_private(const char *path, EVP_PKEY **out) WARN_UNUSED;
/* PEM text of the public key, appended to b. */
int pkey_public_pem(EVP_PKEY *k, struct buf *b) WARN_UNUSED;
/* Write the public key PEM atomically (mode 0644). */
int pkey_save_public(EVP_PKEY *k, const char *path) WARN_UNUSED;
/* Write the private key as PKCS#8 PEM atomically, mode 0600; refuses to
 * overwrite an existing file (ERR_EXISTS). */
int pkey_save_private(EVP_PKEY *k, const char *path) WARN_UNUSED;

/* A new random P-256 key pair (software). */
int pkey_generate_p256(EVP_PKEY **out) WARN_UNUSED;
/* Software ECDH: x-coordinate of priv * peer. */
int pkey_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t out[static P256_DH_LEN]) WARN_UNUSED;

/*
 * Software ECDH with a peer given as a point: validated (ERR_FORMAT) and
 * derived without OpenSSL's second, redundant validation.
 */
int pkey_ecdh_point(EVP_PKEY *priv, const uint8_t *pt, size_t len,
		    uint8_t out[static P256_DH_LEN]) WARN_UNUSED;
/*
 * The identity (SHA-256 of the DER SPKI) of a P-256 point, without building
 * a key: the same bytes pkey_identity() gives. The point is not validated.
 */
int pkey_identity_from_point(const uint8_t pt[static P256_POINT_LEN],
			     uint8_t id[static IDENTITY_LEN]) WARN_UNUSED;

/* ECDSA signature conversion: raw r||s (2*n bytes) <-> DER. */
int pkey_ecdsa_raw_to_der(const uint8_t *rs, size_t rslen, struct buf *der) WARN_UNUSED;
/* Verify a DER signature over data (SHA-256, or the key type's default). */
int pkey_verify(EVP_PKEY *k, const uint8_t *data, size_t len, const uint8_t *sig,
		size_t siglen) WARN_UNUSED;
/* SHA-256 of data. */
int pkey_sha256(const void *data, size_t len, uint8_t out[static SHA256_LEN]) WARN_UNUSED;

#endif
