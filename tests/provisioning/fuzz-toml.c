// SPDX-License-Identifier: ISC
/*
 * libFuzzer target: the TOML reader, then a walk over the whole tree through
 * the API the definition code uses. Checked on the way: every entry is found
 * again through the index, tables sit at the depth the walk finds them within
 * the nesting limit, every value has a type name, strings are NUL-terminated,
 * and a date/time's canonical text reads back as itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bounds.h"
#include "fuzz.h"
#include "toml.h"

static int is_datetime(enum toml_type t)
{
	return t == TOML_DATETIME || t == TOML_LOCAL_DATETIME || t == TOML_LOCAL_DATE ||
	       t == TOML_LOCAL_TIME;
}

static size_t walk(struct toml_doc *doc, const struct toml_value *v, unsigned depth)
{
	struct toml_value again;
	uint32_t line, col;
	size_t n = 1, i;

	FUZZ_ASSERT(depth <= 2 * LIMIT_NESTING + 2);
	FUZZ_ASSERT(strcmp(toml_type_name(v->type), "unknown") != 0);
	if (v->type == TOML_TABLE) {
		const struct toml_table *t = v->u.t;
		FUZZ_ASSERT(toml_table_depth(t) <= LIMIT_NESTING);
		(void)toml_table_kind(t);
		toml_table_pos(t, &line, &col);
		for (i = 0; i < toml_table_count(t); i++) {
			const struct toml_kv *kv = toml_table_at(t, i);
			FUZZ_ASSERT(kv->key[kv->key_len] == '\0');
			/* Every entry is found again through the index. */
			FUZZ_ASSERT(toml_table_get(t, kv->key, kv->key_len) == kv);
			n += walk(doc, &kv->val, depth + 1);
		}
	} else if (v->type == TOML_ARRAY) {
		(void)toml_array_is_tables(v->u.a);
		for (i = 0; i < toml_array_count(v->u.a); i++)
			n += walk(doc, toml_array_at(v->u.a, i), depth + 1);
	} else if (v->type != TOML_INTEGER && v->type != TOML_FLOAT && v->type != TOML_BOOL) {
		FUZZ_ASSERT(v->u.s.ptr[v->u.s.len] == '\0');
		if (is_datetime(v->type)) {
			/* The canonical text of a date/time reads back as itself. */
			FUZZ_ASSERT(toml_datetime_parse(doc, v->u.s.ptr, v->u.s.len, &again) == 0);
			FUZZ_ASSERT(again.type == v->type && again.u.s.len == v->u.s.len &&
				    memcmp(again.u.s.ptr, v->u.s.ptr, v->u.s.len) == 0);
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_doc *doc = NULL;
	struct toml_value root;

	if (toml_parse(data, size, "fuzz", 0, &doc) != 0)
		return 0;
	memset(&root, 0, sizeof(root));
	root.type = TOML_TABLE;
	root.u.t = (struct toml_table *)toml_root(doc);
	(void)walk(doc, &root, 0);
	toml_free(doc);
	return 0;
}
