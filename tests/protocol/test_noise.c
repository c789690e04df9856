// SPDX-License-Identifier: ISC
/*
 * The Noise core against the cacophony vectors (every pattern, DH, cipher and
 * hash the core supports: IK and K with 25519 over AESGCM/ChaChaPoly and
 * SHA-256 at least), byte for byte including the handshake hash, plus the
 * CipherState edge cases.
 */
#include "noise.h"

#include "buf.h"
#include "secmem.h"
#include "testutil.h"
#include "unit.h"

static int oneway(enum noise_pattern p)
{
	return p == NOISE_PATTERN_N || p == NOISE_PATTERN_K || p == NOISE_PATTERN_X;
}

/* Run one vector; returns 1 if run (pass or fail recorded), 0 if skipped. */
static int run_vector(json_t *v, const char *only_prefix)
{
	const char *name = json_string_value(json_object_get(v, "protocol_name"));
	struct noise_proto proto;
	struct noise_key is = {0}, rsk = {0};
	struct noise_hs *ini = NULL, *resp = NULL;
	struct noise_cipher_state ic1, ic2, rc1, rc2;
	uint8_t *prologue = NULL, *istat = NULL, *ieph = NULL, *irs = NULL, *rstat = NULL,
		*reph = NULL, *rrs = NULL, *hh = NULL;
	size_t plen, islen, ielen, irslen, rslen, relen, rrslen, hhlen, i, hlen;
	json_t *msgs, *psks;
	struct buf *out = NULL, *pt = NULL;
	int r;

	memset(&ic1, 0, sizeof(ic1));
	memset(&ic2, 0, sizeof(ic2));
	memset(&rc1, 0, sizeof(rc1));
	memset(&rc2, 0, sizeof(rc2));
	if (name == NULL || noise_proto_parse(name, &proto) != 0)
		return 0;
	if (only_prefix != NULL && strncmp(name, only_prefix, strlen(only_prefix)) != 0)
		return 0;
	psks = json_object_get(v, "init_psks");
	if (psks != NULL && json_array_size(psks) != 0)
		return 0;
	TEST_START(name);
	prologue = tu_hex(v, "init_prologue", &plen);
	istat = tu_hex(v, "init_static", &islen);
	ieph = tu_hex(v, "init_ephemeral", &ielen);
	irs = tu_hex(v, "init_remote_static", &irslen);
	rstat = tu_hex(v, "resp_static", &rslen);
	reph = tu_hex(v, "resp_ephemeral", &relen);
	rrs = tu_hex(v, "resp_remote_static", &rrslen);
	hh = tu_hex(v, "handshake_hash", &hhlen);
	out = buf_new(0);
	pt = buf_new(0);
	if (istat != NULL)
		ASSERT_INT_EQ(noise_key_from_private(&is, proto.dh, istat, islen), 0);
	if (rstat != NULL)
		ASSERT_INT_EQ(noise_key_from_private(&rsk, proto.dh, rstat, rslen), 0);
	r = noise_hs_new(&proto, 1, prologue, plen, istat ? &is : NULL, irs, &ini);
	ASSERT_INT_EQ(r, 0);
	r = noise_hs_new(&proto, 0, prologue, plen, rstat ? &rsk : NULL, rrs, &resp);
	ASSERT_INT_EQ(r, 0);
	if (ini == NULL || resp == NULL)
		goto out;
	if (ieph != NULL)
		ASSERT_INT_EQ(noise_hs_set_ephemeral(ini, ieph, ielen), 0);
	if (reph != NULL)
		ASSERT_INT_EQ(noise_hs_set_ephemeral(resp, reph, relen), 0);
	msgs = json_object_get(v, "messages");
	for (i = 0; i < json_array_size(msgs); i++) {
		json_t *m = json_array_get(msgs, i);
		size_t pl, cl;
		uint8_t *payload = tu_hex(m, "payload", &pl), *ct = tu_hex(m, "ciphertext", &cl);
		int from_ini = oneway(proto.pattern) ? 1 : (i % 2 == 0);
		struct noise_hs *w = from_ini ? ini : resp, *rd = from_ini ? resp : ini;

		buf_reset(out);
		buf_reset(pt);
		if (!noise_hs_done(ini)) {
			ASSERT_INT_EQ(noise_hs_write(w, payload, pl, out), 0);
			ASSERT_SIZE_EQ(buf_len(out), cl);
			if (buf_len(out) == cl)
				ASSERT_MEM_EQ(buf_ptr(out), ct, cl);
			ASSERT_INT_EQ(noise_hs_read(rd, ct, cl, pt), 0);
			if (noise_hs_done(ini)) {
				ASSERT_TRUE(noise_hs_done(resp));
				if (hh != NULL) {
					ASSERT_MEM_EQ(noise_hs_hash(ini, &hlen), hh, hhlen);
					ASSERT_MEM_EQ(noise_hs_hash(resp, &hlen), hh, hhlen);
				}
				ASSERT_INT_EQ(noise_hs_split(ini, &ic1, &ic2), 0);
				ASSERT_INT_EQ(noise_hs_split(resp, &rc1, &rc2), 0);
			}
		} else {
			struct noise_cipher_state *wc = from_ini ? &ic1 : &rc2;
			struct noise_cipher_state *rc = from_ini ? &rc1 : &ic2;
			ASSERT_INT_EQ(noise_cs_encrypt(wc, NULL, 0, payload, pl, out), 0);
			ASSERT_SIZE_EQ(buf_len(out), cl);
			if (buf_len(out) == cl)
				ASSERT_MEM_EQ(buf_ptr(out), ct, cl);
			ASSERT_INT_EQ(noise_cs_decrypt(rc, NULL, 0, ct, cl, pt), 0);
		}
		ASSERT_SIZE_EQ(buf_len(pt), pl);
		if (buf_len(pt) == pl && pl != 0)
			ASSERT_MEM_EQ(buf_ptr(pt), payload, pl);
		free(payload);
		free(ct);
	}
out:
	noise_hs_free(ini);
	noise_hs_free(resp);
	noise_key_clear(&is);
	noise_key_clear(&rsk);
	noise_cs_clear(&ic1);
	noise_cs_clear(&ic2);
	noise_cs_clear(&rc1);
	noise_cs_clear(&rc2);
	buf_free(out);
	buf_free(pt);
	free(prologue);
	free(istat);
	free(ieph);
	free(irs);
	free(rstat);
	free(reph);
	free(rrs);
	free(hh);
	TEST_DONE();
	return 1;
}

static void count_required(json_t *vecs)
{
	static const char *required[] = {
		"Noise_IK_25519_AESGCM_SHA256", "Noise_IK_25519_ChaChaPoly_SHA256",
		"Noise_K_25519_AESGCM_SHA256", "Noise_K_25519_ChaChaPoly_SHA256",
	};
	size_t i, j, found;

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		TEST_START(required[i]);
		found = 0;
		for (j = 0; j < json_array_size(vecs); j++) {
			const char *n = json_string_value(
				json_object_get(json_array_get(vecs, j), "protocol_name"));
			if (n != NULL && strcmp(n, required[i]) == 0)
				found++;
		}
		ASSERT_TRUE(found >= 1);
		TEST_DONE();
	}
}

static void test_cipherstate(void)
{
	uint8_t key[32] = {1}, msg[5] = "hello";
	struct noise_cipher_state a, b;
	struct buf *ct = buf_new(0), *pt = buf_new(0);
	uint8_t *mut;

	TEST_START("cipherstate tamper and nonce");
	noise_cs_init(&a, NOISE_CIPHER_AESGCM, key);
	noise_cs_init(&b, NOISE_CIPHER_AESGCM, key);
	ASSERT_INT_EQ(noise_cs_encrypt(&a, NULL, 0, msg, sizeof(msg), ct), 0);
	mut = buf_mutable_ptr(ct);
	mut[0] ^= 1;
	ASSERT_INT_EQ(noise_cs_decrypt(&b, NULL, 0, buf_ptr(ct), buf_len(ct), pt), ERR_AUTH);
	ASSERT_SIZE_EQ(buf_len(pt), 0);
	ASSERT_U64_EQ(b.n, 0);
	mut[0] ^= 1;
	ASSERT_INT_EQ(noise_cs_decrypt(&b, NULL, 0, buf_ptr(ct), buf_len(ct), pt), 0);
	ASSERT_MEM_EQ(buf_ptr(pt), msg, sizeof(msg));
	/* The same ciphertext again: nonce moved on, so it fails. */
	buf_reset(pt);
	ASSERT_INT_EQ(noise_cs_decrypt(&b, NULL, 0, buf_ptr(ct), buf_len(ct), pt), ERR_AUTH);
	a.n = UINT64_MAX;
	ASSERT_INT_EQ(noise_cs_encrypt(&a, NULL, 0, msg, sizeof(msg), ct), ERR_TOO_LARGE);
	ASSERT_INT_EQ(noise_cs_rekey(&a), 0);
	noise_cs_clear(&a);
	noise_cs_clear(&b);
	buf_free(ct);
	buf_free(pt);
	TEST_DONE();
}

static void test_names(void)
{
	struct noise_proto p;
	char name[NOISE_MAX_NAME];

	TEST_START("protocol names");
	ASSERT_INT_EQ(noise_proto_parse("Noise_IK_P256_AESGCM_SHA256", &p), 0);
	noise_proto_name(&p, name);
	ASSERT_STR_EQ(name, "Noise_IK_P256_AESGCM_SHA256");
	ASSERT_INT_EQ(noise_proto_parse("Noise_IK_448_AESGCM_SHA256", &p), ERR_UNSUPPORTED);
	ASSERT_INT_EQ(noise_proto_parse("Noise_IKpsk2_25519_AESGCM_SHA256", &p), ERR_UNSUPPORTED);
	ASSERT_INT_EQ(noise_proto_parse("Noise_IK_25519_AESGCM", &p), ERR_FORMAT);
	ASSERT_INT_EQ(noise_proto_parse("Noise_IK_25519_AESGCM_SHA256_x", &p), ERR_UNSUPPORTED);
	TEST_DONE();
}

int main(void)
{
	json_t *j = tu_load("noise/cacophony/vectors/cacophony.txt");
	json_t *vecs = json_object_get(j, "vectors");
	size_t i, n = 0;

	test_names();
	test_cipherstate();
	count_required(vecs);
	for (i = 0; i < json_array_size(vecs); i++)
		n += (size_t)run_vector(json_array_get(vecs, i), NULL);
	printf("cacophony: %zu vectors run\n", n);
	TEST_START("enough cacophony vectors");
	ASSERT_TRUE(n >= 72); /* 9 patterns x 2 ciphers x 4 hashes */
	TEST_DONE();
	json_decref(j);
	return unit_finish("protocol/noise");
}
