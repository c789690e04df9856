// SPDX-License-Identifier: ISC
/*
 * Fuzz protocol/'s server session behind the frame decoder, driven by the
 * scripted client of tests/fuzz/script.h: Hello (Link for the registered keys
 * 0 and 1, ss supplied from a cache for key 0; KeyNotFound for any other),
 * Get (the client's shard in OkGets of at most 40 bytes, so a shard spans
 * frames), Bye, raw frames, in any order, over several connections that
 * share one replay table.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "script.h"

#define SERVER_CHUNK 40

struct server {
	const struct script_keys *k;
	struct session *s;
	struct frame_decoder *d;
	struct replay *replay;
	int who;
	uint8_t ss0[P256_DH_LEN];
};

static void server_connect(void *ctx)
{
	struct server *sv = ctx;
	struct session_server_config sc = {sv->k->server.fn, sv->k->server.ctx, sv->k->server.pub};

	session_free(sv->s);
	frame_decoder_free(sv->d);
	FUZZ_ASSERT(session_server_new(&sc, &sv->s) == 0 && (sv->d = frame_decoder_new()) != NULL);
	sv->who = -1;
}

/* Answer with an Error where the session still allows one; the connection ends. */
static int server_refuse(struct server *sv, const char *why, struct buf *out)
{
	if (session_server_error(sv->s, why, out) != 0) {
		/* a dead session sends nothing */
	}
	return 1;
}

static int server_hello(struct server *sv, const struct frame *f, struct buf *out)
{
	uint8_t cpub[P256_POINT_LEN];
	uint64_t ts;
	int i;

	if (session_server_hello_begin(sv->s, f, cpub) != 0)
		return server_refuse(sv, "handshake failed", out);
	for (i = 0; i < 2; i++)
		if (memcmp(cpub, sv->k->client[i].pub, P256_POINT_LEN) == 0)
			sv->who = i;
	if (session_server_hello_finish(sv->s, sv->who == 0 ? sv->ss0 : NULL, &ts) != 0)
		return server_refuse(sv, "handshake failed", out);
	if (sv->who < 0) {
		if (session_server_key_not_found(sv->s, out) != 0) {
			/* nothing to send */
		}
		return 1;
	}
	if (replay_update(sv->replay, cpub, ts) != 0)
		return server_refuse(sv, "replayed Hello", out);
	return session_server_link(sv->s, out) != 0;
}

static int server_get(struct server *sv, const struct frame *f, struct buf *out)
{
	struct msg_names *names = NULL;
	struct msg_chunker ch;
	int more = 1, closed = 0;

	if (session_server_read_get(sv->s, f, &names) != 0)
		return 1;
	msg_chunker_init(&ch, &sv->k->shard[sv->who], SERVER_CHUNK);
	while (more && !closed)
		closed = session_server_okget(sv->s, &ch, out, &more) != 0;
	msg_names_free(names);
	return closed;
}

static int server_feed(void *ctx, const uint8_t *p, size_t n, struct buf *out)
{
	struct server *sv = ctx;
	struct frame f;
	size_t off = 0, used;
	int r;

	while (off < n) {
		r = frame_decoder_feed(sv->d, p + off, n - off, &used, &f);
		off += used;
		if (r == ERR_INCOMPLETE)
			return 0;
		if (r != 0 || session_check_incoming(sv->s, &f) != 0)
			return 1;
		switch (f.type) {
		case FRAME_HELLO:
			r = server_hello(sv, &f, out);
			break;
		case FRAME_GET:
			r = server_get(sv, &f, out);
			break;
		default:
			if (session_server_read_bye(sv->s, &f) != 0) {
				/* a bad Bye ends the conversation as well */
			}
			r = 1;
		}
		if (r != 0)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct server sv;
	struct script_server srv = {server_connect, server_feed, NULL, &sv};

	if (sv.k == NULL) {
		sv.k = script_keys();
		FUZZ_ASSERT(sv.k->server.fn(sv.k->server.ctx, sv.k->client[0].pub, sv.ss0) == 0);
	}
	FUZZ_ASSERT((sv.replay = replay_new(16)) != NULL);
	script_run(data, size, &srv);
	session_free(sv.s);
	frame_decoder_free(sv.d);
	replay_free(sv.replay);
	sv.s = NULL;
	sv.d = NULL;
	return 0;
}
