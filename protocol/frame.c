// SPDX-License-Identifier: ISC
#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "secmem.h"

struct frame_decoder {
	size_t have;   /* bytes of the current frame in data[] */
	int dead;      /* error code once broken, else 0 */
	uint8_t data[WIRE_MAX_FRAME];
};

const char *frame_type_name(uint8_t type)
{
	switch (type) {
	case FRAME_HELLO: return "Hello";
	case FRAME_LINK: return "Link";
	case FRAME_GET: return "Get";
	case FRAME_OKGET: return "OkGet";
	case FRAME_BYE: return "Bye";
	case FRAME_KEY_NOT_FOUND: return "KeyNotFound";
	case FRAME_ERROR: return "Error";
	}
	return "unknown";
}

int frame_type_known(uint8_t type)
{
	return strcmp(frame_type_name(type), "unknown") != 0;
}

size_t frame_fixed_len(uint8_t type)
{
	switch (type) {
	case FRAME_HELLO: return FRAME_HELLO_LEN;
	case FRAME_LINK: return FRAME_LINK_LEN;
	case FRAME_KEY_NOT_FOUND: return FRAME_KEY_NOT_FOUND_LEN;
	case FRAME_BYE: return FRAME_BYE_LEN;
	}
	return 0;
}

size_t frame_max_len(uint8_t type)
{
	switch (type) {
	case FRAME_GET:
	case FRAME_OKGET:
		return FRAME_MAX_BODY;
	case FRAME_ERROR:
		return FRAME_MAX_ERROR_LEN;
	}
	return frame_fixed_len(type);
}

/* Is a body of len bytes acceptable for this type? */
static int check_len(uint8_t type, size_t len)
{
	size_t fixed = frame_fixed_len(type), max = frame_max_len(type);

	if (!frame_type_known(type))
		return err_set(ERR_PROTOCOL, "unknown frame type 0x%02x", type);
	if (len > max)
		return err_set(ERR_TOO_LARGE, "%s body of %zu bytes exceeds %zu", frame_type_name(type),
			       len, max);
	if (fixed != 0 && len != fixed)
		return err_set(ERR_FORMAT, "%s body must be %zu bytes, not %zu", frame_type_name(type),
			       fixed, len);
	if (type == FRAME_ERROR && len == 0)
		return err_set(ERR_FORMAT, "empty Error body");
	if (type == FRAME_GET && len < FRAME_MIN_SEALED)
		return err_set(ERR_FORMAT, "Get body of %zu bytes is shorter than a tag", len);
	if (type == FRAME_OKGET && len < FRAME_MIN_SEALED + 1)
		return err_set(ERR_FORMAT, "OkGet body of %zu bytes is too short", len);
	return 0;
}

int frame_encode(struct buf *out, uint8_t type, const uint8_t *body, size_t len)
{
	uint8_t *p;
	int r;

	if (out == NULL || (body == NULL && len != 0))
		fatal("frame_encode: NULL argument");
	if ((r = check_len(type, len)) != 0)
		return r == ERR_PROTOCOL ? err_set(ERR_INVALID_ARG, "%s", err_detail()) : r;
	if ((r = buf_reserve(out, WIRE_HEADER_LEN + len, &p)) != 0)
		return r;
	buf_poke_be16(p, (uint16_t)len);
	p[2] = type;
	if (len != 0)
		memcpy(p + WIRE_HEADER_LEN, body, len);
	return 0;
}

struct frame_decoder *frame_decoder_new(void)
{
	return calloc(1, sizeof(struct frame_decoder));
}

void frame_decoder_free(struct frame_decoder *d)
{
	if (d == NULL)
		return;
	secmem_zero(d, sizeof(*d));
	free(d);
}

size_t frame_decoder_pending(const struct frame_decoder *d)
{
	return d->have;
}

int frame_decoder_feed(struct frame_decoder *d, const uint8_t *p, size_t len, size_t *used,
		       struct frame *f)
{
	size_t want, take, blen;
	int r;

	if (d == NULL || used == NULL || f == NULL || (p == NULL && len != 0))
		fatal("frame_decoder_feed: NULL argument");
	*used = 0;
	memset(f, 0, sizeof(*f));
	if (d->dead != 0)
		return err_set(d->dead, "frame decoder stopped after an earlier error");
	/* A whole frame handed out last time: start the next one. */
	if (d->have >= WIRE_HEADER_LEN &&
	    d->have == WIRE_HEADER_LEN + (size_t)buf_peek_be16(d->data)) {
		secmem_zero(d->data, d->have);
		d->have = 0;
	}
	for (;;) {
		if (d->have < WIRE_HEADER_LEN) {
			want = WIRE_HEADER_LEN - d->have;
		} else {
			blen = buf_peek_be16(d->data);
			want = WIRE_HEADER_LEN + blen - d->have;
		}
		take = want < len - *used ? want : len - *used;
		memcpy(d->data + d->have, p + *used, take);
		d->have += take;
		*used += take;
		if (take < want)
			return ERR_INCOMPLETE;
		if (d->have == WIRE_HEADER_LEN) {
			/* The header is in: judge it before buffering the body. */
			if ((r = check_len(d->data[2], buf_peek_be16(d->data))) != 0) {
				d->dead = r;
				return r;
			}
		}
		if (d->have >= WIRE_HEADER_LEN &&
		    d->have == WIRE_HEADER_LEN + (size_t)buf_peek_be16(d->data))
			break;
	}
	f->type = d->data[2];
	f->body = d->data + WIRE_HEADER_LEN;
	f->len = d->have - WIRE_HEADER_LEN;
	return 0;
}

/* Direction of each type: 1 client to server, 0 server to client. */
static int from_client(uint8_t type)
{
	return type == FRAME_HELLO || type == FRAME_GET || type == FRAME_BYE;
}

static const char *state_name(enum frame_state s)
{
	switch (s) {
	case FRAME_STATE_START: return "the start";
	case FRAME_STATE_HELLO: return "Hello";
	case FRAME_STATE_LINK: return "Link";
	case FRAME_STATE_GET: return "Get";
	case FRAME_STATE_OKGET_MORE: return "OkGet (more)";
	case FRAME_STATE_OKGET_LAST: return "OkGet (last)";
	case FRAME_STATE_DONE: return "the end";
	}
	return "?";
}

void frame_sm_init(struct frame_sm *sm, enum frame_role role)
{
	if (role != FRAME_ROLE_CLIENT && role != FRAME_ROLE_SERVER)
		fatal("frame_sm_init: bad role %d", (int)role);
	sm->role = role;
	sm->state = FRAME_STATE_START;
}

int frame_sm_check(const struct frame_sm *sm, int outgoing, uint8_t type)
{
	int client_side = sm->role == FRAME_ROLE_CLIENT;
	int ok = 0;

	if (!frame_type_known(type))
		return err_set(ERR_PROTOCOL, "unknown frame type 0x%02x", type);
	/* A client sends client frames; a server receives them. */
	if (from_client(type) != (client_side == (outgoing != 0)))
		return err_set(ERR_PROTOCOL, "%s is sent by the %s", frame_type_name(type),
			       from_client(type) ? "client" : "server");
	switch (sm->state) {
	case FRAME_STATE_START:
		ok = type == FRAME_HELLO;
		break;
	case FRAME_STATE_HELLO:
		ok = type == FRAME_LINK || type == FRAME_KEY_NOT_FOUND || type == FRAME_ERROR;
		break;
	case FRAME_STATE_LINK:
		ok = type == FRAME_GET || type == FRAME_BYE;
		break;
	case FRAME_STATE_GET:
		ok = type == FRAME_OKGET || type == FRAME_ERROR;
		break;
	case FRAME_STATE_OKGET_MORE:
		ok = type == FRAME_OKGET;
		if (type == FRAME_BYE)
			return err_set(ERR_PROTOCOL, "Bye before the last OkGet");
		break;
	case FRAME_STATE_OKGET_LAST:
		ok = type == FRAME_BYE;
		if (type == FRAME_OKGET)
			return err_set(ERR_PROTOCOL, "OkGet after the last OkGet");
		break;
	case FRAME_STATE_DONE:
		return err_set(ERR_PROTOCOL, "%s after the conversation is over",
			       frame_type_name(type));
	}
	if (!ok)
		return err_set(ERR_PROTOCOL, "unexpected %s after %s", frame_type_name(type),
			       state_name(sm->state));
	return 0;
}

int frame_sm_advance(struct frame_sm *sm, int outgoing, uint8_t type, int more)
{
	int r;

	if ((r = frame_sm_check(sm, outgoing, type)) != 0)
		return r;
	switch (type) {
	case FRAME_HELLO: sm->state = FRAME_STATE_HELLO; break;
	case FRAME_LINK: sm->state = FRAME_STATE_LINK; break;
	case FRAME_GET: sm->state = FRAME_STATE_GET; break;
	case FRAME_OKGET:
		sm->state = more ? FRAME_STATE_OKGET_MORE : FRAME_STATE_OKGET_LAST;
		break;
	default: sm->state = FRAME_STATE_DONE; break;
	}
	return 0;
}

int frame_sm_done(const struct frame_sm *sm)
{
	return sm->state == FRAME_STATE_DONE;
}
