// SPDX-License-Identifier: ISC
#include "pkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/ec.h>

#include "buf.h"
#include "log.h"
#include "unit.h"

int main(void)
{
	EVP_PKEY *a = NULL, *b = NULL, *apub = NULL, *loaded = NULL;
	uint8_t pa[P256_POINT_LEN], pb[P256_POINT_LEN], s1[32], s2[32];
	uint8_t id1[IDENTITY_LEN], id2[IDENTITY_LEN];
	char fpr[PKEY_FPR_TEXT_LEN + 1], dir[] = "/tmp/coffer-test-pkey.XXXXXX", path[300];
	struct buf *der;

	log_init("test-pkey", LOG_LEVEL_ERROR);
	if (mkdtemp(dir) == NULL)
		return 1;

	TEST_START("generate, point round trip, ECDH agrees");
	ASSERT_INT_EQ(pkey_generate_p256(&a), 0);
	ASSERT_INT_EQ(pkey_generate_p256(&b), 0);
	ASSERT_TRUE(pkey_is_p256(a));
	ASSERT_INT_EQ(pkey_to_point(a, pa), 0);
	ASSERT_INT_EQ(pkey_to_point(b, pb), 0);
	ASSERT_INT_EQ(pa[0], 0x04);
	ASSERT_INT_EQ(pkey_from_point(pa, sizeof(pa), &apub), 0);
	ASSERT_INT_EQ(pkey_ecdh(b, apub, s1), 0);
	{
		EVP_PKEY *bpub = NULL;
		ASSERT_INT_EQ(pkey_from_point(pb, sizeof(pb), &bpub), 0);
		ASSERT_INT_EQ(pkey_ecdh(a, bpub, s2), 0);
		EVP_PKEY_free(bpub);
	}
	ASSERT_MEM_EQ(s1, s2, 32);
	TEST_DONE();

	TEST_START("invalid points are refused");
	{
		uint8_t bad[P256_POINT_LEN];
		EVP_PKEY *k = NULL;
		memcpy(bad, pa, sizeof(bad));
		bad[64] ^= 1; /* off the curve */
		ASSERT_INT_EQ(pkey_from_point(bad, sizeof(bad), &k), ERR_FORMAT);
		ASSERT_PTR_EQ(k, NULL);
		memcpy(bad, pa, sizeof(bad));
		bad[0] = 0x02;
		ASSERT_INT_EQ(pkey_check_point(bad, sizeof(bad)), ERR_FORMAT);
		ASSERT_INT_EQ(pkey_check_point(pa, 64), ERR_FORMAT);
		ASSERT_INT_EQ(pkey_check_point(pa, 33), ERR_FORMAT);
		memset(bad, 0, sizeof(bad));
		bad[0] = 0x04;
		ASSERT_INT_EQ(pkey_check_point(bad, sizeof(bad)), ERR_FORMAT);
		ASSERT_INT_EQ(pkey_check_point((const uint8_t *)"\x00", 1), ERR_FORMAT);
	}
	TEST_DONE();

	TEST_START("identity and fingerprint are SHA-256 of the SPKI");
	ASSERT_INT_EQ(pkey_identity(a, id1), 0);
	ASSERT_INT_EQ(pkey_identity(apub, id2), 0);
	ASSERT_MEM_EQ(id1, id2, IDENTITY_LEN);
	der = buf_new(0);
	ASSERT_INT_EQ(pkey_spki_der(a, der), 0);
	ASSERT_SIZE_EQ(buf_len(der), 91); /* P-256 SPKI */
	ASSERT_INT_EQ(pkey_sha256(buf_ptr(der), buf_len(der), id2), 0);
	ASSERT_MEM_EQ(id1, id2, IDENTITY_LEN);
	buf_free(der);
	ASSERT_INT_EQ(pkey_fingerprint(a, fpr), 0);
	ASSERT_SIZE_EQ(strlen(fpr), PKEY_FPR_TEXT_LEN);
	ASSERT_TRUE(strncmp(fpr, "sha256:", 7) == 0);
	TEST_DONE();

	TEST_START("identity from a point equals the identity of the key");
	{
		int i;
		for (i = 0; i < 20; i++) {
			EVP_PKEY *k = NULL;
			uint8_t pt[P256_POINT_LEN], ia[IDENTITY_LEN], ib[IDENTITY_LEN];
			ASSERT_INT_EQ(pkey_generate_p256(&k), 0);
			ASSERT_INT_EQ(pkey_to_point(k, pt), 0);
			ASSERT_INT_EQ(pkey_identity(k, ia), 0);
			ASSERT_INT_EQ(pkey_identity_from_point(pt, ib), 0);
			ASSERT_MEM_EQ(ia, ib, IDENTITY_LEN);
			EVP_PKEY_free(k);
		}
	}
	TEST_DONE();

	TEST_START("ECDH with a point equals ECDH with a key; bad points refused");
	{
		uint8_t s3[32], bad[P256_POINT_LEN];
		ASSERT_INT_EQ(pkey_ecdh_point(b, pa, sizeof(pa), s3), 0);
		ASSERT_MEM_EQ(s1, s3, 32);
		memcpy(bad, pa, sizeof(bad));
		bad[40] ^= 4;
		ASSERT_INT_EQ(pkey_ecdh_point(b, bad, sizeof(bad), s3), ERR_FORMAT);
		ASSERT_INT_EQ(pkey_ecdh_point(b, pa, 64, s3), ERR_FORMAT);
	}
	TEST_DONE();

	TEST_START("PEM files: private 0600 refused when readable by others");
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	ASSERT_INT_EQ(pkey_save_private(a, path), 0);
	ASSERT_INT_EQ(pkey_save_private(a, path), ERR_EXISTS);
	ASSERT_INT_EQ(pkey_load_private(path, &loaded), 0);
	ASSERT_INT_EQ(pkey_identity(loaded, id2), 0);
	ASSERT_MEM_EQ(id1, id2, IDENTITY_LEN);
	EVP_PKEY_free(loaded);
	loaded = NULL;
	ASSERT_INT_EQ(chmod(path, 0644), 0);
	ASSERT_INT_EQ(pkey_load_private(path, &loaded), ERR_PERMISSION);
	snprintf(path, sizeof(path), "%s/pub.pem", dir);
	ASSERT_INT_EQ(pkey_save_public(a, path), 0);
	ASSERT_INT_EQ(pkey_load_public(path, &loaded), 0);
	ASSERT_INT_EQ(pkey_identity(loaded, id2), 0);
	ASSERT_MEM_EQ(id1, id2, IDENTITY_LEN);
	EVP_PKEY_free(loaded);
	loaded = NULL;
	ASSERT_INT_EQ(pkey_public_from_pem((const uint8_t *)"garbage", 7, &loaded), ERR_CRYPTO);
	TEST_DONE();

	TEST_START("raw r||s to DER verifies; a changed message does not");
	{
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		uint8_t sig[80], raw[64];
		size_t siglen = sizeof(sig);
		const unsigned char *p = sig;
		ECDSA_SIG *es;
		const BIGNUM *r, *s;
		struct buf *d = buf_new(0);

		ASSERT_INT_EQ(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, a), 1);
		ASSERT_INT_EQ(EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)"msg", 3), 1);
		es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
		ECDSA_SIG_get0(es, &r, &s);
		BN_bn2binpad(r, raw, 32);
		BN_bn2binpad(s, raw + 32, 32);
		ECDSA_SIG_free(es);
		ASSERT_INT_EQ(pkey_ecdsa_raw_to_der(raw, 64, d), 0);
		ASSERT_INT_EQ(pkey_verify(apub, (const uint8_t *)"msg", 3, buf_ptr(d), buf_len(d)), 0);
		ASSERT_INT_EQ(pkey_verify(apub, (const uint8_t *)"msh", 3, buf_ptr(d), buf_len(d)),
			      ERR_AUTH);
		ASSERT_INT_EQ(pkey_ecdsa_raw_to_der(raw, 63, d), ERR_FORMAT);
		buf_free(d);
		EVP_MD_CTX_free(ctx);
	}
	TEST_DONE();

	TEST_START("one P-256 key, one identity: compressed and explicit encodings too");
	{
		/* Found by the keys fuzz target: the fingerprint followed the encoding. */
		static const char *const forms[][2] = {
			{OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"},
			{OSSL_PKEY_PARAM_EC_ENCODING, OSSL_PKEY_EC_ENCODING_EXPLICIT},
		};
		size_t i;

		ASSERT_INT_EQ(pkey_identity(a, id1), 0);
		for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
			EVP_PKEY *dup = EVP_PKEY_dup(a), *back = NULL;
			struct buf *pem = buf_new(0);
			uint8_t pt[P256_POINT_LEN];

			ASSERT_INT_EQ(EVP_PKEY_set_utf8_string_param(dup, forms[i][0], forms[i][1]), 1);
			ASSERT_INT_EQ(pkey_public_pem(dup, pem), 0);
			ASSERT_INT_EQ(pkey_public_from_pem(buf_ptr(pem), buf_len(pem), &back), 0);
			ASSERT_INT_EQ(pkey_identity(back, id2), 0);
			ASSERT_MEM_EQ(id1, id2, IDENTITY_LEN);
			ASSERT_INT_EQ(pkey_to_point(back, pt), 0);
			ASSERT_MEM_EQ(pt, pa, P256_POINT_LEN);
			EVP_PKEY_free(back);
			EVP_PKEY_free(dup);
			buf_free(pem);
		}
	}
	TEST_DONE();

	TEST_START("a private key file carrying another key's public key is refused");
	{
		/* Found by the keys fuzz target: one flipped bit in the stored point. */
		OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		EVP_PKEY *mixed = NULL;
		OSSL_PARAM *params;
		BIGNUM *priv = NULL;
		FILE *f;

		ASSERT_INT_EQ(EVP_PKEY_get_bn_param(a, OSSL_PKEY_PARAM_PRIV_KEY, &priv), 1);
		ASSERT_INT_EQ(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
							      "prime256v1", 0), 1);
		ASSERT_INT_EQ(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv), 1);
		ASSERT_INT_EQ(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pb,
							       sizeof(pb)), 1);
		ASSERT_TRUE((params = OSSL_PARAM_BLD_to_param(bld)) != NULL);
		ASSERT_INT_EQ(EVP_PKEY_fromdata_init(ctx), 1);
		ASSERT_INT_EQ(EVP_PKEY_fromdata(ctx, &mixed, EVP_PKEY_KEYPAIR, params), 1);
		snprintf(path, sizeof(path), "%s/mixed.pem", dir);
		ASSERT_TRUE((f = fopen(path, "w")) != NULL);
		ASSERT_INT_EQ(PEM_write_PrivateKey(f, mixed, NULL, NULL, 0, NULL, NULL), 1);
		fclose(f);
		ASSERT_INT_EQ(chmod(path, 0600), 0);
		ASSERT_INT_EQ(pkey_load_private(path, &loaded), ERR_FORMAT);
		ASSERT_TRUE(loaded == NULL);
		OSSL_PARAM_free(params);
		OSSL_PARAM_BLD_free(bld);
		EVP_PKEY_CTX_free(ctx);
		EVP_PKEY_free(mixed);
		BN_free(priv);
	}
	TEST_DONE();

	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(apub);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return unit_finish("common/pkey");
}
