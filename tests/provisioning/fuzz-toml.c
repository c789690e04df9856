// SPDX-License-Identifier: ISC
/* libFuzzer target: the TOML reader, then a walk over the whole tree. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const struct toml_value *v, unsigned depth)
{
	size_t n = 1, i;

	if (depth > 1000)
		__builtin_trap();
	if (v->type == TOML_TABLE) {
		const struct toml_table *t = v->u.t;
		for (i = 0; i < toml_table_count(t); i++) {
			const struct toml_kv *kv = toml_table_at(t, i);
			/* Every entry is found again through the index. */
			if (toml_table_get(t, kv->key, kv->key_len) != kv)
				__builtin_trap();
			n += walk(&kv->val, depth + 1);
		}
	} else if (v->type == TOML_ARRAY) {
		for (i = 0; i < toml_array_count(v->u.a); i++)
			n += walk(toml_array_at(v->u.a, i), depth + 1);
	} else if (v->type != TOML_INTEGER && v->type != TOML_FLOAT && v->type != TOML_BOOL) {
		if (v->u.s.ptr[v->u.s.len] != '\0')
			__builtin_trap();
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
	(void)walk(&root, 0);
	toml_free(doc);
	return 0;
}
