// SPDX-License-Identifier: ISC
/*
 * Fuzz the key readers the tools use (seeds: openssl-made P-256, P-384,
 * secp256k1, RSA, Ed25519, X25519 keys, explicit and compressed forms, an
 * encrypted key, a signature by the P-256 seed key). The first byte picks the reader, the
 * rest is its input:
 *   0  a public key PEM (bundle keys, pinned server keys, `coffer-get id
 *      --public`): accepted P-256 keys give the same identity from the point
 *      and from the SPKI, and survive a PEM round trip
 *   1  a private key PEM (client and companion key files), made a software
 *      key as hsm/ does: an accepted key signs what its public half verifies
 *   2  a point as the wire carries it: validation and import agree
 *   3  a DER signature over a fixed message, checked with a fixed key (the
 *      manifest's signature files)
 *   4  raw r||s as a token returns it, converted to DER
 */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "fuzz.h"
#include "hsm.h"
#include "log.h"
#include "pkey.h"

enum keys_case {
	KEYS_PUBLIC = 0,
	KEYS_PRIVATE = 1,
	KEYS_POINT = 2,
	KEYS_SIGNATURE = 3,
	KEYS_RAW_SIG = 4,
};

/* A fixed P-256 public key for case 3 (from the private key seed). */
/* The public half of the private-p256 seed, for case 3. */
static const char verify_pem[] = "-----BEGIN PUBLIC KEY-----\n"
				 "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4f2Yj3LfoEWn2DdqSBD3V3gK9wA/\n"
				 "Y34oQuy3wWMs7MTZYsocGK1uxekc1SIL0/fsUPDIh/RA10uQ5c9ud4TfDQ==\n"
				 "-----END PUBLIC KEY-----\n";
static const uint8_t message[20] = "crypto_manifest.json";

static void public_key(EVP_PKEY *k)
{
	uint8_t id[IDENTITY_LEN], id2[IDENTITY_LEN], pt[P256_POINT_LEN];
	char fpr[PKEY_FPR_TEXT_LEN + 1];
	struct buf *pem = buf_new(0);
	EVP_PKEY *again = NULL;

	FUZZ_ASSERT(pem != NULL);
	if (pkey_identity(k, id) != 0 || pkey_fingerprint(k, fpr) != 0)
		goto out;
	if (pkey_is_p256(k)) {
		FUZZ_ASSERT(pkey_to_point(k, pt) == 0 && pkey_check_point(pt, sizeof(pt)) == 0);
		FUZZ_ASSERT(pkey_identity_from_point(pt, id2) == 0 && memcmp(id, id2, sizeof(id)) == 0);
	}
	if (pkey_public_pem(k, pem) == 0) {
		FUZZ_ASSERT(pkey_public_from_pem(buf_ptr(pem), buf_len(pem), &again) == 0);
		FUZZ_ASSERT(pkey_identity(again, id2) == 0 && memcmp(id, id2, sizeof(id)) == 0);
	}
out:
	EVP_PKEY_free(again);
	buf_free(pem);
}

static void private_key(EVP_PKEY *k)
{
	static const uint8_t digest[32] = {1, 2, 3};
	struct hsm_key *hk = NULL;
	struct buf *sig = buf_new(0);
	EVP_PKEY *pub = NULL;
	uint8_t pt[P256_POINT_LEN], dh[P256_DH_LEN];

	FUZZ_ASSERT(sig != NULL);
	if (hsm_key_from_pkey(k, &hk) != 0)
		goto out;
	FUZZ_ASSERT(hsm_key_public(hk, &pub) == 0);
	public_key(pub);
	if (hsm_key_sign_data(hk, message, sizeof(message), sig) == 0)
		FUZZ_ASSERT(pkey_verify(pub, message, sizeof(message), buf_ptr(sig), buf_len(sig)) ==
			    0);
	if (hsm_key_point(hk, pt) == 0)
		FUZZ_ASSERT(hsm_key_ecdh(hk, pt, sizeof(pt), dh) == 0);
	buf_reset(sig);
	if (hsm_key_sign(hk, digest, sizeof(digest), sig) != 0) {
		/* keys that cannot sign a raw digest are refused, not crashed on */
	}
out:
	EVP_PKEY_free(pub);
	hsm_key_free(hk);
	buf_free(sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *verifier;
	uint8_t id[IDENTITY_LEN], id2[IDENTITY_LEN];
	EVP_PKEY *k = NULL;
	struct buf *der = NULL;

	log_set_level(LOG_LEVEL_ERROR);
	if (verifier == NULL)
		FUZZ_ASSERT(pkey_public_from_pem((const uint8_t *)verify_pem, strlen(verify_pem),
						 &verifier) == 0);
	if (size < 1)
		return 0;
	switch (data[0]) {
	case KEYS_PUBLIC:
		if (pkey_public_from_pem(data + 1, size - 1, &k) == 0)
			public_key(k);
		break;
	case KEYS_PRIVATE:
		if (pkey_private_from_pem(data + 1, size - 1, "fuzz", &k) == 0)
			private_key(k);
		break;
	case KEYS_POINT:
		if (pkey_from_point(data + 1, size - 1, &k) == 0) {
			FUZZ_ASSERT(pkey_check_point(data + 1, size - 1) == 0);
			FUZZ_ASSERT(pkey_identity(k, id) == 0 &&
				    pkey_identity_from_point(data + 1, id2) == 0 &&
				    memcmp(id, id2, sizeof(id)) == 0);
		} else {
			FUZZ_ASSERT(pkey_check_point(data + 1, size - 1) != 0);
		}
		break;
	case KEYS_SIGNATURE:
		if (pkey_verify(verifier, message, sizeof(message), data + 1, size - 1) != 0) {
			/* forged or garbled */
		}
		break;
	case KEYS_RAW_SIG:
		FUZZ_ASSERT((der = buf_new(0)) != NULL);
		if (pkey_ecdsa_raw_to_der(data + 1, size - 1, der) == 0 &&
		    pkey_verify(verifier, message, sizeof(message), buf_ptr(der), buf_len(der)) != 0) {
			/* a well-formed signature that does not verify */
		}
		break;
	}
	EVP_PKEY_free(k);
	buf_free(der);
	return 0;
}
