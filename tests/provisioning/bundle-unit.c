// SPDX-License-Identifier: ISC
/*
 * Unit tests of provisioning/bundle.c and ceremony.c: the manifest parser's
 * table of good and bad inputs, path rules, the state file, the ceremony
 * chain, and a whole build -> sign (software key) -> verify -> read cycle in
 * a temporary directory, including a file swapped after verification; k-of-n
 * signatures with software masters; revoked.json.
 */
#include "../../provisioning/bundle.c"
#include "../../provisioning/revoked.c"

#include <ftw.h>
#include <openssl/ec.h>

#include "ceremony.h"
#include "unit.h"

static char tmpdir[256];

static void write_file(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int soft_sign(void *ctx, const uint8_t *data, size_t len, struct buf *sig)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t out[512];
	size_t outlen = sizeof(out);
	int r = ERR_CRYPTO;

	if (md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ctx) == 1 &&
	    EVP_DigestSign(md, out, &outlen, data, len) == 1)
		r = buf_put(sig, out, outlen);
	EVP_MD_CTX_free(md);
	return r;
}

static const char *good = "{\"created\":\"2026-01-01T00:00:00Z\",\"files\":{\"a\":"
                          "\"0000000000000000000000000000000000000000000000000000000000000000\","
                          "\"keys/b_public.pem\":"
                          "\"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"},"
                          "\"serial\":7,\"version\":1}\n";

#define H64 "\"0000000000000000000000000000000000000000000000000000000000000000\""
#define H64N "0000000000000000000000000000000000000000000000000000000000000000"

static const struct {
	const char *json;
	int code;
} bad[] = {
    {"", ERR_FORMAT},
    {"[]", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{},\"serial\":1,\"version\":1} x", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{},\"serial\":1,\"version\":1,\"version\":1}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{},\"serial\":1,\"version\":2}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{},\"serial\":1,\"version\":\"1\"}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{},\"serial\":1,\"version\":1.0}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{},\"serial\":0,\"version\":1}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{},\"serial\":-3,\"version\":1}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{},\"serial\":1.5,\"version\":1}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{},\"serial\":99999999999999999999,\"version\":1}", ERR_FORMAT},
    {"{\"created\":1,\"files\":{},\"serial\":1,\"version\":1}", ERR_FORMAT},
    {"{\"created\":\"\",\"files\":{},\"serial\":1,\"version\":1}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":[],\"serial\":1,\"version\":1}", ERR_FORMAT},
    {"{\"files\":{},\"serial\":1,\"version\":1}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{},\"serial\":1,\"version\":1,\"extra\":0}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{\"a\":1},\"serial\":1,\"version\":1}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{\"a\":\"00\"},\"serial\":1,\"version\":1}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{\"a\":"
     "\"000000000000000000000000000000000000000000000000000000000000000A\"},\"serial\":1,"
     "\"version\":1}",
     ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{\"../a\":" H64 "},\"serial\":1,\"version\":1}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{\"/etc/passwd\":" H64 "},\"serial\":1,\"version\":1}",
     ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{\"a//b\":" H64 "},\"serial\":1,\"version\":1}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{\"a\\\\b\":" H64 "},\"serial\":1,\"version\":1}", ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{\"a\\u0000b\":" H64 "},\"serial\":1,\"version\":1}",
     ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{\"a\":" H64 ",\"a\":" H64 "},\"serial\":1,\"version\":1}",
     ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{\"crypto_manifest.json\":" H64 "},\"serial\":1,\"version\":1}",
     ERR_FORMAT},
    {"{\"created\":\"x\",\"files\":{\".git/config\":" H64 "},\"serial\":1,\"version\":1}",
     ERR_FORMAT},
};

static void test_parse(void)
{
	struct bundle_manifest *m = NULL;
	size_t i;

	TEST_START("parse good manifest");
	ASSERT_INT_EQ(bundle_manifest_parse((const uint8_t *)good, strlen(good), &m), 0);
	if (m != NULL) {
		ASSERT_U64_EQ(bundle_manifest_serial(m), 7);
		ASSERT_STR_EQ(bundle_manifest_created(m), "2026-01-01T00:00:00Z");
		ASSERT_SIZE_EQ(bundle_manifest_count(m), 2);
		ASSERT_STR_EQ(bundle_manifest_entry(m, 1)->path, "keys/b_public.pem");
		ASSERT_INT_EQ(bundle_manifest_entry(m, 1)->sha256[31], 0xff);
		ASSERT_TRUE(bundle_manifest_find(m, "a") != NULL);
		ASSERT_TRUE(bundle_manifest_find(m, "b") == NULL);
	}
	bundle_manifest_free(m);
	TEST_DONE();

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "parse bad manifest %zu", i);
		TEST_START(name);
		m = (struct bundle_manifest *)1;
		ASSERT_INT_EQ(
		    bundle_manifest_parse((const uint8_t *)bad[i].json, strlen(bad[i].json), &m),
		    bad[i].code);
		ASSERT_TRUE(m == NULL);
		TEST_DONE();
	}

	TEST_START("parse refuses more than LIMIT_MANIFEST");
	ASSERT_INT_EQ(bundle_manifest_parse((const uint8_t *)good, LIMIT_MANIFEST + 1, &m),
	              ERR_TOO_LARGE);
	TEST_DONE();
}

static void test_paths(void)
{
	static const char *ok[] = {"a",   "keys/x_public.pem", ".hidden",    "a/.b/c",
	                           "..a", "a..",               ".gitignore", "sub/.git/x",
	                           "masters/b_public.pem", "sub/signatures/x", "signatures.txt"};
	static const char *no[] = {"",
	                           "/a",
	                           "a/",
	                           "a//b",
	                           ".",
	                           "..",
	                           "a/../b",
	                           "./a",
	                           "a/.",
	                           "a\\b",
	                           "a\tb",
	                           "crypto_manifest.json",
	                           "crypto_manifest.json.sig",
	                           ".git/HEAD",
	                           "signatures",
	                           "signatures/x",
	                           "signatures/sha256-0000000000000000000000000000000000000000000000000000000000000000.sig"};
	size_t i;

	TEST_START("path rules");
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (bundle_path_check(ok[i], strlen(ok[i])) != 0)
			UNIT_FAIL("refused good path '%s': %s", ok[i], err_detail());
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (bundle_path_check(no[i], strlen(no[i])) != ERR_FORMAT)
			UNIT_FAIL("accepted bad path '%s'", no[i]);
	ASSERT_INT_EQ(bundle_path_check("a\0b", 3), ERR_FORMAT);
	TEST_DONE();
}

static void test_state(void)
{
	char path[512];
	uint64_t s = 99;

	TEST_START("state file");
	snprintf(path, sizeof(path), "%s/state", tmpdir);
	ASSERT_INT_EQ(bundle_state_read(path, &s), 0);
	ASSERT_U64_EQ(s, 0);
	ASSERT_INT_EQ(bundle_state_write(path, 42), 0);
	ASSERT_INT_EQ(bundle_state_read(path, &s), 0);
	ASSERT_U64_EQ(s, 42);
	write_file("state", "12x\n");
	ASSERT_INT_EQ(bundle_state_read(path, &s), ERR_FORMAT);
	write_file("state", "012\n");
	ASSERT_INT_EQ(bundle_state_read(path, &s), ERR_FORMAT);
	write_file("state", "-1\n");
	ASSERT_INT_EQ(bundle_state_read(path, &s), ERR_FORMAT);
	unlink(path);
	TEST_DONE();
}

static void test_ceremony(void)
{
	char path[512], *text = NULL;
	uint8_t head[SHA256_LEN], head2[SHA256_LEN];
	struct buf *b = NULL;
	size_t lines = 0, len;

	TEST_START("ceremony log chain");
	snprintf(path, sizeof(path), "%s/ceremony.log", tmpdir);
	ASSERT_INT_EQ(
	    ceremony_append(path, "init", "fpr=sha256:00", "first \"step\"\n", 1000, head), 0);
	ASSERT_INT_EQ(ceremony_append(path, "manifest", "serial=1", NULL, 1001, NULL), 0);
	ASSERT_INT_EQ(ceremony_append(path, "sign", NULL, "ok", 1002, head), 0);
	ASSERT_INT_EQ(ceremony_verify(path, &lines, head2), 0);
	ASSERT_SIZE_EQ(lines, 3);
	ASSERT_MEM_EQ(head, head2, SHA256_LEN);
	ASSERT_INT_EQ(ceremony_append(path, "Bad", NULL, NULL, 1, NULL), ERR_INVALID_ARG);
	ASSERT_INT_EQ(ceremony_append(path, "x", "a=\"b\"", NULL, 1, NULL), ERR_INVALID_ARG);

	ASSERT_INT_EQ(file_read_all(path, CEREMONY_LOG_MAX, &b), 0);
	if (b != NULL) {
		len = buf_len(b);
		text = malloc(len + 1);
		memcpy(text, buf_ptr(b), len);
		text[len] = '\0';
		/* The note was escaped: one line per step. */
		ASSERT_TRUE(strstr(text, "note=\"first \\\"step\\\"\\x0a\"") != NULL);
		/* Change a byte in line 1: line 2's prev no longer matches. */
		text[76] ^= 1;
		ASSERT_INT_EQ(ceremony_check((uint8_t *)text, len, &lines, NULL), ERR_AUTH);
		ASSERT_TRUE(strstr(err_detail(), "line 2") != NULL);
		text[76] ^= 1;
		/* Truncated last line. */
		ASSERT_INT_EQ(ceremony_check((uint8_t *)text, len - 1, &lines, NULL), ERR_FORMAT);
		/* Line 1 removed. */
		ASSERT_INT_EQ(ceremony_check((uint8_t *)strchr(text, '\n') + 1,
		                             len - (size_t)(strchr(text, '\n') + 1 - text), &lines,
		                             NULL),
		              ERR_AUTH);
		ASSERT_INT_EQ(ceremony_check((uint8_t *)text, 0, &lines, head), 0);
		ASSERT_SIZE_EQ(lines, 0);
		/* A broken log is not extended. */
		text[76] ^= 1;
		ASSERT_INT_EQ(file_write_atomic(path, text, len, 0644), 0);
		ASSERT_INT_EQ(ceremony_append(path, "sign", NULL, NULL, 1003, NULL), ERR_AUTH);
	}
	free(text);
	buf_free(b);
	unlink(path);
	TEST_DONE();
}

static void test_cycle(void)
{
	struct bundle_signed res;
	struct bundle_verify_opts vo = {0};
	struct bundle *bd = NULL;
	struct buf *data = NULL;
	EVP_PKEY *master = NULL;
	char dir[512], fpr[PKEY_FPR_TEXT_LEN + 1], path[600], state[600], aside[600];
	uint64_t serial = 0;
	int r;

	TEST_START("build, sign, verify, read");
	snprintf(dir, sizeof(dir), "%s/b", tmpdir);
	ASSERT_INT_EQ(file_mkdirs(dir, 0755), 0);
	ASSERT_INT_EQ(pkey_generate_p256(&master), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, BUNDLE_MASTER_PUBLIC);
	ASSERT_INT_EQ(pkey_save_public(master, path), 0);
	ASSERT_INT_EQ(pkey_fingerprint(master, fpr), 0);
	snprintf(path, sizeof(path), "%s/keys", dir);
	ASSERT_INT_EQ(file_mkdirs(path, 0755), 0);
	write_file("b/keys/s1_public.pem", "not really a key\n");
	write_file("b/coffer.sealed", "sealed stand-in");
	write_file("b/.hidden", "hidden files are listed too");
	ASSERT_INT_EQ(bundle_manifest_write(dir, 1000, &serial), 0);
	ASSERT_U64_EQ(serial, 1);
	ASSERT_INT_EQ(bundle_manifest_write(dir, 1000, &serial), 0);
	ASSERT_U64_EQ(serial, 2);
	ASSERT_INT_EQ(bundle_sign(dir, soft_sign, master, master, &res), 0);
	ASSERT_U64_EQ(res.serial, 2);
	ASSERT_INT_EQ(res.legacy, 1);
	ASSERT_STR_EQ(res.fpr, fpr);

	snprintf(state, sizeof(state), "%s/state", tmpdir);
	vo.trust_anchor = fpr;
	vo.state_file = state;
	vo.update_state = 1;
	r = bundle_verify(dir, &vo, &bd);
	if (r != 0)
		UNIT_FAIL("verify: %s", err_msg(r));
	if (bd != NULL) {
		ASSERT_U64_EQ(bundle_serial(bd), 2);
		ASSERT_SIZE_EQ(bundle_manifest_count(bundle_get_manifest(bd)), 4);
		ASSERT_STR_EQ(bundle_master_fingerprint(bd), fpr);
		ASSERT_INT_EQ(bundle_read_file(bd, "coffer.sealed", 1024, &data), 0);
		if (data != NULL)
			ASSERT_MEM_EQ(buf_ptr(data), "sealed stand-in", 15);
		buf_free(data);
		ASSERT_INT_EQ(bundle_read_file(bd, "coffer.sealed", 4, &data), ERR_TOO_LARGE);
		ASSERT_INT_EQ(bundle_read_file(bd, "nope", 1024, &data), ERR_NOT_FOUND);
		/* Swapped after verification: the read re-checks the hash. */
		write_file("b/coffer.sealed", "sealed stand-iN");
		ASSERT_INT_EQ(bundle_read_file(bd, "coffer.sealed", 1024, &data), ERR_AUTH);
		ASSERT_TRUE(strstr(err_detail(), "check 'hash' failed for coffer.sealed") != NULL);
		ASSERT_TRUE(data == NULL);
		write_file("b/coffer.sealed", "sealed stand-in");
		/* Replaced by a symbolic link after verification. */
		snprintf(path, sizeof(path), "%s/coffer.sealed", dir);
		snprintf(aside, sizeof(aside), "%s/aside", tmpdir);
		ASSERT_INT_EQ(rename(path, aside), 0);
		ASSERT_INT_EQ(symlink(aside, path), 0);
		ASSERT_INT_EQ(bundle_read_file(bd, "coffer.sealed", 1024, &data), ERR_PERMISSION);
		ASSERT_TRUE(strstr(err_detail(), "check 'type' failed for coffer.sealed") != NULL);
		unlink(path);
		ASSERT_INT_EQ(rename(aside, path), 0);
		bundle_free(bd);
		bd = NULL;
	}
	ASSERT_INT_EQ(bundle_state_read(state, &serial), 0);
	ASSERT_U64_EQ(serial, 2);

	/* Rollback: the state file says 5. */
	ASSERT_INT_EQ(bundle_state_write(state, 5), 0);
	ASSERT_INT_EQ(bundle_verify(dir, &vo, &bd), ERR_REPLAY);
	ASSERT_TRUE(strstr(err_detail(), "check 'serial' failed") != NULL);
	unlink(state);
	vo.state_file = NULL;
	vo.min_serial = 3;
	ASSERT_INT_EQ(bundle_verify(dir, &vo, &bd), ERR_REPLAY);
	vo.min_serial = 2;
	ASSERT_INT_EQ(bundle_verify(dir, &vo, &bd), 0);
	bundle_free(bd);
	bd = NULL;

	/* The refresh accepts a change of one named file only. */
	write_file("b/.hidden", "changed");
	ASSERT_INT_EQ(bundle_manifest_refresh(dir, ".hidden"), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, BUNDLE_SIGNATURE);
	ASSERT_TRUE(access(path, F_OK) != 0); /* stale signature removed */
	write_file("b/coffer.sealed", "changed");
	ASSERT_INT_EQ(bundle_manifest_refresh(dir, ".hidden"), ERR_AUTH);
	write_file("b/new", "new");
	ASSERT_INT_EQ(bundle_manifest_refresh(dir, ".hidden"), ERR_AUTH);

	/* A wrong anchor is refused; a malformed one is a usage error. */
	ASSERT_INT_EQ(bundle_sign(dir, soft_sign, master, master, NULL), 0);
	vo.trust_anchor = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	ASSERT_INT_EQ(bundle_verify(dir, &vo, &bd), ERR_AUTH);
	ASSERT_TRUE(strstr(err_detail(), "check 'trust-anchor' failed") != NULL);
	vo.trust_anchor = "sha256:00";
	ASSERT_INT_EQ(bundle_verify(dir, &vo, &bd), ERR_INVALID_ARG);
	ASSERT_TRUE(bd == NULL);
	EVP_PKEY_free(master);
	TEST_DONE();
}

static void test_walk_limits(void)
{
	char dir[512], path[2048];
	struct buf *b = buf_new(LIMIT_MANIFEST);
	size_t n;
	int i;

	TEST_START("walk limits");
	snprintf(dir, sizeof(dir), "%s/deep", tmpdir);
	n = (size_t)snprintf(path, sizeof(path), "%s", dir);
	for (i = 0; i < BUNDLE_DEPTH_MAX + 1; i++)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "/d");
	ASSERT_INT_EQ(file_mkdirs(path, 0755), 0);
	ASSERT_INT_EQ(bundle_manifest_build(dir, 1, 0, b), ERR_TOO_LARGE);
	ASSERT_TRUE(strstr(err_detail(), "nested deeper") != NULL);
	/* Empty directories hold no file: an empty manifest. */
	snprintf(dir, sizeof(dir), "%s/empty", tmpdir);
	snprintf(path, sizeof(path), "%s/a/b", dir);
	ASSERT_INT_EQ(file_mkdirs(path, 0755), 0);
	buf_reset(b);
	ASSERT_INT_EQ(bundle_manifest_build(dir, 1, 0, b), 0);
	ASSERT_TRUE(buf_len(b) > 0 && memmem(buf_ptr(b), buf_len(b), "\"files\": {}", 11) != NULL);
	ASSERT_INT_EQ(bundle_manifest_build(dir, 0, 0, b), ERR_INVALID_ARG);
	ASSERT_INT_EQ(bundle_manifest_build("/nonexistent-bundle", 1, 0, b), ERR_NOT_FOUND);
	buf_free(b);
	TEST_DONE();
}

struct notes {
	int n;
	char last[512];
};

static void note(void *arg, const char *file, const char *why)
{
	struct notes *ns = arg;

	ns->n++;
	snprintf(ns->last, sizeof(ns->last), "%s: %s", file, why);
}

static void test_kofn(void)
{
	struct bundle_verify_opts vo = {0};
	struct bundle_signed res;
	struct bundle *bd = NULL;
	struct notes ns;
	EVP_PKEY *ka = NULL, *kb = NULL, *kc = NULL;
	char dir[512], path[700], fa[PKEY_FPR_TEXT_LEN + 1], fb[PKEY_FPR_TEXT_LEN + 1],
	    fc[PKEY_FPR_TEXT_LEN + 1], name[BUNDLE_SIG_NAME_LEN + 1], grouped[IDENTITY_TEXT_LEN + 1];
	const char *anchors[3];
	uint8_t id[SHA256_LEN];
	size_t count = 0;

	TEST_START("k-of-n: signatures per master, threshold, notes");
	snprintf(dir, sizeof(dir), "%s/k", tmpdir);
	snprintf(path, sizeof(path), "%s/masters", dir);
	ASSERT_INT_EQ(file_mkdirs(path, 0755), 0);
	ASSERT_INT_EQ(pkey_generate_p256(&ka), 0);
	ASSERT_INT_EQ(pkey_generate_p256(&kb), 0);
	ASSERT_INT_EQ(pkey_generate_p256(&kc), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, BUNDLE_MASTER_PUBLIC);
	ASSERT_INT_EQ(pkey_save_public(ka, path), 0);
	snprintf(path, sizeof(path), "%s/masters/b_public.pem", dir);
	ASSERT_INT_EQ(pkey_save_public(kb, path), 0);
	ASSERT_INT_EQ(pkey_fingerprint(ka, fa), 0);
	ASSERT_INT_EQ(pkey_fingerprint(kb, fb), 0);
	ASSERT_INT_EQ(pkey_fingerprint(kc, fc), 0);
	write_file("k/coffer.sealed", "x");
	ASSERT_INT_EQ(bundle_manifest_write(dir, 1000, NULL), 0);
	ASSERT_INT_EQ(bundle_signature_count(dir, &count), 0);
	ASSERT_SIZE_EQ(count, 0);
	/* C is no master of this bundle: refused before anything is signed. */
	ASSERT_INT_EQ(bundle_sign(dir, soft_sign, kc, kc, NULL), ERR_AUTH);
	/* The token signing with another key than the one it showed. */
	ASSERT_INT_EQ(bundle_sign(dir, soft_sign, kc, kb, NULL), ERR_AUTH);
	ASSERT_INT_EQ(bundle_signature_count(dir, &count), 0);
	ASSERT_SIZE_EQ(count, 0);
	ASSERT_INT_EQ(bundle_sign(dir, soft_sign, kb, kb, &res), 0);
	ASSERT_INT_EQ(res.legacy, 0);
	ASSERT_STR_EQ(res.master, "masters/b_public.pem");
	ASSERT_INT_EQ(bundle_sign(dir, soft_sign, ka, ka, &res), 0);
	ASSERT_INT_EQ(res.legacy, 1);
	ASSERT_INT_EQ(bundle_signature_count(dir, &count), 0);
	ASSERT_SIZE_EQ(count, 2);
	ASSERT_INT_EQ(bundle_manifest_unchanged(dir), 0);

	anchors[0] = fa;
	anchors[1] = fb;
	anchors[2] = fc;
	vo.anchors = anchors;
	vo.n_anchors = 3;
	vo.threshold = 2;
	vo.note = note;
	vo.note_arg = &ns;
	memset(&ns, 0, sizeof(ns));
	ASSERT_INT_EQ(bundle_verify(dir, &vo, &bd), 0);
	if (bd != NULL) {
		ASSERT_SIZE_EQ(bundle_signer_count(bd), 2);
		ASSERT_STR_EQ(bundle_signer(bd, 0), fa);
		ASSERT_STR_EQ(bundle_signer(bd, 1), fb);
		ASSERT_STR_EQ(bundle_master_fingerprint(bd), fa);
		bundle_free(bd);
		bd = NULL;
	}
	ASSERT_INT_EQ(ns.n, 0);
	vo.threshold = 3;
	ASSERT_INT_EQ(bundle_verify(dir, &vo, &bd), ERR_AUTH);
	ASSERT_TRUE(strstr(err_detail(), "signed by 2 of the trust anchors, 3 required") != NULL);
	vo.threshold = 4;
	ASSERT_INT_EQ(bundle_verify(dir, &vo, &bd), ERR_INVALID_ARG);
	/* The same anchor twice, in the two notations. */
	ASSERT_INT_EQ(pkey_identity(kb, id), 0);
	identity_format(id, grouped);
	vo.threshold = 2;
	anchors[2] = grouped;
	ASSERT_INT_EQ(bundle_verify(dir, &vo, &bd), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "given twice") != NULL);
	anchors[2] = fc;

	/* B's signature replaced by A's bytes: noted by name, not counted. */
	bundle_signature_name(id, name);
	snprintf(path, sizeof(path), "%s/signatures/%s", dir, name);
	ASSERT_INT_EQ(file_write_atomic(path, "\x30\x06\x02\x01\x01\x02\x01\x01", 8, 0644), 0);
	memset(&ns, 0, sizeof(ns));
	ASSERT_INT_EQ(bundle_verify(dir, &vo, &bd), ERR_AUTH);
	ASSERT_INT_EQ(ns.n, 1);
	ASSERT_TRUE(strstr(ns.last, name) != NULL && strstr(ns.last, "does not verify") != NULL);
	vo.threshold = 1;
	ASSERT_INT_EQ(bundle_verify(dir, &vo, &bd), 0);
	bundle_free(bd);
	bd = NULL;
	/* A new manifest removes every signature. */
	ASSERT_INT_EQ(bundle_manifest_write(dir, 1000, NULL), 0);
	ASSERT_INT_EQ(bundle_signature_count(dir, &count), 0);
	ASSERT_SIZE_EQ(count, 0);
	EVP_PKEY_free(ka);
	EVP_PKEY_free(kb);
	EVP_PKEY_free(kc);
	TEST_DONE();
}

static void test_revoked(void)
{
	static const char *bad_rv[] = {
	    "",
	    "[]",
	    "{\"version\":1}",
	    "{\"version\":2,\"revoked\":[]}",
	    "{\"version\":1,\"revoked\":{}}",
	    "{\"version\":1,\"revoked\":[],\"extra\":1}",
	    "{\"version\":1,\"revoked\":[1]}",
	    "{\"version\":1,\"revoked\":[{\"identity\":\"7F3A\",\"reason\":\"\",\"time\":\"t\"}]}",
	    "{\"version\":1,\"revoked\":[{\"identity\":\"sha256:" H64N "\",\"reason\":\"\"}]}",
	    "{\"version\":1,\"revoked\":[{\"identity\":\"sha256:" H64N "\",\"reason\":\"\",\"time\":\"\"}]}",
	    "{\"version\":1,\"revoked\":[{\"identity\":\"sha256:" H64N "\",\"reason\":\"a\\nb\",\"time\":\"t\"}]}",
	    "{\"version\":1,\"revoked\":[{\"identity\":\"sha256:" H64N "\",\"reason\":\"\",\"time\":\"t\",\"x\":1}]}",
	    "{\"version\":1,\"revoked\":[{\"identity\":\"sha256:" H64N "\",\"reason\":\"\",\"time\":\"t\"},"
	    "{\"identity\":\"sha256:" H64N "\",\"reason\":\"\",\"time\":\"t\"}]}",
	    "{\"version\":1,\"revoked\":[]} x",
	    "{\"version\":1,\"version\":1,\"revoked\":[]}",
	};
	struct revoked *rv = NULL, *again = NULL;
	struct buf *text = NULL;
	uint8_t a[IDENTITY_LEN], b[IDENTITY_LEN];
	char reason[LIMIT_REVOKE_REASON + 2];
	size_t i;

	TEST_START("revoked.json");
	for (i = 0; i < sizeof(bad_rv) / sizeof(bad_rv[0]); i++) {
		if (revoked_parse((const uint8_t *)bad_rv[i], strlen(bad_rv[i]), &rv) == 0)
			UNIT_FAIL("accepted bad revoked.json %zu: %s", i, bad_rv[i]);
		ASSERT_TRUE(rv == NULL);
	}
	memset(a, 0x11, sizeof(a));
	memset(b, 0x22, sizeof(b));
	ASSERT_INT_EQ(revoked_new(&rv), 0);
	ASSERT_INT_EQ(revoked_contains(rv, a), 0);
	ASSERT_INT_EQ(revoked_add(rv, b, "laptop stolen", 1000), 0);
	ASSERT_INT_EQ(revoked_add(rv, a, NULL, 1000), 0);
	ASSERT_INT_EQ(revoked_add(rv, a, "again", 1000), ERR_EXISTS);
	ASSERT_INT_EQ(revoked_add(rv, a, "tab\there", 1000), ERR_INVALID_ARG);
	ASSERT_INT_EQ(revoked_add(rv, a, "\xff\xfe", 1000), ERR_INVALID_ARG);
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	ASSERT_INT_EQ(revoked_add(rv, a, reason, 1000), ERR_INVALID_ARG);
	ASSERT_INT_EQ(revoked_contains(rv, a), 1);
	ASSERT_INT_EQ(revoked_contains(rv, b), 1);
	ASSERT_PTR_NE((text = buf_new(0)), NULL);
	ASSERT_INT_EQ(revoked_format(rv, text), 0);
	ASSERT_INT_EQ(revoked_parse(buf_ptr(text), buf_len(text), &again), 0);
	if (again != NULL) {
		ASSERT_SIZE_EQ(revoked_count(again), 2);
		/* The order of the file is kept; lookups use a sorted copy. */
		ASSERT_MEM_EQ(revoked_id(again, 0), b, IDENTITY_LEN);
		ASSERT_MEM_EQ(revoked_id(again, 1), a, IDENTITY_LEN);
		ASSERT_INT_EQ(revoked_contains(again, a), 1);
	}
	ASSERT_TRUE(strstr((const char *)buf_ptr(text), "\"reason\": \"laptop stolen\"") != NULL);
	ASSERT_TRUE(strstr((const char *)buf_ptr(text), "1111-1111-1111") != NULL);
	buf_free(text);
	revoked_free(again);
	revoked_free(rv);
	TEST_DONE();
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/bundle-unit.XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_parse();
	test_paths();
	test_state();
	test_ceremony();
	test_cycle();
	test_walk_limits();
	test_kofn();
	test_revoked();
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return unit_finish("bundle-unit");
}
