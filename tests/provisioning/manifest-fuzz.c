// SPDX-License-Identifier: ISC
/* libFuzzer target: the manifest reader (untrusted JSON from the bundle). */
#include "../../provisioning/bundle.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_manifest *m = NULL;
	size_t i;

	if (bundle_manifest_parse(data, size, &m) == 0) {
		/* Whatever parses obeys the rules the verifier relies on. */
		if (bundle_manifest_serial(m) < 1)
			abort();
		for (i = 0; i < bundle_manifest_count(m); i++) {
			const struct bundle_entry *e = bundle_manifest_entry(m, i);
			if (bundle_path_check(e->path, strlen(e->path)) != 0 ||
			    bundle_manifest_find(m, e->path) != e)
				abort();
			if (i > 0 && strcmp(bundle_manifest_entry(m, i - 1)->path, e->path) >= 0)
				abort();
		}
	}
	bundle_manifest_free(m);
	return 0;
}
