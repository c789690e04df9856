// SPDX-License-Identifier: ISC
/*
 * Fuzz a server session fed arbitrary frames: Hello (both steps, Link or
 * KeyNotFound), Get (answered with OkGets), Bye, in any order. The server's
 * keys are the worked example's, so the seed conversation authenticates and
 * the fuzzer reaches the transport.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "buf.h"
#include "encoding.h"
#include "frame.h"
#include "noise.h"
#include "session.h"
#include "vector_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct noise_key server;
static uint8_t server_eph[32];
static int ready;

static void setup(void)
{
	uint8_t s[32];

	if (ready)
		return;
	if (hex_decode(SERVER_STATIC, 64, s, 32) != 0 ||
	    hex_decode(SERVER_EPHEMERAL, 64, server_eph, 32) != 0 ||
	    noise_key_from_private(&server, NOISE_DH_P256, s, 32) != 0)
		__builtin_trap();
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_server_config sc;
	struct session *s = NULL;
	struct frame_decoder *d = frame_decoder_new();
	struct buf *out = buf_new(0);
	struct msg_names *names = NULL;
	struct secret items[1] = {{.key = "k", .key_len = 1, .type = SECRET_STRING,
				   .v.str = {"v", 1}}};
	struct secret_list list = {items, 1};
	struct msg_chunker ch;
	struct frame f;
	uint8_t cpub[65];
	uint64_t ts;
	size_t off = 0, used;
	int r, more;

	setup();
	sc = (struct session_server_config){server.fn, server.ctx, server.pub};
	if (d == NULL || out == NULL || session_server_new(&sc, &s) != 0 ||
	    session_set_ephemeral(s, server_eph, 32) != 0)
		goto out;
	while (off < size && !session_done(s)) {
		r = frame_decoder_feed(d, data + off, size - off, &used, &f);
		off += used;
		if (r != 0)
			break;
		if (session_check_incoming(s, &f) != 0)
			break;
		buf_reset(out);
		switch (f.type) {
		case FRAME_HELLO:
			if (session_server_hello_begin(s, &f, cpub) != 0 ||
			    session_server_hello_finish(s, NULL, &ts) != 0) {
				if (session_server_error(s, "handshake failed", out) != 0) {
			/* refusals are expected */
		}
				goto out;
			}
			r = (cpub[64] & 1) ? session_server_key_not_found(s, out)
					   : session_server_link(s, out);
			if (r != 0)
				goto out;
			break;
		case FRAME_GET:
			if (session_server_read_get(s, &f, &names) != 0)
				goto out;
			msg_chunker_init(&ch, &list, 0);
			do {
				if (session_server_okget(s, &ch, out, &more) != 0)
					goto out;
			} while (more);
			msg_names_free(names);
			names = NULL;
			break;
		case FRAME_BYE:
			if (session_server_read_bye(s, &f) != 0)
				goto out;
			break;
		default:
			goto out;
		}
	}
out:
	msg_names_free(names);
	session_free(s);
	frame_decoder_free(d);
	buf_free(out);
	return 0;
}
