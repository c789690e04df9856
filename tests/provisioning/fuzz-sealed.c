// SPDX-License-Identifier: ISC
/*
 * libFuzzer target: coffer.sealed as the appliance loads it. The layout
 * parser first (everything it hands out lies inside the input), then
 * sealed_open with a fixed appliance key and two allowed companions
 * (companion check, recipient search, the Noise K unwrap of the data key,
 * the body's AEAD), then the opened definition's parser, as state_load does;
 * what opens is sealed again and must open to the same text.
 * The seeds made by `fuzz-sealed --seeds DIR` are sealed with those keys, so
 * mutations of their headers reach the cryptography and the definition.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "definition.h"
#include "encoding.h"
#include "fuzz.h"
#include "hsm.h"
#include "log.h"
#include "noise.h"
#include "sealed.h"
#include "secmem.h"

/* Private scalars: the appliance (recipient), two companions, another appliance. */
static const char *const key_hex[] = {
	"1f4d33a6c7a2b0b5e4b3c8d0f2a1e9c7b6d5a4f3e2d1c0b9a8f7e6d5c4b3a291",
	"c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0",
	"c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1",
	"a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2",
};
enum { KEY_APPLIANCE, KEY_COMPANION, KEY_COMPANION2, KEY_OTHER, KEYS };

static struct noise_key keys[KEYS];
static struct hsm_key *appliance;
static EVP_PKEY *pubs[KEYS];

static void setup(void)
{
	uint8_t s[32];
	size_t i;

	if (appliance != NULL)
		return;
	log_set_level(LOG_LEVEL_ERROR);
	for (i = 0; i < KEYS; i++) {
		FUZZ_ASSERT(hex_decode(key_hex[i], 64, s, sizeof(s)) == 0 &&
			    noise_key_from_private(&keys[i], NOISE_DH_P256, s, sizeof(s)) == 0 &&
			    pkey_from_point(keys[i].pub, P256_POINT_LEN, &pubs[i]) == 0);
	}
	FUZZ_ASSERT(hsm_key_from_pkey(keys[KEY_APPLIANCE].owned, &appliance) == 0);
}

/* What opens seals again, by the same companion, and opens to the same text. */
static void reseal(const uint8_t *text, size_t len, enum sealed_format format, size_t ci)
{
	EVP_PKEY *rcpt[1] = {pubs[KEY_APPLIANCE]};
	struct hsm_key *c = NULL;
	struct buf *out = buf_new(0);
	enum sealed_format format2;
	uint8_t *text2 = NULL;
	size_t len2 = 0, ci2 = 0;

	FUZZ_ASSERT(out != NULL && hsm_key_from_pkey(keys[KEY_COMPANION + ci].owned, &c) == 0);
	FUZZ_ASSERT(sealed_seal(c, rcpt, 1, format, text, len, out) == 0);
	FUZZ_ASSERT(sealed_open(buf_ptr(out), buf_len(out), appliance, &pubs[KEY_COMPANION], 2,
				&text2, &len2, &format2, &ci2) == 0);
	FUZZ_ASSERT(len2 == len && format2 == format && ci2 == ci &&
		    (len == 0 || memcmp(text, text2, len) == 0));
	secmem_free(text2);
	hsm_key_free(c);
	buf_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY *companions[2];
	struct definition *def = NULL;
	enum sealed_format format;
	struct sealed_file f;
	uint8_t *text = NULL;
	size_t i, len = 0, ci = 0;

	setup();
	companions[0] = pubs[KEY_COMPANION];
	companions[1] = pubs[KEY_COMPANION2];
	if (sealed_parse(data, size, &f) != 0)
		return 0;
	/* Everything a parse hands out must lie inside the input. */
	FUZZ_ASSERT(f.header == data && f.header_len <= size &&
		    f.ciphertext + f.ciphertext_len + SEALED_TAG_LEN == data + size);
	for (i = 0; i < f.count; i++)
		(void)sealed_recipient(&f, i)[0];
	if (sealed_open(data, size, appliance, companions, 2, &text, &len, &format, &ci) != 0)
		return 0;
	FUZZ_ASSERT(ci < 2 && len == f.ciphertext_len && format == f.format);
	reseal(text, len, format, ci);
	if (definition_parse(text, len, "coffer.sealed",
			     format == SEALED_FORMAT_YAML ? DEF_YAML : DEF_TOML, &def) == 0)
		definition_free(def);
	secmem_free(text);
	return 0;
}

static int seal(const char *dir, const char *name, int companion, const int *to, size_t nto,
		enum sealed_format format, const char *text)
{
	EVP_PKEY *rcpt[KEYS];
	struct hsm_key *c = NULL;
	struct buf *out = buf_new(0);
	size_t i;
	int r;

	FUZZ_ASSERT(out != NULL && hsm_key_from_pkey(keys[companion].owned, &c) == 0);
	for (i = 0; i < nto; i++)
		rcpt[i] = pubs[to[i]];
	if ((r = sealed_seal(c, rcpt, nto, format, (const uint8_t *)text, strlen(text), out)) == 0)
		r = fuzz_seed_write(dir, name, out);
	hsm_key_free(c);
	buf_free(out);
	return r;
}

int fuzz_seeds(const char *dir)
{
	static const char toml[] =
		"[clients]\n"
		"web = \"CA97-8112-CA1B-BDCA-FAC2-31B3-9A23-DC4D-A786-EFF8-147C-4E72-B980-7785-AFEE-48BB\"\n"
		"\n[web]\ndb_password = \"s3cr3t\"\nport = 5432\nrotated = 2026-11-01T12:00:00Z\n";
	static const char yaml[] =
		"clients:\n"
		"  web: CA97-8112-CA1B-BDCA-FAC2-31B3-9A23-DC4D-A786-EFF8-147C-4E72-B980-7785-AFEE-48BB\n"
		"web:\n  db_password: s3cr3t\n  ratio: 0.75\n";
	static const int to_us[] = {KEY_APPLIANCE}, to_fleet[] = {KEY_OTHER, KEY_APPLIANCE},
			 to_other[] = {KEY_OTHER}, to_companion[] = {KEY_APPLIANCE, KEY_COMPANION};
	int r = 0;

	setup();
	r |= seal(dir, "toml-to-us", KEY_COMPANION, to_us, 1, SEALED_FORMAT_TOML, toml);
	r |= seal(dir, "yaml-fleet", KEY_COMPANION2, to_fleet, 2, SEALED_FORMAT_YAML, yaml);
	r |= seal(dir, "not-to-us", KEY_COMPANION, to_other, 1, SEALED_FORMAT_TOML, toml);
	r |= seal(dir, "unknown-companion", KEY_OTHER, to_us, 1, SEALED_FORMAT_TOML, toml);
	r |= seal(dir, "companion-recipient", KEY_COMPANION, to_companion, 2, SEALED_FORMAT_TOML,
		  toml);
	r |= seal(dir, "bad-definition", KEY_COMPANION, to_us, 1, SEALED_FORMAT_TOML, "[web\n");
	return r;
}
