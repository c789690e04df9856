// SPDX-License-Identifier: ISC
#include "fetch.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "coffer.h"
#include "frame.h"
#include "hsm.h"
#include "log.h"
#include "msg.h"
#include "net.h"
#include "session.h"

/* Network-side codes become COFFER_E_NETWORK; the rest is the peer's fault. */
static int classify_io(int r)
{
	if (r == ERR_IO || r == ERR_TIMEOUT || r == ERR_SYSTEM)
		return COFFER_E_NETWORK;
	if (r == ERR_ALLOC)
		return COFFER_E_LOCAL;
	return COFFER_E_PROTOCOL;
}

/* Codes from our own key's DH (inside session calls) are local failures. */
static int is_local(int r)
{
	return r == ERR_HSM || r == ERR_TPM || r == ERR_ALLOC || r == ERR_INTERNAL;
}

/* Re-set the detail with the server's text escaped (it is untrusted). */
static void escape_detail(void)
{
	char tmp[600];

	log_untrusted(tmp, sizeof(tmp), err_detail(), 400);
	err_set(ERR_PROTOCOL, "%s", tmp);
}

/* Read one frame through the decoder (type and length checked on the header). */
static int read_frame(int fd, struct frame_decoder *dec, struct buf *raw, uint64_t deadline,
                      struct frame *f)
{
	uint8_t *p;
	size_t used;
	uint16_t len;
	int r;

	buf_reset(raw);
	if ((r = buf_reserve(raw, WIRE_HEADER_LEN, &p)) != 0)
		return COFFER_E_LOCAL;
	if ((r = net_read_exact(fd, p, WIRE_HEADER_LEN, deadline)) != 0)
		return classify_io(r);
	len = buf_peek_be16(p);
	r = frame_decoder_feed(dec, p, WIRE_HEADER_LEN, &used, f);
	if (r == 0 && len == 0)
		return 0;
	if (r != ERR_INCOMPLETE) {
		err_wrap(r, "frame from the server");
		return COFFER_E_PROTOCOL;
	}
	buf_reset(raw);
	if ((r = buf_reserve(raw, len, &p)) != 0)
		return COFFER_E_LOCAL;
	if ((r = net_read_exact(fd, p, len, deadline)) != 0)
		return classify_io(r);
	if ((r = frame_decoder_feed(dec, p, len, &used, f)) != 0 || used != len) {
		err_wrap(r, "frame from the server");
		return COFFER_E_PROTOCOL;
	}
	return 0;
}

static int send_buf(int fd, struct buf *out, uint64_t deadline)
{
	int r = net_write_all(fd, buf_ptr(out), buf_len(out), deadline);

	buf_reset(out);
	return r == 0 ? 0 : classify_io(r);
}

int fetch_run(struct fetch_params *p, fetch_sink_fn sink, void *ctx)
{
	struct session_client_config sc;
	struct session *s = NULL;
	struct frame_decoder *dec = NULL;
	struct msg_shard *sh = NULL;
	struct buf *out = NULL, *raw = NULL;
	struct secret_list list;
	struct frame f;
	uint8_t client_pub[P256_POINT_LEN];
	size_t *lens = NULL, i;
	int st, r, more = 1;

	memset(&sc, 0, sizeof(sc));
	if ((out = buf_new(0)) == NULL || (raw = buf_new(0)) == NULL ||
	    (dec = frame_decoder_new()) == NULL || (sh = msg_shard_new(0, 0)) == NULL ||
	    (p->n_names > 0 && (lens = calloc(p->n_names, sizeof(*lens))) == NULL)) {
		err_set(ERR_ALLOC, "out of memory");
		st = COFFER_E_LOCAL;
		goto out;
	}
	for (i = 0; i < p->n_names; i++)
		lens[i] = strlen(p->names[i]);
	if ((r = hsm_key_point(p->key, client_pub)) != 0) {
		err_wrap(r, "client key");
		st = COFFER_E_LOCAL;
		goto out;
	}
	sc.dh = hsm_dh_callback;
	sc.dh_ctx = p->key;
	sc.client_pub = client_pub;
	sc.server_pub = p->server_point;
	if ((r = session_client_new(&sc, &s)) != 0 || (r = session_client_hello(s, out)) != 0) {
		err_wrap(r, "Hello");
		st = COFFER_E_LOCAL;
		goto out;
	}
	if ((st = send_buf(p->fd, out, p->deadline)) != 0 ||
	    (st = read_frame(p->fd, dec, raw, p->deadline, &f)) != 0)
		goto out;

	/* Hello -> Link | KeyNotFound | Error */
	r = session_client_read_link(s, &f);
	if (r != 0) {
		if (f.type == FRAME_ERROR) {
			escape_detail();
			/* An unauthenticated Error: the handshake did not complete. */
			st = strstr(err_detail(), "handshake") != NULL ? COFFER_E_SERVER_AUTH
			                                               : COFFER_E_SERVER;
			p->replayed = strstr(err_detail(), "replayed Hello") != NULL;
			if (st == COFFER_E_SERVER_AUTH)
				err_wrap(ERR_AUTH, "the server could not open our Hello with the "
				                   "pinned key (wrong --server-key?)");
		} else if (r == ERR_NOT_FOUND) {
			st = COFFER_E_UNKNOWN_CLIENT;
		} else if (r == ERR_AUTH || r == ERR_CRYPTO) {
			err_wrap(r, "the server did not prove it holds the pinned key (wrong "
			            "--server-key, or someone in between)");
			st = COFFER_E_SERVER_AUTH;
		} else {
			st = is_local(r) ? COFFER_E_LOCAL : COFFER_E_PROTOCOL;
		}
		goto out;
	}

	/* Get -> OkGet... | Error */
	if ((r = session_client_get(s, p->names, lens, p->n_names, out)) != 0) {
		err_wrap(r, "Get");
		st = is_local(r) || r == ERR_TOO_LARGE ? COFFER_E_LOCAL : COFFER_E_PROTOCOL;
		goto out;
	}
	if ((st = send_buf(p->fd, out, p->deadline)) != 0)
		goto out;
	while (more) {
		if ((st = read_frame(p->fd, dec, raw, p->deadline, &f)) != 0)
			goto out;
		if ((r = session_client_read_okget(s, &f, sh, &more)) != 0) {
			if (f.type == FRAME_ERROR) {
				escape_detail();
				st = r == ERR_NOT_FOUND ? COFFER_E_NOT_FOUND : COFFER_E_SERVER;
			} else {
				st = is_local(r) ? COFFER_E_LOCAL : COFFER_E_PROTOCOL;
			}
			goto out;
		}
	}
	/* Bye is a courtesy: the shard is complete whatever happens to it. */
	if (session_client_bye(s, out) == 0)
		(void)send_buf(p->fd, out, p->deadline);
	if ((r = msg_shard_list(sh, &list)) != 0) {
		st = COFFER_E_LOCAL;
		goto out;
	}
	if ((r = sink(ctx, list.items, list.n)) != 0) {
		st = r == ERR_PROTOCOL ? COFFER_E_PROTOCOL : COFFER_E_LOCAL;
		goto out;
	}
	st = COFFER_OK;
out:
	free(lens);
	msg_shard_free(sh);
	session_free(s);
	frame_decoder_free(dec);
	buf_free(out);
	buf_free(raw);
	return st;
}
