// SPDX-License-Identifier: ISC
#ifndef COFFER_CLIENTS_SESSION_H
#define COFFER_CLIENTS_SESSION_H

/*
 * One conversation with one server on a connected socket: Hello (Noise IK
 * message 1 with our static key behind a DH callback), Link or KeyNotFound
 * or Error, Get (all or named keys), OkGet frames until the last, Bye.
 * Internal to libcoffer.
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "pkey.h"
#include "secret.h"

struct hsm_key;

struct session_params {
	int fd;
	struct hsm_key *key;                     /* our static key */
	const uint8_t *server_point;             /* pinned, P256_POINT_LEN bytes */
	const char *const *names;                /* NULL: all */
	size_t n_names;
	uint64_t deadline;                       /* net_now_ms() clock */
};

/* Receives each decoded OkGet chunk (items valid only during the call). */
typedef int (*session_sink_fn)(void *ctx, const struct secret *items, size_t n);

/*
 * Run the conversation. Returns COFFER_OK or a negative enum coffer_status
 * (coffer.h) classifying the failure, with the detail in err_detail():
 * COFFER_E_NETWORK (IO, timeout), COFFER_E_SERVER_AUTH (Link does not open
 * with the pinned key), COFFER_E_UNKNOWN_CLIENT, COFFER_E_SERVER (Error frame;
 * its reason, sanitised, in the detail), COFFER_E_PROTOCOL, COFFER_E_LOCAL
 * (our key's DH failed, memory), or the sink's failure as COFFER_E_LOCAL.
 */
int session_fetch(const struct session_params *p, session_sink_fn sink, void *ctx) WARN_UNUSED;

#endif
