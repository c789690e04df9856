// SPDX-License-Identifier: ISC
/* Fuzz the CBOR decoders: OkGet plaintexts (shard reassembly with small
 * caps), Get name lists, single values (re-encoded when accepted). */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "buf.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_shard *sh = msg_shard_new(4096, 64);
	struct msg_names *names = NULL;
	struct buf *arena = buf_new(0), *out = buf_new(0);
	struct secret_list list;
	struct secret v;
	size_t i;
	int more;

	if (sh == NULL || arena == NULL || out == NULL)
		goto out;
	/* Twice: the second add checks the "after the last" and rollback paths. */
	if (msg_shard_add(sh, data, size, &more) != 0 || msg_shard_add(sh, data, size, &more) != 0) {
		/* refusals are expected */
	}
	if (msg_shard_list(sh, &list) == 0) {
		for (i = 0; i < list.n; i++) {
			buf_reset(out);
			if (msg_encode_entry(out, &list.items[i]) != 0)
				__builtin_trap(); /* what we accept we can send */
		}
	}
	if (msg_names_decode(data, size, &names) == 0 && !names->all) {
		for (i = 0; i < names->n; i++)
			if (strlen(names->names[i]) != names->lens[i])
				__builtin_trap();
	}
	if (msg_decode_value(data, size, &v, arena) == 0) {
		buf_reset(out);
		if (msg_encode_value(out, &v) != 0)
			__builtin_trap();
	}
out:
	msg_names_free(names);
	msg_shard_free(sh);
	buf_free(arena);
	buf_free(out);
	return 0;
}
