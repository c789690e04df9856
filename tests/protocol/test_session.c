// SPDX-License-Identifier: ISC
/*
 * Full client <-> server conversations in memory (software static keys via
 * the DH callback): handshake, Get, multi-frame OkGet, Bye; then every way
 * it must fail, each with its named reason.
 */
#include "session.h"

#include "buf.h"
#include "convo.h"
#include "noise.h"
#include "unit.h"

#define ASSERT_DETAIL(s)                                                                           \
	do {                                                                                       \
		if (strstr(err_detail(), (s)) == NULL)                                             \
			UNIT_FAIL("detail \"%s\" lacks \"%s\"", err_detail(), (s));                 \
	} while (0)

static struct convo_keys K;
static struct frame_decoder *D;

static struct secret secrets[40];
static char keybuf[40][32], valbuf[40][200];
static struct secret_list shard = {secrets, 40};

static void make_shard(void)
{
	size_t i;

	for (i = 0; i < 40; i++) {
		snprintf(keybuf[i], sizeof(keybuf[i]), "key_%zu", i);
		secrets[i].key = keybuf[i];
		secrets[i].key_len = strlen(keybuf[i]);
		switch (i % 8) {
		case 0:
			memset(valbuf[i], 'a' + (int)(i % 26), 150);
			valbuf[i][150] = 0;
			secrets[i].type = SECRET_STRING;
			secrets[i].v.str.ptr = valbuf[i];
			secrets[i].v.str.len = 150;
			break;
		case 1: secrets[i].type = SECRET_INTEGER; secrets[i].v.i = -5432 * (int64_t)i; break;
		case 2: secrets[i].type = SECRET_FLOAT; secrets[i].v.f = 0.75 * (double)i; break;
		case 3: secrets[i].type = SECRET_BOOL; secrets[i].v.b = 1; break;
		case 4:
			secrets[i].type = SECRET_DATETIME;
			secrets[i].v.str.ptr = "2026-11-01T12:00:00Z";
			secrets[i].v.str.len = 20;
			break;
		case 5:
			secrets[i].type = SECRET_LOCAL_DATE;
			secrets[i].v.str.ptr = "2026-11-01";
			secrets[i].v.str.len = 10;
			break;
		case 6:
			secrets[i].type = SECRET_LOCAL_DATETIME;
			secrets[i].v.str.ptr = "2026-11-01T12:00:00.5";
			secrets[i].v.str.len = 21;
			break;
		default:
			secrets[i].type = SECRET_LOCAL_TIME;
			secrets[i].v.str.ptr = "07:32:00";
			secrets[i].v.str.len = 8;
		}
	}
}

static int same_secret(const struct secret *a, const struct secret *b)
{
	if (a->key_len != b->key_len || memcmp(a->key, b->key, a->key_len) != 0 || a->type != b->type)
		return 0;
	switch (a->type) {
	case SECRET_INTEGER: return a->v.i == b->v.i;
	case SECRET_FLOAT: return a->v.f == b->v.f;
	case SECRET_BOOL: return !a->v.b == !b->v.b;
	default:
		return a->v.str.len == b->v.str.len &&
		       memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len) == 0;
	}
}


static int pair_new(struct convo_pair *p, const uint8_t *pinned, uint64_t ts)
{
	struct session_client_config cc = {noise_pkey_dh, K.client, K.client_pub,
					   pinned ? pinned : K.server_pub, ts};
	struct session_server_config sc = {noise_pkey_dh, K.server, K.server_pub};

	return convo_pair_new(p, &cc, &sc);
}


/* Hello through Link with a known client; replay table updated. */
static int handshake(struct convo_pair *p, struct replay *rt)
{
	uint8_t cpub[65];
	uint64_t ts;
	int r;

	if ((r = session_client_hello(p->c, p->wire)) != 0 || (r = convo_xfer(D, p)) != 0 ||
	    (r = session_server_hello_begin(p->s, &p->f, cpub)) != 0)
		return r;
	if (memcmp(cpub, K.client_pub, 65) != 0)
		return ERR_INTERNAL;
	if ((r = session_server_hello_finish(p->s, NULL, &ts)) != 0)
		return r;
	if (rt != NULL && (r = replay_update(rt, cpub, ts)) != 0)
		return r;
	if ((r = session_server_link(p->s, p->wire)) != 0 || (r = convo_xfer(D, p)) != 0 ||
	    (r = session_client_read_link(p->c, &p->f)) != 0)
		return r;
	return 0;
}

static void test_full(void)
{
	struct convo_pair p;
	struct replay *rt = replay_new(0);
	struct msg_names *names = NULL;
	struct msg_chunker ch;
	struct msg_shard *sh = msg_shard_new(0, 0);
	struct secret_list got;
	int more = 1, frames = 0, cmore;
	size_t i;

	TEST_START("full conversation, multi-frame OkGet");
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(handshake(&p, rt), 0);
	ASSERT_INT_EQ(session_client_get(p.c, NULL, NULL, 0, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_read_get(p.s, &p.f, &names), 0);
	ASSERT_TRUE(names != NULL && names->all);
	msg_chunker_init(&ch, &shard, 400);
	while (more) {
		ASSERT_INT_EQ(session_server_okget(p.s, &ch, p.wire, &more), 0);
		ASSERT_TRUE(buf_len(p.wire) <= 400 + 16 + 3);
		ASSERT_INT_EQ(convo_xfer(D, &p), 0);
		ASSERT_INT_EQ(session_client_read_okget(p.c, &p.f, sh, &cmore), 0);
		ASSERT_INT_EQ(cmore, more);
		if (++frames > 100)
			break;
	}
	ASSERT_TRUE(frames > 3);
	ASSERT_TRUE(msg_shard_complete(sh));
	ASSERT_INT_EQ(msg_shard_list(sh, &got), 0);
	ASSERT_SIZE_EQ(got.n, shard.n);
	for (i = 0; i < got.n && i < shard.n; i++)
		ASSERT_TRUE(same_secret(&got.items[i], &shard.items[i]));
	ASSERT_INT_EQ(session_client_bye(p.c, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_read_bye(p.s, &p.f), 0);
	ASSERT_TRUE(session_done(p.c) && session_done(p.s));
	/* Nothing more after Bye. */
	ASSERT_INT_EQ(session_client_bye(p.c, p.wire), ERR_PROTOCOL);
	ASSERT_DETAIL("after the conversation is over");
	msg_names_free(names);
	msg_shard_free(sh);
	convo_pair_free(&p);
	replay_free(rt);
	TEST_DONE();
}

static void test_named_get(void)
{
	struct convo_pair p;
	struct msg_names *names = NULL;
	const char *want[] = {"db_password", "port"};
	size_t lens[] = {11, 4};

	TEST_START("Get with key names; Link then Bye");
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(handshake(&p, NULL), 0);
	ASSERT_INT_EQ(session_client_get(p.c, want, lens, 2, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_read_get(p.s, &p.f, &names), 0);
	ASSERT_TRUE(names != NULL && !names->all && names->n == 2);
	if (names != NULL && names->n == 2) {
		ASSERT_STR_EQ(names->names[0], "db_password");
		ASSERT_STR_EQ(names->names[1], "port");
	}
	/* A sealed Error answering the Get. */
	ASSERT_INT_EQ(session_server_error(p.s, "secret not found: port", p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	{
		struct msg_shard *sh = msg_shard_new(0, 0);
		int more;
		ASSERT_TRUE(memmem(p.f.body, p.f.len, "secret", 6) == NULL); /* sealed */
		ASSERT_INT_EQ(session_client_read_okget(p.c, &p.f, sh, &more), ERR_NOT_FOUND);
		ASSERT_DETAIL("server refused: secret not found: port");
		msg_shard_free(sh);
	}
	msg_names_free(names);
	convo_pair_free(&p);

	TEST_START("Link then Bye without Get");
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(handshake(&p, NULL), 0);
	ASSERT_INT_EQ(session_client_bye(p.c, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_read_bye(p.s, &p.f), 0);
	convo_pair_free(&p);
	TEST_DONE();
}

static void test_cached_ss(void)
{
	struct convo_pair p;
	uint8_t cpub[65], ss[32];
	uint64_t ts;
	EVP_PKEY *cp = NULL;

	TEST_START("server supplies a cached ss");
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(session_client_hello(p.c, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), 0);
	ASSERT_INT_EQ(pkey_from_point(cpub, 65, &cp), 0);
	ASSERT_INT_EQ(pkey_ecdh(K.server, cp, ss), 0);
	ASSERT_INT_EQ(session_server_hello_finish(p.s, ss, &ts), 0);
	ASSERT_INT_EQ(session_server_link(p.s, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_client_read_link(p.c, &p.f), 0);
	convo_pair_free(&p);

	TEST_START("a wrong cached ss is refused");
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(session_client_hello(p.c, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), 0);
	ss[0] ^= 1;
	ASSERT_INT_EQ(session_server_hello_finish(p.s, ss, &ts), ERR_AUTH);
	ASSERT_DETAIL("decrypt handshake payload: authentication tag mismatch");
	EVP_PKEY_free(cp);
	convo_pair_free(&p);
	TEST_DONE();
}

static void test_unknown_client(void)
{
	struct convo_pair p;
	uint8_t cpub[65];
	uint64_t ts;

	TEST_START("unknown client gets a sealed KeyNotFound");
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(session_client_hello(p.c, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), 0);
	/* KeyNotFound only once the Hello authenticated. */
	ASSERT_INT_EQ(session_server_key_not_found(p.s, p.wire), ERR_INVALID_ARG);
	convo_pair_free(&p);

	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(session_client_hello(p.c, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), 0);
	ASSERT_INT_EQ(session_server_hello_finish(p.s, NULL, &ts), 0);
	ASSERT_INT_EQ(session_server_key_not_found(p.s, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(p.f.type, FRAME_KEY_NOT_FOUND);
	ASSERT_TRUE(memmem(p.f.body, p.f.len, K.client_pub + 1, 16) == NULL); /* sealed */
	ASSERT_INT_EQ(session_client_read_link(p.c, &p.f), ERR_NOT_FOUND);
	ASSERT_DETAIL("server does not know this client key");
	ASSERT_TRUE(session_done(p.s) && session_done(p.c));
	convo_pair_free(&p);
	TEST_DONE();
}

static void test_wrong_pin(void)
{
	struct convo_pair p;
	uint8_t cpub[65], other_pub[65];
	EVP_PKEY *other = NULL;

	TEST_START("client pinned another server key");
	ASSERT_INT_EQ(pkey_generate_p256(&other), 0);
	ASSERT_INT_EQ(pkey_to_point(other, other_pub), 0);
	ASSERT_INT_EQ(pair_new(&p, other_pub, 0), 0);
	ASSERT_INT_EQ(session_client_hello(p.c, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), ERR_AUTH);
	ASSERT_DETAIL("decrypt remote static key: authentication tag mismatch");
	/* The server may still say why, in plain text. */
	ASSERT_INT_EQ(session_server_error(p.s, "handshake failed", p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_client_read_link(p.c, &p.f), ERR_PROTOCOL);
	ASSERT_DETAIL("server refused: handshake failed");
	convo_pair_free(&p);
	EVP_PKEY_free(other);
	TEST_DONE();
}

static void test_replay(void)
{
	struct convo_pair p, q;
	struct replay *rt = replay_new(0);
	uint8_t hello[300], cpub[65];
	size_t hlen;
	uint64_t ts;

	TEST_START("replayed and older Hello refused, impostor changes nothing");
	ASSERT_INT_EQ(pair_new(&p, NULL, 1000), 0);
	ASSERT_INT_EQ(session_client_hello(p.c, p.wire), 0);
	hlen = buf_len(p.wire);
	memcpy(hello, buf_ptr(p.wire), hlen);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), 0);
	ASSERT_INT_EQ(session_server_hello_finish(p.s, NULL, &ts), 0);
	ASSERT_U64_EQ(ts, 1000);
	ASSERT_INT_EQ(replay_check(rt, cpub, ts), 0);
	ASSERT_INT_EQ(replay_update(rt, cpub, ts), 0);
	convo_pair_free(&p);

	/* The same bytes again, to a fresh server session. */
	ASSERT_INT_EQ(pair_new(&q, NULL, 0), 0);
	ASSERT_INT_EQ(buf_put(q.wire, hello, hlen), 0);
	ASSERT_INT_EQ(convo_xfer(D, &q), 0);
	ASSERT_INT_EQ(session_server_hello_begin(q.s, &q.f, cpub), 0);
	ASSERT_INT_EQ(session_server_hello_finish(q.s, NULL, &ts), 0);
	ASSERT_INT_EQ(replay_check(rt, cpub, ts), ERR_REPLAY);
	ASSERT_DETAIL("replayed Hello");
	ASSERT_INT_EQ(replay_update(rt, cpub, ts), ERR_REPLAY);
	convo_pair_free(&q);

	/* An older one (a new handshake with an earlier clock). */
	ASSERT_INT_EQ(pair_new(&q, NULL, 999), 0);
	ASSERT_INT_EQ(session_client_hello(q.c, q.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &q), 0);
	ASSERT_INT_EQ(session_server_hello_begin(q.s, &q.f, cpub), 0);
	ASSERT_INT_EQ(session_server_hello_finish(q.s, NULL, &ts), 0);
	ASSERT_INT_EQ(replay_check(rt, cpub, ts), ERR_REPLAY);
	convo_pair_free(&q);

	/* A Hello with a forged (far-future) timestamp does not authenticate,
	 * so the table keeps accepting the real client. */
	ASSERT_INT_EQ(pair_new(&q, NULL, 5000), 0);
	ASSERT_INT_EQ(session_client_hello(q.c, q.wire), 0);
	buf_mutable_ptr(q.wire)[3 + FRAME_HELLO_LEN - 20] ^= 0x80;
	ASSERT_INT_EQ(convo_xfer(D, &q), 0);
	ASSERT_INT_EQ(session_server_hello_begin(q.s, &q.f, cpub), 0);
	ASSERT_INT_EQ(session_server_hello_finish(q.s, NULL, &ts), ERR_AUTH);
	convo_pair_free(&q);
	ASSERT_INT_EQ(replay_check(rt, cpub, 1001), 0);
	ASSERT_INT_EQ(replay_update(rt, cpub, 1001), 0);
	replay_free(rt);
	TEST_DONE();
}

static void test_replay_table(void)
{
	struct replay *rt = replay_new(500);
	uint8_t pub[65];
	int i, bad = 0;

	TEST_START("replay table grows and caps");
	memset(pub, 0, sizeof(pub));
	pub[0] = 4;
	for (i = 0; i < 500; i++) {
		buf_poke_be32(pub + 1, (uint32_t)i * 2654435761u);
		buf_poke_be32(pub + 40, (uint32_t)i);
		bad |= replay_update(rt, pub, 10) != 0;
	}
	ASSERT_FALSE(bad);
	for (i = 0; i < 500; i++) {
		buf_poke_be32(pub + 1, (uint32_t)i * 2654435761u);
		buf_poke_be32(pub + 40, (uint32_t)i);
		bad |= replay_check(rt, pub, 10) != ERR_REPLAY;
		bad |= replay_check(rt, pub, 11) != 0;
	}
	ASSERT_FALSE(bad);
	pub[60] = 0xee;
	ASSERT_INT_EQ(replay_update(rt, pub, 10), ERR_BUSY);
	replay_free(rt);
	TEST_DONE();
}

/* Flip one byte of a frame body in flight and expect `code` from `step`. */
static void test_tamper(void)
{
	struct convo_pair p;
	uint8_t cpub[65];
	uint64_t ts;
	struct msg_names *names = NULL;
	struct msg_shard *sh = msg_shard_new(0, 0);
	struct msg_chunker ch;
	size_t pos;
	int more, bad;

	TEST_START("tampered Hello");
	for (pos = 0, bad = 0; pos < FRAME_HELLO_LEN; pos += 7) {
		int r;
		if (pair_new(&p, NULL, 0) != 0 || session_client_hello(p.c, p.wire) != 0) {
			bad = 1;
			break;
		}
		buf_mutable_ptr(p.wire)[3 + pos] ^= 0x01;
		if (convo_xfer(D, &p) != 0) {
			bad = 1;
			break;
		}
		r = session_server_hello_begin(p.s, &p.f, cpub);
		if (r == 0)
			r = session_server_hello_finish(p.s, NULL, &ts);
		if (r == 0 || (r != ERR_AUTH && r != ERR_FORMAT)) {
			UNIT_FAIL("tampered Hello byte %zu: %s", pos, err_msg(r));
			bad = 1;
		}
		if (r == ERR_AUTH && strstr(err_detail(), "authentication tag mismatch") == NULL)
			UNIT_FAIL("byte %zu: %s", pos, err_detail());
		if (r == ERR_FORMAT && strstr(err_detail(), "remote ephemeral key") == NULL)
			UNIT_FAIL("byte %zu: %s", pos, err_detail());
		convo_pair_free(&p);
	}
	ASSERT_FALSE(bad);
	TEST_DONE();

	TEST_START("tampered Link");
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(session_client_hello(p.c, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), 0);
	ASSERT_INT_EQ(session_server_hello_finish(p.s, NULL, &ts), 0);
	ASSERT_INT_EQ(session_server_link(p.s, p.wire), 0);
	buf_mutable_ptr(p.wire)[3 + 70] ^= 0x01;
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_client_read_link(p.c, &p.f), ERR_AUTH);
	ASSERT_DETAIL("read Link: decrypt handshake payload: authentication tag mismatch");
	convo_pair_free(&p);
	TEST_DONE();

	TEST_START("tampered Get, OkGet, Bye");
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(handshake(&p, NULL), 0);
	ASSERT_INT_EQ(session_client_get(p.c, NULL, NULL, 0, p.wire), 0);
	buf_mutable_ptr(p.wire)[3] ^= 0x01;
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_read_get(p.s, &p.f, &names), ERR_AUTH);
	ASSERT_DETAIL("open Get: authentication tag mismatch");
	convo_pair_free(&p);

	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(handshake(&p, NULL), 0);
	ASSERT_INT_EQ(session_client_get(p.c, NULL, NULL, 0, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_read_get(p.s, &p.f, &names), 0);
	msg_names_free(names);
	msg_chunker_init(&ch, &shard, 0);
	ASSERT_INT_EQ(session_server_okget(p.s, &ch, p.wire, &more), 0);
	buf_mutable_ptr(p.wire)[buf_len(p.wire) - 1] ^= 0x01;
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_client_read_okget(p.c, &p.f, sh, &more), ERR_AUTH);
	ASSERT_DETAIL("open OkGet: authentication tag mismatch");
	convo_pair_free(&p);

	/* An OkGet retyped as Error: the type is bound as AD. */
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(handshake(&p, NULL), 0);
	ASSERT_INT_EQ(session_client_get(p.c, NULL, NULL, 0, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_read_get(p.s, &p.f, &names), 0);
	msg_names_free(names);
	msg_chunker_init(&ch, &shard, 900);
	ASSERT_INT_EQ(session_server_okget(p.s, &ch, p.wire, &more), 0);
	buf_mutable_ptr(p.wire)[2] = FRAME_ERROR;
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_client_read_okget(p.c, &p.f, sh, &more), ERR_AUTH);
	convo_pair_free(&p);

	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(handshake(&p, NULL), 0);
	ASSERT_INT_EQ(session_client_bye(p.c, p.wire), 0);
	buf_mutable_ptr(p.wire)[10] ^= 0x01;
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_read_bye(p.s, &p.f), ERR_AUTH);
	ASSERT_DETAIL("open Bye: authentication tag mismatch");
	convo_pair_free(&p);
	msg_shard_free(sh);
	TEST_DONE();
}

static void test_reorder(void)
{
	struct convo_pair p;
	struct msg_names *names = NULL;
	struct msg_shard *sh = msg_shard_new(0, 0);
	uint8_t cpub[65];
	struct buf *get = buf_new(0);
	int more;

	TEST_START("reordered messages");
	/* The server sees a Get first. */
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	{
		struct frame f = {FRAME_GET, (const uint8_t *)"0123456789abcdefgh", 18};
		ASSERT_INT_EQ(session_server_read_get(p.s, &f, &names), ERR_PROTOCOL);
		ASSERT_DETAIL("unexpected Get after the start");
	}
	convo_pair_free(&p);

	/* The client sees an OkGet in place of Link. */
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(session_client_hello(p.c, p.wire), 0);
	{
		struct frame f = {FRAME_OKGET, (const uint8_t *)"0123456789abcdefgh", 18};
		ASSERT_INT_EQ(session_client_read_okget(p.c, &f, sh, &more), ERR_PROTOCOL);
		ASSERT_DETAIL("unexpected OkGet after Hello");
	}
	convo_pair_free(&p);

	/* A second Hello on the same connection. */
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(handshake(&p, NULL), 0);
	{
		struct frame f = {FRAME_HELLO, (const uint8_t *)"x", 1};
		ASSERT_INT_EQ(session_server_hello_begin(p.s, &f, cpub), ERR_PROTOCOL);
		ASSERT_DETAIL("unexpected Hello after Link");
	}
	convo_pair_free(&p);

	/* Get replayed within the session (same bytes twice). */
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(handshake(&p, NULL), 0);
	ASSERT_INT_EQ(session_client_get(p.c, NULL, NULL, 0, p.wire), 0);
	ASSERT_INT_EQ(buf_put(get, buf_ptr(p.wire), buf_len(p.wire)), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_read_get(p.s, &p.f, &names), 0);
	msg_names_free(names);
	names = NULL;
	ASSERT_INT_EQ(convo_frame(D, get, &p.f), 0);
	ASSERT_INT_EQ(session_server_read_get(p.s, &p.f, &names), ERR_PROTOCOL);
	ASSERT_DETAIL("unexpected Get after Get");
	convo_pair_free(&p);

	/* Bye before the last OkGet. */
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(handshake(&p, NULL), 0);
	ASSERT_INT_EQ(session_client_get(p.c, NULL, NULL, 0, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_read_get(p.s, &p.f, &names), 0);
	msg_names_free(names);
	{
		struct msg_chunker ch;
		msg_chunker_init(&ch, &shard, 1000);
		ASSERT_INT_EQ(session_server_okget(p.s, &ch, p.wire, &more), 0);
		ASSERT_INT_EQ(more, 1);
		ASSERT_INT_EQ(convo_xfer(D, &p), 0);
		ASSERT_INT_EQ(session_client_read_okget(p.c, &p.f, sh, &more), 0);
		ASSERT_INT_EQ(session_client_bye(p.c, p.wire), ERR_PROTOCOL);
		ASSERT_DETAIL("Bye before the last OkGet");
	}
	convo_pair_free(&p);
	buf_free(get);
	msg_shard_free(sh);
	TEST_DONE();
}

int main(void)
{
	if (convo_keys_new(&K) != 0 || (D = frame_decoder_new()) == NULL) {
		fprintf(stderr, "setup failed: %s\n", err_detail());
		return 1;
	}
	make_shard();
	test_full();
	test_named_get();
	test_cached_ss();
	test_unknown_client();
	test_wrong_pin();
	test_replay();
	test_replay_table();
	test_tamper();
	test_reorder();
	frame_decoder_free(D);
	convo_keys_free(&K);
	return unit_finish("protocol/session");
}
