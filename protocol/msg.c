// SPDX-License-Identifier: ISC
#include "msg.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "buf.h"
#include "log.h"
#include "secmem.h"

/* ------------------------------------------------------------ text checks */

int msg_utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp, min;

	while (i < len) {
		uint8_t c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

static int digits(const char *s, size_t n, unsigned *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 1;
}

/* YYYY-MM-DD; returns bytes used or 0. */
static size_t check_date(const char *s, size_t len)
{
	unsigned y, m, d;

	if (len < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || m < 1 || m > 12 || d < 1 || d > 31)
		return 0;
	return 10;
}

/* HH:MM:SS[.fraction]; returns bytes used or 0. */
static size_t check_time(const char *s, size_t len)
{
	unsigned h, m, sec;
	size_t i;

	if (len < 8 || !digits(s, 2, &h) || s[2] != ':' || !digits(s + 3, 2, &m) || s[5] != ':' ||
	    !digits(s + 6, 2, &sec) || h > 23 || m > 59 || sec > 60)
		return 0;
	if (len == 8 || s[8] != '.')
		return 8;
	for (i = 9; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		;
	return i == 9 ? 0 : i;
}

int msg_check_datetime(enum secret_type t, const char *s, size_t len)
{
	size_t n = 0, m;
	unsigned oh, om;

	if (len > MSG_MAX_DATE_TEXT)
		return err_set(ERR_FORMAT, "%s text of %zu bytes", secret_type_name(t), len);
	switch (t) {
	case SECRET_LOCAL_DATE:
		n = check_date(s, len);
		break;
	case SECRET_LOCAL_TIME:
		n = check_time(s, len);
		break;
	case SECRET_LOCAL_DATETIME:
	case SECRET_DATETIME:
		if ((n = check_date(s, len)) == 0 || len == n ||
		    (s[n] != 'T' && s[n] != 't' && s[n] != ' ') ||
		    (m = check_time(s + n + 1, len - n - 1)) == 0) {
			n = 0;
			break;
		}
		n += 1 + m;
		if (t == SECRET_LOCAL_DATETIME)
			break;
		if (n < len && (s[n] == 'Z' || s[n] == 'z')) {
			n++;
		} else if (len - n == 6 && (s[n] == '+' || s[n] == '-') && digits(s + n + 1, 2, &oh) &&
			   s[n + 3] == ':' && digits(s + n + 4, 2, &om) && oh <= 23 && om <= 59) {
			n += 6;
		} else {
			n = 0;
		}
		break;
	default:
		return err_set(ERR_INVALID_ARG, "%s is not a date/time type", secret_type_name(t));
	}
	if (n == 0 || n != len)
		return err_set(ERR_FORMAT, "malformed %s text", secret_type_name(t));
	return 0;
}

/* ------------------------------------------------------------ encoding */

static int put_head(struct buf *out, size_t (*fn)(uint64_t, unsigned char *, size_t), uint64_t v)
{
	unsigned char tmp[9];
	size_t n = fn(v, tmp, sizeof(tmp));

	if (n == 0)
		return err_set(ERR_INTERNAL, "CBOR head does not fit");
	return buf_put(out, tmp, n);
}

static size_t enc_uint(uint64_t v, unsigned char *p, size_t n) { return cbor_encode_uint(v, p, n); }
static size_t enc_negint(uint64_t v, unsigned char *p, size_t n) { return cbor_encode_negint(v, p, n); }
static size_t enc_text(uint64_t v, unsigned char *p, size_t n) { return cbor_encode_string_start((size_t)v, p, n); }
static size_t enc_array(uint64_t v, unsigned char *p, size_t n) { return cbor_encode_array_start((size_t)v, p, n); }
static size_t enc_map(uint64_t v, unsigned char *p, size_t n) { return cbor_encode_map_start((size_t)v, p, n); }
static size_t enc_tag(uint64_t v, unsigned char *p, size_t n) { return cbor_encode_tag(v, p, n); }

static int put_text(struct buf *out, const void *p, size_t len)
{
	int r;

	if ((r = put_head(out, enc_text, len)) != 0)
		return r;
	return buf_put(out, p, len);
}

int msg_encode_value(struct buf *out, const struct secret *s)
{
	unsigned char tmp[9];
	uint64_t tag = 0;
	size_t n;
	int r;

	switch (s->type) {
	case SECRET_STRING:
		if (s->v.str.len > LIMIT_VALUE)
			return err_set(ERR_INVALID_ARG, "string value of %zu bytes exceeds %d",
				       s->v.str.len, LIMIT_VALUE);
		if (!msg_utf8_valid((const uint8_t *)s->v.str.ptr, s->v.str.len))
			return err_set(ERR_INVALID_ARG, "string value is not UTF-8");
		return put_text(out, s->v.str.ptr, s->v.str.len);
	case SECRET_INTEGER:
		if (s->v.i >= 0)
			return put_head(out, enc_uint, (uint64_t)s->v.i);
		return put_head(out, enc_negint, (uint64_t)(-(s->v.i + 1)));
	case SECRET_FLOAT:
		if ((n = cbor_encode_double(s->v.f, tmp, sizeof(tmp))) != 9)
			return err_set(ERR_INTERNAL, "float64 encoding");
		return buf_put(out, tmp, n);
	case SECRET_BOOL:
		if ((n = cbor_encode_bool(s->v.b != 0, tmp, sizeof(tmp))) != 1)
			return err_set(ERR_INTERNAL, "bool encoding");
		return buf_put(out, tmp, n);
	case SECRET_DATETIME: tag = MSG_TAG_DATETIME; break;
	case SECRET_LOCAL_DATE: tag = MSG_TAG_FULL_DATE; break;
	case SECRET_LOCAL_DATETIME: tag = MSG_TAG_LOCAL_DATETIME; break;
	case SECRET_LOCAL_TIME: tag = MSG_TAG_LOCAL_TIME; break;
	default:
		return err_set(ERR_INVALID_ARG, "unknown secret type %d", (int)s->type);
	}
	if ((r = msg_check_datetime(s->type, s->v.str.ptr, s->v.str.len)) != 0)
		return err_set(ERR_INVALID_ARG, "%s", err_detail());
	if ((r = put_head(out, enc_tag, tag)) != 0)
		return r;
	return put_text(out, s->v.str.ptr, s->v.str.len);
}

static int check_key(const uint8_t *p, size_t len, int code)
{
	if (len > LIMIT_KEY_NAME)
		return err_set(code, "key name of %zu bytes exceeds %d", len, LIMIT_KEY_NAME);
	if (memchr(p, 0, len) != NULL)
		return err_set(code, "key name holds a NUL byte");
	if (!msg_utf8_valid(p, len))
		return err_set(code, "key name is not UTF-8");
	return 0;
}

int msg_encode_entry(struct buf *out, const struct secret *s)
{
	int r;

	if ((r = check_key((const uint8_t *)s->key, s->key_len, ERR_INVALID_ARG)) != 0)
		return r;
	if ((r = put_head(out, enc_map, 2)) != 0 || (r = put_text(out, "key", 3)) != 0 ||
	    (r = put_text(out, s->key, s->key_len)) != 0 || (r = put_text(out, "value", 5)) != 0 ||
	    (r = msg_encode_value(out, s)) != 0)
		return r;
	return 0;
}

int msg_encode_names(struct buf *out, const char *const *names, const size_t *lens, size_t n)
{
	size_t i;
	int r;

	if (n == 0)
		return 0;
	if (n > MSG_MAX_NAMES)
		return err_set(ERR_TOO_LARGE, "%zu key names exceed %d", n, MSG_MAX_NAMES);
	if ((r = put_head(out, enc_array, n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if ((r = check_key((const uint8_t *)names[i], lens[i], ERR_INVALID_ARG)) != 0 ||
		    (r = put_text(out, names[i], lens[i])) != 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------ pull parser */

enum ev_kind {
	EV_NONE = 0, EV_UINT, EV_NEGINT, EV_BYTES, EV_TEXT, EV_ARRAY, EV_MAP, EV_TAG,
	EV_FLOAT2, EV_FLOAT4, EV_FLOAT8, EV_BOOL, EV_NULL, EV_UNDEF, EV_INDEF, EV_BREAK,
};

struct ev {
	enum ev_kind k;
	uint64_t u;
	double d;
	const uint8_t *p;
	size_t len;
	int b;
};

struct rd {
	const uint8_t *p;
	size_t len, off;
};

static void cb_u8(void *c, uint8_t v) { ((struct ev *)c)->k = EV_UINT; ((struct ev *)c)->u = v; }
static void cb_u16(void *c, uint16_t v) { ((struct ev *)c)->k = EV_UINT; ((struct ev *)c)->u = v; }
static void cb_u32(void *c, uint32_t v) { ((struct ev *)c)->k = EV_UINT; ((struct ev *)c)->u = v; }
static void cb_u64(void *c, uint64_t v) { ((struct ev *)c)->k = EV_UINT; ((struct ev *)c)->u = v; }
static void cb_n8(void *c, uint8_t v) { ((struct ev *)c)->k = EV_NEGINT; ((struct ev *)c)->u = v; }
static void cb_n16(void *c, uint16_t v) { ((struct ev *)c)->k = EV_NEGINT; ((struct ev *)c)->u = v; }
static void cb_n32(void *c, uint32_t v) { ((struct ev *)c)->k = EV_NEGINT; ((struct ev *)c)->u = v; }
static void cb_n64(void *c, uint64_t v) { ((struct ev *)c)->k = EV_NEGINT; ((struct ev *)c)->u = v; }
static void cb_bytes(void *c, cbor_data p, size_t n)
{
	((struct ev *)c)->k = EV_BYTES;
	((struct ev *)c)->p = p;
	((struct ev *)c)->len = n;
}
static void cb_text(void *c, cbor_data p, size_t n)
{
	((struct ev *)c)->k = EV_TEXT;
	((struct ev *)c)->p = p;
	((struct ev *)c)->len = n;
}
static void cb_indef(void *c) { ((struct ev *)c)->k = EV_INDEF; }
static void cb_array(void *c, size_t n) { ((struct ev *)c)->k = EV_ARRAY; ((struct ev *)c)->u = n; }
static void cb_map(void *c, size_t n) { ((struct ev *)c)->k = EV_MAP; ((struct ev *)c)->u = n; }
static void cb_tag(void *c, uint64_t v) { ((struct ev *)c)->k = EV_TAG; ((struct ev *)c)->u = v; }
static void cb_f2(void *c, float v) { ((struct ev *)c)->k = EV_FLOAT2; ((struct ev *)c)->d = v; }
static void cb_f4(void *c, float v) { ((struct ev *)c)->k = EV_FLOAT4; ((struct ev *)c)->d = v; }
static void cb_f8(void *c, double v) { ((struct ev *)c)->k = EV_FLOAT8; ((struct ev *)c)->d = v; }
static void cb_undef(void *c) { ((struct ev *)c)->k = EV_UNDEF; }
static void cb_null(void *c) { ((struct ev *)c)->k = EV_NULL; }
static void cb_bool(void *c, bool v) { ((struct ev *)c)->k = EV_BOOL; ((struct ev *)c)->b = v; }
static void cb_break(void *c) { ((struct ev *)c)->k = EV_BREAK; }

static const struct cbor_callbacks callbacks = {
	.uint8 = cb_u8, .uint16 = cb_u16, .uint32 = cb_u32, .uint64 = cb_u64,
	.negint8 = cb_n8, .negint16 = cb_n16, .negint32 = cb_n32, .negint64 = cb_n64,
	.byte_string_start = cb_indef, .byte_string = cb_bytes,
	.string = cb_text, .string_start = cb_indef,
	.indef_array_start = cb_indef, .array_start = cb_array,
	.indef_map_start = cb_indef, .map_start = cb_map,
	.tag = cb_tag, .float2 = cb_f2, .float4 = cb_f4, .float8 = cb_f8,
	.undefined = cb_undef, .null = cb_null, .boolean = cb_bool, .indef_break = cb_break,
};

static const char *ev_name(enum ev_kind k)
{
	switch (k) {
	case EV_UINT: return "unsigned integer";
	case EV_NEGINT: return "negative integer";
	case EV_BYTES: return "byte string";
	case EV_TEXT: return "text string";
	case EV_ARRAY: return "array";
	case EV_MAP: return "map";
	case EV_TAG: return "tag";
	case EV_FLOAT2: return "float16";
	case EV_FLOAT4: return "float32";
	case EV_FLOAT8: return "float64";
	case EV_BOOL: return "boolean";
	case EV_NULL: return "null";
	case EV_UNDEF: return "undefined";
	case EV_INDEF: return "indefinite-length item";
	case EV_BREAK: return "break";
	default: return "nothing";
	}
}

static int next(struct rd *r, struct ev *e)
{
	struct cbor_decoder_result res;

	memset(e, 0, sizeof(*e));
	if (r->off >= r->len)
		return err_set(ERR_FORMAT, "CBOR ends early");
	res = cbor_stream_decode(r->p + r->off, r->len - r->off, &callbacks, e);
	if (res.status == CBOR_DECODER_NEDATA)
		return err_set(ERR_FORMAT, "CBOR ends early");
	if (res.status != CBOR_DECODER_FINISHED || e->k == EV_NONE || res.read == 0 ||
	    res.read > r->len - r->off)
		return err_set(ERR_FORMAT, "malformed CBOR at byte %zu", r->off);
	r->off += res.read;
	return 0;
}

static int expect(struct rd *r, struct ev *e, enum ev_kind k, const char *what)
{
	int rc;

	if ((rc = next(r, e)) != 0)
		return rc;
	if (e->k != k)
		return err_set(ERR_FORMAT, "%s: expected a %s, got a %s", what, ev_name(k),
			       ev_name(e->k));
	return 0;
}

static int expect_word(struct rd *r, const char *word)
{
	struct ev e;
	int rc;

	if ((rc = expect(r, &e, EV_TEXT, "map key")) != 0)
		return rc;
	if (e.len != strlen(word) || memcmp(e.p, word, e.len) != 0)
		return err_set(ERR_FORMAT, "map key is not \"%s\"", word);
	return 0;
}

/* Copy text NUL-terminated into the arena; *off gets where. */
static int arena_put(struct buf *arena, const uint8_t *p, size_t len, size_t *off)
{
	int rc;

	*off = buf_len(arena);
	if ((rc = buf_put(arena, p, len)) != 0 || (rc = buf_put_u8(arena, 0)) != 0)
		return rc == ERR_TOO_LARGE ? err_set(ERR_TOO_LARGE, "shard exceeds its size cap") : rc;
	return 0;
}

/* Decode one value; text goes to the arena at *off (SIZE_MAX if none). */
static int decode_value(struct rd *r, struct secret *v, struct buf *arena, size_t *off)
{
	struct ev e, t;
	enum secret_type type;
	int rc;

	*off = SIZE_MAX;
	memset(&v->v, 0, sizeof(v->v));
	if ((rc = next(r, &e)) != 0)
		return rc;
	switch (e.k) {
	case EV_TEXT:
		if (e.len > LIMIT_VALUE)
			return err_set(ERR_TOO_LARGE, "string value of %zu bytes exceeds %d", e.len,
				       LIMIT_VALUE);
		if (!msg_utf8_valid(e.p, e.len))
			return err_set(ERR_FORMAT, "string value is not UTF-8");
		v->type = SECRET_STRING;
		v->v.str.len = e.len;
		return arena_put(arena, e.p, e.len, off);
	case EV_UINT:
		if (e.u > INT64_MAX)
			return err_set(ERR_TOO_LARGE, "integer beyond int64");
		v->type = SECRET_INTEGER;
		v->v.i = (int64_t)e.u;
		return 0;
	case EV_NEGINT:
		if (e.u > INT64_MAX)
			return err_set(ERR_TOO_LARGE, "integer beyond int64");
		v->type = SECRET_INTEGER;
		v->v.i = -1 - (int64_t)e.u;
		return 0;
	case EV_FLOAT8:
		v->type = SECRET_FLOAT;
		v->v.f = e.d;
		return 0;
	case EV_BOOL:
		v->type = SECRET_BOOL;
		v->v.b = e.b;
		return 0;
	case EV_TAG:
		switch (e.u) {
		case MSG_TAG_DATETIME: type = SECRET_DATETIME; break;
		case MSG_TAG_FULL_DATE: type = SECRET_LOCAL_DATE; break;
		case MSG_TAG_LOCAL_DATETIME: type = SECRET_LOCAL_DATETIME; break;
		case MSG_TAG_LOCAL_TIME: type = SECRET_LOCAL_TIME; break;
		default:
			return err_set(ERR_FORMAT, "unsupported CBOR tag %llu",
				       (unsigned long long)e.u);
		}
		if ((rc = expect(r, &t, EV_TEXT, "tagged date/time")) != 0)
			return rc;
		if ((rc = msg_check_datetime(type, (const char *)t.p, t.len)) != 0)
			return rc;
		v->type = type;
		v->v.str.len = t.len;
		return arena_put(arena, t.p, t.len, off);
	default:
		return err_set(ERR_FORMAT, "value is a %s, which no secret type uses",
			       ev_name(e.k));
	}
}

int msg_decode_value(const uint8_t *p, size_t len, struct secret *v, struct buf *arena)
{
	struct rd r = {p, len, 0};
	size_t off;
	int rc;

	memset(v, 0, sizeof(*v));
	if ((rc = decode_value(&r, v, arena, &off)) != 0)
		return rc;
	if (r.off != len)
		return err_set(ERR_TRAILING_DATA, "%zu bytes after the value", len - r.off);
	if (off != SIZE_MAX)
		v->v.str.ptr = (const char *)buf_ptr(arena) + off;
	return 0;
}

/* ------------------------------------------------------------ names */

void msg_names_free(struct msg_names *m)
{
	if (m == NULL)
		return;
	buf_free(m->arena);
	free(m->names);
	free(m->lens);
	free(m);
}

int msg_names_decode(const uint8_t *p, size_t len, struct msg_names **out)
{
	struct msg_names *m = NULL;
	struct rd r = {p, len, 0};
	struct ev e;
	size_t i, *offs = NULL;
	int rc;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL || (m->arena = buf_new(0)) == NULL) {
		rc = ERR_ALLOC;
		goto out;
	}
	if (len == 0) {
		m->all = 1;
		goto done;
	}
	if ((rc = expect(&r, &e, EV_ARRAY, "Get request")) != 0)
		goto out;
	if (e.u == 0) {
		rc = err_set(ERR_FORMAT, "empty key list (send an empty body for every key)");
		goto out;
	}
	if (e.u > MSG_MAX_NAMES) {
		rc = err_set(ERR_TOO_LARGE, "%llu key names exceed %d", (unsigned long long)e.u,
			     MSG_MAX_NAMES);
		goto out;
	}
	m->n = (size_t)e.u;
	if ((m->names = calloc(m->n, sizeof(*m->names))) == NULL ||
	    (m->lens = calloc(m->n, sizeof(*m->lens))) == NULL ||
	    (offs = calloc(m->n, sizeof(*offs))) == NULL) {
		rc = ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < m->n; i++) {
		if ((rc = expect(&r, &e, EV_TEXT, "key name")) != 0 ||
		    (rc = check_key(e.p, e.len, ERR_FORMAT)) != 0 ||
		    (rc = arena_put(m->arena, e.p, e.len, &offs[i])) != 0)
			goto out;
		m->lens[i] = e.len;
	}
	if (r.off != len) {
		rc = err_set(ERR_TRAILING_DATA, "%zu bytes after the key names", len - r.off);
		goto out;
	}
	for (i = 0; i < m->n; i++)
		m->names[i] = (const char *)buf_ptr(m->arena) + offs[i];
done:
	*out = m;
	m = NULL;
	rc = 0;
out:
	free(offs);
	msg_names_free(m);
	return rc;
}

/* ------------------------------------------------------------ chunker */

void msg_chunker_init(struct msg_chunker *c, const struct secret_list *list, size_t max)
{
	c->list = list;
	c->next = 0;
	c->max = max == 0 || max > MSG_MAX_CHUNK ? MSG_MAX_CHUNK : max;
	c->done = 0;
}

int msg_chunk_next(struct msg_chunker *c, struct buf *out, int *more)
{
	struct buf *body = NULL;
	size_t count = 0, before;
	/* flag byte + the largest array head we may need. */
	const size_t overhead = 1 + 5;
	int rc;

	*more = 0;
	if (c->done)
		return err_set(ERR_INTERNAL, "chunker called after the last chunk");
	if ((body = buf_new(c->max)) == NULL)
		return ERR_ALLOC;
	while (c->next < c->list->n) {
		before = buf_len(body);
		rc = msg_encode_entry(body, &c->list->items[c->next]);
		if (rc == 0 && buf_len(body) + overhead <= c->max) {
			count++;
			c->next++;
			continue;
		}
		if (rc != 0 && rc != ERR_TOO_LARGE)
			goto out;
		/* Did not fit: drop the partial entry, close this chunk. */
		if (buf_consume_end(body, buf_len(body) - before) != 0) {
			rc = err_set(ERR_INTERNAL, "chunk rollback");
			goto out;
		}
		if (count == 0) {
			rc = err_set(ERR_TOO_LARGE, "secret %zu does not fit in one OkGet", c->next);
			goto out;
		}
		break;
	}
	*more = c->next < c->list->n;
	if ((rc = buf_put_u8(out, *more ? MSG_FLAG_MORE : MSG_FLAG_LAST)) != 0 ||
	    (rc = put_head(out, enc_array, count)) != 0 ||
	    (rc = buf_put(out, buf_ptr(body), buf_len(body))) != 0)
		goto out;
	if (!*more)
		c->done = 1;
	rc = 0;
out:
	buf_free(body);
	return rc;
}

/* ------------------------------------------------------------ shard */

struct item {
	size_t key_off, key_len;
	struct secret v;   /* key and str.ptr are NULL; str_off below */
	size_t str_off;
};

struct msg_shard {
	struct buf *arena;
	struct item *items;
	size_t n, cap, max_items;
	struct secret *view;
	size_t view_n;
	int complete;
};

struct msg_shard *msg_shard_new(size_t max_bytes, size_t max_items)
{
	struct msg_shard *sh;

	if ((sh = calloc(1, sizeof(*sh))) == NULL)
		return NULL;
	if (max_bytes == 0 || max_bytes > MSG_MAX_SHARD)
		max_bytes = MSG_MAX_SHARD;
	sh->max_items = max_items == 0 || max_items > MSG_MAX_SECRETS ? MSG_MAX_SECRETS : max_items;
	if ((sh->arena = buf_new(max_bytes)) == NULL) {
		free(sh);
		return NULL;
	}
	return sh;
}

static void view_drop(struct msg_shard *sh)
{
	if (sh->view != NULL) {
		secmem_zero(sh->view, sh->view_n * sizeof(*sh->view));
		free(sh->view);
	}
	sh->view = NULL;
	sh->view_n = 0;
}

void msg_shard_free(struct msg_shard *sh)
{
	if (sh == NULL)
		return;
	view_drop(sh);
	if (sh->items != NULL) {
		secmem_zero(sh->items, sh->cap * sizeof(*sh->items));
		free(sh->items);
	}
	buf_free(sh->arena);
	free(sh);
}

static int items_reserve(struct msg_shard *sh, size_t want)
{
	struct item *n;
	size_t cap;

	if (want <= sh->cap)
		return 0;
	cap = sh->cap == 0 ? 16 : sh->cap;
	while (cap < want)
		cap *= 2;
	/* Not realloc: the old array holds secret numbers and must be wiped. */
	if ((n = calloc(cap, sizeof(*n))) == NULL)
		return ERR_ALLOC;
	if (sh->items != NULL) {
		memcpy(n, sh->items, sh->n * sizeof(*n));
		secmem_zero(sh->items, sh->cap * sizeof(*sh->items));
		free(sh->items);
	}
	sh->items = n;
	sh->cap = cap;
	return 0;
}

int msg_shard_add(struct msg_shard *sh, const uint8_t *p, size_t len, int *more)
{
	struct rd r = {p, len, 0};
	size_t n0 = sh->n, a0 = buf_len(sh->arena), i, count;
	uint8_t flag;
	struct ev e;
	struct item *it;
	int rc;

	*more = 0;
	if (sh->complete)
		return err_set(ERR_PROTOCOL, "OkGet after the last one");
	if (len < 1)
		return err_set(ERR_FORMAT, "OkGet plaintext without a flag byte");
	flag = p[0];
	if (flag != MSG_FLAG_MORE && flag != MSG_FLAG_LAST)
		return err_set(ERR_FORMAT, "OkGet flag byte 0x%02x", flag);
	r.off = 1;
	if ((rc = expect(&r, &e, EV_ARRAY, "OkGet")) != 0)
		goto out;
	if (e.u > sh->max_items - sh->n) {
		rc = err_set(ERR_TOO_LARGE, "shard exceeds %zu secrets", sh->max_items);
		goto out;
	}
	/* Each entry takes at least 12 bytes: a forged count fails early. */
	count = (size_t)e.u;
	if (count > len / 12) {
		rc = err_set(ERR_FORMAT, "OkGet array of %zu entries in %zu bytes", count, len);
		goto out;
	}
	if ((rc = items_reserve(sh, sh->n + count)) != 0)
		goto out;
	for (i = 0; i < count; i++) {
		it = &sh->items[sh->n];
		memset(it, 0, sizeof(*it));
		if ((rc = expect(&r, &e, EV_MAP, "OkGet entry")) != 0)
			goto out;
		if (e.u != 2) {
			rc = err_set(ERR_FORMAT, "OkGet entry is a map of %llu pairs, not 2",
				     (unsigned long long)e.u);
			goto out;
		}
		if ((rc = expect_word(&r, "key")) != 0 ||
		    (rc = expect(&r, &e, EV_TEXT, "secret key")) != 0 ||
		    (rc = check_key(e.p, e.len, ERR_FORMAT)) != 0 ||
		    (rc = arena_put(sh->arena, e.p, e.len, &it->key_off)) != 0 ||
		    (rc = expect_word(&r, "value")) != 0 ||
		    (rc = decode_value(&r, &it->v, sh->arena, &it->str_off)) != 0)
			goto out;
		it->key_len = e.len;
		sh->n++;
	}
	if (r.off != len) {
		rc = err_set(ERR_TRAILING_DATA, "%zu bytes after the OkGet array", len - r.off);
		goto out;
	}
	*more = flag == MSG_FLAG_MORE;
	sh->complete = !*more;
	rc = 0;
out:
	if (rc != 0) {
		/* Leave the shard as it was. */
		for (i = n0; i < sh->n; i++)
			secmem_zero(&sh->items[i], sizeof(sh->items[i]));
		sh->n = n0;
		if (buf_len(sh->arena) > a0) {
			secmem_zero(buf_mutable_ptr(sh->arena) + a0, buf_len(sh->arena) - a0);
			if (buf_consume_end(sh->arena, buf_len(sh->arena) - a0) != 0)
				fatal("msg_shard_add: arena rollback");
		}
	}
	return rc;
}

int msg_shard_list(struct msg_shard *sh, struct secret_list *out)
{
	const char *base;
	size_t i;

	view_drop(sh);
	out->items = NULL;
	out->n = 0;
	if (sh->n == 0)
		return 0;
	if ((sh->view = calloc(sh->n, sizeof(*sh->view))) == NULL)
		return ERR_ALLOC;
	base = (const char *)buf_ptr(sh->arena);
	for (i = 0; i < sh->n; i++) {
		sh->view[i] = sh->items[i].v;
		sh->view[i].key = base + sh->items[i].key_off;
		sh->view[i].key_len = sh->items[i].key_len;
		if (sh->items[i].str_off != SIZE_MAX)
			sh->view[i].v.str.ptr = base + sh->items[i].str_off;
	}
	sh->view_n = sh->n;
	out->items = sh->view;
	out->n = sh->n;
	return 0;
}

int msg_shard_complete(const struct msg_shard *sh)
{
	return sh->complete;
}
