// SPDX-License-Identifier: ISC
/*
 * Fuzz the handshake message parsers. First byte: 1 = message 1 (Hello body)
 * read by the server; 2 = message 2 (Link body) and 3 = KeyNotFound body,
 * read by a client that sent the worked example's Hello. The rest is the body.
 */
#include <stdint.h>
#include <stddef.h>

#include "buf.h"
#include "encoding.h"
#include "frame.h"
#include "noise.h"
#include "session.h"
#include "vector_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct noise_key server, client;
static uint8_t client_eph[32];
static int ready;

static void setup(void)
{
	uint8_t s[32], c[32];

	if (ready)
		return;
	if (hex_decode(SERVER_STATIC, 64, s, 32) != 0 || hex_decode(CLIENT_STATIC, 64, c, 32) != 0 ||
	    hex_decode(CLIENT_EPHEMERAL, 64, client_eph, 32) != 0 ||
	    noise_key_from_private(&server, NOISE_DH_P256, s, 32) != 0 ||
	    noise_key_from_private(&client, NOISE_DH_P256, c, 32) != 0)
		__builtin_trap();
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session *s = NULL;
	struct buf *out = buf_new(0);
	struct frame f;
	uint8_t cpub[65];
	uint64_t ts;

	setup();
	if (size < 1 || out == NULL)
		goto out;
	f.body = data + 1;
	f.len = size - 1;
	if (data[0] == 1) {
		struct session_server_config sc = {server.fn, server.ctx, server.pub};
		f.type = FRAME_HELLO;
		if (session_server_new(&sc, &s) == 0 && session_server_hello_begin(s, &f, cpub) == 0 &&
		    session_server_hello_finish(s, NULL, &ts) == 0)
			if (session_server_link(s, out) != 0) {
			/* refusals are expected */
		}
	} else if (data[0] == 2 || data[0] == 3) {
		struct session_client_config cc = {client.fn, client.ctx, client.pub, server.pub,
						   TIMESTAMP_NS};
		f.type = data[0] == 2 ? FRAME_LINK : FRAME_KEY_NOT_FOUND;
		if (session_client_new(&cc, &s) == 0 && session_set_ephemeral(s, client_eph, 32) == 0 &&
		    session_client_hello(s, out) == 0)
			if (session_client_read_link(s, &f) != 0) {
			/* refusals are expected */
		}
	}
out:
	session_free(s);
	buf_free(out);
	return 0;
}
