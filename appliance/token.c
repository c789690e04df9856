// SPDX-License-Identifier: ISC
#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "log.h"

#include "hsm.h"

struct token {
	struct hsm *h;
	struct hsm_key *k;
	uint8_t point[P256_POINT_LEN];
	char fpr[PKEY_FPR_TEXT_LEN + 1];
	char desc[256];
};

/* The appliance's token: --token, else the first --key's URI, else the only one. */
static const char *appliance_token(const struct cfg *c)
{
	/* A bare --key is the key's label, not a token's. */
	if (c->token != NULL)
		return c->token;
	if (c->key != NULL && strncmp(c->key, "pkcs11:", 7) == 0)
		return c->key;
	return NULL;
}

/* Open the token of hc, require `need`, open the key `name` (what: for messages). */
static int open_key(const struct hsm_config *hc, const char *name, const char *what,
		    struct token **out)
{
	struct token *t = NULL;
	EVP_PKEY *pub = NULL;
	int r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_set(ERR_ALLOC, "token");
	if ((r = hsm_open(hc, &t->h)) != 0) {
		r = err_wrap(r, "open token of the %s", what);
		goto out;
	}
	if (hsm_missing(t->h, hc->need) != 0) {
		r = err_set(ERR_UNSUPPORTED, "token %s lacks %s", hsm_describe(t->h),
			    hc->need == HSM_NEED_ECDH ? "ECDH (CKM_ECDH1_DERIVE / TPM2_ECDH_ZGen)"
						      : "signing (CKM_ECDSA / TPM2_Sign)");
		goto out;
	}
	if ((r = hsm_key_open(t->h, name, &t->k)) != 0) {
		r = err_wrap(r, "open %s", what);
		goto out;
	}
	if ((r = hsm_key_point(t->k, t->point)) != 0 || (r = hsm_key_public(t->k, &pub)) != 0 ||
	    (r = pkey_fingerprint(pub, t->fpr)) != 0) {
		r = err_wrap(r, "public key of the %s", what);
		goto out;
	}
	snprintf(t->desc, sizeof(t->desc), "%s key %s", hsm_describe(t->h), hsm_key_name(t->k));
	*out = t;
	t = NULL;
out:
	EVP_PKEY_free(pub);
	token_close(t);
	return r;
}

/* The backend of the configuration: the TPM, or the appliance's PKCS#11 token. */
static void base_config(const struct cfg *c, unsigned need, struct hsm_config *hc)
{
	memset(hc, 0, sizeof(*hc));
	hc->need = need;
	if (c->tpm2 != NULL) {
		hc->backend = HSM_BACKEND_TPM2;
		hc->tcti = c->tpm2;
	} else {
		hc->backend = HSM_BACKEND_PKCS11;
		hc->module = c->pkcs11_module;
		hc->token = appliance_token(c);
	}
}

int token_open(const struct cfg *c, struct token **out)
{
	struct hsm_config hc;

	base_config(c, HSM_NEED_ECDH, &hc);
	hc.pin_source = c->pin_source;
	/* TPM: password auth on the hot path; the salted session costs ~3.6 ms of CPU per command. */
	hc.tpm_plain_session = c->tpm2 != NULL;
	return open_key(&hc, c->tpm2 != NULL ? c->key_blob : c->key, "appliance key", out);
}

int token_open_audit(const struct cfg *c, struct token **out)
{
	struct hsm_config hc;

	*out = NULL;
	if (c->audit_key == NULL)
		return err_set(ERR_INVALID_ARG, "no --audit-key");
	base_config(c, HSM_NEED_SIGN, &hc);
	if (c->tpm2 == NULL) {
		/* A URI picks its own token (this one or another); a label is in ours. */
		if (strncmp(c->audit_key, "pkcs11:", 7) == 0)
			hc.token = c->audit_key;
		hc.pin_source = c->audit_pin_source;
	}
	return open_key(&hc, c->audit_key, "audit key", out);
}

int token_soft(EVP_PKEY *priv, struct token **out)
{
	struct token *t = NULL;
	int r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_set(ERR_ALLOC, "token");
	if ((r = hsm_key_from_pkey(priv, &t->k)) != 0 || (r = hsm_key_point(t->k, t->point)) != 0 ||
	    (r = pkey_fingerprint(priv, t->fpr)) != 0)
		goto out;
	snprintf(t->desc, sizeof(t->desc), "software key (tests)");
	*out = t;
	t = NULL;
out:
	token_close(t);
	return r;
}

int token_anchor(struct token *t, const char *label, char fpr[static PKEY_FPR_TEXT_LEN + 1])
{
	EVP_PKEY *pub = NULL;
	int r;

	fpr[0] = '\0';
	if (t->h == NULL)
		return err_set(ERR_UNSUPPORTED, "trust anchor token:%s: no token", label);
	if ((r = hsm_find_public(t->h, label, &pub)) != 0) {
		r = err_wrap(r, "trust anchor token:%s in %s", label, hsm_describe(t->h));
		goto out;
	}
	if ((r = pkey_fingerprint(pub, fpr)) != 0)
		r = err_wrap(r, "trust anchor token:%s", label);
out:
	EVP_PKEY_free(pub);
	return r;
}

void token_close(struct token *t)
{
	if (t == NULL)
		return;
	hsm_key_free(t->k);
	hsm_close(t->h);
	free(t);
}

void *token_key(struct token *t)
{
	return t->k;
}

int token_dh(struct token *t, const uint8_t peer[static P256_POINT_LEN],
	     uint8_t out[static P256_DH_LEN])
{
	return hsm_key_ecdh(t->k, peer, P256_POINT_LEN, out);
}

int token_dh_callback(void *ctx, const uint8_t *peer, uint8_t *out)
{
	return token_dh(ctx, peer, out);
}

int token_sign_callback(void *ctx, const uint8_t *data, size_t len, struct buf *sig)
{
	struct token *t = ctx;

	return hsm_key_sign_data(t->k, data, len, sig);
}

const uint8_t *token_point(const struct token *t)
{
	return t->point;
}

const char *token_fingerprint(const struct token *t)
{
	return t->fpr;
}

const char *token_describe(const struct token *t)
{
	return t->desc;
}
