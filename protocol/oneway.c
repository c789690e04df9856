// SPDX-License-Identifier: ISC
#include "oneway.h"

#include "buf.h"
#include "log.h"

#include <string.h>

static const struct noise_proto k_proto = {
	NOISE_PATTERN_K, NOISE_DH_P256, NOISE_CIPHER_AESGCM, NOISE_HASH_SHA256,
};

int oneway_seal(const struct oneway_key *sender, const uint8_t recipient_pub[static 65],
		const uint8_t *prologue, size_t prologue_len, const uint8_t *payload, size_t len,
		const uint8_t *test_ephemeral, struct buf *out)
{
	struct noise_key s;
	struct noise_hs *hs = NULL;
	int r;

	memset(&s, 0, sizeof(s));
	if (len > ONEWAY_MAX_PAYLOAD)
		return err_set(ERR_TOO_LARGE, "one-way payload of %zu bytes exceeds %d", len,
			       ONEWAY_MAX_PAYLOAD);
	if ((r = noise_key_from_callback(&s, NOISE_DH_P256, sender->pub, sender->dh,
					 sender->dh_ctx)) != 0 ||
	    (r = noise_hs_new(&k_proto, 1, prologue, prologue_len, &s, recipient_pub, &hs)) != 0)
		goto out;
	if (test_ephemeral != NULL && (r = noise_hs_set_ephemeral(hs, test_ephemeral, 32)) != 0)
		goto out;
	if ((r = noise_hs_write(hs, payload, len, out)) != 0)
		goto out;
out:
	noise_hs_free(hs);
	noise_key_clear(&s);
	return r;
}

int oneway_open(const struct oneway_key *recipient, const uint8_t sender_pub[static 65],
		const uint8_t *prologue, size_t prologue_len, const uint8_t *msg, size_t len,
		struct buf *out)
{
	struct noise_key s;
	struct noise_hs *hs = NULL;
	int r;

	memset(&s, 0, sizeof(s));
	if (len < ONEWAY_OVERHEAD)
		return err_set(ERR_FORMAT, "one-way message of %zu bytes is too short", len);
	if ((r = noise_key_from_callback(&s, NOISE_DH_P256, recipient->pub, recipient->dh,
					 recipient->dh_ctx)) != 0 ||
	    (r = noise_hs_new(&k_proto, 0, prologue, prologue_len, &s, sender_pub, &hs)) != 0)
		goto out;
	if ((r = noise_hs_read(hs, msg, len, out)) != 0)
		r = err_wrap(r, "open one-way message");
out:
	noise_hs_free(hs);
	noise_key_clear(&s);
	return r;
}
