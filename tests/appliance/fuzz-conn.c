// SPDX-License-Identifier: ISC
/*
 * Fuzz one appliance connection as the server runs it, driven by the
 * scripted client of tests/fuzz/script.h: the header read and judged against
 * --max-frame before the body is buffered and the first-frame rules of the
 * event loop (server.c: conn_readable, conn_dispatch), then handler_handle
 * for every whole frame: the Noise IK responder with the key behind the
 * token interface, the identity lookup in a state of two clients (one with a
 * cached ss), the replay table, Get by names, chunked OkGets, Bye, audit
 * records (the script's knob sends them to /dev/full, where every write fails).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cfg.h"
#include "handler.h"
#include "log.h"
#include "state.h"
#include "token.h"

#include "script.h"

struct conn {
	struct handler_env env;
	struct audit *audit_ok, *audit_full;
	struct appl_state *st;
	struct handler *sess;
	uint8_t hdr[WIRE_HEADER_LEN];
	size_t hdr_have;
	uint8_t *body;
	size_t body_len, body_have;
};

static void conn_reset(struct conn *c)
{
	handler_free(c->sess);
	c->sess = NULL;
	free(c->body);
	c->body = NULL;
	c->hdr_have = c->body_len = c->body_have = 0;
}

static void conn_connect(void *ctx)
{
	conn_reset(ctx);
}

/* The knob: bit 0 sends audit records to /dev/full (every write fails). */
static void conn_knob(void *ctx, uint8_t v)
{
	struct conn *c = ctx;

	c->env.audit = (v & 1) ? c->audit_full : c->audit_ok;
}

/* A whole frame is in: what conn_dispatch and run_job do with it. */
static int conn_dispatch(struct conn *c, struct buf *out)
{
	uint8_t type = c->hdr[2];
	int close = 1;

	if ((type == FRAME_HELLO) != (c->sess == NULL))
		FUZZ_ASSERT(handler_plain_error(out, type == FRAME_HELLO ? "unexpected Hello"
									  : "expected Hello") == 0);
	else if (handler_handle(&c->env, c->st, "fuzz", &c->sess, type, c->body, c->body_len, out,
				&close) != 0)
		close = 1;
	free(c->body);
	c->body = NULL;
	c->hdr_have = c->body_len = c->body_have = 0;
	return close;
}

static int conn_feed(void *ctx, const uint8_t *p, size_t n, struct buf *out)
{
	struct conn *c = ctx;
	size_t take, off = 0;

	while (off < n) {
		if (c->hdr_have < WIRE_HEADER_LEN) {
			take = WIRE_HEADER_LEN - c->hdr_have;
			take = take < n - off ? take : n - off;
			memcpy(c->hdr + c->hdr_have, p + off, take);
			c->hdr_have += take;
			off += take;
			if (c->hdr_have < WIRE_HEADER_LEN)
				return 0;
			c->body_len = buf_peek_be16(c->hdr);
			/* The cap is checked before anything is allocated. */
			if (c->body_len + WIRE_HEADER_LEN > CFG_DEFAULT_MAX_FRAME) {
				FUZZ_ASSERT(handler_plain_error(out, "frame too large") == 0);
				return 1;
			}
			FUZZ_ASSERT((c->body = malloc(c->body_len > 0 ? c->body_len : 1)) != NULL);
		}
		take = c->body_len - c->body_have;
		take = take < n - off ? take : n - off;
		memcpy(c->body + c->body_have, p + off, take);
		c->body_have += take;
		off += take;
		if (c->body_have == c->body_len && conn_dispatch(c, out))
			return 1;
	}
	return 0;
}

/* Two registered clients (key 0 with its ss cached), the key in a software token. */
static void setup(struct conn *c)
{
	static uint8_t ss0[P256_DH_LEN];
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	const struct script_keys *k = script_keys();
	struct state_client cl[2];
	struct token *tok = NULL;
	int i;

	log_set_level(LOG_LEVEL_ERROR);
	memset(cl, 0, sizeof(cl));
	FUZZ_ASSERT(token_soft(k->server.ctx, &tok) == 0);
	for (i = 0; i < 2; i++) {
		FUZZ_ASSERT(pkey_identity_from_point(k->client[i].pub, cl[i].id) == 0);
		cl[i].name = i == 0 ? "zero" : "one";
		cl[i].shard = k->shard[i];
	}
	cl[0].have_point = 1;
	memcpy(cl[0].point, k->client[0].pub, P256_POINT_LEN);
	FUZZ_ASSERT(token_dh(tok, cl[0].point, ss0) == 0);
	cl[0].ss = ss0;
	FUZZ_ASSERT(state_from_clients(cl, 2, &c->st) == 0);
	FUZZ_ASSERT(audit_open("/dev/null", &c->audit_ok) == 0 &&
		    audit_open("/dev/full", &c->audit_full) == 0);
	c->env.token = tok;
	c->env.audit_required = 1;
	c->env.replay_lock = &lock;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conn c;
	struct script_server srv = {conn_connect, conn_feed, conn_knob, &c};

	if (c.st == NULL)
		setup(&c);
	c.env.audit = c.audit_ok;
	FUZZ_ASSERT(handler_replay_new(&c.env.replay) == 0);
	script_run(data, size, &srv);
	conn_reset(&c);
	handler_replay_free(c.env.replay);
	c.env.replay = NULL;
	return 0;
}

int fuzz_seeds(const char *dir)
{
	return script_seeds(dir);
}
