// SPDX-License-Identifier: ISC
/* libFuzzer harness for the YAML config parser (untrusted-ish: an operator's file). */
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg c;

	cfg_init(&c);
	if (cfg_parse_yaml(&c, data, size, "fuzz.yaml", NULL) == 0)
		if (cfg_validate(&c) != 0)
			err_clear();
	cfg_clear(&c);
	err_clear();
	return 0;
}
