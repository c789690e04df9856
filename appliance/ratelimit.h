// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_RATELIMIT_H
#define COFFER_APPLIANCE_RATELIMIT_H

/*
 * Per-source-address token buckets for handshakes: each address may start
 * `rate` handshakes per second with bursts of up to `burst`. The table has a
 * fixed size (RATELIMIT_SLOTS, set-associative, keyed hash with a random
 * key so that a peer cannot aim collisions); when a set is full, the entry
 * idle the longest is recycled, so memory never grows with the number of
 * addresses. IPv4 addresses are keyed by the whole address, IPv6 addresses
 * by their /64 (one host usually owns a whole /64). Not thread-safe: the
 * event loop owns it.
 */

#include <stdint.h>
#include <sys/socket.h>

#include "err.h"

#define RATELIMIT_SLOTS 4096
#define RATELIMIT_WAYS 8

struct ratelimit;

/* New limiter; NULL on allocation failure. */
struct ratelimit *ratelimit_new(unsigned rate, unsigned burst);
void ratelimit_free(struct ratelimit *rl);

/*
 * Take one token for the address at time now_ms (any monotonic clock in
 * milliseconds). Returns 1 if allowed, 0 if the address is over its rate.
 */
int ratelimit_allow(struct ratelimit *rl, const struct sockaddr *sa, uint64_t now_ms);

#endif
