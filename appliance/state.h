// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_STATE_H
#define COFFER_APPLIANCE_STATE_H

/*
 * What the appliance serves, loaded as one unit: the verified bundle, the
 * unsealed definition and the identity -> shard index built from it, the
 * identities the officers revoked (revoked.json: refused whatever the
 * definition says), and (with --cache-ss) the static-static DH of every
 * client whose public key the bundle carries, in secure memory. A state is immutable once loaded
 * and reference counted: connections hold the state they started on, a
 * reload swaps the server's pointer, and the last reference wipes it.
 */

#include <stddef.h>
#include <stdint.h>

#include "encoding.h"
#include "err.h"
#include "pkey.h"
#include "secret.h"

struct cfg;
struct token;

struct state_client {
	uint8_t id[IDENTITY_LEN];
	const char *name;          /* from the definition */
	struct secret_list shard;  /* storage owned by the state */
	int have_point;            /* the bundle carries this client's public key */
	uint8_t point[P256_POINT_LEN];
};

struct appl_state {
	unsigned long refs; /* atomic */
	uint64_t serial;
	char master_fpr[PKEY_FPR_TEXT_LEN + 1];
	struct state_client *clients; /* sorted by id */
	size_t n;
	size_t n_cached;
	size_t n_signers;  /* trust anchors whose signatures counted */
	size_t n_revoked;  /* identities in revoked.json */
	/*
	 * The ss cache: DH(appliance key k, client i) at slot i * ss_keys + k
	 * of ss_block (secure memory), valid once ss_ready[slot] is 2. Filled
	 * at load for the clients the bundle ships a public key of (--cache-ss),
	 * else by the first authenticated Hello of each registered client; it
	 * goes with the state (a reload starts empty). See state_ss_get/put.
	 */
	size_t ss_keys;
	uint8_t *ss_block;
	void *ss_ready; /* _Atomic unsigned char[n * ss_keys]: 0 empty, 1 filling, 2 ready */
	void *bundle;      /* the verified bundle (struct bundle *) */
	void *defs;        /* the parsed definition (provisioning/'s model, secure memory) */
	void *revoked;     /* the revocation list (struct revoked *), or NULL: none */
};

/*
 * Verify the bundle (trust anchors, --threshold distinct master signatures,
 * manifest, serial against the state file, every file), read revoked.json,
 * unseal coffer.sealed through the token (with every appliance key: a key
 * the file is not sealed to is refused, naming it), parse the definition,
 * index the clients and (cache_ss) precompute ss with every appliance key
 * for the clients not revoked. Logs the signature files that did not count
 * and how many identities are revoked. With `update_state` the accepted
 * serial is written to the state file. Any failure is returned with the
 * detail naming the step and the file; nothing is half-built. *out has one
 * reference.
 */
int state_load(const struct cfg *c, struct token *t, int update_state, struct appl_state **out)
	WARN_UNUSED;

/*
 * Build a state from ready-made clients (tests, and the loaders above):
 * takes ownership of clients[0..n) (the array is copied and sorted).
 * ERR_FORMAT if two clients have the same identity.
 */
int state_from_clients(const struct state_client *clients, size_t n, struct appl_state **out)
	WARN_UNUSED;

/*
 * Make room for the ss cache of every client with nkeys appliance keys
 * (n * nkeys * P256_DH_LEN bytes of secure memory), all slots empty.
 * Once per state, before it is shared. ERR_ALLOC.
 */
int state_ss_prepare(struct appl_state *st, size_t nkeys) WARN_UNUSED;

/* The cached ss of client c (one of st's) with appliance key k, or NULL. Thread-safe. */
const uint8_t *state_ss_get(const struct appl_state *st, const struct state_client *c, size_t k);

/*
 * Cache ss for client c with key k: the first call for a slot fills it,
 * later ones (and calls on a state without a cache) change nothing.
 * Thread-safe: a reader sees the slot only once it is whole.
 */
void state_ss_put(struct appl_state *st, const struct state_client *c, size_t k,
		  const uint8_t ss[static P256_DH_LEN]);

/*
 * With --rollback-counter: the serial floor the TPM counter holds (*written
 * 0 while it was never incremented); without one, 0. Reads only. The error
 * names the counter.
 */
int state_rollback_floor(const struct cfg *c, uint64_t *floor, int *written) WARN_UNUSED;

/* Take a reference (thread-safe). Returns st. */
struct appl_state *state_ref(struct appl_state *st);
/* Drop a reference; the last one wipes and frees. NULL is fine. */
void state_unref(struct appl_state *st);

/* The client with this identity, or NULL. */
const struct state_client *state_find(const struct appl_state *st,
				      const uint8_t id[static IDENTITY_LEN]);
/* 1 if the officers revoked this identity (revoked.json), else 0. */
int state_is_revoked(const struct appl_state *st, const uint8_t id[static IDENTITY_LEN]);
/* The client whose public point is pt (only clients with have_point), or NULL. */
const struct state_client *state_find_point(const struct appl_state *st,
					    const uint8_t pt[static P256_POINT_LEN]);

#endif
