// SPDX-License-Identifier: ISC
/* libFuzzer target: the YAML front end of the definition (tree only). */
#include <stddef.h>
#include <stdint.h>

#include "toml.h"
#include "yaml_def.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct toml_value *v, unsigned depth)
{
	size_t i;

	if (depth > 1000)
		__builtin_trap();
	if (v->type == TOML_TABLE) {
		for (i = 0; i < toml_table_count(v->u.t); i++)
			walk(&toml_table_at(v->u.t, i)->val, depth + 1);
	} else if (v->type == TOML_ARRAY) {
		for (i = 0; i < toml_array_count(v->u.a); i++)
			walk(toml_array_at(v->u.a, i), depth + 1);
	} else if (v->type != TOML_INTEGER && v->type != TOML_FLOAT && v->type != TOML_BOOL) {
		if (v->u.s.ptr[v->u.s.len] != '\0')
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_doc *doc = NULL;
	size_t i;

	if (yaml_def_parse(data, size, "fuzz", 0, &doc) != 0)
		return 0;
	for (i = 0; i < toml_table_count(toml_root(doc)); i++)
		walk(&toml_table_at(toml_root(doc), i)->val, 1);
	toml_free(doc);
	return 0;
}
