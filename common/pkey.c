// SPDX-License-Identifier: ISC
#include "pkey.h"

#include <pthread.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "buf.h"
#include "file.h"
#include "log.h"

static EC_GROUP *p256;
static pthread_once_t p256_once = PTHREAD_ONCE_INIT;

static void p256_init(void)
{
	p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
}

static const EC_GROUP *group(void)
{
	pthread_once(&p256_once, p256_init);
	if (p256 == NULL)
		fatal("cannot create the P-256 group");
	return p256;
}

/* SHA-256 fetched once: EVP_sha256() is looked up in the provider store at
 * every use (a Hello's identity, each audit record's chain hash). */
static EVP_MD *sha256_fetched;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_init(void)
{
	sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
	pthread_once(&sha256_once, sha256_init);
	return sha256_fetched != NULL ? sha256_fetched : EVP_sha256();
}

int pkey_check_point(const uint8_t *pt, size_t len)
{
	EC_POINT *p = NULL;
	int r;

	if (len != P256_POINT_LEN)
		return err_set(ERR_FORMAT, "public key is %zu bytes, a P-256 point is %d", len,
			       P256_POINT_LEN);
	if (pt[0] != 0x04)
		return err_set(ERR_FORMAT, "public key is not an uncompressed point (0x%02x)",
			       pt[0]);
	if ((p = EC_POINT_new(group())) == NULL)
		return ERR_ALLOC;
	/* oct2point checks the point lies on the curve. */
	if (EC_POINT_oct2point(group(), p, pt, len, NULL) != 1) {
		ERR_clear_error();
		r = err_set(ERR_FORMAT, "public key is not a point on P-256");
		goto out;
	}
	if (EC_POINT_is_at_infinity(group(), p) || EC_POINT_is_on_curve(group(), p, NULL) != 1) {
		ERR_clear_error();
		r = err_set(ERR_FORMAT, "public key is not a valid P-256 point");
		goto out;
	}
	r = 0;
out:
	EC_POINT_free(p);
	return r;
}

/* A public key from a validated point, the slow way: fromdata by curve name. */
static int from_point_fromdata(const uint8_t *pt, size_t len, EVP_PKEY **out)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	int r;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, len);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		r = err_crypto("import P-256 public key");
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/*
 * fromdata by curve name builds the whole group each time (Montgomery
 * constants, generator precomputation): per handshake that was about a tenth
 * of the server's CPU (tests/bench/run.sh). Duplicating a public-only template
 * key copies the group instead; EVP_PKEY_set1_encoded_public_key then decodes
 * the point, which OpenSSL checks lies on the curve (after our own check).
 */
static EVP_PKEY *template_key;
static pthread_once_t template_once = PTHREAD_ONCE_INIT;

static void template_init(void)
{
	EVP_PKEY *k = NULL;
	uint8_t pt[P256_POINT_LEN];

	if (pkey_generate_p256(&k) != 0 || pkey_to_point(k, pt) != 0 ||
	    from_point_fromdata(pt, sizeof(pt), &template_key) != 0) {
		template_key = NULL;
		err_clear();
	}
	EVP_PKEY_free(k);
}

int pkey_from_point(const uint8_t *pt, size_t len, EVP_PKEY **out)
{
	EVP_PKEY *k;
	int r;

	*out = NULL;
	if ((r = pkey_check_point(pt, len)) != 0)
		return r;
	if (pthread_once(&template_once, template_init) != 0 || template_key == NULL)
		return from_point_fromdata(pt, len, out);
	if ((k = EVP_PKEY_dup(template_key)) == NULL ||
	    EVP_PKEY_set1_encoded_public_key(k, pt, len) != 1) {
		EVP_PKEY_free(k);
		return err_crypto("import P-256 public key");
	}
	*out = k;
	return 0;
}

int pkey_is_p256(EVP_PKEY *k)
{
	char name[64];
	size_t len;

	if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
		return 0;
	if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
					   &len) != 1) {
		ERR_clear_error();
		return 0;
	}
	return strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0;
}

int pkey_to_point(EVP_PKEY *k, uint8_t pt[static P256_POINT_LEN])
{
	BIGNUM *x = NULL, *y = NULL;
	int r = 0;

	if (!pkey_is_p256(k))
		return err_set(ERR_UNSUPPORTED, "key is not a P-256 key");
	/* From the coordinates, so a key read in compressed form gives the same bytes. */
	pt[0] = 0x04;
	if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    BN_bn2binpad(x, pt + 1, P256_SCALAR_LEN) != P256_SCALAR_LEN ||
	    BN_bn2binpad(y, pt + 1 + P256_SCALAR_LEN, P256_SCALAR_LEN) != P256_SCALAR_LEN)
		r = err_crypto("export P-256 public point");
	BN_free(x);
	BN_free(y);
	return r;
}

int pkey_spki_der(EVP_PKEY *k, struct buf *b)
{
	unsigned char *der = NULL;
	int len, r;

	if ((len = i2d_PUBKEY(k, &der)) <= 0)
		return err_crypto("encode SubjectPublicKeyInfo");
	r = buf_put(b, der, (size_t)len);
	OPENSSL_free(der);
	return r;
}

int pkey_sha256(const void *data, size_t len, uint8_t out[static SHA256_LEN])
{
	unsigned int olen = 0;

	if (EVP_Digest(data, len, out, &olen, sha256(), NULL) != 1 || olen != SHA256_LEN)
		return err_crypto("SHA-256");
	return 0;
}

int pkey_identity(EVP_PKEY *k, uint8_t id[static IDENTITY_LEN])
{
	uint8_t pt[P256_POINT_LEN];
	struct buf *b;
	int r;

	/* One identity per P-256 key: the named-curve, uncompressed SPKI that a
	 * Hello's point hashes to, whatever encoding the key was read from. */
	if (pkey_is_p256(k)) {
		if ((r = pkey_to_point(k, pt)) != 0)
			return r;
		return pkey_identity_from_point(pt, id);
	}
	if ((b = buf_new(0)) == NULL)
		return ERR_ALLOC;
	if ((r = pkey_spki_der(k, b)) == 0)
		r = pkey_sha256(buf_ptr(b), buf_len(b), id);
	buf_free(b);
	return r;
}

int pkey_fingerprint(EVP_PKEY *k, char *out)
{
	uint8_t id[IDENTITY_LEN];
	int r;

	if ((r = pkey_identity(k, id)) != 0)
		return r;
	memcpy(out, "sha256:", 7);
	hex_encode(id, sizeof(id), out + 7);
	return 0;
}

int pkey_public_from_pem(const uint8_t *pem, size_t len, EVP_PKEY **out)
{
	BIO *bio;

	*out = NULL;
	if (len > PKEY_PEM_MAX)
		return err_set(ERR_TOO_LARGE, "PEM larger than %d bytes", PKEY_PEM_MAX);
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return ERR_ALLOC;
	*out = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (*out == NULL)
		return err_crypto("not a PEM public key");
	return 0;
}

int pkey_load_public(const char *path, EVP_PKEY **out)
{
	struct buf *b = NULL;
	int r;

	*out = NULL;
	if ((r = file_read_all(path, PKEY_PEM_MAX, &b)) != 0)
		return r;
	if ((r = pkey_public_from_pem(buf_ptr(b), buf_len(b), out)) != 0)
		err_wrap(r, "%s", path);
	buf_free(b);
	return r;
}

/*
 * A key file carries the public key next to the private one, and OpenSSL
 * takes both as they are: a file whose public half is not the private key's
 * would give an identity (and a Hello, a sealed file's companion point) that
 * its private key cannot back. Key types OpenSSL cannot check pass.
 */
static int pairwise_check(EVP_PKEY *k, const char *what)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	int ok;

	if (ctx == NULL)
		return ERR_ALLOC;
	ok = EVP_PKEY_pairwise_check(ctx);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	if (ok == 0)
		return err_set(ERR_FORMAT, "%s: its public key is not the one of its private key",
			       what);
	return 0;
}

int pkey_private_from_pem(const uint8_t *pem, size_t len, const char *what, EVP_PKEY **out)
{
	BIO *bio;
	int r = 0;

	*out = NULL;
	if (len > PKEY_PEM_MAX)
		return err_set(ERR_TOO_LARGE, "%s: PEM larger than %d bytes", what, PKEY_PEM_MAX);
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return ERR_ALLOC;
	/* A NULL callback with "" refuses encrypted keys instead of prompting. */
	if ((*out = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"")) == NULL)
		r = err_crypto("%s: not an unencrypted PEM private key", what);
	BIO_free(bio);
	if (r == 0 && (r = pairwise_check(*out, what)) != 0) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	return r;
}

int pkey_load_private(const char *path, EVP_PKEY **out)
{
	struct buf *b = NULL;
	int r;

	*out = NULL;
	if ((r = file_read_private(path, PKEY_PEM_MAX, &b)) != 0)
		return r;
	r = pkey_private_from_pem(buf_ptr(b), buf_len(b), path, out);
	buf_free(b);
	return r;
}

static int bio_to_buf(BIO *bio, struct buf *b)
{
	char *p = NULL;
	long len = BIO_get_mem_data(bio, &p);

	if (len <= 0 || p == NULL)
		return err_crypto("PEM encoding");
	return buf_put(b, p, (size_t)len);
}

int pkey_public_pem(EVP_PKEY *k, struct buf *b)
{
	BIO *bio;
	int r;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return ERR_ALLOC;
	if (PEM_write_bio_PUBKEY(bio, k) != 1)
		r = err_crypto("encode public key PEM");
	else
		r = bio_to_buf(bio, b);
	BIO_free(bio);
	return r;
}

int pkey_save_public(EVP_PKEY *k, const char *path)
{
	struct buf *b;
	int r;

	if ((b = buf_new(0)) == NULL)
		return ERR_ALLOC;
	if ((r = pkey_public_pem(k, b)) == 0)
		r = file_write_atomic(path, buf_ptr(b), buf_len(b), 0644);
	buf_free(b);
	return r;
}

int pkey_save_private(EVP_PKEY *k, const char *path)
{
	struct buf *b = NULL;
	BIO *bio;
	int r;

	/* secmem BIO: the PEM text of the private key is wiped on free. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return ERR_ALLOC;
	if (PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1) {
		r = err_crypto("encode private key PEM");
		goto out;
	}
	if ((b = buf_new(0)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	if ((r = bio_to_buf(bio, b)) != 0)
		goto out;
	r = file_write_new(path, buf_ptr(b), buf_len(b), 0600);
out:
	buf_free(b);
	BIO_free(bio);
	return r;
}

int pkey_generate_p256(EVP_PKEY **out)
{
	*out = EVP_EC_gen("P-256");
	if (*out == NULL)
		return err_crypto("generate P-256 key");
	return 0;
}

int pkey_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t out[static P256_DH_LEN])
{
	EVP_PKEY_CTX *ctx;
	size_t len = P256_DH_LEN;
	int r = 0;

	if ((ctx = EVP_PKEY_CTX_new(priv, NULL)) == NULL)
		return err_crypto("ECDH context");
	if (EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
	    EVP_PKEY_derive(ctx, out, &len) != 1)
		r = err_crypto("ECDH");
	else if (len != P256_DH_LEN)
		r = err_set(ERR_CRYPTO, "ECDH output is %zu bytes", len);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int pkey_ecdh_point(EVP_PKEY *priv, const uint8_t *pt, size_t len,
		    uint8_t out[static P256_DH_LEN])
{
	EVP_PKEY *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t olen = P256_DH_LEN;
	int r;

	if ((r = pkey_from_point(pt, len, &peer)) != 0)
		return r;
	/*
	 * pkey_from_point checked the point lies on the curve, and P-256's
	 * cofactor is 1: that is the whole public-key validation. OpenSSL's
	 * EVP_PKEY_derive_set_peer would validate again with a full n*Q
	 * multiplication, as costly as the ECDH itself (57 -> 112 us measured).
	 */
	if ((ctx = EVP_PKEY_CTX_new(priv, NULL)) == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) != 1 ||
	    EVP_PKEY_derive(ctx, out, &olen) != 1) {
		r = err_crypto("P-256 ECDH");
		goto out;
	}
	r = olen == P256_DH_LEN ? 0 : err_set(ERR_CRYPTO, "ECDH output is %zu bytes", olen);
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return r;
}

int pkey_identity_from_point(const uint8_t pt[static P256_POINT_LEN], uint8_t id[static IDENTITY_LEN])
{
	/* The DER SubjectPublicKeyInfo of a P-256 key is this prefix, then the point. */
	static const uint8_t spki_prefix[] = {
		0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
		0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
	};
	EVP_MD_CTX *ctx;
	unsigned int olen = 0;
	int r = 0;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return ERR_ALLOC;
	if (EVP_DigestInit_ex(ctx, sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, spki_prefix, sizeof(spki_prefix)) != 1 ||
	    EVP_DigestUpdate(ctx, pt, P256_POINT_LEN) != 1 ||
	    EVP_DigestFinal_ex(ctx, id, &olen) != 1 || olen != IDENTITY_LEN)
		r = err_crypto("SHA-256 of a public key");
	EVP_MD_CTX_free(ctx);
	return r;
}

int pkey_ecdsa_raw_to_der(const uint8_t *rs, size_t rslen, struct buf *der)
{
	ECDSA_SIG *sig = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *p = NULL;
	int len, r;

	if (rslen == 0 || rslen % 2 != 0 || rslen > 2 * 66)
		return err_set(ERR_FORMAT, "raw ECDSA signature of %zu bytes", rslen);
	if ((sig = ECDSA_SIG_new()) == NULL ||
	    (br = BN_bin2bn(rs, (int)(rslen / 2), NULL)) == NULL ||
	    (bs = BN_bin2bn(rs + rslen / 2, (int)(rslen / 2), NULL)) == NULL) {
		r = err_crypto("ECDSA signature");
		goto out;
	}
	if (ECDSA_SIG_set0(sig, br, bs) != 1) {
		r = err_crypto("ECDSA signature");
		goto out;
	}
	br = bs = NULL;
	if ((len = i2d_ECDSA_SIG(sig, &p)) <= 0) {
		r = err_crypto("encode ECDSA signature");
		goto out;
	}
	r = buf_put(der, p, (size_t)len);
out:
	OPENSSL_free(p);
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(sig);
	return r;
}

int pkey_verify(EVP_PKEY *k, const uint8_t *data, size_t len, const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *ctx;
	const EVP_MD *md = EVP_sha256();
	int r, base = EVP_PKEY_get_base_id(k);

	if (base == EVP_PKEY_ED25519 || base == EVP_PKEY_ED448)
		md = NULL;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return ERR_ALLOC;
	if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, k) != 1) {
		r = err_crypto("signature verification set-up");
		goto out;
	}
	r = EVP_DigestVerify(ctx, sig, siglen, data, len);
	if (r == 1) {
		r = 0;
	} else {
		ERR_clear_error();
		r = err_set(ERR_AUTH, "signature does not verify");
	}
out:
	EVP_MD_CTX_free(ctx);
	return r;
}
