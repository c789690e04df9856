// SPDX-License-Identifier: ISC
#include "session.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "log.h"
#include "pkey.h"
#include "secmem.h"

struct session {
	enum frame_role role;
	struct frame_sm sm;
	struct noise_hs *hs;
	struct noise_key s;             /* local static */
	uint8_t client_pub[P256_POINT_LEN];
	int have_client_pub;
	uint64_t timestamp_ns;          /* client: what Hello carries */
	struct noise_cipher_state tx, rx;
	int transport;                  /* Split done */
	int hello_authenticated;        /* server: message 1 fully read */
	int dead;
};

static const struct noise_proto coffer_proto = {
	NOISE_PATTERN_IK, NOISE_DH_P256, NOISE_CIPHER_AESGCM, NOISE_HASH_SHA256,
};

/* Any failure kills the session: the caller closes the connection. */
static int fail(struct session *s, int r)
{
	s->dead = 1;
	return r;
}

static int alive(const struct session *s)
{
	if (s->dead)
		return err_set(ERR_PROTOCOL, "session already failed");
	return 0;
}

static int session_new(enum frame_role role, noise_dh_fn dh, void *ctx, const uint8_t *pub,
		       const uint8_t *rs, struct session **out)
{
	struct session *s = NULL;
	int r;

	*out = NULL;
	if (dh == NULL || pub == NULL)
		fatal("session_new: NULL key");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ERR_ALLOC;
	s->role = role;
	frame_sm_init(&s->sm, role);
	if ((r = noise_key_from_callback(&s->s, NOISE_DH_P256, pub, dh, ctx)) != 0)
		goto out;
	if ((r = noise_hs_new(&coffer_proto, role == FRAME_ROLE_CLIENT,
			      (const uint8_t *)SESSION_PROLOGUE, strlen(SESSION_PROLOGUE), &s->s, rs,
			      &s->hs)) != 0)
		goto out;
	*out = s;
	s = NULL;
out:
	session_free(s);
	return r;
}

int session_client_new(const struct session_client_config *cfg, struct session **out)
{
	struct timespec now;
	int r;

	*out = NULL;
	if (cfg->server_pub == NULL)
		fatal("session_client_new: no server key");
	if ((r = pkey_check_point(cfg->server_pub, P256_POINT_LEN)) != 0)
		return err_wrap(r, "pinned server key");
	if ((r = session_new(FRAME_ROLE_CLIENT, cfg->dh, cfg->dh_ctx, cfg->client_pub,
			     cfg->server_pub, out)) != 0)
		return r;
	memcpy((*out)->client_pub, cfg->client_pub, P256_POINT_LEN);
	(*out)->have_client_pub = 1;
	(*out)->timestamp_ns = cfg->timestamp_ns;
	if (cfg->timestamp_ns == 0) {
		if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
			session_free(*out);
			*out = NULL;
			return err_sys("clock_gettime");
		}
		(*out)->timestamp_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	}
	return 0;
}

int session_server_new(const struct session_server_config *cfg, struct session **out)
{
	return session_new(FRAME_ROLE_SERVER, cfg->dh, cfg->dh_ctx, cfg->server_pub, NULL, out);
}

void session_free(struct session *s)
{
	if (s == NULL)
		return;
	noise_hs_free(s->hs);
	noise_key_clear(&s->s);
	noise_cs_clear(&s->tx);
	noise_cs_clear(&s->rx);
	secmem_zero(s, sizeof(*s));
	free(s);
}

int session_set_ephemeral(struct session *s, const uint8_t *priv, size_t len)
{
	if (s->hs == NULL)
		return err_set(ERR_PROTOCOL, "handshake is over");
	return noise_hs_set_ephemeral(s->hs, priv, len);
}

int session_done(const struct session *s)
{
	return s->dead || frame_sm_done(&s->sm);
}

int session_check_incoming(const struct session *s, const struct frame *f)
{
	int r;

	if ((r = alive(s)) != 0)
		return r;
	return frame_sm_check(&s->sm, 0, f->type);
}

const uint8_t *session_client_pub(const struct session *s)
{
	return s->have_client_pub ? s->client_pub : NULL;
}

void session_tai64n_encode(uint64_t ns, uint8_t out[static SESSION_TAI64N_LEN])
{
	/* TAI64 label: 2^62 + 10 + Unix seconds, as WireGuard writes it. */
	buf_poke_be64(out, 0x400000000000000aULL + ns / 1000000000u);
	buf_poke_be32(out + 8, (uint32_t)(ns % 1000000000u));
}

int session_tai64n_decode(const uint8_t in[static SESSION_TAI64N_LEN], uint64_t *ns)
{
	uint64_t secs = buf_peek_be64(in);
	uint32_t nano = buf_peek_be32(in + 8);

	*ns = 0;
	if (secs < 0x400000000000000aULL || nano >= 1000000000u)
		return err_set(ERR_FORMAT, "malformed TAI64N timestamp");
	secs -= 0x400000000000000aULL;
	if (secs > (UINT64_MAX - nano) / 1000000000u)
		return err_set(ERR_FORMAT, "TAI64N timestamp beyond 64-bit nanoseconds");
	*ns = secs * 1000000000u + nano;
	return 0;
}

/* Seal plaintext with the send key into a frame of the given type. */
static int seal_frame(struct session *s, uint8_t type, const uint8_t *pt, size_t len,
		      struct buf *out)
{
	struct buf *body = NULL;
	int r;

	if (!s->transport)
		return err_set(ERR_INTERNAL, "sealing before the transport keys");
	if ((body = buf_new(FRAME_MAX_BODY)) == NULL)
		return ERR_ALLOC;
	if ((r = noise_cs_encrypt(&s->tx, &type, 1, pt, len, body)) != 0 ||
	    (r = frame_encode(out, type, buf_ptr(body), buf_len(body))) != 0)
		goto out;
out:
	buf_free(body);
	return r;
}

/* Open a frame's body with the receive key; plaintext appended to pt. */
static int open_frame(struct session *s, const struct frame *f, struct buf *pt)
{
	uint8_t type = f->type;
	int r;

	if (!s->transport)
		return err_set(ERR_INTERNAL, "opening before the transport keys");
	if ((r = noise_cs_decrypt(&s->rx, &type, 1, f->body, f->len, pt)) != 0)
		return err_wrap(r, "open %s", frame_type_name(f->type));
	return 0;
}

static int split(struct session *s)
{
	struct noise_cipher_state c1, c2;
	int r;

	if ((r = noise_hs_split(s->hs, &c1, &c2)) != 0)
		return r;
	if (s->role == FRAME_ROLE_CLIENT) {
		s->tx = c1;
		s->rx = c2;
	} else {
		s->tx = c2;
		s->rx = c1;
	}
	noise_cs_clear(&c1);
	noise_cs_clear(&c2);
	noise_hs_free(s->hs);
	s->hs = NULL;
	s->transport = 1;
	return 0;
}

/* The reason text of an Error, made safe for messages. */
static int server_refused(const uint8_t *p, size_t len)
{
	char text[FRAME_MAX_ERROR_TEXT + 1], safe[256];
	int nf;

	memcpy(text, p, len);
	text[len] = '\0';
	log_untrusted(safe, sizeof(safe), text, 200);
	nf = strncmp(text, "secret not found", 16) == 0;
	return err_set(nf ? ERR_NOT_FOUND : ERR_PROTOCOL, "server refused: %s", safe);
}

/* ------------------------------------------------------------ client */

int session_client_hello(struct session *s, struct buf *out)
{
	uint8_t ts[SESSION_TAI64N_LEN];
	struct buf *body = NULL;
	int r;

	if ((r = alive(s)) != 0)
		return r;
	if (s->role != FRAME_ROLE_CLIENT)
		fatal("session_client_hello on a server session");
	if ((r = frame_sm_advance(&s->sm, 1, FRAME_HELLO, 0)) != 0)
		return fail(s, r);
	session_tai64n_encode(s->timestamp_ns, ts);
	if ((body = buf_new(FRAME_MAX_BODY)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	if ((r = noise_hs_write(s->hs, ts, sizeof(ts), body)) != 0 ||
	    (r = frame_encode(out, FRAME_HELLO, buf_ptr(body), buf_len(body))) != 0)
		goto out;
out:
	buf_free(body);
	return r != 0 ? fail(s, r) : 0;
}

int session_client_read_link(struct session *s, const struct frame *f)
{
	struct buf *pt = NULL;
	int r;

	if ((r = session_check_incoming(s, f)) != 0)
		return fail(s, r);
	if ((r = frame_sm_advance(&s->sm, 0, f->type, 0)) != 0)
		return fail(s, r);
	if (f->type == FRAME_ERROR)
		return fail(s, server_refused(f->body, f->len));
	if ((pt = buf_new(FRAME_MAX_BODY)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	if ((r = noise_hs_read(s->hs, f->body, f->len, pt)) != 0) {
		r = err_wrap(r, "read %s", frame_type_name(f->type));
		goto out;
	}
	if (f->type == FRAME_KEY_NOT_FOUND) {
		if (buf_len(pt) != P256_POINT_LEN ||
		    CRYPTO_memcmp(buf_ptr(pt), s->client_pub, P256_POINT_LEN) != 0) {
			r = err_set(ERR_PROTOCOL, "KeyNotFound names another client key");
			goto out;
		}
		r = err_set(ERR_NOT_FOUND, "server does not know this client key");
		goto out;
	}
	if (buf_len(pt) != 0) {
		r = err_set(ERR_PROTOCOL, "Link with a non-empty payload");
		goto out;
	}
	r = split(s);
out:
	buf_free(pt);
	return r != 0 ? fail(s, r) : 0;
}

int session_client_get(struct session *s, const char *const *names, const size_t *lens,
		       size_t n, struct buf *out)
{
	struct buf *pt = NULL;
	int r;

	if ((r = alive(s)) != 0)
		return r;
	if ((r = frame_sm_check(&s->sm, 1, FRAME_GET)) != 0)
		return fail(s, r);
	if ((pt = buf_new(MSG_MAX_CHUNK)) == NULL)
		return fail(s, ERR_ALLOC);
	if ((r = msg_encode_names(pt, names, lens, n)) != 0)
		goto out;
	if ((r = seal_frame(s, FRAME_GET, buf_ptr(pt), buf_len(pt), out)) != 0)
		goto out;
	r = frame_sm_advance(&s->sm, 1, FRAME_GET, 0);
out:
	buf_free(pt);
	/* A name list the caller got wrong does not break the session. */
	if (r == ERR_INVALID_ARG || r == ERR_TOO_LARGE)
		return r;
	return r != 0 ? fail(s, r) : 0;
}

int session_client_read_okget(struct session *s, const struct frame *f, struct msg_shard *sh,
			      int *more)
{
	struct buf *pt = NULL;
	int r;

	*more = 0;
	if ((r = session_check_incoming(s, f)) != 0)
		return fail(s, r);
	if ((pt = buf_new(FRAME_MAX_BODY)) == NULL)
		return fail(s, ERR_ALLOC);
	if ((r = open_frame(s, f, pt)) != 0)
		goto out;
	if (f->type == FRAME_ERROR) {
		if ((r = frame_sm_advance(&s->sm, 0, f->type, 0)) == 0)
			r = buf_len(pt) > FRAME_MAX_ERROR_TEXT || buf_len(pt) == 0
				    ? err_set(ERR_PROTOCOL, "malformed sealed Error")
				    : server_refused(buf_ptr(pt), buf_len(pt));
		goto out;
	}
	if ((r = msg_shard_add(sh, buf_ptr(pt), buf_len(pt), more)) != 0 ||
	    (r = frame_sm_advance(&s->sm, 0, f->type, *more)) != 0)
		goto out;
out:
	buf_free(pt);
	return r != 0 ? fail(s, r) : 0;
}

int session_client_bye(struct session *s, struct buf *out)
{
	int r;

	if ((r = alive(s)) != 0)
		return r;
	if ((r = frame_sm_check(&s->sm, 1, FRAME_BYE)) != 0 ||
	    (r = seal_frame(s, FRAME_BYE, s->client_pub, P256_POINT_LEN, out)) != 0 ||
	    (r = frame_sm_advance(&s->sm, 1, FRAME_BYE, 0)) != 0)
		return fail(s, r);
	return 0;
}

/* ------------------------------------------------------------ server */

int session_server_hello_begin(struct session *s, const struct frame *f,
			       uint8_t client_pub[static 65])
{
	const uint8_t *rs;
	int r;

	memset(client_pub, 0, P256_POINT_LEN);
	if ((r = session_check_incoming(s, f)) != 0)
		return fail(s, r);
	if (f->type != FRAME_HELLO)
		return fail(s, err_set(ERR_INVALID_ARG, "hello_begin with a %s frame",
				       frame_type_name(f->type)));
	if ((r = frame_sm_advance(&s->sm, 0, FRAME_HELLO, 0)) != 0)
		return fail(s, r);
	if (f->len != FRAME_HELLO_LEN)
		return fail(s, err_set(ERR_FORMAT, "Hello body of %zu bytes", f->len));
	if ((r = noise_hs_read_begin(s->hs, f->body, f->len)) != 0 ||
	    (r = noise_hs_read_until(s->hs, NOISE_TOK_SS)) != 0)
		return fail(s, err_wrap(r, "read Hello"));
	if ((rs = noise_hs_remote_static(s->hs)) == NULL)
		return fail(s, err_set(ERR_INTERNAL, "no client key after s"));
	memcpy(s->client_pub, rs, P256_POINT_LEN);
	s->have_client_pub = 1;
	memcpy(client_pub, rs, P256_POINT_LEN);
	return 0;
}

int session_server_hello_finish(struct session *s, const uint8_t *ss, uint64_t *ts_ns)
{
	struct buf *pt = NULL;
	int r;

	*ts_ns = 0;
	if ((r = alive(s)) != 0)
		return r;
	if (!s->have_client_pub || s->hello_authenticated || s->hs == NULL)
		return fail(s, err_set(ERR_INVALID_ARG, "hello_finish without hello_begin"));
	if (ss != NULL && (r = noise_hs_supply_dh(s->hs, ss, P256_DH_LEN)) != 0)
		return fail(s, r);
	if ((pt = buf_new(FRAME_MAX_BODY)) == NULL)
		return fail(s, ERR_ALLOC);
	if ((r = noise_hs_read_finish(s->hs, pt)) != 0) {
		r = err_wrap(r, "read Hello");
		goto out;
	}
	if (buf_len(pt) != SESSION_TAI64N_LEN) {
		r = err_set(ERR_FORMAT, "Hello payload of %zu bytes, not a TAI64N timestamp",
			    buf_len(pt));
		goto out;
	}
	if ((r = session_tai64n_decode(buf_ptr(pt), ts_ns)) != 0)
		goto out;
	s->hello_authenticated = 1;
out:
	buf_free(pt);
	return r != 0 ? fail(s, r) : 0;
}

static int server_msg2(struct session *s, uint8_t type, struct buf *out)
{
	struct buf *body = NULL;
	int r;

	if ((r = alive(s)) != 0)
		return r;
	if (!s->hello_authenticated)
		return fail(s, err_set(ERR_INVALID_ARG, "%s before the Hello authenticated",
				       frame_type_name(type)));
	if ((r = frame_sm_advance(&s->sm, 1, type, 0)) != 0)
		return fail(s, r);
	if ((body = buf_new(FRAME_MAX_BODY)) == NULL)
		return fail(s, ERR_ALLOC);
	if ((r = noise_hs_write(s->hs, type == FRAME_LINK ? NULL : s->client_pub,
				type == FRAME_LINK ? 0 : P256_POINT_LEN, body)) != 0 ||
	    (r = frame_encode(out, type, buf_ptr(body), buf_len(body))) != 0)
		goto out;
	if (type == FRAME_LINK)
		r = split(s);
out:
	buf_free(body);
	return r != 0 ? fail(s, r) : 0;
}

int session_server_link(struct session *s, struct buf *out)
{
	return server_msg2(s, FRAME_LINK, out);
}

int session_server_key_not_found(struct session *s, struct buf *out)
{
	return server_msg2(s, FRAME_KEY_NOT_FOUND, out);
}

int session_server_read_get(struct session *s, const struct frame *f, struct msg_names **names)
{
	struct buf *pt = NULL;
	int r;

	*names = NULL;
	if ((r = session_check_incoming(s, f)) != 0)
		return fail(s, r);
	if (f->type != FRAME_GET)
		return fail(s, err_set(ERR_INVALID_ARG, "read_get with a %s frame",
				       frame_type_name(f->type)));
	if ((pt = buf_new(FRAME_MAX_BODY)) == NULL)
		return fail(s, ERR_ALLOC);
	if ((r = open_frame(s, f, pt)) != 0 ||
	    (r = msg_names_decode(buf_ptr(pt), buf_len(pt), names)) != 0 ||
	    (r = frame_sm_advance(&s->sm, 0, FRAME_GET, 0)) != 0)
		goto out;
out:
	buf_free(pt);
	if (r != 0) {
		msg_names_free(*names);
		*names = NULL;
		return fail(s, r);
	}
	return 0;
}

int session_server_okget(struct session *s, struct msg_chunker *c, struct buf *out, int *more)
{
	struct buf *pt = NULL;
	int r;

	*more = 0;
	if ((r = alive(s)) != 0)
		return r;
	if ((r = frame_sm_check(&s->sm, 1, FRAME_OKGET)) != 0)
		return fail(s, r);
	if ((pt = buf_new(MSG_MAX_CHUNK)) == NULL)
		return fail(s, ERR_ALLOC);
	if ((r = msg_chunk_next(c, pt, more)) != 0 ||
	    (r = seal_frame(s, FRAME_OKGET, buf_ptr(pt), buf_len(pt), out)) != 0 ||
	    (r = frame_sm_advance(&s->sm, 1, FRAME_OKGET, *more)) != 0)
		goto out;
out:
	buf_free(pt);
	return r != 0 ? fail(s, r) : 0;
}

int session_server_read_bye(struct session *s, const struct frame *f)
{
	struct buf *pt = NULL;
	int r;

	if ((r = session_check_incoming(s, f)) != 0)
		return fail(s, r);
	if (f->type != FRAME_BYE)
		return fail(s, err_set(ERR_INVALID_ARG, "read_bye with a %s frame",
				       frame_type_name(f->type)));
	if ((pt = buf_new(FRAME_MAX_BODY)) == NULL)
		return fail(s, ERR_ALLOC);
	if ((r = open_frame(s, f, pt)) != 0)
		goto out;
	if (buf_len(pt) != P256_POINT_LEN ||
	    CRYPTO_memcmp(buf_ptr(pt), s->client_pub, P256_POINT_LEN) != 0) {
		r = err_set(ERR_PROTOCOL, "Bye carries another client key");
		goto out;
	}
	r = frame_sm_advance(&s->sm, 0, FRAME_BYE, 0);
out:
	buf_free(pt);
	return r != 0 ? fail(s, r) : 0;
}

int session_server_error(struct session *s, const char *reason, struct buf *out)
{
	size_t len = strlen(reason);
	int r;

	if (len > FRAME_MAX_ERROR_TEXT)
		len = FRAME_MAX_ERROR_TEXT;
	if (len == 0)
		reason = "error", len = 5;
	/* Even a failed session may still say why, once. */
	if ((r = frame_sm_advance(&s->sm, 1, FRAME_ERROR, 0)) != 0)
		return fail(s, r);
	if (s->transport)
		r = seal_frame(s, FRAME_ERROR, (const uint8_t *)reason, len, out);
	else
		r = frame_encode(out, FRAME_ERROR, (const uint8_t *)reason, len);
	s->dead = 1;
	return r;
}

/* ------------------------------------------------------------ replay */

struct replay_entry {
	uint8_t pub[P256_POINT_LEN];
	uint64_t ts;
	int used;
};

struct replay {
	struct replay_entry *slots;
	size_t cap, n, max;
};

struct replay *replay_new(size_t max_clients)
{
	struct replay *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->max = max_clients == 0 ? 1000000 : max_clients;
	t->cap = 64;
	if ((t->slots = calloc(t->cap, sizeof(*t->slots))) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void replay_free(struct replay *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t);
}

/* Only authenticated keys go in, so the x-coordinate is a fair hash. */
static size_t slot_of(const struct replay_entry *slots, size_t cap, const uint8_t *pub)
{
	size_t i = (size_t)buf_peek_be64(pub + 1) & (cap - 1);

	while (slots[i].used && memcmp(slots[i].pub, pub, P256_POINT_LEN) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

int replay_check(const struct replay *t, const uint8_t pub[static 65], uint64_t ts)
{
	const struct replay_entry *e = &t->slots[slot_of(t->slots, t->cap, pub)];

	if (e->used && ts <= e->ts)
		return err_set(ERR_REPLAY, "replayed Hello (timestamp not newer than the last)");
	return 0;
}

static int grow(struct replay *t)
{
	struct replay_entry *n;
	size_t cap = t->cap * 2, i;

	if ((n = calloc(cap, sizeof(*n))) == NULL)
		return ERR_ALLOC;
	for (i = 0; i < t->cap; i++)
		if (t->slots[i].used)
			n[slot_of(n, cap, t->slots[i].pub)] = t->slots[i];
	free(t->slots);
	t->slots = n;
	t->cap = cap;
	return 0;
}

int replay_update(struct replay *t, const uint8_t pub[static 65], uint64_t ts)
{
	struct replay_entry *e;
	int r;

	if ((r = replay_check(t, pub, ts)) != 0)
		return r;
	e = &t->slots[slot_of(t->slots, t->cap, pub)];
	if (!e->used) {
		if (t->n >= t->max)
			return err_set(ERR_BUSY, "replay table full (%zu clients)", t->max);
		if ((t->n + 1) * 2 > t->cap) {
			if ((r = grow(t)) != 0)
				return r;
			e = &t->slots[slot_of(t->slots, t->cap, pub)];
		}
		memcpy(e->pub, pub, P256_POINT_LEN);
		e->used = 1;
		t->n++;
	}
	e->ts = ts;
	return 0;
}
