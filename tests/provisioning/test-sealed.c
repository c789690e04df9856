// SPDX-License-Identifier: ISC
/*
 * The sealed file with software keys (the token paths are in sealed.sh):
 * definition -> seal -> open -> the same model, for 1 and 3 recipients; every
 * single flipped bit of a sealed file is refused; a companion outside the
 * allowed list, or an appliance key posing as a companion, is refused; a
 * recipient not listed cannot open.
 */
#include "sealed.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "definition.h"
#include "hsm.h"
#include "log.h"
#include "secmem.h"
#include "unit.h"

static EVP_PKEY *companion, *appl[4];
static struct hsm_key *companion_key, *appl_key[4];
static char def_text[4096];

static void make_definition(void)
{
	uint8_t id1[IDENTITY_LEN], id2[IDENTITY_LEN];
	char t1[IDENTITY_TEXT_LEN + 1], t2[IDENTITY_TEXT_LEN + 1];
	EVP_PKEY *c1 = NULL, *c2 = NULL;

	if (pkey_generate_p256(&c1) != 0 || pkey_generate_p256(&c2) != 0 ||
	    pkey_identity(c1, id1) != 0 || pkey_identity(c2, id2) != 0)
		fatal("client keys");
	identity_format(id1, t1);
	identity_format(id2, t2);
	snprintf(def_text, sizeof(def_text),
		 "[clients]\nweb = \"%s\"\ndb = \"%s\"\n\n"
		 "[web]\npassword = \"p\\u00e4ss \\\"w\\\"\\n\"\nport = 5432\nratio = 0.75\n"
		 "tls = false\nat = 2026-11-01T12:00:00.5+02:00\nday = 2026-11-01\n"
		 "local = 2026-11-01T12:00:00\ntime = 12:00:00\n\n[db]\nroot = \"\"\n",
		 t1, t2);
	EVP_PKEY_free(c1);
	EVP_PKEY_free(c2);
}

static int same_model(const struct definition *a, const struct definition *b)
{
	size_t i, j;

	if (definition_client_count(a) != definition_client_count(b))
		return 0;
	for (i = 0; i < definition_client_count(a); i++) {
		const struct def_client *ca = definition_client_at(a, i);
		const struct def_client *cb = definition_find(b, def_client_id(ca));
		struct secret_list la, lb;
		if (cb == NULL || strcmp(def_client_name(ca), def_client_name(cb)) != 0)
			return 0;
		la = def_client_secrets(ca);
		lb = def_client_secrets(cb);
		if (la.n != lb.n)
			return 0;
		for (j = 0; j < la.n; j++) {
			const struct secret *x = &la.items[j], *y = &lb.items[j];
			if (strcmp(x->key, y->key) != 0 || x->type != y->type)
				return 0;
			switch (x->type) {
			case SECRET_INTEGER:
				if (x->v.i != y->v.i)
					return 0;
				break;
			case SECRET_FLOAT:
				if (memcmp(&x->v.f, &y->v.f, sizeof(double)) != 0)
					return 0;
				break;
			case SECRET_BOOL:
				if (x->v.b != y->v.b)
					return 0;
				break;
			default:
				if (x->v.str.len != y->v.str.len ||
				    memcmp(x->v.str.ptr, y->v.str.ptr, x->v.str.len) != 0)
					return 0;
			}
		}
	}
	return 1;
}

static int open_as(struct hsm_key *k, const struct buf *f, EVP_PKEY **allowed, size_t n,
		   struct definition **def)
{
	uint8_t *text = NULL;
	size_t len = 0, ci = 99;
	enum sealed_format fmt;
	int r;

	*def = NULL;
	r = sealed_open(buf_ptr(f), buf_len(f), k, allowed, n, &text, &len, &fmt, &ci);
	if (r != 0)
		return r;
	r = definition_parse(text, len, "sealed", fmt == SEALED_FORMAT_YAML ? DEF_YAML : DEF_TOML,
			     def);
	secmem_free(text);
	return r;
}

static void test_round_trip(void)
{
	struct definition *orig = NULL, *got = NULL;
	struct buf *f1 = buf_new(0), *f3 = buf_new(0);
	EVP_PKEY *allowed[2] = {companion, appl[3]};
	size_t i;

	TEST_START("round trip: 1 recipient, then 3, each opens the same model");
	ASSERT_INT_EQ(definition_parse((const uint8_t *)def_text, strlen(def_text), "def.toml",
				       DEF_TOML, &orig),
		      0);
	ASSERT_INT_EQ(sealed_seal(companion_key, appl, 1, SEALED_FORMAT_TOML,
				  (const uint8_t *)def_text, strlen(def_text), f1),
		      0);
	ASSERT_INT_EQ(open_as(appl_key[0], f1, allowed, 1, &got), 0);
	ASSERT_TRUE(got != NULL && same_model(orig, got));
	definition_free(got);
	ASSERT_INT_EQ(open_as(appl_key[1], f1, allowed, 1, &got), ERR_NOT_FOUND);
	ASSERT_INT_EQ(sealed_seal(companion_key, appl, 3, SEALED_FORMAT_TOML,
				  (const uint8_t *)def_text, strlen(def_text), f3),
		      0);
	for (i = 0; i < 3; i++) {
		ASSERT_INT_EQ(open_as(appl_key[i], f3, allowed, 1, &got), 0);
		ASSERT_TRUE(got != NULL && same_model(orig, got));
		definition_free(got);
	}
	ASSERT_INT_EQ(open_as(appl_key[3], f3, allowed, 1, &got), ERR_NOT_FOUND);
	ASSERT_TRUE(strstr(err_detail(), "not sealed to this appliance") != NULL);
	TEST_DONE();

	TEST_START("a flipped bit in any byte of a sealed file is refused");
	{
		struct buf *copy = buf_dup(buf_ptr(f1), buf_len(f1));
		uint8_t *p = buf_mutable_ptr(copy);
		size_t accepted = 0;
		for (i = 0; i < buf_len(copy); i++) {
			/* Byte i, bit i % 8: every byte, every bit position. */
			p[i] ^= (uint8_t)(1U << (i % 8));
			if (open_as(appl_key[0], copy, allowed, 1, &got) == 0) {
				accepted++;
				definition_free(got);
			}
			p[i] ^= (uint8_t)(1U << (i % 8));
		}
		ASSERT_SIZE_EQ(accepted, 0);
		buf_free(copy);
	}
	TEST_DONE();

	TEST_START("companions: not allowed, or an appliance key, are refused");
	ASSERT_INT_EQ(open_as(appl_key[0], f1, &allowed[1], 1, &got), ERR_PERMISSION);
	ASSERT_TRUE(strstr(err_detail(), "not in the signed bundle") != NULL);
	{
		/* appl[3] seals as "companion" to appl[0] and itself: refused. */
		struct buf *f = buf_new(0);
		EVP_PKEY *to[2] = {appl[0], appl[3]};
		ASSERT_INT_EQ(sealed_seal(appl_key[3], to, 2, SEALED_FORMAT_TOML,
					  (const uint8_t *)def_text, strlen(def_text), f),
			      0);
		ASSERT_INT_EQ(open_as(appl_key[0], f, allowed, 2, &got), ERR_PERMISSION);
		ASSERT_TRUE(strstr(err_detail(), "appliance key") != NULL);
		buf_free(f);
	}
	TEST_DONE();

	TEST_START("sealing refuses no recipients and duplicates");
	{
		struct buf *f = buf_new(0);
		EVP_PKEY *dup[2] = {appl[0], appl[0]};
		ASSERT_INT_EQ(sealed_seal(companion_key, appl, 0, SEALED_FORMAT_TOML,
					  (const uint8_t *)"", 0, f),
			      ERR_INVALID_ARG);
		ASSERT_INT_EQ(sealed_seal(companion_key, dup, 2, SEALED_FORMAT_TOML,
					  (const uint8_t *)"", 0, f),
			      ERR_INVALID_ARG);
		buf_free(f);
	}
	TEST_DONE();

	TEST_START("layout: truncation at every length and trailing bytes");
	{
		struct sealed_file sf;
		size_t n;
		int bad = 0;
		for (n = 0; n < buf_len(f3); n++)
			if (sealed_parse(buf_ptr(f3), n, &sf) == 0)
				bad++;
		ASSERT_INT_EQ(bad, 0);
		ASSERT_INT_EQ(sealed_parse(buf_ptr(f3), buf_len(f3), &sf), 0);
		ASSERT_INT_EQ(sf.count, 3);
		ASSERT_INT_EQ(buf_put_u8(f3, 0), 0);
		ASSERT_INT_EQ(sealed_parse(buf_ptr(f3), buf_len(f3), &sf), ERR_TRAILING_DATA);
	}
	TEST_DONE();
	definition_free(orig);
	buf_free(f1);
	buf_free(f3);
}

int main(void)
{
	size_t i;

	log_init("test-sealed", LOG_LEVEL_ERROR);
	make_definition();
	if (pkey_generate_p256(&companion) != 0 ||
	    hsm_key_from_pkey(companion, &companion_key) != 0)
		return 1;
	for (i = 0; i < 4; i++)
		if (pkey_generate_p256(&appl[i]) != 0 ||
		    hsm_key_from_pkey(appl[i], &appl_key[i]) != 0)
			return 1;
	test_round_trip();
	for (i = 0; i < 4; i++) {
		hsm_key_free(appl_key[i]);
		EVP_PKEY_free(appl[i]);
	}
	hsm_key_free(companion_key);
	EVP_PKEY_free(companion);
	return unit_finish("provisioning/sealed-unit");
}
