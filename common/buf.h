// SPDX-License-Identifier: ISC
#ifndef COFFER_BUF_H
#define COFFER_BUF_H

/*
 * The bounds-checked byte reader/writer every wire and file parser uses.
 *
 * A struct buf holds bytes [off, size) of a storage area and a cap `max`.
 * Readers consume from the front; writers append at the end. Getters are
 * big-endian. Every read goes through buf_consume(), which refuses with
 * ERR_INCOMPLETE when fewer bytes are left than asked for, and leaves the
 * buffer unchanged on any failure. Appends beyond `max` fail with
 * ERR_TOO_LARGE. A read-only view (buf_from) never copies and never writes.
 * Storage is wiped when freed or reset, so buffers may carry secrets.
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define BUF_MAX_DEFAULT (1U << 30) /* 1 GiB: no buffer grows beyond this */

struct buf;

/* A new empty growable buffer with cap `max` (0: BUF_MAX_DEFAULT). NULL on OOM. */
struct buf *buf_new(size_t max);
/* A read-only view of len bytes at p; p must outlive it. NULL on OOM. */
struct buf *buf_from(const void *p, size_t len);
/* A growable copy of len bytes at p. NULL on OOM. */
struct buf *buf_dup(const void *p, size_t len);
/*
 * A read-only child view of the next len bytes of parent, which are consumed
 * from parent. The parent must outlive the child. ERR_INCOMPLETE if short.
 */
int buf_froms(struct buf *parent, size_t len, struct buf **childp) WARN_UNUSED;
/* Wipes and frees; NULL is fine. */
void buf_free(struct buf *b);
/* Forget the contents (wiped); keep the storage. Not for read-only views. */
void buf_reset(struct buf *b);

/* Bytes left to read. */
size_t buf_len(const struct buf *b);
/* Pointer to the first unread byte (valid until the next write). */
const uint8_t *buf_ptr(const struct buf *b);
/* Writable pointer to the unread bytes; NULL for read-only views. */
uint8_t *buf_mutable_ptr(struct buf *b);
/* The cap of this buffer. */
size_t buf_max(const struct buf *b);
/* Change the cap; ERR_TOO_LARGE if the contents are already larger. */
int buf_set_max(struct buf *b, size_t max) WARN_UNUSED;

/* Reading. Each returns 0, or ERR_INCOMPLETE (buffer unchanged). */
int buf_consume(struct buf *b, size_t n) WARN_UNUSED;
/* Drop n bytes from the end. */
int buf_consume_end(struct buf *b, size_t n) WARN_UNUSED;
int buf_get_u8(struct buf *b, uint8_t *v) WARN_UNUSED;
int buf_get_u16(struct buf *b, uint16_t *v) WARN_UNUSED;
int buf_get_u32(struct buf *b, uint32_t *v) WARN_UNUSED;
int buf_get_u64(struct buf *b, uint64_t *v) WARN_UNUSED;
/* Copy exactly n bytes out (out may be NULL to skip). */
int buf_get(struct buf *b, void *out, size_t n) WARN_UNUSED;
/* Point at the next n bytes inside the buffer and consume them. */
int buf_get_direct(struct buf *b, const uint8_t **p, size_t n) WARN_UNUSED;
/*
 * A u16- or u32-length-prefixed field: point at it (no copy). ERR_TOO_LARGE
 * if the prefix exceeds `cap` (checked before availability).
 */
int buf_get_string16_direct(struct buf *b, const uint8_t **p, size_t *len, size_t cap)
	WARN_UNUSED;
int buf_get_string32_direct(struct buf *b, const uint8_t **p, size_t *len, size_t cap)
	WARN_UNUSED;

/* Peeking at offset `off` from the read position, without consuming. */
int buf_peek_u8(const struct buf *b, size_t off, uint8_t *v) WARN_UNUSED;
int buf_peek_u16(const struct buf *b, size_t off, uint16_t *v) WARN_UNUSED;
int buf_peek_u32(const struct buf *b, size_t off, uint32_t *v) WARN_UNUSED;

/* 0 if nothing is left, else ERR_TRAILING_DATA. */
int buf_expect_end(const struct buf *b) WARN_UNUSED;

/* Writing. Each returns 0, ERR_TOO_LARGE (beyond max), ERR_ALLOC, or
 * ERR_INVALID_ARG for a read-only view. */
int buf_put(struct buf *b, const void *p, size_t n) WARN_UNUSED;
int buf_put_u8(struct buf *b, uint8_t v) WARN_UNUSED;
int buf_put_u16(struct buf *b, uint16_t v) WARN_UNUSED;
int buf_put_u32(struct buf *b, uint32_t v) WARN_UNUSED;
int buf_put_u64(struct buf *b, uint64_t v) WARN_UNUSED;
int buf_put_string16(struct buf *b, const void *p, size_t n) WARN_UNUSED;
int buf_put_string32(struct buf *b, const void *p, size_t n) WARN_UNUSED;
/* Reserve n bytes at the end and point *p at them (valid until the next write). */
int buf_reserve(struct buf *b, size_t n, uint8_t **p) WARN_UNUSED;

/* Big-endian helpers for fixed-size headers. */
static inline uint16_t buf_peek_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t buf_peek_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t buf_peek_be64(const uint8_t *p)
{
	return (uint64_t)buf_peek_be32(p) << 32 | buf_peek_be32(p + 4);
}
static inline void buf_poke_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void buf_poke_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void buf_poke_be64(uint8_t *p, uint64_t v)
{
	buf_poke_be32(p, (uint32_t)(v >> 32));
	buf_poke_be32(p + 4, (uint32_t)v);
}

#endif
