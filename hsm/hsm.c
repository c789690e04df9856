// SPDX-License-Identifier: ISC
#include "hsm.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "buf.h"
#include "hsm_int.h"
#include "log.h"
#include "secmem.h"

int hsm_open(const struct hsm_config *cfg, struct hsm **out)
{
	struct hsm *h = NULL;
	int r;

	if (cfg == NULL || out == NULL)
		fatal("hsm_open: NULL argument");
	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return ERR_ALLOC;
	h->backend = cfg->backend;
	switch (cfg->backend) {
	case HSM_BACKEND_PKCS11:
		r = hsm_p11_open(h, cfg);
		break;
	case HSM_BACKEND_TPM2:
		r = hsm_tpm_open(h, cfg);
		break;
	case HSM_BACKEND_SOFT:
		snprintf(h->desc, sizeof(h->desc), "software");
		h->have = HSM_NEED_ECDH | HSM_NEED_SIGN | HSM_NEED_KEYGEN;
		r = 0;
		break;
	default:
		r = err_set(ERR_INVALID_ARG, "open token: unknown backend %d", (int)cfg->backend);
		break;
	}
	if (r != 0)
		goto out;
	*out = h;
	h = NULL;
out:
	free(h);
	return r;
}

void hsm_close(struct hsm *h)
{
	if (h == NULL)
		return;
	if (h->backend == HSM_BACKEND_PKCS11)
		hsm_p11_close(h);
	else if (h->backend == HSM_BACKEND_TPM2)
		hsm_tpm_close(h);
	free(h);
}

const char *hsm_describe(const struct hsm *h)
{
	return h == NULL ? "(none)" : h->desc;
}

unsigned hsm_missing(const struct hsm *h, unsigned need)
{
	return need & ~h->have;
}

int hsm_key_new(struct hsm *h, enum hsm_backend backend, const char *name, struct hsm_key **out)
{
	struct hsm_key *k;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return ERR_ALLOC;
	k->h = h;
	k->backend = backend;
	k->bits = 256;
	snprintf(k->name, sizeof(k->name), "%s", name);
	if (pthread_mutex_init(&k->lock, NULL) != 0) {
		free(k);
		return err_sys("key %s: mutex", name);
	}
	k->lock_ready = 1;
	*out = k;
	return 0;
}

int hsm_ec_public(int bits, const uint8_t *pt, size_t len, EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	const char *group;
	int r;

	*out = NULL;
	if (bits == 256)
		return pkey_from_point(pt, len, out);
	if (bits != 384)
		return err_set(ERR_UNSUPPORTED, "EC public key: %d-bit curve not supported", bits);
	group = "P-384";
	if (len != 97 || pt[0] != 0x04)
		return err_set(ERR_FORMAT, "EC public key: %zu-byte point is not P-384", len);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, len) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		r = err_crypto("EC public key (%s)", group);
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

/* Curve size of a software EC key: 256 or 384; 0 for anything else. */
static int soft_bits(EVP_PKEY *k)
{
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
		return 0;
	switch (EVP_PKEY_get_bits(k)) {
	case 256:
		return 256;
	case 384:
		return 384;
	default:
		return 0;
	}
}

int hsm_key_from_pkey(EVP_PKEY *priv, struct hsm_key **out)
{
	struct hsm_key *k = NULL;
	uint8_t *der = NULL;
	const uint8_t *p;
	int len, r;

	if (priv == NULL || out == NULL)
		fatal("hsm_key_from_pkey: NULL argument");
	*out = NULL;
	if ((r = hsm_key_new(NULL, HSM_BACKEND_SOFT, "software key", &k)) != 0)
		goto out;
	if ((k->bits = soft_bits(priv)) == 0) {
		r = err_set(ERR_UNSUPPORTED, "software key: only P-256 and P-384 EC keys");
		goto out;
	}
	if (EVP_PKEY_up_ref(priv) != 1) {
		r = err_crypto("software key");
		goto out;
	}
	k->priv = priv;
	/* A public-only copy, so hsm_key_public never hands out the private key. */
	if ((len = i2d_PUBKEY(priv, &der)) <= 0) {
		r = err_crypto("software key: public part");
		goto out;
	}
	p = der;
	if ((k->pub = d2i_PUBKEY(NULL, &p, len)) == NULL) {
		r = err_crypto("software key: public part");
		goto out;
	}
	*out = k;
	k = NULL;
	r = 0;
out:
	OPENSSL_free(der);
	hsm_key_free(k);
	return r;
}

int hsm_key_load_pem(const char *path, struct hsm_key **out)
{
	EVP_PKEY *priv = NULL;
	int r;

	if (path == NULL || out == NULL)
		fatal("hsm_key_load_pem: NULL argument");
	*out = NULL;
	if ((r = pkey_load_private(path, &priv)) != 0)
		goto out;
	if ((r = hsm_key_from_pkey(priv, out)) != 0) {
		r = err_wrap(r, "%s", path);
		goto out;
	}
	snprintf((*out)->name, sizeof((*out)->name), "%s", path);
out:
	EVP_PKEY_free(priv);
	return r;
}

int hsm_key_open(struct hsm *h, const char *name, struct hsm_key **out)
{
	if (h == NULL || name == NULL || out == NULL)
		fatal("hsm_key_open: NULL argument");
	*out = NULL;
	switch (h->backend) {
	case HSM_BACKEND_PKCS11:
		return hsm_p11_key_open(h, name, out);
	case HSM_BACKEND_TPM2:
		return hsm_tpm_key_open(h, name, out);
	case HSM_BACKEND_SOFT:
		return hsm_key_load_pem(name, out);
	}
	return err_set(ERR_INTERNAL, "open key %s: unknown backend", name);
}

void hsm_key_free(struct hsm_key *k)
{
	if (k == NULL)
		return;
	if (k->backend == HSM_BACKEND_PKCS11)
		hsm_p11_key_free(k);
	else if (k->backend == HSM_BACKEND_TPM2)
		hsm_tpm_key_free(k);
	EVP_PKEY_free(k->priv);
	EVP_PKEY_free(k->pub);
	if (k->lock_ready)
		pthread_mutex_destroy(&k->lock);
	secmem_zero(k, sizeof(*k));
	free(k);
}

void hsm_key_renew(struct hsm_key *k)
{
	if (k != NULL && k->backend == HSM_BACKEND_PKCS11)
		hsm_p11_key_renew(k);
}

const char *hsm_key_name(const struct hsm_key *k)
{
	return k == NULL ? "(none)" : k->name;
}

int hsm_key_public(struct hsm_key *k, EVP_PKEY **out)
{
	if (k == NULL || out == NULL)
		fatal("hsm_key_public: NULL argument");
	*out = NULL;
	if (k->pub == NULL)
		return err_set(ERR_INTERNAL, "key %s has no public part", k->name);
	if (EVP_PKEY_up_ref(k->pub) != 1)
		return err_crypto("key %s: public key", k->name);
	*out = k->pub;
	return 0;
}

int hsm_key_point(struct hsm_key *k, uint8_t pt[static P256_POINT_LEN])
{
	if (k == NULL)
		fatal("hsm_key_point: NULL key");
	if (k->bits != 256)
		return err_set(ERR_UNSUPPORTED, "key %s is not a P-256 key", k->name);
	return pkey_to_point(k->pub, pt);
}

static int soft_ecdh(struct hsm_key *k, const uint8_t *peer, size_t peer_len,
		     uint8_t out[static P256_DH_LEN])
{
	int r;

	if ((r = pkey_ecdh_point(k->priv, peer, peer_len, out)) != 0 && r == ERR_FORMAT)
		r = err_wrap(r, "ECDH with key %s: peer point", k->name);
	return r;
}

int hsm_key_ecdh(struct hsm_key *k, const uint8_t *peer, size_t peer_len,
		 uint8_t out[static P256_DH_LEN])
{
	int r;

	if (k == NULL || peer == NULL || out == NULL)
		fatal("hsm_key_ecdh: NULL argument");
	if (k->bits != 256)
		return err_set(ERR_UNSUPPORTED, "ECDH with key %s: not a P-256 key", k->name);
	/* The token never sees a point we have not checked (SoftHSM only says
	 * CKR_GENERAL_ERROR for an off-curve point); software keys check it in
	 * pkey_from_point. */
	if (k->backend != HSM_BACKEND_SOFT && (r = pkey_check_point(peer, peer_len)) != 0)
		return err_wrap(r, "ECDH with key %s: peer point", k->name);
	switch (k->backend) {
	case HSM_BACKEND_PKCS11:
		r = hsm_p11_ecdh(k, peer, peer_len, out);
		break;
	case HSM_BACKEND_TPM2:
		r = hsm_tpm_ecdh(k, peer, peer_len, out);
		break;
	case HSM_BACKEND_SOFT:
		r = soft_ecdh(k, peer, peer_len, out);
		break;
	default:
		r = err_set(ERR_INTERNAL, "ECDH with key %s: unknown backend", k->name);
		break;
	}
	if (r != 0)
		secmem_zero(out, P256_DH_LEN);
	return r;
}

int hsm_dh_callback(void *ctx, const uint8_t peer[static P256_POINT_LEN],
		    uint8_t out[static P256_DH_LEN])
{
	return hsm_key_ecdh(ctx, peer, P256_POINT_LEN, out);
}

static int soft_sign(struct hsm_key *k, const uint8_t *digest, size_t len, struct buf *sig)
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t der[160];
	size_t derlen = sizeof(der);
	int r;

	if ((ctx = EVP_PKEY_CTX_new(k->priv, NULL)) == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_sign(ctx, der, &derlen, digest, len) != 1) {
		r = err_crypto("sign with key %s", k->name);
		goto out;
	}
	r = buf_put(sig, der, derlen);
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int hsm_key_sign(struct hsm_key *k, const uint8_t *digest, size_t digest_len, struct buf *sig)
{
	if (k == NULL || digest == NULL || sig == NULL)
		fatal("hsm_key_sign: NULL argument");
	if (digest_len != SHA256_LEN && !(k->bits == 384 && digest_len == 48))
		return err_set(ERR_INVALID_ARG, "sign with key %s: digest of %zu bytes, want %d%s",
			       k->name, digest_len, SHA256_LEN, k->bits == 384 ? " or 48" : "");
	switch (k->backend) {
	case HSM_BACKEND_PKCS11:
		return hsm_p11_sign(k, digest, digest_len, sig);
	case HSM_BACKEND_TPM2:
		return hsm_tpm_sign(k, digest, digest_len, sig);
	case HSM_BACKEND_SOFT:
		return soft_sign(k, digest, digest_len, sig);
	}
	return err_set(ERR_INTERNAL, "sign with key %s: unknown backend", k->name);
}

int hsm_key_sign_data(struct hsm_key *k, const uint8_t *data, size_t len, struct buf *sig)
{
	uint8_t md[SHA256_LEN];
	int r;

	if (k == NULL || (data == NULL && len != 0) || sig == NULL)
		fatal("hsm_key_sign_data: NULL argument");
	/* SHA-256 for every curve: what `openssl dgst -sha256 -verify` and pkey_verify check. */
	if ((r = pkey_sha256(data, len, md)) != 0)
		return err_wrap(r, "sign with key %s", k->name);
	return hsm_key_sign(k, md, sizeof(md), sig);
}

int hsm_generate(struct hsm *h, const char *label, unsigned usage, const char *blob_path,
		 struct hsm_key **out)
{
	if (h == NULL || out == NULL)
		fatal("hsm_generate: NULL argument");
	*out = NULL;
	if ((usage & (HSM_USAGE_DERIVE | HSM_USAGE_SIGN)) == 0 ||
	    (usage & ~(unsigned)(HSM_USAGE_DERIVE | HSM_USAGE_SIGN)) != 0)
		return err_set(ERR_INVALID_ARG, "generate key: usage must be derive and/or sign");
	switch (h->backend) {
	case HSM_BACKEND_PKCS11:
		if (label == NULL || *label == '\0')
			return err_set(ERR_INVALID_ARG, "generate key: a label is required");
		return hsm_p11_generate(h, label, usage, out);
	case HSM_BACKEND_TPM2:
		if (blob_path == NULL)
			return err_set(ERR_INVALID_ARG, "generate TPM key: a blob path is required");
		return hsm_tpm_generate(h, usage, blob_path, out);
	case HSM_BACKEND_SOFT:
		return err_set(ERR_UNSUPPORTED,
			       "generate key: the software backend has no key store "
			       "(use pkey_generate_p256 and pkey_save_private)");
	}
	return err_set(ERR_INTERNAL, "generate key: unknown backend");
}

int hsm_import_public(struct hsm *h, const char *label, EVP_PKEY *pub)
{
	if (h == NULL || label == NULL || pub == NULL)
		fatal("hsm_import_public: NULL argument");
	if (h->backend != HSM_BACKEND_PKCS11)
		return err_set(ERR_UNSUPPORTED, "import public key '%s': %s keeps no objects", label,
			       h->desc);
	return hsm_p11_import_public(h, label, pub);
}

int hsm_find_public(struct hsm *h, const char *label, EVP_PKEY **out)
{
	if (h == NULL || label == NULL || out == NULL)
		fatal("hsm_find_public: NULL argument");
	*out = NULL;
	if (h->backend != HSM_BACKEND_PKCS11)
		return err_set(ERR_UNSUPPORTED, "find public key '%s': %s keeps no objects", label,
			       h->desc);
	return hsm_p11_find_public(h, label, out);
}

int hsm_list(struct hsm *h, int (*fn)(const struct hsm_key_info *, void *), void *arg)
{
	if (h == NULL || fn == NULL)
		fatal("hsm_list: NULL argument");
	if (h->backend != HSM_BACKEND_PKCS11)
		return err_set(ERR_UNSUPPORTED, "list keys: %s keeps no objects", h->desc);
	return hsm_p11_list(h, fn, arg);
}

int hsm_key_open_spec(const struct hsm_key_spec *spec, struct hsm **hp, struct hsm_key **kp)
{
	struct hsm_config cfg;
	int r;

	*hp = NULL;
	*kp = NULL;
	if (spec->key == NULL)
		return err_set(ERR_INVALID_ARG, "no key given");
	memset(&cfg, 0, sizeof(cfg));
	cfg.need = spec->need;
	if (strncmp(spec->key, "pkcs11:", 7) == 0) {
		if (spec->module == NULL)
			return err_set(ERR_INVALID_ARG, "a pkcs11: key needs a PKCS#11 module "
							"(--pkcs11-module)");
		cfg.backend = HSM_BACKEND_PKCS11;
		cfg.module = spec->module;
		cfg.token = spec->key; /* the URI's token attributes pick the token */
		cfg.pin_source = spec->pin_source;
	} else if (spec->tcti != NULL) {
		cfg.backend = HSM_BACKEND_TPM2;
		cfg.tcti = spec->tcti[0] != '\0' ? spec->tcti : NULL; /* "": the default */
	} else {
		return hsm_key_load_pem(spec->key, kp);
	}
	if ((r = hsm_open(&cfg, hp)) != 0)
		return r;
	if ((r = hsm_key_open(*hp, spec->key, kp)) != 0) {
		hsm_close(*hp);
		*hp = NULL;
	}
	return r;
}
