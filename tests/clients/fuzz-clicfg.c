// SPDX-License-Identifier: ISC
/* libFuzzer harness: the coffer-get YAML config parser. */
#include <stddef.h>
#include <stdint.h>

/* The production parser itself, so libFuzzer instruments it. */
#include "clicfg.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct clicfg *c = NULL;

	if (clicfg_parse(data, size, "fuzz.yaml", &c) == 0 && c == NULL)
		__builtin_trap();
	clicfg_free(c);
	return 0;
}
