// SPDX-License-Identifier: ISC
/*
 * Fuzz the CBOR decoders: OkGet plaintexts (shard reassembly with small
 * caps), Get name lists, single values. What is accepted goes round the
 * other way and back: an accepted shard, chunked as the server chunks it,
 * reassembles to the same secrets; an accepted name list encodes and decodes
 * to the same names; an accepted value re-encodes.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "msg.h"

static void same_secret(const struct secret *a, const struct secret *b)
{
	FUZZ_ASSERT(a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0 &&
		    a->type == b->type);
	switch (a->type) {
	case SECRET_INTEGER:
		FUZZ_ASSERT(a->v.i == b->v.i);
		break;
	case SECRET_FLOAT:
		FUZZ_ASSERT(memcmp(&a->v.f, &b->v.f, sizeof(double)) == 0);
		break;
	case SECRET_BOOL:
		FUZZ_ASSERT(a->v.b == b->v.b);
		break;
	default:
		FUZZ_ASSERT(a->v.str.len == b->v.str.len &&
			    memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len) == 0);
	}
}

/* The server's chunker and a client's reassembly give back the same list. */
static void shard_round_trip(const struct secret_list *list, size_t max)
{
	struct msg_shard *sh = msg_shard_new(0, 0);
	struct buf *chunk = buf_new(0);
	struct msg_chunker ch;
	struct secret_list back;
	int more = 1, more2;
	size_t i;

	FUZZ_ASSERT(sh != NULL && chunk != NULL);
	msg_chunker_init(&ch, list, max);
	while (more) {
		buf_reset(chunk);
		if (msg_chunk_next(&ch, chunk, &more) != 0)
			goto out; /* an entry larger than the chunk */
		FUZZ_ASSERT(msg_shard_add(sh, buf_ptr(chunk), buf_len(chunk), &more2) == 0 &&
			    more2 == more);
	}
	FUZZ_ASSERT(msg_shard_complete(sh) && msg_shard_list(sh, &back) == 0 && back.n == list->n);
	for (i = 0; i < list->n; i++)
		same_secret(&list->items[i], &back.items[i]);
out:
	msg_shard_free(sh);
	buf_free(chunk);
}

static void names_round_trip(const struct msg_names *names)
{
	struct msg_names *back = NULL;
	struct buf *out = buf_new(0);
	size_t i;

	FUZZ_ASSERT(out != NULL);
	FUZZ_ASSERT(msg_encode_names(out, (const char *const *)names->names, names->lens,
				     names->n) == 0);
	FUZZ_ASSERT(msg_names_decode(buf_ptr(out), buf_len(out), &back) == 0 && !back->all &&
		    back->n == names->n);
	for (i = 0; i < names->n; i++)
		FUZZ_ASSERT(back->lens[i] == names->lens[i] &&
			    memcmp(back->names[i], names->names[i], names->lens[i]) == 0);
	msg_names_free(back);
	buf_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_shard *sh = msg_shard_new(4096, 64);
	struct msg_names *names = NULL;
	struct buf *arena = buf_new(0), *out = buf_new(0);
	struct secret_list list;
	struct secret v;
	size_t i;
	int more;

	FUZZ_ASSERT(sh != NULL && arena != NULL && out != NULL);
	/* Twice: the second add checks the "after the last" and rollback paths. */
	if (msg_shard_add(sh, data, size, &more) != 0 || msg_shard_add(sh, data, size, &more) != 0) {
		/* refusals are expected */
	}
	if (msg_shard_list(sh, &list) == 0) {
		for (i = 0; i < list.n; i++) {
			buf_reset(out);
			/* What we accept we can send. */
			FUZZ_ASSERT(msg_encode_entry(out, &list.items[i]) == 0);
		}
		shard_round_trip(&list, size > 0 ? 16 + data[0] : 0);
	}
	if (msg_names_decode(data, size, &names) == 0 && !names->all) {
		for (i = 0; i < names->n; i++)
			FUZZ_ASSERT(strlen(names->names[i]) == names->lens[i]);
		names_round_trip(names);
	}
	if (msg_decode_value(data, size, &v, arena) == 0) {
		buf_reset(out);
		FUZZ_ASSERT(msg_encode_value(out, &v) == 0);
	}
	msg_names_free(names);
	msg_shard_free(sh);
	buf_free(arena);
	buf_free(out);
	return 0;
}
