// SPDX-License-Identifier: ISC
/* libFuzzer target: the sealed file's layout parser (untrusted bytes). */
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "sealed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sealed_file f;
	size_t i;

	log_set_level(LOG_LEVEL_ERROR);
	if (sealed_parse(data, size, &f) == 0) {
		/* Everything a parse hands out must lie inside the input. */
		if (f.header != data || f.header_len > size ||
		    f.ciphertext + f.ciphertext_len + SEALED_TAG_LEN != data + size)
			__builtin_trap();
		for (i = 0; i < f.count; i++)
			(void)sealed_recipient(&f, i)[0];
	}
	return 0;
}
