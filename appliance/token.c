// SPDX-License-Identifier: ISC
#include "token.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "log.h"

#include "hsm.h"

struct token_key {
	struct hsm_key *k;
	uint8_t point[P256_POINT_LEN];
	char fpr[PKEY_FPR_TEXT_LEN + 1];
	atomic_ulong dhs; /* DHs asked of the token with this key */
};

struct token {
	struct hsm *h;
	struct token_key keys[TOKEN_MAX_KEYS];
	size_t n;
	atomic_size_t preferred; /* the key that opened the last good Hello */
	char desc[512];
};

/* The appliance's token: --token, else the first --key's URI, else the only one. */
static const char *appliance_token(const struct cfg *c)
{
	/* A bare --key is the key's label, not a token's. */
	if (c->token != NULL)
		return c->token;
	if (c->keys.n > 0 && strncmp(c->keys.v[0], "pkcs11:", 7) == 0)
		return c->keys.v[0];
	return NULL;
}

/* Fill in key i from its hsm_key: point, fingerprint; refuse a key given twice. */
static int key_ready(struct token *t, size_t i, const char *what)
{
	struct token_key *tk = &t->keys[i];
	EVP_PKEY *pub = NULL;
	size_t j;
	int r;

	atomic_init(&tk->dhs, 0);
	if ((r = hsm_key_point(tk->k, tk->point)) != 0 || (r = hsm_key_public(tk->k, &pub)) != 0 ||
	    (r = pkey_fingerprint(pub, tk->fpr)) != 0) {
		r = err_wrap(r, "public key of the %s", what);
		goto out;
	}
	for (j = 0; j < i; j++)
		if (strcmp(t->keys[j].fpr, tk->fpr) == 0) {
			r = err_set(ERR_INVALID_ARG, "%s %s is the same key as %s (%s)", what,
				    hsm_key_name(tk->k), hsm_key_name(t->keys[j].k), tk->fpr);
			goto out;
		}
	t->n = i + 1;
out:
	EVP_PKEY_free(pub);
	return r;
}

/* Open the token of hc, require `need`, open the keys `names` (what: for messages). */
static int open_keys(const struct hsm_config *hc, char *const *names, size_t n, const char *what,
		     struct token **out)
{
	struct token *t = NULL;
	size_t i, used;
	int r;

	*out = NULL;
	if (n == 0 || n > TOKEN_MAX_KEYS)
		return err_set(ERR_INVALID_ARG, "%zu keys: give 1 to %d", n, TOKEN_MAX_KEYS);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_set(ERR_ALLOC, "token");
	atomic_init(&t->preferred, 0);
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
	used = (size_t)snprintf(t->desc, sizeof(t->desc), "%s key%s", hsm_describe(t->h),
				n > 1 ? "s" : "");
	for (i = 0; i < n; i++) {
		if ((r = hsm_key_open(t->h, names[i], &t->keys[i].k)) != 0) {
			r = err_wrap(r, "open %s", what);
			goto out;
		}
		if ((r = key_ready(t, i, what)) != 0)
			goto out;
		if (used < sizeof(t->desc))
			used += (size_t)snprintf(t->desc + used, sizeof(t->desc) - used, "%s %s",
						 i > 0 ? "," : "", hsm_key_name(t->keys[i].k));
	}
	*out = t;
	t = NULL;
out:
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
	if (c->tpm2 != NULL)
		return open_keys(&hc, c->key_blobs.v, c->key_blobs.n, "appliance key", out);
	return open_keys(&hc, c->keys.v, c->keys.n, "appliance key", out);
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
	return open_keys(&hc, &c->audit_key, 1, "audit key", out);
}

int token_soft(EVP_PKEY *const *privs, size_t n, struct token **out)
{
	struct token *t = NULL;
	size_t i;
	int r = 0;

	*out = NULL;
	if (n == 0 || n > TOKEN_MAX_KEYS)
		return err_set(ERR_INVALID_ARG, "%zu keys: give 1 to %d", n, TOKEN_MAX_KEYS);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_set(ERR_ALLOC, "token");
	atomic_init(&t->preferred, 0);
	for (i = 0; i < n; i++)
		if ((r = hsm_key_from_pkey(privs[i], &t->keys[i].k)) != 0 ||
		    (r = key_ready(t, i, "software key")) != 0)
			goto out;
	snprintf(t->desc, sizeof(t->desc), "software key%s (tests)", n > 1 ? "s" : "");
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
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < TOKEN_MAX_KEYS; i++)
		hsm_key_free(t->keys[i].k);
	hsm_close(t->h);
	free(t);
}

void token_renew(struct token *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		hsm_key_renew(t->keys[i].k);
}

size_t token_count(const struct token *t)
{
	return t->n;
}

void *token_key(struct token *t, size_t i)
{
	return t->keys[i].k;
}

int token_dh_callback(void *ctx, const uint8_t *peer, uint8_t *out)
{
	struct token_key *tk = ctx;

	atomic_fetch_add_explicit(&tk->dhs, 1, memory_order_relaxed);
	return hsm_key_ecdh(tk->k, peer, P256_POINT_LEN, out);
}

int token_dh(struct token *t, size_t i, const uint8_t peer[static P256_POINT_LEN],
	     uint8_t out[static P256_DH_LEN])
{
	return token_dh_callback(&t->keys[i], peer, out);
}

void *token_dh_ctx(struct token *t, size_t i)
{
	return &t->keys[i];
}

unsigned long token_dh_count(struct token *t, size_t i)
{
	return atomic_load_explicit(&t->keys[i].dhs, memory_order_relaxed);
}

int token_sign_callback(void *ctx, const uint8_t *data, size_t len, struct buf *sig)
{
	struct token *t = ctx;

	return hsm_key_sign_data(t->keys[0].k, data, len, sig);
}

size_t token_preferred(struct token *t)
{
	return atomic_load_explicit(&t->preferred, memory_order_relaxed);
}

void token_prefer(struct token *t, size_t i)
{
	if (i < t->n)
		atomic_store_explicit(&t->preferred, i, memory_order_relaxed);
}

const uint8_t *token_point(const struct token *t, size_t i)
{
	return t->keys[i].point;
}

const char *token_fingerprint(const struct token *t, size_t i)
{
	return t->keys[i].fpr;
}

const char *token_describe(const struct token *t)
{
	return t->desc;
}
