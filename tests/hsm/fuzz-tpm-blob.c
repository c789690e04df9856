// SPDX-License-Identifier: ISC
/* Fuzz the TPM blob file parser (key and sealed-secret blobs). */
#include "../../hsm/hsm_tpm.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tpm_blob b;

	(void)blob_parse(data, size, "fuzz", BLOB_KIND_KEY, &b);
	(void)blob_parse(data, size, "fuzz", BLOB_KIND_SEALED, &b);
	return 0;
}
