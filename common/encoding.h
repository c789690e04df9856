// SPDX-License-Identifier: ISC
#ifndef COFFER_ENCODING_H
#define COFFER_ENCODING_H

/*
 * Text encodings of binary data, locale-free. Hex and base64 decoding run in
 * time independent of the (secret) digit values, as WireGuard's encoding.c.
 * Client identities are SHA-256 digests written as 64 upper-case hex digits
 * in groups of four joined by '-' ("7F3A-09C1-...", 79 characters).
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define IDENTITY_LEN 32                                /* SHA-256 */
#define IDENTITY_TEXT_LEN (IDENTITY_LEN * 2 + 15)       /* 64 digits, 15 dashes */

/* Lower-case hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Upper-case variant. */
void hex_encode_upper(const uint8_t *in, size_t len, char *out);
/*
 * Decode exactly 2*outlen hex digits (either case) from in[0..inlen).
 * ERR_FORMAT if inlen != 2*outlen or any character is not a hex digit.
 */
int hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen) WARN_UNUSED;

/* Length of the base64 text (with padding, without NUL) for len bytes. */
size_t base64_encoded_len(size_t len);
/* Standard base64 with padding into out (base64_encoded_len(len)+1 bytes). */
void base64_encode(const uint8_t *in, size_t len, char *out);
/*
 * Decode standard padded base64 into out (capacity outcap); *outlen gets the
 * byte count. ERR_FORMAT on bad characters or padding, ERR_TOO_LARGE if out
 * is too small.
 */
int base64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen)
	WARN_UNUSED;

/* "7F3A-09C1-..." for a 32-byte digest; out has IDENTITY_TEXT_LEN+1 bytes. */
void identity_format(const uint8_t id[static IDENTITY_LEN], char *out);
/*
 * Parse an identity (or key fingerprint: the same SHA-256 of the SPKI) in
 * either notation, either case: the grouped form "7F3A-09C1-..." (dashes
 * exactly every four digits) or "sha256:<64 hex>". Anything else, a
 * shortened identity included, is ERR_FORMAT.
 */
int identity_parse(const char *s, uint8_t id[static IDENTITY_LEN]) WARN_UNUSED;

#endif
