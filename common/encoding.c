// SPDX-License-Identifier: ISC
#include "encoding.h"

#include <string.h>

#include <openssl/crypto.h>

/*
 * Branch-free digit conversions (wireguard-tools encoding.c style): the
 * masks select the value without a data-dependent branch or table lookup.
 */

static char hex_digit(unsigned v, int upper)
{
	/* v < 10 ? '0' + v : 'a' + v - 10 */
	unsigned char a = upper ? 'A' : 'a';
	return (char)(v + '0' + (((9 - (int)v) >> 8) & (a - '0' - 10)));
}

static void hex_enc(const uint8_t *in, size_t len, char *out, int upper)
{
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex_digit(in[i] >> 4, upper);
		out[2 * i + 1] = hex_digit(in[i] & 0xf, upper);
	}
	out[2 * len] = '\0';
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	hex_enc(in, len, out, 0);
}

void hex_encode_upper(const uint8_t *in, size_t len, char *out)
{
	hex_enc(in, len, out, 1);
}

/* Value of a hex digit, or -1 (as an int with all bits set) if not one. */
static int hex_val(unsigned char c)
{
	int c_num = (int)c ^ 48, c_alpha = ((int)c & ~32) - 55;
	int num_ok = ((c_num - 10) >> 8) & 1;                                  /* c_num < 10 */
	int alpha_ok = (((c_alpha - 10) ^ (c_alpha - 16)) >> 8) & 1;          /* 10 <= x < 16 */
	int val = (c_num & -num_ok) | (c_alpha & -alpha_ok);

	return val | ((num_ok | alpha_ok) - 1);
}

int hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
	int bad = 0;
	size_t i;

	if (outlen > SIZE_MAX / 2 || inlen != 2 * outlen)
		return err_set(ERR_FORMAT, "expected %zu hex digits, got %zu", 2 * outlen, inlen);
	for (i = 0; i < outlen; i++) {
		int hi = hex_val((unsigned char)in[2 * i]), lo = hex_val((unsigned char)in[2 * i + 1]);
		bad |= hi | lo;
		out[i] = (uint8_t)(((unsigned)hi & 0xf) << 4 | ((unsigned)lo & 0xf));
	}
	if (bad < 0)
		return err_set(ERR_FORMAT, "not a hex digit");
	return 0;
}

size_t base64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

static char b64_char(unsigned v)
{
	/* A-Z 0..25, a-z 26..51, 0-9 52..61, + 62, / 63 */
	int x = (int)v;
	int r = x + 'A';
	r += ((25 - x) >> 8) & 6;         /* x >= 26: 'a' - 26 - 'A' = 6 */
	r -= ((51 - x) >> 8) & 75;        /* x >= 52: '0' - 52 - 'a' + 26 = -75 */
	r -= ((61 - x) >> 8) & 15;        /* x == 62: '+' - 62 - '0' + 52 = -15 */
	r += ((62 - x) >> 8) & 3;         /* x == 63: '/' - 63 - '+' + 62 = 3 */
	return (char)r;
}

static int b64_val(unsigned char c)
{
	int x = c, r = -1;
	/* each term is the value if c is in its range, else 0; ranges disjoint */
	r += (((('A' - 1) - x) & (x - ('Z' + 1))) >> 8) & (x - 'A' + 1);
	r += (((('a' - 1) - x) & (x - ('z' + 1))) >> 8) & (x - 'a' + 27);
	r += (((('0' - 1) - x) & (x - ('9' + 1))) >> 8) & (x - '0' + 53);
	r += ((('+' - 1 - x) & (x - ('+' + 1))) >> 8) & 63;
	r += ((('/' - 1 - x) & (x - ('/' + 1))) >> 8) & 64;
	return r;
}

void base64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_char(v >> 18);
		out[o++] = b64_char((v >> 12) & 63);
		out[o++] = b64_char((v >> 6) & 63);
		out[o++] = b64_char(v & 63);
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64_char(v >> 18);
		out[o++] = b64_char((v >> 12) & 63);
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64_char(v >> 18);
		out[o++] = b64_char((v >> 12) & 63);
		out[o++] = b64_char((v >> 6) & 63);
		out[o++] = '=';
	}
	out[o] = '\0';
}

int base64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen)
{
	size_t i, o = 0, pad = 0, need;
	int bad = 0;

	*outlen = 0;
	if (inlen % 4 != 0)
		return err_set(ERR_FORMAT, "base64 length is not a multiple of 4");
	if (inlen >= 1 && in[inlen - 1] == '=')
		pad++;
	if (inlen >= 2 && in[inlen - 2] == '=')
		pad++;
	need = inlen / 4 * 3 - pad;
	if (need > outcap)
		return err_set(ERR_TOO_LARGE, "base64 decodes to %zu bytes, room for %zu", need,
			       outcap);
	for (i = 0; i < inlen; i += 4) {
		int last = i + 4 == inlen;
		int a = b64_val((unsigned char)in[i]), b = b64_val((unsigned char)in[i + 1]);
		int c = last && pad == 2 ? 0 : b64_val((unsigned char)in[i + 2]);
		int d = last && pad >= 1 ? 0 : b64_val((unsigned char)in[i + 3]);
		uint32_t v;

		bad |= a | b | c | d;
		v = (uint32_t)(a & 63) << 18 | (uint32_t)(b & 63) << 12 | (uint32_t)(c & 63) << 6 |
		    (uint32_t)(d & 63);
		out[o++] = (uint8_t)(v >> 16);
		if (!(last && pad == 2))
			out[o++] = (uint8_t)(v >> 8);
		if (!(last && pad >= 1))
			out[o++] = (uint8_t)v;
		/* Non-canonical: bits under the padding must be zero. */
		if (last && pad == 2 && (b & 15) != 0)
			bad = -1;
		if (last && pad == 1 && (c & 3) != 0)
			bad = -1;
	}
	if (bad < 0) {
		OPENSSL_cleanse(out, o);
		return err_set(ERR_FORMAT, "not valid base64");
	}
	*outlen = o;
	return 0;
}

void identity_format(const uint8_t id[static IDENTITY_LEN], char *out)
{
	char hex[IDENTITY_LEN * 2 + 1];
	size_t i, o = 0;

	hex_encode_upper(id, IDENTITY_LEN, hex);
	for (i = 0; i < IDENTITY_LEN * 2; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = '-';
		out[o++] = hex[i];
	}
	out[o] = '\0';
}

int identity_parse(const char *s, uint8_t id[static IDENTITY_LEN])
{
	char hex[IDENTITY_LEN * 2];
	size_t i, h = 0;

	if (strncmp(s, "sha256:", 7) == 0) {
		if (strlen(s + 7) != IDENTITY_LEN * 2 ||
		    hex_decode(s + 7, IDENTITY_LEN * 2, id, IDENTITY_LEN) != 0)
			return err_set(ERR_FORMAT, "identity: \"sha256:\" takes 64 hex digits");
		return 0;
	}
	if (strlen(s) != IDENTITY_TEXT_LEN)
		return err_set(ERR_FORMAT, "a client identity is 64 hex digits in groups of four "
					   "joined by '-', or sha256:<64 hex>");
	for (i = 0; i < IDENTITY_TEXT_LEN; i++) {
		if (i % 5 == 4) {
			if (s[i] != '-')
				return err_set(ERR_FORMAT, "identity: expected '-' at position %zu",
					       i + 1);
			continue;
		}
		hex[h++] = s[i];
	}
	if (hex_decode(hex, sizeof(hex), id, IDENTITY_LEN) != 0)
		return err_set(ERR_FORMAT, "identity: not a hex digit");
	return 0;
}
