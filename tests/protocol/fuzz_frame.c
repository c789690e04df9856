// SPDX-License-Identifier: ISC
/*
 * Fuzz the incremental frame decoder and the conversation state machine.
 * The first byte picks the side (0x80: a client reading the server's frames;
 * else a server reading the client's) and the size of the pieces the stream
 * is fed in (its low 7 bits; 0 is 1). Every frame handed out re-encodes to
 * the bytes it came from.
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
	int r;

	if (size < 1 || (d = frame_decoder_new()) == NULL)
		return 0;
	FUZZ_ASSERT((again = buf_new(0)) != NULL);
	step = (data[0] & 0x7f) == 0 ? 1 : data[0] & 0x7f;
	frame_sm_init(&sm, (data[0] & 0x80) ? FRAME_ROLE_CLIENT : FRAME_ROLE_SERVER);
	while (off < size) {
		n = size - off < step ? size - off : step;
		r = frame_decoder_feed(d, data + off, n, &used, &f);
		FUZZ_ASSERT(used <= n);
		off += used;
		if (r == ERR_INCOMPLETE)
			continue;
		if (r != 0)
			break;
		FUZZ_ASSERT(f.len <= FRAME_MAX_BODY && (f.len == 0 || f.body != NULL));
		buf_reset(again);
		FUZZ_ASSERT(frame_encode(again, f.type, f.body, f.len) == 0 &&
			    buf_len(again) == off - start &&
			    memcmp(buf_ptr(again), data + start, off - start) == 0);
		start = off;
		if (frame_sm_advance(&sm, 0, f.type, f.len & 1) != 0)
			break;
	}
	buf_free(again);
	frame_decoder_free(d);
	return 0;
}
