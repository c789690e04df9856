// SPDX-License-Identifier: ISC
/*
 * libFuzzer target: the whole definition path (front end, checks, model in
 * secure memory, lookup). The first byte picks TOML (even) or YAML (odd).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "definition.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct definition *def = NULL;
	size_t i, j;

	if (size < 1)
		return 0;
	if (definition_parse(data + 1, size - 1, "fuzz", (data[0] & 1) ? DEF_YAML : DEF_TOML,
			     &def) != 0)
		return 0;
	for (i = 0; i < definition_client_count(def); i++) {
		const struct def_client *c = definition_client_at(def, i);
		struct secret_list l = def_client_secrets(c);
		if (definition_find(def, def_client_id(c)) != c || strlen(def_client_name(c)) == 0)
			__builtin_trap();
		for (j = 0; j < l.n; j++)
			if (l.items[j].key_len == 0 || l.items[j].key[l.items[j].key_len] != '\0')
				__builtin_trap();
	}
	definition_free(def);
	return 0;
}
