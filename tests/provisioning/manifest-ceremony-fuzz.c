// SPDX-License-Identifier: ISC
/* libFuzzer target: the ceremony log chain checker (a file an attacker may edit). */
#include "../../provisioning/ceremony.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t head[SHA256_LEN];
	size_t lines = 0;

	if (ceremony_check(data, size, &lines, head) == 0 && size > 0 && lines == 0)
		abort();
	return 0;
}
