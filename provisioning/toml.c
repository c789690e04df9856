// SPDX-License-Identifier: ISC
#include "toml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "bounds.h"
#include "log.h"
#include "secmem.h"

/*
 * Arena: chunks handed out front to back, never freed one by one. Growing
 * vectors leave their old copies behind; all of it is wiped at toml_free().
 */
#define CHUNK_MIN ((size_t)64 * 1024)
#define CHUNK_MAX ((size_t)8 * 1024 * 1024)
#define ALIGN16(n) (((n) + 15) & ~(size_t)15)

struct chunk {
	struct chunk *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	int secure;
};
#define CHUNK_HDR ALIGN16(sizeof(struct chunk))

/* Tables with more entries than this get a hash index. */
#define INDEX_MIN 8

struct toml_table {
	struct toml_kv *kv;
	size_t n, cap;
	uint32_t *idx; /* entry index + 1; 0 = empty slot */
	size_t idx_cap; /* power of two, or 0 */
	uint64_t seed;
	enum toml_table_kind kind;
	unsigned depth;
	uint32_t line, col;
};

struct toml_array {
	struct toml_value *items;
	size_t n, cap;
	unsigned depth;
	int tables; /* [[x]] */
};

struct toml_doc {
	struct chunk *chunks;
	size_t next_size;
	unsigned flags;
	uint64_t seed;
	struct toml_table *root;
};

static struct chunk *chunk_new(size_t size, int secure)
{
	struct chunk *c;

	if (size > SIZE_MAX - CHUNK_HDR)
		return NULL;
	c = secure ? secmem_alloc(CHUNK_HDR + size) : calloc(1, CHUNK_HDR + size);
	if (c == NULL)
		return NULL;
	c->size = size;
	c->used = 0;
	c->secure = secure;
	c->next = NULL;
	return c;
}

void *toml_doc_alloc(struct toml_doc *doc, size_t n)
{
	struct chunk *c = doc->chunks, *nc;
	uint8_t *p;

	if (n > SIZE_MAX / 2)
		return NULL;
	n = ALIGN16(n == 0 ? 1 : n);
	if (c != NULL && c->size - c->used >= n) {
		p = (uint8_t *)c + CHUNK_HDR + c->used;
		c->used += n;
		return p;
	}
	if (n > doc->next_size / 2) {
		/* A big block gets its own chunk, behind the current one. */
		if ((nc = chunk_new(n, doc->flags & TOML_SECMEM)) == NULL)
			return NULL;
		if (c != NULL) {
			nc->next = c->next;
			c->next = nc;
		} else {
			doc->chunks = nc;
		}
	} else {
		if ((nc = chunk_new(doc->next_size, doc->flags & TOML_SECMEM)) == NULL)
			return NULL;
		nc->next = c;
		doc->chunks = nc;
		if (doc->next_size < CHUNK_MAX)
			doc->next_size *= 2;
	}
	nc->used = n;
	return (uint8_t *)nc + CHUNK_HDR;
}

char *toml_doc_strdup(struct toml_doc *doc, const void *p, size_t len)
{
	char *s;

	if (len == SIZE_MAX || (s = toml_doc_alloc(doc, len + 1)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

void toml_free(struct toml_doc *doc)
{
	struct chunk *c, *next;

	if (doc == NULL)
		return;
	for (c = doc->chunks; c != NULL; c = next) {
		next = c->next;
		if (c->secure) {
			secmem_free(c);
		} else {
			secmem_zero(c, CHUNK_HDR + c->used);
			free(c);
		}
	}
	secmem_zero(doc, sizeof(*doc));
	free(doc);
}

/* Double *cap until it holds `need` elements of `elem` bytes; the old copy
 * stays in the arena. */
static int vec_grow(struct toml_doc *doc, void **v, size_t *cap, size_t elem, size_t need)
{
	size_t ncap = *cap ? *cap : 4;
	void *nv;

	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return ERR_ALLOC;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem || (nv = toml_doc_alloc(doc, ncap * elem)) == NULL)
		return ERR_ALLOC;
	if (*cap > 0)
		memcpy(nv, *v, *cap * elem);
	*v = nv;
	*cap = ncap;
	return 0;
}

/*
 * Key hash: FNV-1a with a per-document random seed and a final mix.
 * XXX not a keyed PRF (SipHash would be); the input is the security
 * officer's file, the seed only spoils precomputed collisions.
 */
static uint64_t key_hash(uint64_t seed, const char *k, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (uint8_t)k[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static void index_put(struct toml_table *t, size_t entry)
{
	size_t mask = t->idx_cap - 1;
	size_t i = (size_t)key_hash(t->seed, t->kv[entry].key, t->kv[entry].key_len) & mask;

	while (t->idx[i] != 0)
		i = (i + 1) & mask;
	t->idx[i] = (uint32_t)(entry + 1);
}

static struct toml_kv *tab_find(const struct toml_table *t, const char *key, size_t len)
{
	size_t i, mask;

	if (t->idx == NULL) {
		for (i = 0; i < t->n; i++)
			if (t->kv[i].key_len == len && memcmp(t->kv[i].key, key, len) == 0)
				return &t->kv[i];
		return NULL;
	}
	mask = t->idx_cap - 1;
	for (i = (size_t)key_hash(t->seed, key, len) & mask; t->idx[i] != 0; i = (i + 1) & mask) {
		struct toml_kv *kv = &t->kv[t->idx[i] - 1];
		if (kv->key_len == len && memcmp(kv->key, key, len) == 0)
			return kv;
	}
	return NULL;
}

/* Append without a duplicate check; the key is copied into the arena. */
static int tab_append(struct toml_doc *doc, struct toml_table *t, const char *key, size_t len,
		      uint32_t line, uint32_t col, const struct toml_value *val)
{
	struct toml_kv *kv;
	size_t i;
	int r;

	if (t->n >= UINT32_MAX - 1)
		return ERR_TOO_LARGE;
	if (t->n == t->cap &&
	    (r = vec_grow(doc, (void **)&t->kv, &t->cap, sizeof(*t->kv), t->n + 1)) != 0)
		return r;
	kv = &t->kv[t->n];
	if ((kv->key = toml_doc_strdup(doc, key, len)) == NULL)
		return ERR_ALLOC;
	kv->key_len = len;
	kv->line = line;
	kv->col = col;
	kv->val = *val;
	t->n++;
	if (t->n <= INDEX_MIN)
		return 0;
	if (t->idx == NULL || t->n * 2 > t->idx_cap) {
		size_t cap = 16;
		while (cap < t->n * 4)
			cap *= 2;
		if ((t->idx = toml_doc_alloc(doc, cap * sizeof(*t->idx))) == NULL)
			return ERR_ALLOC;
		memset(t->idx, 0, cap * sizeof(*t->idx));
		t->idx_cap = cap;
		for (i = 0; i < t->n; i++)
			index_put(t, i);
	} else {
		index_put(t, t->n - 1);
	}
	return 0;
}

int toml_table_add(struct toml_doc *doc, struct toml_table *t, const char *key, size_t key_len,
		   uint32_t line, uint32_t col, const struct toml_value *val)
{
	if (tab_find(t, key, key_len) != NULL)
		return ERR_EXISTS;
	return tab_append(doc, t, key, key_len, line, col, val);
}

int toml_array_add(struct toml_doc *doc, struct toml_array *a, const struct toml_value *val)
{
	int r;

	if (a->n == a->cap &&
	    (r = vec_grow(doc, (void **)&a->items, &a->cap, sizeof(*a->items), a->n + 1)) != 0)
		return r;
	a->items[a->n++] = *val;
	return 0;
}

int toml_doc_new_table(struct toml_doc *doc, enum toml_table_kind kind, unsigned depth,
		       uint32_t line, uint32_t col, struct toml_table **out)
{
	struct toml_table *t;

	*out = NULL;
	if (depth > LIMIT_NESTING)
		return ERR_TOO_LARGE;
	if ((t = toml_doc_alloc(doc, sizeof(*t))) == NULL)
		return ERR_ALLOC;
	t->kind = kind;
	t->depth = depth;
	t->seed = doc->seed;
	t->line = line;
	t->col = col;
	*out = t;
	return 0;
}

int toml_doc_new_array(struct toml_doc *doc, unsigned depth, struct toml_array **out)
{
	struct toml_array *a;

	*out = NULL;
	if (depth > LIMIT_NESTING)
		return ERR_TOO_LARGE;
	if ((a = toml_doc_alloc(doc, sizeof(*a))) == NULL)
		return ERR_ALLOC;
	a->depth = depth;
	*out = a;
	return 0;
}

int toml_doc_new(unsigned flags, struct toml_doc **out)
{
	struct toml_doc *doc;
	int r;

	*out = NULL;
	if ((doc = calloc(1, sizeof(*doc))) == NULL)
		return ERR_ALLOC;
	doc->flags = flags;
	doc->next_size = CHUNK_MIN;
	if (RAND_bytes((unsigned char *)&doc->seed, sizeof(doc->seed)) != 1)
		doc->seed = (uint64_t)(uintptr_t)doc ^ 0x9e3779b97f4a7c15ULL;
	if ((r = toml_doc_new_table(doc, TOML_TABLE_HEADER, 0, 1, 1, &doc->root)) != 0) {
		toml_free(doc);
		return r;
	}
	*out = doc;
	return 0;
}

struct toml_table *toml_doc_root(struct toml_doc *doc)
{
	return doc->root;
}

const struct toml_table *toml_root(const struct toml_doc *doc)
{
	return doc->root;
}

size_t toml_table_count(const struct toml_table *t)
{
	return t->n;
}

const struct toml_kv *toml_table_at(const struct toml_table *t, size_t i)
{
	return i < t->n ? &t->kv[i] : NULL;
}

const struct toml_kv *toml_table_get(const struct toml_table *t, const char *key, size_t len)
{
	return tab_find(t, key, len);
}

enum toml_table_kind toml_table_kind(const struct toml_table *t)
{
	return t->kind;
}

void toml_table_pos(const struct toml_table *t, uint32_t *line, uint32_t *col)
{
	*line = t->line;
	*col = t->col;
}

unsigned toml_table_depth(const struct toml_table *t)
{
	return t->depth;
}

size_t toml_array_count(const struct toml_array *a)
{
	return a->n;
}

const struct toml_value *toml_array_at(const struct toml_array *a, size_t i)
{
	return i < a->n ? &a->items[i] : NULL;
}

int toml_array_is_tables(const struct toml_array *a)
{
	return a->tables;
}

const char *toml_type_name(enum toml_type t)
{
	switch (t) {
	case TOML_TABLE: return "table";
	case TOML_ARRAY: return "array";
	case TOML_STRING: return "string";
	case TOML_INTEGER: return "integer";
	case TOML_FLOAT: return "float";
	case TOML_BOOL: return "bool";
	case TOML_DATETIME: return "datetime";
	case TOML_LOCAL_DATETIME: return "datetime-local";
	case TOML_LOCAL_DATE: return "date-local";
	case TOML_LOCAL_TIME: return "time-local";
	}
	return "unknown";
}

/* ------------------------------------------------------------------------ */
/* The reader. */

struct parser {
	struct toml_doc *doc;
	const uint8_t *s;
	size_t len, pos;
	uint32_t line;
	size_t line_start;
	const char *name;
	struct toml_table *cur;
};

struct keypart {
	const char *k;
	size_t len;
	uint32_t line, col;
};

static int err_at_lc(struct parser *ps, int code, uint32_t line, uint32_t col, const char *fmt,
		     va_list ap) PRINTF_LIKE(5, 0);
static int err_at_lc(struct parser *ps, int code, uint32_t line, uint32_t col, const char *fmt,
		     va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return err_set(code, "%s:%u:%u: %s", ps->name, line, col, msg);
}

/* Error at byte offset `pos`; line and column counted from the start. */
static int perr_at(struct parser *ps, size_t pos, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int perr_at(struct parser *ps, size_t pos, const char *fmt, ...)
{
	uint32_t line = 1;
	size_t i, ls = 0;
	va_list ap;
	int r;

	if (pos > ps->len)
		pos = ps->len;
	for (i = 0; i < pos; i++)
		if (ps->s[i] == '\n') {
			line++;
			ls = i + 1;
		}
	va_start(ap, fmt);
	r = err_at_lc(ps, ERR_FORMAT, line, (uint32_t)(pos - ls + 1), fmt, ap);
	va_end(ap);
	return r;
}

static int perr_lc(struct parser *ps, int code, uint32_t line, uint32_t col, const char *fmt, ...)
	PRINTF_LIKE(5, 6);
static int perr_lc(struct parser *ps, int code, uint32_t line, uint32_t col, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_at_lc(ps, code, line, col, fmt, ap);
	va_end(ap);
	return r;
}

#define perr(ps, ...) perr_at((ps), (ps)->pos, __VA_ARGS__)

static int too_deep(struct parser *ps)
{
	return perr_lc(ps, ERR_TOO_LARGE, ps->line, (uint32_t)(ps->pos - ps->line_start + 1),
		       "nesting deeper than %d levels", LIMIT_NESTING);
}

static int peek(const struct parser *ps)
{
	return ps->pos < ps->len ? ps->s[ps->pos] : -1;
}

static int peek_at(const struct parser *ps, size_t k)
{
	return k < ps->len - ps->pos ? ps->s[ps->pos + k] : -1;
}

static uint32_t cur_col(const struct parser *ps)
{
	return (uint32_t)(ps->pos - ps->line_start + 1);
}

static void saw_newline(struct parser *ps, size_t next)
{
	ps->line++;
	ps->line_start = next;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_val(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

static int is_bare(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' ||
	       c == '-';
}

static int is_ctrl(int c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Validate the whole text as UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static int check_utf8(struct parser *ps)
{
	const uint8_t *s = ps->s;
	size_t i = 0, n = ps->len;

	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return perr_at(ps, i, "invalid UTF-8");
		}
		if (n - i <= k)
			return perr_at(ps, i, "truncated UTF-8 sequence");
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return perr_at(ps, i, "invalid UTF-8");
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return perr_at(ps, i, "invalid UTF-8");
		i += k + 1;
	}
	return 0;
}

static void skip_ws(struct parser *ps)
{
	while (ps->pos < ps->len && (ps->s[ps->pos] == ' ' || ps->s[ps->pos] == '\t'))
		ps->pos++;
}

/* At '#': skip to the end of the line (the newline is left). */
static int skip_comment(struct parser *ps)
{
	ps->pos++;
	while (ps->pos < ps->len) {
		uint8_t c = ps->s[ps->pos];
		if (c == '\n')
			break;
		if (c == '\r') {
			if (peek_at(ps, 1) == '\n')
				break;
			return perr(ps, "carriage return without newline in a comment");
		}
		if (is_ctrl(c))
			return perr(ps, "control character in a comment");
		ps->pos++;
	}
	return 0;
}

/* 1 if a newline was consumed, 0 if none is here, or an error. */
static int eat_newline(struct parser *ps)
{
	int c = peek(ps);

	if (c == '\n') {
		ps->pos++;
		saw_newline(ps, ps->pos);
		return 1;
	}
	if (c == '\r') {
		if (peek_at(ps, 1) != '\n')
			return perr(ps, "carriage return without newline");
		ps->pos += 2;
		saw_newline(ps, ps->pos);
		return 1;
	}
	return 0;
}

/* Whitespace, comments and newlines (between array items). */
static int skip_space(struct parser *ps)
{
	int r;

	for (;;) {
		skip_ws(ps);
		if (peek(ps) == '#' && (r = skip_comment(ps)) != 0)
			return r;
		if ((r = eat_newline(ps)) <= 0)
			return r;
	}
}

/* After a key/value pair or a header: only a comment, then a newline or EOF. */
static int expect_eol(struct parser *ps)
{
	int r;

	skip_ws(ps);
	if (peek(ps) == '#' && (r = skip_comment(ps)) != 0)
		return r;
	if (ps->pos >= ps->len)
		return 0;
	if ((r = eat_newline(ps)) < 0)
		return r;
	if (r == 0)
		return perr(ps, "expected the end of the line");
	return 0;
}

static size_t utf8_put(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xc0 | cp >> 6);
		o[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | cp >> 12);
		o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (uint8_t)(0xf0 | cp >> 18);
	o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* At a backslash at *ip (content ends at `end`): decode one escape. The
 * output never outgrows the input (\uXXXX is 6 bytes for at most 3). */
static int decode_escape(struct parser *ps, size_t *ip, size_t end, uint8_t *out, size_t *op)
{
	size_t i = *ip, k, j;
	uint32_t cp = 0;
	int e = i + 1 < end ? ps->s[i + 1] : -1;

	switch (e) {
	case 'b': out[(*op)++] = '\b'; break;
	case 't': out[(*op)++] = '\t'; break;
	case 'n': out[(*op)++] = '\n'; break;
	case 'f': out[(*op)++] = '\f'; break;
	case 'r': out[(*op)++] = '\r'; break;
	case '"': out[(*op)++] = '"'; break;
	case '\\': out[(*op)++] = '\\'; break;
	case 'u':
	case 'U':
		k = e == 'u' ? 4 : 8;
		if (end - (i + 2) < k)
			return perr_at(ps, i, "short unicode escape");
		for (j = 0; j < k; j++) {
			int c = ps->s[i + 2 + j];
			if (!is_hex(c))
				return perr_at(ps, i, "invalid unicode escape");
			cp = cp << 4 | (uint32_t)hex_val(c);
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return perr_at(ps, i, "unicode escape is not a scalar value");
		*op += utf8_put(out + *op, cp);
		*ip = i + 2 + k;
		return 0;
	default:
		return perr_at(ps, i, "invalid escape sequence");
	}
	*ip = i + 2;
	return 0;
}

/* "..." at pos. */
static int parse_basic(struct parser *ps, const char **outp, size_t *outlen)
{
	size_t start = ps->pos + 1, i = start, end, o = 0;
	uint8_t *out;
	int r;

	for (;;) {
		if (i >= ps->len || ps->s[i] == '\n')
			return perr_at(ps, i, "unterminated string");
		if (ps->s[i] == '"')
			break;
		i += ps->s[i] == '\\' ? 2 : 1;
	}
	end = i;
	if ((out = toml_doc_alloc(ps->doc, end - start + 1)) == NULL)
		return ERR_ALLOC;
	for (i = start; i < end;) {
		uint8_t c = ps->s[i];
		if (c == '\\') {
			if ((r = decode_escape(ps, &i, end, out, &o)) != 0)
				return r;
		} else if (is_ctrl(c)) {
			return perr_at(ps, i, "control character in a string");
		} else {
			out[o++] = c;
			i++;
		}
	}
	out[o] = '\0';
	ps->pos = end + 1;
	*outp = (const char *)out;
	*outlen = o;
	return 0;
}

/* Find the closing run of three or more quotes `q`; content ends before the
 * last three. Backslashes escape the next byte when `escapes`. */
static int find_ml_end(struct parser *ps, size_t start, uint8_t q, int escapes, size_t *content_end,
		       size_t *close_end)
{
	size_t i = start, k;

	for (;;) {
		if (i >= ps->len)
			return perr_at(ps, ps->pos, "unterminated multi-line string");
		if (escapes && ps->s[i] == '\\') {
			i += 2;
			continue;
		}
		if (ps->s[i] == q && ps->len - i >= 3 && ps->s[i + 1] == q && ps->s[i + 2] == q) {
			for (k = 3; i + k < ps->len && ps->s[i + k] == q; k++)
				;
			if (k > 5)
				return perr_at(ps, i, "too many quotes at the end of a string");
			*content_end = i + k - 3;
			*close_end = i + k;
			return 0;
		}
		i++;
	}
}

/* """...""" or '''...''' at pos. */
static int parse_multiline(struct parser *ps, int basic, const char **outp, size_t *outlen)
{
	size_t start = ps->pos + 3, end = 0, close_end = 0, i, o = 0, j;
	uint8_t *out;
	int r;

	if ((r = find_ml_end(ps, start, basic ? '"' : '\'', basic, &end, &close_end)) != 0)
		return r;
	if ((out = toml_doc_alloc(ps->doc, end - start + 1)) == NULL)
		return ERR_ALLOC;
	i = start;
	/* A newline right after the opening quotes is trimmed. */
	if (i < end && ps->s[i] == '\n') {
		i++;
		saw_newline(ps, i);
	} else if (end - i >= 2 && ps->s[i] == '\r' && ps->s[i + 1] == '\n') {
		i += 2;
		saw_newline(ps, i);
	}
	while (i < end) {
		uint8_t c = ps->s[i];
		if (c == '\\' && basic) {
			/* Line-ending backslash: drop whitespace and newlines after it. */
			for (j = i + 1; j < end && (ps->s[j] == ' ' || ps->s[j] == '\t'); j++)
				;
			if (j < end && (ps->s[j] == '\n' ||
					(ps->s[j] == '\r' && j + 1 < end && ps->s[j + 1] == '\n'))) {
				i = j;
				while (i < end) {
					if (ps->s[i] == ' ' || ps->s[i] == '\t') {
						i++;
					} else if (ps->s[i] == '\n') {
						i++;
						saw_newline(ps, i);
					} else if (ps->s[i] == '\r' && i + 1 < end &&
						   ps->s[i + 1] == '\n') {
						i += 2;
						saw_newline(ps, i);
					} else {
						break;
					}
				}
				continue;
			}
			if ((r = decode_escape(ps, &i, end, out, &o)) != 0)
				return r;
		} else if (c == '\n') {
			out[o++] = '\n';
			i++;
			saw_newline(ps, i);
		} else if (c == '\r') {
			if (i + 1 >= end || ps->s[i + 1] != '\n')
				return perr_at(ps, i, "carriage return without newline in a string");
			/* CRLF is kept as LF, the same on every platform. */
			out[o++] = '\n';
			i += 2;
			saw_newline(ps, i);
		} else if (is_ctrl(c)) {
			return perr_at(ps, i, "control character in a string");
		} else {
			out[o++] = c;
			i++;
		}
	}
	out[o] = '\0';
	ps->pos = close_end;
	*outp = (const char *)out;
	*outlen = o;
	return 0;
}

/* '...' at pos. */
static int parse_literal(struct parser *ps, const char **outp, size_t *outlen)
{
	size_t start = ps->pos + 1, i;
	char *out;

	for (i = start;; i++) {
		if (i >= ps->len || ps->s[i] == '\n')
			return perr_at(ps, i, "unterminated string");
		if (ps->s[i] == '\'')
			break;
		if (is_ctrl(ps->s[i]))
			return perr_at(ps, i, "control character in a string");
	}
	if ((out = toml_doc_strdup(ps->doc, ps->s + start, i - start)) == NULL)
		return ERR_ALLOC;
	ps->pos = i + 1;
	*outp = out;
	*outlen = i - start;
	return 0;
}

static int parse_simple_key(struct parser *ps, struct keypart *kp)
{
	int c = peek(ps);
	size_t i;

	kp->line = ps->line;
	kp->col = cur_col(ps);
	if (c == '"') {
		if (peek_at(ps, 1) == '"' && peek_at(ps, 2) == '"')
			return perr(ps, "a key cannot be a multi-line string");
		return parse_basic(ps, &kp->k, &kp->len);
	}
	if (c == '\'') {
		if (peek_at(ps, 1) == '\'' && peek_at(ps, 2) == '\'')
			return perr(ps, "a key cannot be a multi-line string");
		return parse_literal(ps, &kp->k, &kp->len);
	}
	for (i = ps->pos; i < ps->len && is_bare(ps->s[i]); i++)
		;
	if (i == ps->pos)
		return perr(ps, "expected a key");
	if ((kp->k = toml_doc_strdup(ps->doc, ps->s + ps->pos, i - ps->pos)) == NULL)
		return ERR_ALLOC;
	kp->len = i - ps->pos;
	ps->pos = i;
	return 0;
}

static int parse_key(struct parser *ps, struct keypart *parts, size_t *n)
{
	int r;

	*n = 0;
	for (;;) {
		if (*n == LIMIT_NESTING)
			return perr_lc(ps, ERR_TOO_LARGE, ps->line, cur_col(ps),
				       "key has more than %d parts", LIMIT_NESTING);
		if ((r = parse_simple_key(ps, &parts[(*n)++])) != 0)
			return r;
		skip_ws(ps);
		if (peek(ps) != '.')
			return 0;
		ps->pos++;
		skip_ws(ps);
	}
}

/* Key text for messages: escaped, cut at 64 bytes. */
static const char *key_show(const struct keypart *kp, char *buf, size_t buflen)
{
	char tmp[80];
	size_t n = kp->len < sizeof(tmp) - 1 ? kp->len : sizeof(tmp) - 1;

	memcpy(tmp, kp->k, n);
	tmp[n] = '\0';
	return log_untrusted(buf, buflen, tmp, 64);
}

static int dup_key(struct parser *ps, const struct keypart *kp, const char *what)
{
	char shown[300];

	return perr_lc(ps, ERR_FORMAT, kp->line, kp->col, "%s '%s'", what,
		       key_show(kp, shown, sizeof(shown)));
}

static int parse_value(struct parser *ps, unsigned depth, struct toml_value *v);

/* A new table of `kind` under key part kp of t; *out is the new table. */
static int add_subtable(struct parser *ps, struct toml_table *t, const struct keypart *kp,
			enum toml_table_kind kind, struct toml_table **out)
{
	struct toml_value tv;
	int r;

	if ((r = toml_doc_new_table(ps->doc, kind, t->depth + 1, kp->line, kp->col, out)) != 0)
		return r == ERR_TOO_LARGE ? too_deep(ps) : r;
	memset(&tv, 0, sizeof(tv));
	tv.type = TOML_TABLE;
	tv.line = kp->line;
	tv.col = kp->col;
	tv.u.t = *out;
	return tab_append(ps->doc, t, kp->k, kp->len, kp->line, kp->col, &tv);
}

/* Insert v under the dotted key parts[0..n) below t. */
static int insert_dotted(struct parser *ps, struct toml_table *t, const struct keypart *parts,
			 size_t n, const struct toml_value *v)
{
	struct toml_kv *kv;
	size_t i;
	int r;

	for (i = 0; i + 1 < n; i++) {
		kv = tab_find(t, parts[i].k, parts[i].len);
		if (kv == NULL) {
			struct toml_table *nt;
			if ((r = add_subtable(ps, t, &parts[i], TOML_TABLE_DOTTED, &nt)) != 0)
				return r;
			t = nt;
		} else if (kv->val.type == TOML_TABLE && kv->val.u.t->kind == TOML_TABLE_DOTTED) {
			t = kv->val.u.t;
		} else {
			return dup_key(ps, &parts[i], "cannot add keys with a dotted key to");
		}
	}
	if (tab_find(t, parts[n - 1].k, parts[n - 1].len) != NULL)
		return dup_key(ps, &parts[n - 1], "duplicate key");
	return tab_append(ps->doc, t, parts[n - 1].k, parts[n - 1].len, parts[n - 1].line,
			  parts[n - 1].col, v);
}

static int parse_kv(struct parser *ps, struct toml_table *t)
{
	struct keypart parts[LIMIT_NESTING];
	struct toml_value v;
	size_t n;
	int r;

	if ((r = parse_key(ps, parts, &n)) != 0)
		return r;
	if (peek(ps) != '=')
		return perr(ps, "expected '=' after a key");
	ps->pos++;
	skip_ws(ps);
	if ((r = parse_value(ps, t->depth + (unsigned)n, &v)) != 0)
		return r;
	return insert_dotted(ps, t, parts, n, &v);
}

static int parse_array(struct parser *ps, unsigned depth, struct toml_value *v)
{
	struct toml_array *a;
	struct toml_value item;
	int r;

	if ((r = toml_doc_new_array(ps->doc, depth, &a)) != 0)
		return r == ERR_TOO_LARGE ? too_deep(ps) : r;
	ps->pos++;
	for (;;) {
		if ((r = skip_space(ps)) != 0)
			return r;
		if (peek(ps) == ']') {
			ps->pos++;
			break;
		}
		if ((r = parse_value(ps, depth + 1, &item)) != 0 ||
		    (r = toml_array_add(ps->doc, a, &item)) != 0)
			return r;
		if ((r = skip_space(ps)) != 0)
			return r;
		if (peek(ps) == ',') {
			ps->pos++;
			continue;
		}
		if (peek(ps) == ']') {
			ps->pos++;
			break;
		}
		return perr(ps, "expected ',' or ']' in an array");
	}
	v->type = TOML_ARRAY;
	v->u.a = a;
	return 0;
}

static int parse_inline_table(struct parser *ps, unsigned depth, struct toml_value *v)
{
	struct toml_table *t;
	int r;

	if ((r = toml_doc_new_table(ps->doc, TOML_TABLE_INLINE, depth, ps->line, cur_col(ps),
				    &t)) != 0)
		return r == ERR_TOO_LARGE ? too_deep(ps) : r;
	ps->pos++;
	skip_ws(ps);
	if (peek(ps) == '}') {
		ps->pos++;
	} else {
		for (;;) {
			if ((r = parse_kv(ps, t)) != 0)
				return r;
			skip_ws(ps);
			if (peek(ps) == ',') {
				ps->pos++;
				skip_ws(ps);
				continue;
			}
			if (peek(ps) == '}') {
				ps->pos++;
				break;
			}
			return perr(ps, "expected ',' or '}' in an inline table");
		}
	}
	v->type = TOML_TABLE;
	v->u.t = t;
	return 0;
}

/* Exactly k digits at s[i..]; their value in *out. */
static int digits_at(const struct parser *ps, size_t i, size_t k, int *out)
{
	int v = 0;
	size_t j;

	if (i > ps->len || ps->len - i < k)
		return 0;
	for (j = 0; j < k; j++) {
		if (!is_digit(ps->s[i + j]))
			return 0;
		v = v * 10 + (ps->s[i + j] - '0');
	}
	*out = v;
	return 1;
}

static int days_in_month(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* HH:MM:SS[.frac] at i; end in *endp. */
static int parse_time_at(struct parser *ps, size_t i, size_t *endp)
{
	int h, m, s;

	if (!digits_at(ps, i, 2, &h) || i + 2 >= ps->len || ps->s[i + 2] != ':' ||
	    !digits_at(ps, i + 3, 2, &m) || i + 5 >= ps->len || ps->s[i + 5] != ':' ||
	    !digits_at(ps, i + 6, 2, &s))
		return perr_at(ps, i, "invalid time (HH:MM:SS)");
	if (h > 23 || m > 59 || s > 60)
		return perr_at(ps, i, "time out of range");
	i += 8;
	if (i < ps->len && ps->s[i] == '.') {
		size_t j = i + 1;
		while (j < ps->len && is_digit(ps->s[j]))
			j++;
		if (j == i + 1)
			return perr_at(ps, i, "expected digits after '.' in a time");
		i = j;
	}
	*endp = i;
	return 0;
}

static int parse_datetime(struct parser *ps, struct toml_value *v)
{
	size_t start = ps->pos, i = start, tstart = 0, tend = 0, ostart = 0, oend = 0, n = 0;
	int y, mo, d, date = 0, r;
	char *out;

	if (digits_at(ps, i, 4, &y) && i + 4 < ps->len && ps->s[i + 4] == '-') {
		date = 1;
		if (!digits_at(ps, i + 5, 2, &mo) || i + 7 >= ps->len || ps->s[i + 7] != '-' ||
		    !digits_at(ps, i + 8, 2, &d))
			return perr_at(ps, i, "invalid date (YYYY-MM-DD)");
		if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
			return perr_at(ps, i, "date out of range");
		i += 10;
		if (i < ps->len && (ps->s[i] == 'T' || ps->s[i] == 't' ||
				    (ps->s[i] == ' ' && i + 1 < ps->len && is_digit(ps->s[i + 1])))) {
			tstart = i + 1;
			if ((r = parse_time_at(ps, tstart, &tend)) != 0)
				return r;
			i = tend;
			if (i < ps->len && (ps->s[i] == 'Z' || ps->s[i] == 'z')) {
				ostart = i;
				oend = i + 1;
			} else if (i < ps->len && (ps->s[i] == '+' || ps->s[i] == '-')) {
				int oh, om;
				if (!digits_at(ps, i + 1, 2, &oh) || i + 3 >= ps->len ||
				    ps->s[i + 3] != ':' || !digits_at(ps, i + 4, 2, &om))
					return perr_at(ps, i, "invalid offset (+HH:MM)");
				if (oh > 23 || om > 59)
					return perr_at(ps, i, "offset out of range");
				ostart = i;
				oend = i + 6;
			}
		}
	} else {
		tstart = start;
		if ((r = parse_time_at(ps, tstart, &tend)) != 0)
			return r;
	}
	/* Canonical text: 'T' and 'Z' upper case. */
	if ((out = toml_doc_alloc(ps->doc, 11 + (tend - tstart) + (oend - ostart) + 1)) == NULL)
		return ERR_ALLOC;
	if (date) {
		memcpy(out, ps->s + start, 10);
		n = 10;
		if (tend > 0)
			out[n++] = 'T';
	}
	if (tend > 0) {
		memcpy(out + n, ps->s + tstart, tend - tstart);
		n += tend - tstart;
	}
	if (oend > 0) {
		if (oend - ostart == 1) {
			out[n++] = 'Z';
		} else {
			memcpy(out + n, ps->s + ostart, oend - ostart);
			n += oend - ostart;
		}
	}
	out[n] = '\0';
	v->type = !date ? TOML_LOCAL_TIME
	      : tend == 0 ? TOML_LOCAL_DATE
	      : oend > 0  ? TOML_DATETIME
			  : TOML_LOCAL_DATETIME;
	v->u.s.ptr = out;
	v->u.s.len = n;
	ps->pos = oend > 0 ? oend : tend > 0 ? tend : start + 10;
	return 0;
}

int toml_datetime_parse(struct toml_doc *doc, const char *s, size_t len, struct toml_value *v)
{
	struct parser ps;
	struct toml_value tmp;
	const uint8_t *u = (const uint8_t *)s;
	int r;

	memset(&ps, 0, sizeof(ps));
	memset(&tmp, 0, sizeof(tmp));
	ps.doc = doc;
	ps.s = u;
	ps.len = len;
	ps.line = 1;
	ps.name = "<value>";
	if (len < 8 || !is_digit(u[0]) || !is_digit(u[1]))
		return err_set(ERR_FORMAT, "not a date/time");
	if ((r = parse_datetime(&ps, &tmp)) != 0)
		return r;
	if (ps.pos != len)
		return err_set(ERR_FORMAT, "not a date/time: trailing characters");
	v->type = tmp.type;
	v->u = tmp.u;
	return 0;
}

static int is_numchar(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == '.' || c == '+' || c == '-';
}

/* One or more digits of `base`, single underscores only between digits. */
static int digit_run(const uint8_t *t, size_t *ip, size_t n, int base)
{
	size_t i = *ip;
	int ok;

#define IS_D(c) (base == 16 ? is_hex(c) : (c) >= '0' && (c) < '0' + base)
	if (i >= n || !IS_D(t[i]))
		return 0;
	for (;;) {
		i++;
		if (i < n && t[i] == '_') {
			i++;
			ok = i < n && IS_D(t[i]);
			if (!ok)
				return 0;
			continue;
		}
		if (i >= n || !IS_D(t[i]))
			break;
	}
#undef IS_D
	*ip = i;
	return 1;
}

static int parse_number(struct parser *ps, struct toml_value *v)
{
	size_t start = ps->pos, end = start, n, i = 0, int_start;
	const uint8_t *t = ps->s + start;
	int neg = 0, is_float = 0, base = 10;
	uint64_t mag = 0;

	while (end < ps->len && is_numchar(ps->s[end]))
		end++;
	n = end - start;
	if (n > 0 && (t[0] == '+' || t[0] == '-')) {
		neg = t[0] == '-';
		i = 1;
	}
	if (n - i == 3 && (memcmp(t + i, "inf", 3) == 0 || memcmp(t + i, "nan", 3) == 0)) {
		v->type = TOML_FLOAT;
		v->u.f = t[i] == 'i' ? INFINITY : NAN;
		if (neg)
			v->u.f = -v->u.f;
		ps->pos = end;
		return 0;
	}
	if (i == 0 && n > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'o' || t[1] == 'b')) {
		base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 2;
		i = 2;
		if (!digit_run(t, &i, n, base) || i != n)
			return perr_at(ps, start, "invalid integer");
		int_start = 2;
	} else {
		int_start = i;
		if (!digit_run(t, &i, n, 10))
			return perr_at(ps, start, "invalid number");
		if (t[int_start] == '0' && i - int_start > 1)
			return perr_at(ps, start, "leading zero in a number");
		if (i < n && t[i] == '.') {
			i++;
			if (!digit_run(t, &i, n, 10))
				return perr_at(ps, start, "invalid float");
			is_float = 1;
		}
		if (i < n && (t[i] == 'e' || t[i] == 'E')) {
			i++;
			if (i < n && (t[i] == '+' || t[i] == '-'))
				i++;
			if (!digit_run(t, &i, n, 10))
				return perr_at(ps, start, "invalid float exponent");
			is_float = 1;
		}
		if (i != n)
			return perr_at(ps, start, "invalid number");
	}
	if (is_float) {
		char *buf, *endp;
		size_t k, o = 0;
		double d;

		if ((buf = malloc(n + 1)) == NULL)
			return ERR_ALLOC;
		for (k = 0; k < n; k++)
			if (t[k] != '_')
				buf[o++] = (char)t[k];
		buf[o] = '\0';
		errno = 0;
		d = strtod(buf, &endp);
		k = (size_t)(endp - buf);
		secmem_zero(buf, n + 1);
		free(buf);
		if (k != o)
			return perr_at(ps, start, "invalid float");
		if (isinf(d))
			return perr_at(ps, start, "float out of range");
		v->type = TOML_FLOAT;
		v->u.f = d;
		ps->pos = end;
		return 0;
	}
	for (i = int_start; i < n; i++) {
		uint64_t dgt;
		if (t[i] == '_')
			continue;
		dgt = (uint64_t)hex_val(t[i]);
		if (mag > (UINT64_MAX - dgt) / (uint64_t)base)
			return perr_at(ps, start, "integer out of range");
		mag = mag * (uint64_t)base + dgt;
	}
	if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
		return perr_at(ps, start, "integer out of range");
	v->type = TOML_INTEGER;
	v->u.i = !neg ? (int64_t)mag : mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	ps->pos = end;
	return 0;
}

static int match_word(struct parser *ps, const char *w)
{
	size_t n = strlen(w);

	if (ps->len - ps->pos < n || memcmp(ps->s + ps->pos, w, n) != 0)
		return 0;
	ps->pos += n;
	return 1;
}

static int parse_value(struct parser *ps, unsigned depth, struct toml_value *v)
{
	int c = peek(ps), r;

	memset(v, 0, sizeof(*v));
	v->line = ps->line;
	v->col = cur_col(ps);
	switch (c) {
	case '"':
	case '\'':
		v->type = TOML_STRING;
		if (peek_at(ps, 1) == c && peek_at(ps, 2) == c)
			r = parse_multiline(ps, c == '"', &v->u.s.ptr, &v->u.s.len);
		else if (c == '"')
			r = parse_basic(ps, &v->u.s.ptr, &v->u.s.len);
		else
			r = parse_literal(ps, &v->u.s.ptr, &v->u.s.len);
		return r;
	case 't':
	case 'f':
		v->type = TOML_BOOL;
		v->u.b = c == 't';
		if (!match_word(ps, c == 't' ? "true" : "false"))
			return perr(ps, "invalid value");
		return 0;
	case '[':
		return parse_array(ps, depth, v);
	case '{':
		return parse_inline_table(ps, depth, v);
	case 'i':
	case 'n':
	case '+':
	case '-':
		return parse_number(ps, v);
	default:
		if (!is_digit(c))
			return perr(ps, "expected a value");
		if ((is_digit(peek_at(ps, 1)) && peek_at(ps, 2) == ':') ||
		    (is_digit(peek_at(ps, 1)) && is_digit(peek_at(ps, 2)) &&
		     is_digit(peek_at(ps, 3)) && peek_at(ps, 4) == '-'))
			return parse_datetime(ps, v);
		return parse_number(ps, v);
	}
}

/* [a.b] or [[a.b]] at pos. */
static int parse_header(struct parser *ps)
{
	struct keypart parts[LIMIT_NESTING];
	struct toml_table *t = ps->doc->root, *nt;
	struct toml_value tv;
	struct toml_kv *kv;
	uint32_t hline = ps->line, hcol = cur_col(ps);
	size_t n, i;
	int aot = 0, r;

	ps->pos++;
	if (peek(ps) == '[') {
		aot = 1;
		ps->pos++;
	}
	skip_ws(ps);
	if ((r = parse_key(ps, parts, &n)) != 0)
		return r;
	if (peek(ps) != ']' || (aot && peek_at(ps, 1) != ']'))
		return perr(ps, aot ? "expected ']]' after a table name"
				    : "expected ']' after a table name");
	ps->pos += aot ? 2 : 1;

	for (i = 0; i + 1 < n; i++) {
		kv = tab_find(t, parts[i].k, parts[i].len);
		if (kv == NULL) {
			if ((r = add_subtable(ps, t, &parts[i], TOML_TABLE_IMPLICIT, &nt)) != 0)
				return r;
			t = nt;
		} else if (kv->val.type == TOML_TABLE && kv->val.u.t->kind != TOML_TABLE_INLINE) {
			t = kv->val.u.t;
		} else if (kv->val.type == TOML_ARRAY && kv->val.u.a->tables) {
			struct toml_array *a = kv->val.u.a;
			t = a->items[a->n - 1].u.t;
		} else {
			return dup_key(ps, &parts[i], "cannot add a table to");
		}
	}
	kv = tab_find(t, parts[n - 1].k, parts[n - 1].len);
	memset(&tv, 0, sizeof(tv));
	tv.line = hline;
	tv.col = hcol;
	if (!aot) {
		if (kv == NULL) {
			if ((r = toml_doc_new_table(ps->doc, TOML_TABLE_HEADER, t->depth + 1, hline,
						    hcol, &nt)) != 0)
				return r == ERR_TOO_LARGE ? too_deep(ps) : r;
			tv.type = TOML_TABLE;
			tv.u.t = nt;
			if ((r = tab_append(ps->doc, t, parts[n - 1].k, parts[n - 1].len,
					    parts[n - 1].line, parts[n - 1].col, &tv)) != 0)
				return r;
			ps->cur = nt;
			return 0;
		}
		if (kv->val.type == TOML_TABLE && kv->val.u.t->kind == TOML_TABLE_IMPLICIT) {
			kv->val.u.t->kind = TOML_TABLE_HEADER;
			ps->cur = kv->val.u.t;
			return 0;
		}
		return dup_key(ps, &parts[n - 1], "table defined twice:");
	}
	if (kv == NULL) {
		struct toml_array *a;
		if ((r = toml_doc_new_array(ps->doc, t->depth + 1, &a)) != 0)
			return r == ERR_TOO_LARGE ? too_deep(ps) : r;
		a->tables = 1;
		tv.type = TOML_ARRAY;
		tv.u.a = a;
		if ((r = tab_append(ps->doc, t, parts[n - 1].k, parts[n - 1].len,
				    parts[n - 1].line, parts[n - 1].col, &tv)) != 0)
			return r;
		kv = tab_find(t, parts[n - 1].k, parts[n - 1].len);
		if (kv == NULL)
			return ERR_INTERNAL;
	} else if (kv->val.type != TOML_ARRAY || !kv->val.u.a->tables) {
		return dup_key(ps, &parts[n - 1], "not an array of tables:");
	}
	if ((r = toml_doc_new_table(ps->doc, TOML_TABLE_HEADER, kv->val.u.a->depth + 1, hline,
				    hcol, &nt)) != 0)
		return r == ERR_TOO_LARGE ? too_deep(ps) : r;
	tv.type = TOML_TABLE;
	tv.u.t = nt;
	if ((r = toml_array_add(ps->doc, kv->val.u.a, &tv)) != 0)
		return r;
	ps->cur = nt;
	return 0;
}

int toml_parse(const uint8_t *text, size_t len, const char *name, unsigned flags,
	       struct toml_doc **out)
{
	struct parser ps;
	struct toml_doc *doc = NULL;
	int r, c;

	*out = NULL;
	memset(&ps, 0, sizeof(ps));
	ps.s = text;
	ps.len = len;
	ps.line = 1;
	ps.name = name != NULL ? name : "<input>";
	if (len > LIMIT_DEFINITION) {
		r = err_set(ERR_TOO_LARGE, "%s: larger than %d bytes", ps.name, LIMIT_DEFINITION);
		goto out;
	}
	if ((r = check_utf8(&ps)) != 0)
		goto out;
	if ((r = toml_doc_new(flags, &doc)) != 0)
		goto out;
	ps.doc = doc;
	ps.cur = doc->root;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		ps.pos = ps.line_start = 3;
	for (;;) {
		skip_ws(&ps);
		c = peek(&ps);
		if (c < 0)
			break;
		if (c == '#') {
			if ((r = skip_comment(&ps)) != 0)
				goto out;
			continue;
		}
		if (c == '\n' || c == '\r') {
			if ((r = eat_newline(&ps)) < 0)
				goto out;
			continue;
		}
		if (c == '[')
			r = parse_header(&ps);
		else
			r = parse_kv(&ps, ps.cur);
		if (r != 0 || (r = expect_eol(&ps)) != 0)
			goto out;
	}
	*out = doc;
	doc = NULL;
	r = 0;
out:
	if (r == ERR_ALLOC)
		err_set(ERR_ALLOC, "%s: out of memory", ps.name);
	toml_free(doc);
	return r;
}
