// SPDX-License-Identifier: ISC
#include "definition.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "bounds.h"
#include "buf.h"
#include "encoding.h"
#include "file.h"
#include "log.h"
#include "secmem.h"
#include "toml.h"
#include "yaml_def.h"

#define ALIGN16(n) (((n) + 15) & ~(size_t)15)

struct def_client {
	const char *name;
	uint8_t id[IDENTITY_LEN];
	const struct secret *items;
	size_t n;
};

struct definition {
	uint8_t *arena; /* secmem: clients, secrets, index, then all bytes */
	struct def_client *clients;
	size_t n, nsecrets;
	uint32_t *idx; /* client index + 1; 0 = empty */
	size_t idx_cap;
	uint64_t seed;
};

struct sizes {
	size_t clients, secrets, bytes;
};

static int refuse(const char *file, uint32_t line, uint32_t col, const char *fmt, ...)
	PRINTF_LIKE(4, 5);
static int refuse(const char *file, uint32_t line, uint32_t col, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(ERR_FORMAT, "%s:%u:%u: %s", file, line, col, msg);
}

/* A name for messages: escaped, at most 64 bytes. Names are not secret;
 * values never appear in messages. */
static const char *show(const char *s, size_t len, char *buf, size_t buflen)
{
	char tmp[80];
	size_t n = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;

	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return log_untrusted(buf, buflen, tmp, 64);
}

static int add_size(size_t *acc, size_t n)
{
	if (n == SIZE_MAX || *acc > SIZE_MAX - n - 1)
		return ERR_TOO_LARGE;
	*acc += n + 1;
	return 0;
}

static int check_name(const char *file, const struct toml_kv *kv, const char *what, size_t max)
{
	char shown[300];

	if (kv->key_len == 0)
		return refuse(file, kv->line, kv->col, "empty %s", what);
	if (kv->key_len > max)
		return refuse(file, kv->line, kv->col, "%s '%s...' is longer than %zu bytes", what,
			      show(kv->key, kv->key_len, shown, sizeof(shown)), max);
	if (memchr(kv->key, '\0', kv->key_len) != NULL)
		return refuse(file, kv->line, kv->col, "NUL byte in %s '%s'", what,
			      show(kv->key, strlen(kv->key), shown, sizeof(shown)));
	return 0;
}

static const char *not_scalar(const struct toml_value *v)
{
	if (v->type == TOML_ARRAY)
		return toml_array_is_tables(v->u.a) ? "arrays of tables are not allowed"
						    : "arrays are not allowed";
	if (v->type == TOML_TABLE)
		return toml_table_kind(v->u.t) == TOML_TABLE_INLINE ? "inline tables are not allowed"
								     : "nested tables are not allowed";
	return NULL;
}

/* The secrets of one client table: check and count. */
static int check_shard(const char *file, const struct toml_kv *ckv, struct sizes *sz)
{
	const struct toml_table *t = ckv->val.u.t;
	size_t i, n = toml_table_count(t);
	char shown[300], shown2[300];
	const char *why;
	int r;

	for (i = 0; i < n; i++) {
		const struct toml_kv *kv = toml_table_at(t, i);
		if ((r = check_name(file, kv, "key", LIMIT_KEY_NAME)) != 0)
			return r;
		if ((why = not_scalar(&kv->val)) != NULL)
			return refuse(file, kv->val.line, kv->val.col, "%s (key '%s' of client '%s')",
				      why, show(kv->key, kv->key_len, shown, sizeof(shown)),
				      show(ckv->key, ckv->key_len, shown2, sizeof(shown2)));
		if (kv->val.type == TOML_STRING && kv->val.u.s.len > LIMIT_VALUE)
			return refuse(file, kv->val.line, kv->val.col,
				      "value of '%s' is longer than %d bytes",
				      show(kv->key, kv->key_len, shown, sizeof(shown)), LIMIT_VALUE);
		if ((r = add_size(&sz->bytes, kv->key_len)) != 0)
			return r;
		if (kv->val.type != TOML_INTEGER && kv->val.type != TOML_FLOAT &&
		    kv->val.type != TOML_BOOL && (r = add_size(&sz->bytes, kv->val.u.s.len)) != 0)
			return r;
		sz->secrets++;
	}
	return 0;
}

/* The current entry's name, escaped for a message (only on error paths). */
#define SHOWN show(kv->key, kv->key_len, shown, sizeof(shown))

static int check_clients(const char *file, const struct toml_table *ct, struct sizes *sz)
{
	size_t i, n = toml_table_count(ct);
	char shown[300];
	uint8_t id[IDENTITY_LEN];
	int r;

	for (i = 0; i < n; i++) {
		const struct toml_kv *kv = toml_table_at(ct, i);
		const struct toml_value *v = &kv->val;
		if ((r = check_name(file, kv, "client name", LIMIT_CLIENT_NAME)) != 0)
			return r;
		if (kv->key_len == 7 && memcmp(kv->key, "clients", 7) == 0)
			return refuse(file, kv->line, kv->col, "client name 'clients' is reserved");
		if (v->type != TOML_STRING)
			return refuse(file, v->line, v->col,
				      "the identity of client '%s' must be a string, not %s", SHOWN,
				      toml_type_name(v->type));
		if (memchr(v->u.s.ptr, '\0', v->u.s.len) != NULL || identity_parse(v->u.s.ptr, id) != 0)
			return refuse(file, v->line, v->col,
				      "the identity of client '%s' is not in the full form "
				      "(64 hex digits in groups of four joined by '-', or "
				      "sha256:<64 hex>)",
				      SHOWN);
		if ((r = add_size(&sz->bytes, kv->key_len)) != 0)
			return r;
		sz->clients++;
	}
	return 0;
}

/* Every top-level entry: [clients] or a table of a listed client. */
static int check_root(const char *file, const struct toml_table *root,
		      const struct toml_table *ct, struct sizes *sz)
{
	size_t i, n = toml_table_count(root);
	char shown[300];
	const char *why;
	int r;

	for (i = 0; i < n; i++) {
		const struct toml_kv *kv = toml_table_at(root, i);
		if (kv->key_len == 7 && memcmp(kv->key, "clients", 7) == 0)
			continue;
		if (kv->val.type == TOML_ARRAY)
			return refuse(file, kv->val.line, kv->val.col, "%s ('%s')",
				      not_scalar(&kv->val), SHOWN);
		if (kv->val.type != TOML_TABLE)
			return refuse(file, kv->line, kv->col,
				      "'%s' is not in a client's table (only tables at the top level)",
				      SHOWN);
		if (toml_table_get(ct, kv->key, kv->key_len) == NULL)
			return refuse(file, kv->val.line, kv->val.col,
				      "table '%s' is not a client listed in [clients]", SHOWN);
		if ((why = not_scalar(&kv->val)) != NULL &&
		    toml_table_kind(kv->val.u.t) == TOML_TABLE_INLINE)
			return refuse(file, kv->val.line, kv->val.col, "%s (client '%s')", why,
				      SHOWN);
		if ((r = check_shard(file, kv, sz)) != 0)
			return r;
	}
	return 0;
}

static uint64_t id_hash(uint64_t seed, const uint8_t *id)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	h ^= seed;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static const struct def_client *index_find(const struct definition *def, const uint8_t *id)
{
	size_t mask = def->idx_cap - 1, i;

	for (i = (size_t)id_hash(def->seed, id) & mask; def->idx[i] != 0; i = (i + 1) & mask) {
		const struct def_client *c = &def->clients[def->idx[i] - 1];
		if (memcmp(c->id, id, IDENTITY_LEN) == 0)
			return c;
	}
	return NULL;
}

static void index_put(struct definition *def, size_t ci)
{
	size_t mask = def->idx_cap - 1, i;

	for (i = (size_t)id_hash(def->seed, def->clients[ci].id) & mask; def->idx[i] != 0;
	     i = (i + 1) & mask)
		;
	def->idx[i] = (uint32_t)(ci + 1);
}

static enum secret_type secret_type_of(enum toml_type t)
{
	switch (t) {
	case TOML_STRING: return SECRET_STRING;
	case TOML_INTEGER: return SECRET_INTEGER;
	case TOML_FLOAT: return SECRET_FLOAT;
	case TOML_BOOL: return SECRET_BOOL;
	case TOML_DATETIME: return SECRET_DATETIME;
	case TOML_LOCAL_DATETIME: return SECRET_LOCAL_DATETIME;
	case TOML_LOCAL_DATE: return SECRET_LOCAL_DATE;
	case TOML_LOCAL_TIME: return SECRET_LOCAL_TIME;
	default: break;
	}
	fatal("definition: not a scalar type %d", (int)t);
}

static char *put_bytes(char **sp, const char *s, size_t len)
{
	char *p = *sp;

	if (len > 0)
		memcpy(p, s, len);
	p[len] = '\0';
	*sp = p + len + 1;
	return p;
}

/* Build the model from a checked tree. */
static int build(const char *file, const struct toml_table *root, const struct toml_table *ct,
		 const struct sizes *sz, struct definition **out)
{
	struct definition *def = NULL;
	struct secret *secrets;
	size_t off_sec, off_idx, off_str, total, i, j, k = 0, cap = 16;
	char *sp, shown[300], shown2[300];
	int r;

	*out = NULL;
	while (cap < sz->clients * 2)
		cap *= 2;
	if (sz->clients >= UINT32_MAX || sz->secrets > SIZE_MAX / 2 / sizeof(struct secret) ||
	    sz->clients > SIZE_MAX / 2 / sizeof(struct def_client) || cap > SIZE_MAX / 8 ||
	    sz->bytes > SIZE_MAX / 4)
		return err_set(ERR_TOO_LARGE, "%s: definition too large", file);
	off_sec = ALIGN16(sz->clients * sizeof(struct def_client));
	off_idx = off_sec + ALIGN16(sz->secrets * sizeof(struct secret));
	off_str = off_idx + ALIGN16(cap * sizeof(uint32_t));
	total = off_str + sz->bytes;

	if ((def = calloc(1, sizeof(*def))) == NULL || (def->arena = secmem_alloc(total)) == NULL) {
		r = err_set(ERR_ALLOC, "%s: out of memory for the model", file);
		goto out;
	}
	if (RAND_bytes((unsigned char *)&def->seed, sizeof(def->seed)) != 1)
		def->seed = (uint64_t)(uintptr_t)def ^ 0x9e3779b97f4a7c15ULL;
	def->clients = (struct def_client *)def->arena;
	secrets = (struct secret *)(def->arena + off_sec);
	def->idx = (uint32_t *)(def->arena + off_idx);
	def->idx_cap = cap;
	sp = (char *)def->arena + off_str;

	for (i = 0; i < sz->clients; i++) {
		const struct toml_kv *kv = toml_table_at(ct, i);
		const struct toml_kv *tkv = toml_table_get(root, kv->key, kv->key_len);
		const struct def_client *other;
		struct def_client *c = &def->clients[i];

		c->name = put_bytes(&sp, kv->key, kv->key_len);
		if ((r = identity_parse(kv->val.u.s.ptr, c->id)) != 0)
			goto out;
		if ((other = index_find(def, c->id)) != NULL) {
			r = refuse(file, kv->val.line, kv->val.col,
				   "client '%s' has the same identity as client '%s'",
				   show(kv->key, kv->key_len, shown, sizeof(shown)),
				   show(other->name, strlen(other->name), shown2, sizeof(shown2)));
			goto out;
		}
		index_put(def, i);
		def->n = i + 1;
		c->items = secrets + k;
		if (tkv == NULL)
			continue;
		for (j = 0; j < toml_table_count(tkv->val.u.t); j++) {
			const struct toml_kv *e = toml_table_at(tkv->val.u.t, j);
			struct secret *s = &secrets[k++];
			s->key = put_bytes(&sp, e->key, e->key_len);
			s->key_len = e->key_len;
			s->type = secret_type_of(e->val.type);
			switch (e->val.type) {
			case TOML_INTEGER: s->v.i = e->val.u.i; break;
			case TOML_FLOAT: s->v.f = e->val.u.f; break;
			case TOML_BOOL: s->v.b = e->val.u.b; break;
			default:
				s->v.str.ptr = put_bytes(&sp, e->val.u.s.ptr, e->val.u.s.len);
				s->v.str.len = e->val.u.s.len;
				break;
			}
			c->n++;
		}
	}
	if (k != sz->secrets || (size_t)(sp - ((char *)def->arena + off_str)) != sz->bytes) {
		r = err_set(ERR_INTERNAL, "%s: model size mismatch", file);
		goto out;
	}
	def->nsecrets = k;
	*out = def;
	def = NULL;
	r = 0;
out:
	definition_free(def);
	return r;
}

static int from_tree(const char *file, const struct toml_doc *doc, struct definition **out)
{
	const struct toml_table *root = toml_root(doc), *ct;
	const struct toml_kv *ckv = toml_table_get(root, "clients", 7);
	struct sizes sz = {0, 0, 0};
	int r;

	if (ckv == NULL)
		return refuse(file, 1, 1, "no [clients] table");
	if (ckv->val.type != TOML_TABLE)
		return refuse(file, ckv->val.line, ckv->val.col, "[clients] must be a table, not %s",
			      toml_type_name(ckv->val.type));
	ct = ckv->val.u.t;
	if (toml_table_kind(ct) == TOML_TABLE_INLINE)
		return refuse(file, ckv->val.line, ckv->val.col,
			      "[clients] must be a table, not an inline table");
	if ((r = check_clients(file, ct, &sz)) != 0 || (r = check_root(file, root, ct, &sz)) != 0)
		return r;
	return build(file, root, ct, &sz, out);
}

enum definition_format definition_format_of(const char *filename)
{
	size_t n = filename != NULL ? strlen(filename) : 0;

	if ((n >= 5 && strcmp(filename + n - 5, ".yaml") == 0) ||
	    (n >= 4 && strcmp(filename + n - 4, ".yml") == 0))
		return DEF_YAML;
	return DEF_TOML;
}

int definition_parse(const uint8_t *text, size_t len, const char *filename,
		     enum definition_format fmt, struct definition **out)
{
	const char *file = filename != NULL ? filename : "<input>";
	struct toml_doc *doc = NULL;
	int r;

	*out = NULL;
	if (fmt == DEF_AUTO)
		fmt = definition_format_of(filename);
	if (fmt == DEF_YAML)
		r = yaml_def_parse(text, len, file, TOML_SECMEM, &doc);
	else if (fmt == DEF_TOML)
		r = toml_parse(text, len, file, TOML_SECMEM, &doc);
	else
		r = err_set(ERR_INVALID_ARG, "%s: unknown definition format %d", file, (int)fmt);
	if (r == 0)
		r = from_tree(file, doc, out);
	toml_free(doc);
	return r;
}

int definition_read_file(const char *path, enum definition_format fmt, struct definition **out)
{
	struct buf *b = NULL;
	int r;

	*out = NULL;
	if ((r = file_read_all(path, LIMIT_DEFINITION, &b)) != 0)
		return r;
	r = definition_parse(buf_ptr(b), buf_len(b), path, fmt, out);
	buf_free(b);
	return r;
}

void definition_free(struct definition *def)
{
	if (def == NULL)
		return;
	secmem_free(def->arena);
	secmem_zero(def, sizeof(*def));
	free(def);
}

size_t definition_client_count(const struct definition *def)
{
	return def->n;
}

size_t definition_secret_count(const struct definition *def)
{
	return def->nsecrets;
}

const struct def_client *definition_client_at(const struct definition *def, size_t i)
{
	return i < def->n ? &def->clients[i] : NULL;
}

const struct def_client *definition_find(const struct definition *def,
					 const uint8_t id[static IDENTITY_LEN])
{
	return index_find(def, id);
}

const char *def_client_name(const struct def_client *c)
{
	return c->name;
}

const uint8_t *def_client_id(const struct def_client *c)
{
	return c->id;
}

struct secret_list def_client_secrets(const struct def_client *c)
{
	struct secret_list l = {c->items, c->n};

	return l;
}
