// SPDX-License-Identifier: ISC
#include "buf.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"

struct buf {
	uint8_t *d;        /* storage (NULL until the first write) */
	const uint8_t *cd; /* read pointer base: d, or the viewed bytes */
	size_t off;        /* first unread byte */
	size_t size;       /* end of the data */
	size_t alloc;      /* storage allocated */
	size_t max;        /* cap on size - off */
	int readonly;
	struct buf *parent;
};

#define BUF_CHECK(b)                                                                               \
	do {                                                                                       \
		if ((b) == NULL || (b)->off > (b)->size || (b)->size > (b)->alloc)                  \
			fatal("buf: corrupt or NULL buffer");                                      \
	} while (0)

struct buf *buf_new(size_t max)
{
	struct buf *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->max = max == 0 || max > BUF_MAX_DEFAULT ? BUF_MAX_DEFAULT : max;
	return b;
}

struct buf *buf_from(const void *p, size_t len)
{
	struct buf *b;

	if (p == NULL && len != 0)
		fatal("buf_from: NULL with length %zu", len);
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->cd = p;
	b->size = b->alloc = b->max = len;
	b->readonly = 1;
	return b;
}

struct buf *buf_dup(const void *p, size_t len)
{
	struct buf *b = buf_new(0);

	if (b == NULL)
		return NULL;
	if (buf_put(b, p, len) != 0) {
		buf_free(b);
		return NULL;
	}
	return b;
}

int buf_froms(struct buf *parent, size_t len, struct buf **childp)
{
	const uint8_t *p;
	struct buf *c;
	int r;

	*childp = NULL;
	BUF_CHECK(parent);
	if (len > buf_len(parent))
		return ERR_INCOMPLETE;
	if ((c = buf_from(parent->cd + parent->off, len)) == NULL)
		return ERR_ALLOC;
	if ((r = buf_get_direct(parent, &p, len)) != 0) {
		buf_free(c);
		return r;
	}
	c->parent = parent;
	*childp = c;
	return 0;
}

void buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	if (!b->readonly && b->d != NULL)
		OPENSSL_clear_free(b->d, b->alloc);
	OPENSSL_cleanse(b, sizeof(*b));
	free(b);
}

void buf_reset(struct buf *b)
{
	BUF_CHECK(b);
	if (b->readonly)
		fatal("buf_reset on a read-only view");
	if (b->d != NULL)
		OPENSSL_cleanse(b->d, b->alloc);
	b->off = b->size = 0;
}

size_t buf_len(const struct buf *b)
{
	BUF_CHECK(b);
	return b->size - b->off;
}

const uint8_t *buf_ptr(const struct buf *b)
{
	BUF_CHECK(b);
	if (b->cd == NULL)
		return (const uint8_t *)"";
	return b->cd + b->off;
}

uint8_t *buf_mutable_ptr(struct buf *b)
{
	BUF_CHECK(b);
	if (b->readonly || b->d == NULL)
		return NULL;
	return b->d + b->off;
}

size_t buf_max(const struct buf *b)
{
	BUF_CHECK(b);
	return b->max;
}

int buf_set_max(struct buf *b, size_t max)
{
	BUF_CHECK(b);
	if (b->readonly)
		return ERR_INVALID_ARG;
	if (max > BUF_MAX_DEFAULT || buf_len(b) > max)
		return ERR_TOO_LARGE;
	b->max = max;
	return 0;
}

int buf_consume(struct buf *b, size_t n)
{
	BUF_CHECK(b);
	if (n > b->size - b->off)
		return ERR_INCOMPLETE;
	b->off += n;
	/* A drained writable buffer starts over at the front. */
	if (!b->readonly && b->off == b->size)
		b->off = b->size = 0;
	return 0;
}

int buf_consume_end(struct buf *b, size_t n)
{
	BUF_CHECK(b);
	if (n > b->size - b->off)
		return ERR_INCOMPLETE;
	b->size -= n;
	return 0;
}

int buf_get(struct buf *b, void *out, size_t n)
{
	BUF_CHECK(b);
	if (n > b->size - b->off)
		return ERR_INCOMPLETE;
	if (out != NULL && n != 0)
		memcpy(out, b->cd + b->off, n);
	return buf_consume(b, n);
}

int buf_get_direct(struct buf *b, const uint8_t **p, size_t n)
{
	BUF_CHECK(b);
	*p = NULL;
	if (n > b->size - b->off)
		return ERR_INCOMPLETE;
	*p = b->cd != NULL ? b->cd + b->off : (const uint8_t *)"";
	/* Not buf_consume(): a drained buffer must not reset under *p. */
	b->off += n;
	return 0;
}

int buf_get_u8(struct buf *b, uint8_t *v)
{
	return buf_get(b, v, 1);
}

int buf_get_u16(struct buf *b, uint16_t *v)
{
	uint8_t p[2];
	int r;

	if ((r = buf_get(b, p, sizeof(p))) != 0)
		return r;
	*v = buf_peek_be16(p);
	return 0;
}

int buf_get_u32(struct buf *b, uint32_t *v)
{
	uint8_t p[4];
	int r;

	if ((r = buf_get(b, p, sizeof(p))) != 0)
		return r;
	*v = buf_peek_be32(p);
	return 0;
}

int buf_get_u64(struct buf *b, uint64_t *v)
{
	uint8_t p[8];
	int r;

	if ((r = buf_get(b, p, sizeof(p))) != 0)
		return r;
	*v = buf_peek_be64(p);
	return 0;
}

static int get_string_direct(struct buf *b, const uint8_t **p, size_t *len, size_t cap,
			     size_t prefix)
{
	uint32_t n;
	int r;

	*p = NULL;
	*len = 0;
	if (prefix == 2) {
		uint16_t n16;
		if ((r = buf_peek_u16(b, 0, &n16)) != 0)
			return r;
		n = n16;
	} else if ((r = buf_peek_u32(b, 0, &n)) != 0) {
		return r;
	}
	/* Cap first, then availability. */
	if (n > cap)
		return ERR_TOO_LARGE;
	if (buf_len(b) - prefix < n)
		return ERR_INCOMPLETE;
	if ((r = buf_consume(b, prefix)) != 0 || (r = buf_get_direct(b, p, n)) != 0)
		return r;
	*len = n;
	return 0;
}

int buf_get_string16_direct(struct buf *b, const uint8_t **p, size_t *len, size_t cap)
{
	return get_string_direct(b, p, len, cap, 2);
}

int buf_get_string32_direct(struct buf *b, const uint8_t **p, size_t *len, size_t cap)
{
	return get_string_direct(b, p, len, cap, 4);
}

static int peek(const struct buf *b, size_t off, size_t n, const uint8_t **p)
{
	BUF_CHECK(b);
	if (off >= SIZE_MAX - n || off + n > b->size - b->off)
		return ERR_INCOMPLETE;
	*p = b->cd + b->off + off;
	return 0;
}

int buf_peek_u8(const struct buf *b, size_t off, uint8_t *v)
{
	const uint8_t *p;
	int r;

	if ((r = peek(b, off, 1, &p)) != 0)
		return r;
	*v = p[0];
	return 0;
}

int buf_peek_u16(const struct buf *b, size_t off, uint16_t *v)
{
	const uint8_t *p;
	int r;

	if ((r = peek(b, off, 2, &p)) != 0)
		return r;
	*v = buf_peek_be16(p);
	return 0;
}

int buf_peek_u32(const struct buf *b, size_t off, uint32_t *v)
{
	const uint8_t *p;
	int r;

	if ((r = peek(b, off, 4, &p)) != 0)
		return r;
	*v = buf_peek_be32(p);
	return 0;
}

int buf_expect_end(const struct buf *b)
{
	return buf_len(b) == 0 ? 0 : ERR_TRAILING_DATA;
}

int buf_reserve(struct buf *b, size_t n, uint8_t **p)
{
	size_t need, nalloc;
	uint8_t *nd;

	BUF_CHECK(b);
	*p = NULL;
	if (b->readonly)
		return ERR_INVALID_ARG;
	/* Cap before arithmetic on untrusted sizes. */
	if (n > b->max || b->size - b->off > b->max - n)
		return ERR_TOO_LARGE;
	if (b->alloc - b->size < n && b->off > 0) {
		/* Slide unread bytes to the front before growing. */
		memmove(b->d, b->d + b->off, b->size - b->off);
		b->size -= b->off;
		OPENSSL_cleanse(b->d + b->size, b->off);
		b->off = 0;
	}
	need = b->size + n;
	if (need > b->alloc || b->d == NULL) {
		nalloc = b->alloc < 256 ? 256 : b->alloc;
		while (nalloc < need)
			nalloc = nalloc > SIZE_MAX / 2 ? need : nalloc * 2;
		/* Never realloc(): the old storage must be wiped. */
		if ((nd = OPENSSL_zalloc(nalloc)) == NULL)
			return ERR_ALLOC;
		if (b->d != NULL) {
			memcpy(nd, b->d, b->size);
			OPENSSL_clear_free(b->d, b->alloc);
		}
		b->d = nd;
		b->cd = nd;
		b->alloc = nalloc;
	}
	*p = b->d + b->size;
	b->size += n;
	return 0;
}

int buf_put(struct buf *b, const void *p, size_t n)
{
	uint8_t *dst;
	int r;

	if ((r = buf_reserve(b, n, &dst)) != 0)
		return r;
	if (n != 0)
		memcpy(dst, p, n);
	return 0;
}

int buf_put_u8(struct buf *b, uint8_t v)
{
	return buf_put(b, &v, 1);
}

int buf_put_u16(struct buf *b, uint16_t v)
{
	uint8_t p[2];

	buf_poke_be16(p, v);
	return buf_put(b, p, sizeof(p));
}

int buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t p[4];

	buf_poke_be32(p, v);
	return buf_put(b, p, sizeof(p));
}

int buf_put_u64(struct buf *b, uint64_t v)
{
	uint8_t p[8];

	buf_poke_be64(p, v);
	return buf_put(b, p, sizeof(p));
}

int buf_put_string16(struct buf *b, const void *p, size_t n)
{
	int r;

	if (n > UINT16_MAX)
		return ERR_TOO_LARGE;
	if ((r = buf_put_u16(b, (uint16_t)n)) != 0)
		return r;
	if ((r = buf_put(b, p, n)) != 0) {
		/* Leave no dangling prefix. */
		b->size -= 2;
		return r;
	}
	return 0;
}

int buf_put_string32(struct buf *b, const void *p, size_t n)
{
	int r;

	if (n > UINT32_MAX)
		return ERR_TOO_LARGE;
	if ((r = buf_put_u32(b, (uint32_t)n)) != 0)
		return r;
	if ((r = buf_put(b, p, n)) != 0) {
		b->size -= 4;
		return r;
	}
	return 0;
}
