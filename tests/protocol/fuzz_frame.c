// SPDX-License-Identifier: ISC
/* Fuzz the incremental frame decoder (fed in pieces of a size chosen by the
 * first input byte) and the server's conversation state machine. */
#include <stdint.h>
#include <stddef.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_decoder *d;
	struct frame_sm sm;
	struct frame f;
	size_t step, off = 1, used, n;
	int r;

	if (size < 1 || (d = frame_decoder_new()) == NULL)
		return 0;
	step = data[0] == 0 ? 1 : data[0];
	frame_sm_init(&sm, FRAME_ROLE_SERVER);
	while (off < size) {
		n = size - off < step ? size - off : step;
		r = frame_decoder_feed(d, data + off, n, &used, &f);
		if (used > n)
			__builtin_trap();
		off += used;
		if (r == ERR_INCOMPLETE)
			continue;
		if (r != 0)
			break;
		if (f.len > FRAME_MAX_BODY || (f.len != 0 && f.body == NULL))
			__builtin_trap();
		if (frame_sm_advance(&sm, 0, f.type, f.len & 1) != 0)
			break;
	}
	frame_decoder_free(d);
	return 0;
}
