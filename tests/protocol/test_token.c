// SPDX-License-Identifier: ISC
/*
 * The coffer conversation in memory with the server's static key in a real
 * PKCS#11 token (SoftHSM2 via hsm/): handshake, Get, OkGet, Bye; a replayed
 * Hello, a tampered Hello, a wrong pinned server key and an unknown client
 * are refused with their named reasons.
 *
 * usage: test-protocol-token MODULE TOKEN-URI PIN-SOURCE KEY-LABEL
 */
#include "session.h"

#include <stdlib.h>

#include "buf.h"
#include "convo.h"
#include "hsm.h"
#include "msg.h"
#include "noise.h"
#include "unit.h"

static struct frame_decoder *D;
static struct hsm_key *server_key;
static uint8_t server_pub[65];
static EVP_PKEY *client;
static uint8_t client_pub[65];

#define ASSERT_DETAIL(s)                                                                           \
	do {                                                                                       \
		if (strstr(err_detail(), (s)) == NULL)                                             \
			UNIT_FAIL("detail \"%s\" lacks \"%s\"", err_detail(), (s));                 \
	} while (0)


static int pair_new(struct convo_pair *p, const uint8_t *pinned, uint64_t ts)
{
	struct session_client_config cc = {noise_pkey_dh, client, client_pub,
					   pinned ? pinned : server_pub, ts};
	struct session_server_config sc = {hsm_dh_callback, server_key, server_pub};

	return convo_pair_new(p, &cc, &sc);
}


static void test_conversation(struct replay *rt)
{
	static const struct secret one[] = {
		{.key = "db_password", .key_len = 11, .type = SECRET_STRING,
		 .v.str = {"s3cr3t", 6}},
		{.key = "port", .key_len = 4, .type = SECRET_INTEGER, .v.i = 5432},
	};
	struct secret_list shard = {one, 2}, got;
	struct msg_shard *sh = msg_shard_new(0, 0);
	struct msg_names *names = NULL;
	struct msg_chunker ch;
	struct convo_pair p;
	uint8_t cpub[65];
	uint64_t ts;
	int more = 1, cmore;

	TEST_START("conversation with the server key in SoftHSM2");
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(session_client_hello(p.c, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), 0);
	ASSERT_MEM_EQ(cpub, client_pub, 65);
	ASSERT_INT_EQ(session_server_hello_finish(p.s, NULL, &ts), 0);
	ASSERT_INT_EQ(replay_check(rt, cpub, ts), 0);
	ASSERT_INT_EQ(replay_update(rt, cpub, ts), 0);
	ASSERT_INT_EQ(session_server_link(p.s, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_client_read_link(p.c, &p.f), 0);
	ASSERT_INT_EQ(session_client_get(p.c, NULL, NULL, 0, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_read_get(p.s, &p.f, &names), 0);
	msg_chunker_init(&ch, &shard, 0);
	while (more) {
		ASSERT_INT_EQ(session_server_okget(p.s, &ch, p.wire, &more), 0);
		ASSERT_INT_EQ(convo_xfer(D, &p), 0);
		ASSERT_INT_EQ(session_client_read_okget(p.c, &p.f, sh, &cmore), 0);
	}
	ASSERT_INT_EQ(msg_shard_list(sh, &got), 0);
	ASSERT_SIZE_EQ(got.n, 2);
	if (got.n == 2) {
		ASSERT_STR_EQ(got.items[0].key, "db_password");
		ASSERT_STR_EQ(got.items[0].v.str.ptr, "s3cr3t");
		ASSERT_INT_EQ(got.items[1].v.i, 5432);
	}
	ASSERT_INT_EQ(session_client_bye(p.c, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_read_bye(p.s, &p.f), 0);
	msg_names_free(names);
	msg_shard_free(sh);
	convo_pair_free(&p);
	TEST_DONE();
}

static void test_refusals(struct replay *rt)
{
	struct convo_pair p;
	uint8_t cpub[65], wrong[65];
	uint64_t ts;
	EVP_PKEY *other = NULL;
	struct buf *hello;

	TEST_START("replayed Hello refused, tampered Hello refused (token DH)");
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(session_client_hello(p.c, p.wire), 0);
	hello = buf_dup(buf_ptr(p.wire), buf_len(p.wire));
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), 0);
	ASSERT_INT_EQ(session_server_hello_finish(p.s, NULL, &ts), 0);
	ASSERT_INT_EQ(replay_update(rt, cpub, ts), 0);
	convo_pair_free(&p);
	/* The same bytes again: authenticates, but the timestamp is not newer. */
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(convo_frame(D, hello, &p.f), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), 0);
	ASSERT_INT_EQ(session_server_hello_finish(p.s, NULL, &ts), 0);
	ASSERT_INT_EQ(replay_check(rt, cpub, ts), ERR_REPLAY);
	convo_pair_free(&p);
	/* One flipped byte in the encrypted static key. */
	buf_mutable_ptr(hello)[3 + 65 + 5] ^= 1;
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(convo_frame(D, hello, &p.f), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), ERR_AUTH);
	convo_pair_free(&p);
	buf_free(hello);
	TEST_DONE();

	TEST_START("wrong pinned server key: the token server cannot read the Hello");
	ASSERT_INT_EQ(pkey_generate_p256(&other), 0);
	ASSERT_INT_EQ(pkey_to_point(other, wrong), 0);
	ASSERT_INT_EQ(pair_new(&p, wrong, 0), 0);
	ASSERT_INT_EQ(session_client_hello(p.c, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), ERR_AUTH);
	ASSERT_DETAIL("authentication");
	convo_pair_free(&p);
	EVP_PKEY_free(other);
	TEST_DONE();

	TEST_START("unknown client gets a KeyNotFound it can authenticate");
	ASSERT_INT_EQ(pair_new(&p, NULL, 0), 0);
	ASSERT_INT_EQ(session_client_hello(p.c, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(session_server_hello_begin(p.s, &p.f, cpub), 0);
	ASSERT_INT_EQ(session_server_hello_finish(p.s, NULL, &ts), 0);
	ASSERT_INT_EQ(session_server_key_not_found(p.s, p.wire), 0);
	ASSERT_INT_EQ(convo_xfer(D, &p), 0);
	ASSERT_INT_EQ(p.f.type, FRAME_KEY_NOT_FOUND);
	ASSERT_INT_EQ(session_client_read_link(p.c, &p.f), ERR_NOT_FOUND);
	convo_pair_free(&p);
	TEST_DONE();
}

int main(int argc, char **argv)
{
	struct hsm_config cfg = {0};
	struct hsm *h = NULL;
	struct replay *rt = replay_new(0);
	int r;

	log_init("test-protocol-token", LOG_LEVEL_ERROR);
	if (argc != 5) {
		fprintf(stderr, "usage: %s MODULE TOKEN-URI PIN-SOURCE KEY-LABEL\n", argv[0]);
		return 2;
	}
	cfg.backend = HSM_BACKEND_PKCS11;
	cfg.module = argv[1];
	cfg.token = argv[2];
	cfg.pin_source = argv[3];
	cfg.need = HSM_NEED_ECDH;
	if ((r = hsm_open(&cfg, &h)) != 0 || (r = hsm_key_open(h, argv[4], &server_key)) != 0 ||
	    (r = hsm_key_point(server_key, server_pub)) != 0) {
		fprintf(stderr, "token: %s\n", err_msg(r));
		return 1;
	}
	if ((D = frame_decoder_new()) == NULL || pkey_generate_p256(&client) != 0 ||
	    pkey_to_point(client, client_pub) != 0)
		return 1;
	test_conversation(rt);
	test_refusals(rt);
	frame_decoder_free(D);
	replay_free(rt);
	EVP_PKEY_free(client);
	hsm_key_free(server_key);
	hsm_close(h);
	return unit_finish("protocol/token");
}
