// SPDX-License-Identifier: ISC
/*
 * Fuzz the handshake messages and what a client reads after them. The first
 * byte picks the case; the worked example's keys are used throughout
 * (tests/vectors/coffer-p256.json), so its messages are valid seeds.
 *   1  the rest is a Hello body, read by the server (then Link)
 *   2  the rest is a Link body, 3 a KeyNotFound body, read by a client that
 *      sent the worked example's Hello
 *   4  the next byte is a frame type, the rest its body, read in that place
 *   5  a real client's Hello carrying the rest as its payload (instead of a
 *      TAI64N), read by the server
 *   6  a real client's Hello answered by a responder built here: u8 p
 *      (p&1: KeyNotFound, else Link), u8 n, n bytes of message 2 payload;
 *      after a Link the client asks for everything and the rest is a script
 *      of server frames, each u8 type, u16 n, n bytes of plaintext sealed
 *      with the server's transport key (type 0xfe: the client says Bye;
 *      type 0xfd: u8 type, u16 n, n bytes taken as the sealed body itself,
 *      a forgery the client must refuse)
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "buf.h"
#include "encoding.h"
#include "frame.h"
#include "fuzz.h"
#include "msg.h"
#include "noise.h"
#include "pkey.h"
#include "session.h"
#include "vector_keys.h"

#define HS_BYE 0xfe
#define HS_FORGED 0xfd

enum hs_case {
	HS_HELLO = 1,
	HS_LINK = 2,
	HS_KEY_NOT_FOUND = 3,
	HS_ANY = 4,
	HS_PAYLOAD = 5,
	HS_RESPONDER = 6,
};

static struct noise_key server, client;
static uint8_t client_eph[32];

static void setup(void)
{
	static int ready;
	uint8_t s[32], c[32];

	if (ready)
		return;
	FUZZ_ASSERT(hex_decode(SERVER_STATIC, 64, s, 32) == 0 &&
		    hex_decode(CLIENT_STATIC, 64, c, 32) == 0 &&
		    hex_decode(CLIENT_EPHEMERAL, 64, client_eph, 32) == 0 &&
		    noise_key_from_private(&server, NOISE_DH_P256, s, 32) == 0 &&
		    noise_key_from_private(&client, NOISE_DH_P256, c, 32) == 0);
	ready = 1;
}

/* A client session that has sent the worked example's Hello (into out). */
static struct session *hello_sent(struct buf *out)
{
	struct session_client_config cc = {client.fn, client.ctx, client.pub, server.pub,
					   TIMESTAMP_NS};
	struct session *s = NULL;

	FUZZ_ASSERT(session_client_new(&cc, &s) == 0 &&
		    session_set_ephemeral(s, client_eph, 32) == 0 &&
		    session_client_hello(s, out) == 0);
	return s;
}

/* The server reads a Hello body; Link if it authenticates. */
static void server_reads(const uint8_t *body, size_t len, struct buf *out)
{
	struct session_server_config sc = {server.fn, server.ctx, server.pub};
	struct frame f = {FRAME_HELLO, body, len};
	struct session *s = NULL;
	uint8_t cpub[P256_POINT_LEN];
	uint64_t ts;

	FUZZ_ASSERT(session_server_new(&sc, &s) == 0);
	if (session_server_hello_begin(s, &f, cpub) == 0 &&
	    session_server_hello_finish(s, NULL, &ts) == 0) {
		FUZZ_ASSERT(memcmp(cpub, client.pub, P256_POINT_LEN) == 0 ||
			    noise_check_pub(NOISE_DH_P256, cpub, P256_POINT_LEN) == 0);
		FUZZ_ASSERT(session_server_link(s, out) == 0);
	}
	session_free(s);
}

/* A Hello from a real client, carrying payload instead of its timestamp. */
static void hello_with_payload(const uint8_t *payload, size_t len, struct buf *out)
{
	struct noise_proto proto;
	struct noise_hs *hs = NULL;
	struct buf *body = buf_new(0);

	FUZZ_ASSERT(body != NULL && noise_proto_parse(SESSION_PROTOCOL, &proto) == 0 &&
		    noise_hs_new(&proto, 1, (const uint8_t *)SESSION_PROLOGUE,
				 strlen(SESSION_PROLOGUE), &client, server.pub, &hs) == 0 &&
		    noise_hs_set_ephemeral(hs, client_eph, 32) == 0);
	if (noise_hs_write(hs, payload, len, body) == 0)
		server_reads(buf_ptr(body), buf_len(body), out);
	noise_hs_free(hs);
	buf_free(body);
}

/* After a Link: the client asks for everything and reads a script of frames. */
static void client_transport(struct session *s, struct noise_cipher_state *tx, struct buf *in,
			     struct buf *out)
{
	struct msg_shard *sh = msg_shard_new(4096, 64);
	struct buf *body = buf_new(0);
	const uint8_t *pt;
	struct frame f;
	uint16_t n;
	uint8_t type;
	int more;

	FUZZ_ASSERT(sh != NULL && body != NULL);
	if (session_client_get(s, NULL, NULL, 0, out) != 0)
		goto out;
	while (buf_get_u8(in, &type) == 0) {
		if (type == HS_BYE) {
			if (session_client_bye(s, out) != 0)
				break;
			continue;
		}
		if (type == HS_FORGED) {
			/* Bytes no one sealed: the client must refuse them (a
			 * tag that verifies by chance is out of reach). */
			if (buf_get_u8(in, &type) != 0 || buf_get_u16(in, &n) != 0 ||
			    buf_get_direct(in, &pt, n) != 0)
				break;
			f = (struct frame){type, pt, n};
			FUZZ_ASSERT(session_client_read_okget(s, &f, sh, &more) != 0);
			break;
		}
		if (buf_get_u16(in, &n) != 0 || buf_get_direct(in, &pt, n) != 0)
			break;
		buf_reset(body);
		if (noise_cs_encrypt(tx, &type, 1, pt, n, body) != 0)
			break;
		f = (struct frame){type, buf_ptr(body), buf_len(body)};
		if (session_client_read_okget(s, &f, sh, &more) != 0)
			break;
	}
	if (msg_shard_complete(sh)) {
		struct secret_list l;
		FUZZ_ASSERT(msg_shard_list(sh, &l) == 0);
	}
out:
	msg_shard_free(sh);
	buf_free(body);
}

/* A responder built here answers the client's Hello with message 2. */
static void responder(struct buf *in, struct buf *out)
{
	struct noise_cipher_state c1, c2;
	struct noise_proto proto;
	struct noise_hs *hs = NULL;
	struct session *s = hello_sent(out);
	struct buf *pt = buf_new(0), *body = buf_new(0);
	const uint8_t *payload;
	struct frame f;
	uint8_t p, n;

	FUZZ_ASSERT(pt != NULL && body != NULL && noise_proto_parse(SESSION_PROTOCOL, &proto) == 0 &&
		    noise_hs_new(&proto, 0, (const uint8_t *)SESSION_PROLOGUE,
				 strlen(SESSION_PROLOGUE), &server, NULL, &hs) == 0 &&
		    noise_hs_read(hs, buf_ptr(out) + WIRE_HEADER_LEN,
				  buf_len(out) - WIRE_HEADER_LEN, pt) == 0);
	if (buf_get_u8(in, &p) != 0 || buf_get_u8(in, &n) != 0 ||
	    buf_get_direct(in, &payload, n) != 0 || noise_hs_write(hs, payload, n, body) != 0)
		goto out;
	f = (struct frame){(p & 1) ? FRAME_KEY_NOT_FOUND : FRAME_LINK, buf_ptr(body), buf_len(body)};
	buf_reset(out);
	if (session_client_read_link(s, &f) != 0 || f.type != FRAME_LINK)
		goto out;
	FUZZ_ASSERT(n == 0 && noise_hs_split(hs, &c1, &c2) == 0);
	client_transport(s, &c2, in, out);
	noise_cs_clear(&c1);
	noise_cs_clear(&c2);
out:
	noise_hs_free(hs);
	session_free(s);
	buf_free(pt);
	buf_free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session *s = NULL;
	struct buf *out = buf_new(0), *in = NULL;
	struct frame f;

	setup();
	FUZZ_ASSERT(out != NULL);
	if (size < 1)
		goto out;
	switch (data[0]) {
	case HS_HELLO:
		server_reads(data + 1, size - 1, out);
		break;
	case HS_LINK:
	case HS_KEY_NOT_FOUND:
	case HS_ANY:
		if (data[0] == HS_ANY && size < 2)
			break;
		f.type = data[0] == HS_LINK ? FRAME_LINK
			 : data[0] == HS_KEY_NOT_FOUND ? FRAME_KEY_NOT_FOUND : data[1];
		f.body = data + (data[0] == HS_ANY ? 2 : 1);
		f.len = size - (data[0] == HS_ANY ? 2 : 1);
		s = hello_sent(out);
		if (session_client_read_link(s, &f) != 0) {
			/* refusals are expected */
		}
		break;
	case HS_PAYLOAD:
		hello_with_payload(data + 1, size - 1, out);
		break;
	case HS_RESPONDER:
		FUZZ_ASSERT((in = buf_from(data + 1, size - 1)) != NULL);
		responder(in, out);
		break;
	}
out:
	session_free(s);
	buf_free(in);
	buf_free(out);
	return 0;
}

/* Seeds for the cases 5 and 6 (1 to 3 come from test-protocol-vector --corpus). */
int fuzz_seeds(const char *dir)
{
	static const struct secret items[] = {
		{.key = "db_password", .key_len = 11, .type = SECRET_STRING, .v.str = {"s3cr3t", 6}},
		{.key = "port", .key_len = 4, .type = SECRET_INTEGER, .v.i = 5432},
		{.key = "rotated", .key_len = 7, .type = SECRET_DATETIME,
		 .v.str = {"2026-11-01T12:00:00Z", 20}},
	};
	static const char refused[] = "secret not found: db";
	struct secret_list list = {items, 3};
	struct msg_chunker ch;
	struct buf *b = buf_new(0), *chunk = buf_new(0);
	uint8_t ts[SESSION_TAI64N_LEN];
	int more = 1, r = 0;

	setup();
	FUZZ_ASSERT(b != NULL && chunk != NULL);
	session_tai64n_encode(TIMESTAMP_NS, ts);
	FUZZ_ASSERT(buf_put_u8(b, HS_PAYLOAD) == 0 && buf_put(b, ts, sizeof(ts)) == 0);
	r |= fuzz_seed_write(dir, "payload-tai64n", b);
	buf_reset(b);
	FUZZ_ASSERT(buf_put_u8(b, HS_RESPONDER) == 0 && buf_put_u8(b, 1) == 0 &&
		    buf_put_u8(b, P256_POINT_LEN) == 0 && buf_put(b, client.pub, P256_POINT_LEN) == 0);
	r |= fuzz_seed_write(dir, "responder-key-not-found", b);
	buf_reset(b);
	/* Link, then the shard in chunks of at most 48 bytes, then Bye. */
	FUZZ_ASSERT(buf_put_u8(b, HS_RESPONDER) == 0 && buf_put_u8(b, 0) == 0 &&
		    buf_put_u8(b, 0) == 0);
	msg_chunker_init(&ch, &list, 48);
	while (more) {
		buf_reset(chunk);
		FUZZ_ASSERT(msg_chunk_next(&ch, chunk, &more) == 0 &&
			    buf_put_u8(b, FRAME_OKGET) == 0 && buf_put_u16(b, buf_len(chunk)) == 0 &&
			    buf_put(b, buf_ptr(chunk), buf_len(chunk)) == 0);
	}
	FUZZ_ASSERT(buf_put_u8(b, HS_BYE) == 0);
	r |= fuzz_seed_write(dir, "responder-link-okget", b);
	buf_reset(b);
	FUZZ_ASSERT(buf_put_u8(b, HS_RESPONDER) == 0 && buf_put_u8(b, 0) == 0 &&
		    buf_put_u8(b, 0) == 0 && buf_put_u8(b, FRAME_ERROR) == 0 &&
		    buf_put_u16(b, sizeof(refused) - 1) == 0 &&
		    buf_put(b, refused, sizeof(refused) - 1) == 0);
	r |= fuzz_seed_write(dir, "responder-link-error", b);
	buf_reset(b);
	/* Link, then an OkGet body that no one sealed. */
	FUZZ_ASSERT(buf_put_u8(b, HS_RESPONDER) == 0 && buf_put_u8(b, 0) == 0 &&
		    buf_put_u8(b, 0) == 0 && buf_put_u8(b, HS_FORGED) == 0 &&
		    buf_put_u8(b, FRAME_OKGET) == 0 && buf_put_u16(b, 2 * FRAME_TAG_LEN) == 0 &&
		    buf_put(b, ts, sizeof(ts)) == 0 && buf_put(b, ts, sizeof(ts)) == 0 &&
		    buf_put_u64(b, TIMESTAMP_NS) == 0);
	r |= fuzz_seed_write(dir, "responder-link-forged-okget", b);
	buf_reset(b);
	FUZZ_ASSERT(buf_put_u8(b, HS_ANY) == 0 && buf_put_u8(b, FRAME_ERROR) == 0 &&
		    buf_put(b, "handshake failed", 16) == 0);
	r |= fuzz_seed_write(dir, "plain-error", b);
	buf_free(b);
	buf_free(chunk);
	return r;
}
