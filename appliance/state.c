// SPDX-License-Identifier: ISC
#include "state.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bounds.h"
#include "buf.h"
#include "cfg.h"
#include "hsm.h"
#include "log.h"
#include "secmem.h"
#include "token.h"

#include "bundle.h"
#include "definition.h"
#include "file.h"
#include "revoked.h"
#include "sealed.h"

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

static void defs_free(void *defs)
{
	definition_free(defs);
}

static void state_free(struct appl_state *st)
{
	if (st == NULL)
		return;
	secmem_free(st->ss_block);
	free(st->ss_ready);
	free(st->clients);
	bundle_free(st->bundle);
	defs_free(st->defs);
	revoked_free(st->revoked);
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

int state_is_revoked(const struct appl_state *st, const uint8_t id[static IDENTITY_LEN])
{
	return st->revoked != NULL && revoked_contains(st->revoked, id);
}

const struct state_client *state_find_point(const struct appl_state *st,
					    const uint8_t pt[static P256_POINT_LEN])
{
	uint8_t id[IDENTITY_LEN];
	const struct state_client *c;

	/* Identity = SHA-256 of the SPKI; the index is keyed by identity. */
	if (pkey_identity_from_point(pt, id) != 0) {
		err_clear();
		return NULL;
	}
	c = state_find(st, id);
	if (c == NULL || !c->have_point || memcmp(c->point, pt, P256_POINT_LEN) != 0)
		return NULL;
	return c;
}

int state_ss_prepare(struct appl_state *st, size_t nkeys)
{
	size_t slots;

	if (st->ss_block != NULL || nkeys == 0 || st->n == 0)
		return 0;
	if (st->n > SIZE_MAX / nkeys || st->n * nkeys > SIZE_MAX / P256_DH_LEN)
		return err_set(ERR_ALLOC, "ss cache");
	slots = st->n * nkeys;
	if ((st->ss_ready = calloc(slots, sizeof(_Atomic unsigned char))) == NULL)
		return err_set(ERR_ALLOC, "ss cache");
	if ((st->ss_block = secmem_alloc(slots * P256_DH_LEN)) == NULL) {
		free(st->ss_ready);
		st->ss_ready = NULL;
		return err_set(ERR_ALLOC, "ss cache");
	}
	st->ss_keys = nkeys;
	return 0;
}

/* The slot of client c with key k, or SIZE_MAX if st has none for it. */
static size_t ss_slot(const struct appl_state *st, const struct state_client *c, size_t k)
{
	size_t i;

	if (st->ss_block == NULL || k >= st->ss_keys || c < st->clients || c >= st->clients + st->n)
		return SIZE_MAX;
	i = (size_t)(c - st->clients);
	return i * st->ss_keys + k;
}

const uint8_t *state_ss_get(const struct appl_state *st, const struct state_client *c, size_t k)
{
	size_t slot = ss_slot(st, c, k);
	_Atomic unsigned char *ready = st->ss_ready;

	if (slot == SIZE_MAX || atomic_load_explicit(&ready[slot], memory_order_acquire) != 2)
		return NULL;
	return st->ss_block + slot * P256_DH_LEN;
}

void state_ss_put(struct appl_state *st, const struct state_client *c, size_t k,
		  const uint8_t ss[static P256_DH_LEN])
{
	size_t slot = ss_slot(st, c, k);
	_Atomic unsigned char *ready = st->ss_ready;
	unsigned char empty = 0;

	/* Whoever moves the slot from empty to filling writes it; the rest leave it. */
	if (slot == SIZE_MAX ||
	    !atomic_compare_exchange_strong_explicit(&ready[slot], &empty, 1, memory_order_acquire,
						     memory_order_relaxed))
		return;
	memcpy(st->ss_block + slot * P256_DH_LEN, ss, P256_DH_LEN);
	atomic_store_explicit(&ready[slot], 2, memory_order_release);
}

/* --cache-ss: precompute ss with every appliance key for each client whose
 * public key the bundle ships. */
static int cache_ss(struct appl_state *st, struct token *t)
{
	uint8_t ss[P256_DH_LEN];
	size_t i, k, nk = token_count(t);
	int r = 0;

	for (i = 0; i < st->n && r == 0; i++) {
		struct state_client *c = &st->clients[i];
		/* A revoked client never completes a handshake: no DH for it. */
		if (!c->have_point || state_is_revoked(st, c->id))
			continue;
		for (k = 0; k < nk && r == 0; k++) {
			if ((r = token_dh(t, k, c->point, ss)) != 0)
				r = err_wrap(r, "cache ss for client '%s'", c->name);
			else
				state_ss_put(st, c, k, ss);
		}
		if (r == 0)
			st->n_cached++;
	}
	secmem_zero(ss, sizeof(ss));
	return r;
}

/*
 * Every served key must open the sealed file: a key it is not sealed to
 * would serve nothing once the others are gone, so it is refused now, not
 * on the day the old key is dropped. Key 0's text is the one served.
 */
static int unseal_all(struct token *t, const struct buf *sealed, EVP_PKEY *const *companions,
		      size_t ncompanions, uint8_t **text, size_t *textlen, enum sealed_format *format)
{
	size_t k, ci, len;
	enum sealed_format f;
	uint8_t *other = NULL;
	int r;

	*text = NULL;
	for (k = 0; k < token_count(t); k++) {
		r = sealed_open(buf_ptr(sealed), buf_len(sealed), token_key(t, k), companions, ncompanions,
				k == 0 ? text : &other, k == 0 ? textlen : &len,
				k == 0 ? format : &f, &ci);
		if (other != NULL) {
			secmem_free(other);
			other = NULL;
		}
		if (r != 0) {
			if (*text != NULL) {
				secmem_free(*text);
				*text = NULL;
			}
			/* Short: a reload's reason is cut at 256 bytes, and a token
			 * error must keep its CKR. */
			if (r == ERR_NOT_FOUND)
				return err_wrap(r, "appliance key %s", token_fingerprint(t, k));
			return token_count(t) > 1 ? err_wrap(r, "key %zu", k + 1) : r;
		}
	}
	return 0;
}

/* Public keys listed under dir/ in the bundle: companions/ holds the only
 * keys allowed to seal; keys/ the appliance keys and the client keys that
 * make an ss cache possible. */
static int bundle_keys(struct bundle *b, const char *dir, EVP_PKEY ***keysp, size_t *np)
{
	size_t dl = strlen(dir);
	const struct bundle_manifest *m = bundle_get_manifest(b);
	size_t i, count = bundle_manifest_count(m), n = 0;
	EVP_PKEY **keys = NULL;
	struct buf *pem = NULL;
	int r = 0;

	*keysp = NULL;
	*np = 0;
	if ((keys = calloc(count ? count : 1, sizeof(*keys))) == NULL)
		return err_set(ERR_ALLOC, "bundle keys");
	for (i = 0; i < count; i++) {
		const char *path = bundle_manifest_entry(m, i)->path;
		size_t len = strlen(path);
		if (strncmp(path, dir, dl) != 0 || path[dl] != '/' || strchr(path + dl + 1, '/') ||
		    len < 11 || strcmp(path + len - 11, "_public.pem") != 0)
			continue;
		buf_free(pem);
		pem = NULL;
		if ((r = bundle_read_file(b, path, PKEY_PEM_MAX, &pem)) != 0 ||
		    (r = pkey_public_from_pem(buf_ptr(pem), buf_len(pem), &keys[n])) != 0) {
			r = err_wrap(r, "bundle key %s", path);
			goto out;
		}
		n++;
	}
	*keysp = keys;
	*np = n;
	keys = NULL;
out:
	buf_free(pem);
	if (keys != NULL) {
		for (i = 0; i < n; i++)
			EVP_PKEY_free(keys[i]);
		free(keys);
	}
	return r;
}

/* Parse the unsealed definition and list its clients; the model (which owns
 * names and shards, in secure memory) goes to st->defs. */
static int index_definition(struct appl_state *st, const uint8_t *text, size_t len,
			    enum sealed_format format, struct state_client **clientsp, size_t *np)
{
	struct definition *def = NULL;
	struct state_client *cl = NULL;
	size_t i, n;
	int r;

	*clientsp = NULL;
	*np = 0;
	if ((r = definition_parse(text, len, "coffer.sealed",
				  format == SEALED_FORMAT_YAML ? DEF_YAML : DEF_TOML, &def)) != 0)
		return r;
	n = definition_client_count(def);
	if ((cl = calloc(n ? n : 1, sizeof(*cl))) == NULL) {
		definition_free(def);
		return err_set(ERR_ALLOC, "client index");
	}
	for (i = 0; i < n; i++) {
		const struct def_client *dc = definition_client_at(def, i);
		memcpy(cl[i].id, def_client_id(dc), IDENTITY_LEN);
		cl[i].name = def_client_name(dc);
		cl[i].shard = def_client_secrets(dc);
	}
	st->defs = def;
	*clientsp = cl;
	*np = n;
	return 0;
}

/* The TCTI of --rollback-counter tpm2:TCTI, or NULL. */
static const char *rollback_tcti(const struct cfg *c)
{
	return c->rollback_counter != NULL ? c->rollback_counter + strlen("tpm2:") : NULL;
}

int state_rollback_floor(const struct cfg *c, uint64_t *floor, int *written)
{
	const char *tcti = rollback_tcti(c);
	int r;

	*floor = 0;
	*written = 0;
	if (tcti == NULL)
		return 0;
	if ((r = hsm_counter_read(tcti, HSM_ROLLBACK_NV_INDEX, floor, written)) != 0)
		return err_wrap(r, "rollback counter %s", c->rollback_counter);
	return 0;
}

/* The serial floor the TPM counter holds, logged (0 without a counter). */
static int rollback_floor(const struct cfg *c, uint64_t *floor)
{
	int r, written = 0;

	if ((r = state_rollback_floor(c, floor, &written)) != 0 || c->rollback_counter == NULL)
		return r;
	log_info("rollback counter %s: NV index 0x%08x %s %llu", c->rollback_counter,
		 HSM_ROLLBACK_NV_INDEX, written ? "holds serial" : "never written:",
		 (unsigned long long)*floor);
	return 0;
}

/*
 * Raise the TPM counter to the serial just accepted, before the state file
 * records it: a crash in between leaves the TPM ahead, never behind.
 */
static int rollback_advance(const struct cfg *c, uint64_t floor, uint64_t serial)
{
	const char *tcti = rollback_tcti(c);
	uint64_t now = 0;
	int r;

	if (tcti == NULL || (floor == serial && floor > 0))
		return 0;
	if ((r = hsm_counter_advance(tcti, HSM_ROLLBACK_NV_INDEX, serial, &now)) != 0)
		return err_wrap(r, "rollback counter %s: raise to serial %llu", c->rollback_counter,
				(unsigned long long)serial);
	if (now != serial)
		return err_set(ERR_REPLAY,
			       "rollback counter %s: the TPM counter is at %llu, above the serial "
			       "%llu just accepted (a counter defined by hand starts above the "
			       "highest value this TPM's counters held): sign a manifest with a "
			       "serial of at least %llu",
			       c->rollback_counter, (unsigned long long)now,
			       (unsigned long long)serial, (unsigned long long)now);
	log_info("rollback counter %s: raised from %llu to serial %llu", c->rollback_counter,
		 (unsigned long long)floor, (unsigned long long)now);
	return 0;
}

/* A signature file of the bundle that did not count: the operator must see it. */
static void note_signature(void *arg, const char *file, const char *why)
{
	char e1[256];

	log_warn("bundle %s: %s: %s", (const char *)arg, log_untrusted(e1, sizeof(e1), file, 120),
		 why);
}

int state_load(const struct cfg *c, struct token *t, int update_state, struct appl_state **out)
{
	struct bundle_verify_opts vo;
	struct bundle *b = NULL;
	struct buf *sealed = NULL;
	EVP_PKEY **keys = NULL, **comps = NULL;
	size_t nkeys = 0, ncomps = 0, i, j, nclients = 0, textlen = 0;
	uint8_t *text = NULL;
	enum sealed_format format;
	struct state_client *clients = NULL;
	struct appl_state *st = NULL, tmp;
	struct revoked *rv = NULL;
	char tok[LIMIT_ANCHORS][PKEY_FPR_TEXT_LEN + 1];
	const char *anchors[LIMIT_ANCHORS];
	uint64_t serial;
	size_t listed = 0;
	int r;

	*out = NULL;
	if (c->n_trust_anchors == 0 || c->n_trust_anchors > LIMIT_ANCHORS || c->bundle == NULL ||
	    c->state_file == NULL)
		return err_set(ERR_INVALID_ARG, "load state: bundle, trust anchor and state file are required");
	memset(&tmp, 0, sizeof(tmp));
	memset(&vo, 0, sizeof(vo));
	for (i = 0; i < c->n_trust_anchors; i++) {
		anchors[i] = c->trust_anchors[i];
		if (strncmp(anchors[i], "token:", 6) != 0)
			continue;
		/* Read at every load, so a replaced anchor object takes effect on reload. */
		if ((r = token_anchor(t, anchors[i] + 6, tok[i])) != 0)
			goto out;
		anchors[i] = tok[i];
	}
	vo.anchors = anchors;
	vo.n_anchors = c->n_trust_anchors;
	vo.threshold = c->threshold;
	vo.note = note_signature;
	vo.note_arg = (void *)c->bundle;
	vo.state_file = c->state_file;
	/* The serial is recorded only once everything below succeeded. */
	vo.update_state = 0;
	/* The TPM's floor holds even when the state file is lost or restored. */
	if ((r = rollback_floor(c, &vo.min_serial)) != 0)
		goto out;
	if ((r = bundle_verify(c->bundle, &vo, &b)) != 0) {
		if (r == ERR_REPLAY && vo.min_serial > 0)
			r = err_wrap(r, "bundle %s (the TPM rollback counter holds %llu)", c->bundle,
				     (unsigned long long)vo.min_serial);
		else
			r = err_wrap(r, "bundle %s", c->bundle);
		goto out;
	}
	serial = bundle_serial(b);
	if ((r = revoked_from_bundle(b, &rv)) != 0) {
		r = err_wrap(r, "bundle %s", c->bundle);
		goto out;
	}
	if ((r = bundle_keys(b, BUNDLE_KEYS_DIR, &keys, &nkeys)) != 0 ||
	    (r = bundle_keys(b, BUNDLE_COMPANIONS_DIR, &comps, &ncomps)) != 0)
		goto out;
	/* Only registered companions seal; one of them that is also an appliance's
	 * or a client's key (keys/) is a bundle mistake, refused. */
	for (i = 0; i < ncomps; i++)
		for (j = 0; j < nkeys; j++)
			if (EVP_PKEY_eq(comps[i], keys[j]) == 1) {
				r = err_set(ERR_PERMISSION,
					    "bundle %s: a key in %s/ is also in %s/: a companion is "
					    "never an appliance's or a client's key",
					    c->bundle, BUNDLE_COMPANIONS_DIR, BUNDLE_KEYS_DIR);
				goto out;
			}
	if ((r = bundle_read_file(b, "coffer.sealed", LIMIT_SEALED, &sealed)) != 0) {
		r = err_wrap(r, "bundle %s: coffer.sealed", c->bundle);
		goto out;
	}
	if ((r = unseal_all(t, sealed, comps, ncomps, &text, &textlen, &format)) != 0) {
		r = err_wrap(r, "unseal %s/coffer.sealed", c->bundle);
		goto out;
	}
	if ((r = index_definition(&tmp, text, textlen, format, &clients, &nclients)) != 0) {
		r = err_wrap(r, "definition in %s/coffer.sealed", c->bundle);
		goto out;
	}
	if ((r = state_from_clients(clients, nclients, &st)) != 0)
		goto out;
	st->serial = serial;
	snprintf(st->master_fpr, sizeof(st->master_fpr), "%s", bundle_master_fingerprint(b));
	st->n_signers = bundle_signer_count(b);
	st->n_revoked = revoked_count(rv);
	st->revoked = rv;
	rv = NULL;
	st->bundle = b;
	b = NULL;
	st->defs = tmp.defs;
	tmp.defs = NULL;
	/* The model holds its own copies: the unsealed text goes now. */
	secmem_free(text);
	text = NULL;
	/* Client public keys shipped in the bundle make the ss cache possible. */
	for (i = 0; i < nkeys; i++) {
		uint8_t id[IDENTITY_LEN];
		struct state_client *cl;
		if (!pkey_is_p256(keys[i]) || pkey_identity(keys[i], id) != 0)
			continue;
		cl = (struct state_client *)state_find(st, id);
		if (cl != NULL && pkey_to_point(keys[i], cl->point) == 0)
			cl->have_point = 1;
	}
	err_clear();
	/* Room for every registered client's ss: filled now with --cache-ss,
	 * else by each client's first authenticated Hello. */
	if ((r = state_ss_prepare(st, token_count(t))) != 0 ||
	    (c->cache_ss && (r = cache_ss(st, t)) != 0))
		goto out;
	if (update_state && (r = rollback_advance(c, vo.min_serial, serial)) != 0)
		goto out;
	if (update_state) {
		char dir[4096];
		const char *slash = strrchr(c->state_file, '/');
		if (slash != NULL && (size_t)(slash - c->state_file) < sizeof(dir) &&
		    slash != c->state_file) {
			memcpy(dir, c->state_file, (size_t)(slash - c->state_file));
			dir[slash - c->state_file] = '\0';
			if ((r = file_mkdirs(dir, 0700)) != 0) {
				r = err_wrap(r, "state file %s", c->state_file);
				goto out;
			}
		}
		if ((r = bundle_state_write(c->state_file, serial)) != 0) {
			r = err_wrap(r, "record serial %llu", (unsigned long long)serial);
			goto out;
		}
	}
	for (i = 0; i < st->n; i++)
		if (state_is_revoked(st, st->clients[i].id))
			listed++;
	log_info("bundle %s: serial %llu signed by %zu of the trust anchors (threshold %u); %zu "
		 "identit%s revoked, %zu of them in the definition",
		 c->bundle, (unsigned long long)serial, st->n_signers, c->threshold, st->n_revoked,
		 st->n_revoked == 1 ? "y" : "ies", listed);
	*out = st;
	st = NULL;
out:
	revoked_free(rv);
	state_free(st);
	free(clients);
	defs_free(tmp.defs);
	bundle_free(b);
	buf_free(sealed);
	if (text != NULL)
		secmem_free(text);
	for (i = 0; i < nkeys; i++)
		EVP_PKEY_free(keys[i]);
	free(keys);
	for (i = 0; i < ncomps; i++)
		EVP_PKEY_free(comps[i]);
	free(comps);
	return r;
}
