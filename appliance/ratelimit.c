// SPDX-License-Identifier: ISC
#include "ratelimit.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

struct rl_entry {
	uint8_t key[16];
	uint64_t last_ms;  /* last refill */
	uint64_t tokens;   /* in thousandths of a token */
	int used;
};

struct ratelimit {
	uint64_t rate, burst; /* tokens per second; bucket size */
	uint64_t seed[2];
	struct rl_entry slots[RATELIMIT_SLOTS];
};

_Static_assert(RATELIMIT_SLOTS % RATELIMIT_WAYS == 0, "whole sets");

struct ratelimit *ratelimit_new(unsigned rate, unsigned burst)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	if (RAND_bytes((unsigned char *)rl->seed, sizeof(rl->seed)) != 1) {
		free(rl);
		return NULL;
	}
	rl->rate = rate ? rate : 1;
	rl->burst = burst ? burst : 1;
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	free(rl);
}

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

/* A keyed mix of the 16-byte key (SipHash-like rounds; not cryptographic,
 * only to keep collisions unpredictable). */
static uint64_t mix(const struct ratelimit *rl, const uint8_t key[16])
{
	uint64_t a, b, v0 = rl->seed[0] ^ 0x736f6d6570736575ULL, v1 = rl->seed[1] ^ 0x646f72616e646f6dULL;
	int i;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	v0 ^= a;
	v1 ^= b;
	for (i = 0; i < 4; i++) {
		v0 += v1;
		v1 = rotl(v1, 13) ^ v0;
		v0 = rotl(v0, 32);
		v1 += a;
		v0 ^= rotl(v1, 17);
		v1 ^= b;
	}
	return v0 ^ v1;
}

static void key_of(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
		key[10] = 0xff;
		key[11] = 0xff;
		memcpy(key + 12, &a4->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *p = a6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
			memcpy(key, p, 16);
		else
			memcpy(key, p, 8); /* the /64 */
	}
}

int ratelimit_allow(struct ratelimit *rl, const struct sockaddr *sa, uint64_t now_ms)
{
	uint8_t key[16];
	size_t set, i, victim = 0;
	struct rl_entry *e = NULL;
	uint64_t oldest = UINT64_MAX, cap = rl->burst * 1000;

	key_of(sa, key);
	set = (size_t)(mix(rl, key) % (RATELIMIT_SLOTS / RATELIMIT_WAYS)) * RATELIMIT_WAYS;
	for (i = set; i < set + RATELIMIT_WAYS; i++) {
		struct rl_entry *s = &rl->slots[i];
		if (s->used && memcmp(s->key, key, 16) == 0) {
			e = s;
			break;
		}
		if (!s->used) {
			if (oldest != 0) {
				oldest = 0;
				victim = i;
			}
		} else if (s->last_ms < oldest) {
			oldest = s->last_ms;
			victim = i;
		}
	}
	if (e == NULL) {
		e = &rl->slots[victim];
		memcpy(e->key, key, 16);
		e->used = 1;
		e->tokens = cap;
		e->last_ms = now_ms;
	}
	if (now_ms > e->last_ms) {
		uint64_t dt = now_ms - e->last_ms;
		/* rate tokens per 1000 ms, in thousandths: rate * dt */
		uint64_t add = dt > cap ? cap * rl->rate : dt * rl->rate;
		e->tokens = e->tokens + add > cap ? cap : e->tokens + add;
		e->last_ms = now_ms;
	}
	if (e->tokens < 1000)
		return 0;
	e->tokens -= 1000;
	return 1;
}
