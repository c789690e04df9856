// SPDX-License-Identifier: ISC
#ifndef COFFER_MSG_H
#define COFFER_MSG_H

/*
 * The CBOR bodies of the transport messages (docs/protocol.md, "CBOR"):
 *
 *   Get plaintext    empty (all keys) or an array of 1..MSG_MAX_NAMES text
 *                    strings (key names)
 *   OkGet plaintext  flag byte (0x01 more, 0x00 last) || array of maps
 *                    {"key": text, "value": value}, the pairs in that order
 *   value            String -> text; Integer -> int (major 0/1, int64 range);
 *                    Float -> float64 (0xfb, always); Boolean -> 0xf4/0xf5;
 *                    datetime -> tag 0 text (RFC 3339 offset date-time);
 *                    local-date -> tag 1004 text "YYYY-MM-DD";
 *                    local-datetime -> tag MSG_TAG_LOCAL_DATETIME text;
 *                    local-time -> tag MSG_TAG_LOCAL_TIME text.
 *
 * Encoding uses libcbor's item encoders into our own (wiped) buffers;
 * decoding uses libcbor's streaming decoder, so no secret is copied into
 * libcbor-owned memory. Decoding checks every item's major type, definite
 * lengths, exact map shape, UTF-8, and caps on every size and count.
 * Decoded strings are copied into an arena that the shard / name list owns
 * and wipes when freed.
 */

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "err.h"
#include "secret.h"

struct buf;

#define MSG_TAG_DATETIME 0
#define MSG_TAG_FULL_DATE 1004
#define MSG_TAG_LOCAL_DATETIME 0xC0FFE001u /* private (first-come range) */
#define MSG_TAG_LOCAL_TIME 0xC0FFE002u     /* private (first-come range) */
#define MSG_MAX_DATE_TEXT 64
#define MSG_MAX_NAMES 4096                   /* names in one Get */
#define MSG_MAX_SECRETS 100000               /* secrets in one shard */
#define MSG_MAX_SHARD (64 * 1024 * 1024)     /* key+value bytes of a shard */
#define MSG_FLAG_LAST 0x00
#define MSG_FLAG_MORE 0x01
/* Plaintext of one OkGet: the sealed body is at most 65535 bytes. */
#define MSG_MAX_CHUNK (WIRE_MAX_BODY - 16)

/* 1 if p[0..len) is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF). */
int msg_utf8_valid(const uint8_t *p, size_t len);
/* Check date/time text of the given type (RFC 3339 shapes; 'T', 't' or ' '
 * between date and time; 'Z', 'z' or +-HH:MM offsets). 0 or ERR_FORMAT. */
int msg_check_datetime(enum secret_type t, const char *s, size_t len) WARN_UNUSED;

/* Append the CBOR of one value / one {"key","value"} map. ERR_INVALID_ARG
 * for a value that breaks the schema (bad UTF-8, bad date text, too long). */
int msg_encode_value(struct buf *out, const struct secret *s) WARN_UNUSED;
int msg_encode_entry(struct buf *out, const struct secret *s) WARN_UNUSED;

/*
 * Decode exactly one value at p[0..len) (trailing bytes: ERR_TRAILING_DATA).
 * Text is copied NUL-terminated into arena (a growable buf); v->v.str.ptr
 * points there, valid until the arena's next write. v->key is left NULL.
 */
int msg_decode_value(const uint8_t *p, size_t len, struct secret *v, struct buf *arena)
	WARN_UNUSED;

/* Get plaintext: n == 0 appends nothing (all keys); else the name array. */
int msg_encode_names(struct buf *out, const char *const *names, const size_t *lens, size_t n)
	WARN_UNUSED;

/* A decoded Get request. */
struct msg_names {
	int all;          /* 1: the plaintext was empty (every key) */
	size_t n;
	const char **names; /* NUL-terminated, in the arena */
	size_t *lens;
	struct buf *arena;
};
/* Decode a Get plaintext. *out freed with msg_names_free. */
int msg_names_decode(const uint8_t *p, size_t len, struct msg_names **out) WARN_UNUSED;
void msg_names_free(struct msg_names *m);

/* Splitting a shard into OkGet plaintexts. */
struct msg_chunker {
	const struct secret_list *list;
	size_t next;     /* index of the next secret to send */
	size_t max;      /* plaintext cap per chunk (MSG_MAX_CHUNK; smaller for tests) */
	int done;
};
/* Start chunking list; max 0 means MSG_MAX_CHUNK. */
void msg_chunker_init(struct msg_chunker *c, const struct secret_list *list, size_t max);
/*
 * Append the next OkGet plaintext (flag || array) to out; *more is 1 if
 * another chunk follows. An empty list gives one chunk with an empty array.
 * ERR_TOO_LARGE if one entry alone does not fit in a chunk;
 * ERR_INVALID_ARG for a value that breaks the schema; ERR_INTERNAL if called
 * after the last chunk.
 */
int msg_chunk_next(struct msg_chunker *c, struct buf *out, int *more) WARN_UNUSED;

/* Reassembling a shard from OkGet plaintexts. */
struct msg_shard;
/* A new empty shard with caps (0: MSG_MAX_SHARD bytes, MSG_MAX_SECRETS items). */
struct msg_shard *msg_shard_new(size_t max_bytes, size_t max_items);
/* Wipes every key and value and frees; NULL is fine. */
void msg_shard_free(struct msg_shard *sh);
/*
 * Add one OkGet plaintext; *more gets its flag. ERR_FORMAT (with the reason)
 * for anything off schema, ERR_TOO_LARGE past a cap, ERR_PROTOCOL for a
 * chunk after the last one. A failed chunk leaves the shard as it was.
 */
int msg_shard_add(struct msg_shard *sh, const uint8_t *p, size_t len, int *more) WARN_UNUSED;
/* The secrets so far; pointers valid until the next add, list or free.
 * 0 or ERR_ALLOC. */
int msg_shard_list(struct msg_shard *sh, struct secret_list *out) WARN_UNUSED;
/* 1 once the last chunk was added. */
int msg_shard_complete(const struct msg_shard *sh);

#endif
