// SPDX-License-Identifier: ISC
/*
 * Fuzz the incremental frame decoder and the conversation state machine.
 * The first byte picks the side (0x80: a client; else a server), whether the
 * stream is what that side reads (0x40 clear: every frame is incoming) or a
 * transcript of both directions (0x40 set: the side's own frames are
 * outgoing, so the state machine walks a whole conversation), and the size
 * of the pieces the stream is fed in (its low 6 bits; 0 is 1). Every frame
 * handed out re-encodes to the bytes it came from, and a decoder that
 * refused a header keeps refusing.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "buf.h"
#include "frame.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_decoder *d;
	struct buf *again;
	struct frame_sm sm;
	struct frame f;
	size_t step, off = 1, start = 1, used, n;
	int r, client, transcript, outgoing, last = -1;

	if (size < 1 || (d = frame_decoder_new()) == NULL)
		return 0;
	FUZZ_ASSERT((again = buf_new(0)) != NULL);
	step = (data[0] & 0x3f) == 0 ? 1 : data[0] & 0x3f;
	client = (data[0] & 0x80) != 0;
	transcript = (data[0] & 0x40) != 0;
	frame_sm_init(&sm, client ? FRAME_ROLE_CLIENT : FRAME_ROLE_SERVER);
	while (off < size) {
		n = size - off < step ? size - off : step;
		r = frame_decoder_feed(d, data + off, n, &used, &f);
		FUZZ_ASSERT(used <= n);
		off += used;
		if (r == ERR_INCOMPLETE) {
			FUZZ_ASSERT(frame_decoder_pending(d) == off - start);
			continue;
		}
		if (r != 0) {
			/* A refused header ends the stream for good. */
			FUZZ_ASSERT(frame_decoder_feed(d, data + off, size - off, &used, &f) == r &&
				    used == 0);
			break;
		}
		FUZZ_ASSERT(f.len <= FRAME_MAX_BODY && (f.len == 0 || f.body != NULL));
		buf_reset(again);
		FUZZ_ASSERT(frame_encode(again, f.type, f.body, f.len) == 0 &&
			    buf_len(again) == off - start &&
			    memcmp(buf_ptr(again), data + start, off - start) == 0);
		start = off;
		outgoing = 0;
		if (transcript) {
			int from_client = f.type == FRAME_HELLO || f.type == FRAME_GET ||
					  f.type == FRAME_BYE;
			outgoing = from_client == client;
		}
		if (frame_sm_advance(&sm, outgoing, f.type, f.len & 1) != 0)
			break;
		last = f.type;
	}
	/* Bye, KeyNotFound and Error end a conversation; nothing else does. */
	FUZZ_ASSERT(frame_sm_done(&sm) == (last == FRAME_BYE || last == FRAME_KEY_NOT_FOUND ||
					   last == FRAME_ERROR));
	/* The encoder refuses what the decoder would: type and length. */
	if (size >= 3) {
		size_t len = (size_t)data[1] << 8 | data[2];
		buf_reset(again);
		r = frame_encode(again, data[size - 1], data, len < size ? len : size);
		FUZZ_ASSERT(r != 0 || buf_len(again) == WIRE_HEADER_LEN + (len < size ? len : size));
	}
	buf_free(again);
	frame_decoder_free(d);
	return 0;
}
