// SPDX-License-Identifier: ISC
#include "sealed.h"

#include <string.h>

#include <openssl/rand.h>

#include "bounds.h"
#include "buf.h"
#include "hsm.h"
#include "log.h"
#include "noise.h"
#include "oneway.h"
#include "secmem.h"

#define SEALED_PROLOGUE "coffer-sealed/1"
#define SEALED_PROLOGUE_LEN (sizeof(SEALED_PROLOGUE) - 1)
#define SEALED_DATA_KEY_LEN 32

static const uint8_t zero_nonce[12];

int sealed_parse(const uint8_t *data, size_t len, struct sealed_file *out)
{
	struct buf *b;
	const uint8_t *magic, *companion, *entries, *ct;
	uint8_t version, format;
	uint16_t count;
	uint64_t ctlen;
	int r;

	memset(out, 0, sizeof(*out));
	if ((b = buf_from(data, len)) == NULL)
		return ERR_ALLOC;
	if ((r = buf_get_direct(b, &magic, SEALED_MAGIC_LEN)) != 0 ||
	    (r = buf_get_u8(b, &version)) != 0 || (r = buf_get_u8(b, &format)) != 0)
		goto out;
	if (memcmp(magic, SEALED_MAGIC, SEALED_MAGIC_LEN) != 0) {
		r = err_set(ERR_FORMAT, "not a sealed coffer file (bad magic)");
		goto out;
	}
	if (version != SEALED_VERSION) {
		r = err_set(ERR_UNSUPPORTED, "sealed file version %u (this build reads %d)",
			    version, SEALED_VERSION);
		goto out;
	}
	if (format != SEALED_FORMAT_TOML && format != SEALED_FORMAT_YAML) {
		r = err_set(ERR_FORMAT, "sealed file: unknown definition format %u", format);
		goto out;
	}
	if ((r = buf_get_direct(b, &companion, P256_POINT_LEN)) != 0 ||
	    (r = buf_get_u16(b, &count)) != 0)
		goto out;
	if ((r = pkey_check_point(companion, P256_POINT_LEN)) != 0) {
		r = err_wrap(r, "sealed file: companion key");
		goto out;
	}
	if (count == 0 || count > LIMIT_RECIPIENTS) {
		r = err_set(count == 0 ? ERR_FORMAT : ERR_TOO_LARGE,
			    "sealed file names %u recipients (1 to %d allowed)", count,
			    LIMIT_RECIPIENTS);
		goto out;
	}
	if ((r = buf_get_direct(b, &entries, (size_t)count * SEALED_ENTRY_LEN)) != 0)
		goto out;
	out->header_len = len - buf_len(b);
	if ((r = buf_get_u64(b, &ctlen)) != 0)
		goto out;
	/* Cap before availability. */
	if (ctlen > LIMIT_DEFINITION) {
		r = err_set(ERR_TOO_LARGE, "sealed definition of %llu bytes (at most %d)",
			    (unsigned long long)ctlen, LIMIT_DEFINITION);
		goto out;
	}
	if ((r = buf_get_direct(b, &ct, (size_t)ctlen + SEALED_TAG_LEN)) != 0)
		goto out;
	if ((r = buf_expect_end(b)) != 0) {
		r = err_set(r, "sealed file: %zu bytes after the end", buf_len(b));
		goto out;
	}
	out->version = version;
	out->format = (enum sealed_format)format;
	out->companion = companion;
	out->count = count;
	out->entries = entries;
	out->header = data;
	out->ciphertext = ct;
	out->ciphertext_len = (size_t)ctlen;
	r = 0;
out:
	if (r == ERR_INCOMPLETE)
		r = err_set(ERR_INCOMPLETE, "sealed file is truncated");
	buf_free(b);
	return r;
}

const uint8_t *sealed_recipient(const struct sealed_file *f, size_t i)
{
	if (i >= f->count)
		fatal("sealed_recipient: index %zu of %u", i, f->count);
	return f->entries + i * SEALED_ENTRY_LEN;
}

static void prologue(uint8_t out[static SEALED_PROLOGUE_LEN + SHA256_LEN],
		     const uint8_t recipient[static SHA256_LEN])
{
	memcpy(out, SEALED_PROLOGUE, SEALED_PROLOGUE_LEN);
	memcpy(out + SEALED_PROLOGUE_LEN, recipient, SHA256_LEN);
}

/* One K message from the companion to a recipient carrying the data key. */
static int wrap(const struct oneway_key *companion, EVP_PKEY *recipient,
		const uint8_t key[static SEALED_DATA_KEY_LEN], struct buf *out)
{
	uint8_t rpt[P256_POINT_LEN], id[SHA256_LEN], pro[SEALED_PROLOGUE_LEN + SHA256_LEN];
	size_t before = buf_len(out);
	int r;

	if ((r = pkey_to_point(recipient, rpt)) != 0 || (r = pkey_identity(recipient, id)) != 0)
		return err_wrap(r, "recipient key");
	prologue(pro, id);
	if ((r = buf_put(out, id, sizeof(id))) != 0 ||
	    (r = oneway_seal(companion, rpt, pro, sizeof(pro), key, SEALED_DATA_KEY_LEN, NULL,
			     out)) != 0)
		return r;
	if (buf_len(out) - before != SEALED_ENTRY_LEN)
		return err_set(ERR_INTERNAL, "wrapped key of %zu bytes", buf_len(out) - before);
	return 0;
}

int sealed_seal(struct hsm_key *companion, EVP_PKEY *const *recipients, size_t nrecipients,
		enum sealed_format format, const uint8_t *text, size_t len, struct buf *out)
{
	uint8_t *key = NULL, *ct = NULL;
	uint8_t cpt[P256_POINT_LEN];
	struct oneway_key ck = {.dh = hsm_dh_callback, .dh_ctx = companion, .pub = cpt};
	struct buf *hdr = NULL;
	size_t i, j;
	int r;

	if (nrecipients == 0 || nrecipients > LIMIT_RECIPIENTS)
		return err_set(ERR_INVALID_ARG, "a sealed file needs 1 to %d recipients",
			       LIMIT_RECIPIENTS);
	if (len > LIMIT_DEFINITION)
		return err_set(ERR_TOO_LARGE, "definition of %zu bytes (at most %d)", len,
			       LIMIT_DEFINITION);
	for (i = 0; i < nrecipients; i++) {
		uint8_t a[SHA256_LEN], b[SHA256_LEN];
		if ((r = pkey_identity(recipients[i], a)) != 0)
			return r;
		for (j = 0; j < i; j++) {
			if ((r = pkey_identity(recipients[j], b)) != 0)
				return r;
			if (memcmp(a, b, sizeof(a)) == 0)
				return err_set(ERR_INVALID_ARG, "recipient %zu is named twice",
					       i + 1);
		}
	}
	if ((r = hsm_key_point(companion, cpt)) != 0)
		goto out;
	if ((key = secmem_alloc(SEALED_DATA_KEY_LEN)) == NULL || (hdr = buf_new(0)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	if (RAND_priv_bytes(key, SEALED_DATA_KEY_LEN) != 1) {
		r = err_crypto("random data key");
		goto out;
	}
	if ((r = buf_put(hdr, SEALED_MAGIC, SEALED_MAGIC_LEN)) != 0 ||
	    (r = buf_put_u8(hdr, SEALED_VERSION)) != 0 ||
	    (r = buf_put_u8(hdr, (uint8_t)format)) != 0 ||
	    (r = buf_put(hdr, cpt, sizeof(cpt))) != 0 ||
	    (r = buf_put_u16(hdr, (uint16_t)nrecipients)) != 0)
		goto out;
	for (i = 0; i < nrecipients; i++)
		if ((r = wrap(&ck, recipients[i], key, hdr)) != 0)
			goto out;
	if ((r = buf_put(out, buf_ptr(hdr), buf_len(hdr))) != 0 ||
	    (r = buf_put_u64(out, (uint64_t)len)) != 0 ||
	    (r = buf_reserve(out, len + SEALED_TAG_LEN, &ct)) != 0)
		goto out;
	r = noise_aead_seal(NOISE_CIPHER_AESGCM, key, zero_nonce, buf_ptr(hdr), buf_len(hdr),
			    text, len, ct);
out:
	secmem_free(key);
	buf_free(hdr);
	return r;
}

/* Open entry `e` with the appliance key: the data key into key. */
static int unwrap(const struct sealed_file *f, const uint8_t *e, struct hsm_key *hk,
		  const uint8_t *own_point, uint8_t key[static SEALED_DATA_KEY_LEN])
{
	uint8_t pro[SEALED_PROLOGUE_LEN + SHA256_LEN];
	struct oneway_key own = {.dh = hsm_dh_callback, .dh_ctx = hk, .pub = own_point};
	struct buf *payload;
	int r;

	prologue(pro, e);
	if ((payload = buf_new(64)) == NULL)
		return ERR_ALLOC;
	if ((r = oneway_open(&own, f->companion, pro, sizeof(pro), e + SHA256_LEN,
			     SEALED_WRAPPED_LEN, payload)) != 0) {
		if (r == ERR_AUTH)
			r = err_set(ERR_AUTH, "the wrapped data key does not open with this "
					      "appliance's key (tampered, or another companion)");
		goto out;
	}
	if (buf_len(payload) != SEALED_DATA_KEY_LEN) {
		r = err_set(ERR_FORMAT, "wrapped data key of %zu bytes", buf_len(payload));
		goto out;
	}
	memcpy(key, buf_ptr(payload), SEALED_DATA_KEY_LEN);
	r = 0;
out:
	buf_free(payload);
	return r;
}

int sealed_open(const uint8_t *data, size_t len, struct hsm_key *hk,
		EVP_PKEY *const *companions, size_t ncompanions, uint8_t **textp, size_t *textlen,
		enum sealed_format *format, size_t *companion_index)
{
	struct sealed_file f;
	uint8_t own[P256_POINT_LEN], own_id[SHA256_LEN], cid[SHA256_LEN];
	uint8_t *key = NULL, *text = NULL;
	EVP_PKEY *ownpub = NULL;
	const uint8_t *entry = NULL;
	size_t i, ci = SIZE_MAX;
	int r;

	*textp = NULL;
	*textlen = 0;
	if ((r = sealed_parse(data, len, &f)) != 0)
		return r;
	if ((r = hsm_key_point(hk, own)) != 0 || (r = hsm_key_public(hk, &ownpub)) != 0 ||
	    (r = pkey_identity(ownpub, own_id)) != 0)
		goto out;
	for (i = 0; i < ncompanions; i++) {
		uint8_t pt[P256_POINT_LEN];
		if (!pkey_is_p256(companions[i]))
			continue;
		if ((r = pkey_to_point(companions[i], pt)) != 0)
			goto out;
		if (memcmp(pt, f.companion, P256_POINT_LEN) == 0) {
			ci = i;
			break;
		}
	}
	if (ci == SIZE_MAX) {
		r = err_set(ERR_PERMISSION,
			    "sealed by a companion key that is not in the signed bundle");
		goto out;
	}
	if ((r = pkey_identity(companions[ci], cid)) != 0)
		goto out;
	for (i = 0; i < f.count; i++) {
		if (memcmp(sealed_recipient(&f, i), cid, SHA256_LEN) == 0) {
			r = err_set(ERR_PERMISSION,
				    "sealed by an appliance key (a companion must not be a recipient)");
			goto out;
		}
		if (memcmp(sealed_recipient(&f, i), own_id, SHA256_LEN) == 0)
			entry = sealed_recipient(&f, i);
	}
	if (entry == NULL) {
		char fpr[PKEY_FPR_TEXT_LEN + 1];
		if (pkey_fingerprint(ownpub, fpr) != 0)
			fpr[0] = '\0';
		r = err_set(ERR_NOT_FOUND, "coffer.sealed is not sealed to this appliance (%s)",
			    fpr);
		goto out;
	}
	if ((key = secmem_alloc(SEALED_DATA_KEY_LEN)) == NULL ||
	    (text = secmem_alloc(f.ciphertext_len)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	if ((r = unwrap(&f, entry, hk, own, key)) != 0)
		goto out;
	if ((r = noise_aead_open(NOISE_CIPHER_AESGCM, key, zero_nonce, f.header, f.header_len,
				 f.ciphertext, f.ciphertext_len + SEALED_TAG_LEN, text)) != 0) {
		r = err_set(ERR_AUTH, "the sealed definition does not authenticate (tampered)");
		goto out;
	}
	*textp = text;
	text = NULL;
	*textlen = f.ciphertext_len;
	if (format != NULL)
		*format = f.format;
	if (companion_index != NULL)
		*companion_index = ci;
	r = 0;
out:
	EVP_PKEY_free(ownpub);
	secmem_free(key);
	secmem_free(text);
	return r;
}
