// SPDX-License-Identifier: ISC
#ifndef COFFER_TESTS_FUZZ_SCRIPT_H
#define COFFER_TESTS_FUZZ_SCRIPT_H

/*
 * Scripted conversations for the fuzz targets that drive a server side
 * (protocol-server: protocol/'s session over the frame decoder;
 * appliance-conn: appliance/'s handler as the server calls it). The fuzz
 * input is a script for a client built here on protocol/'s Noise API: it
 * does the cryptography, so mutated bytes reach the server's code behind the
 * AEAD tags (the Hello payload, the Get name list, Bye, frames out of turn)
 * as well as raw bytes on the wire. What the server answers is read back and
 * checked:
 *   - a Link the client can read only for a registered key (0 or 1);
 *   - a KeyNotFound only for the unknown key, carrying the asker's own key;
 *   - OkGets that open with the asker's transport key hold only the asker's
 *     secrets, with their values.
 *
 * Script (one op byte, then its operands; the script ends where the input
 * does):
 *   0 RAW      u16 n, n bytes: put on the wire as they are
 *   1 HELLO    u8 p: client key p&3 (0, 1 registered; 2 unknown; 3 key 0
 *              pinning a wrong server key); timestamp (p>>2)&3 (0 newer
 *              than the last, 1 the same, 2 older, 3 a u64 from the script;
 *              the first "last" is the clock at the start of the run);
 *              p&0x10: the payload is u8 n + n bytes instead of the TAI64N;
 *              p&0x20: an impostor, sending key 0's public key but doing
 *              its DHs with key 2's private key
 *   2 SEALED   u8 type, u16 n, n bytes: sealed with the client's send key
 *              (AD = the type byte) and framed as that type
 *   3 GET      u8 mask: a Get for the names of script_names[] whose bit is
 *              set (mask 0: every secret)
 *   4 BYE      u8 p: Bye carrying our key (p&1: key 1's instead)
 *   5 CHUNK    u8 n: hand the server the wire n bytes at a time (0: at once)
 *   6 RECONNECT  a new connection to the same server (replay table kept)
 *   7 KNOB     u8 v: a setting of the server's own (the target says which)
 *   anything else: ignored
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "encoding.h"
#include "frame.h"
#include "msg.h"
#include "noise.h"
#include "pkey.h"
#include "session.h"
#include "fuzz.h"
#include "../protocol/vector_keys.h"

enum script_op {
	SCRIPT_RAW = 0,
	SCRIPT_HELLO = 1,
	SCRIPT_SEALED = 2,
	SCRIPT_GET = 3,
	SCRIPT_BYE = 4,
	SCRIPT_CHUNK = 5,
	SCRIPT_RECONNECT = 6,
	SCRIPT_KNOB = 7,
};

#define SCRIPT_KEYS 3     /* 0, 1 registered; 2 unknown */
#define SCRIPT_WRONG_PIN 3
#define SCRIPT_STEP_NS 1000000ULL

/* Client private scalars (any value in [1, n-1] would do). */
static const char *const script_client_hex[SCRIPT_KEYS] = {
	CLIENT_STATIC,
	"5a17c0ffee5a17c0ffee5a17c0ffee5a17c0ffee5a17c0ffee5a17c0ffee5a17",
	"0dd1ce0dd1ce0dd1ce0dd1ce0dd1ce0dd1ce0dd1ce0dd1ce0dd1ce0dd1ce0dd1",
};
/* A server key the clients did not pin. */
#define SCRIPT_WRONG_SERVER "3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e"

/* Names a GET mask picks from: both shards' names, a shared one, a missing one. */
static const char *const script_names[] = {"db_password", "port", "token", "shared",
					  "missing", "", "db_password"};
#define SCRIPT_NAMES (sizeof(script_names) / sizeof(script_names[0]))

/* The shards the server holds for keys 0 and 1 (what the oracle expects). */
static const struct secret script_shard0[] = {
	{.key = "db_password", .key_len = 11, .type = SECRET_STRING, .v.str = {"zero-secret", 11}},
	{.key = "port", .key_len = 4, .type = SECRET_INTEGER, .v.i = 5432},
	{.key = "shared", .key_len = 6, .type = SECRET_STRING, .v.str = {"zero", 4}},
};
static const struct secret script_shard1[] = {
	{.key = "token", .key_len = 5, .type = SECRET_STRING, .v.str = {"one-secret", 10}},
	{.key = "shared", .key_len = 6, .type = SECRET_STRING, .v.str = {"one", 3}},
};

/* The server side a target drives. */
struct script_server {
	/* A new connection (the previous one, if any, is dropped). */
	void (*connect)(void *ctx);
	/* Hand the server n wire bytes; its replies are appended to out.
	 * Returns 1 once the server has closed the connection. */
	int (*feed)(void *ctx, const uint8_t *p, size_t n, struct buf *out);
	/* A setting of the server's own (NULL: none). */
	void (*knob)(void *ctx, uint8_t v);
	void *ctx;
};

/* Keys both sides know; made once per process. */
struct script_keys {
	struct noise_key server;
	struct noise_key client[SCRIPT_KEYS];
	struct noise_key impostor; /* key 0's public key, key 2's private key */
	uint8_t wrong_server[P256_POINT_LEN];
	struct secret_list shard[2];
};

static inline void script_key(struct noise_key *k, const char *hex)
{
	uint8_t s[32];

	FUZZ_ASSERT(hex_decode(hex, 64, s, sizeof(s)) == 0 &&
		    noise_key_from_private(k, NOISE_DH_P256, s, sizeof(s)) == 0);
}

static inline const struct script_keys *script_keys(void)
{
	static struct script_keys k;
	static int ready;
	struct noise_key wrong;
	size_t i;

	if (ready)
		return &k;
	script_key(&k.server, SERVER_STATIC);
	for (i = 0; i < SCRIPT_KEYS; i++)
		script_key(&k.client[i], script_client_hex[i]);
	FUZZ_ASSERT(noise_key_from_callback(&k.impostor, NOISE_DH_P256, k.client[0].pub,
					    k.client[2].fn, k.client[2].ctx) == 0);
	script_key(&wrong, SCRIPT_WRONG_SERVER);
	memcpy(k.wrong_server, wrong.pub, P256_POINT_LEN);
	noise_key_clear(&wrong);
	k.shard[0] = (struct secret_list){script_shard0, sizeof(script_shard0) / sizeof(script_shard0[0])};
	k.shard[1] = (struct secret_list){script_shard1, sizeof(script_shard1) / sizeof(script_shard1[0])};
	ready = 1;
	return &k;
}

/* The client of one script run. */
struct script {
	const struct script_keys *k;
	const struct script_server *srv;
	struct noise_hs *hs;
	struct noise_cipher_state tx, rx;
	int transport;
	int who;     /* key of the last Hello (SCRIPT_WRONG_PIN for a wrong pin) */
	int closed;  /* the server closed this connection */
	unsigned hellos;
	uint64_t ts;
	size_t chunk;
	struct buf *wire, *reply;
	struct frame_decoder *dec;
	struct msg_shard *got;
};

static inline void script_drop_session(struct script *c)
{
	noise_hs_free(c->hs);
	c->hs = NULL;
	noise_cs_clear(&c->tx);
	noise_cs_clear(&c->rx);
	c->transport = 0;
	msg_shard_free(c->got);
	c->got = NULL;
}

static inline void script_connect(struct script *c)
{
	script_drop_session(c);
	frame_decoder_free(c->dec);
	FUZZ_ASSERT((c->dec = frame_decoder_new()) != NULL);
	c->closed = 0;
	c->srv->connect(c->srv->ctx);
}

/* Every secret of a finished shard is one of the asker's, value included. */
static inline void script_check_shard(struct script *c)
{
	const struct secret_list *want;
	struct secret_list l;
	size_t i, j;

	FUZZ_ASSERT(c->who == 0 || c->who == 1);
	want = &c->k->shard[c->who];
	if (msg_shard_list(c->got, &l) != 0)
		return;
	for (i = 0; i < l.n; i++) {
		const struct secret *g = &l.items[i], *w = NULL;
		for (j = 0; j < want->n; j++)
			if (want->items[j].key_len == g->key_len &&
			    memcmp(want->items[j].key, g->key, g->key_len) == 0)
				w = &want->items[j];
		FUZZ_ASSERT(w != NULL && w->type == g->type);
		if (w->type == SECRET_STRING)
			FUZZ_ASSERT(w->v.str.len == g->v.str.len &&
				    memcmp(w->v.str.ptr, g->v.str.ptr, g->v.str.len) == 0);
		else if (w->type == SECRET_INTEGER)
			FUZZ_ASSERT(w->v.i == g->v.i);
	}
}

/* One frame from the server. */
static inline void script_read_frame(struct script *c, const struct frame *f)
{
	struct noise_cipher_state c1, c2;
	struct buf *pt = buf_new(0);
	uint8_t type = f->type;
	int more;

	FUZZ_ASSERT(pt != NULL);
	if ((type == FRAME_LINK || type == FRAME_KEY_NOT_FOUND) && c->hs != NULL) {
		if (noise_hs_read(c->hs, f->body, f->len, pt) == 0) {
			/* Only our own Hello's answer opens: the oracle's premise. */
			if (type == FRAME_LINK) {
				FUZZ_ASSERT(c->who == 0 || c->who == 1);
				FUZZ_ASSERT(buf_len(pt) == 0);
				FUZZ_ASSERT(noise_hs_split(c->hs, &c1, &c2) == 0);
				c->tx = c1;
				c->rx = c2;
				c->transport = 1;
			} else {
				FUZZ_ASSERT(c->who == 2);
				FUZZ_ASSERT(buf_len(pt) == P256_POINT_LEN &&
					    memcmp(buf_ptr(pt), c->k->client[c->who].pub,
						   P256_POINT_LEN) == 0);
			}
		}
		noise_hs_free(c->hs);
		c->hs = NULL;
	} else if (type == FRAME_OKGET && c->transport &&
		   noise_cs_decrypt(&c->rx, &type, 1, f->body, f->len, pt) == 0) {
		if (c->got == NULL)
			FUZZ_ASSERT((c->got = msg_shard_new(0, 0)) != NULL);
		/* What the server sends must be what a client accepts. */
		FUZZ_ASSERT(msg_shard_add(c->got, buf_ptr(pt), buf_len(pt), &more) == 0);
		if (!more) {
			script_check_shard(c);
			msg_shard_free(c->got);
			c->got = NULL;
		}
	}
	buf_free(pt);
}

/* Hand the wire to the server and read what it answers. */
static inline void script_flush(struct script *c)
{
	const uint8_t *p = buf_ptr(c->wire);
	size_t n = buf_len(c->wire), off = 0, step, used;
	struct frame f;

	while (off < n && !c->closed) {
		step = c->chunk == 0 || n - off < c->chunk ? n - off : c->chunk;
		buf_reset(c->reply);
		c->closed = c->srv->feed(c->srv->ctx, p + off, step, c->reply);
		off += step;
		/* The server's frames, as a client's decoder takes them. */
		for (size_t roff = 0; roff < buf_len(c->reply); roff += used) {
			if (frame_decoder_feed(c->dec, buf_ptr(c->reply) + roff,
					       buf_len(c->reply) - roff, &used, &f) != 0)
				break;
			script_read_frame(c, &f);
		}
	}
	buf_reset(c->wire);
}

static inline void script_seal(struct script *c, uint8_t type, const uint8_t *pt, size_t n)
{
	struct buf *body;

	if (!c->transport)
		return;
	FUZZ_ASSERT((body = buf_new(0)) != NULL);
	if (noise_cs_encrypt(&c->tx, &type, 1, pt, n, body) == 0 &&
	    frame_encode(c->wire, type, buf_ptr(body), buf_len(body)) != 0) {
		/* Too large for its type: nothing sent. */
	}
	buf_free(body);
}

static inline int script_hello(struct script *c, struct buf *in)
{
	struct noise_proto proto;
	uint8_t p, n, ts[SESSION_TAI64N_LEN], eph[32];
	const uint8_t *payload = ts;
	size_t plen = sizeof(ts);
	uint64_t t;
	struct buf *body;
	const struct noise_key *s;
	int key, r;

	if ((r = buf_get_u8(in, &p)) != 0)
		return r;
	key = p & 3;
	switch ((p >> 2) & 3) {
	case 0: c->ts += SCRIPT_STEP_NS; break;
	case 1: break;
	case 2: c->ts -= SCRIPT_STEP_NS; break;
	default:
		if ((r = buf_get_u64(in, &t)) != 0)
			return r;
		c->ts = t;
	}
	session_tai64n_encode(c->ts, ts);
	if ((p & 0x10) && ((r = buf_get_u8(in, &n)) != 0 || (r = buf_get_direct(in, &payload, n)) != 0))
		return r;
	if (p & 0x10)
		plen = n;
	script_drop_session(c);
	c->who = key;
	s = &c->k->client[key == SCRIPT_WRONG_PIN ? 0 : key];
	if (p & 0x20) {
		s = &c->k->impostor;
		c->who = 2; /* it holds no registered key */
	}
	/* A fresh ephemeral per Hello, the same ones in every run. */
	FUZZ_ASSERT(hex_decode(CLIENT_EPHEMERAL, 64, eph, sizeof(eph)) == 0);
	eph[31] ^= (uint8_t)++c->hellos;
	FUZZ_ASSERT(noise_proto_parse(SESSION_PROTOCOL, &proto) == 0);
	FUZZ_ASSERT(noise_hs_new(&proto, 1, (const uint8_t *)SESSION_PROLOGUE,
				 strlen(SESSION_PROLOGUE), s,
				 key == SCRIPT_WRONG_PIN ? c->k->wrong_server : c->k->server.pub,
				 &c->hs) == 0);
	FUZZ_ASSERT(noise_hs_set_ephemeral(c->hs, eph, sizeof(eph)) == 0);
	FUZZ_ASSERT((body = buf_new(0)) != NULL);
	if (noise_hs_write(c->hs, payload, plen, body) == 0 &&
	    frame_encode(c->wire, FRAME_HELLO, buf_ptr(body), buf_len(body)) != 0) {
		/* An oversized payload: nothing sent. */
	}
	buf_free(body);
	return 0;
}

static inline int script_get(struct script *c, uint8_t mask)
{
	const char *names[SCRIPT_NAMES];
	size_t lens[SCRIPT_NAMES], n = 0, i;
	struct buf *pt;

	for (i = 0; i < SCRIPT_NAMES; i++) {
		if (mask & (1u << i)) {
			names[n] = script_names[i];
			lens[n++] = strlen(script_names[i]);
		}
	}
	FUZZ_ASSERT((pt = buf_new(0)) != NULL);
	if (msg_encode_names(pt, names, lens, n) == 0)
		script_seal(c, FRAME_GET, buf_ptr(pt), buf_len(pt));
	buf_free(pt);
	return 0;
}

/* One op of the script; non-zero once the script is used up. */
static inline int script_op(struct script *c, struct buf *in)
{
	const uint8_t *p;
	uint16_t n;
	uint8_t op, v;
	int r;

	if ((r = buf_get_u8(in, &op)) != 0)
		return r;
	switch (op) {
	case SCRIPT_RAW:
		if ((r = buf_get_u16(in, &n)) != 0 || (r = buf_get_direct(in, &p, n)) != 0)
			return r;
		return buf_put(c->wire, p, n);
	case SCRIPT_HELLO:
		return script_hello(c, in);
	case SCRIPT_SEALED:
		if ((r = buf_get_u8(in, &v)) != 0 || (r = buf_get_u16(in, &n)) != 0 ||
		    (r = buf_get_direct(in, &p, n)) != 0)
			return r;
		script_seal(c, v, p, n);
		return 0;
	case SCRIPT_GET:
		if ((r = buf_get_u8(in, &v)) != 0)
			return r;
		return script_get(c, v);
	case SCRIPT_BYE:
		if ((r = buf_get_u8(in, &v)) != 0)
			return r;
		script_seal(c, FRAME_BYE, c->k->client[(v & 1) ? 1 : c->who % SCRIPT_KEYS].pub,
			   P256_POINT_LEN);
		return 0;
	case SCRIPT_CHUNK:
		if ((r = buf_get_u8(in, &v)) != 0)
			return r;
		c->chunk = v;
		return 0;
	case SCRIPT_RECONNECT:
		script_connect(c);
		return 0;
	case SCRIPT_KNOB:
		if ((r = buf_get_u8(in, &v)) != 0)
			return r;
		if (c->srv->knob != NULL)
			c->srv->knob(c->srv->ctx, v);
		return 0;
	}
	return 0;
}

/* Run one script against srv. */
static inline void script_run(const uint8_t *data, size_t size, const struct script_server *srv)
{
	struct script c;
	struct buf *in = buf_from(data, size);
	struct timespec now;

	memset(&c, 0, sizeof(c));
	c.k = script_keys();
	c.srv = srv;
	/* Timestamps near the server's clock: a server may refuse stale ones. */
	FUZZ_ASSERT(clock_gettime(CLOCK_REALTIME, &now) == 0);
	c.ts = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	FUZZ_ASSERT(in != NULL && (c.wire = buf_new(0)) != NULL && (c.reply = buf_new(0)) != NULL);
	script_connect(&c);
	while (script_op(&c, in) == 0) {
		if (buf_len(c.wire) > 0 && !c.closed)
			script_flush(&c);
		buf_reset(c.wire);
	}
	script_drop_session(&c);
	frame_decoder_free(c.dec);
	buf_free(c.wire);
	buf_free(c.reply);
	buf_free(in);
}

/* Seed scripts: the ordinary conversations and the usual ways to go wrong. */
static inline int script_seeds(const char *dir)
{
	static const struct {
		const char *name;
		size_t len;
		uint8_t s[40];
	} seeds[] = {
		{"fetch-all", 6, {SCRIPT_HELLO, 0, SCRIPT_GET, 0, SCRIPT_BYE, 0}},
		{"fetch-names", 6, {SCRIPT_HELLO, 1, SCRIPT_GET, 0x0c, SCRIPT_BYE, 0}},
		{"fetch-missing", 4, {SCRIPT_HELLO, 0, SCRIPT_GET, 0x13}},
		{"fetch-other", 6, {SCRIPT_HELLO, 0, SCRIPT_GET, 0x04, SCRIPT_BYE, 1}},
		{"unknown-key", 2, {SCRIPT_HELLO, 2}},
		{"wrong-pin", 2, {SCRIPT_HELLO, 3}},
		{"replay", 7, {SCRIPT_HELLO, 0, SCRIPT_RECONNECT, SCRIPT_HELLO, 0x04, SCRIPT_GET, 0}},
		{"older", 5, {SCRIPT_HELLO, 1, SCRIPT_RECONNECT, SCRIPT_HELLO, 0x09}},
		{"two-hellos", 4, {SCRIPT_HELLO, 0, SCRIPT_HELLO, 0}},
		{"bad-payload", 5, {SCRIPT_HELLO, 0x10, 3, 'a', 'b'}},
		{"chunked", 8, {SCRIPT_CHUNK, 1, SCRIPT_HELLO, 0, SCRIPT_GET, 0, SCRIPT_BYE, 0}},
		{"sealed-get", 8, {SCRIPT_HELLO, 0, SCRIPT_SEALED, FRAME_GET, 0, 2, 0x81, 0x60}},
		{"sealed-okget", 7, {SCRIPT_HELLO, 0, SCRIPT_SEALED, FRAME_OKGET, 0, 1, 0}},
		{"get-before-hello", 8, {SCRIPT_RAW, 0, 5, 0, 2, FRAME_GET, 0xa0, 0}},
		{"huge-header", 6, {SCRIPT_RAW, 0, 3, 0xff, 0xff, FRAME_OKGET}},
		{"bye-twice", 8, {SCRIPT_HELLO, 0, SCRIPT_BYE, 0, SCRIPT_BYE, 0, SCRIPT_GET, 0}},
		{"impostor", 4, {SCRIPT_HELLO, 0x20, SCRIPT_GET, 0}},
		{"knob", 6, {SCRIPT_KNOB, 1, SCRIPT_HELLO, 0, SCRIPT_GET, 0}},
		{"bad-get", 8, {SCRIPT_HELLO, 0, SCRIPT_SEALED, FRAME_GET, 0, 2, 0xa1, 0x00}},
	};
	struct buf *b;
	size_t i;
	int r = 0;

	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]) && r == 0; i++) {
		if ((b = buf_from(seeds[i].s, seeds[i].len)) == NULL)
			return -1;
		r = fuzz_seed_write(dir, seeds[i].name, b);
		buf_free(b);
	}
	return r;
}

/* Every target driven by scripts starts from the same ones. */
int fuzz_seeds(const char *dir)
{
	return script_seeds(dir);
}

#endif
