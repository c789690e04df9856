// SPDX-License-Identifier: ISC
/*
 * Primitive glue against Wycheproof: P-256 point decoding + ECDH
 * (ecdh_secp256r1_ecpoint_test.json: valid accepted with the right secret,
 * invalid refused; compressed points are refused by design), AES-256-GCM with
 * 96-bit IVs and 128-bit tags, HKDF-SHA256.
 */
#include "noise.h"

#include "pkey.h"
#include "testutil.h"
#include "unit.h"

#define WP "wycheproof/testvectors_v1/"

static void test_ecdh(void)
{
	json_t *j = tu_load(WP "ecdh_secp256r1_ecpoint_test.json"), *g, *t;
	size_t gi, ti, n = 0, valid = 0, refused = 0;

	TEST_START("wycheproof ecdh_secp256r1_ecpoint");
	json_array_foreach(json_object_get(j, "testGroups"), gi, g) {
		json_array_foreach(json_object_get(g, "tests"), ti, t) {
			const char *res = json_string_value(json_object_get(t, "result"));
			size_t publen, privlen, shlen;
			uint8_t *pub = tu_hex(t, "public", &publen), *priv = tu_hex(t, "private", &privlen),
				*sh = tu_hex(t, "shared", &shlen), out[32];
			struct noise_key k;
			int r = noise_check_pub(NOISE_DH_P256, pub ? pub : (const uint8_t *)"", publen);

			memset(&k, 0, sizeof(k));
			n++;
			if (strcmp(res, "valid") == 0) {
				if (r != 0)
					UNIT_FAIL("tcId %lld refused: %s",
						  json_integer_value(json_object_get(t, "tcId")),
						  err_detail());
				else if (noise_key_from_private(&k, NOISE_DH_P256, priv, privlen) != 0 ||
					 k.fn(k.ctx, pub, out) != 0 || shlen != 32 ||
					 memcmp(out, sh, 32) != 0)
					UNIT_FAIL("tcId %lld: wrong shared secret",
						  json_integer_value(json_object_get(t, "tcId")));
				else
					valid++;
			} else if (r == 0) {
				UNIT_FAIL("tcId %lld (%s) accepted",
					  json_integer_value(json_object_get(t, "tcId")), res);
			} else {
				refused++;
			}
			noise_key_clear(&k);
			free(pub);
			free(priv);
			free(sh);
		}
	}
	printf("ecdh ecpoint: %zu tests, %zu valid agreed, %zu refused\n", n, valid, refused);
	ASSERT_TRUE(valid > 300 && refused >= 20);
	json_decref(j);
	TEST_DONE();
}

static void test_gcm(void)
{
	json_t *j = tu_load(WP "aes_gcm_test.json"), *g, *t;
	size_t gi, ti, n = 0;

	TEST_START("wycheproof aes_gcm (256-bit key, 96-bit IV, 128-bit tag)");
	json_array_foreach(json_object_get(j, "testGroups"), gi, g) {
		if (json_integer_value(json_object_get(g, "keySize")) != 256 ||
		    json_integer_value(json_object_get(g, "ivSize")) != 96 ||
		    json_integer_value(json_object_get(g, "tagSize")) != 128)
			continue;
		json_array_foreach(json_object_get(g, "tests"), ti, t) {
			const char *res = json_string_value(json_object_get(t, "result"));
			size_t kl, il, al, ml, cl, tl;
			uint8_t *key = tu_hex(t, "key", &kl), *iv = tu_hex(t, "iv", &il),
				*aad = tu_hex(t, "aad", &al), *msg = tu_hex(t, "msg", &ml),
				*ct = tu_hex(t, "ct", &cl), *tag = tu_hex(t, "tag", &tl);
			uint8_t *in = malloc(cl + tl + 1), *out = malloc(ml + tl + 1);
			int r;

			memcpy(in, ct, cl);
			memcpy(in + cl, tag, tl);
			r = noise_aead_open(NOISE_CIPHER_AESGCM, key, iv, aad, al, in, cl + tl, out);
			if (strcmp(res, "valid") == 0) {
				if (r != 0 || memcmp(out, msg, ml) != 0)
					UNIT_FAIL("tcId %lld open", json_integer_value(json_object_get(t, "tcId")));
				r = noise_aead_seal(NOISE_CIPHER_AESGCM, key, iv, aad, al, msg, ml, out);
				if (r != 0 || memcmp(out, in, cl + tl) != 0)
					UNIT_FAIL("tcId %lld seal", json_integer_value(json_object_get(t, "tcId")));
			} else if (r == 0) {
				UNIT_FAIL("tcId %lld invalid accepted", json_integer_value(json_object_get(t, "tcId")));
			}
			n++;
			free(key); free(iv); free(aad); free(msg); free(ct); free(tag); free(in); free(out);
		}
	}
	printf("aes-gcm: %zu tests\n", n);
	ASSERT_TRUE(n > 30);
	json_decref(j);
	TEST_DONE();
}

static void test_hkdf(void)
{
	json_t *j = tu_load(WP "hkdf_sha256_test.json"), *g, *t;
	size_t gi, ti, n = 0;

	TEST_START("wycheproof hkdf_sha256");
	json_array_foreach(json_object_get(j, "testGroups"), gi, g) {
		json_array_foreach(json_object_get(g, "tests"), ti, t) {
			const char *res = json_string_value(json_object_get(t, "result"));
			size_t il, sl, fl, ol, size = (size_t)json_integer_value(json_object_get(t, "size"));
			uint8_t *ikm = tu_hex(t, "ikm", &il), *salt = tu_hex(t, "salt", &sl),
				*info = tu_hex(t, "info", &fl), *okm = tu_hex(t, "okm", &ol);
			uint8_t *out = malloc(size + 1);
			int r = noise_hkdf(NOISE_HASH_SHA256, salt, sl, ikm, il, info, fl, out, size);

			if (strcmp(res, "valid") == 0) {
				if (r != 0 || ol != size || memcmp(out, okm, size) != 0)
					UNIT_FAIL("tcId %lld", json_integer_value(json_object_get(t, "tcId")));
			} else if (r == 0) {
				UNIT_FAIL("tcId %lld invalid accepted", json_integer_value(json_object_get(t, "tcId")));
			}
			n++;
			free(ikm); free(salt); free(info); free(okm); free(out);
		}
	}
	printf("hkdf: %zu tests\n", n);
	ASSERT_TRUE(n > 50);
	json_decref(j);
	TEST_DONE();
}

int main(void)
{
	test_ecdh();
	test_gcm();
	test_hkdf();
	return unit_finish("protocol/wycheproof");
}
