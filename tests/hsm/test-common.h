// SPDX-License-Identifier: ISC
#ifndef COFFER_TEST_HSM_COMMON_H
#define COFFER_TEST_HSM_COMMON_H

/* Helpers shared by the hsm test programs (header-only, static). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "buf.h"
#include "encoding.h"
#include "hsm.h"
#include "pkey.h"
#include "unit.h"

static inline const char *need_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		fprintf(stderr, "environment variable %s is not set (run through meson test)\n",
			name);
		exit(1);
	}
	return v;
}

static inline int detail_has(const char *needle)
{
	if (strstr(err_detail(), needle) != NULL)
		return 1;
	fprintf(stderr, "  detail \"%s\" lacks \"%s\"\n", err_detail(), needle);
	return 0;
}

/* A P-256 software key from a big-endian private scalar (Wycheproof vectors). */
static inline EVP_PKEY *p256_from_scalar(const uint8_t *d, size_t len)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	BIGNUM *bn = BN_bin2bn(d, (int)len, NULL);
	EC_POINT *pub = g ? EC_POINT_new(g) : NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;
	uint8_t pt[P256_POINT_LEN];

	if (g == NULL || bn == NULL || pub == NULL || bld == NULL ||
	    EC_POINT_mul(g, pub, bn, NULL, NULL, NULL) != 1 ||
	    EC_POINT_point2oct(g, pub, POINT_CONVERSION_UNCOMPRESSED, pt, sizeof(pt), NULL) !=
		    sizeof(pt) ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EC_POINT_free(pub);
	BN_clear_free(bn);
	EC_GROUP_free(g);
	return k;
}

/* ECDH with the hsm key equals OpenSSL's ECDH with a fresh software peer. */
static inline int ecdh_matches_openssl(struct hsm_key *k, int rounds)
{
	EVP_PKEY *pub = NULL, *peer = NULL;
	uint8_t pt[P256_POINT_LEN], a[P256_DH_LEN], b[P256_DH_LEN];
	int i, ok = 1;

	if (hsm_key_public(k, &pub) != 0)
		return 0;
	for (i = 0; i < rounds && ok; i++) {
		if (pkey_generate_p256(&peer) != 0 || pkey_to_point(peer, pt) != 0 ||
		    hsm_key_ecdh(k, pt, sizeof(pt), a) != 0 || pkey_ecdh(peer, pub, b) != 0 ||
		    memcmp(a, b, sizeof(a)) != 0) {
			fprintf(stderr, "  ECDH round %d: %s\n", i, err_detail());
			ok = 0;
		}
		EVP_PKEY_free(peer);
		peer = NULL;
	}
	EVP_PKEY_free(pub);
	return ok;
}

/* hsm_key_sign_data verifies with OpenSSL; a flipped byte does not. */
static inline int sign_verifies(struct hsm_key *k)
{
	static const uint8_t msg[] = "the manifest bytes";
	EVP_PKEY *pub = NULL;
	struct buf *sig = buf_new(0);
	int ok = 0;

	if (sig == NULL || hsm_key_public(k, &pub) != 0)
		goto out;
	if (hsm_key_sign_data(k, msg, sizeof(msg), sig) != 0) {
		fprintf(stderr, "  sign: %s\n", err_detail());
		goto out;
	}
	if (pkey_verify(pub, msg, sizeof(msg), buf_ptr(sig), buf_len(sig)) != 0) {
		fprintf(stderr, "  verify: %s\n", err_detail());
		goto out;
	}
	if (pkey_verify(pub, msg, sizeof(msg) - 1, buf_ptr(sig), buf_len(sig)) == 0) {
		fprintf(stderr, "  a signature over other data verified\n");
		goto out;
	}
	ok = 1;
out:
	EVP_PKEY_free(pub);
	buf_free(sig);
	return ok;
}

#endif
