// SPDX-License-Identifier: ISC
#include "noise.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "buf.h"
#include "log.h"
#include "pkey.h"
#include "secmem.h"

/* ------------------------------------------------------------------ names */

struct pattern {
	const char *name;
	int pre_i_s;  /* -> s pre-message */
	int pre_r_s;  /* <- s pre-message */
	size_t nmsgs;
	enum noise_token msgs[3][7];
};

#define T(x) NOISE_TOK_##x
static const struct pattern patterns[] = {
	[NOISE_PATTERN_N] = {"N", 0, 1, 1, {{T(E), T(ES)}}},
	[NOISE_PATTERN_K] = {"K", 1, 1, 1, {{T(E), T(ES), T(SS)}}},
	[NOISE_PATTERN_X] = {"X", 0, 1, 1, {{T(E), T(ES), T(S), T(SS)}}},
	[NOISE_PATTERN_NN] = {"NN", 0, 0, 2, {{T(E)}, {T(E), T(EE)}}},
	[NOISE_PATTERN_NK] = {"NK", 0, 1, 2, {{T(E), T(ES)}, {T(E), T(EE)}}},
	[NOISE_PATTERN_KK] = {"KK", 1, 1, 2, {{T(E), T(ES), T(SS)}, {T(E), T(EE), T(SE)}}},
	[NOISE_PATTERN_XK] = {"XK", 0, 1, 3, {{T(E), T(ES)}, {T(E), T(EE)}, {T(S), T(SE)}}},
	[NOISE_PATTERN_IK] = {"IK", 0, 1, 2, {{T(E), T(ES), T(S), T(SS)}, {T(E), T(EE), T(SE)}}},
	[NOISE_PATTERN_XX] = {"XX", 0, 0, 3, {{T(E)}, {T(E), T(EE), T(S), T(ES)}, {T(S), T(SE)}}},
};
#undef T
#define NPATTERNS (sizeof(patterns) / sizeof(patterns[0]))

static const char *dh_names[] = {[NOISE_DH_25519] = "25519", [NOISE_DH_P256] = "P256"};
static const char *cipher_names[] = {[NOISE_CIPHER_AESGCM] = "AESGCM",
				     [NOISE_CIPHER_CHACHAPOLY] = "ChaChaPoly"};
static const char *hash_names[] = {[NOISE_HASH_SHA256] = "SHA256",
				   [NOISE_HASH_SHA512] = "SHA512",
				   [NOISE_HASH_BLAKE2S] = "BLAKE2s",
				   [NOISE_HASH_BLAKE2B] = "BLAKE2b"};
static const char *hash_ossl[] = {[NOISE_HASH_SHA256] = "SHA256",
				  [NOISE_HASH_SHA512] = "SHA512",
				  [NOISE_HASH_BLAKE2S] = "BLAKE2S-256",
				  [NOISE_HASH_BLAKE2B] = "BLAKE2B-512"};

static int lookup(const char **names, size_t n, const char *s, size_t len)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (names[i] != NULL && strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return (int)i;
	return 0;
}

int noise_proto_parse(const char *name, struct noise_proto *p)
{
	const char *part[5], *end;
	size_t len[5], i;
	int v;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < 5; i++) {
		part[i] = name;
		end = strchr(name, '_');
		if (i == 4) {
			if (end != NULL)
				return err_set(ERR_UNSUPPORTED, "protocol name has too many parts");
			len[i] = strlen(name);
			break;
		}
		if (end == NULL)
			return err_set(ERR_FORMAT, "protocol name has too few parts");
		len[i] = (size_t)(end - name);
		name = end + 1;
	}
	if (len[0] != 5 || memcmp(part[0], "Noise", 5) != 0)
		return err_set(ERR_FORMAT, "not a Noise protocol name");
	for (i = 1; i < NPATTERNS; i++)
		if (strlen(patterns[i].name) == len[1] && memcmp(patterns[i].name, part[1], len[1]) == 0)
			p->pattern = (enum noise_pattern)i;
	if (p->pattern == 0)
		return err_set(ERR_UNSUPPORTED, "pattern %.*s", (int)len[1], part[1]);
	if ((v = lookup(dh_names, 3, part[2], len[2])) == 0)
		return err_set(ERR_UNSUPPORTED, "DH %.*s", (int)len[2], part[2]);
	p->dh = (enum noise_dh)v;
	if ((v = lookup(cipher_names, 3, part[3], len[3])) == 0)
		return err_set(ERR_UNSUPPORTED, "cipher %.*s", (int)len[3], part[3]);
	p->cipher = (enum noise_cipher)v;
	if ((v = lookup(hash_names, 5, part[4], len[4])) == 0)
		return err_set(ERR_UNSUPPORTED, "hash %.*s", (int)len[4], part[4]);
	p->hash = (enum noise_hash)v;
	return 0;
}

void noise_proto_name(const struct noise_proto *p, char out[static NOISE_MAX_NAME])
{
	snprintf(out, NOISE_MAX_NAME, "Noise_%s_%s_%s_%s", patterns[p->pattern].name,
		 dh_names[p->dh], cipher_names[p->cipher], hash_names[p->hash]);
}

size_t noise_dh_pub_len(enum noise_dh dh)
{
	return dh == NOISE_DH_P256 ? P256_POINT_LEN : 32;
}

size_t noise_hash_len(enum noise_hash h)
{
	return h == NOISE_HASH_SHA256 || h == NOISE_HASH_BLAKE2S ? 32 : 64;
}

/* ------------------------------------------------------------------ keys */

int noise_check_pub(enum noise_dh dh, const uint8_t *pub, size_t len)
{
	if (dh == NOISE_DH_P256)
		return pkey_check_point(pub, len);
	if (len != 32)
		return err_set(ERR_FORMAT, "X25519 public key is %zu bytes, not 32", len);
	return 0;
}

int noise_pkey_dh(void *ctx, const uint8_t *peer, uint8_t *out)
{
	EVP_PKEY *priv = ctx, *pub = NULL;
	EVP_PKEY_CTX *dctx = NULL;
	size_t len = 32;
	int r;

	if (priv == NULL || peer == NULL || out == NULL)
		fatal("noise_pkey_dh: NULL argument");
	if (EVP_PKEY_get_base_id(priv) == EVP_PKEY_X25519) {
		if ((pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, 32)) == NULL) {
			r = err_crypto("X25519 peer key");
			goto out;
		}
		if ((dctx = EVP_PKEY_CTX_new(priv, NULL)) == NULL ||
		    EVP_PKEY_derive_init(dctx) != 1 || EVP_PKEY_derive_set_peer(dctx, pub) != 1 ||
		    EVP_PKEY_derive(dctx, out, &len) != 1 || len != 32) {
			r = err_crypto("X25519");
			goto out;
		}
		r = 0;
		goto out;
	}
	if (!pkey_is_p256(priv)) {
		r = err_set(ERR_UNSUPPORTED, "DH key is neither P-256 nor X25519");
		goto out;
	}
	if ((r = pkey_ecdh_point(priv, peer, P256_POINT_LEN, out)) != 0)
		goto out;
	r = 0;
out:
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(pub);
	return r;
}

static int pub_of(EVP_PKEY *k, enum noise_dh *dh, uint8_t *pub)
{
	size_t len = 32;

	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_X25519) {
		*dh = NOISE_DH_25519;
		if (EVP_PKEY_get_raw_public_key(k, pub, &len) != 1 || len != 32)
			return err_crypto("X25519 public key");
		return 0;
	}
	if (!pkey_is_p256(k))
		return err_set(ERR_UNSUPPORTED, "key is neither P-256 nor X25519");
	*dh = NOISE_DH_P256;
	return pkey_to_point(k, pub);
}

int noise_key_from_pkey(struct noise_key *k, EVP_PKEY *priv)
{
	int r;

	memset(k, 0, sizeof(*k));
	if ((r = pub_of(priv, &k->dh, k->pub)) != 0)
		return r;
	if (EVP_PKEY_up_ref(priv) != 1)
		return err_crypto("EVP_PKEY_up_ref");
	k->owned = priv;
	k->fn = noise_pkey_dh;
	k->ctx = priv;
	return 0;
}

static int p256_from_scalar(const uint8_t *priv, size_t len, EVP_PKEY **out)
{
	EC_GROUP *g = NULL;
	EC_POINT *pt = NULL;
	BIGNUM *d = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t pub[P256_POINT_LEN];
	int r;

	*out = NULL;
	if ((g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) == NULL ||
	    (pt = EC_POINT_new(g)) == NULL || (d = BN_secure_new()) == NULL ||
	    BN_bin2bn(priv, (int)len, d) == NULL) {
		r = err_crypto("P-256 private key");
		goto out;
	}
	if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0) {
		r = err_set(ERR_FORMAT, "P-256 private key out of range");
		goto out;
	}
	if (EC_POINT_mul(g, pt, d, NULL, NULL, NULL) != 1 ||
	    EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), NULL) !=
		    sizeof(pub) ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, out, EVP_PKEY_KEYPAIR, params) != 1) {
		r = err_crypto("import P-256 private key");
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	EC_POINT_free(pt);
	EC_GROUP_free(g);
	return r;
}

int noise_key_from_private(struct noise_key *k, enum noise_dh dh, const uint8_t *priv,
			   size_t len)
{
	EVP_PKEY *pk = NULL;
	int r;

	memset(k, 0, sizeof(*k));
	if (dh == NOISE_DH_25519) {
		if (len != 32)
			return err_set(ERR_FORMAT, "X25519 private key is %zu bytes", len);
		if ((pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, len)) == NULL)
			return err_crypto("import X25519 private key");
	} else if (dh == NOISE_DH_P256) {
		if (len == 0 || len > 33)
			return err_set(ERR_FORMAT, "P-256 private key is %zu bytes", len);
		if ((r = p256_from_scalar(priv, len, &pk)) != 0)
			return r;
	} else {
		fatal("noise_key_from_private: bad DH %d", (int)dh);
	}
	r = noise_key_from_pkey(k, pk);
	EVP_PKEY_free(pk);
	return r;
}

int noise_key_generate(struct noise_key *k, enum noise_dh dh)
{
	EVP_PKEY *pk = NULL;
	int r;

	memset(k, 0, sizeof(*k));
	if (dh == NOISE_DH_25519) {
		if ((pk = EVP_PKEY_Q_keygen(NULL, NULL, "X25519")) == NULL)
			return err_crypto("generate X25519 key");
	} else if ((r = pkey_generate_p256(&pk)) != 0) {
		return r;
	}
	r = noise_key_from_pkey(k, pk);
	EVP_PKEY_free(pk);
	return r;
}

int noise_key_from_callback(struct noise_key *k, enum noise_dh dh, const uint8_t *pub,
			    noise_dh_fn fn, void *ctx)
{
	int r;

	memset(k, 0, sizeof(*k));
	if (fn == NULL || pub == NULL)
		fatal("noise_key_from_callback: NULL argument");
	if ((r = noise_check_pub(dh, pub, noise_dh_pub_len(dh))) != 0)
		return err_wrap(r, "local static key");
	k->dh = dh;
	memcpy(k->pub, pub, noise_dh_pub_len(dh));
	k->fn = fn;
	k->ctx = ctx;
	return 0;
}

void noise_key_clear(struct noise_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->owned);
	secmem_zero(k, sizeof(*k));
}

static int key_copy(struct noise_key *dst, const struct noise_key *src)
{
	*dst = *src;
	if (src->owned != NULL && EVP_PKEY_up_ref(src->owned) != 1) {
		memset(dst, 0, sizeof(*dst));
		return err_crypto("EVP_PKEY_up_ref");
	}
	return 0;
}

/* ------------------------------------------------------------------ primitives */

static void cache_init(void);
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *cached_cipher[2]; /* [NOISE_CIPHER_AESGCM], [NOISE_CIPHER_CHACHAPOLY] */

/* The cipher fetched once (a legacy EVP_aes_256_gcm() is fetched again at
 * every init), or the legacy one if that fetch failed. */
static const EVP_CIPHER *evp_cipher(enum noise_cipher c)
{
	int aes = c == NOISE_CIPHER_AESGCM;

	if (pthread_once(&cache_once, cache_init) == 0 && cached_cipher[aes ? 0 : 1] != NULL)
		return cached_cipher[aes ? 0 : 1];
	return aes ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
}

static int aead(int enc, enum noise_cipher c, const uint8_t *key, const uint8_t *nonce,
		const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tag[NOISE_TAG_LEN];
	int outl, r;
	size_t mlen = len;

	if (!enc) {
		if (len < NOISE_TAG_LEN)
			return err_set(ERR_AUTH, "ciphertext shorter than a tag");
		mlen = len - NOISE_TAG_LEN;
		memcpy(tag, in + mlen, NOISE_TAG_LEN);
	}
	if (mlen > INT32_MAX || adlen > INT32_MAX)
		return err_set(ERR_TOO_LARGE, "AEAD input of %zu bytes", mlen);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		r = err_crypto("AEAD context");
		goto out;
	}
	if (EVP_CipherInit_ex(ctx, evp_cipher(c), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
	    (adlen != 0 && EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)adlen) != 1) ||
	    (mlen != 0 && EVP_CipherUpdate(ctx, out, &outl, in, (int)mlen) != 1)) {
		r = err_crypto("AEAD %s", enc ? "seal" : "open");
		goto out;
	}
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, NOISE_TAG_LEN, tag) != 1) {
		r = err_crypto("AEAD set tag");
		goto out;
	}
	if (EVP_CipherFinal_ex(ctx, out + mlen, &outl) != 1) {
		ERR_clear_error();
		if (enc) {
			r = err_set(ERR_CRYPTO, "AEAD seal final");
		} else {
			secmem_zero(out, mlen);
			r = err_set(ERR_AUTH, "authentication tag mismatch");
		}
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, NOISE_TAG_LEN, out + mlen) != 1) {
		r = err_crypto("AEAD get tag");
		goto out;
	}
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	secmem_zero(tag, sizeof(tag));
	return r;
}

int noise_aead_seal(enum noise_cipher c, const uint8_t key[static NOISE_KEY_LEN],
		    const uint8_t nonce[static 12], const uint8_t *ad, size_t adlen,
		    const uint8_t *in, size_t len, uint8_t *out)
{
	return aead(1, c, key, nonce, ad, adlen, in, len, out);
}

int noise_aead_open(enum noise_cipher c, const uint8_t key[static NOISE_KEY_LEN],
		    const uint8_t nonce[static 12], const uint8_t *ad, size_t adlen,
		    const uint8_t *in, size_t len, uint8_t *out)
{
	return aead(0, c, key, nonce, ad, adlen, in, len, out);
}

/*
 * The digests and HMAC contexts (digest set, no key) of every hash, fetched
 * once per process: fetching by name on each call showed in the benchmark's
 * profile (a locked lookup in the provider store). A slot left NULL (fetch
 * failed) makes the callers fetch per call as before, with its error.
 */
#define N_HASHES (sizeof(hash_ossl) / sizeof(hash_ossl[0]))
static EVP_MD *cached_md[N_HASHES];
static EVP_MAC_CTX *cached_hmac[N_HASHES];

static void cache_init(void)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[2];
	size_t h;

	for (h = 0; h < N_HASHES; h++) {
		if (hash_ossl[h] == NULL)
			continue;
		cached_md[h] = EVP_MD_fetch(NULL, hash_ossl[h], NULL);
		if (mac == NULL || (cached_hmac[h] = EVP_MAC_CTX_new(mac)) == NULL)
			continue;
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
							     (char *)hash_ossl[h], 0);
		params[1] = OSSL_PARAM_construct_end();
		if (EVP_MAC_CTX_set_params(cached_hmac[h], params) != 1) {
			EVP_MAC_CTX_free(cached_hmac[h]);
			cached_hmac[h] = NULL;
		}
	}
	/* The contexts hold their own references. */
	EVP_MAC_free(mac);
	cached_cipher[0] = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	cached_cipher[1] = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	ERR_clear_error();
}

static EVP_MAC_CTX *hmac_template(enum noise_hash h)
{
	if (pthread_once(&cache_once, cache_init) != 0 || (size_t)h >= N_HASHES)
		return NULL;
	return cached_hmac[h];
}

static EVP_MD *md_cached(enum noise_hash h)
{
	if (pthread_once(&cache_once, cache_init) != 0 || (size_t)h >= N_HASHES)
		return NULL;
	return cached_md[h];
}

/* HMAC(key, a || b || c) with the given hash. */
static int hmac(enum noise_hash h, const uint8_t *key, size_t keylen, const uint8_t *a,
		size_t alen, const uint8_t *b, size_t blen, const uint8_t *c, size_t clen,
		uint8_t *out)
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL, *tmpl;
	OSSL_PARAM params[2];
	uint8_t zero[NOISE_MAX_HASH_LEN] = {0};
	size_t outl = 0;
	int r;

	/* An empty HMAC key is the same as a block of zeros; OpenSSL wants one. */
	if (keylen == 0) {
		key = zero;
		keylen = noise_hash_len(h);
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)hash_ossl[h], 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((tmpl = hmac_template(h)) != NULL) {
		/* A copy of the keyless template: no fetch, no digest lookup. */
		if ((ctx = EVP_MAC_CTX_dup(tmpl)) == NULL || EVP_MAC_init(ctx, key, keylen, NULL) != 1) {
			r = err_crypto("HMAC-%s", hash_names[h]);
			goto out;
		}
	} else if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
		   (ctx = EVP_MAC_CTX_new(mac)) == NULL ||
		   EVP_MAC_init(ctx, key, keylen, params) != 1) {
		r = err_crypto("HMAC-%s", hash_names[h]);
		goto out;
	}
	if ((alen != 0 && EVP_MAC_update(ctx, a, alen) != 1) ||
	    (blen != 0 && EVP_MAC_update(ctx, b, blen) != 1) ||
	    (clen != 0 && EVP_MAC_update(ctx, c, clen) != 1) ||
	    EVP_MAC_final(ctx, out, &outl, NOISE_MAX_HASH_LEN) != 1 || outl != noise_hash_len(h)) {
		r = err_crypto("HMAC-%s", hash_names[h]);
		goto out;
	}
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

int noise_hkdf(enum noise_hash h, const uint8_t *salt, size_t saltlen, const uint8_t *ikm,
	       size_t ikmlen, const uint8_t *info, size_t infolen, uint8_t *out, size_t outlen)
{
	uint8_t prk[NOISE_MAX_HASH_LEN], t[NOISE_MAX_HASH_LEN];
	size_t hl = noise_hash_len(h), done = 0, tlen = 0, n;
	uint8_t i;
	int r;

	if (outlen > 255 * hl)
		return err_set(ERR_INVALID_ARG, "HKDF output of %zu bytes", outlen);
	if ((r = hmac(h, salt, saltlen, ikm, ikmlen, NULL, 0, NULL, 0, prk)) != 0)
		goto out;
	for (i = 1; done < outlen; i++) {
		if ((r = hmac(h, prk, hl, t, tlen, info, infolen, &i, 1, t)) != 0)
			goto out;
		tlen = hl;
		n = outlen - done < hl ? outlen - done : hl;
		memcpy(out + done, t, n);
		done += n;
	}
	r = 0;
out:
	secmem_zero(prk, sizeof(prk));
	secmem_zero(t, sizeof(t));
	return r;
}

static int hash2(enum noise_hash h, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		 uint8_t *out)
{
	EVP_MD_CTX *ctx = NULL;
	EVP_MD *md = NULL, *md_use;
	int r = 0;

	if ((md_use = md_cached(h)) == NULL)
		md_use = md = EVP_MD_fetch(NULL, hash_ossl[h], NULL);
	if (md_use == NULL || (ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, md_use, NULL) != 1 || EVP_DigestUpdate(ctx, a, alen) != 1 || (blen != 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		r = err_crypto("hash %s", hash_names[h]);
	EVP_MD_CTX_free(ctx);
	EVP_MD_free(md);
	return r;
}

/* ------------------------------------------------------------------ CipherState */

static void nonce_of(enum noise_cipher c, uint64_t n, uint8_t nonce[12])
{
	int i;

	memset(nonce, 0, 12);
	if (c == NOISE_CIPHER_AESGCM)
		buf_poke_be64(nonce + 4, n);
	else
		for (i = 0; i < 8; i++)
			nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

void noise_cs_init(struct noise_cipher_state *cs, enum noise_cipher c, const uint8_t *key)
{
	secmem_zero(cs, sizeof(*cs));
	cs->cipher = c;
	if (key != NULL) {
		memcpy(cs->k, key, NOISE_KEY_LEN);
		cs->has_key = 1;
	}
}

void noise_cs_clear(struct noise_cipher_state *cs)
{
	if (cs != NULL)
		secmem_zero(cs, sizeof(*cs));
}

int noise_cs_encrypt(struct noise_cipher_state *cs, const uint8_t *ad, size_t adlen,
		     const uint8_t *in, size_t len, struct buf *out)
{
	uint8_t nonce[12], *p;
	int r;

	if (!cs->has_key)
		return buf_put(out, in, len);
	if (len > NOISE_MAX_MSG - NOISE_TAG_LEN)
		return err_set(ERR_TOO_LARGE, "plaintext of %zu bytes", len);
	if (cs->n == UINT64_MAX)
		return err_set(ERR_TOO_LARGE, "nonce exhausted");
	if ((r = buf_reserve(out, len + NOISE_TAG_LEN, &p)) != 0)
		return r;
	nonce_of(cs->cipher, cs->n, nonce);
	if ((r = noise_aead_seal(cs->cipher, cs->k, nonce, ad, adlen, in, len, p)) != 0) {
		secmem_zero(p, len + NOISE_TAG_LEN);
		if (buf_consume_end(out, len + NOISE_TAG_LEN) != 0)
			fatal("noise_cs_encrypt: cannot undo the reserve");
		return r;
	}
	cs->n++;
	return 0;
}

int noise_cs_decrypt(struct noise_cipher_state *cs, const uint8_t *ad, size_t adlen,
		     const uint8_t *in, size_t len, struct buf *out)
{
	uint8_t nonce[12], *p;
	int r;

	if (!cs->has_key)
		return buf_put(out, in, len);
	if (len < NOISE_TAG_LEN)
		return err_set(ERR_AUTH, "ciphertext of %zu bytes is shorter than a tag", len);
	if (len > NOISE_MAX_MSG)
		return err_set(ERR_TOO_LARGE, "ciphertext of %zu bytes", len);
	if (cs->n == UINT64_MAX)
		return err_set(ERR_TOO_LARGE, "nonce exhausted");
	/* +1 so an empty plaintext still reserves a valid pointer. */
	if ((r = buf_reserve(out, len - NOISE_TAG_LEN + 1, &p)) != 0)
		return r;
	nonce_of(cs->cipher, cs->n, nonce);
	r = noise_aead_open(cs->cipher, cs->k, nonce, ad, adlen, in, len, p);
	if (buf_consume_end(out, r == 0 ? 1 : len - NOISE_TAG_LEN + 1) != 0)
		fatal("noise_cs_decrypt: cannot undo the reserve");
	if (r != 0)
		return r;
	cs->n++;
	return 0;
}

int noise_cs_rekey(struct noise_cipher_state *cs)
{
	uint8_t nonce[12], zeros[NOISE_KEY_LEN] = {0}, out[NOISE_KEY_LEN + NOISE_TAG_LEN];
	int r;

	if (!cs->has_key)
		return err_set(ERR_INVALID_ARG, "rekey without a key");
	nonce_of(cs->cipher, UINT64_MAX, nonce);
	if ((r = noise_aead_seal(cs->cipher, cs->k, nonce, NULL, 0, zeros, sizeof(zeros), out)) == 0)
		memcpy(cs->k, out, NOISE_KEY_LEN);
	secmem_zero(out, sizeof(out));
	return r;
}

/* ------------------------------------------------------------------ HandshakeState */

struct noise_hs {
	struct noise_proto proto;
	const struct pattern *pat;
	int initiator;
	size_t publen, hashlen;
	uint8_t ck[NOISE_MAX_HASH_LEN];
	uint8_t h[NOISE_MAX_HASH_LEN];
	struct noise_cipher_state cs;
	struct noise_key s, e;
	int has_s, has_e;
	uint8_t rs[NOISE_MAX_PUB_LEN], re[NOISE_MAX_PUB_LEN];
	int has_rs, has_re;
	uint8_t fixed_e[33];
	size_t fixed_e_len;
	size_t msg;       /* index of the next message pattern */
	/* Reading in steps. */
	int reading;
	size_t tok;       /* index of the next token in the message */
	struct buf *rd;   /* view of the message being read */
	uint8_t supplied[NOISE_MAX_DH_LEN];
	int has_supplied;
	int split;
	int dead;
};

static int mix_hash(struct noise_hs *hs, const uint8_t *data, size_t len)
{
	return hash2(hs->proto.hash, hs->h, hs->hashlen, data, len, hs->h);
}

static int mix_key(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t out[2 * NOISE_MAX_HASH_LEN];
	int r;

	if ((r = noise_hkdf(hs->proto.hash, hs->ck, hs->hashlen, ikm, len, NULL, 0, out,
			    2 * hs->hashlen)) == 0) {
		memcpy(hs->ck, out, hs->hashlen);
		noise_cs_init(&hs->cs, hs->proto.cipher, out + hs->hashlen);
	}
	secmem_zero(out, sizeof(out));
	return r;
}

static int encrypt_and_hash(struct noise_hs *hs, const uint8_t *in, size_t len, struct buf *out)
{
	size_t before = buf_len(out);
	int r;

	if ((r = noise_cs_encrypt(&hs->cs, hs->h, hs->hashlen, in, len, out)) != 0)
		return r;
	return mix_hash(hs, buf_ptr(out) + before, buf_len(out) - before);
}

static int decrypt_and_hash(struct noise_hs *hs, const uint8_t *in, size_t len, struct buf *out)
{
	int r;

	if ((r = noise_cs_decrypt(&hs->cs, hs->h, hs->hashlen, in, len, out)) != 0)
		return r;
	return mix_hash(hs, in, len);
}

int noise_hs_new(const struct noise_proto *p, int initiator, const uint8_t *prologue,
		 size_t prologue_len, const struct noise_key *s, const uint8_t *rs,
		 struct noise_hs **out)
{
	struct noise_hs *hs = NULL;
	char name[NOISE_MAX_NAME];
	const uint8_t *ipub, *rpub;
	int r;

	*out = NULL;
	if (p->pattern <= 0 || (size_t)p->pattern >= NPATTERNS)
		fatal("noise_hs_new: bad pattern");
	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		return ERR_ALLOC;
	hs->proto = *p;
	hs->pat = &patterns[p->pattern];
	hs->initiator = initiator != 0;
	hs->publen = noise_dh_pub_len(p->dh);
	hs->hashlen = noise_hash_len(p->hash);
	noise_cs_init(&hs->cs, p->cipher, NULL);
	if (s != NULL) {
		if (s->dh != p->dh) {
			r = err_set(ERR_INVALID_ARG, "static key is for another DH function");
			goto out;
		}
		if ((r = key_copy(&hs->s, s)) != 0)
			goto out;
		hs->has_s = 1;
	}
	if (rs != NULL) {
		if ((r = noise_check_pub(p->dh, rs, hs->publen)) != 0) {
			r = err_wrap(r, "remote static key");
			goto out;
		}
		memcpy(hs->rs, rs, hs->publen);
		hs->has_rs = 1;
	}
	noise_proto_name(p, name);
	memset(hs->h, 0, sizeof(hs->h));
	if (strlen(name) <= hs->hashlen)
		memcpy(hs->h, name, strlen(name));
	else if ((r = hash2(p->hash, (const uint8_t *)name, strlen(name), NULL, 0, hs->h)) != 0)
		goto out;
	memcpy(hs->ck, hs->h, hs->hashlen);
	if ((r = mix_hash(hs, prologue, prologue_len)) != 0)
		goto out;
	/* Pre-messages: the initiator's first, then the responder's. */
	ipub = hs->initiator ? (hs->has_s ? hs->s.pub : NULL) : (hs->has_rs ? hs->rs : NULL);
	rpub = hs->initiator ? (hs->has_rs ? hs->rs : NULL) : (hs->has_s ? hs->s.pub : NULL);
	if (hs->pat->pre_i_s) {
		if (ipub == NULL) {
			r = err_set(ERR_INVALID_ARG, "pattern %s needs the initiator's static key",
				    hs->pat->name);
			goto out;
		}
		if ((r = mix_hash(hs, ipub, hs->publen)) != 0)
			goto out;
	}
	if (hs->pat->pre_r_s) {
		if (rpub == NULL) {
			r = err_set(ERR_INVALID_ARG, "pattern %s needs the responder's static key",
				    hs->pat->name);
			goto out;
		}
		if ((r = mix_hash(hs, rpub, hs->publen)) != 0)
			goto out;
	}
	*out = hs;
	hs = NULL;
	r = 0;
out:
	noise_hs_free(hs);
	return r;
}

void noise_hs_free(struct noise_hs *hs)
{
	if (hs == NULL)
		return;
	noise_key_clear(&hs->s);
	noise_key_clear(&hs->e);
	buf_free(hs->rd);
	secmem_zero(hs, sizeof(*hs));
	free(hs);
}

int noise_hs_set_ephemeral(struct noise_hs *hs, const uint8_t *priv, size_t len)
{
	if (len == 0 || len > sizeof(hs->fixed_e))
		return err_set(ERR_INVALID_ARG, "ephemeral key of %zu bytes", len);
	memcpy(hs->fixed_e, priv, len);
	hs->fixed_e_len = len;
	return 0;
}

/* The DH of a token, with our key `k` and the peer's public `pub`. */
static int do_dh(struct noise_hs *hs, const struct noise_key *k, int have_k, const uint8_t *pub,
		 int have_pub, const char *what)
{
	uint8_t dh[NOISE_MAX_DH_LEN];
	int r;

	if (hs->has_supplied) {
		memcpy(dh, hs->supplied, sizeof(dh));
		secmem_zero(hs->supplied, sizeof(hs->supplied));
		hs->has_supplied = 0;
	} else {
		if (!have_k || !have_pub)
			return err_set(ERR_INTERNAL, "token %s without its keys", what);
		if ((r = k->fn(k->ctx, pub, dh)) != 0) {
			secmem_zero(dh, sizeof(dh));
			return err_wrap(r, "DH for %s", what);
		}
	}
	r = mix_key(hs, dh, NOISE_MAX_DH_LEN);
	secmem_zero(dh, sizeof(dh));
	return r;
}

static int dh_token(struct noise_hs *hs, enum noise_token t)
{
	int ini = hs->initiator;

	switch (t) {
	case NOISE_TOK_EE:
		return do_dh(hs, &hs->e, hs->has_e, hs->re, hs->has_re, "ee");
	case NOISE_TOK_ES:
		return ini ? do_dh(hs, &hs->e, hs->has_e, hs->rs, hs->has_rs, "es")
			   : do_dh(hs, &hs->s, hs->has_s, hs->re, hs->has_re, "es");
	case NOISE_TOK_SE:
		return ini ? do_dh(hs, &hs->s, hs->has_s, hs->re, hs->has_re, "se")
			   : do_dh(hs, &hs->e, hs->has_e, hs->rs, hs->has_rs, "se");
	case NOISE_TOK_SS:
		return do_dh(hs, &hs->s, hs->has_s, hs->rs, hs->has_rs, "ss");
	default:
		return err_set(ERR_INTERNAL, "not a DH token");
	}
}

static int turn_check(struct noise_hs *hs, int writing)
{
	if (hs->dead)
		return err_set(ERR_PROTOCOL, "handshake already failed");
	if (hs->msg >= hs->pat->nmsgs)
		return err_set(ERR_PROTOCOL, "handshake already complete");
	if (noise_hs_my_turn(hs) != writing)
		return err_set(ERR_PROTOCOL, "not our turn to %s", writing ? "write" : "read");
	return 0;
}

int noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t len, struct buf *out)
{
	const enum noise_token *tok;
	size_t start = buf_len(out);
	int r;

	if ((r = turn_check(hs, 1)) != 0 || (r = hs->reading ? ERR_PROTOCOL : 0) != 0)
		return r;
	for (tok = hs->pat->msgs[hs->msg]; *tok != NOISE_TOK_END; tok++) {
		switch (*tok) {
		case NOISE_TOK_E:
			noise_key_clear(&hs->e);
			if (hs->fixed_e_len != 0)
				r = noise_key_from_private(&hs->e, hs->proto.dh, hs->fixed_e,
							   hs->fixed_e_len);
			else
				r = noise_key_generate(&hs->e, hs->proto.dh);
			if (r != 0)
				goto out;
			hs->has_e = 1;
			if ((r = buf_put(out, hs->e.pub, hs->publen)) != 0 ||
			    (r = mix_hash(hs, hs->e.pub, hs->publen)) != 0)
				goto out;
			break;
		case NOISE_TOK_S:
			if (!hs->has_s) {
				r = err_set(ERR_INVALID_ARG, "no local static key");
				goto out;
			}
			if ((r = encrypt_and_hash(hs, hs->s.pub, hs->publen, out)) != 0)
				goto out;
			break;
		default:
			if ((r = dh_token(hs, *tok)) != 0)
				goto out;
		}
	}
	if ((r = encrypt_and_hash(hs, payload, len, out)) != 0)
		goto out;
	if (buf_len(out) - start > NOISE_MAX_MSG) {
		r = err_set(ERR_TOO_LARGE, "handshake message of %zu bytes", buf_len(out) - start);
		goto out;
	}
	hs->msg++;
	r = 0;
out:
	if (r != 0)
		hs->dead = 1;
	return r;
}

int noise_hs_read_begin(struct noise_hs *hs, const uint8_t *msg, size_t len)
{
	int r;

	if ((r = turn_check(hs, 0)) != 0)
		return r;
	if (hs->reading)
		return err_set(ERR_PROTOCOL, "already reading a message");
	if (len > NOISE_MAX_MSG) {
		hs->dead = 1;
		return err_set(ERR_TOO_LARGE, "handshake message of %zu bytes", len);
	}
	if ((hs->rd = buf_from(msg, len)) == NULL)
		return ERR_ALLOC;
	hs->reading = 1;
	hs->tok = 0;
	return 0;
}

int noise_hs_read_until(struct noise_hs *hs, enum noise_token stop)
{
	const enum noise_token *toks;
	struct buf *pt = NULL;
	const uint8_t *p;
	size_t n;
	int r;

	if (hs->dead)
		return err_set(ERR_PROTOCOL, "handshake already failed");
	if (!hs->reading)
		return err_set(ERR_PROTOCOL, "no message being read");
	toks = hs->pat->msgs[hs->msg];
	for (; toks[hs->tok] != NOISE_TOK_END && toks[hs->tok] != stop; hs->tok++) {
		switch (toks[hs->tok]) {
		case NOISE_TOK_E:
			if ((r = buf_get_direct(hs->rd, &p, hs->publen)) != 0) {
				r = err_set(ERR_FORMAT, "message too short for the ephemeral key");
				goto out;
			}
			if ((r = noise_check_pub(hs->proto.dh, p, hs->publen)) != 0) {
				r = err_wrap(r, "remote ephemeral key");
				goto out;
			}
			memcpy(hs->re, p, hs->publen);
			hs->has_re = 1;
			if ((r = mix_hash(hs, hs->re, hs->publen)) != 0)
				goto out;
			break;
		case NOISE_TOK_S:
			n = hs->publen + (hs->cs.has_key ? NOISE_TAG_LEN : 0);
			if ((r = buf_get_direct(hs->rd, &p, n)) != 0) {
				r = err_set(ERR_FORMAT, "message too short for the static key");
				goto out;
			}
			if ((pt = buf_new(n)) == NULL) {
				r = ERR_ALLOC;
				goto out;
			}
			if ((r = decrypt_and_hash(hs, p, n, pt)) != 0) {
				r = err_wrap(r, "decrypt remote static key");
				goto out;
			}
			if ((r = noise_check_pub(hs->proto.dh, buf_ptr(pt), buf_len(pt))) != 0) {
				r = err_wrap(r, "remote static key");
				goto out;
			}
			memcpy(hs->rs, buf_ptr(pt), hs->publen);
			hs->has_rs = 1;
			buf_free(pt);
			pt = NULL;
			break;
		default:
			if ((r = dh_token(hs, toks[hs->tok])) != 0)
				goto out;
		}
	}
	r = 0;
out:
	buf_free(pt);
	if (r != 0)
		hs->dead = 1;
	return r;
}

int noise_hs_supply_dh(struct noise_hs *hs, const uint8_t *dh, size_t len)
{
	if (len != NOISE_MAX_DH_LEN)
		return err_set(ERR_INVALID_ARG, "supplied DH of %zu bytes", len);
	if (!hs->reading)
		return err_set(ERR_PROTOCOL, "no message being read");
	memcpy(hs->supplied, dh, len);
	hs->has_supplied = 1;
	return 0;
}

int noise_hs_read_finish(struct noise_hs *hs, struct buf *payload)
{
	int r;

	if ((r = noise_hs_read_until(hs, NOISE_TOK_END)) != 0)
		goto out;
	if (hs->has_supplied) {
		r = err_set(ERR_INTERNAL, "supplied DH not used");
		goto out;
	}
	if ((r = decrypt_and_hash(hs, buf_ptr(hs->rd), buf_len(hs->rd), payload)) != 0) {
		r = err_wrap(r, "decrypt handshake payload");
		goto out;
	}
	hs->msg++;
	r = 0;
out:
	buf_free(hs->rd);
	hs->rd = NULL;
	hs->reading = 0;
	secmem_zero(hs->supplied, sizeof(hs->supplied));
	hs->has_supplied = 0;
	if (r != 0)
		hs->dead = 1;
	return r;
}

int noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len, struct buf *payload)
{
	int r;

	if ((r = noise_hs_read_begin(hs, msg, len)) != 0)
		return r;
	return noise_hs_read_finish(hs, payload);
}

const uint8_t *noise_hs_remote_static(const struct noise_hs *hs)
{
	return hs->has_rs ? hs->rs : NULL;
}

const uint8_t *noise_hs_remote_ephemeral(const struct noise_hs *hs)
{
	return hs->has_re ? hs->re : NULL;
}

int noise_hs_done(const struct noise_hs *hs)
{
	return !hs->dead && hs->msg >= hs->pat->nmsgs;
}

int noise_hs_my_turn(const struct noise_hs *hs)
{
	/* Even messages go initiator -> responder. */
	return (hs->msg % 2 == 0) == (hs->initiator != 0);
}

const uint8_t *noise_hs_hash(const struct noise_hs *hs, size_t *len)
{
	*len = hs->hashlen;
	return hs->h;
}

int noise_hs_split(struct noise_hs *hs, struct noise_cipher_state *c1,
		   struct noise_cipher_state *c2)
{
	uint8_t out[2 * NOISE_MAX_HASH_LEN];
	int r;

	noise_cs_clear(c1);
	noise_cs_clear(c2);
	if (!noise_hs_done(hs))
		return err_set(ERR_PROTOCOL, "split before the handshake is complete");
	if (hs->split)
		return err_set(ERR_PROTOCOL, "split twice");
	hs->split = 1;
	if ((r = noise_hkdf(hs->proto.hash, hs->ck, hs->hashlen, NULL, 0, NULL, 0, out,
			    2 * hs->hashlen)) == 0) {
		noise_cs_init(c1, hs->proto.cipher, out);
		noise_cs_init(c2, hs->proto.cipher, out + hs->hashlen);
	}
	secmem_zero(out, sizeof(out));
	secmem_zero(hs->ck, sizeof(hs->ck));
	noise_key_clear(&hs->e);
	hs->has_e = 0;
	noise_cs_clear(&hs->cs);
	return r;
}
