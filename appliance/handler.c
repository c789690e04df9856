// SPDX-License-Identifier: ISC
#include "handler.h"

#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "bounds.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "pkey.h"
#include "secmem.h"
#include "state.h"
#include "token.h"

#include "frame.h"
#include "msg.h"
#include "session.h"

#define HANDLER_FRAME_ERROR 0xff
#define HANDLER_MAX_ERROR 1024

struct handler {
	struct appl_state *st;
	int linked;
	/* a release waiting for its audit record (handler_release_done) */
	int pending;
	struct secret *sel; /* the secrets it releases, or NULL: the whole shard */
	size_t nsel;
	const struct state_client *client;
	size_t key;          /* the appliance key that opened the Hello */
	const char *key_fpr; /* and its fingerprint */
	uint8_t client_pub[P256_POINT_LEN];
	struct session *ps;
};

int handler_plain_error(struct buf *out, const char *reason)
{
	size_t n = strlen(reason);
	int r;

	if (n > HANDLER_MAX_ERROR)
		n = HANDLER_MAX_ERROR;
	if ((r = buf_put_u16(out, (uint16_t)n)) != 0 ||
	    (r = buf_put_u8(out, HANDLER_FRAME_ERROR)) != 0 || (r = buf_put(out, reason, n)) != 0)
		return r;
	return 0;
}

int handler_linked(const struct handler *h)
{
	return h != NULL && h->linked;
}

void handler_free(struct handler *h)
{
	if (h == NULL)
		return;
	session_free(h->ps);
	free(h->sel);
	state_unref(h->st);
	secmem_zero(h, sizeof(*h));
	free(h);
}

static void audit_or_warn(const struct handler_env *env, const struct audit_event *ev)
{
	int r;

	if ((r = audit_write(env->audit, ev)) != 0)
		warn_fr(r, "%s", "audit record");
}

/* A Hello that got nowhere: counted per source and reason (audit_refused). */
static void audit_refusal(const struct handler_env *env, const struct audit_event *ev)
{
	int r;

	if ((r = audit_refused(env->audit, ev)) != 0)
		warn_fr(r, "%s", "audit record");
}

static uint64_t handler_now_ns(const struct handler_env *env)
{
	return env->test_now_ns != 0 ? env->test_now_ns : clock_real_ns();
}

/*
 * The Hello's timestamp against this clock: NULL if it may be checked
 * against the replay table, else why not. A Hello from further ahead than
 * the skew is refused without recording it (it would lock its client out
 * until the clock caught up); one from before the start minus the skew may
 * have been captured before a restart emptied the replay table.
 */
static const char *hello_time_refusal(const struct handler_env *env, uint64_t ts)
{
	uint64_t now = handler_now_ns(env);

	if (ts > now && ts - now > env->clock_skew_ns)
		return "Hello from the future (check the client's clock)";
	if (ts < env->started_ns && env->started_ns - ts > env->clock_skew_ns)
		return "stale Hello (older than the server's start; check the client's clock)";
	return NULL;
}

static void audit_init(struct audit_event *ev, enum audit_event_type type, const char *peer,
		       const struct handler *h)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->peer = peer;
	ev->keys = -1;
	if (h != NULL && h->client != NULL) {
		ev->have_identity = 1;
		memcpy(ev->identity, h->client->id, IDENTITY_LEN);
		ev->name = h->client->name;
	}
	if (h != NULL)
		ev->appliance_key = h->key_fpr;
	if (h != NULL && h->st != NULL) {
		ev->have_serial = 1;
		ev->serial = h->st->serial;
	}
}

int handler_replay_new(void **out)
{
	if ((*out = replay_new(0)) == NULL)
		return err_set(ERR_ALLOC, "replay table");
	return 0;
}

void handler_replay_free(void *replay)
{
	replay_free(replay);
}

/* Hello -> Link | KeyNotFound | Error. */
static int do_hello(const struct handler_env *env, struct handler *h, const char *peer,
		    const struct frame *f, struct buf *out, int *close)
{
	struct audit_event ev;
	struct session_server_config sc;
	uint8_t id[IDENTITY_LEN], ss_new[P256_DH_LEN];
	const uint8_t *ss = NULL;
	const char *why;
	uint64_t ts = 0;
	size_t n = token_count(env->token), first, j, k = 0;
	int r, rr;

	*close = 1;
	audit_init(&ev, AUDIT_HANDSHAKE, peer, NULL);
	/*
	 * Which appliance key the client pinned shows only once s decrypts, after
	 * the token DH es with that key: try the key of the last good Hello first,
	 * so that steady state costs no extra DH; a wrong key fails with ERR_AUTH.
	 */
	first = token_preferred(env->token);
	for (j = 0, r = ERR_AUTH; j < n && r == ERR_AUTH; j++) {
		k = (first + j) % n;
		session_free(h->ps);
		h->ps = NULL;
		memset(&sc, 0, sizeof(sc));
		sc.dh = token_dh_callback;
		sc.dh_ctx = token_dh_ctx(env->token, k);
		sc.server_pub = token_point(env->token, k);
		if ((r = session_server_new(&sc, &h->ps)) != 0 ||
		    (env->test_ephemeral != NULL &&
		     (r = session_set_ephemeral(h->ps, env->test_ephemeral, 32)) != 0))
			goto fail_internal;
		r = session_server_hello_begin(h->ps, f, h->client_pub);
	}
	if (r != 0) {
		if (r == ERR_HSM || r == ERR_TPM || r == ERR_ALLOC) {
			/* Our failure, not the peer's: the operator must see it. */
			error_fr(r, "peer %s: Hello: token DH", peer);
			ev.result = "error";
			ev.reason = "token failure";
			audit_refusal(env, &ev);
			return handler_plain_error(out, "server error");
		}
		/* Not for us, or garbage: nothing about any client changes. */
		ev.result = "error";
		ev.reason = "handshake failed";
		audit_refusal(env, &ev);
		log_debug("peer %s: Hello refused: %s", peer, err_msg(r));
		return handler_plain_error(out, "handshake failed");
	}
	h->key = k;
	h->key_fpr = token_fingerprint(env->token, k);
	ev.appliance_key = h->key_fpr;
	/* The point was validated by the handshake; hash it as the SPKI would be. */
	if (pkey_identity_from_point(h->client_pub, id) == 0)
		h->client = state_find(h->st, id);
	else
		memset(id, 0, sizeof(id));
	err_clear();
	/*
	 * ss is fixed per client and appliance key: a registered client's is
	 * cached after its first authenticated Hello (or at load, --cache-ss),
	 * so steady state costs one token DH. Revoked clients get no cache.
	 */
	if (h->client != NULL && !state_is_revoked(h->st, id)) {
		if ((ss = state_ss_get(h->st, h->client, k)) == NULL &&
		    (r = token_dh(env->token, k, h->client_pub, ss_new)) == 0)
			ss = ss_new;
		err_clear();
	}
	if (r == 0)
		r = session_server_hello_finish(h->ps, ss, &ts);
	if (r != 0) {
		secmem_zero(ss_new, sizeof(ss_new));
		if (r == ERR_HSM || r == ERR_TPM || r == ERR_ALLOC) {
			error_fr(r, "peer %s: Hello: token DH", peer);
			ev.result = "error";
			ev.reason = "token failure";
			audit_refusal(env, &ev);
			h->client = NULL;
			return handler_plain_error(out, "server error");
		}
		/* An impostor: the s it sent is someone's key, but it cannot do ss. */
		ev.result = "error";
		ev.reason = "handshake failed";
		audit_refusal(env, &ev);
		log_debug("peer %s: Hello refused: %s", peer, err_msg(r));
		h->client = NULL;
		return handler_plain_error(out, "handshake failed");
	}
	if (ss == ss_new) {
		/* It authenticated: ss is right for this client. */
		state_ss_put(h->st, h->client, k, ss_new);
		secmem_zero(ss_new, sizeof(ss_new));
	}
	if ((why = hello_time_refusal(env, ts)) != NULL) {
		ev.have_identity = 1;
		memcpy(ev.identity, id, IDENTITY_LEN);
		ev.result = "clock";
		ev.reason = why;
		audit_refusal(env, &ev);
		h->client = NULL;
		return session_server_error(h->ps, why, out);
	}
	if (state_is_revoked(h->st, id)) {
		/*
		 * The officers revoked this key (revoked.json): answered as an
		 * unknown key whatever the definition says, and no replay state
		 * is kept for it.
		 */
		audit_init(&ev, AUDIT_HANDSHAKE, peer, h);
		ev.have_identity = 1;
		memcpy(ev.identity, id, IDENTITY_LEN);
		ev.result = "revoked";
		audit_refusal(env, &ev);
		h->client = NULL;
		return session_server_key_not_found(h->ps, out);
	}
	if (h->client == NULL) {
		/* Authenticated but unknown: answer, and keep no state for it. */
		ev.have_identity = 1;
		memcpy(ev.identity, id, IDENTITY_LEN);
		ev.result = "key-not-found";
		audit_refusal(env, &ev);
		return session_server_key_not_found(h->ps, out);
	}
	audit_init(&ev, AUDIT_HANDSHAKE, peer, h);
	pthread_mutex_lock(env->replay_lock);
	rr = replay_update(env->replay, h->client_pub, ts);
	pthread_mutex_unlock(env->replay_lock);
	if (rr != 0) {
		ev.result = rr == ERR_REPLAY ? "replay" : "busy";
		ev.reason = rr == ERR_REPLAY ? "Hello not newer than the last one" : "replay table full";
		audit_refusal(env, &ev);
		return session_server_error(h->ps, rr == ERR_REPLAY ? "replayed Hello" : "server busy",
					    out);
	}
	if ((r = session_server_link(h->ps, out)) != 0)
		goto fail_internal;
	/* Only a registered client moves the preference: strangers cannot steer it. */
	token_prefer(env->token, k);
	h->linked = 1;
	*close = 0;
	ev.result = "ok";
	audit_or_warn(env, &ev);
	return 0;
fail_internal:
	ev.result = "error";
	ev.reason = "server error";
	audit_or_warn(env, &ev);
	return r;
}

/* The secrets of the shard named in `names`; *missing gets the first absent name. */
static int select_secrets(const struct secret_list *shard, const struct msg_names *names,
			  struct secret **sel, size_t *n, const char **missing)
{
	size_t i, j;

	*sel = NULL;
	*n = 0;
	*missing = NULL;
	if ((*sel = calloc(names->n ? names->n : 1, sizeof(**sel))) == NULL)
		return err_set(ERR_ALLOC, "select secrets");
	for (i = 0; i < names->n; i++) {
		const struct secret *found = NULL;
		for (j = 0; j < shard->n; j++) {
			if (shard->items[j].key_len == names->lens[i] &&
			    memcmp(shard->items[j].key, names->names[i], names->lens[i]) == 0) {
				found = &shard->items[j];
				break;
			}
		}
		if (found == NULL) {
			*missing = names->names[i];
			return 0;
		}
		(*sel)[(*n)++] = *found;
	}
	return 0;
}

/* The OkGets of list, sealed into out; the connection stays for the Bye. */
static int seal_release(struct handler *h, const char *peer, const struct secret_list *list,
			struct buf *out, int *close)
{
	struct msg_chunker ch;
	int r, more = 1;

	msg_chunker_init(&ch, list, 0);
	while (more) {
		if ((r = session_server_okget(h->ps, &ch, out, &more)) != 0) {
			error_fr(r, "peer %s: OkGet for '%s'", peer, h->client->name);
			buf_reset(out);
			return r;
		}
	}
	/* After the last OkGet the client says Bye; keep the connection for it. */
	*close = 0;
	return 0;
}

/* Get -> OkGet... | Error, or HANDLER_PENDING (see handler_handle). */
static int do_get(const struct handler_env *env, struct handler *h, const char *peer,
		  const struct frame *f, struct buf *out, int *close, void *cookie)
{
	struct audit_event ev;
	struct msg_names *names = NULL;
	struct secret *sel = NULL;
	struct secret_list list;
	const char *missing = NULL, *released[AUDIT_MAX_NAMES];
	size_t nsel = 0, i;
	int r, ar;
	char why[HANDLER_MAX_ERROR];

	audit_init(&ev, AUDIT_RELEASE, peer, h);
	*close = 1;
	if ((r = session_server_read_get(h->ps, f, &names)) != 0) {
		/* Forged or garbled: the session is dead; nothing to answer. */
		ev.result = "error";
		ev.reason = "bad Get";
		audit_or_warn(env, &ev);
		r = 0;
		goto out;
	}
	list = h->client->shard;
	if (!names->all) {
		ev.requested = (const char *const *)names->names;
		ev.n_requested = names->n;
		if ((r = select_secrets(&h->client->shard, names, &sel, &nsel, &missing)) != 0)
			goto out;
		if (missing != NULL) {
			char esc[200];
			ev.result = "not-found";
			ev.reason = "secret not found";
			audit_or_warn(env, &ev);
			snprintf(why, sizeof(why), "secret not found: %s",
				 log_untrusted(esc, sizeof(esc), missing, 100));
			r = session_server_error(h->ps, why, out);
			goto out;
		}
		list.items = sel;
		list.n = nsel;
	}
	ev.keys = (long)list.n;
	ev.result = "ok";
	/* Names, never values: the first AUDIT_MAX_NAMES (keys has the count). */
	for (i = 0; i < list.n && i < AUDIT_MAX_NAMES; i++)
		released[i] = list.items[i].key;
	ev.released = released;
	ev.n_released = list.n;
	if (!env->audit_required) {
		/* Queued: the release does not wait for the audit log. */
		audit_or_warn(env, &ev);
		r = seal_release(h, peer, &list, out, close);
		goto out;
	}
	/* The record comes first: with --audit-required nothing leaves unrecorded. */
	ar = audit_submit(env->audit, &ev, env->release_done, cookie);
	if (ar == 0) {
		/* Queued: the OkGets wait for the writer (handler_release_done). */
		h->pending = 1;
		h->sel = sel;
		h->nsel = names->all ? SIZE_MAX : nsel;
		sel = NULL;
		r = HANDLER_PENDING;
		goto out;
	}
	if (ar < 0) {
		warn_fr(ar, "%s", "audit record");
		r = session_server_error(h->ps, "audit unavailable", out);
		goto out;
	}
	r = seal_release(h, peer, &list, out, close);
out:
	free(sel);
	msg_names_free(names);
	return r;
}

int handler_release_done(const struct handler_env *env, struct handler *h, const char *peer,
			 int audit_rc, struct buf *out, int *close)
{
	struct secret_list list;
	int r;

	(void)env;
	*close = 1;
	if (h == NULL || !h->pending)
		return err_set(ERR_INTERNAL, "no release waits for its audit record");
	h->pending = 0;
	if (audit_rc != 0) {
		warn_fr(audit_rc, "peer %s: audit record of a release", peer);
		r = session_server_error(h->ps, "audit unavailable", out);
	} else {
		list = h->client->shard;
		if (h->nsel != SIZE_MAX) {
			list.items = h->sel;
			list.n = h->nsel;
		}
		r = seal_release(h, peer, &list, out, close);
	}
	free(h->sel);
	h->sel = NULL;
	return r;
}

int handler_handle(const struct handler_env *env, struct appl_state *st, const char *peer,
		   struct handler **hp, uint8_t type, const uint8_t *body, size_t len,
		   struct buf *out, int *close, void *cookie)
{
	struct handler *h = *hp;
	struct frame f;
	int r;

	*close = 1;
	f.type = type;
	f.body = body;
	f.len = len;
	if (h == NULL) {
		if (type != FRAME_HELLO)
			return handler_plain_error(out, "expected Hello");
		if (frame_fixed_len(type) != len)
			return handler_plain_error(out, "bad Hello length");
		if ((h = calloc(1, sizeof(*h))) == NULL)
			return err_set(ERR_ALLOC, "handler");
		h->st = state_ref(st);
		*hp = h;
		return do_hello(env, h, peer, &f, out, close);
	}
	if (!h->linked || h->pending || h->ps == NULL || session_done(h->ps))
		return handler_plain_error(out, "conversation is over");
	if ((r = session_check_incoming(h->ps, &f)) != 0) {
		char why[128];
		snprintf(why, sizeof(why), "%s", err_detail());
		log_debug("peer %s: %s", peer, why);
		return session_server_error(h->ps, "unexpected frame", out);
	}
	switch (type) {
	case FRAME_GET:
		return do_get(env, h, peer, &f, out, close, cookie);
	case FRAME_BYE:
		if ((r = session_server_read_bye(h->ps, &f)) != 0)
			log_debug("peer %s: bad Bye: %s", peer, err_msg(r));
		return 0;
	default:
		return session_server_error(h->ps, "unexpected frame", out);
	}
}
