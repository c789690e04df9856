// SPDX-License-Identifier: ISC
#ifndef COFFER_TESTS_APPLIANCE_IPC_FIXTURE_H
#define COFFER_TESTS_APPLIANCE_IPC_FIXTURE_H

/*
 * A monitor without a network process, fed IPC bytes directly: the test of
 * the monitor's IPC input (test-ipc.c), its fuzz target (fuzz-ipc.c) and
 * the generator of that target's seed corpus share it. Everything is fixed
 * (the worked example's keys, the server's ephemeral key, the timestamp),
 * so a recorded conversation replays and reaches Get, OkGet and Bye.
 *
 * Two clients: "alpha" (the worked example's client key) and "beta" (its
 * own fixed key). Every value of both shards contains FIX_CANARY: the
 * monitor never hands a plaintext value to the network process, so the
 * canary in its output is a leak, whatever the input was.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "buf.h"
#include "cfg.h"
#include "encoding.h"
#include "frame.h"
#include "ipc.h"
#include "log.h"
#include "msg.h"
#include "noise.h"
#include "pkey.h"
#include "server.h"
#include "session.h"
#include "state.h"
#include "token.h"

#include "../protocol/vector_keys.h"

#define FIX_CANARY "c4nary-Pl41ntext"
#define FIX_BETA_STATIC "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed0b0b"

struct fixture {
	struct cfg cfg;
	const struct noise_key *server, *alpha, *beta; /* made once, kept for the process */
	uint8_t server_eph[32], client_eph[32];
	struct token *tok;
	struct audit *audit;
	struct appl_state *st;
	struct server *srv;
};

static const struct secret fix_alpha_shard[] = {
	{.key = "db_password", .key_len = 11, .type = SECRET_STRING,
	 .v.str = {"alpha-" FIX_CANARY, 6 + sizeof(FIX_CANARY) - 1}},
	{.key = "api_token", .key_len = 9, .type = SECRET_STRING,
	 .v.str = {FIX_CANARY "-api", sizeof(FIX_CANARY) - 1 + 4}},
	{.key = "port", .key_len = 4, .type = SECRET_INTEGER, .v.i = 5432},
};
static const struct secret fix_beta_shard[] = {
	{.key = "db_password", .key_len = 11, .type = SECRET_STRING,
	 .v.str = {"beta-" FIX_CANARY, 5 + sizeof(FIX_CANARY) - 1}},
};

static inline int fix_key(struct noise_key *k, const char *hex)
{
	uint8_t priv[32];
	int r;

	if (hex_decode(hex, 64, priv, 32) != 0)
		return -1;
	r = noise_key_from_private(k, NOISE_DH_P256, priv, 32);
	memset(priv, 0, sizeof(priv));
	return r;
}

static inline void fix_free(struct fixture *fx)
{
	server_free(fx->srv);
	state_unref(fx->st);
	token_close(fx->tok);
	audit_close(fx->audit);
	memset(fx, 0, sizeof(*fx));
}

/* A fresh monitor (no network process, no workers: Hellos run inline). */
static inline int fix_new(struct fixture *fx, unsigned max_connections)
{
	/* Key pairs cost a scalar multiplication each: made once. */
	static struct noise_key keys[3];
	static int have_keys;
	struct state_client sc[2];

	memset(fx, 0, sizeof(*fx));
	if (!have_keys) {
		if (fix_key(&keys[0], SERVER_STATIC) != 0 || fix_key(&keys[1], CLIENT_STATIC) != 0 ||
		    fix_key(&keys[2], FIX_BETA_STATIC) != 0)
			return -1;
		have_keys = 1;
	}
	fx->server = &keys[0];
	fx->alpha = &keys[1];
	fx->beta = &keys[2];
	if (hex_decode(SERVER_EPHEMERAL, 64, fx->server_eph, 32) != 0 ||
	    hex_decode(CLIENT_EPHEMERAL, 64, fx->client_eph, 32) != 0)
		return -1;
	memset(sc, 0, sizeof(sc));
	if (pkey_identity_from_point(fx->alpha->pub, sc[0].id) != 0 ||
	    pkey_identity_from_point(fx->beta->pub, sc[1].id) != 0)
		return -1;
	sc[0].name = "alpha";
	sc[0].shard.items = fix_alpha_shard;
	sc[0].shard.n = sizeof(fix_alpha_shard) / sizeof(fix_alpha_shard[0]);
	sc[1].name = "beta";
	sc[1].shard.items = fix_beta_shard;
	sc[1].shard.n = 1;
	cfg_init(&fx->cfg);
	fx->cfg.max_connections = max_connections;
	fx->cfg.max_handshakes = 4;
	if (state_from_clients(sc, 2, &fx->st) != 0 || token_soft(&fx->server->owned, 1, &fx->tok) != 0 ||
	    audit_open("/dev/null", &fx->audit) != 0 ||
	    server_new(&fx->cfg, fx->tok, fx->audit, fx->st, &fx->srv) != 0) {
		fix_free(fx);
		return -1;
	}
	server_set_test_ephemeral(fx->srv, fx->server_eph);
	/* The recorded Hellos are stamped TIMESTAMP_NS + conn: the clock is theirs. */
	server_set_test_clock(fx->srv, TIMESTAMP_NS);
	return 0;
}

/* ---- building IPC input ---- */

static inline int fix_open(struct buf *in, uint64_t conn)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)(40000 + conn % 1000));
	sa.sin_addr.s_addr = htonl(0x7f000001);
	return ipc_put_hdr(in, IPC_OPEN, 0, conn, IPC_PEER_LEN) ||
	       ipc_peer_put(in, (const struct sockaddr *)&sa);
}

/* FRAME from the wire bytes of one frame (header + body). */
static inline int fix_frame(struct buf *in, uint64_t conn, const uint8_t *wire, size_t len)
{
	if (len < WIRE_HEADER_LEN)
		return -1;
	return ipc_put_hdr(in, IPC_FRAME, 0, conn, len - WIRE_HEADER_LEN + 1) ||
	       buf_put_u8(in, wire[2]) || buf_put(in, wire + WIRE_HEADER_LEN, len - WIRE_HEADER_LEN);
}

/*
 * The frames the monitor queued for conn since `*off` in its output (the
 * SEND bodies, concatenated into `frames`), advancing *off. Returns the
 * flags of the last SEND (or -1 if a CLOSE came, -2 if nothing).
 */
static inline int fix_replies(struct fixture *fx, uint64_t conn, size_t *off, struct buf *frames)
{
	struct buf *out = server_ipc_output(fx->srv);
	struct buf *view = buf_from(buf_ptr(out) + *off, buf_len(out) - *off);
	struct ipc_msg m;
	int flags = -2;

	if (view == NULL)
		return -2;
	while (ipc_get(view, &m) == 0) {
		if (m.conn != conn)
			continue;
		if (m.type == IPC_CLOSE)
			flags = -1;
		if (m.type == IPC_SEND) {
			flags = m.flags;
			if (buf_put(frames, m.body, m.len) != 0)
				flags = -2;
		}
	}
	*off = buf_len(out) - buf_len(view);
	buf_free(view);
	return flags;
}

/* Decode the next whole frame at the front of `frames` (consumed). */
static inline int fix_next_frame(struct buf *frames, struct frame *f)
{
	size_t len;

	if (buf_len(frames) < WIRE_HEADER_LEN)
		return -1;
	len = buf_peek_be16(buf_ptr(frames));
	if (buf_len(frames) < WIRE_HEADER_LEN + len)
		return -1;
	f->type = buf_ptr(frames)[2];
	f->body = buf_ptr(frames) + WIRE_HEADER_LEN;
	f->len = len;
	return buf_consume(frames, WIRE_HEADER_LEN + len) == 0 ? 0 : -1;
}

/*
 * One whole conversation of `who` on conn, as the network process would
 * relay it: OPEN, Hello, then (if Linked) Get(names), Bye. The IPC input
 * that drove it is appended to `record` (if not NULL); *got gets the
 * number of secrets received (-1 if not Linked). 0, or -1 if the monitor
 * misbehaved.
 */
static inline int fix_converse(struct fixture *fx, uint64_t conn, const struct noise_key *who,
			const char *const *names, size_t n, struct buf *record, long *got)
{
	struct session_client_config cc;
	struct session *s = NULL;
	struct buf *wire = buf_new(0), *in = buf_new(0), *frames = buf_new(0);
	struct msg_shard *sh = msg_shard_new(0, 0);
	struct frame f;
	size_t off = buf_len(server_ipc_output(fx->srv)), lens[8], i;
	int rc = -1, more = 1;

	*got = -1;
	memset(&cc, 0, sizeof(cc));
	cc.dh = who->fn;
	cc.dh_ctx = who->ctx;
	cc.client_pub = who->pub;
	cc.server_pub = fx->server->pub;
	cc.timestamp_ns = TIMESTAMP_NS + conn;
	if (wire == NULL || in == NULL || frames == NULL || sh == NULL || n > 8 ||
	    session_client_new(&cc, &s) != 0 || session_set_ephemeral(s, fx->client_eph, 32) != 0 ||
	    session_client_hello(s, wire) != 0)
		goto out;
	if (fix_open(in, conn) != 0 || fix_frame(in, conn, buf_ptr(wire), buf_len(wire)) != 0)
		goto out;
#define FEED()                                                                                     \
	do {                                                                                       \
		if (record != NULL && buf_put(record, buf_ptr(in), buf_len(in)) != 0)               \
			goto out;                                                                  \
		if (server_ipc_input(fx->srv, buf_ptr(in), buf_len(in)) != 0)                       \
			goto out;                                                                  \
		buf_reset(in);                                                                     \
	} while (0)
	FEED();
	if (fix_replies(fx, conn, &off, frames) < 0 || fix_next_frame(frames, &f) != 0)
		goto out;
	if (session_client_read_link(s, &f) != 0) {
		rc = 0; /* KeyNotFound or Error: the conversation is over */
		goto out;
	}
	for (i = 0; i < n; i++)
		lens[i] = strlen(names[i]);
	buf_reset(wire);
	if (session_client_get(s, names, lens, n, wire) != 0 ||
	    fix_frame(in, conn, buf_ptr(wire), buf_len(wire)) != 0)
		goto out;
	FEED();
	if (fix_replies(fx, conn, &off, frames) < 0)
		goto out;
	while (more) {
		if (fix_next_frame(frames, &f) != 0 ||
		    session_client_read_okget(s, &f, sh, &more) != 0)
			goto out;
	}
	{
		struct secret_list list;
		if (msg_shard_list(sh, &list) != 0)
			goto out;
		*got = (long)list.n;
	}
	buf_reset(wire);
	if (session_client_bye(s, wire) != 0 || fix_frame(in, conn, buf_ptr(wire), buf_len(wire)) != 0)
		goto out;
	FEED();
#undef FEED
	rc = 0;
out:
	session_free(s);
	buf_free(wire);
	buf_free(in);
	buf_free(frames);
	msg_shard_free(sh);
	return rc;
}

/* 1 if the canary is anywhere in what the monitor queued for the network process. */
static inline int fix_leaked(struct fixture *fx)
{
	const struct buf *out = server_ipc_output(fx->srv);

	return memmem(buf_ptr(out), buf_len(out), FIX_CANARY, sizeof(FIX_CANARY) - 1) != NULL;
}

#endif
