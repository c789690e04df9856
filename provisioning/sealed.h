// SPDX-License-Identifier: ISC
#ifndef COFFER_SEALED_H
#define COFFER_SEALED_H

/*
 * coffer.sealed: a definition encrypted under a random data key, the data key
 * wrapped once per recipient appliance with a Noise_K_P256_AESGCM_SHA256
 * message from the companion's static key. The byte layout is in
 * docs/formats.md.
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"
#include "pkey.h"

struct buf;
struct hsm_key;

#define SEALED_MAGIC "COFSEAL1"
#define SEALED_MAGIC_LEN 8
#define SEALED_VERSION 1
#define SEALED_WRAPPED_LEN (P256_POINT_LEN + 32 + 16) /* e, enc(data key) */
#define SEALED_ENTRY_LEN (SHA256_LEN + SEALED_WRAPPED_LEN)
#define SEALED_TAG_LEN 16

enum sealed_format {
	SEALED_FORMAT_TOML = 1,
	SEALED_FORMAT_YAML = 2,
};

/* A parsed sealed file: pointers into the caller's bytes (no copies). */
struct sealed_file {
	uint8_t version;
	enum sealed_format format;
	const uint8_t *companion;  /* 65-byte point, validated */
	uint16_t count;            /* recipients, 1..LIMIT_RECIPIENTS */
	const uint8_t *entries;    /* count * SEALED_ENTRY_LEN bytes */
	const uint8_t *header;     /* the associated data of the body */
	size_t header_len;
	const uint8_t *ciphertext; /* ciphertext || tag */
	size_t ciphertext_len;     /* without the tag */
};

/*
 * Parse and bounds-check the layout of a sealed file (no cryptography):
 * ERR_FORMAT (bad magic, version, format, point), ERR_TOO_LARGE (count or
 * length beyond the caps), ERR_INCOMPLETE (truncated), ERR_TRAILING_DATA.
 */
int sealed_parse(const uint8_t *data, size_t len, struct sealed_file *out) WARN_UNUSED;

/* The recipient hash of entry i (SHA-256 of its SPKI). */
const uint8_t *sealed_recipient(const struct sealed_file *f, size_t i);

/*
 * Seal `text` (the definition, already validated by the caller) from the
 * companion key to each recipient public key; the file is appended to out.
 */
int sealed_seal(struct hsm_key *companion, EVP_PKEY *const *recipients, size_t nrecipients,
		enum sealed_format format, const uint8_t *text, size_t len, struct buf *out)
	WARN_UNUSED;

/*
 * Open a sealed file as the appliance holding `key` (its DHs run in the
 * token): the companion must be one of `companions` and not a recipient.
 * On success *text is the definition in secure memory (free with
 * secmem_free), *len its length, *format its format, and *companion_index
 * which companion sealed it. ERR_NOT_FOUND: not sealed to this appliance;
 * ERR_PERMISSION: companion not allowed; ERR_AUTH: tampered or wrong key.
 */
int sealed_open(const uint8_t *data, size_t len, struct hsm_key *key,
		EVP_PKEY *const *companions, size_t ncompanions, uint8_t **text, size_t *textlen,
		enum sealed_format *format, size_t *companion_index) WARN_UNUSED;

#endif
