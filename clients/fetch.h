// SPDX-License-Identifier: ISC
#ifndef COFFER_CLIENTS_FETCH_H
#define COFFER_CLIENTS_FETCH_H

/*
 * One conversation with one server on a connected socket (libcoffer
 * internal): Hello (Noise IK message 1, our static key behind the hsm DH
 * callback), then Link / KeyNotFound / Error, Get (all or named keys),
 * OkGet frames until the last, Bye.
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "pkey.h"
#include "secret.h"

struct hsm_key;

struct fetch_params {
	int fd;
	struct hsm_key *key;         /* our static key */
	const uint8_t *server_point; /* pinned, P256_POINT_LEN bytes */
	const char *const *names;    /* NULL: all */
	size_t n_names;
	uint64_t deadline; /* net_now_ms() clock */
	int replayed;      /* out: the server refused the Hello as replayed */
};

/* Receives the whole shard once it is complete (items valid during the call). */
typedef int (*fetch_sink_fn)(void *ctx, const struct secret *items, size_t n);

/*
 * Run the conversation. Returns COFFER_OK or a negative enum coffer_status
 * (coffer.h) classifying the failure, the detail in err_detail():
 *   COFFER_E_NETWORK        IO error, early close, timeout
 *   COFFER_E_SERVER_AUTH    Link does not authenticate with the pinned key,
 *                           or a plain Error whose reason starts "handshake"
 *   COFFER_E_UNKNOWN_CLIENT KeyNotFound (checked to carry our key)
 *   COFFER_E_NOT_FOUND      a named secret is not in the shard
 *   COFFER_E_SERVER         any other Error frame (its reason, escaped); for
 *                           "replayed Hello" p->replayed is set too (another
 *                           fetch with this key got in first: a fresh Hello
 *                           on a new connection will do)
 *   COFFER_E_PROTOCOL       anything off the protocol, or the sink refused the
 *                           shard with ERR_PROTOCOL
 *   COFFER_E_LOCAL          our key's DH failed, out of memory, the sink failed
 */
int fetch_run(struct fetch_params *p, fetch_sink_fn sink, void *ctx) WARN_UNUSED;

#endif
