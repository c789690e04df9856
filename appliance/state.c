// SPDX-License-Identifier: ISC
#include "state.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bounds.h"
#include "buf.h"
#include "cfg.h"
#include "log.h"
#include "secmem.h"
#include "token.h"

#ifdef COFFER_APPL_BUNDLE
#include "bundle.h"
#endif

static int cmp_client(const void *a, const void *b)
{
	return memcmp(((const struct state_client *)a)->id, ((const struct state_client *)b)->id,
		      IDENTITY_LEN);
}

static struct appl_state *state_alloc(void)
{
	struct appl_state *st = calloc(1, sizeof(*st));

	if (st != NULL)
		atomic_init((_Atomic unsigned long *)&st->refs, 1);
	return st;
}

static void state_free(struct appl_state *st)
{
	if (st == NULL)
		return;
	secmem_free(st->ss_block);
	free(st->clients);
	/* The definition text holds every secret: wiped by buf_free. */
	buf_free(st->definition);
#ifdef COFFER_APPL_BUNDLE
	bundle_free(st->bundle);
#endif
	/* XXX free st->defs once provisioning/ definitions are wired. */
	free(st);
}

int state_from_clients(const struct state_client *clients, size_t n, struct appl_state **out)
{
	struct appl_state *st = NULL;
	size_t i;
	int r = 0;

	*out = NULL;
	if ((st = state_alloc()) == NULL)
		return err_set(ERR_ALLOC, "state");
	if (n > 0) {
		if ((st->clients = calloc(n, sizeof(*st->clients))) == NULL) {
			r = err_set(ERR_ALLOC, "state index");
			goto out;
		}
		memcpy(st->clients, clients, n * sizeof(*clients));
		qsort(st->clients, n, sizeof(*st->clients), cmp_client);
		for (i = 1; i < n; i++) {
			if (memcmp(st->clients[i - 1].id, st->clients[i].id, IDENTITY_LEN) == 0) {
				char id[IDENTITY_TEXT_LEN + 1];
				identity_format(st->clients[i].id, id);
				r = err_set(ERR_FORMAT, "clients '%s' and '%s' share identity %s",
					    st->clients[i - 1].name, st->clients[i].name, id);
				goto out;
			}
		}
	}
	st->n = n;
	*out = st;
	st = NULL;
out:
	state_free(st);
	return r;
}

struct appl_state *state_ref(struct appl_state *st)
{
	atomic_fetch_add((_Atomic unsigned long *)&st->refs, 1);
	return st;
}

void state_unref(struct appl_state *st)
{
	if (st == NULL)
		return;
	if (atomic_fetch_sub((_Atomic unsigned long *)&st->refs, 1) == 1)
		state_free(st);
}

const struct state_client *state_find(const struct appl_state *st,
				      const uint8_t id[static IDENTITY_LEN])
{
	struct state_client key;

	if (st->n == 0)
		return NULL;
	memcpy(key.id, id, IDENTITY_LEN);
	return bsearch(&key, st->clients, st->n, sizeof(*st->clients), cmp_client);
}

const struct state_client *state_find_point(const struct appl_state *st,
					    const uint8_t pt[static P256_POINT_LEN])
{
	uint8_t id[IDENTITY_LEN];
	const struct state_client *c;
	EVP_PKEY *k = NULL;

	/* Identity = SHA-256 of the SPKI; the index is keyed by identity. */
	if (pkey_from_point(pt, P256_POINT_LEN, &k) != 0 || pkey_identity(k, id) != 0) {
		EVP_PKEY_free(k);
		err_clear();
		return NULL;
	}
	EVP_PKEY_free(k);
	c = state_find(st, id);
	if (c == NULL || !c->have_point || memcmp(c->point, pt, P256_POINT_LEN) != 0)
		return NULL;
	return c;
}

/* Precompute ss for each client whose public key is known. */
static int cache_ss(struct appl_state *st, struct token *t)
{
	size_t i;
	int r;

	if (st->n == 0)
		return 0;
	if ((st->ss_block = secmem_alloc(st->n * P256_DH_LEN)) == NULL)
		return err_set(ERR_ALLOC, "ss cache");
	for (i = 0; i < st->n; i++) {
		struct state_client *c = &st->clients[i];
		uint8_t *slot = st->ss_block + i * P256_DH_LEN;
		if (!c->have_point)
			continue;
		if ((r = token_dh(t, c->point, slot)) != 0)
			return err_wrap(r, "cache ss for client '%s'", c->name);
		c->ss = slot;
		st->n_cached++;
	}
	return 0;
}

#if defined(COFFER_APPL_BUNDLE) && defined(COFFER_APPL_SEALED) && defined(COFFER_APPL_DEFS)
/* XXX wire once provisioning/ sealed + definitions land. */
#error "state_load: wire sealed_open and definition_parse"
#else
int state_load(const struct cfg *c, struct token *t, int update_state, struct appl_state **out)
{
	(void)c;
	(void)t;
	(void)update_state;
	(void)cache_ss;
	*out = NULL;
#ifndef COFFER_APPL_BUNDLE
	return err_set(ERR_UNSUPPORTED,
		       "verify bundle: this appliance-server was built without provisioning/bundle");
#else
	return err_set(ERR_UNSUPPORTED,
		       "unseal coffer.sealed: this appliance-server was built without provisioning/sealed");
#endif
}
#endif
