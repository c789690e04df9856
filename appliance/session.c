// SPDX-License-Identifier: ISC
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "bounds.h"
#include "buf.h"
#include "log.h"
#include "secmem.h"
#include "state.h"
#include "token.h"

#define SESSION_FRAME_HELLO 0x00
#define SESSION_FRAME_ERROR 0xff

struct session {
	struct appl_state *st;
	int linked;
	int have_client;
	const struct state_client *client;
};

int session_plain_error(struct buf *out, const char *reason)
{
	size_t n = strlen(reason);
	int r;

	if (n > 1024)
		n = 1024;
	if ((r = buf_put_u16(out, (uint16_t)n)) != 0 || (r = buf_put_u8(out, SESSION_FRAME_ERROR)) != 0 ||
	    (r = buf_put(out, reason, n)) != 0)
		return r;
	return 0;
}

int session_linked(const struct session *s)
{
	return s != NULL && s->linked;
}

void session_free(struct session *s)
{
	if (s == NULL)
		return;
	state_unref(s->st);
	secmem_zero(s, sizeof(*s));
	free(s);
}

#ifdef COFFER_APPL_PROTOCOL
#error "session_handle: wire protocol/"
#else
int session_handle(const struct session_env *env, struct appl_state *st, const char *peer,
		   struct session **sessp, uint8_t type, const uint8_t *body, size_t len,
		   struct buf *out, int *close)
{
	struct audit_event ev;
	int r;

	(void)st;
	(void)body;
	(void)len;
	*close = 1;
	if (*sessp == NULL && type != SESSION_FRAME_HELLO)
		return session_plain_error(out, "expected Hello");
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_HANDSHAKE;
	ev.peer = peer;
	ev.result = "error";
	ev.reason = "handshake not available (built without protocol/)";
	ev.keys = -1;
	if ((r = audit_write(env->audit, &ev)) != 0)
		warn_fr(r, "%s", "audit");
	return session_plain_error(out, "handshake not available");
}
#endif
