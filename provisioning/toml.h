// SPDX-License-Identifier: ISC
#ifndef COFFER_TOML_H
#define COFFER_TOML_H

/*
 * TOML 1.0 reader: the whole language (tables, arrays of tables, dotted keys,
 * inline tables, arrays, every string form, integers in all bases, floats,
 * the four date/time types) into a tree. The input is validated as UTF-8
 * first; every failure is ERR_FORMAT (or ERR_TOO_LARGE for nesting beyond
 * LIMIT_NESTING, ERR_ALLOC) with the detail "NAME:LINE:COL: reason" (line
 * and column 1-based, column in bytes).
 *
 * All nodes and decoded bytes live in one arena owned by the document, wiped
 * when the document is freed. With TOML_SECMEM the arena chunks come from
 * secmem_alloc (mlocked, not dumped): use it when the text holds secrets.
 *
 * The same tree is what the YAML front end (yaml_def.c) builds, through the
 * builder functions at the end of this header.
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum toml_type {
	TOML_TABLE = 1,
	TOML_ARRAY,
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_DATETIME,       /* offset date-time, canonical RFC 3339 text */
	TOML_LOCAL_DATETIME, /* "1979-05-27T07:32:00[.frac]" */
	TOML_LOCAL_DATE,     /* "1979-05-27" */
	TOML_LOCAL_TIME,     /* "07:32:00[.frac]" */
};

/* How a table came to be (toml_table_kind). */
enum toml_table_kind {
	TOML_TABLE_IMPLICIT = 1, /* only named as a parent in a [a.b] header */
	TOML_TABLE_HEADER,       /* [header], [[array]] element, root, YAML mapping */
	TOML_TABLE_DOTTED,       /* created by a dotted key (a.b = 1) */
	TOML_TABLE_INLINE,       /* an inline table { ... } */
};

enum toml_flags {
	TOML_SECMEM = 1U << 0, /* arena in secure memory */
};

struct toml_doc;
struct toml_table;
struct toml_array;

struct toml_value {
	enum toml_type type;
	uint32_t line, col; /* where the value starts */
	union {
		struct {
			const char *ptr; /* NUL-terminated; strings may hold NUL bytes */
			size_t len;
		} s;                     /* strings and the date/time types */
		int64_t i;
		double f;
		int b;
		struct toml_table *t;
		struct toml_array *a;
	} u;
};

struct toml_kv {
	const char *key; /* NUL-terminated; may hold NUL bytes (quoted keys) */
	size_t key_len;
	uint32_t line, col; /* where the key starts */
	struct toml_value val;
};

/*
 * Parse len bytes of TOML. `name` (the file name, or NULL for "<input>")
 * prefixes error details. On success *out holds the document, freed by the
 * caller with toml_free(). Returns 0, ERR_FORMAT, ERR_TOO_LARGE or ERR_ALLOC.
 */
int toml_parse(const uint8_t *text, size_t len, const char *name, unsigned flags,
	       struct toml_doc **out) WARN_UNUSED;

/* Wipe and free the document and everything in it; NULL is fine. */
void toml_free(struct toml_doc *doc);

/* The root table; never NULL for a parsed document. */
const struct toml_table *toml_root(const struct toml_doc *doc);

/* Entries in definition order. */
size_t toml_table_count(const struct toml_table *t);
const struct toml_kv *toml_table_at(const struct toml_table *t, size_t i);
/* Lookup by key bytes, O(1) on average; NULL if absent. */
const struct toml_kv *toml_table_get(const struct toml_table *t, const char *key, size_t len);
enum toml_table_kind toml_table_kind(const struct toml_table *t);
/* Where the table was first named (header, key or opening brace). */
void toml_table_pos(const struct toml_table *t, uint32_t *line, uint32_t *col);

size_t toml_array_count(const struct toml_array *a);
const struct toml_value *toml_array_at(const struct toml_array *a, size_t i);
/* 1 for an array of tables ([[x]]), 0 for an array value. */
int toml_array_is_tables(const struct toml_array *a);

/* "table", "array", "string", "integer", "float", "bool", "datetime",
 * "datetime-local", "date-local", "time-local" (toml-test's names). */
const char *toml_type_name(enum toml_type t);

/*
 * Builder, for front ends other than the TOML text reader (YAML). The
 * document starts with an empty root table of kind TOML_TABLE_HEADER.
 */
int toml_doc_new(unsigned flags, struct toml_doc **out) WARN_UNUSED;
struct toml_table *toml_doc_root(struct toml_doc *doc);
/* Arena memory for n bytes (16-byte aligned, zeroed), or NULL. */
void *toml_doc_alloc(struct toml_doc *doc, size_t n);
/* A copy of len bytes plus a NUL in the arena, or NULL. */
char *toml_doc_strdup(struct toml_doc *doc, const void *p, size_t len);
/* A new empty table/array of the given kind, at depth under parent
 * (ERR_TOO_LARGE beyond LIMIT_NESTING), or ERR_ALLOC. */
int toml_doc_new_table(struct toml_doc *doc, enum toml_table_kind kind, unsigned depth,
		       uint32_t line, uint32_t col, struct toml_table **out) WARN_UNUSED;
int toml_doc_new_array(struct toml_doc *doc, unsigned depth, struct toml_array **out)
	WARN_UNUSED;
/*
 * Append key (copied) = *val to t. ERR_EXISTS if the key is there already
 * (nothing changed), ERR_ALLOC.
 */
int toml_table_add(struct toml_doc *doc, struct toml_table *t, const char *key, size_t key_len,
		   uint32_t line, uint32_t col, const struct toml_value *val) WARN_UNUSED;
int toml_array_add(struct toml_doc *doc, struct toml_array *a, const struct toml_value *val)
	WARN_UNUSED;
/*
 * If all of s[0..len) is a TOML date/time (offset or local date-time, local
 * date or local time; 'T', 't' or ' ' between date and time), fill *v with
 * its type and canonical text (in doc's arena; line/col untouched) and
 * return 0; else ERR_FORMAT (detail names the problem), ERR_ALLOC.
 */
int toml_datetime_parse(struct toml_doc *doc, const char *s, size_t len, struct toml_value *v)
	WARN_UNUSED;
/* Depth of a table (root 0). */
unsigned toml_table_depth(const struct toml_table *t);

#endif
