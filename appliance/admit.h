// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_ADMIT_H
#define COFFER_APPLIANCE_ADMIT_H

/*
 * Admission control of the network process: what one hostile source may
 * take from everyone else, decided before any token work.
 *
 * - Per source (IPv4 by its /32, IPv6 by its /64): open connections at most
 *   max_per_source; Hellos at `rate` per second with bursts of `burst`
 *   (a token bucket); whether it completed a handshake lately ("good").
 *   The table is sized from the connection limit, keyed with a random key
 *   (collisions cannot be aimed) and set-associative: an entry with open
 *   connections is never recycled, an idle one is.
 * - Unauthenticated connections, all sources together: past `start`, a new
 *   one is dropped with a probability that rises from `rate_pct` percent to
 *   100 at `full` (OpenSSH's MaxStartups).
 * - A global budget of token operations per second (`token_budget`): a Hello
 *   from a good source costs one (its ss is cached after its first
 *   handshake), any other two; other sources may not take the last quarter
 *   of the budget, so known clients come first under a flood.
 * - Ephemeral keys of Hellos seen lately (the last ADMIT_SEEN or so): a
 *   Hello whose ephemeral key was seen before is a replay, refused before any
 *   DH.
 *
 * Not thread-safe: the network process's event loop owns it. Nothing here
 * makes a system call after admit_new (the sandbox forbids most).
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADMIT_MIN_SLOTS 4096
#define ADMIT_WAYS 8
#define ADMIT_SEEN 65536           /* ephemeral keys remembered (at least half of it) */
#define ADMIT_GOOD_MS (15 * 60 * 1000) /* a handshake keeps a source "good" this long */
#define ADMIT_POINT_LEN 65

struct admit_config {
	unsigned max_connections;  /* sizes the table */
	unsigned max_per_source;
	unsigned rate, burst;      /* Hellos per second per source */
	unsigned startups_start, startups_rate, startups_full;
	unsigned token_budget;     /* token operations per second, all sources */
};

enum admit_verdict {
	ADMIT_OK = 0,
	ADMIT_PER_SOURCE,  /* the source holds max_per_source connections */
	ADMIT_STARTUPS,    /* dropped: too many unauthenticated connections */
	ADMIT_TABLE_FULL,  /* no room to track this source (every way has connections) */
	ADMIT_RATE,        /* the source's Hello rate */
	ADMIT_BUDGET,      /* the token budget */
};

struct admit;

/* NULL on allocation failure (or if the random key cannot be had). */
struct admit *admit_new(const struct admit_config *c);
void admit_free(struct admit *l);

/* A connection from sa is accepted; n_unauth connections (this one not
 * counted) have not completed a handshake. ADMIT_OK counts it. */
enum admit_verdict admit_conn_open(struct admit *l, const struct sockaddr *sa,
				     unsigned n_unauth, uint64_t now_ms);
/* The connection counted by admit_conn_open closed. */
void admit_conn_close(struct admit *l, const struct sockaddr *sa);

/* A Hello header from sa: its source's rate, then the token budget. */
enum admit_verdict admit_hello(struct admit *l, const struct sockaddr *sa, uint64_t now_ms);

/* 1 if this ephemeral key was seen before (a replay), else 0 and remember it. */
int admit_ephemeral_seen(struct admit *l, const uint8_t e[static ADMIT_POINT_LEN]);

/* sa completed a handshake (a Link went out to it). */
void admit_good(struct admit *l, const struct sockaddr *sa, uint64_t now_ms);

/* Words for logs. */
const char *admit_verdict_text(enum admit_verdict v);

#endif
