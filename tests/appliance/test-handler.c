// SPDX-License-Identifier: ISC
/*
 * The conversation handler with two appliance keys (a rotation): a client
 * pinned to either key is served; the key that opened the last good Hello
 * is tried first, so steady state costs no extra token DH and a client on
 * the other key costs exactly one (the es that fails); strangers and
 * garbage cannot move that preference; the ss cache is per key; every audit
 * record of a conversation names the key it used, and releases name the
 * serial and the secrets released.
 */
#include "handler.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "buf.h"
#include "frame.h"
#include "hsm.h"
#include "pkey.h"
#include "secmem.h"
#include "session.h"
#include "state.h"
#include "token.h"

#include "unit.h"

static struct token *tok;
static struct handler_env env;
static struct appl_state *st;
static uint64_t clock_ns = 1795000000000000000ULL;

struct party {
	EVP_PKEY *key;
	struct hsm_key *hk;
	uint8_t pub[P256_POINT_LEN];
};

static void party_new(struct party *p)
{
	if (pkey_generate_p256(&p->key) != 0 || hsm_key_from_pkey(p->key, &p->hk) != 0 ||
	    pkey_to_point(p->key, p->pub) != 0)
		abort();
}

static void party_free(struct party *p)
{
	hsm_key_free(p->hk);
	EVP_PKEY_free(p->key);
}

/* The answer frame's type in out (one frame), as a struct frame. */
static void frame_of(struct buf *out, struct frame *f)
{
	const uint8_t *p = buf_ptr(out);

	f->type = p[2];
	f->len = (size_t)p[0] << 8 | p[1];
	f->body = p + 3;
}

/*
 * One conversation: Hello claiming `c`'s public key, its DHs done with
 * `key`'s private key (c itself, or an impostor), pinned to `pinned`, then
 * (if linked) a Get of everything and Bye. Returns the client's read_link
 * status; *dh gets the token DHs per key it cost.
 */
static int converse_as(const struct party *c, const struct party *key, const uint8_t *pinned,
		       unsigned long dh[2])
{
	struct session_client_config cc;
	struct session *cs = NULL;
	struct handler *h = NULL;
	struct buf *wire = buf_new(0), *out = buf_new(0);
	struct msg_shard *sh = msg_shard_new(0, 0);
	struct frame f;
	unsigned long before[2] = {token_dh_count(tok, 0), token_dh_count(tok, 1)};
	int r, close = 0, more = 1;

	memset(&cc, 0, sizeof(cc));
	cc.dh = hsm_dh_callback;
	cc.dh_ctx = key->hk;
	cc.client_pub = c->pub;
	cc.server_pub = pinned;
	cc.timestamp_ns = clock_ns += 1000;
	if (wire == NULL || out == NULL || sh == NULL || session_client_new(&cc, &cs) != 0 ||
	    session_client_hello(cs, wire) != 0)
		abort();
	frame_of(wire, &f);
	if (handler_handle(&env, st, "127.0.0.1:1", &h, f.type, f.body, f.len, out, &close, NULL) != 0)
		abort();
	dh[0] = token_dh_count(tok, 0) - before[0];
	dh[1] = token_dh_count(tok, 1) - before[1];
	frame_of(out, &f);
	r = session_client_read_link(cs, &f);
	if (r == 0) {
		buf_reset(wire);
		buf_reset(out);
		if (session_client_get(cs, NULL, NULL, 0, wire) != 0)
			abort();
		frame_of(wire, &f);
		if (handler_handle(&env, st, "127.0.0.1:1", &h, f.type, f.body, f.len, out,
		                   &close, NULL) != 0)
			abort();
		frame_of(out, &f);
		while (more)
			if (session_client_read_okget(cs, &f, sh, &more) != 0)
				abort();
	}
	handler_free(h);
	session_free(cs);
	msg_shard_free(sh);
	buf_free(wire);
	buf_free(out);
	return r;
}

static int converse(const struct party *c, const uint8_t *pinned, unsigned long dh[2])
{
	return converse_as(c, c, pinned, dh);
}

int main(void)
{
	struct party a, b, x, client, stranger;
	struct state_client sc;
	static const struct secret items[] = {
	    {.key = "db_password", .key_len = 11, .type = SECRET_STRING, .v.str = {"s3cr3t", 6}},
	    {.key = "port", .key_len = 4, .type = SECRET_INTEGER, .v.i = 5432},
	};
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct audit *audit = NULL;
	char path[] = "/tmp/coffer-handler-XXXXXX", fa[PKEY_FPR_TEXT_LEN + 1],
	     fb[PKEY_FPR_TEXT_LEN + 1];
	static char log[1 << 16];
	unsigned long dh[2];
	EVP_PKEY *keys[2];
	int fd, cached;

	party_new(&a);
	party_new(&b);
	party_new(&x);
	party_new(&client);
	party_new(&stranger);
	keys[0] = a.key;
	keys[1] = b.key;
	if (token_soft(keys, 2, &tok) != 0 || pkey_fingerprint(a.key, fa) != 0 ||
	    pkey_fingerprint(b.key, fb) != 0)
		abort();
	memset(&sc, 0, sizeof(sc));
	if (pkey_identity(client.key, sc.id) != 0)
		abort();
	sc.name = "web";
	sc.shard.items = items;
	sc.shard.n = 2;
	sc.have_point = 1;
	memcpy(sc.point, client.pub, P256_POINT_LEN);
	fd = mkstemp(path);
	close(fd);
	if (audit_open(path, &audit) != 0 || handler_replay_new(&env.replay) != 0)
		abort();
	env.token = tok;
	env.audit = audit;
	env.replay_lock = &lock;

	TEST_START("two keys in token order; key 0 is tried first");
	ASSERT_SIZE_EQ(token_count(tok), 2);
	ASSERT_STR_EQ(token_fingerprint(tok, 0), fa);
	ASSERT_STR_EQ(token_fingerprint(tok, 1), fb);
	ASSERT_SIZE_EQ(token_preferred(tok), 0);
	TEST_DONE();

	for (cached = 0; cached < 2; cached++) {
		unsigned long ss = cached ? 0 : 1; /* the token's ss, unless cached */
		ASSERT_INT_EQ(state_from_clients(&sc, 1, &st), 0);
		st->serial = 7;
		if (cached) {
			/* As state_load's cache with --cache-ss: one ss per appliance key. */
			uint8_t ss_k[P256_DH_LEN];
			ASSERT_INT_EQ(state_ss_prepare(st, 2), 0);
			ASSERT_INT_EQ(token_dh(tok, 0, client.pub, ss_k), 0);
			state_ss_put(st, &st->clients[0], 0, ss_k);
			ASSERT_INT_EQ(token_dh(tok, 1, client.pub, ss_k), 0);
			state_ss_put(st, &st->clients[0], 1, ss_k);
		}
		token_prefer(tok, 0);

		TEST_START(cached ? "ss cached: a client on the old key"
		                  : "a client on the old key");
		ASSERT_INT_EQ(converse(&client, a.pub, dh), 0);
		ASSERT_INT_EQ(dh[0], 1 + ss);
		ASSERT_INT_EQ(dh[1], 0);
		ASSERT_SIZE_EQ(token_preferred(tok), 0);
		TEST_DONE();

		TEST_START("a client on the new key: one extra DH (es with the old key), once");
		ASSERT_INT_EQ(converse(&client, b.pub, dh), 0);
		ASSERT_INT_EQ(dh[0], 1);
		ASSERT_INT_EQ(dh[1], 1 + ss);
		ASSERT_SIZE_EQ(token_preferred(tok), 1);
		/* Steady state: the key of the last good Hello goes first. */
		ASSERT_INT_EQ(converse(&client, b.pub, dh), 0);
		ASSERT_INT_EQ(dh[0], 0);
		ASSERT_INT_EQ(dh[1], 1 + ss);
		TEST_DONE();

		TEST_START("a key we do not serve: handshake failed, one es per key");
		ASSERT_INT_NE(converse(&client, x.pub, dh), 0);
		ASSERT_INT_EQ(dh[0], 1);
		ASSERT_INT_EQ(dh[1], 1);
		ASSERT_SIZE_EQ(token_preferred(tok), 1);
		TEST_DONE();

		TEST_START("a stranger on the old key gets KeyNotFound and moves nothing");
		ASSERT_INT_EQ(converse(&stranger, a.pub, dh), ERR_NOT_FOUND);
		ASSERT_SIZE_EQ(token_preferred(tok), 1);
		TEST_DONE();
		state_unref(st);
		st = NULL;
	}

	TEST_START("without --cache-ss: ss is cached by a client's first authenticated Hello");
	ASSERT_INT_EQ(state_from_clients(&sc, 1, &st), 0);
	ASSERT_INT_EQ(state_ss_prepare(st, 2), 0);
	token_prefer(tok, 0);
	ASSERT_PTR_EQ(state_ss_get(st, &st->clients[0], 0), NULL);
	/* An impostor (the client's public key, not its private one) caches nothing. */
	ASSERT_INT_NE(converse_as(&client, &x, a.pub, dh), 0);
	ASSERT_PTR_EQ(state_ss_get(st, &st->clients[0], 0), NULL);
	ASSERT_INT_EQ(converse(&client, a.pub, dh), 0);
	ASSERT_INT_EQ(dh[0], 2); /* es, and ss once */
	ASSERT_PTR_NE(state_ss_get(st, &st->clients[0], 0), NULL);
	ASSERT_PTR_EQ(state_ss_get(st, &st->clients[0], 1), NULL);
	ASSERT_INT_EQ(converse(&client, a.pub, dh), 0);
	ASSERT_INT_EQ(dh[0], 1); /* steady state: es only */
	state_unref(st);
	st = NULL;
	TEST_DONE();

	TEST_START("clock: a Hello from the future is refused and recorded nowhere");
	ASSERT_INT_EQ(state_from_clients(&sc, 1, &st), 0);
	env.clock_skew_ns = 120 * 1000000000ULL;
	env.test_now_ns = clock_ns + 1000000;
	env.started_ns = env.test_now_ns;
	clock_ns += 121 * 1000000000ULL; /* the next Hello is 121 s ahead */
	ASSERT_INT_NE(converse(&client, a.pub, dh), 0);
	clock_ns = env.test_now_ns; /* the client's clock is right again: not locked out */
	ASSERT_INT_EQ(converse(&client, a.pub, dh), 0);
	TEST_DONE();

	TEST_START("clock: a Hello older than the start minus the skew is refused");
	env.started_ns = clock_ns + 1000 + 121 * 1000000000ULL;
	env.test_now_ns = env.started_ns;
	ASSERT_INT_NE(converse(&client, a.pub, dh), 0);
	env.started_ns = clock_ns + 1000 + 119 * 1000000000ULL; /* within the skew */
	ASSERT_INT_EQ(converse(&client, a.pub, dh), 0);
	env.clock_skew_ns = env.started_ns = env.test_now_ns = 0;
	state_unref(st);
	st = NULL;
	TEST_DONE();

	TEST_START("audit: each record names the key of its conversation");
	audit_close(audit);
	audit = NULL;
	unit_read_file(path, log, sizeof(log));
	{
		char want[256];
		snprintf(want, sizeof(want),
		         "\"event\":\"release\",\"peer\":\"127.0.0.1:1\",\"client\":");
		ASSERT_TRUE(strstr(log, want) != NULL);
		snprintf(want, sizeof(want),
		         "\"name\":\"web\",\"appliance_key\":\"%s\",\"result\":\"ok\"}", fa);
		ASSERT_TRUE(strstr(log, want) != NULL); /* a handshake on the old key */
		snprintf(want, sizeof(want),
		         "\"appliance_key\":\"%s\",\"result\":\"ok\",\"serial\":7,\"keys\":2,"
		         "\"requested\":\"all\",\"released\":[\"db_password\",\"port\"]}",
		         fb);
		ASSERT_TRUE(strstr(log, want) != NULL); /* a release on the new key */
		snprintf(want, sizeof(want),
		         "\"appliance_key\":\"%s\",\"result\":\"key-not-found\"", fa);
		ASSERT_TRUE(strstr(log, want) != NULL);
		ASSERT_TRUE(strstr(log, "s3cr3t") == NULL);
	}
	unlink(path);
	TEST_DONE();

	handler_replay_free(env.replay);
	token_close(tok);
	party_free(&a);
	party_free(&b);
	party_free(&x);
	party_free(&client);
	party_free(&stranger);
	return unit_finish("appliance/handler");
}
