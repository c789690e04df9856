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

int pkey_from_point(const uint8_t *pt, size_t len, EVP_PKEY **out)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	int r;

	*out = NULL;
	if ((r = pkey_check_point(pt, len)) != 0)
		return r;
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
	size_t len = 0;

	if (!pkey_is_p256(k))
		return err_set(ERR_UNSUPPORTED, "key is not a P-256 key");
	if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, P256_POINT_LEN,
					    &len) != 1)
		return err_crypto("export P-256 public point");
	if (len != P256_POINT_LEN || pt[0] != 0x04)
		return err_set(ERR_FORMAT, "public point is not in uncompressed form");
	return 0;
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

	if (EVP_Digest(data, len, out, &olen, EVP_sha256(), NULL) != 1 || olen != SHA256_LEN)
		return err_crypto("SHA-256");
	return 0;
}

int pkey_identity(EVP_PKEY *k, uint8_t id[static IDENTITY_LEN])
{
	struct buf *b;
	int r;

	if ((b = buf_new(0)) == NULL)
		return ERR_ALLOC;
	if ((r = pkey_spki_der(k, b)) == 0)
		r = pkey_sha256(buf_ptr(b), buf_len(b), id);
	buf_free(b);
	return r;
}

/* SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes) }. */
static const uint8_t p256_spki_prefix[26] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};

int pkey_identity_from_point(const uint8_t pt[static P256_POINT_LEN],
			     uint8_t id[static IDENTITY_LEN])
{
	uint8_t der[sizeof(p256_spki_prefix) + P256_POINT_LEN];

	if (pt[0] != 0x04)
		return err_set(ERR_FORMAT, "P-256 point: not uncompressed");
	memcpy(der, p256_spki_prefix, sizeof(p256_spki_prefix));
	memcpy(der + sizeof(p256_spki_prefix), pt, P256_POINT_LEN);
	return pkey_sha256(der, sizeof(der), id);
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

int pkey_load_private(const char *path, EVP_PKEY **out)
{
	struct buf *b = NULL;
	BIO *bio = NULL;
	int r;

	*out = NULL;
	if ((r = file_read_private(path, PKEY_PEM_MAX, &b)) != 0)
		return r;
	if ((bio = BIO_new_mem_buf(buf_ptr(b), (int)buf_len(b))) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	/* A NULL callback with "" refuses encrypted keys instead of prompting. */
	if ((*out = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"")) == NULL) {
		r = err_crypto("%s: not an unencrypted PEM private key", path);
		goto out;
	}
	r = 0;
out:
	BIO_free(bio);
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
