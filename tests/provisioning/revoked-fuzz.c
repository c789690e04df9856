// SPDX-License-Identifier: ISC
/* libFuzzer target: revoked.json (untrusted JSON from the bundle). */
#include "../../provisioning/bundle.c"
#include "../../provisioning/revoked.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct revoked *rv = NULL, *again = NULL;
	struct buf *text = NULL;
	size_t i;

	if (revoked_parse(data, size, &rv) == 0) {
		/* Whatever parses is found by lookup and survives a write and a read. */
		for (i = 0; i < revoked_count(rv); i++)
			if (!revoked_contains(rv, revoked_id(rv, i)))
				abort();
		if ((text = buf_new(LIMIT_REVOKED_FILE)) == NULL || revoked_format(rv, text) != 0 ||
		    revoked_parse(buf_ptr(text), buf_len(text), &again) != 0 ||
		    revoked_count(again) != revoked_count(rv))
			abort();
		for (i = 0; i < revoked_count(rv); i++)
			if (memcmp(revoked_id(rv, i), revoked_id(again, i), IDENTITY_LEN) != 0)
				abort();
	}
	buf_free(text);
	revoked_free(again);
	revoked_free(rv);
	return 0;
}
