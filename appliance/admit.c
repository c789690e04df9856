// SPDX-License-Identifier: ISC
#include "admit.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

struct source {
	uint8_t key[16];
	uint64_t last_ms;    /* last refill or use */
	uint64_t tokens;     /* Hello tokens, in thousandths */
	uint64_t good_until; /* a handshake completed before this time */
	unsigned conns;      /* open connections */
	int used;
};

/* Two generations of ephemeral fingerprints: when the current one is half
 * full it becomes the old one, so the memory is fixed and the last
 * ADMIT_SEEN / 2 keys at least are always remembered. */
struct seen_gen {
	uint64_t *slots; /* open addressing; 0 is empty */
	size_t n;
};

struct admit {
	struct admit_config cfg;
	uint64_t seed[2];
	uint64_t rng;
	struct source *slots;
	size_t n_slots;
	/* the token budget, in thousandths of an operation */
	uint64_t budget_tokens, budget_cap, budget_last_ms;
	struct seen_gen seen[2]; /* [0] current, [1] previous */
};

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

/* A keyed mix (SipHash-like rounds; not cryptographic, only to keep
 * collisions unpredictable to a peer). len is a multiple of 8 or padded. */
static uint64_t mix(const struct admit *l, const uint8_t *p, size_t len)
{
	uint64_t v0 = l->seed[0] ^ 0x736f6d6570736575ULL, v1 = l->seed[1] ^ 0x646f72616e646f6dULL;
	size_t off;
	int i;

	for (off = 0; off < len; off += 8) {
		uint64_t m = 0;
		memcpy(&m, p + off, len - off < 8 ? len - off : 8);
		v0 ^= m;
		for (i = 0; i < 2; i++) {
			v0 += v1;
			v1 = rotl(v1, 13) ^ v0;
			v0 = rotl(v0, 32);
		}
		v1 ^= m;
	}
	v1 ^= (uint64_t)len;
	for (i = 0; i < 4; i++) {
		v0 += v1;
		v1 = rotl(v1, 17) ^ v0;
		v0 = rotl(v0, 21);
	}
	return v0 ^ v1;
}

/* xorshift64*: the drop decisions of MaxStartups need no more. */
static uint64_t rnd(struct admit *l)
{
	l->rng ^= l->rng >> 12;
	l->rng ^= l->rng << 25;
	l->rng ^= l->rng >> 27;
	return l->rng * 0x2545F4914F6CDD1DULL;
}

struct admit *admit_new(const struct admit_config *c)
{
	struct admit *l = calloc(1, sizeof(*l));
	size_t n = ADMIT_MIN_SLOTS;

	if (l == NULL)
		return NULL;
	l->cfg = *c;
	if (l->cfg.rate == 0)
		l->cfg.rate = 1;
	if (l->cfg.burst == 0)
		l->cfg.burst = 1;
	/* Room for every source the connection limit allows, twice over. */
	while (n < 2 * (size_t)c->max_connections && n < ((size_t)1 << 24))
		n <<= 1;
	l->n_slots = n;
	if (RAND_bytes((unsigned char *)l->seed, sizeof(l->seed)) != 1 ||
	    RAND_bytes((unsigned char *)&l->rng, sizeof(l->rng)) != 1 ||
	    (l->slots = calloc(n, sizeof(*l->slots))) == NULL ||
	    (l->seen[0].slots = calloc(ADMIT_SEEN, sizeof(uint64_t))) == NULL ||
	    (l->seen[1].slots = calloc(ADMIT_SEEN, sizeof(uint64_t))) == NULL) {
		admit_free(l);
		return NULL;
	}
	l->rng |= 1;
	l->budget_cap = (uint64_t)c->token_budget * 1000;
	l->budget_tokens = l->budget_cap;
	return l;
}

void admit_free(struct admit *l)
{
	if (l == NULL)
		return;
	free(l->slots);
	free(l->seen[0].slots);
	free(l->seen[1].slots);
	free(l);
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

/*
 * The entry of sa's source; with `create`, a free or recyclable way of its
 * set (never one with open connections). NULL if none.
 */
static struct source *find(struct admit *l, const struct sockaddr *sa, int create, uint64_t now_ms)
{
	uint8_t key[16];
	size_t set, i, victim = SIZE_MAX;
	uint64_t oldest = UINT64_MAX;
	struct source *e;

	key_of(sa, key);
	set = (size_t)(mix(l, key, 16) % (l->n_slots / ADMIT_WAYS)) * ADMIT_WAYS;
	for (i = set; i < set + ADMIT_WAYS; i++) {
		struct source *s = &l->slots[i];
		if (s->used && memcmp(s->key, key, 16) == 0)
			return s;
		if (!s->used) {
			if (oldest != 0) {
				oldest = 0;
				victim = i;
			}
		} else if (s->conns == 0 && s->last_ms < oldest) {
			oldest = s->last_ms;
			victim = i;
		}
	}
	if (!create || victim == SIZE_MAX)
		return NULL;
	e = &l->slots[victim];
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key, 16);
	e->used = 1;
	e->tokens = (uint64_t)l->cfg.burst * 1000;
	e->last_ms = now_ms;
	return e;
}

enum admit_verdict admit_conn_open(struct admit *l, const struct sockaddr *sa,
				     unsigned n_unauth, uint64_t now_ms)
{
	const struct admit_config *c = &l->cfg;
	struct source *e;

	if (c->startups_full > 0 && n_unauth >= c->startups_start) {
		/* OpenSSH's MaxStartups: from rate% at start to 100% at full. */
		uint64_t p = 100;
		if (n_unauth < c->startups_full)
			p = c->startups_rate + (uint64_t)(100 - c->startups_rate) *
						       (n_unauth - c->startups_start) /
						       (c->startups_full - c->startups_start);
		if (rnd(l) % 100 < p)
			return ADMIT_STARTUPS;
	}
	if ((e = find(l, sa, 1, now_ms)) == NULL)
		return ADMIT_TABLE_FULL;
	if (e->conns >= c->max_per_source)
		return ADMIT_PER_SOURCE;
	e->conns++;
	e->last_ms = now_ms > e->last_ms ? now_ms : e->last_ms;
	return ADMIT_OK;
}

void admit_conn_close(struct admit *l, const struct sockaddr *sa)
{
	struct source *e = find(l, sa, 0, 0);

	if (e != NULL && e->conns > 0)
		e->conns--;
}

/* Refill a bucket of `cap` thousandths at `rate` per second up to now. */
static void refill(uint64_t *tokens, uint64_t *last_ms, uint64_t cap, uint64_t rate, uint64_t now_ms)
{
	if (now_ms > *last_ms) {
		uint64_t dt = now_ms - *last_ms;
		/* rate tokens per 1000 ms, in thousandths: rate * dt */
		uint64_t add = dt > cap ? cap * rate : dt * rate;
		*tokens = *tokens + add > cap ? cap : *tokens + add;
		*last_ms = now_ms;
	}
}

enum admit_verdict admit_hello(struct admit *l, const struct sockaddr *sa, uint64_t now_ms)
{
	struct source *e = find(l, sa, 1, now_ms);
	uint64_t cost, reserve;
	int good;

	if (e == NULL)
		return ADMIT_TABLE_FULL;
	refill(&e->tokens, &e->last_ms, (uint64_t)l->cfg.burst * 1000, l->cfg.rate, now_ms);
	if (e->tokens < 1000)
		return ADMIT_RATE;
	e->tokens -= 1000;
	if (l->budget_cap == 0)
		return ADMIT_OK; /* no global budget */
	refill(&l->budget_tokens, &l->budget_last_ms, l->budget_cap, l->cfg.token_budget, now_ms);
	good = e->good_until > now_ms;
	cost = good ? 1000 : 2000;
	reserve = good ? 0 : l->budget_cap / 4;
	if (l->budget_tokens < cost + reserve)
		return ADMIT_BUDGET;
	l->budget_tokens -= cost;
	return ADMIT_OK;
}

void admit_good(struct admit *l, const struct sockaddr *sa, uint64_t now_ms)
{
	struct source *e = find(l, sa, 1, now_ms);

	if (e != NULL)
		e->good_until = now_ms + ADMIT_GOOD_MS;
}

static int seen_has(const struct seen_gen *g, uint64_t h)
{
	size_t i = (size_t)h & (ADMIT_SEEN - 1);

	while (g->slots[i] != 0) {
		if (g->slots[i] == h)
			return 1;
		i = (i + 1) & (ADMIT_SEEN - 1);
	}
	return 0;
}

int admit_ephemeral_seen(struct admit *l, const uint8_t e[static ADMIT_POINT_LEN])
{
	uint64_t h = mix(l, e, ADMIT_POINT_LEN) | 1; /* never 0, the empty mark */
	size_t i;

	if (seen_has(&l->seen[0], h) || seen_has(&l->seen[1], h))
		return 1;
	if (l->seen[0].n >= ADMIT_SEEN / 2) {
		/* Half full: the current generation becomes the old one. */
		uint64_t *old = l->seen[1].slots;
		memset(old, 0, ADMIT_SEEN * sizeof(uint64_t));
		l->seen[1] = l->seen[0];
		l->seen[0].slots = old;
		l->seen[0].n = 0;
	}
	i = (size_t)h & (ADMIT_SEEN - 1);
	while (l->seen[0].slots[i] != 0)
		i = (i + 1) & (ADMIT_SEEN - 1);
	l->seen[0].slots[i] = h;
	l->seen[0].n++;
	return 0;
}

const char *admit_verdict_text(enum admit_verdict v)
{
	switch (v) {
	case ADMIT_OK: return "ok";
	case ADMIT_PER_SOURCE: return "connections per source";
	case ADMIT_STARTUPS: return "unauthenticated connections";
	case ADMIT_TABLE_FULL: return "source table full";
	case ADMIT_RATE: return "handshake rate per address";
	case ADMIT_BUDGET: return "token budget";
	}
	return "unknown";
}
